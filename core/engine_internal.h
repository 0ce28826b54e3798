/* core/engine_internal.h — the engine's state, shared by engine.c (applying
 * server changes) and replay.c (sending local edits). Not a public header. */
#ifndef OUTPOST_CORE_ENGINE_INTERNAL_H
#define OUTPOST_CORE_ENGINE_INTERNAL_H

#include <outpost/storage.h>
#include <outpost/transport.h>

#include "app.h"
#include "engine.h"
#include "loader.h"
#include "platform/platform.h"
#include "store.h"

#define ENGINE_MAX_OPEN 16

struct fetch_req;

struct outpost_engine {
    struct outpost_app *app;
    struct outpost_store *store;
    const struct outpost_storage_methods *sm;
    outpost_loaded_plugin *tp;
    const struct outpost_transport_methods *tm;
    struct outpost_host *host_sync, *host_fetch;
    struct outpost_transport *tsync, *tfetch;  /* sync worker / fetch worker instances */
    int connected_sync, connected_fetch;
    uint32_t page_size;
    int headers_scanned;      /* headers-policy folders were checked for items without a summary */

    op_mutex *mu;             /* guards the fields below */
    op_cond *wake_cv;
    int woken;
    int online;
    int auth_failed;
    int32_t last_error_code;
    char last_error[1024];
    int64_t open_folders[ENGINE_MAX_OPEN];
    int push_waiting;         /* in the transport's wait_changes */
    int push_interrupted;     /* a wake-up set host_sync's cancel flag to end that wait */
    int cancelled;            /* outpost_engine_cancel: the cancel flag stays */
    int account_refused;      /* the cache belongs to another account: no fetch either */
    int retry_unreadable;     /* outpost_engine_retry_unreadable: the next cycle's fetches ignore the schedule */

    outpost_progress_fn progress;
    void *progress_ctx;

    /* on-demand fetch worker */
    op_thread *fetch_thread;
    op_mutex *fetch_mu;
    op_cond *fetch_cv, *fetch_done_cv;
    struct fetch_req *fetch_queue;
    int fetch_stop;
    /* A reload for the worker's transport instance (outpost_engine_reconfigure): the
     * worker re-creates it from fetch_cfg between two requests. Under fetch_mu. */
    int fetch_reconfig;
    const struct outpost_config *fetch_cfg;
    struct outpost_store_engine_hooks hooks;

    /* The message of the failure a sync cycle returns, kept while the cycle goes on
     * (the sync worker's thread only). */
    char cycle_msg[1024];
};

void engine_set_error(struct outpost_engine *e, outpost_status st, const char *what);
/* A status with a message formatted into a buffer of the calling thread, valid until
 * the same thread's next engine_status (threads never share it). */
outpost_status engine_status(int32_t code, const char *fmt, ...) OUTPOST_PRINTF(2, 3);
/* st with its message copied into buf (len bytes) when it is a failure: for a status
 * kept while other calls, which may reuse the message's buffer, are made. */
outpost_status engine_keep(outpost_status st, char *buf, size_t len);
outpost_status engine_connect(struct outpost_engine *e);
void engine_drop_connection(struct outpost_engine *e, outpost_status st);
int engine_folder_is_open(struct outpost_engine *e, int64_t id);
/* An account identity ("TRANSPORT HOST USER") recorded by an earlier version, its host
 * normalised in place as the engine makes it now (outpost_url_host: a trailing dot was
 * kept then), so that both compare equal. */
void engine_identity_normalise(char *id);
/* Applies the server's folder hierarchy changes (one page with its state). */
outpost_status engine_sync_hierarchy(struct outpost_engine *e);
/* Records the outcome of a folder's last sync for `outpost status`. */
void engine_folder_error(struct outpost_engine *e, int64_t folder_id, outpost_status st);
/* After a full re-listing, deletes the folder's items with a remote id the
 * listing did not report (`seen` is a JSON object used as a set of remote
 * ids); items created locally and not yet replayed have no remote id and stay. */
struct json_t;
outpost_status engine_prune_unlisted(struct outpost_engine *e, int64_t folder_id, struct json_t *seen);

#endif
