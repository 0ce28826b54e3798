/* core/platform/win32.c — Win32 implementation of the platform layer.
 *
 * The only file of the core that includes <windows.h>. Strings cross the
 * platform API in UTF-8; every path is converted to UTF-16 and handed to the
 * W functions, so non-ASCII user names and folders work whatever the ANSI
 * code page is. Targets Windows 10 and later (Outlook's own floor).
 *
 * What differs from POSIX, by design (see docs/windows.md):
 * - op_check_not_shared_writable / op_check_private_file only check that the
 *   path exists: reading ACLs for "writable by someone else" is future work.
 * - Files we create for secrets, locks and the control port get a protected
 *   DACL that grants access to the current user only.
 * - op_local_listen listens on loopback TCP and writes the port into `path`;
 *   any local user can connect to the port, so the control protocol must
 *   authenticate with the per-user secret (ARCHITECTURE.md, Platforms).
 */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00
#endif
#define WIN32_LEAN_AND_MEAN
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <knownfolders.h>
#include <sddl.h>
#include <shlobj.h>

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <limits.h>
#include <process.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#include "platform.h"

/* ---- helpers: UTF-8 <-> UTF-16, error text, owner-only security ---- */

/* malloc'd UTF-16 copy of a UTF-8 string, NULL on failure. */
static wchar_t *to_wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
    if (n <= 0)
        return NULL;
    wchar_t *w = malloc((size_t)n * sizeof *w);
    if (w && MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n) != n) {
        free(w);
        return NULL;
    }
    return w;
}

/* malloc'd UTF-8 copy of a UTF-16 string, NULL on failure. */
static char *to_utf8(const wchar_t *w)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
    if (n <= 0)
        return NULL;
    char *s = malloc((size_t)n);
    if (s && WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL) != n) {
        free(s);
        return NULL;
    }
    return s;
}

/* The system's one-line text for an error code, without the final period. */
static void error_text(DWORD code, char *buf, size_t len)
{
    wchar_t *msg = NULL;
    DWORD n = FormatMessageW(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM |
                                 FORMAT_MESSAGE_IGNORE_INSERTS | FORMAT_MESSAGE_MAX_WIDTH_MASK,
                             NULL, code, 0, (LPWSTR)&msg, 0, NULL);
    char *u = n ? to_utf8(msg) : NULL;
    if (msg)
        LocalFree(msg);
    if (!u) {
        snprintf(buf, len, "error %lu", (unsigned long)code);
        return;
    }
    size_t l = strlen(u);
    while (l > 0 && strchr(" .\r\n", u[l - 1]))
        u[--l] = '\0';
    snprintf(buf, len, "%s (error %lu)", u, (unsigned long)code);
    free(u);
}

/* err := "<printf(fmt, ...)>: <text of code>". */
__attribute__((format(printf, 4, 5)))
static void set_error(char *err, size_t errlen, DWORD code, const char *fmt, ...)
{
    char what[512], why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    error_text(code, why, sizeof why);
    snprintf(err, errlen, "%s: %s", what, why);
}

/* A protected DACL granting full access to the current user only, for
 * CreateFileW. 0 on success; free with LocalFree(sa->lpSecurityDescriptor). */
static int owner_only_security(SECURITY_ATTRIBUTES *sa)
{
    HANDLE tok = NULL;
    union {
        TOKEN_USER user;
        char bytes[256]; /* TOKEN_USER plus the SID it points to */
    } info;
    DWORD got = 0;
    wchar_t *sid = NULL, sddl[256];
    PSECURITY_DESCRIPTOR sd = NULL;
    int ok = OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok) &&
             GetTokenInformation(tok, TokenUser, &info, sizeof info, &got) &&
             ConvertSidToStringSidW(info.user.User.Sid, &sid);
    if (tok)
        CloseHandle(tok);
    if (ok) {
        _snwprintf(sddl, sizeof sddl / sizeof *sddl, L"D:P(A;;FA;;;%ls)", sid);
        sddl[sizeof sddl / sizeof *sddl - 1] = L'\0';
        ok = ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &sd, NULL);
    }
    if (sid)
        LocalFree(sid);
    if (!ok)
        return -1;
    sa->nLength = sizeof *sa;
    sa->lpSecurityDescriptor = sd;
    sa->bInheritHandle = FALSE;
    return 0;
}

/* Creates or opens `path` with an owner-only DACL (re-applied when the file
 * already existed, as fchmod does on POSIX). INVALID_HANDLE_VALUE and the
 * error code in *code on failure. */
static HANDLE create_private(const char *path, DWORD access, DWORD disposition, DWORD *code)
{
    wchar_t *w = to_wide(path);
    SECURITY_ATTRIBUTES sa;
    if (!w) {
        *code = ERROR_NO_UNICODE_TRANSLATION;
        return INVALID_HANDLE_VALUE;
    }
    if (owner_only_security(&sa) != 0) {
        *code = GetLastError();
        free(w);
        return INVALID_HANDLE_VALUE;
    }
    HANDLE h = CreateFileW(w, access | WRITE_DAC, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, &sa,
                           disposition, FILE_ATTRIBUTE_NORMAL, NULL);
    *code = GetLastError();
    if (h != INVALID_HANDLE_VALUE && *code == ERROR_ALREADY_EXISTS &&
        !SetKernelObjectSecurity(h, DACL_SECURITY_INFORMATION, sa.lpSecurityDescriptor)) {
        *code = GetLastError();
        CloseHandle(h);
        h = INVALID_HANDLE_VALUE;
    }
    LocalFree(sa.lpSecurityDescriptor);
    free(w);
    return h;
}

static DWORD file_attributes(const char *path)
{
    wchar_t *w = to_wide(path);
    DWORD a = w ? GetFileAttributesW(w) : INVALID_FILE_ATTRIBUTES;
    DWORD code = w ? GetLastError() : ERROR_NO_UNICODE_TRANSLATION;
    free(w);
    SetLastError(code); /* for the caller's error message */
    return a;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *r = malloc(n);
    if (r)
        memcpy(r, s, n);
    return r;
}

/* ---- dynamic loading ---- */

struct op_dl { HMODULE h; };

op_dl *op_dl_open(const char *path, char *err, size_t errlen)
{
    wchar_t *w = to_wide(path);
    if (!w) {
        snprintf(err, errlen, "path is not valid UTF-8");
        return NULL;
    }
    /* An absolute path, so LoadLibrary does not search, and so that
     * LOAD_WITH_ALTERED_SEARCH_PATH looks for the plugin's own DLLs
     * (libcurl-4.dll, ...) in its directory first. */
    wchar_t full[MAX_PATH * 4];
    DWORD n = GetFullPathNameW(w, sizeof full / sizeof *full, full, NULL);
    free(w);
    if (n == 0 || n >= sizeof full / sizeof *full) {
        snprintf(err, errlen, "path too long or invalid");
        return NULL;
    }
    /* No "cannot find DLL" message box for a missing dependency: report it. */
    DWORD old_mode = 0;
    SetThreadErrorMode(SEM_FAILCRITICALERRORS | SEM_NOOPENFILEERRORBOX, &old_mode);
    HMODULE h = LoadLibraryExW(full, NULL, LOAD_WITH_ALTERED_SEARCH_PATH);
    DWORD code = GetLastError();
    SetThreadErrorMode(old_mode, NULL);
    if (!h) {
        if (code == ERROR_MOD_NOT_FOUND && GetFileAttributesW(full) != INVALID_FILE_ATTRIBUTES)
            snprintf(err, errlen, "a DLL it depends on was not found (error %lu); put the DLLs it "
                     "imports next to it or on PATH", (unsigned long)code);
        else if (code == ERROR_BAD_EXE_FORMAT)
            snprintf(err, errlen, "not a DLL for this architecture (error %lu)", (unsigned long)code);
        else
            error_text(code, err, errlen);
        return NULL;
    }
    op_dl *d = malloc(sizeof *d);
    if (!d) {
        FreeLibrary(h);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->h = h;
    return d;
}

void *op_dl_sym(op_dl *d, const char *name)
{
    if (!d)
        return NULL;
    FARPROC f = GetProcAddress(d->h, name);
    void *p;
    memcpy(&p, &f, sizeof p); /* function to object pointer, as dlsym does */
    return p;
}

void op_dl_close(op_dl *d)
{
    if (!d)
        return;
    if (!getenv("OUTPOST_NO_DLCLOSE"))
        FreeLibrary(d->h);
    free(d);
}

const char *op_dl_suffix(void) { return ".dll"; }

/* ---- file system ---- */

char op_path_list_sep(void) { return ';'; }
char op_path_sep(void) { return '\\'; }

static int is_sep(char c) { return c == '\\' || c == '/'; }

/* "C:\x", "C:/x" and UNC "\\server\share" are absolute; "\x" and "C:x" are
 * relative to the current drive or its current directory. */
int op_path_is_absolute(const char *p)
{
    if (!p)
        return 0;
    if (((p[0] >= 'A' && p[0] <= 'Z') || (p[0] >= 'a' && p[0] <= 'z')) && p[1] == ':' && is_sep(p[2]))
        return 1;
    return is_sep(p[0]) && is_sep(p[1]);
}

int op_is_file(const char *path)
{
    DWORD a = file_attributes(path);
    return a != INVALID_FILE_ATTRIBUTES && !(a & FILE_ATTRIBUTE_DIRECTORY);
}

int op_is_dir(const char *path)
{
    DWORD a = file_attributes(path);
    return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY);
}

/* Length of the part of `p` that cannot be created: "C:\", "\\server\share\", "\". */
static size_t root_length(const char *p)
{
    size_t i = 0;
    if (is_sep(p[0]) && is_sep(p[1])) {
        i = 2;
        for (int part = 0; part < 2 && p[i]; part++) {
            while (p[i] && !is_sep(p[i]))
                i++;
            if (p[i])
                i++;
        }
        return i;
    }
    if (p[0] && p[1] == ':')
        i = 2;
    while (is_sep(p[i]))
        i++;
    return i;
}

int op_mkdir_p(const char *path, unsigned mode, char *err, size_t errlen)
{
    (void)mode; /* new directories inherit the parent's ACL */
    char *p = xstrdup(path);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (char *s = p + root_length(p);; s++) {
        if (is_sep(*s) || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (*p && !op_is_dir(p)) {
                wchar_t *w = to_wide(p);
                if (!w || !CreateDirectoryW(w, NULL)) {
                    DWORD code = w ? GetLastError() : ERROR_NO_UNICODE_TRANSLATION;
                    free(w);
                    if (code != ERROR_ALREADY_EXISTS) {
                        set_error(err, errlen, code, "cannot create directory %s", p);
                        free(p);
                        return -1;
                    }
                } else {
                    free(w);
                }
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

/* Windows: ACLs are not inspected yet (future work, docs/windows.md); only
 * a missing path is refused, with the same message as on POSIX. */
int op_check_not_shared_writable(const char *path, char *err, size_t errlen)
{
    if (file_attributes(path) == INVALID_FILE_ATTRIBUTES) {
        set_error(err, errlen, GetLastError(), "cannot stat %s", path);
        return -1;
    }
    return 0;
}

int op_check_private_file(const char *path, char *err, size_t errlen)
{
    if (file_attributes(path) == INVALID_FILE_ATTRIBUTES) {
        set_error(err, errlen, GetLastError(), "cannot read %s", path);
        return -1;
    }
    return 0;
}

int op_list_dir(const char *path, int (*fn)(void *ctx, const char *name), void *ctx)
{
    size_t n = strlen(path);
    char *pattern = malloc(n + 3);
    if (!pattern)
        return -1;
    snprintf(pattern, n + 3, "%s%s*", path, n && is_sep(path[n - 1]) ? "" : "\\");
    wchar_t *w = to_wide(pattern);
    free(pattern);
    if (!w)
        return -1;
    WIN32_FIND_DATAW fd;
    HANDLE h = FindFirstFileExW(w, FindExInfoBasic, &fd, FindExSearchNameMatch, NULL, 0);
    free(w);
    if (h == INVALID_HANDLE_VALUE)
        return GetLastError() == ERROR_FILE_NOT_FOUND ? 0 : -1;
    int rc = 0;
    do {
        if (!wcscmp(fd.cFileName, L".") || !wcscmp(fd.cFileName, L".."))
            continue;
        char *name = to_utf8(fd.cFileName);
        if (!name)
            continue;
        rc = fn(ctx, name);
        free(name);
    } while (rc == 0 && FindNextFileW(h, &fd));
    FindClose(h);
    return rc;
}

char *op_self_exe(void)
{
    for (DWORD cap = MAX_PATH;; cap *= 2) {
        wchar_t *w = malloc(cap * sizeof *w);
        if (!w)
            return NULL;
        DWORD n = GetModuleFileNameW(NULL, w, cap);
        if (n == 0 || (n == cap && cap >= 32768)) {
            free(w);
            return NULL;
        }
        if (n < cap) {
            char *r = to_utf8(w);
            free(w);
            return r;
        }
        free(w);
    }
}

int op_fs_info(const char *path, unsigned long *magic, char **mounts, char *err, size_t errlen)
{
    *magic = 0;
    *mounts = NULL;
    wchar_t *w = to_wide(path);
    if (!w) {
        snprintf(err, errlen, "cannot inspect file system of %s: path is not valid UTF-8", path);
        return -1;
    }
    DWORD cap = (DWORD)wcslen(w) + 2;
    wchar_t *root = malloc((cap > MAX_PATH ? cap : MAX_PATH) * sizeof *root);
    if (!root || !GetVolumePathNameW(w, root, cap > MAX_PATH ? cap : MAX_PATH)) {
        set_error(err, errlen, root ? GetLastError() : ERROR_OUTOFMEMORY, "cannot inspect file system of %s",
                  path);
        free(root);
        free(w);
        return -1;
    }
    *magic = GetDriveTypeW(root) == DRIVE_REMOTE ? 1 : 0;
    free(root);
    free(w);
    return 0;
}

FILE *op_fopen_private(const char *path)
{
    DWORD code;
    HANDLE h = create_private(path, GENERIC_WRITE, CREATE_ALWAYS, &code);
    if (h == INVALID_HANDLE_VALUE)
        return NULL;
    int fd = _open_osfhandle((intptr_t)h, _O_WRONLY | _O_BINARY);
    if (fd < 0) {
        CloseHandle(h);
        return NULL;
    }
    FILE *f = _fdopen(fd, "wb");
    if (!f)
        _close(fd);
    return f;
}

/* Absolute and normalised (., .., / -> \); symbolic links and junctions are
 * not resolved. NULL when the path does not exist, as realpath(3). */
char *op_realpath(const char *path)
{
    wchar_t *w = to_wide(path);
    if (!w)
        return NULL;
    DWORD n = GetFullPathNameW(w, 0, NULL, NULL);
    wchar_t *full = n ? malloc(n * sizeof *full) : NULL;
    char *r = NULL;
    if (full && GetFullPathNameW(w, n, full, NULL) < n && GetFileAttributesW(full) != INVALID_FILE_ATTRIBUTES)
        r = to_utf8(full);
    free(full);
    free(w);
    return r;
}

/* ---- user paths ---- */

/* The known folder, else the environment variable, as UTF-8. */
static char *known_folder(REFKNOWNFOLDERID id, const wchar_t *env)
{
    wchar_t *w = NULL;
    char *r = NULL;
    if (SUCCEEDED(SHGetKnownFolderPath(id, KF_FLAG_DEFAULT, NULL, &w)) && w && *w)
        r = to_utf8(w);
    CoTaskMemFree(w);
    if (!r) {
        const wchar_t *v = _wgetenv(env);
        if (v && *v)
            r = to_utf8(v);
    }
    return r;
}

char *op_user_config_dir(void) { return known_folder(&FOLDERID_RoamingAppData, L"APPDATA"); }
char *op_user_data_dir(void) { return known_folder(&FOLDERID_LocalAppData, L"LOCALAPPDATA"); }

/* %TEMP%\outpost: the temp directory is already per user on Windows. */
char *op_user_runtime_dir(void)
{
    wchar_t tmp[MAX_PATH + 1];
    DWORD n = GetTempPathW(sizeof tmp / sizeof *tmp, tmp);
    if (n == 0 || n > MAX_PATH)
        return NULL;
    char *t = to_utf8(tmp); /* GetTempPathW ends it with a backslash */
    if (!t)
        return NULL;
    size_t len = strlen(t) + sizeof "\\outpost";
    char *dir = malloc(len);
    if (dir)
        snprintf(dir, len, "%s%soutpost", t, *t && is_sep(t[strlen(t) - 1]) ? "" : "\\");
    free(t);
    char err[256];
    if (dir && op_mkdir_p(dir, 0700, err, sizeof err) != 0) {
        free(dir);
        return NULL;
    }
    return dir;
}

/* ---- file locking ---- */

/* Windows locks are mandatory, so the lock is taken on one byte far beyond
 * the end of the file: the pid at offset 0 stays readable by the next
 * process that finds the lock held. */
#define LOCK_OFFSET_HIGH 0x40000000UL

struct op_lock { HANDLE h; };

op_lock *op_lock_acquire(const char *path, char *err, size_t errlen)
{
    DWORD code;
    HANDLE h = create_private(path, GENERIC_READ | GENERIC_WRITE, OPEN_ALWAYS, &code);
    if (h == INVALID_HANDLE_VALUE) {
        set_error(err, errlen, code, "cannot open lock file %s", path);
        return NULL;
    }
    OVERLAPPED ov = { .OffsetHigh = LOCK_OFFSET_HIGH };
    if (!LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ov)) {
        char pid[32] = "";
        DWORD got = 0;
        OVERLAPPED at0 = { 0 };
        if (ReadFile(h, pid, sizeof pid - 1, &got, &at0) && got > 0) {
            pid[got] = '\0';
            pid[strcspn(pid, "\r\n")] = '\0';
        }
        if (*pid)
            snprintf(err, errlen, "%s is locked by another process (pid %s)", path, pid);
        else
            snprintf(err, errlen, "%s is locked by another process", path);
        CloseHandle(h);
        return NULL;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%lu\n", (unsigned long)GetCurrentProcessId());
    DWORD put = 0;
    OVERLAPPED at0 = { 0 };
    if (SetFilePointer(h, 0, NULL, FILE_BEGIN) == 0 && SetEndOfFile(h) &&
        !WriteFile(h, pid, (DWORD)n, &put, &at0)) {
        /* the pid is informational only */
    }
    op_lock *l = malloc(sizeof *l);
    if (!l) {
        CloseHandle(h);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->h = h;
    return l;
}

void op_lock_release(op_lock *l)
{
    if (!l)
        return;
    OVERLAPPED ov = { .OffsetHigh = LOCK_OFFSET_HIGH };
    UnlockFileEx(l->h, 0, 1, 0, &ov);
    CloseHandle(l->h);
    free(l);
}

/* ---- threads ---- */

struct op_thread {
    HANDLE h;
    void *(*fn)(void *);
    void *arg;
    void *result;
};
struct op_mutex { SRWLOCK l; };
struct op_cond { CONDITION_VARIABLE c; };

static unsigned __stdcall thread_main(void *p)
{
    op_thread *t = p;
    t->result = t->fn(t->arg);
    return 0;
}

void op_thread_name(const char *name)
{
    /* SetThreadDescription came with Windows 10 1607: looked up, not linked */
    typedef HRESULT(WINAPI * set_description)(HANDLE, PCWSTR);
    HMODULE k = GetModuleHandleW(L"kernel32.dll");
    set_description f = k ? (set_description)(void (*)(void))GetProcAddress(k, "SetThreadDescription") : NULL;
    wchar_t w[64];
    if (f && MultiByteToWideChar(CP_UTF8, 0, name, -1, w, (int)(sizeof w / sizeof w[0])) > 0)
        f(GetCurrentThread(), w);
}

op_thread *op_thread_start(void *(*fn)(void *), void *arg)
{
    op_thread *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->fn = fn;
    t->arg = arg;
    /* _beginthreadex, not CreateThread, so the C runtime's per-thread state is set up. */
    uintptr_t h = _beginthreadex(NULL, 0, thread_main, t, 0, NULL);
    if (!h) {
        free(t);
        return NULL;
    }
    t->h = (HANDLE)h;
    return t;
}

void *op_thread_join(op_thread *t)
{
    if (!t)
        return NULL;
    WaitForSingleObject(t->h, INFINITE);
    CloseHandle(t->h);
    void *r = t->result;
    free(t);
    return r;
}

op_mutex *op_mutex_new(void)
{
    op_mutex *m = malloc(sizeof *m);
    if (m)
        InitializeSRWLock(&m->l);
    return m;
}

void op_mutex_free(op_mutex *m) { free(m); } /* an SRW lock needs no destruction */
void op_mutex_lock(op_mutex *m) { AcquireSRWLockExclusive(&m->l); }
void op_mutex_unlock(op_mutex *m) { ReleaseSRWLockExclusive(&m->l); }

op_cond *op_cond_new(void)
{
    op_cond *c = malloc(sizeof *c);
    if (c)
        InitializeConditionVariable(&c->c);
    return c;
}

void op_cond_free(op_cond *c) { free(c); }
void op_cond_signal(op_cond *c) { WakeConditionVariable(&c->c); }
void op_cond_broadcast(op_cond *c) { WakeAllConditionVariable(&c->c); }

int op_cond_wait(op_cond *c, op_mutex *m, int64_t timeout_ms)
{
    DWORD ms = timeout_ms < 0 ? INFINITE : timeout_ms >= (int64_t)INFINITE ? INFINITE - 1 : (DWORD)timeout_ms;
    return SleepConditionVariableSRW(&c->c, &m->l, ms, 0) ? 0 : 1;
}

/* ---- time ---- */

int64_t op_now_ms(void)
{
    FILETIME ft;
    GetSystemTimePreciseAsFileTime(&ft);
    int64_t t100 = (int64_t)(((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime);
    return (t100 - 116444736000000000LL) / 10000; /* 1601 -> 1970, 100 ns -> ms */
}

int64_t op_monotonic_ms(void)
{
    LARGE_INTEGER f, c;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    return c.QuadPart / f.QuadPart * 1000 + c.QuadPart % f.QuadPart * 1000 / f.QuadPart;
}

void op_sleep_ms(int64_t ms)
{
    while (ms > 0) {
        DWORD part = ms > 0x7FFFFFFF ? 0x7FFFFFFF : (DWORD)ms;
        Sleep(part);
        ms -= part;
    }
}

/* ---- processes and environment ---- */

/* Values are in the ANSI code page (see docs/windows.md). */
void op_format_utc(int64_t ms, const char *fmt, char *buf, size_t len)
{
    __time64_t t = (__time64_t)(ms / 1000);
    struct tm tm;
    if (_gmtime64_s(&tm, &t) != 0 || !strftime(buf, len, fmt, &tm)) {
        if (len)
            buf[0] = '\0';
    }
}

/* Console control events stand in for signals: Ctrl+C, Ctrl+Break, closing
 * the console, log-off and shutdown all mean "stop". There is no SIGHUP. */
static struct {
    void (*fn)(void *, int);
    void *ctx;
} sig_state;

static BOOL WINAPI console_handler(DWORD type)
{
    (void)type;
    if (sig_state.fn)
        sig_state.fn(sig_state.ctx, OP_SIG_STOP);
    return TRUE;
}

int op_signals_start(void (*fn)(void *ctx, int what), void *ctx)
{
    sig_state.fn = fn;
    sig_state.ctx = ctx;
    return SetConsoleCtrlHandler(console_handler, TRUE) ? 0 : -1;
}

void op_signals_stop(void)
{
    SetConsoleCtrlHandler(console_handler, FALSE);
    sig_state.fn = NULL;
}

const char *op_getenv(const char *name) { return getenv(name); }
int op_isatty_stderr(void) { return _isatty(2); }
int op_isatty_stdout(void) { return _isatty(1); }
int op_isatty_stdin(void) { return _isatty(0); }
long op_getpid(void) { return (long)GetCurrentProcessId(); }

/* Runs the command through cmd.exe (_popen). */
char *op_run_capture_line(const char *cmd, char *err, size_t errlen)
{
    FILE *p = _popen(cmd, "r");
    if (!p) {
        snprintf(err, errlen, "cannot run command: %s", strerror(errno));
        return NULL;
    }
    char buf[4096];
    char *line = NULL;
    if (fgets(buf, sizeof buf, p)) {
        buf[strcspn(buf, "\r\n")] = '\0';
        line = xstrdup(buf);
        while (fgets(buf, sizeof buf, p)) {
        }
    }
    int st = _pclose(p);
    if (st != 0) {
        snprintf(err, errlen, "command exited with status %d", st);
        free(line);
        return NULL;
    }
    if (!line)
        snprintf(err, errlen, "command printed nothing");
    return line;
}

/* ---- sockets ---- */

static BOOL CALLBACK winsock_init(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    (void)once;
    (void)ctx;
    WSADATA wsa;
    *(int *)param = WSAStartup(MAKEWORD(2, 2), &wsa);
    return TRUE;
}

/* Starts Winsock once per process; 0 or the WSAStartup error. */
static int winsock_ready(void)
{
    static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
    static int rc;
    InitOnceExecuteOnce(&once, winsock_init, &rc, NULL);
    return rc;
}

static SOCKET loopback_socket(char *err, size_t errlen)
{
    int rc = winsock_ready();
    if (rc != 0) {
        set_error(err, errlen, (DWORD)rc, "cannot start Winsock");
        return INVALID_SOCKET;
    }
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET) {
        set_error(err, errlen, (DWORD)WSAGetLastError(), "socket");
        return INVALID_SOCKET;
    }
    SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0);
    return s;
}

op_socket op_local_listen(const char *path, char *err, size_t errlen)
{
    SOCKET s = loopback_socket(err, errlen);
    if (s == INVALID_SOCKET)
        return OP_BAD_SOCKET;
    /* No other process may bind the same port while we hold it. */
    BOOL one = TRUE;
    setsockopt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *)&one, sizeof one);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int len = sizeof sa;
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(s, 16) != 0 ||
        getsockname(s, (struct sockaddr *)&sa, &len) != 0) {
        set_error(err, errlen, (DWORD)WSAGetLastError(), "cannot listen on 127.0.0.1 for %s", path);
        closesocket(s);
        return OP_BAD_SOCKET;
    }
    FILE *f = op_fopen_private(path);
    if (!f || fprintf(f, "%u\n", (unsigned)ntohs(sa.sin_port)) < 0 || fclose(f) != 0) {
        snprintf(err, errlen, "cannot write the port file %s", path);
        closesocket(s);
        return OP_BAD_SOCKET;
    }
    return (op_socket)s;
}

op_socket op_local_connect(const char *path, char *err, size_t errlen)
{
    wchar_t *w = to_wide(path);
    FILE *f = w ? _wfopen(w, L"rb") : NULL;
    free(w);
    if (!f) {
        snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(errno));
        return OP_BAD_SOCKET;
    }
    char buf[32] = "";
    char *end = NULL;
    unsigned long port = fgets(buf, sizeof buf, f) ? strtoul(buf, &end, 10) : 0;
    fclose(f);
    if (port == 0 || port > 65535 || end == buf) {
        snprintf(err, errlen, "cannot connect to %s: it does not hold a port number", path);
        return OP_BAD_SOCKET;
    }
    SOCKET s = loopback_socket(err, errlen);
    if (s == INVALID_SOCKET)
        return OP_BAD_SOCKET;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((u_short)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
        set_error(err, errlen, (DWORD)WSAGetLastError(), "cannot connect to %s (127.0.0.1:%lu)", path, port);
        closesocket(s);
        return OP_BAD_SOCKET;
    }
    return (op_socket)s;
}

op_socket op_accept(op_socket s)
{
    SOCKET c = accept((SOCKET)s, NULL, NULL);
    if (c == INVALID_SOCKET)
        return OP_BAD_SOCKET;
    SetHandleInformation((HANDLE)c, HANDLE_FLAG_INHERIT, 0);
    return (op_socket)c;
}

long op_send(op_socket s, const void *buf, size_t len)
{
    int n = send((SOCKET)s, buf, len > INT_MAX ? INT_MAX : (int)len, 0);
    return n == SOCKET_ERROR ? -1 : (long)n;
}

long op_recv(op_socket s, void *buf, size_t len)
{
    int n = recv((SOCKET)s, buf, len > INT_MAX ? INT_MAX : (int)len, 0);
    return n == SOCKET_ERROR ? -1 : (long)n;
}

void op_close_socket(op_socket s)
{
    if (s != OP_BAD_SOCKET)
        closesocket((SOCKET)s);
}

void op_tune_allocator(void)
{
    /* The Windows heap (low-fragmentation heap) needs no tuning here. */
}
