/* frontends/mapi/mapi_prop.c — property values, lists and the byte buffer. */
#include "mapi_prop.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mapi_type_is_bytes(uint32_t type)
{
    type &= ~(OP_MV_FLAG | OP_MV_INSTANCE);
    return type == OP_PT_BINARY || type == OP_PT_CLSID || type == OP_PT_STRING8 || type == OP_PT_UNICODE;
}

int mapi_type_valid(uint32_t type)
{
    uint32_t base = type & ~OP_MV_FLAG;
    switch (base) {
    case OP_PT_I2: case OP_PT_LONG: case OP_PT_R4: case OP_PT_DOUBLE: case OP_PT_CURRENCY:
    case OP_PT_APPTIME: case OP_PT_I8: case OP_PT_STRING8: case OP_PT_UNICODE: case OP_PT_SYSTIME:
    case OP_PT_CLSID: case OP_PT_BINARY:
        return 1;
    case OP_PT_BOOLEAN: case OP_PT_ERROR: case OP_PT_NULL: case OP_PT_OBJECT:
        return base == type;
    default:
        return 0;
    }
}

static int val_copy(uint32_t base, mapi_val *d, const mapi_val *s)
{
    *d = *s;
    if (mapi_type_is_bytes(base)) {
        d->bin.data = malloc((size_t)s->bin.len + 1);
        if (!d->bin.data)
            return -1;
        if (s->bin.len)
            memcpy(d->bin.data, s->bin.data, s->bin.len);
        d->bin.data[s->bin.len] = 0;
    }
    return 0;
}

void mapi_prop_clear(mapi_prop *p)
{
    uint32_t type = OP_PROP_TYPE(p->tag);
    if (type & OP_MV_FLAG) {
        if (p->mv && mapi_type_is_bytes(type))
            for (uint32_t i = 0; i < p->count; i++)
                free(p->mv[i].bin.data);
        free(p->mv);
    } else if (mapi_type_is_bytes(type)) {
        free(p->v.bin.data);
    }
    memset(p, 0, sizeof *p);
}

int mapi_prop_copy(mapi_prop *dst, const mapi_prop *src)
{
    uint32_t type = OP_PROP_TYPE(src->tag);
    memset(dst, 0, sizeof *dst);
    dst->tag = src->tag;
    if (type & OP_MV_FLAG) {
        uint32_t base = type & ~OP_MV_FLAG;
        dst->mv = calloc(src->count ? src->count : 1, sizeof(mapi_val));
        if (!dst->mv)
            return -1;
        for (uint32_t i = 0; i < src->count; i++) {
            if (val_copy(base, &dst->mv[i], &src->mv[i]) != 0) {
                dst->count = i;
                mapi_prop_clear(dst);
                return -1;
            }
        }
        dst->count = src->count;
        return 0;
    }
    if (val_copy(type, &dst->v, &src->v) != 0) {
        dst->v.bin.data = NULL;
        return -1;
    }
    return 0;
}

static int val_equal(uint32_t base, const mapi_val *a, const mapi_val *b)
{
    switch (base) {
    case OP_PT_I2: case OP_PT_LONG: case OP_PT_BOOLEAN: case OP_PT_ERROR:
        return a->l == b->l;
    case OP_PT_I8: case OP_PT_SYSTIME: case OP_PT_CURRENCY:
        return a->ll == b->ll;
    case OP_PT_R4: case OP_PT_DOUBLE: case OP_PT_APPTIME:
        return a->d == b->d;
    default:
        if (mapi_type_is_bytes(base))
            return a->bin.len == b->bin.len && (a->bin.len == 0 || memcmp(a->bin.data, b->bin.data, a->bin.len) == 0);
        return 1;
    }
}

int mapi_prop_equal(const mapi_prop *a, const mapi_prop *b)
{
    if (a->tag != b->tag)
        return 0;
    uint32_t type = OP_PROP_TYPE(a->tag);
    if (type & OP_MV_FLAG) {
        if (a->count != b->count)
            return 0;
        for (uint32_t i = 0; i < a->count; i++)
            if (!val_equal(type & ~OP_MV_FLAG, &a->mv[i], &b->mv[i]))
                return 0;
        return 1;
    }
    return val_equal(type, &a->v, &b->v);
}

void mapi_props_init(mapi_props *l)
{
    memset(l, 0, sizeof *l);
}

void mapi_props_free(mapi_props *l)
{
    for (uint32_t i = 0; i < l->n; i++)
        mapi_prop_clear(&l->p[i]);
    free(l->p);
    memset(l, 0, sizeof *l);
}

mapi_prop *mapi_props_find(const mapi_props *l, uint32_t tag)
{
    uint32_t id = OP_PROP_ID(tag);
    for (uint32_t i = 0; i < l->n; i++)
        if (OP_PROP_ID(l->p[i].tag) == id)
            return &l->p[i];
    return NULL;
}

int mapi_props_take(mapi_props *l, mapi_prop *p)
{
    mapi_prop *old = mapi_props_find(l, p->tag);
    if (old) {
        mapi_prop_clear(old);
        *old = *p;
        memset(p, 0, sizeof *p);
        return 0;
    }
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 16;
        mapi_prop *np = realloc(l->p, (size_t)cap * sizeof *np);
        if (!np) {
            mapi_prop_clear(p);
            return -1;
        }
        l->p = np;
        l->cap = cap;
    }
    l->p[l->n++] = *p;
    memset(p, 0, sizeof *p);
    return 0;
}

int mapi_props_put(mapi_props *l, const mapi_prop *p)
{
    mapi_prop c;
    if (mapi_prop_copy(&c, p) != 0)
        return -1;
    return mapi_props_take(l, &c);
}

int mapi_props_remove(mapi_props *l, uint32_t tag)
{
    mapi_prop *p = mapi_props_find(l, tag);
    if (!p)
        return -1;
    mapi_prop_clear(p);
    *p = l->p[--l->n];
    return 0;
}

int mapi_props_copy(mapi_props *dst, const mapi_props *src)
{
    for (uint32_t i = 0; i < src->n; i++)
        if (mapi_props_put(dst, &src->p[i]) != 0)
            return -1;
    return 0;
}

int mapi_props_set_long(mapi_props *l, uint32_t tag, int32_t v)
{
    mapi_prop p = { .tag = OP_CHANGE_PROP_TYPE(tag, OP_PT_LONG) };
    if (OP_PROP_TYPE(tag) == OP_PT_I2 || OP_PROP_TYPE(tag) == OP_PT_ERROR)
        p.tag = tag;
    p.v.l = v;
    return mapi_props_take(l, &p);
}

int mapi_props_set_bool(mapi_props *l, uint32_t tag, int v)
{
    mapi_prop p = { .tag = OP_CHANGE_PROP_TYPE(tag, OP_PT_BOOLEAN) };
    p.v.l = v ? 1 : 0;
    return mapi_props_take(l, &p);
}

int mapi_props_set_i8(mapi_props *l, uint32_t tag, int64_t v)
{
    mapi_prop p = { .tag = tag };
    p.v.ll = v;
    return mapi_props_take(l, &p);
}

int mapi_props_set_double(mapi_props *l, uint32_t tag, double v)
{
    mapi_prop p = { .tag = tag };
    p.v.d = v;
    return mapi_props_take(l, &p);
}

int mapi_props_set_strn(mapi_props *l, uint32_t tag, const char *utf8, size_t len)
{
    mapi_prop p = { .tag = OP_CHANGE_PROP_TYPE(tag, OP_PT_UNICODE) };
    if (len > UINT32_MAX - 1)
        return -1;
    p.v.bin.data = malloc(len + 1);
    if (!p.v.bin.data)
        return -1;
    memcpy(p.v.bin.data, utf8, len);
    p.v.bin.data[len] = 0;
    p.v.bin.len = (uint32_t)len;
    return mapi_props_take(l, &p);
}

int mapi_props_set_str(mapi_props *l, uint32_t tag, const char *utf8)
{
    if (!utf8)
        return 0;
    return mapi_props_set_strn(l, tag, utf8, strlen(utf8));
}

int mapi_props_set_bin(mapi_props *l, uint32_t tag, const void *data, size_t len)
{
    mapi_prop p = { .tag = tag };
    if (len > UINT32_MAX - 1)
        return -1;
    p.v.bin.data = malloc(len + 1);
    if (!p.v.bin.data)
        return -1;
    if (len)
        memcpy(p.v.bin.data, data, len);
    p.v.bin.data[len] = 0;
    p.v.bin.len = (uint32_t)len;
    return mapi_props_take(l, &p);
}

static int set_mv_bytes(mapi_props *l, uint32_t tag, const void *const *v, const uint32_t *lens, uint32_t n)
{
    mapi_prop p = { .tag = tag };
    p.mv = calloc(n ? n : 1, sizeof(mapi_val));
    if (!p.mv)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len = lens ? lens[i] : (uint32_t)strlen(v[i]);
        p.mv[i].bin.data = malloc((size_t)len + 1);
        if (!p.mv[i].bin.data) {
            p.count = i;
            mapi_prop_clear(&p);
            return -1;
        }
        memcpy(p.mv[i].bin.data, v[i], len);
        p.mv[i].bin.data[len] = 0;
        p.mv[i].bin.len = len;
        p.count = i + 1;
    }
    return mapi_props_take(l, &p);
}

int mapi_props_set_mvstr(mapi_props *l, uint32_t tag, const char *const *v, uint32_t n)
{
    return set_mv_bytes(l, OP_CHANGE_PROP_TYPE(tag, OP_MV_FLAG | OP_PT_UNICODE), (const void *const *)v, NULL, n);
}

int mapi_props_set_mvbin(mapi_props *l, uint32_t tag, const void *const *v, const uint32_t *lens, uint32_t n)
{
    return set_mv_bytes(l, OP_CHANGE_PROP_TYPE(tag, OP_MV_FLAG | OP_PT_BINARY), v, lens, n);
}

int32_t mapi_props_long(const mapi_props *l, uint32_t tag, int32_t def)
{
    const mapi_prop *p = mapi_props_find(l, tag);
    if (!p)
        return def;
    uint32_t t = OP_PROP_TYPE(p->tag);
    return (t == OP_PT_LONG || t == OP_PT_I2 || t == OP_PT_BOOLEAN) ? p->v.l : def;
}

int64_t mapi_props_i8(const mapi_props *l, uint32_t tag, int64_t def)
{
    const mapi_prop *p = mapi_props_find(l, tag);
    if (!p)
        return def;
    uint32_t t = OP_PROP_TYPE(p->tag);
    return (t == OP_PT_I8 || t == OP_PT_SYSTIME || t == OP_PT_CURRENCY) ? p->v.ll : def;
}

const char *mapi_props_str(const mapi_props *l, uint32_t tag)
{
    const mapi_prop *p = mapi_props_find(l, tag);
    if (!p)
        return NULL;
    uint32_t t = OP_PROP_TYPE(p->tag);
    return (t == OP_PT_UNICODE || t == OP_PT_STRING8) ? (const char *)p->v.bin.data : NULL;
}

const mapi_val *mapi_props_bin(const mapi_props *l, uint32_t tag)
{
    const mapi_prop *p = mapi_props_find(l, tag);
    if (!p || OP_PROP_TYPE(p->tag) != OP_PROP_TYPE(tag))
        return NULL;
    return &p->v;
}

static int fold(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

int mapi_val_cmp(uint32_t type, const mapi_val *a, const mapi_val *b)
{
    switch (type & ~OP_MV_FLAG) {
    case OP_PT_I2: case OP_PT_LONG: case OP_PT_BOOLEAN: case OP_PT_ERROR:
        return (a->l > b->l) - (a->l < b->l);
    case OP_PT_I8: case OP_PT_SYSTIME: case OP_PT_CURRENCY:
        return (a->ll > b->ll) - (a->ll < b->ll);
    case OP_PT_R4: case OP_PT_DOUBLE: case OP_PT_APPTIME:
        return (a->d > b->d) - (a->d < b->d);
    case OP_PT_STRING8: case OP_PT_UNICODE: {
        uint32_t n = a->bin.len < b->bin.len ? a->bin.len : b->bin.len;
        for (uint32_t i = 0; i < n; i++) {
            int ca = fold(a->bin.data[i]), cb = fold(b->bin.data[i]);
            if (ca != cb)
                return ca < cb ? -1 : 1;
        }
        return (a->bin.len > b->bin.len) - (a->bin.len < b->bin.len);
    }
    case OP_PT_BINARY: case OP_PT_CLSID: {
        uint32_t n = a->bin.len < b->bin.len ? a->bin.len : b->bin.len;
        int c = n ? memcmp(a->bin.data, b->bin.data, n) : 0;
        if (c)
            return c < 0 ? -1 : 1;
        return (a->bin.len > b->bin.len) - (a->bin.len < b->bin.len);
    }
    default:
        return 0;
    }
}

/* 1601-01-01 to 1970-01-01 in 100 ns ticks. */
#define FT_EPOCH_DIFF 116444736000000000LL

int64_t mapi_filetime_from_ms(int64_t ms)
{
    return ms * 10000 + FT_EPOCH_DIFF;
}

int64_t mapi_filetime_to_ms(int64_t ft)
{
    return (ft - FT_EPOCH_DIFF) / 10000;
}

/* ---- byte buffer ---- */

void mapi_buf_init(mapi_buf *b)
{
    memset(b, 0, sizeof *b);
}

void mapi_buf_free(mapi_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

static int buf_reserve(mapi_buf *b, size_t n)
{
    if (b->oom)
        return -1;
    if (n > SIZE_MAX / 2 - b->len) {
        b->oom = 1;
        return -1;
    }
    if (b->len + n + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (!d) {
        b->oom = 1;
        return -1;
    }
    b->data = d;
    b->cap = cap;
    return 0;
}

void mapi_buf_add(mapi_buf *b, const void *p, size_t n)
{
    if (n == 0 || buf_reserve(b, n) != 0)
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void mapi_buf_addc(mapi_buf *b, uint8_t c)
{
    mapi_buf_add(b, &c, 1);
}

void mapi_buf_adds(mapi_buf *b, const char *s)
{
    mapi_buf_add(b, s, strlen(s));
}

void mapi_buf_printf(mapi_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0 || buf_reserve(b, (size_t)n + 1) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *mapi_buf_steal(mapi_buf *b, size_t *len)
{
    if (buf_reserve(b, 1) != 0) {
        mapi_buf_free(b);
        return NULL;
    }
    b->data[b->len] = 0;
    char *s = (char *)b->data;
    if (len)
        *len = b->len;
    memset(b, 0, sizeof *b);
    return s;
}
