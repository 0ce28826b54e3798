/* plugin.c — the descriptor of outpost-transport-kerio.so, its configuration keys and the
 * instance lifecycle (create reads [account] without I/O; open logs in; close logs out). */
#include "kerio.h"

#include <gmime/gmime.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const outpost_config_key config_keys[] = {
    { "url", OUTPOST_CFG_STRING, 1, NULL, NULL, "Kerio Connect server, e.g. https://mail.example.com" },
    { "user", OUTPOST_CFG_STRING, 1, NULL, NULL, "login name, e.g. jdoe@example.com" },
    { "password_file", OUTPOST_CFG_SECRET_FILE, 0, NULL, NULL, "file holding the password (mode 0600)" },
    { "password_cmd", OUTPOST_CFG_COMMAND, 0, NULL, NULL, "command printing the password" },
    { "ca_file", OUTPOST_CFG_PATH, 0, NULL, NULL, "PEM file of CAs to trust instead of the system store" },
    { "insecure", OUTPOST_CFG_BOOL, 0, "false", NULL, "skip TLS certificate checks and accept an http:// url (logs a warning)" },
    { "delete", OUTPOST_CFG_ENUM, 0, "trash", "trash|permanent", "deleted mail goes to Deleted Items or is removed" },
    { "page_size", OUTPOST_CFG_INT, 0, "100", NULL, "items per listing page" },
    { "change_cap", OUTPOST_CFG_INT, 0, "5000", NULL, "larger change lists are replaced by a re-listing" },
    { "timeout", OUTPOST_CFG_INT, 0, "60", NULL, "seconds before a request is abandoned" },
    { "recurrence_cap", OUTPOST_CFG_INT, 0, "1000", NULL,
      "instances of a recurring event read to place its exceptions and deleted instances" },
    { NULL, 0, 0, NULL, NULL, NULL }
};

outpost_status kerio_fail(struct outpost_transport *t, int cls, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->msg, sizeof t->msg, fmt, ap);
    va_end(ap);
    outpost_status s = { cls, 0, t->msg };
    return s;
}

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

static outpost_status kerio_create(const struct outpost_host *host, struct outpost_transport **out)
{
    *out = NULL;
    struct outpost_transport *t = calloc(1, sizeof *t);
    if (!t) {
        outpost_status s = { OUTPOST_FATAL, 0, "kerio: out of memory" };
        return s;
    }
    t->host = host;
    const char *url = host->config_get(host, "url");
    const char *user = host->config_get(host, "user");
    if (!url || !*url || !user || !*user) {
        free(t);
        outpost_status s = { OUTPOST_FATAL, 0, "kerio: [account] needs url and user" };
        return s;
    }
    int insecure = host->config_bool(host, "insecure", 0);
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) {
        free(t);
        outpost_status s = { OUTPOST_FATAL, 0, "kerio: [account] url must start with https://" };
        return s;
    }
    if (url[4] == ':' && !insecure) { /* http:// would send the password in clear */
        free(t);
        outpost_status s = { OUTPOST_FATAL, 0,
                             "kerio: [account] url is http://, which sends the password unencrypted: use https:// "
                             "(or set [account] insecure = true to accept that)" };
        return s;
    }
    /* base = scheme://authority; endpoint = base + /webmail/api/jsonrpc/ */
    const char *auth = strstr(url, "://") + 3;
    size_t blen = (size_t)(auth - url) + strcspn(auth, "/");
    t->base = strndup(url, blen);
    size_t elen = blen + sizeof "/webmail/api/jsonrpc/";
    t->endpoint = malloc(elen);
    if (t->endpoint)
        snprintf(t->endpoint, elen, "%s/webmail/api/jsonrpc/", t->base);
    t->user = strdup(user);
    t->ca_file = dup_or_null(host->config_get(host, "ca_file"));
    t->insecure = insecure;
    const char *del = host->config_get(host, "delete");
    t->delete_permanent = del && strcmp(del, "permanent") == 0;
    int64_t ps = host->config_int(host, "page_size", 100);
    t->page_size = ps < 1 ? 1 : ps > 5000 ? 5000 : (uint32_t)ps;
    int64_t cap = host->config_int(host, "change_cap", 5000);
    t->change_cap = cap < 1 ? 1 : cap > 10000000 ? 10000000 : (uint32_t)cap;
    int64_t to = host->config_int(host, "timeout", 60);
    t->timeout_s = to < 1 ? 1 : to > 3600 ? 3600 : (long)to;
    int64_t rc = host->config_int(host, "recurrence_cap", 1000);
    t->recur_cap = rc < 10 ? 10 : rc > 20000 ? 20000 : (uint32_t)rc;
    if (!t->base || !t->endpoint || !t->user) {
        free(t->base);
        free(t->endpoint);
        free(t->user);
        free(t->ca_file);
        free(t);
        outpost_status s = { OUTPOST_FATAL, 0, "kerio: out of memory" };
        return s;
    }
    *out = t;
    return outpost_ok();
}

static void wipe_password(struct outpost_transport *t)
{
    if (t->password) {
        explicit_bzero(t->password, strlen(t->password));
        t->host->free(t->password);
        t->password = NULL;
    }
}

static outpost_status kerio_open(struct outpost_transport *t)
{
    if (t->insecure)
        t->host->log(t->host, OUTPOST_LOG_WARNING, "kerio: [account] insecure = true: %s%s", t->base,
                     t->base[4] == ':' ? " is plain HTTP: the password is sent unencrypted"
                                       : ": its TLS certificate is NOT checked");
    if (!t->password) {
        char *pw = NULL;
        outpost_status st = t->host->secret(t->host, "password", &pw);
        if (st.code != OUTPOST_OK)
            return kerio_fail(t, OUTPOST_AUTH, "kerio: no password: %s", st.message ? st.message : "secret unavailable");
        /* A password file usually ends with a newline that is not part of the password. */
        size_t n = strlen(pw);
        while (n && (pw[n - 1] == '\n' || pw[n - 1] == '\r'))
            pw[--n] = '\0';
        t->password = pw;
    }
    outpost_status st = kerio_login(t);
    if (st.code != OUTPOST_OK)
        return st;
    st = kerio_load_folders(t);
    if (st.code != OUTPOST_OK)
        return st;
    /* Before the first sync, so the first wait_changes reports what changed after it. */
    kerio_push_prime(t);
    return outpost_ok();
}

static outpost_status kerio_close(struct outpost_transport *t)
{
    kerio_ahead_drop(t);
    kerio_logout(t); /* best effort: a failed logout changes nothing for the caller */
    kerio_push_disconnect(t);
    kerio_disconnect(t);
    wipe_password(t);
    return outpost_ok();
}

static void kerio_destroy(struct outpost_transport *t)
{
    if (!t)
        return;
    kerio_ahead_drop(t);
    kerio_push_free(t);
    kerio_disconnect(t);
    wipe_password(t);
    free(t->endpoint);
    free(t->base);
    free(t->user);
    free(t->ca_file);
    free(t->trash_id);
    free(t->root_id);
    json_decref(t->folder_access);
    free(t->res_id);
    free(t->res_version);
    free(t);
}

static outpost_status kerio_module_init(const struct outpost_host *host)
{
    (void)host;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        outpost_status s = { OUTPOST_FATAL, 0, "kerio: libcurl initialisation failed" };
        return s;
    }
    g_mime_init();
    kerio_mime_init();
    return outpost_ok();
}

static void kerio_module_fini(void)
{
    kerio_mime_fini();
    g_mime_shutdown();
    curl_global_cleanup();
}

static const struct outpost_transport_methods methods = {
    .struct_size = sizeof(struct outpost_transport_methods),
    .create = kerio_create,
    .open = kerio_open,
    .close = kerio_close,
    .destroy = kerio_destroy,
    .sync_hierarchy = kerio_sync_hierarchy,
    .sync_folder = kerio_sync_folder,
    .fetch = kerio_fetch,
    .write = kerio_write,
    .find = kerio_find,
    .wait_changes = kerio_wait_changes,
    .sync_next = kerio_sync_next,
};

static const struct outpost_plugin descriptor = {
    .struct_size = sizeof(struct outpost_plugin),
    .abi_major = OUTPOST_ABI_MAJOR,
    .abi_minor = OUTPOST_ABI_MINOR,
    .kind = OUTPOST_KIND_TRANSPORT,
    .name = "kerio",
    .version = KERIO_APP_VERSION,
    .description = "Kerio Connect (webmail JSON-RPC Client API)",
    /* No RAW_MIME, KEYWORDS or CUSTOM_HEADERS: Mails.create cannot carry them (README.md).
     * PUSH: wait_changes long-polls Changes.get (push.c). */
    .caps = OUTPOST_TRANSPORT_CAP_FOLDER_WRITE | OUTPOST_TRANSPORT_CAP_PUSH,
    .section = "account",
    .config_keys = config_keys,
    .module_init = kerio_module_init,
    .module_fini = kerio_module_fini,
    .methods = &methods,
};

OUTPOST_EXPORT const struct outpost_plugin *OUTPOST_PLUGIN_ENTRY(void)
{
    return &descriptor;
}
