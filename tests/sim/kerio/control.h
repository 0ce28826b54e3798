/* The test control endpoint under /_sim/ (same port, no login): server-side changes, state
 * dump, write counters, faults, sessions, journal truncation and state saving. The interface
 * is documented in README.md and is stable for other engineers' scripts. */
#ifndef OUTPOST_SIM_KERIO_CONTROL_H
#define OUTPOST_SIM_KERIO_CONTROL_H

#include <stddef.h>

#include "sim.h"

struct control_args {
	const char *content;     /* ?content=0 omits bodies from /_sim/state */
	const char *folder;      /* ?folder=<id or path> limits /_sim/state */
};

/* Returns the JSON reply body (malloc'd) and sets *status. */
char *control_handle(struct sim *sim, const char *method, const char *url, const char *body,
		     size_t len, const struct control_args *a, int *status);

#endif
