/* The mailbox model: folders, items, change logs and opaque ids (see sim.h). Callers hold
 * sim.mu. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "util.h"

static size_t push_slot(struct slot **log, size_t *n, size_t *cap, const struct slot *s)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*log = xrealloc(*log, *cap * sizeof **log);
	}
	(*log)[*n] = *s;
	return (*n)++;
}

void store_init(struct sim *s)
{
	pthread_mutex_init(&s->mu, NULL);
	s->nitems = 1; /* item number 0 is never used */
	s->capitems = 1024;
	s->items = xcalloc(s->capitems, sizeof *s->items);
}

void store_free(struct sim *s)
{
	free(s->subs);
	s->subs = NULL;
	for (size_t i = 0; i < s->nitems; i++) {
		struct sim_item *it = s->items[i];
		if (!it)
			continue;
		json_decref(it->props);
		free(it->mime);
		free(it);
	}
	free(s->items);
	for (size_t i = 0; i < s->nfolders; i++) {
		free(s->folders[i]->name);
		free(s->folders[i]->log);
		free(s->folders[i]);
	}
	free(s->folders);
	free(s->hlog);
	pthread_mutex_destroy(&s->mu);
}

struct sim_folder *store_folder(struct sim *s, int idx)
{
	if (idx < 0 || (size_t)idx >= s->nfolders || s->folders[idx]->dead)
		return NULL;
	return s->folders[idx];
}

struct sim_folder *store_folder_dist(struct sim *s, const char *dist)
{
	for (size_t i = 0; dist && i < s->nfolders; i++)
		if (!s->folders[i]->dead && s->folders[i]->dist && !strcmp(s->folders[i]->dist, dist))
			return s->folders[i];
	return NULL;
}

/* Paths are display names from the message folder root ("Inbox/Projekte"). */
struct sim_folder *store_folder_path(struct sim *s, const char *path)
{
	struct sim_folder *cur = store_folder_dist(s, "msgfolderroot");
	while (cur && path && *path) {
		const char *slash = strchr(path, '/');
		size_t len = slash ? (size_t)(slash - path) : strlen(path);
		struct sim_folder *next = NULL;
		for (size_t i = 0; i < s->nfolders && !next; i++) {
			struct sim_folder *f = s->folders[i];
			if (!f->dead && f->parent == cur->idx && strlen(f->name) == len &&
			    !strncmp(f->name, path, len))
				next = f;
		}
		cur = next;
		path = slash ? slash + 1 : NULL;
	}
	return cur;
}

void store_folder_path_of(struct sim *s, const struct sim_folder *f, char *out, size_t n)
{
	struct sim_folder *top = store_folder_dist(s, "msgfolderroot");
	if (!f || f == top || f->parent < 0) {
		snprintf(out, n, "%s", f && f->parent < 0 ? "/" : "");
		return;
	}
	char parent[1024];
	store_folder_path_of(s, s->folders[f->parent], parent, sizeof parent);
	if (s->folders[f->parent] == top || !*parent || !strcmp(parent, "/"))
		snprintf(out, n, "%s", f->name);
	else
		snprintf(out, n, "%s/%s", parent, f->name);
}

struct sim_folder *store_folder_new(struct sim *s, int parent, enum sim_kind kind, const char *name,
				    const char *dist, const char *folder_class)
{
	struct sim_folder *f = xcalloc(1, sizeof *f);
	f->idx = (int)s->nfolders;
	f->parent = parent;
	f->kind = kind;
	f->dist = dist;
	f->name = xstrdup(name);
	f->folder_class = folder_class;
	f->cn = ++s->cn;
	if (s->nfolders == s->capfolders) {
		s->capfolders = s->capfolders ? s->capfolders * 2 : 32;
		s->folders = xrealloc(s->folders, s->capfolders * sizeof *s->folders);
	}
	s->folders[s->nfolders++] = f;
	struct slot sl = {.cn = f->cn, .state = SLOT_LIVE, .dead_n = (uint64_t)f->idx,
			  .created_cn = f->cn};
	f->hslot = push_slot(&s->hlog, &s->nhlog, &s->caphlog, &sl);
	return f;
}

void store_folder_touch(struct sim *s, struct sim_folder *f)
{
	s->hlog[f->hslot].state = SLOT_HOLE;
	f->cn = ++s->cn;
	struct slot sl = {.cn = f->cn, .state = SLOT_LIVE, .dead_n = (uint64_t)f->idx,
			  .created_cn = s->hlog[f->hslot].created_cn};
	f->hslot = push_slot(&s->hlog, &s->nhlog, &s->caphlog, &sl);
}

int store_folder_is_under(struct sim *s, const struct sim_folder *f, const struct sim_folder *anc)
{
	for (int p = f->parent, guard = 0; p >= 0 && guard < 10000; guard++) {
		if (p == anc->idx)
			return 1;
		p = s->folders[p]->parent;
	}
	return 0;
}

void store_folder_remove(struct sim *s, struct sim_folder *f)
{
	for (size_t i = 0; i < s->nfolders; i++)
		if (!s->folders[i]->dead && s->folders[i]->parent == f->idx)
			store_folder_remove(s, s->folders[i]);
	for (size_t i = 0; i < f->nlog; i++)
		if (f->log[i].state == SLOT_LIVE)
			store_item_remove(s, f->log[i].it);
	f->dead = 1;
	struct slot *old = &s->hlog[f->hslot];
	uint64_t created = old->created_cn;
	old->state = SLOT_HOLE;
	struct slot sl = {.cn = ++s->cn, .state = SLOT_TOMB, .dead_n = (uint64_t)f->idx,
			  .created_cn = created, .dead_ck = f->cn};
	f->hslot = push_slot(&s->hlog, &s->nhlog, &s->caphlog, &sl);
}

struct sim_item *store_item(struct sim *s, uint64_t n)
{
	return n < s->nitems ? s->items[n] : NULL;
}

static void count_in(struct sim_folder *f, const struct sim_item *it, int sign)
{
	f->count += sign;
	if (it->kind == K_MAIL && !(it->flags & MF_READ))
		f->unread += sign;
}

static void place(struct sim *s, struct sim_item *it, struct sim_folder *f)
{
	struct slot sl = {.cn = it->cn, .state = SLOT_LIVE, .it = it};
	it->folder = f->idx;
	it->slot = push_slot(&f->log, &f->nlog, &f->caplog, &sl);
	(void)s;
}

struct sim_item *store_item_new(struct sim *s, struct sim_folder *f, enum sim_kind kind, uint32_t gen,
				json_t *props)
{
	struct sim_item *it = xcalloc(1, sizeof *it);
	if (s->nitems == s->capitems) {
		s->capitems *= 2;
		s->items = xrealloc(s->items, s->capitems * sizeof *s->items);
	}
	it->n = s->nitems;
	s->items[s->nitems++] = it;
	it->kind = kind;
	it->gen = gen;
	it->props = props;
	it->cn = it->created_cn = it->content_cn = it->data_cn = ++s->cn;
	place(s, it, f);
	count_in(f, it, 1);
	return it;
}

void store_item_touch(struct sim *s, struct sim_item *it, int what)
{
	struct sim_folder *f = s->folders[it->folder];
	f->log[it->slot].state = SLOT_HOLE;
	f->log[it->slot].it = NULL;
	it->cn = ++s->cn;
	if (what == 1)
		it->read_cn = it->cn;
	else
		it->content_cn = it->cn;
	place(s, it, f);
}

static void tombstone(struct sim *s, struct sim_item *it)
{
	struct sim_folder *f = s->folders[it->folder];
	f->log[it->slot].state = SLOT_HOLE;
	f->log[it->slot].it = NULL;
	count_in(f, it, -1);
	struct slot sl = {.cn = ++s->cn, .state = SLOT_TOMB, .dead_n = it->n,
			  .created_cn = it->created_cn, .dead_ck = it->cn, .kind = (uint8_t)it->kind};
	push_slot(&f->log, &f->nlog, &f->caplog, &sl);
}

void store_item_remove(struct sim *s, struct sim_item *it)
{
	tombstone(s, it);
	s->items[it->n] = NULL;
	json_decref(it->props);
	free(it->mime);
	free(it);
}

static struct sim_item *clone_item(struct sim *s, struct sim_item *it, struct sim_folder *to)
{
	json_t *props = it->props ? json_deep_copy(it->props) : NULL;
	struct sim_item *c = store_item_new(s, to, it->kind, it->gen, NULL);
	count_in(to, c, -1);
	c->props = props;
	c->flags = it->flags;
	c->last_verb = it->last_verb;
	c->date = it->date;
	if (it->mime) {
		c->mime = xmalloc(it->mime_len + 1);
		memcpy(c->mime, it->mime, it->mime_len);
		c->mime_len = it->mime_len;
	}
	count_in(to, c, 1);
	return c;
}

/* A move gives the item a new number (new ItemId), as Exchange does. */
struct sim_item *store_item_move(struct sim *s, struct sim_item *it, struct sim_folder *to)
{
	struct sim_item *c = clone_item(s, it, to);
	store_item_remove(s, it);
	return c;
}

struct sim_item *store_item_copy(struct sim *s, struct sim_item *it, struct sim_folder *to)
{
	return clone_item(s, it, to);
}

json_t *store_item_props(struct sim *s, struct sim_item *it)
{
	if (!it->props) {
		it->props = item_props(s, it);
		if (it->kind == K_MAIL && !it->mime)
			it->mime = item_mime(s, it, &it->mime_len);
		it->gen = 0;
	}
	return it->props;
}

/* ---- opaque ids ---- */

static void make_id(struct sim *s, char tag, uint64_t v, char *out, size_t cap)
{
	char raw[64];
	int n = snprintf(raw, sizeof raw, "%c%" PRIu64 ".", tag, v);
	uint64_t h = keyed_hash(s->secret, raw, (size_t)n);
	n += snprintf(raw + n, sizeof raw - (size_t)n, "%012" PRIx64, (uint64_t)(h & 0xffffffffffffull));
	char *b = b64_encode(raw, (size_t)n);
	snprintf(out, cap, "%s", b);
	free(b);
}

static int parse_id(struct sim *s, const char *id, char tag, uint64_t *v)
{
	size_t len;
	if (!id || strlen(id) > 80)
		return -1;
	unsigned char *raw = b64_decode(id, strlen(id), &len);
	if (!raw)
		return -1;
	int ok = -1;
	const char *dot = memchr(raw, '.', len);
	if (len > 2 && raw[0] == (unsigned char)tag && dot) {
		char *end;
		uint64_t x = strtoull((const char *)raw + 1, &end, 10);
		uint64_t h = keyed_hash(s->secret, raw, (size_t)(dot - (const char *)raw) + 1);
		char want[16];
		snprintf(want, sizeof want, "%012" PRIx64, (uint64_t)(h & 0xffffffffffffull));
		if (end == dot && !strcmp(dot + 1, want)) {
			*v = x;
			ok = 0;
		}
	}
	free(raw);
	return ok;
}

void id_item(struct sim *s, uint64_t n, char *out, size_t cap) { make_id(s, 'I', n, out, cap); }
void id_folder(struct sim *s, int idx, char *out, size_t cap) { make_id(s, 'F', (uint64_t)idx, out, cap); }
void id_changekey(struct sim *s, char type, uint64_t cn, char *out, size_t cap)
{
	make_id(s, type, cn, out, cap);
}

int id_parse_item(struct sim *s, const char *id, uint64_t *n) { return parse_id(s, id, 'I', n); }

int id_parse_folder(struct sim *s, const char *id, int *idx)
{
	uint64_t v;
	if (parse_id(s, id, 'F', &v))
		return -1;
	*idx = (int)v;
	return 0;
}

int id_parse_changekey(struct sim *s, const char *ck, uint64_t *cn)
{
	static const char tags[] = "MECTNK";
	for (const char *t = tags; *t; t++)
		if (!parse_id(s, ck, *t, cn))
			return 0;
	return -1;
}

static char ck_tag(enum sim_kind k)
{
	switch (k) {
	case K_MAIL: return 'M';
	case K_EVENT: return 'E';
	case K_CONTACT: return 'C';
	case K_TASK: return 'T';
	case K_NOTE: return 'N';
	default: return 'K';
	}
}

void item_changekey(struct sim *s, const struct sim_item *it, char *out, size_t cap)
{
	id_changekey(s, ck_tag(it->kind), it->cn, out, cap);
}

void folder_changekey(struct sim *s, const struct sim_folder *f, char *out, size_t cap)
{
	id_changekey(s, 'K', f->cn, out, cap);
}
