/* raw_listener.h — a loopback TCP listener that is not the server a test expects: it closes
 * every connection at once (a server restarting, a load balancer dropping connections), or
 * reads what the client sends and answers a fixed text before closing (a plain HTTP server
 * on the port of an https:// URL). Runs on a thread of its own for at most a minute. POSIX. */
#ifndef OUTPOST_TEST_RAW_LISTENER_H
#define OUTPOST_TEST_RAW_LISTENER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

struct raw_listener {
    int fd;
    atomic_int stop;
    const char *answer;  /* NULL: close at once; else sent after the client's first bytes */
    pthread_t th;
    char url[64];        /* https://127.0.0.1:<port> */
};

/* What a plain HTTP server answers to bytes that are not HTTP (a TLS ClientHello). */
#define RAW_LISTENER_HTTP_400                                                                                   \
    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nContent-Length: 11\r\nConnection: close\r\n\r\n" \
    "Bad request"

/* Listens on 127.0.0.1 (ephemeral port) and starts the thread; `answer` is borrowed until
 * raw_listener_stop. 0 on success, -1 after printing why. */
int raw_listener_start(struct raw_listener *l, const char *answer);
/* Stops the thread and closes the socket. */
void raw_listener_stop(struct raw_listener *l);

#endif
