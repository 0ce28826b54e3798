/* raw_listener.c — see raw_listener.h. */
#include "raw_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void *serve(void *arg)
{
    struct raw_listener *l = arg;
    for (int i = 0; i < 600 && !atomic_load(&l->stop); i++) { /* at most a minute */
        struct pollfd p = { l->fd, POLLIN, 0 };
        if (poll(&p, 1, 100) != 1)
            continue;
        int c = accept(l->fd, NULL, NULL);
        if (c < 0)
            continue;
        struct pollfd q = { c, POLLIN, 0 };
        char buf[2048];
        if (l->answer && poll(&q, 1, 2000) == 1 && read(c, buf, sizeof buf) > 0 &&
            write(c, l->answer, strlen(l->answer)) < 0)
            fprintf(stderr, "raw_listener: write failed\n");
        close(c);
    }
    return NULL;
}

int raw_listener_start(struct raw_listener *l, const char *answer)
{
    memset(l, 0, sizeof *l);
    l->answer = answer;
    l->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(l->fd, 8) != 0 ||
        getsockname(l->fd, (struct sockaddr *)&a, &alen) != 0 || pthread_create(&l->th, NULL, serve, l) != 0) {
        perror("raw_listener");
        if (l->fd >= 0)
            close(l->fd);
        l->fd = -1;
        return -1;
    }
    snprintf(l->url, sizeof l->url, "https://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
    return 0;
}

void raw_listener_stop(struct raw_listener *l)
{
    if (l->fd < 0)
        return;
    atomic_store(&l->stop, 1);
    pthread_join(l->th, NULL);
    close(l->fd);
    l->fd = -1;
}
