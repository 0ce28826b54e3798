/* frontends/mapi/mapi_search.c — search folders kept in the cache (mapi_search.h). */
#include "mapi_search.h"

#include <stdlib.h>
#include <string.h>

#include "mapi_eid.h"
#include "mapi_wire.h"

#define SEARCH_MAGIC 0x3153504Fu /* "OPS1" */

void mapi_search_set_init(mapi_search_set *s)
{
    memset(s, 0, sizeof *s);
    s->next = 1;
}

static void folder_clear(mapi_search_folder *f)
{
    free(f->name);
    free(f->cls);
    mapi_res_free(f->res);
    free(f->scope);
    memset(f, 0, sizeof *f);
}

void mapi_search_set_free(mapi_search_set *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        folder_clear(&s->v[i]);
    free(s->v);
    mapi_search_set_init(s);
}

mapi_search_folder *mapi_search_find(mapi_search_set *s, uint32_t num)
{
    for (uint32_t i = 0; i < s->n; i++)
        if (s->v[i].num == num)
            return &s->v[i];
    return NULL;
}

mapi_search_folder *mapi_search_find_name(mapi_search_set *s, const char *name)
{
    for (uint32_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i].name, name))
            return &s->v[i];
    return NULL;
}

int mapi_search_add(mapi_search_set *s, const char *name, const char *cls, mapi_search_folder **out)
{
    if (s->n >= MAPI_SEARCH_MAX_FOLDERS || s->next == UINT32_MAX)
        return -1;
    mapi_search_folder *nv = realloc(s->v, (s->n + 1) * sizeof *nv);
    if (!nv)
        return -1;
    s->v = nv;
    mapi_search_folder *f = &s->v[s->n];
    memset(f, 0, sizeof *f);
    f->name = strdup(name ? name : "");
    f->cls = strdup(cls ? cls : "");
    if (!f->name || !f->cls) {
        folder_clear(f);
        return -1;
    }
    f->num = s->next++;
    s->n++;
    *out = f;
    return 0;
}

int mapi_search_remove(mapi_search_set *s, uint32_t num)
{
    for (uint32_t i = 0; i < s->n; i++)
        if (s->v[i].num == num) {
            folder_clear(&s->v[i]);
            memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof *s->v);
            s->n--;
            return 0;
        }
    return -1;
}

void mapi_search_encode(const mapi_search_set *s, mapi_buf *out)
{
    mapi_w_u32(out, SEARCH_MAGIC);
    mapi_w_u32(out, s->next);
    mapi_w_u32(out, s->n);
    for (uint32_t i = 0; i < s->n; i++) {
        const mapi_search_folder *f = &s->v[i];
        mapi_w_u32(out, f->num);
        mapi_w_str(out, f->name);
        mapi_w_str(out, f->cls);
        mapi_w_u32(out, f->flags);
        mapi_w_u32(out, f->state);
        mapi_w_u8(out, (uint8_t)(f->has_criteria ? 1 : 0) | (uint8_t)(f->res ? 2 : 0));
        if (f->res)
            mapi_w_res(out, f->res);
        mapi_w_u32(out, f->nscope);
        for (uint32_t k = 0; k < f->nscope; k++) {
            mapi_w_u32(out, f->scope[k].kind);
            mapi_w_u64(out, (uint64_t)f->scope[k].id);
        }
    }
}

int mapi_search_decode(const void *p, size_t len, mapi_search_set *s)
{
    mapi_search_set_init(s);
    mapi_rd rd, *r = &rd;
    mapi_rd_init(r, p, len);
    uint32_t n = 0;
    if (mapi_r_u32(r) != SEARCH_MAGIC)
        r->err = 1;
    s->next = mapi_r_u32(r);
    n = mapi_r_u32(r);
    if (r->err || n > MAPI_SEARCH_MAX_FOLDERS || s->next == 0)
        goto bad;
    s->v = calloc(n ? n : 1, sizeof *s->v);
    if (!s->v)
        goto bad;
    for (uint32_t i = 0; i < n && !r->err; i++) {
        mapi_search_folder *f = &s->v[i];
        s->n = i + 1;
        f->num = mapi_r_u32(r);
        f->name = mapi_r_str(r);
        f->cls = mapi_r_str(r);
        f->flags = mapi_r_u32(r);
        f->state = mapi_r_u32(r);
        uint8_t has = mapi_r_u8(r);
        f->has_criteria = has & 1;
        if (!r->err && (has & 2))
            f->res = mapi_r_res(r);
        f->nscope = mapi_r_u32(r);
        if (r->err || f->nscope > MAPI_SEARCH_MAX_SCOPE || f->num == 0 || f->num >= s->next) {
            f->nscope = 0;
            goto bad;
        }
        f->scope = calloc(f->nscope ? f->nscope : 1, sizeof *f->scope);
        if (!f->scope) {
            f->nscope = 0;
            goto bad;
        }
        for (uint32_t k = 0; k < f->nscope; k++) {
            f->scope[k].kind = mapi_r_u32(r);
            f->scope[k].id = (int64_t)mapi_r_u64(r);
        }
    }
    if (r->err || r->left != 0)
        goto bad;
    return 0;
bad:
    mapi_search_set_free(s);
    return -1;
}

static outpost_status search_err(int code, const char *msg)
{
    outpost_status st = { code, 0, msg };
    return st;
}

outpost_status mapi_search_load(const struct outpost_host *h, mapi_search_set *s)
{
    mapi_search_set_init(s);
    if (!OUTPOST_HAS_METHOD(h->store, struct outpost_store_api, meta_set))
        return outpost_ok(); /* a core too old to keep them: none */
    struct outpost_txn *t;
    outpost_status st = h->store->read_begin(h, &t);
    if (st.code != OUTPOST_OK)
        return st;
    const void *v = NULL;
    size_t len = 0;
    st = h->store->storage->meta_get(t, MAPI_SEARCH_KEY, &v, &len);
    if (st.code == OUTPOST_GONE || (st.code == OUTPOST_OK && !v)) {
        st = outpost_ok();
    } else if (st.code == OUTPOST_OK && mapi_search_decode(v, len, s) != 0) {
        h->log(h, OUTPOST_LOG_ERROR, "mapi: the search folders kept as %s are damaged; left as they are",
               MAPI_SEARCH_KEY);
        st = search_err(OUTPOST_BAD_DATA, "damaged search folders");
    }
    h->store->read_end(h, t);
    return st;
}

outpost_status mapi_search_store(const struct outpost_host *h, const mapi_search_set *s)
{
    if (!OUTPOST_HAS_METHOD(h->store, struct outpost_store_api, meta_set))
        return search_err(OUTPOST_BAD_DATA, "this outpostd cannot keep search folders (no meta_set)");
    if (s->n == 0 && s->next == 1)
        return h->store->meta_set(h, MAPI_SEARCH_KEY, NULL, 0);
    mapi_buf b;
    mapi_buf_init(&b);
    mapi_search_encode(s, &b);
    outpost_status st = b.oom ? search_err(OUTPOST_FATAL, "out of memory")
                              : h->store->meta_set(h, MAPI_SEARCH_KEY, b.data, b.len);
    mapi_buf_free(&b);
    return st;
}
