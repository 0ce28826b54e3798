/* core/platform/posix.c — POSIX implementation of the platform layer. */
#include "platform.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

struct op_dl { void *h; };

op_dl *op_dl_open(const char *path, char *err, size_t errlen)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(err, errlen, "%s", dlerror());
        return NULL;
    }
    op_dl *d = malloc(sizeof *d);
    if (!d) {
        dlclose(h);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->h = h;
    return d;
}

void *op_dl_sym(op_dl *d, const char *name) { return d ? dlsym(d->h, name) : NULL; }

void op_dl_close(op_dl *d)
{
    if (!d)
        return;
    /* Under sanitizers, keep plugins mapped so reports can symbolise them. */
    if (!getenv("OUTPOST_NO_DLCLOSE"))
        dlclose(d->h);
    free(d);
}

const char *op_dl_suffix(void) { return ".so"; }

char op_path_list_sep(void) { return ':'; }
char op_path_sep(void) { return '/'; }
int op_path_is_absolute(const char *p) { return p && p[0] == '/'; }

int op_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int op_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int op_mkdir_p(const char *path, unsigned mode, char *err, size_t errlen)
{
    char *p = strdup(path);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST) {
                snprintf(err, errlen, "cannot create directory %s: %s", p, strerror(errno));
                free(p);
                return -1;
            }
            *s = c;
            if (c == '\0')
                break;
        }
    }
    free(p);
    if (!op_is_dir(path)) {
        snprintf(err, errlen, "%s exists and is not a directory", path);
        return -1;
    }
    return 0;
}

int op_check_not_shared_writable(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
        return -1;
    }
    if (st.st_mode & S_IWOTH) {
        snprintf(err, errlen, "%s is writable by others (mode %04o); run: chmod o-w %s",
                 path, (unsigned)(st.st_mode & 07777), path);
        return -1;
    }
    if (st.st_mode & S_IWGRP) {
        snprintf(err, errlen, "%s is writable by group (mode %04o); run: chmod g-w %s",
                 path, (unsigned)(st.st_mode & 07777), path);
        return -1;
    }
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
        snprintf(err, errlen, "%s is owned by another user (uid %u)", path, (unsigned)st.st_uid);
        return -1;
    }
    return 0;
}

int op_check_private_file(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        snprintf(err, errlen, "%s is accessible by group or others (mode %04o); run: chmod 600 %s",
                 path, (unsigned)(st.st_mode & 07777), path);
        return -1;
    }
    return 0;
}

int op_list_dir(const char *path, int (*fn)(void *ctx, const char *name), void *ctx)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if ((rc = fn(ctx, e->d_name)) != 0)
            break;
    }
    closedir(d);
    return rc;
}

int op_fs_info(const char *path, unsigned long *magic, char **mounts, char *err, size_t errlen)
{
    struct statfs sf;
    *magic = 0;
    *mounts = NULL;
    if (statfs(path, &sf) != 0) {
        snprintf(err, errlen, "cannot inspect file system of %s: %s", path, strerror(errno));
        return -1;
    }
    *magic = (unsigned long)sf.f_type;
    FILE *f = fopen("/proc/self/mounts", "r");
    if (!f)
        return 0;
    size_t cap = 16384, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 4096 + 1 > cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, 4096, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    *mounts = buf;
    return 0;
}

FILE *op_fopen_private(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return NULL;
    if (fchmod(fd, 0600) != 0) {
        close(fd);
        return NULL;
    }
    FILE *f = fdopen(fd, "w");
    if (!f)
        close(fd);
    return f;
}

char *op_realpath(const char *path) { return realpath(path, NULL); }

char *op_self_exe(void)
{
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    return strdup(buf);
}

static char *home_sub(const char *env, const char *sub)
{
    const char *v = getenv(env);
    if (v && *v == '/')
        return strdup(v);
    const char *home = getenv("HOME");
    if (!home || !*home) {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : "/";
    }
    size_t n = strlen(home) + strlen(sub) + 2;
    char *r = malloc(n);
    if (r)
        snprintf(r, n, "%s/%s", home, sub);
    return r;
}

char *op_user_config_dir(void) { return home_sub("XDG_CONFIG_HOME", ".config"); }
char *op_user_data_dir(void) { return home_sub("XDG_DATA_HOME", ".local/share"); }

char *op_user_runtime_dir(void)
{
    const char *v = getenv("XDG_RUNTIME_DIR");
    if (v && *v == '/' && op_is_dir(v))
        return strdup(v);
    char buf[64];
    snprintf(buf, sizeof buf, "/tmp/outpost-%u", (unsigned)getuid());
    char err[256];
    if (op_mkdir_p(buf, 0700, err, sizeof err) != 0)
        return NULL;
    return strdup(buf);
}

struct op_lock { int fd; };

op_lock *op_lock_acquire(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open lock file %s: %s", path, strerror(errno));
        return NULL;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        if (n > 0) {
            pid[n] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
        }
        snprintf(err, errlen, "%s is locked by another process%s%s", path, n > 0 ? " (pid " : "",
                 n > 0 ? pid : "");
        if (n > 0)
            strncat(err, ")", errlen - strlen(err) - 1);
        close(fd);
        return NULL;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) < 0) {
        /* the pid is informational only */
    }
    op_lock *l = malloc(sizeof *l);
    if (!l) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->fd = fd;
    return l;
}

void op_lock_release(op_lock *l)
{
    if (!l)
        return;
    flock(l->fd, LOCK_UN);
    close(l->fd);
    free(l);
}

struct op_thread { pthread_t t; };
struct op_mutex { pthread_mutex_t m; };
struct op_cond { pthread_cond_t c; };

op_thread *op_thread_start(void *(*fn)(void *), void *arg)
{
    op_thread *t = malloc(sizeof *t);
    if (!t)
        return NULL;
    if (pthread_create(&t->t, NULL, fn, arg) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

void op_thread_name(const char *name)
{
#ifdef __linux__
    char n[16];
    snprintf(n, sizeof n, "%s", name);
    pthread_setname_np(pthread_self(), n);
#else
    (void)name;
#endif
}

void *op_thread_join(op_thread *t)
{
    void *r = NULL;
    if (t) {
        pthread_join(t->t, &r);
        free(t);
    }
    return r;
}

op_mutex *op_mutex_new(void)
{
    op_mutex *m = malloc(sizeof *m);
    if (m)
        pthread_mutex_init(&m->m, NULL);
    return m;
}

void op_mutex_free(op_mutex *m)
{
    if (m) {
        pthread_mutex_destroy(&m->m);
        free(m);
    }
}

void op_mutex_lock(op_mutex *m) { pthread_mutex_lock(&m->m); }
void op_mutex_unlock(op_mutex *m) { pthread_mutex_unlock(&m->m); }

op_cond *op_cond_new(void)
{
    op_cond *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&c->c, &a);
    pthread_condattr_destroy(&a);
    return c;
}

void op_cond_free(op_cond *c)
{
    if (c) {
        pthread_cond_destroy(&c->c);
        free(c);
    }
}

void op_cond_signal(op_cond *c) { pthread_cond_signal(&c->c); }
void op_cond_broadcast(op_cond *c) { pthread_cond_broadcast(&c->c); }

int op_cond_wait(op_cond *c, op_mutex *m, int64_t timeout_ms)
{
    if (timeout_ms < 0)
        return pthread_cond_wait(&c->c, &m->m) == 0 ? 0 : 1;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return pthread_cond_timedwait(&c->c, &m->m, &ts) == 0 ? 0 : 1;
}

int64_t op_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t op_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void op_sleep_ms(int64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void op_format_utc(int64_t ms, const char *fmt, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    if (!strftime(buf, len, fmt, &tm) && len)
        buf[0] = '\0';
}

const char *op_getenv(const char *name) { return getenv(name); }
int op_isatty_stderr(void) { return isatty(2); }
int op_isatty_stdout(void) { return isatty(1); }
int op_isatty_stdin(void) { return isatty(0); }
long op_getpid(void) { return (long)getpid(); }

char *op_run_capture_line(const char *cmd, char *err, size_t errlen)
{
    FILE *p = popen(cmd, "r");
    if (!p) {
        snprintf(err, errlen, "cannot run command: %s", strerror(errno));
        return NULL;
    }
    char buf[4096];
    char *line = NULL;
    if (fgets(buf, sizeof buf, p)) {
        buf[strcspn(buf, "\r\n")] = '\0';
        line = strdup(buf);
        while (fgets(buf, sizeof buf, p)) {
        }
    }
    int st = pclose(p);
    if (st != 0) {
        snprintf(err, errlen, "command exited with status %d", st > 255 ? st >> 8 : st);
        free(line);
        return NULL;
    }
    if (!line)
        snprintf(err, errlen, "command printed nothing");
    return line;
}

/* A Unix stream socket and the address of `path` (listen and connect share it). */
static int unix_socket(const char *path, struct sockaddr_un *sa, char *err, size_t errlen)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa->sun_path) {
        snprintf(err, errlen, "socket path too long: %s", path);
        return -1;
    }
    strcpy(sa->sun_path, path);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        snprintf(err, errlen, "socket: %s", strerror(errno));
    return s;
}

op_socket op_local_listen(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    int s = unix_socket(path, &sa, err, errlen);
    if (s < 0)
        return OP_BAD_SOCKET;
    unlink(path);
    /* Owner-only: chmod rather than umask, which is process-wide and racy with
     * other threads; the data directory is 0700 in the meantime. */
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) != 0 || chmod(path, 0600) != 0 || listen(s, 16) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
        close(s);
        return OP_BAD_SOCKET;
    }
    return s;
}

op_socket op_local_connect(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    int s = unix_socket(path, &sa, err, errlen);
    if (s < 0)
        return OP_BAD_SOCKET;
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(errno));
        close(s);
        return OP_BAD_SOCKET;
    }
    return s;
}

op_socket op_accept(op_socket s)
{
    int c;
    do {
        c = accept((int)s, NULL, NULL);
    } while (c < 0 && errno == EINTR);
    return c < 0 ? OP_BAD_SOCKET : c;
}

long op_send(op_socket s, const void *buf, size_t len)
{
    ssize_t n;
    do {
        n = send((int)s, buf, len, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return (long)n;
}

long op_recv(op_socket s, void *buf, size_t len)
{
    ssize_t n;
    do {
        n = recv((int)s, buf, len, 0);
    } while (n < 0 && errno == EINTR);
    return (long)n;
}

void op_close_socket(op_socket s)
{
    if (s != OP_BAD_SOCKET)
        close((int)s);
}

/* Signals are blocked in every thread and taken with sigwait on one thread. */
static struct {
    pthread_t thread;
    int running;
    void (*fn)(void *, int);
    void *ctx;
    sigset_t set;
} sig_state;

static void *signal_thread(void *arg)
{
    (void)arg;
    op_thread_name("outpost-signal");
    for (;;) {
        int sig = 0;
        if (sigwait(&sig_state.set, &sig) != 0)
            continue;
        if (sig == SIGUSR2)
            break; /* op_signals_stop */
        sig_state.fn(sig_state.ctx, sig == SIGHUP ? OP_SIG_RELOAD : OP_SIG_STOP);
    }
    return NULL;
}

int op_signals_start(void (*fn)(void *ctx, int what), void *ctx)
{
    sigemptyset(&sig_state.set);
    sigaddset(&sig_state.set, SIGTERM);
    sigaddset(&sig_state.set, SIGINT);
    sigaddset(&sig_state.set, SIGHUP);
    sigaddset(&sig_state.set, SIGUSR2);
    if (pthread_sigmask(SIG_BLOCK, &sig_state.set, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    sig_state.fn = fn;
    sig_state.ctx = ctx;
    if (pthread_create(&sig_state.thread, NULL, signal_thread, NULL) != 0)
        return -1;
    sig_state.running = 1;
    return 0;
}

void op_signals_stop(void)
{
    if (!sig_state.running)
        return;
    pthread_kill(sig_state.thread, SIGUSR2);
    pthread_join(sig_state.thread, NULL);
    sig_state.running = 0;
}

void op_tune_allocator(void)
{
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    /* glibc's own setting, when given, wins (MALLOC_ARENA_MAX, or glibc.malloc.arena_max) */
    const char *tun = getenv("GLIBC_TUNABLES");
    if (!getenv("MALLOC_ARENA_MAX") && !(tun && strstr(tun, "glibc.malloc.arena_max")))
        mallopt(M_ARENA_MAX, 4);
#endif
}
