/* core/host.c — the host table given to each plugin instance (see host.h). */
#include "host.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "platform/platform.h"

struct core_host {
    struct outpost_host pub;        /* must be first */
    const struct outpost_config *cfg;
    char *section;
    char *component;
    char *data_dir;
    atomic_int cancelled;
    char msg[512];                  /* message of the last failed secret() */
    void *store_ctx;                /* the core store behind h->store (front-ends) */
};

static struct core_host *ch(const struct outpost_host *h) { return (struct core_host *)h->core; }

static void h_vlog(const struct outpost_host *h, int level, const char *fmt, va_list ap)
{
    outpost_vlog(level, ch(h)->component, fmt, ap);
}

static void h_log(const struct outpost_host *h, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    h_vlog(h, level, fmt, ap);
    va_end(ap);
}

static const char *h_config_get(const struct outpost_host *h, const char *key)
{
    return outpost_config_get(ch(h)->cfg, ch(h)->section, key);
}

static const char *h_config_get_in(const struct outpost_host *h, const char *section, const char *key)
{
    return outpost_config_get(ch(h)->cfg, section, key);
}

static int64_t h_config_int(const struct outpost_host *h, const char *key, int64_t def)
{
    const char *v = h_config_get(h, key);
    long long n;
    return v && outpost_config_parse_int(v, &n) == 0 ? (int64_t)n : def;
}

static int h_config_bool(const struct outpost_host *h, const char *key, int def)
{
    const char *v = h_config_get(h, key);
    int b;
    return v && outpost_config_parse_bool(v, &b) == 0 ? b : def;
}

outpost_status outpost_core_secret(const struct outpost_config *cfg, const char *section, const char *prefix,
                                   char **out, char *msg, size_t msglen)
{
    outpost_status st = { OUTPOST_AUTH, 0, msg };
    char key[128], why[512];
    *out = NULL;
    snprintf(key, sizeof key, "%s_file", prefix);
    const char *file = outpost_config_get(cfg, section, key);
    if (file && *file) {
        if (op_check_private_file(file, why, sizeof why) != 0) {
            snprintf(msg, msglen, "[%s] %s: %s", section, key, why);
            return st;
        }
        FILE *f = fopen(file, "r");
        char buf[4096];
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        if (!f) {
            snprintf(msg, msglen, "[%s] %s: cannot read %s", section, key, file);
            return st;
        }
        buf[n] = '\0';
        buf[strcspn(buf, "\r\n")] = '\0';
        if (!(*out = strdup(buf))) {
            snprintf(msg, msglen, "out of memory");
            return st;
        }
        return outpost_ok();
    }
    snprintf(key, sizeof key, "%s_cmd", prefix);
    const char *cmd = outpost_config_get(cfg, section, key);
    if (cmd && *cmd) {
        char *line = op_run_capture_line(cmd, why, sizeof why);
        if (!line) {
            snprintf(msg, msglen, "[%s] %s failed: %s", section, key, why);
            return st;
        }
        *out = line;
        return outpost_ok();
    }
    snprintf(msg, msglen, "no secret configured: set %s_file or %s_cmd in [%s]", prefix, prefix, section);
    return st;
}

static outpost_status h_secret(const struct outpost_host *h, const char *prefix, char **out)
{
    return outpost_core_secret(ch(h)->cfg, ch(h)->section, prefix, out, ch(h)->msg, sizeof ch(h)->msg);
}

static const char *h_data_dir(const struct outpost_host *h) { return ch(h)->data_dir; }
static int64_t h_now(const struct outpost_host *h) { (void)h; return op_now_ms(); }
static int64_t h_mono(const struct outpost_host *h) { (void)h; return op_monotonic_ms(); }
static int h_cancelled(const struct outpost_host *h) { return atomic_load(&ch(h)->cancelled); }

struct outpost_host *outpost_core_host_new(const struct outpost_config *cfg, const char *section,
                                           const char *component, const char *data_dir)
{
    struct core_host *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->cfg = cfg;
    c->section = strdup(section ? section : "");
    c->component = strdup(component ? component : section ? section : "plugin");
    c->data_dir = strdup(data_dir ? data_dir : ".");
    if (!c->section || !c->component || !c->data_dir) {
        outpost_core_host_free(&c->pub);
        return NULL;
    }
    atomic_init(&c->cancelled, 0);
    struct outpost_host *h = &c->pub;
    h->struct_size = sizeof *h;
    h->abi_major = OUTPOST_ABI_MAJOR;
    h->abi_minor = OUTPOST_ABI_MINOR;
    h->core = c;
    h->log = h_log;
    h->vlog = h_vlog;
    h->config_get = h_config_get;
    h->config_get_in = h_config_get_in;
    h->config_int = h_config_int;
    h->config_bool = h_config_bool;
    h->secret = h_secret;
    h->data_dir = h_data_dir;
    h->now_ms = h_now;
    h->monotonic_ms = h_mono;
    h->alloc = malloc;
    h->realloc = realloc;
    h->free = free;
    h->cancelled = h_cancelled;
    h->store = NULL;
    return h;
}

void outpost_core_host_free(struct outpost_host *h)
{
    if (!h)
        return;
    struct core_host *c = (struct core_host *)h;
    free(c->section);
    free(c->component);
    free(c->data_dir);
    free(c);
}

void outpost_core_host_cancel(struct outpost_host *h, int cancelled) { atomic_store(&ch(h)->cancelled, cancelled); }

void outpost_core_host_set_store(struct outpost_host *h, const struct outpost_store_api *store) { h->store = store; }

void outpost_core_host_set_config(struct outpost_host *h, const struct outpost_config *cfg) { ch(h)->cfg = cfg; }

void outpost_core_host_set_store_ctx(struct outpost_host *h, void *ctx) { ch(h)->store_ctx = ctx; }

void *outpost_core_host_store_ctx(const struct outpost_host *h) { return ch(h)->store_ctx; }
