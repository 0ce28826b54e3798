/* test_host.c — the core's host table for tests, plugin loading, scratch directories (see
 * test_host.h). */
#include "test_host.h"

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "host.h"
#include "loader.h"

#ifndef OUTPOST_TEST_PLUGIN_DIR
#define OUTPOST_TEST_PLUGIN_DIR "."
#endif

#define TEST_HOST_MAX_KEYS 32
#define TEST_HOST_MAX_CONFIGS 64

struct test_host {
    /* First: the table the plugin sees, a copy of the core's with log, vlog and secret
     * wrapped. The core's functions find their state through host.core, so the copy
     * behaves as the original. */
    struct outpost_host host;
    struct outpost_host *core;  /* what outpost_core_host_new returned */
    char *section;
    char *data_dir;
    char *keys[TEST_HOST_MAX_KEYS];
    char *values[TEST_HOST_MAX_KEYS];
    /* Every config built so far: the newest is current, older ones stay alive because a
     * plugin may still hold strings that config_get returned from them. */
    struct outpost_config *configs[TEST_HOST_MAX_CONFIGS];
    int nconfigs;
    pthread_mutex_t log_lock;   /* plugins may log from several threads */
    char log[16384];            /* every log line, newline separated (truncated) */
    int secret_calls;
};

static struct test_host *of(const struct outpost_host *h)
{
    return (struct test_host *)(void *)h;
}

static void th_vlog(const struct outpost_host *h, int level, const char *fmt, va_list ap)
{
    struct test_host *th = of(h);
    va_list copy;
    va_copy(copy, ap);
    char line[1024];
    vsnprintf(line, sizeof line, fmt, copy);
    va_end(copy);
    pthread_mutex_lock(&th->log_lock);
    size_t used = strlen(th->log);
    snprintf(th->log + used, sizeof th->log - used, "%s\n", line);
    pthread_mutex_unlock(&th->log_lock);
    if (level <= OUTPOST_LOG_WARNING || getenv("OUTPOST_TEST_VERBOSE"))
        th->core->vlog(th->core, level, fmt, ap);
}

static void th_log(const struct outpost_host *h, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    th_vlog(h, level, fmt, ap);
    va_end(ap);
}

static outpost_status th_secret(const struct outpost_host *h, const char *prefix, char **out)
{
    struct test_host *th = of(h);
    th->secret_calls++;
    return th->core->secret(th->core, prefix, out);
}

/* Builds a config from the current keys and points the host at it. */
static int rebuild_config(struct test_host *th)
{
    if (th->nconfigs == TEST_HOST_MAX_CONFIGS) {
        fprintf(stderr, "test_host: more than %d config changes\n", TEST_HOST_MAX_CONFIGS);
        return -1;
    }
    struct outpost_config *cfg = outpost_config_new("test.ini");
    if (!cfg)
        return -1;
    outpost_config_declare_core(cfg);
    for (int i = 0; i < TEST_HOST_MAX_KEYS; i++)
        if (th->keys[i] && outpost_config_set(cfg, th->section, th->keys[i], th->values[i]) != 0) {
            outpost_config_free(cfg);
            return -1;
        }
    th->configs[th->nconfigs++] = cfg;
    if (th->core)
        outpost_core_host_set_config(th->core, cfg);
    return 0;
}

void test_host_set(struct test_host *th, const char *key, const char *value)
{
    int free_slot = -1;
    for (int i = 0; i < TEST_HOST_MAX_KEYS; i++) {
        if (th->keys[i] && strcmp(th->keys[i], key) == 0) {
            free(th->values[i]);
            th->values[i] = NULL;
            if (value) {
                th->values[i] = strdup(value);
            } else {
                free(th->keys[i]);
                th->keys[i] = NULL;
            }
            rebuild_config(th);
            return;
        }
        if (!th->keys[i] && free_slot < 0)
            free_slot = i;
    }
    if (value && free_slot >= 0) {
        th->keys[free_slot] = strdup(key);
        th->values[free_slot] = strdup(value);
        rebuild_config(th);
    }
}

void test_host_set_secret(struct test_host *th, const char *prefix, const char *value)
{
    char key[128], path[4096];
    snprintf(key, sizeof key, "%s_file", prefix);
    if (!value) {
        test_host_set(th, key, NULL);
        return;
    }
    snprintf(path, sizeof path, "%s/%s-%s", th->data_dir, th->section, prefix);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    size_t len = strlen(value);
    if (fd < 0 || write(fd, value, len) != (ssize_t)len || fchmod(fd, 0600) != 0)
        fprintf(stderr, "test_host: cannot write %s\n", path);
    if (fd >= 0)
        close(fd);
    test_host_set(th, key, path);
}

struct test_host *test_host_new(const char *section, const char *data_dir, const char *const *config)
{
    struct test_host *th = calloc(1, sizeof *th);
    if (!th)
        return NULL;
    pthread_mutex_init(&th->log_lock, NULL);
    th->section = strdup(section);
    th->data_dir = strdup(data_dir ? data_dir : ".");
    /* Without explicit settings, [storage] takes "key=value ..." from
     * $OUTPOST_TEST_STORAGE_CONFIG (to run a suite or the bench in another mode). */
    char envbuf[512], *envcfg[TEST_HOST_MAX_KEYS + 1] = { NULL };
    const char *ev = getenv("OUTPOST_TEST_STORAGE_CONFIG");
    if (!config && ev && *ev && !strcmp(section, "storage")) {
        snprintf(envbuf, sizeof envbuf, "%s", ev);
        int n = 0;
        for (char *save = NULL, *kv = strtok_r(envbuf, " ", &save); kv && n < TEST_HOST_MAX_KEYS;
             kv = strtok_r(NULL, " ", &save))
            envcfg[n++] = kv;
        config = (const char *const *)envcfg;
    }
    for (int i = 0; config && config[i] && i < TEST_HOST_MAX_KEYS; i++) {
        const char *eq = strchr(config[i], '=');
        if (!eq)
            continue;
        th->keys[i] = strndup(config[i], (size_t)(eq - config[i]));
        th->values[i] = strdup(eq + 1);
    }
    if (!th->section || !th->data_dir || rebuild_config(th) != 0 ||
        !(th->core = outpost_core_host_new(th->configs[0], section, section, th->data_dir))) {
        test_host_free(th);
        return NULL;
    }
    th->host = *th->core;
    th->host.log = th_log;
    th->host.vlog = th_vlog;
    th->host.secret = th_secret;
    return th;
}

const struct outpost_host *test_host_table(struct test_host *th)
{
    return &th->host;
}

void test_host_cancel(struct test_host *th, int cancelled)
{
    outpost_core_host_cancel(th->core, cancelled);
}

int test_host_logged(const struct test_host *th, const char *s)
{
    return strstr(th->log, s) != NULL;
}

int test_host_secret_calls(const struct test_host *th)
{
    return th->secret_calls;
}

void test_host_reset_secret_calls(struct test_host *th)
{
    th->secret_calls = 0;
}

void test_host_free(struct test_host *th)
{
    if (!th)
        return;
    outpost_core_host_free(th->core);
    for (int i = 0; i < th->nconfigs; i++)
        outpost_config_free(th->configs[i]);
    for (int i = 0; i < TEST_HOST_MAX_KEYS; i++) {
        free(th->keys[i]);
        free(th->values[i]);
    }
    free(th->section);
    free(th->data_dir);
    pthread_mutex_destroy(&th->log_lock);
    free(th);
}

struct outpost_loaded_plugin *test_plugin_load(const char *name, uint32_t kind, const struct outpost_host *host)
{
    char err[1024];
    outpost_loaded_plugin *lp = NULL;
    int rc;
    if (strchr(name, '/')) {
        rc = outpost_loader_open(name, kind, NULL, &lp, err, sizeof err);
    } else {
        const char *dir = getenv("OUTPOST_PLUGIN_DIR");
        rc = outpost_loader_load(dir && *dir ? dir : OUTPOST_TEST_PLUGIN_DIR, kind, name, &lp, err, sizeof err);
    }
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        return NULL;
    }
    if (outpost_loader_module_init(lp, host, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        outpost_loader_unload(lp);
        return NULL;
    }
    return lp;
}

int test_storage_load(const char *name, struct test_storage_plugin *p)
{
    memset(p, 0, sizeof *p);
    /* module_init uses the host only for logging; none is needed here */
    outpost_loaded_plugin *lp = test_plugin_load(name, OUTPOST_KIND_STORAGE, NULL);
    if (!lp)
        return -1;
    p->handle = lp;
    p->plugin = lp->desc;
    p->m = lp->methods;
    snprintf(p->path, sizeof p->path, "%s", lp->path);
    return 0;
}

void test_storage_unload(struct test_storage_plugin *p)
{
    if (!p->handle)
        return;
    outpost_loader_unload(p->handle);
    p->handle = NULL;
}

char *test_mkdtemp(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char *path = malloc(4096);
    if (!path)
        return NULL;
    snprintf(path, 4096, "%s/outpost-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp(path)) {
        free(path);
        return NULL;
    }
    return path;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void test_rmtree(const char *dir)
{
    if (dir)
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
