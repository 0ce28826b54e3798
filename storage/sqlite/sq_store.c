/* sq_store.c — the SQLite storage plugin: descriptor, lifecycle, transactions,
 * cursors, errors and the integrity check. The data methods live in
 * sq_folder.c, sq_item.c, sq_content.c, sq_journal.c and sq_fts.c.
 *
 * DURABILITY (what makes a commit that returned OK survive power loss with
 * [storage] durability = full):
 *
 *  - journal_mode=WAL, synchronous=FULL. A commit appends the transaction's
 *    pages to the -wal file followed by a commit frame, then fsync()s the WAL
 *    before COMMIT returns: "In WAL mode when synchronous is FULL the WAL file
 *    is synchronized after each transaction commit"
 *    (https://www.sqlite.org/pragma.html#pragma_synchronous). That single
 *    fsync is the durability point of every commit; we report OK only after
 *    sqlite3_step(COMMIT) returned SQLITE_DONE.
 *  - Checkpoints (once the WAL holds [storage] checkpoint_mb, default 1 GiB,
 *    on a thread of the instance right after the commit that crossed it, or
 *    in that commit past twice the size: wal_hook below; after 1 s without
 *    any transaction, on the same thread, sq_idle.c; and at close) fsync the
 *    WAL
 *    before copying pages into the database file and fsync the database file
 *    before the WAL may be reset and reused (https://www.sqlite.org/wal.html,
 *    "Checkpointing"), so a crash during a checkpoint replays the WAL on the
 *    next open.
 *  - Creating a file is only durable once its directory entry is: the unix VFS
 *    fsyncs the directory on the first sync of a new WAL or rollback journal
 *    (SQLITE_DISABLE_DIRSYNC is not set in Debian's build,
 *    https://www.sqlite.org/compile.html#disable_dirsync). For the database
 *    file itself we fsync its directory after creating the schema
 *    (sync_parent_dir below).
 *  - Content compression (sq_content.c) and item_put's folder counters
 *    (sq_folder_bump_put) change which bytes are written and in which
 *    statement, not when they become durable. Within a write transaction
 *    three things may wait in memory: the last, partly filled chunk of the
 *    content being written, chunks queued for the compressor thread, and the
 *    folder row's new uidnext/highest_modseq/counters. commit() writes all of
 *    them into the transaction (waiting for the compressor) before it steps
 *    COMMIT, so everything the caller wrote is in the WAL frames that the
 *    commit's fsync covers, and OK still means "synced". A failure while
 *    writing them (e.g. disk full) poisons the transaction: commit reports it
 *    and rolls back, as for any failed write. A rollback or a crash loses them
 *    together with the rest of the uncommitted transaction. No fsync is added
 *    or removed, synchronous stays FULL, and the checkpoints are unchanged.
 *  - durability = normal uses synchronous=NORMAL: the WAL is synced only at
 *    checkpoints, so "a transaction committed in WAL mode with
 *    synchronous=NORMAL might roll back following a power loss or system
 *    crash" (pragma.html#pragma_synchronous) — it still never corrupts and
 *    survives a process crash. Not for caches holding unsent edits.
 *  - All of this assumes the disk honours flushes and a local file system
 *    (https://www.sqlite.org/howtocorrupt.html); the core refuses network
 *    file systems before open().
 *
 * DISK FULL: SQLITE_FULL makes SQLite roll back the statement (and, in WAL
 * mode, possibly the transaction: https://www.sqlite.org/lang_transaction.html
 * "Response To Errors Within A Transaction"). We report FATAL "disk full",
 * roll back whatever is left, and keep the connection: nothing committed is
 * touched (committed frames precede the failed ones in the WAL), and the next
 * transaction works once space has been freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "sq_internal.h"

outpost_status sq_schema_upgrade(struct outpost_storage *s);
sqlite3_stmt *sq_stmt_private(struct outpost_storage *s, enum sq_stmt_id id, int *rc);

/* ---- errors ---- */

outpost_status sq_error(struct outpost_storage *s, int32_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->msg, sizeof s->msg, fmt, ap);
    va_end(ap);
    outpost_status st = { code, 0, s->msg };
    return st;
}

outpost_status sq_db_error(struct outpost_storage *s, int rc, const char *what)
{
    const char *dbmsg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_FULL:
        return sq_error(s, OUTPOST_FATAL,
                        "disk full while %s (%s): free space on the file system holding %s; "
                        "the transaction was rolled back, nothing committed is lost",
                        what, dbmsg, s->path ? s->path : "the cache");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return sq_error(s, OUTPOST_TEMP, "cache %s is busy while %s (%s): retry later", s->path, what,
                        dbmsg);
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
        return sq_error(s, OUTPOST_BAD_DATA, "invalid data while %s: %s", what, dbmsg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return sq_error(s, OUTPOST_FATAL,
                        "cache %s is damaged (%s while %s): restore it or delete it to resync",
                        s->path, dbmsg, what);
    case SQLITE_NOMEM:
        return sq_error(s, OUTPOST_FATAL, "out of memory while %s", what);
    default:
        return sq_error(s, OUTPOST_FATAL, "cache %s: %s while %s", s->path ? s->path : "?", dbmsg,
                        what);
    }
}

outpost_status sq_poison(struct outpost_txn *t, outpost_status st)
{
    if (st.code != OUTPOST_OK && t->mode == OUTPOST_TXN_WRITE && !t->failed) {
        t->failed = 1;
        t->fail_code = st.code;
        snprintf(t->fail_msg, sizeof t->fail_msg, "%s", st.message ? st.message : "failed");
    }
    return st;
}

int sq_exec(struct outpost_storage *s, const char *sql)
{
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL);
}

int sq_exec_stmt(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

void sq_bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

int64_t sq_now_ms(struct outpost_storage *s)
{
    if (s->host && s->host->now_ms)
        return s->host->now_ms(s->host);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

outpost_status sq_check_txn(struct outpost_txn *t, int write)
{
    if (!t->open)
        return sq_error(t->s, OUTPOST_BAD_DATA, "call on a transaction that has ended");
    if (write && t->mode != OUTPOST_TXN_WRITE)
        return sq_error(t->s, OUTPOST_BAD_DATA, "write call in a read transaction");
    if (write)
        sq_content_forget(t->s); /* a write may delete rows and reuse their rowids */
    if (t->fb_id) {
        outpost_status c = sq_folder_flush(t);
        if (c.code)
            return c;
    }
    /* anything but the next content_write of the same item: the pending
     * content tail becomes a row first (sq_content.c) */
    return sq_content_flush(t);
}

outpost_status sq_check_txn_queue(struct outpost_txn *t, int write)
{
    if (!t->open || (write && t->mode != OUTPOST_TXN_WRITE))
        return sq_check_txn(t, write);
    sq_content_forget(t->s);
    return sq_content_flush_queue(t);
}

/* ---- row filling ---- */

int sq_buf_reserve(struct sq_buf *b, size_t n)
{
    if (n <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < n)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

/* Column `col` as a string: copied into buf (when given) or borrowed. The
 * caller reserved room for every copied string first. */
static const char *col_text(sqlite3_stmt *st, int col, struct sq_buf *buf)
{
    const unsigned char *v = sqlite3_column_text(st, col);
    if (!v)
        return NULL;
    if (!buf)
        return (const char *)v;
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    char *dst = buf->p + buf->len;
    memcpy(dst, v, n);
    dst[n] = '\0';
    buf->len += n + 1;
    return dst;
}

/* Reserves buf room for the text columns [from, to) and one blob column. */
static int reserve_cols(sqlite3_stmt *st, int from, int to, int blob_col, struct sq_buf *buf)
{
    if (!buf)
        return 0;
    size_t need = 16;
    for (int i = from; i < to; i++)
        if (sqlite3_column_type(st, i) != SQLITE_NULL) {
            sqlite3_column_text(st, i);
            need += (size_t)sqlite3_column_bytes(st, i) + 1;
        }
    if (blob_col >= 0)
        need += (size_t)sqlite3_column_bytes(st, blob_col) + 16;
    buf->len = 0;
    return sq_buf_reserve(buf, need);
}

int sq_fill_item(sqlite3_stmt *st, outpost_item *it, struct sq_buf *buf)
{
    if (reserve_cols(st, 0, 23, -1, buf))
        return -1;
    memset(it, 0, sizeof *it);
    it->struct_size = sizeof *it;
    it->id = sqlite3_column_int64(st, 0);
    it->kind = (uint32_t)sqlite3_column_int(st, 1);
    it->folder_id = sqlite3_column_int64(st, 2);
    it->remote_id = col_text(st, 3, buf);
    it->remote_version = col_text(st, 4, buf);
    it->uid = (uint32_t)sqlite3_column_int64(st, 5);
    it->flags = (uint32_t)sqlite3_column_int64(st, 6);
    it->modseq = (uint64_t)sqlite3_column_int64(st, 7);
    it->keywords = col_text(st, 8, buf);
    it->internal_date = sqlite3_column_int64(st, 9);
    it->date = sqlite3_column_int64(st, 10);
    it->size = (uint64_t)sqlite3_column_int64(st, 11);
    it->content_state = (uint32_t)sqlite3_column_int(st, 12);
    it->cached_size = (uint64_t)sqlite3_column_int64(st, 13);
    it->subject = col_text(st, 14, buf);
    it->from = col_text(st, 15, buf);
    it->to = col_text(st, 16, buf);
    it->cc = col_text(st, 17, buf);
    it->message_id = col_text(st, 18, buf);
    it->object_uid = col_text(st, 19, buf);
    it->envelope = col_text(st, 20, buf);
    it->bodystructure = col_text(st, 21, buf);
    it->preview = col_text(st, 22, buf);
    return 0;
}

int sq_fill_folder(sqlite3_stmt *st, outpost_folder *f, struct sq_buf *buf)
{
    if (reserve_cols(st, 3, 5, 13, buf))
        return -1;
    memset(f, 0, sizeof *f);
    f->struct_size = sizeof *f;
    f->id = sqlite3_column_int64(st, 0);
    f->kind = (uint32_t)sqlite3_column_int(st, 1);
    f->parent_id = sqlite3_column_int64(st, 2);
    f->remote_id = col_text(st, 3, buf);
    f->name = col_text(st, 4, buf);
    f->special_use = (uint32_t)sqlite3_column_int(st, 5);
    f->flags = (uint32_t)sqlite3_column_int64(st, 6);
    f->uidvalidity = (uint32_t)sqlite3_column_int64(st, 7);
    f->uidnext = (uint32_t)sqlite3_column_int64(st, 8);
    f->highest_modseq = (uint64_t)sqlite3_column_int64(st, 9);
    f->total = (uint32_t)sqlite3_column_int64(st, 10);
    f->unread = (uint32_t)sqlite3_column_int64(st, 11);
    f->flagged = (uint32_t)sqlite3_column_int64(st, 12);
    if (sqlite3_column_type(st, 13) != SQLITE_NULL) {
        const void *b = sqlite3_column_blob(st, 13);
        size_t n = (size_t)sqlite3_column_bytes(st, 13);
        if (buf && n) {
            void *dst = buf->p + buf->len;
            memcpy(dst, b, n);
            buf->len += n;
            b = dst;
        }
        f->sync_state = n ? b : "";
        f->sync_state_len = n;
    }
    return 0;
}

void sq_fill_journal(sqlite3_stmt *st, outpost_journal_entry *e)
{
    memset(e, 0, sizeof *e);
    e->struct_size = sizeof *e;
    e->seq = sqlite3_column_int64(st, 0);
    e->op = (uint32_t)sqlite3_column_int(st, 1);
    e->state = (uint32_t)sqlite3_column_int(st, 2);
    e->attempts = (uint32_t)sqlite3_column_int64(st, 3);
    e->item_id = sqlite3_column_int64(st, 4);
    e->folder_id = sqlite3_column_int64(st, 5);
    e->target_folder_id = sqlite3_column_int64(st, 6);
    e->flags = (uint32_t)sqlite3_column_int64(st, 7);
    e->keywords = col_text(st, 8, NULL);
    e->name = col_text(st, 9, NULL);
    e->remote_id = col_text(st, 10, NULL);
    if (sqlite3_column_type(st, 11) != SQLITE_NULL) {
        e->payload_len = (size_t)sqlite3_column_bytes(st, 11);
        e->payload = e->payload_len ? sqlite3_column_blob(st, 11) : "";
    }
    e->created_ms = sqlite3_column_int64(st, 12);
    e->done_ms = sqlite3_column_int64(st, 13);
    e->result_remote_id = col_text(st, 14, NULL);
    e->message = col_text(st, 15, NULL);
}

/* ---- cursors ---- */

outpost_status sq_cursor_open(struct outpost_storage *s, enum sq_stmt_id id, int row_type,
                              struct outpost_cursor **out, sqlite3_stmt **stp)
{
    struct outpost_cursor *c = calloc(1, sizeof *c);
    if (!c)
        return sq_error(s, OUTPOST_FATAL, "out of memory opening a listing");
    int rc;
    if (!s->busy[id]) {
        c->st = sq_stmt(s, id, &rc);
        c->stmt_id = (int)id;
    } else {
        c->st = sq_stmt_private(s, id, &rc);
        c->stmt_id = -1;
    }
    if (!c->st) {
        free(c);
        return sq_db_error(s, rc, "preparing a listing");
    }
    if (c->stmt_id >= 0)
        s->busy[id] = 1;
    c->s = s;
    c->row_type = row_type;
    s->open_cursors++;
    *out = c;
    *stp = c->st;
    return outpost_ok();
}

outpost_status sq_cursor_next(struct outpost_cursor *c, const void **row)
{
    *row = NULL;
    if (c->done)
        return outpost_ok();
    int rc = sqlite3_step(c->st);
    if (rc == SQLITE_DONE) {
        c->done = 1;
        return outpost_ok();
    }
    if (rc != SQLITE_ROW) {
        c->done = 1;
        return sq_db_error(c->s, rc, "reading a listing");
    }
    sqlite3_stmt *st = c->st;
    switch (c->row_type) {
    case ROW_FOLDER:
        sq_fill_folder(st, &c->row.folder, NULL);
        break;
    case ROW_ITEM:
        sq_fill_item(st, &c->row.item, NULL);
        break;
    case ROW_TOMBSTONE:
        c->row.tomb.struct_size = sizeof c->row.tomb;
        c->row.tomb.uid = (uint32_t)sqlite3_column_int64(st, 0);
        c->row.tomb.modseq = (uint64_t)sqlite3_column_int64(st, 1);
        break;
    case ROW_JOURNAL:
        sq_fill_journal(st, &c->row.journal);
        break;
    case ROW_UID_FLAGS:
        c->row.uf.struct_size = sizeof c->row.uf;
        c->row.uf.uid = (uint32_t)sqlite3_column_int64(st, 0);
        c->row.uf.flags = (uint32_t)sqlite3_column_int64(st, 1);
        c->row.uf.modseq = (uint64_t)sqlite3_column_int64(st, 2);
        c->row.uf.id = sqlite3_column_int64(st, 3);
        c->row.uf.keywords = (const char *)sqlite3_column_text(st, 4);
        break;
    }
    *row = &c->row;
    return outpost_ok();
}

void sq_cursor_close(struct outpost_cursor *c)
{
    if (!c)
        return;
    if (c->stmt_id >= 0) {
        sqlite3_reset(c->st);
        c->s->busy[c->stmt_id] = 0;
    } else {
        sqlite3_finalize(c->st);
    }
    c->s->open_cursors--;
    free(c);
}

/* ---- lifecycle ---- */

/* create() fails before an instance exists: its message lives here. */
static _Thread_local char create_msg[256];

static outpost_status create_fail(struct outpost_storage *s, outpost_status st)
{
    snprintf(create_msg, sizeof create_msg, "%s", st.message ? st.message : "cannot create the storage");
    if (s) {
        free(s->path);
        free(s);
    }
    st.message = create_msg;
    return st;
}

/* A two-valued [storage] key: *on = 1 for `yes` (the default, also when
 * unset), 0 for `no`; BAD_DATA for anything else. */
static outpost_status config_choice(struct outpost_storage *s, const char *key, const char *yes, const char *no,
                                    int *on)
{
    const char *v = s->host->config_get ? s->host->config_get(s->host, key) : NULL;
    if (!v || !*v || strcmp(v, yes) == 0)
        *on = 1;
    else if (strcmp(v, no) == 0)
        *on = 0;
    else
        return sq_error(s, OUTPOST_BAD_DATA, "[storage] %s = %s: expected %s or %s", key, v, yes, no);
    return outpost_ok();
}

static outpost_status sq_create(const struct outpost_host *host, struct outpost_storage **out)
{
    *out = NULL;
    outpost_status oom = { OUTPOST_FATAL, 0, "out of memory creating the SQLite storage" };
    struct outpost_storage *s = calloc(1, sizeof *s);
    if (!s)
        return create_fail(NULL, oom);
    s->host = host;
    s->txn.s = s;
    const char *path = host->config_get ? host->config_get(host, "path") : NULL;
    if (!path || !*path)
        path = "cache.sqlite";
    const char *dir = host->data_dir ? host->data_dir(host) : NULL;
    size_t n = strlen(path) + (dir ? strlen(dir) : 0) + 2;
    s->path = malloc(n);
    if (!s->path)
        return create_fail(s, oom);
    if (path[0] == '/' || !dir || !*dir)
        snprintf(s->path, n, "%s", path);
    else
        snprintf(s->path, n, "%s/%s", dir, path);

    outpost_status cs = config_choice(s, "durability", "full", "normal", &s->durability_full);
    if (cs.code == OUTPOST_OK)
        cs = config_choice(s, "compress", "zstd", "none", &s->compress);
    if (cs.code != OUTPOST_OK)
        return create_fail(s, cs);
    s->cache_mb = host->config_int ? host->config_int(host, "cache_mb", 2) : 2;
    if (s->cache_mb < 1 || s->cache_mb > 65536)
        return create_fail(s, sq_error(s, OUTPOST_BAD_DATA, "[storage] cache_mb = %lld: expected 1 to 65536",
                                       (long long)s->cache_mb));
    s->checkpoint_mb = host->config_int ? host->config_int(host, "checkpoint_mb", 1024) : 1024;
    if (s->checkpoint_mb < 4 || s->checkpoint_mb > 65536)
        return create_fail(s, sq_error(s, OUTPOST_BAD_DATA,
                                       "[storage] checkpoint_mb = %lld: expected 4 to 65536",
                                       (long long)s->checkpoint_mb));
    *out = s;
    return outpost_ok();
}

/* fsyncs the directory holding the database so that a newly created file's
 * directory entry is durable (POSIX; see DURABILITY above). */
static void sync_parent_dir(const char *path)
{
    char *dir = strdup(path);
    if (!dir)
        return;
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

static void finalize_all(struct outpost_storage *s)
{
    for (int i = 0; i < ST__COUNT; i++) {
        if (s->stmt[i])
            sqlite3_finalize(s->stmt[i]);
        s->stmt[i] = NULL;
        s->busy[i] = 0;
    }
}

static outpost_status sq_close(struct outpost_storage *s);

/* Every commit ends here with the WAL's size in pages (sqlite3_wal_hook,
 * which takes the place of SQLite's automatic checkpoint). Past checkpoint_mb
 * the idle thread checkpoints at once on its own connection (sq_idle.c), so
 * the commit that crossed the line does not wait for the copy (about 2.6 s
 * per GiB here). The WAL only starts over (and journal_size_limit truncates
 * it) when a write transaction begins with every frame copied, which a
 * checkpoint running beside a busy writer never achieves: once the thread's
 * checkpoint has left less than 1/16 of checkpoint_mb, the commit copies that
 * rest itself. Past twice the size (the thread is behind, or could not
 * start) the commit checkpoints itself too, PASSIVE, as SQLite's automatic
 * checkpoint does. Either way the commit was durable before this runs. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct outpost_storage *s = arg;
    int fresh = pages < s->wal_pages; /* the WAL only shrinks by starting over */
    s->wal_pages = pages;
    if (pages < s->ckpt_pages)
        return SQLITE_OK;
    if (pages < 2 * s->ckpt_pages && sq_idle_checkpoint_soon(s, pages, fresh))
        return SQLITE_OK;
    (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

static outpost_status sq_open(struct outpost_storage *s)
{
    if (s->db)
        return sq_error(s, OUTPOST_BAD_DATA, "cache %s is already open", s->path);
    int existed = access(s->path, F_OK) == 0;
    int rc = sqlite3_open_v2(s->path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
                                 SQLITE_OPEN_EXRESCODE,
                             NULL);
    if (rc != SQLITE_OK) {
        outpost_status st = sq_db_error(s, rc, "opening the cache");
        if (!s->db)
            return st;
        st = sq_error(s, OUTPOST_FATAL, "cannot open cache %s: %s (check the path and permissions)",
                      s->path, sqlite3_errmsg(s->db));
        sqlite3_close(s->db);
        s->db = NULL;
        return st;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, 5000);
    char sql[512];
    snprintf(sql, sizeof sql,
             "PRAGMA synchronous=%s; PRAGMA cache_size=-%lld; PRAGMA temp_store=MEMORY;"
             "PRAGMA journal_size_limit=%lld; PRAGMA foreign_keys=OFF;",
             s->durability_full ? "FULL" : "NORMAL", (long long)s->cache_mb * 1024, (long long)SQ_WAL_KEEP_BYTES);
    rc = sq_exec(s, sql);
    /* 16 KiB pages for new caches: a typical message (4 KiB) stays on its
     * leaf page instead of spilling into an overflow page, and a 128 KiB
     * content row is 9 pages instead of 33 (fewer WAL frames and syscalls).
     * Only takes effect before the first table exists; caches created with
     * 4 KiB pages keep them (correct, a little slower). */
    if (rc == SQLITE_OK && !existed)
        rc = sq_exec(s, "PRAGMA page_size=" SQ_STR(SQ_PAGE_SIZE));
    int64_t page_size = SQ_PAGE_SIZE;
    if (rc == SQLITE_OK) {
        sqlite3_stmt *ps;
        rc = sqlite3_prepare_v2(s->db, "PRAGMA page_size", -1, &ps, NULL);
        if (rc == SQLITE_OK) {
            if (sqlite3_step(ps) == SQLITE_ROW && sqlite3_column_int64(ps, 0) > 0)
                page_size = sqlite3_column_int64(ps, 0);
            sqlite3_finalize(ps);
        }
    }
    if (rc == SQLITE_OK) {
        /* Checkpoints copy the WAL into the database: every byte is written
         * twice. Let the WAL grow to checkpoint_mb before a checkpoint, so an
         * ingest burst is written once and copied later in one pass, off the
         * commit path (wal_hook); close() checkpoints what is left. */
        s->ckpt_pages = s->checkpoint_mb * 1048576 / page_size;
        s->page_size = page_size;
        sqlite3_wal_hook(s->db, wal_hook, s);
    }
    if (rc != SQLITE_OK) {
        outpost_status st = sq_db_error(s, rc, "configuring the connection");
        sq_close(s);
        return st;
    }
    /* WAL: one writer and concurrent readers, one fsync per commit. */
    sqlite3_stmt *st;
    rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        const unsigned char *mode = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
        rc = mode && strcmp((const char *)mode, "wal") == 0 ? SQLITE_OK
             : rc == SQLITE_ROW                              ? SQLITE_CANTOPEN
                                                             : rc;
        sqlite3_finalize(st);
    }
    if (rc != SQLITE_OK) {
        outpost_status e = rc == SQLITE_CANTOPEN
                               ? sq_error(s, OUTPOST_FATAL,
                                          "cache %s: cannot switch to WAL mode (a network or "
                                          "read-only file system?)", s->path)
                               : sq_db_error(s, rc, "switching the cache to WAL mode");
        sq_close(s);
        return e;
    }
    if ((rc = sq_fts_register(s)) != SQLITE_OK) { /* before the first use of the index */
        outpost_status e = sq_db_error(s, rc, "registering the full-text tokenizer");
        sq_close(s);
        return e;
    }
    outpost_status up = sq_schema_upgrade(s);
    if (up.code != OUTPOST_OK) {
        char keep[sizeof s->msg];
        snprintf(keep, sizeof keep, "%s", s->msg);
        sq_close(s);
        snprintf(s->msg, sizeof s->msg, "%s", keep);
        up.message = s->msg;
        return up;
    }
    if ((rc = sq_fts_create_temp(s)) != SQLITE_OK) {
        outpost_status e = sq_db_error(s, rc, "creating the private search index");
        sq_close(s);
        return e;
    }
    if (!existed)
        sync_parent_dir(s->path);
    return outpost_ok();
}

static outpost_status sq_close(struct outpost_storage *s)
{
    if (!s->db)
        return outpost_ok();
    if (s->txn.open)
        return sq_error(s, OUTPOST_BAD_DATA, "close() with a transaction still open");
    if (s->open_cursors)
        return sq_error(s, OUTPOST_BAD_DATA, "close() with %d listing(s) still open",
                        s->open_cursors);
    sq_idle_stop(s);
    finalize_all(s);
    int rc = sqlite3_close(s->db);
    if (rc != SQLITE_OK)
        return sq_db_error(s, rc, "closing the cache");
    s->db = NULL;
    return outpost_ok();
}

static void sq_destroy(struct outpost_storage *s)
{
    if (!s)
        return;
    sq_idle_stop(s);
    if (s->db) {
        if (s->txn.open) {
            sq_exec(s, "ROLLBACK");
            s->txn.open = 0;
        }
        finalize_all(s);
        sqlite3_close_v2(s->db);
    }
    sq_content_free(s);
    free(s->txn.out.p);
    free(s->path);
    free(s);
}

/* ---- transactions ---- */

static outpost_status sq_begin(struct outpost_storage *s, uint32_t mode, struct outpost_txn **out)
{
    if (!s->db)
        return sq_error(s, OUTPOST_BAD_DATA, "begin() on a cache that is not open");
    if (s->txn.open)
        return sq_error(s, OUTPOST_BAD_DATA, "begin() while a transaction is open on this instance");
    if (mode != OUTPOST_TXN_READ && mode != OUTPOST_TXN_WRITE)
        return sq_error(s, OUTPOST_BAD_DATA, "begin(): unknown mode %u", mode);
    int rc;
    sqlite3_stmt *st = sq_stmt(s, mode == OUTPOST_TXN_WRITE ? ST_BEGIN_WRITE : ST_BEGIN_READ, &rc);
    if (st)
        rc = sq_exec_stmt(st);
    if (rc == SQLITE_OK && mode == OUTPOST_TXN_READ) {
        /* take the read snapshot now, not at the first query */
        st = sq_stmt(s, ST_SNAPSHOT, &rc);
        if (st)
            rc = sq_exec_stmt(st);
        if (rc != SQLITE_OK)
            sq_exec(s, "ROLLBACK");
    }
    if (rc != SQLITE_OK)
        return sq_db_error(s, rc, mode == OUTPOST_TXN_WRITE ? "starting a write transaction"
                                                            : "starting a read transaction");
    struct outpost_txn *t = &s->txn;
    t->mode = mode;
    t->open = 1;
    t->failed = 0;
    t->fts_garbage = 0;
    t->fk_id = 0;
    t->fresh_id = 0;
    t->fb_id = 0;
    t->fb_dirty = 0;
    sq_content_reset(s);
    sq_idle_txn_begin(s);
    *out = t;
    return outpost_ok();
}

static void end_txn(struct outpost_txn *t)
{
    struct outpost_storage *s = t->s;
    if (!sqlite3_get_autocommit(s->db)) {
        int rc;
        sqlite3_stmt *st = sq_stmt(s, ST_ROLLBACK, &rc);
        if (!st || sq_exec_stmt(st) != SQLITE_OK)
            sq_exec(s, "ROLLBACK");
    }
    t->open = 0;
    sq_content_reset(s);
    sq_idle_txn_end(s, 0);
}

static outpost_status sq_commit(struct outpost_txn *t)
{
    struct outpost_storage *s = t->s;
    if (!t->open)
        return sq_error(s, OUTPOST_BAD_DATA, "commit() without an open transaction");
    if (s->open_cursors) {
        end_txn(t);
        return sq_error(s, OUTPOST_BAD_DATA,
                        "commit() with %d listing(s) open: close cursors first; rolled back",
                        s->open_cursors);
    }
    if (t->mode == OUTPOST_TXN_WRITE) {
        /* a failure poisons the transaction: refused below */
        (void)sq_content_flush(t);
        (void)sq_folder_flush(t);
    }
    if (t->failed) {
        end_txn(t);
        return sq_error(s, t->fail_code, "transaction rolled back after an earlier failure: %s",
                        t->fail_msg);
    }
    if (t->mode == OUTPOST_TXN_WRITE && t->fts_garbage) {
        outpost_status g = sq_fts_flush_garbage(t);
        if (g.code != OUTPOST_OK) {
            end_txn(t);
            return g;
        }
    }
    if (sqlite3_get_autocommit(s->db)) {
        /* SQLite already rolled back (e.g. after SQLITE_FULL) */
        t->open = 0;
        sq_idle_txn_end(s, 0);
        return sq_error(s, OUTPOST_FATAL, "the transaction was rolled back by the engine");
    }
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_COMMIT, &rc);
    if (st)
        rc = sq_exec_stmt(st);
    if (rc != SQLITE_OK) {
        outpost_status e = sq_db_error(s, rc, "committing");
        end_txn(t);
        return e;
    }
    t->open = 0;
    sq_idle_txn_end(s, t->mode == OUTPOST_TXN_WRITE);
    return outpost_ok();
}

static void sq_rollback(struct outpost_txn *t)
{
    if (t && t->open)
        end_txn(t);
}

/* ---- meta ---- */

outpost_status sq_meta_get(struct outpost_txn *t, const char *key, const void **val, size_t *len)
{
    struct outpost_storage *s = t->s;
    if (!key)
        return sq_error(s, OUTPOST_BAD_DATA, "meta_get: key is NULL");
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_META_GET, &rc);
    if (!st)
        return sq_db_error(s, rc, "reading meta");
    sq_bind_text(st, 1, key);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return sq_error(s, OUTPOST_GONE, "meta key %s not set", key);
    if (rc != SQLITE_ROW)
        return sq_db_error(s, rc, "reading meta");
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    const void *b = sqlite3_column_blob(st, 0);
    if (sq_buf_reserve(&t->out, n + 1))
        return sq_error(s, OUTPOST_FATAL, "out of memory reading meta");
    if (n)
        memcpy(t->out.p, b, n);
    t->out.p[n] = '\0';
    sqlite3_reset(st);
    *val = t->out.p;
    *len = n;
    return outpost_ok();
}

outpost_status sq_meta_set(struct outpost_txn *t, const char *key, const void *val, size_t len)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn(t, 1);
    if (c.code)
        return c;
    if (!key)
        return sq_error(s, OUTPOST_BAD_DATA, "meta_set: key is NULL");
    int rc;
    sqlite3_stmt *st = sq_stmt(s, val ? ST_META_SET : ST_META_DEL, &rc);
    if (!st)
        return sq_poison(t, sq_db_error(s, rc, "writing meta"));
    sq_bind_text(st, 1, key);
    if (val)
        sqlite3_bind_blob64(st, 2, len ? val : "", len, SQLITE_STATIC);
    rc = sq_exec_stmt(st);
    if (rc != SQLITE_OK)
        return sq_poison(t, sq_db_error(s, rc, "writing meta"));
    return outpost_ok();
}

/* ---- integrity ---- */

static outpost_status sq_integrity_check(struct outpost_storage *s)
{
    if (!s->db)
        return sq_error(s, OUTPOST_BAD_DATA, "integrity_check on a cache that is not open");
    if (s->txn.open)
        return sq_error(s, OUTPOST_BAD_DATA, "integrity_check inside a transaction");
    static const char *const checks[] = {
        "PRAGMA integrity_check",
        "SELECT 'folder ' || f.id || ' (' || f.name || ') counters total/unread/flagged '"
        " || f.total || '/' || f.unread || '/' || f.flagged || ' but items say '"
        " || count(i.id) || '/' || total(i.flags&1=0) || '/' || total(i.flags&4<>0)"
        " FROM folder f LEFT JOIN item i ON i.folder_id=f.id GROUP BY f.id"
        " HAVING f.total<>count(i.id) OR f.unread<>total(i.flags&1=0)"
        " OR f.flagged<>total(i.flags&4<>0) LIMIT 1",
        "SELECT 'folder ' || f.id || ' uidnext ' || f.uidnext || ' not above UID ' || max(i.uid)"
        " FROM folder f JOIN item i ON i.folder_id=f.id GROUP BY f.id"
        " HAVING max(i.uid)>=f.uidnext LIMIT 1",
        "SELECT 'folder ' || f.id || ' highest_modseq ' || f.highest_modseq || ' below '"
        " || max(m) FROM folder f JOIN (SELECT folder_id, modseq AS m FROM item UNION ALL"
        " SELECT folder_id, modseq FROM tombstone) x ON x.folder_id=f.id GROUP BY f.id"
        " HAVING max(m)>f.highest_modseq LIMIT 1",
        "SELECT 'item ' || id || ' in missing folder ' || folder_id FROM item"
        " WHERE folder_id NOT IN (SELECT id FROM folder) LIMIT 1",
        "SELECT 'folder ' || id || ' has missing parent ' || parent_id FROM folder"
        " WHERE parent_id<>0 AND parent_id NOT IN (SELECT id FROM folder) LIMIT 1",
        "SELECT 'content of missing item ' || item_id FROM content"
        " WHERE item_id NOT IN (SELECT id FROM item) LIMIT 1",
        /* content_range is unique on (item_id, off, len, codec) (sq_schema.c) */
        "SELECT 'item ' || item_id || ' has two content rows at offset ' || off FROM content"
        " GROUP BY item_id, off HAVING count(*) > 1 LIMIT 1",
        "SELECT 'property of missing item ' || item_id FROM prop"
        " WHERE item_id NOT IN (SELECT id FROM item) LIMIT 1",
    };
    int rc = sq_exec(s, "BEGIN");
    if (rc != SQLITE_OK)
        return sq_db_error(s, rc, "starting the integrity check");
    outpost_status result = outpost_ok();
    for (size_t i = 0; i < sizeof checks / sizeof checks[0] && result.code == OUTPOST_OK; i++) {
        sqlite3_stmt *st;
        rc = sqlite3_prepare_v2(s->db, checks[i], -1, &st, NULL);
        if (rc != SQLITE_OK) {
            result = sq_db_error(s, rc, "checking integrity");
            break;
        }
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const char *m = (const char *)sqlite3_column_text(st, 0);
            if (i > 0 || !m || strcmp(m, "ok") != 0)
                result = sq_error(s, OUTPOST_FATAL, "cache %s fails its integrity check: %s",
                                  s->path, m ? m : "?");
        } else if (rc != SQLITE_DONE) {
            result = sq_db_error(s, rc, "checking integrity");
        }
        sqlite3_finalize(st);
    }
    if (result.code == OUTPOST_OK) {
        /* SQLite checks its pages, not what a blob holds: each content row is decoded */
        char msg[200] = "";
        rc = sq_content_verify(s, msg, sizeof msg);
        if (rc == SQLITE_CORRUPT && msg[0])
            result = sq_error(s, OUTPOST_FATAL, "cache %s fails its integrity check: %s", s->path, msg);
        else if (rc != SQLITE_OK)
            result = sq_db_error(s, rc, "checking content");
    }
    sq_exec(s, "ROLLBACK");
    return result;
}

/* ---- descriptor ---- */

static outpost_status module_init(const struct outpost_host *host)
{
    (void)host;
    g_mime_init();
    return outpost_ok();
}

static void module_fini(void)
{
    g_mime_shutdown();
}

static outpost_status m_cursor_next(struct outpost_cursor *c, const void **row)
{
    return sq_cursor_next(c, row);
}

static const struct outpost_storage_methods methods = {
    .struct_size = sizeof(struct outpost_storage_methods),
    .create = sq_create,
    .open = sq_open,
    .close = sq_close,
    .destroy = sq_destroy,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .cursor_next = m_cursor_next,
    .cursor_close = sq_cursor_close,
    .meta_get = sq_meta_get,
    .meta_set = sq_meta_set,
    .folder_create = sq_folder_create,
    .folder_update = sq_folder_update,
    .folder_delete = sq_folder_delete,
    .folder_get = sq_folder_get,
    .folder_find_remote = sq_folder_find_remote,
    .folder_list = sq_folder_list,
    .folder_set_sync_state = sq_folder_set_sync_state,
    .item_put = sq_item_put,
    .item_update = sq_item_update,
    .item_get = sq_item_get,
    .item_find_remote = sq_item_find_remote,
    .item_find_key = sq_item_find_key,
    .item_set_flags = sq_item_set_flags,
    .item_move = sq_item_move,
    .item_delete = sq_item_delete,
    .items_by_uid = sq_items_by_uid,
    .items_changed_since = sq_items_changed_since,
    .expunged_since = sq_expunged_since,
    .items_missing_content = sq_items_missing_content,
    .content_write = sq_content_write,
    .content_finish = sq_content_finish,
    .content_read = sq_content_read,
    .content_drop = sq_content_drop,
    .prop_set = sq_prop_set,
    .prop_get = sq_prop_get,
    .journal_append = sq_journal_append,
    .journal_pending = sq_journal_pending,
    .journal_list = sq_journal_list,
    .journal_set_state = sq_journal_set_state,
    .journal_count = sq_journal_count,
    .journal_prune = sq_journal_prune,
    .integrity_check = sq_integrity_check,
    .fts_search = sq_fts_search,
    .items_uid_flags = sq_items_uid_flags,
    .fts_index = sq_fts_index,
};

static const outpost_config_key config_keys[] = {
    { "path", OUTPOST_CFG_PATH, 0, "cache.sqlite", NULL,
      "cache database file, relative to the data directory" },
    { "durability", OUTPOST_CFG_ENUM, 0, "full", "full|normal",
      "full: every commit survives power loss (fsync per commit); normal: survives crashes only" },
    { "cache_mb", OUTPOST_CFG_INT, 0, "2", NULL, "SQLite page cache per connection, in MiB" },
    { "checkpoint_mb", OUTPOST_CFG_INT, 0, "1024", NULL,
      "the write-ahead log grows to this many MiB before it is copied into the cache file "
      "(in the background; by the committing writer past twice this size)" },
    { "compress", OUTPOST_CFG_ENUM, 0, "zstd", "zstd|none",
      "zstd: item content is stored compressed (about 2/3 of the bytes to write and keep, more "
      "CPU); none: stored as is. Either way both kinds of rows are read" },
    { NULL, 0, 0, NULL, NULL, NULL },
};

static const struct outpost_plugin descriptor = {
    .struct_size = sizeof(struct outpost_plugin),
    .abi_major = OUTPOST_ABI_MAJOR,
    .abi_minor = OUTPOST_ABI_MINOR,
    .kind = OUTPOST_KIND_STORAGE,
    .name = "sqlite",
    .version = "0.1.0",
    .description = "SQLite cache (WAL, one writer, concurrent readers, FTS5 search)",
    .caps = OUTPOST_STORAGE_CAP_CONCURRENT_READERS | OUTPOST_STORAGE_CAP_FTS |
            OUTPOST_STORAGE_CAP_MULTI_PROCESS | OUTPOST_STORAGE_CAP_FTS_ALL_HEADERS,
    .section = "storage",
    .config_keys = config_keys,
    .module_init = module_init,
    .module_fini = module_fini,
    .methods = &methods,
};

OUTPOST_EXPORT const struct outpost_plugin *outpost_plugin_entry(void);
OUTPOST_EXPORT const struct outpost_plugin *outpost_plugin_entry(void)
{
    return &descriptor;
}
