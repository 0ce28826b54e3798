/* EWS transport internals shared by its files: the instance, the HTTP exchange, the
 * streaming reply parser and the converters. Nothing here is public ABI. */
#ifndef OUTPOST_EWS_H
#define OUTPOST_EWS_H

#include <stdio.h>

#include <outpost/host.h>
#include <outpost/storage.h>
#include <outpost/transport.h>

#include "ebuf.h"

#define EWS_NS_SOAP "http://schemas.xmlsoap.org/soap/envelope/"
#define EWS_NS_M "http://schemas.microsoft.com/exchange/services/2006/messages"
#define EWS_NS_T "http://schemas.microsoft.com/exchange/services/2006/types"
#define EWS_NS_E "http://schemas.microsoft.com/exchange/services/2006/errors"

#define EWS_MAX_BATCH 100   /* GetItem batch = MaxChangesReturned */
#define EWS_CONNECT_TIMEOUT_S 30L /* libcurl connect timeout of EWS requests */
#define EWS_BUSY_RETRIES 3       /* waits for a busy server per request before THROTTLED is returned */

enum ews_auth { EWS_AUTH_BASIC, EWS_AUTH_NTLM, EWS_AUTH_NEGOTIATE, EWS_AUTH_BEARER };

struct ews {
    const struct outpost_host *host;
    /* configuration */
    char *url;                 /* EWS endpoint; NULL until autodiscovered */
    char *email, *user, *autodiscover_url, *ca_file, *version;
    const char *ver;           /* RequestServerVersion sent: `version`, or an older value of the
                                * reference's list once the server refused it (ews_call) */
    int version_fixed;         /* server_version was configured: never changed */
    enum ews_auth auth;
    int insecure;
    long timeout_s;
    uint32_t batch;            /* GetItem batch size and MaxChangesReturned, 1..100 */
    uint32_t busy_wait_ms;     /* longest server back-off waited for in place (busy_wait); 0 never */
    /* session */
    void *curl;                /* CURL * */
    char curl_err[256];        /* its CURLOPT_ERRORBUFFER (CURL_ERROR_SIZE): the last failure in libcurl's words */
    long last_http;            /* HTTP status of the last POST's reply (0 when none) */
    struct ews_upload *upload; /* the body of the EWS POST under way is streamed (ews_call_xml) */
    char *password, *token;
    char *root_id;             /* msgfolderroot: its children are top-level folders */
    char *special[9];          /* remote id per outpost_special_use, NULL when unknown */
    /* pull notifications (notify.c) */
    char *sub_id, *sub_wm;     /* subscription and last watermark; NULL until the first wait */
    uint32_t push_poll_ms;     /* GetEvents interval while waiting */
    /* results owned by the instance, valid until the next call */
    char msg[2048];            /* room for autodiscover naming each attempt */
    char action[64];           /* the operation of the last envelope built (SOAPAction of its POST) */
    struct ebuf res_id, res_version;
};

/* A status with the instance's message buffer. */
outpost_status ews_status(struct ews *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- spool.c ---- */
/* Bytes a reply or a batch's decoded mail keeps in memory: a page of ordinary mail fits; with
 * three spools open at once, 8 MiB raised the bench's peak RSS by 12 MB for no less CPU. */
#define EWS_SPOOL_MEM (4u << 20)
/* A read/write stream (fclose it) holding its bytes in memory up to mem_max, then in an
 * anonymous temporary file. Not a file descriptor (no fileno). NULL when out of memory. */
FILE *ews_spool_open(size_t mem_max);

/* ---- xmlfix.c ---- */
/* A reply on its way into its spool, with the characters XML 1.0 forbids (numeric character
 * references to them, such as the &#x1A; Exchange copies from a Subject, and raw C0 bytes)
 * replaced by U+FFFD; a well-formed reply passes byte for byte, one that is not UTF-8 (a
 * UTF-16 byte order mark or NUL among its first two bytes) unchanged. One per reply. */
struct ews_xmlfix {
    FILE *out;
    unsigned char head[2];     /* the first bytes, until the encoding is decided */
    int nhead, off, err;       /* off: not UTF-8, passed unchanged; err: a write failed */
    char ref[16];              /* a character reference being read ("&#..."), not yet written */
    size_t nref;
    uint64_t fixed;            /* characters replaced */
};
void ews_xmlfix_init(struct ews_xmlfix *x, FILE *out);
/* Writes n bytes through the filter: 0, or -1 once a write to `out` failed. */
int ews_xmlfix_write(struct ews_xmlfix *x, const char *p, size_t n);
/* At the end of the reply: writes what is held back; 0 or -1. */
int ews_xmlfix_end(struct ews_xmlfix *x);

/* ---- http.c ---- */
/* A request body with a part streamed: the bytes of `rd` (raw_len of them, read from the
 * start) go base64-encoded (OpenSSL's EVP_EncodeBlock, in pieces, no line breaks) at offset
 * `split` of the operation's XML; ews_call_xml / ews_call_simple send it through libcurl's
 * read callback, so memory does not depend on the content's size. `rd` must have rewind
 * (libcurl may send a body again: a stale connection, an authentication round). */
struct ews_upload_src {
    struct outpost_reader *rd;
    uint64_t raw_len;
    size_t split;
};
struct ews_upload;            /* http.c: the state of one streamed body */
/* POSTs `body` to the EWS URL (or `url` when given), with the configured authentication,
 * and leaves the reply in *reply (an ews_spool_open stream, positioned at 0; caller fcloses).
 * Maps transport-level failures (connection, TLS, 401, 5xx without a SOAP body) to a
 * status; OK means a reply body to parse (HTTP 200, or 500 / 400 / 503 carrying a SOAP fault). */
outpost_status ews_post(struct ews *e, const char *url, const char *body, size_t len, FILE **reply);
/* ews_post, except that an HTTP redirect (301, 302, 303, 307, 308) is OK with no reply and
 * *location its absolute target (malloc'd; caller frees). */
outpost_status ews_post_redirect(struct ews *e, const char *url, const char *body, size_t len, FILE **reply,
                                 char **location);
/* The operation `op` in its envelope, POSTed: ews_post's reply (caller fcloses). A server
 * that refuses the RequestServerVersion sent (a SOAP fault ErrorInvalidServerVersion, or
 * ErrorSchemaValidation naming the version) is asked again with the next older value of the
 * reference's list, down to Exchange2007_SP1, which the instance keeps using (logged once per
 * step); never when server_version is configured. */
outpost_status ews_call(struct ews *e, const struct ebuf *op, FILE **reply, const char *what);
outpost_status ews_call_xml(struct ews *e, const char *op_xml, const struct ews_upload_src *up, FILE **reply,
                            const char *what);
/* After a request failed with `st`: when it is THROTTLED (ErrorServerBusy, 503 with Retry-After)
 * with a back-off of at most busy_wait_ms and *tries < EWS_BUSY_RETRIES, logs it, waits the
 * back-off (returning early, with 0, when the host cancels), counts the try and returns 1: the
 * caller sends the request again. 0: hand `st` to the caller's caller. ErrorServerBusy means the
 * request was not processed, so any request may be sent again. */
int ews_busy_wait(struct ews *e, const outpost_status *st, int *tries, const char *what);
/* Reads a spooled reply into `ctx` (the caller's results); called again for each new reply
 * when a busy server is asked again, so it first drops what an earlier reply left in `ctx`. */
typedef outpost_status (*ews_parse_fn)(struct ews *e, FILE *f, void *ctx);
/* One EWS request as every request goes: `op` in its envelope, POSTed, the reply read by
 * `parse`; a busy server (THROTTLED from the HTTP exchange or from `parse`) is waited for and
 * asked again through ews_busy_wait, so a longer back-off comes back as THROTTLED with its
 * delay. */
outpost_status ews_request(struct ews *e, const struct ebuf *op, ews_parse_fn parse, void *ctx, const char *what);
/* The schema version a request may use: the RequestServerVersion sent (e->ver) in
 * the order of the reference's values; any other value (later ones: Exchange2016, V2017_07_11,
 * ...) counts as the newest. Elements newer than it are left out of requests: SyncScope
 * (Exchange 2010), ReturnNewItemIds (2010 SP1), item:Flag (2013). */
enum { EWS_V2007, EWS_V2007_SP1, EWS_V2010, EWS_V2010_SP1, EWS_V2010_SP2, EWS_V2013, EWS_V2013_SP1, EWS_VLATER };
int ews_schema(const struct ews *e);
/* Builds the SOAP envelope around an operation body. */
void ews_envelope(struct ews *e, struct ebuf *b, const char *op_xml);
outpost_status ews_http_init(struct ews *e);
void ews_http_fini(struct ews *e);

/* ---- autodiscover.c ---- */
/* Finds the EWS URL of `email` (POX autodiscover: the domain's two https URLs or
 * autodiscover_url, then the unauthenticated HTTP redirect and DNS SRV) and sets e->url.
 * Needs ews_http_init. Fails with one message naming every attempt and its outcome. */
outpost_status ews_autodiscover(struct ews *e);

/* ---- reply.c: streaming reply parsing (libxml2 xmlTextReader) ---- */

/* The header of one response message. */
struct ews_msg {
    int error;                 /* ResponseClass="Error", or a "Warning" (ews_msg_settle) */
    char code[96];             /* ResponseCode */
    char text[256];            /* MessageText */
    uint32_t backoff_ms;       /* MessageXml BackOffMilliseconds */
};

/* A message of ResponseClass="Warning" was not processed (the EWS reference: "a request that
 * was not processed", e.g. ErrorBatchProcessingStopped after an earlier item failed): unless
 * its code says NoError it counts as an error with its code (ErrorBatchProcessingStopped
 * when it has none). Called once the message's header is read. */
void ews_msg_settle(struct ews_msg *m, int warning);
/* xs:boolean: "true" or "1", surrounding whitespace allowed. */
int ews_xs_bool(const char *v);
/* Status class of an EWS ResponseCode. */
int ews_code_class(const char *code);
/* A status for a failed response message. */
outpost_status ews_msg_status(struct ews *e, const struct ews_msg *m, const char *what);

/* libxml2 input callbacks reading a reply file (FILE *); closing leaves it open. */
int ews_file_read(void *ctx, char *buf, int len);
int ews_file_close(void *ctx);

struct ews_reader;
/* Opens a reader on a reply file. NULL on allocation failure. */
struct ews_reader *ews_reader_open(FILE *f);
void ews_reader_close(struct ews_reader *r);
/* Walks to the next response message; 1 with *m filled, 0 at the end of the reply, -1 on
 * malformed XML or a SOAP fault (then *m holds the fault's code). */
int ews_reader_next_msg(struct ews_reader *r, struct ews_msg *m);
/* Inside the current message: the next payload element at any depth whose local name is one
 * of `names` (NULL-terminated); 1 found (name in *which), 0 end of message, -1 bad XML. */
int ews_reader_find(struct ews_reader *r, const char *const *names, int *which);
/* Attribute of the current element (malloc'd) or NULL. */
char *ews_reader_attr(struct ews_reader *r, const char *name);
/* Text of the current element (malloc'd, "" when empty); -1 bad XML. */
int ews_reader_text(struct ews_reader *r, char **out);
/* Depth / local name / end-element test of the current node, for structured readers. */
int ews_reader_depth(struct ews_reader *r);
const char *ews_reader_name(struct ews_reader *r);
/* Advances to the next element start or end within the subtree that started at `depth`;
 * 1 start element, 2 end element of a child, 0 left the subtree, -1 bad XML. */
int ews_reader_step(struct ews_reader *r, int depth);
int ews_reader_is_empty(struct ews_reader *r);
/* Hands the current element's text to cb in the pieces the parser delivers; 0 done, -1 bad
 * XML, -2 when cb returned non-zero. */
int ews_reader_stream_text(struct ews_reader *r, int (*cb)(void *ctx, const char *s, size_t n), void *ctx);
/* Skips the current element and its subtree. */
int ews_reader_skip(struct ews_reader *r);

/* A whole reply with one response message whose payload carries an id (writes, find):
 * the message header, the first ItemId / FolderId and their change keys. */
struct ews_simple {
    struct ews_msg m;
    char *id, *change_key;
    int nmsgs;
    int unreadable;            /* BAD_DATA because the reply was not a readable EWS response */
};
outpost_status ews_parse_simple(struct ews *e, FILE *f, struct ews_simple *out, const char *what);
void ews_simple_free(struct ews_simple *s);
/* POST + parse_simple, the common write path; `up` (NULL: none) streams a part of the body. */
outpost_status ews_call_simple(struct ews *e, const char *op_xml, struct ews_simple *out, const char *what);
outpost_status ews_call_simple_up(struct ews *e, const char *op_xml, const struct ews_upload_src *up,
                                  struct ews_simple *out, const char *what);

/* ---- item.c: one item element of a reply ---- */

struct ews_occ { int64_t start, end, orig; };

struct ews_item {
    char *el;                  /* Message, CalendarItem, Contact, Task, ... */
    char *id, *change_key, *item_class, *parent_id;
    char *subject, *body, *msgid, *from_name, *from_addr, *uid, *location, *key;
    char *to, *cc;             /* ToRecipients / CcRecipients as "Name <addr>, ..." (mail, when asked for) */
    int is_read, is_draft, flag_status, last_verb; /* flag_status 0 none, 1 complete, 2 flagged */
    int has_is_read;           /* IsRead was in the reply (t:Item and other non-message types have none) */
    int msg_flags, has_msg_flags; /* PR_MESSAGE_FLAGS (0x0E07) when returned: MSGFLAG_READ 0x1 */
    int64_t received, start, end, modified, sent; /* sent: DateTimeSent, when asked for */
    int all_day;
    uint64_t size;
    /* recurrence */
    char *rec_pattern;         /* DailyRecurrence, WeeklyRecurrence, ... */
    int rec_interval, rec_day_of_month, rec_count;
    char *rec_days, *rec_month;
    int64_t rec_start, rec_end;
    struct ews_occ occ[32];
    int nocc;
    int64_t deleted[32];
    int ndeleted;
    /* contact */
    char *given, *surname, *display, *company, *job, *birthday;
    char *email[3], *phone_business, *phone_mobile, *phone_home;
    /* task */
    char *status;
    int percent;
    int64_t due, completed;
};
/* Called with decoded MimeContent bytes while the item is parsed. */
typedef outpost_status (*ews_mime_fn)(void *ctx, const void *data, size_t len);
/* Parses the item element the reader is on. -1 bad XML; a non-OK status from `mime` stops. */
int ews_item_parse(struct ews_reader *r, struct ews_item *it, ews_mime_fn mime, void *ctx, outpost_status *st);
void ews_item_free(struct ews_item *it);
uint32_t ews_item_kind(const struct ews_item *it);
/* Shared by both item readers: the index of a property that is one text element directly
 * under the item (-1 when `name` is none), storing its text; an ExtendedProperty
 * (PropertyTag or PropertyName, Value: taken when kept); a FlagStatus value. */
int ews_item_leaf_index(const char *name);
void ews_item_set_leaf(struct ews_item *it, int leaf, const char *v);
/* Local names of the item elements of GetItem replies (NULL-terminated). */
/* A GetItem reply's item is the element in its m:Items, whatever its name (the schema's list
 * grows with server versions); these are the names the schema lists, for replies where an item
 * is not inside an Items element. */
extern const char *const *const ews_item_names;
extern const char *const ews_items_or_item_names[]; /* "Items", then ews_item_names */
void ews_item_ext(struct ews_item *it, const char *tag, const char *pname, char **value);
int ews_flag_status(const char *v);

/* ---- mailget.c: GetItem replies of mail, read with libxml2's SAX2 pull parser ----
 * xmlTextReader feeds its push parser 512 bytes at a time and libxml2 2.9 scans the buffered
 * input back to the last '<' on every push, so a long MimeContent costs time quadratic in its
 * length and is kept whole as one text node; the pull parser hands text over in small pieces
 * in linear time. A reply is read once: `collect` checks the whole reply and gathers each
 * message's header and the item's metadata, and decodes each returned item's (first)
 * MimeContent into `spool`, one after the other in message order (span[k] says what message
 * k has there; spool NULL: content only checked). Then `replay` hands the spooled content
 * to the callbacks in the order a reading of the reply would: per message k, begin(k), its
 * bytes in pieces of up to 64 KiB, end(k) when it has content, then msg_end(k). collect
 * returns 0, -1 on malformed XML / base64 or more than `max` messages, -2 on a SOAP fault
 * (in *fault), -3 when the spool could not be written (or out of memory); replay returns 0,
 * -1 when the spool could not be read back, -3 when a callback returned non-OK (its status
 * in *st). Both are single-threaded on their arguments. */
struct ews_mime_span {
    int has;                   /* message k's item had MimeContent (its bytes are in the spool) */
    uint64_t len;              /* decoded length */
};
struct ews_mail_cb {
    void *ctx;
    outpost_status (*begin)(void *ctx, int k);                     /* MimeContent of message k */
    outpost_status (*chunk)(void *ctx, const void *p, size_t n);   /* decoded bytes */
    outpost_status (*end)(void *ctx, int k);                       /* end of that MimeContent */
    outpost_status (*msg_end)(void *ctx, int k);                   /* end of message k */
};
/* 1 when the spooled reply `f` is one well-formed XML document (a DTD counts as not), 0 when
 * not, -1 out of memory; `f` is rewound. One pass of libxml2's SAX parser keeping nothing. */
int ews_xml_complete(FILE *f);
int ews_mail_collect(FILE *f, int max, struct ews_msg *m, struct ews_item *it, int *have, int *n,
                     struct ews_msg *fault, FILE *spool, struct ews_mime_span *span);
int ews_mail_replay(FILE *spool, const struct ews_mime_span *span, int n, const struct ews_mail_cb *cb,
                    outpost_status *st);
uint32_t ews_item_flags(const struct ews_item *it);

/* ---- convert.c ---- */
/* iCalendar / vCard text of a non-mail item (malloc'd, NUL-terminated). */
char *ews_to_ical(const struct ews_item *it, uint32_t kind);
char *ews_to_vcard(const struct ews_item *it);
/* The item element (t:CalendarItem, t:Contact, t:Task, t:Message for notes) for CreateItem,
 * from iCalendar / vCard content. 0 ok, -1 with *why on unreadable content. `key` goes into
 * the OutpostKey extended property. */
int ews_item_xml(uint32_t kind, const char *content, const char *key, struct ebuf *out, const char **why);
/* SetItemField / DeleteItemField updates for UpdateItem from the same content. */
int ews_update_xml(uint32_t kind, const char *content, struct ebuf *out, const char **why);
/* The UID / key a content carries (malloc'd) or NULL. */
char *ews_content_uid(uint32_t kind, const char *content);

/* ---- time ---- */
int ews_parse_time(const char *s, int64_t *t);     /* xs:dateTime / xs:date → epoch s */
void ews_fmt_time(int64_t t, char *out, size_t n); /* YYYY-MM-DDTHH:MM:SSZ */

/* ---- sync.c / write.c ---- */
outpost_status ews_sync_hierarchy(struct ews *e, const void *state, size_t len, const struct outpost_sync_sink *sink);
outpost_status ews_sync_folder(struct ews *e, const outpost_folder *folder, const void *state, size_t len,
                               uint32_t page_size, uint32_t flags, const struct outpost_sync_sink *sink);
outpost_status ews_fetch(struct ews *e, const outpost_folder *folder, const char *const *ids, uint32_t n,
                         const struct outpost_sync_sink *sink);
outpost_status ews_write(struct ews *e, const outpost_change *c, outpost_change_result *res);
outpost_status ews_find(struct ews *e, const char *folder_id, uint32_t kind, const char *key,
                        outpost_change_result *res);
/* notify.c: waits for a server change over a pull subscription (made on the first call);
 * the subscription is ended by unsubscribe (close) or dropped locally by sub_drop. */
outpost_status ews_wait_changes(struct ews *e, uint32_t timeout_ms, int *changed);
void ews_unsubscribe(struct ews *e);
void ews_sub_drop(struct ews *e);
/* A Subscribe / GetEvents reply read on its own (fuzzing): *changed when it holds an event. */
outpost_status ews_parse_events(struct ews *e, FILE *f, int *changed);
/* GetItem of one item (AllProperties for non-mail kinds) into *out (ews_item_free it). */
outpost_status ews_get_one(struct ews *e, const char *id, uint32_t kind, struct ews_item *out);
/* GetFolder on the distinguished folders: learns root_id and special[]. */
outpost_status ews_learn_folders(struct ews *e);

/* For the fuzz target: runs every reply parser over `f` (hierarchy page, items page, one-id
 * reply, GetItem batch) and hands the items it finds, converted, to `sink`. */
outpost_status ews_parse_any(struct ews *e, FILE *f, const struct outpost_sync_sink *sink);

#endif
