/* frontends/mapi/mapi_restrict.c — restriction trees: free, copy, evaluate;
 * sort orders: copy, compare. */
#include "mapi_restrict.h"

#include <stdlib.h>
#include <string.h>

void mapi_res_clear(mapi_res *r)
{
    if (!r)
        return;
    switch (r->rt) {
    case OP_RES_AND:
    case OP_RES_OR:
        for (uint32_t i = 0; i < r->u.sub.n; i++)
            mapi_res_clear(&r->u.sub.r[i]);
        free(r->u.sub.r);
        break;
    case OP_RES_NOT:
        mapi_res_free(r->u.not_);
        break;
    case OP_RES_CONTENT:
        mapi_prop_clear(&r->u.content.prop);
        break;
    case OP_RES_PROPERTY:
        mapi_prop_clear(&r->u.property.prop);
        break;
    case OP_RES_SUBRESTRICTION:
        mapi_res_free(r->u.subres.r);
        break;
    case OP_RES_COMMENT:
        mapi_props_free(&r->u.comment.props);
        mapi_res_free(r->u.comment.r);
        break;
    default:
        break;
    }
    memset(r, 0, sizeof *r);
}

void mapi_res_free(mapi_res *r)
{
    if (!r)
        return;
    mapi_res_clear(r);
    free(r);
}

static int res_copy(mapi_res *d, const mapi_res *s)
{
    memset(d, 0, sizeof *d);
    d->rt = s->rt;
    switch (s->rt) {
    case OP_RES_AND:
    case OP_RES_OR:
        d->u.sub.r = calloc(s->u.sub.n ? s->u.sub.n : 1, sizeof(mapi_res));
        if (!d->u.sub.r)
            return -1;
        for (uint32_t i = 0; i < s->u.sub.n; i++) {
            d->u.sub.n = i + 1;
            if (res_copy(&d->u.sub.r[i], &s->u.sub.r[i]) != 0)
                return -1;
        }
        return 0;
    case OP_RES_NOT:
        return (d->u.not_ = mapi_res_dup(s->u.not_)) ? 0 : -1;
    case OP_RES_CONTENT:
        d->u.content.fuzzy = s->u.content.fuzzy;
        d->u.content.tag = s->u.content.tag;
        return mapi_prop_copy(&d->u.content.prop, &s->u.content.prop);
    case OP_RES_PROPERTY:
        d->u.property.relop = s->u.property.relop;
        d->u.property.tag = s->u.property.tag;
        return mapi_prop_copy(&d->u.property.prop, &s->u.property.prop);
    case OP_RES_SUBRESTRICTION:
        d->u.subres.subobject = s->u.subres.subobject;
        return (d->u.subres.r = mapi_res_dup(s->u.subres.r)) ? 0 : -1;
    case OP_RES_COMMENT:
        if (mapi_props_copy(&d->u.comment.props, &s->u.comment.props) != 0)
            return -1;
        if (s->u.comment.r && !(d->u.comment.r = mapi_res_dup(s->u.comment.r)))
            return -1;
        return 0;
    default:
        d->u = s->u;
        return 0;
    }
}

mapi_res *mapi_res_dup(const mapi_res *r)
{
    if (!r)
        return NULL;
    mapi_res *d = malloc(sizeof *d);
    if (!d)
        return NULL;
    if (res_copy(d, r) != 0) {
        mapi_res_free(d);
        return NULL;
    }
    return d;
}

static int relop_ok(uint32_t relop, int c)
{
    switch (relop) {
    case OP_RELOP_LT: return c < 0;
    case OP_RELOP_LE: return c <= 0;
    case OP_RELOP_GT: return c > 0;
    case OP_RELOP_GE: return c >= 0;
    case OP_RELOP_EQ: return c == 0;
    case OP_RELOP_NE: return c != 0;
    default: return 0; /* RELOP_RE (regular expressions) is not supported */
    }
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static int bytes_eq(const uint8_t *a, const uint8_t *b, uint32_t n, int icase)
{
    if (!icase)
        return memcmp(a, b, n) == 0;
    for (uint32_t i = 0; i < n; i++)
        if (lower(a[i]) != lower(b[i]))
            return 0;
    return 1;
}

static int content_match(uint32_t fuzzy, const mapi_val *hay, const mapi_val *needle, int is_string)
{
    int icase = is_string && (fuzzy & (OP_FL_IGNORECASE | OP_FL_LOOSE)) != 0;
    uint32_t hl = hay->bin.len, nl = needle->bin.len;
    switch (fuzzy & 0xFFFFu) {
    case OP_FL_FULLSTRING:
        return hl == nl && bytes_eq(hay->bin.data, needle->bin.data, nl, icase);
    case OP_FL_PREFIX:
        return hl >= nl && bytes_eq(hay->bin.data, needle->bin.data, nl, icase);
    case OP_FL_SUBSTRING:
        if (nl == 0)
            return 1;
        for (uint32_t i = 0; i + nl <= hl; i++)
            if (bytes_eq(hay->bin.data + i, needle->bin.data, nl, icase))
                return 1;
        return 0;
    default:
        return 0;
    }
}

static int is_string_type(uint32_t t)
{
    t &= ~OP_MV_FLAG;
    return t == OP_PT_UNICODE || t == OP_PT_STRING8;
}

/* Base types compare when equal, or both strings. */
static int same_base(uint32_t a, uint32_t b)
{
    a &= ~(OP_MV_FLAG | OP_MV_INSTANCE);
    b &= ~(OP_MV_FLAG | OP_MV_INSTANCE);
    return a == b || (is_string_type(a) && is_string_type(b));
}

/* Applies fn to each value of row property p (one for a single value). */
static int any_value(const mapi_prop *p, int (*fn)(const void *ctx, uint32_t base, const mapi_val *v), const void *ctx)
{
    uint32_t type = OP_PROP_TYPE(p->tag);
    if (type & OP_MV_FLAG) {
        for (uint32_t i = 0; i < p->count; i++)
            if (fn(ctx, type & ~OP_MV_FLAG, &p->mv[i]))
                return 1;
        return 0;
    }
    return fn(ctx, type, &p->v);
}

static int content_fn(const void *ctx, uint32_t base, const mapi_val *v)
{
    const mapi_res *r = ctx;
    const mapi_prop *np = &r->u.content.prop;
    if (!mapi_type_is_bytes(base) || !same_base(base, OP_PROP_TYPE(np->tag)))
        return 0;
    return content_match(r->u.content.fuzzy, v, &np->v, is_string_type(base));
}

static int property_fn(const void *ctx, uint32_t base, const mapi_val *v)
{
    const mapi_res *r = ctx;
    const mapi_prop *np = &r->u.property.prop;
    uint32_t nt = OP_PROP_TYPE(np->tag);
    if (!same_base(base, nt) || (nt & OP_MV_FLAG))
        return 0;
    int c;
    if (is_string_type(base) && (r->u.property.relop == OP_RELOP_EQ || r->u.property.relop == OP_RELOP_NE))
        c = !(v->bin.len == np->v.bin.len && bytes_eq(v->bin.data, np->v.bin.data, v->bin.len, 0));
    else
        c = mapi_val_cmp(base, v, &np->v);
    return relop_ok(r->u.property.relop, c);
}

static uint64_t prop_size(const mapi_prop *p)
{
    uint32_t type = OP_PROP_TYPE(p->tag);
    uint32_t base = type & ~OP_MV_FLAG;
    if (type & OP_MV_FLAG) {
        uint64_t n = 0;
        for (uint32_t i = 0; i < p->count; i++)
            n += mapi_type_is_bytes(base) ? p->mv[i].bin.len : 8;
        return n;
    }
    if (mapi_type_is_bytes(base))
        return p->v.bin.len + (is_string_type(base) ? 1u : 0u);
    switch (base) {
    case OP_PT_I2: return 2;
    case OP_PT_LONG: case OP_PT_R4: case OP_PT_ERROR: return 4;
    case OP_PT_BOOLEAN: return 2;
    default: return 8;
    }
}

static int eval_depth(const mapi_res *r, const mapi_props *row, int depth)
{
    if (!r || depth > MAPI_RES_MAX_DEPTH)
        return 0;
    const mapi_prop *p;
    switch (r->rt) {
    case OP_RES_AND:
        for (uint32_t i = 0; i < r->u.sub.n; i++)
            if (!eval_depth(&r->u.sub.r[i], row, depth + 1))
                return 0;
        return 1;
    case OP_RES_OR:
        for (uint32_t i = 0; i < r->u.sub.n; i++)
            if (eval_depth(&r->u.sub.r[i], row, depth + 1))
                return 1;
        return 0;
    case OP_RES_NOT:
        return !eval_depth(r->u.not_, row, depth + 1);
    case OP_RES_CONTENT:
        p = mapi_props_find(row, r->u.content.tag);
        return p && OP_PROP_TYPE(p->tag) != OP_PT_ERROR && any_value(p, content_fn, r);
    case OP_RES_PROPERTY:
        p = mapi_props_find(row, r->u.property.tag);
        return p && OP_PROP_TYPE(p->tag) != OP_PT_ERROR && any_value(p, property_fn, r);
    case OP_RES_COMPAREPROPS: {
        const mapi_prop *a = mapi_props_find(row, r->u.compare.tag1);
        const mapi_prop *b = mapi_props_find(row, r->u.compare.tag2);
        if (!a || !b || (OP_PROP_TYPE(a->tag) & OP_MV_FLAG) || !same_base(OP_PROP_TYPE(a->tag), OP_PROP_TYPE(b->tag)) ||
            OP_PROP_TYPE(a->tag) == OP_PT_ERROR)
            return 0;
        return relop_ok(r->u.compare.relop, mapi_val_cmp(OP_PROP_TYPE(a->tag), &a->v, &b->v));
    }
    case OP_RES_BITMASK:
        p = mapi_props_find(row, r->u.bitmask.tag);
        if (!p || (OP_PROP_TYPE(p->tag) != OP_PT_LONG && OP_PROP_TYPE(p->tag) != OP_PT_I2))
            return 0;
        if (r->u.bitmask.relop == OP_BMR_EQZ)
            return ((uint32_t)p->v.l & r->u.bitmask.mask) == 0;
        return ((uint32_t)p->v.l & r->u.bitmask.mask) != 0;
    case OP_RES_SIZE:
        p = mapi_props_find(row, r->u.size.tag);
        if (!p || OP_PROP_TYPE(p->tag) == OP_PT_ERROR)
            return 0;
        {
            uint64_t s = prop_size(p);
            int c = (s > r->u.size.size) - (s < r->u.size.size);
            return relop_ok(r->u.size.relop, c);
        }
    case OP_RES_EXIST:
        p = mapi_props_find(row, r->u.exist.tag);
        return p && OP_PROP_TYPE(p->tag) != OP_PT_ERROR;
    case OP_RES_SUBRESTRICTION:
        /* Rows of contents tables carry no recipient or attachment rows. */
        return 0;
    case OP_RES_COMMENT:
        return r->u.comment.r ? eval_depth(r->u.comment.r, row, depth + 1) : 1;
    default:
        return 0;
    }
}

int mapi_res_eval(const mapi_res *r, const mapi_props *row)
{
    return eval_depth(r, row, 0);
}

void mapi_sort_clear(mapi_sort *s)
{
    free(s->keys);
    memset(s, 0, sizeof *s);
}

int mapi_sort_copy(mapi_sort *dst, const mapi_sort *src)
{
    *dst = *src;
    dst->keys = NULL;
    if (src->n) {
        dst->keys = malloc(src->n * sizeof *dst->keys);
        if (!dst->keys) {
            dst->n = 0;
            return -1;
        }
        memcpy(dst->keys, src->keys, src->n * sizeof *dst->keys);
    }
    return 0;
}

int mapi_sort_cmp_found(const mapi_sort *s, const mapi_prop *const *ka, const mapi_prop *const *kb)
{
    for (uint32_t i = 0; i < s->n; i++) {
        const mapi_prop *pa = ka[i];
        const mapi_prop *pb = kb[i];
        if (pa && OP_PROP_TYPE(pa->tag) == OP_PT_ERROR)
            pa = NULL;
        if (pb && OP_PROP_TYPE(pb->tag) == OP_PT_ERROR)
            pb = NULL;
        int c;
        if (!pa || !pb) {
            c = (pa == NULL) - (pb == NULL);
        } else if ((OP_PROP_TYPE(pa->tag) & OP_MV_FLAG) || (OP_PROP_TYPE(pb->tag) & OP_MV_FLAG) ||
                   !same_base(OP_PROP_TYPE(pa->tag), OP_PROP_TYPE(pb->tag))) {
            c = 0;
        } else {
            c = mapi_val_cmp(OP_PROP_TYPE(pa->tag), &pa->v, &pb->v);
            if (s->keys[i].order & OP_TABLE_SORT_DESCEND)
                c = -c;
        }
        if (c)
            return c;
    }
    return 0;
}

int mapi_sort_cmp(const mapi_sort *s, const mapi_props *a, const mapi_props *b)
{
    for (uint32_t i = 0; i < s->n; i++) {
        const mapi_prop *pa = mapi_props_find(a, s->keys[i].tag);
        const mapi_prop *pb = mapi_props_find(b, s->keys[i].tag);
        mapi_sort one = { 1, 0, 0, &s->keys[i] };
        int c = mapi_sort_cmp_found(&one, &pa, &pb);
        if (c)
            return c;
    }
    return 0;
}
