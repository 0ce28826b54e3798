/* frontends/mapi/mapi_os_posix.c — mapi_os.h for Linux and other POSIX
 * systems. */
#include "mapi_os.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mapi_wire.h"

static int addr_of(const char *host, uint16_t port, struct sockaddr_in *sa, char *err, size_t errlen)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
        snprintf(err, errlen, "'%s' is not an IPv4 address", host);
        return -1;
    }
    return 0;
}

mapi_sock mapi_os_listen(const char *host, uint16_t port, uint16_t *bound_port, char *err, size_t errlen)
{
    struct sockaddr_in sa;
    if (addr_of(host, port, &sa, err, errlen) != 0)
        return MAPI_BAD_SOCK;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return MAPI_BAD_SOCK;
    }
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(s, 16) != 0) {
        snprintf(err, errlen, "cannot listen on %s:%u: %s", host, port, strerror(errno));
        close(s);
        return MAPI_BAD_SOCK;
    }
    socklen_t sl = sizeof sa;
    getsockname(s, (struct sockaddr *)&sa, &sl);
    if (bound_port)
        *bound_port = ntohs(sa.sin_port);
    return s;
}

mapi_sock mapi_os_accept(mapi_sock s, int timeout_ms)
{
    if (mapi_os_wait_readable(s, timeout_ms) != 1)
        return MAPI_BAD_SOCK;
    int c = accept4((int)s, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0)
        return MAPI_BAD_SOCK;
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return c;
}

mapi_sock mapi_os_connect(const char *host, uint16_t port, int timeout_ms, char *err, size_t errlen)
{
    struct sockaddr_in sa;
    if (addr_of(host, port, &sa, err, errlen) != 0)
        return MAPI_BAD_SOCK;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return MAPI_BAD_SOCK;
    }
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
        snprintf(err, errlen, "connect %s:%u: %s", host, port, strerror(errno));
        close(s);
        return MAPI_BAD_SOCK;
    }
    struct pollfd p = { .fd = s, .events = POLLOUT };
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (poll(&p, 1, timeout_ms) != 1 || getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr) {
        snprintf(err, errlen, "connect %s:%u: %s", host, port, soerr ? strerror(soerr) : "timed out");
        close(s);
        return MAPI_BAD_SOCK;
    }
    fcntl(s, F_SETFL, fcntl(s, F_GETFL) & ~O_NONBLOCK);
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return s;
}

int mapi_os_wait_readable(mapi_sock s, int timeout_ms)
{
    struct pollfd p = { .fd = (int)s, .events = POLLIN };
    for (;;) {
        int rc = poll(&p, 1, timeout_ms);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            return -1;
        return rc > 0 ? 1 : 0;
    }
}

long mapi_os_recv(mapi_sock s, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = recv((int)s, buf, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        return (long)n;
    }
}

int mapi_os_send_all(mapi_sock s, const void *buf, size_t len, int timeout_ms)
{
    const char *p = buf;
    while (len) {
        struct pollfd pf = { .fd = (int)s, .events = POLLOUT };
        int rc = poll(&pf, 1, timeout_ms);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return -1;
        ssize_t n = send((int)s, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void mapi_os_close(mapi_sock s)
{
    if (s != MAPI_BAD_SOCK)
        close((int)s);
}

void mapi_os_shutdown(mapi_sock s)
{
    if (s != MAPI_BAD_SOCK)
        shutdown((int)s, SHUT_RDWR);
}

struct mapi_thread {
    pthread_t t;
};

mapi_thread *mapi_os_thread_start(void *(*fn)(void *), void *arg)
{
    mapi_thread *t = malloc(sizeof *t);
    if (t && pthread_create(&t->t, NULL, fn, arg) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

void mapi_os_thread_join(mapi_thread *t)
{
    if (!t)
        return;
    pthread_join(t->t, NULL);
    free(t);
}

struct mapi_mutex {
    pthread_mutex_t m;
};

mapi_mutex *mapi_os_mutex_new(void)
{
    mapi_mutex *m = malloc(sizeof *m);
    if (m)
        pthread_mutex_init(&m->m, NULL);
    return m;
}

void mapi_os_mutex_free(mapi_mutex *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->m);
    free(m);
}

void mapi_os_mutex_lock(mapi_mutex *m)
{
    pthread_mutex_lock(&m->m);
}

void mapi_os_mutex_unlock(mapi_mutex *m)
{
    pthread_mutex_unlock(&m->m);
}

int mapi_os_random(void *buf, size_t len, char *err, size_t errlen)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "getrandom: %s", strerror(errno));
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int mapi_os_secret(const char *path, uint8_t secret[32], char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        uint8_t fresh[MAPI_WIRE_SECRET_LEN];
        if (mapi_os_random(fresh, sizeof fresh, err, errlen) != 0)
            return -1;
        char hex[2 * MAPI_WIRE_SECRET_LEN + 2];
        for (size_t i = 0; i < sizeof fresh; i++)
            snprintf(hex + 2 * i, 3, "%02x", fresh[i]);
        hex[2 * MAPI_WIRE_SECRET_LEN] = '\n';
        /* O_EXCL: two daemons starting at once cannot both write it. */
        int w = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (w >= 0) {
            ssize_t n = write(w, hex, 2 * MAPI_WIRE_SECRET_LEN + 1);
            int ok = n == (ssize_t)(2 * MAPI_WIRE_SECRET_LEN + 1) && fsync(w) == 0;
            close(w);
            if (!ok) {
                unlink(path);
                snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
                return -1;
            }
        } else if (errno != EEXIST) {
            snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
            return -1;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(err, errlen, "%s is not a regular file", path);
        return -1;
    }
    if (st.st_mode & 077) {
        close(fd);
        snprintf(err, errlen, "%s has group or other permission bits; chmod 600 it", path);
        return -1;
    }
    char buf[2 * MAPI_WIRE_SECRET_LEN + 8];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n < (ssize_t)(2 * MAPI_WIRE_SECRET_LEN)) {
        snprintf(err, errlen, "%s: expected %u hex digits; delete it to make a new secret", path,
                 2 * MAPI_WIRE_SECRET_LEN);
        return -1;
    }
    for (size_t i = 0; i < MAPI_WIRE_SECRET_LEN; i++) {
        int a = hexval(buf[2 * i]), b = hexval(buf[2 * i + 1]);
        if (a < 0 || b < 0) {
            snprintf(err, errlen, "%s: not hex; delete it to make a new secret", path);
            return -1;
        }
        secret[i] = (uint8_t)(a << 4 | b);
    }
    return 0;
}

int64_t mapi_os_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
