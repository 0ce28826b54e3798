/* sim_proc.c — simulator process and control client for integration tests (see sim_proc.h). */
#include "sim_proc.h"

#include <curl/curl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Every simulator started and not yet stopped, so a failed test cannot leak one. */
static pid_t running[32];

static void remember(pid_t pid, int add)
{
    for (int i = 0; i < 32; i++)
        if (add ? running[i] == 0 : running[i] == pid) {
            running[i] = add ? pid : 0;
            return;
        }
}

void sim_stop_all(void)
{
    for (int i = 0; i < 32; i++)
        if (running[i] > 0) {
            struct sim_proc s = { 0 };
            s.pid = running[i];
            sim_stop(&s);
        }
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int sim_start(struct sim_proc *s, const char *bin, const char *const *args, const char *ca_file)
{
    memset(s, 0, sizeof *s);
    snprintf(s->ca, sizeof s->ca, "%s", ca_file);
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    const char *argv[64];
    int n = 0;
    argv[n++] = bin;
    for (int i = 0; args[i] && n < 62; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(fd[1]);
    s->pid = pid;
    remember(pid, 1);
    char line[256];
    size_t len = 0;
    long deadline = now_ms() + 30000;
    while (now_ms() < deadline && len + 1 < sizeof line) {
        struct pollfd p = { fd[0], POLLIN, 0 };
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t r = read(fd[0], line + len, 1);
        if (r <= 0)
            break;
        if (line[len] == '\n') {
            line[len] = '\0';
            if (strncmp(line, "READY ", 6) == 0) {
                snprintf(s->url, sizeof s->url, "%s", line + 6);
                close(fd[0]);
                return 0;
            }
            len = 0;
            continue;
        }
        len++;
    }
    close(fd[0]);
    fprintf(stderr, "simulator %s did not print READY\n", bin);
    sim_stop(s);
    return -1;
}

void sim_stop(struct sim_proc *s)
{
    if (s->pid <= 0)
        return;
    remember(s->pid, 0);
    kill(s->pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
            s->pid = 0;
            return;
        }
        struct timespec ts = { 0, 50000000 };
        nanosleep(&ts, NULL);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

static size_t on_body(char *p, size_t sz, size_t n, void *ctx)
{
    return fwrite(p, sz, n, ctx) * sz;
}

json_t *sim_ctl(struct sim_proc *s, const char *path, json_t *body)
{
    CURL *c = curl_easy_init();
    if (!c) {
        json_decref(body);
        return NULL;
    }
    char url[1024];
    snprintf(url, sizeof url, "%s/_sim/%s", s->url, path);
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, s->ca);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
    if (text)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(text);
    fclose(mem);
    json_t *j = rc == CURLE_OK && buf ? json_loadb(buf, len, 0, NULL) : NULL;
    if (rc != CURLE_OK || code != 200) {
        fprintf(stderr, "control %s: curl %d HTTP %ld %s\n", path, (int)rc, code, buf ? buf : "");
        json_decref(j);
        j = NULL;
    }
    free(buf);
    return j;
}

int sim_gen_certs(const char *script, const char *dir)
{
    char cmd[4096];
    if (snprintf(cmd, sizeof cmd, "mkdir -p '%s' && sh '%s' '%s'", dir, script, dir) >= (int)sizeof cmd ||
        system(cmd) != 0) {
        fprintf(stderr, "%s %s failed\n", script, dir);
        return -1;
    }
    return 0;
}
