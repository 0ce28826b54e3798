/* frontends/mapi/win32/ms_provider.c — the provider's entry points
 * (MSProviderInit, ServiceEntry), IMSProvider (with IMAPIProviderShutdown)
 * and IMSLogon.
 *
 * Configuration, first found wins: the provider's profile section
 * (PR_OUTPOST_ADDRESS "127.0.0.1:6144", PR_OUTPOST_SECRET_PATH, written by
 * ServiceEntry), then the environment (OUTPOST_MAPI_ADDRESS,
 * OUTPOST_MAPI_SECRET_FILE), then the defaults (127.0.0.1:6144 and
 * %LOCALAPPDATA%\Outpost\mapi.secret). OUTPOST_MAPI_TIMEOUT_MS bounds every
 * wait for the daemon (default 15000); OUTPOST_MAPI_TRACE=<file> logs every
 * call.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms.h"

static const IMSProviderVtbl provider_vtbl;
static const IMAPIProviderShutdownVtbl shutdown_vtbl;

/* ---- configuration ---- */

typedef struct ms_config {
    char host[64];
    uint16_t port;
    char secret_path[MAX_PATH * 3];
    int timeout_ms;
} ms_config;

static int parse_address(const char *a, ms_config *c)
{
    const char *colon = strrchr(a, ':');
    if (!colon || colon == a || (size_t)(colon - a) >= sizeof c->host)
        return -1;
    long port = strtol(colon + 1, NULL, 10);
    if (port <= 0 || port > 65535)
        return -1;
    memcpy(c->host, a, (size_t)(colon - a));
    c->host[colon - a] = '\0';
    if (!strcmp(c->host, "localhost"))
        strcpy(c->host, "127.0.0.1");
    c->port = (uint16_t)port;
    return 0;
}

static char *env_utf8(const WCHAR *name)
{
    WCHAR buf[MAX_PATH * 2];
    DWORD n = GetEnvironmentVariableW(name, buf, MAX_PATH * 2);
    return n > 0 && n < MAX_PATH * 2 ? ms_utf8(buf) : NULL;
}

static void read_config(const ms_alloc_fns *a, LPMAPISUP sup, ms_config *c)
{
    memset(c, 0, sizeof *c);
    strcpy(c->host, "127.0.0.1");
    c->port = 6144;
    c->timeout_ms = 15000;
    char *addr = NULL, *secret = NULL;
    LPPROFSECT ps = NULL;
    if (sup && sup->lpVtbl->OpenProfileSection(sup, NULL, 0, &ps) == S_OK && ps) {
        union {
            SPropTagArray t;
            ULONG raw[3];
        } tags = { .raw = { 2, PR_OUTPOST_ADDRESS_W, PR_OUTPOST_SECRET_PATH_W } };
        ULONG n = 0;
        LPSPropValue v = NULL;
        if (SUCCEEDED(ps->lpVtbl->GetProps(ps, &tags.t, MAPI_UNICODE, &n, &v)) && v) {
            for (ULONG i = 0; i < n; i++) {
                if (v[i].ulPropTag == PR_OUTPOST_ADDRESS_W)
                    addr = ms_utf8(v[i].Value.lpszW);
                else if (v[i].ulPropTag == PR_OUTPOST_SECRET_PATH_W)
                    secret = ms_utf8(v[i].Value.lpszW);
            }
            a->free(v);
        }
        ps->lpVtbl->Release(ps);
    }
    if (!addr)
        addr = env_utf8(L"OUTPOST_MAPI_ADDRESS");
    if (!secret)
        secret = env_utf8(L"OUTPOST_MAPI_SECRET_FILE");
    if (addr && parse_address(addr, c) != 0)
        MS_TRACE("config: address '%s' is not host:port; using 127.0.0.1:6144", addr);
    if (secret) {
        snprintf(c->secret_path, sizeof c->secret_path, "%s", secret);
    } else {
        char *local = env_utf8(L"LOCALAPPDATA");
        snprintf(c->secret_path, sizeof c->secret_path, "%s\\Outpost\\mapi.secret", local ? local : ".");
        free(local);
    }
    char *to = env_utf8(L"OUTPOST_MAPI_TIMEOUT_MS");
    if (to && atoi(to) > 0)
        c->timeout_ms = atoi(to);
    free(to);
    free(addr);
    free(secret);
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Reads the secret outpostd made; the provider never creates one. */
static int read_secret(const char *path, uint8_t out[MAPI_WIRE_SECRET_LEN], char *err, size_t errlen)
{
    WCHAR *w = ms_wide(path);
    HANDLE h = w ? CreateFileW(w, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL)
                 : INVALID_HANDLE_VALUE;
    free(w);
    if (h == INVALID_HANDLE_VALUE) {
        snprintf(err, errlen, "cannot read the secret file %s: start outpostd once (it makes it) or set "
                              "PR_OUTPOST_SECRET_PATH", path);
        return -1;
    }
    char buf[2 * MAPI_WIRE_SECRET_LEN + 8];
    DWORD n = 0;
    BOOL ok = ReadFile(h, buf, sizeof buf, &n, NULL);
    CloseHandle(h);
    for (size_t i = 0; ok && n >= 2 * MAPI_WIRE_SECRET_LEN && i < MAPI_WIRE_SECRET_LEN; i++) {
        int x = hexval(buf[2 * i]), y = hexval(buf[2 * i + 1]);
        if (x < 0 || y < 0)
            ok = FALSE;
        else
            out[i] = (uint8_t)(x << 4 | y);
    }
    if (!ok || n < 2 * MAPI_WIRE_SECRET_LEN) {
        snprintf(err, errlen, "%s is not an Outpost secret file (64 hex digits)", path);
        return -1;
    }
    return 0;
}

/* ---- IMSLogon ---- */

static HRESULT OMAPI_CALL lg_QueryInterface(void *This, REFIID riid, LPVOID *ppv)
{
    ms_logon *lg = This;
    if (!ppv)
        return MAPI_E_INVALID_PARAMETER;
    *ppv = NULL;
    if (!IsEqualIID(riid, &IID_IUnknown) && !IsEqualIID(riid, &IID_IMSLogon))
        return MAPI_E_INTERFACE_NOT_SUPPORTED;
    InterlockedIncrement(&lg->refs);
    *ppv = lg;
    return S_OK;
}

static ULONG OMAPI_CALL lg_AddRef(void *This) { return (ULONG)InterlockedIncrement(&((ms_logon *)This)->refs); }

static ULONG OMAPI_CALL lg_Release(void *This)
{
    ms_logon *lg = This;
    LONG n = InterlockedDecrement(&lg->refs);
    if (n == 0) {
        MS_TRACE("IMSLogon::Release -> freed; releasing IMAPISupport");
        ms_conn_stop(lg->conn);
        ms_conn_release(lg->conn);
        DeleteCriticalSection(&lg->store_lock);
        if (lg->sup)
            lg->sup->lpVtbl->Release(lg->sup);
        IMSProvider *p = (IMSProvider *)lg->prov;
        p->lpVtbl->Release(p);
        free(lg);
    }
    return (ULONG)n;
}

void ms_logon_release_store(ms_logon *lg) { lg->store = NULL; }

static HRESULT OMAPI_CALL lg_GetLastError(void *This, HRESULT hResult, ULONG ulFlags, LPMAPIERROR *lppMAPIError)
{
    ms_logon *lg = This;
    if (!lppMAPIError)
        return MAPI_E_INVALID_PARAMETER;
    return ms_make_error(&lg->a, ulFlags, lg->conn->last_error[0] ? lg->conn->last_error : ms_hr_name(hResult),
                         lppMAPIError);
}

static HRESULT OMAPI_CALL lg_Logoff(void *This, ULONG *lpulFlags)
{
    ms_logon *lg = This;
    (void)lpulFlags;
    lg->logged_off = 1;
    return ms_ret(S_OK, "IMSLogon::Logoff");
}

static HRESULT OMAPI_CALL lg_OpenEntry(void *This, ULONG cbEntryID, LPENTRYID lpEntryID, LPCIID lpInterface,
                                       ULONG ulFlags, ULONG *lpulObjType, LPUNKNOWN *lppUnk)
{
    ms_logon *lg = This;
    (void)lpInterface;
    return ms_ret(ms_open_entry(lg, cbEntryID, lpEntryID, ulFlags, lpulObjType, lppUnk),
                  "IMSLogon::OpenEntry(cbEntryID=%lu, ulFlags=0x%lx)", (unsigned long)cbEntryID,
                  (unsigned long)ulFlags);
}

static HRESULT OMAPI_CALL lg_CompareEntryIDs(void *This, ULONG cb1, LPENTRYID e1, ULONG cb2, LPENTRYID e2, ULONG ulFlags,
                                             ULONG *lpulResult)
{
    ms_logon *lg = This;
    if (!lg->store)
        return MAPI_E_CALL_FAILED;
    return ms_store_vtbl.CompareEntryIDs(lg->store, cb1, e1, cb2, e2, ulFlags, lpulResult);
}

static HRESULT OMAPI_CALL lg_Advise(void *This, ULONG cbEntryID, LPENTRYID lpEntryID, ULONG ulEventMask,
                                    LPMAPIADVISESINK lpAdviseSink, ULONG_PTR *lpulConnection)
{
    ms_logon *lg = This;
    if (!lg->store)
        return MAPI_E_CALL_FAILED;
    return ms_store_vtbl.Advise(lg->store, cbEntryID, lpEntryID, ulEventMask, lpAdviseSink, lpulConnection);
}

static HRESULT OMAPI_CALL lg_Unadvise(void *This, ULONG_PTR ulConnection)
{
    ms_logon *lg = This;
    if (!lg->store)
        return MAPI_E_CALL_FAILED;
    return ms_store_vtbl.Unadvise(lg->store, ulConnection);
}

static HRESULT OMAPI_CALL lg_OpenStatusEntry(void *This, LPCIID lpInterface, ULONG ulFlags, ULONG *lpulObjType,
                                             LPVOID *lppEntry)
{
    (void)This, (void)lpInterface, (void)ulFlags;
    if (lpulObjType)
        *lpulObjType = 0;
    if (lppEntry)
        *lppEntry = NULL;
    return ms_ret(MAPI_E_NO_SUPPORT, "IMSLogon::OpenStatusEntry");
}

const IMSLogonVtbl ms_logon_vtbl = {
    lg_QueryInterface, lg_AddRef, lg_Release, lg_GetLastError, lg_Logoff, lg_OpenEntry, lg_CompareEntryIDs,
    lg_Advise, lg_Unadvise, lg_OpenStatusEntry,
};

/* ---- IMSProvider ---- */

static ms_provider *from_shutdown(void *This)
{
    return (ms_provider *)((char *)This - offsetof(ms_provider, shutdownVtbl));
}

static HRESULT OMAPI_CALL prov_QueryInterface(void *This, REFIID riid, LPVOID *ppv)
{
    ms_provider *p = This;
    if (!ppv)
        return MAPI_E_INVALID_PARAMETER;
    *ppv = NULL;
    if (IsEqualIID(riid, &IID_IUnknown) || IsEqualIID(riid, &IID_IMSProvider))
        *ppv = p;
    else if (IsEqualIID(riid, &IID_IMAPIProviderShutdown))
        *ppv = &p->shutdownVtbl;
    else
        return MAPI_E_INTERFACE_NOT_SUPPORTED;
    InterlockedIncrement(&p->refs);
    return S_OK;
}

static ULONG OMAPI_CALL prov_AddRef(void *This) { return (ULONG)InterlockedIncrement(&((ms_provider *)This)->refs); }

static ULONG OMAPI_CALL prov_Release(void *This)
{
    ms_provider *p = This;
    LONG n = InterlockedDecrement(&p->refs);
    if (n == 0) {
        MS_TRACE("IMSProvider::Release -> freed");
        free(p);
    }
    return (ULONG)n;
}

static HRESULT OMAPI_CALL prov_Shutdown(void *This, ULONG *lpulFlags)
{
    (void)This, (void)lpulFlags;
    return ms_ret(S_OK, "IMSProvider::Shutdown");
}

static HRESULT logon(ms_provider *p, LPMAPISUP sup, ULONG cbEntryID, LPENTRYID lpEntryID, ULONG ulFlags,
                     LPMAPIERROR *lppMAPIError, LPMSLOGON *lppMSLogon, LPMDB *lppMDB)
{
    if (!sup || !lppMSLogon || !lppMDB)
        return MAPI_E_INVALID_PARAMETER;
    *lppMSLogon = NULL;
    *lppMDB = NULL;
    if (lppMAPIError)
        *lppMAPIError = NULL;
    mapi_eid e;
    if (lpEntryID && cbEntryID && (mapi_eid_decode((const uint8_t *)lpEntryID, cbEntryID, &e) != 0 ||
                                   e.kind != MAPI_EID_STORE))
        return MAPI_E_UNKNOWN_ENTRYID;
    ms_config cfg;
    read_config(&p->a, sup, &cfg);
    char err[512];
    uint8_t secret[MAPI_WIRE_SECRET_LEN];
    ms_conn *conn = NULL;
    HRESULT hr = S_OK;
    if (read_secret(cfg.secret_path, secret, err, sizeof err) != 0) {
        hr = MAPI_E_FAILONEPROVIDER;
    } else if (!(conn = ms_conn_new(cfg.host, cfg.port, secret, cfg.timeout_ms))) {
        hr = MAPI_E_NOT_ENOUGH_MEMORY;
        snprintf(err, sizeof err, "out of memory");
    } else if ((hr = ms_conn_ensure(conn)) != S_OK) {
        snprintf(err, sizeof err, "%s", conn->last_error);
        /* The store cannot open without its daemon: tell MAPI to skip this
         * provider rather than fail the whole profile. */
        hr = MAPI_E_FAILONEPROVIDER;
    }
    SecureZeroMemory(secret, sizeof secret);
    if (hr != S_OK) {
        MS_TRACE("IMSProvider::Logon: %s", err);
        if (lppMAPIError)
            ms_make_error(&p->a, ulFlags, err, lppMAPIError);
        ms_conn_release(conn);
        return hr;
    }
    /* Entry ids carry the store GUID: MAPI routes them to us by it. */
    MAPIUID uid;
    memcpy(uid.ab, conn->guid, 16);
    hr = sup->lpVtbl->SetProviderUID(sup, &uid, 0);
    if (hr != S_OK) {
        ms_conn_release(conn);
        return hr;
    }
    ms_logon *lg = calloc(1, sizeof *lg);
    if (!lg) {
        ms_conn_release(conn);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    lg->lpVtbl = &ms_logon_vtbl;
    lg->refs = 1;
    InitializeCriticalSection(&lg->store_lock);
    lg->prov = p;
    prov_AddRef(p);
    lg->a = p->a;
    lg->sup = sup;
    sup->lpVtbl->AddRef(sup);
    lg->conn = conn;
    ms_obj *store;
    hr = ms_obj_new(lg, MS_STORE, 0, 0, &store);
    if (hr != S_OK) {
        lg_Release(lg);
        return hr;
    }
    lg->store = store;
    *lppMSLogon = (LPMSLOGON)lg;
    *lppMDB = (LPMDB)store;
    return S_OK;
}

static HRESULT OMAPI_CALL prov_Logon(void *This, LPMAPISUP lpMAPISup, ULONG_PTR ulUIParam, LPWSTR lpszProfileName,
                                     ULONG cbEntryID, LPENTRYID lpEntryID, ULONG ulFlags, LPCIID lpInterface,
                                     ULONG *lpcbSpoolSecurity, LPBYTE *lppbSpoolSecurity, LPMAPIERROR *lppMAPIError,
                                     LPMSLOGON *lppMSLogon, LPMDB *lppMDB)
{
    (void)ulUIParam, (void)lpszProfileName, (void)lpInterface;
    if (lpcbSpoolSecurity)
        *lpcbSpoolSecurity = 0;
    if (lppbSpoolSecurity)
        *lppbSpoolSecurity = NULL;
    HRESULT hr = logon(This, lpMAPISup, cbEntryID, lpEntryID, ulFlags, lppMAPIError, lppMSLogon, lppMDB);
    return ms_ret(hr, "IMSProvider::Logon(cbEntryID=%lu, ulFlags=0x%lx)", (unsigned long)cbEntryID,
                  (unsigned long)ulFlags);
}

static HRESULT OMAPI_CALL prov_SpoolerLogon(void *This, LPMAPISUP lpMAPISup, ULONG_PTR ulUIParam,
                                            LPWSTR lpszProfileName, ULONG cbEntryID, LPENTRYID lpEntryID,
                                            ULONG ulFlags, LPCIID lpInterface, ULONG cbSpoolSecurity,
                                            LPBYTE lpbSpoolSecurity, LPMAPIERROR *lppMAPIError,
                                            LPMSLOGON *lppMSLogon, LPMDB *lppMDB)
{
    (void)ulUIParam, (void)lpszProfileName, (void)lpInterface, (void)cbSpoolSecurity, (void)lpbSpoolSecurity;
    HRESULT hr = logon(This, lpMAPISup, cbEntryID, lpEntryID, ulFlags, lppMAPIError, lppMSLogon, lppMDB);
    return ms_ret(hr, "IMSProvider::SpoolerLogon(ulFlags=0x%lx)", (unsigned long)ulFlags);
}

static HRESULT OMAPI_CALL prov_CompareStoreIDs(void *This, ULONG cb1, LPENTRYID e1, ULONG cb2, LPENTRYID e2,
                                               ULONG ulFlags, ULONG *lpulResult)
{
    (void)This, (void)ulFlags;
    if (!lpulResult)
        return MAPI_E_INVALID_PARAMETER;
    mapi_eid a, b;
    if (!e1 || !e2 || mapi_eid_decode((const uint8_t *)e1, cb1, &a) != 0 ||
        mapi_eid_decode((const uint8_t *)e2, cb2, &b) != 0)
        return ms_ret(MAPI_E_UNKNOWN_ENTRYID, "IMSProvider::CompareStoreIDs");
    /* One store per daemon: every Outpost store entry id names "the" store. */
    *lpulResult = a.kind == MAPI_EID_STORE && b.kind == MAPI_EID_STORE;
    return ms_ret(S_OK, "IMSProvider::CompareStoreIDs -> %lu", (unsigned long)*lpulResult);
}

static const IMSProviderVtbl provider_vtbl = {
    prov_QueryInterface, prov_AddRef, prov_Release, prov_Shutdown, prov_Logon, prov_SpoolerLogon, prov_CompareStoreIDs,
};

/* IMAPIProviderShutdown: nothing to flush (the daemon holds the data), so
 * Outlook may always shut down fast. */
static HRESULT OMAPI_CALL sd_QueryInterface(void *This, REFIID riid, LPVOID *ppv)
{
    return prov_QueryInterface(from_shutdown(This), riid, ppv);
}
static ULONG OMAPI_CALL sd_AddRef(void *This) { return prov_AddRef(from_shutdown(This)); }
static ULONG OMAPI_CALL sd_Release(void *This) { return prov_Release(from_shutdown(This)); }
static HRESULT OMAPI_CALL sd_QueryFastShutdown(void *This)
{
    (void)This;
    return ms_ret(S_OK, "IMAPIProviderShutdown::QueryFastShutdown");
}
static HRESULT OMAPI_CALL sd_NotifyProcessShutdown(void *This)
{
    (void)This;
    return ms_ret(S_OK, "IMAPIProviderShutdown::NotifyProcessShutdown");
}
static HRESULT OMAPI_CALL sd_DoFastShutdown(void *This)
{
    (void)This;
    return ms_ret(S_OK, "IMAPIProviderShutdown::DoFastShutdown");
}
static const IMAPIProviderShutdownVtbl shutdown_vtbl = {
    sd_QueryInterface, sd_AddRef, sd_Release, sd_QueryFastShutdown, sd_NotifyProcessShutdown, sd_DoFastShutdown,
};

/* ---- entry points ---- */

__declspec(dllexport) HRESULT __cdecl MSProviderInit(HINSTANCE hInstance, LPMALLOC lpMalloc,
                                                     LPALLOCATEBUFFER lpAllocateBuffer,
                                                     LPALLOCATEMORE lpAllocateMore, LPFREEBUFFER lpFreeBuffer,
                                                     ULONG ulFlags, ULONG ulMAPIVer, ULONG *lpulProviderVer,
                                                     LPMSPROVIDER *lppMSProvider)
{
    (void)lpMalloc;
    ms_trace_open();
    if (!lpulProviderVer || !lppMSProvider || !lpAllocateBuffer || !lpAllocateMore || !lpFreeBuffer)
        return ms_ret(MAPI_E_INVALID_PARAMETER, "MSProviderInit");
    *lppMSProvider = NULL;
    *lpulProviderVer = CURRENT_SPI_VERSION;
    if (ulMAPIVer < CURRENT_SPI_VERSION)
        return ms_ret(MAPI_E_VERSION, "MSProviderInit(ulMAPIVer=0x%08lx)", (unsigned long)ulMAPIVer);
    ms_provider *p = calloc(1, sizeof *p);
    if (!p)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    p->lpVtbl = &provider_vtbl;
    p->shutdownVtbl = &shutdown_vtbl;
    p->refs = 1;
    p->a.alloc = lpAllocateBuffer;
    p->a.more = lpAllocateMore;
    p->a.free = lpFreeBuffer;
    p->inst = hInstance;
    *lppMSProvider = (LPMSPROVIDER)p;
    return ms_ret(S_OK, "MSProviderInit(ulFlags=0x%lx, ulMAPIVer=0x%08lx)", (unsigned long)ulFlags,
                  (unsigned long)ulMAPIVer);
}

/* Writes props to one profile section. */
static HRESULT write_section(LPPROVIDERADMIN admin, LPMAPIUID uid, ULONG n, LPSPropValue v)
{
    LPPROFSECT ps = NULL;
    HRESULT hr = admin->lpVtbl->OpenProfileSection(admin, uid, NULL, MAPI_MODIFY, &ps);
    if (hr != S_OK || !ps)
        return hr != S_OK ? hr : MAPI_E_CALL_FAILED;
    LPSPropProblemArray probs = NULL;
    hr = ps->lpVtbl->SetProps(ps, n, v, &probs);
    if (SUCCEEDED(hr))
        hr = ps->lpVtbl->SaveChanges(ps, KEEP_OPEN_READWRITE);
    ps->lpVtbl->Release(ps);
    return hr;
}

/* The message service entry (MAPISVC.INF: PR_SERVICE_ENTRY_NAME=ServiceEntry):
 * on create and configure it stores what Logon reads — PR_OUTPOST_ADDRESS,
 * PR_OUTPOST_SECRET_PATH and PR_DISPLAY_NAME from lpProps (or the defaults)
 * — in the service's profile section, and the store's entry id, record key
 * and PR_MDB_PROVIDER in the provider's section. No UI. */
__declspec(dllexport) HRESULT WINAPI ServiceEntry(HINSTANCE hInstance, LPMALLOC lpMalloc, LPMAPISUP lpMAPISup,
                                                  ULONG_PTR ulUIParam, ULONG ulFlags, ULONG ulContext, ULONG cValues,
                                                  LPSPropValue lpProps, LPPROVIDERADMIN lpProviderAdmin,
                                                  LPMAPIERROR *lppMapiError)
{
    (void)hInstance, (void)lpMalloc, (void)ulUIParam, (void)ulFlags;
    ms_trace_open();
    if (lppMapiError)
        *lppMapiError = NULL;
    if (ulContext != MSG_SERVICE_CREATE && ulContext != MSG_SERVICE_CONFIGURE)
        return ms_ret(S_OK, "ServiceEntry(ulContext=%lu)", (unsigned long)ulContext);
    if (!lpProviderAdmin)
        return ms_ret(MAPI_E_INVALID_PARAMETER, "ServiceEntry(ulContext=%lu, no IProviderAdmin)",
                      (unsigned long)ulContext);
    /* Service section: what the caller gave, else the defaults. */
    SPropValue v[3];
    ULONG n = 0;
    LPWSTR addr = (LPWSTR)L"127.0.0.1:6144", secret = NULL, name = (LPWSTR)L"Outpost";
    for (ULONG i = 0; lpProps && i < cValues; i++) {
        if (lpProps[i].ulPropTag == PR_OUTPOST_ADDRESS_W)
            addr = lpProps[i].Value.lpszW;
        else if (lpProps[i].ulPropTag == PR_OUTPOST_SECRET_PATH_W)
            secret = lpProps[i].Value.lpszW;
        else if (lpProps[i].ulPropTag == PR_DISPLAY_NAME_W)
            name = lpProps[i].Value.lpszW;
    }
    v[n].ulPropTag = PR_OUTPOST_ADDRESS_W;
    v[n++].Value.lpszW = addr;
    v[n].ulPropTag = PR_DISPLAY_NAME_W;
    v[n++].Value.lpszW = name;
    if (secret) {
        v[n].ulPropTag = PR_OUTPOST_SECRET_PATH_W;
        v[n++].Value.lpszW = secret;
    }
    HRESULT hr = write_section(lpProviderAdmin, NULL, n, v);
    /* The provider section: the store entry id MAPI opens the store with.
     * Our store entry id names the Outpost store kind only (the GUID is the
     * fixed provider UID until Logon learns the daemon's). */
    if (hr == S_OK && lpMAPISup) {
        mapi_eid e = { .kind = MAPI_EID_STORE, .id = 0 };
        /* MAPI_OUTPOST_PROVIDER_UID (mapi_session.c), also PR_MDB_PROVIDER in MAPISVC.INF */
        static const uint8_t provider_uid[16] = { 0x54, 0x53, 0x50, 0x4F, 0x41, 0x4D, 0x49, 0x50,
                                                  0x8A, 0x4F, 0x55, 0x54, 0x50, 0x53, 0x54, 0x0A };
        memcpy(e.guid, provider_uid, 16);
        uint8_t raw[MAPI_EID_LEN];
        mapi_eid_encode(&e, raw);
        ULONG cb = 0;
        LPENTRYID wrapped = NULL;
        LPALLOCATEBUFFER ab = NULL;
        LPALLOCATEMORE am = NULL;
        LPFREEBUFFER fb = NULL;
        lpMAPISup->lpVtbl->GetMemAllocRoutines(lpMAPISup, &ab, &am, &fb);
        if (fb && lpMAPISup->lpVtbl->WrapStoreEntryID(lpMAPISup, sizeof raw, (LPENTRYID)raw, &cb, &wrapped) == S_OK) {
            SPropValue pv[4];
            pv[0].ulPropTag = PR_ENTRYID;
            pv[0].Value.bin.cb = cb;
            pv[0].Value.bin.lpb = (LPBYTE)wrapped;
            pv[1].ulPropTag = PR_RECORD_KEY;
            pv[1].Value.bin.cb = 16;
            pv[1].Value.bin.lpb = (LPBYTE)provider_uid;
            pv[2].ulPropTag = PR_MDB_PROVIDER;
            pv[2].Value.bin.cb = 16;
            pv[2].Value.bin.lpb = (LPBYTE)provider_uid;
            pv[3].ulPropTag = PR_DISPLAY_NAME_W;
            pv[3].Value.lpszW = name;
            /* the provider's UID comes from the provider table; with none, the service section */
            hr = write_section(lpProviderAdmin, NULL, 4, pv);
            fb(wrapped);
        }
    }
    return ms_ret(hr, "ServiceEntry(ulContext=%lu, cValues=%lu)", (unsigned long)ulContext, (unsigned long)cValues);
}
