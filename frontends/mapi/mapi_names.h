/* frontends/mapi/mapi_names.h — named properties: (property set GUID, LID or
 * name) <-> property id 0x8000..0xFFFE, one map per store.
 *
 * The map is persisted before an id is handed out, so an id never changes
 * meaning across restarts: in the cache's meta through the store API
 * (mapi_names_open_text, outpostd), or as an append-only text file
 * (mapi_names_open; older caches and stores without meta_set). Names in PS_MAPI
 * with a LID below 0x8000 are the ordinary property of that id.
 *
 * Not thread-safe: the front-end calls it under its instance lock.
 */
#ifndef OUTPOST_MAPI_NAMES_H
#define OUTPOST_MAPI_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "mapi_wire.h"

/* Property sets (GUID bytes as they appear in memory on Windows). */
extern const uint8_t MAPI_PSETID_APPOINTMENT[16];
extern const uint8_t MAPI_PSETID_TASK[16];
extern const uint8_t MAPI_PSETID_ADDRESS[16];
extern const uint8_t MAPI_PSETID_COMMON[16];
extern const uint8_t MAPI_PSETID_NOTE[16];
extern const uint8_t MAPI_PS_PUBLIC_STRINGS[16];
extern const uint8_t MAPI_PS_MAPI[16];
extern const uint8_t MAPI_PS_INTERNET_HEADERS[16];

#define MAPI_NAMED_FIRST 0x8000u
#define MAPI_NAMED_LAST 0xFFFEu

typedef struct mapi_names mapi_names;

/* Opens (creating) the map file at path; path NULL keeps the map in memory
 * (tests). NULL with err on failure. */
mapi_names *mapi_names_open(const char *path, char *err, size_t errlen);
/* A map kept by the caller (outpostd keeps it in the cache's meta, key
 * "mapi.names"): text/len as mapi_names_text gave it (NULL: a new map).
 * Before a new id is handed out, save(ctx, whole map as text) is called;
 * non-zero refuses the id. */
typedef int (*mapi_names_save_fn)(void *ctx, const char *text, size_t len);
mapi_names *mapi_names_open_text(const char *text, size_t len, mapi_names_save_fn save, void *ctx, char *err,
                                 size_t errlen);
/* The map as text (one line per name, the file format); malloc'd. */
char *mapi_names_text(const mapi_names *m, size_t *len);
void mapi_names_close(mapi_names *m);

/* The property id of a name: 0 and *id, or -1 when unknown and !create, or
 * when the map is full or cannot be written. */
int mapi_names_id(mapi_names *m, const mapi_name *n, int create, uint16_t *id);
/* Convenience for LID names. */
int mapi_names_lid(mapi_names *m, const uint8_t guid[16], uint32_t lid, uint16_t *id);
int mapi_names_string(mapi_names *m, const uint8_t guid[16], const char *name, uint16_t *id);
/* The name of an id (owned by the map), or NULL. */
const mapi_name *mapi_names_get(const mapi_names *m, uint16_t id);
/* Number of names and the id of the i-th (for GetNamesFromIDs with no ids). */
uint32_t mapi_names_count(const mapi_names *m);
uint16_t mapi_names_id_at(const mapi_names *m, uint32_t i);

#endif
