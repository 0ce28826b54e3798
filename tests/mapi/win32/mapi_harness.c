/* tests/mapi/win32/mapi_harness.c — plays MAPI for the Outpost provider DLL
 * under Wine: LoadLibrary, MSProviderInit with our own allocators (linked
 * blocks, counted: every block the DLL hands out must be freed), Logon with a
 * minimal IMAPISupport and profile section, then what Outlook does first:
 * store properties, the hierarchy, the Inbox contents table with Outlook's
 * columns, sort and restrictions, a message's properties and body stream,
 * marking it read, saving a new message, an appointment through its named
 * properties, an associated (FAI) message in the Calendar. Prints "N passed,
 * N failed".
 *
 * Usage: mapi_harness DLL ADDRESS SECRET_FILE [kill MARKER_DIR | sync PLAN_FILE]
 * In kill mode it opens the Inbox table, then signals the test script
 * through files in MARKER_DIR: the script stops outpostd (a query must give
 * up after the timeout), continues it (the provider reconnects), stops it
 * again and kills it while a QueryRows is in flight (a clean MAPI error,
 * fast, no hang).
 * In sync mode (tests/mapi/wine_sync.py: a cache synced from the Kerio
 * simulator) it makes the edits PLAN_FILE lists: read flag, follow-up flag,
 * move, delete, a draft, a contact, an appointment.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "omapi.h"

#define HARNESS_PR_ASSOC_CONTENT_COUNT PROP_TAG(PT_LONG, 0x3617)
#define HARNESS_MSGFLAG_ASSOCIATED 0x00000040UL
#define HARNESS_PR_FINDER_ENTRYID PROP_TAG(PT_BINARY, 0x35E7)
#define HARNESS_PR_FOLDER_TYPE PROP_TAG(PT_LONG, 0x3601)
#define HARNESS_SHALLOW_SEARCH 0x00000008UL
#define HARNESS_SEARCH_RUNNING 0x00000001UL

static int passed, failed;

static void check(int ok, const char *what, ...)
{
    va_list ap;
    va_start(ap, what);
    printf("%s - ", ok ? "ok  " : "FAIL");
    vprintf(what, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    if (ok)
        passed++;
    else
        failed++;
}

/* ---- MAPI's allocators: linked blocks, counted ---- */

typedef struct blk {
    uint32_t magic;
    struct blk *more; /* AllocateMore children */
    uint64_t pad;
} blk;
#define MAGIC 0x4D415049u
static LONG live_blocks;

static SCODE STDMETHODCALLTYPE h_alloc(ULONG cb, LPVOID *out)
{
    blk *b = calloc(1, sizeof *b + cb);
    if (!b)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    b->magic = MAGIC;
    InterlockedIncrement(&live_blocks);
    *out = b + 1;
    return S_OK;
}

static SCODE STDMETHODCALLTYPE h_more(ULONG cb, LPVOID parent, LPVOID *out)
{
    blk *p = (blk *)parent - 1;
    if (!parent || p->magic != MAGIC) {
        printf("FAIL - AllocateMore with a parent that is not a MAPI block\n");
        failed++;
        return MAPI_E_INVALID_PARAMETER;
    }
    blk *b = calloc(1, sizeof *b + cb);
    if (!b)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    b->magic = MAGIC + 1;
    b->more = p->more;
    p->more = b;
    *out = b + 1;
    return S_OK;
}

static ULONG STDMETHODCALLTYPE h_free(LPVOID p)
{
    if (!p)
        return 0;
    blk *b = (blk *)p - 1;
    if (b->magic != MAGIC) {
        printf("FAIL - FreeBuffer of a block that is not a top-level MAPI block (double free?)\n");
        failed++;
        return 0;
    }
    b->magic = 0;
    for (blk *c = b->more; c;) {
        blk *n = c->more;
        free(c);
        c = n;
    }
    free(b);
    InterlockedDecrement(&live_blocks);
    return 0;
}

static void free_rows(LPSRowSet r)
{
    if (!r)
        return;
    for (ULONG i = 0; i < r->cRows; i++)
        h_free(r->aRow[i].lpProps);
    h_free(r);
}

/* ---- profile section (IProfSect) holding the provider's settings ---- */

static WCHAR cfg_address[128], cfg_secret[MAX_PATH];
static int profsect_refs, support_refs, uid_set;
static MAPIUID provider_uid;

static HRESULT OMAPI_CALL ps_QueryInterface(void *This, REFIID riid, LPVOID *ppv)
{
    (void)riid;
    *ppv = This;
    profsect_refs++;
    return S_OK;
}
static ULONG OMAPI_CALL ps_AddRef(void *This)
{
    (void)This;
    return (ULONG)++profsect_refs;
}
static ULONG OMAPI_CALL ps_Release(void *This)
{
    (void)This;
    return (ULONG)--profsect_refs;
}
static HRESULT OMAPI_CALL ps_GetProps(void *This, LPSPropTagArray tags, ULONG flags, ULONG *n, LPSPropValue *out)
{
    (void)This, (void)flags;
    LPSPropValue v;
    h_alloc(sizeof *v * tags->cValues, (void **)&v);
    for (ULONG i = 0; i < tags->cValues; i++) {
        const WCHAR *s = tags->aulPropTag[i] == PR_OUTPOST_ADDRESS_W ? cfg_address
                         : tags->aulPropTag[i] == PR_OUTPOST_SECRET_PATH_W ? cfg_secret
                                                                           : NULL;
        if (s) {
            v[i].ulPropTag = tags->aulPropTag[i];
            h_more((ULONG)(wcslen(s) + 1) * sizeof(WCHAR), v, (void **)&v[i].Value.lpszW);
            wcscpy(v[i].Value.lpszW, s);
        } else {
            v[i].ulPropTag = PROP_TAG(PT_ERROR, PROP_ID(tags->aulPropTag[i]));
            v[i].Value.err = MAPI_E_NOT_FOUND;
        }
    }
    *n = tags->cValues;
    *out = v;
    return S_OK;
}
static const IMAPIPropVtbl profsect_vtbl = { .QueryInterface = ps_QueryInterface, .AddRef = ps_AddRef,
                                             .Release = ps_Release, .GetProps = ps_GetProps };
static IMAPIProp profsect = { &profsect_vtbl };

/* ---- IMAPISupport: only the slots the provider may call ---- */

static HRESULT OMAPI_CALL sup_QueryInterface(void *This, REFIID riid, LPVOID *ppv)
{
    (void)riid;
    *ppv = This;
    support_refs++;
    return S_OK;
}
static ULONG OMAPI_CALL sup_AddRef(void *This)
{
    (void)This;
    return (ULONG)++support_refs;
}
static ULONG OMAPI_CALL sup_Release(void *This)
{
    (void)This;
    return (ULONG)--support_refs;
}
static HRESULT OMAPI_CALL sup_GetMemAllocRoutines(void *This, LPALLOCATEBUFFER *a, LPALLOCATEMORE *m, LPFREEBUFFER *f)
{
    (void)This;
    *a = h_alloc;
    *m = h_more;
    *f = h_free;
    return S_OK;
}
static HRESULT OMAPI_CALL sup_OpenProfileSection(void *This, LPMAPIUID uid, ULONG flags, LPPROFSECT *out)
{
    (void)This, (void)uid, (void)flags;
    profsect_refs++;
    *out = &profsect;
    return S_OK;
}
static HRESULT OMAPI_CALL sup_SetProviderUID(void *This, LPMAPIUID uid, ULONG flags)
{
    (void)This, (void)flags;
    provider_uid = *uid;
    uid_set = 1;
    return S_OK;
}
/* MAPI wraps store entry ids with its own header; a 4-byte marker will do. */
static HRESULT OMAPI_CALL sup_WrapStoreEntryID(void *This, ULONG cb, LPENTRYID eid, ULONG *cbw, LPENTRYID *out)
{
    (void)This;
    h_alloc(cb + 4, (void **)out);
    memcpy(*out, "WRAP", 4);
    memcpy((char *)*out + 4, eid, cb);
    *cbw = cb + 4;
    return S_OK;
}
static const IMAPISupportVtbl support_vtbl = {
    .QueryInterface = sup_QueryInterface, .AddRef = sup_AddRef, .Release = sup_Release,
    .GetMemAllocRoutines = sup_GetMemAllocRoutines, .OpenProfileSection = sup_OpenProfileSection,
    .SetProviderUID = sup_SetProviderUID, .WrapStoreEntryID = sup_WrapStoreEntryID,
};
static IMAPISupport support = { &support_vtbl };

static char *narrow(const WCHAR *w);

/* ---- IProviderAdmin and a profile section that records SetProps ---- */

static WCHAR rec_address[128], rec_secret[MAX_PATH], rec_name[128];
static BYTE rec_eid[96], rec_mdb[16];
static ULONG rec_eid_len;
static int rec_saves, admin_sections;

static HRESULT OMAPI_CALL rps_SetProps(void *This, ULONG n, LPSPropValue v, LPSPropProblemArray *probs)
{
    (void)This;
    if (probs)
        *probs = NULL;
    for (ULONG i = 0; i < n; i++) {
        if (v[i].ulPropTag == PR_OUTPOST_ADDRESS_W)
            wcsncpy(rec_address, v[i].Value.lpszW, 127);
        else if (v[i].ulPropTag == PR_OUTPOST_SECRET_PATH_W)
            wcsncpy(rec_secret, v[i].Value.lpszW, MAX_PATH - 1);
        else if (v[i].ulPropTag == PR_DISPLAY_NAME_W)
            wcsncpy(rec_name, v[i].Value.lpszW, 127);
        else if (v[i].ulPropTag == PR_ENTRYID && v[i].Value.bin.cb <= sizeof rec_eid) {
            memcpy(rec_eid, v[i].Value.bin.lpb, v[i].Value.bin.cb);
            rec_eid_len = v[i].Value.bin.cb;
        } else if (v[i].ulPropTag == PR_MDB_PROVIDER && v[i].Value.bin.cb == 16)
            memcpy(rec_mdb, v[i].Value.bin.lpb, 16);
    }
    return S_OK;
}
static HRESULT OMAPI_CALL rps_SaveChanges(void *This, ULONG f)
{
    (void)This, (void)f;
    rec_saves++;
    return S_OK;
}
static ULONG OMAPI_CALL rps_Release(void *This)
{
    (void)This;
    return (ULONG)--admin_sections;
}
static const IMAPIPropVtbl recsect_vtbl = { .QueryInterface = ps_QueryInterface, .AddRef = ps_AddRef,
                                            .Release = rps_Release, .SetProps = rps_SetProps,
                                            .SaveChanges = rps_SaveChanges };
static IMAPIProp recsect = { &recsect_vtbl };

static HRESULT OMAPI_CALL adm_OpenProfileSection(void *This, LPMAPIUID uid, LPCIID iid, ULONG flags, LPPROFSECT *out)
{
    (void)This, (void)uid, (void)iid, (void)flags;
    admin_sections++;
    *out = &recsect;
    return S_OK;
}
static const IProviderAdminVtbl admin_vtbl = { .OpenProfileSection = adm_OpenProfileSection };
static IProviderAdmin admin = { &admin_vtbl };

static void service_entry(MSGSERVICEENTRY *svc)
{
    SPropValue in = { .ulPropTag = PR_OUTPOST_SECRET_PATH_W };
    in.Value.lpszW = (LPWSTR)L"C:\\Users\\me\\mapi.secret";
    LPMAPIERROR err = NULL;
    LONG before = live_blocks;
    HRESULT hr = svc(GetModuleHandleW(NULL), NULL, &support, 0, 0, MSG_SERVICE_CREATE, 1, &in, &admin, &err);
    static const BYTE uid[16] = { 0x54, 0x53, 0x50, 0x4F, 0x41, 0x4D, 0x49, 0x50,
                                  0x8A, 0x4F, 0x55, 0x54, 0x50, 0x53, 0x54, 0x0A };
    check(hr == S_OK && !wcscmp(rec_address, L"127.0.0.1:6144") && !wcscmp(rec_secret, in.Value.lpszW) &&
              rec_name[0] && rec_saves == 2,
          "ServiceEntry(MSG_SERVICE_CREATE): profile gets address %s, secret path %s, name %s (%d saves)",
          narrow(rec_address), narrow(rec_secret), narrow(rec_name), rec_saves);
    check(rec_eid_len > 4 && !memcmp(rec_eid, "WRAP", 4) && !memcmp(rec_mdb, uid, 16),
          "  the store entry id is wrapped (%lu bytes) and PR_MDB_PROVIDER is the Outpost provider UID",
          (unsigned long)rec_eid_len);
    check(admin_sections == 0 && live_blocks == before, "  profile sections released, wrapped entry id freed");
    hr = svc(GetModuleHandleW(NULL), NULL, &support, 0, 0, MSG_SERVICE_DELETE, 0, NULL, &admin, &err);
    check(hr == S_OK, "ServiceEntry(MSG_SERVICE_DELETE) -> S_OK");
}

/* ---- an advise sink counting table notifications ---- */

static LONG notified_added, notified_any, sink_refs;

static HRESULT OMAPI_CALL sink_QueryInterface(void *This, REFIID riid, LPVOID *ppv)
{
    (void)riid;
    InterlockedIncrement(&sink_refs);
    *ppv = This;
    return S_OK;
}
static ULONG OMAPI_CALL sink_AddRef(void *This)
{
    (void)This;
    return (ULONG)InterlockedIncrement(&sink_refs);
}
static ULONG OMAPI_CALL sink_Release(void *This)
{
    (void)This;
    return (ULONG)InterlockedDecrement(&sink_refs);
}
static ULONG OMAPI_CALL sink_OnNotify(void *This, ULONG n, LPNOTIFICATION v)
{
    (void)This;
    for (ULONG i = 0; i < n; i++) {
        InterlockedIncrement(&notified_any);
        if (v[i].ulEventType == fnevTableModified && v[i].info.tab.ulTableEvent == TABLE_ROW_ADDED)
            InterlockedIncrement(&notified_added);
    }
    return 0;
}
static const IMAPIAdviseSinkVtbl sink_vtbl = { sink_QueryInterface, sink_AddRef, sink_Release, sink_OnNotify };
static IMAPIAdviseSink sink = { &sink_vtbl };

/* ---- helpers ---- */

typedef struct tags8 {
    ULONG cValues;
    ULONG aulPropTag[8];
} tags8;
#define TAGS(...) ((LPSPropTagArray) & (tags8){ sizeof((ULONG[]){ __VA_ARGS__ }) / sizeof(ULONG), { __VA_ARGS__ } })

static const SPropValue *find(const SPropValue *v, ULONG n, ULONG tag)
{
    for (ULONG i = 0; i < n; i++)
        if (v[i].ulPropTag == tag)
            return &v[i];
    return NULL;
}

static LONGLONG now_ms(void) { return (LONGLONG)GetTickCount64(); }

static void marker(const char *dir, const char *name)
{
    char p[MAX_PATH];
    snprintf(p, sizeof p, "%s\\%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f)
        fclose(f);
}

static int wait_marker(const char *dir, const char *name, int timeout_ms)
{
    char p[MAX_PATH];
    snprintf(p, sizeof p, "%s\\%s", dir, name);
    for (int t = 0; t < timeout_ms; t += 50) {
        if (GetFileAttributesA(p) != INVALID_FILE_ATTRIBUTES)
            return 0;
        Sleep(50);
    }
    return -1;
}

static char *narrow(const WCHAR *w)
{
    static char buf[4][512];
    static int k;
    char *b = buf[k++ & 3];
    WideCharToMultiByte(CP_UTF8, 0, w ? w : L"", -1, b, sizeof buf[0], NULL, NULL);
    return b;
}

/* Opens an entry of the store and checks its type. */
static void *open_eid(IMsgStore *st, const SBinary *eid, ULONG want)
{
    ULONG type = 0;
    LPUNKNOWN u = NULL;
    HRESULT hr = st->lpVtbl->OpenEntry(st, eid ? eid->cb : 0, eid ? (LPENTRYID)eid->lpb : NULL, NULL,
                                       MAPI_BEST_ACCESS, &type, &u);
    return hr == S_OK && type == want ? u : NULL;
}

static void release(void *p)
{
    if (p)
        ((IUnknown *)p)->lpVtbl->Release((IUnknown *)p);
}

/* Hierarchy of a folder: the entry id of the row named `name` (copied to out). */
static int find_folder(IMAPIFolder *f, const WCHAR *name, SBinary *out, BYTE *buf)
{
    IMAPITable *t = NULL;
    int found = 0;
    if (f->lpVtbl->GetHierarchyTable(f, MAPI_UNICODE | CONVENIENT_DEPTH, &t) != S_OK)
        return 0;
    t->lpVtbl->SetColumns(t, TAGS(PR_DISPLAY_NAME_W, PR_ENTRYID), 0);
    LPSRowSet rows = NULL;
    if (t->lpVtbl->QueryRows(t, 100, 0, &rows) == S_OK) {
        for (ULONG i = 0; i < rows->cRows; i++) {
            const SPropValue *dn = &rows->aRow[i].lpProps[0], *e = &rows->aRow[i].lpProps[1];
            if (dn->ulPropTag == PR_DISPLAY_NAME_W && !wcscmp(dn->Value.lpszW, name) && e->ulPropTag == PR_ENTRYID &&
                e->Value.bin.cb <= 64) {
                memcpy(buf, e->Value.bin.lpb, e->Value.bin.cb);
                out->cb = e->Value.bin.cb;
                out->lpb = buf;
                found = 1;
            }
        }
        free_rows(rows);
    }
    release(t);
    return found;
}

#define PR_SENDER_NAME_W PROP_TAG(PT_UNICODE, 0x0C1A)
#define PR_MESSAGE_SIZE PROP_TAG(PT_LONG, 0x0E08)
#define PR_ATTR_HIDDEN PROP_TAG(PT_BOOLEAN, 0x10F4)
#define BMR_EQZ 0
#define RELOP_EQ 4
#define TABLE_SORT_DESCEND 1

static const GUID PSETID_Appointment = { 0x00062002, 0x0000, 0x0000, { 0xC0, 0, 0, 0, 0, 0, 0, 0x46 } };

/* Logoff, Shutdown, and every reference MAPI's side handed out comes back. */
static void log_off(LPMSPROVIDER prov, LPMSLOGON lg, LPMDB st)
{
    ULONG lf = 0;
    HRESULT hr = lg->lpVtbl->Logoff(lg, &lf);
    check(hr == S_OK, "IMSLogon::Logoff");
    release(st);
    release(lg);
    prov->lpVtbl->Shutdown(prov, &lf);
    release(prov);
    check(support_refs == 0 && profsect_refs == 0, "IMAPISupport and profile sections released (%d, %d)",
          support_refs, profsect_refs);
}

/* ---- the Outlook-like session ---- */

static ULONG row_count(IMAPIFolder *f);

static void session(MSPROVIDERINIT *init, int kill_mode, const char *markers)
{
    LPMSPROVIDER prov = NULL;
    ULONG ver = 0;
    HRESULT hr = init(GetModuleHandleW(NULL), NULL, h_alloc, h_more, h_free, 0, 0x00010000, &ver, &prov);
    check(hr == MAPI_E_VERSION && !prov, "MSProviderInit with an old MAPI version -> MAPI_E_VERSION (0x%08lx)",
          (unsigned long)hr);
    hr = init(GetModuleHandleW(NULL), NULL, h_alloc, h_more, h_free, 0, CURRENT_SPI_VERSION, &ver, &prov);
    check(hr == S_OK && prov && ver == CURRENT_SPI_VERSION, "MSProviderInit hr=0x%08lx providerVer=0x%08lx",
          (unsigned long)hr, (unsigned long)ver);
    if (!prov)
        return;

    /* Logon to a daemon that is not there: a clean error, fast. */
    WCHAR good[128];
    wcscpy(good, cfg_address);
    wcscpy(cfg_address, L"127.0.0.1:1");
    LPMSLOGON lg = NULL;
    LPMDB st = NULL;
    LPMAPIERROR err = NULL;
    LONGLONG t0 = now_ms();
    hr = prov->lpVtbl->Logon(prov, &support, 0, NULL, 0, NULL, MAPI_UNICODE, NULL, NULL, NULL, &err, &lg, &st);
    check(hr == MAPI_E_FAILONEPROVIDER && !lg && !st && now_ms() - t0 < 5000,
          "Logon without a daemon -> MAPI_E_FAILONEPROVIDER in %lld ms (0x%08lx)", now_ms() - t0, (unsigned long)hr);
    check(err && err->lpszError && wcsstr(err->lpszError, L"127.0.0.1:1"), "  with MAPIERROR \"%s\"",
          err ? narrow(err->lpszError) : "(none)");
    h_free(err);
    wcscpy(cfg_address, good);

    hr = prov->lpVtbl->Logon(prov, &support, 0, NULL, 0, NULL, MAPI_UNICODE, NULL, NULL, NULL, &err, &lg, &st);
    check(hr == S_OK && lg && st && uid_set, "IMSProvider::Logon hr=0x%08lx; SetProviderUID called", (unsigned long)hr);
    if (hr != S_OK) {
        if (err)
            printf("  MAPIERROR: %s\n", narrow(err->lpszError));
        h_free(err);
        release(prov);
        return;
    }

    /* store properties */
    ULONG n = 0;
    LPSPropValue v = NULL;
    hr = st->lpVtbl->GetProps(st, TAGS(PR_DISPLAY_NAME_W, PR_STORE_SUPPORT_MASK, PR_IPM_SUBTREE_ENTRYID,
                                       PR_STORE_ENTRYID, PR_MDB_PROVIDER),
                              MAPI_UNICODE, &n, &v);
    const SPropValue *mask = v ? find(v, n, PR_STORE_SUPPORT_MASK) : NULL;
    const SPropValue *sub = v ? find(v, n, PR_IPM_SUBTREE_ENTRYID) : NULL;
    const SPropValue *seid = v ? find(v, n, PR_STORE_ENTRYID) : NULL;
    const SPropValue *dn = v ? find(v, n, PR_DISPLAY_NAME_W) : NULL;
    check(SUCCEEDED(hr) && mask && (mask->Value.l & STORE_UNICODE_OK) && sub && dn,
          "IMsgStore::GetProps hr=0x%08lx name=\"%s\" support_mask=0x%08lx", (unsigned long)hr,
          dn ? narrow(dn->Value.lpszW) : "?", mask ? (unsigned long)mask->Value.l : 0ul);
    check(seid && seid->Value.bin.cb > 4 && !memcmp(seid->Value.bin.lpb, "WRAP", 4),
          "PR_STORE_ENTRYID is wrapped by IMAPISupport::WrapStoreEntryID");
    BYTE subtree_buf[64];
    SBinary subtree = { 0, subtree_buf };
    if (sub && sub->Value.bin.cb <= sizeof subtree_buf) {
        memcpy(subtree_buf, sub->Value.bin.lpb, sub->Value.bin.cb);
        subtree.cb = sub->Value.bin.cb;
    }
    h_free(v);

    /* root and IPM subtree hierarchy, with Outlook's hidden-folder restriction */
    IMAPIFolder *root = open_eid(st, NULL, MAPI_FOLDER);
    check(root != NULL, "IMsgStore::OpenEntry(NULL) -> root folder");
    IMAPIFolder *top = open_eid(st, &subtree, MAPI_FOLDER);
    check(top != NULL, "OpenEntry(PR_IPM_SUBTREE_ENTRYID) -> Top of Information Store");
    IMAPITable *t = NULL;
    if (top && top->lpVtbl->GetHierarchyTable(top, MAPI_UNICODE | CONVENIENT_DEPTH, &t) == S_OK) {
        SPropValue f = { .ulPropTag = PR_ATTR_HIDDEN };
        f.Value.b = 0;
        SRestriction sub2[2] = { { .rt = RES_EXIST }, { .rt = RES_PROPERTY } };
        sub2[0].res.resExist.ulPropTag = PR_ATTR_HIDDEN;
        SRestriction notexist = { .rt = RES_NOT };
        notexist.res.resNot.lpRes = &sub2[0];
        sub2[1].res.resProperty.relop = RELOP_EQ;
        sub2[1].res.resProperty.ulPropTag = PR_ATTR_HIDDEN;
        sub2[1].res.resProperty.lpProp = &f;
        SRestriction ors[2] = { notexist, sub2[1] };
        SRestriction r = { .rt = RES_OR };
        r.res.resOr.cRes = 2;
        r.res.resOr.lpRes = ors;
        hr = t->lpVtbl->SetColumns(t, TAGS(PR_DISPLAY_NAME_W, PR_CONTAINER_CLASS_W, PR_CONTENT_COUNT,
                                           PR_CONTENT_UNREAD, PR_DEPTH),
                                   0);
        HRESULT hr2 = t->lpVtbl->Restrict(t, &r, 0);
        LPSRowSet rows = NULL;
        HRESULT hr3 = t->lpVtbl->QueryRows(t, 50, 0, &rows);
        int seen = 0;
        for (ULONG i = 0; rows && i < rows->cRows; i++) {
            const SPropValue *p = rows->aRow[i].lpProps;
            const WCHAR *nm = p[0].ulPropTag == PR_DISPLAY_NAME_W ? p[0].Value.lpszW : L"";
            const WCHAR *cl = p[1].ulPropTag == PR_CONTAINER_CLASS_W ? p[1].Value.lpszW : L"";
            printf("    %s / %s (%ld items, %ld unread)\n", narrow(nm), narrow(cl),
                   p[2].ulPropTag == PR_CONTENT_COUNT ? (long)p[2].Value.l : -1l,
                   p[3].ulPropTag == PR_CONTENT_UNREAD ? (long)p[3].Value.l : -1l);
            if (!wcscmp(nm, L"Inbox") && !wcscmp(cl, L"IPF.Note") && p[2].Value.l == 3 && p[3].Value.l == 1)
                seen |= 1;
            if (!wcscmp(nm, L"Calendar") && !wcscmp(cl, L"IPF.Appointment"))
                seen |= 2;
            if (!wcscmp(nm, L"Contacts") && !wcscmp(cl, L"IPF.Contact"))
                seen |= 4;
            if (!wcscmp(nm, L"Tasks") && !wcscmp(cl, L"IPF.Task"))
                seen |= 8;
        }
        check(hr == S_OK && hr2 == S_OK && hr3 == S_OK && seen == 15,
              "IPM_SUBTREE hierarchy (CONVENIENT_DEPTH, PR_ATTR_HIDDEN restriction): Inbox, Calendar, Contacts, Tasks "
              "with their classes and counts (%lu rows)",
              rows ? (unsigned long)rows->cRows : 0ul);
        free_rows(rows);
        release(t);
        t = NULL;
    }

    /* the receive folder is the Inbox */
    ULONG cbin = 0;
    LPENTRYID inbox_eid = NULL;
    LPWSTR cls = NULL;
    hr = st->lpVtbl->GetReceiveFolder(st, (LPWSTR)L"IPM.Note", MAPI_UNICODE, &cbin, &inbox_eid, &cls);
    BYTE ib[64];
    SBinary inbox_bin = { 0, ib };
    int same = 0;
    if (hr == S_OK && top && find_folder(top, L"Inbox", &inbox_bin, ib)) {
        ULONG res = 0;
        st->lpVtbl->CompareEntryIDs(st, cbin, inbox_eid, inbox_bin.cb, (LPENTRYID)inbox_bin.lpb, 0, &res);
        same = res != 0;
    }
    check(hr == S_OK && same, "GetReceiveFolder(IPM.Note) is the Inbox (explicit class \"%s\")",
          cls ? narrow(cls) : "");
    h_free(inbox_eid);
    h_free(cls);
    /* SetReceiveFolder for a class, seen in GetReceiveFolder and the receive folder table, then undone */
    if (same) {
        HRESULT hs = st->lpVtbl->SetReceiveFolder(st, (LPWSTR)L"IPM.Harness", MAPI_UNICODE, inbox_bin.cb,
                                                  (LPENTRYID)inbox_bin.lpb);
        cls = NULL;
        inbox_eid = NULL;
        HRESULT hg = st->lpVtbl->GetReceiveFolder(st, (LPWSTR)L"IPM.Harness.Sub", MAPI_UNICODE, &cbin, &inbox_eid,
                                                  &cls);
        int named = hg == S_OK && cls && !wcscmp(cls, L"IPM.Harness");
        h_free(inbox_eid);
        h_free(cls);
        IMAPITable *rt = NULL;
        ULONG rcount = 0;
        if (st->lpVtbl->GetReceiveFolderTable(st, MAPI_UNICODE, &rt) == S_OK) {
            rt->lpVtbl->GetRowCount(rt, 0, &rcount);
            release(rt);
        }
        HRESULT hu = st->lpVtbl->SetReceiveFolder(st, (LPWSTR)L"IPM.Harness", MAPI_UNICODE, 0, NULL);
        check(hs == S_OK && named && rcount == 5 && hu == S_OK,
              "SetReceiveFolder(IPM.Harness) answered by GetReceiveFolder, %lu rows in the receive folder table, "
              "undone", (unsigned long)rcount);
    }

    /* Inbox contents table as Outlook opens it */
    IMAPIFolder *inbox = open_eid(st, &inbox_bin, MAPI_FOLDER);
    check(inbox != NULL, "OpenEntry(Inbox)");
    BYTE unread_eid_buf[64];
    SBinary unread_eid = { 0, unread_eid_buf };
    if (inbox && inbox->lpVtbl->GetContentsTable(inbox, MAPI_UNICODE, &t) == S_OK) {
        hr = t->lpVtbl->SetColumns(t, TAGS(PR_ENTRYID, PR_INSTANCE_KEY, PR_SUBJECT_W, PR_SENDER_NAME_W,
                                           PR_MESSAGE_DELIVERY_TIME, PR_MESSAGE_FLAGS, PR_MESSAGE_SIZE,
                                           PR_MESSAGE_CLASS_W),
                                   TBL_BATCH);
        struct {
            ULONG cSorts, cCategories, cExpanded;
            SSortOrder aSort[1];
        } sort = { 1, 0, 0, { { PR_MESSAGE_DELIVERY_TIME, TABLE_SORT_DESCEND } } };
        HRESULT hs = t->lpVtbl->SortTable(t, (LPSSortOrderSet)&sort, TBL_BATCH);
        ULONG count = 0;
        t->lpVtbl->GetRowCount(t, 0, &count);
        LPSRowSet rows = NULL;
        HRESULT hq = t->lpVtbl->QueryRows(t, 50, 0, &rows);
        int order = rows && rows->cRows == 3 && rows->aRow[0].lpProps[2].ulPropTag == PR_SUBJECT_W &&
                    !wcscmp(rows->aRow[0].lpProps[2].Value.lpszW, L"Third") &&
                    !wcscmp(rows->aRow[1].lpProps[2].Value.lpszW, L"Second") &&
                    !wcscmp(rows->aRow[2].lpProps[2].Value.lpszW, L"First");
        for (ULONG i = 0; rows && i < rows->cRows; i++) {
            const SPropValue *p = rows->aRow[i].lpProps;
            printf("    \"%s\" from %s flags=0x%lx class=%s\n", narrow(p[2].Value.lpszW), narrow(p[3].Value.lpszW),
                   (unsigned long)p[5].Value.l, narrow(p[7].Value.lpszW));
        }
        check(hr == S_OK && hs == S_OK && hq == S_OK && count == 3 && order,
              "Inbox contents: Outlook's columns, sorted by delivery time descending (%lu rows)", (unsigned long)count);
        free_rows(rows);

        /* unread only: BITMASK on PR_MESSAGE_FLAGS, as Outlook's unread filter */
        SRestriction isread = { .rt = RES_BITMASK };
        isread.res.resBitMask.relBMR = BMR_EQZ;
        isread.res.resBitMask.ulPropTag = PR_MESSAGE_FLAGS;
        isread.res.resBitMask.ulMask = MSGFLAG_READ;
        hr = t->lpVtbl->Restrict(t, &isread, 0);
        rows = NULL;
        t->lpVtbl->SeekRow(t, BOOKMARK_BEGINNING, 0, NULL);
        hq = t->lpVtbl->QueryRows(t, 10, 0, &rows);
        int one = rows && rows->cRows == 1 && !wcscmp(rows->aRow[0].lpProps[2].Value.lpszW, L"Second") &&
                  rows->aRow[0].lpProps[0].Value.bin.cb <= sizeof unread_eid_buf;
        if (one) {
            memcpy(unread_eid_buf, rows->aRow[0].lpProps[0].Value.bin.lpb, rows->aRow[0].lpProps[0].Value.bin.cb);
            unread_eid.cb = rows->aRow[0].lpProps[0].Value.bin.cb;
        }
        check(hr == S_OK && hq == S_OK && one, "Restrict(unread: BITMASK PR_MESSAGE_FLAGS & MSGFLAG_READ == 0) -> \"Second\"");
        free_rows(rows);

        /* bookmarks are ULONG_PTR: create, move, come back */
        t->lpVtbl->Restrict(t, NULL, 0);
        t->lpVtbl->SeekRow(t, BOOKMARK_BEGINNING, 1, NULL);
        BOOKMARK bk = 0;
        hr = t->lpVtbl->CreateBookmark(t, &bk);
        LONG sought = 0;
        t->lpVtbl->SeekRow(t, BOOKMARK_END, 0, &sought);
        HRESULT hb = t->lpVtbl->SeekRow(t, bk, 0, &sought);
        rows = NULL;
        t->lpVtbl->QueryRows(t, 1, 0, &rows);
        check(hr == S_OK && hb == S_OK && bk > 2 && rows && rows->cRows == 1 &&
                  !wcscmp(rows->aRow[0].lpProps[2].Value.lpszW, L"Second"),
              "CreateBookmark / SeekRow(bookmark) returns to the second row (bookmark %lu, %u-byte BOOKMARK)",
              (unsigned long)bk, (unsigned)sizeof(BOOKMARK));
        free_rows(rows);
        t->lpVtbl->FreeBookmark(t, bk);
        release(t);
        t = NULL;
    }

    /* a message: properties, body stream, mark read */
    IMessage *m = unread_eid.cb ? open_eid(st, &unread_eid, MAPI_MESSAGE) : NULL;
    check(m != NULL, "OpenEntry(message) -> IMessage");
    if (m) {
        v = NULL;
        hr = m->lpVtbl->GetProps(m, TAGS(PR_SUBJECT_W, PR_MESSAGE_CLASS_W, PR_MESSAGE_FLAGS), MAPI_UNICODE, &n, &v);
        check(hr == S_OK && v && v[0].ulPropTag == PR_SUBJECT_W && !wcscmp(v[0].Value.lpszW, L"Second") &&
                  !(v[2].Value.l & MSGFLAG_READ),
              "IMessage::GetProps: subject \"%s\", unread", v ? narrow(v[0].Value.lpszW) : "?");
        h_free(v);
        IStream *s = NULL;
        hr = m->lpVtbl->OpenProperty(m, PR_BODY_W, &IID_IStream, 0, 0, (LPUNKNOWN *)&s);
        WCHAR body[256] = { 0 };
        ULONG got = 0;
        STATSTG stat = { 0 };
        if (s) {
            s->lpVtbl->Stat(s, &stat, STATFLAG_NONAME);
            s->lpVtbl->Read(s, body, sizeof body - sizeof(WCHAR), &got);
            release(s);
        }
        check(hr == S_OK && wcsstr(body, L"Second body, unread.") && stat.cbSize.QuadPart == got,
              "OpenProperty(PR_BODY_W, IID_IStream): %lu bytes of UTF-16 \"%s\"", (unsigned long)got, narrow(body));
        hr = m->lpVtbl->SetReadFlag(m, 0);
        v = NULL;
        m->lpVtbl->GetProps(m, TAGS(PR_MESSAGE_FLAGS), 0, &n, &v);
        check(hr == S_OK && v && (v[0].Value.l & MSGFLAG_READ), "IMessage::SetReadFlag -> MSGFLAG_READ set");
        h_free(v);
        release(m);
    }
    if (inbox) {
        ULONG cnt = 99;
        if (inbox->lpVtbl->GetContentsTable(inbox, MAPI_UNICODE, &t) == S_OK) {
            SRestriction isread = { .rt = RES_BITMASK };
            isread.res.resBitMask.relBMR = BMR_EQZ;
            isread.res.resBitMask.ulPropTag = PR_MESSAGE_FLAGS;
            isread.res.resBitMask.ulMask = MSGFLAG_READ;
            t->lpVtbl->Restrict(t, &isread, 0);
            t->lpVtbl->GetRowCount(t, 0, &cnt);
            release(t);
            t = NULL;
        }
        check(cnt == 0, "the Inbox has no unread message left (%lu)", (unsigned long)cnt);
    }

    /* save a new message */
    if (inbox) {
        IMessage *nm = NULL;
        hr = inbox->lpVtbl->CreateMessage(inbox, NULL, 0, &nm);
        HRESULT hs = E_FAIL, hv = E_FAIL;
        if (nm) {
            SPropValue pv[3];
            pv[0].ulPropTag = PR_MESSAGE_CLASS_W;
            pv[0].Value.lpszW = (LPWSTR)L"IPM.Note";
            pv[1].ulPropTag = PR_SUBJECT_W;
            pv[1].Value.lpszW = (LPWSTR)L"Saved from the harness \x263A";
            pv[2].ulPropTag = PR_BODY_W;
            pv[2].Value.lpszW = (LPWSTR)L"Hello from Wine.";
            LPSPropProblemArray probs = NULL;
            hs = nm->lpVtbl->SetProps(nm, 3, pv, &probs);
            h_free(probs);
            hv = nm->lpVtbl->SaveChanges(nm, 0);
            release(nm);
        }
        ULONG cnt = 0;
        LPSRowSet rows = NULL;
        int found = 0;
        if (inbox->lpVtbl->GetContentsTable(inbox, MAPI_UNICODE, &t) == S_OK) {
            t->lpVtbl->SetColumns(t, TAGS(PR_SUBJECT_W), 0);
            t->lpVtbl->GetRowCount(t, 0, &cnt);
            t->lpVtbl->QueryRows(t, 10, 0, &rows);
            for (ULONG i = 0; rows && i < rows->cRows; i++)
                found |= rows->aRow[i].lpProps[0].ulPropTag == PR_SUBJECT_W &&
                         !wcscmp(rows->aRow[i].lpProps[0].Value.lpszW, L"Saved from the harness \x263A");
            free_rows(rows);
            release(t);
            t = NULL;
        }
        check(hr == S_OK && hs == S_OK && hv == S_OK && cnt == 4 && found,
              "CreateMessage + SetProps + SaveChanges: the Inbox lists the new message (%lu rows)",
              (unsigned long)cnt);
    }

    /* table notifications while idle: a second logon (another connection)
     * adds a message; the first one's Inbox table hears of it unasked */
    if (inbox && inbox->lpVtbl->GetContentsTable(inbox, MAPI_UNICODE, &t) == S_OK) {
        t->lpVtbl->SetColumns(t, TAGS(PR_SUBJECT_W, PR_INSTANCE_KEY), 0);
        ULONG_PTR conn = 0;
        hr = t->lpVtbl->Advise(t, fnevTableModified, &sink, &conn);
        LPMSLOGON lg2 = NULL;
        LPMDB st2 = NULL;
        HRESULT h2 = prov->lpVtbl->Logon(prov, &support, 0, NULL, 0, NULL, MAPI_UNICODE, NULL, NULL, NULL, NULL,
                                         &lg2, &st2);
        IMAPIFolder *in2 = h2 == S_OK ? open_eid(st2, &inbox_bin, MAPI_FOLDER) : NULL;
        IMessage *nm = NULL;
        if (in2 && in2->lpVtbl->CreateMessage(in2, NULL, 0, &nm) == S_OK) {
            SPropValue pv = { .ulPropTag = PR_SUBJECT_W };
            pv.Value.lpszW = (LPWSTR)L"Pushed by another connection";
            nm->lpVtbl->SetProps(nm, 1, &pv, NULL);
            nm->lpVtbl->SaveChanges(nm, 0);
            release(nm);
        }
        release(in2);
        if (lg2) {
            ULONG lf2 = 0;
            lg2->lpVtbl->Logoff(lg2, &lf2);
        }
        release(st2);
        release(lg2);
        t0 = now_ms();
        while (notified_added == 0 && now_ms() - t0 < 3000)
            Sleep(20); /* no calls on the first connection meanwhile */
        check(hr == S_OK && conn != 0 && h2 == S_OK && notified_added > 0,
              "IMAPITable::Advise: TABLE_ROW_ADDED delivered while idle, %lld ms after another connection saved "
              "a message (%ld notifications)",
              now_ms() - t0, (long)notified_any);
        hr = t->lpVtbl->Unadvise(t, conn);
        check(hr == S_OK && sink_refs == 0, "IMAPITable::Unadvise releases the sink (%ld refs)", (long)sink_refs);
        release(t);
        t = NULL;
    }

    /* a calendar item through its named properties */
    v = NULL;
    IMAPIFolder *cal = NULL;
    if (inbox && inbox->lpVtbl->GetProps(inbox, TAGS(PR_IPM_APPOINTMENT_ENTRYID), 0, &n, &v) == S_OK)
        cal = open_eid(st, &v[0].Value.bin, MAPI_FOLDER);
    h_free(v);
    check(cal != NULL, "Inbox PR_IPM_APPOINTMENT_ENTRYID opens the Calendar");
    if (cal && cal->lpVtbl->GetContentsTable(cal, MAPI_UNICODE, &t) == S_OK) {
        MAPINAMEID start = { (LPGUID)&PSETID_Appointment, MNID_ID, { .lID = 0x820D } };
        MAPINAMEID loc = { (LPGUID)&PSETID_Appointment, MNID_ID, { .lID = 0x8208 } };
        LPMAPINAMEID names[2] = { &start, &loc };
        LPSPropTagArray ids = NULL;
        hr = cal->lpVtbl->GetIDsFromNames(cal, 2, names, MAPI_CREATE, &ids);
        check(hr == S_OK && ids && ids->cValues == 2 && PROP_ID(ids->aulPropTag[0]) >= 0x8000,
              "GetIDsFromNames(PSETID_Appointment 0x820D, 0x8208) -> 0x%04lx, 0x%04lx",
              ids ? (unsigned long)PROP_ID(ids->aulPropTag[0]) : 0ul,
              ids ? (unsigned long)PROP_ID(ids->aulPropTag[1]) : 0ul);
        ULONG start_tag = ids ? PROP_TAG(PT_SYSTIME, PROP_ID(ids->aulPropTag[0])) : 0;
        ULONG loc_tag = ids ? PROP_TAG(PT_UNICODE, PROP_ID(ids->aulPropTag[1])) : 0;
        h_free(ids);
        t->lpVtbl->SetColumns(t, TAGS(PR_ENTRYID, PR_SUBJECT_W, PR_MESSAGE_CLASS_W, start_tag), 0);
        LPSRowSet rows = NULL;
        t->lpVtbl->QueryRows(t, 10, 0, &rows);
        int ok = rows && rows->cRows == 1 && !wcscmp(rows->aRow[0].lpProps[1].Value.lpszW, L"Standup") &&
                 !wcscmp(rows->aRow[0].lpProps[2].Value.lpszW, L"IPM.Appointment");
        /* 2023-11-15T09:00Z as FILETIME */
        ULONGLONG ft = ok ? (ULONGLONG)rows->aRow[0].lpProps[3].Value.li.QuadPart : 0;
        check(ok && rows->aRow[0].lpProps[3].ulPropTag == start_tag && ft == 133445124000000000ULL,
              "Calendar contents: \"Standup\", IPM.Appointment, start FILETIME %llu", ft);
        IMessage *ap = ok ? open_eid(st, &rows->aRow[0].lpProps[0].Value.bin, MAPI_MESSAGE) : NULL;
        free_rows(rows);
        v = NULL;
        if (ap && ap->lpVtbl->GetProps(ap, TAGS(loc_tag), MAPI_UNICODE, &n, &v) == S_OK)
            check(v[0].ulPropTag == loc_tag && !wcscmp(v[0].Value.lpszW, L"Room A"),
                  "appointment location (named property) \"%s\"", narrow(v[0].Value.lpszW));
        else
            check(0, "appointment opens and has its location");
        h_free(v);
        release(ap);
        release(t);
        t = NULL;
    }

    /* an associated (FAI) message, as Outlook keeps its category list in the
     * Calendar: saved, listed in the associated table only, read back, deleted */
    if (cal) {
        IMessage *fm = NULL;
        BYTE feb[64];
        SBinary fe = { 0, feb };
        hr = cal->lpVtbl->CreateMessage(cal, NULL, MAPI_ASSOCIATED, &fm);
        HRESULT hs = E_FAIL;
        if (fm) {
            SPropValue pv[2];
            pv[0].ulPropTag = PR_MESSAGE_CLASS_W;
            pv[0].Value.lpszW = (LPWSTR)L"IPM.Configuration.CategoryList";
            pv[1].ulPropTag = PR_SUBJECT_W;
            pv[1].Value.lpszW = (LPWSTR)L"Categories";
            fm->lpVtbl->SetProps(fm, 2, pv, NULL);
            hs = fm->lpVtbl->SaveChanges(fm, KEEP_OPEN_READWRITE);
            v = NULL;
            if (hs == S_OK && fm->lpVtbl->GetProps(fm, TAGS(PR_ENTRYID, PR_MESSAGE_FLAGS), 0, &n, &v) == S_OK &&
                v[0].ulPropTag == PR_ENTRYID && v[0].Value.bin.cb <= sizeof feb) {
                fe.cb = v[0].Value.bin.cb;
                memcpy(feb, v[0].Value.bin.lpb, fe.cb);
                hs = (v[1].Value.l & HARNESS_MSGFLAG_ASSOCIATED) ? S_OK : E_FAIL;
            }
            h_free(v);
            release(fm);
        }
        ULONG assoc_rows = 0, normal_rows = 0;
        IMAPITable *at = NULL;
        int listed = 0;
        if (cal->lpVtbl->GetContentsTable(cal, MAPI_ASSOCIATED | MAPI_UNICODE, &at) == S_OK) {
            at->lpVtbl->SetColumns(at, TAGS(PR_MESSAGE_CLASS_W), 0);
            at->lpVtbl->GetRowCount(at, 0, &assoc_rows);
            LPSRowSet rows = NULL;
            at->lpVtbl->QueryRows(at, 10, 0, &rows);
            listed = rows && rows->cRows == 1 && rows->aRow[0].lpProps[0].ulPropTag == PR_MESSAGE_CLASS_W &&
                     !wcscmp(rows->aRow[0].lpProps[0].Value.lpszW, L"IPM.Configuration.CategoryList");
            free_rows(rows);
            release(at);
        }
        normal_rows = row_count(cal);
        v = NULL;
        LONG count = -1;
        if (cal->lpVtbl->GetProps(cal, TAGS(HARNESS_PR_ASSOC_CONTENT_COUNT), 0, &n, &v) == S_OK)
            count = v[0].Value.l;
        h_free(v);
        check(hr == S_OK && hs == S_OK && fe.cb > 0 && assoc_rows == 1 && listed && normal_rows == 1 && count == 1,
              "CreateMessage(MAPI_ASSOCIATED) + SaveChanges: in the associated table only (%lu/%lu rows), "
              "PR_ASSOC_CONTENT_COUNT %ld",
              (unsigned long)assoc_rows, (unsigned long)normal_rows, (long)count);
        IMessage *back = fe.cb ? open_eid(st, &fe, MAPI_MESSAGE) : NULL;
        v = NULL;
        int same = back && back->lpVtbl->GetProps(back, TAGS(PR_SUBJECT_W), MAPI_UNICODE, &n, &v) == S_OK &&
                   v[0].ulPropTag == PR_SUBJECT_W && !wcscmp(v[0].Value.lpszW, L"Categories");
        h_free(v);
        release(back);
        check(same, "the FAI message opens by its entry id and reads back");
        ENTRYLIST fl = { 1, &fe };
        hr = fe.cb ? cal->lpVtbl->DeleteMessages(cal, &fl, 0, NULL, 0) : E_FAIL;
        assoc_rows = 99;
        if (cal->lpVtbl->GetContentsTable(cal, MAPI_ASSOCIATED, &at) == S_OK) {
            at->lpVtbl->GetRowCount(at, 0, &assoc_rows);
            release(at);
        }
        check(hr == S_OK && assoc_rows == 0, "DeleteMessages removes the FAI message (0x%08lx, %lu left)",
              (unsigned long)hr, (unsigned long)assoc_rows);
    }
    release(cal);

    /* CopyFolder: a folder holding a view (FAI) copied with it, then both deleted */
    if (inbox) {
        IMAPIFolder *src = NULL, *copy = NULL;
        IMessage *vm = NULL;
        HRESULT hc = inbox->lpVtbl->CreateFolder(inbox, FOLDER_GENERIC, (LPWSTR)L"Copy source", NULL, NULL,
                                                 MAPI_UNICODE | OPEN_IF_EXISTS, &src);
        if (src && (hc = src->lpVtbl->CreateMessage(src, NULL, MAPI_ASSOCIATED, &vm)) == S_OK) {
            SPropValue pv;
            pv.ulPropTag = PR_MESSAGE_CLASS_W;
            pv.Value.lpszW = (LPWSTR)L"IPM.Microsoft.FolderDesign.NamedView";
            vm->lpVtbl->SetProps(vm, 1, &pv, NULL);
            hc = vm->lpVtbl->SaveChanges(vm, 0);
        }
        release(vm);
        BYTE sb[64], cb[64];
        SBinary se = { 0, sb }, ce = { 0, cb };
        int have = hc == S_OK && find_folder(inbox, L"Copy source", &se, sb);
        HRESULT hcopy = have ? inbox->lpVtbl->CopyFolder(inbox, se.cb, (LPENTRYID)se.lpb, NULL, inbox,
                                                         (LPWSTR)L"Copied folder", 0, NULL,
                                                         MAPI_UNICODE | COPY_SUBFOLDERS)
                             : E_FAIL;
        LONG count = -1;
        if (hcopy == S_OK && find_folder(inbox, L"Copied folder", &ce, cb) &&
            (copy = open_eid(st, &ce, MAPI_FOLDER))) {
            v = NULL;
            if (copy->lpVtbl->GetProps(copy, TAGS(HARNESS_PR_ASSOC_CONTENT_COUNT), 0, &n, &v) == S_OK)
                count = v[0].Value.l;
            h_free(v);
        }
        check(hcopy == S_OK && count == 1,
              "CopyFolder copies a folder with its associated (FAI) messages (0x%08lx, %ld)", (unsigned long)hcopy,
              (long)count);
        release(copy);
        release(src);
        HRESULT hd = have ? inbox->lpVtbl->DeleteFolder(inbox, se.cb, (LPENTRYID)se.lpb, 0, NULL, DEL_MESSAGES)
                          : E_FAIL;
        HRESULT hd2 = ce.cb ? inbox->lpVtbl->DeleteFolder(inbox, ce.cb, (LPENTRYID)ce.lpb, 0, NULL, DEL_MESSAGES)
                            : E_FAIL;
        check(hd == S_OK && hd2 == S_OK, "DeleteFolder(DEL_MESSAGES) of the folder and its copy (0x%08lx, 0x%08lx)",
              (unsigned long)hd, (unsigned long)hd2);
    }

    /* SetMessageStatus / GetMessageStatus on a mail of the Inbox, then reset */
    if (inbox && unread_eid.cb) {
        ULONG before = 99, now = 99, reset = 99;
        LPENTRYID ue = (LPENTRYID)unread_eid.lpb;
        HRESULT h1 = inbox->lpVtbl->SetMessageStatus(inbox, unread_eid.cb, ue, 0x2, 0x2, &before);
        HRESULT h2 = inbox->lpVtbl->GetMessageStatus(inbox, unread_eid.cb, ue, 0, &now);
        HRESULT h3 = inbox->lpVtbl->SetMessageStatus(inbox, unread_eid.cb, ue, 0, 0x2, &reset);
        check(h1 == S_OK && h2 == S_OK && h3 == S_OK && before == 0 && now == 0x2 && reset == 0x2,
              "SetMessageStatus(MSGSTATUS_TAGGED) read back by GetMessageStatus (0x%lx), reset",
              (unsigned long)now);
    }

    /* a search folder in the Finder, as Outlook makes its Reminders and
     * To-Do folders: the Inbox's read mail (the unread one was read above), then deleted */
    if (inbox && !kill_mode) {
        IMAPIFolder *finder = NULL, *sf = NULL;
        v = NULL;
        if (st->lpVtbl->GetProps(st, TAGS(HARNESS_PR_FINDER_ENTRYID), 0, &n, &v) == S_OK &&
            v[0].ulPropTag == HARNESS_PR_FINDER_ENTRYID)
            finder = open_eid(st, &v[0].Value.bin, MAPI_FOLDER);
        h_free(v);
        HRESULT hc = finder ? finder->lpVtbl->CreateFolder(finder, FOLDER_SEARCH, (LPWSTR)L"Read mail (harness)", NULL,
                                                           NULL, MAPI_UNICODE, &sf)
                            : E_FAIL;
        SRestriction isread = { .rt = RES_BITMASK };
        isread.res.resBitMask.relBMR = 1; /* BMR_NEZ */
        isread.res.resBitMask.ulPropTag = PR_MESSAGE_FLAGS;
        isread.res.resBitMask.ulMask = MSGFLAG_READ;
        ENTRYLIST where = { 1, &inbox_bin };
        HRESULT hs = sf ? sf->lpVtbl->SetSearchCriteria(sf, &isread, &where, HARNESS_SHALLOW_SEARCH) : E_FAIL;
        ULONG found = 0, want = 0;
        IMAPITable *t = NULL;
        if (hs == S_OK && sf->lpVtbl->GetContentsTable(sf, MAPI_UNICODE, &t) == S_OK) {
            t->lpVtbl->GetRowCount(t, 0, &found);
            release(t);
        }
        if (inbox->lpVtbl->GetContentsTable(inbox, MAPI_UNICODE, &t) == S_OK) {
            if (t->lpVtbl->Restrict(t, &isread, 0) == S_OK)
                t->lpVtbl->GetRowCount(t, 0, &want);
            release(t);
        }
        v = NULL;
        LONG ftype = -1;
        if (sf && sf->lpVtbl->GetProps(sf, TAGS(HARNESS_PR_FOLDER_TYPE), 0, &n, &v) == S_OK)
            ftype = v[0].Value.l;
        h_free(v);
        check(hc == S_OK && hs == S_OK && want > 0 && found == want && ftype == FOLDER_SEARCH,
              "CreateFolder(FOLDER_SEARCH) in the Finder + SetSearchCriteria: %lu read Inbox messages listed "
              "(the Inbox has %lu; 0x%08lx, 0x%08lx)", (unsigned long)found, (unsigned long)want, (unsigned long)hc,
              (unsigned long)hs);
        LPSRestriction back = NULL;
        LPENTRYLIST folders = NULL;
        ULONG state = 0;
        HRESULT hg = sf ? sf->lpVtbl->GetSearchCriteria(sf, MAPI_UNICODE, &back, &folders, &state) : E_FAIL;
        check(hg == S_OK && back && back->rt == RES_BITMASK && back->res.resBitMask.ulMask == MSGFLAG_READ &&
                  folders && folders->cValues == 1 && folders->lpbin[0].cb == inbox_bin.cb &&
                  !memcmp(folders->lpbin[0].lpb, inbox_bin.lpb, inbox_bin.cb) && (state & HARNESS_SEARCH_RUNNING),
              "GetSearchCriteria gives the restriction, the Inbox and SEARCH_RUNNING (0x%08lx, state 0x%lx)",
              (unsigned long)hg, (unsigned long)state);
        h_free(back);
        h_free(folders);
        v = NULL;
        HRESULT hd = E_FAIL;
        if (sf && sf->lpVtbl->GetProps(sf, TAGS(PR_ENTRYID), 0, &n, &v) == S_OK && v[0].ulPropTag == PR_ENTRYID)
            hd = finder->lpVtbl->DeleteFolder(finder, v[0].Value.bin.cb, (LPENTRYID)v[0].Value.bin.lpb, 0, NULL, 0);
        h_free(v);
        check(hd == S_OK, "DeleteFolder of the search folder (0x%08lx)", (unsigned long)hd);
        release(sf);
        release(finder);
    }

    if (kill_mode && inbox) {
        /* The daemon goes silent, comes back, then dies mid-query. */
        IMAPITable *kt = NULL;
        inbox->lpVtbl->GetContentsTable(inbox, MAPI_UNICODE, &kt);
        LPSRowSet rows = NULL;
        if (kt) {
            kt->lpVtbl->SetColumns(kt, TAGS(PR_SUBJECT_W), 0);
            kt->lpVtbl->QueryRows(kt, 1, 0, &rows);
        }
        check(rows && rows->cRows == 1, "kill mode: Inbox table open, first row read");
        free_rows(rows);
        marker(markers, "stop-me");
        check(wait_marker(markers, "stopped", 20000) == 0, "outpostd stopped (SIGSTOP)");
        t0 = now_ms();
        rows = NULL;
        hr = kt ? kt->lpVtbl->QueryRows(kt, 1, 0, &rows) : E_FAIL;
        LONGLONG took = now_ms() - t0;
        check(hr == MAPI_E_NETWORK_ERROR && !rows && took >= 1500 && took < 8000,
              "QueryRows on a silent daemon gives up after the timeout: 0x%08lx in %lld ms", (unsigned long)hr, took);
        LPMAPIERROR e2 = NULL;
        if (kt)
            kt->lpVtbl->GetLastError(kt, hr, MAPI_UNICODE, &e2);
        check(e2 && e2->lpszError && wcsstr(e2->lpszError, L"outpostd"), "  GetLastError: \"%s\"",
              e2 ? narrow(e2->lpszError) : "(none)");
        h_free(e2);
        marker(markers, "continue-me");
        check(wait_marker(markers, "continued", 20000) == 0, "outpostd continued (SIGCONT)");
        v = NULL;
        hr = st->lpVtbl->GetProps(st, TAGS(PR_DISPLAY_NAME_W), MAPI_UNICODE, &n, &v);
        check(hr == S_OK, "the store reconnects on its next call (0x%08lx)", (unsigned long)hr);
        h_free(v);
        hr = kt ? kt->lpVtbl->QueryRows(kt, 1, 0, &rows) : E_FAIL;
        check(hr == MAPI_E_NETWORK_ERROR, "a table of the old connection stays dead: 0x%08lx", (unsigned long)hr);
        release(kt);
        kt = NULL;
        IMAPIFolder *in2 = open_eid(st, &inbox_bin, MAPI_FOLDER);
        if (in2)
            in2->lpVtbl->GetContentsTable(in2, MAPI_UNICODE, &kt);
        release(in2);
        if (kt)
            kt->lpVtbl->SetColumns(kt, TAGS(PR_SUBJECT_W), 0);
        check(kt != NULL, "a new Inbox table on the new connection");
        marker(markers, "kill-me");
        check(wait_marker(markers, "stopped-again", 20000) == 0, "outpostd stopped again; the script kills it in 1 s");
        t0 = now_ms();
        rows = NULL;
        hr = kt ? kt->lpVtbl->QueryRows(kt, 1, 0, &rows) : E_FAIL;
        took = now_ms() - t0;
        check(hr == MAPI_E_NETWORK_ERROR && !rows && took < 3500,
              "QueryRows in flight when outpostd is killed: 0x%08lx after %lld ms (before the timeout)",
              (unsigned long)hr, took);
        release(kt);
        t0 = now_ms();
        v = NULL;
        hr = st->lpVtbl->GetProps(st, TAGS(PR_DISPLAY_NAME_W), MAPI_UNICODE, &n, &v);
        took = now_ms() - t0;
        check(hr == MAPI_E_NETWORK_ERROR && !v && took < 4000,
              "with the daemon gone, IMsgStore::GetProps -> MAPI_E_NETWORK_ERROR in %lld ms", took);
        h_free(v);
    }

    release(inbox);
    release(top);
    release(root);
    log_off(prov, lg, st);
}

/* ---- sync mode: edits of several kinds on a cache synced from the simulator ---- */

#define PR_FLAG_STATUS PROP_TAG(PT_LONG, 0x1090)
#define PR_GIVEN_NAME_W PROP_TAG(PT_UNICODE, 0x3A06)
#define PR_SURNAME_W PROP_TAG(PT_UNICODE, 0x3A11)
#define PR_IPM_CONTACT_ENTRYID PROP_TAG(PT_BINARY, 0x36D1)
#define PR_IPM_DRAFTS_ENTRYID PROP_TAG(PT_BINARY, 0x36D7)

/* The rows of `f`'s contents table whose `tag` equals `value`: their count,
 * and the entry id of the first (copied to out/buf, if out). */
static ULONG rows_where(IMAPIFolder *f, ULONG tag, const WCHAR *value, SBinary *out, BYTE *buf)
{
    IMAPITable *t = NULL;
    ULONG cnt = 0;
    if (!f || f->lpVtbl->GetContentsTable(f, MAPI_UNICODE, &t) != S_OK)
        return 0;
    SPropValue pv = { .ulPropTag = tag };
    pv.Value.lpszW = (LPWSTR)value;
    SRestriction r = { .rt = RES_PROPERTY };
    r.res.resProperty.relop = RELOP_EQ;
    r.res.resProperty.ulPropTag = tag;
    r.res.resProperty.lpProp = &pv;
    LPSRowSet rows = NULL;
    if (t->lpVtbl->SetColumns(t, TAGS(PR_ENTRYID, tag), 0) == S_OK && t->lpVtbl->Restrict(t, &r, 0) == S_OK &&
        t->lpVtbl->GetRowCount(t, 0, &cnt) == S_OK && out && cnt &&
        t->lpVtbl->QueryRows(t, 1, 0, &rows) == S_OK && rows->cRows == 1 &&
        rows->aRow[0].lpProps[0].ulPropTag == PR_ENTRYID && rows->aRow[0].lpProps[0].Value.bin.cb <= 64) {
        memcpy(buf, rows->aRow[0].lpProps[0].Value.bin.lpb, rows->aRow[0].lpProps[0].Value.bin.cb);
        out->cb = rows->aRow[0].lpProps[0].Value.bin.cb;
        out->lpb = buf;
    }
    free_rows(rows);
    release(t);
    return cnt;
}

static ULONG row_count(IMAPIFolder *f)
{
    IMAPITable *t = NULL;
    ULONG cnt = 0;
    if (f && f->lpVtbl->GetContentsTable(f, MAPI_UNICODE, &t) == S_OK) {
        t->lpVtbl->GetRowCount(t, 0, &cnt);
        release(t);
    }
    return cnt;
}

/* Opens the folder whose entry id is `tag` on `from` (the Inbox carries the
 * special folders' entry ids, as Outlook reads them). */
static IMAPIFolder *special_folder(IMsgStore *st, IMAPIFolder *from, ULONG tag)
{
    ULONG n = 0;
    LPSPropValue v = NULL;
    IMAPIFolder *f = NULL;
    if (from && from->lpVtbl->GetProps(from, TAGS(tag), 0, &n, &v) == S_OK && v[0].ulPropTag == tag)
        f = open_eid(st, &v[0].Value.bin, MAPI_FOLDER);
    h_free(v);
    return f;
}

static SPropValue str_prop(ULONG tag, const WCHAR *value)
{
    SPropValue v = { .ulPropTag = tag };
    v.Value.lpszW = (LPWSTR)value;
    return v;
}

/* Creates a message in `f` with `n` properties and saves it. */
static HRESULT save_new(IMAPIFolder *f, ULONG n, SPropValue *pv)
{
    IMessage *m = NULL;
    HRESULT hr = f ? f->lpVtbl->CreateMessage(f, NULL, 0, &m) : MAPI_E_NOT_FOUND;
    if (hr == S_OK) {
        LPSPropProblemArray probs = NULL;
        hr = m->lpVtbl->SetProps(m, n, pv, &probs);
        if (hr == S_OK && probs && probs->cProblem)
            hr = MAPI_E_CALL_FAILED;
        h_free(probs);
        if (hr == S_OK)
            hr = m->lpVtbl->SaveChanges(m, 0);
        release(m);
    }
    return hr;
}

/* The plan, a UTF-8 file written by tests/mapi/wine_sync.py: one edit per
 * line, "verb<TAB>text". Verbs: inbox (the Inbox's row count), read, flag,
 * move (to Archive), delete (subjects of Inbox messages), edit ("old
 * subject<TAB>new subject" of an Inbox message: subject and body edited and
 * saved, as Outlook's Actions > Edit Message does), draft (a new message in
 * Drafts), contact (a new contact in Contacts), event (a new appointment in
 * the Calendar, 2025-06-16 14:00-15:00 UTC). */
static void sync_session(MSPROVIDERINIT *init, const char *plan_path)
{
    FILE *plan = fopen(plan_path, "rb");
    check(plan != NULL, "sync mode: plan %s", plan_path);
    if (!plan)
        return;
    LPMSPROVIDER prov = NULL;
    ULONG ver = 0;
    HRESULT hr = init(GetModuleHandleW(NULL), NULL, h_alloc, h_more, h_free, 0, CURRENT_SPI_VERSION, &ver, &prov);
    LPMSLOGON lg = NULL;
    LPMDB st = NULL;
    if (hr == S_OK)
        hr = prov->lpVtbl->Logon(prov, &support, 0, NULL, 0, NULL, MAPI_UNICODE, NULL, NULL, NULL, NULL, &lg, &st);
    check(hr == S_OK && lg && st, "MSProviderInit + Logon to outpostd on the synced cache (0x%08lx)", (unsigned long)hr);
    if (hr != S_OK) {
        release(prov);
        fclose(plan);
        return;
    }
    ULONG n = 0;
    LPSPropValue v = NULL;
    IMAPIFolder *top = NULL;
    if (st->lpVtbl->GetProps(st, TAGS(PR_IPM_SUBTREE_ENTRYID), 0, &n, &v) == S_OK &&
        v[0].ulPropTag == PR_IPM_SUBTREE_ENTRYID)
        top = open_eid(st, &v[0].Value.bin, MAPI_FOLDER);
    h_free(v);
    BYTE ib[64], ab[64];
    SBinary inbox_bin = { 0, ib }, archive_bin = { 0, ab };
    int have_inbox = top && find_folder(top, L"Inbox", &inbox_bin, ib);
    int have_archive = top && find_folder(top, L"Archive", &archive_bin, ab);
    IMAPIFolder *inbox = have_inbox ? open_eid(st, &inbox_bin, MAPI_FOLDER) : NULL;
    IMAPIFolder *archive = have_archive ? open_eid(st, &archive_bin, MAPI_FOLDER) : NULL;
    IMAPIFolder *drafts = special_folder(st, inbox, PR_IPM_DRAFTS_ENTRYID);
    IMAPIFolder *contacts = special_folder(st, inbox, PR_IPM_CONTACT_ENTRYID);
    IMAPIFolder *cal = special_folder(st, inbox, PR_IPM_APPOINTMENT_ENTRYID);
    check(inbox && archive && drafts && contacts && cal,
          "the synced hierarchy: Inbox, Archive, and Drafts, Contacts, Calendar from the Inbox's special entry ids");

    char line[2048];
    WCHAR text[1024];
    while (fgets(line, sizeof line, plan)) {
        line[strcspn(line, "\r\n")] = 0;
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = 0;
        const char *verb = line, *arg = tab + 1;
        MultiByteToWideChar(CP_UTF8, 0, arg, -1, text, 1024);
        BYTE eb[64];
        SBinary eid = { 0, eb };
        ENTRYLIST list = { 1, &eid };
        if (!strcmp(verb, "inbox")) {
            ULONG cnt = row_count(inbox);
            check(cnt == (ULONG)atol(arg), "the Inbox contents table has the %s messages the server has (%lu)", arg,
                  (unsigned long)cnt);
        } else if (!strcmp(verb, "read")) {
            ULONG found = rows_where(inbox, PR_SUBJECT_W, text, &eid, eb);
            IMessage *m = found == 1 ? open_eid(st, &eid, MAPI_MESSAGE) : NULL;
            IStream *s = NULL;
            STATSTG stat = { 0 };
            hr = m ? m->lpVtbl->OpenProperty(m, PR_BODY_W, &IID_IStream, 0, 0, (LPUNKNOWN *)&s) : E_FAIL;
            if (s) {
                s->lpVtbl->Stat(s, &stat, STATFLAG_NONAME);
                release(s);
            }
            check(hr == S_OK && stat.cbSize.QuadPart > 0, "read \"%s\": its body stream has %llu bytes", arg,
                  (unsigned long long)stat.cbSize.QuadPart);
            hr = m ? m->lpVtbl->SetReadFlag(m, 0) : E_FAIL;
            v = NULL;
            if (m)
                m->lpVtbl->GetProps(m, TAGS(PR_MESSAGE_FLAGS), 0, &n, &v);
            check(hr == S_OK && v && (v[0].Value.l & MSGFLAG_READ), "  SetReadFlag -> MSGFLAG_READ");
            h_free(v);
            release(m);
        } else if (!strcmp(verb, "flag")) {
            ULONG found = rows_where(inbox, PR_SUBJECT_W, text, &eid, eb);
            IMessage *m = found == 1 ? open_eid(st, &eid, MAPI_MESSAGE) : NULL;
            SPropValue pv = { .ulPropTag = PR_FLAG_STATUS };
            pv.Value.l = 2; /* followupFlagged */
            hr = m ? m->lpVtbl->SetProps(m, 1, &pv, NULL) : E_FAIL;
            if (hr == S_OK)
                hr = m->lpVtbl->SaveChanges(m, 0);
            release(m);
            m = found == 1 ? open_eid(st, &eid, MAPI_MESSAGE) : NULL;
            v = NULL;
            if (m)
                m->lpVtbl->GetProps(m, TAGS(PR_FLAG_STATUS), 0, &n, &v);
            check(hr == S_OK && v && v[0].ulPropTag == PR_FLAG_STATUS && v[0].Value.l == 2,
                  "flag \"%s\": PR_FLAG_STATUS 2 saved and read back", arg);
            h_free(v);
            release(m);
        } else if (!strcmp(verb, "move")) {
            ULONG before = row_count(archive);
            hr = rows_where(inbox, PR_SUBJECT_W, text, &eid, eb) == 1
                     ? inbox->lpVtbl->CopyMessages(inbox, &list, NULL, archive, 0, NULL, MAPI_MOVE)
                     : MAPI_E_NOT_FOUND;
            check(hr == S_OK && rows_where(inbox, PR_SUBJECT_W, text, NULL, NULL) == 0 &&
                      rows_where(archive, PR_SUBJECT_W, text, NULL, NULL) == 1 && row_count(archive) == before + 1,
                  "move \"%s\" to Archive (CopyMessages MAPI_MOVE, 0x%08lx)", arg, (unsigned long)hr);
        } else if (!strcmp(verb, "delete")) {
            hr = rows_where(inbox, PR_SUBJECT_W, text, &eid, eb) == 1
                     ? inbox->lpVtbl->DeleteMessages(inbox, &list, 0, NULL, 0)
                     : MAPI_E_NOT_FOUND;
            check(hr == S_OK && rows_where(inbox, PR_SUBJECT_W, text, NULL, NULL) == 0,
                  "delete \"%s\" (DeleteMessages, 0x%08lx)", arg, (unsigned long)hr);
        } else if (!strcmp(verb, "edit")) {
            WCHAR *to = wcschr(text, L'\t');
            if (to)
                *to++ = 0;
            ULONG found = to ? rows_where(inbox, PR_SUBJECT_W, text, &eid, eb) : 0;
            IMessage *m = found == 1 ? open_eid(st, &eid, MAPI_MESSAGE) : NULL;
            static const WCHAR body[] = L"Edited in Outlook (the Wine harness).";
            SPropValue pv[2] = { str_prop(PR_SUBJECT_W, to), str_prop(PR_BODY_W, body) };
            hr = m ? m->lpVtbl->SetProps(m, 2, pv, NULL) : MAPI_E_NOT_FOUND;
            if (hr == S_OK)
                hr = m->lpVtbl->SaveChanges(m, KEEP_OPEN_READWRITE);
            /* the saved message replaced the old one: the open object is the new one */
            v = NULL;
            BYTE nb[64];
            SBinary neid = { 0, nb };
            int same = 0, has_body = 0;
            ULONG listed = 0;
            if (hr == S_OK && m->lpVtbl->GetProps(m, TAGS(PR_ENTRYID, PR_BODY_W), 0, &n, &v) == S_OK &&
                v[0].ulPropTag == PR_ENTRYID) {
                has_body = v[1].ulPropTag == PR_BODY_W && wcsstr(v[1].Value.lpszW, body) != NULL;
                listed = rows_where(inbox, PR_SUBJECT_W, to, &neid, nb);
                same = listed == 1 && neid.cb == v[0].Value.bin.cb && !memcmp(nb, v[0].Value.bin.lpb, neid.cb);
            }
            h_free(v);
            release(m);
            check(hr == S_OK && has_body && same && rows_where(inbox, PR_SUBJECT_W, text, NULL, NULL) == 0,
                  "edit \"%s\": subject and body saved (0x%08lx, body %d), the open message is the one the Inbox "
                  "lists (%lu listed, same entry id %d)", arg, (unsigned long)hr, has_body, (unsigned long)listed,
                  same);
        } else if (!strcmp(verb, "draft")) {
            SPropValue pv[4] = { str_prop(PR_MESSAGE_CLASS_W, L"IPM.Note"), str_prop(PR_SUBJECT_W, text),
                                 str_prop(PR_BODY_W, L"Drafted in Outlook (the Wine harness)."),
                                 { .ulPropTag = PR_MESSAGE_FLAGS } };
            pv[3].Value.l = (LONG)(MSGFLAG_UNSENT | MSGFLAG_READ);
            hr = save_new(drafts, 4, pv);
            check(hr == S_OK && rows_where(drafts, PR_SUBJECT_W, text, NULL, NULL) == 1,
                  "draft \"%s\" saved in Drafts (0x%08lx)", arg, (unsigned long)hr);
        } else if (!strcmp(verb, "contact")) {
            WCHAR given[256] = { 0 }, *sp;
            wcsncpy(given, text, 255);
            const WCHAR *surname = L"";
            if ((sp = wcschr(given, L' '))) {
                *sp = 0;
                surname = sp + 1;
            }
            SPropValue pv[5] = { str_prop(PR_MESSAGE_CLASS_W, L"IPM.Contact"), str_prop(PR_DISPLAY_NAME_W, text),
                                 str_prop(PR_SUBJECT_W, text), str_prop(PR_GIVEN_NAME_W, given),
                                 str_prop(PR_SURNAME_W, surname) };
            hr = save_new(contacts, 5, pv);
            check(hr == S_OK && rows_where(contacts, PR_DISPLAY_NAME_W, text, NULL, NULL) == 1,
                  "contact \"%s\" saved in Contacts (0x%08lx)", arg, (unsigned long)hr);
        } else if (!strcmp(verb, "event")) {
            MAPINAMEID start = { (LPGUID)&PSETID_Appointment, MNID_ID, { .lID = 0x820D } };
            MAPINAMEID end = { (LPGUID)&PSETID_Appointment, MNID_ID, { .lID = 0x820E } };
            MAPINAMEID loc = { (LPGUID)&PSETID_Appointment, MNID_ID, { .lID = 0x8208 } };
            LPMAPINAMEID names[3] = { &start, &end, &loc };
            LPSPropTagArray ids = NULL;
            hr = cal ? cal->lpVtbl->GetIDsFromNames(cal, 3, names, MAPI_CREATE, &ids) : E_FAIL;
            if (hr == S_OK && ids && ids->cValues == 3) {
                /* 2025-06-16T14:00Z and 15:00Z as FILETIME */
                const ULONGLONG t0 = 133945560000000000ULL, hour = 36000000000ULL;
                SPropValue pv[5] = { str_prop(PR_MESSAGE_CLASS_W, L"IPM.Appointment"), str_prop(PR_SUBJECT_W, text),
                                     { .ulPropTag = PROP_TAG(PT_SYSTIME, PROP_ID(ids->aulPropTag[0])) },
                                     { .ulPropTag = PROP_TAG(PT_SYSTIME, PROP_ID(ids->aulPropTag[1])) },
                                     str_prop(PROP_TAG(PT_UNICODE, PROP_ID(ids->aulPropTag[2])), L"Wine room") };
                pv[2].Value.li.QuadPart = (LONGLONG)t0;
                pv[3].Value.li.QuadPart = (LONGLONG)(t0 + hour);
                hr = save_new(cal, 5, pv);
            } else if (hr == S_OK) {
                hr = E_FAIL;
            }
            h_free(ids);
            check(hr == S_OK && rows_where(cal, PR_SUBJECT_W, text, NULL, NULL) == 1,
                  "appointment \"%s\" saved in the Calendar (0x%08lx)", arg, (unsigned long)hr);
        } else {
            check(0, "plan: unknown verb %s", verb);
        }
    }
    fclose(plan);
    release(inbox);
    release(archive);
    release(drafts);
    release(contacts);
    release(cal);
    release(top);
    log_off(prov, lg, st);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    int kill_mode = argc == 6 && !strcmp(argv[4], "kill"), sync_mode = argc == 6 && !strcmp(argv[4], "sync");
    if (argc != 4 && !kill_mode && !sync_mode) {
        fprintf(stderr, "usage: mapi_harness DLL ADDRESS SECRET_FILE [kill MARKER_DIR | sync PLAN_FILE]\n");
        return 2;
    }
    MultiByteToWideChar(CP_UTF8, 0, argv[2], -1, cfg_address, 128);
    MultiByteToWideChar(CP_UTF8, 0, argv[3], -1, cfg_secret, MAX_PATH);
    HMODULE dll = LoadLibraryA(argv[1]);
    MSPROVIDERINIT *init = dll ? (MSPROVIDERINIT *)(void *)GetProcAddress(dll, "MSProviderInit") : NULL;
    MSGSERVICEENTRY *svc = dll ? (MSGSERVICEENTRY *)(void *)GetProcAddress(dll, "ServiceEntry") : NULL;
    check(dll && init && svc, "LoadLibrary(%s), GetProcAddress(MSProviderInit, ServiceEntry)", argv[1]);
    if (svc && !sync_mode)
        service_entry(svc);
    if (init && sync_mode)
        sync_session(init, argv[5]);
    else if (init)
        session(init, kill_mode, kill_mode ? argv[5] : NULL);
    check(live_blocks == 0, "every MAPI block the provider returned was freed (%ld left)", (long)live_blocks);
    if (dll)
        FreeLibrary(dll);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
