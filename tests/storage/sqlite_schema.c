/* sqlite_schema.c — SQLite plugin only: schema versioning.
 *
 * A cache written by a newer Outpost is refused; a cache of the previous
 * schema (v1, before full-text search) is migrated forward and its items
 * become searchable; a full-text index without its term list gets one; a
 * foreign SQLite file is refused; bad config is refused
 * at create(). Opens the files with libsqlite3 directly to set them up.
 * Also: new caches get 16 KiB pages (old ones keep theirs and work), and a
 * write is copied from the WAL into the cache file once the instance idles.
 */
#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>

#include "storage_fixture.h"

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
    OK(f->m->create(test_host_table(f->th), &f->s));
    outpost_status st = f->m->open(f->s);
    assert_int_equal(st.code, OUTPOST_FATAL);
    assert_non_null(strstr(st.message, "newer"));
    f->m->destroy(f->s);
    f->s = NULL;
    assert_int_equal(raw_int(path, "PRAGMA user_version"), 999); /* untouched */
}

static void test_migrates_v1_forward(void **state)
{
    struct fx *f = *state;
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t a = fx_folder(f, t, 0, "INBOX", OUTPOST_ITEM_MAIL);
    int64_t id = fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "ancient", "Subject: ancient\r\n\r\npterodactyl\r\n");
    OK(f->m->commit(t));
    fx_close_instance(f, f->s);
    f->s = NULL;
    char path[4200];
    db_path(f, path, sizeof path);
    /* turn it back into a v1 cache: no full-text search */
    raw_exec(path, "DROP TABLE fts; DROP INDEX item_fts_doc; ALTER TABLE item DROP COLUMN fts_doc;"
                   "DELETE FROM store_info WHERE key IN ('fts_next_doc','fts_garbage');"
                   "UPDATE store_info SET value=1 WHERE key='schema_version'; PRAGMA user_version=1;");
    fx_instance(f, &f->s);
    assert_int_equal(raw_int(path, "PRAGMA user_version"), 2);
    assert_int_equal(raw_int(path, "SELECT value FROM store_info WHERE key='schema_version'"), 2);
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
    fx_instance(f, &f->s);
    t = fx_begin(f, OUTPOST_TXN_READ);
    assert_int_equal(only_hit(f, t, a, "terodac"), id);
    assert_int_equal(only_hit(f, t, a, "PTERYX"), id2);
    f->m->rollback(t);
    /* a document added by a writer that does not list terms (an older
     * Outpost): the list no longer counts as complete */
    fx_close_instance(f, f->s);
    f->s = NULL;
    raw_exec(path, "DELETE FROM fts_term WHERE term='archaeopteryx';"
                   "UPDATE store_info SET value=4 WHERE key='fts_next_doc';");
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
    assert_int_equal(raw_int(path, "PRAGMA user_version"), 2);
    assert_int_equal(raw_int(path, "PRAGMA journal_mode='wal'") >= 0, 1);
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

static void test_page_size(void **state)
{
    struct fx *f = *state;
    char path[4200];
    db_path(f, path, sizeof path);
    assert_int_equal(raw_int(path, "PRAGMA page_size"), 16384);
    /* a cache made with 4 KiB pages (before this change) keeps them and works */
    snprintf(path, sizeof path, "%s/old.sqlite", f->dir);
    raw_exec(path, "PRAGMA page_size=4096; PRAGMA journal_mode=WAL;");
    struct test_host *th = test_host_new("storage", f->dir, (const char *const[]){ "path=old.sqlite", NULL });
    struct outpost_storage *s;
    struct outpost_txn *t;
    OK(f->m->create(test_host_table(th), &s));
    OK(f->m->open(s));
    OK(f->m->begin(s, OUTPOST_TXN_WRITE, &t));
    outpost_folder fo = { .struct_size = sizeof fo, .kind = OUTPOST_ITEM_MAIL, .name = "INBOX" };
    int64_t folder;
    OK(f->m->folder_create(t, &fo, &folder));
    OK(f->m->commit(t));
    OK(f->m->close(s));
    f->m->destroy(s);
    test_host_free(th);
    assert_int_equal(raw_int(path, "PRAGMA page_size"), 4096);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM folder"), 1);
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
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "big", big);
    free(big);
    OK(f->m->commit(t));
    /* the commit is in the WAL; about a second later the idle thread has
     * copied it into the cache file, while the instance stays open */
    long long after = before;
    for (int i = 0; i < 50 && after < before + (long long)n; i++) {
        struct timespec ts = { 0, 100 * 1000000L };
        nanosleep(&ts, NULL);
        after = file_size(path);
    }
    assert_true(after >= before + (long long)n);
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

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(int argc, char **argv)
{
    if (test_storage_load(argc > 1 ? argv[1] : "sqlite", &g_plugin) != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        T(test_newer_schema_refused),
        T(test_migrates_v1_forward),
        T(test_fts_term_list_added),
        T(test_foreign_database_refused),
        T(test_config),
        T(test_page_size),
        T(test_idle_checkpoint),
        T(test_checkpoint_config),
    };
    int rc = cmocka_run_group_tests_name("sqlite storage schema", tests, NULL, NULL);
    test_storage_unload(&g_plugin);
    return rc;
}
