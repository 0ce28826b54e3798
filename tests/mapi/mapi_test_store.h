/* tests/mapi/mapi_test_store.h — a real cache for the MAPI front-end's tests:
 * the SQLite storage plugin opened through the core (outpost_app_open_storage,
 * outpost_store_new) in a fresh directory, and a [mapi] host bound to the
 * core's journaled store API, as outpostd hands it to the plugin.
 *
 * Seeding: folders are made as the sync engine makes server folders (a core
 * write transaction, no journal entry); items go through the store API's
 * append (the core computes the summary and journals a create). Assertions
 * read the cache and the journal through the storage's read methods.
 */
#ifndef OUTPOST_TESTS_MAPI_TEST_STORE_H
#define OUTPOST_TESTS_MAPI_TEST_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <outpost/frontend.h>

#include "app.h"

typedef struct mts {
    char dir[256];
    int own_dir;               /* made by mts_open: removed by mts_close */
    struct outpost_app app;
    struct outpost_open_storage os;
    struct outpost_store *store;
    struct outpost_host *host; /* the front-end's host ([mapi] section) */
    const struct outpost_store_api *api;
    const struct outpost_storage_methods *m;
} mts;

/* Opens a cache. dir NULL: a new directory under /tmp (removed by
 * mts_close); else that directory (kept). plugin_dir: where
 * outpost-storage-sqlite is. 0 or -1 with err. */
int mts_open(mts *e, const char *dir, const char *plugin_dir, char *err, size_t errlen);
void mts_close(mts *e);
/* Sets a [mapi] key the host's config_get answers. */
void mts_set_config(mts *e, const char *key, const char *value);

/* A server folder (parent 0: top level) as the sync engine creates it. */
int64_t mts_folder(mts *e, int64_t parent, const char *name, uint32_t kind, uint32_t special);
/* An item through the store API's append; 0 on failure. */
int64_t mts_item(mts *e, int64_t folder, const char *content, uint32_t flags, int64_t internal_date_ms);

/* Flags / folder of an item; -1 when it is gone. */
int mts_item_state(mts *e, int64_t id, uint32_t *flags, int64_t *folder);
/* The item's content (malloc'd, NUL-terminated) or NULL. */
char *mts_item_content(mts *e, int64_t id);
/* Journal entries with op (0: all). */
uint32_t mts_journal_count(mts *e, uint32_t op);
/* The op of the last journal entry (0 when empty). */
uint32_t mts_journal_last_op(mts *e);

/* Gives item id a remote id, as the sync engine does once the server has it
 * (a core write transaction, no journal entry). 0 or -1. */
int mts_set_remote(mts *e, int64_t id, const char *remote_id);
/* A journal entry as the tests check it. */
typedef struct mts_jentry {
    uint32_t op, flags;
    int64_t item_id, folder_id;
    char remote_id[64];
} mts_jentry;
/* The journal entries after the first `skip` (oldest first) into out (at
 * most max); returns how many there are (may exceed max). */
uint32_t mts_journal_since(mts *e, uint32_t skip, mts_jentry *out, uint32_t max);

#endif
