/* The /_sim/ control endpoint (see control.h and README.md "Control API"). Replies are JSON;
 * errors are {"error": "..."} with HTTP 400/404/409. */
#include "control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "datetime.h"
#include "faults.h"
#include "item_json.h"
#include "journal.h"
#include "ops.h"
#include "sessions.h"
#include "statefile.h"
#include "store.h"
#include "util.h"

static char *reply(int *status, int code, json_t *o)
{
	*status = code;
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static char *error(int *status, int code, const char *fmt, const char *arg)
{
	char msg[400];
	snprintf(msg, sizeof msg, fmt, arg ? arg : "");
	return reply(status, code, json_pack("{s:s}", "error", msg));
}

static int kind_from_name(const char *t)
{
	static const char *const n[] = {"", "mail", "event", "contact", "task", "note"};
	for (int k = 1; t && k < KIND_COUNT; k++)
		if (!strcmp(t, n[k]))
			return k;
	return -1;
}

static int kind_from_id(const char *id)
{
	static const char *const n[] = {"", "mail", "event", "contact", "task", "note"};
	for (int k = 1; id && k < KIND_COUNT; k++) {
		char pre[64];
		snprintf(pre, sizeof pre, "keriostorage://%s/", n[k]);
		if (!strncmp(id, pre, strlen(pre)))
			return k;
	}
	return -1;
}

/* A folder named by "<key>Id" (id) or "<key>" (path like "Inbox/Projekte"). */
static struct sim_folder *folder_arg(struct sim_store *s, json_t *o, const char *key)
{
	char idkey[64];
	snprintf(idkey, sizeof idkey, "%sId", key);
	const char *id = json_string_value(json_object_get(o, idkey));
	if (id)
		return store_folder_by_id(s, id);
	const char *path = json_string_value(json_object_get(o, key));
	if (path)
		return !strncmp(path, "keriostorage://", 15) ? store_folder_by_id(s, path)
							     : store_folder_by_path(s, path);
	return NULL;
}

static void folder_path(struct sim_store *s, const struct sim_folder *f, struct buf *b)
{
	if (f->parent >= 0 && f->parent != s->root) {
		folder_path(s, s->folders[f->parent], b);
		buf_adds(b, "/");
	}
	if (f->idx != s->root)
		buf_adds(b, f->name);
}

static json_t *item_dump(struct sim_store *s, struct sim_item *it, int content)
{
	json_t *o = item_json(s, it, content);
	if (it->kind == KIND_EVENT) {
		json_t *data = item_data(s, it, 0);
		json_t *ex = json_object_get(data, "x-exceptions");
		json_object_set_new(o, "exceptions", ex ? json_incref(ex) : json_array());
		json_decref(data);
	}
	return o;
}

static json_t *state_json(struct sim *sim, const struct control_args *a)
{
	struct sim_store *s = &sim->store;
	int content = !(a->content && !strcmp(a->content, "0"));
	struct sim_folder *only = NULL;
	if (a->folder)
		only = !strncmp(a->folder, "keriostorage://", 15) ? store_folder_by_id(s, a->folder)
								  : store_folder_by_path(s, a->folder);
	json_t *folders = json_array();
	for (size_t i = 0; i < s->nfolders; i++) {
		struct sim_folder *f = s->folders[i];
		if (f->dead || (a->folder && f != only))
			continue;
		json_t *fo = folder_json(s, f);
		struct buf b = {0};
		folder_path(s, f, &b);
		json_object_set_new(fo, "path", json_string(b.p ? b.p : ""));
		buf_free(&b);
		json_t *items = json_array();
		for (size_t j = 0; j < f->len; j++)
			json_array_append_new(items, item_dump(s, f->items[j], content));
		json_object_set_new(fo, "items", items);
		json_array_append_new(folders, fo);
	}
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:o}", "user", store_user_addr(s), "password",
			 sim->cfg.password, "fullName", sim->cfg.full_name, "watermark",
			 (json_int_t)s->wm, "journalFloor", (json_int_t)s->journal_floor, "folders",
			 folders);
}

static json_t *info_json(struct sim *sim)
{
	struct sim_store *s = &sim->store;
	json_t *folders = json_object();
	for (size_t i = 0; i < s->nfolders; i++) {
		struct sim_folder *f = s->folders[i];
		if (f->dead)
			continue;
		struct buf b = {0};
		folder_path(s, f, &b);
		json_object_set_new(folders, b.p ? b.p : "", json_string(f->id));
		buf_free(&b);
	}
	char url[64];
	snprintf(url, sizeof url, "https://127.0.0.1:%d", sim->port);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:i, s:o}", "url", url, "user",
			 store_user_addr(s), "login", store_user_local(s), "password",
			 sim->cfg.password, "fullName", sim->cfg.full_name, "watermark",
			 (json_int_t)s->wm, "journalFloor", (json_int_t)s->journal_floor,
			 "sessions", sessions_count(sim->sessions), "folders", folders);
}

static char *item_result(struct sim_store *s, struct sim_item *it, int *status)
{
	char id[ID_MAX];
	store_item_id(s, it, id, sizeof id);
	return reply(status, 200, json_pack("{s:s, s:I}", "id", id, "watermark",
					    (json_int_t)it->watermark));
}

/* Mutating calls; write lock held. */
static char *mutate(struct sim *sim, const char *what, json_t *in, int *status)
{
	struct sim_store *s = &sim->store;
	char msg[OP_MSG] = "";
	int rc;
	if (!strcmp(what, "items/create")) {
		int kind = kind_from_name(json_string_value(json_object_get(in, "type")));
		if (kind < 0)
			kind = KIND_MAIL;
		struct sim_folder *f = folder_arg(s, in, "folder");
		if (!f && !json_object_get(in, "folder") && !json_object_get(in, "folderId"))
			f = kind == KIND_MAIL ? s->folders[s->special[SUB_INBOX]]
					      : s->folders[s->default_folder[kind]];
		if (!f)
			return error(status, 404, "no such folder", NULL);
		json_t *item = json_object_get(in, "item"), *empty = NULL;
		if (!item)
			item = empty = json_object();
		int delivered = kind == KIND_MAIL && !json_is_false(json_object_get(in, "delivered"));
		struct sim_item *it;
		rc = op_item_create(s, f, (enum sim_kind)kind, item, delivered, &it, msg);
		json_decref(empty);
		if (rc)
			return error(status, 400, "%s", msg);
		return item_result(s, it, status);
	}
	const char *id = json_string_value(json_object_get(in, "id"));
	if (!strncmp(what, "items/", 6)) {
		int kind = kind_from_id(id);
		struct sim_item *it = kind > 0 ? store_item_by_id(s, id, (enum sim_kind)kind) : NULL;
		if (!it)
			return error(status, 404, "no such item %s", id);
		if (!strcmp(what, "items/set")) {
			int moved;
			json_t *patch = json_object_get(in, "item");
			if (!json_is_object(patch))
				return error(status, 400, "'item' must be an object", NULL);
			rc = op_item_set(s, &it, patch, &moved, msg);
		} else if (!strcmp(what, "items/move")) {
			rc = op_item_move(s, it, folder_arg(s, in, "folder"), msg);
		} else if (!strcmp(what, "items/copy")) {
			struct sim_item *c;
			rc = op_item_copy(s, it, folder_arg(s, in, "folder"), &c, msg);
			if (!rc)
				it = c;
		} else if (!strcmp(what, "items/remove")) {
			op_item_remove(s, it);
			return reply(status, 200, json_object());
		} else {
			return error(status, 404, "unknown control call %s", what);
		}
		if (rc)
			return error(status, 400, "%s", msg);
		return item_result(s, it, status);
	}
	if (!strcmp(what, "folders/create")) {
		struct sim_folder *parent = folder_arg(s, in, "parent");
		if (!parent && !json_object_get(in, "parent") && !json_object_get(in, "parentId"))
			parent = s->folders[s->root];
		const char *type = json_string_value(json_object_get(in, "type"));
		int kind = type ? sim_kind_from_folder_type(type) : KIND_MAIL;
		struct sim_folder *f;
		rc = kind < 0 ? (strcpy(msg, "unknown folder type"), 1)
			      : op_folder_create(s, parent, (enum sim_kind)kind,
						 json_string_value(json_object_get(in, "name")), &f,
						 msg);
		if (rc)
			return error(status, rc == 1001 ? 409 : 400, "%s", msg);
		return reply(status, 200, json_pack("{s:s, s:I}", "id", f->id, "watermark",
						    (json_int_t)s->wm));
	}
	struct sim_folder *f = id ? store_folder_by_id(s, id) : folder_arg(s, in, "path");
	if (!strncmp(what, "folders/", 8) && !f)
		return error(status, 404, "no such folder", NULL);
	if (!strcmp(what, "folders/set")) {
		struct sim_folder *parent = folder_arg(s, in, "parent");
		if (!parent && (json_object_get(in, "parent") || json_object_get(in, "parentId")))
			return error(status, 404, "no such parent folder", NULL);
		rc = op_folder_set(s, f, json_string_value(json_object_get(in, "name")), parent,
				   json_string_value(json_object_get(in, "color")), msg);
	} else if (!strcmp(what, "folders/remove")) {
		json_t *r = json_object_get(in, "recursive");
		rc = op_folder_remove(s, f, r ? json_is_true(r) : 1, msg);
	} else if (!strcmp(what, "folders/subscribe")) {
		/* {"id", "subscribed": bool}: another user's folder in or out of the account's
		 * subscription list (what Folders.setSubscriptionList does) */
		if (f->place != PLACE_PEOPLE || f->kind == KIND_ROOT)
			return error(status, 400, "not a folder of another user", NULL);
		f->subscribed = !json_is_false(json_object_get(in, "subscribed"));
		s->generation++;
		rc = 0;
	} else if (!strcmp(what, "folders/access")) {
		/* {"id", "access": "FAccess..."}: the account's rights on a folder */
		int acc = sim_access_from_name(json_string_value(json_object_get(in, "access")));
		if (acc < 0)
			return error(status, 400, "unknown access", NULL);
		f->access = acc;
		s->generation++;
		rc = 0;
	} else if (!strcmp(what, "journal/truncate")) {
		s->journal_floor = s->wm;
		return reply(status, 200, json_pack("{s:I}", "journalFloor", (json_int_t)s->wm));
	} else {
		return error(status, 404, "unknown control call %s", what);
	}
	if (rc)
		return error(status, rc == 1001 ? 409 : 400, "%s", msg);
	return reply(status, 200, json_pack("{s:s, s:I}", "id", f->id, "watermark",
					    (json_int_t)s->wm));
}

char *control_handle(struct sim *sim, const char *method, const char *url, const char *body,
		     size_t len, const struct control_args *a, int *status)
{
	const char *what = url[5] == '/' ? url + 6 : "";
	int get = !strcmp(method, "GET");
	struct sim_store *s = &sim->store;
	json_t *in = NULL;
	if (len) {
		json_error_t jerr;
		in = json_loadb(body, len, 0, &jerr);
		if (!json_is_object(in)) {
			json_decref(in);
			return error(status, 400, "body is not a JSON object: %s", jerr.text);
		}
	}
	if (!in)
		in = json_object();
	char *out = NULL;
	if (get && !strcmp(what, "state")) {
		pthread_rwlock_rdlock(&s->lock);
		out = reply(status, 200, state_json(sim, a));
		pthread_rwlock_unlock(&s->lock);
	} else if (get && (!strcmp(what, "info") || !*what)) {
		pthread_rwlock_rdlock(&s->lock);
		out = reply(status, 200, info_json(sim));
		pthread_rwlock_unlock(&s->lock);
	} else if (get && !strcmp(what, "counters")) {
		out = reply(status, 200, counters_json(sim->counters));
	} else if (!get && !strcmp(what, "counters/reset")) {
		counters_reset(sim->counters);
		out = reply(status, 200, json_object());
	} else if (get && !strcmp(what, "faults")) {
		out = reply(status, 200, json_pack("{s:o}", "faults", faults_json(sim->faults)));
	} else if ((!strcmp(method, "DELETE") && !strcmp(what, "faults")) ||
		   (!get && !strcmp(what, "faults/clear"))) {
		faults_clear(sim->faults);
		out = reply(status, 200, json_object());
	} else if (!get && !strcmp(what, "faults")) {
		char err[200];
		int id = faults_add(sim->faults, in, err, sizeof err);
		out = id < 0 ? error(status, 400, "%s", err)
			     : reply(status, 200, json_pack("{s:i}", "id", id));
	} else if (!get && !strcmp(what, "sessions/expire")) {
		sessions_expire_all(sim->sessions);
		out = reply(status, 200, json_object());
	} else if (get && !strcmp(what, "journal")) {
		pthread_rwlock_rdlock(&s->lock);
		json_t *list = json_array();
		for (size_t i = 0; i < s->njournal; i++)
			json_array_append_new(list, journal_change_json(s, &s->journal[i]));
		out = reply(status, 200, json_pack("{s:I, s:I, s:o}", "watermark", (json_int_t)s->wm,
						   "journalFloor", (json_int_t)s->journal_floor,
						   "list", list));
		pthread_rwlock_unlock(&s->lock);
	} else if (!get && !strcmp(what, "save")) {
		const char *path = json_string_value(json_object_get(in, "path"));
		if (!path)
			path = sim->cfg.state_file;
		if (!path) {
			out = error(status, 400, "no --state-file and no \"path\" given", NULL);
		} else {
			pthread_rwlock_rdlock(&s->lock);
			int rc = state_save(sim, path);
			pthread_rwlock_unlock(&s->lock);
			out = rc ? error(status, 500, "cannot write %s", path)
				 : reply(status, 200, json_pack("{s:s}", "saved", path));
		}
	} else if (!get) {
		pthread_rwlock_wrlock(&s->lock);
		out = mutate(sim, what, in, status);
		journal_publish(s);
		pthread_rwlock_unlock(&s->lock);
	} else {
		out = error(status, 404, "unknown control call %s", what);
	}
	json_decref(in);
	return out;
}
