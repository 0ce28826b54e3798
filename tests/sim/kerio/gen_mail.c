/* Generated mail: the facts of mail k (folder, dates, flags, people, thread, sizes,
 * attachments), its API object, and a direct JSON text writer for the hot serving path. */
#include "gen_mail.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "datetime.h"
#include "gen_words.h"
#include "item_json.h"
#include "jsonout.h"
#include "util.h"

#define DAY 86400LL

/* ---- mail facts ---- */

static void mail_stream(const struct gen_ctx *g, uint32_t k, struct rng *r)
{
	rng_init(r, g->seed, KIND_MAIL, k, 0);
}

/* The first two draws of a mail's stream decide whether it is a reply and to which mail. */
static int64_t mail_parent(const struct gen_ctx *g, uint32_t k)
{
	struct rng r;
	mail_stream(g, k, &r);
	uint32_t reply = rng_below(&r, 100);
	uint32_t back = rng_below(&r, 40);
	if (k == 0 || reply >= 30)
		return -1;
	uint32_t span = k < 40 ? k : 40;
	return (int64_t)k - 1 - (back % span);
}

void gen_mail_facts(const struct gen_ctx *g, uint32_t k, struct mail_facts *f)
{
	struct rng r;
	memset(f, 0, sizeof *f);
	mail_stream(g, k, &r);
	rng_next(&r);
	rng_next(&r);
	f->parent = mail_parent(g, k);

	uint32_t p = rng_below(&r, 100);
	static const struct { int upto, slot; } dist[] = {
		{55, GF_INBOX}, {63, GF_PROJECTS}, {71, GF_NEWS}, {75, GF_PROJ2024}, {85, GF_SENT},
		{86, GF_DRAFTS}, {89, GF_DELETED}, {90, GF_JUNK}, {96, GF_ARCHIVE}, {100, GF_ARCH2023},
	};
	f->slot = GF_INBOX;
	for (size_t i = 0; i < sizeof dist / sizeof dist[0]; i++)
		if ((int)p < dist[i].upto) {
			f->slot = dist[i].slot;
			break;
		}
	f->sent = f->slot == GF_SENT || f->slot == GF_DRAFTS;

	long total = g->n_mail > 0 ? g->n_mail : 1;
	int64_t span = 3 * 365 * DAY;
	f->date = g->base - (int64_t)((double)(total - (long)k) / (double)total * (double)span)
		  - (int64_t)rng_below(&r, 3600);

	uint32_t u1 = rng_below(&r, 1000), u2 = rng_below(&r, 1000), u3 = rng_below(&r, 1000);
	int recent = (long)k > total - total / 30 - 1;
	switch (f->slot) {
	case GF_SENT:
		f->flags = MF_SEEN;
		break;
	case GF_DRAFTS:
		f->flags = MF_SEEN | MF_DRAFT;
		break;
	case GF_DELETED:
		f->flags = u1 < 900 ? MF_SEEN : 0;
		break;
	case GF_JUNK:
		f->flags = MF_JUNK | (u1 < 500 ? MF_SEEN : 0);
		break;
	case GF_ARCHIVE:
	case GF_ARCH2023:
		f->flags = MF_SEEN | (u2 < 30 ? MF_FLAGGED : 0);
		break;
	default:
		f->flags = (u1 < (recent ? 300u : 750u)) ? MF_SEEN : 0;
		if (u2 < 60)
			f->flags |= MF_FLAGGED;
		if (u3 < 120)
			f->flags |= MF_ANSWERED | MF_SEEN;
		else if (u3 < 150)
			f->flags |= MF_FORWARDED | MF_SEEN;
	}

	/* Text body: log-uniform over 1..16 KiB, median 4 KiB. */
	f->body_len = (int)(4096.0 * pow(2.0, (rng_unit(&r) - 0.5) * 4.0));
	f->has_html = rng_below(&r, 2);
	f->from = (int)rng_below(&r, (uint32_t)gen_npeople);
	f->nto = 1 + (int)rng_below(&r, 3);
	for (int i = 0; i < f->nto; i++)
		f->to[i] = (int)rng_below(&r, (uint32_t)gen_npeople);
	f->to_user = !f->sent;
	if (f->to_user)
		f->nto = rng_below(&r, 10) < 3 ? 1 : 0;
	else
		rng_next(&r);
	f->ncc = rng_below(&r, 100) < 25 ? 1 + (int)rng_below(&r, 2) : 0;
	for (int i = 0; i < f->ncc; i++)
		f->cc[i] = (int)rng_below(&r, (uint32_t)gen_npeople);
	f->topic = (int)rng_below(&r, (uint32_t)gen_ntopics);
	f->form = (int)rng_below(&r, (uint32_t)gen_nsubject_forms);

	uint32_t a = rng_below(&r, 10000);
	if (a < 10) {
		f->nattach = 1;
		f->att_size[0] = 1048576 + rng_below(&r, 65536);
	} else if (a < 510) {
		f->nattach = 1;
		f->att_size[0] = 102400 + rng_below(&r, 16384);
	} else {
		rng_next(&r);
	}
	if (f->nattach && rng_below(&r, 4) == 0) {
		f->nattach = 2;
		f->att_size[1] = 2000 + rng_below(&r, 30000);
	} else {
		rng_next(&r);
	}
	for (int i = 0; i < MAX_ATT; i++)
		f->att_kind[i] = (int)rng_below(&r, (uint32_t)gen_nattachment_kinds);
	uint32_t pr = rng_below(&r, 100);
	f->priority = pr < 5 ? 2 : pr < 8 ? 1 : 0;

	f->size = 900 + f->body_len + (f->has_html ? f->body_len + f->body_len / 3 : 0);
	for (int i = 0; i < f->nattach; i++)
		f->size += (f->att_size[i] + 2) / 3 * 4 + 300;
}

void gen_message_id(const struct gen_ctx *g, uint32_t k, char out[96])
{
	snprintf(out, 96, "<%u.%016llx@mail.example.org>", k,
		 (unsigned long long)mix64(g->seed ^ mix64(k)));
}

int64_t gen_mail_root(const struct gen_ctx *g, uint32_t k)
{
	int64_t cur = k, p;
	while ((p = mail_parent(g, (uint32_t)cur)) >= 0)
		cur = p;
	return cur;
}

/* ---- JSON builders ---- */

static json_t *email_json(const char *name, const char *address)
{
	return json_pack("{s:s, s:s, s:s}", "name", name, "address", address, "contactId", "");
}

static json_t *person_email(int i)
{
	const struct gen_person *p = &gen_people[i];
	char name[160];
	snprintf(name, sizeof name, "%s %s", p->first, p->last);
	return email_json(name, p->address);
}

static json_t *empty_email(void)
{
	return email_json("", "");
}

static json_t *localizable_empty(void)
{
	return json_pack("{s:s, s:[], s:i}", "message", "", "positionalParameters", "plurality", 1);
}


/* ---- mail ---- */

static void mail_subject(const struct gen_ctx *g, uint32_t k, const struct mail_facts *f,
			 char *out, size_t n)
{
	if (f->parent >= 0) {
		struct mail_facts rf;
		gen_mail_facts(g, (uint32_t)gen_mail_root(g, k), &rf);
		snprintf(out, n, "Re: %s", gen_topics[rf.topic]);
	} else {
		snprintf(out, n, gen_subject_forms[f->form], gen_topics[f->topic]);
	}
}

/* Text and (if any) HTML body of mail k, with their MIME part paths (README: "Displayable
 * parts and attachments"). */
static void mail_bodies(const struct gen_ctx *g, uint32_t k, const struct mail_facts *f,
			struct buf *t, struct buf *h, const char **text_id, const char **html_id)
{
	*text_id = f->nattach ? (f->has_html ? "0-0-0" : "0-0") : (f->has_html ? "0-0" : "0");
	*html_id = f->nattach ? "0-0-1" : "0-1";
	struct rng r;
	rng_init(&r, g->seed, KIND_MAIL, k, 1);
	const struct gen_person *to0 = &gen_people[f->to_user ? f->from : f->to[0]];
	const char *greet_name = f->sent ? to0->first : g->user_name;
	t->cap = (size_t)f->body_len + 512;
	t->p = xmalloc(t->cap);
	char line[512];
	snprintf(line, sizeof line, "Hallo %s,\n\n", greet_name);
	buf_adds(t, line);
	gen_text(g->corpus, &r, t, f->body_len - 120, 0);
	snprintf(line, sizeof line, "\n\nBest regards / Mit freundlichen Grüßen,\n%s\n",
		 f->sent ? g->user_name : gen_people[f->from].first);
	buf_adds(t, line);
	if (!f->has_html)
		return;
	h->cap = (size_t)f->body_len * 2 + 512;
	h->p = xmalloc(h->cap);
	buf_adds(h, "<html><head><meta charset=\"utf-8\"></head><body>\n");
	snprintf(line, sizeof line, "<p>Hallo %s,</p>\n", greet_name);
	buf_adds(h, line);
	rng_init(&r, g->seed, KIND_MAIL, k, 1);
	gen_text(g->corpus, &r, h, f->body_len - 120, 1);
	buf_adds(h, "\n</body></html>\n");
}

json_t *gen_mail_json(const struct gen_ctx *g, uint32_t k, int with_content)
{
	struct mail_facts f;
	gen_mail_facts(g, k, &f);
	json_t *o = json_object();
	if (f.sent) {
		json_object_set_new(o, "from", email_json(g->user_name, g->user_addr));
	} else {
		json_object_set_new(o, "from", person_email(f.from));
	}
	json_object_set_new(o, "sender", empty_email());
	json_t *to = json_array(), *cc = json_array();
	if (f.to_user)
		json_array_append_new(to, email_json(g->user_name, g->user_addr));
	for (int i = 0; i < f.nto; i++)
		json_array_append_new(to, person_email(f.to[i]));
	for (int i = 0; i < f.ncc; i++)
		json_array_append_new(cc, person_email(f.cc[i]));
	json_object_set_new(o, "to", to);
	json_object_set_new(o, "cc", cc);
	json_object_set_new(o, "bcc", json_array());
	if (f.slot == GF_DRAFTS) {
		json_object_set_new(o, "sendDate", json_string(""));
		json_object_set_new(o, "receiveDate", json_string(""));
	} else {
		gen_add_date(o, "sendDate", f.date - 7 - (int64_t)(k % 50));
		gen_add_date(o, "receiveDate", f.date);
	}
	json_object_set_new(o, "replyTo", json_array());
	json_object_set_new(o, "notificationTo", empty_email());

	char subject[512];
	mail_subject(g, k, &f, subject, sizeof subject);
	json_object_set_new(o, "subject", json_string(subject));
	static const char *const prio[] = {"Normal", "Low", "High"};
	json_object_set_new(o, "priority", json_string(prio[f.priority]));
	json_object_set_new(o, "size", json_integer(f.size));
	json_object_set_new(o, "isMDNSent", json_false());
	json_object_set_new(o, "showExternal", json_false());
	json_object_set_new(o, "requestDSN", json_false());
	json_object_set_new(o, "hasAttachment", json_boolean(f.nattach > 0));
	json_object_set_new(o, "isReadOnly", json_false());
	json_object_set_new(o, "signInfo", json_pack("{s:b, s:b, s:o, s:{}}", "isSigned", 0,
						     "isValid", 0, "error", localizable_empty(),
						     "cert"));
	json_object_set_new(o, "encryptInfo", json_pack("{s:b, s:s, s:o}", "isEncrypted", 0,
							"result", "DecryptSuccesful", "error",
							localizable_empty()));

	if (with_content) {
		struct buf tx = {0}, hx = {0};
		const char *text_id, *html_id;
		mail_bodies(g, k, &f, &tx, &hx, &text_id, &html_id);
		json_t *parts = json_array();
		json_array_append_new(parts, json_pack("{s:s, s:s, s:o}", "id", text_id, "contentType",
						       "ctTextPlain", "content",
						       json_stringn_nocheck(tx.p, tx.len)));
		if (f.has_html)
			json_array_append_new(parts, json_pack("{s:s, s:s, s:o}", "id", html_id,
							       "contentType", "ctTextHtml", "content",
							       json_stringn_nocheck(hx.p, hx.len)));
		buf_free(&tx);
		buf_free(&hx);
		json_object_set_new(o, "displayableParts", parts);
	}
	json_t *atts = json_array();
	for (int i = 0; i < f.nattach; i++) {
		const struct gen_attachment_kind *ak = &gen_attachment_kinds[f.att_kind[i]];
		char part[16], src[48];
		snprintf(part, sizeof part, "0-%d", i + 1);
		snprintf(src, sizeof src, "gen:%u:%d", k, i);
		json_array_append_new(atts, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "id", part,
						      "url", "", "name", ak->name, "contentType",
						      ak->ctype, "contentId", "", "size",
						      (json_int_t)f.att_size[i], "x-src", src));
	}
	json_object_set_new(o, "attachments", atts);
	char mid[96];
	gen_message_id(g, k, mid);
	json_t *hdrs = json_array();
	json_array_append_new(hdrs, json_pack("{s:s, s:s}", "type", "mhMessageID", "value", mid));
	if (f.parent >= 0) {
		char pmid[96];
		gen_message_id(g, (uint32_t)f.parent, pmid);
		json_array_append_new(hdrs, json_pack("{s:s, s:s}", "type", "mhInReplayTo", "value",
						      pmid));
	}
	json_object_set_new(o, "headers", hdrs);
	return o;
}

int gen_attachment_info(const struct gen_ctx *g, uint32_t k, int i, const char **name,
			const char **ctype, int64_t *size)
{
	struct mail_facts f;
	gen_mail_facts(g, k, &f);
	if (i < 0 || i >= f.nattach)
		return -1;
	const struct gen_attachment_kind *ak = &gen_attachment_kinds[f.att_kind[i]];
	if (name)
		*name = ak->name;
	if (ctype)
		*ctype = ak->ctype;
	if (size)
		*size = f.att_size[i];
	return 0;
}

void gen_attachment_read(const struct gen_ctx *g, uint32_t k, int i, uint64_t off,
			 unsigned char *out, size_t n)
{
	struct mail_facts f;
	gen_mail_facts(g, k, &f);
	const char *magic = i < f.nattach ? gen_attachment_kinds[f.att_kind[i]].magic : "";
	size_t ml = strlen(magic);
	uint64_t key = mix64(g->seed ^ mix64(((uint64_t)k << 8) | (unsigned)i));
	while (n && off < ml) {
		*out++ = (unsigned char)magic[off++];
		n--;
	}
	if (n)
		stream_bytes(key, off, out, n);
}

/* ---- direct JSON writer ---- */

static const char *const mail_field_names[MFD_COUNT] = {
	"id", "folderId", "watermark", "from", "sender", "to", "cc", "bcc", "sendDate",
	"receiveDate", "replyTo", "notificationTo", "subject", "priority", "size", "isSeen",
	"isAnswered", "isFlagged", "isForwarded", "isJunk", "isMDNSent", "showExternal",
	"requestDSN", "hasAttachment", "isDraft", "isReadOnly", "signInfo", "encryptInfo",
	"displayableParts", "attachments", "headers", "modifiedDate",
};

uint64_t gen_mail_field_mask(json_t *fields, int content)
{
	uint64_t all = (1ULL << MFD_COUNT) - 1;
	if (!json_array_size(fields))
		return content ? all : all & ~(1ULL << MFD_DISPLAYABLEPARTS);
	uint64_t m = 1ULL << MFD_ID;
	size_t i;
	json_t *f;
	json_array_foreach(fields, i, f) {
		const char *s = json_string_value(f);
		for (int j = 0; s && j < MFD_COUNT; j++)
			if (!strcmp(s, mail_field_names[j]))
				m |= 1ULL << j;
	}
	return m;
}

struct writer {
	struct buf *b;
	int first;
};

static void w_key(struct writer *w, const char *key)
{
	if (!w->first)
		buf_add(w->b, ",", 1);
	w->first = 0;
	buf_add(w->b, "\"", 1);
	buf_adds(w->b, key);
	buf_add(w->b, "\":", 2);
}

static void w_str(struct buf *b, const char *s)
{
	jsonout_string(b, s, strlen(s));
}

static void w_email(struct buf *b, const char *name, const char *addr)
{
	buf_adds(b, "{\"name\":");
	w_str(b, name);
	buf_adds(b, ",\"address\":");
	w_str(b, addr);
	buf_adds(b, ",\"contactId\":\"\"}");
}

static void w_person(struct buf *b, int i)
{
	const struct gen_person *p = &gen_people[i];
	buf_adds(b, "{\"name\":\"");
	buf_adds(b, p->first); /* the table needs no escaping */
	buf_add(b, " ", 1);
	buf_adds(b, p->last);
	buf_adds(b, "\",\"address\":\"");
	buf_adds(b, p->address);
	buf_adds(b, "\",\"contactId\":\"\"}");
}

static void w_date(struct buf *b, int64_t t)
{
	char d[20];
	dt_format(t, d);
	buf_add(b, "\"", 1);
	buf_adds(b, d);
	buf_add(b, "\"", 1);
}

static void w_int(struct buf *b, int64_t v)
{
	char n[24], *p = n + sizeof n;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	buf_add(b, p, (size_t)(n + sizeof n - p));
}

void gen_mail_write(const struct gen_ctx *g, uint32_t k, const struct mail_render *r,
		    struct buf *b)
{
	struct mail_facts f;
	gen_mail_facts(g, k, &f);
	struct writer w = {b, 1};
	uint64_t m = r->mask;
#define WANT(x) (m & (1ULL << (x)))
	static const char *const prio[] = {"Normal", "Low", "High"};
	static const struct { int field; uint32_t bit; } flags[] = {
		{MFD_ISSEEN, MF_SEEN}, {MFD_ISANSWERED, MF_ANSWERED}, {MFD_ISFLAGGED, MF_FLAGGED},
		{MFD_ISFORWARDED, MF_FORWARDED}, {MFD_ISJUNK, MF_JUNK}, {MFD_ISMDNSENT, MF_MDNSENT},
		{MFD_SHOWEXTERNAL, MF_SHOWEXTERNAL}, {MFD_REQUESTDSN, MF_REQUESTDSN},
	};
	buf_add(b, "{", 1);
	if (WANT(MFD_ID)) {
		w_key(&w, "id");
		w_str(b, r->id);
	}
	if (WANT(MFD_FOLDERID)) {
		w_key(&w, "folderId");
		w_str(b, r->folder_id);
	}
	if (WANT(MFD_WATERMARK)) {
		w_key(&w, "watermark");
		w_int(b, r->watermark);
	}
	if (WANT(MFD_FROM)) {
		w_key(&w, "from");
		if (f.sent)
			w_email(b, g->user_name, g->user_addr);
		else
			w_person(b, f.from);
	}
	if (WANT(MFD_SENDER)) {
		w_key(&w, "sender");
		w_email(b, "", "");
	}
	if (WANT(MFD_TO)) {
		w_key(&w, "to");
		buf_add(b, "[", 1);
		int n = 0;
		if (f.to_user) {
			w_email(b, g->user_name, g->user_addr);
			n++;
		}
		for (int i = 0; i < f.nto; i++) {
			if (n++)
				buf_add(b, ",", 1);
			w_person(b, f.to[i]);
		}
		buf_add(b, "]", 1);
	}
	if (WANT(MFD_CC)) {
		w_key(&w, "cc");
		buf_add(b, "[", 1);
		for (int i = 0; i < f.ncc; i++) {
			if (i)
				buf_add(b, ",", 1);
			w_person(b, f.cc[i]);
		}
		buf_add(b, "]", 1);
	}
	if (WANT(MFD_BCC)) {
		w_key(&w, "bcc");
		buf_adds(b, "[]");
	}
	if (WANT(MFD_SENDDATE)) {
		w_key(&w, "sendDate");
		if (f.slot == GF_DRAFTS)
			buf_adds(b, "\"\"");
		else
			w_date(b, f.date - 7 - (int64_t)(k % 50));
	}
	if (WANT(MFD_RECEIVEDATE)) {
		w_key(&w, "receiveDate");
		if (f.slot == GF_DRAFTS)
			buf_adds(b, "\"\"");
		else
			w_date(b, f.date);
	}
	if (WANT(MFD_REPLYTO)) {
		w_key(&w, "replyTo");
		buf_adds(b, "[]");
	}
	if (WANT(MFD_NOTIFICATIONTO)) {
		w_key(&w, "notificationTo");
		w_email(b, "", "");
	}
	if (WANT(MFD_SUBJECT)) {
		char subject[512];
		mail_subject(g, k, &f, subject, sizeof subject);
		w_key(&w, "subject");
		w_str(b, subject);
	}
	if (WANT(MFD_PRIORITY)) {
		w_key(&w, "priority");
		w_str(b, prio[f.priority]);
	}
	if (WANT(MFD_SIZE)) {
		w_key(&w, "size");
		w_int(b, r->size);
	}
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
		if (WANT(flags[i].field)) {
			w_key(&w, mail_field_names[flags[i].field]);
			buf_adds(b, (r->flags & flags[i].bit) ? "true" : "false");
		}
	if (WANT(MFD_HASATTACHMENT)) {
		w_key(&w, "hasAttachment");
		buf_adds(b, f.nattach ? "true" : "false");
	}
	if (WANT(MFD_ISDRAFT)) {
		w_key(&w, "isDraft");
		buf_adds(b, (r->flags & MF_DRAFT) ? "true" : "false");
	}
	if (WANT(MFD_ISREADONLY)) {
		w_key(&w, "isReadOnly");
		buf_adds(b, "false");
	}
	static const char errjs[] = "{\"message\":\"\",\"positionalParameters\":[],\"plurality\":1}";
	if (WANT(MFD_SIGNINFO)) {
		w_key(&w, "signInfo");
		buf_adds(b, "{\"isSigned\":false,\"isValid\":false,\"error\":");
		buf_adds(b, errjs);
		buf_adds(b, ",\"cert\":{}}");
	}
	if (WANT(MFD_ENCRYPTINFO)) {
		w_key(&w, "encryptInfo");
		buf_adds(b, "{\"isEncrypted\":false,\"result\":\"DecryptSuccesful\",\"error\":");
		buf_adds(b, errjs);
		buf_adds(b, "}");
	}
	if (WANT(MFD_DISPLAYABLEPARTS)) {
		struct buf tx = {0}, hx = {0};
		const char *text_id, *html_id;
		mail_bodies(g, k, &f, &tx, &hx, &text_id, &html_id);
		w_key(&w, "displayableParts");
		buf_adds(b, "[{\"id\":");
		w_str(b, text_id);
		buf_adds(b, ",\"contentType\":\"ctTextPlain\",\"content\":");
		jsonout_string(b, tx.p, tx.len);
		buf_adds(b, "}");
		if (f.has_html) {
			buf_adds(b, ",{\"id\":");
			w_str(b, html_id);
			buf_adds(b, ",\"contentType\":\"ctTextHtml\",\"content\":");
			jsonout_string(b, hx.p, hx.len);
			buf_adds(b, "}");
		}
		buf_adds(b, "]");
		buf_free(&tx);
		buf_free(&hx);
	}
	if (WANT(MFD_ATTACHMENTS)) {
		w_key(&w, "attachments");
		buf_add(b, "[", 1);
		for (int i = 0; i < f.nattach; i++) {
			const struct gen_attachment_kind *ak = &gen_attachment_kinds[f.att_kind[i]];
			char part[16], esc[600], s[1200];
			snprintf(part, sizeof part, "0-%d", i + 1);
			url_escape(ak->name, esc, sizeof esc);
			if (i)
				buf_add(b, ",", 1);
			snprintf(s, sizeof s, "%s%s", r->att_id_prefix, part);
			buf_adds(b, "{\"id\":");
			w_str(b, s);
			snprintf(s, sizeof s, "%s%s/%s", r->att_url_prefix, part, esc);
			buf_adds(b, ",\"url\":");
			w_str(b, s);
			buf_adds(b, ",\"name\":");
			w_str(b, ak->name);
			buf_adds(b, ",\"contentType\":");
			w_str(b, ak->ctype);
			buf_adds(b, ",\"contentId\":\"\",\"size\":");
			w_int(b, f.att_size[i]);
			buf_adds(b, "}");
		}
		buf_add(b, "]", 1);
	}
	if (WANT(MFD_HEADERS)) {
		char mid[96];
		gen_message_id(g, k, mid);
		w_key(&w, "headers");
		buf_adds(b, "[{\"type\":\"mhMessageID\",\"value\":");
		w_str(b, mid);
		buf_adds(b, "}");
		if (f.parent >= 0) {
			gen_message_id(g, (uint32_t)f.parent, mid);
			buf_adds(b, ",{\"type\":\"mhInReplayTo\",\"value\":");
			w_str(b, mid);
			buf_adds(b, "}");
		}
		buf_add(b, "]", 1);
	}
	if (WANT(MFD_MODIFIEDDATE)) {
		w_key(&w, "modifiedDate");
		w_date(b, r->mtime);
	}
	buf_add(b, "}", 1);
#undef WANT
}
