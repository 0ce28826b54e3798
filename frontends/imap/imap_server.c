/* imap_server.c — the IMAP front-end plugin: descriptor and configuration,
 * the listener (plain + implicit TLS), one thread per connection with a cap,
 * a connection's buffered I/O over a socket or TLS, and the store
 * notification listener that wakes sessions in IDLE.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "imap_internal.h"

#define IMAP_VERSION "0.1.0"
#define IMAP_STOP_GRACE_MS 2000 /* stop(): how long sessions get to finish and say BYE */

static const outpost_config_key imap_keys[] = {
    { "listen", OUTPOST_CFG_STRING, 0, "127.0.0.1:1143", NULL,
      "address:port of the IMAP server (port 0: any free port); a non-loopback address needs TLS" },
    { "user", OUTPOST_CFG_STRING, 0, NULL, NULL, "IMAP login name" },
    { "password_file", OUTPOST_CFG_SECRET_FILE, 0, NULL, NULL,
      "file holding the IMAP password (no group/other permissions)" },
    { "password_cmd", OUTPOST_CFG_COMMAND, 0, NULL, NULL, "command printing the IMAP password" },
    { "tls_cert", OUTPOST_CFG_PATH, 0, NULL, NULL, "PEM certificate (chain): enables STARTTLS" },
    { "tls_key", OUTPOST_CFG_PATH, 0, NULL, NULL, "PEM private key of tls_cert" },
    { "tls_listen", OUTPOST_CFG_STRING, 0, NULL, NULL,
      "address:port for implicit TLS (IMAPS), e.g. 127.0.0.1:1993; needs tls_cert" },
    { "port_file", OUTPOST_CFG_PATH, 0, NULL, NULL,
      "file to write the bound port(s) to after start (plain, then TLS), for tests and scripts" },
    { "max_literal", OUTPOST_CFG_INT, 0, "64M", NULL, "largest literal (e.g. APPENDed message) accepted" },
    { "max_connections", OUTPOST_CFG_INT, 0, "256", NULL, "concurrent client connections" },
    { "timeout", OUTPOST_CFG_INT, 0, "30m", NULL, "autologout of an idle authenticated client (RFC 3501: >= 30m)" },
    { "login_timeout", OUTPOST_CFG_INT, 0, "60s", NULL, "disconnect a client that has not logged in after this" },
    { "idle_timeout", OUTPOST_CFG_INT, 0, "30m", NULL, "longest IDLE before the server ends it (RFC 2177: >= 29m)" },
    { "content_timeout", OUTPOST_CFG_INT, 0, "60s", NULL, "wait at most this for a body fetched on demand" },
    { "auth_failure_delay", OUTPOST_CFG_INT, 0, "1s", NULL, "delay before answering a failed login" },
    { NULL, 0, 0, NULL, NULL, NULL }
};

/* ---- connection I/O ---- */

static ssize_t raw_read(struct imap_conn *c, void *buf, size_t n)
{
    if (c->tls_active) {
        int r = SSL_read(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
        return r > 0 ? r : -1;
    }
    ssize_t r;
    do
        r = recv(c->fd, buf, n, 0);
    while (r < 0 && errno == EINTR);
    return r > 0 ? r : -1;
}

static int raw_write(struct imap_conn *c, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        if (c->tls_active) {
            int r = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
            if (r <= 0)
                return -1;
            p += r;
            n -= (size_t)r;
        } else {
            ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                return -1;
            p += r;
            n -= (size_t)r;
        }
    }
    return 0;
}

/* raw_write with the configuration lock released: a slow client must not
 * hold up a reload. */
static int unlocked_write(struct imap_conn *c, const void *buf, size_t n)
{
    imap_cfg_unlock(c->srv);
    int r = raw_write(c, buf, n);
    imap_cfg_rdlock(c->srv);
    return r;
}

int imap_flush(struct imap_conn *c)
{
    if (c->wlen && !c->write_failed && unlocked_write(c, c->wbuf, c->wlen) != 0)
        c->write_failed = 1;
    c->wlen = 0;
    return c->write_failed ? -1 : 0;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int imap_flush_bounded(struct imap_conn *c, int64_t timeout_ms)
{
    if (c->write_failed || !c->wlen) {
        c->wlen = 0;
        return c->write_failed ? -1 : 0;
    }
    int fl = fcntl(c->fd, F_GETFL);
    if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) != 0)
        c->write_failed = 1;
    imap_cfg_unlock(c->srv);
    int64_t deadline = mono_ms() + timeout_ms;
    const char *p = c->wbuf;
    size_t n = c->wlen;
    while (n > 0 && !c->write_failed) {
        short ev = POLLOUT;
        if (c->tls_active) {
            /* a retry after WANT_* passes the same buffer, as OpenSSL requires */
            int r = SSL_write(c->ssl, p, (int)n);
            if (r > 0) {
                p += r;
                n -= (size_t)r;
                continue;
            }
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ)
                ev = POLLIN;
            else if (e != SSL_ERROR_WANT_WRITE)
                c->write_failed = 1;
        } else {
            ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
            if (r > 0) {
                p += r;
                n -= (size_t)r;
                continue;
            }
            if (r < 0 && errno == EINTR)
                continue;
            if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
                c->write_failed = 1;
        }
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            c->write_failed = 1;
        if (c->write_failed)
            break;
        struct pollfd pf = { c->fd, ev, 0 };
        if (poll(&pf, 1, (int)left) < 0 && errno != EINTR)
            c->write_failed = 1;
    }
    imap_cfg_rdlock(c->srv);
    c->wlen = 0;
    return c->write_failed ? -1 : 0;
}

void imap_write(struct imap_conn *c, const void *data, size_t len)
{
    if (c->write_failed)
        return;
    if (c->wlen + len > IMAP_CHUNK) {
        imap_flush(c);
        if (len >= IMAP_CHUNK) {
            if (unlocked_write(c, data, len) != 0)
                c->write_failed = 1;
            return;
        }
    }
    memcpy(c->wbuf + c->wlen, data, len);
    c->wlen += len;
}

void imap_puts(struct imap_conn *c, const char *s)
{
    imap_write(c, s, strlen(s));
}

void imap_put_uint(struct imap_conn *c, uint64_t v)
{
    char b[24], *p = b + sizeof b;
    do
        *--p = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    imap_write(c, p, (size_t)(b + sizeof b - p));
}

void imap_printf(struct imap_conn *c, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof buf) {
        imap_write(c, buf, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big)
        return;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    imap_write(c, big, (size_t)n);
    free(big);
}

void imap_astring(struct imap_conn *c, const char *s)
{
    if (!s) {
        imap_puts(c, "NIL");
        return;
    }
    size_t n = strlen(s);
    int quote_ok = n < 1024;
    for (size_t i = 0; quote_ok && i < n; i++)
        if (s[i] == '\r' || s[i] == '\n' || (unsigned char)s[i] >= 0x80)
            quote_ok = 0;
    if (!quote_ok) {
        imap_printf(c, "{%zu}\r\n", n);
        imap_write(c, s, n);
        return;
    }
    imap_write(c, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            imap_write(c, "\\", 1);
        imap_write(c, s + i, 1);
    }
    imap_write(c, "\"", 1);
}

void imap_drain_wake(struct imap_conn *c)
{
    char b[64];
    while (read(c->wake[0], b, sizeof b) > 0)
        ;
}

static int wait_input_unlocked(struct imap_conn *c, int64_t timeout_ms, int wakeable);

/* Waits for input (or a wake-up) with the configuration lock released.
 * 1 readable, 0 timeout, -3 woken, -1 error. */
static int wait_input(struct imap_conn *c, int64_t timeout_ms, int wakeable)
{
    if (c->tls_active && SSL_pending(c->ssl) > 0)
        return 1;
    imap_cfg_unlock(c->srv);
    int r = wait_input_unlocked(c, timeout_ms, wakeable);
    imap_cfg_rdlock(c->srv);
    return r;
}

static int wait_input_unlocked(struct imap_conn *c, int64_t timeout_ms, int wakeable)
{
    /* the halt pipe wakes every session at stop(); the notification pipe only
     * a wakeable wait (IDLE), as the others leave its pokes for later */
    struct pollfd p[3] = { { c->fd, POLLIN, 0 }, { c->srv->halt_pipe[0], POLLIN, 0 }, { c->wake[0], POLLIN, 0 } };
    int64_t deadline = timeout_ms >= 0 ? mono_ms() + timeout_ms : -1;
    for (;;) {
        int64_t left = -1;
        if (deadline >= 0) {
            left = deadline - mono_ms();
            if (left < 0)
                left = 0;
        }
        /* wake up at least once a second to notice stop() */
        int t = left < 0 || left > 1000 ? 1000 : (int)left;
        int r = poll(p, wakeable ? 3 : 2, t);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (atomic_load(&c->srv->stopping)) {
            c->halted = 1;
            return -1;
        }
        if (r > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            return 1;
        if (wakeable && r > 0 && (p[2].revents & POLLIN)) {
            imap_drain_wake(c);
            return -3;
        }
        if (deadline >= 0 && mono_ms() >= deadline)
            return 0;
    }
}

static int fill(struct imap_conn *c, int64_t timeout_ms, int wakeable)
{
    if (c->rpos > 0) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    if (c->rlen >= IMAP_LINE_MAX)
        return -4;
    int w = wait_input(c, timeout_ms, wakeable);
    if (w == 0)
        return -2;
    if (w == -3)
        return -3;
    if (w < 0)
        return 0;
    ssize_t r = raw_read(c, c->rbuf + c->rlen, IMAP_LINE_MAX - c->rlen);
    if (r <= 0)
        return 0;
    c->rlen += (size_t)r;
    return 1;
}

/* A tag character (RFC 3501 "tag": ASTRING-CHAR except "+"). */
static int long_tag_char(char ch)
{
    unsigned char u = (unsigned char)ch;
    return u > 0x20 && u < 0x7f && !strchr("(){%*\"\\+", u);
}

int imap_read_line(struct imap_conn *c, char **line, size_t *len, int64_t timeout_ms, int wakeable)
{
    for (;;) {
        char *nl = memchr(c->rbuf + c->rpos, '\n', c->rlen - c->rpos);
        if (nl) {
            size_t l = (size_t)(nl - (c->rbuf + c->rpos));
            size_t used = l + 1;
            if (l > 0 && c->rbuf[c->rpos + l - 1] == '\r')
                l--;
            char *s = malloc(l + 1);
            if (!s)
                return 0;
            memcpy(s, c->rbuf + c->rpos, l);
            s[l] = '\0';
            c->rpos += used;
            *line = s;
            *len = l;
            return 1;
        }
        if (c->rlen - c->rpos >= IMAP_LINE_MAX) {
            /* an over-long line: keep its tag for the BAD, discard through its end */
            size_t t = 0;
            while (t + 1 < sizeof c->long_tag && c->rpos + t < c->rlen && long_tag_char(c->rbuf[c->rpos + t])) {
                c->long_tag[t] = c->rbuf[c->rpos + t];
                t++;
            }
            if (c->rpos + t >= c->rlen || c->rbuf[c->rpos + t] != ' ')
                t = 0;
            c->long_tag[t] = '\0';
            for (;;) {
                c->rpos = c->rlen = 0;
                int r = fill(c, timeout_ms, 0);
                if (r != 1)
                    return r == -2 ? -2 : 0;
                char *e = memchr(c->rbuf, '\n', c->rlen);
                if (e) {
                    c->rpos = (size_t)(e - c->rbuf) + 1;
                    return -4;
                }
            }
        }
        int r = fill(c, timeout_ms, wakeable);
        if (r != 1)
            return r;
    }
}

int imap_read_exact(struct imap_conn *c, void *buf, size_t n, int64_t timeout_ms)
{
    char *p = buf;
    while (n > 0) {
        size_t have = c->rlen - c->rpos;
        if (have) {
            size_t k = have < n ? have : n;
            memcpy(p, c->rbuf + c->rpos, k);
            c->rpos += k;
            p += k;
            n -= k;
            continue;
        }
        c->rpos = c->rlen = 0;
        int r = fill(c, timeout_ms, 0);
        if (r != 1)
            return -1;
    }
    return 0;
}

int imap_start_tls(struct imap_conn *c)
{
    struct imap_server *s = c->srv;
    if (!s->ssl_ctx || c->tls_active)
        return -1;
    c->ssl = SSL_new(s->ssl_ctx);
    if (!c->ssl)
        return -1;
    SSL_set_fd(c->ssl, c->fd);
    /* bound the handshake */
    struct timeval tv = { 30, 0 };
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    imap_cfg_unlock(s); /* c->ssl holds its own reference to the context */
    int r = SSL_accept(c->ssl);
    imap_cfg_rdlock(s);
    struct timeval zero = { 0, 0 };
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &zero, sizeof zero);
    if (r != 1) {
        unsigned long e = ERR_get_error();
        char eb[256];
        ERR_error_string_n(e, eb, sizeof eb);
        s->h->log(s->h, OUTPOST_LOG_INFO, "TLS handshake with %s failed: %s", c->peer, e ? eb : "connection closed");
        ERR_clear_error();
        return -1;
    }
    c->tls_active = 1;
    c->rlen = c->rpos = 0; /* nothing read before the handshake may be kept */
    return 0;
}

/* ---- notifications ---- */

static void on_store_event(void *ctx, const outpost_store_event *ev)
{
    struct imap_server *s = ctx;
    if (ev->kind == OUTPOST_EVENT_FOLDERS) {
        pthread_mutex_lock(&s->subs_wake_mu);
        s->folders_changed = 1;
        pthread_cond_signal(&s->subs_wake);
        pthread_mutex_unlock(&s->subs_wake_mu);
    }
    pthread_mutex_lock(&s->mu);
    for (struct imap_conn *c = s->conns; c; c = c->next) {
        int64_t sel = atomic_load(&c->sel_folder_atomic);
        if (ev->kind == OUTPOST_EVENT_ITEMS && sel != ev->folder_id)
            continue;
        if (ev->kind == OUTPOST_EVENT_CONTENT)
            continue;
        if (write(c->wake[1], "x", 1) < 0) {
            /* pipe full: the session is already due to wake */
        }
    }
    pthread_mutex_unlock(&s->mu);
}

void imap_set_selected_folder(struct imap_conn *c, int64_t id)
{
    atomic_store(&c->sel_folder_atomic, (long long)id);
}

/* ---- connections ---- */

static void conn_free(struct imap_conn *c)
{
    imap_session_free(c);
    if (c->ssl) {
        SSL_free(c->ssl);
    }
    if (c->fd >= 0)
        close(c->fd);
    if (c->wake[0] >= 0)
        close(c->wake[0]);
    if (c->wake[1] >= 0)
        close(c->wake[1]);
    imap_parser_free(c->parser);
    free(c->rbuf);
    free(c->wbuf);
    free(c);
}

static void *conn_main(void *arg)
{
    struct imap_conn *c = arg;
#ifdef __linux__
    pthread_setname_np(pthread_self(), "imap-session"); /* for top -H, ps -L, perf, gdb */
#endif
    imap_session_run(c);
    if (c->tls_active && !c->write_failed)
        SSL_shutdown(c->ssl);
    shutdown(c->fd, SHUT_RDWR);
    pthread_mutex_lock(&c->srv->mu);
    atomic_store(&c->done, 1);
    pthread_cond_broadcast(&c->srv->cond);
    pthread_mutex_unlock(&c->srv->mu);
    return NULL;
}

/* Joins finished connections (all of them when `all`). Called without s->mu. */
static void reap(struct imap_server *s, int all)
{
    for (;;) {
        struct imap_conn *dead = NULL;
        pthread_mutex_lock(&s->mu);
        for (struct imap_conn **pp = &s->conns; *pp; pp = &(*pp)->next) {
            if (all || atomic_load(&(*pp)->done)) {
                dead = *pp;
                *pp = dead->next;
                s->nconns--;
                break;
            }
        }
        pthread_mutex_unlock(&s->mu);
        if (!dead)
            return;
        pthread_join(dead->thr, NULL);
        conn_free(dead);
    }
}

static int is_loopback_sa(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return 1;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            return in6->sin6_addr.s6_addr[12] == 127;
    }
    return 0;
}

static void accept_one(struct imap_server *s, int lfd, int implicit_tls)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = accept(lfd, (struct sockaddr *)&ss, &sl);
    if (fd < 0)
        return;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* a client that stops reading cannot block its thread forever */
    struct timeval tv = { 120, 0 };
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    pthread_mutex_lock(&s->mu);
    int full = s->nconns >= s->max_conns;
    pthread_mutex_unlock(&s->mu);
    if (full) {
        static const char bye[] = "* BYE [UNAVAILABLE] Too many connections, try again later\r\n";
        if (!implicit_tls && send(fd, bye, sizeof bye - 1, MSG_NOSIGNAL) < 0) {
            /* nothing to do */
        }
        close(fd);
        s->h->log(s->h, OUTPOST_LOG_WARNING, "refused a connection: max_connections (%d) reached", s->max_conns);
        return;
    }
    struct imap_conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->srv = s;
    c->fd = fd;
    c->wake[0] = c->wake[1] = -1;
    c->rbuf = malloc(IMAP_LINE_MAX);
    c->wbuf = malloc(IMAP_CHUNK);
    struct imap_parser_limits lim = { 100000, 64, (size_t)s->max_literal };
    c->parser = imap_parser_new(&lim);
    c->loopback_peer = is_loopback_sa(&ss);
    char host[INET6_ADDRSTRLEN] = "?", serv[16] = "";
    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(c->peer, sizeof c->peer, "%s:%s", host, serv);
    if (!c->rbuf || !c->wbuf || !c->parser || pipe(c->wake) != 0) {
        conn_free(c);
        return;
    }
    fcntl(c->wake[0], F_SETFL, O_NONBLOCK);
    fcntl(c->wake[1], F_SETFL, O_NONBLOCK);
    if (implicit_tls)
        c->tls_active = -1; /* handshake in the thread */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1024 * 1024);
    pthread_mutex_lock(&s->mu);
    c->next = s->conns;
    s->conns = c;
    s->nconns++;
    int r = pthread_create(&c->thr, &attr, conn_main, c);
    if (r != 0) {
        s->conns = c->next;
        s->nconns--;
    }
    pthread_mutex_unlock(&s->mu);
    pthread_attr_destroy(&attr);
    if (r != 0) {
        s->h->log(s->h, OUTPOST_LOG_ERROR, "cannot start a connection thread: %s", strerror(r));
        conn_free(c);
    }
}

/* The listener holds the configuration lock while it polls; reload() wakes
 * it through stop_pipe to take the lock and swap the listening sockets. */
static void *accept_main(void *arg)
{
    struct imap_server *s = arg;
#ifdef __linux__
    pthread_setname_np(pthread_self(), "imap-accept"); /* for top -H, ps -L, perf, gdb */
#endif
    for (;;) {
        imap_cfg_rdlock(s);
        struct pollfd p[3];
        int n = 0;
        p[n++] = (struct pollfd){ s->stop_pipe[0], POLLIN, 0 };
        p[n++] = (struct pollfd){ s->lfd, POLLIN, 0 };
        if (s->tlfd >= 0)
            p[n++] = (struct pollfd){ s->tlfd, POLLIN, 0 };
        int r = poll(p, (nfds_t)n, 1000);
        if (atomic_load(&s->stopping)) {
            imap_cfg_unlock(s);
            break;
        }
        if (r > 0 && (p[0].revents & POLLIN)) {
            char b[16];
            while (read(s->stop_pipe[0], b, sizeof b) > 0)
                ; /* a reload's wake-up */
        }
        if (r > 0 && (p[1].revents & POLLIN))
            accept_one(s, s->lfd, 0);
        if (r > 0 && n > 2 && (p[2].revents & POLLIN))
            accept_one(s, s->tlfd, 1);
        imap_cfg_unlock(s);
        reap(s, 0);
    }
    return NULL;
}

/* The subscriptions thread: imap_subs_record after each change of the hierarchy, until stop(). */
static void *subs_main(void *arg)
{
    struct imap_server *s = arg;
#ifdef __linux__
    pthread_setname_np(pthread_self(), "imap-subs"); /* for top -H, ps -L, perf, gdb */
#endif
    pthread_mutex_lock(&s->subs_wake_mu);
    while (!atomic_load(&s->stopping)) {
        if (!s->folders_changed) {
            pthread_cond_wait(&s->subs_wake, &s->subs_wake_mu);
            continue;
        }
        s->folders_changed = 0;
        pthread_mutex_unlock(&s->subs_wake_mu);
        /* under the configuration lock, as sessions: a reload swaps the host and store
         * (ThreadSanitizer saw this thread read them while a reload wrote them) */
        imap_cfg_rdlock(s);
        imap_subs_record(s);
        imap_cfg_unlock(s);
        pthread_mutex_lock(&s->subs_wake_mu);
    }
    pthread_mutex_unlock(&s->subs_wake_mu);
    return NULL;
}

/* ---- configuration ---- */

static int parse_hostport(const char *v, char *host, size_t hostlen, int *port)
{
    const char *colon;
    if (v[0] == '[') {
        const char *e = strchr(v, ']');
        if (!e || e[1] != ':')
            return -1;
        if ((size_t)(e - v - 1) >= hostlen)
            return -1;
        memcpy(host, v + 1, (size_t)(e - v - 1));
        host[e - v - 1] = '\0';
        colon = e + 1;
    } else {
        colon = strrchr(v, ':');
        if (!colon || (size_t)(colon - v) >= hostlen)
            return -1;
        memcpy(host, v, (size_t)(colon - v));
        host[colon - v] = '\0';
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || p < 0 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}

static int host_is_loopback(const char *host)
{
    if (!strcmp(host, "localhost"))
        return 1;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;
}

struct outpost_frontend {
    struct imap_server srv;
    char msg[512];
};

static outpost_status fe_fail(struct outpost_frontend *f, int code, const char *fmt, ...) OUTPOST_PRINTF(3, 4);
static outpost_status fe_fail(struct outpost_frontend *f, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof f->msg, fmt, ap);
    va_end(ap);
    outpost_status st = { code, 0, f->msg };
    return st;
}

/* A status carrying the message already in f->msg (formatting f->msg into
 * itself would overlap). */
static outpost_status fe_msg(struct outpost_frontend *f, int code)
{
    outpost_status st = { code, 0, f->msg };
    return st;
}

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

static void fe_destroy(struct outpost_frontend *f);

/* create() must report errors; with no instance to own the message, a
 * static per-thread buffer carries it. */
static _Thread_local char create_msg[512];

static outpost_status create_fail(struct outpost_frontend *f, const char *fmt, ...) OUTPOST_PRINTF(2, 3);
static outpost_status create_fail(struct outpost_frontend *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(create_msg, sizeof create_msg, fmt, ap);
    va_end(ap);
    fe_destroy(f);
    outpost_status st = { OUTPOST_FATAL, 0, create_msg };
    return st;
}

/* The [imap] section, read and checked (no I/O but reading the password
 * and the TLS files). */
struct imap_settings {
    char listen_host[256];
    int listen_port;
    char tls_host[256];
    int tls_port; /* -1: no implicit TLS listener */
    char *user, *password, *port_file, *tls_cert, *tls_key;
    uint64_t max_literal;
    int max_conns;
    int64_t timeout_s, login_timeout_s, idle_timeout_s, content_timeout_ms;
    int auth_delay_ms;
    SSL_CTX *ssl_ctx;
};

static void settings_free(struct imap_settings *o)
{
    if (o->password) {
        memset(o->password, 0, strlen(o->password));
        free(o->password);
    }
    free(o->user);
    free(o->port_file);
    free(o->tls_cert);
    free(o->tls_key);
    if (o->ssl_ctx)
        SSL_CTX_free(o->ssl_ctx);
    memset(o, 0, sizeof *o);
}

/* 0, or -1 with the reason in err. */
static int read_settings(const struct outpost_host *h, struct imap_settings *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->tls_port = -1;
#define FAIL(...)                              \
    do {                                       \
        snprintf(err, errlen, __VA_ARGS__);    \
        settings_free(o);                      \
        return -1;                             \
    } while (0)
    const char *listen = h->config_get(h, "listen");
    if (!listen)
        listen = "127.0.0.1:1143";
    if (parse_hostport(listen, o->listen_host, sizeof o->listen_host, &o->listen_port) != 0)
        FAIL("[imap] listen = '%s': expected address:port, e.g. 127.0.0.1:1143", listen);
    const char *tl = h->config_get(h, "tls_listen");
    if (tl && *tl && parse_hostport(tl, o->tls_host, sizeof o->tls_host, &o->tls_port) != 0)
        FAIL("[imap] tls_listen = '%s': expected address:port, e.g. 127.0.0.1:1993", tl);
    o->tls_cert = dup_or_null(h->config_get(h, "tls_cert"));
    o->tls_key = dup_or_null(h->config_get(h, "tls_key"));
    if ((o->tls_cert != NULL) != (o->tls_key != NULL))
        FAIL("[imap] tls_cert and tls_key must be set together");
    if (o->tls_port >= 0 && !o->tls_cert)
        FAIL("[imap] tls_listen needs tls_cert and tls_key");
    if (!host_is_loopback(o->listen_host) && !o->tls_cert)
        FAIL("[imap] listen = '%s' is not a loopback address: refusing to serve mail without TLS "
             "(set tls_cert and tls_key, or listen on 127.0.0.1)",
             listen);
    const char *user = h->config_get(h, "user");
    if (!user || !*user)
        FAIL("[imap] user is not set: IMAP clients must log in (set user and password_file)");
    o->user = strdup(user);
    char *pw = NULL;
    outpost_status st = h->secret(h, "password", &pw);
    if (st.code != OUTPOST_OK)
        FAIL("[imap] no IMAP password: %s", st.message ? st.message : "password_file not set");
    o->password = strdup(pw);
    memset(pw, 0, strlen(pw));
    h->free(pw);
    if (!o->user || !o->password)
        FAIL("[imap] out of memory");
    o->port_file = dup_or_null(h->config_get(h, "port_file"));
    int64_t ml = h->config_int(h, "max_literal", 64 * 1024 * 1024);
    o->max_literal = ml > 0 ? (uint64_t)ml : 64 * 1024 * 1024;
    o->max_conns = (int)h->config_int(h, "max_connections", 256);
    if (o->max_conns < 1)
        o->max_conns = 1;
    o->timeout_s = h->config_int(h, "timeout", 1800);
    o->login_timeout_s = h->config_int(h, "login_timeout", 60);
    o->idle_timeout_s = h->config_int(h, "idle_timeout", 1800);
    o->content_timeout_ms = h->config_int(h, "content_timeout", 60) * 1000;
    o->auth_delay_ms = (int)(h->config_int(h, "auth_failure_delay", 1) * 1000);
    if (o->timeout_s < 1 || o->login_timeout_s < 1 || o->idle_timeout_s < 1)
        FAIL("[imap] timeout, login_timeout and idle_timeout must be positive");
    if (o->tls_cert) {
        o->ssl_ctx = SSL_CTX_new(TLS_server_method());
        if (!o->ssl_ctx)
            FAIL("[imap] cannot create a TLS context");
        SSL_CTX_set_min_proto_version(o->ssl_ctx, TLS1_2_VERSION);
        if (SSL_CTX_use_certificate_chain_file(o->ssl_ctx, o->tls_cert) != 1) {
            ERR_clear_error();
            FAIL("[imap] tls_cert = '%s': cannot read a PEM certificate", o->tls_cert);
        }
        if (SSL_CTX_use_PrivateKey_file(o->ssl_ctx, o->tls_key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(o->ssl_ctx) != 1) {
            ERR_clear_error();
            FAIL("[imap] tls_key = '%s': cannot read the private key or it does not match tls_cert", o->tls_key);
        }
    }
#undef FAIL
    return 0;
}

/* Moves the settings into the server (the old ones end up in o, to free).
 * Listening sockets are not touched. */
static void swap_settings(struct imap_server *s, struct imap_settings *o)
{
#define SWAP(field)                    \
    do {                               \
        __typeof__(s->field) t_ = s->field; \
        s->field = o->field;           \
        o->field = t_;                 \
    } while (0)
    SWAP(user);
    SWAP(password);
    SWAP(port_file);
    SWAP(tls_cert);
    SWAP(tls_key);
    SWAP(ssl_ctx);
    SWAP(max_literal);
    SWAP(max_conns);
    SWAP(timeout_s);
    SWAP(login_timeout_s);
    SWAP(idle_timeout_s);
    SWAP(content_timeout_ms);
    SWAP(auth_delay_ms);
    SWAP(listen_port);
    SWAP(tls_port);
#undef SWAP
    char tmp[256];
    memcpy(tmp, s->listen_host, sizeof tmp);
    memcpy(s->listen_host, o->listen_host, sizeof tmp);
    memcpy(o->listen_host, tmp, sizeof tmp);
    memcpy(tmp, s->tls_host, sizeof tmp);
    memcpy(s->tls_host, o->tls_host, sizeof tmp);
    memcpy(o->tls_host, tmp, sizeof tmp);
}

static outpost_status fe_create(const struct outpost_host *h, struct outpost_frontend **out)
{
    *out = NULL;
    struct outpost_frontend *f = calloc(1, sizeof *f);
    if (!f) {
        outpost_status st = { OUTPOST_FATAL, 0, "out of memory" };
        return st;
    }
    struct imap_server *s = &f->srv;
    s->h = h;
    s->st = h->store;
    s->lfd = s->tlfd = -1;
    s->stop_pipe[0] = s->stop_pipe[1] = -1;
    s->halt_pipe[0] = s->halt_pipe[1] = -1;
    s->tls_port = -1;
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
#ifdef __GLIBC__
    /* a reload waits for the sessions holding it, not for every new one */
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    pthread_rwlock_init(&s->lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->ensure_mu, NULL);
    pthread_mutex_init(&s->subs_mu, NULL);
    pthread_mutex_init(&s->snap_mu, NULL);
    pthread_cond_init(&s->cond, NULL);
    pthread_mutex_init(&s->subs_wake_mu, NULL);
    pthread_mutex_init(&s->recent_mu, NULL);
    pthread_cond_init(&s->subs_wake, NULL);
    if (!s->st || !s->st->storage)
        return create_fail(f, "[imap] the IMAP front-end needs the store API (host->store is NULL)");
    s->sm = s->st->storage;
    struct imap_settings o;
    char err[512];
    if (read_settings(h, &o, err, sizeof err) != 0)
        return create_fail(f, "%s", err);
    swap_settings(s, &o);
    settings_free(&o);
    *out = f;
    return outpost_ok();
}

static int bind_listen(struct outpost_frontend *f, const char *host, int port, int *fd_out, int *bound_port)
{
    struct addrinfo hints = { 0 }, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int r = getaddrinfo(host, ps, &hints, &ai);
    if (r != 0) {
        snprintf(f->msg, sizeof f->msg, "[imap] cannot resolve listen address %s: %s", host, gai_strerror(r));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 128) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        snprintf(f->msg, sizeof f->msg, "[imap] cannot listen on %s:%d: %s", host, port, strerror(err));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    *fd_out = fd;
    return 0;
}

static void write_port_file(struct imap_server *s, int port, int tport)
{
    if (!s->port_file)
        return;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", s->port_file);
    FILE *pf = fopen(tmp, "w");
    if (pf) {
        fprintf(pf, "%d\n", port);
        if (s->tlfd >= 0)
            fprintf(pf, "%d\n", tport);
        if (fclose(pf) == 0)
            rename(tmp, s->port_file);
    } else {
        s->h->log(s->h, OUTPOST_LOG_WARNING, "[imap] port_file = '%s': cannot write: %s", s->port_file,
                  strerror(errno));
    }
}

/* Ends the subscriptions thread (it finishes an imap_subs_record it is in); sets `stopping`. */
static void stop_subs_thread(struct imap_server *s)
{
    if (!s->subs_thr_started)
        return;
    atomic_store(&s->stopping, 1);
    pthread_mutex_lock(&s->subs_wake_mu);
    pthread_cond_signal(&s->subs_wake);
    pthread_mutex_unlock(&s->subs_wake_mu);
    pthread_join(s->subs_thr, NULL);
    s->subs_thr_started = 0;
}

static outpost_status fe_start(struct outpost_frontend *f)
{
    struct imap_server *s = &f->srv;
    if (s->started)
        return fe_fail(f, OUTPOST_BAD_DATA, "[imap] already started");
    int port = 0, tport = 0;
    if (bind_listen(f, s->listen_host, s->listen_port, &s->lfd, &port) != 0)
        return fe_msg(f, OUTPOST_FATAL);
    if (s->tls_port >= 0 && bind_listen(f, s->tls_host, s->tls_port, &s->tlfd, &tport) != 0) {
        close(s->lfd);
        s->lfd = -1;
        return fe_msg(f, OUTPOST_FATAL);
    }
    if (pipe(s->stop_pipe) != 0 || pipe(s->halt_pipe) != 0)
        return fe_fail(f, OUTPOST_FATAL, "[imap] pipe: %s", strerror(errno));
    for (int i = 0; i < 2; i++) {
        fcntl(s->stop_pipe[i], F_SETFL, O_NONBLOCK);
        fcntl(s->halt_pipe[i], F_SETFL, O_NONBLOCK);
    }
    s->bound_port = port;
    s->bound_tport = tport;
    outpost_status st = s->st->subscribe(s->h, on_store_event, s, &s->sub);
    if (st.code != OUTPOST_OK)
        s->h->log(s->h, OUTPOST_LOG_WARNING, "no change notifications (IDLE polls): %s",
                  st.message ? st.message : "subscribe failed");
    atomic_store(&s->stopping, 0);
    s->folders_changed = 1; /* the subscriptions the folders' flags hold, at once */
    if (!s->nrecent) /* a restart after stop() keeps what sessions were told */
        imap_recent_init(s);
    int r = pthread_create(&s->subs_thr, NULL, subs_main, s);
    s->subs_thr_started = r == 0;
    if (r != 0) /* then the commands that read or edit the subscriptions alone keep the list */
        s->h->log(s->h, OUTPOST_LOG_WARNING, "[imap] cannot start the subscriptions thread: %s", strerror(r));
    r = pthread_create(&s->accept_thr, NULL, accept_main, s);
    if (r != 0) {
        stop_subs_thread(s);
        return fe_fail(f, OUTPOST_FATAL, "[imap] cannot start the listener thread: %s", strerror(r));
    }
    s->started = 1;
    if (s->tlfd >= 0)
        s->h->log(s->h, OUTPOST_LOG_NOTICE, "IMAP listening on %s port %d, IMAPS on %s port %d", s->listen_host, port,
                  s->tls_host, tport);
    else
        s->h->log(s->h, OUTPOST_LOG_NOTICE, "IMAP listening on %s port %d%s", s->listen_host, port,
                  s->ssl_ctx ? " (STARTTLS)" : "");
    write_port_file(s, port, tport);
    return outpost_ok();
}

static outpost_status fe_stop(struct outpost_frontend *f)
{
    struct imap_server *s = &f->srv;
    if (!s->started)
        return outpost_ok();
    atomic_store(&s->stopping, 1);
    if (write(s->stop_pipe[1], "x", 1) < 0) {
        /* the listener also polls `stopping` every second */
    }
    if (write(s->halt_pipe[1], "x", 1) < 0) {
        /* sessions also poll `stopping` every second */
    }
    pthread_join(s->accept_thr, NULL);
    stop_subs_thread(s);
    /* Each session sees `stopping` when it next waits for its client, or
     * after the command it is running, and says BYE (imap_session_run).
     * Those still busy after the grace period, e.g. writing to a client that
     * does not read, are cut off. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += IMAP_STOP_GRACE_MS / 1000;
    until.tv_nsec += (long)(IMAP_STOP_GRACE_MS % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    for (;;) {
        int busy = 0;
        for (struct imap_conn *c = s->conns; c && !busy; c = c->next)
            busy = !atomic_load(&c->done);
        if (!busy || pthread_cond_timedwait(&s->cond, &s->mu, &until) != 0)
            break;
    }
    for (struct imap_conn *c = s->conns; c; c = c->next)
        if (!atomic_load(&c->done))
            shutdown(c->fd, SHUT_RDWR);
    pthread_mutex_unlock(&s->mu);
    reap(s, 1);
    if (s->sub) {
        s->st->unsubscribe(s->h, s->sub);
        s->sub = NULL;
    }
    close(s->lfd);
    s->lfd = -1;
    if (s->tlfd >= 0)
        close(s->tlfd);
    s->tlfd = -1;
    for (int i = 0; i < 2; i++) {
        close(s->stop_pipe[i]);
        close(s->halt_pipe[i]);
        s->stop_pipe[i] = s->halt_pipe[i] = -1;
    }
    s->started = 0;
    return outpost_ok();
}

static void fe_destroy(struct outpost_frontend *f)
{
    if (!f)
        return;
    struct imap_server *s = &f->srv;
    fe_stop(f);
    if (s->ssl_ctx)
        SSL_CTX_free(s->ssl_ctx);
    free(s->user);
    if (s->password) {
        memset(s->password, 0, strlen(s->password));
        free(s->password);
    }
    free(s->port_file);
    free(s->tls_cert);
    free(s->tls_key);
    pthread_rwlock_destroy(&s->lock);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->ensure_mu);
    pthread_mutex_destroy(&s->subs_mu);
    imap_snaps_free(s);
    pthread_mutex_destroy(&s->snap_mu);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->subs_wake_mu);
    pthread_mutex_destroy(&s->recent_mu);
    free(s->recent);
    pthread_cond_destroy(&s->subs_wake);
    free(f);
}

/* SIGHUP: applies a changed [imap] section. Credentials, limits and the
 * TLS certificate apply to the next login / connection; a changed listen or
 * tls_listen address is bound first (a failure keeps everything as it was)
 * and replaces the old listener. Connections stay open, also those on a
 * listener that went away. Waits at most 10 s for sessions in a command. */
static outpost_status fe_reload(struct outpost_frontend *f, const struct outpost_host *h)
{
    struct imap_server *s = &f->srv;
    if (!h->store || h->store->storage != s->sm)
        return fe_fail(f, OUTPOST_BAD_DATA, "[imap] reload: the host serves another store");
    struct imap_settings o;
    char err[512];
    if (read_settings(h, &o, err, sizeof err) != 0)
        return fe_fail(f, OUTPOST_BAD_DATA, "%s", err);
    int lfd = -1, tlfd = -1, port = s->bound_port, tport = s->bound_tport;
    int new_plain = strcmp(o.listen_host, s->listen_host) != 0 || o.listen_port != s->listen_port;
    int new_tls = strcmp(o.tls_host, s->tls_host) != 0 || o.tls_port != s->tls_port;
    if (s->started && new_plain && bind_listen(f, o.listen_host, o.listen_port, &lfd, &port) != 0) {
        settings_free(&o);
        return fe_msg(f, OUTPOST_FATAL);
    }
    if (s->started && new_tls && o.tls_port >= 0 && bind_listen(f, o.tls_host, o.tls_port, &tlfd, &tport) != 0) {
        if (lfd >= 0)
            close(lfd);
        settings_free(&o);
        return fe_msg(f, OUTPOST_FATAL);
    }
    if (s->started && write(s->stop_pipe[1], "r", 1) < 0) {
        /* the listener polls at least once a second */
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    if (pthread_rwlock_timedwrlock(&s->lock, &until) != 0) {
        if (lfd >= 0)
            close(lfd);
        if (tlfd >= 0)
            close(tlfd);
        settings_free(&o);
        return fe_fail(f, OUTPOST_TEMP, "[imap] reload: sessions stayed busy for 10 s; try again");
    }
    s->h = h;
    s->st = h->store;
    int port_file_changed = (o.port_file == NULL) != (s->port_file == NULL) ||
                            (o.port_file && strcmp(o.port_file, s->port_file) != 0);
    swap_settings(s, &o);
    if (s->started && new_plain) {
        close(s->lfd);
        s->lfd = lfd;
    }
    if (s->started && new_tls) {
        if (s->tlfd >= 0)
            close(s->tlfd);
        s->tlfd = tlfd;
        if (tlfd < 0)
            tport = 0;
    }
    s->bound_port = port;
    s->bound_tport = tport;
    if (s->started && (new_plain || new_tls || port_file_changed))
        write_port_file(s, port, tport);
    h->log(h, OUTPOST_LOG_NOTICE, "IMAP settings reloaded%s%s", new_plain || new_tls ? "; listening on " : "",
           new_plain || new_tls ? s->listen_host : "");
    pthread_rwlock_unlock(&s->lock);
    settings_free(&o); /* the old settings; connections keep their own TLS context references */
    return outpost_ok();
}

static const struct outpost_frontend_methods imap_methods = {
    .struct_size = sizeof(struct outpost_frontend_methods),
    .create = fe_create,
    .start = fe_start,
    .stop = fe_stop,
    .destroy = fe_destroy,
    .reload = fe_reload,
};

static const struct outpost_plugin imap_plugin = {
    .struct_size = sizeof(struct outpost_plugin),
    .abi_major = OUTPOST_ABI_MAJOR,
    .abi_minor = OUTPOST_ABI_MINOR,
    .kind = OUTPOST_KIND_FRONTEND,
    .name = "imap",
    .version = IMAP_VERSION,
    .description = "IMAP4rev1 server for mail clients (IDLE, CONDSTORE/QRESYNC, UIDPLUS, MOVE, STARTTLS)",
    .caps = OUTPOST_FRONTEND_CAP_RELOAD,
    .section = "imap",
    .config_keys = imap_keys,
    .module_init = NULL,
    .module_fini = NULL,
    .methods = &imap_methods,
};

OUTPOST_EXPORT const struct outpost_plugin *outpost_plugin_entry(void)
{
    return &imap_plugin;
}
