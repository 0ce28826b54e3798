/* tests/mapi/fake_store.c — in-memory store API and host (see header). */
#include "fake_store.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gmime/gmime.h>
#include <libical/ical.h>

#include "mapi_vcard.h"

typedef struct fitem {
    outpost_item it;
    char *content;
    size_t len;
    int live;
} fitem;

typedef struct ffolder {
    outpost_folder f;
    int live;
} ffolder;

typedef struct flistener {
    outpost_store_listener fn;
    void *ctx;
    int live;
} flistener;

struct outpost_store_subscription {
    int idx;
};

struct fake_store {
    pthread_mutex_t lock;
    ffolder *folders;
    uint32_t nfolders;
    fitem *items;
    uint32_t nitems;
    fake_journal *journal;
    uint32_t njournal;
    flistener listeners[16];
    struct outpost_store_subscription subs[16];
    outpost_store_event pending[64];
    uint32_t npending;
};

struct outpost_txn {
    struct fake_store *s;
};

struct outpost_cursor {
    const void **rows;
    uint32_t n, i;
};

struct fake_host {
    struct outpost_host h;
    struct outpost_store_api api;
    struct outpost_storage_methods m;
    struct fake_store store;
    struct outpost_txn txn;
    char *data_dir;
    char *keys[16], *vals[16];
};

static struct fake_host *FH(const struct outpost_host *h)
{
    return (struct fake_host *)h;
}

struct fake_store *fake_store_of(const struct outpost_host *h)
{
    return &FH(h)->store;
}

/* ---- summaries ---- */

static char *sdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void item_strings_free(outpost_item *it)
{
    free((char *)it->subject);
    free((char *)it->from);
    free((char *)it->to);
    free((char *)it->cc);
    free((char *)it->message_id);
    free((char *)it->object_uid);
    free((char *)it->keywords);
    free((char *)it->bodystructure);
}

static char *addr_list(InternetAddressList *l)
{
    return l && internet_address_list_length(l) ? internet_address_list_to_string(l, NULL, FALSE) : NULL;
}

static void summarize(outpost_item *it, const char *content, size_t len)
{
    item_strings_free(it);
    it->subject = it->from = it->to = it->cc = it->message_id = it->object_uid = it->bodystructure = NULL;
    if (it->kind == OUTPOST_ITEM_MAIL) {
        GMimeStream *st = g_mime_stream_mem_new_with_buffer(content, len);
        GMimeParser *p = g_mime_parser_new_with_stream(st);
        GMimeMessage *m = g_mime_parser_construct_message(p, NULL);
        if (m) {
            it->subject = sdup(g_mime_message_get_subject(m));
            char *x;
            if ((x = addr_list(g_mime_message_get_from(m)))) { it->from = strdup(x); g_free(x); }
            if ((x = addr_list(g_mime_message_get_addresses(m, GMIME_ADDRESS_TYPE_TO)))) { it->to = strdup(x); g_free(x); }
            if ((x = addr_list(g_mime_message_get_addresses(m, GMIME_ADDRESS_TYPE_CC)))) { it->cc = strdup(x); g_free(x); }
            it->message_id = sdup(g_mime_message_get_message_id(m));
            GDateTime *d = g_mime_message_get_date(m);
            if (d)
                it->date = g_date_time_to_unix(d) * 1000;
            if (strstr(content, "Content-Disposition: attachment"))
                it->bodystructure = strdup("(\"attachment\")");
            g_object_unref(m);
        }
        g_object_unref(p);
        g_object_unref(st);
    } else if (it->kind == OUTPOST_ITEM_CONTACT) {
        mapi_vcard v;
        if (mapi_vcard_parse(content, len, &v) == 0) {
            it->subject = sdup(mapi_vcard_get(&v, "FN", NULL, 0));
            it->object_uid = sdup(mapi_vcard_get(&v, "UID", NULL, 0));
            mapi_vcard_free(&v);
        }
    } else {
        char *copy = strndup(content, len);
        icalcomponent *c = copy ? icalparser_parse_string(copy) : NULL;
        free(copy);
        icalcomponent *inner = c ? icalcomponent_get_first_real_component(c) : NULL;
        if (inner) {
            it->subject = sdup(icalcomponent_get_summary(inner));
            it->object_uid = sdup(icalcomponent_get_uid(inner));
            struct icaltimetype t = icalcomponent_get_dtstart(inner);
            if (!icaltime_is_null_time(t))
                it->date = (int64_t)icaltime_as_timet_with_zone(t, icaltimezone_get_utc_timezone()) * 1000;
        }
        if (c)
            icalcomponent_free(c);
    }
    it->size = len;
    it->cached_size = len;
    it->content_state = OUTPOST_CONTENT_COMPLETE;
}

/* ---- data helpers (lock held) ---- */

static ffolder *folder_at(struct fake_store *s, int64_t id)
{
    if (id <= 0 || id > s->nfolders || !s->folders[id - 1].live)
        return NULL;
    return &s->folders[id - 1];
}

static fitem *item_at(struct fake_store *s, int64_t id)
{
    if (id <= 0 || id > s->nitems || !s->items[id - 1].live)
        return NULL;
    return &s->items[id - 1];
}

static void recount(struct fake_store *s, int64_t folder)
{
    ffolder *f = folder_at(s, folder);
    if (!f)
        return;
    f->f.total = f->f.unread = f->f.flagged = 0;
    for (uint32_t i = 0; i < s->nitems; i++) {
        fitem *x = &s->items[i];
        if (!x->live || x->it.folder_id != folder)
            continue;
        f->f.total++;
        if (!(x->it.flags & OUTPOST_FLAG_SEEN))
            f->f.unread++;
        if (x->it.flags & OUTPOST_FLAG_FLAGGED)
            f->f.flagged++;
    }
}

static void journal(struct fake_store *s, uint32_t op, int64_t item, int64_t folder, int64_t target, uint32_t flags)
{
    fake_journal *n = realloc(s->journal, (s->njournal + 1) * sizeof *n);
    if (!n)
        return;
    s->journal = n;
    s->journal[s->njournal++] = (fake_journal){ op, item, folder, target, flags };
}

static void queue_event(struct fake_store *s, uint32_t kind, int64_t folder, int64_t item)
{
    if (s->npending < 64)
        s->pending[s->npending++] = (outpost_store_event){ sizeof(outpost_store_event), kind, folder, item, 0 };
}

/* Unlocks and delivers queued events on this thread (after the "commit"). */
static void unlock_and_notify(struct fake_store *s)
{
    outpost_store_event ev[64];
    uint32_t n = s->npending;
    flistener ls[16];
    memcpy(ev, s->pending, n * sizeof ev[0]);
    memcpy(ls, s->listeners, sizeof ls);
    s->npending = 0;
    pthread_mutex_unlock(&s->lock);
    for (uint32_t i = 0; i < n; i++)
        for (int k = 0; k < 16; k++)
            if (ls[k].live)
                ls[k].fn(ls[k].ctx, &ev[i]);
}

static int64_t add_item_locked(struct fake_store *s, int64_t folder, uint32_t kind, const char *content, size_t len,
                               uint32_t flags, const char *keywords, int64_t idate)
{
    ffolder *f = folder_at(s, folder);
    if (!f)
        return -1;
    fitem *n = realloc(s->items, (s->nitems + 1) * sizeof *n);
    if (!n)
        return -1;
    s->items = n;
    fitem *x = &s->items[s->nitems++];
    memset(x, 0, sizeof *x);
    x->live = 1;
    x->it.struct_size = sizeof x->it;
    x->it.kind = kind;
    x->it.id = s->nitems;
    x->it.folder_id = folder;
    x->it.uid = f->f.uidnext++;
    x->it.flags = flags;
    x->it.modseq = ++f->f.highest_modseq;
    x->it.keywords = sdup(keywords);
    x->it.internal_date = idate ? idate : (int64_t)time(NULL) * 1000;
    x->content = malloc(len + 1);
    memcpy(x->content, content, len);
    x->content[len] = 0;
    x->len = len;
    summarize(&x->it, content, len);
    recount(s, folder);
    queue_event(s, OUTPOST_EVENT_ITEMS, folder, x->it.id);
    return x->it.id;
}

/* ---- storage read methods ---- */

static outpost_status ok(void)
{
    return outpost_ok();
}

static outpost_status gone(void)
{
    outpost_status st = { OUTPOST_GONE, 0, "no such object" };
    return st;
}

static outpost_status cursor_next(struct outpost_cursor *c, const void **row)
{
    *row = c->i < c->n ? c->rows[c->i++] : NULL;
    return ok();
}

static void cursor_close(struct outpost_cursor *c)
{
    free(c->rows);
    free(c);
}

static outpost_status folder_list(struct outpost_txn *t, struct outpost_cursor **out)
{
    struct fake_store *s = t->s;
    struct outpost_cursor *c = calloc(1, sizeof *c);
    c->rows = calloc(s->nfolders + 1, sizeof *c->rows);
    for (uint32_t i = 0; i < s->nfolders; i++)
        if (s->folders[i].live)
            c->rows[c->n++] = &s->folders[i].f;
    *out = c;
    return ok();
}

static outpost_status folder_get(struct outpost_txn *t, int64_t id, const outpost_folder **out)
{
    ffolder *f = folder_at(t->s, id);
    if (!f)
        return gone();
    *out = &f->f;
    return ok();
}

static outpost_status item_get(struct outpost_txn *t, int64_t id, const outpost_item **out)
{
    fitem *x = item_at(t->s, id);
    if (!x)
        return gone();
    *out = &x->it;
    return ok();
}

static outpost_status items_by_uid(struct outpost_txn *t, int64_t folder, uint32_t lo, uint32_t hi,
                                   struct outpost_cursor **out)
{
    struct fake_store *s = t->s;
    struct outpost_cursor *c = calloc(1, sizeof *c);
    c->rows = calloc(s->nitems + 1, sizeof *c->rows);
    for (uint32_t i = 0; i < s->nitems; i++) {
        fitem *x = &s->items[i];
        if (x->live && x->it.folder_id == folder && x->it.uid >= lo && (hi == 0 || x->it.uid <= hi))
            c->rows[c->n++] = &x->it;
    }
    *out = c;
    return ok();
}

static outpost_status content_read(struct outpost_txn *t, int64_t id, uint64_t off, void *buf, size_t len,
                                   size_t *got)
{
    fitem *x = item_at(t->s, id);
    if (!x)
        return gone();
    size_t n = off >= x->len ? 0 : (x->len - off < len ? x->len - off : len);
    memcpy(buf, x->content + off, n);
    *got = n;
    return ok();
}

/* ---- store API ---- */

static outpost_status read_begin(const struct outpost_host *h, struct outpost_txn **t)
{
    pthread_mutex_lock(&FH(h)->store.lock);
    *t = &FH(h)->txn;
    return ok();
}

static void read_end(const struct outpost_host *h, struct outpost_txn *t)
{
    (void)t;
    pthread_mutex_unlock(&FH(h)->store.lock);
}

static outpost_status set_flags(const struct outpost_host *h, const int64_t *ids, uint32_t n, uint32_t op,
                                uint32_t flags, const char *keywords, uint64_t *modseqs, outpost_item_status *ist)
{
    struct fake_store *s = &FH(h)->store;
    pthread_mutex_lock(&s->lock);
    for (uint32_t i = 0; i < n; i++) {
        fitem *x = item_at(s, ids[i]);
        if (ist) {
            ist[i].index = i;
            ist[i].status = x ? ok() : gone();
        }
        if (!x)
            continue;
        uint32_t nf = op == OUTPOST_FLAGS_ADD ? (x->it.flags | flags)
                      : op == OUTPOST_FLAGS_REMOVE ? (x->it.flags & ~flags)
                                                   : flags;
        x->it.flags = nf;
        if (op == OUTPOST_FLAGS_REPLACE) {
            free((char *)x->it.keywords);
            x->it.keywords = sdup(keywords);
        }
        ffolder *f = folder_at(s, x->it.folder_id);
        x->it.modseq = ++f->f.highest_modseq;
        if (modseqs)
            modseqs[i] = x->it.modseq;
        journal(s, OUTPOST_J_ITEM_FLAGS, x->it.id, x->it.folder_id, 0, nf);
        recount(s, x->it.folder_id);
        queue_event(s, OUTPOST_EVENT_ITEMS, x->it.folder_id, x->it.id);
    }
    unlock_and_notify(s);
    return ok();
}

static outpost_status move(const struct outpost_host *h, const int64_t *ids, uint32_t n, int64_t to,
                           uint32_t *new_uids, outpost_item_status *ist)
{
    struct fake_store *s = &FH(h)->store;
    pthread_mutex_lock(&s->lock);
    ffolder *tf = folder_at(s, to);
    for (uint32_t i = 0; i < n; i++) {
        fitem *x = item_at(s, ids[i]);
        if (ist) {
            ist[i].index = i;
            ist[i].status = x && tf ? ok() : gone();
        }
        if (!x || !tf)
            continue;
        int64_t from = x->it.folder_id;
        x->it.folder_id = to;
        x->it.uid = tf->f.uidnext++;
        if (new_uids)
            new_uids[i] = x->it.uid;
        journal(s, OUTPOST_J_ITEM_MOVE, x->it.id, from, to, 0);
        recount(s, from);
        recount(s, to);
        queue_event(s, OUTPOST_EVENT_ITEMS, from, x->it.id);
        queue_event(s, OUTPOST_EVENT_ITEMS, to, x->it.id);
    }
    unlock_and_notify(s);
    return ok();
}

static outpost_status copy(const struct outpost_host *h, const int64_t *ids, uint32_t n, int64_t to, int64_t *new_ids,
                           uint32_t *new_uids, outpost_item_status *ist)
{
    struct fake_store *s = &FH(h)->store;
    pthread_mutex_lock(&s->lock);
    for (uint32_t i = 0; i < n; i++) {
        fitem *x = item_at(s, ids[i]);
        int64_t nid = -1;
        if (x) {
            fitem src = *x; /* add_item may move the array */
            char *content = strdup(src.content);
            nid = add_item_locked(s, to, src.it.kind, content, src.len, src.it.flags, src.it.keywords,
                                  src.it.internal_date);
            free(content);
        }
        if (ist) {
            ist[i].index = i;
            ist[i].status = nid > 0 ? ok() : gone();
        }
        if (nid > 0) {
            journal(s, OUTPOST_J_ITEM_COPY, nid, to, to, 0);
            if (new_ids)
                new_ids[i] = nid;
            if (new_uids)
                new_uids[i] = item_at(s, nid)->it.uid;
        }
    }
    unlock_and_notify(s);
    return ok();
}

static outpost_status remove_items(const struct outpost_host *h, const int64_t *ids, uint32_t n, int permanent,
                                   outpost_item_status *ist)
{
    struct fake_store *s = &FH(h)->store;
    pthread_mutex_lock(&s->lock);
    for (uint32_t i = 0; i < n; i++) {
        fitem *x = item_at(s, ids[i]);
        if (ist) {
            ist[i].index = i;
            ist[i].status = x ? ok() : gone();
        }
        if (!x)
            continue;
        x->live = 0;
        journal(s, OUTPOST_J_ITEM_DELETE, x->it.id, x->it.folder_id, 0, permanent ? OUTPOST_J_PERMANENT : 0);
        recount(s, x->it.folder_id);
        queue_event(s, OUTPOST_EVENT_ITEMS, x->it.folder_id, x->it.id);
    }
    unlock_and_notify(s);
    return ok();
}

static char *slurp(struct outpost_reader *r, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        size_t got = 0;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        if (r->read(r->ctx, buf + n, cap - n, &got).code != OUTPOST_OK || got == 0)
            break;
        n += got;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

static outpost_status append(const struct outpost_host *h, int64_t folder, struct outpost_reader *content,
                             uint32_t flags, const char *keywords, int64_t internal_date, int64_t *new_id,
                             uint32_t *new_uid)
{
    struct fake_store *s = &FH(h)->store;
    size_t len;
    char *c = slurp(content, &len);
    pthread_mutex_lock(&s->lock);
    ffolder *f = folder_at(s, folder);
    int64_t id = f ? add_item_locked(s, folder, f->f.kind, c, len, flags, keywords, internal_date) : -1;
    free(c);
    if (id > 0) {
        journal(s, OUTPOST_J_ITEM_CREATE, id, folder, 0, flags);
        if (new_id)
            *new_id = id;
        if (new_uid)
            *new_uid = item_at(s, id)->it.uid;
    }
    unlock_and_notify(s);
    return id > 0 ? ok() : gone();
}

static outpost_status update(const struct outpost_host *h, int64_t id, struct outpost_reader *content)
{
    struct fake_store *s = &FH(h)->store;
    size_t len;
    char *c = slurp(content, &len);
    pthread_mutex_lock(&s->lock);
    fitem *x = item_at(s, id);
    if (x) {
        free(x->content);
        x->content = c;
        x->len = len;
        summarize(&x->it, c, len);
        x->it.modseq = ++folder_at(s, x->it.folder_id)->f.highest_modseq;
        journal(s, OUTPOST_J_ITEM_UPDATE, id, x->it.folder_id, 0, 0);
        queue_event(s, OUTPOST_EVENT_ITEMS, x->it.folder_id, id);
    } else {
        free(c);
    }
    unlock_and_notify(s);
    return x ? ok() : gone();
}

static int64_t add_folder_locked(struct fake_store *s, int64_t parent, const char *name, uint32_t kind,
                                 uint32_t special)
{
    ffolder *n = realloc(s->folders, (s->nfolders + 1) * sizeof *n);
    if (!n)
        return -1;
    s->folders = n;
    ffolder *f = &s->folders[s->nfolders++];
    memset(f, 0, sizeof *f);
    f->live = 1;
    f->f.struct_size = sizeof f->f;
    f->f.id = s->nfolders;
    f->f.parent_id = parent;
    f->f.name = strdup(name);
    f->f.kind = kind;
    f->f.special_use = special;
    f->f.uidvalidity = 1;
    f->f.uidnext = 1;
    f->f.highest_modseq = 1;
    queue_event(s, OUTPOST_EVENT_FOLDERS, f->f.id, 0);
    return f->f.id;
}

static outpost_status folder_create(const struct outpost_host *h, int64_t parent, const char *name, uint32_t kind,
                                    int64_t *new_id)
{
    struct fake_store *s = &FH(h)->store;
    pthread_mutex_lock(&s->lock);
    for (uint32_t i = 0; i < s->nfolders; i++)
        if (s->folders[i].live && s->folders[i].f.parent_id == parent && !strcmp(s->folders[i].f.name, name)) {
            pthread_mutex_unlock(&s->lock);
            outpost_status st = { OUTPOST_BAD_DATA, 0, "a sibling has that name" };
            return st;
        }
    int64_t id = add_folder_locked(s, parent, name, kind, 0);
    journal(s, OUTPOST_J_FOLDER_CREATE, 0, id, parent, 0);
    *new_id = id;
    unlock_and_notify(s);
    return ok();
}

static outpost_status folder_rename(const struct outpost_host *h, int64_t id, int64_t new_parent, const char *name)
{
    struct fake_store *s = &FH(h)->store;
    pthread_mutex_lock(&s->lock);
    ffolder *f = folder_at(s, id);
    if (f) {
        if (name) {
            free((char *)f->f.name);
            f->f.name = strdup(name);
        }
        if (new_parent >= 0)
            f->f.parent_id = new_parent;
        journal(s, OUTPOST_J_FOLDER_RENAME, 0, id, new_parent, 0);
        queue_event(s, OUTPOST_EVENT_FOLDERS, id, 0);
    }
    unlock_and_notify(s);
    return f ? ok() : gone();
}

static outpost_status folder_delete(const struct outpost_host *h, int64_t id)
{
    struct fake_store *s = &FH(h)->store;
    pthread_mutex_lock(&s->lock);
    ffolder *f = folder_at(s, id);
    if (f) {
        f->live = 0;
        for (uint32_t i = 0; i < s->nitems; i++)
            if (s->items[i].it.folder_id == id)
                s->items[i].live = 0;
        journal(s, OUTPOST_J_FOLDER_DELETE, 0, id, 0, 0);
        queue_event(s, OUTPOST_EVENT_FOLDERS, id, 0);
    }
    unlock_and_notify(s);
    return f ? ok() : gone();
}

static outpost_status folder_subscribe(const struct outpost_host *h, int64_t id, int on)
{
    (void)h;
    (void)id;
    (void)on;
    return ok();
}

static outpost_status request_content(const struct outpost_host *h, int64_t id, uint32_t timeout_ms)
{
    (void)h;
    (void)id;
    (void)timeout_ms;
    return ok();
}

static void folder_open_hint(const struct outpost_host *h, int64_t id, int open)
{
    (void)h;
    (void)id;
    (void)open;
}

static outpost_status subscribe(const struct outpost_host *h, outpost_store_listener fn, void *ctx,
                                struct outpost_store_subscription **out)
{
    struct fake_store *s = &FH(h)->store;
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < 16; i++)
        if (!s->listeners[i].live) {
            s->listeners[i] = (flistener){ fn, ctx, 1 };
            s->subs[i].idx = i;
            *out = &s->subs[i];
            pthread_mutex_unlock(&s->lock);
            return ok();
        }
    pthread_mutex_unlock(&s->lock);
    outpost_status st = { OUTPOST_TEMP, 0, "too many subscribers" };
    return st;
}

static void unsubscribe(const struct outpost_host *h, struct outpost_store_subscription *sub)
{
    struct fake_store *s = &FH(h)->store;
    pthread_mutex_lock(&s->lock);
    s->listeners[sub->idx].live = 0;
    pthread_mutex_unlock(&s->lock);
}

static int online(const struct outpost_host *h)
{
    (void)h;
    return 1;
}

/* ---- host ---- */

static void hlog(const struct outpost_host *h, int level, const char *fmt, ...)
{
    (void)h;
    if (!getenv("OUTPOST_TEST_VERBOSE") && level > OUTPOST_LOG_WARNING)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[host %d] ", level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void hvlog(const struct outpost_host *h, int level, const char *fmt, va_list ap)
{
    (void)h;
    (void)level;
    vfprintf(stderr, fmt, ap);
}

static const char *config_get(const struct outpost_host *h, const char *key)
{
    for (int i = 0; i < 16 && FH(h)->keys[i]; i++)
        if (!strcmp(FH(h)->keys[i], key))
            return FH(h)->vals[i];
    return NULL;
}

static const char *data_dir(const struct outpost_host *h)
{
    return FH(h)->data_dir;
}

static int64_t now_ms(const struct outpost_host *h)
{
    (void)h;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cancelled(const struct outpost_host *h)
{
    (void)h;
    return 0;
}

struct outpost_host *fake_host_new(const char *dir)
{
    struct fake_host *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->store.lock, NULL);
    f->data_dir = strdup(dir);
    f->txn.s = &f->store;
    f->m.struct_size = sizeof f->m;
    f->m.cursor_next = cursor_next;
    f->m.cursor_close = cursor_close;
    f->m.folder_list = folder_list;
    f->m.folder_get = folder_get;
    f->m.item_get = item_get;
    f->m.items_by_uid = items_by_uid;
    f->m.content_read = content_read;
    f->api.struct_size = sizeof f->api;
    f->api.storage = &f->m;
    f->api.read_begin = read_begin;
    f->api.read_end = read_end;
    f->api.set_flags = set_flags;
    f->api.move = move;
    f->api.copy = copy;
    f->api.remove = remove_items;
    f->api.append = append;
    f->api.update = update;
    f->api.folder_create = folder_create;
    f->api.folder_rename = folder_rename;
    f->api.folder_delete = folder_delete;
    f->api.folder_subscribe = folder_subscribe;
    f->api.request_content = request_content;
    f->api.folder_open_hint = folder_open_hint;
    f->api.subscribe = subscribe;
    f->api.unsubscribe = unsubscribe;
    f->api.online = online;
    f->h.struct_size = sizeof f->h;
    f->h.abi_major = OUTPOST_ABI_MAJOR;
    f->h.abi_minor = OUTPOST_ABI_MINOR;
    f->h.log = hlog;
    f->h.vlog = hvlog;
    f->h.config_get = config_get;
    f->h.data_dir = data_dir;
    f->h.now_ms = now_ms;
    f->h.monotonic_ms = now_ms;
    f->h.alloc = malloc;
    f->h.realloc = realloc;
    f->h.free = free;
    f->h.cancelled = cancelled;
    f->h.store = &f->api;
    return &f->h;
}

void fake_host_set_config(struct outpost_host *h, const char *key, const char *value)
{
    struct fake_host *f = FH(h);
    for (int i = 0; i < 16; i++)
        if (!f->keys[i]) {
            f->keys[i] = strdup(key);
            f->vals[i] = strdup(value);
            return;
        }
}

void fake_host_free(struct outpost_host *h)
{
    struct fake_host *f = FH(h);
    struct fake_store *s = &f->store;
    for (uint32_t i = 0; i < s->nitems; i++) {
        item_strings_free(&s->items[i].it);
        free(s->items[i].content);
    }
    free(s->items);
    for (uint32_t i = 0; i < s->nfolders; i++)
        free((char *)s->folders[i].f.name);
    free(s->folders);
    free(s->journal);
    for (int i = 0; i < 16; i++) {
        free(f->keys[i]);
        free(f->vals[i]);
    }
    free(f->data_dir);
    pthread_mutex_destroy(&s->lock);
    free(f);
}

int64_t fake_add_folder(struct fake_store *s, int64_t parent, const char *name, uint32_t kind, uint32_t special)
{
    pthread_mutex_lock(&s->lock);
    int64_t id = add_folder_locked(s, parent, name, kind, special);
    unlock_and_notify(s);
    return id;
}

int64_t fake_add_item(struct fake_store *s, int64_t folder, uint32_t kind, const char *content, uint32_t flags,
                      int64_t idate)
{
    pthread_mutex_lock(&s->lock);
    int64_t id = add_item_locked(s, folder, kind, content, strlen(content), flags, NULL, idate);
    unlock_and_notify(s);
    return id;
}

int fake_item_state(struct fake_store *s, int64_t id, uint32_t *flags, int64_t *folder)
{
    pthread_mutex_lock(&s->lock);
    fitem *x = item_at(s, id);
    if (x) {
        if (flags)
            *flags = x->it.flags;
        if (folder)
            *folder = x->it.folder_id;
    }
    pthread_mutex_unlock(&s->lock);
    return x ? 0 : -1;
}

char *fake_item_content(struct fake_store *s, int64_t id)
{
    pthread_mutex_lock(&s->lock);
    fitem *x = item_at(s, id);
    char *c = x ? strdup(x->content) : NULL;
    pthread_mutex_unlock(&s->lock);
    return c;
}

uint32_t fake_journal_count(struct fake_store *s, uint32_t op)
{
    pthread_mutex_lock(&s->lock);
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->njournal; i++)
        if (s->journal[i].op == op)
            n++;
    pthread_mutex_unlock(&s->lock);
    return n;
}

const fake_journal *fake_journal_last(struct fake_store *s)
{
    return s->njournal ? &s->journal[s->njournal - 1] : NULL;
}
