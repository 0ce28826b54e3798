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
 *    journal entry;
 *  - associated (FAI) messages survive a restart with no journal entry; those
 *    of a folder deleted while the plugin was down are dropped at start; a
 *    damaged set is reported and never overwritten; two connections saving
 *    into one folder at once lose nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
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

/* ---- associated (FAI) messages across restarts ---- */

static uint32_t open_h(tclient *c, const uint8_t *eid, uint32_t *h)
{
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, 0);
    mapi_w_bin(&q, eid, MAPI_EID_LEN);
    uint32_t sc = call(c, MAPI_OP_OPEN_ENTRY, &q, &r);
    if (!OP_FAILED(sc))
        *h = r.data[0] | (r.data[1] << 8);
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return sc;
}

/* CreateMessage(MAPI_ASSOCIATED) + SetProps + SaveChanges in folder h:
 * SaveChanges' SCODE, the entry id into eid on success. */
static uint32_t fai_save_new(tclient *c, uint32_t folder, const char *cls, const char *subject,
                             uint8_t eid[MAPI_EID_LEN])
{
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, folder);
    mapi_w_u32(&q, OP_MAPI_ASSOCIATED);
    assert_int_equal(call(c, MAPI_OP_CREATE_MESSAGE, &q, &r), 0);
    uint32_t m = r.data[0] | (r.data[1] << 8);
    mapi_props p;
    mapi_props_init(&p);
    mapi_props_set_str(&p, OP_PR_MESSAGE_CLASS, cls);
    mapi_props_set_str(&p, OP_PR_SUBJECT, subject);
    mapi_w_u32(&q, m);
    mapi_w_props(&q, &p);
    mapi_props_free(&p);
    assert_int_equal(call(c, MAPI_OP_SET_PROPS, &q, NULL), 0);
    mapi_w_u32(&q, m);
    mapi_w_u32(&q, 0);
    r.len = 0;
    uint32_t sc = call(c, MAPI_OP_SAVE_CHANGES, &q, &r);
    if (!OP_FAILED(sc))
        memcpy(eid, r.data + 4, MAPI_EID_LEN);
    mapi_w_u32(&q, m);
    assert_int_equal(call(c, MAPI_OP_RELEASE, &q, NULL), 0);
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return sc;
}

static void folder_eid(const uint8_t guid[16], uint32_t kind, int64_t id, uint8_t eid[MAPI_EID_LEN])
{
    mapi_eid e = { .kind = kind, .id = id };
    memcpy(e.guid, guid, 16);
    mapi_eid_encode(&e, eid);
}

/* The subjects of folder h's associated contents table, ' '-separated, sorted by subject. */
static void fai_subjects(tclient *c, uint32_t h, char *out, size_t cap)
{
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, h);
    mapi_w_u32(&q, MAPI_TABLE_CONTENTS);
    mapi_w_u32(&q, OP_MAPI_ASSOCIATED);
    assert_int_equal(call(c, MAPI_OP_OPEN_TABLE, &q, &r), 0);
    uint32_t t = r.data[0] | (r.data[1] << 8);
    uint32_t cols[] = { OP_PR_SUBJECT };
    mapi_w_u32(&q, t);
    mapi_w_tags(&q, cols, 1);
    assert_int_equal(call(c, MAPI_OP_TBL_SET_COLUMNS, &q, NULL), 0);
    mapi_sort_key k = { OP_PR_SUBJECT, OP_TABLE_SORT_ASCEND };
    mapi_sort so = { 1, 0, 0, &k };
    mapi_w_u32(&q, t);
    mapi_w_sort(&q, &so);
    assert_int_equal(call(c, MAPI_OP_TBL_SORT, &q, NULL), 0);
    mapi_w_u32(&q, t);
    mapi_w_u32(&q, 100);
    mapi_w_u32(&q, 0);
    r.len = 0;
    assert_int_equal(call(c, MAPI_OP_TBL_QUERY_ROWS, &q, &r), 0);
    mapi_rd rd;
    mapi_rd_init(&rd, r.data, r.len);
    uint32_t n = mapi_r_u32(&rd);
    out[0] = 0;
    for (uint32_t i = 0; i < n; i++) {
        mapi_props row;
        mapi_props_init(&row);
        assert_int_equal(mapi_r_props(&rd, &row), 0);
        const char *sub = mapi_props_str(&row, OP_PR_SUBJECT);
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? " " : "", sub ? sub : "?");
        mapi_props_free(&row);
    }
    mapi_w_u32(&q, t);
    assert_int_equal(call(c, MAPI_OP_RELEASE, &q, NULL), 0);
    mapi_buf_free(&q);
    mapi_buf_free(&r);
}

static void test_fai_kept_across_restarts(void **state)
{
    (void)state;
    int64_t gone = mts_folder(&cache, 0, "Gone soon", OUTPOST_ITEM_MAIL, 0);
    assert_true(gone > 0);
    uint32_t journal = mts_journal_count(&cache, 0);
    struct plugin pl;
    plugin_start(&pl);
    tclient c;
    memset(&c, 0, sizeof c);
    uint8_t guid[16];
    hello(&c, pl.port, guid);
    uint8_t ieid[MAPI_EID_LEN], geid[MAPI_EID_LEN], veid[MAPI_EID_LEN], e1[MAPI_EID_LEN], e2[MAPI_EID_LEN],
        e3[MAPI_EID_LEN], e4[MAPI_EID_LEN];
    folder_eid(guid, MAPI_EID_FOLDER, inbox, ieid);
    folder_eid(guid, MAPI_EID_FOLDER, gone, geid);
    folder_eid(guid, MAPI_EID_VIRTUAL, MAPI_VF_VIEWS, veid);
    uint32_t hi, hg, hv;
    assert_int_equal(open_h(&c, ieid, &hi), 0);
    assert_int_equal(open_h(&c, geid, &hg), 0);
    assert_int_equal(open_h(&c, veid, &hv), 0);
    assert_int_equal(fai_save_new(&c, hi, "IPM.Microsoft.FolderDesign.NamedView", "Compact", e1), 0);
    assert_int_equal(fai_save_new(&c, hi, "IPM.Rule.Version2.Message", "Rule", e2), 0);
    assert_int_equal(fai_save_new(&c, hg, "IPM.Microsoft.FolderDesign.NamedView", "Doomed", e3), 0);
    assert_int_equal(fai_save_new(&c, hv, "IPM.Microsoft.FolderDesign.NamedView", "Shared", e4), 0);
    tc_close(&c);
    plugin_stop(&pl);
    /* local only: no journal entry, no item */
    assert_int_equal(mts_journal_count(&cache, 0), journal);

    /* the folder is deleted behind the front-end's back (IMAP DELETE) */
    assert_int_equal(cache.api->folder_delete(cache.host, gone).code, OUTPOST_OK);
    char buf[65536], key[80];
    assert_int_equal(read_prop(0, "mapi.fai", buf, sizeof buf), OUTPOST_OK);
    assert_non_null(strstr(buf, "mapi.fai.v4\n"));
    char *line = strstr(buf, "mapi.fai.");
    assert_non_null(line);

    /* restarted: everything is back, the deleted folder's set is dropped */
    plugin_start(&pl);
    memset(&c, 0, sizeof c);
    hello(&c, pl.port, guid);
    assert_int_equal(open_h(&c, ieid, &hi), 0);
    assert_int_equal(open_h(&c, veid, &hv), 0);
    fai_subjects(&c, hi, buf, sizeof buf);
    assert_string_equal(buf, "Compact Rule");
    fai_subjects(&c, hv, buf, sizeof buf);
    assert_string_equal(buf, "Shared");
    uint32_t m;
    assert_int_equal(open_h(&c, e2, &m), 0);
    assert_int_equal(open_h(&c, e3, &m), OP_MAPI_E_NOT_FOUND);
    assert_int_equal(read_prop(0, "mapi.fai", buf, sizeof buf), OUTPOST_OK);
    snprintf(key, sizeof key, "mapi.fai.%lld.", (long long)gone);
    assert_null(strstr(buf, key));
    assert_non_null(strstr(buf, "mapi.fai.v4\n"));
    /* two lines left: the Inbox's and Views' */
    int lines = 0;
    for (const char *p = buf; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 2);

    /* a damaged set is reported and left alone, never overwritten */
    assert_int_equal(cache.api->meta_set(cache.host, "mapi.fai.v3", "junk", 4).code, OUTPOST_OK);
    uint8_t feid[MAPI_EID_LEN], e5[MAPI_EID_LEN];
    folder_eid(guid, MAPI_EID_VIRTUAL, MAPI_VF_FINDER, feid);
    uint32_t hf;
    assert_int_equal(open_h(&c, feid, &hf), 0);
    assert_int_equal(fai_save_new(&c, hf, "IPM.Note", "lost?", e5), OP_MAPI_E_CORRUPT_DATA);
    assert_int_equal(read_prop(0, "mapi.fai.v3", buf, sizeof buf), OUTPOST_OK);
    assert_string_equal(buf, "junk");
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, hf);
    mapi_w_u32(&q, MAPI_TABLE_CONTENTS);
    mapi_w_u32(&q, OP_MAPI_ASSOCIATED);
    assert_int_equal(call(&c, MAPI_OP_OPEN_TABLE, &q, &r), OP_MAPI_E_CORRUPT_DATA);
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    assert_int_equal(cache.api->meta_set(cache.host, "mapi.fai.v3", NULL, 0).code, OUTPOST_OK);
    tc_close(&c);
    plugin_stop(&pl);
}

/* Two connections saving FAI messages into one folder at the same time: the
 * front-end serialises the read-change-write of the folder's set, so none is
 * lost. */
#define CONC_SAVES 20

struct saver {
    tclient c;
    uint32_t folder;
    int failures;
    char tag;
};

/* CreateMessage(MAPI_ASSOCIATED) + SetProps + SaveChanges + Release without
 * cmocka's asserts (they are not for threads): 0 or -1. */
static int fai_save_raw(tclient *c, uint32_t folder, const char *subject)
{
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    uint32_t sc = 0xFFFFFFFFu;
    int rc = -1;
    mapi_w_u32(&q, folder);
    mapi_w_u32(&q, OP_MAPI_ASSOCIATED);
    if (tc_call(c, MAPI_OP_CREATE_MESSAGE, &q, &sc, &r) != 0 || sc != 0 || r.len < 4)
        goto out;
    uint32_t m = r.data[0] | (r.data[1] << 8);
    mapi_props p;
    mapi_props_init(&p);
    mapi_props_set_str(&p, OP_PR_SUBJECT, subject);
    q.len = 0;
    mapi_w_u32(&q, m);
    mapi_w_props(&q, &p);
    mapi_props_free(&p);
    if (tc_call(c, MAPI_OP_SET_PROPS, &q, &sc, NULL) != 0 || sc != 0)
        goto out;
    q.len = 0;
    mapi_w_u32(&q, m);
    mapi_w_u32(&q, 0);
    if (tc_call(c, MAPI_OP_SAVE_CHANGES, &q, &sc, NULL) != 0 || sc != 0)
        goto out;
    q.len = 0;
    mapi_w_u32(&q, m);
    if (tc_call(c, MAPI_OP_RELEASE, &q, &sc, NULL) != 0 || sc != 0)
        goto out;
    rc = 0;
out:
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return rc;
}

static void *saver_main(void *arg)
{
    struct saver *sv = arg;
    for (int i = 0; i < CONC_SAVES; i++) {
        char subject[32];
        snprintf(subject, sizeof subject, "%c%02d", sv->tag, i);
        if (fai_save_raw(&sv->c, sv->folder, subject) != 0)
            sv->failures++;
    }
    return NULL;
}

static void test_fai_concurrent_saves(void **state)
{
    (void)state;
    struct plugin pl;
    plugin_start(&pl);
    struct saver sv[2];
    uint8_t guid[16], ieid[MAPI_EID_LEN];
    memset(sv, 0, sizeof sv);
    for (int k = 0; k < 2; k++) {
        hello(&sv[k].c, pl.port, guid);
        folder_eid(guid, MAPI_EID_VIRTUAL, MAPI_VF_COMMON_VIEWS, ieid);
        assert_int_equal(open_h(&sv[k].c, ieid, &sv[k].folder), 0);
        sv[k].tag = (char)('a' + k);
    }
    pthread_t th[2];
    for (int k = 0; k < 2; k++)
        assert_int_equal(pthread_create(&th[k], NULL, saver_main, &sv[k]), 0);
    for (int k = 0; k < 2; k++)
        pthread_join(th[k], NULL);
    assert_int_equal(sv[0].failures + sv[1].failures, 0);
    char buf[4096];
    fai_subjects(&sv[0].c, sv[0].folder, buf, sizeof buf);
    int words = 1;
    for (const char *p = buf; *p; p++)
        words += *p == ' ';
    assert_int_equal(words, 2 * CONC_SAVES);
    assert_non_null(strstr(buf, "a00 a01"));
    assert_non_null(strstr(buf, "b18 b19"));
    /* cleaned up for the other tests */
    mapi_buf q;
    mapi_buf_init(&q);
    mapi_w_u32(&q, sv[0].folder);
    mapi_w_u32(&q, OP_DEL_ASSOCIATED);
    assert_int_equal(call(&sv[0].c, MAPI_OP_EMPTY_FOLDER, &q, NULL), 0);
    mapi_buf_free(&q);
    for (int k = 0; k < 2; k++)
        tc_close(&sv[k].c);
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
        cmocka_unit_test(test_fai_kept_across_restarts),
        cmocka_unit_test(test_fai_concurrent_saves),
        cmocka_unit_test(test_names_from_text),
        cmocka_unit_test(test_names_save_failure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
