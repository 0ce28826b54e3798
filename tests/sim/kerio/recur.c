/* Recurrence expansion (see recur.h). */
#include "recur.h"

#include <string.h>
#include <time.h>

#include "datetime.h"

#define DAY 86400LL

int64_t gen_rule_nth(int64_t start, int freq, int interval, long i)
{
	if (interval < 1)
		interval = 1;
	switch (freq) {
	case 0:
		return start + (int64_t)i * interval * DAY;
	case 1:
		return start + (int64_t)i * interval * 7 * DAY;
	default: {
		time_t t = (time_t)start;
		struct tm tm;
		gmtime_r(&t, &tm);
		if (freq == 2)
			tm.tm_mon += (int)(i * interval);
		else
			tm.tm_year += (int)(i * interval);
		return (int64_t)timegm(&tm);
	}
	}
}

int recur_event_times(json_t *ev, int64_t *start, int64_t *end, int *all_day)
{
	const char *s = json_string_value(json_object_get(ev, "start"));
	const char *e = json_string_value(json_object_get(ev, "end"));
	int ad = json_is_true(json_object_get(ev, "isAllDay"));
	if (!s || dt_parse(s, start))
		return -1;
	if (!e || !*e || dt_parse(e, end))
		*end = *start + (ad ? DAY : 3600);
	else if (ad && strlen(e) == 8)
		*end += DAY; /* inclusive end date */
	if (*end < *start)
		*end = *start;
	if (all_day)
		*all_day = ad;
	return 0;
}

static int freq_of(const char *f)
{
	if (!f)
		return 0;
	if (!strcmp(f, "Weekly"))
		return 1;
	if (!strcmp(f, "Monthly"))
		return 2;
	if (!strcmp(f, "Yearly"))
		return 3;
	return 0;
}

static json_t *find_exception(json_t *ev, int64_t orig)
{
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(ev, "x-exceptions"), i, x) {
		int64_t t;
		const char *o = json_string_value(json_object_get(x, "orig"));
		if (o && dt_parse(o, &t) == 0 && t == orig)
			return x;
	}
	return NULL;
}

/* Fills o for the instance at orig; returns 0 if it is not deleted. */
static int instance(json_t *ev, int64_t orig, int64_t dur, int recurring, struct occ *o)
{
	o->orig = orig;
	o->start = orig;
	o->end = orig + dur;
	o->recurring = recurring;
	o->exc = recurring ? find_exception(ev, orig) : NULL;
	if (o->exc) {
		if (json_is_true(json_object_get(o->exc, "deleted")))
			return -1;
		int64_t t;
		const char *s = json_string_value(json_object_get(o->exc, "start"));
		const char *e = json_string_value(json_object_get(o->exc, "end"));
		if (s && dt_parse(s, &t) == 0)
			o->start = t;
		o->end = o->start + dur;
		if (e && dt_parse(e, &t) == 0 && t >= o->start)
			o->end = t;
	}
	return 0;
}

void recur_expand(json_t *ev, int64_t from, int64_t to, int (*fn)(void *, const struct occ *),
		  void *ctx)
{
	int64_t start, end;
	if (recur_event_times(ev, &start, &end, NULL))
		return;
	int64_t dur = end - start;
	json_t *rule = json_object_get(ev, "rule");
	struct occ o;
	if (!json_is_true(json_object_get(rule, "isSet"))) {
		if (instance(ev, start, dur, 0, &o) == 0 && o.end > from && o.start < to)
			fn(ctx, &o);
		return;
	}
	int freq = freq_of(json_string_value(json_object_get(rule, "frequency")));
	json_t *pb = json_object_get(rule, "preciseBy");
	int interval = (int)json_integer_value(json_object_get(pb, "byInterval"));
	if (interval < 1)
		interval = 1;
	int64_t until = INT64_MAX;
	json_t *eb = json_object_get(rule, "endBy");
	const char *ebt = json_string_value(json_object_get(eb, "type"));
	const char *ebd = json_string_value(json_object_get(eb, "date"));
	if (ebt && !strcmp(ebt, "ByRecurrenceDate") && ebd && *ebd) {
		if (dt_parse(ebd, &until) == 0 && strlen(ebd) == 8)
			until += DAY - 1;
	}
	json_t *byday = json_object_get(pb, "byDay");
	int days[7], ndays = 0;
	if (freq == 1 && json_array_size(byday)) {
		for (int d = 0; d < 7; d++) {
			size_t i;
			json_t *v;
			json_array_foreach(byday, i, v)
				if (json_integer_value(v) == d) {
					days[ndays++] = d;
					break;
				}
		}
	}
	for (long i = 0, examined = 0; examined < 20000; i++) {
		int64_t base = gen_rule_nth(start, freq, interval, i);
		int64_t cand[7];
		int nc = 0;
		if (ndays) {
			time_t t = (time_t)base;
			struct tm tm;
			gmtime_r(&t, &tm);
			int64_t week0 = base - tm.tm_wday * DAY;
			for (int d = 0; d < ndays; d++)
				if (week0 + days[d] * DAY >= start)
					cand[nc++] = week0 + days[d] * DAY;
		} else {
			cand[nc++] = base;
		}
		for (int c = 0; c < nc; c++, examined++) {
			int64_t orig = cand[c];
			if (orig > until || orig - dur - 7 * DAY >= to)
				return;
			if (instance(ev, orig, dur, 1, &o) == 0 && o.end > from && o.start < to)
				if (fn(ctx, &o))
					return;
		}
		if (base > until || base >= to + 7 * DAY)
			return;
	}
}

struct find_ctx {
	int64_t orig;
	struct occ *out;
	int found;
};

static int find_cb(void *p, const struct occ *o)
{
	struct find_ctx *c = p;
	if (o->orig == c->orig) {
		*c->out = *o;
		c->found = 1;
		return 1;
	}
	return o->orig > c->orig;
}

int recur_find(json_t *ev, int64_t orig, struct occ *out)
{
	struct find_ctx c = {orig, out, 0};
	recur_expand(ev, orig - 400 * DAY, orig + 400 * DAY, find_cb, &c);
	return c.found ? 0 : -1;
}
