/* sim_proc.c — see sim_proc.h. */
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
            struct sim_proc s = {0};
            s.pid = running[i];
            sim_stop(&s);
        }
}

int sim_start(struct sim_proc *s, const char *bin, const char *const *args, const char *ca_file)
{
    memset(s, 0, sizeof *s);
    snprintf(s->ca, sizeof s->ca, "%s", ca_file);
    int out[2];
    if (pipe(out))
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
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    s->pid = pid;
    remember(pid, 1);
    char line[256];
    size_t len = 0;
    time_t deadline = time(NULL) + 30;
    while (len < sizeof line - 1 && time(NULL) < deadline) {
        struct pollfd p = {out[0], POLLIN, 0};
        if (poll(&p, 1, 1000) <= 0)
            continue;
        ssize_t r = read(out[0], line + len, 1);
        if (r <= 0)
            break;
        if (line[len] == '\n')
            break;
        len++;
    }
    line[len] = '\0';
    close(out[0]);
    if (strncmp(line, "READY https://127.0.0.1:", 24) != 0) {
        fprintf(stderr, "simulator did not start: '%s'\n", line);
        sim_stop(s);
        return -1;
    }
    snprintf(s->url, sizeof s->url, "%s", line + 6);
    snprintf(s->ews, sizeof s->ews, "%s/EWS/Exchange.asmx", s->url);
    return 0;
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
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

static size_t collect(char *d, size_t sz, size_t n, void *ctx)
{
    FILE *f = ctx;
    return fwrite(d, sz, n, f) * sz;
}

json_t *sim_ctl(struct sim_proc *s, const char *path, json_t *body)
{
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    char url[512];
    snprintf(url, sizeof url, "%s/_sim/%s", s->url, path);
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    char *req = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, s->ca);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
    if (req)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    fclose(mem);
    free(req);
    json_t *out = cc == CURLE_OK ? json_loadb(buf, len, 0, NULL) : NULL;
    free(buf);
    return out;
}
