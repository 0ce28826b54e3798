/* Mutations of the account with their journal entries (see ops.h). */
#include "ops.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "datetime.h"
#include "item_json.h"
#include "journal.h"
#include "store.h"
#include "util.h"

static void unread_changed(struct sim_store *s, int folder, long before)
{
	struct sim_folder *f = s->folders[folder];
	if (f->kind == KIND_MAIL && f->unread != before)
		journal_folder(s, CHT_CONTENT, f);
}

/* Resolves Mails.create attachments: upload ids or ids of existing attachments. */
static int resolve_attachments(struct sim_store *s, json_t *in, json_t **out, char *msg)
{
	json_t *res = json_array();
	size_t i;
	json_t *a;
	json_array_foreach(in, i, a) {
		const char *id = json_string_value(json_object_get(a, "id"));
		const char *name = json_string_value(json_object_get(a, "name"));
		const char *ctype = json_string_value(json_object_get(a, "contentType"));
		const char *cid = json_string_value(json_object_get(a, "contentId"));
		char part[32], src[300];
		int64_t size = 0;
		snprintf(part, sizeof part, "0-%zu", i + 1);
		struct sim_blob *b = id ? store_blob_get(s, id) : NULL;
		const char *have = json_string_value(json_object_get(a, "x-src"));
		if (have) {
			/* Already resolved: a stored mail's own attachments (sending a draft). */
			json_t *copy = json_deep_copy(a);
			json_object_set_new(copy, "id", json_string(part));
			json_array_append_new(res, copy);
			continue;
		}
		if (b) {
			snprintf(src, sizeof src, "blob:%s", b->id);
			size = (int64_t)b->len;
			if (!name || !*name)
				name = b->name;
			if (!ctype || !*ctype)
				ctype = b->ctype;
		} else if (id && !strncmp(id, "keriostorage://attachment/", 26)) {
			/* keriostorage://attachment/<dom>/<user>/<uuid>/<n>/<part> */
			const char *last = strrchr(id, '/');
			char mid[ID_MAX];
			snprintf(mid, sizeof mid, "keriostorage://mail/%s", id + 26);
			char *cut = strrchr(mid, '/');
			if (cut)
				*cut = 0;
			struct sim_item *it = store_item_by_id(s, mid, KIND_MAIL);
			struct att_src as;
			json_t *keep = NULL;
			if (!it || !last || item_attachment(s, it, last + 1, &as, &keep)) {
				snprintf(msg, OP_MSG, "Attachment %s doesn't exist.", id);
				json_decref(res);
				return 1002;
			}
			if (as.blob)
				snprintf(src, sizeof src, "blob:%s", as.blob->id);
			else
				snprintf(src, sizeof src, "gen:%u:%d", as.gen_k, as.gen_i);
			size = as.size;
			if (!name || !*name)
				name = as.name;
			if (!ctype || !*ctype)
				ctype = as.ctype;
			json_array_append_new(res, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "id",
							     part, "url", "", "name", name ? name : "",
							     "contentType", ctype ? ctype : "",
							     "contentId", cid ? cid : "", "size",
							     (json_int_t)size, "x-src", src));
			json_decref(keep);
			continue;
		} else {
			snprintf(msg, OP_MSG, "Uploaded file %s doesn't exist.", id ? id : "(none)");
			json_decref(res);
			return 1002;
		}
		json_array_append_new(res, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "id", part,
						     "url", "", "name", name ? name : "",
						     "contentType", ctype ? ctype : "",
						     "contentId", cid ? cid : "", "size",
						     (json_int_t)size, "x-src", src));
	}
	*out = res;
	return 0;
}

static void number_parts(json_t *parts, int has_attachments)
{
	size_t n = json_array_size(parts), i;
	json_t *p;
	json_array_foreach(parts, i, p) {
		char id[48];
		if (n == 1)
			snprintf(id, sizeof id, has_attachments ? "0-0" : "0");
		else
			snprintf(id, sizeof id, has_attachments ? "0-0-%zu" : "0-%zu", i);
		json_object_set_new(p, "id", json_string(id));
	}
}

static json_t *email_norm(json_t *e)
{
	const char *name = json_string_value(json_object_get(e, "name"));
	const char *addr = json_string_value(json_object_get(e, "address"));
	const char *cid = json_string_value(json_object_get(e, "contactId"));
	return json_pack("{s:s, s:s, s:s}", "name", name ? name : "", "address", addr ? addr : "",
			 "contactId", cid ? cid : "");
}

/* Kerio's Email members always carry name, address and contactId. */
static json_t *normalise_mail_member(const char *key, json_t *v)
{
	static const char *const one[] = {"from", "sender", "notificationTo", NULL};
	static const char *const many[] = {"to", "cc", "bcc", "replyTo", NULL};
	for (int i = 0; one[i]; i++)
		if (!strcmp(key, one[i]) && json_is_object(v))
			return email_norm(v);
	for (int i = 0; many[i]; i++)
		if (!strcmp(key, many[i]) && json_is_array(v)) {
			json_t *out = json_array();
			size_t j;
			json_t *e;
			json_array_foreach(v, j, e)
				if (json_is_object(e))
					json_array_append_new(out, email_norm(e));
			return out;
		}
	return json_deep_copy(v);
}

/* Copies the writable members of `in` into `data`; mail flags into *flags. */
static int apply_members(struct sim_store *s, enum sim_kind kind, json_t *data, json_t *in,
			 uint32_t *flags, int *content_changed, char *msg)
{
	const char *key;
	json_t *v;
	json_object_foreach(in, key, v) {
		if (kind == KIND_MAIL) {
			uint32_t bit = mail_flag_bit(key);
			if (bit) {
				*flags = json_is_true(v) ? (*flags | bit) : (*flags & ~bit);
				continue;
			}
			if (!strcmp(key, "attachments")) {
				json_t *atts;
				int rc = resolve_attachments(s, v, &atts, msg);
				if (rc)
					return rc;
				json_object_set_new(data, key, atts);
				*content_changed = 1;
				continue;
			}
			if (!strcmp(key, "headers")) {
				/* Message-ID is read-only; In-Reply-To and Resent-Message-ID are kept. */
				json_t *keep = json_array();
				size_t i;
				json_t *h;
				json_array_foreach(json_object_get(data, "headers"), i, h)
					if (json_string_value(json_object_get(h, "type")) &&
					    !strcmp(json_string_value(json_object_get(h, "type")),
						    "mhMessageID"))
						json_array_append(keep, h);
				json_array_foreach(v, i, h) {
					const char *t = json_string_value(json_object_get(h, "type"));
					if (t && strcmp(t, "mhMessageID"))
						json_array_append_new(keep, json_deep_copy(h));
				}
				json_object_set_new(data, key, keep);
				*content_changed = 1;
				continue;
			}
		}
		if (item_member_readonly(kind, key) || !json_object_get(data, key))
			continue; /* unknown members are ignored, as Kerio's JSON binding does */
		json_t *nv = kind == KIND_MAIL ? normalise_mail_member(key, v) : json_deep_copy(v);
		if (!json_equal(json_object_get(data, key), nv)) {
			json_object_set_new(data, key, nv);
			*content_changed = 1;
		} else {
			json_decref(nv);
		}
	}
	if (kind == KIND_MAIL) {
		json_t *atts = json_object_get(data, "attachments");
		number_parts(json_object_get(data, "displayableParts"), json_array_size(atts) > 0);
		json_object_set_new(data, "hasAttachment", json_boolean(json_array_size(atts) > 0));
	}
	return 0;
}

static int check_times(enum sim_kind kind, json_t *data, int64_t *date, char *msg)
{
	const char *key = kind == KIND_EVENT ? "start" : kind == KIND_TASK ? "start" : NULL;
	if (!key)
		return 0;
	const char *v = json_string_value(json_object_get(data, key));
	if (kind == KIND_EVENT) {
		if (!v || dt_parse(v, date)) {
			snprintf(msg, OP_MSG, "Event start '%s' is not a valid UtcDateTime.", v ? v : "");
			return -32602;
		}
		const char *e = json_string_value(json_object_get(data, "end"));
		int64_t t;
		if (e && *e && dt_parse(e, &t)) {
			snprintf(msg, OP_MSG, "Event end '%s' is not a valid UtcDateTime.", e);
			return -32602;
		}
	} else if (v && *v) {
		dt_parse(v, date);
	}
	return 0;
}

int op_item_create(struct sim_store *s, struct sim_folder *f, enum sim_kind kind, json_t *in,
		   int delivered, struct sim_item **out, char *msg)
{
	if (!json_is_object(in)) {
		snprintf(msg, OP_MSG, "Item must be an object.");
		return -32602;
	}
	if (!f || f->dead || f->kind != kind) {
		snprintf(msg, OP_MSG, "Folder is missing or of another type.");
		return f && !f->dead ? 1000 : 4104;
	}
	int64_t now = dt_now();
	json_t *data = item_defaults(s, kind);
	uint32_t flags = 0;
	int changed = 0;
	int rc = apply_members(s, kind, data, in, &flags, &changed, msg);
	int64_t date = now;
	if (!rc)
		rc = check_times(kind, data, &date, msg);
	if (rc) {
		json_decref(data);
		return rc;
	}
	struct sim_item *it = store_item_alloc(kind);
	it->date = date;
	it->mtime = now;
	if (kind == KIND_MAIL) {
		char d[20], mid[200], tok[17];
		random_token(tok, 8);
		snprintf(mid, sizeof mid, "<sim.%" PRId64 ".%s@%s>", s->wm + 1, tok, store_domain(s));
		json_t *hdrs = json_object_get(data, "headers");
		json_array_insert_new(hdrs, 0, json_pack("{s:s, s:s}", "type", "mhMessageID", "value",
							 mid));
		dt_format(now, d);
		if (delivered) {
			const char *rd = json_string_value(json_object_get(data, "receiveDate"));
			int64_t t;
			if (rd && *rd && dt_parse(rd, &t) == 0)
				it->date = t;
			else
				json_object_set_new(data, "receiveDate", json_string(d));
			const char *sd = json_string_value(json_object_get(data, "sendDate"));
			if (!sd || !*sd)
				json_object_set_new(data, "sendDate", json_string(d));
		}
		if (f->subtype == SUB_DRAFTS && !delivered)
			flags |= MF_DRAFT | MF_SEEN;
		it->size = mail_data_size(s, data);
	}
	if (kind == KIND_NOTE) {
		char d[20];
		dt_format(now, d);
		json_object_set_new(data, "createDate", json_string(d));
		json_object_set_new(data, "modifyDate", json_string(d));
	}
	it->flags = flags;
	it->data = data;
	long before = f->unread;
	store_item_attach(s, it, f);
	journal_item(s, CHT_CREATED, it, NULL, -1);
	unread_changed(s, f->idx, before);
	*out = it;
	return 0;
}

int op_item_set(struct sim_store *s, struct sim_item **itp, json_t *patch, int *moved, char *msg)
{
	struct sim_item *it = *itp;
	*moved = 0;
	if (!json_is_object(patch)) {
		snprintf(msg, OP_MSG, "Item must be an object.");
		return -32602;
	}
	/* Work on a copy so a failing patch changes nothing. */
	json_t *data = item_data(s, it, 1);
	json_t *copy = json_deep_copy(data);
	json_decref(data);
	uint32_t flags = it->flags;
	int changed = 0;
	int rc = apply_members(s, it->kind, copy, patch, &flags, &changed, msg);
	int64_t date = it->date;
	if (!rc && changed)
		rc = check_times(it->kind, copy, &date, msg);
	struct sim_folder *dst = NULL;
	const char *fid = json_string_value(json_object_get(patch, "folderId"));
	if (!rc && fid && *fid && strcmp(fid, s->folders[it->folder]->id)) {
		dst = store_folder_by_id(s, fid);
		if (!dst || dst->kind != it->kind) {
			snprintf(msg, OP_MSG, "Folder %s doesn't exist.", fid);
			rc = 4104;
		}
	}
	if (rc) {
		json_decref(copy);
		return rc;
	}
	if (changed || flags != it->flags) {
		int type = CHT_MODIFIED;
		if (!changed)
			type = (flags ^ it->flags) == MF_SEEN ? CHT_READFLAG : CHT_METADATA;
		long before = s->folders[it->folder]->unread;
		if (changed) {
			json_decref(it->data);
			it->data = copy;
			copy = NULL;
			it->date = date;
			if (it->kind == KIND_MAIL)
				store_item_set_size(s, it, mail_data_size(s, it->data));
			if (it->kind == KIND_NOTE) {
				char d[20];
				dt_format(dt_now(), d);
				json_object_set_new(it->data, "modifyDate", json_string(d));
			}
		}
		store_item_set_flags(s, it, flags);
		it->mtime = dt_now();
		s->generation++;
		journal_item(s, type, it, NULL, -1);
		unread_changed(s, it->folder, before);
	}
	json_decref(copy);
	if (dst) {
		rc = op_item_move(s, it, dst, msg);
		if (rc)
			return rc;
		*moved = 1;
	}
	return 0;
}

int op_item_move(struct sim_store *s, struct sim_item *it, struct sim_folder *dst, char *msg)
{
	if (!dst || dst->dead || dst->kind != it->kind) {
		snprintf(msg, OP_MSG, "Target folder doesn't exist or holds another item type.");
		return dst && !dst->dead ? 1000 : 4104;
	}
	if (dst->idx == it->folder)
		return 0;
	char old[ID_MAX];
	store_item_id(s, it, old, sizeof old);
	int src = it->folder;
	long before_src = s->folders[src]->unread, before_dst = dst->unread;
	store_item_detach(s, it);
	store_item_attach(s, it, dst);
	journal_item(s, CHT_MOVED, it, old, src);
	unread_changed(s, src, before_src);
	unread_changed(s, dst->idx, before_dst);
	return 0;
}

int op_item_copy(struct sim_store *s, struct sim_item *it, struct sim_folder *dst,
		 struct sim_item **out, char *msg)
{
	if (!dst || dst->dead || dst->kind != it->kind) {
		snprintf(msg, OP_MSG, "Target folder doesn't exist or holds another item type.");
		return dst && !dst->dead ? 1000 : 4104;
	}
	char old[ID_MAX];
	store_item_id(s, it, old, sizeof old);
	struct sim_item *c = store_item_alloc(it->kind);
	c->gen = it->gen;
	c->flags = it->flags;
	c->date = it->date;
	c->mtime = dt_now();
	c->size = it->size;
	c->data = it->data ? json_deep_copy(it->data) : NULL;
	long before = dst->unread;
	store_item_attach(s, c, dst);
	journal_item(s, CHT_COPIED, c, old, it->folder);
	unread_changed(s, dst->idx, before);
	*out = c;
	return 0;
}

void op_item_remove(struct sim_store *s, struct sim_item *it)
{
	char id[ID_MAX];
	store_item_id(s, it, id, sizeof id);
	int folder = it->folder;
	long before = s->folders[folder]->unread;
	store_item_detach(s, it);
	journal_deleted(s, it->kind, id, folder);
	unread_changed(s, folder, before);
	store_item_free(it);
}

static int has_user(struct sim_store *s, json_t *list)
{
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e) {
		const char *a = json_string_value(json_object_get(e, "address"));
		if (a && !strcasecmp(a, store_user_addr(s)))
			return 1;
	}
	return 0;
}

int op_mail_send(struct sim_store *s, json_t *in, struct sim_item **sent, char *msg)
{
	json_t *to = json_object_get(in, "to"), *cc = json_object_get(in, "cc"),
	       *bcc = json_object_get(in, "bcc");
	if (!json_array_size(to) && !json_array_size(cc) && !json_array_size(bcc)) {
		snprintf(msg, OP_MSG, "Failed to send email: no recipients.");
		return 4103;
	}
	int self = has_user(s, to) || has_user(s, cc) || has_user(s, bcc);
	json_t *copy = json_deep_copy(in);
	json_object_del(copy, "receiveDate");
	json_object_del(copy, "sendDate");
	json_t *from = json_object_get(copy, "from");
	if (!json_string_length(json_object_get(from, "address")))
		json_object_set_new(copy, "from", json_pack("{s:s, s:s, s:s}", "name",
							    s->cfg->full_name, "address",
							    store_user_addr(s), "contactId", ""));
	json_object_set_new(copy, "isSeen", json_true());
	struct sim_folder *sf = s->special[SUB_SENT] >= 0 ? s->folders[s->special[SUB_SENT]] : NULL;
	int rc = op_item_create(s, sf, KIND_MAIL, copy, 1, sent, msg);
	if (!rc && self && s->special[SUB_INBOX] >= 0) {
		struct sim_item *in_copy;
		json_object_set_new(copy, "isSeen", json_false());
		rc = op_item_create(s, s->folders[s->special[SUB_INBOX]], KIND_MAIL, copy, 1,
				    &in_copy, msg);
	}
	json_decref(copy);
	return rc;
}

static int name_taken(struct sim_store *s, int parent, const char *name, int except)
{
	for (size_t i = 0; i < s->nfolders; i++) {
		struct sim_folder *f = s->folders[i];
		if (!f->dead && f->parent == parent && f->idx != except && !strcmp(f->name, name))
			return 1;
	}
	return 0;
}

int op_folder_create(struct sim_store *s, struct sim_folder *parent, enum sim_kind kind,
		     const char *name, struct sim_folder **out, char *msg)
{
	if (!parent || parent->dead) {
		snprintf(msg, OP_MSG, "Parent folder doesn't exist.");
		return 4104;
	}
	if (!name || !*name || strchr(name, '/') || kind == KIND_ROOT) {
		snprintf(msg, OP_MSG, "Invalid folder name or type.");
		return -32602;
	}
	if (name_taken(s, parent->idx, name, -1)) {
		snprintf(msg, OP_MSG, "Folder '%s' already exists.", name);
		return 1001;
	}
	struct sim_folder *f = store_folder_new(s, parent->idx, kind, SUB_NONE, name, NULL);
	if (parent->place != PLACE_MAILBOX) /* a subfolder stays in its parent's place */
		store_folder_set_place(s, f, parent->place, parent->owner, parent->owner_name,
				       parent->owner_addr, parent->access);
	journal_folder(s, CHT_CREATED, f);
	*out = f;
	return 0;
}

static int is_protected(const struct sim_store *s, const struct sim_folder *f)
{
	return f->idx == s->root || f->subtype != SUB_NONE;
}

int op_folder_set(struct sim_store *s, struct sim_folder *f, const char *name,
		  struct sim_folder *parent, const char *color, char *msg)
{
	int changed = 0;
	if ((name && strcmp(name, f->name)) || (parent && parent->idx != f->parent)) {
		if (is_protected(s, f)) {
			snprintf(msg, OP_MSG, "Can't rename or move a default folder.");
			return 1003;
		}
		const char *nn = name ? name : f->name;
		int np = parent ? parent->idx : f->parent;
		if (!*nn || strchr(nn, '/')) {
			snprintf(msg, OP_MSG, "Invalid folder name.");
			return -32602;
		}
		if (parent && (parent->dead || store_folder_is_under(s, parent->idx, f->idx))) {
			snprintf(msg, OP_MSG, "Can't move a folder into itself.");
			return 1003;
		}
		if (name_taken(s, np, nn, f->idx)) {
			snprintf(msg, OP_MSG, "Folder '%s' already exists.", nn);
			return 1001;
		}
		char *dup = xstrdup(nn); /* nn may be f->name itself (a move keeps the name) */
		free(f->name);
		f->name = dup;
		f->parent = np;
		changed = 1;
	}
	if (color && strcmp(color, f->color)) {
		free(f->color);
		f->color = xstrdup(color);
		changed = 1;
	}
	if (changed)
		journal_folder(s, CHT_MODIFIED, f);
	return 0;
}

static void remove_tree(struct sim_store *s, struct sim_folder *f)
{
	for (size_t i = 0; i < s->nfolders; i++)
		if (!s->folders[i]->dead && s->folders[i]->parent == f->idx)
			remove_tree(s, s->folders[i]);
	for (size_t j = 0; j < f->len; j++)
		store_item_free(f->items[j]);
	f->len = 0;
	f->unread = 0;
	f->bytes = 0;
	f->dead = 1;
	s->generation++;
	journal_folder(s, CHT_DELETED, f);
}

int op_folder_remove(struct sim_store *s, struct sim_folder *f, int recursive, char *msg)
{
	if (is_protected(s, f)) {
		snprintf(msg, OP_MSG, "Can't delete default folder.");
		return 1003;
	}
	if (!recursive)
		for (size_t i = 0; i < s->nfolders; i++)
			if (!s->folders[i]->dead && s->folders[i]->parent == f->idx) {
				snprintf(msg, OP_MSG, "Folder has sub-folders; use recursive.");
				return 1003;
			}
	remove_tree(s, f);
	return 0;
}

void op_event_touch(struct sim_store *s, struct sim_item *it)
{
	it->mtime = dt_now();
	s->generation++;
	journal_item(s, CHT_MODIFIED, it, NULL, -1);
}
