/* frontends/mapi/mapi_os.h — the front-end's own OS calls (plugins do not
 * link the core's platform layer): loopback TCP, threads, a mutex, the
 * CSPRNG and the owner-only secret file. mapi_os_posix.c implements them
 * for Linux (getrandom) and mapi_os_win32.c for Windows (BCryptGenRandom,
 * Winsock). Functions returning int give 0 or -1 with a reason in err.
 */
#ifndef OUTPOST_MAPI_OS_H
#define OUTPOST_MAPI_OS_H

#include <stddef.h>
#include <stdint.h>

typedef intptr_t mapi_sock;
#define MAPI_BAD_SOCK ((mapi_sock)-1)

/* Listens on host:port (port 0: the system picks); *bound_port gets the port. */
mapi_sock mapi_os_listen(const char *host, uint16_t port, uint16_t *bound_port, char *err, size_t errlen);
/* Waits at most timeout_ms for a connection; MAPI_BAD_SOCK on timeout or error. */
mapi_sock mapi_os_accept(mapi_sock s, int timeout_ms);
/* Connects with a timeout (tests, the Linux test client). */
mapi_sock mapi_os_connect(const char *host, uint16_t port, int timeout_ms, char *err, size_t errlen);
/* Waits until s is readable: 1 readable, 0 timeout, -1 error. */
int mapi_os_wait_readable(mapi_sock s, int timeout_ms);
/* recv once: bytes, 0 at EOF, -1 on error. */
long mapi_os_recv(mapi_sock s, void *buf, size_t len);
/* Sends everything (blocking, bounded by timeout_ms per call): 0 or -1. */
int mapi_os_send_all(mapi_sock s, const void *buf, size_t len, int timeout_ms);
void mapi_os_close(mapi_sock s);
/* Stops further reads and writes, waking a thread blocked on s. */
void mapi_os_shutdown(mapi_sock s);

typedef struct mapi_thread mapi_thread;
mapi_thread *mapi_os_thread_start(void *(*fn)(void *), void *arg);
void mapi_os_thread_join(mapi_thread *t);

typedef struct mapi_mutex mapi_mutex;
mapi_mutex *mapi_os_mutex_new(void);
void mapi_os_mutex_free(mapi_mutex *m);
void mapi_os_mutex_lock(mapi_mutex *m);
void mapi_os_mutex_unlock(mapi_mutex *m);

/* Fills buf from the OS CSPRNG. */
int mapi_os_random(void *buf, size_t len, char *err, size_t errlen);

/* Reads the secret file at path (64 hex digits), creating it owner-only
 * with a fresh secret when absent. Refuses a file with group or other
 * permission bits (POSIX). 0 or -1 with err. */
int mapi_os_secret(const char *path, uint8_t secret[32], char *err, size_t errlen);

int64_t mapi_os_monotonic_ms(void);

#endif
