/* tests/mapi/mapi_test_store.c — a real SQLite cache through the core for the
 * MAPI tests (see the header). */
#include "mapi_test_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "host.h"
#include "store.h"

int mts_open(mts *e, const char *dir, const char *plugin_dir, char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    if (dir) {
        snprintf(e->dir, sizeof e->dir, "%s", dir);
    } else {
        snprintf(e->dir, sizeof e->dir, "/tmp/outpost-mapi-XXXXXX");
        if (!mkdtemp(e->dir)) {
            snprintf(err, errlen, "mkdtemp: cannot make a cache directory under /tmp");
            return -1;
        }
        e->own_dir = 1;
    }
    unsetenv("OUTPOST_PLUGIN_DIR");
    e->app.cfg = outpost_config_new(NULL);
    if (!e->app.cfg) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    outpost_config_declare_core(e->app.cfg);
    if (outpost_config_set(e->app.cfg, "core", "data_dir", e->dir) != 0 ||
        outpost_config_set(e->app.cfg, "core", "plugin_dir", plugin_dir) != 0 ||
        outpost_config_set(e->app.cfg, "storage", "plugin", "sqlite") != 0 ||
        outpost_config_set(e->app.cfg, "storage", "durability", "normal") != 0) {
        snprintf(err, errlen, "cannot set the test configuration");
        return -1;
    }
    if (outpost_app_resolve(&e->app, err, errlen) != 0 || outpost_app_open_storage(&e->app, &e->os, err, errlen) != 0)
        return -1;
    if (outpost_store_new(&e->app, &e->os, &e->store, err, errlen) != 0)
        return -1;
    e->host = outpost_core_host_new(e->app.cfg, "mapi", "mapi", e->dir);
    if (!e->host) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    outpost_core_host_set_store(e->host, outpost_store_api_table());
    outpost_store_bind_host(e->store, e->host);
    e->api = e->host->store;
    e->m = outpost_store_methods(e->store);
    return 0;
}

void mts_close(mts *e)
{
    if (e->store)
        outpost_store_free(e->store);
    if (e->host)
        outpost_core_host_free(e->host);
    outpost_app_close_storage(&e->os);
    outpost_app_free(&e->app);
    if (e->own_dir) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "mts_close: could not remove %s\n", e->dir);
    }
    memset(e, 0, sizeof *e);
}

void mts_set_config(mts *e, const char *key, const char *value)
{
    outpost_config_set(e->app.cfg, "mapi", key, value);
}

int64_t mts_folder(mts *e, int64_t parent, const char *name, uint32_t kind, uint32_t special)
{
    struct outpost_txn *t;
    if (outpost_store_write_begin(e->store, &t).code != OUTPOST_OK)
        return 0;
    outpost_folder f = { .struct_size = sizeof f, .kind = kind, .name = name, .special_use = special,
                         .remote_id = name, .parent_id = parent, .flags = OUTPOST_FOLDER_SUBSCRIBED };
    int64_t id = 0;
    if (e->m->folder_create(t, &f, &id).code != OUTPOST_OK) {
        outpost_store_write_rollback(e->store, t);
        return 0;
    }
    outpost_store_event ev = { .struct_size = sizeof ev, .kind = OUTPOST_EVENT_FOLDERS, .folder_id = id };
    outpost_store_queue_event(e->store, &ev);
    return outpost_store_write_commit(e->store, t).code == OUTPOST_OK ? id : 0;
}

struct strreader {
    const char *s;
    size_t len, off;
    struct outpost_reader r;
};

static outpost_status sr_read(void *ctx, void *buf, size_t cap, size_t *got)
{
    struct strreader *m = ctx;
    size_t n = m->len - m->off;
    if (n > cap)
        n = cap;
    memcpy(buf, m->s + m->off, n);
    m->off += n;
    *got = n;
    return outpost_ok();
}

static outpost_status sr_rewind(void *ctx)
{
    ((struct strreader *)ctx)->off = 0;
    return outpost_ok();
}

int64_t mts_item(mts *e, int64_t folder, const char *content, uint32_t flags, int64_t internal_date_ms)
{
    struct strreader sr = { .s = content, .len = strlen(content) };
    sr.r.ctx = &sr;
    sr.r.size = sr.len;
    sr.r.read = sr_read;
    sr.r.rewind = sr_rewind;
    int64_t id = 0;
    uint32_t uid = 0;
    outpost_status st = e->api->append(e->host, folder, &sr.r, flags, NULL, internal_date_ms, &id, &uid);
    if (st.code != OUTPOST_OK) {
        fprintf(stderr, "mts_item: append: %s\n", st.message ? st.message : "failed");
        return 0;
    }
    return id;
}

int mts_item_state(mts *e, int64_t id, uint32_t *flags, int64_t *folder)
{
    struct outpost_txn *t;
    if (e->api->read_begin(e->host, &t).code != OUTPOST_OK)
        return -1;
    const outpost_item *it = NULL;
    int rc = -1;
    if (e->m->item_get(t, id, &it).code == OUTPOST_OK && it) {
        if (flags)
            *flags = it->flags;
        if (folder)
            *folder = it->folder_id;
        rc = 0;
    }
    e->api->read_end(e->host, t);
    return rc;
}

char *mts_item_content(mts *e, int64_t id)
{
    struct outpost_txn *t;
    if (e->api->read_begin(e->host, &t).code != OUTPOST_OK)
        return NULL;
    char *out = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        char buf[4096];
        size_t got = 0;
        if (e->m->content_read(t, id, len, buf, sizeof buf, &got).code != OUTPOST_OK) {
            free(out);
            out = NULL;
            break;
        }
        if (len + got + 1 > cap) {
            cap = (len + got + 1) * 2;
            char *n = realloc(out, cap);
            if (!n) {
                free(out);
                out = NULL;
                break;
            }
            out = n;
        }
        memcpy(out + len, buf, got);
        len += got;
        out[len] = '\0';
        if (got == 0)
            break;
    }
    e->api->read_end(e->host, t);
    return out;
}

/* Calls fn for every journal entry, oldest first. */
static void journal_each(mts *e, void (*fn)(void *ctx, const outpost_journal_entry *je), void *ctx)
{
    struct outpost_txn *t;
    if (e->api->read_begin(e->host, &t).code != OUTPOST_OK)
        return;
    struct outpost_cursor *c = NULL;
    if (e->m->journal_list(t, 0, &c).code == OUTPOST_OK) {
        const void *row;
        while (e->m->cursor_next(c, &row).code == OUTPOST_OK && row)
            fn(ctx, row);
        e->m->cursor_close(c);
    }
    e->api->read_end(e->host, t);
}

struct jscan {
    uint32_t op, n, last_op;
};

static void jscan_one(void *ctx, const outpost_journal_entry *je)
{
    struct jscan *j = ctx;
    if (!j->op || je->op == j->op)
        j->n++;
    j->last_op = je->op;
}

static uint32_t journal_scan(mts *e, uint32_t op, uint32_t *last_op)
{
    struct jscan j = { op, 0, 0 };
    journal_each(e, jscan_one, &j);
    if (last_op)
        *last_op = j.last_op;
    return j.n;
}

uint32_t mts_journal_count(mts *e, uint32_t op) { return journal_scan(e, op, NULL); }

uint32_t mts_journal_last_op(mts *e)
{
    uint32_t last = 0;
    journal_scan(e, 0, &last);
    return last;
}

int mts_set_remote(mts *e, int64_t id, const char *remote_id)
{
    struct outpost_txn *t;
    if (outpost_store_write_begin(e->store, &t).code != OUTPOST_OK)
        return -1;
    const outpost_item *cur = NULL;
    outpost_status st = e->m->item_get(t, id, &cur);
    if (st.code == OUTPOST_OK) {
        outpost_item it = *cur;
        it.remote_id = remote_id;
        it.remote_version = "1";
        st = e->m->item_update(t, &it, OUTPOST_ITEM_F_REMOTE);
    }
    if (st.code != OUTPOST_OK) {
        outpost_store_write_rollback(e->store, t);
        return -1;
    }
    return outpost_store_write_commit(e->store, t).code == OUTPOST_OK ? 0 : -1;
}

struct jsince {
    uint32_t skip, i, n, max;
    mts_jentry *out;
};

static void jsince_one(void *ctx, const outpost_journal_entry *je)
{
    struct jsince *j = ctx;
    if (j->i++ < j->skip)
        return;
    if (j->n < j->max) {
        mts_jentry *o = &j->out[j->n];
        memset(o, 0, sizeof *o);
        o->op = je->op;
        o->flags = je->flags;
        o->item_id = je->item_id;
        o->folder_id = je->folder_id;
        snprintf(o->remote_id, sizeof o->remote_id, "%s", je->remote_id ? je->remote_id : "");
    }
    j->n++;
}

uint32_t mts_journal_since(mts *e, uint32_t skip, mts_jentry *out, uint32_t max)
{
    struct jsince j = { skip, 0, 0, max, out };
    journal_each(e, jsince_one, &j);
    return j.n;
}
