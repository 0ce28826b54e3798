/* tests/store/test_store.c — the journaled store API (core/store.c) over the
 * real SQLite storage plugin: every edit writes its change and exactly one
 * journal entry per item in one transaction (a failure leaves neither), flag
 * operations, move/copy UIDs, append (summary computed, content
 * byte-identical), folder edits, special-use protection, notifications after
 * commit only, a reader beside a writer, request_content without an engine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "app.h"
#include "config.h"
#include "host.h"
#include "store.h"

static const char *mime_dir;

struct env {
    char dir[256];
    struct outpost_app app;
    struct outpost_open_storage os;
    struct outpost_store *store;
    struct outpost_host *fe;          /* a front-end's host */
    const struct outpost_store_api *api;
    const struct outpost_storage_methods *m;
    int64_t inbox, archive;
};

/* ---- fixture ----------------------------------------------------------- */

static void open_env(struct env *e, const char *delete_mode)
{
    char err[1024];
    unsetenv("OUTPOST_PLUGIN_DIR");
    e->app.cfg = outpost_config_new(NULL);
    assert_non_null(e->app.cfg);
    outpost_config_declare_core(e->app.cfg);
    assert_int_equal(outpost_config_set(e->app.cfg, "core", "data_dir", e->dir), 0);
    assert_int_equal(outpost_config_set(e->app.cfg, "core", "plugin_dir", OUTPOST_BUILD_PLUGIN_DIR), 0);
    assert_int_equal(outpost_config_set(e->app.cfg, "storage", "plugin", "sqlite"), 0);
    assert_int_equal(outpost_config_set(e->app.cfg, "storage", "durability", "normal"), 0);
    if (delete_mode)
        assert_int_equal(outpost_config_set(e->app.cfg, "account", "delete", delete_mode), 0);
    if (outpost_app_resolve(&e->app, err, sizeof err) != 0 || outpost_app_open_storage(&e->app, &e->os, err, sizeof err) != 0)
        fail_msg("opening the SQLite storage: %s", err);
    if (outpost_store_new(&e->app, &e->os, &e->store, err, sizeof err) != 0)
        fail_msg("outpost_store_new: %s", err);
    e->fe = outpost_core_host_new(e->app.cfg, "imap", "test-frontend", e->dir);
    assert_non_null(e->fe);
    outpost_store_bind_host(e->store, e->fe);
    e->api = e->fe->store;
    assert_non_null(e->api);
    e->m = e->api->storage;
    assert_ptr_equal(e->m, outpost_store_methods(e->store));
}

static void close_env(struct env *e)
{
    outpost_store_free(e->store);
    outpost_core_host_free(e->fe);
    outpost_app_close_storage(&e->os);
    outpost_app_free(&e->app);
}

/* A server-side folder as the sync engine would create it (not journaled). */
static int64_t server_folder(struct env *e, const char *name, uint32_t kind, uint32_t use)
{
    struct outpost_txn *t;
    assert_int_equal(outpost_store_write_begin(e->store, &t).code, OUTPOST_OK);
    outpost_folder f = { .struct_size = sizeof f, .kind = kind, .name = name, .special_use = use,
                         .remote_id = name, .flags = OUTPOST_FOLDER_SUBSCRIBED };
    int64_t id = 0;
    assert_int_equal(e->m->folder_create(t, &f, &id).code, OUTPOST_OK);
    assert_int_equal(outpost_store_write_commit(e->store, t).code, OUTPOST_OK);
    return id;
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    snprintf(e->dir, sizeof e->dir, "/tmp/outpost-store-XXXXXX");
    if (!mkdtemp(e->dir))
        return -1;
    open_env(e, NULL);
    e->inbox = server_folder(e, "INBOX", OUTPOST_ITEM_MAIL, OUTPOST_USE_INBOX);
    e->archive = server_folder(e, "Archive", OUTPOST_ITEM_MAIL, OUTPOST_USE_NONE);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    close_env(e);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
    if (system(cmd) != 0)
        return -1;
    free(e);
    return 0;
}

/* ---- helpers ----------------------------------------------------------- */

struct memreader {
    const char *data;
    size_t len, off, chunk;
    size_t fail_at;                   /* fail once off reaches this (0: never) */
    struct outpost_reader r;
};

static outpost_status mr_read(void *ctx, void *buf, size_t cap, size_t *got)
{
    struct memreader *m = ctx;
    if (m->fail_at && m->off >= m->fail_at) {
        outpost_status st = { OUTPOST_TEMP, 0, "connection reset" };
        return st;
    }
    size_t n = m->len - m->off;
    if (n > cap)
        n = cap;
    if (m->chunk && n > m->chunk)
        n = m->chunk;
    memcpy(buf, m->data + m->off, n);
    m->off += n;
    *got = n;
    return outpost_ok();
}

static outpost_status mr_rewind(void *ctx)
{
    ((struct memreader *)ctx)->off = 0;
    return outpost_ok();
}

static struct outpost_reader *mem_reader(struct memreader *m, const char *data, size_t len, size_t chunk)
{
    memset(m, 0, sizeof *m);
    m->data = data;
    m->len = len;
    m->chunk = chunk;
    m->r.ctx = m;
    m->r.size = len;
    m->r.read = mr_read;
    m->r.rewind = mr_rewind;
    return &m->r;
}

static char *slurp(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", mime_dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int64_t append_file(struct env *e, int64_t folder, const char *name, uint32_t flags, uint32_t *uid)
{
    size_t len;
    char *data = slurp(name, &len);
    struct memreader mr;
    int64_t id = 0;
    outpost_status st = e->api->append(e->fe, folder, mem_reader(&mr, data, len, 0), flags, NULL, 0, &id, uid);
    if (st.code != OUTPOST_OK)
        fail_msg("append %s: %s", name, st.message);
    free(data);
    return id;
}

/* The journal: ops and entries after `after` (copied). */
struct jlist {
    size_t n;
    int64_t last_seq;
    outpost_journal_entry e[64];
    char kw[64][64], name[64][64], remote[64][64];
};

static void journal_since(struct env *e, int64_t after, struct jlist *out)
{
    memset(out, 0, sizeof *out);
    out->last_seq = after;
    struct outpost_txn *t;
    assert_int_equal(outpost_store_read_begin(e->store, &t).code, OUTPOST_OK);
    struct outpost_cursor *c;
    assert_int_equal(e->m->journal_list(t, after, &c).code, OUTPOST_OK);
    const void *row;
    while (e->m->cursor_next(c, &row).code == OUTPOST_OK && row && out->n < 64) {
        const outpost_journal_entry *j = row;
        size_t i = out->n++;
        out->e[i] = *j;
        snprintf(out->kw[i], 64, "%s", j->keywords ? j->keywords : "");
        snprintf(out->name[i], 64, "%s", j->name ? j->name : "");
        snprintf(out->remote[i], 64, "%s", j->remote_id ? j->remote_id : "");
        out->e[i].keywords = out->kw[i];
        out->e[i].name = out->name[i];
        out->e[i].remote_id = out->remote[i];
        out->e[i].payload = NULL;
        out->last_seq = j->seq;
    }
    e->m->cursor_close(c);
    outpost_store_read_end(e->store, t);
}

static int64_t journal_mark(struct env *e)
{
    struct jlist j;
    journal_since(e, 0, &j);
    return j.last_seq;
}

static outpost_item get_item(struct env *e, int64_t id, char *subject, size_t sublen)
{
    struct outpost_txn *t;
    assert_int_equal(outpost_store_read_begin(e->store, &t).code, OUTPOST_OK);
    const outpost_item *it;
    outpost_status st = e->m->item_get(t, id, &it);
    outpost_item copy;
    memset(&copy, 0, sizeof copy);
    if (st.code == OUTPOST_OK) {
        copy = *it;
        if (subject)
            snprintf(subject, sublen, "%s", it->subject ? it->subject : "");
    }
    copy.subject = copy.from = copy.to = copy.cc = copy.message_id = copy.object_uid = NULL;
    copy.envelope = copy.bodystructure = copy.preview = copy.keywords = copy.remote_id = copy.remote_version = NULL;
    if (st.code != OUTPOST_OK)
        copy.id = 0;
    outpost_store_read_end(e->store, t);
    return copy;
}

static char *read_content(struct env *e, int64_t id, size_t *len)
{
    struct outpost_txn *t;
    assert_int_equal(outpost_store_read_begin(e->store, &t).code, OUTPOST_OK);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        size_t got = 0;
        if (n + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        assert_int_equal(e->m->content_read(t, id, n, buf + n, 4096, &got).code, OUTPOST_OK);
        if (!got)
            break;
        n += got;
    }
    outpost_store_read_end(e->store, t);
    *len = n;
    return buf;
}

/* ---- tests ------------------------------------------------------------- */

static void test_conflicts_folder(void **state)
{
    struct env *e = *state;
    int64_t cid = outpost_store_conflicts_folder(e->store);
    assert_true(cid > 0);
    struct outpost_txn *t;
    assert_int_equal(outpost_store_read_begin(e->store, &t).code, OUTPOST_OK);
    const outpost_folder *f;
    assert_int_equal(e->m->folder_get(t, cid, &f).code, OUTPOST_OK);
    assert_int_equal(f->special_use, OUTPOST_USE_CONFLICTS);
    assert_int_equal(f->kind, OUTPOST_ITEM_MAIL);
    assert_true(f->flags & OUTPOST_FOLDER_LOCAL_ONLY);
    assert_null(f->remote_id);
    outpost_store_read_end(e->store, t);

    /* a second store over the same cache finds it again */
    struct outpost_store *again;
    char err[256];
    assert_int_equal(outpost_store_new(&e->app, &e->os, &again, err, sizeof err), 0);
    assert_int_equal(outpost_store_conflicts_folder(again), cid);
    outpost_store_free(again);
    /* nothing journaled for it */
    assert_int_equal(journal_mark(e), 0);
}

static void test_append(void **state)
{
    struct env *e = *state;
    size_t len;
    char *data = slurp("rfc822.eml", &len);
    struct memreader mr;
    int64_t id = 0;
    uint32_t uid = 0;
    /* 7-byte chunks: the content streams through in pieces */
    outpost_status st = e->api->append(e->fe, e->inbox, mem_reader(&mr, data, len, 7), OUTPOST_FLAG_SEEN,
                                       "$Important", 1700000000000LL, &id, &uid);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_true(id > 0);
    assert_int_equal(uid, 1);

    struct outpost_txn *t;
    assert_int_equal(outpost_store_read_begin(e->store, &t).code, OUTPOST_OK);
    const outpost_item *it;
    assert_int_equal(e->m->item_get(t, id, &it).code, OUTPOST_OK);
    assert_int_equal(it->uid, uid);
    assert_int_equal(it->size, len);
    assert_int_equal(it->content_state, OUTPOST_CONTENT_COMPLETE);
    assert_int_equal(it->flags, OUTPOST_FLAG_SEEN);
    assert_string_equal(it->keywords, "$Important");
    assert_int_equal(it->internal_date, 1700000000000LL);
    assert_string_equal(it->subject, "Fwd: Weekly news");
    assert_string_equal(it->message_id, "fwd-1@example.com");
    assert_int_equal(it->date, 1772782200000LL); /* Fri, 6 Mar 2026 09:30:00 +0200 */
    size_t blen;
    char *want_bs = slurp("rfc822.bodystructure", &blen);
    assert_string_equal(it->bodystructure, want_bs);
    free(want_bs);
    /* found by Message-ID, as replay does after a crash */
    const outpost_item *byk;
    assert_int_equal(e->m->item_find_key(t, e->inbox, "fwd-1@example.com", &byk).code, OUTPOST_OK);
    assert_int_equal(byk->id, id);
    outpost_store_read_end(e->store, t);

    size_t clen;
    char *content = read_content(e, id, &clen);
    assert_int_equal(clen, len);
    assert_memory_equal(content, data, len);
    free(content);
    free(data);

    struct jlist j;
    journal_since(e, 0, &j);
    assert_int_equal(j.n, 1);
    assert_int_equal(j.e[0].op, OUTPOST_J_ITEM_CREATE);
    assert_int_equal(j.e[0].item_id, id);
    assert_int_equal(j.e[0].folder_id, e->inbox);
    assert_int_equal(j.e[0].state, OUTPOST_JS_PENDING);
}

/* A failing reader or unusable content leaves no item and no journal entry. */
static void test_append_failure_atomic(void **state)
{
    struct env *e = *state;
    size_t len;
    char *data = slurp("mixed.eml", &len);
    struct memreader mr;
    struct outpost_reader *r = mem_reader(&mr, data, len, 100);
    mr.fail_at = 500;
    int64_t id = 0;
    outpost_status st = e->api->append(e->fe, e->inbox, r, 0, NULL, 0, &id, NULL);
    assert_int_equal(st.code, OUTPOST_TEMP);
    assert_non_null(strstr(st.message, "connection reset"));
    assert_int_equal(id, 0);

    int64_t cal = server_folder(e, "Calendar", OUTPOST_ITEM_EVENT, OUTPOST_USE_NONE);
    st = e->api->append(e->fe, cal, mem_reader(&mr, "not a calendar", 14, 0), 0, NULL, 0, &id, NULL);
    assert_int_equal(st.code, OUTPOST_BAD_DATA);
    assert_non_null(strstr(st.message, "VEVENT"));

    st = e->api->append(e->fe, 9999, mem_reader(&mr, data, len, 0), 0, NULL, 0, &id, NULL);
    assert_int_equal(st.code, OUTPOST_GONE);

    assert_int_equal(journal_mark(e), 0);
    struct outpost_txn *t;
    assert_int_equal(outpost_store_read_begin(e->store, &t).code, OUTPOST_OK);
    const outpost_folder *f;
    assert_int_equal(e->m->folder_get(t, e->inbox, &f).code, OUTPOST_OK);
    assert_int_equal(f->total, 0);
    assert_int_equal(f->uidnext, 1);
    outpost_store_read_end(e->store, t);
    free(data);
}

static void test_set_flags(void **state)
{
    struct env *e = *state;
    int64_t ids[4];
    ids[0] = append_file(e, e->inbox, "simple.eml", 0, NULL);
    ids[1] = append_file(e, e->inbox, "mixed.eml", OUTPOST_FLAG_SEEN, NULL);
    ids[2] = 424242; /* does not exist */
    ids[3] = append_file(e, e->inbox, "encoded.eml", 0, NULL);
    int64_t mark = journal_mark(e);

    uint64_t modseqs[4];
    outpost_item_status ist[4];
    outpost_status st = e->api->set_flags(e->fe, ids, 4, OUTPOST_FLAGS_ADD, OUTPOST_FLAG_SEEN, NULL, modseqs, ist);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(ist[0].status.code, OUTPOST_OK);
    assert_int_equal(ist[2].status.code, OUTPOST_GONE);
    assert_int_equal(ist[2].index, 2);
    struct jlist j;
    journal_since(e, mark, &j);
    /* item 1 was already seen: unchanged items are not journaled */
    assert_int_equal(j.n, 2);
    assert_int_equal(j.e[0].op, OUTPOST_J_ITEM_FLAGS);
    assert_int_equal(j.e[0].item_id, ids[0]);
    assert_int_equal(j.e[0].flags, OUTPOST_FLAG_SEEN);
    assert_int_equal(j.e[1].item_id, ids[3]);
    assert_true(modseqs[0] > 0 && modseqs[3] > modseqs[0]);
    outpost_item it1 = get_item(e, ids[1], NULL, 0);
    assert_int_equal(modseqs[1], it1.modseq);

    /* the full new set is journaled: flags and keywords */
    mark = j.last_seq;
    st = e->api->set_flags(e->fe, ids, 2, OUTPOST_FLAGS_ADD, OUTPOST_FLAG_FLAGGED, "$Work Later", NULL, NULL);
    assert_int_equal(st.code, OUTPOST_OK);
    journal_since(e, mark, &j);
    assert_int_equal(j.n, 2);
    assert_int_equal(j.e[0].flags, OUTPOST_FLAG_SEEN | OUTPOST_FLAG_FLAGGED);
    assert_string_equal(j.e[0].keywords, "$Work Later");

    mark = j.last_seq;
    st = e->api->set_flags(e->fe, ids, 1, OUTPOST_FLAGS_REMOVE, OUTPOST_FLAG_SEEN, "$work", NULL, NULL);
    assert_int_equal(st.code, OUTPOST_OK);
    journal_since(e, mark, &j);
    assert_int_equal(j.n, 1);
    assert_int_equal(j.e[0].flags, OUTPOST_FLAG_FLAGGED);
    assert_string_equal(j.e[0].keywords, "Later");

    mark = j.last_seq;
    st = e->api->set_flags(e->fe, ids, 1, OUTPOST_FLAGS_REPLACE, OUTPOST_FLAG_ANSWERED, NULL, NULL, NULL);
    assert_int_equal(st.code, OUTPOST_OK);
    journal_since(e, mark, &j);
    assert_int_equal(j.n, 1);
    assert_int_equal(j.e[0].flags, OUTPOST_FLAG_ANSWERED);
    assert_string_equal(j.e[0].keywords, "");
    outpost_item it0 = get_item(e, ids[0], NULL, 0);
    assert_int_equal(it0.flags, OUTPOST_FLAG_ANSWERED);

    /* without item_st the first per-item failure is the answer; the rest is applied */
    mark = j.last_seq;
    int64_t two[2] = { 424242, ids[0] };
    st = e->api->set_flags(e->fe, two, 2, OUTPOST_FLAGS_ADD, OUTPOST_FLAG_DRAFT, NULL, NULL, NULL);
    assert_int_equal(st.code, OUTPOST_GONE);
    journal_since(e, mark, &j);
    assert_int_equal(j.n, 1);
}

/* set_flags_unchanged (ABI 1.1): the UNCHANGEDSINCE test and the change in one write transaction */
static void test_set_flags_unchanged(void **state)
{
    struct env *e = *state;
    assert_true(OUTPOST_HAS_METHOD(e->api, struct outpost_store_api, set_flags_unchanged));
    int64_t ids[3];
    ids[0] = append_file(e, e->inbox, "simple.eml", 0, NULL);
    ids[1] = append_file(e, e->inbox, "mixed.eml", 0, NULL);
    ids[2] = 424242; /* does not exist */
    uint64_t ms0 = get_item(e, ids[0], NULL, 0).modseq, ms1 = get_item(e, ids[1], NULL, 0).modseq;
    /* another edit moves item 1 past what the caller saw */
    assert_int_equal(e->api->set_flags(e->fe, &ids[1], 1, OUTPOST_FLAGS_ADD, OUTPOST_FLAG_FLAGGED, NULL, NULL, NULL).code,
                     OUTPOST_OK);
    uint64_t now1 = get_item(e, ids[1], NULL, 0).modseq;
    assert_true(now1 > ms1);
    int64_t mark = journal_mark(e);

    uint64_t since[3] = { ms0, ms1, 99 };
    uint64_t modseqs[3];
    outpost_item_status ist[3];
    outpost_status st = e->api->set_flags_unchanged(e->fe, ids, 3, OUTPOST_FLAGS_REPLACE, OUTPOST_FLAG_ANSWERED, NULL,
                                                    since, modseqs, ist);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(ist[0].status.code, OUTPOST_OK);
    assert_int_equal(ist[1].status.code, OUTPOST_CONFLICT);
    assert_int_equal(ist[1].index, 1);
    assert_int_equal(ist[2].status.code, OUTPOST_GONE);
    assert_true(modseqs[0] > now1);
    assert_int_equal(modseqs[1], now1); /* its current MODSEQ */
    outpost_item it0 = get_item(e, ids[0], NULL, 0), it1 = get_item(e, ids[1], NULL, 0);
    assert_int_equal(it0.flags, OUTPOST_FLAG_ANSWERED);
    assert_int_equal(it1.flags, OUTPOST_FLAG_FLAGGED); /* left as it is */
    assert_int_equal(it1.modseq, now1);
    struct jlist j;
    journal_since(e, mark, &j);
    assert_int_equal(j.n, 1);
    assert_int_equal(j.e[0].item_id, ids[0]);

    /* an equal MODSEQ passes; without item_st the first failure is the answer and the rest is applied */
    mark = j.last_seq;
    uint64_t since2[2] = { 0, now1 };
    int64_t two[2] = { ids[0], ids[1] };
    st = e->api->set_flags_unchanged(e->fe, two, 2, OUTPOST_FLAGS_ADD, OUTPOST_FLAG_SEEN, NULL, since2, NULL, NULL);
    assert_int_equal(st.code, OUTPOST_CONFLICT);
    assert_int_equal(get_item(e, ids[0], NULL, 0).flags, OUTPOST_FLAG_ANSWERED);
    assert_int_equal(get_item(e, ids[1], NULL, 0).flags, OUTPOST_FLAG_FLAGGED | OUTPOST_FLAG_SEEN);
    journal_since(e, mark, &j);
    assert_int_equal(j.n, 1);
    /* no condition: as set_flags */
    st = e->api->set_flags_unchanged(e->fe, ids, 1, OUTPOST_FLAGS_ADD, OUTPOST_FLAG_SEEN, NULL, NULL, NULL, NULL);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(get_item(e, ids[0], NULL, 0).flags, OUTPOST_FLAG_ANSWERED | OUTPOST_FLAG_SEEN);
}

static void test_move_copy(void **state)
{
    struct env *e = *state;
    int64_t ids[2];
    ids[0] = append_file(e, e->inbox, "simple.eml", 0, NULL);
    ids[1] = append_file(e, e->inbox, "alternative.eml", 0, NULL);
    int64_t mark = journal_mark(e);

    uint32_t uids[2];
    outpost_item_status ist[2];
    assert_int_equal(e->api->move(e->fe, ids, 2, e->archive, uids, ist).code, OUTPOST_OK);
    assert_int_equal(uids[0], 1);
    assert_int_equal(uids[1], 2);
    struct jlist j;
    journal_since(e, mark, &j);
    assert_int_equal(j.n, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(j.e[i].op, OUTPOST_J_ITEM_MOVE);
        assert_int_equal(j.e[i].item_id, ids[i]);
        assert_int_equal(j.e[i].folder_id, e->inbox);
        assert_int_equal(j.e[i].target_folder_id, e->archive);
    }
    outpost_item moved = get_item(e, ids[0], NULL, 0);
    assert_int_equal(moved.folder_id, e->archive);
    assert_int_equal(moved.uid, 1);

    /* copy back: new items, new UIDs after the inbox's earlier ones, same content */
    mark = j.last_seq;
    int64_t new_ids[2];
    uint32_t new_uids[2];
    assert_int_equal(e->api->copy(e->fe, ids, 2, e->inbox, new_ids, new_uids, ist).code, OUTPOST_OK);
    assert_true(new_ids[0] > 0 && new_ids[0] != ids[0] && new_ids[1] != ids[1]);
    assert_int_equal(new_uids[0], 3);
    assert_int_equal(new_uids[1], 4);
    journal_since(e, mark, &j);
    assert_int_equal(j.n, 2);
    assert_int_equal(j.e[0].op, OUTPOST_J_ITEM_COPY);
    assert_int_equal(j.e[0].item_id, new_ids[0]);
    assert_int_equal(j.e[0].folder_id, e->archive);
    assert_int_equal(j.e[0].target_folder_id, e->inbox);
    size_t a, b;
    char *orig = read_content(e, ids[1], &a), *copy = read_content(e, new_ids[1], &b);
    assert_int_equal(a, b);
    assert_memory_equal(orig, copy, a);
    free(orig);
    free(copy);
    char subj[128];
    outpost_item c0 = get_item(e, new_ids[0], subj, sizeof subj);
    assert_string_equal(subj, "Lunch on Friday?");
    assert_int_equal(c0.content_state, OUTPOST_CONTENT_COMPLETE);

    /* a missing item is a per-item failure; a missing folder fails the call */
    mark = j.last_seq;
    int64_t bad[2] = { ids[0], 777777 };
    assert_int_equal(e->api->move(e->fe, bad, 2, e->inbox, uids, ist).code, OUTPOST_OK);
    assert_int_equal(ist[0].status.code, OUTPOST_OK);
    assert_int_equal(ist[1].status.code, OUTPOST_GONE);
    assert_int_equal(e->api->move(e->fe, ids, 1, 555555, uids, ist).code, OUTPOST_GONE);
    journal_since(e, mark, &j);
    assert_int_equal(j.n, 1);

    /* into the local-only Conflicts folder and out again: the server sees a delete, then a create */
    mark = j.last_seq;
    int64_t cid = outpost_store_conflicts_folder(e->store);
    assert_int_equal(e->api->move(e->fe, ids, 1, cid, uids, ist).code, OUTPOST_OK);
    assert_int_equal(e->api->set_flags(e->fe, ids, 1, OUTPOST_FLAGS_ADD, OUTPOST_FLAG_SEEN, NULL, NULL, NULL).code,
                     OUTPOST_OK);
    assert_int_equal(e->api->move(e->fe, ids, 1, e->archive, uids, ist).code, OUTPOST_OK);
    journal_since(e, mark, &j);
    assert_int_equal(j.n, 2);
    assert_int_equal(j.e[0].op, OUTPOST_J_ITEM_DELETE);
    assert_int_equal(j.e[1].op, OUTPOST_J_ITEM_CREATE);
    assert_int_equal(j.e[1].folder_id, e->archive);
}

/* A folder that holds no items (\Noselect, e.g. a namespace container): move,
 * copy and append into it are refused with BAD_DATA naming the folder; the
 * items stay where they were and nothing is journaled. */
static void test_noselect_target(void **state)
{
    struct env *e = *state;
    struct outpost_txn *t;
    assert_int_equal(outpost_store_write_begin(e->store, &t).code, OUTPOST_OK);
    outpost_folder nf = { .struct_size = sizeof nf, .kind = OUTPOST_ITEM_MAIL, .name = "Shared",
                          .remote_id = "Shared", .flags = OUTPOST_FOLDER_SUBSCRIBED | OUTPOST_FOLDER_NOSELECT };
    int64_t container = 0;
    assert_int_equal(e->m->folder_create(t, &nf, &container).code, OUTPOST_OK);
    assert_int_equal(outpost_store_write_commit(e->store, t).code, OUTPOST_OK);
    int64_t id = append_file(e, e->inbox, "simple.eml", 0, NULL);
    int64_t mark = journal_mark(e);

    outpost_item_status ist[1];
    uint32_t uid = 99;
    int64_t new_id = 99;
    outpost_status st = e->api->move(e->fe, &id, 1, container, &uid, ist);
    assert_int_equal(st.code, OUTPOST_BAD_DATA);
    assert_non_null(strstr(st.message, "move: folder 'Shared' holds no items"));
    st = e->api->copy(e->fe, &id, 1, container, &new_id, &uid, ist);
    assert_int_equal(st.code, OUTPOST_BAD_DATA);
    assert_non_null(strstr(st.message, "copy: folder 'Shared' holds no items"));
    size_t len = 0;
    char *mime = slurp("simple.eml", &len);
    struct memreader mr;
    st = e->api->append(e->fe, container, mem_reader(&mr, mime, len, 0), 0, NULL, 0, &new_id, &uid);
    free(mime);
    assert_int_equal(st.code, OUTPOST_BAD_DATA);
    assert_non_null(strstr(st.message, "append: folder 'Shared' holds no items"));

    outpost_item still = get_item(e, id, NULL, 0);
    assert_int_equal(still.folder_id, e->inbox);
    struct jlist j;
    journal_since(e, mark, &j);
    assert_int_equal(j.n, 0);
    /* the same item still moves and copies into a folder that holds items */
    assert_int_equal(e->api->copy(e->fe, &id, 1, e->archive, &new_id, &uid, ist).code, OUTPOST_OK);
    assert_int_equal(e->api->move(e->fe, &id, 1, e->archive, &uid, ist).code, OUTPOST_OK);
    journal_since(e, mark, &j);
    assert_int_equal(j.n, 2);
}

static void test_remove(void **state)
{
    struct env *e = *state;
    int64_t ids[2];
    ids[0] = append_file(e, e->inbox, "simple.eml", 0, NULL);
    ids[1] = append_file(e, e->inbox, "mixed.eml", 0, NULL);
    int64_t mark = journal_mark(e);
    assert_int_equal(e->api->remove(e->fe, ids, 1, 0, NULL).code, OUTPOST_OK);
    assert_int_equal(e->api->remove(e->fe, ids + 1, 1, 1, NULL).code, OUTPOST_OK);
    struct jlist j;
    journal_since(e, mark, &j);
    assert_int_equal(j.n, 2);
    assert_int_equal(j.e[0].op, OUTPOST_J_ITEM_DELETE);
    assert_int_equal(j.e[0].flags & OUTPOST_J_PERMANENT, 0);
    assert_int_equal(j.e[1].flags & OUTPOST_J_PERMANENT, OUTPOST_J_PERMANENT);
    assert_int_equal(get_item(e, ids[0], NULL, 0).id, 0);

    /* tombstones for QRESYNC */
    struct outpost_txn *t;
    assert_int_equal(outpost_store_read_begin(e->store, &t).code, OUTPOST_OK);
    struct outpost_cursor *c;
    assert_int_equal(e->m->expunged_since(t, e->inbox, 0, &c).code, OUTPOST_OK);
    const void *row;
    int n = 0;
    while (e->m->cursor_next(c, &row).code == OUTPOST_OK && row)
        n++;
    e->m->cursor_close(c);
    outpost_store_read_end(e->store, t);
    assert_int_equal(n, 2);

    /* removing again: GONE, nothing journaled */
    outpost_item_status ist[1];
    assert_int_equal(e->api->remove(e->fe, ids, 1, 0, ist).code, OUTPOST_OK);
    assert_int_equal(ist[0].status.code, OUTPOST_GONE);
    journal_since(e, j.last_seq, &j);
    assert_int_equal(j.n, 0);
}

/* [account] delete = permanent makes every delete permanent. */
static void test_remove_permanent_config(void **state)
{
    struct env *e = *state;
    close_env(e);
    memset(&e->app, 0, sizeof e->app);
    open_env(e, "permanent");
    assert_true(outpost_store_permanent_delete(e->store));
    int64_t id = append_file(e, e->inbox, "simple.eml", 0, NULL);
    int64_t mark = journal_mark(e);
    assert_int_equal(e->api->remove(e->fe, &id, 1, 0, NULL).code, OUTPOST_OK);
    struct jlist j;
    journal_since(e, mark, &j);
    assert_int_equal(j.n, 1);
    assert_int_equal(j.e[0].flags & OUTPOST_J_PERMANENT, OUTPOST_J_PERMANENT);
}

static void test_folder_edits(void **state)
{
    struct env *e = *state;
    int64_t mark = journal_mark(e);
    int64_t projects = 0, sub = 0;
    assert_int_equal(e->api->folder_create(e->fe, 0, "Projects", OUTPOST_ITEM_MAIL, &projects).code, OUTPOST_OK);
    assert_int_equal(e->api->folder_create(e->fe, projects, "Outpost", OUTPOST_ITEM_MAIL, &sub).code, OUTPOST_OK);
    assert_int_equal(e->api->folder_rename(e->fe, sub, -1, "Outpost 2").code, OUTPOST_OK);
    assert_int_equal(e->api->folder_rename(e->fe, sub, 0, "Outpost 2").code, OUTPOST_OK);
    assert_int_equal(e->api->folder_subscribe(e->fe, sub, 0).code, OUTPOST_OK);
    assert_int_equal(e->api->folder_subscribe(e->fe, sub, 0).code, OUTPOST_OK); /* unchanged: no entry */
    assert_int_equal(e->api->folder_delete(e->fe, sub).code, OUTPOST_OK);
    struct jlist j;
    journal_since(e, mark, &j);
    assert_int_equal(j.n, 6);
    assert_int_equal(j.e[0].op, OUTPOST_J_FOLDER_CREATE);
    assert_int_equal(j.e[0].folder_id, projects);
    assert_string_equal(j.e[0].name, "Projects");
    assert_int_equal(j.e[1].op, OUTPOST_J_FOLDER_CREATE);
    assert_int_equal(j.e[1].target_folder_id, projects);
    assert_int_equal(j.e[2].op, OUTPOST_J_FOLDER_RENAME);
    assert_string_equal(j.e[2].name, "Outpost 2");
    assert_int_equal(j.e[2].target_folder_id, projects);
    assert_int_equal(j.e[2].flags, OUTPOST_J_SAME_PARENT); /* a rename only: replay moves nothing */
    assert_int_equal(j.e[3].op, OUTPOST_J_FOLDER_RENAME);
    assert_int_equal(j.e[3].target_folder_id, 0);
    assert_int_equal(j.e[3].flags, 0); /* moved to the top level */
    assert_int_equal(j.e[4].op, OUTPOST_J_FOLDER_SUBSCRIBE);
    assert_int_equal(j.e[4].flags & OUTPOST_FOLDER_SUBSCRIBED, 0);
    assert_int_equal(j.e[5].op, OUTPOST_J_FOLDER_DELETE);
    assert_int_equal(j.e[5].folder_id, sub);

    /* refused: special-use folders, Conflicts, a folder into its own subtree, empty names */
    mark = j.last_seq;
    outpost_status st = e->api->folder_delete(e->fe, e->inbox);
    assert_int_equal(st.code, OUTPOST_BAD_DATA);
    assert_non_null(strstr(st.message, "special-use"));
    st = e->api->folder_delete(e->fe, outpost_store_conflicts_folder(e->store));
    assert_int_equal(st.code, OUTPOST_BAD_DATA);
    assert_non_null(strstr(st.message, "Conflicts"));
    st = e->api->folder_rename(e->fe, e->inbox, -1, "Post");
    assert_int_equal(st.code, OUTPOST_BAD_DATA);
    int64_t child = 0;
    assert_int_equal(e->api->folder_create(e->fe, projects, "Child", OUTPOST_ITEM_MAIL, &child).code, OUTPOST_OK);
    st = e->api->folder_rename(e->fe, projects, child, "Loop");
    assert_int_equal(st.code, OUTPOST_BAD_DATA);
    assert_int_equal(e->api->folder_create(e->fe, 0, "", OUTPOST_ITEM_MAIL, NULL).code, OUTPOST_BAD_DATA);
    /* a duplicate sibling name is refused by the storage; nothing journaled */
    assert_int_equal(e->api->folder_create(e->fe, 0, "Projects", OUTPOST_ITEM_MAIL, NULL).code, OUTPOST_BAD_DATA);
    journal_since(e, mark, &j);
    assert_int_equal(j.n, 1); /* only "Child" */
    assert_int_equal(j.e[0].op, OUTPOST_J_FOLDER_CREATE);
}

struct events {
    struct env *e;
    int items, folders;
    int64_t last_folder;
    uint64_t last_modseq;
    int visible;               /* the change was committed when the listener ran */
    int64_t watch_id;
};

static void listener(void *ctx, const outpost_store_event *ev)
{
    struct events *x = ctx;
    if (ev->kind == OUTPOST_EVENT_ITEMS) {
        x->items++;
        x->last_folder = ev->folder_id;
        x->last_modseq = ev->highest_modseq;
        /* (a test-only peek: a real listener only signals its own thread) */
        if (x->watch_id)
            x->visible = get_item(x->e, x->watch_id, NULL, 0).flags & OUTPOST_FLAG_SEEN ? 1 : 0;
    } else if (ev->kind == OUTPOST_EVENT_FOLDERS) {
        x->folders++;
    }
}

static void test_notifications(void **state)
{
    struct env *e = *state;
    struct events x = { .e = e };
    struct outpost_store_subscription *sub;
    assert_int_equal(e->api->subscribe(e->fe, listener, &x, &sub).code, OUTPOST_OK);
    int64_t id = append_file(e, e->inbox, "simple.eml", 0, NULL);
    assert_int_equal(x.items, 1);
    assert_int_equal(x.last_folder, e->inbox);

    x.watch_id = id;
    assert_int_equal(e->api->set_flags(e->fe, &id, 1, OUTPOST_FLAGS_ADD, OUTPOST_FLAG_SEEN, NULL, NULL, NULL).code,
                     OUTPOST_OK);
    assert_int_equal(x.items, 2);
    assert_int_equal(x.visible, 1);
    assert_int_equal(x.last_modseq, get_item(e, id, NULL, 0).modseq);
    x.watch_id = 0;

    /* a failed edit notifies nobody */
    struct memreader mr;
    struct outpost_reader *r = mem_reader(&mr, "Subject: x\r\n\r\nbody\r\n", 20, 4);
    mr.fail_at = 8;
    assert_int_equal(e->api->append(e->fe, e->inbox, r, 0, NULL, 0, NULL, NULL).code, OUTPOST_TEMP);
    assert_int_equal(x.items, 2);

    /* a move notifies both folders; a folder edit the hierarchy */
    assert_int_equal(e->api->move(e->fe, &id, 1, e->archive, NULL, NULL).code, OUTPOST_OK);
    assert_int_equal(x.items, 4);
    assert_int_equal(e->api->folder_create(e->fe, 0, "New", OUTPOST_ITEM_MAIL, NULL).code, OUTPOST_OK);
    assert_int_equal(x.folders, 1);

    e->api->unsubscribe(e->fe, sub);
    assert_int_equal(e->api->remove(e->fe, &id, 1, 0, NULL).code, OUTPOST_OK);
    assert_int_equal(x.items, 4);
}

/* A reader runs beside an open write transaction and sees only committed data. */
static void test_concurrent_reader(void **state)
{
    struct env *e = *state;
    if (!(e->api->storage_caps & OUTPOST_STORAGE_CAP_CONCURRENT_READERS))
        skip();
    struct outpost_txn *w;
    assert_int_equal(outpost_store_write_begin(e->store, &w).code, OUTPOST_OK);
    outpost_item it = { .struct_size = sizeof it, .kind = OUTPOST_ITEM_MAIL, .folder_id = e->inbox,
                        .content_state = OUTPOST_CONTENT_SUMMARY, .subject = "uncommitted" };
    assert_int_equal(e->m->item_put(w, &it).code, OUTPOST_OK);

    struct outpost_txn *r1, *r2;
    assert_int_equal(e->api->read_begin(e->fe, &r1).code, OUTPOST_OK); /* does not wait for the writer */
    assert_int_equal(e->api->read_begin(e->fe, &r2).code, OUTPOST_OK);
    const outpost_item *seen;
    assert_int_equal(e->m->item_get(r1, it.id, &seen).code, OUTPOST_GONE);
    e->api->read_end(e->fe, r1);
    e->api->read_end(e->fe, r2);

    assert_int_equal(outpost_store_write_commit(e->store, w).code, OUTPOST_OK);
    assert_int_equal(e->api->read_begin(e->fe, &r1).code, OUTPOST_OK);
    assert_int_equal(e->m->item_get(r1, it.id, &seen).code, OUTPOST_OK);
    e->api->read_end(e->fe, r1);
}

static int hook_calls;
static outpost_status hook_request(void *ctx, int64_t id, uint32_t timeout_ms)
{
    (void)ctx;
    (void)id;
    (void)timeout_ms;
    hook_calls++;
    return outpost_ok();
}
static int hook_online(void *ctx)
{
    (void)ctx;
    return 1;
}
static uint32_t hook_many_n;
static int64_t hook_many_first;
static outpost_status hook_request_many(void *ctx, const int64_t *ids, uint32_t n, uint32_t timeout_ms)
{
    (void)ctx;
    (void)timeout_ms;
    hook_calls++;
    hook_many_n = n;
    hook_many_first = n ? ids[0] : 0;
    return outpost_ok();
}

static void test_request_content(void **state)
{
    struct env *e = *state;
    struct outpost_txn *w;
    assert_int_equal(outpost_store_write_begin(e->store, &w).code, OUTPOST_OK);
    outpost_item it = { .struct_size = sizeof it, .kind = OUTPOST_ITEM_MAIL, .folder_id = e->inbox,
                        .remote_id = "r1", .content_state = OUTPOST_CONTENT_SUMMARY };
    assert_int_equal(e->m->item_put(w, &it).code, OUTPOST_OK);
    assert_int_equal(outpost_store_write_commit(e->store, w).code, OUTPOST_OK);

    outpost_status st = e->api->request_content(e->fe, it.id, 100);
    assert_int_equal(st.code, OUTPOST_TEMP);
    assert_string_equal(st.message, "offline");
    assert_int_equal(e->api->online(e->fe), 0);
    assert_int_equal(e->api->request_content(e->fe, 99999, 100).code, OUTPOST_GONE);
    /* cached content needs no engine */
    int64_t full = append_file(e, e->inbox, "simple.eml", 0, NULL);
    assert_int_equal(e->api->request_content(e->fe, full, 100).code, OUTPOST_OK);

    int64_t some[2] = { it.id, full };
    assert_int_equal(e->api->request_contents(e->fe, some, 2, 100).code, OUTPOST_TEMP);

    struct outpost_store_engine_hooks hooks = { NULL, hook_request, NULL, hook_online, hook_request_many };
    outpost_store_set_engine(e->store, &hooks);
    hook_calls = 0;
    assert_int_equal(e->api->request_content(e->fe, it.id, 100).code, OUTPOST_OK);
    assert_int_equal(hook_calls, 1);
    /* many at once: only what is not cached goes to the engine, in one call */
    hook_calls = 0;
    assert_int_equal(e->api->request_contents(e->fe, some, 2, 100).code, OUTPOST_OK);
    assert_int_equal(hook_calls, 1);
    assert_int_equal(hook_many_n, 1);
    assert_int_equal(hook_many_first, it.id);
    int64_t cached[1] = { full };
    hook_calls = 0;
    assert_int_equal(e->api->request_contents(e->fe, cached, 1, 100).code, OUTPOST_OK);
    assert_int_equal(hook_calls, 0);
    int64_t with_missing[3] = { 99999, it.id, full };
    assert_int_equal(e->api->request_contents(e->fe, with_missing, 3, 100).code, OUTPOST_GONE);
    assert_int_equal(hook_many_n, 1); /* the others were still fetched */
    assert_int_equal(e->api->online(e->fe), 1);
    e->api->folder_open_hint(e->fe, e->inbox, 1); /* no hook: ignored */
    outpost_store_set_engine(e->store, NULL);
    assert_int_equal(e->api->request_content(e->fe, it.id, 100).code, OUTPOST_TEMP);
}

static void test_update(void **state)
{
    struct env *e = *state;
    int64_t cal = server_folder(e, "Calendar", OUTPOST_ITEM_EVENT, OUTPOST_USE_NONE);
    const char *v1 = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:u-1\r\nDTSTAMP:20260301T000000Z\r\n"
                     "DTSTART:20260310T090000Z\r\nSUMMARY:Standup\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    const char *v2 = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:u-1\r\nDTSTAMP:20260301T000000Z\r\n"
                     "DTSTART:20260311T090000Z\r\nSUMMARY:Standup (moved)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    struct memreader mr;
    int64_t id = 0;
    assert_int_equal(e->api->append(e->fe, cal, mem_reader(&mr, v1, strlen(v1), 0), 0, NULL, 0, &id, NULL).code,
                     OUTPOST_OK);
    int64_t mark = journal_mark(e);
    assert_int_equal(e->api->update(e->fe, id, mem_reader(&mr, v2, strlen(v2), 16)).code, OUTPOST_OK);
    char subj[64];
    outpost_item it = get_item(e, id, subj, sizeof subj);
    assert_string_equal(subj, "Standup (moved)");
    assert_int_equal(it.size, strlen(v2));
    assert_int_equal(it.date, 1773219600000LL);
    size_t n;
    char *c = read_content(e, id, &n);
    assert_int_equal(n, strlen(v2));
    assert_memory_equal(c, v2, n);
    free(c);
    struct jlist j;
    journal_since(e, mark, &j);
    assert_int_equal(j.n, 1);
    assert_int_equal(j.e[0].op, OUTPOST_J_ITEM_UPDATE);
    assert_int_equal(j.e[0].item_id, id);

    /* a bad replacement changes nothing; mail content never changes */
    assert_int_equal(e->api->update(e->fe, id, mem_reader(&mr, "junk", 4, 0)).code, OUTPOST_BAD_DATA);
    assert_int_equal(get_item(e, id, subj, sizeof subj).size, strlen(v2));
    int64_t mail = append_file(e, e->inbox, "simple.eml", 0, NULL);
    mark = journal_mark(e);
    assert_int_equal(e->api->update(e->fe, mail, mem_reader(&mr, v1, strlen(v1), 0)).code, OUTPOST_BAD_DATA);
    journal_since(e, mark, &j);
    assert_int_equal(j.n, 0);
}

/* replace (appended in ABI 1.2): an edited message's new version and the
 * old one's deletion in one transaction, the bag carried over; a failure
 * changes nothing. */
static void test_replace(void **state)
{
    struct env *e = *state;
    assert_true(OUTPOST_HAS_METHOD(e->api, struct outpost_store_api, replace));
    int64_t old = append_file(e, e->inbox, "simple.eml", OUTPOST_FLAG_SEEN, NULL);
    outpost_item before = get_item(e, old, NULL, 0);
    assert_int_equal(e->api->prop_set(e->fe, old, "imap.kept", "kept", 4).code, OUTPOST_OK);
    assert_int_equal(e->api->prop_set(e->fe, old, "imap.dropped", "gone", 4).code, OUTPOST_OK);
    size_t len;
    char *data = slurp("mixed.eml", &len);
    struct memreader mr;
    int64_t mark = journal_mark(e);
    const char *const carry[] = { "imap.kept", "imap.absent", NULL };
    int64_t id = 0;
    uint32_t uid = 0;
    assert_int_equal(e->api->replace(e->fe, old, mem_reader(&mr, data, len, 9), OUTPOST_FLAG_SEEN, "$Work", 0, carry,
                                     &id, &uid).code,
                     OUTPOST_OK);
    assert_true(id > 0 && id != old);
    assert_int_equal(uid, before.uid + 1);
    assert_int_equal(get_item(e, old, NULL, 0).id, 0);
    outpost_item it = get_item(e, id, NULL, 0);
    assert_int_equal(it.folder_id, e->inbox);
    assert_int_equal(it.flags, OUTPOST_FLAG_SEEN);
    assert_int_equal(it.internal_date, before.internal_date); /* 0: the old one's */
    size_t clen;
    char *c = read_content(e, id, &clen);
    assert_int_equal(clen, len);
    assert_memory_equal(c, data, len);
    free(c);
    struct outpost_txn *t;
    assert_int_equal(outpost_store_read_begin(e->store, &t).code, OUTPOST_OK);
    const void *v;
    size_t vl;
    assert_int_equal(e->m->prop_get(t, id, "imap.kept", &v, &vl).code, OUTPOST_OK);
    assert_int_equal(vl, 4);
    assert_memory_equal(v, "kept", 4);
    assert_int_equal(e->m->prop_get(t, id, "imap.dropped", &v, &vl).code, OUTPOST_GONE);
    outpost_store_read_end(e->store, t);
    struct jlist j;
    journal_since(e, mark, &j);
    assert_int_equal(j.n, 2);
    assert_int_equal(j.e[0].op, OUTPOST_J_ITEM_CREATE);
    assert_int_equal(j.e[0].item_id, id);
    assert_int_equal(j.e[1].op, OUTPOST_J_ITEM_DELETE);
    assert_int_equal(j.e[1].item_id, old);
    assert_int_equal(j.e[1].flags & OUTPOST_J_PERMANENT, OUTPOST_J_PERMANENT);

    /* failures change nothing: an item that is gone, content that breaks
     * off, a bag name of nobody's */
    mark = j.last_seq;
    assert_int_equal(e->api->replace(e->fe, old, mem_reader(&mr, data, len, 0), 0, NULL, 0, NULL, &id, NULL).code,
                     OUTPOST_GONE);
    struct memreader bad;
    struct outpost_reader *r = mem_reader(&bad, data, len, 100);
    bad.fail_at = 300;
    assert_int_equal(e->api->replace(e->fe, it.id, r, 0, NULL, 0, NULL, &id, NULL).code, OUTPOST_TEMP);
    const char *const foreign[] = { "nodot", NULL };
    assert_int_equal(
        e->api->replace(e->fe, it.id, mem_reader(&mr, data, len, 0), 0, NULL, 0, foreign, &id, NULL).code,
        OUTPOST_BAD_DATA);
    assert_int_equal(get_item(e, it.id, NULL, 0).id, it.id);
    journal_since(e, mark, &j);
    assert_int_equal(j.n, 0);
    assert_int_equal(outpost_store_read_begin(e->store, &t).code, OUTPOST_OK);
    const outpost_folder *f;
    assert_int_equal(e->m->folder_get(t, e->inbox, &f).code, OUTPOST_OK);
    assert_int_equal(f->total, 1);
    outpost_store_read_end(e->store, t);
    free(data);
}

int main(int argc, char **argv)
{
    mime_dir = argc > 1 ? argv[1] : "mime";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_conflicts_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_failure_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_flags_unchanged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_move_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_noselect_target, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_permanent_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_folder_edits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notifications, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_content, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
