/* Folders.* methods: get, create, set, remove, and the empty shared/public listings of a
 * single-user server. */
#include <string.h>

#include "api.h"
#include "ops.h"
#include "store.h"

json_t *folder_json(struct sim_store *s, const struct sim_folder *f)
{
	const char *parent = f->parent >= 0 ? s->folders[f->parent]->id : "";
	int root = f->kind == KIND_ROOT;
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:i}", "id",
			      f->id, "parentId", parent, "name", f->name, "ownerName", "",
			      "emailAddress", "", "type", sim_folder_type_name(f->kind), "subType",
			      sim_subtype_name(f->subtype), "placeType", "FPlaceMailbox", "access",
			      "FAccessAdmin", "isShared", 0, "isDelegated", 0, "nestingLevel",
			      store_folder_depth(s, f));
	json_object_set_new(o, "messageCount", json_integer(root ? 0 : (json_int_t)f->len));
	json_object_set_new(o, "messageUnread",
			    json_integer(f->kind == KIND_MAIL ? (json_int_t)f->unread : 0));
	json_object_set_new(o, "messageSize", json_integer(root ? 0 : f->bytes));
	json_object_set_new(o, "checked", json_true());
	json_object_set_new(o, "color", json_string(f->color));
	json_object_set_new(o, "published", json_false());
	return o;
}

static json_t *folders_get(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	(void)p;
	(void)e;
	json_t *list = json_array();
	for (size_t i = 0; i < c->s->nfolders; i++)
		if (!c->s->folders[i]->dead)
			json_array_append_new(list, folder_json(c->s, c->s->folders[i]));
	return json_pack("{s:o}", "list", list);
}

static json_t *folders_empty_list(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	(void)c;
	(void)p;
	(void)e;
	return json_pack("{s:[]}", "list");
}

static json_t *folders_shared_mailboxes(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	(void)c;
	(void)p;
	(void)e;
	return json_pack("{s:[]}", "mailboxes");
}

static json_t *folders_create(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	json_t *in = json_object_get(p, "folders");
	if (!json_is_array(in))
		return rpc_fail(e, -32602, "Invalid params: 'folders' must be an array.");
	json_t *errors = json_array(), *result = json_array();
	size_t i;
	json_t *f;
	json_array_foreach(in, i, f) {
		char msg[OP_MSG] = "";
		const char *pid = json_string_value(json_object_get(f, "parentId"));
		const char *type = json_string_value(json_object_get(f, "type"));
		struct sim_folder *parent = pid && *pid ? store_folder_by_id(c->s, pid)
							: c->s->folders[c->s->root];
		int kind = type ? sim_kind_from_folder_type(type) : KIND_MAIL;
		struct sim_folder *nf = NULL;
		int rc = kind < 0 ? (snprintf(msg, sizeof msg, "Unknown folder type."), -32602)
				  : op_folder_create(c->s, parent, (enum sim_kind)kind,
						     json_string_value(json_object_get(f, "name")),
						     &nf, msg);
		if (rc) {
			json_array_append_new(errors, rpc_item_error((long)i, rc, msg, NULL));
			continue;
		}
		const char *color = json_string_value(json_object_get(f, "color"));
		if (color)
			op_folder_set(c->s, nf, NULL, NULL, color, msg);
		c->items++;
		json_array_append_new(result, json_pack("{s:I, s:s, s:I}", "inputIndex", (json_int_t)i,
							"id", nf->id, "watermark",
							(json_int_t)c->s->wm));
	}
	return rpc_batch_result(errors, result);
}

static json_t *folders_set(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	json_t *in = json_object_get(p, "folders");
	if (!json_is_array(in))
		return rpc_fail(e, -32602, "Invalid params: 'folders' must be an array.");
	json_t *errors = json_array();
	size_t i;
	json_t *f;
	json_array_foreach(in, i, f) {
		char msg[OP_MSG] = "";
		const char *id = json_string_value(json_object_get(f, "id"));
		struct sim_folder *fo = store_folder_by_id(c->s, id);
		if (!fo) {
			json_array_append_new(errors, rpc_item_error((long)i, 4104,
								     "Folder doesn't exist.", id));
			continue;
		}
		const char *pid = json_string_value(json_object_get(f, "parentId"));
		struct sim_folder *parent = NULL;
		if (pid && *pid && strcmp(pid, fo->parent >= 0 ? c->s->folders[fo->parent]->id : "")) {
			parent = store_folder_by_id(c->s, pid);
			if (!parent) {
				json_array_append_new(errors, rpc_item_error((long)i, 4104,
									     "Parent folder doesn't exist.", pid));
				continue;
			}
		}
		int rc = op_folder_set(c->s, fo, json_string_value(json_object_get(f, "name")), parent,
				       json_string_value(json_object_get(f, "color")), msg);
		if (rc)
			json_array_append_new(errors, rpc_item_error((long)i, rc, msg, id));
		else
			c->items++;
	}
	return rpc_batch_result(errors, NULL);
}

static json_t *folders_remove(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	json_t *ids = json_object_get(p, "ids");
	if (!json_is_array(ids))
		return rpc_fail(e, -32602, "Invalid params: 'ids' must be an array.");
	int recursive = json_is_true(json_object_get(p, "recursive"));
	json_t *errors = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		char msg[OP_MSG] = "";
		const char *id = json_string_value(v);
		struct sim_folder *fo = store_folder_by_id(c->s, id);
		int rc = fo ? op_folder_remove(c->s, fo, recursive, msg) : 4104;
		if (!fo)
			strcpy(msg, "Folder doesn't exist.");
		if (rc)
			json_array_append_new(errors, rpc_item_error((long)i, rc, msg, id));
		else
			c->items++;
	}
	return rpc_batch_result(errors, NULL);
}

const struct rpc_method api_folder_methods[] = {
	{"Folders.get", folders_get, 0},
	{"Folders.getPublic", folders_empty_list, 0},
	{"Folders.getSubscribed", folders_empty_list, 0},
	{"Folders.getSharedMailboxList", folders_shared_mailboxes, 0},
	{"Folders.create", folders_create, RPC_WRITE | RPC_COUNT},
	{"Folders.set", folders_set, RPC_WRITE | RPC_COUNT},
	{"Folders.remove", folders_remove, RPC_WRITE | RPC_COUNT},
	{NULL, NULL, 0},
};
