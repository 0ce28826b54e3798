/* core/host.h — builds the host table (outpost/host.h) handed to a plugin.
 *
 * One table per plugin instance: it names the plugin in log lines and reads
 * the plugin's config section. The table is owned by the core and freed with
 * outpost_core_host_free after the instance is destroyed.
 */
#ifndef OUTPOST_CORE_HOST_H
#define OUTPOST_CORE_HOST_H

#include <outpost/host.h>

struct outpost_config;

/* `cfg` must outlive the host. `component` names the plugin in logs,
 * `section` is the config section it reads, `data_dir` the cache directory. */
struct outpost_host *outpost_core_host_new(const struct outpost_config *cfg, const char *section,
                                           const char *component, const char *data_dir);
void outpost_core_host_free(struct outpost_host *h);

/* Asks every long operation of plugins using this host to stop. */
void outpost_core_host_cancel(struct outpost_host *h, int cancelled);

/* Points the host at a reloaded config (call only while no plugin call runs
 * on this host). */
void outpost_core_host_set_config(struct outpost_host *h, const struct outpost_config *cfg);

/* Sets the store API handed to front-ends (NULL for others). */
void outpost_core_host_set_store(struct outpost_host *h, const struct outpost_store_api *store);

/* The core object behind h->store (the store API functions receive only the
 * host and find their store here); NULL until set. */
void outpost_core_host_set_store_ctx(struct outpost_host *h, void *ctx);
void *outpost_core_host_store_ctx(const struct outpost_host *h);

/* Resolves a secret from `<prefix>_file` or `<prefix>_cmd` of a section
 * (shared by host->secret and the core itself). */
outpost_status outpost_core_secret(const struct outpost_config *cfg, const char *section, const char *prefix,
                                   char **out, char *msg, size_t msglen);

#endif
