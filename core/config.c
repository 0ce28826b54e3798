/* core/config.c — outpost.ini parsing with inih, key declarations, validation. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "platform/platform.h"

struct entry {
    char *section, *key, *value;
    char *expanded; /* a path or secret file value with a leading ~/ made absolute, else NULL */
    int line;
};

struct decl {
    const char *section;
    const outpost_config_key *keys;
};

struct outpost_config {
    char *path;
    struct entry *v;
    size_t n, cap;
    struct decl *d;
    size_t nd, capd;
    int line;          /* current line while parsing */
};

/* ---- core keys ---- */

const outpost_config_key outpost_core_keys_core[] = {
    { "data_dir", OUTPOST_CFG_PATH, 0, NULL, NULL,
      "directory of the cache and runtime files (default $XDG_DATA_HOME/outpost)" },
    { "plugin_dir", OUTPOST_CFG_STRING, 0, NULL, NULL,
      "plugin directories, separated by ':' (default: the installed plugin directory)" },
    { "log_level", OUTPOST_CFG_ENUM, 0, "info", "error|warning|notice|info|debug", "how much to log" },
    { "frontends", OUTPOST_CFG_STRING, 0, "imap", NULL, "front-end plugins to start, comma separated" },
    /* the sync engine's */
    { "sync_interval", OUTPOST_CFG_INT, 0, "60s", NULL, "time between incremental syncs when the server has no push" },
    { "audit_retention", OUTPOST_CFG_INT, 0, "0", NULL, "days confirmed journal entries are kept (0: until pruned)" },
    { "page_size", OUTPOST_CFG_INT, 0, "0", NULL, "items per sync page (0: the transport's default)" },
    { NULL, 0, 0, NULL, NULL, NULL }
};

const outpost_config_key outpost_core_keys_storage[] = {
    { "plugin", OUTPOST_CFG_STRING, 0, "sqlite", NULL, "storage engine: sqlite or firebird" },
    { "allow_network_fs", OUTPOST_CFG_BOOL, 0, "false", NULL,
      "allow a cache on NFS/SMB/FUSE (risks corruption; not recommended)" },
    { NULL, 0, 0, NULL, NULL, NULL }
};

const outpost_config_key outpost_core_keys_account[] = {
    { "transport", OUTPOST_CFG_STRING, 1, NULL, NULL, "transport plugin: kerio, ews or another installed one" },
    { "url", OUTPOST_CFG_STRING, 0, NULL, NULL, "server URL, e.g. https://mail.example.com" },
    { "user", OUTPOST_CFG_STRING, 0, NULL, NULL, "login name" },
    { "password_file", OUTPOST_CFG_SECRET_FILE, 0, NULL, NULL,
      "file holding the password (no group/other permissions)" },
    { "password_cmd", OUTPOST_CFG_COMMAND, 0, NULL, NULL, "command printing the password" },
    { "ca_file", OUTPOST_CFG_PATH, 0, NULL, NULL, "PEM file of CAs to trust instead of the system store" },
    { "insecure", OUTPOST_CFG_BOOL, 0, "false", NULL, "skip TLS verification (warns on every start)" },
    { "adopt_cache", OUTPOST_CFG_BOOL, 0, "false", NULL,
      "sync a cache recorded for another account identity and record this one (remove after one sync)" },
    { NULL, 0, 0, NULL, NULL, NULL }
};

const outpost_config_key outpost_core_keys_imap[] = {
    { "listen", OUTPOST_CFG_STRING, 0, "127.0.0.1:1143", NULL, "address:port of the IMAP server" },
    { "user", OUTPOST_CFG_STRING, 0, NULL, NULL, "IMAP login name" },
    { "password_file", OUTPOST_CFG_SECRET_FILE, 0, NULL, NULL,
      "file holding the IMAP password (no group/other permissions)" },
    { NULL, 0, 0, NULL, NULL, NULL }
};

const outpost_config_key outpost_core_keys_policy[] = {
    { "*", OUTPOST_CFG_STRING, 0, NULL, NULL, "FOLDER = full | headers[, AGE]" },
    { NULL, 0, 0, NULL, NULL, NULL }
};

void outpost_config_declare_core(struct outpost_config *c)
{
    outpost_config_declare(c, "core", outpost_core_keys_core);
    outpost_config_declare(c, "storage", outpost_core_keys_storage);
    outpost_config_declare(c, "account", outpost_core_keys_account);
    outpost_config_declare(c, "imap", outpost_core_keys_imap);
    outpost_config_declare(c, "policy", outpost_core_keys_policy);
}

/* ---- storage of values ---- */

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *r = malloc(n);
    if (r)
        memcpy(r, s, n);
    return r;
}

struct outpost_config *outpost_config_new(const char *path)
{
    struct outpost_config *c = calloc(1, sizeof *c);
    if (c && path && !(c->path = xstrdup(path))) {
        free(c);
        return NULL;
    }
    return c;
}

void outpost_config_free(struct outpost_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].section);
        free(c->v[i].key);
        free(c->v[i].value);
        free(c->v[i].expanded);
    }
    free(c->v);
    free(c->d);
    free(c->path);
    free(c);
}

const char *outpost_config_path(const struct outpost_config *c) { return c->path ? c->path : "(built-in)"; }

char *outpost_expand_home(const char *p)
{
    const char *home = op_getenv("HOME");
    if (p[0] == '~' && (p[1] == '/' || !p[1]) && home && *home) {
        size_t n = strlen(home) + strlen(p);
        char *r = malloc(n + 1);
        if (r)
            snprintf(r, n + 1, "%s%s", home, p + 1);
        return r;
    }
    return xstrdup(p);
}

static const outpost_config_key *find_decl(const struct outpost_config *c, const char *section, const char *key);

/* A value of a declared path or secret file key that starts with ~/ is read as
 * $HOME/...: outpost_config_get returns the expanded form. */
static void expand_entry(const struct outpost_config *c, struct entry *e)
{
    if (e->expanded || e->value[0] != '~')
        return;
    const outpost_config_key *k = find_decl(c, e->section, e->key);
    if (k && (k->type == OUTPOST_CFG_PATH || k->type == OUTPOST_CFG_SECRET_FILE)) {
        char *x = outpost_expand_home(e->value);
        if (x && strcmp(x, e->value))
            e->expanded = x;
        else
            free(x);
    }
}

static int add_entry(struct outpost_config *c, const char *section, const char *key, const char *value, int line)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        struct entry *v = realloc(c->v, cap * sizeof *v);
        if (!v)
            return -1;
        c->v = v;
        c->cap = cap;
    }
    struct entry *e = &c->v[c->n];
    e->section = xstrdup(section);
    e->key = xstrdup(key);
    e->value = xstrdup(value);
    e->line = line;
    e->expanded = NULL;
    if (!e->section || !e->key || !e->value) {
        free(e->section);
        free(e->key);
        free(e->value);
        return -1;
    }
    c->n++;
    expand_entry(c, e);
    return 0;
}

int outpost_config_set(struct outpost_config *c, const char *section, const char *key, const char *value)
{
    return add_entry(c, section, key, value, 0);
}

static const struct entry *find_entry(const struct outpost_config *c, const char *section, const char *key)
{
    for (size_t i = c->n; i-- > 0;)
        if (!strcmp(c->v[i].section, section) && !strcmp(c->v[i].key, key))
            return &c->v[i];
    return NULL;
}

static const outpost_config_key *find_decl(const struct outpost_config *c, const char *section, const char *key)
{
    const outpost_config_key *wild = NULL;
    for (size_t i = 0; i < c->nd; i++) {
        if (strcmp(c->d[i].section, section))
            continue;
        for (const outpost_config_key *k = c->d[i].keys; k->name; k++) {
            if (!strcmp(k->name, key))
                return k;
            if (!strcmp(k->name, "*"))
                wild = k;
        }
    }
    return wild;
}

int outpost_config_declare(struct outpost_config *c, const char *section, const outpost_config_key *keys)
{
    if (!keys)
        return 0;
    for (size_t i = 0; i < c->nd; i++)
        if (c->d[i].keys == keys && !strcmp(c->d[i].section, section))
            return 0;
    if (c->nd == c->capd) {
        size_t cap = c->capd ? c->capd * 2 : 8;
        struct decl *d = realloc(c->d, cap * sizeof *d);
        if (!d)
            return -1;
        c->d = d;
        c->capd = cap;
    }
    c->d[c->nd].section = section;
    c->d[c->nd].keys = keys;
    c->nd++;
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->v[i].section, section))
            expand_entry(c, &c->v[i]);
    return 0;
}

int outpost_config_declare_from(struct outpost_config *c, const struct outpost_config *from)
{
    for (size_t i = 0; i < from->nd; i++)
        if (outpost_config_declare(c, from->d[i].section, from->d[i].keys) != 0)
            return -1;
    return 0;
}

const char *outpost_config_get(const struct outpost_config *c, const char *section, const char *key)
{
    const struct entry *e = find_entry(c, section, key);
    if (e)
        return e->expanded ? e->expanded : e->value;
    const outpost_config_key *k = find_decl(c, section, key);
    return k && strcmp(k->name, "*") ? k->def : NULL;
}

int outpost_config_line(const struct outpost_config *c, const char *section, const char *key)
{
    const struct entry *e = find_entry(c, section, key);
    return e ? e->line : 0;
}

void outpost_config_each(const struct outpost_config *c,
                         void (*fn)(void *ctx, const char *section, const char *key, const char *value, int line),
                         void *ctx)
{
    for (size_t i = 0; i < c->n; i++)
        fn(ctx, c->v[i].section, c->v[i].key, c->v[i].value, c->v[i].line);
}

/* ---- parsing ---- */

struct reader {
    FILE *f;             /* file source, or */
    const char *text;    /* string source */
    struct outpost_config *c;
};

/* inih reads line by line through this, which lets us count lines. */
static char *read_line(char *buf, int size, void *stream)
{
    struct reader *r = stream;
    char *s = NULL;
    if (r->f) {
        s = fgets(buf, size, r->f);
    } else if (*r->text && size > 1) {
        const char *e = strchr(r->text, '\n');
        size_t n = e ? (size_t)(e - r->text) + 1 : strlen(r->text);
        if (n > (size_t)size - 1)
            n = (size_t)size - 1;
        memcpy(buf, r->text, n);
        buf[n] = '\0';
        r->text += n;
        s = buf;
    }
    if (s)
        r->c->line++;
    return s;
}

static int on_value(void *user, const char *section, const char *name, const char *value)
{
    struct outpost_config *c = user;
    if (!*section)
        return 0; /* a key before any [section] is a syntax error at this line */
    return add_entry(c, section, name, value ? value : "", c->line) == 0;
}

static int parse(struct reader *r, const char *name, char *err, size_t errlen)
{
    int rc = ini_parse_stream(read_line, r, on_value, r->c);
    if (rc > 0)
        snprintf(err, errlen, "%s:%d: syntax error (expected [section] or key = value)", name, rc);
    else if (rc < 0)
        snprintf(err, errlen, "cannot parse config %s", name);
    return rc == 0 ? 0 : -1;
}

int outpost_config_parse_text(const char *text, const char *name, struct outpost_config **out, char *err,
                              size_t errlen)
{
    *out = NULL;
    struct outpost_config *c = outpost_config_new(name);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct reader r = { NULL, text, c };
    if (parse(&r, name, err, errlen) != 0) {
        outpost_config_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

int outpost_config_load(const char *path, int missing_ok, struct outpost_config **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT && missing_ok) {
            *out = outpost_config_new(path);
            return *out ? 0 : -1;
        }
        snprintf(err, errlen, "cannot read config %s: %s%s", path, strerror(errno),
                 errno == ENOENT ? " (create one with: outpost init)" : "");
        return -1;
    }
    struct outpost_config *c = outpost_config_new(path);
    if (!c) {
        fclose(f);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct reader r = { f, NULL, c };
    int rc = parse(&r, path, err, errlen);
    fclose(f);
    if (rc != 0) {
        outpost_config_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

/* ---- typed values ---- */

int outpost_config_parse_bool(const char *v, int *out)
{
    static const char *const yes[] = { "true", "yes", "on", "1" }, *const no[] = { "false", "no", "off", "0" };
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i])) {
            *out = 1;
            return 0;
        }
        if (!strcasecmp(v, no[i])) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

size_t outpost_config_split_list(const char *v, char (*names)[64], size_t max)
{
    size_t n = 0;
    while (v && *v && n < max) {
        v += strspn(v, ", ");
        size_t len = strcspn(v, ", ");
        if (!len)
            break;
        snprintf(names[n++], 64, "%.*s", (int)(len < 63 ? len : 63), v);
        v += len;
    }
    return n;
}

int outpost_config_parse_int(const char *v, long long *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (end == v || errno)
        return -1;
    long long mul = 1;
    if (*end) {
        switch (*end) {
        case 's': mul = 1; break;
        case 'm': mul = 60; break;
        case 'h': mul = 3600; break;
        case 'd': mul = 86400; break;
        case 'k': case 'K': mul = 1024; break;
        case 'M': mul = 1024 * 1024; break;
        case 'G': mul = 1024LL * 1024 * 1024; break;
        default: return -1;
        }
        if (end[1])
            return -1;
    }
    *out = n * mul;
    return 0;
}

static int enum_has(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; p && *p;) {
        const char *e = strchr(p, '|');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && !strncmp(p, v, n))
            return 1;
        p = e ? e + 1 : p + l;
    }
    return 0;
}

static int in_list(const char *const *list, const char *s)
{
    for (; list && *list; list++)
        if (!strcmp(*list, s))
            return 1;
    return 0;
}

const char *outpost_url_authority(const char *url, size_t *len)
{
    const char *a = strstr(url, "://");
    a = a ? a + 3 : url;
    *len = strcspn(a, "/?#");
    return a;
}

void outpost_host_normalise(char *host)
{
    size_t n = strlen(host);
    for (size_t i = 0; i < n; i++)
        if (host[i] >= 'A' && host[i] <= 'Z')
            host[i] = (char)(host[i] - 'A' + 'a');
    /* "mail.example.com." is the same name as "mail.example.com" (RFC 1034 3.1) */
    while (n > 1 && host[n - 1] == '.' && host[0] != '[')
        host[--n] = '\0';
}

size_t outpost_url_host(const char *url, char *out, size_t len)
{
    if (!len)
        return 0;
    out[0] = '\0';
    if (!url)
        return 0;
    size_t n;
    const char *h = outpost_url_authority(url, &n);
    const char *at = memchr(h, '@', n);
    if (at) { /* user info */
        n -= (size_t)(at + 1 - h);
        h = at + 1;
    }
    size_t hl = *h == '[' ? strcspn(h, "]") + 1 : strcspn(h, ":/?#");
    snprintf(out, len, "%.*s", (int)(hl < n ? hl : n), h);
    outpost_host_normalise(out);
    return strlen(out);
}

int outpost_config_url_has_password(const char *v)
{
    if (!v || !strstr(v, "://"))
        return 0;
    size_t n;
    const char *auth = outpost_url_authority(v, &n);
    const char *at = memchr(auth, '@', n);
    return at && memchr(auth, ':', (size_t)(at - auth)) != NULL;
}

static int check_value(const struct outpost_config *c, const struct entry *e, const outpost_config_key *k,
                       char *err, size_t errlen)
{
    char why[512];
    long long n;
    int b;
    const char *f = outpost_config_path(c);
    switch (k->type) {
    case OUTPOST_CFG_INT:
        if (outpost_config_parse_int(e->value, &n) != 0) {
            snprintf(err, errlen, "%s:%d: [%s] %s = '%s': expected a whole number (units s, m, h, d, k, M, G allowed)",
                     f, e->line, e->section, e->key, e->value);
            return -1;
        }
        break;
    case OUTPOST_CFG_BOOL:
        if (outpost_config_parse_bool(e->value, &b) != 0) {
            snprintf(err, errlen, "%s:%d: [%s] %s = '%s': expected true or false", f, e->line, e->section, e->key,
                     e->value);
            return -1;
        }
        break;
    case OUTPOST_CFG_ENUM:
        if (!enum_has(k->choices, e->value)) {
            snprintf(err, errlen, "%s:%d: [%s] %s = '%s': expected one of %s", f, e->line, e->section, e->key,
                     e->value, k->choices);
            return -1;
        }
        break;
    case OUTPOST_CFG_SECRET_FILE:
        if (op_check_private_file(e->expanded ? e->expanded : e->value, why, sizeof why) != 0) {
            snprintf(err, errlen, "%s:%d: [%s] %s: %s", f, e->line, e->section, e->key, why);
            return -1;
        }
        break;
    case OUTPOST_CFG_STRING: {
        size_t kl = strlen(e->key);
        if ((!strcmp(e->key, "url") || (kl > 4 && !strcmp(e->key + kl - 4, "_url"))) &&
            outpost_config_url_has_password(e->value)) {
            /* the value itself is not repeated: it holds the password */
            snprintf(err, errlen, "%s:%d: [%s] %s holds a password (user:password@): it would be shown in messages; "
                     "put the login in user and the password in password_file or password_cmd",
                     f, e->line, e->section, e->key);
            return -1;
        }
    }
    /* fall through */
    case OUTPOST_CFG_PATH:
    case OUTPOST_CFG_COMMAND:
    default:
        if (!*e->value && k->required) {
            snprintf(err, errlen, "%s:%d: [%s] %s is empty: %s", f, e->line, e->section, e->key, k->help);
            return -1;
        }
        break;
    }
    return 0;
}

static void warn_unknown(const struct outpost_config *c, const struct entry *e, void (*warn)(void *ctx, const char *msg),
                         void *warn_ctx)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s:%d: unknown key '%s' in [%s] (ignored)", outpost_config_path(c), e->line, e->key,
             e->section);
    warn(warn_ctx, msg);
}

int outpost_config_validate(const struct outpost_config *c, const char *const *required_sections,
                            void (*warn)(void *ctx, const char *msg), void *warn_ctx, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct entry *e = &c->v[i];
        const outpost_config_key *k = find_decl(c, e->section, e->key);
        if (!k) {
            if (warn)
                warn_unknown(c, e, warn, warn_ctx);
            continue;
        }
        /* Only the value that wins is checked. */
        if (find_entry(c, e->section, e->key) != e)
            continue;
        if (check_value(c, e, k, err, errlen) != 0)
            return -1;
    }
    for (size_t i = 0; i < c->nd; i++) {
        if (!in_list(required_sections, c->d[i].section))
            continue;
        for (const outpost_config_key *k = c->d[i].keys; k->name; k++) {
            if (k->required && !find_entry(c, c->d[i].section, k->name) && !k->def) {
                snprintf(err, errlen, "%s: [%s] %s is required: %s", outpost_config_path(c), c->d[i].section,
                         k->name, k->help ? k->help : "");
                return -1;
            }
        }
    }
    return 0;
}
