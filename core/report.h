/* core/report.h — status and audit as JSON, built from the cache (and the
 * running engine when there is one). The daemon serves these over its
 * control socket; the CLI prints them as tables or as JSON. */
#ifndef OUTPOST_CORE_REPORT_H
#define OUTPOST_CORE_REPORT_H

#include <jansson.h>

struct outpost_store;
struct outpost_engine;
struct outpost_config;

/* {"online":bool,"auth_failed":bool,"last_error":str,"journal":{"pending":n,...},
 *  "folders":[{"id","path","name","kind","items","unread","flagged","pending",
 *  "policy","policy_source","last_sync_ms","state","last_error"}]}.
 * engine may be NULL; cfg (NULL: defaults) decides each folder's policy. */
json_t *outpost_report_status(struct outpost_store *store, struct outpost_engine *engine,
                              const struct outpost_config *cfg);

/* {"entries":[{"seq","op","state","created_ms","done_ms","attempts","item_id",
 *  "folder_id","remote_id","result_remote_id","message"}]} */
json_t *outpost_report_audit(struct outpost_store *store);

/* Deletes confirmed entries older than `days`; returns the number removed or -1. */
long long outpost_report_prune(struct outpost_store *store, long long days, int64_t now_ms);

/* Prints a status / audit report as text tables. */
void outpost_report_print_status(json_t *status, FILE *out);
void outpost_report_print_audit(json_t *audit, FILE *out);

/* Writes s (UTF-8) in a column `width` terminal cells wide: padded with
 * spaces after it (a wide CJK or emoji character takes two cells, a
 * combining mark none), or, when truncate is set and s is wider, cut at a
 * character boundary to fit. An invalid sequence counts one cell a byte.
 * Unlike printf's %-Ns, which counts bytes, the columns stay aligned with
 * non-ASCII folder names. */
void outpost_put_column(FILE *out, const char *s, int width, int truncate);
/* The terminal cells s takes, by the same rules. */
int outpost_text_cells(const char *s);

const char *outpost_journal_op_name(uint32_t op);
const char *outpost_journal_state_name(uint32_t state);

#endif
