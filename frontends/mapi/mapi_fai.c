/* frontends/mapi/mapi_fai.c — folder associated information kept in the
 * cache's meta values (layout in mapi_fai.h). */
#include "mapi_fai.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapi_eid.h"

#define FAI_MAGIC 0x31494146u /* "FAI1" */
#define FOLDER_BITS 36

static outpost_status fai_err(int32_t code, const char *message)
{
    outpost_status st = { code, 0, message };
    return st;
}

/* ---- keys and entry ids ---- */

void mapi_fai_key(const mapi_fai_where *w, char out[MAPI_FAI_KEY_MAX])
{
    if (w->vf)
        snprintf(out, MAPI_FAI_KEY_MAX, "mapi.fai.v%u", w->vf);
    else
        snprintf(out, MAPI_FAI_KEY_MAX, "mapi.fai.%" PRId64 ".%u", w->folder, w->uidvalidity);
}

static int parse_u64(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (*s < '0' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *p = s;
    *out = v;
    return 0;
}

int mapi_fai_key_parse(const char *key, mapi_fai_where *w)
{
    static const char prefix[] = "mapi.fai.";
    if (!key || strncmp(key, prefix, sizeof prefix - 1) != 0)
        return -1;
    const char *p = key + sizeof prefix - 1;
    uint64_t a, b;
    memset(w, 0, sizeof *w);
    if (*p == 'v') {
        p++;
        if (parse_u64(&p, &a) != 0 || *p || a == 0 || a >= MAPI_VF_COUNT)
            return -1;
        w->vf = (uint32_t)a;
        return 0;
    }
    if (parse_u64(&p, &a) != 0 || *p++ != '.' || parse_u64(&p, &b) != 0 || *p || a == 0 ||
        a >= (1ull << FOLDER_BITS) || b > UINT32_MAX)
        return -1;
    w->folder = (int64_t)a;
    w->uidvalidity = (uint32_t)b;
    return 0;
}

int64_t mapi_fai_eid_id(const mapi_fai_where *w, uint32_t num)
{
    if (num == 0 || num > MAPI_FAI_NUM_MAX)
        return 0;
    uint64_t part;
    if (w->vf) {
        if (w->vf >= MAPI_VF_COUNT)
            return 0;
        part = w->vf;
    } else {
        if (w->folder <= 0 || (uint64_t)w->folder >= (1ull << FOLDER_BITS))
            return 0;
        part = (uint64_t)w->folder << 3;
    }
    return (int64_t)(part << 24 | num);
}

int mapi_fai_eid_split(int64_t id, uint32_t *vf, int64_t *folder, uint32_t *num)
{
    if (id <= 0)
        return -1;
    uint64_t part = (uint64_t)id >> 24;
    uint32_t n = (uint32_t)((uint64_t)id & MAPI_FAI_NUM_MAX);
    if (n == 0 || part == 0)
        return -1;
    if (part & 7u) {
        if (part >= MAPI_VF_COUNT)
            return -1;
        *vf = (uint32_t)part;
        *folder = 0;
    } else {
        *vf = 0;
        *folder = (int64_t)(part >> 3);
    }
    *num = n;
    return 0;
}

/* ---- the set ---- */

void mapi_fai_set_init(mapi_fai_set *s)
{
    memset(s, 0, sizeof *s);
    s->next = 1;
}

void mapi_fai_set_free(mapi_fai_set *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        mapi_message_free(&s->v[i].msg);
    free(s->v);
    mapi_fai_set_init(s);
}

int mapi_message_copy(mapi_message *dst, const mapi_message *src)
{
    memset(dst, 0, sizeof *dst);
    if (mapi_props_copy(&dst->props, &src->props) != 0)
        goto fail;
    if (src->nrecips) {
        dst->recips = calloc(src->nrecips, sizeof *dst->recips);
        if (!dst->recips)
            goto fail;
        for (; dst->nrecips < src->nrecips; dst->nrecips++)
            if (mapi_props_copy(&dst->recips[dst->nrecips], &src->recips[dst->nrecips]) != 0)
                goto fail;
    }
    if (src->natts) {
        dst->atts = calloc(src->natts, sizeof *dst->atts);
        if (!dst->atts)
            goto fail;
        for (; dst->natts < src->natts; dst->natts++) {
            dst->atts[dst->natts].num = src->atts[dst->natts].num;
            if (mapi_props_copy(&dst->atts[dst->natts].props, &src->atts[dst->natts].props) != 0)
                goto fail;
        }
    }
    dst->next_att = src->next_att;
    return 0;
fail:
    mapi_message_free(dst);
    memset(dst, 0, sizeof *dst);
    return -1;
}

static void encode_msg(mapi_buf *out, const mapi_message *m)
{
    mapi_w_props(out, &m->props);
    mapi_w_u32(out, m->nrecips);
    for (uint32_t i = 0; i < m->nrecips; i++)
        mapi_w_props(out, &m->recips[i]);
    mapi_w_u32(out, m->natts);
    for (uint32_t i = 0; i < m->natts; i++) {
        mapi_w_u32(out, m->atts[i].num);
        mapi_w_props(out, &m->atts[i].props);
    }
}

void mapi_fai_encode(const mapi_fai_set *s, mapi_buf *out)
{
    mapi_w_u32(out, FAI_MAGIC);
    mapi_w_u32(out, s->next);
    mapi_w_u32(out, s->n);
    for (uint32_t i = 0; i < s->n; i++) {
        mapi_w_u32(out, s->v[i].num);
        encode_msg(out, &s->v[i].msg);
    }
}

uint32_t mapi_fai_msg_size(const mapi_message *m)
{
    mapi_buf b;
    mapi_buf_init(&b);
    encode_msg(&b, m);
    uint32_t n = b.oom || b.len > UINT32_MAX ? UINT32_MAX : (uint32_t)b.len;
    mapi_buf_free(&b);
    return n;
}

static int decode_msg(mapi_rd *rd, mapi_message *m)
{
    memset(m, 0, sizeof *m);
    if (mapi_r_props(rd, &m->props) != 0)
        return -1;
    uint32_t n = mapi_r_u32(rd);
    if (rd->err || n > rd->left / 4)
        return -1;
    if (n) {
        if (!(m->recips = calloc(n, sizeof *m->recips)))
            return -1;
        for (; m->nrecips < n; m->nrecips++) {
            mapi_props_init(&m->recips[m->nrecips]);
            if (mapi_r_props(rd, &m->recips[m->nrecips]) != 0) {
                m->nrecips++;
                return -1;
            }
        }
    }
    n = mapi_r_u32(rd);
    if (rd->err || n > rd->left / 8)
        return -1;
    if (n) {
        if (!(m->atts = calloc(n, sizeof *m->atts)))
            return -1;
        for (; m->natts < n; m->natts++) {
            mapi_attach *a = &m->atts[m->natts];
            a->num = mapi_r_u32(rd);
            mapi_props_init(&a->props);
            if (mapi_r_props(rd, &a->props) != 0) {
                m->natts++;
                return -1;
            }
            if (a->num >= m->next_att)
                m->next_att = a->num + 1;
        }
    }
    return rd->err ? -1 : 0;
}

int mapi_fai_decode(const void *p, size_t len, mapi_fai_set *s)
{
    mapi_fai_set_init(s);
    mapi_rd rd;
    mapi_rd_init(&rd, p, len);
    uint32_t magic = mapi_r_u32(&rd), next = mapi_r_u32(&rd), n = mapi_r_u32(&rd);
    if (rd.err || magic != FAI_MAGIC || next == 0 || next > MAPI_FAI_NUM_MAX + 1 || n > rd.left / 16)
        return -1;
    s->next = next;
    if (n && !(s->v = calloc(n, sizeof *s->v)))
        return -1;
    for (; s->n < n; s->n++) {
        mapi_fai_msg *m = &s->v[s->n];
        m->num = mapi_r_u32(&rd);
        int bad = decode_msg(&rd, &m->msg) != 0 || m->num == 0 || m->num >= next;
        for (uint32_t i = 0; !bad && i < s->n; i++)
            bad = s->v[i].num == m->num;
        if (bad) {
            s->n++;
            mapi_fai_set_free(s);
            return -1;
        }
    }
    if (rd.left) {
        mapi_fai_set_free(s);
        return -1;
    }
    return 0;
}

uint32_t mapi_fai_count(const void *p, size_t len)
{
    mapi_rd rd;
    mapi_rd_init(&rd, p, len);
    uint32_t magic = mapi_r_u32(&rd);
    mapi_r_u32(&rd);
    uint32_t n = mapi_r_u32(&rd);
    return rd.err || magic != FAI_MAGIC ? 0 : n;
}

mapi_fai_msg *mapi_fai_find(const mapi_fai_set *s, uint32_t num)
{
    for (uint32_t i = 0; i < s->n; i++)
        if (s->v[i].num == num)
            return &s->v[i];
    return NULL;
}

int mapi_fai_put(mapi_fai_set *s, uint32_t num, const mapi_message *m)
{
    mapi_message copy;
    if (num == 0 || mapi_message_copy(&copy, m) != 0)
        return -1;
    mapi_fai_msg *old = mapi_fai_find(s, num);
    if (old) {
        mapi_message_free(&old->msg);
        old->msg = copy;
        return 0;
    }
    mapi_fai_msg *nv = realloc(s->v, (s->n + 1) * sizeof *nv);
    if (!nv) {
        mapi_message_free(&copy);
        return -1;
    }
    s->v = nv;
    s->v[s->n].num = num;
    s->v[s->n].msg = copy;
    s->n++;
    if (num >= s->next)
        s->next = num + 1;
    return 0;
}

int mapi_fai_remove(mapi_fai_set *s, uint32_t num)
{
    for (uint32_t i = 0; i < s->n; i++)
        if (s->v[i].num == num) {
            mapi_message_free(&s->v[i].msg);
            s->v[i] = s->v[--s->n];
            return 1;
        }
    return 0;
}

/* ---- in the cache ---- */

int mapi_fai_supported(const struct outpost_host *h)
{
    return h->store && OUTPOST_HAS_METHOD(h->store, struct outpost_store_api, meta_set);
}

outpost_status mapi_fai_read(const struct outpost_host *h, struct outpost_txn *t, const mapi_fai_where *w,
                             mapi_fai_set *s)
{
    mapi_fai_set_init(s);
    char key[MAPI_FAI_KEY_MAX];
    mapi_fai_key(w, key);
    const void *v = NULL;
    size_t len = 0;
    outpost_status st = h->store->storage->meta_get(t, key, &v, &len);
    if (st.code == OUTPOST_GONE || (st.code == OUTPOST_OK && !v))
        return outpost_ok();
    if (st.code != OUTPOST_OK)
        return st;
    if (mapi_fai_decode(v, len, s) != 0) {
        h->log(h, OUTPOST_LOG_ERROR, "mapi: the associated (FAI) messages kept as %s are damaged; left as they are",
               key);
        return fai_err(OUTPOST_BAD_DATA, "damaged FAI messages");
    }
    return outpost_ok();
}

outpost_status mapi_fai_load(const struct outpost_host *h, const mapi_fai_where *w, mapi_fai_set *s)
{
    mapi_fai_set_init(s);
    struct outpost_txn *t;
    outpost_status st = h->store->read_begin(h, &t);
    if (st.code != OUTPOST_OK)
        return st;
    st = mapi_fai_read(h, t, w, s);
    h->store->read_end(h, t);
    return st;
}

/* The index's text (malloc'd, NUL-terminated; "" when absent) or NULL. */
static char *index_read(const struct outpost_host *h, outpost_status *st)
{
    struct outpost_txn *t;
    *st = h->store->read_begin(h, &t);
    if (st->code != OUTPOST_OK)
        return NULL;
    const void *v = NULL;
    size_t len = 0;
    *st = h->store->storage->meta_get(t, MAPI_FAI_INDEX_KEY, &v, &len);
    char *text = NULL;
    if (st->code == OUTPOST_GONE || st->code == OUTPOST_OK) {
        if (st->code != OUTPOST_OK || !v)
            len = 0;
        text = malloc(len + 1);
        if (text) {
            if (len)
                memcpy(text, v, len);
            text[len] = 0;
            *st = outpost_ok();
        } else {
            *st = fai_err(OUTPOST_FATAL, "out of memory");
        }
    }
    h->store->read_end(h, t);
    return text;
}

/* Position of line `key` in text, or NULL. */
static char *index_find(char *text, const char *key)
{
    size_t kl = strlen(key);
    for (char *p = text; *p;) {
        char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == kl && memcmp(p, key, kl) == 0)
            return p;
        p += l + (e ? 1 : 0);
    }
    return NULL;
}

static outpost_status index_edit(const struct outpost_host *h, const char *key, int add)
{
    outpost_status st;
    char *text = index_read(h, &st);
    if (!text)
        return st;
    char *at = index_find(text, key);
    if ((at != NULL) == add) {
        free(text);
        return outpost_ok();
    }
    mapi_buf b;
    mapi_buf_init(&b);
    if (add) {
        mapi_buf_adds(&b, text);
        mapi_buf_adds(&b, key);
        mapi_buf_addc(&b, '\n');
    } else {
        size_t kl = strlen(key) + (at[strlen(key)] == '\n' ? 1 : 0);
        mapi_buf_add(&b, text, (size_t)(at - text));
        mapi_buf_adds(&b, at + kl);
    }
    free(text);
    if (b.oom)
        st = fai_err(OUTPOST_FATAL, "out of memory");
    else
        st = h->store->meta_set(h, MAPI_FAI_INDEX_KEY, b.len ? b.data : NULL, b.len);
    mapi_buf_free(&b);
    return st;
}

/* 1 when the set at w belongs to no folder: a key that is not a set's, or
 * a real folder that is gone or has another UIDVALIDITY (a new folder). -1
 * when the storage cannot tell. */
static int set_orphaned(const struct outpost_host *h, struct outpost_txn *t, const char *key)
{
    mapi_fai_where w;
    if (mapi_fai_key_parse(key, &w) != 0)
        return 1;
    if (w.vf)
        return 0;
    const outpost_folder *f;
    outpost_status fs = h->store->storage->folder_get(t, w.folder, &f);
    if (fs.code == OUTPOST_GONE)
        return 1;
    if (fs.code != OUTPOST_OK)
        return -1;
    return f->uidvalidity != w.uidvalidity;
}

static outpost_status drop_set(const struct outpost_host *h, const char *key)
{
    /* the set first, then its line: a crash between leaves a line the sweep drops */
    outpost_status st = h->store->meta_set(h, key, NULL, 0);
    if (st.code != OUTPOST_OK)
        return st;
    return index_edit(h, key, 0);
}

outpost_status mapi_fai_store(const struct outpost_host *h, const mapi_fai_where *w, const mapi_fai_set *s)
{
    char key[MAPI_FAI_KEY_MAX];
    mapi_fai_key(w, key);
    if (s->n == 0)
        return drop_set(h, key);
    mapi_buf b;
    mapi_buf_init(&b);
    mapi_fai_encode(s, &b);
    outpost_status st = outpost_ok();
    if (b.oom)
        st = fai_err(OUTPOST_FATAL, "out of memory");
    else if (b.len > MAPI_FAI_SET_MAX)
        st = fai_err(OUTPOST_BAD_DATA, "the folder's associated (FAI) messages would exceed 32 MiB");
    /* the line first, then the set: a set is never left out of the index */
    if (st.code == OUTPOST_OK)
        st = index_edit(h, key, 1);
    if (st.code == OUTPOST_OK)
        st = h->store->meta_set(h, key, b.data, b.len);
    mapi_buf_free(&b);
    if (st.code != OUTPOST_OK || w->vf)
        return st;
    /* The folder may have been deleted (IMAP, the server) since the caller
     * looked it up: then the set just written belongs to no folder. The
     * watch's sweep after that deletion may already have run, so drop it
     * here. */
    struct outpost_txn *t;
    if (h->store->read_begin(h, &t).code != OUTPOST_OK)
        return st;
    int orphan = set_orphaned(h, t, key);
    h->store->read_end(h, t);
    if (orphan == 1) {
        st = drop_set(h, key);
        return st.code == OUTPOST_OK ? fai_err(OUTPOST_GONE, "the folder was deleted") : st;
    }
    return st;
}

outpost_status mapi_fai_sweep(const struct outpost_host *h, uint32_t *dropped)
{
    if (dropped)
        *dropped = 0;
    outpost_status st;
    char *text = index_read(h, &st);
    if (!text)
        return st;
    /* the keys whose folder is gone (or has another UIDVALIDITY) */
    mapi_buf gone;
    mapi_buf_init(&gone);
    struct outpost_txn *t;
    st = h->store->read_begin(h, &t);
    if (st.code != OUTPOST_OK) {
        free(text);
        return st;
    }
    for (char *p = text, *e; *p; p = e ? e + 1 : p + strlen(p)) {
        e = strchr(p, '\n');
        if (e)
            *e = 0;
        if (set_orphaned(h, t, p) == 1) {
            mapi_buf_adds(&gone, p);
            mapi_buf_addc(&gone, 0);
        }
        if (!e)
            break;
    }
    h->store->read_end(h, t);
    free(text);
    st = gone.oom ? fai_err(OUTPOST_FATAL, "out of memory") : outpost_ok();
    for (size_t off = 0; st.code == OUTPOST_OK && off < gone.len; off += strlen((char *)gone.data + off) + 1) {
        const char *key = (const char *)gone.data + off;
        mapi_fai_where w;
        st = mapi_fai_key_parse(key, &w) == 0 ? drop_set(h, key) : index_edit(h, key, 0);
        if (st.code == OUTPOST_OK && dropped)
            (*dropped)++;
    }
    mapi_buf_free(&gone);
    return st;
}
