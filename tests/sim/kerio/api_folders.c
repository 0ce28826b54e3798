/* Folders.* methods: get, create, set, remove; the public folders and the subscribed folders
 * of another user (--shared; empty listings otherwise). */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "ops.h"
#include "store.h"

json_t *folder_json(struct sim_store *s, const struct sim_folder *f)
{
	const char *parent = f->parent >= 0 ? s->folders[f->parent]->id : "";
	int root = f->kind == KIND_ROOT;
	/* ownerName/emailAddress: "available only for 'FPlacePeople', 'FPlaceResources' and
	 * 'FPlaceLocations'" (IDL) */
	int people = f->place == PLACE_PEOPLE;
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:i}", "id",
			      f->id, "parentId", parent, "name", f->name, "ownerName",
			      people && f->owner_name ? f->owner_name : "", "emailAddress",
			      people && f->owner_addr ? f->owner_addr : "", "type",
			      sim_folder_type_name(f->kind), "subType", sim_subtype_name(f->subtype),
			      "placeType", sim_place_name(f->place), "access",
			      sim_access_name(f->access), "isShared", 0, "isDelegated", 0,
			      "nestingLevel", store_folder_depth(s, f));
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
		if (!c->s->folders[i]->dead && c->s->folders[i]->place == PLACE_MAILBOX)
			json_array_append_new(list, folder_json(c->s, c->s->folders[i]));
	return json_pack("{s:o}", "list", list);
}

/* Folders.getPublic: the public store, its root included. */
static json_t *folders_public(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	(void)p;
	(void)e;
	json_t *list = json_array();
	for (size_t i = 0; i < c->s->nfolders; i++)
		if (!c->s->folders[i]->dead && c->s->folders[i]->place == PLACE_PUBLIC)
			json_array_append_new(list, folder_json(c->s, c->s->folders[i]));
	return json_pack("{s:o}", "list", list);
}

/* SharedMailbox {principal, mailboxId (root folder id), isLoaded, folders (at least listing
 * rights), subscribedFolderIds} of each other user's root; `subscribed_only`: the folders of
 * the subscription list only, and only mailboxes having one (Folders.getSubscribed). */
static json_t *shared_mailboxes(struct sim_store *s, int subscribed_only)
{
	json_t *boxes = json_array();
	for (size_t r = 0; r < s->nfolders; r++) {
		struct sim_folder *root = s->folders[r];
		if (root->dead || root->place != PLACE_PEOPLE || root->kind != KIND_ROOT)
			continue;
		json_t *folders = json_array(), *subs = json_array();
		for (size_t i = 0; i < s->nfolders; i++) {
			struct sim_folder *f = s->folders[i];
			if (f->dead || f->kind == KIND_ROOT ||
			    !store_folder_is_under(s, f->idx, root->idx) ||
			    (subscribed_only && !f->subscribed))
				continue;
			json_array_append_new(folders, folder_json(s, f));
			if (f->subscribed)
				json_array_append_new(subs, json_string(f->id));
		}
		if (subscribed_only && !json_array_size(folders)) {
			json_decref(folders);
			json_decref(subs);
			continue;
		}
		char pid[ID_MAX];
		snprintf(pid, sizeof pid, "keriostorage://user/%s/%s", s->user_domain,
			 root->owner ? root->owner : "");
		json_array_append_new(
			boxes, json_pack("{s:{s:s, s:s, s:s, s:s}, s:s, s:b, s:o, s:o}", "principal",
					 "id", pid, "type", "ptUser", "displayName",
					 root->owner_name ? root->owner_name : "", "mailAddress",
					 root->owner_addr ? root->owner_addr : "", "mailboxId",
					 root->id, "isLoaded", 1, "folders", folders,
					 "subscribedFolderIds", subs));
	}
	return boxes;
}

static json_t *folders_subscribed(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	(void)p;
	(void)e;
	return json_pack("{s:o}", "list", shared_mailboxes(c->s, 1));
}

static json_t *folders_shared_mailboxes(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	(void)p;
	(void)e;
	return json_pack("{s:o}", "mailboxes", shared_mailboxes(c->s, 0));
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
		/* a subfolder needs full access ("FAccessAdmin: e.g. user can add folder") */
		int rc = parent && parent->access != ACC_ADMIN
				 ? (snprintf(msg, sizeof msg, "Access denied."), 1004)
			 : kind < 0 ? (snprintf(msg, sizeof msg, "Unknown folder type."), -32602)
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
		int rc = fo->access != ACC_ADMIN || (parent && parent->access != ACC_ADMIN)
				 ? (snprintf(msg, sizeof msg, "Access denied."), 1004)
				 : op_folder_set(c->s, fo, json_string_value(json_object_get(f, "name")),
						 parent, json_string_value(json_object_get(f, "color")), msg);
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
		int rc = fo && fo->access != ACC_ADMIN ? (snprintf(msg, sizeof msg, "Access denied."), 1004)
			 : fo ? op_folder_remove(c->s, fo, recursive, msg) : 4104;
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
	{"Folders.getPublic", folders_public, 0},
	{"Folders.getSubscribed", folders_subscribed, 0},
	{"Folders.getSharedMailboxList", folders_shared_mailboxes, 0},
	{"Folders.create", folders_create, RPC_WRITE | RPC_COUNT},
	{"Folders.set", folders_set, RPC_WRITE | RPC_COUNT},
	{"Folders.remove", folders_remove, RPC_WRITE | RPC_COUNT},
	{NULL, NULL, 0},
};
