/* tests/imap/imap_harness.c — a small daemon for the IMAP tests: the IMAP
 * front-end plugin served from the real core store over the real storage
 * plugin named in the config ([storage] plugin = sqlite).
 *
 * It loads the config, opens the storage and the core store, and seeds the
 * cache (unless it holds the seeded Inbox already: a restart on an earlier run's data_dir) the way the sync engine applies a server's listing: folders with
 * their special use and items with remote ids, summaries computed by the
 * core from the fixture's complete MIME, content written through the storage
 * in one write transaction of the store (outpost_store_write_begin/commit),
 * never journaled. A fixture named *uncached* gets its summary only, as with
 * the `headers` policy. Then it loads outpost-frontend-imap through the
 * plugin loader and starts it with a host bound to the store.
 *
 * The harness plays the sync engine's part for the store
 * (outpost_store_set_engine): online state, and on-demand content that it
 * "fetches from the server" (the fixture file named by the item's remote id)
 * and writes like the engine's fetch worker (content_write, content_finish,
 * an OUTPOST_EVENT_CONTENT event, commit).
 *
 * Control: one command a line on stdin; the answer goes to stdout and ends
 * with a line ".". Logs go to stderr.
 *   online | offline          the server becomes reachable / unreachable
 *   deliver FILE [FLAGS]      a new message from the server into INBOX
 *                             (FILE relative to the fixture directory)
 *   flags UID FLAGS [KW...]   the server changed a message's flags in INBOX
 *   expunge UID               the server deleted a message of INBOX
 *   folder NAME               the server created a mail folder NAME (the rest of the line) at the top level
 *   rmfolder NAME             the server deleted the folder NAME that `folder` made
 *   mvfolder NAME NEW         the server renamed the folder NAME that `folder` made to NEW (no spaces)
 *   meta KEY                  the account-level value KEY as the storage holds it ("gone" when absent)
 *   folders N                 the server created N mail folders in one sync: Bulk000/F00000 ... with up
 *                             to 100 below each top-level Bulk### (bench/imap's LIST benchmark)
 *   race UID FLAGS            arms a change that lands between a front-end's flag check and its write:
 *                             the next set_flags or set_flags_unchanged call of the front-end first
 *                             commits the server change of `flags UID FLAGS` (a write transaction of
 *                             its own, as the sync engine's), then goes on to the store. Once.
 *   race UID expunge          the same with the server change `expunge UID`
 *   journal                   every journal entry, one a line:
 *                             seq= op= state= item= uid= folder= target= flags= keywords= name=
 * SIGTERM/SIGINT or the end of stdin stop it; SIGHUP reloads the config and calls the plugin's
 * reload() as outpostd does.
 *
 * usage: imap_harness CONFIG FIXTURE_DIR
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <dirent.h>

#include <outpost/frontend.h>

#include "app.h"
#include "config.h"
#include "host.h"
#include "loader.h"
#include "platform/platform.h"
#include "report.h"
#include "store.h"
#include "summary.h"

#define REMOTE_PREFIX "fixture:"

struct harness {
    struct outpost_app app;
    struct outpost_open_storage os;
    struct outpost_store *store;
    const struct outpost_storage_methods *m;
    const char *fixtures;
    atomic_int online;
    atomic_int fetches;
    int64_t inbox;
    /* `race`: the server flag change armed for the next flag edit of the front-end */
    atomic_int race_armed;
    /* atomic: the front-end's thread reads them while the control thread may arm the next */
    _Atomic uint32_t race_uid, race_flags;
    atomic_int race_expunge; /* the armed change is an expunge of race_uid, not a flag change */
    const struct outpost_store_api *real_api; /* the store's table behind the front-end's host */
    struct outpost_store_api race_api;        /* a copy whose flag edits run the armed change first */
};

static struct harness hs;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[n] = '\0';
        *len = (size_t)n;
    }
    return b;
}

static char *fixture_path(const struct harness *hs, const char *name)
{
    size_t n = strlen(hs->fixtures) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", hs->fixtures, name);
    return p;
}

static int failed(outpost_status st, const char *what)
{
    if (st.code == OUTPOST_OK)
        return 0;
    fprintf(stderr, "imap_harness: %s: %s\n", what, st.message ? st.message : outpost_status_class_name(st.code));
    return 1;
}

/* ---- the server's side, applied as the sync engine applies it ---------- */

static int64_t server_folder(struct harness *hs, struct outpost_txn *t, int64_t parent, const char *remote_id,
                             const char *name, uint32_t kind, uint32_t use)
{
    outpost_folder f;
    memset(&f, 0, sizeof f);
    f.struct_size = sizeof f;
    f.kind = kind;
    f.parent_id = parent;
    f.remote_id = remote_id;
    f.name = name;
    f.special_use = use;
    f.flags = OUTPOST_FOLDER_SUBSCRIBED;
    int64_t id = 0;
    if (failed(hs->m->folder_create(t, &f, &id), name))
        return -1;
    return id;
}

/* A message the server lists: summary from the complete MIME; content
 * cached unless `summary_only` (fetched on demand later). */
static outpost_status server_item(struct harness *hs, struct outpost_txn *t, int64_t folder, const char *name,
                                  uint32_t flags, int64_t internal_date, int summary_only, uint32_t *uid)
{
    char *path = fixture_path(hs, name);
    size_t len = 0;
    char *mime = path ? slurp(path, &len) : NULL;
    free(path);
    outpost_status st = { OUTPOST_BAD_DATA, 0, "cannot read the fixture" };
    if (!mime)
        return st;
    char remote[512], err[256];
    snprintf(remote, sizeof remote, REMOTE_PREFIX "%s", name);
    outpost_item it;
    memset(&it, 0, sizeof it);
    it.struct_size = sizeof it;
    it.kind = OUTPOST_ITEM_MAIL;
    it.folder_id = folder;
    it.remote_id = remote;
    it.remote_version = "1";
    it.flags = flags;
    it.internal_date = internal_date;
    struct outpost_summary arena;
    outpost_summary_init(&arena);
    if (outpost_summary_compute(OUTPOST_ITEM_MAIL, mime, len, &it, &arena, err, sizeof err) != 0) {
        fprintf(stderr, "imap_harness: summary of %s: %s\n", name, err);
        st.message = "no summary";
        goto out;
    }
    it.content_state = summary_only ? OUTPOST_CONTENT_SUMMARY : OUTPOST_CONTENT_NONE;
    st = hs->m->item_put(t, &it);
    if (st.code == OUTPOST_OK && !summary_only) {
        st = hs->m->content_write(t, it.id, 0, mime, len);
        if (st.code == OUTPOST_OK)
            st = hs->m->content_finish(t, it.id, OUTPOST_CONTENT_COMPLETE);
    }
    if (uid)
        *uid = it.uid;
out:
    outpost_summary_release(&arena);
    free(mime);
    return st;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int seed(struct harness *hs)
{
    struct outpost_txn *t;
    if (failed(outpost_store_write_begin(hs->store, &t), "seeding"))
        return -1;
    /* a restart on the cache of an earlier run (the data_dir kept): it is seeded already */
    struct outpost_cursor *cur;
    const void *row = NULL;
    int seeded = 0;
    if (hs->m->folder_list(t, &cur).code == OUTPOST_OK) {
        while (!seeded && hs->m->cursor_next(cur, &row).code == OUTPOST_OK && row) {
            const outpost_folder *f = row;
            seeded = f->remote_id && !strcmp(f->remote_id, "srv:inbox");
        }
        hs->m->cursor_close(cur);
    }
    if (seeded) {
        outpost_store_write_rollback(hs->store, t);
        return 0;
    }
    const uint32_t MAIL = OUTPOST_ITEM_MAIL;
    int64_t inbox = server_folder(hs, t, 0, "srv:inbox", "Inbox", MAIL, OUTPOST_USE_INBOX);
    int64_t archive = server_folder(hs, t, 0, "srv:archive", "Archive", MAIL, OUTPOST_USE_ARCHIVE);
    int64_t rest[] = {
        server_folder(hs, t, archive, "srv:archive/2023", "2023", MAIL, 0),
        server_folder(hs, t, 0, "srv:sent", "Sent Items", MAIL, OUTPOST_USE_SENT),
        server_folder(hs, t, 0, "srv:calendar", "Calendar", OUTPOST_ITEM_EVENT, 0),
        server_folder(hs, t, 0, "srv:contacts", "Contacts", OUTPOST_ITEM_CONTACT, 0),
        server_folder(hs, t, 0, "srv:projekte", "Projekte \xc3\xa4\xc3\xb6\xc3\xbc", MAIL, 0),
    };
    int bad = inbox < 0 || archive < 0;
    for (size_t i = 0; i < sizeof rest / sizeof *rest; i++)
        bad |= rest[i] < 0;
    DIR *d = bad ? NULL : opendir(hs->fixtures);
    if (!d) {
        fprintf(stderr, "imap_harness: cannot seed from %s\n", hs->fixtures);
        outpost_store_write_rollback(hs->store, t);
        return -1;
    }
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256)
        if (strstr(e->d_name, ".eml"))
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    const int64_t t0 = 1700000000000LL;
    outpost_status st = outpost_ok();
    for (size_t i = 0; i < n; i++) {
        if (st.code == OUTPOST_OK) {
            int64_t folder = strstr(names[i], "archive") ? archive : inbox;
            uint32_t flags = strstr(names[i], "seen") ? OUTPOST_FLAG_SEEN : 0;
            st = server_item(hs, t, folder, names[i], flags, t0 + (int64_t)i * 86400000LL,
                             strstr(names[i], "uncached") != NULL, NULL);
            if (st.code != OUTPOST_OK)
                fprintf(stderr, "imap_harness: seeding %s\n", names[i]);
        }
        free(names[i]);
    }
    if (failed(st, "seeding")) {
        outpost_store_write_rollback(hs->store, t);
        return -1;
    }
    hs->inbox = inbox;
    return failed(outpost_store_write_commit(hs->store, t), "seeding") ? -1 : 0;
}

/* ---- engine hooks ------------------------------------------------------- */

/* On-demand content: what the engine's fetch worker does with the bytes the
 * transport returns. */
static outpost_status hook_request_content(void *ctx, int64_t item_id, uint32_t timeout_ms)
{
    (void)timeout_ms;
    struct harness *hs = ctx;
    static const outpost_status offline = { OUTPOST_TEMP, 0, "offline: the server cannot be reached" };
    static const outpost_status unavailable = { OUTPOST_GONE, 0, "content unavailable" };
    if (!atomic_load(&hs->online))
        return offline;
    atomic_fetch_add(&hs->fetches, 1);
    struct outpost_txn *t;
    outpost_status st = outpost_store_write_begin(hs->store, &t);
    if (st.code != OUTPOST_OK)
        return st;
    const outpost_item *it;
    char *mime = NULL, *path = NULL;
    size_t len = 0;
    int64_t folder = 0;
    st = hs->m->item_get(t, item_id, &it);
    if (st.code == OUTPOST_OK && it->content_state == OUTPOST_CONTENT_COMPLETE) {
        outpost_store_write_rollback(hs->store, t);
        return outpost_ok();
    }
    if (st.code == OUTPOST_OK && it->remote_id && !strncmp(it->remote_id, REMOTE_PREFIX, strlen(REMOTE_PREFIX))) {
        folder = it->folder_id;
        uint64_t size = it->size;
        path = fixture_path(hs, it->remote_id + strlen(REMOTE_PREFIX));
        mime = path ? slurp(path, &len) : NULL;
        if (mime && len != size) {
            /* the summary served to clients promised these bytes */
            fprintf(stderr, "imap_harness: %s: %zu bytes, the summary says %llu\n", path, len,
                    (unsigned long long)size);
            free(mime);
            mime = NULL;
        }
    }
    free(path);
    if (!mime) {
        outpost_store_write_rollback(hs->store, t);
        return unavailable;
    }
    for (size_t off = 0; off < len && st.code == OUTPOST_OK; off += 4096)
        st = hs->m->content_write(t, item_id, off, mime + off, len - off < 4096 ? len - off : 4096);
    if (st.code == OUTPOST_OK)
        st = hs->m->content_finish(t, item_id, OUTPOST_CONTENT_COMPLETE);
    free(mime);
    if (st.code != OUTPOST_OK) {
        failed(st, "writing fetched content");
        outpost_store_write_rollback(hs->store, t);
        return unavailable;
    }
    outpost_store_event ev = { sizeof ev, OUTPOST_EVENT_CONTENT, folder, item_id, 0 };
    outpost_store_queue_event(hs->store, &ev);
    return outpost_store_write_commit(hs->store, t);
}

static void hook_folder_open(void *ctx, int64_t folder_id, int open)
{
    (void)ctx;
    (void)folder_id;
    (void)open;
}

static int hook_online(void *ctx) { return atomic_load(&((struct harness *)ctx)->online); }

/* The online state changed: front-ends hear it as the engine tells them. */
static void set_online(struct harness *hs, int on)
{
    atomic_store(&hs->online, on);
    struct outpost_txn *t;
    if (outpost_store_write_begin(hs->store, &t).code != OUTPOST_OK)
        return;
    outpost_store_event ev = { sizeof ev, OUTPOST_EVENT_STATUS, 0, 0, 0 };
    outpost_store_queue_event(hs->store, &ev);
    outpost_store_write_commit(hs->store, t);
}

/* ---- control commands --------------------------------------------------- */

static int64_t inbox_item(struct harness *hs, struct outpost_txn *t, uint32_t uid)
{
    struct outpost_cursor *c;
    const void *row;
    int64_t id = 0;
    if (hs->m->items_by_uid(t, hs->inbox, uid, uid, &c).code != OUTPOST_OK)
        return 0;
    if (hs->m->cursor_next(c, &row).code == OUTPOST_OK && row)
        id = ((const outpost_item *)row)->id;
    hs->m->cursor_close(c);
    return id;
}

static void cmd_server_change(struct harness *hs, const char *verb, char *args)
{
    struct outpost_txn *t;
    if (failed(outpost_store_write_begin(hs->store, &t), verb)) {
        printf("error\n");
        return;
    }
    outpost_status st = outpost_ok();
    int folders = 0; /* a change of the hierarchy */
    char *save = NULL;
    char *a1 = strtok_r(args, " ", &save);
    char *a2 = strtok_r(NULL, " ", &save);
    char *rest = strtok_r(NULL, "", &save);
    if (!strcmp(verb, "deliver") && a1) {
        uint32_t uid = 0;
        st = server_item(hs, t, hs->inbox, a1, a2 ? (uint32_t)strtoul(a2, NULL, 0) : 0, op_now_ms(), 0, &uid);
        if (st.code == OUTPOST_OK)
            printf("uid %u\n", uid);
    } else if (!strcmp(verb, "flags") && a1 && a2) {
        int64_t id = inbox_item(hs, t, (uint32_t)strtoul(a1, NULL, 10));
        uint64_t ms = 0;
        st = id ? hs->m->item_set_flags(t, id, (uint32_t)strtoul(a2, NULL, 0), rest, &ms)
                : (outpost_status){ OUTPOST_GONE, 0, "no such UID" };
        if (st.code == OUTPOST_OK)
            printf("modseq %llu\n", (unsigned long long)ms);
    } else if (!strcmp(verb, "folder") && a1) {
        /* a mail folder the server created at the top level; its name is the rest of the line */
        char name[512];
        snprintf(name, sizeof name, "%s%s%s%s%s", a1, a2 ? " " : "", a2 ? a2 : "", rest ? " " : "", rest ? rest : "");
        char remote[600];
        snprintf(remote, sizeof remote, "srv:extra/%s", name);
        int64_t id = server_folder(hs, t, 0, remote, name, OUTPOST_ITEM_MAIL, 0);
        st = id > 0 ? outpost_ok() : (outpost_status){ OUTPOST_BAD_DATA, 0, "folder_create failed" };
        folders = 1;
    } else if ((!strcmp(verb, "rmfolder") || !strcmp(verb, "mvfolder")) && a1) {
        int rm = !strcmp(verb, "rmfolder");
        char name[512], remote[600];
        if (rm)
            snprintf(name, sizeof name, "%s%s%s%s%s", a1, a2 ? " " : "", a2 ? a2 : "", rest ? " " : "", rest ? rest : "");
        else
            snprintf(name, sizeof name, "%s", a1);
        snprintf(remote, sizeof remote, "srv:extra/%s", name);
        const outpost_folder *f = NULL;
        st = hs->m->folder_find_remote(t, remote, &f);
        if (st.code == OUTPOST_OK && rm) {
            st = hs->m->folder_delete(t, f->id);
        } else if (st.code == OUTPOST_OK) {
            outpost_folder u = *f;
            u.name = a2 ? a2 : "";
            st = hs->m->folder_update(t, f->id, &u, OUTPOST_FOLDER_F_NAME);
        }
        folders = 1;
    } else if (!strcmp(verb, "folders") && a1) {
        long want = strtol(a1, NULL, 10);
        int64_t top = 0;
        for (long i = 0; i < want && st.code == OUTPOST_OK; i++) {
            char name[64], remote[96];
            if (i % 100 == 0) {
                snprintf(name, sizeof name, "Bulk%03ld", i / 100);
                snprintf(remote, sizeof remote, "srv:bulk/%s", name);
                top = server_folder(hs, t, 0, remote, name, OUTPOST_ITEM_MAIL, 0);
            }
            snprintf(name, sizeof name, "F%05ld", i);
            snprintf(remote, sizeof remote, "srv:bulk/%ld", i);
            if (top <= 0 || server_folder(hs, t, top, remote, name, OUTPOST_ITEM_MAIL, 0) <= 0)
                st = (outpost_status){ OUTPOST_BAD_DATA, 0, "folder_create failed" };
        }
        folders = 1;
    } else if (!strcmp(verb, "expunge") && a1) {
        int64_t id = inbox_item(hs, t, (uint32_t)strtoul(a1, NULL, 10));
        st = id ? hs->m->item_delete(t, id) : (outpost_status){ OUTPOST_GONE, 0, "no such UID" };
    } else {
        st = (outpost_status){ OUTPOST_BAD_DATA, 0, "usage" };
    }
    if (st.code != OUTPOST_OK) {
        failed(st, verb);
        outpost_store_write_rollback(hs->store, t);
        printf("error %s\n", st.message ? st.message : "");
        return;
    }
    outpost_store_event ev = { sizeof ev, folders ? OUTPOST_EVENT_FOLDERS : OUTPOST_EVENT_ITEMS, folders ? 0 : hs->inbox,
                               0, 0 };
    outpost_store_queue_event(hs->store, &ev);
    if (failed(outpost_store_write_commit(hs->store, t), verb))
        printf("error commit\n");
}

static void cmd_meta(struct harness *hs, const char *key)
{
    struct outpost_txn *t;
    if (failed(outpost_store_read_begin(hs->store, &t), "meta")) {
        printf("error\n");
        return;
    }
    const void *val;
    size_t len = 0;
    outpost_status st = hs->m->meta_get(t, key, &val, &len);
    if (st.code == OUTPOST_OK)
        fwrite(val, 1, len, stdout);
    else
        printf("%s\n", st.code == OUTPOST_GONE ? "gone" : "error");
    outpost_store_read_end(hs->store, t);
}

/* The armed `race` change, on the front-end's thread before its flag edit reaches the store. */
static void race_run(void)
{
    if (!atomic_exchange(&hs.race_armed, 0))
        return;
    struct outpost_txn *t;
    if (failed(outpost_store_write_begin(hs.store, &t), "race"))
        return;
    int64_t id = inbox_item(&hs, t, hs.race_uid);
    uint64_t ms = 0;
    outpost_status st = !id              ? (outpost_status){ OUTPOST_GONE, 0, "no such UID" }
                        : hs.race_expunge ? hs.m->item_delete(t, id)
                                          : hs.m->item_set_flags(t, id, hs.race_flags, NULL, &ms);
    if (failed(st, "race")) {
        outpost_store_write_rollback(hs.store, t);
        return;
    }
    outpost_store_event ev = { sizeof ev, OUTPOST_EVENT_ITEMS, hs.inbox, 0, 0 };
    outpost_store_queue_event(hs.store, &ev);
    failed(outpost_store_write_commit(hs.store, t), "race");
}

static outpost_status race_set_flags(const struct outpost_host *h, const int64_t *ids, uint32_t n, uint32_t op,
                                     uint32_t flags, const char *keywords, uint64_t *modseqs,
                                     outpost_item_status *item_st)
{
    race_run();
    return hs.real_api->set_flags(h, ids, n, op, flags, keywords, modseqs, item_st);
}

static outpost_status race_set_flags_unchanged(const struct outpost_host *h, const int64_t *ids, uint32_t n,
                                               uint32_t op, uint32_t flags, const char *keywords,
                                               const uint64_t *unchanged_since, uint64_t *modseqs,
                                               outpost_item_status *item_st)
{
    race_run();
    return hs.real_api->set_flags_unchanged(h, ids, n, op, flags, keywords, unchanged_since, modseqs, item_st);
}

static void cmd_journal(struct harness *hs)
{
    struct outpost_txn *t;
    if (failed(outpost_store_read_begin(hs->store, &t), "journal"))
        return;
    struct outpost_cursor *c;
    if (!failed(hs->m->journal_list(t, 0, &c), "journal")) {
        const void *row;
        /* rows are valid until the next call on the transaction: print
         * each before looking its item up */
        char line[4096];
        struct {
            int64_t item;
            char *text;
        } rows[1024];
        size_t n = 0;
        while (n < 1024 && hs->m->cursor_next(c, &row).code == OUTPOST_OK && row) {
            const outpost_journal_entry *e = row;
            snprintf(line, sizeof line, "seq=%lld op=%s state=%s item=%lld folder=%lld target=%lld flags=%u "
                     "keywords=%s name=%s",
                     (long long)e->seq, outpost_journal_op_name(e->op), outpost_journal_state_name(e->state),
                     (long long)e->item_id, (long long)e->folder_id, (long long)e->target_folder_id, e->flags,
                     e->keywords ? e->keywords : "", e->name ? e->name : "");
            rows[n].item = e->op <= OUTPOST_J_ITEM_DELETE ? e->item_id : 0;
            rows[n++].text = strdup(line);
        }
        hs->m->cursor_close(c);
        for (size_t i = 0; i < n; i++) {
            const outpost_item *it;
            long uid = -1;
            if (rows[i].item && hs->m->item_get(t, rows[i].item, &it).code == OUTPOST_OK)
                uid = (long)it->uid;
            printf("%s uid=%ld\n", rows[i].text ? rows[i].text : "?", uid);
            free(rows[i].text);
        }
    }
    outpost_store_read_end(hs->store, t);
}

static void command(struct harness *hs, char *line)
{
    line[strcspn(line, "\r\n")] = '\0';
    char *args = line + strcspn(line, " ");
    if (*args)
        *args++ = '\0';
    if (!strcmp(line, "online") || !strcmp(line, "offline")) {
        set_online(hs, !strcmp(line, "online"));
        fprintf(stderr, "imap_harness: %s\n", line);
    } else if (!strcmp(line, "journal")) {
        cmd_journal(hs);
    } else if (!strcmp(line, "race")) {
        unsigned uid = 0;
        int flags = 0;
        char what[16];
        if (sscanf(args, "%u %15s", &uid, what) == 2 && !strcmp(what, "expunge")) {
            hs->race_uid = uid;
            hs->race_expunge = 1;
            atomic_store(&hs->race_armed, 1);
        } else if (sscanf(args, "%u %i", &uid, &flags) == 2) {
            hs->race_uid = uid;
            hs->race_flags = (uint32_t)flags;
            hs->race_expunge = 0;
            atomic_store(&hs->race_armed, 1);
        } else {
            printf("error usage\n");
        }
    } else if (!strcmp(line, "meta")) {
        cmd_meta(hs, args);
    } else if (!strcmp(line, "fetches")) {
        printf("%d\n", atomic_load(&hs->fetches));
    } else if (*line) {
        cmd_server_change(hs, line, args);
    }
    printf(".\n");
    fflush(stdout);
}

/* ---- the front-end ------------------------------------------------------ */

struct frontend {
    outpost_loaded_plugin *p;
    const struct outpost_frontend_methods *fm;
    struct outpost_frontend *fe;
    struct outpost_host *h;
    struct outpost_config *old_cfgs[16];
    int nold;
};

static struct outpost_host *bound_host(struct harness *hs, struct outpost_config *cfg)
{
    struct outpost_host *h = outpost_core_host_new(cfg, "imap", "imap", hs->app.data_dir);
    if (!h)
        return NULL;
    outpost_store_bind_host(hs->store, h);
    /* the store's own table, with the flag edits passing through `race` first; made once:
     * a reload binds a new host while sessions call through the table (the same one) */
    if (!hs->real_api) {
        hs->real_api = h->store;
        hs->race_api = *h->store;
        hs->race_api.set_flags = race_set_flags;
        hs->race_api.set_flags_unchanged = race_set_flags_unchanged;
    }
    outpost_core_host_set_store(h, &hs->race_api);
    return h;
}

/* SIGHUP: what outpostd does (core/daemon.c do_reload). */
static void reload(struct harness *hs, struct frontend *f)
{
    char err[1024];
    struct outpost_config *cfg;
    if (f->nold == 16 || outpost_config_load(hs->app.config_path, 0, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "imap_harness: reload: %s\n", f->nold == 16 ? "too many reloads" : err);
        return;
    }
    outpost_config_declare_core(cfg);
    outpost_config_declare(cfg, "imap", f->p->desc->config_keys);
    struct outpost_host *h = bound_host(hs, cfg);
    if (!f->fm->reload || !h) {
        fprintf(stderr, "imap_harness: the front-end cannot reload\n");
        outpost_core_host_free(h);
        outpost_config_free(cfg);
        return;
    }
    outpost_status st = f->fm->reload(f->fe, h);
    if (st.code == OUTPOST_OK) {
        outpost_core_host_free(f->h);
        f->h = h;
        f->old_cfgs[f->nold++] = hs->app.cfg; /* hosts may still point at it */
        hs->app.cfg = cfg;
        fprintf(stderr, "imap_harness: reloaded\n");
    } else {
        fprintf(stderr, "imap_harness: reload refused: %s\n", st.message ? st.message : "");
        outpost_core_host_free(h);
        outpost_config_free(cfg);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s CONFIG FIXTURE_DIR\n", argv[0]);
        return 2;
    }
    /* block the signals we wait for before any thread starts */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[1024];
    hs.fixtures = argv[2];
    atomic_store(&hs.online, 1);
    struct frontend f;
    memset(&f, 0, sizeof f);
    int rc = 1;
    if (outpost_app_load(&hs.app, argv[1], 0, err, sizeof err) != 0) {
        fprintf(stderr, "imap_harness: %s\n", err);
        return 1;
    }
    if (outpost_loader_load(hs.app.plugin_dirs, OUTPOST_KIND_FRONTEND, "imap", &f.p, err, sizeof err) != 0)
        goto fail;
    outpost_config_declare(hs.app.cfg, "imap", f.p->desc->config_keys);
    if (op_mkdir_p(hs.app.data_dir, 0700, err, sizeof err) != 0 ||
        outpost_app_open_storage(&hs.app, &hs.os, err, sizeof err) != 0)
        goto fail;
    if (outpost_config_validate(hs.app.cfg, NULL, NULL, NULL, err, sizeof err) != 0)
        goto fail;
    if (outpost_store_new(&hs.app, &hs.os, &hs.store, err, sizeof err) != 0)
        goto fail;
    hs.m = outpost_store_methods(hs.store);
    if (seed(&hs) != 0)
        goto done;
    /* no batch hook: request_contents goes item by item through hook_request_content */
    struct outpost_store_engine_hooks hooks = { &hs, hook_request_content, hook_folder_open, hook_online, NULL };
    outpost_store_set_engine(hs.store, &hooks);

    f.fm = f.p->methods;
    f.h = bound_host(&hs, hs.app.cfg);
    if (!f.h || outpost_loader_module_init(f.p, f.h, err, sizeof err) != 0)
        goto fail;
    outpost_status st = f.fm->create(f.h, &f.fe);
    if (failed(st, "create"))
        goto done;
    st = f.fm->start(f.fe);
    if (failed(st, "start"))
        goto done;

    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    struct pollfd pfd[2] = { { sfd, POLLIN, 0 }, { 0, POLLIN, 0 } };
    char line[4096];
    size_t have = 0;
    for (int running = sfd >= 0; running;) {
        if (poll(pfd, pfd[1].fd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
            break;
        if (pfd[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (si.ssi_signo == SIGHUP)
                    reload(&hs, &f);
                else
                    running = 0;
            }
        }
        if (pfd[1].fd >= 0 && (pfd[1].revents & (POLLIN | POLLHUP))) {
            ssize_t r = read(0, line + have, sizeof line - 1 - have);
            if (r <= 0)
                break; /* the controlling test went away */
            have += (size_t)r;
            char *nl;
            while ((nl = memchr(line, '\n', have))) {
                *nl = '\0';
                command(&hs, line);
                size_t used = (size_t)(nl + 1 - line);
                memmove(line, nl + 1, have - used);
                have -= used;
            }
            if (have == sizeof line - 1)
                have = 0; /* an over-long command: dropped */
        }
    }
    if (sfd >= 0)
        close(sfd);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "imap_harness: %s\n", err);
done:
    if (f.fe) {
        f.fm->stop(f.fe);
        f.fm->destroy(f.fe);
    }
    if (hs.store)
        outpost_store_set_engine(hs.store, NULL);
    if (f.p)
        outpost_loader_unload(f.p);
    outpost_core_host_free(f.h);
    outpost_store_free(hs.store);
    outpost_app_close_storage(&hs.os);
    for (int i = 0; i < f.nold; i++)
        outpost_config_free(f.old_cfgs[i]);
    outpost_app_free(&hs.app);
    return rc;
}
