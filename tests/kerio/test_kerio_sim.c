/* test_kerio_sim.c — integration tests of outpost-transport-kerio.so against the Kerio
 * simulator, through the plugin's method table (opened by the core's loader) with the test
 * host and a recording sink: every item of every kind listed and converted; incremental sync
 * after each kind of server-side change; every write-back kind visible in the simulator's
 * state dump; each fault mode mapped to its status class without handing half a page to the
 * sink; TLS failures (unknown CA, wrong host name) and insecure mode; refused credentials.
 *
 * usage: test_kerio_sim PLUGIN.so SIM-BINARY GEN-CERTS.sh WORKDIR */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <gmime/gmime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <outpost/abi.h>
#include <outpost/storage.h>
#include <outpost/transport.h>

#include "loader.h"
#include "sim_proc.h"
#include "test_host.h"
#include "mem_reader.h"
#include "recording_sink.h"

static const char *plugin_path, *sim_bin, *gen_certs, *workdir;
static char certdir[1024], ca_pem[1100];
static const struct outpost_plugin *desc;
static const struct outpost_transport_methods *tm;

/* ---- fixtures ---- */

struct fx {
    struct sim_proc sim;
    struct test_host *th;
    struct outpost_transport *t;
    json_t *info;          /* /_sim/info */
};

static const char *cert(const char *name)
{
    static char buf[8][1200];
    static int slot;
    char *b = buf[slot++ % 8];
    snprintf(b, 1200, "%s/%s", certdir, name);
    return b;
}

static int start_sim_args(struct fx *f, const char *crt, const char *key, const char *extra1, const char *extra2)
{
    memset(f, 0, sizeof *f);
    const char *args[] = { "--cert", crt, "--key", key, "--messages", "24", "--events", "10", "--contacts", "6",
                           "--tasks", "4", "--notes", "3", "--seed", "7", "--quiet", extra1, extra2, NULL };
    if (sim_start(&f->sim, sim_bin, args, ca_pem) != 0)
        return -1;
    f->info = sim_ctl(&f->sim, "info", NULL);
    f->th = test_host_new("account", workdir, NULL);
    test_host_set(f->th, "url", f->sim.url);
    test_host_set(f->th, "user", "jdoe");
    test_host_set(f->th, "ca_file", ca_pem);
    test_host_set(f->th, "page_size", "7");
    test_host_set_secret(f->th, "password", "secret");
    return f->info ? 0 : -1;
}

static int start_sim_with(struct fx *f, const char *crt, const char *key)
{
    return start_sim_args(f, crt, key, NULL, NULL);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (start_sim_with(f, cert("server.pem"), cert("server.key")) != 0)
        return -1;
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
    json_decref(f->info);
    /* Whatever happened, the password never reached a log line. */
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

static const char *folder_id(struct fx *f, const char *path)
{
    const char *id = json_string_value(json_object_get(json_object_get(f->info, "folders"), path));
    assert_non_null(id);
    return id;
}

static outpost_folder folder_of(const char *id, uint32_t kind)
{
    outpost_folder of;
    memset(&of, 0, sizeof of);
    of.struct_size = sizeof of;
    of.kind = kind;
    of.remote_id = id;
    of.name = id;
    return of;
}

/* Items the simulator holds in a folder (state dump). New reference. */
static json_t *dump_items(struct fx *f, const char *fid)
{
    char *esc = curl_easy_escape(NULL, fid, 0);
    char path[1024];
    snprintf(path, sizeof path, "state?content=0&folder=%s", esc);
    curl_free(esc);
    json_t *s = sim_ctl(&f->sim, path, NULL);
    assert_non_null(s);
    json_t *items = json_incref(json_object_get(json_array_get(json_object_get(s, "folders"), 0), "items"));
    json_decref(s);
    assert_non_null(items);
    return items;
}

static const json_t *dump_find(const json_t *items, const char *id)
{
    size_t i;
    const json_t *o;
    json_array_foreach(items, i, o) if (strcmp(json_string_value(json_object_get(o, "id")), id) == 0) return o;
    return NULL;
}

static outpost_status sync_folder(struct fx *f, const char *fid, uint32_t kind, struct rec *r, uint32_t flags)
{
    outpost_folder of = folder_of(fid, kind);
    return tm->sync_folder(f->t, &of, r->state, r->state_len, 0, flags, &r->sink);
}

static void sync_ok(struct fx *f, const char *fid, uint32_t kind, struct rec *r)
{
    outpost_status st = sync_folder(f, fid, kind, r, OUTPOST_SYNC_WANT_CONTENT);
    if (st.code != OUTPOST_OK)
        fprintf(stderr, "sync_folder: %s\n", st.message);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(json_array_size(r->pending), 0);
    assert_int_equal(r->protocol_errors, 0);
    assert_int_equal(r->size_mismatches, 0);
    assert_int_equal(r->progress_backwards, 0);
}

static json_t *arm(struct fx *f, const char *kind, const char *method, int count, int skip)
{
    json_t *spec = json_pack("{s:s, s:s, s:i, s:i}", "kind", kind, "method", method, "count", count, "skip", skip);
    return sim_ctl(&f->sim, "faults", spec);
}

static void clear_faults(struct fx *f)
{
    json_decref(sim_ctl(&f->sim, "faults/clear", json_object()));
}

/* ---- listing ---- */

static void check_content(uint32_t kind, const char *c)
{
    switch (kind) {
    case OUTPOST_ITEM_MAIL: {
        GMimeStream *s = g_mime_stream_mem_new_with_buffer(c, strlen(c));
        GMimeParser *p = g_mime_parser_new_with_stream(s);
        GMimeMessage *m = g_mime_parser_construct_message(p, NULL);
        assert_non_null(m);
        assert_non_null(strstr(c, "MIME-Version: 1.0\r\n"));
        g_object_unref(m);
        g_object_unref(p);
        g_object_unref(s);
        break;
    }
    case OUTPOST_ITEM_EVENT: assert_non_null(strstr(c, "BEGIN:VEVENT")); break;
    case OUTPOST_ITEM_TASK: assert_non_null(strstr(c, "BEGIN:VTODO")); break;
    case OUTPOST_ITEM_NOTE: assert_non_null(strstr(c, "BEGIN:VJOURNAL")); break;
    case OUTPOST_ITEM_CONTACT: assert_non_null(strstr(c, "BEGIN:VCARD\r\nVERSION:3.0")); break;
    }
}

static void test_list_every_kind(void **state)
{
    struct fx *f = *state;
    open_plugin(f);
    struct rec h;
    rec_init(&h);
    outpost_status st = tm->sync_hierarchy(f->t, NULL, 0, &h.sink);
    assert_int_equal(st.code, OUTPOST_OK);
    size_t nfolders = json_object_size(json_object_get(f->info, "folders")) - 1; /* minus the root */
    assert_int_equal(rec_count(&h, "folder", 0), nfolders);
    int kinds_seen[6] = { 0 };
    size_t i;
    const json_t *e;
    /* Parents before children. */
    json_array_foreach(h.events, i, e) {
        const char *parent = json_string_value(json_object_get(e, "parent"));
        if (!parent)
            continue;
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            seen |= strcmp(json_string_value(json_object_get(json_array_get(h.events, j), "id")), parent) == 0;
        assert_true(seen);
    }
    json_array_foreach(h.events, i, e) {
        const char *fid = json_string_value(json_object_get(e, "id"));
        uint32_t kind = (uint32_t)json_integer_value(json_object_get(e, "kind"));
        assert_true(kind >= 1 && kind <= 5);
        struct rec r;
        rec_init(&r);
        sync_ok(f, fid, kind, &r);
        json_t *items = dump_items(f, fid);
        assert_int_equal(rec_count(&r, "item", OUTPOST_CHANGE_ADD), json_array_size(items));
        assert_int_equal(r.progress_done, json_array_size(items));
        /* Pages of at most 7, each committed, the last state incremental. */
        assert_true(r.commits >= (int)(json_array_size(items) / 7) + 1);
        assert_non_null(r.state);
        assert_memory_equal(r.state, "S1 ", 3);
        size_t j;
        const json_t *x;
        json_array_foreach(r.events, j, x) {
            const char *id = json_string_value(json_object_get(x, "id"));
            assert_non_null(dump_find(items, id));
            const char *c = json_string_value(json_object_get(x, "content"));
            assert_non_null(c);
            check_content(kind, c);
            kinds_seen[kind]++;
        }
        json_decref(items);
        rec_free(&r);
    }
    for (int k = 1; k <= 5; k++)
        assert_true(kinds_seen[k] > 0);
    /* Hierarchy again: nothing changed, nothing reported. */
    struct rec h2;
    rec_init(&h2);
    assert_int_equal(tm->sync_hierarchy(f->t, h.state, h.state_len, &h2.sink).code, OUTPOST_OK);
    assert_int_equal(rec_count(&h2, "folder", 0), 0);
    rec_free(&h2);
    rec_free(&h);
}

static void test_mail_byte_identical_across_syncs(void **state)
{
    struct fx *f = *state;
    open_plugin(f);
    const char *inbox = folder_id(f, "Inbox");
    struct rec a, b;
    rec_init(&a);
    rec_init(&b);
    sync_ok(f, inbox, OUTPOST_ITEM_MAIL, &a);
    sync_ok(f, inbox, OUTPOST_ITEM_MAIL, &b);
    assert_int_equal(json_array_size(a.events), json_array_size(b.events));
    size_t i;
    const json_t *e;
    json_array_foreach(a.events, i, e) {
        const json_t *o = rec_find(&b, "item", OUTPOST_CHANGE_ADD, json_string_value(json_object_get(e, "id")));
        assert_non_null(o);
        assert_string_equal(json_string_value(json_object_get(e, "content")), json_string_value(json_object_get(o, "content")));
    }
    /* On-demand fetch gives the same bytes; a missing id fails alone. */
    const char *ids[3] = { json_string_value(json_object_get(json_array_get(a.events, 0), "id")),
                           "keriostorage://mail/example.com/jdoe/00000000-0000-0000-0000-000000000000/9",
                           json_string_value(json_object_get(json_array_get(a.events, 1), "id")) };
    struct rec fr;
    rec_init(&fr);
    outpost_folder of = folder_of(inbox, OUTPOST_ITEM_MAIL);
    assert_int_equal(tm->fetch(f->t, &of, ids, 3, &fr.sink).code, OUTPOST_OK);
    assert_int_equal(fr.protocol_errors, 0);
    assert_int_equal(fr.size_mismatches, 0);
    assert_int_equal(fr.progress_backwards, 0);
    assert_int_equal(rec_count(&fr, "item", OUTPOST_CHANGE_UPDATE), 2);
    const json_t *failed = rec_find(&fr, "failed", 0, NULL);
    assert_non_null(failed);
    assert_int_equal(json_integer_value(json_object_get(failed, "index")), 1);
    assert_int_equal(json_integer_value(json_object_get(failed, "status")), OUTPOST_GONE);
    for (int k = 0; k < 3; k += 2)
        assert_string_equal(json_string_value(json_object_get(rec_find(&fr, "item", OUTPOST_CHANGE_UPDATE, ids[k]), "content")),
                            json_string_value(json_object_get(rec_find(&a, "item", OUTPOST_CHANGE_ADD, ids[k]), "content")));
    rec_free(&fr);
    rec_free(&a);
    rec_free(&b);
}

/* Server-side deletions between two listing pages must not shift an item past the page
 * boundary unseen. */
struct delete_ctx {
    struct fx *f;
    int done;
};

static void delete_seen_items(struct rec *r, void *ctx)
{
    struct delete_ctx *d = ctx;
    if (d->done++)
        return;
    /* Remove three items of the page just committed. */
    for (size_t i = 0; i < 3 && i < json_array_size(r->events); i++) {
        const char *id = json_string_value(json_object_get(json_array_get(r->events, i), "id"));
        json_decref(sim_ctl(&d->f->sim, "items/remove", json_pack("{s:s}", "id", id)));
    }
}

static void test_listing_survives_deletions(void **state)
{
    struct fx *f = *state;
    open_plugin(f);
    const char *inbox = folder_id(f, "Inbox");
    json_t *before = dump_items(f, inbox);
    assert_true(json_array_size(before) > 10);
    struct rec r;
    rec_init(&r);
    struct delete_ctx d = { f, 0 };
    r.after_commit = delete_seen_items;
    r.after_commit_ctx = &d;
    sync_ok(f, inbox, OUTPOST_ITEM_MAIL, &r);
    size_t i;
    const json_t *o;
    json_array_foreach(before, i, o) assert_non_null(rec_find(&r, "item", OUTPOST_CHANGE_ADD, json_string_value(json_object_get(o, "id"))));
    json_decref(before);
    rec_free(&r);
}

/* ---- incremental ---- */

static const char *new_id(json_t *reply)
{
    assert_non_null(reply);
    static char buf[4][512];
    static int slot;
    char *b = buf[slot++ % 4];
    snprintf(b, 512, "%s", json_string_value(json_object_get(reply, "id")));
    json_decref(reply);
    return b;
}

static void test_incremental_mail(void **state)
{
    struct fx *f = *state;
    open_plugin(f);
    const char *inbox = folder_id(f, "Inbox"), *archive = folder_id(f, "Archive");
    struct rec r;
    rec_init(&r);
    sync_ok(f, inbox, OUTPOST_ITEM_MAIL, &r);
    json_t *items = dump_items(f, inbox);
    assert_true(json_array_size(items) >= 4);
    char seen_id[512], move_id[512], del_id[512];
    snprintf(seen_id, sizeof seen_id, "%s", json_string_value(json_object_get(json_array_get(items, 0), "id")));
    snprintf(move_id, sizeof move_id, "%s", json_string_value(json_object_get(json_array_get(items, 1), "id")));
    snprintf(del_id, sizeof del_id, "%s", json_string_value(json_object_get(json_array_get(items, 2), "id")));
    int was_seen = json_is_true(json_object_get(json_array_get(items, 0), "isSeen"));
    json_decref(items);

    /* Nothing changed: an empty round that still commits. */
    rec_clear(&r);
    sync_ok(f, inbox, OUTPOST_ITEM_MAIL, &r);
    assert_int_equal(json_array_size(r.events), 0);
    assert_true(r.commits >= 1);

    const char *added = new_id(sim_ctl(&f->sim, "items/create",
        json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s}, s:[{s:s, s:s}], s:[{s:s, s:s}]}}", "type", "mail", "folder", "Inbox",
                  "item", "subject", "Fresh from the server", "from", "name", "Eve", "address", "eve@example.org", "to",
                  "name", "", "address", "jdoe@example.com", "displayableParts", "contentType", "ctTextPlain", "content",
                  "hello there")));
    json_decref(sim_ctl(&f->sim, "items/set", json_pack("{s:s, s:{s:b}}", "id", seen_id, "item", "isSeen", !was_seen)));
    json_t *mv = sim_ctl(&f->sim, "items/move", json_pack("{s:s, s:s}", "id", move_id, "folder", "Archive"));
    const char *moved_to = new_id(mv);
    json_decref(sim_ctl(&f->sim, "items/remove", json_pack("{s:s}", "id", del_id)));

    rec_clear(&r);
    sync_ok(f, inbox, OUTPOST_ITEM_MAIL, &r);
    const json_t *e = rec_find(&r, "item", OUTPOST_CHANGE_ADD, added);
    assert_non_null(e);
    assert_non_null(strstr(json_string_value(json_object_get(e, "content")), "Fresh from the server"));
    e = rec_find(&r, "item", OUTPOST_CHANGE_FLAGS, seen_id);
    if (!e)
        e = rec_find(&r, "item", OUTPOST_CHANGE_UPDATE, seen_id);
    assert_non_null(e);
    assert_int_equal((json_integer_value(json_object_get(e, "flags")) & OUTPOST_FLAG_SEEN) != 0, !was_seen);
    e = rec_find(&r, "moved", 0, moved_to);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "old")), move_id);
    assert_string_equal(json_string_value(json_object_get(e, "to")), archive);
    assert_non_null(rec_find(&r, "item", OUTPOST_CHANGE_DELETE, del_id));
    rec_free(&r);
}

static void test_incremental_other_kinds(void **state)
{
    struct fx *f = *state;
    open_plugin(f);
    struct {
        const char *path, *type;
        uint32_t kind;
        const char *set_key, *set_value;
    } k[] = {
        { "Calendar", "event", OUTPOST_ITEM_EVENT, "summary", "Moved to the big room" },
        { "Contacts", "contact", OUTPOST_ITEM_CONTACT, "commonName", "Renamed Person" },
        { "Tasks", "task", OUTPOST_ITEM_TASK, "summary", "Do it today" },
        { "Notes", "note", OUTPOST_ITEM_NOTE, "text", "Changed note text" },
    };
    for (size_t n = 0; n < sizeof k / sizeof k[0]; n++) {
        const char *fid = folder_id(f, k[n].path);
        struct rec r;
        rec_init(&r);
        sync_ok(f, fid, k[n].kind, &r);
        json_t *items = dump_items(f, fid);
        assert_true(json_array_size(items) >= 2);
        char mod[512], del[512];
        snprintf(mod, sizeof mod, "%s", json_string_value(json_object_get(json_array_get(items, 0), "id")));
        snprintf(del, sizeof del, "%s", json_string_value(json_object_get(json_array_get(items, 1), "id")));
        json_decref(items);
        json_t *item = json_object();
        json_object_set_new(item, k[n].set_key, json_string(k[n].set_value));
        json_decref(sim_ctl(&f->sim, "items/set", json_pack("{s:s, s:o}", "id", mod, "item", item)));
        json_decref(sim_ctl(&f->sim, "items/remove", json_pack("{s:s}", "id", del)));
        json_t *created = json_object();
        if (k[n].kind == OUTPOST_ITEM_EVENT) {
            json_object_set_new(created, "summary", json_string("Brand new"));
            json_object_set_new(created, "start", json_string("20250610T090000Z"));
            json_object_set_new(created, "end", json_string("20250610T100000Z"));
        } else {
            json_object_set_new(created, k[n].set_key, json_string("Brand new"));
        }
        const char *added = new_id(sim_ctl(&f->sim, "items/create",
                                           json_pack("{s:s, s:s, s:o}", "type", k[n].type, "folder", k[n].path, "item", created)));
        rec_clear(&r);
        sync_ok(f, fid, k[n].kind, &r);
        const json_t *e = rec_find(&r, "item", OUTPOST_CHANGE_UPDATE, mod);
        assert_non_null(e);
        const char *c = json_string_value(json_object_get(e, "content"));
        assert_non_null(c);
        if (k[n].kind == OUTPOST_ITEM_NOTE)
            assert_non_null(strstr(c, "Changed note text"));
        else
            assert_non_null(strstr(c, k[n].set_value));
        assert_non_null(rec_find(&r, "item", OUTPOST_CHANGE_DELETE, del));
        e = rec_find(&r, "item", OUTPOST_CHANGE_ADD, added);
        assert_non_null(e);
        assert_non_null(strstr(json_string_value(json_object_get(e, "content")), "Brand new"));
        rec_free(&r);
    }
}

static void test_incremental_hierarchy_and_copies(void **state)
{
    struct fx *f = *state;
    open_plugin(f);
    struct rec h;
    rec_init(&h);
    assert_int_equal(tm->sync_hierarchy(f->t, NULL, 0, &h.sink).code, OUTPOST_OK);
    /* Server-side: a new folder, a renamed one, a removed one. */
    const char *created = new_id(sim_ctl(&f->sim, "folders/create",
                                         json_pack("{s:s, s:s, s:s}", "parent", "Inbox", "type", "FMail", "name", "Server made")));
    const char *renamed = folder_id(f, "Inbox/Newsletters");
    json_decref(sim_ctl(&f->sim, "folders/set", json_pack("{s:s, s:s}", "id", renamed, "name", "News (renamed)")));
    const char *removed = folder_id(f, "Archive/2023 — Архив");
    json_decref(sim_ctl(&f->sim, "folders/remove", json_pack("{s:s}", "id", removed)));
    struct rec h2;
    rec_init(&h2);
    assert_int_equal(tm->sync_hierarchy(f->t, h.state, h.state_len, &h2.sink).code, OUTPOST_OK);
    assert_int_equal(rec_count(&h2, "folder", 0), 3);
    size_t i;
    const json_t *e;
    int seen = 0;
    json_array_foreach(h2.events, i, e) {
        const char *id = json_string_value(json_object_get(e, "id"));
        json_int_t change = json_integer_value(json_object_get(e, "change"));
        if (!strcmp(id, created)) {
            assert_int_equal(change, OUTPOST_CHANGE_ADD);
            assert_string_equal(json_string_value(json_object_get(e, "name")), "Server made");
            assert_string_equal(json_string_value(json_object_get(e, "parent")), folder_id(f, "Inbox"));
            seen |= 1;
        } else if (!strcmp(id, renamed)) {
            assert_int_equal(change, OUTPOST_CHANGE_UPDATE);
            assert_string_equal(json_string_value(json_object_get(e, "name")), "News (renamed)");
            seen |= 2;
        } else if (!strcmp(id, removed)) {
            assert_int_equal(change, OUTPOST_CHANGE_DELETE);
            seen |= 4;
        }
    }
    assert_int_equal(seen, 7);
    rec_free(&h);
    rec_free(&h2);

    /* A copy arrives as a new item; an event moved between calendars as a move. */
    const char *inbox = folder_id(f, "Inbox"), *cal = folder_id(f, "Calendar");
    struct rec r, rc;
    rec_init(&r);
    rec_init(&rc);
    sync_ok(f, inbox, OUTPOST_ITEM_MAIL, &r);
    sync_ok(f, cal, OUTPOST_ITEM_EVENT, &rc);
    json_t *items = dump_items(f, folder_id(f, "Sent Items"));
    const char *copy = new_id(sim_ctl(&f->sim, "items/copy", json_pack("{s:s, s:s}", "id",
                                      json_string_value(json_object_get(json_array_get(items, 0), "id")), "folder", "Inbox")));
    json_decref(items);
    items = dump_items(f, cal);
    char ev[512];
    snprintf(ev, sizeof ev, "%s", json_string_value(json_object_get(json_array_get(items, 0), "id")));
    json_decref(items);
    const char *moved = new_id(sim_ctl(&f->sim, "items/move", json_pack("{s:s, s:s}", "id", ev, "folder", "Calendar/Família 🎉")));
    rec_clear(&r);
    sync_ok(f, inbox, OUTPOST_ITEM_MAIL, &r);
    assert_non_null(rec_find(&r, "item", OUTPOST_CHANGE_ADD, copy));
    rec_clear(&rc);
    sync_ok(f, cal, OUTPOST_ITEM_EVENT, &rc);
    e = rec_find(&rc, "moved", 0, moved);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "old")), ev);
    assert_string_equal(json_string_value(json_object_get(e, "to")), folder_id(f, "Calendar/Família 🎉"));
    rec_free(&r);
    rec_free(&rc);
}

static void test_change_cap_relists(void **state)
{
    struct fx *f = *state;
    test_host_set(f->th, "change_cap", "3");
    open_plugin(f);
    const char *fid = folder_id(f, "Notes");
    struct rec r;
    rec_init(&r);
    sync_ok(f, fid, OUTPOST_ITEM_NOTE, &r);
    for (int i = 0; i < 5; i++)
        json_decref(sim_ctl(&f->sim, "items/create", json_pack("{s:s, s:s, s:{s:s}}", "type", "note", "folder", "Notes",
                                                               "item", "text", "many changes")));
    rec_clear(&r);
    outpost_status st = sync_folder(f, fid, OUTPOST_ITEM_NOTE, &r, OUTPOST_SYNC_WANT_CONTENT);
    assert_int_equal(st.code, OUTPOST_STATE_INVALID);
    assert_non_null(strstr(st.message, "change_cap"));
    assert_int_equal(json_array_size(r.pending), 0);
    /* The engine resyncs: a fresh paged listing sees everything. */
    rec_free(&r);
    rec_init(&r);
    sync_ok(f, fid, OUTPOST_ITEM_NOTE, &r);
    json_t *items = dump_items(f, fid);
    assert_int_equal(rec_count(&r, "item", OUTPOST_CHANGE_ADD), json_array_size(items));
    json_decref(items);
    rec_free(&r);
}

/* ---- write-back ---- */

static outpost_change change_of(uint32_t op, uint32_t kind)
{
    outpost_change c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.op = op;
    c.kind = kind;
    return c;
}

static char *write_ok(struct fx *f, const outpost_change *c)
{
    outpost_change_result res;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    outpost_status st = tm->write(f->t, c, &res);
    if (st.code != OUTPOST_OK)
        fprintf(stderr, "write op %u: %s\n", c->op, st.message);
    assert_int_equal(st.code, OUTPOST_OK);
    return res.remote_id ? strdup(res.remote_id) : NULL;
}

static const char *draft_mime =
    "From: Jan Novak <jdoe@example.com>\r\n"
    "To: Bob <bob@example.org>\r\n"
    "Subject: Offline draft with attachment\r\n"
    "Message-ID: <offline-draft-1@outpost.test>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b\"\r\n"
    "\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nWritten on the plane.\r\n"
    "--b\r\nContent-Type: application/pdf; name=plan.pdf\r\nContent-Disposition: attachment; filename=plan.pdf\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcOkw7zDtsOfCg==\r\n--b--\r\n";

static void test_write_mail(void **state)
{
    struct fx *f = *state;
    open_plugin(f);
    const char *inbox = folder_id(f, "Inbox"), *archive = folder_id(f, "Archive"), *drafts = folder_id(f, "Drafts");
    const char *trash = folder_id(f, "Deleted Items");
    json_t *items = dump_items(f, inbox);
    char a[512], b[512], d[512];
    snprintf(a, sizeof a, "%s", json_string_value(json_object_get(json_array_get(items, 0), "id")));
    snprintf(b, sizeof b, "%s", json_string_value(json_object_get(json_array_get(items, 1), "id")));
    snprintf(d, sizeof d, "%s", json_string_value(json_object_get(json_array_get(items, 2), "id")));
    json_decref(items);

    /* Flags. */
    outpost_change c = change_of(OUTPOST_J_ITEM_FLAGS, OUTPOST_ITEM_MAIL);
    c.remote_id = a;
    c.folder_remote_id = inbox;
    c.flags = OUTPOST_FLAG_SEEN | OUTPOST_FLAG_FLAGGED;
    free(write_ok(f, &c));
    items = dump_items(f, inbox);
    const json_t *o = dump_find(items, a);
    assert_non_null(o);
    assert_true(json_is_true(json_object_get(o, "isSeen")));
    assert_true(json_is_true(json_object_get(o, "isFlagged")));
    json_decref(items);

    /* Move: a new id, in the target. */
    c = change_of(OUTPOST_J_ITEM_MOVE, OUTPOST_ITEM_MAIL);
    c.remote_id = a;
    c.folder_remote_id = inbox;
    c.target_remote_id = archive;
    char *moved = write_ok(f, &c);
    assert_non_null(moved);
    assert_string_not_equal(moved, a);
    items = dump_items(f, archive);
    assert_non_null(dump_find(items, moved));
    json_decref(items);
    free(moved);

    /* Copy: a new item in the target, the original stays. */
    c = change_of(OUTPOST_J_ITEM_COPY, OUTPOST_ITEM_MAIL);
    c.remote_id = b;
    c.folder_remote_id = inbox;
    c.target_remote_id = archive;
    char *copied = write_ok(f, &c);
    assert_non_null(copied);
    items = dump_items(f, archive);
    assert_non_null(dump_find(items, copied));
    json_decref(items);
    items = dump_items(f, inbox);
    assert_non_null(dump_find(items, b));
    json_decref(items);
    free(copied);

    /* Delete goes to Deleted Items by default... */
    json_t *before = dump_items(f, trash);
    size_t ntrash = json_array_size(before);
    json_decref(before);
    c = change_of(OUTPOST_J_ITEM_DELETE, OUTPOST_ITEM_MAIL);
    c.remote_id = b;
    c.folder_remote_id = inbox;
    free(write_ok(f, &c));
    items = dump_items(f, inbox);
    assert_null(dump_find(items, b));
    json_decref(items);
    items = dump_items(f, trash);
    assert_int_equal(json_array_size(items), ntrash + 1);
    json_decref(items);
    /* ...and is permanent only when asked. */
    c.remote_id = d;
    c.flags = OUTPOST_J_PERMANENT;
    free(write_ok(f, &c));
    items = dump_items(f, trash);
    assert_int_equal(json_array_size(items), ntrash + 1);
    json_decref(items);
    items = dump_items(f, inbox);
    assert_null(dump_find(items, d));
    json_decref(items);

    /* A new draft from MIME, attachment uploaded. */
    struct mem_reader mr;
    mem_reader(&mr, draft_mime);
    c = change_of(OUTPOST_J_ITEM_CREATE, OUTPOST_ITEM_MAIL);
    c.folder_remote_id = drafts;
    c.flags = OUTPOST_FLAG_DRAFT | OUTPOST_FLAG_SEEN;
    c.key = "<offline-draft-1@outpost.test>";
    c.content = &mr.r;
    /* the upload meets a bare HTTP 401 (a front end that ended the session): one new login */
    json_decref(arm(f, "http401", "upload", 1, 0));
    char *created = write_ok(f, &c);
    assert_non_null(created);
    clear_faults(f);
    json_t *s = sim_ctl(&f->sim, "state?folder=Drafts", NULL);
    const json_t *dl_items = json_object_get(json_array_get(json_object_get(s, "folders"), 0), "items");
    o = dump_find(dl_items, created);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "subject")), "Offline draft with attachment");
    assert_int_equal(json_array_size(json_object_get(o, "attachments")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(o, "attachments"), 0), "name")),
                        "plan.pdf");
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(o, "to"), 0), "address")),
                        "bob@example.org");
    json_decref(s);
    /* find recognises it by Message-ID (replay after a crash). */
    outpost_change_result res;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    assert_int_equal(tm->find(f->t, drafts, OUTPOST_ITEM_MAIL, "<offline-draft-1@outpost.test>", &res).code, OUTPOST_OK);
    assert_string_equal(res.remote_id, created);
    assert_int_equal(tm->find(f->t, drafts, OUTPOST_ITEM_MAIL, "<nope@outpost.test>", &res).code, OUTPOST_GONE);
    /* Synced back: the attachment downloads byte for byte. */
    struct rec r;
    rec_init(&r);
    sync_ok(f, drafts, OUTPOST_ITEM_MAIL, &r);
    const json_t *e = rec_find(&r, "item", OUTPOST_CHANGE_ADD, created);
    assert_non_null(e);
    const char *mime = json_string_value(json_object_get(e, "content"));
    assert_non_null(strstr(mime, "Subject: Offline draft with attachment"));
    assert_non_null(strstr(mime, "filename=plan.pdf"));
    assert_non_null(strstr(mime, "JVBERi0xLjQKJcOkw7zDtsOfCg=="));
    assert_non_null(strstr(mime, "Written on the plane."));
    rec_free(&r);
    /* Replacing a mail's content: a new mail, the old one gone. */
    struct mem_reader mr2;
    mem_reader(&mr2, "From: jdoe@example.com\r\nTo: bob@example.org\r\nSubject: Edited draft\r\n"
                          "Message-ID: <offline-draft-1@outpost.test>\r\n\r\nSecond version.\r\n");
    c = change_of(OUTPOST_J_ITEM_UPDATE, OUTPOST_ITEM_MAIL);
    c.remote_id = created;
    c.folder_remote_id = drafts;
    c.flags = OUTPOST_FLAG_DRAFT;
    c.content = &mr2.r;
    char *edited = write_ok(f, &c);
    assert_non_null(edited);
    items = dump_items(f, drafts);
    assert_null(dump_find(items, created));
    o = dump_find(items, edited);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "subject")), "Edited draft");
    json_decref(items);
    free(edited);
    free(created);
}

static void test_write_delete_permanent_config(void **state)
{
    struct fx *f = *state;
    test_host_set(f->th, "delete", "permanent");
    open_plugin(f);
    const char *inbox = folder_id(f, "Inbox"), *trash = folder_id(f, "Deleted Items");
    json_t *items = dump_items(f, inbox), *t0 = dump_items(f, trash);
    char a[512];
    snprintf(a, sizeof a, "%s", json_string_value(json_object_get(json_array_get(items, 0), "id")));
    size_t ntrash = json_array_size(t0);
    json_decref(items);
    json_decref(t0);
    outpost_change c = change_of(OUTPOST_J_ITEM_DELETE, OUTPOST_ITEM_MAIL);
    c.remote_id = a;
    c.folder_remote_id = inbox;
    free(write_ok(f, &c));
    items = dump_items(f, inbox);
    assert_null(dump_find(items, a));
    json_decref(items);
    items = dump_items(f, trash);
    assert_int_equal(json_array_size(items), ntrash);
    json_decref(items);
}

static void test_write_folders(void **state)
{
    struct fx *f = *state;
    open_plugin(f);
    const char *inbox = folder_id(f, "Inbox");
    outpost_change c = change_of(OUTPOST_J_FOLDER_CREATE, OUTPOST_ITEM_MAIL);
    c.folder_remote_id = inbox;
    c.name = "Offline Projects";
    char *id = write_ok(f, &c);
    assert_non_null(id);
    json_t *info = sim_ctl(&f->sim, "info", NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(info, "folders"), "Inbox/Offline Projects")), id);
    json_decref(info);
    c = change_of(OUTPOST_J_FOLDER_RENAME, OUTPOST_ITEM_MAIL);
    c.remote_id = id;
    c.name = "Renamed Projects";
    free(write_ok(f, &c));
    info = sim_ctl(&f->sim, "info", NULL);
    assert_non_null(json_object_get(json_object_get(info, "folders"), "Inbox/Renamed Projects"));
    json_decref(info);
    c = change_of(OUTPOST_J_FOLDER_CREATE, OUTPOST_ITEM_EVENT);
    c.name = "Trips";
    char *cal = write_ok(f, &c);
    assert_non_null(cal);
    info = sim_ctl(&f->sim, "info", NULL);
    assert_non_null(json_object_get(json_object_get(info, "folders"), "Trips"));
    json_decref(info);
    c = change_of(OUTPOST_J_FOLDER_DELETE, OUTPOST_ITEM_MAIL);
    c.remote_id = id;
    free(write_ok(f, &c));
    info = sim_ctl(&f->sim, "info", NULL);
    assert_null(json_object_get(json_object_get(info, "folders"), "Inbox/Renamed Projects"));
    json_decref(info);
    free(id);
    free(cal);
}

static const char *ics_event =
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:client-ev-1\r\n"
    "DTSTAMP:20250101T000000Z\r\nDTSTART:20250612T140000Z\r\nDTEND:20250612T150000Z\r\n"
    "SUMMARY:Offline planning\r\nLOCATION:Café\r\nRRULE:FREQ=WEEKLY;INTERVAL=1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
static const char *ics_event2 =
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:client-ev-1\r\n"
    "DTSTAMP:20250101T000000Z\r\nDTSTART:20250612T160000Z\r\nDTEND:20250612T170000Z\r\n"
    "SUMMARY:Offline planning (later)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
static const char *vcf_contact =
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:client-c-1\r\nFN:Offline Olga\r\nN:Olga;Offline;;;\r\n"
    "EMAIL;TYPE=INTERNET,WORK:olga@example.org\r\nTEL;TYPE=CELL,VOICE:+1 555 0100\r\nEND:VCARD\r\n";
static const char *vcf_contact2 =
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:client-c-1\r\nFN:Olga Updated\r\nN:Updated;Olga;;;\r\nEND:VCARD\r\n";
static const char *ics_task =
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTODO\r\nUID:client-t-1\r\n"
    "SUMMARY:Offline task\r\nDUE:20250620T170000Z\r\nSTATUS:IN-PROCESS\r\nPERCENT-COMPLETE:30\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
static const char *ics_task2 =
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTODO\r\nUID:client-t-1\r\n"
    "SUMMARY:Offline task done\r\nSTATUS:COMPLETED\r\nPERCENT-COMPLETE:100\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
static const char *ics_note =
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VJOURNAL\r\nUID:client-n-1\r\n"
    "DESCRIPTION:Offline note\\nsecond line\r\nX-KERIO-COLOR:Blue\r\nEND:VJOURNAL\r\nEND:VCALENDAR\r\n";
static const char *ics_note2 =
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VJOURNAL\r\nUID:client-n-1\r\n"
    "DESCRIPTION:Edited note\r\nEND:VJOURNAL\r\nEND:VCALENDAR\r\n";

static void test_write_pim(void **state)
{
    struct fx *f = *state;
    open_plugin(f);
    struct {
        const char *path;
        uint32_t kind;
        const char *create, *update, *field, *want1, *want2;
    } k[] = {
        { "Calendar", OUTPOST_ITEM_EVENT, ics_event, ics_event2, "summary", "Offline planning", "Offline planning (later)" },
        { "Contacts", OUTPOST_ITEM_CONTACT, vcf_contact, vcf_contact2, "commonName", "Offline Olga", "Olga Updated" },
        { "Tasks", OUTPOST_ITEM_TASK, ics_task, ics_task2, "summary", "Offline task", "Offline task done" },
        { "Notes", OUTPOST_ITEM_NOTE, ics_note, ics_note2, "text", "Offline note\nsecond line", "Edited note" },
    };
    for (size_t n = 0; n < sizeof k / sizeof k[0]; n++) {
        const char *fid = folder_id(f, k[n].path);
        struct mem_reader mr;
        mem_reader(&mr, k[n].create);
        outpost_change c = change_of(OUTPOST_J_ITEM_CREATE, k[n].kind);
        c.folder_remote_id = fid;
        c.content = &mr.r;
        char *id = write_ok(f, &c);
        assert_non_null(id);
        json_t *items = dump_items(f, fid);
        const json_t *o = dump_find(items, id);
        assert_non_null(o);
        assert_string_equal(json_string_value(json_object_get(o, k[n].field)), k[n].want1);
        if (k[n].kind == OUTPOST_ITEM_EVENT) {
            assert_string_equal(json_string_value(json_object_get(o, "start")), "20250612T140000Z");
            assert_true(json_is_true(json_object_get(json_object_get(o, "rule"), "isSet")));
        }
        if (k[n].kind == OUTPOST_ITEM_CONTACT)
            assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(o, "emailAddresses"), 0),
                                                                  "address")), "olga@example.org");
        char version[32];
        snprintf(version, sizeof version, "%lld", (long long)json_integer_value(json_object_get(o, "watermark")));
        json_decref(items);

        mem_reader(&mr, k[n].update);
        c = change_of(OUTPOST_J_ITEM_UPDATE, k[n].kind);
        c.remote_id = id;
        c.remote_version = version;
        c.folder_remote_id = fid;
        c.content = &mr.r;
        char *id2 = write_ok(f, &c);
        items = dump_items(f, fid);
        o = dump_find(items, id2 ? id2 : id);
        assert_non_null(o);
        assert_string_equal(json_string_value(json_object_get(o, k[n].field)), k[n].want2);
        json_decref(items);

        /* An edit based on an old version conflicts (content the server does not have:
         * the very same content counts as already applied, e.g. a retry after a lost reply). */
        mem_reader(&mr, k[n].create);
        c.remote_id = id2 ? id2 : id;
        c.remote_version = "1";
        outpost_change_result res;
        memset(&res, 0, sizeof res);
        res.struct_size = sizeof res;
        assert_int_equal(tm->write(f->t, &c, &res).code, OUTPOST_CONFLICT);

        c = change_of(OUTPOST_J_ITEM_DELETE, k[n].kind);
        c.remote_id = id2 ? id2 : id;
        c.folder_remote_id = fid;
        free(write_ok(f, &c));
        items = dump_items(f, fid);
        assert_null(dump_find(items, id2 ? id2 : id));
        json_decref(items);
        free(id);
        free(id2);
    }
}

/* ---- faults ---- */

static void test_faults(void **state)
{
    struct fx *f = *state;
    open_plugin(f);
    const char *inbox = folder_id(f, "Inbox");
    /* A mail with an attachment in the Inbox, so listing it downloads something. */
    struct mem_reader mr;
    mem_reader(&mr, draft_mime);
    outpost_change c = change_of(OUTPOST_J_ITEM_CREATE, OUTPOST_ITEM_MAIL);
    c.folder_remote_id = inbox;
    c.content = &mr.r;
    free(write_ok(f, &c));
    struct {
        const char *kind, *method;
        int skip;
        int want;
    } cases[] = {
        { "http500", "Mails.get", 0, OUTPOST_TEMP },
        { "http500", "Mails.getById", 1, OUTPOST_TEMP },
        { "drop", "Mails.getById", 0, OUTPOST_TEMP },
        /* Dropped before the call ran, on a kept-alive connection: libcurl resends once. */
        { "drop_before", "Mails.get", 1, OUTPOST_OK },
        { "malformed", "Mails.getById", 1, OUTPOST_BAD_DATA },
        { "malformed", "Mails.get", 0, OUTPOST_BAD_DATA },
        { "busy", "Mails.get", 0, OUTPOST_THROTTLED },
        { "offline", "*", 0, OUTPOST_TEMP }, /* armed for 5 requests: more than libcurl's one resend */
        { "http500", "download", 0, OUTPOST_TEMP },
        { "session_expired", "Mails.get", 1, OUTPOST_OK },
        { "session_expired", "Mails.getById", 0, OUTPOST_OK },
    };
    for (size_t n = 0; n < sizeof cases / sizeof cases[0]; n++) {
        struct rec r;
        rec_init(&r);
        json_t *armed = arm(f, cases[n].kind, cases[n].method, strcmp(cases[n].kind, "offline") ? 1 : 5, cases[n].skip);
        assert_non_null(armed);
        json_decref(armed);
        outpost_status st = sync_folder(f, inbox, OUTPOST_ITEM_MAIL, &r, OUTPOST_SYNC_WANT_CONTENT);
        if (st.code != cases[n].want)
            fprintf(stderr, "fault %s on %s: got %s (%s)\n", cases[n].kind, cases[n].method,
                    outpost_status_class_name(st.code), st.message ? st.message : "");
        assert_int_equal(st.code, cases[n].want);
        /* Nothing of the failed page reached the sink; earlier pages were committed whole. */
        assert_int_equal(json_array_size(r.pending), 0);
        assert_int_equal(r.protocol_errors, 0);
        assert_int_equal(r.size_mismatches, 0);
        assert_int_equal(r.progress_backwards, 0);
        if (st.code == OUTPOST_THROTTLED)
            assert_true(st.retry_after_ms > 0);
        if (st.code != OUTPOST_OK)
            assert_non_null(st.message);
        clear_faults(f);
        /* Resumes from the committed state and finishes. */
        sync_ok(f, inbox, OUTPOST_ITEM_MAIL, &r);
        json_t *items = dump_items(f, inbox);
        assert_int_equal(rec_count(&r, "item", OUTPOST_CHANGE_ADD), json_array_size(items));
        json_decref(items);
        rec_free(&r);
    }
    /* An expired sync key: resync that folder. */
    struct rec r;
    rec_init(&r);
    sync_ok(f, inbox, OUTPOST_ITEM_MAIL, &r);
    json_decref(arm(f, "sync_key_expired", "Changes.getFolder", 1, 0));
    outpost_status st = sync_folder(f, inbox, OUTPOST_ITEM_MAIL, &r, OUTPOST_SYNC_WANT_CONTENT);
    assert_int_equal(st.code, OUTPOST_STATE_INVALID);
    clear_faults(f);
    /* The journal truncated under us: the same answer from the server itself. */
    json_decref(sim_ctl(&f->sim, "items/create", json_pack("{s:s, s:s, s:{s:s}}", "type", "mail", "folder", "Inbox", "item",
                                                           "subject", "after truncation")));
    json_decref(sim_ctl(&f->sim, "journal/truncate", json_object()));
    rec_clear(&r);
    st = sync_folder(f, inbox, OUTPOST_ITEM_MAIL, &r, OUTPOST_SYNC_WANT_CONTENT);
    assert_int_equal(st.code, OUTPOST_STATE_INVALID);
    assert_int_equal(json_array_size(r.pending), 0);
    rec_free(&r);
    /* Session expiry on a write is transparent too. */
    json_decref(sim_ctl(&f->sim, "sessions/expire", json_object()));
    json_t *items = dump_items(f, inbox);
    c = change_of(OUTPOST_J_ITEM_FLAGS, OUTPOST_ITEM_MAIL);
    c.remote_id = json_string_value(json_object_get(json_array_get(items, 0), "id"));
    c.flags = OUTPOST_FLAG_SEEN;
    free(write_ok(f, &c));
    json_decref(items);
}

/* ---- other places (--shared): public folders and another user's subscribed folders ---- */

static const json_t *folder_named(const struct rec *r, const char *name, const char *parent)
{
    size_t i;
    const json_t *e;
    json_array_foreach(r->events, i, e) {
        const char *par = json_string_value(json_object_get(e, "parent"));
        if (strcmp(json_string_value(json_object_get(e, "op")), "folder") == 0 &&
            json_integer_value(json_object_get(e, "change")) == OUTPOST_CHANGE_ADD &&
            strcmp(json_string_value(json_object_get(e, "name")), name) == 0 &&
            (parent ? par && strcmp(par, parent) == 0 : !par))
            return e;
    }
    return NULL;
}

static void test_other_places(void **state)
{
    (void)state;
    struct fx *f = calloc(1, sizeof *f);
    assert_int_equal(start_sim_args(f, cert("server.pem"), cert("server.key"), "--shared", NULL), 0);
    open_plugin(f);
    const char *ann_inbox = folder_id(f, "Ann Smith/Inbox"), *ann_proj = folder_id(f, "Ann Smith/Projects");
    const char *pub_ann = folder_id(f, "Public/Announcements"), *pub_board = folder_id(f, "Public/Team Board");
    struct rec h;
    rec_init(&h);
    outpost_status st = tm->sync_hierarchy(f->t, NULL, 0, &h.sink);
    assert_int_equal(st.code, OUTPOST_OK);

    /* Placeholders: top-level, listing only; nothing of the other places at the top. */
    const json_t *pub = folder_named(&h, "Public Folders", NULL), *users = folder_named(&h, "Other Users", NULL);
    assert_non_null(pub);
    assert_non_null(users);
    assert_true(json_integer_value(json_object_get(pub, "flags")) & OUTPOST_FOLDER_NOSELECT);
    assert_true(json_integer_value(json_object_get(users, "flags")) & OUTPOST_FOLDER_NOSELECT);
    char pub_id[256], users_id[256], ann_id[512];
    snprintf(pub_id, sizeof pub_id, "%s", json_string_value(json_object_get(pub, "id")));
    snprintf(users_id, sizeof users_id, "%s", json_string_value(json_object_get(users, "id")));
    const json_t *ann = folder_named(&h, "Ann Smith", users_id);
    assert_non_null(ann);
    assert_true(json_integer_value(json_object_get(ann, "flags")) & OUTPOST_FOLDER_NOSELECT);
    snprintf(ann_id, sizeof ann_id, "%s", json_string_value(json_object_get(ann, "id")));
    /* No placeholder id is a server folder id of the account or of another place. */
    json_t *ids = json_object_get(f->info, "folders");
    const char *k;
    json_t *v;
    json_object_foreach(ids, k, v) {
        assert_string_not_equal(json_string_value(v), pub_id);
        assert_string_not_equal(json_string_value(v), users_id);
        assert_string_not_equal(json_string_value(v), ann_id);
    }
    /* The folders under them, with the server's ids; another user's Inbox is no INBOX. */
    const json_t *e = rec_find(&h, "folder", OUTPOST_CHANGE_ADD, pub_ann);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "parent")), pub_id);
    assert_non_null(rec_find(&h, "folder", OUTPOST_CHANGE_ADD, pub_board));
    e = rec_find(&h, "folder", OUTPOST_CHANGE_ADD, ann_inbox);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "parent")), ann_id);
    assert_string_equal(json_string_value(json_object_get(e, "name")), "Inbox");
    assert_int_equal(json_integer_value(json_object_get(e, "special")), OUTPOST_USE_NONE);
    assert_false(json_integer_value(json_object_get(e, "flags")) & OUTPOST_FOLDER_NOSELECT);
    assert_non_null(rec_find(&h, "folder", OUTPOST_CHANGE_ADD, ann_proj));
    /* The own mailbox is as without --shared: one INBOX, the own one; roots are not folders. */
    size_t i, inboxes = 0;
    json_array_foreach(h.events, i, e) if (json_integer_value(json_object_get(e, "special")) == OUTPOST_USE_INBOX) {
        inboxes++;
        assert_string_equal(json_string_value(json_object_get(e, "id")), folder_id(f, "Inbox"));
    }
    assert_int_equal(inboxes, 1);
    assert_null(folder_named(&h, "Public", NULL));
    assert_null(folder_named(&h, "Public", pub_id));

    /* Items: listing with content, then incremental, as in the own mailbox. */
    struct rec r, rp;
    rec_init(&r);
    rec_init(&rp);
    sync_ok(f, ann_inbox, OUTPOST_ITEM_MAIL, &r);
    assert_int_equal(rec_count(&r, "item", OUTPOST_CHANGE_ADD), 3);
    e = rec_find(&r, "item", OUTPOST_CHANGE_ADD, NULL);
    assert_non_null(strstr(json_string_value(json_object_get(e, "content")), "Subject:"));
    sync_ok(f, pub_ann, OUTPOST_ITEM_MAIL, &rp);
    assert_int_equal(rec_count(&rp, "item", OUTPOST_CHANGE_ADD), 3);
    const char *added = new_id(sim_ctl(&f->sim, "items/create",
        json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s}, s:[{s:s, s:s}]}}", "type", "mail", "folderId", ann_inbox, "item",
                  "subject", "For Ann", "from", "name", "Eve", "address", "eve@example.org", "displayableParts",
                  "contentType", "ctTextPlain", "content", "shared hello")));
    rec_clear(&r);
    sync_ok(f, ann_inbox, OUTPOST_ITEM_MAIL, &r);
    e = rec_find(&r, "item", OUTPOST_CHANGE_ADD, added);
    assert_non_null(e);
    assert_non_null(strstr(json_string_value(json_object_get(e, "content")), "For Ann"));

    /* A read-only folder: a local flag change is refused before anything is sent. */
    json_t *items = dump_items(f, ann_inbox);
    const json_t *first = json_array_get(items, 0);
    int flagged = json_is_true(json_object_get(first, "isFlagged"));
    outpost_change c = change_of(OUTPOST_J_ITEM_FLAGS, OUTPOST_ITEM_MAIL);
    c.remote_id = json_string_value(json_object_get(first, "id"));
    c.folder_remote_id = ann_inbox;
    c.flags = flagged ? OUTPOST_FLAG_SEEN : OUTPOST_FLAG_SEEN | OUTPOST_FLAG_FLAGGED;
    json_decref(sim_ctl(&f->sim, "counters/reset", json_object()));
    outpost_change_result res;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    st = tm->write(f->t, &c, &res);
    assert_int_equal(st.code, OUTPOST_BAD_DATA);
    assert_non_null(strstr(st.message, "read-only"));
    json_t *counters = sim_ctl(&f->sim, "counters", NULL);
    assert_null(json_object_get(json_object_get(counters, "calls"), "Mails.set"));
    json_decref(counters);
    json_decref(items);
    items = dump_items(f, ann_inbox);
    assert_int_equal(json_is_true(json_object_get(json_array_get(items, 0), "isFlagged")), flagged);
    json_decref(items);
    /* ... as is a folder created under a placeholder or in a folder without full access. */
    c = change_of(OUTPOST_J_FOLDER_CREATE, OUTPOST_ITEM_MAIL);
    c.folder_remote_id = pub_id;
    c.name = "Mine";
    st = tm->write(f->t, &c, &res);
    assert_int_equal(st.code, OUTPOST_BAD_DATA);
    c.folder_remote_id = ann_proj;
    st = tm->write(f->t, &c, &res);
    assert_int_equal(st.code, OUTPOST_BAD_DATA);
    /* A read-write one takes it. */
    items = dump_items(f, ann_proj);
    c = change_of(OUTPOST_J_ITEM_FLAGS, OUTPOST_ITEM_MAIL);
    c.remote_id = json_string_value(json_object_get(json_array_get(items, 0), "id"));
    c.folder_remote_id = ann_proj;
    c.flags = OUTPOST_FLAG_SEEN | OUTPOST_FLAG_FLAGGED;
    free(write_ok(f, &c));
    json_decref(items);
    items = dump_items(f, ann_proj);
    assert_true(json_is_true(json_object_get(json_array_get(items, 0), "isFlagged")));
    json_decref(items);

    /* Unsubscribed on the server: gone on the next hierarchy sync; the rest stays. */
    json_decref(sim_ctl(&f->sim, "folders/subscribe", json_pack("{s:s, s:b}", "id", ann_proj, "subscribed", 0)));
    rec_clear(&h);
    st = tm->sync_hierarchy(f->t, h.state, h.state_len, &h.sink);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_non_null(rec_find(&h, "folder", OUTPOST_CHANGE_DELETE, ann_proj));
    assert_int_equal(rec_count(&h, "folder", OUTPOST_CHANGE_DELETE), 1);
    assert_int_equal(rec_count(&h, "folder", OUTPOST_CHANGE_ADD), 0);
    /* The last subscribed folder of the mailbox goes, and its owner's placeholder with it. */
    json_decref(sim_ctl(&f->sim, "folders/subscribe", json_pack("{s:s, s:b}", "id", ann_inbox, "subscribed", 0)));
    rec_clear(&h);
    st = tm->sync_hierarchy(f->t, h.state, h.state_len, &h.sink);
    assert_int_equal(st.code, OUTPOST_OK);
    /* children before their parents */
    const char *order[] = { ann_inbox, ann_id, users_id };
    assert_int_equal(json_array_size(h.events), 3);
    for (i = 0; i < 3; i++) {
        e = json_array_get(h.events, i);
        assert_int_equal(json_integer_value(json_object_get(e, "change")), OUTPOST_CHANGE_DELETE);
        assert_string_equal(json_string_value(json_object_get(e, "id")), order[i]);
    }
    assert_null(rec_find(&h, "folder", OUTPOST_CHANGE_DELETE, pub_id));
    rec_free(&h);
    rec_free(&r);
    rec_free(&rp);
    assert_int_equal(teardown((void **)&f), 0);
}

/* JSON-RPC errors carried with the IDL's HTTP statuses (500/404): the body decides. */
static void test_errors_with_idl_http_status(void **state)
{
    (void)state;
    struct fx *f = calloc(1, sizeof *f);
    assert_int_equal(start_sim_args(f, cert("server.pem"), cert("server.key"), "--error-status", "idl"), 0);
    open_plugin(f);
    const char *inbox = folder_id(f, "Inbox");
    struct rec r;
    rec_init(&r);
    /* Session expiry inside HTTP 500: still a transparent re-login. */
    json_decref(sim_ctl(&f->sim, "sessions/expire", json_object()));
    sync_ok(f, inbox, OUTPOST_ITEM_MAIL, &r);
    /* Busy inside HTTP 500: THROTTLED, not TEMP. */
    json_decref(arm(f, "busy", "Changes.getFolder", 1, 0));
    outpost_status st = sync_folder(f, inbox, OUTPOST_ITEM_MAIL, &r, OUTPOST_SYNC_WANT_CONTENT);
    assert_int_equal(st.code, OUTPOST_THROTTLED);
    /* An expired key inside HTTP 500: STATE_INVALID. */
    json_decref(arm(f, "sync_key_expired", "Changes.getFolder", 1, 0));
    st = sync_folder(f, inbox, OUTPOST_ITEM_MAIL, &r, OUTPOST_SYNC_WANT_CONTENT);
    assert_int_equal(st.code, OUTPOST_STATE_INVALID);
    /* A missing item inside HTTP 500: GONE. */
    outpost_change c = change_of(OUTPOST_J_ITEM_MOVE, OUTPOST_ITEM_MAIL);
    c.remote_id = "keriostorage://mail/example.com/jdoe/00000000-0000-0000-0000-000000000000/1";
    c.target_remote_id = folder_id(f, "Archive");
    outpost_change_result res;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    st = tm->write(f->t, &c, &res);
    assert_int_equal(st.code, OUTPOST_GONE);
    rec_free(&r);
    assert_int_equal(teardown((void **)&f), 0);
}

/* One connection, one session: keep-alive and the cookie jar work; cancellation stops a sync. */
static void test_session_reuse_and_cancel(void **state)
{
    struct fx *f = *state;
    open_plugin(f);
    struct rec r;
    rec_init(&r);
    for (int i = 0; i < 3; i++) {
        rec_free(&r);
        rec_init(&r);
        sync_ok(f, folder_id(f, "Inbox"), OUTPOST_ITEM_MAIL, &r);
    }
    json_t *info = sim_ctl(&f->sim, "info", NULL);
    assert_int_equal(json_integer_value(json_object_get(info, "sessions")), 1);
    json_decref(info);
    test_host_cancel(f->th, 1);
    rec_free(&r);
    rec_init(&r);
    outpost_status st = sync_folder(f, folder_id(f, "Inbox"), OUTPOST_ITEM_MAIL, &r, OUTPOST_SYNC_WANT_CONTENT);
    assert_int_equal(st.code, OUTPOST_TEMP);
    assert_non_null(strstr(st.message, "cancelled"));
    assert_int_equal(json_array_size(r.pending), 0);
    test_host_cancel(f->th, 0);
    rec_free(&r);
}

/* ---- TLS and credentials ---- */

static void test_tls_and_auth(void **state)
{
    (void)state;
    struct {
        const char *crt, *key;
        int insecure;
        int want;
    } cases[] = {
        { "wrong-selfsigned.pem", "wrong-selfsigned.key", 0, OUTPOST_FATAL },
        { "wrong-host.pem", "wrong-host.key", 0, OUTPOST_FATAL },
        { "wrong-selfsigned.pem", "wrong-selfsigned.key", 1, OUTPOST_OK },
    };
    for (size_t n = 0; n < sizeof cases / sizeof cases[0]; n++) {
        struct fx f;
        assert_int_equal(start_sim_with(&f, cert(cases[n].crt), cert(cases[n].key)) == 0 || 1, 1);
        if (cases[n].insecure)
            test_host_set(f.th, "insecure", "true");
        assert_int_equal(tm->create(test_host_table(f.th), &f.t).code, OUTPOST_OK);
        outpost_status st = tm->open(f.t);
        assert_int_equal(st.code, cases[n].want);
        if (st.code != OUTPOST_OK) {
            assert_non_null(strstr(st.message, "TLS"));
            assert_non_null(strstr(st.message, "ca_file"));
        } else {
            assert_true(test_host_logged(f.th, "insecure"));
            assert_true(test_host_logged(f.th, "NOT checked"));
        }
        tm->close(f.t);
        tm->destroy(f.t);
        sim_stop(&f.sim);
        json_decref(f.info);
        test_host_free(f.th);
    }
    /* A private CA without ca_file: the system store does not know it. */
    struct fx f;
    assert_int_equal(start_sim_with(&f, cert("server.pem"), cert("server.key")), 0);
    test_host_set(f.th, "ca_file", NULL);
    test_host_set(f.th, "page_size", NULL);
    test_host_set(f.th, "url", f.sim.url);
    test_host_set(f.th, "user", "jdoe");
    assert_int_equal(tm->create(test_host_table(f.th), &f.t).code, OUTPOST_OK);
    assert_int_equal(tm->open(f.t).code, OUTPOST_FATAL);
    tm->destroy(f.t);
    /* Wrong password: AUTH, and the password appears nowhere. */
    test_host_set(f.th, "ca_file", ca_pem);
    test_host_set_secret(f.th, "password", "hunter2-wrong");
    assert_int_equal(tm->create(test_host_table(f.th), &f.t).code, OUTPOST_OK);
    outpost_status st = tm->open(f.t);
    assert_int_equal(st.code, OUTPOST_AUTH);
    assert_non_null(strstr(st.message, "jdoe"));
    assert_null(strstr(st.message, "hunter2"));
    assert_false(test_host_logged(f.th, "hunter2"));
    tm->destroy(f.t);
    /* No password source at all. */
    test_host_set_secret(f.th, "password", NULL);
    assert_int_equal(tm->create(test_host_table(f.th), &f.t).code, OUTPOST_OK);
    assert_int_equal(tm->open(f.t).code, OUTPOST_AUTH);
    tm->destroy(f.t);
    /* Nobody listening: TEMP. */
    sim_stop(&f.sim);
    test_host_set_secret(f.th, "password", "secret");
    assert_int_equal(tm->create(test_host_table(f.th), &f.t).code, OUTPOST_OK);
    assert_int_equal(tm->open(f.t).code, OUTPOST_TEMP);
    tm->destroy(f.t);
    /* An http:// URL would send the password in clear: refused, naming the keys, unless
     * insecure = true says so (as the EWS transport). */
    test_host_set(f.th, "url", "http://127.0.0.1:1");
    outpost_status cs = tm->create(test_host_table(f.th), &f.t);
    assert_int_equal(cs.code, OUTPOST_FATAL);
    assert_null(f.t);
    assert_non_null(strstr(cs.message, "[account] url"));
    assert_non_null(strstr(cs.message, "https://"));
    assert_non_null(strstr(cs.message, "insecure = true"));
    test_host_set(f.th, "insecure", "true");
    assert_int_equal(tm->create(test_host_table(f.th), &f.t).code, OUTPOST_OK);
    tm->destroy(f.t);
    json_decref(f.info);
    test_host_free(f.th);
}

static void test_descriptor(void **state)
{
    (void)state;
    assert_int_equal(desc->kind, OUTPOST_KIND_TRANSPORT);
    assert_string_equal(desc->name, "kerio");
    assert_string_equal(desc->section, "account");
    assert_int_equal(desc->caps & (OUTPOST_TRANSPORT_CAP_RAW_MIME | OUTPOST_TRANSPORT_CAP_KEYWORDS |
                                   OUTPOST_TRANSPORT_CAP_CUSTOM_HEADERS), 0);
    assert_true(tm->struct_size >= OUTPOST_TRANSPORT_METHODS_V1_0_SIZE);
    int url = 0, user = 0;
    for (const outpost_config_key *k = desc->config_keys; k->name; k++) {
        if (!strcmp(k->name, "url"))
            url = k->required;
        if (!strcmp(k->name, "user"))
            user = k->required;
    }
    assert_true(url && user);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s PLUGIN.so SIM-BINARY GEN-CERTS.sh WORKDIR\n", argv[0]);
        return 2;
    }
    plugin_path = argv[1];
    sim_bin = argv[2];
    gen_certs = argv[3];
    workdir = argv[4];
    snprintf(certdir, sizeof certdir, "%s/certs", workdir);
    snprintf(ca_pem, sizeof ca_pem, "%s/ca.pem", certdir);
    mkdir(workdir, 0755);
    if (sim_gen_certs(gen_certs, certdir) != 0)
        return 1;
    struct test_host *th = test_host_new("account", workdir, NULL);
    outpost_loaded_plugin *p = th ? test_plugin_load(plugin_path, OUTPOST_KIND_TRANSPORT, test_host_table(th)) : NULL;
    if (!p)
        return 1;
    desc = p->desc;
    tm = p->methods;
    g_mime_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test_setup_teardown(test_list_every_kind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mail_byte_identical_across_syncs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listing_survives_deletions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incremental_mail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incremental_other_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incremental_hierarchy_and_copies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_change_cap_relists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_mail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_delete_permanent_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_folders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_pim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_reuse_and_cancel, setup, teardown),
        cmocka_unit_test(test_errors_with_idl_http_status),
        cmocka_unit_test(test_other_places),
        cmocka_unit_test(test_tls_and_auth),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    g_mime_shutdown();
    outpost_loader_unload(p);
    test_host_free(th);
    return rc;
}
