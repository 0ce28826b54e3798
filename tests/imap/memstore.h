/* tests/imap/memstore.h — an in-memory cache behind the front-end store API,
 * for the IMAP tests until core/store.c and the SQLite storage land. It
 * keeps the contracts of storage.h that the front-end relies on (UIDs that
 * only grow, MODSEQ per change, tombstones, counters, notifications after
 * commit) and writes every journal entry as one line to a log file so tests
 * can check what would be replayed to the server.
 */
#ifndef OUTPOST_TESTS_MEMSTORE_H
#define OUTPOST_TESTS_MEMSTORE_H

#include <outpost/frontend.h>

struct memstore;

struct memstore *memstore_new(const char *journal_path);
void memstore_free(struct memstore *m);
const struct outpost_store_api *memstore_api(void);
/* The store API finds its memstore through this (one per test process). */
void memstore_set_current(struct memstore *m);

/* Seeding (not journaled, like changes from the server). */
int64_t memstore_add_folder(struct memstore *m, int64_t parent, const char *name, uint32_t kind, uint32_t special_use,
                            uint32_t flags);
/* Adds a message; summary_only: content not cached (needs request_content). */
int64_t memstore_add_message(struct memstore *m, int64_t folder, const char *mime, size_t len, uint32_t flags,
                             int64_t internal_date_ms, int summary_only);
void memstore_set_online(struct memstore *m, int online);

#endif
