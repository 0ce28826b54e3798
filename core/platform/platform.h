/* core/platform/platform.h — the one portability layer of the core.
 *
 * Everything in the core that needs the operating system goes through these
 * functions: dynamic loading, threads and locks, file locking, file checks,
 * sockets and user paths. posix.c implements them for Linux/BSD/macOS and
 * win32.c for Windows. Nothing else in core/ includes an OS header.
 *
 * Errors: functions returning int return 0 on success and -1 on failure with
 * a one-line reason in the caller's buffer (err, errlen) where one is taken.
 * Strings returned in out-parameters are malloc'd and freed by the caller.
 */
#ifndef OUTPOST_PLATFORM_H
#define OUTPOST_PLATFORM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- process ---- */

/* Tunes the C library's allocator for a long-running process with a few
 * busy threads (call first in main). On glibc: allocations of 256 KiB and
 * more (reply bodies, pages of items) come from mmap and go back to the
 * system when freed, instead of raising the dynamic mmap threshold and
 * fragmenting the heap, and at most four arenas serve all threads. Measured
 * on a 10k-message initial sync: peak RSS 63.5 -> 58.4 MB at the same CPU
 * time (two arenas then). Four since the Kerio listing's fetching and
 * converting threads and the storage's compressor run beside the sync's own:
 * with two they queued for the arenas' locks (30k messages: 4,570-5,195 ->
 * 5,374-5,535 msg/s, ~3 MB more RSS); 6 or 8 were no faster (session 13). glibc's own
 * MALLOC_ARENA_MAX or glibc.malloc.arena_max, when set, wins. Elsewhere nothing. */
void op_tune_allocator(void);

/* ---- dynamic loading ---- */

typedef struct op_dl op_dl;
/* Opens exactly `path` (no search). NULL with the loader's reason in err. */
op_dl *op_dl_open(const char *path, char *err, size_t errlen);
void *op_dl_sym(op_dl *h, const char *name);
void op_dl_close(op_dl *h);
/* File name suffix of plugins on this OS: ".so" or ".dll". */
const char *op_dl_suffix(void);

/* ---- file system ---- */

/* Path separator for lists (':' on POSIX, ';' on Windows) and in paths. */
char op_path_list_sep(void);
char op_path_sep(void);
int op_path_is_absolute(const char *p);
/* 1 if path exists and is a regular file / directory. */
int op_is_file(const char *path);
int op_is_dir(const char *path);
/* Creates a directory and its parents with the given POSIX mode (ignored on Windows). */
int op_mkdir_p(const char *path, unsigned mode, char *err, size_t errlen);
/* Refuses a file or directory that is writable by group or others, or
 * owned by a user other than the caller or root (POSIX; always OK on
 * Windows). 0 when safe; -1 with the reason (e.g. "is writable by group"). */
int op_check_not_shared_writable(const char *path, char *err, size_t errlen);
/* Refuses a secret file with any group or other permission bit. */
int op_check_private_file(const char *path, char *err, size_t errlen);
/* Calls fn for each entry name of a directory (not . and ..). Stops when fn returns non-zero. */
int op_list_dir(const char *path, int (*fn)(void *ctx, const char *name), void *ctx);
/* The absolute path of the running executable, malloc'd, or NULL. */
char *op_self_exe(void);

/* File system of `path`: on POSIX the statfs magic number (0 if unknown)
 * and the mount table text (/proc/self/mounts, malloc'd, NULL if
 * unavailable) for the caller to classify; on Windows *magic is 1 for a
 * remote drive and 0 otherwise, and *mounts NULL. 0 on success. */
int op_fs_info(const char *path, unsigned long *magic, char **mounts, char *err, size_t errlen);
/* Opens a file for writing, created/truncated with owner-only permissions. */
FILE *op_fopen_private(const char *path);
/* Canonical absolute path (symlinks resolved), malloc'd, NULL if it fails. */
char *op_realpath(const char *path);

/* ---- user paths ---- */

/* $XDG_CONFIG_HOME (default ~/.config) or %APPDATA%; malloc'd. */
char *op_user_config_dir(void);
/* $XDG_DATA_HOME (default ~/.local/share) or %LOCALAPPDATA%; malloc'd. */
char *op_user_data_dir(void);
/* $XDG_RUNTIME_DIR, else a private temp dir for the user; malloc'd. */
char *op_user_runtime_dir(void);

/* ---- file locking ---- */

typedef struct op_lock op_lock;
/* Takes an exclusive, non-blocking lock on `path` (created if absent) held
 * until op_lock_release or process exit. NULL with "held by pid N" etc. */
op_lock *op_lock_acquire(const char *path, char *err, size_t errlen);
void op_lock_release(op_lock *l);

/* ---- threads ---- */

typedef struct op_thread op_thread;
typedef struct op_mutex op_mutex;
typedef struct op_cond op_cond;
op_thread *op_thread_start(void *(*fn)(void *), void *arg);
/* Names the calling thread for the system's tools (top -H, ps -L, perf, gdb, a debugger's
 * thread list); at most 15 bytes are kept on Linux. Best effort: nothing happens where the
 * system has no such name. */
void op_thread_name(const char *name);
void *op_thread_join(op_thread *t);
op_mutex *op_mutex_new(void);
void op_mutex_free(op_mutex *m);
void op_mutex_lock(op_mutex *m);
void op_mutex_unlock(op_mutex *m);
op_cond *op_cond_new(void);
void op_cond_free(op_cond *c);
void op_cond_signal(op_cond *c);
void op_cond_broadcast(op_cond *c);
/* Waits at most timeout_ms (negative: forever). 0 signalled, 1 timed out. */
int op_cond_wait(op_cond *c, op_mutex *m, int64_t timeout_ms);

/* ---- time ---- */

int64_t op_now_ms(void);        /* wall clock, ms since the Unix epoch */
int64_t op_monotonic_ms(void);  /* monotonic */
void op_sleep_ms(int64_t ms);
/* Formats a wall-clock time (ms since the epoch) in UTC with strftime's
 * `fmt` into buf. */
void op_format_utc(int64_t ms, const char *fmt, char *buf, size_t len);

/* ---- processes and environment ---- */

const char *op_getenv(const char *name);
int op_isatty_stderr(void);
int op_isatty_stdout(void);
int op_isatty_stdin(void);
long op_getpid(void);
/* Runs a shell command and returns its first output line (trailing newline
 * stripped), malloc'd; NULL with the reason in err on failure or non-zero exit. */
char *op_run_capture_line(const char *cmd, char *err, size_t errlen);

/* ---- signals ---- */

enum { OP_SIG_STOP = 1, OP_SIG_RELOAD = 2 };
/* Routes SIGTERM/SIGINT (OP_SIG_STOP) and SIGHUP (OP_SIG_RELOAD) to fn on a
 * thread of its own (console control events on Windows). Call before starting
 * other threads. fn must return quickly. */
int op_signals_start(void (*fn)(void *ctx, int what), void *ctx);
void op_signals_stop(void);

/* ---- sockets (control socket, front-ends use their own) ---- */

typedef intptr_t op_socket;
#define OP_BAD_SOCKET ((op_socket)-1)
/* Listens on a local stream socket at path (Unix domain; loopback TCP on
 * Windows, writing the port into path). Owner-only permissions. */
op_socket op_local_listen(const char *path, char *err, size_t errlen);
op_socket op_local_connect(const char *path, char *err, size_t errlen);
op_socket op_accept(op_socket s);
/* Returns bytes transferred, 0 at EOF, -1 on error (retries on EINTR). */
long op_send(op_socket s, const void *buf, size_t len);
long op_recv(op_socket s, void *buf, size_t len);
void op_close_socket(op_socket s);

#ifdef __cplusplus
}
#endif
#endif /* OUTPOST_PLATFORM_H */
