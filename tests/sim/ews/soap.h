/* SOAP plumbing of the EWS simulator: request parsing helpers over libxml2's tree (requests
 * are small; replies are written as text), the response envelope, error response messages
 * and SOAP faults shaped as Exchange shapes them, and the operation dispatcher. */
#ifndef OUTPOST_SIM_EWS_SOAP_H
#define OUTPOST_SIM_EWS_SOAP_H

#include <libxml/tree.h>

#include "faults.h"
#include "sim.h"
#include "util.h"

#define NS_SOAP "http://schemas.xmlsoap.org/soap/envelope/"
#define NS_M "http://schemas.microsoft.com/exchange/services/2006/messages"
#define NS_T "http://schemas.microsoft.com/exchange/services/2006/types"
#define NS_E "http://schemas.microsoft.com/exchange/services/2006/errors"

/* The reply being built for one request. */
struct reply {
	int status;              /* HTTP status */
	struct buf body;
	const char *op;          /* operation name, for ResponseMessage element names */
	int errors;              /* error response messages written */
	long applied;            /* items a mutating operation applied (counters) */
};

/* The first child element of `n` in namespace `ns` named `name` (any when name is NULL). */
xmlNodePtr x_child(xmlNodePtr n, const char *ns, const char *name);
/* The next sibling element after `n` with the same rules. */
xmlNodePtr x_next(xmlNodePtr n, const char *ns, const char *name);
/* Text content (malloc'd, "" when empty); NULL when n is NULL. */
char *x_text(xmlNodePtr n);
/* Attribute value (malloc'd) or NULL. */
char *x_attr(xmlNodePtr n, const char *name);
int x_is(xmlNodePtr n, const char *ns, const char *name);

/* <m:OpResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode> */
void msg_ok_begin(struct reply *r);
void msg_end(struct reply *r);
/* A complete error response message. `extra` (may be NULL) is written before the end tag
 * (e.g. an empty SyncState). backoff_ms > 0 adds MessageXml with BackOffMilliseconds. */
void msg_error(struct reply *r, const char *code, const char *text, int backoff_ms, const char *extra);
/* Replaces the reply with a SOAP fault (HTTP 500). */
void soap_fault(struct reply *r, const char *code, const char *text, int backoff_ms);
/* The Exchange message text for a response code. */
const char *code_text(const char *code);

/* Resolves a FolderId / DistinguishedFolderId element; NULL and *err set when unknown. */
struct sim_folder *folder_ref(struct sim *s, xmlNodePtr n, const char **err);

/* Handles one POST to /EWS/Exchange.asmx; `hit` carries the faults already taken. */
void soap_handle(struct sim *s, const char *body, size_t len, struct reply *r, struct fault_hit *hit,
		 char *op_out, size_t op_cap);
/* The operation named by a request body (for fault matching), "" if none. */
void soap_peek_op(const char *body, size_t len, char *op, size_t cap);
/* POX autodiscover. */
void autodiscover_handle(struct sim *s, const char *body, size_t len, struct reply *r);

/* Operations (ops_read.c, ops_write.c). */
typedef void (*op_fn)(struct sim *s, xmlNodePtr req, struct reply *r);
void op_get_folder(struct sim *s, xmlNodePtr req, struct reply *r);
void op_find_folder(struct sim *s, xmlNodePtr req, struct reply *r);
void op_sync_folder_hierarchy(struct sim *s, xmlNodePtr req, struct reply *r);
void op_sync_folder_items(struct sim *s, xmlNodePtr req, struct reply *r);
void op_get_item(struct sim *s, xmlNodePtr req, struct reply *r);
void op_find_item(struct sim *s, xmlNodePtr req, struct reply *r);
void op_create_item(struct sim *s, xmlNodePtr req, struct reply *r);
void op_update_item(struct sim *s, xmlNodePtr req, struct reply *r);
void op_delete_item(struct sim *s, xmlNodePtr req, struct reply *r);
void op_move_item(struct sim *s, xmlNodePtr req, struct reply *r);
void op_copy_item(struct sim *s, xmlNodePtr req, struct reply *r);
void op_create_folder(struct sim *s, xmlNodePtr req, struct reply *r);
void op_update_folder(struct sim *s, xmlNodePtr req, struct reply *r);
void op_move_folder(struct sim *s, xmlNodePtr req, struct reply *r);
void op_delete_folder(struct sim *s, xmlNodePtr req, struct reply *r);
/* ops_notify.c: pull notifications */
void op_subscribe(struct sim *s, xmlNodePtr req, struct reply *r);
void op_get_events(struct sim *s, xmlNodePtr req, struct reply *r);
void op_unsubscribe(struct sim *s, xmlNodePtr req, struct reply *r);

/* itemxml.c: item and folder serialisation, and request item parsing. */
enum {
	FLD_ITEMCLASS = 1 << 0, FLD_SUBJECT = 1 << 1, FLD_SIZE = 1 << 2, FLD_RECEIVED = 1 << 3,
	FLD_ISREAD = 1 << 4, FLD_FLAG = 1 << 5, FLD_ISDRAFT = 1 << 6, FLD_MSGID = 1 << 7,
	FLD_FROM = 1 << 8, FLD_PARENT = 1 << 9, FLD_X_LASTVERB = 1 << 10, FLD_X_FLAGSTATUS = 1 << 11,
	FLD_X_MSGFLAGS = 1 << 12, FLD_X_KEY = 1 << 13, FLD_UID = 1 << 14, FLD_BODY = 1 << 15,
	FLD_LASTMOD = 1 << 16, FLD_TO = 1 << 17, FLD_CC = 1 << 18, FLD_SENT = 1 << 19
};
struct shape {
	int base;                /* 0 IdOnly, 1 Default, 2 AllProperties */
	int mime;                /* IncludeMimeContent */
	unsigned fields;         /* FLD_* requested in AdditionalProperties */
};
void shape_parse(xmlNodePtr shape_elem, struct shape *sh);
/* FLD_* of a FieldURI / ExtendedFieldURI element, 0 if not one we model. */
unsigned field_of(xmlNodePtr uri);
void write_item(struct sim *s, struct sim_item *it, const struct shape *sh, struct buf *b);
void write_item_id(struct sim *s, struct sim_item *it, struct buf *b); /* <t:Message><t:ItemId/></t:Message> */
const char *item_element(const struct sim_item *it);
void write_folder(struct sim *s, struct sim_folder *f, int base, struct buf *b);
const char *folder_element(const struct sim_folder *f);

/* Reads an item element of a request into props (merged into `props`); flag fields into the
 * out-parameters (-1 = not present). Returns 0, or -1 with *err set. */
struct item_flags {
	int read, flag_status, last_verb, msg_flags; /* flag_status 0 none, 1 complete, 2 flagged */
};
int parse_item(struct sim *s, xmlNodePtr el, json_t *props, struct item_flags *fl, unsigned char **mime,
	       size_t *mime_len, const char **err);
/* Applies flag fields to an item; returns non-zero when read state / other flags changed. */
void apply_flags(struct sim_item *it, const struct item_flags *fl, int *read_changed, int *other_changed);
/* Fills subject / messageId / from / date props from a raw MIME message's headers. */
void props_from_mime(json_t *props, const unsigned char *mime, size_t len);

#endif
