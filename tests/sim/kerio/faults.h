/* Fault injection for tests, armed through the control endpoint: HTTP 500, delays, dropped
 * connections (before or after the call ran), malformed JSON, session expiry, "try later" busy
 * errors, expired sync keys, arbitrary JSON-RPC errors and an offline mode. A fault applies to
 * one method (or "*"), optionally after skipping K matching calls, for the next N calls and/or
 * for a duration. Thread-safe. Also holds the per-method write counters. */
#ifndef OUTPOST_SIM_KERIO_FAULTS_H
#define OUTPOST_SIM_KERIO_FAULTS_H

#include <jansson.h>

enum fault_kind {
	F_HTTP500, F_DELAY, F_DROP, F_DROP_BEFORE, F_MALFORMED, F_SESSION_EXPIRED, F_BUSY,
	F_SYNC_KEY_EXPIRED, F_OFFLINE, F_ERROR, F_HTTP401, F_KIND_COUNT
};

struct fault_hit {
	int active[F_KIND_COUNT];
	int delay_ms;
	int code;                /* busy / error */
	int retry_after_ms;      /* busy / error: data.retryAfterMs, 0 = none */
	char message[200];
};

struct sim_faults;

struct sim_faults *faults_new(void);
void faults_free(struct sim_faults *f);
/* Arms a fault from its control JSON; returns its id (> 0) or -1 with err filled. */
int faults_add(struct sim_faults *f, json_t *spec, char *err, size_t errn);
void faults_clear(struct sim_faults *f);
json_t *faults_json(struct sim_faults *f);
/* Consumes the faults that apply to a request for `method` ("Mails.get", "download", "upload"). */
void faults_take(struct sim_faults *f, const char *method, struct fault_hit *hit);

/* Consumes one "offline" fault use: nonzero if this API request must be dropped. */
int faults_offline(struct sim_faults *f);

struct sim_counters;
struct sim_counters *counters_new(void);
void counters_free(struct sim_counters *c);
void counters_add(struct sim_counters *c, const char *method, long items);
/* Counts a call of a method that changes nothing (GET counters: "reads"). */
void counters_read(struct sim_counters *c, const char *method);
json_t *counters_json(struct sim_counters *c);
void counters_reset(struct sim_counters *c);

#endif
