/* Reading: the folder hierarchy (SyncFolderHierarchy under msgfolderroot), folder contents
 * (SyncFolderItems with MaxChangesReturned = the GetItem batch, then GetItem for the page,
 * so each SyncState covers exactly the batch committed with it) and on-demand fetches.
 * Every reply is validated completely before the first sink call: a malformed reply or a
 * failed page hands nothing to the sink. Mail content is MimeContent as-is, decoded by the
 * SAX reader (mailget.c) into a spool (spool.c) while the reply is checked, then streamed
 * from there to sink->content; other kinds are converted to iCalendar / vCard. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ews.h"

static const char *const special_dist[] = {
    [OUTPOST_USE_INBOX] = "inbox", [OUTPOST_USE_SENT] = "sentitems", [OUTPOST_USE_DRAFTS] = "drafts",
    [OUTPOST_USE_TRASH] = "deleteditems", [OUTPOST_USE_JUNK] = "junkemail", [OUTPOST_USE_OUTBOX] = "outbox"};

static outpost_status malformed(struct ews *e, const char *what)
{
    return ews_status(e, OUTPOST_BAD_DATA, "%s: the server's reply is not a well-formed EWS response", what);
}

/* The FolderId of each GetFolder response message, in order (NULL where none). */
struct learned {
    char *ids[16];
};

static void learned_free(struct learned *l)
{
    for (int i = 0; i < 16; i++) {
        free(l->ids[i]);
        l->ids[i] = NULL;
    }
}

static outpost_status parse_learned(struct ews *e, FILE *f, void *ctx)
{
    struct learned *l = ctx;
    learned_free(l);
    struct ews_reader *r = ews_reader_open(f);
    struct ews_msg m, root = {0}, failed = {0};
    int rc = -1, idx = 0;
    static const char *const names[] = {"FolderId", NULL};
    while (r && (rc = ews_reader_next_msg(r, &m)) == 1) {
        int which;
        if (!m.error && idx < 16 && ews_reader_find(r, names, &which) == 1)
            l->ids[idx] = ews_reader_attr(r, "Id");
        if (idx == 0)
            root = m;
        /* one answer per folder: a folder this server lacks (ErrorFolderNotFound) just has no
         * special use, nor has one left unprocessed after it (ErrorBatchProcessingStopped),
         * but a server too busy or unavailable for any of them (the per-message forms of
         * ErrorServerBusy, ErrorMailboxMoveInProgress, ...) is asked again later */
        int cls = m.error ? ews_code_class(m.code) : OUTPOST_OK;
        if ((cls == OUTPOST_THROTTLED || cls == OUTPOST_TEMP) && strcmp(m.code, "ErrorBatchProcessingStopped") != 0 &&
            !failed.error)
            failed = m;
        idx++;
    }
    ews_reader_close(r);
    if (rc == -2)
        return ews_msg_status(e, &m, "GetFolder");
    if (rc < 0)
        return malformed(e, "GetFolder");
    if (failed.error)
        return ews_msg_status(e, &failed, "GetFolder");
    if (root.error)
        return ews_msg_status(e, &root, "GetFolder of the message folder root");
    if (!l->ids[0])
        return ews_status(e, OUTPOST_BAD_DATA, "GetFolder: the server did not return the message folder root");
    return outpost_ok();
}

outpost_status ews_learn_folders(struct ews *e)
{
    struct ebuf op = {0};
    eb_puts(&op, "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds>"
                 "<t:DistinguishedFolderId Id=\"msgfolderroot\"/>");
    for (int u = 1; u <= OUTPOST_USE_OUTBOX; u++)
        if (u < (int)(sizeof special_dist / sizeof *special_dist) && special_dist[u])
            eb_printf(&op, "<t:DistinguishedFolderId Id=\"%s\"/>", special_dist[u]);
    eb_puts(&op, "</m:FolderIds></m:GetFolder>");
    struct learned l = {{0}};
    outpost_status st = ews_request(e, &op, parse_learned, &l, "GetFolder");
    eb_free(&op);
    if (st.code == OUTPOST_OK) {
        free(e->root_id);
        e->root_id = l.ids[0];
        l.ids[0] = NULL;
        int k = 1;
        for (int u = 1; u <= OUTPOST_USE_OUTBOX; u++)
            if (u < (int)(sizeof special_dist / sizeof *special_dist) && special_dist[u]) {
                free(e->special[u]);
                e->special[u] = l.ids[k];
                l.ids[k++] = NULL;
            }
    }
    learned_free(&l);
    return st;
}

/* ---- hierarchy ---- */

struct hfolder {
    int change;           /* OUTPOST_CHANGE_ADD / UPDATE / DELETE */
    char *id, *parent, *name, *cls, *el;
    int done;
};

static void hfolders_free(struct hfolder *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].id);
        free(h[i].parent);
        free(h[i].name);
        free(h[i].cls);
        free(h[i].el);
    }
    free(h);
}

static uint32_t folder_kind(const struct hfolder *h)
{
    const char *c = h->cls;
    if (h->el && !strcmp(h->el, "SearchFolder"))
        return 0; /* a search over other folders: its items are synced where they live */
    if (!c)
        return !strcmp(h->el, "CalendarFolder") ? OUTPOST_ITEM_EVENT : !strcmp(h->el, "ContactsFolder") ? OUTPOST_ITEM_CONTACT
               : !strcmp(h->el, "TasksFolder") ? OUTPOST_ITEM_TASK : !strcmp(h->el, "Folder") ? OUTPOST_ITEM_MAIL : 0;
    if (!strncmp(c, "IPF.Note", 8))
        return OUTPOST_ITEM_MAIL;
    if (!strncmp(c, "IPF.Appointment", 15))
        return OUTPOST_ITEM_EVENT;
    if (!strncmp(c, "IPF.Contact", 11))
        return OUTPOST_ITEM_CONTACT;
    if (!strncmp(c, "IPF.Task", 8))
        return OUTPOST_ITEM_TASK;
    if (!strncmp(c, "IPF.StickyNote", 14))
        return OUTPOST_ITEM_NOTE;
    return 0;
}

struct hpage {
    struct hfolder *f;
    size_t n, cap;
    char *state;
    int last;
};

static int hpage_add(struct hpage *p)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 32;
        struct hfolder *nf = realloc(p->f, cap * sizeof *nf);
        if (!nf)
            return -1;
        p->f = nf;
        p->cap = cap;
    }
    memset(&p->f[p->n++], 0, sizeof *p->f);
    return 0;
}

static int parse_hfolder(struct ews_reader *r, struct hfolder *h)
{
    free(h->el);
    h->el = strdup(ews_reader_name(r));
    if (ews_reader_is_empty(r))
        return 0;
    int depth = ews_reader_depth(r);
    for (;;) {
        int rc = ews_reader_step(r, depth);
        if (rc <= 0)
            return rc;
        if (rc != 1)
            continue;
        const char *n = ews_reader_name(r);
        /* a repeated property: the last one counts */
        if (!strcmp(n, "FolderId")) {
            free(h->id);
            h->id = ews_reader_attr(r, "Id");
        } else if (!strcmp(n, "ParentFolderId")) {
            free(h->parent);
            h->parent = ews_reader_attr(r, "Id");
        } else if (!strcmp(n, "DisplayName") || !strcmp(n, "FolderClass")) {
            char **slot = n[0] == 'D' ? &h->name : &h->cls;
            free(*slot);
            if (ews_reader_text(r, slot))
                return -1;
            continue;
        }
        if (ews_reader_skip(r))
            return -1;
    }
}

static void hpage_free(struct hpage *p)
{
    hfolders_free(p->f, p->n);
    free(p->state);
    memset(p, 0, sizeof *p);
}

/* Parses a SyncFolderHierarchy reply completely into the hpage `ctx` (an ews_parse_fn: what
 * an earlier reply left there goes first). */
static outpost_status parse_hierarchy(struct ews *e, FILE *f, void *ctx)
{
    struct hpage *p = ctx;
    hpage_free(p);
    struct ews_reader *r = ews_reader_open(f);
    if (!r)
        return ews_status(e, OUTPOST_FATAL, "out of memory");
    struct ews_msg m;
    int rc = ews_reader_next_msg(r, &m);
    outpost_status st = outpost_ok();
    if (rc == 1 && m.error) {
        ews_reader_close(r);
        return ews_msg_status(e, &m, "SyncFolderHierarchy");
    }
    static const char *const names[] = {"SyncState", "IncludesLastFolderInRange", "Create", "Update", "Delete", NULL};
    int which, fr = 0, last_seen = 0;
    while (rc == 1 && (fr = ews_reader_find(r, names, &which)) == 1) {
        char *v = NULL;
        if (which <= 1) {
            if (ews_reader_text(r, &v)) {
                fr = -1;
                break;
            }
            if (which == 0) {
                free(p->state);
                p->state = v;
                v = NULL;
            } else {
                p->last = ews_xs_bool(v);
                last_seen = 1;
            }
            free(v);
            continue;
        }
        /* the folder (or FolderId for Delete) inside the change */
        int depth = ews_reader_depth(r), srt;
        if (hpage_add(p)) {
            fr = -1;
            break;
        }
        struct hfolder *h = &p->f[p->n - 1];
        h->change = which == 2 ? OUTPOST_CHANGE_ADD : which == 3 ? OUTPOST_CHANGE_UPDATE : OUTPOST_CHANGE_DELETE;
        while ((srt = ews_reader_step(r, depth)) > 0) {
            if (srt != 1)
                continue;
            if (h->change == OUTPOST_CHANGE_DELETE && !strcmp(ews_reader_name(r), "FolderId")) {
                free(h->id);
                free(h->el);
                h->id = ews_reader_attr(r, "Id");
                h->el = strdup("Folder");
                if (ews_reader_skip(r))
                    srt = -1;
            } else if (parse_hfolder(r, h) < 0) {
                srt = -1;
            }
            if (srt < 0)
                break;
        }
        if (srt < 0) {
            fr = -1;
            break;
        }
    }
    if (rc == 1 && fr >= 0)
        while ((rc = ews_reader_next_msg(r, &m)) == 1)
            ;
    if (rc == -2)
        st = ews_msg_status(e, &m, "SyncFolderHierarchy");
    else if (rc < 0 || fr < 0 || !p->state)
        st = malformed(e, "SyncFolderHierarchy");
    /* IncludesLastFolderInRange is optional in the schema: without it, a page with changes
     * may have more behind it (the next call says), an empty one is the end */
    if (!last_seen)
        p->last = p->n == 0;
    ews_reader_close(r);
    return st;
}

static int is_known(struct hpage *p, const char *id, struct ews *e)
{
    if (!id || (e->root_id && !strcmp(id, e->root_id)))
        return 1;
    for (size_t i = 0; i < p->n; i++)
        if (p->f[i].id && !strcmp(p->f[i].id, id))
            return p->f[i].done == 1;
    return 1; /* not in this page: the engine knows it already */
}

static int is_skipped(struct hpage *p, const char *id)
{
    for (size_t i = 0; id && i < p->n; i++)
        if (p->f[i].id && !strcmp(p->f[i].id, id))
            return p->f[i].done == 2;
    return 0;
}

/* The folders left out (kinds not carried, and their subtrees), remembered across pages and
 * syncs in the hierarchy state the engine keeps for us, so that a later change of a folder
 * below one of them (a subfolder created or renamed there) stays out too instead of
 * reaching the engine with an unknown parent. State: HSTATE_TAG, the server's SyncState, then
 * one left-out folder id a line (ids are base64: no line breaks). A state without the tag is
 * a bare SyncState (as earlier versions stored it). */
#define HSTATE_TAG "outpost-ews-hierarchy-1\n"

struct skipset {
    char **id;
    size_t n, cap;
};

static int skip_has(const struct skipset *s, const char *id)
{
    for (size_t i = 0; id && i < s->n; i++)
        if (!strcmp(s->id[i], id))
            return 1;
    return 0;
}

static void skip_del(struct skipset *s, const char *id)
{
    for (size_t i = 0; id && i < s->n; i++)
        if (!strcmp(s->id[i], id)) {
            free(s->id[i]);
            s->id[i] = s->id[--s->n];
            return;
        }
}

static int skip_add(struct skipset *s, const char *id)
{
    if (!id || skip_has(s, id))
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **n = realloc(s->id, cap * sizeof *n);
        if (!n)
            return -1;
        s->id = n;
        s->cap = cap;
    }
    if (strchr(id, '\n') || !(s->id[s->n] = strdup(id)))
        return strchr(id, '\n') ? 0 : -1;
    s->n++;
    return 0;
}

static void skip_free(struct skipset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->id[i]);
    free(s->id);
    memset(s, 0, sizeof *s);
}

/* Splits a stored hierarchy state into the server's SyncState (malloc'd, NULL when none) and
 * the left-out folders; -1 out of memory. */
static int hstate_read(const char *state, size_t len, char **sync, struct skipset *skip)
{
    *sync = NULL;
    if (!state || !len)
        return 0;
    size_t tl = strlen(HSTATE_TAG);
    if (len < tl || memcmp(state, HSTATE_TAG, tl) != 0) {
        if (!(*sync = strndup(state, len)))
            return -1;
        return 0;
    }
    const char *p = state + tl, *end = state + len;
    for (int first = 1; p < end; first = 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        char *line = strndup(p, n);
        if (!line)
            return -1;
        if (first)
            *sync = line;
        else {
            int rc = n ? skip_add(skip, line) : 0;
            free(line);
            if (rc)
                return -1;
        }
        p += n + (nl ? 1 : 0);
    }
    return 0;
}

static void hstate_write(struct ebuf *b, const char *sync, const struct skipset *skip)
{
    eb_puts(b, HSTATE_TAG);
    eb_puts(b, sync);
    for (size_t i = 0; i < skip->n; i++) {
        eb_puts(b, "\n");
        eb_puts(b, skip->id[i]);
    }
}

outpost_status ews_sync_hierarchy(struct ews *e, const void *state, size_t len, const struct outpost_sync_sink *sink)
{
    outpost_status st = outpost_ok();
    if (!e->root_id && (st = ews_learn_folders(e)).code != OUTPOST_OK)
        return st;
    char *cur = NULL;
    struct skipset skip = {0};
    if (hstate_read(state, len, &cur, &skip)) {
        free(cur);
        skip_free(&skip);
        return ews_status(e, OUTPOST_FATAL, "out of memory");
    }
    for (int round = 0; round < 1000; round++) {
        struct ebuf op = {0};
        eb_puts(&op, "<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>AllProperties</t:BaseShape></m:FolderShape>"
                     "<m:SyncFolderId><t:DistinguishedFolderId Id=\"msgfolderroot\"/></m:SyncFolderId>");
        if (cur)
            eb_elem(&op, "m:SyncState", cur);
        eb_puts(&op, "</m:SyncFolderHierarchy>");
        struct hpage p = {0};
        st = ews_request(e, &op, parse_hierarchy, &p, "SyncFolderHierarchy");
        eb_free(&op);
        if (st.code != OUTPOST_OK) {
            hpage_free(&p);
            break;
        }
        if (!p.last && cur && !strcmp(cur, p.state)) {
            /* "more to come" with the state we sent: asking again would get the same answer
             * forever */
            e->host->log(e->host, OUTPOST_LOG_WARNING, "SyncFolderHierarchy: the server said more changes follow "
                         "but returned the same SyncState; taking the hierarchy as complete");
            p.last = 1;
        }
        /* parents before children; folders of kinds we do not carry (and their subtrees) stay out */
        for (size_t i = 0; i < p.n; i++) {
            skip_del(&skip, p.f[i].id); /* decided again from what the server says now */
            if (p.f[i].change == OUTPOST_CHANGE_DELETE)
                continue;
            if (p.f[i].id && e->root_id && !strcmp(p.f[i].id, e->root_id))
                p.f[i].done = 1; /* the sync root itself, should a server list it: known, not a folder */
            else if (!folder_kind(&p.f[i]))
                p.f[i].done = 2;
        }
        for (int progress = 1; progress && st.code == OUTPOST_OK;) {
            progress = 0;
            for (size_t i = 0; i < p.n && st.code == OUTPOST_OK; i++) {
                struct hfolder *h = &p.f[i];
                if (h->done || h->change == OUTPOST_CHANGE_DELETE)
                    continue;
                if (is_skipped(&p, h->parent) || skip_has(&skip, h->parent)) {
                    h->done = 2;
                    progress = 1;
                    continue;
                }
                if (!is_known(&p, h->parent, e))
                    continue;
                outpost_folder fo = {0};
                fo.struct_size = sizeof fo;
                fo.kind = folder_kind(h);
                fo.remote_id = h->id;
                fo.parent_remote_id = h->parent && e->root_id && !strcmp(h->parent, e->root_id) ? NULL : h->parent;
                fo.name = h->name ? h->name : "";
                for (uint32_t u = 1; u < sizeof e->special / sizeof *e->special; u++)
                    if (e->special[u] && h->id && !strcmp(e->special[u], h->id))
                        fo.special_use = u;
                fo.flags = OUTPOST_FOLDER_SUBSCRIBED;
                st = sink->folder(sink->ctx, (uint32_t)h->change, &fo);
                h->done = 1;
                progress = 1;
            }
        }
        for (size_t i = 0; i < p.n && st.code == OUTPOST_OK; i++) {
            struct hfolder *h = &p.f[i];
            if (h->change == OUTPOST_CHANGE_DELETE) {
                outpost_folder fo = {0};
                fo.struct_size = sizeof fo;
                fo.remote_id = h->id;
                fo.name = "";
                st = sink->folder(sink->ctx, OUTPOST_CHANGE_DELETE, &fo);
            } else if (!h->done) {
                e->host->log(e->host, OUTPOST_LOG_WARNING, "folder %s: parent not in the hierarchy; skipped",
                             h->name ? h->name : "?");
            }
        }
        for (size_t i = 0; i < p.n && st.code == OUTPOST_OK; i++)
            if (p.f[i].done == 2 && skip_add(&skip, p.f[i].id))
                st = ews_status(e, OUTPOST_FATAL, "out of memory");
        struct ebuf hs = {0};
        hstate_write(&hs, p.state, &skip);
        if (st.code == OUTPOST_OK && hs.oom)
            st = ews_status(e, OUTPOST_FATAL, "out of memory");
        if (st.code == OUTPOST_OK)
            st = sink->commit(sink->ctx, hs.p, hs.len);
        eb_free(&hs);
        free(cur);
        cur = p.state;
        int last = p.last;
        hfolders_free(p.f, p.n);
        if (st.code != OUTPOST_OK || last)
            break;
    }
    free(cur);
    skip_free(&skip);
    return st;
}

/* ---- folder contents ---- */

enum { CH_CREATE, CH_UPDATE, CH_DELETE, CH_READ };

struct change {
    int type;
    char *id;
    int is_read;
};

/* The changes of one SyncFolderItems reply (or the part of one handed over as a page). A
 * server should return at most MaxChangesReturned; one that returns more is still read (up
 * to EWS_MAX_PAGE_CHANGES, the most the reference lets a server return being 512) and its
 * changes go to the sink in pages of MaxChangesReturned, the SyncState committed with the
 * last of them. */
#define EWS_MAX_PAGE_CHANGES 4096

struct ipage {
    struct change *c;
    int n, cap;
    char *state;       /* NULL: a part of a reply whose SyncState comes with a later part */
    int last;
};

static void ipage_free(struct ipage *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->c[i].id);
    free(p->c);
    free(p->state);
    memset(p, 0, sizeof *p);
}

/* Moves the changes from `from` on (and the state, last flag) into *rest; p keeps the first. */
static int ipage_split(struct ipage *p, int from, struct ipage *rest)
{
    memset(rest, 0, sizeof *rest);
    int n = p->n - from;
    if (!(rest->c = malloc((size_t)n * sizeof *rest->c)))
        return -1;
    memcpy(rest->c, p->c + from, (size_t)n * sizeof *rest->c);
    rest->n = rest->cap = n;
    rest->state = p->state;
    rest->last = p->last;
    p->n = from;
    p->state = NULL;
    p->last = 0;
    return 0;
}

/* Parses a SyncFolderItems reply into the ipage `ctx` (an ews_parse_fn: what an earlier reply
 * left there goes first). */
static outpost_status parse_items_page(struct ews *e, FILE *f, void *ctx)
{
    struct ipage *p = ctx;
    ipage_free(p);
    struct ews_reader *r = ews_reader_open(f);
    if (!r)
        return ews_status(e, OUTPOST_FATAL, "out of memory");
    struct ews_msg m;
    int rc = ews_reader_next_msg(r, &m);
    if (rc == 1 && m.error) {
        ews_reader_close(r);
        return ews_msg_status(e, &m, "SyncFolderItems");
    }
    static const char *const names[] = {"SyncState", "IncludesLastItemInRange", "Create", "Update", "Delete",
                                        "ReadFlagChange", NULL};
    int which, fr = 0, too_many = 0, last_seen = 0;
    while (rc == 1 && (fr = ews_reader_find(r, names, &which)) == 1) {
        if (which <= 1) {
            char *v = NULL;
            if (ews_reader_text(r, &v)) {
                fr = -1;
                break;
            }
            if (which == 0) {
                free(p->state);
                p->state = v;
                v = NULL;
            } else {
                p->last = ews_xs_bool(v);
                last_seen = 1;
            }
            free(v);
            continue;
        }
        if (p->n >= EWS_MAX_PAGE_CHANGES) {
            too_many = 1;
            if (ews_reader_skip(r)) {
                fr = -1;
                break;
            }
            continue;
        }
        if (p->n == p->cap) {
            int cap = p->cap ? p->cap * 2 : 64;
            struct change *nc = realloc(p->c, (size_t)cap * sizeof *nc);
            if (!nc) {
                ews_reader_close(r);
                return ews_status(e, OUTPOST_FATAL, "out of memory");
            }
            p->c = nc;
            p->cap = cap;
        }
        struct change *c = &p->c[p->n++];
        memset(c, 0, sizeof *c);
        c->type = which == 2 ? CH_CREATE : which == 3 ? CH_UPDATE : which == 4 ? CH_DELETE : CH_READ;
        int depth = ews_reader_depth(r), srt;
        while ((srt = ews_reader_step(r, depth)) > 0) {
            if (srt != 1)
                continue;
            const char *n = ews_reader_name(r);
            if (!strcmp(n, "ItemId") && !c->id) {
                c->id = ews_reader_attr(r, "Id");
            } else if (!strcmp(n, "IsRead")) {
                char *v = NULL;
                if (ews_reader_text(r, &v)) {
                    srt = -1;
                    break;
                }
                c->is_read = ews_xs_bool(v);
                free(v);
            }
        }
        if (srt < 0 || !c->id) {
            fr = -1;
            break;
        }
    }
    if (rc == 1 && fr >= 0)
        while ((rc = ews_reader_next_msg(r, &m)) == 1)
            ;
    outpost_status st = outpost_ok();
    if (rc == -2)
        st = ews_msg_status(e, &m, "SyncFolderItems");
    else if (rc < 0 || fr < 0 || !p->state || !*p->state)
        st = malformed(e, "SyncFolderItems");
    else if (too_many)
        st = ews_status(e, OUTPOST_BAD_DATA, "SyncFolderItems: the server returned more than %d changes at once",
                        EWS_MAX_PAGE_CHANGES);
    if (!last_seen)
        p->last = -1; /* IncludesLastItemInRange is optional: the caller decides (fetch_page) */
    ews_reader_close(r);
    return st;
}

/* The GetItem request for ids: mail with or without MimeContent, or everything for other
 * kinds (converted locally). */
/* `mime` GET_MIME: with MimeContent; GET_META: without; GET_ENVELOPE: without, and with
 * the properties that stand in for the header of a mail whose MIME the server cannot give
 * (recipients, the sent date). */
enum { GET_META, GET_MIME, GET_ENVELOPE };

static void get_item_op(struct ebuf *op, const char *const *ids, int n, uint32_t kind, int mime, int flag_uri)
{
    if (kind == OUTPOST_ITEM_MAIL) {
        /* item:Flag is in the Exchange 2013 schema; before, the flag is PidTagFlagStatus */
        eb_printf(op, "<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>"
                      "<t:IncludeMimeContent>%s</t:IncludeMimeContent><t:AdditionalProperties>"
                      "<t:FieldURI FieldURI=\"item:ItemClass\"/><t:FieldURI FieldURI=\"item:Subject\"/>"
                      "<t:FieldURI FieldURI=\"item:DateTimeReceived\"/><t:FieldURI FieldURI=\"item:Size\"/>"
                      "<t:FieldURI FieldURI=\"message:IsRead\"/>%s"
                      "<t:FieldURI FieldURI=\"item:IsDraft\"/><t:FieldURI FieldURI=\"message:InternetMessageId\"/>"
                      "<t:FieldURI FieldURI=\"message:From\"/>%s"
                      "<t:ExtendedFieldURI PropertyTag=\"0x1081\" PropertyType=\"Integer\"/>"
                      "<t:ExtendedFieldURI PropertyTag=\"0x0E07\" PropertyType=\"Integer\"/>"
                      "</t:AdditionalProperties></m:ItemShape><m:ItemIds>",
                  mime == GET_MIME ? "true" : "false", flag_uri ? "<t:FieldURI FieldURI=\"item:Flag\"/>"
                  : "<t:ExtendedFieldURI PropertyTag=\"0x1090\" PropertyType=\"Integer\"/>",
                  mime == GET_ENVELOPE ? "<t:FieldURI FieldURI=\"message:ToRecipients\"/>"
                  "<t:FieldURI FieldURI=\"message:CcRecipients\"/><t:FieldURI FieldURI=\"item:DateTimeSent\"/>" : "");
    } else {
        eb_puts(op, "<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape><t:BodyType>Text</t:BodyType>"
                    "<t:AdditionalProperties><t:ExtendedFieldURI DistinguishedPropertySetId=\"PublicStrings\" "
                    "PropertyName=\"OutpostKey\" PropertyType=\"String\"/></t:AdditionalProperties></m:ItemShape><m:ItemIds>");
    }
    for (int i = 0; i < n; i++) {
        eb_puts(op, "<t:ItemId Id=\"");
        eb_xml(op, ids[i]);
        eb_puts(op, "\"/>");
    }
    eb_puts(op, "</m:ItemIds></m:GetItem>");
}

/* A GetItem reply read once without the sink: per-item headers and metadata, and for mail
 * the decoded MimeContent in `spool`. */
struct batch {
    FILE *f;            /* the reply */
    FILE *spool;        /* mail: decoded content, span[k] per message */
    int n;
    struct ews_msg m[EWS_MAX_BATCH];
    struct ews_item it[EWS_MAX_BATCH];
    int have[EWS_MAX_BATCH];
    struct ews_mime_span span[EWS_MAX_BATCH];
};

static void batch_free(struct batch *b)
{
    for (int i = 0; i < b->n; i++)
        if (b->have[i])
            ews_item_free(&b->it[i]);
    if (b->f)
        fclose(b->f);
    if (b->spool)
        fclose(b->spool);
    memset(b, 0, sizeof *b);
}

/* Inside a GetItem response message: onto its item, the element in m:Items whatever its name
 * (else an element the schema names as an item); 1 found, 0 none, -1 bad XML. */
static int find_item(struct ews_reader *r)
{
    int which, fr = ews_reader_find(r, ews_items_or_item_names, &which);
    if (fr != 1 || which != 0)
        return fr;
    if (ews_reader_is_empty(r))
        return 0;
    int rc = ews_reader_step(r, ews_reader_depth(r));
    return rc == 1 ? 1 : rc == 0 ? 0 : -1;
}

/* Reads a spooled GetItem reply once (no sink): per-item headers and metadata of n items.
 * Mail goes through the SAX reader, MimeContent decoded into b->spool; other kinds through
 * the item reader. */
static outpost_status parse_batch(struct ews *e, struct batch *b, int n, uint32_t kind)
{
    if (kind == OUTPOST_ITEM_MAIL) {
        struct ews_msg fault;
        if (b->spool)
            fclose(b->spool); /* a fresh one: the spool holds this reading only */
        if (!(b->spool = ews_spool_open(EWS_SPOOL_MEM)))
            return ews_status(e, OUTPOST_FATAL, "out of memory for the decoded mail");
        int rc = ews_mail_collect(b->f, n, b->m, b->it, b->have, &b->n, &fault, b->spool, b->span);
        if (rc == -2)
            return ews_msg_status(e, &fault, "GetItem");
        if (rc == -3)
            return ews_status(e, OUTPOST_TEMP, "GetItem: the decoded mail could not be kept (out of memory, or "
                              "the temporary file past %u MiB could not be written: disk full?)", EWS_SPOOL_MEM >> 20);
        if (rc < 0 || b->n != n)
            return malformed(e, "GetItem");
        return outpost_ok();
    }
    struct ews_reader *r = ews_reader_open(b->f);
    if (!r)
        return ews_status(e, OUTPOST_FATAL, "out of memory");
    struct ews_msg m;
    int rc;
    while ((rc = ews_reader_next_msg(r, &m)) == 1) {
        if (b->n >= n) {
            rc = -1;
            break;
        }
        int k = b->n++;
        b->m[k] = m;
        if (m.error)
            continue;
        int fr = find_item(r);
        if (fr < 0) {
            rc = -1;
            break;
        }
        if (fr == 0) {
            snprintf(b->m[k].code, sizeof b->m[k].code, "ErrorItemNotFound");
            b->m[k].error = 1;
            continue;
        }
        outpost_status ist;
        b->have[k] = 1;
        if (ews_item_parse(r, &b->it[k], NULL, NULL, &ist) < 0) {
            rc = -1;
            break;
        }
    }
    ews_reader_close(r);
    if (rc == -2)
        return ews_msg_status(e, &m, "GetItem");
    if (rc < 0 || b->n != n)
        return malformed(e, "GetItem");
    rewind(b->f);
    return outpost_ok();
}

static outpost_status get_batch(struct ews *e, const char *const *ids, int n, uint32_t kind, int mime, struct batch *b)
{
    memset(b, 0, sizeof *b);
    struct ebuf op = {0};
    get_item_op(&op, ids, n, kind, mime, ews_schema(e) >= EWS_V2013);
    outpost_status st = ews_call(e, &op, &b->f, "GetItem");
    eb_free(&op);
    if (st.code == OUTPOST_OK)
        st = parse_batch(e, b, n, kind);
    if (b->f) { /* read: what is needed of it is in b now */
        fclose(b->f);
        b->f = NULL;
    }
    return st;
}

/* The first item of a batch the server was too busy for, as a status (OK when none). */
static outpost_status batch_busy(struct ews *e, const struct batch *b)
{
    for (int i = 0; i < b->n; i++)
        if (b->m[i].error && ews_code_class(b->m[i].code) == OUTPOST_THROTTLED)
            return ews_msg_status(e, &b->m[i], "GetItem");
    return outpost_ok();
}

static int is_stopped(const struct ews_msg *m)
{
    return m->error && !strcmp(m->code, "ErrorBatchProcessingStopped");
}

/* get_batch, sent again as a whole (GetItem changes nothing) after the server's back-off while
 * it answers busy, for the request or for one of its items (ews_busy_wait bounds it). */
static outpost_status get_batch_busy(struct ews *e, const char *const *ids, int n, uint32_t kind, int mime,
                                     struct batch *b)
{
    for (int tries = 0;;) {
        outpost_status st = get_batch(e, ids, n, kind, mime, b);
        outpost_status busy = st.code == OUTPOST_OK ? batch_busy(e, b) : st;
        if (!ews_busy_wait(e, &busy, &tries, "GetItem"))
            return st;
        batch_free(b);
    }
}

/* Appends the rest of spool `from` (from its start) to the end of `to`; 0 or -1. */
static int spool_append(FILE *to, FILE *from)
{
    char buf[16384];
    size_t n;
    if (fseek(to, 0, SEEK_END) || fseek(from, 0, SEEK_SET))
        return -1;
    while ((n = fread(buf, 1, sizeof buf, from)) > 0)
        if (fwrite(buf, 1, n, to) != n)
            return -1;
    return ferror(from) || fflush(to) ? -1 : 0;
}

/* get_batch_busy, then the items the server did not process because an earlier one failed
 * (ErrorBatchProcessingStopped: Exchange stops a batch at a failed item and answers the
 * rest so) asked for again in a batch of their own, their answers taken in their places, as
 * long as each round gets further; the failed item itself is judged by the caller. Only a
 * batch's tail is asked again: stopped items among processed ones are left failed. */
static outpost_status get_batch_all(struct ews *e, const char *const *ids, int n, uint32_t kind, int mime,
                                    struct batch *b)
{
    outpost_status st = get_batch_busy(e, ids, n, kind, mime, b);
    for (int prev = 0; st.code == OUTPOST_OK;) {
        int j = b->n;
        while (j > 0 && is_stopped(&b->m[j - 1]))
            j--;
        if (j == b->n || j <= prev) /* none stopped, or no further than the round before */
            break;
        prev = j;
        int tail = 1;
        for (int i = 0; i < j; i++)
            tail &= !is_stopped(&b->m[i]);
        if (!tail)
            break;
        struct batch *r = calloc(1, sizeof *r);
        if (!r)
            return ews_status(e, OUTPOST_FATAL, "out of memory");
        st = get_batch_busy(e, ids + j, b->n - j, kind, mime, r);
        if (st.code == OUTPOST_OK && b->spool && r->spool && spool_append(b->spool, r->spool))
            st = ews_status(e, OUTPOST_TEMP, "GetItem: the decoded mail could not be kept");
        for (int i = 0; st.code == OUTPOST_OK && i < r->n; i++) {
            b->m[j + i] = r->m[i];
            b->it[j + i] = r->it[i];
            b->have[j + i] = r->have[i];
            b->span[j + i] = r->span[i];
            r->have[i] = 0; /* the item is b's now */
        }
        batch_free(r);
        free(r);
    }
    return st;
}

outpost_status ews_get_one(struct ews *e, const char *id, uint32_t kind, struct ews_item *out)
{
    struct batch *b = calloc(1, sizeof *b);
    if (!b)
        return ews_status(e, OUTPOST_FATAL, "out of memory");
    const char *ids[1] = {id};
    outpost_status st = get_batch_all(e, ids, 1, kind, GET_META, b);
    if (st.code == OUTPOST_OK && (b->m[0].error || !b->have[0]))
        st = ews_msg_status(e, &b->m[0], "GetItem");
    if (st.code == OUTPOST_OK) {
        *out = b->it[0];
        b->have[0] = 0;
    }
    batch_free(b);
    free(b);
    return st;
}

/* Emitting one item to the sink. */
struct emit {
    struct ews *e;
    const struct outpost_sync_sink *sink;
};

static void fill_item(outpost_item *o, const struct ews_item *it, uint32_t kind, struct ebuf *from)
{
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->kind = kind;
    o->remote_id = it->id;
    o->remote_version = it->change_key;
    o->flags = kind == OUTPOST_ITEM_MAIL ? ews_item_flags(it) : 0;
    o->internal_date = (it->received ? it->received : it->modified) * 1000;
    o->date = (kind == OUTPOST_ITEM_EVENT ? it->start : it->sent ? it->sent : it->received ? it->received
               : it->modified) * 1000;
    o->size = it->size;
    o->subject = kind == OUTPOST_ITEM_CONTACT ? (it->display ? it->display : it->subject) : it->subject;
    if (it->from_addr) {
        if (it->from_name && *it->from_name)
            eb_printf(from, "%s <%s>", it->from_name, it->from_addr);
        else
            eb_puts(from, it->from_addr);
        o->from = eb_str(from);
    }
    o->to = it->to;
    o->cc = it->cc;
    o->message_id = it->msgid;
    o->object_uid = it->uid ? it->uid : it->key;
}

/* Hands one item to the sink. Mail with `content` is announced complete and *stream is set:
 * its MimeContent follows (stream_batch) and the caller ends it with content_end. Items
 * of another kind than the folder's are left out (*stream stays 0). */
static outpost_status emit_item(struct emit *em, uint32_t change, const struct ews_item *meta, uint32_t kind,
                                int content, int *stream)
{
    const struct outpost_sync_sink *sink = em->sink;
    outpost_item o;
    struct ebuf from = {0};
    uint32_t folder_kind = kind;
    if (stream)
        *stream = 0;
    kind = kind == OUTPOST_ITEM_MAIL ? ews_item_kind(meta) : kind;
    if (kind == OUTPOST_ITEM_EVENT && strcmp(meta->el, "CalendarItem") != 0)
        kind = OUTPOST_ITEM_MAIL;
    /* Exchange keeps items of any kind in a mail folder (a deleted appointment or contact
     * lands in Deleted Items); a cached folder holds one kind: those are left out. */
    if (folder_kind == OUTPOST_ITEM_MAIL && kind != OUTPOST_ITEM_MAIL)
        return outpost_ok();
    fill_item(&o, meta, kind, &from);
    outpost_status st;
    if (kind != OUTPOST_ITEM_MAIL) {
        char *text = kind == OUTPOST_ITEM_CONTACT ? ews_to_vcard(meta) : ews_to_ical(meta, kind);
        if (!text) {
            eb_free(&from);
            return ews_status(em->e, OUTPOST_FATAL, "out of memory converting an item");
        }
        o.size = strlen(text);
        o.content_state = OUTPOST_CONTENT_COMPLETE;
        o.cached_size = o.size;
        st = sink->item(sink->ctx, change, &o);
        if (st.code == OUTPOST_OK)
            st = sink->content(sink->ctx, text, strlen(text));
        if (st.code == OUTPOST_OK)
            st = sink->content_end(sink->ctx);
        free(text);
        eb_free(&from);
        return st;
    }
    o.content_state = content ? OUTPOST_CONTENT_COMPLETE : OUTPOST_CONTENT_NONE;
    o.cached_size = content ? o.size : 0;
    st = sink->item(sink->ctx, change, &o);
    eb_free(&from);
    if (st.code == OUTPOST_OK && content && stream)
        *stream = 1;
    return st;
}

/* The spooled content of a checked GetItem batch of mail, replayed: each item is announced
 * when its MimeContent begins (or at the end of its message, without content, when it has
 * none), the decoded
 * content goes to the sink in pieces. `before(k)` hands over what precedes item k
 * in the caller's order (a page's deletes and flag changes, a fetch's failed items); k =
 * b->n at the end. */
struct streamer {
    struct emit em;
    struct batch *b;
    uint32_t kind;
    uint32_t (*change)(struct streamer *s, int k);
    outpost_status (*before)(struct streamer *s, int k);
    void *ctx;
    int next;          /* items before this one are handled */
    int streaming;     /* content of the current item goes to the sink */
};

static outpost_status st_head(struct streamer *s, int k)
{
    outpost_status st = s->before(s, k);
    s->streaming = 0;
    s->next = k + 1;
    if (st.code != OUTPOST_OK || !s->b->have[k] || s->b->m[k].error)
        return st;
    /* an item that came back without the MimeContent asked for has no content (yet), rather
     * than an empty one */
    return emit_item(&s->em, s->change(s, k), &s->b->it[k], s->kind, s->b->span[k].has, &s->streaming);
}

static outpost_status st_begin(void *ctx, int k)
{
    struct streamer *s = ctx;
    return k < s->next ? outpost_ok() : st_head(s, k);
}

static outpost_status st_chunk(void *ctx, const void *p, size_t n)
{
    struct streamer *s = ctx;
    return s->streaming ? s->em.sink->content(s->em.sink->ctx, p, n) : outpost_ok();
}

static outpost_status st_end(void *ctx, int k)
{
    struct streamer *s = ctx;
    (void)k;
    if (!s->streaming)
        return outpost_ok();
    s->streaming = 0;
    return s->em.sink->content_end(s->em.sink->ctx);
}

static outpost_status st_msg_end(void *ctx, int k)
{
    struct streamer *s = ctx;
    if (k < s->next)
        return outpost_ok();
    outpost_status st = st_head(s, k); /* an item without MimeContent: announced without content */
    return st.code == OUTPOST_OK ? st_end(s, k) : st;
}

static outpost_status stream_batch(struct streamer *s)
{
    struct ews_mail_cb cb = {s, st_begin, st_chunk, st_end, st_msg_end};
    outpost_status st;
    s->next = 0;
    s->streaming = 0;
    int rc = ews_mail_replay(s->b->spool, s->b->span, s->b->n, &cb, &st);
    if (rc == -3)
        return st;
    if (rc < 0)
        return ews_status(s->em.e, OUTPOST_TEMP, "GetItem: the decoded mail could not be read back");
    return s->before(s, s->b->n);
}

/* ---- a page of SyncFolderItems ---- */

struct page_emit {
    struct ipage *p;
    struct batch *full, *meta;
    int pos;            /* next change of the page to hand over */
    int kf, km;         /* next index in the full / meta batch */
};

/* Hands over change i of the page when it is a delete or a flag change. */
static outpost_status emit_other(struct emit *em, struct page_emit *pe, int i, uint32_t kind)
{
    const struct outpost_sync_sink *sink = em->sink;
    struct change *c = &pe->p->c[i];
    if (c->type == CH_DELETE) {
        outpost_item o = {0};
        o.struct_size = sizeof o;
        o.kind = kind;
        o.remote_id = c->id;
        return sink->item(sink->ctx, OUTPOST_CHANGE_DELETE, &o);
    }
    if (c->type == CH_READ && kind == OUTPOST_ITEM_MAIL) {
        int k = pe->km++;
        struct ews_item *it = &pe->meta->it[k];
        if (!pe->meta->have[k] || pe->meta->m[k].error)
            return outpost_ok();
        /* the item as GetItem found it has the last word; one that tells no read state (a
         * t:Item has no IsRead) takes the ReadFlagChange's */
        if (!it->has_is_read && !it->has_msg_flags) {
            it->is_read = c->is_read;
            it->has_is_read = 1;
        }
        return emit_item(em, OUTPOST_CHANGE_FLAGS, it, kind, 0, NULL);
    }
    return outpost_ok();
}

static uint32_t page_change(struct streamer *s, int k)
{
    struct page_emit *pe = s->ctx;
    int seen = 0;
    for (int i = 0; i < pe->p->n; i++)
        if (pe->p->c[i].type == CH_CREATE || pe->p->c[i].type == CH_UPDATE) {
            if (seen++ == k)
                return pe->p->c[i].type == CH_CREATE ? OUTPOST_CHANGE_ADD : OUTPOST_CHANGE_UPDATE;
        }
    return OUTPOST_CHANGE_UPDATE;
}

static outpost_status page_before(struct streamer *s, int k)
{
    struct page_emit *pe = s->ctx;
    outpost_status st = outpost_ok();
    while (st.code == OUTPOST_OK && pe->pos < pe->p->n) {
        struct change *c = &pe->p->c[pe->pos];
        if (c->type == CH_CREATE || c->type == CH_UPDATE) {
            if (pe->kf == k)
                break;
            pe->kf++; /* handed over (or skipped) by the stream */
        } else {
            st = emit_other(&s->em, pe, pe->pos, s->kind);
        }
        pe->pos++;
    }
    return st;
}

/* One page of a folder: the SyncFolderItems listing and the GetItem batches it needs, read
 * and checked (first reading), not yet handed to the sink. */
struct fpage {
    struct ipage p;
    struct ipage rest;      /* changes of the same reply beyond MaxChangesReturned: the next page */
    struct batch *full, *meta;
    int nfull;
    outpost_status st;
};

static void fpage_free(struct fpage *fp)
{
    ipage_free(&fp->p);
    ipage_free(&fp->rest);
    if (fp->full)
        batch_free(fp->full);
    if (fp->meta)
        batch_free(fp->meta);
    free(fp->full);
    free(fp->meta);
    fp->full = fp->meta = NULL;
}

struct folder_sync {
    const outpost_folder *folder;
    uint32_t max, kind;
    int want;
};

static void list_page(struct ews *e, const struct folder_sync *fs, const char *state, struct fpage *fp);
static void get_page_items(struct ews *e, const struct folder_sync *fs, struct fpage *fp);

/* Lists the page after `state` (NULL: from the start), or takes the changes `carry` left
 * over from the reply before (moved out of *carry), and fetches what it needs. */
static void fetch_page(struct ews *e, const struct folder_sync *fs, const char *state, struct ipage *carry,
                       struct fpage *fp)
{
    memset(fp, 0, sizeof *fp);
    if (carry && carry->n) {
        fp->p = *carry;
        memset(carry, 0, sizeof *carry);
        fp->st = outpost_ok();
    } else {
        list_page(e, fs, state, fp);
        if (fp->st.code != OUTPOST_OK)
            return;
        /* IncludesLastItemInRange absent: a shorter page than asked for is the end */
        if (fp->p.last < 0)
            fp->p.last = fp->p.n < (int)fs->max;
    }
    if (fp->p.n > (int)fs->max && ipage_split(&fp->p, (int)fs->max, &fp->rest)) {
        fp->st = ews_status(e, OUTPOST_FATAL, "out of memory");
        return;
    }
    get_page_items(e, fs, fp);
}

/* The SyncFolderItems call of fetch_page. */
static void list_page(struct ews *e, const struct folder_sync *fs, const char *state, struct fpage *fp)
{
    struct ebuf op = {0};
    eb_puts(&op, "<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>"
                 "<t:FieldURI FieldURI=\"item:ItemClass\"/></t:AdditionalProperties></m:ItemShape>"
                 "<m:SyncFolderId><t:FolderId Id=\"");
    eb_xml(&op, fs->folder->remote_id);
    eb_puts(&op, "\"/></m:SyncFolderId>");
    if (state)
        eb_elem(&op, "m:SyncState", state);
    eb_printf(&op, "<m:MaxChangesReturned>%u</m:MaxChangesReturned>", fs->max);
    /* SyncScope came with Exchange 2010's schema: a request naming an Exchange 2007 version
     * must leave it out (NormalItems is what the server does without it) */
    if (ews_schema(e) >= EWS_V2010)
        eb_puts(&op, "<m:SyncScope>NormalItems</m:SyncScope>");
    eb_puts(&op, "</m:SyncFolderItems>");
    fp->st = ews_request(e, &op, parse_items_page, &fp->p, "SyncFolderItems");
    eb_free(&op);
    if (fp->st.code == OUTPOST_BAD_DATA) /* refused (ErrorAccessDenied, ...) or unreadable: this folder only */
        e->host->log(e->host, OUTPOST_LOG_WARNING, "folder %s not synced this time: %s",
                     fs->folder->name ? fs->folder->name : fs->folder->remote_id,
                     fp->st.message ? fp->st.message : "bad reply");
    if (fp->st.code == OUTPOST_OK && fp->p.last != 1 && state && !strcmp(state, fp->p.state)) {
        /* "more to come" with the state we sent: asking again would get the same answer
         * forever (a server that moves on gives a new state with every page) */
        e->host->log(e->host, OUTPOST_LOG_WARNING, "SyncFolderItems of %s: the server said more changes follow but "
                     "returned the same SyncState (%d changes); taking the folder as complete",
                     fs->folder->name ? fs->folder->name : fs->folder->remote_id, fp->p.n);
        fp->p.last = 1;
    }
}

/* The failed items of a page's GetItem batch (they are not handed over): one gone since the
 * listing is skipped (its Delete comes later); one the server refuses or cannot render on its
 * own (ErrorAccessDenied, ErrorMimeContentConversionFailed, ErrorItemCorrupt,
 * ErrorMessageSizeExceeded, ...: BAD_DATA or CONFLICT) is skipped with a warning naming it, so
 * that one item cannot hold the rest of its folder back forever; a failure that is not the
 * item's (busy, unavailable, not processed) fails the page, which is listed again later. */
static outpost_status check_items(struct ews *e, const struct folder_sync *fs, const struct batch *b,
                                  const char *const *ids)
{
    for (int i = 0; i < b->n; i++) {
        if (!b->m[i].error)
            continue;
        int cls = ews_code_class(b->m[i].code);
        if (cls == OUTPOST_GONE)
            continue;
        if (cls != OUTPOST_BAD_DATA && cls != OUTPOST_CONFLICT)
            return ews_msg_status(e, &b->m[i], "GetItem");
        e->host->log(e->host, OUTPOST_LOG_WARNING, "folder %s: item %s skipped: GetItem answered %s%s%s",
                     fs->folder->name ? fs->folder->name : fs->folder->remote_id, ids[i],
                     b->m[i].code[0] ? b->m[i].code : "an error", b->m[i].text[0] ? " — " : "", b->m[i].text);
    }
    return outpost_ok();
}

/* Codes by which a GetItem of an existing mail says that its MIME cannot be given (this
 * item's, for good): ErrorMimeContentConversionFailed (the server cannot render the item as
 * MIME, e.g. some meeting messages), ErrorContentConversionFailed, ErrorItemCorrupt (its
 * content unreadable), ErrorMessageSizeExceeded (too large to be returned). */
static int mime_unavailable(const struct ews_msg *m)
{
    static const char *const codes[] = {"ErrorMimeContentConversionFailed", "ErrorContentConversionFailed",
                                        "ErrorItemCorrupt", "ErrorMessageSizeExceeded", NULL};
    for (int i = 0; m->error && codes[i]; i++)
        if (!strcmp(m->code, codes[i]))
            return 1;
    return 0;
}

/* The mail of a page's batch whose MIME the server cannot give is still on the server:
 * skipping it would hide it from the client for good. It is asked for again without
 * MimeContent (its properties: subject, sender, recipients, dates, size, flags) and takes
 * its place in the batch as an item without content (span.has 0: handed over with content
 * state NONE; the engine's fetch of its content then fails as BAD_DATA and is retried on the
 * engine's schedule). One the server cannot give even so stays failed (check_items). */
static outpost_status rescue_unrenderable(struct ews *e, const struct folder_sync *fs, struct batch *b,
                                          const char *const *ids)
{
    const char *rids[EWS_MAX_BATCH];
    int where[EWS_MAX_BATCH], n = 0;
    for (int i = 0; i < b->n; i++)
        if (mime_unavailable(&b->m[i])) {
            where[n] = i;
            rids[n++] = ids[i];
        }
    if (!n)
        return outpost_ok();
    struct batch *r = calloc(1, sizeof *r);
    if (!r)
        return ews_status(e, OUTPOST_FATAL, "out of memory");
    outpost_status st = get_batch_all(e, rids, n, OUTPOST_ITEM_MAIL, GET_ENVELOPE, r);
    for (int j = 0; st.code == OUTPOST_OK && j < r->n; j++) {
        int k = where[j];
        if (r->m[j].error || !r->have[j])
            continue;
        e->host->log(e->host, OUTPOST_LOG_WARNING, "folder %s: item %s (\"%.100s\") handed over without content: "
                     "GetItem answered %s%s%s", fs->folder->name ? fs->folder->name : fs->folder->remote_id, ids[k],
                     r->it[j].subject ? r->it[j].subject : "", b->m[k].code, b->m[k].text[0] ? " — " : "",
                     b->m[k].text);
        b->m[k] = r->m[j];
        b->it[k] = r->it[j];
        b->have[k] = 1;
        b->span[k].has = 0;
        b->span[k].len = 0;
        r->have[j] = 0; /* the item is b's now */
    }
    batch_free(r);
    free(r);
    /* the items stay failed (skipped with their first code) when the server cannot give
     * their properties either, for a reason of theirs */
    return st.code == OUTPOST_BAD_DATA || st.code == OUTPOST_GONE ? outpost_ok() : st;
}

/* The GetItem calls of fetch_page: the page's creates and updates, and its read flag changes. */
static void get_page_items(struct ews *e, const struct folder_sync *fs, struct fpage *fp)
{
    const char *full_ids[EWS_MAX_BATCH], *meta_ids[EWS_MAX_BATCH];
    int nmeta = 0;
    for (int i = 0; i < fp->p.n; i++) {
        if (fp->p.c[i].type == CH_CREATE || fp->p.c[i].type == CH_UPDATE)
            full_ids[fp->nfull++] = fp->p.c[i].id;
        else if (fp->p.c[i].type == CH_READ && fs->kind == OUTPOST_ITEM_MAIL)
            meta_ids[nmeta++] = fp->p.c[i].id;
    }
    fp->full = calloc(1, sizeof *fp->full);
    fp->meta = calloc(1, sizeof *fp->meta);
    if (!fp->full || !fp->meta) {
        fp->st = ews_status(e, OUTPOST_FATAL, "out of memory");
        return;
    }
    if (fp->nfull)
        fp->st = get_batch_all(e, full_ids, fp->nfull, fs->kind, fs->want ? GET_MIME : GET_META, fp->full);
    if (fp->st.code == OUTPOST_OK && fp->nfull && fs->want && fs->kind == OUTPOST_ITEM_MAIL)
        fp->st = rescue_unrenderable(e, fs, fp->full, full_ids);
    if (fp->st.code == OUTPOST_OK && nmeta)
        fp->st = get_batch_all(e, meta_ids, nmeta, fs->kind, GET_META, fp->meta);
    if (fp->st.code == OUTPOST_OK)
        fp->st = check_items(e, fs, fp->full, full_ids);
    if (fp->st.code == OUTPOST_OK)
        fp->st = check_items(e, fs, fp->meta, meta_ids);
}

/* Hands a fetched page to the sink in the server's order (mail content streamed from its
 * spool), then commits it with its SyncState. */
static outpost_status emit_page(struct ews *e, const struct folder_sync *fs, struct fpage *fp,
                                const struct outpost_sync_sink *sink)
{
    struct emit em = {e, sink};
    struct ipage *p = &fp->p;
    struct page_emit pe = {p, fp->full, fp->meta, 0, 0, 0};
    outpost_status st = outpost_ok();
    int mime_stream = fs->kind == OUTPOST_ITEM_MAIL && fs->want && fp->nfull;
    if (mime_stream) {
        struct streamer s = {em, fp->full, fs->kind, page_change, page_before, &pe, 0, 0};
        st = stream_batch(&s);
    }
    for (int i = 0; !mime_stream && st.code == OUTPOST_OK && i < p->n; i++) {
        struct change *c = &p->c[i];
        if (c->type != CH_CREATE && c->type != CH_UPDATE) {
            st = emit_other(&em, &pe, i, fs->kind);
            continue;
        }
        int k = pe.kf++;
        if (!fp->full->have[k] || fp->full->m[k].error)
            continue; /* gone since the sync: its Delete comes with a later page */
        st = emit_item(&em, c->type == CH_CREATE ? OUTPOST_CHANGE_ADD : OUTPOST_CHANGE_UPDATE, &fp->full->it[k],
                       fs->kind, 0, NULL);
    }
    if (st.code == OUTPOST_OK) /* a part of a longer reply: its changes, the state with the last part */
        st = sink->commit(sink->ctx, p->state, p->state ? strlen(p->state) : 0);
    return st;
}

/* The next page is listed and fetched on a second thread while the sink takes the current
 * one (network, the server's work, reading the replies and decoding the mail there; the
 * summaries and the storage writes here). The instance is used by one thread at a time:
 * the prefetching thread works on a copy of it (its own status message; the libcurl
 * handle, which the calling thread leaves alone until the join) and the calling thread only
 * reads the current page's spooled content and calls the sink. A prefetched page that is
 * not handed over is dropped. */
struct prefetch {
    struct ews shadow;
    const struct folder_sync *fs;
    const char *state;
    struct ipage *carry;   /* changes left over from the current page's reply (moved out) */
    struct fpage page;
    pthread_t thread;
};

static void *prefetch_run(void *arg)
{
    struct prefetch *pf = arg;
#ifdef __linux__
    pthread_setname_np(pthread_self(), "ews-prefetch"); /* for top -H, ps -L, perf, gdb */
#endif
    fetch_page(&pf->shadow, pf->fs, pf->state, pf->carry, &pf->page);
    return NULL;
}

/* Back on the calling thread: what the copy changed (a refreshed bearer token) and the
 * prefetch's status message. */
static void prefetch_adopt(struct ews *e, struct prefetch *pf, int keep_status)
{
    e->token = pf->shadow.token;
    e->ver = pf->shadow.ver; /* `version` or a static name: an older version the server wants */
    if (keep_status && pf->page.st.message == pf->shadow.msg) {
        memcpy(e->msg, pf->shadow.msg, sizeof e->msg);
        pf->page.st.message = e->msg;
    }
}

outpost_status ews_sync_folder(struct ews *e, const outpost_folder *folder, const void *state, size_t len,
                               uint32_t page_size, uint32_t flags, const struct outpost_sync_sink *sink)
{
    if (!folder || !folder->remote_id)
        return ews_status(e, OUTPOST_BAD_DATA, "sync_folder: the folder has no remote id");
    struct folder_sync fs;
    fs.folder = folder;
    fs.max = page_size && page_size < e->batch ? page_size : e->batch;
    fs.kind = folder->kind ? folder->kind : OUTPOST_ITEM_MAIL;
    fs.want = (flags & OUTPOST_SYNC_WANT_CONTENT) != 0 || fs.kind != OUTPOST_ITEM_MAIL;
    char *start = NULL;
    if (state && len) {
        if (!(start = malloc(len + 1)))
            return ews_status(e, OUTPOST_FATAL, "out of memory");
        memcpy(start, state, len);
        start[len] = '\0';
    }
    struct prefetch *pf = calloc(1, sizeof *pf);
    if (!pf) {
        free(start);
        return ews_status(e, OUTPOST_FATAL, "out of memory");
    }
    struct fpage cur;
    fetch_page(e, &fs, start, NULL, &cur);
    free(start);
    outpost_status st = cur.st;
    uint64_t done = 0;
    while (st.code == OUTPOST_OK) {
        if (e->host->cancelled && e->host->cancelled(e->host)) {
            st = ews_status(e, OUTPOST_TEMP, "cancelled");
            break;
        }
        int more = !cur.p.last, threaded = 0;
        if (more) {
            pf->shadow = *e;
            pf->fs = &fs;
            pf->state = cur.p.state;
            pf->carry = &cur.rest; /* the rest of cur's reply, when it had more than asked for */
            threaded = pthread_create(&pf->thread, NULL, prefetch_run, pf) == 0;
            if (!threaded) {
                prefetch_run(pf); /* no thread: the same, one after the other */
                prefetch_adopt(e, pf, 1);
            }
        }
        st = emit_page(e, &fs, &cur, sink);
        done += (uint64_t)cur.p.n;
        if (st.code == OUTPOST_OK && OUTPOST_HAS_FIELD(sink, struct outpost_sync_sink, progress) && sink->progress)
            sink->progress(sink->ctx, done, 0);
        if (threaded) {
            pthread_join(pf->thread, NULL);
            prefetch_adopt(e, pf, st.code == OUTPOST_OK);
        }
        fpage_free(&cur);
        if (!more)
            break;
        if (st.code != OUTPOST_OK) {
            fpage_free(&pf->page); /* fetched, never handed over */
            break;
        }
        cur = pf->page;
        st = cur.st;
    }
    if (st.code != OUTPOST_OK)
        fpage_free(&cur);
    free(pf);
    return st;
}

/* A fetch batch: failed items are reported in request order, the others are updates. */
struct fetch_emit {
    uint32_t off;
    int failed_next;    /* items before this one were checked for failure */
};

static uint32_t fetch_change(struct streamer *s, int k)
{
    (void)s;
    (void)k;
    return OUTPOST_CHANGE_UPDATE;
}

static outpost_status fetch_before(struct streamer *s, int k)
{
    struct fetch_emit *fe = s->ctx;
    const struct outpost_sync_sink *sink = s->em.sink;
    outpost_status st = outpost_ok();
    for (; st.code == OUTPOST_OK && fe->failed_next <= k && fe->failed_next < s->b->n; fe->failed_next++) {
        int j = fe->failed_next;
        if (s->b->m[j].error || !s->b->have[j])
            st = sink->item_failed(sink->ctx, fe->off + (uint32_t)j, ews_msg_status(s->em.e, &s->b->m[j], "GetItem"));
    }
    return st;
}

outpost_status ews_fetch(struct ews *e, const outpost_folder *folder, const char *const *ids, uint32_t n,
                         const struct outpost_sync_sink *sink)
{
    uint32_t kind = folder && folder->kind ? folder->kind : OUTPOST_ITEM_MAIL;
    struct emit em = {e, sink};
    outpost_status st = outpost_ok();
    struct batch *b = calloc(1, sizeof *b);
    if (!b)
        return ews_status(e, OUTPOST_FATAL, "out of memory");
    for (uint32_t off = 0; off < n && st.code == OUTPOST_OK; off += e->batch) {
        int cnt = (int)(n - off < e->batch ? n - off : e->batch);
        st = get_batch_all(e, ids + off, cnt, kind, GET_MIME, b);
        struct fetch_emit fe = {off, 0};
        struct streamer s = {em, b, kind, fetch_change, fetch_before, &fe, 0, 0};
        if (st.code == OUTPOST_OK && kind == OUTPOST_ITEM_MAIL)
            st = stream_batch(&s);
        for (int k = 0; st.code == OUTPOST_OK && kind != OUTPOST_ITEM_MAIL && k < cnt; k++) {
            st = fetch_before(&s, k);
            if (st.code == OUTPOST_OK && b->have[k] && !b->m[k].error)
                st = emit_item(&em, OUTPOST_CHANGE_UPDATE, &b->it[k], kind, 0, NULL);
        }
        batch_free(b);
        if (st.code == OUTPOST_OK)
            st = sink->commit(sink->ctx, NULL, 0);
    }
    free(b);
    return st;
}

/* ---- fuzzing entry: every reply parser over one input, and the emit path into a sink ---- */

outpost_status ews_parse_any(struct ews *e, FILE *f, const struct outpost_sync_sink *sink)
{
    struct hpage hp = {0};
    rewind(f);
    parse_hierarchy(e, f, &hp);
    hpage_free(&hp);
    struct ipage ip;
    memset(&ip, 0, sizeof ip);
    rewind(f);
    parse_items_page(e, f, &ip);
    ipage_free(&ip);
    struct ews_simple s;
    rewind(f);
    ews_parse_simple(e, f, &s, "fuzz");
    ews_simple_free(&s);
    int changed;
    rewind(f);
    ews_parse_events(e, f, &changed);
    /* as a GetItem reply of as many items as it holds */
    struct batch *b = calloc(1, sizeof *b);
    if (!b)
        return ews_status(e, OUTPOST_FATAL, "out of memory");
    outpost_status st = outpost_ok();
    for (uint32_t kind = OUTPOST_ITEM_MAIL; kind <= OUTPOST_ITEM_NOTE; kind++) {
        memset(b, 0, sizeof *b);
        rewind(f);
        b->f = f;
        st = parse_batch(e, b, EWS_MAX_BATCH, kind);
        int n = b->n;
        if (st.code != OUTPOST_OK && n > 0) {
            /* parse again expecting exactly what is there, as a real batch would */
            for (int i = 0; i < n; i++)
                if (b->have[i])
                    ews_item_free(&b->it[i]);
            FILE *spool = b->spool;
            memset(b, 0, sizeof *b);
            rewind(f);
            b->f = f;
            b->spool = spool;
            st = parse_batch(e, b, n, kind);
        }
        struct emit em = {e, sink};
        struct fetch_emit fe = {0, 0};
        struct streamer sr = {em, b, kind, fetch_change, fetch_before, &fe, 0, 0};
        if (st.code == OUTPOST_OK && kind == OUTPOST_ITEM_MAIL)
            st = stream_batch(&sr);
        for (int k = 0; st.code == OUTPOST_OK && kind != OUTPOST_ITEM_MAIL && k < b->n; k++)
            if (b->have[k] && !b->m[k].error)
                st = emit_item(&em, OUTPOST_CHANGE_ADD, &b->it[k], kind, 0, NULL);
        for (int i = 0; i < b->n; i++)
            if (b->have[i])
                ews_item_free(&b->it[i]);
        if (b->spool)
            fclose(b->spool);
    }
    free(b);
    return st;
}
