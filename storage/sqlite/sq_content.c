/* sq_content.c — item content in rows of at most SQ_CHUNK bytes.
 *
 * Writes append in order: a write that starts inside a partly filled last row
 * tops it up (rewriting at most SQ_CHUNK bytes), the rest goes into new rows.
 * Reads find the row holding the offset through the (item_id, off) index and
 * copy only the requested range with incremental blob I/O, so neither side
 * ever holds a whole large item in memory.
 */
#include <stdlib.h>
#include <string.h>

#include "sq_internal.h"

struct chunk {
    int64_t rowid;
    uint64_t off;
    uint64_t len;
};

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
    if ((rc = sq_exec_stmt(st)) != SQLITE_OK)
        return sq_db_error(s, rc, "removing content");
    return outpost_ok();
}

static int insert_chunk(struct outpost_storage *s, int64_t item_id, uint64_t off, const void *data, size_t len)
{
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_CONTENT_INSERT, &rc);
    if (!st)
        return rc;
    sqlite3_bind_int64(st, 1, item_id);
    sqlite3_bind_int64(st, 2, (int64_t)off);
    sqlite3_bind_blob64(st, 3, len ? data : "", len, SQLITE_STATIC);
    return sq_exec_stmt(st);
}

/* Appends up to SQ_CHUNK - ch->len bytes to the last row; returns bytes taken. */
static int top_up(struct outpost_storage *s, const struct chunk *ch, const unsigned char *data, size_t len,
                  size_t *took)
{
    size_t room = SQ_CHUNK - (size_t)ch->len;
    size_t n = len < room ? len : room;
    unsigned char *buf = malloc((size_t)ch->len + n);
    if (!buf)
        return SQLITE_NOMEM;
    sqlite3_blob *b = NULL;
    int rc = sqlite3_blob_open(s->db, "main", "content", "data", ch->rowid, 0, &b);
    if (rc == SQLITE_OK)
        rc = sqlite3_blob_read(b, buf, (int)ch->len, 0);
    if (b)
        sqlite3_blob_close(b);
    if (rc == SQLITE_OK) {
        memcpy(buf + ch->len, data, n);
        sqlite3_stmt *st = sq_stmt(s, ST_CONTENT_REPLACE, &rc);
        if (st) {
            sqlite3_bind_int64(st, 1, ch->rowid);
            sqlite3_bind_blob64(st, 2, buf, ch->len + n, SQLITE_STATIC);
            rc = sq_exec_stmt(st);
        }
    }
    free(buf);
    *took = n;
    return rc;
}

outpost_status sq_content_write(struct outpost_txn *t, int64_t item_id, uint64_t offset, const void *data,
                                size_t len)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn(t, 1);
    if (c.code)
        return c;
    if (!data && len)
        return sq_error(s, OUTPOST_BAD_DATA, "content_write: data is NULL");
    /* an item put in this transaction: its content rows are known */
    int fresh = t->fresh_id != 0 && t->fresh_id == item_id;
    if (!fresh && (c = item_exists(t, item_id, NULL, NULL)).code)
        return c;
    int rc = SQLITE_OK;
    struct chunk last = { 0, 0, 0 };
    uint64_t end = 0;
    if (offset == 0) {
        if ((!fresh || t->fresh_last_rowid) && (c = sq_content_remove(t, item_id)).code)
            return sq_poison(t, c);
        if (fresh) {
            t->fresh_end = 0;
            t->fresh_last_rowid = 0;
        }
    } else {
        int r = 1;
        if (fresh) {
            last.rowid = t->fresh_last_rowid;
            last.off = t->fresh_last_off;
            last.len = t->fresh_last_len;
            r = last.rowid != 0;
        } else {
            r = find_chunk(s, item_id, UINT64_MAX, &last, &rc);
        }
        if (r < 0)
            return sq_db_error(s, rc, "writing content");
        end = r ? last.off + last.len : 0;
        if (offset != end)
            return sq_error(s, OUTPOST_BAD_DATA,
                            "content_write: offset %llu is not the end of the content written so "
                            "far (%llu): chunks are written in order",
                            (unsigned long long)offset, (unsigned long long)end);
    }
    const unsigned char *p = data;
    size_t left = len;
    if (offset != 0 && last.rowid && last.len < SQ_CHUNK && left) {
        size_t took = 0;
        rc = top_up(s, &last, p, left, &took);
        if (rc != SQLITE_OK)
            return sq_poison(t, sq_db_error(s, rc, "writing content"));
        p += took;
        left -= took;
        end += took;
        last.len += took;
    }
    while (left) {
        size_t n = left < SQ_CHUNK ? left : SQ_CHUNK;
        rc = insert_chunk(s, item_id, end, p, n);
        if (rc != SQLITE_OK)
            return sq_poison(t, sq_db_error(s, rc, "writing content"));
        last.rowid = sqlite3_last_insert_rowid(s->db);
        last.off = end;
        last.len = n;
        p += n;
        left -= n;
        end += n;
    }
    if (fresh) {
        t->fresh_end = end;
        t->fresh_last_rowid = last.rowid;
        t->fresh_last_off = last.off;
        t->fresh_last_len = last.len;
    }
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
        rc = b ? sqlite3_blob_reopen(b, ch.rowid)
               : sqlite3_blob_open(s->db, "main", "content", "data", ch.rowid, 0, &b);
        if (rc == SQLITE_OK)
            rc = sqlite3_blob_read(b, out + done, (int)n, (int)in);
        if (rc != SQLITE_OK)
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
