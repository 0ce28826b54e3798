/* test_host.h — a minimal host table and storage plugin loader for the
 * storage tests and benchmark, until the core's loader and host are on main.
 *
 * The host logs to stderr, reads config from a small key=value list, uses
 * malloc, and keeps its data directory as given. Plugins are loaded with the
 * core's loader (core/loader.h) from $OUTPOST_PLUGIN_DIR (default: the build
 * tree's plugin directory), module_init/module_fini included.
 */
#ifndef OUTPOST_TEST_HOST_H
#define OUTPOST_TEST_HOST_H

#include <outpost/host.h>
#include <outpost/storage.h>

struct test_host;

/* config: "key=value" strings ending with NULL (may be NULL). */
struct test_host *test_host_new(const char *data_dir, const char *const *config);
const struct outpost_host *test_host_table(struct test_host *th);
/* Sets (value NULL: removes) a config key for instances created afterwards. */
void test_host_set(struct test_host *th, const char *key, const char *value);
void test_host_free(struct test_host *th);

struct test_storage_plugin {
    void *handle; /* outpost_loaded_plugin * */
    const struct outpost_plugin *plugin;
    const struct outpost_storage_methods *m;
    char path[4096];
};

/* name: a plugin name ("sqlite") or a path to the .so. 0 on success, else -1
 * after printing why to stderr. */
int test_storage_load(const char *name, struct test_storage_plugin *p);
void test_storage_unload(struct test_storage_plugin *p);

/* A fresh directory under $TMPDIR (or /tmp), malloc'd path; NULL on error. */
char *test_mkdtemp(const char *tag);
/* Removes a directory tree (best effort). */
void test_rmtree(const char *dir);

#endif /* OUTPOST_TEST_HOST_H */
