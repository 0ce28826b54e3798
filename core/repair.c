/* repair.c — `outpost check --repair` (see repair.h). */
#include "repair.h"

#include <stdlib.h>
#include <string.h>

struct cached {
    int64_t id;
    uint32_t uid;
    uint64_t expect;    /* bytes the cache should give back (0: as many as it has) */
};

struct folder_ids {
    int64_t id;
    char *path;
};

/* Ids of items with a local edit waiting for replay, sorted (their content may be the only
 * copy of that edit: not dropped). */
struct pending_ids {
    int64_t *v;
    size_t n;
};

/* v (n elements used of *cap, each `size` bytes) with room for one more: v itself, or a
 * larger copy (*cap updated); NULL when out of memory (v is then left as it was). */
static void *grown(void *v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return v;
    size_t ncap = *cap ? 2 * *cap : 64;
    void *w = realloc(v, ncap * size);
    if (w)
        *cap = ncap;
    return w;
}

static void folders_free(struct folder_ids *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(f[i].path);
    free(f);
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* In one read transaction: the items with a pending journal entry, and every folder's id and
 * path. */
static outpost_status snapshot(const struct outpost_storage_methods *m, struct outpost_storage *s,
                               struct pending_ids *p, struct folder_ids **f, size_t *nf)
{
    memset(p, 0, sizeof *p);
    *f = NULL;
    *nf = 0;
    struct outpost_txn *t;
    outpost_status st = m->begin(s, OUTPOST_TXN_READ, &t);
    if (st.code != OUTPOST_OK)
        return st;
    static const outpost_status oom = { OUTPOST_FATAL, 0, "out of memory listing folders and pending edits" };
    struct outpost_cursor *c;
    const void *row;
    size_t cap = 0;
    if ((st = m->journal_pending(t, 0, &c)).code == OUTPOST_OK) {
        while ((st = m->cursor_next(c, &row)).code == OUTPOST_OK && row) {
            const outpost_journal_entry *j = row;
            if (!j->item_id)
                continue;
            int64_t *w = grown(p->v, &cap, p->n, sizeof *p->v);
            if (!w) {
                st = oom;
                break;
            }
            p->v = w;
            p->v[p->n++] = j->item_id;
        }
        m->cursor_close(c);
    }
    cap = 0;
    if (st.code == OUTPOST_OK && (st = m->folder_list(t, &c)).code == OUTPOST_OK) {
        while ((st = m->cursor_next(c, &row)).code == OUTPOST_OK && row) {
            const outpost_folder *fo = row;
            struct folder_ids *w = grown(*f, &cap, *nf, sizeof **f);
            if (!w) {
                st = oom;
                break;
            }
            *f = w;
            /* its path, as `outpost status` shows it: the parent's path (listed before its
             * children, usually just before) and its own name */
            const char *parent = NULL;
            for (size_t k = *nf; fo->parent_id && k-- > 0;)
                if ((*f)[k].id == fo->parent_id) {
                    parent = (*f)[k].path;
                    break;
                }
            const char *name = fo->name ? fo->name : "";
            size_t len = (parent ? strlen(parent) + 1 : 0) + strlen(name) + 1;
            char *path = malloc(len);
            if (!path) {
                st = oom;
                break;
            }
            snprintf(path, len, "%s%s%s", parent ? parent : "", parent ? "/" : "", name);
            (*f)[*nf].id = fo->id;
            (*f)[(*nf)++].path = path;
        }
        m->cursor_close(c);
    }
    m->rollback(t);
    if (p->n)
        qsort(p->v, p->n, sizeof *p->v, cmp_id);
    return st;
}

/* Whether the item's cached bytes read back, as many as expected. */
static int reads_back(const struct outpost_storage_methods *m, struct outpost_txn *t, const struct cached *it,
                      char *buf, size_t cap)
{
    uint64_t off = 0;
    for (;;) {
        size_t got = 0;
        if (m->content_read(t, it->id, off, buf, cap, &got).code != OUTPOST_OK)
            return 0;
        if (!got)
            break;
        off += got;
    }
    return !it->expect || off == it->expect;
}

/* Drops the content of damaged item `id` when the server has the item and no local edit of
 * it waits. */
static outpost_status drop_one(const struct outpost_storage_methods *m, struct outpost_storage *s, int64_t id,
                               const char *path, const struct pending_ids *pend, FILE *out,
                               struct outpost_repair_result *res)
{
    struct outpost_txn *t;
    outpost_status st = m->begin(s, OUTPOST_TXN_WRITE, &t);
    if (st.code != OUTPOST_OK)
        return st;
    const outpost_item *it;
    if ((st = m->item_get(t, id, &it)).code != OUTPOST_OK) {
        m->rollback(t);
        return st;
    }
    uint32_t uid = it->uid;
    char subject[80];
    snprintf(subject, sizeof subject, "%s", it->subject ? it->subject : "");
    int local = !it->remote_id || !*it->remote_id;
    if (local || (pend->n && bsearch(&id, pend->v, pend->n, sizeof *pend->v, cmp_id))) {
        m->rollback(t);
        res->kept++;
        fprintf(out, "damaged: %s UID %u \"%s\": %s; left as it is\n", path, uid, subject,
                local ? "only this cache has it (not on the server yet, or kept in Conflicts)"
                      : "a local edit of it waits to be sent to the server");
        return outpost_ok();
    }
    if ((st = m->content_drop(t, id)).code != OUTPOST_OK) {
        m->rollback(t);
        return st;
    }
    if ((st = m->commit(t)).code != OUTPOST_OK)
        return st; /* the transaction is over either way */
    res->dropped++;
    fprintf(out, "damaged: %s UID %u \"%s\": dropped; the next sync fetches it again\n", path, uid, subject);
    return outpost_ok();
}

/* The items of one folder with cached bytes, then each one read back. */
static outpost_status repair_folder(const struct outpost_storage_methods *m, struct outpost_storage *s,
                                    const struct folder_ids *f, const struct pending_ids *pend, char *buf, size_t cap,
                                    FILE *out, struct outpost_repair_result *res)
{
    struct outpost_txn *t;
    outpost_status st = m->begin(s, OUTPOST_TXN_READ, &t);
    if (st.code != OUTPOST_OK)
        return st;
    struct cached *v = NULL;
    size_t n = 0, vcap = 0;
    struct outpost_cursor *c;
    if ((st = m->items_by_uid(t, f->id, 1, 0, &c)).code == OUTPOST_OK) {
        const void *row;
        while ((st = m->cursor_next(c, &row)).code == OUTPOST_OK && row) {
            const outpost_item *it = row;
            int whole = it->content_state == OUTPOST_CONTENT_COMPLETE;
            if (!whole && !it->cached_size)
                continue; /* nothing cached */
            /* a whole mail is its RFC822.SIZE; a kept prefix its cached size; other kinds
             * are read to their end */
            uint64_t expect = !whole ? it->cached_size : it->kind == OUTPOST_ITEM_MAIL ? it->size : 0;
            struct cached *w = grown(v, &vcap, n, sizeof *v);
            if (!w) {
                st = (outpost_status){ OUTPOST_FATAL, 0, "out of memory listing items" };
                break;
            }
            v = w;
            v[n++] = (struct cached){ it->id, it->uid, expect };
        }
        m->cursor_close(c);
    }
    int64_t *bad = NULL;
    size_t nbad = 0, badcap = 0;
    for (size_t i = 0; st.code == OUTPOST_OK && i < n; i++) {
        res->read++;
        if (reads_back(m, t, &v[i], buf, cap))
            continue;
        int64_t *b = grown(bad, &badcap, nbad, sizeof *bad);
        if (!b) {
            st = (outpost_status){ OUTPOST_FATAL, 0, "out of memory" };
            break;
        }
        bad = b;
        bad[nbad++] = v[i].id;
        /* a failed read may leave the transaction unusable in some engine: the next
         * items are read in a fresh one */
        m->rollback(t);
        if ((st = m->begin(s, OUTPOST_TXN_READ, &t)).code != OUTPOST_OK) {
            t = NULL;
            break;
        }
    }
    if (t)
        m->rollback(t);
    free(v);
    for (size_t i = 0; st.code == OUTPOST_OK && i < nbad; i++) {
        res->damaged++;
        st = drop_one(m, s, bad[i], f->path, pend, out, res);
    }
    free(bad);
    return st;
}

outpost_status outpost_repair_content(const struct outpost_storage_methods *m, struct outpost_storage *s, FILE *out,
                                      struct outpost_repair_result *res)
{
    memset(res, 0, sizeof *res);
    struct folder_ids *f;
    size_t nf;
    struct pending_ids pend;
    outpost_status st = snapshot(m, s, &pend, &f, &nf);
    enum { CAP = 256 * 1024 };
    char *buf = malloc(CAP);
    if (!buf && st.code == OUTPOST_OK)
        st = (outpost_status){ OUTPOST_FATAL, 0, "out of memory" };
    for (size_t i = 0; st.code == OUTPOST_OK && i < nf; i++)
        st = repair_folder(m, s, &f[i], &pend, buf, CAP, out, res);
    free(buf);
    free(pend.v);
    folders_free(f, nf);
    return st;
}
