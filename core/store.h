/* core/store.h — the core's store: one cache, shared by the sync engine and
 * the front-ends.
 *
 * It owns the open storage (a writer instance and, when the storage declares
 * OUTPOST_STORAGE_CAP_CONCURRENT_READERS, a pool of reader instances), the
 * single write lock, the journal discipline and change notifications. It
 * implements the journaled store API of outpost/frontend.h: every front-end
 * edit is one write transaction holding the change and its journal entry.
 * The sync engine applies server changes through write_begin/commit (same
 * lock) without journaling them, and plugs its services (on-demand content,
 * folder-open hint, online state) in with outpost_store_set_engine.
 *
 * THREADING: every function may be called from any thread. Write transactions
 * are serialised by an internal lock; read transactions run concurrently when
 * the storage allows it, else they share the writer's lock.
 * Events queued inside a write transaction are delivered to subscribers after
 * commit, on the committing thread.
 */
#ifndef OUTPOST_CORE_STORE_H
#define OUTPOST_CORE_STORE_H

#include <stddef.h>

#include <outpost/frontend.h>

#include "app.h"

struct outpost_store;

/* Takes ownership of nothing: `os` (an opened storage) and `app` must outlive
 * the store. Opens reader instances as the storage allows. Ensures the
 * local-only Conflicts folder exists. */
int outpost_store_new(struct outpost_app *app, struct outpost_open_storage *os, struct outpost_store **out,
                      char *err, size_t errlen);
void outpost_store_free(struct outpost_store *s);

/* The storage method table. */
const struct outpost_storage_methods *outpost_store_methods(const struct outpost_store *s);

/* The table handed to front-ends (host->store). Its functions find the store
 * through the host: bind it with outpost_store_bind_host before use, which
 * sets host->store to the store's own copy of this table (with `storage` and
 * `storage_caps` filled in; in the shared table they are NULL / 0) and the
 * host's store context (outpost_core_host_set_store_ctx).
 * A thread holding a read transaction must end it before calling an edit:
 * without concurrent readers, reads share the writer's lock. */
const struct outpost_store_api *outpost_store_api_table(void);
void outpost_store_bind_host(struct outpost_store *s, struct outpost_host *h);

/* Transactions for the core (engine, CLI). */
outpost_status outpost_store_read_begin(struct outpost_store *s, struct outpost_txn **t);
void outpost_store_read_end(struct outpost_store *s, struct outpost_txn *t);
outpost_status outpost_store_write_begin(struct outpost_store *s, struct outpost_txn **t);
/* Commits, releases the write lock and delivers queued events (also on failure
 * the lock is released and queued events are dropped). */
outpost_status outpost_store_write_commit(struct outpost_store *s, struct outpost_txn *t);
void outpost_store_write_rollback(struct outpost_store *s, struct outpost_txn *t);
/* The storage's integrity check on the writer instance, under the write lock:
 * it waits for the write (or writer-instance read) transaction of any thread
 * (sync, fetch worker, front-ends) to end, and holds the next ones off while
 * it runs. The caller must hold no transaction of this store. The message of
 * a failure is a copy (thread-local), valid until this thread's next store call. */
outpost_status outpost_store_integrity_check(struct outpost_store *s);
/* Queues an event for delivery after the current write transaction commits
 * (only between write_begin and write_commit, on that thread). */
void outpost_store_queue_event(struct outpost_store *s, const outpost_store_event *ev);

/* Services the sync engine provides to front-ends. */
struct outpost_store_engine_hooks {
    void *ctx;
    outpost_status (*request_content)(void *ctx, int64_t item_id, uint32_t timeout_ms);
    void (*folder_open)(void *ctx, int64_t folder_id, int open);
    int (*online)(void *ctx);
    /* request_content for ids[0..n) (copied), in as few server calls as it can */
    outpost_status (*request_contents)(void *ctx, const int64_t *ids, uint32_t n, uint32_t timeout_ms);
};
/* hooks NULL detaches: request_content then answers TEMP "offline". */
void outpost_store_set_engine(struct outpost_store *s, const struct outpost_store_engine_hooks *hooks);

/* A copy of an item that outlives the storage call (or transport callback) that
 * handed it out: the struct and its strings, owned by the copy. */
struct outpost_item_copy {
    outpost_item it;
    char *str[12];
};
/* 0, or -1 when out of memory (c is then empty). */
int outpost_item_copy_from(struct outpost_item_copy *c, const outpost_item *src);
void outpost_item_copy_free(struct outpost_item_copy *c);

/* `flags` of an OUTPOST_J_FOLDER_RENAME journal entry: the folder kept its
 * parent (a rename only), so replay tells the transport the parent is
 * unchanged instead of asking it to move the folder there. Entries journaled
 * without it are replayed as possible moves. */
#define OUTPOST_J_SAME_PARENT (1u << 0)

/* The payload of an OUTPOST_J_ITEM_COPY journal entry: this key, then the local id
 * of the item copied, in decimal ("source_id=42"). The store writes it, replay reads
 * it to find the source's remote id at replay time. */
#define OUTPOST_J_COPY_SOURCE_KEY "source_id="

/* Local id of the local-only Conflicts folder. */
int64_t outpost_store_conflicts_folder(const struct outpost_store *s);

/* Whether EXPUNGE / remove() deletes permanently ([account] delete). */
int outpost_store_permanent_delete(const struct outpost_store *s);

/* The [account] keys the store reads (`delete = trash | permanent`);
 * outpost_store_new declares them, a command validating the config before
 * opening the store declares them itself. */
extern const outpost_config_key outpost_store_keys_account[];

#endif
