/* fb_folder.c — folders: create, rename/move, delete, lookups, sync state, and
 * the one place that allocates UIDs and MODSEQs and keeps counters exact. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fb_internal.h"

#define FOLDER_NAME_MAX 8000
#define FOLDER_REMOTE_MAX 900

int fb_fill_folder(struct outpost_storage *s, const struct fb_stmt *st, outpost_folder *f, struct fb_buf *b)
{
    memset(f, 0, sizeof *f);
    f->struct_size = sizeof *f;
    f->id = fb_col_int(st, 0);
    f->kind = (uint32_t)fb_col_int(st, 1);
    f->parent_id = fb_col_int(st, 2);
    b->len = 0;
    size_t o_rid = SIZE_MAX, o_name = SIZE_MAX, o_sync = SIZE_MAX;
    fb_col_strdup(st, 3, b, &o_rid);
    fb_col_strdup(st, 4, b, &o_name);
    f->special_use = (uint32_t)fb_col_int(st, 5);
    f->flags = (uint32_t)fb_col_int(st, 6);
    f->uidvalidity = (uint32_t)fb_col_int(st, 7);
    f->uidnext = (uint32_t)fb_col_int(st, 8);
    f->highest_modseq = (uint64_t)fb_col_int(st, 9);
    f->total = (uint32_t)fb_col_int(st, 10);
    f->unread = (uint32_t)fb_col_int(st, 11);
    f->flagged = (uint32_t)fb_col_int(st, 12);
    size_t sync_len = 0;
    if (fb_val_read_split(s, st, 13, 14, VS_SYNC, f->id, FB_SYNC_INLINE, b, &o_sync, &sync_len))
        return -1;
    f->sync_state_len = sync_len;
    if (!b->p && fb_buf_reserve(b, 1))
        return -1;
    f->remote_id = o_rid == SIZE_MAX ? NULL : b->p + o_rid;
    f->name = o_name == SIZE_MAX ? NULL : b->p + o_name;
    f->sync_state = o_sync == SIZE_MAX ? NULL : b->p + o_sync;
    return 0;
}

static int valid_kind(uint32_t k)
{
    return k >= OUTPOST_ITEM_MAIL && k <= OUTPOST_ITEM_NOTE;
}

/* Does folder `id` exist? 1, 0, or -1 (status in s). */
static int folder_exists(struct outpost_storage *s, int64_t id, int64_t *parent)
{
    struct fb_stmt *st = fb_stmt(s, ST_FOLDER_PARENT);
    if (!st)
        return -1;
    fb_bind_int(st, 0, id);
    int r = fb_exec_row(s, st);
    if (r == 1 && parent)
        *parent = fb_col_int(st, 0);
    return r;
}

/* Is there a sibling called `name` under parent (other than self)? Names are
 * compared bytewise here, so trailing spaces and case always count. */
static int sibling_exists(struct outpost_storage *s, int64_t parent, const char *name, int64_t self)
{
    struct fb_stmt *st = fb_stmt(s, ST_FOLDER_SIBLINGS);
    if (!st)
        return -1;
    fb_bind_int(st, 0, parent);
    if (fb_exec(s, st))
        return -1;
    size_t want = strlen(name);
    int r, found = 0;
    while ((r = fb_fetch(s, st)) == 1) {
        size_t n;
        const char *v = fb_col_text(st, 1, &n);
        if (fb_col_int(st, 0) != self && v && n == want && memcmp(v, name, n) == 0) {
            found = 1;
            fb_stmt_close(s, st);
            break;
        }
    }
    return r < 0 ? -1 : found;
}

static outpost_status check_strings(struct outpost_storage *s, const char *name, const char *remote_id)
{
    if (name && strlen(name) > FOLDER_NAME_MAX)
        return fb_error(s, OUTPOST_BAD_DATA, "folder name longer than %d bytes", FOLDER_NAME_MAX);
    if (remote_id && strlen(remote_id) > FOLDER_REMOTE_MAX)
        return fb_error(s, OUTPOST_BAD_DATA, "folder remote id longer than %d bytes", FOLDER_REMOTE_MAX);
    return outpost_ok();
}

outpost_status fb_folder_create(struct outpost_txn *t, const outpost_folder *f, int64_t *out_id)
{
    struct outpost_storage *s = t->s;
    outpost_status c = fb_check_txn(t, 1);
    if (c.code)
        return c;
    if (!f || !f->name || !*f->name)
        return fb_error(s, OUTPOST_BAD_DATA, "folder_create: a folder needs a name");
    if (!valid_kind(f->kind))
        return fb_error(s, OUTPOST_BAD_DATA, "folder_create: unknown folder kind %u", f->kind);
    if ((c = check_strings(s, f->name, f->remote_id)).code)
        return c;
    int r;
    if (f->parent_id != 0) {
        r = folder_exists(s, f->parent_id, NULL);
        if (r < 0)
            return fb_db_error(s, "looking up the parent folder");
        if (r == 0)
            return fb_error(s, OUTPOST_BAD_DATA, "folder_create: parent folder %lld does not exist",
                            (long long)f->parent_id);
    }
    r = sibling_exists(s, f->parent_id, f->name, 0);
    if (r < 0)
        return fb_db_error(s, "looking up sibling folders");
    if (r > 0)
        return fb_error(s, OUTPOST_BAD_DATA, "folder_create: a folder named \"%s\" already exists there", f->name);
    /* a UIDVALIDITY never given before in this cache: the clock in seconds,
     * or one more than the last one when the clock is behind */
    int64_t last, id;
    if ((c = fb_counter_get(t, CT_UIDVALIDITY, &last)).code || (c = fb_counter_next(t, CT_FOLDER, &id)).code)
        return fb_poison(t, c);
    int64_t uv = (int64_t)time(NULL);
    if (uv <= last)
        uv = last + 1;
    if (uv > (int64_t)UINT32_MAX)
        uv = 1;
    fb_counter_set(t, CT_UIDVALIDITY, uv);
    struct fb_stmt *st = fb_stmt(s, ST_FOLDER_INSERT);
    if (!st)
        return fb_poison(t, fb_db_error(s, "creating a folder"));
    fb_bind_int(st, 0, id);
    fb_bind_int(st, 1, f->parent_id);
    fb_bind_int(st, 2, f->kind);
    fb_bind_text(st, 3, f->name);
    fb_bind_text(st, 4, f->remote_id);
    fb_bind_int(st, 5, f->special_use);
    fb_bind_int(st, 6, f->flags);
    fb_bind_int(st, 7, uv);
    if (fb_exec(s, st))
        return fb_poison(t, fb_db_error(s, "creating a folder"));
    if (out_id)
        *out_id = id;
    return outpost_ok();
}

outpost_status fb_folder_update(struct outpost_txn *t, int64_t id, const outpost_folder *f, uint32_t fields)
{
    struct outpost_storage *s = t->s;
    outpost_status c = fb_check_txn(t, 1);
    if (c.code)
        return c;
    const outpost_folder *cur;
    if ((c = fb_folder_get(t, id, &cur)).code)
        return c;
    outpost_folder nf = *cur;
    if (fields & OUTPOST_FOLDER_F_NAME)
        nf.name = f->name;
    if (fields & OUTPOST_FOLDER_F_PARENT)
        nf.parent_id = f->parent_id;
    if (fields & OUTPOST_FOLDER_F_SPECIAL_USE)
        nf.special_use = f->special_use;
    if (fields & OUTPOST_FOLDER_F_FLAGS)
        nf.flags = f->flags;
    if (fields & OUTPOST_FOLDER_F_REMOTE_ID)
        nf.remote_id = f->remote_id;
    if (!nf.name || !*nf.name)
        return fb_error(s, OUTPOST_BAD_DATA, "folder_update: a folder needs a name");
    if ((c = check_strings(s, nf.name, nf.remote_id)).code)
        return c;
    /* cur's strings live in t->out, which the lookups below reuse: copy */
    char *name = strdup(nf.name), *rid = nf.remote_id ? strdup(nf.remote_id) : NULL;
    if (!name || (nf.remote_id && !rid)) {
        free(name);
        free(rid);
        return fb_error(s, OUTPOST_FATAL, "out of memory updating a folder");
    }
    int r;
    if ((fields & OUTPOST_FOLDER_F_PARENT) && nf.parent_id != 0) {
        /* the new parent must exist and must not be the folder or under it */
        int64_t p = nf.parent_id;
        for (int depth = 0; p != 0 && depth < 100000; depth++) {
            if (p == id) {
                free(name);
                free(rid);
                return fb_error(s, OUTPOST_BAD_DATA, "folder_update: cannot move folder %lld under itself",
                                (long long)id);
            }
            int64_t up = 0;
            r = folder_exists(s, p, &up);
            if (r <= 0) {
                free(name);
                free(rid);
                if (r < 0)
                    return fb_db_error(s, "checking the folder tree");
                return fb_error(s, OUTPOST_BAD_DATA, "folder_update: parent folder %lld does not exist",
                                (long long)p);
            }
            p = up;
        }
    }
    if (fields & (OUTPOST_FOLDER_F_NAME | OUTPOST_FOLDER_F_PARENT)) {
        r = sibling_exists(s, nf.parent_id, name, id);
        if (r != 0) {
            free(name);
            free(rid);
            if (r < 0)
                return fb_db_error(s, "looking up sibling folders");
            return fb_error(s, OUTPOST_BAD_DATA, "folder_update: a folder named \"%.200s\" already exists there",
                            nf.name);
        }
    }
    struct fb_stmt *st = fb_stmt(s, ST_FOLDER_UPDATE);
    int bad = !st;
    if (st) {
        fb_bind_text(st, 0, name);
        fb_bind_int(st, 1, nf.parent_id);
        fb_bind_int(st, 2, nf.special_use);
        fb_bind_int(st, 3, nf.flags);
        fb_bind_text(st, 4, rid);
        fb_bind_int(st, 5, id);
        bad = fb_exec(s, st);
    }
    free(name);
    free(rid);
    if (bad)
        return fb_poison(t, fb_db_error(s, "updating a folder"));
    return outpost_ok();
}

outpost_status fb_folder_delete(struct outpost_txn *t, int64_t id)
{
    struct outpost_storage *s = t->s;
    outpost_status c = fb_check_txn(t, 1);
    if (c.code)
        return c;
    t->wr_item = 0; /* its items go */
    int r = folder_exists(s, id, NULL);
    if (r < 0)
        return fb_db_error(s, "looking up a folder");
    if (r == 0)
        return fb_error(s, OUTPOST_GONE, "folder %lld does not exist", (long long)id);
    struct fb_stmt *st = fb_stmt(s, ST_FOLDER_HAS_CHILD);
    if (!st)
        return fb_db_error(s, "looking up child folders");
    fb_bind_int(st, 0, id);
    r = fb_exec_row(s, st);
    if (r < 0)
        return fb_db_error(s, "looking up child folders");
    if (r > 0)
        return fb_error(s, OUTPOST_BAD_DATA, "folder %lld still has child folders: delete them first",
                        (long long)id);
    st = fb_stmt(s, ST_FOLDER_DEL);
    if (!st)
        return fb_poison(t, fb_db_error(s, "deleting a folder"));
    fb_bind_int(st, 0, id);
    if (fb_exec(s, st))
        return fb_poison(t, fb_db_error(s, "deleting a folder"));
    return outpost_ok();
}

static outpost_status folder_fetch(struct outpost_txn *t, enum fb_stmt_id sid, int64_t id, const char *rid,
                                   const outpost_folder **out)
{
    struct outpost_storage *s = t->s;
    outpost_status c = fb_check_txn(t, 0);
    if (c.code)
        return c;
    if (rid && strlen(rid) > FOLDER_REMOTE_MAX)
        return fb_error(s, OUTPOST_GONE, "no folder with remote id %.100s...", rid);
    struct fb_stmt *st = fb_stmt(s, sid);
    if (!st)
        return fb_db_error(s, "reading a folder");
    if (rid)
        fb_bind_text(st, 0, rid);
    else
        fb_bind_int(st, 0, id);
    int r = fb_exec_row(s, st);
    if (r < 0)
        return fb_db_error(s, "reading a folder");
    if (r == 0) {
        if (rid)
            return fb_error(s, OUTPOST_GONE, "no folder with remote id %s", rid);
        return fb_error(s, OUTPOST_GONE, "folder %lld does not exist", (long long)id);
    }
    if (fb_fill_folder(s, st, &t->row.folder, &t->out))
        return fb_db_error(s, "reading a folder");
    *out = &t->row.folder;
    return outpost_ok();
}

outpost_status fb_folder_get(struct outpost_txn *t, int64_t id, const outpost_folder **out)
{
    return folder_fetch(t, ST_FOLDER_GET, id, NULL, out);
}

outpost_status fb_folder_find_remote(struct outpost_txn *t, const char *remote_id, const outpost_folder **out)
{
    if (!remote_id)
        return fb_error(t->s, OUTPOST_BAD_DATA, "folder_find_remote: remote id is NULL");
    return folder_fetch(t, ST_FOLDER_FIND_REMOTE, 0, remote_id, out);
}

outpost_status fb_folder_list(struct outpost_txn *t, struct outpost_cursor **out)
{
    outpost_status c = fb_check_txn(t, 0);
    if (c.code)
        return c;
    struct fb_stmt *st;
    if ((c = fb_cursor_open(t->s, ST_FOLDER_LIST, ROW_FOLDER, out, &st)).code)
        return c;
    return fb_cursor_exec(out, "listing folders");
}

outpost_status fb_folder_set_sync_state(struct outpost_txn *t, int64_t id, const void *state, size_t len)
{
    struct outpost_storage *s = t->s;
    outpost_status c = fb_check_txn(t, 1);
    if (c.code)
        return c;
    if (!state)
        len = 0;
    /* up to FB_SYNC_INLINE bytes in the folder row, else whole in val; a
     * NULL length is no state */
    int in_row = len <= FB_SYNC_INLINE;
    struct fb_stmt *st = fb_stmt(s, ST_FOLDER_SET_SYNC);
    if (!st)
        return fb_poison(t, fb_db_error(s, "writing a folder's sync state"));
    if (state)
        fb_bind_int(st, 0, (int64_t)len);
    else
        fb_bind_null(st, 0);
    fb_bind_textn(st, 1, state && in_row ? (len ? state : "") : NULL, len);
    fb_bind_int(st, 2, id);
    int r = fb_exec_row(s, st);
    if (r < 0)
        return fb_poison(t, fb_db_error(s, "writing a folder's sync state"));
    if (r == 0)
        return fb_error(s, OUTPOST_GONE, "folder %lld does not exist", (long long)id);
    int had_val = !fb_col_null(st, 1) && fb_col_int(st, 1) > FB_SYNC_INLINE;
    if (state && !in_row ? fb_val_put(s, VS_SYNC, id, NULL, state, len)
                         : had_val && fb_val_del(s, VS_SYNC, id, NULL))
        return fb_poison(t, fb_db_error(s, "writing a folder's sync state"));
    return outpost_ok();
}

outpost_status fb_folder_bump(struct outpost_txn *t, int64_t folder_id, int new_uid, int64_t dtotal,
                              int64_t dunread, int64_t dflagged, uint32_t *uid, uint64_t *modseq,
                              uint32_t *kind)
{
    struct outpost_storage *s = t->s;
    struct fb_stmt *st = fb_stmt(s, ST_FOLDER_BUMP);
    if (!st)
        return fb_poison(t, fb_db_error(s, "updating folder counters"));
    fb_bind_int(st, 0, new_uid ? 1 : 0);
    fb_bind_int(st, 1, dtotal);
    fb_bind_int(st, 2, dunread);
    fb_bind_int(st, 3, dflagged);
    fb_bind_int(st, 4, folder_id);
    int r = fb_exec_row(s, st);
    if (r < 0)
        return fb_poison(t, fb_db_error(s, "updating folder counters"));
    if (r == 0)
        return fb_error(s, OUTPOST_GONE, "folder %lld does not exist", (long long)folder_id);
    int64_t u = fb_col_int(st, 0) - (new_uid ? 1 : 0);
    if (uid)
        *uid = (uint32_t)u;
    if (modseq)
        *modseq = (uint64_t)fb_col_int(st, 1);
    fb_uidsnap_touch(t, folder_id, (uint64_t)fb_col_int(st, 1), fb_col_int(st, 0));
    if (kind)
        *kind = (uint32_t)fb_col_int(st, 2);
    if (new_uid && u >= (int64_t)UINT32_MAX)
        return fb_poison(t, fb_error(s, OUTPOST_FATAL,
                                     "folder %lld has used every UID: it must be recreated (new UIDVALIDITY)",
                                     (long long)folder_id));
    return outpost_ok();
}
