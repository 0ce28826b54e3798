/* test_kerio_push.c — the Kerio plugin's wait_changes (Changes.get long-poll on its own
 * connection) and recurring events with exceptions, against the Kerio simulator:
 *   - a server-side change made through the control API wakes a running wait within a second;
 *     the long-poll shares the session (one session on the server);
 *   - host->cancelled() ends a wait promptly, and the next wait works (killRequest freed the key);
 *   - faults on Changes.get map to the plugin's status classes; an expired key is replaced and
 *     reported as a change;
 *   - a weekly event with one moved and one deleted instance converts to a master + one
 *     RECURRENCE-ID override + one EXDATE, byte-identical on a second listing; every generated
 *     series with exceptions gets as many overrides and EXDATEs as the simulator holds.
 *
 * usage: test_kerio_push PLUGIN.so SIM-BINARY GEN-CERTS.sh WORKDIR */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <outpost/abi.h>
#include <outpost/transport.h>

#include "kbuf.h"
#include "loader.h"
#include "sim_proc.h"
#include "test_host.h"
#include "recording_sink.h"

static const char *sim_bin, *workdir;
static char certdir[1024], ca_pem[1100];
static const struct outpost_transport_methods *tm;

struct fx {
    struct sim_proc sim;
    struct test_host *th;
    struct outpost_transport *t;
    json_t *info;
};

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int start(struct fx *f, const char *events)
{
    memset(f, 0, sizeof *f);
    char crt[1200], key[1200];
    snprintf(crt, sizeof crt, "%s/server.pem", certdir);
    snprintf(key, sizeof key, "%s/server.key", certdir);
    const char *args[] = { "--cert", crt, "--key", key, "--messages", "6", "--events", events, "--contacts", "2",
                           "--tasks", "2", "--notes", "2", "--seed", "11", "--quiet", NULL };
    if (sim_start(&f->sim, sim_bin, args, ca_pem) != 0)
        return -1;
    f->info = sim_ctl(&f->sim, "info", NULL);
    f->th = test_host_new("account", workdir, NULL);
    test_host_set(f->th, "url", f->sim.url);
    test_host_set(f->th, "user", "jdoe");
    test_host_set(f->th, "ca_file", ca_pem);
    test_host_set_secret(f->th, "password", "secret");
    return f->info ? 0 : -1;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f || start(f, "4") != 0)
        return -1;
    *state = f;
    return 0;
}

static int setup_many_events(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f || start(f, "120") != 0)
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

static void create_mail(struct fx *f, const char *subject)
{
    json_t *r = sim_ctl(&f->sim, "items/create",
                        json_pack("{s:s, s:s, s:{s:s}}", "type", "mail", "folder", "Inbox", "item", "subject", subject));
    assert_non_null(r);
    json_decref(r);
}

static json_t *arm(struct fx *f, json_t *spec)
{
    json_t *r = sim_ctl(&f->sim, "faults", spec);
    assert_non_null(r);
    return r;
}

static void clear_faults(struct fx *f)
{
    json_decref(sim_ctl(&f->sim, "faults/clear", json_object()));
}

/* ---- a helper thread acting on the server or the host after a delay ---- */

struct later {
    struct fx *f;
    int delay_ms;
    int what;          /* 0: create a mail, 1: cancel */
    long done_at;      /* monotonic ms after the action */
    pthread_t th;
};

static void *later_run(void *p)
{
    struct later *l = p;
    usleep((useconds_t)l->delay_ms * 1000u);
    if (l->what == 0) {
        /* its own control connection: sim_ctl makes one per call */
        json_t *r = sim_ctl(&l->f->sim, "items/create",
                            json_pack("{s:s, s:s, s:{s:s}}", "type", "mail", "folder", "Inbox", "item", "subject", "pushed"));
        json_decref(r);
    } else {
        test_host_cancel(l->f->th, 1);
    }
    __atomic_store_n(&l->done_at, now_ms(), __ATOMIC_SEQ_CST);
    return NULL;
}

static void later_start(struct later *l, struct fx *f, int what, int delay_ms)
{
    memset(l, 0, sizeof *l);
    l->f = f;
    l->what = what;
    l->delay_ms = delay_ms;
    assert_int_equal(pthread_create(&l->th, NULL, later_run, l), 0);
}

/* Waits with the plugin; returns the status, *changed and the time it returned. */
static outpost_status wait_for(struct fx *f, uint32_t ms, int *changed, long *returned_at)
{
    *changed = -1;
    outpost_status st = tm->wait_changes(f->t, ms, changed);
    *returned_at = now_ms();
    return st;
}

/* ---- push ---- */

static void test_descriptor_push(void **state)
{
    struct fx *f = *state;
    (void)f;
    assert_true(tm->struct_size > OUTPOST_TRANSPORT_METHODS_V1_0_SIZE);
    assert_non_null(tm->wait_changes);
}

static void test_wakes_on_server_change(void **state)
{
    struct fx *f = *state;
    open_plugin(f);
    int changed;
    long at;
    /* Nothing happened since open: the wait runs its time out. */
    long t0 = now_ms();
    outpost_status st = wait_for(f, 1500, &changed, &at);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(changed, 0);
    assert_true(at - t0 >= 1400 && at - t0 < 4000);
    /* A change made while waiting wakes the wait within a second. */
    struct later l;
    later_start(&l, f, 0, 400);
    t0 = now_ms();
    st = wait_for(f, 20000, &changed, &at);
    pthread_join(l.th, NULL);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(changed, 1);
    assert_true(at - l.done_at < 1000);
    assert_true(at - t0 < 5000);
    /* The change was consumed: the next wait is quiet again. */
    st = wait_for(f, 1200, &changed, &at);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(changed, 0);
    /* A change made between waits (while the engine syncs) is reported by the next wait at once. */
    create_mail(f, "between waits");
    t0 = now_ms();
    st = wait_for(f, 20000, &changed, &at);
    assert_int_equal(changed, 1);
    assert_true(at - t0 < 1000);
    /* The long-poll ran on its own connection but in the same session. */
    json_t *info = sim_ctl(&f->sim, "info", NULL);
    assert_int_equal(json_integer_value(json_object_get(info, "sessions")), 1);
    json_decref(info);
    /* And the other calls still work on their connection. */
    struct rec h;
    rec_init(&h);
    assert_int_equal(tm->sync_hierarchy(f->t, NULL, 0, &h.sink).code, OUTPOST_OK);
    rec_free(&h);
}

static void test_cancel_is_prompt(void **state)
{
    struct fx *f = *state;
    open_plugin(f);
    int changed;
    long at;
    struct later l;
    later_start(&l, f, 1, 500);
    long t0 = now_ms();
    outpost_status st = wait_for(f, 30000, &changed, &at);
    pthread_join(l.th, NULL);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(changed, 0);
    assert_true(at - l.done_at < 500);
    assert_true(at - t0 < 2000);
    /* Already cancelled: returns at once. */
    t0 = now_ms();
    st = wait_for(f, 30000, &changed, &at);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_true(at - t0 < 200);
    /* The abandoned poll was killed: a new wait with the same key works and sees a change. */
    test_host_cancel(f->th, 0);
    later_start(&l, f, 0, 300);
    st = wait_for(f, 20000, &changed, &at);
    pthread_join(l.th, NULL);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(changed, 1);
    assert_true(at - l.done_at < 1000);
}

static void test_faults(void **state)
{
    struct fx *f = *state;
    open_plugin(f);
    struct {
        const char *kind;
        int64_t code;
        int want;
        int want_changed;
    } cases[] = {
        { "http500", 0, OUTPOST_TEMP, 0 },
        { "busy", 0, OUTPOST_THROTTLED, 0 },
        { "malformed", 0, OUTPOST_BAD_DATA, 0 },
        { "drop_before", 0, OUTPOST_TEMP, 0 },
        { "error", -32601, OUTPOST_BAD_DATA, 0 },  /* a server without Changes.get: not about the key */
        { "error", -32603, OUTPOST_TEMP, 0 },
        { "session_expired", 0, OUTPOST_OK, 0 },   /* logs in again, waits on */
        { "sync_key_expired", 0, OUTPOST_OK, 1 },  /* a fresh key, and a change to sync */
    };
    for (size_t n = 0; n < sizeof cases / sizeof cases[0]; n++) {
        json_t *spec = json_pack("{s:s, s:s, s:i}", "kind", cases[n].kind, "method", "Changes.get", "count",
                                 strcmp(cases[n].kind, "drop_before") ? 1 : 3);
        if (cases[n].code)
            json_object_set_new(spec, "code", json_integer(cases[n].code));
        json_decref(arm(f, spec));
        int changed;
        long at, t0 = now_ms();
        outpost_status st = wait_for(f, 1500, &changed, &at);
        if (st.code != cases[n].want || (st.code == OUTPOST_OK && changed != cases[n].want_changed))
            fprintf(stderr, "fault %s: got %s changed %d (%s)\n", cases[n].kind, outpost_status_class_name(st.code),
                    changed, st.message ? st.message : "");
        assert_int_equal(st.code, cases[n].want);
        if (st.code == OUTPOST_OK)
            assert_int_equal(changed, cases[n].want_changed);
        else
            assert_non_null(st.message);
        if (st.code == OUTPOST_THROTTLED)
            assert_true(st.retry_after_ms > 0);
        assert_true(at - t0 < 8000);
        clear_faults(f);
        /* Recovered: a change wakes the next wait. */
        create_mail(f, "after fault");
        st = wait_for(f, 5000, &changed, &at);
        assert_int_equal(st.code, OUTPOST_OK);
        assert_int_equal(changed, 1);
    }
    /* The server's journal truncated under the key: renewed and reported as a change. */
    create_mail(f, "before truncation");
    json_decref(sim_ctl(&f->sim, "journal/truncate", json_object()));
    int changed;
    long at;
    outpost_status st = wait_for(f, 3000, &changed, &at);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(changed, 1);
    assert_true(test_host_logged(f->th, "new account sync key"));
    st = wait_for(f, 1200, &changed, &at);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_int_equal(changed, 0);
    /* Unreachable server: TEMP, bounded. */
    json_decref(arm(f, json_pack("{s:s, s:s, s:i}", "kind", "offline", "method", "*", "count", 6)));
    long t0 = now_ms();
    st = wait_for(f, 3000, &changed, &at);
    assert_int_equal(st.code, OUTPOST_TEMP);
    assert_true(at - t0 < 8000);
    clear_faults(f);
}

/* No key at open (getSyncKey refused): the first wait takes one and reports a change. */
static void test_no_key_at_open(void **state)
{
    struct fx *f = *state;
    json_decref(arm(f, json_pack("{s:s, s:s, s:i}", "kind", "error", "method", "Changes.getSyncKey", "count", 1)));
    open_plugin(f);
    assert_true(test_host_logged(f->th, "no account sync key yet"));
    int changed;
    long at;
    assert_int_equal(wait_for(f, 1500, &changed, &at).code, OUTPOST_OK);
    assert_int_equal(changed, 1);
    assert_int_equal(wait_for(f, 1200, &changed, &at).code, OUTPOST_OK);
    assert_int_equal(changed, 0);
}

/* ---- recurring events ---- */

/* A minimal JSON-RPC client, as another Kerio client would change the calendar. */
struct rpc {
    CURL *c;
    char url[512];
    char token[256];
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    kbuf_append(ud, p, sz * n);
    return sz * n;
}

static json_t *rpc_call(struct rpc *r, const char *method, json_t *params)
{
    json_t *req = json_pack("{s:s, s:i, s:s, s:o}", "jsonrpc", "2.0", "id", 1, "method", method, "params", params);
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    char tok[300];
    if (r->token[0]) {
        snprintf(tok, sizeof tok, "X-Token: %s", r->token);
        h = curl_slist_append(h, tok);
    }
    struct kbuf b = { 0 };
    curl_easy_setopt(r->c, CURLOPT_URL, r->url);
    curl_easy_setopt(r->c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(r->c, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(r->c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(r->c, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(r->c);
    curl_slist_free_all(h);
    free(text);
    assert_int_equal(rc, CURLE_OK);
    json_t *reply = json_loadb(b.data, b.len, 0, NULL);
    kbuf_free(&b);
    assert_non_null(reply);
    json_t *res = json_incref(json_object_get(reply, "result"));
    if (!res)
        fprintf(stderr, "%s: %s\n", method, json_dumps(reply, 0));
    json_decref(reply);
    assert_non_null(res);
    return res;
}

static void rpc_open(struct rpc *r, struct fx *f)
{
    memset(r, 0, sizeof *r);
    r->c = curl_easy_init();
    snprintf(r->url, sizeof r->url, "%s/webmail/api/jsonrpc/", f->sim.url);
    curl_easy_setopt(r->c, CURLOPT_CAINFO, ca_pem);
    curl_easy_setopt(r->c, CURLOPT_COOKIEFILE, "");
    curl_easy_setopt(r->c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(r->c, CURLOPT_NOSIGNAL, 1L);
    json_t *res = rpc_call(r, "Session.login", json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "userName", "jdoe", "password",
                                                         "secret", "application", "name", "test", "vendor", "test",
                                                         "version", "1"));
    snprintf(r->token, sizeof r->token, "%s", json_string_value(json_object_get(res, "token")));
    json_decref(res);
}

static void rpc_close(struct rpc *r)
{
    curl_easy_cleanup(r->c);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* The content of `id` after a full listing of the calendar (caller frees). */
static char *list_event(struct fx *f, const char *cal, const char *id)
{
    struct rec r;
    rec_init(&r);
    outpost_folder of;
    memset(&of, 0, sizeof of);
    of.struct_size = sizeof of;
    of.kind = OUTPOST_ITEM_EVENT;
    of.remote_id = cal;
    of.name = "Calendar";
    outpost_status st = tm->sync_folder(f->t, &of, NULL, 0, 0, OUTPOST_SYNC_WANT_CONTENT, &r.sink);
    if (st.code != OUTPOST_OK)
        fprintf(stderr, "sync_folder: %s\n", st.message);
    assert_int_equal(st.code, OUTPOST_OK);
    const json_t *e = rec_find(&r, "item", OUTPOST_CHANGE_ADD, id);
    assert_non_null(e);
    char *c = strdup(json_string_value(json_object_get(e, "content")));
    rec_free(&r);
    return c;
}

static void test_weekly_moved_and_deleted(void **state)
{
    struct fx *f = *state;
    const char *cal = json_string_value(json_object_get(json_object_get(f->info, "folders"), "Calendar"));
    assert_non_null(cal);
    /* Mondays 10:00 +0200, 2 June .. 28 July 2025: nine instances. */
    json_t *made = sim_ctl(&f->sim, "items/create",
                           json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:{s:b, s:s, s:{s:s, s:s}, s:{s:i}}}}", "type", "event",
                                     "folder", "Calendar", "item", "summary", "Weekly sync", "start",
                                     "20250602T100000+0200", "end", "20250602T110000+0200", "rule", "isSet", 1,
                                     "frequency", "Weekly", "endBy", "type", "ByRecurrenceDate", "date", "20250728",
                                     "preciseBy", "byInterval", 1));
    assert_non_null(made);
    char eid[512];
    snprintf(eid, sizeof eid, "%s", json_string_value(json_object_get(made, "id")));
    json_decref(made);
    /* Another client moves the third instance to Tuesday 14:00 and deletes the fifth. */
    struct rpc r;
    rpc_open(&r, f);
    json_t *occ = rpc_call(&r, "Occurrences.get",
                           json_pack("{s:[s], s:{s:[{s:s, s:s, s:s}], s:[{s:s, s:s}]}}", "folderIds", cal, "query",
                                     "conditions", "fieldName", "eventId", "comparator", "Eq", "value", eid, "orderBy",
                                     "columnName", "start", "direction", "Asc"));
    json_t *list = json_object_get(occ, "list");
    assert_int_equal(json_array_size(list), 9);
    const char *third = json_string_value(json_object_get(json_array_get(list, 2), "id"));
    const char *fifth = json_string_value(json_object_get(json_array_get(list, 4), "id"));
    json_decref(rpc_call(&r, "Occurrences.set",
                         json_pack("{s:[{s:s, s:s, s:s, s:s, s:s}]}", "occurrences", "id", third, "modification",
                                   "modifyThis", "start", "20250617T140000+0200", "end", "20250617T150000+0200",
                                   "summary", "Weekly sync (moved)")));
    json_decref(rpc_call(&r, "Occurrences.remove",
                         json_pack("{s:[{s:s, s:s}]}", "occurrences", "id", fifth, "modification", "modifyThis")));
    json_decref(occ);
    /* What a real server shows: the moved one at its new time as an exception, the deleted one absent. */
    occ = rpc_call(&r, "Occurrences.get",
                   json_pack("{s:[s], s:{s:[{s:s, s:s, s:s}]}}", "folderIds", cal, "query", "conditions", "fieldName",
                             "eventId", "comparator", "Eq", "value", eid));
    list = json_object_get(occ, "list");
    assert_int_equal(json_array_size(list), 8);
    size_t i, nexc = 0;
    const json_t *o;
    json_array_foreach(list, i, o) if (json_is_true(json_object_get(o, "isException"))) {
        nexc++;
        assert_string_equal(json_string_value(json_object_get(o, "start")), "20250617T120000Z");
        assert_null(json_object_get(o, "recurrenceId"));
    }
    assert_int_equal(nexc, 1);
    json_decref(occ);
    rpc_close(&r);

    open_plugin(f);
    char *a = list_event(f, cal, eid);
    assert_int_equal(count(a, "BEGIN:VEVENT"), 2);
    assert_int_equal(count(a, "RRULE:"), 1);
    assert_non_null(strstr(a, "RRULE:FREQ=WEEKLY;UNTIL=20250728\r\n"));
    assert_non_null(strstr(a, "DTSTART;TZID=UTC+0200:20250602T100000\r\n"));
    assert_int_equal(count(a, "RECURRENCE-ID"), 1);
    assert_non_null(strstr(a, "RECURRENCE-ID;TZID=UTC+0200:20250616T100000\r\n"));
    assert_int_equal(count(a, "EXDATE"), 1);
    assert_non_null(strstr(a, "EXDATE;TZID=UTC+0200:20250630T100000\r\n"));
    /* The override carries the time as the server gave it for the occurrence, and its summary. */
    const char *ov = strstr(a, "RECURRENCE-ID");
    assert_non_null(strstr(ov, "DTSTART:20250617T120000Z\r\n"));
    assert_non_null(strstr(ov, "SUMMARY:Weekly sync (moved)\r\n"));
    /* The EXDATE belongs to the master, before the override. */
    assert_true(strstr(a, "EXDATE") < ov);
    /* Byte-identical on a second listing. */
    char *b = list_event(f, cal, eid);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

/* Every generated series with moved and deleted instances: as many overrides and EXDATEs as the
 * simulator holds, and the moved ones placed on their original starts. */
static void test_generated_series(void **state)
{
    struct fx *f = *state;
    const char *cal = json_string_value(json_object_get(json_object_get(f->info, "folders"), "Calendar"));
    open_plugin(f);
    struct rec r;
    rec_init(&r);
    outpost_folder of;
    memset(&of, 0, sizeof of);
    of.struct_size = sizeof of;
    of.kind = OUTPOST_ITEM_EVENT;
    of.remote_id = cal;
    assert_int_equal(tm->sync_folder(f->t, &of, NULL, 0, 0, OUTPOST_SYNC_WANT_CONTENT, &r.sink).code, OUTPOST_OK);
    char *esc = curl_easy_escape(NULL, cal, 0);
    char path[1024];
    snprintf(path, sizeof path, "state?content=0&folder=%s", esc);
    curl_free(esc);
    json_t *st = sim_ctl(&f->sim, path, NULL);
    json_t *items = json_object_get(json_array_get(json_object_get(st, "folders"), 0), "items");
    size_t i, checked = 0;
    const json_t *it;
    json_array_foreach(items, i, it) {
        const json_t *exc = json_object_get(it, "exceptions");
        if (!json_array_size(exc))
            continue;
        size_t moved = 0, deleted = 0, j;
        const json_t *x;
        json_array_foreach(exc, j, x) {
            if (json_is_true(json_object_get(x, "deleted")))
                deleted++;
            else
                moved++;
        }
        const json_t *e = rec_find(&r, "item", OUTPOST_CHANGE_ADD, json_string_value(json_object_get(it, "id")));
        assert_non_null(e);
        const char *c = json_string_value(json_object_get(e, "content"));
        if (count(c, "RECURRENCE-ID") != moved || count(c, "EXDATE") != deleted)
            fprintf(stderr, "event %s: %s\nexceptions: %s\n", json_string_value(json_object_get(it, "id")), c,
                    json_dumps(exc, 0));
        assert_int_equal(count(c, "RECURRENCE-ID"), moved);
        assert_int_equal(count(c, "EXDATE"), deleted);
        /* Each moved instance's original start is its RECURRENCE-ID (the simulator's start form: Z
         * or a date). */
        json_array_foreach(exc, j, x) if (!json_is_true(json_object_get(x, "deleted"))) {
            const char *orig = json_string_value(json_object_get(x, "orig"));
            assert_non_null(orig);
            char want[64];
            snprintf(want, sizeof want, ":%s\r\n", orig);
            const char *rid = strstr(c, "RECURRENCE-ID");
            assert_non_null(rid);
            int found = 0;
            for (const char *p = rid; p && !found; p = strstr(p + 1, "RECURRENCE-ID")) {
                const char *eol = strstr(p, "\r\n");
                const char *colon = strchr(p, ':');
                /* all-day: compare the date part only */
                found = colon && eol && (strncmp(colon, want, strlen(want)) == 0 ||
                                         (eol - colon == 9 && strncmp(colon + 1, orig, 8) == 0));
            }
            assert_true(found);
        }
        checked++;
    }
    fprintf(stderr, "generated series with exceptions checked: %zu\n", checked);
    assert_true(checked >= 2);
    json_decref(st);
    rec_free(&r);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s PLUGIN.so SIM-BINARY GEN-CERTS.sh WORKDIR\n", argv[0]);
        return 2;
    }
    sim_bin = argv[2];
    workdir = argv[4];
    snprintf(certdir, sizeof certdir, "%s/certs", workdir);
    snprintf(ca_pem, sizeof ca_pem, "%s/ca.pem", certdir);
    mkdir(workdir, 0755);
    if (sim_gen_certs(argv[3], certdir) != 0)
        return 1;
    struct test_host *th = test_host_new("account", workdir, NULL);
    outpost_loaded_plugin *p = th ? test_plugin_load(argv[1], OUTPOST_KIND_TRANSPORT, test_host_table(th)) : NULL;
    if (!p || !(p->desc->caps & OUTPOST_TRANSPORT_CAP_PUSH))
        return 1;
    tm = p->methods;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_descriptor_push, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wakes_on_server_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_is_prompt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_key_at_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_weekly_moved_and_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generated_series, setup_many_events, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    outpost_loader_unload(p);
    test_host_free(th);
    return rc;
}
