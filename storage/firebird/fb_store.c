/* fb_store.c — the embedded Firebird storage plugin: descriptor, module
 * set-up (lock directory, engine shutdown), lifecycle, transactions,
 * counters, cursors, meta and the integrity check. The data methods live in
 * fb_folder.c, fb_item.c, fb_content.c, fb_journal.c and fb_fts.c.
 *
 * EMBEDDED ENGINE: every attachment forces `Providers=Engine12` in its DPB,
 * so the engine plugin (firebird3.0-server-core) runs inside this process;
 * without it libfbclient would silently try a server on localhost:3050. The
 * user is SYSDBA (trusted without a password in embedded mode, and SQL
 * privileges still apply, so the name matters).
 *
 * PROCESS-WIDE EFFECTS (module_init): the engine keeps its lock tables in
 * $FIREBIRD_LOCK, default /tmp/firebird, which the first user creates 0770 —
 * other users then cannot attach at all. module_init therefore sets
 * FIREBIRD_LOCK with setenv() for the whole process (unless it is already
 * set) to a private 0700 directory, the first that works of:
 * $XDG_RUNTIME_DIR/outpost-firebird, /dev/shm/outpost-firebird-<uid> (both in
 * memory: the engine maps its lock files, and a mapped page that a full disk
 * cannot back is a SIGBUS), <data_dir>/firebird-lock, /tmp/outpost-firebird-<uid>. The engine
 * reads it once, at its first use in the process, so it must happen before
 * any other code in the process calls Firebird. module_fini calls
 * fb_shutdown(), which stops the engine's threads: after it, no Firebird
 * call may be made in the process until module_init runs again.
 *
 * EXCLUSIVE ACCESS: the embedded engine runs as SuperServer and opens the
 * database file exclusively; a second process gets isc_already_opened, which
 * open() reports as "in use" (the CLI reaches a running outpostd through its
 * control socket instead). Several instances inside one process share the
 * engine and may all open the cache (CONCURRENT_READERS); MULTI_PROCESS is
 * not declared.
 *
 * DURABILITY ([storage] durability):
 * - full (default): Firebird's forced writes (O_DSYNC: each page write
 *   reaches the disk before the engine goes on, in its "careful write"
 *   order), so a commit that returned survives kill -9 and power loss, and
 *   the file is consistent after a power loss at any moment — what `full`
 *   means for SQLite too. One synchronous write per page makes a batched
 *   insert several times slower than `normal`.
 * - normal: forced writes off, and two flushes per write commit. The cache
 *   is attached with MaxUnflushedWrites=0, so the engine's commit writes the
 *   transaction's pages, fsyncs the file, and only then writes the
 *   transaction inventory page that marks it committed; commit() then
 *   fdatasyncs the file before it returns. A commit that returned is on
 *   disk. What it gives up against `full`: between those flushes the OS may
 *   put pages on disk in any order, so a power loss in the middle of a
 *   commit can leave pages of the uncommitted transaction (a split index
 *   page, a pointer page) on disk without the pages they point to —
 *   `gfix -v -full` finds them, and the cache must then be rebuilt. A crash
 *   of the process alone never does (the OS has every page written).
 * Forced writes are a database header flag, set at every open.
 *
 * DISK FULL: a page write that fails with ENOSPC fails the statement or the
 * commit with isc_io_error; we report FATAL "disk full", roll the transaction
 * back and keep the attachment. Committed pages are never overwritten by an
 * uncommitted transaction (records carry back versions), so nothing committed
 * is lost, and the next transaction works once space has been freed
 * (tests/storage/storage_diskfull.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "fb_internal.h"

/* Inline widths are kept small on purpose: Firebird expands the whole record
 * to its declared size when it reads a row, so narrow rows make listings
 * fast; longer values go to the overflow BLOB. Keep in step with fb_schema.c. */
const unsigned fb_item_str_max[IS__COUNT] = {
    [IS_KEYWORDS] = 250, [IS_REMOTE_ID] = 250, [IS_REMOTE_VERSION] = 250, [IS_SUBJECT] = 500,
    [IS_FROM] = 500, [IS_TO] = 1000, [IS_CC] = 1000, [IS_MESSAGE_ID] = 250, [IS_OBJECT_UID] = 250,
    [IS_FIND_KEY] = 250, [IS_ENVELOPE] = 2000, [IS_BODYSTRUCTURE] = 2000, [IS_PREVIEW] = 500,
};

int64_t fb_now_ms(struct outpost_storage *s)
{
    if (s->host && s->host->now_ms)
        return s->host->now_ms(s->host);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

outpost_status fb_check_txn(struct outpost_txn *t, int write)
{
    if (!t->open)
        return fb_error(t->s, OUTPOST_BAD_DATA, "call on a transaction that has ended");
    if (write && t->mode != OUTPOST_TXN_WRITE)
        return fb_error(t->s, OUTPOST_BAD_DATA, "write call in a read transaction");
    return outpost_ok();
}

/* ---- counters (store_info rows, cached per write transaction) ---- */

static const char *const counter_key[CT__COUNT] = {
    [CT_ITEM] = "next_item", [CT_FOLDER] = "next_folder", [CT_SEQ] = "next_seq",
    [CT_UIDVALIDITY] = "last_uidvalidity",
};

outpost_status fb_counter_get(struct outpost_txn *t, enum fb_counter c, int64_t *v)
{
    struct outpost_storage *s = t->s;
    if (!t->counter_loaded[c]) {
        struct fb_stmt *st = fb_stmt(s, ST_INFO_GET);
        if (!st)
            return fb_db_error(s, "reading a counter");
        fb_bind_text(st, 0, counter_key[c]);
        int r = fb_exec_row(s, st);
        if (r < 0)
            return fb_db_error(s, "reading a counter");
        t->counter[c] = r ? fb_col_int(st, 0) : 0;
        t->counter_loaded[c] = 1;
    }
    *v = t->counter[c];
    return outpost_ok();
}

void fb_counter_set(struct outpost_txn *t, enum fb_counter c, int64_t v)
{
    t->counter[c] = v;
    t->counter_loaded[c] = 1;
    t->counter_dirty[c] = 1;
}

outpost_status fb_counter_next(struct outpost_txn *t, enum fb_counter c, int64_t *v)
{
    outpost_status st = fb_counter_get(t, c, v);
    if (st.code)
        return st;
    fb_counter_set(t, c, ++*v);
    return outpost_ok();
}

static int flush_counters(struct outpost_txn *t)
{
    struct outpost_storage *s = t->s;
    for (int c = 0; c < CT__COUNT; c++) {
        if (!t->counter_dirty[c])
            continue;
        struct fb_stmt *st = fb_stmt(s, ST_INFO_SET);
        if (!st)
            return -1;
        fb_bind_text(st, 0, counter_key[c]);
        fb_bind_int(st, 1, t->counter[c]);
        if (fb_exec(s, st))
            return -1;
        t->counter_dirty[c] = 0;
    }
    return 0;
}

/* ---- rows ---- */

/* Decodes the overflow value (val, VS_BIG): records (field u32, length u32, bytes). */
static const char *big_field(const struct fb_buf *big, unsigned field, size_t *len)
{
    size_t p = 0;
    while (p + 8 <= big->len) {
        uint32_t f, n;
        memcpy(&f, big->p + p, 4);
        memcpy(&n, big->p + p + 4, 4);
        if (p + 8 + n > big->len)
            break;
        if (f == field) {
            *len = n;
            return big->p + p + 8;
        }
        p += 8 + (size_t)n;
    }
    return NULL;
}

int fb_fill_item(struct outpost_storage *s, const struct fb_stmt *st, int first, outpost_item *it,
                 struct fb_buf *b)
{
    memset(it, 0, sizeof *it);
    it->struct_size = sizeof *it;
    it->id = fb_col_int(st, first + 0);
    it->kind = (uint32_t)fb_col_int(st, first + 1);
    it->folder_id = fb_col_int(st, first + 2);
    it->uid = (uint32_t)fb_col_int(st, first + 3);
    it->flags = (uint32_t)fb_col_int(st, first + 4);
    it->modseq = (uint64_t)fb_col_int(st, first + 5);
    it->internal_date = fb_col_int(st, first + 6);
    it->date = fb_col_int(st, first + 7);
    it->size = (uint64_t)fb_col_int(st, first + 8);
    it->content_state = (uint32_t)fb_col_int(st, first + 9);
    it->cached_size = (uint64_t)fb_col_int(st, first + 10);
    uint32_t mask = (uint32_t)fb_col_int(st, first + 11);
    struct fb_buf big = { 0 };
    if (mask && fb_val_get(s, VS_BIG, it->id, NULL, &big) < 0) {
        free(big.p);
        return -1;
    }
    size_t offs[IS__COUNT];
    b->len = 0;
    for (int i = 0; i < IS__COUNT; i++) {
        offs[i] = SIZE_MAX;
        size_t n;
        const char *v = (mask & (1u << i)) ? big_field(&big, (unsigned)i, &n) : fb_col_text(st, first + 12 + i, &n);
        if (!v)
            continue;
        if (fb_buf_reserve(b, b->len + n + 1)) {
            free(big.p);
            return -1;
        }
        memcpy(b->p + b->len, v, n);
        b->p[b->len + n] = '\0';
        offs[i] = b->len;
        b->len += n + 1;
    }
    free(big.p);
    const char **dst[IS__COUNT] = {
        &it->keywords, &it->remote_id, &it->remote_version, &it->subject, &it->from, &it->to, &it->cc,
        &it->message_id, &it->object_uid, NULL, &it->envelope, &it->bodystructure, &it->preview,
    };
    for (int i = 0; i < IS__COUNT; i++)
        if (dst[i])
            *dst[i] = offs[i] == SIZE_MAX ? NULL : b->p + offs[i];
    return 0;
}

/* ---- cursors ---- */

outpost_status fb_cursor_open(struct outpost_storage *s, enum fb_stmt_id id, int row_type,
                              struct outpost_cursor **out, struct fb_stmt **stp)
{
    extern const char *const fb_stmt_sql[ST__COUNT];
    struct outpost_cursor *c = calloc(1, sizeof *c);
    if (!c)
        return fb_error(s, OUTPOST_FATAL, "out of memory opening a listing");
    if (!s->busy[id]) {
        c->st = fb_stmt(s, id);
        c->stmt_id = (int)id;
    } else {
        c->st = fb_stmt_prepare(s, fb_stmt_sql[id]);
        c->stmt_id = -1;
    }
    if (!c->st) {
        free(c);
        return fb_db_error(s, "preparing a listing");
    }
    if (c->stmt_id >= 0)
        s->busy[id] = 1;
    c->s = s;
    c->row_type = row_type;
    s->open_cursors++;
    *out = c;
    if (stp)
        *stp = c->st;
    return outpost_ok();
}

void fb_cursor_close(struct outpost_cursor *c)
{
    if (!c)
        return;
    struct outpost_storage *s = c->s;
    if (c->st) {
        fb_stmt_close(s, c->st);
        if (c->stmt_id >= 0)
            s->busy[c->stmt_id] = 0;
        else
            fb_stmt_free(c->st);
    }
    s->open_cursors--;
    free(c->ids);
    free(c->uf);
    free(c->snap.p);
    free(c->delta.p);
    free(c->buf.p);
    free(c);
}

outpost_status fb_cursor_exec(struct outpost_cursor **c, const char *what)
{
    struct outpost_storage *s = (*c)->s;
    if (fb_exec(s, (*c)->st) == 0)
        return outpost_ok();
    outpost_status st = fb_db_error(s, what);
    fb_cursor_close(*c);
    *c = NULL;
    return st;
}

static outpost_status cursor_next(struct outpost_cursor *c, const void **row)
{
    struct outpost_storage *s = c->s;
    *row = NULL;
    if (c->done)
        return outpost_ok();
    if (c->row_type == ROW_UF_MEM) {
        if (c->pos >= c->nids) {
            c->done = 1;
            return outpost_ok();
        }
        const struct fb_uf *e = &c->uf[c->pos++];
        outpost_uid_flags *u = &c->row.uf;
        memset(u, 0, sizeof *u);
        u->struct_size = sizeof *u;
        u->uid = e->uid;
        u->flags = e->flags;
        u->modseq = e->modseq;
        u->id = e->id;
        c->buf.len = 0;
        if (e->kwlen == FB_KW_BIG) {
            outpost_status k = fb_uf_big_keywords(c, u);
            if (k.code)
                return k;
        } else if (e->kwlen >= 0) {
            if (fb_buf_reserve(&c->buf, (size_t)e->kwlen + 1))
                return fb_error(s, OUTPOST_FATAL, "out of memory reading a listing");
            memcpy(c->buf.p, e->kw, (size_t)e->kwlen);
            c->buf.p[e->kwlen] = '\0';
            u->keywords = c->buf.p;
        }
        *row = &c->row;
        return outpost_ok();
    }
    if (c->row_type == ROW_IDLIST) {
        for (;;) {
            if (c->pos >= c->nids) {
                c->done = 1;
                return outpost_ok();
            }
            struct fb_stmt *st = fb_stmt(s, ST_ITEM_GET);
            if (!st)
                return fb_db_error(s, "reading a search hit");
            fb_bind_int(st, 0, c->ids[c->pos++]);
            int r = fb_exec_row(s, st);
            if (r < 0)
                return fb_db_error(s, "reading a search hit");
            if (r == 0)
                continue;
            if (fb_fill_item(s, st, 0, &c->row.item, &c->buf))
                return fb_db_error(s, "reading a search hit");
            *row = &c->row;
            return outpost_ok();
        }
    }
    int r = fb_fetch(s, c->st);
    if (r == 0) {
        c->done = 1;
        return outpost_ok();
    }
    if (r < 0) {
        c->done = 1;
        return fb_db_error(s, "reading a listing");
    }
    const struct fb_stmt *st = c->st;
    switch (c->row_type) {
    case ROW_FOLDER:
        if (fb_fill_folder(s, st, &c->row.folder, &c->buf))
            return fb_db_error(s, "reading a folder");
        break;
    case ROW_ITEM:
        if (fb_fill_item(s, st, 0, &c->row.item, &c->buf))
            return fb_db_error(s, "reading an item");
        break;
    case ROW_TOMBSTONE:
        c->row.tomb.struct_size = sizeof c->row.tomb;
        c->row.tomb.uid = (uint32_t)fb_col_int(st, 0);
        c->row.tomb.modseq = (uint64_t)fb_col_int(st, 1);
        break;
    case ROW_JOURNAL:
        if (fb_fill_journal(st, &c->row.journal, &c->buf, s))
            return fb_db_error(s, "reading the journal");
        break;
    case ROW_UID_FLAGS: {
        outpost_uid_flags *u = &c->row.uf;
        memset(u, 0, sizeof *u);
        u->struct_size = sizeof *u;
        u->uid = (uint32_t)fb_col_int(st, 0);
        u->flags = (uint32_t)fb_col_int(st, 1);
        u->modseq = (uint64_t)fb_col_int(st, 2);
        u->id = fb_col_int(st, 3);
        c->buf.len = 0;
        if (fb_col_int(st, 5)) {
            /* rare: keywords longer than their column, in the item's overflow value */
            outpost_status k = fb_uf_big_keywords(c, u);
            if (k.code)
                return k;
        } else {
            u->keywords = fb_col_strdup(st, 4, &c->buf, NULL);
        }
        break;
    }
    }
    *row = &c->row;
    return outpost_ok();
}

/* ---- lifecycle ---- */

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

static outpost_status fb_create(const struct outpost_host *host, struct outpost_storage **out)
{
    *out = NULL;
    outpost_status oom = { OUTPOST_FATAL, 0, "out of memory creating the Firebird storage" };
    struct outpost_storage *s = calloc(1, sizeof *s);
    if (!s)
        return create_fail(NULL, oom);
    s->host = host;
    s->txn.s = s;
    s->sync_fd = -1;
    const char *path = host->config_get ? host->config_get(host, "path") : NULL;
    if (!path || !*path)
        path = "cache.fdb";
    const char *dir = host->data_dir ? host->data_dir(host) : NULL;
    size_t n = strlen(path) + (dir ? strlen(dir) : 0) + 2;
    s->path = malloc(n);
    if (!s->path)
        return create_fail(s, oom);
    if (path[0] == '/' || !dir || !*dir)
        snprintf(s->path, n, "%s", path);
    else
        snprintf(s->path, n, "%s/%s", dir, path);
    /* Firebird takes names of up to 250 bytes; a new cache is first built as PATH.new */
    if (strlen(s->path) > 246)
        return create_fail(s, fb_error(s, OUTPOST_BAD_DATA,
                                       "[storage] path %s is longer than 246 bytes (Firebird's 250, less "
                                       "the \".new\" of a cache being created): "
                                       "choose a shorter path", s->path));
    const char *dur = host->config_get ? host->config_get(host, "durability") : NULL;
    if (!dur || !*dur || strcmp(dur, "full") == 0)
        s->durability = DUR_FORCED;
    else if (strcmp(dur, "normal") == 0)
        s->durability = DUR_COMMIT;
    else
        return create_fail(s, fb_error(s, OUTPOST_BAD_DATA,
                                       "[storage] durability = %s: expected full or normal", dur));
    s->cache_pages = host->config_int ? host->config_int(host, "cache_pages", FB_CACHE_PAGES) : FB_CACHE_PAGES;
    if (s->cache_pages < 64 || s->cache_pages > 1000000)
        return create_fail(s, fb_error(s, OUTPOST_BAD_DATA,
                                       "[storage] cache_pages = %lld: expected 64 to 1000000",
                                       (long long)s->cache_pages));
    *out = s;
    return outpost_ok();
}

static void dpb_str(char *dpb, size_t *n, char tag, const char *v)
{
    size_t l = strlen(v);
    dpb[(*n)++] = tag;
    dpb[(*n)++] = (char)l;
    memcpy(dpb + *n, v, l);
    *n += l;
}

static void dpb_int(char *dpb, size_t *n, char tag, int32_t v)
{
    dpb[(*n)++] = tag;
    dpb[(*n)++] = 4;
    for (int i = 0; i < 4; i++)
        dpb[(*n)++] = (char)((uint32_t)v >> (8 * i)); /* little-endian, as isc_vax_integer reads */
}

static size_t build_dpb(struct outpost_storage *s, char *dpb, int create)
{
    size_t n = 0;
    dpb[n++] = isc_dpb_version1;
    dpb_str(dpb, &n, isc_dpb_user_name, "SYSDBA");
    /* embedded only: never fall back to a server on localhost:3050. With
     * durability = normal, MaxUnflushedWrites=0 makes every commit fsync the
     * file after writing the transaction's pages and before marking it
     * committed (see DURABILITY above); the engine takes per-database
     * settings from the DPB of the first attachment in the process. */
    dpb_str(dpb, &n, isc_dpb_config,
            s->durability == DUR_COMMIT ? "Providers=Engine12\nMaxUnflushedWrites=0\nMaxUnflushedWriteTime=-1"
                                      : "Providers=Engine12");
    dpb_str(dpb, &n, isc_dpb_lc_ctype, "UTF8");
    dpb_int(dpb, &n, isc_dpb_num_buffers, (int32_t)s->cache_pages);
    dpb_int(dpb, &n, isc_dpb_force_write, s->durability == DUR_FORCED ? 1 : 0);
    if (create) {
        dpb_int(dpb, &n, isc_dpb_page_size, FB_PAGE_SIZE);
        dpb_int(dpb, &n, isc_dpb_sql_dialect, 3);
        dpb_str(dpb, &n, isc_dpb_set_db_charset, "UTF8");
    }
    return n;
}

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

static void free_statements(struct outpost_storage *s)
{
    for (int i = 0; i < ST__COUNT; i++) {
        fb_stmt_free(s->stmt[i]);
        s->stmt[i] = NULL;
        s->busy[i] = 0;
    }
}

/* Closed only after the engine let go of the file: the descriptor serves
 * fdatasync alone and never takes or drops a lock. */
static void close_sync_fd(struct outpost_storage *s)
{
    if (s->sync_fd >= 0) {
        close(s->sync_fd);
        s->sync_fd = -1;
    }
}

static void detach(struct outpost_storage *s)
{
    free_statements(s);
    if (s->txn.tr) {
        ISC_STATUS_ARRAY sv;
        isc_rollback_transaction(sv, &s->txn.tr);
        s->txn.tr = 0;
    }
    s->txn.open = 0;
    if (s->db) {
        ISC_STATUS_ARRAY sv;
        isc_detach_database(sv, &s->db);
        s->db = 0;
    }
    close_sync_fd(s);
}

/* Creates the cache as PATH.new, commits its schema, flushes it and renames
 * it into place, so that a crash while creating leaves no half-made cache
 * behind (Firebird cannot redo DDL that a killed transaction left half
 * applied): the next open finds no PATH and starts over. */
static outpost_status create_cache(struct outpost_storage *s)
{
    size_t n = strlen(s->path) + 5;
    char *tmp = malloc(n);
    if (!tmp)
        return fb_error(s, OUTPOST_FATAL, "out of memory creating the cache");
    snprintf(tmp, n, "%s.new", s->path);
    char *final = s->path;
    s->path = tmp;
    outpost_status st = outpost_ok();
    if (unlink(tmp) != 0 && errno != ENOENT)
        st = fb_error(s, OUTPOST_FATAL, "cannot remove %s, left by an interrupted creation: %s", tmp,
                      strerror(errno));
    char dpb[512];
    size_t dn = build_dpb(s, dpb, 1);
    if (st.code == OUTPOST_OK && isc_create_database(s->status, 0, tmp, &s->db, (short)dn, dpb, 0)) {
        s->db = 0;
        st = fb_db_error(s, "creating the cache");
    }
    if (st.code == OUTPOST_OK)
        st = fb_schema_upgrade(s);
    if (st.code == OUTPOST_OK) {
        free_statements(s);
        if (isc_detach_database(s->status, &s->db))
            st = fb_db_error(s, "creating the cache");
        s->db = 0;
    }
    if (st.code == OUTPOST_OK) {
        int fd = open(tmp, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) != 0 || rename(tmp, final) != 0)
            st = fb_error(s, OUTPOST_FATAL, "cannot put the new cache %s in place: %s", final, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    if (st.code != OUTPOST_OK) {
        char keep[sizeof s->msg];
        snprintf(keep, sizeof keep, "%s", s->msg);
        detach(s);
        unlink(tmp);
        snprintf(s->msg, sizeof s->msg, "%s", keep);
        st.message = s->msg;
    }
    s->path = final;
    free(tmp);
    if (st.code == OUTPOST_OK)
        sync_parent_dir(final);
    return st;
}

static outpost_status fb_open(struct outpost_storage *s)
{
    if (s->db)
        return fb_error(s, OUTPOST_BAD_DATA, "cache %s is already open", s->path);
    int existed = access(s->path, F_OK) == 0;
    if (!existed) {
        outpost_status st = create_cache(s);
        if (st.code != OUTPOST_OK)
            return st;
    }
    char dpb[512];
    size_t n = build_dpb(s, dpb, 0);
    if (isc_attach_database(s->status, 0, s->path, &s->db, (short)n, dpb)) {
        s->db = 0;
        outpost_status st = fb_db_error(s, "opening the cache");
        if (st.code == OUTPOST_FATAL && !strstr(s->msg, "in use") && !strstr(s->msg, "disk full")) {
            char keep[sizeof s->msg];
            snprintf(keep, sizeof keep, "%s", s->msg);
            st = fb_error(s, OUTPOST_FATAL,
                          "cannot open cache %s (is it a Firebird database? check the path and "
                          "permissions): %s", s->path, keep);
        }
        return st;
    }
    outpost_status up = fb_schema_upgrade(s);
    if (up.code != OUTPOST_OK) {
        char keep[sizeof s->msg];
        snprintf(keep, sizeof keep, "%s", s->msg);
        detach(s);
        snprintf(s->msg, sizeof s->msg, "%s", keep);
        up.message = s->msg;
        return up;
    }
    if (s->durability == DUR_COMMIT) {
        s->sync_fd = open(s->path, O_RDONLY | O_CLOEXEC);
        if (s->sync_fd < 0) {
            int e = errno;
            detach(s);
            return fb_error(s, OUTPOST_FATAL, "cannot open cache %s to flush its commits: %s", s->path,
                            strerror(e));
        }
    }
    return outpost_ok();
}

static outpost_status fb_close(struct outpost_storage *s)
{
    if (!s->db)
        return outpost_ok();
    if (s->txn.open)
        return fb_error(s, OUTPOST_BAD_DATA, "close() with a transaction still open");
    if (s->open_cursors)
        return fb_error(s, OUTPOST_BAD_DATA, "close() with %d listing(s) still open", s->open_cursors);
    free_statements(s);
    if (isc_detach_database(s->status, &s->db)) {
        outpost_status st = fb_db_error(s, "closing the cache");
        s->db = 0;
        close_sync_fd(s);
        return st;
    }
    s->db = 0;
    close_sync_fd(s);
    return outpost_ok();
}

static void fb_destroy(struct outpost_storage *s)
{
    if (!s)
        return;
    detach(s);
    free(s->txn.out.p);
    free(s->txn.big.p);
    free(s->path);
    free(s);
}

/* ---- transactions ---- */

static outpost_status fb_begin(struct outpost_storage *s, uint32_t mode, struct outpost_txn **out)
{
    if (!s->db)
        return fb_error(s, OUTPOST_BAD_DATA, "begin() on a cache that is not open");
    if (s->txn.open)
        return fb_error(s, OUTPOST_BAD_DATA, "begin() while a transaction is open on this instance");
    if (mode != OUTPOST_TXN_READ && mode != OUTPOST_TXN_WRITE)
        return fb_error(s, OUTPOST_BAD_DATA, "begin(): unknown mode %u", mode);
    /* write: snapshot, wait up to 5 s for a row lock; read: read-only snapshot */
    static const char tpb_write[] = { isc_tpb_version3, isc_tpb_write, isc_tpb_concurrency, isc_tpb_wait,
                                      isc_tpb_lock_timeout, 1, 5 };
    static const char tpb_read[] = { isc_tpb_version3, isc_tpb_read, isc_tpb_concurrency, isc_tpb_nowait };
    struct outpost_txn *t = &s->txn;
    t->tr = 0;
    const char *tpb = mode == OUTPOST_TXN_WRITE ? tpb_write : tpb_read;
    short tpb_len = mode == OUTPOST_TXN_WRITE ? (short)sizeof tpb_write : (short)sizeof tpb_read;
    if (isc_start_transaction(s->status, &t->tr, 1, &s->db, tpb_len, tpb)) {
        t->tr = 0;
        return fb_db_error(s, mode == OUTPOST_TXN_WRITE ? "starting a write transaction"
                                                         : "starting a read transaction");
    }
    t->mode = mode;
    t->open = 1;
    t->failed = 0;
    t->kind_folder = 0;
    t->wr_item = 0;
    t->wr_end = 0;
    t->ntouched = 0;
    memset(t->counter_loaded, 0, sizeof t->counter_loaded);
    memset(t->counter_dirty, 0, sizeof t->counter_dirty);
    *out = t;
    return outpost_ok();
}

static void end_txn(struct outpost_txn *t)
{
    struct outpost_storage *s = t->s;
    for (int i = 0; i < ST__COUNT; i++)
        if (s->stmt[i])
            fb_stmt_close(s, s->stmt[i]);
    if (t->tr) {
        ISC_STATUS_ARRAY sv;
        if (isc_rollback_transaction(sv, &t->tr))
            t->tr = 0; /* the engine dropped it already */
    }
    t->tr = 0;
    t->open = 0;
}

static outpost_status fb_commit(struct outpost_txn *t)
{
    struct outpost_storage *s = t->s;
    if (!t->open)
        return fb_error(s, OUTPOST_BAD_DATA, "commit() without an open transaction");
    if (s->open_cursors) {
        end_txn(t);
        return fb_error(s, OUTPOST_BAD_DATA, "commit() with %d listing(s) open: close cursors first; rolled back",
                        s->open_cursors);
    }
    if (t->failed) {
        end_txn(t);
        return fb_error(s, t->fail_code, "transaction rolled back after an earlier failure: %s", t->fail_msg);
    }
    if (t->mode == OUTPOST_TXN_WRITE && (flush_counters(t) || fb_uidsnap_refresh(t))) {
        outpost_status e = fb_db_error(s, "committing");
        end_txn(t);
        return e;
    }
    for (int i = 0; i < ST__COUNT; i++)
        if (s->stmt[i])
            fb_stmt_close(s, s->stmt[i]);
    if (isc_commit_transaction(s->status, &t->tr)) {
        outpost_status e = fb_db_error(s, "committing");
        end_txn(t);
        return e;
    }
    t->tr = 0;
    t->open = 0;
    /* the engine fsync'd the transaction's pages before writing the page
     * that marks it committed; this makes that mark durable too */
    if (t->mode == OUTPOST_TXN_WRITE && s->sync_fd >= 0 && fdatasync(s->sync_fd) != 0) {
        int e = errno;
        return fb_error(s, OUTPOST_FATAL,
                        "cache %s: committed, but flushing it to disk failed (%s): the commit may not "
                        "survive a power loss", s->path, strerror(e));
    }
    return outpost_ok();
}

static void fb_rollback(struct outpost_txn *t)
{
    if (t && t->open)
        end_txn(t);
}

/* ---- meta ---- */

outpost_status fb_meta_get(struct outpost_txn *t, const char *key, const void **val, size_t *len)
{
    struct outpost_storage *s = t->s;
    outpost_status c = fb_check_txn(t, 0);
    if (c.code)
        return c;
    if (!key)
        return fb_error(s, OUTPOST_BAD_DATA, "meta_get: key is NULL");
    if (strlen(key) > 500)
        return fb_error(s, OUTPOST_GONE, "meta key %.40s... not set", key);
    t->out.len = 0;
    int r = fb_val_get(s, VS_META, 0, key, &t->out);
    if (r < 0)
        return fb_db_error(s, "reading meta");
    if (r == 0)
        return fb_error(s, OUTPOST_GONE, "meta key %s not set", key);
    *val = t->out.p;
    *len = t->out.len;
    return outpost_ok();
}

outpost_status fb_meta_set(struct outpost_txn *t, const char *key, const void *val, size_t len)
{
    struct outpost_storage *s = t->s;
    outpost_status c = fb_check_txn(t, 1);
    if (c.code)
        return c;
    if (!key)
        return fb_error(s, OUTPOST_BAD_DATA, "meta_set: key is NULL");
    if (strlen(key) > 500)
        return fb_error(s, OUTPOST_BAD_DATA, "meta_set: key longer than 500 bytes");
    if (val ? fb_val_put(s, VS_META, 0, key, val, len) : fb_val_del(s, VS_META, 0, key))
        return fb_poison(t, fb_db_error(s, "writing meta"));
    return outpost_ok();
}

/* ---- integrity ---- */

/* Every content row against its CRC-32, in the integrity check's transaction;
 * the first damaged one is named by item, UID and folder. */
static outpost_status verify_content(struct outpost_storage *s)
{
    struct fb_stmt *st = fb_stmt_prepare(s, "SELECT c.item_id, c.data, c.crc, c.off, i.uid, f.name FROM content_part c"
                                            " JOIN item i ON i.id=c.item_id JOIN folder f ON f.id=i.folder_id"
                                            " WHERE c.crc IS NOT NULL");
    if (!st || fb_exec(s, st)) {
        fb_stmt_free(st);
        return fb_db_error(s, "checking content");
    }
    outpost_status result = outpost_ok();
    int r;
    while ((r = fb_fetch(s, st)) == 1) {
        if (fb_content_crc_ok(st, 1, 2))
            continue;
        size_t n = 0;
        const char *name = fb_col_text(st, 5, &n);
        result = fb_error(s, OUTPOST_FATAL,
                          "cache %s fails its integrity check: content of item %lld (UID %lld in %.*s) at offset "
                          "%lld does not match its checksum",
                          s->path, (long long)fb_col_int(st, 0), (long long)fb_col_int(st, 4),
                          (int)(n > 100 ? 100 : n), name ? name : "", (long long)fb_col_int(st, 3));
        break;
    }
    if (r < 0 && result.code == OUTPOST_OK)
        result = fb_db_error(s, "checking content");
    fb_stmt_free(st);
    return result;
}

static outpost_status fb_integrity_check(struct outpost_storage *s)
{
    if (!s->db)
        return fb_error(s, OUTPOST_BAD_DATA, "integrity_check on a cache that is not open");
    if (s->txn.open)
        return fb_error(s, OUTPOST_BAD_DATA, "integrity_check inside a transaction");
    /* Every row of every table is read (the engine checks each record it
     * touches); then the counters, references and values are compared. */
    static const char *const checks[] = {
        "SELECT f.id, f.total, f.unread, f.flagged, f.uidnext, f.highest_modseq,"
        " (SELECT count(*) FROM item i WHERE i.folder_id=f.id),"
        " (SELECT count(*) FROM item i WHERE i.folder_id=f.id AND BIN_AND(i.flags, 1)=0),"
        " (SELECT count(*) FROM item i WHERE i.folder_id=f.id AND BIN_AND(i.flags, 4)<>0),"
        " (SELECT COALESCE(MAX(uid), 0) FROM item i WHERE i.folder_id=f.id),"
        " (SELECT COALESCE(MAX(modseq), 0) FROM item i WHERE i.folder_id=f.id),"
        " (SELECT COALESCE(MAX(modseq), 0) FROM tombstone x WHERE x.folder_id=f.id) FROM folder f",
        "SELECT FIRST 1 i.id, i.folder_id FROM item i WHERE NOT EXISTS"
        " (SELECT 1 FROM folder f WHERE f.id=i.folder_id)",
        "SELECT FIRST 1 f.id, f.parent_id FROM folder f WHERE f.parent_id<>0 AND NOT EXISTS"
        " (SELECT 1 FROM folder p WHERE p.id=f.parent_id)",
        "SELECT FIRST 1 c.item_id, c.off FROM content_part c WHERE NOT EXISTS"
        " (SELECT 1 FROM item i WHERE i.id=c.item_id)",
        "SELECT FIRST 1 c.item_id, c.off FROM content_part c WHERE OCTET_LENGTH(c.data)<>c.len",
        /* values (fb_val.c): every one has its owner, its parts make a
         * value, and the owners that say they have one do */
        "SELECT FIRST 1 v.space, v.k1 FROM val v WHERE"
        " (v.space IN (" VS_BIG_SQL ", " VS_FTS_SQL ", " VS_PROP_SQL ")"
        "  AND NOT EXISTS (SELECT 1 FROM item i WHERE i.id=v.k1))"
        " OR (v.space=" VS_SYNC_SQL " AND NOT EXISTS (SELECT 1 FROM folder f WHERE f.id=v.k1"
        "  AND f.sync_len>" FB_SYNC_INLINE_SQL "))"
        " OR (v.space=" VS_JOURNAL_SQL " AND NOT EXISTS (SELECT 1 FROM journal j WHERE j.seq=v.k1"
        "  AND j.payload_len>" FB_PAYLOAD_INLINE_SQL "))"
        " OR (v.space=" VS_SNAP_SQL " AND NOT EXISTS (SELECT 1 FROM uid_snapshot u WHERE u.folder_id=v.k1))"
        " OR (v.space=" VS_META_SQL " AND v.k1<>0) OR (v.space NOT IN (" VS_META_SQL ", " VS_PROP_SQL ") AND v.k2<>'')"
        " OR v.space NOT BETWEEN " VS_META_SQL " AND " VS_SNAP_SQL,
        "SELECT FIRST 1 v.space, v.k1 FROM val v GROUP BY v.space, v.k1, v.k2"
        " HAVING count(*)<>MAX(v.part)+1 OR MIN(v.part)<>0",
        "SELECT FIRST 1 v.space, v.k1 FROM val v WHERE OCTET_LENGTH(v.data)<" FB_PART_SQL " AND EXISTS"
        " (SELECT 1 FROM val w WHERE w.space=v.space AND w.k1=v.k1 AND w.k2=v.k2 AND w.part>v.part)",
        "SELECT FIRST 1 f.id, f.sync_len FROM folder f WHERE (f.sync_len IS NULL AND f.sync_in IS NOT NULL)"
        " OR (f.sync_len<=" FB_SYNC_INLINE_SQL " AND OCTET_LENGTH(f.sync_in) IS DISTINCT FROM f.sync_len)"
        " OR (f.sync_len>" FB_SYNC_INLINE_SQL " AND (f.sync_in IS NOT NULL OR f.sync_len IS DISTINCT FROM"
        "  (SELECT SUM(OCTET_LENGTH(v.data)) FROM val v WHERE v.space=" VS_SYNC_SQL " AND v.k1=f.id AND v.k2='')))",
        "SELECT FIRST 1 j.seq, j.payload_len FROM journal j WHERE (j.payload_len IS NULL AND j.payload_in IS NOT NULL)"
        " OR (j.payload_len<=" FB_PAYLOAD_INLINE_SQL " AND OCTET_LENGTH(j.payload_in) IS DISTINCT FROM j.payload_len)"
        " OR (j.payload_len>" FB_PAYLOAD_INLINE_SQL " AND (j.payload_in IS NOT NULL OR j.payload_len IS DISTINCT FROM"
        "  (SELECT SUM(OCTET_LENGTH(v.data)) FROM val v WHERE v.space=" VS_JOURNAL_SQL " AND v.k1=j.seq AND v.k2='')))",
        "SELECT FIRST 1 i.id, i.big_mask FROM item i WHERE i.big_mask<>0 AND NOT EXISTS"
        " (SELECT 1 FROM val v WHERE v.space=" VS_BIG_SQL " AND v.k1=i.id AND v.k2='' AND v.part=0)",
        "SELECT FIRST 1 u.folder_id, u.modseq FROM uid_snapshot u WHERE NOT EXISTS"
        " (SELECT 1 FROM val v WHERE v.space=" VS_SNAP_SQL " AND v.k1=u.folder_id AND v.k2='' AND v.part=0)",
        "SELECT FIRST 1 i.id, i.cached_size FROM item i WHERE i.cached_size <>"
        " (SELECT COALESCE(SUM(c.len), 0) FROM content_part c WHERE c.item_id=i.id)",
        "SELECT FIRST 1 i.id, i.uid FROM item i LEFT JOIN item_flags x ON x.id=i.id WHERE x.id IS NULL"
        " OR x.folder_id<>i.folder_id OR x.uid<>i.uid OR x.flags<>i.flags OR x.modseq<>i.modseq"
        " OR x.kwbig<>BIN_AND(i.big_mask, 1) OR x.keywords IS DISTINCT FROM i.keywords",
        "SELECT FIRST 1 x.id, x.uid FROM item_flags x WHERE NOT EXISTS (SELECT 1 FROM item i WHERE i.id=x.id)",
    };
    static const char *const what[] = { NULL, "item %lld in missing folder %lld",
                                        "folder %lld has missing parent %lld",
                                        "content of missing item %lld (offset %lld)",
                                        "content of item %lld at offset %lld: its length is wrong",
                                        "value of space %lld has no owner %lld",
                                        "value of space %lld, owner %lld: its parts are not a value",
                                        "value of space %lld, owner %lld: a short part before the last",
                                        "folder %lld: its sync state is not its length %lld",
                                        "journal entry %lld: its payload is not its length %lld",
                                        "item %lld: big_mask %lld but no overflow value",
                                        "listing snapshot of folder %lld (MODSEQ %lld) has no bytes",
                                        "item %lld: cached_size %lld differs from its content",
                                        "item %lld (UID %lld) differs from its item_flags row",
                                        "item_flags row of missing item %lld (UID %lld)" };
    static const char tpb_read[] = { isc_tpb_version3, isc_tpb_read, isc_tpb_concurrency, isc_tpb_nowait };
    if (isc_start_transaction(s->status, &s->txn.tr, 1, &s->db, sizeof tpb_read, tpb_read)) {
        s->txn.tr = 0;
        return fb_db_error(s, "starting the integrity check");
    }
    outpost_status result = outpost_ok();
    for (size_t i = 0; i < sizeof checks / sizeof checks[0] && result.code == OUTPOST_OK; i++) {
        struct fb_stmt *st = fb_stmt_prepare(s, checks[i]);
        if (!st || fb_exec(s, st)) {
            result = fb_db_error(s, "checking integrity");
            fb_stmt_free(st);
            break;
        }
        int r;
        while ((r = fb_fetch(s, st)) == 1) {
            if (i > 0) {
                char m[200];
                snprintf(m, sizeof m, what[i], (long long)fb_col_int(st, 0), (long long)fb_col_int(st, 1));
                result = fb_error(s, OUTPOST_FATAL, "cache %s fails its integrity check: %s", s->path, m);
                break;
            }
            int64_t id = fb_col_int(st, 0), total = fb_col_int(st, 1), unread = fb_col_int(st, 2),
                    flagged = fb_col_int(st, 3), uidnext = fb_col_int(st, 4), hms = fb_col_int(st, 5);
            int64_t n = fb_col_int(st, 6), u = fb_col_int(st, 7), fl = fb_col_int(st, 8),
                    maxuid = fb_col_int(st, 9), m1 = fb_col_int(st, 10), m2 = fb_col_int(st, 11);
            if (total != n || unread != u || flagged != fl)
                result = fb_error(s, OUTPOST_FATAL,
                                  "cache %s fails its integrity check: folder %lld counters "
                                  "total/unread/flagged %lld/%lld/%lld but items say %lld/%lld/%lld",
                                  s->path, (long long)id, (long long)total, (long long)unread,
                                  (long long)flagged, (long long)n, (long long)u, (long long)fl);
            else if (maxuid >= uidnext)
                result = fb_error(s, OUTPOST_FATAL,
                                  "cache %s fails its integrity check: folder %lld uidnext %lld not "
                                  "above UID %lld", s->path, (long long)id, (long long)uidnext, (long long)maxuid);
            else if (m1 > hms || m2 > hms)
                result = fb_error(s, OUTPOST_FATAL,
                                  "cache %s fails its integrity check: folder %lld highest_modseq "
                                  "%lld below %lld", s->path, (long long)id, (long long)hms,
                                  (long long)(m1 > m2 ? m1 : m2));
            if (result.code)
                break;
        }
        if (r < 0 && result.code == OUTPOST_OK)
            result = fb_db_error(s, "checking integrity");
        fb_stmt_free(st);
    }
    int64_t bad = 0;
    int vr = result.code == OUTPOST_OK ? fb_uidsnap_verify(s, &bad) : 0;
    if (vr < 0)
        result = fb_db_error(s, "checking integrity");
    else if (vr > 0)
        result = fb_error(s, OUTPOST_FATAL,
                          "cache %s fails its integrity check: the listing snapshot of folder %lld "
                          "differs from its items", s->path, (long long)bad);
    if (result.code == OUTPOST_OK)
        result = verify_content(s);
    ISC_STATUS_ARRAY sv;
    isc_rollback_transaction(sv, &s->txn.tr);
    s->txn.tr = 0;
    return result;
}

/* ---- module ---- */

/* mkdir -p of a private directory; refuses one owned by someone else or
 * open to others. 0 or -1 with why. */
static int private_dir(const char *dir, char *why, size_t n)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%.4000s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        mkdir(tmp, 0700);
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
        snprintf(why, n, "cannot create %.300s: %s", dir, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (lstat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(why, n, "%.300s is not a directory", dir);
        return -1;
    }
    if (sb.st_uid != geteuid() || (sb.st_mode & 077)) {
        snprintf(why, n, "%.300s is not a private directory of this user (owner %u, mode %03o)", dir,
                 (unsigned)sb.st_uid, (unsigned)(sb.st_mode & 0777));
        return -1;
    }
    return 0;
}

static char module_msg[600];

static outpost_status module_init(const struct outpost_host *host)
{
    g_mime_init();
    const char *have = getenv("FIREBIRD_LOCK");
    if (have && *have)
        return outpost_ok(); /* the user (or an earlier init) chose it */
    /* Memory-backed file systems first: the engine maps its lock files into
     * memory, and a page it cannot back on a full disk kills the process
     * with SIGBUS (seen with the lock directory beside a cache whose disk
     * filled up). The first candidate that is (or can be made) a private
     * directory of this user wins. */
    char cand[4][4096], why[400] = "";
    int nc = 0;
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    const char *data = host && host->data_dir ? host->data_dir(host) : NULL;
    if (xdg && *xdg && xdg[0] == '/')
        snprintf(cand[nc++], sizeof cand[0], "%s/outpost-firebird", xdg);
    if (access("/dev/shm", W_OK) == 0)
        snprintf(cand[nc++], sizeof cand[0], "/dev/shm/outpost-firebird-%u", (unsigned)geteuid());
    if (data && *data)
        snprintf(cand[nc++], sizeof cand[0], "%s/firebird-lock", data);
    snprintf(cand[nc++], sizeof cand[0], "/tmp/outpost-firebird-%u", (unsigned)geteuid());
    const char *dir = NULL;
    for (int i = 0; i < nc && !dir; i++)
        if (private_dir(cand[i], why, sizeof why) == 0)
            dir = cand[i];
    if (!dir) {
        snprintf(module_msg, sizeof module_msg,
                 "Firebird lock directory: %s (set FIREBIRD_LOCK to a private directory)", why);
        outpost_status st = { OUTPOST_FATAL, 0, module_msg };
        return st;
    }
    setenv("FIREBIRD_LOCK", dir, 1);
    return outpost_ok();
}

static void module_fini(void)
{
    fb_shutdown(0, fb_shutrsn_app_stopped);
    g_mime_shutdown();
}

/* ---- descriptor ---- */

static const struct outpost_storage_methods methods = {
    .struct_size = sizeof(struct outpost_storage_methods),
    .create = fb_create,
    .open = fb_open,
    .close = fb_close,
    .destroy = fb_destroy,
    .begin = fb_begin,
    .commit = fb_commit,
    .rollback = fb_rollback,
    .cursor_next = cursor_next,
    .cursor_close = fb_cursor_close,
    .meta_get = fb_meta_get,
    .meta_set = fb_meta_set,
    .folder_create = fb_folder_create,
    .folder_update = fb_folder_update,
    .folder_delete = fb_folder_delete,
    .folder_get = fb_folder_get,
    .folder_find_remote = fb_folder_find_remote,
    .folder_list = fb_folder_list,
    .folder_set_sync_state = fb_folder_set_sync_state,
    .item_put = fb_item_put,
    .item_update = fb_item_update,
    .item_get = fb_item_get,
    .item_find_remote = fb_item_find_remote,
    .item_find_key = fb_item_find_key,
    .item_set_flags = fb_item_set_flags,
    .item_move = fb_item_move,
    .item_delete = fb_item_delete,
    .items_by_uid = fb_items_by_uid,
    .items_changed_since = fb_items_changed_since,
    .expunged_since = fb_expunged_since,
    .items_missing_content = fb_items_missing_content,
    .content_write = fb_content_write,
    .content_finish = fb_content_finish,
    .content_read = fb_content_read,
    .content_drop = fb_content_drop,
    .prop_set = fb_prop_set,
    .prop_get = fb_prop_get,
    .journal_append = fb_journal_append,
    .journal_pending = fb_journal_pending,
    .journal_list = fb_journal_list,
    .journal_set_state = fb_journal_set_state,
    .journal_count = fb_journal_count,
    .journal_prune = fb_journal_prune,
    .integrity_check = fb_integrity_check,
    .fts_search = fb_fts_search,
    .items_uid_flags = fb_items_uid_flags,
    .fts_index = fb_fts_index,
};

static const outpost_config_key config_keys[] = {
    { "path", OUTPOST_CFG_PATH, 0, "cache.fdb", NULL,
      "cache database file, relative to the data directory (at most 246 bytes in all)" },
    { "durability", OUTPOST_CFG_ENUM, 0, "full", "full|normal",
      "full: forced writes, every commit survives power loss and the file stays consistent after a "
      "power loss at any moment; normal: the file is flushed at every commit (faster), but a power "
      "loss in the middle of a commit may damage it" },
    { "cache_pages", OUTPOST_CFG_INT, 0, "2048", NULL,
      "Firebird page cache, in database pages (16 KiB in caches created since 0.2: 32 MiB)" },
    { NULL, 0, 0, NULL, NULL, NULL },
};

static const struct outpost_plugin descriptor = {
    .struct_size = sizeof(struct outpost_plugin),
    .abi_major = OUTPOST_ABI_MAJOR,
    .abi_minor = OUTPOST_ABI_MINOR,
    .kind = OUTPOST_KIND_STORAGE,
    .name = "firebird",
    .version = "0.1.0",
    .description = "embedded Firebird 3 cache (one process, snapshot readers, token-scan search)",
    .caps = OUTPOST_STORAGE_CAP_CONCURRENT_READERS | OUTPOST_STORAGE_CAP_FTS | OUTPOST_STORAGE_CAP_FTS_ALL_HEADERS,
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
