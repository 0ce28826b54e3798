/* core/daemon.c — outpostd: the sync worker, the on-demand fetch worker, the
 * front-ends and the control socket in one process.
 *
 * SIGTERM/SIGINT stop it cleanly (front-ends closed, the page in flight rolled
 * back, the journal untouched); SIGHUP re-reads the config: the log level,
 * credentials (the transport reconnects) and front-end settings apply without
 * dropping clients where the front-end supports it.
 *
 * Control socket (data_dir/control.sock, owner-only): one request line, one
 * JSON reply line. Requests: status, audit, prune DAYS, sync, check, stop.
 *
 * Between sync cycles the daemon builds the storage's full-text index in
 * short write transactions (fts_idle_slice), so SEARCH TEXT on a freshly
 * synced cache reads the index instead of indexing on the fly.
 */
#include "daemon.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "host.h"
#include "log.h"
#include "policy.h"
#include "report.h"
#include "session.h"

#define LOGC "daemon"

struct frontend {
    outpost_loaded_plugin *p;
    const struct outpost_frontend_methods *m;
    struct outpost_host *host;
    struct outpost_frontend *f;
    int started;
};

struct daemon {
    struct outpost_app *app;
    struct outpost_session s;
    struct frontend fe[8];
    int nfe;
    atomic_int stop;
    atomic_int reload;
    atomic_int sync_requested;
    atomic_int check_requested; /* a `check` request waits for the main loop to run it */
    uint64_t checks_done;       /* under cycle_mu, as the two below */
    int check_ok;
    char check_msg[1024];
    op_socket ctl;
    op_thread *ctl_thread;
    /* What the signal thread may touch: the engine once the session is open, NULL before and
     * while it closes. The thread takes sig_mu around its use, so the engine it cancels or
     * wakes is never one the main thread is freeing (a second SIGTERM during the stop). */
    op_mutex *sig_mu;
    struct outpost_engine *sig_engine;
    char *ctl_path;
    op_mutex *cycle_mu;
    op_cond *cycle_cv;
    uint64_t started;         /* sync cycles started */
    uint64_t cycles;          /* completed sync cycles */
    int32_t last_cycle_code;
    struct outpost_store_subscription *sub;
    struct outpost_config *old_cfgs[16]; /* configs replaced by reloads stay alive for hosts that point at them */
    int nold;
    /* idle-time full-text indexing (fts_idle_slice) */
    uint32_t fts_slice;       /* items in the next idle-indexing slice */
    atomic_int fts_due;       /* set by a sync cycle or a local edit: items may wait for the index */
    _Atomic int64_t fts_last_edit; /* op_monotonic_ms of the last store event */
    int fts_failed;           /* the last slice failed: retried after the next cycle */
    _Atomic int64_t fts_remaining; /* items the index lacked after the last slice; -1: not known */
    _Atomic int64_t fts_indexed;   /* items indexed by this daemon */
};

static void on_signal(void *ctx, int what)
{
    struct daemon *d = ctx;
    atomic_store(what == OP_SIG_STOP ? &d->stop : &d->reload, 1);
    op_mutex_lock(d->sig_mu);
    if (d->sig_engine) {
        if (what == OP_SIG_STOP)
            outpost_engine_cancel(d->sig_engine);
        else
            outpost_engine_wake(d->sig_engine);
    }
    op_mutex_unlock(d->sig_mu);
}

/* Hands the open session's engine to the signal thread, or (NULL) takes it back. */
static void signal_engine(struct daemon *d, struct outpost_engine *e)
{
    op_mutex_lock(d->sig_mu);
    d->sig_engine = e;
    op_mutex_unlock(d->sig_mu);
}

/* Local edits made by clients wake the sync worker so they replay promptly. */
static void on_store_event(void *ctx, const outpost_store_event *ev)
{
    struct daemon *d = ctx;
    (void)ev;
    atomic_store(&d->fts_last_edit, op_monotonic_ms());
    atomic_store(&d->fts_due, 1);
    if (d->s.engine)
        outpost_engine_wake(d->s.engine);
}

/* ---- idle-time full-text indexing ---- */

/* A slice (one write transaction) indexes as many items as take about
 * FTS_SLICE_MS, measured on the previous slices (between FTS_SLICE_MIN and
 * FTS_SLICE_MAX items; 3-7k items/s in bench/storage), so a front-end's edit
 * or a sync cycle that arrives meanwhile waits no longer than that. */
#define FTS_SLICE_MS 50
#define FTS_SLICE_MIN 32u
#define FTS_SLICE_MAX 512u
#define FTS_SLICE_FIRST 128u
/* Pause between slices: the write lock is free for front-ends and the fetch worker. */
#define FTS_SLICE_PAUSE_MS 20
/* Indexing starts once the cache has had no edit for this long: a client
 * saving a thousand messages is not slowed by indexing each as it lands. */
#define FTS_QUIET_MS 1000

/* Indexes one slice of the items the storage's full-text index lacks, when
 * the storage indexes at idle time (fts_index). Returns 1 when items are
 * left; 0 when the index has caught up, failed, or the storage has none,
 * or when edits are too recent: then *retry_ms says when to call again
 * (0: not before the next edit or sync cycle). */
static int fts_idle_slice(struct daemon *d, int64_t *retry_ms)
{
    const struct outpost_storage_methods *m = outpost_store_methods(d->s.store);
    *retry_ms = 0;
    if (!OUTPOST_HAS_METHOD(m, struct outpost_storage_methods, fts_index) || d->fts_failed ||
        !atomic_load(&d->fts_due))
        return 0;
    int64_t quiet = op_monotonic_ms() - atomic_load(&d->fts_last_edit);
    if (quiet < FTS_QUIET_MS) {
        *retry_ms = FTS_QUIET_MS - quiet;
        return 0;
    }
    atomic_store(&d->fts_due, 0); /* an edit from now on sets it again */
    struct outpost_txn *t;
    uint32_t done = 0;
    uint64_t left = 0;
    int64_t t0 = op_monotonic_ms();
    outpost_status st = outpost_store_write_begin(d->s.store, &t);
    if (st.code == OUTPOST_OK) {
        st = m->fts_index(t, d->fts_slice, &done, &left);
        if (st.code == OUTPOST_OK)
            st = outpost_store_write_commit(d->s.store, t);
        else
            outpost_store_write_rollback(d->s.store, t);
    }
    int64_t ms = op_monotonic_ms() - t0;
    outpost_log(OUTPOST_LOG_DEBUG, LOGC, "full-text index: %u items in %lld ms, %llu left", done, (long long)ms,
                (unsigned long long)left);
    /* The next slice aims at FTS_SLICE_MS (the write lock is held that long). */
    if (done == d->fts_slice && ms > 0) {
        int64_t want = (int64_t)done * FTS_SLICE_MS / ms;
        want = (want + (int64_t)d->fts_slice) / 2; /* move halfway: one slow slice is not the rule */
        d->fts_slice = (uint32_t)(want < FTS_SLICE_MIN ? FTS_SLICE_MIN : want > FTS_SLICE_MAX ? FTS_SLICE_MAX : want);
    }
    if (st.code != OUTPOST_OK) {
        outpost_log(OUTPOST_LOG_WARNING, LOGC, "full-text indexing paused until the next sync: %s",
                    st.message ? st.message : outpost_status_class_name(st.code));
        d->fts_failed = 1;
        return 0;
    }
    atomic_fetch_add(&d->fts_indexed, (int64_t)done);
    atomic_store(&d->fts_remaining, (int64_t)left);
    if (left > 0)
        atomic_store(&d->fts_due, 1);
    else if (done)
        outpost_log(OUTPOST_LOG_INFO, LOGC, "full-text index complete (%lld items indexed since start)",
                    (long long)atomic_load(&d->fts_indexed));
    return left > 0;
}

/* The status reply with the idle indexer's progress: "fts": {"indexed",
 * "remaining"} (remaining null until the first slice ran), or "fts": null
 * when the storage has no idle-time indexing. */
static json_t *status_with_fts(struct daemon *d)
{
    json_t *o = outpost_report_status(d->s.store, d->s.engine, d->app->cfg);
    const struct outpost_storage_methods *m = outpost_store_methods(d->s.store);
    if (!OUTPOST_HAS_METHOD(m, struct outpost_storage_methods, fts_index)) {
        json_object_set_new(o, "fts", json_null());
        return o;
    }
    int64_t left = atomic_load(&d->fts_remaining);
    json_t *f = json_object();
    json_object_set_new(f, "indexed", json_integer((json_int_t)atomic_load(&d->fts_indexed)));
    json_object_set_new(f, "remaining", left < 0 ? json_null() : json_integer((json_int_t)left));
    json_object_set_new(o, "fts", f);
    return o;
}

/* ---- front-ends ---- */

/* Loads the configured front-ends and declares their keys; with `start`,
 * starts them too (`outpost sync` only declares them, so that the config
 * check at start knows their sections). */
static void start_frontends(struct daemon *d, int start)
{
    char names[8][64];
    size_t n = outpost_config_split_list(outpost_config_get(d->app->cfg, "core", "frontends"), names, 8);
    char err[1024];
    for (size_t i = 0; i < n; i++) {
        const char *p = names[i];
        struct frontend *f = &d->fe[d->nfe];
        memset(f, 0, sizeof *f);
        if (outpost_loader_load(d->app->plugin_dirs, OUTPOST_KIND_FRONTEND, p, &f->p, err, sizeof err) != 0) {
            if (start)
                outpost_log(OUTPOST_LOG_WARNING, LOGC, "front-end %s not started: %s", p, err);
            continue;
        }
        /* the plugin's own name: `names` does not outlive this call */
        const char *section = f->p->desc->section ? f->p->desc->section : f->p->desc->name;
        outpost_config_declare(d->app->cfg, section, f->p->desc->config_keys);
        if (!start) {
            d->nfe++;
            continue;
        }
        f->m = f->p->methods;
        f->host = outpost_core_host_new(d->app->cfg, section, p, d->app->data_dir);
        outpost_core_host_set_store(f->host, outpost_store_api_table());
        outpost_store_bind_host(d->s.store, f->host);
        outpost_status st;
        if (outpost_loader_module_init(f->p, f->host, err, sizeof err) != 0) {
            outpost_log(OUTPOST_LOG_ERROR, LOGC, "%s", err);
        } else if ((st = f->m->create(f->host, &f->f)).code != OUTPOST_OK) {
            outpost_log(OUTPOST_LOG_ERROR, LOGC, "front-end %s: %s", p, st.message ? st.message : "");
        } else if ((st = f->m->start(f->f)).code != OUTPOST_OK) {
            outpost_log(OUTPOST_LOG_ERROR, LOGC, "front-end %s: %s", p, st.message ? st.message : "");
        } else {
            f->started = 1;
            outpost_log(OUTPOST_LOG_INFO, LOGC, "front-end %s started", p);
        }
        d->nfe++;
    }
}

static void stop_frontends(struct daemon *d)
{
    for (int i = d->nfe - 1; i >= 0; i--) {
        struct frontend *f = &d->fe[i];
        if (f->started)
            f->m->stop(f->f);
        if (f->f)
            f->m->destroy(f->f);
        outpost_loader_unload(f->p);
        outpost_core_host_free(f->host);
    }
    d->nfe = 0;
}

/* ---- control socket ---- */

static void reply(op_socket c, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    if (s) {
        op_send(c, s, strlen(s));
        op_send(c, "\n", 1);
        free(s);
    }
    json_decref(j);
}

static json_t *msg_reply(const char *key, const char *value)
{
    json_t *o = json_object();
    json_object_set_new(o, key, json_string(value));
    return o;
}

static void handle(struct daemon *d, op_socket c)
{
    char line[256];
    size_t n = 0;
    while (n < sizeof line - 1) {
        long r = op_recv(c, line + n, 1);
        if (r <= 0 || line[n] == '\n')
            break;
        n++;
    }
    line[n] = '\0';
    if (!strcmp(line, "status")) {
        reply(c, status_with_fts(d));
    } else if (!strcmp(line, "audit")) {
        reply(c, outpost_report_audit(d->s.store));
    } else if (!strncmp(line, "prune ", 6)) {
        long long removed = outpost_report_prune(d->s.store, atoll(line + 6), op_now_ms());
        json_t *o = json_object();
        json_object_set_new(o, "removed", json_integer(removed));
        reply(c, o);
    } else if (!strcmp(line, "sync")) {
        op_mutex_lock(d->cycle_mu);
        uint64_t target = d->started + 1; /* the first cycle that starts after this request */
        atomic_store(&d->sync_requested, 1);
        /* asked for by a user (`outpost sync`): content the server refused is asked for too */
        outpost_engine_retry_unreadable(d->s.engine);
        outpost_engine_wake(d->s.engine);
        int64_t deadline = op_monotonic_ms() + 600000;
        while (d->cycles < target && !atomic_load(&d->stop) && op_monotonic_ms() < deadline)
            op_cond_wait(d->cycle_cv, d->cycle_mu, 1000);
        int32_t code = d->last_cycle_code;
        op_mutex_unlock(d->cycle_mu);
        json_t *o = status_with_fts(d);
        json_object_set_new(o, "result", json_string(outpost_status_class_name(code)));
        reply(c, o);
    } else if (!strcmp(line, "check")) {
        /* The writer instance is shared by the main loop, the fetch worker and the
         * front-ends: the check runs on the main loop between its transactions, under
         * the store's write lock so that no other thread has one open on it (sqlite
         * refuses an integrity check inside a transaction). */
        op_mutex_lock(d->cycle_mu);
        uint64_t target = d->checks_done + 1;
        atomic_store(&d->check_requested, 1);
        outpost_engine_wake(d->s.engine);
        int64_t deadline = op_monotonic_ms() + 600000;
        while (d->checks_done < target && !atomic_load(&d->stop) && op_monotonic_ms() < deadline)
            op_cond_wait(d->cycle_cv, d->cycle_mu, 1000);
        json_t *o = d->checks_done < target ? msg_reply("error", "the daemon did not get to the check (stopping or busy)")
                                            : msg_reply(d->check_ok ? "ok" : "error", d->check_msg);
        op_mutex_unlock(d->cycle_mu);
        reply(c, o);
    } else if (!strcmp(line, "reload")) {
        on_signal(d, OP_SIG_RELOAD);
        reply(c, msg_reply("ok", "reloading the configuration"));
    } else if (!strcmp(line, "stop")) {
        on_signal(d, OP_SIG_STOP);
        reply(c, msg_reply("ok", "stopping"));
    } else {
        reply(c, msg_reply("error", "unknown request"));
    }
}

static void *control_thread(void *arg)
{
    struct daemon *d = arg;
    op_thread_name("outpost-control");
    while (!atomic_load(&d->stop)) {
        op_socket c = op_accept(d->ctl);
        if (c == OP_BAD_SOCKET)
            break;
        if (atomic_load(&d->stop)) {
            op_close_socket(c);
            break;
        }
        handle(d, c);
        op_close_socket(c);
    }
    return NULL;
}

static int start_control(struct daemon *d, char *err, size_t errlen)
{
    d->ctl_path = outpost_data_path(d->app, "control.sock");
    d->ctl = op_local_listen(d->ctl_path, err, errlen);
    if (d->ctl == OP_BAD_SOCKET)
        return -1;
    d->ctl_thread = op_thread_start(control_thread, d);
    return d->ctl_thread ? 0 : -1;
}

static void stop_control(struct daemon *d)
{
    if (d->ctl_thread) {
        /* Wake the blocked accept with a connection of our own. */
        char err[256];
        op_socket c = op_local_connect(d->ctl_path, err, sizeof err);
        op_close_socket(c);
        op_thread_join(d->ctl_thread);
        d->ctl_thread = NULL;
    }
    op_close_socket(d->ctl);
    if (d->ctl_path)
        remove(d->ctl_path);
    free(d->ctl_path);
}

/* ---- config check ---- */

/* Checks `cfg` against every declared key as `outpost check` does: unknown
 * keys (a misspelt one would be ignored) are warnings; a bad value is an error. */
static int validate_config(const struct outpost_config *cfg, char *err, size_t errlen)
{
    static const char *const required[] = { "core", "storage", "account", NULL };
    return outpost_config_validate(cfg, required, outpost_config_log_warning, NULL, err, errlen);
}

/* ---- reload ---- */

static void do_reload(struct daemon *d)
{
    char err[2048];
    struct outpost_config *cfg;
    if (outpost_config_load(d->app->config_path, 0, &cfg, err, sizeof err) != 0) {
        outpost_log(OUTPOST_LOG_ERROR, LOGC, "reload: %s; keeping the running configuration", err);
        return;
    }
    if (outpost_policy_validate(cfg, err, sizeof err) != 0) {
        outpost_config_free(cfg);
        outpost_log(OUTPOST_LOG_ERROR, LOGC, "reload: %s; keeping the running configuration", err);
        return;
    }
    if (d->nold == (int)(sizeof d->old_cfgs / sizeof *d->old_cfgs)) {
        outpost_config_free(cfg);
        outpost_log(OUTPOST_LOG_ERROR, LOGC, "reload: too many reloads; restart outpostd to apply changes");
        return;
    }
    outpost_config_declare_core(cfg);
    /* the keys the running plugins declared (storage, transport, front-ends) */
    outpost_config_declare_from(cfg, d->app->cfg);
    if (validate_config(cfg, err, sizeof err) != 0) {
        outpost_config_free(cfg);
        outpost_log(OUTPOST_LOG_ERROR, LOGC, "reload: %s; keeping the running configuration", err);
        return;
    }
    int level = outpost_log_level_parse(outpost_config_get(cfg, "core", "log_level"));
    if (level > 0)
        outpost_log_setup(NULL, level);
    /* Hosts keep pointing at the old config; the engine re-reads credentials
     * through it on reconnect, so swap the values the engine reads. */
    d->old_cfgs[d->nold++] = d->app->cfg;
    d->app->cfg = cfg;
    for (int i = 0; i < d->nfe; i++) {
        struct frontend *f = &d->fe[i];
        const char *section = f->p->desc->section ? f->p->desc->section : f->p->desc->name;
        outpost_config_declare(cfg, section, f->p->desc->config_keys);
        if (f->started && f->m->reload) {
            struct outpost_host *h = outpost_core_host_new(cfg, section, f->p->desc->name, d->app->data_dir);
            outpost_core_host_set_store(h, outpost_store_api_table());
            outpost_store_bind_host(d->s.store, h);
            outpost_status st = f->m->reload(f->f, h);
            if (st.code == OUTPOST_OK) {
                outpost_core_host_free(f->host);
                f->host = h;
            } else {
                outpost_core_host_free(h);
                outpost_log(OUTPOST_LOG_WARNING, LOGC, "front-end %s kept its settings: %s", f->p->desc->name,
                            st.message ? st.message : "");
            }
        }
    }
    outpost_engine_reconfigure(d->s.engine, cfg);
    outpost_log(OUTPOST_LOG_NOTICE, LOGC, "configuration reloaded from %s", d->app->config_path);
}

/* ---- the loop ---- */

/* Runs a pending `check` request (main loop thread, no transaction open; the
 * store's write lock holds off the fetch worker and front-ends meanwhile). */
static void run_check_request(struct daemon *d)
{
    if (!atomic_exchange(&d->check_requested, 0))
        return;
    outpost_status st = outpost_store_integrity_check(d->s.store);
    op_mutex_lock(d->cycle_mu);
    d->check_ok = st.code == OUTPOST_OK;
    snprintf(d->check_msg, sizeof d->check_msg, "%s",
             st.message ? st.message : d->check_ok ? "integrity ok" : outpost_status_class_name(st.code));
    d->checks_done++;
    op_cond_broadcast(d->cycle_cv);
    op_mutex_unlock(d->cycle_mu);
}

static int64_t interval_ms(struct outpost_app *app)
{
    long long s = 60;
    const char *v = outpost_config_get(app->cfg, "core", "sync_interval");
    if (v && outpost_config_parse_int(v, &s) != 0)
        s = 60;
    return (s > 0 ? s : 1) * 1000;
}

static int journal_pending(struct daemon *d)
{
    struct outpost_txn *t;
    uint64_t n = 0;
    if (outpost_store_read_begin(d->s.store, &t).code == OUTPOST_OK) {
        outpost_store_methods(d->s.store)->journal_count(t, OUTPOST_JS_PENDING, &n);
        outpost_store_read_end(d->s.store, t);
    }
    return n > 0;
}

/* Exponential backoff with jitter, honouring the server's delay. */
static int64_t backoff_ms(int failures, const outpost_status *st)
{
    int64_t base = 1000LL << (failures < 9 ? failures : 9); /* 1 s .. 8.5 min */
    if (base > 300000)
        base = 300000;
    int64_t jitter = (int64_t)((uint64_t)op_monotonic_ms() * 2654435761u % (uint64_t)(base / 2 + 1));
    int64_t d = base / 2 + jitter;
    if (st->code == OUTPOST_THROTTLED && st->retry_after_ms > d)
        d = st->retry_after_ms;
    return d;
}

int outpost_daemon_run(struct outpost_app *app, const struct outpost_daemon_opts *opts)
{
    int once = opts->once;
    struct daemon *d = calloc(1, sizeof *d);
    if (!d || !(d->sig_mu = op_mutex_new())) {
        free(d);
        return 1;
    }
    d->app = app;
    d->ctl = OP_BAD_SOCKET;
    atomic_store(&d->fts_remaining, -1);
    d->fts_slice = FTS_SLICE_FIRST;
    char err[2048];
    int rc = 1;
    if (op_signals_start(on_signal, d) != 0)
        outpost_log(OUTPOST_LOG_WARNING, LOGC, "cannot install signal handlers");
    int o = outpost_session_open(&d->s, app, 1, err, sizeof err);
    /* A short CLI command (status, audit) may hold the cache for a moment;
     * another daemon answers on its control socket and is not waited for. */
    for (int tries = 0; o == 1 && tries < 50; tries++) {
        char cerr[256];
        json_t *other = outpost_control_request(app, "status", cerr, sizeof cerr);
        if (other) {
            json_decref(other);
            break;
        }
        op_sleep_ms(100);
        o = outpost_session_open(&d->s, app, 1, err, sizeof err);
    }
    if (o != 0) {
        outpost_log(OUTPOST_LOG_ERROR, LOGC, "%s", err);
        if (o == OUTPOST_SESSION_CONFIG)
            rc = OUTPOST_EXIT_CONFIG;
        goto out;
    }
    signal_engine(d, d->s.engine);
    if (atomic_load(&d->stop)) /* a stop signal came while the session opened */
        outpost_engine_cancel(d->s.engine);
    d->cycle_mu = op_mutex_new();
    d->cycle_cv = op_cond_new();
    if (outpost_engine_start_worker(d->s.engine, err, sizeof err) != 0) {
        outpost_log(OUTPOST_LOG_ERROR, LOGC, "%s", err);
        goto out;
    }
    if (!once && start_control(d, err, sizeof err) != 0) {
        outpost_log(OUTPOST_LOG_ERROR, LOGC, "control socket: %s", err);
        goto out;
    }
    if (opts->progress)
        outpost_engine_set_progress(d->s.engine, opts->progress, opts->progress_ctx);
    if (opts->retry_unreadable)
        outpost_engine_retry_unreadable(d->s.engine);
    start_frontends(d, opts->frontends);
    /* Every key is declared now: name the misspelt ones and bad values in the log
     * (the daemon runs on; a setting the engine cannot read keeps its default). */
    if (validate_config(app->cfg, err, sizeof err) != 0)
        outpost_log(OUTPOST_LOG_ERROR, "config", "%s (see outpost check)", err);
    {
        struct outpost_host *sub_host = outpost_core_host_new(app->cfg, "core", "daemon", app->data_dir);
        outpost_store_bind_host(d->s.store, sub_host);
        outpost_store_api_table()->subscribe(sub_host, on_store_event, d, &d->sub);
        outpost_log(OUTPOST_LOG_INFO, LOGC, "%s with cache in %s", once ? "syncing once" : "running", app->data_dir);
        int failures = 0;
        outpost_status st = outpost_ok();
        while (!atomic_load(&d->stop)) {
            if (atomic_exchange(&d->reload, 0))
                do_reload(d);
            int64_t wait;
            if (outpost_engine_auth_failed(d->s.engine) && !atomic_load(&d->sync_requested)) {
                wait = 3600000; /* until the credentials change (SIGHUP) or a sync is requested */
            } else {
                op_mutex_lock(d->cycle_mu);
                atomic_store(&d->sync_requested, 0);
                d->started++;
                op_mutex_unlock(d->cycle_mu);
                st = outpost_engine_sync_once(d->s.engine);
                op_mutex_lock(d->cycle_mu);
                d->cycles++;
                d->last_cycle_code = st.code;
                op_cond_broadcast(d->cycle_cv);
                op_mutex_unlock(d->cycle_mu);
                atomic_store(&d->fts_due, 1);
                d->fts_failed = 0;
                if (st.code == OUTPOST_OK) {
                    failures = 0;
                    wait = interval_ms(app);
                } else {
                    outpost_log(st.code == OUTPOST_TEMP ? OUTPOST_LOG_WARNING : OUTPOST_LOG_ERROR, LOGC,
                                "sync stopped (%s): %s", outpost_status_class_name(st.code),
                                st.message ? st.message : "");
                    wait = st.code == OUTPOST_AUTH ? 3600000 : backoff_ms(failures++, &st);
                }
                if (once)
                    break;
            }
            /* Wait for the interval, a server push, a sync request, or local
             * edits (which replay promptly). */
            int64_t deadline = op_monotonic_ms() + wait;
            while (!atomic_load(&d->stop) && !atomic_load(&d->reload)) {
                run_check_request(d);
                int64_t left = deadline - op_monotonic_ms();
                if (left <= 0)
                    break;
                int64_t fts_retry;
                if (fts_idle_slice(d, &fts_retry)) {
                    /* More to index: a sync request or a local edit to replay goes
                     * first (the pause between slices ends when one comes). */
                    if (atomic_load(&d->sync_requested) || (st.code == OUTPOST_OK && journal_pending(d)))
                        break;
                    int woke = outpost_engine_wait_woken(d->s.engine, FTS_SLICE_PAUSE_MS);
                    if (atomic_load(&d->sync_requested) || (woke && st.code == OUTPOST_OK && journal_pending(d)))
                        break;
                    continue;
                }
                if (left > 60000)
                    left = 60000;
                if (fts_retry && fts_retry < left)
                    left = fts_retry;
                int woke = outpost_engine_wait(d->s.engine, (uint32_t)left);
                /* A server change syncs now, unless the last cycle failed (its backoff holds). */
                if (atomic_load(&d->sync_requested) || ((woke & OUTPOST_WAIT_SERVER) && st.code == OUTPOST_OK) ||
                    (woke && st.code == OUTPOST_OK && journal_pending(d)))
                    break;
                if (woke && st.code == OUTPOST_OK && !journal_pending(d) && outpost_engine_online(d->s.engine))
                    continue;
            }
        }
        rc = once ? (st.code == OUTPOST_OK ? 0 : 1) : 0;
        outpost_store_api_table()->unsubscribe(sub_host, d->sub);
        outpost_core_host_free(sub_host);
    }
    outpost_log(OUTPOST_LOG_INFO, LOGC, "stopping");
out:
    /* The fetch worker first: a client waiting for a body fetched on demand gets its
     * answer (offline) at once instead of holding up the front-end's stop for up to
     * [imap] content_timeout; a transfer in flight is abandoned (the engine cancelled
     * the transport when the stop signal came). */
    if (d->s.engine)
        outpost_engine_stop_worker(d->s.engine);
    stop_frontends(d);
    stop_control(d);
    signal_engine(d, NULL);
    outpost_session_close(&d->s);
    op_signals_stop();
    op_mutex_free(d->sig_mu);
    if (d->cycle_mu) {
        op_mutex_free(d->cycle_mu);
        op_cond_free(d->cycle_cv);
    }
    for (int i = 0; i < d->nold; i++)
        outpost_config_free(d->old_cfgs[i]);
    free(d);
    return rc;
}

/* ---- client side ---- */

json_t *outpost_control_request(struct outpost_app *app, const char *request, char *err, size_t errlen)
{
    char *path = outpost_data_path(app, "control.sock");
    if (!path) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    op_socket s = op_local_connect(path, err, errlen);
    free(path);
    if (s == OP_BAD_SOCKET)
        return NULL;
    op_send(s, request, strlen(request));
    op_send(s, "\n", 1);
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    for (long r; buf && (r = op_recv(s, buf + n, cap - n - 1)) > 0;) {
        n += (size_t)r;
        if (n + 1 == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
    }
    op_close_socket(s);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    buf[n] = '\0';
    json_error_t je;
    json_t *j = json_loads(buf, 0, &je);
    free(buf);
    if (!j)
        snprintf(err, errlen, "unreadable reply from the daemon: %s", je.text);
    return j;
}
