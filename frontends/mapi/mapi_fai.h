/* frontends/mapi/mapi_fai.h — folder associated information (FAI): the
 * hidden messages Outlook keeps in a folder's associated contents table
 * (view definitions, the category list, rules, quick steps, navigation
 * shortcuts).
 *
 * FAI messages are Outlook's own settings and exist only in the local cache,
 * as in KOFF: they are not items of the item model, so IMAP, `outpost
 * status`, folder counters, normal contents tables and the sync engine never
 * see them. Each folder's FAI messages are kept together as one account-level
 * meta value of the cache (store API meta_set: local-only, no journal entry,
 * one write transaction), so a save or delete of FAI in a folder is atomic.
 *
 *   key   "mapi.fai.<folder id>.<uidvalidity>" for a folder of the cache;
 *         "mapi.fai.v<n>" for MAPI's virtual folders (root, IPM subtree,
 *         finder, views, common views). A folder's UIDVALIDITY never
 *         changes and is never given to another folder, so a folder deleted
 *         by IMAP or the server leaves a set no folder can see (and a new
 *         folder that gets the old id never inherits it); the index below
 *         lets the front-end drop such sets when the hierarchy changes.
 *   value u32 "FAI1" magic, u32 next number, u32 n, then n messages, each
 *         u32 number, `props` (the message's properties), u32 recipients +
 *         that many `props`, u32 attachments + that many (u32 PR_ATTACH_NUM,
 *         `props`); `props` as in PROTOCOL.md.
 *   index "mapi.fai": the keys of every set, one a line.
 *
 * An FAI message's entry id is kind MAPI_EID_ASSOC with id = folder part
 * << 24 | number, the folder part being the folder id << 3 (real folders)
 * or the MAPI_VF_* number (virtual folders), so the folder is known from the
 * entry id alone. Numbers are per folder, never reused within a set, 1 to
 * MAPI_FAI_NUM_MAX.
 *
 * The codec functions are pure; the storage functions call the host's store
 * API and must be serialised by the caller for one set (mapi_core.fai_lock),
 * as they read, change and rewrite it.
 */
#ifndef OUTPOST_MAPI_FAI_H
#define OUTPOST_MAPI_FAI_H

#include <outpost/frontend.h>

#include "mapi_map.h"
#include "mapi_wire.h"

#define MAPI_FAI_INDEX_KEY "mapi.fai"
#define MAPI_FAI_NUM_MAX 0xFFFFFFu
#define MAPI_FAI_SET_MAX (32u << 20) /* bytes of one folder's set */
#define MAPI_FAI_KEY_MAX 64

/* Where a set lives: a virtual folder (vf != 0) or a folder of the cache. */
typedef struct mapi_fai_where {
    uint32_t vf;          /* MAPI_VF_*, 0 for a real folder */
    int64_t folder;       /* real folder: its id */
    uint32_t uidvalidity; /* real folder: its UIDVALIDITY */
} mapi_fai_where;

typedef struct mapi_fai_msg {
    uint32_t num;
    mapi_message msg;
} mapi_fai_msg;

/* One folder's FAI messages. */
typedef struct mapi_fai_set {
    uint32_t next; /* next number to give */
    uint32_t n;
    mapi_fai_msg *v;
} mapi_fai_set;

void mapi_fai_key(const mapi_fai_where *w, char out[MAPI_FAI_KEY_MAX]);
/* 0 when key is a set's key (fills *w), -1 otherwise. */
int mapi_fai_key_parse(const char *key, mapi_fai_where *w);

/* The entry id's id of message num in w; 0 when it cannot be represented
 * (folder id >= 2^36 or num out of range). */
int64_t mapi_fai_eid_id(const mapi_fai_where *w, uint32_t num);
/* Splits an entry id's id: *vf (0 for a real folder), *folder, *num. 0 or -1. */
int mapi_fai_eid_split(int64_t id, uint32_t *vf, int64_t *folder, uint32_t *num);

void mapi_fai_set_init(mapi_fai_set *s);
void mapi_fai_set_free(mapi_fai_set *s);
/* Decodes a stored set into an empty *s. 0, or -1 (s left empty) when the
 * value is not a set. */
int mapi_fai_decode(const void *p, size_t len, mapi_fai_set *s);
/* Appends the stored form of s to out (check out->oom). */
void mapi_fai_encode(const mapi_fai_set *s, mapi_buf *out);
/* The number of messages a stored value holds, from its header only; 0 when
 * it is not a set. */
uint32_t mapi_fai_count(const void *p, size_t len);
/* Bytes message m takes in the stored form (PR_MESSAGE_SIZE). */
uint32_t mapi_fai_msg_size(const mapi_message *m);
mapi_fai_msg *mapi_fai_find(const mapi_fai_set *s, uint32_t num);
/* Replaces message num (or appends it) with a deep copy of m. 0 or -1. */
int mapi_fai_put(mapi_fai_set *s, uint32_t num, const mapi_message *m);
/* 1 removed, 0 absent. */
int mapi_fai_remove(mapi_fai_set *s, uint32_t num);
/* Deep copy of a message into an empty *dst. 0 or -1. */
int mapi_message_copy(mapi_message *dst, const mapi_message *src);

/* ---- in the cache, through the host's store API ---- */

/* 1 when the store API can keep FAI (meta_set, appended after ABI 1.0). */
int mapi_fai_supported(const struct outpost_host *h);
/* Reads the set of w in read transaction t into an empty *s (empty when
 * there is none). OK; BAD_DATA when the stored value is damaged; else the
 * storage's error. */
outpost_status mapi_fai_read(const struct outpost_host *h, struct outpost_txn *t, const mapi_fai_where *w,
                             mapi_fai_set *s);
/* Same, in a read transaction of its own. */
outpost_status mapi_fai_load(const struct outpost_host *h, const mapi_fai_where *w, mapi_fai_set *s);
/* Writes the set of w (an empty set deletes it) and keeps the index. Larger
 * than MAPI_FAI_SET_MAX: BAD_DATA, nothing written. GONE when w's folder no
 * longer exists once the set is written (deleted meanwhile by IMAP or the
 * server): the set is dropped again, so no set outlives its folder. */
outpost_status mapi_fai_store(const struct outpost_host *h, const mapi_fai_where *w, const mapi_fai_set *s);
/* Drops the sets of folders that no longer exist (deleted by IMAP, by the
 * server or while the front-end did not run; mapi_core_sweep runs it at start
 * and after every hierarchy change). *dropped (may be NULL) gets how many. */
outpost_status mapi_fai_sweep(const struct outpost_host *h, uint32_t *dropped);

#endif
