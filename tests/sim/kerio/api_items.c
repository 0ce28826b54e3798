/* The generic item methods (get, getById, create, set, remove, copy, move) and the Contacts,
 * Tasks and Notes interfaces built from them. Mails and Events add their specifics in
 * api_mails.c and api_calendar.c. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "gen.h"
#include "item_json.h"
#include "ops.h"
#include "query.h"
#include "store.h"
#include "util.h"

int *items_folders(struct rpc_ctx *c, enum sim_kind kind, json_t *ids, size_t *n,
		   struct rpc_error *e)
{
	struct sim_store *s = c->s;
	int *out;
	if (!json_array_size(ids)) {
		/* No folder named: every folder of the kind. */
		out = xmalloc((s->nfolders + 1) * sizeof *out);
		*n = 0;
		for (size_t i = 0; i < s->nfolders; i++)
			if (!s->folders[i]->dead && s->folders[i]->kind == kind)
				out[(*n)++] = (int)i;
		return out;
	}
	out = xmalloc(json_array_size(ids) * sizeof *out);
	*n = 0;
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		struct sim_folder *f = store_folder_by_id(s, json_string_value(v));
		if (!f || f->kind != kind) {
			free(out);
			rpc_fail(e, 4104, "Folder %s doesn't exist.",
				 json_string_value(v) ? json_string_value(v) : "(not a string)");
			return NULL;
		}
		int dup = 0;
		for (size_t j = 0; j < *n; j++)
			dup |= out[j] == f->idx;
		if (!dup)
			out[(*n)++] = f->idx;
	}
	return out;
}

json_t *items_get(struct rpc_ctx *c, enum sim_kind kind, json_t *p, struct rpc_error *e)
{
	json_t *fids = json_object_get(p, "folderIds");
	if (!fids && kind == KIND_EVENT)
		fids = json_object_get(p, "ids");
	if (fids && !json_is_array(fids))
		return rpc_fail(e, -32602, "Invalid params: 'folderIds' must be an array.");
	struct query q;
	if (query_parse(json_object_get(p, "query"), &q))
		return rpc_fail(e, -32602, "Invalid params: malformed 'query'.");
	size_t nf;
	int *folders = items_folders(c, kind, fids, &nf, e);
	if (!folders)
		return NULL;
	size_t n;
	long total;
	struct sim_item **page = query_run(c->s, kind, folders, nf, &q, &n, &total);
	int content = query_wants(q.fields, "displayableParts");
	uint64_t mask = gen_mail_field_mask(q.fields, content);
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, item_json_reply(c->s, page[i], content, q.fields, mask));
	free(page);
	free(folders);
	return json_pack("{s:o, s:I}", "list", list, "totalItems", (json_int_t)total);
}

json_t *items_get_by_id(struct rpc_ctx *c, enum sim_kind kind, json_t *p, struct rpc_error *e)
{
	json_t *ids = json_object_get(p, "ids");
	if (!json_is_array(ids))
		return rpc_fail(e, -32602, "Invalid params: 'ids' must be an array.");
	json_t *errors = json_array(), *result = json_array();
	uint64_t mask = gen_mail_field_mask(NULL, 1);
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		struct sim_item *it = store_item_by_id(c->s, json_string_value(v), kind);
		if (!it) {
			json_array_append_new(errors, rpc_item_error((long)i, 1002,
								     "Item doesn't exist.",
								     json_string_value(v)));
			continue;
		}
		json_array_append_new(result, item_json_reply(c->s, it, 1, NULL, mask));
	}
	return rpc_batch_result(errors, result);
}

static struct sim_folder *default_folder(struct sim_store *s, enum sim_kind kind)
{
	int idx = kind == KIND_MAIL ? s->special[SUB_DRAFTS] : s->default_folder[kind];
	return idx >= 0 ? s->folders[idx] : NULL;
}

json_t *items_create(struct rpc_ctx *c, enum sim_kind kind, const char *list_key, json_t *p,
		     struct rpc_error *e)
{
	json_t *in = json_object_get(p, list_key);
	if (!json_is_array(in))
		return rpc_fail(e, -32602, "Invalid params: '%s' must be an array.", list_key);
	json_t *errors = json_array(), *result = json_array();
	size_t i;
	json_t *x;
	json_array_foreach(in, i, x) {
		char msg[OP_MSG] = "";
		const char *fid = json_string_value(json_object_get(x, "folderId"));
		struct sim_folder *f = fid && *fid ? store_folder_by_id(c->s, fid)
						   : kind == KIND_MAIL ? default_folder(c->s, kind)
								       : NULL;
		struct sim_item *it = NULL;
		int rc;
		if (!f) {
			rc = 4104;
			strcpy(msg, fid && *fid ? "Folder doesn't exist." : "Field 'folderId' must be set.");
		} else if (!(rc = items_write_denied(f, msg))) {
			rc = op_item_create(c->s, f, kind, x, 0, &it, msg);
		}
		if (rc) {
			json_array_append_new(errors, rpc_item_error((long)i, rc, msg, fid));
			continue;
		}
		char id[ID_MAX];
		store_item_id(c->s, it, id, sizeof id);
		c->items++;
		json_array_append_new(result, json_pack("{s:I, s:s, s:I}", "inputIndex", (json_int_t)i,
							"id", id, "watermark",
							(json_int_t)it->watermark));
	}
	return rpc_batch_result(errors, result);
}

json_t *items_set(struct rpc_ctx *c, enum sim_kind kind, const char *list_key, json_t *p,
		  struct rpc_error *e)
{
	json_t *in = json_object_get(p, list_key);
	if (!json_is_array(in))
		return rpc_fail(e, -32602, "Invalid params: '%s' must be an array.", list_key);
	json_t *errors = json_array(), *result = json_array();
	size_t i;
	json_t *x;
	json_array_foreach(in, i, x) {
		char msg[OP_MSG] = "";
		const char *id = json_string_value(json_object_get(x, "id"));
		struct sim_item *it = store_item_by_id(c->s, id, kind);
		if (!it) {
			json_array_append_new(errors, rpc_item_error((long)i, 1002,
								     "Item doesn't exist.", id));
			continue;
		}
		int moved = 0;
		int rc = items_write_denied(store_item_folder(c->s, it), msg);
		if (!rc)
			rc = op_item_set(c->s, &it, x, &moved, msg);
		if (rc) {
			json_array_append_new(errors, rpc_item_error((long)i, rc, msg, id));
			continue;
		}
		char nid[ID_MAX] = "";
		if (moved)
			store_item_id(c->s, it, nid, sizeof nid);
		c->items++;
		json_array_append_new(result, json_pack("{s:I, s:s, s:I}", "inputIndex", (json_int_t)i,
							"id", nid, "watermark",
							(json_int_t)it->watermark));
	}
	return rpc_batch_result(errors, result);
}

int items_write_denied(const struct sim_folder *f, char *msg)
{
	if (!f || (f->access != ACC_READONLY && f->access != ACC_LISTING))
		return 0;
	snprintf(msg, OP_MSG, "Access denied.");
	return 1004;
}

json_t *items_remove(struct rpc_ctx *c, enum sim_kind kind, json_t *p, struct rpc_error *e)
{
	json_t *ids = json_object_get(p, "ids");
	if (!json_is_array(ids))
		return rpc_fail(e, -32602, "Invalid params: 'ids' must be an array.");
	json_t *errors = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		struct sim_item *it = store_item_by_id(c->s, json_string_value(v), kind);
		if (!it) {
			json_array_append_new(errors, rpc_item_error((long)i, 1002,
								     "Item doesn't exist.",
								     json_string_value(v)));
			continue;
		}
		char msg[OP_MSG];
		int rc = items_write_denied(store_item_folder(c->s, it), msg);
		if (rc) {
			json_array_append_new(errors, rpc_item_error((long)i, rc, msg,
								     json_string_value(v)));
			continue;
		}
		op_item_remove(c->s, it);
		c->items++;
	}
	return rpc_batch_result(errors, NULL);
}

json_t *items_copy_move(struct rpc_ctx *c, enum sim_kind kind, int move, json_t *p,
			struct rpc_error *e)
{
	json_t *ids = json_object_get(p, "ids");
	const char *fid = json_string_value(json_object_get(p, "folder"));
	if (!json_is_array(ids) || !fid)
		return rpc_fail(e, -32602, "Invalid params: 'ids' (array) and 'folder' are required.");
	struct sim_folder *dst = store_folder_by_id(c->s, fid);
	if (!dst)
		return rpc_fail(e, 4104, "Folder %s doesn't exist.", fid);
	json_t *errors = json_array(), *result = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		char msg[OP_MSG] = "";
		struct sim_item *it = store_item_by_id(c->s, json_string_value(v), kind);
		if (!it) {
			json_array_append_new(errors, rpc_item_error((long)i, 1002,
								     "Item doesn't exist.",
								     json_string_value(v)));
			continue;
		}
		struct sim_item *res = it;
		int rc = items_write_denied(dst, msg);
		if (!rc && move)
			rc = items_write_denied(store_item_folder(c->s, it), msg);
		if (!rc)
			rc = move ? op_item_move(c->s, it, dst, msg) : op_item_copy(c->s, it, dst, &res, msg);
		if (rc) {
			json_array_append_new(errors, rpc_item_error((long)i, rc, msg,
								     json_string_value(v)));
			continue;
		}
		char id[ID_MAX];
		store_item_id(c->s, res, id, sizeof id);
		c->items++;
		json_array_append_new(result, json_pack("{s:I, s:s, s:I}", "inputIndex", (json_int_t)i,
							"id", id, "watermark",
							(json_int_t)res->watermark));
	}
	return rpc_batch_result(errors, result);
}

#define ITEM_METHODS(prefix, kind, key)                                                        \
	static json_t *prefix##_get(struct rpc_ctx *c, json_t *p, struct rpc_error *e)         \
	{ return items_get(c, kind, p, e); }                                                   \
	static json_t *prefix##_get_by_id(struct rpc_ctx *c, json_t *p, struct rpc_error *e)   \
	{ return items_get_by_id(c, kind, p, e); }                                             \
	static json_t *prefix##_create(struct rpc_ctx *c, json_t *p, struct rpc_error *e)      \
	{ return items_create(c, kind, key, p, e); }                                           \
	static json_t *prefix##_set(struct rpc_ctx *c, json_t *p, struct rpc_error *e)         \
	{ return items_set(c, kind, key, p, e); }                                              \
	static json_t *prefix##_remove(struct rpc_ctx *c, json_t *p, struct rpc_error *e)      \
	{ return items_remove(c, kind, p, e); }                                                \
	static json_t *prefix##_copy(struct rpc_ctx *c, json_t *p, struct rpc_error *e)        \
	{ return items_copy_move(c, kind, 0, p, e); }                                          \
	static json_t *prefix##_move(struct rpc_ctx *c, json_t *p, struct rpc_error *e)        \
	{ return items_copy_move(c, kind, 1, p, e); }

ITEM_METHODS(contacts, KIND_CONTACT, "contacts")
ITEM_METHODS(tasks, KIND_TASK, "tasks")
ITEM_METHODS(notes, KIND_NOTE, "notes")

#define W (RPC_WRITE | RPC_COUNT)
const struct rpc_method api_item_methods[] = {
	{"Contacts.get", contacts_get, 0},
	{"Contacts.getFromCache", contacts_get, 0},
	{"Contacts.getById", contacts_get_by_id, 0},
	{"Contacts.getByIdFromCache", contacts_get_by_id, 0},
	{"Contacts.create", contacts_create, W},
	{"Contacts.set", contacts_set, W},
	{"Contacts.remove", contacts_remove, W},
	{"Contacts.copy", contacts_copy, W},
	{"Contacts.move", contacts_move, W},
	{"Tasks.get", tasks_get, 0},
	{"Tasks.getById", tasks_get_by_id, 0},
	{"Tasks.create", tasks_create, W},
	{"Tasks.set", tasks_set, W},
	{"Tasks.remove", tasks_remove, W},
	{"Tasks.copy", tasks_copy, W},
	{"Tasks.move", tasks_move, W},
	{"Notes.get", notes_get, 0},
	{"Notes.getById", notes_get_by_id, 0},
	{"Notes.create", notes_create, W},
	{"Notes.set", notes_set, W},
	{"Notes.remove", notes_remove, W},
	{"Notes.copy", notes_copy, W},
	{"Notes.move", notes_move, W},
	{NULL, NULL, 0},
};
