/* Deterministic account generator (see gen.h). Every fact of item k comes from a PRNG stream
 * keyed by (seed, kind, k); the draw order below is part of the format: changing it changes every
 * generated account, so append new draws at the end of a stream. */
#include "gen.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "datetime.h"
#include "gen_words.h"
#include "gen_mail.h"
#include "recur.h"
#include "util.h"

#define DAY 86400LL

const struct gen_folder_spec gen_folder_specs[GF_COUNT] = {
	[GF_ROOT] = {"", -1, KIND_ROOT, SUB_NONE},
	[GF_INBOX] = {"Inbox", GF_ROOT, KIND_MAIL, SUB_INBOX},
	[GF_PROJECTS] = {"Projekte – Überblick", GF_INBOX, KIND_MAIL, SUB_NONE},
	[GF_NEWS] = {"Newsletters", GF_INBOX, KIND_MAIL, SUB_NONE},
	[GF_PROJ2024] = {"Année 2024 ✓", GF_PROJECTS, KIND_MAIL, SUB_NONE},
	[GF_SENT] = {"Sent Items", GF_ROOT, KIND_MAIL, SUB_SENT},
	[GF_DRAFTS] = {"Drafts", GF_ROOT, KIND_MAIL, SUB_DRAFTS},
	[GF_DELETED] = {"Deleted Items", GF_ROOT, KIND_MAIL, SUB_DELETED},
	[GF_JUNK] = {"Junk E-mail", GF_ROOT, KIND_MAIL, SUB_JUNK},
	[GF_ARCHIVE] = {"Archive", GF_ROOT, KIND_MAIL, SUB_NONE},
	[GF_ARCH2023] = {"2023 — Архив", GF_ARCHIVE, KIND_MAIL, SUB_NONE},
	[GF_CAL] = {"Calendar", GF_ROOT, KIND_EVENT, SUB_DEFAULT},
	[GF_CAL2] = {"Família 🎉", GF_CAL, KIND_EVENT, SUB_NONE},
	[GF_CONTACTS] = {"Contacts", GF_ROOT, KIND_CONTACT, SUB_DEFAULT},
	[GF_CONTACTS2] = {"Kollegen – Büro", GF_CONTACTS, KIND_CONTACT, SUB_NONE},
	[GF_TASKS] = {"Tasks", GF_ROOT, KIND_TASK, SUB_DEFAULT},
	[GF_NOTES] = {"Notes", GF_ROOT, KIND_NOTE, SUB_DEFAULT},
};

void gen_add_date(json_t *o, const char *key, int64_t t)
{
	char s[20];
	dt_format(t, s);
	json_object_set_new(o, key, json_string(s));
}

#define CORPUS_PARAS 1024

struct gen_corpus *gen_corpus_new(uint64_t seed)
{
	struct gen_corpus *c = xcalloc(1, sizeof *c);
	c->n = CORPUS_PARAS;
	c->para = xcalloc(c->n, sizeof *c->para);
	c->len = xcalloc(c->n, sizeof *c->len);
	for (size_t i = 0; i < c->n; i++) {
		struct rng r;
		rng_init(&r, seed, 0xc0de, i, 0);
		struct buf b = {0};
		int target = 150 + (int)rng_below(&r, 900);
		int cap = 1;
		while ((int)b.len < target) {
			const char *w = gen_words[rng_below(&r, (uint32_t)gen_nwords)];
			if (cap) {
				char first[64];
				snprintf(first, sizeof first, "%s", w);
				if (first[0] >= 'a' && first[0] <= 'z')
					first[0] = (char)(first[0] - 'a' + 'A');
				buf_adds(&b, first);
				cap = 0;
			} else {
				buf_adds(&b, w);
			}
			uint32_t x = rng_below(&r, 100);
			if (x < 7) {
				buf_adds(&b, ". ");
				cap = 1;
			} else if (x < 10) {
				buf_adds(&b, ", ");
			} else if (x < 16) {
				buf_adds(&b, "\n");
			} else {
				buf_adds(&b, " ");
			}
		}
		buf_adds(&b, ".");
		c->para[i] = b.p;
		c->len[i] = b.len;
	}
	return c;
}

void gen_corpus_free(struct gen_corpus *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->para[i]);
	free(c->para);
	free(c->len);
	free(c);
}

/* Appends about `len` bytes of paragraphs to b (as <p> elements if html); the paragraph
 * sequence depends only on the stream r, so text and HTML parts say the same thing. */
void gen_text(const struct gen_corpus *c, struct rng *r, struct buf *b, int len, int html)
{
	size_t start = b->len;
	while ((int)(b->len - start) < len) {
		size_t i = rng_below(r, (uint32_t)c->n);
		if (html)
			buf_add(b, "<p>", 3);
		buf_add(b, c->para[i], c->len[i]);
		buf_add(b, html ? "</p>\n" : "\n\n", html ? 5 : 2);
	}
}

/* ---- calendar ---- */

static json_t *empty_rule(void)
{
	return json_pack("{s:b, s:s, s:{s:s, s:s}, s:{s:[], s:[], s:[], s:[], s:i}}", "isSet", 0,
			 "frequency", "Daily", "endBy", "type", "ByRecurrenceNever", "date", "",
			 "preciseBy", "byDay", "byMonthDay", "byMonth", "byPosition",
			 "byInterval", 1);
}

static json_t *reminder(int set, int minutes)
{
	return json_pack("{s:b, s:s, s:i, s:s}", "isSet", set, "type", "ReminderRelative",
			 "minutesBeforeStart", minutes, "date", "");
}

struct event_facts {
	int slot;
	int64_t start, dur;
	int all_day, recurring, freq, interval, never, count, exceptions;
	int title, place, label, freebusy, attendees, remind;
};

static void event_facts(const struct gen_ctx *g, uint32_t k, struct event_facts *f)
{
	struct rng r;
	rng_init(&r, g->seed, KIND_EVENT, k, 0);
	f->slot = rng_below(&r, 100) < 85 ? GF_CAL : GF_CAL2;
	int64_t day0 = g->base / DAY * DAY;
	int64_t day = day0 + ((int64_t)rng_below(&r, 540) - 360) * DAY;
	f->all_day = rng_below(&r, 10) == 0;
	f->start = f->all_day ? day : day + (8 + (int64_t)rng_below(&r, 10)) * 3600
				  + (int64_t)rng_below(&r, 2) * 1800;
	static const int durs[] = {30, 60, 60, 90, 120};
	f->dur = f->all_day ? DAY * (1 + (rng_below(&r, 8) == 0)) : durs[rng_below(&r, 5)] * 60LL;
	f->recurring = rng_below(&r, 100) < 20;
	uint32_t fr = rng_below(&r, 10);
	f->freq = fr < 5 ? 1 : fr < 7 ? 0 : fr < 9 ? 2 : 3; /* Daily, Weekly, Monthly, Yearly */
	f->interval = rng_below(&r, 10) < 7 ? 1 : 2;
	f->never = rng_below(&r, 10) < 3;
	f->count = 8 + (int)rng_below(&r, 40);
	f->exceptions = rng_below(&r, 10) < 4;
	f->title = (int)rng_below(&r, (uint32_t)gen_nevent_titles);
	f->place = (int)rng_below(&r, (uint32_t)gen_nplaces);
	f->label = (int)rng_below(&r, 4);
	f->freebusy = (int)rng_below(&r, 10);
	f->attendees = rng_below(&r, 10) < 4 ? 1 + (int)rng_below(&r, 3) : 0;
	f->remind = rng_below(&r, 2);
}

static json_t *gen_event(const struct gen_ctx *g, uint32_t k)
{
	struct event_facts f;
	event_facts(g, k, &f);
	static const char *const freqs[] = {"Daily", "Weekly", "Monthly", "Yearly"};
	static const char *const labels[] = {"None", "Business", "Personal", "Important"};
	json_t *o = json_object();
	json_object_set_new(o, "access", json_string("EAccessCreator"));
	json_object_set_new(o, "summary", json_string(gen_event_titles[f.title]));
	json_object_set_new(o, "location", json_string(gen_places[f.place]));
	char desc[256];
	snprintf(desc, sizeof desc, "Agenda: %s.\nBitte pünktlich sein — merci! 📅",
		 gen_topics[k % gen_ntopics]);
	json_object_set_new(o, "description", json_string(desc));
	json_object_set_new(o, "label", json_string(labels[f.label]));
	json_object_set_new(o, "categories", json_array());
	char s[20];
	if (f.all_day) {
		dt_format_date(f.start, s);
		json_object_set_new(o, "start", json_string(s));
		dt_format_date(f.start + f.dur - DAY, s); /* inclusive end date */
		json_object_set_new(o, "end", json_string(s));
	} else {
		gen_add_date(o, "start", f.start);
		gen_add_date(o, "end", f.start + f.dur);
	}
	json_object_set_new(o, "travelMinutes", json_integer(0));
	json_object_set_new(o, "freeBusy", json_string(f.all_day ? "Free"
						       : f.freebusy < 8 ? "Busy" : "Tentative"));
	json_object_set_new(o, "isPrivate", json_boolean(f.freebusy == 9));
	json_object_set_new(o, "isAllDay", json_boolean(f.all_day));
	json_object_set_new(o, "priority", json_string("Normal"));
	if (f.recurring) {
		json_t *rule = empty_rule();
		json_object_set_new(rule, "isSet", json_true());
		json_object_set_new(rule, "frequency", json_string(freqs[f.freq]));
		json_object_set_new(json_object_get(rule, "preciseBy"), "byInterval",
				    json_integer(f.interval));
		if (!f.never) {
			int64_t until = gen_rule_nth(f.start, f.freq, f.interval, f.count - 1);
			json_t *eb = json_object_get(rule, "endBy");
			json_object_set_new(eb, "type", json_string("ByRecurrenceDate"));
			dt_format(until, s);
			json_object_set_new(eb, "date", json_string(s));
		}
		json_object_set_new(o, "rule", rule);
		if (f.exceptions) {
			json_t *ex = json_array();
			int64_t moved = gen_rule_nth(f.start, f.freq, f.interval, 2);
			int64_t gone = gen_rule_nth(f.start, f.freq, f.interval, 4);
			char o1[20], n1[20], e1[20], o2[20];
			dt_format(moved, o1);
			dt_format(moved + 3600, n1);
			dt_format(moved + 3600 + f.dur, e1);
			dt_format(gone, o2);
			char sum[200];
			snprintf(sum, sizeof sum, "%s (verschoben)", gen_event_titles[f.title]);
			json_array_append_new(ex, json_pack("{s:s, s:s, s:s, s:s}", "orig", o1, "start",
							    n1, "end", e1, "summary", sum));
			json_array_append_new(ex, json_pack("{s:s, s:b}", "orig", o2, "deleted", 1));
			json_object_set_new(o, "x-exceptions", ex);
		}
	} else {
		json_object_set_new(o, "rule", empty_rule());
	}
	json_t *att = json_array();
	if (f.attendees) {
		json_array_append_new(att, json_pack("{s:s, s:s, s:s, s:b, s:s}", "displayName",
						     g->user_name, "emailAddress", g->user_addr,
						     "role", "RoleOrganizer", "isNotified", 0,
						     "partStatus", "PartAccepted"));
		static const char *const ps[] = {"PartNotResponded", "PartAccepted", "PartDeclined",
						 "PartTentative"};
		for (int i = 0; i < f.attendees; i++) {
			const struct gen_person *p = &gen_people[(k * 7 + (uint32_t)i * 3) % gen_npeople];
			char name[160];
			snprintf(name, sizeof name, "%s %s", p->first, p->last);
			json_array_append_new(att, json_pack("{s:s, s:s, s:s, s:b, s:s}", "displayName",
							     name, "emailAddress", p->address, "role",
							     i == 2 ? "RoleOptionalAttendee"
								    : "RoleRequiredAttendee",
							     "isNotified", 1, "partStatus",
							     ps[(k + (uint32_t)i) % 4]));
		}
	}
	json_object_set_new(o, "attendees", att);
	json_object_set_new(o, "reminder", reminder(f.remind, 15));
	json_object_set_new(o, "isCancelled", json_false());
	return o;
}

/* ---- contacts, tasks, notes ---- */

static json_t *ab_ext(void)
{
	return json_pack("{s:s, s:s}", "groupId", "", "label", "");
}

static json_t *gen_contact(const struct gen_ctx *g, uint32_t k)
{
	(void)g;
	const struct gen_person *a = &gen_people[k % gen_npeople];
	const struct gen_person *b = &gen_people[(k / gen_npeople * 7 + k) % gen_npeople];
	const char *last = k < gen_npeople ? a->last : b->last;
	char common[200], addr[200], url[200];
	snprintf(common, sizeof common, "%s %s", a->first, last);
	if (k < gen_npeople)
		snprintf(addr, sizeof addr, "%s", a->address);
	else
		snprintf(addr, sizeof addr, "c%u.%s", k, a->address);
	snprintf(url, sizeof url, "https://www.example.org/~c%u", k);
	json_t *o = json_object();
	json_object_set_new(o, "type", json_string("ctContact"));
	json_object_set_new(o, "commonName", json_string(common));
	json_object_set_new(o, "firstName", json_string(a->first));
	json_object_set_new(o, "middleName", json_string(""));
	json_object_set_new(o, "surName", json_string(last));
	json_object_set_new(o, "titleBefore", json_string(k % 5 == 0 ? "Dr." : ""));
	json_object_set_new(o, "titleAfter", json_string(k % 11 == 0 ? "Ph.D." : ""));
	json_object_set_new(o, "nickName", json_string(""));
	json_t *phones = json_array();
	json_array_append_new(phones, json_pack("{s:s, s:s, s:o}", "type", "TypeWorkVoice", "number",
						a->phone, "extension", ab_ext()));
	if (k % 2)
		json_array_append_new(phones, json_pack("{s:s, s:s, s:o}", "type", "TypeMobile",
							"number", "+420 777 000 111", "extension",
							ab_ext()));
	json_object_set_new(o, "phoneNumbers", phones);
	json_object_set_new(o, "emailAddresses",
			    json_pack("[{s:s, s:s, s:b, s:b, s:s, s:s, s:o}]", "address", addr, "name",
				      common, "preferred", 1, "isValidCertificate", 0, "type",
				      "EmailWork", "refId", "", "extension", ab_ext()));
	json_object_set_new(o, "postalAddresses",
			    json_pack("[{s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}]",
				      "preferred", 1, "pobox", "", "extendedAddress", "", "street",
				      "Hauptstraße 5", "locality", a->city, "state", "", "zip", "12345",
				      "country", "", "label", "", "type", "AddressWork", "extension",
				      ab_ext()));
	json_object_set_new(o, "urls", json_pack("[{s:s, s:s, s:o}]", "type", "UrlWork", "url", url,
						 "extension", ab_ext()));
	char bday[20];
	dt_format_date((int64_t)(k % 15000) * DAY + 86400LL * 365 * 2, bday);
	json_object_set_new(o, "birthDay", json_string(k % 3 == 0 ? bday : ""));
	json_object_set_new(o, "anniversary", json_string(""));
	json_object_set_new(o, "companyName", json_string(a->company));
	json_object_set_new(o, "departmentName", json_string(k % 2 ? "Vertrieb" : "Engineering"));
	json_object_set_new(o, "profession", json_string(""));
	json_object_set_new(o, "managerName", json_string(""));
	json_object_set_new(o, "assistantName", json_string(""));
	json_object_set_new(o, "comment", json_string(k % 4 == 0 ? "Met at the café — likes ☕." : ""));
	json_object_set_new(o, "IMAddress", json_string(""));
	json_object_set_new(o, "photo", json_pack("{s:s, s:s}", "id", "", "url", ""));
	json_object_set_new(o, "categories", json_array());
	json_object_set_new(o, "isGalContact", json_false());
	return o;
}

static void task_dates(const struct gen_ctx *g, uint32_t k, int64_t *start, int64_t *due)
{
	struct rng r;
	rng_init(&r, g->seed, KIND_TASK, k, 0);
	*start = g->base / DAY * DAY + ((int64_t)rng_below(&r, 120) - 90) * DAY + 9 * 3600;
	*due = *start + (1 + (int64_t)rng_below(&r, 20)) * DAY;
}

static json_t *gen_task(const struct gen_ctx *g, uint32_t k)
{
	int64_t start, due;
	task_dates(g, k, &start, &due);
	static const char *const st[] = {"tsNotStarted", "tsInProgress", "tsCompleted", "tsWaiting",
					 "tsDeferred"};
	int status = (int)(k % 5);
	json_t *o = json_object();
	json_object_set_new(o, "access", json_string("EAccessCreator"));
	json_object_set_new(o, "summary", json_string(gen_task_titles[k % gen_ntask_titles]));
	json_object_set_new(o, "location", json_string(""));
	json_object_set_new(o, "description", json_string("Siehe Anhang — see attached. ✅"));
	json_object_set_new(o, "status", json_string(st[status]));
	gen_add_date(o, "start", start);
	gen_add_date(o, "due", due);
	if (status == 2)
		gen_add_date(o, "end", due - 3600);
	else
		json_object_set_new(o, "end", json_string(""));
	json_object_set_new(o, "done", json_integer(status == 2 ? 100 : status == 1 ? 40 : 0));
	json_object_set_new(o, "priority", json_string(k % 7 == 0 ? "High" : "Normal"));
	json_object_set_new(o, "rule", empty_rule());
	json_object_set_new(o, "attendees", json_array());
	json_object_set_new(o, "reminder", reminder(k % 3 == 0, 60));
	json_object_set_new(o, "sortOrder", json_integer((json_int_t)k));
	json_object_set_new(o, "isPrivate", json_false());
	json_object_set_new(o, "isCancelled", json_false());
	return o;
}

static json_t *gen_note(const struct gen_ctx *g, uint32_t k)
{
	static const char *const colors[] = {"White", "Yellow", "Pink", "Green", "Blue"};
	json_t *o = json_object();
	char text[400];
	snprintf(text, sizeof text, "Notiz %u: %s\nNicht vergessen — don't forget! 📝\n%s", k + 1,
		 gen_topics[k % gen_ntopics], gen_words[(k * 13) % gen_nwords]);
	json_object_set_new(o, "color", json_string(colors[k % 5]));
	json_object_set_new(o, "text", json_string(text));
	json_object_set_new(o, "position", json_pack("{s:i, s:i, s:i, s:i}", "xOffset",
						     (int)(k % 10) * 20, "yOffset", (int)(k % 7) * 20,
						     "xSize", 200, "ySize", 160));
	int64_t created = g->base - (int64_t)(k % 400) * DAY - 7200;
	gen_add_date(o, "createDate", created);
	gen_add_date(o, "modifyDate", created + 3600);
	return o;
}

void gen_meta(const struct gen_ctx *g, enum sim_kind kind, uint32_t k, struct gen_meta *m)
{
	memset(m, 0, sizeof *m);
	switch (kind) {
	case KIND_MAIL: {
		struct mail_facts f;
		gen_mail_facts(g, k, &f);
		m->slot = f.slot;
		m->date = f.date;
		m->flags = f.flags;
		m->size = f.size;
		break;
	}
	case KIND_EVENT: {
		struct event_facts f;
		event_facts(g, k, &f);
		m->slot = f.slot;
		m->date = f.start;
		break;
	}
	case KIND_CONTACT:
		m->slot = k % 10 == 9 ? GF_CONTACTS2 : GF_CONTACTS;
		m->date = g->base - 400 * DAY + (int64_t)(k % 400) * DAY;
		break;
	case KIND_TASK: {
		int64_t due;
		m->slot = GF_TASKS;
		task_dates(g, k, &m->date, &due);
		break;
	}
	case KIND_NOTE:
		m->slot = GF_NOTES;
		m->date = g->base - (int64_t)(k % 400) * DAY - 7200;
		break;
	default:
		break;
	}
}

json_t *gen_item_json(const struct gen_ctx *g, enum sim_kind kind, uint32_t k, int with_content)
{
	switch (kind) {
	case KIND_MAIL:
		return gen_mail_json(g, k, with_content);
	case KIND_EVENT:
		return gen_event(g, k);
	case KIND_CONTACT:
		return gen_contact(g, k);
	case KIND_TASK:
		return gen_task(g, k);
	case KIND_NOTE:
		return gen_note(g, k);
	default:
		return json_object();
	}
}
