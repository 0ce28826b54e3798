/* outpost/storage.h — the storage plugin method table.
 *
 * A storage plugin keeps one cache (one account): folders, items, content,
 * per-folder sync state, expunge tombstones, a per-item property bag and the
 * journal of local edits. The ABI is semantic — no SQL crosses it — so each
 * engine (SQLite, Firebird, ...) chooses its own schema and queries.
 *
 * LIFECYCLE: create(host) reads the [storage] section (no I/O) → open() does
 * the I/O (creates the schema on first open, migrates forward) → begin/commit
 * transactions → close() → destroy(). The core has already checked the cache
 * directory (network file systems refused) before open().
 *
 * TRANSACTIONS: every data call takes a transaction. Write transactions are
 * serialised by the core (at most one at a time per cache); read transactions
 * may run concurrently with a writer only on separate instances of a storage
 * that declares OUTPOST_STORAGE_CAP_CONCURRENT_READERS. A transaction is used
 * by one thread. A write that commit() reports as OK must survive a process
 * crash (and, with durability=full, power loss). If any call inside a write
 * transaction fails, the caller must roll back; commit() after a failure
 * returns that failure and rolls back. A GONE answer from a lookup (get,
 * find) and a BAD_DATA from argument checks made before anything changed are
 * answers, not failures: they leave the transaction usable. An instance has
 * at most one transaction open at a time (begin() while one is open returns
 * BAD_DATA); write methods called on a read transaction return BAD_DATA.
 *
 * CURSORS: listings return a cursor; next() hands out one row at a time, owned
 * by the cursor and valid until the next next()/close(). A cursor must be
 * closed before its transaction ends. Row types are named per listing.
 *
 * UIDS AND MODSEQS: each folder has a UIDVALIDITY fixed at creation, UIDs that
 * only grow and are never reused (a moved item gets a new UID in the target),
 * and a MODSEQ that only grows: every change to an item (put, flags, move in,
 * content update) gives it modseq = ++folder.highest_modseq, and every
 * expunge (delete, move out) leaves a tombstone (uid, modseq) for QRESYNC.
 * A folder starts with uidnext 1 and highest_modseq 1; its first item gets
 * UID 1 and MODSEQ 2. Content writes (content_write/finish/drop) and
 * item_update of REMOTE or CONTENT_STATE do not change MODSEQ: an item's
 * content is byte-identical once served; a change a client must see comes
 * with item_update(OUTPOST_ITEM_F_SUMMARY), which does.
 *
 * IDS: folder and item ids are positive and never given again in a cache, not
 * even the newest one's after it was deleted (a journal entry, a front-end's
 * entry id or a client's shortcut may still name a deleted object; it must
 * find nothing rather than a newer one). A rolled-back creation's id may come
 * again. A moved item keeps its id.
 *
 * COUNTERS: folder total / unread (not SEEN) / flagged are exact after every
 * call, inside the same transaction.
 *
 * ERRORS: OUTPOST_GONE for a missing object, OUTPOST_BAD_DATA for invalid
 * arguments, OUTPOST_TEMP for a busy lock, OUTPOST_FATAL for I/O failure
 * (including a full disk: the transaction is rolled back and nothing committed
 * is lost; its message contains "disk full", and the instance works again
 * once space is freed). Messages are owned by the instance, valid until its
 * next call.
 */
#ifndef OUTPOST_STORAGE_H
#define OUTPOST_STORAGE_H

#include "abi.h"
#include "item.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Capability flags (struct outpost_plugin.caps). */
#define OUTPOST_STORAGE_CAP_CONCURRENT_READERS (1ull << 0) /* readers on other instances run beside a writer */
#define OUTPOST_STORAGE_CAP_FTS (1ull << 1)                /* fts_search is implemented */
#define OUTPOST_STORAGE_CAP_MULTI_PROCESS (1ull << 2)      /* another process may open the same cache */
/* fts_search also covers every header field of a mail message whose content
 * is cached: the name and decoded value (RFC 2047 words, folded lines) of
 * each field of the message's own header, not only subject and addresses.
 * A miss is then final for IMAP SEARCH TEXT (RFC 3501 6.4.4: header or
 * body). Appended after 1.0: a caller seeing it clear keeps checking the
 * header fields itself. Implies OUTPOST_STORAGE_CAP_FTS. */
#define OUTPOST_STORAGE_CAP_FTS_ALL_HEADERS (1ull << 3)

struct outpost_storage;   /* an instance, opaque */
struct outpost_txn;       /* a transaction, opaque */
struct outpost_cursor;    /* a listing, opaque */

typedef enum outpost_txn_mode {
    OUTPOST_TXN_READ = 0,
    OUTPOST_TXN_WRITE = 1
} outpost_txn_mode;

/* Which fields folder_update / item_update change. */
enum {
    OUTPOST_FOLDER_F_NAME = 1u << 0,
    OUTPOST_FOLDER_F_PARENT = 1u << 1,
    OUTPOST_FOLDER_F_SPECIAL_USE = 1u << 2,
    OUTPOST_FOLDER_F_FLAGS = 1u << 3,
    OUTPOST_FOLDER_F_REMOTE_ID = 1u << 4
};
enum {
    OUTPOST_ITEM_F_REMOTE = 1u << 0,   /* remote_id and remote_version */
    OUTPOST_ITEM_F_SUMMARY = 1u << 1,  /* subject, from, to, cc, message_id, object_uid,
                                          envelope, bodystructure, preview, date, internal_date, size */
    OUTPOST_ITEM_F_CONTENT_STATE = 1u << 2
};

/* An expunged UID (row type of expunged_since). */
typedef struct outpost_tombstone {
    uint32_t struct_size;
    uint32_t uid;
    uint64_t modseq;
} outpost_tombstone;

/* A narrow listing row for front-ends (row type of items_uid_flags): what an
 * IMAP client caches per message, without the summary strings. */
typedef struct outpost_uid_flags {
    uint32_t struct_size;
    uint32_t uid;
    uint32_t flags;              /* OUTPOST_FLAG_* */
    uint32_t reserved0;
    uint64_t modseq;
    int64_t id;                  /* the item's local id */
    const char *keywords;        /* NULL if none */
} outpost_uid_flags;

/* ---- Journal ----------------------------------------------------------- */

typedef enum outpost_journal_op {
    OUTPOST_J_ITEM_CREATE = 1,   /* item_id created locally in folder_id (content in the cache) */
    OUTPOST_J_ITEM_UPDATE = 2,   /* item_id's content replaced locally */
    OUTPOST_J_ITEM_FLAGS = 3,    /* item_id's flags set to `flags` + `keywords` (full new set) */
    OUTPOST_J_ITEM_MOVE = 4,     /* item_id moved from folder_id to target_folder_id */
    OUTPOST_J_ITEM_COPY = 5,     /* item_id (the new copy in target_folder_id) copied from source remote_id */
    OUTPOST_J_ITEM_DELETE = 6,   /* item_id deleted (flags & OUTPOST_J_PERMANENT: not to trash) */
    OUTPOST_J_FOLDER_CREATE = 7, /* folder_id created under target_folder_id with `name` */
    OUTPOST_J_FOLDER_RENAME = 8, /* folder_id renamed to `name` / moved under target_folder_id */
    OUTPOST_J_FOLDER_DELETE = 9, /* folder_id deleted */
    OUTPOST_J_FOLDER_SUBSCRIBE = 10 /* folder_id (un)subscribed: flags & OUTPOST_FOLDER_SUBSCRIBED */
} outpost_journal_op;

#define OUTPOST_J_PERMANENT (1u << 31)

typedef enum outpost_journal_state {
    OUTPOST_JS_PENDING = 0,   /* waiting for replay */
    OUTPOST_JS_DONE = 1,      /* confirmed by the server; kept as audit until pruned */
    OUTPOST_JS_DEAD = 2,      /* rejected by the server (BAD_DATA / FATAL); never pruned */
    OUTPOST_JS_CONFLICT = 3,  /* server version kept, local copy put in Conflicts */
    OUTPOST_JS_LOCAL = 4      /* the transport cannot carry it; kept locally */
} outpost_journal_state;

/* A journal entry. On append the storage assigns `seq` (strictly increasing,
 * never reused) and sets state PENDING. `remote_id` is the object's remote id
 * at journal time (may be NULL: resolved at replay from item_id). `payload` is
 * opaque data the core attaches (e.g. the previous name, a source remote id). */
typedef struct outpost_journal_entry {
    uint32_t struct_size;
    uint32_t op;                 /* outpost_journal_op */
    int64_t seq;
    uint32_t state;              /* outpost_journal_state */
    uint32_t attempts;           /* replay attempts so far */
    int64_t item_id;
    int64_t folder_id;
    int64_t target_folder_id;
    uint32_t flags;
    uint32_t reserved0;
    const char *keywords;
    const char *name;
    const char *remote_id;
    const void *payload;
    size_t payload_len;
    int64_t created_ms;          /* wall clock, ms since epoch */
    int64_t done_ms;             /* when it left PENDING, 0 while pending */
    const char *result_remote_id;/* remote id the server gave (audit) */
    const char *message;         /* last error / dead-letter reason */
} outpost_journal_entry;

/* ---- Method table ------------------------------------------------------ */

/* All methods present in ABI 1.0 are required unless marked optional. */
struct outpost_storage_methods {
    uint32_t struct_size;

    /* --- lifecycle --- */

    /* Reads the [storage] section through host (path, durability, ...), does
     * no I/O. *out is owned by the caller and released with destroy(). On
     * failure *out is NULL and the message stays valid until the next
     * create() on the same thread. */
    outpost_status (*create)(const struct outpost_host *host, struct outpost_storage **out);
    /* Opens (creating if absent) the cache at the configured path and
     * migrates its schema forward. Refuses a newer schema with FATAL. */
    outpost_status (*open)(struct outpost_storage *s);
    /* Closes files; outstanding transactions must have ended. */
    outpost_status (*close)(struct outpost_storage *s);
    void (*destroy)(struct outpost_storage *s);

    /* --- transactions --- */

    /* Starts a transaction; *out is valid until commit() or rollback(). */
    outpost_status (*begin)(struct outpost_storage *s, uint32_t mode, struct outpost_txn **out);
    /* Commits and frees the transaction (also on failure). */
    outpost_status (*commit)(struct outpost_txn *t);
    /* Rolls back and frees the transaction. */
    void (*rollback)(struct outpost_txn *t);

    /* --- cursors --- */

    /* Next row: *row points to a struct of the listing's row type, or NULL at
     * the end (status OK). */
    outpost_status (*cursor_next)(struct outpost_cursor *c, const void **row);
    void (*cursor_close)(struct outpost_cursor *c);

    /* --- account-level key/value (core metadata, hierarchy sync state) --- */

    /* Value owned by the transaction, valid until its next call. GONE when absent. */
    outpost_status (*meta_get)(struct outpost_txn *t, const char *key, const void **val, size_t *len);
    /* val NULL deletes the key. */
    outpost_status (*meta_set)(struct outpost_txn *t, const char *key, const void *val, size_t len);

    /* --- folders --- */

    /* Creates a folder from f (kind, parent_id, name, special_use, flags,
     * remote_id); assigns id, a fresh uidvalidity, uidnext=1, modseq 1.
     * BAD_DATA if a sibling has the same name. */
    outpost_status (*folder_create)(struct outpost_txn *t, const outpost_folder *f, int64_t *out_id);
    /* Changes the fields in `fields` (OUTPOST_FOLDER_F_*) from f. */
    outpost_status (*folder_update)(struct outpost_txn *t, int64_t id, const outpost_folder *f, uint32_t fields);
    /* Deletes the folder, its items, content, properties and sync state.
     * BAD_DATA if it still has child folders. */
    outpost_status (*folder_delete)(struct outpost_txn *t, int64_t id);
    /* *out owned by the transaction, valid until its next call. GONE if absent. */
    outpost_status (*folder_get)(struct outpost_txn *t, int64_t id, const outpost_folder **out);
    outpost_status (*folder_find_remote)(struct outpost_txn *t, const char *remote_id, const outpost_folder **out);
    /* Every folder, parents before children. Row type: outpost_folder. */
    outpost_status (*folder_list)(struct outpost_txn *t, struct outpost_cursor **out);
    /* Replaces the folder's opaque sync state (NULL clears it). */
    outpost_status (*folder_set_sync_state)(struct outpost_txn *t, int64_t id, const void *state, size_t len);

    /* --- items --- */

    /* Inserts a new item (metadata + summary) into it->folder_id; assigns and
     * writes back it->id, it->uid and it->modseq. content_state starts as given
     * (content is written separately with content_write). it->kind must equal
     * the folder's kind (else BAD_DATA); GONE if the folder does not exist. */
    outpost_status (*item_put)(struct outpost_txn *t, outpost_item *it);
    /* Updates the field groups in `fields` (OUTPOST_ITEM_F_*); bumps modseq
     * when the summary changes. */
    outpost_status (*item_update)(struct outpost_txn *t, const outpost_item *it, uint32_t fields);
    /* *out owned by the transaction, valid until its next call. GONE if absent. */
    outpost_status (*item_get)(struct outpost_txn *t, int64_t id, const outpost_item **out);
    /* Finds by remote id in a folder (folder_id 0: any folder). GONE if absent. */
    outpost_status (*item_find_remote)(struct outpost_txn *t, int64_t folder_id, const char *remote_id,
                                       const outpost_item **out);
    /* Finds by Message-ID (mail) or object UID (other kinds) in a folder
     * (folder_id 0: any folder); used to recognise a create that reached the
     * server before a crash. GONE if absent. */
    outpost_status (*item_find_key)(struct outpost_txn *t, int64_t folder_id, const char *key,
                                    const outpost_item **out);
    /* Sets flags and keywords (full new set); *modseq gets the new MODSEQ
     * (unchanged when nothing changed). */
    outpost_status (*item_set_flags)(struct outpost_txn *t, int64_t id, uint32_t flags, const char *keywords,
                                     uint64_t *modseq);
    /* Moves an item to another folder: new UID and MODSEQ there, tombstone in
     * the source. Keeps id, content and properties. *new_uid may be NULL.
     * to_folder may be the item's own folder (a new UID, as IMAP MOVE into the
     * same mailbox); BAD_DATA if its kind differs from the item's. */
    outpost_status (*item_move)(struct outpost_txn *t, int64_t id, int64_t to_folder, uint32_t *new_uid);
    /* Deletes the item, its content and properties; leaves a tombstone. */
    outpost_status (*item_delete)(struct outpost_txn *t, int64_t id);

    /* Items of a folder with lo <= uid <= hi (hi 0 = no upper bound), by UID.
     * Row type: outpost_item. */
    outpost_status (*items_by_uid)(struct outpost_txn *t, int64_t folder_id, uint32_t lo, uint32_t hi,
                                   struct outpost_cursor **out);
    /* Items of a folder with modseq > since, by UID. Row type: outpost_item. */
    outpost_status (*items_changed_since)(struct outpost_txn *t, int64_t folder_id, uint64_t since,
                                          struct outpost_cursor **out);
    /* Tombstones of a folder with modseq > since, by UID. Row type: outpost_tombstone. */
    outpost_status (*expunged_since)(struct outpost_txn *t, int64_t folder_id, uint64_t since,
                                     struct outpost_cursor **out);
    /* Items whose content_state is not COMPLETE (folder_id 0: all folders),
     * by folder then UID. Row type: outpost_item. */
    outpost_status (*items_missing_content)(struct outpost_txn *t, int64_t folder_id,
                                            struct outpost_cursor **out);

    /* --- content (chunked) --- */

    /* Writes len bytes at offset; offset 0 discards previous content. Chunks
     * are written in order. Large content never needs to be in memory whole. */
    outpost_status (*content_write)(struct outpost_txn *t, int64_t item_id, uint64_t offset,
                                    const void *data, size_t len);
    /* Marks the content written so far as the item's content in `state`
     * (COMPLETE; or SUMMARY after content_drop, when what was written since is
     * a prefix kept of the content, e.g. a mail's header block) and records
     * cached_size. */
    outpost_status (*content_finish)(struct outpost_txn *t, int64_t item_id, uint32_t state);
    /* Reads up to len bytes at offset into buf; *got = bytes read (0 at end). */
    outpost_status (*content_read)(struct outpost_txn *t, int64_t item_id, uint64_t offset,
                                   void *buf, size_t len, size_t *got);
    /* Drops cached content (keeps summary); content_state becomes SUMMARY. */
    outpost_status (*content_drop)(struct outpost_txn *t, int64_t item_id);

    /* --- per-item property bag (front-end data the model does not cover) --- */

    /* val NULL deletes. Names are UTF-8, at most 255 bytes. */
    outpost_status (*prop_set)(struct outpost_txn *t, int64_t item_id, const char *name,
                               const void *val, size_t len);
    /* *val owned by the transaction, valid until its next call. GONE if absent. */
    outpost_status (*prop_get)(struct outpost_txn *t, int64_t item_id, const char *name,
                               const void **val, size_t *len);

    /* --- journal --- */

    /* Appends e in the same transaction as the change it records; assigns
     * and writes back e->seq, state PENDING, attempts 0, done_ms 0, and
     * created_ms = host now_ms() when the caller left it 0. */
    outpost_status (*journal_append)(struct outpost_txn *t, outpost_journal_entry *e);
    /* Oldest pending entries first, at most `limit` (0 = all). Row type:
     * outpost_journal_entry. */
    outpost_status (*journal_pending)(struct outpost_txn *t, uint32_t limit, struct outpost_cursor **out);
    /* Every entry with seq > after_seq, any state (audit). Row type: outpost_journal_entry. */
    outpost_status (*journal_list)(struct outpost_txn *t, int64_t after_seq, struct outpost_cursor **out);
    /* Records the outcome of a replay: state, result remote id (may be NULL),
     * message (may be NULL), attempts+1, done_ms = now when state != PENDING. */
    outpost_status (*journal_set_state)(struct outpost_txn *t, int64_t seq, uint32_t state,
                                        const char *result_remote_id, const char *message);
    /* Number of entries in `state`. */
    outpost_status (*journal_count)(struct outpost_txn *t, uint32_t state, uint64_t *n);
    /* Deletes DONE entries with done_ms < before_ms (never PENDING, DEAD, CONFLICT or LOCAL). */
    outpost_status (*journal_prune)(struct outpost_txn *t, int64_t before_ms, uint64_t *removed);

    /* --- maintenance --- */

    /* Checks the whole cache (engine integrity + counters). OK or FATAL with
     * the first problem in the message. Called outside any transaction. */
    outpost_status (*integrity_check)(struct outpost_storage *s);

    /* --- optional (check OUTPOST_HAS_METHOD and OUTPOST_STORAGE_CAP_FTS) --- */

    /* Full-text search over subject, addresses and body text of a folder's
     * items (folder_id 0: all), and every header field of mail with cached
     * content when the plugin declares OUTPOST_STORAGE_CAP_FTS_ALL_HEADERS. `query` is a list of whitespace-separated
     * words that must all match. A word matches a word of the text that
     * contains it, ignoring case and diacritics ("meet" finds "Meeting",
     * "arbour" finds "harbour", "resum" finds "Résumé"), so that an IMAP
     * SEARCH BODY/TEXT substring (RFC 3501 6.4.4) within a word can trust
     * the index's misses. A plugin may match more (a query word made of
     * several tokens may match them in different words), never less. The body text
     * of mail is that of its text/plain and text/html parts (charset and
     * transfer encoding decoded, tags dropped); of other kinds, the content.
     * Items not yet indexed are indexed first (a read transaction indexes
     * them privately, without writing): a search never misses an item.
     * BAD_DATA when the query has no word. Row type: outpost_item, by
     * folder then UID. */
    outpost_status (*fts_search)(struct outpost_txn *t, int64_t folder_id, const char *query,
                                 struct outpost_cursor **out);

    /* --- optional, appended in 1.0 while the first plugin was written --- */

    /* Like items_by_uid, but only UID, flags, MODSEQ, id and keywords: the
     * listing an IMAP front-end copies for a whole folder. Row type:
     * outpost_uid_flags. A caller may fall back to items_by_uid. */
    outpost_status (*items_uid_flags)(struct outpost_txn *t, int64_t folder_id, uint32_t lo, uint32_t hi,
                                      struct outpost_cursor **out);
    /* Idle-time full-text indexing (write transaction): indexes up to
     * max_items items not yet indexed (0 = all of them). *indexed (may be
     * NULL) gets how many were indexed, *remaining (may be NULL) how many are
     * still waiting. Storages that index at write time report 0 and 0. */
    outpost_status (*fts_index)(struct outpost_txn *t, uint32_t max_items, uint32_t *indexed,
                                uint64_t *remaining);
};

/* Size of the 1.0 table: smaller tables are refused by the loader. */
#define OUTPOST_STORAGE_METHODS_V1_0_SIZE offsetof(struct outpost_storage_methods, fts_search)

#ifdef __cplusplus
}
#endif
#endif /* OUTPOST_STORAGE_H */
