/* core/app.h — what every command needs: the config, the data directory,
 * the plugin directories, logging, and opening the storage plugin.
 */
#ifndef OUTPOST_CORE_APP_H
#define OUTPOST_CORE_APP_H

#include <stddef.h>

#include <outpost/storage.h>

#include "loader.h"

struct outpost_config;

struct outpost_app {
    struct outpost_config *cfg;
    char *config_path;   /* the file read (or to be written by init) */
    char *data_dir;      /* resolved [core] data_dir or $XDG_DATA_HOME/outpost */
    char *plugin_dirs;   /* resolved [core] plugin_dir or the defaults */
};

/* Default config path: $XDG_CONFIG_HOME/outpost/outpost.ini (malloc'd). */
char *outpost_default_config_path(void);

/* Loads the config (`path` NULL: the default path), declares the core's keys,
 * sets the log level and resolves directories. missing_ok: an absent file
 * gives an empty config. 0 or -1 with err. */
int outpost_app_load(struct outpost_app *a, const char *path, int missing_ok, char *err, size_t errlen);
void outpost_app_free(struct outpost_app *a);

/* Re-resolves data_dir and plugin_dirs after config changes. */
int outpost_app_resolve(struct outpost_app *a, char *err, size_t errlen);

/* An open storage instance with everything needed to close it again. */
struct outpost_open_storage {
    outpost_loaded_plugin *plugin;
    const struct outpost_storage_methods *m;
    struct outpost_host *host;
    struct outpost_storage *s;
    int opened;
};

/* Loads [storage] plugin, declares its keys, checks the cache directory
 * (network file systems refused unless allow_network_fs) and opens the cache.
 * 0 or -1 with err. */
int outpost_app_open_storage(struct outpost_app *a, struct outpost_open_storage *out, char *err, size_t errlen);
void outpost_app_close_storage(struct outpost_open_storage *o);

/* When a file cannot be made in the cache directory, rewrites err (a storage
 * engine's words, e.g. "readonly database") to say that first. */
void outpost_app_explain_unwritable(const struct outpost_app *a, char *err, size_t errlen);

#endif
