/* write.c — write-back of journal entries (transport write) and duplicate detection (find).
 * What Kerio's API cannot carry is declared in the capabilities and README.md: raw MIME,
 * arbitrary headers and keywords are lost; exceptions of recurring events are not written. */
#include "kerio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONTENT (256u * 1024u * 1024u)

static outpost_status set_result(struct outpost_transport *t, outpost_change_result *res, const char *id,
                                 const json_t *watermark)
{
    free(t->res_id);
    free(t->res_version);
    t->res_id = id && *id ? strdup(id) : NULL;
    t->res_version = NULL;
    int64_t wm;
    if (kj_int(watermark, &wm)) {
        char v[24];
        snprintf(v, sizeof v, "%lld", (long long)wm);
        t->res_version = strdup(v);
    }
    res->remote_id = t->res_id;
    res->remote_version = t->res_version;
    return outpost_ok();
}

static outpost_status read_all(struct outpost_transport *t, struct outpost_reader *r, struct kbuf *out)
{
    if (!r)
        return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: change without content");
    char buf[65536];
    for (;;) {
        size_t got = 0;
        outpost_status st = r->read(r->ctx, buf, sizeof buf, &got);
        if (st.code != OUTPOST_OK)
            return st;
        if (got == 0)
            return outpost_ok();
        if (out->len + got > MAX_CONTENT)
            return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: content larger than %u bytes", MAX_CONTENT);
        if (kbuf_append(out, buf, got) != 0)
            return kerio_fail(t, OUTPOST_FATAL, "kerio: out of memory");
    }
}

/* Reads the per-item outcome at index 0 of a batch reply: the error class, or OK with the
 * first result element in *elem (borrowed from res). Every write sends one item, so an error
 * entry whatever its inputIndex (or without one) is that item's. */
static outpost_status batch_outcome(struct outpost_transport *t, const char *method, const json_t *res, const json_t **elem)
{
    const json_t *e = kerio_batch_error(res, 0);
    const json_t *errs = json_is_object(res) ? json_object_get(res, "errors") : NULL;
    if (!e && json_is_array(errs) && json_is_object(json_array_get(errs, 0)))
        e = json_array_get(errs, 0);
    if (e) {
        int64_t c = kj_int_or(e, "code", KERIO_E_OPERATION_FAILED);
        return kerio_fail(t, kerio_error_class(c, KERIO_CTX_CALL), "kerio: %s refused: %.160s (code %lld)", method,
                          kj_str(e, "message"), (long long)c);
    }
    const json_t *list = json_is_object(res) ? json_object_get(res, "result") : NULL;
    if (elem)
        *elem = json_is_array(list) ? json_array_get(list, 0) : NULL;
    return outpost_ok();
}

static outpost_status call_batch(struct outpost_transport *t, const char *method, json_t *params, json_t **res,
                                 const json_t **elem)
{
    t->last_unreadable = 0;
    outpost_status st = kerio_call(t, method, params, KERIO_CTX_CALL, 0, NULL, res);
    if (st.code == OUTPOST_BAD_DATA && t->last_unreadable && !(t->last_http >= 400 && t->last_http < 500))
        /* Not a rejection: the server may have applied the write. The engine
         * retries, and its duplicate check decides. A 4xx status without a JSON-RPC body
         * (400, 413 from a proxy's size limit, ...) is one: the request was refused before
         * it was handled, and would be refused again: BAD_DATA, never TEMP forever. */
        return kerio_fail(t, OUTPOST_TEMP, "kerio: %s: reply unreadable; the write is checked and retried", method);
    if (st.code != OUTPOST_OK)
        return st;
    st = batch_outcome(t, method, *res, elem);
    if (st.code != OUTPOST_OK) {
        json_decref(*res);
        *res = NULL;
    }
    return st;
}

static json_t *mail_flags_json(const char *id, uint32_t flags)
{
    return json_pack("{s:s, s:b, s:b, s:b, s:b, s:b}", "id", id, "isSeen", (flags & OUTPOST_FLAG_SEEN) != 0, "isAnswered",
                     (flags & OUTPOST_FLAG_ANSWERED) != 0, "isFlagged", (flags & OUTPOST_FLAG_FLAGGED) != 0, "isForwarded",
                     (flags & OUTPOST_FLAG_FORWARDED) != 0, "isJunk", (flags & OUTPOST_FLAG_JUNK) != 0);
}

/* Mails.create of a MIME message into a folder; attachments uploaded first. */
static outpost_status create_mail(struct outpost_transport *t, const char *folder, const struct kbuf *mime, uint32_t flags,
                                  outpost_change_result *res)
{
    struct kerio_parsed_mail pm;
    char err[200];
    if (kerio_mime_to_mail(mime->data ? mime->data : "", mime->len, &pm, err, sizeof err) != 0)
        return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: %s", err);
    json_t *atts = json_array();
    outpost_status st = outpost_ok();
    for (size_t i = 0; i < pm.natt && st.code == OUTPOST_OK; i++) {
        char *uid = NULL;
        st = kerio_upload(t, pm.att[i].name, pm.att[i].content_type, pm.att[i].data.data ? pm.att[i].data.data : "",
                          pm.att[i].data.len, &uid);
        if (st.code != OUTPOST_OK)
            break;
        json_t *a = json_pack("{s:s, s:s, s:s}", "id", uid, "name", pm.att[i].name, "contentType", pm.att[i].content_type);
        if (!a) /* a name that is not UTF-8 */
            a = json_pack("{s:s, s:s, s:s}", "id", uid, "name", "attachment", "contentType", pm.att[i].content_type);
        if (a && pm.att[i].content_id) {
            json_t *cid = json_string(pm.att[i].content_id);
            if (cid)
                json_object_set_new(a, "contentId", cid);
        }
        json_array_append_new(atts, a);
        free(uid);
    }
    if (st.code != OUTPOST_OK) {
        json_decref(atts);
        kerio_parsed_mail_free(&pm);
        return st;
    }
    json_t *m = json_incref(pm.mail);
    /* Kerio gives a created mail its own Message-ID; the client's is kept as the mail's
     * Resent-Message-ID (which Kerio stores) so find() recognises our create on replay. */
    if (pm.message_id) {
        char *v = malloc(strlen(pm.message_id) + 3);
        if (v) {
            sprintf(v, "<%s>", pm.message_id);
            json_t *h = json_pack("{s:s, s:s}", "type", "mhResentMessageID", "value", v);
            if (h)
                json_array_append_new(json_object_get(m, "headers"), h);
            free(v);
        }
    }
    kerio_parsed_mail_free(&pm);
    json_object_set_new(m, "attachments", atts);
    json_object_set_new(m, "folderId", json_string(folder));
    json_object_set_new(m, "send", json_false());
    json_object_set_new(m, "isSeen", json_boolean((flags & OUTPOST_FLAG_SEEN) != 0));
    json_object_set_new(m, "isFlagged", json_boolean((flags & OUTPOST_FLAG_FLAGGED) != 0));
    json_object_set_new(m, "isAnswered", json_boolean((flags & OUTPOST_FLAG_ANSWERED) != 0));
    json_t *r;
    const json_t *elem;
    st = call_batch(t, "Mails.create", json_pack("{s:[o]}", "mails", m), &r, &elem);
    if (st.code != OUTPOST_OK)
        return st;
    if (!*kj_str(elem, "id")) {
        json_decref(r);
        return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: Mails.create reply without the new id");
    }
    set_result(t, res, kj_str(elem, "id"), json_object_get(elem, "watermark"));
    json_decref(r);
    /* Mails.create may ignore flags of a created mail: set them explicitly. */
    if (flags & (OUTPOST_FLAG_SEEN | OUTPOST_FLAG_FLAGGED | OUTPOST_FLAG_ANSWERED | OUTPOST_FLAG_FORWARDED | OUTPOST_FLAG_JUNK)) {
        st = call_batch(t, "Mails.set", json_pack("{s:[o]}", "mails", mail_flags_json(t->res_id, flags)), &r, &elem);
        if (st.code != OUTPOST_OK)
            return st;
        int64_t wm;
        if (kj_int(json_object_get(elem, "watermark"), &wm)) {
            char *id = strdup(t->res_id);
            set_result(t, res, id, json_object_get(elem, "watermark"));
            free(id);
        }
        json_decref(r);
    }
    return outpost_ok();
}

/* iCalendar / vCard → the Kerio object. */
static outpost_status parse_object(struct outpost_transport *t, uint32_t kind, const struct kbuf *content, json_t **obj)
{
    char err[200];
    int rc = kind == OUTPOST_ITEM_CONTACT
                 ? kerio_vcard_to_contact(content->data ? content->data : "", content->len, obj, NULL, err, sizeof err)
                 : kerio_ical_to_json(kind, content->data ? content->data : "", content->len, obj, NULL, err, sizeof err);
    return rc == 0 ? outpost_ok() : kerio_fail(t, OUTPOST_BAD_DATA, "kerio: %s", err);
}

/* Whether the server holds member value `sent`: equal, or absent on the
 * server where we sent an empty value (a server may leave out an empty list,
 * string or object, e.g. a task without categories). */
static int same_member(const json_t *sent, const json_t *server)
{
    if (server)
        return json_equal((json_t *)sent, (json_t *)server);
    return json_is_null(sent) || json_is_false(sent) || (json_is_array(sent) && !json_array_size(sent)) ||
           (json_is_object(sent) && !json_object_size(sent)) ||
           (json_is_string(sent) && !*json_string_value(sent));
}

/* Checks that the server still has the version the edit was based on. When it
 * has another one but already holds every member of `obj` (the update itself,
 * applied before a crash cut off its reply), *applied gets the server's
 * watermark: nothing is left to send. */
static outpost_status check_version(struct outpost_transport *t, const struct kerio_kind *k, const outpost_change *c,
                                    const json_t *obj, long long *applied)
{
    *applied = -1;
    if (!c->remote_version || !*c->remote_version)
        return outpost_ok();
    char method[64];
    snprintf(method, sizeof method, "%s.getById", k->iface);
    json_t *res;
    json_t *params = k->kind == OUTPOST_ITEM_EVENT ? json_pack("{s:s}", "id", c->remote_id)
                                                   : json_pack("{s:[s]}", "ids", c->remote_id);
    outpost_status st = kerio_call(t, method, params, KERIO_CTX_CALL, 0, NULL, &res);
    if (st.code != OUTPOST_OK)
        return st;
    const json_t *list = json_object_get(res, "result");
    const json_t *o = json_is_array(list) ? json_array_get(list, 0) : list;
    if (!json_is_object(o)) {
        json_decref(res);
        return kerio_fail(t, OUTPOST_GONE, "kerio: %s no longer exists", c->remote_id);
    }
    int64_t wm = -1;
    char v[24];
    int known = kj_int(json_object_get(o, "watermark"), &wm);
    snprintf(v, sizeof v, "%lld", known ? (long long)wm : -1LL);
    int same = obj != NULL;
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        if (same && strcmp(key, "id") && !same_member(val, json_object_get(o, key)))
            same = 0;
    }
    json_decref(res);
    if (known && strcmp(v, c->remote_version) != 0 && same) {
        *applied = atoll(v);
        return outpost_ok();
    }
    if (known && strcmp(v, c->remote_version) != 0)
        return kerio_fail(t, OUTPOST_CONFLICT, "kerio: %s changed on the server (version %s, edit based on %s)", c->remote_id,
                          v, c->remote_version);
    return outpost_ok();
}

static outpost_status move_items(struct outpost_transport *t, const struct kerio_kind *k, const char *op, const char *id,
                                 const char *target, outpost_change_result *res)
{
    char method[64];
    snprintf(method, sizeof method, "%s.%s", k->iface, op);
    json_t *r;
    const json_t *elem;
    outpost_status st = call_batch(t, method, json_pack("{s:[s], s:s}", "ids", id, "folder", target), &r, &elem);
    if (st.code != OUTPOST_OK)
        return st;
    const char *nid = kj_str(elem, "id");
    set_result(t, res, *nid ? nid : id, json_object_get(elem, "watermark"));
    json_decref(r);
    return outpost_ok();
}

static outpost_status write_item(struct outpost_transport *t, const struct kerio_kind *k, const outpost_change *c,
                                 outpost_change_result *res)
{
    char method[64];
    json_t *r = NULL;
    const json_t *elem = NULL;
    outpost_status st;
    switch (c->op) {
    case OUTPOST_J_ITEM_CREATE:
    case OUTPOST_J_ITEM_UPDATE: {
        if (c->op == OUTPOST_J_ITEM_CREATE && !c->folder_remote_id)
            return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: create without a target folder");
        if (c->op == OUTPOST_J_ITEM_UPDATE && !c->remote_id)
            return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: update without a remote id");
        struct kbuf content = { 0 };
        st = read_all(t, c->content, &content);
        long long applied = -1;
        if (st.code == OUTPOST_OK && c->op == OUTPOST_J_ITEM_UPDATE && k->kind == OUTPOST_ITEM_MAIL)
            st = check_version(t, k, c, NULL, &applied);
        if (st.code != OUTPOST_OK) {
            kbuf_free(&content);
            return st;
        }
        if (k->kind == OUTPOST_ITEM_MAIL) {
            /* Kerio cannot replace a mail's content: create the new one, then remove the old. */
            const char *folder = c->folder_remote_id ? c->folder_remote_id : NULL;
            if (!folder) {
                kbuf_free(&content);
                return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: mail update without its folder");
            }
            st = create_mail(t, folder, &content, c->flags, res);
            kbuf_free(&content);
            if (st.code == OUTPOST_OK && c->op == OUTPOST_J_ITEM_UPDATE) {
                char *nid = t->res_id ? strdup(t->res_id) : NULL, *nver = t->res_version ? strdup(t->res_version) : NULL;
                json_t *rr;
                outpost_status rs = kerio_call(t, "Mails.remove", json_pack("{s:[s]}", "ids", c->remote_id), KERIO_CTX_CALL,
                                               0, NULL, &rr);
                if (rs.code == OUTPOST_OK)
                    json_decref(rr);
                free(t->res_id);
                free(t->res_version);
                t->res_id = nid;
                t->res_version = nver;
                res->remote_id = nid;
                res->remote_version = nver;
            }
            return st;
        }
        json_t *obj;
        st = parse_object(t, k->kind, &content, &obj);
        kbuf_free(&content);
        if (st.code != OUTPOST_OK)
            return st;
        if (c->op == OUTPOST_J_ITEM_UPDATE && (st = check_version(t, k, c, obj, &applied)).code != OUTPOST_OK) {
            json_decref(obj);
            return st;
        }
        if (applied >= 0) {
            json_decref(obj);
            json_t *wmj = json_integer(applied);
            set_result(t, res, c->remote_id, wmj);
            json_decref(wmj);
            return outpost_ok();
        }
        if (c->op == OUTPOST_J_ITEM_CREATE) {
            json_object_set_new(obj, "folderId", json_string(c->folder_remote_id));
            snprintf(method, sizeof method, "%s.create", k->iface);
        } else {
            json_object_set_new(obj, "id", json_string(c->remote_id));
            snprintf(method, sizeof method, "%s.set", k->iface);
        }
        json_t *params = json_object();
        json_object_set_new(params, k->array_key, json_pack("[o]", obj));
        st = call_batch(t, method, params, &r, &elem);
        if (st.code != OUTPOST_OK)
            return st;
        const char *nid = kj_str(elem, "id");
        if (c->op == OUTPOST_J_ITEM_CREATE && !*nid) {
            json_decref(r);
            return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: %s reply without the new id", method);
        }
        set_result(t, res, *nid ? nid : c->remote_id, json_object_get(elem, "watermark"));
        json_decref(r);
        return outpost_ok();
    }
    case OUTPOST_J_ITEM_FLAGS:
        if (!c->remote_id)
            return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: flag change without a remote id");
        if (k->kind != OUTPOST_ITEM_MAIL)
            return set_result(t, res, c->remote_id, NULL); /* only mail has flags on Kerio */
        st = call_batch(t, "Mails.set", json_pack("{s:[o]}", "mails", mail_flags_json(c->remote_id, c->flags)), &r, &elem);
        if (st.code != OUTPOST_OK)
            return st;
        set_result(t, res, *kj_str(elem, "id") ? kj_str(elem, "id") : c->remote_id, json_object_get(elem, "watermark"));
        json_decref(r);
        return outpost_ok();
    case OUTPOST_J_ITEM_MOVE:
    case OUTPOST_J_ITEM_COPY:
        if (!c->remote_id || !c->target_remote_id)
            return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: move/copy without item or target");
        return move_items(t, k, c->op == OUTPOST_J_ITEM_MOVE ? "move" : "copy", c->remote_id, c->target_remote_id, res);
    case OUTPOST_J_ITEM_DELETE: {
        if (!c->remote_id)
            return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: delete without a remote id");
        int permanent = (c->flags & OUTPOST_J_PERMANENT) || t->delete_permanent;
        if (k->kind == OUTPOST_ITEM_MAIL && !permanent && t->trash_id &&
            !(c->folder_remote_id && strcmp(c->folder_remote_id, t->trash_id) == 0)) {
            st = move_items(t, k, "move", c->remote_id, t->trash_id, res);
            if (st.code == OUTPOST_GONE)
                st = outpost_ok();
            res->remote_id = NULL;
            res->remote_version = NULL;
            return st;
        }
        snprintf(method, sizeof method, "%s.remove", k->iface);
        st = call_batch(t, method, json_pack("{s:[s]}", "ids", c->remote_id), &r, NULL);
        if (st.code == OUTPOST_GONE)
            return set_result(t, res, NULL, NULL); /* already gone: nothing left to do */
        if (st.code != OUTPOST_OK)
            return st;
        json_decref(r);
        return set_result(t, res, NULL, NULL);
    }
    default:
        return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: journal operation %u is not an item operation", c->op);
    }
}

static outpost_status write_folder(struct outpost_transport *t, const outpost_change *c, outpost_change_result *res)
{
    json_t *r = NULL;
    const json_t *elem = NULL;
    outpost_status st;
    switch (c->op) {
    case OUTPOST_J_FOLDER_CREATE: {
        const struct kerio_kind *k = kerio_kind_by_item(c->kind);
        const char *parent = c->folder_remote_id ? c->folder_remote_id : c->target_remote_id ? c->target_remote_id : t->root_id;
        if (!k || !c->name || !*c->name || !parent)
            return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: folder create needs a kind, a name and a parent");
        json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s}", "id", "", "name", c->name, "type",
                              k->folder_type, "parentId", parent, "placeType", "FPlaceMailbox", "access", "FAccessAdmin",
                              "ownerName", "", "subType", "FSubNone", "checked", 0, "color", "");
        if (!f)
            return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: folder name is not valid UTF-8");
        st = call_batch(t, "Folders.create", json_pack("{s:[o]}", "folders", f), &r, &elem);
        if (st.code != OUTPOST_OK)
            return st;
        if (!*kj_str(elem, "id")) {
            json_decref(r);
            return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: Folders.create reply without the new id");
        }
        set_result(t, res, kj_str(elem, "id"), NULL);
        json_decref(r);
        return outpost_ok();
    }
    case OUTPOST_J_FOLDER_RENAME: {
        if (!c->remote_id)
            return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: folder rename without a remote id");
        json_t *f = json_pack("{s:s}", "id", c->remote_id);
        if (c->name && *c->name)
            json_object_set_new(f, "name", json_string(c->name));
        /* "" is the top level: the mailbox's root folder */
        const char *parent = c->target_remote_id && !*c->target_remote_id ? t->root_id : c->target_remote_id;
        if (parent && *parent)
            json_object_set_new(f, "parentId", json_string(parent));
        st = call_batch(t, "Folders.set", json_pack("{s:[o]}", "folders", f), &r, NULL);
        if (st.code != OUTPOST_OK)
            return st;
        json_decref(r);
        return set_result(t, res, c->remote_id, NULL);
    }
    case OUTPOST_J_FOLDER_DELETE:
        if (!c->remote_id)
            return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: folder delete without a remote id");
        st = call_batch(t, "Folders.remove", json_pack("{s:[s], s:b}", "ids", c->remote_id, "recursive", 1), &r, NULL);
        if (st.code == OUTPOST_GONE)
            return set_result(t, res, NULL, NULL);
        if (st.code != OUTPOST_OK)
            return st;
        json_decref(r);
        return set_result(t, res, NULL, NULL);
    case OUTPOST_J_FOLDER_SUBSCRIBE:
        /* Folders of the own mailbox are always subscribed on Kerio: nothing to send. */
        return set_result(t, res, c->remote_id, NULL);
    default:
        return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: unknown journal operation %u", c->op);
    }
}

/* A write the folder's access (Folders.get) does not allow is refused here, never sent: it
 * would be refused by the server every time. */
static outpost_status access_check(struct outpost_transport *t, const outpost_change *c)
{
    const char *fid = NULL, *denied = NULL;
    switch (c->op) {
    case OUTPOST_J_FOLDER_SUBSCRIBE:
        return outpost_ok();  /* nothing is sent */
    case OUTPOST_J_FOLDER_CREATE: /* a subfolder: the parent's "full access" */
        fid = c->folder_remote_id ? c->folder_remote_id : c->target_remote_id;
        denied = kerio_folder_denies(t, fid, 2);
        break;
    case OUTPOST_J_FOLDER_RENAME:
        fid = c->remote_id;
        if (!(denied = kerio_folder_denies(t, fid, 2)) && c->target_remote_id && *c->target_remote_id &&
            (denied = kerio_folder_denies(t, c->target_remote_id, 2)))
            fid = c->target_remote_id;
        break;
    case OUTPOST_J_FOLDER_DELETE:
        fid = c->remote_id;
        denied = kerio_folder_denies(t, fid, 2);
        break;
    case OUTPOST_J_ITEM_COPY: /* read here, written there */
        fid = c->target_remote_id;
        denied = kerio_folder_denies(t, fid, 1);
        break;
    case OUTPOST_J_ITEM_MOVE:
        fid = c->folder_remote_id;
        if (!(denied = kerio_folder_denies(t, fid, 1)) && (denied = kerio_folder_denies(t, c->target_remote_id, 1)))
            fid = c->target_remote_id;
        break;
    default: /* create, update, flags, delete: the item's folder */
        fid = c->folder_remote_id;
        denied = kerio_folder_denies(t, fid, 1);
        break;
    }
    if (!denied)
        return outpost_ok();
    return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: folder %s is %s for %s on the server: the change is not sent", fid,
                      strcmp(denied, "FAccessReadOnly") == 0      ? "read-only"
                      : strcmp(denied, "FAccessListingOnly") == 0 ? "listing-only"
                      : strcmp(denied, "FAccessReadWrite") == 0   ? "not administrable (read-write access)"
                                                                  : denied,
                      t->user);
}

outpost_status kerio_write(struct outpost_transport *t, const outpost_change *c, outpost_change_result *res)
{
    res->remote_id = NULL;
    res->remote_version = NULL;
    outpost_status st = access_check(t, c);
    if (st.code != OUTPOST_OK)
        return st;
    if (c->op >= OUTPOST_J_FOLDER_CREATE)
        return write_folder(t, c, res);
    const struct kerio_kind *k = kerio_kind_by_item(c->kind);
    if (!k)
        return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: item of unknown kind %u", c->kind);
    return write_item(t, k, c, res);
}

/* Compares Message-IDs without their angle brackets and surrounding blanks. */
static int same_msgid(const char *a, const char *b)
{
    while (*a == ' ' || *a == '<') a++;
    while (*b == ' ' || *b == '<') b++;
    size_t la = strcspn(a, "> "), lb = strcspn(b, "> ");
    return la == lb && la > 0 && strncmp(a, b, la) == 0;
}

outpost_status kerio_find(struct outpost_transport *t, const char *folder_remote_id, uint32_t kind, const char *key,
                          outpost_change_result *res)
{
    res->remote_id = NULL;
    res->remote_version = NULL;
    const struct kerio_kind *k = kerio_kind_by_item(kind);
    if (!k || !folder_remote_id || !key || !*key)
        return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: find needs a folder, a kind and a key");
    char method[64];
    snprintf(method, sizeof method, "%s.get", k->iface);
    uint32_t ps = t->page_size;
    for (int64_t start = 0; start < 100000000;) {
        static const char *const mail_fields[] = { "id", "watermark", NULL };
        json_t *q = kerio_query(start, ps, kind == OUTPOST_ITEM_MAIL ? mail_fields : NULL);
        json_t *r;
        outpost_status st = kerio_call(t, method, json_pack("{s:[s], s:o}", "folderIds", folder_remote_id, "query", q),
                                       KERIO_CTX_CALL, 0, NULL, &r);
        if (st.code != OUTPOST_OK)
            return st;
        const json_t *list;
        char why[200];
        if (kerio_validate_list(kind, r, "list", 0, &list, why, sizeof why) != 0) {
            json_decref(r);
            return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: %s: %s", method, why);
        }
        /* Kerio lists no headers: read the page's mails in full to see their Message-ID. */
        json_t *full = NULL;
        if (kind == OUTPOST_ITEM_MAIL && json_array_size(list) > 0) {
            json_t *ids = json_array();
            size_t i;
            const json_t *o;
            json_array_foreach(list, i, o) json_array_append_new(ids, json_string(kj_str(o, "id")));
            st = kerio_get_by_ids(t, k, ids, &full);
            json_decref(ids);
            if (st.code != OUTPOST_OK) {
                json_decref(r);
                return st;
            }
        }
        size_t i;
        const json_t *o;
        json_array_foreach(full ? full : list, i, o) {
            int match = 0;
            if (json_is_false(o)) {
                /* Unread, it might be the one: "not found" could duplicate the item. */
                json_decref(full);
                json_decref(r);
                return kerio_fail(t, OUTPOST_TEMP, "kerio: a mail of %s could not be read now; looking again later",
                                  folder_remote_id);
            }
            if (!json_is_object(o))
                continue;
            if (kind == OUTPOST_ITEM_MAIL) {
                size_t j;
                const json_t *h;
                json_array_foreach(json_object_get(o, "headers"), j, h) {
                    const char *type = kj_str(h, "type");
                    if ((strcmp(type, "mhMessageID") == 0 || strcmp(type, "mhResentMessageID") == 0) &&
                        same_msgid(kj_str(h, "value"), key))
                        match = 1;
                }
            } else {
                char *uid = kerio_object_uid(o);
                match = uid && strcmp(uid, key) == 0;
                free(uid);
            }
            if (match) {
                set_result(t, res, kj_str(o, "id"), json_object_get(o, "watermark"));
                json_decref(full);
                json_decref(r);
                return outpost_ok();
            }
        }
        json_decref(full);
        size_t n = json_array_size(list);
        int64_t total = kj_int_or(r, "totalItems", -1);
        json_decref(r);
        /* A page shorter than asked is the end only when totalItems does not say more
         * follow: a server may cap pages at its "safety limit" (as in the listing). */
        start += (int64_t)n;
        if (n == 0 || (total >= 0 ? start >= total : n < ps))
            break;
    }
    return kerio_fail(t, OUTPOST_GONE, "kerio: no item with that key in the folder");
}
