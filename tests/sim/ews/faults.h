/* Fault injection and mutation counters, armed and read through the /_sim/ control endpoint.
 * A fault applies to one operation ("SyncFolderItems", "autodiscover", or "*"), after skipping
 * `skip` matching requests, for the next `count` requests (default 1; 0 = until cleared)
 * and/or for `seconds`. Thread-safe. */
#ifndef OUTPOST_SIM_EWS_FAULTS_H
#define OUTPOST_SIM_EWS_FAULTS_H

#include <jansson.h>

enum fault_kind {
	F_BUSY,          /* ErrorServerBusy: form "fault" (HTTP 500 SOAP fault) or "message" (HTTP 200) */
	F_SYNC_INVALID,  /* ErrorInvalidSyncStateData as an error response message */
	F_ERROR,         /* any ResponseCode (`code`) as an error response message */
	F_HTTP401, F_HTTP500, F_HTTP503,
	F_DROP,          /* "drop_before": connection closed before any reply byte, nothing ran */
	F_DROP_MID,      /* "drop" (alias "drop_mid"): the operation ran, the reply is cut after half */
	F_MALFORMED,     /* HTTP 200 with a reply that is not well-formed XML */
	F_DELAY,         /* reply after delay_ms */
	F_KIND_COUNT
};

struct fault_hit {
	int active[F_KIND_COUNT];
	int delay_ms;
	int backoff_ms;          /* busy: BackOffMilliseconds, 0 = none */
	int message_form;        /* busy: 1 = error response message, 0 = SOAP fault */
	char code[96];           /* F_ERROR */
};

struct sim_faults;
struct sim_faults *faults_new(void);
void faults_free(struct sim_faults *f);
int faults_add(struct sim_faults *f, json_t *spec, char *err, size_t errn);
void faults_clear(struct sim_faults *f);
json_t *faults_json(struct sim_faults *f);
void faults_take(struct sim_faults *f, const char *op, struct fault_hit *hit);

struct sim_counters;
struct sim_counters *counters_new(void);
void counters_free(struct sim_counters *c);
/* One call of `op` that applied `items` items. */
void counters_call(struct sim_counters *c, const char *op, long items);
/* One state change, e.g. "item.create", "item.flags", "folder.rename". */
void counters_mutation(struct sim_counters *c, const char *what);
json_t *counters_json(struct sim_counters *c);
void counters_reset(struct sim_counters *c);

#endif
