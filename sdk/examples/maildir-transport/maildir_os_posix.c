/* maildir_os_posix.c — maildir_os.h on POSIX systems (opendir, stat, fsync). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "maildir_os.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct md_dir {
    DIR *dir;
};

int md_dir_open(const char *path, struct md_dir **out)
{
    struct md_dir *d = malloc(sizeof *d);
    if (d == NULL)
        return ENOMEM;
    d->dir = opendir(path);
    if (d->dir == NULL) {
        int err = errno;
        free(d);
        return err;
    }
    *out = d;
    return 0;
}

const char *md_dir_next(struct md_dir *d, int *err)
{
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d->dir);
        if (e == NULL) {
            *err = errno;
            return NULL;
        }
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            *err = 0;
            return e->d_name;
        }
    }
}

void md_dir_close(struct md_dir *d)
{
    if (d != NULL) {
        closedir(d->dir);
        free(d);
    }
}

int md_stat(const char *path, struct md_stat *st)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return errno;
    st->is_dir = S_ISDIR(sb.st_mode);
    st->size = (uint64_t)sb.st_size;
    st->mtime_ms = (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
    return 0;
}

int md_open_at_length(const char *path, uint64_t length, FILE **out)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno;
    if (ftruncate(fd, (off_t)length) != 0 || lseek(fd, 0, SEEK_END) < 0) {
        int err = errno;
        close(fd);
        return err;
    }
    FILE *f = fdopen(fd, "wb");
    if (f == NULL) {
        int err = errno;
        close(fd);
        return err;
    }
    *out = f;
    return 0;
}

int md_sync_file(FILE *f)
{
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        return errno ? errno : EIO;
    return 0;
}
