/* The state file: the whole mailbox as JSON (generated items as their generator index only),
 * written on SIGTERM and POST /_sim/save, read at start when the file exists. Change logs are
 * rebuilt from the items' and tombstones' change numbers, so sync states issued before a
 * restart stay valid. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "util.h"

static const char *const dists[] = {"root", "msgfolderroot", "inbox", "drafts", "sentitems",
				    "deleteditems", "junkemail", "outbox", "calendar", "contacts",
				    "tasks", "notes"};
static const char *const classes[] = {"IPF.Note", "IPF.Appointment", "IPF.Contact", "IPF.Task",
				      "IPF.StickyNote"};

static const char *intern(const char *v, const char *const *table, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		if (!strcmp(v, table[i]))
			return table[i];
	return NULL;
}

int state_save(struct sim *s, const char *path)
{
	json_t *folders = json_array(), *items = json_array(), *tombs = json_array();
	for (size_t i = 0; i < s->nfolders; i++) {
		struct sim_folder *f = s->folders[i];
		struct slot *hs = &s->hlog[f->hslot];
		json_array_append_new(folders, json_pack("{s:i, s:i, s:b, s:i, s:s?, s:s, s:s?, s:I, s:I, s:I}",
							 "idx", f->idx, "parent", f->parent, "dead", f->dead,
							 "kind", f->kind, "dist", f->dist, "name", f->name,
							 "class", f->folder_class, "cn", (json_int_t)f->cn,
							 "created", (json_int_t)hs->created_cn, "slotCn",
							 (json_int_t)hs->cn));
		for (size_t k = 0; k < f->nlog; k++) {
			struct slot *sl = &f->log[k];
			if (sl->state == SLOT_TOMB)
				json_array_append_new(tombs, json_pack("{s:i, s:I, s:I, s:I, s:I, s:i}", "folder", f->idx,
								       "cn", (json_int_t)sl->cn, "n", (json_int_t)sl->dead_n,
								       "created", (json_int_t)sl->created_cn, "ck",
								       (json_int_t)sl->dead_ck, "kind", sl->kind));
		}
	}
	for (size_t n = 1; n < s->nitems; n++) {
		struct sim_item *it = s->items[n];
		if (!it)
			continue;
		json_t *o = json_pack("{s:I, s:i, s:i, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I}", "n", (json_int_t)it->n,
				      "folder", it->folder, "kind", it->kind, "gen", (int)it->gen, "flags",
				      (int)it->flags, "lastVerb", it->last_verb, "created", (json_int_t)it->created_cn,
				      "content", (json_int_t)it->content_cn, "read", (json_int_t)it->read_cn, "cn",
				      (json_int_t)it->cn, "date", (json_int_t)it->date, "data", (json_int_t)it->data_cn);
		if (it->props)
			json_object_set(o, "props", it->props);
		if (it->mime) {
			char *b = b64_encode(it->mime, it->mime_len);
			json_object_set_new(o, "mime", json_string(b));
			free(b);
		}
		json_array_append_new(items, o);
	}
	json_t *root = json_pack("{s:i, s:I, s:I, s:s, s:s, s:s, s:s?, s:I, s:I, s:I, s:I, s:o, s:o, s:o}", "version", 1,
				 "seed", (json_int_t)s->cfg.seed, "baseTime", (json_int_t)s->cfg.base_time, "user",
				 s->cfg.user, "password", s->cfg.password, "fullName", s->cfg.full_name, "token",
				 s->cfg.token, "secret", (json_int_t)(s->secret >> 1), "cn", (json_int_t)s->cn,
				 "stateFloor", (json_int_t)s->state_floor, "nextItem", (json_int_t)s->nitems,
				 "folders", folders, "items", items, "tombs", tombs);
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int rc = json_dump_file(root, tmp, JSON_COMPACT);
	json_decref(root);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	return rc;
}

struct entry {
	uint64_t cn;
	struct slot sl;
	int folder;
};

static int by_cn(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	return x->cn < y->cn ? -1 : x->cn > y->cn;
}

static void push(struct slot **log, size_t *n, size_t *cap, const struct slot *sl)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*log = xrealloc(*log, *cap * sizeof **log);
	}
	(*log)[(*n)++] = *sl;
}

int state_load(struct sim *s, const char *path)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr);
	if (!root || json_integer_value(json_object_get(root, "version")) != 1) {
		fprintf(stderr, "outpost-sim-ews: cannot load state file %s: %s\n", path, root ? "unknown version" : jerr.text);
		json_decref(root);
		return -1;
	}
	s->loaded = root;
	s->cfg.seed = (uint64_t)json_integer_value(json_object_get(root, "seed"));
	s->cfg.base_time = json_integer_value(json_object_get(root, "baseTime"));
	s->cfg.user = json_string_value(json_object_get(root, "user"));
	s->cfg.password = json_string_value(json_object_get(root, "password"));
	s->cfg.full_name = json_string_value(json_object_get(root, "fullName"));
	if (json_string_value(json_object_get(root, "token")))
		s->cfg.token = json_string_value(json_object_get(root, "token"));
	s->secret = (uint64_t)json_integer_value(json_object_get(root, "secret")) << 1;
	s->cn = (uint64_t)json_integer_value(json_object_get(root, "cn"));
	s->state_floor = (uint64_t)json_integer_value(json_object_get(root, "stateFloor"));
	json_t *folders = json_object_get(root, "folders"), *v;
	size_t i;
	size_t nf = json_array_size(folders);
	struct entry *h = xcalloc(nf, sizeof *h);
	json_array_foreach(folders, i, v) {
		struct sim_folder *f = xcalloc(1, sizeof *f);
		f->idx = (int)i;
		f->parent = (int)json_integer_value(json_object_get(v, "parent"));
		f->dead = json_is_true(json_object_get(v, "dead"));
		f->kind = (enum sim_kind)json_integer_value(json_object_get(v, "kind"));
		f->dist = intern(json_string_value(json_object_get(v, "dist")), dists, sizeof dists / sizeof *dists);
		f->name = xstrdup(str_or_empty(json_string_value(json_object_get(v, "name"))));
		f->folder_class = intern(json_string_value(json_object_get(v, "class")), classes,
					 sizeof classes / sizeof *classes);
		f->cn = (uint64_t)json_integer_value(json_object_get(v, "cn"));
		if (s->nfolders == s->capfolders) {
			s->capfolders = s->capfolders ? s->capfolders * 2 : 32;
			s->folders = xrealloc(s->folders, s->capfolders * sizeof *s->folders);
		}
		s->folders[s->nfolders++] = f;
		h[i].cn = (uint64_t)json_integer_value(json_object_get(v, "slotCn"));
		h[i].sl = (struct slot){.cn = h[i].cn, .state = f->dead ? SLOT_TOMB : SLOT_LIVE, .dead_n = i,
					.created_cn = (uint64_t)json_integer_value(json_object_get(v, "created")),
					.dead_ck = f->cn};
	}
	qsort(h, nf, sizeof *h, by_cn);
	for (i = 0; i < nf; i++) {
		s->folders[h[i].sl.dead_n]->hslot = s->nhlog;
		push(&s->hlog, &s->nhlog, &s->caphlog, &h[i].sl);
	}
	free(h);
	json_t *items = json_object_get(root, "items"), *tombs = json_object_get(root, "tombs");
	size_t ne = json_array_size(items) + json_array_size(tombs), k = 0;
	struct entry *e = xcalloc(ne, sizeof *e);
	s->nitems = (size_t)json_integer_value(json_object_get(root, "nextItem"));
	if (s->nitems < 1)
		s->nitems = 1;
	s->capitems = s->nitems + 1024;
	s->items = xrealloc(s->items, s->capitems * sizeof *s->items);
	memset(s->items, 0, s->capitems * sizeof *s->items);
	json_array_foreach(items, i, v) {
		struct sim_item *it = xcalloc(1, sizeof *it);
		it->n = (uint64_t)json_integer_value(json_object_get(v, "n"));
		if (it->n == 0 || it->n >= s->nitems || (size_t)json_integer_value(json_object_get(v, "folder")) >= s->nfolders) {
			free(it);
			continue;
		}
		it->folder = (int)json_integer_value(json_object_get(v, "folder"));
		it->kind = (enum sim_kind)json_integer_value(json_object_get(v, "kind"));
		it->gen = (uint32_t)json_integer_value(json_object_get(v, "gen"));
		it->flags = (uint32_t)json_integer_value(json_object_get(v, "flags"));
		it->last_verb = (int)json_integer_value(json_object_get(v, "lastVerb"));
		it->created_cn = (uint64_t)json_integer_value(json_object_get(v, "created"));
		it->content_cn = (uint64_t)json_integer_value(json_object_get(v, "content"));
		json_t *dv = json_object_get(v, "data");
		it->data_cn = dv ? (uint64_t)json_integer_value(dv) : it->content_cn;
		it->read_cn = (uint64_t)json_integer_value(json_object_get(v, "read"));
		it->cn = (uint64_t)json_integer_value(json_object_get(v, "cn"));
		it->date = json_integer_value(json_object_get(v, "date"));
		json_t *p = json_object_get(v, "props");
		it->props = p ? json_incref(p) : NULL;
		const char *m = json_string_value(json_object_get(v, "mime"));
		if (m)
			it->mime = b64_decode(m, strlen(m), &it->mime_len);
		s->items[it->n] = it;
		struct sim_folder *f = s->folders[it->folder];
		f->count++;
		if (it->kind == K_MAIL && !(it->flags & MF_READ))
			f->unread++;
		e[k++] = (struct entry){.cn = it->cn, .sl = {.cn = it->cn, .state = SLOT_LIVE, .it = it}, .folder = it->folder};
	}
	json_array_foreach(tombs, i, v) {
		int folder = (int)json_integer_value(json_object_get(v, "folder"));
		if (folder < 0 || (size_t)folder >= s->nfolders)
			continue;
		uint64_t cn = (uint64_t)json_integer_value(json_object_get(v, "cn"));
		e[k++] = (struct entry){.cn = cn, .folder = folder,
					.sl = {.cn = cn, .state = SLOT_TOMB,
					       .dead_n = (uint64_t)json_integer_value(json_object_get(v, "n")),
					       .created_cn = (uint64_t)json_integer_value(json_object_get(v, "created")),
					       .dead_ck = (uint64_t)json_integer_value(json_object_get(v, "ck")),
					       .kind = (uint8_t)json_integer_value(json_object_get(v, "kind"))}};
	}
	qsort(e, k, sizeof *e, by_cn);
	for (i = 0; i < k; i++) {
		struct sim_folder *f = s->folders[e[i].folder];
		if (e[i].sl.state == SLOT_LIVE)
			e[i].sl.it->slot = f->nlog;
		push(&f->log, &f->nlog, &f->caplog, &e[i].sl);
	}
	free(e);
	return 0;
}
