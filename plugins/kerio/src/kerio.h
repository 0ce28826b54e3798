/* kerio.h — internals of the Kerio Connect JSON-RPC transport (outpost-transport-kerio.so).
 *
 * Parts: plugin.c (descriptor, lifecycle, config), rpc.c (libcurl, JSON-RPC calls, login,
 * upload/download), reply.c (parsing and validating replies: pure, fuzzed; the JSON itself is
 * read by kjson.c), mail.c / ical.c /
 * vcard.c (converters: pure except for the attachment fetch callback), sync.c (hierarchy and
 * folder sync), write.c (write-back and find), push.c (wait_changes: the Changes.get long-poll),
 * recur.c (placing a series' exceptions, pure) and series.c (reading a series for it). */
#ifndef OUTPOST_KERIO_H
#define OUTPOST_KERIO_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdint.h>

#include <outpost/abi.h>
#include <outpost/host.h>
#include <outpost/item.h>
#include <outpost/storage.h>
#include <outpost/transport.h>

#include "kbuf.h"

#define KERIO_APP_NAME "Outpost"
#define KERIO_APP_VENDOR "Outpost project"
#define KERIO_APP_VERSION "0.1.0"

/* Kerio error codes we act on (Client IDL Structures.idl). */
enum {
    KERIO_E_PARSE = -32700,
    KERIO_E_INVALID_REQUEST = -32600,
    KERIO_E_METHOD_NOT_FOUND = -32601,
    KERIO_E_INVALID_PARAMS = -32602,
    KERIO_E_INTERNAL = -32603,
    KERIO_E_SESSION_EXPIRED = -32001,
    KERIO_E_TIMEDOUT = -32002,
    KERIO_E_MAINTENANCE = -32003,
    KERIO_E_COMMUNICATION = -1,
    KERIO_E_TOO_LARGE = 413,
    KERIO_E_OPERATION_FAILED = 1000,
    KERIO_E_ALREADY_EXISTS = 1001,
    KERIO_E_NO_SUCH_ENTITY = 1002,
    KERIO_E_NOT_PERMITTED = 1003,
    KERIO_E_ACCESS_DENIED = 1004,
    KERIO_E_PARTIAL = 4001,
    KERIO_E_REINDEXING = 4100,
    KERIO_E_IN_PROGRESS = 4101,
    KERIO_E_QUOTA = 4102,
    KERIO_E_SENDING_FAILED = 4103,
    KERIO_E_NO_SUCH_FOLDER = 4104
};

/* The context in which an error code is read: the same code means different things. */
enum kerio_call_ctx {
    KERIO_CTX_CALL = 0,     /* any method */
    KERIO_CTX_LOGIN = 1,    /* Session.login: refusals are AUTH */
    KERIO_CTX_CHANGES = 2   /* Changes.getFolder: a refused sync key is STATE_INVALID */
};

/* A parsed JSON-RPC reply. `root` owns everything; `result` and `error` borrow from it. */
struct kerio_reply {
    json_t *root;
    json_t *result;          /* the "result" member, NULL on error */
    int is_error;
    int64_t code;            /* error.code */
    char message[200];       /* error.message, sanitised to one printable line */
    uint32_t retry_after_ms; /* from error.data (retryAfter s / retryAfterMs), 0 if none */
    int ended_early;         /* not parsed: the body ends before its JSON does (or is empty) */
};

/* Parses a reply body. Returns 0 when it is a well-formed JSON-RPC reply (result or error),
 * -1 when it is not (r->message says why; r->ended_early when the body is empty or stops
 * inside a JSON text that was valid so far). On 0 the caller frees r->root with json_decref. */
int kerio_reply_parse(const char *body, size_t len, struct kerio_reply *r);
/* kerio_reply_parse without the values of the members named in `skip` (kjson_loadb_skip). */
int kerio_reply_parse_skip(const char *body, size_t len, const char *const *skip, struct kerio_reply *r);
/* Status class for a JSON-RPC error code in context. */
int kerio_error_class(int64_t code, int ctx);
/* Status class for an HTTP status without a usable JSON-RPC body. */
int kerio_http_class(long http_status);

/* Kinds of item as Kerio names them. */
struct kerio_kind {
    uint32_t kind;           /* outpost_item_kind */
    const char *iface;       /* "Mails" */
    const char *folder_type; /* "FMail" */
    const char *item_type;   /* "itMail" */
    const char *array_key;   /* "mails": the member of create/set params */
};
const struct kerio_kind *kerio_kind_by_item(uint32_t kind);
const struct kerio_kind *kerio_kind_by_folder_type(const char *ftype);
const struct kerio_kind *kerio_kind_by_item_type(const char *itype);

/* Validation of a page before anything reaches the sink: 0 valid, -1 not (why in err). */
int kerio_validate_item(uint32_t kind, const json_t *item, char *err, size_t errlen);
/* A {list:[...], totalItems} listing or a {errors, result:[...]} batch: *items is set to the
 * array (borrowed). A list given as null is replaced by an empty array in `result`. */
int kerio_validate_list(uint32_t kind, const json_t *result, const char *member, int full,
                        const json_t **items, char *err, size_t errlen);
int kerio_validate_folders(const json_t *result, const json_t **list, char *err, size_t errlen);
/* A folder's sync key (Changes.getFolderSyncKey, Changes.getFolder's syncKey): an int64 the
 * server may give as a JSON number or as a quoted string; it goes back as lastSyncKey in the
 * type it came in, the string exactly as it was (an opaque token that must read as an int64 >= 0). */
struct kerio_key {
    int quoted;              /* it came as a JSON string */
    char text[24];           /* the string as received, or the number's decimal digits */
};
/* Takes `v` as a key: 0, or -1 when it is not a non-negative int64 in kj_int's forms. */
int kerio_key_read(const json_t *v, struct kerio_key *k);
/* The key as a JSON value of its own type (new reference, NULL when out of memory). */
json_t *kerio_key_json(const struct kerio_key *k);
/* Changes.getFolder: {list: Change[], syncKey} (a null list becomes an empty array). */
int kerio_validate_changes(const json_t *result, const json_t **list, struct kerio_key *sync_key, char *err,
                           size_t errlen);
/* Per-item errors of a batch call: the error for input `index`, or NULL. */
const json_t *kerio_batch_error(const json_t *result, size_t index);

/* ---- converters ---- */

/* Fetches an attachment by its server-relative URL into out. 0 or -1 (err filled). */
typedef int (*kerio_fetch_fn)(void *ctx, const char *url, struct kbuf *out, char *err, size_t errlen);

/* Process-wide set-up of the MIME converters (module init/fini; optional: they also work
 * without, only slower). */
void kerio_mime_init(void);
void kerio_mime_fini(void);
/* Mail JSON (from getById) → RFC 5322 MIME, byte-identical for the same input. 0 or -1. */
int kerio_mail_to_mime(const json_t *mail, kerio_fetch_fn fetch, void *fctx, struct kbuf *out,
                       char *err, size_t errlen);
/* A mail parsed from MIME for Mails.create: fields plus attachments still to upload. */
struct kerio_mime_attachment {
    char *name;
    char *content_type;
    char *content_id;
    struct kbuf data;
};
struct kerio_parsed_mail {
    json_t *mail;                          /* Mail object without attachments */
    struct kerio_mime_attachment *att;
    size_t natt;
    char *message_id;                      /* without <>; NULL if none */
};
int kerio_mime_to_mail(const char *mime, size_t len, struct kerio_parsed_mail *out, char *err, size_t errlen);
void kerio_parsed_mail_free(struct kerio_parsed_mail *m);

/* Event (+ its exception occurrences, may be NULL), task and note → iCalendar; back again. */
int kerio_event_to_ical(const json_t *event, const json_t *exceptions, struct kbuf *out, char *err, size_t errlen);
/* The same with EXDATEs: `exdates` (may be NULL) is an array of Kerio time strings in the form of
 * the event's start (recur.c makes them). */
int kerio_series_to_ical(const json_t *event, const json_t *exceptions, const json_t *exdates, struct kbuf *out,
                         char *err, size_t errlen);
/* The RRULE value of a Kerio RecurrenceRule ("FREQ=WEEKLY;…", appended to b); without UNTIL/COUNT
 * when with_until is 0. -1 when the rule is not set or not understood. */
int kerio_rrule_text(const json_t *rule, int with_until, struct kbuf *b);

/* recur.c — placing the exceptions of a recurring event (pure part, fuzzed and unit-tested).
 * Kerio's occurrences carry no original start: given the master and its occurrences listed over
 * the series window, each exception gets the free instance slot (one without a regular
 * occurrence) nearest to it, and free slots without an exception become EXDATEs.
 * `occurrences`: Occurrence objects (at least id, eventId, start, isException), any order.
 * Out (new references): *placed = array of {"id", "recurrenceId"} for the exceptions placed,
 * sorted by recurrenceId; *exdates = array of time strings, ascending. Returns 0, or -1 when
 * the rule cannot be expanded or the server's regular occurrences do not fall on its
 * instances (then nothing is inferred; why in err). */
struct kerio_series_window {
    int64_t from, to;        /* the window to list occurrences in (epoch seconds) */
};
int kerio_series_window(const json_t *event, uint32_t cap, struct kerio_series_window *w, char *err, size_t errlen);
int kerio_series_infer(const json_t *event, const json_t *occurrences, uint32_t cap, json_t **placed, json_t **exdates,
                       char *err, size_t errlen);
/* The original start a server gave an occurrence (recurrenceId or originalStart), "" if none. */
const char *kerio_server_rid(const json_t *o);
int kerio_task_to_ical(const json_t *task, struct kbuf *out, char *err, size_t errlen);
int kerio_note_to_ical(const json_t *note, struct kbuf *out, char *err, size_t errlen);
/* iCalendar → Kerio object for create/set (folderId not set). kind: EVENT, TASK or NOTE. */
int kerio_ical_to_json(uint32_t kind, const char *ics, size_t len, json_t **out, char **uid, char *err, size_t errlen);
/* The UID we give a Kerio object (Kerio's API has none): derived from its id. Caller frees. */
char *kerio_object_uid(const json_t *obj);

/* Contact ↔ vCard 3.0. */
int kerio_contact_to_vcard(const json_t *contact, struct kbuf *out, char *err, size_t errlen);
int kerio_vcard_to_contact(const char *vcf, size_t len, json_t **out, char **uid, char *err, size_t errlen);

/* String helpers shared by the converters. */
const char *kj_str(const json_t *obj, const char *key);   /* "" when absent or not a string */
int kj_bool(const json_t *obj, const char *key);
/* An integer member as a server may give it: a JSON integer, a decimal string (the IDL's
 * int64 values such as watermarks and sync keys do not fit a double, so a server or proxy may
 * quote them) or a number with an integral value. 1 with *out set, 0 when v is none of these
 * (absent, null, out of int64 range, fractional). */
int kj_int(const json_t *v, int64_t *out);
/* kj_int of a member; `dflt` when it is not an integer in any of those forms. */
int64_t kj_int_or(const json_t *obj, const char *key, int64_t dflt);
/* A stable 64-bit FNV-1a hash, for boundaries and UIDs derived from ids. */
uint64_t kerio_hash64(const char *s);

/* ---- the instance ---- */

struct kerio_push; /* push.c: the change long-poll's own connection and sync key */
struct kerio_ahead; /* sync.c: the folder the engine syncs next, and what was read of it ahead */

struct outpost_transport {
    const struct outpost_host *host;
    /* config */
    char *endpoint;      /* https://host:port/webmail/api/jsonrpc/ */
    char *base;          /* https://host:port */
    char *user;
    char *ca_file;
    int insecure;
    int delete_permanent;
    uint32_t page_size;
    uint32_t list_cap;   /* most items the server gives per X.get page when below what we ask (0: none seen) */
    uint32_t change_cap;
    long timeout_s;
    /* session */
    char *password;      /* held while open for transparent re-login; wiped on close */
    CURL *curl;
    char *token;
    int64_t next_id;
    char curl_err[CURL_ERROR_SIZE];
    long last_http;
    int last_unreadable;      /* the last call's reply could not be parsed */
    int last_unframed;        /* the last reply ended with its connection (no length, not chunked) */
    struct kbuf reply;        /* JSON-RPC reply buffer, kept between calls (rpc.c, KERIO_REPLY_KEEP) */
    uint32_t last_retry_after_ms;
    char last_location[200];  /* Location header of the last reply ("" if none) */
    /* folder ids learned from Folders.get */
    char *trash_id;
    char *root_id;
    json_t *folder_access; /* folder id → its "access" (FAccess…) as the last Folders.get gave it */
    /* messages and results owned by the instance */
    char msg[512];
    char *res_id;
    char *res_version;
    /* wait_changes (push.c); NULL until first used */
    struct kerio_push *push;
    /* sync_next (sync.c): the hinted folder (for the coming sync_folder call to read ahead),
     * and the pages read ahead of the folder the next sync_folder call is expected for */
    struct kerio_hint *next;
    struct kerio_ahead *ahead;
    int events_param;    /* Events.get's folder list: 0 "ids" and "folderIds", 1 "ids", 2 "folderIds" */
    uint32_t recur_cap;  /* most instances of a series read to place its exceptions (recur.c) */
};

/* Sets t->msg and returns a status of class cls. Never pass a secret. */
outpost_status kerio_fail(struct outpost_transport *t, int cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* rpc.c */
outpost_status kerio_connect(struct outpost_transport *t);
/* The options every libcurl handle of the instance gets (TLS, timeouts, cookie engine);
 * `errbuf` has CURL_ERROR_SIZE bytes. */
void kerio_curl_setup(struct outpost_transport *t, CURL *c, char *errbuf);
/* What the headers of one reply say (kerio_on_header, a CURLOPT_HEADERFUNCTION, fills it). */
struct kerio_hdr {
    uint32_t retry_after_ms;
    char location[200];      /* Location of a redirect, one printable line */
    int chunked;             /* the reply is sent with chunked transfer coding */
};
size_t kerio_on_header(char *p, size_t sz, size_t n, void *ud);
/* 1 when the reply that just arrived complete on `c` had no length of its own (HTTP/1.x,
 * neither Content-Length nor chunked): its end was the end of the connection, which a
 * dropped connection looks just like. */
int kerio_reply_unframed(CURL *c, const struct kerio_hdr *h);
/* The status of a failed transfer, with libcurl's error text (`errbuf`, may be empty):
 * FATAL naming ca_file when a certificate check failed, FATAL naming [account] url when the
 * server does not answer the handshake in TLS at all, TEMP otherwise (a handshake broken off
 * included). The message is the instance's (kerio_fail). */
outpost_status kerio_transfer_failed(struct outpost_transport *t, CURLcode rc, const char *errbuf);
/* TEMP for a reply that `r` says ends inside its JSON while its connection's end was its end
 * (kerio_reply_unframed): the connection was cut, the same call will be made again. */
outpost_status kerio_cut_reply(struct outpost_transport *t, const char *what, const struct kerio_reply *r);
outpost_status kerio_login(struct outpost_transport *t);
/* Session.logout, once and best effort (no new login when the session has expired); the
 * token is forgotten. */
void kerio_logout(struct outpost_transport *t);
/* Appends "X-Token: <token>" (when logged in) to a header list; returns the list. */
struct curl_slist *kerio_token_header(const struct outpost_transport *t, struct curl_slist *h);
void kerio_disconnect(struct outpost_transport *t);
/* Calls `method` with `params` (reference stolen, may be NULL). On OK, *result is a new
 * reference to the "result" member (json_null when absent). Re-logs in once on -32001.
 * `max_reply` bounds the reply size (0: default); a larger reply fails with code -2 in
 * *over_cap when given. */
outpost_status kerio_call(struct outpost_transport *t, const char *method, json_t *params, int ctx,
                          size_t max_reply, int *over_cap, json_t **result);
/* Uploads bytes as an attachment; *id receives fileUpload.id (caller frees). */
outpost_status kerio_upload(struct outpost_transport *t, const char *name, const char *ctype,
                            const void *data, size_t len, char **id);
/* Downloads a server-relative URL (attachment) into `out` (instance's thread). Not OK: GONE
 * when the server says the attachment is not there (HTTP 404/410, "no such item"), BAD_DATA
 * when it refuses it for good (another refusal or 4xx); both will not change by asking again.
 * Otherwise the classes of any call (TEMP, THROTTLED, FATAL for TLS verification). */
outpost_status kerio_download(struct outpost_transport *t, const char *url, struct kbuf *out);

/* kthread_posix.c (kthread_none.c where there is no port yet: NULL, the caller then runs fn
 * itself): helper threads, for fetching and converting listing pages while the sink works;
 * `name` (up to 15 bytes kept) names the thread for the system's tools (top -H, perf, gdb). */
struct kerio_thread;
struct kerio_thread *kerio_thread_start(void (*fn)(void *), void *arg, const char *name);
void kerio_thread_join(struct kerio_thread *th);
/* A mutex with one condition variable, shared by the threads of a listing. _new: NULL when
 * out of memory or without threads (kthread_none.c: the caller then works alone). wait must be
 * called locked; it may wake without a broadcast, so callers wait in a loop on their
 * condition. The calls do nothing on NULL. */
struct kerio_sync;
struct kerio_sync *kerio_sync_new(void);
void kerio_sync_free(struct kerio_sync *s);
void kerio_sync_lock(struct kerio_sync *s);
void kerio_sync_unlock(struct kerio_sync *s);
void kerio_sync_wait(struct kerio_sync *s);
void kerio_sync_broadcast(struct kerio_sync *s);

/* sync.c */
outpost_status kerio_sync_hierarchy(struct outpost_transport *t, const void *state, size_t len,
                                    const struct outpost_sync_sink *sink);
outpost_status kerio_sync_folder(struct outpost_transport *t, const outpost_folder *folder, const void *state,
                                 size_t len, uint32_t page_size, uint32_t flags, const struct outpost_sync_sink *sink);
outpost_status kerio_fetch(struct outpost_transport *t, const outpost_folder *folder, const char *const *ids,
                           uint32_t n, const struct outpost_sync_sink *sink);
/* The sync_next method: remembers the folder the engine syncs after the coming sync_folder
 * call (NULL: the cycle is over, what was read ahead goes). */
outpost_status kerio_sync_next(struct outpost_transport *t, const outpost_folder *folder, const void *state,
                               size_t len, uint32_t page_size, uint32_t flags);
/* Drops the hint and what was read ahead (close, destroy). */
void kerio_ahead_drop(struct outpost_transport *t);
outpost_status kerio_load_folders(struct outpost_transport *t);
/* A SearchQuery with all its IDL members: `fields` (NULL-terminated, NULL = all), no
 * conditions, ordered by id ascending. New reference. */
json_t *kerio_query(int64_t start, int64_t limit, const char *const *fields);
/* Whether a folder is of the own mailbox (placeType FPlaceMailbox, or none given): only those
 * of Folders.get are taken from it (other places come from Folders.getPublic and
 * Folders.getSubscribed), and only those are chosen as the Deleted Items or root folder or
 * given a special use. */
int kerio_folder_is_own(const json_t *f);
/* Whether an id is one of the placeholders "Public Folders", "Other Users" and
 * "Other Users/<owner>" (no server folder: listing only). */
int kerio_folder_is_placeholder(const char *id);
/* NULL when the last Folders.get allows `need` on folder `fid` (an unknown folder or one
 * without an access member, or with a value the IDL does not name, is allowed: the server
 * decides), else the access it has ("FAccessReadOnly", ...).
 * need: 1 = items may be written, 2 = the folder itself may be changed (FAccessAdmin). */
const char *kerio_folder_denies(const struct outpost_transport *t, const char *fid, int need);
/* Full, validated objects by id: an array aligned with `ids` holding the object, JSON null
 * when the server reported it missing (left out, or a per-item error meaning "no such item"),
 * or JSON false when a per-item error of another kind kept it from being read this time
 * (new reference in *aligned). */
outpost_status kerio_get_by_ids(struct outpost_transport *t, const struct kerio_kind *k, json_t *ids, json_t **aligned);

/* Sync state of a folder: "L1 <key> <pos>[ <last id>]" while listing, "S1 <key>" once
 * incremental. The last id handed over lets the next page start a little earlier and skip
 * what was already seen, so deletions during the listing cannot shift an item past a page
 * boundary unseen. */
/* Folder state text: "L1 <key> <position>[ <last id>]" while listing, "S1 <key>" after; the
 * key is its digits when the server gave a number, in double quotes when it gave a string
 * (states written before keys kept their type hold digits, and read as numbers). */
struct kerio_state {
    int listing;         /* 1 while the initial listing runs */
    struct kerio_key key; /* Changes sync key */
    int64_t pos;         /* next listing position */
    char last[512];      /* id of the last item handed over ("" at the start) */
};
int kerio_state_parse(const void *s, size_t len, struct kerio_state *st);
size_t kerio_state_format(const struct kerio_state *st, char *out, size_t cap);

/* series.c: a recurring event's exceptions (full objects with recurrenceId, new reference, NULL
 * when the event does not recur) and EXDATEs, read with Occurrences.get/getById. */
outpost_status kerio_event_series(struct outpost_transport *t, const char *fid, const json_t *event, json_t **exceptions,
                                  json_t **exdates);

/* push.c: wait_changes with Changes.get on a connection of its own. */
outpost_status kerio_wait_changes(struct outpost_transport *t, uint32_t timeout_ms, int *changed);
void kerio_push_prime(struct outpost_transport *t);      /* open(): takes the account sync key */
void kerio_push_disconnect(struct outpost_transport *t); /* close(): drops the connection, keeps the key */
void kerio_push_free(struct outpost_transport *t);       /* destroy() */

/* write.c */
outpost_status kerio_write(struct outpost_transport *t, const outpost_change *c, outpost_change_result *res);
outpost_status kerio_find(struct outpost_transport *t, const char *folder_remote_id, uint32_t kind,
                          const char *key, outpost_change_result *res);

#endif
