/* core/engine.h — the sync engine: initial and incremental sync, journal
 * replay, on-demand content. It knows only the ABI tables: it never names a
 * plugin.
 *
 * Crash safety: server changes are applied page by page; each page and the
 * folder's new sync state commit in one storage transaction, so a crash
 * anywhere resumes from the last committed state. A journal entry leaves the
 * queue only after the server confirmed it and the new remote id is stored;
 * an entry whose write may have reached the server before a crash is looked
 * up on the server (transport find) before it is sent again.
 *
 * THREADING: sync_once and replay run on the caller's thread (the sync
 * worker); the on-demand fetch worker is a thread of its own with a second
 * transport instance. Status getters may be called from any thread.
 */
#ifndef OUTPOST_CORE_ENGINE_H
#define OUTPOST_CORE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include <outpost/abi.h>

struct outpost_app;
struct outpost_store;
struct outpost_engine;

/* Progress of a sync, for progress bars and plain log lines. */
struct outpost_progress {
    const char *phase;     /* "hierarchy", "folder", "content", "replay" */
    const char *folder;    /* folder name, NULL for account-wide phases */
    uint64_t done;         /* items done in this folder / phase */
    uint64_t total;        /* 0 when unknown */
    int finished;          /* 1 on the last report of a folder */
};
typedef void (*outpost_progress_fn)(void *ctx, const struct outpost_progress *p);

/* Loads [account] transport, declares its keys, creates the sync and fetch
 * instances (no I/O yet). */
int outpost_engine_new(struct outpost_app *app, struct outpost_store *store, struct outpost_engine **out,
                       char *err, size_t errlen);
void outpost_engine_free(struct outpost_engine *e);

void outpost_engine_set_progress(struct outpost_engine *e, outpost_progress_fn fn, void *ctx);

/* Starts / stops the on-demand fetch worker and plugs the engine's services
 * into the store (request_content, folder-open hint, online). */
int outpost_engine_start_worker(struct outpost_engine *e, char *err, size_t errlen);
void outpost_engine_stop_worker(struct outpost_engine *e);

/* One full cycle: connect if needed, replay the journal, sync the hierarchy,
 * sync every folder (open folders first), fetch missing content per policy.
 * Returns the first status that stopped it (OK when everything is current). */
outpost_status outpost_engine_sync_once(struct outpost_engine *e);

/* Replays pending journal entries only. */
outpost_status outpost_engine_replay(struct outpost_engine *e);

/* Waits up to timeout_ms for a server change (transport push) or a wake-up;
 * returns OUTPOST_WAIT_* bits (0: the time passed). A wake-up also ends a
 * transport's wait_changes early. */
#define OUTPOST_WAIT_WOKEN 1u  /* outpost_engine_wake: local edit, sync request, reload */
#define OUTPOST_WAIT_SERVER 2u /* the transport reported a server change */
int outpost_engine_wait(struct outpost_engine *e, uint32_t timeout_ms);
/* Like outpost_engine_wait without asking the transport for server changes:
 * a short pause that a wake-up ends early (OUTPOST_WAIT_WOKEN, else 0). */
int outpost_engine_wait_woken(struct outpost_engine *e, uint32_t timeout_ms);
/* Wakes outpost_engine_wait (from any thread). */
void outpost_engine_wake(struct outpost_engine *e);
/* Asks running operations to stop (shutdown). */
void outpost_engine_cancel(struct outpost_engine *e);

/* After a config reload (called on the sync worker's thread, between
 * cycles): both transport instances are re-created from cfg (url, user, TLS
 * settings) and reconnect with fresh credentials, the sync instance at once,
 * the fetch worker's on its own thread before its next request. cfg stays
 * the caller's and must outlive the engine. */
struct outpost_config;
void outpost_engine_reconfigure(struct outpost_engine *e, const struct outpost_config *cfg);

/* Makes the next sync cycle ask for the content the server refused before (an
 * attachment gone: see core/policy.h) whatever its schedule says: for an explicit
 * `outpost sync`. Any thread. */
void outpost_engine_retry_unreadable(struct outpost_engine *e);

/* Status for `outpost status`. */
int outpost_engine_online(struct outpost_engine *e);
/* Copies the last error ("" when none) and the class that caused it. */
int32_t outpost_engine_last_error(struct outpost_engine *e, char *buf, size_t len);
int outpost_engine_auth_failed(struct outpost_engine *e);

#endif
