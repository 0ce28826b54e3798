/* bench/imap/imap_load.c — loads a Maildir into an Outpost cache, as a sync
 * would have left it: the very bytes Dovecot serves, in the same order.
 *
 *   outpost-bench-imap-load CONFIG MAILDIR
 *   outpost-bench-imap-load CONFIG --fts-only
 *
 * The cache named by CONFIG gets a folder "Inbox" (special use inbox) holding
 * every file of MAILDIR/cur in file-name order, with the flags after ":2,"
 * and the file's mtime as internal date. Items go in the way the sync engine
 * stores server mail: outpost_store_write_begin, the storage's item_put /
 * content_write / content_finish, the summary computed by core/summary.c,
 * no journal entries (the mail came from the server), LOAD_BATCH items a
 * transaction. Then the full-text index is built, as idle-time indexing
 * would have done before anyone searches.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "app.h"
#include "session.h"
#include "store.h"
#include "summary.h"

#define LOAD_BATCH 2000
#define INBOX_REMOTE_ID "bench:INBOX"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int fail(const char *what, outpost_status st)
{
    fprintf(stderr, "outpost-bench-imap-load: %s: %s\n", what, st.message ? st.message : outpost_status_class_name(st.code));
    return 1;
}

static uint32_t maildir_flags(const char *name)
{
    const char *p = strstr(name, ":2,");
    uint32_t f = 0;
    for (p = p ? p + 3 : ""; *p; p++) {
        switch (*p) {
        case 'S': f |= OUTPOST_FLAG_SEEN; break;
        case 'R': f |= OUTPOST_FLAG_ANSWERED; break;
        case 'F': f |= OUTPOST_FLAG_FLAGGED; break;
        case 'T': f |= OUTPOST_FLAG_DELETED; break;
        case 'D': f |= OUTPOST_FLAG_DRAFT; break;
        default: break;
        }
    }
    return f;
}

static char **list_dir(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    size_t cap = 1024;
    char **v = malloc(cap * sizeof *v);
    *n = 0;
    struct dirent *e;
    while (v && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (*n == cap) {
            char **nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv)
                break;
            v = nv;
        }
        v[(*n)++] = strdup(e->d_name);
    }
    closedir(d);
    if (v)
        qsort(v, *n, sizeof *v, cmp_str);
    return v;
}

/* The bench Inbox's local id, created when absent. */
static outpost_status ensure_inbox(struct outpost_store *store, int64_t *id)
{
    const struct outpost_storage_methods *m = outpost_store_methods(store);
    struct outpost_txn *t;
    outpost_status st = outpost_store_write_begin(store, &t);
    if (st.code != OUTPOST_OK)
        return st;
    const outpost_folder *cur;
    st = m->folder_find_remote(t, INBOX_REMOTE_ID, &cur);
    if (st.code == OUTPOST_OK) {
        *id = cur->id;
    } else {
        outpost_folder f;
        memset(&f, 0, sizeof f);
        f.struct_size = sizeof f;
        f.kind = OUTPOST_ITEM_MAIL;
        f.remote_id = INBOX_REMOTE_ID;
        f.name = "Inbox";
        f.special_use = OUTPOST_USE_INBOX;
        f.flags = OUTPOST_FOLDER_SUBSCRIBED;
        st = m->folder_create(t, &f, id);
    }
    if (st.code != OUTPOST_OK) {
        outpost_store_write_rollback(store, t);
        return st;
    }
    return outpost_store_write_commit(store, t);
}

static outpost_status load_one(const struct outpost_storage_methods *m, struct outpost_txn *t, int64_t folder,
                               const char *path, const char *name, uint64_t seq, char **buf, size_t *cap,
                               uint64_t *bytes)
{
    FILE *f = fopen(path, "rb");
    struct stat sb;
    if (!f || fstat(fileno(f), &sb) != 0) {
        if (f)
            fclose(f);
        return (outpost_status){ OUTPOST_FATAL, 0, strerror(errno) };
    }
    size_t len = (size_t)sb.st_size;
    if (len + 1 > *cap) {
        char *nb = realloc(*buf, len + 1);
        if (!nb) {
            fclose(f);
            return (outpost_status){ OUTPOST_FATAL, 0, "out of memory" };
        }
        *buf = nb;
        *cap = len + 1;
    }
    size_t got = fread(*buf, 1, len, f);
    fclose(f);
    if (got != len)
        return (outpost_status){ OUTPOST_FATAL, 0, "short read" };
    *bytes += len;

    outpost_item it;
    memset(&it, 0, sizeof it);
    it.struct_size = sizeof it;
    struct outpost_summary arena;
    outpost_summary_init(&arena);
    char err[256];
    if (outpost_summary_compute(OUTPOST_ITEM_MAIL, *buf, len, &it, &arena, err, sizeof err) != 0) {
        fprintf(stderr, "outpost-bench-imap-load: %s: %s\n", name, err);
        outpost_summary_release(&arena);
        return (outpost_status){ OUTPOST_BAD_DATA, 0, "unparseable message" };
    }
    char remote[64];
    snprintf(remote, sizeof remote, "bench:%llu", (unsigned long long)seq);
    it.folder_id = folder;
    it.kind = OUTPOST_ITEM_MAIL;
    it.remote_id = remote;
    it.flags = maildir_flags(name);
    it.internal_date = (int64_t)sb.st_mtime * 1000;
    if (!it.date)
        it.date = it.internal_date;
    it.content_state = OUTPOST_CONTENT_NONE;
    outpost_status st = m->item_put(t, &it);
    if (st.code == OUTPOST_OK)
        st = m->content_write(t, it.id, 0, *buf, len);
    if (st.code == OUTPOST_OK)
        st = m->content_finish(t, it.id, OUTPOST_CONTENT_COMPLETE);
    outpost_summary_release(&arena);
    return st;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: outpost-bench-imap-load CONFIG MAILDIR\n");
        return 2;
    }
    char err[2048];
    struct outpost_app app;
    if (outpost_app_load(&app, argv[1], 0, err, sizeof err) != 0) {
        fprintf(stderr, "outpost-bench-imap-load: %s\n", err);
        return 1;
    }
    struct outpost_session s;
    if (outpost_session_open(&s, &app, 0, err, sizeof err) != 0) {
        fprintf(stderr, "outpost-bench-imap-load: %s\n", err);
        return 1;
    }
    int rc = 1;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/cur", argv[2]);
    size_t n = 0;
    int fts_only = !strcmp(argv[2], "--fts-only");
    char **names = fts_only ? calloc(1, sizeof *names) : list_dir(dir, &n);
    if (!names) {
        fprintf(stderr, "outpost-bench-imap-load: %s: %s\n", dir, strerror(errno));
        goto out;
    }
    int64_t folder;
    outpost_status st = ensure_inbox(s.store, &folder);
    if (st.code != OUTPOST_OK) {
        rc = fail("creating the Inbox", st);
        goto out;
    }
    const struct outpost_storage_methods *m = outpost_store_methods(s.store);
    double t0 = now_s();
    char *buf = NULL;
    size_t cap = 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < n;) {
        struct outpost_txn *t;
        if ((st = outpost_store_write_begin(s.store, &t)).code != OUTPOST_OK) {
            rc = fail("write_begin", st);
            goto out_buf;
        }
        size_t end = i + LOAD_BATCH < n ? i + LOAD_BATCH : n;
        for (; i < end; i++) {
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            st = load_one(m, t, folder, path, names[i], i, &buf, &cap, &bytes);
            if (st.code != OUTPOST_OK) {
                outpost_store_write_rollback(s.store, t);
                rc = fail(names[i], st);
                goto out_buf;
            }
        }
        if ((st = outpost_store_write_commit(s.store, t)).code != OUTPOST_OK) {
            rc = fail("commit", st);
            goto out_buf;
        }
    }
    double t1 = now_s();
    fprintf(stderr, "loaded %zu messages (%.0f MB) in %.1f s (%.0f msg/s)\n", n, bytes / 1e6, t1 - t0,
            n / (t1 - t0 > 0 ? t1 - t0 : 1));
    if ((s.os.plugin->desc->caps & OUTPOST_STORAGE_CAP_FTS) &&
        OUTPOST_HAS_METHOD(m, struct outpost_storage_methods, fts_index)) {
        uint64_t remaining = 1;
        while (remaining) {
            struct outpost_txn *t = NULL;
            uint32_t done = 0;
            if ((st = outpost_store_write_begin(s.store, &t)).code != OUTPOST_OK ||
                (st = m->fts_index(t, 10000, &done, &remaining)).code != OUTPOST_OK) {
                if (t)
                    outpost_store_write_rollback(s.store, t);
                rc = fail("fts_index", st);
                goto out_buf;
            }
            if ((st = outpost_store_write_commit(s.store, t)).code != OUTPOST_OK) {
                rc = fail("commit", st);
                goto out_buf;
            }
            if (!done)
                break;
        }
        fprintf(stderr, "full-text index built in %.1f s\n", now_s() - t1);
    }
    rc = 0;
out_buf:
    free(buf);
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    outpost_session_close(&s);
    outpost_app_free(&app);
    return rc;
}
