/* fb_val.c — the value store: every value that may be longer than a column,
 * kept as rows of at most FB_PART bytes inline in a VARCHAR OCTETS column.
 *
 * Table val(space, k1, k2, part, data), primary key (space, k1, k2, part):
 * `space` names the owner kind (enum fb_space), k1 the owner's id, k2 a name
 * within it ("" when there is none: only meta keys and property names use
 * it). A value of n bytes is parts 0..(n-1)/FB_PART, each FB_PART bytes but
 * the last; an empty value is one empty part 0, so "no value" (no rows) and
 * "empty value" stay distinct. Part p starts at byte p * FB_PART, so a reader
 * can place the parts in whatever order a join hands them out.
 *
 * WHY NOT BLOBs (schema v1-v6 kept these values in BLOB columns): with
 * Firebird 3.0 (Debian 12 ships 3.0.11), a process killed while it wrote
 * could leave a committed record whose BLOB id later resolved to the bytes of
 * another record: the record page and the BLOB's page are written
 * separately, and the engine misses write-order ("precedence") between them
 * in some cases, notably a BLOB created for a record that is then updated or
 * garbage-collected (fixed in 4.0.4/5.0, FirebirdSQL/firebird#7737). A row
 * whose bytes are inline is one record, written as a unit, so it resolves to
 * its own bytes or is not there. Content went first (v5, fb_content.c);
 * schema v7 moved every other value here and v8 dropped the BLOB columns.
 *
 * Owners delete their values: triggers on item, folder and journal (v7,
 * fb_schema.c) remove them with the row, whatever statement deletes it; the
 * integrity check looks for values without an owner.
 */
#include <stdlib.h>
#include <string.h>

#include "fb_internal.h"

/* More parts than this (15 GB) is not a value this plugin wrote. */
#define VAL_MAX_PARTS 1000000

static void set_status(struct outpost_storage *s, ISC_STATUS code)
{
    s->status[0] = isc_arg_gds;
    s->status[1] = code;
    s->status[2] = isc_arg_end;
}

static void bind_key(struct fb_stmt *st, enum fb_space sp, int64_t k1, const char *k2)
{
    fb_bind_int(st, 0, sp);
    fb_bind_int(st, 1, k1);
    fb_bind_text(st, 2, k2 ? k2 : "");
}

int fb_val_del(struct outpost_storage *s, enum fb_space sp, int64_t k1, const char *k2)
{
    struct fb_stmt *st = fb_stmt(s, ST_VAL_DEL);
    if (!st)
        return -1;
    bind_key(st, sp, k1, k2);
    return fb_exec(s, st);
}

int fb_val_put(struct outpost_storage *s, enum fb_space sp, int64_t k1, const char *k2, const void *data,
               size_t len)
{
    if (fb_val_del(s, sp, k1, k2))
        return -1;
    struct fb_stmt *st = fb_stmt(s, ST_VAL_PUT);
    if (!st)
        return -1;
    const char *p = data ? data : "";
    int64_t part = 0;
    do {
        size_t n = len < FB_PART ? len : FB_PART;
        bind_key(st, sp, k1, k2);
        fb_bind_int(st, 3, part++);
        fb_bind_textn(st, 4, p, n);
        if (fb_exec(s, st))
            return -1;
        p += n;
        len -= n;
    } while (len);
    return 0;
}

void fb_val_begin(struct fb_val_rd *r, const struct fb_buf *b)
{
    memset(r, 0, sizeof *r);
    r->base = b->len;
    r->end = b->len;
    r->max_part = -1;
    r->short_at = -1;
}

int fb_val_add(struct outpost_storage *s, struct fb_val_rd *r, struct fb_buf *b, int64_t part, const char *data,
               size_t n)
{
    if (part < 0 || part >= VAL_MAX_PARTS || n > FB_PART) {
        set_status(s, isc_db_corrupt);
        return -1;
    }
    size_t at = r->base + (size_t)part * FB_PART;
    if (fb_buf_reserve(b, at + n + 1)) {
        set_status(s, isc_virmemexh);
        return -1;
    }
    memcpy(b->p + at, data, n);
    if (at + n > r->end)
        r->end = at + n;
    if (part > r->max_part)
        r->max_part = part;
    if (n < FB_PART) {
        r->short_part++;
        r->short_at = part;
    }
    r->parts++;
    return 0;
}

int fb_val_end(struct outpost_storage *s, struct fb_val_rd *r, struct fb_buf *b)
{
    /* parts 0..max, none twice (the key), every one full but the last */
    if (r->parts != r->max_part + 1 || r->short_part > 1 || (r->short_part == 1 && r->short_at != r->max_part)) {
        set_status(s, isc_db_corrupt);
        return -1;
    }
    if (fb_buf_reserve(b, r->end + 1)) {
        set_status(s, isc_virmemexh);
        return -1;
    }
    b->len = r->end;
    b->p[b->len] = '\0';
    return 0;
}

int fb_val_get(struct outpost_storage *s, enum fb_space sp, int64_t k1, const char *k2, struct fb_buf *b)
{
    struct fb_stmt *st = fb_stmt(s, ST_VAL_GET);
    if (!st)
        return -1;
    bind_key(st, sp, k1, k2);
    if (fb_exec(s, st))
        return -1;
    struct fb_val_rd rd;
    fb_val_begin(&rd, b);
    int r, bad = 0;
    while ((r = fb_fetch(s, st)) == 1) {
        size_t n;
        const char *d = fb_col_text(st, 1, &n);
        if (!bad && fb_val_add(s, &rd, b, fb_col_int(st, 0), d ? d : "", n))
            bad = 1; /* drain the cursor, keep the status */
    }
    if (r < 0 || bad)
        return -1;
    if (rd.parts == 0)
        return 0;
    return fb_val_end(s, &rd, b) ? -1 : 1;
}

int fb_val_read_split(struct outpost_storage *s, const struct fb_stmt *st, int col_len, int col_in, enum fb_space sp,
                      int64_t k1, size_t inline_max, struct fb_buf *b, size_t *at, size_t *len)
{
    *at = SIZE_MAX;
    *len = 0;
    if (fb_col_null(st, col_len))
        return 0;
    int64_t want = fb_col_int(st, col_len);
    size_t start = b->len;
    if (want >= 0 && (uint64_t)want <= inline_max) {
        size_t n = 0;
        const char *v = fb_col_text(st, col_in, &n);
        if (!v || n != (size_t)want) {
            set_status(s, isc_db_corrupt);
            return -1;
        }
        if (fb_buf_reserve(b, start + n + 1)) {
            set_status(s, isc_virmemexh);
            return -1;
        }
        memcpy(b->p + start, v, n);
        b->p[start + n] = '\0';
        b->len = start + n;
    } else {
        int r = fb_val_get(s, sp, k1, NULL, b);
        if (r < 0)
            return -1;
        if (r == 0 || b->len - start != (uint64_t)want) {
            set_status(s, isc_db_corrupt);
            return -1;
        }
    }
    *at = start;
    *len = b->len - start;
    b->len++; /* keep the terminating NUL */
    return 0;
}
