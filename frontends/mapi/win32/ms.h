/* frontends/mapi/win32/ms.h — the provider DLL's internals: the connection
 * to outpostd, the objects handed to Outlook and the conversions between
 * MAPI's structures and the wire protocol's.
 *
 * MEMORY: every block returned to MAPI comes from the allocators MAPI gave
 * MSProviderInit (ms_alloc/ms_more, freed by MAPI with MAPIFreeBuffer);
 * the provider's own bookkeeping uses the C heap and never crosses.
 *
 * THREADS: Outlook calls from several threads. One lock per connection
 * serialises requests; advise sinks are called after it is released.
 */
#ifndef OUTPOST_MS_H
#define OUTPOST_MS_H

#include <stdint.h>

#include "omapi.h"

#include "mapi_eid.h"
#include "mapi_os.h"
#include "mapi_wire.h"

/* What MSProviderInit was given (one per MSProviderInit call). */
typedef struct ms_alloc_fns {
    LPALLOCATEBUFFER alloc;
    LPALLOCATEMORE more;
    LPFREEBUFFER free;
} ms_alloc_fns;

HRESULT ms_alloc(const ms_alloc_fns *a, size_t n, void **out);
HRESULT ms_more(const ms_alloc_fns *a, size_t n, void *parent, void **out);

/* ---- trace (OUTPOST_MAPI_TRACE=<file>) ---- */

void ms_trace_open(void);
int ms_tracing(void);
/* One line: "<iface>::<method>(<args>) -> 0x<hr> <result>" */
void ms_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define MS_TRACE(...)            \
    do {                         \
        if (ms_tracing())        \
            ms_trace(__VA_ARGS__); \
    } while (0)

/* ---- connection ---- */

typedef struct ms_sink {
    uint32_t conn;          /* daemon's connection number */
    ULONG_PTR id;           /* the id handed to Outlook */
    LPMAPIADVISESINK sink;  /* AddRef'd */
    struct ms_table *table; /* table advise: its columns' owner */
} ms_sink;

typedef struct ms_conn {
    CRITICAL_SECTION lock;
    LONG refs;
    char host[64];
    uint16_t port;
    uint8_t secret[MAPI_WIRE_SECRET_LEN];
    int timeout_ms;          /* per request; connect uses min(timeout, 3 s) */
    mapi_sock s;             /* MAPI_BAD_SOCK while disconnected */
    uint32_t gen;            /* bumped on each connect: handles belong to one */
    uint32_t next_id;
    uint8_t guid[16];        /* the store's GUID (hello) */
    char display_name[256];
    mapi_buf in;
    mapi_buf notes;          /* queued NOTIFY payloads: u32 len + bytes */
    ms_sink *sinks;
    uint32_t nsinks;
    ULONG_PTR next_sink;
    char last_error[256];
    HANDLE listener;         /* delivers notifications while Outlook is idle */
    DWORD listener_id;
    HANDLE stop_ev;
} ms_conn;

ms_conn *ms_conn_new(const char *host, uint16_t port, const uint8_t secret[MAPI_WIRE_SECRET_LEN], int timeout_ms);
void ms_conn_addref(ms_conn *c);
void ms_conn_release(ms_conn *c);
/* Connects and says hello unless connected; 0 or an SCODE (last_error says why). */
HRESULT ms_conn_ensure(ms_conn *c);
/* One request: sends op + req and waits (bounded) for its reply; *rep gets
 * the payload after the SCODE (caller initialises and frees). `gen` is the
 * generation the handles in req belong to (0: none). Returns the reply's
 * SCODE, or MAPI_E_NETWORK_ERROR when the daemon is gone or silent (the
 * connection is then closed; the next call reconnects). Delivers queued
 * notifications to advise sinks after releasing the lock. */
HRESULT ms_call(ms_conn *c, uint32_t gen, uint16_t op, const mapi_buf *req, mapi_buf *rep);
/* Registers a sink for a daemon connection number; returns Outlook's id. */
ULONG_PTR ms_sink_add(ms_conn *c, uint32_t conn, LPMAPIADVISESINK sink, struct ms_table *t);
/* Removes it; returns the daemon connection number or 0. */
uint32_t ms_sink_remove(ms_conn *c, ULONG_PTR id);
/* Stops the notification listener (started by the first ms_sink_add);
 * waits for it unless called on it. Call before the last ms_conn_release. */
void ms_conn_stop(ms_conn *c);

/* ---- conversions ---- */

struct ms_logon;
/* Wire props -> one MAPI block (*out from ms_alloc, values from ms_more). */
HRESULT ms_props_to_mapi(const ms_alloc_fns *a, const mapi_props *l, const ULONG *want_tags, ULONG *count,
                         LPSPropValue *out);
/* Fills vals[i] (already allocated, parent for ms_more) from p. */
HRESULT ms_prop_to_mapi(const ms_alloc_fns *a, void *parent, const mapi_prop *p, SPropValue *v);
/* MAPI -> wire (C heap). */
int ms_prop_from_mapi(const SPropValue *v, mapi_prop *p);
mapi_res *ms_res_from_mapi(const SRestriction *r, int depth);
/* Wire -> MAPI: fills *out, its nodes and values from ms_more on parent. */
HRESULT ms_res_to_mapi(const ms_alloc_fns *a, void *parent, const mapi_res *r, SRestriction *out, int depth);
/* Writes `u8 has` + restriction r (NULL: has 0); *hr MAPI_E_TOO_COMPLEX when r cannot be sent. */
void ms_w_res(mapi_buf *q, const SRestriction *r, HRESULT *hr);
char *ms_utf8(const WCHAR *w);          /* malloc'd, NULL on NULL */
char *ms_utf8_a(const char *s);         /* ANSI code page -> UTF-8 */
WCHAR *ms_wide(const char *utf8);       /* malloc'd */

/* ---- objects ---- */

/* The provider (one per MSProviderInit). */
typedef struct ms_provider {
    const IMSProviderVtbl *lpVtbl;
    const IMAPIProviderShutdownVtbl *shutdownVtbl; /* the IMAPIProviderShutdown face */
    LONG refs;
    ms_alloc_fns a;
    HINSTANCE inst;
} ms_provider;

/* A logon: the support object, the connection and the store. */
typedef struct ms_logon {
    const IMSLogonVtbl *lpVtbl;
    LONG refs;
    ms_provider *prov;
    ms_alloc_fns a;
    LPMAPISUP sup;
    ms_conn *conn;
    struct ms_obj *store;   /* weak: the store holds the logon */
    CRITICAL_SECTION store_lock; /* the store's daemon handle is reopened under it */
    int logged_off;
} ms_logon;

enum ms_kind { MS_STORE = 1, MS_FOLDER, MS_MESSAGE, MS_ATTACH };

/* Store, folder, message and attachment: a daemon handle plus the logon. */
typedef struct ms_obj {
    const void *lpVtbl;
    const IMSCapabilitiesVtbl *capsVtbl; /* stores only: IMSCapabilities face */
    LONG refs;
    uint32_t kind;          /* ms_kind */
    ms_logon *lg;           /* AddRef'd */
    uint32_t h;             /* daemon handle (0: none, the store before its first call) */
    uint32_t gen;           /* connection generation of h */
    ULONG objtype;          /* MAPI_STORE/FOLDER/MESSAGE/ATTACH */
} ms_obj;

typedef struct ms_table {
    const IMAPITableVtbl *lpVtbl;
    LONG refs;
    ms_logon *lg;
    uint32_t t;
    uint32_t gen;
    const char *what;       /* for traces */
} ms_table;

extern const IMsgStoreVtbl ms_store_vtbl;
extern const IMAPIFolderVtbl ms_folder_vtbl;
extern const IMessageVtbl ms_message_vtbl;
extern const IAttachVtbl ms_attach_vtbl;
extern const IMAPITableVtbl ms_table_vtbl;
extern const IMSLogonVtbl ms_logon_vtbl;
extern const IMSCapabilitiesVtbl ms_caps_vtbl;

HRESULT ms_obj_new(ms_logon *lg, uint32_t kind, uint32_t h, uint32_t gen, ms_obj **out);
HRESULT ms_table_new(ms_logon *lg, uint32_t t, uint32_t gen, const char *what, ms_table **out);
/* IStream over a property of a daemon object. */
HRESULT ms_stream_new(ms_obj *o, ULONG tag, int write, int create, IStream **out);
/* The daemon handle of o, opening the store's root on first use. */
HRESULT ms_obj_handle(ms_obj *o, uint32_t *h, uint32_t *gen);
/* OpenEntry shared by IMsgStore, IMAPIFolder and IMSLogon. */
HRESULT ms_open_entry(ms_logon *lg, ULONG cb, LPENTRYID eid, ULONG flags, ULONG *objtype, LPUNKNOWN *out);
/* The name of an SCODE ("" when not one the provider knows). */
const char *ms_hr_name(HRESULT hr);
/* Traces "<what> -> 0x<hr> NAME" and returns hr. */
HRESULT ms_ret(HRESULT hr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A MAPIERROR for GetLastError / Logon (allocated with the MAPI allocator). */
HRESULT ms_make_error(const ms_alloc_fns *a, ULONG flags, const char *text, LPMAPIERROR *out);
/* Wire request helpers. */
void ms_w_eid(mapi_buf *b, ULONG cb, const ENTRYID *eid);
void ms_w_tags(mapi_buf *b, const SPropTagArray *t);
/* Writes a MAPI tag array from wire tags (allocated block). */
HRESULT ms_tags_to_mapi(const ms_alloc_fns *a, mapi_rd *rd, LPSPropTagArray *out);
void ms_logon_release_store(ms_logon *lg);

#endif
