/* firebird_schema.c — Firebird plugin only: schema migrations.
 *
 * A cache of schema 4 (content bytes in BLOBs, rows of up to 1 MiB) is
 * migrated to inline content rows: every byte reads back, the old table is
 * gone, the cache passes its integrity check and content can be appended. A
 * cache written by a newer Outpost is refused and left alone. The files are
 * reworked through the Firebird client API directly, with the plugin's
 * instance closed (the embedded engine opens a database exclusively).
 */
#include <ibase.h>

#include "storage_fixture.h"

struct test_storage_plugin g_plugin;

struct raw {
    isc_db_handle db;
    isc_tr_handle tr;
    ISC_STATUS_ARRAY sv;
};

static void raw_fail(struct raw *r, const char *what)
{
    char msg[1024] = "", line[512];
    const ISC_STATUS *p = r->sv;
    while (fb_interpret(line, sizeof line, &p) > 0 && strlen(msg) + strlen(line) + 3 < sizeof msg) {
        strcat(msg, " / ");
        strcat(msg, line);
    }
    fail_msg("%s:%s", what, msg);
}

static void raw_attach(struct raw *r, const char *path)
{
    memset(r, 0, sizeof *r);
    char dpb[256];
    size_t n = 0;
    dpb[n++] = isc_dpb_version1;
    static const char *const items[][2] = { { "SYSDBA", NULL }, { "Providers=Engine12", NULL } };
    const char kinds[] = { isc_dpb_user_name, isc_dpb_config };
    for (int i = 0; i < 2; i++) {
        size_t l = strlen(items[i][0]);
        dpb[n++] = kinds[i];
        dpb[n++] = (char)l;
        memcpy(dpb + n, items[i][0], l);
        n += l;
    }
    if (isc_attach_database(r->sv, 0, path, &r->db, (short)n, dpb))
        raw_fail(r, "attaching");
}

static void raw_begin(struct raw *r)
{
    r->tr = 0;
    if (isc_start_transaction(r->sv, &r->tr, 1, &r->db, 0, NULL))
        raw_fail(r, "starting a transaction");
}

static void raw_commit(struct raw *r)
{
    if (isc_commit_transaction(r->sv, &r->tr))
        raw_fail(r, "committing");
}

/* One statement in its own transaction (DDL must be committed before use). */
static void raw_exec(struct raw *r, const char *sql)
{
    raw_begin(r);
    if (isc_dsql_execute_immediate(r->sv, &r->db, &r->tr, 0, sql, 3, NULL))
        raw_fail(r, sql);
    raw_commit(r);
}

/* A one-BIGINT singleton select. */
static int64_t raw_int(struct raw *r, const char *sql)
{
    raw_begin(r);
    XSQLDA *o = calloc(1, XSQLDA_LENGTH(1));
    o->version = SQLDA_VERSION1;
    o->sqln = 1;
    o->sqld = 1;
    ISC_INT64 v = -1;
    short ind = 0;
    o->sqlvar[0].sqltype = SQL_INT64 + 1;
    o->sqlvar[0].sqllen = sizeof v;
    o->sqlvar[0].sqldata = (char *)&v;
    o->sqlvar[0].sqlind = &ind;
    if (isc_dsql_exec_immed2(r->sv, &r->db, &r->tr, 0, sql, 3, NULL, o))
        raw_fail(r, sql);
    free(o);
    raw_commit(r);
    return v;
}

static void raw_detach(struct raw *r)
{
    if (isc_detach_database(r->sv, &r->db))
        raw_fail(r, "detaching");
}

static void db_path(struct fx *f, char *out, size_t n)
{
    snprintf(out, n, "%s/cache.fdb", f->dir);
}

static char *pattern(size_t n, unsigned seed)
{
    char *p = malloc(n + 1);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (char)(x >> 16); /* every byte value, NULs included */
    }
    p[n] = 0;
    return p;
}

static void read_back(struct fx *f, int64_t id, const char *want, size_t n)
{
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_READ);
    char *got = malloc(n + 100);
    size_t g = 0, total = 0;
    /* in pieces that straddle the rows, as the IMAP front-end reads */
    for (;;) {
        OK(f->m->content_read(t, id, total, got + total, 7001, &g));
        total += g;
        if (g == 0)
            break;
    }
    assert_int_equal(total, n);
    assert_memory_equal(got, want, n);
    OK(f->m->content_read(t, id, n / 2, got, n + 100, &g));
    assert_int_equal(g, n - n / 2);
    assert_memory_equal(got, want + n / 2, g);
    f->m->rollback(t);
    free(got);
}

static void test_v4_blob_content_migrates(void **state)
{
    struct fx *f = *state;
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t folder = fx_folder(f, t, 0, "INBOX", OUTPOST_ITEM_MAIL);
    const size_t big_n = 2500000; /* old rows were up to 1 MiB: this one spans three */
    char *big = pattern(big_n, 7);
    const char *small = "Subject: small\r\n\r\nstill here\r\n";
    int64_t a = fx_put(f, t, folder, OUTPOST_ITEM_MAIL, 0, "small", small);
    int64_t b = fx_put(f, t, folder, OUTPOST_ITEM_MAIL, 0, "big", NULL);
    OK(f->m->content_write(t, b, 0, big, big_n));
    OK(f->m->content_finish(t, b, OUTPOST_CONTENT_COMPLETE));
    int64_t e = fx_put(f, t, folder, OUTPOST_ITEM_MAIL, 0, "no content yet", NULL);
    OK(f->m->commit(t));
    fx_close_instance(f, f->s);
    f->s = NULL;

    /* back to schema 4: the bytes in `content` BLOB rows of at most 1 MiB */
    char path[4200];
    db_path(f, path, sizeof path);
    struct raw r;
    raw_attach(&r, path);
    raw_exec(&r, "CREATE TABLE content(item_id BIGINT NOT NULL, off BIGINT NOT NULL, len BIGINT NOT NULL,"
                 " data BLOB SUB_TYPE BINARY, PRIMARY KEY(item_id, off))");
    raw_exec(&r, "EXECUTE BLOCK AS DECLARE i BIGINT; DECLARE o BIGINT; DECLARE d VARCHAR(15000) CHARACTER SET"
                 " OCTETS; DECLARE cur BIGINT = -1; DECLARE b0 BIGINT = 0; DECLARE n BIGINT = 0;"
                 " DECLARE bl BLOB SUB_TYPE BINARY; BEGIN"
                 " FOR SELECT item_id, off, data FROM content_part ORDER BY item_id, off INTO :i, :o, :d DO BEGIN"
                 "  IF (i <> cur OR n + OCTET_LENGTH(d) > 1048576) THEN BEGIN"
                 "   IF (cur >= 0) THEN INSERT INTO content VALUES(:cur, :b0, :n, :bl);"
                 "   cur = i; b0 = o; n = 0; bl = NULL; END"
                 "  bl = COALESCE(bl, CAST('' AS BLOB SUB_TYPE BINARY)) || d; n = n + OCTET_LENGTH(d); END"
                 " IF (cur >= 0) THEN INSERT INTO content VALUES(:cur, :b0, :n, :bl); END");
    assert_int_equal(raw_int(&r, "SELECT count(*) FROM content"), 4);
    raw_exec(&r, "DROP TABLE content_part");
    raw_exec(&r, "UPDATE store_info SET ival=4 WHERE k='schema_version'");
    raw_detach(&r);

    fx_instance(f, &f->s);
    read_back(f, a, small, strlen(small));
    read_back(f, b, big, big_n);
    OK(f->m->integrity_check(f->s));
    /* the migrated content grows like any other */
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    OK(f->m->content_write(t, b, big_n, "tail", 4));
    OK(f->m->content_finish(t, b, OUTPOST_CONTENT_COMPLETE));
    OK(f->m->content_write(t, e, 0, "later", 5));
    OK(f->m->content_finish(t, e, OUTPOST_CONTENT_COMPLETE));
    OK(f->m->commit(t));
    big = realloc(big, big_n + 4);
    memcpy(big + big_n, "tail", 4);
    read_back(f, b, big, big_n + 4);
    read_back(f, e, "later", 5);
    OK(f->m->integrity_check(f->s));
    fx_close_instance(f, f->s);
    f->s = NULL;

    raw_attach(&r, path);
    assert_int_equal(raw_int(&r, "SELECT count(*) FROM rdb$relations WHERE rdb$relation_name='CONTENT'"), 0);
    assert_int_equal(raw_int(&r, "SELECT ival FROM store_info WHERE k='schema_version'"), 6);
    assert_int_equal(raw_int(&r, "SELECT MAX(len) FROM content_part"), 15000);
    raw_detach(&r);
    free(big);
}

static void test_newer_schema_refused(void **state)
{
    struct fx *f = *state;
    fx_close_instance(f, f->s);
    f->s = NULL;
    char path[4200];
    db_path(f, path, sizeof path);
    struct raw r;
    raw_attach(&r, path);
    raw_exec(&r, "UPDATE store_info SET ival=999 WHERE k='schema_version'");
    raw_detach(&r);
    OK(f->m->create(test_host_table(f->th), &f->s));
    outpost_status st = f->m->open(f->s);
    assert_int_equal(st.code, OUTPOST_FATAL);
    assert_non_null(strstr(st.message, "newer"));
    f->m->destroy(f->s);
    f->s = NULL;
    raw_attach(&r, path);
    assert_int_equal(raw_int(&r, "SELECT ival FROM store_info WHERE k='schema_version'"), 999);
    raw_detach(&r);
}

int main(int argc, char **argv)
{
    if (test_storage_load(argc > 1 ? argv[1] : "firebird", &g_plugin) != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_v4_blob_content_migrates, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
