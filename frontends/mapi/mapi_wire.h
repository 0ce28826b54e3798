/* frontends/mapi/mapi_wire.h — the wire protocol between the provider DLL in
 * Outlook and outpost-frontend-mapi in outpostd (PROTOCOL.md describes it):
 * length-prefixed little-endian frames, a hello with version and per-user
 * secret, then requests and replies matched by id, and notifications pushed
 * by the daemon.
 *
 * The writer appends to a mapi_buf; the reader is bounds-checked and sticky:
 * after the first error every read returns zero values and `err` stays set,
 * so a parser checks once at the end. Nothing here does I/O. Decoders bound
 * every count by the bytes left, so a hostile frame cannot make them
 * allocate more than a small multiple of its own size.
 */
#ifndef OUTPOST_MAPI_WIRE_H
#define OUTPOST_MAPI_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "mapi_prop.h"
#include "mapi_restrict.h"

#define MAPI_WIRE_VERSION 1u
#define MAPI_WIRE_MAGIC 0x4F504D31u   /* "OPM1", first field of the hello */
#define MAPI_WIRE_HEADER 12u          /* len(4) op(2) flags(2) id(4) */
#define MAPI_WIRE_MAX_FRAME (16u << 20) /* 16 MiB after the length field */
#define MAPI_WIRE_SECRET_LEN 32u      /* bytes of secret (64 hex digits in mapi.secret) */

/* Frame flags. */
#define MAPI_WF_REPLY 0x0001u
#define MAPI_WF_NOTIFY 0x0002u

/* Operations; PROTOCOL.md gives each one's request and reply. */
enum mapi_op {
    MAPI_OP_HELLO = 1,
    MAPI_OP_PING = 2,
    MAPI_OP_OPEN_ENTRY = 3,
    MAPI_OP_GET_PROPS = 4,
    MAPI_OP_GET_PROP_LIST = 5,
    MAPI_OP_SET_PROPS = 6,
    MAPI_OP_DELETE_PROPS = 7,
    MAPI_OP_READ_PROP = 8,
    MAPI_OP_WRITE_PROP = 9,
    MAPI_OP_SAVE_CHANGES = 10,
    MAPI_OP_RELEASE = 11,
    MAPI_OP_GET_IDS_FROM_NAMES = 12,
    MAPI_OP_GET_NAMES_FROM_IDS = 13,
    MAPI_OP_OPEN_TABLE = 14,
    MAPI_OP_TBL_SET_COLUMNS = 15,
    MAPI_OP_TBL_QUERY_COLUMNS = 16,
    MAPI_OP_TBL_GET_ROW_COUNT = 17,
    MAPI_OP_TBL_QUERY_ROWS = 18,
    MAPI_OP_TBL_SEEK_ROW = 19,
    MAPI_OP_TBL_SEEK_ROW_APPROX = 20,
    MAPI_OP_TBL_QUERY_POSITION = 21,
    MAPI_OP_TBL_CREATE_BOOKMARK = 22,
    MAPI_OP_TBL_FREE_BOOKMARK = 23,
    MAPI_OP_TBL_RESTRICT = 24,
    MAPI_OP_TBL_SORT = 25,
    MAPI_OP_TBL_FIND_ROW = 26,
    MAPI_OP_TBL_ADVISE = 27,
    MAPI_OP_UNADVISE = 28,
    MAPI_OP_CREATE_MESSAGE = 29,
    MAPI_OP_CREATE_FOLDER = 30,
    MAPI_OP_DELETE_FOLDER = 31,
    MAPI_OP_COPY_MESSAGES = 32,
    MAPI_OP_DELETE_MESSAGES = 33,
    MAPI_OP_SET_READ_FLAGS = 34,
    MAPI_OP_EMPTY_FOLDER = 35,
    MAPI_OP_GET_RECEIVE_FOLDER = 36,
    MAPI_OP_MODIFY_RECIPIENTS = 37,
    MAPI_OP_CREATE_ATTACH = 38,
    MAPI_OP_OPEN_ATTACH = 39,
    MAPI_OP_DELETE_ATTACH = 40,
    MAPI_OP_SET_READ_FLAG = 41,
    MAPI_OP_ADVISE = 42,
    MAPI_OP_COPY_FOLDER = 43,
    MAPI_OP_SET_RECEIVE_FOLDER = 44,
    MAPI_OP_GET_MESSAGE_STATUS = 45,
    MAPI_OP_SET_MESSAGE_STATUS = 46,
    MAPI_OP_SET_SEARCH_CRITERIA = 47,
    MAPI_OP_GET_SEARCH_CRITERIA = 48,
    MAPI_OP_NOTIFY = 100,
    MAPI_OP_MAX = 101
};

/* OPEN_TABLE kinds. */
enum mapi_table_kind {
    MAPI_TABLE_HIERARCHY = 1,
    MAPI_TABLE_CONTENTS = 2,
    MAPI_TABLE_RECIPIENTS = 3,
    MAPI_TABLE_ATTACHMENTS = 4,
    MAPI_TABLE_RECEIVE_FOLDERS = 5 /* of the store: GetReceiveFolderTable */
};

/* Notification kinds (first u32 of a NOTIFY payload after the connection). */
enum mapi_notify_kind {
    MAPI_NOTIFY_TABLE = 1,  /* u32 event, bin instance key, bin prior key, row */
    MAPI_NOTIFY_OBJECT = 2  /* u32 fnev, bin entry id, bin parent entry id, u32 object type */
};

/* A named property (MAPINAMEID): GUID and either a LID or a UTF-8 name. */
#define MAPI_MNID_ID 0u
#define MAPI_MNID_STRING 1u
typedef struct mapi_name {
    uint8_t guid[16];
    uint32_t kind;    /* MAPI_MNID_ID / MAPI_MNID_STRING */
    uint32_t lid;
    char *name;       /* MNID_STRING, UTF-8, owned */
} mapi_name;

/* ---- writer ---- */
void mapi_w_u8(mapi_buf *b, uint8_t v);
void mapi_w_u16(mapi_buf *b, uint16_t v);
void mapi_w_u32(mapi_buf *b, uint32_t v);
void mapi_w_u64(mapi_buf *b, uint64_t v);
void mapi_w_bin(mapi_buf *b, const void *p, uint32_t len);  /* u32 len + bytes */
void mapi_w_str(mapi_buf *b, const char *s);                /* as bin, NULL as empty */
void mapi_w_prop(mapi_buf *b, const mapi_prop *p);
void mapi_w_props(mapi_buf *b, const mapi_props *l);        /* u32 n + props */
void mapi_w_tags(mapi_buf *b, const uint32_t *tags, uint32_t n);
void mapi_w_res(mapi_buf *b, const mapi_res *r);
void mapi_w_sort(mapi_buf *b, const mapi_sort *s);
void mapi_w_name(mapi_buf *b, const mapi_name *n);
/* Starts a frame (length patched by mapi_w_end); returns its offset in b. */
size_t mapi_w_begin(mapi_buf *b, uint16_t op, uint16_t flags, uint32_t id);
void mapi_w_end(mapi_buf *b, size_t start);

/* ---- reader ---- */
typedef struct mapi_rd {
    const uint8_t *p;
    size_t left;
    int err;
} mapi_rd;

void mapi_rd_init(mapi_rd *r, const void *p, size_t len);
uint8_t mapi_r_u8(mapi_rd *r);
uint16_t mapi_r_u16(mapi_rd *r);
uint32_t mapi_r_u32(mapi_rd *r);
uint64_t mapi_r_u64(mapi_rd *r);
/* Points into the frame (no copy); len 0 and NULL on error. */
const uint8_t *mapi_r_bin(mapi_rd *r, uint32_t *len);
/* malloc'd NUL-terminated copy; NULL on error (err set). Rejects embedded NULs. */
char *mapi_r_str(mapi_rd *r);
int mapi_r_prop(mapi_rd *r, mapi_prop *p);     /* 0 or -1 (p cleared) */
int mapi_r_props(mapi_rd *r, mapi_props *l);   /* appends */
/* malloc'd array of *n tags (NULL when n is 0). */
uint32_t *mapi_r_tags(mapi_rd *r, uint32_t *n);
/* A new tree, or NULL with err set. */
mapi_res *mapi_r_res(mapi_rd *r);
int mapi_r_sort(mapi_rd *r, mapi_sort *s);
int mapi_r_name(mapi_rd *r, mapi_name *n);
void mapi_name_clear(mapi_name *n);

/* Frame header of a complete frame in buf (len >= MAPI_WIRE_HEADER). */
typedef struct mapi_frame {
    uint32_t len;   /* bytes after the length field */
    uint16_t op;
    uint16_t flags;
    uint32_t id;
    const uint8_t *payload;
    size_t payload_len;
} mapi_frame;

/* Parses a frame at the start of buf: 1 when complete (*f set, *used its
 * total size), 0 when more bytes are needed, -1 when invalid (too large or
 * too short). */
int mapi_frame_parse(const uint8_t *buf, size_t len, mapi_frame *f, size_t *used);

/* A byte string inside a frame (no copy). */
typedef struct mapi_span {
    const uint8_t *p;
    uint32_t len;
} mapi_span;

/* A decoded request. Which fields an op fills is listed in PROTOCOL.md;
 * spans point into the frame, everything else is owned (mapi_req_clear). */
typedef struct mapi_req {
    uint16_t op;
    uint32_t h;          /* object or table handle */
    uint32_t flags;
    uint32_t a, b;       /* op-specific integers */
    int32_t count;
    uint64_t offset;
    mapi_span bin, bin2; /* entry ids, secret, data */
    char *str, *str2;
    uint32_t *tags;
    uint32_t ntags;
    mapi_props props;
    mapi_props *rows;
    uint32_t nrows;
    mapi_res *res;       /* NULL: no restriction */
    mapi_sort sort;
    mapi_name *names;
    uint32_t nnames;
    mapi_span *eids;
    uint32_t neids;
} mapi_req;

/* Decodes a request payload of `op` (the daemon's one parser; the fuzz
 * target runs frames through it): 0 when well-formed and complete, -1
 * otherwise (req cleared). */
int mapi_req_decode(uint16_t op, const uint8_t *payload, size_t len, mapi_req *req);
void mapi_req_clear(mapi_req *req);

#endif
