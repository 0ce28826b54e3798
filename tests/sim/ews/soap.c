/* SOAP envelope, errors, dispatch and POX autodiscover (see soap.h). */
#include "soap.h"

#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int x_is(xmlNodePtr n, const char *ns, const char *name)
{
	if (!n || n->type != XML_ELEMENT_NODE)
		return 0;
	if (name && strcmp((const char *)n->name, name) != 0)
		return 0;
	if (ns && (!n->ns || !n->ns->href || strcmp((const char *)n->ns->href, ns) != 0))
		return 0;
	return 1;
}

xmlNodePtr x_next(xmlNodePtr n, const char *ns, const char *name)
{
	for (n = n ? n->next : NULL; n; n = n->next)
		if (x_is(n, ns, name))
			return n;
	return NULL;
}

xmlNodePtr x_child(xmlNodePtr n, const char *ns, const char *name)
{
	for (n = n ? n->children : NULL; n; n = n->next)
		if (x_is(n, ns, name))
			return n;
	return NULL;
}

char *x_text(xmlNodePtr n)
{
	if (!n)
		return NULL;
	xmlChar *c = xmlNodeGetContent(n);
	char *s = xstrdup(c ? (const char *)c : "");
	xmlFree(c);
	return s;
}

char *x_attr(xmlNodePtr n, const char *name)
{
	if (!n)
		return NULL;
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	if (!v)
		return NULL;
	char *s = xstrdup((const char *)v);
	xmlFree(v);
	return s;
}

static const struct {
	const char *code, *text;
} texts[] = {
	{"ErrorServerBusy", "The server cannot service this request right now. Try again later."},
	{"ErrorInvalidSyncStateData", "Synchronization state data is corrupt or otherwise invalid."},
	{"ErrorItemNotFound", "The specified object was not found in the store."},
	{"ErrorFolderNotFound", "The specified folder could not be found in the store."},
	{"ErrorInvalidIdMalformed", "Id is malformed."},
	{"ErrorIrresolvableConflict",
	 "The send or update operation could not be performed because the change key passed in the "
	 "request does not match the current change key for the item., Cannot save changes made to an "
	 "item to store., SaveStatus: IrresolvableConflict, PropertyConflicts: ."},
	{"ErrorChangeKeyRequiredForWriteOperations",
	 "When making a request that changes an item, a change key must be passed in the request."},
	{"ErrorFolderExists", "A folder with the same name already exists."},
	{"ErrorDeleteDistinguishedFolder", "Distinguished folders cannot be deleted."},
	{"ErrorSchemaValidation", "The request failed schema validation."},
	{"ErrorInvalidRequest", "The request is invalid."},
	{"ErrorInvalidServerVersion", "The specified server version is invalid."},
	{"ErrorInvalidOperation", "The operation is not valid."},
	{"ErrorMoveCopyFailed", "The move or copy operation failed."},
	{"ErrorSendMeetingCancellationsRequired", "SendMeetingCancellations attribute is required for Calendar items."},
	{"ErrorAffectedTaskOccurrencesRequired", "AffectedTaskOccurrences attribute is required for Task items."},
	{"ErrorSendMeetingInvitationsRequired", "SendMeetingInvitations attribute is required for Calendar items."},
	{"ErrorSendMeetingInvitationsOrCancellationsRequired",
	 "SendMeetingInvitationsOrCancellations attribute is required for Calendar items."},
	{"ErrorMessageDispositionRequired", "MessageDisposition attribute is required."},
	{"ErrorMimeContentInvalid", "The MIME content is not a valid RFC 822 message."},
	{"ErrorInvalidPropertySet", "The property cannot be set for this item type."},
	{"ErrorInternalServerError", "An internal server error occurred. The operation failed."},
};

const char *code_text(const char *code)
{
	for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
		if (!strcmp(texts[i].code, code))
			return texts[i].text;
	return "The operation failed.";
}

void msg_ok_begin(struct reply *r)
{
	buf_printf(&r->body, "<m:%sResponseMessage ResponseClass=\"Success\"><m:ResponseCode>NoError</m:ResponseCode>",
		   r->op);
}

void msg_end(struct reply *r)
{
	buf_printf(&r->body, "</m:%sResponseMessage>", r->op);
}

static void backoff_xml(struct buf *b, const char *prefix, int backoff_ms)
{
	buf_printf(b, "<%sMessageXml><t:Value Name=\"BackOffMilliseconds\">%d</t:Value></%sMessageXml>",
		   prefix, backoff_ms, prefix);
}

void msg_error(struct reply *r, const char *code, const char *text, int backoff_ms, const char *extra)
{
	r->errors++;
	buf_printf(&r->body, "<m:%sResponseMessage ResponseClass=\"Error\"><m:MessageText>", r->op);
	buf_xml(&r->body, text ? text : code_text(code));
	buf_printf(&r->body, "</m:MessageText><m:ResponseCode>%s</m:ResponseCode>"
			     "<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>", code);
	if (backoff_ms > 0)
		backoff_xml(&r->body, "m:", backoff_ms);
	if (extra)
		buf_puts(&r->body, extra);
	msg_end(r);
}

void soap_fault(struct reply *r, const char *code, const char *text, int backoff_ms)
{
	buf_free(&r->body);
	r->status = 500;
	struct buf *b = &r->body;
	buf_puts(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
		    "<s:Envelope xmlns:s=\"" NS_SOAP "\"><s:Body><s:Fault>");
	buf_printf(b, "<faultcode xmlns:a=\"" NS_T "\">a:%s</faultcode><faultstring xml:lang=\"en-US\">", code);
	buf_xml(b, text ? text : code_text(code));
	buf_printf(b, "</faultstring><detail><e:ResponseCode xmlns:e=\"" NS_E "\">%s</e:ResponseCode>"
		      "<e:Message xmlns:e=\"" NS_E "\">", code);
	buf_xml(b, text ? text : code_text(code));
	buf_puts(b, "</e:Message>");
	if (backoff_ms > 0) {
		buf_puts(b, "<t:MessageXml xmlns:t=\"" NS_T "\"><t:Value Name=\"BackOffMilliseconds\">");
		buf_printf(b, "%d</t:Value></t:MessageXml>", backoff_ms);
	}
	buf_puts(b, "</detail></s:Fault></s:Body></s:Envelope>");
}

struct sim_folder *folder_ref(struct sim *s, xmlNodePtr n, const char **err)
{
	*err = "ErrorFolderNotFound";
	if (!n)
		return NULL;
	char *id = x_attr(n, "Id");
	struct sim_folder *f = NULL;
	if (x_is(n, NS_T, "DistinguishedFolderId")) {
		f = store_folder_dist(s, id);
	} else if (x_is(n, NS_T, "FolderId")) {
		int idx;
		if (id_parse_folder(s, id, &idx))
			*err = "ErrorInvalidIdMalformed";
		else
			f = store_folder(s, idx);
	}
	free(id);
	return f;
}

static const struct {
	const char *name;
	op_fn fn;
	int mutating;
} ops[] = {
	{"GetFolder", op_get_folder, 0},
	{"FindFolder", op_find_folder, 0},
	{"SyncFolderHierarchy", op_sync_folder_hierarchy, 0},
	{"SyncFolderItems", op_sync_folder_items, 0},
	{"GetItem", op_get_item, 0},
	{"FindItem", op_find_item, 0},
	{"CreateItem", op_create_item, 1},
	{"UpdateItem", op_update_item, 1},
	{"DeleteItem", op_delete_item, 1},
	{"MoveItem", op_move_item, 1},
	{"CopyItem", op_copy_item, 1},
	{"CreateFolder", op_create_folder, 1},
	{"UpdateFolder", op_update_folder, 1},
	{"MoveFolder", op_move_folder, 1},
	{"DeleteFolder", op_delete_folder, 1},
	{"Subscribe", op_subscribe, 0},
	{"GetEvents", op_get_events, 0},
	{"Unsubscribe", op_unsubscribe, 0},
};

/* Versions this simulator serves (Exchange 2013 SP1 and later). Older valid names are
 * refused with ErrorInvalidServerVersion (README "Server version"). */
static const char *const versions[] = {
	"Exchange2013_SP1", "Exchange2015", "Exchange2016", "V2015_10_05", "V2016_01_06",
	"V2016_04_13", "V2016_07_13", "V2016_10_10", "V2017_01_07", "V2017_04_14", "V2017_07_11",
	"V2017_10_09", "V2018_01_08"};

static xmlDocPtr parse_doc(const char *body, size_t len)
{
	if (len > 0x7fffffff)
		return NULL;
	return xmlReadMemory(body, (int)len, "request.xml", NULL,
			     XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_HUGE);
}

static xmlNodePtr body_op(xmlDocPtr doc, xmlNodePtr *header)
{
	xmlNodePtr env = doc ? xmlDocGetRootElement(doc) : NULL;
	if (!x_is(env, NS_SOAP, "Envelope"))
		return NULL;
	if (header)
		*header = x_child(env, NS_SOAP, "Header");
	xmlNodePtr body = x_child(env, NS_SOAP, "Body");
	return x_child(body, NULL, NULL);
}

void soap_peek_op(const char *body, size_t len, char *op, size_t cap)
{
	op[0] = '\0';
	xmlDocPtr doc = parse_doc(body, len);
	xmlNodePtr n = body_op(doc, NULL);
	if (n)
		snprintf(op, cap, "%s", (const char *)n->name);
	xmlFreeDoc(doc);
}

static void envelope_begin(struct buf *b)
{
	buf_puts(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
		    "<s:Envelope xmlns:s=\"" NS_SOAP "\"><s:Header>"
		    "<h:ServerVersionInfo MajorVersion=\"15\" MinorVersion=\"1\" MajorBuildNumber=\"2507\" "
		    "MinorBuildNumber=\"6\" Version=\"V2017_07_11\" xmlns:h=\"" NS_T "\" xmlns=\"" NS_T "\" "
		    "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
		    "xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"/></s:Header>"
		    "<s:Body xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
		    "xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">");
}

void soap_handle(struct sim *s, const char *body, size_t len, struct reply *r, struct fault_hit *hit,
		 char *op_out, size_t op_cap)
{
	r->status = 200;
	xmlNodePtr header = NULL;
	xmlDocPtr doc = parse_doc(body, len);
	xmlNodePtr req = body_op(doc, &header);
	op_out[0] = '\0';
	if (!req) {
		soap_fault(r, "ErrorSchemaValidation",
			   doc ? "The request failed schema validation: the SOAP Body holds no operation."
			       : "The request failed schema validation: the XML is not well-formed.",
			   0);
		xmlFreeDoc(doc);
		return;
	}
	snprintf(op_out, op_cap, "%s", (const char *)req->name);
	size_t k;
	for (k = 0; k < sizeof ops / sizeof *ops; k++)
		if (!strcmp(ops[k].name, (const char *)req->name))
			break;
	if (k == sizeof ops / sizeof *ops || !x_is(req, NS_M, NULL)) {
		soap_fault(r, "ErrorInvalidRequest", "The request is invalid.", 0);
		xmlFreeDoc(doc);
		return;
	}
	xmlNodePtr rsv = x_child(header, NS_T, "RequestServerVersion");
	char *version = x_attr(rsv, "Version");
	int vok = 0;
	for (size_t i = 0; version && i < sizeof versions / sizeof *versions; i++)
		vok |= !strcmp(version, versions[i]);
	if (!vok) {
		soap_fault(r, "ErrorInvalidServerVersion",
			   rsv ? "The specified server version is invalid." :
				 "The request has no RequestServerVersion; this server serves Exchange2013_SP1 and later.",
			   0);
		free(version);
		xmlFreeDoc(doc);
		return;
	}
	free(version);
	if (hit->active[F_BUSY] && !hit->message_form) {
		soap_fault(r, "ErrorServerBusy", NULL, hit->backoff_ms);
		xmlFreeDoc(doc);
		return;
	}
	r->op = ops[k].name;
	/* injected per-request errors come once per input item, as Exchange answers batches */
	int nin = 0;
	static const char *const lists[] = {"ItemIds", "FolderIds", "ItemChanges", "FolderChanges", "Items", "Folders"};
	for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
		for (xmlNodePtr n = x_child(x_child(req, NS_M, lists[i]), NS_T, NULL); n; n = x_next(n, NS_T, NULL))
			nin++;
	if (nin < 1)
		nin = 1;
	envelope_begin(&r->body);
	buf_printf(&r->body, "<m:%sResponse xmlns:m=\"" NS_M "\" xmlns:t=\"" NS_T "\"><m:ResponseMessages>",
		   r->op);
	if (hit->active[F_BUSY]) {
		static const char busy[] =
			"The server cannot service this request right now. Try again later., This operation "
			"exceeds the throttling budget for policy part 'ConcurrentSyncCalls', policy value '5',  "
			"Budget type: 'Ews'.";
		const char *extra = !strcmp(r->op, "SyncFolderItems")
					    ? "<m:SyncState/><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange>"
				    : !strcmp(r->op, "SyncFolderHierarchy")
					    ? "<m:SyncState/><m:IncludesLastFolderInRange>true</m:IncludesLastFolderInRange>"
					    : NULL;
		for (int i = 0; i < nin; i++)
			msg_error(r, "ErrorServerBusy", busy, hit->backoff_ms, extra);
	} else if (hit->active[F_SYNC_INVALID] && !strncmp(r->op, "Sync", 4)) {
		msg_error(r, "ErrorInvalidSyncStateData", NULL, 0,
			  !strcmp(r->op, "SyncFolderItems") ? "<m:SyncState/><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange>"
							    : "<m:SyncState/><m:IncludesLastFolderInRange>true</m:IncludesLastFolderInRange>");
	} else if (hit->active[F_ERROR]) {
		for (int i = 0; i < nin; i++)
			msg_error(r, hit->code, NULL, 0, NULL);
	} else {
		pthread_mutex_lock(&s->mu);
		ops[k].fn(s, req, r);
		pthread_mutex_unlock(&s->mu);
		if (r->status == 500) {
			/* the handler replaced the reply with a fault */
			xmlFreeDoc(doc);
			return;
		}
		if (ops[k].mutating)
			counters_call(s->counters, r->op, r->applied);
	}
	buf_printf(&r->body, "</m:ResponseMessages></m:%sResponse></s:Body></s:Envelope>", r->op);
	xmlFreeDoc(doc);
}

void autodiscover_handle(struct sim *s, const char *body, size_t len, struct reply *r)
{
	r->status = 200;
	xmlDocPtr doc = parse_doc(body, len);
	xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
	xmlNodePtr req = NULL, mail = NULL;
	for (xmlNodePtr n = root ? root->children : NULL; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, "Request"))
			req = n;
	for (xmlNodePtr n = req ? req->children : NULL; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, "EMailAddress"))
			mail = n;
	char *addr = x_text(mail);
	struct buf *b = &r->body;
	buf_puts(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
		    "<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">");
	if (!root || strcmp((const char *)root->name, "Autodiscover") != 0 || !addr) {
		buf_puts(b, "<Response><Error Time=\"00:00:00.0000000\" Id=\"1\"><ErrorCode>600</ErrorCode>"
			    "<Message>Invalid Request</Message><DebugData /></Error></Response>");
	} else if (strcasecmp(addr, s->user_addr) != 0) {
		buf_puts(b, "<Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a\">"
			    "<Account><Error Time=\"00:00:00.0000000\" Id=\"2\"><ErrorCode>500</ErrorCode>"
			    "<Message>The email address can't be found.</Message><DebugData /></Error></Account></Response>");
	} else {
		buf_puts(b, "<Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a\"><User>");
		buf_elem(b, "DisplayName", s->cfg.full_name);
		buf_puts(b, "<AutoDiscoverSMTPAddress>");
		buf_xml(b, s->user_addr);
		buf_puts(b, "</AutoDiscoverSMTPAddress></User><Account><AccountType>email</AccountType>"
			    "<Action>settings</Action>");
		for (int i = 0; i < 2; i++)
			buf_printf(b, "<Protocol><Type>%s</Type><Server>127.0.0.1</Server>"
				      "<ASUrl>https://127.0.0.1:%d/EWS/Exchange.asmx</ASUrl>"
				      "<EwsUrl>https://127.0.0.1:%d/EWS/Exchange.asmx</EwsUrl></Protocol>",
				   i ? "EXPR" : "EXCH", s->port, s->port);
		buf_puts(b, "</Account></Response>");
	}
	buf_puts(b, "</Autodiscover>");
	free(addr);
	xmlFreeDoc(doc);
}
