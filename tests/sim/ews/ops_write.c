/* Write operations: CreateItem, UpdateItem, DeleteItem, MoveItem, CopyItem, CreateFolder,
 * UpdateFolder, MoveFolder, DeleteFolder. Callers hold sim.mu. Every applied change bumps a
 * mutation counter once ("item.create", "item.flags", ...; README "Counters"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "soap.h"

static void fix_unread(struct sim *s, struct sim_item *it, uint32_t before)
{
	struct sim_folder *f = s->folders[it->folder];
	if (it->kind != K_MAIL)
		return;
	if ((before & MF_READ) && !(it->flags & MF_READ))
		f->unread++;
	else if (!(before & MF_READ) && (it->flags & MF_READ))
		f->unread--;
}

static struct sim_item *item_ref(struct sim *s, xmlNodePtr n, const char **err)
{
	char *id = x_attr(n, "Id");
	uint64_t num;
	struct sim_item *it = NULL;
	*err = "ErrorItemNotFound";
	if (!x_is(n, NS_T, "ItemId") || id_parse_item(s, id, &num))
		*err = "ErrorInvalidIdMalformed";
	else
		it = store_item(s, num);
	free(id);
	return it;
}

static void item_result(struct sim *s, struct reply *r, struct sim_item *it)
{
	msg_ok_begin(r);
	buf_puts(&r->body, "<m:Items>");
	if (it)
		write_item_id(s, it, &r->body);
	buf_puts(&r->body, "</m:Items>");
	msg_end(r);
}

static const char *default_folder(enum sim_kind k)
{
	switch (k) {
	case K_EVENT: return "calendar";
	case K_CONTACT: return "contacts";
	case K_TASK: return "tasks";
	case K_NOTE: return "notes";
	default: return "drafts";
	}
}

void op_create_item(struct sim *s, xmlNodePtr req, struct reply *r)
{
	char *disp = x_attr(req, "MessageDisposition"), *smi = x_attr(req, "SendMeetingInvitations");
	const char *err = NULL;
	xmlNodePtr sf = x_child(x_child(req, NS_M, "SavedItemFolderId"), NS_T, NULL);
	struct sim_folder *saved = sf ? folder_ref(s, sf, &err) : NULL;
	for (xmlNodePtr el = x_child(x_child(req, NS_M, "Items"), NS_T, NULL); el; el = x_next(el, NS_T, NULL)) {
		enum sim_kind kind = x_is(el, NS_T, "Message") ? K_MAIL
				     : x_is(el, NS_T, "CalendarItem") ? K_EVENT
				     : x_is(el, NS_T, "Contact") ? K_CONTACT
				     : x_is(el, NS_T, "Task") ? K_TASK : K_NONE;
		if (kind == K_NONE) {
			msg_error(r, "ErrorInvalidRequest", "This item type is not supported by this server.", 0, NULL);
			continue;
		}
		if (sf && !saved) {
			msg_error(r, err, NULL, 0, NULL);
			continue;
		}
		if (kind == K_MAIL && !disp) {
			msg_error(r, "ErrorMessageDispositionRequired", NULL, 0, NULL);
			continue;
		}
		if (kind == K_EVENT && !smi) {
			msg_error(r, "ErrorSendMeetingInvitationsRequired", NULL, 0, NULL);
			continue;
		}
		json_t *props = json_object();
		struct item_flags fl;
		unsigned char *mime = NULL;
		size_t mime_len = 0;
		if (parse_item(s, el, props, &fl, &mime, &mime_len, &err)) {
			json_decref(props);
			msg_error(r, err, NULL, 0, NULL);
			continue;
		}
		const char *ic = json_string_value(json_object_get(props, "itemClass"));
		if (kind == K_MAIL && ic && !strcmp(ic, "IPM.StickyNote"))
			kind = K_NOTE;
		if (kind == K_MAIL) {
			if (mime) {
				props_from_mime(props, mime, mime_len);
			} else {
				struct buf m = {0};
				buf_puts(&m, "Subject: ");
				buf_puts(&m, str_or_empty(json_string_value(json_object_get(props, "subject"))));
				buf_puts(&m, "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n");
				buf_puts(&m, str_or_empty(json_string_value(json_object_get(props, "body"))));
				mime_len = m.len;
				mime = (unsigned char *)buf_steal(&m);
			}
		}
		int send = kind == K_MAIL && disp && strcmp(disp, "SaveOnly") != 0;
		if (send)
			counters_mutation(s->counters, "mail.send");
		if (send && !strcmp(disp, "SendOnly")) {
			json_decref(props);
			free(mime);
			r->applied++;
			item_result(s, r, NULL);
			continue;
		}
		struct sim_folder *to = saved ? saved : store_folder_dist(s, send ? "sentitems" : default_folder(kind));
		struct sim_item *it = store_item_new(s, to, kind, 0, props);
		it->mime = mime;
		it->mime_len = mime_len;
		it->date = (int64_t)time(NULL);
		if (kind == K_EVENT)
			it->date = json_integer_value(json_object_get(props, "start"));
		uint32_t before = it->flags;
		if (kind == K_MAIL && fl.msg_flags < 0 && fl.read < 0)
			it->flags = send ? MF_READ : MF_READ | MF_DRAFT; /* MIME saved without PR_MESSAGE_FLAGS is a draft */
		int rc, oc;
		apply_flags(it, &fl, &rc, &oc);
		fix_unread(s, it, before);
		counters_mutation(s->counters, "item.create");
		r->applied++;
		item_result(s, r, send ? NULL : it);
	}
	free(disp);
	free(smi);
}

/* FieldURI → property key. */
static const struct {
	const char *uri, *key;
} field_keys[] = {
	{"item:Subject", "subject"}, {"item:Body", "body"}, {"calendar:Start", "start"},
	{"calendar:End", "end"}, {"calendar:IsAllDayEvent", "allDay"}, {"calendar:Location", "location"},
	{"calendar:Recurrence", "recurrence"}, {"calendar:UID", "uid"}, {"contacts:GivenName", "givenName"},
	{"contacts:Surname", "surname"}, {"contacts:DisplayName", "displayName"},
	{"contacts:CompanyName", "company"}, {"contacts:JobTitle", "jobTitle"},
	{"contacts:Birthday", "birthday"}, {"task:StartDate", "start"}, {"task:DueDate", "due"},
	{"task:Status", "status"}, {"task:PercentComplete", "percent"}, {"task:CompleteDate", "completed"},
	{"item:ItemClass", "itemClass"}};

static int is_flag_field(xmlNodePtr uri)
{
	unsigned f = field_of(uri);
	return f & (FLD_ISREAD | FLD_FLAG | FLD_X_FLAGSTATUS | FLD_X_LASTVERB | FLD_X_MSGFLAGS);
}

/* Applies one SetItemField / DeleteItemField to `it`; returns 1 when content changed. */
static int apply_update(struct sim *s, struct sim_item *it, xmlNodePtr upd, struct item_flags *acc, const char **err)
{
	xmlNodePtr uri = x_child(upd, NS_T, NULL);
	int del = x_is(upd, NS_T, "DeleteItemField");
	if (is_flag_field(uri)) {
		unsigned f = field_of(uri);
		if (del) {
			if (f & (FLD_FLAG | FLD_X_FLAGSTATUS))
				acc->flag_status = 0;
			if (f & FLD_X_LASTVERB)
				acc->last_verb = 0;
			if (f & FLD_ISREAD)
				acc->read = 0;
			return 0;
		}
		struct item_flags fl;
		json_t *tmp = json_object();
		parse_item(s, x_next(uri, NS_T, NULL), tmp, &fl, NULL, NULL, err);
		json_decref(tmp);
		if (fl.read >= 0)
			acc->read = fl.read;
		if (fl.flag_status >= 0)
			acc->flag_status = fl.flag_status;
		if (fl.last_verb >= 0)
			acc->last_verb = fl.last_verb;
		if (fl.msg_flags >= 0)
			acc->msg_flags = fl.msg_flags;
		return 0;
	}
	json_t *props = store_item_props(s, it);
	char *furi = x_attr(uri, "FieldURI"), *index = x_attr(uri, "FieldIndex"), *pname = x_attr(uri, "PropertyName");
	int changed = 0;
	if (x_is(uri, NS_T, "ExtendedFieldURI") && pname && !strcmp(pname, "OutpostKey")) {
		if (del) {
			json_object_del(props, "key");
		} else {
			struct item_flags fl;
			parse_item(s, x_next(uri, NS_T, NULL), props, &fl, NULL, NULL, err);
		}
		changed = 1;
	} else if (x_is(uri, NS_T, "IndexedFieldURI") && furi && index) {
		json_t *tmp = json_object();
		struct item_flags fl;
		if (!del)
			parse_item(s, x_next(uri, NS_T, NULL), tmp, &fl, NULL, NULL, err);
		if (!strcmp(furi, "contacts:EmailAddress") && !strncmp(index, "EmailAddress", 12)) {
			size_t i = (size_t)atoi(index + 12);
			json_t *a = json_object_get(props, "emails");
			if (!json_is_array(a)) {
				a = json_array();
				json_object_set_new(props, "emails", a);
			}
			json_t *v = json_array_get(json_object_get(tmp, "emails"), i - 1);
			if (i >= 1 && i <= 3) {
				while (json_array_size(a) < i)
					json_array_append_new(a, json_null());
				json_array_set(a, i - 1, v ? v : json_null());
			}
		} else if (!strcmp(furi, "contacts:PhoneNumber")) {
			const char *key = !strcmp(index, "BusinessPhone") ? "business"
					  : !strcmp(index, "MobilePhone") ? "mobile"
					  : !strcmp(index, "HomePhone") ? "home" : NULL;
			json_t *o = json_object_get(props, "phones");
			if (!json_is_object(o)) {
				o = json_object();
				json_object_set_new(props, "phones", o);
			}
			json_t *v = json_object_get(json_object_get(tmp, "phones"), key ? key : "");
			if (key && v)
				json_object_set(o, key, v);
			else if (key)
				json_object_del(o, key);
		}
		json_decref(tmp);
		changed = 1;
	} else if (furi) {
		const char *key = NULL;
		for (size_t i = 0; i < sizeof field_keys / sizeof *field_keys; i++)
			if (!strcmp(field_keys[i].uri, furi))
				key = field_keys[i].key;
		if (key && it->kind == K_CONTACT && !strcmp(key, "body"))
			key = "notes";
		if (!key) {
			*err = "ErrorInvalidPropertySet";
		} else if (del) {
			json_object_del(props, key);
			changed = 1;
		} else {
			json_t *tmp = json_object();
			struct item_flags fl;
			parse_item(s, x_next(uri, NS_T, NULL), tmp, &fl, NULL, NULL, err);
			json_t *v = json_object_get(tmp, key);
			if (v)
				json_object_set(props, key, v);
			json_decref(tmp);
			changed = 1;
		}
	}
	free(furi);
	free(index);
	free(pname);
	return changed;
}

void op_update_item(struct sim *s, xmlNodePtr req, struct reply *r)
{
	char *cr = x_attr(req, "ConflictResolution");
	int mode = !cr || !strcmp(cr, "AutoResolve") ? 1 : !strcmp(cr, "NeverOverwrite") ? 0 : 2;
	free(cr);
	/* required per item kind (UpdateItem reference): MessageDisposition for messages,
	 * SendMeetingInvitationsOrCancellations for calendar items */
	char *disp = x_attr(req, "MessageDisposition"), *smic = x_attr(req, "SendMeetingInvitationsOrCancellations");
	int has_disp = disp != NULL, has_smic = smic != NULL;
	free(disp);
	free(smic);
	for (xmlNodePtr ch = x_child(x_child(req, NS_M, "ItemChanges"), NS_T, "ItemChange"); ch;
	     ch = x_next(ch, NS_T, "ItemChange")) {
		const char *err;
		xmlNodePtr idn = x_child(ch, NS_T, NULL);
		struct sim_item *it = item_ref(s, idn, &err);
		if (!it) {
			msg_error(r, err, NULL, 0, NULL);
			continue;
		}
		if ((it->kind == K_MAIL || it->kind == K_NOTE) && !has_disp) {
			msg_error(r, "ErrorMessageDispositionRequired", NULL, 0, NULL);
			continue;
		}
		if (it->kind == K_EVENT && !has_smic) {
			msg_error(r, "ErrorSendMeetingInvitationsOrCancellationsRequired", NULL, 0, NULL);
			continue;
		}
		xmlNodePtr updates = x_child(ch, NS_T, "Updates");
		int flag_only = 1;
		for (xmlNodePtr u = x_child(updates, NS_T, NULL); u; u = x_next(u, NS_T, NULL))
			flag_only &= is_flag_field(x_child(u, NS_T, NULL)) != 0;
		char *ck = x_attr(idn, "ChangeKey");
		uint64_t ckcn = 0;
		if (!ck && mode != 2) {
			msg_error(r, "ErrorChangeKeyRequiredForWriteOperations", NULL, 0, NULL);
			continue;
		}
		if (ck && id_parse_changekey(s, ck, &ckcn)) {
			free(ck);
			msg_error(r, "ErrorInvalidChangeKey", "The change key is invalid.", 0, NULL);
			continue;
		}
		free(ck);
		if (ckcn && ckcn != it->cn &&
		    (mode == 0 || (mode == 1 && (!flag_only || it->data_cn > ckcn)))) {
			msg_error(r, "ErrorIrresolvableConflict", NULL, 0, NULL);
			continue;
		}
		struct item_flags acc = {-1, -1, -1, -1};
		int content = 0;
		err = NULL;
		for (xmlNodePtr u = x_child(updates, NS_T, NULL); u; u = x_next(u, NS_T, NULL))
			content |= apply_update(s, it, u, &acc, &err);
		uint32_t before = it->flags;
		int rc = 0, oc = 0;
		apply_flags(it, &acc, &rc, &oc);
		fix_unread(s, it, before);
		if (content && it->kind == K_EVENT) {
			json_t *p = store_item_props(s, it);
			it->date = json_integer_value(json_object_get(p, "start"));
		}
		store_item_touch(s, it, content || oc || !rc ? 0 : 1);
		if (content)
			it->content_cn = it->data_cn = it->cn;
		counters_mutation(s->counters, flag_only ? "item.flags" : "item.update");
		r->applied++;
		msg_ok_begin(r);
		buf_puts(&r->body, "<m:Items>");
		write_item_id(s, it, &r->body);
		buf_puts(&r->body, "</m:Items><m:ConflictResults><t:Count>0</t:Count></m:ConflictResults>");
		msg_end(r);
	}
}

void op_delete_item(struct sim *s, xmlNodePtr req, struct reply *r)
{
	char *type = x_attr(req, "DeleteType"), *smc = x_attr(req, "SendMeetingCancellations"),
	     *ato = x_attr(req, "AffectedTaskOccurrences");
	if (!type || (strcmp(type, "HardDelete") && strcmp(type, "SoftDelete") && strcmp(type, "MoveToDeletedItems"))) {
		soap_fault(r, "ErrorSchemaValidation",
			   "The request failed schema validation: The required attribute 'DeleteType' is missing or invalid.", 0);
		goto out;
	}
	struct sim_folder *trash = store_folder_dist(s, "deleteditems");
	for (xmlNodePtr n = x_child(x_child(req, NS_M, "ItemIds"), NS_T, NULL); n; n = x_next(n, NS_T, NULL)) {
		const char *err;
		struct sim_item *it = item_ref(s, n, &err);
		if (!it) {
			msg_error(r, err, NULL, 0, NULL);
			continue;
		}
		if (it->kind == K_EVENT && !smc) {
			msg_error(r, "ErrorSendMeetingCancellationsRequired", NULL, 0, NULL);
			continue;
		}
		if (it->kind == K_TASK && !ato) {
			msg_error(r, "ErrorAffectedTaskOccurrencesRequired", NULL, 0, NULL);
			continue;
		}
		struct sim_folder *f = s->folders[it->folder];
		if (!strcmp(type, "MoveToDeletedItems") && trash && f != trash && !store_folder_is_under(s, f, trash)) {
			store_item_move(s, it, trash);
			counters_mutation(s->counters, "item.trash");
		} else {
			store_item_remove(s, it);
			counters_mutation(s->counters, "item.delete");
		}
		r->applied++;
		msg_ok_begin(r);
		msg_end(r);
	}
out:
	free(type);
	free(smc);
	free(ato);
}

static void move_or_copy(struct sim *s, xmlNodePtr req, struct reply *r, int copy)
{
	const char *err;
	struct sim_folder *to = folder_ref(s, x_child(x_child(req, NS_M, "ToFolderId"), NS_T, NULL), &err);
	char *rn = x_text(x_child(req, NS_M, "ReturnNewItemIds"));
	int ret = !rn || strcmp(rn, "false") != 0;
	free(rn);
	for (xmlNodePtr n = x_child(x_child(req, NS_M, "ItemIds"), NS_T, NULL); n; n = x_next(n, NS_T, NULL)) {
		const char *ierr;
		struct sim_item *it = item_ref(s, n, &ierr);
		if (!to) {
			msg_error(r, err, NULL, 0, NULL);
			continue;
		}
		if (!it) {
			msg_error(r, ierr, NULL, 0, NULL);
			continue;
		}
		struct sim_item *c = copy ? store_item_copy(s, it, to) : store_item_move(s, it, to);
		counters_mutation(s->counters, copy ? "item.copy" : "item.move");
		r->applied++;
		item_result(s, r, ret ? c : NULL);
	}
}

void op_move_item(struct sim *s, xmlNodePtr req, struct reply *r) { move_or_copy(s, req, r, 0); }
void op_copy_item(struct sim *s, xmlNodePtr req, struct reply *r) { move_or_copy(s, req, r, 1); }

static void folder_result(struct sim *s, struct reply *r, struct sim_folder *f)
{
	msg_ok_begin(r);
	buf_puts(&r->body, "<m:Folders>");
	write_folder(s, f, 0, &r->body);
	buf_puts(&r->body, "</m:Folders>");
	msg_end(r);
}

static int name_taken(struct sim *s, int parent, const char *name, const struct sim_folder *self)
{
	for (size_t i = 0; i < s->nfolders; i++) {
		struct sim_folder *f = s->folders[i];
		if (!f->dead && f != self && f->parent == parent && !strcasecmp(f->name, name))
			return 1;
	}
	return 0;
}

static const char *class_const(const char *c, enum sim_kind *kind)
{
	static const struct { const char *c; enum sim_kind k; } cls[] = {
		{"IPF.Note", K_MAIL}, {"IPF.Appointment", K_EVENT}, {"IPF.Contact", K_CONTACT},
		{"IPF.Task", K_TASK}, {"IPF.StickyNote", K_NOTE}};
	for (size_t i = 0; i < sizeof cls / sizeof *cls; i++)
		if (c && !strncmp(c, cls[i].c, strlen(cls[i].c))) {
			*kind = cls[i].k;
			return cls[i].c;
		}
	*kind = K_MAIL;
	return "IPF.Note";
}

void op_create_folder(struct sim *s, xmlNodePtr req, struct reply *r)
{
	const char *err;
	struct sim_folder *parent = folder_ref(s, x_child(x_child(req, NS_M, "ParentFolderId"), NS_T, NULL), &err);
	for (xmlNodePtr el = x_child(x_child(req, NS_M, "Folders"), NS_T, NULL); el; el = x_next(el, NS_T, NULL)) {
		if (!parent) {
			msg_error(r, err, NULL, 0, NULL);
			continue;
		}
		char *name = x_text(x_child(el, NS_T, "DisplayName")), *cls = x_text(x_child(el, NS_T, "FolderClass"));
		enum sim_kind kind;
		const char *c = x_is(el, NS_T, "CalendarFolder") ? class_const("IPF.Appointment", &kind)
				: x_is(el, NS_T, "ContactsFolder") ? class_const("IPF.Contact", &kind)
				: x_is(el, NS_T, "TasksFolder") ? class_const("IPF.Task", &kind)
								 : class_const(cls ? cls : "IPF.Note", &kind);
		if (!name || !*name)
			msg_error(r, "ErrorInvalidRequest", "A folder needs a DisplayName.", 0, NULL);
		else if (x_is(el, NS_T, "SearchFolder"))
			msg_error(r, "ErrorInvalidRequest", "Search folders are not supported by this server.", 0, NULL);
		else if (name_taken(s, parent->idx, name, NULL))
			msg_error(r, "ErrorFolderExists", NULL, 0, NULL);
		else {
			struct sim_folder *f = store_folder_new(s, parent->idx, kind, name, NULL, c);
			counters_mutation(s->counters, "folder.create");
			r->applied++;
			folder_result(s, r, f);
		}
		free(name);
		free(cls);
	}
}

void op_update_folder(struct sim *s, xmlNodePtr req, struct reply *r)
{
	for (xmlNodePtr ch = x_child(x_child(req, NS_M, "FolderChanges"), NS_T, "FolderChange"); ch;
	     ch = x_next(ch, NS_T, "FolderChange")) {
		const char *err;
		struct sim_folder *f = folder_ref(s, x_child(ch, NS_T, NULL), &err);
		if (!f) {
			msg_error(r, err, NULL, 0, NULL);
			continue;
		}
		char *name = NULL;
		for (xmlNodePtr u = x_child(x_child(ch, NS_T, "Updates"), NS_T, "SetFolderField"); u;
		     u = x_next(u, NS_T, "SetFolderField")) {
			char *furi = x_attr(x_child(u, NS_T, "FieldURI"), "FieldURI");
			if (furi && !strcmp(furi, "folder:DisplayName")) {
				free(name);
				name = x_text(x_child(x_next(x_child(u, NS_T, NULL), NS_T, NULL), NS_T, "DisplayName"));
			}
			free(furi);
		}
		if (!name || !*name) {
			msg_error(r, "ErrorInvalidPropertySet", NULL, 0, NULL);
		} else if (name_taken(s, f->parent, name, f)) {
			msg_error(r, "ErrorFolderExists", NULL, 0, NULL);
		} else {
			free(f->name);
			f->name = xstrdup(name);
			store_folder_touch(s, f);
			counters_mutation(s->counters, "folder.rename");
			r->applied++;
			folder_result(s, r, f);
		}
		free(name);
	}
}

void op_move_folder(struct sim *s, xmlNodePtr req, struct reply *r)
{
	const char *err;
	struct sim_folder *to = folder_ref(s, x_child(x_child(req, NS_M, "ToFolderId"), NS_T, NULL), &err);
	for (xmlNodePtr n = x_child(x_child(req, NS_M, "FolderIds"), NS_T, NULL); n; n = x_next(n, NS_T, NULL)) {
		const char *ferr;
		struct sim_folder *f = folder_ref(s, n, &ferr);
		if (!to || !f) {
			msg_error(r, !to ? err : ferr, NULL, 0, NULL);
		} else if (f->dist) {
			msg_error(r, "ErrorMoveDistinguishedFolder", "Distinguished folders cannot be moved.", 0, NULL);
		} else if (to == f || store_folder_is_under(s, to, f)) {
			msg_error(r, "ErrorMoveCopyFailed", NULL, 0, NULL);
		} else if (name_taken(s, to->idx, f->name, f)) {
			msg_error(r, "ErrorFolderExists", NULL, 0, NULL);
		} else {
			f->parent = to->idx;
			store_folder_touch(s, f);
			counters_mutation(s->counters, "folder.move");
			r->applied++;
			folder_result(s, r, f);
		}
	}
}

void op_delete_folder(struct sim *s, xmlNodePtr req, struct reply *r)
{
	char *type = x_attr(req, "DeleteType");
	if (!type || (strcmp(type, "HardDelete") && strcmp(type, "SoftDelete") && strcmp(type, "MoveToDeletedItems"))) {
		free(type);
		soap_fault(r, "ErrorSchemaValidation",
			   "The request failed schema validation: The required attribute 'DeleteType' is missing or invalid.", 0);
		return;
	}
	struct sim_folder *trash = store_folder_dist(s, "deleteditems");
	for (xmlNodePtr n = x_child(x_child(req, NS_M, "FolderIds"), NS_T, NULL); n; n = x_next(n, NS_T, NULL)) {
		const char *err;
		struct sim_folder *f = folder_ref(s, n, &err);
		if (!f) {
			msg_error(r, err, NULL, 0, NULL);
			continue;
		}
		if (f->dist) {
			msg_error(r, "ErrorDeleteDistinguishedFolder", NULL, 0, NULL);
			continue;
		}
		if (!strcmp(type, "MoveToDeletedItems") && trash && !store_folder_is_under(s, f, trash)) {
			f->parent = trash->idx;
			store_folder_touch(s, f);
		} else {
			store_folder_remove(s, f);
		}
		counters_mutation(s->counters, "folder.delete");
		r->applied++;
		msg_ok_begin(r);
		msg_end(r);
	}
	free(type);
}
