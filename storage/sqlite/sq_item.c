/* sq_item.c — items: put, update, flags, move, delete, lookups, listings and
 * the property bag. Every change goes through sq_folder_bump, which assigns
 * the MODSEQ (and UID) and adjusts the folder counters in the same statement. */
#include <stdlib.h>
#include <string.h>

#include "sq_internal.h"

/* What a change needs to know about an item. */
struct item_state {
    int64_t folder_id;
    uint32_t uid, flags, kind, content_state;
    int has_fts_doc;
    uint64_t modseq;
    char *keywords; /* malloc'd copy or NULL */
};

static int unread_of(uint32_t flags)
{
    return (flags & OUTPOST_FLAG_SEEN) ? 0 : 1;
}

static int flagged_of(uint32_t flags)
{
    return (flags & OUTPOST_FLAG_FLAGGED) ? 1 : 0;
}

/* Loads an item's state: OK, GONE or an engine error. */
static outpost_status load_state(struct outpost_txn *t, int64_t id, struct item_state *is)
{
    struct outpost_storage *s = t->s;
    memset(is, 0, sizeof *is);
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_ITEM_STATE, &rc);
    if (!st)
        return sq_db_error(s, rc, "reading an item");
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return sq_error(s, OUTPOST_GONE, "item %lld does not exist", (long long)id);
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return sq_db_error(s, rc, "reading an item");
    }
    is->folder_id = sqlite3_column_int64(st, 0);
    is->uid = (uint32_t)sqlite3_column_int64(st, 1);
    is->flags = (uint32_t)sqlite3_column_int64(st, 2);
    const unsigned char *kw = sqlite3_column_text(st, 3);
    int has_kw = kw && *kw;
    if (has_kw)
        is->keywords = strdup((const char *)kw);
    is->kind = (uint32_t)sqlite3_column_int(st, 4);
    is->content_state = (uint32_t)sqlite3_column_int(st, 5);
    is->has_fts_doc = sqlite3_column_type(st, 6) != SQLITE_NULL;
    is->modseq = (uint64_t)sqlite3_column_int64(st, 7);
    sqlite3_reset(st);
    if (has_kw && !is->keywords)
        return sq_error(s, OUTPOST_FATAL, "out of memory reading an item");
    return outpost_ok();
}

/* The kind of folder `id`: OK, GONE or an engine error. */
static outpost_status folder_kind(struct outpost_txn *t, int64_t id, uint32_t *kind)
{
    const outpost_folder *f;
    outpost_status st = sq_folder_get(t, id, &f);
    if (st.code == OUTPOST_OK)
        *kind = f->kind;
    return st;
}

static const char *find_key_of(const outpost_item *it)
{
    if (it->kind == OUTPOST_ITEM_MAIL)
        return it->message_id ? it->message_id : it->object_uid;
    return it->object_uid ? it->object_uid : it->message_id;
}

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

outpost_status sq_item_put(struct outpost_txn *t, outpost_item *it)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn_queue(t, 1);
    if (c.code)
        return c;
    if (!it)
        return sq_error(s, OUTPOST_BAD_DATA, "item_put: item is NULL");
    if (it->content_state > OUTPOST_CONTENT_COMPLETE)
        return sq_error(s, OUTPOST_BAD_DATA, "item_put: unknown content state %u", it->content_state);
    uint32_t fkind;
    if (t->fk_id && t->fk_id == it->folder_id) {
        fkind = t->fk_kind;
    } else {
        c = folder_kind(t, it->folder_id, &fkind);
        if (c.code)
            return c;
        t->fk_id = it->folder_id;
        t->fk_kind = fkind;
    }
    if (fkind != it->kind)
        return sq_error(s, OUTPOST_BAD_DATA, "item_put: item kind %u does not match folder %lld kind %u",
                        it->kind, (long long)it->folder_id, fkind);
    uint32_t uid;
    uint64_t modseq;
    c = sq_folder_bump_put(t, it->folder_id, unread_of(it->flags), flagged_of(it->flags), &uid, &modseq);
    if (c.code)
        return sq_poison(t, c);
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_ITEM_INSERT, &rc);
    if (!st)
        return sq_poison(t, sq_db_error(s, rc, "storing an item"));
    sqlite3_bind_int64(st, 1, it->folder_id);
    sqlite3_bind_int(st, 2, (int)it->kind);
    sqlite3_bind_int64(st, 3, uid);
    sqlite3_bind_int64(st, 4, (int64_t)modseq);
    sqlite3_bind_int64(st, 5, it->flags);
    sq_bind_text(st, 6, nonempty(it->keywords));
    sq_bind_text(st, 7, it->remote_id);
    sq_bind_text(st, 8, it->remote_version);
    sqlite3_bind_int64(st, 9, it->internal_date);
    sqlite3_bind_int64(st, 10, it->date);
    sqlite3_bind_int64(st, 11, (int64_t)it->size);
    sqlite3_bind_int(st, 12, (int)it->content_state);
    sq_bind_text(st, 13, it->subject);
    sq_bind_text(st, 14, it->from);
    sq_bind_text(st, 15, it->to);
    sq_bind_text(st, 16, it->cc);
    sq_bind_text(st, 17, it->message_id);
    sq_bind_text(st, 18, it->object_uid);
    sq_bind_text(st, 19, find_key_of(it));
    sq_bind_text(st, 20, it->envelope);
    sq_bind_text(st, 21, it->bodystructure);
    sq_bind_text(st, 22, it->preview);
    rc = sq_exec_stmt(st);
    if (rc != SQLITE_OK)
        return sq_poison(t, sq_db_error(s, rc, "storing an item"));
    it->id = sqlite3_last_insert_rowid(s->db);
    t->fresh_id = it->id;
    t->fresh_end = 0;
    t->fresh_rows = 0;
    it->uid = uid;
    it->modseq = modseq;
    it->cached_size = 0;
    return outpost_ok();
}

outpost_status sq_item_update(struct outpost_txn *t, const outpost_item *it, uint32_t fields)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn(t, 1);
    if (c.code)
        return c;
    if (!it)
        return sq_error(s, OUTPOST_BAD_DATA, "item_update: item is NULL");
    if ((fields & OUTPOST_ITEM_F_CONTENT_STATE) && it->content_state > OUTPOST_CONTENT_COMPLETE)
        return sq_error(s, OUTPOST_BAD_DATA, "item_update: unknown content state %u", it->content_state);
    struct item_state is;
    c = load_state(t, it->id, &is);
    free(is.keywords);
    if (c.code)
        return c;
    int rc;
    sqlite3_stmt *st;
    if (fields & OUTPOST_ITEM_F_REMOTE) {
        st = sq_stmt(s, ST_ITEM_UPDATE_REMOTE, &rc);
        if (!st)
            return sq_poison(t, sq_db_error(s, rc, "updating an item"));
        sqlite3_bind_int64(st, 1, it->id);
        sq_bind_text(st, 2, it->remote_id);
        sq_bind_text(st, 3, it->remote_version);
        if ((rc = sq_exec_stmt(st)) != SQLITE_OK)
            return sq_poison(t, sq_db_error(s, rc, "updating an item"));
    }
    if (fields & OUTPOST_ITEM_F_SUMMARY) {
        uint64_t modseq;
        c = sq_folder_bump(t, is.folder_id, 0, 0, 0, 0, NULL, &modseq, NULL);
        if (c.code)
            return sq_poison(t, c);
        st = sq_stmt(s, ST_ITEM_UPDATE_SUMMARY, &rc);
        if (!st)
            return sq_poison(t, sq_db_error(s, rc, "updating an item"));
        outpost_item k = *it;
        k.kind = is.kind;
        sqlite3_bind_int64(st, 1, it->id);
        sq_bind_text(st, 2, it->subject);
        sq_bind_text(st, 3, it->from);
        sq_bind_text(st, 4, it->to);
        sq_bind_text(st, 5, it->cc);
        sq_bind_text(st, 6, it->message_id);
        sq_bind_text(st, 7, it->object_uid);
        sq_bind_text(st, 8, find_key_of(&k));
        sq_bind_text(st, 9, it->envelope);
        sq_bind_text(st, 10, it->bodystructure);
        sq_bind_text(st, 11, it->preview);
        sqlite3_bind_int64(st, 12, it->date);
        sqlite3_bind_int64(st, 13, it->internal_date);
        sqlite3_bind_int64(st, 14, (int64_t)it->size);
        sqlite3_bind_int64(st, 15, (int64_t)modseq);
        if ((rc = sq_exec_stmt(st)) != SQLITE_OK)
            return sq_poison(t, sq_db_error(s, rc, "updating an item"));
        if (is.has_fts_doc)
            t->fts_garbage++;
    }
    if (fields & OUTPOST_ITEM_F_CONTENT_STATE) {
        st = sq_stmt(s, ST_ITEM_UPDATE_CSTATE, &rc);
        if (!st)
            return sq_poison(t, sq_db_error(s, rc, "updating an item"));
        sqlite3_bind_int64(st, 1, it->id);
        sqlite3_bind_int(st, 2, (int)it->content_state);
        if ((rc = sq_exec_stmt(st)) != SQLITE_OK)
            return sq_poison(t, sq_db_error(s, rc, "updating an item"));
    }
    return outpost_ok();
}

static outpost_status item_fetch(struct outpost_txn *t, enum sq_stmt_id sid, int64_t a, const char *b,
                                 const outpost_item **out)
{
    struct outpost_storage *s = t->s;
    /* an item row depends on no pending content chunk nor folder counter: a
     * lookup between puts (the sync engine's) keeps the ingest pipeline going */
    outpost_status c = sq_check_txn_queue(t, 0);
    if (c.code)
        return c;
    int rc;
    sqlite3_stmt *st = sq_stmt(s, sid, &rc);
    if (!st)
        return sq_db_error(s, rc, "reading an item");
    sqlite3_bind_int64(st, 1, a);
    if (b)
        sq_bind_text(st, 2, b);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        if (b)
            return sq_error(s, OUTPOST_GONE, "no item %s", b);
        return sq_error(s, OUTPOST_GONE, "item %lld does not exist", (long long)a);
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return sq_db_error(s, rc, "reading an item");
    }
    int bad = sq_fill_item(st, &t->row.item, &t->out);
    sqlite3_reset(st);
    if (bad)
        return sq_error(s, OUTPOST_FATAL, "out of memory reading an item");
    *out = &t->row.item;
    return outpost_ok();
}

outpost_status sq_item_get(struct outpost_txn *t, int64_t id, const outpost_item **out)
{
    return item_fetch(t, ST_ITEM_GET, id, NULL, out);
}

outpost_status sq_item_find_remote(struct outpost_txn *t, int64_t folder_id, const char *remote_id,
                                   const outpost_item **out)
{
    if (!remote_id)
        return sq_error(t->s, OUTPOST_BAD_DATA, "item_find_remote: remote id is NULL");
    return item_fetch(t, folder_id ? ST_ITEM_FIND_REMOTE_IN : ST_ITEM_FIND_REMOTE, folder_id, remote_id, out);
}

outpost_status sq_item_find_key(struct outpost_txn *t, int64_t folder_id, const char *key,
                                const outpost_item **out)
{
    if (!key)
        return sq_error(t->s, OUTPOST_BAD_DATA, "item_find_key: key is NULL");
    return item_fetch(t, folder_id ? ST_ITEM_FIND_KEY_IN : ST_ITEM_FIND_KEY, folder_id, key, out);
}

static int same_keywords(const char *a, const char *b)
{
    a = nonempty(a);
    b = nonempty(b);
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

outpost_status sq_item_set_flags(struct outpost_txn *t, int64_t id, uint32_t flags, const char *keywords,
                                 uint64_t *modseq)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn(t, 1);
    if (c.code)
        return c;
    struct item_state is;
    c = load_state(t, id, &is);
    int same = c.code == OUTPOST_OK && is.flags == flags && same_keywords(is.keywords, keywords);
    free(is.keywords);
    if (c.code)
        return c;
    if (same) {
        if (modseq)
            *modseq = is.modseq;
        return outpost_ok();
    }
    uint64_t ms;
    c = sq_folder_bump(t, is.folder_id, 0, 0, unread_of(flags) - unread_of(is.flags),
                       flagged_of(flags) - flagged_of(is.flags), NULL, &ms, NULL);
    if (c.code)
        return sq_poison(t, c);
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_ITEM_SET_FLAGS, &rc);
    if (!st)
        return sq_poison(t, sq_db_error(s, rc, "setting flags"));
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, flags);
    sq_bind_text(st, 3, nonempty(keywords));
    sqlite3_bind_int64(st, 4, (int64_t)ms);
    if ((rc = sq_exec_stmt(st)) != SQLITE_OK)
        return sq_poison(t, sq_db_error(s, rc, "setting flags"));
    if (modseq)
        *modseq = ms;
    return outpost_ok();
}

static int add_tombstone(struct outpost_storage *s, int64_t folder_id, uint32_t uid, uint64_t modseq)
{
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_TOMB_INSERT, &rc);
    if (!st)
        return rc;
    sqlite3_bind_int64(st, 1, folder_id);
    sqlite3_bind_int64(st, 2, uid);
    sqlite3_bind_int64(st, 3, (int64_t)modseq);
    return sq_exec_stmt(st);
}

outpost_status sq_item_move(struct outpost_txn *t, int64_t id, int64_t to_folder, uint32_t *new_uid)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn(t, 1);
    if (c.code)
        return c;
    struct item_state is;
    c = load_state(t, id, &is);
    free(is.keywords);
    if (c.code)
        return c;
    uint32_t tkind;
    c = folder_kind(t, to_folder, &tkind);
    if (c.code)
        return c;
    if (tkind != is.kind)
        return sq_error(s, OUTPOST_BAD_DATA, "item_move: folder %lld holds kind %u, not the item's %u",
                        (long long)to_folder, tkind, is.kind);
    int u = unread_of(is.flags), f = flagged_of(is.flags);
    uint64_t ms_src, ms_dst;
    uint32_t uid;
    c = sq_folder_bump(t, is.folder_id, 0, -1, -u, -f, NULL, &ms_src, NULL);
    if (c.code)
        return sq_poison(t, c);
    int rc = add_tombstone(s, is.folder_id, is.uid, ms_src);
    if (rc != SQLITE_OK)
        return sq_poison(t, sq_db_error(s, rc, "moving an item"));
    c = sq_folder_bump(t, to_folder, 1, 1, u, f, &uid, &ms_dst, NULL);
    if (c.code)
        return sq_poison(t, c);
    sqlite3_stmt *st = sq_stmt(s, ST_ITEM_MOVE, &rc);
    if (!st)
        return sq_poison(t, sq_db_error(s, rc, "moving an item"));
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, to_folder);
    sqlite3_bind_int64(st, 3, uid);
    sqlite3_bind_int64(st, 4, (int64_t)ms_dst);
    if ((rc = sq_exec_stmt(st)) != SQLITE_OK)
        return sq_poison(t, sq_db_error(s, rc, "moving an item"));
    if (new_uid)
        *new_uid = uid;
    return outpost_ok();
}

outpost_status sq_item_delete(struct outpost_txn *t, int64_t id)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn(t, 1);
    if (c.code)
        return c;
    struct item_state is;
    c = load_state(t, id, &is);
    free(is.keywords);
    if (c.code)
        return c;
    uint64_t ms;
    c = sq_folder_bump(t, is.folder_id, 0, -1, -unread_of(is.flags), -flagged_of(is.flags), NULL, &ms,
                       NULL);
    if (c.code)
        return sq_poison(t, c);
    int rc = add_tombstone(s, is.folder_id, is.uid, ms);
    if (rc != SQLITE_OK)
        return sq_poison(t, sq_db_error(s, rc, "deleting an item"));
    c = sq_content_remove(t, id);
    if (c.code)
        return sq_poison(t, c);
    static const enum sq_stmt_id steps[] = { ST_PROP_DEL_ITEM, ST_ITEM_DELETE };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        sqlite3_stmt *st = sq_stmt(s, steps[i], &rc);
        if (!st)
            return sq_poison(t, sq_db_error(s, rc, "deleting an item"));
        sqlite3_bind_int64(st, 1, id);
        if ((rc = sq_exec_stmt(st)) != SQLITE_OK)
            return sq_poison(t, sq_db_error(s, rc, "deleting an item"));
    }
    if (is.has_fts_doc)
        t->fts_garbage++;
    if (t->fresh_id == id)
        t->fresh_id = 0;
    return outpost_ok();
}

/* ---- listings ---- */

static outpost_status listing(struct outpost_txn *t, enum sq_stmt_id id, int row_type, int64_t a,
                              int64_t b, int64_t c3, int nbind, struct outpost_cursor **out)
{
    outpost_status c = sq_check_txn(t, 0);
    if (c.code)
        return c;
    sqlite3_stmt *st;
    c = sq_cursor_open(t->s, id, row_type, out, &st);
    if (c.code)
        return c;
    if (nbind >= 1)
        sqlite3_bind_int64(st, 1, a);
    if (nbind >= 2)
        sqlite3_bind_int64(st, 2, b);
    if (nbind >= 3)
        sqlite3_bind_int64(st, 3, c3);
    return outpost_ok();
}

outpost_status sq_items_by_uid(struct outpost_txn *t, int64_t folder_id, uint32_t lo, uint32_t hi,
                               struct outpost_cursor **out)
{
    return listing(t, ST_ITEMS_BY_UID, ROW_ITEM, folder_id, lo, hi ? hi : UINT32_MAX, 3, out);
}

outpost_status sq_items_uid_flags(struct outpost_txn *t, int64_t folder_id, uint32_t lo, uint32_t hi,
                                  struct outpost_cursor **out)
{
    return listing(t, ST_UID_FLAGS, ROW_UID_FLAGS, folder_id, lo, hi ? hi : UINT32_MAX, 3, out);
}

outpost_status sq_items_changed_since(struct outpost_txn *t, int64_t folder_id, uint64_t since,
                                      struct outpost_cursor **out)
{
    int64_t sv = since > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)since;
    return listing(t, ST_ITEMS_CHANGED, ROW_ITEM, folder_id, sv, 0, 2, out);
}

outpost_status sq_expunged_since(struct outpost_txn *t, int64_t folder_id, uint64_t since,
                                 struct outpost_cursor **out)
{
    int64_t sv = since > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)since;
    return listing(t, ST_EXPUNGED, ROW_TOMBSTONE, folder_id, sv, 0, 2, out);
}

outpost_status sq_items_missing_content(struct outpost_txn *t, int64_t folder_id, struct outpost_cursor **out)
{
    if (folder_id == 0)
        return listing(t, ST_MISSING_ALL, ROW_ITEM, 0, 0, 0, 0, out);
    return listing(t, ST_MISSING_FOLDER, ROW_ITEM, folder_id, 0, 0, 1, out);
}

/* ---- property bag ---- */

static outpost_status check_prop_name(struct outpost_storage *s, const char *name)
{
    if (!name || !*name)
        return sq_error(s, OUTPOST_BAD_DATA, "property name is empty");
    if (strlen(name) > 255)
        return sq_error(s, OUTPOST_BAD_DATA, "property name longer than 255 bytes");
    return outpost_ok();
}

outpost_status sq_prop_set(struct outpost_txn *t, int64_t item_id, const char *name, const void *val,
                           size_t len)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn(t, 1);
    if (c.code)
        return c;
    if ((c = check_prop_name(s, name)).code)
        return c;
    struct item_state is;
    c = load_state(t, item_id, &is);
    free(is.keywords);
    if (c.code)
        return c;
    int rc;
    sqlite3_stmt *st = sq_stmt(s, val ? ST_PROP_SET : ST_PROP_DEL, &rc);
    if (!st)
        return sq_poison(t, sq_db_error(s, rc, "writing a property"));
    sqlite3_bind_int64(st, 1, item_id);
    sq_bind_text(st, 2, name);
    if (val)
        sqlite3_bind_blob64(st, 3, len ? val : "", len, SQLITE_STATIC);
    if ((rc = sq_exec_stmt(st)) != SQLITE_OK)
        return sq_poison(t, sq_db_error(s, rc, "writing a property"));
    return outpost_ok();
}

outpost_status sq_prop_get(struct outpost_txn *t, int64_t item_id, const char *name, const void **val,
                           size_t *len)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn(t, 0);
    if (c.code)
        return c;
    if ((c = check_prop_name(s, name)).code)
        return c;
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_PROP_GET, &rc);
    if (!st)
        return sq_db_error(s, rc, "reading a property");
    sqlite3_bind_int64(st, 1, item_id);
    sq_bind_text(st, 2, name);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return sq_error(s, OUTPOST_GONE, "item %lld has no property %s", (long long)item_id, name);
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return sq_db_error(s, rc, "reading a property");
    }
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    const void *b = sqlite3_column_blob(st, 0);
    if (sq_buf_reserve(&t->out, n + 1)) {
        sqlite3_reset(st);
        return sq_error(s, OUTPOST_FATAL, "out of memory reading a property");
    }
    if (n)
        memcpy(t->out.p, b, n);
    t->out.p[n] = '\0';
    sqlite3_reset(st);
    *val = t->out.p;
    *len = n;
    return outpost_ok();
}
