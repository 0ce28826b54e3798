/* outpost/item.h — the item model shared by every plugin.
 *
 * A cache holds folders; a folder holds items of one kind. Content is kept in
 * the standard format of its kind:
 *   mail     RFC 5322 MIME
 *   event    iCalendar (RFC 5545) VCALENDAR with one VEVENT master and its
 *            RECURRENCE-ID overrides
 *   task     iCalendar VTODO
 *   contact  vCard 3.0 (RFC 2426)
 *   note     iCalendar VJOURNAL
 *
 * These structs are plain data passed by pointer. Unless a function says
 * otherwise the caller owns a struct it passes in, and a struct a plugin hands
 * out (through a cursor or a callback) is owned by the plugin and valid until
 * the next call on the same cursor/instance: copy what you keep.
 *
 * Each struct starts with struct_size so it can grow at the end; readers check
 * the size before reading a member added after 1.0 (OUTPOST_HAS_FIELD).
 */
#ifndef OUTPOST_ITEM_H
#define OUTPOST_ITEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* True when struct `s` (which starts with struct_size) contains member `m`. */
#define OUTPOST_HAS_FIELD(s, type, m) \
    ((s)->struct_size >= offsetof(type, m) + sizeof(((type *)0)->m))

typedef enum outpost_item_kind {
    OUTPOST_ITEM_MAIL = 1,
    OUTPOST_ITEM_EVENT = 2,
    OUTPOST_ITEM_CONTACT = 3,
    OUTPOST_ITEM_TASK = 4,
    OUTPOST_ITEM_NOTE = 5
} outpost_item_kind;

/* A folder's kind is the kind of item it holds (same values). */
typedef outpost_item_kind outpost_folder_kind;

typedef enum outpost_special_use {
    OUTPOST_USE_NONE = 0,
    OUTPOST_USE_INBOX = 1,
    OUTPOST_USE_SENT = 2,
    OUTPOST_USE_DRAFTS = 3,
    OUTPOST_USE_TRASH = 4,
    OUTPOST_USE_JUNK = 5,
    OUTPOST_USE_ARCHIVE = 6,
    OUTPOST_USE_CONFLICTS = 7, /* the local-only Conflicts folder */
    OUTPOST_USE_OUTBOX = 8
} outpost_special_use;

/* Item flags. Kept locally even where the server cannot store them. */
enum {
    OUTPOST_FLAG_SEEN = 1u << 0,
    OUTPOST_FLAG_ANSWERED = 1u << 1,
    OUTPOST_FLAG_FLAGGED = 1u << 2,
    OUTPOST_FLAG_DELETED = 1u << 3,
    OUTPOST_FLAG_DRAFT = 1u << 4,
    OUTPOST_FLAG_FORWARDED = 1u << 5,
    OUTPOST_FLAG_JUNK = 1u << 6,
    OUTPOST_FLAG_NOTJUNK = 1u << 7
};

/* Folder flags. */
enum {
    OUTPOST_FOLDER_SUBSCRIBED = 1u << 0,
    OUTPOST_FOLDER_LOCAL_ONLY = 1u << 1, /* never synced (e.g. Conflicts) */
    OUTPOST_FOLDER_NOSELECT = 1u << 2    /* a container that holds no items */
};

/* How much of an item is in the cache. */
typedef enum outpost_content_state {
    OUTPOST_CONTENT_NONE = 0,     /* listing only: remote id and flags */
    OUTPOST_CONTENT_SUMMARY = 1,  /* summary exact (size, envelope, structure), body not cached; the
                                   * cache may hold a prefix (cached_size bytes: for mail, the header
                                   * block up to and including its empty line) */
    OUTPOST_CONTENT_COMPLETE = 2  /* the whole content is cached */
} outpost_content_state;

/* A folder. Strings are UTF-8. `id` and the UID fields are assigned by the
 * storage; a transport fills only remote_id, parent_remote_id, name, kind,
 * special_use and flags. */
typedef struct outpost_folder {
    uint32_t struct_size;
    uint32_t kind;               /* outpost_folder_kind */
    int64_t id;                  /* local id, > 0; 0 when not yet stored */
    int64_t parent_id;           /* local id of the parent, 0 for top level */
    const char *remote_id;       /* NULL for local-only folders */
    const char *parent_remote_id;/* transport side: parent's remote id, NULL for top level */
    const char *name;            /* display name (one path component, no separator) */
    uint32_t special_use;        /* outpost_special_use */
    uint32_t flags;              /* OUTPOST_FOLDER_* */
    uint32_t uidvalidity;        /* storage-assigned, never changes for this folder */
    uint32_t uidnext;            /* next UID to assign; only grows */
    uint64_t highest_modseq;     /* only grows */
    uint32_t total;              /* counters kept exact by the storage */
    uint32_t unread;
    uint32_t flagged;
    uint32_t reserved0;
    const void *sync_state;      /* opaque transport state, NULL when none */
    size_t sync_state_len;
} outpost_folder;

/* An item's metadata and summary. `id`, `uid`, `modseq` are storage-assigned.
 * Summary strings are computed by the core at ingest and never change once
 * served: `envelope` and `bodystructure` are IMAP (RFC 3501) syntax. */
typedef struct outpost_item {
    uint32_t struct_size;
    uint32_t kind;               /* outpost_item_kind */
    int64_t id;                  /* local id, > 0 */
    int64_t folder_id;           /* local folder id */
    const char *remote_id;       /* NULL until the server knows the item */
    const char *remote_version;  /* change key / watermark, NULL if unknown */
    uint32_t uid;                /* per-folder IMAP UID, never reused */
    uint32_t flags;              /* OUTPOST_FLAG_* */
    uint64_t modseq;             /* per-folder MODSEQ of the last change */
    const char *keywords;        /* space-separated IMAP keywords, NULL if none */
    int64_t internal_date;       /* received time, ms since the Unix epoch, UTC */
    int64_t date;                /* Date: header / start / modified, ms since epoch */
    uint64_t size;               /* exact size of the full content in bytes */
    uint32_t content_state;      /* outpost_content_state */
    uint32_t reserved0;
    uint64_t cached_size;        /* bytes of content currently in the cache */
    const char *subject;         /* UTF-8, decoded; summary for events/tasks/notes; name for contacts */
    const char *from;            /* display form "Name <addr>", comma separated lists */
    const char *to;
    const char *cc;
    const char *message_id;      /* Message-ID (mail) for duplicate detection */
    const char *object_uid;      /* iCalendar UID / vCard UID for other kinds */
    const char *envelope;        /* IMAP ENVELOPE, mail only */
    const char *bodystructure;   /* IMAP BODYSTRUCTURE, mail only */
    const char *preview;         /* first lines of plain text, may be NULL */
} outpost_item;

#ifdef __cplusplus
}
#endif
#endif /* OUTPOST_ITEM_H */
