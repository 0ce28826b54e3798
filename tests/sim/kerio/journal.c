/* The account-wide change journal (see journal.h). */
#include "journal.h"

#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "util.h"

static struct sim_change *append(struct sim_store *s)
{
	if (s->njournal == s->journal_cap) {
		s->journal_cap = s->journal_cap ? s->journal_cap * 2 : 1024;
		s->journal = xrealloc(s->journal, s->journal_cap * sizeof *s->journal);
	}
	struct sim_change *c = &s->journal[s->njournal++];
	memset(c, 0, sizeof *c);
	c->wm = ++s->wm;
	c->orig_folder = -1;
	c->self = -1;
	s->generation++;
	return c;
}

void journal_append_raw(struct sim_store *s, const struct sim_change *src)
{
	if (s->njournal == s->journal_cap) {
		s->journal_cap = s->journal_cap ? s->journal_cap * 2 : 1024;
		s->journal = xrealloc(s->journal, s->journal_cap * sizeof *s->journal);
	}
	s->journal[s->njournal++] = *src;
}

int64_t journal_item(struct sim_store *s, int type, struct sim_item *it, const char *orig_id,
		     int orig_folder)
{
	char id[ID_MAX];
	store_item_id(s, it, id, sizeof id);
	struct sim_change *c = append(s);
	c->type = (uint8_t)type;
	c->kind = (uint8_t)it->kind;
	c->folder = it->folder;
	c->orig_folder = orig_folder;
	c->item_id = xstrdup(id);
	c->orig_id = orig_id ? xstrdup(orig_id) : NULL;
	c->unread = it->kind == KIND_MAIL && !(it->flags & MF_SEEN);
	it->watermark = c->wm;
	return c->wm;
}

int64_t journal_deleted(struct sim_store *s, enum sim_kind kind, const char *id, int folder)
{
	struct sim_change *c = append(s);
	c->type = CHT_DELETED;
	c->kind = (uint8_t)kind;
	c->folder = folder;
	c->item_id = xstrdup(id);
	return c->wm;
}

int64_t journal_folder(struct sim_store *s, int type, const struct sim_folder *f)
{
	struct sim_change *c = append(s);
	c->is_folder = 1;
	c->type = (uint8_t)type;
	c->kind = (uint8_t)f->kind;
	c->folder = f->parent;
	c->self = f->idx;
	c->item_id = xstrdup(f->id);
	c->unread = (int)f->unread;
	return c->wm;
}

size_t journal_first_after(const struct sim_store *s, int64_t wm)
{
	size_t lo = 0, hi = s->njournal;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->journal[mid].wm <= wm)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int journal_touches_folder(const struct sim_change *c, int folder)
{
	if (c->is_folder)
		return c->self == folder || c->folder == folder;
	return c->folder == folder || c->orig_folder == folder;
}

json_t *journal_change_json(const struct sim_store *s, const struct sim_change *c)
{
	const char *parent = c->folder >= 0 ? s->folders[c->folder]->id : "";
	const char *oparent = c->orig_folder >= 0 ? s->folders[c->orig_folder]->id : "";
	return json_pack("{s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:i}", "isFolder", c->is_folder,
			 "type", sim_change_type_name(c->type), "itemType",
			 sim_item_type_name((enum sim_kind)c->kind), "itemId", c->item_id,
			 "parentId", parent, "origId", c->orig_id ? c->orig_id : "",
			 "origParentId", oparent, "watermark", (json_int_t)c->wm,
			 "messageUnread", c->unread);
}

void journal_publish(struct sim_store *s)
{
	pthread_mutex_lock(&s->notify_mu);
	if (s->notified_wm != s->wm) {
		s->notified_wm = s->wm;
		pthread_cond_broadcast(&s->notify_cv);
	}
	pthread_mutex_unlock(&s->notify_mu);
}
