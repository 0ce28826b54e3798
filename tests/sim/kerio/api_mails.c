/* Mails.* methods: the generic item methods plus create/set with `send`, and setAllSeen.
 * Mails.remove deletes for good (see README: "Deleting mail"). */
#include <string.h>

#include "api.h"
#include "item_json.h"
#include "ops.h"
#include "store.h"

static json_t *mails_get(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	return items_get(c, KIND_MAIL, p, e);
}

static json_t *mails_get_by_id(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	return items_get_by_id(c, KIND_MAIL, p, e);
}

static json_t *mails_remove(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	return items_remove(c, KIND_MAIL, p, e);
}

static json_t *mails_copy(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	return items_copy_move(c, KIND_MAIL, 0, p, e);
}

static json_t *mails_move(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	return items_copy_move(c, KIND_MAIL, 1, p, e);
}

static json_t *mails_create(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	json_t *in = json_object_get(p, "mails");
	if (!json_is_array(in))
		return rpc_fail(e, -32602, "Invalid params: 'mails' must be an array.");
	int any_send = 0;
	size_t i;
	json_t *x;
	json_array_foreach(in, i, x)
		any_send |= json_is_true(json_object_get(x, "send"));
	if (!any_send)
		return items_create(c, KIND_MAIL, "mails", p, e);
	json_t *errors = json_array(), *result = json_array();
	json_array_foreach(in, i, x) {
		char msg[OP_MSG] = "";
		struct sim_item *it = NULL;
		int rc;
		if (json_is_true(json_object_get(x, "send"))) {
			rc = op_mail_send(c->s, x, &it, msg);
		} else {
			const char *fid = json_string_value(json_object_get(x, "folderId"));
			struct sim_folder *f = fid && *fid ? store_folder_by_id(c->s, fid)
				: c->s->special[SUB_DRAFTS] >= 0 ? c->s->folders[c->s->special[SUB_DRAFTS]]
								 : NULL;
			rc = items_write_denied(f, msg);
			if (!rc)
				rc = op_item_create(c->s, f, KIND_MAIL, x, 0, &it, msg);
		}
		if (rc) {
			json_array_append_new(errors, rpc_item_error((long)i, rc, msg, NULL));
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

static json_t *mails_set(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	json_t *in = json_object_get(p, "mails");
	if (!json_is_array(in))
		return rpc_fail(e, -32602, "Invalid params: 'mails' must be an array.");
	json_t *errors = json_array(), *result = json_array();
	size_t i;
	json_t *x;
	json_array_foreach(in, i, x) {
		char msg[OP_MSG] = "";
		const char *id = json_string_value(json_object_get(x, "id"));
		struct sim_item *it = store_item_by_id(c->s, id, KIND_MAIL);
		if (!it) {
			json_array_append_new(errors, rpc_item_error((long)i, 1002,
								     "Item doesn't exist.", id));
			continue;
		}
		int moved = 0;
		int rc = items_write_denied(store_item_folder(c->s, it), msg);
		if (!rc)
			rc = op_item_set(c->s, &it, x, &moved, msg);
		if (!rc && json_is_true(json_object_get(x, "send"))) {
			/* Sending a stored draft: it leaves its folder, a copy lands in Sent Items
			 * ("beware it invalidates the ID of this mail"). */
			json_t *data = item_data(c->s, it, 1);
			struct sim_item *sent = NULL;
			rc = op_mail_send(c->s, data, &sent, msg);
			json_decref(data);
			if (!rc) {
				op_item_remove(c->s, it);
				it = sent;
				moved = 1;
			}
		}
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

static json_t *mails_set_all_seen(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	const char *fid = json_string_value(json_object_get(p, "folderId"));
	struct sim_folder *f = store_folder_by_id(c->s, fid);
	if (!f || f->kind != KIND_MAIL)
		return rpc_fail(e, 4104, "Folder %s doesn't exist.", fid ? fid : "(none)");
	json_t *patch = json_pack("{s:b}", "isSeen", 1);
	for (size_t i = 0; i < f->len; i++) {
		struct sim_item *it = f->items[i];
		if (!(it->flags & MF_SEEN)) {
			int moved;
			char msg[OP_MSG];
			op_item_set(c->s, &it, patch, &moved, msg);
			c->items++;
		}
	}
	json_decref(patch);
	return json_object();
}

#define W (RPC_WRITE | RPC_COUNT)
const struct rpc_method api_mail_methods[] = {
	{"Mails.get", mails_get, 0},
	{"Mails.getById", mails_get_by_id, 0},
	{"Mails.create", mails_create, W},
	{"Mails.set", mails_set, W},
	{"Mails.remove", mails_remove, W},
	{"Mails.copy", mails_copy, W},
	{"Mails.move", mails_move, W},
	{"Mails.setAllSeen", mails_set_all_seen, W},
	{NULL, NULL, 0},
};
