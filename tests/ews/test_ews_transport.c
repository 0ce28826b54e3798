/* test_ews_transport.c — drives outpost-transport-ews through its method table (opened by
 * the core's loader) against outpost-sim-ews: full listing of every kind, server-side changes
 * of every kind, write-back of every journal kind counted once by the simulator, conflicts,
 * every fault mode mapped to its status class with nothing handed to the sink, autodiscover,
 * bearer tokens and TLS verification.
 * Usage: test_ews_transport PLUGIN.so SIM-BINARY GEN-CERTS WORKDIR */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include <outpost/storage.h>

#include "loader.h"
#include "sim_proc.h"
#include "test_host.h"
#include "mem_reader.h"
#include "raw_listener.h"
#include "recording_sink.h"

static const char *plugin_path, *sim_bin, *gen_certs, *workdir;
static char certs[512], ca[600], cert[600], key[600];
static const struct outpost_plugin *plugin;
static const struct outpost_transport_methods *M;

struct fx {
    struct sim_proc sim;
    char ews[300];         /* the simulator's .../EWS/Exchange.asmx */
    struct test_host *th;
    struct outpost_transport *t;
    struct rec rec;
    json_t *info;
};

static json_t *ctl(struct fx *f, const char *path, json_t *body)
{
    json_t *r = sim_ctl(&f->sim, path, body);
    assert_non_null(r);
    if (json_object_get(r, "error"))
        fail_msg("control %s: %s", path, json_string_value(json_object_get(r, "error")));
    return r;
}

/* A simulator serving `crt`/`crt_key` (one of gen-certs.sh's, in `certs`). */
static void start_sim_cert(struct fx *f, const char *const *extra, const char *crt, const char *crt_key)
{
    const char *args[40] = {"--cert", crt, "--key", crt_key, "--quiet", "--messages", "60", "--events", "10",
                            "--contacts", "6", "--tasks", "5", "--notes", "4", "--seed", "7"};
    int n = 17;
    for (int i = 0; extra && extra[i] && n < 38; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    assert_int_equal(sim_start(&f->sim, sim_bin, args, ca), 0);
    snprintf(f->ews, sizeof f->ews, "%s/EWS/Exchange.asmx", f->sim.url);
    /* the control client trusts the test CA only: no control calls with the others */
    f->info = crt == cert ? ctl(f, "info", NULL) : NULL;
}

static void start_sim(struct fx *f, const char *const *extra)
{
    start_sim_cert(f, extra, cert, key);
}

static outpost_status open_plugin(struct fx *f)
{
    outpost_status st = M->create(test_host_table(f->th), &f->t);
    if (st.code != OUTPOST_OK)
        return st;
    return M->open(f->t);
}

/* A simulator and an opened transport with Basic auth and the test CA. */
static void setup_fx(struct fx *f, const char *const *extra, const char *batch)
{
    memset(f, 0, sizeof *f);
    start_sim(f, extra);
    f->th = test_host_new("account", workdir, NULL);
    test_host_set(f->th, "url", f->ews);
    test_host_set(f->th, "user", "jdoe@example.com");
    test_host_set_secret(f->th, "password", "secret");
    test_host_set(f->th, "ca_file", ca);
    test_host_set(f->th, "batch_size", batch ? batch : "7");
    test_host_set(f->th, "push_poll", "1");
    test_host_set(f->th, "busy_wait", "1"); /* longer back-offs are handed to the caller */
    outpost_status st = open_plugin(f);
    if (st.code != OUTPOST_OK)
        fail_msg("open: %s", st.message);
    rec_init(&f->rec);
}

static void teardown_fx(struct fx *f)
{
    if (f->t) {
        M->close(f->t);
        M->destroy(f->t);
    }
    sim_stop(&f->sim);
    test_host_free(f->th);
    rec_free(&f->rec);
    json_decref(f->info);
}

static const char *folder_id(struct fx *f, const char *path)
{
    const char *id = json_string_value(json_object_get(json_object_get(f->info, "folders"), path));
    if (!id)
        fail_msg("no folder %s", path);
    return id;
}

static outpost_folder folder(struct fx *f, const char *path, uint32_t kind)
{
    outpost_folder fo = {0};
    fo.struct_size = sizeof fo;
    fo.kind = kind;
    fo.remote_id = folder_id(f, path);
    fo.name = path;
    return fo;
}

/* The simulator's folder object for a path, from a state dump (borrowed from `state`). */
static json_t *state_folder(json_t *state, const char *path)
{
    size_t i;
    json_t *fo;
    json_array_foreach(json_object_get(state, "folders"), i, fo)
        if (!strcmp(json_string_value(json_object_get(fo, "path")), path))
            return fo;
    return NULL;
}

static json_t *state_item(json_t *state, const char *id)
{
    size_t i, k;
    json_t *fo, *it;
    json_array_foreach(json_object_get(state, "folders"), i, fo)
        json_array_foreach(json_object_get(fo, "items"), k, it)
            if (!strcmp(json_string_value(json_object_get(it, "id")), id))
                return it;
    return NULL;
}

static long mutations(struct fx *f, const char *what)
{
    json_t *c = ctl(f, "counters", NULL);
    long n = (long)json_integer_value(json_object_get(json_object_get(c, "mutations"), what));
    json_decref(c);
    return n;
}

static outpost_status sync_folder(struct fx *f, const char *path, uint32_t kind, uint32_t flags)
{
    outpost_folder fo = folder(f, path, kind);
    return M->sync_folder(f->t, &fo, f->rec.state, f->rec.state ? f->rec.state_len : 0, 0, flags, &f->rec.sink);
}

/* ---- listing ---- */

static void test_hierarchy(void **unused)
{
    (void)unused;
    struct fx f;
    setup_fx(&f, NULL, NULL);
    outpost_status st = M->sync_hierarchy(f.t, NULL, 0, &f.rec.sink);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(f.rec.protocol_errors, 0);
    assert_int_equal(rec_count(&f.rec, "folder", OUTPOST_CHANGE_ADD), 13);
    /* parents before children; kinds and special uses */
    json_t *seen = json_object(), *e;
    size_t i;
    json_array_foreach(f.rec.events, i, e) {
        const char *parent = json_string_value(json_object_get(e, "parent"));
        assert_true(!parent || json_object_get(seen, parent));
        json_object_set_new(seen, json_string_value(json_object_get(e, "id")), json_true());
    }
    json_decref(seen);
    json_t *inbox = rec_find(&f.rec, "folder", 0, folder_id(&f, "Inbox"));
    assert_int_equal(json_integer_value(json_object_get(inbox, "special")), OUTPOST_USE_INBOX);
    assert_null(json_string_value(json_object_get(inbox, "parent")));
    assert_int_equal(json_integer_value(json_object_get(rec_find(&f.rec, "folder", 0, folder_id(&f, "Deleted Items")), "special")),
                     OUTPOST_USE_TRASH);
    assert_int_equal(json_integer_value(json_object_get(rec_find(&f.rec, "folder", 0, folder_id(&f, "Calendar")), "kind")),
                     OUTPOST_ITEM_EVENT);
    assert_int_equal(json_integer_value(json_object_get(rec_find(&f.rec, "folder", 0, folder_id(&f, "Contacts")), "kind")),
                     OUTPOST_ITEM_CONTACT);
    assert_int_equal(json_integer_value(json_object_get(rec_find(&f.rec, "folder", 0, folder_id(&f, "Tasks")), "kind")),
                     OUTPOST_ITEM_TASK);
    assert_int_equal(json_integer_value(json_object_get(rec_find(&f.rec, "folder", 0, folder_id(&f, "Notes")), "kind")),
                     OUTPOST_ITEM_NOTE);
    json_t *uni = rec_find(&f.rec, "folder", 0, folder_id(&f, "Inbox/Projekte/Ünïcødé 2025 – 日本"));
    assert_string_equal(json_string_value(json_object_get(uni, "name")), "Ünïcødé 2025 – 日本");
    assert_string_equal(json_string_value(json_object_get(uni, "parent")), folder_id(&f, "Inbox/Projekte"));
    /* quiet afterwards */
    rec_clear(&f.rec);
    st = M->sync_hierarchy(f.t, f.rec.state, f.rec.state_len, &f.rec.sink);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(json_array_size(f.rec.events), 0);
    assert_int_equal(f.rec.commits, 1);
    teardown_fx(&f);
}

static void check_listing(struct fx *f, json_t *state, const char *path, uint32_t kind, const char *must)
{
    rec_clear(&f->rec);
    free(f->rec.state);
    f->rec.state = NULL;
    outpost_status st = sync_folder(f, path, kind, OUTPOST_SYNC_WANT_CONTENT | OUTPOST_SYNC_INITIAL);
    if (st.code != OUTPOST_OK)
        fail_msg("sync %s: %s", path, st.message);
    assert_int_equal(f->rec.protocol_errors, 0);
    json_t *sf = state_folder(state, path);
    size_t count = json_array_size(json_object_get(sf, "items"));
    assert_int_equal(rec_count(&f->rec, "item", OUTPOST_CHANGE_ADD), count);
    assert_true(f->rec.max_page <= 7);
    assert_true(f->rec.commits >= (int)((count + 6) / 7));
    size_t i;
    json_t *e;
    int found_must = must == NULL;
    json_array_foreach(f->rec.events, i, e) {
        const char *id = json_string_value(json_object_get(e, "id"));
        json_t *si = state_item(state, id);
        assert_non_null(si);
        assert_string_equal(json_string_value(json_object_get(e, "version")),
                            json_string_value(json_object_get(si, "changeKey")));
        const char *content = json_string_value(json_object_get(e, "content"));
        assert_non_null(content);
        if (kind == OUTPOST_ITEM_MAIL) {
            assert_int_equal(json_integer_value(json_object_get(e, "contentLen")), json_integer_value(json_object_get(si, "size")));
            assert_string_equal(json_string_value(json_object_get(e, "messageId")),
                                json_string_value(json_object_get(si, "messageId")));
            assert_true(!strncmp(content, "From: ", 6));
            int flags = (int)json_integer_value(json_object_get(e, "flags"));
            assert_int_equal((flags & OUTPOST_FLAG_SEEN) != 0, json_is_true(json_object_get(json_object_get(si, "flags"), "read")));
            assert_int_equal((flags & OUTPOST_FLAG_FLAGGED) != 0,
                             json_is_true(json_object_get(json_object_get(si, "flags"), "flagged")));
        } else {
            assert_int_equal(json_integer_value(json_object_get(e, "contentLen")), json_integer_value(json_object_get(e, "size")));
            const char *begin = kind == OUTPOST_ITEM_EVENT ? "BEGIN:VEVENT" : kind == OUTPOST_ITEM_CONTACT ? "BEGIN:VCARD"
                                : kind == OUTPOST_ITEM_TASK ? "BEGIN:VTODO" : "BEGIN:VJOURNAL";
            assert_non_null(strstr(content, begin));
            if (kind == OUTPOST_ITEM_CONTACT)
                assert_non_null(strstr(content, "VERSION:3.0"));
        }
        if (must && strstr(content, must))
            found_must = 1;
    }
    if (!found_must)
        fail_msg("no item of %s carries %s", path, must);
    /* up to date: one empty page */
    rec_clear(&f->rec);
    st = sync_folder(f, path, kind, OUTPOST_SYNC_WANT_CONTENT);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(json_array_size(f->rec.events), 0);
}

static void test_listing_every_kind(void **unused)
{
    (void)unused;
    struct fx f;
    setup_fx(&f, NULL, NULL);
    json_t *state = ctl(&f, "state", NULL);
    check_listing(&f, state, "Inbox", OUTPOST_ITEM_MAIL, "Content-Transfer-Encoding: base64");
    check_listing(&f, state, "Sent Items", OUTPOST_ITEM_MAIL, NULL);
    check_listing(&f, state, "Inbox/Projekte/Ünïcødé 2025 – 日本", OUTPOST_ITEM_MAIL, NULL);
    check_listing(&f, state, "Calendar", OUTPOST_ITEM_EVENT, "RECURRENCE-ID");
    check_listing(&f, state, "Calendar", OUTPOST_ITEM_EVENT, "EXDATE");
    check_listing(&f, state, "Calendar", OUTPOST_ITEM_EVENT, "RRULE:FREQ=WEEKLY");
    check_listing(&f, state, "Contacts", OUTPOST_ITEM_CONTACT, "TEL;TYPE=CELL");
    check_listing(&f, state, "Tasks", OUTPOST_ITEM_TASK, "STATUS:COMPLETED");
    check_listing(&f, state, "Notes", OUTPOST_ITEM_NOTE, "SUMMARY:");
    json_decref(state);
    teardown_fx(&f);
}

static void test_listing_without_content_and_fetch(void **unused)
{
    (void)unused;
    struct fx f;
    setup_fx(&f, NULL, NULL);
    outpost_status st = sync_folder(&f, "Inbox", OUTPOST_ITEM_MAIL, OUTPOST_SYNC_INITIAL);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_true(rec_count(&f.rec, "item", OUTPOST_CHANGE_ADD) > 10);
    json_t *e0 = json_array_get(f.rec.events, 0), *e1 = json_array_get(f.rec.events, 1);
    assert_int_equal(json_integer_value(json_object_get(e0, "contentState")), OUTPOST_CONTENT_NONE);
    assert_null(json_object_get(e0, "content"));
    assert_true(json_integer_value(json_object_get(e0, "size")) > 0);
    const char *ids[3] = {json_string_value(json_object_get(e0, "id")), "bm8gc3VjaCBpZA==",
                          json_string_value(json_object_get(e1, "id"))};
    char *keep[3] = {strdup(ids[0]), strdup(ids[1]), strdup(ids[2])};
    rec_clear(&f.rec);
    outpost_folder fo = folder(&f, "Inbox", OUTPOST_ITEM_MAIL);
    st = M->fetch(f.t, &fo, (const char *const *)keep, 3, &f.rec.sink);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(rec_count(&f.rec, "item", OUTPOST_CHANGE_UPDATE), 2);
    assert_int_equal(rec_count(&f.rec, "failed", 0), 1);
    json_t *got = rec_find(&f.rec, "item", 0, keep[2]);
    assert_non_null(json_object_get(got, "content"));
    for (int i = 0; i < 3; i++)
        free(keep[i]);
    teardown_fx(&f);
}

static void test_large_message_streams_in_chunks(void **unused)
{
    (void)unused;
    struct fx f;
    setup_fx(&f, NULL, NULL);
    size_t body = 5u << 20; /* past EWS_SPOOL_MEM: the reply and the decoded mail go to temporary files */
    char *mime = malloc(body + 200);
    int n = sprintf(mime, "Subject: big\r\nMessage-ID: <big@x>\r\nContent-Type: text/plain\r\n\r\n");
    for (size_t i = 0; i < body; i++)
        mime[n + i] = (i % 78 == 76) ? '\r' : (i % 78 == 77) ? '\n' : (char)('a' + i % 26);
    mime[n + body] = '\0';
    json_t *r = ctl(&f, "items/create", json_pack("{s:s, s:s}", "folder", "Drafts", "mime", mime));
    assert_int_equal(sync_folder(&f, "Drafts", OUTPOST_ITEM_MAIL, OUTPOST_SYNC_WANT_CONTENT | OUTPOST_SYNC_INITIAL).code,
                     OUTPOST_OK);
    json_t *e = rec_find(&f.rec, "item", 0, json_string_value(json_object_get(r, "id")));
    assert_non_null(e);
    assert_int_equal(json_integer_value(json_object_get(e, "contentLen")), (json_int_t)strlen(mime));
    assert_string_equal(json_string_value(json_object_get(e, "content")), mime);
    /* handed over piece by piece, in pieces of at most 64 KiB */
    assert_true(json_integer_value(json_object_get(e, "chunks")) >= (json_int_t)(strlen(mime) / (64 * 1024)));
    json_decref(r);
    free(mime);
    teardown_fx(&f);
}

/* ---- server change notifications (pull subscription) ---- */

static void test_wait_changes(void **unused)
{
    (void)unused;
    struct fx f;
    setup_fx(&f, NULL, NULL);
    assert_non_null(M->wait_changes);
    int changed = 0;
    /* the first wait subscribes; what happened before its watermark is unknown: a change */
    outpost_status st = M->wait_changes(f.t, 5000, &changed);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(changed, 1);
    /* nothing happens: the wait ends without a change */
    st = M->wait_changes(f.t, 1500, &changed);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(changed, 0);
    /* a new message on the server is reported */
    json_decref(ctl(&f, "items/create", json_pack("{s:s, s:s, s:{s:s}}", "type", "mail", "folder", "Inbox", "item",
                                                  "subject", "push me")));
    st = M->wait_changes(f.t, 30000, &changed);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(changed, 1);
    /* and only once */
    st = M->wait_changes(f.t, 1500, &changed);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(changed, 0);
    teardown_fx(&f);
}

/* A busy server (ErrorServerBusy with BackOffMilliseconds) at open (GetFolder) and while
 * waiting for changes (Subscribe, GetEvents) is handled as on every other call: a back-off
 * within busy_wait (1 s here) is waited for and the request sent again, a longer one is
 * THROTTLED with its delay. */
static void test_busy_open_and_wait(void **unused)
{
    (void)unused;
    struct fx f;
    setup_fx(&f, NULL, NULL);
    M->close(f.t);
    M->destroy(f.t);
    f.t = NULL;
    json_decref(ctl(&f, "faults", json_pack("{s:s, s:s, s:i, s:i}", "kind", "busy", "method", "GetFolder", "backoff_ms", 300,
                                            "count", 1)));
    outpost_status st = open_plugin(&f);
    if (st.code != OUTPOST_OK)
        fail_msg("open with a busy GetFolder: %s", st.message ? st.message : "");
    assert_true(test_host_logged(f.th, "GetFolder: the server is busy"));
    M->close(f.t);
    M->destroy(f.t);
    f.t = NULL;
    json_decref(ctl(&f, "faults", json_pack("{s:s, s:s, s:i}", "kind", "busy", "method", "GetFolder", "backoff_ms", 7000)));
    st = open_plugin(&f);
    assert_int_equal(st.code, OUTPOST_THROTTLED);
    assert_int_equal(st.retry_after_ms, 7000);
    json_decref(ctl(&f, "faults/clear", json_object()));
    M->destroy(f.t);
    f.t = NULL;
    assert_int_equal(open_plugin(&f).code, OUTPOST_OK);
    int changed = 0;
    /* the first wait subscribes (a change), the next asks GetEvents (none): each meets one
     * busy answer first */
    static const char *const busy_op[] = {"Subscribe", "GetEvents"};
    for (int i = 0; i < 2; i++) {
        json_decref(ctl(&f, "faults", json_pack("{s:s, s:s, s:i, s:i}", "kind", "busy", "method", busy_op[i], "backoff_ms",
                                                200, "count", 1)));
        st = M->wait_changes(f.t, 1500, &changed);
        assert_int_equal(st.code, OUTPOST_OK);
        assert_int_equal(changed, i == 0);
        char said[64];
        snprintf(said, sizeof said, "%s: the server is busy", busy_op[i]);
        assert_true(test_host_logged(f.th, said));
    }
    /* longer than busy_wait: THROTTLED with the server's delay, as a SOAP fault or as the
     * operation's error message */
    json_decref(ctl(&f, "faults", json_pack("{s:s, s:s, s:i}", "kind", "busy", "method", "GetEvents", "backoff_ms", 7000)));
    st = M->wait_changes(f.t, 1500, &changed);
    assert_int_equal(st.code, OUTPOST_THROTTLED);
    assert_int_equal(st.retry_after_ms, 7000);
    json_decref(ctl(&f, "faults/clear", json_object()));
    json_decref(ctl(&f, "faults", json_pack("{s:s, s:s, s:s, s:i}", "kind", "busy", "method", "GetEvents", "form", "message",
                                            "backoff_ms", 3000)));
    st = M->wait_changes(f.t, 1500, &changed);
    assert_int_equal(st.code, OUTPOST_THROTTLED);
    assert_int_equal(st.retry_after_ms, 3000);
    json_decref(ctl(&f, "faults/clear", json_object()));
    /* the subscription is still there: the next wait asks GetEvents again, nothing changed */
    st = M->wait_changes(f.t, 1500, &changed);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(changed, 0);
    teardown_fx(&f);
}

/* ---- server-side changes ---- */

static void test_server_changes_incremental(void **unused)
{
    (void)unused;
    struct fx f;
    setup_fx(&f, NULL, NULL);
    assert_int_equal(sync_folder(&f, "Inbox", OUTPOST_ITEM_MAIL, OUTPOST_SYNC_INITIAL).code, OUTPOST_OK);
    json_t *state = ctl(&f, "state?content=0", NULL);
    json_t *items = json_object_get(state_folder(state, "Inbox"), "items");
    const char *id[5];
    for (int i = 0; i < 5; i++)
        id[i] = json_string_value(json_object_get(json_array_get(items, (size_t)i), "id"));
    int read0 = json_is_true(json_object_get(json_object_get(json_array_get(items, 0), "flags"), "read"));
    json_t *created = ctl(&f, "items/create", json_pack("{s:s, s:{s:s}}", "folder", "Inbox", "item", "subject", "Neu: Grüße 🎉"));
    json_decref(ctl(&f, "items/set", json_pack("{s:s, s:b}", "id", id[0], "read", !read0)));
    json_decref(ctl(&f, "items/set", json_pack("{s:s, s:b}", "id", id[1], "flagged", 1)));
    json_decref(ctl(&f, "items/set", json_pack("{s:s, s:{s:s}}", "id", id[2], "item", "subject", "Edited on the server")));
    json_decref(ctl(&f, "items/move", json_pack("{s:s, s:s}", "id", id[3], "folder", "Inbox/Projekte")));
    json_decref(ctl(&f, "items/remove", json_pack("{s:s}", "id", id[4])));
    rec_clear(&f.rec);
    outpost_status st = sync_folder(&f, "Inbox", OUTPOST_ITEM_MAIL, OUTPOST_SYNC_WANT_CONTENT);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(rec_count(&f.rec, "item", OUTPOST_CHANGE_ADD), 1);
    assert_int_equal(rec_count(&f.rec, "item", OUTPOST_CHANGE_FLAGS), 1);
    assert_int_equal(rec_count(&f.rec, "item", OUTPOST_CHANGE_UPDATE), 2);
    assert_int_equal(rec_count(&f.rec, "item", OUTPOST_CHANGE_DELETE), 2);
    json_t *add = rec_find(&f.rec, "item", 0, json_string_value(json_object_get(created, "id")));
    assert_string_equal(json_string_value(json_object_get(add, "subject")), "Neu: Grüße 🎉");
    assert_non_null(strstr(json_string_value(json_object_get(add, "content")), "=?UTF-8?B?"));
    json_t *fl = rec_find(&f.rec, "item", 0, id[0]);
    assert_int_equal(json_integer_value(json_object_get(fl, "change")), OUTPOST_CHANGE_FLAGS);
    assert_int_equal((json_integer_value(json_object_get(fl, "flags")) & OUTPOST_FLAG_SEEN) != 0, !read0);
    assert_true(json_integer_value(json_object_get(rec_find(&f.rec, "item", 0, id[1]), "flags")) & OUTPOST_FLAG_FLAGGED);
    assert_string_equal(json_string_value(json_object_get(rec_find(&f.rec, "item", 0, id[2]), "subject")), "Edited on the server");
    assert_int_equal(json_integer_value(json_object_get(rec_find(&f.rec, "item", 0, id[3]), "change")), OUTPOST_CHANGE_DELETE);
    json_decref(created);
    json_decref(state);

    /* hierarchy: create, rename, delete */
    rec_clear(&f.rec);
    free(f.rec.state);
    f.rec.state = NULL;
    assert_int_equal(M->sync_hierarchy(f.t, NULL, 0, &f.rec.sink).code, OUTPOST_OK);
    json_t *nf = ctl(&f, "folders/create", json_pack("{s:s, s:s, s:s}", "parent", "Inbox", "name", "Rechnungen 2025", "type", "mail"));
    json_decref(ctl(&f, "folders/set", json_pack("{s:s, s:s}", "path", "Inbox/Projekte", "name", "Projekte (alt)")));
    json_decref(ctl(&f, "folders/remove", json_pack("{s:s}", "path", "Calendar/Urlaub")));
    rec_clear(&f.rec);
    assert_int_equal(M->sync_hierarchy(f.t, f.rec.state, f.rec.state_len, &f.rec.sink).code, OUTPOST_OK);
    assert_int_equal(rec_count(&f.rec, "folder", OUTPOST_CHANGE_ADD), 1);
    assert_int_equal(rec_count(&f.rec, "folder", OUTPOST_CHANGE_UPDATE), 1);
    assert_int_equal(rec_count(&f.rec, "folder", OUTPOST_CHANGE_DELETE), 1);
    assert_string_equal(json_string_value(json_object_get(rec_find(&f.rec, "folder", 0, folder_id(&f, "Inbox/Projekte")), "name")),
                        "Projekte (alt)");
    assert_non_null(rec_find(&f.rec, "folder", 0, json_string_value(json_object_get(nf, "id"))));
    json_decref(nf);
    teardown_fx(&f);
}

/* ---- write-back ---- */

static outpost_change change(uint32_t op, uint32_t kind)
{
    outpost_change c = {0};
    c.struct_size = sizeof c;
    c.op = op;
    c.kind = kind;
    return c;
}

static const char mime_msg[] =
    "From: =?UTF-8?B?SmFuIE5vdsOhaw==?= <jdoe@example.com>\r\n"
    "To: Zoe <zoe@example.org>\r\n"
    "Subject: Offline draft\r\n"
    "Date: Mon, 02 Jun 2025 09:00:00 +0000\r\n"
    "Message-ID: <offline-1@outpost.example>\r\n"
    "X-Outpost-Track: 42\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=UTF-8\r\n"
    "\r\n"
    "Written offline. Grüße.\r\n";

static const char ical_event[] =
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:offline-ev-1@outpost\r\n"
    "DTSTAMP:20250601T100000Z\r\nDTSTART:20250610T090000Z\r\nDTEND:20250610T100000Z\r\nSUMMARY:Planung Q3\r\n"
    "LOCATION:Zasedačka 2\r\nRRULE:FREQ=WEEKLY;COUNT=4;BYDAY=TU\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

static const char ical_event2[] =
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:offline-ev-1@outpost\r\n"
    "DTSTAMP:20250601T100000Z\r\nDTSTART:20250610T100000Z\r\nDTEND:20250610T110000Z\r\nSUMMARY:Planung Q3 (verschoben)\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n";

static const char vcard[] =
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:offline-c-1@outpost\r\nFN:Zoë Müller\r\nN:Müller;Zoë;;;\r\n"
    "ORG:Example\\, Inc.\r\nEMAIL;TYPE=INTERNET:zoe@example.org\r\nTEL;TYPE=CELL:+49 170 1234567\r\nEND:VCARD\r\n";

static const char ical_task[] =
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTODO\r\nUID:offline-t-1@outpost\r\n"
    "DTSTAMP:20250601T100000Z\r\nSUMMARY:Steuererklärung\r\nDUE:20250615T120000Z\r\nSTATUS:IN-PROCESS\r\n"
    "PERCENT-COMPLETE:40\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";

static const char ical_note[] =
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VJOURNAL\r\nUID:offline-n-1@outpost\r\n"
    "DTSTAMP:20250601T100000Z\r\nSUMMARY:Idee\r\nDESCRIPTION:Notiz mit Umlauten äöü\r\nEND:VJOURNAL\r\nEND:VCALENDAR\r\n";

/* A mail of `size` bytes made up while it is read (never whole in memory): a header, then
 * lines of letters; it can start over. */
struct gen_reader {
    struct outpost_reader r;
    uint64_t off;
    int rewinds;
    uint64_t len;      /* its length (r.size may say "unknown") */
};

static const char gen_head[] = "Subject: big append\r\nMessage-ID: <big-append@x>\r\nContent-Type: text/plain\r\n\r\n";

static outpost_status gen_read(void *ctx, void *buf, size_t cap, size_t *got)
{
    struct gen_reader *g = ctx;
    char *o = buf;
    size_t n = 0, hl = sizeof gen_head - 1;
    for (; n < cap && g->off < g->len; n++, g->off++)
        o[n] = g->off < hl ? gen_head[g->off] : (g->off - hl) % 78 == 76 ? '\r' : (g->off - hl) % 78 == 77 ? '\n'
               : (char)('a' + (g->off - hl) % 26);
    *got = n;
    return outpost_ok();
}

static outpost_status gen_rewind(void *ctx)
{
    struct gen_reader *g = ctx;
    g->off = 0;
    g->rewinds++;
    return outpost_ok();
}

/* VmHWM (peak resident set) of this process in KiB, after resetting it to the current RSS
 * when `reset` (clear_refs 5, Linux 4.0+); -1 when unknown. */
static long vm_hwm_kib(int reset)
{
    if (reset) {
        FILE *c = fopen("/proc/self/clear_refs", "w");
        if (!c)
            return -1;
        int ok = fputs("5", c) >= 0;
        if (fclose(c) || !ok)
            return -1;
    }
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6))
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

/* Appending a large mail (CreateItem with its MimeContent): the body is streamed and encoded
 * in pieces, so the process's peak memory grows by far less than the mail (before, the mail,
 * its base64 and the request were all in memory at once: over twice its size). */
static void test_large_append_bounded_memory(void **unused)
{
    (void)unused;
    struct fx f;
    setup_fx(&f, NULL, NULL);
    const uint64_t size = 30u << 20;
    struct gen_reader g = {{&g, size, gen_read, gen_rewind}, 0, 0, size};
    outpost_change c = change(OUTPOST_J_ITEM_CREATE, OUTPOST_ITEM_MAIL);
    c.folder_remote_id = folder_id(&f, "Drafts");
    c.content = &g.r;
    c.key = "<big-append@x>";
    c.flags = OUTPOST_FLAG_SEEN;
    outpost_change_result res = {sizeof res, 0, NULL, NULL};
    long before = vm_hwm_kib(1);
    if (before < 0)
        skip(); /* no way to measure the peak here */
    outpost_status st = M->write(f.t, &c, &res);
    long after = vm_hwm_kib(0);
    if (st.code != OUTPOST_OK)
        fail_msg("append of a %llu-byte mail: %s", (unsigned long long)size, st.message);
    long grown = after - before;
    print_message("peak RSS grew by %ld KiB appending a %llu KiB mail\n", grown, (unsigned long long)(size >> 10));
    if (grown > (long)(size >> 10) / 4)
        fail_msg("peak RSS grew by %ld KiB for a %llu KiB mail: the body is not streamed", grown,
                 (unsigned long long)(size >> 10));
    assert_non_null(res.remote_id);
    /* the server has the whole mail, byte for byte as long */
    char path[160];
    snprintf(path, sizeof path, "state?folder=Drafts");
    json_t *state = ctl(&f, path, NULL);
    json_t *it = state_item(state, res.remote_id);
    assert_non_null(it);
    assert_int_equal(json_integer_value(json_object_get(it, "size")), (json_int_t)size);
    assert_string_equal(json_string_value(json_object_get(it, "subject")), "big append");
    json_decref(state);
    /* content of unknown size that cannot start over: spooled first (past 4 MiB in a file) */
    struct gen_reader g2 = {{&g2, UINT64_MAX, gen_read, NULL}, 0, 0, 5u << 20};
    c.content = &g2.r;
    st = M->write(f.t, &c, &res);
    if (st.code != OUTPOST_OK)
        fail_msg("append of a mail of unknown size: %s", st.message);
    state = ctl(&f, path, NULL);
    it = state_item(state, res.remote_id);
    assert_non_null(it);
    assert_int_equal(json_integer_value(json_object_get(it, "size")), (json_int_t)(5u << 20));
    json_decref(state);
    teardown_fx(&f);
}

static char *do_create(struct fx *f, uint32_t kind, const char *folder_path, const char *content, const char *ckey,
                       uint32_t flags, char **version)
{
    struct mem_reader mr;
    outpost_change c = change(OUTPOST_J_ITEM_CREATE, kind);
    c.folder_remote_id = folder_id(f, folder_path);
    c.content = mem_reader(&mr, content);
    c.key = ckey;
    c.flags = flags;
    outpost_change_result res = {sizeof res, 0, NULL, NULL};
    outpost_status st = M->write(f->t, &c, &res);
    if (st.code != OUTPOST_OK)
        fail_msg("create in %s: %s", folder_path, st.message);
    assert_non_null(res.remote_id);
    if (version)
        *version = res.remote_version ? strdup(res.remote_version) : NULL;
    return strdup(res.remote_id);
}

static void test_write_back_every_kind(void **unused)
{
    (void)unused;
    struct fx f;
    setup_fx(&f, NULL, NULL);
    json_t *state = ctl(&f, "state?content=0", NULL);
    json_t *inbox = json_object_get(state_folder(state, "Inbox"), "items");
    char *mail_id = strdup(json_string_value(json_object_get(json_array_get(inbox, 0), "id")));
    char *mail_ck = strdup(json_string_value(json_object_get(json_array_get(inbox, 0), "changeKey")));
    char *m2 = strdup(json_string_value(json_object_get(json_array_get(inbox, 1), "id")));
    char *m3 = strdup(json_string_value(json_object_get(json_array_get(inbox, 2), "id")));
    char *m4 = strdup(json_string_value(json_object_get(json_array_get(inbox, 3), "id")));
    json_decref(state);
    outpost_change_result res = {sizeof res, 0, NULL, NULL};

    /* flags */
    outpost_change c = change(OUTPOST_J_ITEM_FLAGS, OUTPOST_ITEM_MAIL);
    c.remote_id = mail_id;
    c.remote_version = mail_ck;
    c.flags = OUTPOST_FLAG_SEEN | OUTPOST_FLAG_FLAGGED | OUTPOST_FLAG_ANSWERED;
    assert_int_equal(M->write(f.t, &c, &res).code, OUTPOST_OK);
    assert_string_equal(res.remote_id, mail_id);
    assert_string_not_equal(res.remote_version, mail_ck);

    /* creates of every kind */
    char *draft = do_create(&f, OUTPOST_ITEM_MAIL, "Drafts", mime_msg, "<offline-1@outpost.example>",
                            OUTPOST_FLAG_SEEN | OUTPOST_FLAG_DRAFT, NULL);
    char *ev_ck = NULL;
    char *ev = do_create(&f, OUTPOST_ITEM_EVENT, "Calendar", ical_event, "offline-ev-1@outpost", 0, &ev_ck);
    char *con = do_create(&f, OUTPOST_ITEM_CONTACT, "Contacts", vcard, "offline-c-1@outpost", 0, NULL);
    char *task = do_create(&f, OUTPOST_ITEM_TASK, "Tasks", ical_task, "offline-t-1@outpost", 0, NULL);
    char *note = do_create(&f, OUTPOST_ITEM_NOTE, "Notes", ical_note, "offline-n-1@outpost", 0, NULL);

    /* content update (NeverOverwrite with the change key) */
    struct mem_reader mr;
    c = change(OUTPOST_J_ITEM_UPDATE, OUTPOST_ITEM_EVENT);
    c.remote_id = ev;
    c.remote_version = ev_ck;
    c.folder_remote_id = folder_id(&f, "Calendar");
    c.content = mem_reader(&mr, ical_event2);
    outpost_status st = M->write(f.t, &c, &res);
    if (st.code != OUTPOST_OK)
        fail_msg("update: %s", st.message);

    /* move, copy, delete to trash, delete permanently */
    c = change(OUTPOST_J_ITEM_MOVE, OUTPOST_ITEM_MAIL);
    c.remote_id = m2;
    c.folder_remote_id = folder_id(&f, "Inbox");
    c.target_remote_id = folder_id(&f, "Inbox/Projekte");
    assert_int_equal(M->write(f.t, &c, &res).code, OUTPOST_OK);
    assert_non_null(res.remote_id);
    assert_string_not_equal(res.remote_id, m2);
    char *moved = strdup(res.remote_id);
    c = change(OUTPOST_J_ITEM_COPY, OUTPOST_ITEM_MAIL);
    c.remote_id = m3;
    c.target_remote_id = folder_id(&f, "Sent Items");
    assert_int_equal(M->write(f.t, &c, &res).code, OUTPOST_OK);
    char *copied = strdup(res.remote_id);
    c = change(OUTPOST_J_ITEM_DELETE, OUTPOST_ITEM_MAIL);
    c.remote_id = m4;
    assert_int_equal(M->write(f.t, &c, &res).code, OUTPOST_OK);
    c = change(OUTPOST_J_ITEM_DELETE, OUTPOST_ITEM_TASK);
    c.remote_id = task;
    c.flags = OUTPOST_J_PERMANENT;
    assert_int_equal(M->write(f.t, &c, &res).code, OUTPOST_OK);

    /* folders */
    c = change(OUTPOST_J_FOLDER_CREATE, OUTPOST_ITEM_MAIL);
    c.folder_remote_id = folder_id(&f, "Inbox");
    c.name = "Offline – Ordner";
    assert_int_equal(M->write(f.t, &c, &res).code, OUTPOST_OK);
    char *nf = strdup(res.remote_id);
    c = change(OUTPOST_J_FOLDER_RENAME, OUTPOST_ITEM_MAIL);
    c.remote_id = nf;
    c.folder_remote_id = folder_id(&f, "Inbox");
    c.name = "Offline – umbenannt";
    assert_int_equal(M->write(f.t, &c, &res).code, OUTPOST_OK);
    c = change(OUTPOST_J_FOLDER_SUBSCRIBE, OUTPOST_ITEM_MAIL);
    c.remote_id = nf;
    assert_int_equal(M->write(f.t, &c, &res).code, OUTPOST_OK);
    c = change(OUTPOST_J_FOLDER_DELETE, OUTPOST_ITEM_MAIL);
    c.remote_id = nf;
    assert_int_equal(M->write(f.t, &c, &res).code, OUTPOST_OK);

    /* every change visible in the state, each applied exactly once */
    static const char *const once[] = {"item.flags", "item.update", "item.move", "item.copy", "item.trash", "item.delete",
                                       "folder.create", "folder.rename", "folder.delete"};
    for (size_t i = 0; i < sizeof once / sizeof *once; i++)
        if (mutations(&f, once[i]) != 1)
            fail_msg("%s applied %ld times", once[i], mutations(&f, once[i]));
    assert_int_equal(mutations(&f, "item.create"), 5);
    state = ctl(&f, "state", NULL);
    json_t *si = state_item(state, mail_id);
    assert_true(json_is_true(json_object_get(json_object_get(si, "flags"), "read")));
    assert_true(json_is_true(json_object_get(json_object_get(si, "flags"), "flagged")));
    assert_int_equal(json_integer_value(json_object_get(si, "lastVerb")), 102);
    si = state_item(state, draft);
    assert_int_equal(json_integer_value(json_object_get(si, "size")), (json_int_t)strlen(mime_msg)); /* raw MIME kept */
    assert_string_equal(json_string_value(json_object_get(si, "messageId")), "<offline-1@outpost.example>");
    assert_true(json_is_true(json_object_get(json_object_get(si, "flags"), "draft")));
    si = state_item(state, ev);
    assert_string_equal(json_string_value(json_object_get(si, "subject")), "Planung Q3 (verschoben)");
    assert_string_equal(json_string_value(json_object_get(si, "uid")), "offline-ev-1@outpost");
    assert_null(json_object_get(json_object_get(si, "props"), "recurrence")); /* removed by the update */
    si = state_item(state, con);
    json_t *props = json_object_get(si, "props");
    assert_string_equal(json_string_value(json_object_get(props, "surname")), "Müller");
    assert_string_equal(json_string_value(json_object_get(props, "company")), "Example, Inc.");
    assert_string_equal(json_string_value(json_array_get(json_object_get(props, "emails"), 0)), "zoe@example.org");
    assert_string_equal(json_string_value(json_object_get(json_object_get(props, "phones"), "mobile")), "+49 170 1234567");
    assert_null(state_item(state, task));
    si = state_item(state, note);
    assert_string_equal(json_string_value(json_object_get(json_object_get(si, "props"), "itemClass")), "IPM.StickyNote");
    assert_non_null(state_item(state, moved));
    assert_null(state_item(state, m2));
    assert_non_null(state_item(state, copied));
    assert_non_null(state_item(state, m3));
    assert_null(state_item(state, m4));
    json_t *trash = ctl(&f, "state?content=0&folder=Deleted%20Items", NULL);
    assert_int_equal(json_array_size(json_object_get(state_folder(trash, "Deleted Items"), "items")),
                     json_array_size(json_object_get(state_folder(state, "Deleted Items"), "items")));
    assert_int_equal(json_array_size(json_object_get(trash, "folders")), 1);
    json_decref(trash);
    json_decref(state);

    /* find: the duplicate check on replay */
    assert_int_equal(M->find(f.t, folder_id(&f, "Drafts"), OUTPOST_ITEM_MAIL, "<offline-1@outpost.example>", &res).code, OUTPOST_OK);
    assert_string_equal(res.remote_id, draft);
    assert_int_equal(M->find(f.t, folder_id(&f, "Calendar"), OUTPOST_ITEM_EVENT, "offline-ev-1@outpost", &res).code, OUTPOST_OK);
    assert_string_equal(res.remote_id, ev);
    assert_int_equal(M->find(f.t, folder_id(&f, "Contacts"), OUTPOST_ITEM_CONTACT, "offline-c-1@outpost", &res).code, OUTPOST_OK);
    assert_string_equal(res.remote_id, con);
    assert_int_equal(M->find(f.t, folder_id(&f, "Drafts"), OUTPOST_ITEM_MAIL, "<never@seen>", &res).code, OUTPOST_GONE);

    char *all[] = {mail_id, mail_ck, m2, m3, m4, draft, ev, ev_ck, con, task, note, moved, copied, nf};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        free(all[i]);
    teardown_fx(&f);
}

static void test_conflicts(void **unused)
{
    (void)unused;
    struct fx f;
    setup_fx(&f, NULL, NULL);
    char *ck = NULL;
    char *ev = do_create(&f, OUTPOST_ITEM_EVENT, "Calendar", ical_event, "offline-ev-1@outpost", 0, &ck);
    /* someone else edits the event on the server */
    json_decref(ctl(&f, "items/set", json_pack("{s:s, s:{s:s}}", "id", ev, "item", "subject", "Changed elsewhere")));
    struct mem_reader mr;
    outpost_change c = change(OUTPOST_J_ITEM_UPDATE, OUTPOST_ITEM_EVENT);
    c.remote_id = ev;
    c.remote_version = ck;
    c.content = mem_reader(&mr, ical_event2);
    outpost_change_result res = {sizeof res, 0, NULL, NULL};
    outpost_status st = M->write(f.t, &c, &res);
    assert_int_equal(st.code, OUTPOST_CONFLICT);
    assert_non_null(strstr(st.message, "ErrorIrresolvableConflict"));
    assert_int_equal(mutations(&f, "item.update"), 0);
    json_t *state = ctl(&f, "state", NULL);
    assert_string_equal(json_string_value(json_object_get(state_item(state, ev), "subject")), "Changed elsewhere");
    json_decref(state);
    /* a stale key on flags after a server-side content change */
    json_t *st2 = ctl(&f, "state?content=0&folder=Inbox", NULL);
    json_t *it = json_array_get(json_object_get(json_array_get(json_object_get(st2, "folders"), 0), "items"), 0);
    char *mid = strdup(json_string_value(json_object_get(it, "id")));
    char *mck = strdup(json_string_value(json_object_get(it, "changeKey")));
    json_decref(st2);
    json_decref(ctl(&f, "items/set", json_pack("{s:s, s:{s:s}}", "id", mid, "item", "subject", "Server edit")));
    c = change(OUTPOST_J_ITEM_FLAGS, OUTPOST_ITEM_MAIL);
    c.remote_id = mid;
    c.remote_version = mck;
    c.flags = OUTPOST_FLAG_SEEN;
    assert_int_equal(M->write(f.t, &c, &res).code, OUTPOST_CONFLICT);
    assert_int_equal(mutations(&f, "item.flags"), 0);
    /* missing object */
    c = change(OUTPOST_J_ITEM_DELETE, OUTPOST_ITEM_MAIL);
    c.remote_id = mid;
    assert_int_equal(M->write(f.t, &c, &res).code, OUTPOST_OK);
    assert_int_equal(M->write(f.t, &c, &res).code, OUTPOST_GONE);
    /* a message's content replaced: a new item replaces the old one; stale → CONFLICT */
    char *dck = NULL;
    char *draft = do_create(&f, OUTPOST_ITEM_MAIL, "Drafts", mime_msg, NULL, OUTPOST_FLAG_DRAFT, &dck);
    static const char edited[] = "Subject: Offline draft v2\r\nMessage-ID: <offline-2@outpost.example>\r\n\r\nv2\r\n";
    c = change(OUTPOST_J_ITEM_UPDATE, OUTPOST_ITEM_MAIL);
    c.remote_id = draft;
    c.remote_version = "c3RhbGU=";
    c.folder_remote_id = folder_id(&f, "Drafts");
    c.content = mem_reader(&mr, edited);
    assert_int_equal(M->write(f.t, &c, &res).code, OUTPOST_CONFLICT);
    c.remote_version = dck;
    c.content = mem_reader(&mr, edited);
    st = M->write(f.t, &c, &res);
    if (st.code != OUTPOST_OK)
        fail_msg("mail update: %s", st.message);
    assert_string_not_equal(res.remote_id, draft);
    state = ctl(&f, "state", NULL);
    assert_null(state_item(state, draft));
    json_t *v2 = state_item(state, res.remote_id);
    assert_non_null(v2);
    assert_int_equal(json_integer_value(json_object_get(v2, "size")), (json_int_t)strlen(edited));
    json_decref(state);
    free(draft);
    free(dck);
    free(mid);
    free(mck);
    free(ev);
    free(ck);
    teardown_fx(&f);
}

/* ---- faults ---- */

static void arm(struct fx *f, json_t *spec)
{
    json_decref(ctl(f, "faults", spec));
}

static void expect_sync_fault(struct fx *f, json_t *spec, int cls, uint32_t retry)
{
    rec_clear(&f->rec);
    free(f->rec.state);
    f->rec.state = NULL;
    json_incref(spec);
    arm(f, spec);
    outpost_status st = sync_folder(f, "Inbox", OUTPOST_ITEM_MAIL, OUTPOST_SYNC_WANT_CONTENT | OUTPOST_SYNC_INITIAL);
    if (st.code != cls)
        fail_msg("%s on %s: expected %s, got %s: %s", json_string_value(json_object_get(spec, "kind")),
                 json_string_value(json_object_get(spec, "method")), outpost_status_class_name(cls),
                 outpost_status_class_name(st.code), st.message ? st.message : "");
    if (retry)
        assert_int_equal(st.retry_after_ms, retry);
    /* nothing of the failed reply reached the sink */
    assert_int_equal(json_array_size(f->rec.events), 0);
    assert_int_equal(json_array_size(f->rec.pending), 0);
    assert_int_equal(f->rec.commits, 0);
    json_decref(spec);
    json_decref(ctl(f, "faults/clear", json_object()));
}

static void test_faults(void **unused)
{
    (void)unused;
    struct fx f;
    setup_fx(&f, NULL, NULL);
    expect_sync_fault(&f, json_pack("{s:s, s:s, s:i}", "kind", "busy", "method", "SyncFolderItems", "backoff_ms", 7000),
                      OUTPOST_THROTTLED, 7000);
    expect_sync_fault(&f, json_pack("{s:s, s:s, s:s, s:i}", "kind", "busy", "method", "SyncFolderItems", "form", "message",
                                    "backoff_ms", 3000), OUTPOST_THROTTLED, 3000);
    expect_sync_fault(&f, json_pack("{s:s, s:s, s:i}", "kind", "busy", "method", "GetItem", "backoff_ms", 1500),
                      OUTPOST_THROTTLED, 1500);
    expect_sync_fault(&f, json_pack("{s:s}", "kind", "invalid_sync_state"), OUTPOST_STATE_INVALID, 0);
    expect_sync_fault(&f, json_pack("{s:s, s:s}", "kind", "http401", "method", "SyncFolderItems"), OUTPOST_AUTH, 0);
    expect_sync_fault(&f, json_pack("{s:s, s:s}", "kind", "http500", "method", "GetItem"), OUTPOST_TEMP, 0);
    /* 503 with Retry-After: the server asks us to wait */
    expect_sync_fault(&f, json_pack("{s:s, s:s}", "kind", "http503", "method", "SyncFolderItems"), OUTPOST_THROTTLED, 2000);
    expect_sync_fault(&f, json_pack("{s:s, s:s, s:i}", "kind", "drop_before", "method", "GetItem", "count", 3), OUTPOST_TEMP, 0);
    expect_sync_fault(&f, json_pack("{s:s, s:s}", "kind", "drop", "method", "GetItem"), OUTPOST_TEMP, 0);
    expect_sync_fault(&f, json_pack("{s:s, s:s}", "kind", "malformed", "method", "GetItem"), OUTPOST_BAD_DATA, 0);
    expect_sync_fault(&f, json_pack("{s:s, s:s}", "kind", "malformed", "method", "SyncFolderItems"), OUTPOST_BAD_DATA, 0);
    expect_sync_fault(&f, json_pack("{s:s, s:s, s:s}", "kind", "error", "method", "GetItem", "code", "ErrorMailboxStoreUnavailable"),
                      OUTPOST_TEMP, 0);
    /* a back-off within busy_wait is waited for and the request sent again: the listing's
     * fault and the GetItem batch's busy messages */
    rec_clear(&f.rec);
    free(f.rec.state);
    f.rec.state = NULL;
    arm(&f, json_pack("{s:s, s:s, s:i}", "kind", "busy", "method", "SyncFolderItems", "backoff_ms", 200));
    arm(&f, json_pack("{s:s, s:s, s:s, s:i}", "kind", "busy", "method", "GetItem", "form", "message", "backoff_ms", 200));
    outpost_status bst = sync_folder(&f, "Inbox", OUTPOST_ITEM_MAIL, OUTPOST_SYNC_WANT_CONTENT);
    if (bst.code != OUTPOST_OK)
        fail_msg("sync with a busy server: %s", bst.message);
    json_t *bstate = ctl(&f, "state?content=0&folder=Inbox", NULL);
    assert_int_equal(rec_count(&f.rec, "item", OUTPOST_CHANGE_ADD),
                     json_array_size(json_object_get(json_array_get(json_object_get(bstate, "folders"), 0), "items")));
    json_decref(bstate);
    json_decref(ctl(&f, "faults/clear", json_object()));
    /* a fault on the second page: the first page stays committed, nothing of the second */
    rec_clear(&f.rec);
    free(f.rec.state);
    f.rec.state = NULL;
    arm(&f, json_pack("{s:s, s:s, s:i}", "kind", "malformed", "method", "GetItem", "skip", 1));
    outpost_status st = sync_folder(&f, "Inbox", OUTPOST_ITEM_MAIL, OUTPOST_SYNC_WANT_CONTENT);
    assert_int_equal(st.code, OUTPOST_BAD_DATA);
    assert_int_equal(f.rec.commits, 1);
    assert_int_equal(json_array_size(f.rec.events), 7);
    assert_int_equal(json_array_size(f.rec.pending), 0);
    json_decref(ctl(&f, "faults/clear", json_object()));
    /* resuming from the committed state lists the rest exactly once */
    st = sync_folder(&f, "Inbox", OUTPOST_ITEM_MAIL, OUTPOST_SYNC_WANT_CONTENT);
    assert_int_equal(st.code, OUTPOST_OK);
    json_t *state = ctl(&f, "state?content=0&folder=Inbox", NULL);
    size_t count = json_array_size(json_object_get(json_array_get(json_object_get(state, "folders"), 0), "items"));
    json_decref(state);
    assert_int_equal(rec_count(&f.rec, "item", OUTPOST_CHANGE_ADD), count);
    json_t *ids = json_object(), *e;
    size_t i;
    json_array_foreach(f.rec.events, i, e) json_object_set_new(ids, json_string_value(json_object_get(e, "id")), json_true());
    assert_int_equal(json_object_size(ids), count);
    json_decref(ids);

    /* a write whose reply is lost was applied: find recognises it on replay */
    arm(&f, json_pack("{s:s, s:s}", "kind", "drop", "method", "CreateItem"));
    struct mem_reader mr;
    outpost_change c = change(OUTPOST_J_ITEM_CREATE, OUTPOST_ITEM_MAIL);
    c.folder_remote_id = folder_id(&f, "Drafts");
    c.content = mem_reader(&mr, mime_msg);
    outpost_change_result res = {sizeof res, 0, NULL, NULL};
    assert_int_equal(M->write(f.t, &c, &res).code, OUTPOST_TEMP);
    assert_int_equal(mutations(&f, "item.create"), 1);
    assert_int_equal(M->find(f.t, folder_id(&f, "Drafts"), OUTPOST_ITEM_MAIL, "<offline-1@outpost.example>", &res).code, OUTPOST_OK);
    /* a write refused before it ran changes nothing */
    arm(&f, json_pack("{s:s, s:s}", "kind", "http500", "method", "CreateItem"));
    c.content = mem_reader(&mr, mime_msg);
    assert_int_equal(M->write(f.t, &c, &res).code, OUTPOST_TEMP);
    assert_int_equal(mutations(&f, "item.create"), 1);
    arm(&f, json_pack("{s:s, s:s, s:i}", "kind", "busy", "method", "CreateItem", "backoff_ms", 2500));
    st = M->write(f.t, &c, &res);
    assert_int_equal(st.code, OUTPOST_THROTTLED);
    assert_int_equal(st.retry_after_ms, 2500);
    assert_int_equal(mutations(&f, "item.create"), 1);
    /* the hierarchy too */
    rec_clear(&f.rec);
    arm(&f, json_pack("{s:s, s:s}", "kind", "malformed", "method", "SyncFolderHierarchy"));
    assert_int_equal(M->sync_hierarchy(f.t, NULL, 0, &f.rec.sink).code, OUTPOST_BAD_DATA);
    assert_int_equal(json_array_size(f.rec.pending) + json_array_size(f.rec.events), 0);
    arm(&f, json_pack("{s:s, s:s}", "kind", "invalid_sync_state", "method", "SyncFolderHierarchy"));
    assert_int_equal(M->sync_hierarchy(f.t, NULL, 0, &f.rec.sink).code, OUTPOST_STATE_INVALID);
    /* an expired sync state */
    rec_clear(&f.rec);
    free(f.rec.state);
    f.rec.state = NULL;
    assert_int_equal(sync_folder(&f, "Notes", OUTPOST_ITEM_NOTE, 0).code, OUTPOST_OK);
    json_decref(ctl(&f, "syncstates/expire", json_object()));
    rec_clear(&f.rec);
    assert_int_equal(sync_folder(&f, "Notes", OUTPOST_ITEM_NOTE, 0).code, OUTPOST_STATE_INVALID);
    teardown_fx(&f);
}

/* ---- authentication, autodiscover, TLS ---- */

static void test_auth_autodiscover_tls(void **unused)
{
    (void)unused;
    struct fx f;
    const char *extra[] = {"--token", "tok-123", NULL};
    memset(&f, 0, sizeof f);
    start_sim(&f, extra);
    char ad[400];
    snprintf(ad, sizeof ad, "%s/autodiscover/autodiscover.xml", f.sim.url);

    /* bearer token and autodiscover from the e-mail address */
    f.th = test_host_new("account", workdir, NULL);
    test_host_set(f.th, "email", "jdoe@example.com");
    test_host_set(f.th, "autodiscover_url", ad);
    test_host_set(f.th, "auth", "bearer");
    test_host_set_secret(f.th, "token", "tok-123");
    test_host_set(f.th, "ca_file", ca);
    outpost_status st = open_plugin(&f);
    if (st.code != OUTPOST_OK)
        fail_msg("open with bearer: %s", st.message);
    assert_true(test_host_logged(f.th, "/EWS/Exchange.asmx"));
    rec_init(&f.rec);
    assert_int_equal(M->sync_hierarchy(f.t, NULL, 0, &f.rec.sink).code, OUTPOST_OK);
    assert_int_equal(rec_count(&f.rec, "folder", OUTPOST_CHANGE_ADD), 13);
    M->destroy(f.t);
    f.t = NULL;

    /* a refused token: asked once more (expiry), then AUTH */
    test_host_set_secret(f.th, "token", "wrong");
    test_host_reset_secret_calls(f.th);
    st = open_plugin(&f);
    assert_int_equal(st.code, OUTPOST_AUTH);
    assert_true(test_host_secret_calls(f.th) >= 2);
    M->destroy(f.t);
    f.t = NULL;

    /* Basic with a wrong password */
    test_host_set(f.th, "auth", "basic");
    test_host_set(f.th, "url", f.ews);
    test_host_set_secret(f.th, "password", "wrong");
    st = open_plugin(&f);
    assert_int_equal(st.code, OUTPOST_AUTH);
    assert_null(strstr(st.message, "wrong"));
    M->destroy(f.t);
    f.t = NULL;

    /* TLS: the system store does not know the test CA; insecure warns */
    test_host_set_secret(f.th, "password", "secret");
    test_host_set(f.th, "ca_file", NULL);
    st = open_plugin(&f);
    assert_int_equal(st.code, OUTPOST_FATAL);
    assert_non_null(strstr(st.message, "ca_file"));
    M->destroy(f.t);
    f.t = NULL;
    test_host_set(f.th, "insecure", "true");
    assert_int_equal(open_plugin(&f).code, OUTPOST_OK);
    assert_true(test_host_logged(f.th, "insecure"));
    M->destroy(f.t);
    f.t = NULL;

    /* autodiscover for an unknown address */
    test_host_set(f.th, "insecure", NULL);
    test_host_set(f.th, "ca_file", ca);
    test_host_set(f.th, "url", NULL);
    test_host_set(f.th, "email", "nobody@example.com");
    test_host_set(f.th, "user", "jdoe@example.com");
    st = open_plugin(&f);
    assert_int_equal(st.code, OUTPOST_FATAL);
    teardown_fx(&f);
}

/* Certificates that fail verification fail it every time: FATAL, in libcurl's words (what is
 * wrong with the certificate), naming ca_file; so does a server that does not answer in TLS
 * at all (naming url). A handshake broken off is a network failure (TEMP). */
static void test_tls_failures(void **unused)
{
    (void)unused;
    const struct {
        const char *crt, *key, *ca_file, *says;
    } cases[] = {
        {"wrong-selfsigned.pem", "wrong-selfsigned.key", NULL, "certificate problem"},
        {"wrong-host.pem", "wrong-host.key", NULL, "host name"},
        {"server.pem", "server.key", "/nonexistent/ca.pem", "/nonexistent/ca.pem"},
    };
    for (size_t n = 0; n < sizeof cases / sizeof cases[0]; n++) {
        struct fx f;
        memset(&f, 0, sizeof f);
        char crt[700], crt_key[700];
        snprintf(crt, sizeof crt, "%s/%s", certs, cases[n].crt);
        snprintf(crt_key, sizeof crt_key, "%s/%s", certs, cases[n].key);
        start_sim_cert(&f, NULL, crt, crt_key);
        f.th = test_host_new("account", workdir, NULL);
        test_host_set(f.th, "url", f.ews);
        test_host_set(f.th, "user", "jdoe@example.com");
        test_host_set_secret(f.th, "password", "secret");
        test_host_set(f.th, "ca_file", cases[n].ca_file ? cases[n].ca_file : ca);
        outpost_status st = open_plugin(&f);
        if (st.code != OUTPOST_FATAL || !strstr(st.message, cases[n].says))
            fprintf(stderr, "%s: %s (%s)\n", cases[n].crt, outpost_status_class_name(st.code), st.message);
        assert_int_equal(st.code, OUTPOST_FATAL);
        assert_non_null(strstr(st.message, "TLS verification"));
        assert_non_null(strstr(st.message, cases[n].says));
        assert_non_null(strstr(st.message, "ca_file"));
        assert_null(strstr(st.message, "secret"));
        teardown_fx(&f);
    }
    const struct {
        const char *answer;
        int want;
        const char *says;
    } raw[] = {
        {RAW_LISTENER_HTTP_400, OUTPOST_FATAL, "does not answer in TLS"},
        {NULL, OUTPOST_TEMP, "cannot reach"},
    };
    for (size_t n = 0; n < sizeof raw / sizeof raw[0]; n++) {
        struct raw_listener l;
        assert_int_equal(raw_listener_start(&l, raw[n].answer), 0);
        struct fx f;
        memset(&f, 0, sizeof f);
        char url[128];
        snprintf(url, sizeof url, "%s/EWS/Exchange.asmx", l.url);
        f.th = test_host_new("account", workdir, NULL);
        test_host_set(f.th, "url", url);
        test_host_set(f.th, "user", "jdoe@example.com");
        test_host_set_secret(f.th, "password", "secret");
        test_host_set(f.th, "ca_file", ca);
        outpost_status st = open_plugin(&f);
        if (st.code != raw[n].want || !strstr(st.message, raw[n].says))
            fprintf(stderr, "listener %zu: %s (%s)\n", n, outpost_status_class_name(st.code), st.message);
        assert_int_equal(st.code, raw[n].want);
        assert_non_null(strstr(st.message, raw[n].says));
        raw_listener_stop(&l);
        teardown_fx(&f);
    }
}

static int stop_sims(void **unused)
{
    (void)unused;
    sim_stop_all();
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s PLUGIN.so SIM GEN-CERTS WORKDIR\n", argv[0]);
        return 2;
    }
    plugin_path = argv[1];
    sim_bin = argv[2];
    gen_certs = argv[3];
    workdir = argv[4];
    snprintf(certs, sizeof certs, "%s/certs", workdir);
    if (sim_gen_certs(gen_certs, certs) != 0)
        return 1;
    snprintf(ca, sizeof ca, "%s/ca.pem", certs);
    snprintf(cert, sizeof cert, "%s/server.pem", certs);
    snprintf(key, sizeof key, "%s/server.key", certs);
    struct test_host *th = test_host_new("account", workdir, NULL);
    static outpost_loaded_plugin *p; /* static: still reachable for leak checks at exit */
    p = th ? test_plugin_load(plugin_path, OUTPOST_KIND_TRANSPORT, test_host_table(th)) : NULL;
    if (!p || strcmp(p->desc->name, "ews") != 0) {
        fprintf(stderr, "%s is not the EWS transport\n", plugin_path);
        return 1;
    }
    plugin = p->desc;
    M = p->methods;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_hierarchy, stop_sims),
        cmocka_unit_test_teardown(test_listing_every_kind, stop_sims),
        cmocka_unit_test_teardown(test_listing_without_content_and_fetch, stop_sims),
        cmocka_unit_test_teardown(test_large_message_streams_in_chunks, stop_sims),
        cmocka_unit_test_teardown(test_large_append_bounded_memory, stop_sims),
        cmocka_unit_test_teardown(test_server_changes_incremental, stop_sims),
        cmocka_unit_test_teardown(test_wait_changes, stop_sims),
        cmocka_unit_test_teardown(test_busy_open_and_wait, stop_sims),
        cmocka_unit_test_teardown(test_write_back_every_kind, stop_sims),
        cmocka_unit_test_teardown(test_conflicts, stop_sims),
        cmocka_unit_test_teardown(test_faults, stop_sims),
        cmocka_unit_test_teardown(test_auth_autodiscover_tls, stop_sims),
        cmocka_unit_test_teardown(test_tls_failures, stop_sims),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (plugin->module_fini)
        plugin->module_fini();
    curl_global_cleanup();
    /* p stays loaded: leak reports then name the plugin's functions */
    test_host_free(th);
    return rc;
}
