/* sq_content.c — item content in rows of at most SQ_ZCHUNK bytes, each
 * compressed on its own with zstd.
 *
 * Layout: content(item_id, off, data, len, codec), one row per SQ_ZCHUNK
 * (64 KiB) of an item's content at offset `off`; `len` is the row's content
 * length and `codec` says how `data` holds it (SQ_CODEC_ZSTD: one zstd frame;
 * SQ_CODEC_RAW: as is). Rows of schema 2 caches are raw, up to SQ_CHUNK
 * (128 KiB), with len NULL (then length(data)); they are read as they are and
 * never rewritten, so an upgraded cache needs no conversion.
 *
 * Why compress: the insert of mail is bound by the bytes SQLite writes (every
 * byte twice in WAL mode: the log, then the checkpoint). zstd level 1 takes
 * the benchmark's mail to 0.64 of its size (text about 0.45, base64
 * attachments 0.76). A chunk that does not shrink by at least 1/16 (already
 * compressed data) is kept raw, so reading it costs nothing extra.
 *
 * Why chunks: a range read (IMAP partial fetch, the MAPI stream) finds the row
 * holding the offset through the (item_id, off) index and decompresses that
 * row only, at most 64 KiB, whatever the item's size; the last decompressed
 * row is kept so that reading a row in small pieces decompresses it once.
 *
 * Writes append in order. Each chunk is compressed exactly once: the last,
 * partly filled chunk of the content being written (the tail) stays in memory
 * until it is full or anything but the next content_write of that item
 * happens in the transaction (sq_check_txn and commit flush it), so streaming
 * a message in small pieces never recompresses a row. A write that appends to
 * content written by an earlier transaction reopens its last row into the tail
 * when that row is not full. The tail is part of the transaction: a rollback
 * drops it with the rest, and commit writes it before COMMIT, so durability is
 * unchanged (see sq_store.c).
 */
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "sq_internal.h"

struct chunk {
    int64_t rowid;
    uint64_t off;
    uint64_t len;   /* content bytes */
    int codec;
};

/* Per instance: contexts and buffers, allocated on first use. */
struct sq_zstate {
    ZSTD_CCtx *cc;
    ZSTD_DCtx *dc;
    unsigned char *tail;    /* SQ_ZCHUNK bytes: the pending tail */
    unsigned char *zbuf;    /* zcap bytes: a compressed row */
    size_t zcap;
    unsigned char *plain;   /* SQ_ZCHUNK bytes: the last decompressed row */
    int64_t plain_rowid;    /* its rowid (0: none) */
    size_t plain_len;
};

static struct sq_zstate *zstate(struct outpost_storage *s)
{
    if (s->z)
        return s->z;
    struct sq_zstate *z = calloc(1, sizeof *z);
    if (!z)
        return NULL;
    z->zcap = ZSTD_compressBound(SQ_ZCHUNK);
    z->cc = ZSTD_createCCtx();
    z->dc = ZSTD_createDCtx();
    z->tail = malloc(SQ_ZCHUNK);
    z->zbuf = malloc(z->zcap);
    z->plain = malloc(SQ_ZCHUNK);
    if (!z->cc || !z->dc || !z->tail || !z->zbuf || !z->plain ||
        ZSTD_isError(ZSTD_CCtx_setParameter(z->cc, ZSTD_c_compressionLevel, SQ_ZSTD_LEVEL))) {
        s->z = z;
        sq_content_free(s);
        return NULL;
    }
    s->z = z;
    return z;
}

void sq_content_free(struct outpost_storage *s)
{
    struct sq_zstate *z = s->z;
    if (!z)
        return;
    ZSTD_freeCCtx(z->cc);
    ZSTD_freeDCtx(z->dc);
    free(z->tail);
    free(z->zbuf);
    free(z->plain);
    free(z);
    s->z = NULL;
}

void sq_content_forget(struct outpost_storage *s)
{
    if (s->z)
        s->z->plain_rowid = 0;
}

void sq_content_reset(struct outpost_storage *s)
{
    s->txn.tail_item = 0;
    s->txn.tail_len = 0;
    if (s->z)
        s->z->plain_rowid = 0;
}

/* The row of item_id at or before `pos` (last row when pos is UINT64_MAX):
 * 1 found, 0 none, <0 error (*rc). */
static int find_chunk(struct outpost_storage *s, int64_t item_id, uint64_t pos, struct chunk *ch, int *rc)
{
    sqlite3_stmt *st;
    if (pos == UINT64_MAX) {
        st = sq_stmt(s, ST_CONTENT_LAST, rc);
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, item_id);
    } else {
        st = sq_stmt(s, ST_CONTENT_FIND, rc);
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, item_id);
        sqlite3_bind_int64(st, 2, (int64_t)pos);
    }
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        ch->rowid = sqlite3_column_int64(st, 0);
        ch->off = (uint64_t)sqlite3_column_int64(st, 1);
        ch->len = (uint64_t)sqlite3_column_int64(st, 2);
        ch->codec = sqlite3_column_int(st, 3);
    }
    sqlite3_reset(st);
    if (r == SQLITE_ROW)
        return 1;
    if (r == SQLITE_DONE)
        return 0;
    *rc = r;
    return -1;
}

/* Does item `id` exist? OK or GONE or an engine error. */
static outpost_status item_exists(struct outpost_txn *t, int64_t id, uint32_t *content_state,
                                  int *has_fts_doc)
{
    struct outpost_storage *s = t->s;
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_ITEM_STATE, &rc);
    if (!st)
        return sq_db_error(s, rc, "reading an item");
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (content_state)
            *content_state = (uint32_t)sqlite3_column_int(st, 5);
        if (has_fts_doc)
            *has_fts_doc = sqlite3_column_type(st, 6) != SQLITE_NULL;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return sq_error(s, OUTPOST_GONE, "item %lld does not exist", (long long)id);
    if (rc != SQLITE_ROW)
        return sq_db_error(s, rc, "reading an item");
    return outpost_ok();
}

outpost_status sq_content_remove(struct outpost_txn *t, int64_t item_id)
{
    struct outpost_storage *s = t->s;
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_CONTENT_DELETE, &rc);
    if (!st)
        return sq_db_error(s, rc, "removing content");
    sqlite3_bind_int64(st, 1, item_id);
    if (s->z)
        s->z->plain_rowid = 0; /* its rowid may be reused */
    if ((rc = sq_exec_stmt(st)) != SQLITE_OK)
        return sq_db_error(s, rc, "removing content");
    return outpost_ok();
}

/* Stores content bytes [off, off+len) of item_id as one row: zstd when that
 * saves at least 1/16, else raw. len <= SQ_ZCHUNK. */
static int insert_chunk(struct outpost_storage *s, struct sq_zstate *z, int64_t item_id, uint64_t off,
                        const void *data, size_t len)
{
    const void *blob = data;
    size_t blen = len;
    int codec = SQ_CODEC_RAW;
    if (len >= 64) {
        size_t zn = ZSTD_compress2(z->cc, z->zbuf, z->zcap, data, len);
        if (!ZSTD_isError(zn) && zn <= len - len / 16) {
            blob = z->zbuf;
            blen = zn;
            codec = SQ_CODEC_ZSTD;
        }
    }
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_CONTENT_INSERT, &rc);
    if (!st)
        return rc;
    sqlite3_bind_int64(st, 1, item_id);
    sqlite3_bind_int64(st, 2, (int64_t)off);
    sqlite3_bind_blob64(st, 3, blen ? blob : "", blen, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (int64_t)len);
    sqlite3_bind_int(st, 5, codec);
    z->plain_rowid = 0;
    rc = sq_exec_stmt(st);
    if (rc == SQLITE_OK && item_id == s->txn.fresh_id)
        s->txn.fresh_rows = 1;
    return rc;
}

/* Reads the content bytes of row `ch` that start `in` bytes into it: copies
 * n of them to out. Raw rows are read in place by incremental blob I/O (*b
 * is reused across rows); compressed rows are decompressed whole, once. */
static int read_chunk(struct outpost_storage *s, const struct chunk *ch, size_t in, unsigned char *out,
                      size_t n, sqlite3_blob **b)
{
    int rc = *b ? sqlite3_blob_reopen(*b, ch->rowid)
                : sqlite3_blob_open(s->db, "main", "content", "data", ch->rowid, 0, b);
    if (rc != SQLITE_OK)
        return rc;
    if (ch->codec == SQ_CODEC_RAW)
        return sqlite3_blob_read(*b, out, (int)n, (int)in);
    struct sq_zstate *z = zstate(s);
    if (!z)
        return SQLITE_NOMEM;
    if (ch->codec != SQ_CODEC_ZSTD || ch->len > SQ_ZCHUNK)
        return SQLITE_CORRUPT;
    if (z->plain_rowid != ch->rowid) {
        size_t zn = (size_t)sqlite3_blob_bytes(*b);
        if (zn > z->zcap)
            return SQLITE_CORRUPT;
        if ((rc = sqlite3_blob_read(*b, z->zbuf, (int)zn, 0)) != SQLITE_OK)
            return rc;
        size_t pn = ZSTD_decompressDCtx(z->dc, z->plain, SQ_ZCHUNK, z->zbuf, zn);
        if (ZSTD_isError(pn) || pn != ch->len)
            return SQLITE_CORRUPT;
        z->plain_rowid = ch->rowid;
        z->plain_len = pn;
    }
    memcpy(out, z->plain + in, n);
    return SQLITE_OK;
}

/* Appends to the tail; every chunk that fills up becomes a row. */
static int tail_append(struct outpost_storage *s, struct sq_zstate *z, const unsigned char *p, size_t left)
{
    struct outpost_txn *t = &s->txn;
    while (left) {
        if (t->tail_len == 0 && left >= SQ_ZCHUNK) {
            /* a whole chunk in the caller's buffer: no copy */
            int rc = insert_chunk(s, z, t->tail_item, t->tail_off, p, SQ_ZCHUNK);
            if (rc != SQLITE_OK)
                return rc;
            t->tail_off += SQ_ZCHUNK;
            p += SQ_ZCHUNK;
            left -= SQ_ZCHUNK;
            continue;
        }
        size_t k = SQ_ZCHUNK - t->tail_len;
        if (k > left)
            k = left;
        memcpy(z->tail + t->tail_len, p, k);
        t->tail_len += k;
        p += k;
        left -= k;
        if (t->tail_len == SQ_ZCHUNK) {
            int rc = insert_chunk(s, z, t->tail_item, t->tail_off, z->tail, SQ_ZCHUNK);
            if (rc != SQLITE_OK)
                return rc;
            t->tail_off += SQ_ZCHUNK;
            t->tail_len = 0;
        }
    }
    return SQLITE_OK;
}

outpost_status sq_content_flush(struct outpost_txn *t)
{
    struct outpost_storage *s = t->s;
    if (!t->tail_item)
        return outpost_ok();
    int rc = SQLITE_OK;
    if (t->tail_len)
        rc = insert_chunk(s, s->z, t->tail_item, t->tail_off, s->z->tail, t->tail_len);
    t->tail_item = 0;
    t->tail_len = 0;
    if (rc != SQLITE_OK)
        return sq_poison(t, sq_db_error(s, rc, "writing content"));
    return outpost_ok();
}

/* Makes the last row of item_id the tail when it is not full (reading it
 * back, then deleting it: it is written again, longer, from the tail). */
static int reopen_last(struct outpost_storage *s, struct sq_zstate *z, const struct chunk *last)
{
    struct outpost_txn *t = &s->txn;
    if (last->len >= SQ_ZCHUNK) {
        t->tail_off = last->off + last->len;
        return SQLITE_OK;
    }
    sqlite3_blob *b = NULL;
    int rc = read_chunk(s, last, 0, z->tail, (size_t)last->len, &b);
    if (b)
        sqlite3_blob_close(b);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_stmt *st = sq_stmt(s, ST_CONTENT_DEL_ROW, &rc);
    if (!st)
        return rc;
    sqlite3_bind_int64(st, 1, last->rowid);
    z->plain_rowid = 0;
    if ((rc = sq_exec_stmt(st)) != SQLITE_OK)
        return rc;
    t->tail_off = last->off;
    t->tail_len = (size_t)last->len;
    return SQLITE_OK;
}

outpost_status sq_content_write(struct outpost_txn *t, int64_t item_id, uint64_t offset, const void *data,
                                size_t len)
{
    struct outpost_storage *s = t->s;
    /* not sq_check_txn: that would flush the tail this call may extend */
    if (!t->open)
        return sq_error(s, OUTPOST_BAD_DATA, "call on a transaction that has ended");
    if (t->mode != OUTPOST_TXN_WRITE)
        return sq_error(s, OUTPOST_BAD_DATA, "write call in a read transaction");
    if (!data && len)
        return sq_error(s, OUTPOST_BAD_DATA, "content_write: data is NULL");
    struct sq_zstate *z = zstate(s);
    if (!z)
        return sq_error(s, OUTPOST_FATAL, "out of memory writing content");
    int rc = SQLITE_OK;
    int fresh = t->fresh_id != 0 && t->fresh_id == item_id;
    if (t->tail_item == item_id && offset == t->tail_off + t->tail_len) {
        /* the next piece of the content being written: no lookups */
    } else {
        if (offset == 0 && t->tail_item == item_id)
            t->tail_item = 0; /* rewritten from the start: its tail goes too */
        outpost_status c = sq_content_flush(t);
        if (c.code)
            return c;
        /* an item put in this transaction exists and has only the rows written since */
        if (!fresh && (c = item_exists(t, item_id, NULL, NULL)).code)
            return c;
        if (offset == 0) {
            if ((!fresh || t->fresh_rows) && (c = sq_content_remove(t, item_id)).code)
                return sq_poison(t, c);
            if (fresh)
                t->fresh_rows = 0;
            t->tail_off = 0;
            t->tail_len = 0;
        } else {
            struct chunk last;
            int r = find_chunk(s, item_id, UINT64_MAX, &last, &rc);
            if (r < 0)
                return sq_db_error(s, rc, "writing content");
            uint64_t end = r ? last.off + last.len : 0;
            if (offset != end)
                return sq_error(s, OUTPOST_BAD_DATA,
                                "content_write: offset %llu is not the end of the content written so "
                                "far (%llu): chunks are written in order",
                                (unsigned long long)offset, (unsigned long long)end);
            t->tail_len = 0;
            t->tail_off = end;
            if (r && (rc = reopen_last(s, z, &last)) != SQLITE_OK)
                return sq_poison(t, sq_db_error(s, rc, "writing content"));
        }
        t->tail_item = item_id;
    }
    if ((rc = tail_append(s, z, data, len)) != SQLITE_OK) {
        t->tail_item = 0;
        return sq_poison(t, sq_db_error(s, rc, "writing content"));
    }
    if (fresh)
        t->fresh_end = t->tail_off + t->tail_len;
    return outpost_ok();
}

outpost_status sq_content_finish(struct outpost_txn *t, int64_t item_id, uint32_t state)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn(t, 1);
    if (c.code)
        return c;
    if (state > OUTPOST_CONTENT_COMPLETE)
        return sq_error(s, OUTPOST_BAD_DATA, "content_finish: unknown content state %u", state);
    int had_doc = 0;
    int rc = SQLITE_OK;
    uint64_t size;
    if (t->fresh_id != 0 && t->fresh_id == item_id) {
        size = t->fresh_end; /* not indexed: index_missing forgets fresh_id */
    } else {
        if ((c = item_exists(t, item_id, NULL, &had_doc)).code)
            return c;
        struct chunk last;
        int r = find_chunk(s, item_id, UINT64_MAX, &last, &rc);
        if (r < 0)
            return sq_db_error(s, rc, "finishing content");
        size = r ? last.off + last.len : 0;
    }
    /* the full text index must pick up a body that just became complete */
    int reindex = state == OUTPOST_CONTENT_COMPLETE;
    sqlite3_stmt *st = sq_stmt(s, ST_CONTENT_FINISH, &rc);
    if (!st)
        return sq_poison(t, sq_db_error(s, rc, "finishing content"));
    sqlite3_bind_int64(st, 1, item_id);
    sqlite3_bind_int(st, 2, (int)state);
    sqlite3_bind_int64(st, 3, (int64_t)size);
    sqlite3_bind_int(st, 4, reindex);
    if ((rc = sq_exec_stmt(st)) != SQLITE_OK)
        return sq_poison(t, sq_db_error(s, rc, "finishing content"));
    if (reindex && had_doc)
        t->fts_garbage++;
    return outpost_ok();
}

outpost_status sq_content_read(struct outpost_txn *t, int64_t item_id, uint64_t offset, void *buf, size_t len,
                               size_t *got)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn(t, 0);
    if (c.code)
        return c;
    *got = 0;
    if (!buf && len)
        return sq_error(s, OUTPOST_BAD_DATA, "content_read: buffer is NULL");
    if ((c = item_exists(t, item_id, NULL, NULL)).code)
        return c;
    unsigned char *out = buf;
    size_t done = 0;
    sqlite3_blob *b = NULL;
    int rc = SQLITE_OK;
    while (done < len) {
        uint64_t pos = offset + done;
        struct chunk ch;
        int r = find_chunk(s, item_id, pos, &ch, &rc);
        if (r < 0)
            break;
        if (r == 0 || pos >= ch.off + ch.len)
            break; /* end of content */
        size_t in = (size_t)(pos - ch.off);
        size_t n = (size_t)ch.len - in;
        if (n > len - done)
            n = len - done;
        if ((rc = read_chunk(s, &ch, in, out + done, n, &b)) != SQLITE_OK)
            break;
        done += n;
    }
    if (b)
        sqlite3_blob_close(b);
    if (rc != SQLITE_OK)
        return sq_db_error(s, rc, "reading content");
    *got = done;
    return outpost_ok();
}

outpost_status sq_content_drop(struct outpost_txn *t, int64_t item_id)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn(t, 1);
    if (c.code)
        return c;
    if ((c = item_exists(t, item_id, NULL, NULL)).code)
        return c;
    if ((c = sq_content_remove(t, item_id)).code)
        return sq_poison(t, c);
    if (t->fresh_id == item_id)
        t->fresh_id = 0;
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_CONTENT_FINISH, &rc);
    if (!st)
        return sq_poison(t, sq_db_error(s, rc, "dropping content"));
    sqlite3_bind_int64(st, 1, item_id);
    sqlite3_bind_int(st, 2, OUTPOST_CONTENT_SUMMARY);
    sqlite3_bind_int64(st, 3, 0);
    sqlite3_bind_int(st, 4, 0); /* keep the index: the text stays searchable */
    if ((rc = sq_exec_stmt(st)) != SQLITE_OK)
        return sq_poison(t, sq_db_error(s, rc, "dropping content"));
    return outpost_ok();
}
