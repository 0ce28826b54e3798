/* sqlite_schema.c — SQLite plugin only: schema versioning.
 *
 * A cache written by a newer Outpost is refused; a cache of the previous
 * schema (v1, before full-text search) is migrated forward and its items
 * become searchable; a v2 cache (raw content rows) reads back and appends
 * after its migration to compressed rows; a full-text index without its term
 * list gets one; a foreign SQLite file is refused; bad config is refused
 * at create(); the index holds the terms SQLite's own unicode61 makes. Opens
 * the files with libsqlite3 directly to set them up.
 * Also: new caches get 16 KiB pages (old ones keep theirs and work), a
 * write is copied from the WAL into the cache file once the instance idles,
 * and a WAL past 64 MiB is truncated then.
 */
#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>

#include "storage_fixture.h"

/* the schema version this plugin writes (storage/sqlite/sq_internal.h SQ_SCHEMA_VERSION) */
#define SCHEMA 5

struct test_storage_plugin g_plugin;

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err ? err : "?");
    sqlite3_close(db);
}

static int raw_int(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void db_path(struct fx *f, char *out, size_t n)
{
    snprintf(out, n, "%s/cache.sqlite", f->dir);
}

/* Puts one item into a new folder, commits and closes the instance, so the
 * test can rework the file; returns the item id. */
static int64_t one_item_closed(struct fx *f, const char *subject, const char *content, int64_t *folder,
                               char *path, size_t n)
{
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    *folder = fx_folder(f, t, 0, "INBOX", OUTPOST_ITEM_MAIL);
    int64_t id = fx_put(f, t, *folder, OUTPOST_ITEM_MAIL, 0, subject, content);
    OK(f->m->commit(t));
    fx_close_instance(f, f->s);
    f->s = NULL;
    db_path(f, path, n);
    return id;
}

/* The cache as schema 4 had it: no trigger keeping deleted ids. */
static void back_to_v4(const char *path)
{
    raw_exec(path, "DROP TRIGGER folder_id_hw; DROP TRIGGER item_id_hw;"
                   "UPDATE store_info SET value=4 WHERE key='schema_version'; PRAGMA user_version=4;");
}

/* The content table as schema 2 had it (its rows must be raw already); schema 4's tables. */
static void content_back_to_v2(const char *path)
{
    back_to_v4(path);
    raw_exec(path, "DROP INDEX content_range;"
                   "ALTER TABLE content DROP COLUMN codec; ALTER TABLE content DROP COLUMN len;"
                   "CREATE UNIQUE INDEX content_range ON content(item_id, off);");
}

/* A cache of schema 4 gains the trigger: from then on, deleting the newest item (or folder)
 * does not let its id be given again. */
static void test_v4_ids_kept_after_migration(void **state)
{
    struct fx *f = *state;
    char path[4200];
    int64_t a;
    int64_t first = one_item_closed(f, "before", NULL, &a, path, sizeof path);
    back_to_v4(path);
    fx_instance(f, &f->s);
    assert_int_equal(raw_int(path, "PRAGMA user_version"), SCHEMA);
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t b = fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "b", NULL);
    int64_t sub = fx_folder(f, t, a, "Sub", OUTPOST_ITEM_MAIL);
    OK(f->m->commit(t));
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    OK(f->m->item_delete(t, b));
    OK(f->m->folder_delete(t, sub));
    OK(f->m->commit(t));
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t c = fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "c", NULL);
    int64_t sub2 = fx_folder(f, t, a, "Sub2", OUTPOST_ITEM_MAIL);
    OK(f->m->commit(t));
    assert_true(b > first);
    assert_true(c > b);
    assert_true(sub2 > sub);
}

static void test_newer_schema_refused(void **state)
{
    struct fx *f = *state;
    fx_close_instance(f, f->s);
    f->s = NULL;
    char path[4200];
    db_path(f, path, sizeof path);
    int v = raw_int(path, "PRAGMA user_version");
    assert_true(v >= 1);
    raw_exec(path, "PRAGMA user_version=999");
    fx_open_refused(f, "newer");
    assert_int_equal(raw_int(path, "PRAGMA user_version"), 999); /* untouched */
}

static void test_migrates_v1_forward(void **state)
{
    struct fx *f = *state;
    char path[4200];
    int64_t a;
    int64_t id = one_item_closed(f, "ancient", "Subject: ancient\r\n\r\npterodactyl\r\n", &a, path, sizeof path);
    /* turn it back into a v1 cache: no full-text search, raw content */
    raw_exec(path, "UPDATE content SET data=CAST('Subject: ancient\r\n\r\npterodactyl\r\n' AS BLOB),"
                   " codec=0, len=NULL;");
    content_back_to_v2(path);
    raw_exec(path, "DROP TABLE fts; DROP INDEX item_fts_doc; ALTER TABLE item DROP COLUMN fts_doc;"
                   "DELETE FROM store_info WHERE key IN ('fts_next_doc','fts_garbage');"
                   "UPDATE store_info SET value=1 WHERE key='schema_version'; PRAGMA user_version=1;");
    fx_instance(f, &f->s);
    assert_int_equal(raw_int(path, "PRAGMA user_version"), SCHEMA);
    assert_int_equal(raw_int(path, "SELECT value FROM store_info WHERE key='schema_version'"), SCHEMA);
    struct outpost_txn *t;
    t = fx_begin(f, OUTPOST_TXN_READ);
    struct outpost_cursor *c;
    OK(f->m->fts_search(t, a, "pterodactyl", &c));
    const void *row;
    OK(f->m->cursor_next(c, &row));
    assert_non_null(row);
    assert_int_equal(((const outpost_item *)row)->id, id);
    f->m->cursor_close(c);
    f->m->rollback(t);
    OK(f->m->integrity_check(f->s));
}

static unsigned char v2_byte(uint64_t pos)
{
    return (unsigned char)("0123456789abcdef"[(pos * 7 + (pos >> 9)) & 15]);
}

/* Inserts raw content rows as schema 2 wrote them: SQ_CHUNK (128 KiB) rows, no
 * len or codec. */
static void v2_rows(const char *path, int64_t item, size_t total)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO content(item_id, off, data) VALUES(?1, ?2, ?3)", -1,
                                        &st, NULL),
                     SQLITE_OK);
    unsigned char *row = malloc(131072);
    for (size_t off = 0; off < total; off += 131072) {
        size_t n = total - off < 131072 ? total - off : 131072;
        for (size_t i = 0; i < n; i++)
            row[i] = v2_byte(off + i);
        sqlite3_bind_int64(st, 1, item);
        sqlite3_bind_int64(st, 2, (int64_t)off);
        sqlite3_bind_blob(st, 3, row, (int)n, SQLITE_TRANSIENT);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
    }
    free(row);
    sqlite3_finalize(st);
    char sql[160];
    snprintf(sql, sizeof sql, "UPDATE item SET content_state=2, cached_size=%zu WHERE id=%lld", total,
             (long long)item);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void expect_v2_bytes(struct fx *f, struct outpost_txn *t, int64_t id, uint64_t from, size_t len)
{
    unsigned char *buf = malloc(len);
    size_t got = 0;
    OK(f->m->content_read(t, id, from, buf, len, &got));
    assert_int_equal(got, len);
    for (size_t i = 0; i < len; i++)
        if (buf[i] != v2_byte(from + i))
            fail_msg("byte %llu differs", (unsigned long long)(from + i));
    free(buf);
}

/* A schema 2 cache (raw content rows) opens as schema 3: its content reads
 * back by range, and appending to it reopens its last raw row; new content
 * is compressed unless it does not shrink. */
static void test_reads_v2_content(void **state)
{
    struct fx *f = *state;
    char path[4200];
    int64_t a;
    int64_t id = one_item_closed(f, "old", NULL, &a, path, sizeof path);
    content_back_to_v2(path);
    raw_exec(path, "UPDATE store_info SET value=2 WHERE key='schema_version'; PRAGMA user_version=2;");
    struct outpost_txn *t;
    const size_t old = 2 * 131072 + 1000;
    v2_rows(path, id, old);
    fx_instance(f, &f->s);
    assert_int_equal(raw_int(path, "PRAGMA user_version"), SCHEMA);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM content WHERE len IS NULL AND codec=0"), 3);

    t = fx_begin(f, OUTPOST_TXN_READ);
    expect_v2_bytes(f, t, id, 0, old);
    expect_v2_bytes(f, t, id, 131071, 2);
    expect_v2_bytes(f, t, id, 65535, 131074);
    expect_v2_bytes(f, t, id, old - 1, 1);
    f->m->rollback(t);

    /* append: the short last row (1000 bytes) is reopened and rewritten */
    const size_t more = 150000;
    unsigned char *buf = malloc(more);
    for (size_t i = 0; i < more; i++)
        buf[i] = v2_byte(old + i);
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    OK(f->m->content_write(t, id, old, buf, more));
    OK(f->m->content_finish(t, id, OUTPOST_CONTENT_COMPLETE));
    /* incompressible content is kept as it is, with a CRC-32 after it */
    int64_t noise = fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "noise", NULL);
    uint64_t x = 0x2545F4914F6CDD1Dull;
    for (size_t i = 0; i < more; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (unsigned char)(x >> 32);
    }
    OK(f->m->content_write(t, noise, 0, buf, more));
    OK(f->m->content_finish(t, noise, OUTPOST_CONTENT_COMPLETE));
    OK(f->m->commit(t));
    free(buf);
    fx_reopen(f);
    t = fx_begin(f, OUTPOST_TXN_READ);
    const outpost_item *it;
    OK(f->m->item_get(t, id, &it));
    assert_int_equal(it->cached_size, old + more);
    expect_v2_bytes(f, t, id, 0, old + more);
    expect_v2_bytes(f, t, id, old - 10, 20);
    f->m->rollback(t);
    char sql[200];
    /* the two full raw rows stay as they were; the rest is new, compressed rows */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM content WHERE item_id=%lld AND len IS NULL", (long long)id);
    assert_int_equal(raw_int(path, sql), 2);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM content WHERE item_id=%lld AND codec=1 AND len<=65536 AND length(data)<len",
             (long long)id);
    assert_int_equal(raw_int(path, sql), 3);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM content WHERE item_id=%lld AND (codec<>2 OR length(data)<>len+4)", (long long)noise);
    assert_int_equal(raw_int(path, sql), 0);
    OK(f->m->integrity_check(f->s));
}

/* The id of the only hit of `q`, 0 when none (fails on more). */
static int64_t only_hit(struct fx *f, struct outpost_txn *t, int64_t folder, const char *q)
{
    struct outpost_cursor *c;
    const void *row;
    int64_t id = 0;
    OK(f->m->fts_search(t, folder, q, &c));
    OK(f->m->cursor_next(c, &row));
    if (row) {
        id = ((const outpost_item *)row)->id;
        OK(f->m->cursor_next(c, &row));
        assert_null(row);
    }
    f->m->cursor_close(c);
    return id;
}

/* An index built before its term list (fts_term) existed: read transactions
 * search its vocabulary directly, the first write lists its terms without
 * indexing anything again. */
static void test_fts_term_list_added(void **state)
{
    struct fx *f = *state;
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t a = fx_folder(f, t, 0, "INBOX", OUTPOST_ITEM_MAIL);
    int64_t id = fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "ancient", "Subject: ancient\r\n\r\npterodactyl\r\n");
    assert_int_equal(only_hit(f, t, a, "pterodactyl"), id); /* indexes it */
    OK(f->m->commit(t));
    fx_close_instance(f, f->s);
    f->s = NULL;
    char path[4200];
    db_path(f, path, sizeof path);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM fts_term WHERE term='pterodactyl'"), 1);
    raw_exec(path, "DROP TABLE fts_term; DELETE FROM store_info WHERE key='fts_terms';");
    fx_instance(f, &f->s);
    t = fx_begin(f, OUTPOST_TXN_READ);
    assert_int_equal(only_hit(f, t, a, "ERODACT"), id);
    assert_int_equal(only_hit(f, t, a, "erodactyx"), 0);
    f->m->rollback(t);
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t id2 = fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "newer", "Subject: newer\r\n\r\narchaeopteryx\r\n");
    assert_int_equal(only_hit(f, t, a, "aeopter"), id2);
    assert_int_equal(only_hit(f, t, a, "odacty"), id);
    OK(f->m->commit(t));
    fx_close_instance(f, f->s);
    f->s = NULL;
    assert_int_equal(raw_int(path, "SELECT value FROM store_info WHERE key='fts_terms'"), 3); /* = fts_next_doc */
    assert_int_equal(raw_int(path, "SELECT count(*) FROM fts_term WHERE term IN ('pterodactyl','archaeopteryx')"), 2);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM item WHERE fts_doc IS NULL"), 0);
    assert_int_equal(raw_int(path, "SELECT value FROM store_info WHERE key='fts_next_doc'"), 3); /* not re-indexed */
    /* the merge setting reaches an index made without it */
    raw_exec(path, "DELETE FROM fts_config WHERE k='automerge'");
    fx_instance(f, &f->s);
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    OK(f->m->fts_index(t, 0, NULL, NULL));
    OK(f->m->commit(t));
    fx_close_instance(f, f->s);
    f->s = NULL;
    assert_int_equal(raw_int(path, "SELECT v FROM fts_config WHERE k='automerge'"), 8);
    fx_instance(f, &f->s);
    t = fx_begin(f, OUTPOST_TXN_READ);
    assert_int_equal(only_hit(f, t, a, "terodac"), id);
    assert_int_equal(only_hit(f, t, a, "PTERYX"), id2);
    f->m->rollback(t);
    /* a document added by a writer that does not list terms: the list no
     * longer counts as complete (documents without headers are
     * test_fts_headers_added's case) */
    fx_close_instance(f, f->s);
    f->s = NULL;
    raw_exec(path, "DELETE FROM fts_term WHERE term='archaeopteryx';"
                   "UPDATE store_info SET value=4 WHERE key IN ('fts_next_doc', 'fts_all_headers');");
    fx_instance(f, &f->s);
    t = fx_begin(f, OUTPOST_TXN_READ);
    assert_int_equal(only_hit(f, t, a, "PTERYX"), id2);
    f->m->rollback(t);
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    assert_int_equal(only_hit(f, t, a, "PTERYX"), id2);
    OK(f->m->commit(t));
    assert_int_equal(raw_int(path, "SELECT count(*) FROM fts_term WHERE term='archaeopteryx'"), 1);
    assert_int_equal(raw_int(path, "SELECT value FROM store_info WHERE key='fts_terms'"), 4);
    OK(f->m->integrity_check(f->s));
}

/* The plugin tokenizes through its own unicode61 (ASCII words folded
 * without SQLite's per-character work, the rest handed to SQLite's): its
 * index must hold exactly the terms SQLite's unicode61 makes of the same
 * text, in mixed, non-ASCII, invalid UTF-8 and long input, so that either
 * can read and extend an index the other wrote. */
static void test_fts_tokens_as_unicode61(void **state)
{
    struct fx *f = *state;
    static const char *const text[][2] = {
        { "R\xc3\xa9sum\xc3\xa9 NA\xc3\x8fVE fa\xc3\xa7" "ade", "MiXeD-case_under ABCdef123 a.b,c;d\te\r\nf" },
        { "abc\xc3\xa9" "def \xce\xa9mega \xce\xa3\xce\x8a\xce\xa3\xce\xa5\xce\xa6\xce\x9f\xce\xa3",
          "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88 "
          "\xef\xac\x81 \xc4\xb0stanbul \xc7\x85 e\xcc\x81t\xc3\xa9 0000 \xc2\xbd x\xc2\xb2 \xe2\x80\x94" "dash\xe2\x80\x94" },
        { "foo\xff\xfe" "bar baz\xc3", "\x80lone tail\xe2\x82 AB\xc3" "CD \xf0\x9f\x98\x80smile\xf0\x9f\x98\x80 \xef\xbf\xbe" },
        { "ABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJ", "" },
    };
    size_t n = sizeof text / sizeof text[0];
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t notes = fx_folder(f, t, 0, "Notes", OUTPOST_ITEM_NOTE);
    for (size_t i = 0; i < n; i++)
        fx_put(f, t, notes, OUTPOST_ITEM_NOTE, 0, text[i][0], text[i][1]);
    uint32_t indexed = 0;
    OK(f->m->fts_index(t, 0, &indexed, NULL));
    assert_int_equal(indexed, n);
    assert_int_not_equal(only_hit(f, t, notes, "RESUM"), 0);
    assert_int_not_equal(only_hit(f, t, notes, "cdefghija"), 0);
    OK(f->m->commit(t));
    fx_close_instance(f, f->s);
    f->s = NULL;
    char path[4200];
    db_path(f, path, sizeof path);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *err = NULL;
    if (sqlite3_exec(db,
                     "CREATE VIRTUAL TABLE temp.ref USING fts5(body, tokenize='unicode61 remove_diacritics 2',"
                     " detail=none);"
                     "CREATE VIRTUAL TABLE temp.ref_v USING fts5vocab(temp, ref, row);"
                     "CREATE VIRTUAL TABLE temp.idx_v USING fts5vocab(main, fts, row);",
                     NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s", err ? err : "?");
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO temp.ref(body) VALUES(?1 || char(10) || ?2)", -1, &st, NULL),
                     SQLITE_OK);
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_text(st, 1, text[i][0], -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, text[i][1], -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    static const char *const checks[] = {
        "SELECT count(*) FROM (SELECT term, doc FROM temp.ref_v EXCEPT SELECT term, doc FROM temp.idx_v)",
        "SELECT count(*) FROM (SELECT term, doc FROM temp.idx_v EXCEPT SELECT term, doc FROM temp.ref_v)",
        "SELECT count(*) < 30 FROM temp.ref_v",
    };
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        assert_int_equal(sqlite3_prepare_v2(db, checks[i], -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        if (sqlite3_column_int(st, 0) != 0)
            fail_msg("%s: %d", checks[i], sqlite3_column_int(st, 0));
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
}

/* An index whose documents lack the messages' header fields (written by an
 * Outpost before OUTPOST_STORAGE_CAP_FTS_ALL_HEADERS): read transactions
 * index the searched items privately, the first write empties the index
 * and indexes everything again. */
static void test_fts_headers_added(void **state)
{
    struct fx *f = *state;
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t a = fx_folder(f, t, 0, "INBOX", OUTPOST_ITEM_MAIL);
    int64_t id = fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "ancient",
                        "Subject: ancient\r\nX-Mailer: Zebumail\r\n\r\npterodactyl\r\n");
    OK(f->m->commit(t));
    fx_close_instance(f, f->s);
    f->s = NULL;
    char path[4200];
    db_path(f, path, sizeof path);
    /* the document the older Outpost made: summary and body only */
    raw_exec(path, "CREATE TABLE IF NOT EXISTS fts_term(term TEXT PRIMARY KEY) WITHOUT ROWID;"
                   "INSERT INTO fts(rowid, subject, addrs, body) VALUES(1, NULL, NULL, 'ancient pterodactyl');"
                   "INSERT INTO fts_term(term) VALUES('ancient'), ('pterodactyl');"
                   "UPDATE item SET fts_doc=1;"
                   "INSERT OR REPLACE INTO store_info(key, value) VALUES('fts_next_doc', 2), ('fts_terms', 2);"
                   "DELETE FROM store_info WHERE key='fts_all_headers';");
    fx_instance(f, &f->s);
    t = fx_begin(f, OUTPOST_TXN_READ);
    assert_int_equal(only_hit(f, t, a, "zebumail"), id);
    assert_int_equal(only_hit(f, t, a, "ODACT"), id);
    assert_int_equal(only_hit(f, t, a, "zebumailx"), 0);
    f->m->rollback(t);
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    uint32_t done = 0;
    uint64_t left = 9;
    OK(f->m->fts_index(t, 0, &done, &left));
    assert_int_equal(done, 1);
    assert_int_equal(left, 0);
    OK(f->m->commit(t));
    fx_close_instance(f, f->s);
    f->s = NULL;
    assert_int_equal(raw_int(path, "SELECT fts_doc FROM item"), 2);
    assert_int_equal(raw_int(path, "SELECT value FROM store_info WHERE key='fts_all_headers'"), 3);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM fts_term WHERE term='zebumail'"), 1);
    fx_instance(f, &f->s);
    t = fx_begin(f, OUTPOST_TXN_READ);
    assert_int_equal(only_hit(f, t, a, "EBUMAI"), id);
    assert_int_equal(only_hit(f, t, a, "pterodactyl"), id);
    f->m->rollback(t);
    OK(f->m->integrity_check(f->s));
}

static void test_foreign_database_refused(void **state)
{
    struct fx *f = *state;
    char path[4200];
    snprintf(path, sizeof path, "%s/other.sqlite", f->dir);
    raw_exec(path, "CREATE TABLE accounts(x)");
    struct test_host *th = test_host_new("storage", f->dir, (const char *const[]){ "path=other.sqlite", NULL });
    struct outpost_storage *s;
    OK(f->m->create(test_host_table(th), &s));
    outpost_status st = f->m->open(s);
    assert_int_equal(st.code, OUTPOST_FATAL);
    assert_non_null(strstr(st.message, "not an Outpost cache"));
    f->m->destroy(s);
    test_host_free(th);
}

static void test_config(void **state)
{
    struct fx *f = *state;
    struct outpost_storage *s;
    struct test_host *th = test_host_new("storage", f->dir, (const char *const[]){ "durability=sometimes", NULL });
    outpost_status st = f->m->create(test_host_table(th), &s);
    assert_int_equal(st.code, OUTPOST_BAD_DATA);
    assert_non_null(strstr(st.message, "durability"));
    assert_null(s);
    test_host_free(th);
    /* absolute path, normal durability, small cache */
    char abs[4200];
    snprintf(abs, sizeof abs, "path=%s/sub-cache.db", f->dir);
    th = test_host_new("storage", "/nonexistent", (const char *const[]){ abs, "durability=normal", "cache_mb=4", NULL });
    OK(f->m->create(test_host_table(th), &s));
    OK(f->m->open(s));
    OK(f->m->close(s));
    f->m->destroy(s);
    test_host_free(th);
    char path[4200];
    snprintf(path, sizeof path, "%s/sub-cache.db", f->dir);
    assert_int_equal(raw_int(path, "PRAGMA user_version"), SCHEMA);
    assert_int_equal(raw_int(path, "PRAGMA journal_mode='wal'") >= 0, 1);
    /* compress = none stores new content as it is (with a CRC-32); a bad value is refused */
    th = test_host_new("storage", f->dir, (const char *const[]){ "compress=lz77", NULL });
    st = f->m->create(test_host_table(th), &s);
    assert_int_equal(st.code, OUTPOST_BAD_DATA);
    assert_non_null(strstr(st.message, "compress"));
    test_host_free(th);
    th = test_host_new("storage", f->dir, (const char *const[]){ "path=raw.sqlite", "compress=none", NULL });
    OK(f->m->create(test_host_table(th), &s));
    OK(f->m->open(s));
    struct outpost_txn *t;
    OK(f->m->begin(s, OUTPOST_TXN_WRITE, &t));
    outpost_folder fo = { .struct_size = sizeof fo, .kind = OUTPOST_ITEM_MAIL, .name = "INBOX" };
    int64_t folder;
    OK(f->m->folder_create(t, &fo, &folder));
    outpost_item it = fx_item_template(folder, OUTPOST_ITEM_MAIL, 0, "raw");
    OK(f->m->item_put(t, &it));
    static char text[100000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = "compressible "[i % 13];
    OK(f->m->content_write(t, it.id, 0, text, sizeof text));
    OK(f->m->content_finish(t, it.id, OUTPOST_CONTENT_COMPLETE));
    OK(f->m->commit(t));
    OK(f->m->begin(s, OUTPOST_TXN_READ, &t));
    static char back[100000];
    size_t got = 0;
    OK(f->m->content_read(t, it.id, 0, back, sizeof back, &got));
    assert_int_equal(got, sizeof text);
    assert_memory_equal(back, text, sizeof text);
    f->m->rollback(t);
    OK(f->m->close(s));
    f->m->destroy(s);
    test_host_free(th);
    snprintf(path, sizeof path, "%s/raw.sqlite", f->dir);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM content WHERE codec=2 AND length(data)=len+4"), 2);
    /* the descriptor declares the keys it reads */
    const outpost_config_key *k = g_plugin.plugin->config_keys;
    int seen = 0;
    for (; k && k->name; k++)
        seen |= (!strcmp(k->name, "path")) | (!strcmp(k->name, "durability")) << 1 |
                (!strcmp(k->name, "cache_mb")) << 2;
    assert_int_equal(seen, 7);
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Opens a second store in the fixture's directory with [storage] settings
 * `cfg` and creates its INBOX; *th and *s are the caller's to free. */
static int64_t open_with_inbox(struct fx *f, const char *const *cfg, struct test_host **th,
                               struct outpost_storage **s)
{
    struct outpost_txn *t;
    *th = test_host_new("storage", f->dir, cfg);
    OK(f->m->create(test_host_table(*th), s));
    OK(f->m->open(*s));
    OK(f->m->begin(*s, OUTPOST_TXN_WRITE, &t));
    outpost_folder fo = { .struct_size = sizeof fo, .kind = OUTPOST_ITEM_MAIL, .name = "INBOX" };
    int64_t folder;
    OK(f->m->folder_create(t, &fo, &folder));
    OK(f->m->commit(t));
    return folder;
}

static void test_page_size(void **state)
{
    struct fx *f = *state;
    char path[4200];
    db_path(f, path, sizeof path);
    assert_int_equal(raw_int(path, "PRAGMA page_size"), 16384);
    /* a cache made with 4 KiB pages (before this change) keeps them and works */
    snprintf(path, sizeof path, "%s/old.sqlite", f->dir);
    raw_exec(path, "PRAGMA page_size=4096; PRAGMA journal_mode=WAL;");
    struct test_host *th;
    struct outpost_storage *s;
    open_with_inbox(f, (const char *const[]){ "path=old.sqlite", NULL }, &th, &s);
    OK(f->m->close(s));
    f->m->destroy(s);
    test_host_free(th);
    assert_int_equal(raw_int(path, "PRAGMA page_size"), 4096);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM folder"), 1);
}

/* n random base64 characters and a NUL (malloc'd): content is stored
 * compressed, this still takes 3/4 of its size. */
static char *random_b64(size_t n, uint64_t seed)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *big = malloc(n + 1);
    assert_non_null(big);
    uint64_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        big[i] = b64[x & 63];
    }
    big[n] = '\0';
    return big;
}

/* Commits one mail of n random base64 bytes (seed) in its own transaction; its id. */
static int64_t put_random(struct fx *f, struct outpost_storage *s, int64_t folder, size_t n, uint64_t seed)
{
    struct outpost_txn *t;
    char *big = random_b64(n, seed);
    OK(f->m->begin(s, OUTPOST_TXN_WRITE, &t));
    outpost_item it = fx_item_template(folder, OUTPOST_ITEM_MAIL, 0, "big");
    it.size = n;
    OK(f->m->item_put(t, &it));
    OK(f->m->content_write(t, it.id, 0, big, n));
    OK(f->m->content_finish(t, it.id, OUTPOST_CONTENT_COMPLETE));
    OK(f->m->commit(t));
    free(big);
    return it.id;
}

/* A content row damaged on disk (one byte of a compressed row, changed behind SQLite's back)
 * fails the integrity check, which names the item, and reading it fails instead of giving
 * other bytes: frames carry a checksum. */
static void test_damaged_content_found(void **state)
{
    struct fx *f = *state;
    char path[4200];
    db_path(f, path, sizeof path);
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t a = fx_folder(f, t, 0, "INBOX", OUTPOST_ITEM_MAIL);
    char text[20000];
    for (size_t i = 0; i < sizeof text - 1; i++)
        text[i] = "Dear team, the quarterly figures are attached.\r\n"[i % 48];
    text[sizeof text - 1] = '\0';
    int64_t id = fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "damaged", text);
    char sound[20000];
    for (size_t i = 0; i < sizeof sound - 1; i++)
        sound[i] = "Agenda: budget review, hiring, the new office.\r\n"[i % 48];
    sound[sizeof sound - 1] = '\0';
    int64_t ok_id = fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "sound", sound);
    OK(f->m->commit(t));
    OK(f->m->integrity_check(f->s));
    /* flip one byte in the middle of the stored frame (the instance is open: SQLite
     * serialises the two connections' writes) */
    char sql[300];
    snprintf(sql, sizeof sql,
             "UPDATE content SET data = substr(data, 1, length(data) / 2) ||"
             " (CASE WHEN substr(data, length(data) / 2 + 1, 1) = x'41' THEN x'42' ELSE x'41' END) ||"
             " substr(data, length(data) / 2 + 2) WHERE item_id = %lld AND codec = 1",
             (long long)id);
    char count[160];
    snprintf(count, sizeof count, "SELECT count(*) FROM content WHERE item_id = %lld AND codec = 1", (long long)id);
    assert_int_equal(raw_int(path, count), 1); /* one compressed row to damage */
    raw_exec(path, sql);
    outpost_status st = f->m->integrity_check(f->s);
    assert_int_not_equal(st.code, OUTPOST_OK);
    char want[64];
    snprintf(want, sizeof want, "content of item %lld (UID", (long long)id);
    if (!st.message || !strstr(st.message, want))
        fail_msg("integrity check: %s", st.message ? st.message : "(no message)");
    assert_non_null(strstr(st.message, "INBOX"));
    t = fx_begin(f, OUTPOST_TXN_READ);
    char got[sizeof text];
    size_t n = 0;
    st = f->m->content_read(t, id, 0, got, sizeof got, &n);
    assert_int_not_equal(st.code, OUTPOST_OK);
    /* a part of a sound row, a part of the damaged one (through the instance's buffer of the
     * last row read), the sound one again: its own bytes */
    OK(f->m->content_read(t, ok_id, 100, got, 500, &n));
    assert_memory_equal(got, sound + 100, 500);
    st = f->m->content_read(t, id, 100, got, 500, &n);
    assert_int_not_equal(st.code, OUTPOST_OK);
    OK(f->m->content_read(t, ok_id, 200, got, 500, &n));
    assert_int_equal(n, 500);
    assert_memory_equal(got, sound + 200, 500);
    f->m->rollback(t);
    /* the full-text index goes on: the item is found by its subject */
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    uint64_t left = 1;
    OK(f->m->fts_index(t, 1000, NULL, &left));
    assert_int_equal(left, 0);
    struct outpost_cursor *c;
    OK(f->m->fts_search(t, a, "damaged", &c));
    const void *row = NULL;
    OK(f->m->cursor_next(c, &row));
    assert_non_null(row);
    f->m->cursor_close(c);
    OK(f->m->commit(t));
}

/* The same for a row kept as it is (compress = none): its CRC-32 finds the changed byte;
 * the item's other rows still read, and a row written before schema 4 (codec 0, no CRC)
 * reads as it is. */
static void test_damaged_raw_content_found(void **state)
{
    struct fx *f = *state;
    struct test_host *th;
    struct outpost_storage *s;
    int64_t folder = open_with_inbox(f, (const char *const[]){ "path=plain.sqlite", "compress=none", NULL }, &th, &s);
    char path[4200];
    snprintf(path, sizeof path, "%s/plain.sqlite", f->dir);
    const size_t n = 150000; /* rows of 65536, 65536 and 18928 bytes */
    char *text = malloc(n), *got = malloc(n);
    for (size_t i = 0; i < n; i++)
        text[i] = "Minutes of the meeting, second draft.\r\n"[i % 39];
    struct outpost_txn *t;
    OK(f->m->begin(s, OUTPOST_TXN_WRITE, &t));
    outpost_item it = fx_item_template(folder, OUTPOST_ITEM_MAIL, 0, "plain");
    OK(f->m->item_put(t, &it));
    OK(f->m->content_write(t, it.id, 0, text, n));
    OK(f->m->content_finish(t, it.id, OUTPOST_CONTENT_COMPLETE));
    outpost_item old = fx_item_template(folder, OUTPOST_ITEM_MAIL, 0, "old");
    OK(f->m->item_put(t, &old));
    OK(f->m->content_write(t, old.id, 0, text, 1000));
    OK(f->m->content_finish(t, old.id, OUTPOST_CONTENT_COMPLETE));
    OK(f->m->commit(t));
    OK(f->m->integrity_check(s));
    char sql[400];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM content WHERE item_id=%lld AND codec=2", (long long)it.id);
    assert_int_equal(raw_int(path, sql), 3);
    /* the old item's row as a plugin before schema 4 wrote it; one byte of the middle row
     * of the other changed */
    snprintf(sql, sizeof sql, "UPDATE content SET data=substr(data, 1, len), codec=0 WHERE item_id=%lld",
             (long long)old.id);
    raw_exec(path, sql);
    snprintf(sql, sizeof sql,
             "UPDATE content SET data = substr(data, 1, 99) ||"
             " (CASE WHEN substr(data, 100, 1) = x'41' THEN x'42' ELSE x'41' END) || substr(data, 101)"
             " WHERE item_id = %lld AND off = 65536",
             (long long)it.id);
    raw_exec(path, sql);
    outpost_status st = f->m->integrity_check(s);
    assert_int_not_equal(st.code, OUTPOST_OK);
    char want[80];
    snprintf(want, sizeof want, "content of item %lld (UID", (long long)it.id);
    if (!st.message || !strstr(st.message, want) || !strstr(st.message, "offset 65536"))
        fail_msg("integrity check: %s", st.message ? st.message : "(no message)");
    size_t g = 0;
    OK(f->m->begin(s, OUTPOST_TXN_READ, &t));
    OK(f->m->content_read(t, it.id, 100, got, 1000, &g)); /* the first row is sound */
    assert_int_equal(g, 1000);
    assert_memory_equal(got, text + 100, 1000);
    OK(f->m->content_read(t, it.id, 131072, got, n, &g)); /* so is the last */
    assert_int_equal(g, n - 131072);
    assert_memory_equal(got, text + 131072, g);
    st = f->m->content_read(t, it.id, 65536 + 10, got, 10, &g);
    assert_int_equal(st.code, OUTPOST_BAD_DATA);
    assert_non_null(strstr(st.message, "damaged"));
    /* the row read before it is read again, not the damaged bytes that went through the
     * instance's buffer of the last row read */
    OK(f->m->content_read(t, it.id, 200, got, 1000, &g));
    assert_int_equal(g, 1000);
    assert_memory_equal(got, text + 200, 1000);
    OK(f->m->content_read(t, old.id, 0, got, n, &g));
    assert_int_equal(g, 1000);
    assert_memory_equal(got, text, 1000);
    f->m->rollback(t);
    /* appending to the old item reopens its unchecked row; what is written now has a CRC */
    OK(f->m->begin(s, OUTPOST_TXN_WRITE, &t));
    OK(f->m->content_write(t, old.id, 1000, text + 1000, 500));
    OK(f->m->content_finish(t, old.id, OUTPOST_CONTENT_COMPLETE));
    OK(f->m->content_drop(t, it.id));
    OK(f->m->commit(t));
    OK(f->m->integrity_check(s));
    snprintf(sql, sizeof sql, "SELECT count(*) FROM content WHERE item_id=%lld AND codec=2 AND len=1500",
             (long long)old.id);
    assert_int_equal(raw_int(path, sql), 1);
    OK(f->m->close(s));
    f->m->destroy(s);
    test_host_free(th);
    free(text);
    free(got);
}

static void test_idle_checkpoint(void **state)
{
    struct fx *f = *state;
    char path[4200];
    db_path(f, path, sizeof path);
    long long before = file_size(path);
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t a = fx_folder(f, t, 0, "INBOX", OUTPOST_ITEM_MAIL);
    size_t n = 2 * 1024 * 1024;
    char *big = random_b64(n, 88172645463325252ull);
    fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "big", big);
    free(big);
    OK(f->m->commit(t));
    /* the commit is in the WAL; about a second later (more on a loaded machine) the idle
     * thread has copied it into the cache file, while the instance stays open */
    long long after = before;
    for (int i = 0; i < 300 && after < before + (long long)n / 2; i++) { /* 30 s at most: a loaded CI */
        struct timespec ts = { 0, 100 * 1000000L };
        nanosleep(&ts, NULL);
        after = file_size(path);
    }
    assert_true(after >= before + (long long)n / 2);
    OK(f->m->integrity_check(f->s));
}

static void test_checkpoint_config(void **state)
{
    struct fx *f = *state;
    struct outpost_storage *s;
    struct test_host *th = test_host_new("storage", f->dir, (const char *const[]){ "checkpoint_mb=1", NULL });
    outpost_status st = f->m->create(test_host_table(th), &s);
    assert_int_equal(st.code, OUTPOST_BAD_DATA);
    assert_non_null(strstr(st.message, "checkpoint_mb"));
    test_host_free(th);
    th = test_host_new("storage", f->dir, (const char *const[]){ "path=small.sqlite", "checkpoint_mb=4", NULL });
    OK(f->m->create(test_host_table(th), &s));
    OK(f->m->open(s));
    OK(f->m->close(s));
    f->m->destroy(s);
    test_host_free(th);
}

/* The WAL passing checkpoint_mb is copied into the cache file while the
 * instance keeps committing (never idle for a second): by the idle thread at
 * once, or by the commit past twice the size. */
static void test_checkpoint_while_busy(void **state)
{
    struct fx *f = *state;
    char path[4200];
    snprintf(path, sizeof path, "%s/busy.sqlite", f->dir);
    struct test_host *th;
    struct outpost_storage *s;
    int64_t folder = open_with_inbox(f, (const char *const[]){ "path=busy.sqlite", "checkpoint_mb=4", NULL }, &th, &s);
    long long start = file_size(path);
    size_t n = 512 * 1024;
    int i = 0;
    for (; i < 60 && file_size(path) < start + 4 * 1024 * 1024; i++) {
        put_random(f, s, folder, n, 0x9E3779B97F4A7C15ull + (uint64_t)i);
        struct timespec ts = { 0, 20 * 1000000L };
        nanosleep(&ts, NULL);
    }
    /* 4 MiB of WAL is about 11 such commits */
    assert_true(file_size(path) >= start + 4 * 1024 * 1024);
    assert_true(i < 60);
    OK(f->m->integrity_check(s));
    OK(f->m->close(s));
    f->m->destroy(s);
    test_host_free(th);
}

/* A WAL grown past journal_size_limit (64 MiB) by an ingest, with no write
 * after it, is truncated by the idle thread once everything is copied: the
 * cache does not keep twice its size on disk until the next write. */
static void test_idle_wal_truncated(void **state)
{
    struct fx *f = *state;
    char path[4200], wal[4300];
    snprintf(path, sizeof path, "%s/trunc.sqlite", f->dir);
    snprintf(wal, sizeof wal, "%s-wal", path);
    struct test_host *th;
    struct outpost_storage *s;
    struct outpost_txn *t;
    /* checkpoint_mb past the ingest: no checkpoint copies the WAL before it idles */
    int64_t folder = open_with_inbox(f, (const char *const[]){ "path=trunc.sqlite", "compress=none", "checkpoint_mb=1024", NULL },
                                     &th, &s);
    size_t n = 8 * 1024 * 1024;
    int64_t ids[10];
    for (int i = 0; i < 10; i++) {
        ids[i] = put_random(f, s, folder, n, 0x2545F4914F6CDD1Dull + (uint64_t)i);
    }
    assert_true(file_size(wal) > 64LL * 1024 * 1024);
    long long w = file_size(wal);
    for (int i = 0; i < 300 && w > 64LL * 1024 * 1024; i++) { /* 30 s at most: a loaded CI */
        struct timespec ts = { 0, 100 * 1000000L };
        nanosleep(&ts, NULL);
        w = file_size(wal);
    }
    assert_true(w <= 64LL * 1024 * 1024);
    assert_true(file_size(path) >= 80LL * 1024 * 1024);
    /* everything reads back from the cache file */
    OK(f->m->begin(s, OUTPOST_TXN_READ, &t));
    char *want = random_b64(n, 0x2545F4914F6CDD1Dull + 9);
    char *got = malloc(n);
    size_t len = 0;
    OK(f->m->content_read(t, ids[9], 0, got, n, &len));
    assert_int_equal(len, n);
    assert_memory_equal(got, want, n);
    free(got);
    free(want);
    f->m->rollback(t);
    OK(f->m->integrity_check(s));
    OK(f->m->close(s));
    f->m->destroy(s);
    test_host_free(th);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(int argc, char **argv)
{
    if (test_storage_load(argc > 1 ? argv[1] : "sqlite", &g_plugin) != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        T(test_newer_schema_refused),
        T(test_v4_ids_kept_after_migration),
        T(test_migrates_v1_forward),
        T(test_reads_v2_content),
        T(test_fts_term_list_added),
        T(test_fts_headers_added),
        T(test_fts_tokens_as_unicode61),
        T(test_foreign_database_refused),
        T(test_config),
        T(test_page_size),
        T(test_idle_checkpoint),
        T(test_checkpoint_config),
        T(test_checkpoint_while_busy),
        T(test_idle_wal_truncated),
        T(test_damaged_content_found),
        T(test_damaged_raw_content_found),
    };
    int rc = cmocka_run_group_tests_name("sqlite storage schema", tests, NULL, NULL);
    test_storage_unload(&g_plugin);
    return rc;
}
