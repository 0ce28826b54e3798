/* frontends/mapi/mapi_wire.c — encoding and decoding of the wire protocol. */
#include "mapi_wire.h"

#include <stdlib.h>
#include <string.h>

/* ---- writer ---- */

void mapi_w_u8(mapi_buf *b, uint8_t v)
{
    mapi_buf_addc(b, v);
}

void mapi_w_u16(mapi_buf *b, uint16_t v)
{
    uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
    mapi_buf_add(b, x, 2);
}

void mapi_w_u32(mapi_buf *b, uint32_t v)
{
    uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    mapi_buf_add(b, x, 4);
}

void mapi_w_u64(mapi_buf *b, uint64_t v)
{
    mapi_w_u32(b, (uint32_t)v);
    mapi_w_u32(b, (uint32_t)(v >> 32));
}

void mapi_w_bin(mapi_buf *b, const void *p, uint32_t len)
{
    mapi_w_u32(b, len);
    mapi_buf_add(b, p, len);
}

void mapi_w_str(mapi_buf *b, const char *s)
{
    mapi_w_bin(b, s, s ? (uint32_t)strlen(s) : 0);
}

static void w_val(mapi_buf *b, uint32_t base, const mapi_val *v)
{
    switch (base) {
    case OP_PT_I2: case OP_PT_LONG: case OP_PT_BOOLEAN: case OP_PT_ERROR:
        mapi_w_u32(b, (uint32_t)v->l);
        break;
    case OP_PT_I8: case OP_PT_SYSTIME: case OP_PT_CURRENCY:
        mapi_w_u64(b, (uint64_t)v->ll);
        break;
    case OP_PT_R4: case OP_PT_DOUBLE: case OP_PT_APPTIME: {
        uint64_t bits;
        memcpy(&bits, &v->d, 8);
        mapi_w_u64(b, bits);
        break;
    }
    default:
        if (mapi_type_is_bytes(base))
            mapi_w_bin(b, v->bin.data, v->bin.len);
        break;
    }
}

void mapi_w_prop(mapi_buf *b, const mapi_prop *p)
{
    uint32_t type = OP_PROP_TYPE(p->tag);
    mapi_w_u32(b, p->tag);
    if (type & OP_MV_FLAG) {
        mapi_w_u32(b, p->count);
        for (uint32_t i = 0; i < p->count; i++)
            w_val(b, type & ~OP_MV_FLAG, &p->mv[i]);
    } else {
        w_val(b, type, &p->v);
    }
}

void mapi_w_props(mapi_buf *b, const mapi_props *l)
{
    mapi_w_u32(b, l->n);
    for (uint32_t i = 0; i < l->n; i++)
        mapi_w_prop(b, &l->p[i]);
}

void mapi_w_tags(mapi_buf *b, const uint32_t *tags, uint32_t n)
{
    mapi_w_u32(b, n);
    for (uint32_t i = 0; i < n; i++)
        mapi_w_u32(b, tags[i]);
}

void mapi_w_res(mapi_buf *b, const mapi_res *r)
{
    mapi_w_u32(b, r->rt);
    switch (r->rt) {
    case OP_RES_AND:
    case OP_RES_OR:
        mapi_w_u32(b, r->u.sub.n);
        for (uint32_t i = 0; i < r->u.sub.n; i++)
            mapi_w_res(b, &r->u.sub.r[i]);
        break;
    case OP_RES_NOT:
        mapi_w_res(b, r->u.not_);
        break;
    case OP_RES_CONTENT:
        mapi_w_u32(b, r->u.content.fuzzy);
        mapi_w_u32(b, r->u.content.tag);
        mapi_w_prop(b, &r->u.content.prop);
        break;
    case OP_RES_PROPERTY:
        mapi_w_u32(b, r->u.property.relop);
        mapi_w_u32(b, r->u.property.tag);
        mapi_w_prop(b, &r->u.property.prop);
        break;
    case OP_RES_COMPAREPROPS:
        mapi_w_u32(b, r->u.compare.relop);
        mapi_w_u32(b, r->u.compare.tag1);
        mapi_w_u32(b, r->u.compare.tag2);
        break;
    case OP_RES_BITMASK:
        mapi_w_u32(b, r->u.bitmask.relop);
        mapi_w_u32(b, r->u.bitmask.tag);
        mapi_w_u32(b, r->u.bitmask.mask);
        break;
    case OP_RES_SIZE:
        mapi_w_u32(b, r->u.size.relop);
        mapi_w_u32(b, r->u.size.tag);
        mapi_w_u32(b, r->u.size.size);
        break;
    case OP_RES_EXIST:
        mapi_w_u32(b, r->u.exist.tag);
        break;
    case OP_RES_SUBRESTRICTION:
        mapi_w_u32(b, r->u.subres.subobject);
        mapi_w_res(b, r->u.subres.r);
        break;
    case OP_RES_COMMENT:
        mapi_w_props(b, &r->u.comment.props);
        mapi_w_u8(b, r->u.comment.r ? 1 : 0);
        if (r->u.comment.r)
            mapi_w_res(b, r->u.comment.r);
        break;
    default:
        break;
    }
}

void mapi_w_sort(mapi_buf *b, const mapi_sort *s)
{
    mapi_w_u32(b, s->n);
    mapi_w_u32(b, s->categories);
    mapi_w_u32(b, s->expanded);
    for (uint32_t i = 0; i < s->n; i++) {
        mapi_w_u32(b, s->keys[i].tag);
        mapi_w_u32(b, s->keys[i].order);
    }
}

void mapi_w_name(mapi_buf *b, const mapi_name *n)
{
    mapi_buf_add(b, n->guid, 16);
    mapi_w_u32(b, n->kind);
    if (n->kind == MAPI_MNID_ID)
        mapi_w_u32(b, n->lid);
    else
        mapi_w_str(b, n->name);
}

size_t mapi_w_begin(mapi_buf *b, uint16_t op, uint16_t flags, uint32_t id)
{
    size_t start = b->len;
    mapi_w_u32(b, 0);
    mapi_w_u16(b, op);
    mapi_w_u16(b, flags);
    mapi_w_u32(b, id);
    return start;
}

void mapi_w_end(mapi_buf *b, size_t start)
{
    if (b->oom || b->len < start + 4)
        return;
    uint32_t len = (uint32_t)(b->len - start - 4);
    b->data[start] = (uint8_t)len;
    b->data[start + 1] = (uint8_t)(len >> 8);
    b->data[start + 2] = (uint8_t)(len >> 16);
    b->data[start + 3] = (uint8_t)(len >> 24);
}

/* ---- reader ---- */

void mapi_rd_init(mapi_rd *r, const void *p, size_t len)
{
    r->p = p;
    r->left = len;
    r->err = 0;
}

static const uint8_t *take(mapi_rd *r, size_t n)
{
    if (r->err || r->left < n) {
        r->err = 1;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

uint8_t mapi_r_u8(mapi_rd *r)
{
    const uint8_t *p = take(r, 1);
    return p ? p[0] : 0;
}

uint16_t mapi_r_u16(mapi_rd *r)
{
    const uint8_t *p = take(r, 2);
    return p ? (uint16_t)(p[0] | (p[1] << 8)) : 0;
}

uint32_t mapi_r_u32(mapi_rd *r)
{
    const uint8_t *p = take(r, 4);
    return p ? (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24) : 0;
}

uint64_t mapi_r_u64(mapi_rd *r)
{
    uint64_t lo = mapi_r_u32(r);
    uint64_t hi = mapi_r_u32(r);
    return lo | (hi << 32);
}

const uint8_t *mapi_r_bin(mapi_rd *r, uint32_t *len)
{
    uint32_t n = mapi_r_u32(r);
    const uint8_t *p = take(r, n);
    *len = p ? n : 0;
    return p;
}

char *mapi_r_str(mapi_rd *r)
{
    uint32_t n;
    const uint8_t *p = mapi_r_bin(r, &n);
    if (r->err)
        return NULL;
    if (n && memchr(p, 0, n)) {
        r->err = 1;
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        r->err = 1;
        return NULL;
    }
    if (n)
        memcpy(s, p, n);
    s[n] = 0;
    return s;
}

/* Smallest encoding of one value of a base type (bounds counts). */
static size_t min_size(uint32_t base)
{
    switch (base) {
    case OP_PT_I8: case OP_PT_SYSTIME: case OP_PT_CURRENCY:
    case OP_PT_R4: case OP_PT_DOUBLE: case OP_PT_APPTIME:
        return 8;
    default:
        return 4;
    }
}

static int r_val(mapi_rd *r, uint32_t base, mapi_val *v)
{
    memset(v, 0, sizeof *v);
    switch (base) {
    case OP_PT_I2: case OP_PT_LONG: case OP_PT_ERROR:
        v->l = (int32_t)mapi_r_u32(r);
        break;
    case OP_PT_BOOLEAN:
        v->l = mapi_r_u32(r) ? 1 : 0;
        break;
    case OP_PT_I8: case OP_PT_SYSTIME: case OP_PT_CURRENCY:
        v->ll = (int64_t)mapi_r_u64(r);
        break;
    case OP_PT_R4: case OP_PT_DOUBLE: case OP_PT_APPTIME: {
        uint64_t bits = mapi_r_u64(r);
        memcpy(&v->d, &bits, 8);
        break;
    }
    default: {
        uint32_t n;
        const uint8_t *p = mapi_r_bin(r, &n);
        if (r->err)
            return -1;
        if (base == OP_PT_CLSID && n != 16) {
            r->err = 1;
            return -1;
        }
        if ((base == OP_PT_UNICODE || base == OP_PT_STRING8) && n && memchr(p, 0, n)) {
            r->err = 1;
            return -1;
        }
        v->bin.data = malloc((size_t)n + 1);
        if (!v->bin.data) {
            r->err = 1;
            return -1;
        }
        if (n)
            memcpy(v->bin.data, p, n);
        v->bin.data[n] = 0;
        v->bin.len = n;
        break;
    }
    }
    return r->err ? -1 : 0;
}

int mapi_r_prop(mapi_rd *r, mapi_prop *p)
{
    memset(p, 0, sizeof *p);
    uint32_t tag = mapi_r_u32(r);
    uint32_t type = OP_PROP_TYPE(tag);
    if (r->err || !mapi_type_valid(type) || type == OP_PT_OBJECT) {
        r->err = 1;
        return -1;
    }
    p->tag = tag;
    if (type & OP_MV_FLAG) {
        uint32_t base = type & ~OP_MV_FLAG;
        uint32_t n = mapi_r_u32(r);
        if (r->err || (size_t)n > r->left / min_size(base)) {
            r->err = 1;
            p->tag = 0;
            return -1;
        }
        p->mv = calloc(n ? n : 1, sizeof(mapi_val));
        if (!p->mv) {
            r->err = 1;
            p->tag = 0;
            return -1;
        }
        for (uint32_t i = 0; i < n; i++) {
            if (r_val(r, base, &p->mv[i]) != 0) {
                mapi_prop_clear(p);
                return -1;
            }
            p->count = i + 1;
        }
        return 0;
    }
    if (type == OP_PT_NULL)
        return 0;
    if (r_val(r, type, &p->v) != 0) {
        p->tag = 0;
        return -1;
    }
    return 0;
}

int mapi_r_props(mapi_rd *r, mapi_props *l)
{
    uint32_t n = mapi_r_u32(r);
    if (r->err || (size_t)n > r->left / 4) {
        r->err = 1;
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        mapi_prop p;
        if (mapi_r_prop(r, &p) != 0 || mapi_props_take(l, &p) != 0) {
            r->err = 1;
            return -1;
        }
    }
    return 0;
}

uint32_t *mapi_r_tags(mapi_rd *r, uint32_t *n)
{
    *n = 0;
    uint32_t c = mapi_r_u32(r);
    if (r->err || (size_t)c > r->left / 4) {
        r->err = 1;
        return NULL;
    }
    if (c == 0)
        return NULL;
    uint32_t *t = malloc((size_t)c * 4);
    if (!t) {
        r->err = 1;
        return NULL;
    }
    for (uint32_t i = 0; i < c; i++)
        t[i] = mapi_r_u32(r);
    *n = c;
    return t;
}

static int r_res(mapi_rd *r, mapi_res *x, int depth);

static mapi_res *r_res_new(mapi_rd *r, int depth)
{
    mapi_res *x = calloc(1, sizeof *x);
    if (!x) {
        r->err = 1;
        return NULL;
    }
    if (r_res(r, x, depth) != 0) {
        mapi_res_free(x);
        return NULL;
    }
    return x;
}

static int r_res(mapi_rd *r, mapi_res *x, int depth)
{
    memset(x, 0, sizeof *x);
    if (depth > MAPI_RES_MAX_DEPTH) {
        r->err = 1;
        return -1;
    }
    x->rt = mapi_r_u32(r);
    if (r->err)
        return -1;
    switch (x->rt) {
    case OP_RES_AND:
    case OP_RES_OR: {
        uint32_t n = mapi_r_u32(r);
        if (r->err || (size_t)n > r->left / 4) {
            r->err = 1;
            return -1;
        }
        x->u.sub.r = calloc(n ? n : 1, sizeof(mapi_res));
        if (!x->u.sub.r) {
            r->err = 1;
            return -1;
        }
        for (uint32_t i = 0; i < n; i++) {
            x->u.sub.n = i + 1;
            if (r_res(r, &x->u.sub.r[i], depth + 1) != 0)
                return -1;
        }
        return 0;
    }
    case OP_RES_NOT:
        return (x->u.not_ = r_res_new(r, depth + 1)) ? 0 : -1;
    case OP_RES_CONTENT:
        x->u.content.fuzzy = mapi_r_u32(r);
        x->u.content.tag = mapi_r_u32(r);
        return mapi_r_prop(r, &x->u.content.prop);
    case OP_RES_PROPERTY:
        x->u.property.relop = mapi_r_u32(r);
        x->u.property.tag = mapi_r_u32(r);
        return mapi_r_prop(r, &x->u.property.prop);
    case OP_RES_COMPAREPROPS:
        x->u.compare.relop = mapi_r_u32(r);
        x->u.compare.tag1 = mapi_r_u32(r);
        x->u.compare.tag2 = mapi_r_u32(r);
        break;
    case OP_RES_BITMASK:
        x->u.bitmask.relop = mapi_r_u32(r);
        x->u.bitmask.tag = mapi_r_u32(r);
        x->u.bitmask.mask = mapi_r_u32(r);
        break;
    case OP_RES_SIZE:
        x->u.size.relop = mapi_r_u32(r);
        x->u.size.tag = mapi_r_u32(r);
        x->u.size.size = mapi_r_u32(r);
        break;
    case OP_RES_EXIST:
        x->u.exist.tag = mapi_r_u32(r);
        break;
    case OP_RES_SUBRESTRICTION:
        x->u.subres.subobject = mapi_r_u32(r);
        return (x->u.subres.r = r_res_new(r, depth + 1)) ? 0 : -1;
    case OP_RES_COMMENT:
        if (mapi_r_props(r, &x->u.comment.props) != 0)
            return -1;
        if (mapi_r_u8(r))
            return (x->u.comment.r = r_res_new(r, depth + 1)) ? 0 : -1;
        break;
    default:
        x->rt = 0xFFFFFFFFu; /* nothing to free */
        r->err = 1;
        return -1;
    }
    return r->err ? -1 : 0;
}

mapi_res *mapi_r_res(mapi_rd *r)
{
    return r_res_new(r, 0);
}

int mapi_r_sort(mapi_rd *r, mapi_sort *s)
{
    memset(s, 0, sizeof *s);
    uint32_t n = mapi_r_u32(r);
    s->categories = mapi_r_u32(r);
    s->expanded = mapi_r_u32(r);
    if (r->err || (size_t)n > r->left / 8) {
        r->err = 1;
        return -1;
    }
    if (n) {
        s->keys = malloc((size_t)n * sizeof *s->keys);
        if (!s->keys) {
            r->err = 1;
            return -1;
        }
        for (uint32_t i = 0; i < n; i++) {
            s->keys[i].tag = mapi_r_u32(r);
            s->keys[i].order = mapi_r_u32(r);
        }
    }
    s->n = n;
    return r->err ? -1 : 0;
}

int mapi_r_name(mapi_rd *r, mapi_name *n)
{
    memset(n, 0, sizeof *n);
    const uint8_t *g = take(r, 16);
    if (!g)
        return -1;
    memcpy(n->guid, g, 16);
    n->kind = mapi_r_u32(r);
    if (n->kind == MAPI_MNID_ID)
        n->lid = mapi_r_u32(r);
    else if (n->kind == MAPI_MNID_STRING)
        n->name = mapi_r_str(r);
    else
        r->err = 1;
    return r->err ? -1 : 0;
}

void mapi_name_clear(mapi_name *n)
{
    free(n->name);
    memset(n, 0, sizeof *n);
}

int mapi_frame_parse(const uint8_t *buf, size_t len, mapi_frame *f, size_t *used)
{
    if (len < 4)
        return 0;
    uint32_t flen = (uint32_t)buf[0] | ((uint32_t)buf[1] << 8) | ((uint32_t)buf[2] << 16) | ((uint32_t)buf[3] << 24);
    if (flen < MAPI_WIRE_HEADER - 4 || flen > MAPI_WIRE_MAX_FRAME)
        return -1;
    if (len - 4 < flen)
        return 0;
    f->len = flen;
    f->op = (uint16_t)(buf[4] | (buf[5] << 8));
    f->flags = (uint16_t)(buf[6] | (buf[7] << 8));
    f->id = (uint32_t)buf[8] | ((uint32_t)buf[9] << 8) | ((uint32_t)buf[10] << 16) | ((uint32_t)buf[11] << 24);
    f->payload = buf + MAPI_WIRE_HEADER;
    f->payload_len = flen - (MAPI_WIRE_HEADER - 4);
    *used = (size_t)flen + 4;
    return 1;
}

/* ---- requests ---- */

void mapi_req_clear(mapi_req *q)
{
    free(q->str);
    free(q->str2);
    free(q->tags);
    mapi_props_free(&q->props);
    for (uint32_t i = 0; i < q->nrows; i++)
        mapi_props_free(&q->rows[i]);
    free(q->rows);
    mapi_res_free(q->res);
    mapi_sort_clear(&q->sort);
    for (uint32_t i = 0; i < q->nnames; i++)
        mapi_name_clear(&q->names[i]);
    free(q->names);
    free(q->eids);
    memset(q, 0, sizeof *q);
}

static void r_span(mapi_rd *r, mapi_span *s)
{
    s->p = mapi_r_bin(r, &s->len);
}

static void r_eids(mapi_rd *r, mapi_req *q)
{
    uint32_t n = mapi_r_u32(r);
    if (r->err || (size_t)n > r->left / 4) {
        r->err = 1;
        return;
    }
    q->eids = calloc(n ? n : 1, sizeof *q->eids);
    if (!q->eids) {
        r->err = 1;
        return;
    }
    for (uint32_t i = 0; i < n && !r->err; i++)
        r_span(r, &q->eids[i]);
    q->neids = n;
}

static void r_opt_res(mapi_rd *r, mapi_req *q)
{
    if (mapi_r_u8(r))
        q->res = mapi_r_res(r);
}

int mapi_req_decode(uint16_t op, const uint8_t *payload, size_t len, mapi_req *q)
{
    mapi_rd rd, *r = &rd;
    memset(q, 0, sizeof *q);
    q->op = op;
    mapi_rd_init(r, payload, len);
    switch (op) {
    case MAPI_OP_HELLO:
        q->a = mapi_r_u32(r); /* magic */
        q->b = mapi_r_u32(r); /* version */
        r_span(r, &q->bin);   /* secret */
        break;
    case MAPI_OP_PING:
        break;
    case MAPI_OP_OPEN_ENTRY:
        q->flags = mapi_r_u32(r);
        r_span(r, &q->bin);
        break;
    case MAPI_OP_GET_PROPS:
        q->h = mapi_r_u32(r);
        q->flags = mapi_r_u32(r);
        q->tags = mapi_r_tags(r, &q->ntags);
        break;
    case MAPI_OP_GET_PROP_LIST:
    case MAPI_OP_RELEASE:
    case MAPI_OP_TBL_GET_ROW_COUNT:
    case MAPI_OP_TBL_QUERY_POSITION:
    case MAPI_OP_TBL_CREATE_BOOKMARK:
    case MAPI_OP_TBL_ADVISE:
    case MAPI_OP_CREATE_ATTACH:
        q->h = mapi_r_u32(r);
        break;
    case MAPI_OP_SET_PROPS:
        q->h = mapi_r_u32(r);
        mapi_r_props(r, &q->props);
        break;
    case MAPI_OP_DELETE_PROPS:
    case MAPI_OP_TBL_SET_COLUMNS:
        q->h = mapi_r_u32(r);
        q->tags = mapi_r_tags(r, &q->ntags);
        break;
    case MAPI_OP_READ_PROP:
        q->h = mapi_r_u32(r);
        q->a = mapi_r_u32(r); /* tag */
        q->offset = mapi_r_u64(r);
        q->b = mapi_r_u32(r); /* max bytes */
        break;
    case MAPI_OP_WRITE_PROP:
        q->h = mapi_r_u32(r);
        q->a = mapi_r_u32(r); /* tag */
        q->offset = mapi_r_u64(r);
        r_span(r, &q->bin);
        break;
    case MAPI_OP_SAVE_CHANGES:
    case MAPI_OP_TBL_QUERY_COLUMNS:
    case MAPI_OP_CREATE_MESSAGE:
    case MAPI_OP_EMPTY_FOLDER:
    case MAPI_OP_SET_READ_FLAG:
        q->h = mapi_r_u32(r);
        q->flags = mapi_r_u32(r);
        break;
    case MAPI_OP_GET_IDS_FROM_NAMES: {
        q->flags = mapi_r_u32(r);
        uint32_t n = mapi_r_u32(r);
        if (r->err || (size_t)n > r->left / 20) {
            r->err = 1;
            break;
        }
        q->names = calloc(n ? n : 1, sizeof *q->names);
        if (!q->names) {
            r->err = 1;
            break;
        }
        for (uint32_t i = 0; i < n && !r->err; i++) {
            q->nnames = i + 1;
            mapi_r_name(r, &q->names[i]);
        }
        break;
    }
    case MAPI_OP_GET_NAMES_FROM_IDS:
        q->flags = mapi_r_u32(r);
        q->tags = mapi_r_tags(r, &q->ntags);
        break;
    case MAPI_OP_OPEN_TABLE:
        q->h = mapi_r_u32(r);
        q->a = mapi_r_u32(r); /* kind */
        q->flags = mapi_r_u32(r);
        break;
    case MAPI_OP_TBL_QUERY_ROWS:
        q->h = mapi_r_u32(r);
        q->count = (int32_t)mapi_r_u32(r);
        q->flags = mapi_r_u32(r);
        break;
    case MAPI_OP_TBL_SEEK_ROW:
        q->h = mapi_r_u32(r);
        q->a = mapi_r_u32(r); /* bookmark */
        q->count = (int32_t)mapi_r_u32(r);
        break;
    case MAPI_OP_TBL_SEEK_ROW_APPROX:
        q->h = mapi_r_u32(r);
        q->a = mapi_r_u32(r); /* numerator */
        q->b = mapi_r_u32(r); /* denominator */
        break;
    case MAPI_OP_TBL_FREE_BOOKMARK:
    case MAPI_OP_DELETE_ATTACH:
        q->h = mapi_r_u32(r);
        q->a = mapi_r_u32(r);
        break;
    case MAPI_OP_TBL_RESTRICT:
        q->h = mapi_r_u32(r);
        r_opt_res(r, q);
        break;
    case MAPI_OP_TBL_SORT:
        q->h = mapi_r_u32(r);
        mapi_r_sort(r, &q->sort);
        break;
    case MAPI_OP_TBL_FIND_ROW:
        q->h = mapi_r_u32(r);
        r_opt_res(r, q);
        q->a = mapi_r_u32(r); /* bookmark */
        q->flags = mapi_r_u32(r);
        break;
    case MAPI_OP_UNADVISE:
        q->a = mapi_r_u32(r); /* connection */
        break;
    case MAPI_OP_CREATE_FOLDER:
        q->h = mapi_r_u32(r);
        q->flags = mapi_r_u32(r);
        q->a = mapi_r_u32(r); /* folder type */
        q->str = mapi_r_str(r);
        q->str2 = mapi_r_str(r);
        break;
    case MAPI_OP_DELETE_FOLDER:
        q->h = mapi_r_u32(r);
        r_span(r, &q->bin);
        q->flags = mapi_r_u32(r);
        break;
    case MAPI_OP_COPY_MESSAGES:
        q->h = mapi_r_u32(r);
        r_eids(r, q);
        r_span(r, &q->bin);
        q->flags = mapi_r_u32(r);
        break;
    case MAPI_OP_DELETE_MESSAGES:
    case MAPI_OP_SET_READ_FLAGS:
        q->h = mapi_r_u32(r);
        r_eids(r, q);
        q->flags = mapi_r_u32(r);
        break;
    case MAPI_OP_GET_RECEIVE_FOLDER:
        q->str = mapi_r_str(r);
        break;
    case MAPI_OP_GET_MESSAGE_STATUS:
    case MAPI_OP_SET_MESSAGE_STATUS:
        q->h = mapi_r_u32(r);
        r_span(r, &q->bin);
        if (op == MAPI_OP_SET_MESSAGE_STATUS) {
            q->a = mapi_r_u32(r); /* new status */
            q->b = mapi_r_u32(r); /* mask */
        }
        break;
    case MAPI_OP_SET_RECEIVE_FOLDER:
        q->str = mapi_r_str(r); /* message class */
        r_span(r, &q->bin);     /* folder; empty: back to the fixed one */
        break;
    case MAPI_OP_MODIFY_RECIPIENTS: {
        q->h = mapi_r_u32(r);
        q->flags = mapi_r_u32(r);
        uint32_t n = mapi_r_u32(r);
        if (r->err || (size_t)n > r->left / 4) {
            r->err = 1;
            break;
        }
        q->rows = calloc(n ? n : 1, sizeof *q->rows);
        if (!q->rows) {
            r->err = 1;
            break;
        }
        q->nrows = n;
        for (uint32_t i = 0; i < n && !r->err; i++)
            mapi_r_props(r, &q->rows[i]);
        break;
    }
    case MAPI_OP_OPEN_ATTACH:
        q->h = mapi_r_u32(r);
        q->a = mapi_r_u32(r);
        q->flags = mapi_r_u32(r);
        break;
    case MAPI_OP_ADVISE:
        r_span(r, &q->bin);
        q->a = mapi_r_u32(r); /* event mask */
        break;
    case MAPI_OP_SET_SEARCH_CRITERIA:
        q->h = mapi_r_u32(r); /* the search folder */
        r_opt_res(r, q);      /* none: keep the one set before */
        r_eids(r, q);         /* folders searched; none: keep the ones set before */
        q->flags = mapi_r_u32(r);
        break;
    case MAPI_OP_GET_SEARCH_CRITERIA:
        q->h = mapi_r_u32(r);
        q->flags = mapi_r_u32(r);
        break;
    case MAPI_OP_COPY_FOLDER:
        q->h = mapi_r_u32(r);  /* the source folder's parent */
        r_span(r, &q->bin);    /* the folder to copy */
        r_span(r, &q->bin2);   /* the destination folder */
        q->str = mapi_r_str(r); /* new name; empty: keep its name */
        q->flags = mapi_r_u32(r);
        break;
    default:
        r->err = 1;
        break;
    }
    if (r->err || r->left != 0) {
        mapi_req_clear(q);
        return -1;
    }
    return 0;
}
