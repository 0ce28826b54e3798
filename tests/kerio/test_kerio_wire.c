/* test_kerio_wire.c — the Kerio transport against kerio_mock.py, a small server written from
 * Kerio's public Client API description rather than from our simulator: wire variants the
 * documentation allows (several session cookies with attributes, int64 members as strings
 * above 2^53, the id echoed as a string, members reordered, unknown and null members, \u
 * escapes with surrogate pairs, long strings, gzip and chunked replies, errors in HTTP 500),
 * session expiry and refused passwords, per-item errors of batch calls, items vanishing or
 * appearing while a folder is listed, and HTTP failures (5xx with and without JSON, HTML
 * pages, redirects, a body cut off): a clear status, nothing half handed over, the next sync
 * finishes.
 *
 * usage: test_kerio_wire PLUGIN.so PYTHON MOCK.py GEN-CERTS.sh WORKDIR */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>


#include <outpost/abi.h>
#include <outpost/storage.h>
#include <outpost/transport.h>

#include "loader.h"
#include "mem_reader.h"
#include "raw_listener.h"
#include "recording_sink.h"
#include "sim_proc.h"
#include "test_host.h"

static const char *plugin_path, *python, *mock_py, *gen_certs, *workdir;
static char certdir[1024], ca_pem[1100], crt[1100], key[1100];
static const struct outpost_transport_methods *tm;

struct fx {
    struct sim_proc sim;
    struct test_host *th;
    struct outpost_transport *t;
    char inbox[256], archive[256];
};

static json_t *ctl(struct fx *f, const char *path, json_t *body)
{
    json_t *j = sim_ctl(&f->sim, path, body);
    assert_non_null(j);
    return j;
}

static void ctl0(struct fx *f, const char *path, json_t *body)
{
    json_decref(ctl(f, path, body));
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    const char *args[] = { mock_py, "--cert", crt, "--key", key, NULL };
    if (!f || sim_start(&f->sim, python, args, ca_pem) != 0)
        return -1;
    json_t *info = sim_ctl(&f->sim, "info", NULL);
    if (!info)
        return -1;
    json_t *folders = json_object_get(info, "folders");
    snprintf(f->inbox, sizeof f->inbox, "%s", json_string_value(json_object_get(folders, "Inbox")));
    snprintf(f->archive, sizeof f->archive, "%s", json_string_value(json_object_get(folders, "Archive")));
    json_decref(info);
    f->th = test_host_new("account", workdir, NULL);
    test_host_set(f->th, "url", f->sim.url);
    test_host_set(f->th, "user", "jdoe");
    test_host_set(f->th, "ca_file", ca_pem);
    test_host_set(f->th, "page_size", "5");
    test_host_set_secret(f->th, "password", "secret");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->t) {
        tm->close(f->t);
        tm->destroy(f->t);
    }
    sim_stop(&f->sim);
    int leaked = test_host_logged(f->th, "secret");
    test_host_free(f->th);
    free(f);
    return leaked ? -1 : 0;
}

static void open_plugin(struct fx *f)
{
    assert_int_equal(tm->create(test_host_table(f->th), &f->t).code, OUTPOST_OK);
    outpost_status st = tm->open(f->t);
    if (st.code != OUTPOST_OK)
        fprintf(stderr, "open: %s\n", st.message);
    assert_int_equal(st.code, OUTPOST_OK);
}

static outpost_status sync_one(struct fx *f, struct rec *r, uint32_t kind, const char *remote_id, const char *name)
{
    outpost_folder of;
    memset(&of, 0, sizeof of);
    of.struct_size = sizeof of;
    of.kind = kind;
    of.remote_id = remote_id;
    of.name = name;
    return tm->sync_folder(f->t, &of, r->state, r->state_len, 0, OUTPOST_SYNC_WANT_CONTENT, &r->sink);
}

static outpost_status sync_inbox(struct fx *f, struct rec *r)
{
    return sync_one(f, r, OUTPOST_ITEM_MAIL, f->inbox, "Inbox");
}

static void sync_ok(struct fx *f, struct rec *r)
{
    outpost_status st = sync_inbox(f, r);
    if (st.code != OUTPOST_OK)
        fprintf(stderr, "sync_folder: %s\n", st.message);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(json_array_size(r->pending), 0);
    assert_int_equal(r->protocol_errors, 0);
    assert_int_equal(r->size_mismatches, 0);
}

static json_t *server_items(struct fx *f)
{
    json_t *s = ctl(f, "state?folder=Inbox", NULL);
    json_t *items = json_incref(json_object_get(s, "items"));
    json_decref(s);
    return items;
}

static long calls_of(struct fx *f, const char *method)
{
    json_t *c = ctl(f, "calls", NULL);
    long n = (long)json_integer_value(json_object_get(c, method));
    json_decref(c);
    return n;
}

static void fault(struct fx *f, json_t *spec)
{
    ctl0(f, "faults", spec);
}

/* What the sink holds after the recorded events: remote id → last ADD/UPDATE event, deletes
 * applied. New reference. */
static json_t *local_view(const struct rec *r)
{
    json_t *v = json_object();
    size_t i;
    const json_t *e;
    json_array_foreach(r->events, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "op")), "item") != 0)
            continue;
        const char *id = json_string_value(json_object_get(e, "id"));
        int change = (int)json_integer_value(json_object_get(e, "change"));
        if (change == OUTPOST_CHANGE_DELETE)
            json_object_del(v, id);
        else if (change != OUTPOST_CHANGE_FLAGS || json_object_get(v, id))
            json_object_set(v, id, (json_t *)e);
    }
    return v;
}

/* Every mail of the server's Inbox, and nothing else, is held locally with its watermark. */
static void assert_same_as_server(struct fx *f, const struct rec *r)
{
    json_t *items = server_items(f), *view = local_view(r);
    size_t i;
    const json_t *m;
    json_array_foreach(items, i, m) {
        const char *id = json_string_value(json_object_get(m, "id"));
        const json_t *e = json_object_get(view, id);
        if (!e)
            fprintf(stderr, "missing locally: %s\n", id);
        assert_non_null(e);
    }
    assert_int_equal(json_object_size(view), json_array_size(items));
    json_decref(items);
    json_decref(view);
}

/* ---- wire variants ---- */

static const char emoji_subject[] = "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac";

static void test_wire_variants(void **state)
{
    struct fx *f = *state;
    /* Watermarks beyond 2^53, quoted; the rest of the documented-but-open choices at once. */
    ctl0(f, "variant",
         json_pack("{s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:s, s:I}", "cookies", "multi", "ints_as_strings", 1, "id_as_string", 1,
                   "reorder", 1, "extra_members", 1, "gzip", 1, "chunked", 1, "error_status", "idl", "watermark",
                   (json_int_t)9007199254740993LL));
    open_plugin(f);
    /* A mail with a subject of \u escapes (with a surrogate pair) and a long body. */
    size_t blen = 300000;
    char *body = malloc(blen + 1);
    assert_non_null(body);
    for (size_t i = 0; i < blen; i++)
        body[i] = (i % 61 == 60) ? '\n' : (char)('a' + i % 26);
    body[blen] = '\0';
    json_t *created = ctl(f, "items/create", json_pack("{s:s, s:s, s:s}", "folder", "Inbox", "subject", emoji_subject, "body", body));
    free(body);
    struct rec r;
    rec_init(&r);
    sync_ok(f, &r);
    json_t *items = server_items(f);
    assert_int_equal(rec_count(&r, "item", OUTPOST_CHANGE_ADD), json_array_size(items));
    size_t i;
    const json_t *m;
    json_array_foreach(items, i, m) {
        const char *id = json_string_value(json_object_get(m, "id"));
        json_t *e = rec_find(&r, "item", OUTPOST_CHANGE_ADD, id);
        assert_non_null(e);
        /* The version is the watermark, exactly (no double rounding). */
        char v[32];
        snprintf(v, sizeof v, "%lld", (long long)json_integer_value(json_object_get(m, "watermark")));
        assert_string_equal(json_string_value(json_object_get(e, "version")), v);
        assert_string_equal(json_string_value(json_object_get(e, "subject")),
                            json_string_value(json_object_get(m, "subject")));
        assert_int_equal(json_integer_value(json_object_get(e, "contentState")), OUTPOST_CONTENT_COMPLETE);
    }
    json_t *e = rec_find(&r, "item", OUTPOST_CHANGE_ADD, json_string_value(json_object_get(created, "id")));
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "subject")), emoji_subject);
    assert_true(json_integer_value(json_object_get(e, "size")) > (json_int_t)blen);
    json_decref(created);
    json_decref(items);
    /* The mock really sent gzip and chunked replies, and one session served it all. */
    json_t *info = ctl(f, "info", NULL);
    json_t *stats = json_object_get(info, "stats");
    assert_true(json_integer_value(json_object_get(stats, "gzipped")) > 0);
    assert_true(json_integer_value(json_object_get(stats, "chunked")) > 0);
    assert_int_equal(json_integer_value(json_object_get(stats, "logins")), 1);
    json_decref(info);
    /* Incremental: a new mail, a flag change and a deletion, with quoted sync keys, which go
     * back quoted (the mock refuses a lastSyncKey that comes back as a number). */
    json_t *items0 = server_items(f);
    ctl0(f, "items/create", json_pack("{s:s, s:s}", "folder", "Inbox", "subject", "later"));
    ctl0(f, "items/delete", json_pack("{s:O}", "id", json_object_get(json_array_get(items0, 0), "id")));
    json_decref(items0);
    /* The session expires in the middle: one new login, the sync goes on. */
    ctl0(f, "sessions/expire", json_object());
    sync_ok(f, &r);
    assert_same_as_server(f, &r);
    info = ctl(f, "info", NULL);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(info, "stats"), "logins")), 2);
    json_decref(info);
    /* Write-back with quoted CreateResult/SetResult members: the new id and version. */
    items = server_items(f);
    outpost_change c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.op = OUTPOST_J_ITEM_MOVE;
    c.kind = OUTPOST_ITEM_MAIL;
    c.remote_id = json_string_value(json_object_get(json_array_get(items, 0), "id"));
    c.target_remote_id = f->archive;
    outpost_change_result res;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    outpost_status st = tm->write(f->t, &c, &res);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_non_null(res.remote_id);
    assert_non_null(strstr(res.remote_id, "keriostorage://mail/"));
    assert_non_null(res.remote_version);
    assert_true(atoll(res.remote_version) > 9007199254740993LL);
    json_decref(items);
    rec_free(&r);
}

/* ---- session ---- */

static void test_wrong_password(void **state)
{
    struct fx *f = *state;
    test_host_set_secret(f->th, "password", "not-the-password");
    assert_int_equal(tm->create(test_host_table(f->th), &f->t).code, OUTPOST_OK);
    outpost_status st = tm->open(f->t);
    assert_int_equal(st.code, OUTPOST_AUTH);
    assert_non_null(st.message);
    assert_non_null(strstr(st.message, "jdoe"));
    assert_null(strstr(st.message, "not-the-password"));
    /* One attempt, no retries. */
    assert_int_equal(calls_of(f, "Session.login"), 1);
    /* A sync after that: one more attempt, again AUTH. */
    struct rec r;
    rec_init(&r);
    st = sync_inbox(f, &r);
    assert_int_equal(st.code, OUTPOST_AUTH);
    assert_int_equal(calls_of(f, "Session.login"), 2);
    assert_int_equal(json_array_size(r.events) + json_array_size(r.pending), 0);
    rec_free(&r);
    assert_int_equal(test_host_logged(f->th, "not-the-password"), 0);
}

/* A long session token (opaque, any length) goes whole into X-Token, on the push
 * connection too. */
static void test_long_token(void **state)
{
    struct fx *f = *state;
    ctl0(f, "variant", json_pack("{s:b}", "long_token", 1));
    open_plugin(f);
    struct rec r;
    rec_init(&r);
    sync_ok(f, &r);
    assert_same_as_server(f, &r);
    int changed = -1;
    assert_int_equal(tm->wait_changes(f->t, 1200, &changed).code, OUTPOST_OK);
    assert_int_equal(calls_of(f, "Session.login"), 1);
    rec_free(&r);
}

/* A session that keeps expiring: one new login per call, then an error (no loop). */
static void test_session_keeps_expiring(void **state)
{
    struct fx *f = *state;
    open_plugin(f);
    ctl0(f, "calls/reset", json_object());
    fault(f, json_pack("{s:s, s:s, s:i}", "method", "Mails.get", "kind", "expire", "count", 10));
    struct rec r;
    rec_init(&r);
    outpost_status st = sync_inbox(f, &r);
    assert_int_not_equal(st.code, OUTPOST_OK);
    assert_non_null(st.message);
    assert_int_equal(calls_of(f, "Session.login"), 1);
    assert_int_equal(calls_of(f, "Mails.get"), 2);
    ctl0(f, "faults/clear", json_object());
    sync_ok(f, &r);
    assert_same_as_server(f, &r);
    rec_free(&r);
}

/* ---- per-item errors ---- */

static void test_get_by_id_item_errors(void **state)
{
    struct fx *f = *state;
    open_plugin(f);
    json_t *items = server_items(f);
    const char *gone = json_string_value(json_object_get(json_array_get(items, 2), "id"));
    const char *stuck = json_string_value(json_object_get(json_array_get(items, 6), "id"));
    /* One mail deleted between the listing and Mails.getById; another one the server cannot
     * read this time (a per-item error that is not "no such item"). */
    fault(f, json_pack("{s:s, s:s, s:[s]}", "method", "Mails.getById", "kind", "mutate", "delete", gone));
    char itemkey[400];
    snprintf(itemkey, sizeof itemkey, "item:%s", stuck);
    fault(f, json_pack("{s:s, s:s, s:i, s:s}", "method", itemkey, "kind", "item", "code", 1000, "message", "Operation failed."));
    struct rec r;
    rec_init(&r);
    sync_ok(f, &r);
    /* The vanished one is not handed over with made-up content; the rest are, in full. */
    json_t *e = rec_find(&r, "item", 0, gone);
    if (e)
        assert_int_not_equal(json_integer_value(json_object_get(e, "contentState")), OUTPOST_CONTENT_COMPLETE);
    e = rec_find(&r, "item", OUTPOST_CHANGE_ADD, stuck);
    assert_non_null(e); /* kept, without content: fetched when asked for */
    assert_int_not_equal(json_integer_value(json_object_get(e, "contentState")), OUTPOST_CONTENT_COMPLETE);
    /* with the listing's metadata: the mail listing asks for ids only when Mails.getById
     * follows, and lists that page again with every member for such a mail */
    assert_string_equal(json_string_value(json_object_get(e, "subject")),
                        json_string_value(json_object_get(json_array_get(items, 6), "subject")));
    size_t i;
    const json_t *m;
    json_array_foreach(items, i, m) {
        const char *id = json_string_value(json_object_get(m, "id"));
        if (!strcmp(id, gone) || !strcmp(id, stuck))
            continue;
        e = rec_find(&r, "item", OUTPOST_CHANGE_ADD, id);
        assert_non_null(e);
        assert_int_equal(json_integer_value(json_object_get(e, "contentState")), OUTPOST_CONTENT_COMPLETE);
    }
    /* The deletion arrives with the changes; the view matches the server. */
    sync_ok(f, &r);
    assert_same_as_server(f, &r);
    /* Incremental: a changed mail the server cannot read now is not dropped locally. */
    json_t *flagged = ctl(f, "items/create", json_pack("{s:s, s:s}", "folder", "Inbox", "subject", "to be read"));
    const char *fid = json_string_value(json_object_get(flagged, "id"));
    snprintf(itemkey, sizeof itemkey, "item:%s", fid);
    fault(f, json_pack("{s:s, s:s, s:i}", "method", itemkey, "kind", "item", "code", 4101));
    rec_clear(&r);
    outpost_status st = sync_inbox(f, &r);
    assert_int_not_equal(st.code, OUTPOST_OK);
    assert_int_equal(json_array_size(r.pending), 0);
    assert_int_equal(rec_count(&r, "item", OUTPOST_CHANGE_DELETE), 0);
    sync_ok(f, &r);
    assert_non_null(rec_find(&r, "item", OUTPOST_CHANGE_ADD, fid));
    json_decref(flagged);
    /* On demand: a vanished id is that item's GONE, the others are delivered. */
    json_t *now = server_items(f);
    const char *ids[3] = { json_string_value(json_object_get(json_array_get(now, 0), "id")), gone,
                           json_string_value(json_object_get(json_array_get(now, 1), "id")) };
    outpost_folder of;
    memset(&of, 0, sizeof of);
    of.struct_size = sizeof of;
    of.kind = OUTPOST_ITEM_MAIL;
    of.remote_id = f->inbox;
    rec_clear(&r);
    st = tm->fetch(f->t, &of, ids, 3, &r.sink);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(rec_count(&r, "item", OUTPOST_CHANGE_UPDATE), 2);
    assert_int_equal(rec_count(&r, "failed", 0), 1);
    json_decref(now);
    json_decref(items);
    rec_free(&r);
}

/* Writes: each journal entry is its own call; a per-item error (quoted inputIndex and code,
 * with and without messageParameters) is that entry's status, the next one succeeds. */
static void test_write_item_errors(void **state)
{
    struct fx *f = *state;
    ctl0(f, "variant", json_pack("{s:b}", "ints_as_strings", 1));
    open_plugin(f);
    json_t *items = server_items(f);
    const char *a = json_string_value(json_object_get(json_array_get(items, 0), "id"));
    const char *b = json_string_value(json_object_get(json_array_get(items, 1), "id"));
    char itemkey[400];
    snprintf(itemkey, sizeof itemkey, "item:%s", a);
    fault(f, json_pack("{s:s, s:s, s:i, s:s}", "method", itemkey, "kind", "item", "code", 1002, "message",
                       "Item %1 does not exist."));
    outpost_change c;
    outpost_change_result res;
    const char *order[2] = { a, b };
    outpost_status st[2];
    for (int n = 0; n < 2; n++) {
        memset(&c, 0, sizeof c);
        c.struct_size = sizeof c;
        c.op = OUTPOST_J_ITEM_FLAGS;
        c.kind = OUTPOST_ITEM_MAIL;
        c.remote_id = order[n];
        c.flags = OUTPOST_FLAG_SEEN | OUTPOST_FLAG_FLAGGED;
        memset(&res, 0, sizeof res);
        res.struct_size = sizeof res;
        st[n] = tm->write(f->t, &c, &res);
    }
    assert_int_equal(st[0].code, OUTPOST_GONE);
    assert_non_null(strstr(st[0].message, "1002"));
    assert_int_equal(st[1].code, OUTPOST_OK);
    json_t *now = server_items(f);
    size_t i;
    const json_t *m;
    json_array_foreach(now, i, m) {
        const char *id = json_string_value(json_object_get(m, "id"));
        int seen = json_is_true(json_object_get(m, "isSeen"));
        assert_int_equal(seen, strcmp(id, b) == 0);
    }
    json_decref(now);
    /* A refused move (quota, with no data member): TEMP, the mail stays where it was. */
    snprintf(itemkey, sizeof itemkey, "item:%s", b);
    fault(f, json_pack("{s:s, s:s, s:i}", "method", itemkey, "kind", "item", "code", 4102));
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.op = OUTPOST_J_ITEM_MOVE;
    c.kind = OUTPOST_ITEM_MAIL;
    c.remote_id = b;
    c.target_remote_id = f->archive;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    outpost_status ms = tm->write(f->t, &c, &res);
    assert_int_equal(ms.code, OUTPOST_TEMP);
    now = server_items(f);
    assert_int_equal(json_array_size(now), json_array_size(items));
    json_decref(now);
    /* An error entry without inputIndex (the call had one item): still that item's. */
    fault(f, json_pack("{s:s, s:s, s:i, s:b}", "method", itemkey, "kind", "item", "code", 1003, "no_index", 1));
    c.op = OUTPOST_J_ITEM_FLAGS;
    c.target_remote_id = NULL;
    c.flags = 0;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    ms = tm->write(f->t, &c, &res);
    assert_int_equal(ms.code, OUTPOST_BAD_DATA);
    assert_non_null(strstr(ms.message, "1003"));
    now = server_items(f);
    const json_t *bm = NULL;
    json_array_foreach(now, i, m) if (!strcmp(json_string_value(json_object_get(m, "id")), b)) bm = m;
    assert_non_null(bm);
    assert_true(json_is_true(json_object_get(bm, "isSeen"))); /* not applied */
    json_decref(now);
    /* A write refused by HTTP status with no JSON-RPC body (a proxy's 413) will be refused
     * again: BAD_DATA, not TEMP forever. A 200 reply that is not JSON may follow an applied
     * write: TEMP, replay checks first. */
    const char *kinds[] = { "http413", "html200" };
    const int want[] = { OUTPOST_BAD_DATA, OUTPOST_TEMP };
    for (size_t k = 0; k < 2; k++) {
        fault(f, json_pack("{s:s, s:s}", "method", "Mails.set", "kind", kinds[k]));
        memset(&res, 0, sizeof res);
        res.struct_size = sizeof res;
        ms = tm->write(f->t, &c, &res);
        if (ms.code != want[k])
            fprintf(stderr, "%s on Mails.set: %s (%s)\n", kinds[k], outpost_status_class_name(ms.code), ms.message);
        assert_int_equal(ms.code, want[k]);
        ctl0(f, "faults/clear", json_object());
    }
    json_decref(items);
}

/* ---- listing while the folder changes ---- */

static void test_paging_while_changing(void **state)
{
    struct fx *f = *state;
    open_plugin(f);
    json_t *items = server_items(f);
    /* Before the second page: two mails of the first page go, three new ones come (totalItems
     * changes between pages). */
    fault(f, json_pack("{s:s, s:s, s:i, s:[O, O], s:[s, s, s]}", "method", "Mails.get", "kind", "mutate", "skip", 1, "delete",
                       json_object_get(json_array_get(items, 0), "id"), json_object_get(json_array_get(items, 3), "id"),
                       "create", "new 1", "new 2", "new 3"));
    struct rec r;
    rec_init(&r);
    sync_ok(f, &r);
    /* Every mail that was there before and still is was handed over by the listing (none
     * skipped by the shift); the new ones come with the changes. */
    json_t *now = server_items(f);
    size_t i;
    const json_t *m;
    json_array_foreach(items, i, m) {
        const char *id = json_string_value(json_object_get(m, "id"));
        size_t j;
        const json_t *x;
        json_array_foreach(now, j, x) if (!strcmp(id, json_string_value(json_object_get(x, "id"))))
            assert_non_null(rec_find(&r, "item", OUTPOST_CHANGE_ADD, id));
    }
    json_decref(now);
    sync_ok(f, &r);
    assert_same_as_server(f, &r);
    /* An empty change list: nothing handed over, the state stays incremental. */
    rec_clear(&r);
    sync_ok(f, &r);
    assert_int_equal(rec_count(&r, "item", 0), 0);
    assert_int_equal(strncmp(r.state, "S1 ", 3), 0);
    /* An expired sync key (the journal dropped past it): STATE_INVALID; a fresh listing
     * brings the folder back whole. */
    ctl0(f, "items/create", json_pack("{s:s, s:s}", "folder", "Inbox", "subject", "after truncation"));
    ctl0(f, "journal/truncate", json_object());
    outpost_status st = sync_inbox(f, &r);
    assert_int_equal(st.code, OUTPOST_STATE_INVALID);
    assert_int_equal(json_array_size(r.pending), 0);
    struct rec fresh;
    rec_init(&fresh);
    sync_ok(f, &fresh);
    assert_same_as_server(f, &fresh);
    now = server_items(f);
    assert_int_equal(rec_count(&fresh, "item", OUTPOST_CHANGE_ADD), json_array_size(now));
    json_decref(now);
    rec_free(&fresh);
    json_decref(items);
    rec_free(&r);
}

/* A server whose pages are smaller than asked (its safety limit), with totalItems saying
 * more follow. */
static void test_capped_pages(void **state)
{
    struct fx *f = *state;
    ctl0(f, "variant", json_pack("{s:i}", "max_limit", 3));
    open_plugin(f);
    struct rec r;
    rec_init(&r);
    sync_ok(f, &r);
    json_t *items = server_items(f);
    assert_int_equal(rec_count(&r, "item", OUTPOST_CHANGE_ADD), json_array_size(items));
    assert_same_as_server(f, &r);
    json_decref(items);
    rec_free(&r);
}

/* Change entries of Changes.getFolder that leave the folder implied (no parentId). */
static void test_changes_implied_parent(void **state)
{
    struct fx *f = *state;
    ctl0(f, "variant", json_pack("{s:b}", "change_no_parent", 1));
    open_plugin(f);
    struct rec r;
    rec_init(&r);
    sync_ok(f, &r);
    json_t *items = server_items(f);
    ctl0(f, "items/delete", json_pack("{s:O}", "id", json_object_get(json_array_get(items, 4), "id")));
    json_t *n = ctl(f, "items/create", json_pack("{s:s, s:s}", "folder", "Inbox", "subject", "new"));
    rec_clear(&r);
    sync_ok(f, &r);
    assert_int_equal(rec_count(&r, "item", OUTPOST_CHANGE_DELETE), 1);
    assert_non_null(rec_find(&r, "item", OUTPOST_CHANGE_ADD, json_string_value(json_object_get(n, "id"))));
    json_decref(n);
    json_decref(items);
    rec_free(&r);
}

/* chtNewMail entries come for mail arriving in any folder ("folder filter is not applied"):
 * with the folder left implied, a mail that arrived in another folder must not be added
 * here (the object's folderId says where it is). */
static void test_new_mail_elsewhere(void **state)
{
    struct fx *f = *state;
    ctl0(f, "variant", json_pack("{s:b, s:b}", "change_no_parent", 1, "newmail_everywhere", 1));
    open_plugin(f);
    struct rec r;
    rec_init(&r);
    sync_ok(f, &r);
    json_t *a = ctl(f, "items/create", json_pack("{s:s, s:s}", "folder", "Archive", "subject", "filed"));
    json_t *n = ctl(f, "items/create", json_pack("{s:s, s:s}", "folder", "Inbox", "subject", "new"));
    rec_clear(&r);
    sync_ok(f, &r);
    assert_null(rec_find(&r, "item", 0, json_string_value(json_object_get(a, "id"))));
    assert_non_null(rec_find(&r, "item", OUTPOST_CHANGE_ADD, json_string_value(json_object_get(n, "id"))));
    assert_int_equal(rec_count(&r, "item", 0), 1);
    json_decref(a);
    json_decref(n);
    rec_free(&r);
}

/* The change list in another order than the journal's: a mail created and then flagged
 * arrives flagged first. */
static void test_changes_out_of_order(void **state)
{
    struct fx *f = *state;
    ctl0(f, "variant", json_pack("{s:b}", "changes_reversed", 1));
    open_plugin(f);
    struct rec r;
    rec_init(&r);
    sync_ok(f, &r);
    json_t *n = ctl(f, "items/create", json_pack("{s:s, s:s}", "folder", "Inbox", "subject", "created, then flagged"));
    const char *id = json_string_value(json_object_get(n, "id"));
    ctl0(f, "items/set", json_pack("{s:s, s:b, s:b}", "id", id, "isSeen", 1, "isFlagged", 1));
    json_t *items = server_items(f);
    const char *old = json_string_value(json_object_get(json_array_get(items, 0), "id"));
    ctl0(f, "items/set", json_pack("{s:s, s:b}", "id", old, "isSeen", 1));
    ctl0(f, "items/delete", json_pack("{s:s}", "id", old));
    rec_clear(&r);
    sync_ok(f, &r);
    json_t *e = rec_find(&r, "item", OUTPOST_CHANGE_ADD, id);
    assert_non_null(e);
    assert_int_equal(json_integer_value(json_object_get(e, "flags")) & (OUTPOST_FLAG_SEEN | OUTPOST_FLAG_FLAGGED),
                     OUTPOST_FLAG_SEEN | OUTPOST_FLAG_FLAGGED);
    assert_non_null(rec_find(&r, "item", OUTPOST_CHANGE_DELETE, old));
    json_decref(items);
    json_decref(n);
    rec_free(&r);
}

/* Empty lists given as null ("errors": null, "list": null). */
static void test_null_lists(void **state)
{
    struct fx *f = *state;
    ctl0(f, "variant", json_pack("{s:b}", "null_empty", 1));
    open_plugin(f);
    struct rec r;
    rec_init(&r);
    sync_ok(f, &r);
    assert_same_as_server(f, &r);
    rec_clear(&r);
    sync_ok(f, &r); /* no changes: "list": null */
    assert_int_equal(rec_count(&r, "item", 0), 0);
    rec_free(&r);
}

/* A bare HTTP 401 on a call is an ended session: one new login, the call again. */
static void test_http_401_relogin(void **state)
{
    struct fx *f = *state;
    open_plugin(f);
    struct rec r;
    rec_init(&r);
    sync_ok(f, &r);
    ctl0(f, "items/create", json_pack("{s:s, s:s}", "folder", "Inbox", "subject", "after 401"));
    ctl0(f, "calls/reset", json_object());
    fault(f, json_pack("{s:s, s:s}", "method", "Changes.getFolder", "kind", "http401"));
    rec_clear(&r);
    sync_ok(f, &r);
    assert_int_equal(calls_of(f, "Session.login"), 1);
    assert_int_equal(rec_count(&r, "item", OUTPOST_CHANGE_ADD), 1);
    rec_free(&r);
}

/* Attachment URLs given absolute (on the configured server) are downloaded like relative
 * ones; one naming another host is refused (the session never leaves the server). */
static void test_absolute_attachment_urls(void **state)
{
    struct fx *f = *state;
    ctl0(f, "variant", json_pack("{s:s}", "absolute_urls", f->sim.url));
    open_plugin(f);
    json_t *n = ctl(f, "items/create", json_pack("{s:s, s:s, s:{s:s, s:s}}", "folder", "Inbox", "subject", "with attachment",
                                                 "attachment", "name", "notes.txt", "data", "attached words"));
    struct rec r;
    rec_init(&r);
    sync_ok(f, &r);
    assert_same_as_server(f, &r);
    json_t *e = rec_find(&r, "item", OUTPOST_CHANGE_ADD, json_string_value(json_object_get(n, "id")));
    assert_non_null(e);
    assert_non_null(strstr(json_string_value(json_object_get(e, "content")), "notes.txt"));
    assert_int_equal(calls_of(f, "download"), 1);
    json_decref(n);
    rec_free(&r);
    /* Another host: refused before any request. */
    ctl0(f, "variant", json_pack("{s:s}", "absolute_urls", "https://elsewhere.example"));
    ctl0(f, "items/create", json_pack("{s:s, s:s, s:{s:s, s:s}}", "folder", "Inbox", "subject", "elsewhere", "attachment", "name",
                                      "x.txt", "data", "x"));
    rec_init(&r);
    outpost_status st = sync_inbox(f, &r);
    assert_int_equal(st.code, OUTPOST_BAD_DATA);
    assert_non_null(strstr(st.message, "outside the server"));
    assert_int_equal(calls_of(f, "download"), 1);
    rec_free(&r);
}

/* An attachment the server says is not there (HTTP 404/410, Kerio's JSON error, with any
 * status) fails on every attempt: its mail is handed over without content and named in a
 * warning, and the folder's listing and changes go on. A transient failure (5xx, a reply cut
 * off) fails the page (TEMP) and the next sync delivers the mail in full. */
static json_t *attached_mail(struct fx *f, const char *subject)
{
    return ctl(f, "items/create", json_pack("{s:s, s:s, s:{s:s, s:s}}", "folder", "Inbox", "subject", subject, "attachment",
                                            "name", "report.txt", "data", "attached words"));
}

static void assert_meta_only(struct rec *r, int change, const char *id)
{
    json_t *e = rec_find(r, "item", change, id);
    assert_non_null(e);
    assert_int_not_equal(json_integer_value(json_object_get(e, "contentState")), OUTPOST_CONTENT_COMPLETE);
}

static void test_attachment_gone(void **state)
{
    struct fx *f = *state;
    open_plugin(f);
    json_t *m1 = attached_mail(f, "first");
    const char *id1 = json_string_value(json_object_get(m1, "id"));
    /* Initial listing: the missing attachment does not hold the folder back. */
    fault(f, json_pack("{s:s, s:s, s:i}", "method", "download", "kind", "http404", "count", 100));
    struct rec r;
    rec_init(&r);
    sync_ok(f, &r);
    assert_same_as_server(f, &r);
    assert_meta_only(&r, OUTPOST_CHANGE_ADD, id1);
    assert_true(test_host_logged(f->th, id1));
    assert_true(test_host_logged(f->th, "report.txt"));
    ctl0(f, "faults/clear", json_object());
    /* Changes: a JSON-RPC "no such item" with HTTP 200 and JSON's type, then one with 410. */
    const struct {
        const char *kind;
        int status;
    } perm[] = { { "error", 200 }, { "http410", 0 }, { "error", 500 } };
    for (size_t n = 0; n < sizeof perm / sizeof perm[0]; n++) {
        json_t *m = attached_mail(f, "changed");
        fault(f, json_pack("{s:s, s:s, s:i, s:i}", "method", "download", "kind", perm[n].kind, "status", perm[n].status,
                           "count", 100));
        rec_clear(&r);
        sync_ok(f, &r);
        assert_meta_only(&r, OUTPOST_CHANGE_ADD, json_string_value(json_object_get(m, "id")));
        ctl0(f, "faults/clear", json_object());
        json_decref(m);
    }
    /* On demand: that mail fails (BAD_DATA, not TEMP for ever), the others are delivered. */
    json_t *now = server_items(f);
    const char *other = json_string_value(json_object_get(json_array_get(now, 0), "id"));
    const char *ids[2] = { id1, other };
    outpost_folder of;
    memset(&of, 0, sizeof of);
    of.struct_size = sizeof of;
    of.kind = OUTPOST_ITEM_MAIL;
    of.remote_id = f->inbox;
    fault(f, json_pack("{s:s, s:s, s:i, s:i}", "method", "download", "kind", "error", "code", 1002, "count", 100));
    rec_clear(&r);
    outpost_status st = tm->fetch(f->t, &of, ids, 2, &r.sink);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(rec_count(&r, "item", OUTPOST_CHANGE_UPDATE), 1);
    assert_non_null(rec_find(&r, "item", OUTPOST_CHANGE_UPDATE, other));
    assert_int_equal(rec_count(&r, "failed", 0), 1);
    const json_t *failed = rec_find(&r, "failed", 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(failed, "index")), 0);
    assert_int_equal(json_integer_value(json_object_get(failed, "status")), OUTPOST_BAD_DATA);
    ctl0(f, "faults/clear", json_object());
    /* Transient failures stay TEMP: nothing of the page, the mail in full next time. */
    const char *temp[] = { "http502_html", "cut", "http500_json" };
    for (size_t n = 0; n < sizeof temp / sizeof temp[0]; n++) {
        json_t *m = attached_mail(f, "later");
        const char *mid = json_string_value(json_object_get(m, "id"));
        fault(f, json_pack("{s:s, s:s}", "method", "download", "kind", temp[n]));
        rec_clear(&r);
        st = sync_inbox(f, &r);
        if (st.code != OUTPOST_TEMP)
            fprintf(stderr, "%s: %s (%s)\n", temp[n], outpost_status_class_name(st.code), st.message ? st.message : "");
        assert_int_equal(st.code, OUTPOST_TEMP);
        assert_null(rec_find(&r, "item", OUTPOST_CHANGE_ADD, mid));
        sync_ok(f, &r);
        json_t *e = rec_find(&r, "item", OUTPOST_CHANGE_ADD, mid);
        assert_non_null(e);
        assert_int_equal(json_integer_value(json_object_get(e, "contentState")), OUTPOST_CONTENT_COMPLETE);
        assert_non_null(strstr(json_string_value(json_object_get(e, "content")), "report.txt"));
        json_decref(m);
    }
    /* Fetched again once the server has it: the whole mail. */
    rec_clear(&r);
    assert_int_equal(tm->fetch(f->t, &of, ids, 1, &r.sink).code, OUTPOST_OK);
    assert_non_null(rec_find(&r, "item", OUTPOST_CHANGE_UPDATE, id1));
    json_decref(now);
    json_decref(m1);
    rec_free(&r);
}

/* ---- push ---- */

/* Changes.get on its own connection with the session's cookies (several, with paths); a
 * server that answers every poll at once with an empty list is not polled in a tight loop. */
static void test_push_poll_pacing(void **state)
{
    struct fx *f = *state;
    ctl0(f, "variant", json_pack("{s:s, s:b}", "cookies", "multi", "ints_as_strings", 1));
    open_plugin(f);
    ctl0(f, "calls/reset", json_object());
    int changed = -1;
    outpost_status st = tm->wait_changes(f->t, 3500, &changed);
    if (st.code != OUTPOST_OK)
        fprintf(stderr, "wait_changes: %s\n", st.message);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(changed, 0);
    long polls = calls_of(f, "Changes.get");
    assert_true(polls >= 2);
    assert_true(polls <= 5);
    assert_int_equal(calls_of(f, "Session.login"), 0);
}

/* ---- HTTP failures ---- */

static void test_http_failures(void **state)
{
    struct fx *f = *state;
    open_plugin(f);
    struct {
        const char *kind, *method;
        int skip, want;
        const char *says;
    } cases[] = {
        { "http500_json", "Mails.get", 0, OUTPOST_TEMP, "Internal error" },
        { "http502_html", "Mails.get", 0, OUTPOST_TEMP, "502" },
        { "http500_empty", "Mails.getById", 0, OUTPOST_TEMP, "500" },
        { "html200", "Mails.getById", 0, OUTPOST_BAD_DATA, "not JSON" },
        { "redirect", "Mails.get", 0, OUTPOST_BAD_DATA, "mail.example.net" },
        { "cut", "Mails.get", 1, OUTPOST_TEMP, "" },
        { "cut", "Changes.getFolderSyncKey", 0, OUTPOST_TEMP, "" },
        /* A reply without a length ends with its connection: one that stops inside its
         * JSON was cut (TEMP, retried), never a malformed reply to dead-letter. */
        { "cut_close", "Mails.get", 1, OUTPOST_TEMP, "ended before the reply" },
        { "cut_close", "Mails.getById", 0, OUTPOST_TEMP, "ended before the reply" },
        { "empty_close", "Changes.getFolderSyncKey", 0, OUTPOST_TEMP, "ended before the reply" },
        { "cut_chunked", "Mails.getById", 0, OUTPOST_TEMP, "" },
        /* The same half text as a complete reply (its Content-Length reached) is malformed. */
        { "short_json", "Mails.get", 0, OUTPOST_BAD_DATA, "ends inside its JSON" },
    };
    for (size_t n = 0; n < sizeof cases / sizeof cases[0]; n++) {
        struct rec r;
        rec_init(&r);
        fault(f, json_pack("{s:s, s:s, s:i}", "method", cases[n].method, "kind", cases[n].kind, "skip", cases[n].skip));
        outpost_status st = sync_inbox(f, &r);
        if (st.code != cases[n].want || !st.message || !strstr(st.message, cases[n].says))
            fprintf(stderr, "%s on %s: got %s (%s)\n", cases[n].kind, cases[n].method, outpost_status_class_name(st.code),
                    st.message ? st.message : "");
        assert_int_equal(st.code, cases[n].want);
        assert_non_null(st.message);
        assert_non_null(strstr(st.message, cases[n].says));
        assert_int_equal(json_array_size(r.pending), 0);
        ctl0(f, "faults/clear", json_object());
        /* The next cycle resumes and nothing is lost. */
        sync_ok(f, &r);
        sync_ok(f, &r);
        assert_same_as_server(f, &r);
        rec_free(&r);
    }
    /* JSON-RPC errors with and without a data member: "try later" is THROTTLED either way,
     * an unknown refusal names its code. */
    const int with_data[] = { 1, 0 };
    for (size_t n = 0; n < 2; n++) {
        struct rec r;
        rec_init(&r);
        fault(f, json_pack("{s:s, s:s, s:i, s:s, s:b}", "method", "Mails.get", "kind", "error", "code", 4101, "message",
                           "Operation in progress. Try later.", "data", with_data[n]));
        outpost_status st = sync_inbox(f, &r);
        assert_int_equal(st.code, OUTPOST_THROTTLED);
        assert_true(st.retry_after_ms > 0);
        assert_non_null(strstr(st.message, "Try later"));
        fault(f, json_pack("{s:s, s:s, s:i, s:b}", "method", "Changes.getFolderSyncKey", "kind", "error", "code", 1000, "data",
                           with_data[n]));
        st = sync_inbox(f, &r);
        assert_int_equal(st.code, OUTPOST_BAD_DATA);
        assert_non_null(strstr(st.message, "1000"));
        assert_int_equal(json_array_size(r.pending), 0);
        ctl0(f, "faults/clear", json_object());
        rec_free(&r);
    }
}

/* ---- listeners that are not a TLS server ---- */


/* ---- review against the Client API IDL ---- */

static outpost_status write1(struct fx *f, uint32_t op, const char *id, const char *folder, const char *target,
                             uint32_t flags)
{
    outpost_change c;
    outpost_change_result res;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.op = op;
    c.kind = OUTPOST_ITEM_MAIL;
    c.remote_id = id;
    c.folder_remote_id = folder;
    c.target_remote_id = target;
    c.flags = flags;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    return tm->write(f->t, &c, &res);
}

static size_t items_in(struct fx *f, const char *folder)
{
    char path[400];
    snprintf(path, sizeof path, "state?folder=%s", folder);
    json_t *s = ctl(f, path, NULL);
    size_t n = json_array_size(json_object_get(s, "items"));
    json_decref(s);
    return n;
}

/* find() pages through a folder: a server capping its pages below page_size (its "safety
 * limit", totalItems saying more follow) has not reached the end; stopping there answered
 * "not found" for a mail further on, and replay would create it a second time. */
static void test_find_capped_pages(void **state)
{
    struct fx *f = *state;
    /* (and every query with all the members of the IDL's SearchQuery) */
    ctl0(f, "variant", json_pack("{s:i, s:b}", "max_limit", 3, "strict_query", 1));
    open_plugin(f);
    struct rec r;
    rec_init(&r);
    sync_ok(f, &r);
    assert_same_as_server(f, &r);
    rec_free(&r);
    json_t *items = server_items(f); /* sorted by id, as find asks */
    const json_t *last = json_array_get(items, json_array_size(items) - 1);
    const char *id = json_string_value(json_object_get(last, "id"));
    const char *mid = json_string_value(json_object_get(json_array_get(json_object_get(last, "headers"), 0), "value"));
    outpost_change_result res;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    outpost_status st = tm->find(f->t, f->inbox, OUTPOST_ITEM_MAIL, mid, &res);
    if (st.code != OUTPOST_OK)
        fprintf(stderr, "find: %s\n", st.message);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_string_equal(res.remote_id, id);
    /* and a key that is nowhere: every page read, then "not found" */
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    ctl0(f, "calls/reset", json_object());
    assert_int_equal(tm->find(f->t, f->inbox, OUTPOST_ITEM_MAIL, "<nowhere@example.org>", &res).code, OUTPOST_GONE);
    assert_int_equal(calls_of(f, "Mails.get"), (long)(json_array_size(items) + 2) / 3);
    json_decref(items);
}

/* close() ends the session with Session.logout; a session that already expired is not
 * logged in again only to be logged out. */
static void test_logout_expired_session(void **state)
{
    struct fx *f = *state;
    open_plugin(f);
    ctl0(f, "sessions/expire", json_object());
    ctl0(f, "calls/reset", json_object());
    assert_int_equal(tm->close(f->t).code, OUTPOST_OK);
    assert_int_equal(calls_of(f, "Session.logout"), 1);
    assert_int_equal(calls_of(f, "Session.login"), 0);
    /* a live session: logged out once */
    assert_int_equal(tm->open(f->t).code, OUTPOST_OK);
    ctl0(f, "calls/reset", json_object());
    assert_int_equal(tm->close(f->t).code, OUTPOST_OK);
    assert_int_equal(calls_of(f, "Session.logout"), 1);
    json_t *info = ctl(f, "info", NULL);
    assert_int_equal(json_integer_value(json_object_get(info, "sessions")), 0);
    json_decref(info);
}

/* Folders.get may list folders of other places (Folder.placeType: another user's mailbox,
 * public folders), each under a root of its own, before the own ones: only the own mailbox's
 * folders are synced (top-level ones without a parent), its Deleted Items is the trash (a
 * mail deleted went to the other user's Deleted Items, listed first), and the special uses
 * come from the own folders only. */
static void test_foreign_folders(void **state)
{
    struct fx *f = *state;
    ctl0(f, "variant", json_pack("{s:b}", "foreign_folders", 1));
    json_t *info = ctl(f, "info", NULL);
    json_t *foreign = json_incref(json_object_get(info, "foreign"));
    char trash[256];
    snprintf(trash, sizeof trash, "%s", json_string_value(json_object_get(json_object_get(info, "folders"), "Deleted Items")));
    json_decref(info);
    open_plugin(f);
    struct rec r;
    rec_init(&r);
    assert_int_equal(tm->sync_hierarchy(f->t, NULL, 0, &r.sink).code, OUTPOST_OK);
    size_t i, j;
    const json_t *e, *fid;
    size_t inboxes = 0, trashes = 0;
    json_array_foreach(r.events, i, e) {
        const char *id = json_string_value(json_object_get(e, "id"));
        json_array_foreach(foreign, j, fid) {
            if (strcmp(id, json_string_value(fid)) == 0)
                fprintf(stderr, "folder of another place reported: %s\n", id);
            assert_string_not_equal(id, json_string_value(fid));
        }
        const json_t *parent = json_object_get(e, "parent");
        if (parent && !json_is_null(parent))
            fprintf(stderr, "%s has parent %s\n", id, json_string_value(parent));
        assert_true(!parent || json_is_null(parent)); /* own folders are all top-level here */
        int special = (int)json_integer_value(json_object_get(e, "special"));
        inboxes += special == OUTPOST_USE_INBOX;
        trashes += special == OUTPOST_USE_TRASH;
    }
    assert_int_equal(rec_count(&r, "folder", OUTPOST_CHANGE_ADD), 4); /* Inbox, Deleted Items, Archive, Calendar */
    assert_int_equal(inboxes, 1);
    assert_int_equal(trashes, 1);
    json_t *items = server_items(f);
    const char *a = json_string_value(json_object_get(json_array_get(items, 0), "id"));
    assert_int_equal(write1(f, OUTPOST_J_ITEM_DELETE, a, f->inbox, NULL, 0).code, OUTPOST_OK);
    assert_int_equal(items_in(f, trash), 1);
    json_array_foreach(foreign, j, fid) assert_int_equal(items_in(f, json_string_value(fid)), 0);
    json_decref(items);
    json_decref(foreign);
    rec_free(&r);
}

/* Folder.access: no write is sent into a folder the user may only read (the server refuses
 * it every time); a listing-only folder is reported as one without items to read. */
static void test_folder_access(void **state)
{
    struct fx *f = *state;
    ctl0(f, "variant", json_pack("{s:{s:s}}", "access", "Archive", "FAccessReadOnly"));
    open_plugin(f);
    json_t *items = server_items(f);
    const char *a = json_string_value(json_object_get(json_array_get(items, 0), "id"));
    ctl0(f, "calls/reset", json_object());
    outpost_status st = write1(f, OUTPOST_J_ITEM_MOVE, a, f->inbox, f->archive, 0);
    assert_int_equal(st.code, OUTPOST_BAD_DATA);
    assert_non_null(strstr(st.message, "read-only"));
    st = write1(f, OUTPOST_J_ITEM_COPY, a, f->inbox, f->archive, 0);
    assert_int_equal(st.code, OUTPOST_BAD_DATA);
    assert_int_equal(calls_of(f, "Mails.move") + calls_of(f, "Mails.copy"), 0);
    assert_int_equal(items_in(f, "Archive"), 0);
    /* the same in a folder with write access goes through */
    assert_int_equal(write1(f, OUTPOST_J_ITEM_FLAGS, a, f->inbox, NULL, OUTPOST_FLAG_SEEN).code, OUTPOST_OK);
    assert_int_equal(calls_of(f, "Mails.set"), 1);
    /* listing only: reported as a folder without items to select (the engine syncs none) */
    ctl0(f, "variant", json_pack("{s:{s:s}}", "access", "Archive", "FAccessListingOnly"));
    struct rec r;
    rec_init(&r);
    assert_int_equal(tm->sync_hierarchy(f->t, NULL, 0, &r.sink).code, OUTPOST_OK);
    json_t *ev = rec_find(&r, "folder", 0, f->archive);
    assert_non_null(ev);
    assert_true(json_integer_value(json_object_get(ev, "flags")) & OUTPOST_FOLDER_NOSELECT);
    ev = rec_find(&r, "folder", 0, f->inbox);
    assert_non_null(ev);
    assert_false(json_integer_value(json_object_get(ev, "flags")) & OUTPOST_FOLDER_NOSELECT);
    json_decref(items);
    rec_free(&r);
}

/* Events.get names its folder list "ids" in the IDL (the other X.get: "folderIds"); a server
 * reading only that name listed an empty calendar. */
static void test_events_get_ids(void **state)
{
    struct fx *f = *state;
    json_t *info = ctl(f, "info", NULL);
    char cal[256];
    snprintf(cal, sizeof cal, "%s", json_string_value(json_object_get(json_object_get(info, "folders"), "Calendar")));
    json_decref(info);
    open_plugin(f);
    struct rec r;
    rec_init(&r);
    ctl0(f, "variant", json_pack("{s:b}", "strict_query", 1));
    outpost_status st = sync_one(f, &r, OUTPOST_ITEM_EVENT, cal, "Calendar");
    if (st.code != OUTPOST_OK)
        fprintf(stderr, "sync_folder: %s\n", st.message);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(rec_count(&r, "item", OUTPOST_CHANGE_ADD), 2);
    rec_free(&r);
}

/* A handshake that ends with the connection (CURLE_SSL_CONNECT_ERROR: a reset, a server
 * restarting) is a network failure, retried later, not a certificate problem that makes the
 * account FATAL. A plain HTTP server on the port of the https:// URL answers the handshake
 * with an HTTP error every time: FATAL, with curl's words and what to check. */
static void test_not_a_tls_server(void **state)
{
    struct fx *f = *state;
    const struct {
        const char *answer;
        int want;
        const char *says[3];
    } cases[] = {
        { NULL, OUTPOST_TEMP, { "TLS handshake", NULL, NULL } },
        { RAW_LISTENER_HTTP_400, OUTPOST_FATAL, { "does not answer in TLS", "wrong version number", "[account] url" } },
    };
    for (size_t n = 0; n < sizeof cases / sizeof cases[0]; n++) {
        struct raw_listener l;
        assert_int_equal(raw_listener_start(&l, cases[n].answer), 0);
        test_host_set(f->th, "url", l.url);
        assert_int_equal(tm->create(test_host_table(f->th), &f->t).code, OUTPOST_OK);
        outpost_status st = tm->open(f->t);
        if (st.code != cases[n].want)
            fprintf(stderr, "open: %s (%s)\n", outpost_status_class_name(st.code), st.message ? st.message : "");
        assert_int_equal(st.code, cases[n].want);
        for (size_t k = 0; k < 3 && cases[n].says[k]; k++)
            assert_non_null(strstr(st.message, cases[n].says[k]));
        raw_listener_stop(&l);
        tm->destroy(f->t);
        f->t = NULL;
    }
    /* The same account against the real server opens once it answers. */
    test_host_set(f->th, "url", f->sim.url);
    open_plugin(f);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s PLUGIN.so PYTHON MOCK.py GEN-CERTS.sh WORKDIR\n", argv[0]);
        return 2;
    }
    plugin_path = argv[1];
    python = argv[2];
    mock_py = argv[3];
    gen_certs = argv[4];
    workdir = argv[5];
    snprintf(certdir, sizeof certdir, "%s/certs", workdir);
    snprintf(ca_pem, sizeof ca_pem, "%s/ca.pem", certdir);
    snprintf(crt, sizeof crt, "%s/server.pem", certdir);
    snprintf(key, sizeof key, "%s/server.key", certdir);
    mkdir(workdir, 0755);
    if (sim_gen_certs(gen_certs, certdir) != 0)
        return 1;
    struct test_host *th = test_host_new("account", workdir, NULL);
    outpost_loaded_plugin *p = th ? test_plugin_load(plugin_path, OUTPOST_KIND_TRANSPORT, test_host_table(th)) : NULL;
    if (!p)
        return 1;
    tm = p->methods;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wire_variants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_keeps_expiring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_by_id_item_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_item_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging_while_changing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_capped_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changes_implied_parent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changes_out_of_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_401_relogin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absolute_attachment_urls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attachment_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_poll_pacing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_tls_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_find_capped_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logout_expired_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_folders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_folder_access, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_get_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_mail_elsewhere, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sim_stop_all();
    outpost_loader_unload(p);
    test_host_free(th);
    return rc;
}
