/* frontends/mapi/mapi_plugin.c — outpost-frontend-mapi: the plugin
 * descriptor and front-end methods. It serves Outlook's provider DLL
 * (frontends/mapi/win32) over loopback TCP with a per-user secret. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>
#include <outpost/frontend.h>

#include "mapi_server.h"

struct outpost_frontend {
    const struct outpost_host *host;
    char host_addr[64];
    uint16_t port;
    char *secret_path, *id_path, *names_path;
    mapi_names *names;
    mapi_core core;
    int core_ready;
    mapi_server *srv;
    char msg[512];
};

static const outpost_config_key KEYS[] = {
    { "listen", OUTPOST_CFG_STRING, 0, "127.0.0.1:6144", NULL,
      "address:port the Outlook provider connects to (loopback only)" },
    { "secret_file", OUTPOST_CFG_PATH, 0, NULL, NULL,
      "file holding the per-user secret (default <data_dir>/mapi.secret, made on first start)" },
    { "display_name", OUTPOST_CFG_STRING, 0, "Outpost", NULL, "the store's name in Outlook's folder list" },
    { NULL, 0, 0, NULL, NULL, NULL }
};

static outpost_status fail(struct outpost_frontend *f, int32_t code, const char *fmt, const char *arg)
{
    snprintf(f->msg, sizeof f->msg, fmt, arg);
    outpost_status s = { code, 0, f->msg };
    return s;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void destroy(struct outpost_frontend *f)
{
    if (!f)
        return;
    if (f->srv)
        mapi_server_stop(f->srv);
    if (f->core_ready)
        mapi_core_free(&f->core);
    mapi_names_close(f->names);
    free(f->secret_path);
    free(f->id_path);
    free(f->names_path);
    free(f);
}

static outpost_status create(const struct outpost_host *host, struct outpost_frontend **out)
{
    static char msg[256];
    *out = NULL;
    struct outpost_frontend *f = calloc(1, sizeof *f);
    if (!f) {
        outpost_status s = { OUTPOST_FATAL, 0, "out of memory" };
        return s;
    }
    f->host = host;
    const char *listen = host->config_get(host, "listen");
    if (!listen)
        listen = "127.0.0.1:6144";
    if (mapi_parse_listen(listen, f->host_addr, sizeof f->host_addr, &f->port) != 0 ||
        (strcmp(f->host_addr, "127.0.0.1") != 0 && strcmp(f->host_addr, "localhost") != 0)) {
        snprintf(msg, sizeof msg,
                 "[mapi] listen = %s: must be 127.0.0.1:<port> (the provider and outpostd share a machine; "
                 "WSL2 forwards loopback)", listen);
        free(f);
        outpost_status s = { OUTPOST_BAD_DATA, 0, msg };
        return s;
    }
    if (!strcmp(f->host_addr, "localhost"))
        strcpy(f->host_addr, "127.0.0.1");
    const char *dd = host->data_dir(host);
    const char *sp = host->config_get(host, "secret_file");
    f->secret_path = sp ? strdup(sp) : join(dd, "mapi.secret");
    f->id_path = join(dd, "mapi.store-id");
    f->names_path = join(dd, "mapi-names");
    if (!f->secret_path || !f->id_path || !f->names_path) {
        destroy(f);
        outpost_status s = { OUTPOST_FATAL, 0, "out of memory" };
        return s;
    }
    *out = f;
    return outpost_ok();
}

/* ---- the store GUID and the named-property map, kept in the cache ---- */

/* The store API can write meta (appended after ABI 1.0): then the GUID and
 * the name map live in the cache (keys mapi.store-guid, mapi.names) and go
 * wherever the cache goes; files in the data directory are only read once,
 * to carry over what an older version made. */
static int has_meta(const struct outpost_host *h)
{
    return OUTPOST_HAS_METHOD(h->store, struct outpost_store_api, meta_set);
}

/* 0 found (*out malloc'd), 1 absent, -1 error. */
static int meta_read(const struct outpost_host *h, const char *key, char **out, size_t *len)
{
    struct outpost_txn *t;
    if (h->store->read_begin(h, &t).code != OUTPOST_OK)
        return -1;
    const void *v = NULL;
    size_t n = 0;
    outpost_status st = h->store->storage->meta_get(t, key, &v, &n);
    int rc = st.code == OUTPOST_OK && v ? 0 : st.code == OUTPOST_GONE || st.code == OUTPOST_OK ? 1 : -1;
    if (rc == 0) {
        *out = malloc(n + 1);
        if (*out) {
            memcpy(*out, v, n);
            (*out)[n] = 0;
            *len = n;
        } else {
            rc = -1;
        }
    }
    h->store->read_end(h, t);
    return rc;
}

static int file_read(const char *path, char **out, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 1;
    mapi_buf b;
    mapi_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        mapi_buf_add(&b, chunk, n);
    int bad = ferror(fp) || b.oom;
    fclose(fp);
    if (bad) {
        mapi_buf_free(&b);
        return -1;
    }
    *out = mapi_buf_steal(&b, len);
    return *out ? 0 : -1;
}

static int names_save(void *ctx, const char *text, size_t len)
{
    const struct outpost_host *h = ctx;
    return h->store->meta_set(h, "mapi.names", text, len).code == OUTPOST_OK ? 0 : -1;
}

static int store_guid(struct outpost_frontend *f, uint8_t guid[16], char *err, size_t errlen)
{
    const struct outpost_host *h = f->host;
    char *v = NULL;
    size_t n = 0;
    int rc = meta_read(h, "mapi.store-guid", &v, &n);
    if (rc == 0 && n == 16) {
        memcpy(guid, v, 16);
        free(v);
        return 0;
    }
    free(v);
    if (rc < 0) {
        snprintf(err, errlen, "cannot read mapi.store-guid from the cache");
        return -1;
    }
    /* First start with this cache: an older version's file, else a new GUID. */
    uint8_t id[MAPI_WIRE_SECRET_LEN];
    FILE *old = fopen(f->id_path, "rb");
    if (old) {
        fclose(old);
        if (mapi_os_secret(f->id_path, id, err, errlen) != 0)
            return -1;
    } else if (mapi_os_random(id, 16, err, errlen) != 0) {
        return -1;
    }
    memcpy(guid, id, 16);
    outpost_status st = h->store->meta_set(h, "mapi.store-guid", guid, 16);
    if (st.code != OUTPOST_OK) {
        snprintf(err, errlen, "cannot store mapi.store-guid in the cache: %s", st.message ? st.message : "");
        return -1;
    }
    return 0;
}

static mapi_names *names_open(struct outpost_frontend *f, char *err, size_t errlen)
{
    const struct outpost_host *h = f->host;
    char *text = NULL;
    size_t len = 0;
    int rc = meta_read(h, "mapi.names", &text, &len);
    if (rc < 0) {
        snprintf(err, errlen, "cannot read mapi.names from the cache");
        return NULL;
    }
    int migrate = 0;
    if (rc == 1) {
        rc = file_read(f->names_path, &text, &len);
        if (rc < 0) {
            snprintf(err, errlen, "cannot read %s", f->names_path);
            return NULL;
        }
        migrate = rc == 0;
    }
    mapi_names *m = mapi_names_open_text(text, len, names_save, (void *)h, err, errlen);
    if (m && migrate && names_save((void *)h, text, len) != 0) {
        snprintf(err, errlen, "cannot store mapi.names in the cache");
        mapi_names_close(m);
        m = NULL;
    }
    free(text);
    return m;
}

static outpost_status start(struct outpost_frontend *f)
{
    char err[400];
    uint8_t secret[MAPI_WIRE_SECRET_LEN], id[MAPI_WIRE_SECRET_LEN];
    if (!f->host->store)
        return fail(f, OUTPOST_FATAL, "%s", "mapi: the core handed no store API");
    if (mapi_os_secret(f->secret_path, secret, err, sizeof err) != 0)
        return fail(f, OUTPOST_FATAL, "mapi: %s", err);
    if (has_meta(f->host)) {
        if (store_guid(f, id, err, sizeof err) != 0)
            return fail(f, OUTPOST_FATAL, "mapi: %s", err);
        if (!f->names && !(f->names = names_open(f, err, sizeof err)))
            return fail(f, OUTPOST_FATAL, "mapi: %s", err);
    } else {
        /* An older core: the GUID and the map in files of the data directory. */
        if (mapi_os_secret(f->id_path, id, err, sizeof err) != 0)
            return fail(f, OUTPOST_FATAL, "mapi: %s", err);
        if (!f->names && !(f->names = mapi_names_open(f->names_path, err, sizeof err)))
            return fail(f, OUTPOST_FATAL, "mapi: %s", err);
    }
    if (!f->core_ready) {
        const char *dn = f->host->config_get(f->host, "display_name");
        if (mapi_core_init(&f->core, f->host, id, f->names, secret, dn, err, sizeof err) != 0)
            return fail(f, OUTPOST_FATAL, "mapi: %s", err);
        f->core_ready = 1;
    }
    /* associated messages of folders deleted while the front-end was not
     * running (later deletions: the server's watch, mapi_core_watch) */
    mapi_core_sweep(&f->core);
    f->srv = mapi_server_start(&f->core, f->host_addr, f->port, err, sizeof err);
    if (!f->srv)
        return fail(f, OUTPOST_FATAL, "mapi: %s", err);
    f->host->log(f->host, OUTPOST_LOG_INFO, "mapi: listening on %s:%u for the Outlook provider", f->host_addr,
                 mapi_server_port(f->srv));
    return outpost_ok();
}

static outpost_status stop(struct outpost_frontend *f)
{
    mapi_server_stop(f->srv);
    f->srv = NULL;
    return outpost_ok();
}

static outpost_status module_init(const struct outpost_host *host)
{
    (void)host;
    g_mime_init();
    return outpost_ok();
}

static void module_fini(void)
{
    g_mime_shutdown();
}

static const struct outpost_frontend_methods METHODS = {
    .struct_size = sizeof(struct outpost_frontend_methods),
    .create = create,
    .start = start,
    .stop = stop,
    .destroy = destroy,
    .reload = NULL,
};

static const struct outpost_plugin PLUGIN = {
    .struct_size = sizeof(struct outpost_plugin),
    .abi_major = OUTPOST_ABI_MAJOR,
    .abi_minor = OUTPOST_ABI_MINOR,
    .kind = OUTPOST_KIND_FRONTEND,
    .name = "mapi",
    .version = "0.1.0",
    .description = "MAPI front-end: serves the Outlook provider DLL over loopback TCP",
    .caps = 0,
    .section = "mapi",
    .config_keys = KEYS,
    .module_init = module_init,
    .module_fini = module_fini,
    .methods = &METHODS,
};

OUTPOST_EXPORT const struct outpost_plugin *OUTPOST_PLUGIN_ENTRY(void)
{
    return &PLUGIN;
}

/* The port actually bound (tests listen on port 0). Not part of the ABI. */
OUTPOST_EXPORT uint16_t outpost_mapi_bound_port(struct outpost_frontend *f)
{
    return f && f->srv ? mapi_server_port(f->srv) : 0;
}
