/* frontends/mapi/win32/ms_obj.c — IMsgStore, IMAPIFolder, IMessage and
 * IAttach: one object type (ms_obj) holding a daemon handle, one set of
 * IMAPIProp methods shared by all four vtables, and the methods of each
 * interface forwarding to outpostd (PROTOCOL.md). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms.h"

static const char *const KIND_NAME[] = { "?", "IMsgStore", "IMAPIFolder", "IMessage", "IAttach" };
#define NAME(o) KIND_NAME[(o)->kind <= MS_ATTACH ? (o)->kind : 0]

static ms_conn *C(ms_obj *o) { return o->lg->conn; }

HRESULT ms_obj_new(ms_logon *lg, uint32_t kind, uint32_t h, uint32_t gen, ms_obj **out)
{
    ms_obj *o = calloc(1, sizeof *o);
    if (!o)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    static const ULONG types[] = { 0, MAPI_STORE, MAPI_FOLDER, MAPI_MESSAGE, MAPI_ATTACH };
    o->lpVtbl = kind == MS_STORE    ? (const void *)&ms_store_vtbl
                : kind == MS_FOLDER ? (const void *)&ms_folder_vtbl
                : kind == MS_MESSAGE ? (const void *)&ms_message_vtbl
                                     : (const void *)&ms_attach_vtbl;
    o->capsVtbl = &ms_caps_vtbl;
    o->refs = 1;
    o->kind = kind;
    o->lg = lg;
    lg->lpVtbl->AddRef(lg);
    o->h = h;
    o->gen = gen;
    o->objtype = types[kind];
    *out = o;
    return S_OK;
}

static HRESULT reopen_store(ms_obj *o, uint32_t *h, uint32_t *gen);

HRESULT ms_obj_handle(ms_obj *o, uint32_t *h, uint32_t *gen)
{
    if (o->h && o->gen == C(o)->gen && C(o)->s != MAPI_BAD_SOCK) {
        *h = o->h;
        *gen = o->gen;
        return S_OK;
    }
    if (o->kind != MS_STORE) {
        /* a folder or message of a connection that is gone */
        *h = o->h;
        *gen = o->gen;
        return S_OK;
    }
    /* The store object outlives connections: reopen it on the new one
     * (once, when several Outlook threads find it closed at the same time). */
    EnterCriticalSection(&o->lg->store_lock);
    HRESULT hr = S_OK;
    if (o->h && o->gen == C(o)->gen && C(o)->s != MAPI_BAD_SOCK) {
        *h = o->h;
        *gen = o->gen;
    } else {
        hr = reopen_store(o, h, gen);
    }
    LeaveCriticalSection(&o->lg->store_lock);
    return hr;
}

static HRESULT reopen_store(ms_obj *o, uint32_t *h, uint32_t *gen)
{
    HRESULT hr = ms_conn_ensure(C(o));
    if (hr != S_OK)
        return hr;
    mapi_eid e = { .kind = MAPI_EID_STORE, .id = 0 };
    memcpy(e.guid, C(o)->guid, 16);
    uint8_t eid[MAPI_EID_LEN];
    mapi_eid_encode(&e, eid);
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, 0);
    mapi_w_bin(&q, eid, sizeof eid);
    uint32_t g = C(o)->gen;
    hr = ms_call(C(o), 0, MAPI_OP_OPEN_ENTRY, &q, &r);
    if (hr == S_OK) {
        mapi_rd rd;
        mapi_rd_init(&rd, r.data, r.len);
        o->h = mapi_r_u32(&rd);
        o->gen = g;
        *h = o->h;
        *gen = o->gen;
    }
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return hr;
}

/* ---- IUnknown ---- */

static ms_obj *from_caps(void *This) { return (ms_obj *)((char *)This - offsetof(ms_obj, capsVtbl)); }

static HRESULT OMAPI_CALL obj_QueryInterface(void *This, REFIID riid, LPVOID *ppv)
{
    ms_obj *o = This;
    if (!ppv)
        return MAPI_E_INVALID_PARAMETER;
    *ppv = NULL;
    int ok = IsEqualIID(riid, &IID_IUnknown) || IsEqualIID(riid, &IID_IMAPIProp);
    if (o->kind == MS_STORE)
        ok |= IsEqualIID(riid, &IID_IMsgStore);
    if (o->kind == MS_FOLDER)
        ok |= IsEqualIID(riid, &IID_IMAPIFolder) || IsEqualIID(riid, &IID_IMAPIContainer);
    if (o->kind == MS_MESSAGE)
        ok |= IsEqualIID(riid, &IID_IMessage);
    if (o->kind == MS_ATTACH)
        ok |= IsEqualIID(riid, &IID_IAttachment);
    if (ok) {
        *ppv = o;
    } else if (o->kind == MS_STORE && IsEqualIID(riid, &IID_IMSCapabilities)) {
        *ppv = &o->capsVtbl;
    } else {
        return ms_ret(MAPI_E_INTERFACE_NOT_SUPPORTED, "%s::QueryInterface({%08lx-...})", NAME(o),
                      (unsigned long)riid->Data1);
    }
    InterlockedIncrement(&o->refs);
    return S_OK;
}

static ULONG OMAPI_CALL obj_AddRef(void *This) { return (ULONG)InterlockedIncrement(&((ms_obj *)This)->refs); }

static ULONG OMAPI_CALL obj_Release(void *This)
{
    ms_obj *o = This;
    LONG n = InterlockedDecrement(&o->refs);
    if (n == 0) {
        if (o->h && o->gen == C(o)->gen && C(o)->s != MAPI_BAD_SOCK) {
            mapi_buf q;
            mapi_buf_init(&q);
            mapi_w_u32(&q, o->h);
            ms_call(C(o), o->gen, MAPI_OP_RELEASE, &q, NULL);
            mapi_buf_free(&q);
        }
        MS_TRACE("%s::Release(h=%u) -> freed", NAME(o), o->h);
        if (o->kind == MS_STORE)
            ms_logon_release_store(o->lg);
        o->lg->lpVtbl->Release(o->lg);
        free(o);
    }
    return (ULONG)n;
}

/* IMSCapabilities: Outlook asks what the store can do; we claim nothing
 * beyond the support mask (no item processing, no search folders). */
static HRESULT OMAPI_CALL caps_QueryInterface(void *This, REFIID riid, LPVOID *ppv)
{
    return obj_QueryInterface(from_caps(This), riid, ppv);
}
static ULONG OMAPI_CALL caps_AddRef(void *This) { return obj_AddRef(from_caps(This)); }
static ULONG OMAPI_CALL caps_Release(void *This) { return obj_Release(from_caps(This)); }
static ULONG OMAPI_CALL caps_GetCapabilities(void *This, MSCAP_SELECTOR sel)
{
    (void)This;
    MS_TRACE("IMSCapabilities::GetCapabilities(%d) -> 0", (int)sel);
    return 0;
}
const IMSCapabilitiesVtbl ms_caps_vtbl = { caps_QueryInterface, caps_AddRef, caps_Release, caps_GetCapabilities };

/* ---- IMAPIProp ---- */

static HRESULT OMAPI_CALL obj_GetLastError(void *This, HRESULT hResult, ULONG ulFlags, LPMAPIERROR *lppMAPIError)
{
    ms_obj *o = This;
    if (!lppMAPIError)
        return MAPI_E_INVALID_PARAMETER;
    char text[320];
    if (C(o)->last_error[0])
        snprintf(text, sizeof text, "%s", C(o)->last_error);
    else
        snprintf(text, sizeof text, "%s", ms_hr_name(hResult));
    return ms_ret(ms_make_error(&o->lg->a, ulFlags, text, lppMAPIError), "%s::GetLastError(0x%08lx)", NAME(o),
                  (unsigned long)hResult);
}

static HRESULT OMAPI_CALL obj_SaveChanges(void *This, ULONG ulFlags)
{
    ms_obj *o = This;
    uint32_t h, gen;
    HRESULT hr = ms_obj_handle(o, &h, &gen);
    if (hr == S_OK && (o->kind == MS_MESSAGE || o->kind == MS_ATTACH || o->kind == MS_FOLDER)) {
        mapi_buf q;
        mapi_buf_init(&q);
        mapi_w_u32(&q, h);
        mapi_w_u32(&q, ulFlags);
        hr = ms_call(C(o), gen, MAPI_OP_SAVE_CHANGES, &q, NULL);
        mapi_buf_free(&q);
    }
    return ms_ret(hr, "%s::SaveChanges(h=%u, ulFlags=0x%lx)", NAME(o), o->h, (unsigned long)ulFlags);
}

/* Store entry ids handed to MAPI are wrapped by the support object. */
static HRESULT wrap_store_eids(ms_obj *o, SPropValue *v, ULONG n)
{
    LPMAPISUP sup = o->lg->sup;
    for (ULONG i = 0; i < n; i++) {
        ULONG id = PROP_ID(v[i].ulPropTag);
        if (PROP_TYPE(v[i].ulPropTag) != PT_BINARY)
            continue;
        if (!(id == 0x0FFB || (o->kind == MS_STORE && id == 0x0FFF)))
            continue;
        ULONG cb = 0;
        LPENTRYID w = NULL;
        if (sup->lpVtbl->WrapStoreEntryID(sup, v[i].Value.bin.cb, (LPENTRYID)v[i].Value.bin.lpb, &cb, &w) != S_OK)
            continue;
        void *copy;
        if (ms_more(&o->lg->a, cb, v, &copy) == S_OK) {
            memcpy(copy, w, cb);
            v[i].Value.bin.cb = cb;
            v[i].Value.bin.lpb = copy;
        }
        o->lg->a.free(w);
    }
    return S_OK;
}

static HRESULT OMAPI_CALL obj_GetProps(void *This, LPSPropTagArray lpPropTagArray, ULONG ulFlags, ULONG *lpcValues,
                                       LPSPropValue *lppPropArray)
{
    ms_obj *o = This;
    if (!lpcValues || !lppPropArray)
        return MAPI_E_INVALID_PARAMETER;
    *lpcValues = 0;
    *lppPropArray = NULL;
    uint32_t h, gen;
    HRESULT hr = ms_obj_handle(o, &h, &gen);
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    if (hr == S_OK) {
        mapi_w_u32(&q, h);
        mapi_w_u32(&q, ulFlags);
        ms_w_tags(&q, lpPropTagArray);
        hr = ms_call(C(o), gen, MAPI_OP_GET_PROPS, &q, &r);
    }
    if (SUCCEEDED(hr)) {
        mapi_rd rd;
        mapi_rd_init(&rd, r.data, r.len);
        mapi_props l;
        mapi_props_init(&l);
        HRESULT cv = mapi_r_props(&rd, &l) == 0 ? S_OK : MAPI_E_CALL_FAILED;
        if (cv == S_OK) {
            /* With MAPI_UNICODE unset, PT_UNSPECIFIED strings come as PT_STRING8 (the daemon sends PT_UNICODE). */
            if (!(ulFlags & MAPI_UNICODE))
                for (uint32_t i = 0; i < l.n; i++)
                    if (lpPropTagArray && i < lpPropTagArray->cValues &&
                        PROP_TYPE(lpPropTagArray->aulPropTag[i]) == PT_UNSPECIFIED &&
                        (PROP_TYPE(l.p[i].tag) & ~MV_FLAG) == PT_UNICODE)
                        l.p[i].tag = CHANGE_PROP_TYPE(l.p[i].tag, (PROP_TYPE(l.p[i].tag) & MV_FLAG) | PT_STRING8);
            cv = ms_props_to_mapi(&o->lg->a, &l, lpPropTagArray ? lpPropTagArray->aulPropTag : NULL, lpcValues,
                                  lppPropArray);
        }
        if (cv == S_OK)
            wrap_store_eids(o, *lppPropArray, *lpcValues);
        mapi_props_free(&l);
        if (cv != S_OK)
            hr = cv;
    }
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return ms_ret(hr, "%s::GetProps(h=%u, tags=%lu, ulFlags=0x%lx) values=%lu", NAME(o), o->h,
                  lpPropTagArray ? (unsigned long)lpPropTagArray->cValues : 0ul, (unsigned long)ulFlags,
                  (unsigned long)*lpcValues);
}

static HRESULT OMAPI_CALL obj_GetPropList(void *This, ULONG ulFlags, LPSPropTagArray *lppPropTagArray)
{
    ms_obj *o = This;
    if (!lppPropTagArray)
        return MAPI_E_INVALID_PARAMETER;
    uint32_t h, gen;
    HRESULT hr = ms_obj_handle(o, &h, &gen);
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    if (hr == S_OK) {
        mapi_w_u32(&q, h);
        hr = ms_call(C(o), gen, MAPI_OP_GET_PROP_LIST, &q, &r);
    }
    if (hr == S_OK) {
        mapi_rd rd;
        mapi_rd_init(&rd, r.data, r.len);
        hr = ms_tags_to_mapi(&o->lg->a, &rd, lppPropTagArray);
    }
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return ms_ret(hr, "%s::GetPropList(h=%u, ulFlags=0x%lx)", NAME(o), o->h, (unsigned long)ulFlags);
}

static HRESULT open_table_kind(ms_obj *o, uint32_t kind, ULONG flags, LPMAPITABLE *out);

static HRESULT OMAPI_CALL obj_OpenProperty(void *This, ULONG ulPropTag, LPCIID lpiid, ULONG ulInterfaceOptions,
                                           ULONG ulFlags, LPUNKNOWN *lppUnk)
{
    ms_obj *o = This;
    HRESULT hr;
    if (!lpiid || !lppUnk)
        return MAPI_E_INVALID_PARAMETER;
    *lppUnk = NULL;
    if (IsEqualIID(lpiid, &IID_IStream)) {
        hr = ms_stream_new(o, ulPropTag, (ulFlags & MAPI_MODIFY) != 0, (ulFlags & MAPI_CREATE) != 0,
                           (IStream **)lppUnk);
    } else if (IsEqualIID(lpiid, &IID_IMAPITable)) {
        /* PR_CONTAINER_HIERARCHY/CONTENTS, PR_MESSAGE_RECIPIENTS/ATTACHMENTS */
        uint32_t kind = ulPropTag == 0x360E000Du ? MAPI_TABLE_HIERARCHY
                        : ulPropTag == 0x360F000Du ? MAPI_TABLE_CONTENTS
                        : ulPropTag == 0x0E12000Du ? MAPI_TABLE_RECIPIENTS
                        : ulPropTag == 0x0E13000Du ? MAPI_TABLE_ATTACHMENTS
                                                   : 0;
        hr = kind ? open_table_kind(o, kind, ulInterfaceOptions, (LPMAPITABLE *)lppUnk) : MAPI_E_NO_SUPPORT;
    } else {
        hr = MAPI_E_INTERFACE_NOT_SUPPORTED;
    }
    return ms_ret(hr, "%s::OpenProperty(h=%u, tag=0x%08lx, iid={%08lx-...}, opts=0x%lx, ulFlags=0x%lx)", NAME(o),
                  o->h, (unsigned long)ulPropTag, (unsigned long)lpiid->Data1, (unsigned long)ulInterfaceOptions,
                  (unsigned long)ulFlags);
}

static HRESULT problems_to_mapi(ms_obj *o, mapi_rd *rd, LPSPropProblemArray *out)
{
    uint32_t n = mapi_r_u32(rd);
    if (rd->err)
        return MAPI_E_CALL_FAILED;
    if (!out || n == 0) {
        if (out)
            *out = NULL;
        return S_OK;
    }
    SPropProblemArray *pa;
    HRESULT hr = ms_alloc(&o->lg->a, offsetof(SPropProblemArray, aProblem) + n * sizeof(SPropProblem), (void **)&pa);
    if (hr != S_OK)
        return hr;
    pa->cProblem = n;
    for (uint32_t i = 0; i < n; i++) {
        pa->aProblem[i].ulIndex = mapi_r_u32(rd);
        pa->aProblem[i].ulPropTag = mapi_r_u32(rd);
        pa->aProblem[i].scode = (SCODE)mapi_r_u32(rd);
    }
    *out = pa;
    return S_OK;
}

static HRESULT OMAPI_CALL obj_SetProps(void *This, ULONG cValues, LPSPropValue lpPropArray,
                                       LPSPropProblemArray *lppProblems)
{
    ms_obj *o = This;
    if (lppProblems)
        *lppProblems = NULL;
    if (cValues && !lpPropArray)
        return MAPI_E_INVALID_PARAMETER;
    uint32_t h, gen;
    HRESULT hr = ms_obj_handle(o, &h, &gen);
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    if (hr == S_OK) {
        mapi_props l;
        mapi_props_init(&l);
        for (ULONG i = 0; i < cValues && hr == S_OK; i++) {
            mapi_prop p;
            if (ms_prop_from_mapi(&lpPropArray[i], &p) != 0) {
                /* types the wire cannot carry (PT_OBJECT) are refused per property */
                continue;
            }
            if (mapi_props_take(&l, &p) != 0)
                hr = MAPI_E_NOT_ENOUGH_MEMORY;
        }
        mapi_w_u32(&q, h);
        mapi_w_props(&q, &l);
        mapi_props_free(&l);
        if (hr == S_OK)
            hr = ms_call(C(o), gen, MAPI_OP_SET_PROPS, &q, &r);
    }
    if (hr == S_OK) {
        mapi_rd rd;
        mapi_rd_init(&rd, r.data, r.len);
        hr = problems_to_mapi(o, &rd, lppProblems);
    }
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return ms_ret(hr, "%s::SetProps(h=%u, cValues=%lu)", NAME(o), o->h, (unsigned long)cValues);
}

static HRESULT OMAPI_CALL obj_DeleteProps(void *This, LPSPropTagArray lpPropTagArray, LPSPropProblemArray *lppProblems)
{
    ms_obj *o = This;
    if (lppProblems)
        *lppProblems = NULL;
    if (!lpPropTagArray)
        return MAPI_E_INVALID_PARAMETER;
    uint32_t h, gen;
    HRESULT hr = ms_obj_handle(o, &h, &gen);
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    if (hr == S_OK) {
        mapi_w_u32(&q, h);
        ms_w_tags(&q, lpPropTagArray);
        hr = ms_call(C(o), gen, MAPI_OP_DELETE_PROPS, &q, &r);
    }
    if (hr == S_OK) {
        mapi_rd rd;
        mapi_rd_init(&rd, r.data, r.len);
        hr = problems_to_mapi(o, &rd, lppProblems);
    }
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return ms_ret(hr, "%s::DeleteProps(h=%u, tags=%lu)", NAME(o), o->h, (unsigned long)lpPropTagArray->cValues);
}

static const IID *iid_of(const ms_obj *o)
{
    return o->kind == MS_STORE ? &IID_IMsgStore
           : o->kind == MS_FOLDER ? &IID_IMAPIFolder
           : o->kind == MS_MESSAGE ? &IID_IMessage
                                   : &IID_IAttachment;
}

/* CopyTo/CopyProps: MAPI's support object does the work through our
 * GetProps/SetProps/OpenProperty. */
static HRESULT OMAPI_CALL obj_CopyTo(void *This, ULONG ciidExclude, LPCIID rgiidExclude, LPSPropTagArray lpExcludeProps,
                                     ULONG_PTR ulUIParam, LPMAPIPROGRESS lpProgress, LPCIID lpInterface,
                                     LPVOID lpDestObj, ULONG ulFlags, LPSPropProblemArray *lppProblems)
{
    ms_obj *o = This;
    LPMAPISUP sup = o->lg->sup;
    HRESULT hr = sup->lpVtbl->DoCopyTo(sup, iid_of(o), o, ciidExclude, rgiidExclude, lpExcludeProps, ulUIParam,
                                       lpProgress, lpInterface, lpDestObj, ulFlags, lppProblems);
    return ms_ret(hr, "%s::CopyTo(h=%u, ulFlags=0x%lx)", NAME(o), o->h, (unsigned long)ulFlags);
}

static HRESULT OMAPI_CALL obj_CopyProps(void *This, LPSPropTagArray lpIncludeProps, ULONG_PTR ulUIParam,
                                        LPMAPIPROGRESS lpProgress, LPCIID lpInterface, LPVOID lpDestObj, ULONG ulFlags,
                                        LPSPropProblemArray *lppProblems)
{
    ms_obj *o = This;
    LPMAPISUP sup = o->lg->sup;
    HRESULT hr = sup->lpVtbl->DoCopyProps(sup, iid_of(o), o, lpIncludeProps, ulUIParam, lpProgress, lpInterface,
                                          lpDestObj, ulFlags, lppProblems);
    return ms_ret(hr, "%s::CopyProps(h=%u, ulFlags=0x%lx)", NAME(o), o->h, (unsigned long)ulFlags);
}

static HRESULT OMAPI_CALL obj_GetNamesFromIDs(void *This, LPSPropTagArray *lppPropTags, LPGUID lpPropSetGuid,
                                              ULONG ulFlags, ULONG *lpcPropNames, LPMAPINAMEID **lpppPropNames)
{
    ms_obj *o = This;
    if (!lppPropTags || !lpcPropNames || !lpppPropNames)
        return MAPI_E_INVALID_PARAMETER;
    *lpcPropNames = 0;
    *lpppPropNames = NULL;
    const ms_alloc_fns *a = &o->lg->a;
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, ulFlags);
    ms_w_tags(&q, *lppPropTags);
    HRESULT hr = ms_call(C(o), 0, MAPI_OP_GET_NAMES_FROM_IDS, &q, &r);
    if (SUCCEEDED(hr)) {
        mapi_rd rd;
        mapi_rd_init(&rd, r.data, r.len);
        uint32_t n = mapi_r_u32(&rd);
        LPMAPINAMEID *arr = NULL;
        SPropTagArray *tags = NULL;
        HRESULT ar = n > 100000 ? MAPI_E_CALL_FAILED : ms_alloc(a, sizeof *arr * (n ? n : 1), (void **)&arr);
        if (ar == S_OK && !*lppPropTags)
            ar = ms_alloc(a, CbNewSPropTagArray(n ? n : 1), (void **)&tags);
        int missing = 0;
        for (uint32_t i = 0; ar == S_OK && i < n; i++) {
            uint32_t tag = mapi_r_u32(&rd);
            uint8_t present = mapi_r_u8(&rd);
            if (tags)
                tags->aulPropTag[i] = tag;
            if (!present) {
                missing = 1;
                continue;
            }
            mapi_name nm;
            if (mapi_r_name(&rd, &nm) != 0) {
                ar = MAPI_E_CALL_FAILED;
                break;
            }
            if (lpPropSetGuid && memcmp(lpPropSetGuid, nm.guid, 16) != 0) {
                mapi_name_clear(&nm);
                continue;
            }
            MAPINAMEID *id;
            if ((ar = ms_more(a, sizeof *id, arr, (void **)&id)) == S_OK &&
                (ar = ms_more(a, sizeof(GUID), arr, (void **)&id->lpguid)) == S_OK) {
                memcpy(id->lpguid, nm.guid, 16);
                id->ulKind = nm.kind;
                if (nm.kind == MNID_ID) {
                    id->Kind.lID = (LONG)nm.lid;
                } else {
                    WCHAR *w = ms_wide(nm.name);
                    size_t wl = w ? wcslen(w) + 1 : 1;
                    if (w && (ar = ms_more(a, wl * sizeof(WCHAR), arr, (void **)&id->Kind.lpwstrName)) == S_OK)
                        memcpy(id->Kind.lpwstrName, w, wl * sizeof(WCHAR));
                    free(w);
                }
                arr[i] = id;
            }
            mapi_name_clear(&nm);
        }
        if (ar == S_OK && !rd.err) {
            if (tags) {
                tags->cValues = n;
                *lppPropTags = tags;
            }
            *lpcPropNames = n;
            *lpppPropNames = arr;
            hr = missing ? MAPI_W_ERRORS_RETURNED : S_OK;
        } else {
            if (arr)
                a->free(arr);
            if (tags)
                a->free(tags);
            hr = ar != S_OK ? ar : MAPI_E_CALL_FAILED;
        }
    }
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return ms_ret(hr, "%s::GetNamesFromIDs(ulFlags=0x%lx) names=%lu", NAME(o), (unsigned long)ulFlags,
                  (unsigned long)*lpcPropNames);
}

static HRESULT OMAPI_CALL obj_GetIDsFromNames(void *This, ULONG cPropNames, LPMAPINAMEID *lppPropNames, ULONG ulFlags,
                                              LPSPropTagArray *lppPropTags)
{
    ms_obj *o = This;
    if (!lppPropTags || (cPropNames && !lppPropNames))
        return MAPI_E_INVALID_PARAMETER;
    *lppPropTags = NULL;
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, ulFlags);
    mapi_w_u32(&q, cPropNames);
    HRESULT hr = S_OK;
    for (ULONG i = 0; i < cPropNames && hr == S_OK; i++) {
        const MAPINAMEID *id = lppPropNames[i];
        mapi_name nm;
        memset(&nm, 0, sizeof nm);
        if (!id || !id->lpguid) {
            hr = MAPI_E_INVALID_PARAMETER;
            break;
        }
        memcpy(nm.guid, id->lpguid, 16);
        nm.kind = id->ulKind == MNID_STRING ? MAPI_MNID_STRING : MAPI_MNID_ID;
        if (nm.kind == MAPI_MNID_ID)
            nm.lid = (uint32_t)id->Kind.lID;
        else
            nm.name = ms_utf8(id->Kind.lpwstrName ? id->Kind.lpwstrName : L"");
        mapi_w_name(&q, &nm);
        free(nm.name);
    }
    if (hr == S_OK)
        hr = ms_call(C(o), 0, MAPI_OP_GET_IDS_FROM_NAMES, &q, &r);
    if (SUCCEEDED(hr)) {
        mapi_rd rd;
        mapi_rd_init(&rd, r.data, r.len);
        HRESULT cv = ms_tags_to_mapi(&o->lg->a, &rd, lppPropTags);
        if (cv != S_OK)
            hr = cv;
    }
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return ms_ret(hr, "%s::GetIDsFromNames(cPropNames=%lu, ulFlags=0x%lx)", NAME(o), (unsigned long)cPropNames,
                  (unsigned long)ulFlags);
}

#define IMAPIPROP_SLOTS                                                                                       \
    obj_QueryInterface, obj_AddRef, obj_Release, obj_GetLastError, obj_SaveChanges, obj_GetProps,             \
        obj_GetPropList, obj_OpenProperty, obj_SetProps, obj_DeleteProps, obj_CopyTo, obj_CopyProps,          \
        obj_GetNamesFromIDs, obj_GetIDsFromNames

/* ---- shared helpers ---- */

static HRESULT simple(ms_obj *o, uint16_t op, mapi_buf *q, mapi_buf *r)
{
    uint32_t h, gen;
    HRESULT hr = ms_obj_handle(o, &h, &gen);
    if (hr != S_OK)
        return hr;
    /* the handle goes first: rebuild the request with it */
    mapi_buf full;
    mapi_buf_init(&full);
    mapi_w_u32(&full, h);
    if (q && q->len)
        mapi_buf_add(&full, q->data, q->len);
    hr = ms_call(C(o), gen, op, &full, r);
    mapi_buf_free(&full);
    return hr;
}

/* Calls op on o with request q (freed here) and wraps the handle the reply
 * starts with as a new object of kind; extra, when given, receives the
 * 32-bit value that follows the handle. */
static HRESULT open_child(ms_obj *o, uint16_t op, mapi_buf *q, uint32_t kind, void *out, uint32_t *extra)
{
    mapi_buf r;
    mapi_buf_init(&r);
    uint32_t gen = C(o)->gen;
    HRESULT hr = simple(o, op, q, &r);
    if (hr == S_OK) {
        mapi_rd rd;
        mapi_rd_init(&rd, r.data, r.len);
        uint32_t h = mapi_r_u32(&rd);
        if (extra)
            *extra = mapi_r_u32(&rd);
        hr = ms_obj_new(o->lg, kind, h, gen, (ms_obj **)out);
    }
    if (q)
        mapi_buf_free(q);
    mapi_buf_free(&r);
    return hr;
}

static HRESULT open_table_kind(ms_obj *o, uint32_t kind, ULONG flags, LPMAPITABLE *out)
{
    if (!out)
        return MAPI_E_INVALID_PARAMETER;
    *out = NULL;
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, kind);
    mapi_w_u32(&q, flags & ~MAPI_UNICODE);
    uint32_t gen = C(o)->gen;
    HRESULT hr = simple(o, MAPI_OP_OPEN_TABLE, &q, &r);
    if (hr == S_OK) {
        mapi_rd rd;
        mapi_rd_init(&rd, r.data, r.len);
        uint32_t t = mapi_r_u32(&rd);
        static const char *const what[] = { "?", "hierarchy", "contents", "recipients", "attachments",
                                            "receive folders" };
        hr = ms_table_new(o->lg, t, gen, what[kind <= 5 ? kind : 0], (ms_table **)out);
    }
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return hr;
}

static HRESULT object_for(ms_logon *lg, uint32_t objtype, uint32_t h, uint32_t gen, LPUNKNOWN *out)
{
    uint32_t kind = objtype == MAPI_FOLDER ? MS_FOLDER : objtype == MAPI_MESSAGE ? MS_MESSAGE
                    : objtype == MAPI_ATTACH ? MS_ATTACH : 0;
    if (!kind)
        return MAPI_E_INVALID_ENTRYID;
    return ms_obj_new(lg, kind, h, gen, (ms_obj **)out);
}

HRESULT ms_open_entry(ms_logon *lg, ULONG cb, LPENTRYID eid, ULONG flags, ULONG *objtype, LPUNKNOWN *out)
{
    if (!out)
        return MAPI_E_INVALID_PARAMETER;
    *out = NULL;
    /* the store itself (its own entry id, unwrapped) */
    mapi_eid e;
    if (eid && mapi_eid_decode((const uint8_t *)eid, cb, &e) == 0 && e.kind == MAPI_EID_STORE && lg->store) {
        obj_AddRef(lg->store);
        *out = (LPUNKNOWN)lg->store;
        if (objtype)
            *objtype = MAPI_STORE;
        return S_OK;
    }
    HRESULT hr = ms_conn_ensure(lg->conn);
    if (hr != S_OK)
        return hr;
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, flags);
    ms_w_eid(&q, cb, eid);
    uint32_t gen = lg->conn->gen;
    hr = ms_call(lg->conn, 0, MAPI_OP_OPEN_ENTRY, &q, &r);
    if (hr == S_OK) {
        mapi_rd rd;
        mapi_rd_init(&rd, r.data, r.len);
        uint32_t h = mapi_r_u32(&rd), t = mapi_r_u32(&rd);
        hr = object_for(lg, t, h, gen, out);
        if (hr == S_OK && objtype)
            *objtype = t;
    }
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return hr;
}

static void w_entrylist(mapi_buf *q, const ENTRYLIST *l)
{
    mapi_w_u32(q, l ? l->cValues : 0);
    for (ULONG i = 0; l && i < l->cValues; i++)
        mapi_w_bin(q, l->lpbin[i].lpb, l->lpbin[i].cb);
}

/* ---- IMsgStore ---- */

static HRESULT OMAPI_CALL store_Advise(void *This, ULONG cbEntryID, LPENTRYID lpEntryID, ULONG ulEventMask,
                                       LPMAPIADVISESINK lpAdviseSink, ULONG_PTR *lpulConnection)
{
    ms_obj *o = This;
    if (!lpAdviseSink || !lpulConnection)
        return MAPI_E_INVALID_PARAMETER;
    *lpulConnection = 0;
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    ms_w_eid(&q, cbEntryID, lpEntryID);
    mapi_w_u32(&q, ulEventMask);
    HRESULT hr = ms_call(C(o), 0, MAPI_OP_ADVISE, &q, &r);
    if (hr == S_OK) {
        mapi_rd rd;
        mapi_rd_init(&rd, r.data, r.len);
        uint32_t conn = mapi_r_u32(&rd);
        *lpulConnection = ms_sink_add(C(o), conn, lpAdviseSink, NULL);
        if (!*lpulConnection)
            hr = MAPI_E_NOT_ENOUGH_MEMORY;
    }
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return ms_ret(hr, "IMsgStore::Advise(cbEntryID=%lu, ulEventMask=0x%lx) connection=%lu", (unsigned long)cbEntryID,
                  (unsigned long)ulEventMask, (unsigned long)*lpulConnection);
}

static HRESULT unadvise(ms_conn *c, ULONG_PTR id)
{
    uint32_t conn = ms_sink_remove(c, id);
    if (!conn)
        return MAPI_E_NOT_FOUND;
    mapi_buf q;
    mapi_buf_init(&q);
    mapi_w_u32(&q, conn);
    HRESULT hr = ms_call(c, 0, MAPI_OP_UNADVISE, &q, NULL);
    mapi_buf_free(&q);
    return hr == MAPI_E_NETWORK_ERROR ? S_OK : hr; /* the sink is gone either way */
}

static HRESULT OMAPI_CALL store_Unadvise(void *This, ULONG_PTR ulConnection)
{
    ms_obj *o = This;
    return ms_ret(unadvise(C(o), ulConnection), "IMsgStore::Unadvise(%lu)", (unsigned long)ulConnection);
}

static HRESULT compare_eids(ULONG cb1, LPENTRYID e1, ULONG cb2, LPENTRYID e2, ULONG *res)
{
    if (!res)
        return MAPI_E_INVALID_PARAMETER;
    mapi_eid a, b;
    if (!e1 || !e2 || mapi_eid_decode((const uint8_t *)e1, cb1, &a) != 0 ||
        mapi_eid_decode((const uint8_t *)e2, cb2, &b) != 0)
        return MAPI_E_UNKNOWN_ENTRYID;
    *res = memcmp(a.guid, b.guid, 16) == 0 && a.kind == b.kind && a.id == b.id;
    return S_OK;
}

static HRESULT OMAPI_CALL store_CompareEntryIDs(void *This, ULONG cb1, LPENTRYID e1, ULONG cb2, LPENTRYID e2,
                                                ULONG ulFlags, ULONG *lpulResult)
{
    (void)This;
    (void)ulFlags;
    return ms_ret(compare_eids(cb1, e1, cb2, e2, lpulResult), "IMsgStore::CompareEntryIDs");
}

static HRESULT OMAPI_CALL store_OpenEntry(void *This, ULONG cbEntryID, LPENTRYID lpEntryID, LPCIID lpInterface,
                                          ULONG ulFlags, ULONG *lpulObjType, LPUNKNOWN *lppUnk)
{
    ms_obj *o = This;
    (void)lpInterface;
    HRESULT hr = ms_open_entry(o->lg, cbEntryID, lpEntryID, ulFlags, lpulObjType, lppUnk);
    return ms_ret(hr, "IMsgStore::OpenEntry(cbEntryID=%lu, ulFlags=0x%lx) type=%lu", (unsigned long)cbEntryID,
                  (unsigned long)ulFlags, lpulObjType ? (unsigned long)*lpulObjType : 0ul);
}

static HRESULT OMAPI_CALL store_SetReceiveFolder(void *This, LPWSTR lpszMessageClass, ULONG ulFlags, ULONG cbEntryID,
                                                 LPENTRYID lpEntryID)
{
    ms_obj *o = This;
    char *cls = !lpszMessageClass         ? strdup("")
                : (ulFlags & MAPI_UNICODE) ? ms_utf8(lpszMessageClass)
                                           : ms_utf8_a((const char *)lpszMessageClass);
    mapi_buf q;
    mapi_buf_init(&q);
    mapi_w_str(&q, cls ? cls : "");
    ms_w_eid(&q, lpEntryID ? cbEntryID : 0, lpEntryID);
    HRESULT hr = ms_call(C(o), 0, MAPI_OP_SET_RECEIVE_FOLDER, &q, NULL);
    mapi_buf_free(&q);
    hr = ms_ret(hr, "IMsgStore::SetReceiveFolder(\"%s\", cbEntryID=%lu)", cls ? cls : "", (unsigned long)cbEntryID);
    free(cls);
    return hr;
}

static HRESULT OMAPI_CALL store_GetReceiveFolder(void *This, LPWSTR lpszMessageClass, ULONG ulFlags, ULONG *lpcbEntryID,
                                                 LPENTRYID *lppEntryID, LPWSTR *lppszExplicitClass)
{
    ms_obj *o = This;
    if (!lpcbEntryID || !lppEntryID)
        return MAPI_E_INVALID_PARAMETER;
    *lpcbEntryID = 0;
    *lppEntryID = NULL;
    if (lppszExplicitClass)
        *lppszExplicitClass = NULL;
    char *cls = !lpszMessageClass ? strdup("")
                : (ulFlags & MAPI_UNICODE) ? ms_utf8(lpszMessageClass)
                                           : ms_utf8_a((const char *)lpszMessageClass);
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_str(&q, cls ? cls : "");
    HRESULT hr = ms_call(C(o), 0, MAPI_OP_GET_RECEIVE_FOLDER, &q, &r);
    if (hr == S_OK) {
        mapi_rd rd;
        mapi_rd_init(&rd, r.data, r.len);
        uint32_t len = 0;
        const uint8_t *eid = mapi_r_bin(&rd, &len);
        char *explicit_cls = mapi_r_str(&rd);
        if (rd.err || (hr = ms_alloc(&o->lg->a, len, (void **)lppEntryID)) != S_OK) {
            hr = rd.err ? MAPI_E_CALL_FAILED : hr;
        } else {
            memcpy(*lppEntryID, eid, len);
            *lpcbEntryID = len;
            if (lppszExplicitClass) {
                mapi_prop p = { .tag = (ulFlags & MAPI_UNICODE) ? PT_UNICODE : PT_STRING8 };
                p.v.bin.data = (uint8_t *)(explicit_cls ? explicit_cls : "");
                p.v.bin.len = (uint32_t)strlen((const char *)p.v.bin.data);
                SPropValue *v;
                if (ms_alloc(&o->lg->a, sizeof *v, (void **)&v) == S_OK) {
                    if (ms_prop_to_mapi(&o->lg->a, v, &p, v) == S_OK) {
                        /* hand out the string block only: copy it to a block of its own */
                        size_t n = (ulFlags & MAPI_UNICODE) ? (wcslen(v->Value.lpszW) + 1) * sizeof(WCHAR)
                                                            : strlen(v->Value.lpszA) + 1;
                        if (ms_alloc(&o->lg->a, n, (void **)lppszExplicitClass) == S_OK)
                            memcpy(*lppszExplicitClass, v->Value.lpszW, n);
                    }
                    o->lg->a.free(v);
                }
            }
        }
        free(explicit_cls);
    }
    free(cls);
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return ms_ret(hr, "IMsgStore::GetReceiveFolder(ulFlags=0x%lx) cbEntryID=%lu", (unsigned long)ulFlags,
                  (unsigned long)*lpcbEntryID);
}

static HRESULT OMAPI_CALL store_GetReceiveFolderTable(void *This, ULONG ulFlags, LPMAPITABLE *lppTable)
{
    ms_obj *o = This;
    return ms_ret(open_table_kind(o, MAPI_TABLE_RECEIVE_FOLDERS, ulFlags, lppTable),
                  "IMsgStore::GetReceiveFolderTable(ulFlags=0x%lx)", (unsigned long)ulFlags);
}

static HRESULT OMAPI_CALL store_StoreLogoff(void *This, ULONG *lpulFlags)
{
    (void)This;
    return ms_ret(S_OK, "IMsgStore::StoreLogoff(0x%lx)", lpulFlags ? (unsigned long)*lpulFlags : 0ul);
}

static HRESULT OMAPI_CALL store_AbortSubmit(void *This, ULONG cb, LPENTRYID eid, ULONG ulFlags)
{
    (void)This, (void)cb, (void)eid, (void)ulFlags;
    return ms_ret(MAPI_E_NO_SUPPORT, "IMsgStore::AbortSubmit");
}

static HRESULT OMAPI_CALL store_GetOutgoingQueue(void *This, ULONG ulFlags, LPMAPITABLE *lppTable)
{
    (void)This, (void)ulFlags;
    if (lppTable)
        *lppTable = NULL;
    return ms_ret(MAPI_E_NO_SUPPORT, "IMsgStore::GetOutgoingQueue");
}

static HRESULT OMAPI_CALL store_SetLockState(void *This, LPMESSAGE m, ULONG s)
{
    (void)This, (void)m, (void)s;
    return ms_ret(MAPI_E_NO_SUPPORT, "IMsgStore::SetLockState");
}

static HRESULT OMAPI_CALL store_FinishedMsg(void *This, ULONG ulFlags, ULONG cb, LPENTRYID eid)
{
    (void)This, (void)ulFlags, (void)cb, (void)eid;
    return ms_ret(MAPI_E_NO_SUPPORT, "IMsgStore::FinishedMsg");
}

static HRESULT OMAPI_CALL store_NotifyNewMail(void *This, LPNOTIFICATION n)
{
    (void)This, (void)n;
    return ms_ret(MAPI_E_NO_SUPPORT, "IMsgStore::NotifyNewMail");
}

const IMsgStoreVtbl ms_store_vtbl = {
    IMAPIPROP_SLOTS, store_Advise, store_Unadvise, store_CompareEntryIDs, store_OpenEntry, store_SetReceiveFolder,
    store_GetReceiveFolder, store_GetReceiveFolderTable, store_StoreLogoff, store_AbortSubmit, store_GetOutgoingQueue,
    store_SetLockState, store_FinishedMsg, store_NotifyNewMail,
};

/* ---- IMAPIFolder ---- */

static HRESULT OMAPI_CALL folder_GetContentsTable(void *This, ULONG ulFlags, LPMAPITABLE *lppTable)
{
    ms_obj *o = This;
    return ms_ret(open_table_kind(o, MAPI_TABLE_CONTENTS, ulFlags, lppTable),
                  "IMAPIFolder::GetContentsTable(h=%u, ulFlags=0x%lx)", o->h, (unsigned long)ulFlags);
}

static HRESULT OMAPI_CALL folder_GetHierarchyTable(void *This, ULONG ulFlags, LPMAPITABLE *lppTable)
{
    ms_obj *o = This;
    return ms_ret(open_table_kind(o, MAPI_TABLE_HIERARCHY, ulFlags, lppTable),
                  "IMAPIFolder::GetHierarchyTable(h=%u, ulFlags=0x%lx)", o->h, (unsigned long)ulFlags);
}

static HRESULT OMAPI_CALL folder_OpenEntry(void *This, ULONG cbEntryID, LPENTRYID lpEntryID, LPCIID lpInterface,
                                           ULONG ulFlags, ULONG *lpulObjType, LPUNKNOWN *lppUnk)
{
    ms_obj *o = This;
    (void)lpInterface;
    HRESULT hr = ms_open_entry(o->lg, cbEntryID, lpEntryID, ulFlags, lpulObjType, lppUnk);
    return ms_ret(hr, "IMAPIFolder::OpenEntry(cbEntryID=%lu, ulFlags=0x%lx)", (unsigned long)cbEntryID,
                  (unsigned long)ulFlags);
}

static HRESULT OMAPI_CALL folder_SetSearchCriteria(void *This, LPSRestriction lpRestriction, LPENTRYLIST lpContainerList,
                                                   ULONG ulSearchFlags)
{
    ms_obj *o = This;
    HRESULT hr = S_OK;
    mapi_buf q;
    mapi_buf_init(&q);
    ms_w_res(&q, lpRestriction, &hr);
    w_entrylist(&q, lpContainerList);
    mapi_w_u32(&q, ulSearchFlags);
    if (hr == S_OK)
        hr = simple(o, MAPI_OP_SET_SEARCH_CRITERIA, &q, NULL);
    mapi_buf_free(&q);
    return ms_ret(hr, "IMAPIFolder::SetSearchCriteria(h=%u, rt=%ld, folders=%lu, ulSearchFlags=0x%lx)", o->h,
                  lpRestriction ? (long)lpRestriction->rt : -1l,
                  (unsigned long)(lpContainerList ? lpContainerList->cValues : 0), (unsigned long)ulSearchFlags);
}

/* The folder list of GetSearchCriteria: one MAPI block. */
static HRESULT entrylist_to_mapi(const ms_alloc_fns *a, mapi_rd *rd, LPENTRYLIST *out)
{
    uint32_t n = mapi_r_u32(rd);
    if (rd->err || n > rd->left / 4)
        return MAPI_E_CORRUPT_DATA;
    LPENTRYLIST l = NULL;
    HRESULT hr = ms_alloc(a, sizeof *l, (void **)&l);
    if (hr == S_OK) {
        l->cValues = n;
        hr = ms_more(a, (n ? n : 1) * sizeof(SBinary), l, (void **)&l->lpbin);
    }
    for (uint32_t i = 0; hr == S_OK && i < n; i++) {
        uint32_t len;
        const uint8_t *p = mapi_r_bin(rd, &len);
        l->lpbin[i].cb = len;
        hr = rd->err ? MAPI_E_CORRUPT_DATA : ms_more(a, len ? len : 1, l, (void **)&l->lpbin[i].lpb);
        if (hr == S_OK)
            memcpy(l->lpbin[i].lpb, p, len);
    }
    if (hr != S_OK && l)
        a->free(l);
    *out = hr == S_OK ? l : NULL;
    return hr;
}

static HRESULT OMAPI_CALL folder_GetSearchCriteria(void *This, ULONG ulFlags, LPSRestriction *lppRestriction,
                                                   LPENTRYLIST *lppContainerList, ULONG *lpulSearchState)
{
    ms_obj *o = This;
    const ms_alloc_fns *a = &o->lg->a;
    if (lppRestriction)
        *lppRestriction = NULL;
    if (lppContainerList)
        *lppContainerList = NULL;
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, ulFlags);
    HRESULT hr = simple(o, MAPI_OP_GET_SEARCH_CRITERIA, &q, &r);
    LPSRestriction res = NULL;
    LPENTRYLIST list = NULL;
    if (hr == S_OK) {
        mapi_rd rd;
        mapi_rd_init(&rd, r.data, r.len);
        mapi_res *wr = mapi_r_u8(&rd) ? mapi_r_res(&rd) : NULL;
        if (rd.err) {
            hr = MAPI_E_CORRUPT_DATA;
        } else if (wr && lppRestriction) {
            hr = ms_alloc(a, sizeof *res, (void **)&res);
            if (hr == S_OK)
                hr = ms_res_to_mapi(a, res, wr, res, 0);
        }
        mapi_res_free(wr);
        if (hr == S_OK)
            hr = entrylist_to_mapi(a, &rd, &list);
        uint32_t state = mapi_r_u32(&rd);
        if (hr == S_OK && rd.err)
            hr = MAPI_E_CORRUPT_DATA;
        if (hr == S_OK && lpulSearchState)
            *lpulSearchState = state;
    }
    if (hr == S_OK && lppRestriction) {
        *lppRestriction = res;
        res = NULL;
    }
    if (hr == S_OK && lppContainerList) {
        *lppContainerList = list;
        list = NULL;
    }
    if (res)
        a->free(res);
    if (list)
        a->free(list);
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return ms_ret(hr, "IMAPIFolder::GetSearchCriteria(h=%u, ulFlags=0x%lx)", o->h, (unsigned long)ulFlags);
}

static HRESULT OMAPI_CALL folder_CreateMessage(void *This, LPCIID lpInterface, ULONG ulFlags, LPMESSAGE *lppMessage)
{
    ms_obj *o = This;
    (void)lpInterface;
    if (!lppMessage)
        return MAPI_E_INVALID_PARAMETER;
    *lppMessage = NULL;
    mapi_buf q;
    mapi_buf_init(&q);
    mapi_w_u32(&q, ulFlags);
    HRESULT hr = open_child(o, MAPI_OP_CREATE_MESSAGE, &q, MS_MESSAGE, lppMessage, NULL);
    return ms_ret(hr, "IMAPIFolder::CreateMessage(h=%u, ulFlags=0x%lx)", o->h, (unsigned long)ulFlags);
}

/* The entry id of one of our folders (the destination of a copy). */
static HRESULT folder_eid(LPVOID folder, uint8_t out[MAPI_EID_LEN])
{
    IMAPIProp *p = folder;
    SPropTagArray tags = { 1, { PR_ENTRYID } };
    ULONG n = 0;
    LPSPropValue v = NULL;
    HRESULT hr = p->lpVtbl->GetProps(p, &tags, 0, &n, &v);
    if (hr == S_OK && n == 1 && v[0].ulPropTag == PR_ENTRYID && v[0].Value.bin.cb == MAPI_EID_LEN)
        memcpy(out, v[0].Value.bin.lpb, MAPI_EID_LEN);
    else if (hr == S_OK)
        hr = MAPI_E_INVALID_PARAMETER; /* a folder of another store */
    if (v) {
        ms_obj *self = folder;
        self->lg->a.free(v);
    }
    return hr;
}

static HRESULT OMAPI_CALL folder_CopyMessages(void *This, LPENTRYLIST lpMsgList, LPCIID lpInterface, LPVOID lpDestFolder,
                                              ULONG_PTR ulUIParam, LPMAPIPROGRESS lpProgress, ULONG ulFlags)
{
    ms_obj *o = This;
    (void)lpInterface, (void)ulUIParam, (void)lpProgress;
    if (!lpMsgList || !lpDestFolder)
        return MAPI_E_INVALID_PARAMETER;
    /* only our own folders: a folder of another store has another vtable */
    if (((ms_obj *)lpDestFolder)->lpVtbl != (const void *)&ms_folder_vtbl) {
        LPMAPISUP sup = o->lg->sup;
        return ms_ret(sup->lpVtbl->CopyMessages(sup, &IID_IMAPIFolder, o, lpMsgList, lpInterface, lpDestFolder,
                                                ulUIParam, lpProgress, ulFlags),
                      "IMAPIFolder::CopyMessages(to another store, via IMAPISupport)");
    }
    uint8_t dest[MAPI_EID_LEN];
    HRESULT hr = folder_eid(lpDestFolder, dest);
    if (hr == S_OK) {
        mapi_buf q;
        mapi_buf_init(&q);
        w_entrylist(&q, lpMsgList);
        mapi_w_bin(&q, dest, sizeof dest);
        mapi_w_u32(&q, ulFlags & MAPI_MOVE);
        hr = simple(o, MAPI_OP_COPY_MESSAGES, &q, NULL);
        mapi_buf_free(&q);
    }
    return ms_ret(hr, "IMAPIFolder::CopyMessages(h=%u, n=%lu, ulFlags=0x%lx)", o->h, (unsigned long)lpMsgList->cValues,
                  (unsigned long)ulFlags);
}

static HRESULT OMAPI_CALL folder_DeleteMessages(void *This, LPENTRYLIST lpMsgList, ULONG_PTR ulUIParam,
                                                LPMAPIPROGRESS lpProgress, ULONG ulFlags)
{
    ms_obj *o = This;
    (void)ulUIParam, (void)lpProgress;
    if (!lpMsgList)
        return MAPI_E_INVALID_PARAMETER;
    mapi_buf q;
    mapi_buf_init(&q);
    w_entrylist(&q, lpMsgList);
    mapi_w_u32(&q, ulFlags);
    HRESULT hr = simple(o, MAPI_OP_DELETE_MESSAGES, &q, NULL);
    mapi_buf_free(&q);
    return ms_ret(hr, "IMAPIFolder::DeleteMessages(h=%u, n=%lu)", o->h, (unsigned long)lpMsgList->cValues);
}

static HRESULT OMAPI_CALL folder_CreateFolder(void *This, ULONG ulFolderType, LPWSTR lpszFolderName,
                                              LPWSTR lpszFolderComment, LPCIID lpInterface, ULONG ulFlags,
                                              LPMAPIFOLDER *lppFolder)
{
    ms_obj *o = This;
    (void)lpszFolderComment, (void)lpInterface;
    if (!lpszFolderName || !lppFolder)
        return MAPI_E_INVALID_PARAMETER;
    *lppFolder = NULL;
    char *name = (ulFlags & MAPI_UNICODE) ? ms_utf8(lpszFolderName) : ms_utf8_a((const char *)lpszFolderName);
    mapi_buf q;
    mapi_buf_init(&q);
    mapi_w_u32(&q, ulFlags & ~MAPI_UNICODE);
    mapi_w_u32(&q, ulFolderType);
    mapi_w_str(&q, name ? name : "");
    mapi_w_str(&q, "");
    HRESULT hr = open_child(o, MAPI_OP_CREATE_FOLDER, &q, MS_FOLDER, lppFolder, NULL);
    hr = ms_ret(hr, "IMAPIFolder::CreateFolder(h=%u, name=\"%s\", ulFlags=0x%lx)", o->h, name ? name : "",
                (unsigned long)ulFlags);
    free(name);
    return hr;
}

static HRESULT OMAPI_CALL folder_CopyFolder(void *This, ULONG cbEntryID, LPENTRYID lpEntryID, LPCIID lpInterface,
                                            LPVOID lpDestFolder, LPWSTR lpszNewFolderName, ULONG_PTR ulUIParam,
                                            LPMAPIPROGRESS lpProgress, ULONG ulFlags)
{
    ms_obj *o = This;
    if (!lpEntryID || !lpDestFolder)
        return MAPI_E_INVALID_PARAMETER;
    /* only into our own folders: another store's folder goes through MAPI's generic copy */
    if (((ms_obj *)lpDestFolder)->lpVtbl != (const void *)&ms_folder_vtbl) {
        LPMAPISUP sup = o->lg->sup;
        return ms_ret(sup->lpVtbl->CopyFolder(sup, &IID_IMAPIFolder, o, cbEntryID, lpEntryID, lpInterface,
                                              lpDestFolder, lpszNewFolderName, ulUIParam, lpProgress, ulFlags),
                      "IMAPIFolder::CopyFolder(to another store, via IMAPISupport)");
    }
    char *name = !lpszNewFolderName        ? NULL
                 : (ulFlags & MAPI_UNICODE) ? ms_utf8(lpszNewFolderName)
                                            : ms_utf8_a((const char *)lpszNewFolderName);
    uint8_t dest[MAPI_EID_LEN];
    HRESULT hr = folder_eid(lpDestFolder, dest);
    if (hr == S_OK) {
        mapi_buf q;
        mapi_buf_init(&q);
        ms_w_eid(&q, cbEntryID, lpEntryID);
        mapi_w_bin(&q, dest, sizeof dest);
        mapi_w_str(&q, name ? name : "");
        mapi_w_u32(&q, ulFlags & (FOLDER_MOVE | COPY_SUBFOLDERS));
        hr = simple(o, MAPI_OP_COPY_FOLDER, &q, NULL);
        mapi_buf_free(&q);
    }
    hr = ms_ret(hr, "IMAPIFolder::CopyFolder(h=%u, name=\"%s\", ulFlags=0x%lx)", o->h, name ? name : "",
                (unsigned long)ulFlags);
    free(name);
    return hr;
}

static HRESULT OMAPI_CALL folder_DeleteFolder(void *This, ULONG cbEntryID, LPENTRYID lpEntryID, ULONG_PTR ulUIParam,
                                              LPMAPIPROGRESS lpProgress, ULONG ulFlags)
{
    ms_obj *o = This;
    (void)ulUIParam, (void)lpProgress;
    mapi_buf q;
    mapi_buf_init(&q);
    ms_w_eid(&q, cbEntryID, lpEntryID);
    mapi_w_u32(&q, ulFlags);
    HRESULT hr = simple(o, MAPI_OP_DELETE_FOLDER, &q, NULL);
    mapi_buf_free(&q);
    return ms_ret(hr, "IMAPIFolder::DeleteFolder(h=%u, ulFlags=0x%lx)", o->h, (unsigned long)ulFlags);
}

static HRESULT OMAPI_CALL folder_SetReadFlags(void *This, LPENTRYLIST lpMsgList, ULONG_PTR ulUIParam,
                                              LPMAPIPROGRESS lpProgress, ULONG ulFlags)
{
    ms_obj *o = This;
    (void)ulUIParam, (void)lpProgress;
    mapi_buf q;
    mapi_buf_init(&q);
    w_entrylist(&q, lpMsgList);
    mapi_w_u32(&q, ulFlags);
    HRESULT hr = simple(o, MAPI_OP_SET_READ_FLAGS, &q, NULL);
    mapi_buf_free(&q);
    return ms_ret(hr, "IMAPIFolder::SetReadFlags(h=%u, n=%lu, ulFlags=0x%lx)", o->h,
                  lpMsgList ? (unsigned long)lpMsgList->cValues : 0ul, (unsigned long)ulFlags);
}

/* Get/SetMessageStatus: the status before the call into *old (reply u32). */
static HRESULT message_status(ms_obj *o, uint16_t op, ULONG cb, LPENTRYID eid, ULONG status, ULONG mask, ULONG *old)
{
    if (!eid || !old)
        return MAPI_E_INVALID_PARAMETER;
    *old = 0;
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    ms_w_eid(&q, cb, eid);
    if (op == MAPI_OP_SET_MESSAGE_STATUS) {
        mapi_w_u32(&q, status);
        mapi_w_u32(&q, mask);
    }
    HRESULT hr = simple(o, op, &q, &r);
    if (hr == S_OK) {
        mapi_rd rd;
        mapi_rd_init(&rd, r.data, r.len);
        *old = mapi_r_u32(&rd);
        if (rd.err)
            hr = MAPI_E_CALL_FAILED;
    }
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return hr;
}

static HRESULT OMAPI_CALL folder_GetMessageStatus(void *This, ULONG cb, LPENTRYID eid, ULONG ulFlags, ULONG *status)
{
    ms_obj *o = This;
    (void)ulFlags;
    HRESULT hr = message_status(o, MAPI_OP_GET_MESSAGE_STATUS, cb, eid, 0, 0, status);
    return ms_ret(hr, "IMAPIFolder::GetMessageStatus(h=%u) 0x%lx", o->h, status ? (unsigned long)*status : 0ul);
}

static HRESULT OMAPI_CALL folder_SetMessageStatus(void *This, ULONG cb, LPENTRYID eid, ULONG st, ULONG mask, ULONG *old)
{
    ms_obj *o = This;
    ULONG prev = 0;
    HRESULT hr = message_status(o, MAPI_OP_SET_MESSAGE_STATUS, cb, eid, st, mask, &prev);
    if (old)
        *old = prev;
    return ms_ret(hr, "IMAPIFolder::SetMessageStatus(h=%u, 0x%lx, mask 0x%lx) was 0x%lx", o->h, (unsigned long)st,
                  (unsigned long)mask, (unsigned long)prev);
}

static HRESULT OMAPI_CALL folder_SaveContentsSort(void *This, LPSSortOrderSet s, ULONG f)
{
    (void)This, (void)s, (void)f;
    return ms_ret(MAPI_E_NO_SUPPORT, "IMAPIFolder::SaveContentsSort");
}

static HRESULT OMAPI_CALL folder_EmptyFolder(void *This, ULONG_PTR ulUIParam, LPMAPIPROGRESS lpProgress, ULONG ulFlags)
{
    ms_obj *o = This;
    (void)ulUIParam, (void)lpProgress;
    mapi_buf q;
    mapi_buf_init(&q);
    mapi_w_u32(&q, ulFlags);
    HRESULT hr = simple(o, MAPI_OP_EMPTY_FOLDER, &q, NULL);
    mapi_buf_free(&q);
    return ms_ret(hr, "IMAPIFolder::EmptyFolder(h=%u, ulFlags=0x%lx)", o->h, (unsigned long)ulFlags);
}

const IMAPIFolderVtbl ms_folder_vtbl = {
    IMAPIPROP_SLOTS, folder_GetContentsTable, folder_GetHierarchyTable, folder_OpenEntry, folder_SetSearchCriteria,
    folder_GetSearchCriteria, folder_CreateMessage, folder_CopyMessages, folder_DeleteMessages, folder_CreateFolder,
    folder_CopyFolder, folder_DeleteFolder, folder_SetReadFlags, folder_GetMessageStatus, folder_SetMessageStatus,
    folder_SaveContentsSort, folder_EmptyFolder,
};

/* ---- IMessage ---- */

static HRESULT OMAPI_CALL msg_GetAttachmentTable(void *This, ULONG ulFlags, LPMAPITABLE *lppTable)
{
    ms_obj *o = This;
    return ms_ret(open_table_kind(o, MAPI_TABLE_ATTACHMENTS, ulFlags, lppTable), "IMessage::GetAttachmentTable(h=%u)",
                  o->h);
}

static HRESULT OMAPI_CALL msg_OpenAttach(void *This, ULONG ulAttachmentNum, LPCIID lpInterface, ULONG ulFlags,
                                         LPATTACH *lppAttach)
{
    ms_obj *o = This;
    (void)lpInterface;
    if (!lppAttach)
        return MAPI_E_INVALID_PARAMETER;
    *lppAttach = NULL;
    mapi_buf q;
    mapi_buf_init(&q);
    mapi_w_u32(&q, ulAttachmentNum);
    mapi_w_u32(&q, ulFlags);
    HRESULT hr = open_child(o, MAPI_OP_OPEN_ATTACH, &q, MS_ATTACH, lppAttach, NULL);
    return ms_ret(hr, "IMessage::OpenAttach(h=%u, num=%lu)", o->h, (unsigned long)ulAttachmentNum);
}

static HRESULT OMAPI_CALL msg_CreateAttach(void *This, LPCIID lpInterface, ULONG ulFlags, ULONG *lpulAttachmentNum,
                                           LPATTACH *lppAttach)
{
    ms_obj *o = This;
    (void)lpInterface, (void)ulFlags;
    if (!lpulAttachmentNum || !lppAttach)
        return MAPI_E_INVALID_PARAMETER;
    *lppAttach = NULL;
    uint32_t num = 0;
    HRESULT hr = open_child(o, MAPI_OP_CREATE_ATTACH, NULL, MS_ATTACH, lppAttach, &num);
    if (hr == S_OK)
        *lpulAttachmentNum = num;
    return ms_ret(hr, "IMessage::CreateAttach(h=%u)", o->h);
}

static HRESULT OMAPI_CALL msg_DeleteAttach(void *This, ULONG ulAttachmentNum, ULONG_PTR ulUIParam,
                                           LPMAPIPROGRESS lpProgress, ULONG ulFlags)
{
    ms_obj *o = This;
    (void)ulUIParam, (void)lpProgress, (void)ulFlags;
    mapi_buf q;
    mapi_buf_init(&q);
    mapi_w_u32(&q, ulAttachmentNum);
    HRESULT hr = simple(o, MAPI_OP_DELETE_ATTACH, &q, NULL);
    mapi_buf_free(&q);
    return ms_ret(hr, "IMessage::DeleteAttach(h=%u, num=%lu)", o->h, (unsigned long)ulAttachmentNum);
}

static HRESULT OMAPI_CALL msg_GetRecipientTable(void *This, ULONG ulFlags, LPMAPITABLE *lppTable)
{
    ms_obj *o = This;
    return ms_ret(open_table_kind(o, MAPI_TABLE_RECIPIENTS, ulFlags, lppTable), "IMessage::GetRecipientTable(h=%u)",
                  o->h);
}

static HRESULT OMAPI_CALL msg_ModifyRecipients(void *This, ULONG ulFlags, LPADRLIST lpMods)
{
    ms_obj *o = This;
    if (!lpMods)
        return MAPI_E_INVALID_PARAMETER;
    mapi_buf q;
    mapi_buf_init(&q);
    mapi_w_u32(&q, ulFlags);
    mapi_w_u32(&q, lpMods->cEntries);
    for (ULONG i = 0; i < lpMods->cEntries; i++) {
        mapi_props l;
        mapi_props_init(&l);
        for (ULONG k = 0; k < lpMods->aEntries[i].cValues; k++) {
            mapi_prop p;
            if (ms_prop_from_mapi(&lpMods->aEntries[i].rgPropVals[k], &p) == 0)
                mapi_props_take(&l, &p);
        }
        mapi_w_props(&q, &l);
        mapi_props_free(&l);
    }
    HRESULT hr = simple(o, MAPI_OP_MODIFY_RECIPIENTS, &q, NULL);
    mapi_buf_free(&q);
    return ms_ret(hr, "IMessage::ModifyRecipients(h=%u, ulFlags=0x%lx, n=%lu)", o->h, (unsigned long)ulFlags,
                  (unsigned long)lpMods->cEntries);
}

static HRESULT OMAPI_CALL msg_SubmitMessage(void *This, ULONG ulFlags)
{
    (void)This, (void)ulFlags;
    return ms_ret(MAPI_E_NO_SUPPORT, "IMessage::SubmitMessage (sending is not supported by the Outpost store)");
}

static HRESULT OMAPI_CALL msg_SetReadFlag(void *This, ULONG ulFlags)
{
    ms_obj *o = This;
    mapi_buf q;
    mapi_buf_init(&q);
    mapi_w_u32(&q, ulFlags);
    HRESULT hr = simple(o, MAPI_OP_SET_READ_FLAG, &q, NULL);
    mapi_buf_free(&q);
    return ms_ret(hr, "IMessage::SetReadFlag(h=%u, ulFlags=0x%lx)", o->h, (unsigned long)ulFlags);
}

const IMessageVtbl ms_message_vtbl = {
    IMAPIPROP_SLOTS, msg_GetAttachmentTable, msg_OpenAttach, msg_CreateAttach, msg_DeleteAttach,
    msg_GetRecipientTable, msg_ModifyRecipients, msg_SubmitMessage, msg_SetReadFlag,
};

const IAttachVtbl ms_attach_vtbl = { IMAPIPROP_SLOTS };
