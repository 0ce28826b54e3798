/* core/loader.h — finds, opens and validates plugins.
 *
 * The loader opens only the file it was asked for (outpost-<kind>-<name> plus
 * the OS suffix, searched in a plugin_dir list); outpost_loader_scan is the
 * one function that looks at every plugin file of the directories (for
 * `outpost plugins`). Every refusal is one line naming the file, the plugin
 * and the versions involved.
 *
 * Not thread-safe: load plugins from one thread (start-up, reload).
 */
#ifndef OUTPOST_CORE_LOADER_H
#define OUTPOST_CORE_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include <outpost/abi.h>

typedef struct outpost_loaded_plugin {
    char *path;                        /* the file that was opened */
    const struct outpost_plugin *desc; /* validated descriptor, owned by the plugin */
    const void *methods;               /* desc->methods, at least the kind's 1.0 size */
    void *dl;                          /* platform handle */
    int module_initialised;
} outpost_loaded_plugin;

/* The built-in default plugin directory list: the install directory, plus the
 * build tree's plugin directory when the running program is in the build tree.
 * malloc'd, separated by the platform's list separator. */
char *outpost_loader_default_dirs(void);

/* Searches `dirs` for the plugin file of kind/name. 0 and *path (malloc'd)
 * when found; -1 with "no storage plugin 'x': outpost-storage-x.so not found
 * in DIRS" otherwise. */
int outpost_loader_find(const char *dirs, uint32_t kind, const char *name, char **path, char *err,
                        size_t errlen);

/* Opens `path` and validates it: file and directory permissions (POSIX), the
 * entry symbol, the descriptor's size, kind (when expected_kind != 0), name
 * (when expected_name != NULL), ABI major/minor and the method table's size.
 * 0 and *out on success; -1 and one line in err otherwise. */
int outpost_loader_open(const char *path, uint32_t expected_kind, const char *expected_name,
                        outpost_loaded_plugin **out, char *err, size_t errlen);

/* find + open. */
int outpost_loader_load(const char *dirs, uint32_t kind, const char *name, outpost_loaded_plugin **out,
                        char *err, size_t errlen);

/* Calls the plugin's module_init once (if it has one). */
int outpost_loader_module_init(outpost_loaded_plugin *p, const struct outpost_host *host, char *err,
                               size_t errlen);

/* Calls module_fini if module_init ran, closes the file, frees p. */
void outpost_loader_unload(outpost_loaded_plugin *p);

/* Minimum method table size of a kind at ABI 1.0 (0 for an unknown kind). */
size_t outpost_loader_min_table_size(uint32_t kind);

/* Calls fn for every file named outpost-*-*<suffix> in `dirs`, with the
 * plugin (NULL when refused) and the refusal reason. The plugin is unloaded
 * after fn returns. */
typedef void (*outpost_scan_fn)(void *ctx, const char *path, const outpost_loaded_plugin *p,
                                const char *error);
void outpost_loader_scan(const char *dirs, outpost_scan_fn fn, void *ctx);

#endif
