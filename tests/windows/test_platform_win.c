/* tests/windows/test_platform_win.c — core/platform/win32.c does what
 * platform.h promises: paths (UTF-8 in, UTF-8 out), directories, private
 * files, lock files, threads and condition variables, time, commands and the
 * loopback control socket.
 *
 * Usage: test_platform_win.exe SCRATCH_DIR (created; left behind for inspection). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "platform/platform.h"

static char scratch[1024];

static const char *in_scratch(const char *name)
{
    static char buf[4][1200];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "%s%c%s", scratch, op_path_sep(), name);
    return b;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = s ? strlen(s) : 0, m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static void test_paths(void)
{
    CHECK(op_path_sep() == '\\' && op_path_list_sep() == ';' && !strcmp(op_dl_suffix(), ".dll"),
          "separators '\\' and ';', suffix .dll");
    CHECK(op_path_is_absolute("C:\\Users") && op_path_is_absolute("c:/x") && op_path_is_absolute("\\\\srv\\share") &&
              !op_path_is_absolute("plugins\\x") && !op_path_is_absolute("C:x") && !op_path_is_absolute("\\x"),
          "absolute paths: drive + separator and UNC only");
    char *self = op_self_exe();
    CHECK(ends_with(self, "test_platform_win.exe") && op_path_is_absolute(self), "op_self_exe: %s",
          self ? self : "(null)");
    free(self);
}

struct names {
    const char *want;
    int found, count;
};

static int on_name(void *ctx, const char *name)
{
    struct names *n = ctx;
    n->count++;
    n->found += !strcmp(name, n->want);
    return 0;
}

static void test_files(void)
{
    char err[512] = "";
    /* Mixed separators, as paths from a config file will have. */
    const char *deep = in_scratch("a/b\\c");
    CHECK(op_mkdir_p(deep, 0700, err, sizeof err) == 0 && op_is_dir(deep) && !op_is_file(deep),
          "op_mkdir_p %s %s", deep, err);
    CHECK(op_mkdir_p(deep, 0700, err, sizeof err) == 0, "op_mkdir_p on an existing directory");

    /* A non-ASCII name goes in and comes back out as the same UTF-8. */
    const char *uname = "\xc3\xbcnic\xc3\xb8" "de-\xe6\x97\xa5\xe6\x9c\xac.txt";
    const char *upath = in_scratch(uname);
    FILE *f = op_fopen_private(upath);
    CHECK(f && fputs("secret\n", f) >= 0 && fclose(f) == 0, "op_fopen_private writes %s", upath);
    CHECK(op_is_file(upath) && !op_is_dir(upath), "op_is_file on the UTF-8 name");
    f = op_fopen_private(upath);
    CHECK(f && fclose(f) == 0, "op_fopen_private truncates an existing file");
    struct names n = { uname, 0, 0 };
    CHECK(op_list_dir(scratch, on_name, &n) == 0 && n.found == 1, "op_list_dir finds the UTF-8 name (%d entries)",
          n.count);
    CHECK(op_check_private_file(upath, err, sizeof err) == 0, "op_check_private_file accepts an existing file");
    CHECK(op_check_not_shared_writable(scratch, err, sizeof err) == 0, "op_check_not_shared_writable accepts a dir");
    const char *missing = in_scratch("missing.txt");
    CHECK(op_check_private_file(missing, err, sizeof err) != 0 && strstr(err, "cannot read") &&
              strstr(err, "missing.txt"),
          "op_check_private_file refuses a missing file: %s", err);
    CHECK(op_mkdir_p(upath, 0700, err, sizeof err) != 0 && strstr(err, "not a directory"),
          "op_mkdir_p over a file: %s", err);

    char *real = op_realpath(in_scratch("a/b/../b/c"));
    CHECK(real && op_path_is_absolute(real) && ends_with(real, "\\a\\b\\c") && !strstr(real, ".."),
          "op_realpath: %s", real ? real : "(null)");
    free(real);
    CHECK(op_realpath(missing) == NULL, "op_realpath of a missing file is NULL");

    unsigned long magic = 99;
    err[0] = '\0';
    char *mounts = (char *)"x";
    CHECK(op_fs_info(scratch, &magic, &mounts, err, sizeof err) == 0 && magic == 0 && mounts == NULL,
          "op_fs_info: local drive, magic %lu %s", magic, err);
}

static void test_user_dirs(void)
{
    char *c = op_user_config_dir(), *d = op_user_data_dir(), *r = op_user_runtime_dir();
    CHECK(c && op_path_is_absolute(c) && op_is_dir(c), "config dir (%%APPDATA%%): %s", c ? c : "(null)");
    CHECK(d && op_path_is_absolute(d) && op_is_dir(d), "data dir (%%LOCALAPPDATA%%): %s", d ? d : "(null)");
    CHECK(r && op_is_dir(r) && ends_with(r, "\\outpost"), "runtime dir: %s", r ? r : "(null)");
    free(c);
    free(d);
    free(r);
}

static void test_lock(void)
{
    char err[512] = "";
    const char *path = in_scratch("outpost.lock");
    op_lock *l = op_lock_acquire(path, err, sizeof err);
    CHECK(l != NULL, "lock acquired: %s", err);
    char want[64];
    snprintf(want, sizeof want, "locked by another process (pid %ld)", op_getpid());
    op_lock *again = op_lock_acquire(path, err, sizeof err);
    CHECK(again == NULL && strstr(err, want), "second lock refused: %s", err);
    op_lock_release(again);
    op_lock_release(l);
    l = op_lock_acquire(path, err, sizeof err);
    CHECK(l != NULL, "lock acquired again after release");
    op_lock_release(l);
}

struct shared {
    op_mutex *m;
    op_cond *c;
    long counter;
    int ready;
};

static void *add_many(void *arg)
{
    struct shared *s = arg;
    for (int i = 0; i < 20000; i++) {
        op_mutex_lock(s->m);
        s->counter++;
        op_mutex_unlock(s->m);
    }
    return s;
}

static void *signal_later(void *arg)
{
    struct shared *s = arg;
    op_thread_name("outpost-test"); /* SetThreadDescription where the system has it */
    op_sleep_ms(30);
    op_mutex_lock(s->m);
    s->ready = 1;
    op_cond_signal(s->c);
    op_mutex_unlock(s->m);
    return NULL;
}

static void test_threads(void)
{
    struct shared s = { op_mutex_new(), op_cond_new(), 0, 0 };
    op_thread *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = op_thread_start(add_many, &s);
    int joined = 0;
    for (int i = 0; i < 4; i++)
        joined += t[i] && op_thread_join(t[i]) == &s;
    CHECK(joined == 4 && s.counter == 80000, "4 threads under one mutex: %ld, join returns the result", s.counter);

    int64_t t0 = op_monotonic_ms();
    op_mutex_lock(s.m);
    int rc = op_cond_wait(s.c, s.m, 50);
    op_mutex_unlock(s.m);
    int64_t waited = op_monotonic_ms() - t0;
    CHECK(rc == 1 && waited >= 40 && waited < 2000, "op_cond_wait times out after %lld ms", (long long)waited);

    op_thread *sig = op_thread_start(signal_later, &s);
    op_mutex_lock(s.m);
    rc = 0;
    while (!s.ready && rc == 0)
        rc = op_cond_wait(s.c, s.m, 5000);
    op_mutex_unlock(s.m);
    op_thread_join(sig);
    CHECK(s.ready && rc == 0, "op_cond_wait wakes on a signal");
    op_cond_free(s.c);
    op_mutex_free(s.m);
}

static void test_time_and_commands(void)
{
    int64_t now = op_now_ms();
    CHECK(now > 1577836800000LL && now < 4102444800000LL, "op_now_ms is Unix-epoch milliseconds: %lld",
          (long long)now);
    int64_t m0 = op_monotonic_ms();
    op_sleep_ms(20);
    int64_t dm = op_monotonic_ms() - m0;
    CHECK(dm >= 15 && dm < 2000, "op_sleep_ms(20) took %lld ms of monotonic time", (long long)dm);
    CHECK(op_getpid() > 0, "op_getpid: %ld", op_getpid());

    char err[512] = "";
    char *line = op_run_capture_line("echo hello& echo second", err, sizeof err);
    CHECK(line && !strcmp(line, "hello"), "op_run_capture_line: first line '%s' %s", line ? line : "(null)", err);
    free(line);
    line = op_run_capture_line("exit 3", err, sizeof err);
    CHECK(!line && strstr(err, "status 3"), "a failing command: %s", err);
    free(line);
}

static void test_socket(void)
{
    char err[512] = "";
    const char *path = in_scratch("control.port");
    op_socket l = op_local_listen(path, err, sizeof err);
    CHECK(l != OP_BAD_SOCKET && op_is_file(path), "op_local_listen on loopback, port in %s %s", path, err);
    if (l == OP_BAD_SOCKET)
        return;
    op_socket c = op_local_connect(path, err, sizeof err);
    CHECK(c != OP_BAD_SOCKET, "op_local_connect %s", err);
    op_socket a = op_accept(l);
    CHECK(a != OP_BAD_SOCKET, "op_accept");
    char buf[16] = "";
    CHECK(op_send(c, "ping", 4) == 4 && op_recv(a, buf, sizeof buf) == 4 && !memcmp(buf, "ping", 4),
          "bytes cross the connection");
    op_close_socket(c);
    CHECK(op_recv(a, buf, sizeof buf) == 0, "EOF after the peer closes");
    op_close_socket(a);
    op_close_socket(l);
    c = op_local_connect(in_scratch("nosuch.port"), err, sizeof err);
    CHECK(c == OP_BAD_SOCKET && strstr(err, "cannot connect to") && strstr(err, "nosuch.port"),
          "connecting without a port file: %s", err);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
        return 2;
    }
    snprintf(scratch, sizeof scratch, "%s", argv[1]);
    char err[512];
    if (op_mkdir_p(scratch, 0700, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    test_paths();
    test_files();
    test_user_dirs();
    test_lock();
    test_threads();
    test_time_and_commands();
    test_socket();
    return check_summary();
}
