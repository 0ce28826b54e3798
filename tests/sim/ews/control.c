/* The /_sim/ control endpoint (see control.h and README.md "Control API"). */
#include "control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "faults.h"
#include "soap.h"
#include "util.h"

static char *reply(int *status, int code, json_t *o)
{
	*status = code;
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static char *error(int *status, int code, const char *msg, const char *arg)
{
	char m[400];
	snprintf(m, sizeof m, "%s%s%s", msg, arg ? ": " : "", arg ? arg : "");
	return reply(status, code, json_pack("{s:s}", "error", m));
}

static json_t *folder_json(struct sim *s, struct sim_folder *f)
{
	char id[128], ck[128], path[1024], pid[128] = "";
	id_folder(s, f->idx, id, sizeof id);
	folder_changekey(s, f, ck, sizeof ck);
	store_folder_path_of(s, f, path, sizeof path);
	if (f->parent >= 0)
		id_folder(s, f->parent, pid, sizeof pid);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:s, s:I, s:I}", "id", id, "changeKey", ck, "path",
			 path, "name", f->name, "parentId", pid, "class", f->folder_class, "distinguished",
			 f->dist, "kind", kind_name(f->kind), "count", (json_int_t)f->count, "unread",
			 (json_int_t)f->unread);
}

static json_t *item_json(struct sim *s, struct sim_item *it, int content)
{
	char id[128], ck[128];
	id_item(s, it->n, id, sizeof id);
	item_changekey(s, it, ck, sizeof ck);
	json_t *p = item_props(s, it);
	json_t *o = json_pack("{s:s, s:s, s:s, s:{s:b, s:b, s:b, s:b}, s:i, s:I}", "id", id, "changeKey", ck,
			      "kind", kind_name(it->kind), "flags", "read", (it->flags & MF_READ) != 0,
			      "flagged", (it->flags & MF_FLAGGED) != 0, "complete",
			      (it->flags & MF_COMPLETE) != 0, "draft", (it->flags & MF_DRAFT) != 0,
			      "lastVerb", it->last_verb, "date", (json_int_t)it->date);
	static const char *const keys[] = {"subject", "messageId", "uid", "key", "displayName"};
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
		json_t *v = json_object_get(p, keys[i]);
		if (v)
			json_object_set(o, keys[i], v);
	}
	if (it->kind == K_MAIL && content) {
		size_t len;
		free(item_mime(s, it, &len));
		json_object_set_new(o, "size", json_integer((json_int_t)len));
	}
	if (content)
		json_object_set(o, "props", p);
	json_decref(p);
	return o;
}

static json_t *state_json(struct sim *s, const struct control_args *a)
{
	int content = !(a->content && !strcmp(a->content, "0"));
	struct sim_folder *only = a->folder ? store_folder_path(s, a->folder) : NULL;
	json_t *folders = json_array();
	for (size_t i = 0; i < s->nfolders; i++) {
		struct sim_folder *f = s->folders[i];
		if (f->dead || (a->folder && f != only))
			continue;
		json_t *fo = folder_json(s, f), *items = json_array();
		for (size_t k = 0; k < f->nlog; k++)
			if (f->log[k].state == SLOT_LIVE)
				json_array_append_new(items, item_json(s, f->log[k].it, content));
		json_object_set_new(fo, "items", items);
		json_array_append_new(folders, fo);
	}
	return json_pack("{s:s, s:I, s:o}", "user", s->user_addr, "changeNumber", (json_int_t)s->cn,
			 "folders", folders);
}

static json_t *info_json(struct sim *s)
{
	json_t *folders = json_object();
	for (size_t i = 0; i < s->nfolders; i++) {
		struct sim_folder *f = s->folders[i];
		if (f->dead)
			continue;
		char id[128], path[1024];
		id_folder(s, f->idx, id, sizeof id);
		store_folder_path_of(s, f, path, sizeof path);
		json_object_set_new(folders, path, json_string(id));
	}
	char url[64], ews[96];
	snprintf(url, sizeof url, "https://127.0.0.1:%d", s->port);
	snprintf(ews, sizeof ews, "%s/EWS/Exchange.asmx", url);
	return json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s, s:I, s:o}", "url", url, "ewsUrl", ews, "user",
			 s->user_addr, "password", s->cfg.password, "token", s->cfg.token, "fullName",
			 s->cfg.full_name, "changeNumber", (json_int_t)s->cn, "folders", folders);
}

static struct sim_folder *folder_arg(struct sim *s, json_t *in, const char *key)
{
	char idkey[64];
	snprintf(idkey, sizeof idkey, "%sId", key);
	const char *id = json_string_value(json_object_get(in, idkey));
	int idx;
	if (id)
		return id_parse_folder(s, id, &idx) ? NULL : store_folder(s, idx);
	const char *path = json_string_value(json_object_get(in, key));
	return path ? store_folder_path(s, path) : NULL;
}

static struct sim_item *item_arg(struct sim *s, json_t *in)
{
	uint64_t n;
	const char *id = json_string_value(json_object_get(in, "id"));
	return id && !id_parse_item(s, id, &n) ? store_item(s, n) : NULL;
}

static char *item_reply(struct sim *s, int *status, struct sim_item *it)
{
	char id[128], ck[128];
	id_item(s, it->n, id, sizeof id);
	item_changekey(s, it, ck, sizeof ck);
	return reply(status, 200, json_pack("{s:s, s:s}", "id", id, "changeKey", ck));
}

static char *folder_reply(struct sim *s, int *status, struct sim_folder *f)
{
	char id[128];
	id_folder(s, f->idx, id, sizeof id);
	return reply(status, 200, json_pack("{s:s}", "id", id));
}

/* Fills what a generated-looking mail needs when a test gives only a few properties. */
static void mail_defaults(struct sim *s, json_t *p)
{
	char mid[96];
	snprintf(mid, sizeof mid, "<ctl.%llu.%lu@mail.example.com>", (unsigned long long)s->cn,
		 (unsigned long)time(NULL));
	if (!json_object_get(p, "subject"))
		json_object_set_new(p, "subject", json_string("Server-side message"));
	if (!json_object_get(p, "from"))
		json_object_set_new(p, "from", json_pack("{s:s, s:s}", "name", "Zoë Müller", "email", "zoe@example.org"));
	if (!json_object_get(p, "to"))
		json_object_set_new(p, "to", json_pack("[{s:s, s:s}]", "name", s->cfg.full_name, "email", s->user_addr));
	if (!json_object_get(p, "cc"))
		json_object_set_new(p, "cc", json_array());
	if (!json_object_get(p, "date"))
		json_object_set_new(p, "date", json_integer((json_int_t)time(NULL)));
	if (!json_object_get(p, "messageId"))
		json_object_set_new(p, "messageId", json_string(mid));
	if (!json_object_get(p, "body"))
		json_object_set_new(p, "body", json_string("Hello from the server side.\n"));
}

static char *mutate(struct sim *s, const char *what, json_t *in, int *status)
{
	if (!strcmp(what, "items/create")) {
		int kind = kind_from_name(json_string_value(json_object_get(in, "type")));
		if (kind < 0)
			kind = K_MAIL;
		struct sim_folder *f = folder_arg(s, in, "folder");
		static const char *const defs[] = {"", "inbox", "calendar", "contacts", "tasks", "notes"};
		if (!f && !json_object_get(in, "folder") && !json_object_get(in, "folderId"))
			f = store_folder_dist(s, defs[kind]);
		if (!f)
			return error(status, 404, "no such folder", NULL);
		json_t *item = json_object_get(in, "item");
		json_t *props = json_is_object(item) ? json_deep_copy(item) : json_object();
		const char *mime = json_string_value(json_object_get(in, "mime"));
		if (kind == K_MAIL && !mime)
			mail_defaults(s, props);
		if (kind == K_MAIL && mime)
			props_from_mime(props, (const unsigned char *)mime, strlen(mime));
		struct sim_item *it = store_item_new(s, f, (enum sim_kind)kind, 0, props);
		if (mime) {
			it->mime_len = strlen(mime);
			it->mime = (unsigned char *)xstrdup(mime);
		}
		it->date = json_integer_value(json_object_get(props, kind == K_EVENT ? "start" : "date"));
		if (!it->date)
			it->date = (int64_t)time(NULL);
		return item_reply(s, status, it);
	}
	if (!strncmp(what, "items/", 6)) {
		struct sim_item *it = item_arg(s, in);
		if (!it)
			return error(status, 404, "no such item", json_string_value(json_object_get(in, "id")));
		if (!strcmp(what, "items/set")) {
			json_t *patch = json_object_get(in, "item");
			int content = 0, readc = 0, other = 0;
			if (json_is_object(patch)) {
				json_t *p = store_item_props(s, it);
				json_object_update(p, patch);
				if (it->kind == K_MAIL && json_object_get(patch, "mime")) {
					const char *m = json_string_value(json_object_get(patch, "mime"));
					free(it->mime);
					it->mime_len = strlen(m);
					it->mime = (unsigned char *)xstrdup(m);
					json_object_del(p, "mime");
				} else if (it->kind == K_MAIL) {
					free(it->mime); /* rebuilt from the properties */
					it->mime = NULL;
				}
				content = 1;
			}
			uint32_t before = it->flags;
			json_t *v;
			if ((v = json_object_get(in, "read")))
				it->flags = json_is_true(v) ? it->flags | MF_READ : it->flags & ~MF_READ;
			if ((v = json_object_get(in, "flagged")))
				it->flags = json_is_true(v) ? (it->flags | MF_FLAGGED) & ~MF_COMPLETE : it->flags & ~MF_FLAGGED;
			if ((v = json_object_get(in, "complete")))
				it->flags = json_is_true(v) ? (it->flags | MF_COMPLETE) & ~MF_FLAGGED : it->flags & ~MF_COMPLETE;
			if ((v = json_object_get(in, "lastVerb"))) {
				other |= it->last_verb != (int)json_integer_value(v);
				it->last_verb = (int)json_integer_value(v);
			}
			readc = (before ^ it->flags) & MF_READ;
			other |= ((before ^ it->flags) & ~MF_READ) != 0;
			struct sim_folder *f = s->folders[it->folder];
			if (it->kind == K_MAIL && readc)
				f->unread += (it->flags & MF_READ) ? -1 : 1;
			store_item_touch(s, it, content || other ? 0 : 1);
			if (content)
				it->data_cn = it->cn;
			return item_reply(s, status, it);
		}
		if (!strcmp(what, "items/move") || !strcmp(what, "items/copy")) {
			struct sim_folder *to = folder_arg(s, in, "folder");
			if (!to)
				return error(status, 404, "no such folder", NULL);
			it = what[6] == 'm' ? store_item_move(s, it, to) : store_item_copy(s, it, to);
			return item_reply(s, status, it);
		}
		if (!strcmp(what, "items/remove")) {
			store_item_remove(s, it);
			return reply(status, 200, json_object());
		}
		return error(status, 404, "unknown control call", what);
	}
	if (!strcmp(what, "folders/create")) {
		struct sim_folder *parent = folder_arg(s, in, "parent");
		if (!parent && !json_object_get(in, "parent") && !json_object_get(in, "parentId"))
			parent = store_folder_dist(s, "msgfolderroot");
		const char *name = json_string_value(json_object_get(in, "name"));
		const char *type = json_string_value(json_object_get(in, "type"));
		static const char *const ktypes[] = {"", "FMail", "FCalendar", "FContact", "FTask", "FNote"};
		int kind = kind_from_name(type);
		for (int k = 1; type && kind < 0 && k <= K_NOTE; k++)
			if (!strcmp(type, ktypes[k]))
				kind = k; /* the Kerio simulator's folder type names */
		static const char *const cls[] = {"", "IPF.Note", "IPF.Appointment", "IPF.Contact", "IPF.Task", "IPF.StickyNote"};
		if (!parent || !name)
			return error(status, 400, "folders/create wants an existing parent and a name", NULL);
		if (kind < 0)
			kind = K_MAIL;
		return folder_reply(s, status, store_folder_new(s, parent->idx, (enum sim_kind)kind, name, NULL, cls[kind]));
	}
	struct sim_folder *f = folder_arg(s, in, "path");
	const char *id = json_string_value(json_object_get(in, "id"));
	int idx;
	if (id)
		f = id_parse_folder(s, id, &idx) ? NULL : store_folder(s, idx);
	if (!f)
		return error(status, 404, "no such folder", NULL);
	if (!strcmp(what, "folders/set")) {
		const char *name = json_string_value(json_object_get(in, "name"));
		struct sim_folder *parent = folder_arg(s, in, "parent");
		if (name) {
			free(f->name);
			f->name = xstrdup(name);
		}
		if (parent && parent != f && !store_folder_is_under(s, parent, f))
			f->parent = parent->idx;
		store_folder_touch(s, f);
		return folder_reply(s, status, f);
	}
	if (!strcmp(what, "folders/remove")) {
		if (f->dist)
			return error(status, 409, "distinguished folders cannot be removed", NULL);
		store_folder_remove(s, f);
		return reply(status, 200, json_object());
	}
	return error(status, 404, "unknown control call", what);
}

char *control_handle(struct sim *s, const char *method, const char *url, const char *body, size_t len,
		     const struct control_args *a, int *status)
{
	const char *what = url[5] == '/' ? url + 6 : "";
	int get = !strcmp(method, "GET");
	json_t *in = NULL;
	if (len) {
		json_error_t jerr;
		in = json_loadb(body, len, 0, &jerr);
		if (!json_is_object(in)) {
			json_decref(in);
			return error(status, 400, "body is not a JSON object", jerr.text);
		}
	}
	if (!in)
		in = json_object();
	char *out;
	if (get && !strcmp(what, "state")) {
		pthread_mutex_lock(&s->mu);
		out = reply(status, 200, state_json(s, a));
		pthread_mutex_unlock(&s->mu);
	} else if (get && (!strcmp(what, "info") || !*what)) {
		pthread_mutex_lock(&s->mu);
		out = reply(status, 200, info_json(s));
		pthread_mutex_unlock(&s->mu);
	} else if (get && !strcmp(what, "counters")) {
		out = reply(status, 200, counters_json(s->counters));
	} else if (!get && !strcmp(what, "counters/reset")) {
		counters_reset(s->counters);
		out = reply(status, 200, json_object());
	} else if (get && !strcmp(what, "faults")) {
		out = reply(status, 200, json_pack("{s:o}", "faults", faults_json(s->faults)));
	} else if ((!strcmp(method, "DELETE") && !strcmp(what, "faults")) || (!get && !strcmp(what, "faults/clear"))) {
		faults_clear(s->faults);
		out = reply(status, 200, json_object());
	} else if (!get && !strcmp(what, "faults")) {
		char err[200];
		int id = faults_add(s->faults, in, err, sizeof err);
		out = id < 0 ? error(status, 400, err, NULL) : reply(status, 200, json_pack("{s:i}", "id", id));
	} else if (!get && (!strcmp(what, "syncstates/expire") || !strcmp(what, "journal/truncate"))) {
		pthread_mutex_lock(&s->mu);
		s->state_floor = ++s->cn;
		out = reply(status, 200, json_pack("{s:I}", "stateFloor", (json_int_t)s->state_floor));
		pthread_mutex_unlock(&s->mu);
	} else if (!get && !strcmp(what, "save")) {
		const char *path = json_string_value(json_object_get(in, "path"));
		if (!path)
			path = s->cfg.state_file;
		if (!path) {
			out = error(status, 400, "no --state-file and no \"path\" given", NULL);
		} else {
			pthread_mutex_lock(&s->mu);
			int rc = state_save(s, path);
			pthread_mutex_unlock(&s->mu);
			out = rc ? error(status, 500, "cannot write", path) : reply(status, 200, json_pack("{s:s}", "saved", path));
		}
	} else if (!get) {
		pthread_mutex_lock(&s->mu);
		out = mutate(s, what, in, status);
		pthread_mutex_unlock(&s->mu);
	} else {
		out = error(status, 404, "unknown control call", what);
	}
	json_decref(in);
	return out;
}
