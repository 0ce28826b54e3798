/* Items as JSON (see item_json.h). */
#include "item_json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datetime.h"
#include "gen.h"
#include "jsonout.h"
#include "query.h"
#include "store.h"
#include "util.h"

static const struct { const char *name; uint32_t bit; } mail_flags[] = {
	{"isSeen", MF_SEEN}, {"isAnswered", MF_ANSWERED}, {"isFlagged", MF_FLAGGED},
	{"isForwarded", MF_FORWARDED}, {"isJunk", MF_JUNK}, {"isMDNSent", MF_MDNSENT},
	{"showExternal", MF_SHOWEXTERNAL}, {"requestDSN", MF_REQUESTDSN},
};

uint32_t mail_flag_bit(const char *name)
{
	for (size_t i = 0; i < sizeof mail_flags / sizeof mail_flags[0]; i++)
		if (strcmp(name, mail_flags[i].name) == 0)
			return mail_flags[i].bit;
	return 0;
}

int item_member_readonly(enum sim_kind kind, const char *key)
{
	static const char *const common[] = {"id", "watermark", "folderId", "access",
					     "isCancelled", NULL};
	static const char *const mail[] = {"size", "hasAttachment", "isDraft", "isReadOnly",
					   "signInfo", "encryptInfo", "send", "sign", "encrypt",
					   "modifiedDate", NULL};
	static const char *const occ[] = {"eventId", "isException", "hasReminder", "isRecurrent",
					  "seqNumber", "modification", NULL};
	if (key[0] == 'x' && key[1] == '-')
		return 1;
	for (int i = 0; common[i]; i++)
		if (strcmp(key, common[i]) == 0)
			return 1;
	if (kind == KIND_MAIL) {
		for (int i = 0; mail[i]; i++)
			if (strcmp(key, mail[i]) == 0)
				return 1;
		if (mail_flag_bit(key))
			return 1;
	}
	if (kind == KIND_EVENT)
		for (int i = 0; occ[i]; i++)
			if (strcmp(key, occ[i]) == 0)
				return 1;
	if (kind == KIND_CONTACT && strcmp(key, "isGalContact") == 0)
		return 1;
	if (kind == KIND_NOTE && (strcmp(key, "createDate") == 0 || strcmp(key, "modifyDate") == 0))
		return 1;
	return 0;
}

void url_escape(const char *in, char *out, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)in; *p && o + 4 < n; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~", *p)) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = 0;
}

json_t *item_data(struct sim_store *s, const struct sim_item *it, int content)
{
	if (it->data)
		return json_incref(it->data);
	struct gen_ctx g = store_gen_ctx(s);
	if (it->gen)
		return gen_item_json(&g, it->kind, it->gen - 1, content);
	return json_object();
}

void item_materialize(struct sim_store *s, struct sim_item *it)
{
	if (!it->data)
		it->data = item_data(s, it, 1);
}

static json_t *attachments_json(struct sim_store *s, const struct sim_item *it, json_t *atts)
{
	const struct sim_folder *f = s->folders[it->folder];
	json_t *out = json_array();
	size_t i;
	json_t *a;
	json_array_foreach(atts, i, a) {
		const char *part = json_string_value(json_object_get(a, "id"));
		const char *name = json_string_value(json_object_get(a, "name"));
		char esc[600], id[ID_MAX + 32], url[ID_MAX + 700];
		url_escape(name && *name ? name : "attachment", esc, sizeof esc);
		snprintf(id, sizeof id, "keriostorage://attachment/%s/%s/%s/%" PRIu64 "/%s",
			 store_domain(s), store_folder_user(s, f), f->uuid, it->n, part ? part : "");
		snprintf(url, sizeof url, "/webmail/api/download/attachment/%s/%" PRIu64 "/%s/%s",
			 f->uuid, it->n, part ? part : "", esc);
		json_t *o = json_object();
		json_object_set_new(o, "id", json_string(id));
		json_object_set_new(o, "url", json_string(url));
		json_object_set(o, "name", json_object_get(a, "name"));
		json_object_set(o, "contentType", json_object_get(a, "contentType"));
		json_object_set(o, "contentId", json_object_get(a, "contentId"));
		json_object_set(o, "size", json_object_get(a, "size"));
		json_array_append_new(out, o);
	}
	return out;
}

json_t *item_json(struct sim_store *s, const struct sim_item *it, int content)
{
	char id[ID_MAX];
	store_item_id(s, it, id, sizeof id);
	json_t *data = item_data(s, it, content);
	json_t *out = json_object();
	json_object_set_new(out, "id", json_string(id));
	json_object_set_new(out, "folderId", json_string(s->folders[it->folder]->id));
	json_object_set_new(out, "watermark", json_integer(it->watermark));
	const char *key;
	json_t *v;
	json_object_foreach(data, key, v) {
		if (key[0] == 'x' && key[1] == '-')
			continue;
		if (it->kind == KIND_MAIL) {
			if (strcmp(key, "displayableParts") == 0 && !content)
				continue;
			if (strcmp(key, "attachments") == 0) {
				json_object_set_new(out, key, attachments_json(s, it, v));
				continue;
			}
			if (strcmp(key, "size") == 0) {
				json_object_set_new(out, "size", json_integer(it->size));
				for (size_t i = 0; i < sizeof mail_flags / sizeof mail_flags[0]; i++)
					json_object_set_new(out, mail_flags[i].name,
							    json_boolean(it->flags & mail_flags[i].bit));
				continue;
			}
			if (strcmp(key, "hasAttachment") == 0) {
				json_t *a = json_object_get(data, "attachments");
				json_object_set_new(out, key, json_boolean(json_array_size(a) > 0));
				json_object_set_new(out, "isDraft", json_boolean(it->flags & MF_DRAFT));
				continue;
			}
		}
		if (!json_object_get(out, key))
			json_object_set(out, key, v);
	}
	if (it->kind == KIND_MAIL) {
		char d[20];
		dt_format(it->mtime, d);
		json_object_set_new(out, "modifiedDate", json_string(d));
	}
	json_decref(data);
	return out;
}

json_t *item_json_reply(struct sim_store *s, const struct sim_item *it, int content,
			json_t *fields, uint64_t mail_mask)
{
	if (it->kind != KIND_MAIL || it->data || !it->gen)
		return query_project(item_json(s, it, content), fields);
	const struct sim_folder *f = s->folders[it->folder];
	char id[ID_MAX], aid[ID_MAX + 32], aurl[ID_MAX];
	store_item_id(s, it, id, sizeof id);
	snprintf(aid, sizeof aid, "keriostorage://attachment/%s/%s/%s/%" PRIu64 "/",
		 store_domain(s), store_folder_user(s, f), f->uuid, it->n);
	snprintf(aurl, sizeof aurl, "/webmail/api/download/attachment/%s/%" PRIu64 "/", f->uuid,
		 it->n);
	struct mail_render r = {id, f->id, it->watermark, it->size, it->mtime, it->flags, aid, aurl,
				mail_mask};
	struct gen_ctx g = store_gen_ctx(s);
	struct buf b = {0};
	b.cap = 65536;
	b.p = xmalloc(b.cap);
	buf_add(&b, s->raw_tag, JSONOUT_TAG_LEN);
	gen_mail_write(&g, it->gen - 1, &r, &b);
	json_t *raw = json_stringn_nocheck(b.p, b.len);
	buf_free(&b);
	return raw;
}

static json_t *email0(void)
{
	return json_pack("{s:s, s:s, s:s}", "name", "", "address", "", "contactId", "");
}

static json_t *rule0(void)
{
	return json_pack("{s:b, s:s, s:{s:s, s:s}, s:{s:[], s:[], s:[], s:[], s:i}}", "isSet", 0,
			 "frequency", "Daily", "endBy", "type", "ByRecurrenceNever", "date", "",
			 "preciseBy", "byDay", "byMonthDay", "byMonth", "byPosition",
			 "byInterval", 1);
}

static json_t *reminder0(void)
{
	return json_pack("{s:b, s:s, s:i, s:s}", "isSet", 0, "type", "ReminderRelative",
			 "minutesBeforeStart", 15, "date", "");
}

json_t *item_defaults(struct sim_store *s, enum sim_kind kind)
{
	(void)s;
	json_t *o = json_object();
	switch (kind) {
	case KIND_MAIL: {
		json_t *err = json_pack("{s:s, s:[], s:i}", "message", "", "positionalParameters",
					"plurality", 1);
		json_object_set_new(o, "from", email0());
		json_object_set_new(o, "sender", email0());
		json_object_set_new(o, "to", json_array());
		json_object_set_new(o, "cc", json_array());
		json_object_set_new(o, "bcc", json_array());
		json_object_set_new(o, "sendDate", json_string(""));
		json_object_set_new(o, "receiveDate", json_string(""));
		json_object_set_new(o, "replyTo", json_array());
		json_object_set_new(o, "notificationTo", email0());
		json_object_set_new(o, "subject", json_string(""));
		json_object_set_new(o, "priority", json_string("Normal"));
		json_object_set_new(o, "size", json_integer(0));
		json_object_set_new(o, "isMDNSent", json_false());
		json_object_set_new(o, "showExternal", json_false());
		json_object_set_new(o, "requestDSN", json_false());
		json_object_set_new(o, "hasAttachment", json_false());
		json_object_set_new(o, "isReadOnly", json_false());
		json_object_set_new(o, "signInfo", json_pack("{s:b, s:b, s:O, s:{}}", "isSigned", 0,
							     "isValid", 0, "error", err, "cert"));
		json_object_set_new(o, "encryptInfo", json_pack("{s:b, s:s, s:O}", "isEncrypted", 0,
								"result", "DecryptSuccesful",
								"error", err));
		json_decref(err);
		json_object_set_new(o, "displayableParts", json_array());
		json_object_set_new(o, "attachments", json_array());
		json_object_set_new(o, "headers", json_array());
		break;
	}
	case KIND_EVENT:
		json_object_set_new(o, "access", json_string("EAccessCreator"));
		json_object_set_new(o, "summary", json_string(""));
		json_object_set_new(o, "location", json_string(""));
		json_object_set_new(o, "description", json_string(""));
		json_object_set_new(o, "label", json_string("None"));
		json_object_set_new(o, "categories", json_array());
		json_object_set_new(o, "start", json_string(""));
		json_object_set_new(o, "end", json_string(""));
		json_object_set_new(o, "travelMinutes", json_integer(0));
		json_object_set_new(o, "freeBusy", json_string("Busy"));
		json_object_set_new(o, "isPrivate", json_false());
		json_object_set_new(o, "isAllDay", json_false());
		json_object_set_new(o, "priority", json_string("Normal"));
		json_object_set_new(o, "rule", rule0());
		json_object_set_new(o, "attendees", json_array());
		json_object_set_new(o, "reminder", reminder0());
		json_object_set_new(o, "isCancelled", json_false());
		break;
	case KIND_CONTACT: {
		static const char *const strs[] = {"commonName", "firstName", "middleName", "surName",
						   "titleBefore", "titleAfter", "nickName", NULL};
		static const char *const strs2[] = {"birthDay", "anniversary", "companyName",
						    "departmentName", "profession", "managerName",
						    "assistantName", "comment", "IMAddress", NULL};
		json_object_set_new(o, "type", json_string("ctContact"));
		for (int i = 0; strs[i]; i++)
			json_object_set_new(o, strs[i], json_string(""));
		json_object_set_new(o, "phoneNumbers", json_array());
		json_object_set_new(o, "emailAddresses", json_array());
		json_object_set_new(o, "postalAddresses", json_array());
		json_object_set_new(o, "urls", json_array());
		for (int i = 0; strs2[i]; i++)
			json_object_set_new(o, strs2[i], json_string(""));
		json_object_set_new(o, "photo", json_pack("{s:s, s:s}", "id", "", "url", ""));
		json_object_set_new(o, "categories", json_array());
		json_object_set_new(o, "isGalContact", json_false());
		break;
	}
	case KIND_TASK:
		json_object_set_new(o, "access", json_string("EAccessCreator"));
		json_object_set_new(o, "summary", json_string(""));
		json_object_set_new(o, "location", json_string(""));
		json_object_set_new(o, "description", json_string(""));
		json_object_set_new(o, "status", json_string("tsNotStarted"));
		json_object_set_new(o, "start", json_string(""));
		json_object_set_new(o, "due", json_string(""));
		json_object_set_new(o, "end", json_string(""));
		json_object_set_new(o, "done", json_integer(0));
		json_object_set_new(o, "priority", json_string("Normal"));
		json_object_set_new(o, "rule", rule0());
		json_object_set_new(o, "attendees", json_array());
		json_object_set_new(o, "reminder", reminder0());
		json_object_set_new(o, "sortOrder", json_integer(0));
		json_object_set_new(o, "isPrivate", json_false());
		json_object_set_new(o, "isCancelled", json_false());
		break;
	case KIND_NOTE:
		json_object_set_new(o, "color", json_string("Yellow"));
		json_object_set_new(o, "text", json_string(""));
		json_object_set_new(o, "position", json_pack("{s:i, s:i, s:i, s:i}", "xOffset", 0,
							     "yOffset", 0, "xSize", 200, "ySize",
							     160));
		json_object_set_new(o, "createDate", json_string(""));
		json_object_set_new(o, "modifyDate", json_string(""));
		break;
	default:
		break;
	}
	return o;
}

int64_t mail_data_size(struct sim_store *s, json_t *data)
{
	(void)s;
	int64_t size = 600 + (int64_t)strlen(json_string_value(json_object_get(data, "subject"))
					     ? json_string_value(json_object_get(data, "subject"))
					     : "");
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(data, "displayableParts"), i, p) {
		const char *c = json_string_value(json_object_get(p, "content"));
		size += c ? (int64_t)strlen(c) + 100 : 0;
	}
	json_array_foreach(json_object_get(data, "attachments"), i, p) {
		int64_t n = json_integer_value(json_object_get(p, "size"));
		size += (n + 2) / 3 * 4 + 300;
	}
	return size;
}

int item_attachment(struct sim_store *s, const struct sim_item *it, const char *part,
		    struct att_src *out, json_t **keep)
{
	json_t *data = item_data(s, it, 0);
	size_t i;
	json_t *a;
	memset(out, 0, sizeof *out);
	json_array_foreach(json_object_get(data, "attachments"), i, a) {
		const char *id = json_string_value(json_object_get(a, "id"));
		if (!id || strcmp(id, part) != 0)
			continue;
		const char *src = json_string_value(json_object_get(a, "x-src"));
		out->name = json_string_value(json_object_get(a, "name"));
		out->ctype = json_string_value(json_object_get(a, "contentType"));
		out->size = json_integer_value(json_object_get(a, "size"));
		if (src && strncmp(src, "gen:", 4) == 0) {
			unsigned k;
			int ai;
			if (sscanf(src + 4, "%u:%d", &k, &ai) != 2)
				break;
			out->gen_k = k;
			out->gen_i = ai;
		} else if (src && strncmp(src, "blob:", 5) == 0) {
			out->blob = store_blob_get(s, src + 5);
			if (!out->blob)
				break;
			out->size = (int64_t)out->blob->len;
		} else {
			break;
		}
		*keep = data;
		return 0;
	}
	json_decref(data);
	return -1;
}

void att_read(struct sim_store *s, const struct att_src *a, uint64_t off, unsigned char *out,
	      size_t n)
{
	if (a->blob) {
		memcpy(out, a->blob->data + off, n);
		return;
	}
	struct gen_ctx g = store_gen_ctx(s);
	gen_attachment_read(&g, a->gen_k, a->gen_i, off, out, n);
}
