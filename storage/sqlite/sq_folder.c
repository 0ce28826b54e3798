/* sq_folder.c — folders: create, rename/move, delete, lookups, sync state, and
 * the one place that allocates UIDs and MODSEQs and keeps counters exact. */
#include <string.h>
#include <time.h>

#include "sq_internal.h"

static int valid_kind(uint32_t k)
{
    return k >= OUTPOST_ITEM_MAIL && k <= OUTPOST_ITEM_NOTE;
}

/* Is there a folder `id`? 1 yes, 0 no, <0 error (rc in *rc). */
static int folder_exists(struct outpost_storage *s, int64_t id, int *rc)
{
    sqlite3_stmt *st = sq_stmt(s, ST_FOLDER_GET, rc);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int r = sqlite3_step(st);
    sqlite3_reset(st);
    if (r == SQLITE_ROW)
        return 1;
    if (r == SQLITE_DONE)
        return 0;
    *rc = r;
    return -1;
}

static int sibling_exists(struct outpost_storage *s, int64_t parent, const char *name, int64_t self,
                          int *rc)
{
    sqlite3_stmt *st = sq_stmt(s, ST_FOLDER_SIBLING, rc);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, parent);
    sq_bind_text(st, 2, name);
    sqlite3_bind_int64(st, 3, self);
    int r = sqlite3_step(st);
    sqlite3_reset(st);
    if (r == SQLITE_ROW)
        return 1;
    if (r == SQLITE_DONE)
        return 0;
    *rc = r;
    return -1;
}

/* A UIDVALIDITY never given before in this cache: the clock in seconds, or
 * one more than the last one when the clock is behind. */
static int next_uidvalidity(struct outpost_storage *s, uint32_t *out)
{
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_INFO_GET, &rc);
    if (!st)
        return rc;
    sq_bind_text(st, 1, "last_uidvalidity");
    int64_t last = 0;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        last = sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_DONE)
        return rc;
    sqlite3_reset(st);
    int64_t uv = (int64_t)time(NULL);
    if (uv <= last)
        uv = last + 1;
    if (uv > (int64_t)UINT32_MAX)
        uv = 1; /* the year 2106; UIDVALIDITY only needs to differ */
    st = sq_stmt(s, ST_INFO_SET, &rc);
    if (!st)
        return rc;
    sq_bind_text(st, 1, "last_uidvalidity");
    sqlite3_bind_int64(st, 2, uv);
    rc = sq_exec_stmt(st);
    *out = (uint32_t)uv;
    return rc;
}

outpost_status sq_folder_create(struct outpost_txn *t, const outpost_folder *f, int64_t *out_id)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn(t, 1);
    if (c.code)
        return c;
    if (!f || !f->name || !*f->name)
        return sq_error(s, OUTPOST_BAD_DATA, "folder_create: a folder needs a name");
    if (!valid_kind(f->kind))
        return sq_error(s, OUTPOST_BAD_DATA, "folder_create: unknown folder kind %u", f->kind);
    int rc = SQLITE_OK, r;
    if (f->parent_id != 0) {
        r = folder_exists(s, f->parent_id, &rc);
        if (r < 0)
            return sq_db_error(s, rc, "looking up the parent folder");
        if (r == 0)
            return sq_error(s, OUTPOST_BAD_DATA, "folder_create: parent folder %lld does not exist",
                            (long long)f->parent_id);
    }
    r = sibling_exists(s, f->parent_id, f->name, 0, &rc);
    if (r < 0)
        return sq_db_error(s, rc, "looking up sibling folders");
    if (r > 0)
        return sq_error(s, OUTPOST_BAD_DATA, "folder_create: a folder named \"%s\" already exists there",
                        f->name);
    uint32_t uv = 0;
    rc = next_uidvalidity(s, &uv);
    if (rc != SQLITE_OK)
        return sq_poison(t, sq_db_error(s, rc, "allocating a UIDVALIDITY"));
    sqlite3_stmt *st = sq_stmt(s, ST_FOLDER_INSERT, &rc);
    if (!st)
        return sq_poison(t, sq_db_error(s, rc, "creating a folder"));
    sqlite3_bind_int64(st, 1, f->parent_id);
    sqlite3_bind_int(st, 2, (int)f->kind);
    sq_bind_text(st, 3, f->name);
    sq_bind_text(st, 4, f->remote_id);
    sqlite3_bind_int(st, 5, (int)f->special_use);
    sqlite3_bind_int64(st, 6, f->flags);
    sqlite3_bind_int64(st, 7, uv);
    rc = sq_exec_stmt(st);
    if (rc != SQLITE_OK)
        return sq_poison(t, sq_db_error(s, rc, "creating a folder"));
    if (out_id)
        *out_id = sqlite3_last_insert_rowid(s->db);
    return outpost_ok();
}

outpost_status sq_folder_update(struct outpost_txn *t, int64_t id, const outpost_folder *f, uint32_t fields)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn(t, 1);
    if (c.code)
        return c;
    const outpost_folder *cur;
    outpost_status g = sq_folder_get(t, id, &cur);
    if (g.code)
        return g;
    int64_t parent = (fields & OUTPOST_FOLDER_F_PARENT) ? f->parent_id : cur->parent_id;
    const char *name = (fields & OUTPOST_FOLDER_F_NAME) ? f->name : cur->name;
    if (!name || !*name)
        return sq_error(s, OUTPOST_BAD_DATA, "folder_update: a folder needs a name");
    int rc = SQLITE_OK, r;
    if ((fields & OUTPOST_FOLDER_F_PARENT) && parent != 0) {
        /* the new parent must exist and must not be the folder or under it */
        r = folder_exists(s, parent, &rc);
        if (r < 0)
            return sq_db_error(s, rc, "looking up the parent folder");
        if (r == 0)
            return sq_error(s, OUTPOST_BAD_DATA, "folder_update: parent folder %lld does not exist",
                            (long long)parent);
        sqlite3_stmt *st = sq_stmt(s, ST_FOLDER_ANCESTOR, &rc);
        if (!st)
            return sq_db_error(s, rc, "checking the folder tree");
        sqlite3_bind_int64(st, 1, parent);
        sqlite3_bind_int64(st, 2, id);
        r = sqlite3_step(st);
        sqlite3_reset(st);
        if (r == SQLITE_ROW)
            return sq_error(s, OUTPOST_BAD_DATA,
                            "folder_update: cannot move folder %lld under itself", (long long)id);
        if (r != SQLITE_DONE)
            return sq_db_error(s, r, "checking the folder tree");
    }
    if (fields & (OUTPOST_FOLDER_F_NAME | OUTPOST_FOLDER_F_PARENT)) {
        r = sibling_exists(s, parent, name, id, &rc);
        if (r < 0)
            return sq_db_error(s, rc, "looking up sibling folders");
        if (r > 0)
            return sq_error(s, OUTPOST_BAD_DATA,
                            "folder_update: a folder named \"%s\" already exists there", name);
    }
    sqlite3_stmt *st = sq_stmt(s, ST_FOLDER_UPDATE, &rc);
    if (!st)
        return sq_poison(t, sq_db_error(s, rc, "updating a folder"));
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, fields);
    sq_bind_text(st, 3, name);
    sqlite3_bind_int64(st, 4, parent);
    sqlite3_bind_int(st, 5, (int)f->special_use);
    sqlite3_bind_int64(st, 6, f->flags);
    sq_bind_text(st, 7, f->remote_id);
    rc = sq_exec_stmt(st);
    if (rc != SQLITE_OK)
        return sq_poison(t, sq_db_error(s, rc, "updating a folder"));
    return outpost_ok();
}

static int exec_id(struct outpost_storage *s, enum sq_stmt_id id, int64_t arg)
{
    int rc;
    sqlite3_stmt *st = sq_stmt(s, id, &rc);
    if (!st)
        return rc;
    sqlite3_bind_int64(st, 1, arg);
    return sq_exec_stmt(st);
}

outpost_status sq_folder_delete(struct outpost_txn *t, int64_t id)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn(t, 1);
    if (c.code)
        return c;
    int rc = SQLITE_OK;
    int r = folder_exists(s, id, &rc);
    if (r < 0)
        return sq_db_error(s, rc, "looking up a folder");
    if (r == 0)
        return sq_error(s, OUTPOST_GONE, "folder %lld does not exist", (long long)id);
    sqlite3_stmt *st = sq_stmt(s, ST_FOLDER_HAS_CHILD, &rc);
    if (!st)
        return sq_db_error(s, rc, "looking up child folders");
    sqlite3_bind_int64(st, 1, id);
    r = sqlite3_step(st);
    sqlite3_reset(st);
    if (r == SQLITE_ROW)
        return sq_error(s, OUTPOST_BAD_DATA, "folder %lld still has child folders: delete them first",
                        (long long)id);
    if (r != SQLITE_DONE)
        return sq_db_error(s, r, "looking up child folders");
    st = sq_stmt(s, ST_FOLDER_FTS_COUNT, &rc);
    if (!st)
        return sq_db_error(s, rc, "deleting a folder");
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW)
        t->fts_garbage += sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    t->fk_id = 0;
    t->fresh_id = 0;
    static const enum sq_stmt_id steps[] = { ST_FOLDER_DEL_CONTENT, ST_FOLDER_DEL_PROPS,
                                             ST_FOLDER_DEL_ITEMS, ST_FOLDER_DEL_TOMBS, ST_FOLDER_DEL };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        rc = exec_id(s, steps[i], id);
        if (rc != SQLITE_OK)
            return sq_poison(t, sq_db_error(s, rc, "deleting a folder"));
    }
    return outpost_ok();
}

static outpost_status folder_fetch(struct outpost_txn *t, enum sq_stmt_id sid, int64_t id, const char *rid,
                                   const outpost_folder **out)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn(t, 0);
    if (c.code)
        return c;
    int rc;
    sqlite3_stmt *st = sq_stmt(s, sid, &rc);
    if (!st)
        return sq_db_error(s, rc, "reading a folder");
    if (rid)
        sq_bind_text(st, 1, rid);
    else
        sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        if (rid)
            return sq_error(s, OUTPOST_GONE, "no folder with remote id %s", rid);
        return sq_error(s, OUTPOST_GONE, "folder %lld does not exist", (long long)id);
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return sq_db_error(s, rc, "reading a folder");
    }
    int bad = sq_fill_folder(st, &t->row.folder, &t->out);
    sqlite3_reset(st);
    if (bad)
        return sq_error(s, OUTPOST_FATAL, "out of memory reading a folder");
    *out = &t->row.folder;
    return outpost_ok();
}

outpost_status sq_folder_get(struct outpost_txn *t, int64_t id, const outpost_folder **out)
{
    return folder_fetch(t, ST_FOLDER_GET, id, NULL, out);
}

outpost_status sq_folder_find_remote(struct outpost_txn *t, const char *remote_id, const outpost_folder **out)
{
    if (!remote_id)
        return sq_error(t->s, OUTPOST_BAD_DATA, "folder_find_remote: remote id is NULL");
    return folder_fetch(t, ST_FOLDER_FIND_REMOTE, 0, remote_id, out);
}

outpost_status sq_folder_list(struct outpost_txn *t, struct outpost_cursor **out)
{
    outpost_status c = sq_check_txn(t, 0);
    if (c.code)
        return c;
    sqlite3_stmt *st;
    return sq_cursor_open(t->s, ST_FOLDER_LIST, ROW_FOLDER, out, &st);
}

outpost_status sq_folder_set_sync_state(struct outpost_txn *t, int64_t id, const void *state, size_t len)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn(t, 1);
    if (c.code)
        return c;
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_FOLDER_SET_SYNC, &rc);
    if (!st)
        return sq_poison(t, sq_db_error(s, rc, "writing a folder's sync state"));
    sqlite3_bind_int64(st, 1, id);
    if (state)
        sqlite3_bind_blob64(st, 2, len ? state : "", len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 2);
    rc = sq_exec_stmt(st);
    if (rc != SQLITE_OK)
        return sq_poison(t, sq_db_error(s, rc, "writing a folder's sync state"));
    if (sqlite3_changes(s->db) == 0)
        return sq_error(s, OUTPOST_GONE, "folder %lld does not exist", (long long)id);
    return outpost_ok();
}

outpost_status sq_folder_bump(struct outpost_txn *t, int64_t folder_id, int new_uid, int64_t dtotal,
                              int64_t dunread, int64_t dflagged, uint32_t *uid, uint64_t *modseq,
                              uint32_t *kind)
{
    struct outpost_storage *s = t->s;
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_FOLDER_BUMP, &rc);
    if (!st)
        return sq_poison(t, sq_db_error(s, rc, "updating folder counters"));
    sqlite3_bind_int64(st, 1, folder_id);
    sqlite3_bind_int(st, 2, new_uid ? 1 : 0);
    sqlite3_bind_int64(st, 3, dtotal);
    sqlite3_bind_int64(st, 4, dunread);
    sqlite3_bind_int64(st, 5, dflagged);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return sq_error(s, OUTPOST_GONE, "folder %lld does not exist", (long long)folder_id);
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return sq_poison(t, sq_db_error(s, rc, "updating folder counters"));
    }
    int64_t u = sqlite3_column_int64(st, 0);
    if (uid)
        *uid = (uint32_t)u;
    if (modseq)
        *modseq = (uint64_t)sqlite3_column_int64(st, 1);
    if (kind)
        *kind = (uint32_t)sqlite3_column_int(st, 2);
    /* RETURNING rows are all computed at the first step; finish the statement */
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_poison(t, sq_db_error(s, rc, "updating folder counters"));
    if (new_uid && u >= (int64_t)UINT32_MAX)
        return sq_poison(t, sq_error(s, OUTPOST_FATAL,
                                     "folder %lld has used every UID: it must be recreated "
                                     "(new UIDVALIDITY)", (long long)folder_id));
    return outpost_ok();
}

/* The folder row is written once per run of item_put into one folder (see
 * struct outpost_txn): the first put bumps it for real and learns uidnext and
 * highest_modseq, the next ones count on in memory. */
outpost_status sq_folder_bump_put(struct outpost_txn *t, int64_t folder_id, int64_t dunread,
                                  int64_t dflagged, uint32_t *uid, uint64_t *modseq)
{
    if (t->fb_id != folder_id) {
        outpost_status c = sq_folder_flush(t);
        if (c.code)
            return c;
        c = sq_folder_bump(t, folder_id, 1, 1, dunread, dflagged, uid, modseq, NULL);
        if (c.code)
            return c;
        t->fb_id = folder_id;
        t->fb_uidnext = (int64_t)*uid + 1;
        t->fb_modseq = *modseq;
        t->fb_total = t->fb_unread = t->fb_flagged = 0;
        return outpost_ok();
    }
    if (t->fb_uidnext >= (int64_t)UINT32_MAX)
        return sq_poison(t, sq_error(t->s, OUTPOST_FATAL,
                                     "folder %lld has used every UID: it must be recreated "
                                     "(new UIDVALIDITY)", (long long)folder_id));
    *uid = (uint32_t)t->fb_uidnext++;
    *modseq = ++t->fb_modseq;
    t->fb_total++;
    t->fb_unread += dunread;
    t->fb_flagged += dflagged;
    t->fb_dirty = 1;
    return outpost_ok();
}

outpost_status sq_folder_flush(struct outpost_txn *t)
{
    struct outpost_storage *s = t->s;
    int dirty = t->fb_dirty;
    int64_t id = t->fb_id;
    t->fb_id = 0;
    t->fb_dirty = 0;
    if (!dirty)
        return outpost_ok();
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_FOLDER_PUT_FLUSH, &rc);
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, t->fb_uidnext);
        sqlite3_bind_int64(st, 3, (int64_t)t->fb_modseq);
        sqlite3_bind_int64(st, 4, t->fb_total);
        sqlite3_bind_int64(st, 5, t->fb_unread);
        sqlite3_bind_int64(st, 6, t->fb_flagged);
        rc = sq_exec_stmt(st);
    }
    if (rc != SQLITE_OK)
        return sq_poison(t, sq_db_error(s, rc, "updating folder counters"));
    return outpost_ok();
}
