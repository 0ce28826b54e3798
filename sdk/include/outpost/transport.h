/* outpost/transport.h — the transport plugin method table.
 *
 * A transport talks to one account on a groupware server (Kerio JSON-RPC,
 * EWS, ...). The sync engine never parses what a transport stores: remote ids,
 * remote versions and per-folder sync state are opaque bytes to it.
 *
 * STREAMING: a transport hands changes to the engine through a sink of
 * callbacks, page by page. A page ends with sink->commit(state): the engine
 * applies the page and the folder's new sync state in one storage transaction,
 * so a crash anywhere resumes from the last committed state without loss or
 * duplicates. The state must therefore encode the phase and position of an
 * interrupted initial listing. Nothing holds a whole folder or a whole large
 * message in memory: content arrives in chunks.
 *
 * LIFECYCLE: create(host) reads [account] (no I/O) → open() connects and logs
 * in → sync / fetch / write calls → close() logs out → destroy().
 *
 * THREADING: one thread at a time per instance unless caps has
 * OUTPOST_TRANSPORT_CAP_CONCURRENT; the core creates a second instance for its
 * on-demand fetch worker. Sink callbacks run on the calling thread and must
 * not call back into the transport instance.
 *
 * ERRORS: network failures and HTTP 5xx → TEMP; server "busy" → THROTTLED with
 * retry_after_ms; refused credentials → AUTH (message never contains a
 * secret); stale change key → CONFLICT; missing object → GONE; sync state
 * rejected → STATE_INVALID; malformed reply → BAD_DATA (and nothing of that
 * reply is handed to the sink). A non-OK status from a sink callback aborts
 * the call, which returns that status.
 */
#ifndef OUTPOST_TRANSPORT_H
#define OUTPOST_TRANSPORT_H

#include "abi.h"
#include "item.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Capability flags (struct outpost_plugin.caps). */
#define OUTPOST_TRANSPORT_CAP_PUSH (1ull << 0)            /* wait_changes reports server changes */
#define OUTPOST_TRANSPORT_CAP_RAW_MIME (1ull << 1)        /* stores raw MIME byte for byte */
#define OUTPOST_TRANSPORT_CAP_KEYWORDS (1ull << 2)        /* stores arbitrary IMAP keywords */
#define OUTPOST_TRANSPORT_CAP_CUSTOM_HEADERS (1ull << 3)  /* keeps arbitrary headers (tracking header) */
#define OUTPOST_TRANSPORT_CAP_FOLDER_WRITE (1ull << 4)    /* folder create/rename/delete */
#define OUTPOST_TRANSPORT_CAP_CONCURRENT (1ull << 5)      /* instance may be called from several threads */
#define OUTPOST_TRANSPORT_CAP_MOVE_KEEPS_ID (1ull << 6)   /* a move keeps the remote id */

struct outpost_transport; /* an instance, opaque */

/* What changed (sink callbacks). */
typedef enum outpost_change_kind {
    OUTPOST_CHANGE_ADD = 1,     /* new object (or first seen in an initial listing) */
    OUTPOST_CHANGE_UPDATE = 2,  /* content or metadata changed; content follows if requested */
    OUTPOST_CHANGE_FLAGS = 3,   /* only flags/keywords changed */
    OUTPOST_CHANGE_DELETE = 4   /* gone from this folder */
} outpost_change_kind;

/* Flags for sync_folder / fetch. */
enum {
    OUTPOST_SYNC_WANT_CONTENT = 1u << 0, /* hand over full content for added/updated items */
    OUTPOST_SYNC_INITIAL = 1u << 1       /* no state yet: a full listing */
};

/* The engine's side of a sync. All callbacks are required. `ctx` is passed
 * back unchanged. Structs passed in are owned by the transport for the call. */
struct outpost_sync_sink {
    uint32_t struct_size;
    void *ctx;
    /* A folder in the hierarchy: f->remote_id, parent_remote_id, name, kind,
     * special_use, flags. */
    outpost_status (*folder)(void *ctx, uint32_t change, const outpost_folder *f);
    /* An item of the folder being synced: it->remote_id, remote_version,
     * kind, flags, keywords, dates, size. With content, item() is followed by
     * content() chunks and then content_end(). */
    outpost_status (*item)(void *ctx, uint32_t change, const outpost_item *it);
    /* An item moved: the engine moves its local copy (keeping local edits)
     * instead of deleting and downloading it again. `to_folder_remote_id` may
     * be the folder being synced or another one. */
    outpost_status (*item_moved)(void *ctx, const char *old_remote_id, const char *to_folder_remote_id,
                                 const outpost_item *it);
    /* A chunk of the content of the item announced last. */
    outpost_status (*content)(void *ctx, const void *data, size_t len);
    /* End of that item's content. */
    outpost_status (*content_end)(void *ctx);
    /* End of a page: the engine commits everything since the previous commit
     * together with this new opaque state (NULL/0 allowed for fetch()). */
    outpost_status (*commit)(void *ctx, const void *state, size_t len);
    /* Per-item failure inside a batch (fetch): index into the request. */
    outpost_status (*item_failed)(void *ctx, uint32_t index, outpost_status st);
    /* Optional for the transport to call (check the sink's struct_size with
     * OUTPOST_HAS_FIELD): progress of the folder being synced, `done` items
     * of `total` (total 0 when unknown). For progress bars only. */
    outpost_status (*progress)(void *ctx, uint64_t done, uint64_t total);
};

/* A source of bytes (content of a create or update). */
struct outpost_reader {
    void *ctx;
    uint64_t size;   /* total size when known, else UINT64_MAX */
    /* Reads up to cap bytes; *got 0 means end. */
    outpost_status (*read)(void *ctx, void *buf, size_t cap, size_t *got);
    /* Restarts at the beginning (a transport may need two passes). */
    outpost_status (*rewind)(void *ctx);
};

/* One local change to write back (a resolved journal entry). Remote ids are
 * the current ones (the engine resolves dependencies at replay time). */
typedef struct outpost_change {
    uint32_t struct_size;
    uint32_t op;                     /* outpost_journal_op (storage.h) */
    uint32_t kind;                   /* outpost_item_kind of the item / folder */
    uint32_t flags;                  /* new full flag set, or OUTPOST_J_PERMANENT for delete */
    const char *keywords;            /* new full keyword set */
    const char *remote_id;           /* the item / folder */
    const char *remote_version;      /* the version the local edit was based on */
    const char *folder_remote_id;    /* the item's folder / the folder's parent */
    const char *target_remote_id;    /* move/copy target folder; new parent for folder rename
                                      * ("" = the top level; NULL or equal to
                                      * folder_remote_id = the parent stays) */
    const char *name;                /* folder name for create/rename */
    const char *key;                 /* Message-ID / object UID for duplicate detection */
    struct outpost_reader *content;  /* create/update: the full content in its kind's format */
} outpost_change;

/* What the server made of a change. Strings owned by the instance, valid until its next call. */
typedef struct outpost_change_result {
    uint32_t struct_size;
    uint32_t reserved0;
    const char *remote_id;           /* new or unchanged remote id (NULL for delete) */
    const char *remote_version;      /* new version, NULL if unknown */
} outpost_change_result;

struct outpost_transport_methods {
    uint32_t struct_size;

    /* --- lifecycle --- */
    /* Reads [account] through host; no I/O. */
    outpost_status (*create)(const struct outpost_host *host, struct outpost_transport **out);
    /* Connects and authenticates. AUTH when credentials are refused. */
    outpost_status (*open)(struct outpost_transport *t);
    /* Logs out (best effort) and drops connections. */
    outpost_status (*close)(struct outpost_transport *t);
    void (*destroy)(struct outpost_transport *t);

    /* --- reading --- */

    /* Reports the folder hierarchy changes since `state` (NULL: everything)
     * through sink->folder(), parents before children, then
     * sink->commit(new_state). */
    outpost_status (*sync_hierarchy)(struct outpost_transport *t, const void *state, size_t len,
                                     const struct outpost_sync_sink *sink);
    /* Reports the changes of one folder since `state` (NULL: initial listing),
     * page by page, each page closed by sink->commit(new_state), until the
     * folder is up to date. `page_size` bounds the items per page (0: the
     * transport's default). `flags`: OUTPOST_SYNC_*. */
    outpost_status (*sync_folder)(struct outpost_transport *t, const outpost_folder *folder,
                                  const void *state, size_t len, uint32_t page_size, uint32_t flags,
                                  const struct outpost_sync_sink *sink);
    /* Fetches full content of `n` items of one folder: for each, sink->item(
     * UPDATE) with fresh metadata, content() chunks, content_end(); failures go
     * to sink->item_failed(index). Ends with sink->commit(NULL, 0). */
    outpost_status (*fetch)(struct outpost_transport *t, const outpost_folder *folder,
                            const char *const *remote_ids, uint32_t n, const struct outpost_sync_sink *sink);

    /* --- writing --- */

    /* Applies one change on the server; fills *res. CONFLICT when the
     * server's version differs from change->remote_version, GONE when the
     * object no longer exists, BAD_DATA when the server rejects it. */
    outpost_status (*write)(struct outpost_transport *t, const outpost_change *change, outpost_change_result *res);
    /* Looks for an object in a folder by its key (Message-ID, iCalendar/vCard
     * UID): used on replay to recognise a create that reached the server
     * before a crash. OK with res->remote_id when found, GONE when not. */
    outpost_status (*find)(struct outpost_transport *t, const char *folder_remote_id, uint32_t kind,
                           const char *key, outpost_change_result *res);

    /* --- optional (OUTPOST_TRANSPORT_CAP_PUSH) --- */

    /* Waits up to timeout_ms for a server-side change; *changed non-zero when
     * something changed. Returns early when host->cancelled() becomes true. */
    outpost_status (*wait_changes)(struct outpost_transport *t, uint32_t timeout_ms, int *changed);

    /* --- appended in ABI 1.2: optional, check OUTPOST_HAS_METHOD() first --- */

    /* A hint, given before a sync_folder() call of a sync cycle: the folder
     * the engine syncs after that call returns, with the arguments it will
     * pass. The transport may start reading that folder while it still hands
     * over the current one (its first pages fetched and converted while the
     * engine stores the current folder's last ones), and hand that over when
     * sync_folder() is called for it with those arguments; any other
     * sync_folder() call drops it. `folder` NULL ends the cycle: nothing more
     * follows, whatever was read ahead is dropped. Nothing is handed to a sink
     * and nothing is committed before the sync_folder() call for the folder.
     * `folder` and `state` are read during the call only. Returns OK (a hint
     * cannot fail). */
    outpost_status (*sync_next)(struct outpost_transport *t, const outpost_folder *folder, const void *state,
                                size_t len, uint32_t page_size, uint32_t flags);
};

/* Size of the 1.0 required part; wait_changes is optional. */
#define OUTPOST_TRANSPORT_METHODS_V1_0_SIZE offsetof(struct outpost_transport_methods, wait_changes)

#ifdef __cplusplus
}
#endif
#endif /* OUTPOST_TRANSPORT_H */
