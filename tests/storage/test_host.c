/* test_host.c — test host table and storage plugin loader (see test_host.h). */
#include "test_host.h"

#include "loader.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef OUTPOST_TEST_PLUGIN_DIR
#define OUTPOST_TEST_PLUGIN_DIR "."
#endif

#define TEST_HOST_MAX_KEYS 32

struct test_host {
    struct outpost_host host; /* first: the table the plugin sees */
    char *data_dir;
    char *keys[TEST_HOST_MAX_KEYS];
    char *values[TEST_HOST_MAX_KEYS];
};

static struct test_host *of(const struct outpost_host *h)
{
    return (struct test_host *)(void *)h;
}

static void th_vlog(const struct outpost_host *h, int level, const char *fmt, va_list ap)
{
    (void)h;
    static const char *const names[] = { "", "", "", "error", "warning", "notice", "info", "debug" };
    if (level >= OUTPOST_LOG_INFO && !getenv("OUTPOST_TEST_VERBOSE"))
        return;
    fprintf(stderr, "[storage %s] ", level >= 3 && level <= 7 ? names[level] : "?");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

static void th_log(const struct outpost_host *h, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    th_vlog(h, level, fmt, ap);
    va_end(ap);
}

static const char *th_config_get(const struct outpost_host *h, const char *key)
{
    struct test_host *th = of(h);
    for (int i = 0; i < TEST_HOST_MAX_KEYS; i++)
        if (th->keys[i] && strcmp(th->keys[i], key) == 0)
            return th->values[i];
    return NULL;
}

static const char *th_config_get_in(const struct outpost_host *h, const char *section, const char *key)
{
    return strcmp(section, "storage") == 0 ? th_config_get(h, key) : NULL;
}

static int64_t th_config_int(const struct outpost_host *h, const char *key, int64_t def)
{
    const char *v = th_config_get(h, key);
    return v ? strtoll(v, NULL, 10) : def;
}

static int th_config_bool(const struct outpost_host *h, const char *key, int def)
{
    const char *v = th_config_get(h, key);
    if (!v)
        return def;
    return strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "on") == 0 || strcmp(v, "1") == 0;
}

static outpost_status th_secret(const struct outpost_host *h, const char *prefix, char **out)
{
    (void)h;
    (void)prefix;
    *out = NULL;
    outpost_status st = { OUTPOST_AUTH, 0, "the test host has no secrets" };
    return st;
}

static const char *th_data_dir(const struct outpost_host *h)
{
    return of(h)->data_dir;
}

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t th_now_ms(const struct outpost_host *h)
{
    (void)h;
    return clock_ms(CLOCK_REALTIME);
}

static int64_t th_monotonic_ms(const struct outpost_host *h)
{
    (void)h;
    return clock_ms(CLOCK_MONOTONIC);
}

static int th_cancelled(const struct outpost_host *h)
{
    (void)h;
    return 0;
}

void test_host_set(struct test_host *th, const char *key, const char *value)
{
    int free_slot = -1;
    for (int i = 0; i < TEST_HOST_MAX_KEYS; i++) {
        if (th->keys[i] && strcmp(th->keys[i], key) == 0) {
            free(th->values[i]);
            if (value) {
                th->values[i] = strdup(value);
            } else {
                free(th->keys[i]);
                th->keys[i] = th->values[i] = NULL;
            }
            return;
        }
        if (!th->keys[i] && free_slot < 0)
            free_slot = i;
    }
    if (value && free_slot >= 0) {
        th->keys[free_slot] = strdup(key);
        th->values[free_slot] = strdup(value);
    }
}

struct test_host *test_host_new(const char *data_dir, const char *const *config)
{
    struct test_host *th = calloc(1, sizeof *th);
    if (!th)
        return NULL;
    th->data_dir = strdup(data_dir ? data_dir : ".");
    struct outpost_host *h = &th->host;
    h->struct_size = sizeof *h;
    h->abi_major = OUTPOST_ABI_MAJOR;
    h->abi_minor = OUTPOST_ABI_MINOR;
    h->log = th_log;
    h->vlog = th_vlog;
    h->config_get = th_config_get;
    h->config_get_in = th_config_get_in;
    h->config_int = th_config_int;
    h->config_bool = th_config_bool;
    h->secret = th_secret;
    h->data_dir = th_data_dir;
    h->now_ms = th_now_ms;
    h->monotonic_ms = th_monotonic_ms;
    h->alloc = malloc;
    h->realloc = realloc;
    h->free = free;
    h->cancelled = th_cancelled;
    for (int i = 0; config && config[i]; i++) {
        const char *eq = strchr(config[i], '=');
        if (!eq)
            continue;
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)(eq - config[i]), config[i]);
        test_host_set(th, key, eq + 1);
    }
    return th;
}

const struct outpost_host *test_host_table(struct test_host *th)
{
    return &th->host;
}

void test_host_free(struct test_host *th)
{
    if (!th)
        return;
    for (int i = 0; i < TEST_HOST_MAX_KEYS; i++) {
        free(th->keys[i]);
        free(th->values[i]);
    }
    free(th->data_dir);
    free(th);
}

int test_storage_load(const char *name, struct test_storage_plugin *p)
{
    memset(p, 0, sizeof *p);
    char err[1024];
    outpost_loaded_plugin *lp = NULL;
    int rc;
    if (strchr(name, '/')) {
        rc = outpost_loader_open(name, OUTPOST_KIND_STORAGE, NULL, &lp, err, sizeof err);
    } else {
        const char *dir = getenv("OUTPOST_PLUGIN_DIR");
        rc = outpost_loader_load(dir && *dir ? dir : OUTPOST_TEST_PLUGIN_DIR, OUTPOST_KIND_STORAGE, name, &lp, err,
                                 sizeof err);
    }
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    /* the host is only used for logging by module_init; none is needed here */
    if (outpost_loader_module_init(lp, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        outpost_loader_unload(lp);
        return -1;
    }
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
