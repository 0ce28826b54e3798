/* core/daemon.h — running the daemon and talking to a running one. */
#ifndef OUTPOST_CORE_DAEMON_H
#define OUTPOST_CORE_DAEMON_H

#include <stddef.h>

#include <jansson.h>

#include "app.h"

/* Runs sync (and the front-ends) until SIGTERM/SIGINT, or one cycle. Exit code: 0 ok, 1 failure,
 * OUTPOST_EXIT_CONFIG when the configuration cannot be used (a restart would fail again). Holds the cache
 * lock; fails with a clear message when another process holds it. */
enum { OUTPOST_EXIT_CONFIG = 78 }; /* EX_CONFIG of sysexits(3); the systemd unit does not restart on it */
#include "engine.h"
struct outpost_daemon_opts {
    int frontends;                /* start the front-ends */
    int once;                     /* one sync cycle, then exit (no control socket) */
    outpost_progress_fn progress; /* may be NULL */
    void *progress_ctx;
    int retry_unreadable;         /* the first cycle asks for content the server refused before
                                     whatever its schedule (outpost_engine_retry_unreadable) */
};
int outpost_daemon_run(struct outpost_app *app, const struct outpost_daemon_opts *opts);

/* Sends one request to the running daemon's control socket; the reply as
 * JSON (caller decrefs), or NULL with err. */
json_t *outpost_control_request(struct outpost_app *app, const char *request, char *err, size_t errlen);

#endif
