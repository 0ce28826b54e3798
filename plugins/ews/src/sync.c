/* Reading: the folder hierarchy (SyncFolderHierarchy under msgfolderroot), folder contents
 * (SyncFolderItems with MaxChangesReturned = the GetItem batch, then GetItem for the page,
 * so each SyncState covers exactly the batch committed with it) and on-demand fetches.
 * Every reply is validated completely before the first sink call: a malformed reply or a
 * failed page hands nothing to the sink. Mail content is MimeContent as-is, decoded and
 * streamed to sink->content; other kinds are converted to iCalendar / vCard. */
#include <stdlib.h>
#include <string.h>

#include "ews.h"

static const char *const special_dist[] = {
    [OUTPOST_USE_INBOX] = "inbox", [OUTPOST_USE_SENT] = "sentitems", [OUTPOST_USE_DRAFTS] = "drafts",
    [OUTPOST_USE_TRASH] = "deleteditems", [OUTPOST_USE_JUNK] = "junkemail", [OUTPOST_USE_OUTBOX] = "outbox"};

/* POSTs an operation and returns the spooled reply. */
static outpost_status call(struct ews *e, const struct ebuf *op, FILE **reply, const char *what)
{
    struct ebuf req = {0};
    ews_envelope(e, &req, eb_str(op));
    if (req.oom || op->oom) {
        eb_free(&req);
        return ews_status(e, OUTPOST_FATAL, "%s: out of memory", what);
    }
    outpost_status st = ews_post(e, NULL, req.p, req.len, reply);
    eb_free(&req);
    return st;
}

static outpost_status malformed(struct ews *e, const char *what)
{
    return ews_status(e, OUTPOST_BAD_DATA, "%s: the server's reply is not a well-formed EWS response", what);
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
    FILE *f = NULL;
    outpost_status st = call(e, &op, &f, "GetFolder");
    eb_free(&op);
    if (st.code != OUTPOST_OK)
        return st;
    struct ews_reader *r = ews_reader_open(f);
    struct ews_msg m;
    int rc, idx = 0;
    static const char *const names[] = {"FolderId", NULL};
    char *ids[16] = {0};
    while (r && (rc = ews_reader_next_msg(r, &m)) == 1) {
        int which;
        if (!m.error && idx < 16 && ews_reader_find(r, names, &which) == 1)
            ids[idx] = ews_reader_attr(r, "Id");
        idx++;
    }
    if (!r)
        rc = -1;
    ews_reader_close(r);
    fclose(f);
    if (rc == -2)
        st = ews_msg_status(e, &m, "GetFolder");
    else if (rc < 0)
        st = malformed(e, "GetFolder");
    else if (!ids[0])
        st = ews_status(e, OUTPOST_BAD_DATA, "GetFolder: the server did not return the message folder root");
    if (st.code == OUTPOST_OK) {
        free(e->root_id);
        e->root_id = ids[0];
        ids[0] = NULL;
        int k = 1;
        for (int u = 1; u <= OUTPOST_USE_OUTBOX; u++)
            if (u < (int)(sizeof special_dist / sizeof *special_dist) && special_dist[u]) {
                free(e->special[u]);
                e->special[u] = ids[k];
                ids[k++] = NULL;
            }
    }
    for (int i = 0; i < 16; i++)
        free(ids[i]);
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
        if (!strcmp(n, "FolderId")) {
            h->id = ews_reader_attr(r, "Id");
        } else if (!strcmp(n, "ParentFolderId")) {
            h->parent = ews_reader_attr(r, "Id");
        } else if (!strcmp(n, "DisplayName")) {
            if (ews_reader_text(r, &h->name))
                return -1;
            continue;
        } else if (!strcmp(n, "FolderClass")) {
            if (ews_reader_text(r, &h->cls))
                return -1;
            continue;
        }
        if (ews_reader_skip(r))
            return -1;
    }
}

/* Parses a SyncFolderHierarchy reply completely into *p. */
static outpost_status parse_hierarchy(struct ews *e, FILE *f, struct hpage *p)
{
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
    int which, fr = 0;
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
                p->last = !strcmp(v, "true");
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

outpost_status ews_sync_hierarchy(struct ews *e, const void *state, size_t len, const struct outpost_sync_sink *sink)
{
    outpost_status st = outpost_ok();
    if (!e->root_id && (st = ews_learn_folders(e)).code != OUTPOST_OK)
        return st;
    char *cur = NULL;
    if (state && len) {
        cur = malloc(len + 1);
        if (!cur)
            return ews_status(e, OUTPOST_FATAL, "out of memory");
        memcpy(cur, state, len);
        cur[len] = '\0';
    }
    for (int round = 0; round < 1000; round++) {
        struct ebuf op = {0};
        eb_puts(&op, "<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>AllProperties</t:BaseShape></m:FolderShape>"
                     "<m:SyncFolderId><t:DistinguishedFolderId Id=\"msgfolderroot\"/></m:SyncFolderId>");
        if (cur)
            eb_elem(&op, "m:SyncState", cur);
        eb_puts(&op, "</m:SyncFolderHierarchy>");
        FILE *f = NULL;
        st = call(e, &op, &f, "SyncFolderHierarchy");
        eb_free(&op);
        if (st.code != OUTPOST_OK)
            break;
        struct hpage p = {0};
        st = parse_hierarchy(e, f, &p);
        fclose(f);
        if (st.code != OUTPOST_OK) {
            hfolders_free(p.f, p.n);
            free(p.state);
            break;
        }
        /* parents before children; folders of kinds we do not carry (and their subtrees) stay out */
        for (size_t i = 0; i < p.n; i++)
            if (p.f[i].change != OUTPOST_CHANGE_DELETE && !folder_kind(&p.f[i]))
                p.f[i].done = 2;
        for (int progress = 1; progress && st.code == OUTPOST_OK;) {
            progress = 0;
            for (size_t i = 0; i < p.n && st.code == OUTPOST_OK; i++) {
                struct hfolder *h = &p.f[i];
                if (h->done || h->change == OUTPOST_CHANGE_DELETE)
                    continue;
                if (is_skipped(&p, h->parent)) {
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
        if (st.code == OUTPOST_OK)
            st = sink->commit(sink->ctx, p.state, strlen(p.state));
        free(cur);
        cur = p.state;
        int last = p.last;
        hfolders_free(p.f, p.n);
        if (st.code != OUTPOST_OK || last)
            break;
    }
    free(cur);
    return st;
}

/* ---- folder contents ---- */

enum { CH_CREATE, CH_UPDATE, CH_DELETE, CH_READ };

struct change {
    int type;
    char *id;
    int is_read;
};

struct ipage {
    struct change c[EWS_MAX_BATCH];
    int n;
    char *state;
    int last;
};

static void ipage_free(struct ipage *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->c[i].id);
    free(p->state);
    memset(p, 0, sizeof *p);
}

static outpost_status parse_items_page(struct ews *e, FILE *f, struct ipage *p, uint32_t max)
{
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
    int which, fr = 0, too_many = 0;
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
                p->last = !strcmp(v, "true");
            }
            free(v);
            continue;
        }
        if (p->n >= (int)max || p->n >= EWS_MAX_BATCH) {
            too_many = 1;
            if (ews_reader_skip(r)) {
                fr = -1;
                break;
            }
            continue;
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
                c->is_read = !strcmp(v, "true");
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
        st = ews_status(e, OUTPOST_BAD_DATA, "SyncFolderItems: the server returned more changes than MaxChangesReturned");
    ews_reader_close(r);
    return st;
}

/* The GetItem request for ids: mail with or without MimeContent, or everything for other
 * kinds (converted locally). */
static void get_item_op(struct ebuf *op, const char *const *ids, int n, uint32_t kind, int mime)
{
    if (kind == OUTPOST_ITEM_MAIL) {
        eb_printf(op, "<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>"
                      "<t:IncludeMimeContent>%s</t:IncludeMimeContent><t:AdditionalProperties>"
                      "<t:FieldURI FieldURI=\"item:ItemClass\"/><t:FieldURI FieldURI=\"item:Subject\"/>"
                      "<t:FieldURI FieldURI=\"item:DateTimeReceived\"/><t:FieldURI FieldURI=\"item:Size\"/>"
                      "<t:FieldURI FieldURI=\"message:IsRead\"/><t:FieldURI FieldURI=\"item:Flag\"/>"
                      "<t:FieldURI FieldURI=\"item:IsDraft\"/><t:FieldURI FieldURI=\"message:InternetMessageId\"/>"
                      "<t:FieldURI FieldURI=\"message:From\"/>"
                      "<t:ExtendedFieldURI PropertyTag=\"0x1081\" PropertyType=\"Integer\"/>"
                      "</t:AdditionalProperties></m:ItemShape><m:ItemIds>",
                  mime ? "true" : "false");
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

/* A GetItem reply read once without the sink: per-item headers and metadata. */
struct batch {
    FILE *f;
    int n;
    struct ews_msg m[EWS_MAX_BATCH];
    struct ews_item it[EWS_MAX_BATCH];
    int have[EWS_MAX_BATCH];
};

static void batch_free(struct batch *b)
{
    for (int i = 0; i < b->n; i++)
        if (b->have[i])
            ews_item_free(&b->it[i]);
    if (b->f)
        fclose(b->f);
    memset(b, 0, sizeof *b);
}

static const char *const item_names[] = {"Message", "CalendarItem", "Contact", "Task", "MeetingRequest",
                                         "MeetingResponse", "MeetingCancellation", "PostItem", "DistributionList",
                                         "Item", NULL};

/* Reads a spooled GetItem reply once (no sink): per-item headers and metadata of n items. */
static outpost_status parse_batch(struct ews *e, struct batch *b, int n)
{
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
        int which, fr = ews_reader_find(r, item_names, &which);
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
    get_item_op(&op, ids, n, kind, mime);
    outpost_status st = call(e, &op, &b->f, "GetItem");
    eb_free(&op);
    return st.code == OUTPOST_OK ? parse_batch(e, b, n) : st;
}

outpost_status ews_get_one(struct ews *e, const char *id, uint32_t kind, struct ews_item *out)
{
    struct batch *b = calloc(1, sizeof *b);
    if (!b)
        return ews_status(e, OUTPOST_FATAL, "out of memory");
    const char *ids[1] = {id};
    outpost_status st = get_batch(e, ids, 1, kind, 0, b);
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

static outpost_status mime_to_sink(void *ctx, const void *data, size_t len)
{
    struct emit *em = ctx;
    return em->sink->content(em->sink->ctx, data, len);
}

static void fill_item(outpost_item *o, const struct ews_item *it, uint32_t kind, struct ebuf *from)
{
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->kind = kind;
    o->remote_id = it->id;
    o->remote_version = it->change_key;
    o->flags = kind == OUTPOST_ITEM_MAIL ? ews_item_flags(it) : 0;
    o->internal_date = (it->received ? it->received : it->modified) * 1000;
    o->date = (kind == OUTPOST_ITEM_EVENT ? it->start : it->received ? it->received : it->modified) * 1000;
    o->size = it->size;
    o->subject = kind == OUTPOST_ITEM_CONTACT ? (it->display ? it->display : it->subject) : it->subject;
    if (it->from_addr) {
        if (it->from_name && *it->from_name)
            eb_printf(from, "%s <%s>", it->from_name, it->from_addr);
        else
            eb_puts(from, it->from_addr);
        o->from = eb_str(from);
    }
    o->message_id = it->msgid;
    o->object_uid = it->uid ? it->uid : it->key;
}

/* Hands one item to the sink. For mail with content, `r` is positioned on the item element
 * in the second reading of the reply and the MimeContent is streamed from it. */
static outpost_status emit_item(struct emit *em, uint32_t change, const struct ews_item *meta, uint32_t kind,
                                struct ews_reader *r, int content)
{
    const struct outpost_sync_sink *sink = em->sink;
    outpost_item o;
    struct ebuf from = {0};
    uint32_t folder_kind = kind;
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
    if (st.code != OUTPOST_OK || !content)
        return st;
    struct ews_item again;
    int rc = ews_item_parse(r, &again, mime_to_sink, em, &st);
    ews_item_free(&again);
    if (rc == -2)
        return st;
    if (rc < 0) /* validated in the first reading: only an I/O error gets here */
        return ews_status(em->e, OUTPOST_TEMP, "GetItem: the spooled reply could not be read again");
    return sink->content_end(sink->ctx);
}

/* Positions a second reader of a batch on message k's item element. */
static int seek_item(struct ews_reader *r, int *cur, int k)
{
    struct ews_msg m;
    while (*cur < k) {
        if (ews_reader_next_msg(r, &m) != 1)
            return -1;
        (*cur)++;
    }
    if (ews_reader_next_msg(r, &m) != 1)
        return -1;
    (*cur)++;
    int which;
    return ews_reader_find(r, item_names, &which) == 1 ? 0 : -1;
}

outpost_status ews_sync_folder(struct ews *e, const outpost_folder *folder, const void *state, size_t len,
                               uint32_t page_size, uint32_t flags, const struct outpost_sync_sink *sink)
{
    if (!folder || !folder->remote_id)
        return ews_status(e, OUTPOST_BAD_DATA, "sync_folder: the folder has no remote id");
    uint32_t max = page_size && page_size < e->batch ? page_size : e->batch;
    uint32_t kind = folder->kind ? folder->kind : OUTPOST_ITEM_MAIL;
    int want = (flags & OUTPOST_SYNC_WANT_CONTENT) != 0 || kind != OUTPOST_ITEM_MAIL;
    char *cur = NULL;
    if (state && len) {
        if (!(cur = malloc(len + 1)))
            return ews_status(e, OUTPOST_FATAL, "out of memory");
        memcpy(cur, state, len);
        cur[len] = '\0';
    }
    outpost_status st = outpost_ok();
    struct emit em = {e, sink};
    uint64_t done = 0;
    for (;;) {
        if (e->host->cancelled && e->host->cancelled(e->host)) {
            st = ews_status(e, OUTPOST_TEMP, "cancelled");
            break;
        }
        struct ebuf op = {0};
        eb_puts(&op, "<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>"
                     "<t:FieldURI FieldURI=\"item:ItemClass\"/></t:AdditionalProperties></m:ItemShape>"
                     "<m:SyncFolderId><t:FolderId Id=\"");
        eb_xml(&op, folder->remote_id);
        eb_puts(&op, "\"/></m:SyncFolderId>");
        if (cur)
            eb_elem(&op, "m:SyncState", cur);
        eb_printf(&op, "<m:MaxChangesReturned>%u</m:MaxChangesReturned><m:SyncScope>NormalItems</m:SyncScope>"
                       "</m:SyncFolderItems>", max);
        FILE *f = NULL;
        st = call(e, &op, &f, "SyncFolderItems");
        eb_free(&op);
        if (st.code != OUTPOST_OK)
            break;
        struct ipage p;
        memset(&p, 0, sizeof p);
        st = parse_items_page(e, f, &p, max);
        fclose(f);
        if (st.code != OUTPOST_OK) {
            ipage_free(&p);
            break;
        }
        /* fetch what the page needs */
        const char *full_ids[EWS_MAX_BATCH], *meta_ids[EWS_MAX_BATCH];
        int nfull = 0, nmeta = 0;
        for (int i = 0; i < p.n; i++) {
            if (p.c[i].type == CH_CREATE || p.c[i].type == CH_UPDATE)
                full_ids[nfull++] = p.c[i].id;
            else if (p.c[i].type == CH_READ && kind == OUTPOST_ITEM_MAIL)
                meta_ids[nmeta++] = p.c[i].id;
        }
        struct batch *full = calloc(1, sizeof *full), *meta = calloc(1, sizeof *meta);
        if (!full || !meta)
            st = ews_status(e, OUTPOST_FATAL, "out of memory");
        if (st.code == OUTPOST_OK && nfull)
            st = get_batch(e, full_ids, nfull, kind, want, full);
        if (st.code == OUTPOST_OK && nmeta)
            st = get_batch(e, meta_ids, nmeta, kind, 0, meta);
        /* a failed item other than "gone meanwhile" fails the page */
        for (int i = 0; st.code == OUTPOST_OK && full && i < full->n; i++)
            if (full->m[i].error && ews_code_class(full->m[i].code) != OUTPOST_GONE)
                st = ews_msg_status(e, &full->m[i], "GetItem");
        for (int i = 0; st.code == OUTPOST_OK && meta && i < meta->n; i++)
            if (meta->m[i].error && ews_code_class(meta->m[i].code) != OUTPOST_GONE)
                st = ews_msg_status(e, &meta->m[i], "GetItem");
        struct ews_reader *r2 = NULL;
        int mime_stream = st.code == OUTPOST_OK && kind == OUTPOST_ITEM_MAIL && want && nfull;
        if (mime_stream && !(r2 = ews_reader_open(full->f)))
            st = ews_status(e, OUTPOST_FATAL, "out of memory");
        int kf = 0, km = 0, cur2 = 0;
        for (int i = 0; st.code == OUTPOST_OK && i < p.n; i++) {
            struct change *c = &p.c[i];
            if (c->type == CH_DELETE) {
                outpost_item o = {0};
                o.struct_size = sizeof o;
                o.kind = kind;
                o.remote_id = c->id;
                st = sink->item(sink->ctx, OUTPOST_CHANGE_DELETE, &o);
            } else if (c->type == CH_READ) {
                if (kind != OUTPOST_ITEM_MAIL)
                    continue;
                int k = km++;
                if (!meta->have[k] || meta->m[k].error)
                    continue;
                st = emit_item(&em, OUTPOST_CHANGE_FLAGS, &meta->it[k], kind, NULL, 0);
            } else {
                int k = kf++;
                if (!full->have[k] || full->m[k].error)
                    continue; /* gone since the sync: its Delete comes with a later page */
                if (mime_stream && seek_item(r2, &cur2, k)) {
                    st = ews_status(e, OUTPOST_TEMP, "GetItem: the spooled reply could not be read again");
                    break;
                }
                st = emit_item(&em, c->type == CH_CREATE ? OUTPOST_CHANGE_ADD : OUTPOST_CHANGE_UPDATE, &full->it[k],
                               kind, r2, mime_stream);
            }
        }
        ews_reader_close(r2);
        if (full)
            batch_free(full);
        if (meta)
            batch_free(meta);
        free(full);
        free(meta);
        if (st.code == OUTPOST_OK)
            st = sink->commit(sink->ctx, p.state, strlen(p.state));
        done += (uint64_t)p.n;
        if (st.code == OUTPOST_OK && OUTPOST_HAS_FIELD(sink, struct outpost_sync_sink, progress) && sink->progress)
            sink->progress(sink->ctx, done, 0);
        free(cur);
        cur = p.state;
        p.state = NULL;
        int last = p.last;
        ipage_free(&p);
        if (st.code != OUTPOST_OK || last)
            break;
    }
    free(cur);
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
        st = get_batch(e, ids + off, cnt, kind, 1, b);
        struct ews_reader *r2 = NULL;
        if (st.code == OUTPOST_OK && kind == OUTPOST_ITEM_MAIL && !(r2 = ews_reader_open(b->f)))
            st = ews_status(e, OUTPOST_FATAL, "out of memory");
        int cur2 = 0;
        for (int k = 0; st.code == OUTPOST_OK && k < cnt; k++) {
            if (b->m[k].error || !b->have[k]) {
                outpost_status ist = ews_msg_status(e, &b->m[k], "GetItem");
                st = sink->item_failed(sink->ctx, off + (uint32_t)k, ist);
                continue;
            }
            if (r2 && seek_item(r2, &cur2, k)) {
                st = ews_status(e, OUTPOST_TEMP, "GetItem: the spooled reply could not be read again");
                break;
            }
            st = emit_item(&em, OUTPOST_CHANGE_UPDATE, &b->it[k], kind, r2, kind == OUTPOST_ITEM_MAIL);
        }
        ews_reader_close(r2);
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
    hfolders_free(hp.f, hp.n);
    free(hp.state);
    struct ipage ip;
    memset(&ip, 0, sizeof ip);
    rewind(f);
    parse_items_page(e, f, &ip, EWS_MAX_BATCH);
    ipage_free(&ip);
    struct ews_simple s;
    rewind(f);
    ews_parse_simple(e, f, &s, "fuzz");
    ews_simple_free(&s);
    /* as a GetItem reply of as many items as it holds */
    struct batch *b = calloc(1, sizeof *b);
    if (!b)
        return ews_status(e, OUTPOST_FATAL, "out of memory");
    outpost_status st = outpost_ok();
    for (uint32_t kind = OUTPOST_ITEM_MAIL; kind <= OUTPOST_ITEM_NOTE; kind++) {
        memset(b, 0, sizeof *b);
        rewind(f);
        b->f = f;
        st = parse_batch(e, b, EWS_MAX_BATCH);
        int n = b->n;
        if (st.code != OUTPOST_OK && n > 0) {
            /* parse again expecting exactly what is there, as a real batch would */
            for (int i = 0; i < n; i++)
                if (b->have[i])
                    ews_item_free(&b->it[i]);
            memset(b, 0, sizeof *b);
            rewind(f);
            b->f = f;
            st = parse_batch(e, b, n);
        }
        struct emit em = {e, sink};
        struct ews_reader *r2 = st.code == OUTPOST_OK && kind == OUTPOST_ITEM_MAIL ? ews_reader_open(f) : NULL;
        int cur2 = 0;
        for (int k = 0; st.code == OUTPOST_OK && k < b->n; k++) {
            if (!b->have[k] || b->m[k].error)
                continue;
            if (r2 && seek_item(r2, &cur2, k))
                break;
            st = emit_item(&em, OUTPOST_CHANGE_ADD, &b->it[k], kind, r2, r2 != NULL);
        }
        ews_reader_close(r2);
        for (int i = 0; i < b->n; i++)
            if (b->have[i])
                ews_item_free(&b->it[i]);
    }
    free(b);
    return st;
}
