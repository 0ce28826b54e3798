/* frontends/mapi/win32/ms_conv.c — MAPI's structures <-> the wire
 * protocol's (mapi_prop, mapi_res), text in UTF-8 <-> UTF-16 / the ANSI
 * code page, and the trace log. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms.h"

HRESULT ms_alloc(const ms_alloc_fns *a, size_t n, void **out)
{
    *out = NULL;
    if (n > 0x7fffffff)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    SCODE sc = a->alloc((ULONG)(n ? n : 1), out);
    if (sc != S_OK || !*out)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    memset(*out, 0, n ? n : 1);
    return S_OK;
}

HRESULT ms_more(const ms_alloc_fns *a, size_t n, void *parent, void **out)
{
    *out = NULL;
    if (n > 0x7fffffff)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    SCODE sc = a->more((ULONG)(n ? n : 1), parent, out);
    if (sc != S_OK || !*out)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    memset(*out, 0, n ? n : 1);
    return S_OK;
}

/* ---- text ---- */

char *ms_utf8(const WCHAR *w)
{
    if (!w)
        return NULL;
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
    char *s = n > 0 ? malloc((size_t)n) : NULL;
    if (s && WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL) != n) {
        free(s);
        s = NULL;
    }
    return s;
}

char *ms_utf8_a(const char *a)
{
    if (!a)
        return NULL;
    int n = MultiByteToWideChar(CP_ACP, 0, a, -1, NULL, 0);
    WCHAR *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
    if (!w)
        return NULL;
    MultiByteToWideChar(CP_ACP, 0, a, -1, w, n);
    char *s = ms_utf8(w);
    free(w);
    return s;
}

WCHAR *ms_wide(const char *u)
{
    if (!u)
        u = "";
    int n = MultiByteToWideChar(CP_UTF8, 0, u, -1, NULL, 0);
    WCHAR *w = malloc((size_t)(n > 0 ? n : 1) * sizeof *w);
    if (!w)
        return NULL;
    if (n <= 0 || MultiByteToWideChar(CP_UTF8, 0, u, -1, w, n) != n)
        w[0] = 0;
    return w;
}

/* UTF-8 -> a MAPI block (UTF-16 or ANSI) allocated under parent. */
static HRESULT text_to_mapi(const ms_alloc_fns *a, void *parent, const char *u, int wide, void **out)
{
    if (wide) {
        int n = MultiByteToWideChar(CP_UTF8, 0, u, -1, NULL, 0);
        if (n <= 0)
            n = 1;
        HRESULT hr = ms_more(a, (size_t)n * sizeof(WCHAR), parent, out);
        if (hr == S_OK && MultiByteToWideChar(CP_UTF8, 0, u, -1, *out, n) <= 0)
            ((WCHAR *)*out)[0] = 0;
        return hr;
    }
    WCHAR *w = ms_wide(u);
    if (!w)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    int n = WideCharToMultiByte(CP_ACP, 0, w, -1, NULL, 0, NULL, NULL);
    if (n <= 0)
        n = 1;
    HRESULT hr = ms_more(a, (size_t)n, parent, out);
    if (hr == S_OK && WideCharToMultiByte(CP_ACP, 0, w, -1, *out, n, NULL, NULL) <= 0)
        ((char *)*out)[0] = 0;
    free(w);
    return hr;
}

/* ---- properties ---- */

HRESULT ms_prop_to_mapi(const ms_alloc_fns *a, void *parent, const mapi_prop *p, SPropValue *v)
{
    ULONG type = PROP_TYPE(p->tag);
    v->ulPropTag = p->tag;
    HRESULT hr = S_OK;
    if (type & MV_FLAG) {
        ULONG base = type & ~MV_FLAG, n = p->count;
        v->Value.MVl.cValues = n;
        size_t w;
        switch (base) {
        case PT_I2: w = sizeof(short); break;
        case PT_LONG: w = sizeof(LONG); break;
        case PT_R4: w = sizeof(float); break;
        case PT_DOUBLE: case PT_APPTIME: w = sizeof(double); break;
        case PT_CURRENCY: case PT_I8: case PT_SYSTIME: w = 8; break;
        case PT_CLSID: w = sizeof(GUID); break;
        case PT_BINARY: w = sizeof(SBinary); break;
        case PT_STRING8: case PT_UNICODE: w = sizeof(void *); break;
        default:
            v->ulPropTag = PROP_TAG(PT_ERROR, PROP_ID(p->tag));
            v->Value.err = MAPI_E_NOT_FOUND;
            return S_OK;
        }
        void *arr;
        if ((hr = ms_more(a, w * (n ? n : 1), parent, &arr)) != S_OK)
            return hr;
        v->Value.MVl.lpl = arr; /* every MV struct is { ULONG cValues; T *lp; } */
        for (ULONG i = 0; i < n && hr == S_OK; i++) {
            const mapi_val *x = &p->mv[i];
            switch (base) {
            case PT_I2: ((short *)arr)[i] = (short)x->l; break;
            case PT_LONG: ((LONG *)arr)[i] = x->l; break;
            case PT_R4: ((float *)arr)[i] = (float)x->d; break;
            case PT_DOUBLE: case PT_APPTIME: ((double *)arr)[i] = x->d; break;
            case PT_CURRENCY: case PT_I8: case PT_SYSTIME: memcpy((char *)arr + 8 * i, &x->ll, 8); break;
            case PT_CLSID: memcpy((char *)arr + 16 * i, x->bin.data, x->bin.len >= 16 ? 16 : x->bin.len); break;
            case PT_BINARY: {
                SBinary *b = (SBinary *)arr + i;
                b->cb = x->bin.len;
                if ((hr = ms_more(a, x->bin.len, parent, (void **)&b->lpb)) == S_OK && x->bin.len)
                    memcpy(b->lpb, x->bin.data, x->bin.len);
                break;
            }
            default:
                hr = text_to_mapi(a, parent, (const char *)x->bin.data, base == PT_UNICODE, &((void **)arr)[i]);
            }
        }
        return hr;
    }
    switch (type) {
    case PT_I2: v->Value.i = (short)p->v.l; break;
    case PT_LONG: v->Value.l = p->v.l; break;
    case PT_ERROR: v->Value.err = p->v.l; break;
    case PT_BOOLEAN: v->Value.b = (unsigned short)(p->v.l != 0); break;
    case PT_R4: v->Value.flt = (float)p->v.d; break;
    case PT_DOUBLE: case PT_APPTIME: v->Value.dbl = p->v.d; break;
    case PT_I8: case PT_SYSTIME: case PT_CURRENCY: v->Value.li.QuadPart = p->v.ll; break;
    case PT_NULL: case PT_OBJECT: v->Value.x = 0; break;
    case PT_BINARY:
        v->Value.bin.cb = p->v.bin.len;
        if ((hr = ms_more(a, p->v.bin.len, parent, (void **)&v->Value.bin.lpb)) == S_OK && p->v.bin.len)
            memcpy(v->Value.bin.lpb, p->v.bin.data, p->v.bin.len);
        break;
    case PT_CLSID:
        if ((hr = ms_more(a, sizeof(GUID), parent, (void **)&v->Value.lpguid)) == S_OK)
            memcpy(v->Value.lpguid, p->v.bin.data, p->v.bin.len >= 16 ? 16 : p->v.bin.len);
        break;
    case PT_STRING8: case PT_UNICODE:
        hr = text_to_mapi(a, parent, p->v.bin.data ? (const char *)p->v.bin.data : "", type == PT_UNICODE,
                          (void **)&v->Value.lpszW);
        break;
    default:
        v->ulPropTag = PROP_TAG(PT_ERROR, PROP_ID(p->tag));
        v->Value.err = MAPI_E_NOT_FOUND;
    }
    return hr;
}

HRESULT ms_props_to_mapi(const ms_alloc_fns *a, const mapi_props *l, const ULONG *want, ULONG *count,
                         LPSPropValue *out)
{
    *out = NULL;
    *count = 0;
    SPropValue *v;
    HRESULT hr = ms_alloc(a, sizeof *v * (l->n ? l->n : 1), (void **)&v);
    if (hr != S_OK)
        return hr;
    for (uint32_t i = 0; i < l->n && hr == S_OK; i++) {
        hr = ms_prop_to_mapi(a, v, &l->p[i], &v[i]);
        /* The daemon answers PT_UNSPECIFIED requests with the real type;
         * an error keeps the id Outlook asked for. */
        if (want && PROP_TYPE(v[i].ulPropTag) == PT_ERROR && PROP_TYPE(want[i]) != PT_ERROR)
            v[i].ulPropTag = PROP_TAG(PT_ERROR, PROP_ID(want[i]));
    }
    if (hr != S_OK) {
        a->free(v);
        return hr;
    }
    *count = l->n;
    *out = v;
    return S_OK;
}

static int set_text(mapi_val *x, const char *u)
{
    if (!u)
        return -1;
    x->bin.len = (uint32_t)strlen(u);
    x->bin.data = (uint8_t *)u; /* takes ownership (malloc'd, NUL-terminated) */
    return 0;
}

static int set_bytes(mapi_val *x, const void *p, size_t n)
{
    x->bin.data = malloc(n + 1);
    if (!x->bin.data)
        return -1;
    if (n)
        memcpy(x->bin.data, p, n);
    x->bin.data[n] = 0;
    x->bin.len = (uint32_t)n;
    return 0;
}

int ms_prop_from_mapi(const SPropValue *v, mapi_prop *p)
{
    memset(p, 0, sizeof *p);
    p->tag = v->ulPropTag;
    ULONG type = PROP_TYPE(v->ulPropTag);
    if (type & MV_FLAG) {
        ULONG base = type & ~MV_FLAG, n = v->Value.MVl.cValues;
        p->count = n;
        p->mv = calloc(n ? n : 1, sizeof *p->mv);
        if (!p->mv)
            return -1;
        for (ULONG i = 0; i < n; i++) {
            mapi_val *x = &p->mv[i];
            int rc = 0;
            switch (base) {
            case PT_I2: x->l = v->Value.MVi.lpi[i]; break;
            case PT_LONG: x->l = v->Value.MVl.lpl[i]; break;
            case PT_R4: x->d = v->Value.MVflt.lpflt[i]; break;
            case PT_DOUBLE: case PT_APPTIME: x->d = v->Value.MVdbl.lpdbl[i]; break;
            case PT_CURRENCY: case PT_I8: case PT_SYSTIME: x->ll = v->Value.MVli.lpli[i].QuadPart; break;
            case PT_CLSID: rc = set_bytes(x, &v->Value.MVguid.lpguid[i], 16); break;
            case PT_BINARY: rc = set_bytes(x, v->Value.MVbin.lpbin[i].lpb, v->Value.MVbin.lpbin[i].cb); break;
            case PT_STRING8: rc = set_text(x, ms_utf8_a(v->Value.MVszA.lppszA[i])); break;
            case PT_UNICODE: rc = set_text(x, ms_utf8(v->Value.MVszW.lppszW[i])); break;
            default: rc = -1;
            }
            if (rc != 0) {
                mapi_prop_clear(p);
                return -1;
            }
        }
        return 0;
    }
    switch (type) {
    case PT_I2: p->v.l = v->Value.i; return 0;
    case PT_LONG: p->v.l = v->Value.l; return 0;
    case PT_ERROR: p->v.l = v->Value.err; return 0;
    case PT_BOOLEAN: p->v.l = v->Value.b != 0; return 0;
    case PT_R4: p->v.d = v->Value.flt; return 0;
    case PT_DOUBLE: case PT_APPTIME: p->v.d = v->Value.dbl; return 0;
    case PT_I8: case PT_SYSTIME: case PT_CURRENCY: p->v.ll = v->Value.li.QuadPart; return 0;
    case PT_NULL: return 0;
    case PT_BINARY: return set_bytes(&p->v, v->Value.bin.lpb, v->Value.bin.cb);
    case PT_CLSID: return v->Value.lpguid ? set_bytes(&p->v, v->Value.lpguid, 16) : -1;
    case PT_STRING8: return set_text(&p->v, ms_utf8_a(v->Value.lpszA ? v->Value.lpszA : ""));
    case PT_UNICODE: return set_text(&p->v, ms_utf8(v->Value.lpszW ? v->Value.lpszW : L""));
    default: return -1;
    }
}

mapi_res *ms_res_from_mapi(const SRestriction *r, int depth)
{
    if (!r || depth > MAPI_RES_MAX_DEPTH)
        return NULL;
    mapi_res *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->rt = r->rt;
    int ok = 1;
    switch (r->rt) {
    case RES_AND:
    case RES_OR:
        o->u.sub.n = r->res.resAnd.cRes;
        o->u.sub.r = calloc(o->u.sub.n ? o->u.sub.n : 1, sizeof *o->u.sub.r);
        ok = o->u.sub.r != NULL;
        for (ULONG i = 0; ok && i < o->u.sub.n; i++) {
            mapi_res *s = ms_res_from_mapi(&r->res.resAnd.lpRes[i], depth + 1);
            if (!s) {
                o->u.sub.n = i;
                ok = 0;
                break;
            }
            o->u.sub.r[i] = *s;
            free(s);
        }
        break;
    case RES_NOT:
        ok = (o->u.not_ = ms_res_from_mapi(r->res.resNot.lpRes, depth + 1)) != NULL;
        break;
    case RES_CONTENT:
        o->u.content.fuzzy = r->res.resContent.ulFuzzyLevel;
        o->u.content.tag = r->res.resContent.ulPropTag;
        ok = r->res.resContent.lpProp && ms_prop_from_mapi(r->res.resContent.lpProp, &o->u.content.prop) == 0;
        break;
    case RES_PROPERTY:
        o->u.property.relop = r->res.resProperty.relop;
        o->u.property.tag = r->res.resProperty.ulPropTag;
        ok = r->res.resProperty.lpProp && ms_prop_from_mapi(r->res.resProperty.lpProp, &o->u.property.prop) == 0;
        break;
    case RES_COMPAREPROPS:
        o->u.compare.relop = r->res.resCompareProps.relop;
        o->u.compare.tag1 = r->res.resCompareProps.ulPropTag1;
        o->u.compare.tag2 = r->res.resCompareProps.ulPropTag2;
        break;
    case RES_BITMASK:
        o->u.bitmask.relop = r->res.resBitMask.relBMR;
        o->u.bitmask.tag = r->res.resBitMask.ulPropTag;
        o->u.bitmask.mask = r->res.resBitMask.ulMask;
        break;
    case RES_SIZE:
        o->u.size.relop = r->res.resSize.relop;
        o->u.size.tag = r->res.resSize.ulPropTag;
        o->u.size.size = r->res.resSize.cb;
        break;
    case RES_EXIST:
        o->u.exist.tag = r->res.resExist.ulPropTag;
        break;
    case RES_SUBRESTRICTION:
        o->u.subres.subobject = r->res.resSub.ulSubObject;
        ok = (o->u.subres.r = ms_res_from_mapi(r->res.resSub.lpRes, depth + 1)) != NULL;
        break;
    case RES_COMMENT:
        mapi_props_init(&o->u.comment.props);
        for (ULONG i = 0; ok && i < r->res.resComment.cValues; i++) {
            mapi_prop p;
            ok = ms_prop_from_mapi(&r->res.resComment.lpProp[i], &p) == 0 && mapi_props_take(&o->u.comment.props, &p) == 0;
        }
        if (ok && r->res.resComment.lpRes)
            ok = (o->u.comment.r = ms_res_from_mapi(r->res.resComment.lpRes, depth + 1)) != NULL;
        break;
    default:
        ok = 0;
    }
    if (!ok) {
        mapi_res_free(o);
        return NULL;
    }
    return o;
}

/* One SPropValue of a restriction from p (ms_more on parent). */
static HRESULT res_prop(const ms_alloc_fns *a, void *parent, const mapi_prop *p, LPSPropValue *out)
{
    HRESULT hr = ms_more(a, sizeof **out, parent, (void **)out);
    return hr == S_OK ? ms_prop_to_mapi(a, parent, p, *out) : hr;
}

HRESULT ms_res_to_mapi(const ms_alloc_fns *a, void *parent, const mapi_res *r, SRestriction *out, int depth)
{
    if (depth > MAPI_RES_MAX_DEPTH)
        return MAPI_E_TOO_COMPLEX;
    memset(out, 0, sizeof *out);
    out->rt = r->rt;
    HRESULT hr = S_OK;
    switch (r->rt) {
    case RES_AND:
    case RES_OR:
        out->res.resAnd.cRes = r->u.sub.n;
        hr = ms_more(a, (r->u.sub.n ? r->u.sub.n : 1) * sizeof(SRestriction), parent, (void **)&out->res.resAnd.lpRes);
        for (ULONG i = 0; hr == S_OK && i < r->u.sub.n; i++)
            hr = ms_res_to_mapi(a, parent, &r->u.sub.r[i], &out->res.resAnd.lpRes[i], depth + 1);
        break;
    case RES_NOT:
        hr = ms_more(a, sizeof(SRestriction), parent, (void **)&out->res.resNot.lpRes);
        if (hr == S_OK)
            hr = ms_res_to_mapi(a, parent, r->u.not_, out->res.resNot.lpRes, depth + 1);
        break;
    case RES_CONTENT:
        out->res.resContent.ulFuzzyLevel = r->u.content.fuzzy;
        out->res.resContent.ulPropTag = r->u.content.tag;
        hr = res_prop(a, parent, &r->u.content.prop, &out->res.resContent.lpProp);
        break;
    case RES_PROPERTY:
        out->res.resProperty.relop = r->u.property.relop;
        out->res.resProperty.ulPropTag = r->u.property.tag;
        hr = res_prop(a, parent, &r->u.property.prop, &out->res.resProperty.lpProp);
        break;
    case RES_COMPAREPROPS:
        out->res.resCompareProps.relop = r->u.compare.relop;
        out->res.resCompareProps.ulPropTag1 = r->u.compare.tag1;
        out->res.resCompareProps.ulPropTag2 = r->u.compare.tag2;
        break;
    case RES_BITMASK:
        out->res.resBitMask.relBMR = r->u.bitmask.relop;
        out->res.resBitMask.ulPropTag = r->u.bitmask.tag;
        out->res.resBitMask.ulMask = r->u.bitmask.mask;
        break;
    case RES_SIZE:
        out->res.resSize.relop = r->u.size.relop;
        out->res.resSize.ulPropTag = r->u.size.tag;
        out->res.resSize.cb = r->u.size.size;
        break;
    case RES_EXIST:
        out->res.resExist.ulPropTag = r->u.exist.tag;
        break;
    case RES_SUBRESTRICTION:
        out->res.resSub.ulSubObject = r->u.subres.subobject;
        hr = ms_more(a, sizeof(SRestriction), parent, (void **)&out->res.resSub.lpRes);
        if (hr == S_OK)
            hr = ms_res_to_mapi(a, parent, r->u.subres.r, out->res.resSub.lpRes, depth + 1);
        break;
    case RES_COMMENT: {
        const mapi_props *l = &r->u.comment.props;
        out->res.resComment.cValues = l->n;
        hr = ms_more(a, (l->n ? l->n : 1) * sizeof(SPropValue), parent, (void **)&out->res.resComment.lpProp);
        for (ULONG i = 0; hr == S_OK && i < l->n; i++)
            hr = ms_prop_to_mapi(a, parent, &l->p[i], &out->res.resComment.lpProp[i]);
        if (hr == S_OK && r->u.comment.r) {
            hr = ms_more(a, sizeof(SRestriction), parent, (void **)&out->res.resComment.lpRes);
            if (hr == S_OK)
                hr = ms_res_to_mapi(a, parent, r->u.comment.r, out->res.resComment.lpRes, depth + 1);
        }
        break;
    }
    default:
        hr = MAPI_E_CORRUPT_DATA;
    }
    return hr;
}

void ms_w_res(mapi_buf *q, const SRestriction *r, HRESULT *hr)
{
    if (!r) {
        mapi_w_u8(q, 0);
        return;
    }
    mapi_res *res = ms_res_from_mapi(r, 0);
    if (!res) {
        *hr = MAPI_E_TOO_COMPLEX;
        return;
    }
    mapi_w_u8(q, 1);
    mapi_w_res(q, res);
    mapi_res_free(res);
}

const char *ms_hr_name(HRESULT hr)
{
    switch ((unsigned long)hr) {
    case 0: return "S_OK";
    case 0x00040380: return "MAPI_W_ERRORS_RETURNED";
    case 0x80004005: return "MAPI_E_CALL_FAILED";
    case 0x8007000E: return "MAPI_E_NOT_ENOUGH_MEMORY";
    case 0x80070057: return "MAPI_E_INVALID_PARAMETER";
    case 0x80004002: return "MAPI_E_INTERFACE_NOT_SUPPORTED";
    case 0x80040102: return "MAPI_E_NO_SUPPORT";
    case 0x80040107: return "MAPI_E_INVALID_ENTRYID";
    case 0x8004010F: return "MAPI_E_NOT_FOUND";
    case 0x80040110: return "MAPI_E_VERSION";
    case 0x80040111: return "MAPI_E_LOGON_FAILED";
    case 0x80040115: return "MAPI_E_NETWORK_ERROR";
    case 0x8004011D: return "MAPI_E_FAILONEPROVIDER";
    case 0x80040201: return "MAPI_E_UNKNOWN_ENTRYID";
    case 0x80040117: return "MAPI_E_TOO_COMPLEX";
    case 0x80040405: return "MAPI_E_INVALID_BOOKMARK";
    case 0x80040604: return "MAPI_E_COLLISION";
    case 0x8004060B: return "MAPI_E_FOLDER_CYCLE";
    case 0x00040680: return "MAPI_W_PARTIAL_COMPLETION";
    default: return "";
    }
}

/* ---- trace ---- */

/* The one piece of process-wide state: the trace file, opened once from
 * OUTPOST_MAPI_TRACE (a path) when MAPI first initialises the provider. */
static struct {
    INIT_ONCE once;
    CRITICAL_SECTION lock;
    FILE *f;
} trace = { INIT_ONCE_STATIC_INIT, { 0 }, NULL };

static BOOL CALLBACK trace_init(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    (void)once;
    (void)param;
    (void)ctx;
    InitializeCriticalSection(&trace.lock);
    WCHAR path[MAX_PATH];
    DWORD n = GetEnvironmentVariableW(L"OUTPOST_MAPI_TRACE", path, MAX_PATH);
    if (n > 0 && n < MAX_PATH)
        trace.f = _wfopen(path, L"a");
    return TRUE;
}

void ms_trace_open(void) { InitOnceExecuteOnce(&trace.once, trace_init, NULL, NULL); }

int ms_tracing(void) { return trace.f != NULL; }

void ms_trace(const char *fmt, ...)
{
    if (!trace.f)
        return;
    SYSTEMTIME st;
    GetSystemTime(&st);
    EnterCriticalSection(&trace.lock);
    fprintf(trace.f, "%02u:%02u:%02u.%03u [%lu] ", st.wHour, st.wMinute, st.wSecond, st.wMilliseconds,
            (unsigned long)GetCurrentThreadId());
    va_list ap;
    va_start(ap, fmt);
    vfprintf(trace.f, fmt, ap);
    va_end(ap);
    fputc('\n', trace.f);
    fflush(trace.f);
    LeaveCriticalSection(&trace.lock);
}

HRESULT ms_ret(HRESULT hr, const char *fmt, ...)
{
    if (!ms_tracing())
        return hr;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ms_trace("%s -> 0x%08lx %s", buf, (unsigned long)hr, ms_hr_name(hr));
    return hr;
}

HRESULT ms_make_error(const ms_alloc_fns *a, ULONG flags, const char *text, LPMAPIERROR *out)
{
    *out = NULL;
    MAPIERROR *e;
    HRESULT hr = ms_alloc(a, sizeof *e, (void **)&e);
    if (hr != S_OK)
        return hr;
    e->ulVersion = 0;
    int wide = (flags & MAPI_UNICODE) != 0;
    if ((hr = text_to_mapi(a, e, text ? text : "", wide, (void **)&e->lpszError)) != S_OK ||
        (hr = text_to_mapi(a, e, "Outpost", wide, (void **)&e->lpszComponent)) != S_OK) {
        a->free(e);
        return hr;
    }
    *out = e;
    return S_OK;
}

void ms_w_eid(mapi_buf *b, ULONG cb, const ENTRYID *eid)
{
    mapi_w_bin(b, eid ? (const void *)eid : "", eid ? cb : 0);
}

void ms_w_tags(mapi_buf *b, const SPropTagArray *t)
{
    mapi_w_tags(b, t ? (const uint32_t *)t->aulPropTag : NULL, t ? t->cValues : 0);
}

HRESULT ms_tags_to_mapi(const ms_alloc_fns *a, mapi_rd *rd, LPSPropTagArray *out)
{
    uint32_t n = 0;
    uint32_t *tags = mapi_r_tags(rd, &n);
    if (rd->err) {
        free(tags);
        return MAPI_E_CALL_FAILED;
    }
    SPropTagArray *t;
    HRESULT hr = ms_alloc(a, CbNewSPropTagArray(n ? n : 1), (void **)&t);
    if (hr == S_OK) {
        t->cValues = n;
        for (uint32_t i = 0; i < n; i++)
            t->aulPropTag[i] = tags[i];
        *out = t;
    }
    free(tags);
    return hr;
}
