/* The /_sim/ control endpoint, modelled on the Kerio simulator's: state dump, server-side
 * changes (as another client would make them), counters, faults, sync-state expiry and the
 * state file. Replies are JSON; errors are {"error": "..."} with HTTP 400/404/409. See
 * README.md "Control API". */
#ifndef OUTPOST_SIM_EWS_CONTROL_H
#define OUTPOST_SIM_EWS_CONTROL_H

#include <stddef.h>

#include "sim.h"

struct control_args {
	const char *content;     /* ?content=0: state without item properties */
	const char *folder;      /* ?folder=path: one folder only */
};

/* Returns a malloc'd JSON body and sets *status. */
char *control_handle(struct sim *s, const char *method, const char *url, const char *body, size_t len,
		     const struct control_args *a, int *status);

/* statefile.c */
int state_save(struct sim *s, const char *path);
int state_load(struct sim *s, const char *path);

#endif
