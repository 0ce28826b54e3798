/* tests/imap/memstore.c — in-memory cache behind the store API (see memstore.h). */
#include "memstore.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct mfolder {
    outpost_folder f;
    char *name;
    int deleted;
};

struct mitem {
    outpost_item it;
    char *keywords, *subject, *from, *to, *cc, *msgid, *envelope, *bs;
    char *content;
    size_t len;
    int deleted;
};

struct tomb {
    int64_t folder;
    uint32_t uid;
    uint64_t modseq;
};

struct listener {
    outpost_store_listener fn;
    void *ctx;
    int active;
};

struct memstore {
    pthread_mutex_t mu;
    struct mfolder *folders;
    size_t nf;
    struct mitem *items;
    size_t ni;
    struct tomb *tombs;
    size_t nt;
    struct listener ls[64];
    int nls;
    FILE *journal;
    int online;
    uint32_t next_uidvalidity;
    /* events queued by the current write */
    outpost_store_event ev[8];
    int nev;
};

static struct memstore *current;

void memstore_set_current(struct memstore *m)
{
    current = m;
}

/* ---- transactions and cursors ---- */

struct outpost_txn {
    struct memstore *m;
    outpost_folder frow;
    outpost_item irow;
    outpost_tombstone trow;
};

struct outpost_cursor {
    struct outpost_txn *t;
    int kind; /* 0 folders, 1 items, 2 tombstones */
    size_t *idx;
    size_t n, pos;
};

static outpost_status st_ok(void)
{
    return outpost_ok();
}

static outpost_status st_err(int code, const char *msg)
{
    outpost_status s = { code, 0, msg };
    return s;
}

static struct mfolder *folder_by_id(struct memstore *m, int64_t id)
{
    for (size_t i = 0; i < m->nf; i++)
        if (m->folders[i].f.id == id && !m->folders[i].deleted)
            return &m->folders[i];
    return NULL;
}

static struct mitem *item_by_id(struct memstore *m, int64_t id)
{
    if (id < 1 || (size_t)id > m->ni || m->items[id - 1].deleted)
        return NULL;
    return &m->items[id - 1];
}

static void fill_item(outpost_item *o, const struct mitem *mi)
{
    *o = mi->it;
    o->struct_size = sizeof *o;
    o->keywords = mi->keywords;
    o->subject = mi->subject;
    o->from = mi->from;
    o->to = mi->to;
    o->cc = mi->cc;
    o->message_id = mi->msgid;
    o->envelope = mi->envelope;
    o->bodystructure = mi->bs;
}

static outpost_status c_next(struct outpost_cursor *c, const void **row)
{
    struct memstore *m = c->t->m;
    if (c->pos >= c->n) {
        *row = NULL;
        return st_ok();
    }
    size_t i = c->idx[c->pos++];
    if (c->kind == 0) {
        c->t->frow = m->folders[i].f;
        c->t->frow.name = m->folders[i].name;
        *row = &c->t->frow;
    } else if (c->kind == 1) {
        fill_item(&c->t->irow, &m->items[i]);
        *row = &c->t->irow;
    } else {
        c->t->trow.struct_size = sizeof c->t->trow;
        c->t->trow.uid = m->tombs[i].uid;
        c->t->trow.modseq = m->tombs[i].modseq;
        *row = &c->t->trow;
    }
    return st_ok();
}

static void c_close(struct outpost_cursor *c)
{
    if (c) {
        free(c->idx);
        free(c);
    }
}

static struct outpost_cursor *c_new(struct outpost_txn *t, int kind, size_t cap)
{
    struct outpost_cursor *c = calloc(1, sizeof *c);
    c->t = t;
    c->kind = kind;
    c->idx = malloc((cap ? cap : 1) * sizeof *c->idx);
    return c;
}

static outpost_status r_folder_get(struct outpost_txn *t, int64_t id, const outpost_folder **out)
{
    struct mfolder *f = folder_by_id(t->m, id);
    if (!f)
        return st_err(OUTPOST_GONE, "no such folder");
    t->frow = f->f;
    t->frow.name = f->name;
    *out = &t->frow;
    return st_ok();
}

static outpost_status r_folder_list(struct outpost_txn *t, struct outpost_cursor **out)
{
    struct outpost_cursor *c = c_new(t, 0, t->m->nf);
    for (size_t i = 0; i < t->m->nf; i++)
        if (!t->m->folders[i].deleted)
            c->idx[c->n++] = i;
    *out = c;
    return st_ok();
}

static outpost_status r_item_get(struct outpost_txn *t, int64_t id, const outpost_item **out)
{
    struct mitem *mi = item_by_id(t->m, id);
    if (!mi)
        return st_err(OUTPOST_GONE, "no such item");
    fill_item(&t->irow, mi);
    *out = &t->irow;
    return st_ok();
}

static int cmp_uid(const void *a, const void *b, void *ctx)
{
    struct memstore *m = ctx;
    uint32_t x = m->items[*(const size_t *)a].it.uid, y = m->items[*(const size_t *)b].it.uid;
    return x < y ? -1 : x > y;
}

static struct memstore *sort_ctx;
static int cmp_uid_q(const void *a, const void *b)
{
    return cmp_uid(a, b, sort_ctx);
}

static outpost_status items_where(struct outpost_txn *t, int64_t folder, uint32_t lo, uint32_t hi, uint64_t since,
                                  struct outpost_cursor **out)
{
    struct memstore *m = t->m;
    struct outpost_cursor *c = c_new(t, 1, m->ni);
    for (size_t i = 0; i < m->ni; i++) {
        const struct mitem *mi = &m->items[i];
        if (mi->deleted || mi->it.folder_id != folder || mi->it.uid < lo || (hi && mi->it.uid > hi) ||
            mi->it.modseq <= since)
            continue;
        c->idx[c->n++] = i;
    }
    sort_ctx = m; /* under m->mu */
    qsort(c->idx, c->n, sizeof *c->idx, cmp_uid_q);
    *out = c;
    return st_ok();
}

static outpost_status r_items_by_uid(struct outpost_txn *t, int64_t folder, uint32_t lo, uint32_t hi,
                                     struct outpost_cursor **out)
{
    return items_where(t, folder, lo, hi, 0, out);
}

static outpost_status r_items_changed(struct outpost_txn *t, int64_t folder, uint64_t since, struct outpost_cursor **out)
{
    return items_where(t, folder, 0, 0, since, out);
}

static outpost_status r_expunged(struct outpost_txn *t, int64_t folder, uint64_t since, struct outpost_cursor **out)
{
    struct outpost_cursor *c = c_new(t, 2, t->m->nt);
    for (size_t i = 0; i < t->m->nt; i++)
        if (t->m->tombs[i].folder == folder && t->m->tombs[i].modseq > since)
            c->idx[c->n++] = i;
    *out = c;
    return st_ok();
}

static outpost_status r_content_read(struct outpost_txn *t, int64_t id, uint64_t off, void *buf, size_t len,
                                     size_t *got)
{
    struct mitem *mi = item_by_id(t->m, id);
    *got = 0;
    if (!mi)
        return st_err(OUTPOST_GONE, "no such item");
    if (mi->it.content_state != OUTPOST_CONTENT_COMPLETE)
        return st_err(OUTPOST_GONE, "content not cached");
    if (off >= mi->len)
        return st_ok();
    size_t n = mi->len - off < len ? mi->len - off : len;
    memcpy(buf, mi->content + off, n);
    *got = n;
    return st_ok();
}

static const struct outpost_storage_methods mem_methods = {
    .struct_size = OUTPOST_STORAGE_METHODS_V1_0_SIZE, /* no fts_search: SEARCH scans */
    .cursor_next = c_next,
    .cursor_close = c_close,
    .folder_get = r_folder_get,
    .folder_list = r_folder_list,
    .item_get = r_item_get,
    .items_by_uid = r_items_by_uid,
    .items_changed_since = r_items_changed,
    .expunged_since = r_expunged,
    .content_read = r_content_read,
};

/* ---- summaries (crude: enough for the tests) ---- */

static char *header_value(const char *mime, size_t len, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < len;) {
        if (mime[i] == '\r' || mime[i] == '\n')
            break; /* end of header */
        size_t eol = i;
        while (eol < len && mime[eol] != '\n')
            eol++;
        if (eol - i > nl && !strncasecmp(mime + i, name, nl) && mime[i + nl] == ':') {
            char *v = malloc(4096);
            size_t o = 0;
            size_t j = i + nl + 1;
            for (;;) {
                for (; j < len && mime[j] != '\n'; j++)
                    if (mime[j] != '\r' && o + 1 < 4096)
                        v[o++] = mime[j] == '\t' ? ' ' : mime[j];
                if (j + 1 < len && (mime[j + 1] == ' ' || mime[j + 1] == '\t'))
                    j++;
                else
                    break;
            }
            v[o] = '\0';
            char *p = v;
            while (*p == ' ')
                p++;
            memmove(v, p, strlen(p) + 1);
            return v;
        }
        i = eol + 1;
    }
    return NULL;
}

static void qappend(char **buf, size_t *n, const char *s)
{
    size_t l = strlen(s);
    *buf = realloc(*buf, *n + l + 1);
    memcpy(*buf + *n, s, l + 1);
    *n += l;
}

static void qstring(char **buf, size_t *n, const char *s)
{
    if (!s) {
        qappend(buf, n, "NIL");
        return;
    }
    qappend(buf, n, "\"");
    for (const char *p = s; *p; p++) {
        char c[3] = { 0 };
        if (*p == '"' || *p == '\\') {
            c[0] = '\\';
            c[1] = *p;
        } else {
            c[0] = *p;
        }
        qappend(buf, n, c);
    }
    qappend(buf, n, "\"");
}

static void qaddrs(char **buf, size_t *n, const char *list)
{
    if (!list || !*list) {
        qappend(buf, n, "NIL");
        return;
    }
    qappend(buf, n, "(");
    char *dup = strdup(list);
    for (char *tok = strtok(dup, ","); tok; tok = strtok(NULL, ",")) {
        while (*tok == ' ')
            tok++;
        char *lt = strchr(tok, '<'), *name = NULL, *addr = tok;
        if (lt) {
            *lt = '\0';
            addr = lt + 1;
            char *gt = strchr(addr, '>');
            if (gt)
                *gt = '\0';
            name = tok;
            size_t nl = strlen(name);
            while (nl && name[nl - 1] == ' ')
                name[--nl] = '\0';
            if (nl >= 2 && name[0] == '"' && name[nl - 1] == '"') {
                name[nl - 1] = '\0';
                name++;
            }
            if (!*name)
                name = NULL;
        }
        char *at = strchr(addr, '@');
        if (at)
            *at = '\0';
        qappend(buf, n, "(");
        qstring(buf, n, name);
        qappend(buf, n, " NIL ");
        qstring(buf, n, addr);
        qappend(buf, n, " ");
        qstring(buf, n, at ? at + 1 : NULL);
        qappend(buf, n, ")");
    }
    free(dup);
    qappend(buf, n, ")");
}

static void summarize(struct mitem *mi)
{
    const char *c = mi->content;
    size_t len = mi->len;
    mi->subject = header_value(c, len, "Subject");
    mi->from = header_value(c, len, "From");
    mi->to = header_value(c, len, "To");
    mi->cc = header_value(c, len, "Cc");
    mi->msgid = header_value(c, len, "Message-ID");
    char *date = header_value(c, len, "Date");
    char *irt = header_value(c, len, "In-Reply-To");
    char *e = NULL;
    size_t n = 0;
    qappend(&e, &n, "(");
    qstring(&e, &n, date);
    qappend(&e, &n, " ");
    qstring(&e, &n, mi->subject);
    for (int k = 0; k < 3; k++) {
        qappend(&e, &n, " ");
        qaddrs(&e, &n, mi->from);
    }
    qappend(&e, &n, " ");
    qaddrs(&e, &n, mi->to);
    qappend(&e, &n, " ");
    qaddrs(&e, &n, mi->cc);
    qappend(&e, &n, " NIL ");
    qstring(&e, &n, irt);
    qappend(&e, &n, " ");
    qstring(&e, &n, mi->msgid);
    qappend(&e, &n, ")");
    mi->envelope = e;
    /* body: after the blank line */
    const char *body = strstr(c, "\r\n\r\n");
    size_t boff = body ? (size_t)(body - c) + 4 : len;
    size_t lines = 0;
    for (size_t i = boff; i < len; i++)
        lines += c[i] == '\n';
    char bs[256];
    snprintf(bs, sizeof bs, "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" %zu %zu NIL NIL NIL NIL)",
             len - boff, lines);
    mi->bs = strdup(bs);
    free(date);
    free(irt);
    mi->it.date = mi->it.internal_date;
}

/* ---- writes ---- */

static void journal(struct memstore *m, const char *fmt, ...)
{
    if (!m->journal)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(m->journal, fmt, ap);
    va_end(ap);
    fputc('\n', m->journal);
    fflush(m->journal);
}

static void queue_event(struct memstore *m, uint32_t kind, int64_t folder)
{
    for (int i = 0; i < m->nev; i++)
        if (m->ev[i].kind == kind && m->ev[i].folder_id == folder)
            return;
    if (m->nev < 8) {
        outpost_store_event *e = &m->ev[m->nev++];
        memset(e, 0, sizeof *e);
        e->struct_size = sizeof *e;
        e->kind = kind;
        e->folder_id = folder;
        struct mfolder *f = folder_by_id(m, folder);
        e->highest_modseq = f ? f->f.highest_modseq : 0;
    }
}

static void unlock_and_notify(struct memstore *m)
{
    outpost_store_event ev[8];
    int n = m->nev;
    memcpy(ev, m->ev, sizeof ev);
    m->nev = 0;
    struct listener ls[64];
    int nls = m->nls;
    memcpy(ls, m->ls, sizeof ls);
    pthread_mutex_unlock(&m->mu);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < nls; k++)
            if (ls[k].active)
                ls[k].fn(ls[k].ctx, &ev[i]);
}

static void recount(struct memstore *m, struct mfolder *f)
{
    f->f.total = f->f.unread = f->f.flagged = 0;
    for (size_t i = 0; i < m->ni; i++) {
        const struct mitem *mi = &m->items[i];
        if (mi->deleted || mi->it.folder_id != f->f.id)
            continue;
        f->f.total++;
        f->f.unread += !(mi->it.flags & OUTPOST_FLAG_SEEN);
        f->f.flagged += !!(mi->it.flags & OUTPOST_FLAG_FLAGGED);
    }
}

static void tombstone(struct memstore *m, struct mfolder *f, uint32_t uid)
{
    m->tombs = realloc(m->tombs, (m->nt + 1) * sizeof *m->tombs);
    m->tombs[m->nt].folder = f->f.id;
    m->tombs[m->nt].uid = uid;
    m->tombs[m->nt].modseq = ++f->f.highest_modseq;
    m->nt++;
}

static struct mitem *new_item(struct memstore *m)
{
    m->items = realloc(m->items, (m->ni + 1) * sizeof *m->items);
    struct mitem *mi = &m->items[m->ni];
    memset(mi, 0, sizeof *mi);
    mi->it.struct_size = sizeof mi->it;
    mi->it.kind = OUTPOST_ITEM_MAIL;
    mi->it.id = (int64_t)++m->ni;
    return mi;
}

static int64_t add_message_locked(struct memstore *m, struct mfolder *f, const char *mime, size_t len, uint32_t flags,
                                  const char *kw, int64_t idate, int summary_only)
{
    struct mitem *mi = new_item(m);
    mi->content = malloc(len + 1);
    memcpy(mi->content, mime, len);
    mi->content[len] = '\0';
    mi->len = len;
    mi->keywords = kw && *kw ? strdup(kw) : NULL;
    mi->it.folder_id = f->f.id;
    mi->it.uid = f->f.uidnext++;
    mi->it.modseq = ++f->f.highest_modseq;
    mi->it.flags = flags;
    mi->it.internal_date = idate;
    mi->it.size = len;
    mi->it.cached_size = len;
    mi->it.content_state = summary_only ? OUTPOST_CONTENT_SUMMARY : OUTPOST_CONTENT_COMPLETE;
    summarize(mi);
    recount(m, f);
    queue_event(m, OUTPOST_EVENT_ITEMS, f->f.id);
    return mi->it.id;
}

static struct memstore *M(const struct outpost_host *h)
{
    (void)h;
    return current;
}

static outpost_status a_read_begin(const struct outpost_host *h, struct outpost_txn **out)
{
    struct memstore *m = M(h);
    pthread_mutex_lock(&m->mu);
    struct outpost_txn *t = calloc(1, sizeof *t);
    t->m = m;
    *out = t;
    return st_ok();
}

static void a_read_end(const struct outpost_host *h, struct outpost_txn *t)
{
    (void)h;
    struct memstore *m = t->m;
    free(t);
    pthread_mutex_unlock(&m->mu);
}

static char *kw_apply(const char *cur, const char *kw, uint32_t op)
{
    char buf[4096] = "";
    if (op == OUTPOST_FLAGS_REPLACE)
        return kw && *kw ? strdup(kw) : NULL;
    if (cur)
        snprintf(buf, sizeof buf, "%s", cur);
    char *dup = kw ? strdup(kw) : strdup("");
    for (char *t = strtok(dup, " "); t; t = strtok(NULL, " ")) {
        char pad[512];
        snprintf(pad, sizeof pad, " %s ", t);
        char hay[4200];
        snprintf(hay, sizeof hay, " %s ", buf);
        char *at = strcasestr(hay, pad);
        if (op == OUTPOST_FLAGS_ADD && !at) {
            if (*buf)
                strncat(buf, " ", sizeof buf - strlen(buf) - 1);
            strncat(buf, t, sizeof buf - strlen(buf) - 1);
        } else if (op == OUTPOST_FLAGS_REMOVE && at) {
            memmove(at, at + strlen(pad) - 1, strlen(at + strlen(pad) - 1) + 1);
            size_t l = strlen(hay);
            while (l && hay[l - 1] == ' ')
                hay[--l] = '\0';
            const char *src = hay[0] == ' ' ? hay + 1 : hay;
            size_t sl = strlen(src) < sizeof buf - 1 ? strlen(src) : sizeof buf - 1;
            memcpy(buf, src, sl);
            buf[sl] = '\0';
        }
    }
    free(dup);
    return *buf ? strdup(buf) : NULL;
}

static outpost_status a_set_flags(const struct outpost_host *h, const int64_t *ids, uint32_t n, uint32_t op,
                                  uint32_t flags, const char *keywords, uint64_t *modseqs, outpost_item_status *ist)
{
    struct memstore *m = M(h);
    pthread_mutex_lock(&m->mu);
    for (uint32_t i = 0; i < n; i++) {
        struct mitem *mi = item_by_id(m, ids[i]);
        if (ist) {
            ist[i].index = i;
            ist[i].status = mi ? st_ok() : st_err(OUTPOST_GONE, "gone");
        }
        if (!mi) {
            if (modseqs)
                modseqs[i] = 0;
            continue;
        }
        uint32_t nf = op == OUTPOST_FLAGS_ADD ? mi->it.flags | flags
                      : op == OUTPOST_FLAGS_REMOVE ? mi->it.flags & ~flags
                                                   : flags;
        char *nk = kw_apply(mi->keywords, keywords, op);
        int same = nf == mi->it.flags && ((!nk && !mi->keywords) || (nk && mi->keywords && !strcmp(nk, mi->keywords)));
        if (!same) {
            struct mfolder *f = folder_by_id(m, mi->it.folder_id);
            mi->it.flags = nf;
            free(mi->keywords);
            mi->keywords = nk;
            nk = NULL;
            mi->it.modseq = ++f->f.highest_modseq;
            recount(m, f);
            queue_event(m, OUTPOST_EVENT_ITEMS, f->f.id);
            journal(m, "FLAGS item=%lld uid=%u flags=%u keywords=%s", (long long)mi->it.id, mi->it.uid, nf,
                    mi->keywords ? mi->keywords : "");
        }
        free(nk);
        if (modseqs)
            modseqs[i] = mi->it.modseq;
    }
    unlock_and_notify(m);
    return st_ok();
}

static outpost_status a_move(const struct outpost_host *h, const int64_t *ids, uint32_t n, int64_t to,
                             uint32_t *new_uids, outpost_item_status *ist)
{
    struct memstore *m = M(h);
    pthread_mutex_lock(&m->mu);
    struct mfolder *tf = folder_by_id(m, to);
    if (!tf) {
        pthread_mutex_unlock(&m->mu);
        return st_err(OUTPOST_GONE, "target folder gone");
    }
    for (uint32_t i = 0; i < n; i++) {
        struct mitem *mi = item_by_id(m, ids[i]);
        if (ist) {
            ist[i].index = i;
            ist[i].status = mi ? st_ok() : st_err(OUTPOST_GONE, "gone");
        }
        if (new_uids)
            new_uids[i] = 0;
        if (!mi)
            continue;
        struct mfolder *sf = folder_by_id(m, mi->it.folder_id);
        tombstone(m, sf, mi->it.uid);
        mi->it.folder_id = to;
        mi->it.uid = tf->f.uidnext++;
        mi->it.modseq = ++tf->f.highest_modseq;
        if (new_uids)
            new_uids[i] = mi->it.uid;
        recount(m, sf);
        recount(m, tf);
        queue_event(m, OUTPOST_EVENT_ITEMS, sf->f.id);
        queue_event(m, OUTPOST_EVENT_ITEMS, to);
        journal(m, "MOVE item=%lld from=%lld to=%lld", (long long)mi->it.id, (long long)sf->f.id, (long long)to);
    }
    unlock_and_notify(m);
    return st_ok();
}

static outpost_status a_copy(const struct outpost_host *h, const int64_t *ids, uint32_t n, int64_t to, int64_t *new_ids,
                             uint32_t *new_uids, outpost_item_status *ist)
{
    struct memstore *m = M(h);
    pthread_mutex_lock(&m->mu);
    struct mfolder *tf = folder_by_id(m, to);
    if (!tf) {
        pthread_mutex_unlock(&m->mu);
        return st_err(OUTPOST_GONE, "target folder gone");
    }
    for (uint32_t i = 0; i < n; i++) {
        struct mitem *src = item_by_id(m, ids[i]);
        if (ist) {
            ist[i].index = i;
            ist[i].status = src ? st_ok() : st_err(OUTPOST_GONE, "gone");
        }
        if (!src) {
            if (new_uids)
                new_uids[i] = 0;
            continue;
        }
        size_t si = (size_t)(src - m->items);
        struct mitem *mi = new_item(m); /* may move m->items */
        src = &m->items[si];
        int64_t id = mi->it.id;
        *mi = *src;
        mi->it.id = id;
        mi->keywords = src->keywords ? strdup(src->keywords) : NULL;
        mi->subject = src->subject ? strdup(src->subject) : NULL;
        mi->from = src->from ? strdup(src->from) : NULL;
        mi->to = src->to ? strdup(src->to) : NULL;
        mi->cc = src->cc ? strdup(src->cc) : NULL;
        mi->msgid = src->msgid ? strdup(src->msgid) : NULL;
        mi->envelope = strdup(src->envelope);
        mi->bs = strdup(src->bs);
        mi->content = malloc(src->len + 1);
        memcpy(mi->content, src->content, src->len + 1);
        mi->it.folder_id = to;
        mi->it.uid = tf->f.uidnext++;
        mi->it.modseq = ++tf->f.highest_modseq;
        if (new_ids)
            new_ids[i] = id;
        if (new_uids)
            new_uids[i] = mi->it.uid;
        recount(m, tf);
        queue_event(m, OUTPOST_EVENT_ITEMS, to);
        journal(m, "COPY item=%lld new=%lld to=%lld", (long long)ids[i], (long long)id, (long long)to);
    }
    unlock_and_notify(m);
    return st_ok();
}

static outpost_status a_remove(const struct outpost_host *h, const int64_t *ids, uint32_t n, int permanent,
                               outpost_item_status *ist)
{
    struct memstore *m = M(h);
    pthread_mutex_lock(&m->mu);
    for (uint32_t i = 0; i < n; i++) {
        struct mitem *mi = item_by_id(m, ids[i]);
        if (ist) {
            ist[i].index = i;
            ist[i].status = mi ? st_ok() : st_err(OUTPOST_GONE, "gone");
        }
        if (!mi)
            continue;
        struct mfolder *f = folder_by_id(m, mi->it.folder_id);
        tombstone(m, f, mi->it.uid);
        mi->deleted = 1;
        recount(m, f);
        queue_event(m, OUTPOST_EVENT_ITEMS, f->f.id);
        journal(m, "DELETE item=%lld uid=%u permanent=%d", (long long)mi->it.id, mi->it.uid, permanent);
    }
    unlock_and_notify(m);
    return st_ok();
}

static outpost_status a_append(const struct outpost_host *h, int64_t folder, struct outpost_reader *content,
                               uint32_t flags, const char *kw, int64_t idate, int64_t *new_id, uint32_t *new_uid)
{
    struct memstore *m = M(h);
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len == cap)
            buf = realloc(buf, cap *= 2);
        size_t got = 0;
        outpost_status st = content->read(content->ctx, buf + len, cap - len, &got);
        if (st.code != OUTPOST_OK) {
            free(buf);
            return st;
        }
        if (!got)
            break;
        len += got;
    }
    pthread_mutex_lock(&m->mu);
    struct mfolder *f = folder_by_id(m, folder);
    if (!f) {
        pthread_mutex_unlock(&m->mu);
        free(buf);
        return st_err(OUTPOST_GONE, "folder gone");
    }
    int64_t id = add_message_locked(m, f, buf, len, flags, kw, idate ? idate : (int64_t)time(NULL) * 1000, 0);
    free(buf);
    *new_id = id;
    *new_uid = item_by_id(m, id)->it.uid;
    journal(m, "CREATE item=%lld folder=%lld size=%zu", (long long)id, (long long)folder, len);
    unlock_and_notify(m);
    return st_ok();
}

static outpost_status a_update(const struct outpost_host *h, int64_t id, struct outpost_reader *content)
{
    (void)h;
    (void)id;
    (void)content;
    return st_err(OUTPOST_BAD_DATA, "not supported by the test store");
}

static int64_t add_folder_locked(struct memstore *m, int64_t parent, const char *name, uint32_t kind, uint32_t su,
                                 uint32_t flags)
{
    m->folders = realloc(m->folders, (m->nf + 1) * sizeof *m->folders);
    struct mfolder *f = &m->folders[m->nf];
    memset(f, 0, sizeof *f);
    f->f.struct_size = sizeof f->f;
    f->f.id = (int64_t)m->nf + 1;
    f->f.parent_id = parent;
    f->f.kind = kind;
    f->f.special_use = su;
    f->f.flags = flags;
    f->f.uidvalidity = m->next_uidvalidity++;
    f->f.uidnext = 1;
    f->f.highest_modseq = 1;
    f->name = strdup(name);
    m->nf++;
    queue_event(m, OUTPOST_EVENT_FOLDERS, 0);
    return f->f.id;
}

static outpost_status a_folder_create(const struct outpost_host *h, int64_t parent, const char *name, uint32_t kind,
                                      int64_t *new_id)
{
    struct memstore *m = M(h);
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->nf; i++)
        if (!m->folders[i].deleted && m->folders[i].f.parent_id == parent && !strcmp(m->folders[i].name, name)) {
            pthread_mutex_unlock(&m->mu);
            return st_err(OUTPOST_BAD_DATA, "a sibling folder has that name");
        }
    if (parent && !folder_by_id(m, parent)) {
        pthread_mutex_unlock(&m->mu);
        return st_err(OUTPOST_GONE, "parent folder gone");
    }
    *new_id = add_folder_locked(m, parent, name, kind, 0, OUTPOST_FOLDER_SUBSCRIBED);
    journal(m, "FOLDER_CREATE id=%lld parent=%lld name=%s", (long long)*new_id, (long long)parent, name);
    unlock_and_notify(m);
    return st_ok();
}

static outpost_status a_folder_rename(const struct outpost_host *h, int64_t id, int64_t np, const char *name)
{
    struct memstore *m = M(h);
    pthread_mutex_lock(&m->mu);
    struct mfolder *f = folder_by_id(m, id);
    if (!f) {
        pthread_mutex_unlock(&m->mu);
        return st_err(OUTPOST_GONE, "folder gone");
    }
    free(f->name);
    f->name = strdup(name);
    if (np >= 0)
        f->f.parent_id = np;
    queue_event(m, OUTPOST_EVENT_FOLDERS, 0);
    journal(m, "FOLDER_RENAME id=%lld parent=%lld name=%s", (long long)id, (long long)np, name);
    unlock_and_notify(m);
    return st_ok();
}

static outpost_status a_folder_delete(const struct outpost_host *h, int64_t id)
{
    struct memstore *m = M(h);
    pthread_mutex_lock(&m->mu);
    struct mfolder *f = folder_by_id(m, id);
    if (!f) {
        pthread_mutex_unlock(&m->mu);
        return st_err(OUTPOST_GONE, "folder gone");
    }
    for (size_t i = 0; i < m->nf; i++)
        if (!m->folders[i].deleted && m->folders[i].f.parent_id == id) {
            pthread_mutex_unlock(&m->mu);
            return st_err(OUTPOST_BAD_DATA, "folder has children");
        }
    f->deleted = 1;
    for (size_t i = 0; i < m->ni; i++)
        if (m->items[i].it.folder_id == id)
            m->items[i].deleted = 1;
    queue_event(m, OUTPOST_EVENT_FOLDERS, 0);
    journal(m, "FOLDER_DELETE id=%lld", (long long)id);
    unlock_and_notify(m);
    return st_ok();
}

static outpost_status a_folder_subscribe(const struct outpost_host *h, int64_t id, int on)
{
    struct memstore *m = M(h);
    pthread_mutex_lock(&m->mu);
    struct mfolder *f = folder_by_id(m, id);
    if (!f) {
        pthread_mutex_unlock(&m->mu);
        return st_err(OUTPOST_GONE, "folder gone");
    }
    if (on)
        f->f.flags |= OUTPOST_FOLDER_SUBSCRIBED;
    else
        f->f.flags &= ~(uint32_t)OUTPOST_FOLDER_SUBSCRIBED;
    journal(m, "FOLDER_SUBSCRIBE id=%lld on=%d", (long long)id, on);
    unlock_and_notify(m);
    return st_ok();
}

static outpost_status a_request_content(const struct outpost_host *h, int64_t id, uint32_t timeout_ms)
{
    (void)timeout_ms;
    struct memstore *m = M(h);
    pthread_mutex_lock(&m->mu);
    struct mitem *mi = item_by_id(m, id);
    outpost_status st = st_ok();
    if (!mi)
        st = st_err(OUTPOST_GONE, "no such item");
    else if (mi->it.content_state != OUTPOST_CONTENT_COMPLETE && !m->online)
        st = st_err(OUTPOST_TEMP, "offline");
    else
        mi->it.content_state = OUTPOST_CONTENT_COMPLETE;
    pthread_mutex_unlock(&m->mu);
    return st;
}

static void a_open_hint(const struct outpost_host *h, int64_t id, int open)
{
    (void)h;
    (void)id;
    (void)open;
}

struct outpost_store_subscription {
    int slot;
};

static outpost_status a_subscribe(const struct outpost_host *h, outpost_store_listener fn, void *ctx,
                                  struct outpost_store_subscription **out)
{
    struct memstore *m = M(h);
    pthread_mutex_lock(&m->mu);
    if (m->nls >= 64) {
        pthread_mutex_unlock(&m->mu);
        return st_err(OUTPOST_TEMP, "too many subscribers");
    }
    m->ls[m->nls] = (struct listener){ fn, ctx, 1 };
    struct outpost_store_subscription *s = malloc(sizeof *s);
    s->slot = m->nls++;
    pthread_mutex_unlock(&m->mu);
    *out = s;
    return st_ok();
}

static void a_unsubscribe(const struct outpost_host *h, struct outpost_store_subscription *s)
{
    struct memstore *m = M(h);
    pthread_mutex_lock(&m->mu);
    m->ls[s->slot].active = 0;
    pthread_mutex_unlock(&m->mu);
    free(s);
}

static int a_online(const struct outpost_host *h)
{
    return M(h)->online;
}

static const struct outpost_store_api mem_api = {
    .struct_size = sizeof(struct outpost_store_api),
    .storage = &mem_methods,
    .storage_caps = 0,
    .read_begin = a_read_begin,
    .read_end = a_read_end,
    .set_flags = a_set_flags,
    .move = a_move,
    .copy = a_copy,
    .remove = a_remove,
    .append = a_append,
    .update = a_update,
    .folder_create = a_folder_create,
    .folder_rename = a_folder_rename,
    .folder_delete = a_folder_delete,
    .folder_subscribe = a_folder_subscribe,
    .request_content = a_request_content,
    .folder_open_hint = a_open_hint,
    .subscribe = a_subscribe,
    .unsubscribe = a_unsubscribe,
    .online = a_online,
};

const struct outpost_store_api *memstore_api(void)
{
    return &mem_api;
}

struct memstore *memstore_new(const char *journal_path)
{
    struct memstore *m = calloc(1, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    m->online = 1;
    m->next_uidvalidity = (uint32_t)time(NULL);
    if (journal_path)
        m->journal = fopen(journal_path, "w");
    return m;
}

void memstore_free(struct memstore *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nf; i++)
        free(m->folders[i].name);
    for (size_t i = 0; i < m->ni; i++) {
        struct mitem *mi = &m->items[i];
        free(mi->keywords);
        free(mi->subject);
        free(mi->from);
        free(mi->to);
        free(mi->cc);
        free(mi->msgid);
        free(mi->envelope);
        free(mi->bs);
        free(mi->content);
    }
    free(m->folders);
    free(m->items);
    free(m->tombs);
    if (m->journal)
        fclose(m->journal);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

int64_t memstore_add_folder(struct memstore *m, int64_t parent, const char *name, uint32_t kind, uint32_t su,
                            uint32_t flags)
{
    pthread_mutex_lock(&m->mu);
    int64_t id = add_folder_locked(m, parent, name, kind, su, flags);
    m->nev = 0;
    pthread_mutex_unlock(&m->mu);
    return id;
}

int64_t memstore_add_message(struct memstore *m, int64_t folder, const char *mime, size_t len, uint32_t flags,
                             int64_t idate, int summary_only)
{
    pthread_mutex_lock(&m->mu);
    struct mfolder *f = folder_by_id(m, folder);
    int64_t id = f ? add_message_locked(m, f, mime, len, flags, NULL, idate, summary_only) : 0;
    m->nev = 0;
    pthread_mutex_unlock(&m->mu);
    return id;
}

void memstore_set_online(struct memstore *m, int online)
{
    pthread_mutex_lock(&m->mu);
    m->online = online;
    pthread_mutex_unlock(&m->mu);
}
