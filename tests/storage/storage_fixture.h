/* storage_fixture.h — helpers shared by the storage test programs: a store in
 * a fresh directory, status assertions, and item/folder builders. Engine
 * neutral: only the storage ABI is used. */
#ifndef OUTPOST_STORAGE_FIXTURE_H
#define OUTPOST_STORAGE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_host.h"

struct fx {
    char *dir;
    struct test_host *th;
    const struct outpost_storage_methods *m;
    uint64_t caps;
    struct outpost_storage *s;
};

extern struct test_storage_plugin g_plugin;

#define OK(expr)                                                                                        \
    do {                                                                                                \
        outpost_status st_ = (expr);                                                                    \
        if (st_.code != OUTPOST_OK)                                                                     \
            fail_msg("%s:%d: %s -> %s: %s", __FILE__, __LINE__, #expr, outpost_status_class_name(st_.code), \
                     st_.message ? st_.message : "(no message)");                                      \
    } while (0)

#define EXPECT(expr, want)                                                                              \
    do {                                                                                                \
        outpost_status st_ = (expr);                                                                    \
        if (st_.code != (want))                                                                         \
            fail_msg("%s:%d: %s -> %s (%s), expected %s", __FILE__, __LINE__, #expr,                    \
                     outpost_status_class_name(st_.code), st_.message ? st_.message : "",              \
                     outpost_status_class_name(want));                                                  \
        if ((want) != OUTPOST_OK && (!st_.message || !*st_.message))                                    \
            fail_msg("%s:%d: %s failed without a message", __FILE__, __LINE__, #expr);                  \
    } while (0)

/* Creates an instance on fx->dir with extra config ("k=v", NULL-terminated). */
static inline void fx_instance(struct fx *f, struct outpost_storage **out)
{
    OK(f->m->create(test_host_table(f->th), out));
    OK(f->m->open(*out));
}

static inline void fx_close_instance(struct fx *f, struct outpost_storage *s)
{
    OK(f->m->close(s));
    f->m->destroy(s);
}

/* Opening the cache on fx->dir fails FATAL with `why` in the message (e.g. "newer"
 * for a schema written by a newer plugin); f->s stays NULL. */
static inline void fx_open_refused(struct fx *f, const char *why)
{
    OK(f->m->create(test_host_table(f->th), &f->s));
    outpost_status st = f->m->open(f->s);
    assert_int_equal(st.code, OUTPOST_FATAL);
    assert_non_null(strstr(st.message, why));
    f->m->destroy(f->s);
    f->s = NULL;
}

static inline int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    f->dir = test_mkdtemp("storage");
    if (!f->dir) {
        free(f);
        return -1;
    }
    f->th = test_host_new("storage", f->dir, NULL);
    f->m = g_plugin.m;
    f->caps = g_plugin.plugin->caps;
    fx_instance(f, &f->s);
    *state = f;
    return 0;
}

static inline int fx_teardown(void **state)
{
    struct fx *f = *state;
    if (f->s) {
        f->m->close(f->s);
        f->m->destroy(f->s);
    }
    test_host_free(f->th);
    if (!getenv("OUTPOST_TEST_KEEP"))
        test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static inline void fx_reopen(struct fx *f)
{
    fx_close_instance(f, f->s);
    f->s = NULL;
    fx_instance(f, &f->s);
}

static inline struct outpost_txn *fx_begin(struct fx *f, uint32_t mode)
{
    struct outpost_txn *t = NULL;
    OK(f->m->begin(f->s, mode, &t));
    assert_non_null(t);
    return t;
}

static inline int64_t fx_folder(struct fx *f, struct outpost_txn *t, int64_t parent, const char *name, uint32_t kind)
{
    outpost_folder fo;
    memset(&fo, 0, sizeof fo);
    fo.struct_size = sizeof fo;
    fo.kind = kind;
    fo.parent_id = parent;
    fo.name = name;
    fo.flags = OUTPOST_FOLDER_SUBSCRIBED;
    int64_t id = 0;
    OK(f->m->folder_create(t, &fo, &id));
    assert_true(id > 0);
    return id;
}

static inline outpost_item fx_item_template(int64_t folder, uint32_t kind, uint32_t flags, const char *subject)
{
    outpost_item it;
    memset(&it, 0, sizeof it);
    it.struct_size = sizeof it;
    it.kind = kind;
    it.folder_id = folder;
    it.flags = flags;
    it.subject = subject;
    it.internal_date = 1700000000000;
    it.date = 1700000000000;
    it.content_state = OUTPOST_CONTENT_NONE;
    return it;
}

/* Puts an item and optionally its complete content. Returns its id. */
static inline int64_t fx_put(struct fx *f, struct outpost_txn *t, int64_t folder, uint32_t kind, uint32_t flags,
                             const char *subject, const char *content)
{
    outpost_item it = fx_item_template(folder, kind, flags, subject);
    it.size = content ? strlen(content) : 0;
    OK(f->m->item_put(t, &it));
    assert_true(it.id > 0);
    if (content) {
        OK(f->m->content_write(t, it.id, 0, content, strlen(content)));
        OK(f->m->content_finish(t, it.id, OUTPOST_CONTENT_COMPLETE));
    }
    return it.id;
}

/* Checks a folder's counters against its items, as a client would count. */
static inline void fx_check_counters(struct fx *f, struct outpost_txn *t, int64_t folder)
{
    const outpost_folder *fo;
    OK(f->m->folder_get(t, folder, &fo));
    uint32_t total = fo->total, unread = fo->unread, flagged = fo->flagged;
    uint32_t uidnext = fo->uidnext;
    uint64_t hms = fo->highest_modseq;
    struct outpost_cursor *c;
    OK(f->m->items_by_uid(t, folder, 1, 0, &c));
    uint32_t n = 0, u = 0, fl = 0, last_uid = 0;
    const void *row;
    for (;;) {
        OK(f->m->cursor_next(c, &row));
        if (!row)
            break;
        const outpost_item *it = row;
        n++;
        u += !(it->flags & OUTPOST_FLAG_SEEN);
        fl += !!(it->flags & OUTPOST_FLAG_FLAGGED);
        assert_true(it->uid > last_uid);
        assert_true(it->uid < uidnext);
        assert_true(it->modseq <= hms);
        last_uid = it->uid;
    }
    f->m->cursor_close(c);
    assert_int_equal(total, n);
    assert_int_equal(unread, u);
    assert_int_equal(flagged, fl);
}

/* Number of rows a cursor yields (closes it). */
static inline size_t fx_count(struct fx *f, struct outpost_cursor *c)
{
    size_t n = 0;
    const void *row;
    for (;;) {
        OK(f->m->cursor_next(c, &row));
        if (!row)
            break;
        n++;
    }
    f->m->cursor_close(c);
    return n;
}

/* A UID+flags row as items_uid_flags or items_by_uid give it (keywords copied). */
struct fx_uf_row {
    uint32_t uid, flags;
    uint64_t modseq;
    int64_t id;
    char *kw;
};

/* The rows of a cursor of items_by_uid (by_uid) or items_uid_flags, closing
 * it; *out is malloc'd (free with fx_uf_same). */
static inline size_t fx_uf_collect(struct fx *f, struct outpost_cursor *c, int by_uid, struct fx_uf_row **out)
{
    size_t n = 0, cap = 0;
    struct fx_uf_row *v = NULL;
    const void *row;
    for (;;) {
        OK(f->m->cursor_next(c, &row));
        if (!row)
            break;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            v = realloc(v, cap * sizeof *v);
            assert_non_null(v);
        }
        if (by_uid) {
            const outpost_item *it = row;
            v[n] = (struct fx_uf_row){ it->uid, it->flags, it->modseq, it->id, it->keywords ? strdup(it->keywords) : NULL };
        } else {
            const outpost_uid_flags *u = row;
            v[n] = (struct fx_uf_row){ u->uid, u->flags, u->modseq, u->id, u->keywords ? strdup(u->keywords) : NULL };
        }
        n++;
    }
    f->m->cursor_close(c);
    *out = v;
    return n;
}

/* Asserts that two collections hold the same rows, and frees both. */
static inline void fx_uf_same(struct fx_uf_row *a, size_t na, struct fx_uf_row *b, size_t nb)
{
    assert_int_equal(nb, na);
    for (size_t i = 0; i < na; i++) {
        assert_int_equal(b[i].uid, a[i].uid);
        assert_int_equal(b[i].flags, a[i].flags);
        assert_int_equal(b[i].modseq, a[i].modseq);
        assert_int_equal(b[i].id, a[i].id);
        if (a[i].kw)
            assert_string_equal(b[i].kw, a[i].kw);
        else
            assert_null(b[i].kw);
        free(a[i].kw);
        free(b[i].kw);
    }
    free(a);
    free(b);
}

#endif /* OUTPOST_STORAGE_FIXTURE_H */
