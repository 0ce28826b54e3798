/* fb_content.c — item content as rows of at most FB_PART bytes in
 * content_part, keyed by (item_id, off), the bytes inline in a VARCHAR
 * CHARACTER SET OCTETS column.
 *
 * A write appends rows (in order: its offset must be the end of what was
 * written so far, or 0 to start over). A read fetches the rows that overlap
 * the range through the primary key, so neither side ever holds a whole
 * large item in memory.
 *
 * Each row carries the CRC-32 (zlib) of its bytes, written with it and
 * compared by every read and by the integrity check: Firebird 3 keeps no page
 * checksums, so without it a changed byte on disk would be served as mail.
 * A read that meets a mismatch fails with OUTPOST_BAD_DATA naming the item
 * (that item's damage, not the cache's: the caller goes on with the others,
 * and `outpost check --repair` drops it for the next sync to fetch again).
 * Rows written before schema 9 have no CRC and are read as they are.
 *
 * WHY NOT BLOBs (schema v1-v4 kept each row's bytes in a stream BLOB): with
 * Firebird 3.0 (Debian 12 ships 3.0.11), a process killed while it wrote
 * content could leave a committed row whose BLOB id later resolved to the
 * bytes of another item, about once in 1,500 SIGKILLs in
 * tests/storage/storage_crash.c and in the sync crash loops. The record page
 * and the BLOB's page are written separately, and Firebird fixed cases of
 * missing write-order ("precedence") between the two in 4.0.4/5.0
 * (FirebirdSQL/firebird#7737); a dead record that points at a BLOB slot that
 * never reached the disk frees, when it is garbage-collected, a slot that a
 * committed BLOB has taken since. A record whose bytes are inline is written
 * as one unit with the record, so that cannot happen to content.
 */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "fb_internal.h"

/* The CRC-32 of a row's bytes as the signed INTEGER column holds it. */
static int64_t row_crc(const void *p, size_t n)
{
    return (int32_t)(uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

int fb_content_crc_ok(const struct fb_stmt *st, int data_col, int crc_col)
{
    if (fb_col_null(st, crc_col))
        return 1; /* written before schema 9 */
    size_t n = 0;
    const char *data = fb_col_text(st, data_col, &n);
    return row_crc(data ? data : "", n) == (int64_t)(int32_t)fb_col_int(st, crc_col);
}

outpost_status fb_content_remove(struct outpost_txn *t, int64_t item_id)
{
    struct outpost_storage *s = t->s;
    struct fb_stmt *st = fb_stmt(s, ST_CONTENT_DELETE);
    if (!st)
        return fb_db_error(s, "removing content");
    fb_bind_int(st, 0, item_id);
    if (fb_exec(s, st))
        return fb_db_error(s, "removing content");
    return outpost_ok();
}

/* End of the content written so far: 0 or -1. */
static int content_end(struct outpost_storage *s, int64_t item_id, uint64_t *end)
{
    struct fb_stmt *st = fb_stmt(s, ST_CONTENT_END);
    if (!st)
        return -1;
    fb_bind_int(st, 0, item_id);
    int r = fb_exec_row(s, st);
    if (r < 0)
        return -1;
    *end = r ? (uint64_t)fb_col_int(st, 0) : 0;
    return 0;
}

outpost_status fb_content_write(struct outpost_txn *t, int64_t item_id, uint64_t offset, const void *data,
                                size_t len)
{
    struct outpost_storage *s = t->s;
    outpost_status c = fb_check_txn(t, 1);
    if (c.code)
        return c;
    if (!data && len)
        return fb_error(s, OUTPOST_BAD_DATA, "content_write: data is NULL");
    uint64_t end = 0;
    if (t->wr_item == item_id && item_id) {
        /* created by item_put in this transaction: its content so far is
         * what we wrote, so neither the item nor its end needs a lookup */
        if (offset != 0 && offset != t->wr_end)
            return fb_error(s, OUTPOST_BAD_DATA,
                            "content_write: offset %llu is not the end of the content written so far "
                            "(%llu): chunks are written in order",
                            (unsigned long long)offset, (unsigned long long)t->wr_end);
        if (offset == 0 && t->wr_end > 0 && (c = fb_content_remove(t, item_id)).code)
            return fb_poison(t, c);
        end = offset;
    } else {
        struct fb_item_state is;
        c = fb_item_state(t, item_id, &is);
        free(is.keywords);
        if (c.code)
            return c;
        if (offset == 0) {
            if ((c = fb_content_remove(t, item_id)).code)
                return fb_poison(t, c);
        } else {
            if (content_end(s, item_id, &end))
                return fb_db_error(s, "writing content");
            if (offset != end)
                return fb_error(s, OUTPOST_BAD_DATA,
                                "content_write: offset %llu is not the end of the content written so far "
                                "(%llu): chunks are written in order",
                                (unsigned long long)offset, (unsigned long long)end);
        }
    }
    const char *p = data;
    size_t left = len;
    while (left) {
        size_t n = left < FB_PART ? left : FB_PART;
        struct fb_stmt *st = fb_stmt(s, ST_CONTENT_INSERT);
        if (!st)
            return fb_poison(t, fb_db_error(s, "writing content"));
        fb_bind_int(st, 0, item_id);
        fb_bind_int(st, 1, (int64_t)end);
        fb_bind_int(st, 2, (int64_t)n);
        fb_bind_textn(st, 3, p, n);
        fb_bind_int(st, 4, row_crc(p, n));
        if (fb_exec(s, st))
            return fb_poison(t, fb_db_error(s, "writing content"));
        p += n;
        left -= n;
        end += n;
    }
    if (t->wr_item == item_id)
        t->wr_end = end;
    return outpost_ok();
}

static outpost_status finish(struct outpost_txn *t, int64_t item_id, uint32_t state, uint64_t size, int reindex)
{
    struct outpost_storage *s = t->s;
    struct fb_stmt *st = fb_stmt(s, ST_CONTENT_FINISH);
    if (!st)
        return fb_poison(t, fb_db_error(s, "finishing content"));
    fb_bind_int(st, 0, state);
    fb_bind_int(st, 1, (int64_t)size);
    fb_bind_int(st, 2, reindex ? 0 : 3); /* 3 keeps fts_state 1 or 2 (fb_fts.c) */
    fb_bind_int(st, 3, item_id);
    if (fb_exec(s, st))
        return fb_poison(t, fb_db_error(s, "finishing content"));
    return outpost_ok();
}

outpost_status fb_content_finish(struct outpost_txn *t, int64_t item_id, uint32_t state)
{
    struct outpost_storage *s = t->s;
    outpost_status c = fb_check_txn(t, 1);
    if (c.code)
        return c;
    if (state > OUTPOST_CONTENT_COMPLETE)
        return fb_error(s, OUTPOST_BAD_DATA, "content_finish: unknown content state %u", state);
    uint64_t size = 0;
    if (t->wr_item == item_id && item_id) {
        size = t->wr_end; /* created in this transaction: we know its content */
    } else {
        struct fb_item_state is;
        c = fb_item_state(t, item_id, &is);
        free(is.keywords);
        if (c.code)
            return c;
        if (content_end(s, item_id, &size))
            return fb_db_error(s, "finishing content");
    }
    /* the full-text index must pick up a body that just became complete */
    return finish(t, item_id, state, size, state == OUTPOST_CONTENT_COMPLETE);
}

outpost_status fb_content_read(struct outpost_txn *t, int64_t item_id, uint64_t offset, void *buf, size_t len,
                               size_t *got)
{
    struct outpost_storage *s = t->s;
    outpost_status c = fb_check_txn(t, 0);
    if (c.code)
        return c;
    *got = 0;
    if (!buf && len)
        return fb_error(s, OUTPOST_BAD_DATA, "content_read: buffer is NULL");
    uint64_t hi = offset > (uint64_t)INT64_MAX - len ? (uint64_t)INT64_MAX : offset + len;
    int64_t lo = offset > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)offset - (int64_t)FB_PART;
    /* the rows that overlap [offset, offset+len): a row is at most FB_PART
     * long, so one that holds `offset` starts after offset - FB_PART; the
     * primary key (item_id, off) walks just those */
    struct fb_stmt *st = fb_stmt(s, ST_CONTENT_RANGE);
    if (!st)
        return fb_db_error(s, "reading content");
    fb_bind_int(st, 0, lo);
    fb_bind_int(st, 1, (int64_t)hi);
    fb_bind_int(st, 2, item_id);
    if (fb_exec(s, st))
        return fb_db_error(s, "reading content");
    unsigned char *out = buf;
    size_t done = 0;
    int r, rows = 0, hole = 0;
    while ((r = fb_fetch(s, st)) == 1) {
        rows++;
        if (fb_col_null(st, 0) || hole || done == len)
            continue; /* no row in the range; or the range is read: drain the cursor */
        uint64_t off = (uint64_t)fb_col_int(st, 0), pos = offset + done;
        size_t n = 0;
        const char *data = fb_col_text(st, 1, &n);
        if (off + n <= pos)
            continue; /* ends before the range */
        if (off > pos) {
            hole = 1; /* cannot happen with in-order writes */
            continue;
        }
        if (!fb_content_crc_ok(st, 1, 2)) {
            /* drain the cursor first: the statement is reused */
            while ((r = fb_fetch(s, st)) == 1)
                ;
            return fb_error(s, OUTPOST_BAD_DATA,
                            "the cached content of item %lld is damaged (its bytes at offset %llu do not match "
                            "their checksum); `outpost check --repair` drops it so that the next sync fetches it again",
                            (long long)item_id, (unsigned long long)off);
        }
        size_t want = (size_t)(off + n - pos);
        if (want > len - done)
            want = len - done;
        memcpy(out + done, data + (pos - off), want);
        done += want;
    }
    if (r < 0)
        return fb_db_error(s, "reading content");
    if (rows == 0)
        return fb_error(s, OUTPOST_GONE, "item %lld does not exist", (long long)item_id);
    *got = done;
    return outpost_ok();
}

outpost_status fb_content_drop(struct outpost_txn *t, int64_t item_id)
{
    outpost_status c = fb_check_txn(t, 1);
    if (c.code)
        return c;
    struct fb_item_state is;
    c = fb_item_state(t, item_id, &is);
    free(is.keywords);
    if (c.code)
        return c;
    if ((c = fb_content_remove(t, item_id)).code)
        return fb_poison(t, c);
    if (t->wr_item == item_id)
        t->wr_end = 0;
    /* keep the index: the text stays searchable */
    return finish(t, item_id, OUTPOST_CONTENT_SUMMARY, 0, 0);
}
