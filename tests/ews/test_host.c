/* test_host.c — see test_host.h. */
#include "test_host.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct test_host *th_of(const struct outpost_host *h) { return (struct test_host *)h; }

static const char *get(const struct outpost_host *h, const char *key)
{
    struct test_host *th = th_of(h);
    for (int i = 0; i < th->nkeys; i++)
        if (!strcmp(th->keys[i], key))
            return th->values[i];
    return NULL;
}

static void h_vlog(const struct outpost_host *h, int level, const char *fmt, va_list ap)
{
    struct test_host *th = th_of(h);
    size_t len = strlen(th->log);
    if (len + 2 >= sizeof th->log)
        return;
    int n = snprintf(th->log + len, sizeof th->log - len, "<%d>", level);
    if (n > 0 && (size_t)n < sizeof th->log - len)
        len += (size_t)n;
    vsnprintf(th->log + len, sizeof th->log - len - 1, fmt, ap);
    len = strlen(th->log);
    if (len + 1 < sizeof th->log) {
        th->log[len] = '\n';
        th->log[len + 1] = '\0';
    }
    if (getenv("EWS_TEST_VERBOSE")) {
        fprintf(stderr, "[plugin] ");
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    }
}

static void h_log(const struct outpost_host *h, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    h_vlog(h, level, fmt, ap);
    va_end(ap);
}

static const char *h_get_in(const struct outpost_host *h, const char *section, const char *key)
{
    return section && !strcmp(section, "account") ? get(h, key) : NULL;
}

static int64_t h_int(const struct outpost_host *h, const char *key, int64_t def)
{
    const char *v = get(h, key);
    return v ? strtoll(v, NULL, 10) : def;
}

static int h_bool(const struct outpost_host *h, const char *key, int def)
{
    const char *v = get(h, key);
    if (!v)
        return def;
    return !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1");
}

static outpost_status h_secret(const struct outpost_host *h, const char *prefix, char **out)
{
    static char msg[] = "no secret configured in the test host";
    th_of(h)->secret_calls++;
    const char *v = get(h, prefix);
    *out = v ? strdup(v) : NULL;
    if (!*out)
        return (outpost_status){OUTPOST_AUTH, 0, msg};
    return outpost_ok();
}

static const char *h_data_dir(const struct outpost_host *h)
{
    (void)h;
    return "/tmp";
}

static int64_t h_now(const struct outpost_host *h)
{
    (void)h;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t h_mono(const struct outpost_host *h)
{
    (void)h;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int h_cancelled(const struct outpost_host *h) { return th_of(h)->cancel; }

void test_host_init(struct test_host *th)
{
    memset(th, 0, sizeof *th);
    struct outpost_host *h = &th->host;
    h->struct_size = sizeof *h;
    h->abi_major = OUTPOST_ABI_MAJOR;
    h->abi_minor = OUTPOST_ABI_MINOR;
    h->log = h_log;
    h->vlog = h_vlog;
    h->config_get = get;
    h->config_get_in = h_get_in;
    h->config_int = h_int;
    h->config_bool = h_bool;
    h->secret = h_secret;
    h->data_dir = h_data_dir;
    h->now_ms = h_now;
    h->monotonic_ms = h_mono;
    h->alloc = malloc;
    h->realloc = realloc;
    h->free = free;
    h->cancelled = h_cancelled;
}

void test_host_free(struct test_host *th)
{
    for (int i = 0; i < th->nkeys; i++)
        free(th->values[i]);
    th->nkeys = 0;
}

void test_host_set(struct test_host *th, const char *key, const char *value)
{
    for (int i = 0; i < th->nkeys; i++)
        if (!strcmp(th->keys[i], key)) {
            free(th->values[i]);
            if (value) {
                th->values[i] = strdup(value);
            } else {
                th->keys[i] = th->keys[th->nkeys - 1];
                th->values[i] = th->values[--th->nkeys];
            }
            return;
        }
    if (value && th->nkeys < TEST_HOST_MAX_KEYS) {
        th->keys[th->nkeys] = key;
        th->values[th->nkeys++] = strdup(value);
    }
}

int test_host_logged(const struct test_host *th, const char *s)
{
    return strstr(th->log, s) != NULL;
}
