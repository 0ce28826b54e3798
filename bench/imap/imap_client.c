/* bench/imap/imap_client.c — a raw IMAP timing client for bench-imap.
 *
 *   outpost-bench-imap-client HOST PORT USER PASSWORD < script
 *
 * Logs in (not timed), then runs the script one line at a time:
 *
 *   CMD <command>                 sends "<tag> <command>" and reads until
 *                                 the tagged reply
 *   APPEND <mailbox> <file> <n>   APPENDs the first n messages of <file>
 *                                 (records "<length>\n<bytes>") one after
 *                                 another with LITERAL+, each waiting for
 *                                 its tagged reply
 *
 * For each line it prints "<ms> <bytes received> <hits> <tagged status>":
 * hits is the number of UIDs of a "* SEARCH" reply or the EXISTS count.
 * Responses are scanned, not parsed: lines are split at CRLF and literals
 * ("{n}" at a line's end) are skipped by count, so the client costs next to
 * nothing and the time is the server's. TCP_NODELAY is on.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int fd;
    char *buf;
    size_t cap, len, pos;   /* unread bytes are buf[pos..len) */
    uint64_t received;
    long hits;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *what)
{
    fprintf(stderr, "outpost-bench-imap-client: %s: %s\n", what, errno ? strerror(errno) : "protocol error");
    exit(1);
}

static void send_all(struct conn *c, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("send");
        s += w;
        n -= (size_t)w;
    }
}

/* Reads more bytes; keeps buf[pos..len). */
static void fill(struct conn *c)
{
    if (c->pos > 0) {
        memmove(c->buf, c->buf + c->pos, c->len - c->pos);
        c->len -= c->pos;
        c->pos = 0;
    }
    if (c->len == c->cap) {
        c->cap *= 2;
        if (!(c->buf = realloc(c->buf, c->cap)))
            die("realloc");
    }
    ssize_t r;
    do
        r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    while (r < 0 && errno == EINTR);
    if (r <= 0) {
        if (r == 0)
            errno = 0;
        die("recv");
    }
    c->len += (size_t)r;
    c->received += (uint64_t)r;
}

/* Literal size announced at the end of a line ("{123}" or "{123+}"), or -1. */
static long literal_at_end(const char *s, size_t n)
{
    if (n < 3 || s[n - 1] != '}')
        return -1;
    size_t i = n - 2;
    if (s[i] == '+')
        i--;
    size_t end = i + 1;
    while (i > 0 && s[i] >= '0' && s[i] <= '9')
        i--;
    if (s[i] != '{' || i + 1 == end)
        return -1;
    return strtol(s + i + 1, NULL, 10);
}

/* Reads until the reply tagged `tag`; copies its status line into st. */
static void read_reply(struct conn *c, const char *tag, char *st, size_t stlen)
{
    size_t tl = strlen(tag);
    int at_start = 1;
    for (;;) {
        char *p = c->buf + c->pos, *e = memchr(p, '\n', c->len - c->pos);
        if (!e) {
            fill(c);
            continue;
        }
        size_t n = (size_t)(e - p) + 1; /* line with its LF */
        size_t body = n >= 2 && e[-1] == '\r' ? n - 2 : n - 1;
        if (at_start) {
            if (body > tl && !memcmp(p, tag, tl) && p[tl] == ' ') {
                snprintf(st, stlen, "%.*s", (int)(body - tl - 1), p + tl + 1);
                c->pos += n;
                return;
            }
            if (body >= 8 && !memcmp(p, "* SEARCH", 8)) {
                long h = 0;
                for (size_t i = 8; i < body; i++)
                    if (p[i] == ' ' && i + 1 < body && p[i + 1] >= '0' && p[i + 1] <= '9')
                        h++;
                c->hits = h;
            } else if (body > 9 && !memcmp(p + body - 7, " EXISTS", 7)) {
                c->hits = strtol(p + 2, NULL, 10);
            }
        }
        long lit = literal_at_end(p, body);
        c->pos += n;
        if (lit < 0) {
            at_start = 1;
            continue;
        }
        at_start = 0;
        while (lit > 0) {
            if (c->pos == c->len)
                fill(c);
            size_t take = c->len - c->pos < (size_t)lit ? c->len - c->pos : (size_t)lit;
            c->pos += take;
            lit -= (long)take;
        }
    }
}

static int run_cmd(struct conn *c, unsigned *tagn, const char *cmd, char *st, size_t stlen)
{
    char tag[32];
    snprintf(tag, sizeof tag, "t%u", ++*tagn);
    size_t n = strlen(tag) + strlen(cmd) + 4;
    char *line = malloc(n);
    if (!line)
        die("malloc");
    snprintf(line, n, "%s %s\r\n", tag, cmd);
    send_all(c, line, strlen(line));
    free(line);
    read_reply(c, tag, st, stlen);
    return strncmp(st, "OK", 2) == 0 ? 0 : -1;
}

static int run_append(struct conn *c, unsigned *tagn, const char *mailbox, const char *file, long count,
                      char *st, size_t stlen)
{
    FILE *f = fopen(file, "rb");
    if (!f)
        die(file);
    /* Read the messages first: only the APPENDs are timed. */
    char **msg = calloc((size_t)count, sizeof *msg);
    size_t *len = calloc((size_t)count, sizeof *len);
    long n = 0;
    while (n < count) {
        unsigned long l;
        if (fscanf(f, "%lu", &l) != 1 || fgetc(f) != '\n')
            break;
        msg[n] = malloc(l);
        if (fread(msg[n], 1, l, f) != l)
            die("short message file");
        len[n++] = l;
    }
    fclose(f);
    int rc = 0;
    double t0 = now_ms();
    for (long i = 0; i < n && rc == 0; i++) {
        char tag[32], head[512];
        snprintf(tag, sizeof tag, "t%u", ++*tagn);
        int hl = snprintf(head, sizeof head, "%s APPEND %s (\\Seen) {%zu+}\r\n", tag, mailbox, len[i]);
        send_all(c, head, (size_t)hl);
        send_all(c, msg[i], len[i]);
        send_all(c, "\r\n", 2);
        read_reply(c, tag, st, stlen);
        if (strncmp(st, "OK", 2) != 0)
            rc = -1;
    }
    double ms = now_ms() - t0;
    for (long i = 0; i < n; i++)
        free(msg[i]);
    free(msg);
    free(len);
    c->hits = n;
    return rc == 0 ? (int)(ms * 1000) : -1; /* µs, as a handy int */
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: outpost-bench-imap-client HOST PORT USER PASSWORD < script\n");
        return 2;
    }
    struct addrinfo hints = { 0 }, *ai;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0)
        die("getaddrinfo");
    struct conn c = { -1, NULL, 1 << 20, 0, 0, 0, 0 };
    c.buf = malloc(c.cap);
    c.fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (c.fd < 0 || connect(c.fd, ai->ai_addr, ai->ai_addrlen) != 0)
        die("connect");
    freeaddrinfo(ai);
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* greeting */
    for (;;) {
        char *e = memchr(c.buf + c.pos, '\n', c.len - c.pos);
        if (e) {
            c.pos = (size_t)(e - c.buf) + 1;
            break;
        }
        fill(&c);
    }
    unsigned tagn = 0;
    char st[512], cmd[8192];
    snprintf(cmd, sizeof cmd, "LOGIN \"%s\" \"%s\"", argv[3], argv[4]);
    if (run_cmd(&c, &tagn, cmd, st, sizeof st) != 0) {
        fprintf(stderr, "outpost-bench-imap-client: LOGIN failed: %s\n", st);
        return 1;
    }
    char line[8192];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!*line)
            continue;
        c.received = 0;
        c.hits = 0;
        double ms;
        if (!strncmp(line, "CMD ", 4)) {
            double t0 = now_ms();
            run_cmd(&c, &tagn, line + 4, st, sizeof st);
            ms = now_ms() - t0;
        } else if (!strncmp(line, "APPEND ", 7)) {
            char mbox[256], file[4096];
            long n;
            if (sscanf(line + 7, "%255s %4095s %ld", mbox, file, &n) != 3)
                die("bad APPEND line");
            int us = run_append(&c, &tagn, mbox, file, n, st, sizeof st);
            ms = us < 0 ? -1 : us / 1000.0;
        } else {
            fprintf(stderr, "outpost-bench-imap-client: unknown script line: %s\n", line);
            return 2;
        }
        printf("%.3f %llu %ld %s\n", ms, (unsigned long long)c.received, c.hits, st);
        fflush(stdout);
    }
    run_cmd(&c, &tagn, "LOGOUT", st, sizeof st);
    close(c.fd);
    free(c.buf);
    return 0;
}
