/* frontends/mapi/win32/ms_conn.c — the provider's connection to outpostd:
 * hello with the per-user secret, one request at a time with a bounded wait
 * for its reply, notifications queued and handed to advise sinks after the
 * lock is released. Never waits on the network without a timeout: a daemon
 * that is gone or silent gives MAPI_E_NETWORK_ERROR and the next call
 * reconnects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms.h"

ms_conn *ms_conn_new(const char *host, uint16_t port, const uint8_t secret[MAPI_WIRE_SECRET_LEN], int timeout_ms)
{
    ms_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    InitializeCriticalSection(&c->lock);
    c->refs = 1;
    snprintf(c->host, sizeof c->host, "%s", host);
    c->port = port;
    memcpy(c->secret, secret, MAPI_WIRE_SECRET_LEN);
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 15000;
    c->s = MAPI_BAD_SOCK;
    c->next_sink = 1;
    mapi_buf_init(&c->in);
    mapi_buf_init(&c->notes);
    return c;
}

void ms_conn_addref(ms_conn *c) { InterlockedIncrement(&c->refs); }

void ms_conn_release(ms_conn *c)
{
    if (!c || InterlockedDecrement(&c->refs) != 0)
        return;
    mapi_os_close(c->s);
    for (uint32_t i = 0; i < c->nsinks; i++)
        c->sinks[i].sink->lpVtbl->Release(c->sinks[i].sink);
    free(c->sinks);
    mapi_buf_free(&c->in);
    mapi_buf_free(&c->notes);
    if (c->stop_ev)
        CloseHandle(c->stop_ev);
    DeleteCriticalSection(&c->lock);
    free(c);
}

static void deliver(ms_conn *c, mapi_buf *notes);

static void drop(ms_conn *c, const char *why)
{
    if (c->s != MAPI_BAD_SOCK) {
        mapi_os_close(c->s);
        c->s = MAPI_BAD_SOCK;
    }
    c->in.len = 0;
    snprintf(c->last_error, sizeof c->last_error, "outpostd at %s:%u: %s", c->host, c->port, why);
    MS_TRACE("connection: %s", c->last_error);
}

/* Reads until one complete frame is in c->in; returns its size or -1. */
static long read_frame(ms_conn *c, mapi_frame *f, int64_t deadline)
{
    for (;;) {
        size_t used = 0;
        int rc = mapi_frame_parse(c->in.data, c->in.len, f, &used);
        if (rc > 0)
            return (long)used;
        if (rc < 0) {
            drop(c, "sent a malformed frame");
            return -1;
        }
        int64_t left = deadline - mapi_os_monotonic_ms();
        if (left <= 0) {
            drop(c, "no reply within the timeout");
            return -1;
        }
        int w = mapi_os_wait_readable(c->s, (int)left);
        if (w <= 0) {
            drop(c, w == 0 ? "no reply within the timeout" : "connection error");
            return -1;
        }
        uint8_t buf[65536];
        long n = mapi_os_recv(c->s, buf, sizeof buf);
        if (n <= 0) {
            drop(c, "closed the connection (daemon stopped?)");
            return -1;
        }
        mapi_buf_add(&c->in, buf, (size_t)n);
        if (c->in.oom) {
            drop(c, "out of memory");
            return -1;
        }
    }
}

static void consume(ms_conn *c, size_t used)
{
    memmove(c->in.data, c->in.data + used, c->in.len - used);
    c->in.len -= used;
}

/* Queues the complete NOTIFY frames at the front of c->in (lock held).
 * Returns -1 when a frame that is not a notification arrives unasked. */
static int absorb_notifications(ms_conn *c)
{
    for (;;) {
        mapi_frame f;
        size_t used = 0;
        int rc = mapi_frame_parse(c->in.data, c->in.len, &f, &used);
        if (rc == 0)
            return 0;
        if (rc < 0 || !(f.flags & MAPI_WF_NOTIFY))
            return -1;
        mapi_w_u32(&c->notes, (uint32_t)f.payload_len);
        mapi_buf_add(&c->notes, f.payload, f.payload_len);
        consume(c, used);
    }
}

/* Sends one request and waits for the reply with the same id, queueing
 * notifications. Lock held. */
static HRESULT roundtrip(ms_conn *c, uint16_t op, const mapi_buf *req, mapi_buf *rep)
{
    uint32_t id = ++c->next_id;
    mapi_buf out;
    mapi_buf_init(&out);
    size_t st = mapi_w_begin(&out, op, 0, id);
    if (req && req->len)
        mapi_buf_add(&out, req->data, req->len);
    mapi_w_end(&out, st);
    if (out.oom) {
        mapi_buf_free(&out);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    int64_t deadline = mapi_os_monotonic_ms() + c->timeout_ms;
    int sent = mapi_os_send_all(c->s, out.data, out.len, c->timeout_ms);
    mapi_buf_free(&out);
    if (sent != 0) {
        drop(c, "cannot send (daemon stopped?)");
        return MAPI_E_NETWORK_ERROR;
    }
    for (;;) {
        mapi_frame f;
        long used = read_frame(c, &f, deadline);
        if (used < 0)
            return MAPI_E_NETWORK_ERROR;
        if (f.flags & MAPI_WF_NOTIFY) {
            mapi_w_u32(&c->notes, (uint32_t)f.payload_len);
            mapi_buf_add(&c->notes, f.payload, f.payload_len);
            consume(c, (size_t)used);
            continue;
        }
        if (!(f.flags & MAPI_WF_REPLY) || f.id != id || f.payload_len < 4) {
            consume(c, (size_t)used);
            drop(c, "sent a reply out of order");
            return MAPI_E_NETWORK_ERROR;
        }
        mapi_rd rd;
        mapi_rd_init(&rd, f.payload, f.payload_len);
        HRESULT sc = (HRESULT)mapi_r_u32(&rd);
        if (rep)
            mapi_buf_add(rep, f.payload + 4, f.payload_len - 4);
        consume(c, (size_t)used);
        return sc;
    }
}

static HRESULT connect_locked(ms_conn *c)
{
    if (c->s != MAPI_BAD_SOCK)
        return S_OK;
    char err[256];
    int cto = c->timeout_ms < 3000 ? c->timeout_ms : 3000;
    c->s = mapi_os_connect(c->host, c->port, cto, err, sizeof err);
    if (c->s == MAPI_BAD_SOCK) {
        snprintf(c->last_error, sizeof c->last_error, "%s", err);
        MS_TRACE("connection: %s", err);
        return MAPI_E_NETWORK_ERROR;
    }
    c->in.len = 0;
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, MAPI_WIRE_MAGIC);
    mapi_w_u32(&q, MAPI_WIRE_VERSION);
    mapi_w_bin(&q, c->secret, MAPI_WIRE_SECRET_LEN);
    HRESULT hr = roundtrip(c, MAPI_OP_HELLO, &q, &r);
    mapi_buf_free(&q);
    if (hr == S_OK) {
        mapi_rd rd;
        mapi_rd_init(&rd, r.data, r.len);
        mapi_r_u32(&rd); /* version */
        uint32_t glen = 16;
        if (rd.left >= 16) {
            memcpy(c->guid, rd.p, 16);
            rd.p += glen;
            rd.left -= glen;
        }
        char *dn = mapi_r_str(&rd);
        snprintf(c->display_name, sizeof c->display_name, "%s", dn ? dn : "Outpost");
        free(dn);
        c->gen++;
        MS_TRACE("connection: hello to %s:%u ok, generation %u", c->host, c->port, c->gen);
    } else if (c->s != MAPI_BAD_SOCK) {
        drop(c, hr == MAPI_E_VERSION ? "speaks another protocol version; update Outpost on both sides"
                                     : hr == MAPI_E_LOGON_FAILED ? "refused the secret (wrong secret file?)"
                                                                 : "refused the hello");
    }
    mapi_buf_free(&r);
    return hr;
}

HRESULT ms_conn_ensure(ms_conn *c)
{
    EnterCriticalSection(&c->lock);
    HRESULT hr = connect_locked(c);
    LeaveCriticalSection(&c->lock);
    return hr;
}

HRESULT ms_call(ms_conn *c, uint32_t gen, uint16_t op, const mapi_buf *req, mapi_buf *rep)
{
    EnterCriticalSection(&c->lock);
    HRESULT hr;
    if (gen && (c->s == MAPI_BAD_SOCK || gen != c->gen)) {
        /* The handle belonged to a connection that is gone: the object is
         * dead, but reconnect so fresh objects work. */
        connect_locked(c);
        hr = MAPI_E_NETWORK_ERROR;
        if (c->last_error[0] == '\0')
            snprintf(c->last_error, sizeof c->last_error, "outpostd restarted: reopen the object");
    } else if ((hr = connect_locked(c)) == S_OK) {
        hr = roundtrip(c, op, req, rep);
    }
    mapi_buf notes = c->notes;
    mapi_buf_init(&c->notes);
    LeaveCriticalSection(&c->lock);
    if (notes.len)
        deliver(c, &notes);
    mapi_buf_free(&notes);
    return hr;
}

/* The listener: while no request is in flight, notifications the daemon
 * pushes are read and handed to the sinks within about 100 ms. It holds a
 * reference to the connection and ends when ms_conn_stop signals it. */
static DWORD WINAPI listen_main(LPVOID p)
{
    ms_conn *c = p;
    while (WaitForSingleObject(c->stop_ev, 100) == WAIT_TIMEOUT) {
        if (!TryEnterCriticalSection(&c->lock))
            continue; /* a request is in flight: it collects the notifications */
        if (c->s != MAPI_BAD_SOCK && c->nsinks && mapi_os_wait_readable(c->s, 0) == 1) {
            uint8_t buf[16384];
            long n = mapi_os_recv(c->s, buf, sizeof buf);
            if (n <= 0) {
                drop(c, "closed the connection (daemon stopped?)");
            } else {
                mapi_buf_add(&c->in, buf, (size_t)n);
                if (c->in.oom || absorb_notifications(c) != 0)
                    drop(c, "sent a frame nobody asked for");
            }
        }
        mapi_buf notes = c->notes;
        mapi_buf_init(&c->notes);
        LeaveCriticalSection(&c->lock);
        if (notes.len)
            deliver(c, &notes);
        mapi_buf_free(&notes);
    }
    ms_conn_release(c);
    return 0;
}

void ms_conn_stop(ms_conn *c)
{
    if (!c || !c->listener)
        return;
    SetEvent(c->stop_ev);
    if (GetCurrentThreadId() != c->listener_id)
        WaitForSingleObject(c->listener, INFINITE);
    CloseHandle(c->listener);
    c->listener = NULL;
}

ULONG_PTR ms_sink_add(ms_conn *c, uint32_t conn, LPMAPIADVISESINK sink, struct ms_table *t)
{
    EnterCriticalSection(&c->lock);
    if (!c->listener && (c->stop_ev || (c->stop_ev = CreateEventW(NULL, TRUE, FALSE, NULL)))) {
        ms_conn_addref(c);
        c->listener = CreateThread(NULL, 0, listen_main, c, 0, &c->listener_id);
        if (!c->listener)
            InterlockedDecrement(&c->refs);
    }
    ms_sink *n = realloc(c->sinks, (c->nsinks + 1) * sizeof *n);
    ULONG_PTR id = 0;
    if (n) {
        c->sinks = n;
        id = c->next_sink++;
        sink->lpVtbl->AddRef(sink);
        c->sinks[c->nsinks++] = (ms_sink){ conn, id, sink, t };
    }
    LeaveCriticalSection(&c->lock);
    return id;
}

uint32_t ms_sink_remove(ms_conn *c, ULONG_PTR id)
{
    EnterCriticalSection(&c->lock);
    uint32_t conn = 0;
    LPMAPIADVISESINK s = NULL;
    for (uint32_t i = 0; i < c->nsinks; i++) {
        if (c->sinks[i].id == id) {
            conn = c->sinks[i].conn;
            s = c->sinks[i].sink;
            c->sinks[i] = c->sinks[--c->nsinks];
            break;
        }
    }
    LeaveCriticalSection(&c->lock);
    if (s)
        s->lpVtbl->Release(s);
    return conn;
}

/* Notifications to MAPI NOTIFICATION structures, one OnNotify per frame.
 * The structures live on the C heap and die after OnNotify returns, as
 * MAPI's own notifications do (sinks copy what they keep). */
static void deliver(ms_conn *c, mapi_buf *notes)
{
    mapi_rd all;
    mapi_rd_init(&all, notes->data, notes->len);
    while (all.left >= 4 && !all.err) {
        uint32_t len = mapi_r_u32(&all);
        if (len > all.left)
            break;
        mapi_rd rd;
        mapi_rd_init(&rd, all.p, len);
        all.p += len;
        all.left -= len;
        uint32_t conn = mapi_r_u32(&rd), kind = mapi_r_u32(&rd);
        LPMAPIADVISESINK sink = NULL;
        EnterCriticalSection(&c->lock);
        for (uint32_t i = 0; i < c->nsinks; i++)
            if (c->sinks[i].conn == conn) {
                sink = c->sinks[i].sink;
                sink->lpVtbl->AddRef(sink);
            }
        LeaveCriticalSection(&c->lock);
        if (!sink)
            continue;
        NOTIFICATION n;
        memset(&n, 0, sizeof n);
        mapi_props row;
        mapi_props_init(&row);
        LPSPropValue vals = NULL;
        if (kind == MAPI_NOTIFY_TABLE) {
            n.ulEventType = fnevTableModified;
            n.info.tab.ulTableEvent = mapi_r_u32(&rd);
            uint32_t kl = 0, pl = 0;
            const uint8_t *key = mapi_r_bin(&rd, &kl);
            const uint8_t *prior = mapi_r_bin(&rd, &pl);
            n.info.tab.propIndex.ulPropTag = PR_INSTANCE_KEY;
            n.info.tab.propIndex.Value.bin.cb = kl;
            n.info.tab.propIndex.Value.bin.lpb = (LPBYTE)key;
            n.info.tab.propPrior.ulPropTag = PR_INSTANCE_KEY;
            n.info.tab.propPrior.Value.bin.cb = pl;
            n.info.tab.propPrior.Value.bin.lpb = (LPBYTE)prior;
            if (mapi_r_props(&rd, &row) == 0 && row.n) {
                vals = calloc(row.n, sizeof *vals);
                if (vals) {
                    /* strings and binaries point into `row`, alive until after OnNotify */
                    for (uint32_t i = 0; i < row.n; i++) {
                        const mapi_prop *p = &row.p[i];
                        vals[i].ulPropTag = p->tag;
                        switch (PROP_TYPE(p->tag)) {
                        case PT_LONG: case PT_ERROR: vals[i].Value.l = p->v.l; break;
                        case PT_I2: vals[i].Value.i = (short)p->v.l; break;
                        case PT_BOOLEAN: vals[i].Value.b = (unsigned short)p->v.l; break;
                        case PT_I8: case PT_SYSTIME: case PT_CURRENCY: vals[i].Value.li.QuadPart = p->v.ll; break;
                        case PT_DOUBLE: case PT_APPTIME: vals[i].Value.dbl = p->v.d; break;
                        case PT_BINARY: vals[i].Value.bin.cb = p->v.bin.len; vals[i].Value.bin.lpb = p->v.bin.data; break;
                        case PT_STRING8: vals[i].Value.lpszA = (LPSTR)p->v.bin.data; break;
                        case PT_UNICODE: vals[i].Value.lpszW = ms_wide((const char *)p->v.bin.data); break;
                        default: vals[i].ulPropTag = PROP_TAG(PT_ERROR, PROP_ID(p->tag)); vals[i].Value.err = MAPI_E_NOT_FOUND;
                        }
                    }
                    n.info.tab.row.cValues = row.n;
                    n.info.tab.row.lpProps = vals;
                }
            }
        } else if (kind == MAPI_NOTIFY_OBJECT) {
            n.ulEventType = mapi_r_u32(&rd);
            uint32_t el = 0, pl = 0;
            const uint8_t *eid = mapi_r_bin(&rd, &el);
            const uint8_t *par = mapi_r_bin(&rd, &pl);
            n.info.obj.cbEntryID = el;
            n.info.obj.lpEntryID = (LPENTRYID)eid;
            n.info.obj.cbParentID = pl;
            n.info.obj.lpParentID = (LPENTRYID)par;
            n.info.obj.ulObjType = mapi_r_u32(&rd);
        }
        if (!rd.err) {
            MS_TRACE("notify: connection %u event 0x%lx -> OnNotify", conn, (unsigned long)n.ulEventType);
            sink->lpVtbl->OnNotify(sink, 1, &n);
        }
        if (vals) {
            for (uint32_t i = 0; i < row.n; i++)
                if (PROP_TYPE(vals[i].ulPropTag) == PT_UNICODE)
                    free(vals[i].Value.lpszW);
            free(vals);
        }
        mapi_props_free(&row);
        sink->lpVtbl->Release(sink);
    }
}
