/* core/session.h — everything one command needs open at once: the cache lock,
 * the storage, the store and (optionally) the sync engine.
 *
 * The lock (data_dir/outpost.lock) makes sure two daemons, or a daemon and a
 * standalone `outpost sync`, never share a cache. While a daemon holds it, the
 * CLI talks to the daemon over its control socket (control.h) instead.
 */
#ifndef OUTPOST_CORE_SESSION_H
#define OUTPOST_CORE_SESSION_H

#include <stddef.h>

#include "app.h"
#include "engine.h"
#include "platform/platform.h"
#include "store.h"

struct outpost_session {
    struct outpost_app *app;
    op_lock *lock;
    struct outpost_open_storage os;
    int storage_open;
    struct outpost_store *store;
    struct outpost_engine *engine;
};

/* Path of a file in the data directory (malloc'd). */
char *outpost_data_path(const struct outpost_app *app, const char *name);

/* Takes the lock; returns 1 (and no session) when a daemon holds it, so the
 * caller can use the control socket; 0 when opened; OUTPOST_SESSION_CONFIG
 * when the configuration is what failed (a password in [account] url, a
 * transport missing or refusing its settings); -1 on another error. */
enum { OUTPOST_SESSION_CONFIG = -2 };
int outpost_session_open(struct outpost_session *s, struct outpost_app *app, int with_engine, char *err,
                         size_t errlen);
void outpost_session_close(struct outpost_session *s);

/* A warn callback for outpost_config_validate: logs the line as a warning
 * from "config". */
void outpost_config_log_warning(void *ctx, const char *msg);

#endif
