/* frontends/mapi/mapi_eid.h — entry ids of the Outpost store.
 *
 * Layout (32 bytes, little-endian):
 *   0  abFlags[4]   0 (long-term ids)
 *   4  MAPIUID      the store's GUID; the provider registers it with
 *                   IMAPISupport::SetProviderUID so MAPI routes OpenEntry to us
 *  20  version      1
 *  21  kind         MAPI_EID_FOLDER, MAPI_EID_MESSAGE, MAPI_EID_VIRTUAL,
 *                   MAPI_EID_STORE, MAPI_EID_ASSOC or MAPI_EID_SEARCH
 *  22  reserved     0, 0
 *  24  id           int64: the local folder/item id, a MAPI_VF_* number, or
 *                   for an associated (FAI) message its folder and number
 *                   (mapi_fai.h), for a search folder its number
 * The store GUID is made once per cache and kept in the data directory; item
 * and folder ids are the storage's local ids, which never change (a move
 * keeps the item's id), so entry ids are stable across restarts and resyncs.
 */
#ifndef OUTPOST_MAPI_EID_H
#define OUTPOST_MAPI_EID_H

#include <stddef.h>
#include <stdint.h>

#define MAPI_EID_LEN 32u
#define MAPI_EID_VERSION 1u

enum mapi_eid_kind {
    MAPI_EID_FOLDER = 1,
    MAPI_EID_MESSAGE = 2,
    MAPI_EID_VIRTUAL = 3, /* folders that exist only for MAPI */
    MAPI_EID_STORE = 4,
    MAPI_EID_ASSOC = 5,   /* a folder associated (FAI) message, kept only locally */
    MAPI_EID_SEARCH = 6   /* a search folder (mapi_search.h), kept only locally; id: its number */
};

/* Virtual folders: MAPI's root and the special non-IPM folders. */
enum mapi_virtual_folder {
    MAPI_VF_ROOT = 1,        /* the store's root folder */
    MAPI_VF_IPM_SUBTREE = 2, /* "Top of Information Store": our folders live here */
    MAPI_VF_FINDER = 3,      /* search folders */
    MAPI_VF_VIEWS = 4,
    MAPI_VF_COMMON_VIEWS = 5,
    MAPI_VF_COUNT = 6
};

typedef struct mapi_eid {
    uint8_t guid[16];
    uint32_t kind;
    int64_t id;
} mapi_eid;

void mapi_eid_encode(const mapi_eid *e, uint8_t out[MAPI_EID_LEN]);
/* 0 when `p` is one of our entry ids (any store GUID), -1 otherwise. */
int mapi_eid_decode(const uint8_t *p, size_t len, mapi_eid *e);
/* 0 when p is an entry id of the store `guid`. */
int mapi_eid_decode_for(const uint8_t *p, size_t len, const uint8_t guid[16], mapi_eid *e);

#endif
