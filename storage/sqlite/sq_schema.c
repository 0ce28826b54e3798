/* sq_schema.c — the schema of the SQLite cache and its forward migrations.
 *
 * The version lives in PRAGMA user_version (read before anything else) and is
 * mirrored in store_info('schema_version') for humans with the sqlite3 shell.
 * A new file gets version 1 and then runs every migration, so the migration
 * path is exercised on every fresh cache. A file newer than this plugin is
 * refused: an old binary must never write a schema it does not understand.
 *
 * Layout: narrow `item` rows (everything a listing needs, no content) with one
 * index per listing; content in `content` rows of at most SQ_ZCHUNK content
 * bytes keyed by (item_id, off), each zstd-compressed on its own unless that
 * does not pay, so a range read decompresses one row (sq_content.c); expunge
 * tombstones; the property bag; the journal (AUTOINCREMENT: a seq is never
 * reused, even after pruning the newest entry); a contentless FTS5 index
 * whose document ids are indirected through item.fts_doc so a stale document
 * (item deleted or changed) never needs its old text to be removed.
 */
#include <stdio.h>
#include <string.h>

#include "sq_internal.h"

static const char schema_v1[] =
    "CREATE TABLE store_info(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE folder("
    " id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL, kind INTEGER NOT NULL,"
    " name TEXT NOT NULL, remote_id TEXT, special_use INTEGER NOT NULL, flags INTEGER NOT NULL,"
    " uidvalidity INTEGER NOT NULL, uidnext INTEGER NOT NULL, highest_modseq INTEGER NOT NULL,"
    " total INTEGER NOT NULL DEFAULT 0, unread INTEGER NOT NULL DEFAULT 0,"
    " flagged INTEGER NOT NULL DEFAULT 0, sync_state BLOB);"
    "CREATE UNIQUE INDEX folder_sibling ON folder(parent_id, name);"
    "CREATE INDEX folder_remote ON folder(remote_id) WHERE remote_id IS NOT NULL;"
    "CREATE TABLE item("
    " id INTEGER PRIMARY KEY, folder_id INTEGER NOT NULL, kind INTEGER NOT NULL,"
    " uid INTEGER NOT NULL, modseq INTEGER NOT NULL, flags INTEGER NOT NULL, keywords TEXT,"
    " remote_id TEXT, remote_version TEXT, internal_date INTEGER NOT NULL, date INTEGER NOT NULL,"
    " size INTEGER NOT NULL, content_state INTEGER NOT NULL, cached_size INTEGER NOT NULL,"
    " subject TEXT, from_addr TEXT, to_addr TEXT, cc_addr TEXT, message_id TEXT, object_uid TEXT,"
    " find_key TEXT, envelope TEXT, bodystructure TEXT, preview TEXT);"
    "CREATE UNIQUE INDEX item_uid ON item(folder_id, uid);"
    /* covering index: a whole-folder UID+flags listing reads no table rows */
    "CREATE INDEX item_list ON item(folder_id, uid, flags, modseq, keywords);"
    "CREATE INDEX item_modseq ON item(folder_id, modseq);"
    "CREATE INDEX item_remote ON item(remote_id, folder_id) WHERE remote_id IS NOT NULL;"
    "CREATE INDEX item_key ON item(find_key, folder_id) WHERE find_key IS NOT NULL;"
    "CREATE INDEX item_missing ON item(folder_id, uid) WHERE content_state<>2;"
    "CREATE TABLE content(id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL,"
    " off INTEGER NOT NULL, data BLOB NOT NULL);"
    "CREATE UNIQUE INDEX content_range ON content(item_id, off);"
    "CREATE TABLE tombstone(folder_id INTEGER NOT NULL, uid INTEGER NOT NULL,"
    " modseq INTEGER NOT NULL, PRIMARY KEY(folder_id, uid)) WITHOUT ROWID;"
    "CREATE INDEX tombstone_modseq ON tombstone(folder_id, modseq);"
    "CREATE TABLE prop(item_id INTEGER NOT NULL, name TEXT NOT NULL, value BLOB NOT NULL,"
    " PRIMARY KEY(item_id, name)) WITHOUT ROWID;"
    "CREATE TABLE journal(seq INTEGER PRIMARY KEY AUTOINCREMENT, op INTEGER NOT NULL,"
    " state INTEGER NOT NULL, attempts INTEGER NOT NULL, item_id INTEGER NOT NULL,"
    " folder_id INTEGER NOT NULL, target_folder_id INTEGER NOT NULL, flags INTEGER NOT NULL,"
    " keywords TEXT, name TEXT, remote_id TEXT, payload BLOB, created_ms INTEGER NOT NULL,"
    " done_ms INTEGER NOT NULL, result_remote_id TEXT, message TEXT);"
    "CREATE INDEX journal_state ON journal(state, seq);"
    "CREATE INDEX journal_done ON journal(state, done_ms);"
    "INSERT INTO store_info(key, value) VALUES('last_uidvalidity', 0);";

/* v1 → v2: full-text search. */
static const char migrate_v2[] =
    "ALTER TABLE item ADD COLUMN fts_doc INTEGER;"
    "CREATE INDEX item_fts_doc ON item(fts_doc);"
    "CREATE VIRTUAL TABLE fts USING fts5(subject, addrs, body, content='',"
    " tokenize='unicode61 remove_diacritics 2', detail=none);"
    "INSERT INTO fts(fts, rank) VALUES('hashsize', 33554432);"
    "INSERT INTO store_info(key, value) VALUES('fts_next_doc', 1), ('fts_garbage', 0);";

/* v2 → v3: content rows say how their data is stored (sq_content.c). Rows
 * written before stay raw with len NULL and are read as they are: no row is
 * rewritten. The range index also carries len and codec, so finding the row
 * of an offset reads the index only: the two columns come after the data in
 * the row, and reading them there would walk a large row's overflow pages.
 * Rebuilding the index reads the rows' leaf pages, not their data. */
static const char migrate_v3[] =
    "ALTER TABLE content ADD COLUMN len INTEGER;"
    "ALTER TABLE content ADD COLUMN codec INTEGER NOT NULL DEFAULT 0;"
    "DROP INDEX content_range;"
    "CREATE UNIQUE INDEX content_range ON content(item_id, off, len, codec);";

/* v3 → v4: content rows stored as they are carry a CRC-32 (codec 2,
 * sq_content.c); nothing to change in the tables, but a plugin before it
 * would take such rows for damage, so the version says it. Rows written
 * before stay codec 0, unchecked. */
static const char migrate_v4[] = "";

/* v4 → v5: folder and item ids are never given again. SQLite gives a new row one above the
 * largest id in the table, so the newest item's id came back after it was deleted, and a
 * journal entry, a MAPI entry id or a shortcut naming it then named the next item created.
 * The largest id deleted is kept in store_info('<table>_id_hw') by a trigger that writes only
 * when the row deleted was above every id left and every id deleted before (two seeks per
 * deleted row), and the inserts take one above both (sq_stmt.c NEXT_ID); AUTOINCREMENT would
 * need the tables rebuilt. Ids deleted before this version are not known: only the largest
 * then left is. */
static const char migrate_v5[] =
    "CREATE TRIGGER folder_id_hw AFTER DELETE ON folder"
    " WHEN old.id > coalesce((SELECT max(id) FROM folder), 0)"
    " AND old.id > coalesce((SELECT value FROM store_info WHERE key='folder_id_hw'), 0)"
    " BEGIN INSERT OR REPLACE INTO store_info(key, value) VALUES('folder_id_hw', old.id); END;"
    "CREATE TRIGGER item_id_hw AFTER DELETE ON item"
    " WHEN old.id > coalesce((SELECT max(id) FROM item), 0)"
    " AND old.id > coalesce((SELECT value FROM store_info WHERE key='item_id_hw'), 0)"
    " BEGIN INSERT OR REPLACE INTO store_info(key, value) VALUES('item_id_hw', old.id); END;";

/* migrations[v] takes the schema from version v to v+1. */
static const char *const migrations[SQ_SCHEMA_VERSION + 1] = {
    [1] = migrate_v2,
    [2] = migrate_v3,
    [3] = migrate_v4,
    [4] = migrate_v5,
};

static int user_version(sqlite3 *db, int *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

static int set_version(struct outpost_storage *s, int v)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "PRAGMA user_version=%d;"
             "INSERT OR REPLACE INTO store_info(key, value) VALUES('schema_version', %d);",
             v, v);
    return sq_exec(s, sql);
}

/* Creates or migrates the schema, in one write transaction. */
outpost_status sq_schema_upgrade(struct outpost_storage *s);
outpost_status sq_schema_upgrade(struct outpost_storage *s)
{
    /* the usual case writes nothing, so a cache on a full disk still opens */
    int v = 0;
    int rc = user_version(s->db, &v);
    if (rc != SQLITE_OK)
        return sq_db_error(s, rc, "reading the cache schema version");
    if (v == SQ_SCHEMA_VERSION)
        return outpost_ok();
    rc = sq_exec(s, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK)
        return sq_db_error(s, rc, "locking the cache to check its schema");
    rc = user_version(s->db, &v); /* again: another process may have migrated it */
    if (rc != SQLITE_OK)
        goto fail;
    if (v > SQ_SCHEMA_VERSION) {
        sq_exec(s, "ROLLBACK");
        return sq_error(s, OUTPOST_FATAL,
                        "cache %s has schema version %d, newer than this plugin's %d: "
                        "run a newer Outpost (it is never downgraded)",
                        s->path, v, SQ_SCHEMA_VERSION);
    }
    int fresh = v == 0;
    if (v == 0) {
        sqlite3_stmt *st;
        rc = sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_schema", -1, &st, NULL);
        if (rc != SQLITE_OK)
            goto fail;
        int tables = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
        sqlite3_finalize(st);
        if (tables != 0) {
            sq_exec(s, "ROLLBACK");
            return sq_error(s, OUTPOST_FATAL,
                            "%s is an SQLite database but not an Outpost cache: "
                            "point [storage] path at another file", s->path);
        }
        if ((rc = sq_exec(s, schema_v1)) != SQLITE_OK)
            goto fail;
        /* "OPST": recognisable by file(1) and sqlite3 shell */
        if ((rc = sq_exec(s, "PRAGMA application_id=1330664276")) != SQLITE_OK)
            goto fail;
        v = 1;
    }
    for (; v < SQ_SCHEMA_VERSION; v++) {
        if ((rc = sq_exec(s, migrations[v])) != SQLITE_OK)
            goto fail;
        if (!fresh && s->host && s->host->log)
            s->host->log(s->host, OUTPOST_LOG_NOTICE, "cache %s: schema migrated to version %d",
                         s->path, v + 1);
    }
    if ((rc = set_version(s, SQ_SCHEMA_VERSION)) != SQLITE_OK)
        goto fail;
    if ((rc = sq_exec(s, "COMMIT")) != SQLITE_OK)
        goto fail;
    return outpost_ok();
fail:;
    outpost_status st = sq_db_error(s, rc, "creating or migrating the cache schema");
    if (!sqlite3_get_autocommit(s->db))
        sq_exec(s, "ROLLBACK");
    return st;
}
