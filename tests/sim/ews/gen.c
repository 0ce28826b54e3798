/* The generated account: folders, and items rebuilt on demand from (seed, kind, index) so a
 * mailbox of 100k messages costs one small struct per message until a client reads or
 * changes it. Names and subjects mix ASCII with Czech, German, Nordic, Greek, CJK and emoji
 * text; sizes follow a mail-like distribution (mostly 1-4 KiB, some 4-32 KiB, 5% with a
 * 20-300 KiB attachment). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "util.h"

static const char *const given[] = {"Jan", "Zoë", "Søren", "Ana", "Jürgen", "Chloé", "Łukasz",
				    "Eleni", "Hiroshi", "Fatima", "Olga", "Marek", "Ines", "Björn",
				    "Anežka", "Tomás"};
static const char *const surname[] = {"Novák", "Müller", "Kierkegaard", "García", "Schäfer",
				      "Dubois", "Wiśniewski", "Παπαδοπούλου", "田中", "Haddad",
				      "Ivanova", "Dvořák", "Álvarez", "Åström", "Černá", "O'Brien"};
static const char *const words[] = {
	"quarterly", "report", "meeting", "budget", "Grüße", "Übersicht", "projekt", "plán",
	"schůzka", "review", "draft", "invoice", "naïve", "café", "déjà", "vu", "update", "release",
	"roadmap", "kick-off", "Ζήτημα", "会議", "資料", "🎉", "deadline", "offsite", "agenda",
	"minutes", "travel", "expenses", "contract", "proposal", "design", "server", "backup",
	"migration", "Straße", "smørrebrød", "příloha", "feedback"};
static const char *const places[] = {"Room 101", "Zasedačka 2", "Café Müller", "Online",
				     "Besprechungsraum Süd", "東京オフィス"};
static const char *const domains[] = {"example.com", "example.org", "example.net", "firma.example"};

#define NW (sizeof words / sizeof *words)

const char *kind_name(enum sim_kind k)
{
	static const char *const n[] = {"none", "mail", "event", "contact", "task", "note"};
	return (unsigned)k <= K_NOTE ? n[k] : "none";
}

int kind_from_name(const char *n)
{
	for (int k = K_MAIL; n && k <= K_NOTE; k++)
		if (!strcmp(n, kind_name((enum sim_kind)k)))
			return k;
	return -1;
}

static void phrase(struct rng *r, struct buf *b, int nwords)
{
	for (int i = 0; i < nwords; i++) {
		if (i)
			buf_puts(b, " ");
		buf_puts(b, words[rng_below(r, NW)]);
	}
}

static char *subject(struct rng *r)
{
	struct buf b = {0};
	static const char *const pre[] = {"", "", "", "Re: ", "Fwd: ", "AW: "};
	buf_puts(&b, pre[rng_below(r, 6)]);
	phrase(r, &b, 2 + (int)rng_below(r, 5));
	return buf_steal(&b);
}

static char *body_text(struct rng *r, size_t target)
{
	struct buf b = {0};
	buf_reserve(&b, target + 256); /* a phrase is at most 15 words of at most 20 bytes */
	while (b.len < target) {
		phrase(r, &b, 6 + (int)rng_below(r, 10));
		buf_puts(&b, rng_below(r, 4) ? ". " : ".\n\n");
	}
	return buf_steal(&b);
}

static json_t *person(struct rng *r)
{
	const char *g = given[rng_below(r, 16)], *sn = surname[rng_below(r, 16)];
	char name[128], mail[160];
	snprintf(name, sizeof name, "%s %s", g, sn);
	snprintf(mail, sizeof mail, "user%u@%s", rng_below(r, 500), domains[rng_below(r, 4)]);
	return json_pack("{s:s, s:s}", "name", name, "email", mail);
}

static json_t *gen_mail(struct sim *s, uint32_t i, int64_t *date)
{
	struct rng r;
	rng_seed(&r, s->cfg.seed, K_MAIL, i);
	char *subj = subject(&r);
	uint32_t sz = rng_below(&r, 100);
	size_t target = sz < 70 ? 800 + rng_below(&r, 3200) : 4096 + rng_below(&r, 28672);
	char *body = body_text(&r, target);
	char mid[128];
	snprintf(mid, sizeof mid, "<sim.%" PRIu64 ".%u@mail.example.com>", s->cfg.seed, i);
	*date = s->cfg.base_time - (int64_t)i * 900 - (int64_t)rng_below(&r, 900);
	json_t *to = json_array();
	json_array_append_new(to, json_pack("{s:s, s:s}", "name", s->cfg.full_name, "email",
					    s->user_addr));
	json_t *o = json_pack("{s:s, s:o, s:o, s:o, s:I, s:s}", "subject", subj, "from",
			      person(&r), "to", to, "cc", json_array(), "date", (json_int_t)*date,
			      "messageId", mid);
	/* the body is made of the word list's UTF-8: no need to validate it again */
	json_object_set_new_nocheck(o, "body", json_string_nocheck(body));
	if (rng_below(&r, 3) == 0)
		json_array_append_new(json_object_get(o, "cc"), person(&r));
	if (sz >= 95)
		json_object_set_new(o, "attachment",
				    json_pack("{s:s, s:I}", "name", "Příloha-data.bin", "size",
					      (json_int_t)(20480 + rng_below(&r, 286720))));
	free(subj);
	free(body);
	return o;
}

static json_t *gen_event(struct sim *s, uint32_t i, int64_t *date)
{
	struct rng r;
	rng_seed(&r, s->cfg.seed, K_EVENT, i);
	char uid[96];
	snprintf(uid, sizeof uid, "sim-%" PRIu64 "-event-%u@example.com", s->cfg.seed, i);
	int64_t day0 = s->cfg.base_time / 86400 * 86400;
	int64_t start = day0 + ((int64_t)(i * 37 % 120) - 60) * 86400 + (8 + rng_below(&r, 9)) * 3600;
	int all_day = rng_below(&r, 10) == 0;
	int64_t end = start + (1 + rng_below(&r, 3)) * 1800;
	if (all_day) {
		start = start / 86400 * 86400;
		end = start + 86400;
	}
	struct buf sb = {0};
	phrase(&r, &sb, 2 + (int)rng_below(&r, 3));
	char *body = body_text(&r, 100 + rng_below(&r, 600));
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:b}", "uid", uid, "subject", sb.p,
			      "location", places[rng_below(&r, 6)], "body", body, "start",
			      (json_int_t)start, "end", (json_int_t)end, "allDay", all_day);
	buf_free(&sb);
	free(body);
	*date = start;
	if (!all_day && i % 5 == 1) {
		static const char *const freq[] = {"daily", "weekly", "monthly", "yearly"};
		const char *f = freq[(i / 5) % 4];
		json_t *rec = json_pack("{s:s, s:i}", "freq", f, "interval", 1 + (int)(i % 2));
		if ((i / 5) % 3 == 0)
			json_object_set_new(rec, "count", json_integer(10));
		else if ((i / 5) % 3 == 1)
			json_object_set_new(rec, "until", json_integer(start + 200 * 86400));
		json_object_set_new(o, "recurrence", rec);
		if (!strcmp(f, "weekly") || !strcmp(f, "daily")) {
			int64_t step = (!strcmp(f, "weekly") ? 7 : 1) * 86400 * (1 + (int64_t)(i % 2));
			json_object_set_new(o, "exceptions",
					    json_pack("[{s:I, s:I, s:I}]", "originalStart",
						      (json_int_t)(start + step), "start",
						      (json_int_t)(start + step + 3600), "end",
						      (json_int_t)(end + step + 3600)));
			json_object_set_new(o, "deleted",
					    json_pack("[I]", (json_int_t)(start + 2 * step)));
		}
	}
	return o;
}

static json_t *gen_contact(struct sim *s, uint32_t i, int64_t *date)
{
	struct rng r;
	rng_seed(&r, s->cfg.seed, K_CONTACT, i);
	const char *g = given[rng_below(&r, 16)], *sn = surname[rng_below(&r, 16)];
	char disp[128], mail[160], phone[40], mobile[40];
	snprintf(disp, sizeof disp, "%s %s", g, sn);
	snprintf(mail, sizeof mail, "contact%u@%s", i, domains[rng_below(&r, 4)]);
	snprintf(phone, sizeof phone, "+420 2%02u %03u %03u", rng_below(&r, 100), rng_below(&r, 1000),
		 rng_below(&r, 1000));
	snprintf(mobile, sizeof mobile, "+49 17%u %07u", rng_below(&r, 10), rng_below(&r, 10000000));
	struct buf co = {0};
	phrase(&r, &co, 1);
	buf_puts(&co, " GmbH");
	*date = s->cfg.base_time - (int64_t)i * 3600;
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[s], s:{s:s, s:s}}", "givenName", g,
			      "surname", sn, "displayName", disp, "company", co.p, "jobTitle",
			      words[rng_below(&r, NW)], "emails", mail, "phones", "business", phone,
			      "mobile", mobile);
	buf_free(&co);
	if (i % 3 == 0) {
		char bd[16];
		snprintf(bd, sizeof bd, "19%02u-%02u-%02u", 50 + rng_below(&r, 50), 1 + rng_below(&r, 12),
			 1 + rng_below(&r, 28));
		json_object_set_new(o, "birthday", json_string(bd));
	}
	if (i % 4 == 0) {
		char *notes = body_text(&r, 80);
		json_object_set_new(o, "notes", json_string(notes));
		free(notes);
	}
	return o;
}

static json_t *gen_task(struct sim *s, uint32_t i, int64_t *date)
{
	struct rng r;
	rng_seed(&r, s->cfg.seed, K_TASK, i);
	static const char *const st[] = {"NotStarted", "InProgress", "Completed", "WaitingOnOthers",
					 "Deferred"};
	struct buf sb = {0};
	phrase(&r, &sb, 3);
	char *body = body_text(&r, 60 + rng_below(&r, 300));
	const char *status = st[i % 5];
	int64_t start = s->cfg.base_time / 86400 * 86400 - (int64_t)(i % 20) * 86400;
	json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:I, s:I}", "subject", sb.p, "body", body,
			      "status", status, "percent",
			      !strcmp(status, "Completed") ? 100 : !strcmp(status, "InProgress") ? 50 : 0,
			      "start", (json_int_t)start, "due", (json_int_t)(start + 7 * 86400));
	if (!strcmp(status, "Completed"))
		json_object_set_new(o, "completed", json_integer(start + 86400));
	*date = start;
	buf_free(&sb);
	free(body);
	return o;
}

static json_t *gen_note(struct sim *s, uint32_t i, int64_t *date)
{
	struct rng r;
	rng_seed(&r, s->cfg.seed, K_NOTE, i);
	struct buf sb = {0};
	phrase(&r, &sb, 3);
	char *body = body_text(&r, 40 + rng_below(&r, 400));
	*date = s->cfg.base_time - (int64_t)i * 7200;
	json_t *o = json_pack("{s:s, s:s, s:I}", "subject", sb.p, "body", body, "date",
			      (json_int_t)*date);
	buf_free(&sb);
	free(body);
	return o;
}

static json_t *gen_props(struct sim *s, enum sim_kind k, uint32_t i, int64_t *date)
{
	switch (k) {
	case K_MAIL: return gen_mail(s, i, date);
	case K_EVENT: return gen_event(s, i, date);
	case K_CONTACT: return gen_contact(s, i, date);
	case K_TASK: return gen_task(s, i, date);
	case K_NOTE: return gen_note(s, i, date);
	default: return json_object();
	}
}

json_t *item_props(struct sim *s, const struct sim_item *it)
{
	if (it->props)
		return json_incref(it->props);
	int64_t d;
	return gen_props(s, it->kind, it->gen - 1, &d);
}

/* RFC 2047 B-encoding of a header value when it is not plain ASCII. */
static void header_text(struct buf *b, const char *v)
{
	int ascii = 1;
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p >= 0x80)
			ascii = 0;
	if (ascii) {
		buf_puts(b, v);
		return;
	}
	buf_puts(b, "=?UTF-8?B?");
	buf_b64(b, v, strlen(v));
	buf_puts(b, "?=");
}

static void header_addr(struct buf *b, const char *name, json_t *p)
{
	buf_printf(b, "%s: ", name);
	size_t i;
	json_t *v;
	json_t *list = json_is_array(p) ? p : NULL;
	if (!list) {
		list = json_array();
		json_array_append(list, p);
	}
	json_array_foreach(list, i, v) {
		if (i)
			buf_puts(b, ",\r\n ");
		const char *name = json_string_value(json_object_get(v, "name"));
		if (name && *name) { /* a recipient without a display name is its address alone */
			header_text(b, name);
			buf_puts(b, " ");
		}
		buf_printf(b, "<%s>", json_string_value(json_object_get(v, "email")));
	}
	if (list != p)
		json_decref(list);
	buf_puts(b, "\r\n");
}

static void crlf_text(struct buf *b, const char *t)
{
	for (;;) {
		const char *nl = strchr(t, '\n');
		if (!nl) {
			buf_puts(b, t);
			return;
		}
		buf_add(b, t, (size_t)(nl - t));
		buf_puts(b, "\r\n");
		t = nl + 1;
	}
}

unsigned char *item_mime(struct sim *s, const struct sim_item *it, size_t *len)
{
	if (it->mime)
		return item_mime_of(s, it, NULL, len);
	json_t *p = item_props(s, it);
	unsigned char *m = item_mime_of(s, it, p, len);
	json_decref(p);
	return m;
}

unsigned char *item_mime_of(struct sim *s, const struct sim_item *it, json_t *p, size_t *len)
{
	if (it->mime) {
		unsigned char *c = xmalloc(it->mime_len + 1);
		memcpy(c, it->mime, it->mime_len);
		c[it->mime_len] = 0;
		*len = it->mime_len;
		return c;
	}
	struct buf b = {0};
	char date[64];
	fmt_rfc5322(json_integer_value(json_object_get(p, "date")), date, sizeof date);
	header_addr(&b, "From", json_object_get(p, "from"));
	header_addr(&b, "To", json_object_get(p, "to"));
	if (json_array_size(json_object_get(p, "cc")))
		header_addr(&b, "Cc", json_object_get(p, "cc"));
	buf_puts(&b, "Subject: ");
	header_text(&b, json_string_value(json_object_get(p, "subject")));
	buf_printf(&b, "\r\nDate: %s\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n", date,
		   json_string_value(json_object_get(p, "messageId")));
	json_t *att = json_object_get(p, "attachment");
	const char *body = json_string_value(json_object_get(p, "body"));
	if (!att) {
		buf_puts(&b, "Content-Type: text/plain; charset=UTF-8\r\n"
			     "Content-Transfer-Encoding: 8bit\r\n\r\n");
		crlf_text(&b, body);
	} else {
		char bnd[64];
		snprintf(bnd, sizeof bnd, "=_sim_%" PRIu64 "_%u", s->cfg.seed, it->gen);
		buf_printf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
			       "This is a multi-part message in MIME format.\r\n\r\n--%s\r\n"
			       "Content-Type: text/plain; charset=UTF-8\r\n"
			       "Content-Transfer-Encoding: 8bit\r\n\r\n", bnd, bnd);
		crlf_text(&b, body);
		size_t n = (size_t)json_integer_value(json_object_get(att, "size"));
		buf_printf(&b, "\r\n--%s\r\nContent-Type: application/octet-stream\r\n"
			       "Content-Disposition: attachment;\r\n filename*=UTF-8''P%%C5%%99%%C3%%ADloha-data.bin\r\n"
			       "Content-Transfer-Encoding: base64\r\n\r\n", bnd);
		struct rng r;
		rng_seed(&r, s->cfg.seed, 0xa77ac4, it->gen);
		unsigned char line[57];
		for (size_t done = 0; done < n; done += sizeof line) {
			size_t k = n - done < sizeof line ? n - done : sizeof line;
			for (size_t j = 0; j < k; j++)
				line[j] = (unsigned char)rng_next(&r);
			buf_b64(&b, line, k);
			buf_puts(&b, "\r\n");
		}
		buf_printf(&b, "--%s--\r\n", bnd);
	}
	*len = b.len;
	return (unsigned char *)buf_steal(&b);
}

void gen_account(struct sim *s)
{
	struct sim_folder *root = store_folder_new(s, -1, K_NONE, "Root", "root", NULL);
	struct sim_folder *top = store_folder_new(s, root->idx, K_NONE, "Top of Information Store",
						  "msgfolderroot", "IPF.Note");
	int t = top->idx;
	struct sim_folder *inbox = store_folder_new(s, t, K_MAIL, "Inbox", "inbox", "IPF.Note");
	store_folder_new(s, t, K_MAIL, "Drafts", "drafts", "IPF.Note");
	struct sim_folder *sent = store_folder_new(s, t, K_MAIL, "Sent Items", "sentitems", "IPF.Note");
	struct sim_folder *del = store_folder_new(s, t, K_MAIL, "Deleted Items", "deleteditems", "IPF.Note");
	store_folder_new(s, t, K_MAIL, "Junk Email", "junkemail", "IPF.Note");
	store_folder_new(s, t, K_MAIL, "Outbox", "outbox", "IPF.Note");
	struct sim_folder *cal = store_folder_new(s, t, K_EVENT, "Calendar", "calendar", "IPF.Appointment");
	struct sim_folder *con = store_folder_new(s, t, K_CONTACT, "Contacts", "contacts", "IPF.Contact");
	struct sim_folder *tasks = store_folder_new(s, t, K_TASK, "Tasks", "tasks", "IPF.Task");
	struct sim_folder *notes = store_folder_new(s, t, K_NOTE, "Notes", "notes", "IPF.StickyNote");
	struct sim_folder *proj = store_folder_new(s, inbox->idx, K_MAIL, "Projekte", NULL, "IPF.Note");
	struct sim_folder *uni = store_folder_new(s, proj->idx, K_MAIL, "Ünïcødé 2025 – 日本", NULL,
						  "IPF.Note");
	store_folder_new(s, cal->idx, K_EVENT, "Urlaub", NULL, "IPF.Appointment");
	struct sim_folder *mail_to[20];
	for (int i = 0; i < 20; i++)
		mail_to[i] = i < 14 ? inbox : i < 17 ? sent : i == 17 ? proj : i == 18 ? uni : del;
	/* Oldest first so that the newest messages carry the highest change numbers. */
	for (long i = s->cfg.n_mail - 1; i >= 0; i--) {
		struct sim_item *it = store_item_new(s, mail_to[(i * 7) % 20], K_MAIL, (uint32_t)i + 1, NULL);
		struct rng r;
		rng_seed(&r, s->cfg.seed, 0xf1a9, (uint64_t)i);
		uint32_t x = rng_below(&r, 100);
		it->flags = (x >= 15 ? MF_READ : 0) | (x % 20 == 3 ? MF_FLAGGED : 0);
		it->last_verb = x % 17 == 5 ? 102 : x % 29 == 7 ? 104 : 0;
		struct sim_folder *f = s->folders[it->folder];
		if (it->flags & MF_READ)
			f->unread--;
		it->date = s->cfg.base_time - (int64_t)i * 900;
	}
	struct { enum sim_kind k; long n; struct sim_folder *f; } rest[] = {
		{K_EVENT, s->cfg.n_event, cal}, {K_CONTACT, s->cfg.n_contact, con},
		{K_TASK, s->cfg.n_task, tasks}, {K_NOTE, s->cfg.n_note, notes}};
	for (size_t k = 0; k < sizeof rest / sizeof *rest; k++)
		for (long i = 0; i < rest[k].n; i++) {
			struct sim_item *it = store_item_new(s, rest[k].f, rest[k].k, (uint32_t)i + 1, NULL);
			json_decref(gen_props(s, rest[k].k, (uint32_t)i, &it->date));
		}
}
