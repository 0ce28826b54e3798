/* outpost/frontend.h — the front-end plugin method table and the store API.
 *
 * A front-end serves the cache to clients (IMAP for mail clients, MAPI for
 * Outlook). It reads through the storage's read methods inside a read
 * transaction the core opens for it, and makes every change through the
 * journaled store API below: the core writes the change and its journal entry
 * in one transaction, and the sync engine replays the journal to the server.
 * A front-end never writes the storage directly.
 *
 * THREADING: front-ends run on threads of their own (start() creates them).
 * Every store API function may be called from any thread; write calls are
 * serialised by the core. A read transaction is used by one thread. Keep
 * read transactions short: copy what you need (UIDs and flags are 16 bytes an
 * item) and end the transaction before writing to a slow socket.
 *
 * OWNERSHIP: as everywhere, memory belongs to the caller unless stated.
 */
#ifndef OUTPOST_FRONTEND_H
#define OUTPOST_FRONTEND_H

#include "abi.h"
#include "host.h"
#include "item.h"
#include "storage.h"
#include "transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Store API (part of the host table for front-ends) ------------------ */

/* How set_flags combines the given flags with the current ones. */
typedef enum outpost_flag_op {
    OUTPOST_FLAGS_REPLACE = 0,
    OUTPOST_FLAGS_ADD = 1,
    OUTPOST_FLAGS_REMOVE = 2
} outpost_flag_op;

/* A change notification (for IMAP IDLE, MAPI table notifications). */
typedef enum outpost_event_kind {
    OUTPOST_EVENT_FOLDERS = 1,   /* the hierarchy changed */
    OUTPOST_EVENT_ITEMS = 2,     /* items of folder_id changed (added, flags, expunged) */
    OUTPOST_EVENT_CONTENT = 3,   /* content of item_id is now cached */
    OUTPOST_EVENT_STATUS = 4     /* online/offline/auth state changed */
} outpost_event_kind;

typedef struct outpost_store_event {
    uint32_t struct_size;
    uint32_t kind;               /* outpost_event_kind */
    int64_t folder_id;
    int64_t item_id;
    uint64_t highest_modseq;     /* folder's MODSEQ after the change */
} outpost_store_event;

/* Called on a core thread after the change committed. Must return quickly
 * (signal your own thread) and must not call the store API. */
typedef void (*outpost_store_listener)(void *ctx, const outpost_store_event *ev);

struct outpost_store_subscription; /* opaque */

struct outpost_store_api {
    uint32_t struct_size;

    /* --- reading --- */

    /* The storage's method table: a front-end may call its read methods
     * (folder_*, item_get, items_*, expunged_since, content_read, prop_get,
     * meta_get, fts_search if present, cursor_*) on a transaction from
     * read_begin. Write methods on it fail with BAD_DATA. */
    const struct outpost_storage_methods *storage;
    /* The storage plugin's capability flags. */
    uint64_t storage_caps;
    /* Opens a read transaction; end it with read_end. */
    outpost_status (*read_begin)(const struct outpost_host *h, struct outpost_txn **out);
    void (*read_end)(const struct outpost_host *h, struct outpost_txn *t);

    /* --- item edits (each call is one write transaction with its journal entries) --- */

    /* Changes flags/keywords of n items; modseqs (may be NULL) receives each
     * item's new MODSEQ. Per-item failures (e.g. GONE) go to item_st when
     * non-NULL (n entries). */
    outpost_status (*set_flags)(const struct outpost_host *h, const int64_t *ids, uint32_t n, uint32_t op,
                                uint32_t flags, const char *keywords, uint64_t *modseqs,
                                outpost_item_status *item_st);
    /* Moves n items to folder `to`; new_uids (may be NULL) receives their new UIDs. */
    outpost_status (*move)(const struct outpost_host *h, const int64_t *ids, uint32_t n, int64_t to,
                           uint32_t *new_uids, outpost_item_status *item_st);
    /* Copies n items to folder `to`; new_ids / new_uids may be NULL. */
    outpost_status (*copy)(const struct outpost_host *h, const int64_t *ids, uint32_t n, int64_t to,
                           int64_t *new_ids, uint32_t *new_uids, outpost_item_status *item_st);
    /* Deletes n items: to the server's Deleted Items unless `permanent` or
     * the configuration says permanent deletion. */
    outpost_status (*remove)(const struct outpost_host *h, const int64_t *ids, uint32_t n, int permanent,
                             outpost_item_status *item_st);
    /* Creates an item in `folder` from content in its kind's format (MIME,
     * iCalendar, vCard); the core computes the summary. internal_date 0 = now. */
    outpost_status (*append)(const struct outpost_host *h, int64_t folder, struct outpost_reader *content,
                             uint32_t flags, const char *keywords, int64_t internal_date,
                             int64_t *new_id, uint32_t *new_uid);
    /* Replaces an item's content (calendar/contact/task/note edits). */
    outpost_status (*update)(const struct outpost_host *h, int64_t id, struct outpost_reader *content);

    /* --- folder edits --- */

    outpost_status (*folder_create)(const struct outpost_host *h, int64_t parent, const char *name,
                                    uint32_t kind, int64_t *new_id);
    /* Renames and/or moves (new_parent -1: keep the parent). */
    outpost_status (*folder_rename)(const struct outpost_host *h, int64_t id, int64_t new_parent,
                                    const char *name);
    outpost_status (*folder_delete)(const struct outpost_host *h, int64_t id);
    outpost_status (*folder_subscribe)(const struct outpost_host *h, int64_t id, int on);

    /* --- sync engine services --- */

    /* Makes sure item `id` has its full content cached, fetching it through
     * the on-demand worker (never queued behind a sync batch). Waits at most
     * timeout_ms. OK when cached; TEMP "offline" when the server cannot be
     * reached (IMAP answers [UNAVAILABLE]). */
    outpost_status (*request_content)(const struct outpost_host *h, int64_t id, uint32_t timeout_ms);
    /* Hint: a client has folder `id` open (open=1) or closed it (open=0); an
     * open folder syncs first. */
    void (*folder_open_hint)(const struct outpost_host *h, int64_t id, int open);
    /* Subscribes to change notifications; *out releases with unsubscribe. */
    outpost_status (*subscribe)(const struct outpost_host *h, outpost_store_listener fn, void *ctx,
                                struct outpost_store_subscription **out);
    void (*unsubscribe)(const struct outpost_host *h, struct outpost_store_subscription *s);
    /* Non-zero while the server is reachable and authenticated. */
    int (*online)(const struct outpost_host *h);

    /* --- appended after 1.0: optional, check OUTPOST_HAS_METHOD() first --- */

    /* Sets (val NULL: deletes) a property of item `id` in the per-item
     * property bag (storage prop_set): front-end data the item model does not
     * cover, such as MAPI properties with no home in MIME/iCalendar/vCard.
     * Local-only: one write transaction, no journal entry, never replayed to
     * the server, the item's MODSEQ and content unchanged, no change event.
     * `name` is UTF-8, at most 255 bytes, and begins with the front-end's name
     * and a dot ("mapi.icon"). GONE when the item does not exist. The bag
     * dies with the item (the storage deletes it); moves keep it. */
    outpost_status (*prop_set)(const struct outpost_host *h, int64_t id, const char *name, const void *val,
                               size_t len);
    /* Sets (val NULL: deletes) an account-level value (storage meta_set):
     * e.g. the MAPI store GUID and its named-property map. Local-only like
     * prop_set. `key` begins with the front-end's name and a dot
     * ("mapi.store-guid"), at most 255 bytes; the core's own keys never
     * contain a dot, so a front-end cannot overwrite them. Read back with the
     * storage's meta_get (and prop_get) in a read transaction. */
    outpost_status (*meta_set)(const struct outpost_host *h, const char *key, const void *val, size_t len);
    /* request_content for many items at once (a client fetching the bodies of a
     * range of summary-only mails): the items not cached yet are fetched with as
     * few server calls as the transport allows (one per folder and 50 items)
     * instead of one each. ids is read during the call only. Waits at most
     * timeout_ms in all. OK when every item is cached; else the first failure
     * (GONE for an id that does not exist, TEMP offline or timed out); what was
     * fetched stays cached either way, so a caller can go on item by item with
     * request_content. Any thread. */
    outpost_status (*request_contents)(const struct outpost_host *h, const int64_t *ids, uint32_t n,
                                       uint32_t timeout_ms);

    /* --- appended in ABI 1.1: optional, check OUTPOST_HAS_METHOD() first --- */

    /* set_flags with a condition on each item (IMAP STORE (UNCHANGEDSINCE m),
     * RFC 7162 3.1.3). unchanged_since (n entries; NULL: no condition, as
     * set_flags) gives per item the highest MODSEQ it may have: an item whose
     * MODSEQ is greater is left as it is, its item_st entry CONFLICT and its
     * modseqs entry (when modseqs is non-NULL) its current MODSEQ. The test and
     * the change of every item happen in the one write transaction, so no edit
     * of another client or of the sync engine can come between them. The
     * other items are changed and reported as by set_flags (GONE for an item
     * that does not exist; without item_st the first per-item failure, GONE or
     * CONFLICT, is the result and the rest is still applied). ids,
     * unchanged_since and keywords are read during the call only; modseqs and
     * item_st are the caller's, filled before it returns. Any thread. */
    outpost_status (*set_flags_unchanged)(const struct outpost_host *h, const int64_t *ids, uint32_t n,
                                          uint32_t op, uint32_t flags, const char *keywords,
                                          const uint64_t *unchanged_since, uint64_t *modseqs,
                                          outpost_item_status *item_st);

    /* --- appended in ABI 1.2: optional, check OUTPOST_HAS_METHOD() first --- */

    /* Replaces item `id` by a new item in the same folder made from `content`
     * (a message's content never changes in place, see update): in ONE write
     * transaction the new item is put and journaled as a create, and the old
     * one deleted and journaled as a permanent delete, so either both reach
     * the server (replay sends the create before the delete) or neither
     * happens. This is how an IMAP client saves an edited message (APPEND,
     * then STORE \Deleted + EXPUNGE), made atomic. flags and keywords are the
     * new item's; internal_date 0 keeps the old item's. The property-bag
     * values (prop_set) named in `carry` (NULL-terminated; NULL: none) go to
     * the new item; the rest of the bag dies with the old one. GONE when `id`
     * does not exist; on any failure nothing changed. new_id / new_uid (may
     * be NULL) receive the new item's id and UID. content, keywords and
     * carry are read during the call only. Any thread. */
    outpost_status (*replace)(const struct outpost_host *h, int64_t id, struct outpost_reader *content,
                              uint32_t flags, const char *keywords, int64_t internal_date,
                              const char *const *carry, int64_t *new_id, uint32_t *new_uid);
};

/* ---- Front-end method table ------------------------------------------- */

/* Capability flags (struct outpost_plugin.caps). */
#define OUTPOST_FRONTEND_CAP_RELOAD (1ull << 0) /* reload() keeps client connections */

struct outpost_frontend; /* an instance, opaque */

struct outpost_frontend_methods {
    uint32_t struct_size;
    /* Reads its section through host and validates it (e.g. refuses a
     * non-loopback listen address without TLS); no I/O. */
    outpost_status (*create)(const struct outpost_host *host, struct outpost_frontend **out);
    /* Binds and starts serving on threads of its own; returns once listening.
     * A bind failure is FATAL with the address in the message. */
    outpost_status (*start)(struct outpost_frontend *f);
    /* Stops accepting, closes client connections, joins its threads. */
    outpost_status (*stop)(struct outpost_frontend *f);
    void (*destroy)(struct outpost_frontend *f);
    /* Optional (may be NULL): applies a reloaded config section (SIGHUP)
     * without dropping clients where possible. */
    outpost_status (*reload)(struct outpost_frontend *f, const struct outpost_host *host);
};

#define OUTPOST_FRONTEND_METHODS_V1_0_SIZE sizeof(struct outpost_frontend_methods)
/* The store API as ABI 1.0 had it: everything up to online. */
#define OUTPOST_STORE_API_V1_0_SIZE offsetof(struct outpost_store_api, prop_set)

#ifdef __cplusplus
}
#endif
#endif /* OUTPOST_FRONTEND_H */
