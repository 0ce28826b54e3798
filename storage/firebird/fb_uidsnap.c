/* fb_uidsnap.c — items_uid_flags of large folders without one API round
 * trip per row.
 *
 * Fetching a row costs ~2 µs in the ISC API whatever the row holds, so a
 * 100k-item listing row by row is bound by the fetches, not by the engine.
 * Instead each large folder has a packed copy of its listing: one value of
 * fixed-layout entries in UID order (in the value store, fb_val.c, space
 * VS_SNAP: rows of FB_PART bytes), valid as of the MODSEQ in the folder's
 * uid_snapshot row. A listing reads both in one query (one fetch per
 * FB_PART bytes) and applies what changed since, all found through the
 * (folder_id, modseq) indexes: item_flags rows with a newer MODSEQ replace or
 * add entries, tombstones with a newer MODSEQ remove them. That is exact
 * because every change to a listed column (flags, keywords, UID, folder) and
 * every removal bumps the folder's MODSEQ and stamps it on the item or its
 * tombstone, and UIDs are never reused in a folder.
 *
 * The snapshot is written by commit() (fb_uidsnap_refresh) for a folder the
 * transaction changed once the folder's MODSEQ ran more than
 * max(SNAP_MIN, uidnext / SNAP_FRACTION) past it: the old snapshot plus the
 * changes, merged in memory. It lives in the same transaction as the changes,
 * so it commits or rolls back with them, and a reader's snapshot
 * transaction sees the value and the rows of one committed state. Folders
 * below SNAP_MIN changes never get one and are listed row by row.
 *
 * Entry layout (little-endian): uid u32, flags u32, modseq u64, id i64,
 * keyword length u16 (0xFFFF none, 0xFFFE in the item's overflow value),
 * keyword bytes. The value starts with SNAP_MAGIC.
 */
#include <stdlib.h>
#include <string.h>

#include "fb_internal.h"

#define SNAP_MIN 1024
#define SNAP_FRACTION 16
#define SNAP_MAGIC "UFS1"
#define ENTRY_FIXED 26
#define KW_NONE 0xFFFFu
#define KW_IN_BIG 0xFFFEu

void fb_uidsnap_touch(struct outpost_txn *t, int64_t folder_id, uint64_t modseq, int64_t uidnext)
{
    for (int i = 0; i < t->ntouched; i++) {
        if (t->touched[i].folder == folder_id) {
            t->touched[i].modseq = modseq;
            t->touched[i].uidnext = uidnext;
            return;
        }
    }
    if (t->ntouched < FB_TOUCHED_MAX) /* more folders: their snapshots wait for a later commit */
        t->touched[t->ntouched++] = (struct fb_touched){ folder_id, uidnext, modseq };
}

/* ---- growable arrays ---- */

struct uf_vec {
    struct fb_uf *v;            /* = mem.p */
    size_t n;
    struct fb_buf mem;
};

static int vec_push(struct uf_vec *a, const struct fb_uf *e)
{
    if (fb_buf_reserve(&a->mem, (a->n + 1) * sizeof *e))
        return -1;
    a->v = (struct fb_uf *)(void *)a->mem.p;
    a->v[a->n++] = *e;
    return 0;
}

static void set_oom(struct outpost_storage *s)
{
    s->status[0] = isc_arg_gds;
    s->status[1] = isc_virmemexh;
    s->status[2] = isc_arg_end;
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++, v >>= 8)
        p[i] = (unsigned char)v;
}

/* Decodes a snapshot value into a (keywords point into b). 0, or -1 when it is malformed. */
static int decode(const struct fb_buf *b, struct uf_vec *a)
{
    const unsigned char *p = (const unsigned char *)b->p, *end = p + b->len;
    if (b->len < 4 || memcmp(p, SNAP_MAGIC, 4) != 0)
        return -1;
    p += 4;
    while (p < end) {
        if (end - p < ENTRY_FIXED)
            return -1;
        struct fb_uf e;
        e.uid = (uint32_t)get_le(p, 4);
        e.flags = (uint32_t)get_le(p + 4, 4);
        e.modseq = get_le(p + 8, 8);
        e.id = (int64_t)get_le(p + 16, 8);
        unsigned kl = (unsigned)get_le(p + 24, 2);
        p += ENTRY_FIXED;
        e.kw = NULL;
        if (kl == KW_NONE) {
            e.kwlen = -1;
        } else if (kl == KW_IN_BIG) {
            e.kwlen = FB_KW_BIG;
        } else {
            if ((size_t)(end - p) < kl)
                return -1;
            e.kwlen = (int32_t)kl;
            e.kw = (const char *)p;
            p += kl;
        }
        if (vec_push(a, &e))
            return -2;
    }
    return 0;
}

static int encode(const struct fb_uf *v, size_t n, struct fb_buf *b)
{
    size_t need = 4;
    for (size_t i = 0; i < n; i++)
        need += ENTRY_FIXED + (v[i].kwlen > 0 ? (size_t)v[i].kwlen : 0);
    if (fb_buf_reserve(b, need))
        return -1;
    unsigned char *p = (unsigned char *)b->p;
    memcpy(p, SNAP_MAGIC, 4);
    p += 4;
    for (size_t i = 0; i < n; i++) {
        put_le(p, v[i].uid, 4);
        put_le(p + 4, v[i].flags, 4);
        put_le(p + 8, v[i].modseq, 8);
        put_le(p + 16, (uint64_t)v[i].id, 8);
        unsigned kl = v[i].kwlen == -1 ? KW_NONE : v[i].kwlen == FB_KW_BIG ? KW_IN_BIG : (unsigned)v[i].kwlen;
        put_le(p + 24, kl, 2);
        p += ENTRY_FIXED;
        if (v[i].kwlen > 0) {
            memcpy(p, v[i].kw, (size_t)v[i].kwlen);
            p += v[i].kwlen;
        }
    }
    b->len = need;
    return 0;
}

static int cmp_uf(const void *a, const void *b)
{
    uint32_t x = ((const struct fb_uf *)a)->uid, y = ((const struct fb_uf *)b)->uid;
    return x < y ? -1 : x > y;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- reading ---- */

/* Executes statement `id` with (folder, since) bound: the statement or NULL (s->status). */
static struct fb_stmt *exec_since(struct outpost_storage *s, enum fb_stmt_id id, int64_t folder_id, uint64_t since)
{
    struct fb_stmt *st = fb_stmt(s, id);
    if (!st)
        return NULL;
    fb_bind_int(st, 0, folder_id);
    fb_bind_int(st, 1, (int64_t)since);
    return fb_exec(s, st) ? NULL : st;
}

/* The folder's snapshot: 1 (its MODSEQ in *modseq, bytes in b), 0 none, -1 error. */
static int load_snapshot(struct outpost_storage *s, int64_t folder_id, uint64_t *modseq, struct fb_buf *b,
                         int want_data)
{
    struct fb_stmt *st = fb_stmt(s, want_data ? ST_SNAP_GET : ST_SNAP_MODSEQ);
    if (!st)
        return -1;
    fb_bind_int(st, 0, folder_id);
    b->len = 0;
    if (!want_data) {
        int r = fb_exec_row(s, st);
        if (r == 1)
            *modseq = (uint64_t)fb_col_int(st, 0);
        return r;
    }
    /* one row per part (one with NULLs when there is none: decode() then
     * calls the empty value malformed) */
    if (fb_exec(s, st))
        return -1;
    struct fb_val_rd rd;
    fb_val_begin(&rd, b);
    int r, rows = 0, bad = 0;
    while ((r = fb_fetch(s, st)) == 1) {
        rows++;
        *modseq = (uint64_t)fb_col_int(st, 0);
        size_t n;
        const char *d = fb_col_text(st, 2, &n);
        if (!bad && !fb_col_null(st, 1) && fb_val_add(s, &rd, b, fb_col_int(st, 1), d ? d : "", n))
            bad = 1; /* drain the cursor, keep the status */
    }
    if (r < 0 || bad)
        return -1;
    if (rows == 0)
        return 0;
    if (rd.parts && fb_val_end(s, &rd, b))
        return -1;
    return 1;
}

/* Rows changed since `since` (sorted by UID; keywords copied into b) and
 * UIDs removed since (sorted). 0 or -1. */
static int load_changes(struct outpost_storage *s, int64_t folder_id, uint64_t since, struct uf_vec *d,
                        struct fb_buf *b, uint32_t **gone, size_t *ngone)
{
    struct fb_stmt *st = exec_since(s, ST_UF_DELTA, folder_id, since);
    if (!st)
        return -1;
    /* keywords are first collected as offsets: b may move while it grows */
    int r;
    b->len = 0;
    while ((r = fb_fetch(s, st)) == 1) {
        struct fb_uf e;
        e.uid = (uint32_t)fb_col_int(st, 0);
        e.flags = (uint32_t)fb_col_int(st, 1);
        e.modseq = (uint64_t)fb_col_int(st, 2);
        e.id = fb_col_int(st, 3);
        e.kw = NULL;
        size_t kl;
        const char *kw = fb_col_text(st, 4, &kl);
        if (fb_col_int(st, 5)) {
            e.kwlen = FB_KW_BIG;
        } else if (!kw) {
            e.kwlen = -1;
        } else {
            if (fb_buf_reserve(b, b->len + kl + 1)) {
                fb_stmt_close(s, st);
                set_oom(s);
                return -1;
            }
            memcpy(b->p + b->len, kw, kl);
            e.kw = (const char *)(uintptr_t)b->len;
            e.kwlen = (int32_t)kl;
            b->len += kl;
        }
        if (vec_push(d, &e)) {
            fb_stmt_close(s, st);
            set_oom(s);
            return -1;
        }
    }
    if (r < 0)
        return -1;
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].kwlen >= 0)
            d->v[i].kw = b->p + (uintptr_t)d->v[i].kw;
    if (d->n)
        qsort(d->v, d->n, sizeof *d->v, cmp_uf);

    if (!(st = exec_since(s, ST_UF_GONE, folder_id, since)))
        return -1;
    size_t n = 0;
    struct fb_buf gb = { 0 };
    uint32_t *g = NULL;
    while ((r = fb_fetch(s, st)) == 1) {
        if (fb_buf_reserve(&gb, (n + 1) * sizeof *g)) {
            free(gb.p);
            fb_stmt_close(s, st);
            set_oom(s);
            return -1;
        }
        g = (uint32_t *)(void *)gb.p;
        g[n++] = (uint32_t)fb_col_int(st, 0);
    }
    if (r < 0) {
        free(gb.p);
        return -1;
    }
    if (n)
        qsort(g, n, sizeof *g, cmp_u32);
    *gone = g;
    *ngone = n;
    return 0;
}

/* snapshot + changes − removals, in UID order, keeping UIDs in [lo, hi]. 0 or -1 (memory). */
static int merge(const struct uf_vec *snap, const struct uf_vec *d, const uint32_t *gone, size_t ngone,
                 uint32_t lo, uint32_t hi, struct uf_vec *out)
{
    size_t i = 0, j = 0, k = 0;
    while (i < snap->n || j < d->n) {
        const struct fb_uf *e;
        if (j >= d->n || (i < snap->n && snap->v[i].uid < d->v[j].uid)) {
            e = &snap->v[i++];
            while (k < ngone && gone[k] < e->uid)
                k++;
            if (k < ngone && gone[k] == e->uid)
                continue;
        } else {
            if (i < snap->n && snap->v[i].uid == d->v[j].uid)
                i++; /* the changed row replaces the snapshot's */
            e = &d->v[j++];
        }
        if (e->uid < lo || e->uid > hi)
            continue;
        if (vec_push(out, e))
            return -1;
    }
    return 0;
}

/* The folder's listing from its snapshot: 1 done (out filled; keywords point
 * into snap and delta), 0 no snapshot, -1 error (s->status, or *bad = 1 for
 * a malformed snapshot). */
static int build(struct outpost_storage *s, int64_t folder_id, uint32_t lo, uint32_t hi, struct fb_buf *snapb,
                 struct fb_buf *deltab, struct uf_vec *out, int *bad)
{
    uint64_t since = 0;
    int r = load_snapshot(s, folder_id, &since, snapb, 1);
    if (r < 0 && s->status[1] == isc_db_corrupt)
        *bad = 1; /* its parts do not make a value */
    if (r <= 0)
        return r;
    struct uf_vec sv = { 0 }, dv = { 0 };
    uint32_t *gone = NULL;
    size_t ngone = 0;
    int dr = decode(snapb, &sv);
    if (dr) {
        free(sv.v);
        if (dr == -1)
            *bad = 1;
        else
            set_oom(s);
        return -1;
    }
    r = load_changes(s, folder_id, since, &dv, deltab, &gone, &ngone);
    if (r == 0 && merge(&sv, &dv, gone, ngone, lo, hi, out)) {
        set_oom(s);
        r = -1;
    }
    free(sv.v);
    free(dv.v);
    free(gone);
    return r < 0 ? -1 : 1;
}

outpost_status fb_uidsnap_list(struct outpost_txn *t, int64_t folder_id, uint32_t lo, uint32_t hi,
                               struct outpost_cursor **out)
{
    struct outpost_storage *s = t->s;
    *out = NULL;
    struct outpost_cursor *c = calloc(1, sizeof *c);
    if (!c)
        return fb_error(s, OUTPOST_FATAL, "out of memory opening a listing");
    struct uf_vec v = { 0 };
    int bad = 0;
    int r = build(s, folder_id, lo, hi, &c->snap, &c->delta, &v, &bad);
    if (r <= 0) {
        free(v.v);
        free(c->snap.p);
        free(c->delta.p);
        free(c);
        /* none, or malformed: the caller lists item_flags row by row (the
         * next commit that changes the folder writes a new snapshot, and
         * integrity_check reports the bad one) */
        if (r == 0 || bad)
            return outpost_ok();
        return fb_db_error(s, "opening a listing");
    }
    c->s = s;
    c->stmt_id = -1;
    c->row_type = ROW_UF_MEM;
    c->uf = v.v;
    c->nids = v.n;
    s->open_cursors++;
    *out = c;
    return outpost_ok();
}

outpost_status fb_uf_big_keywords(struct outpost_cursor *c, outpost_uid_flags *u)
{
    struct outpost_storage *s = c->s;
    struct fb_stmt *g = fb_stmt(s, ST_ITEM_GET);
    if (!g)
        return fb_db_error(s, "reading keywords");
    fb_bind_int(g, 0, u->id);
    int r = fb_exec_row(s, g);
    if (r < 0)
        return fb_db_error(s, "reading keywords");
    outpost_item it;
    if (r == 1 && fb_fill_item(s, g, 0, &it, &c->buf))
        return fb_db_error(s, "reading keywords");
    u->keywords = r == 1 ? it.keywords : NULL;
    return outpost_ok();
}

/* ---- writing, at commit ---- */

static int refresh_one(struct outpost_txn *t, const struct fb_touched *f)
{
    struct outpost_storage *s = t->s;
    uint64_t since = 0;
    struct fb_buf dummy = { 0 };
    int r = load_snapshot(s, f->folder, &since, &dummy, 0);
    if (r < 0)
        return -1;
    uint64_t limit = (uint64_t)(f->uidnext / SNAP_FRACTION);
    if (limit < SNAP_MIN)
        limit = SNAP_MIN;
    if (f->modseq <= since || f->modseq - since <= limit)
        return 0;
    struct fb_stmt *k = fb_stmt(s, ST_FOLDER_KIND); /* deleted by this transaction? */
    if (!k)
        return -1;
    fb_bind_int(k, 0, f->folder);
    int exists = fb_exec_row(s, k);
    if (exists <= 0)
        return exists;
    struct fb_buf snapb = { 0 }, deltab = { 0 }, enc = { 0 };
    struct uf_vec v = { 0 };
    int bad = 0;
    int rc = -1;
    if (r == 1) {
        r = build(s, f->folder, 0, UINT32_MAX, &snapb, &deltab, &v, &bad);
        if (r < 0 && bad)
            r = 0; /* a malformed snapshot is replaced by a fresh one */
    }
    if (r == 0) { /* none yet: every row of the folder */
        v.n = 0;
        uint32_t *gone = NULL;
        size_t ngone = 0;
        if (load_changes(s, f->folder, 0, &v, &deltab, &gone, &ngone))
            goto out;
        free(gone);
    } else if (r < 0) {
        goto out;
    }
    if (encode(v.v, v.n, &enc)) {
        set_oom(s);
        goto out;
    }
    struct fb_stmt *st = fb_stmt(s, ST_SNAP_SET);
    if (!st)
        goto out;
    fb_bind_int(st, 0, f->folder);
    fb_bind_int(st, 1, (int64_t)f->modseq);
    if (fb_exec(s, st) || fb_val_put(s, VS_SNAP, f->folder, NULL, enc.p, enc.len))
        goto out;
    rc = 0;
out:
    free(v.v);
    free(snapb.p);
    free(deltab.p);
    free(enc.p);
    return rc;
}

int fb_uidsnap_refresh(struct outpost_txn *t)
{
    for (int i = 0; i < t->ntouched; i++)
        if (refresh_one(t, &t->touched[i]))
            return -1;
    return 0;
}

/* ---- integrity ---- */

static int same_rows(const struct uf_vec *x, const struct uf_vec *y)
{
    if (x->n != y->n)
        return 0;
    for (size_t i = 0; i < x->n; i++) {
        const struct fb_uf *a = &x->v[i], *b = &y->v[i];
        if (a->uid != b->uid || a->flags != b->flags || a->modseq != b->modseq || a->id != b->id ||
            a->kwlen != b->kwlen || (a->kwlen > 0 && memcmp(a->kw, b->kw, (size_t)a->kwlen) != 0))
            return 0;
    }
    return 1;
}

int fb_uidsnap_verify(struct outpost_storage *s, int64_t *bad_folder)
{
    *bad_folder = 0;
    struct fb_stmt *st = fb_stmt_prepare(s, "SELECT folder_id FROM uid_snapshot");
    if (!st || fb_exec(s, st)) {
        fb_stmt_free(st);
        return -1;
    }
    struct fb_buf ib = { 0 };
    int64_t *ids = NULL;
    size_t n = 0;
    int r;
    while ((r = fb_fetch(s, st)) == 1) {
        if (fb_buf_reserve(&ib, (n + 1) * sizeof *ids)) {
            r = -1;
            set_oom(s);
            break;
        }
        ids = (int64_t *)(void *)ib.p;
        ids[n++] = fb_col_int(st, 0);
    }
    fb_stmt_free(st);
    for (size_t i = 0; i < n && r == 0; i++) {
        struct fb_buf snapb = { 0 }, deltab = { 0 }, allb = { 0 };
        struct uf_vec merged = { 0 }, all = { 0 };
        uint32_t *gone = NULL;
        size_t ngone = 0;
        int bad = 0;
        int b = build(s, ids[i], 0, UINT32_MAX, &snapb, &deltab, &merged, &bad);
        if (b < 0 && bad) {
            *bad_folder = ids[i];
            r = 1;
        } else if (b < 0 || load_changes(s, ids[i], 0, &all, &allb, &gone, &ngone)) {
            r = -1;
        } else if (b == 1 && !same_rows(&merged, &all)) {
            *bad_folder = ids[i];
            r = 1;
        }
        free(merged.v);
        free(all.v);
        free(gone);
        free(snapb.p);
        free(deltab.p);
        free(allb.p);
    }
    free(ib.p);
    return r;
}
