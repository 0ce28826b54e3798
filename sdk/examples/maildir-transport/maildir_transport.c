/* maildir_transport.c — the plugin descriptor and the transport methods of
 * outpost-transport-maildir, except sync_folder (maildir_listing.c).
 *
 * A read-only transport: it serves a local Maildir++ tree as if it were a
 * server, which makes it an import path (point [account] maildir at an
 * existing Maildir and let the engine copy it into the cache). */
#include "maildir.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maildir_os.h"

#define MD_PLUGIN_VERSION "1.0.0"

/* ---- helpers shared with maildir_listing.c ------------------------------ */

outpost_status md_fail(struct outpost_transport *t, int32_t cls, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->msg, sizeof t->msg, fmt, ap);
    va_end(ap);
    outpost_status s = { cls, 0, t->msg };
    return s;
}

size_t md_unique_len(const char *name)
{
    const char *colon = strchr(name, ':');
    return colon != NULL ? (size_t)(colon - name) : strlen(name);
}

uint32_t md_flags_of_name(const char *name)
{
    const char *info = strchr(name, ':');
    uint32_t flags = 0;
    if (info == NULL || strncmp(info, ":2,", 3) != 0)
        return 0;
    /* Upper-case letters are the standard flags; lower-case ones are
     * Dovecot keywords, which this example does not map. */
    for (const char *p = info + 3; *p != '\0'; p++) {
        switch (*p) {
        case 'P': flags |= OUTPOST_FLAG_FORWARDED; break;
        case 'R': flags |= OUTPOST_FLAG_ANSWERED; break;
        case 'S': flags |= OUTPOST_FLAG_SEEN; break;
        case 'T': flags |= OUTPOST_FLAG_DELETED; break;
        case 'D': flags |= OUTPOST_FLAG_DRAFT; break;
        case 'F': flags |= OUTPOST_FLAG_FLAGGED; break;
        default: break;
        }
    }
    return flags;
}

char *md_join(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + 1 + strlen(b) + (c != NULL ? 1 + strlen(c) : 0) + 1;
    char *s = malloc(n);
    if (s == NULL)
        return NULL;
    if (c != NULL)
        snprintf(s, n, "%s/%s/%s", a, b, c);
    else
        snprintf(s, n, "%s/%s", a, b);
    return s;
}

/* A Maildir++ folder directory name: ".A.B" with non-empty components and
 * nothing that could leave the tree. */
static int md_valid_folder_rid(const char *rid)
{
    size_t n = strlen(rid);
    if (n < 2 || n > MD_NAME_MAX || rid[0] != '.' || rid[n - 1] == '.')
        return 0;
    if (strchr(rid, '/') != NULL || strchr(rid, '\\') != NULL || strstr(rid, "..") != NULL)
        return 0;
    return 1;
}

char *md_folder_path(const struct outpost_transport *t, const char *rid)
{
    if (rid == NULL)
        return NULL;
    if (strcmp(rid, "INBOX") == 0) {
        char *s = malloc(strlen(t->root) + 1);
        if (s != NULL)
            strcpy(s, t->root);
        return s;
    }
    return md_valid_folder_rid(rid) ? md_join(t->root, rid, NULL) : NULL;
}

outpost_status md_emit_message(struct outpost_transport *t, const char *dir, const char *name,
                               uint32_t change, int with_content, const struct outpost_sync_sink *sink)
{
    char rid[MD_NAME_MAX + 1];
    size_t ulen = md_unique_len(name);
    if (ulen == 0 || ulen > MD_NAME_MAX)
        return md_fail(t, OUTPOST_BAD_DATA, "maildir: bad message file name in %s", dir);
    memcpy(rid, name, ulen);
    rid[ulen] = '\0';

    char *path = md_join(dir, name, NULL);
    if (path == NULL)
        return md_fail(t, OUTPOST_FATAL, "maildir: out of memory");
    FILE *f = NULL;
    struct md_stat st;
    int err = md_stat(path, &st);
    if (err == 0 && with_content) {
        f = fopen(path, "rb");
        if (f == NULL)
            err = errno;
    }
    if (err != 0) {
        outpost_status s = err == ENOENT
            ? md_fail(t, OUTPOST_GONE, "maildir: message %s is gone (renamed or deleted meanwhile)", rid)
            : md_fail(t, OUTPOST_TEMP, "maildir: cannot read %s: %s", path, strerror(err));
        free(path);
        return s;
    }

    outpost_item it;
    memset(&it, 0, sizeof it);
    it.struct_size = sizeof it;
    it.kind = OUTPOST_ITEM_MAIL;
    it.remote_id = rid;
    it.flags = md_flags_of_name(name);
    it.internal_date = st.mtime_ms;
    it.size = st.size;
    it.content_state = with_content ? OUTPOST_CONTENT_COMPLETE : OUTPOST_CONTENT_NONE;
    outpost_status s = sink->item(sink->ctx, change, &it);
    while (s.code == OUTPOST_OK && f != NULL) {
        size_t got = fread(t->chunk, 1, MD_CHUNK, f);
        if (got > 0)
            s = sink->content(sink->ctx, t->chunk, got);
        if (got < MD_CHUNK) {
            if (ferror(f))
                s = md_fail(t, OUTPOST_TEMP, "maildir: read error in %s", path);
            else if (s.code == OUTPOST_OK)
                s = sink->content_end(sink->ctx);
            break;
        }
    }
    if (f != NULL)
        fclose(f);
    free(path);
    /* cppcheck-suppress returnDanglingLifetime ; a sink's message is the sink's, not `it` */
    return s;
}

/* ---- lifecycle ------------------------------------------------------------ */

static outpost_status md_static_fail(int32_t cls, const char *msg)
{
    /* create() has no instance to own a message yet: use static text. */
    outpost_status s = { cls, 0, msg };
    return s;
}

static outpost_status md_create(const struct outpost_host *host, struct outpost_transport **out)
{
    if (host == NULL || host->struct_size < offsetof(struct outpost_host, store) || host->abi_major != OUTPOST_ABI_MAJOR)
        return md_static_fail(OUTPOST_FATAL, "maildir: host table too old for this plugin");
    const char *root = host->config_get(host, "maildir");
    if (root == NULL || root[0] == '\0')
        return md_static_fail(OUTPOST_BAD_DATA,
                              "maildir: [account] maildir is not set: give the path of the Maildir++ tree to serve");

    struct outpost_transport *t = calloc(1, sizeof *t);
    if (t == NULL)
        return md_static_fail(OUTPOST_FATAL, "maildir: out of memory");
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        n--;
    t->root = malloc(n + 1);
    t->chunk = malloc(MD_CHUNK);
    if (t->root == NULL || t->chunk == NULL) {
        free(t->root);
        free(t->chunk);
        free(t);
        return md_static_fail(OUTPOST_FATAL, "maildir: out of memory");
    }
    memcpy(t->root, root, n);
    t->root[n] = '\0';
    t->host = host;
    *out = t;
    return outpost_ok();
}

static outpost_status md_check_dir(struct outpost_transport *t, const char *a, const char *b)
{
    char *path = b != NULL ? md_join(a, b, NULL) : md_join(a, ".", NULL);
    if (path == NULL)
        return md_fail(t, OUTPOST_FATAL, "maildir: out of memory");
    struct md_stat st;
    int err = md_stat(path, &st);
    free(path);
    if (err != 0)
        return md_fail(t, OUTPOST_FATAL, "maildir: %s%s%s: %s (check [account] maildir)", a, b ? "/" : "",
                       b ? b : "", strerror(err));
    if (!st.is_dir)
        return md_fail(t, OUTPOST_FATAL, "maildir: %s%s%s is not a directory (check [account] maildir)", a,
                       b ? "/" : "", b ? b : "");
    return outpost_ok();
}

static outpost_status md_open(struct outpost_transport *t)
{
    outpost_status s = md_check_dir(t, t->root, NULL);
    if (s.code == OUTPOST_OK)
        s = md_check_dir(t, t->root, "cur");
    if (s.code == OUTPOST_OK)
        s = md_check_dir(t, t->root, "new");
    if (s.code != OUTPOST_OK)
        return s;
    t->data_dir = t->host->data_dir != NULL ? t->host->data_dir(t->host) : NULL;
    if (t->data_dir == NULL)
        return md_fail(t, OUTPOST_FATAL, "maildir: the host gives no data directory for the listing snapshots");
    s = md_check_dir(t, t->data_dir, NULL);
    if (s.code != OUTPOST_OK)
        return s;
    t->opened = 1;
    return outpost_ok();
}

static outpost_status md_close(struct outpost_transport *t)
{
    t->opened = 0;
    return outpost_ok();
}

static void md_destroy(struct outpost_transport *t)
{
    if (t == NULL)
        return;
    free(t->root);
    free(t->chunk);
    free(t);
}

static outpost_status md_not_open(struct outpost_transport *t)
{
    return md_fail(t, OUTPOST_FATAL, "maildir: called before open()");
}

/* ---- hierarchy -------------------------------------------------------------- */

/* One folder of the hierarchy: its remote id and OUTPOST_FOLDER_* flags. */
struct md_folder_ent {
    char *rid;
    uint32_t flags;
};

struct md_folder_list {
    struct md_folder_ent *v;
    size_t n, cap;
};

static int md_folders_add(struct md_folder_list *l, const char *rid, size_t len, uint32_t flags)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct md_folder_ent *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    char *s = malloc(len + 1);
    if (s == NULL)
        return ENOMEM;
    memcpy(s, rid, len);
    s[len] = '\0';
    l->v[l->n].rid = s;
    l->v[l->n].flags = flags;
    l->n++;
    return 0;
}

static void md_folders_free(struct md_folder_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].rid);
    free(l->v);
}

static int md_folder_ent_cmp(const void *a, const void *b)
{
    return strcmp(((const struct md_folder_ent *)a)->rid, ((const struct md_folder_ent *)b)->rid);
}

static int md_name_is(const char *name, const char *const *words)
{
    for (; *words != NULL; words++) {
        const char *a = name, *b = *words;
        while (*a != '\0' && tolower((unsigned char)*a) == tolower((unsigned char)*b))
            a++, b++;
        if (*a == '\0' && *b == '\0')
            return 1;
    }
    return 0;
}

static uint32_t md_special_use(const char *rid)
{
    static const char *const sent[] = { "Sent", "Sent Items", "Sent Messages", NULL };
    static const char *const drafts[] = { "Drafts", NULL };
    static const char *const trash[] = { "Trash", "Deleted Items", "Deleted Messages", NULL };
    static const char *const junk[] = { "Junk", "Spam", "Junk E-mail", NULL };
    static const char *const archive[] = { "Archive", "Archives", NULL };
    if (strcmp(rid, "INBOX") == 0)
        return OUTPOST_USE_INBOX;
    if (strchr(rid + 1, '.') != NULL)
        return OUTPOST_USE_NONE; /* only top-level folders have a special use */
    const char *name = rid + 1;
    if (md_name_is(name, sent)) return OUTPOST_USE_SENT;
    if (md_name_is(name, drafts)) return OUTPOST_USE_DRAFTS;
    if (md_name_is(name, trash)) return OUTPOST_USE_TRASH;
    if (md_name_is(name, junk)) return OUTPOST_USE_JUNK;
    if (md_name_is(name, archive)) return OUTPOST_USE_ARCHIVE;
    return OUTPOST_USE_NONE;
}

/* Lists the tree: INBOX, every ".A.B" directory that holds cur/, and any
 * missing ancestor as a NOSELECT container; sorted by remote id (a parent
 * sorts before its children), no duplicates. */
static outpost_status md_list_folders(struct outpost_transport *t, struct md_folder_list *l)
{
    struct md_dir *d;
    int err = md_dir_open(t->root, &d);
    if (err != 0)
        return md_fail(t, OUTPOST_TEMP, "maildir: cannot list %s: %s", t->root, strerror(err));
    if (md_folders_add(l, "INBOX", 5, OUTPOST_FOLDER_SUBSCRIBED) != 0)
        err = ENOMEM;
    const char *name;
    while (err == 0 && (name = md_dir_next(d, &err)) != NULL) {
        if (!md_valid_folder_rid(name))
            continue;
        char *cur = md_join(t->root, name, "cur");
        struct md_stat st;
        int is_folder = cur != NULL && md_stat(cur, &st) == 0 && st.is_dir;
        free(cur);
        if (!is_folder)
            continue;
        err = md_folders_add(l, name, strlen(name), OUTPOST_FOLDER_SUBSCRIBED);
        /* Ancestors: ".A" and ".A.B" for ".A.B.C"; duplicates are merged below. */
        for (const char *p = strchr(name + 1, '.'); err == 0 && p != NULL; p = strchr(p + 1, '.'))
            err = md_folders_add(l, name, (size_t)(p - name), OUTPOST_FOLDER_NOSELECT);
    }
    md_dir_close(d);
    if (err != 0)
        return md_fail(t, OUTPOST_TEMP, "maildir: listing %s: %s", t->root, strerror(err));
    qsort(l->v, l->n, sizeof *l->v, md_folder_ent_cmp);
    size_t w = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (w > 0 && strcmp(l->v[w - 1].rid, l->v[i].rid) == 0) {
            if (!(l->v[i].flags & OUTPOST_FOLDER_NOSELECT))
                l->v[w - 1].flags = l->v[i].flags; /* a real folder beats a placeholder */
            free(l->v[i].rid);
            continue;
        }
        l->v[w++] = l->v[i];
    }
    l->n = w;
    return outpost_ok();
}

static outpost_status md_report_folder(struct outpost_transport *t, uint32_t change, const char *rid,
                                       uint32_t flags, const struct outpost_sync_sink *sink)
{
    char parent[MD_NAME_MAX + 1];
    const char *last = strcmp(rid, "INBOX") == 0 ? NULL : strrchr(rid, '.');
    outpost_folder f;
    memset(&f, 0, sizeof f);
    f.struct_size = sizeof f;
    f.kind = OUTPOST_ITEM_MAIL;
    f.remote_id = rid;
    f.name = last != NULL ? last + 1 : rid;
    if (last != NULL && last > rid) {
        memcpy(parent, rid, (size_t)(last - rid));
        parent[last - rid] = '\0';
        f.parent_remote_id = parent;
    }
    f.special_use = md_special_use(rid);
    f.flags = flags;
    (void)t;
    /* cppcheck-suppress returnDanglingLifetime ; a sink's message is the sink's, not `f` */
    return sink->folder(sink->ctx, change, &f);
}

/* Hierarchy state: "outpost-maildir-hier 1\n" then "<rid>\t<flags>\n" per
 * folder, sorted as md_list_folders sorts. A tree has few folders, so this one
 * state (unlike a folder's listing) is held whole. */
static const char md_hier_magic[] = "outpost-maildir-hier 1\n";

static outpost_status md_parse_hier_state(struct outpost_transport *t, const char *state, size_t len,
                                          struct md_folder_list *old)
{
    size_t mlen = sizeof md_hier_magic - 1;
    if (len < mlen || memcmp(state, md_hier_magic, mlen) != 0)
        return md_fail(t, OUTPOST_STATE_INVALID, "maildir: hierarchy state not from this plugin version");
    const char *p = state + mlen, *end = state + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *tab = nl != NULL ? memchr(p, '\t', (size_t)(nl - p)) : NULL;
        if (tab == NULL || tab == p)
            return md_fail(t, OUTPOST_STATE_INVALID, "maildir: hierarchy state is damaged");
        uint32_t flags = 0;
        for (const char *q = tab + 1; q < nl; q++) {
            if (*q < '0' || *q > '9')
                return md_fail(t, OUTPOST_STATE_INVALID, "maildir: hierarchy state is damaged");
            flags = flags * 10 + (uint32_t)(*q - '0');
        }
        if (md_folders_add(old, p, (size_t)(tab - p), flags) != 0)
            return md_fail(t, OUTPOST_FATAL, "maildir: out of memory");
        p = nl + 1;
    }
    return outpost_ok();
}

static outpost_status md_sync_hierarchy(struct outpost_transport *t, const void *state, size_t len,
                                        const struct outpost_sync_sink *sink)
{
    if (!t->opened)
        return md_not_open(t);
    struct md_folder_list now = { 0 }, old = { 0 };
    char *out = NULL;
    outpost_status s = md_list_folders(t, &now);
    if (s.code == OUTPOST_OK && state != NULL)
        s = md_parse_hier_state(t, state, len, &old);

    /* Deletions first, children before parents (reverse order). */
    for (size_t i = old.n, j = now.n; s.code == OUTPOST_OK && i > 0; i--) {
        while (j > 0 && strcmp(now.v[j - 1].rid, old.v[i - 1].rid) > 0)
            j--;
        if (j == 0 || strcmp(now.v[j - 1].rid, old.v[i - 1].rid) != 0)
            s = md_report_folder(t, OUTPOST_CHANGE_DELETE, old.v[i - 1].rid, old.v[i - 1].flags, sink);
    }
    /* Then additions and changes, parents before children. */
    size_t need = sizeof md_hier_magic;
    for (size_t i = 0, j = 0; s.code == OUTPOST_OK && i < now.n; i++) {
        while (j < old.n && strcmp(old.v[j].rid, now.v[i].rid) < 0)
            j++;
        if (j == old.n || strcmp(old.v[j].rid, now.v[i].rid) != 0)
            s = md_report_folder(t, OUTPOST_CHANGE_ADD, now.v[i].rid, now.v[i].flags, sink);
        else if (old.v[j].flags != now.v[i].flags)
            s = md_report_folder(t, OUTPOST_CHANGE_UPDATE, now.v[i].rid, now.v[i].flags, sink);
        need += strlen(now.v[i].rid) + 12;
    }
    if (s.code == OUTPOST_OK && (out = malloc(need)) == NULL)
        s = md_fail(t, OUTPOST_FATAL, "maildir: out of memory");
    if (s.code == OUTPOST_OK) {
        size_t off = (size_t)snprintf(out, need, "%s", md_hier_magic);
        for (size_t i = 0; i < now.n; i++)
            off += (size_t)snprintf(out + off, need - off, "%s\t%u\n", now.v[i].rid, (unsigned)now.v[i].flags);
        s = sink->commit(sink->ctx, out, off);
    }
    free(out);
    md_folders_free(&now);
    md_folders_free(&old);
    return s;
}

/* ---- fetch ---------------------------------------------------------------- */

/* Finds the file of message `rid` in <folder>/cur or <folder>/new and streams
 * it. GONE when no file has that unique name. */
static outpost_status md_fetch_one(struct outpost_transport *t, const char *fdir, const char *rid,
                                   const struct outpost_sync_sink *sink)
{
    static const char *const subs[] = { "cur", "new" };
    size_t rlen = strlen(rid);
    if (rlen == 0 || rlen > MD_NAME_MAX || strchr(rid, '/') != NULL || strchr(rid, ':') != NULL)
        return md_fail(t, OUTPOST_GONE, "maildir: no message has the id '%.64s'", rid);
    for (size_t k = 0; k < 2; k++) {
        char *dir = md_join(fdir, subs[k], NULL);
        struct md_dir *d = NULL;
        int err = dir != NULL ? md_dir_open(dir, &d) : ENOMEM;
        if (err != 0) {
            free(dir);
            return md_fail(t, OUTPOST_TEMP, "maildir: cannot list %s/%s: %s", fdir, subs[k], strerror(err));
        }
        const char *name;
        char found[MD_NAME_MAX + 1] = "";
        while ((name = md_dir_next(d, &err)) != NULL) {
            if (md_unique_len(name) == rlen && memcmp(name, rid, rlen) == 0 && strlen(name) <= MD_NAME_MAX) {
                strcpy(found, name);
                break;
            }
        }
        md_dir_close(d);
        outpost_status s;
        if (found[0] != '\0')
            s = md_emit_message(t, dir, found, OUTPOST_CHANGE_UPDATE, 1, sink);
        else if (err != 0)
            s = md_fail(t, OUTPOST_TEMP, "maildir: listing %s: %s", dir, strerror(err));
        else
            s = outpost_ok();
        free(dir);
        if (found[0] != '\0' || s.code != OUTPOST_OK)
            return s;
    }
    return md_fail(t, OUTPOST_GONE, "maildir: message %s is not in the folder", rid);
}

static outpost_status md_fetch(struct outpost_transport *t, const outpost_folder *folder,
                               const char *const *remote_ids, uint32_t n, const struct outpost_sync_sink *sink)
{
    if (!t->opened)
        return md_not_open(t);
    char *fdir = md_folder_path(t, folder != NULL ? folder->remote_id : NULL);
    if (fdir == NULL)
        return md_fail(t, OUTPOST_GONE, "maildir: no such folder '%.64s'",
                       folder != NULL && folder->remote_id != NULL ? folder->remote_id : "(none)");
    outpost_status s = outpost_ok();
    for (uint32_t i = 0; i < n && s.code == OUTPOST_OK; i++) {
        if (t->host->cancelled(t->host)) {
            s = md_fail(t, OUTPOST_TEMP, "maildir: cancelled");
            break;
        }
        s = md_fetch_one(t, fdir, remote_ids[i], sink);
        if (s.code == OUTPOST_GONE) /* per-item failure: report it and go on */
            s = sink->item_failed(sink->ctx, i, s);
    }
    free(fdir);
    if (s.code == OUTPOST_OK)
        s = sink->commit(sink->ctx, NULL, 0);
    return s;
}

/* ---- writing: refused, this is a read-only source ------------------------------ */

static outpost_status md_write(struct outpost_transport *t, const outpost_change *change, outpost_change_result *res)
{
    (void)change;
    (void)res;
    return md_fail(t, OUTPOST_BAD_DATA, "maildir: the maildir transport is read-only: local changes stay local");
}

static outpost_status md_find(struct outpost_transport *t, const char *folder_remote_id, uint32_t kind,
                              const char *key, outpost_change_result *res)
{
    (void)folder_remote_id;
    (void)kind;
    (void)key;
    (void)res;
    /* Nothing is ever created through this transport, so nothing is found. */
    return md_fail(t, OUTPOST_GONE, "maildir: read-only source: nothing was created here");
}

/* ---- descriptor ----------------------------------------------------------------- */

static const outpost_config_key md_config_keys[] = {
    { "maildir", OUTPOST_CFG_PATH, 1, NULL, NULL, "Maildir++ tree to serve read-only (INBOX is its top)" },
    { NULL, 0, 0, NULL, NULL, NULL }
};

static const struct outpost_transport_methods md_methods = {
    .struct_size = sizeof(struct outpost_transport_methods),
    .create = md_create,
    .open = md_open,
    .close = md_close,
    .destroy = md_destroy,
    .sync_hierarchy = md_sync_hierarchy,
    .sync_folder = md_sync_folder,
    .fetch = md_fetch,
    .write = md_write,
    .find = md_find,
    .wait_changes = NULL, /* no OUTPOST_TRANSPORT_CAP_PUSH */
};

static const struct outpost_plugin md_plugin = {
    .struct_size = sizeof(struct outpost_plugin),
    .abi_major = OUTPOST_ABI_MAJOR,
    .abi_minor = OUTPOST_ABI_MINOR,
    .kind = OUTPOST_KIND_TRANSPORT,
    .name = "maildir",
    .version = MD_PLUGIN_VERSION,
    .description = "Serves a local Maildir++ tree read-only (example plugin; imports)",
    .caps = 0, /* no write capabilities, no push */
    .section = "account",
    .config_keys = md_config_keys,
    .module_init = NULL,
    .module_fini = NULL,
    .methods = &md_methods,
};

OUTPOST_EXPORT const struct outpost_plugin *OUTPOST_PLUGIN_ENTRY(void)
{
    return &md_plugin;
}
