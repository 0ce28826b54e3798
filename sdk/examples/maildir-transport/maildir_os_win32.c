/* maildir_os_win32.c — maildir_os.h on Windows (FindFirstFileW, CreateFileW,
 * FlushFileBuffers). Paths are UTF-8 and converted to UTF-16; Win32 errors
 * are mapped to the errno values the rest of the plugin prints. */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include "maildir_os.h"

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stdlib.h>
#include <string.h>

static int errno_of(DWORD code)
{
    switch (code) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_NAME: return ENOENT;
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION: return EACCES;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY: return ENOMEM;
    case ERROR_DISK_FULL: return ENOSPC;
    default: return EIO;
    }
}

/* malloc'd UTF-16 copy of `path` with `suffix` appended, NULL if not UTF-8. */
static wchar_t *wide(const char *path, const wchar_t *suffix)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, NULL, 0);
    if (n <= 0)
        return NULL;
    size_t extra = wcslen(suffix);
    wchar_t *w = malloc(((size_t)n + extra) * sizeof *w);
    if (w == NULL || MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, w, n) != n) {
        free(w);
        return NULL;
    }
    wcscat(w, suffix);
    return w;
}

struct md_dir {
    HANDLE find;
    WIN32_FIND_DATAW data;
    int have;            /* data holds an entry not yet returned */
    char name[MAX_PATH * 3 + 1]; /* UTF-8 of the last returned entry */
};

int md_dir_open(const char *path, struct md_dir **out)
{
    struct md_dir *d = calloc(1, sizeof *d);
    wchar_t *pattern = wide(path, L"\\*");
    if (d == NULL || pattern == NULL) {
        free(d);
        free(pattern);
        return d == NULL ? ENOMEM : EINVAL;
    }
    d->find = FindFirstFileExW(pattern, FindExInfoBasic, &d->data, FindExSearchNameMatch, NULL, 0);
    free(pattern);
    if (d->find == INVALID_HANDLE_VALUE) {
        int err = errno_of(GetLastError());
        free(d);
        return err;
    }
    d->have = 1;
    *out = d;
    return 0;
}

const char *md_dir_next(struct md_dir *d, int *err)
{
    for (;;) {
        if (!d->have) {
            if (!FindNextFileW(d->find, &d->data)) {
                DWORD code = GetLastError();
                *err = code == ERROR_NO_MORE_FILES ? 0 : errno_of(code);
                return NULL;
            }
        }
        d->have = 0;
        if (wcscmp(d->data.cFileName, L".") == 0 || wcscmp(d->data.cFileName, L"..") == 0)
            continue;
        if (WideCharToMultiByte(CP_UTF8, 0, d->data.cFileName, -1, d->name, sizeof d->name, NULL, NULL) <= 0)
            continue; /* cannot happen with MAX_PATH names; skip rather than fail the listing */
        *err = 0;
        return d->name;
    }
}

void md_dir_close(struct md_dir *d)
{
    if (d != NULL) {
        FindClose(d->find);
        free(d);
    }
}

int md_stat(const char *path, struct md_stat *st)
{
    wchar_t *w = wide(path, L"");
    WIN32_FILE_ATTRIBUTE_DATA a;
    if (w == NULL)
        return EINVAL;
    BOOL ok = GetFileAttributesExW(w, GetFileExInfoStandard, &a);
    free(w);
    if (!ok)
        return errno_of(GetLastError());
    st->is_dir = (a.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0;
    st->size = ((uint64_t)a.nFileSizeHigh << 32) | a.nFileSizeLow;
    int64_t t100 = (int64_t)(((uint64_t)a.ftLastWriteTime.dwHighDateTime << 32) | a.ftLastWriteTime.dwLowDateTime);
    st->mtime_ms = (t100 - 116444736000000000LL) / 10000; /* 1601 -> 1970, 100 ns -> ms */
    return 0;
}

int md_open_at_length(const char *path, uint64_t length, FILE **out)
{
    wchar_t *w = wide(path, L"");
    if (w == NULL)
        return EINVAL;
    /* A new file inherits the ACL of its folder (the user's profile). */
    HANDLE h = CreateFileW(w, GENERIC_WRITE, FILE_SHARE_READ, NULL, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    free(w);
    if (h == INVALID_HANDLE_VALUE)
        return errno_of(GetLastError());
    LARGE_INTEGER at;
    at.QuadPart = (LONGLONG)length;
    if (!SetFilePointerEx(h, at, NULL, FILE_BEGIN) || !SetEndOfFile(h)) {
        int err = errno_of(GetLastError());
        CloseHandle(h);
        return err;
    }
    int fd = _open_osfhandle((intptr_t)h, _O_WRONLY | _O_BINARY);
    if (fd < 0) {
        CloseHandle(h);
        return EMFILE;
    }
    FILE *f = _fdopen(fd, "wb");
    if (f == NULL) {
        int err = errno;
        _close(fd);
        return err;
    }
    *out = f;
    return 0;
}

int md_sync_file(FILE *f)
{
    if (fflush(f) != 0)
        return errno ? errno : EIO;
    HANDLE h = (HANDLE)_get_osfhandle(_fileno(f));
    if (h == INVALID_HANDLE_VALUE || !FlushFileBuffers(h))
        return EIO;
    return 0;
}
