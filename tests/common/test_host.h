/* test_host.h — the core's real host table (core/host.h) for driving a plugin from tests.
 *
 * test_host_new builds a config (core/config.h, the core's keys declared) and calls
 * outpost_core_host_new on it, so config_get/int/bool, secret() (password_file,
 * password_cmd), data_dir and cancelled behave exactly as in production. Two test-only
 * additions: every log line is also kept in memory for assertions (a password must never
 * reach one), and secret() calls are counted (a plugin must re-read a refused secret).
 * Warnings and errors also reach stderr through the core's log, every line when
 * OUTPOST_TEST_VERBOSE is set.
 *
 * Also here: loading a plugin with the core's loader, and scratch directories.
 * test_host_set and test_host_free must not run while a plugin call is running. */
#ifndef OUTPOST_TEST_HOST_H
#define OUTPOST_TEST_HOST_H

#include <stdint.h>

#include <outpost/host.h>
#include <outpost/storage.h>

struct test_host;

/* A host reading [section] (e.g. "account", "storage") with data_dir (NULL: "."). config:
 * "key=value" strings of that section ending with NULL (may be NULL). NULL on failure. */
struct test_host *test_host_new(const char *section, const char *data_dir, const char *const *config);
/* The table to hand to the plugin; valid until test_host_free. */
const struct outpost_host *test_host_table(struct test_host *th);
/* Sets (value NULL: removes) a key of the host's section, seen by config_get from now on.
 * Strings the host handed out before stay valid until test_host_free. */
void test_host_set(struct test_host *th, const char *key, const char *value);
/* Writes value to a private (0600) file in data_dir and points <prefix>_file at it, so that
 * secret(prefix) reads it as production does; value NULL removes <prefix>_file. */
void test_host_set_secret(struct test_host *th, const char *prefix, const char *value);
/* Asks long plugin operations to stop (any thread). */
void test_host_cancel(struct test_host *th, int cancelled);
/* Non-zero when any line logged so far contains s. */
int test_host_logged(const struct test_host *th, const char *s);
/* How often the plugin called secret(); test_host_reset_secret_calls starts over. */
int test_host_secret_calls(const struct test_host *th);
void test_host_reset_secret_calls(struct test_host *th);
void test_host_free(struct test_host *th);

/* name: a plugin name searched in $OUTPOST_PLUGIN_DIR (default: the build tree's plugin
 * directory) or a path to the file; opened and validated by the core's loader
 * (core/loader.h) and module_init called with host (may be NULL). NULL after printing why
 * to stderr. Unload with outpost_loader_unload. */
struct outpost_loaded_plugin *test_plugin_load(const char *name, uint32_t kind, const struct outpost_host *host);

/* A storage plugin loaded by test_plugin_load, with its method table at hand. */
struct test_storage_plugin {
    void *handle; /* outpost_loaded_plugin * */
    const struct outpost_plugin *plugin;
    const struct outpost_storage_methods *m;
    char path[4096];
};
/* 0 on success, else -1 after printing why to stderr. */
int test_storage_load(const char *name, struct test_storage_plugin *p);
void test_storage_unload(struct test_storage_plugin *p);

/* A fresh directory under $TMPDIR (or /tmp), malloc'd path; NULL on error. */
char *test_mkdtemp(const char *tag);
/* Removes a directory tree (best effort). */
void test_rmtree(const char *dir);

#endif /* OUTPOST_TEST_HOST_H */
