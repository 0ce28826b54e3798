/* outpost/host.h — what the core offers every plugin.
 *
 * The core hands each plugin instance a `const struct outpost_host *` at
 * create(). It stays valid until the instance is destroyed. Plugins never
 * link against the core; everything they need from it is in this table.
 *
 * THREADING: every host function may be called from any thread, concurrently,
 * except where noted.
 *
 * OWNERSHIP: strings returned by config_get / data_dir are owned by the core
 * and valid for the lifetime of the host table (a SIGHUP reload hands a new
 * table to a new instance; it never changes strings under a running one).
 * Memory from alloc/realloc is released with host->free.
 */
#ifndef OUTPOST_HOST_H
#define OUTPOST_HOST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "abi.h"

#ifdef __cplusplus
extern "C" {
#endif

struct outpost_store_api; /* frontend.h */

/* Log levels (syslog numbering; the core prefixes <N> for journald). */
typedef enum outpost_log_level {
    OUTPOST_LOG_ERROR = 3,
    OUTPOST_LOG_WARNING = 4,
    OUTPOST_LOG_NOTICE = 5,
    OUTPOST_LOG_INFO = 6,
    OUTPOST_LOG_DEBUG = 7
} outpost_log_level;

#if defined(__GNUC__)
#define OUTPOST_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define OUTPOST_PRINTF(a, b)
#endif

struct outpost_host {
    uint32_t struct_size;
    uint16_t abi_major;          /* the core's ABI */
    uint16_t abi_minor;
    void *core;                  /* opaque; for the core's use only */

    /* One log line, attributed to this plugin. Never log secrets. */
    void (*log)(const struct outpost_host *h, int level, const char *fmt, ...) OUTPOST_PRINTF(3, 4);
    void (*vlog)(const struct outpost_host *h, int level, const char *fmt, va_list ap);

    /* Value of `key` in the plugin's own section (as declared in its
     * config_keys, default applied), or NULL when absent. */
    const char *(*config_get)(const struct outpost_host *h, const char *key);
    /* Value of `key` in any section (read-only view of the whole config). */
    const char *(*config_get_in)(const struct outpost_host *h, const char *section, const char *key);
    /* Typed helpers: the value parsed, or `def` when absent. The core has
     * already validated declared keys, so these do not fail. */
    int64_t (*config_int)(const struct outpost_host *h, const char *key, int64_t def);
    int (*config_bool)(const struct outpost_host *h, const char *key, int def);
    /* Resolves a secret for the plugin's section: the contents of the file
     * named by `<prefix>_file` (refused when group/other bits are set) or the
     * first line printed by `<prefix>_cmd`, e.g. prefix "password". On OK,
     * *out is a NUL-terminated string the caller frees with host->free.
     * Returns OUTPOST_AUTH with a message naming the key when unavailable. */
    outpost_status (*secret)(const struct outpost_host *h, const char *prefix, char **out);

    /* The cache's data directory (exists, owned by the user). */
    const char *(*data_dir)(const struct outpost_host *h);

    /* Wall clock in ms since the Unix epoch, and a monotonic clock in ms. */
    int64_t (*now_ms)(const struct outpost_host *h);
    int64_t (*monotonic_ms)(const struct outpost_host *h);

    /* The allocator for memory that crosses the ABI. */
    void *(*alloc)(size_t n);
    void *(*realloc)(void *p, size_t n);
    void (*free)(void *p);

    /* Non-zero once the core asks long operations to stop (shutdown, reload).
     * Long loops in plugins poll it and return OUTPOST_TEMP "cancelled". */
    int (*cancelled)(const struct outpost_host *h);

    /* Front-ends only: the journaled store API (frontend.h). NULL for other kinds. */
    const struct outpost_store_api *store;
};

#ifdef __cplusplus
}
#endif
#endif /* OUTPOST_HOST_H */
