/* Read operations: GetFolder, FindFolder, SyncFolderHierarchy, SyncFolderItems, GetItem,
 * FindItem. Callers hold sim.mu. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soap.h"

/* ---- sync states: base64("<tag><folder>.<cn>.<issued>.<hash>") ----
 * <cn> is where the state stands, <issued> the mailbox change number when it was handed
 * out: the floor set by "expire" applies to <issued>. (A page of a fresh listing stands at
 * an old change number, yet was issued after the expiry and must stay usable.) */

static void state_make(struct sim *s, char tag, int folder, uint64_t cn, struct buf *b)
{
	char raw[112];
	int n = snprintf(raw, sizeof raw, "%c%d.%" PRIu64 ".%" PRIu64 ".", tag, folder, cn, s->cn);
	sealed_make(s->secret ^ 0x5157c, raw, (size_t)n, b);
}

/* 0 on success; -1 when the state is not one of ours, belongs to another folder or expired. */
static int state_parse(struct sim *s, char tag, int folder, const char *st, uint64_t *cn)
{
	char *raw = sealed_open(s->secret ^ 0x5157c, st);
	int ok = -1, f, end = 0;
	uint64_t c, issued;
	if (raw && raw[0] == tag && sscanf(raw + 1, "%d.%" SCNu64 ".%" SCNu64 ".%n", &f, &c, &issued, &end) == 3 && end &&
	    !raw[1 + end] && f == folder && c <= issued && issued <= s->cn && issued >= s->state_floor) {
		*cn = c;
		ok = 0;
	}
	free(raw);
	return ok;
}

/* ---- folders ---- */

void op_get_folder(struct sim *s, xmlNodePtr req, struct reply *r)
{
	char *base = x_text(x_child(x_child(req, NS_M, "FolderShape"), NS_T, "BaseShape"));
	int b = base && !strcmp(base, "IdOnly") ? 0 : base && !strcmp(base, "AllProperties") ? 2 : 1;
	free(base);
	for (xmlNodePtr n = x_child(x_child(req, NS_M, "FolderIds"), NS_T, NULL); n; n = x_next(n, NS_T, NULL)) {
		const char *err;
		struct sim_folder *f = folder_ref(s, n, &err);
		if (!f) {
			msg_error(r, err, NULL, 0, NULL);
			continue;
		}
		msg_ok_begin(r);
		buf_puts(&r->body, "<m:Folders>");
		write_folder(s, f, b, &r->body);
		buf_puts(&r->body, "</m:Folders>");
		msg_end(r);
	}
}

void op_find_folder(struct sim *s, xmlNodePtr req, struct reply *r)
{
	char *trav = x_attr(req, "Traversal");
	int deep = trav && !strcmp(trav, "Deep");
	free(trav);
	char *base = x_text(x_child(x_child(req, NS_M, "FolderShape"), NS_T, "BaseShape"));
	int b = base && !strcmp(base, "IdOnly") ? 0 : base && !strcmp(base, "AllProperties") ? 2 : 1;
	free(base);
	for (xmlNodePtr n = x_child(x_child(req, NS_M, "ParentFolderIds"), NS_T, NULL); n;
	     n = x_next(n, NS_T, NULL)) {
		const char *err;
		struct sim_folder *p = folder_ref(s, n, &err);
		if (!p) {
			msg_error(r, err, NULL, 0, NULL);
			continue;
		}
		struct buf list = {0};
		long total = 0;
		for (size_t i = 0; i < s->nfolders; i++) {
			struct sim_folder *f = s->folders[i];
			if (f->dead || !(deep ? store_folder_is_under(s, f, p) : f->parent == p->idx))
				continue;
			write_folder(s, f, b, &list);
			total++;
		}
		msg_ok_begin(r);
		buf_printf(&r->body, "<m:RootFolder TotalItemsInView=\"%ld\" IncludesLastItemInRange=\"true\"><t:Folders>",
			   total);
		if (list.p)
			buf_puts(&r->body, list.p);
		buf_puts(&r->body, "</t:Folders></m:RootFolder>");
		msg_end(r);
		buf_free(&list);
	}
}

static const char empty_hier[] = "<m:SyncState/><m:IncludesLastFolderInRange>true</m:IncludesLastFolderInRange>";
static const char empty_items[] = "<m:SyncState/><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange>";

void op_sync_folder_hierarchy(struct sim *s, xmlNodePtr req, struct reply *r)
{
	char *base = x_text(x_child(x_child(req, NS_M, "FolderShape"), NS_T, "BaseShape"));
	int b = base && !strcmp(base, "IdOnly") ? 0 : 2;
	free(base);
	xmlNodePtr sf = x_child(x_child(req, NS_M, "SyncFolderId"), NS_T, NULL);
	const char *err;
	struct sim_folder *root = sf ? folder_ref(s, sf, &err) : store_folder_dist(s, "root");
	if (!root) {
		msg_error(r, err, NULL, 0, empty_hier);
		return;
	}
	char *st = x_text(x_child(req, NS_M, "SyncState"));
	uint64_t w = 0;
	if (st && *st && state_parse(s, 'H', root->idx, st, &w)) {
		free(st);
		msg_error(r, "ErrorInvalidSyncStateData", NULL, 0, empty_hier);
		return;
	}
	free(st);
	msg_ok_begin(r);
	buf_puts(&r->body, "<m:SyncState>");
	state_make(s, 'H', root->idx, s->cn, &r->body);
	buf_puts(&r->body, "</m:SyncState><m:IncludesLastFolderInRange>true</m:IncludesLastFolderInRange><m:Changes>");
	for (size_t i = 0; i < s->nhlog; i++) {
		struct slot *sl = &s->hlog[i];
		if (sl->cn <= w || sl->state == SLOT_HOLE)
			continue;
		struct sim_folder *f = s->folders[sl->dead_n];
		if (!store_folder_is_under(s, f, root))
			continue;
		if (sl->state == SLOT_TOMB) {
			if (sl->created_cn <= w) {
				char id[128], ck[128];
				id_folder(s, f->idx, id, sizeof id);
				id_changekey(s, 'K', sl->dead_ck, ck, sizeof ck);
				buf_printf(&r->body, "<t:Delete><t:FolderId Id=\"%s\" ChangeKey=\"%s\"/></t:Delete>", id, ck);
			}
			continue;
		}
		const char *what = sl->created_cn > w ? "Create" : "Update";
		buf_printf(&r->body, "<t:%s>", what);
		write_folder(s, f, b, &r->body);
		buf_printf(&r->body, "</t:%s>", what);
	}
	buf_puts(&r->body, "</m:Changes>");
	msg_end(r);
}

static size_t first_after(const struct sim_folder *f, uint64_t w)
{
	size_t lo = 0, hi = f->nlog;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (f->log[mid].cn <= w)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

#define MAX_SYNC 512

void op_sync_folder_items(struct sim *s, xmlNodePtr req, struct reply *r)
{
	struct shape sh;
	shape_parse(x_child(req, NS_M, "ItemShape"), &sh);
	sh.mime = 0; /* SyncFolderItems cannot return MimeContent or bodies (MS-OXWSSYNC) */
	sh.fields &= ~(unsigned)FLD_BODY;
	if (sh.base)
		sh.base = 1;
	char *maxs = x_text(x_child(req, NS_M, "MaxChangesReturned"));
	char *end = NULL;
	long max = maxs ? strtol(maxs, &end, 10) : 0;
	int bad = !maxs || !*maxs || *end || max < 1 || max > MAX_SYNC;
	free(maxs);
	if (bad) {
		soap_fault(r, "ErrorSchemaValidation",
			   "The request failed schema validation: The 'MaxChangesReturned' element is invalid - "
			   "The value is invalid according to its datatype (1-512).", 0);
		return;
	}
	const char *err;
	struct sim_folder *f = folder_ref(s, x_child(x_child(req, NS_M, "SyncFolderId"), NS_T, NULL), &err);
	if (!f) {
		msg_error(r, err, NULL, 0, empty_items);
		return;
	}
	char *st = x_text(x_child(req, NS_M, "SyncState"));
	uint64_t w = 0;
	if (st && *st && state_parse(s, 'S', f->idx, st, &w)) {
		free(st);
		msg_error(r, "ErrorInvalidSyncStateData", NULL, 0, empty_items);
		return;
	}
	free(st);
	uint64_t ignore[64];
	size_t nignore = 0;
	for (xmlNodePtr n = x_child(x_child(req, NS_M, "Ignore"), NS_T, "ItemId"); n && nignore < 64;
	     n = x_next(n, NS_T, "ItemId")) {
		char *id = x_attr(n, "Id");
		if (!id_parse_item(s, id, &ignore[nignore]))
			nignore++;
		free(id);
	}
	size_t pick[MAX_SYNC], np = 0;
	int more = 0;
	for (size_t i = first_after(f, w); i < f->nlog; i++) {
		struct slot *sl = &f->log[i];
		if (sl->state == SLOT_HOLE || (sl->state == SLOT_TOMB && sl->created_cn > w))
			continue;
		uint64_t n = sl->state == SLOT_LIVE ? sl->it->n : sl->dead_n;
		int skip = 0;
		for (size_t k = 0; k < nignore; k++)
			skip |= ignore[k] == n;
		if (skip)
			continue;
		if (np == (size_t)max) {
			more = 1;
			break;
		}
		pick[np++] = i;
	}
	msg_ok_begin(r);
	buf_puts(&r->body, "<m:SyncState>");
	state_make(s, 'S', f->idx, more ? f->log[pick[np - 1]].cn : s->cn, &r->body);
	buf_printf(&r->body, "</m:SyncState><m:IncludesLastItemInRange>%s</m:IncludesLastItemInRange><m:Changes>",
		   more ? "false" : "true");
	for (size_t k = 0; k < np; k++) {
		struct slot *sl = &f->log[pick[k]];
		char id[128], ck[128];
		if (sl->state == SLOT_TOMB) {
			id_item(s, sl->dead_n, id, sizeof id);
			static const char tags[] = "KMECTN";
			id_changekey(s, tags[sl->kind <= K_NOTE ? sl->kind : 0], sl->dead_ck, ck, sizeof ck);
			buf_printf(&r->body, "<t:Delete><t:ItemId Id=\"%s\" ChangeKey=\"%s\"/></t:Delete>", id, ck);
			continue;
		}
		struct sim_item *it = sl->it;
		if (it->created_cn <= w && it->content_cn <= w) {
			id_item(s, it->n, id, sizeof id);
			item_changekey(s, it, ck, sizeof ck);
			buf_printf(&r->body, "<t:ReadFlagChange><t:ItemId Id=\"%s\" ChangeKey=\"%s\"/>"
					     "<t:IsRead>%s</t:IsRead></t:ReadFlagChange>",
				   id, ck, it->flags & MF_READ ? "true" : "false");
			continue;
		}
		const char *what = it->created_cn > w ? "Create" : "Update";
		buf_printf(&r->body, "<t:%s>", what);
		write_item(s, it, &sh, &r->body);
		buf_printf(&r->body, "</t:%s>", what);
	}
	buf_puts(&r->body, "</m:Changes>");
	msg_end(r);
}

/* ---- items ---- */

void op_get_item(struct sim *s, xmlNodePtr req, struct reply *r)
{
	struct shape sh;
	shape_parse(x_child(req, NS_M, "ItemShape"), &sh);
	for (xmlNodePtr n = x_child(x_child(req, NS_M, "ItemIds"), NS_T, NULL); n; n = x_next(n, NS_T, NULL)) {
		char *id = x_attr(n, "Id");
		uint64_t num;
		struct sim_item *it = NULL;
		int malformed = !x_is(n, NS_T, "ItemId") || id_parse_item(s, id, &num);
		if (!malformed)
			it = store_item(s, num);
		free(id);
		if (!it) {
			msg_error(r, malformed ? "ErrorInvalidIdMalformed" : "ErrorItemNotFound", NULL, 0, NULL);
			continue;
		}
		/* a mail Exchange cannot render as MIME (some meeting messages): an error for this
		 * item when its MimeContent is asked for, its properties without */
		if (sh.mime && it->kind == K_MAIL && !it->gen &&
		    json_is_true(json_object_get(it->props, "mimeUnconvertible"))) {
			msg_error(r, "ErrorMimeContentConversionFailed",
				  "Content conversion: Failed to convert the item to MIME.", 0, NULL);
			continue;
		}
		msg_ok_begin(r);
		buf_puts(&r->body, "<m:Items>");
		write_item(s, it, &sh, &r->body);
		buf_puts(&r->body, "</m:Items>");
		msg_end(r);
	}
}

/* The value an IsEqualTo restriction compares, for one item (malloc'd or NULL). */
static char *restriction_value(struct sim *s, struct sim_item *it, const char *field)
{
	if (it->gen && it->kind == K_MAIL && !strcmp(field, "message:InternetMessageId")) {
		char mid[128];
		snprintf(mid, sizeof mid, "<sim.%" PRIu64 ".%u@mail.example.com>", s->cfg.seed, it->gen - 1);
		return xstrdup(mid);
	}
	const char *key = !strcmp(field, "message:InternetMessageId") ? "messageId"
			  : !strcmp(field, "calendar:UID") ? "uid"
			  : !strcmp(field, "item:Subject") ? "subject"
			  : !strcmp(field, "OutpostKey") ? "key" : NULL;
	if (!key || (it->gen && !strcmp(key, "key")))
		return NULL;
	json_t *p = item_props(s, it);
	const char *v = json_string_value(json_object_get(p, key));
	char *out = v ? xstrdup(v) : NULL;
	json_decref(p);
	return out;
}

void op_find_item(struct sim *s, xmlNodePtr req, struct reply *r)
{
	struct shape sh;
	shape_parse(x_child(req, NS_M, "ItemShape"), &sh);
	xmlNodePtr eq = x_child(x_child(req, NS_M, "Restriction"), NS_T, "IsEqualTo");
	char *field = NULL, *value = NULL;
	if (eq) {
		xmlNodePtr uri = x_child(eq, NS_T, NULL);
		if (x_is(uri, NS_T, "FieldURI"))
			field = x_attr(uri, "FieldURI");
		else if (x_is(uri, NS_T, "ExtendedFieldURI"))
			field = x_attr(uri, "PropertyName");
		value = x_attr(x_child(x_child(eq, NS_T, "FieldURIOrConstant"), NS_T, "Constant"), "Value");
		if (!field || !value) {
			free(field);
			free(value);
			soap_fault(r, "ErrorSchemaValidation", "The request failed schema validation: unsupported restriction.", 0);
			return;
		}
	}
	xmlNodePtr view = x_child(req, NS_M, "IndexedPageItemView");
	char *maxs = x_attr(view, "MaxEntriesReturned"), *offs = x_attr(view, "Offset");
	long maxe = maxs ? atol(maxs) : 1000, off = offs ? atol(offs) : 0;
	free(maxs);
	free(offs);
	if (maxe < 1 || maxe > 1000)
		maxe = 1000;
	for (xmlNodePtr n = x_child(x_child(req, NS_M, "ParentFolderIds"), NS_T, NULL); n;
	     n = x_next(n, NS_T, NULL)) {
		const char *err;
		struct sim_folder *f = folder_ref(s, n, &err);
		if (!f) {
			msg_error(r, err, NULL, 0, NULL);
			continue;
		}
		struct buf list = {0};
		long total = 0, shown = 0;
		for (size_t i = f->nlog; i-- > 0;) { /* newest first */
			struct slot *sl = &f->log[i];
			if (sl->state != SLOT_LIVE)
				continue;
			if (field) {
				char *v = restriction_value(s, sl->it, field);
				int match = v && !strcmp(v, value);
				free(v);
				if (!match)
					continue;
			}
			if (total >= off && shown < maxe) {
				write_item(s, sl->it, &sh, &list);
				shown++;
			}
			total++;
		}
		msg_ok_begin(r);
		buf_printf(&r->body, "<m:RootFolder IndexedPagingOffset=\"%ld\" TotalItemsInView=\"%ld\" "
				     "IncludesLastItemInRange=\"%s\"><t:Items>",
			   off + shown, total, off + shown >= total ? "true" : "false");
		if (list.p)
			buf_puts(&r->body, list.p);
		buf_puts(&r->body, "</t:Items></m:RootFolder>");
		msg_end(r);
		buf_free(&list);
	}
	free(field);
	free(value);
}
