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

static void folders_free(struct folder_ids *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(f[i].path);
    free(f);
}

/* Every folder's id and name (a read transaction of its own). */
static outpost_status list_folders(const struct outpost_storage_methods *m, struct outpost_storage *s,
                                   struct folder_ids **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct outpost_txn *t;
    outpost_status st = m->begin(s, OUTPOST_TXN_READ, &t);
    if (st.code != OUTPOST_OK)
        return st;
    struct outpost_cursor *c;
    size_t cap = 0;
    if ((st = m->folder_list(t, &c)).code == OUTPOST_OK) {
        const void *row;
        while ((st = m->cursor_next(c, &row)).code == OUTPOST_OK && row) {
            const outpost_folder *f = row;
            if (*n == cap) {
                struct folder_ids *g = realloc(*out, (cap = cap ? 2 * cap : 32) * sizeof **out);
                if (!g) {
                    st = (outpost_status){ OUTPOST_FATAL, 0, "out of memory listing folders" };
                    break;
                }
                *out = g;
            }
            (*out)[*n].id = f->id;
            (*out)[(*n)++].path = strdup(f->name ? f->name : "");
        }
        m->cursor_close(c);
    }
    m->rollback(t);
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

/* Ids of items with a local edit waiting for replay, sorted (their content may be the only
 * copy of that edit: not dropped). */
struct pending_ids {
    int64_t *v;
    size_t n;
};

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static outpost_status list_pending(const struct outpost_storage_methods *m, struct outpost_storage *s,
                                   struct pending_ids *p)
{
    memset(p, 0, sizeof *p);
    struct outpost_txn *t;
    outpost_status st = m->begin(s, OUTPOST_TXN_READ, &t);
    if (st.code != OUTPOST_OK)
        return st;
    struct outpost_cursor *c;
    size_t cap = 0;
    if ((st = m->journal_pending(t, 0, &c)).code == OUTPOST_OK) {
        const void *row;
        while ((st = m->cursor_next(c, &row)).code == OUTPOST_OK && row) {
            const outpost_journal_entry *j = row;
            if (!j->item_id)
                continue;
            if (p->n == cap) {
                int64_t *w = realloc(p->v, (cap = cap ? 2 * cap : 64) * sizeof *p->v);
                if (!w) {
                    st = (outpost_status){ OUTPOST_FATAL, 0, "out of memory listing pending edits" };
                    break;
                }
                p->v = w;
            }
            p->v[p->n++] = j->item_id;
        }
        m->cursor_close(c);
    }
    m->rollback(t);
    if (p->n)
        qsort(p->v, p->n, sizeof *p->v, cmp_id);
    return st;
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
            if (n == vcap) {
                struct cached *w = realloc(v, (vcap = vcap ? 2 * vcap : 256) * sizeof *v);
                if (!w) {
                    st = (outpost_status){ OUTPOST_FATAL, 0, "out of memory listing items" };
                    break;
                }
                v = w;
            }
            v[n++] = (struct cached){ it->id, it->uid, expect };
        }
        m->cursor_close(c);
    }
    int64_t *bad = NULL;
    size_t nbad = 0;
    for (size_t i = 0; st.code == OUTPOST_OK && i < n; i++) {
        res->read++;
        if (reads_back(m, t, &v[i], buf, cap))
            continue;
        int64_t *b = realloc(bad, (nbad + 1) * sizeof *bad);
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
    outpost_status st = list_pending(m, s, &pend);
    outpost_status fst = list_folders(m, s, &f, &nf);
    if (st.code == OUTPOST_OK)
        st = fst;
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
