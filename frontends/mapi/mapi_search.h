/* frontends/mapi/mapi_search.h — search folders: the folders Outlook makes
 * in the store's search root (PR_FINDER_ENTRYID, "Finder") for Reminders,
 * To-Do and its own searches (CreateFolder(FOLDER_SEARCH)). A search folder
 * holds no messages of its own: SetSearchCriteria gives it a restriction and
 * the folders to search (recursively or not), and its contents table lists
 * the messages of those folders that match, evaluated by mapi_restrict.c
 * when the table is read.
 *
 * As in KOFF, search folders are Outlook's own and exist only in the local
 * cache: never journaled, never sent to the server. All of a store's search
 * folders are one account-level meta value (store API meta_set: local-only,
 * one write transaction):
 *
 *   key   "mapi.search"
 *   value u32 "OPS1" magic, u32 next number, u32 n, then n folders, each
 *         u32 number, str name, str container class, u32 search flags (as
 *         SetSearchCriteria last gave them), u32 search state (SEARCH_*),
 *         u8 has restriction + [restriction], u32 folders + that many
 *         (u32 entry-id kind, u64 id); encodings as in PROTOCOL.md.
 *
 * A search folder's entry id is kind MAPI_EID_SEARCH with its number as id.
 * Numbers are never reused within a store (next only grows).
 *
 * The codec functions are pure; load/store call the host's store API and a
 * change (load, edit, store) must be serialised by the caller
 * (mapi_core.search_lock).
 */
#ifndef OUTPOST_MAPI_SEARCH_H
#define OUTPOST_MAPI_SEARCH_H

#include <outpost/frontend.h>

#include "mapi_prop.h"
#include "mapi_restrict.h"

#define MAPI_SEARCH_KEY "mapi.search"
#define MAPI_SEARCH_MAX_FOLDERS 4096u /* search folders of a store */
#define MAPI_SEARCH_MAX_SCOPE 4096u   /* folders one search names */

typedef struct mapi_search_scope {
    uint32_t kind; /* MAPI_EID_FOLDER or MAPI_EID_VIRTUAL (the IPM subtree) */
    int64_t id;
} mapi_search_scope;

typedef struct mapi_search_folder {
    uint32_t num;
    char *name;
    char *cls;               /* PR_CONTAINER_CLASS, "" for none */
    uint32_t flags;          /* RECURSIVE_SEARCH / SHALLOW_SEARCH as last set */
    uint32_t state;          /* SEARCH_RUNNING, SEARCH_RECURSIVE; 0 before any criteria */
    int has_criteria;        /* SetSearchCriteria was called */
    mapi_res *res;           /* NULL: every message matches */
    mapi_search_scope *scope;
    uint32_t nscope;
} mapi_search_folder;

typedef struct mapi_search_set {
    uint32_t next;           /* the next number to give */
    uint32_t n;
    mapi_search_folder *v;
} mapi_search_set;

void mapi_search_set_init(mapi_search_set *s);
void mapi_search_set_free(mapi_search_set *s);
/* The folder numbered num, or NULL. */
mapi_search_folder *mapi_search_find(mapi_search_set *s, uint32_t num);
/* The folder named name (exact), or NULL. */
mapi_search_folder *mapi_search_find_name(mapi_search_set *s, const char *name);
/* Adds a folder with the next number (*out it, owned by the set). 0, or -1
 * when out of memory or full. */
int mapi_search_add(mapi_search_set *s, const char *name, const char *cls, mapi_search_folder **out);
/* Removes folder num; 0, or -1 when there is none. */
int mapi_search_remove(mapi_search_set *s, uint32_t num);

void mapi_search_encode(const mapi_search_set *s, mapi_buf *out);
/* 0, or -1 when the value is damaged (s then empty). */
int mapi_search_decode(const void *p, size_t len, mapi_search_set *s);

/* Reads the set (empty when there is none); BAD_DATA when damaged. */
outpost_status mapi_search_load(const struct outpost_host *h, mapi_search_set *s);
/* Writes the set (an empty one deletes the value). */
outpost_status mapi_search_store(const struct outpost_host *h, const mapi_search_set *s);

#endif
