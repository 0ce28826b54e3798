/* frontends/mapi/win32/ms_stream.c — IStream over one property of a daemon
 * object (OpenProperty with IID_IStream): PR_BODY_W, PR_HTML,
 * PR_RTF_COMPRESSED, PR_ATTACH_DATA_BIN...
 *
 * Binary properties are read by range (READ_PROP, 256 KiB a call), so a
 * large attachment never sits whole in Outlook's memory. Text properties
 * travel as UTF-8 and Outlook wants UTF-16 (or the ANSI code page), so the
 * text is converted once when the stream opens. Writes collect in memory
 * and go to the daemon in order (WRITE_PROP) on Commit or the last Release;
 * the message's SaveChanges then stores them.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms.h"

#define CHUNK (256u * 1024u)

typedef struct ms_stream {
    IStreamVtbl *lpVtbl;
    LONG refs;
    ms_obj *o;          /* AddRef'd */
    ULONG tag;
    int text;           /* PT_UNICODE / PT_STRING8: whole value in buf */
    int writable, dirty;
    uint64_t pos, size;
    uint8_t *buf;       /* text value, or written bytes */
    size_t cap;
} ms_stream;

static IStreamVtbl stream_vtbl;

static HRESULT read_range(ms_stream *s, uint64_t off, uint32_t max, mapi_buf *out, uint64_t *total)
{
    uint32_t h, gen;
    HRESULT hr = ms_obj_handle(s->o, &h, &gen);
    if (hr != S_OK)
        return hr;
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, h);
    mapi_w_u32(&q, s->tag);
    mapi_w_u64(&q, off);
    mapi_w_u32(&q, max);
    hr = ms_call(s->o->lg->conn, gen, MAPI_OP_READ_PROP, &q, &r);
    if (hr == S_OK) {
        mapi_rd rd;
        mapi_rd_init(&rd, r.data, r.len);
        *total = mapi_r_u64(&rd);
        uint32_t n = 0;
        const uint8_t *p = mapi_r_bin(&rd, &n);
        if (rd.err)
            hr = MAPI_E_CALL_FAILED;
        else if (out)
            mapi_buf_add(out, p, n);
    }
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return hr;
}

static int reserve(ms_stream *s, size_t n)
{
    if (n <= s->cap)
        return 0;
    size_t c = s->cap ? s->cap : 4096;
    while (c < n)
        c *= 2;
    uint8_t *b = realloc(s->buf, c);
    if (!b)
        return -1;
    memset(b + s->cap, 0, c - s->cap);
    s->buf = b;
    s->cap = c;
    return 0;
}

/* Text: UTF-8 from the daemon -> UTF-16LE or ANSI bytes in buf. */
static HRESULT load_text(ms_stream *s)
{
    mapi_buf all;
    mapi_buf_init(&all);
    uint64_t total = 0, off = 0;
    HRESULT hr;
    do {
        hr = read_range(s, off, CHUNK * 4, &all, &total);
        off = all.len;
    } while (hr == S_OK && off < total && !all.oom);
    if (hr == S_OK && all.oom)
        hr = MAPI_E_NOT_ENOUGH_MEMORY;
    if (hr == S_OK) {
        mapi_buf_addc(&all, 0);
        WCHAR *w = ms_wide((const char *)all.data);
        if (!w) {
            hr = MAPI_E_NOT_ENOUGH_MEMORY;
        } else if (PROP_TYPE(s->tag) == PT_UNICODE) {
            size_t n = wcslen(w) * sizeof(WCHAR);
            if (reserve(s, n + 2) == 0) {
                memcpy(s->buf, w, n);
                s->size = n;
            } else {
                hr = MAPI_E_NOT_ENOUGH_MEMORY;
            }
        } else {
            int n = WideCharToMultiByte(CP_ACP, 0, w, -1, NULL, 0, NULL, NULL);
            if (n > 0 && reserve(s, (size_t)n) == 0) {
                WideCharToMultiByte(CP_ACP, 0, w, -1, (char *)s->buf, n, NULL, NULL);
                s->size = (uint64_t)n - 1;
            } else {
                hr = MAPI_E_NOT_ENOUGH_MEMORY;
            }
        }
        free(w);
    }
    mapi_buf_free(&all);
    return hr;
}

/* Sends what was written: text converted to UTF-8, in order from offset 0. */
static HRESULT flush(ms_stream *s)
{
    if (!s->dirty)
        return S_OK;
    char *utf8 = NULL;
    const uint8_t *data = s->buf;
    size_t len = (size_t)s->size;
    if (s->text) {
        if (reserve(s, len + 2) != 0)
            return STG_E_INSUFFICIENTMEMORY;
        s->buf[len] = 0;
        s->buf[len + 1] = 0;
        utf8 = PROP_TYPE(s->tag) == PT_UNICODE ? ms_utf8((const WCHAR *)s->buf) : ms_utf8_a((const char *)s->buf);
        if (!utf8)
            return STG_E_INSUFFICIENTMEMORY;
        data = (const uint8_t *)utf8;
        len = strlen(utf8);
    }
    uint32_t h, gen;
    HRESULT hr = ms_obj_handle(s->o, &h, &gen);
    size_t off = 0;
    do {
        size_t n = len - off < CHUNK * 4 ? len - off : CHUNK * 4;
        mapi_buf q;
        mapi_buf_init(&q);
        mapi_w_u32(&q, h);
        mapi_w_u32(&q, s->tag);
        mapi_w_u64(&q, off);
        mapi_w_bin(&q, data ? data + off : (const uint8_t *)"", (uint32_t)n);
        if (hr == S_OK)
            hr = ms_call(s->o->lg->conn, gen, MAPI_OP_WRITE_PROP, &q, NULL);
        mapi_buf_free(&q);
        off += n;
    } while (hr == S_OK && off < len);
    free(utf8);
    if (hr == S_OK)
        s->dirty = 0;
    return hr == S_OK ? S_OK : STG_E_WRITEFAULT;
}

HRESULT ms_stream_new(ms_obj *o, ULONG tag, int write, int create, IStream **out)
{
    *out = NULL;
    ULONG type = PROP_TYPE(tag);
    if (type != PT_BINARY && type != PT_UNICODE && type != PT_STRING8)
        return MAPI_E_NO_SUPPORT;
    ms_stream *s = calloc(1, sizeof *s);
    if (!s)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    s->lpVtbl = &stream_vtbl;
    s->refs = 1;
    s->o = o;
    s->tag = tag;
    s->text = type != PT_BINARY;
    s->writable = write || create;
    HRESULT hr = S_OK;
    if (create) {
        s->dirty = 1; /* an empty value replaces the old one even when nothing is written */
    } else if (s->text || s->writable) {
        if (s->text) {
            hr = load_text(s);
        } else {
            /* binary opened for writing: start from the current value */
            mapi_buf all;
            mapi_buf_init(&all);
            uint64_t total = 0;
            do
                hr = read_range(s, all.len, CHUNK * 4, &all, &total);
            while (hr == S_OK && all.len < total && !all.oom);
            if (hr == S_OK && (all.oom || reserve(s, all.len) != 0))
                hr = MAPI_E_NOT_ENOUGH_MEMORY;
            if (hr == S_OK) {
                memcpy(s->buf, all.data, all.len);
                s->size = all.len;
            }
            mapi_buf_free(&all);
        }
    } else {
        hr = read_range(s, 0, 0, NULL, &s->size);
    }
    if (hr != S_OK) {
        free(s->buf);
        free(s);
        return hr == MAPI_E_NETWORK_ERROR ? hr : MAPI_E_NOT_FOUND;
    }
    ((IMAPIProp *)o)->lpVtbl->AddRef(o);
    *out = (IStream *)s;
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE st_QueryInterface(IStream *This, REFIID riid, void **ppv)
{
    ms_stream *s = (ms_stream *)This;
    if (!ppv)
        return E_POINTER;
    *ppv = NULL;
    if (!IsEqualIID(riid, &IID_IUnknown) && !IsEqualIID(riid, &IID_IStream) &&
        !IsEqualIID(riid, &IID_ISequentialStream))
        return E_NOINTERFACE;
    InterlockedIncrement(&s->refs);
    *ppv = s;
    return S_OK;
}

static ULONG STDMETHODCALLTYPE st_AddRef(IStream *This) { return (ULONG)InterlockedIncrement(&((ms_stream *)This)->refs); }

static ULONG STDMETHODCALLTYPE st_Release(IStream *This)
{
    ms_stream *s = (ms_stream *)This;
    LONG n = InterlockedDecrement(&s->refs);
    if (n == 0) {
        if (s->dirty)
            flush(s);
        ((IMAPIProp *)s->o)->lpVtbl->Release(s->o);
        free(s->buf);
        free(s);
    }
    return (ULONG)n;
}

static HRESULT STDMETHODCALLTYPE st_Read(IStream *This, void *pv, ULONG cb, ULONG *pcbRead)
{
    ms_stream *s = (ms_stream *)This;
    ULONG got = 0;
    HRESULT hr = S_OK;
    if (!pv)
        return STG_E_INVALIDPOINTER;
    if (s->text || s->writable) {
        uint64_t left = s->pos < s->size ? s->size - s->pos : 0;
        got = (ULONG)(left < cb ? left : cb);
        if (got)
            memcpy(pv, s->buf + s->pos, got);
    } else {
        while (got < cb && s->pos + got < s->size && hr == S_OK) {
            mapi_buf b;
            mapi_buf_init(&b);
            uint32_t want = cb - got < CHUNK ? cb - got : CHUNK;
            uint64_t total = 0;
            hr = read_range(s, s->pos + got, want, &b, &total);
            if (hr == S_OK && b.len == 0)
                break;
            if (hr == S_OK) {
                memcpy((uint8_t *)pv + got, b.data, b.len > want ? want : b.len);
                got += (ULONG)(b.len > want ? want : b.len);
            }
            mapi_buf_free(&b);
        }
        if (hr != S_OK)
            hr = STG_E_READFAULT;
    }
    s->pos += got;
    if (pcbRead)
        *pcbRead = got;
    MS_TRACE("IStream::Read(tag=0x%08lx, cb=%lu) -> 0x%08lx read=%lu", (unsigned long)s->tag, (unsigned long)cb,
             (unsigned long)hr, (unsigned long)got);
    return hr;
}

static HRESULT STDMETHODCALLTYPE st_Write(IStream *This, const void *pv, ULONG cb, ULONG *pcbWritten)
{
    ms_stream *s = (ms_stream *)This;
    if (pcbWritten)
        *pcbWritten = 0;
    if (!s->writable)
        return STG_E_ACCESSDENIED;
    if (!pv && cb)
        return STG_E_INVALIDPOINTER;
    if (reserve(s, (size_t)(s->pos + cb)) != 0)
        return STG_E_MEDIUMFULL;
    if (cb)
        memcpy(s->buf + s->pos, pv, cb);
    s->pos += cb;
    if (s->pos > s->size)
        s->size = s->pos;
    s->dirty = 1;
    if (pcbWritten)
        *pcbWritten = cb;
    MS_TRACE("IStream::Write(tag=0x%08lx, cb=%lu) -> 0x00000000", (unsigned long)s->tag, (unsigned long)cb);
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE st_Seek(IStream *This, LARGE_INTEGER move, DWORD origin, ULARGE_INTEGER *newpos)
{
    ms_stream *s = (ms_stream *)This;
    int64_t base = origin == STREAM_SEEK_SET ? 0 : origin == STREAM_SEEK_CUR ? (int64_t)s->pos : (int64_t)s->size;
    if (origin > STREAM_SEEK_END)
        return STG_E_INVALIDFUNCTION;
    int64_t p = base + move.QuadPart;
    if (p < 0)
        return STG_E_INVALIDFUNCTION;
    s->pos = (uint64_t)p;
    if (newpos)
        newpos->QuadPart = s->pos;
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE st_SetSize(IStream *This, ULARGE_INTEGER size)
{
    ms_stream *s = (ms_stream *)This;
    if (!s->writable)
        return STG_E_ACCESSDENIED;
    if (size.QuadPart > 0x7fffffff || reserve(s, (size_t)size.QuadPart) != 0)
        return STG_E_MEDIUMFULL;
    if (size.QuadPart > s->size)
        memset(s->buf + s->size, 0, (size_t)(size.QuadPart - s->size));
    s->size = size.QuadPart;
    s->dirty = 1;
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE st_CopyTo(IStream *This, IStream *dst, ULARGE_INTEGER cb, ULARGE_INTEGER *pcbRead,
                                           ULARGE_INTEGER *pcbWritten)
{
    uint64_t done = 0, wrote = 0;
    HRESULT hr = S_OK;
    uint8_t *tmp = malloc(CHUNK);
    if (!tmp)
        return STG_E_INSUFFICIENTMEMORY;
    while (done < cb.QuadPart) {
        ULONG want = (ULONG)(cb.QuadPart - done < CHUNK ? cb.QuadPart - done : CHUNK), got = 0, put = 0;
        if ((hr = st_Read(This, tmp, want, &got)) != S_OK || got == 0)
            break;
        done += got;
        if ((hr = dst->lpVtbl->Write(dst, tmp, got, &put)) != S_OK)
            break;
        wrote += put;
    }
    free(tmp);
    if (pcbRead)
        pcbRead->QuadPart = done;
    if (pcbWritten)
        pcbWritten->QuadPart = wrote;
    return hr;
}

static HRESULT STDMETHODCALLTYPE st_Commit(IStream *This, DWORD flags)
{
    ms_stream *s = (ms_stream *)This;
    (void)flags;
    HRESULT hr = flush(s);
    MS_TRACE("IStream::Commit(tag=0x%08lx) -> 0x%08lx", (unsigned long)s->tag, (unsigned long)hr);
    return hr;
}

static HRESULT STDMETHODCALLTYPE st_Revert(IStream *This)
{
    (void)This;
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE st_LockRegion(IStream *This, ULARGE_INTEGER off, ULARGE_INTEGER cb, DWORD type)
{
    (void)This, (void)off, (void)cb, (void)type;
    return STG_E_INVALIDFUNCTION;
}

static HRESULT STDMETHODCALLTYPE st_UnlockRegion(IStream *This, ULARGE_INTEGER off, ULARGE_INTEGER cb, DWORD type)
{
    (void)This, (void)off, (void)cb, (void)type;
    return STG_E_INVALIDFUNCTION;
}

static HRESULT STDMETHODCALLTYPE st_Stat(IStream *This, STATSTG *st, DWORD flags)
{
    ms_stream *s = (ms_stream *)This;
    (void)flags;
    if (!st)
        return STG_E_INVALIDPOINTER;
    memset(st, 0, sizeof *st);
    st->type = STGTY_STREAM;
    st->cbSize.QuadPart = s->size;
    st->grfMode = s->writable ? STGM_READWRITE : STGM_READ;
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE st_Clone(IStream *This, IStream **out)
{
    (void)This;
    if (out)
        *out = NULL;
    return E_NOTIMPL;
}

static IStreamVtbl stream_vtbl = {
    st_QueryInterface, st_AddRef, st_Release, st_Read, st_Write, st_Seek, st_SetSize,
    st_CopyTo, st_Commit, st_Revert, st_LockRegion, st_UnlockRegion, st_Stat, st_Clone,
};
