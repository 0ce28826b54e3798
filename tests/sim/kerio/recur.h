/* Recurrence expansion of events into occurrences (Kerio's RecurrenceRule: Daily, Weekly,
 * Monthly, Yearly, byInterval, endBy date, weekly byDay), with exceptions: moved or deleted
 * instances kept in the event's internal "x-exceptions" list, keyed by original start. */
#ifndef OUTPOST_SIM_KERIO_RECUR_H
#define OUTPOST_SIM_KERIO_RECUR_H

#include <jansson.h>
#include <stdint.h>

/* Start of the i-th instance of a simple rule (freq 0 Daily, 1 Weekly, 2 Monthly, 3 Yearly). */
int64_t gen_rule_nth(int64_t start, int freq, int interval, long i);

struct occ {
	int64_t start, end;      /* of this instance (after exception edits) */
	int64_t orig;            /* original start: the instance's identity */
	json_t *exc;             /* borrowed exception object, NULL if none */
	int recurring;
};

/* Start and end of an event (all-day: date-only strings, inclusive end date). -1 if invalid. */
int recur_event_times(json_t *ev, int64_t *start, int64_t *end, int *all_day);

/* Calls fn for each instance overlapping [from, to), in order; fn returns nonzero to stop.
 * Bounded: at most 20000 instances are examined per call. */
void recur_expand(json_t *ev, int64_t from, int64_t to, int (*fn)(void *, const struct occ *),
		  void *ctx);

/* Finds the instance whose original start is `orig`; 0 if it exists. */
int recur_find(json_t *ev, int64_t orig, struct occ *out);

#endif
