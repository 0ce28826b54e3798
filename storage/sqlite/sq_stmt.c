/* sq_stmt.c — every SQL statement of the plugin, prepared once per connection.
 *
 * Keeping the text in one table shows at a glance which index serves which
 * listing (see the schema in sq_schema.c).
 */
#include "sq_internal.h"

/* The id of a new folder or item row: one above both the largest id in the table and the
 * largest id ever deleted from it (store_info '<table>_id_hw', kept by the trigger of schema
 * 5), so an id is never given again, as AUTOINCREMENT would do without rebuilding the
 * tables. Each subquery is one seek (SQLite's min/max optimisation, the key of store_info). */
#define NEXT_ID(table)                                                                              \
    "max(coalesce((SELECT max(id) FROM " table "), 0),"                                           \
    " coalesce((SELECT value FROM store_info WHERE key='" table "_id_hw'), 0)) + 1"

static const char *const sq_stmt_sql[ST__COUNT] = {
    [ST_BEGIN_READ] = "BEGIN DEFERRED",
    [ST_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    /* reading any table starts the read snapshot at begin() */
    [ST_SNAPSHOT] = "SELECT count(*) FROM store_info",
    [ST_INFO_GET] = "SELECT value FROM store_info WHERE key=?1",
    [ST_INFO_SET] = "INSERT OR REPLACE INTO store_info(key, value) VALUES(?1, ?2)",
    [ST_META_GET] = "SELECT value FROM meta WHERE key=?1",
    [ST_META_SET] = "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)",
    [ST_META_DEL] = "DELETE FROM meta WHERE key=?1",

    [ST_FOLDER_INSERT] =
        "INSERT INTO folder(id, parent_id, kind, name, remote_id, special_use, flags, uidvalidity,"
        " uidnext, highest_modseq) VALUES(" NEXT_ID("folder") ", ?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, 1)",
    [ST_FOLDER_SIBLING] = "SELECT id FROM folder WHERE parent_id=?1 AND name=?2 AND id<>?3",
    [ST_FOLDER_GET] = "SELECT " FOLDER_COLS " FROM folder WHERE id=?1",
    [ST_FOLDER_FIND_REMOTE] =
        "SELECT " FOLDER_COLS " FROM folder WHERE remote_id=?1 ORDER BY id LIMIT 1",
    [ST_FOLDER_LIST] =
        "WITH RECURSIVE tree(id, depth) AS (SELECT id, 0 FROM folder WHERE parent_id=0"
        " UNION ALL SELECT f.id, tree.depth+1 FROM folder f JOIN tree ON f.parent_id=tree.id)"
        " SELECT " FOLDER_COLS " FROM tree JOIN folder USING(id) ORDER BY tree.depth, id",
    [ST_FOLDER_SET_SYNC] = "UPDATE folder SET sync_state=?2 WHERE id=?1",
    [ST_FOLDER_HAS_CHILD] = "SELECT 1 FROM folder WHERE parent_id=?1 LIMIT 1",
    [ST_FOLDER_UPDATE] =
        "UPDATE folder SET name=CASE WHEN ?2&1 THEN ?3 ELSE name END,"
        " parent_id=CASE WHEN ?2&2 THEN ?4 ELSE parent_id END,"
        " special_use=CASE WHEN ?2&4 THEN ?5 ELSE special_use END,"
        " flags=CASE WHEN ?2&8 THEN ?6 ELSE flags END,"
        " remote_id=CASE WHEN ?2&16 THEN ?7 ELSE remote_id END WHERE id=?1",
    [ST_FOLDER_BUMP] =
        "UPDATE folder SET uidnext=uidnext+?2, highest_modseq=highest_modseq+1,"
        " total=total+?3, unread=unread+?4, flagged=flagged+?5 WHERE id=?1"
        " RETURNING uidnext-?2, highest_modseq, kind",
    [ST_FOLDER_DEL_CONTENT] =
        "DELETE FROM content WHERE item_id IN (SELECT id FROM item WHERE folder_id=?1)",
    [ST_FOLDER_DEL_PROPS] =
        "DELETE FROM prop WHERE item_id IN (SELECT id FROM item WHERE folder_id=?1)",
    [ST_FOLDER_FTS_COUNT] =
        "SELECT count(*) FROM item WHERE folder_id=?1 AND fts_doc IS NOT NULL",
    [ST_FOLDER_DEL_ITEMS] = "DELETE FROM item WHERE folder_id=?1",
    [ST_FOLDER_DEL_TOMBS] = "DELETE FROM tombstone WHERE folder_id=?1",
    [ST_FOLDER_DEL] = "DELETE FROM folder WHERE id=?1",
    /* is ?2 the folder ?1 or one of its ancestors? (refuses parent cycles) */
    [ST_FOLDER_ANCESTOR] =
        "WITH RECURSIVE up(id) AS (SELECT ?1 UNION SELECT f.parent_id FROM folder f"
        " JOIN up ON f.id=up.id WHERE f.parent_id<>0) SELECT 1 FROM up WHERE id=?2",
    [ST_FOLDER_PUT_FLUSH] =
        "UPDATE folder SET uidnext=?2, highest_modseq=?3, total=total+?4, unread=unread+?5,"
        " flagged=flagged+?6 WHERE id=?1",

    [ST_ITEM_INSERT] =
        "INSERT INTO item(id, folder_id, kind, uid, modseq, flags, keywords, remote_id, remote_version,"
        " internal_date, date, size, content_state, cached_size, subject, from_addr, to_addr,"
        " cc_addr, message_id, object_uid, find_key, envelope, bodystructure, preview)"
        " VALUES(" NEXT_ID("item") ", ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 0, ?13, ?14, ?15, ?16, ?17,"
        " ?18, ?19, ?20, ?21, ?22)",
    [ST_ITEM_GET] = "SELECT " ITEM_COLS " FROM item WHERE id=?1",
    /* any folder (?1, 0, is not used): the rows the index finds are sorted by id for the first */
    [ST_ITEM_FIND_REMOTE] =
        "SELECT " ITEM_COLS " FROM item WHERE remote_id=?2 ORDER BY id LIMIT 1",
    [ST_ITEM_FIND_KEY] =
        "SELECT " ITEM_COLS " FROM item WHERE find_key=?2 ORDER BY id LIMIT 1",
    /* one folder: item_remote/item_key (value, folder_id) hold its rows in id order already,
     * so no sorter is set up for every lookup (the sync engine makes one per item it is given) */
    [ST_ITEM_FIND_REMOTE_IN] =
        "SELECT " ITEM_COLS " FROM item WHERE remote_id=?2 AND folder_id=?1 ORDER BY id LIMIT 1",
    [ST_ITEM_FIND_KEY_IN] =
        "SELECT " ITEM_COLS " FROM item WHERE find_key=?2 AND folder_id=?1 ORDER BY id LIMIT 1",
    [ST_ITEM_UPDATE_REMOTE] = "UPDATE item SET remote_id=?2, remote_version=?3 WHERE id=?1",
    [ST_ITEM_UPDATE_SUMMARY] =
        "UPDATE item SET subject=?2, from_addr=?3, to_addr=?4, cc_addr=?5, message_id=?6,"
        " object_uid=?7, find_key=?8, envelope=?9, bodystructure=?10, preview=?11, date=?12,"
        " internal_date=?13, size=?14, modseq=?15, fts_doc=NULL WHERE id=?1",
    [ST_ITEM_UPDATE_CSTATE] = "UPDATE item SET content_state=?2 WHERE id=?1",
    [ST_ITEM_SET_FLAGS] = "UPDATE item SET flags=?2, keywords=?3, modseq=?4 WHERE id=?1",
    [ST_ITEM_MOVE] = "UPDATE item SET folder_id=?2, uid=?3, modseq=?4 WHERE id=?1",
    [ST_ITEM_DELETE] = "DELETE FROM item WHERE id=?1",
    [ST_ITEM_STATE] =
        "SELECT folder_id, uid, flags, keywords, kind, content_state, fts_doc, modseq FROM item"
        " WHERE id=?1",
    [ST_TOMB_INSERT] = "INSERT OR REPLACE INTO tombstone(folder_id, uid, modseq) VALUES(?1, ?2, ?3)",

    [ST_ITEMS_BY_UID] =
        "SELECT " ITEM_COLS " FROM item WHERE folder_id=?1 AND uid>=?2 AND uid<=?3 ORDER BY uid",
    [ST_ITEMS_CHANGED] =
        "SELECT " ITEM_COLS " FROM item WHERE folder_id=?1 AND modseq>?2 ORDER BY uid",
    [ST_EXPUNGED] =
        "SELECT uid, modseq FROM tombstone WHERE folder_id=?1 AND modseq>?2 ORDER BY uid",
    [ST_MISSING_ALL] =
        "SELECT " ITEM_COLS " FROM item WHERE content_state<>2 ORDER BY folder_id, uid",
    [ST_MISSING_FOLDER] =
        "SELECT " ITEM_COLS " FROM item WHERE folder_id=?1 AND content_state<>2 ORDER BY uid",
    [ST_UID_FLAGS] =
        "SELECT uid, flags, modseq, id, keywords FROM item INDEXED BY item_list"
        " WHERE folder_id=?1 AND uid>=?2 AND uid<=?3 ORDER BY uid",

    [ST_CONTENT_DELETE] = "DELETE FROM content WHERE item_id=?1",
    /* from the index content_range alone; len is NULL in raw rows of schema
     * 2: their length is the blob's (ST_CONTENT_LEN) */
    [ST_CONTENT_LAST] =
        "SELECT id, off, len, codec FROM content WHERE item_id=?1 ORDER BY off DESC LIMIT 1",
    [ST_CONTENT_LEN] = "SELECT length(data) FROM content WHERE id=?1",
    [ST_CONTENT_INSERT] =
        "INSERT INTO content(item_id, off, data, len, codec) VALUES(?1, ?2, ?3, ?4, ?5)",
    [ST_CONTENT_DEL_ROW] = "DELETE FROM content WHERE id=?1",
    [ST_CONTENT_FIND] =
        "SELECT id, off, len, codec FROM content WHERE item_id=?1 AND off<=?2"
        " ORDER BY off DESC LIMIT 1",
    /* every row of an item as stored, for decoding elsewhere (sq_fts.c) */
    [ST_CONTENT_ROWS] = "SELECT len, codec, data FROM content WHERE item_id=?1 ORDER BY off",
    [ST_CONTENT_FINISH] =
        "UPDATE item SET content_state=?2, cached_size=?3,"
        " fts_doc=CASE WHEN ?4 THEN NULL ELSE fts_doc END WHERE id=?1",

    [ST_PROP_SET] = "INSERT OR REPLACE INTO prop(item_id, name, value) VALUES(?1, ?2, ?3)",
    [ST_PROP_DEL] = "DELETE FROM prop WHERE item_id=?1 AND name=?2",
    [ST_PROP_GET] = "SELECT value FROM prop WHERE item_id=?1 AND name=?2",
    [ST_PROP_DEL_ITEM] = "DELETE FROM prop WHERE item_id=?1",

    [ST_J_INSERT] =
        "INSERT INTO journal(op, state, attempts, item_id, folder_id, target_folder_id, flags,"
        " keywords, name, remote_id, payload, created_ms, done_ms)"
        " VALUES(?1, 0, 0, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0)",
    [ST_J_PENDING] =
        "SELECT " JOURNAL_COLS " FROM journal WHERE state=0 ORDER BY seq LIMIT ?1",
    [ST_J_LIST] = "SELECT " JOURNAL_COLS " FROM journal WHERE seq>?1 ORDER BY seq",
    [ST_J_SET] =
        "UPDATE journal SET state=?2, result_remote_id=?3, message=?4, attempts=attempts+1,"
        " done_ms=CASE WHEN ?2=0 THEN 0 ELSE ?5 END WHERE seq=?1",
    [ST_J_COUNT] = "SELECT count(*) FROM journal WHERE state=?1",
    [ST_J_PRUNE] = "DELETE FROM journal WHERE state=1 AND done_ms<?1",

    [ST_FTS_TODO] =
        "SELECT id, kind, subject, from_addr, to_addr, cc_addr, content_state, cached_size FROM item"
        " WHERE fts_doc IS NULL AND (?1=0 OR folder_id=?1) AND id>?3 ORDER BY id LIMIT ?2",
    /* every item, for a private index when the persistent one is outdated */
    [ST_FTS_TODO_ALL] =
        "SELECT id, kind, subject, from_addr, to_addr, cc_addr, content_state, cached_size FROM item"
        " WHERE (?1=0 OR folder_id=?1) AND id>?3 ORDER BY id LIMIT ?2",
    [ST_FTS_ALL_COUNT] = "SELECT count(*) FROM item WHERE ?1=0 OR folder_id=?1",
    [ST_FTS_TODO_COUNT] = "SELECT count(*) FROM item WHERE fts_doc IS NULL",
    [ST_FTS_TODO_COUNT_FOLDER] = /* by item_fts_doc, not a scan of the folder (+folder_id) */
        "SELECT count(*) FROM item WHERE fts_doc IS NULL AND +folder_id=?1",
    [ST_FTS_INSERT] = "INSERT INTO fts(rowid, subject, addrs, body) VALUES(?1, ?2, ?3, ?4)",
    [ST_FTS_SET_DOC] = "UPDATE item SET fts_doc=?2 WHERE id=?1",
    /* "+folder_id": drive the query from the matches (item_fts_doc), not by
     * scanning every item of the folder — 0.45 s → 0.02 s on 100k items */
    [ST_FTS_SEARCH] =
        "SELECT " ITEM_COLS " FROM item WHERE +folder_id=?2 AND fts_doc IN"
        " (SELECT rowid FROM fts WHERE fts MATCH ?1) ORDER BY uid",
    [ST_FTS_SEARCH_ALL] =
        "SELECT " ITEM_COLS " FROM item WHERE fts_doc IN"
        " (SELECT rowid FROM fts WHERE fts MATCH ?1) ORDER BY folder_id, uid",
    [ST_FTS_TMP_INSERT] =
        "INSERT INTO temp.fts_tmp(rowid, subject, addrs, body) VALUES(?1, ?2, ?3, ?4)",
    [ST_FTS_SEARCH_TMP] =
        "SELECT " ITEM_COLS " FROM item WHERE +folder_id=?2 AND (fts_doc IN"
        " (SELECT rowid FROM fts WHERE fts MATCH ?1) OR (fts_doc IS NULL AND id IN"
        " (SELECT rowid FROM temp.fts_tmp WHERE fts_tmp MATCH ?1))) ORDER BY uid",
    [ST_FTS_SEARCH_TMP_ALL] =
        "SELECT " ITEM_COLS " FROM item WHERE fts_doc IN"
        " (SELECT rowid FROM fts WHERE fts MATCH ?1) OR (fts_doc IS NULL AND id IN"
        " (SELECT rowid FROM temp.fts_tmp WHERE fts_tmp MATCH ?1)) ORDER BY folder_id, uid",
    /* matches computed in sq_fts.c: documents of the index, items of the temp one */
    [ST_FTS_SEARCH_HITS] =
        "SELECT " ITEM_COLS " FROM item WHERE +folder_id=?2 AND (fts_doc IN (SELECT doc FROM temp.fts_hit)"
        " OR (fts_doc IS NULL AND id IN (SELECT id FROM temp.fts_hit_tmp))) ORDER BY uid",
    [ST_FTS_SEARCH_HITS_ALL] =
        "SELECT " ITEM_COLS " FROM item WHERE fts_doc IN (SELECT doc FROM temp.fts_hit)"
        " OR (fts_doc IS NULL AND id IN (SELECT id FROM temp.fts_hit_tmp)) ORDER BY folder_id, uid",
    /* the same from the private index alone (it holds every item searched) */
    [ST_FTS_SEARCH_TMPONLY] =
        "SELECT " ITEM_COLS " FROM item WHERE +folder_id=?2 AND id IN"
        " (SELECT rowid FROM temp.fts_tmp WHERE fts_tmp MATCH ?1) ORDER BY uid",
    [ST_FTS_SEARCH_TMPONLY_ALL] =
        "SELECT " ITEM_COLS " FROM item WHERE id IN"
        " (SELECT rowid FROM temp.fts_tmp WHERE fts_tmp MATCH ?1) ORDER BY folder_id, uid",
    [ST_FTS_SEARCH_HITS_TMPONLY] =
        "SELECT " ITEM_COLS " FROM item WHERE +folder_id=?2 AND id IN (SELECT id FROM temp.fts_hit_tmp) ORDER BY uid",
    [ST_FTS_SEARCH_HITS_TMPONLY_ALL] =
        "SELECT " ITEM_COLS " FROM item WHERE id IN (SELECT id FROM temp.fts_hit_tmp) ORDER BY folder_id, uid",
};

/* Returns the connection's cached statement `id`, reset and unbound; on error
 * NULL with *rc set. */
sqlite3_stmt *sq_stmt(struct outpost_storage *s, enum sq_stmt_id id, int *rc)
{
    sqlite3_stmt *st = s->stmt[id];
    if (st == NULL) {
        *rc = sqlite3_prepare_v3(s->db, sq_stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
        if (*rc != SQLITE_OK)
            return NULL;
        s->stmt[id] = st;
    } else {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    *rc = SQLITE_OK;
    return st;
}

/* A private copy of statement `id` (for a second open cursor of one kind). */
sqlite3_stmt *sq_stmt_private(struct outpost_storage *s, enum sq_stmt_id id, int *rc);
sqlite3_stmt *sq_stmt_private(struct outpost_storage *s, enum sq_stmt_id id, int *rc)
{
    sqlite3_stmt *st = NULL;
    *rc = sqlite3_prepare_v2(s->db, sq_stmt_sql[id], -1, &st, NULL);
    return *rc == SQLITE_OK ? st : NULL;
}
