/* fb_stmt_sql.c — every SQL statement of the plugin (Firebird dialect 3),
 * prepared once per attachment. Parameters are positional (`?`, bound from
 * 0); a value used twice is bound twice. ORDER BY names the columns of the
 * index that serves a listing, so the engine walks the index instead of
 * sorting. */
#include "fb_internal.h"

#define FOLDER_COLS_F                                                                               \
    "f.id,f.kind,f.parent_id,f.remote_id,f.name,f.special_use,f.flags,f.uidvalidity,f.uidnext,"   \
    "f.highest_modseq,f.total,f.unread,f.flagged,f.sync_len,f.sync_in"
#define IN_FOLDER "(CAST(? AS BIGINT)=0 OR folder_id=?)"

const char *const fb_stmt_sql[ST__COUNT] = {
    [ST_INFO_GET] = "SELECT ival FROM store_info WHERE k=?",
    [ST_INFO_SET] = "UPDATE OR INSERT INTO store_info(k, ival) VALUES(?, ?) MATCHING(k)",

    [ST_FOLDER_INSERT] =
        "INSERT INTO folder(id, parent_id, kind, name, remote_id, special_use, flags, uidvalidity,"
        " uidnext, highest_modseq, total, unread, flagged) VALUES(?, ?, ?, ?, ?, ?, ?, ?, 1, 1, 0, 0, 0)",
    [ST_FOLDER_SIBLINGS] = "SELECT id, name FROM folder WHERE parent_id=?",
    [ST_FOLDER_GET] = "SELECT " FOLDER_COLS " FROM folder WHERE id=?",
    [ST_FOLDER_FIND_REMOTE] = "SELECT " FOLDER_COLS " FROM folder WHERE remote_id=? ORDER BY id",
    [ST_FOLDER_LIST] =
        "WITH RECURSIVE tree(id, depth) AS (SELECT id, 0 FROM folder WHERE parent_id=0"
        " UNION ALL SELECT c.id, tree.depth+1 FROM folder c JOIN tree ON c.parent_id=tree.id)"
        " SELECT " FOLDER_COLS_F " FROM tree JOIN folder f ON f.id=tree.id ORDER BY tree.depth, f.id",
    [ST_FOLDER_SET_SYNC] =
        "UPDATE folder SET sync_len=?, sync_in=? WHERE id=? RETURNING id, OLD.sync_len",
    [ST_FOLDER_HAS_CHILD] = "SELECT FIRST 1 id FROM folder WHERE parent_id=?",
    [ST_FOLDER_UPDATE] =
        "UPDATE folder SET name=?, parent_id=?, special_use=?, flags=?, remote_id=? WHERE id=?",
    [ST_FOLDER_BUMP] =
        "UPDATE folder SET uidnext=uidnext+?, highest_modseq=highest_modseq+1, total=total+?,"
        " unread=unread+?, flagged=flagged+? WHERE id=? RETURNING uidnext, highest_modseq, kind",
    [ST_FOLDER_PARENT] = "SELECT parent_id FROM folder WHERE id=?",
    [ST_FOLDER_KIND] = "SELECT kind FROM folder WHERE id=?",
    /* one statement: the items' content goes item by item through its index
     * (an IN subquery would scan every content row); the values of the items
     * and of the folder (val) go with their rows, by trigger (fb_schema.c) */
    [ST_FOLDER_DEL] =
        "EXECUTE BLOCK (f BIGINT = ?) AS DECLARE i BIGINT; BEGIN"
        " FOR SELECT id FROM item WHERE folder_id=:f INTO :i DO"
        " DELETE FROM content_part WHERE item_id=:i;"
        " DELETE FROM item WHERE folder_id=:f; DELETE FROM tombstone WHERE folder_id=:f;"
        " DELETE FROM uid_snapshot WHERE folder_id=:f;"
        " DELETE FROM folder WHERE id=:f; END",

    [ST_ITEM_INSERT] =
        "INSERT INTO item(id, folder_id, kind, uid, modseq, flags, internal_date, date_, size_,"
        " content_state, big_mask, cached_size, fts_state, keywords, remote_id, remote_version, subject,"
        " from_addr, to_addr, cc_addr, message_id, object_uid, find_key, envelope, bodystructure,"
        " preview) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
        " ?, ?)",
    [ST_ITEM_GET] = "SELECT " ITEM_COLS " FROM item WHERE id=?",
    [ST_ITEM_FIND_REMOTE] =
        "SELECT " ITEM_COLS " FROM item WHERE remote_id=? AND " IN_FOLDER " ORDER BY id",
    [ST_ITEM_FIND_KEY] = "SELECT " ITEM_COLS " FROM item WHERE find_key=? AND " IN_FOLDER " ORDER BY id",
    [ST_ITEM_REWRITE] =
        "UPDATE item SET big_mask=?, keywords=?, remote_id=?, remote_version=?, subject=?, from_addr=?,"
        " to_addr=?, cc_addr=?, message_id=?, object_uid=?, find_key=?, envelope=?, bodystructure=?,"
        " preview=? WHERE id=? RETURNING OLD.big_mask",
    [ST_ITEM_UPDATE_SUMMARY] =
        "UPDATE item SET date_=?, internal_date=?, size_=?, modseq=?, fts_state=0 WHERE id=?",
    [ST_ITEM_UPDATE_CSTATE] = "UPDATE item SET content_state=? WHERE id=?",
    [ST_ITEM_SET_FLAGS] = "UPDATE item SET flags=?, keywords=?, modseq=? WHERE id=?",
    [ST_ITEM_MOVE] = "UPDATE item SET folder_id=?, uid=?, modseq=? WHERE id=?",
    [ST_ITEM_DELETE] = "DELETE FROM item WHERE id=?",
    [ST_ITEM_STATE] =
        "SELECT folder_id, uid, flags, keywords, kind, content_state, modseq, big_mask FROM item"
        " WHERE id=?",
    [ST_TOMB_INSERT] =
        "UPDATE OR INSERT INTO tombstone(folder_id, uid, modseq) VALUES(?, ?, ?) MATCHING(folder_id, uid)",

    [ST_ITEMS_BY_UID] =
        "SELECT " ITEM_COLS " FROM item WHERE folder_id=? AND uid>=? AND uid<=? ORDER BY folder_id, uid",
    [ST_ITEMS_CHANGED] =
        "SELECT " ITEM_COLS " FROM item WHERE folder_id=? AND modseq>? ORDER BY folder_id, uid",
    [ST_EXPUNGED] =
        "SELECT uid, modseq FROM tombstone WHERE folder_id=? AND modseq>? ORDER BY folder_id, uid",
    [ST_MISSING_ALL] = "SELECT " ITEM_COLS " FROM item WHERE content_state<2 ORDER BY folder_id, uid",
    [ST_MISSING_FOLDER] =
        "SELECT " ITEM_COLS " FROM item WHERE folder_id=? AND content_state<2 ORDER BY folder_id, uid",
    [ST_UID_FLAGS] =
        "SELECT uid, flags, modseq, id, keywords, kwbig FROM item_flags"
        " WHERE folder_id=? AND uid>=? AND uid<=? ORDER BY folder_id, uid",

    [ST_CONTENT_DELETE] = "DELETE FROM content_part WHERE item_id=?",
    [ST_CONTENT_END] = "SELECT COALESCE(MAX(off+len), 0) FROM content_part WHERE item_id=?",
    [ST_CONTENT_INSERT] = "INSERT INTO content_part(item_id, off, len, data, crc) VALUES(?, ?, ?, ?, ?)",
    /* the item's content rows with lo < off < hi in one round trip; one row
     * with NULLs when there is none, no row when the item does not exist */
    [ST_CONTENT_RANGE] =
        "SELECT c.off, c.data, c.crc FROM item i LEFT JOIN content_part c ON c.item_id=i.id AND c.off>? AND c.off<?"
        " WHERE i.id=? ORDER BY c.item_id, c.off",
    /* fts_state AND 0 marks the item for re-indexing, AND 3 keeps it (fb_fts.c) */
    [ST_CONTENT_FINISH] =
        "UPDATE item SET content_state=?, cached_size=?, fts_state=BIN_AND(fts_state, ?) WHERE id=?",

    [ST_J_INSERT] =
        "INSERT INTO journal(seq, op, state, attempts, item_id, folder_id, target_folder_id, flags,"
        " keywords, name, remote_id, payload_len, payload_in, created_ms, done_ms)"
        " VALUES(?, ?, 0, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
    [ST_J_PENDING] = "SELECT FIRST (?) " JOURNAL_COLS " FROM journal WHERE state=0 ORDER BY state, seq",
    [ST_J_LIST] = "SELECT " JOURNAL_COLS " FROM journal WHERE seq>? ORDER BY seq",
    [ST_J_SET] =
        "UPDATE journal SET state=?, result_remote_id=?, message=?, attempts=attempts+1, done_ms=?"
        " WHERE seq=? RETURNING seq",
    [ST_J_COUNT] = "SELECT count(*) FROM journal WHERE state=?",
    [ST_J_PRUNE_COUNT] = "SELECT count(*) FROM journal WHERE state=1 AND done_ms<?",
    [ST_J_PRUNE] = "DELETE FROM journal WHERE state=1 AND done_ms<?",

    /* fts_state: 0 not indexed, 1 indexed without header fields (an older
     * Outpost), 2 indexed (fb_fts.c) */
    [ST_FTS_TODO] =
        "SELECT FIRST (?) id FROM item WHERE fts_state<2 AND " IN_FOLDER " AND id>? ORDER BY id",
    [ST_FTS_TODO_COUNT] = "SELECT count(*) FROM item WHERE fts_state<2",
    [ST_FTS_TODO_COUNT_FOLDER] = "SELECT count(*) FROM item WHERE fts_state<2 AND folder_id=?",
    [ST_FTS_SET] = "UPDATE item SET fts_state=2 WHERE id=?",
    /* each item with the parts of its token text (val, VS_FTS), the rows of
     * one item together (the order is by item) */
    [ST_FTS_SCAN] =
        "SELECT i.id, i.fts_state, v.part, v.data FROM item i LEFT JOIN val v ON v.space=" VS_FTS_SQL
        " AND v.k1=i.id AND v.k2='' WHERE i.folder_id=? ORDER BY i.folder_id, i.uid",
    [ST_FTS_SCAN_ALL] =
        "SELECT i.id, i.fts_state, v.part, v.data FROM item i LEFT JOIN val v ON v.space=" VS_FTS_SQL
        " AND v.k1=i.id AND v.k2='' ORDER BY i.folder_id, i.uid",

    /* the snapshot's MODSEQ and its bytes (val, VS_SNAP) in one query */
    [ST_SNAP_GET] =
        "SELECT s.modseq, v.part, v.data FROM uid_snapshot s LEFT JOIN val v ON v.space=" VS_SNAP_SQL
        " AND v.k1=s.folder_id AND v.k2='' WHERE s.folder_id=?",
    [ST_SNAP_MODSEQ] = "SELECT modseq FROM uid_snapshot WHERE folder_id=?",
    [ST_SNAP_SET] = "UPDATE OR INSERT INTO uid_snapshot(folder_id, modseq) VALUES(?, ?) MATCHING(folder_id)",
    /* the changes since a snapshot: through the (folder_id, modseq) indexes */
    [ST_UF_DELTA] =
        "SELECT uid, flags, modseq, id, keywords, kwbig FROM item_flags WHERE folder_id=? AND modseq>?",
    [ST_UF_GONE] = "SELECT uid FROM tombstone WHERE folder_id=? AND modseq>?",

    [ST_VAL_GET] = "SELECT part, data FROM val WHERE space=? AND k1=? AND k2=?",
    [ST_VAL_PUT] = "INSERT INTO val(space, k1, k2, part, data) VALUES(?, ?, ?, ?, ?)",
    [ST_VAL_DEL] = "DELETE FROM val WHERE space=? AND k1=? AND k2=?",
};
