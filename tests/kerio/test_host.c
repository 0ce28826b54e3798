/* test_host.c — the test host table (see test_host.h). */
#include "test_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static struct test_host *self(const struct outpost_host *h)
{
    return (struct test_host *)h;
}

static void th_vlog(const struct outpost_host *h, int level, const char *fmt, va_list ap)
{
    struct test_host *th = self(h);
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t used = strlen(th->log);
    snprintf(th->log + used, sizeof th->log - used, "%s\n", line);
    if (getenv("OUTPOST_TEST_VERBOSE"))
        fprintf(stderr, "<%d>%s\n", level, line);
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
    struct test_host *th = self(h);
    for (int i = 0; i < th->nkeys; i++)
        if (strcmp(th->keys[i], key) == 0)
            return th->values[i];
    return NULL;
}

static const char *th_config_get_in(const struct outpost_host *h, const char *section, const char *key)
{
    return strcmp(section, "account") == 0 ? th_config_get(h, key) : NULL;
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
    return !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on") || !strcmp(v, "1");
}

static outpost_status th_secret(const struct outpost_host *h, const char *prefix, char **out)
{
    struct test_host *th = self(h);
    (void)prefix;
    if (!th->password) {
        outpost_status s = { OUTPOST_AUTH, 0, "no password_file or password_cmd in [account]" };
        return s;
    }
    *out = strdup(th->password);
    return outpost_ok();
}

static const char *th_data_dir(const struct outpost_host *h)
{
    (void)h;
    return ".";
}

static int64_t th_now_ms(const struct outpost_host *h)
{
    (void)h;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t th_mono_ms(const struct outpost_host *h)
{
    (void)h;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int th_cancelled(const struct outpost_host *h)
{
    return self(h)->cancel;
}

void test_host_init(struct test_host *th)
{
    memset(th, 0, sizeof *th);
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
    h->monotonic_ms = th_mono_ms;
    h->alloc = malloc;
    h->realloc = realloc;
    h->free = free;
    h->cancelled = th_cancelled;
}

void test_host_set(struct test_host *th, const char *key, const char *value)
{
    for (int i = 0; i < th->nkeys; i++)
        if (strcmp(th->keys[i], key) == 0) {
            th->values[i] = value;
            return;
        }
    if (th->nkeys < TEST_HOST_MAX_KEYS) {
        th->keys[th->nkeys] = key;
        th->values[th->nkeys++] = value;
    }
}

int test_host_logged(const struct test_host *th, const char *s)
{
    return strstr(th->log, s) != NULL;
}
