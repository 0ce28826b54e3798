/* fb_journal.c — the journal of local edits: append in the caller's write
 * transaction, list pending/all in seq order, record replay outcomes, count,
 * and prune confirmed entries. seq comes from a counter row written in the
 * same transaction, so it is never reused, not even after the newest entry
 * was pruned.
 *
 * A payload (typically a Message-ID, a folder name or "source_id=N") is kept
 * in the row up to FB_PAYLOAD_INLINE bytes and whole in the value store
 * (fb_val.c, VS_JOURNAL) beyond; payload_len NULL is no payload. Pruning
 * deletes the spilled ones with their rows (a trigger). */
#include <string.h>

#include "fb_internal.h"

#define J_MESSAGE_MAX 2000

int fb_fill_journal(const struct fb_stmt *st, outpost_journal_entry *e, struct fb_buf *b,
                    struct outpost_storage *s)
{
    memset(e, 0, sizeof *e);
    e->struct_size = sizeof *e;
    e->seq = fb_col_int(st, 0);
    e->op = (uint32_t)fb_col_int(st, 1);
    e->state = (uint32_t)fb_col_int(st, 2);
    e->attempts = (uint32_t)fb_col_int(st, 3);
    e->item_id = fb_col_int(st, 4);
    e->folder_id = fb_col_int(st, 5);
    e->target_folder_id = fb_col_int(st, 6);
    e->flags = (uint32_t)fb_col_int(st, 7);
    e->created_ms = fb_col_int(st, 13);
    e->done_ms = fb_col_int(st, 14);
    size_t o[6];
    const int cols[5] = { 8, 9, 10, 15, 16 };
    b->len = 0;
    for (int i = 0; i < 5; i++) {
        o[i] = SIZE_MAX;
        fb_col_strdup(st, cols[i], b, &o[i]);
    }
    size_t plen = 0;
    int bad = fb_val_read_split(s, st, 11, 12, VS_JOURNAL, e->seq, FB_PAYLOAD_INLINE, b, &o[5], &plen);
    e->payload_len = plen;
    if (!b->p)
        return bad;
    const char **dst[5] = { &e->keywords, &e->name, &e->remote_id, &e->result_remote_id, &e->message };
    for (int i = 0; i < 5; i++)
        *dst[i] = o[i] == SIZE_MAX ? NULL : b->p + o[i];
    e->payload = o[5] == SIZE_MAX ? NULL : b->p + o[5];
    return bad;
}

outpost_status fb_journal_append(struct outpost_txn *t, outpost_journal_entry *e)
{
    struct outpost_storage *s = t->s;
    outpost_status c = fb_check_txn(t, 1);
    if (c.code)
        return c;
    if (!e)
        return fb_error(s, OUTPOST_BAD_DATA, "journal_append: entry is NULL");
    if (e->op < OUTPOST_J_ITEM_CREATE || e->op > OUTPOST_J_FOLDER_SUBSCRIBE)
        return fb_error(s, OUTPOST_BAD_DATA, "journal_append: unknown operation %u", e->op);
    if (!e->payload && e->payload_len)
        return fb_error(s, OUTPOST_BAD_DATA, "journal_append: payload is NULL");
    if ((e->keywords && strlen(e->keywords) > 4000) || (e->name && strlen(e->name) > 8000) ||
        (e->remote_id && strlen(e->remote_id) > 1000))
        return fb_error(s, OUTPOST_BAD_DATA, "journal_append: keywords, name or remote id too long");
    int64_t created = e->created_ms ? e->created_ms : fb_now_ms(s);
    int64_t seq;
    if ((c = fb_counter_next(t, CT_SEQ, &seq)).code)
        return fb_poison(t, c);
    struct fb_stmt *st = fb_stmt(s, ST_J_INSERT);
    if (!st)
        return fb_poison(t, fb_db_error(s, "appending to the journal"));
    fb_bind_int(st, 0, seq);
    fb_bind_int(st, 1, e->op);
    fb_bind_int(st, 2, e->item_id);
    fb_bind_int(st, 3, e->folder_id);
    fb_bind_int(st, 4, e->target_folder_id);
    fb_bind_int(st, 5, e->flags);
    fb_bind_text(st, 6, e->keywords);
    fb_bind_text(st, 7, e->name);
    fb_bind_text(st, 8, e->remote_id);
    int in_row = e->payload_len <= FB_PAYLOAD_INLINE;
    if (e->payload)
        fb_bind_int(st, 9, (int64_t)e->payload_len);
    else
        fb_bind_null(st, 9);
    fb_bind_textn(st, 10, e->payload && in_row ? (e->payload_len ? e->payload : "") : NULL, e->payload_len);
    fb_bind_int(st, 11, created);
    if (fb_exec(s, st) || (e->payload && !in_row && fb_val_put(s, VS_JOURNAL, seq, NULL, e->payload, e->payload_len)))
        return fb_poison(t, fb_db_error(s, "appending to the journal"));
    e->seq = seq;
    e->state = OUTPOST_JS_PENDING;
    e->attempts = 0;
    e->done_ms = 0;
    e->created_ms = created;
    return outpost_ok();
}

outpost_status fb_journal_pending(struct outpost_txn *t, uint32_t limit, struct outpost_cursor **out)
{
    outpost_status c = fb_check_txn(t, 0);
    if (c.code)
        return c;
    struct fb_stmt *st;
    if ((c = fb_cursor_open(t->s, ST_J_PENDING, ROW_JOURNAL, out, &st)).code)
        return c;
    fb_bind_int(st, 0, limit ? (int64_t)limit : INT32_MAX);
    return fb_cursor_exec(out, "listing the journal");
}

outpost_status fb_journal_list(struct outpost_txn *t, int64_t after_seq, struct outpost_cursor **out)
{
    outpost_status c = fb_check_txn(t, 0);
    if (c.code)
        return c;
    struct fb_stmt *st;
    if ((c = fb_cursor_open(t->s, ST_J_LIST, ROW_JOURNAL, out, &st)).code)
        return c;
    fb_bind_int(st, 0, after_seq);
    return fb_cursor_exec(out, "listing the journal");
}

outpost_status fb_journal_set_state(struct outpost_txn *t, int64_t seq, uint32_t state,
                                    const char *result_remote_id, const char *message)
{
    struct outpost_storage *s = t->s;
    outpost_status c = fb_check_txn(t, 1);
    if (c.code)
        return c;
    if (state > OUTPOST_JS_LOCAL)
        return fb_error(s, OUTPOST_BAD_DATA, "journal_set_state: unknown state %u", state);
    if (result_remote_id && strlen(result_remote_id) > 1000)
        return fb_error(s, OUTPOST_BAD_DATA, "journal_set_state: result remote id too long");
    struct fb_stmt *st = fb_stmt(s, ST_J_SET);
    if (!st)
        return fb_poison(t, fb_db_error(s, "updating the journal"));
    fb_bind_int(st, 0, state);
    fb_bind_text(st, 1, result_remote_id);
    /* a diagnostic: kept to its first J_MESSAGE_MAX bytes */
    fb_bind_textn(st, 2, message, message ? (strlen(message) > J_MESSAGE_MAX ? J_MESSAGE_MAX : strlen(message)) : 0);
    fb_bind_int(st, 3, state == OUTPOST_JS_PENDING ? 0 : fb_now_ms(s));
    fb_bind_int(st, 4, seq);
    int r = fb_exec_row(s, st);
    if (r < 0)
        return fb_poison(t, fb_db_error(s, "updating the journal"));
    if (r == 0)
        return fb_error(s, OUTPOST_GONE, "journal entry %lld does not exist", (long long)seq);
    return outpost_ok();
}

static int count(struct outpost_storage *s, enum fb_stmt_id id, int64_t arg, uint64_t *n)
{
    struct fb_stmt *st = fb_stmt(s, id);
    if (!st)
        return -1;
    fb_bind_int(st, 0, arg);
    int r = fb_exec_row(s, st);
    if (r < 0)
        return -1;
    *n = r ? (uint64_t)fb_col_int(st, 0) : 0;
    return 0;
}

outpost_status fb_journal_count(struct outpost_txn *t, uint32_t state, uint64_t *n)
{
    outpost_status c = fb_check_txn(t, 0);
    if (c.code)
        return c;
    if (count(t->s, ST_J_COUNT, state, n))
        return fb_db_error(t->s, "counting journal entries");
    return outpost_ok();
}

outpost_status fb_journal_prune(struct outpost_txn *t, int64_t before_ms, uint64_t *removed)
{
    struct outpost_storage *s = t->s;
    outpost_status c = fb_check_txn(t, 1);
    if (c.code)
        return c;
    uint64_t n = 0;
    if (count(s, ST_J_PRUNE_COUNT, before_ms, &n))
        return fb_poison(t, fb_db_error(s, "pruning the journal"));
    struct fb_stmt *st = fb_stmt(s, ST_J_PRUNE);
    if (!st)
        return fb_poison(t, fb_db_error(s, "pruning the journal"));
    fb_bind_int(st, 0, before_ms);
    if (fb_exec(s, st))
        return fb_poison(t, fb_db_error(s, "pruning the journal"));
    if (removed)
        *removed = n;
    return outpost_ok();
}
