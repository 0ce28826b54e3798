/* Pull notifications: Subscribe (PullSubscriptionRequest), GetEvents, Unsubscribe.
 * A watermark is a mailbox change number (keyed like sync states); GetEvents reports the
 * changes after it in the subscribed folders from the same change logs SyncFolderItems
 * reads, oldest first, at most MAX_EVENTS per call (MoreEvents), or one StatusEvent when
 * nothing happened. A subscription idle for longer than its Timeout (minutes) expires.
 * Streaming and push subscriptions are not served (ErrorInvalidRequest). Callers hold
 * sim.mu. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "soap.h"

#define MAX_EVENTS 100
#define MAX_SUBS 64
#define MAX_SUB_FOLDERS 32

enum { EV_NEWMAIL = 1, EV_CREATED = 2, EV_DELETED = 4, EV_MODIFIED = 8, EV_MOVED = 16, EV_COPIED = 32 };

static const struct {
	const char *name;
	unsigned bit;
} event_types[] = {{"NewMailEvent", EV_NEWMAIL}, {"CreatedEvent", EV_CREATED}, {"DeletedEvent", EV_DELETED},
		   {"ModifiedEvent", EV_MODIFIED}, {"MovedEvent", EV_MOVED}, {"CopiedEvent", EV_COPIED}};

struct sim_sub {
	uint64_t n;              /* 0: free slot */
	int all;                 /* SubscribeToAllFolders */
	int folders[MAX_SUB_FOLDERS];
	int nfolders;
	unsigned types;          /* EV_* */
	long timeout_s;
	time_t last;             /* last use */
};

struct sim_subs {
	struct sim_sub sub[MAX_SUBS];
	uint64_t next;
};

static struct sim_sub *subs_of(struct sim *s)
{
	if (!s->subs) {
		s->subs = xcalloc(1, sizeof *s->subs);
		s->subs->next = 1;
	}
	return s->subs->sub;
}

/* opaque tokens: sealed "<tag><number>." */
static void token_make(struct sim *s, char tag, uint64_t v, struct buf *b)
{
	char raw[64];
	int n = snprintf(raw, sizeof raw, "%c%" PRIu64 ".", tag, v);
	sealed_make(s->secret ^ 0x70ca1, raw, (size_t)n, b);
}

static int token_parse(struct sim *s, char tag, const char *t, uint64_t *v)
{
	char *raw = sealed_open(s->secret ^ 0x70ca1, t);
	int ok = -1, end = 0;
	uint64_t x;
	if (raw && raw[0] == tag && sscanf(raw + 1, "%" SCNu64 ".%n", &x, &end) == 1 && end && !raw[1 + end]) {
		*v = x;
		ok = 0;
	}
	free(raw);
	return ok;
}

void op_subscribe(struct sim *s, xmlNodePtr req, struct reply *r)
{
	xmlNodePtr pull = x_child(req, NS_M, "PullSubscriptionRequest");
	if (!pull) {
		msg_error(r, "ErrorInvalidRequest", "Only pull subscriptions are served.", 0, NULL);
		return;
	}
	struct sim_sub sub;
	memset(&sub, 0, sizeof sub);
	char *all = x_attr(pull, "SubscribeToAllFolders");
	sub.all = all && !strcmp(all, "true");
	free(all);
	for (xmlNodePtr n = x_child(x_child(pull, NS_T, "FolderIds"), NS_T, NULL); n; n = x_next(n, NS_T, NULL)) {
		const char *err;
		struct sim_folder *f = folder_ref(s, n, &err);
		if (!f) {
			msg_error(r, err, NULL, 0, NULL);
			return;
		}
		if (sub.nfolders < MAX_SUB_FOLDERS)
			sub.folders[sub.nfolders++] = f->idx;
	}
	for (xmlNodePtr n = x_child(x_child(pull, NS_T, "EventTypes"), NS_T, "EventType"); n;
	     n = x_next(n, NS_T, "EventType")) {
		char *t = x_text(n);
		for (size_t i = 0; i < sizeof event_types / sizeof *event_types; i++)
			if (!strcmp(t, event_types[i].name))
				sub.types |= event_types[i].bit;
		free(t);
	}
	char *to = x_text(x_child(pull, NS_T, "Timeout"));
	long minutes = to ? strtol(to, NULL, 10) : 0;
	free(to);
	if ((!sub.all && !sub.nfolders) || !sub.types || minutes < 1 || minutes > 1440) {
		soap_fault(r, "ErrorSchemaValidation",
			   "The request failed schema validation: a pull subscription needs FolderIds or "
			   "SubscribeToAllFolders, EventTypes and a Timeout of 1 to 1440 minutes.", 0);
		return;
	}
	uint64_t from = s->cn;
	char *wm = x_text(x_child(pull, NS_T, "Watermark"));
	if (wm && *wm && token_parse(s, 'W', wm, &from)) {
		free(wm);
		msg_error(r, "ErrorInvalidWatermark", NULL, 0, NULL);
		return;
	}
	free(wm);
	sub.timeout_s = minutes * 60;
	sub.last = time(NULL);
	struct sim_sub *subs = subs_of(s), *slot = NULL;
	for (size_t i = 0; i < MAX_SUBS && !slot; i++)
		if (!subs[i].n || subs[i].last + subs[i].timeout_s < sub.last)
			slot = &subs[i];
	if (!slot) {
		msg_error(r, "ErrorExceededSubscriptionCount", NULL, 0, NULL);
		return;
	}
	sub.n = s->subs->next++;
	*slot = sub;
	msg_ok_begin(r);
	buf_puts(&r->body, "<m:SubscriptionId>");
	token_make(s, 'P', sub.n, &r->body);
	buf_puts(&r->body, "</m:SubscriptionId><m:Watermark>");
	token_make(s, 'W', from, &r->body);
	buf_puts(&r->body, "</m:Watermark>");
	msg_end(r);
}

/* The subscription a request names; NULL with *err when unknown or expired. */
static struct sim_sub *sub_ref(struct sim *s, xmlNodePtr idn, const char **err)
{
	char *id = x_text(idn);
	uint64_t n;
	int bad = token_parse(s, 'P', id, &n);
	free(id);
	*err = "ErrorSubscriptionNotFound";
	if (bad)
		return NULL;
	time_t now = time(NULL);
	struct sim_sub *subs = subs_of(s);
	for (size_t i = 0; i < MAX_SUBS; i++)
		if (subs[i].n == n) {
			if (subs[i].last + subs[i].timeout_s < now) {
				subs[i].n = 0;
				*err = "ErrorExpiredSubscription";
				return NULL;
			}
			subs[i].last = now;
			return &subs[i];
		}
	return NULL;
}

static int subscribed(const struct sim_sub *sub, const struct sim_folder *f)
{
	if (sub->all)
		return 1;
	for (int i = 0; i < sub->nfolders; i++)
		if (sub->folders[i] == f->idx)
			return 1;
	return 0;
}

struct event {
	uint64_t cn;
	unsigned type;
	int folder;              /* the item's folder, or the folder itself (is_folder) */
	int is_folder;
	uint64_t item;
	struct sim_item *it;     /* live item, for its change key */
};

static int by_cn(const void *a, const void *b)
{
	const struct event *x = a, *y = b;
	return x->cn < y->cn ? -1 : x->cn > y->cn;
}

static void add(struct event **ev, size_t *n, size_t *cap, struct event e)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*ev = xrealloc(*ev, *cap * sizeof **ev);
	}
	(*ev)[(*n)++] = e;
}

static const char *type_name(unsigned t)
{
	for (size_t i = 0; i < sizeof event_types / sizeof *event_types; i++)
		if (event_types[i].bit == t)
			return event_types[i].name;
	return "ModifiedEvent";
}

void op_get_events(struct sim *s, xmlNodePtr req, struct reply *r)
{
	const char *err;
	struct sim_sub *sub = sub_ref(s, x_child(req, NS_M, "SubscriptionId"), &err);
	if (!sub) {
		msg_error(r, err, NULL, 0, NULL);
		return;
	}
	char *wms = x_text(x_child(req, NS_M, "Watermark"));
	uint64_t wm;
	int bad = token_parse(s, 'W', wms, &wm) || wm > s->cn;
	free(wms);
	if (bad) {
		msg_error(r, "ErrorInvalidWatermark", NULL, 0, NULL);
		return;
	}
	/* everything after the watermark in the subscribed folders, from their change logs */
	struct event *ev = NULL;
	size_t nev = 0, cap = 0;
	for (size_t i = 0; i < s->nfolders; i++) {
		struct sim_folder *f = s->folders[i];
		if (!f || f->dead || !subscribed(sub, f))
			continue;
		size_t lo = 0, hi = f->nlog;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (f->log[mid].cn <= wm)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (size_t k = lo; k < f->nlog; k++) {
			struct slot *sl = &f->log[k];
			struct event e = {sl->cn, 0, f->idx, 0, 0, NULL};
			if (sl->state == SLOT_LIVE) {
				e.it = sl->it;
				e.item = sl->it->n;
				e.type = sl->it->created_cn > wm ? EV_CREATED : EV_MODIFIED;
			} else if (sl->state == SLOT_TOMB && sl->created_cn <= wm) {
				e.item = sl->dead_n;
				e.type = EV_DELETED;
			} else {
				continue;
			}
			if (sub->types & e.type)
				add(&ev, &nev, &cap, e);
			if (e.type == EV_CREATED && e.it->kind == K_MAIL && (sub->types & EV_NEWMAIL)) {
				e.type = EV_NEWMAIL;
				add(&ev, &nev, &cap, e);
			}
		}
	}
	for (size_t k = 0; k < s->nhlog; k++) {
		struct slot *sl = &s->hlog[k];
		if (sl->cn <= wm || sl->state == SLOT_HOLE)
			continue;
		struct sim_folder *f = store_folder(s, (int)sl->dead_n);
		if (!sub->all && (!f || !subscribed(sub, f)))
			continue;
		struct event e = {sl->cn, sl->state == SLOT_TOMB ? EV_DELETED : EV_MODIFIED, (int)sl->dead_n, 1, 0, NULL};
		if (sub->types & e.type)
			add(&ev, &nev, &cap, e);
	}
	if (nev)
		qsort(ev, nev, sizeof *ev, by_cn);
	int more = nev > MAX_EVENTS;
	if (more)
		nev = MAX_EVENTS;
	msg_ok_begin(r);
	buf_puts(&r->body, "<m:Notification><t:SubscriptionId>");
	token_make(s, 'P', sub->n, &r->body);
	buf_puts(&r->body, "</t:SubscriptionId><t:PreviousWatermark>");
	token_make(s, 'W', wm, &r->body);
	buf_printf(&r->body, "</t:PreviousWatermark><t:MoreEvents>%s</t:MoreEvents>", more ? "true" : "false");
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!nev) {
		/* nothing happened: the watermark moves to now */
		buf_puts(&r->body, "<t:StatusEvent><t:Watermark>");
		token_make(s, 'W', s->cn, &r->body);
		buf_puts(&r->body, "</t:Watermark></t:StatusEvent>");
	}
	for (size_t k = 0; k < nev; k++) {
		const struct event *e = &ev[k];
		const char *name = type_name(e->type);
		buf_printf(&r->body, "<t:%s><t:Watermark>", name);
		token_make(s, 'W', e->cn, &r->body);
		buf_printf(&r->body, "</t:Watermark><t:TimeStamp>%s</t:TimeStamp>", ts);
		char id[128], ck[128];
		struct sim_folder *f = store_folder(s, e->folder);
		if (e->is_folder) {
			id_folder(s, e->folder, id, sizeof id);
			buf_printf(&r->body, "<t:FolderId Id=\"%s\"/>", id);
			if (f && f->parent >= 0) {
				id_folder(s, f->parent, id, sizeof id);
				buf_printf(&r->body, "<t:ParentFolderId Id=\"%s\"/>", id);
			}
		} else {
			id_item(s, e->item, id, sizeof id);
			if (e->it) {
				item_changekey(s, e->it, ck, sizeof ck);
				buf_printf(&r->body, "<t:ItemId Id=\"%s\" ChangeKey=\"%s\"/>", id, ck);
			} else {
				buf_printf(&r->body, "<t:ItemId Id=\"%s\"/>", id);
			}
			id_folder(s, e->folder, id, sizeof id);
			buf_printf(&r->body, "<t:ParentFolderId Id=\"%s\"/>", id);
		}
		buf_printf(&r->body, "</t:%s>", name);
	}
	buf_puts(&r->body, "</m:Notification>");
	msg_end(r);
	free(ev);
}

void op_unsubscribe(struct sim *s, xmlNodePtr req, struct reply *r)
{
	const char *err;
	struct sim_sub *sub = sub_ref(s, x_child(req, NS_M, "SubscriptionId"), &err);
	if (!sub) {
		msg_error(r, err, NULL, 0, NULL);
		return;
	}
	sub->n = 0;
	msg_ok_begin(r);
	msg_end(r);
}
