/* core/session.c — lock, storage, store and engine opened together. */
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

void outpost_config_log_warning(void *ctx, const char *msg)
{
    (void)ctx;
    outpost_log(OUTPOST_LOG_WARNING, "config", "%s", msg);
}

char *outpost_data_path(const struct outpost_app *app, const char *name)
{
    size_t n = strlen(app->data_dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%c%s", app->data_dir, op_path_sep(), name);
    return p;
}

int outpost_session_open(struct outpost_session *s, struct outpost_app *app, int with_engine, char *err,
                         size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->app = app;
    if (op_mkdir_p(app->data_dir, 0700, err, errlen) != 0)
        return -1;
    char *lp = outpost_data_path(app, "outpost.lock");
    if (!lp) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char why[512];
    s->lock = op_lock_acquire(lp, why, sizeof why);
    free(lp);
    if (!s->lock) {
        snprintf(err, errlen, "the cache is in use: %s", why);
        return 1;
    }
    if (outpost_app_open_storage(app, &s->os, err, errlen) != 0)
        goto fail;
    s->storage_open = 1;
    if (outpost_store_new(app, &s->os, &s->store, err, errlen) != 0) {
        outpost_app_explain_unwritable(app, err, errlen);
        goto fail;
    }
    /* a password in the server's URL would be in every message naming it */
    static const char *const url_keys[] = { "url", "autodiscover_url" };
    for (size_t i = 0; with_engine && i < sizeof url_keys / sizeof *url_keys; i++) {
        if (outpost_config_url_has_password(outpost_config_get(app->cfg, "account", url_keys[i]))) {
            snprintf(err, errlen, "%s:%d: [account] %s holds a password (user:password@): put the login in user and "
                     "the password in password_file or password_cmd", app->config_path,
                     outpost_config_line(app->cfg, "account", url_keys[i]), url_keys[i]);
            outpost_session_close(s);
            return OUTPOST_SESSION_CONFIG;
        }
    }
    if (with_engine && outpost_engine_new(app, s->store, &s->engine, err, errlen) != 0) {
        /* the transport refused its settings, maybe for a misspelt key (the
         * failed engine unloaded the transport, whose keys name them) */
        size_t n = strlen(err);
        if (n + 1 < errlen)
            snprintf(err + n, errlen - n, " (outpost check names unknown keys)");
        outpost_session_close(s);
        return OUTPOST_SESSION_CONFIG;
    }
    return 0;
fail:
    outpost_session_close(s);
    return -1;
}

void outpost_session_close(struct outpost_session *s)
{
    outpost_engine_free(s->engine);
    outpost_store_free(s->store);
    if (s->storage_open)
        outpost_app_close_storage(&s->os);
    op_lock_release(s->lock);
    memset(s, 0, sizeof *s);
}
