/* Writing back journal entries: flags (UpdateItem), content updates, creates (CreateItem with
 * MimeContent for mail; items built from iCalendar / vCard for other kinds), moves and
 * copies (new ids), deletes (MoveToDeletedItems or HardDelete), folder create / rename /
 * move / delete, and `find` by Message-ID or UID for duplicate detection after a crash. */
#include <stdlib.h>
#include <string.h>

#include "ews.h"

static outpost_status read_all(struct ews *e, struct outpost_reader *rd, struct ebuf *out)
{
    if (!rd)
        return ews_status(e, OUTPOST_BAD_DATA, "the change carries no content");
    if (rd->rewind) {
        outpost_status st = rd->rewind(rd->ctx);
        if (st.code != OUTPOST_OK)
            return st;
    }
    char buf[65536];
    for (;;) {
        size_t got = 0;
        outpost_status st = rd->read(rd->ctx, buf, sizeof buf, &got);
        if (st.code != OUTPOST_OK)
            return st;
        if (!got)
            break;
        eb_add(out, buf, got);
        if (out->oom)
            return ews_status(e, OUTPOST_FATAL, "out of memory reading the item's content");
    }
    eb_add(out, "", 0);
    return outpost_ok();
}

static outpost_status result(struct ews *e, struct ews_simple *s, const char *fallback_id, outpost_change_result *res)
{
    eb_set(&e->res_id, s->id ? s->id : fallback_id);
    eb_set(&e->res_version, s->change_key);
    res->remote_id = (s->id || fallback_id) ? eb_str(&e->res_id) : NULL;
    res->remote_version = s->change_key ? eb_str(&e->res_version) : NULL;
    ews_simple_free(s);
    return outpost_ok();
}

static void item_id(struct ebuf *op, const char *id, const char *ck)
{
    eb_puts(op, "<t:ItemId Id=\"");
    eb_xml(op, id);
    if (ck) {
        eb_puts(op, "\" ChangeKey=\"");
        eb_xml(op, ck);
    }
    eb_puts(op, "\"/>");
}

static void folder_id(struct ews *e, struct ebuf *op, const char *id)
{
    if (!id || (e->root_id && !strcmp(id, e->root_id))) {
        eb_puts(op, "<t:DistinguishedFolderId Id=\"msgfolderroot\"/>");
        return;
    }
    eb_puts(op, "<t:FolderId Id=\"");
    eb_xml(op, id);
    eb_puts(op, "\"/>");
}

static void ext_int(struct ebuf *op, const char *tag, int v)
{
    eb_printf(op, "<t:ExtendedProperty><t:ExtendedFieldURI PropertyTag=\"%s\" PropertyType=\"Integer\"/>"
                  "<t:Value>%d</t:Value></t:ExtendedProperty>", tag, v);
}

static int last_verb(uint32_t flags)
{
    return flags & OUTPOST_FLAG_ANSWERED ? 102 : flags & OUTPOST_FLAG_FORWARDED ? 104 : 0;
}

/* The item's current change key (GetItem IdOnly). */
static outpost_status current_key(struct ews *e, const char *id, char **ck)
{
    struct ebuf op = {0};
    eb_puts(&op, "<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ItemIds>");
    item_id(&op, id, NULL);
    eb_puts(&op, "</m:ItemIds></m:GetItem>");
    struct ews_simple s;
    outpost_status st = ews_call_simple(e, eb_str(&op), &s, "GetItem");
    eb_free(&op);
    *ck = NULL;
    if (st.code == OUTPOST_OK) {
        *ck = s.change_key;
        s.change_key = NULL;
    }
    ews_simple_free(&s);
    return st;
}

/* The ChangeKey an UpdateItem names: the one the change was based on or, when none is known
 * (ChangeKey is optional in the replies it came from), the item's current one. The EWS
 * reference: UpdateItem with AutoResolve (and NeverOverwrite) requires a ChangeKey, else
 * ErrorChangeKeyRequired. *owned is what the caller frees. */
static outpost_status update_key(struct ews *e, const outpost_change *c, const char **ck, char **owned)
{
    *owned = NULL;
    *ck = c->remote_version;
    if (c->remote_version && *c->remote_version)
        return outpost_ok();
    outpost_status st = current_key(e, c->remote_id, owned);
    *ck = *owned;
    return st;
}

static outpost_status write_flags(struct ews *e, const outpost_change *c, outpost_change_result *res)
{
    if (c->kind != OUTPOST_ITEM_MAIL) {
        eb_set(&e->res_id, c->remote_id);
        res->remote_id = eb_str(&e->res_id);
        res->remote_version = c->remote_version;
        return outpost_ok(); /* flags of other kinds stay local */
    }
    const char *ck;
    char *owned;
    outpost_status st = update_key(e, c, &ck, &owned);
    if (st.code != OUTPOST_OK)
        return st;
    struct ebuf op = {0};
    eb_puts(&op, "<m:UpdateItem ConflictResolution=\"AutoResolve\" MessageDisposition=\"SaveOnly\"><m:ItemChanges>"
                 "<t:ItemChange>");
    item_id(&op, c->remote_id, ck);
    free(owned);
    eb_printf(&op, "<t:Updates><t:SetItemField><t:FieldURI FieldURI=\"message:IsRead\"/><t:Message><t:IsRead>%s"
                   "</t:IsRead></t:Message></t:SetItemField>", c->flags & OUTPOST_FLAG_SEEN ? "true" : "false");
    if (ews_schema(e) >= EWS_V2013)
        eb_printf(&op, "<t:SetItemField><t:FieldURI FieldURI=\"item:Flag\"/><t:Message><t:Flag><t:FlagStatus>%s"
                       "</t:FlagStatus></t:Flag></t:Message></t:SetItemField>",
                  c->flags & OUTPOST_FLAG_FLAGGED ? "Flagged" : "NotFlagged");
    else if (c->flags & OUTPOST_FLAG_FLAGGED) {
        /* before Exchange 2013's item:Flag: PidTagFlagStatus, 2 = flagged */
        eb_puts(&op, "<t:SetItemField><t:ExtendedFieldURI PropertyTag=\"0x1090\" PropertyType=\"Integer\"/><t:Message>");
        ext_int(&op, "0x1090", 2);
        eb_puts(&op, "</t:Message></t:SetItemField>");
    } else {
        eb_puts(&op, "<t:DeleteItemField><t:ExtendedFieldURI PropertyTag=\"0x1090\" PropertyType=\"Integer\"/>"
                     "</t:DeleteItemField>");
    }
    int verb = last_verb(c->flags);
    if (verb) {
        eb_puts(&op, "<t:SetItemField><t:ExtendedFieldURI PropertyTag=\"0x1081\" PropertyType=\"Integer\"/><t:Message>");
        ext_int(&op, "0x1081", verb);
        eb_puts(&op, "</t:Message></t:SetItemField>");
    } else {
        eb_puts(&op, "<t:DeleteItemField><t:ExtendedFieldURI PropertyTag=\"0x1081\" PropertyType=\"Integer\"/>"
                     "</t:DeleteItemField>");
    }
    eb_puts(&op, "</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>");
    struct ews_simple s;
    st = ews_call_simple(e, eb_str(&op), &s, "UpdateItem (flags)");
    eb_free(&op);
    return st.code == OUTPOST_OK ? result(e, &s, c->remote_id, res) : st;
}

/* A reader over a spool (ews_spool_open), for content whose size is not known in advance or
 * that cannot be read twice. */
static outpost_status spool_read(void *ctx, void *buf, size_t cap, size_t *got)
{
    FILE *f = ctx;
    *got = fread(buf, 1, cap, f);
    if (!*got && ferror(f))
        return (outpost_status){OUTPOST_TEMP, 0, NULL};
    return outpost_ok();
}

static outpost_status spool_rewind(void *ctx)
{
    rewind(ctx);
    return outpost_ok();
}

/* CreateItem of a mail: the MimeContent is streamed from the content's reader, base64-encoded
 * in pieces while it is sent (a 50 MB mail never sits in memory, encoded or not). A reader of
 * unknown size, or one that cannot start over, is first copied to a spool (in memory up to
 * EWS_SPOOL_MEM, past that in a temporary file). */
static outpost_status create_mail(struct ews *e, const outpost_change *c, const char *folder, struct ews_simple *s)
{
    struct outpost_reader *rd = c->content, sp = {0};
    FILE *f = NULL;
    if (!rd)
        return ews_status(e, OUTPOST_BAD_DATA, "the change carries no content");
    outpost_status st = rd->rewind ? rd->rewind(rd->ctx) : outpost_ok();
    if (st.code != OUTPOST_OK)
        return st;
    if (rd->size == UINT64_MAX || !rd->rewind) {
        if (!(f = ews_spool_open(EWS_SPOOL_MEM)))
            return ews_status(e, OUTPOST_FATAL, "out of memory");
        char buf[65536];
        uint64_t total = 0;
        for (;;) {
            size_t got = 0;
            if ((st = rd->read(rd->ctx, buf, sizeof buf, &got)).code != OUTPOST_OK || !got)
                break;
            if (fwrite(buf, 1, got, f) != got) {
                st = ews_status(e, OUTPOST_TEMP, "the mail to create could not be kept (disk full?)");
                break;
            }
            total += got;
        }
        if (st.code == OUTPOST_OK && fflush(f))
            st = ews_status(e, OUTPOST_TEMP, "the mail to create could not be kept (disk full?)");
        if (st.code != OUTPOST_OK) {
            fclose(f);
            return st;
        }
        rewind(f);
        sp.ctx = f;
        sp.size = total;
        sp.read = spool_read;
        sp.rewind = spool_rewind;
        rd = &sp;
    }
    struct ebuf op = {0};
    eb_puts(&op, "<m:CreateItem MessageDisposition=\"SaveOnly\"><m:SavedItemFolderId>");
    folder_id(e, &op, folder);
    eb_puts(&op, "</m:SavedItemFolderId><m:Items><t:Message><t:MimeContent CharacterSet=\"UTF-8\">");
    struct ews_upload_src up = {rd, rd->size, op.len};
    eb_puts(&op, "</t:MimeContent>");
    ext_int(&op, "0x0E07", (c->flags & OUTPOST_FLAG_SEEN ? 1 : 0) | (c->flags & OUTPOST_FLAG_DRAFT ? 8 : 0));
    if (c->flags & OUTPOST_FLAG_FLAGGED)
        ext_int(&op, "0x1090", 2);
    if (last_verb(c->flags))
        ext_int(&op, "0x1081", last_verb(c->flags));
    eb_puts(&op, "</t:Message></m:Items></m:CreateItem>");
    if (op.oom)
        st = ews_status(e, OUTPOST_FATAL, "out of memory");
    else
        st = ews_call_simple_up(e, eb_str(&op), &up, s, "CreateItem");
    eb_free(&op);
    if (f)
        fclose(f);
    return st;
}

/* CreateItem of an item of another kind than mail, built from its iCalendar / vCard. */
static outpost_status create_other(struct ews *e, const outpost_change *c, const char *folder, struct ews_simple *s)
{
    struct ebuf content = {0}, op = {0}, item = {0};
    outpost_status st = read_all(e, c->content, &content);
    const char *why = NULL;
    if (st.code == OUTPOST_OK && ews_item_xml(c->kind, eb_str(&content), c->key, &item, &why))
        st = ews_status(e, OUTPOST_BAD_DATA, "cannot create the item: its content is unreadable (%s)",
                        why ? why : "out of memory");
    eb_free(&content);
    if (st.code == OUTPOST_OK) {
        eb_printf(&op, "<m:CreateItem%s%s><m:SavedItemFolderId>",
                  c->kind == OUTPOST_ITEM_EVENT ? " SendMeetingInvitations=\"SendToNone\"" : "",
                  c->kind == OUTPOST_ITEM_NOTE ? " MessageDisposition=\"SaveOnly\"" : "");
        folder_id(e, &op, folder);
        eb_puts(&op, "</m:SavedItemFolderId><m:Items>");
        eb_puts(&op, eb_str(&item));
        eb_puts(&op, "</m:Items></m:CreateItem>");
        st = ews_call_simple(e, eb_str(&op), s, "CreateItem");
    }
    eb_free(&item);
    eb_free(&op);
    return st;
}

/* CreateItem for one item of any kind into `folder`. */
static outpost_status create(struct ews *e, const outpost_change *c, const char *folder, outpost_change_result *res)
{
    struct ews_simple s;
    outpost_status st = c->kind == OUTPOST_ITEM_MAIL ? create_mail(e, c, folder, &s) : create_other(e, c, folder, &s);
    if (st.code != OUTPOST_OK)
        return st;
    if (!s.id) {
        ews_simple_free(&s);
        return ews_status(e, OUTPOST_BAD_DATA, "CreateItem: the server returned no item id");
    }
    return result(e, &s, NULL, res);
}

static outpost_status delete_once(struct ews *e, const char *id, const char *ck, int hard, int *wants_key)
{
    struct ebuf op = {0};
    eb_printf(&op, "<m:DeleteItem DeleteType=\"%s\" SendMeetingCancellations=\"SendToNone\" "
                   "AffectedTaskOccurrences=\"AllOccurrences\"><m:ItemIds>",
              hard ? "HardDelete" : "MoveToDeletedItems");
    item_id(&op, id, ck);
    eb_puts(&op, "</m:ItemIds></m:DeleteItem>");
    struct ews_simple s;
    outpost_status st = ews_call_simple(e, eb_str(&op), &s, "DeleteItem");
    eb_free(&op);
    *wants_key = st.code == OUTPOST_CONFLICT &&
                 (!strcmp(s.m.code, "ErrorStaleObject") || !strncmp(s.m.code, "ErrorChangeKeyRequired", 22));
    ews_simple_free(&s);
    return st;
}

/* DeleteItem names the item by its Id alone: the local delete wins over changes made on the
 * server meanwhile, and a ChangeKey the engine knows may be stale. The reference is of two
 * minds (the ItemId page asks a ChangeKey of UpdateItem and SendItem only; the ItemIdType of
 * other pages adds DeleteItem, answering ErrorStaleObject without one): a server that asks
 * for one gets the item's current one (GetItem IdOnly) and the delete is sent once more. */
static outpost_status delete_item(struct ews *e, const char *id, int hard)
{
    int wants_key = 0;
    outpost_status st = delete_once(e, id, NULL, hard, &wants_key);
    if (!wants_key)
        return st;
    char *ck = NULL;
    outpost_status ks = current_key(e, id, &ck);
    if (ks.code == OUTPOST_OK && ck && *ck)
        st = delete_once(e, id, ck, hard, &wants_key);
    else if (ks.code != OUTPOST_OK)
        st = ks; /* GONE when the item is gone already */
    free(ck);
    return st;
}

/* A stale ChangeKey may be our own earlier attempt of this very update, applied before its
 * reply was lost: when the server's item already says what the update would set, it is done
 * (OK with the server's ChangeKey); otherwise the CONFLICT stands. */
static outpost_status applied_before(struct ews *e, const outpost_change *c, const struct ebuf *upd,
                                     outpost_status conflict, outpost_change_result *res)
{
    struct ews_item it;
    if (ews_get_one(e, c->remote_id, c->kind, &it).code != OUTPOST_OK)
        return conflict;
    char *text = c->kind == OUTPOST_ITEM_CONTACT ? ews_to_vcard(&it) : ews_to_ical(&it, c->kind);
    struct ebuf now = {0};
    const char *why = NULL;
    int same = text && !ews_update_xml(c->kind, text, &now, &why) && !strcmp(eb_str(&now), eb_str(upd));
    free(text);
    eb_free(&now);
    if (same) {
        eb_set(&e->res_id, c->remote_id);
        eb_set(&e->res_version, it.change_key);
        res->remote_id = eb_str(&e->res_id);
        res->remote_version = it.change_key ? eb_str(&e->res_version) : NULL;
    }
    ews_item_free(&it);
    return same ? outpost_ok() : conflict;
}

static outpost_status write_update(struct ews *e, const outpost_change *c, outpost_change_result *res)
{
    if (c->kind == OUTPOST_ITEM_MAIL) {
        /* EWS cannot replace a message's MIME in place: a new item replaces the old one,
         * after checking that the server's copy is still the one the edit was based on. */
        char *ck = NULL;
        outpost_status st = current_key(e, c->remote_id, &ck);
        if (st.code != OUTPOST_OK)
            return st;
        int stale = c->remote_version && ck && strcmp(ck, c->remote_version) != 0;
        free(ck);
        if (stale)
            return ews_status(e, OUTPOST_CONFLICT, "UpdateItem: the message changed on the server since the local edit");
        st = create(e, c, c->folder_remote_id, res);
        if (st.code != OUTPOST_OK)
            return st;
        st = delete_item(e, c->remote_id, 1);
        if (st.code == OUTPOST_GONE)
            st = outpost_ok();
        return st;
    }
    struct ebuf content = {0}, upd = {0}, op = {0};
    outpost_status st = read_all(e, c->content, &content);
    const char *why = NULL;
    if (st.code == OUTPOST_OK && ews_update_xml(c->kind, eb_str(&content), &upd, &why))
        st = ews_status(e, OUTPOST_BAD_DATA, "cannot update the item: its content is unreadable (%s)",
                        why ? why : "out of memory");
    eb_free(&content);
    if (st.code != OUTPOST_OK) {
        eb_free(&upd);
        return st;
    }
    const char *ck;
    char *owned;
    st = update_key(e, c, &ck, &owned);
    if (st.code != OUTPOST_OK) {
        eb_free(&upd);
        return st;
    }
    eb_puts(&op, "<m:UpdateItem ConflictResolution=\"NeverOverwrite\" MessageDisposition=\"SaveOnly\" "
                 "SendMeetingInvitationsOrCancellations=\"SendToNone\"><m:ItemChanges><t:ItemChange>");
    item_id(&op, c->remote_id, ck);
    free(owned);
    eb_puts(&op, "<t:Updates>");
    eb_puts(&op, eb_str(&upd));
    eb_puts(&op, "</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>");
    struct ews_simple s;
    st = ews_call_simple(e, eb_str(&op), &s, "UpdateItem");
    eb_free(&op);
    if (st.code == OUTPOST_CONFLICT)
        st = applied_before(e, c, &upd, st, res);
    else if (st.code == OUTPOST_OK)
        st = result(e, &s, c->remote_id, res);
    eb_free(&upd);
    return st;
}

static outpost_status move_copy(struct ews *e, const outpost_change *c, outpost_change_result *res, int copy)
{
    struct ebuf op = {0};
    const char *el = copy ? "CopyItem" : "MoveItem";
    eb_printf(&op, "<m:%s><m:ToFolderId>", el);
    folder_id(e, &op, c->target_remote_id);
    eb_puts(&op, "</m:ToFolderId><m:ItemIds>");
    item_id(&op, c->remote_id, NULL);
    eb_puts(&op, "</m:ItemIds>");
    if (ews_schema(e) >= EWS_V2010_SP1) /* in the schema since Exchange 2010 SP1 */
        eb_puts(&op, "<m:ReturnNewItemIds>true</m:ReturnNewItemIds>");
    eb_printf(&op, "</m:%s>", el);
    struct ews_simple s;
    outpost_status st = ews_call_simple(e, eb_str(&op), &s, el);
    eb_free(&op);
    return st.code == OUTPOST_OK ? result(e, &s, NULL, res) : st;
}

static const char *folder_element(uint32_t kind)
{
    return kind == OUTPOST_ITEM_EVENT ? "CalendarFolder" : kind == OUTPOST_ITEM_CONTACT ? "ContactsFolder"
           : kind == OUTPOST_ITEM_TASK ? "TasksFolder" : "Folder";
}

static outpost_status folder_create(struct ews *e, const outpost_change *c, outpost_change_result *res)
{
    struct ebuf op = {0};
    const char *parent = c->folder_remote_id ? c->folder_remote_id : c->target_remote_id;
    const char *el = folder_element(c->kind);
    eb_puts(&op, "<m:CreateFolder><m:ParentFolderId>");
    folder_id(e, &op, parent);
    eb_printf(&op, "</m:ParentFolderId><m:Folders><t:%s>", el);
    if (!strcmp(el, "Folder"))
        eb_printf(&op, "<t:FolderClass>%s</t:FolderClass>", c->kind == OUTPOST_ITEM_NOTE ? "IPF.StickyNote" : "IPF.Note");
    eb_elem(&op, "t:DisplayName", c->name ? c->name : "");
    eb_printf(&op, "</t:%s></m:Folders></m:CreateFolder>", el);
    struct ews_simple s;
    outpost_status st = ews_call_simple(e, eb_str(&op), &s, "CreateFolder");
    eb_free(&op);
    if (st.code == OUTPOST_OK && !s.id) {
        ews_simple_free(&s);
        return ews_status(e, OUTPOST_BAD_DATA, "CreateFolder: the server returned no folder id");
    }
    return st.code == OUTPOST_OK ? result(e, &s, NULL, res) : st;
}

static outpost_status folder_rename(struct ews *e, const outpost_change *c, outpost_change_result *res)
{
    struct ews_simple s = {0};
    outpost_status st = outpost_ok();
    if (c->name) {
        struct ebuf op = {0};
        eb_puts(&op, "<m:UpdateFolder><m:FolderChanges><t:FolderChange>");
        folder_id(e, &op, c->remote_id);
        /* the folder element of the folder's own type, as SetFolderField offers them */
        const char *el = folder_element(c->kind);
        eb_printf(&op, "<t:Updates><t:SetFolderField><t:FieldURI FieldURI=\"folder:DisplayName\"/><t:%s>", el);
        eb_elem(&op, "t:DisplayName", c->name);
        eb_printf(&op, "</t:%s></t:SetFolderField></t:Updates></t:FolderChange></m:FolderChanges></m:UpdateFolder>", el);
        st = ews_call_simple(e, eb_str(&op), &s, "UpdateFolder");
        eb_free(&op);
    }
    /* "" is the top level: msgfolderroot */
    const char *to = c->target_remote_id && !*c->target_remote_id ? e->root_id : c->target_remote_id;
    if (st.code == OUTPOST_OK && to && (!c->folder_remote_id || strcmp(to, c->folder_remote_id) != 0)) {
        ews_simple_free(&s);
        struct ebuf op = {0};
        eb_puts(&op, "<m:MoveFolder><m:ToFolderId>");
        folder_id(e, &op, to);
        eb_puts(&op, "</m:ToFolderId><m:FolderIds>");
        folder_id(e, &op, c->remote_id);
        eb_puts(&op, "</m:FolderIds></m:MoveFolder>");
        st = ews_call_simple(e, eb_str(&op), &s, "MoveFolder");
        eb_free(&op);
    }
    return st.code == OUTPOST_OK ? result(e, &s, c->remote_id, res) : st;
}

static outpost_status folder_delete(struct ews *e, const outpost_change *c, outpost_change_result *res)
{
    struct ebuf op = {0};
    eb_puts(&op, "<m:DeleteFolder DeleteType=\"HardDelete\"><m:FolderIds>");
    folder_id(e, &op, c->remote_id);
    eb_puts(&op, "</m:FolderIds></m:DeleteFolder>");
    struct ews_simple s;
    outpost_status st = ews_call_simple(e, eb_str(&op), &s, "DeleteFolder");
    eb_free(&op);
    ews_simple_free(&s);
    res->remote_id = NULL;
    res->remote_version = NULL;
    return st;
}

outpost_status ews_write(struct ews *e, const outpost_change *c, outpost_change_result *res)
{
    res->remote_id = NULL;
    res->remote_version = NULL;
    int needs_id = c->op != OUTPOST_J_ITEM_CREATE && c->op != OUTPOST_J_FOLDER_CREATE;
    if (needs_id && !c->remote_id)
        return ews_status(e, OUTPOST_BAD_DATA, "the change names no remote object");
    if (!e->root_id) {
        outpost_status st = ews_learn_folders(e);
        if (st.code != OUTPOST_OK)
            return st;
    }
    switch (c->op) {
    case OUTPOST_J_ITEM_FLAGS:
        return write_flags(e, c, res);
    case OUTPOST_J_ITEM_UPDATE:
        return write_update(e, c, res);
    case OUTPOST_J_ITEM_CREATE:
        return create(e, c, c->folder_remote_id, res);
    case OUTPOST_J_ITEM_MOVE:
        return move_copy(e, c, res, 0);
    case OUTPOST_J_ITEM_COPY:
        return move_copy(e, c, res, 1);
    case OUTPOST_J_ITEM_DELETE:
        return delete_item(e, c->remote_id, (c->flags & OUTPOST_J_PERMANENT) != 0);
    case OUTPOST_J_FOLDER_CREATE:
        return folder_create(e, c, res);
    case OUTPOST_J_FOLDER_RENAME:
        return folder_rename(e, c, res);
    case OUTPOST_J_FOLDER_DELETE:
        return folder_delete(e, c, res);
    case OUTPOST_J_FOLDER_SUBSCRIBE:
        /* EWS has no subscription state: kept locally */
        eb_set(&e->res_id, c->remote_id);
        res->remote_id = eb_str(&e->res_id);
        return outpost_ok();
    default:
        return ews_status(e, OUTPOST_BAD_DATA, "unknown journal operation %u", c->op);
    }
}

/* One FindItem: the first item of `folder` whose property `field` (a FieldURI or
 * ExtendedFieldURI element) equals `value`; OK with it, GONE when none. */
static outpost_status find_by(struct ews *e, const char *folder, const char *field, const char *value, int bracket,
                              outpost_change_result *res)
{
    struct ebuf op = {0};
    eb_puts(&op, "<m:FindItem Traversal=\"Shallow\"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>"
                 "<m:IndexedPageItemView MaxEntriesReturned=\"1\" Offset=\"0\" BasePoint=\"Beginning\"/>"
                 "<m:Restriction><t:IsEqualTo>");
    eb_puts(&op, field);
    eb_puts(&op, "<t:FieldURIOrConstant><t:Constant Value=\"");
    if (bracket)
        eb_puts(&op, "&lt;");
    eb_xml(&op, value);
    if (bracket)
        eb_puts(&op, "&gt;");
    eb_puts(&op, "\"/></t:FieldURIOrConstant></t:IsEqualTo></m:Restriction><m:ParentFolderIds>");
    folder_id(e, &op, folder);
    eb_puts(&op, "</m:ParentFolderIds></m:FindItem>");
    struct ews_simple s;
    outpost_status st = ews_call_simple(e, eb_str(&op), &s, "FindItem");
    eb_free(&op);
    if (st.code != OUTPOST_OK)
        return st;
    if (!s.id) {
        ews_simple_free(&s);
        return ews_status(e, OUTPOST_GONE, "find: no item with that key");
    }
    return result(e, &s, NULL, res);
}

static const char outpost_key_uri[] = "<t:ExtendedFieldURI DistinguishedPropertySetId=\"PublicStrings\" "
                                      "PropertyName=\"OutpostKey\" PropertyType=\"String\"/>";

outpost_status ews_find(struct ews *e, const char *folder, uint32_t kind, const char *key, outpost_change_result *res)
{
    res->remote_id = NULL;
    res->remote_version = NULL;
    if (!key || !*key)
        return ews_status(e, OUTPOST_GONE, "find: no key");
    /* InternetMessageId keeps its angle brackets; the engine's key is the bare Message-ID. */
    if (kind == OUTPOST_ITEM_MAIL)
        return find_by(e, folder, "<t:FieldURI FieldURI=\"message:InternetMessageId\"/>", key, key[0] != '<', res);
    /* Every item we create carries its key in OutpostKey. Exchange refuses calendar:UID in a
     * restriction (ErrorUnsupportedPathForQuery and the like): an event is looked for by
     * OutpostKey first, then by UID where the server can (an event made elsewhere), a
     * server that cannot counting as "not found" */
    outpost_status st = find_by(e, folder, outpost_key_uri, key, 0, res);
    if (st.code != OUTPOST_GONE || kind != OUTPOST_ITEM_EVENT)
        return st;
    st = find_by(e, folder, "<t:FieldURI FieldURI=\"calendar:UID\"/>", key, 0, res);
    if (st.code == OUTPOST_BAD_DATA) {
        e->host->log(e->host, OUTPOST_LOG_INFO, "find by calendar:UID: %s", st.message ? st.message : "refused");
        return ews_status(e, OUTPOST_GONE, "find: no item with that key");
    }
    return st;
}
