/* firebird_schema.c — Firebird plugin only: schema migrations and the value
 * store.
 *
 * A cache of schema 4 (content bytes in BLOBs, rows of up to 1 MiB) is
 * migrated to inline content rows: every byte reads back, the old table is
 * gone, the cache passes its integrity check and content can be appended. A
 * cache of schema 6 (meta values, properties, sync states, journal payloads,
 * overflowing item strings, token texts and listing snapshots in BLOBs) is
 * migrated to the value store: every value reads back (NULL and empty kept
 * apart), search and listings still work, no BLOB column is left, and later
 * changes and deletes keep the values whole and owned. A cache written by a
 * newer Outpost is refused and left alone. The files are reworked through
 * the Firebird client API directly, with the plugin's instance closed (the
 * embedded engine opens a database exclusively).
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

/* Schema 8 back to schema 6: every value in `val` or an inline column goes
 * back into the BLOB column it had (parts concatenated in order; an empty
 * value is an empty BLOB, a missing one NULL), then the v7 objects go. */
static const char *const to_v6_sql[] = {
    "CREATE TABLE meta(k VARCHAR(500) CHARACTER SET OCTETS NOT NULL PRIMARY KEY, v BLOB SUB_TYPE BINARY)",
    "CREATE TABLE prop(item_id BIGINT NOT NULL, name VARCHAR(255) CHARACTER SET OCTETS NOT NULL,"
    " v BLOB SUB_TYPE BINARY, PRIMARY KEY(item_id, name))",
    "ALTER TABLE folder ADD sync_state BLOB SUB_TYPE BINARY",
    "ALTER TABLE item ADD big BLOB SUB_TYPE BINARY, ADD fts_text BLOB SUB_TYPE BINARY",
    "ALTER TABLE journal ADD payload BLOB SUB_TYPE BINARY",
    "ALTER TABLE uid_snapshot ADD data BLOB SUB_TYPE BINARY",
    "EXECUTE BLOCK AS DECLARE sp SMALLINT; DECLARE a BIGINT; DECLARE k VARCHAR(500) CHARACTER SET OCTETS;"
    " DECLARE d VARCHAR(15000) CHARACTER SET OCTETS; DECLARE bl BLOB SUB_TYPE BINARY; BEGIN"
    " FOR SELECT DISTINCT space, k1, k2 FROM val INTO :sp, :a, :k DO BEGIN"
    "  bl = CAST('' AS BLOB SUB_TYPE BINARY);"
    "  FOR SELECT data FROM val WHERE space=:sp AND k1=:a AND k2=:k ORDER BY part INTO :d DO bl = bl || d;"
    "  IF (sp = 1) THEN INSERT INTO meta(k, v) VALUES(:k, :bl);"
    "  IF (sp = 2) THEN UPDATE folder SET sync_state=:bl WHERE id=:a;"
    "  IF (sp = 3) THEN UPDATE item SET big=:bl WHERE id=:a;"
    "  IF (sp = 4) THEN UPDATE item SET fts_text=:bl WHERE id=:a;"
    "  IF (sp = 5) THEN INSERT INTO prop(item_id, name, v) VALUES(:a, :k, :bl);"
    "  IF (sp = 6) THEN UPDATE journal SET payload=:bl WHERE seq=:a;"
    "  IF (sp = 7) THEN UPDATE uid_snapshot SET data=:bl WHERE folder_id=:a;"
    " END"
    " UPDATE folder SET sync_state=CAST(sync_in AS BLOB SUB_TYPE BINARY) WHERE sync_len<=4000;"
    " UPDATE journal SET payload=CAST(payload_in AS BLOB SUB_TYPE BINARY) WHERE payload_len<=1000; END",
    "DROP TRIGGER item_val_ad",
    "DROP TRIGGER folder_val_ad",
    "DROP TRIGGER journal_val_ad",
    "DROP TRIGGER uid_snapshot_val_ad",
    "DROP TABLE val",
    "ALTER TABLE folder DROP sync_len, DROP sync_in",
    "ALTER TABLE journal DROP payload_len, DROP payload_in",
    "ALTER TABLE content_part DROP crc",
    "UPDATE store_info SET ival=6 WHERE k='schema_version'",
    NULL,
};

static void to_v6(struct raw *r)
{
    for (int i = 0; to_v6_sql[i]; i++)
        raw_exec(r, to_v6_sql[i]);
}

static void db_path(struct fx *f, char *out, size_t n)
{
    snprintf(out, n, "%s/cache.fdb", f->dir);
}

/* Closes the plugin's instance and attaches to its file (path: its name). */
static void reattach_raw(struct fx *f, struct raw *r, char *path, size_t n)
{
    fx_close_instance(f, f->s);
    f->s = NULL;
    db_path(f, path, n);
    raw_attach(r, path);
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

    /* back to schema 4: the bytes in `content` BLOB rows of at most 1 MiB */
    char path[4200];
    struct raw r;
    reattach_raw(f, &r, path, sizeof path);
    to_v6(&r);
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
    assert_int_equal(raw_int(&r, "SELECT ival FROM store_info WHERE k='schema_version'"), 9);
    assert_int_equal(raw_int(&r, "SELECT MAX(len) FROM content_part"), 15000);
    raw_detach(&r);
    free(big);
}

/* ---- schema 6 values ---- */

/* The whole UID+flags listing of a folder (n rows in *out). */
static size_t uf_list(struct fx *f, int64_t folder, struct fx_uf_row **out)
{
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_READ);
    struct outpost_cursor *c;
    OK(f->m->items_uid_flags(t, folder, 1, 0, &c));
    size_t n = fx_uf_collect(f, c, 0, out);
    f->m->rollback(t);
    return n;
}

static void check_meta(struct outpost_txn *t, struct fx *f, const char *key, const char *want, size_t n)
{
    const void *v = NULL;
    size_t len = 99;
    OK(f->m->meta_get(t, key, &v, &len));
    assert_int_equal(len, n);
    assert_memory_equal(v, want, n);
}

static void check_prop(struct outpost_txn *t, struct fx *f, int64_t item, const char *name, const char *want, size_t n)
{
    const void *v = NULL;
    size_t len = 99;
    OK(f->m->prop_get(t, item, name, &v, &len));
    assert_int_equal(len, n);
    assert_memory_equal(v, want, n);
}

/* want NULL: no state (not an empty one). */
static void check_sync(struct outpost_txn *t, struct fx *f, int64_t folder, const char *want, size_t n)
{
    const outpost_folder *fo;
    OK(f->m->folder_get(t, folder, &fo));
    if (!want) {
        assert_null(fo->sync_state);
        return;
    }
    assert_non_null(fo->sync_state);
    assert_int_equal(fo->sync_state_len, n);
    assert_memory_equal(fo->sync_state, want, n);
}

static size_t search(struct fx *f, int64_t folder, const char *q, int64_t want_id)
{
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_READ);
    struct outpost_cursor *c;
    OK(f->m->fts_search(t, folder, q, &c));
    size_t n = 0;
    int seen = 0;
    const void *row;
    for (;;) {
        OK(f->m->cursor_next(c, &row));
        if (!row)
            break;
        n++;
        seen |= ((const outpost_item *)row)->id == want_id;
    }
    f->m->cursor_close(c);
    f->m->rollback(t);
    assert_true(want_id == 0 || seen);
    return n;
}

#define JN 4

static void test_v6_blob_values_migrate(void **state)
{
    struct fx *f = *state;
    char *sync_big = pattern(10000, 11), *meta_big = pattern(40000, 12), *prop_big = pattern(20000, 13);
    char *pay_big = pattern(5000, 14);
    char subject[700], to[1600], rid[320], kw[400];
    memset(subject, 's', sizeof subject - 1);
    subject[sizeof subject - 1] = 0;
    memcpy(subject, "lighthouse ", 11);
    memset(to, 't', sizeof to - 1);
    to[sizeof to - 1] = 0;
    memset(rid, 'r', sizeof rid - 1);
    rid[sizeof rid - 1] = 0;
    for (size_t i = 0; i + 1 < sizeof kw; i++)
        kw[i] = i % 10 == 9 ? ' ' : (char)('a' + i % 10);
    kw[sizeof kw - 1] = 0;
    /* a token text of several parts: 3000 distinct words */
    size_t wn = 0;
    char *words = malloc(3000 * 8 + 64);
    wn += (size_t)sprintf(words, "Subject: many words\r\n\r\n");
    for (int i = 0; i < 3000; i++)
        wn += (size_t)sprintf(words + wn, "w%05d ", i);

    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t fa = fx_folder(f, t, 0, "A", OUTPOST_ITEM_MAIL), fb = fx_folder(f, t, 0, "B", OUTPOST_ITEM_MAIL);
    int64_t fc = fx_folder(f, t, 0, "C", OUTPOST_ITEM_MAIL), fd = fx_folder(f, t, 0, "D", OUTPOST_ITEM_MAIL);
    int64_t fl = fx_folder(f, t, 0, "Large", OUTPOST_ITEM_MAIL);
    OK(f->m->folder_set_sync_state(t, fa, "state-A", 7));
    OK(f->m->folder_set_sync_state(t, fb, sync_big, 10000));
    OK(f->m->folder_set_sync_state(t, fc, "", 0));
    OK(f->m->meta_set(t, "t.small", "abc", 3));
    OK(f->m->meta_set(t, "t.empty", "", 0));
    OK(f->m->meta_set(t, "t.big", meta_big, 40000));
    outpost_item it = fx_item_template(fa, OUTPOST_ITEM_MAIL, 0, subject);
    it.to = to;
    it.remote_id = rid;
    it.keywords = kw;
    OK(f->m->item_put(t, &it));
    int64_t long_item = it.id;
    int64_t plain = fx_put(f, t, fa, OUTPOST_ITEM_MAIL, 0, "budget harbour", "Subject: budget harbour\r\n\r\nbody\r\n");
    int64_t wordy = fx_put(f, t, fa, OUTPOST_ITEM_MAIL, 0, "many words", words);
    OK(f->m->prop_set(t, plain, "t.small", "x", 1));
    OK(f->m->prop_set(t, plain, "t.empty", "", 0));
    OK(f->m->prop_set(t, plain, "t.big", prop_big, 20000));
    const void *pays[JN] = { NULL, "", "source_id=7", pay_big };
    size_t plens[JN] = { 0, 0, 11, 5000 };
    int64_t seqs[JN];
    for (int i = 0; i < JN; i++) {
        outpost_journal_entry e;
        memset(&e, 0, sizeof e);
        e.struct_size = sizeof e;
        e.op = OUTPOST_J_ITEM_CREATE;
        e.item_id = plain;
        e.folder_id = fa;
        e.payload = pays[i];
        e.payload_len = plens[i];
        OK(f->m->journal_append(t, &e));
        seqs[i] = e.seq;
    }
    /* enough changes for a listing snapshot; some keywords overflow */
    for (int i = 0; i < 1100; i++) {
        outpost_item x = fx_item_template(fl, OUTPOST_ITEM_MAIL, (uint32_t)i % 3, "bulk");
        x.keywords = i % 100 == 0 ? kw : i % 7 == 0 ? "$Label1" : NULL;
        OK(f->m->item_put(t, &x));
    }
    OK(f->m->commit(t));
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    OK(f->m->fts_index(t, 0, NULL, NULL));
    OK(f->m->commit(t));
    assert_int_equal(search(f, fa, "w02999", wordy), 1);
    struct fx_uf_row *before;
    size_t nbefore = uf_list(f, fl, &before);
    assert_int_equal(nbefore, 1100);

    char path[4200];
    struct raw r;
    reattach_raw(f, &r, path, sizeof path);
    assert_true(raw_int(&r, "SELECT count(*) FROM val WHERE space=7") > 0); /* the snapshot exists */
    to_v6(&r);
    assert_int_equal(raw_int(&r, "SELECT count(*) FROM uid_snapshot WHERE data IS NULL"), 0);
    assert_int_equal(raw_int(&r, "SELECT count(*) FROM item WHERE fts_text IS NULL"), 0);
    assert_int_equal(raw_int(&r, "SELECT count(*) FROM folder WHERE sync_state IS NULL"), 2); /* D, Large */
    assert_int_equal(raw_int(&r, "SELECT count(*) FROM journal WHERE payload IS NULL"), 1);
    raw_detach(&r);

    fx_instance(f, &f->s); /* migrates 6 → 8 */
    OK(f->m->integrity_check(f->s));
    t = fx_begin(f, OUTPOST_TXN_READ);
    check_sync(t, f, fa, "state-A", 7);
    check_sync(t, f, fb, sync_big, 10000);
    check_sync(t, f, fc, "", 0);
    check_sync(t, f, fd, NULL, 0);
    check_meta(t, f, "t.small", "abc", 3);
    check_meta(t, f, "t.empty", "", 0);
    check_meta(t, f, "t.big", meta_big, 40000);
    check_prop(t, f, plain, "t.small", "x", 1);
    check_prop(t, f, plain, "t.empty", "", 0);
    check_prop(t, f, plain, "t.big", prop_big, 20000);
    const outpost_item *g;
    OK(f->m->item_get(t, long_item, &g));
    assert_string_equal(g->subject, subject);
    assert_string_equal(g->to, to);
    assert_string_equal(g->remote_id, rid);
    assert_string_equal(g->keywords, kw);
    OK(f->m->item_find_remote(t, fa, rid, &g));
    assert_int_equal(g->id, long_item);
    struct outpost_cursor *c;
    OK(f->m->journal_list(t, 0, &c));
    const void *row;
    for (int i = 0; i < JN; i++) {
        OK(f->m->cursor_next(c, &row));
        assert_non_null(row);
        const outpost_journal_entry *e = row;
        assert_int_equal(e->seq, seqs[i]);
        if (!pays[i]) {
            assert_null(e->payload);
        } else {
            assert_non_null(e->payload);
            assert_int_equal(e->payload_len, plens[i]);
            assert_memory_equal(e->payload, pays[i], plens[i]);
        }
    }
    OK(f->m->cursor_next(c, &row));
    assert_null(row);
    f->m->cursor_close(c);
    f->m->rollback(t);
    assert_int_equal(search(f, fa, "lighthouse", long_item), 1);
    assert_int_equal(search(f, fa, "arbour", plain), 1);
    assert_int_equal(search(f, fa, "w02999", wordy), 1);
    assert_int_equal(search(f, fa, "w00000", wordy), 1);
    struct fx_uf_row *after;
    size_t nafter = uf_list(f, fl, &after);
    fx_uf_same(before, nbefore, after, nafter);

    /* later writes replace values whole and deletes take them along */
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    OK(f->m->folder_set_sync_state(t, fa, sync_big, 9000));     /* inline → val */
    OK(f->m->folder_set_sync_state(t, fb, "short", 5));         /* val → inline */
    OK(f->m->folder_set_sync_state(t, fc, NULL, 0));            /* empty → none */
    OK(f->m->meta_set(t, "t.big", "now short", 9));             /* three parts → one */
    OK(f->m->meta_set(t, "t.small", NULL, 0));
    OK(f->m->prop_set(t, plain, "t.small", NULL, 0));
    OK(f->m->item_set_flags(t, long_item, OUTPOST_FLAG_SEEN, "$Short", NULL)); /* keywords back inline */
    OK(f->m->journal_set_state(t, seqs[3], OUTPOST_JS_DONE, NULL, NULL));
    uint64_t pruned = 0;
    OK(f->m->journal_prune(t, INT64_MAX, &pruned));
    assert_int_equal(pruned, 1);
    OK(f->m->item_delete(t, wordy));
    OK(f->m->commit(t));
    OK(f->m->integrity_check(f->s));
    t = fx_begin(f, OUTPOST_TXN_READ);
    check_sync(t, f, fa, sync_big, 9000);
    check_sync(t, f, fb, "short", 5);
    check_sync(t, f, fc, NULL, 0);
    check_meta(t, f, "t.big", "now short", 9);
    const void *v;
    size_t len;
    EXPECT(f->m->meta_get(t, "t.small", &v, &len), OUTPOST_GONE);
    EXPECT(f->m->prop_get(t, plain, "t.small", &v, &len), OUTPOST_GONE);
    check_prop(t, f, plain, "t.big", prop_big, 20000);
    OK(f->m->item_get(t, long_item, &g));
    assert_string_equal(g->keywords, "$Short");
    assert_string_equal(g->to, to);
    f->m->rollback(t);
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    OK(f->m->item_delete(t, plain));
    OK(f->m->folder_delete(t, fl));
    OK(f->m->folder_delete(t, fa));
    OK(f->m->commit(t));
    OK(f->m->integrity_check(f->s));
    fx_close_instance(f, f->s);
    f->s = NULL;

    raw_attach(&r, path);
    assert_int_equal(raw_int(&r, "SELECT ival FROM store_info WHERE k='schema_version'"), 9);
    assert_int_equal(raw_int(&r, "SELECT count(*) FROM rdb$relation_fields f JOIN rdb$fields t"
                                 " ON t.rdb$field_name=f.rdb$field_source WHERE t.rdb$field_type=261"
                                 " AND COALESCE(f.rdb$system_flag, 0)=0"), 0); /* no BLOB column left */
    /* what is left: meta t.empty and t.big, folder B's nothing (inline) */
    assert_int_equal(raw_int(&r, "SELECT count(*) FROM val"), 2);
    raw_detach(&r);
    free(words);
    free(sync_big);
    free(meta_big);
    free(prop_big);
    free(pay_big);
}

/* A byte of a content row changed on disk (Firebird 3 keeps no page checksums):
 * reading that item fails with BAD_DATA naming it, the other items read, and
 * the integrity check names item, UID and folder. Rows from before schema 9
 * (no CRC) read as they are. */
static void test_damaged_content_found(void **state)
{
    struct fx *f = *state;
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t folder = fx_folder(f, t, 0, "INBOX", OUTPOST_ITEM_MAIL);
    const size_t n = 40000; /* three rows */
    char *body = pattern(n, 3);
    int64_t a = fx_put(f, t, folder, OUTPOST_ITEM_MAIL, 0, "damaged", NULL);
    OK(f->m->content_write(t, a, 0, body, n));
    OK(f->m->content_finish(t, a, OUTPOST_CONTENT_COMPLETE));
    const char *ok_body = "Subject: fine\r\n\r\nuntouched\r\n";
    int64_t b = fx_put(f, t, folder, OUTPOST_ITEM_MAIL, 0, "fine", ok_body);
    const char *old_body = "Subject: old\r\n\r\nwritten before checksums\r\n";
    int64_t c = fx_put(f, t, folder, OUTPOST_ITEM_MAIL, 0, "old", old_body);
    OK(f->m->commit(t));
    OK(f->m->integrity_check(f->s));

    char path[4200];
    struct raw r;
    reattach_raw(f, &r, path, sizeof path);
    assert_int_equal(raw_int(&r, "SELECT count(*) FROM content_part WHERE crc IS NULL"), 0);
    char sql[300];
    /* the middle row of a: one byte changed, its length kept */
    snprintf(sql, sizeof sql,
             "UPDATE content_part SET data=OVERLAY(data PLACING (CASE WHEN SUBSTRING(data FROM 100 FOR 1)='A'"
             " THEN 'B' ELSE 'A' END) FROM 100 FOR 1) WHERE item_id=%lld AND off=15000", (long long)a);
    raw_exec(&r, sql);
    snprintf(sql, sizeof sql, "UPDATE content_part SET crc=NULL WHERE item_id=%lld", (long long)c);
    raw_exec(&r, sql);
    raw_detach(&r);

    fx_instance(f, &f->s);
    t = fx_begin(f, OUTPOST_TXN_READ);
    char *got = malloc(n);
    size_t g = 0;
    OK(f->m->content_read(t, a, 0, got, 1000, &g)); /* the first row is intact */
    assert_memory_equal(got, body, g);
    f->m->rollback(t);
    t = fx_begin(f, OUTPOST_TXN_READ);
    EXPECT(f->m->content_read(t, a, 14000, got, 5000, &g), OUTPOST_BAD_DATA);
    f->m->rollback(t);
    read_back(f, b, ok_body, strlen(ok_body));
    read_back(f, c, old_body, strlen(old_body));
    outpost_status st = f->m->integrity_check(f->s);
    assert_int_equal(st.code, OUTPOST_FATAL);
    snprintf(sql, sizeof sql, "content of item %lld (UID ", (long long)a);
    assert_non_null(st.message);
    assert_non_null(strstr(st.message, sql));
    assert_non_null(strstr(st.message, "in INBOX) at offset 15000 does not match its checksum"));
    /* dropping the damaged content (what `outpost check --repair` does) mends the cache */
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    OK(f->m->content_drop(t, a));
    OK(f->m->commit(t));
    OK(f->m->integrity_check(f->s));
    free(got);
    free(body);
}

static void test_newer_schema_refused(void **state)
{
    struct fx *f = *state;
    char path[4200];
    struct raw r;
    reattach_raw(f, &r, path, sizeof path);
    raw_exec(&r, "UPDATE store_info SET ival=999 WHERE k='schema_version'");
    raw_detach(&r);
    fx_open_refused(f, "newer");
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
        cmocka_unit_test_setup_teardown(test_v6_blob_values_migrate, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_damaged_content_found, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
