/* frontends/mapi/mapi_table.c — the table engine (see mapi_table.h). */
#include "mapi_table.h"

#include <stdlib.h>
#include <string.h>

int mapi_props_set_key(mapi_props *l, uint32_t tag, uint64_t key)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(key >> (8 * i));
    return mapi_props_set_bin(l, tag, b, 8);
}

int mapi_props_project(const mapi_props *src, const uint32_t *tags, uint32_t n, mapi_props *out)
{
    int errors = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t want = tags[i];
        uint32_t wt = OP_PROP_TYPE(want);
        const mapi_prop *p = mapi_props_find(src, want);
        mapi_prop c;
        uint32_t have = p ? OP_PROP_TYPE(p->tag) : 0;
        int strings = p && ((wt & ~OP_MV_FLAG) == OP_PT_STRING8 || (wt & ~OP_MV_FLAG) == OP_PT_UNICODE) &&
                      ((have & ~OP_MV_FLAG) == OP_PT_STRING8 || (have & ~OP_MV_FLAG) == OP_PT_UNICODE) &&
                      (wt & OP_MV_FLAG) == (have & OP_MV_FLAG);
        if (p && (wt == OP_PT_UNSPECIFIED || wt == have || strings)) {
            if (mapi_prop_copy(&c, p) != 0)
                return -1;
            if (wt != OP_PT_UNSPECIFIED)
                c.tag = want;
        } else {
            memset(&c, 0, sizeof c);
            c.tag = OP_CHANGE_PROP_TYPE(want, OP_PT_ERROR);
            c.v.l = (int32_t)OP_MAPI_E_NOT_FOUND;
            errors++;
        }
        /* Columns may repeat a tag; keep them all, in order. */
        if (out->n == out->cap) {
            uint32_t cap = out->cap ? out->cap * 2 : 16;
            mapi_prop *np = realloc(out->p, cap * sizeof *np);
            if (!np) {
                mapi_prop_clear(&c);
                return -1;
            }
            out->p = np;
            out->cap = cap;
        }
        out->p[out->n++] = c;
    }
    return errors;
}

int mapi_table_init(mapi_table *t, const uint32_t *cols, uint32_t ncols)
{
    memset(t, 0, sizeof *t);
    t->next_bm = 3; /* after BOOKMARK_BEGINNING/CURRENT/END */
    return mapi_table_set_columns(t, cols, ncols);
}

static void free_rows(mapi_row *rows, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        mapi_props_free(&rows[i].props);
    free(rows);
}

void mapi_table_free(mapi_table *t)
{
    free_rows(t->rows, t->nrows);
    free(t->view);
    free(t->cols);
    mapi_res_free(t->res);
    mapi_sort_clear(&t->sort);
    free(t->bms);
    memset(t, 0, sizeof *t);
}

/* qsort has no context argument in C11: sort indices with a merge sort.
 * keys holds each row's sort values, looked up once (sort.n per row). */
typedef struct sorter {
    const mapi_table *t;
    const mapi_prop **keys;
} sorter;

static int cmp_idx(const sorter *so, uint32_t a, uint32_t b)
{
    uint32_t n = so->t->sort.n;
    int c = mapi_sort_cmp_found(&so->t->sort, so->keys + (size_t)a * n, so->keys + (size_t)b * n);
    if (c)
        return c;
    return (a > b) - (a < b); /* stable */
}

static void merge_sort(const sorter *so, uint32_t *v, uint32_t *tmp, uint32_t n)
{
    if (n < 2)
        return;
    uint32_t h = n / 2;
    merge_sort(so, v, tmp, h);
    merge_sort(so, v + h, tmp, n - h);
    uint32_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = cmp_idx(so, v[i], v[j]) <= 0 ? v[i++] : v[j++];
    while (i < h)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

static int build_view(mapi_table *t)
{
    uint32_t *v = malloc((t->nrows ? t->nrows : 1) * sizeof *v);
    uint32_t *tmp = malloc((t->nrows ? t->nrows : 1) * sizeof *tmp);
    if (!v || !tmp) {
        free(v);
        free(tmp);
        return -1;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < t->nrows; i++)
        if (!t->res || mapi_res_eval(t->res, &t->rows[i].props)) /* lazy: rows keep what it needs */
            v[n++] = i;
    if (t->sort.n && n > 1) {
        sorter so = { t, malloc((size_t)t->nrows * t->sort.n * sizeof *so.keys) };
        if (!so.keys) {
            free(v);
            free(tmp);
            return -1;
        }
        for (uint32_t i = 0; i < n; i++)
            for (uint32_t k = 0; k < t->sort.n; k++)
                so.keys[(size_t)v[i] * t->sort.n + k] = mapi_props_find(&t->rows[v[i]].props, t->sort.keys[k].tag);
        merge_sort(&so, v, tmp, n);
        free(so.keys);
    }
    free(tmp);
    free(t->view);
    t->view = v;
    t->nview = n;
    if (t->pos > n)
        t->pos = n;
    return 0;
}

static int64_t view_find(const mapi_table *t, uint64_t key)
{
    for (uint32_t i = 0; i < t->nview; i++)
        if (t->rows[t->view[i]].key == key)
            return i;
    return -1;
}

static int project_props(const mapi_table *t, const mapi_props *row, mapi_props *out)
{
    mapi_props_init(out);
    if (mapi_props_project(row, t->cols, t->ncols, out) < 0) {
        mapi_props_free(out);
        return -1;
    }
    return 0;
}

/* The row's properties: itself, or for a lazy table built through fetch
 * (*tmp then holds them; free it). A row that cannot be built any more
 * gives what the table keeps of it. */
static const mapi_props *row_props(const mapi_table *t, const mapi_row *r, mapi_props *tmp)
{
    mapi_props_init(tmp);
    if (!t->fetch)
        return &r->props;
    if (t->fetch(t->fetch_ctx, r->key, tmp) == 0)
        return tmp;
    mapi_props_free(tmp);
    return &r->props;
}

static int project(const mapi_table *t, const mapi_row *r, mapi_props *out)
{
    mapi_props tmp;
    int rc = project_props(t, row_props(t, r, &tmp), out);
    mapi_props_free(&tmp);
    return rc;
}

int mapi_table_full_row(const mapi_table *t, uint32_t i, mapi_props *out)
{
    if (i >= t->nrows)
        return -1;
    mapi_props tmp;
    const mapi_props *p = row_props(t, &t->rows[i], &tmp);
    int rc = p == &tmp ? 0 : mapi_props_copy(out, p);
    if (p == &tmp)
        *out = tmp; /* moved */
    return rc;
}

/* Whether restriction r holds for a row (built through fetch when lazy). */
static int row_matches(const mapi_table *t, const mapi_res *r, const mapi_row *row)
{
    if (!r)
        return 1;
    mapi_props tmp;
    int ok = mapi_res_eval(r, row_props(t, row, &tmp));
    mapi_props_free(&tmp);
    return ok;
}

static int projected_equal(const mapi_table *t, const mapi_props *a, const mapi_props *b)
{
    for (uint32_t i = 0; i < t->ncols; i++) {
        const mapi_prop *pa = mapi_props_find(a, t->cols[i]);
        const mapi_prop *pb = mapi_props_find(b, t->cols[i]);
        if (!pa || !pb) {
            if (pa != pb)
                return 0;
            continue;
        }
        if (!mapi_prop_equal(pa, pb))
            return 0;
    }
    return 1;
}

static int keypos_cmp(const void *a, const void *b)
{
    uint64_t x = ((const mapi_keypos *)a)->key, y = ((const mapi_keypos *)b)->key;
    return (x > y) - (x < y);
}

mapi_keypos *mapi_rows_index(const mapi_row *rows, const uint32_t *view, uint32_t n)
{
    mapi_keypos *k = malloc((n ? n : 1) * sizeof *k);
    if (!k)
        return NULL;
    for (uint32_t i = 0; i < n; i++) {
        k[i].key = rows[view ? view[i] : i].key;
        k[i].pos = i;
    }
    qsort(k, n, sizeof *k, keypos_cmp);
    return k;
}

int64_t mapi_keypos_find(const mapi_keypos *k, uint32_t n, uint64_t key)
{
    mapi_keypos want = { key, 0 };
    const mapi_keypos *f = bsearch(&want, k, n, sizeof *k, keypos_cmp);
    return f ? (int64_t)f->pos : -1;
}

/* Row events between the old view and the table's new one. A row counts as
 * modified when its projected columns changed or it moved: its nearest
 * predecessor among the rows present in both views is another row. */
static int notify_changes(const mapi_table *t, const mapi_row *old_rows, const uint32_t *old_view, uint32_t old_nview,
                          mapi_table_event_fn fn, void *ctx)
{
    mapi_keypos *oi = mapi_rows_index(old_rows, old_view, old_nview);
    mapi_keypos *ni = mapi_rows_index(t->rows, t->view, t->nview);
    if (!oi || !ni) {
        free(oi);
        free(ni);
        return -1;
    }
    for (uint32_t i = 0; i < old_nview; i++) {
        uint64_t k = old_rows[old_view[i]].key;
        if (mapi_keypos_find(ni, t->nview, k) < 0)
            fn(ctx, OP_TABLE_ROW_DELETED, k, 0, NULL);
    }
    for (uint32_t i = 0; i < t->nview; i++) {
        const mapi_row *r = &t->rows[t->view[i]];
        uint64_t prior = i ? t->rows[t->view[i - 1]].key : 0;
        int64_t op = mapi_keypos_find(oi, old_nview, r->key);
        mapi_props pr;
        if (op < 0) {
            if (project(t, r, &pr) == 0) {
                fn(ctx, OP_TABLE_ROW_ADDED, r->key, prior, &pr);
                mapi_props_free(&pr);
            }
            continue;
        }
        int64_t j = (int64_t)i - 1;
        while (j >= 0 && mapi_keypos_find(oi, old_nview, t->rows[t->view[j]].key) < 0)
            j--;
        uint64_t p_new = j >= 0 ? t->rows[t->view[j]].key : 0;
        int64_t oj = op - 1;
        while (oj >= 0 && mapi_keypos_find(ni, t->nview, old_rows[old_view[oj]].key) < 0)
            oj--;
        uint64_t p_old = oj >= 0 ? old_rows[old_view[oj]].key : 0;
        const mapi_row *o = &old_rows[old_view[op]];
        if (t->fetch) {
            /* the old row's properties are not kept: its stamp says whether it changed */
            if ((p_new != p_old || r->stamp != o->stamp) && project(t, r, &pr) == 0) {
                fn(ctx, OP_TABLE_ROW_MODIFIED, r->key, prior, &pr);
                mapi_props_free(&pr);
            }
            continue;
        }
        if (project(t, r, &pr) != 0)
            continue;
        mapi_props po;
        if (project(t, o, &po) == 0) {
            if (p_new != p_old || !projected_equal(t, &pr, &po))
                fn(ctx, OP_TABLE_ROW_MODIFIED, r->key, prior, &pr);
            mapi_props_free(&po);
        }
        mapi_props_free(&pr);
    }
    free(oi);
    free(ni);
    return 0;
}

int mapi_table_replace_rows(mapi_table *t, mapi_row *rows, uint32_t n, mapi_table_event_fn fn, void *ctx)
{
    /* Remember the old view: keys and the rows themselves. */
    mapi_row *old_rows = t->rows;
    uint32_t old_nrows = t->nrows;
    uint32_t *old_view = t->view;
    uint32_t old_nview = t->nview;
    uint64_t cur_key = t->pos < old_nview ? old_rows[old_view[t->pos]].key : 0;
    uint32_t old_pos = t->pos;

    t->rows = rows;
    t->nrows = n;
    t->view = NULL;
    t->nview = 0;
    if (build_view(t) != 0) {
        t->rows = old_rows;
        t->nrows = old_nrows;
        t->view = old_view;
        t->nview = old_nview;
        free_rows(rows, n);
        return -1;
    }
    if (fn && notify_changes(t, old_rows, old_view, old_nview, fn, ctx) != 0) {
        /* out of memory: the rows are replaced, the client re-reads on TABLE_CHANGED */
        fn(ctx, OP_TABLE_CHANGED, 0, 0, NULL);
    }
    free_rows(old_rows, old_nrows);
    free(old_view);
    int64_t np = cur_key ? view_find(t, cur_key) : -1;
    if (np >= 0)
        t->pos = (uint32_t)np;
    else
        t->pos = old_pos < t->nview ? old_pos : t->nview;
    return 0;
}

int mapi_table_set_columns(mapi_table *t, const uint32_t *cols, uint32_t n)
{
    uint32_t *c = malloc((n ? n : 1) * sizeof *c);
    if (!c)
        return -1;
    if (n)
        memcpy(c, cols, n * sizeof *c);
    free(t->cols);
    t->cols = c;
    t->ncols = n;
    return 0;
}

int mapi_table_restrict(mapi_table *t, const mapi_res *r)
{
    mapi_res *copy = NULL;
    if (r && !(copy = mapi_res_dup(r)))
        return -1;
    mapi_res_free(t->res);
    t->res = copy;
    t->pos = 0;
    return build_view(t);
}

uint32_t mapi_table_sort(mapi_table *t, const mapi_sort *s)
{
    if (s->categories)
        return OP_MAPI_E_TOO_COMPLEX;
    mapi_sort c;
    if (mapi_sort_copy(&c, s) != 0)
        return OP_MAPI_E_NOT_ENOUGH_MEMORY;
    mapi_sort_clear(&t->sort);
    t->sort = c;
    t->pos = 0;
    return build_view(t) == 0 ? OP_S_OK : OP_MAPI_E_NOT_ENOUGH_MEMORY;
}

uint32_t mapi_table_row_count(const mapi_table *t)
{
    return t->nview;
}

int mapi_table_query_rows(mapi_table *t, int32_t count, uint32_t flags, mapi_props **out, uint32_t *n)
{
    *out = NULL;
    *n = 0;
    uint32_t from, cnt;
    if (count >= 0) {
        from = t->pos;
        cnt = t->nview - t->pos;
        if ((uint32_t)count < cnt)
            cnt = (uint32_t)count;
    } else {
        uint32_t want = count == INT32_MIN ? 0x80000000u : (uint32_t)(-count);
        cnt = want < t->pos ? want : t->pos;
        from = t->pos - cnt;
    }
    if (cnt) {
        mapi_props *rows = calloc(cnt, sizeof *rows);
        if (!rows)
            return -1;
        for (uint32_t i = 0; i < cnt; i++) {
            if (project(t, &t->rows[t->view[from + i]], &rows[i]) != 0) {
                for (uint32_t j = 0; j < i; j++)
                    mapi_props_free(&rows[j]);
                free(rows);
                return -1;
            }
        }
        *out = rows;
        *n = cnt;
    }
    if (!(flags & OP_TBL_NOADVANCE))
        t->pos = count >= 0 ? from + cnt : from;
    return 0;
}

static mapi_bookmark *find_bm(mapi_table *t, uint32_t id)
{
    for (uint32_t i = 0; i < t->nbms; i++)
        if (t->bms[i].id == id)
            return &t->bms[i];
    return NULL;
}

/* Resolves a bookmark to a position; *moved when its row is gone. */
static int bm_pos(mapi_table *t, uint32_t bookmark, uint32_t *pos, int *moved)
{
    *moved = 0;
    switch (bookmark) {
    case OP_BOOKMARK_BEGINNING: *pos = 0; return 0;
    case OP_BOOKMARK_CURRENT: *pos = t->pos; return 0;
    case OP_BOOKMARK_END: *pos = t->nview; return 0;
    default: {
        mapi_bookmark *b = find_bm(t, bookmark);
        if (!b)
            return -1;
        if (b->key == 0) {
            *pos = t->nview;
            return 0;
        }
        int64_t p = view_find(t, b->key);
        if (p < 0) {
            *moved = 1;
            *pos = b->pos < t->nview ? b->pos : t->nview;
        } else {
            *pos = (uint32_t)p;
        }
        return 0;
    }
    }
}

uint32_t mapi_table_seek(mapi_table *t, uint32_t bookmark, int32_t count, int32_t *sought)
{
    uint32_t pos;
    int moved;
    if (bm_pos(t, bookmark, &pos, &moved) != 0)
        return OP_MAPI_E_INVALID_BOOKMARK;
    int64_t np = (int64_t)pos + count;
    if (np < 0)
        np = 0;
    if (np > t->nview)
        np = t->nview;
    if (sought)
        *sought = (int32_t)(np - pos);
    t->pos = (uint32_t)np;
    return moved ? OP_MAPI_W_POSITION_CHANGED : OP_S_OK;
}

uint32_t mapi_table_seek_approx(mapi_table *t, uint32_t num, uint32_t denom)
{
    if (denom == 0 || num > denom)
        return OP_MAPI_E_INVALID_PARAMETER;
    t->pos = (uint32_t)((uint64_t)t->nview * num / denom);
    return OP_S_OK;
}

void mapi_table_position(const mapi_table *t, uint32_t *row, uint32_t *num, uint32_t *denom)
{
    *row = t->pos;
    *num = t->pos;
    *denom = t->nview ? t->nview : 1;
}

uint32_t mapi_table_bookmark(mapi_table *t, uint32_t *id)
{
    mapi_bookmark *slot = NULL;
    for (uint32_t i = 0; i < t->nbms; i++)
        if (t->bms[i].id == 0) {
            slot = &t->bms[i];
            break;
        }
    if (!slot) {
        if (t->nbms >= 4096)
            return OP_MAPI_E_UNABLE_TO_COMPLETE;
        mapi_bookmark *nb = realloc(t->bms, (t->nbms + 1) * sizeof *nb);
        if (!nb)
            return OP_MAPI_E_NOT_ENOUGH_MEMORY;
        t->bms = nb;
        slot = &t->bms[t->nbms++];
    }
    slot->id = t->next_bm++;
    if (t->next_bm < 3)
        t->next_bm = 3;
    slot->key = t->pos < t->nview ? t->rows[t->view[t->pos]].key : 0;
    slot->pos = t->pos;
    *id = slot->id;
    return OP_S_OK;
}

uint32_t mapi_table_free_bookmark(mapi_table *t, uint32_t id)
{
    if (id <= OP_BOOKMARK_END)
        return OP_S_OK;
    mapi_bookmark *b = find_bm(t, id);
    if (!b)
        return OP_MAPI_E_INVALID_BOOKMARK;
    b->id = 0;
    return OP_S_OK;
}

uint32_t mapi_table_find_row(mapi_table *t, const mapi_res *r, uint32_t bookmark, uint32_t flags)
{
    uint32_t pos;
    int moved;
    if (bm_pos(t, bookmark, &pos, &moved) != 0)
        return OP_MAPI_E_INVALID_BOOKMARK;
    if (flags & OP_DIR_BACKWARD) {
        for (int64_t i = (int64_t)pos - 1; i >= 0; i--)
            if (row_matches(t, r, &t->rows[t->view[i]])) {
                t->pos = (uint32_t)i;
                return moved ? OP_MAPI_W_POSITION_CHANGED : OP_S_OK;
            }
    } else {
        for (uint32_t i = pos; i < t->nview; i++)
            if (row_matches(t, r, &t->rows[t->view[i]])) {
                t->pos = i;
                return moved ? OP_MAPI_W_POSITION_CHANGED : OP_S_OK;
            }
    }
    return OP_MAPI_E_NOT_FOUND;
}
