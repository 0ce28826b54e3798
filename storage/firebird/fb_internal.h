/* fb_internal.h — shared state of the embedded Firebird storage plugin.
 *
 * One instance = one attachment to the cache through the embedded engine
 * (Providers=Engine12, no server). Statements are prepared once per
 * attachment and cached in s->stmt[]; a prepared statement survives commits
 * and is re-executed in later transactions. A cursor borrows the cached
 * statement when it is free and prepares a private copy otherwise, so two
 * listings of one kind may be open at once.
 *
 * Strings are stored as VARCHAR CHARACTER SET OCTETS: UTF-8 bytes, compared
 * and indexed bytewise, so no index depends on the system's ICU version
 * (Debian's README.Debian warns that ICU upgrades can invalidate indexes on
 * collated text). Item strings longer than their column spill into the
 * value store (fb_val.c, space VS_BIG), named by a bit in `big_mask`.
 *
 * The plugin writes no BLOBs (schema v8): every value longer than a column
 * lives in `val` rows with the bytes inline (fb_val.c says why).
 */
#ifndef OUTPOST_FB_INTERNAL_H
#define OUTPOST_FB_INTERNAL_H

#include <ibase.h>
#include <stdarg.h>

#include <outpost/host.h>
#include <outpost/storage.h>

/* Schema version kept in store_info('schema_version'). */
#define FB_SCHEMA_VERSION 9
/* Content rows (content_part) hold at most this many bytes, inline in a
 * VARCHAR OCTETS column, so that a row and its bytes are one record on one
 * data page (see fb_content.c for why content is not kept in BLOBs). */
#define FB_PART 15000
#define FB_PART_SQL "15000"

/* The value store `val` (fb_val.c): what owns a value, its "space". The
 * numbers are stored: never renumber. The SQL spelling of each is in
 * VS_*_SQL for statements and triggers. */
enum fb_space {
    VS_META = 1,    /* meta value: k2 = key */
    VS_SYNC = 2,    /* folder sync state longer than FB_SYNC_INLINE: k1 = folder */
    VS_BIG = 3,     /* item strings longer than their columns: k1 = item */
    VS_FTS = 4,     /* item token text (fb_fts.c): k1 = item */
    VS_PROP = 5,    /* item property: k1 = item, k2 = name */
    VS_JOURNAL = 6, /* journal payload longer than FB_PAYLOAD_INLINE: k1 = seq */
    VS_SNAP = 7,    /* listing snapshot (fb_uidsnap.c): k1 = folder */
};
#define VS_META_SQL "1"
#define VS_SYNC_SQL "2"
#define VS_BIG_SQL "3"
#define VS_FTS_SQL "4"
#define VS_PROP_SQL "5"
#define VS_JOURNAL_SQL "6"
#define VS_SNAP_SQL "7"
/* Values at most this long stay inline in their row (folder.sync_in,
 * journal.payload_in); longer ones go to `val` whole. */
#define FB_SYNC_INLINE 4000
#define FB_SYNC_INLINE_SQL "4000"
#define FB_PAYLOAD_INLINE 1000
#define FB_PAYLOAD_INLINE_SQL "1000"
/* Page size of new caches. With forced writes every page write is a
 * synchronous disk write, so the page count per committed body is what an
 * insert costs: 16 KiB pages (Firebird 3's largest) hold a median mail body
 * in one page, and small bodies share a page (content rows are compressed
 * records on the table's data pages). An empty cache is ~2.9 MiB. */
#define FB_PAGE_SIZE 16384
/* Default page cache, in pages (2048 x 16 KiB = 32 MiB). */
#define FB_CACHE_PAGES 2048

/* Item string fields, in the order of the item columns (bit i of big_mask). */
enum fb_item_str {
    IS_KEYWORDS, IS_REMOTE_ID, IS_REMOTE_VERSION, IS_SUBJECT, IS_FROM, IS_TO, IS_CC, IS_MESSAGE_ID,
    IS_OBJECT_UID, IS_FIND_KEY, IS_ENVELOPE, IS_BODYSTRUCTURE, IS_PREVIEW, IS__COUNT
};
extern const unsigned fb_item_str_max[IS__COUNT];

#define ITEM_COLS                                                                                   \
    "id,kind,folder_id,uid,flags,modseq,internal_date,date_,size_,content_state,cached_size,"    \
    "big_mask,keywords,remote_id,remote_version,subject,from_addr,to_addr,cc_addr,message_id,"  \
    "object_uid,find_key,envelope,bodystructure,preview"
#define ITEM_NCOLS 25
#define FOLDER_COLS                                                                                 \
    "id,kind,parent_id,remote_id,name,special_use,flags,uidvalidity,uidnext,highest_modseq,"      \
    "total,unread,flagged,sync_len,sync_in"
#define JOURNAL_COLS                                                                                \
    "seq,op,state,attempts,item_id,folder_id,target_folder_id,flags,keywords,name,remote_id,"     \
    "payload_len,payload_in,created_ms,done_ms,result_remote_id,message"

enum fb_stmt_id {
    ST_INFO_GET, ST_INFO_SET,
    ST_FOLDER_INSERT, ST_FOLDER_SIBLINGS, ST_FOLDER_GET, ST_FOLDER_FIND_REMOTE, ST_FOLDER_LIST,
    ST_FOLDER_SET_SYNC, ST_FOLDER_HAS_CHILD, ST_FOLDER_UPDATE, ST_FOLDER_BUMP, ST_FOLDER_PARENT, ST_FOLDER_KIND,
    ST_FOLDER_DEL,
    ST_ITEM_INSERT, ST_ITEM_GET, ST_ITEM_FIND_REMOTE, ST_ITEM_FIND_KEY, ST_ITEM_REWRITE,
    ST_ITEM_UPDATE_SUMMARY, ST_ITEM_UPDATE_CSTATE, ST_ITEM_SET_FLAGS, ST_ITEM_MOVE, ST_ITEM_DELETE,
    ST_ITEM_STATE, ST_TOMB_INSERT,
    ST_ITEMS_BY_UID, ST_ITEMS_CHANGED, ST_EXPUNGED, ST_MISSING_ALL, ST_MISSING_FOLDER, ST_UID_FLAGS,
    ST_CONTENT_DELETE, ST_CONTENT_END, ST_CONTENT_INSERT, ST_CONTENT_RANGE, ST_CONTENT_FINISH,
    ST_J_INSERT, ST_J_PENDING, ST_J_LIST, ST_J_SET, ST_J_COUNT, ST_J_PRUNE_COUNT, ST_J_PRUNE,
    ST_FTS_TODO, ST_FTS_TODO_COUNT, ST_FTS_TODO_COUNT_FOLDER, ST_FTS_SET, ST_FTS_SCAN, ST_FTS_SCAN_ALL,
    ST_SNAP_GET, ST_SNAP_MODSEQ, ST_SNAP_SET, ST_UF_DELTA, ST_UF_GONE,
    ST_VAL_GET, ST_VAL_PUT, ST_VAL_DEL,
    ST__COUNT
};

/* Counters kept in store_info, cached per write transaction and written
 * back once at commit. */
enum fb_counter { CT_ITEM, CT_FOLDER, CT_SEQ, CT_UIDVALIDITY, CT__COUNT };

struct fb_buf {
    char *p;
    size_t len, cap;
};

#define FB_MAX_PARAMS 32

/* A prepared statement with its descriptor areas and buffers. */
struct fb_stmt {
    isc_stmt_handle h;
    const char *sql;
    XSQLDA *in, *out;
    char *obuf;
    short *oind;
    short iind[FB_MAX_PARAMS];
    ISC_INT64 ival[FB_MAX_PARAMS];
    int is_select;
    int cursor_open;
};

struct outpost_txn {
    struct outpost_storage *s;
    isc_tr_handle tr;
    uint32_t mode;
    int open;
    int failed;                 /* a write may have been half applied: commit refuses */
    int32_t fail_code;
    char fail_msg[512];
    int64_t counter[CT__COUNT];
    unsigned char counter_loaded[CT__COUNT], counter_dirty[CT__COUNT];
    struct fb_buf out;          /* backing store of *out structs handed out */
    struct fb_buf big;          /* scratch for overflow strings */
    int64_t kind_folder;        /* last folder whose kind was looked up */
    uint32_t kind_of_folder;
    /* the item item_put created last in this transaction and the end of the
     * content written to it since: content_write/finish then need no
     * lookups (cleared by anything that removes items or content) */
    int64_t wr_item;
    uint64_t wr_end;
    /* folders this transaction changed (first FB_TOUCHED_MAX), for the
     * listing snapshots refreshed at commit (fb_uidsnap.c) */
#define FB_TOUCHED_MAX 8
    struct fb_touched {
        int64_t folder, uidnext;
        uint64_t modseq;
    } touched[FB_TOUCHED_MAX];
    int ntouched;
    union {
        outpost_folder folder;
        outpost_item item;
    } row;
};

struct outpost_storage {
    const struct outpost_host *host;
    char *path;
    /* [storage] durability: full = DUR_FORCED (forced writes, careful write
     * order), normal = DUR_COMMIT (forced writes off, flushed at commit) */
    enum fb_durability { DUR_COMMIT, DUR_FORCED } durability;
    int sync_fd;                /* DUR_COMMIT: the cache file, fdatasync'd after each commit */
    int64_t cache_pages;
    isc_db_handle db;
    ISC_STATUS_ARRAY status;
    struct fb_stmt *stmt[ST__COUNT];
    unsigned char busy[ST__COUNT]; /* borrowed by an open cursor */
    int open_cursors;
    struct outpost_txn txn;
    char msg[1024];
};

enum fb_row_type { ROW_FOLDER, ROW_ITEM, ROW_TOMBSTONE, ROW_JOURNAL, ROW_UID_FLAGS, ROW_IDLIST, ROW_UF_MEM };

/* One row of items_uid_flags held in memory (fb_uidsnap.c). */
struct fb_uf {
    uint32_t uid, flags;
    uint64_t modseq;
    int64_t id;
    int32_t kwlen;              /* -1: no keywords; FB_KW_BIG: in the item's overflow value */
    const char *kw;             /* kwlen bytes, not NUL-terminated */
};
#define FB_KW_BIG (-2)

struct outpost_cursor {
    struct outpost_storage *s;
    struct fb_stmt *st;
    int stmt_id;                /* cached statement borrowed, or -1 when private */
    int row_type;
    int done;
    int64_t *ids;               /* ROW_IDLIST: the items to hand out, in order */
    size_t nids, pos;
    struct fb_uf *uf;           /* ROW_UF_MEM: the rows, in UID order (nids of them) */
    struct fb_buf snap, delta;  /* ROW_UF_MEM: bytes the rows' keywords point into */
    struct fb_buf buf;          /* strings of the current row */
    union {
        outpost_folder folder;
        outpost_item item;
        outpost_tombstone tomb;
        outpost_journal_entry journal;
        outpost_uid_flags uf;
    } row;
};

/* ---- fb_db.c: the ISC layer ---- */
/* Fills s->msg and returns a status of class `code`. */
outpost_status fb_error(struct outpost_storage *s, int32_t code, const char *fmt, ...) OUTPOST_PRINTF(3, 4);
/* Maps s->status (after a failed ISC call) to a status; `what` says what was being done. */
outpost_status fb_db_error(struct outpost_storage *s, const char *what);
/* Records a failure of a write transaction so that commit() refuses. */
outpost_status fb_poison(struct outpost_txn *t, outpost_status st);
int fb_buf_reserve(struct fb_buf *b, size_t n);

/* The cached statement `id`, prepared on first use (NULL on error: s->status). */
struct fb_stmt *fb_stmt(struct outpost_storage *s, enum fb_stmt_id id);
struct fb_stmt *fb_stmt_prepare(struct outpost_storage *s, const char *sql);
void fb_stmt_free(struct fb_stmt *st);
/* Closes an open cursor of the statement (no-op otherwise). */
void fb_stmt_close(struct outpost_storage *s, struct fb_stmt *st);

void fb_bind_int(struct fb_stmt *st, int i, int64_t v);
void fb_bind_null(struct fb_stmt *st, int i);
/* Binds a string (NULL → SQL NULL); the bytes must stay valid until execution. */
void fb_bind_text(struct fb_stmt *st, int i, const char *v);
void fb_bind_textn(struct fb_stmt *st, int i, const char *v, size_t n);

/* Executes (a SELECT opens its cursor; singleton RETURNING fills the output).
 * 0 or -1 (s->status). */
int fb_exec(struct outpost_storage *s, struct fb_stmt *st);
/* Next row of a SELECT: 1 row, 0 end (cursor closed), -1 error. */
int fb_fetch(struct outpost_storage *s, struct fb_stmt *st);
/* Executes and fetches one row, closing the cursor: 1 row, 0 none, -1 error. */
int fb_exec_row(struct outpost_storage *s, struct fb_stmt *st);
int fb_exec_sql(struct outpost_storage *s, const char *sql);

int fb_col_null(const struct fb_stmt *st, int i);
int64_t fb_col_int(const struct fb_stmt *st, int i);
/* Points into the statement's buffer (not NUL-terminated); NULL when SQL NULL. */
const char *fb_col_text(const struct fb_stmt *st, int i, size_t *len);
/* Copies a text column into b (NUL-terminated) and returns it; NULL when SQL NULL. */
const char *fb_col_strdup(const struct fb_stmt *st, int i, struct fb_buf *b, size_t *at);
const ISC_QUAD *fb_col_blob(const struct fb_stmt *st, int i);
/* Whether a fetched content row's bytes (column data_col) match its CRC-32
 * (column crc_col; NULL, from before schema 9, matches). fb_content.c. */
int fb_content_crc_ok(const struct fb_stmt *st, int data_col, int crc_col);

/* Reads a whole BLOB into b (appending at b->len). 0 or -1. Only the
 * migrations read BLOBs (of caches older than schema v8); nothing writes one. */
int fb_blob_read_all(struct outpost_storage *s, const ISC_QUAD *id, struct fb_buf *b);

/* ---- fb_val.c: the value store ---- */
/* Sets value (sp, k1, k2) to data[len] (len 0: an empty value, still
 * present), replacing any old one. k2 NULL means "". In the current
 * transaction. 0 or -1 (s->status). */
int fb_val_put(struct outpost_storage *s, enum fb_space sp, int64_t k1, const char *k2, const void *data,
               size_t len);
/* Appends value (sp, k1, k2) to b, NUL-terminated (the NUL not counted in
 * b->len). 1 found, 0 none, -1 error (s->status; a malformed value is an
 * error too). */
int fb_val_get(struct outpost_storage *s, enum fb_space sp, int64_t k1, const char *k2, struct fb_buf *b);
/* Removes value (sp, k1, k2). 0 or -1. */
int fb_val_del(struct outpost_storage *s, enum fb_space sp, int64_t k1, const char *k2);
/* Reassembly of a value whose parts arrive in any order (a join): start
 * with fb_val_begin at b->len, feed each (part, data) row, then fb_val_end,
 * which checks that every part came and sets b->len past the value: 0, or
 * -1 when parts are missing or malformed (s->status) or on OOM. */
struct fb_val_rd {
    size_t base, end;
    int64_t parts, max_part;
    int short_part; /* a part shorter than FB_PART was seen, at max_part? */
    int64_t short_at;
};
void fb_val_begin(struct fb_val_rd *r, const struct fb_buf *b);
int fb_val_add(struct outpost_storage *s, struct fb_val_rd *r, struct fb_buf *b, int64_t part, const char *data,
               size_t n);
int fb_val_end(struct outpost_storage *s, struct fb_val_rd *r, struct fb_buf *b);
/* A value kept inline up to `inline_max` bytes and in `val` beyond: the row's
 * length column (NULL: no value) and inline column are `col_len`, `col_in`
 * of st. Appends it to b, NUL-terminated; *at is its offset (SIZE_MAX when
 * NULL), *len its length. 0 or -1. */
int fb_val_read_split(struct outpost_storage *s, const struct fb_stmt *st, int col_len, int col_in, enum fb_space sp,
                      int64_t k1, size_t inline_max, struct fb_buf *b, size_t *at, size_t *len);

/* ---- fb_store.c ---- */
outpost_status fb_check_txn(struct outpost_txn *t, int write);
int64_t fb_now_ms(struct outpost_storage *s);
outpost_status fb_cursor_open(struct outpost_storage *s, enum fb_stmt_id id, int row_type,
                              struct outpost_cursor **out, struct fb_stmt **st);
/* Executes a bound cursor's statement; on failure closes it and sets *c NULL. */
outpost_status fb_cursor_exec(struct outpost_cursor **c, const char *what);
void fb_cursor_close(struct outpost_cursor *c);
/* Next value of a counter (written back at commit). */
outpost_status fb_counter_next(struct outpost_txn *t, enum fb_counter c, int64_t *v);
outpost_status fb_counter_get(struct outpost_txn *t, enum fb_counter c, int64_t *v);
void fb_counter_set(struct outpost_txn *t, enum fb_counter c, int64_t v);
/* Fills an item from a statement positioned on a row of ITEM_COLS starting at
 * column `first`, copying strings into b. 0 or -1 (status in s). */
int fb_fill_item(struct outpost_storage *s, const struct fb_stmt *st, int first, outpost_item *it, struct fb_buf *b);
outpost_status fb_schema_upgrade(struct outpost_storage *s);

/* ---- method groups ---- */
outpost_status fb_meta_get(struct outpost_txn *t, const char *key, const void **val, size_t *len);
outpost_status fb_meta_set(struct outpost_txn *t, const char *key, const void *val, size_t len);
outpost_status fb_folder_create(struct outpost_txn *t, const outpost_folder *f, int64_t *out_id);
outpost_status fb_folder_update(struct outpost_txn *t, int64_t id, const outpost_folder *f, uint32_t fields);
outpost_status fb_folder_delete(struct outpost_txn *t, int64_t id);
outpost_status fb_folder_get(struct outpost_txn *t, int64_t id, const outpost_folder **out);
outpost_status fb_folder_find_remote(struct outpost_txn *t, const char *remote_id, const outpost_folder **out);
outpost_status fb_folder_list(struct outpost_txn *t, struct outpost_cursor **out);
outpost_status fb_folder_set_sync_state(struct outpost_txn *t, int64_t id, const void *state, size_t len);
outpost_status fb_folder_bump(struct outpost_txn *t, int64_t folder_id, int new_uid, int64_t dtotal,
                              int64_t dunread, int64_t dflagged, uint32_t *uid, uint64_t *modseq,
                              uint32_t *kind);
int fb_fill_folder(struct outpost_storage *s, const struct fb_stmt *st, outpost_folder *f, struct fb_buf *b);

outpost_status fb_item_put(struct outpost_txn *t, outpost_item *it);
outpost_status fb_item_update(struct outpost_txn *t, const outpost_item *it, uint32_t fields);
outpost_status fb_item_get(struct outpost_txn *t, int64_t id, const outpost_item **out);
outpost_status fb_item_find_remote(struct outpost_txn *t, int64_t folder_id, const char *remote_id,
                                   const outpost_item **out);
outpost_status fb_item_find_key(struct outpost_txn *t, int64_t folder_id, const char *key,
                                const outpost_item **out);
outpost_status fb_item_set_flags(struct outpost_txn *t, int64_t id, uint32_t flags, const char *keywords,
                                 uint64_t *modseq);
outpost_status fb_item_move(struct outpost_txn *t, int64_t id, int64_t to_folder, uint32_t *new_uid);
outpost_status fb_item_delete(struct outpost_txn *t, int64_t id);
outpost_status fb_items_by_uid(struct outpost_txn *t, int64_t folder_id, uint32_t lo, uint32_t hi,
                               struct outpost_cursor **out);
outpost_status fb_items_changed_since(struct outpost_txn *t, int64_t folder_id, uint64_t since,
                                      struct outpost_cursor **out);
outpost_status fb_expunged_since(struct outpost_txn *t, int64_t folder_id, uint64_t since,
                                 struct outpost_cursor **out);
outpost_status fb_items_missing_content(struct outpost_txn *t, int64_t folder_id, struct outpost_cursor **out);
outpost_status fb_items_uid_flags(struct outpost_txn *t, int64_t folder_id, uint32_t lo, uint32_t hi,
                                  struct outpost_cursor **out);
outpost_status fb_prop_set(struct outpost_txn *t, int64_t item_id, const char *name, const void *val,
                           size_t len);
outpost_status fb_prop_get(struct outpost_txn *t, int64_t item_id, const char *name, const void **val,
                           size_t *len);
/* Loads what a change needs to know about an item: OK, GONE or an engine error. */
struct fb_item_state {
    int64_t folder_id;
    uint32_t uid, flags, kind, content_state, big_mask;
    uint64_t modseq;
    char *keywords; /* malloc'd, NULL when none */
};
outpost_status fb_item_state(struct outpost_txn *t, int64_t id, struct fb_item_state *is);

outpost_status fb_content_write(struct outpost_txn *t, int64_t item_id, uint64_t offset, const void *data,
                                size_t len);
outpost_status fb_content_finish(struct outpost_txn *t, int64_t item_id, uint32_t state);
outpost_status fb_content_read(struct outpost_txn *t, int64_t item_id, uint64_t offset, void *buf,
                               size_t len, size_t *got);
outpost_status fb_content_drop(struct outpost_txn *t, int64_t item_id);
outpost_status fb_content_remove(struct outpost_txn *t, int64_t item_id);

outpost_status fb_journal_append(struct outpost_txn *t, outpost_journal_entry *e);
outpost_status fb_journal_pending(struct outpost_txn *t, uint32_t limit, struct outpost_cursor **out);
outpost_status fb_journal_list(struct outpost_txn *t, int64_t after_seq, struct outpost_cursor **out);
outpost_status fb_journal_set_state(struct outpost_txn *t, int64_t seq, uint32_t state,
                                    const char *result_remote_id, const char *message);
outpost_status fb_journal_count(struct outpost_txn *t, uint32_t state, uint64_t *n);
outpost_status fb_journal_prune(struct outpost_txn *t, int64_t before_ms, uint64_t *removed);
/* 0, or -1 when the payload cannot be read (s->status). */
int fb_fill_journal(const struct fb_stmt *st, outpost_journal_entry *e, struct fb_buf *b,
                    struct outpost_storage *s);

/* ---- fb_uidsnap.c ---- */
/* items_uid_flags from the folder's packed snapshot plus the changes since:
 * OK with *out set, or OK with *out NULL when the folder has no snapshot
 * (the caller lists item_flags row by row). */
outpost_status fb_uidsnap_list(struct outpost_txn *t, int64_t folder_id, uint32_t lo, uint32_t hi,
                               struct outpost_cursor **out);
/* Notes a change to a folder (from fb_folder_bump). */
void fb_uidsnap_touch(struct outpost_txn *t, int64_t folder_id, uint64_t modseq, int64_t uidnext);
/* At commit: rewrites the snapshots of changed folders that fell far behind. 0 or -1 (s->status). */
int fb_uidsnap_refresh(struct outpost_txn *t);
/* Integrity: does every snapshot, with the changes since, equal item_flags?
 * 0 yes, 1 no (*bad_folder), -1 error (s->status). In the current transaction. */
int fb_uidsnap_verify(struct outpost_storage *s, int64_t *bad_folder);
/* Keywords of a ROW_UF_MEM row kept in the item's overflow value. */
outpost_status fb_uf_big_keywords(struct outpost_cursor *c, outpost_uid_flags *u);

/* ---- fb_fts.c ---- */
outpost_status fb_fts_search(struct outpost_txn *t, int64_t folder_id, const char *query,
                             struct outpost_cursor **out);
outpost_status fb_fts_index(struct outpost_txn *t, uint32_t max_items, uint32_t *indexed,
                            uint64_t *remaining);

#endif /* OUTPOST_FB_INTERNAL_H */
