/* maildir_listing.c — sync_folder: a folder's messages, page by page, with
 * an incremental pass that finds added, removed and re-flagged messages.
 *
 * A Maildir has no change log, so the transport remembers what it reported:
 * a SNAPSHOT file per folder in the cache's data directory, one line
 * "<unique>\t<flags>\n" per message, sorted by unique name. A pass merges the
 * directory (in sorted pages) with the previous snapshot (read sequentially)
 * and writes the next snapshot as it goes:
 *   only in the directory → ADD,  only in the snapshot → DELETE,
 *   in both with other flags → FLAGS.
 * The first listing is the same pass against an empty snapshot.
 *
 * The sync state names the two snapshot generations and the position of both
 * files and of the listing after the last committed page, so a pass resumes
 * where the engine last committed (the new snapshot is cut back to the
 * committed length). Memory is bounded by the page size: each scan of cur/
 * and new/ keeps only the page_size smallest unique names after the last one
 * handled, and a page for the engine closes after page_size changes (or at
 * the end). That costs a directory scan per page_size names — fine for an
 * example; a real server hands out ordered listings instead.
 */
#include "maildir.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maildir_os.h"

static const char md_list_magic[] = "outpost-maildir-list 1";

/* Where a pass stands: what the state encodes. */
struct md_pass {
    uint64_t old_gen;            /* snapshot being compared against; 0 = empty */
    uint64_t new_gen;            /* snapshot being written */
    uint64_t old_off;            /* bytes of the old snapshot consumed */
    uint64_t new_off;            /* bytes of the new snapshot committed */
    char last[MD_NAME_MAX + 1];  /* last unique name handled; "" at the start */
};

/* A message chosen for the current page. */
struct md_entry {
    char *name;                  /* full file name, owned */
    size_t ulen;                 /* length of its unique part */
    int sub;                     /* 0 = cur/, 1 = new/ */
};

struct md_page {
    struct md_entry *v;
    size_t n, cap;
};

static int md_key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c != 0 ? c : (alen > blen) - (alen < blen);
}

static void md_page_clear(struct md_page *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i].name);
    p->n = 0;
}

/* Keeps `name` if it is among the cap smallest keys > last seen so far. */
static int md_page_offer(struct md_page *p, const char *name, int sub)
{
    size_t ulen = md_unique_len(name);
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = md_key_cmp(p->v[mid].name, p->v[mid].ulen, name, ulen);
        if (c == 0) {
            /* The same message in cur/ and new/ (caught mid-rename): cur/ wins. */
            if (sub == 0 && p->v[mid].sub == 1) {
                char *s = malloc(strlen(name) + 1);
                if (s == NULL)
                    return ENOMEM;
                free(p->v[mid].name);
                p->v[mid].name = strcpy(s, name);
                p->v[mid].sub = 0;
            }
            return 0;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == p->cap)
        return 0; /* larger than all of a full page */
    char *s = malloc(strlen(name) + 1);
    if (s == NULL)
        return ENOMEM;
    if (p->n == p->cap)
        free(p->v[--p->n].name);
    memmove(&p->v[lo + 1], &p->v[lo], (p->n - lo) * sizeof *p->v);
    p->v[lo].name = strcpy(s, name);
    p->v[lo].ulen = ulen;
    p->v[lo].sub = sub;
    p->n++;
    return 0;
}

/* Fills the page with the (up to p->cap) smallest unique names > last. */
static outpost_status md_page_select(struct outpost_transport *t, const char *const dirs[2], const char *last,
                                     struct md_page *p)
{
    size_t last_len = strlen(last);
    for (int sub = 0; sub < 2; sub++) {
        struct md_dir *d;
        int err = md_dir_open(dirs[sub], &d);
        if (err != 0)
            return md_fail(t, err == ENOENT ? OUTPOST_GONE : OUTPOST_TEMP, "maildir: cannot list %s: %s",
                           dirs[sub], strerror(err));
        const char *name;
        while ((name = md_dir_next(d, &err)) != NULL) {
            size_t ulen = md_unique_len(name);
            if (name[0] == '.' || ulen == 0)
                continue;
            if (strlen(name) > MD_NAME_MAX || strpbrk(name, "\t\n") != NULL) {
                t->host->log(t->host, OUTPOST_LOG_WARNING, "maildir: skipping %s/%.64s: unusable file name",
                             dirs[sub], name);
                continue;
            }
            if (last_len > 0 && md_key_cmp(name, ulen, last, last_len) <= 0)
                continue;
            if ((err = md_page_offer(p, name, sub)) != 0)
                break;
        }
        md_dir_close(d);
        if (err != 0)
            return md_fail(t, OUTPOST_TEMP, "maildir: listing %s: %s", dirs[sub], strerror(err));
    }
    return outpost_ok();
}

/* ---- snapshots ------------------------------------------------------------ */

/* <data_dir>/maildir-<hash of tree and folder>.<gen> */
static char *md_snapshot_path(const struct outpost_transport *t, const char *rid, uint64_t gen)
{
    if (rid == NULL)
        return NULL;
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const char *s = t->root; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h = (h ^ '\n') * 1099511628211ull;
    for (const char *s = rid; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    size_t n = strlen(t->data_dir) + 64;
    char *p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s/maildir-%016" PRIx64 ".%" PRIu64, t->data_dir, h, gen);
    return p;
}

/* One record of the old snapshot. */
struct md_old {
    FILE *f;
    int have;                    /* a record is loaded */
    char line[MD_NAME_MAX + 16];
    size_t klen;
    uint32_t flags;
};

static outpost_status md_old_next(struct outpost_transport *t, struct md_old *o)
{
    o->have = 0;
    if (o->f == NULL || fgets(o->line, sizeof o->line, o->f) == NULL) {
        if (o->f != NULL && ferror(o->f))
            return md_fail(t, OUTPOST_TEMP, "maildir: cannot read the listing snapshot");
        return outpost_ok();
    }
    char *tab = strchr(o->line, '\t');
    char *end;
    unsigned long fl = tab != NULL ? strtoul(tab + 1, &end, 10) : 0;
    if (tab == NULL || tab == o->line || *end != '\n')
        return md_fail(t, OUTPOST_STATE_INVALID, "maildir: listing snapshot is damaged; the folder will be resynced");
    o->klen = (size_t)(tab - o->line);
    o->flags = (uint32_t)fl;
    o->have = 1;
    return outpost_ok();
}

/* ---- state --------------------------------------------------------------- */

static outpost_status md_state_parse(struct outpost_transport *t, const void *state, size_t len, struct md_pass *ps)
{
    char buf[MD_NAME_MAX + 160];
    memset(ps, 0, sizeof *ps);
    if (state == NULL || len == 0) {
        ps->new_gen = 1;
        return outpost_ok();
    }
    if (len >= sizeof buf)
        return md_fail(t, OUTPOST_STATE_INVALID, "maildir: sync state not from this plugin");
    memcpy(buf, state, len);
    buf[len] = '\0';
    char *nl = strchr(buf, '\n');
    size_t mlen = sizeof md_list_magic - 1;
    if (nl == NULL || strncmp(buf, md_list_magic, mlen) != 0 || buf[mlen] != ' ')
        return md_fail(t, OUTPOST_STATE_INVALID, "maildir: sync state not from this plugin");
    *nl = '\0';
    char phase = buf[mlen + 1];
    const char *args = buf + mlen + 2;
    uint64_t gen;
    if (phase == 'I' && sscanf(args, " %" SCNu64, &gen) == 1 && gen > 0) {
        ps->old_gen = gen;
        ps->new_gen = gen + 1;
        return outpost_ok();
    }
    if (phase == 'P' &&
        sscanf(args, " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64, &ps->old_gen, &ps->new_gen, &ps->old_off,
               &ps->new_off) == 4 &&
        ps->new_gen == ps->old_gen + 1 && strlen(nl + 1) <= MD_NAME_MAX && (ps->old_gen > 0 || ps->old_off == 0)) {
        strcpy(ps->last, nl + 1);
        return outpost_ok();
    }
    return md_fail(t, OUTPOST_STATE_INVALID, "maildir: sync state is damaged; the folder will be resynced");
}

static size_t md_state_format(char *buf, size_t cap, const struct md_pass *ps, int done)
{
    int n = done ? snprintf(buf, cap, "%s I %" PRIu64 "\n", md_list_magic, ps->new_gen)
                 : snprintf(buf, cap, "%s P %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n%s", md_list_magic,
                            ps->old_gen, ps->new_gen, ps->old_off, ps->new_off, ps->last);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* Checks that snapshot `gen` holds at least `len` bytes. */
static outpost_status md_snapshot_check(struct outpost_transport *t, const char *path, uint64_t len)
{
    struct md_stat st;
    if (md_stat(path, &st) != 0 || st.size < len)
        return md_fail(t, OUTPOST_STATE_INVALID, "maildir: listing snapshot %s is missing or short; the folder will be resynced",
                       path);
    return outpost_ok();
}

/* ---- one page -------------------------------------------------------------- */

struct md_run {
    struct outpost_transport *t;
    const char *dirs[2];         /* <folder>/cur, <folder>/new */
    int with_content;
    const struct outpost_sync_sink *sink;
    struct md_page page;
    struct md_old old;
    FILE *out;                   /* the new snapshot */
};

static outpost_status md_report(struct md_run *r, uint32_t change, const char *key, size_t klen, uint32_t flags)
{
    char rid[MD_NAME_MAX + 1];
    memcpy(rid, key, klen);
    rid[klen] = '\0';
    outpost_item it;
    memset(&it, 0, sizeof it);
    it.struct_size = sizeof it;
    it.kind = OUTPOST_ITEM_MAIL;
    it.remote_id = rid;
    it.flags = flags;
    /* cppcheck-suppress returnDanglingLifetime ; a sink's message is the sink's, not `it` */
    return r->sink->item(r->sink->ctx, change, &it);
}

static int md_record(struct md_run *r, const char *key, size_t klen, uint32_t flags)
{
    return fprintf(r->out, "%.*s\t%u\n", (int)klen, key, (unsigned)flags) < 0 ? EIO : 0;
}

/* Handles the unique names of the selected page (all of them, or up to the
 * one that makes `budget` reported changes), advancing ps; adds the changes
 * reported to *reported and sets *done when the directory and the old
 * snapshot are both exhausted. */
static outpost_status md_page_run(struct md_run *r, struct md_pass *ps, size_t budget, size_t *reported, int *done)
{
    struct outpost_transport *t = r->t;
    size_t si = 0, processed = 0, changes = 0;
    outpost_status s = outpost_ok();
    while (processed < r->page.cap && changes < budget && s.code == OUTPOST_OK) {
        const struct md_entry *e = si < r->page.n ? &r->page.v[si] : NULL;
        if (e == NULL && !r->old.have)
            break;
        int c = e == NULL ? 1 : !r->old.have ? -1 : md_key_cmp(e->name, e->ulen, r->old.line, r->old.klen);
        const char *key = c > 0 ? r->old.line : e->name;
        size_t klen = c > 0 ? r->old.klen : e->ulen;
        int err = 0;
        if (c < 0) {
            s = md_emit_message(t, r->dirs[e->sub], e->name, OUTPOST_CHANGE_ADD, r->with_content, r->sink);
            if (s.code == OUTPOST_GONE) {
                s = outpost_ok(); /* renamed or removed meanwhile: the next pass sees it */
            } else if (s.code == OUTPOST_OK) {
                changes++;
                err = md_record(r, key, klen, md_flags_of_name(e->name));
            }
        } else if (c > 0) {
            s = md_report(r, OUTPOST_CHANGE_DELETE, key, klen, r->old.flags);
            changes++;
        } else {
            uint32_t flags = md_flags_of_name(e->name);
            if (flags != r->old.flags) {
                s = md_report(r, OUTPOST_CHANGE_FLAGS, key, klen, flags);
                changes++;
            }
            if (s.code == OUTPOST_OK)
                err = md_record(r, key, klen, flags);
        }
        if (err != 0)
            s = md_fail(t, OUTPOST_FATAL, "maildir: cannot write the listing snapshot in %s", t->data_dir);
        if (s.code != OUTPOST_OK)
            break;
        memcpy(ps->last, key, klen);
        ps->last[klen] = '\0';
        if (c >= 0) {
            long pos = ftell(r->old.f);
            if (pos < 0)
                return md_fail(t, OUTPOST_TEMP, "maildir: cannot read the listing snapshot");
            ps->old_off = (uint64_t)pos;
            s = md_old_next(t, &r->old);
        }
        if (c <= 0)
            si++;
        processed++;
    }
    /* A full page may have left names in the directory beyond its last one. */
    *done = si == r->page.n && r->page.n < r->page.cap && !r->old.have;
    *reported += changes;
    return s;
}

/* ---- sync_folder ---------------------------------------------------------- */

outpost_status md_sync_folder(struct outpost_transport *t, const outpost_folder *folder, const void *state,
                              size_t len, uint32_t page_size, uint32_t flags,
                              const struct outpost_sync_sink *sink)
{
    if (!t->opened)
        return md_fail(t, OUTPOST_FATAL, "maildir: called before open()");
    const char *rid = folder != NULL ? folder->remote_id : NULL;
    char *fdir = md_folder_path(t, rid);
    if (fdir == NULL)
        return md_fail(t, OUTPOST_GONE, "maildir: no such folder '%.64s'", rid != NULL ? rid : "(none)");

    struct md_pass ps;
    struct md_run r;
    memset(&ps, 0, sizeof ps);
    memset(&r, 0, sizeof r);
    r.t = t;
    r.sink = sink;
    r.with_content = (flags & OUTPOST_SYNC_WANT_CONTENT) != 0;
    r.page.cap = page_size == 0 ? MD_DEFAULT_PAGE : page_size > MD_MAX_PAGE ? MD_MAX_PAGE : page_size;
    char *dcur = md_join(fdir, "cur", NULL), *dnew = md_join(fdir, "new", NULL);
    char *old_path = NULL, *new_path = NULL;
    r.dirs[0] = dcur;
    r.dirs[1] = dnew;
    r.page.v = calloc(r.page.cap, sizeof *r.page.v);
    outpost_status s = outpost_ok();
    if (dcur == NULL || dnew == NULL || r.page.v == NULL)
        s = md_fail(t, OUTPOST_FATAL, "maildir: out of memory");
    if (s.code == OUTPOST_OK)
        s = md_state_parse(t, state, len, &ps);
    if (s.code == OUTPOST_OK) {
        old_path = ps.old_gen > 0 ? md_snapshot_path(t, rid, ps.old_gen) : NULL;
        new_path = md_snapshot_path(t, rid, ps.new_gen);
        if (new_path == NULL || (ps.old_gen > 0 && old_path == NULL))
            s = md_fail(t, OUTPOST_FATAL, "maildir: out of memory");
    }
    if (s.code == OUTPOST_OK && old_path != NULL)
        s = md_snapshot_check(t, old_path, ps.old_off);
    if (s.code == OUTPOST_OK && ps.new_off > 0)
        s = md_snapshot_check(t, new_path, ps.new_off);
    if (s.code == OUTPOST_OK && ps.old_gen > 1 && ps.new_off == 0) {
        /* A pass starts: drop the generation before the old one, in case a
         * crash kept it after its successor was committed. */
        char *stale = md_snapshot_path(t, rid, ps.old_gen - 1);
        if (stale != NULL)
            remove(stale);
        free(stale);
    }
    if (s.code == OUTPOST_OK && old_path != NULL) {
        r.old.f = fopen(old_path, "rb");
        if (r.old.f == NULL || fseek(r.old.f, (long)ps.old_off, SEEK_SET) != 0)
            s = md_fail(t, OUTPOST_STATE_INVALID, "maildir: cannot read listing snapshot %s; the folder will be resynced",
                        old_path);
    }
    if (s.code == OUTPOST_OK) {
        int err = md_open_at_length(new_path, ps.new_off, &r.out);
        if (err != 0)
            s = md_fail(t, OUTPOST_FATAL, "maildir: cannot write %s: %s", new_path, strerror(err));
    }
    if (s.code == OUTPOST_OK)
        s = md_old_next(t, &r.old);

    /* A page for the engine is page_size reported changes (or the end); a
     * scan selects page_size names, which may all be unchanged, so several
     * scans may make one page. */
    int done = 0;
    size_t pending = 0;
    while (s.code == OUTPOST_OK && !done) {
        if (t->host->cancelled(t->host)) {
            s = md_fail(t, OUTPOST_TEMP, "maildir: cancelled");
            break;
        }
        md_page_clear(&r.page);
        s = md_page_select(t, r.dirs, ps.last, &r.page);
        if (s.code == OUTPOST_OK)
            s = md_page_run(&r, &ps, r.page.cap - pending, &pending, &done);
        if (s.code != OUTPOST_OK)
            break;
        if (!done && pending < r.page.cap)
            continue;
        pending = 0;
        /* The snapshot must be on disk before the state that counts on it. */
        long pos = ftell(r.out);
        int err = pos < 0 ? errno : md_sync_file(r.out);
        if (err != 0) {
            s = md_fail(t, OUTPOST_FATAL, "maildir: cannot write %s: %s", new_path, strerror(err));
            break;
        }
        ps.new_off = (uint64_t)pos;
        char st[MD_NAME_MAX + 160];
        size_t n = md_state_format(st, sizeof st, &ps, done);
        s = sink->commit(sink->ctx, st, n);
        if (s.code == OUTPOST_OK && done && old_path != NULL)
            remove(old_path); /* the committed state no longer refers to it */
    }

    if (r.old.f != NULL)
        fclose(r.old.f);
    if (r.out != NULL)
        fclose(r.out);
    md_page_clear(&r.page);
    free(r.page.v);
    free(old_path);
    free(new_path);
    free(dcur);
    free(dnew);
    free(fdir);
    return s;
}
