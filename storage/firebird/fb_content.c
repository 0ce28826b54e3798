/* fb_content.c — item content as rows of at most FB_CHUNK bytes, each a
 * stream BLOB keyed by (item_id, off).
 *
 * A write appends rows (in order: its offset must be the end of what was
 * written so far, or 0 to start over). A read walks the rows that overlap the
 * range through the primary key and seeks inside the first one, so neither
 * side ever holds a whole large item in memory.
 */
#include <stdlib.h>
#include <string.h>

#include "fb_internal.h"

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
    struct fb_item_state is;
    c = fb_item_state(t, item_id, &is);
    free(is.keywords);
    if (c.code)
        return c;
    uint64_t end = 0;
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
    const char *p = data;
    size_t left = len;
    while (left) {
        size_t n = left < FB_CHUNK ? left : FB_CHUNK;
        struct fb_stmt *st = fb_stmt(s, ST_CONTENT_INSERT);
        if (!st)
            return fb_poison(t, fb_db_error(s, "writing content"));
        fb_bind_int(st, 0, item_id);
        fb_bind_int(st, 1, (int64_t)end);
        fb_bind_int(st, 2, (int64_t)n);
        if (fb_bind_blob(s, st, 3, p, n) || fb_exec(s, st))
            return fb_poison(t, fb_db_error(s, "writing content"));
        p += n;
        left -= n;
        end += n;
    }
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
    fb_bind_int(st, 2, reindex ? 0 : 1);
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
    struct fb_item_state is;
    c = fb_item_state(t, item_id, &is);
    free(is.keywords);
    if (c.code)
        return c;
    uint64_t size = 0;
    if (content_end(s, item_id, &size))
        return fb_db_error(s, "finishing content");
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
    struct fb_item_state is;
    c = fb_item_state(t, item_id, &is);
    free(is.keywords);
    if (c.code)
        return c;
    if (len == 0)
        return outpost_ok();
    struct fb_stmt *st = fb_stmt(s, ST_CONTENT_RANGE);
    if (!st)
        return fb_db_error(s, "reading content");
    fb_bind_int(st, 0, item_id);
    fb_bind_int(st, 1, (int64_t)(offset + len > (uint64_t)INT64_MAX ? INT64_MAX : offset + len));
    if (fb_exec(s, st))
        return fb_db_error(s, "reading content");
    unsigned char *out = buf;
    size_t done = 0;
    int r;
    while (done < len && (r = fb_fetch(s, st)) == 1) {
        uint64_t off = (uint64_t)fb_col_int(st, 0), n = (uint64_t)fb_col_int(st, 1);
        uint64_t pos = offset + done;
        if (off + n <= pos)
            continue; /* before the range */
        if (off > pos)
            break; /* a hole: cannot happen with in-order writes */
        const ISC_QUAD *q = fb_col_blob(st, 2);
        size_t want = (size_t)(off + n - pos);
        if (want > len - done)
            want = len - done;
        size_t g = 0;
        if (!q || fb_blob_read_range(s, q, pos - off, out + done, want, &g)) {
            fb_stmt_close(s, st);
            return fb_db_error(s, "reading content");
        }
        done += g;
        if (g < want)
            break;
    }
    fb_stmt_close(s, st);
    if (done < len && r < 0)
        return fb_db_error(s, "reading content");
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
    /* keep the index: the text stays searchable */
    return finish(t, item_id, OUTPOST_CONTENT_SUMMARY, 0, 0);
}
