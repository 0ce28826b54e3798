/* maildir_os.h — the few OS calls the maildir transport needs.
 *
 * Everything that is not standard C lives behind this header, implemented
 * once per OS (maildir_os_posix.c, maildir_os_win32.c).
 * Functions return 0 on success or an errno value; none of them logs.
 */
#ifndef MAILDIR_OS_H
#define MAILDIR_OS_H

#include <stdint.h>
#include <stdio.h>

/* A directory being listed. */
struct md_dir;

/* Opens `path` for listing. */
int md_dir_open(const char *path, struct md_dir **out);
/* Next entry name (never "." or ".."), valid until the next call; NULL at the
 * end or on error, in which case *err is set (0 at a clean end). */
const char *md_dir_next(struct md_dir *d, int *err);
void md_dir_close(struct md_dir *d);

/* What md_stat reports about a path. */
struct md_stat {
    int is_dir;
    uint64_t size;
    int64_t mtime_ms; /* ms since the Unix epoch */
};
int md_stat(const char *path, struct md_stat *st);

/* Opens `path` for writing (created with owner-only permissions when
 * missing), cuts it to `length` bytes and positions at its end. Used to
 * resume a snapshot file at the length the last committed state recorded. */
int md_open_at_length(const char *path, uint64_t length, FILE **out);
/* Flushes `f` and makes its contents durable. */
int md_sync_file(FILE *f);

#endif /* MAILDIR_OS_H */
