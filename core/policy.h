/* core/policy.h — per-folder cache policy, KOFF style.
 *
 * A folder's policy is `full` (whole items are cached) or `headers` (listing
 * and summaries; bodies are fetched when a client opens them), optionally
 * with an age limit past which items keep only their summary. It is set per
 * folder name in the config's [policy] section (`Inbox = full`,
 * `Archive = headers, 365d`), or written there by `outpost policy FOLDER
 * MODE`. Without an entry, KOFF's defaults apply: Inbox, Drafts and Sent
 * full, other mail folders headers, calendar/contacts/tasks/notes full.
 * Changing a policy never drops what is cached: `headers` stops prefetching
 * bodies, `full` makes the fetch worker download the missing ones.
 *
 * Threading: the functions keep no state; the config passed in must not be
 * freed during the call.
 */
#ifndef OUTPOST_CORE_POLICY_H
#define OUTPOST_CORE_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <outpost/item.h>
#include <outpost/storage.h>

struct outpost_config;

/* Parses a [policy] value: "full" or "headers", optionally ", AGE" (e.g.
 * "headers, 365d"; units as in outpost.ini). 0 on success, -1 if malformed. */
int outpost_policy_parse(const char *v, int *headers, int64_t *max_age_s);

/* The policy that applies to folder `f` under `cfg` (which may be NULL: the
 * defaults). *from_config (may be NULL) says whether [policy] named it. A
 * malformed value in the config counts as absent (validation reports it). */
void outpost_policy_effective(const struct outpost_config *cfg, const outpost_folder *f, int *headers,
                              int64_t *max_age_s, int *from_config);

/* Checks every [policy] value of `cfg`; -1 with "file:line: ..." in err on
 * the first malformed one. */
int outpost_policy_validate(const struct outpost_config *cfg, char *err, size_t errlen);

/* "full", "headers" or "headers, 365d" (days when whole, else seconds). */
void outpost_policy_format(int headers, int64_t max_age_s, char *buf, size_t len);

/* Sets `folder = value` in the [policy] section of the config file at
 * `config_path`, replacing the folder's line, adding it (and the section)
 * when missing, or removing it when `value` is NULL. Every other line,
 * comment included, is kept. The file is replaced atomically and only when
 * the result still parses; on failure it is untouched and err says why. */
int outpost_policy_write(const char *config_path, const char *folder, const char *value, char *err, size_t errlen);

/* ---- content the server cannot give ----
 *
 * A transport reports BAD_DATA for one item of a fetch when the server refuses that
 * item's content for good (an attachment it says is gone: Kerio 404/410, a JSON-RPC
 * refusal). The item stays (headers, summary, flags) and its content is asked for
 * again on a schedule instead of after every sync: an hour after the first failed
 * try, then once a day. A client opening the item, and an explicit `outpost sync`,
 * try at once whatever the schedule says. The engine keeps the number of failed tries
 * and the time of the last one in the item's property bag (OUTPOST_CONTENT_FAILURES_PROP;
 * the "core." prefix is closed to front-ends), and the ids of the items that have
 * such a record in the cache's meta key OUTPOST_CONTENT_FAILURES_INDEX (a JSON array,
 * for `outpost status`; an id whose item or record has gone since is stale and skipped). */
#define OUTPOST_CONTENT_FAILURES_PROP "core.content_failures"
#define OUTPOST_CONTENT_FAILURES_INDEX "content_failures"

/* How long after the `failures`-th failed try the next one is due (0 when none failed). */
int64_t outpost_content_retry_delay_ms(uint32_t failures);

/* Whether a scheduled try is due at now_ms after `failures` tries, the last at last_ms. */
int outpost_content_retry_due(uint32_t failures, int64_t last_ms, int64_t now_ms);

/* The property's value, "FAILURES LAST_MS" (decimal). parse: 0, or -1 when malformed
 * (then nothing is known: the next try is due). format: the length written. */
int outpost_content_failures_parse(const void *val, size_t len, uint32_t *failures, int64_t *last_ms);
int outpost_content_failures_format(uint32_t failures, int64_t last_ms, char *buf, size_t len);

/* The ids OUTPOST_CONTENT_FAILURES_INDEX lists, read in transaction `t` (any kind): a
 * new JSON array reference (the caller decrefs), NULL when there is no index or it is
 * malformed (json_array_foreach over NULL does nothing). Ids may be stale. */
json_t *outpost_content_failures_index(const struct outpost_storage_methods *m, struct outpost_txn *t);

#endif
