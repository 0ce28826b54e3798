/* outpost-transport-ews: the plugin descriptor, [account] configuration and the instance
 * lifecycle. The work happens in sync.c (reading), write.c (writing back), reply.c / item.c
 * (streaming reply parsing), convert.c (iCalendar / vCard) and http.c (libcurl). */
#include <curl/curl.h>
#include <libxml/parser.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ews.h"

static const outpost_config_key config_keys[] = {
    {"url", OUTPOST_CFG_STRING, 0, NULL, NULL, "EWS endpoint, https://host/EWS/Exchange.asmx (default: autodiscover from email)"},
    {"email", OUTPOST_CFG_STRING, 0, NULL, NULL, "the mailbox's e-mail address (autodiscover, X-AnchorMailbox)"},
    {"autodiscover_url", OUTPOST_CFG_STRING, 0, NULL, NULL, "POX autodiscover URL to ask instead of the e-mail domain's (then no HTTP-redirect or SRV method)"},
    {"user", OUTPOST_CFG_STRING, 0, NULL, NULL, "login name (default: email); DOMAIN\\user for NTLM"},
    {"auth", OUTPOST_CFG_ENUM, 0, "basic", "basic|ntlm|negotiate|bearer", "authentication scheme"},
    {"password_file", OUTPOST_CFG_SECRET_FILE, 0, NULL, NULL, "file holding the password (basic, ntlm)"},
    {"password_cmd", OUTPOST_CFG_COMMAND, 0, NULL, NULL, "command printing the password (basic, ntlm)"},
    {"token_file", OUTPOST_CFG_SECRET_FILE, 0, NULL, NULL, "file holding an OAuth2 access token (bearer)"},
    {"token_cmd", OUTPOST_CFG_COMMAND, 0, NULL, NULL, "command printing a fresh OAuth2 access token (bearer)"},
    {"ca_file", OUTPOST_CFG_PATH, 0, NULL, NULL, "PEM file of CAs to trust instead of the system store"},
    {"insecure", OUTPOST_CFG_BOOL, 0, "false", NULL, "skip TLS certificate verification (warns on every start)"},
    {"timeout", OUTPOST_CFG_INT, 0, "120", NULL, "seconds without a byte before a request fails"},
    {"batch_size", OUTPOST_CFG_INT, 0, "100", NULL, "items per SyncFolderItems page and GetItem batch (1-100)"},
    {"busy_wait", OUTPOST_CFG_INT, 0, "2", NULL, "longest back-off (seconds) a busy server's request is waited for and retried in place, up to 3 times; longer ones end the sync cycle (0-300, 0 = never wait)"},
    {"push_poll", OUTPOST_CFG_INT, 0, "5", NULL, "seconds between GetEvents calls while waiting for server changes (1-300)"},
    {"server_version", OUTPOST_CFG_STRING, 0, "Exchange2013_SP1", NULL, "RequestServerVersion sent with every request"},
    {NULL, 0, 0, NULL, NULL, NULL}};

static char *dup_cfg(const struct outpost_host *h, const char *key)
{
    const char *v = h->config_get(h, key);
    return v && *v ? strdup(v) : NULL;
}

static void free_ews(struct ews *e)
{
    free(e->url);
    free(e->email);
    free(e->user);
    free(e->autodiscover_url);
    free(e->ca_file);
    free(e->version);
    free(e->root_id);
    for (size_t i = 0; i < sizeof e->special / sizeof *e->special; i++)
        free(e->special[i]);
    if (e->password)
        e->host->free(e->password);
    if (e->token)
        e->host->free(e->token);
    eb_free(&e->res_id);
    eb_free(&e->res_version);
    free(e);
}

static outpost_status t_create(const struct outpost_host *host, struct outpost_transport **out)
{
    *out = NULL;
    struct ews *e = calloc(1, sizeof *e);
    static char oom[] = "out of memory";
    if (!e)
        return (outpost_status){OUTPOST_FATAL, 0, oom};
    e->host = host;
    e->url = dup_cfg(host, "url");
    e->email = dup_cfg(host, "email");
    e->user = dup_cfg(host, "user");
    if (!e->user && e->email)
        e->user = strdup(e->email);
    e->autodiscover_url = dup_cfg(host, "autodiscover_url");
    e->ca_file = dup_cfg(host, "ca_file");
    e->version = dup_cfg(host, "server_version");
    e->version_fixed = e->version != NULL;
    if (!e->version)
        e->version = strdup("Exchange2013_SP1");
    e->ver = e->version;
    const char *auth = host->config_get(host, "auth");
    e->auth = !auth || !strcmp(auth, "basic") ? EWS_AUTH_BASIC : !strcmp(auth, "ntlm") ? EWS_AUTH_NTLM
              : !strcmp(auth, "negotiate") ? EWS_AUTH_NEGOTIATE : EWS_AUTH_BEARER;
    e->insecure = host->config_bool(host, "insecure", 0);
    e->timeout_s = (long)host->config_int(host, "timeout", 120);
    if (e->timeout_s < 5)
        e->timeout_s = 5;
    int64_t poll = host->config_int(host, "push_poll", 5);
    e->push_poll_ms = (uint32_t)(poll < 1 ? 1 : poll > 300 ? 300 : poll) * 1000;
    int64_t busy = host->config_int(host, "busy_wait", 2);
    e->busy_wait_ms = (uint32_t)(busy < 0 ? 0 : busy > 300 ? 300 : busy) * 1000;
    int64_t batch = host->config_int(host, "batch_size", EWS_MAX_BATCH);
    e->batch = (uint32_t)(batch < 1 ? 1 : batch > EWS_MAX_BATCH ? EWS_MAX_BATCH : batch);
    if (!e->version || (e->email && !e->user)) {
        free_ews(e);
        return (outpost_status){OUTPOST_FATAL, 0, oom};
    }
    if (!e->url && !e->email) {
        static char msg[] = "[account] needs url (the EWS endpoint) or email (for autodiscover)";
        free_ews(e);
        return (outpost_status){OUTPOST_FATAL, 0, msg};
    }
    if (e->url && strncmp(e->url, "https://", 8) != 0 && !e->insecure) {
        static char msg[] = "[account] url must start with https:// (or set insecure = true)";
        free_ews(e);
        return (outpost_status){OUTPOST_FATAL, 0, msg};
    }
    *out = (struct outpost_transport *)e;
    return outpost_ok();
}

static outpost_status t_open(struct outpost_transport *t)
{
    struct ews *e = (struct ews *)t;
    if (e->insecure)
        e->host->log(e->host, OUTPOST_LOG_WARNING,
                     "insecure = true: the server's TLS certificate is NOT verified; anyone on the path can read "
                     "and change this account's mail");
    outpost_status st = outpost_ok();
    if (e->auth == EWS_AUTH_BASIC || e->auth == EWS_AUTH_NTLM) {
        if (!e->password)
            st = e->host->secret(e->host, "password", &e->password);
    } else if (e->auth == EWS_AUTH_BEARER) {
        if (!e->token)
            st = e->host->secret(e->host, "token", &e->token);
    }
    if (st.code != OUTPOST_OK)
        return st;
    if (!e->curl && (st = ews_http_init(e)).code != OUTPOST_OK)
        return st;
    if (!e->url && (st = ews_autodiscover(e)).code != OUTPOST_OK)
        return st;
    /* learns the folder root and the special folders, and proves the credentials */
    return ews_learn_folders(e);
}

static outpost_status t_close(struct outpost_transport *t)
{
    struct ews *e = (struct ews *)t;
    ews_unsubscribe(e);
    ews_http_fini(e);
    return outpost_ok();
}

static void t_destroy(struct outpost_transport *t)
{
    struct ews *e = (struct ews *)t;
    if (!e)
        return;
    ews_sub_drop(e);
    ews_http_fini(e);
    free_ews(e);
}

static outpost_status t_sync_hierarchy(struct outpost_transport *t, const void *state, size_t len,
                                       const struct outpost_sync_sink *sink)
{
    return ews_sync_hierarchy((struct ews *)t, state, len, sink);
}

static outpost_status t_sync_folder(struct outpost_transport *t, const outpost_folder *folder, const void *state,
                                    size_t len, uint32_t page_size, uint32_t flags, const struct outpost_sync_sink *sink)
{
    return ews_sync_folder((struct ews *)t, folder, state, len, page_size, flags, sink);
}

static outpost_status t_fetch(struct outpost_transport *t, const outpost_folder *folder, const char *const *ids,
                              uint32_t n, const struct outpost_sync_sink *sink)
{
    return ews_fetch((struct ews *)t, folder, ids, n, sink);
}

static outpost_status t_write(struct outpost_transport *t, const outpost_change *c, outpost_change_result *res)
{
    return ews_write((struct ews *)t, c, res);
}

static outpost_status t_find(struct outpost_transport *t, const char *folder, uint32_t kind, const char *key,
                             outpost_change_result *res)
{
    return ews_find((struct ews *)t, folder, kind, key, res);
}

static outpost_status t_wait_changes(struct outpost_transport *t, uint32_t timeout_ms, int *changed)
{
    return ews_wait_changes((struct ews *)t, timeout_ms, changed);
}

static outpost_status module_init(const struct outpost_host *host)
{
    (void)host;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        static char msg[] = "curl_global_init failed";
        return (outpost_status){OUTPOST_FATAL, 0, msg};
    }
    xmlInitParser();
    return outpost_ok();
}

static void module_fini(void)
{
    curl_global_cleanup();
}

static const struct outpost_transport_methods methods = {
    .struct_size = sizeof(struct outpost_transport_methods),
    .create = t_create,
    .open = t_open,
    .close = t_close,
    .destroy = t_destroy,
    .sync_hierarchy = t_sync_hierarchy,
    .sync_folder = t_sync_folder,
    .fetch = t_fetch,
    .write = t_write,
    .find = t_find,
    .wait_changes = t_wait_changes,
};

static const struct outpost_plugin plugin = {
    .struct_size = sizeof(struct outpost_plugin),
    .abi_major = OUTPOST_ABI_MAJOR,
    .abi_minor = OUTPOST_ABI_MINOR,
    .kind = OUTPOST_KIND_TRANSPORT,
    .name = "ews",
    .version = "0.1.0",
    .description = "Exchange Web Services (Exchange 2013 SP1+, grommunio, Kerio): SOAP over HTTPS",
    .caps = OUTPOST_TRANSPORT_CAP_RAW_MIME | OUTPOST_TRANSPORT_CAP_CUSTOM_HEADERS | OUTPOST_TRANSPORT_CAP_FOLDER_WRITE |
            OUTPOST_TRANSPORT_CAP_PUSH,
    .section = "account",
    .config_keys = config_keys,
    .module_init = module_init,
    .module_fini = module_fini,
    .methods = &methods,
};

OUTPOST_EXPORT const struct outpost_plugin *outpost_plugin_entry(void)
{
    return &plugin;
}
