/* repair.h — `outpost check --repair`: finds cached content that cannot be read back and
 * drops it, so that the next sync fetches it again from the server.
 *
 * Threading: the storage instance is used from the calling thread only. Each drop is a
 * write transaction of its own, so the scan may run beside a daemon on a cache both can open
 * (SQLite); the daemon's next sync fetches what was dropped. */
#ifndef OUTPOST_REPAIR_H
#define OUTPOST_REPAIR_H

#include <stdint.h>
#include <stdio.h>

#include <outpost/storage.h>

struct outpost_repair_result {
    uint64_t read;      /* items whose cached content was read back */
    uint64_t damaged;   /* of those, content that could not be read */
    uint64_t dropped;   /* damaged content dropped: the server has the item, the next sync refetches it */
    uint64_t kept;      /* damaged content of items only this cache has, or with a pending edit (not dropped) */
};

/* Reads the cached content (whole, or the kept header block) of every item of every folder;
 * content that fails to read is dropped when the item has a remote id and no local edit of it
 * waits in the journal, else kept and reported. Each damaged item is described on `out` (folder, UID, subject, what was done).
 * Returns OK, or the first storage error that stopped the scan (what was dropped before it
 * stays dropped: each drop commits on its own). */
outpost_status outpost_repair_content(const struct outpost_storage_methods *m, struct outpost_storage *s, FILE *out,
                                      struct outpost_repair_result *res);

#endif
