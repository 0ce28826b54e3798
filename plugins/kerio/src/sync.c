/* sync.c — reading from Kerio: folder hierarchy, paged initial listing, incremental sync with
 * Changes.getFolder, and on-demand fetch. Every reply is validated in full before the first
 * sink call that uses it; each page ends with sink->commit(state) where the state says the
 * phase and position ("L1 key pos" while listing, "S1 key" afterwards), so a crash resumes at
 * the last committed page. The sync key is taken before the listing starts, so changes made
 * during the listing come through Changes.getFolder afterwards. */
#include "kerio.h"
#include "ktime.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONTENT_CHUNK 65536
/* Items re-read before a listing page's position to detect deletions before it. */
#define LISTING_OVERLAP 16
/* Bytes of reply allowed per change entry before a change list counts as over change_cap. */
#define CHANGE_BYTES 2048

/* ---- folders ---- */

static uint32_t special_use_of(const char *sub)
{
    if (strcmp(sub, "FSubInbox") == 0) return OUTPOST_USE_INBOX;
    if (strcmp(sub, "FSubDrafts") == 0) return OUTPOST_USE_DRAFTS;
    if (strcmp(sub, "FSubSentItems") == 0) return OUTPOST_USE_SENT;
    if (strcmp(sub, "FSubDeletedItems") == 0) return OUTPOST_USE_TRASH;
    if (strcmp(sub, "FSubJunkEmail") == 0) return OUTPOST_USE_JUNK;
    return OUTPOST_USE_NONE;
}

int kerio_folder_is_own(const json_t *f)
{
    const char *place = kj_str(f, "placeType");
    return !*place || strcmp(place, "FPlaceMailbox") == 0;
}

/* ---- other places: public folders and the subscribed folders of other users ---- */

/* Folders of other places hang under folders of our own that exist on no server: "Public
 * Folders" and "Other Users/<owner>". Their ids start with this prefix, which no Kerio id
 * (keriostorage://...) has; a server folder whose id did would be left out, so they can never
 * name a folder of the server, and the server's ids never collide with each other. */
#define PLACE_PREFIX "outpost-kerio:"
#define PUBLIC_ID PLACE_PREFIX "public"
#define PEOPLE_ID PLACE_PREFIX "people"

int kerio_folder_is_placeholder(const char *id)
{
    return id && strncmp(id, PLACE_PREFIX, strlen(PLACE_PREFIX)) == 0;
}

static int list_has(const json_t *list, const char *id)
{
    size_t i;
    const json_t *f;
    json_array_foreach(list, i, f) if (strcmp(kj_str(f, "id"), id) == 0) return 1;
    return 0;
}

/* A placeholder: a mail folder nothing can be read from or written to ("listing only"). */
static void add_placeholder(json_t *all, const char *id, const char *parent, const char *name, const char *place)
{
    if (!list_has(all, id))
        json_array_append_new(all, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", id, "parentId", parent,
                                             "name", name, "type", "FMail", "subType", "FSubNone", "placeType",
                                             place, "access", "FAccessListingOnly"));
}

/* Appends the folders of one other place to `all`: a folder whose parent is a root, or not
 * among the place's folders, goes under `top` (created when the place has a folder to show). */
static void add_place(json_t *all, const json_t *list, const char *top, const char *top_parent, const char *top_name,
                      const char *place)
{
    size_t i;
    const json_t *f;
    json_array_foreach(list, i, f) {
        const char *id = kj_str(f, "id"), *parent = kj_str(f, "parentId");
        if (strcmp(kj_str(f, "type"), "FRoot") == 0 || kerio_folder_is_placeholder(id) || list_has(all, id))
            continue;
        int parent_here = 0;
        size_t j;
        const json_t *p;
        json_array_foreach(list, j, p) if (strcmp(kj_str(p, "id"), parent) == 0 &&
                                           strcmp(kj_str(p, "type"), "FRoot") != 0) parent_here = 1;
        if (strcmp(top_parent, "") != 0)
            add_placeholder(all, PEOPLE_ID, "", "Other Users", place);
        add_placeholder(all, top, top_parent, top_name, place);
        json_t *c = json_copy((json_t *)f);
        if (!c)
            continue;
        if (!parent_here)
            json_object_set_new(c, "parentId", json_string(top));
        if (!*kj_str(c, "placeType")) /* the place it was listed in */
            json_object_set_new(c, "placeType", json_string(place));
        json_array_append_new(all, c);
    }
}

/* Calls a Folders method of another place; a server without it (-32601) has no such place:
 * *result stays NULL and the call is OK. */
static outpost_status place_call(struct outpost_transport *t, const char *method, json_t *params, json_t **result)
{
    outpost_status st = kerio_call(t, method, params, KERIO_CTX_CALL, 0, NULL, result);
    if (st.code == OUTPOST_BAD_DATA && strstr(st.message, "(code -32601)")) {
        t->host->log(t->host, OUTPOST_LOG_INFO, "kerio: the server has no %s; its folders are not synced", method);
        *result = NULL;
        return outpost_ok();
    }
    return st;
}

/* Validates a {list: Folder[]} reply (or a SharedMailbox's folders, wrapped so). */
static outpost_status check_folder_list(struct outpost_transport *t, const char *method, const json_t *result,
                                        const json_t **list)
{
    char why[160];
    if (kerio_validate_folders(result, list, why, sizeof why) != 0)
        return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: %s: %s", method, why);
    return outpost_ok();
}

/* Public folders (Folders.getPublic) under "Public Folders". */
static outpost_status add_public(struct outpost_transport *t, json_t *all)
{
    json_t *res = NULL;
    const json_t *list;
    outpost_status st = place_call(t, "Folders.getPublic", NULL, &res);
    if (st.code != OUTPOST_OK || !res)
        return st;
    st = check_folder_list(t, "Folders.getPublic", res, &list);
    if (st.code == OUTPOST_OK)
        add_place(all, list, PUBLIC_ID, "", "Public Folders", "FPlacePublic");
    json_decref(res);
    return st;
}

/* The folders of other users (and resources) this user subscribed to (Folders.getSubscribed:
 * SharedMailbox[] with the mailbox's folders), each mailbox under "Other Users/<owner>". A
 * mailbox whose folders are not loaded here (isLoaded false: another server of a cluster) is
 * read with Folders.getShared(mailboxId), keeping the subscribed ones. */
static outpost_status add_subscribed(struct outpost_transport *t, json_t *all)
{
    json_t *res = NULL;
    outpost_status st = place_call(t, "Folders.getSubscribed", NULL, &res);
    if (st.code != OUTPOST_OK || !res)
        return st;
    const json_t *boxes = json_is_object(res) ? json_object_get(res, "list") : NULL;
    if (!json_is_array(boxes) && !json_is_null(boxes)) {
        json_decref(res);
        return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: Folders.getSubscribed: result without a list");
    }
    size_t i;
    const json_t *mb;
    json_array_foreach(boxes, i, mb) {
        if (!json_is_object(mb)) {
            st = kerio_fail(t, OUTPOST_BAD_DATA, "kerio: Folders.getSubscribed: mailbox is not an object");
            break;
        }
        const char *mbid = kj_str(mb, "mailboxId");
        json_t *wrap = json_pack("{s:O}", "list", json_object_get(mb, "folders") ? json_object_get(mb, "folders")
                                                                                  : json_null());
        json_t *shared = NULL;
        if (wrap && json_is_null(json_object_get(wrap, "list")))
            json_object_set_new(wrap, "list", json_array());
        if (json_is_false(json_object_get(mb, "isLoaded")) && *mbid && json_array_size(json_object_get(wrap, "list")) == 0) {
            st = place_call(t, "Folders.getShared", json_pack("{s:s}", "mailboxId", mbid), &shared);
            if (st.code != OUTPOST_OK) {
                json_decref(wrap);
                break;
            }
            const json_t *subs = json_object_get(mb, "subscribedFolderIds"), *sl = json_object_get(shared, "list");
            if (json_is_array(sl)) {
                json_t *keep = json_array();
                size_t j, k;
                const json_t *f, *sid;
                json_array_foreach(sl, j, f) {
                    int sub = !json_array_size(subs);
                    json_array_foreach(subs, k, sid) if (json_is_string(sid) &&
                                                         strcmp(json_string_value(sid), kj_str(f, "id")) == 0) sub = 1;
                    if (sub || strcmp(kj_str(f, "type"), "FRoot") == 0)
                        json_array_append(keep, (json_t *)f);
                }
                json_object_set_new(wrap, "list", keep);
            }
        }
        const json_t *list;
        st = wrap ? check_folder_list(t, "Folders.getSubscribed", wrap, &list)
                  : kerio_fail(t, OUTPOST_FATAL, "kerio: out of memory");
        if (st.code == OUTPOST_OK) {
            /* the owner: the folders' ownerName, else the principal's name, else an address */
            const char *owner = "";
            size_t j;
            const json_t *f;
            json_array_foreach(list, j, f) if (!*owner) owner = kj_str(f, "ownerName");
            const json_t *pr = json_object_get(mb, "principal");
            if (!*owner) owner = kj_str(pr, "displayName");
            if (!*owner) owner = kj_str(pr, "name");
            json_array_foreach(list, j, f) if (!*owner) owner = kj_str(f, "emailAddress");
            if (!*owner) owner = kj_str(pr, "mailAddress");
            if (!*owner) owner = *mbid ? mbid : "?";
            char top[1024];
            /* one parent per mailbox: its root's id when given, else the owner's name */
            snprintf(top, sizeof top, PEOPLE_ID "/%s", *mbid ? mbid : owner);
            add_place(all, list, top, PEOPLE_ID, owner, "FPlacePeople");
        }
        json_decref(shared);
        json_decref(wrap);
        if (st.code != OUTPOST_OK)
            break;
    }
    json_decref(res);
    return st;
}

/* Every folder the account shows, as one list (new reference in *all): the own mailbox
 * (Folders.get, leaving out what it lists of other places), then the public folders and the
 * subscribed folders of other users under their placeholders (see above). */
static outpost_status get_folders(struct outpost_transport *t, json_t **all)
{
    json_t *res;
    const json_t *list;
    *all = NULL;
    outpost_status st = kerio_call(t, "Folders.get", NULL, KERIO_CTX_CALL, 0, NULL, &res);
    if (st.code != OUTPOST_OK)
        return st;
    if ((st = check_folder_list(t, "Folders.get", res, &list)).code != OUTPOST_OK) {
        json_decref(res);
        return st;
    }
    json_t *a = json_array();
    size_t i;
    const json_t *f;
    json_array_foreach(list, i, f) if (a && kerio_folder_is_own(f) && !kerio_folder_is_placeholder(kj_str(f, "id")))
        json_array_append(a, (json_t *)f);
    json_decref(res);
    if (!a)
        return kerio_fail(t, OUTPOST_FATAL, "kerio: out of memory");
    st = add_public(t, a);
    if (st.code == OUTPOST_OK)
        st = add_subscribed(t, a);
    if (st.code != OUTPOST_OK) {
        json_decref(a);
        return st;
    }
    *all = a;
    return outpost_ok();
}

const char *kerio_folder_denies(const struct outpost_transport *t, const char *fid, int need)
{
    const char *a = fid ? kj_str(t->folder_access, fid) : "";
    if (strcmp(a, "FAccessReadOnly") == 0 || strcmp(a, "FAccessListingOnly") == 0 ||
        (need != 1 && strcmp(a, "FAccessReadWrite") == 0))
        return a; /* nothing is sent */
    /* FAccessAdmin, no access member, or a value the IDL does not name: the server decides */
    return NULL;
}

/* What the instance keeps of a Folders.get listing: the own mailbox's root and Deleted Items
 * folder, and every folder's access. */
static void learn_folders(struct outpost_transport *t, const json_t *list)
{
    size_t i;
    const json_t *f;
    free(t->trash_id);
    free(t->root_id);
    t->trash_id = t->root_id = NULL;
    json_decref(t->folder_access);
    t->folder_access = json_object();
    json_array_foreach(list, i, f) {
        const char *id = kj_str(f, "id"), *access = kj_str(f, "access");
        if (*access && t->folder_access)
            json_object_set_new(t->folder_access, id, json_string(access));
        if (!kerio_folder_is_own(f))
            continue;
        if (!t->root_id && strcmp(kj_str(f, "type"), "FRoot") == 0)
            t->root_id = strdup(id);
        if (!t->trash_id && strcmp(kj_str(f, "subType"), "FSubDeletedItems") == 0 &&
            strcmp(kj_str(f, "type"), "FMail") == 0)
            t->trash_id = strdup(id);
    }
}

outpost_status kerio_load_folders(struct outpost_transport *t)
{
    json_t *list;
    outpost_status st = get_folders(t, &list);
    if (st.code != OUTPOST_OK)
        return st;
    learn_folders(t, list);
    json_decref(list);
    return outpost_ok();
}

/* Hierarchy state: "H1\n" then one "<hash16> <id>\n" per folder reported, sorted as the
 * server listed them. The hash covers parent, name, type and subType. */
static uint64_t folder_hash(const json_t *f)
{
    char buf[2048];
    /* a listing-only folder (no items to read) is reported apart; other access values change
     * nothing reported, so they are left out (states written before keep their hashes) */
    snprintf(buf, sizeof buf, "%s\x1f%s\x1f%s\x1f%s%s", kj_str(f, "parentId"), kj_str(f, "name"), kj_str(f, "type"),
             kj_str(f, "subType"), strcmp(kj_str(f, "access"), "FAccessListingOnly") == 0 ? "\x1fL" : "");
    return kerio_hash64(buf);
}

static int state_lookup(const char *state, size_t len, const char *id, uint64_t *hash)
{
    size_t idlen = strlen(id);
    const char *p = state, *end = state + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            nl = end;
        if ((size_t)(nl - p) == 17 + idlen && p[16] == ' ' && memcmp(p + 17, id, idlen) == 0) {
            char hex[17];
            memcpy(hex, p, 16);
            hex[16] = '\0';
            *hash = strtoull(hex, NULL, 16);
            return 1;
        }
        p = nl + 1;
    }
    return 0;
}

outpost_status kerio_sync_hierarchy(struct outpost_transport *t, const void *state, size_t len,
                                    const struct outpost_sync_sink *sink)
{
    json_t *res;
    outpost_status st = get_folders(t, &res);
    if (st.code != OUTPOST_OK)
        return st;
    const json_t *list = res;
    const char *old = state && len > 3 && memcmp(state, "H1\n", 3) == 0 ? (const char *)state : NULL;
    size_t oldlen = old ? len : 0;
    struct kbuf nstate = { 0 };
    kbuf_puts(&nstate, "H1\n");
    learn_folders(t, list);
    const json_t *f;
    /* Parents before children: report by depth (the parent chain within this listing). */
    size_t nf = json_array_size(list);
    size_t *order = calloc(nf ? nf : 1, sizeof *order);
    int *depth = calloc(nf ? nf : 1, sizeof *depth);
    if (!order || !depth) {
        free(order);
        free(depth);
        kbuf_free(&nstate);
        json_decref(res);
        return kerio_fail(t, OUTPOST_FATAL, "kerio: out of memory");
    }
    for (size_t a = 0; a < nf; a++) {
        const char *p = kj_str(json_array_get(list, a), "parentId");
        for (size_t hops = 0; *p && hops < nf; hops++) {
            const char *next = NULL;
            for (size_t b = 0; b < nf && !next; b++)
                if (strcmp(kj_str(json_array_get(list, b), "id"), p) == 0)
                    next = kj_str(json_array_get(list, b), "parentId");
            if (!next)
                break;
            depth[a]++;
            p = next;
        }
        size_t at = a;
        while (at > 0 && depth[order[at - 1]] > depth[a]) {
            order[at] = order[at - 1];
            at--;
        }
        order[at] = a;
    }
    for (size_t oi = 0; oi < nf; oi++) {
        f = json_array_get(list, order[oi]);
        const struct kerio_kind *k = kerio_kind_by_folder_type(kj_str(f, "type"));
        if (!k)
            continue; /* roots, types we do not sync */
        const char *id = kj_str(f, "id"), *parent = kj_str(f, "parentId");
        uint64_t h = folder_hash(f), oh = 0;
        int known = old && state_lookup(old + 3, oldlen - 3, id, &oh);
        kbuf_printf(&nstate, "%016llx %s\n", (unsigned long long)h, id);
        if (known && oh == h)
            continue;
        outpost_folder of;
        memset(&of, 0, sizeof of);
        of.struct_size = sizeof of;
        of.kind = k->kind;
        of.remote_id = id;
        /* a parent that is a root (the mailbox's, or any other the listing holds) is the top */
        int under_root = 0;
        for (size_t b = 0; *parent && b < nf && !under_root; b++) {
            const json_t *pf = json_array_get(list, b);
            under_root = strcmp(kj_str(pf, "id"), parent) == 0 && strcmp(kj_str(pf, "type"), "FRoot") == 0;
        }
        of.parent_remote_id = *parent && !under_root && !(t->root_id && strcmp(parent, t->root_id) == 0) ? parent : NULL;
        of.name = kj_str(f, "name");
        /* another user's Inbox is not ours: special use only in the own mailbox */
        of.special_use = kerio_folder_is_own(f) ? special_use_of(kj_str(f, "subType")) : OUTPOST_USE_NONE;
        of.flags = OUTPOST_FOLDER_SUBSCRIBED;
        /* "listing only": the folder is seen, its items cannot be read */
        if (strcmp(kj_str(f, "access"), "FAccessListingOnly") == 0)
            of.flags |= OUTPOST_FOLDER_NOSELECT;
        st = sink->folder(sink->ctx, known ? OUTPOST_CHANGE_UPDATE : OUTPOST_CHANGE_ADD, &of);
        if (st.code != OUTPOST_OK)
            goto out;
    }
    /* Folders in the old state that the server no longer lists (or no longer subscribed, of
     * other places), children before their parents: the state lists parents first, so it is
     * walked from its end. */
    if (old) {
        const char *begin = old + 3, *end = old + oldlen;
        while (end > begin) {
            const char *lend = end;
            if (lend[-1] == '\n')
                lend--;
            const char *p = lend;
            while (p > begin && p[-1] != '\n')
                p--;
            end = p;
            if (lend - p > 17) {
                char *id = strndup(p + 17, (size_t)(lend - p - 17));
                uint64_t dummy;
                if (id && !state_lookup(nstate.data + 3, nstate.len - 3, id, &dummy)) {
                    outpost_folder of;
                    memset(&of, 0, sizeof of);
                    of.struct_size = sizeof of;
                    of.remote_id = id;
                    of.name = "";
                    st = sink->folder(sink->ctx, OUTPOST_CHANGE_DELETE, &of);
                }
                free(id);
                if (st.code != OUTPOST_OK)
                    goto out;
            }
        }
    }
    st = sink->commit(sink->ctx, nstate.data, nstate.len);
out:
    free(order);
    free(depth);
    kbuf_free(&nstate);
    json_decref(res);
    return st;
}

/* ---- items ---- */

static int64_t epoch_ms_of(const char *s)
{
    struct ktime kt;
    return *s && ktime_parse(s, &kt) == 0 ? ktime_epoch(&kt) * 1000 : 0;
}

static uint32_t mail_flags(const json_t *m)
{
    uint32_t f = 0;
    if (kj_bool(m, "isSeen")) f |= OUTPOST_FLAG_SEEN;
    if (kj_bool(m, "isAnswered")) f |= OUTPOST_FLAG_ANSWERED;
    if (kj_bool(m, "isFlagged")) f |= OUTPOST_FLAG_FLAGGED;
    if (kj_bool(m, "isForwarded")) f |= OUTPOST_FLAG_FORWARDED;
    if (kj_bool(m, "isJunk")) f |= OUTPOST_FLAG_JUNK;
    if (kj_bool(m, "isDraft")) f |= OUTPOST_FLAG_DRAFT;
    return f;
}

static void format_addr_list(struct kbuf *b, const json_t *v)
{
    size_t i;
    const json_t *e;
    if (json_is_object(v)) {
        const char *n = kj_str(v, "name"), *a = kj_str(v, "address");
        if (b->len)
            kbuf_puts(b, ", ");
        kbuf_puts(b, n);
        if (*n)
            kbuf_puts(b, " <");
        kbuf_puts(b, a);
        if (*n)
            kbuf_puts(b, ">");
        return;
    }
    json_array_foreach(v, i, e) format_addr_list(b, e);
}

/* Everything an outpost_item points into, kept alive while the sink sees it. */
struct item_strings {
    char version[24];
    struct kbuf from, to, cc;
    char *message_id;
    char *uid;
    char *summary;
};

static void item_strings_free(struct item_strings *s)
{
    kbuf_free(&s->from);
    kbuf_free(&s->to);
    kbuf_free(&s->cc);
    free(s->message_id);
    free(s->uid);
    free(s->summary);
    memset(s, 0, sizeof *s);
}

static void fill_item(uint32_t kind, const json_t *o, outpost_item *it, struct item_strings *s)
{
    memset(it, 0, sizeof *it);
    memset(s, 0, sizeof *s);
    it->struct_size = sizeof *it;
    it->kind = kind;
    it->remote_id = kj_str(o, "id");
    int64_t wm;
    if (kj_int(json_object_get(o, "watermark"), &wm)) {
        snprintf(s->version, sizeof s->version, "%lld", (long long)wm);
        it->remote_version = s->version;
    }
    switch (kind) {
    case OUTPOST_ITEM_MAIL: {
        it->flags = mail_flags(o);
        it->internal_date = epoch_ms_of(kj_str(o, "receiveDate"));
        it->date = epoch_ms_of(kj_str(o, "sendDate"));
        if (!it->date)
            it->date = it->internal_date;
        it->subject = kj_str(o, "subject");
        format_addr_list(&s->from, json_object_get(o, "from"));
        format_addr_list(&s->to, json_object_get(o, "to"));
        format_addr_list(&s->cc, json_object_get(o, "cc"));
        it->from = s->from.data;
        it->to = s->to.data;
        it->cc = s->cc.data;
        size_t i;
        const json_t *h;
        json_array_foreach(json_object_get(o, "headers"), i, h) if (strcmp(kj_str(h, "type"), "mhMessageID") == 0 && !s->message_id)
            s->message_id = strdup(kj_str(h, "value"));
        it->message_id = s->message_id;
        break;
    }
    case OUTPOST_ITEM_EVENT:
    case OUTPOST_ITEM_TASK:
        it->subject = kj_str(o, "summary");
        it->date = epoch_ms_of(kj_str(o, kind == OUTPOST_ITEM_TASK && !*kj_str(o, "start") ? "due" : "start"));
        break;
    case OUTPOST_ITEM_CONTACT:
        it->subject = kj_str(o, "commonName");
        break;
    case OUTPOST_ITEM_NOTE: {
        const char *text = kj_str(o, "text");
        s->summary = strndup(text, strcspn(text, "\r\n"));
        it->subject = s->summary;
        it->date = epoch_ms_of(kj_str(o, "modifyDate"));
        it->internal_date = epoch_ms_of(kj_str(o, "createDate"));
        break;
    }
    default:
        break;
    }
    if (kind != OUTPOST_ITEM_MAIL) {
        s->uid = kerio_object_uid(o);
        it->object_uid = s->uid;
    }
}

/* Converts one item other than mail (mail: offline_run, its attachments downloaded first). */
static outpost_status convert(struct outpost_transport *t, uint32_t kind, const json_t *o, const json_t *exceptions,
                              const json_t *exdates, struct kbuf *out)
{
    char err[256] = "";
    int rc;
    switch (kind) {
    case OUTPOST_ITEM_EVENT: rc = kerio_series_to_ical(o, exceptions, exdates, out, err, sizeof err); break;
    case OUTPOST_ITEM_TASK: rc = kerio_task_to_ical(o, out, err, sizeof err); break;
    case OUTPOST_ITEM_NOTE: rc = kerio_note_to_ical(o, out, err, sizeof err); break;
    case OUTPOST_ITEM_CONTACT: rc = kerio_contact_to_vcard(o, out, err, sizeof err); break;
    default: rc = -1; snprintf(err, sizeof err, "unknown kind");
    }
    if (rc == 0)
        return outpost_ok();
    return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: cannot convert %s: %s", kj_str(o, "id"), err);
}

static outpost_status emit_content(const struct outpost_sync_sink *sink, const struct kbuf *c)
{
    for (size_t off = 0; off < c->len; off += CONTENT_CHUNK) {
        size_t n = c->len - off < CONTENT_CHUNK ? c->len - off : CONTENT_CHUNK;
        outpost_status st = sink->content(sink->ctx, c->data + off, n);
        if (st.code != OUTPOST_OK)
            return st;
    }
    return sink->content_end(sink->ctx);
}

/* Hands one item (and its content when converted) to the sink. */
static outpost_status emit_item(const struct outpost_sync_sink *sink, uint32_t change, uint32_t kind, const json_t *o,
                                const struct kbuf *content, int want_content)
{
    outpost_item it;
    struct item_strings s;
    fill_item(kind, o, &it, &s);
    if (content && content->data) {
        it.size = content->len;
        it.cached_size = want_content ? content->len : 0;
        it.content_state = want_content ? OUTPOST_CONTENT_COMPLETE : OUTPOST_CONTENT_NONE;
    }
    outpost_status st = sink->item(sink->ctx, change, &it);
    if (st.code == OUTPOST_OK && want_content && content && content->data)
        st = emit_content(sink, content);
    item_strings_free(&s);
    return st;
}

/* ---- reading items from the server ---- */

json_t *kerio_query(int64_t start, int64_t limit, const char *const *fields)
{
    /* every member of the IDL's SearchQuery, none left to a server's defaults */
    json_t *q = json_object();
    json_t *f = json_array();
    for (; fields && *fields; fields++)
        json_array_append_new(f, json_string(*fields));
    json_object_set_new(q, "fields", f);
    json_object_set_new(q, "conditions", json_array());
    json_object_set_new(q, "combining", json_string("And"));
    json_object_set_new(q, "start", json_integer(start));
    json_object_set_new(q, "limit", json_integer(limit));
    json_object_set_new(q, "orderBy", json_pack("[{s:s, s:s, s:b}]", "columnName", "id", "direction", "Asc", "caseSensitive", 0));
    return q;
}

static const char *const mail_list_fields[] = {
    "id", "folderId", "watermark", "from", "to", "cc", "subject", "receiveDate", "sendDate", "modifiedDate",
    "isSeen", "isAnswered", "isForwarded", "isFlagged", "isJunk", "isDraft", "hasAttachment", "priority", "size", NULL
};

/* A mail listing that Mails.getById follows asks for the id alone: getById gives every member
 * of the mails it reads, and the listing's were read, validated and freed for nothing (a
 * twentieth of the CPU of an initial sync, the simulator's included). */
static const char *const mail_id_field[] = { "id", NULL };

/* X.get on one folder: a page of items, validated; of mail their id alone with `ids_only`. */
static outpost_status list_page(struct outpost_transport *t, const struct kerio_kind *k, const char *fid, int64_t start,
                                uint32_t limit, int ids_only, json_t **res, const json_t **items, int64_t *total)
{
    char method[64];
    snprintf(method, sizeof method, "%s.get", k->iface);
    const char *const *fields = k->kind != OUTPOST_ITEM_MAIL ? NULL : ids_only ? mail_id_field : mail_list_fields;
    outpost_status st;
    if (k->kind != OUTPOST_ITEM_EVENT) {
        json_t *params = json_pack("{s:[s], s:o}", "folderIds", fid, "query", kerio_query(start, limit, fields));
        st = kerio_call(t, method, params, KERIO_CTX_CALL, 0, NULL, res);
    } else {
        /* Events.get's IDL names its folder list "ids" where the other X.get say "folderIds":
         * both are sent, so a server reading either one lists the folder (one reading only
         * "folderIds" would otherwise answer an empty calendar). A server that refuses the
         * member it does not know (-32602) is asked with one name, then with the other; the
         * form that worked is kept for the instance's next pages. */
        for (int form = t->events_param;; form++) {
            json_t *params = json_pack("{s:o}", "query", kerio_query(start, limit, NULL));
            if (form != 2)
                json_object_set_new(params, "ids", json_pack("[s]", fid));
            if (form != 1)
                json_object_set_new(params, "folderIds", json_pack("[s]", fid));
            st = kerio_call(t, method, params, KERIO_CTX_CALL, 0, NULL, res);
            if (st.code == OUTPOST_OK)
                t->events_param = form; /* only a form that worked is kept */
            if (st.code != OUTPOST_BAD_DATA || !strstr(st.message, "-32602") || form == 2)
                break;
        }
    }
    if (st.code != OUTPOST_OK)
        return st;
    char why[200];
    if (kerio_validate_list(k->kind, *res, "list", k->kind != OUTPOST_ITEM_MAIL, items, why, sizeof why) != 0) {
        json_decref(*res);
        *res = NULL;
        return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: %s: %s", method, why);
    }
    *total = kj_int_or(*res, "totalItems", -1);
    return outpost_ok();
}

/* Attachment URLs given absolute on the configured server (scheme, host and port as in
 * [account] url) become paths from its root, the form the IDL shows; validation then refuses
 * any other absolute URL, so the session never goes to another host. */
static void relative_urls(const struct outpost_transport *t, json_t *mails)
{
    size_t blen = strlen(t->base), i, j;
    json_t *m, *a;
    json_array_foreach(mails, i, m) {
        json_array_foreach(json_object_get(m, "attachments"), j, a) {
            const char *u = kj_str(a, "url");
            if (strncasecmp(u, t->base, blen) == 0 && u[blen] == '/')
                json_object_set_new(a, "url", json_string(u + blen));
        }
    }
}

/* Full objects by id. Returns an array aligned with `ids`: the object, or JSON null when the
 * server reported it missing. Mails, contacts, tasks and notes are batched; Events.getById
 * takes one id (IDL). */
outpost_status kerio_get_by_ids(struct outpost_transport *t, const struct kerio_kind *k, json_t *ids, json_t **aligned)
{
    char method[64];
    char why[200];
    snprintf(method, sizeof method, "%s.getById", k->iface);
    json_t *out = json_array();
    json_t *res = NULL;
    outpost_status st;
    if (k->kind == OUTPOST_ITEM_EVENT) {
        size_t i;
        json_t *id;
        json_array_foreach(ids, i, id) {
            st = kerio_call(t, method, json_pack("{s:O}", "id", id), KERIO_CTX_CALL, 0, NULL, &res);
            if (st.code == OUTPOST_GONE) {
                json_array_append_new(out, json_null());
                continue;
            }
            if (st.code != OUTPOST_OK)
                goto fail;
            const json_t *ev = json_object_get(res, "result");
            if (!ev)
                ev = res;
            if (kerio_validate_item(k->kind, ev, why, sizeof why) != 0) {
                json_decref(res);
                st = kerio_fail(t, OUTPOST_BAD_DATA, "kerio: %s: %s", method, why);
                goto fail;
            }
            json_array_append(out, (json_t *)ev);
            json_decref(res);
        }
        *aligned = out;
        return outpost_ok();
    }
    st = kerio_call(t, method, json_pack("{s:O}", "ids", ids), KERIO_CTX_CALL, 0, NULL, &res);
    if (st.code != OUTPOST_OK)
        goto fail;
    if (k->kind == OUTPOST_ITEM_MAIL)
        relative_urls(t, json_object_get(res, "result"));
    const json_t *list;
    if (kerio_validate_list(k->kind, res, "result", 1, &list, why, sizeof why) != 0) {
        json_decref(res);
        st = kerio_fail(t, OUTPOST_BAD_DATA, "kerio: %s: %s", method, why);
        goto fail;
    }
    size_t i, j;
    json_t *id;
    const json_t *o;
    json_array_foreach(ids, i, id) {
        /* A per-item error for this input (inputIndex): gone, or not readable now. */
        const json_t *ie = kerio_batch_error(res, i);
        if (ie) {
            int64_t code = kj_int_or(ie, "code", KERIO_E_OPERATION_FAILED);
            int gone = kerio_error_class(code, KERIO_CTX_CALL) == OUTPOST_GONE;
            t->host->log(t->host, OUTPOST_LOG_INFO, "kerio: %s: %s %s: %.160s (code %lld)", method, json_string_value(id),
                         gone ? "no longer exists" : "not readable now", kj_str(ie, "message"), (long long)code);
            json_array_append_new(out, gone ? json_null() : json_false());
            continue;
        }
        /* The server answers in the order asked (tried first), minus missing ids. */
        json_t *found = NULL;
        o = json_array_get(list, i);
        if (o && strcmp(kj_str(o, "id"), json_string_value(id)) == 0)
            found = (json_t *)o;
        else
            json_array_foreach(list, j, o) if (strcmp(kj_str(o, "id"), json_string_value(id)) == 0) {
                found = (json_t *)o;
                break;
            }
        json_array_append(out, found ? found : json_null());
    }
    json_decref(res);
    *aligned = out;
    return outpost_ok();
fail:
    json_decref(out);
    return st;
}

/* A mail's attachments, downloaded before it is converted, in the order of its list. */
struct downloads {
    struct kbuf *b;
    size_t n, next;
};

/* A validated page of full objects, converted, ready to hand over. */
struct page {
    json_t *objs;              /* array: object, null (missing) or false (not readable now) */
    struct kbuf *content;      /* one per object */
    unsigned char *meta_only;  /* one per object: the listing's metadata, its content not readable now */
    unsigned char *offline;    /* one per object: converts_offline, decided before any conversion */
    struct downloads *att;     /* one per object: its attachments (offline mail) */
    size_t n;
};

static void downloads_free(struct downloads *d)
{
    for (size_t j = 0; j < d->n; j++)
        kbuf_free(&d->b[j]);
    free(d->b);
    memset(d, 0, sizeof *d);
}

static void page_free(struct page *p)
{
    for (size_t i = 0; i < p->n; i++) {
        kbuf_free(&p->content[i]);
        if (p->att)
            downloads_free(&p->att[i]);
    }
    free(p->content);
    free(p->meta_only);
    free(p->offline);
    free(p->att);
    json_decref(p->objs);
    memset(p, 0, sizeof *p);
}

/* Items that are converted without the instance: mail (when content is wanted), its
 * attachments downloaded beforehand (download_attachments). Everything else (an event's
 * occurrences) is read through the instance's connection while converting. */
static int converts_offline(const struct kerio_kind *k, const json_t *o, int want_content)
{
    return k->kind == OUTPOST_ITEM_MAIL && want_content && json_is_object(o);
}

/* kerio_fetch_fn over a mail's downloads: hands over the next one. */
static int take_download(void *ctx, const char *url, struct kbuf *out, char *err, size_t errlen)
{
    (void)url;
    struct downloads *d = ctx;
    if (d->next >= d->n) {
        snprintf(err, errlen, "attachment %zu was not downloaded", d->next);
        return -1;
    }
    kbuf_free(out);
    *out = d->b[d->next];
    memset(&d->b[d->next], 0, sizeof d->b[d->next]);
    d->next++;
    return 0;
}

/* Downloads the attachments of the offline mail of `p`, through the instance (calling
 * thread), before any of it is converted. A network failure fails the page (TEMP: the same
 * page next time). An attachment the server says is not there or refuses for good (GONE,
 * BAD_DATA from kerio_download) would fail it on every sync: that mail becomes "not readable
 * now" instead (meta_only, as for a per-item getById error), with a warning naming it. */
static outpost_status download_attachments(struct outpost_transport *t, struct page *p)
{
    for (size_t i = 0; i < p->n; i++) {
        if (!p->offline[i])
            continue;
        const json_t *o = json_array_get(p->objs, i);
        const json_t *atts = json_object_get(o, "attachments");
        size_t na = json_array_size(atts);
        if (!na)
            continue;
        struct downloads *d = &p->att[i];
        if (!(d->b = calloc(na, sizeof *d->b)))
            return kerio_fail(t, OUTPOST_FATAL, "kerio: out of memory");
        d->n = na;
        for (size_t j = 0; j < na; j++) {
            const json_t *a = json_array_get(atts, j);
            outpost_status st = kerio_download(t, kj_str(a, "url"), &d->b[j]);
            if (st.code == OUTPOST_OK)
                continue;
            char why[256];
            snprintf(why, sizeof why, "%s", st.message ? st.message : "");
            if (st.code != OUTPOST_GONE && st.code != OUTPOST_BAD_DATA) {
                outpost_status f = kerio_fail(t, st.code, "kerio: cannot convert %s: %s", kj_str(o, "id"), why);
                f.retry_after_ms = st.retry_after_ms;
                return f;
            }
            t->host->log(t->host, OUTPOST_LOG_WARNING,
                         "kerio: mail %s (\"%.80s\"): attachment %zu (\"%.80s\") %s: %s; the mail's content cannot be "
                         "read, it is kept without it", kj_str(o, "id"), kj_str(o, "subject"), j + 1, kj_str(a, "name"),
                         st.code == OUTPOST_GONE ? "is not on the server" : "is refused", why);
            downloads_free(d);
            p->offline[i] = 0;
            p->meta_only[i] = 1;
            break;
        }
    }
    return outpost_ok();
}

/* Converts the items of `p` that need the instance (all but the offline ones) and downloads
 * the attachments of the offline ones, on the calling thread, which must be the one using
 * the instance. Nothing of `p` may be converted offline before it returns. */
static outpost_status convert_online(struct outpost_transport *t, const struct kerio_kind *k, const char *fid,
                                     struct page *p)
{
    outpost_status dst = download_attachments(t, p);
    if (dst.code != OUTPOST_OK)
        return dst;
    for (size_t i = 0; i < p->n; i++) {
        if (p->offline[i])
            continue;
        const json_t *o = json_array_get(p->objs, i);
        if (!json_is_object(o) || k->kind == OUTPOST_ITEM_MAIL) /* mail: offline, or no content wanted */
            continue;
        json_t *exc = NULL, *exd = NULL;
        if (k->kind == OUTPOST_ITEM_EVENT) {
            /* recur.c: exceptions placed as RECURRENCE-ID overrides, deleted instances as EXDATE */
            outpost_status st = kerio_event_series(t, fid, o, &exc, &exd);
            if (st.code != OUTPOST_OK)
                return st;
        }
        outpost_status st = convert(t, k->kind, o, exc, exd, &p->content[i]);
        json_decref(exc);
        json_decref(exd);
        if (st.code != OUTPOST_OK)
            return st;
    }
    return outpost_ok();
}

/* The converts_offline items of a page, shared by the threads that run offline_run on it:
 * each takes the next unclaimed one (`next`), so they finish together whatever the sizes.
 * Nothing here touches the instance: the first failure is kept in `bad`/`err` and turned
 * into a status by the instance's thread once every item is finished (offline_wait, or the
 * workers joined). Each item (object and buffer) is only touched by the thread that claimed
 * it; after a failure the items still unclaimed are claimed and skipped. */
struct offline_job {
    struct page *p;
    size_t n;                /* p->n when the job was made: all a worker reads before claiming */
    atomic_size_t next;
    atomic_size_t finished;  /* claimed items done with (converted, failed or skipped) */
    atomic_int failed;
    size_t bad;              /* index of the failed object (written by the one that set failed) */
    char err[256];
    struct kerio_sync *sy;   /* broadcast when the last item is finished, or NULL */
    const atomic_int *halt;  /* once set, nothing more is claimed (NULL: never) */
};

/* `keep_text`: the converted object keeps its displayableParts until the page is freed, by
 * the thread that parsed it (the sync's thread, which would otherwise free them in the
 * fetching thread's malloc arena, under that arena's lock); other threads drop them at once. */
static void offline_work(struct offline_job *j, int keep_text)
{
    for (;;) {
        if (j->halt && atomic_load(j->halt))
            return;
        size_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n)
            return;
        if (j->p->offline[i] && !atomic_load(&j->failed)) {
            json_t *o = json_array_get(j->p->objs, i);
            char err[256] = "";
            struct downloads *d = &j->p->att[i];
            int rc = kerio_mail_to_mime(o, take_download, d, &j->p->content[i], err, sizeof err);
            downloads_free(d); /* taken by the message, or left over by a failure */
            if (rc != 0) {
                int expect = 0;
                if (atomic_compare_exchange_strong(&j->failed, &expect, 1)) {
                    j->bad = i;
                    snprintf(j->err, sizeof j->err, "%s", err);
                }
            } else if (!keep_text) {
                json_object_del(o, "displayableParts");
            }
        }
        if (atomic_fetch_add(&j->finished, 1) + 1 == j->n && j->sy) {
            kerio_sync_lock(j->sy);
            kerio_sync_broadcast(j->sy);
            kerio_sync_unlock(j->sy);
        }
    }
}

static void offline_run(void *arg)
{
    offline_work(arg, 0);
}

static void offline_job_init(struct offline_job *j, struct page *p, struct kerio_sync *sy)
{
    j->p = p;
    j->n = p->n;
    atomic_init(&j->next, 0);
    atomic_init(&j->finished, 0);
    atomic_init(&j->failed, 0);
    j->bad = 0;
    j->err[0] = '\0';
    j->sy = sy;
    j->halt = NULL;
}

/* Whether `j` has items nobody claimed yet. */
static int offline_claimable(struct offline_job *j)
{
    return atomic_load(&j->next) < j->n && !atomic_load(&j->failed);
}

/* Waits (j->sy locked by the caller) until every item of `j` is finished; the caller has run
 * offline_run on it, so every item is claimed. */
static void offline_wait(struct offline_job *j)
{
    while (atomic_load(&j->finished) < j->n)
        kerio_sync_wait(j->sy);
}

/* Why a finished offline job failed, into buf. */
static void offline_message(const struct offline_job *j, char *buf, size_t n)
{
    snprintf(buf, n, "kerio: cannot convert %s: %s", kj_str(json_array_get(j->p->objs, j->bad), "id"), j->err);
}

/* The status of a finished offline job (instance's thread only, no other thread using it). */
static outpost_status offline_status(struct outpost_transport *t, struct offline_job *j)
{
    if (!atomic_load(&j->failed))
        return outpost_ok();
    char why[sizeof t->msg];
    offline_message(j, why, sizeof why);
    return kerio_fail(t, OUTPOST_BAD_DATA, "%s", why);
}

/* Takes `objs` (steals the reference) into a page with one empty buffer per object, and
 * decides which objects are offline. */
static outpost_status page_init(struct outpost_transport *t, const struct kerio_kind *k, json_t *objs, int want_content,
                                struct page *p)
{
    memset(p, 0, sizeof *p);
    p->objs = objs;
    p->n = json_array_size(objs);
    p->content = calloc(p->n ? p->n : 1, sizeof *p->content);
    p->offline = calloc(p->n ? p->n : 1, 1);
    p->meta_only = calloc(p->n ? p->n : 1, 1);
    p->att = calloc(p->n ? p->n : 1, sizeof *p->att);
    if (!p->content || !p->offline || !p->meta_only || !p->att) {
        page_free(p);
        return kerio_fail(t, OUTPOST_FATAL, "kerio: out of memory");
    }
    for (size_t i = 0; i < p->n; i++)
        p->offline[i] = (unsigned char)converts_offline(k, json_array_get(objs, i), want_content);
    return outpost_ok();
}

/* Converts every object of `objs` (steals the reference). Mail is converted only when content
 * is wanted (attachments are downloaded first, on this thread); its conversion, most of a
 * page's work after the JSON, is shared with a helper thread. */
static outpost_status page_convert(struct outpost_transport *t, const struct kerio_kind *k, const char *fid, json_t *objs,
                                   int want_content, struct page *p)
{
    outpost_status st = page_init(t, k, objs, want_content, p);
    if (st.code != OUTPOST_OK)
        return st;
    st = convert_online(t, k, fid, p);
    if (st.code == OUTPOST_OK) {
        struct offline_job job;
        offline_job_init(&job, p, NULL);
        struct kerio_thread *helper = k->kind == OUTPOST_ITEM_MAIL && want_content && p->n > 1
                                          ? kerio_thread_start(offline_run, &job, "kerio-convert") : NULL;
        offline_run(&job); /* this thread shares the work */
        kerio_thread_join(helper);
        st = offline_status(t, &job);
    }
    if (st.code != OUTPOST_OK)
        page_free(p);
    return st;
}

static int cancelled(struct outpost_transport *t)
{
    return t->host->cancelled && t->host->cancelled(t->host);
}

static outpost_status commit_state(const struct outpost_sync_sink *sink, const struct kerio_state *ks)
{
    char buf[640];
    size_t n = kerio_state_format(ks, buf, sizeof buf);
    return sink->commit(sink->ctx, buf, n);
}

static outpost_status get_sync_key(struct outpost_transport *t, const char *fid, struct kerio_key *key)
{
    json_t *res;
    outpost_status st = kerio_call(t, "Changes.getFolderSyncKey", json_pack("{s:s}", "folderId", fid), KERIO_CTX_CALL, 0,
                                   NULL, &res);
    if (st.code != OUTPOST_OK)
        return st;
    if (kerio_key_read(json_object_get(res, "syncKey"), key) != 0) {
        json_decref(res);
        return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: Changes.getFolderSyncKey reply without a syncKey");
    }
    json_decref(res);
    return outpost_ok();
}

/* One page of the initial listing, fetched (X.get, then getById for mail), validated and
 * converted, with the state that commits with it. Filled by fetch_page, which touches the
 * instance (curl handle, session, message buffer) and nothing of the sink, and converts the
 * items that need the instance (convert_online); the offline ones are converted after it. */
struct listed_page {
    outpost_status st;
    struct page p;
    struct kerio_state ks;       /* the state after this page */
    int64_t total;
};

static void fetch_page(struct outpost_transport *t, const struct kerio_kind *k, const char *fid, uint32_t ps,
                       int want_content, struct listed_page *out)
{
    struct kerio_state *ks = &out->ks;
    memset(&out->p, 0, sizeof out->p);
    out->total = -1;
    if (cancelled(t)) {
        out->st = kerio_fail(t, OUTPOST_TEMP, "kerio: cancelled");
        return;
    }
    json_t *res;
    const json_t *listed;
    /* Start a little before the position and skip up to the last id already handed over. */
    /* A server may cap a page below what was asked (its "safety limit"): then pages are no
     * larger than that cap, and the overlap at most half of it, so each page gets further. */
    int64_t overlap = !ks->last[0] ? 0 : t->list_cap && t->list_cap / 2 < LISTING_OVERLAP ? t->list_cap / 2 : LISTING_OVERLAP;
    int64_t start = ks->pos > overlap ? ks->pos - overlap : 0;
    uint32_t limit = ps + (uint32_t)(ks->pos - start);
    if (t->list_cap && limit > t->list_cap)
        limit = t->list_cap;
    int ids_only = k->kind == OUTPOST_ITEM_MAIL && want_content;
    outpost_status st = list_page(t, k, fid, start, limit, ids_only, &res, &listed, &out->total);
    if (st.code != OUTPOST_OK) {
        out->st = st;
        return;
    }
    size_t n = json_array_size(listed), skip = 0;
    if (ks->last[0] && start < ks->pos) {
        for (size_t i = 0; i < n; i++)
            if (strcmp(kj_str(json_array_get(listed, i), "id"), ks->last) == 0) {
                skip = i + 1;
                break;
            }
        /* Not found: more deletions than the overlap; hand over the whole window again
         * (a repeated ADD is harmless, a skipped item is not). */
    }
    json_t *items = json_array();
    for (size_t i = skip; i < n; i++)
        json_array_append(items, json_array_get(listed, i));
    if (n > 0)
        snprintf(ks->last, sizeof ks->last, "%s", kj_str(json_array_get(listed, n - 1), "id"));
    if (strlen(ks->last) >= sizeof ks->last - 1 || strpbrk(ks->last, " \t\r\n"))
        ks->last[0] = '\0'; /* an id we cannot keep in the state: plain offsets then */
    json_t *objs;
    if (k->kind == OUTPOST_ITEM_MAIL && want_content && json_array_size(items) > 0) {
        json_t *ids = json_array();
        size_t i;
        const json_t *o;
        json_array_foreach(items, i, o) json_array_append_new(ids, json_string(kj_str(o, "id")));
        st = kerio_get_by_ids(t, k, ids, &objs);
        json_decref(ids);
        if (st.code != OUTPOST_OK) {
            json_decref(items);
            json_decref(res);
            out->st = st;
            return;
        }
        /* A mail deleted between the listing and getById is left out: there is nothing to
         * hand over, and its deletion comes with the changes after the sync key. One the
         * server could not read this time keeps the listing's metadata, without content
         * (fetched when asked for); converting the listing would make up an empty body. The
         * listing asked for ids only, so the same window is listed again with every member
         * for such a mail; one that is not in it any more is left out as a deleted one. */
        json_t *meta = NULL;
        const json_t *meta_list = NULL;
        json_array_foreach(objs, i, o) if (json_is_false(o)) {
            int64_t tot;
            st = list_page(t, k, fid, start, limit, 0, &meta, &meta_list, &tot);
            if (st.code != OUTPOST_OK) {
                json_decref(objs);
                json_decref(items);
                json_decref(res);
                out->st = st;
                return;
            }
            break;
        }
        json_t *kept = json_array(), *later = json_array();
        json_array_foreach(objs, i, o) {
            if (json_is_null(o))
                continue;
            const json_t *use = o;
            if (json_is_false(o)) {
                const char *id = kj_str(json_array_get(items, i), "id");
                size_t j;
                const json_t *m;
                use = NULL;
                json_array_foreach(meta_list, j, m) if (strcmp(kj_str(m, "id"), id) == 0) {
                    use = m;
                    break;
                }
                if (!use)
                    continue;
            }
            json_array_append_new(later, json_boolean(json_is_false(o)));
            json_array_append(kept, (json_t *)use);
        }
        json_decref(meta);
        json_decref(objs);
        json_decref(items);
        objs = kept;
        items = later;
    } else {
        objs = items;
        items = NULL;
    }
    json_decref(res);
    out->st = page_init(t, k, objs, want_content, &out->p);
    for (size_t i = 0; out->st.code == OUTPOST_OK && items && i < out->p.n; i++)
        if (json_is_true(json_array_get(items, i))) {
            out->p.meta_only[i] = 1;
            out->p.offline[i] = 0;
        }
    json_decref(items);
    if (out->st.code == OUTPOST_OK)
        out->st = convert_online(t, k, fid, &out->p);
    if (out->st.code != OUTPOST_OK) {
        page_free(&out->p);
        return;
    }
    ks->pos = start + (int64_t)n;
    /* A short page ends the listing, unless totalItems says more follow: the server capped it. */
    int capped = n > 0 && n < limit && out->total >= 0 && ks->pos < out->total;
    if (capped && (!t->list_cap || n < t->list_cap)) {
        t->list_cap = (uint32_t)n;
        t->host->log(t->host, OUTPOST_LOG_INFO, "kerio: %s.get gives at most %zu items per page", k->iface, n);
    }
    if (n == 0 || (n < limit && !capped) || (out->total >= 0 && ks->pos >= out->total))
        ks->listing = 0;
}

/* The initial listing, from ks->pos on, one committed page at a time, by three threads that
 * never wait for one another at a fixed point:
 * - the fetching thread (lp_fetcher) lists, reads, validates page after page and converts
 *   their online items (fetch_page), into up to PIPELINE slots; it is the only one using the
 *   instance meanwhile. With every slot taken it converts offline items of fetched pages;
 * - a converting thread (lp_converter) converts the offline items of fetched pages, oldest
 *   first (offline_run: items are claimed one at a time, so any number of threads share a
 *   page);
 * - this thread hands the oldest fetched page to the sink (and commits it with its state)
 *   once its items are converted, converting the ones nobody has claimed yet itself, then
 *   gives its slot back (the fetching thread frees the page when it reuses the slot). The
 *   sink is called from this thread only.
 * At most PIPELINE pages are in memory, as with the lockstep rounds this replaced; those
 * kept every thread waiting for the slowest at the end of each round (about a sixth of the
 * time of an initial sync on 2 CPUs). A page that failed (fetch or conversion) ends the
 * listing when its turn to be handed over comes: the pages before it are committed, the ones
 * fetched after it are dropped, as is any page fetched but not committed when the sink
 * fails. Without threads (kthread_none.c) the same is done page by page on this thread. */
#define PIPELINE 3

struct lpipe {
    struct outpost_transport *t;
    const struct kerio_kind *k;
    const char *fid;
    uint32_t ps;
    int want_content;
    struct kerio_sync *sy;
    struct listed_page pages[PIPELINE];
    struct offline_job jobs[PIPELINE];
    /* under sy: */
    unsigned fetched;         /* pages fetched (slots fetched % PIPELINE) */
    unsigned emitted;         /* pages this thread is done with */
    unsigned helpers[PIPELINE]; /* threads other than this one inside offline_run of a slot */
    int more;                 /* the last page fetched says more follow */
    atomic_int stop;          /* this thread is done: fetch and convert nothing more (set under
                               * sy; read ahead's conversion checks it without) */
    int fetch_done;           /* the fetching thread fetches nothing more */
    struct kerio_state from;  /* the state after the last page fetched */
    int all_ok;               /* every page fetched so far was read without error */
    char msg[512];            /* a conversion failure found by this thread (lp_emit) */
    /* reading the next folder ahead (sync_next), by the fetching thread once this folder's
     * pages are all fetched: */
    struct kerio_hint *target;   /* the folder, or NULL */
    struct outpost_transport pt; /* the instance as the fetching thread uses it meanwhile */
    struct kerio_ahead *read;    /* what it read, for the instance once the thread is joined */
};

/* The items asked for in page `index` of a listing: the first pages are smaller (a quarter,
 * a half): the sink waits for the first one while nothing else can be handed over, in every
 * folder that was not read ahead (pages read ahead are whole: read_ahead). */
static uint32_t page_limit(uint32_t ps, unsigned index)
{
    uint32_t n = index < 2 ? ps >> (2 - index) : ps;
    return n ? n : 1;
}

/* The oldest fetched page (not yet handed over) with unclaimed offline items, as its slot
 * index, or -1 (sy locked). */
static int lp_claimable(struct lpipe *L)
{
    for (unsigned e = L->emitted; e < L->fetched; e++)
        if (offline_claimable(&L->jobs[e % PIPELINE]))
            return (int)(e % PIPELINE);
    return -1;
}

/* Converts items of slot `s` as one of the helpers (sy locked on entry and on return). */
static void lp_help(struct lpipe *L, int s)
{
    L->helpers[s]++;
    kerio_sync_unlock(L->sy);
    offline_run(&L->jobs[s]);
    kerio_sync_lock(L->sy);
    if (--L->helpers[s] == 0)
        kerio_sync_broadcast(L->sy);
}

/* Fetches page `L->fetched` into its slot (sy locked on entry and on return). */
static void lp_fetch_one(struct lpipe *L)
{
    unsigned s = L->fetched % PIPELINE;
    struct listed_page *pg = &L->pages[s];
    page_free(&pg->p); /* the page last handed over from this slot (see lp_emit) */
    memset(pg, 0, sizeof *pg);
    pg->ks = L->from;
    kerio_sync_unlock(L->sy);
    fetch_page(L->t, L->k, L->fid, page_limit(L->ps, L->fetched), L->want_content, pg);
    kerio_sync_lock(L->sy);
    offline_job_init(&L->jobs[s], &pg->p, L->sy);
    L->from = pg->ks;
    L->more = pg->st.code == OUTPOST_OK && pg->ks.listing;
    L->all_ok &= pg->st.code == OUTPOST_OK;
    L->fetched++;
    kerio_sync_broadcast(L->sy);
}

/* ---- Reading the next folder ahead (sync_next) ----
 * At the end of a folder's listing the sink still takes the last pages fetched, one after the
 * other, while the fetching and converting threads have nothing left to do, and the next
 * folder then starts with a page that nothing else can overlap. So the fetching thread reads
 * the folder the engine syncs next (sync_next's hint: an initial listing of mail) while the
 * sink takes this folder's last pages: its sync key and up to PIPELINE pages, fetched and
 * converted, kept by the instance for the sync_folder call of that folder (kerio_sync_folder
 * takes them; any other call drops them). The thread stops after the page it is on once this
 * folder is handed over (listing() joins it; it stops converting that page at once, and the
 * next folder's listing converts the rest with every thread), and at the first error (the
 * page is read again by that folder's own listing, which reports what goes wrong). Measured
 * in session 12 (10k messages, 16 folders): the sync's thread alone was running a fifth of
 * the time, at folder ends and starts. */

/* The folder the engine syncs after the coming sync_folder call, as sync_next named it. */
struct kerio_hint {
    char *fid;
    uint32_t kind, page_size, flags;
    int has_state;
};

/* Pages of a folder read ahead by the listing of the folder before it: fetched, validated,
 * in order, each good; the first done[i] items of page i converted, the rest left to that
 * folder's listing. */
struct kerio_ahead {
    struct kerio_hint h;
    unsigned n;
    struct listed_page pages[PIPELINE];
    size_t done[PIPELINE];
};

static void hint_free(struct kerio_hint *h)
{
    if (h) {
        free(h->fid);
        free(h);
    }
}

static void ahead_free(struct kerio_ahead *a)
{
    if (!a)
        return;
    for (unsigned i = 0; i < PIPELINE; i++)
        page_free(&a->pages[i].p);
    free(a->h.fid);
    free(a);
}

void kerio_ahead_drop(struct outpost_transport *t)
{
    hint_free(t->next);
    t->next = NULL;
    ahead_free(t->ahead);
    t->ahead = NULL;
}

outpost_status kerio_sync_next(struct outpost_transport *t, const outpost_folder *folder, const void *state,
                               size_t len, uint32_t page_size, uint32_t flags)
{
    hint_free(t->next);
    t->next = NULL;
    if (!folder) {
        kerio_ahead_drop(t); /* the cycle is over */
        return outpost_ok();
    }
    struct kerio_hint *h = folder->remote_id ? calloc(1, sizeof *h) : NULL;
    if (!h || !(h->fid = strdup(folder->remote_id))) {
        free(h);
        return outpost_ok(); /* nothing is read ahead */
    }
    h->kind = folder->kind;
    h->page_size = page_size;
    h->flags = flags;
    h->has_state = state && len;
    t->next = h;
    return outpost_ok();
}

/* Whether the hinted folder is read ahead: an initial listing of mail with content (the
 * pages of other kinds read through the instance while they are converted). */
static int readable_ahead(const struct kerio_hint *h, const char *fid)
{
    return h && h->kind == OUTPOST_ITEM_MAIL && (h->flags & OUTPOST_SYNC_WANT_CONTENT) && !h->has_state &&
           strcmp(h->fid, fid) != 0;
}

/* What was read ahead of `folder` for a sync_folder call with these arguments, taken from the
 * instance; NULL when nothing was. Whatever else was read ahead is dropped. */
static struct kerio_ahead *take_ahead(struct outpost_transport *t, const outpost_folder *folder, const void *state,
                                      size_t len, uint32_t page_size, uint32_t flags)
{
    struct kerio_ahead *a = t->ahead;
    t->ahead = NULL;
    if (a && a->n > 0 && !strcmp(a->h.fid, folder->remote_id) && a->h.kind == folder->kind &&
        a->h.page_size == page_size && a->h.flags == flags && !(state && len))
        return a;
    ahead_free(a);
    return NULL;
}

/* Moves the connection (libcurl handle, session, reply buffer, what the last exchange said
 * and what the server's answers taught) from `src` to `dst`, whose messages stay its own. */
static void conn_take(struct outpost_transport *dst, const struct outpost_transport *src)
{
    dst->curl = src->curl;
    dst->token = src->token;
    dst->next_id = src->next_id;
    dst->last_http = src->last_http;
    dst->last_unreadable = src->last_unreadable;
    dst->last_unframed = src->last_unframed;
    dst->reply = src->reply;
    dst->last_retry_after_ms = src->last_retry_after_ms;
    memcpy(dst->last_location, src->last_location, sizeof dst->last_location);
    dst->list_cap = src->list_cap;
    dst->change_cap = src->change_cap;
    dst->events_param = src->events_param;
    if (dst->curl) {
        /* the handle reports to the instance that holds it */
        curl_easy_setopt(dst->curl, CURLOPT_ERRORBUFFER, dst->curl_err);
        curl_easy_setopt(dst->curl, CURLOPT_XFERINFODATA, dst);
    }
}

/* Reads L->target ahead (fetching thread, sy not held): see above. */
static void read_ahead(struct lpipe *L)
{
    const struct kerio_hint *h = L->target;
    const struct kerio_kind *k = kerio_kind_by_item(h->kind);
    struct kerio_ahead *a = k ? calloc(1, sizeof *a) : NULL;
    if (a)
        a->h = *h; /* the arguments of the call that may take these pages */
    if (!a || !(a->h.fid = strdup(h->fid))) {
        free(a);
        return;
    }
    /* OUTPOST_KERIO_AHEAD_CONVERT=N (tests): at most N items of a page read ahead are converted
     * here, as when the sink takes the current folder's last pages before the rest */
    const char *cap_env = getenv("OUTPOST_KERIO_AHEAD_CONVERT");
    long cap = cap_env && *cap_env ? strtol(cap_env, NULL, 10) : -1;
    struct outpost_transport *pt = &L->pt;
    conn_take(pt, L->t);
    uint32_t ps = h->page_size ? h->page_size : pt->page_size;
    struct kerio_state from;
    memset(&from, 0, sizeof from);
    from.listing = get_sync_key(pt, h->fid, &from.key).code == OUTPOST_OK;
    for (unsigned i = 0; i < PIPELINE && from.listing; i++) {
        if (atomic_load(&L->stop))
            break;
        struct listed_page *pg = &a->pages[i];
        pg->ks = from;
        /* whole pages: the sink is busy with the current folder meanwhile, so small first
         * pages (page_limit) would only cost round trips and commits (10k sync, 5
         * alternations: 4,638 -> 4,917 msg/s) */
        fetch_page(pt, k, h->fid, ps, 1, pg);
        if (pg->st.code == OUTPOST_OK) {
            /* converted while the sink takes this folder's last pages; once it has taken them
             * (stop), what is left of the page is converted by that folder's listing, with
             * every thread, instead of by this one while the sync's thread waits for it */
            struct offline_job j;
            offline_job_init(&j, &pg->p, NULL);
            j.halt = &L->stop;
            if (cap >= 0 && (size_t)cap < j.n)
                j.n = (size_t)cap;
            offline_run(&j);
            if (atomic_load(&j.failed))
                pg->st.code = OUTPOST_BAD_DATA;
            size_t claimed = atomic_load(&j.next);
            a->done[i] = claimed < j.n ? claimed : j.n;
        }
        if (pg->st.code != OUTPOST_OK) {
            page_free(&pg->p); /* read again, and reported, by the folder's own listing */
            memset(pg, 0, sizeof *pg);
            break;
        }
        a->n = i + 1;
        from = pg->ks;
    }
    conn_take(L->t, pt);
    size_t left = 0;
    for (unsigned i = 0; i < a->n; i++)
        left += a->pages[i].p.n - a->done[i];
    pt->host->log(pt->host, OUTPOST_LOG_DEBUG, "read %u page(s) of folder %s ahead, %zu item(s) of them left to convert",
                  a->n, h->fid, left);
    L->read = a;
}

static void lp_fetcher(void *arg)
{
    struct lpipe *L = arg;
    kerio_sync_lock(L->sy);
    while (!L->stop && L->more) {
        /* A slot is free once its page was handed over and no helper is still inside its job. */
        if (L->fetched - L->emitted >= PIPELINE || L->helpers[L->fetched % PIPELINE]) {
            int s = lp_claimable(L);
            if (s >= 0)
                lp_help(L, s);
            else
                kerio_sync_wait(L->sy);
            continue;
        }
        lp_fetch_one(L);
    }
    L->fetch_done = 1;
    kerio_sync_broadcast(L->sy);
    int ahead = L->target && !L->stop && L->all_ok;
    kerio_sync_unlock(L->sy);
    if (ahead)
        read_ahead(L);
}

static void lp_converter(void *arg)
{
    struct lpipe *L = arg;
    kerio_sync_lock(L->sy);
    while (!L->stop) {
        int s = lp_claimable(L);
        if (s >= 0)
            lp_help(L, s);
        else if (L->fetch_done)
            break;
        else
            kerio_sync_wait(L->sy);
    }
    kerio_sync_unlock(L->sy);
}

static outpost_status emit_page(const struct outpost_sync_sink *sink, const struct kerio_kind *k, struct listed_page *lp,
                                int want_content)
{
    outpost_status st = outpost_ok();
    struct page *p = &lp->p;
    for (size_t i = 0; i < p->n && st.code == OUTPOST_OK; i++) {
        const json_t *o = json_array_get(p->objs, i);
        int has = (k->kind != OUTPOST_ITEM_MAIL || want_content) && !p->meta_only[i];
        /* Mail whose full object could not be read: metadata only. */
        st = emit_item(sink, OUTPOST_CHANGE_ADD, k->kind, o, has ? &p->content[i] : NULL, want_content && has);
    }
    if (st.code == OUTPOST_OK && OUTPOST_HAS_FIELD(sink, struct outpost_sync_sink, progress) && sink->progress)
        st = sink->progress(sink->ctx, (uint64_t)lp->ks.pos, lp->total > 0 ? (uint64_t)lp->total : 0);
    if (st.code == OUTPOST_OK)
        st = commit_state(sink, &lp->ks);
    return st;
}

/* Hands page `L->emitted` (fetched, its items all converted) to the sink and frees it.
 * Returns the sink's status, or the page's own when it failed. */
static outpost_status lp_emit(struct lpipe *L, const struct outpost_sync_sink *sink, struct kerio_state *ks)
{
    unsigned s = L->emitted % PIPELINE;
    struct listed_page *ep = &L->pages[s];
    if (ep->st.code == OUTPOST_OK && atomic_load(&L->jobs[s].failed)) {
        /* told in L->msg: the fetching thread may be writing the instance's own message now
         * (listing() moves this one there once the thread is joined) */
        offline_message(&L->jobs[s], L->msg, sizeof L->msg);
        ep->st.code = OUTPOST_BAD_DATA;
        ep->st.retry_after_ms = 0;
        ep->st.message = L->msg;
        page_free(&ep->p);
    }
    outpost_status st = ep->st.code != OUTPOST_OK ? ep->st : emit_page(sink, L->k, ep, L->want_content);
    if (st.code == OUTPOST_OK)
        *ks = ep->ks;
    /* With threads, the page is freed by the fetching thread when it reuses the slot
     * (lp_fetch_one): most of its memory (the JSON) came from that thread's malloc arena, and
     * glibc frees a block under the lock of its arena. Freed here, this thread queued for that
     * lock while the fetching thread parsed the next page (~1,300 sleeps per 10k mail). */
    if (!L->sy)
        page_free(&ep->p);
    return st;
}

/* The listing without helper threads: fetch, convert, hand over, page after page. */
static outpost_status listing_alone(struct lpipe *L, const struct outpost_sync_sink *sink, struct kerio_state *ks)
{
    outpost_status st = outpost_ok();
    while ((L->emitted < L->fetched || L->more) && st.code == OUTPOST_OK) {
        if (L->emitted == L->fetched)
            lp_fetch_one(L);
        offline_run(&L->jobs[L->emitted % PIPELINE]);
        st = lp_emit(L, sink, ks);
        L->emitted++;
    }
    return st;
}

/* `ahead`: this folder's first pages, read ahead (taken over; may be NULL); `next`: the folder
 * to read ahead meanwhile (taken over; may be NULL). */
static outpost_status listing(struct outpost_transport *t, const outpost_folder *folder, const struct kerio_kind *k,
                              struct kerio_state *ks, uint32_t ps, int want_content, const struct outpost_sync_sink *sink,
                              struct kerio_ahead *ahead, struct kerio_hint *next)
{
    struct lpipe *L = calloc(1, sizeof *L);
    if (!L) {
        ahead_free(ahead);
        hint_free(next);
        return kerio_fail(t, OUTPOST_FATAL, "kerio: out of memory");
    }
    atomic_init(&L->stop, 0);
    L->t = t;
    L->k = k;
    L->fid = folder->remote_id;
    L->ps = ps;
    L->want_content = want_content;
    L->more = 1;              /* listing() is only called while listing */
    L->from = *ks;
    L->all_ok = 1;
    /* OUTPOST_KERIO_THREADS=0: no helper threads, as where there are none (tests of that path) */
    const char *threads = getenv("OUTPOST_KERIO_THREADS");
    L->sy = threads && !strcmp(threads, "0") ? NULL : kerio_sync_new();
    if (ahead) {
        /* the pages read ahead fill the first slots, their converted items done */
        for (unsigned i = 0; i < ahead->n; i++) {
            L->pages[i] = ahead->pages[i];
            memset(&ahead->pages[i], 0, sizeof ahead->pages[i]);
            offline_job_init(&L->jobs[i], &L->pages[i].p, L->sy);
            atomic_store(&L->jobs[i].next, ahead->done[i]);
            atomic_store(&L->jobs[i].finished, ahead->done[i]);
        }
        L->fetched = ahead->n;
        L->from = L->pages[ahead->n - 1].ks;
        L->more = L->from.listing;
        ahead_free(ahead);
    }
    if (L->sy && readable_ahead(next, folder->remote_id)) {
        L->target = next;
        L->pt = *t; /* before any thread runs; read_ahead takes the connection over */
        next = NULL;
    }
    hint_free(next);
    struct kerio_thread *fetcher = L->sy ? kerio_thread_start(lp_fetcher, L, "kerio-list") : NULL;
    outpost_status st = outpost_ok();
    if (!fetcher) {
        st = listing_alone(L, sink, ks);
    } else {
        struct kerio_thread *conv = kerio_thread_start(lp_converter, L, "kerio-convert");
        kerio_sync_lock(L->sy);
        for (;;) {
            while (L->emitted == L->fetched && !L->fetch_done)
                kerio_sync_wait(L->sy);
            if (L->emitted == L->fetched)
                break;
            /* the oldest page: its unclaimed items here, then the ones others are on */
            struct offline_job *j = &L->jobs[L->emitted % PIPELINE];
            kerio_sync_unlock(L->sy);
            offline_work(j, 1);
            kerio_sync_lock(L->sy);
            offline_wait(j);
            kerio_sync_unlock(L->sy);
            st = lp_emit(L, sink, ks);
            kerio_sync_lock(L->sy);
            L->emitted++;
            kerio_sync_broadcast(L->sy);
            if (st.code != OUTPOST_OK)
                break;
        }
        atomic_store(&L->stop, 1);
        kerio_sync_broadcast(L->sy);
        kerio_sync_unlock(L->sy);
        kerio_thread_join(conv);
        kerio_thread_join(fetcher);
    }
    for (unsigned e = 0; e < PIPELINE; e++)
        page_free(&L->pages[e].p); /* handed over, or fetched and never handed over */
    if (st.message == L->msg) /* the instance's message, now that no other thread uses it */
        st = kerio_fail(t, st.code, "%s", L->msg);
    if (L->read) {
        ahead_free(t->ahead);
        t->ahead = L->read;
    }
    hint_free(L->target);
    kerio_sync_free(L->sy);
    free(L);
    return st;
}

/* One planned action of an incremental sync, after collapsing the change list per item. */
enum act { ACT_NONE = 0, ACT_DELETE, ACT_ADD, ACT_UPDATE, ACT_FLAGS, ACT_MOVED };

struct plan_entry {
    const char *id;        /* current id (borrowed from the change list) */
    const char *orig_id;   /* ACT_MOVED: the id before the move */
    const char *to_folder; /* ACT_MOVED: where it is now */
    int act;
};

static int change_act(const char *type)
{
    if (!strcmp(type, "chtCreated") || !strcmp(type, "chtCopied") || !strcmp(type, "chtNewMail"))
        return ACT_ADD;
    if (!strcmp(type, "chtDeleted"))
        return ACT_DELETE;
    if (!strcmp(type, "chtModified") || !strcmp(type, "chtModifiedContent"))
        return ACT_UPDATE;
    if (!strcmp(type, "chtReadFlagChanged") || !strcmp(type, "chtModifiedMetadata") || !strcmp(type, "chtStatus"))
        return ACT_FLAGS;
    if (!strcmp(type, "chtMoved"))
        return ACT_MOVED;
    return ACT_NONE;
}

/* The change list in journal order (by watermark; entries without one keep their place
 * relative to each other): the order of the list itself is not documented, and collapsing
 * per item needs "created" before "changed" before "deleted". New array, same objects. */
struct change_pos {
    int64_t wm;
    size_t at;
};

static int change_pos_cmp(const void *a, const void *b)
{
    const struct change_pos *x = a, *y = b;
    if (x->wm != y->wm)
        return x->wm < y->wm ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

static json_t *changes_in_order(const json_t *changes)
{
    size_t n = json_array_size(changes);
    struct change_pos *v = calloc(n ? n : 1, sizeof *v);
    json_t *out = json_array();
    if (!v || !out) {
        free(v);
        json_decref(out);
        return NULL;
    }
    int64_t last = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        /* No watermark: right after the entry before it. */
        v[i].wm = kj_int_or(json_array_get(changes, i), "watermark", last);
        v[i].at = i;
        last = v[i].wm;
    }
    qsort(v, n, sizeof *v, change_pos_cmp);
    for (size_t i = 0; i < n; i++)
        json_array_append(out, json_array_get(changes, v[i].at));
    free(v);
    return out;
}

/* Builds the plan: one entry per item, in first-seen order. `index` maps id → entry. */
static size_t build_plan(const json_t *changes, const char *fid, uint32_t kind, struct plan_entry *plan)
{
    json_t *index = json_object();
    size_t n = 0, i;
    const json_t *c;
    json_array_foreach(changes, i, c) {
        if (kj_bool(c, "isFolder"))
            continue;
        const struct kerio_kind *ck = kerio_kind_by_item_type(kj_str(c, "itemType"));
        if (*kj_str(c, "itemType") && (!ck || ck->kind != kind))
            continue;
        const char *parent = kj_str(c, "parentId"), *oparent = kj_str(c, "origParentId");
        int act = change_act(kj_str(c, "type"));
        /* Changes.getFolder lists one folder's changes: an entry without a parentId (the
         * folder implied) is this folder's, except a move, which needs both ends. */
        if (!*parent && act != ACT_MOVED)
            parent = fid;
        int here = strcmp(parent, fid) == 0, from_here = strcmp(oparent, fid) == 0;
        /* Only a move concerns both folders; a copy (origParentId = the source) or any
         * other change belongs to the folder the item is in. */
        if (act == ACT_NONE || (act == ACT_MOVED ? !here && !from_here : !here))
            continue;
        const char *id = kj_str(c, "itemId");
        if (act == ACT_MOVED && here && from_here)
            act = ACT_UPDATE; /* moved within the folder */
        /* A move is keyed by the id it had before, so later changes of the old id fold in. */
        const char *key = act == ACT_MOVED && *kj_str(c, "origId") ? kj_str(c, "origId") : id;
        json_t *slot = json_object_get(index, key);
        struct plan_entry *e;
        if (slot) {
            e = &plan[json_integer_value(slot)];
        } else {
            e = &plan[n];
            memset(e, 0, sizeof *e);
            json_object_set_new(index, act == ACT_MOVED ? id : key, json_integer((json_int_t)n));
            if (act == ACT_MOVED)
                json_object_set_new(index, key, json_integer((json_int_t)n));
            n++;
        }
        switch (act) {
        case ACT_DELETE:
            if (e->act == ACT_MOVED) { /* moved here, then deleted: the old id is gone */
                e->id = e->orig_id;
                e->orig_id = NULL;
            } else {
                e->id = id;
            }
            e->act = ACT_DELETE;
            break;
        case ACT_MOVED:
            if (from_here && !here && e->act == ACT_ADD && !e->orig_id) {
                e->act = ACT_NONE; /* created and moved away within this list: never ours */
            } else if (from_here && !here) {
                e->orig_id = e->act == ACT_MOVED && e->orig_id ? e->orig_id : kj_str(c, "origId");
                e->id = id;
                e->to_folder = parent;
                e->act = ACT_MOVED;
            } else { /* moved into this folder from elsewhere */
                if (e->act == ACT_MOVED) {
                    e->id = id;
                    e->to_folder = parent;
                } else {
                    e->orig_id = kj_str(c, "origId");
                    e->id = id;
                    e->to_folder = parent;
                    e->act = ACT_MOVED;
                }
            }
            json_object_set_new(index, id, json_integer(e - plan));
            break;
        case ACT_ADD:
            e->id = id;
            e->act = (e->act == ACT_DELETE || e->act == ACT_NONE) ? ACT_ADD : e->act;
            break;
        case ACT_UPDATE:
            e->id = id;
            if (e->act != ACT_ADD && e->act != ACT_MOVED)
                e->act = ACT_UPDATE;
            break;
        case ACT_FLAGS:
            e->id = id;
            if (e->act == ACT_NONE || e->act == ACT_DELETE)
                e->act = ACT_FLAGS;
            break;
        }
    }
    json_decref(index);
    return n;
}

static outpost_status incremental(struct outpost_transport *t, const outpost_folder *folder, const struct kerio_kind *k,
                                  struct kerio_state *ks, uint32_t ps, int want_content, const struct outpost_sync_sink *sink)
{
    const char *fid = folder->remote_id;
    json_t *res;
    int over = 0;
    size_t max_reply = (size_t)t->change_cap * CHANGE_BYTES + 65536;
    /* the key goes back as it came, a number or a string */
    outpost_status st = kerio_call(t, "Changes.getFolder", json_pack("{s:s, s:o}", "folderId", fid, "lastSyncKey", kerio_key_json(&ks->key)),
                                   KERIO_CTX_CHANGES, max_reply, &over, &res);
    if (over)
        return kerio_fail(t, OUTPOST_STATE_INVALID, "kerio: change list of %s exceeds change_cap (%u): re-listing the folder",
                          folder->name ? folder->name : fid, t->change_cap);
    if (st.code != OUTPOST_OK)
        return st;
    const json_t *changes;
    struct kerio_key newkey;
    char why[200];
    if (kerio_validate_changes(res, &changes, &newkey, why, sizeof why) != 0) {
        json_decref(res);
        return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: Changes.getFolder: %s", why);
    }
    size_t nch = json_array_size(changes);
    if (nch > t->change_cap) {
        json_decref(res);
        return kerio_fail(t, OUTPOST_STATE_INVALID,
                          "kerio: %zu changes in %s exceed change_cap (%u): re-listing the folder", nch,
                          folder->name ? folder->name : fid, t->change_cap);
    }
    struct plan_entry *plan = calloc(nch ? nch : 1, sizeof *plan);
    if (!plan) {
        json_decref(res);
        return kerio_fail(t, OUTPOST_FATAL, "kerio: out of memory");
    }
    json_t *ordered = changes_in_order(changes);
    if (!ordered) {
        free(plan);
        json_decref(res);
        return kerio_fail(t, OUTPOST_FATAL, "kerio: out of memory");
    }
    size_t np = build_plan(ordered, fid, k->kind, plan);
    struct kerio_state mid = { .listing = 0, .key = ks->key };
    for (size_t start = 0; start < np || start == 0; start += ps) {
        if (cancelled(t)) {
            st = kerio_fail(t, OUTPOST_TEMP, "kerio: cancelled");
            break;
        }
        size_t end = start + ps < np ? start + ps : np;
        /* Fetch everything this chunk needs, validate and convert it, then hand it over. */
        json_t *ids = json_array();
        for (size_t i = start; i < end; i++)
            if (plan[i].act != ACT_DELETE && plan[i].act != ACT_NONE)
                json_array_append_new(ids, json_string(plan[i].id));
        json_t *objs = NULL;
        struct page p = { 0 };
        if (json_array_size(ids) > 0) {
            st = kerio_get_by_ids(t, k, ids, &objs);
            if (st.code == OUTPOST_OK)
                st = page_convert(t, k, fid, objs, want_content, &p);
        }
        json_decref(ids);
        /* An item the server could not read this time: nothing of this chunk is handed over
         * and the key stays, so the next sync asks again (never a local delete). */
        for (size_t i = 0; st.code == OUTPOST_OK && i < p.n; i++)
            if (json_is_false(json_array_get(p.objs, i)))
                st = kerio_fail(t, OUTPOST_TEMP, "kerio: an item of %s could not be read now; its changes are read again next time",
                                folder->name ? folder->name : fid);
        if (st.code != OUTPOST_OK) {
            page_free(&p);
            break;
        }
        size_t oi = 0;
        for (size_t i = start; i < end && st.code == OUTPOST_OK; i++) {
            struct plan_entry *e = &plan[i];
            if (e->act == ACT_NONE)
                continue;
            if (e->act == ACT_DELETE) {
                outpost_item it;
                memset(&it, 0, sizeof it);
                it.struct_size = sizeof it;
                it.kind = k->kind;
                it.remote_id = e->id;
                st = sink->item(sink->ctx, OUTPOST_CHANGE_DELETE, &it);
                continue;
            }
            const json_t *o = json_array_get(p.objs, oi);
            const struct kbuf *content = &p.content[oi];
            /* A mail whose content cannot be read (an attachment gone for good): its
             * metadata, the content read when asked for, as in the listing. */
            int has = (k->kind != OUTPOST_ITEM_MAIL || want_content) && !p.meta_only[oi];
            oi++;
            if (json_is_null(o) || !o) {
                /* Gone again before we could read it. */
                outpost_item it;
                memset(&it, 0, sizeof it);
                it.struct_size = sizeof it;
                it.kind = k->kind;
                it.remote_id = e->act == ACT_MOVED && e->orig_id ? e->orig_id : e->id;
                if (e->act != ACT_ADD || e->orig_id)
                    st = sink->item(sink->ctx, OUTPOST_CHANGE_DELETE, &it);
                continue;
            }
            /* An entry whose folder was left implied may be another folder's: chtNewMail
             * comes for mail arriving anywhere ("folder filter is not applied"). The item
             * says where it is. */
            const char *where = kj_str(o, "folderId");
            if (e->act != ACT_MOVED && *where && strcmp(where, fid) != 0)
                continue;
            if (e->act == ACT_MOVED) {
                outpost_item it;
                struct item_strings s;
                fill_item(k->kind, o, &it, &s);
                st = sink->item_moved(sink->ctx, e->orig_id, e->to_folder, &it);
                item_strings_free(&s);
                continue;
            }
            uint32_t change = e->act == ACT_ADD ? OUTPOST_CHANGE_ADD : e->act == ACT_UPDATE ? OUTPOST_CHANGE_UPDATE
                                                                                            : OUTPOST_CHANGE_FLAGS;
            int with = has && change != OUTPOST_CHANGE_FLAGS;
            st = emit_item(sink, change, k->kind, o, with ? content : NULL, want_content && with);
        }
        page_free(&p);
        if (st.code != OUTPOST_OK)
            break;
        /* Intermediate pages keep the old key (replaying them is harmless); the last one
         * commits the new key. */
        if (end >= np) {
            struct kerio_state fin = { .listing = 0, .key = newkey };
            st = commit_state(sink, &fin);
            ks->key = newkey;
            break;
        }
        st = commit_state(sink, &mid);
        if (st.code != OUTPOST_OK)
            break;
    }
    free(plan);
    json_decref(ordered);
    json_decref(res);
    return st;
}

outpost_status kerio_sync_folder(struct outpost_transport *t, const outpost_folder *folder, const void *state,
                                 size_t len, uint32_t page_size, uint32_t flags, const struct outpost_sync_sink *sink)
{
    const struct kerio_kind *k = kerio_kind_by_item(folder->kind);
    if (!k || !folder->remote_id)
        return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: folder %s has no remote id or an unknown kind",
                          folder->name ? folder->name : "?");
    uint32_t ps = page_size ? page_size : t->page_size;
    int want = (flags & OUTPOST_SYNC_WANT_CONTENT) != 0;
    /* what was read of this folder ahead, and the folder to read ahead during this call */
    struct kerio_ahead *ahead = take_ahead(t, folder, state, len, page_size, flags);
    struct kerio_hint *next = t->next;
    t->next = NULL;
    struct kerio_state ks;
    memset(&ks, 0, sizeof ks);
    outpost_status st;
    if (!state || len == 0) {
        if (ahead) {
            ks.key = ahead->pages[0].ks.key; /* got before the pages were read */
        } else if ((st = get_sync_key(t, folder->remote_id, &ks.key)).code != OUTPOST_OK) {
            hint_free(next);
            return st;
        }
        ks.listing = 1;
        ks.pos = 0;
    } else if (kerio_state_parse(state, len, &ks) != 0) {
        ahead_free(ahead);
        hint_free(next);
        return kerio_fail(t, OUTPOST_STATE_INVALID, "kerio: unreadable sync state for %s", folder->name ? folder->name : "?");
    }
    if (ks.listing) {
        st = listing(t, folder, k, &ks, ps, want, sink, ahead, next);
        if (st.code != OUTPOST_OK)
            return st;
    } else {
        ahead_free(ahead);
        hint_free(next);
    }
    return incremental(t, folder, k, &ks, ps, want, sink);
}

outpost_status kerio_fetch(struct outpost_transport *t, const outpost_folder *folder, const char *const *ids_in,
                           uint32_t n, const struct outpost_sync_sink *sink)
{
    const struct kerio_kind *k = kerio_kind_by_item(folder->kind);
    if (!k)
        return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: fetch from a folder of unknown kind");
    uint32_t ps = t->page_size;
    outpost_status st = outpost_ok();
    for (uint32_t start = 0; start < n && st.code == OUTPOST_OK; start += ps) {
        uint32_t end = start + ps < n ? start + ps : n;
        json_t *ids = json_array();
        for (uint32_t i = start; i < end; i++)
            json_array_append_new(ids, json_string(ids_in[i] ? ids_in[i] : ""));
        json_t *objs;
        st = kerio_get_by_ids(t, k, ids, &objs);
        json_decref(ids);
        if (st.code != OUTPOST_OK)
            break;
        struct page p;
        st = page_convert(t, k, folder->remote_id, objs, 1, &p);
        if (st.code != OUTPOST_OK)
            break;
        for (uint32_t i = start; i < end && st.code == OUTPOST_OK; i++) {
            const json_t *o = json_array_get(p.objs, i - start);
            if (!json_is_object(o)) {
                outpost_status gone = json_is_false(o)
                                          ? kerio_fail(t, OUTPOST_TEMP, "kerio: %s could not be read now", ids_in[i] ? ids_in[i] : "?")
                                          : kerio_fail(t, OUTPOST_GONE, "kerio: %s no longer exists", ids_in[i] ? ids_in[i] : "?");
                st = sink->item_failed(sink->ctx, i, gone);
                continue;
            }
            if (p.meta_only[i - start]) {
                st = sink->item_failed(sink->ctx, i,
                                       kerio_fail(t, OUTPOST_BAD_DATA,
                                                  "kerio: the content of %s cannot be read: an attachment of it is not on "
                                                  "the server or is refused (see the warning before)",
                                                  ids_in[i] ? ids_in[i] : "?"));
                continue;
            }
            st = emit_item(sink, OUTPOST_CHANGE_UPDATE, k->kind, o, &p.content[i - start], 1);
        }
        page_free(&p);
    }
    if (st.code == OUTPOST_OK)
        st = sink->commit(sink->ctx, NULL, 0);
    return st;
}
