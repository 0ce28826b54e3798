/* fb_item.c — items: put, update, flags, move, delete, lookups, listings and
 * the property bag. Every change goes through fb_folder_bump, which assigns
 * the MODSEQ (and UID) and adjusts the folder counters in one statement.
 *
 * Item strings longer than their column go into the item's overflow value
 * (val, VS_BIG: fb_val.c) as records (field, length, bytes) with bit `field`
 * set in big_mask; the
 * indexed key columns (remote_id, find_key) then keep a prefix, and lookups
 * compare the whole value after fetching the candidates. */
#include <stdlib.h>
#include <string.h>

#include "fb_internal.h"

static int unread_of(uint32_t flags)
{
    return (flags & OUTPOST_FLAG_SEEN) ? 0 : 1;
}

static int flagged_of(uint32_t flags)
{
    return (flags & OUTPOST_FLAG_FLAGGED) ? 1 : 0;
}

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

static const char *find_key_of(uint32_t kind, const outpost_item *it)
{
    if (kind == OUTPOST_ITEM_MAIL)
        return it->message_id ? it->message_id : it->object_uid;
    return it->object_uid ? it->object_uid : it->message_id;
}

/* ---- overflow ---- */

struct strs {
    const char *p[IS__COUNT];
    size_t n[IS__COUNT];
    uint32_t mask;
};

static int is_key_field(int i)
{
    return i == IS_REMOTE_ID || i == IS_FIND_KEY;
}

/* Splits an item's strings into inline column values and the overflow value. */
static int split_strings(const outpost_item *it, uint32_t kind, struct strs *v, struct fb_buf *big)
{
    const char *src[IS__COUNT] = {
        nonempty(it->keywords), it->remote_id, it->remote_version, it->subject, it->from, it->to, it->cc,
        it->message_id, it->object_uid, find_key_of(kind, it), it->envelope, it->bodystructure, it->preview,
    };
    big->len = 0;
    v->mask = 0;
    for (int i = 0; i < IS__COUNT; i++) {
        v->p[i] = src[i];
        v->n[i] = src[i] ? strlen(src[i]) : 0;
        if (!src[i] || v->n[i] <= fb_item_str_max[i])
            continue;
        uint32_t f = (uint32_t)i, n = (uint32_t)v->n[i];
        if (fb_buf_reserve(big, big->len + 8 + n))
            return -1;
        memcpy(big->p + big->len, &f, 4);
        memcpy(big->p + big->len + 4, &n, 4);
        memcpy(big->p + big->len + 8, src[i], n);
        big->len += 8 + (size_t)n;
        v->mask |= 1u << i;
        if (is_key_field(i))
            v->n[i] = fb_item_str_max[i];
        else
            v->p[i] = NULL;
    }
    return 0;
}

static void bind_strings(struct fb_stmt *st, int first, const struct strs *v)
{
    for (int i = 0; i < IS__COUNT; i++)
        fb_bind_textn(st, first + i, v->p[i], v->n[i]);
}

/* Rewrites every string of item `id` from `it` (kind: the item's kind). */
static outpost_status rewrite_strings(struct outpost_txn *t, int64_t id, const outpost_item *it, uint32_t kind)
{
    struct outpost_storage *s = t->s;
    struct strs v;
    if (split_strings(it, kind, &v, &t->big))
        return fb_error(s, OUTPOST_FATAL, "out of memory updating an item");
    struct fb_stmt *st = fb_stmt(s, ST_ITEM_REWRITE);
    if (!st)
        return fb_db_error(s, "updating an item");
    fb_bind_int(st, 0, v.mask);
    bind_strings(st, 1, &v);
    fb_bind_int(st, 1 + IS__COUNT, id);
    int r = fb_exec_row(s, st);
    if (r < 0)
        return fb_db_error(s, "updating an item");
    if (r == 0)
        return fb_error(s, OUTPOST_GONE, "item %lld does not exist", (long long)id);
    int had = fb_col_int(st, 0) != 0; /* the old big_mask */
    if (v.mask ? fb_val_put(s, VS_BIG, id, NULL, t->big.p, t->big.len) : had && fb_val_del(s, VS_BIG, id, NULL))
        return fb_db_error(s, "updating an item");
    return outpost_ok();
}

/* ---- state ---- */

outpost_status fb_item_state(struct outpost_txn *t, int64_t id, struct fb_item_state *is)
{
    struct outpost_storage *s = t->s;
    memset(is, 0, sizeof *is);
    struct fb_stmt *st = fb_stmt(s, ST_ITEM_STATE);
    if (!st)
        return fb_db_error(s, "reading an item");
    fb_bind_int(st, 0, id);
    int r = fb_exec_row(s, st);
    if (r < 0)
        return fb_db_error(s, "reading an item");
    if (r == 0)
        return fb_error(s, OUTPOST_GONE, "item %lld does not exist", (long long)id);
    is->folder_id = fb_col_int(st, 0);
    is->uid = (uint32_t)fb_col_int(st, 1);
    is->flags = (uint32_t)fb_col_int(st, 2);
    is->kind = (uint32_t)fb_col_int(st, 4);
    is->content_state = (uint32_t)fb_col_int(st, 5);
    is->modseq = (uint64_t)fb_col_int(st, 6);
    is->big_mask = (uint32_t)fb_col_int(st, 7);
    if (is->big_mask & (1u << IS_KEYWORDS)) {
        const outpost_item *full;
        outpost_status g = fb_item_get(t, id, &full);
        if (g.code)
            return g;
        is->keywords = full->keywords ? strdup(full->keywords) : NULL;
    } else {
        size_t n;
        const char *kw = fb_col_text(st, 3, &n);
        if (kw && n) {
            is->keywords = malloc(n + 1);
            if (is->keywords) {
                memcpy(is->keywords, kw, n);
                is->keywords[n] = '\0';
            }
        }
    }
    return outpost_ok();
}

/* The kind of folder `id` (cached for the transaction): OK, GONE or an error. */
static outpost_status folder_kind(struct outpost_txn *t, int64_t id, uint32_t *kind)
{
    struct outpost_storage *s = t->s;
    if (t->kind_folder == id && id != 0) {
        *kind = t->kind_of_folder;
        return outpost_ok();
    }
    struct fb_stmt *st = fb_stmt(s, ST_FOLDER_KIND);
    if (!st)
        return fb_db_error(s, "reading a folder");
    fb_bind_int(st, 0, id);
    int r = fb_exec_row(s, st);
    if (r < 0)
        return fb_db_error(s, "reading a folder");
    if (r == 0)
        return fb_error(s, OUTPOST_GONE, "folder %lld does not exist", (long long)id);
    *kind = (uint32_t)fb_col_int(st, 0);
    t->kind_folder = id;
    t->kind_of_folder = *kind;
    return outpost_ok();
}

/* ---- changes ---- */

outpost_status fb_item_put(struct outpost_txn *t, outpost_item *it)
{
    struct outpost_storage *s = t->s;
    outpost_status c = fb_check_txn(t, 1);
    if (c.code)
        return c;
    if (!it)
        return fb_error(s, OUTPOST_BAD_DATA, "item_put: item is NULL");
    if (it->content_state > OUTPOST_CONTENT_COMPLETE)
        return fb_error(s, OUTPOST_BAD_DATA, "item_put: unknown content state %u", it->content_state);
    uint32_t fkind;
    if ((c = folder_kind(t, it->folder_id, &fkind)).code)
        return c;
    if (fkind != it->kind)
        return fb_error(s, OUTPOST_BAD_DATA, "item_put: item kind %u does not match folder %lld kind %u", it->kind,
                        (long long)it->folder_id, fkind);
    struct strs v;
    if (split_strings(it, it->kind, &v, &t->big))
        return fb_error(s, OUTPOST_FATAL, "out of memory storing an item");
    uint32_t uid;
    uint64_t modseq;
    int64_t id;
    c = fb_folder_bump(t, it->folder_id, 1, 1, unread_of(it->flags), flagged_of(it->flags), &uid, &modseq, NULL);
    if (c.code)
        return fb_poison(t, c);
    if ((c = fb_counter_next(t, CT_ITEM, &id)).code)
        return fb_poison(t, c);
    struct fb_stmt *st = fb_stmt(s, ST_ITEM_INSERT);
    if (!st)
        return fb_poison(t, fb_db_error(s, "storing an item"));
    fb_bind_int(st, 0, id);
    fb_bind_int(st, 1, it->folder_id);
    fb_bind_int(st, 2, it->kind);
    fb_bind_int(st, 3, uid);
    fb_bind_int(st, 4, (int64_t)modseq);
    fb_bind_int(st, 5, it->flags);
    fb_bind_int(st, 6, it->internal_date);
    fb_bind_int(st, 7, it->date);
    fb_bind_int(st, 8, (int64_t)it->size);
    fb_bind_int(st, 9, it->content_state);
    fb_bind_int(st, 10, v.mask);
    bind_strings(st, 11, &v);
    if (fb_exec(s, st) || (v.mask && fb_val_put(s, VS_BIG, id, NULL, t->big.p, t->big.len)))
        return fb_poison(t, fb_db_error(s, "storing an item"));
    it->id = id;
    it->uid = uid;
    it->modseq = modseq;
    it->cached_size = 0;
    t->wr_item = id; /* no content yet: content_write/finish need no lookups */
    t->wr_end = 0;
    return outpost_ok();
}

outpost_status fb_item_update(struct outpost_txn *t, const outpost_item *it, uint32_t fields)
{
    struct outpost_storage *s = t->s;
    outpost_status c = fb_check_txn(t, 1);
    if (c.code)
        return c;
    if (!it)
        return fb_error(s, OUTPOST_BAD_DATA, "item_update: item is NULL");
    if ((fields & OUTPOST_ITEM_F_CONTENT_STATE) && it->content_state > OUTPOST_CONTENT_COMPLETE)
        return fb_error(s, OUTPOST_BAD_DATA, "item_update: unknown content state %u", it->content_state);
    const outpost_item *g;
    if ((c = fb_item_get(t, it->id, &g)).code)
        return c;
    outpost_item cur = *g; /* strings stay in t->out until the next lookup */
    if (fields & OUTPOST_ITEM_F_REMOTE) {
        cur.remote_id = it->remote_id;
        cur.remote_version = it->remote_version;
    }
    if (fields & OUTPOST_ITEM_F_SUMMARY) {
        cur.subject = it->subject;
        cur.from = it->from;
        cur.to = it->to;
        cur.cc = it->cc;
        cur.message_id = it->message_id;
        cur.object_uid = it->object_uid;
        cur.envelope = it->envelope;
        cur.bodystructure = it->bodystructure;
        cur.preview = it->preview;
    }
    if (fields & (OUTPOST_ITEM_F_REMOTE | OUTPOST_ITEM_F_SUMMARY)) {
        if ((c = rewrite_strings(t, it->id, &cur, cur.kind)).code)
            return fb_poison(t, c);
    }
    if (fields & OUTPOST_ITEM_F_SUMMARY) {
        uint64_t modseq;
        if ((c = fb_folder_bump(t, cur.folder_id, 0, 0, 0, 0, NULL, &modseq, NULL)).code)
            return fb_poison(t, c);
        struct fb_stmt *st = fb_stmt(s, ST_ITEM_UPDATE_SUMMARY);
        if (!st)
            return fb_poison(t, fb_db_error(s, "updating an item"));
        fb_bind_int(st, 0, it->date);
        fb_bind_int(st, 1, it->internal_date);
        fb_bind_int(st, 2, (int64_t)it->size);
        fb_bind_int(st, 3, (int64_t)modseq);
        fb_bind_int(st, 4, it->id);
        if (fb_exec(s, st))
            return fb_poison(t, fb_db_error(s, "updating an item"));
    }
    if (fields & OUTPOST_ITEM_F_CONTENT_STATE) {
        struct fb_stmt *st = fb_stmt(s, ST_ITEM_UPDATE_CSTATE);
        if (!st)
            return fb_poison(t, fb_db_error(s, "updating an item"));
        fb_bind_int(st, 0, it->content_state);
        fb_bind_int(st, 1, it->id);
        if (fb_exec(s, st))
            return fb_poison(t, fb_db_error(s, "updating an item"));
    }
    return outpost_ok();
}

static outpost_status item_fetch(struct outpost_txn *t, enum fb_stmt_id sid, int64_t a, const char *b,
                                 const outpost_item **out)
{
    struct outpost_storage *s = t->s;
    outpost_status c = fb_check_txn(t, 0);
    if (c.code)
        return c;
    struct fb_stmt *st = fb_stmt(s, sid);
    if (!st)
        return fb_db_error(s, "reading an item");
    if (!b) {
        fb_bind_int(st, 0, a);
        int r = fb_exec_row(s, st);
        if (r < 0)
            return fb_db_error(s, "reading an item");
        if (r == 0)
            return fb_error(s, OUTPOST_GONE, "item %lld does not exist", (long long)a);
        if (fb_fill_item(s, st, 0, &t->row.item, &t->out))
            return fb_db_error(s, "reading an item");
        *out = &t->row.item;
        return outpost_ok();
    }
    /* by key: the column holds at most a prefix; compare the whole value */
    int field = sid == ST_ITEM_FIND_REMOTE ? IS_REMOTE_ID : IS_FIND_KEY;
    size_t n = strlen(b);
    fb_bind_textn(st, 0, b, n > fb_item_str_max[field] ? fb_item_str_max[field] : n);
    fb_bind_int(st, 1, a);
    fb_bind_int(st, 2, a);
    if (fb_exec(s, st))
        return fb_db_error(s, "looking up an item");
    int r;
    while ((r = fb_fetch(s, st)) == 1) {
        if (fb_fill_item(s, st, 0, &t->row.item, &t->out)) {
            fb_stmt_close(s, st);
            return fb_db_error(s, "reading an item");
        }
        const outpost_item *it = &t->row.item;
        const char *v = field == IS_REMOTE_ID ? it->remote_id : find_key_of(it->kind, it);
        if (v && strcmp(v, b) == 0) {
            fb_stmt_close(s, st);
            *out = it;
            return outpost_ok();
        }
    }
    if (r < 0)
        return fb_db_error(s, "looking up an item");
    return fb_error(s, OUTPOST_GONE, "no item %s", b);
}

outpost_status fb_item_get(struct outpost_txn *t, int64_t id, const outpost_item **out)
{
    return item_fetch(t, ST_ITEM_GET, id, NULL, out);
}

outpost_status fb_item_find_remote(struct outpost_txn *t, int64_t folder_id, const char *remote_id,
                                   const outpost_item **out)
{
    if (!remote_id)
        return fb_error(t->s, OUTPOST_BAD_DATA, "item_find_remote: remote id is NULL");
    return item_fetch(t, ST_ITEM_FIND_REMOTE, folder_id, remote_id, out);
}

outpost_status fb_item_find_key(struct outpost_txn *t, int64_t folder_id, const char *key,
                                const outpost_item **out)
{
    if (!key)
        return fb_error(t->s, OUTPOST_BAD_DATA, "item_find_key: key is NULL");
    return item_fetch(t, ST_ITEM_FIND_KEY, folder_id, key, out);
}

static int same_keywords(const char *a, const char *b)
{
    a = nonempty(a);
    b = nonempty(b);
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

outpost_status fb_item_set_flags(struct outpost_txn *t, int64_t id, uint32_t flags, const char *keywords,
                                 uint64_t *modseq)
{
    struct outpost_storage *s = t->s;
    outpost_status c = fb_check_txn(t, 1);
    if (c.code)
        return c;
    struct fb_item_state is;
    c = fb_item_state(t, id, &is);
    int same = c.code == OUTPOST_OK && is.flags == flags && same_keywords(is.keywords, keywords);
    free(is.keywords);
    if (c.code)
        return c;
    if (same) {
        if (modseq)
            *modseq = is.modseq;
        return outpost_ok();
    }
    keywords = nonempty(keywords);
    size_t kwlen = keywords ? strlen(keywords) : 0;
    int overflow = kwlen > fb_item_str_max[IS_KEYWORDS] || (is.big_mask & (1u << IS_KEYWORDS));
    uint64_t ms;
    c = fb_folder_bump(t, is.folder_id, 0, 0, unread_of(flags) - unread_of(is.flags),
                       flagged_of(flags) - flagged_of(is.flags), NULL, &ms, NULL);
    if (c.code)
        return fb_poison(t, c);
    struct fb_stmt *st = fb_stmt(s, ST_ITEM_SET_FLAGS);
    if (!st)
        return fb_poison(t, fb_db_error(s, "setting flags"));
    fb_bind_int(st, 0, flags);
    fb_bind_text(st, 1, kwlen > fb_item_str_max[IS_KEYWORDS] ? NULL : keywords);
    fb_bind_int(st, 2, (int64_t)ms);
    fb_bind_int(st, 3, id);
    if (fb_exec(s, st))
        return fb_poison(t, fb_db_error(s, "setting flags"));
    if (overflow) {
        const outpost_item *g;
        if ((c = fb_item_get(t, id, &g)).code)
            return fb_poison(t, c);
        outpost_item cur = *g;
        cur.keywords = keywords;
        if ((c = rewrite_strings(t, id, &cur, cur.kind)).code)
            return fb_poison(t, c);
    }
    if (modseq)
        *modseq = ms;
    return outpost_ok();
}

static int add_tombstone(struct outpost_storage *s, int64_t folder_id, uint32_t uid, uint64_t modseq)
{
    struct fb_stmt *st = fb_stmt(s, ST_TOMB_INSERT);
    if (!st)
        return -1;
    fb_bind_int(st, 0, folder_id);
    fb_bind_int(st, 1, uid);
    fb_bind_int(st, 2, (int64_t)modseq);
    return fb_exec(s, st);
}

outpost_status fb_item_move(struct outpost_txn *t, int64_t id, int64_t to_folder, uint32_t *new_uid)
{
    struct outpost_storage *s = t->s;
    outpost_status c = fb_check_txn(t, 1);
    if (c.code)
        return c;
    struct fb_item_state is;
    c = fb_item_state(t, id, &is);
    free(is.keywords);
    if (c.code)
        return c;
    uint32_t tkind;
    if ((c = folder_kind(t, to_folder, &tkind)).code)
        return c;
    if (tkind != is.kind)
        return fb_error(s, OUTPOST_BAD_DATA, "item_move: folder %lld holds kind %u, not the item's %u",
                        (long long)to_folder, tkind, is.kind);
    int u = unread_of(is.flags), f = flagged_of(is.flags);
    uint64_t ms_src, ms_dst;
    uint32_t uid;
    if ((c = fb_folder_bump(t, is.folder_id, 0, -1, -u, -f, NULL, &ms_src, NULL)).code)
        return fb_poison(t, c);
    if (add_tombstone(s, is.folder_id, is.uid, ms_src))
        return fb_poison(t, fb_db_error(s, "moving an item"));
    if ((c = fb_folder_bump(t, to_folder, 1, 1, u, f, &uid, &ms_dst, NULL)).code)
        return fb_poison(t, c);
    struct fb_stmt *st = fb_stmt(s, ST_ITEM_MOVE);
    if (!st)
        return fb_poison(t, fb_db_error(s, "moving an item"));
    fb_bind_int(st, 0, to_folder);
    fb_bind_int(st, 1, uid);
    fb_bind_int(st, 2, (int64_t)ms_dst);
    fb_bind_int(st, 3, id);
    if (fb_exec(s, st))
        return fb_poison(t, fb_db_error(s, "moving an item"));
    if (new_uid)
        *new_uid = uid;
    return outpost_ok();
}

outpost_status fb_item_delete(struct outpost_txn *t, int64_t id)
{
    struct outpost_storage *s = t->s;
    outpost_status c = fb_check_txn(t, 1);
    if (c.code)
        return c;
    struct fb_item_state is;
    c = fb_item_state(t, id, &is);
    free(is.keywords);
    if (c.code)
        return c;
    if (t->wr_item == id)
        t->wr_item = 0;
    uint64_t ms;
    c = fb_folder_bump(t, is.folder_id, 0, -1, -unread_of(is.flags), -flagged_of(is.flags), NULL, &ms, NULL);
    if (c.code)
        return fb_poison(t, c);
    if (add_tombstone(s, is.folder_id, is.uid, ms))
        return fb_poison(t, fb_db_error(s, "deleting an item"));
    if ((c = fb_content_remove(t, id)).code)
        return fb_poison(t, c);
    /* its values (properties, overflow strings, token text) go by trigger */
    struct fb_stmt *st = fb_stmt(s, ST_ITEM_DELETE);
    if (!st)
        return fb_poison(t, fb_db_error(s, "deleting an item"));
    fb_bind_int(st, 0, id);
    if (fb_exec(s, st))
        return fb_poison(t, fb_db_error(s, "deleting an item"));
    return outpost_ok();
}

/* ---- listings ---- */

static outpost_status listing(struct outpost_txn *t, enum fb_stmt_id id, int row_type, int nbind,
                              int64_t a, int64_t b, int64_t c3, struct outpost_cursor **out)
{
    outpost_status c = fb_check_txn(t, 0);
    if (c.code)
        return c;
    struct fb_stmt *st;
    if ((c = fb_cursor_open(t->s, id, row_type, out, &st)).code)
        return c;
    int64_t v[3] = { a, b, c3 };
    for (int i = 0; i < nbind; i++)
        fb_bind_int(st, i, v[i]);
    return fb_cursor_exec(out, "opening a listing");
}

outpost_status fb_items_by_uid(struct outpost_txn *t, int64_t folder_id, uint32_t lo, uint32_t hi,
                               struct outpost_cursor **out)
{
    return listing(t, ST_ITEMS_BY_UID, ROW_ITEM, 3, folder_id, lo, hi ? hi : UINT32_MAX, out);
}

/* From the narrow item_flags rows (kept by triggers): reading the wide item
 * rows costs more per row than this whole listing. */
outpost_status fb_items_uid_flags(struct outpost_txn *t, int64_t folder_id, uint32_t lo, uint32_t hi,
                                  struct outpost_cursor **out)
{
    outpost_status c = fb_check_txn(t, 0);
    if (c.code)
        return c;
    /* large folders: their packed snapshot plus the changes since (fb_uidsnap.c) */
    if ((c = fb_uidsnap_list(t, folder_id, lo, hi ? hi : UINT32_MAX, out)).code || *out)
        return c;
    return listing(t, ST_UID_FLAGS, ROW_UID_FLAGS, 3, folder_id, lo, hi ? hi : UINT32_MAX, out);
}

outpost_status fb_items_changed_since(struct outpost_txn *t, int64_t folder_id, uint64_t since,
                                      struct outpost_cursor **out)
{
    int64_t sv = since > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)since;
    return listing(t, ST_ITEMS_CHANGED, ROW_ITEM, 2, folder_id, sv, 0, out);
}

outpost_status fb_expunged_since(struct outpost_txn *t, int64_t folder_id, uint64_t since,
                                 struct outpost_cursor **out)
{
    int64_t sv = since > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)since;
    return listing(t, ST_EXPUNGED, ROW_TOMBSTONE, 2, folder_id, sv, 0, out);
}

outpost_status fb_items_missing_content(struct outpost_txn *t, int64_t folder_id, struct outpost_cursor **out)
{
    if (folder_id == 0)
        return listing(t, ST_MISSING_ALL, ROW_ITEM, 0, 0, 0, 0, out);
    return listing(t, ST_MISSING_FOLDER, ROW_ITEM, 1, folder_id, 0, 0, out);
}

/* ---- property bag ---- */

static outpost_status check_prop_name(struct outpost_storage *s, const char *name)
{
    if (!name || !*name)
        return fb_error(s, OUTPOST_BAD_DATA, "property name is empty");
    if (strlen(name) > 255)
        return fb_error(s, OUTPOST_BAD_DATA, "property name longer than 255 bytes");
    return outpost_ok();
}

outpost_status fb_prop_set(struct outpost_txn *t, int64_t item_id, const char *name, const void *val, size_t len)
{
    struct outpost_storage *s = t->s;
    outpost_status c = fb_check_txn(t, 1);
    if (c.code)
        return c;
    if ((c = check_prop_name(s, name)).code)
        return c;
    struct fb_item_state is;
    c = fb_item_state(t, item_id, &is);
    free(is.keywords);
    if (c.code)
        return c;
    if (val ? fb_val_put(s, VS_PROP, item_id, name, val, len) : fb_val_del(s, VS_PROP, item_id, name))
        return fb_poison(t, fb_db_error(s, "writing a property"));
    return outpost_ok();
}

outpost_status fb_prop_get(struct outpost_txn *t, int64_t item_id, const char *name, const void **val,
                           size_t *len)
{
    struct outpost_storage *s = t->s;
    outpost_status c = fb_check_txn(t, 0);
    if (c.code)
        return c;
    if ((c = check_prop_name(s, name)).code)
        return c;
    t->out.len = 0;
    int r = fb_val_get(s, VS_PROP, item_id, name, &t->out);
    if (r < 0)
        return fb_db_error(s, "reading a property");
    if (r == 0)
        return fb_error(s, OUTPOST_GONE, "item %lld has no property %s", (long long)item_id, name);
    *val = t->out.p;
    *len = t->out.len;
    return outpost_ok();
}
