/* maildir.h — internals shared by the files of the maildir transport.
 *
 * The plugin serves a local Maildir++ tree read-only:
 *   <root>/{cur,new}            INBOX
 *   <root>/.Sub.Folder/{cur,new} folder "Folder" under "Sub"
 * A message's remote id is the unique part of its file name (before ':');
 * flags come from the ":2,<letters>" info suffix.
 */
#ifndef MAILDIR_H
#define MAILDIR_H

#include <stddef.h>
#include <stdint.h>

#include <outpost/abi.h>
#include <outpost/host.h>
#include <outpost/item.h>
#include <outpost/transport.h>

#define MD_NAME_MAX 255          /* longest file name we accept */
#define MD_DEFAULT_PAGE 500      /* items per page when the engine says 0 */
#define MD_MAX_PAGE 10000        /* larger pages are cut to this (memory bound) */
#define MD_CHUNK (64 * 1024)     /* content is streamed in chunks this size */

struct outpost_transport {
    const struct outpost_host *host;
    char *root;                  /* [account] maildir, owned */
    const char *data_dir;        /* the cache's data dir (snapshots), set by open() */
    int opened;
    char *chunk;                 /* MD_CHUNK bytes for streaming content */
    char msg[1024];              /* the message of the last non-OK status */
};

/* Returns status `cls` with a one-line message kept in t->msg. */
outpost_status md_fail(struct outpost_transport *t, int32_t cls, const char *fmt, ...) OUTPOST_PRINTF(3, 4);

/* Flags of a message file name (":2,<letters>" suffix), OUTPOST_FLAG_*. */
uint32_t md_flags_of_name(const char *name);
/* Length of the unique part of a message file name (up to ':'). */
size_t md_unique_len(const char *name);

/* Directory of the folder with remote id `rid` ("INBOX" or ".A.B") in a
 * malloc'ed string, or NULL (the id is not one of ours, or no memory). */
char *md_folder_path(const struct outpost_transport *t, const char *rid);
/* malloc'ed "a/b" (and "a/b/c" when c is not NULL); NULL when out of memory. */
char *md_join(const char *a, const char *b, const char *c);

/* Streams the message file `path` as item(change) + content() chunks +
 * content_end() when `with_content`, else item() only. ENOENT-style absence
 * is reported as OUTPOST_GONE without calling the sink. */
outpost_status md_emit_message(struct outpost_transport *t, const char *dir, const char *name,
                               uint32_t change, int with_content, const struct outpost_sync_sink *sink);

/* sync_folder (maildir_listing.c). */
outpost_status md_sync_folder(struct outpost_transport *t, const outpost_folder *folder, const void *state,
                              size_t len, uint32_t page_size, uint32_t flags,
                              const struct outpost_sync_sink *sink);

#endif /* MAILDIR_H */
