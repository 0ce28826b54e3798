/* core/replay.c — sends the journal of local edits to the server, in order.
 *
 * An entry leaves the queue (state DONE, kept as audit) only after the server
 * confirmed it and the new remote id/version is stored, in one transaction.
 * Before an entry is sent its attempt counter is committed: an entry that was
 * in flight when the process died is looked up on the server (transport find
 * by Message-ID / object UID) before it is sent again, so a create or move
 * that reached the server is never applied twice.
 *
 * Outcomes: OK → DONE; CONFLICT → the server's version stays, the local one is
 * copied into Conflicts (state CONFLICT); GONE → dropped with a log line, the
 * local content copied into Conflicts if the edit carried content; BAD_DATA,
 * FATAL → DEAD (shown by status and audit) and the queue goes on; TEMP,
 * THROTTLED, AUTH → replay stops, the entry stays pending.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "engine_internal.h"
#include "log.h"

#define LOGC "replay"
#define REPLAY_BATCH 64

static const char *op_name(uint32_t op)
{
    static const char *const names[] = { "?", "create", "update", "flags", "move", "copy", "delete",
                                         "folder-create", "folder-rename", "folder-delete", "subscribe" };
    return op < sizeof names / sizeof *names ? names[op] : "?";
}

/* An owned copy of a journal entry. `settled`: recorded as done by the replay
 * of an earlier entry of the batch (a create that made its moves moot). */
struct entry {
    outpost_journal_entry j;
    char *keywords, *name, *remote_id;
    char *payload; /* NUL-terminated copy */
    char *message; /* its last message (what an attempt was sent as) */
    int settled;
};

/* The message of a delete sent as a move (see returned_from_conflicts). */
static const char SENT_AS_MOVE[] = "sending as a move out of Conflicts";

static char *dupstr(const char *s) { return s ? strdup(s) : NULL; }

static void entry_free(struct entry *x)
{
    free(x->keywords);
    free(x->name);
    free(x->remote_id);
    free(x->payload);
    free(x->message);
}

static outpost_status load_pending(struct outpost_engine *e, struct entry *v, size_t *n)
{
    *n = 0;
    struct outpost_txn *t;
    outpost_status st = outpost_store_read_begin(e->store, &t);
    if (st.code != OUTPOST_OK)
        return st;
    struct outpost_cursor *c;
    if ((st = e->sm->journal_pending(t, REPLAY_BATCH, &c)).code == OUTPOST_OK) {
        const void *row;
        while (*n < REPLAY_BATCH && (st = e->sm->cursor_next(c, &row)).code == OUTPOST_OK && row) {
            const outpost_journal_entry *j = row;
            struct entry *x = &v[(*n)++];
            memset(x, 0, sizeof *x);
            x->j = *j;
            x->j.keywords = x->keywords = dupstr(j->keywords);
            x->j.name = x->name = dupstr(j->name);
            x->j.remote_id = x->remote_id = dupstr(j->remote_id);
            x->payload = NULL;
            if (j->payload && j->payload_len && (x->payload = malloc(j->payload_len + 1))) {
                memcpy(x->payload, j->payload, j->payload_len);
                x->payload[j->payload_len] = '\0';
            }
            x->j.payload = x->payload;
            x->j.payload_len = x->payload ? j->payload_len : 0;
            x->j.result_remote_id = NULL;
            x->j.message = x->message = dupstr(j->message);
        }
        e->sm->cursor_close(c);
    }
    outpost_store_read_end(e->store, t);
    return st;
}

/* What an entry resolves to at replay time: current remote ids. */
struct resolved {
    int item_exists;
    outpost_item item;
    char *item_remote, *item_version, *key, *keywords;
    char *folder_remote, *target_remote;
    char *folder_name;
    uint32_t folder_kind;
    char *copy_source;   /* copy: the source's remote id now */
    int copy_as_create;  /* copy: its source never reached the server; upload the copy */
    int64_t *moot;       /* create: the item's pending moves it makes moot (their seqs) */
    size_t n_moot;
    const char *moot_why;
    FILE *content;     /* spooled content for create/update */
    uint64_t content_size;
};

static void resolved_free(struct resolved *r)
{
    free(r->item_remote);
    free(r->item_version);
    free(r->key);
    free(r->keywords);
    free(r->folder_remote);
    free(r->target_remote);
    free(r->folder_name);
    free(r->copy_source);
    free(r->moot);
    if (r->content)
        fclose(r->content);
    memset(r, 0, sizeof *r);
}

static char *folder_remote(struct outpost_engine *e, struct outpost_txn *t, int64_t id, char **name, uint32_t *kind,
                           uint32_t *flags)
{
    const outpost_folder *f;
    if (!id || e->sm->folder_get(t, id, &f).code != OUTPOST_OK)
        return NULL;
    if (name)
        *name = dupstr(f->name);
    if (kind)
        *kind = f->kind;
    if (flags)
        *flags = f->flags;
    return dupstr(f->remote_id);
}

/* Is p (listed after j) a pending edit of j's item? */
static int pending_of_item(const outpost_journal_entry *p, const outpost_journal_entry *j)
{
    return p->item_id == j->item_id && p->op <= OUTPOST_J_ITEM_DELETE && p->state == OUTPOST_JS_PENDING;
}

/* The pending moves of a create's item that follow it in the journal, up to any
 * other delete or create of that item: the create puts the item in the folder it
 * is in now, where those moves (all journaled by now) took it. Their seqs go to
 * r->moot; a move journaled after this read starts from that folder and is sent. */
static outpost_status pending_moves(struct outpost_engine *e, struct outpost_txn *t, const outpost_journal_entry *j,
                                    struct resolved *r)
{
    struct outpost_cursor *c;
    outpost_status st = e->sm->journal_list(t, j->seq, &c);
    if (st.code != OUTPOST_OK)
        return st;
    size_t cap = 0;
    const void *row;
    while ((st = e->sm->cursor_next(c, &row)).code == OUTPOST_OK && row) {
        const outpost_journal_entry *p = row;
        if (!pending_of_item(p, j))
            continue;
        if (p->op == OUTPOST_J_ITEM_CREATE || p->op == OUTPOST_J_ITEM_DELETE)
            break;
        if (p->op != OUTPOST_J_ITEM_MOVE)
            continue;
        if (r->n_moot == cap) {
            int64_t *m = realloc(r->moot, (cap = cap ? cap * 2 : 4) * sizeof *m);
            if (!m) {
                st = engine_status(OUTPOST_FATAL, "out of memory");
                break;
            }
            r->moot = m;
        }
        r->moot[r->n_moot++] = p->seq;
    }
    e->sm->cursor_close(c);
    return st;
}

/* A copy's source item (its local id, from the payload store.c attaches), or 0. */
static int64_t copy_source_id(const struct entry *x)
{
    const char *p = x->payload ? strstr(x->payload, OUTPOST_J_COPY_SOURCE_KEY) : NULL;
    return p ? strtoll(p + strlen(OUTPOST_J_COPY_SOURCE_KEY), NULL, 10) : 0;
}

/* Copies an item's content into a temporary file, so no transaction stays
 * open while the transport uploads it. */
static outpost_status spool_content(struct outpost_engine *e, struct outpost_txn *t, int64_t id, struct resolved *r)
{
    r->content = tmpfile();
    if (!r->content)
        return engine_status(OUTPOST_FATAL, "cannot create a temporary file to upload an item");
    char buf[65536];
    uint64_t off = 0;
    for (;;) {
        size_t got = 0;
        outpost_status st = e->sm->content_read(t, id, off, buf, sizeof buf, &got);
        if (st.code != OUTPOST_OK)
            return st;
        if (!got)
            break;
        if (fwrite(buf, 1, got, r->content) != got)
            return engine_status(OUTPOST_FATAL, "cannot write a temporary file (disk full?)");
        off += got;
    }
    r->content_size = off;
    rewind(r->content);
    return outpost_ok();
}

/* The remote id an earlier, confirmed create (or copy / move) of the same object got from
 * the server. Needed when that create was replayed while the client deleted the object
 * locally: its result had no local row to land in, and the delete was journaled before the
 * object had a remote id. Rare (the object is gone locally and nothing else knows its id),
 * so a scan of the journal is fine. */
static char *earlier_result(struct outpost_engine *e, struct outpost_txn *t, const outpost_journal_entry *j)
{
    int folder = j->op >= OUTPOST_J_FOLDER_CREATE;
    struct outpost_cursor *c;
    char *out = NULL;
    if (e->sm->journal_list(t, 0, &c).code != OUTPOST_OK)
        return NULL;
    const void *row;
    while (e->sm->cursor_next(c, &row).code == OUTPOST_OK && row) {
        const outpost_journal_entry *p = row;
        if (p->seq >= j->seq)
            break;
        if (p->state != OUTPOST_JS_DONE || !p->result_remote_id)
            continue;
        int match = folder ? (p->op == OUTPOST_J_FOLDER_CREATE && p->folder_id == j->folder_id)
                           : ((p->op == OUTPOST_J_ITEM_CREATE || p->op == OUTPOST_J_ITEM_COPY ||
                               p->op == OUTPOST_J_ITEM_MOVE) && p->item_id == j->item_id);
        if (match) {
            free(out);
            out = strdup(p->result_remote_id);
        }
    }
    e->sm->cursor_close(c);
    return out;
}

static outpost_status resolve(struct outpost_engine *e, const struct entry *x, struct resolved *r)
{
    memset(r, 0, sizeof *r);
    struct outpost_txn *t;
    outpost_status st = outpost_store_read_begin(e->store, &t);
    if (st.code != OUTPOST_OK)
        return st;
    const outpost_journal_entry *j = &x->j;
    int item_op = j->op >= OUTPOST_J_ITEM_CREATE && j->op <= OUTPOST_J_ITEM_DELETE;
    if (item_op && j->item_id) {
        const outpost_item *it;
        if (e->sm->item_get(t, j->item_id, &it).code == OUTPOST_OK) {
            r->item_exists = 1;
            r->item = *it;
            r->item_remote = dupstr(it->remote_id);
            r->item_version = dupstr(it->remote_version);
            r->key = dupstr(it->message_id ? it->message_id : it->object_uid);
            r->keywords = dupstr(it->keywords);
            r->item.remote_id = r->item.remote_version = NULL;
            r->item.keywords = r->item.subject = r->item.from = r->item.to = r->item.cc = NULL;
            r->item.message_id = r->item.object_uid = r->item.envelope = r->item.bodystructure = NULL;
            r->item.preview = NULL;
        }
    }
    if (!r->item_remote && j->op != OUTPOST_J_ITEM_CREATE && j->op != OUTPOST_J_ITEM_COPY)
        r->item_remote = dupstr(j->remote_id);
    if (!r->item_remote && j->op == OUTPOST_J_ITEM_DELETE && !r->item_exists)
        r->item_remote = earlier_result(e, t, j);
    switch (j->op) {
    case OUTPOST_J_ITEM_CREATE:
    case OUTPOST_J_ITEM_UPDATE: {
        uint32_t fflags = 0;
        r->folder_remote = folder_remote(e, t, r->item_exists ? r->item.folder_id : j->folder_id, &r->folder_name,
                                         &r->folder_kind, &fflags);
        if (j->op == OUTPOST_J_ITEM_CREATE && r->item_exists && !r->item_remote && r->item.folder_id != j->folder_id) {
            if (r->folder_remote) {
                /* (an item still in the folder it was made in is sent there and its moves,
                 * if any, after it: no journal scan for every create of a large import) */
                st = pending_moves(e, t, j, r);
            } else if (!(fflags & OUTPOST_FOLDER_LOCAL_ONLY)) {
                /* moved into a folder whose create comes later in the journal: the item
                 * goes where it was made, and its moves follow it in order */
                char *name = NULL, *rid = folder_remote(e, t, j->folder_id, &name, NULL, NULL);
                if (rid) {
                    free(r->folder_name);
                    r->folder_remote = rid;
                    r->folder_name = name;
                } else {
                    free(name);
                }
            }
        }
        if (st.code == OUTPOST_OK && r->item_exists && r->item.content_state != OUTPOST_CONTENT_COMPLETE)
            /* a copy kept in Conflicts of a mail whose body was never cached, moved to a
             * server folder: there is nothing whole to upload; it stays here, and the entry
             * shows in status and audit as a dead letter instead of an empty mail on the server */
            st = engine_status(OUTPOST_BAD_DATA, "its content is not cached: nothing to upload");
        else if (st.code == OUTPOST_OK && r->item_exists)
            st = spool_content(e, t, j->item_id, r);
        break;
    }
    case OUTPOST_J_ITEM_MOVE:
    case OUTPOST_J_ITEM_COPY:
        r->folder_remote = folder_remote(e, t, j->folder_id, &r->folder_name, &r->folder_kind, NULL);
        r->target_remote = folder_remote(e, t, j->target_folder_id, NULL, NULL, NULL);
        if (j->op == OUTPOST_J_ITEM_COPY) {
            /* The source as the server knows it now: a move replayed since the copy was
             * journaled gave it a new remote id, or its create had not been sent then. */
            const outpost_item *src;
            int64_t sid = copy_source_id(x);
            if (sid && e->sm->item_get(t, sid, &src).code == OUTPOST_OK && src->remote_id)
                r->copy_source = dupstr(src->remote_id);
            else
                r->copy_source = dupstr(j->remote_id);
            if (!r->copy_source && r->item_exists && r->target_remote) {
                /* the source never reached the server (deleted here before it was sent):
                 * the copy is uploaded as a new item */
                r->copy_as_create = 1;
                if (r->item.content_state != OUTPOST_CONTENT_COMPLETE)
                    st = engine_status(OUTPOST_BAD_DATA, "its content is not cached: nothing to upload");
                else
                    st = spool_content(e, t, j->item_id, r);
            }
        }
        break;
    case OUTPOST_J_FOLDER_CREATE:
    case OUTPOST_J_FOLDER_RENAME:
    case OUTPOST_J_FOLDER_DELETE:
    case OUTPOST_J_FOLDER_SUBSCRIBE: {
        const outpost_folder *f;
        if (e->sm->folder_get(t, j->folder_id, &f).code == OUTPOST_OK) {
            free(r->item_remote);
            r->item_remote = dupstr(f->remote_id ? f->remote_id : j->remote_id);
            r->folder_name = dupstr(f->name);
            r->folder_kind = f->kind;
        } else if (!r->item_remote) {
            r->item_remote = dupstr(j->remote_id);
        }
        if (!r->item_remote && j->op == OUTPOST_J_FOLDER_DELETE)
            r->item_remote = earlier_result(e, t, j);
        r->target_remote = folder_remote(e, t, j->target_folder_id, NULL, NULL, NULL);
        if (j->op == OUTPOST_J_FOLDER_RENAME && (j->flags & OUTPOST_J_SAME_PARENT))
            r->folder_remote = dupstr(r->target_remote); /* the parent stays: a rename only */
        else if (j->op == OUTPOST_J_FOLDER_RENAME && !j->target_folder_id)
            r->target_remote = strdup(""); /* moved to the top level (transport.h) */
        break;
    }
    default:
        r->folder_remote = folder_remote(e, t, r->item_exists ? r->item.folder_id : j->folder_id, &r->folder_name,
                                         &r->folder_kind, NULL);
        break;
    }
    outpost_store_read_end(e->store, t);
    return st;
}

/* outpost_reader over the spooled file. */
static outpost_status spool_read(void *ctx, void *buf, size_t cap, size_t *got)
{
    *got = fread(buf, 1, cap, (FILE *)ctx);
    outpost_status st = { ferror((FILE *)ctx) ? OUTPOST_FATAL : OUTPOST_OK, 0,
                          ferror((FILE *)ctx) ? "cannot read the spooled item" : NULL };
    return st;
}

static outpost_status spool_rewind(void *ctx)
{
    rewind((FILE *)ctx);
    return outpost_ok();
}

static outpost_status record_moot(struct outpost_engine *e, const struct entry *x, uint32_t state,
                                  const char *result_id, const char *result_version, const char *message,
                                  const struct resolved *r);

static outpost_status record(struct outpost_engine *e, const struct entry *x, uint32_t state, const char *result_id,
                             const char *result_version, const char *message)
{
    return record_moot(e, x, state, result_id, result_version, message, NULL);
}

/* Records the outcome of one entry (and what it changes locally) in one
 * write transaction; with a done create (r given), the moves it made moot too. */
static outpost_status record_moot(struct outpost_engine *e, const struct entry *x, uint32_t state,
                                  const char *result_id, const char *result_version, const char *message,
                                  const struct resolved *r)
{
    struct outpost_txn *t;
    outpost_status st = outpost_store_write_begin(e->store, &t);
    if (st.code != OUTPOST_OK)
        return st;
    const outpost_journal_entry *j = &x->j;
    if (state == OUTPOST_JS_DONE && result_id) {
        if (j->op >= OUTPOST_J_ITEM_CREATE && j->op <= OUTPOST_J_ITEM_COPY && j->op != OUTPOST_J_ITEM_FLAGS) {
            const outpost_item *it;
            if (e->sm->item_get(t, j->item_id, &it).code == OUTPOST_OK) {
                outpost_item u = *it;
                u.remote_id = result_id;
                u.remote_version = result_version;
                st = e->sm->item_update(t, &u, OUTPOST_ITEM_F_REMOTE);
            }
        } else if (j->op == OUTPOST_J_ITEM_FLAGS && result_version) {
            const outpost_item *it;
            if (e->sm->item_get(t, j->item_id, &it).code == OUTPOST_OK) {
                outpost_item u = *it;
                u.remote_version = result_version;
                st = e->sm->item_update(t, &u, OUTPOST_ITEM_F_REMOTE);
            }
        } else if (j->op == OUTPOST_J_FOLDER_CREATE || j->op == OUTPOST_J_FOLDER_RENAME) {
            const outpost_folder *f;
            if (e->sm->folder_get(t, j->folder_id, &f).code == OUTPOST_OK) {
                outpost_folder u = *f;
                u.remote_id = result_id;
                st = e->sm->folder_update(t, j->folder_id, &u, OUTPOST_FOLDER_F_REMOTE_ID);
            }
        }
    }
    if (state == OUTPOST_JS_DONE && !result_id && j->op == OUTPOST_J_ITEM_DELETE && j->item_id) {
        /* deleted on the server while the item lives on here (moved into Conflicts): it
         * has no server copy now, so moving it out again uploads it */
        const outpost_item *it;
        if (e->sm->item_get(t, j->item_id, &it).code == OUTPOST_OK && it->remote_id) {
            outpost_item u = *it;
            u.remote_id = NULL;
            u.remote_version = NULL;
            st = e->sm->item_update(t, &u, OUTPOST_ITEM_F_REMOTE);
        }
    }
    if (st.code == OUTPOST_OK)
        st = e->sm->journal_set_state(t, j->seq, state, result_id, message);
    for (size_t k = 0; r && state == OUTPOST_JS_DONE && st.code == OUTPOST_OK && k < r->n_moot; k++)
        st = e->sm->journal_set_state(t, r->moot[k], OUTPOST_JS_DONE, result_id,
                                      r->moot_why ? r->moot_why : "the create put the item in the folder it was moved to");
    if (st.code != OUTPOST_OK) {
        outpost_store_write_rollback(e->store, t);
        return st;
    }
    return outpost_store_write_commit(e->store, t);
}

/* The local-only folder that keeps conflict copies of `kind`: Conflicts itself
 * for mail, a sub-folder of it per other kind (a folder holds one kind), made
 * on first use. */
static outpost_status conflicts_folder_for(struct outpost_engine *e, struct outpost_txn *t, uint32_t kind,
                                           int64_t *out)
{
    static const char *const names[] = { "", "Mail", "Calendar", "Contacts", "Tasks", "Notes" };
    int64_t cf = outpost_store_conflicts_folder(e->store);
    *out = cf;
    if (!cf)
        return engine_status(OUTPOST_FATAL, "the Conflicts folder is missing");
    if (kind == OUTPOST_ITEM_MAIL || kind >= sizeof names / sizeof *names)
        return outpost_ok();
    struct outpost_cursor *c;
    outpost_status st = e->sm->folder_list(t, &c);
    if (st.code != OUTPOST_OK)
        return st;
    const void *row;
    *out = 0;
    while ((st = e->sm->cursor_next(c, &row)).code == OUTPOST_OK && row) {
        const outpost_folder *f = row;
        if (f->parent_id == cf && f->kind == kind && !f->remote_id) {
            *out = f->id;
            break;
        }
    }
    e->sm->cursor_close(c);
    if (st.code != OUTPOST_OK || *out)
        return st;
    outpost_folder nf = { 0 };
    nf.struct_size = sizeof nf;
    nf.kind = kind;
    nf.parent_id = cf;
    nf.name = names[kind];
    nf.flags = OUTPOST_FOLDER_LOCAL_ONLY | OUTPOST_FOLDER_SUBSCRIBED;
    st = e->sm->folder_create(t, &nf, out);
    if (st.code == OUTPOST_OK) {
        outpost_store_event ev = { sizeof ev, OUTPOST_EVENT_FOLDERS, 0, 0, 0 };
        outpost_store_queue_event(e->store, &ev);
    }
    return st;
}

/* Keeps the local version of an item as a new item in Conflicts. */
/* After a folder create was refused because the name exists on the server:
 * the hierarchy sync adopts a same-named server folder for a local folder
 * without a remote id. The adopted remote id (malloc'd), or NULL. */
static char *adopt_created_folder(struct outpost_engine *e, const outpost_journal_entry *j)
{
    char *adopted = NULL;
    if (engine_sync_hierarchy(e).code != OUTPOST_OK)
        return NULL;
    struct outpost_txn *t;
    const outpost_folder *f;
    if (outpost_store_read_begin(e->store, &t).code == OUTPOST_OK) {
        if (e->sm->folder_get(t, j->folder_id, &f).code == OUTPOST_OK && f->remote_id)
            adopted = dupstr(f->remote_id);
        outpost_store_read_end(e->store, t);
    }
    return adopted;
}

static outpost_status copy_to_conflicts(struct outpost_engine *e, int64_t item_id)
{
    struct outpost_txn *t;
    outpost_status st = outpost_store_write_begin(e->store, &t);
    if (st.code != OUTPOST_OK)
        return st;
    const outpost_item *it;
    if ((st = e->sm->item_get(t, item_id, &it)).code != OUTPOST_OK) {
        outpost_store_write_rollback(e->store, t);
        return st.code == OUTPOST_GONE ? outpost_ok() : st;
    }
    int64_t cf;
    if ((st = conflicts_folder_for(e, t, it->kind, &cf)).code != OUTPOST_OK ||
        (st = e->sm->item_get(t, item_id, &it)).code != OUTPOST_OK) {
        outpost_store_write_rollback(e->store, t);
        return st;
    }
    outpost_item n = *it;
    n.id = 0;
    n.folder_id = cf;
    n.remote_id = NULL;
    n.remote_version = NULL;
    /* item_put may reuse the storage's row buffer: keep the strings alive by
     * copying them first. */
    char *s[9] = { dupstr(it->keywords), dupstr(it->subject), dupstr(it->from), dupstr(it->to), dupstr(it->cc),
                   dupstr(it->message_id), dupstr(it->object_uid), dupstr(it->envelope), dupstr(it->bodystructure) };
    char *pv = dupstr(it->preview);
    n.keywords = s[0], n.subject = s[1], n.from = s[2], n.to = s[3], n.cc = s[4];
    n.message_id = s[5], n.object_uid = s[6], n.envelope = s[7], n.bodystructure = s[8], n.preview = pv;
    uint32_t state = it->content_state;
    st = e->sm->item_put(t, &n);
    char buf[65536];
    uint64_t off = 0;
    while (st.code == OUTPOST_OK && state == OUTPOST_CONTENT_COMPLETE) {
        size_t got = 0;
        st = e->sm->content_read(t, item_id, off, buf, sizeof buf, &got);
        if (st.code != OUTPOST_OK || !got)
            break;
        st = e->sm->content_write(t, n.id, off, buf, got);
        off += got;
    }
    if (st.code == OUTPOST_OK && state == OUTPOST_CONTENT_COMPLETE)
        st = e->sm->content_finish(t, n.id, OUTPOST_CONTENT_COMPLETE);
    for (int i = 0; i < 9; i++)
        free(s[i]);
    free(pv);
    if (st.code != OUTPOST_OK) {
        outpost_store_write_rollback(e->store, t);
        return st;
    }
    outpost_store_event ev = { sizeof ev, OUTPOST_EVENT_ITEMS, cf, n.id, 0 };
    outpost_store_queue_event(e->store, &ev);
    return outpost_store_write_commit(e->store, t);
}

/* Marks the entries of the batch after v[i] whose seq is in seqs as settled. */
static void settle(struct entry *v, size_t n, size_t i, const int64_t *seqs, size_t n_seqs)
{
    for (size_t k = i + 1; k < n; k++)
        for (size_t m = 0; m < n_seqs; m++)
            if (v[k].j.seq == seqs[m])
                v[k].settled = 1;
}

/* Has a later entry in this batch superseded x (flags of the same item)? */
static int superseded(const struct entry *v, size_t n, size_t i)
{
    if (v[i].j.op != OUTPOST_J_ITEM_FLAGS)
        return 0;
    for (size_t k = i + 1; k < n; k++)
        if (v[k].j.item_id == v[i].j.item_id && v[k].j.op == OUTPOST_J_ITEM_FLAGS)
            return 1;
    return 0;
}

static int is_stop(int32_t code)
{
    return code == OUTPOST_TEMP || code == OUTPOST_THROTTLED || code == OUTPOST_AUTH;
}

/* A delete of an item that still exists here: it was moved into Conflicts (which
 * journals a delete) and, if the next pending entry of the item is a create, out
 * again into that create's folder (*back_folder; *back_seq its seq). Only for a
 * delete never sent, or sent as that move before; a delete attempted before (it
 * may have reached the server) only while the server still has the item where it
 * was. Returns 1 to pair, 0 not to, or the status that stops the replay. */
static outpost_status returned_from_conflicts(struct outpost_engine *e, const outpost_journal_entry *j,
                                              int64_t *back_seq, int64_t *back_folder)
{
    *back_seq = *back_folder = 0;
    if (j->op != OUTPOST_J_ITEM_DELETE || !j->item_id)
        return outpost_ok();
    int verify = j->attempts > 0 && !(j->message && !strcmp(j->message, SENT_AS_MOVE));
    char *key = NULL, *rid = NULL, *where = NULL;
    uint32_t kind = 0;
    struct outpost_txn *t;
    outpost_status st = outpost_store_read_begin(e->store, &t);
    if (st.code != OUTPOST_OK)
        return st;
    const outpost_item *it;
    struct outpost_cursor *c;
    if (e->sm->item_get(t, j->item_id, &it).code == OUTPOST_OK && it->remote_id &&
        (!verify || (it->message_id || it->object_uid)) && e->sm->journal_list(t, j->seq, &c).code == OUTPOST_OK) {
        kind = it->kind;
        rid = dupstr(it->remote_id);
        key = dupstr(it->message_id ? it->message_id : it->object_uid);
        const void *row;
        while (e->sm->cursor_next(c, &row).code == OUTPOST_OK && row) {
            const outpost_journal_entry *p = row;
            if (!pending_of_item(p, j))
                continue;
            if (p->op == OUTPOST_J_ITEM_CREATE) {
                *back_seq = p->seq;
                *back_folder = p->folder_id;
            }
            break;
        }
        e->sm->cursor_close(c);
        if (verify && *back_seq)
            where = folder_remote(e, t, j->folder_id, NULL, NULL, NULL);
    }
    outpost_store_read_end(e->store, t);
    if (verify && *back_seq) {
        /* the earlier attempt went out as a delete: still where it was on the server? */
        outpost_change_result res = { sizeof res, 0, NULL, NULL };
        st = where && key ? e->tm->find(e->tsync, where, kind, key, &res) : outpost_ok();
        if (st.code == OUTPOST_OK && !(res.remote_id && rid && !strcmp(res.remote_id, rid)))
            *back_seq = *back_folder = 0;
        else if (st.code != OUTPOST_OK && !is_stop(st.code)) {
            *back_seq = *back_folder = 0;
            st = outpost_ok();
        }
    }
    free(key);
    free(rid);
    free(where);
    return st;
}

/* Sends one entry; returns the status that ends the replay (TEMP, THROTTLED,
 * AUTH, or a storage failure), OK otherwise. */
static outpost_status replay_one(struct outpost_engine *e, struct entry *v, size_t n, size_t i)
{
    struct entry *x = &v[i];
    const outpost_journal_entry *j = &x->j;
    struct resolved r;
    int64_t back_seq, back_folder;
    outpost_status st = returned_from_conflicts(e, j, &back_seq, &back_folder);
    if (st.code != OUTPOST_OK)
        return st;
    int back = back_seq != 0;
    if (back && back_folder != j->folder_id) {
        /* into Conflicts and out into another server folder: a move there */
        x->j.op = OUTPOST_J_ITEM_MOVE;
        x->j.target_folder_id = back_folder;
        x->j.flags = 0;
    }
    st = resolve(e, x, &r);
    if (st.code == OUTPOST_OK && back) {
        int64_t *m = realloc(r.moot, (r.n_moot + 1) * sizeof *m);
        if (!m) {
            resolved_free(&r);
            return engine_status(OUTPOST_FATAL, "out of memory");
        }
        r.moot = m;
        r.moot[r.n_moot++] = back_seq;
        r.moot_why = "moved into Conflicts and back out";
        if (back_folder == j->folder_id) {
            /* back where it was: the server keeps it as it is */
            char *rid = r.item_remote;
            r.item_remote = NULL;
            st = record_moot(e, x, OUTPOST_JS_DONE, rid, NULL, "moved into Conflicts and back: nothing to send", &r);
            if (st.code == OUTPOST_OK)
                settle(v, n, i, r.moot, r.n_moot);
            free(rid);
            resolved_free(&r);
            return st;
        }
    }
    if (st.code == OUTPOST_BAD_DATA) {
        /* this entry cannot be sent as it is (its content is not cached, or is damaged):
         * a dead letter that status and audit show; the queue goes on */
        char why[600];
        snprintf(why, sizeof why, "%s", st.message ? st.message : "cannot be sent");
        resolved_free(&r);
        outpost_log(OUTPOST_LOG_WARNING, LOGC, "#%lld %s cannot be sent: %s; kept as dead letter", (long long)x->j.seq,
                    op_name(x->j.op), why);
        return record(e, x, OUTPOST_JS_DEAD, NULL, NULL, why);
    }
    if (st.code != OUTPOST_OK) {
        resolved_free(&r);
        return st;
    }
    char msg[900];
    int is_item = j->op >= OUTPOST_J_ITEM_CREATE && j->op <= OUTPOST_J_ITEM_DELETE;
    /* Entries that need nothing from the server. */
    if (j->op == OUTPOST_J_FOLDER_SUBSCRIBE) {
        resolved_free(&r);
        return record(e, x, OUTPOST_JS_LOCAL, NULL, NULL, "subscriptions are kept locally");
    }
    if (is_item && !r.item_exists && j->op != OUTPOST_J_ITEM_DELETE) {
        resolved_free(&r);
        return record(e, x, OUTPOST_JS_DONE, NULL, NULL, "item deleted locally before it reached the server");
    }
    if (j->op == OUTPOST_J_FOLDER_CREATE && !r.folder_kind) {
        resolved_free(&r);
        return record(e, x, OUTPOST_JS_DONE, NULL, NULL, "folder deleted locally before it reached the server");
    }
    if (j->op == OUTPOST_J_ITEM_CREATE && r.item_remote) {
        char *rid = r.item_remote;
        r.item_remote = NULL;
        resolved_free(&r);
        st = record(e, x, OUTPOST_JS_DONE, rid, NULL, "already on the server");
        free(rid);
        return st;
    }
    if ((is_item && j->op != OUTPOST_J_ITEM_CREATE && j->op != OUTPOST_J_ITEM_COPY && !r.item_remote) ||
        (j->op >= OUTPOST_J_FOLDER_RENAME && j->op <= OUTPOST_J_FOLDER_DELETE && !r.item_remote)) {
        resolved_free(&r);
        if (j->op == OUTPOST_J_ITEM_DELETE || j->op == OUTPOST_J_FOLDER_DELETE)
            return record(e, x, OUTPOST_JS_DONE, NULL, NULL, "never reached the server; nothing to delete");
        return record(e, x, OUTPOST_JS_DEAD, NULL, NULL,
                      "the object never reached the server (its create was rejected)");
    }
    if ((j->op == OUTPOST_J_ITEM_CREATE || j->op == OUTPOST_J_ITEM_COPY || j->op == OUTPOST_J_ITEM_MOVE ||
         j->op == OUTPOST_J_FOLDER_CREATE) &&
        !(j->op == OUTPOST_J_ITEM_CREATE ? r.folder_remote : r.target_remote) &&
        !(j->op == OUTPOST_J_FOLDER_CREATE && !j->target_folder_id)) {
        resolved_free(&r);
        if (j->op == OUTPOST_J_ITEM_CREATE || j->op == OUTPOST_J_ITEM_COPY || j->op == OUTPOST_J_ITEM_MOVE)
            return record(e, x, OUTPOST_JS_LOCAL, NULL, NULL, "target folder is local only");
        return record(e, x, OUTPOST_JS_DEAD, NULL, NULL, "parent folder never reached the server");
    }

    outpost_change ch = { 0 };
    ch.struct_size = sizeof ch;
    ch.op = j->op;
    ch.kind = is_item ? (r.item_exists ? r.item.kind : r.folder_kind) : r.folder_kind;
    ch.flags = j->op == OUTPOST_J_ITEM_DELETE   ? (j->flags & OUTPOST_J_PERMANENT)
               : j->op == OUTPOST_J_FOLDER_RENAME ? 0 /* OUTPOST_J_SAME_PARENT is the core's */
                                                  : j->flags;
    ch.keywords = j->keywords;
    ch.remote_id = j->op == OUTPOST_J_ITEM_COPY ? r.copy_source : r.item_remote;
    ch.remote_version = r.item_version;
    ch.folder_remote_id = r.folder_remote;
    ch.target_remote_id = r.target_remote;
    ch.name = j->name ? j->name : r.folder_name;
    if (j->op == OUTPOST_J_FOLDER_RENAME && x->payload && j->name && !strcmp(x->payload, j->name))
        ch.name = NULL; /* the payload is the name before: moved, not renamed */
    ch.key = r.key;
    struct outpost_reader reader = { r.content, r.content_size, spool_read, spool_rewind };
    if (r.content)
        ch.content = &reader;
    if (r.copy_as_create) { /* with the copy's own flags, as an append carries them */
        ch.op = OUTPOST_J_ITEM_CREATE;
        ch.flags = r.item.flags;
        ch.keywords = r.keywords;
        ch.folder_remote_id = r.target_remote;
    } else if (j->op == OUTPOST_J_ITEM_COPY && !ch.remote_id) {
        resolved_free(&r);
        return record(e, x, OUTPOST_JS_DEAD, NULL, NULL, "copy source never reached the server");
    }

    /* Was it in flight when we died? Then look before sending again. */
    outpost_change_result res = { sizeof res, 0, NULL, NULL };
    int found = 0;
    const char *lookup_folder = j->op == OUTPOST_J_ITEM_CREATE ? r.folder_remote : r.target_remote;
    if (j->attempts > 0 && r.key && lookup_folder &&
        (j->op == OUTPOST_J_ITEM_CREATE || j->op == OUTPOST_J_ITEM_COPY || j->op == OUTPOST_J_ITEM_MOVE)) {
        outpost_status fs = e->tm->find(e->tsync, lookup_folder, ch.kind, r.key, &res);
        if (fs.code == OUTPOST_OK && res.remote_id) {
            found = 1;
            outpost_log(OUTPOST_LOG_NOTICE, LOGC, "#%lld %s: already applied on the server before a restart",
                        (long long)j->seq, op_name(j->op));
        } else if (is_stop(fs.code)) {
            resolved_free(&r);
            return fs;
        }
    }
    if (!found) {
        /* Count the attempt durably before the network call. */
        st = record(e, x, OUTPOST_JS_PENDING, NULL, NULL, back ? SENT_AS_MOVE : "sending");
        if (st.code != OUTPOST_OK) {
            resolved_free(&r);
            return st;
        }
        st = e->tm->write(e->tsync, &ch, &res);
        if (st.code == OUTPOST_GONE && j->op == OUTPOST_J_ITEM_MOVE && r.key && r.target_remote) {
            /* The source id is gone: maybe our own earlier attempt moved it. */
            outpost_status fs = e->tm->find(e->tsync, r.target_remote, ch.kind, r.key, &res);
            if (fs.code == OUTPOST_OK && res.remote_id)
                st = outpost_ok();
        }
    }
    char *rid = dupstr(res.remote_id), *rver = dupstr(res.remote_version);
    snprintf(msg, sizeof msg, "%s", st.message ? st.message : outpost_status_class_name(st.code));
    int32_t code = st.code;
    struct resolved moot = { 0 };
    moot.moot = r.moot;
    moot.n_moot = r.n_moot;
    moot.moot_why = r.moot_why;
    r.moot = NULL;
    resolved_free(&r);
    switch (code) {
    case OUTPOST_OK:
        st = record_moot(e, x, OUTPOST_JS_DONE, rid, rver, back ? "moved into Conflicts and back out: sent as a move" : NULL,
                         &moot);
        if (st.code == OUTPOST_OK)
            settle(v, n, i, moot.moot, moot.n_moot);
        break;
    case OUTPOST_CONFLICT:
        if (j->op == OUTPOST_J_FOLDER_CREATE) {
            /* The name exists on the server: our own create that reached it just
             * before a crash, or the same name made elsewhere; either way the
             * local folder becomes that server folder. */
            char *adopted = adopt_created_folder(e, j);
            if (adopted) {
                st = record(e, x, OUTPOST_JS_DONE, adopted, NULL, "already on the server");
                free(adopted);
                break;
            }
        }
        outpost_log(OUTPOST_LOG_NOTICE, LOGC, "#%lld %s: conflict, the server's version wins; local copy kept in Conflicts",
                    (long long)j->seq, op_name(j->op));
        st = is_item ? copy_to_conflicts(e, j->item_id) : outpost_ok();
        if (st.code == OUTPOST_OK)
            st = record(e, x, OUTPOST_JS_CONFLICT, NULL, NULL, msg);
        break;
    case OUTPOST_GONE:
        if (j->op == OUTPOST_J_ITEM_DELETE || j->op == OUTPOST_J_FOLDER_DELETE) {
            st = record(e, x, OUTPOST_JS_DONE, NULL, NULL, "already gone on the server");
            break;
        }
        outpost_log(OUTPOST_LOG_NOTICE, LOGC, "#%lld %s: the object is gone on the server; edit dropped%s",
                    (long long)j->seq, op_name(j->op),
                    j->op == OUTPOST_J_ITEM_CREATE || j->op == OUTPOST_J_ITEM_UPDATE ? ", local copy kept in Conflicts" : "");
        st = (j->op == OUTPOST_J_ITEM_CREATE || j->op == OUTPOST_J_ITEM_UPDATE) ? copy_to_conflicts(e, j->item_id)
                                                                                : outpost_ok();
        if (st.code == OUTPOST_OK)
            st = record(e, x, j->op == OUTPOST_J_ITEM_UPDATE || j->op == OUTPOST_J_ITEM_CREATE ? OUTPOST_JS_CONFLICT
                                                                                              : OUTPOST_JS_DONE,
                        NULL, NULL, "gone on the server");
        break;
    case OUTPOST_TEMP:
    case OUTPOST_THROTTLED:
    case OUTPOST_AUTH:
    {
        uint32_t after = st.retry_after_ms;
        st = engine_status(code, "%s", msg);
        st.retry_after_ms = after;
        break;
    }
    default: /* BAD_DATA, FATAL, STATE_INVALID: rejected, the queue goes on */
        if (code == OUTPOST_BAD_DATA && j->op == OUTPOST_J_FOLDER_CREATE && j->attempts > 0) {
            /* Refused after an attempt that was in flight at a crash: probably
             * our own folder (transports that report "exists" as BAD_DATA). */
            char *adopted = adopt_created_folder(e, j);
            if (adopted) {
                st = record(e, x, OUTPOST_JS_DONE, adopted, NULL, "already on the server");
                free(adopted);
                break;
            }
        }
        outpost_log(OUTPOST_LOG_WARNING, LOGC, "#%lld %s rejected by the server (%s): %s; kept as dead letter",
                    (long long)j->seq, op_name(j->op), outpost_status_class_name(code), msg);
        st = record(e, x, OUTPOST_JS_DEAD, NULL, NULL, msg);
        break;
    }
    free(rid);
    free(rver);
    free(moot.moot);
    return st;
}

static void prune_audit(struct outpost_engine *e)
{
    const char *v = outpost_config_get(e->app->cfg, "core", "audit_retention");
    long long days = 0;
    if (!v || outpost_config_parse_int(v, &days) != 0 || days <= 0)
        return;
    /* A bare number means days; a unit suffix was already converted to seconds. */
    long long seconds = strspn(v, "0123456789") == strlen(v) ? days * 86400 : days;
    struct outpost_txn *t;
    if (outpost_store_write_begin(e->store, &t).code != OUTPOST_OK)
        return;
    uint64_t removed = 0;
    if (e->sm->journal_prune(t, e->host_sync->now_ms(e->host_sync) - seconds * 1000, &removed).code == OUTPOST_OK)
        outpost_store_write_commit(e->store, t);
    else
        outpost_store_write_rollback(e->store, t);
}

outpost_status outpost_engine_replay(struct outpost_engine *e)
{
    outpost_status st = engine_connect(e);
    if (st.code != OUTPOST_OK)
        return st;
    struct entry v[REPLAY_BATCH];
    uint64_t sent = 0;
    for (int rounds = 0; rounds < 100000; rounds++) {
        size_t n = 0;
        if ((st = load_pending(e, v, &n)).code != OUTPOST_OK || n == 0)
            break;
        for (size_t i = 0; i < n && st.code == OUTPOST_OK; i++) {
            if (v[i].settled)
                continue;
            if (superseded(v, n, i))
                st = record(e, &v[i], OUTPOST_JS_DONE, NULL, NULL, "coalesced with a later flag change");
            else
                st = replay_one(e, v, n, i);
            sent++;
            if (e->progress && st.code == OUTPOST_OK) {
                struct outpost_progress p = { "replay", NULL, sent, 0, 0 };
                e->progress(e->progress_ctx, &p);
            }
        }
        for (size_t i = 0; i < n; i++)
            entry_free(&v[i]);
        if (st.code != OUTPOST_OK)
            break;
    }
    if (st.code != OUTPOST_OK) {
        engine_set_error(e, st, "replay");
        engine_drop_connection(e, st);
        return st;
    }
    prune_audit(e);
    return st;
}
