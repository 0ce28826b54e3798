/* --state-file load and save (see statefile.h). */
#include "statefile.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "store.h"
#include "util.h"

#define FORMAT "outpost-sim-kerio-state"

static json_t *config_json(const struct sim_config *c)
{
	char seed[32];
	snprintf(seed, sizeof seed, "%" PRIu64, c->seed);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "user", c->user,
			 "password", c->password, "domain", c->domain, "fullName", c->full_name,
			 "seed", seed, "baseTime", (json_int_t)c->base_time, "messages",
			 (json_int_t)c->n_mail, "events", (json_int_t)c->n_event, "contacts",
			 (json_int_t)c->n_contact, "tasks", (json_int_t)c->n_task, "notes",
			 (json_int_t)c->n_note);
}

int state_save(struct sim *sim, const char *path)
{
	struct sim_store *s = &sim->store;
	json_t *folders = json_array(), *items = json_array(), *journal = json_array(),
	       *blobs = json_array();
	for (size_t i = 0; i < s->nfolders; i++) {
		const struct sim_folder *f = s->folders[i];
		json_t *fo = json_pack("{s:s, s:i, s:s, s:i, s:i, s:b, s:I, s:s}", "uuid", f->uuid,
				       "parent", f->parent, "name", f->name, "kind", (int)f->kind,
				       "subtype", (int)f->subtype, "dead", f->dead, "nextN",
				       (json_int_t)f->next_n, "color", f->color);
		if (f->place != PLACE_MAILBOX || f->access != ACC_ADMIN) /* other places (--shared) */
			json_object_update_new(fo, json_pack("{s:i, s:s?, s:s?, s:s?, s:i, s:b}", "place",
							     f->place, "owner", f->owner, "ownerName",
							     f->owner_name, "ownerAddr", f->owner_addr,
							     "access", f->access, "subscribed",
							     f->subscribed));
		json_array_append_new(folders, fo);
		for (size_t j = 0; j < f->len; j++) {
			const struct sim_item *it = f->items[j];
			json_array_append_new(items, json_pack("[i, I, i, I, I, I, I, I, I, O?]",
							       it->folder, (json_int_t)it->n,
							       (int)it->kind, (json_int_t)it->gen,
							       (json_int_t)it->flags,
							       (json_int_t)it->watermark,
							       (json_int_t)it->date,
							       (json_int_t)it->mtime,
							       (json_int_t)it->size, it->data));
		}
	}
	for (size_t i = 0; i < s->njournal; i++) {
		const struct sim_change *c = &s->journal[i];
		json_array_append_new(journal, json_pack("[I, i, i, i, i, i, i, i, s, s?]",
							 (json_int_t)c->wm, c->is_folder, c->type,
							 c->kind, c->folder, c->orig_folder, c->self,
							 c->unread, c->item_id, c->orig_id));
	}
	for (size_t i = 0; i < s->nblobs; i++) {
		const struct sim_blob *b = s->blobs[i];
		char *b64 = base64_encode(b->data, b->len);
		json_array_append_new(blobs, json_pack("{s:s, s:s, s:s, s:s}", "id", b->id, "name",
						       b->name, "contentType", b->ctype, "data", b64));
		free(b64);
	}
	json_t *root = json_pack("{s:s, s:i, s:o, s:I, s:I, s:I, s:o, s:o, s:o, s:o}", "format",
				 FORMAT, "version", 1, "config", config_json(&sim->cfg), "watermark",
				 (json_int_t)s->wm, "journalFloor", (json_int_t)s->journal_floor,
				 "nextBlob", (json_int_t)s->next_blob, "folders", folders, "items",
				 items, "journal", journal, "blobs", blobs);
	char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	int rc = json_dump_file(root, tmp, JSON_COMPACT);
	json_decref(root);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	if (rc) {
		fprintf(stderr, "outpost-sim-kerio: cannot write state file %s: %s\n", path,
			strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return rc ? -1 : 0;
}

static int fail(json_t *root, const char *path, const char *what)
{
	fprintf(stderr, "outpost-sim-kerio: state file %s: %s; delete it to start afresh\n", path,
		what);
	json_decref(root);
	return -1;
}

int state_load(struct sim *sim, const char *path)
{
	if (access(path, F_OK) != 0)
		return 0;
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr);
	if (!root)
		return fail(NULL, path, jerr.text);
	const char *fmt = json_string_value(json_object_get(root, "format"));
	if (!fmt || strcmp(fmt, FORMAT) || json_integer_value(json_object_get(root, "version")) != 1)
		return fail(root, path, "not a version 1 simulator state");
	json_t *cfg = json_object_get(root, "config");
	struct sim_config *c = &sim->cfg;
	if (!json_is_object(cfg) || !json_string_value(json_object_get(cfg, "user")))
		return fail(root, path, "missing config");
	sim->state_cfg = json_incref(cfg);
	c->user = json_string_value(json_object_get(cfg, "user"));
	c->password = json_string_value(json_object_get(cfg, "password"));
	c->domain = json_string_value(json_object_get(cfg, "domain"));
	c->full_name = json_string_value(json_object_get(cfg, "fullName"));
	c->seed = strtoull(str_or(json_string_value(json_object_get(cfg, "seed")), "1"), NULL, 10);
	c->base_time = json_integer_value(json_object_get(cfg, "baseTime"));
	c->n_mail = (long)json_integer_value(json_object_get(cfg, "messages"));
	c->n_event = (long)json_integer_value(json_object_get(cfg, "events"));
	c->n_contact = (long)json_integer_value(json_object_get(cfg, "contacts"));
	c->n_task = (long)json_integer_value(json_object_get(cfg, "tasks"));
	c->n_note = (long)json_integer_value(json_object_get(cfg, "notes"));
	if (!c->password || !c->domain || !c->full_name)
		return fail(root, path, "incomplete config");

	struct sim_store *s = &sim->store;
	store_init(s, c);
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(root, "folders"), i, v) {
		int parent = (int)json_integer_value(json_object_get(v, "parent"));
		int kind = (int)json_integer_value(json_object_get(v, "kind"));
		int sub = (int)json_integer_value(json_object_get(v, "subtype"));
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *uuid = json_string_value(json_object_get(v, "uuid"));
		if (parent >= (int)i || kind < 0 || kind >= KIND_COUNT || sub < 0 || sub >= SUB_COUNT ||
		    !name || !uuid)
			return fail(root, path, "bad folder entry");
		struct sim_folder *f = store_folder_new(s, parent, (enum sim_kind)kind,
							(enum sim_subtype)sub, name, uuid);
		f->dead = json_is_true(json_object_get(v, "dead"));
		int place = (int)json_integer_value(json_object_get(v, "place"));
		int access = (int)json_integer_value(json_object_get(v, "access"));
		if (place || access) {
			if (place < PLACE_MAILBOX || place > PLACE_PEOPLE || access < 0 ||
			    access > ACC_LISTING)
				return fail(root, path, "bad folder entry");
			store_folder_set_place(s, f, place,
					       json_string_value(json_object_get(v, "owner")),
					       json_string_value(json_object_get(v, "ownerName")),
					       json_string_value(json_object_get(v, "ownerAddr")), access);
			f->subscribed = json_is_true(json_object_get(v, "subscribed"));
		}
		f->next_n = (uint64_t)json_integer_value(json_object_get(v, "nextN"));
		free(f->color);
		f->color = xstrdup(str_or(json_string_value(json_object_get(v, "color")), ""));
		if (!strcmp(name, "Archive") && parent == s->root)
			s->archive = f->idx;
	}
	json_array_foreach(json_object_get(root, "items"), i, v) {
		int folder = (int)json_integer_value(json_array_get(v, 0));
		int kind = (int)json_integer_value(json_array_get(v, 2));
		if (folder < 0 || (size_t)folder >= s->nfolders || kind <= 0 || kind >= KIND_COUNT)
			return fail(root, path, "bad item entry");
		struct sim_folder *f = s->folders[folder];
		uint64_t n = (uint64_t)json_integer_value(json_array_get(v, 1));
		uint64_t next = f->next_n;
		struct sim_item *it = store_item_alloc((enum sim_kind)kind);
		it->gen = (uint32_t)json_integer_value(json_array_get(v, 3));
		it->flags = (uint32_t)json_integer_value(json_array_get(v, 4));
		it->watermark = json_integer_value(json_array_get(v, 5));
		it->date = json_integer_value(json_array_get(v, 6));
		it->mtime = json_integer_value(json_array_get(v, 7));
		it->size = json_integer_value(json_array_get(v, 8));
		json_t *data = json_array_get(v, 9);
		it->data = json_is_object(data) ? json_incref(data) : NULL;
		store_item_attach_n(s, it, f, n);
		if (next > f->next_n)
			f->next_n = next;
	}
	json_array_foreach(json_object_get(root, "journal"), i, v) {
		struct sim_change ch = {0};
		ch.wm = json_integer_value(json_array_get(v, 0));
		ch.is_folder = (uint8_t)json_integer_value(json_array_get(v, 1));
		ch.type = (uint8_t)json_integer_value(json_array_get(v, 2));
		ch.kind = (uint8_t)json_integer_value(json_array_get(v, 3));
		ch.folder = (int)json_integer_value(json_array_get(v, 4));
		ch.orig_folder = (int)json_integer_value(json_array_get(v, 5));
		ch.self = (int)json_integer_value(json_array_get(v, 6));
		ch.unread = (int)json_integer_value(json_array_get(v, 7));
		const char *id = json_string_value(json_array_get(v, 8));
		const char *oid = json_string_value(json_array_get(v, 9));
		if (!id || ch.folder >= (int)s->nfolders || ch.orig_folder >= (int)s->nfolders ||
		    ch.self >= (int)s->nfolders)
			return fail(root, path, "bad journal entry");
		ch.item_id = xstrdup(id);
		ch.orig_id = oid ? xstrdup(oid) : NULL;
		journal_append_raw(s, &ch);
	}
	json_array_foreach(json_object_get(root, "blobs"), i, v) {
		size_t len;
		const char *b64 = json_string_value(json_object_get(v, "data"));
		unsigned char *data = b64 ? base64_decode(b64, &len) : NULL;
		if (!data)
			return fail(root, path, "bad blob entry");
		store_blob_add(s, json_string_value(json_object_get(v, "name")),
			       json_string_value(json_object_get(v, "contentType")), data, len,
			       json_string_value(json_object_get(v, "id")));
	}
	s->wm = json_integer_value(json_object_get(root, "watermark"));
	s->journal_floor = json_integer_value(json_object_get(root, "journalFloor"));
	s->next_blob = (uint64_t)json_integer_value(json_object_get(root, "nextBlob"));
	s->notified_wm = s->wm;
	json_decref(root);
	return 1;
}
