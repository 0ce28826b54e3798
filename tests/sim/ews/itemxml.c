/* Items and folders as EWS XML (types namespace, schema element order), and the reverse:
 * item elements of CreateItem / UpdateItem requests read into the JSON property model. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "soap.h"

static const char *const weekdays[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday",
				       "Friday", "Saturday"};
static const char *const months[] = {"January", "February", "March", "April", "May", "June", "July",
				     "August", "September", "October", "November", "December"};

const char *item_element(const struct sim_item *it)
{
	switch (it->kind) {
	case K_EVENT: return "CalendarItem";
	case K_CONTACT: return "Contact";
	case K_TASK: return "Task";
	default: return "Message";
	}
}

static const char *item_class(const struct sim_item *it)
{
	switch (it->kind) {
	case K_EVENT: return "IPM.Appointment";
	case K_CONTACT: return "IPM.Contact";
	case K_TASK: return "IPM.Task";
	case K_NOTE: return "IPM.StickyNote";
	default: return "IPM.Note";
	}
}

const char *folder_element(const struct sim_folder *f)
{
	switch (f->kind) {
	case K_EVENT: return "CalendarFolder";
	case K_CONTACT: return "ContactsFolder";
	case K_TASK: return "TasksFolder";
	default: return "Folder";
	}
}

void write_folder(struct sim *s, struct sim_folder *f, int base, struct buf *b)
{
	char id[128], ck[128];
	id_folder(s, f->idx, id, sizeof id);
	folder_changekey(s, f, ck, sizeof ck);
	const char *el = folder_element(f);
	buf_printf(b, "<t:%s><t:FolderId Id=\"%s\" ChangeKey=\"%s\"/>", el, id, ck);
	if (base > 0) {
		if (f->parent >= 0) {
			struct sim_folder *p = s->folders[f->parent];
			char pid[128], pck[128];
			id_folder(s, p->idx, pid, sizeof pid);
			folder_changekey(s, p, pck, sizeof pck);
			buf_printf(b, "<t:ParentFolderId Id=\"%s\" ChangeKey=\"%s\"/>", pid, pck);
		}
		if (f->folder_class)
			buf_elem(b, "t:FolderClass", f->folder_class);
		buf_elem(b, "t:DisplayName", f->name);
		long children = 0;
		for (size_t i = 0; i < s->nfolders; i++)
			children += !s->folders[i]->dead && s->folders[i]->parent == f->idx;
		buf_printf(b, "<t:TotalCount>%ld</t:TotalCount><t:ChildFolderCount>%ld</t:ChildFolderCount>",
			   f->count, children);
		if (!strcmp(el, "Folder") || !strcmp(el, "TasksFolder"))
			buf_printf(b, "<t:UnreadCount>%ld</t:UnreadCount>", f->unread);
	}
	buf_printf(b, "</t:%s>", el);
}

void write_item_id(struct sim *s, struct sim_item *it, struct buf *b)
{
	char id[128], ck[128];
	id_item(s, it->n, id, sizeof id);
	item_changekey(s, it, ck, sizeof ck);
	buf_printf(b, "<t:%s><t:ItemId Id=\"%s\" ChangeKey=\"%s\"/></t:%s>", item_element(it), id, ck,
		   item_element(it));
}

static void time_elem(struct buf *b, const char *name, json_t *v)
{
	if (!json_is_integer(v))
		return;
	char t[40];
	fmt_time(json_integer_value(v), t, sizeof t);
	buf_printf(b, "<t:%s>%s</t:%s>", name, t, name);
}

static void mailbox(struct buf *b, json_t *p)
{
	buf_puts(b, "<t:Mailbox>");
	buf_elem(b, "t:Name", json_string_value(json_object_get(p, "name")));
	buf_elem(b, "t:EmailAddress", json_string_value(json_object_get(p, "email")));
	buf_puts(b, "<t:RoutingType>SMTP</t:RoutingType><t:MailboxType>OneOff</t:MailboxType></t:Mailbox>");
}

static void recipients(struct buf *b, const char *el, json_t *list)
{
	if (!json_array_size(list))
		return;
	size_t i;
	json_t *v;
	buf_printf(b, "<t:%s>", el);
	json_array_foreach(list, i, v) mailbox(b, v);
	buf_printf(b, "</t:%s>", el);
}

static void date_only(int64_t t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, n, "%Y-%m-%dZ", &tm);
}

static void recurrence(struct buf *b, json_t *p)
{
	json_t *rec = json_object_get(p, "recurrence");
	if (!json_is_object(rec))
		return;
	int64_t start = json_integer_value(json_object_get(p, "start"));
	time_t tt = (time_t)start;
	struct tm tm;
	gmtime_r(&tt, &tm);
	const char *freq = json_string_value(json_object_get(rec, "freq"));
	long interval = (long)json_integer_value(json_object_get(rec, "interval"));
	if (interval < 1)
		interval = 1;
	buf_puts(b, "<t:Recurrence>");
	if (!freq || !strcmp(freq, "daily")) {
		buf_printf(b, "<t:DailyRecurrence><t:Interval>%ld</t:Interval></t:DailyRecurrence>", interval);
	} else if (!strcmp(freq, "weekly")) {
		const char *days = json_string_value(json_object_get(rec, "days"));
		buf_printf(b, "<t:WeeklyRecurrence><t:Interval>%ld</t:Interval><t:DaysOfWeek>%s</t:DaysOfWeek>"
			      "<t:FirstDayOfWeek>Monday</t:FirstDayOfWeek></t:WeeklyRecurrence>",
			   interval, days ? days : weekdays[tm.tm_wday]);
	} else if (!strcmp(freq, "monthly")) {
		buf_printf(b, "<t:AbsoluteMonthlyRecurrence><t:Interval>%ld</t:Interval><t:DayOfMonth>%d"
			      "</t:DayOfMonth></t:AbsoluteMonthlyRecurrence>", interval, tm.tm_mday);
	} else {
		buf_printf(b, "<t:AbsoluteYearlyRecurrence><t:DayOfMonth>%d</t:DayOfMonth><t:Month>%s</t:Month>"
			      "</t:AbsoluteYearlyRecurrence>", tm.tm_mday, months[tm.tm_mon]);
	}
	char sd[20], ed[20];
	date_only(start, sd, sizeof sd);
	json_t *count = json_object_get(rec, "count"), *until = json_object_get(rec, "until");
	if (json_is_integer(count)) {
		buf_printf(b, "<t:NumberedRecurrence><t:StartDate>%s</t:StartDate><t:NumberOfOccurrences>%" JSON_INTEGER_FORMAT
			      "</t:NumberOfOccurrences></t:NumberedRecurrence>", sd, json_integer_value(count));
	} else if (json_is_integer(until)) {
		date_only(json_integer_value(until), ed, sizeof ed);
		buf_printf(b, "<t:EndDateRecurrence><t:StartDate>%s</t:StartDate><t:EndDate>%s</t:EndDate>"
			      "</t:EndDateRecurrence>", sd, ed);
	} else {
		buf_printf(b, "<t:NoEndRecurrence><t:StartDate>%s</t:StartDate></t:NoEndRecurrence>", sd);
	}
	buf_puts(b, "</t:Recurrence>");
}

static void occurrences(struct sim *s, struct sim_item *it, struct buf *b, json_t *p)
{
	json_t *ex = json_object_get(p, "exceptions"), *del = json_object_get(p, "deleted");
	size_t i;
	json_t *v;
	if (json_array_size(ex)) {
		buf_puts(b, "<t:ModifiedOccurrences>");
		json_array_foreach(ex, i, v) {
			char oid[128], ck[128];
			id_changekey(s, 'O', it->n * 1000 + i, oid, sizeof oid);
			item_changekey(s, it, ck, sizeof ck);
			buf_printf(b, "<t:Occurrence><t:ItemId Id=\"%s\" ChangeKey=\"%s\"/>", oid, ck);
			time_elem(b, "Start", json_object_get(v, "start"));
			time_elem(b, "End", json_object_get(v, "end"));
			time_elem(b, "OriginalStart", json_object_get(v, "originalStart"));
			buf_puts(b, "</t:Occurrence>");
		}
		buf_puts(b, "</t:ModifiedOccurrences>");
	}
	if (json_array_size(del)) {
		buf_puts(b, "<t:DeletedOccurrences>");
		json_array_foreach(del, i, v) {
			buf_puts(b, "<t:DeletedOccurrence>");
			time_elem(b, "Start", v);
			buf_puts(b, "</t:DeletedOccurrence>");
		}
		buf_puts(b, "</t:DeletedOccurrences>");
	}
}

static const char *flag_status(const struct sim_item *it)
{
	return it->flags & MF_COMPLETE ? "Complete" : it->flags & MF_FLAGGED ? "Flagged" : "NotFlagged";
}

static void ext_int(struct buf *b, const char *tag, long v)
{
	buf_printf(b, "<t:ExtendedProperty><t:ExtendedFieldURI PropertyTag=\"%s\" PropertyType=\"Integer\"/>"
		      "<t:Value>%ld</t:Value></t:ExtendedProperty>", tag, v);
}

/* The item's properties, made (or referenced) on first use into *p. */
static json_t *props_of(struct sim *s, struct sim_item *it, json_t **p)
{
	if (!*p)
		*p = item_props(s, it);
	return *p;
}

void write_item(struct sim *s, struct sim_item *it, const struct shape *sh, struct buf *b)
{
	/* generated items are made again from their seed on every read: only when a field needs them */
	json_t *p = NULL;
	const char *el = item_element(it);
	int full = sh->base > 0;
	unsigned f = sh->fields;
	int mail = it->kind == K_MAIL;
	buf_printf(b, "<t:%s>", el);
	unsigned char *mime = NULL;
	size_t mime_len = 0;
	if (mail && (sh->mime || full || (f & FLD_SIZE)))
		mime = item_mime_of(s, it, props_of(s, it, &p), &mime_len);
	if (mail && sh->mime) {
		buf_puts(b, "<t:MimeContent CharacterSet=\"UTF-8\">");
		buf_b64(b, mime, mime_len);
		buf_puts(b, "</t:MimeContent>");
	}
	char id[128], ck[128];
	id_item(s, it->n, id, sizeof id);
	item_changekey(s, it, ck, sizeof ck);
	buf_printf(b, "<t:ItemId Id=\"%s\" ChangeKey=\"%s\"/>", id, ck);
	if (full || (f & FLD_PARENT)) {
		struct sim_folder *pf = s->folders[it->folder];
		char pid[128], pck[128];
		id_folder(s, pf->idx, pid, sizeof pid);
		folder_changekey(s, pf, pck, sizeof pck);
		buf_printf(b, "<t:ParentFolderId Id=\"%s\" ChangeKey=\"%s\"/>", pid, pck);
	}
	if (full || (f & FLD_ITEMCLASS)) {
		/* only stored items (created or changed by a client) carry their own class */
		const char *ic = it->props ? json_string_value(json_object_get(it->props, "itemClass")) : NULL;
		buf_elem(b, "t:ItemClass", ic ? ic : item_class(it));
	}
	if (full || (f & FLD_SUBJECT))
		buf_elem(b, "t:Subject", json_string_value(json_object_get(props_of(s, it, &p), it->kind == K_CONTACT ? "displayName" : "subject")));
	if (full || (f & FLD_BODY)) {
		const char *body = json_string_value(json_object_get(props_of(s, it, &p), it->kind == K_CONTACT ? "notes" : "body"));
		if (body) {
			buf_puts(b, "<t:Body BodyType=\"Text\">");
			buf_xml(b, body);
			buf_puts(b, "</t:Body>");
		}
	}
	char t[40];
	if (mail && (full || (f & FLD_RECEIVED))) {
		fmt_time(it->date, t, sizeof t);
		buf_printf(b, "<t:DateTimeReceived>%s</t:DateTimeReceived>", t);
	}
	if (mime && (full || (f & FLD_SIZE)))
		buf_printf(b, "<t:Size>%zu</t:Size>", mime_len);
	if (mail && (full || (f & FLD_ISDRAFT)))
		buf_printf(b, "<t:IsDraft>%s</t:IsDraft>", it->flags & MF_DRAFT ? "true" : "false");
	if (mail && (full || (f & FLD_SENT))) { /* the schema's place: after IsDraft, before ExtendedProperty */
		fmt_time(it->date, t, sizeof t);
		buf_printf(b, "<t:DateTimeSent>%s</t:DateTimeSent>", t);
	}
	if (f & FLD_X_MSGFLAGS)
		ext_int(b, "0xe07", (it->flags & MF_READ ? 1 : 0) | (it->flags & MF_DRAFT ? 8 : 0));
	if ((f & FLD_X_LASTVERB) && it->last_verb)
		ext_int(b, "0x1081", it->last_verb);
	if ((f & FLD_X_FLAGSTATUS) && (it->flags & (MF_FLAGGED | MF_COMPLETE)))
		ext_int(b, "0x1090", it->flags & MF_COMPLETE ? 1 : 2);
	const char *key = f & FLD_X_KEY ? json_string_value(json_object_get(props_of(s, it, &p), "key")) : NULL;
	if (key) {
		buf_puts(b, "<t:ExtendedProperty><t:ExtendedFieldURI DistinguishedPropertySetId=\"PublicStrings\" "
			    "PropertyName=\"OutpostKey\" PropertyType=\"String\"/><t:Value>");
		buf_xml(b, key);
		buf_puts(b, "</t:Value></t:ExtendedProperty>");
	}
	if (full || (f & FLD_LASTMOD)) {
		fmt_time(it->date, t, sizeof t);
		buf_printf(b, "<t:LastModifiedTime>%s</t:LastModifiedTime>", t);
	}
	if (mail && (full || (f & FLD_FLAG)))
		buf_printf(b, "<t:Flag><t:FlagStatus>%s</t:FlagStatus></t:Flag>", flag_status(it));
	switch (it->kind) {
	case K_MAIL:
		if (full || (f & FLD_TO))
			recipients(b, "ToRecipients", json_object_get(props_of(s, it, &p), "to"));
		if (full || (f & FLD_CC))
			recipients(b, "CcRecipients", json_object_get(props_of(s, it, &p), "cc"));
		if ((full || (f & FLD_FROM)) && json_is_object(json_object_get(props_of(s, it, &p), "from"))) {
			buf_puts(b, "<t:From>");
			mailbox(b, json_object_get(props_of(s, it, &p), "from"));
			buf_puts(b, "</t:From>");
		}
		if (full || (f & FLD_MSGID))
			buf_elem(b, "t:InternetMessageId", json_string_value(json_object_get(props_of(s, it, &p), "messageId")));
		if (full || (f & FLD_ISREAD))
			buf_printf(b, "<t:IsRead>%s</t:IsRead>", it->flags & MF_READ ? "true" : "false");
		break;
	case K_EVENT:
		if (full || (f & FLD_UID))
			buf_elem(b, "t:UID", json_string_value(json_object_get(props_of(s, it, &p), "uid")));
		if (!full)
			break;
		time_elem(b, "Start", json_object_get(props_of(s, it, &p), "start"));
		time_elem(b, "End", json_object_get(props_of(s, it, &p), "end"));
		buf_printf(b, "<t:IsAllDayEvent>%s</t:IsAllDayEvent>",
			   json_is_true(json_object_get(props_of(s, it, &p), "allDay")) ? "true" : "false");
		buf_elem(b, "t:Location", json_string_value(json_object_get(props_of(s, it, &p), "location")));
		buf_printf(b, "<t:IsRecurring>%s</t:IsRecurring><t:CalendarItemType>%s</t:CalendarItemType>",
			   json_object_get(props_of(s, it, &p), "recurrence") ? "true" : "false",
			   json_object_get(props_of(s, it, &p), "recurrence") ? "RecurringMaster" : "Single");
		recurrence(b, p);
		occurrences(s, it, b, p);
		break;
	case K_CONTACT: {
		if (!full)
			break;
		buf_elem(b, "t:FileAs", json_string_value(json_object_get(props_of(s, it, &p), "displayName")));
		buf_elem(b, "t:DisplayName", json_string_value(json_object_get(props_of(s, it, &p), "displayName")));
		buf_elem(b, "t:GivenName", json_string_value(json_object_get(props_of(s, it, &p), "givenName")));
		buf_elem(b, "t:CompanyName", json_string_value(json_object_get(props_of(s, it, &p), "company")));
		json_t *emails = json_object_get(props_of(s, it, &p), "emails"), *v;
		size_t i;
		if (json_array_size(emails)) {
			buf_puts(b, "<t:EmailAddresses>");
			json_array_foreach(emails, i, v) {
				if (i >= 3 || !json_string_value(v))
					continue;
				buf_printf(b, "<t:Entry Key=\"EmailAddress%zu\">", i + 1);
				buf_xml(b, json_string_value(v));
				buf_puts(b, "</t:Entry>");
			}
			buf_puts(b, "</t:EmailAddresses>");
		}
		json_t *phones = json_object_get(props_of(s, it, &p), "phones");
		if (json_object_size(phones)) {
			static const char *const pk[][2] = {{"business", "BusinessPhone"}, {"home", "HomePhone"},
							   {"mobile", "MobilePhone"}};
			buf_puts(b, "<t:PhoneNumbers>");
			for (size_t k = 0; k < 3; k++) {
				const char *num = json_string_value(json_object_get(phones, pk[k][0]));
				if (!num)
					continue;
				buf_printf(b, "<t:Entry Key=\"%s\">", pk[k][1]);
				buf_xml(b, num);
				buf_puts(b, "</t:Entry>");
			}
			buf_puts(b, "</t:PhoneNumbers>");
		}
		const char *bd = json_string_value(json_object_get(props_of(s, it, &p), "birthday"));
		if (bd)
			buf_printf(b, "<t:Birthday>%.10sT00:00:00Z</t:Birthday>", bd);
		buf_elem(b, "t:JobTitle", json_string_value(json_object_get(props_of(s, it, &p), "jobTitle")));
		buf_elem(b, "t:Surname", json_string_value(json_object_get(props_of(s, it, &p), "surname")));
		break;
	}
	case K_TASK: {
		if (!full)
			break;
		time_elem(b, "CompleteDate", json_object_get(props_of(s, it, &p), "completed"));
		time_elem(b, "DueDate", json_object_get(props_of(s, it, &p), "due"));
		const char *st = json_string_value(json_object_get(props_of(s, it, &p), "status"));
		buf_printf(b, "<t:IsComplete>%s</t:IsComplete>", st && !strcmp(st, "Completed") ? "true" : "false");
		buf_printf(b, "<t:PercentComplete>%" JSON_INTEGER_FORMAT "</t:PercentComplete>",
			   json_integer_value(json_object_get(props_of(s, it, &p), "percent")));
		time_elem(b, "StartDate", json_object_get(props_of(s, it, &p), "start"));
		buf_elem(b, "t:Status", st ? st : "NotStarted");
		break;
	}
	case K_NOTE:
		if (full || (f & FLD_ISREAD))
			buf_puts(b, "<t:IsRead>true</t:IsRead>");
		break;
	default:
		break;
	}
	buf_printf(b, "</t:%s>", el);
	free(mime);
	json_decref(p);
}

/* ---- shapes ---- */

static unsigned ext_field(xmlNodePtr uri)
{
	char *tag = x_attr(uri, "PropertyTag"), *name = x_attr(uri, "PropertyName");
	unsigned f = 0;
	if (tag) {
		long v = strtol(tag, NULL, 0);
		f = v == 0x0E07 ? FLD_X_MSGFLAGS : v == 0x1081 ? FLD_X_LASTVERB : v == 0x1090 ? FLD_X_FLAGSTATUS : 0;
	} else if (name && !strcmp(name, "OutpostKey")) {
		f = FLD_X_KEY;
	}
	free(tag);
	free(name);
	return f;
}

unsigned field_of(xmlNodePtr uri)
{
	if (x_is(uri, NS_T, "ExtendedFieldURI"))
		return ext_field(uri);
	if (!x_is(uri, NS_T, "FieldURI"))
		return 0;
	static const struct { const char *uri; unsigned f; } map[] = {
		{"item:ItemClass", FLD_ITEMCLASS}, {"item:Subject", FLD_SUBJECT}, {"item:Size", FLD_SIZE},
		{"item:DateTimeReceived", FLD_RECEIVED}, {"message:IsRead", FLD_ISREAD},
		{"item:Flag", FLD_FLAG}, {"item:IsDraft", FLD_ISDRAFT},
		{"message:InternetMessageId", FLD_MSGID}, {"message:From", FLD_FROM},
		{"item:ParentFolderId", FLD_PARENT}, {"calendar:UID", FLD_UID}, {"item:Body", FLD_BODY},
		{"item:LastModifiedTime", FLD_LASTMOD}, {"message:ToRecipients", FLD_TO},
		{"message:CcRecipients", FLD_CC}, {"item:DateTimeSent", FLD_SENT}};
	char *v = x_attr(uri, "FieldURI");
	unsigned f = 0;
	for (size_t i = 0; v && i < sizeof map / sizeof *map; i++)
		if (!strcmp(v, map[i].uri))
			f = map[i].f;
	free(v);
	return f;
}

void shape_parse(xmlNodePtr el, struct shape *sh)
{
	memset(sh, 0, sizeof *sh);
	char *base = x_text(x_child(el, NS_T, "BaseShape"));
	sh->base = base && !strcmp(base, "AllProperties") ? 2 : base && !strcmp(base, "Default") ? 1 : 0;
	free(base);
	char *mime = x_text(x_child(el, NS_T, "IncludeMimeContent"));
	sh->mime = mime && (!strcmp(mime, "true") || !strcmp(mime, "1"));
	free(mime);
	for (xmlNodePtr u = x_child(x_child(el, NS_T, "AdditionalProperties"), NS_T, NULL); u;
	     u = x_next(u, NS_T, NULL))
		sh->fields |= field_of(u);
}

/* ---- parsing request items ---- */

static void set_text(json_t *props, const char *key, xmlNodePtr n)
{
	char *v = x_text(n);
	if (v)
		json_object_set_new(props, key, json_string(v));
	free(v);
}

static void set_time(json_t *props, const char *key, xmlNodePtr n)
{
	char *v = x_text(n);
	int64_t t;
	if (v && !parse_time(v, &t))
		json_object_set_new(props, key, json_integer(t));
	free(v);
}

static json_t *parse_recurrence(xmlNodePtr rec)
{
	json_t *o = json_object();
	for (xmlNodePtr n = x_child(rec, NS_T, NULL); n; n = x_next(n, NS_T, NULL)) {
		const char *name = (const char *)n->name;
		char *iv = x_text(x_child(n, NS_T, "Interval"));
		if (!strcmp(name, "DailyRecurrence"))
			json_object_set_new(o, "freq", json_string("daily"));
		else if (!strcmp(name, "WeeklyRecurrence")) {
			json_object_set_new(o, "freq", json_string("weekly"));
			set_text(o, "days", x_child(n, NS_T, "DaysOfWeek"));
		} else if (!strcmp(name, "AbsoluteMonthlyRecurrence"))
			json_object_set_new(o, "freq", json_string("monthly"));
		else if (!strcmp(name, "AbsoluteYearlyRecurrence"))
			json_object_set_new(o, "freq", json_string("yearly"));
		else if (!strcmp(name, "NumberedRecurrence")) {
			char *c = x_text(x_child(n, NS_T, "NumberOfOccurrences"));
			json_object_set_new(o, "count", json_integer(c ? atol(c) : 1));
			free(c);
		} else if (!strcmp(name, "EndDateRecurrence")) {
			char *e = x_text(x_child(n, NS_T, "EndDate"));
			int64_t t;
			if (e && !parse_time(e, &t))
				json_object_set_new(o, "until", json_integer(t + 86399));
			free(e);
		}
		if (iv)
			json_object_set_new(o, "interval", json_integer(atol(iv)));
		free(iv);
	}
	return o;
}

static int parse_ext(xmlNodePtr ep, json_t *props, struct item_flags *fl)
{
	xmlNodePtr uri = x_child(ep, NS_T, "ExtendedFieldURI");
	char *v = x_text(x_child(ep, NS_T, "Value"));
	unsigned f = ext_field(uri);
	if (v) {
		if (f == FLD_X_MSGFLAGS)
			fl->msg_flags = atoi(v);
		else if (f == FLD_X_LASTVERB)
			fl->last_verb = atoi(v);
		else if (f == FLD_X_FLAGSTATUS)
			fl->flag_status = atoi(v) == 2 ? 2 : atoi(v) == 1 ? 1 : 0;
		else if (f == FLD_X_KEY)
			json_object_set_new(props, "key", json_string(v));
	}
	free(v);
	return 0;
}

int parse_item(struct sim *s, xmlNodePtr el, json_t *props, struct item_flags *fl, unsigned char **mime,
	       size_t *mime_len, const char **err)
{
	(void)s;
	fl->read = fl->flag_status = fl->last_verb = fl->msg_flags = -1;
	int contact = x_is(el, NS_T, "Contact"), task = x_is(el, NS_T, "Task");
	for (xmlNodePtr n = x_child(el, NS_T, NULL); n; n = x_next(n, NS_T, NULL)) {
		const char *name = (const char *)n->name;
		if (!strcmp(name, "MimeContent")) {
			char *t = x_text(n);
			size_t len;
			unsigned char *raw = b64_decode(t, strlen(t), &len);
			free(t);
			if (!raw || !len) {
				free(raw);
				*err = "ErrorMimeContentInvalid";
				return -1;
			}
			if (mime) {
				free(*mime);
				*mime = raw;
				*mime_len = len;
			} else {
				free(raw);
			}
		} else if (!strcmp(name, "Subject")) {
			set_text(props, "subject", n);
		} else if (!strcmp(name, "Body")) {
			set_text(props, contact ? "notes" : "body", n);
		} else if (!strcmp(name, "ItemClass")) {
			set_text(props, "itemClass", n);
		} else if (!strcmp(name, "IsRead")) {
			char *v = x_text(n);
			fl->read = v && (!strcmp(v, "true") || !strcmp(v, "1"));
			free(v);
		} else if (!strcmp(name, "Flag")) {
			char *v = x_text(x_child(n, NS_T, "FlagStatus"));
			fl->flag_status = v && !strcmp(v, "Flagged") ? 2 : v && !strcmp(v, "Complete") ? 1 : 0;
			free(v);
		} else if (!strcmp(name, "ExtendedProperty")) {
			parse_ext(n, props, fl);
		} else if (!strcmp(name, "UID")) {
			set_text(props, "uid", n);
		} else if (!strcmp(name, "Start")) {
			set_time(props, "start", n);
		} else if (!strcmp(name, "End")) {
			set_time(props, "end", n);
		} else if (!strcmp(name, "IsAllDayEvent")) {
			char *v = x_text(n);
			json_object_set_new(props, "allDay", json_boolean(v && !strcmp(v, "true")));
			free(v);
		} else if (!strcmp(name, "Location")) {
			set_text(props, "location", n);
		} else if (!strcmp(name, "Recurrence")) {
			json_object_set_new(props, "recurrence", parse_recurrence(n));
		} else if (!strcmp(name, "GivenName")) {
			set_text(props, "givenName", n);
		} else if (!strcmp(name, "Surname")) {
			set_text(props, "surname", n);
		} else if (!strcmp(name, "DisplayName")) {
			set_text(props, "displayName", n);
		} else if (!strcmp(name, "CompanyName")) {
			set_text(props, "company", n);
		} else if (!strcmp(name, "JobTitle")) {
			set_text(props, "jobTitle", n);
		} else if (!strcmp(name, "Birthday")) {
			char *v = x_text(n);
			if (v && strlen(v) >= 10) {
				v[10] = '\0';
				json_object_set_new(props, "birthday", json_string(v));
			}
			free(v);
		} else if (!strcmp(name, "EmailAddresses")) {
			json_t *a = json_array();
			for (xmlNodePtr e = x_child(n, NS_T, "Entry"); e; e = x_next(e, NS_T, "Entry")) {
				char *k = x_attr(e, "Key"), *v = x_text(e);
				size_t idx = k && !strncmp(k, "EmailAddress", 12) ? (size_t)atoi(k + 12) : 0;
				if (idx >= 1 && idx <= 3) {
					while (json_array_size(a) < idx)
						json_array_append_new(a, json_null());
					json_array_set_new(a, idx - 1, json_string(v));
				}
				free(k);
				free(v);
			}
			json_object_set_new(props, "emails", a);
		} else if (!strcmp(name, "PhoneNumbers")) {
			json_t *o = json_object();
			for (xmlNodePtr e = x_child(n, NS_T, "Entry"); e; e = x_next(e, NS_T, "Entry")) {
				char *k = x_attr(e, "Key"), *v = x_text(e);
				const char *key = !k ? NULL : !strcmp(k, "BusinessPhone") ? "business"
							  : !strcmp(k, "MobilePhone") ? "mobile"
							  : !strcmp(k, "HomePhone") ? "home" : NULL;
				if (key && v)
					json_object_set_new(o, key, json_string(v));
				free(k);
				free(v);
			}
			json_object_set_new(props, "phones", o);
		} else if (task && !strcmp(name, "StartDate")) {
			set_time(props, "start", n);
		} else if (task && !strcmp(name, "DueDate")) {
			set_time(props, "due", n);
		} else if (task && !strcmp(name, "CompleteDate")) {
			set_time(props, "completed", n);
		} else if (task && !strcmp(name, "Status")) {
			set_text(props, "status", n);
		} else if (task && !strcmp(name, "PercentComplete")) {
			char *v = x_text(n);
			json_object_set_new(props, "percent", json_integer(v ? atol(v) : 0));
			free(v);
		}
	}
	return 0;
}

void apply_flags(struct sim_item *it, const struct item_flags *fl, int *read_changed, int *other_changed)
{
	uint32_t before = it->flags;
	int verb = it->last_verb;
	if (fl->msg_flags >= 0) {
		it->flags = (it->flags & ~(MF_READ | MF_DRAFT)) | (fl->msg_flags & 1 ? MF_READ : 0) |
			    (fl->msg_flags & 8 ? MF_DRAFT : 0);
	}
	if (fl->read >= 0)
		it->flags = fl->read ? it->flags | MF_READ : it->flags & ~MF_READ;
	if (fl->flag_status >= 0)
		it->flags = (it->flags & ~(MF_FLAGGED | MF_COMPLETE)) |
			    (fl->flag_status == 2 ? MF_FLAGGED : fl->flag_status == 1 ? MF_COMPLETE : 0);
	if (fl->last_verb >= 0)
		it->last_verb = fl->last_verb;
	*read_changed = (before ^ it->flags) & MF_READ;
	*other_changed = ((before ^ it->flags) & ~MF_READ) || verb != it->last_verb;
}

/* Minimal header reader: unfolds, decodes =?UTF-8?B?...?= words. */
static char *decode_words(const char *v)
{
	struct buf b = {0};
	while (*v) {
		const char *start = strstr(v, "=?");
		if (!start) {
			buf_puts(&b, v);
			break;
		}
		buf_add(&b, v, (size_t)(start - v));
		const char *q1 = strchr(start + 2, '?');
		const char *q2 = q1 ? strchr(q1 + 1, '?') : NULL;
		const char *end = q2 ? strstr(q2 + 1, "?=") : NULL;
		if (!end || (q1[1] != 'B' && q1[1] != 'b')) {
			buf_add(&b, start, 2);
			v = start + 2;
			continue;
		}
		size_t len;
		unsigned char *raw = b64_decode(q2 + 1, (size_t)(end - q2 - 1), &len);
		if (raw)
			buf_add(&b, raw, len);
		free(raw);
		v = end + 2;
		while (*v == ' ' && strstr(v, "=?") == v + strspn(v, " "))
			v++;
	}
	return buf_steal(&b);
}

static void take_header(json_t *props, struct buf *hdr)
{
	if (!hdr->len)
		return;
	char *colon = strchr(hdr->p, ':');
	if (!colon)
		return;
	*colon = '\0';
	const char *v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	const char *key = !strcasecmp(hdr->p, "Subject") ? "subject"
			  : !strcasecmp(hdr->p, "Message-ID") ? "messageId" : NULL;
	if (key && !json_object_get(props, key)) {
		char *d = decode_words(v);
		json_object_set_new(props, key, json_string(d));
		free(d);
	}
	if (!strcasecmp(hdr->p, "From") && !json_object_get(props, "from")) {
		char *d = decode_words(v);
		char *lt = strrchr(d, '<'), *gt = lt ? strchr(lt, '>') : NULL;
		if (lt && gt) {
			*gt = '\0';
			*lt = '\0';
			char *name = d;
			size_t nl = strlen(name);
			while (nl && (name[nl - 1] == ' ' || name[nl - 1] == '"'))
				name[--nl] = '\0';
			if (*name == '"')
				name++;
			json_object_set_new(props, "from", json_pack("{s:s, s:s}", "name", name, "email", lt + 1));
		} else {
			json_object_set_new(props, "from", json_pack("{s:s, s:s}", "name", "", "email", d));
		}
		free(d);
	}
}

void props_from_mime(json_t *props, const unsigned char *mime, size_t len)
{
	struct buf hdr = {0};
	size_t i = 0;
	while (i < len) {
		size_t e = i;
		while (e < len && mime[e] != '\n')
			e++;
		size_t l = e - i;
		if (l && mime[i + l - 1] == '\r')
			l--;
		if (l == 0)
			break;
		if ((mime[i] == ' ' || mime[i] == '\t') && hdr.len) {
			buf_add(&hdr, mime + i, l);
		} else {
			take_header(props, &hdr);
			hdr.len = 0;
			buf_add(&hdr, mime + i, l);
		}
		i = e + 1;
	}
	take_header(props, &hdr);
	buf_free(&hdr);
}
