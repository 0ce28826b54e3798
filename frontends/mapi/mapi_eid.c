/* frontends/mapi/mapi_eid.c — entry id encoding (layout in mapi_eid.h). */
#include "mapi_eid.h"

#include <string.h>

void mapi_eid_encode(const mapi_eid *e, uint8_t out[MAPI_EID_LEN])
{
    memset(out, 0, MAPI_EID_LEN);
    memcpy(out + 4, e->guid, 16);
    out[20] = MAPI_EID_VERSION;
    out[21] = (uint8_t)e->kind;
    uint64_t id = (uint64_t)e->id;
    for (int i = 0; i < 8; i++)
        out[24 + i] = (uint8_t)(id >> (8 * i));
}

int mapi_eid_decode(const uint8_t *p, size_t len, mapi_eid *e)
{
    if (!p || len != MAPI_EID_LEN || p[20] != MAPI_EID_VERSION || p[22] || p[23])
        return -1;
    if (p[0] || p[1] || p[2] || p[3])
        return -1;
    uint32_t kind = p[21];
    if (kind < MAPI_EID_FOLDER || kind > MAPI_EID_SEARCH)
        return -1;
    uint64_t id = 0;
    for (int i = 0; i < 8; i++)
        id |= (uint64_t)p[24 + i] << (8 * i);
    if ((int64_t)id <= 0 && kind != MAPI_EID_STORE)
        return -1;
    if (kind == MAPI_EID_VIRTUAL && id >= MAPI_VF_COUNT)
        return -1;
    memcpy(e->guid, p + 4, 16);
    e->kind = kind;
    e->id = (int64_t)id;
    return 0;
}

int mapi_eid_decode_for(const uint8_t *p, size_t len, const uint8_t guid[16], mapi_eid *e)
{
    if (mapi_eid_decode(p, len, e) != 0 || memcmp(e->guid, guid, 16) != 0)
        return -1;
    return 0;
}
