/* sq_journal.c — the journal of local edits: append in the caller's write
 * transaction, list pending/all in seq order, record replay outcomes, count,
 * and prune confirmed entries. seq comes from AUTOINCREMENT, so it is never
 * reused, not even after the newest entry was pruned. */
#include "sq_internal.h"

outpost_status sq_journal_append(struct outpost_txn *t, outpost_journal_entry *e)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn(t, 1);
    if (c.code)
        return c;
    if (!e)
        return sq_error(s, OUTPOST_BAD_DATA, "journal_append: entry is NULL");
    if (e->op < OUTPOST_J_ITEM_CREATE || e->op > OUTPOST_J_FOLDER_SUBSCRIBE)
        return sq_error(s, OUTPOST_BAD_DATA, "journal_append: unknown operation %u", e->op);
    if (!e->payload && e->payload_len)
        return sq_error(s, OUTPOST_BAD_DATA, "journal_append: payload is NULL");
    int64_t created = e->created_ms ? e->created_ms : sq_now_ms(s);
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_J_INSERT, &rc);
    if (!st)
        return sq_poison(t, sq_db_error(s, rc, "appending to the journal"));
    sqlite3_bind_int(st, 1, (int)e->op);
    sqlite3_bind_int64(st, 2, e->item_id);
    sqlite3_bind_int64(st, 3, e->folder_id);
    sqlite3_bind_int64(st, 4, e->target_folder_id);
    sqlite3_bind_int64(st, 5, e->flags);
    sq_bind_text(st, 6, e->keywords);
    sq_bind_text(st, 7, e->name);
    sq_bind_text(st, 8, e->remote_id);
    if (e->payload)
        sqlite3_bind_blob64(st, 9, e->payload_len ? e->payload : "", e->payload_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, created);
    if ((rc = sq_exec_stmt(st)) != SQLITE_OK)
        return sq_poison(t, sq_db_error(s, rc, "appending to the journal"));
    e->seq = sqlite3_last_insert_rowid(s->db);
    e->state = OUTPOST_JS_PENDING;
    e->attempts = 0;
    e->done_ms = 0;
    e->created_ms = created;
    return outpost_ok();
}

outpost_status sq_journal_pending(struct outpost_txn *t, uint32_t limit, struct outpost_cursor **out)
{
    outpost_status c = sq_check_txn(t, 0);
    if (c.code)
        return c;
    sqlite3_stmt *st;
    c = sq_cursor_open(t->s, ST_J_PENDING, ROW_JOURNAL, out, &st);
    if (c.code == OUTPOST_OK)
        sqlite3_bind_int64(st, 1, limit ? (int64_t)limit : -1);
    return c;
}

outpost_status sq_journal_list(struct outpost_txn *t, int64_t after_seq, struct outpost_cursor **out)
{
    outpost_status c = sq_check_txn(t, 0);
    if (c.code)
        return c;
    sqlite3_stmt *st;
    c = sq_cursor_open(t->s, ST_J_LIST, ROW_JOURNAL, out, &st);
    if (c.code == OUTPOST_OK)
        sqlite3_bind_int64(st, 1, after_seq);
    return c;
}

outpost_status sq_journal_set_state(struct outpost_txn *t, int64_t seq, uint32_t state,
                                    const char *result_remote_id, const char *message)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn(t, 1);
    if (c.code)
        return c;
    if (state > OUTPOST_JS_LOCAL)
        return sq_error(s, OUTPOST_BAD_DATA, "journal_set_state: unknown state %u", state);
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_J_SET, &rc);
    if (!st)
        return sq_poison(t, sq_db_error(s, rc, "updating the journal"));
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_int(st, 2, (int)state);
    sq_bind_text(st, 3, result_remote_id);
    sq_bind_text(st, 4, message);
    sqlite3_bind_int64(st, 5, sq_now_ms(s));
    if ((rc = sq_exec_stmt(st)) != SQLITE_OK)
        return sq_poison(t, sq_db_error(s, rc, "updating the journal"));
    if (sqlite3_changes(s->db) == 0)
        return sq_error(s, OUTPOST_GONE, "journal entry %lld does not exist", (long long)seq);
    return outpost_ok();
}

outpost_status sq_journal_count(struct outpost_txn *t, uint32_t state, uint64_t *n)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn(t, 0);
    if (c.code)
        return c;
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_J_COUNT, &rc);
    if (!st)
        return sq_db_error(s, rc, "counting journal entries");
    sqlite3_bind_int(st, 1, (int)state);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *n = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return sq_db_error(s, rc, "counting journal entries");
    return outpost_ok();
}

outpost_status sq_journal_prune(struct outpost_txn *t, int64_t before_ms, uint64_t *removed)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn(t, 1);
    if (c.code)
        return c;
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_J_PRUNE, &rc);
    if (!st)
        return sq_poison(t, sq_db_error(s, rc, "pruning the journal"));
    sqlite3_bind_int64(st, 1, before_ms);
    if ((rc = sq_exec_stmt(st)) != SQLITE_OK)
        return sq_poison(t, sq_db_error(s, rc, "pruning the journal"));
    if (removed)
        *removed = (uint64_t)sqlite3_changes(s->db);
    return outpost_ok();
}
