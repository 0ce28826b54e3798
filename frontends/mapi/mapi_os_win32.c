/* frontends/mapi/mapi_os_win32.c — mapi_os.h for Windows: Winsock loopback
 * TCP, Win32 threads, SRW locks, BCryptGenRandom and the secret file. Used by
 * the provider DLL (win32/) and by outpostd's MAPI front-end when outpostd
 * runs natively on Windows.
 *
 * The secret file lives in the user's profile (%LOCALAPPDATA%\Outpost by
 * default), whose ACL already limits it to the user; unlike POSIX there are
 * no mode bits to check, so none are.
 */
#include "mapi_os.h"

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <bcrypt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapi_wire.h"

/* Winsock must be started once per process; WSAStartup counts, so every
 * socket-making call may call it (and nothing calls WSACleanup: the process
 * or the DLL's unload ends it). */
static int wsa_ready(char *err, size_t errlen)
{
    WSADATA w;
    int rc = WSAStartup(MAKEWORD(2, 2), &w);
    if (rc != 0) {
        snprintf(err, errlen, "WSAStartup failed (%d)", rc);
        return -1;
    }
    return 0;
}

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
    if (wsa_ready(err, errlen) != 0 || addr_of(host, port, &sa, err, errlen) != 0)
        return MAPI_BAD_SOCK;
    SOCKET s = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET) {
        snprintf(err, errlen, "socket: error %d", WSAGetLastError());
        return MAPI_BAD_SOCK;
    }
    BOOL excl = TRUE; /* no other process may bind the same port */
    setsockopt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *)&excl, sizeof excl);
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(s, 16) != 0) {
        snprintf(err, errlen, "cannot listen on %s:%u: error %d", host, port, WSAGetLastError());
        closesocket(s);
        return MAPI_BAD_SOCK;
    }
    int sl = sizeof sa;
    getsockname(s, (struct sockaddr *)&sa, &sl);
    if (bound_port)
        *bound_port = ntohs(sa.sin_port);
    return (mapi_sock)s;
}

int mapi_os_wait_readable(mapi_sock s, int timeout_ms)
{
    WSAPOLLFD p = { .fd = (SOCKET)s, .events = POLLRDNORM };
    int rc = WSAPoll(&p, 1, timeout_ms);
    if (rc < 0)
        return -1;
    return rc > 0 ? 1 : 0;
}

mapi_sock mapi_os_accept(mapi_sock s, int timeout_ms)
{
    if (mapi_os_wait_readable(s, timeout_ms) != 1)
        return MAPI_BAD_SOCK;
    SOCKET c = accept((SOCKET)s, NULL, NULL);
    if (c == INVALID_SOCKET)
        return MAPI_BAD_SOCK;
    BOOL one = TRUE;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof one);
    return (mapi_sock)c;
}

mapi_sock mapi_os_connect(const char *host, uint16_t port, int timeout_ms, char *err, size_t errlen)
{
    struct sockaddr_in sa;
    if (wsa_ready(err, errlen) != 0 || addr_of(host, port, &sa, err, errlen) != 0)
        return MAPI_BAD_SOCK;
    SOCKET s = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET) {
        snprintf(err, errlen, "socket: error %d", WSAGetLastError());
        return MAPI_BAD_SOCK;
    }
    /* Non-blocking connect bounded by timeout_ms: Outlook never waits
     * longer than that for a daemon that does not answer. */
    u_long nb = 1;
    ioctlsocket(s, FIONBIO, &nb);
    int rc = connect(s, (struct sockaddr *)&sa, sizeof sa);
    if (rc != 0 && WSAGetLastError() != WSAEWOULDBLOCK) {
        snprintf(err, errlen, "cannot connect to %s:%u: error %d (is outpostd running?)", host, port,
                 WSAGetLastError());
        closesocket(s);
        return MAPI_BAD_SOCK;
    }
    if (rc != 0) {
        fd_set w, e;
        FD_ZERO(&w);
        FD_ZERO(&e);
        FD_SET(s, &w);
        FD_SET(s, &e);
        struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
        rc = select(0, NULL, &w, &e, &tv);
        int soerr = 0;
        int len = sizeof soerr;
        if (rc == 1 && FD_ISSET(s, &w))
            getsockopt(s, SOL_SOCKET, SO_ERROR, (char *)&soerr, &len);
        if (rc != 1 || !FD_ISSET(s, &w) || soerr != 0) {
            snprintf(err, errlen, "cannot connect to %s:%u: %s (is outpostd running?)", host, port,
                     rc == 0 ? "timed out" : "refused");
            closesocket(s);
            return MAPI_BAD_SOCK;
        }
    }
    nb = 0;
    ioctlsocket(s, FIONBIO, &nb);
    BOOL one = TRUE;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof one);
    return (mapi_sock)s;
}

long mapi_os_recv(mapi_sock s, void *buf, size_t len)
{
    int n = recv((SOCKET)s, buf, len > 0x7fffffff ? 0x7fffffff : (int)len, 0);
    return n < 0 ? -1 : n;
}

int mapi_os_send_all(mapi_sock s, const void *buf, size_t len, int timeout_ms)
{
    const char *p = buf;
    while (len > 0) {
        WSAPOLLFD pf = { .fd = (SOCKET)s, .events = POLLWRNORM };
        if (WSAPoll(&pf, 1, timeout_ms) != 1)
            return -1;
        int n = send((SOCKET)s, p, len > 0x7fffffff ? 0x7fffffff : (int)len, 0);
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
        closesocket((SOCKET)s);
}

void mapi_os_shutdown(mapi_sock s)
{
    if (s != MAPI_BAD_SOCK)
        shutdown((SOCKET)s, SD_BOTH);
}

struct mapi_thread {
    HANDLE h;
    void *(*fn)(void *);
    void *arg;
};

static DWORD WINAPI thread_main(LPVOID p)
{
    struct mapi_thread *t = p;
    t->fn(t->arg);
    return 0;
}

mapi_thread *mapi_os_thread_start(void *(*fn)(void *), void *arg)
{
    struct mapi_thread *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->fn = fn;
    t->arg = arg;
    t->h = CreateThread(NULL, 0, thread_main, t, 0, NULL);
    if (!t->h) {
        free(t);
        return NULL;
    }
    return t;
}

void mapi_os_thread_join(mapi_thread *t)
{
    if (!t)
        return;
    WaitForSingleObject(t->h, INFINITE);
    CloseHandle(t->h);
    free(t);
}

struct mapi_mutex {
    SRWLOCK l;
};

mapi_mutex *mapi_os_mutex_new(void)
{
    mapi_mutex *m = calloc(1, sizeof *m);
    if (m)
        InitializeSRWLock(&m->l);
    return m;
}

void mapi_os_mutex_free(mapi_mutex *m) { free(m); }
void mapi_os_mutex_lock(mapi_mutex *m) { AcquireSRWLockExclusive(&m->l); }
void mapi_os_mutex_unlock(mapi_mutex *m) { ReleaseSRWLockExclusive(&m->l); }

int mapi_os_random(void *buf, size_t len, char *err, size_t errlen)
{
    if (len > 0xffffffffu || !BCRYPT_SUCCESS(BCryptGenRandom(NULL, buf, (ULONG)len, BCRYPT_USE_SYSTEM_PREFERRED_RNG))) {
        snprintf(err, errlen, "BCryptGenRandom failed");
        return -1;
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

/* Paths are UTF-8; Windows wants UTF-16. */
static wchar_t *wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    wchar_t *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
    if (w && MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n) != n) {
        free(w);
        w = NULL;
    }
    return w;
}

int mapi_os_secret(const char *path, uint8_t secret[32], char *err, size_t errlen)
{
    wchar_t *wp = wide(path);
    if (!wp) {
        snprintf(err, errlen, "%s: not a valid UTF-8 path", path);
        return -1;
    }
    HANDLE h = CreateFileW(wp, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE && GetLastError() == ERROR_FILE_NOT_FOUND) {
        uint8_t fresh[MAPI_WIRE_SECRET_LEN];
        char hex[2 * MAPI_WIRE_SECRET_LEN + 2];
        if (mapi_os_random(fresh, sizeof fresh, err, errlen) != 0) {
            free(wp);
            return -1;
        }
        for (size_t i = 0; i < sizeof fresh; i++)
            snprintf(hex + 2 * i, 3, "%02x", fresh[i]);
        hex[2 * MAPI_WIRE_SECRET_LEN] = '\n';
        /* CREATE_NEW: two daemons starting at once cannot both write it. */
        HANDLE w = CreateFileW(wp, GENERIC_WRITE, 0, NULL, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, NULL);
        if (w != INVALID_HANDLE_VALUE) {
            DWORD n = 0;
            BOOL ok = WriteFile(w, hex, 2 * MAPI_WIRE_SECRET_LEN + 1, &n, NULL) && FlushFileBuffers(w);
            CloseHandle(w);
            if (!ok || n != 2 * MAPI_WIRE_SECRET_LEN + 1) {
                DeleteFileW(wp);
                free(wp);
                snprintf(err, errlen, "cannot write %s", path);
                return -1;
            }
        }
        h = CreateFileW(wp, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    }
    free(wp);
    if (h == INVALID_HANDLE_VALUE) {
        snprintf(err, errlen, "cannot open %s (error %lu)", path, (unsigned long)GetLastError());
        return -1;
    }
    char buf[2 * MAPI_WIRE_SECRET_LEN + 8];
    DWORD n = 0;
    BOOL ok = ReadFile(h, buf, sizeof buf, &n, NULL);
    CloseHandle(h);
    if (!ok || n < 2 * MAPI_WIRE_SECRET_LEN) {
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
    return (int64_t)GetTickCount64();
}
