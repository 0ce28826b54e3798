/* frontends/mapi/mapi_server.c — listener and connection threads. */
#include "mapi_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_MS 50
#define HELLO_TIMEOUT_MS 10000
#define SEND_TIMEOUT_MS 30000

typedef struct mapi_conn {
    struct mapi_server *srv;
    mapi_sock sock;
    mapi_thread *thread;
    struct mapi_conn *next;
} mapi_conn;

struct mapi_server {
    mapi_core *core;
    mapi_sock lsock;
    uint16_t port;
    mapi_thread *accept_thread;
    mapi_mutex *lock;
    int stopping;           /* under lock */
    mapi_conn *conns;       /* under lock */
};

static int stopping(mapi_server *s)
{
    mapi_os_mutex_lock(s->lock);
    int v = s->stopping;
    mapi_os_mutex_unlock(s->lock);
    return v;
}

static void *conn_main(void *arg)
{
    mapi_conn *c = arg;
    mapi_server *srv = c->srv;
    const struct outpost_host *h = srv->core->host;
    mapi_session *sess = mapi_session_new(srv->core);
    mapi_buf in, out;
    mapi_buf_init(&in);
    mapi_buf_init(&out);
    int64_t started = mapi_os_monotonic_ms();
    uint8_t chunk[65536];
    while (sess && !stopping(srv)) {
        if (!mapi_session_authenticated(sess) && mapi_os_monotonic_ms() - started > HELLO_TIMEOUT_MS)
            break;
        int rd = mapi_os_wait_readable(c->sock, POLL_MS);
        if (rd < 0)
            break;
        if (rd == 1) {
            long n = mapi_os_recv(c->sock, chunk, sizeof chunk);
            if (n <= 0)
                break;
            mapi_buf_add(&in, chunk, (size_t)n);
            if (in.oom)
                break;
        }
        size_t used_total = 0;
        int close_it = 0;
        for (;;) {
            mapi_frame f;
            size_t used;
            int pr = mapi_frame_parse(in.data + used_total, in.len - used_total, &f, &used);
            if (pr == 0)
                break;
            if (pr < 0) {
                h->log(h, OUTPOST_LOG_WARNING, "mapi: malformed frame from a client; connection closed");
                close_it = 1;
                break;
            }
            if (mapi_session_handle(sess, &f, &out) != 0)
                close_it = 1;
            used_total += used;
            if (close_it)
                break;
        }
        if (used_total) {
            memmove(in.data, in.data + used_total, in.len - used_total);
            in.len -= used_total;
        }
        if (mapi_session_authenticated(sess))
            mapi_session_poll(sess, &out);
        if (out.len) {
            if (out.oom || mapi_os_send_all(c->sock, out.data, out.len, SEND_TIMEOUT_MS) != 0)
                break;
            out.len = 0;
        }
        if (close_it)
            break;
    }
    mapi_session_free(sess);
    mapi_buf_free(&in);
    mapi_buf_free(&out);
    mapi_os_shutdown(c->sock);
    return NULL;
}

static void reap(mapi_server *s, int all)
{
    (void)all;
    /* Threads are joined at stop; finished connections keep their small
     * record until then. */
    (void)s;
}

static void *accept_main(void *arg)
{
    mapi_server *s = arg;
    while (!stopping(s)) {
        mapi_core_tick(s->core); /* FAI sets of folders deleted meanwhile */
        mapi_sock cs = mapi_os_accept(s->lsock, 200);
        if (cs == MAPI_BAD_SOCK)
            continue;
        mapi_conn *c = calloc(1, sizeof *c);
        if (!c) {
            mapi_os_close(cs);
            continue;
        }
        c->srv = s;
        c->sock = cs;
        mapi_os_mutex_lock(s->lock);
        c->next = s->conns;
        s->conns = c;
        c->thread = mapi_os_thread_start(conn_main, c);
        mapi_os_mutex_unlock(s->lock);
        if (!c->thread)
            mapi_os_shutdown(cs);
        reap(s, 0);
    }
    return NULL;
}

int mapi_parse_listen(const char *spec, char *host, size_t hostlen, uint16_t *port)
{
    const char *colon = spec ? strrchr(spec, ':') : NULL;
    if (!colon || (size_t)(colon - spec) >= hostlen || colon == spec)
        return -1;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535 || end == colon + 1)
        return -1;
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = 0;
    *port = (uint16_t)p;
    return 0;
}

mapi_server *mapi_server_start(mapi_core *core, const char *host, uint16_t port, char *err, size_t errlen)
{
    mapi_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->core = core;
    s->lock = mapi_os_mutex_new();
    s->lsock = mapi_os_listen(host, port, &s->port, err, errlen);
    if (!s->lock || s->lsock == MAPI_BAD_SOCK) {
        mapi_os_mutex_free(s->lock);
        free(s);
        return NULL;
    }
    mapi_core_watch(core);
    s->accept_thread = mapi_os_thread_start(accept_main, s);
    if (!s->accept_thread) {
        mapi_core_unwatch(core);
        snprintf(err, errlen, "cannot start the accept thread");
        mapi_os_close(s->lsock);
        mapi_os_mutex_free(s->lock);
        free(s);
        return NULL;
    }
    return s;
}

uint16_t mapi_server_port(const mapi_server *s)
{
    return s->port;
}

void mapi_server_stop(mapi_server *s)
{
    if (!s)
        return;
    mapi_os_mutex_lock(s->lock);
    s->stopping = 1;
    mapi_os_mutex_unlock(s->lock);
    mapi_os_thread_join(s->accept_thread);
    mapi_core_unwatch(s->core);
    mapi_os_close(s->lsock);
    mapi_conn *c = s->conns;
    while (c) {
        mapi_conn *next = c->next;
        mapi_os_shutdown(c->sock);
        mapi_os_thread_join(c->thread);
        mapi_os_close(c->sock);
        free(c);
        c = next;
    }
    mapi_os_mutex_free(s->lock);
    free(s);
}
