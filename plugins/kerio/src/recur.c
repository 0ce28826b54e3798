/* recur.c — a recurring event as one master with its exceptions, from what Kerio's API gives.
 *
 * Kerio's public Occurrence has no original start (no RECURRENCE-ID) and there is no EXDATE
 * list: a moved instance is an occurrence at its new time with isException, a deleted one is
 * simply absent. So the series is read back and the gaps are inferred:
 *
 *   1. The master's rule (kerio_rrule_text, the RRULE we write) is expanded with libical from
 *      its DTSTART in the wall time of the offset the server gave for it, capped at
 *      `recurrence_cap` instances, plus "shadow" instances up to a margin after the last one.
 *   2. Occurrences.get lists the event's occurrences (condition eventId, light fields) over
 *      [first instance − 31 days, last instance + duration + 31 days].
 *   3. Each regular occurrence must fall exactly on an instance (else our expansion disagrees
 *      with the server, and nothing is inferred: exceptions without an original start from
 *      the server are left out, no EXDATE is written).
 *   4. Each exception (in time order) takes the free instance — no regular occurrence, not
 *      taken — nearest to its start; ties go to the earlier instance. An exception whose
 *      server reply carries recurrenceId/originalStart keeps that instead.
 *   5. Free instances left (not shadows) are deleted ones: EXDATE.
 *
 * Limits: an instance moved further than half-way to another free instance is placed on that
 * one; instances moved more than 31 days beyond the window are not seen; beyond the cap neither
 * exceptions nor deletions are represented (RRULE still generates those instances). */
#include "kerio.h"
#include "ktime.h"

#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY 86400LL
#define SERIES_MARGIN (31 * DAY)
#define SHADOW_MAX 2000u
#define EXPAND_GUARD 200000u    /* libical candidates examined at most */

struct slot {
    int64_t at;                 /* instance start, epoch seconds */
    int shadow;                 /* past the cap: placement only, never an EXDATE */
    int regular;                /* a regular occurrence is there */
    int taken;                  /* an exception was placed there */
};

struct series {
    struct ktime start;         /* the master's start as given */
    int off_s;                  /* its offset (0 for UTC, floating and dates) */
    int64_t start_at, dur;
    struct slot *slots;
    size_t n, nreal;
};

static void series_free(struct series *s)
{
    free(s->slots);
    memset(s, 0, sizeof *s);
}

static int64_t wall_epoch(int y, int mo, int d, int h, int mi, int sec)
{
    struct ktime w;
    memset(&w, 0, sizeof w);
    w.year = y;
    w.month = mo;
    w.day = d;
    w.hour = h;
    w.minute = mi;
    w.second = sec;
    w.zone = KTIME_UTC;
    return ktime_epoch(&w);
}

/* Expands the master's rule. shadow_to: also add instances up to this time past the cap
 * (0: none). */
static int expand(const json_t *event, uint32_t cap, int64_t shadow_to, struct series *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    const json_t *rule = json_object_get(event, "rule");
    struct ktime end;
    if (ktime_parse(kj_str(event, "start"), &s->start) != 0) {
        snprintf(err, errlen, "event without a usable start");
        return -1;
    }
    s->off_s = s->start.zone == KTIME_OFFSET && !s->start.date_only ? s->start.offset_min * 60 : 0;
    s->start_at = ktime_epoch(&s->start);
    s->dur = 0;
    if (ktime_parse(kj_str(event, "end"), &end) == 0) {
        if (end.date_only)
            ktime_add_days(&end, 1); /* inclusive all-day end */
        s->dur = ktime_epoch(&end) - s->start_at;
    }
    if (s->dur < 0)
        s->dur = 0;
    struct kbuf b = { 0 };
    if (kerio_rrule_text(rule, 0, &b) != 0) {
        kbuf_free(&b);
        snprintf(err, errlen, "recurrence rule not understood");
        return -1;
    }
    struct icalrecurrencetype r = icalrecurrencetype_from_string(b.data);
    kbuf_free(&b);
    if (r.freq == ICAL_NO_RECURRENCE) {
        icalerror_clear_errno();
        snprintf(err, errlen, "recurrence rule not understood by libical");
        return -1;
    }
    /* The end as we write it in UNTIL: a date ends with that (local) day, a time is an instant. */
    const json_t *eb = json_object_get(rule, "endBy");
    int until_date = 0;
    int64_t until_at = INT64_MAX;
    struct ktime u;
    if (strcmp(kj_str(eb, "type"), "ByRecurrenceDate") == 0 && ktime_parse(kj_str(eb, "date"), &u) == 0) {
        if (u.date_only)
            until_date = u.year * 10000 + u.month * 100 + u.day;
        else
            until_at = ktime_epoch(&u);
    }
    struct icaltimetype dt = icaltime_null_time();
    dt.year = s->start.year;
    dt.month = s->start.month;
    dt.day = s->start.day;
    dt.is_date = s->start.date_only;
    if (!s->start.date_only) {
        dt.hour = s->start.hour;
        dt.minute = s->start.minute;
        dt.second = s->start.second;
    }
    icalrecur_iterator *it = icalrecur_iterator_new(r, dt);
    if (!it) {
        icalerror_clear_errno();
        snprintf(err, errlen, "recurrence rule cannot be expanded");
        return -1;
    }
    size_t capn = (size_t)cap + SHADOW_MAX;
    s->slots = calloc(capn, sizeof *s->slots);
    if (!s->slots) {
        icalrecur_iterator_free(it);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (unsigned guard = 0; guard < EXPAND_GUARD && s->n < capn; guard++) {
        struct icaltimetype w = icalrecur_iterator_next(it);
        if (icaltime_is_null_time(w))
            break;
        if (w.year > s->start.year + 400)
            break;
        if (until_date && w.year * 10000 + w.month * 100 + w.day > until_date)
            break;
        int64_t at = wall_epoch(w.year, w.month, w.day, w.is_date ? 0 : w.hour, w.is_date ? 0 : w.minute,
                                w.is_date ? 0 : w.second) - s->off_s;
        if (at > until_at)
            break;
        if (s->n && at <= s->slots[s->n - 1].at)
            continue; /* never out of order */
        if (s->nreal >= cap) {
            if (!shadow_to || at > shadow_to)
                break;
            s->slots[s->n].shadow = 1;
        } else {
            s->nreal++;
        }
        s->slots[s->n++].at = at;
    }
    icalrecur_iterator_free(it);
    icalerror_clear_errno();
    if (!s->nreal) {
        snprintf(err, errlen, "recurrence rule yields no instance");
        series_free(s);
        return -1;
    }
    return 0;
}

int kerio_series_window(const json_t *event, uint32_t cap, struct kerio_series_window *w, char *err, size_t errlen)
{
    struct series s;
    if (expand(event, cap, 0, &s, err, errlen) != 0)
        return -1;
    w->from = s.slots[0].at - SERIES_MARGIN;
    w->to = s.slots[s.nreal - 1].at + s.dur + SERIES_MARGIN;
    series_free(&s);
    return 0;
}

/* The instance at `at` written like the master's start: same offset, or Z, floating, a date. */
static json_t *format_slot(const struct series *s, int64_t at)
{
    struct ktime k;
    ktime_from_epoch(at + s->off_s, &k);
    k.date_only = s->start.date_only;
    k.zone = s->start.zone;
    k.offset_min = s->start.offset_min;
    char buf[24];
    ktime_format(&k, buf);
    return json_string(buf);
}

static long find_slot(const struct series *s, int64_t at)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->slots[mid].at < at)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n && s->slots[lo].at == at ? (long)lo : -1;
}

struct exc_ref {
    const json_t *o;
    int64_t at;
};

static int exc_cmp(const void *a, const void *b)
{
    const struct exc_ref *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return strcmp(kj_str(x->o, "id"), kj_str(y->o, "id"));
}

struct placed {
    size_t slot;
    const json_t *o;
};

static int placed_cmp(const void *a, const void *b)
{
    const struct placed *x = a, *y = b;
    if (x->slot != y->slot)
        return x->slot < y->slot ? -1 : 1;
    return strcmp(kj_str(x->o, "id"), kj_str(y->o, "id"));
}

const char *kerio_server_rid(const json_t *o)
{
    return *kj_str(o, "recurrenceId") ? kj_str(o, "recurrenceId") : kj_str(o, "originalStart");
}

int kerio_series_infer(const json_t *event, const json_t *occurrences, uint32_t cap, json_t **placed_out,
                       json_t **exdates_out, char *err, size_t errlen)
{
    *placed_out = NULL;
    *exdates_out = NULL;
    struct kerio_series_window w;
    if (kerio_series_window(event, cap, &w, err, errlen) != 0)
        return -1;
    struct series s;
    if (expand(event, cap, w.to, &s, err, errlen) != 0)
        return -1;
    const char *eid = kj_str(event, "id");
    size_t nocc = json_array_size(occurrences);
    struct exc_ref *exc = calloc(nocc ? nocc : 1, sizeof *exc);
    struct placed *pl = calloc(nocc ? nocc : 1, sizeof *pl);
    size_t nexc = 0, npl = 0;
    int rc = -1;
    if (!exc || !pl) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    int64_t first = s.slots[0].at, last = s.slots[s.n - 1].at;
    size_t i;
    const json_t *o;
    json_array_foreach(occurrences, i, o) {
        const char *oe = kj_str(o, "eventId");
        if (*oe && *eid && strcmp(oe, eid) != 0)
            continue;
        struct ktime k;
        if (ktime_parse(kj_str(o, "start"), &k) != 0)
            continue;
        int64_t at = ktime_epoch(&k);
        if (kj_bool(o, "isException")) {
            const char *rid = kerio_server_rid(o);
            struct ktime rk;
            if (*rid && ktime_parse(rid, &rk) == 0) {
                /* The server said where it belongs. */
                long sl = find_slot(&s, ktime_epoch(&rk));
                if (sl >= 0) {
                    s.slots[sl].taken = 1;
                    pl[npl].slot = (size_t)sl;
                    pl[npl++].o = o;
                }
                continue;
            }
            exc[nexc].o = o;
            exc[nexc++].at = at;
            continue;
        }
        long sl = find_slot(&s, at);
        if (sl >= 0) {
            s.slots[sl].regular = 1;
        } else if (at >= first && at <= last) {
            snprintf(err, errlen, "occurrence at %s is not an instance of the rule as expanded here",
                     kj_str(o, "start"));
            goto out;
        }
    }
    qsort(exc, nexc, sizeof *exc, exc_cmp);
    for (size_t e = 0; e < nexc; e++) {
        long best = -1;
        int64_t bestd = 0;
        for (size_t k = 0; k < s.n; k++) {
            if (s.slots[k].regular || s.slots[k].taken)
                continue;
            int64_t d = s.slots[k].at - exc[e].at;
            if (d < 0)
                d = -d;
            if (best < 0 || d < bestd) {
                best = (long)k;
                bestd = d;
            }
        }
        if (best < 0)
            continue; /* no free instance left: this exception cannot be placed */
        s.slots[best].taken = 1;
        pl[npl].slot = (size_t)best;
        pl[npl++].o = exc[e].o;
    }
    qsort(pl, npl, sizeof *pl, placed_cmp);
    json_t *placed = json_array();
    for (size_t p = 0; p < npl; p++) {
        const char *rid = kerio_server_rid(pl[p].o);
        json_array_append_new(placed, json_pack("{s:s, s:o}", "id", kj_str(pl[p].o, "id"), "recurrenceId",
                                                *rid ? json_string(rid) : format_slot(&s, s.slots[pl[p].slot].at)));
    }
    json_t *exd = json_array();
    for (size_t k = 0; k < s.n; k++)
        if (!s.slots[k].shadow && !s.slots[k].regular && !s.slots[k].taken)
            json_array_append_new(exd, format_slot(&s, s.slots[k].at));
    *placed_out = placed;
    *exdates_out = exd;
    rc = 0;
out:
    free(exc);
    free(pl);
    series_free(&s);
    return rc;
}
