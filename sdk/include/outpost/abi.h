/* outpost/abi.h — versions, status classes and the plugin descriptor.
 *
 * This header is the contract between the Outpost core and every plugin
 * (storage, transport, front-end). It is C11, has no dependencies beyond the
 * C library, and is stable: ABI 1.x only ever appends.
 *
 * VERSIONING (as SQLite's iVersion):
 *  - A plugin is loadable when its abi_major equals OUTPOST_ABI_MAJOR of the
 *    core and its abi_minor is not greater than the core's.
 *  - Every method table starts with a uint32_t struct_size. Tables only grow at
 *    the end. The methods present at x.0 are required (a table smaller than
 *    the kind's x.0 size is refused at load); a method appended later is
 *    optional: the caller checks OUTPOST_HAS_METHOD() before calling it.
 *  - The core refuses a mismatch with one line naming the file, the plugin,
 *    its ABI and the core's ABI.
 *  - History: 1.1 appended the store API's set_flags_unchanged (frontend.h);
 *    1.2 the store API's replace (frontend.h) and the transport's sync_next
 *    (transport.h).
 *
 * OWNERSHIP: memory belongs to the caller unless the header says otherwise.
 * Exceptions are named where they occur (typically "owned by the instance,
 * valid until its next call" for strings a plugin returns).
 *
 * THREADING: an instance is called by one thread at a time unless its
 * capability flags say otherwise. Callbacks run on the calling thread and must
 * not call back into the instance that invoked them.
 */
#ifndef OUTPOST_ABI_H
#define OUTPOST_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OUTPOST_ABI_MAJOR 1
#define OUTPOST_ABI_MINOR 2

/* Symbol visibility for the one symbol a plugin exports. */
#if defined(_WIN32) || defined(__CYGWIN__)
#define OUTPOST_EXPORT __declspec(dllexport)
#elif defined(__GNUC__)
#define OUTPOST_EXPORT __attribute__((visibility("default")))
#else
#define OUTPOST_EXPORT
#endif

/* The name of the entry symbol every plugin exports, and its string form as
 * the loader looks it up. */
#define OUTPOST_PLUGIN_ENTRY outpost_plugin_entry
#define OUTPOST_PLUGIN_ENTRY_NAME "outpost_plugin_entry"

/* ---- Status ----------------------------------------------------------- */

/* Status classes: what the caller does next, not what went wrong in detail
 * (as isync's FAIL_TEMP / FAIL_WAIT / FAIL_FINAL). Values are stable. */
typedef enum outpost_status_class {
    OUTPOST_OK = 0,            /* success */
    OUTPOST_TEMP = 1,          /* transient (network, 5xx, lock): retry with backoff */
    OUTPOST_THROTTLED = 2,     /* server asked us to wait: retry after retry_after_ms */
    OUTPOST_AUTH = 3,          /* credentials refused: stop syncing until reconfigured */
    OUTPOST_CONFLICT = 4,      /* the server's version changed under a local edit */
    OUTPOST_GONE = 5,          /* the object no longer exists (remotely or locally) */
    OUTPOST_STATE_INVALID = 6, /* sync state rejected: resync that folder */
    OUTPOST_BAD_DATA = 7,      /* input or reply malformed / rejected as invalid */
    OUTPOST_FATAL = 8          /* unrecoverable for this instance (disk full, corrupt) */
} outpost_status_class;

#define OUTPOST_STATUS_CLASS_COUNT 9

/* Every method returns an outpost_status by value. `message` is NULL on OK;
 * otherwise a one-line, human-readable reason that never contains a secret.
 * The message is owned by the instance that returned it and stays valid until
 * the next call on that instance (or its destruction); copy it to keep it. */
typedef struct outpost_status {
    int32_t code;             /* an outpost_status_class */
    uint32_t retry_after_ms;  /* THROTTLED (and optionally TEMP): server's delay */
    const char *message;
} outpost_status;

/* Per-item result of a batch call (Kerio's errors[].inputIndex, EWS's
 * per-item response messages). `index` is the position in the input array. */
typedef struct outpost_item_status {
    uint32_t index;
    outpost_status status;
} outpost_item_status;

static inline outpost_status outpost_ok(void)
{
    outpost_status s = { OUTPOST_OK, 0, NULL };
    return s;
}

/* Stable lower-case names for logs and JSON ("ok", "temp", ...). */
static inline const char *outpost_status_class_name(int32_t code)
{
    static const char *const names[OUTPOST_STATUS_CLASS_COUNT] = {
        "ok", "temp", "throttled", "auth", "conflict",
        "gone", "state_invalid", "bad_data", "fatal"
    };
    return (code >= 0 && code < OUTPOST_STATUS_CLASS_COUNT) ? names[code] : "unknown";
}

/* ---- Plugin descriptor ------------------------------------------------- */

typedef enum outpost_plugin_kind {
    OUTPOST_KIND_STORAGE = 1,
    OUTPOST_KIND_TRANSPORT = 2,
    OUTPOST_KIND_FRONTEND = 3
} outpost_plugin_kind;

static inline const char *outpost_kind_name(uint32_t kind)
{
    switch (kind) {
    case OUTPOST_KIND_STORAGE: return "storage";
    case OUTPOST_KIND_TRANSPORT: return "transport";
    case OUTPOST_KIND_FRONTEND: return "frontend";
    default: return "unknown";
    }
}

struct outpost_host;

/* A configuration key a plugin (or the core) declares. The core warns about
 * keys nobody declared (with file:line) and reports a missing required key
 * or a value of the wrong type as an error naming section, key and what is
 * expected. Arrays of keys end with an entry whose name is NULL. */
typedef enum outpost_config_type {
    OUTPOST_CFG_STRING = 0,
    OUTPOST_CFG_INT = 1,       /* decimal integer, optionally with a unit suffix for durations */
    OUTPOST_CFG_BOOL = 2,      /* true/false/yes/no/on/off/1/0 */
    OUTPOST_CFG_PATH = 3,      /* a file system path; ~ is expanded */
    OUTPOST_CFG_SECRET_FILE = 4, /* path to a file holding a secret: refused if group/other bits set */
    OUTPOST_CFG_COMMAND = 5,   /* a shell command whose stdout is the value */
    OUTPOST_CFG_ENUM = 6       /* one of the '|'-separated words in `choices` */
} outpost_config_type;

typedef struct outpost_config_key {
    const char *name;          /* key name, e.g. "url" */
    uint32_t type;             /* outpost_config_type */
    uint32_t required;         /* non-zero: error when absent */
    const char *def;           /* default value as text, or NULL */
    const char *choices;       /* OUTPOST_CFG_ENUM: "a|b|c"; else NULL */
    const char *help;          /* one line for the sample config and the man page */
} outpost_config_key;

/* The descriptor a plugin's entry symbol returns. It is static data owned by
 * the plugin and stays valid until the plugin is unloaded.
 *
 * struct_size  sizeof(struct outpost_plugin) as compiled by the plugin.
 * abi_major    must equal the core's OUTPOST_ABI_MAJOR.
 * abi_minor    must not be greater than the core's OUTPOST_ABI_MINOR.
 * kind         outpost_plugin_kind.
 * name         short identifier, matching the file name outpost-<kind>-<name>.
 * version      the plugin's own version string.
 * description  one line for `outpost plugins`.
 * caps         capability flags of the kind (OUTPOST_STORAGE_CAP_*, ...).
 * section      the config section the plugin reads ("storage", "account",
 *              "imap", ...).
 * config_keys  keys the plugin reads from its section, NULL-terminated array
 *              (may be NULL when it reads none).
 * module_init  optional (may be NULL): process-wide set-up, called once before
 *              the first instance is created (curl_global_init, GMime, libxml2,
 *              Firebird's lock dir). Returns OK or a status saying why not.
 * module_fini  optional: called once after the last instance is destroyed and
 *              before the plugin is unloaded.
 * methods      the kind's method table (struct outpost_storage_methods, ...);
 *              it starts with its own uint32_t struct_size. */
struct outpost_plugin {
    uint32_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;
    uint32_t kind;
    uint32_t reserved0;
    const char *name;
    const char *version;
    const char *description;
    uint64_t caps;
    const char *section;
    const outpost_config_key *config_keys;
    outpost_status (*module_init)(const struct outpost_host *host);
    void (*module_fini)(void);
    const void *methods;
};

/* Every plugin exports exactly this function (and no other symbol is needed). */
typedef const struct outpost_plugin *(*outpost_plugin_entry_fn)(void);

/* True when a table of size `tbl->struct_size` contains member `m`. Use before
 * calling any method appended after x.0. */
#define OUTPOST_HAS_METHOD(tbl, type, m) \
    ((tbl) != NULL && (tbl)->struct_size >= offsetof(type, m) + sizeof(((type *)0)->m) && (tbl)->m != NULL)

#ifdef __cplusplus
}
#endif
#endif /* OUTPOST_ABI_H */
