/* core/store.c — the core store (see store.h): one storage writer instance
 * behind one write lock, a pool of reader instances where the storage allows
 * it, the journaled store API of outpost/frontend.h, and change events
 * delivered after commit.
 *
 * Every front-end edit is one write transaction holding the change and its
 * journal entries, so a failure anywhere leaves neither. Items and folders
 * that live only here (OUTPOST_FOLDER_LOCAL_ONLY, e.g. Conflicts) are never
 * journaled: moving an item out of such a folder journals its creation in the
 * target, moving one in journals its deletion (to the server's trash).
 *
 * Status messages returned by the API are thread-local: valid until the
 * calling thread's next store call.
 */
#include "store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "host.h"
#include "log.h"
#include "platform/platform.h"
#include "summary.h"

#define READER_POOL 3
#define CHUNK (64u * 1024)

const outpost_config_key outpost_store_keys_account[] = {
    { "delete", OUTPOST_CFG_ENUM, 0, "trash", "trash|permanent",
      "what deleting a message does on the server: move it to Deleted Items, or delete it for good" },
    { NULL, 0, 0, NULL, NULL, NULL }
};

struct reader_slot {
    struct outpost_storage *s;
    struct outpost_txn *t;
    int busy;
};

struct outpost_store_subscription {
    outpost_store_listener fn;
    void *ctx;
    struct outpost_store_subscription *next;
};

struct outpost_store {
    struct outpost_app *app;
    struct outpost_open_storage *os;
    const struct outpost_storage_methods *m;
    uint64_t caps;
    struct outpost_store_api api;

    op_mutex *wlock;                 /* the writer instance: write txns, and reads without a pool */
    struct outpost_txn *wtxn;        /* open write txn (or read txn on the writer) */

    op_mutex *rlock;                 /* the reader pool */
    op_cond *rcond;
    struct reader_slot readers[READER_POOL];
    int nreaders;

    outpost_store_event *q;          /* events of the open write txn (write lock held) */
    size_t nq, capq;

    op_mutex *llock;                 /* listeners; held while delivering */
    struct outpost_store_subscription *subs;

    op_mutex *elock;                 /* engine hooks */
    struct outpost_store_engine_hooks hooks;
    int has_hooks;

    int64_t conflicts_id;
    int permanent_delete;
};

/* ---- statuses ---------------------------------------------------------- */

static _Thread_local char tl_msg[512];

static outpost_status status(int code, const char *fmt, ...) OUTPOST_PRINTF(2, 3);
static outpost_status status(int code, const char *fmt, ...)
{
    outpost_status st = { code, 0, tl_msg };
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tl_msg, sizeof tl_msg, fmt, ap);
    va_end(ap);
    return st;
}

/* Copies a storage status (its message is the instance's, soon overwritten). */
static outpost_status keep(outpost_status st, const char *what)
{
    if (st.code == OUTPOST_OK)
        return st;
    outpost_status r = status(st.code, "%s: %s", what, st.message ? st.message : outpost_status_class_name(st.code));
    r.retry_after_ms = st.retry_after_ms;
    return r;
}

static void item_status(outpost_item_status *item_st, uint32_t i, int code, const char *msg)
{
    if (!item_st)
        return;
    item_st[i].index = i;
    item_st[i].status.code = code;
    item_st[i].status.retry_after_ms = 0;
    item_st[i].status.message = msg; /* static strings only */
}

/* ---- transactions ------------------------------------------------------ */

const struct outpost_storage_methods *outpost_store_methods(const struct outpost_store *s) { return s->m; }

outpost_status outpost_store_read_begin(struct outpost_store *s, struct outpost_txn **t)
{
    *t = NULL;
    if (!s->nreaders) {
        op_mutex_lock(s->wlock);
        outpost_status st = s->m->begin(s->os->s, OUTPOST_TXN_READ, t);
        if (st.code != OUTPOST_OK) {
            op_mutex_unlock(s->wlock);
            return keep(st, "read transaction");
        }
        s->wtxn = *t;
        return st;
    }
    op_mutex_lock(s->rlock);
    int slot = -1;
    for (;;) {
        for (int i = 0; i < s->nreaders && slot < 0; i++)
            if (!s->readers[i].busy)
                slot = i;
        if (slot >= 0)
            break;
        op_cond_wait(s->rcond, s->rlock, -1);
    }
    s->readers[slot].busy = 1;
    op_mutex_unlock(s->rlock);
    outpost_status st = s->m->begin(s->readers[slot].s, OUTPOST_TXN_READ, t);
    op_mutex_lock(s->rlock);
    if (st.code == OUTPOST_OK) {
        s->readers[slot].t = *t;
    } else {
        s->readers[slot].busy = 0;
        op_cond_signal(s->rcond);
        st = keep(st, "read transaction");
    }
    op_mutex_unlock(s->rlock);
    return st;
}

void outpost_store_read_end(struct outpost_store *s, struct outpost_txn *t)
{
    if (!t)
        return;
    if (!s->nreaders) {
        s->m->rollback(t);
        s->wtxn = NULL;
        op_mutex_unlock(s->wlock);
        return;
    }
    s->m->rollback(t);
    op_mutex_lock(s->rlock);
    for (int i = 0; i < s->nreaders; i++)
        if (s->readers[i].busy && s->readers[i].t == t) {
            s->readers[i].busy = 0;
            s->readers[i].t = NULL;
            op_cond_signal(s->rcond);
            break;
        }
    op_mutex_unlock(s->rlock);
}

outpost_status outpost_store_write_begin(struct outpost_store *s, struct outpost_txn **t)
{
    op_mutex_lock(s->wlock);
    s->nq = 0;
    outpost_status st = s->m->begin(s->os->s, OUTPOST_TXN_WRITE, t);
    if (st.code != OUTPOST_OK) {
        *t = NULL;
        op_mutex_unlock(s->wlock);
        return keep(st, "write transaction");
    }
    s->wtxn = *t;
    return st;
}

static void deliver(struct outpost_store *s, const outpost_store_event *ev, size_t n)
{
    if (!n)
        return;
    op_mutex_lock(s->llock);
    for (size_t i = 0; i < n; i++)
        for (struct outpost_store_subscription *l = s->subs; l; l = l->next)
            l->fn(l->ctx, &ev[i]);
    op_mutex_unlock(s->llock);
}

outpost_status outpost_store_write_commit(struct outpost_store *s, struct outpost_txn *t)
{
    /* Events carry the folder's MODSEQ after the change. */
    for (size_t i = 0; i < s->nq; i++) {
        const outpost_folder *f;
        if (s->q[i].kind == OUTPOST_EVENT_ITEMS && s->q[i].folder_id > 0 &&
            s->m->folder_get(t, s->q[i].folder_id, &f).code == OUTPOST_OK)
            s->q[i].highest_modseq = f->highest_modseq;
    }
    outpost_status st = s->m->commit(t);
    s->wtxn = NULL;
    outpost_store_event *q = s->q;
    size_t nq = s->nq;
    s->q = NULL;
    s->nq = s->capq = 0;
    op_mutex_unlock(s->wlock);
    if (st.code == OUTPOST_OK)
        deliver(s, q, nq);
    else
        st = keep(st, "commit");
    free(q);
    return st;
}

void outpost_store_write_rollback(struct outpost_store *s, struct outpost_txn *t)
{
    s->m->rollback(t);
    s->wtxn = NULL;
    s->nq = 0;
    op_mutex_unlock(s->wlock);
}

outpost_status outpost_store_integrity_check(struct outpost_store *s)
{
    op_mutex_lock(s->wlock);
    outpost_status st = s->m->integrity_check(s->os->s);
    if (st.code != OUTPOST_OK) /* the instance's message: copied before the lock goes */
        st = status(st.code, "%s", st.message ? st.message : outpost_status_class_name(st.code));
    op_mutex_unlock(s->wlock);
    return st;
}

void outpost_store_queue_event(struct outpost_store *s, const outpost_store_event *ev)
{
    for (size_t i = 0; i < s->nq; i++) /* one event per folder and kind */
        if (s->q[i].kind == ev->kind && s->q[i].folder_id == ev->folder_id && s->q[i].item_id == ev->item_id)
            return;
    if (s->nq == s->capq) {
        size_t cap = s->capq ? s->capq * 2 : 8;
        outpost_store_event *q = realloc(s->q, cap * sizeof *q);
        if (!q)
            return; /* an event lost to OOM: listeners resync on the next one */
        s->q = q;
        s->capq = cap;
    }
    s->q[s->nq] = *ev;
    s->q[s->nq].struct_size = sizeof *ev;
    s->nq++;
}

static void queue_items(struct outpost_store *s, int64_t folder)
{
    outpost_store_event ev = { sizeof ev, OUTPOST_EVENT_ITEMS, folder, 0, 0 };
    outpost_store_queue_event(s, &ev);
}

static void queue_folders(struct outpost_store *s)
{
    outpost_store_event ev = { sizeof ev, OUTPOST_EVENT_FOLDERS, 0, 0, 0 };
    outpost_store_queue_event(s, &ev);
}

/* ---- helpers ----------------------------------------------------------- */

static char *xstrdup(const char *v) { return v ? strdup(v) : NULL; }

void outpost_item_copy_free(struct outpost_item_copy *c)
{
    for (size_t i = 0; i < sizeof c->str / sizeof c->str[0]; i++)
        free(c->str[i]);
    memset(c, 0, sizeof *c);
}

int outpost_item_copy_from(struct outpost_item_copy *c, const outpost_item *src)
{
    memset(c, 0, sizeof *c);
    size_t n = src->struct_size < sizeof c->it ? src->struct_size : sizeof c->it;
    memcpy(&c->it, src, n);
    c->it.struct_size = sizeof c->it;
    const char **fields[] = { &c->it.remote_id, &c->it.remote_version, &c->it.keywords, &c->it.subject,
                              &c->it.from,      &c->it.to,             &c->it.cc,       &c->it.message_id,
                              &c->it.object_uid, &c->it.envelope,      &c->it.bodystructure, &c->it.preview };
    for (size_t i = 0; i < 12; i++) {
        c->str[i] = xstrdup(*fields[i]);
        if (*fields[i] && !c->str[i]) {
            outpost_item_copy_free(c);
            return -1;
        }
        *fields[i] = c->str[i];
    }
    return 0;
}

struct folder_info {
    int64_t id, parent_id;
    uint32_t kind, special_use, flags;
    char *remote_id, *name;
};

static void folder_info_free(struct folder_info *f)
{
    free(f->remote_id);
    free(f->name);
    memset(f, 0, sizeof *f);
}

static outpost_status folder_info(struct outpost_store *s, struct outpost_txn *t, int64_t id, struct folder_info *out)
{
    memset(out, 0, sizeof *out);
    const outpost_folder *f;
    outpost_status st = s->m->folder_get(t, id, &f);
    if (st.code == OUTPOST_GONE)
        return status(OUTPOST_GONE, "no folder with id %lld", (long long)id);
    if (st.code != OUTPOST_OK)
        return keep(st, "reading a folder");
    out->id = f->id;
    out->parent_id = f->parent_id;
    out->kind = f->kind;
    out->special_use = f->special_use;
    out->flags = f->flags;
    out->remote_id = xstrdup(f->remote_id);
    out->name = xstrdup(f->name);
    return outpost_ok();
}

static int local_only(const struct folder_info *f) { return (f->flags & OUTPOST_FOLDER_LOCAL_ONLY) != 0; }

/* folder_info of the folder a move, copy or append puts items into. A folder
 * that holds no items (\Noselect) is refused with BAD_DATA, naming `verb`; on
 * any error *out holds nothing to free. */
static outpost_status item_target_folder(struct outpost_store *s, struct outpost_txn *t, int64_t id, const char *verb,
                                         struct folder_info *out)
{
    outpost_status st = folder_info(s, t, id, out);
    if (st.code == OUTPOST_OK && (out->flags & OUTPOST_FOLDER_NOSELECT)) {
        st = status(OUTPOST_BAD_DATA, "%s: folder '%s' holds no items", verb, out->name ? out->name : "");
        folder_info_free(out);
    }
    return st;
}

static outpost_status journal(struct outpost_store *s, struct outpost_txn *t, uint32_t op, int64_t item,
                              int64_t folder, int64_t target, uint32_t flags, const char *keywords,
                              const char *name, const char *remote_id, const char *payload)
{
    outpost_journal_entry e;
    memset(&e, 0, sizeof e);
    e.struct_size = sizeof e;
    e.op = op;
    e.item_id = item;
    e.folder_id = folder;
    e.target_folder_id = target;
    e.flags = flags;
    e.keywords = keywords;
    e.name = name;
    e.remote_id = remote_id;
    e.payload = payload;
    e.payload_len = payload ? strlen(payload) : 0;
    return keep(s->m->journal_append(t, &e), "journal");
}

static struct outpost_store *store_of(const struct outpost_host *h)
{
    return h ? outpost_core_host_store_ctx(h) : NULL;
}

#define STORE_OR_FAIL(s, h)                                                             \
    struct outpost_store *s = store_of(h);                                              \
    if (!s)                                                                             \
        return status(OUTPOST_FATAL, "store API called through a host with no store bound")

/* ---- keywords (space-separated sets) ------------------------------------ */

static int kw_has(const char *set, const char *w, size_t n)
{
    for (const char *p = set; p && *p;) {
        while (*p == ' ')
            p++;
        size_t l = strcspn(p, " ");
        if (l == n && l && !strncasecmp(p, w, n))
            return 1;
        p += l;
    }
    return 0;
}

static void kw_append(char **out, size_t *len, const char *w, size_t n)
{
    if (!*out)
        return;
    char *r = realloc(*out, *len + n + 2);
    if (!r) {
        free(*out);
        *out = NULL;
        return;
    }
    if (*len)
        r[(*len)++] = ' ';
    memcpy(r + *len, w, n);
    *len += n;
    r[*len] = '\0';
    *out = r;
}

/* The new keyword set (malloc'd, "" for none; NULL on OOM). */
static char *kw_combine(const char *cur, const char *given, uint32_t op)
{
    char *out = calloc(1, 1);
    size_t len = 0;
    const char *base = op == OUTPOST_FLAGS_REPLACE ? given : cur;
    for (const char *p = base; p && *p && out;) {
        while (*p == ' ')
            p++;
        size_t l = strcspn(p, " ");
        int drop = op == OUTPOST_FLAGS_REMOVE && kw_has(given, p, l);
        if (l && !drop && !kw_has(out, p, l))
            kw_append(&out, &len, p, l);
        p += l;
    }
    if (op == OUTPOST_FLAGS_ADD)
        for (const char *p = given; p && *p && out;) {
            while (*p == ' ')
                p++;
            size_t l = strcspn(p, " ");
            if (l && !kw_has(out, p, l))
                kw_append(&out, &len, p, l);
            p += l;
        }
    return out;
}

static int kw_equal(const char *a, const char *b)
{
    for (int pass = 0; pass < 2; pass++) {
        const char *x = pass ? b : a, *y = pass ? a : b;
        for (const char *p = x; p && *p;) {
            while (*p == ' ')
                p++;
            size_t l = strcspn(p, " ");
            if (l && !kw_has(y, p, l))
                return 0;
            p += l;
        }
    }
    return 1;
}

/* ---- store API: reading -------------------------------------------------- */

static outpost_status api_read_begin(const struct outpost_host *h, struct outpost_txn **out)
{
    STORE_OR_FAIL(s, h);
    return outpost_store_read_begin(s, out);
}

static void api_read_end(const struct outpost_host *h, struct outpost_txn *t)
{
    struct outpost_store *s = store_of(h);
    if (s)
        outpost_store_read_end(s, t);
}

/* ---- store API: item edits ------------------------------------------------ */

/* set_flags and set_flags_unchanged: `unchanged` (NULL: no condition) holds per item the MODSEQ it must
 * not have gone past; the test and the change are in the one write transaction. */
static outpost_status flags_edit(const struct outpost_host *h, const int64_t *ids, uint32_t n, uint32_t op,
                                 uint32_t flags, const char *keywords, const uint64_t *unchanged, uint64_t *modseqs,
                                 outpost_item_status *item_st)
{
    STORE_OR_FAIL(s, h);
    if (op > OUTPOST_FLAGS_REMOVE)
        return status(OUTPOST_BAD_DATA, "set_flags: unknown operation %u", op);
    struct outpost_txn *t;
    outpost_status st = outpost_store_write_begin(s, &t);
    if (st.code != OUTPOST_OK)
        return st;
    outpost_status first = outpost_ok();
    for (uint32_t i = 0; i < n; i++) {
        item_status(item_st, i, OUTPOST_OK, NULL);
        const outpost_item *cur;
        st = s->m->item_get(t, ids[i], &cur);
        if (st.code == OUTPOST_GONE) {
            item_status(item_st, i, OUTPOST_GONE, "no such item");
            if (first.code == OUTPOST_OK)
                first = status(OUTPOST_GONE, "set_flags: no item with id %lld", (long long)ids[i]);
            if (modseqs)
                modseqs[i] = 0;
            continue;
        }
        if (st.code != OUTPOST_OK)
            goto fail;
        int64_t folder = cur->folder_id;
        uint64_t modseq = cur->modseq;
        if (unchanged && modseq > unchanged[i]) {
            /* changed since the caller looked: left as it is (RFC 7162 3.1.3 UNCHANGEDSINCE) */
            item_status(item_st, i, OUTPOST_CONFLICT, "changed since the given MODSEQ");
            if (first.code == OUTPOST_OK)
                first = status(OUTPOST_CONFLICT, "set_flags: item %lld has MODSEQ %llu, past %llu", (long long)ids[i],
                               (unsigned long long)modseq, (unsigned long long)unchanged[i]);
            if (modseqs)
                modseqs[i] = modseq;
            continue;
        }
        uint32_t old = cur->flags;
        uint32_t nf = op == OUTPOST_FLAGS_REPLACE ? flags : op == OUTPOST_FLAGS_ADD ? old | flags : old & ~flags;
        char *nk = kw_combine(cur->keywords, keywords, op);
        if (!nk) {
            st = status(OUTPOST_FATAL, "set_flags: out of memory");
            goto fail_noted;
        }
        int same = nf == old && kw_equal(nk, cur->keywords);
        char *remote = same ? NULL : xstrdup(cur->remote_id);
        if (!same) {
            struct folder_info fi;
            memset(&fi, 0, sizeof fi);
            st = s->m->item_set_flags(t, ids[i], nf, *nk ? nk : NULL, &modseq);
            if (st.code == OUTPOST_OK)
                st = folder_info(s, t, folder, &fi);
            if (st.code == OUTPOST_OK && !local_only(&fi))
                st = journal(s, t, OUTPOST_J_ITEM_FLAGS, ids[i], folder, 0, nf, *nk ? nk : NULL, NULL, remote, NULL);
            folder_info_free(&fi);
            queue_items(s, folder);
        }
        free(nk);
        free(remote);
        if (st.code != OUTPOST_OK)
            goto fail;
        if (modseqs)
            modseqs[i] = modseq;
    }
    st = outpost_store_write_commit(s, t);
    if (st.code != OUTPOST_OK)
        return st;
    return item_st ? outpost_ok() : first;
fail:
    st = keep(st, "set_flags");
fail_noted:
    outpost_store_write_rollback(s, t);
    return st;
}

static outpost_status api_set_flags(const struct outpost_host *h, const int64_t *ids, uint32_t n, uint32_t op,
                                    uint32_t flags, const char *keywords, uint64_t *modseqs,
                                    outpost_item_status *item_st)
{
    return flags_edit(h, ids, n, op, flags, keywords, NULL, modseqs, item_st);
}

static outpost_status api_set_flags_unchanged(const struct outpost_host *h, const int64_t *ids, uint32_t n,
                                              uint32_t op, uint32_t flags, const char *keywords,
                                              const uint64_t *unchanged_since, uint64_t *modseqs,
                                              outpost_item_status *item_st)
{
    return flags_edit(h, ids, n, op, flags, keywords, unchanged_since, modseqs, item_st);
}

/* Reads item ids[i] for a move or copy into a folder of `kind`. Returns 1 with
 * *cur when it can go there; 0 when it cannot: either a per-item refusal
 * (GONE or another kind — recorded in item_st and, the first time, in *first;
 * *st is OK and the caller goes on) or a storage failure left in *st. */
static int item_for_target(struct outpost_store *s, struct outpost_txn *t, int64_t id, uint32_t i, uint32_t kind,
                           const char *verb, outpost_item_status *item_st, outpost_status *first,
                           outpost_status *st, const outpost_item **cur)
{
    *st = s->m->item_get(t, id, cur);
    if (st->code == OUTPOST_OK && (*cur)->kind == kind)
        return 1;
    if (st->code == OUTPOST_GONE || st->code == OUTPOST_OK) {
        int gone = st->code == OUTPOST_GONE;
        item_status(item_st, i, gone ? OUTPOST_GONE : OUTPOST_BAD_DATA,
                    gone ? "no such item" : "item kind differs from the target folder's");
        if (first->code == OUTPOST_OK)
            *first = status(gone ? OUTPOST_GONE : OUTPOST_BAD_DATA, "%s: item %lld %s", verb, (long long)id,
                            gone ? "does not exist" : "is of another kind than the target folder");
        *st = outpost_ok();
    }
    return 0;
}

static outpost_status api_move(const struct outpost_host *h, const int64_t *ids, uint32_t n, int64_t to,
                               uint32_t *new_uids, outpost_item_status *item_st)
{
    STORE_OR_FAIL(s, h);
    struct outpost_txn *t;
    outpost_status st = outpost_store_write_begin(s, &t);
    if (st.code != OUTPOST_OK)
        return st;
    struct folder_info target, src;
    memset(&src, 0, sizeof src);
    st = item_target_folder(s, t, to, "move", &target);
    if (st.code != OUTPOST_OK) {
        outpost_store_write_rollback(s, t);
        return st;
    }
    outpost_status first = outpost_ok();
    for (uint32_t i = 0; i < n; i++) {
        item_status(item_st, i, OUTPOST_OK, NULL);
        if (new_uids)
            new_uids[i] = 0;
        const outpost_item *cur;
        if (!item_for_target(s, t, ids[i], i, target.kind, "move", item_st, &first, &st, &cur)) {
            if (st.code != OUTPOST_OK)
                goto fail;
            continue;
        }
        int64_t from = cur->folder_id;
        char *remote = xstrdup(cur->remote_id);
        if (src.id != from) {
            folder_info_free(&src);
            st = folder_info(s, t, from, &src);
        }
        uint32_t uid = 0;
        if (st.code == OUTPOST_OK)
            st = s->m->item_move(t, ids[i], to, &uid);
        if (st.code == OUTPOST_OK && from != to) {
            if (!local_only(&src) && !local_only(&target))
                st = journal(s, t, OUTPOST_J_ITEM_MOVE, ids[i], from, to, 0, NULL, NULL, remote, NULL);
            else if (local_only(&src) && !local_only(&target)) /* leaves Conflicts: new on the server */
                st = journal(s, t, OUTPOST_J_ITEM_CREATE, ids[i], to, 0, 0, NULL, NULL, NULL, NULL);
            else if (!local_only(&src) && local_only(&target)) /* into Conflicts: gone from the server */
                st = journal(s, t, OUTPOST_J_ITEM_DELETE, ids[i], from, 0, 0, NULL, NULL, remote, NULL);
        }
        free(remote);
        if (st.code != OUTPOST_OK)
            goto fail;
        if (new_uids)
            new_uids[i] = uid;
        queue_items(s, from);
        queue_items(s, to);
    }
    folder_info_free(&src);
    folder_info_free(&target);
    st = outpost_store_write_commit(s, t);
    if (st.code != OUTPOST_OK)
        return st;
    return item_st ? outpost_ok() : first;
fail:
    st = keep(st, "move");
    folder_info_free(&src);
    folder_info_free(&target);
    outpost_store_write_rollback(s, t);
    return st;
}

/* Copies the cached content of item `from` to item `to` in chunks. */
static outpost_status copy_content(struct outpost_store *s, struct outpost_txn *t, int64_t from, int64_t to)
{
    char *buf = malloc(CHUNK);
    if (!buf)
        return status(OUTPOST_FATAL, "out of memory copying content");
    uint64_t off = 0;
    outpost_status st;
    for (;;) {
        size_t got = 0;
        st = s->m->content_read(t, from, off, buf, CHUNK, &got);
        if (st.code != OUTPOST_OK || !got)
            break;
        st = s->m->content_write(t, to, off, buf, got);
        if (st.code != OUTPOST_OK)
            break;
        off += got;
    }
    free(buf);
    return st;
}

static outpost_status api_copy(const struct outpost_host *h, const int64_t *ids, uint32_t n, int64_t to,
                               int64_t *new_ids, uint32_t *new_uids, outpost_item_status *item_st)
{
    STORE_OR_FAIL(s, h);
    struct outpost_txn *t;
    outpost_status st = outpost_store_write_begin(s, &t);
    if (st.code != OUTPOST_OK)
        return st;
    struct folder_info target, src;
    memset(&src, 0, sizeof src);
    st = item_target_folder(s, t, to, "copy", &target);
    if (st.code != OUTPOST_OK) {
        outpost_store_write_rollback(s, t);
        return st;
    }
    outpost_status first = outpost_ok();
    for (uint32_t i = 0; i < n; i++) {
        item_status(item_st, i, OUTPOST_OK, NULL);
        if (new_ids)
            new_ids[i] = 0;
        if (new_uids)
            new_uids[i] = 0;
        const outpost_item *cur;
        if (!item_for_target(s, t, ids[i], i, target.kind, "copy", item_st, &first, &st, &cur)) {
            if (st.code != OUTPOST_OK)
                goto fail;
            continue;
        }
        struct outpost_item_copy c;
        if (outpost_item_copy_from(&c, cur) != 0) {
            st = status(OUTPOST_FATAL, "copy: out of memory");
            goto fail_noted;
        }
        int64_t from_folder = c.it.folder_id;
        const char *src_remote = c.it.remote_id;
        uint32_t state = c.it.content_state;
        c.it.id = 0;
        c.it.folder_id = to;
        c.it.remote_id = NULL;
        c.it.remote_version = NULL;
        c.it.uid = 0;
        c.it.modseq = 0;
        c.it.content_state = OUTPOST_CONTENT_NONE;
        c.it.cached_size = 0;
        if (src.id != from_folder) {
            folder_info_free(&src);
            st = folder_info(s, t, from_folder, &src);
        }
        if (st.code == OUTPOST_OK)
            st = s->m->item_put(t, &c.it);
        if (st.code == OUTPOST_OK && state != OUTPOST_CONTENT_NONE) {
            if (state == OUTPOST_CONTENT_COMPLETE)
                st = copy_content(s, t, ids[i], c.it.id);
            if (st.code == OUTPOST_OK)
                st = s->m->content_finish(t, c.it.id, state);
        }
        if (st.code == OUTPOST_OK && !local_only(&target)) {
            char payload[64];
            snprintf(payload, sizeof payload, OUTPOST_J_COPY_SOURCE_KEY "%lld", (long long)ids[i]);
            if (local_only(&src)) /* out of Conflicts: a new item on the server */
                st = journal(s, t, OUTPOST_J_ITEM_CREATE, c.it.id, to, 0, 0, NULL, NULL, NULL, NULL);
            else
                st = journal(s, t, OUTPOST_J_ITEM_COPY, c.it.id, from_folder, to, 0, NULL, NULL, src_remote, payload);
        }
        if (st.code == OUTPOST_OK) {
            if (new_ids)
                new_ids[i] = c.it.id;
            if (new_uids)
                new_uids[i] = c.it.uid;
        }
        outpost_item_copy_free(&c);
        if (st.code != OUTPOST_OK)
            goto fail;
        queue_items(s, to);
    }
    folder_info_free(&src);
    folder_info_free(&target);
    st = outpost_store_write_commit(s, t);
    if (st.code != OUTPOST_OK)
        return st;
    return item_st ? outpost_ok() : first;
fail:
    st = keep(st, "copy");
fail_noted:
    folder_info_free(&src);
    folder_info_free(&target);
    outpost_store_write_rollback(s, t);
    return st;
}

static outpost_status api_remove(const struct outpost_host *h, const int64_t *ids, uint32_t n, int permanent,
                                 outpost_item_status *item_st)
{
    STORE_OR_FAIL(s, h);
    uint32_t jflags = permanent || s->permanent_delete ? OUTPOST_J_PERMANENT : 0;
    struct outpost_txn *t;
    outpost_status st = outpost_store_write_begin(s, &t);
    if (st.code != OUTPOST_OK)
        return st;
    struct folder_info src;
    memset(&src, 0, sizeof src);
    outpost_status first = outpost_ok();
    for (uint32_t i = 0; i < n; i++) {
        item_status(item_st, i, OUTPOST_OK, NULL);
        const outpost_item *cur;
        st = s->m->item_get(t, ids[i], &cur);
        if (st.code == OUTPOST_GONE) {
            item_status(item_st, i, OUTPOST_GONE, "no such item");
            if (first.code == OUTPOST_OK)
                first = status(OUTPOST_GONE, "remove: no item with id %lld", (long long)ids[i]);
            st = outpost_ok();
            continue;
        }
        if (st.code != OUTPOST_OK)
            goto fail;
        int64_t folder = cur->folder_id;
        char *remote = xstrdup(cur->remote_id);
        if (src.id != folder) {
            folder_info_free(&src);
            st = folder_info(s, t, folder, &src);
        }
        if (st.code == OUTPOST_OK)
            st = s->m->item_delete(t, ids[i]);
        if (st.code == OUTPOST_OK && !local_only(&src))
            st = journal(s, t, OUTPOST_J_ITEM_DELETE, ids[i], folder, 0, jflags, NULL, NULL, remote, NULL);
        free(remote);
        if (st.code != OUTPOST_OK)
            goto fail;
        queue_items(s, folder);
    }
    folder_info_free(&src);
    st = outpost_store_write_commit(s, t);
    if (st.code != OUTPOST_OK)
        return st;
    return item_st ? outpost_ok() : first;
fail:
    st = keep(st, "remove");
    folder_info_free(&src);
    outpost_store_write_rollback(s, t);
    return st;
}

/* Streams the reader into the item's content and the summary builder. */
static outpost_status ingest(struct outpost_store *s, struct outpost_txn *t, int64_t item, uint32_t kind,
                             struct outpost_reader *r, outpost_item *it, struct outpost_summary *arena)
{
    struct outpost_summary_builder *b = outpost_summary_builder_new(kind);
    char *buf = malloc(CHUNK);
    char err[256];
    outpost_status st = outpost_ok();
    if (!b || !buf) {
        st = status(OUTPOST_FATAL, "out of memory reading content");
        goto out;
    }
    uint64_t off = 0;
    for (;;) {
        size_t got = 0;
        st = r->read(r->ctx, buf, CHUNK, &got);
        if (st.code != OUTPOST_OK) {
            st = keep(st, "reading the content");
            goto out;
        }
        if (!got)
            break;
        if (outpost_summary_builder_feed(b, buf, got, err, sizeof err) != 0) {
            st = status(OUTPOST_FATAL, "%s", err);
            goto out;
        }
        st = s->m->content_write(t, item, off, buf, got);
        if (st.code != OUTPOST_OK) {
            st = keep(st, "storing the content");
            goto out;
        }
        off += got;
    }
    if (!off)
        st = s->m->content_write(t, item, 0, "", 0); /* an empty item: discard earlier content */
    if (st.code == OUTPOST_OK && outpost_summary_builder_finish(b, it, arena, err, sizeof err) != 0)
        st = status(OUTPOST_BAD_DATA, "%s", err);
out:
    free(buf);
    outpost_summary_builder_free(b);
    return st;
}

static int frontend_key(const char *k);

/* Puts a new item made from `content` into folder `folder` inside write
 * transaction t, with its journaled create (none in a local-only folder);
 * *new_id / *new_uid receive its id and UID. On failure the caller rolls
 * back. */
static outpost_status append_txn(struct outpost_store *s, struct outpost_txn *t, int64_t folder,
                                 struct outpost_reader *content, uint32_t flags, const char *keywords,
                                 int64_t internal_date, int64_t *new_id, uint32_t *new_uid)
{
    struct folder_info fi;
    struct outpost_summary arena;
    outpost_summary_init(&arena);
    outpost_status st = item_target_folder(s, t, folder, "append", &fi);
    if (st.code != OUTPOST_OK)
        return st;
    /* The item is put first (for its id) and gets its summary once the
     * content has streamed through; nobody sees it before commit. */
    outpost_item it;
    memset(&it, 0, sizeof it);
    it.struct_size = sizeof it;
    it.kind = fi.kind;
    it.folder_id = folder;
    it.flags = flags;
    it.keywords = keywords && *keywords ? keywords : NULL;
    it.internal_date = internal_date ? internal_date : op_now_ms();
    it.content_state = OUTPOST_CONTENT_NONE;
    st = s->m->item_put(t, &it);
    if (st.code != OUTPOST_OK)
        goto fail;
    st = ingest(s, t, it.id, fi.kind, content, &it, &arena);
    if (st.code != OUTPOST_OK)
        goto fail_noted;
    if (!it.date)
        it.date = it.internal_date;
    it.content_state = OUTPOST_CONTENT_COMPLETE;
    st = s->m->item_update(t, &it, OUTPOST_ITEM_F_SUMMARY);
    if (st.code == OUTPOST_OK)
        st = s->m->content_finish(t, it.id, OUTPOST_CONTENT_COMPLETE);
    if (st.code == OUTPOST_OK && !local_only(&fi))
        st = journal(s, t, OUTPOST_J_ITEM_CREATE, it.id, folder, 0, flags, it.keywords, NULL, NULL,
                     it.message_id ? it.message_id : it.object_uid);
    if (st.code != OUTPOST_OK)
        goto fail;
    /* the UID and MODSEQ after the summary update */
    const outpost_item *stored;
    if (s->m->item_get(t, it.id, &stored).code == OUTPOST_OK)
        it.uid = stored->uid;
    queue_items(s, folder);
    *new_id = it.id;
    *new_uid = it.uid;
    folder_info_free(&fi);
    outpost_summary_release(&arena);
    return outpost_ok();
fail:
    st = keep(st, "append");
fail_noted:
    folder_info_free(&fi);
    outpost_summary_release(&arena);
    return st;
}

static outpost_status api_append(const struct outpost_host *h, int64_t folder, struct outpost_reader *content,
                                 uint32_t flags, const char *keywords, int64_t internal_date, int64_t *new_id,
                                 uint32_t *new_uid)
{
    STORE_OR_FAIL(s, h);
    if (!content || !content->read)
        return status(OUTPOST_BAD_DATA, "append: no content");
    struct outpost_txn *t;
    outpost_status st = outpost_store_write_begin(s, &t);
    if (st.code != OUTPOST_OK)
        return st;
    int64_t id = 0;
    uint32_t uid = 0;
    st = append_txn(s, t, folder, content, flags, keywords, internal_date, &id, &uid);
    if (st.code != OUTPOST_OK) {
        outpost_store_write_rollback(s, t);
        return st;
    }
    st = outpost_store_write_commit(s, t);
    if (st.code == OUTPOST_OK) {
        if (new_id)
            *new_id = id;
        if (new_uid)
            *new_uid = uid;
    }
    return st;
}

static outpost_status api_replace(const struct outpost_host *h, int64_t id, struct outpost_reader *content,
                                  uint32_t flags, const char *keywords, int64_t internal_date,
                                  const char *const *carry, int64_t *new_id, uint32_t *new_uid)
{
    STORE_OR_FAIL(s, h);
    if (!content || !content->read)
        return status(OUTPOST_BAD_DATA, "replace: no content");
    for (size_t i = 0; carry && carry[i]; i++)
        if (!frontend_key(carry[i]))
            return status(OUTPOST_BAD_DATA, "replace: property name '%s' must be '<front-end>.<name>'", carry[i]);
    struct outpost_txn *t;
    outpost_status st = outpost_store_write_begin(s, &t);
    if (st.code != OUTPOST_OK)
        return st;
    struct folder_info fi;
    memset(&fi, 0, sizeof fi);
    char *remote = NULL;
    int64_t folder = 0, nid = 0;
    uint32_t nuid = 0;
    const outpost_item *cur;
    st = s->m->item_get(t, id, &cur);
    if (st.code == OUTPOST_GONE) {
        st = status(OUTPOST_GONE, "replace: no item with id %lld", (long long)id);
        goto fail_noted;
    }
    if (st.code != OUTPOST_OK)
        goto fail;
    folder = cur->folder_id;
    remote = xstrdup(cur->remote_id);
    if (!internal_date)
        internal_date = cur->internal_date;
    st = append_txn(s, t, folder, content, flags, keywords, internal_date, &nid, &nuid);
    if (st.code != OUTPOST_OK)
        goto fail_noted;
    for (size_t i = 0; carry && carry[i] && st.code == OUTPOST_OK; i++) {
        const void *v = NULL;
        size_t len = 0;
        st = s->m->prop_get(t, id, carry[i], &v, &len);
        if (st.code == OUTPOST_GONE) {
            st = outpost_ok(); /* nothing to carry */
            continue;
        }
        void *copy = st.code == OUTPOST_OK ? malloc(len ? len : 1) : NULL;
        if (st.code == OUTPOST_OK && !copy)
            st = status(OUTPOST_FATAL, "replace: out of memory");
        if (copy) {
            if (len)
                memcpy(copy, v, len);
            st = s->m->prop_set(t, nid, carry[i], copy, len);
            free(copy);
        }
    }
    if (st.code == OUTPOST_OK)
        st = folder_info(s, t, folder, &fi);
    if (st.code == OUTPOST_OK)
        st = s->m->item_delete(t, id);
    if (st.code == OUTPOST_OK && !local_only(&fi))
        st = journal(s, t, OUTPOST_J_ITEM_DELETE, id, folder, 0, OUTPOST_J_PERMANENT, NULL, NULL, remote, NULL);
    if (st.code != OUTPOST_OK)
        goto fail;
    free(remote);
    folder_info_free(&fi);
    st = outpost_store_write_commit(s, t);
    if (st.code == OUTPOST_OK) {
        if (new_id)
            *new_id = nid;
        if (new_uid)
            *new_uid = nuid;
    }
    return st;
fail:
    st = keep(st, "replace");
fail_noted:
    free(remote);
    folder_info_free(&fi);
    outpost_store_write_rollback(s, t);
    return st;
}

static outpost_status api_update(const struct outpost_host *h, int64_t id, struct outpost_reader *content)
{
    STORE_OR_FAIL(s, h);
    if (!content || !content->read)
        return status(OUTPOST_BAD_DATA, "update: no content");
    struct outpost_txn *t;
    outpost_status st = outpost_store_write_begin(s, &t);
    if (st.code != OUTPOST_OK)
        return st;
    struct outpost_summary arena;
    outpost_summary_init(&arena);
    struct outpost_item_copy c;
    memset(&c, 0, sizeof c);
    struct folder_info fi;
    memset(&fi, 0, sizeof fi);
    const outpost_item *cur;
    st = s->m->item_get(t, id, &cur);
    if (st.code == OUTPOST_GONE) {
        st = status(OUTPOST_GONE, "update: no item with id %lld", (long long)id);
        goto fail_noted;
    }
    if (st.code != OUTPOST_OK)
        goto fail;
    if (cur->kind == OUTPOST_ITEM_MAIL) {
        /* IMAP clients cache a message's size and structure by UID forever */
        st = status(OUTPOST_BAD_DATA, "update: a message's content never changes; append a new message instead");
        goto fail_noted;
    }
    if (outpost_item_copy_from(&c, cur) != 0) {
        st = status(OUTPOST_FATAL, "update: out of memory");
        goto fail_noted;
    }
    st = folder_info(s, t, c.it.folder_id, &fi);
    if (st.code != OUTPOST_OK)
        goto fail_noted;
    /* the summary fields are recomputed from the new content */
    c.it.subject = c.it.from = c.it.to = c.it.cc = c.it.message_id = c.it.object_uid = NULL;
    c.it.envelope = c.it.bodystructure = c.it.preview = NULL;
    c.it.date = 0;
    st = ingest(s, t, id, c.it.kind, content, &c.it, &arena);
    if (st.code != OUTPOST_OK)
        goto fail_noted;
    if (!c.it.date)
        c.it.date = c.it.internal_date;
    c.it.content_state = OUTPOST_CONTENT_COMPLETE;
    st = s->m->item_update(t, &c.it, OUTPOST_ITEM_F_SUMMARY);
    if (st.code == OUTPOST_OK)
        st = s->m->content_finish(t, id, OUTPOST_CONTENT_COMPLETE);
    if (st.code == OUTPOST_OK && !local_only(&fi))
        st = journal(s, t, OUTPOST_J_ITEM_UPDATE, id, c.it.folder_id, 0, 0, NULL, NULL, c.it.remote_id, NULL);
    if (st.code != OUTPOST_OK)
        goto fail;
    queue_items(s, c.it.folder_id);
    outpost_item_copy_free(&c);
    folder_info_free(&fi);
    outpost_summary_release(&arena);
    return outpost_store_write_commit(s, t);
fail:
    st = keep(st, "update");
fail_noted:
    outpost_item_copy_free(&c);
    folder_info_free(&fi);
    outpost_summary_release(&arena);
    outpost_store_write_rollback(s, t);
    return st;
}

/* ---- store API: folder edits ---------------------------------------------- */

static const char *use_name(uint32_t use)
{
    static const char *const names[] = { "", "Inbox", "Sent", "Drafts", "Trash", "Junk", "Archive", "Conflicts",
                                         "Outbox" };
    return use < sizeof names / sizeof names[0] ? names[use] : "special";
}

static outpost_status check_name(const char *name)
{
    if (!name || !*name)
        return status(OUTPOST_BAD_DATA, "a folder name cannot be empty");
    if (strlen(name) > 1024)
        return status(OUTPOST_BAD_DATA, "folder name longer than 1024 bytes");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return status(OUTPOST_BAD_DATA, "folder name '%s' contains a control character", name);
    return outpost_ok();
}

static outpost_status api_folder_create(const struct outpost_host *h, int64_t parent, const char *name, uint32_t kind,
                                        int64_t *new_id)
{
    STORE_OR_FAIL(s, h);
    outpost_status st = check_name(name);
    if (st.code != OUTPOST_OK)
        return st;
    if (kind < OUTPOST_ITEM_MAIL || kind > OUTPOST_ITEM_NOTE)
        return status(OUTPOST_BAD_DATA, "folder_create: unknown folder kind %u", kind);
    struct outpost_txn *t;
    st = outpost_store_write_begin(s, &t);
    if (st.code != OUTPOST_OK)
        return st;
    struct folder_info pi;
    memset(&pi, 0, sizeof pi);
    if (parent > 0 && (st = folder_info(s, t, parent, &pi)).code != OUTPOST_OK)
        goto fail_noted;
    outpost_folder f;
    memset(&f, 0, sizeof f);
    f.struct_size = sizeof f;
    f.kind = kind;
    f.parent_id = parent > 0 ? parent : 0;
    f.name = name;
    f.flags = OUTPOST_FOLDER_SUBSCRIBED | (parent > 0 && local_only(&pi) ? OUTPOST_FOLDER_LOCAL_ONLY : 0);
    int64_t id = 0;
    st = s->m->folder_create(t, &f, &id);
    if (st.code == OUTPOST_OK && !(f.flags & OUTPOST_FOLDER_LOCAL_ONLY))
        st = journal(s, t, OUTPOST_J_FOLDER_CREATE, 0, id, f.parent_id, kind, NULL, name, NULL, NULL);
    if (st.code != OUTPOST_OK)
        goto fail;
    folder_info_free(&pi);
    queue_folders(s);
    st = outpost_store_write_commit(s, t);
    if (st.code == OUTPOST_OK && new_id)
        *new_id = id;
    return st;
fail:
    st = keep(st, "folder_create");
fail_noted:
    folder_info_free(&pi);
    outpost_store_write_rollback(s, t);
    return st;
}

static outpost_status api_folder_rename(const struct outpost_host *h, int64_t id, int64_t new_parent, const char *name)
{
    STORE_OR_FAIL(s, h);
    outpost_status st = check_name(name);
    if (st.code != OUTPOST_OK)
        return st;
    struct outpost_txn *t;
    st = outpost_store_write_begin(s, &t);
    if (st.code != OUTPOST_OK)
        return st;
    struct folder_info fi, pi;
    memset(&pi, 0, sizeof pi);
    if ((st = folder_info(s, t, id, &fi)).code != OUTPOST_OK)
        goto fail_noted;
    if (fi.special_use == OUTPOST_USE_INBOX || fi.special_use == OUTPOST_USE_CONFLICTS) {
        st = status(OUTPOST_BAD_DATA, "cannot rename the %s folder", use_name(fi.special_use));
        goto fail_noted;
    }
    int64_t parent = new_parent < 0 ? fi.parent_id : new_parent;
    /* the new parent must exist and must not be the folder or inside it */
    for (int64_t p = parent, hops = 0; p > 0; hops++) {
        if (p == id || hops > 10000) {
            st = status(OUTPOST_BAD_DATA, "cannot move folder '%s' into itself or one of its subfolders",
                        fi.name ? fi.name : "");
            goto fail_noted;
        }
        folder_info_free(&pi);
        if ((st = folder_info(s, t, p, &pi)).code != OUTPOST_OK)
            goto fail_noted;
        p = pi.parent_id;
    }
    outpost_folder f;
    memset(&f, 0, sizeof f);
    f.struct_size = sizeof f;
    f.name = name;
    f.parent_id = parent;
    st = s->m->folder_update(t, id, &f, OUTPOST_FOLDER_F_NAME | OUTPOST_FOLDER_F_PARENT);
    if (st.code == OUTPOST_OK && !local_only(&fi))
        st = journal(s, t, OUTPOST_J_FOLDER_RENAME, 0, id, parent, parent == fi.parent_id ? OUTPOST_J_SAME_PARENT : 0,
                     NULL, name, fi.remote_id, fi.name);
    if (st.code != OUTPOST_OK)
        goto fail;
    folder_info_free(&fi);
    folder_info_free(&pi);
    queue_folders(s);
    return outpost_store_write_commit(s, t);
fail:
    st = keep(st, "folder_rename");
fail_noted:
    folder_info_free(&fi);
    folder_info_free(&pi);
    outpost_store_write_rollback(s, t);
    return st;
}

static outpost_status api_folder_delete(const struct outpost_host *h, int64_t id)
{
    STORE_OR_FAIL(s, h);
    struct outpost_txn *t;
    outpost_status st = outpost_store_write_begin(s, &t);
    if (st.code != OUTPOST_OK)
        return st;
    struct folder_info fi;
    if ((st = folder_info(s, t, id, &fi)).code != OUTPOST_OK)
        goto fail_noted;
    if (fi.special_use != OUTPOST_USE_NONE || id == s->conflicts_id) {
        st = status(OUTPOST_BAD_DATA, "cannot delete the %s folder '%s': it is a special-use folder",
                    use_name(fi.special_use), fi.name ? fi.name : "");
        goto fail_noted;
    }
    st = s->m->folder_delete(t, id);
    if (st.code == OUTPOST_OK && !local_only(&fi))
        st = journal(s, t, OUTPOST_J_FOLDER_DELETE, 0, id, fi.parent_id, 0, NULL, fi.name, fi.remote_id, NULL);
    if (st.code != OUTPOST_OK)
        goto fail;
    folder_info_free(&fi);
    queue_folders(s);
    queue_items(s, id);
    return outpost_store_write_commit(s, t);
fail:
    st = keep(st, "folder_delete");
fail_noted:
    folder_info_free(&fi);
    outpost_store_write_rollback(s, t);
    return st;
}

static outpost_status api_folder_subscribe(const struct outpost_host *h, int64_t id, int on)
{
    STORE_OR_FAIL(s, h);
    struct outpost_txn *t;
    outpost_status st = outpost_store_write_begin(s, &t);
    if (st.code != OUTPOST_OK)
        return st;
    struct folder_info fi;
    if ((st = folder_info(s, t, id, &fi)).code != OUTPOST_OK)
        goto fail_noted;
    uint32_t nf = on ? fi.flags | OUTPOST_FOLDER_SUBSCRIBED : fi.flags & ~(uint32_t)OUTPOST_FOLDER_SUBSCRIBED;
    if (nf != fi.flags) {
        outpost_folder f;
        memset(&f, 0, sizeof f);
        f.struct_size = sizeof f;
        f.flags = nf;
        st = s->m->folder_update(t, id, &f, OUTPOST_FOLDER_F_FLAGS);
        if (st.code == OUTPOST_OK && !local_only(&fi))
            st = journal(s, t, OUTPOST_J_FOLDER_SUBSCRIBE, 0, id, 0, nf & OUTPOST_FOLDER_SUBSCRIBED, NULL, NULL,
                         fi.remote_id, NULL);
        if (st.code != OUTPOST_OK)
            goto fail;
        queue_folders(s);
    }
    folder_info_free(&fi);
    return outpost_store_write_commit(s, t);
fail:
    st = keep(st, "folder_subscribe");
fail_noted:
    folder_info_free(&fi);
    outpost_store_write_rollback(s, t);
    return st;
}

/* ---- store API: front-end data (local-only, no journal) ------------------- */

/* "<front-end>.<rest>": lowercase letters, digits, '-' or '_' before the dot.
 * The core's meta keys ("hierarchy_state", "last_sync:N") have no dot. */
static int frontend_key(const char *k)
{
    if (!k || strlen(k) > 255)
        return 0;
    size_t i = 0;
    while ((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '-' || k[i] == '_')
        i++;
    return i > 0 && k[i] == '.' && k[i + 1] != '\0' && strncmp(k, "core.", 5) != 0;
}

static outpost_status api_prop_set(const struct outpost_host *h, int64_t id, const char *name, const void *val,
                                   size_t len)
{
    STORE_OR_FAIL(s, h);
    if (!frontend_key(name))
        return status(OUTPOST_BAD_DATA, "prop_set: property name '%s' must be '<front-end>.<name>', at most 255 bytes",
                      name ? name : "(null)");
    struct outpost_txn *t;
    outpost_status st = outpost_store_write_begin(s, &t);
    if (st.code != OUTPOST_OK)
        return st;
    const outpost_item *it = NULL;
    st = s->m->item_get(t, id, &it);
    if (st.code == OUTPOST_OK && !it)
        st = status(OUTPOST_GONE, "no item %lld", (long long)id);
    if (st.code == OUTPOST_OK) {
        st = s->m->prop_set(t, id, name, val, val ? len : 0);
        if (st.code == OUTPOST_GONE && !val)
            st = outpost_ok(); /* deleting what is not there */
    }
    if (st.code != OUTPOST_OK) {
        st = keep(st, "prop_set");
        outpost_store_write_rollback(s, t);
        return st;
    }
    /* No journal entry and no event: the bag is the front-end's own, never
     * sent to the server and invisible to other clients. */
    return outpost_store_write_commit(s, t);
}

static outpost_status api_meta_set(const struct outpost_host *h, const char *key, const void *val, size_t len)
{
    STORE_OR_FAIL(s, h);
    if (!frontend_key(key))
        return status(OUTPOST_BAD_DATA, "meta_set: key '%s' must be '<front-end>.<name>', at most 255 bytes",
                      key ? key : "(null)");
    struct outpost_txn *t;
    outpost_status st = outpost_store_write_begin(s, &t);
    if (st.code != OUTPOST_OK)
        return st;
    st = s->m->meta_set(t, key, val, val ? len : 0);
    if (st.code == OUTPOST_GONE && !val)
        st = outpost_ok(); /* deleting what is not there */
    if (st.code != OUTPOST_OK) {
        st = keep(st, "meta_set");
        outpost_store_write_rollback(s, t);
        return st;
    }
    return outpost_store_write_commit(s, t);
}

/* ---- store API: engine services and notifications -------------------------- */

static outpost_status api_request_content(const struct outpost_host *h, int64_t id, uint32_t timeout_ms)
{
    STORE_OR_FAIL(s, h);
    struct outpost_txn *t;
    outpost_status st = outpost_store_read_begin(s, &t);
    if (st.code != OUTPOST_OK)
        return st;
    const outpost_item *it;
    st = s->m->item_get(t, id, &it);
    int complete = st.code == OUTPOST_OK && it->content_state == OUTPOST_CONTENT_COMPLETE;
    int gone = st.code == OUTPOST_GONE;
    if (st.code != OUTPOST_OK && !gone)
        st = keep(st, "request_content");
    outpost_store_read_end(s, t);
    if (gone)
        return status(OUTPOST_GONE, "request_content: no item with id %lld", (long long)id);
    if (st.code != OUTPOST_OK)
        return st;
    if (complete)
        return outpost_ok();
    op_mutex_lock(s->elock);
    struct outpost_store_engine_hooks hk = s->hooks;
    int has = s->has_hooks && hk.request_content;
    op_mutex_unlock(s->elock);
    if (!has)
        return status(OUTPOST_TEMP, "offline");
    return hk.request_content(hk.ctx, id, timeout_ms);
}

static outpost_status api_request_contents(const struct outpost_host *h, const int64_t *ids, uint32_t n,
                                           uint32_t timeout_ms)
{
    STORE_OR_FAIL(s, h);
    if (!ids && n)
        return status(OUTPOST_BAD_DATA, "request_contents: ids is NULL");
    int64_t *need = malloc((n ? n : 1) * sizeof *need);
    if (!need)
        return status(OUTPOST_FATAL, "out of memory");
    uint32_t k = 0;
    int64_t missing = 0;
    struct outpost_txn *t = NULL;
    outpost_status st = outpost_store_read_begin(s, &t);
    int opened = st.code == OUTPOST_OK;
    for (uint32_t i = 0; i < n && st.code == OUTPOST_OK; i++) {
        const outpost_item *it;
        outpost_status g = s->m->item_get(t, ids[i], &it);
        if (g.code == OUTPOST_GONE) {
            missing = missing ? missing : ids[i];
            continue;
        }
        if (g.code != OUTPOST_OK)
            st = keep(g, "request_contents");
        else if (it->content_state != OUTPOST_CONTENT_COMPLETE)
            need[k++] = ids[i];
    }
    if (opened)
        outpost_store_read_end(s, t);
    op_mutex_lock(s->elock);
    struct outpost_store_engine_hooks hk = s->hooks;
    int has = s->has_hooks && (hk.request_contents || hk.request_content);
    op_mutex_unlock(s->elock);
    if (st.code == OUTPOST_OK && k && !has)
        st = status(OUTPOST_TEMP, "offline");
    else if (st.code == OUTPOST_OK && k && hk.request_contents)
        st = hk.request_contents(hk.ctx, need, k, timeout_ms);
    for (uint32_t i = 0; st.code == OUTPOST_OK && i < k && !hk.request_contents; i++)
        st = hk.request_content(hk.ctx, need[i], timeout_ms); /* an engine without the batch hook */
    free(need);
    if (st.code == OUTPOST_OK && missing)
        return status(OUTPOST_GONE, "request_contents: no item with id %lld", (long long)missing);
    return st;
}

static void api_folder_open_hint(const struct outpost_host *h, int64_t id, int open)
{
    struct outpost_store *s = store_of(h);
    if (!s)
        return;
    op_mutex_lock(s->elock);
    struct outpost_store_engine_hooks hk = s->hooks;
    int has = s->has_hooks && hk.folder_open;
    op_mutex_unlock(s->elock);
    if (has)
        hk.folder_open(hk.ctx, id, open);
}

static int api_online(const struct outpost_host *h)
{
    struct outpost_store *s = store_of(h);
    if (!s)
        return 0;
    op_mutex_lock(s->elock);
    struct outpost_store_engine_hooks hk = s->hooks;
    int has = s->has_hooks && hk.online;
    op_mutex_unlock(s->elock);
    return has ? hk.online(hk.ctx) : 0;
}

static outpost_status api_subscribe(const struct outpost_host *h, outpost_store_listener fn, void *ctx,
                                    struct outpost_store_subscription **out)
{
    STORE_OR_FAIL(s, h);
    *out = NULL;
    if (!fn)
        return status(OUTPOST_BAD_DATA, "subscribe: no listener");
    struct outpost_store_subscription *l = calloc(1, sizeof *l);
    if (!l)
        return status(OUTPOST_FATAL, "subscribe: out of memory");
    l->fn = fn;
    l->ctx = ctx;
    op_mutex_lock(s->llock);
    l->next = s->subs;
    s->subs = l;
    op_mutex_unlock(s->llock);
    *out = l;
    return outpost_ok();
}

/* Once it returns, the listener is never called again. */
static void api_unsubscribe(const struct outpost_host *h, struct outpost_store_subscription *sub)
{
    struct outpost_store *s = store_of(h);
    if (!s || !sub)
        return;
    op_mutex_lock(s->llock);
    for (struct outpost_store_subscription **p = &s->subs; *p; p = &(*p)->next)
        if (*p == sub) {
            *p = sub->next;
            break;
        }
    op_mutex_unlock(s->llock);
    free(sub);
}

/* ---- the store --------------------------------------------------------------- */

const struct outpost_store_api *outpost_store_api_table(void)
{
    static const struct outpost_store_api table = {
        .struct_size = sizeof(struct outpost_store_api),
        .storage = NULL, /* per store: outpost_store_bind_host hands out the store's own copy */
        .read_begin = api_read_begin,
        .read_end = api_read_end,
        .set_flags = api_set_flags,
        .move = api_move,
        .copy = api_copy,
        .remove = api_remove,
        .append = api_append,
        .update = api_update,
        .folder_create = api_folder_create,
        .folder_rename = api_folder_rename,
        .folder_delete = api_folder_delete,
        .folder_subscribe = api_folder_subscribe,
        .request_content = api_request_content,
        .folder_open_hint = api_folder_open_hint,
        .subscribe = api_subscribe,
        .unsubscribe = api_unsubscribe,
        .online = api_online,
        .prop_set = api_prop_set,
        .meta_set = api_meta_set,
        .request_contents = api_request_contents,
        .set_flags_unchanged = api_set_flags_unchanged,
        .replace = api_replace,
    };
    return &table;
}

void outpost_store_bind_host(struct outpost_store *s, struct outpost_host *h)
{
    outpost_core_host_set_store_ctx(h, s);
    outpost_core_host_set_store(h, &s->api);
}

void outpost_store_set_engine(struct outpost_store *s, const struct outpost_store_engine_hooks *hooks)
{
    op_mutex_lock(s->elock);
    s->has_hooks = hooks != NULL;
    if (hooks)
        s->hooks = *hooks;
    else
        memset(&s->hooks, 0, sizeof s->hooks);
    op_mutex_unlock(s->elock);
}

int64_t outpost_store_conflicts_folder(const struct outpost_store *s) { return s->conflicts_id; }

int outpost_store_permanent_delete(const struct outpost_store *s) { return s->permanent_delete; }

/* Finds or creates the local-only Conflicts folder. */
static int ensure_conflicts(struct outpost_store *s, char *err, size_t errlen)
{
    struct outpost_txn *t;
    outpost_status st = outpost_store_write_begin(s, &t);
    if (st.code != OUTPOST_OK) {
        snprintf(err, errlen, "cannot open the cache for writing: %s", st.message);
        return -1;
    }
    struct outpost_cursor *c;
    st = s->m->folder_list(t, &c);
    if (st.code == OUTPOST_OK) {
        const void *row;
        while ((st = s->m->cursor_next(c, &row)).code == OUTPOST_OK && row) {
            const outpost_folder *f = row;
            if (f->special_use == OUTPOST_USE_CONFLICTS)
                s->conflicts_id = f->id;
        }
        s->m->cursor_close(c);
    }
    if (st.code == OUTPOST_OK && !s->conflicts_id) {
        static const char *const names[] = { "Conflicts", "Outpost Conflicts", "Outpost Conflicts (local)" };
        for (size_t i = 0; i < 3; i++) {
            outpost_folder f;
            memset(&f, 0, sizeof f);
            f.struct_size = sizeof f;
            f.kind = OUTPOST_ITEM_MAIL;
            f.name = names[i];
            f.special_use = OUTPOST_USE_CONFLICTS;
            f.flags = OUTPOST_FOLDER_LOCAL_ONLY | OUTPOST_FOLDER_SUBSCRIBED;
            st = s->m->folder_create(t, &f, &s->conflicts_id);
            if (st.code != OUTPOST_BAD_DATA) /* BAD_DATA: a server folder has that name */
                break;
        }
        queue_folders(s);
    }
    if (st.code != OUTPOST_OK) {
        snprintf(err, errlen, "cannot create the Conflicts folder: %s",
                 st.message ? st.message : outpost_status_class_name(st.code));
        outpost_store_write_rollback(s, t);
        return -1;
    }
    st = outpost_store_write_commit(s, t);
    if (st.code != OUTPOST_OK) {
        snprintf(err, errlen, "cannot create the Conflicts folder: %s", st.message);
        return -1;
    }
    return 0;
}

int outpost_store_new(struct outpost_app *app, struct outpost_open_storage *os, struct outpost_store **out,
                      char *err, size_t errlen)
{
    *out = NULL;
    struct outpost_store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->app = app;
    s->os = os;
    s->m = os->m;
    s->caps = os->plugin && os->plugin->desc ? os->plugin->desc->caps : 0;
    s->api = *outpost_store_api_table();
    s->api.storage = s->m;
    s->api.storage_caps = s->caps;
    s->wlock = op_mutex_new();
    s->rlock = op_mutex_new();
    s->rcond = op_cond_new();
    s->llock = op_mutex_new();
    s->elock = op_mutex_new();
    if (!s->wlock || !s->rlock || !s->rcond || !s->llock || !s->elock) {
        snprintf(err, errlen, "out of memory");
        outpost_store_free(s);
        return -1;
    }
    outpost_summary_library_init();
    if (app && app->cfg) {
        outpost_config_declare(app->cfg, "account", outpost_store_keys_account);
        const char *del = outpost_config_get(app->cfg, "account", "delete");
        s->permanent_delete = del && !strcasecmp(del, "permanent");
    }
    if (s->caps & OUTPOST_STORAGE_CAP_CONCURRENT_READERS) {
        for (int i = 0; i < READER_POOL; i++) {
            struct outpost_storage *r = NULL;
            outpost_status st = s->m->create(os->host, &r);
            if (st.code == OUTPOST_OK)
                st = s->m->open(r);
            if (st.code != OUTPOST_OK) {
                /* fewer readers is slower, not wrong */
                outpost_log(OUTPOST_LOG_WARNING, "store", "cannot open reader instance %d: %s", i + 1,
                            st.message ? st.message : outpost_status_class_name(st.code));
                if (r)
                    s->m->destroy(r);
                break;
            }
            s->readers[s->nreaders++].s = r;
        }
    }
    if (ensure_conflicts(s, err, errlen) != 0) {
        outpost_store_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void outpost_store_free(struct outpost_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->nreaders; i++) {
        s->m->close(s->readers[i].s);
        s->m->destroy(s->readers[i].s);
    }
    while (s->subs) {
        struct outpost_store_subscription *n = s->subs->next;
        free(s->subs);
        s->subs = n;
    }
    free(s->q);
    op_mutex_free(s->wlock);
    op_mutex_free(s->rlock);
    op_cond_free(s->rcond);
    op_mutex_free(s->llock);
    op_mutex_free(s->elock);
    free(s);
}
