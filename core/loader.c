/* core/loader.c — plugin discovery and validation (see loader.h). */
#include "loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <outpost/frontend.h>
#include <outpost/storage.h>
#include <outpost/transport.h>

#include "platform/platform.h"

#ifndef OUTPOST_PLUGIN_INSTALL_DIR
#define OUTPOST_PLUGIN_INSTALL_DIR "/usr/local/lib/outpost/plugins"
#endif

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *r = malloc(n);
    if (r)
        memcpy(r, s, n);
    return r;
}

static char *join_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *r = malloc(n);
    if (r)
        snprintf(r, n, "%s%c%s", dir, op_path_sep(), name);
    return r;
}

static char *dirname_of(const char *path)
{
    char *d = xstrdup(path);
    if (!d)
        return NULL;
    char *s = strrchr(d, '/');
#ifdef _WIN32
    char *b = strrchr(d, '\\');
    if (!s || (b && b > s))
        s = b;
#endif
    if (!s)
        strcpy(d, ".");
    else if (s == d)
        s[1] = '\0';
    else
        *s = '\0';
    return d;
}

/* Calls fn(dir) for each non-empty entry of a list; stops when fn returns non-zero. */
static int for_each_dir(const char *dirs, int (*fn)(void *ctx, const char *dir), void *ctx)
{
    const char sep = op_path_list_sep();
    const char *p = dirs ? dirs : "";
    while (*p) {
        const char *e = strchr(p, sep);
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n > 0) {
            char *d = malloc(n + 1);
            if (!d)
                return -1;
            memcpy(d, p, n);
            d[n] = '\0';
            int rc = fn(ctx, d);
            free(d);
            if (rc)
                return rc;
        }
        p += n;
        if (*p)
            p++;
    }
    return 0;
}

char *outpost_loader_default_dirs(void)
{
    const char *install = OUTPOST_PLUGIN_INSTALL_DIR;
#if defined(OUTPOST_BUILD_PLUGIN_DIR) && defined(OUTPOST_BUILD_ROOT)
    char *self = op_self_exe();
    if (self && strncmp(self, OUTPOST_BUILD_ROOT "/", strlen(OUTPOST_BUILD_ROOT) + 1) == 0) {
        size_t n = strlen(install) + strlen(OUTPOST_BUILD_PLUGIN_DIR) + 2;
        char *r = malloc(n);
        if (r)
            snprintf(r, n, "%s%c%s", OUTPOST_BUILD_PLUGIN_DIR, op_path_list_sep(), install);
        free(self);
        return r;
    }
    free(self);
#endif
    return xstrdup(install);
}

static void plugin_file_name(uint32_t kind, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "outpost-%s-%s%s", outpost_kind_name(kind), name, op_dl_suffix());
}

struct find_ctx {
    const char *file;
    char *found;
};

static int find_in_dir(void *vctx, const char *dir)
{
    struct find_ctx *f = vctx;
    char *p = join_path(dir, f->file);
    if (p && op_is_file(p)) {
        f->found = p;
        return 1;
    }
    free(p);
    return 0;
}

int outpost_loader_find(const char *dirs, uint32_t kind, const char *name, char **path, char *err,
                        size_t errlen)
{
    char file[512];
    if (!*name || strpbrk(name, "/\\")) {
        snprintf(err, errlen, "invalid %s plugin name '%s'", outpost_kind_name(kind), name);
        return -1;
    }
    plugin_file_name(kind, name, file, sizeof file);
    struct find_ctx f = { file, NULL };
    for_each_dir(dirs, find_in_dir, &f);
    if (f.found) {
        *path = f.found;
        return 0;
    }
    snprintf(err, errlen, "no %s plugin '%s': %s not found in %s", outpost_kind_name(kind), name, file,
             dirs && *dirs ? dirs : "(empty plugin_dir)");
    return -1;
}

size_t outpost_loader_min_table_size(uint32_t kind)
{
    switch (kind) {
    case OUTPOST_KIND_STORAGE: return OUTPOST_STORAGE_METHODS_V1_0_SIZE;
    case OUTPOST_KIND_TRANSPORT: return OUTPOST_TRANSPORT_METHODS_V1_0_SIZE;
    case OUTPOST_KIND_FRONTEND: return OUTPOST_FRONTEND_METHODS_V1_0_SIZE;
    default: return 0;
    }
}

/* The descriptor's 1.0 size: everything up to and including `methods`. */
#define DESCRIPTOR_V1_0_SIZE (offsetof(struct outpost_plugin, methods) + sizeof(void *))

int outpost_loader_open(const char *path, uint32_t expected_kind, const char *expected_name,
                        outpost_loaded_plugin **out, char *err, size_t errlen)
{
    char why[512];
    *out = NULL;
    if (!op_is_file(path)) {
        snprintf(err, errlen, "plugin file %s not found", path);
        return -1;
    }
    char *dir = dirname_of(path);
    if (!dir) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (op_check_not_shared_writable(dir, why, sizeof why) != 0 ||
        op_check_not_shared_writable(path, why, sizeof why) != 0) {
        snprintf(err, errlen, "refusing plugin %s: %s", path, why);
        free(dir);
        return -1;
    }
    free(dir);

    op_dl *dl = op_dl_open(path, why, sizeof why);
    if (!dl) {
        snprintf(err, errlen, "cannot load plugin %s: %s", path, why);
        return -1;
    }
    outpost_plugin_entry_fn entry;
    void *sym = op_dl_sym(dl, OUTPOST_PLUGIN_ENTRY_NAME);
    memcpy(&entry, &sym, sizeof entry);
    if (!sym) {
        snprintf(err, errlen, "refusing %s: not an Outpost plugin (no %s symbol)", path,
                 OUTPOST_PLUGIN_ENTRY_NAME);
        op_dl_close(dl);
        return -1;
    }
    const struct outpost_plugin *d = entry();
    if (!d || d->struct_size < DESCRIPTOR_V1_0_SIZE) {
        snprintf(err, errlen, "refusing %s: plugin descriptor is %s (%u bytes, ABI 1.0 needs %u)", path,
                 d ? "too small" : "missing", d ? (unsigned)d->struct_size : 0u,
                 (unsigned)DESCRIPTOR_V1_0_SIZE);
        op_dl_close(dl);
        return -1;
    }
    const char *pname = d->name ? d->name : "(unnamed)";
    if (d->abi_major != OUTPOST_ABI_MAJOR) {
        snprintf(err, errlen,
                 "refusing %s: plugin '%s' %s is built for ABI %u.%u, the core has ABI %d.%d "
                 "(major versions differ; rebuild the plugin against this SDK)",
                 path, pname, d->version ? d->version : "", d->abi_major, d->abi_minor, OUTPOST_ABI_MAJOR,
                 OUTPOST_ABI_MINOR);
        op_dl_close(dl);
        return -1;
    }
    if (d->abi_minor > OUTPOST_ABI_MINOR) {
        snprintf(err, errlen,
                 "refusing %s: plugin '%s' %s needs ABI %u.%u, newer than the core's ABI %d.%d "
                 "(upgrade Outpost)",
                 path, pname, d->version ? d->version : "", d->abi_major, d->abi_minor, OUTPOST_ABI_MAJOR,
                 OUTPOST_ABI_MINOR);
        op_dl_close(dl);
        return -1;
    }
    size_t min = outpost_loader_min_table_size(d->kind);
    if (min == 0) {
        snprintf(err, errlen, "refusing %s: plugin '%s' has unknown kind %u", path, pname, d->kind);
        op_dl_close(dl);
        return -1;
    }
    if (expected_kind && d->kind != expected_kind) {
        snprintf(err, errlen, "refusing %s: plugin '%s' is a %s plugin, expected a %s plugin", path, pname,
                 outpost_kind_name(d->kind), outpost_kind_name(expected_kind));
        op_dl_close(dl);
        return -1;
    }
    if (expected_name && (!d->name || strcmp(d->name, expected_name) != 0)) {
        snprintf(err, errlen, "refusing %s: plugin calls itself '%s', expected '%s'", path, pname,
                 expected_name);
        op_dl_close(dl);
        return -1;
    }
    const uint32_t *table = d->methods;
    if (!table || *table < min) {
        snprintf(err, errlen,
                 "refusing %s: plugin '%s' (ABI %u.%u) has a %s method table of %u bytes, "
                 "ABI 1.0 requires at least %u",
                 path, pname, d->abi_major, d->abi_minor, outpost_kind_name(d->kind),
                 table ? (unsigned)*table : 0u, (unsigned)min);
        op_dl_close(dl);
        return -1;
    }
    outpost_loaded_plugin *p = calloc(1, sizeof *p);
    if (!p || !(p->path = xstrdup(path))) {
        free(p);
        op_dl_close(dl);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->desc = d;
    p->methods = table;
    p->dl = dl;
    *out = p;
    return 0;
}

int outpost_loader_load(const char *dirs, uint32_t kind, const char *name, outpost_loaded_plugin **out,
                        char *err, size_t errlen)
{
    char *path = NULL;
    *out = NULL;
    if (outpost_loader_find(dirs, kind, name, &path, err, errlen) != 0)
        return -1;
    int rc = outpost_loader_open(path, kind, name, out, err, errlen);
    free(path);
    return rc;
}

int outpost_loader_module_init(outpost_loaded_plugin *p, const struct outpost_host *host, char *err,
                               size_t errlen)
{
    if (p->module_initialised || !p->desc->module_init) {
        p->module_initialised = 1;
        return 0;
    }
    outpost_status st = p->desc->module_init(host);
    if (st.code != OUTPOST_OK) {
        snprintf(err, errlen, "plugin '%s' (%s) failed to initialise: %s", p->desc->name, p->path,
                 st.message ? st.message : outpost_status_class_name(st.code));
        return -1;
    }
    p->module_initialised = 1;
    return 0;
}

void outpost_loader_unload(outpost_loaded_plugin *p)
{
    if (!p)
        return;
    if (p->module_initialised && p->desc->module_init && p->desc->module_fini)
        p->desc->module_fini();
    op_dl_close(p->dl);
    free(p->path);
    free(p);
}

struct scan_ctx {
    const char *dir;
    outpost_scan_fn fn;
    void *ctx;
};

static int scan_entry(void *vctx, const char *name)
{
    struct scan_ctx *s = vctx;
    const char *suffix = op_dl_suffix();
    size_t n = strlen(name), sl = strlen(suffix);
    if (strncmp(name, "outpost-", 8) != 0 || n <= sl + 8 || strcmp(name + n - sl, suffix) != 0)
        return 0;
    char *path = join_path(s->dir, name);
    if (!path)
        return 0;
    outpost_loaded_plugin *p = NULL;
    char err[1024] = "";
    outpost_loader_open(path, 0, NULL, &p, err, sizeof err);
    s->fn(s->ctx, path, p, p ? NULL : err);
    outpost_loader_unload(p);
    free(path);
    return 0;
}

static int scan_dir(void *vctx, const char *dir)
{
    struct scan_ctx *s = vctx;
    if (op_is_dir(dir)) {
        s->dir = dir;
        op_list_dir(dir, scan_entry, s);
    }
    return 0;
}

void outpost_loader_scan(const char *dirs, outpost_scan_fn fn, void *ctx)
{
    struct scan_ctx s = { NULL, fn, ctx };
    for_each_dir(dirs, scan_dir, &s);
}
