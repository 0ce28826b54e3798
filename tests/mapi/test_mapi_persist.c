/* tests/mapi/test_mapi_persist.c — front-end data kept in the cache through
 * the store API's optional prop_set/meta_set (outpost/frontend.h), over the
 * real SQLite storage:
 *  - prop_set/meta_set are local-only: no journal entry, the item's MODSEQ
 *    and flags unchanged; values read back with prop_get/meta_get; keys are
 *    "<front-end>.<name>" (the core's own keys cannot be touched);
 *  - the MAPI plugin (loaded as outpostd loads it) keeps its store GUID and
 *    named-property map in the cache's meta, not in files, and finds them
 *    again after a restart;
 *  - properties Outlook sets that MIME cannot carry (PR_ICON_INDEX, a custom
 *    named property) survive closing and reopening the message, with no
 *    journal entry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader.h"
#include "mapi_eid.h"
#include "platform/platform.h"
#include "mapi_names.h"
#include "mapi_test_client.h"
#include "mapi_test_store.h"

static mts cache;
static int64_t inbox, msg_id;

static char *mail(const char *subject)
{
    char *s = malloc(512);
    snprintf(s, 512,
             "From: Ann <ann@example.com>\r\nTo: Bob <bob@example.com>\r\nSubject: %s\r\n"
             "Date: Mon, 13 Nov 2023 10:00:00 +0000\r\nMessage-ID: <%s@x>\r\n\r\nbody\r\n",
             subject, subject);
    return s;
}

static int setup(void **state)
{
    (void)state;
    char err[1024];
    if (mts_open(&cache, NULL, OUTPOST_BUILD_PLUGIN_DIR, err, sizeof err) != 0) {
        fprintf(stderr, "opening the SQLite cache: %s\n", err);
        return -1;
    }
    inbox = mts_folder(&cache, 0, "Inbox", OUTPOST_ITEM_MAIL, OUTPOST_USE_INBOX);
    char *m = mail("Kept");
    msg_id = mts_item(&cache, inbox, m, 0, 1699869600000LL);
    free(m);
    return inbox && msg_id ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    mts_close(&cache);
    return 0;
}

static uint64_t modseq_of(int64_t id)
{
    struct outpost_txn *t;
    uint64_t m = 0;
    assert_int_equal(cache.api->read_begin(cache.host, &t).code, OUTPOST_OK);
    const outpost_item *it;
    if (cache.m->item_get(t, id, &it).code == OUTPOST_OK)
        m = it->modseq;
    cache.api->read_end(cache.host, t);
    return m;
}

/* 0 and a copy in buf, or the status code. */
static int read_prop(int64_t id, const char *name, char *buf, size_t cap)
{
    struct outpost_txn *t;
    assert_int_equal(cache.api->read_begin(cache.host, &t).code, OUTPOST_OK);
    const void *v = NULL;
    size_t n = 0;
    outpost_status st = id ? cache.m->prop_get(t, id, name, &v, &n) : cache.m->meta_get(t, name, &v, &n);
    int rc = st.code;
    if (rc == OUTPOST_OK && !v)
        rc = OUTPOST_GONE;
    if (rc == OUTPOST_OK) {
        assert_true(n < cap);
        memcpy(buf, v, n);
        buf[n] = 0;
    }
    cache.api->read_end(cache.host, t);
    return rc;
}

static void test_prop_set_is_local_only(void **state)
{
    (void)state;
    assert_true(OUTPOST_HAS_METHOD(cache.api, struct outpost_store_api, prop_set));
    assert_true(OUTPOST_HAS_METHOD(cache.api, struct outpost_store_api, meta_set));
    uint32_t journal = mts_journal_count(&cache, 0);
    uint64_t ms = modseq_of(msg_id);
    uint32_t flags0 = 0;
    mts_item_state(&cache, msg_id, &flags0, NULL);

    assert_int_equal(cache.api->prop_set(cache.host, msg_id, "mapi.icon", "42", 2).code, OUTPOST_OK);
    char buf[64];
    assert_int_equal(read_prop(msg_id, "mapi.icon", buf, sizeof buf), OUTPOST_OK);
    assert_string_equal(buf, "42");
    assert_int_equal(cache.api->meta_set(cache.host, "mapi.test", "v1", 2).code, OUTPOST_OK);
    assert_int_equal(read_prop(0, "mapi.test", buf, sizeof buf), OUTPOST_OK);
    assert_string_equal(buf, "v1");

    /* no journal entry, no MODSEQ or flag change */
    assert_int_equal(mts_journal_count(&cache, 0), journal);
    assert_int_equal(modseq_of(msg_id), ms);
    uint32_t flags1 = 0;
    mts_item_state(&cache, msg_id, &flags1, NULL);
    assert_int_equal(flags1, flags0);

    /* deleting, twice */
    assert_int_equal(cache.api->prop_set(cache.host, msg_id, "mapi.icon", NULL, 0).code, OUTPOST_OK);
    assert_int_equal(cache.api->prop_set(cache.host, msg_id, "mapi.icon", NULL, 0).code, OUTPOST_OK);
    assert_int_not_equal(read_prop(msg_id, "mapi.icon", buf, sizeof buf), OUTPOST_OK);
    assert_int_equal(cache.api->meta_set(cache.host, "mapi.test", NULL, 0).code, OUTPOST_OK);
    assert_int_not_equal(read_prop(0, "mapi.test", buf, sizeof buf), OUTPOST_OK);

    /* refusals: no item, names outside a front-end's namespace */
    assert_int_equal(cache.api->prop_set(cache.host, 999999, "mapi.icon", "1", 1).code, OUTPOST_GONE);
    assert_int_equal(cache.api->prop_set(cache.host, msg_id, "icon", "1", 1).code, OUTPOST_BAD_DATA);
    assert_int_equal(cache.api->meta_set(cache.host, "hierarchy_state", "x", 1).code, OUTPOST_BAD_DATA);
    assert_int_equal(cache.api->meta_set(cache.host, "core.anything", "x", 1).code, OUTPOST_BAD_DATA);
    assert_int_equal(cache.api->meta_set(cache.host, "last_sync:1", "x", 1).code, OUTPOST_BAD_DATA);
    assert_int_equal(mts_journal_count(&cache, 0), journal);
}

/* ---- the MAPI plugin as outpostd runs it ---- */

struct plugin {
    outpost_loaded_plugin *p;
    const struct outpost_frontend_methods *m;
    struct outpost_frontend *f;
    uint16_t port;
};

static void plugin_start(struct plugin *pl)
{
    char err[1024];
    memset(pl, 0, sizeof *pl);
    assert_int_equal(outpost_loader_load(OUTPOST_BUILD_PLUGIN_DIR, OUTPOST_KIND_FRONTEND, "mapi", &pl->p, err, sizeof err),
                     0);
    assert_int_equal(outpost_loader_module_init(pl->p, cache.host, err, sizeof err), 0);
    pl->m = pl->p->methods;
    mts_set_config(&cache, "listen", "127.0.0.1:0");
    assert_int_equal(pl->m->create(cache.host, &pl->f).code, OUTPOST_OK);
    outpost_status st = pl->m->start(pl->f);
    if (st.code != OUTPOST_OK)
        fail_msg("start: %s", st.message);
    /* the bound port: not part of the ABI, a symbol the plugin exports for tests */
    uint16_t (*port)(struct outpost_frontend *);
    void *sym = op_dl_sym(pl->p->dl, "outpost_mapi_bound_port");
    assert_non_null(sym);
    memcpy(&port, &sym, sizeof port);
    pl->port = port(pl->f);
    assert_true(pl->port > 0);
}

static void plugin_stop(struct plugin *pl)
{
    pl->m->stop(pl->f);
    pl->m->destroy(pl->f);
    outpost_loader_unload(pl->p);
}

static uint8_t secret[32];

static void read_secret(void)
{
    char path[400], hex[80] = { 0 };
    snprintf(path, sizeof path, "%s/mapi.secret", cache.dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(hex, sizeof hex, f));
    fclose(f);
    for (int i = 0; i < 32; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        secret[i] = (uint8_t)v;
    }
}

static uint32_t call(tclient *c, uint16_t op, mapi_buf *q, mapi_buf *r)
{
    uint32_t sc = 0xFFFFFFFFu;
    assert_int_equal(tc_call(c, op, q, &sc, r), 0);
    q->len = 0;
    return sc;
}

/* Hello; the store GUID into guid. */
static void hello(tclient *c, uint16_t port, uint8_t guid[16])
{
    read_secret();
    assert_int_equal(tc_connect(c, port), 0);
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, MAPI_WIRE_MAGIC);
    mapi_w_u32(&q, MAPI_WIRE_VERSION);
    mapi_w_bin(&q, secret, 32);
    assert_int_equal(call(c, MAPI_OP_HELLO, &q, &r), 0);
    memcpy(guid, r.data + 4, 16);
    mapi_buf_free(&q);
    mapi_buf_free(&r);
}

static void test_plugin_keeps_guid_and_names_in_the_cache(void **state)
{
    (void)state;
    struct plugin pl;
    plugin_start(&pl);
    tclient c;
    memset(&c, 0, sizeof c);
    uint8_t guid[16], again[16];
    hello(&c, pl.port, guid);
    /* a new named property */
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_name n = { .kind = MAPI_MNID_STRING, .name = "x-outpost-test" };
    memcpy(n.guid, MAPI_PS_PUBLIC_STRINGS, 16);
    mapi_w_u32(&q, 0x2 /* MAPI_CREATE */);
    mapi_w_u32(&q, 1);
    mapi_w_name(&q, &n);
    assert_int_equal(call(&c, MAPI_OP_GET_IDS_FROM_NAMES, &q, &r), 0);
    mapi_rd rd;
    mapi_rd_init(&rd, r.data, r.len);
    assert_int_equal(mapi_r_u32(&rd), 1);
    uint32_t tag = mapi_r_u32(&rd);
    assert_true((tag >> 16) >= 0x8000);
    tc_close(&c);
    plugin_stop(&pl);

    /* in the cache's meta, not in files */
    char buf[65536];
    assert_int_equal(read_prop(0, "mapi.store-guid", buf, sizeof buf), OUTPOST_OK);
    assert_memory_equal(buf, guid, 16);
    assert_int_equal(read_prop(0, "mapi.names", buf, sizeof buf), OUTPOST_OK);
    assert_non_null(strstr(buf, "782d6f7574706f73742d74657374")); /* "x-outpost-test" in hex */
    char path[400];
    struct stat sb;
    snprintf(path, sizeof path, "%s/mapi.store-id", cache.dir);
    assert_int_not_equal(stat(path, &sb), 0);
    snprintf(path, sizeof path, "%s/mapi-names", cache.dir);
    assert_int_not_equal(stat(path, &sb), 0);

    /* restarted: the same GUID (entry ids stay valid), the same id for the name */
    plugin_start(&pl);
    memset(&c, 0, sizeof c);
    hello(&c, pl.port, again);
    assert_memory_equal(again, guid, 16);
    mapi_w_u32(&q, 0);
    mapi_w_u32(&q, 1);
    mapi_w_name(&q, &n);
    r.len = 0;
    assert_int_equal(call(&c, MAPI_OP_GET_IDS_FROM_NAMES, &q, &r), 0);
    mapi_rd_init(&rd, r.data, r.len);
    assert_int_equal(mapi_r_u32(&rd), 1);
    assert_int_equal(mapi_r_u32(&rd) >> 16, tag >> 16);

    /* a received mail: PR_ICON_INDEX and the named property have no home in
     * MIME; they are kept in the item's bag, without a journal entry */
    uint32_t journal = mts_journal_count(&cache, 0);
    uint8_t eid[MAPI_EID_LEN];
    mapi_eid e = { .kind = MAPI_EID_MESSAGE, .id = msg_id };
    memcpy(e.guid, guid, 16);
    mapi_eid_encode(&e, eid);
    mapi_w_u32(&q, 0);
    mapi_w_bin(&q, eid, MAPI_EID_LEN);
    r.len = 0;
    assert_int_equal(call(&c, MAPI_OP_OPEN_ENTRY, &q, &r), 0);
    mapi_rd_init(&rd, r.data, r.len);
    uint32_t h = mapi_r_u32(&rd);
    mapi_props p;
    mapi_props_init(&p);
    mapi_props_set_long(&p, 0x10800003u /* PR_ICON_INDEX */, 261);
    uint32_t named = (tag & 0xFFFF0000u) | 0x001Fu;
    mapi_props_set_str(&p, named, "kept locally");
    mapi_w_u32(&q, h);
    mapi_w_props(&q, &p);
    mapi_props_free(&p);
    r.len = 0;
    assert_int_equal(call(&c, MAPI_OP_SET_PROPS, &q, &r), 0);
    mapi_w_u32(&q, h);
    mapi_w_u32(&q, 0);
    r.len = 0;
    assert_int_equal(call(&c, MAPI_OP_SAVE_CHANGES, &q, &r), 0);
    mapi_w_u32(&q, h);
    assert_int_equal(call(&c, MAPI_OP_RELEASE, &q, NULL), 0);
    assert_int_equal(mts_journal_count(&cache, 0), journal);

    /* reopened, on a new connection to a restarted plugin */
    tc_close(&c);
    plugin_stop(&pl);
    plugin_start(&pl);
    memset(&c, 0, sizeof c);
    hello(&c, pl.port, again);
    mapi_w_u32(&q, 0);
    mapi_w_bin(&q, eid, MAPI_EID_LEN);
    r.len = 0;
    assert_int_equal(call(&c, MAPI_OP_OPEN_ENTRY, &q, &r), 0);
    mapi_rd_init(&rd, r.data, r.len);
    h = mapi_r_u32(&rd);
    uint32_t tags[2] = { 0x10800003u, named };
    mapi_w_u32(&q, h);
    mapi_w_u32(&q, 0);
    mapi_w_tags(&q, tags, 2);
    r.len = 0;
    assert_int_equal(call(&c, MAPI_OP_GET_PROPS, &q, &r), 0);
    mapi_rd_init(&rd, r.data, r.len);
    mapi_props_init(&p);
    assert_int_equal(mapi_r_props(&rd, &p), 0);
    assert_int_equal(mapi_props_long(&p, 0x10800003u, 0), 261);
    assert_string_equal(mapi_props_str(&p, named), "kept locally");
    mapi_props_free(&p);
    /* the MIME content and summary did not change */
    char *content = mts_item_content(&cache, msg_id);
    assert_non_null(strstr(content, "Subject: Kept"));
    assert_null(strstr(content, "kept locally"));
    free(content);
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    tc_close(&c);
    plugin_stop(&pl);
}

static void test_names_from_text(void **state)
{
    (void)state;
    /* the text form round-trips, and a save failure refuses the id */
    char err[256];
    mapi_names *m = mapi_names_open_text(NULL, 0, NULL, NULL, err, sizeof err);
    assert_non_null(m);
    uint16_t a, b;
    assert_int_equal(mapi_names_string(m, MAPI_PS_PUBLIC_STRINGS, "one", &a), 0);
    assert_int_equal(mapi_names_lid(m, MAPI_PSETID_COMMON, 0x8580, &b), 0);
    size_t len = 0;
    char *text = mapi_names_text(m, &len);
    mapi_names *m2 = mapi_names_open_text(text, len, NULL, NULL, err, sizeof err);
    assert_non_null(m2);
    uint16_t c;
    assert_int_equal(mapi_names_lid(m2, MAPI_PSETID_COMMON, 0x8580, &c), 0);
    assert_int_equal(c, b);
    assert_int_not_equal(mapi_names_open_text("8000 zz", 7, NULL, NULL, err, sizeof err) != NULL, 1);
    free(text);
    mapi_names_close(m);
    mapi_names_close(m2);
}

static int refuse(void *ctx, const char *text, size_t len)
{
    (void)ctx, (void)text, (void)len;
    return -1;
}

static void test_names_save_failure(void **state)
{
    (void)state;
    char err[256];
    mapi_names *m = mapi_names_open_text(NULL, 0, refuse, NULL, err, sizeof err);
    uint16_t a;
    assert_int_not_equal(mapi_names_string(m, MAPI_PS_PUBLIC_STRINGS, "x", &a), 0);
    assert_int_equal(mapi_names_count(m), 0);
    mapi_names_close(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prop_set_is_local_only),
        cmocka_unit_test(test_plugin_keeps_guid_and_names_in_the_cache),
        cmocka_unit_test(test_names_from_text),
        cmocka_unit_test(test_names_save_failure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
