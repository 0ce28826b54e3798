/* series.c — reading a recurring event's series from the server for recur.c: Occurrences.get
 * over the series window (light fields, paged, bounded), Occurrences.getById for the full
 * exception objects (listings leave out reminder and rule), then the inference. Kept apart
 * from recur.c so that stays pure (unit-tested without a server). */
#include "kerio.h"
#include "ktime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERIES_LIST_EXTRA 3000u /* shadow instances and margins beyond recurrence_cap */

/* ---- reading a series from the server ---- */

static void time_string(int64_t at, char out[24])
{
    struct ktime k;
    ktime_from_epoch(at, &k);
    k.zone = KTIME_UTC;
    ktime_format(&k, out);
}

/* Lists the event's occurrences over the window (light fields), at most `bound`. *list is a
 * new array; *complete 0 when the server has more than bound. */
static outpost_status list_occurrences(struct outpost_transport *t, const char *fid, const char *eid,
                                       const struct kerio_series_window *w, size_t bound, json_t **list, int *complete)
{
    char from[24] = "", to[24] = "";
    if (w) {
        time_string(w->from, from);
        time_string(w->to, to);
    }
    *list = json_array();
    *complete = 0;
    uint32_t ps = t->page_size < 500 ? 500 : t->page_size; /* light rows */
    for (size_t start = 0;;) {
        json_t *conds = json_pack("[{s:s, s:s, s:s}]", "fieldName", "eventId", "comparator", "Eq", "value", eid);
        if (w) {
            json_array_append_new(conds, json_pack("{s:s, s:s, s:s}", "fieldName", "start", "comparator", "GreaterEq",
                                                   "value", from));
            /* "end may only be compared with LessThan" (a client's note on real servers) */
            json_array_append_new(conds, json_pack("{s:s, s:s, s:s}", "fieldName", "end", "comparator", "LessThan",
                                                   "value", to));
        }
        json_t *q = json_pack("{s:[s,s,s,s,s], s:s, s:o, s:[{s:s, s:s, s:b}], s:I, s:I}",
                              "fields", "id", "eventId", "start", "end", "isException", "combining", "And",
                              "conditions", conds,
                              "orderBy", "columnName", "start", "direction", "Asc", "caseSensitive", 0,
                              "start", (json_int_t)start, "limit", (json_int_t)ps);
        json_t *res = NULL;
        outpost_status st = kerio_call(t, "Occurrences.get", json_pack("{s:[s], s:o}", "folderIds", fid, "query", q),
                                       KERIO_CTX_CALL, 0, NULL, &res);
        if (st.code != OUTPOST_OK) {
            json_decref(*list);
            *list = NULL;
            return st;
        }
        const json_t *items;
        char why[200];
        if (kerio_validate_list(OUTPOST_ITEM_EVENT, res, "list", 1, &items, why, sizeof why) != 0) {
            json_decref(res);
            json_decref(*list);
            *list = NULL;
            return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: Occurrences.get: %s", why);
        }
        const json_t *tot = json_object_get(res, "totalItems");
        size_t n = json_array_size(items);
        json_array_extend(*list, (json_t *)items);
        start += n;
        int64_t tv;
        size_t total = kj_int(tot, &tv) && tv >= 0 ? (size_t)tv : start;
        json_decref(res);
        if (n == 0 || start >= total) {
            *complete = 1;
            return outpost_ok();
        }
        if (start >= bound)
            return outpost_ok();
    }
}

/* Full objects of the exception occurrences (rule and reminder are not in listings). */
static outpost_status get_exceptions_by_id(struct outpost_transport *t, const json_t *list, json_t **full)
{
    *full = json_array();
    json_t *ids = json_array();
    size_t i;
    const json_t *o;
    json_array_foreach(list, i, o) if (kj_bool(o, "isException"))
        json_array_append_new(ids, json_string(kj_str(o, "id")));
    size_t n = json_array_size(ids);
    uint32_t ps = t->page_size ? t->page_size : 50;
    for (size_t off = 0; off < n; off += ps) {
        json_t *chunk = json_array();
        for (size_t k = off; k < n && k < off + ps; k++)
            json_array_append(chunk, json_array_get(ids, k));
        json_t *res = NULL;
        outpost_status st = kerio_call(t, "Occurrences.getById", json_pack("{s:o}", "ids", chunk), KERIO_CTX_CALL, 0,
                                       NULL, &res);
        if (st.code != OUTPOST_OK) {
            json_decref(ids);
            json_decref(*full);
            *full = NULL;
            return st;
        }
        const json_t *items;
        char why[200];
        if (kerio_validate_list(OUTPOST_ITEM_EVENT, res, "result", 1, &items, why, sizeof why) != 0) {
            json_decref(res);
            json_decref(ids);
            json_decref(*full);
            *full = NULL;
            return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: Occurrences.getById: %s", why);
        }
        /* An exception removed in between is missing from the result: it is simply left out. */
        json_array_extend(*full, (json_t *)items);
        json_decref(res);
    }
    json_decref(ids);
    return outpost_ok();
}

outpost_status kerio_event_series(struct outpost_transport *t, const char *fid, const json_t *event, json_t **exceptions,
                                  json_t **exdates)
{
    *exceptions = NULL;
    *exdates = NULL;
    const json_t *rule = json_object_get(event, "rule");
    if (!json_is_object(rule) || !kj_bool(rule, "isSet"))
        return outpost_ok();
    const char *eid = kj_str(event, "id");
    uint32_t cap = t->recur_cap ? t->recur_cap : 1000;
    char why[256] = "";
    struct kerio_series_window w;
    int inferable = kerio_series_window(event, cap, &w, why, sizeof why) == 0;
    json_t *list = NULL;
    int complete = 0;
    /* Not inferable: still list what the server has (its default window), for exceptions it
     * places itself. */
    outpost_status st = list_occurrences(t, fid, eid, inferable ? &w : NULL, (size_t)cap + SERIES_LIST_EXTRA, &list,
                                         &complete);
    if (st.code != OUTPOST_OK)
        return st;
    if (!complete && inferable) {
        snprintf(why, sizeof why, "more occurrences than recurrence_cap allows");
        inferable = 0;
    }
    /* Only this event's occurrences (a server ignoring the eventId condition lists others). */
    json_t *mine = json_array();
    size_t i;
    const json_t *o;
    json_array_foreach(list, i, o) {
        const char *oe = kj_str(o, "eventId");
        if (!*oe || strcmp(oe, eid) == 0)
            json_array_append(mine, (json_t *)o);
    }
    json_decref(list);
    json_t *full = NULL;
    st = get_exceptions_by_id(t, mine, &full);
    if (st.code != OUTPOST_OK) {
        json_decref(mine);
        return st;
    }
    /* The listing with the exceptions replaced by their full objects (regulars stay light). */
    json_t *occ = json_array();
    json_array_foreach(mine, i, o) if (!kj_bool(o, "isException"))
        json_array_append(occ, (json_t *)o);
    json_array_foreach(full, i, o) {
        json_t *x = json_deep_copy(o);
        json_object_set_new(x, "isException", json_true()); /* as the listing said */
        json_array_append_new(occ, x);
    }
    json_decref(mine);
    json_decref(full);
    json_t *placed = NULL, *exd = NULL;
    if (inferable && kerio_series_infer(event, occ, cap, &placed, &exd, why, sizeof why) != 0)
        inferable = 0;
    json_t *out = json_array();
    if (inferable) {
        json_array_foreach(placed, i, o) {
            const json_t *x;
            size_t j;
            json_array_foreach(occ, j, x) if (kj_bool(x, "isException") && strcmp(kj_str(x, "id"), kj_str(o, "id")) == 0) {
                json_t *c = json_deep_copy(x);
                json_object_set(c, "recurrenceId", json_object_get(o, "recurrenceId"));
                json_array_append_new(out, c);
                break;
            }
        }
        *exdates = exd;
    } else {
        t->host->log(t->host, OUTPOST_LOG_INFO,
                     "kerio: exceptions of event %s placed only where the server says (%s); no EXDATE", eid, why);
        json_array_foreach(occ, i, o) if (kj_bool(o, "isException") && *kerio_server_rid(o))
            json_array_append(out, (json_t *)o);
        json_decref(exd);
    }
    json_decref(placed);
    json_decref(occ);
    *exceptions = out;
    return outpost_ok();
}
