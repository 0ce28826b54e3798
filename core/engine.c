/* core/engine.c — applying server changes: hierarchy, folder pages,
 * content, policies, and the on-demand fetch worker (see engine.h).
 * Journal replay lives in replay.c.
 */
#include "engine_internal.h"
#include "policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "host.h"
#include "log.h"
#include "summary.h"

#define LOGC "sync"

/* ---- small helpers ---- */

static char *dupstr(const char *s) { return s ? strdup(s) : NULL; }

void engine_set_error(struct outpost_engine *e, outpost_status st, const char *what)
{
    op_mutex_lock(e->mu);
    e->last_error_code = st.code;
    snprintf(e->last_error, sizeof e->last_error, "%s%s%s", what ? what : "", what ? ": " : "",
             st.message ? st.message : outpost_status_class_name(st.code));
    if (st.code == OUTPOST_AUTH)
        e->auth_failed = 1;
    if (st.code == OUTPOST_TEMP || st.code == OUTPOST_THROTTLED || st.code == OUTPOST_AUTH)
        e->online = 0;
    op_mutex_unlock(e->mu);
}

static void clear_error(struct outpost_engine *e)
{
    op_mutex_lock(e->mu);
    e->last_error[0] = '\0';
    e->last_error_code = OUTPOST_OK;
    e->auth_failed = 0;
    e->online = 1;
    op_mutex_unlock(e->mu);
}

/* The message of the statuses the engine makes is the calling thread's own: the sync
 * worker, the fetch worker and the front-ends' threads (hook_request_content) each
 * make them, and a buffer in the engine would be written by one while another reads
 * it. A thread's message stays valid until that thread's next engine_status. */
static _Thread_local char tl_msg[1024];

outpost_status engine_status(int32_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tl_msg, sizeof tl_msg, fmt, ap);
    va_end(ap);
    outpost_status st = { code, 0, tl_msg };
    return st;
}

outpost_status engine_keep(outpost_status st, char *buf, size_t len)
{
    if (st.code != OUTPOST_OK && st.message != buf) {
        snprintf(buf, len, "%s", st.message ? st.message : outpost_status_class_name(st.code));
        st.message = buf;
    }
    return st;
}

static void report(struct outpost_engine *e, const char *phase, const char *folder, uint64_t done, uint64_t total,
                   int finished)
{
    if (!e->progress)
        return;
    struct outpost_progress p = { phase, folder, done, total, finished };
    e->progress(e->progress_ctx, &p);
}

/* The folder's policy under the running config (core/policy.h). */
static void folder_policy(struct outpost_engine *e, const outpost_folder *f, int *headers, int64_t *max_age_s)
{
    outpost_policy_effective(e->app->cfg, f, headers, max_age_s, NULL);
}

/* ---- connection ---- */

static outpost_status connect_instance(struct outpost_engine *e, struct outpost_transport *t, int *connected)
{
    if (*connected)
        return outpost_ok();
    outpost_status st = e->tm->open(t);
    if (st.code == OUTPOST_OK)
        *connected = 1;
    return st;
}

outpost_status engine_connect(struct outpost_engine *e)
{
    outpost_status st = connect_instance(e, e->tsync, &e->connected_sync);
    if (st.code != OUTPOST_OK) {
        engine_set_error(e, st, "connect");
        return st;
    }
    return st;
}

/* A transport call failed in a way that may have broken the connection:
 * reconnect next time. */
void engine_drop_connection(struct outpost_engine *e, outpost_status st)
{
    if (st.code == OUTPOST_TEMP || st.code == OUTPOST_AUTH || st.code == OUTPOST_THROTTLED) {
        if (e->connected_sync)
            e->tm->close(e->tsync);
        e->connected_sync = 0;
    }
}

/* ---- the apply sink ---- */

struct apply {
    struct outpost_engine *e;
    struct outpost_txn *txn;     /* open write transaction of the current page */
    int64_t folder_id;           /* folder being synced (0 for hierarchy) */
    const char *folder_name;
    int headers;                 /* policy: drop content after summarising */
    int64_t min_date_ms;         /* policy: older items keep summaries only */
    /* A new item is held here until its content has ended: it is then stored once, with its
     * summary and content state (and its content unless the policy drops it). */
    struct outpost_item_copy pend;
    int has_pend;
    /* A mail the server changed (UPDATE with content) is held in pend like a new one:
     * if its envelope or text preview differs from the stored mail's, it replaces it under a new UID
     * (IMAP messages never change), else only flags and version were refreshed. */
    int64_t replace_id;
    /* current item receiving content */
    int64_t cur_id;
    uint32_t bare_added;         /* items added without content (e.g. moved in from elsewhere) */
    uint32_t cur_kind;
    uint64_t cur_off;
    uint64_t cur_size;           /* its size as the transport gave it (0: unknown) */
    struct outpost_summary_builder *sb; /* summary of the current item, fed chunk by chunk */
    struct outpost_summary_builder *spare; /* the last item's, for the next (put_builder) */
    uint64_t done, total;
    int folders_changed;
    /* The state the sync started from: a commit of the same state with nothing applied
     * changes nothing and is skipped (no transaction, no fsync); `unchanged` says so. */
    const void *old_state;
    size_t old_len;
    int unchanged;
    json_t *seen;                /* re-listing: remote ids reported (a set) */
    /* fetch: the remote ids asked for, which item_failed's index points into */
    char *const *req_ids;
    uint32_t req_n;
    int32_t item_failed;         /* class of the first item_failed (0: none) */
    uint32_t items_failed;
    outpost_status err;
    /* Group commit (folder syncs only, see s_commit): pages that arrive in quick
     * succession share one transaction and one sync to disk. */
    int group;                   /* allowed for this apply */
    int deferred;                /* txn holds complete pages whose commit was put off */
    int partial;                 /* txn holds changes made after the last page ended */
    int64_t group_start_ms;      /* when the first deferred page ended */
    int64_t last_page_ms;        /* when the previous page ended (0: none yet) */
};

/* A page that ends less than GROUP_GAP_MS after the previous one joins its
 * transaction, up to GROUP_SPAN_MS after the first page of the group; see s_commit. */
#define GROUP_GAP_MS 250
#define GROUP_SPAN_MS 500

static outpost_status ensure_txn(struct apply *a)
{
    a->partial = 1;
    if (a->txn)
        return outpost_ok();
    return outpost_store_write_begin(a->e->store, &a->txn);
}

static void queue_items_event(struct apply *a, int64_t folder_id)
{
    outpost_store_event ev = { sizeof ev, OUTPOST_EVENT_ITEMS, folder_id, 0, 0 };
    outpost_store_queue_event(a->e->store, &ev);
}

/* A folder under `parent` named `name` that was created locally and has no
 * remote id yet (0 when there is none). */
static int64_t local_twin(struct apply *a, int64_t parent, const char *name)
{
    const struct outpost_storage_methods *m = a->e->sm;
    struct outpost_cursor *c;
    int64_t found = 0;
    if (!name || m->folder_list(a->txn, &c).code != OUTPOST_OK)
        return 0;
    const void *row;
    while (!found && m->cursor_next(c, &row).code == OUTPOST_OK && row) {
        const outpost_folder *f = row;
        if (f->parent_id == parent && !f->remote_id && !(f->flags & OUTPOST_FOLDER_LOCAL_ONLY) && f->name &&
            !strcmp(f->name, name))
            found = f->id;
    }
    m->cursor_close(c);
    return found;
}

static outpost_status s_folder(void *ctx, uint32_t change, const outpost_folder *f)
{
    struct apply *a = ctx;
    struct outpost_engine *e = a->e;
    const struct outpost_storage_methods *m = e->sm;
    outpost_status st = ensure_txn(a);
    if (st.code != OUTPOST_OK || !f->remote_id)
        return st;
    const outpost_folder *cur = NULL;
    outpost_status fs = m->folder_find_remote(a->txn, f->remote_id, &cur);
    int64_t cur_id = fs.code == OUTPOST_OK ? cur->id : 0;
    if (change == OUTPOST_CHANGE_DELETE) {
        if (!cur_id)
            return outpost_ok();
        a->folders_changed = 1;
        st = m->folder_delete(a->txn, cur_id);
        if (st.code == OUTPOST_BAD_DATA) /* children first: the transport lists them too */
            st = outpost_ok();
        return st;
    }
    int64_t parent = 0;
    if (f->parent_remote_id && *f->parent_remote_id) {
        const outpost_folder *p = NULL;
        if (m->folder_find_remote(a->txn, f->parent_remote_id, &p).code == OUTPOST_OK)
            parent = p->id;
    }
    outpost_folder nf = *f;
    nf.struct_size = sizeof nf;
    nf.parent_id = parent;
    nf.flags &= ~OUTPOST_FOLDER_LOCAL_ONLY;
    if (!cur_id) {
        int64_t id;
        a->folders_changed = 1;
        nf.flags |= OUTPOST_FOLDER_SUBSCRIBED;
        st = m->folder_create(a->txn, &nf, &id);
        if (st.code == OUTPOST_BAD_DATA) {
            /* A local folder of that name exists. If it was created here and
             * never got a remote id, this is its own create arriving (sent just
             * before a crash): adopt it. Otherwise keep both, the server's with a
             * suffix. */
            int64_t twin = local_twin(a, parent, f->name);
            if (twin > 0) {
                outpost_folder u = nf;
                return m->folder_update(a->txn, twin, &u, OUTPOST_FOLDER_F_REMOTE_ID);
            }
            char name[512];
            snprintf(name, sizeof name, "%s (server)", f->name ? f->name : "folder");
            nf.name = name;
            st = m->folder_create(a->txn, &nf, &id);
        }
        return st;
    }
    uint32_t fields = 0;
    if (f->name && (!cur->name || strcmp(f->name, cur->name)))
        fields |= OUTPOST_FOLDER_F_NAME;
    if (cur->parent_id != parent)
        fields |= OUTPOST_FOLDER_F_PARENT;
    if (cur->special_use != f->special_use)
        fields |= OUTPOST_FOLDER_F_SPECIAL_USE;
    if (!fields)
        return outpost_ok();
    a->folders_changed = 1;
    return m->folder_update(a->txn, cur_id, &nf, fields);
}

static outpost_status finish_current(struct apply *a, int ended);
static outpost_status clear_unreadable(struct apply *a, int64_t id);

/* Holds a new item of `folder` in a->pend: it is stored when its content ends
 * (finish_current), or without content when the transport moves on. idate is its
 * internal date when the transport gave none. */
static outpost_status hold_new(struct apply *a, const outpost_item *it, int64_t folder, int64_t idate)
{
    outpost_item n = *it;
    n.struct_size = sizeof n;
    n.folder_id = folder;
    n.id = 0;
    n.content_state = OUTPOST_CONTENT_NONE;
    /* Read/unread is a mail notion: other kinds never count as unread. */
    if (n.kind != OUTPOST_ITEM_MAIL)
        n.flags |= OUTPOST_FLAG_SEEN;
    if (!n.internal_date)
        n.internal_date = idate;
    if (outpost_item_copy_from(&a->pend, &n) != 0)
        return engine_status(OUTPOST_FATAL, "out of memory");
    a->has_pend = 1;
    a->cur_id = 0;
    a->cur_kind = n.kind;
    a->cur_off = 0;
    a->cur_size = n.size;
    return outpost_ok();
}

static outpost_status s_item(void *ctx, uint32_t change, const outpost_item *it)
{
    struct apply *a = ctx;
    struct outpost_engine *e = a->e;
    const struct outpost_storage_methods *m = e->sm;
    outpost_status st = finish_current(a, 0);
    if (st.code != OUTPOST_OK)
        return st;
    if ((st = ensure_txn(a)).code != OUTPOST_OK)
        return st;
    if (!it->remote_id)
        return engine_status(OUTPOST_BAD_DATA, "transport reported an item without a remote id");
    a->done++;
    if (a->seen && change != OUTPOST_CHANGE_DELETE)
        json_object_set_new(a->seen, it->remote_id, json_true());
    const outpost_item *cur = NULL;
    /* A fetch (folder_id -1) refreshes an item wherever it is now. */
    int64_t folder = it->folder_id ? it->folder_id : a->folder_id > 0 ? a->folder_id : 0;
    int found = m->item_find_remote(a->txn, folder, it->remote_id, &cur).code == OUTPOST_OK;
    if (!found && !folder)
        return outpost_ok(); /* fetched content of an item deleted meanwhile */
    if (found && !folder)
        folder = cur->folder_id;
    if (change == OUTPOST_CHANGE_DELETE) {
        if (found) {
            st = m->item_delete(a->txn, cur->id);
            queue_items_event(a, folder);
        }
        return st;
    }
    if (found && change == OUTPOST_CHANGE_FLAGS) {
        uint64_t ms;
        int64_t id = cur->id;
        st = m->item_set_flags(a->txn, id, it->flags, it->keywords ? it->keywords : cur->keywords, &ms);
        if (st.code == OUTPOST_OK && it->remote_version) {
            outpost_item u = *cur;
            u.remote_version = it->remote_version;
            st = m->item_update(a->txn, &u, OUTPOST_ITEM_F_REMOTE);
        }
        queue_items_event(a, folder);
        return st;
    }
    if (found) {
        /* ADD of a known item (a replayed create echoed back, or a listing
         * restarted) or UPDATE: refresh flags and version; new content, if
         * it follows, replaces the old. A complete mail's bytes never change
         * under its UID once served (RFC 3501 2.3.1.1): changed content makes
         * a new message that replaces it (replace_id, put_pending). */
        int64_t id = cur->id;
        int replace = change == OUTPOST_CHANGE_UPDATE && cur->kind == OUTPOST_ITEM_MAIL &&
                      it->kind == OUTPOST_ITEM_MAIL && cur->content_state == OUTPOST_CONTENT_COMPLETE;
        int64_t old_idate = cur->internal_date;
        uint64_t ms;
        st = m->item_set_flags(a->txn, id, it->flags, it->keywords ? it->keywords : cur->keywords, &ms);
        if (st.code == OUTPOST_OK) {
            outpost_item u = *cur;
            u.remote_version = it->remote_version;
            st = m->item_update(a->txn, &u, OUTPOST_ITEM_F_REMOTE);
        }
        if (st.code == OUTPOST_OK && replace) {
            if ((st = hold_new(a, it, folder, old_idate)).code == OUTPOST_OK)
                a->replace_id = id;
            queue_items_event(a, folder);
            return st;
        }
        a->cur_id = change == OUTPOST_CHANGE_UPDATE ? id : -id; /* negative: content ignored */
        a->cur_kind = it->kind;
        a->cur_off = 0;
        a->cur_size = it->size;
        queue_items_event(a, folder);
        return st;
    }
    return hold_new(a, it, folder, it->date ? it->date : e->host_sync->now_ms(e->host_sync));
}

static outpost_status s_item_moved(void *ctx, const char *old_remote_id, const char *to_folder_remote_id,
                                   const outpost_item *it)
{
    struct apply *a = ctx;
    struct outpost_engine *e = a->e;
    const struct outpost_storage_methods *m = e->sm;
    outpost_status st = finish_current(a, 0);
    if (st.code != OUTPOST_OK || (st = ensure_txn(a)).code != OUTPOST_OK)
        return st;
    const outpost_item *cur = NULL;
    if (m->item_find_remote(a->txn, 0, old_remote_id, &cur).code != OUTPOST_OK) {
        /* Unknown here: treat as a new item in the target if it is ours. */
        const outpost_item *dup = NULL;
        if (m->item_find_remote(a->txn, 0, it->remote_id, &dup).code == OUTPOST_OK)
            return outpost_ok(); /* already applied (a replayed move, or a resumed page) */
        const outpost_folder *tf = NULL;
        if (!to_folder_remote_id || m->folder_find_remote(a->txn, to_folder_remote_id, &tf).code != OUTPOST_OK)
            return outpost_ok();
        outpost_item n = *it;
        n.folder_id = tf->id;
        return s_item(ctx, OUTPOST_CHANGE_ADD, &n);
    }
    int64_t id = cur->id, from = cur->folder_id;
    const outpost_folder *tf = NULL;
    if (!to_folder_remote_id || m->folder_find_remote(a->txn, to_folder_remote_id, &tf).code != OUTPOST_OK) {
        st = m->item_delete(a->txn, id); /* moved out of what we sync */
        queue_items_event(a, from);
        return st;
    }
    int64_t to = tf->id;
    if (to != from && (st = m->item_move(a->txn, id, to, NULL)).code != OUTPOST_OK)
        return st;
    const outpost_item *moved = NULL;
    if ((st = m->item_get(a->txn, id, &moved)).code != OUTPOST_OK)
        return st;
    outpost_item u = *moved;
    u.remote_id = it->remote_id;
    u.remote_version = it->remote_version;
    if ((st = m->item_update(a->txn, &u, OUTPOST_ITEM_F_REMOTE)).code != OUTPOST_OK)
        return st;
    uint64_t ms;
    st = m->item_set_flags(a->txn, id, it->flags, it->keywords ? it->keywords : u.keywords, &ms);
    queue_items_event(a, from);
    queue_items_event(a, to);
    a->cur_id = -id;
    return st;
}

/* The storages index stored content themselves (idle-time FTS): the summary computes no
 * index text, which spares decoding every text part in full. */
static struct outpost_summary_builder *new_builder(struct apply *a, uint32_t kind, uint64_t size_hint)
{
    struct outpost_summary_builder *b = a->spare;
    a->spare = NULL;
    if (b && outpost_summary_builder_reuse(b, kind, size_hint) != 0) {
        outpost_summary_builder_free(b);
        b = NULL;
    }
    if (!b)
        b = outpost_summary_builder_new_sized(kind, size_hint);
    if (b)
        outpost_summary_builder_set_index(b, 0);
    return b;
}

/* Done with the current item's builder (its summary released): kept for the next item, whose
 * spool then reuses its memory instead of allocating and faulting in pages each time. */
static void put_builder(struct apply *a)
{
    if (a->sb && !a->spare)
        a->spare = a->sb;
    else
        outpost_summary_builder_free(a->sb);
    a->sb = NULL;
}

static outpost_status s_content(void *ctx, const void *data, size_t len)
{
    struct apply *a = ctx;
    if (a->has_pend) {
        a->cur_off += len; /* a new item: written with it when the content ends */
    } else if (a->cur_id <= 0) {
        return outpost_ok(); /* content of an item we keep as it is */
    } else {
        outpost_status st = a->e->sm->content_write(a->txn, a->cur_id, a->cur_off, data, len);
        if (st.code != OUTPOST_OK)
            return st;
        a->cur_off += len;
    }
    if (!a->sb && !(a->sb = new_builder(a, a->cur_kind, a->cur_size)))
        return engine_status(OUTPOST_FATAL, "out of memory");
    char err[256];
    if (outpost_summary_builder_feed(a->sb, data, len, err, sizeof err) != 0)
        return engine_status(OUTPOST_FATAL, "cannot spool content for its summary: %s", err);
    return outpost_ok();
}

struct content_sink {
    struct apply *a;
    int64_t id;
    uint64_t off;
    outpost_status st;
};

static int write_spooled(void *ctx, const void *data, size_t len)
{
    struct content_sink *cs = ctx;
    cs->st = cs->a->e->sm->content_write(cs->a->txn, cs->id, cs->off, data, len);
    cs->off += len;
    return cs->st.code != OUTPOST_OK;
}

/* Writes the header block of the spooled mail (up to and including the empty line that
 * ends it) and stops there; `end` says whether that line was seen. */
struct header_sink {
    struct content_sink cs;
    int nl;   /* 1: at the start of a line, 2: after a CR there */
    int end;
};

static int write_header(void *ctx, const void *data, size_t len)
{
    struct header_sink *h = ctx;
    const char *p = data;
    size_t i = 0;
    for (; i < len && !h->end; i++) {
        if (p[i] == '\n') {
            h->end = h->nl != 0; /* LF or CR LF right at a line start: the empty line */
            h->nl = 1;
        } else {
            h->nl = p[i] == '\r' && h->nl == 1 ? 2 : 0;
        }
    }
    if (write_spooled(&h->cs, data, i) != 0)
        return 1;
    return h->end; /* stop once the block is written */
}

/* Under the headers policy a mail keeps its header block in the cache (content state
 * SUMMARY, cached_size its length), as KOFF's "headers only" does: clients list a
 * folder with BODY.PEEK[HEADER.FIELDS (...)] or RFC822.HEADER, which the IMAP front-end
 * then answers without fetching the body. A mail without an empty line keeps nothing. */
static outpost_status keep_header_block(struct apply *a, int64_t id)
{
    const struct outpost_storage_methods *m = a->e->sm;
    struct header_sink h = { { a, id, 0, outpost_ok() }, 1, 0 };
    char err[256] = "";
    int r = outpost_summary_builder_content(a->sb, write_header, &h, err, sizeof err);
    if (h.cs.st.code != OUTPOST_OK)
        return h.cs.st;
    if (r < 0)
        return engine_status(OUTPOST_FATAL, "cannot read back spooled content: %s", err);
    if (!h.end)
        return m->content_drop(a->txn, id);
    return m->content_finish(a->txn, id, OUTPOST_CONTENT_SUMMARY);
}

static int same_text(const char *a, const char *b) { return !strcmp(a ? a : "", b ? b : ""); }

/* Message-IDs equal with or without their angle brackets (a transport's property may keep
 * them, the summary of the MIME does not). */
static int same_msgid(const char *a, const char *b)
{
    a = a ? a : "";
    b = b ? b : "";
    size_t la = strlen(a), lb = strlen(b);
    if (la >= 2 && a[0] == '<' && a[la - 1] == '>')
        a++, la -= 2;
    if (lb >= 2 && b[0] == '<' && b[lb - 1] == '>')
        b++, lb -= 2;
    return la == lb && !memcmp(a, b, la);
}

/* Whether the server's new version of a stored mail shows the same message to a
 * client: subject, addresses, date, Message-ID and the first lines of its text
 * (the preview, decoded, so a new MIME encoding of the same text compares equal). */
static int same_message(const outpost_item *o, const outpost_item *n)
{
    return same_text(o->subject, n->subject) && same_text(o->from, n->from) && same_text(o->to, n->to) &&
           same_text(o->cc, n->cc) && same_text(o->message_id, n->message_id) && o->date == n->date &&
           same_text(o->preview, n->preview);
}

/* Whether a summary computed now says what the stored one says, field for field. */
static int same_summary(const outpost_item *o, const outpost_item *n)
{
    return same_message(o, n) && same_text(o->object_uid, n->object_uid) && same_text(o->envelope, n->envelope) &&
           same_text(o->bodystructure, n->bodystructure) && o->internal_date == n->internal_date &&
           o->size == n->size;
}

/* Stores the new item held in a->pend: with its summary, content state and (unless the
 * policy keeps summaries only) content when `ended`, else bare. */
static outpost_status put_pending(struct apply *a, int ended)
{
    struct outpost_engine *e = a->e;
    const struct outpost_storage_methods *m = e->sm;
    outpost_item n = a->pend.it;
    struct outpost_summary arena;
    outpost_summary_init(&arena);
    int keep = 0;
    outpost_status st = outpost_ok();
    if (ended) {
        char err[256] = "";
        if (!a->sb && !(a->sb = new_builder(a, n.kind, 0))) {
            st = engine_status(OUTPOST_FATAL, "out of memory");
            goto out;
        }
        if (outpost_summary_builder_finish(a->sb, &n, &arena, err, sizeof err) != 0) {
            /* Unparseable content is still stored byte for byte; the summary
             * keeps what the transport said. */
            outpost_log(OUTPOST_LOG_WARNING, LOGC, "item %s in %s: %s; stored as is", n.remote_id ? n.remote_id : "?",
                        a->folder_name ? a->folder_name : "?", err);
            n.size = a->cur_off;
        }
        keep = !(a->headers || (a->min_date_ms && n.date && n.date < a->min_date_ms));
        n.content_state = keep ? OUTPOST_CONTENT_COMPLETE : OUTPOST_CONTENT_SUMMARY;
    }
    if (a->replace_id) {
        /* A stored mail the server reported changed. Its bytes are kept when the
         * new version shows the same envelope and text: servers regenerate MIME (Exchange's
         * MimeContent, new boundaries) for changes of flags or categories, and
         * IMAP clients keep what they fetched under a UID. Otherwise (subject,
         * addresses, date, Message-ID or the text's first lines changed: a draft
         * edited on the server) the new version replaces it under a new UID and
         * the old UID is expunged. An edit past the preview's first lines with
         * nothing else changed is not seen. */
        int64_t old = a->replace_id;
        const outpost_item *o = NULL;
        a->replace_id = 0;
        if (!ended || (m->item_get(a->txn, old, &o).code == OUTPOST_OK && same_message(o, &n))) {
            keep = 0;
            goto out;
        }
        outpost_log(OUTPOST_LOG_INFO, LOGC, "%s: mail %s changed on the server; it replaces the stored one under a new UID",
                    a->folder_name ? a->folder_name : "?", n.remote_id ? n.remote_id : "?");
        st = m->item_delete(a->txn, old);
        if (st.code == OUTPOST_GONE)
            st = outpost_ok();
        if (st.code != OUTPOST_OK)
            goto out;
    } else if (!ended) {
        a->bare_added++;
    }
    /* a mail without content (the server cannot render its MIME, or it comes later): its ENVELOPE
     * from the properties the transport gave, so that clients show its subject, sender and date;
     * the content's own summary replaces it when the content comes */
    if (!ended && n.kind == OUTPOST_ITEM_MAIL && !n.envelope && (n.subject || n.from || n.to || n.message_id) &&
        outpost_summary_envelope_from_item(&n, &arena) != 0) {
        st = engine_status(OUTPOST_FATAL, "out of memory");
        goto out;
    }
    if ((st = m->item_put(a->txn, &n)).code != OUTPOST_OK)
        goto out;
    if (keep) {
        struct content_sink cs = { a, n.id, 0, outpost_ok() };
        char err[256] = "";
        if (outpost_summary_builder_content(a->sb, write_spooled, &cs, err, sizeof err) != 0) {
            st = cs.st.code != OUTPOST_OK ? cs.st
                                           : engine_status(OUTPOST_FATAL, "cannot read back spooled content: %s", err);
            goto out;
        }
        if ((st = m->content_finish(a->txn, n.id, OUTPOST_CONTENT_COMPLETE)).code != OUTPOST_OK)
            goto out;
    } else if (ended && n.kind == OUTPOST_ITEM_MAIL && (st = keep_header_block(a, n.id)).code != OUTPOST_OK) {
        goto out;
    }
    queue_items_event(a, n.folder_id);
    if (ended) {
        outpost_store_event ev = { sizeof ev, OUTPOST_EVENT_CONTENT, n.folder_id, n.id, 0 };
        outpost_store_queue_event(e->store, &ev);
    }
out:
    outpost_summary_release(&arena);
    put_builder(a);
    outpost_item_copy_free(&a->pend);
    a->has_pend = 0;
    return st;
}

/* Ends the item that received content. `ended` is 1 from content_end; 0
 * when the transport moved on without content (the item stays without). */
static outpost_status finish_current(struct apply *a, int ended)
{
    if (a->has_pend)
        return put_pending(a, ended);
    if (a->cur_id <= 0 || !ended) {
        a->cur_id = 0;
        put_builder(a);
        return outpost_ok();
    }
    int64_t id = a->cur_id;
    a->cur_id = 0;
    struct outpost_engine *e = a->e;
    const struct outpost_storage_methods *m = e->sm;
    outpost_status st;
    const outpost_item *cur = NULL;
    if ((st = m->item_get(a->txn, id, &cur)).code != OUTPOST_OK)
        return st;
    outpost_item u = *cur;
    /* what clients were shown of a summary-only mail, to compare below */
    int shown = cur->kind == OUTPOST_ITEM_MAIL && cur->content_state == OUTPOST_CONTENT_SUMMARY;
    uint64_t shown_size = cur->size;
    char *shown_bs = shown ? dupstr(cur->bodystructure) : NULL, *shown_env = shown ? dupstr(cur->envelope) : NULL;
    struct outpost_summary arena;
    outpost_summary_init(&arena);
    char err[256] = "";
    if (!a->sb && !(a->sb = new_builder(a, u.kind, 0))) {
        free(shown_bs);
        free(shown_env);
        return engine_status(OUTPOST_FATAL, "out of memory");
    }
    if (outpost_summary_builder_finish(a->sb, &u, &arena, err, sizeof err) != 0) {
        /* Unparseable content is still stored byte for byte; the summary
         * keeps what the transport said. */
        outpost_log(OUTPOST_LOG_WARNING, LOGC, "item %lld in %s: %s; stored as is", (long long)id,
                    a->folder_name ? a->folder_name : "?", err);
        u.size = a->cur_off;
    }
    int renew = shown && (u.size != shown_size || !same_text(u.bodystructure, shown_bs) ||
                          !same_text(u.envelope, shown_env));
    /* a mail without content was shown the ENVELOPE its properties make (put_pending): when its
     * content says something else (subject, addresses, date, Message-ID), a client that cached that
     * envelope under the UID would keep showing it, so the mail takes a new UID too; the same
     * things in another spelling keep the UID */
    if (cur->kind == OUTPOST_ITEM_MAIL && cur->content_state == OUTPOST_CONTENT_NONE && cur->envelope &&
        !(same_text(cur->subject, u.subject) && same_text(cur->from, u.from) && same_text(cur->to, u.to) &&
          same_text(cur->cc, u.cc) && same_msgid(cur->message_id, u.message_id) && cur->date == u.date))
        renew = 1;
    if (renew)
        /* A mail kept as its summary (the headers policy) whose content, fetched now,
         * is not what that summary said: the server regenerated its MIME, or an
         * older Outpost converted it differently. IMAP clients keep RFC822.SIZE,
         * BODYSTRUCTURE and ENVELOPE under a UID forever, so the mail takes a new
         * UID in its folder (the old one is expunged) rather than changing under it. */
        outpost_log(OUTPOST_LOG_INFO, LOGC,
                    "%s: mail %s differs from the summary clients were shown (size %llu, now %llu); "
                    "it moves to a new UID", a->folder_name ? a->folder_name : "?", u.remote_id ? u.remote_id : "?",
                    (unsigned long long)shown_size, (unsigned long long)u.size);
    free(shown_bs);
    free(shown_env);
    /* the usual case, a summary computed from these same bytes before: only the
     * content state changes, and the MODSEQ stays (no FLAGS to re-announce) */
    uint32_t fields = OUTPOST_ITEM_F_CONTENT_STATE | (renew || !same_summary(cur, &u) ? OUTPOST_ITEM_F_SUMMARY : 0);
    u.content_state = OUTPOST_CONTENT_COMPLETE;
    st = m->item_update(a->txn, &u, fields);
    if (st.code == OUTPOST_OK && renew && (st = m->item_move(a->txn, id, u.folder_id, NULL)).code == OUTPOST_OK)
        queue_items_event(a, u.folder_id);
    int64_t date = u.date, folder = u.folder_id;
    uint32_t kind = u.kind;
    outpost_summary_release(&arena);
    if (st.code == OUTPOST_OK)
        st = m->content_finish(a->txn, id, OUTPOST_CONTENT_COMPLETE);
    if (st.code == OUTPOST_OK)
        st = clear_unreadable(a, id);
    if (st.code == OUTPOST_OK && (a->headers || (a->min_date_ms && date && date < a->min_date_ms))) {
        st = m->content_drop(a->txn, id);
        if (st.code == OUTPOST_OK && kind == OUTPOST_ITEM_MAIL)
            st = keep_header_block(a, id);
    }
    put_builder(a);
    if (st.code != OUTPOST_OK)
        return st;
    outpost_store_event ev = { sizeof ev, OUTPOST_EVENT_CONTENT, folder, id, 0 };
    outpost_store_queue_event(e->store, &ev);
    return st;
}

static outpost_status s_content_end(void *ctx)
{
    return finish_current(ctx, 1);
}

/* Records now as the folder's last sync ("last_sync:<id>", shown by `outpost status`). */
static outpost_status set_last_sync(struct outpost_engine *e, struct outpost_txn *t, int64_t folder_id)
{
    char key[64], now[32];
    snprintf(key, sizeof key, "last_sync:%lld", (long long)folder_id);
    int n = snprintf(now, sizeof now, "%lld", (long long)e->host_sync->now_ms(e->host_sync));
    return e->sm->meta_set(t, key, now, (size_t)n);
}

/* Ends the page: the folder's (or hierarchy's) new state commits with it. */
static outpost_status s_commit(void *ctx, const void *state, size_t len)
{
    struct apply *a = ctx;
    struct outpost_engine *e = a->e;
    outpost_status st = finish_current(a, 0);
    if (st.code != OUTPOST_OK)
        return st;
    if (!a->txn && !a->folders_changed && a->folder_id >= 0 && state && a->old_state && len == a->old_len &&
        memcmp(state, a->old_state, len) == 0) {
        /* Nothing applied and the state is the one stored: nothing to commit. The
         * caller stamps the folder's last sync with the others' in one transaction. */
        a->unchanged = 1;
        return outpost_ok();
    }
    a->unchanged = 0;
    if ((st = ensure_txn(a)).code != OUTPOST_OK)
        return st;
    if (a->folder_id > 0 && state)
        st = e->sm->folder_set_sync_state(a->txn, a->folder_id, state, len);
    else if (a->folder_id == 0 && state)
        st = e->sm->meta_set(a->txn, "hierarchy_state", state, len);
    if (st.code == OUTPOST_OK && a->folder_id > 0)
        st = set_last_sync(e, a->txn, a->folder_id);
    if (a->folders_changed) {
        outpost_store_event ev = { sizeof ev, OUTPOST_EVENT_FOLDERS, 0, 0, 0 };
        outpost_store_queue_event(e->store, &ev);
        a->folders_changed = 0;
    }
    if (st.code != OUTPOST_OK) {
        outpost_store_write_rollback(e->store, a->txn);
        a->txn = NULL;
        a->deferred = a->partial = 0;
        return st;
    }
    a->partial = 0;
    /* Group commit. Every COMMIT of a durable cache waits for a sync to disk
     * (durability = full: 8-17 ms measured here), once per page of 100 items: on
     * an initial sync that was a large part of the apply thread's time. A page
     * that follows the previous one closely (a bulk listing; its successor is
     * usually prefetched already) stays in the open transaction with its state,
     * and the group commits when a page comes slowly, after GROUP_SPAN_MS, or when
     * the folder's sync returns (apply_flush). Nothing changes for consistency:
     * the state in the transaction is always the one of its last complete page, so
     * a crash (or an error inside a later page) simply finds the folder where the
     * last committed group left it and the transport lists those pages again. The
     * write lock is held at most about GROUP_SPAN_MS plus one page, so front-end
     * edits are not held up for long. */
    int64_t now = e->host_sync->monotonic_ms(e->host_sync);
    int quick = a->last_page_ms && now - a->last_page_ms < GROUP_GAP_MS;
    a->last_page_ms = now;
    if (a->group && a->folder_id > 0 && quick && (!a->deferred || now - a->group_start_ms < GROUP_SPAN_MS)) {
        if (!a->deferred)
            a->group_start_ms = now;
        a->deferred = 1;
        report(e, "folder", a->folder_name, a->done, a->total, 0);
        return outpost_ok();
    }
    st = outpost_store_write_commit(e->store, a->txn);
    a->txn = NULL;
    a->deferred = 0;
    if (a->folder_id >= 0)
        report(e, a->folder_id ? "folder" : "hierarchy", a->folder_name, a->done, a->total, 0);
    return st;
}

/* After the transport's sync of a folder returned: commits the pages whose
 * commit s_commit put off, unless changes of an unfinished page were made
 * after them (then everything since the last commit is dropped, as a page that
 * did not reach its commit always is, and listed again next time). Returns st,
 * or the commit's error when st was OK. */
static outpost_status apply_flush(struct apply *a, outpost_status st)
{
    if (!a->txn || !a->deferred)
        return st;
    outpost_status cs = outpost_ok();
    if (a->partial) {
        outpost_store_write_rollback(a->e->store, a->txn);
        outpost_log(OUTPOST_LOG_INFO, LOGC, "%s: the pages after the last commit are listed again next time",
                    a->folder_name ? a->folder_name : "folder");
    } else {
        cs = outpost_store_write_commit(a->e->store, a->txn);
    }
    a->txn = NULL;
    a->deferred = a->partial = 0;
    return st.code == OUTPOST_OK ? cs : st;
}

/* Adds item `id` to the cache's index of items with a content-failure record
 * (core/policy.h), dropping the ids whose record has gone since. */
static outpost_status index_unreadable(struct apply *a, int64_t id)
{
    const struct outpost_storage_methods *m = a->e->sm;
    json_t *old = outpost_content_failures_index(m, a->txn), *ids = json_array(), *x;
    size_t i;
    json_array_foreach(old, i, x) {
        int64_t k = json_integer_value(x);
        const void *pv;
        size_t pl;
        if (k > 0 && k != id && m->prop_get(a->txn, k, OUTPOST_CONTENT_FAILURES_PROP, &pv, &pl).code == OUTPOST_OK)
            json_array_append(ids, x);
    }
    json_decref(old);
    json_array_append_new(ids, json_integer(id));
    char *text = json_dumps(ids, JSON_COMPACT);
    json_decref(ids);
    if (!text)
        return engine_status(OUTPOST_FATAL, "out of memory");
    outpost_status st = m->meta_set(a->txn, OUTPOST_CONTENT_FAILURES_INDEX, text, strlen(text));
    free(text);
    return st;
}

/* The transport could not get the content of the item with remote id `rid` and
 * says the server will not give it (BAD_DATA: an attachment gone for good). The
 * item stays as it is, and its record of failed tries says when fetch_missing asks
 * for it again (core/policy.h): a try made on schedule counts and logs one warning;
 * one made earlier (a client opened it, `outpost sync`) changes nothing. */
static outpost_status record_unreadable(struct apply *a, const char *rid, outpost_status failed)
{
    struct outpost_engine *e = a->e;
    const struct outpost_storage_methods *m = e->sm;
    char why[512];
    snprintf(why, sizeof why, "%s", failed.message ? failed.message : outpost_status_class_name(failed.code));
    outpost_status st = ensure_txn(a);
    if (st.code != OUTPOST_OK)
        return st;
    const outpost_item *it = NULL;
    if (m->item_find_remote(a->txn, a->folder_id > 0 ? a->folder_id : 0, rid, &it).code != OUTPOST_OK || !it)
        return outpost_ok(); /* deleted meanwhile */
    int64_t id = it->id;
    char subject[128];
    snprintf(subject, sizeof subject, "%.100s", it->subject ? it->subject : "");
    const void *v = NULL;
    size_t len = 0;
    uint32_t n = 0;
    int64_t last = 0;
    if (m->prop_get(a->txn, id, OUTPOST_CONTENT_FAILURES_PROP, &v, &len).code == OUTPOST_OK)
        outpost_content_failures_parse(v, len, &n, &last);
    int64_t now = e->host_sync->now_ms(e->host_sync);
    char when[32];
    if (n && !outpost_content_retry_due(n, last, now)) {
        op_format_utc(last + outpost_content_retry_delay_ms(n), "%Y-%m-%d %H:%M:%SZ", when, sizeof when);
        outpost_log(OUTPOST_LOG_INFO, LOGC, "%s: the content of item %s (\"%s\") still cannot be read: %s; next "
                    "scheduled try after %s", a->folder_name ? a->folder_name : "fetch", rid, subject, why, when);
        return outpost_ok();
    }
    n++;
    char val[64];
    int vl = outpost_content_failures_format(n, now, val, sizeof val);
    if ((st = m->prop_set(a->txn, id, OUTPOST_CONTENT_FAILURES_PROP, val, (size_t)vl)).code == OUTPOST_OK && n == 1)
        st = index_unreadable(a, id);
    if (st.code != OUTPOST_OK)
        return st;
    op_format_utc(now + outpost_content_retry_delay_ms(n), "%Y-%m-%d %H:%M:%SZ", when, sizeof when);
    outpost_log(OUTPOST_LOG_WARNING, LOGC, "%s: the content of item %s (\"%s\") cannot be read from the server: %s; "
                "it is kept without it and asked for again after %s (failed tries: %u), or when a client opens it "
                "or `outpost sync` runs", a->folder_name ? a->folder_name : "fetch", rid, subject, why, when, n);
    return outpost_ok();
}

/* Content of item `id` was stored: its record of failed tries, if any, goes. */
static outpost_status clear_unreadable(struct apply *a, int64_t id)
{
    const struct outpost_storage_methods *m = a->e->sm;
    const void *v = NULL;
    size_t len = 0;
    if (m->prop_get(a->txn, id, OUTPOST_CONTENT_FAILURES_PROP, &v, &len).code != OUTPOST_OK)
        return outpost_ok();
    uint32_t n = 0;
    int64_t last = 0;
    outpost_content_failures_parse(v, len, &n, &last);
    outpost_log(OUTPOST_LOG_INFO, LOGC, "%s: item %lld could be read from the server after %u failed tries",
                a->folder_name ? a->folder_name : "fetch", (long long)id, n);
    outpost_status st = m->prop_set(a->txn, id, OUTPOST_CONTENT_FAILURES_PROP, NULL, 0);
    return st.code == OUTPOST_GONE ? outpost_ok() : st;
}

static outpost_status s_item_failed(void *ctx, uint32_t index, outpost_status st)
{
    struct apply *a = ctx;
    const char *rid = a->req_ids && index < a->req_n ? a->req_ids[index] : NULL;
    if (!a->items_failed++)
        a->item_failed = st.code ? st.code : OUTPOST_BAD_DATA;
    if (st.code == OUTPOST_BAD_DATA && rid)
        return record_unreadable(a, rid, st);
    outpost_log(OUTPOST_LOG_WARNING, LOGC, "%s: item %s not fetched (%s): %s",
                a->folder_name ? a->folder_name : "fetch", rid ? rid : "?", outpost_status_class_name(st.code),
                st.message ? st.message : "");
    return outpost_ok();
}

static outpost_status s_progress(void *ctx, uint64_t done, uint64_t total)
{
    struct apply *a = ctx;
    a->total = total;
    if (done > a->done)
        a->done = done;
    report(a->e, "folder", a->folder_name, a->done, a->total, 0);
    return outpost_ok();
}

static void apply_init(struct apply *a, struct outpost_engine *e, struct outpost_sync_sink *sink)
{
    memset(a, 0, sizeof *a);
    a->e = e;
    memset(sink, 0, sizeof *sink);
    sink->struct_size = sizeof *sink;
    sink->ctx = a;
    sink->folder = s_folder;
    sink->item = s_item;
    sink->item_moved = s_item_moved;
    sink->content = s_content;
    sink->content_end = s_content_end;
    sink->commit = s_commit;
    sink->item_failed = s_item_failed;
    sink->progress = s_progress;
}

/* Whatever a failed call left open is rolled back: nothing of a page that did
 * not reach its commit is kept. */
static void apply_done(struct apply *a)
{
    if (a->txn) {
        outpost_store_write_rollback(a->e->store, a->txn);
        a->txn = NULL;
    }
    outpost_summary_builder_free(a->sb);
    a->sb = NULL;
    outpost_summary_builder_free(a->spare);
    a->spare = NULL;
    if (a->has_pend) {
        outpost_item_copy_free(&a->pend);
        a->has_pend = 0;
    }
}

/* ---- sync phases ---- */

outpost_status engine_sync_hierarchy(struct outpost_engine *e)
{
    struct outpost_txn *t;
    outpost_status st = outpost_store_read_begin(e->store, &t);
    if (st.code != OUTPOST_OK)
        return st;
    const void *state = NULL;
    size_t len = 0;
    void *copy = NULL;
    if (e->sm->meta_get(t, "hierarchy_state", &state, &len).code == OUTPOST_OK && len) {
        copy = malloc(len);
        if (copy)
            memcpy(copy, state, len);
    }
    outpost_store_read_end(e->store, t);
    struct apply a;
    struct outpost_sync_sink sink;
    apply_init(&a, e, &sink);
    a.old_state = copy;
    a.old_len = copy ? len : 0;
    report(e, "hierarchy", NULL, 0, 0, 0);
    st = e->tm->sync_hierarchy(e->tsync, copy, copy ? len : 0, &sink);
    if (st.code == OUTPOST_STATE_INVALID && copy) {
        /* The server rejected our hierarchy state (EWS: ErrorInvalidSyncStateData): list
         * the hierarchy again from scratch. Known folders are matched by remote id. */
        outpost_log(OUTPOST_LOG_NOTICE, LOGC, "folder hierarchy: sync state rejected by the server, listing it again");
        apply_done(&a);
        apply_init(&a, e, &sink);
        st = e->tm->sync_hierarchy(e->tsync, NULL, 0, &sink);
    }
    apply_done(&a);
    free(copy);
    return st;
}

/* A snapshot of one folder, copied out of a read transaction. */
struct folder_ref {
    int64_t id;
    outpost_folder f;      /* strings below are owned copies */
    char *remote_id, *name;
    void *state;
    size_t state_len;
};

static void folder_ref_free(struct folder_ref *r)
{
    free(r->remote_id);
    free(r->name);
    free(r->state);
}

/* Copies every synced folder (open ones first) out of the cache. */
static outpost_status list_folders(struct outpost_engine *e, struct folder_ref **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct outpost_txn *t;
    outpost_status st = outpost_store_read_begin(e->store, &t);
    if (st.code != OUTPOST_OK)
        return st;
    struct outpost_cursor *c;
    if ((st = e->sm->folder_list(t, &c)).code != OUTPOST_OK) {
        outpost_store_read_end(e->store, t);
        return st;
    }
    size_t cap = 0;
    struct folder_ref *v = NULL;
    const void *row;
    while ((st = e->sm->cursor_next(c, &row)).code == OUTPOST_OK && row) {
        const outpost_folder *f = row;
        if (!f->remote_id || (f->flags & (OUTPOST_FOLDER_LOCAL_ONLY | OUTPOST_FOLDER_NOSELECT)))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            struct folder_ref *nv = realloc(v, cap * sizeof *nv);
            if (!nv)
                break;
            v = nv;
        }
        struct folder_ref *r = &v[(*n)++];
        memset(r, 0, sizeof *r);
        r->id = f->id;
        r->f = *f;
        r->remote_id = dupstr(f->remote_id);
        r->name = dupstr(f->name);
        if (f->sync_state && f->sync_state_len && (r->state = malloc(f->sync_state_len))) {
            memcpy(r->state, f->sync_state, f->sync_state_len);
            r->state_len = f->sync_state_len;
        }
        r->f.remote_id = r->remote_id;
        r->f.name = r->name;
        r->f.sync_state = r->state;
        r->f.sync_state_len = r->state_len;
        r->f.parent_remote_id = NULL;
    }
    e->sm->cursor_close(c);
    outpost_store_read_end(e->store, t);
    /* Open folders jump the queue (stable partition). */
    for (size_t i = 0, k = 0; i < *n; i++) {
        if (engine_folder_is_open(e, v[i].id)) {
            struct folder_ref tmp = v[i];
            memmove(&v[k + 1], &v[k], (i - k) * sizeof *v);
            v[k++] = tmp;
        }
    }
    *out = v;
    return st;
}

/* The flags of a folder's sync_folder call. */
static uint32_t folder_sync_flags(const struct folder_ref *r)
{
    return OUTPOST_SYNC_WANT_CONTENT | (r->state ? 0 : OUTPOST_SYNC_INITIAL);
}

/* *bare: items were added without content (they need at least a summary).
 * *unchanged: the sync applied nothing and committed nothing (its last sync is
 * still to be recorded). */
static outpost_status sync_one_folder(struct outpost_engine *e, struct folder_ref *r, int *bare, int *unchanged)
{
    struct apply a;
    struct outpost_sync_sink sink;
    apply_init(&a, e, &sink);
    a.folder_id = r->id;
    a.folder_name = r->name;
    a.old_state = r->state;
    a.old_len = r->state_len;
    int64_t max_age = 0;
    folder_policy(e, &r->f, &a.headers, &max_age);
    if (max_age)
        a.min_date_ms = e->host_sync->now_ms(e->host_sync) - max_age * 1000;
    uint32_t flags = folder_sync_flags(r);
    report(e, "folder", r->name, 0, 0, 0);
    a.group = 1;
    outpost_status st = e->tm->sync_folder(e->tsync, &r->f, r->state, r->state_len, e->page_size, flags, &sink);
    st = apply_flush(&a, st);
    if (st.code == OUTPOST_STATE_INVALID) {
        /* The server rejected our state: list the folder again from scratch.
         * Known items are matched by remote id, so nothing is duplicated, and
         * pending local edits stay in the journal. */
        outpost_log(OUTPOST_LOG_NOTICE, LOGC, "%s: sync state rejected by the server, listing the folder again",
                    r->name);
        apply_done(&a);
        apply_init(&a, e, &sink);
        a.folder_id = r->id;
        a.folder_name = r->name;
        folder_policy(e, &r->f, &a.headers, &max_age);
        r->f.sync_state = NULL;
        r->f.sync_state_len = 0;
        a.seen = json_object();
        a.group = 1;
        st = e->tm->sync_folder(e->tsync, &r->f, NULL, 0, e->page_size, flags | OUTPOST_SYNC_INITIAL, &sink);
        st = apply_flush(&a, st);
        if (st.code == OUTPOST_OK)
            st = engine_prune_unlisted(e, r->id, a.seen);
        json_decref(a.seen);
        a.seen = NULL;
    }
    report(e, "folder", r->name, a.done, a.total > a.done ? a.total : a.done, 1);
    *bare = a.bare_added > 0;
    *unchanged = st.code == OUTPOST_OK && a.unchanged;
    apply_done(&a);
    return st;
}

/* Tells the transport which folder this cycle syncs after the one about to be synced, with
 * the arguments sync_one_folder will pass: it may start reading it meanwhile. NULL: the cycle
 * is over (what was read ahead goes). */
static void hint_next(struct outpost_engine *e, const struct folder_ref *r)
{
    if (!OUTPOST_HAS_METHOD(e->tm, struct outpost_transport_methods, sync_next))
        return;
    if (!r) {
        (void)e->tm->sync_next(e->tsync, NULL, NULL, 0, e->page_size, 0);
        return;
    }
    (void)e->tm->sync_next(e->tsync, &r->f, r->state, r->state_len, e->page_size, folder_sync_flags(r));
}

/* Records the last sync of the folders whose sync changed nothing, in one transaction. */
static outpost_status stamp_unchanged(struct outpost_engine *e, const struct folder_ref *v, const unsigned char *unchanged,
                                      size_t n)
{
    struct outpost_txn *t = NULL;
    outpost_status st = outpost_ok();
    for (size_t i = 0; i < n && st.code == OUTPOST_OK; i++) {
        if (!unchanged[i])
            continue;
        if (!t && (st = outpost_store_write_begin(e->store, &t)).code != OUTPOST_OK)
            return st;
        st = set_last_sync(e, t, v[i].id);
    }
    if (!t)
        return st;
    if (st.code != OUTPOST_OK) {
        outpost_store_write_rollback(e->store, t);
        return st;
    }
    return outpost_store_write_commit(e->store, t);
}

/* Whether folder `folder_id` holds an item of the index of items whose content the server
 * refused (core/policy.h): an explicit `outpost sync` scans a headers folder for them only
 * then, not every headers folder in full (a scan costs the folder's size, not the changes). */
static int folder_has_unreadable(struct outpost_engine *e, int64_t folder_id)
{
    struct outpost_txn *t;
    if (outpost_store_read_begin(e->store, &t).code != OUTPOST_OK)
        return 1; /* not known: scan */
    size_t i;
    int found = 0;
    json_t *ids = outpost_content_failures_index(e->sm, t), *x;
    json_array_foreach(ids, i, x) {
        const outpost_item *it;
        if (e->sm->item_get(t, json_integer_value(x), &it).code == OUTPOST_OK && it && it->folder_id == folder_id) {
            found = 1;
            break;
        }
    }
    json_decref(ids);
    outpost_store_read_end(e->store, t);
    return found;
}

/* Fetches content the cache is missing, in batches: every body in full-policy
 * folders; in headers-policy folders only items that have no summary yet
 * (added without content, e.g. moved in from a folder we did not know them
 * in), summarised and dropped again. `scan_headers` 0 skips headers folders.
 * Items whose content the server refused for good wait for their next scheduled
 * try (core/policy.h) unless `retry_all`. */
static outpost_status fetch_missing(struct outpost_engine *e, struct outpost_transport *t, struct folder_ref *r,
                                    int scan_headers, int retry_all)
{
    int headers = 0;
    int64_t max_age = 0;
    folder_policy(e, &r->f, &headers, &max_age);
    if (headers && !scan_headers)
        return outpost_ok();
    enum { BATCH = 50 };
    uint64_t done = 0;
    int64_t after_uid = 0;
    int64_t now = e->host_sync->now_ms(e->host_sync);
    for (int rounds = 0; rounds < 1000000; rounds++) {
        char *ids[BATCH];
        int64_t item_ids[BATCH];
        size_t n = 0, listed;
        struct outpost_txn *tx;
        outpost_status st = outpost_store_read_begin(e->store, &tx);
        if (st.code != OUTPOST_OK)
            return st;
        struct outpost_cursor *c;
        if ((st = e->sm->items_missing_content(tx, r->id, &c)).code == OUTPOST_OK) {
            const void *row;
            while (n < BATCH && e->sm->cursor_next(c, &row).code == OUTPOST_OK && row) {
                const outpost_item *it = row;
                if ((int64_t)it->uid <= after_uid || !it->remote_id ||
                    (headers && it->content_state != OUTPOST_CONTENT_NONE))
                    continue;
                item_ids[n] = it->id;
                ids[n++] = strdup(it->remote_id);
                after_uid = it->uid;
            }
            e->sm->cursor_close(c);
        }
        /* (after the cursor: property lookups while it is open are not every storage's) */
        listed = n;
        if (!retry_all) {
            n = 0;
            for (size_t i = 0; i < listed; i++) {
                const void *v;
                size_t len;
                uint32_t failures;
                int64_t last;
                if (e->sm->prop_get(tx, item_ids[i], OUTPOST_CONTENT_FAILURES_PROP, &v, &len).code == OUTPOST_OK &&
                    outpost_content_failures_parse(v, len, &failures, &last) == 0 &&
                    !outpost_content_retry_due(failures, last, now)) {
                    free(ids[i]); /* its next try is not due */
                    continue;
                }
                ids[n++] = ids[i];
            }
        }
        outpost_store_read_end(e->store, tx);
        if (st.code != OUTPOST_OK || listed == 0) {
            for (size_t i = 0; i < n; i++)
                free(ids[i]);
            if (done)
                report(e, "content", r->name, done, done, 1);
            return st;
        }
        if (n == 0)
            continue; /* this batch waits for its next tries: the next one */
        struct apply a;
        struct outpost_sync_sink sink;
        apply_init(&a, e, &sink);
        a.folder_id = -1; /* no sync state with fetch pages */
        a.folder_name = r->name;
        a.headers = headers;
        a.req_ids = ids;
        a.req_n = (uint32_t)n;
        st = e->tm->fetch(t, &r->f, (const char *const *)ids, (uint32_t)n, &sink);
        apply_done(&a);
        for (size_t i = 0; i < n; i++)
            free(ids[i]);
        if (st.code != OUTPOST_OK)
            return st;
        done += n;
        report(e, "content", r->name, done, 0, 0);
    }
    return outpost_ok();
}

/* ---- the account the cache belongs to ---- */

/* The account identity the config names: "TRANSPORT HOST USER", host (of url, else
 * autodiscover_url, else the domain of email; without user info and port) and user
 * (else email) lowercased: a server compares logins case-insensitively. */
static void account_identity(struct outpost_engine *e, char *out, size_t len)
{
    const struct outpost_config *cfg = e->app->cfg;
    const char *url = outpost_config_get(cfg, "account", "url");
    if (!url || !*url)
        url = outpost_config_get(cfg, "account", "autodiscover_url");
    const char *user = outpost_config_get(cfg, "account", "user");
    const char *email = outpost_config_get(cfg, "account", "email");
    if (!user || !*user)
        user = email;
    char host[256] = "";
    if (url && *url) {
        outpost_url_host(url, host, sizeof host);
    } else if (email && strchr(email, '@')) {
        snprintf(host, sizeof host, "%s", strchr(email, '@') + 1);
        outpost_host_normalise(host);
    }
    snprintf(out, len, "%s %s %s", e->tp->desc->name, host, user ? user : "");
    for (char *p = out; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
}

void engine_identity_normalise(char *id)
{
    char *host = strchr(id, ' ');
    if (!host)
        return;
    host++;
    char *end = strchr(host, ' ');
    if (!end) {
        outpost_host_normalise(host);
        return;
    }
    *end = '\0';
    outpost_host_normalise(host); /* only ever shortens it */
    size_t now = strlen(host);
    *end = ' ';
    memmove(host + now, end, strlen(end) + 1);
}

/* Before a cycle talks to the server: the identity the cache recorded at its first
 * sync must be the config's, else FATAL (nothing is replayed or fetched: one cache
 * would hold two accounts, and edits made in one would go to the other). *record:
 * the identity is to be written once the login succeeded (none recorded yet, or
 * [account] adopt_cache). */
static outpost_status check_account(struct outpost_engine *e, char *want, size_t wlen, int *record)
{
    *record = 0;
    account_identity(e, want, wlen);
    struct outpost_txn *t;
    outpost_status st = outpost_store_read_begin(e->store, &t);
    if (st.code != OUTPOST_OK)
        return st;
    const void *v = NULL;
    size_t len = 0;
    char have[600] = "";
    if (e->sm->meta_get(t, "account_identity", &v, &len).code == OUTPOST_OK && v)
        snprintf(have, sizeof have, "%.*s", (int)len, (const char *)v);
    outpost_store_read_end(e->store, t);
    engine_identity_normalise(have);
    int adopt = 0;
    const char *a = outpost_config_get(e->app->cfg, "account", "adopt_cache");
    if (a)
        outpost_config_parse_bool(a, &adopt);
    if (!*have || !strcmp(have, want)) {
        *record = !*have;
        return outpost_ok();
    }
    if (adopt) {
        outpost_log(OUTPOST_LOG_WARNING, LOGC, "[account] adopt_cache = true: the cache of '%s' is synced as '%s' "
                    "(remove adopt_cache once this sync succeeded)", have, want);
        *record = 1;
        return outpost_ok();
    }
    return engine_status(OUTPOST_FATAL,
                         "the cache in %s belongs to another account ('%s'; the config names '%s'): syncing would mix "
                         "two accounts in one cache and could send edits made in one to the other. For another "
                         "account, set a new [core] data_dir (it is synced from scratch); if this is the same account "
                         "under a new user name or server address, set [account] adopt_cache = true for one sync, "
                         "then remove it",
                         e->app->data_dir, have, want);
}

static void record_account(struct outpost_engine *e, const char *id)
{
    struct outpost_txn *t;
    if (outpost_store_write_begin(e->store, &t).code != OUTPOST_OK)
        return;
    if (e->sm->meta_set(t, "account_identity", id, strlen(id)).code == OUTPOST_OK)
        outpost_store_write_commit(e->store, t);
    else
        outpost_store_write_rollback(e->store, t);
}

outpost_status outpost_engine_sync_once(struct outpost_engine *e)
{
    char id[600];
    int record = 0;
    outpost_status st = check_account(e, id, sizeof id, &record);
    op_mutex_lock(e->mu);
    e->account_refused = st.code != OUTPOST_OK;
    op_mutex_unlock(e->mu);
    if (st.code != OUTPOST_OK) {
        engine_set_error(e, st, "account");
        return st;
    }
    st = engine_connect(e);
    if (st.code != OUTPOST_OK)
        return st;
    if (record)
        record_account(e, id);
    if ((st = outpost_engine_replay(e)).code != OUTPOST_OK)
        goto fail;
    if ((st = engine_sync_hierarchy(e)).code != OUTPOST_OK) {
        engine_set_error(e, st, "folder hierarchy");
        goto fail;
    }
    struct folder_ref *v;
    size_t n;
    if ((st = list_folders(e, &v, &n)).code != OUTPOST_OK)
        goto fail;
    outpost_status first = outpost_ok();
    int all_ok = 1, any_bare = 0;
    /* `outpost sync` asked for content the server refused before, whatever its schedule */
    op_mutex_lock(e->mu);
    int retry_all = e->retry_unreadable;
    e->retry_unreadable = 0;
    op_mutex_unlock(e->mu);
    unsigned char *unchanged = calloc(n ? n : 1, 1);
    if (!unchanged) {
        for (size_t i = 0; i < n; i++)
            folder_ref_free(&v[i]);
        free(v);
        st = engine_status(OUTPOST_FATAL, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i <= n && !e->host_sync->cancelled(e->host_sync); i++) {
        int bare = 0, same = 0;
        if (i == n) {
            /* An item moved in from another folder is added (without content)
             * while its source folder syncs: summarise such items now. */
            st = outpost_ok();
            for (size_t k = 0; any_bare && k < n && st.code == OUTPOST_OK; k++)
                st = fetch_missing(e, e->tsync, &v[k], 1, 0);
            if (st.code != OUTPOST_OK) {
                engine_set_error(e, st, "content");
                all_ok = 0;
                if (first.code == OUTPOST_OK)
                    first = engine_keep(st, e->cycle_msg, sizeof e->cycle_msg);
            }
            break;
        }
        if (i + 1 < n)
            hint_next(e, &v[i + 1]);
        st = sync_one_folder(e, &v[i], &bare, &same);
        unchanged[i] = (unsigned char)same;
        any_bare |= bare;
        /* Headers folders are scanned for items without a summary once per
         * process too (after a crash), and by `outpost sync` when they hold
         * items whose content the server refused. */
        if (st.code == OUTPOST_OK)
            st = fetch_missing(e, e->tsync, &v[i],
                               !e->headers_scanned || (retry_all && folder_has_unreadable(e, v[i].id)), retry_all);
        if (st.code != OUTPOST_OK)
            all_ok = 0;
        if (st.code != OUTPOST_OK) {
            char what[600];
            snprintf(what, sizeof what, "folder %s", v[i].name ? v[i].name : "?");
            engine_set_error(e, st, what);
            engine_folder_error(e, v[i].id, st);
            if (first.code == OUTPOST_OK)
                first = engine_keep(st, e->cycle_msg, sizeof e->cycle_msg);
            /* A broken link stops the cycle; a bad folder does not stop the others. */
            if (st.code == OUTPOST_TEMP || st.code == OUTPOST_THROTTLED || st.code == OUTPOST_AUTH ||
                st.code == OUTPOST_FATAL)
                break;
        } else {
            engine_folder_error(e, v[i].id, st);
        }
    }
    hint_next(e, NULL); /* the cycle is over: what was read ahead goes */
    outpost_status stamped = stamp_unchanged(e, v, unchanged, n);
    if (stamped.code != OUTPOST_OK && first.code == OUTPOST_OK)
        first = engine_keep(stamped, e->cycle_msg, sizeof e->cycle_msg);
    free(unchanged);
    for (size_t i = 0; i < n; i++)
        folder_ref_free(&v[i]);
    free(v);
    if (all_ok && !e->host_sync->cancelled(e->host_sync))
        e->headers_scanned = 1;
    st = first;
    if (st.code == OUTPOST_OK) {
        /* Edits made while we synced go out now rather than next cycle. */
        st = outpost_engine_replay(e);
    }
    if (st.code == OUTPOST_OK) {
        clear_error(e);
        return st;
    }
fail:
    engine_drop_connection(e, st);
    return st;
}

outpost_status engine_prune_unlisted(struct outpost_engine *e, int64_t folder_id, json_t *seen)
{
    /* Collect first (read), delete after (write): ids are 8 bytes each. */
    int64_t *gone = NULL;
    size_t n = 0, cap = 0;
    struct outpost_txn *t;
    outpost_status st = outpost_store_read_begin(e->store, &t);
    if (st.code != OUTPOST_OK)
        return st;
    struct outpost_cursor *c;
    if ((st = e->sm->items_by_uid(t, folder_id, 1, 0, &c)).code == OUTPOST_OK) {
        const void *row;
        while ((st = e->sm->cursor_next(c, &row)).code == OUTPOST_OK && row) {
            const outpost_item *it = row;
            if (!it->remote_id || json_object_get(seen, it->remote_id))
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                int64_t *ng = realloc(gone, cap * sizeof *ng);
                if (!ng)
                    break;
                gone = ng;
            }
            gone[n++] = it->id;
        }
        e->sm->cursor_close(c);
    }
    outpost_store_read_end(e->store, t);
    if (st.code == OUTPOST_OK && n) {
        if ((st = outpost_store_write_begin(e->store, &t)).code == OUTPOST_OK) {
            for (size_t i = 0; i < n && st.code == OUTPOST_OK; i++) {
                st = e->sm->item_delete(t, gone[i]);
                if (st.code == OUTPOST_GONE)
                    st = outpost_ok();
            }
            outpost_store_event ev = { sizeof ev, OUTPOST_EVENT_ITEMS, folder_id, 0, 0 };
            outpost_store_queue_event(e->store, &ev);
            if (st.code == OUTPOST_OK)
                st = outpost_store_write_commit(e->store, t);
            else
                outpost_store_write_rollback(e->store, t);
        }
    }
    free(gone);
    return st;
}

/* A transport keeps what create() read (url, user, TLS settings) and the password
 * its open() read, even when that login was refused (kerio, ews): a reload gives
 * the instance *t (of host h) a successor created from cfg. Only the thread that
 * uses *t may call this; on failure *t keeps its previous settings. */
static void recreate_instance(struct outpost_engine *e, struct outpost_host *h, struct outpost_transport **t,
                              int *connected, const struct outpost_config *cfg)
{
    outpost_core_host_set_config(h, cfg);
    if (*connected)
        e->tm->close(*t);
    *connected = 0;
    struct outpost_transport *n = NULL;
    outpost_status st = e->tm->create(h, &n);
    if (st.code == OUTPOST_OK) {
        e->tm->destroy(*t);
        *t = n;
    } else {
        outpost_log(OUTPOST_LOG_ERROR, "engine", "reload: transport '%s': %s; it keeps its previous settings",
                    e->tp->desc->name, st.message ? st.message : outpost_status_class_name(st.code));
    }
}

/* ---- on-demand fetch worker ---- */

struct fetch_req {
    int64_t *ids;      /* the items wanted: &one, or an array the request owns */
    size_t n;
    int64_t one;
    int done;
    int abandoned;     /* the requester timed out: the worker frees it */
    outpost_status st;
    struct fetch_req *next;
};

static void fetch_req_free(struct fetch_req *r)
{
    if (r && r->ids != &r->one)
        free(r->ids);
    free(r);
}

/* Items per transport fetch call of the fetch worker (as fetch_missing's batches). */
enum { FETCH_MANY = 50 };

/* Fetches the content of items ids[0..n) that is not cached yet, on the fetch worker's
 * own transport instance: consecutive items of one folder go in one call of up to
 * FETCH_MANY. OK, or the first failure (what was fetched stays cached). */
static outpost_status fetch_many(struct outpost_engine *e, const int64_t *ids, size_t n)
{
    outpost_status first = outpost_ok();
    op_mutex_lock(e->mu);
    int refused = e->account_refused;
    op_mutex_unlock(e->mu);
    if (refused) /* the cache belongs to another account (check_account) */
        return engine_status(OUTPOST_FATAL, "the cache belongs to another account");
    size_t i = 0;
    while (i < n) {
        struct outpost_txn *t;
        outpost_status st = outpost_store_read_begin(e->store, &t);
        if (st.code != OUTPOST_OK)
            return st;
        char *rids[FETCH_MANY], *frid = NULL, *fname = NULL;
        size_t k = 0;
        int64_t folder = 0;
        outpost_folder f = { 0 };
        for (; i < n && k < FETCH_MANY; i++) {
            const outpost_item *it;
            outpost_status g = e->sm->item_get(t, ids[i], &it);
            if (g.code != OUTPOST_OK) {
                if (first.code == OUTPOST_OK)
                    first = g; /* the others are still fetched */
                continue;
            }
            if (it->content_state == OUTPOST_CONTENT_COMPLETE)
                continue;
            if (!it->remote_id) {
                if (first.code == OUTPOST_OK)
                    first = engine_status(OUTPOST_GONE, "item has no server copy yet");
                continue;
            }
            if (k && it->folder_id != folder)
                break; /* the next call starts with this item */
            if (!(rids[k] = strdup(it->remote_id))) {
                st = engine_status(OUTPOST_FATAL, "out of memory");
                break;
            }
            folder = it->folder_id;
            k++;
        }
        const outpost_folder *fp;
        if (k && st.code == OUTPOST_OK && (st = e->sm->folder_get(t, folder, &fp)).code == OUTPOST_OK) {
            f = *fp;
            frid = dupstr(fp->remote_id);
            fname = dupstr(fp->name);
        }
        outpost_store_read_end(e->store, t);
        if (k && st.code == OUTPOST_OK && !frid)
            st = engine_status(OUTPOST_GONE, "folder has no server copy yet");
        if (k && st.code == OUTPOST_OK)
            st = connect_instance(e, e->tfetch, &e->connected_fetch);
        if (k && st.code == OUTPOST_OK) {
            f.remote_id = frid;
            f.name = fname;
            f.sync_state = NULL;
            f.sync_state_len = 0;
            f.parent_remote_id = NULL;
            struct apply a;
            struct outpost_sync_sink sink;
            apply_init(&a, e, &sink);
            a.folder_id = -1;
            a.folder_name = fname;
            a.req_ids = rids;
            a.req_n = (uint32_t)k;
            st = e->tm->fetch(e->tfetch, &f, (const char *const *)rids, (uint32_t)k, &sink);
            apply_done(&a);
            if (st.code != OUTPOST_OK && e->connected_fetch) {
                e->tm->close(e->tfetch);
                e->connected_fetch = 0;
            } else if (st.code == OUTPOST_OK && a.items_failed) {
                /* the call went well but not every item came: the client asking for them
                 * hears so instead of finding no content */
                st = engine_status(a.item_failed, "the server did not give the content of %u of %zu items",
                                   a.items_failed, k);
            }
        }
        for (size_t j = 0; j < k; j++)
            free(rids[j]);
        free(frid);
        free(fname);
        if (st.code != OUTPOST_OK) {
            if (first.code == OUTPOST_OK)
                first = st;
            if (st.code != OUTPOST_GONE && st.code != OUTPOST_BAD_DATA)
                break; /* the server or the cache is in trouble: the rest would fail too */
        }
    }
    return first;
}

static void *fetch_worker(void *arg)
{
    struct outpost_engine *e = arg;
    op_thread_name("outpost-fetch");
    op_mutex_lock(e->fetch_mu);
    while (!e->fetch_stop) {
        if (e->fetch_reconfig) {
            /* the instance is this thread's: re-created here, between two requests */
            const struct outpost_config *cfg = e->fetch_cfg;
            e->fetch_reconfig = 0;
            op_mutex_unlock(e->fetch_mu);
            recreate_instance(e, e->host_fetch, &e->tfetch, &e->connected_fetch, cfg);
            op_mutex_lock(e->fetch_mu);
            continue;
        }
        struct fetch_req *r = e->fetch_queue;
        if (!r) {
            op_cond_wait(e->fetch_cv, e->fetch_mu, 1000);
            continue;
        }
        e->fetch_queue = r->next;
        op_mutex_unlock(e->fetch_mu);
        outpost_status st = fetch_many(e, r->ids, r->n);
        op_mutex_lock(e->fetch_mu);
        r->st = st;
        r->st.message = NULL; /* the worker's (its instance's or its thread's): fetch_wait says what failed */
        r->done = 1;
        if (r->abandoned)
            fetch_req_free(r);
        else
            op_cond_broadcast(e->fetch_done_cv);
    }
    op_mutex_unlock(e->fetch_mu);
    return NULL;
}

/* Queues r for the fetch worker and waits for it at most timeout_ms (takes r). */
static outpost_status fetch_wait(struct outpost_engine *e, struct fetch_req *r, uint32_t timeout_ms)
{
    op_mutex_lock(e->fetch_mu);
    if (e->fetch_stop) {
        op_mutex_unlock(e->fetch_mu);
        fetch_req_free(r);
        outpost_status off = { OUTPOST_TEMP, 0, "offline" };
        return off;
    }
    struct fetch_req **tail = &e->fetch_queue;
    while (*tail)
        tail = &(*tail)->next;
    *tail = r;
    op_cond_signal(e->fetch_cv);
    int64_t deadline = op_monotonic_ms() + timeout_ms;
    while (!r->done && !e->fetch_stop) {
        int64_t left = deadline - op_monotonic_ms();
        if (left <= 0)
            break;
        op_cond_wait(e->fetch_done_cv, e->fetch_mu, left);
    }
    outpost_status st;
    if (r->done) {
        st = r->st;
        fetch_req_free(r);
        if (st.code != OUTPOST_OK) {
            /* Not reachable or refused: the caller says [UNAVAILABLE]. */
            static const char *const offline = "offline: the server cannot be reached";
            st.message = st.code == OUTPOST_TEMP || st.code == OUTPOST_THROTTLED ? offline : "content unavailable";
        }
    } else {
        /* Still queued or running: the worker frees it when it finishes
         * (or stop_worker frees it from the queue). */
        r->abandoned = 1;
        st.code = OUTPOST_TEMP;
        st.retry_after_ms = 0;
        st.message = "timed out waiting for the server";
    }
    op_mutex_unlock(e->fetch_mu);
    return st;
}

static outpost_status hook_request_content(void *ctx, int64_t item_id, uint32_t timeout_ms)
{
    struct outpost_engine *e = ctx;
    struct fetch_req *r = calloc(1, sizeof *r);
    if (!r)
        return engine_status(OUTPOST_FATAL, "out of memory");
    r->one = item_id;
    r->ids = &r->one;
    r->n = 1;
    return fetch_wait(e, r, timeout_ms);
}

static outpost_status hook_request_contents(void *ctx, const int64_t *ids, uint32_t n, uint32_t timeout_ms)
{
    struct outpost_engine *e = ctx;
    struct fetch_req *r = calloc(1, sizeof *r);
    if (r && !(r->ids = malloc((n ? n : 1) * sizeof *ids))) {
        free(r);
        r = NULL;
    }
    if (!r)
        return engine_status(OUTPOST_FATAL, "out of memory");
    memcpy(r->ids, ids, n * sizeof *ids);
    r->n = n;
    return fetch_wait(e, r, timeout_ms);
}

static void hook_folder_open(void *ctx, int64_t folder_id, int open)
{
    struct outpost_engine *e = ctx;
    op_mutex_lock(e->mu);
    for (int i = 0; i < ENGINE_MAX_OPEN; i++) {
        if (open && !e->open_folders[i]) {
            e->open_folders[i] = folder_id;
            break;
        }
        if (!open && e->open_folders[i] == folder_id) {
            e->open_folders[i] = 0;
            break;
        }
    }
    op_mutex_unlock(e->mu);
    if (open)
        outpost_engine_wake(e);
}

static int hook_online(void *ctx) { return outpost_engine_online(ctx); }

int engine_folder_is_open(struct outpost_engine *e, int64_t id)
{
    int r = 0;
    op_mutex_lock(e->mu);
    for (int i = 0; i < ENGINE_MAX_OPEN; i++)
        r |= e->open_folders[i] == id;
    op_mutex_unlock(e->mu);
    return r;
}

int outpost_engine_start_worker(struct outpost_engine *e, char *err, size_t errlen)
{
    e->fetch_stop = 0;
    e->fetch_thread = op_thread_start(fetch_worker, e);
    if (!e->fetch_thread) {
        snprintf(err, errlen, "cannot start the fetch worker thread");
        return -1;
    }
    static const struct outpost_store_engine_hooks proto = { NULL, hook_request_content, hook_folder_open, hook_online,
                                                             hook_request_contents };
    e->hooks = proto;
    e->hooks.ctx = e;
    outpost_store_set_engine(e->store, &e->hooks);
    return 0;
}

void outpost_engine_stop_worker(struct outpost_engine *e)
{
    if (!e->fetch_thread)
        return;
    outpost_store_set_engine(e->store, NULL);
    op_mutex_lock(e->fetch_mu);
    e->fetch_stop = 1;
    op_cond_broadcast(e->fetch_cv);
    op_cond_broadcast(e->fetch_done_cv);
    op_mutex_unlock(e->fetch_mu);
    op_thread_join(e->fetch_thread);
    e->fetch_thread = NULL;
    while (e->fetch_queue) {
        struct fetch_req *r = e->fetch_queue;
        e->fetch_queue = r->next;
        fetch_req_free(r);
    }
}

/* ---- waiting ---- */

int outpost_engine_wait(struct outpost_engine *e, uint32_t timeout_ms)
{
    int64_t deadline = op_monotonic_ms() + timeout_ms;
    int server = 0;
    op_mutex_lock(e->mu);
    int push = OUTPOST_HAS_METHOD(e->tm, struct outpost_transport_methods, wait_changes) &&
               (e->tp->desc->caps & OUTPOST_TRANSPORT_CAP_PUSH) && e->connected_sync && !e->woken && !e->cancelled;
    e->push_waiting = push;
    op_mutex_unlock(e->mu);
    if (push) {
        /* A wake-up during the transport's wait reaches it as host->cancelled() (see
         * outpost_engine_wake); the flag is cleared before anything else runs. */
        int changed = 0;
        outpost_status st = e->tm->wait_changes(e->tsync, timeout_ms, &changed);
        op_mutex_lock(e->mu);
        e->push_waiting = 0;
        if (e->push_interrupted && !e->cancelled)
            outpost_core_host_cancel(e->host_sync, 0);
        e->push_interrupted = 0;
        if (st.code == OUTPOST_OK) {
            int r = (e->woken ? OUTPOST_WAIT_WOKEN : 0) | (changed ? OUTPOST_WAIT_SERVER : 0);
            e->woken = 0;
            op_mutex_unlock(e->mu);
            return r;
        }
        op_mutex_unlock(e->mu);
        /* The push failed (offline, refused): wait out the rest for a wake-up; the next
         * cycle finds out what happened. */
    }
    op_mutex_lock(e->mu);
    int64_t left = deadline - op_monotonic_ms();
    if (!e->woken && left > 0)
        op_cond_wait(e->wake_cv, e->mu, (uint32_t)left);
    int r = (e->woken ? OUTPOST_WAIT_WOKEN : 0) | server;
    e->woken = 0;
    op_mutex_unlock(e->mu);
    return r;
}

int outpost_engine_wait_woken(struct outpost_engine *e, uint32_t timeout_ms)
{
    op_mutex_lock(e->mu);
    if (!e->woken && timeout_ms)
        op_cond_wait(e->wake_cv, e->mu, timeout_ms);
    int r = e->woken ? OUTPOST_WAIT_WOKEN : 0;
    e->woken = 0;
    op_mutex_unlock(e->mu);
    return r;
}

void outpost_engine_wake(struct outpost_engine *e)
{
    op_mutex_lock(e->mu);
    e->woken = 1;
    if (e->push_waiting && !e->push_interrupted) {
        e->push_interrupted = 1;
        outpost_core_host_cancel(e->host_sync, 1);
    }
    op_cond_broadcast(e->wake_cv);
    op_mutex_unlock(e->mu);
}

void outpost_engine_cancel(struct outpost_engine *e)
{
    op_mutex_lock(e->mu);
    e->cancelled = 1;
    outpost_core_host_cancel(e->host_sync, 1);
    outpost_core_host_cancel(e->host_fetch, 1);
    op_mutex_unlock(e->mu);
    outpost_engine_wake(e);
}

int outpost_engine_online(struct outpost_engine *e)
{
    op_mutex_lock(e->mu);
    int r = e->online;
    op_mutex_unlock(e->mu);
    return r;
}

int32_t outpost_engine_last_error(struct outpost_engine *e, char *buf, size_t len)
{
    op_mutex_lock(e->mu);
    snprintf(buf, len, "%s", e->last_error);
    int32_t c = e->last_error_code;
    op_mutex_unlock(e->mu);
    return c;
}

int outpost_engine_auth_failed(struct outpost_engine *e)
{
    op_mutex_lock(e->mu);
    int r = e->auth_failed;
    op_mutex_unlock(e->mu);
    return r;
}

void outpost_engine_reconfigure(struct outpost_engine *e, const struct outpost_config *cfg)
{
    recreate_instance(e, e->host_sync, &e->tsync, &e->connected_sync, cfg);
    /* The fetch worker's instance is the worker's: it re-creates it before its next
     * request (a request being served finishes with the old settings). */
    op_mutex_lock(e->fetch_mu);
    int worker = e->fetch_thread != NULL;
    if (worker) {
        e->fetch_cfg = cfg;
        e->fetch_reconfig = 1;
        op_cond_signal(e->fetch_cv);
    }
    op_mutex_unlock(e->fetch_mu);
    if (!worker)
        recreate_instance(e, e->host_fetch, &e->tfetch, &e->connected_fetch, cfg);
    op_mutex_lock(e->mu);
    e->auth_failed = 0;
    op_mutex_unlock(e->mu);
}

void outpost_engine_retry_unreadable(struct outpost_engine *e)
{
    op_mutex_lock(e->mu);
    e->retry_unreadable = 1;
    op_mutex_unlock(e->mu);
}

void outpost_engine_set_progress(struct outpost_engine *e, outpost_progress_fn fn, void *ctx)
{
    e->progress = fn;
    e->progress_ctx = ctx;
}

/* ---- life cycle ---- */

int outpost_engine_new(struct outpost_app *app, struct outpost_store *store, struct outpost_engine **out,
                       char *err, size_t errlen)
{
    *out = NULL;
    struct outpost_engine *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    e->app = app;
    e->store = store;
    e->sm = outpost_store_methods(store);
    e->mu = op_mutex_new();
    e->wake_cv = op_cond_new();
    e->fetch_mu = op_mutex_new();
    e->fetch_cv = op_cond_new();
    e->fetch_done_cv = op_cond_new();
    const char *name = outpost_config_get(app->cfg, "account", "transport");
    if (!name || !*name) {
        snprintf(err, errlen, "%s: [account] transport is required: kerio, ews or another installed transport",
                 app->config_path);
        goto fail;
    }
    if (outpost_loader_load(app->plugin_dirs, OUTPOST_KIND_TRANSPORT, name, &e->tp, err, errlen) != 0)
        goto fail;
    e->tm = e->tp->methods;
    outpost_config_declare(app->cfg, e->tp->desc->section ? e->tp->desc->section : "account",
                           e->tp->desc->config_keys);
    /* the engine's own keys ([core] sync_interval, audit_retention, page_size) are
     * among the core's (config.c), so `outpost check` and a reload know them too */
    long long ps = 0;
    const char *v = outpost_config_get(app->cfg, "core", "page_size");
    if (v && outpost_config_parse_int(v, &ps) == 0 && ps > 0)
        e->page_size = (uint32_t)ps;
    e->host_sync = outpost_core_host_new(app->cfg, "account", name, app->data_dir);
    e->host_fetch = outpost_core_host_new(app->cfg, "account", name, app->data_dir);
    if (!e->host_sync || !e->host_fetch) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (outpost_loader_module_init(e->tp, e->host_sync, err, errlen) != 0)
        goto fail;
    outpost_status st = e->tm->create(e->host_sync, &e->tsync);
    if (st.code == OUTPOST_OK)
        st = e->tm->create(e->host_fetch, &e->tfetch);
    if (st.code != OUTPOST_OK) {
        snprintf(err, errlen, "transport '%s': %s", name, st.message ? st.message : outpost_status_class_name(st.code));
        goto fail;
    }
    e->online = 0;
    *out = e;
    return 0;
fail:
    outpost_engine_free(e);
    return -1;
}

void outpost_engine_free(struct outpost_engine *e)
{
    if (!e)
        return;
    outpost_engine_stop_worker(e);
    if (e->tsync) {
        if (e->connected_sync)
            e->tm->close(e->tsync);
        e->tm->destroy(e->tsync);
    }
    if (e->tfetch) {
        if (e->connected_fetch)
            e->tm->close(e->tfetch);
        e->tm->destroy(e->tfetch);
    }
    outpost_loader_unload(e->tp);
    outpost_core_host_free(e->host_sync);
    outpost_core_host_free(e->host_fetch);
    op_cond_free(e->wake_cv);
    op_mutex_free(e->mu);
    op_cond_free(e->fetch_cv);
    op_cond_free(e->fetch_done_cv);
    op_mutex_free(e->fetch_mu);
    free(e);
}

void engine_folder_error(struct outpost_engine *e, int64_t folder_id, outpost_status st)
{
    char key[64];
    snprintf(key, sizeof key, "folder_error:%lld", (long long)folder_id);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s: %s", outpost_status_class_name(st.code), st.message ? st.message : "");
    struct outpost_txn *t;
    if (st.code == OUTPOST_OK && outpost_store_read_begin(e->store, &t).code == OUTPOST_OK) {
        /* The common case, a good sync after a good sync: nothing recorded, nothing to
         * clear, no write transaction. */
        const void *v = NULL;
        size_t len = 0;
        int recorded = e->sm->meta_get(t, key, &v, &len).code == OUTPOST_OK;
        outpost_store_read_end(e->store, t);
        if (!recorded)
            return;
    }
    if (outpost_store_write_begin(e->store, &t).code != OUTPOST_OK)
        return;
    outpost_status ws = st.code == OUTPOST_OK ? e->sm->meta_set(t, key, NULL, 0)
                                              : e->sm->meta_set(t, key, msg, strlen(msg));
    if (ws.code == OUTPOST_OK || ws.code == OUTPOST_GONE)
        outpost_store_write_commit(e->store, t);
    else
        outpost_store_write_rollback(e->store, t);
}
