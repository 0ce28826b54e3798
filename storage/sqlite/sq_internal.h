/* sq_internal.h — shared state of the SQLite storage plugin.
 *
 * One instance = one SQLite connection (WAL). Statements are prepared once per
 * connection and cached in s->stmt[]; a cursor borrows a cached statement when
 * it is free and prepares a private copy otherwise, so two listings of the
 * same kind may be open at once.
 */
#ifndef OUTPOST_SQ_INTERNAL_H
#define OUTPOST_SQ_INTERNAL_H

#include <sqlite3.h>
#include <stdarg.h>

#include <outpost/host.h>
#include <outpost/storage.h>

/* Schema version written to PRAGMA user_version and store_info. */
#define SQ_SCHEMA_VERSION 5
/* Content rows written by schema 2 hold at most this many bytes (raw). */
#define SQ_CHUNK (128u * 1024u)
/* Content rows written now hold this many bytes of content (the last row of
 * an item fewer), each compressed on its own (sq_content.c). */
#define SQ_ZCHUNK (64u * 1024u)
/* content.codec: how a row's data is stored: as is (rows before schema 4 only),
 * one zstd frame with its content checksum, or as is followed by the CRC-32
 * (zlib) of those bytes, 4 bytes little-endian (schema 4). */
enum { SQ_CODEC_RAW = 0, SQ_CODEC_ZSTD = 1, SQ_CODEC_CRC = 2 };
/* zstd level: 1 is the fastest level that still entropy-codes literals
 * (base64 attachments shrink by a quarter only through that). */
#define SQ_ZSTD_LEVEL 1
/* journal_size_limit: the WAL is cut back to this when it starts over, and the
 * idle thread truncates a larger one once everything is copied (sq_idle.c) */
#define SQ_WAL_KEEP_BYTES (64 * 1024 * 1024)
/* Page size of new caches (see sq_open). */
#define SQ_PAGE_SIZE 16384
#define SQ_STR_(x) #x
#define SQ_STR(x) SQ_STR_(x)

#define ITEM_COLS                                                                          \
    "id,kind,folder_id,remote_id,remote_version,uid,flags,modseq,keywords,internal_date," \
    "date,size,content_state,cached_size,subject,from_addr,to_addr,cc_addr,message_id,"   \
    "object_uid,envelope,bodystructure,preview"
#define FOLDER_COLS                                                                     \
    "id,kind,parent_id,remote_id,name,special_use,flags,uidvalidity,uidnext,"          \
    "highest_modseq,total,unread,flagged,sync_state"
#define JOURNAL_COLS                                                                     \
    "seq,op,state,attempts,item_id,folder_id,target_folder_id,flags,keywords,name,"     \
    "remote_id,payload,created_ms,done_ms,result_remote_id,message"

/* Cached statements. Keep in the order of sq_stmt_sql[] (sq_store.c). */
enum sq_stmt_id {
    ST_BEGIN_READ, ST_BEGIN_WRITE, ST_COMMIT, ST_ROLLBACK, ST_SNAPSHOT,
    ST_INFO_GET, ST_INFO_SET,
    ST_META_GET, ST_META_SET, ST_META_DEL,
    ST_FOLDER_INSERT, ST_FOLDER_SIBLING, ST_FOLDER_GET, ST_FOLDER_FIND_REMOTE, ST_FOLDER_LIST,
    ST_FOLDER_SET_SYNC, ST_FOLDER_HAS_CHILD, ST_FOLDER_UPDATE, ST_FOLDER_BUMP,
    ST_FOLDER_DEL_CONTENT, ST_FOLDER_DEL_PROPS, ST_FOLDER_FTS_COUNT, ST_FOLDER_DEL_ITEMS,
    ST_FOLDER_DEL_TOMBS, ST_FOLDER_DEL, ST_FOLDER_ANCESTOR, ST_FOLDER_PUT_FLUSH,
    ST_ITEM_INSERT, ST_ITEM_GET, ST_ITEM_FIND_REMOTE, ST_ITEM_FIND_KEY, ST_ITEM_FIND_REMOTE_IN, ST_ITEM_FIND_KEY_IN, ST_ITEM_UPDATE_REMOTE,
    ST_ITEM_UPDATE_SUMMARY, ST_ITEM_UPDATE_CSTATE, ST_ITEM_SET_FLAGS, ST_ITEM_MOVE, ST_ITEM_DELETE,
    ST_ITEM_STATE, ST_TOMB_INSERT,
    ST_ITEMS_BY_UID, ST_ITEMS_CHANGED, ST_EXPUNGED, ST_MISSING_ALL, ST_MISSING_FOLDER, ST_UID_FLAGS,
    ST_CONTENT_DELETE, ST_CONTENT_LAST, ST_CONTENT_LEN, ST_CONTENT_INSERT, ST_CONTENT_DEL_ROW,
    ST_CONTENT_FIND,
    ST_CONTENT_ROWS, ST_CONTENT_FINISH,
    ST_PROP_SET, ST_PROP_DEL, ST_PROP_GET, ST_PROP_DEL_ITEM,
    ST_J_INSERT, ST_J_PENDING, ST_J_LIST, ST_J_SET, ST_J_COUNT, ST_J_PRUNE,
    ST_FTS_TODO, ST_FTS_TODO_COUNT, ST_FTS_TODO_COUNT_FOLDER, ST_FTS_INSERT, ST_FTS_SET_DOC,
    ST_FTS_SEARCH, ST_FTS_SEARCH_ALL, ST_FTS_TMP_INSERT, ST_FTS_SEARCH_TMP, ST_FTS_SEARCH_TMP_ALL,
    ST_FTS_SEARCH_HITS, ST_FTS_SEARCH_HITS_ALL, ST_FTS_TODO_ALL, ST_FTS_ALL_COUNT, ST_FTS_SEARCH_TMPONLY,
    ST_FTS_SEARCH_TMPONLY_ALL, ST_FTS_SEARCH_HITS_TMPONLY, ST_FTS_SEARCH_HITS_TMPONLY_ALL,
    ST__COUNT
};

/* A growable byte buffer for strings handed out "valid until the next call". */
struct sq_buf {
    char *p;
    size_t len, cap;
};

struct outpost_txn {
    struct outpost_storage *s;
    uint32_t mode;
    int open;
    int failed;                 /* a write may have been half applied: commit refuses */
    int32_t fail_code;
    char fail_msg[512];
    int64_t fts_garbage;        /* stale full-text documents made in this transaction */
    /* Facts this transaction already knows, so the common ingest sequence
     * (item_put, content_write..., content_finish) reads nothing back:
     * the kind of the folder last written to (folder kinds never change;
     * reset when a folder is deleted) and the item last put, which has no
     * content rows but those written since (reset when it is deleted). */
    int64_t fk_id;
    uint32_t fk_kind;
    int64_t fresh_id;
    uint64_t fresh_end;         /* bytes written so far */
    /* Folder fb_id as item_put left it: its uidnext and highest_modseq, and
     * the counter changes not yet written to its row (fb_dirty). Written by
     * sq_folder_flush, which every call but item_put and content_finish runs
     * first (sq_check_txn), and commit does. fb_id 0: none. */
    int64_t fb_id;
    int64_t fb_uidnext;
    uint64_t fb_modseq;
    int64_t fb_total, fb_unread, fb_flagged;
    int fb_dirty;
    int fresh_rows;             /* content rows written for it */
    /* The last, not yet full chunk of the content being written, kept in
     * memory until it is full or anything but the next content_write of the
     * same item happens (sq_content.c); tail_item 0: none. */
    int64_t tail_item;
    uint64_t tail_off;          /* content offset of tail[0] */
    size_t tail_len;
    struct sq_buf out;          /* backing store of *out structs handed out */
    union {
        outpost_folder folder;
        outpost_item item;
    } row;
};

struct outpost_storage {
    const struct outpost_host *host;
    char *path;
    int durability_full;
    int compress;               /* [storage] compress = zstd (else none: new rows raw) */
    int64_t cache_mb;
    int64_t checkpoint_mb;      /* WAL size that triggers a checkpoint */
    int64_t ckpt_pages;         /* the same in pages (wal_hook, sq_store.c) */
    int64_t page_size;          /* the database's page size in bytes */
    int wal_pages;              /* WAL size after the last commit (wal_hook) */
    struct sq_idle *idle;       /* idle-time checkpoints (sq_idle.c), NULL until the first write */
    struct sq_zstate *z;        /* compression state (sq_content.c), NULL until content is used */
    sqlite3 *db;
    sqlite3_stmt *stmt[ST__COUNT];
    unsigned char busy[ST__COUNT]; /* borrowed by an open cursor */
    int open_cursors;
    struct outpost_txn txn;
    char msg[768];
};

enum sq_row_type { ROW_FOLDER, ROW_ITEM, ROW_TOMBSTONE, ROW_JOURNAL, ROW_UID_FLAGS };

struct outpost_cursor {
    struct outpost_storage *s;
    sqlite3_stmt *st;
    int stmt_id;                /* cached statement borrowed, or -1 when private */
    int row_type;
    int done;
    union {
        outpost_folder folder;
        outpost_item item;
        outpost_tombstone tomb;
        outpost_journal_entry journal;
        outpost_uid_flags uf;
    } row;
};

/* ---- sq_store.c ---- */
outpost_status sq_error(struct outpost_storage *s, int32_t code, const char *fmt, ...)
    OUTPOST_PRINTF(3, 4);
/* Maps an SQLite result code to a status class; `what` says what was being done. */
outpost_status sq_db_error(struct outpost_storage *s, int rc, const char *what);
/* Records a failure of a write transaction so that commit() refuses. */
outpost_status sq_poison(struct outpost_txn *t, outpost_status st);
sqlite3_stmt *sq_stmt(struct outpost_storage *s, enum sq_stmt_id id, int *rc);
/* Steps a prepared statement expecting no row (DONE); resets it. */
int sq_exec_stmt(sqlite3_stmt *st);
int sq_exec(struct outpost_storage *s, const char *sql);
/* Checks the transaction is open (and writable when `write`), and stores the
 * content still pending (sq_content_flush): what follows sees every row. */
outpost_status sq_check_txn(struct outpost_txn *t, int write);
/* The same for the calls that read neither content rows nor folder rows
 * (item_put, content_finish of an item put in the transaction, item_get and
 * the item lookups): the pending chunks only go into the queue
 * (sq_content_flush_queue) and the folder row waits. */
outpost_status sq_check_txn_queue(struct outpost_txn *t, int write);
outpost_status sq_cursor_open(struct outpost_storage *s, enum sq_stmt_id id, int row_type,
                              struct outpost_cursor **out, sqlite3_stmt **st);
outpost_status sq_cursor_next(struct outpost_cursor *c, const void **row);
void sq_cursor_close(struct outpost_cursor *c);
int64_t sq_now_ms(struct outpost_storage *s);
void sq_bind_text(sqlite3_stmt *st, int i, const char *v);

/* Fill row structs from a statement positioned on a row. With `buf` the
 * strings are copied into it (for *out structs), else they point into the
 * statement (cursor rows, valid until the next step). */
int sq_fill_item(sqlite3_stmt *st, outpost_item *it, struct sq_buf *buf);
int sq_fill_folder(sqlite3_stmt *st, outpost_folder *f, struct sq_buf *buf);
void sq_fill_journal(sqlite3_stmt *st, outpost_journal_entry *e);
int sq_buf_reserve(struct sq_buf *b, size_t n);

/* ---- sq_idle.c ---- */
/* Any transaction begins / ends (committed: a write transaction committed). */
void sq_idle_txn_begin(struct outpost_storage *s);
void sq_idle_txn_end(struct outpost_storage *s, int committed);
/* Stops the idle thread and closes its connection (before the main one). */
void sq_idle_stop(struct outpost_storage *s);
/* Asks the idle thread for a checkpoint now, busy or not (the WAL, `pages`
 * long, passed checkpoint_mb; `fresh`: it started over since the last call);
 * 0 when there is no thread to ask, or when the thread's last checkpoint left
 * so little that the caller should copy the rest itself (so that the WAL
 * starts over). */
int sq_idle_checkpoint_soon(struct outpost_storage *s, int pages, int fresh);

/* ---- sq_fts.c ---- */
outpost_status sq_fts_search(struct outpost_txn *t, int64_t folder_id, const char *query,
                             struct outpost_cursor **out);
outpost_status sq_fts_index(struct outpost_txn *t, uint32_t max_items, uint32_t *indexed,
                            uint64_t *remaining);
/* Puts sq_fts.c's faster unicode61 (same tokens) in front of SQLite's on
 * s->db; open() calls it before anything uses the index. */
int sq_fts_register(struct outpost_storage *s);
int sq_fts_create_temp(struct outpost_storage *s);
/* Counts stale documents and rebuilds the index when they dominate. */
outpost_status sq_fts_flush_garbage(struct outpost_txn *t);

/* ---- method groups (sq_folder.c, sq_item.c, sq_content.c, sq_journal.c) ---- */
outpost_status sq_meta_get(struct outpost_txn *t, const char *key, const void **val, size_t *len);
outpost_status sq_meta_set(struct outpost_txn *t, const char *key, const void *val, size_t len);
outpost_status sq_folder_create(struct outpost_txn *t, const outpost_folder *f, int64_t *out_id);
outpost_status sq_folder_update(struct outpost_txn *t, int64_t id, const outpost_folder *f, uint32_t fields);
outpost_status sq_folder_delete(struct outpost_txn *t, int64_t id);
outpost_status sq_folder_get(struct outpost_txn *t, int64_t id, const outpost_folder **out);
outpost_status sq_folder_find_remote(struct outpost_txn *t, const char *remote_id, const outpost_folder **out);
outpost_status sq_folder_list(struct outpost_txn *t, struct outpost_cursor **out);
outpost_status sq_folder_set_sync_state(struct outpost_txn *t, int64_t id, const void *state, size_t len);
/* item_put's bump: +1 total, a new UID and MODSEQ, kept in the transaction
 * while puts go on into the same folder. */
outpost_status sq_folder_bump_put(struct outpost_txn *t, int64_t folder_id, int64_t dunread,
                                  int64_t dflagged, uint32_t *uid, uint64_t *modseq);
/* Writes what sq_folder_bump_put kept; poisons the transaction on failure. */
outpost_status sq_folder_flush(struct outpost_txn *t);
/* Changes a folder's counters and allocates MODSEQ (and a UID when `new_uid`). */
outpost_status sq_folder_bump(struct outpost_txn *t, int64_t folder_id, int new_uid, int64_t dtotal,
                              int64_t dunread, int64_t dflagged, uint32_t *uid, uint64_t *modseq,
                              uint32_t *kind);

outpost_status sq_item_put(struct outpost_txn *t, outpost_item *it);
outpost_status sq_item_update(struct outpost_txn *t, const outpost_item *it, uint32_t fields);
outpost_status sq_item_get(struct outpost_txn *t, int64_t id, const outpost_item **out);
outpost_status sq_item_find_remote(struct outpost_txn *t, int64_t folder_id, const char *remote_id,
                                   const outpost_item **out);
outpost_status sq_item_find_key(struct outpost_txn *t, int64_t folder_id, const char *key,
                                const outpost_item **out);
outpost_status sq_item_set_flags(struct outpost_txn *t, int64_t id, uint32_t flags, const char *keywords,
                                 uint64_t *modseq);
outpost_status sq_item_move(struct outpost_txn *t, int64_t id, int64_t to_folder, uint32_t *new_uid);
outpost_status sq_item_delete(struct outpost_txn *t, int64_t id);
outpost_status sq_items_by_uid(struct outpost_txn *t, int64_t folder_id, uint32_t lo, uint32_t hi,
                               struct outpost_cursor **out);
outpost_status sq_items_changed_since(struct outpost_txn *t, int64_t folder_id, uint64_t since,
                                      struct outpost_cursor **out);
outpost_status sq_expunged_since(struct outpost_txn *t, int64_t folder_id, uint64_t since,
                                 struct outpost_cursor **out);
outpost_status sq_items_missing_content(struct outpost_txn *t, int64_t folder_id, struct outpost_cursor **out);
outpost_status sq_items_uid_flags(struct outpost_txn *t, int64_t folder_id, uint32_t lo, uint32_t hi,
                                  struct outpost_cursor **out);
outpost_status sq_prop_set(struct outpost_txn *t, int64_t item_id, const char *name, const void *val,
                           size_t len);
outpost_status sq_prop_get(struct outpost_txn *t, int64_t item_id, const char *name, const void **val,
                           size_t *len);

outpost_status sq_content_write(struct outpost_txn *t, int64_t item_id, uint64_t offset, const void *data,
                                size_t len);
outpost_status sq_content_finish(struct outpost_txn *t, int64_t item_id, uint32_t state);
outpost_status sq_content_read(struct outpost_txn *t, int64_t item_id, uint64_t offset, void *buf,
                               size_t len, size_t *got);
outpost_status sq_content_drop(struct outpost_txn *t, int64_t item_id);
/* Removes an item's content rows (item delete, folder delete). */
outpost_status sq_content_remove(struct outpost_txn *t, int64_t item_id);
/* Writes the pending tail (see struct outpost_txn) and every chunk queued for
 * compression into their rows; poisons the transaction on failure. Every
 * call but those of the ingest sequence runs it first (sq_check_txn), and
 * commit does. */
outpost_status sq_content_flush(struct outpost_txn *t);
/* Queues the pending tail for compression and stores the chunks already
 * compressed, without waiting for the others. */
outpost_status sq_content_flush_queue(struct outpost_txn *t);
/* A transaction begins or ends: forget the tail and the decompressed chunk. */
void sq_content_reset(struct outpost_storage *s);
/* Decodes one content row read as stored (ST_CONTENT_ROWS: codec and data
 * of n bytes, len content bytes; len < 0 for a row of schema 2, raw) into
 * out, which has room for len (or n) bytes; *got gets the content length.
 * Safe on any thread: *dc is the caller's decompression context, created
 * on first use, freed by sq_content_dctx_free. SQLITE_OK, SQLITE_NOMEM or
 * SQLITE_CORRUPT. */
int sq_content_decode(void **dc, int codec, const void *data, size_t n, int64_t len, void *out, size_t *got);
void sq_content_dctx_free(void *dc);
/* The integrity check's pass over every content row (in the caller's read
 * transaction): each one decodes (zstd frames written from this version on carry a
 * checksum) to the length its row says. SQLITE_OK; SQLITE_CORRUPT with msg
 * naming the first damaged row's item and offset; or an engine error. */
int sq_content_verify(struct outpost_storage *s, char *msg, size_t msglen);
/* Forgets the decompressed row kept for reads (content rows may change). */
void sq_content_forget(struct outpost_storage *s);
/* Frees the compression state (destroy). */
void sq_content_free(struct outpost_storage *s);

outpost_status sq_journal_append(struct outpost_txn *t, outpost_journal_entry *e);
outpost_status sq_journal_pending(struct outpost_txn *t, uint32_t limit, struct outpost_cursor **out);
outpost_status sq_journal_list(struct outpost_txn *t, int64_t after_seq, struct outpost_cursor **out);
outpost_status sq_journal_set_state(struct outpost_txn *t, int64_t seq, uint32_t state,
                                    const char *result_remote_id, const char *message);
outpost_status sq_journal_count(struct outpost_txn *t, uint32_t state, uint64_t *n);
outpost_status sq_journal_prune(struct outpost_txn *t, int64_t before_ms, uint64_t *removed);

#endif /* OUTPOST_SQ_INTERNAL_H */
