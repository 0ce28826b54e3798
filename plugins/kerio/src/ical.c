/* ical.c — Kerio events, tasks and notes ↔ iCalendar, with libical.
 *
 * A recurring event is one VEVENT master plus one VEVENT per exception occurrence with a
 * RECURRENCE-ID. Times keep exactly what the server gave: "…Z" stays UTC, "…+0200" gets a
 * VTIMEZONE named "UTC+0200" with that fixed offset, a floating time stays floating and a
 * date stays a DATE. Output never depends on the clock (DTSTAMP comes from the item). */
#include "kerio.h"
#include "ktime.h"

#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRODID "-//Outpost//Kerio transport 1//EN"

char *kerio_object_uid(const json_t *obj)
{
    char buf[64];
    snprintf(buf, sizeof buf, "kerio-%016llx@outpost", (unsigned long long)kerio_hash64(kj_str(obj, "id")));
    return strdup(buf);
}

/* Fixed-offset zones met while converting one object. */
struct zones {
    int offs[16];
    int n;
};

static void tzid_for(int off, char *out, size_t cap)
{
    int a = off < 0 ? -off : off;
    snprintf(out, cap, "UTC%c%02d%02d", off < 0 ? '-' : '+', (a / 60) % 100, a % 60);
}

static void note_zone(struct zones *z, int off)
{
    for (int i = 0; i < z->n; i++)
        if (z->offs[i] == off)
            return;
    if (z->n < 16)
        z->offs[z->n++] = off;
}

static icalcomponent *vtimezone(int off)
{
    char tzid[32], o[16];
    int a = off < 0 ? -off : off;
    tzid_for(off, tzid, sizeof tzid);
    snprintf(o, sizeof o, "%c%02d%02d", off < 0 ? '-' : '+', a / 60, a % 60);
    char text[512];
    snprintf(text, sizeof text,
             "BEGIN:VTIMEZONE\r\nTZID:%s\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n"
             "TZOFFSETFROM:%s\r\nTZOFFSETTO:%s\r\nTZNAME:%s\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n",
             tzid, o, o, tzid);
    return icalcomponent_new_from_string(text);
}

static struct icaltimetype ical_time(const struct ktime *kt)
{
    struct icaltimetype tt = icaltime_null_time();
    tt.year = kt->year;
    tt.month = kt->month;
    tt.day = kt->day;
    tt.is_date = kt->date_only;
    if (!kt->date_only) {
        tt.hour = kt->hour;
        tt.minute = kt->minute;
        tt.second = kt->second;
        if (kt->zone == KTIME_UTC)
            tt.zone = icaltimezone_get_utc_timezone();
    }
    return tt;
}

/* Adds a date-time property of `kind` from a Kerio string; no-op when empty/invalid. */
static void add_time(icalcomponent *c, icalproperty_kind kind, const char *s, struct zones *z, int end_inclusive_date)
{
    struct ktime kt;
    if (!*s || ktime_parse(s, &kt) != 0)
        return;
    if (kt.date_only && end_inclusive_date)
        ktime_add_days(&kt, 1); /* Kerio's all-day end date is inclusive; DTEND is not */
    struct icaltimetype tt = ical_time(&kt);
    icalproperty *p = icalproperty_new(kind);
    icalproperty_set_value(p, kt.date_only ? icalvalue_new_date(tt) : icalvalue_new_datetime(tt));
    if (kt.date_only)
        icalproperty_add_parameter(p, icalparameter_new_value(ICAL_VALUE_DATE));
    if (!kt.date_only && kt.zone == KTIME_OFFSET) {
        char tzid[32];
        tzid_for(kt.offset_min, tzid, sizeof tzid);
        icalproperty_add_parameter(p, icalparameter_new_tzid(tzid));
        note_zone(z, kt.offset_min);
    }
    icalcomponent_add_property(c, p);
}

static void add_text(icalcomponent *c, icalproperty_kind kind, const char *v)
{
    if (!*v)
        return;
    icalproperty *p = icalproperty_new(kind);
    icalproperty_set_value(p, icalvalue_new_text(v));
    icalcomponent_add_property(c, p);
}

static void add_x(icalcomponent *c, const char *name, const char *v)
{
    if (!*v)
        return;
    icalproperty *p = icalproperty_new_x(v);
    icalproperty_set_x_name(p, name);
    icalcomponent_add_property(c, p);
}

/* DTSTAMP must not be "now": the first of the item's own dates, else the epoch. */
static void add_dtstamp(icalcomponent *c, const json_t *o)
{
    const char *keys[] = { "lastModificationTime", "modifiedDate", "modifyDate", "start", "due", "createDate" };
    struct ktime kt;
    int found = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0] && !found; i++)
        found = *kj_str(o, keys[i]) && ktime_parse(kj_str(o, keys[i]), &kt) == 0;
    if (!found)
        ktime_from_epoch(0, &kt);
    ktime_from_epoch(ktime_epoch(&kt), &kt);
    icalcomponent_add_property(c, icalproperty_new_dtstamp(ical_time(&kt)));
}

static void add_categories(icalcomponent *c, const json_t *o)
{
    const json_t *cats = json_object_get(o, "categories");
    size_t i;
    const json_t *v;
    json_array_foreach(cats, i, v) if (json_is_string(v) && *json_string_value(v))
        icalcomponent_add_property(c, icalproperty_new_categories(json_string_value(v)));
}

static void add_priority(icalcomponent *c, const json_t *o)
{
    const char *p = kj_str(o, "priority");
    if (strcmp(p, "High") == 0)
        icalcomponent_add_property(c, icalproperty_new_priority(1));
    else if (strcmp(p, "Low") == 0)
        icalcomponent_add_property(c, icalproperty_new_priority(9));
}

static const char *const weekdays[7] = { "SU", "MO", "TU", "WE", "TH", "FR", "SA" };

/* Kerio byDay entries: integers 0 = Sunday … 6 = Saturday (as the simulator and struct tm
 * count; the IDL only says "LongList"), or day names. */
static const char *weekday_of(const json_t *v)
{
    int64_t d;
    if (kj_int(v, &d))
        return d >= 0 && d <= 6 ? weekdays[d] : NULL;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        for (int i = 0; i < 7; i++) {
            static const char *const long_names[7] = { "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday" };
            if (strcasecmp(s, weekdays[i]) == 0 || strcasecmp(s, long_names[i]) == 0)
                return weekdays[i];
        }
    }
    return NULL;
}

static void append_int_list(struct kbuf *b, const char *name, const json_t *a)
{
    size_t i;
    const json_t *v;
    int first = 1;
    json_array_foreach(a, i, v) {
        int64_t n = 0;
        if (!kj_int(v, &n))
            n = 0;
        if (n == 0)
            continue;
        kbuf_printf(b, "%s%lld", first ? name : ",", (long long)n);
        first = 0;
    }
}

int kerio_rrule_text(const json_t *rule, int with_until, struct kbuf *b)
{
    if (!json_is_object(rule) || !kj_bool(rule, "isSet"))
        return -1;
    const char *f = kj_str(rule, "frequency");
    const char *freq = strcmp(f, "Daily") == 0 ? "DAILY" : strcmp(f, "Weekly") == 0 ? "WEEKLY"
                     : strcmp(f, "Monthly") == 0 ? "MONTHLY" : strcmp(f, "Yearly") == 0 ? "YEARLY" : NULL;
    if (!freq)
        return -1;
    kbuf_printf(b, "FREQ=%s", freq);
    const json_t *pb = json_object_get(rule, "preciseBy");
    const json_t *iv = json_object_get(pb, "byInterval");
    int64_t n;
    if (kj_int(iv, &n) && n > 1)
        kbuf_printf(b, ";INTERVAL=%lld", (long long)n);
    const json_t *end = json_object_get(rule, "endBy");
    struct ktime kt;
    if (!with_until) {
        /* the caller applies the end itself */
    } else if (strcmp(kj_str(end, "type"), "ByRecurrenceDate") == 0 && ktime_parse(kj_str(end, "date"), &kt) == 0) {
        if (kt.date_only) {
            kbuf_printf(b, ";UNTIL=%04d%02d%02d", kt.year, kt.month, kt.day);
        } else {
            ktime_from_epoch(ktime_epoch(&kt), &kt);
            kbuf_printf(b, ";UNTIL=%04d%02d%02dT%02d%02d%02dZ", kt.year, kt.month, kt.day, kt.hour, kt.minute, kt.second);
        }
    } else if (kj_int_or(end, "count", 0) > 0) {
        kbuf_printf(b, ";COUNT=%lld", (long long)kj_int_or(end, "count", 0));
    }
    const json_t *days = json_object_get(pb, "byDay");
    size_t i;
    const json_t *v;
    int first = 1;
    json_array_foreach(days, i, v) {
        const char *d = weekday_of(v);
        if (!d)
            continue;
        kbuf_printf(b, "%s%s", first ? ";BYDAY=" : ",", d);
        first = 0;
    }
    append_int_list(b, ";BYMONTHDAY=", json_object_get(pb, "byMonthDay"));
    append_int_list(b, ";BYMONTH=", json_object_get(pb, "byMonth"));
    append_int_list(b, ";BYSETPOS=", json_object_get(pb, "byPosition"));
    return b->data ? 0 : -1;
}

static void add_rrule(icalcomponent *c, const json_t *rule)
{
    struct kbuf b = { 0 };
    kbuf_puts(&b, "RRULE:");
    if (kerio_rrule_text(rule, 1, &b) == 0) {
        kbuf_puts(&b, "\r\n");
        icalproperty *p = icalproperty_new_from_string(b.data);
        if (p)
            icalcomponent_add_property(c, p);
    }
    kbuf_free(&b);
}

static void add_attendees(icalcomponent *c, const json_t *o)
{
    const json_t *atts = json_object_get(o, "attendees");
    size_t i;
    const json_t *a;
    json_array_foreach(atts, i, a) {
        const char *email = kj_str(a, "emailAddress");
        if (!*email)
            continue;
        char *uri = malloc(strlen(email) + 8);
        if (!uri)
            continue;
        sprintf(uri, "mailto:%s", email);
        const char *role = kj_str(a, "role");
        icalproperty *p;
        if (strcmp(role, "RoleOrganizer") == 0) {
            p = icalproperty_new_organizer(uri);
        } else {
            p = icalproperty_new_attendee(uri);
            icalparameter_role r = strcmp(role, "RoleOptionalAttendee") == 0 ? ICAL_ROLE_OPTPARTICIPANT : ICAL_ROLE_REQPARTICIPANT;
            icalproperty_add_parameter(p, icalparameter_new_role(r));
            if (strcmp(role, "RoleRoom") == 0)
                icalproperty_add_parameter(p, icalparameter_new_cutype(ICAL_CUTYPE_ROOM));
            else if (strcmp(role, "RoleEquipment") == 0)
                icalproperty_add_parameter(p, icalparameter_new_cutype(ICAL_CUTYPE_RESOURCE));
            const char *ps = kj_str(a, "partStatus");
            icalparameter_partstat st = strcmp(ps, "PartAccepted") == 0 ? ICAL_PARTSTAT_ACCEPTED
                                      : strcmp(ps, "PartDeclined") == 0 ? ICAL_PARTSTAT_DECLINED
                                      : strcmp(ps, "PartDelegated") == 0 ? ICAL_PARTSTAT_DELEGATED
                                      : strcmp(ps, "PartTentative") == 0 ? ICAL_PARTSTAT_TENTATIVE
                                                                         : ICAL_PARTSTAT_NEEDSACTION;
            icalproperty_add_parameter(p, icalparameter_new_partstat(st));
        }
        if (*kj_str(a, "displayName"))
            icalproperty_add_parameter(p, icalparameter_new_cn(kj_str(a, "displayName")));
        free(uri);
        icalcomponent_add_property(c, p);
    }
}

static void add_alarm(icalcomponent *c, const json_t *o)
{
    const json_t *r = json_object_get(o, "reminder");
    if (!json_is_object(r) || !kj_bool(r, "isSet"))
        return;
    icalcomponent *alarm = icalcomponent_new_valarm();
    icalcomponent_add_property(alarm, icalproperty_new_action(ICAL_ACTION_DISPLAY));
    icalcomponent_add_property(alarm, icalproperty_new_description("Reminder"));
    if (strcmp(kj_str(r, "type"), "ReminderAbsolute") == 0 && *kj_str(r, "date")) {
        struct ktime kt;
        if (ktime_parse(kj_str(r, "date"), &kt) == 0) {
            ktime_from_epoch(ktime_epoch(&kt), &kt);
            struct icaltriggertype trg = { ical_time(&kt), icaldurationtype_null_duration() };
            icalcomponent_add_property(alarm, icalproperty_new_trigger(trg));
        }
    } else {
        json_int_t m = kj_int_or(r, "minutesBeforeStart", 0);
        struct icaltriggertype trg = { icaltime_null_time(), icaldurationtype_from_int((int)(-m * 60)) };
        icalcomponent_add_property(alarm, icalproperty_new_trigger(trg));
    }
    icalcomponent_add_component(c, alarm);
}

/* The VEVENT body shared by the master and its exceptions. */
static void fill_vevent(icalcomponent *ev, const json_t *e, const char *uid, struct zones *z)
{
    icalcomponent_add_property(ev, icalproperty_new_uid(uid));
    add_dtstamp(ev, e);
    const char *rid = *kj_str(e, "recurrenceId") ? kj_str(e, "recurrenceId") : kj_str(e, "originalStart");
    if (rid && *rid)
        add_time(ev, ICAL_RECURRENCEID_PROPERTY, rid, z, 0);
    add_time(ev, ICAL_DTSTART_PROPERTY, kj_str(e, "start"), z, 0);
    add_time(ev, ICAL_DTEND_PROPERTY, kj_str(e, "end"), z, 1);
    add_text(ev, ICAL_SUMMARY_PROPERTY, kj_str(e, "summary"));
    add_text(ev, ICAL_LOCATION_PROPERTY, kj_str(e, "location"));
    add_text(ev, ICAL_DESCRIPTION_PROPERTY, kj_str(e, "description"));
    add_categories(ev, e);
    add_priority(ev, e);
    if (kj_bool(e, "isPrivate"))
        icalcomponent_add_property(ev, icalproperty_new_class(ICAL_CLASS_PRIVATE));
    const char *fb = kj_str(e, "freeBusy");
    if (*fb) {
        icalcomponent_add_property(ev, icalproperty_new_transp(strcmp(fb, "Free") == 0 ? ICAL_TRANSP_TRANSPARENT
                                                                                       : ICAL_TRANSP_OPAQUE));
        add_x(ev, "X-MICROSOFT-CDO-BUSYSTATUS", strcmp(fb, "Free") == 0 ? "FREE" : strcmp(fb, "Tentative") == 0 ? "TENTATIVE"
                                                  : strcmp(fb, "OutOfOffice") == 0 ? "OOF" : "BUSY");
    }
    if (kj_bool(e, "isCancelled"))
        icalcomponent_add_property(ev, icalproperty_new_status(ICAL_STATUS_CANCELLED));
    const char *label = kj_str(e, "label");
    if (*label && strcmp(label, "None") != 0)
        add_x(ev, "X-KERIO-LABEL", label);
    add_rrule(ev, json_object_get(e, "rule"));
    add_attendees(ev, e);
    add_alarm(ev, e);
}

static int finish(icalcomponent *cal, icalcomponent **comps, size_t n, const struct zones *z, struct kbuf *out,
                  char *err, size_t errlen)
{
    for (int i = 0; i < z->n; i++) {
        icalcomponent *tz = vtimezone(z->offs[i]);
        if (tz)
            icalcomponent_add_component(cal, tz);
    }
    for (size_t i = 0; i < n; i++)
        icalcomponent_add_component(cal, comps[i]);
    char *s = icalcomponent_as_ical_string_r(cal);
    int rc = s ? kbuf_puts(out, s) : -1;
    if (rc)
        snprintf(err, errlen, "libical could not write the object");
    free(s);
    icalcomponent_free(cal);
    return rc;
}

static icalcomponent *new_vcalendar(void)
{
    icalcomponent *cal = icalcomponent_new_vcalendar();
    icalcomponent_add_property(cal, icalproperty_new_version("2.0"));
    icalcomponent_add_property(cal, icalproperty_new_prodid(PRODID));
    return cal;
}

int kerio_event_to_ical(const json_t *event, const json_t *exceptions, struct kbuf *out, char *err, size_t errlen)
{
    return kerio_series_to_ical(event, exceptions, NULL, out, err, errlen);
}

int kerio_series_to_ical(const json_t *event, const json_t *exceptions, const json_t *exdates, struct kbuf *out,
                         char *err, size_t errlen)
{
    struct zones z = { { 0 }, 0 };
    size_t nexc = json_is_array(exceptions) ? json_array_size(exceptions) : 0;
    icalcomponent **comps = calloc(nexc + 1, sizeof *comps);
    if (!comps) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char *uid = kerio_object_uid(event);
    size_t n = 0;
    comps[n] = icalcomponent_new_vevent();
    /* The master: its own recurrenceId (if a server sent one) is meaningless. */
    json_t *master = json_deep_copy(event);
    json_object_del(master, "recurrenceId");
    json_object_del(master, "originalStart");
    fill_vevent(comps[n], master, uid, &z);
    json_decref(master);
    size_t xi;
    const json_t *xd;
    json_array_foreach(exdates, xi, xd) if (json_is_string(xd))
        add_time(comps[n], ICAL_EXDATE_PROPERTY, json_string_value(xd), &z, 0);
    n++;
    for (size_t i = 0; i < nexc; i++) {
        const json_t *x = json_array_get(exceptions, i);
        const char *rid = *kj_str(x, "recurrenceId") ? kj_str(x, "recurrenceId") : kj_str(x, "originalStart");
        if (!*rid)
            continue; /* an exception we cannot place in the series */
        comps[n] = icalcomponent_new_vevent();
        json_t *copy = json_deep_copy(x);
        json_object_del(copy, "rule");
        fill_vevent(comps[n++], copy, uid, &z);
        json_decref(copy);
    }
    free(uid);
    int rc = finish(new_vcalendar(), comps, n, &z, out, err, errlen);
    free(comps);
    return rc;
}

int kerio_task_to_ical(const json_t *task, struct kbuf *out, char *err, size_t errlen)
{
    struct zones z = { { 0 }, 0 };
    icalcomponent *td = icalcomponent_new_vtodo();
    char *uid = kerio_object_uid(task);
    icalcomponent_add_property(td, icalproperty_new_uid(uid));
    free(uid);
    add_dtstamp(td, task);
    add_time(td, ICAL_DTSTART_PROPERTY, kj_str(task, "start"), &z, 0);
    add_time(td, ICAL_DUE_PROPERTY, kj_str(task, "due"), &z, 0);
    add_time(td, ICAL_COMPLETED_PROPERTY, kj_str(task, "end"), &z, 0);
    add_text(td, ICAL_SUMMARY_PROPERTY, kj_str(task, "summary"));
    add_text(td, ICAL_LOCATION_PROPERTY, kj_str(task, "location"));
    add_text(td, ICAL_DESCRIPTION_PROPERTY, kj_str(task, "description"));
    add_categories(td, task);
    add_priority(td, task);
    const json_t *done = json_object_get(task, "done");
    int64_t pct;
    if (kj_int(done, &pct) && pct >= 0 && pct <= 100)
        icalcomponent_add_property(td, icalproperty_new_percentcomplete((int)pct));
    const char *st = kj_str(task, "status");
    if (*st) {
        icalproperty_status s = strcmp(st, "tsCompleted") == 0 ? ICAL_STATUS_COMPLETED
                              : strcmp(st, "tsInProgress") == 0 ? ICAL_STATUS_INPROCESS : ICAL_STATUS_NEEDSACTION;
        icalcomponent_add_property(td, icalproperty_new_status(s));
        if (strcmp(st, "tsWaiting") == 0 || strcmp(st, "tsDeferred") == 0)
            add_x(td, "X-KERIO-STATUS", st);
    }
    if (kj_bool(task, "isPrivate"))
        icalcomponent_add_property(td, icalproperty_new_class(ICAL_CLASS_PRIVATE));
    add_rrule(td, json_object_get(task, "rule"));
    add_alarm(td, task);
    return finish(new_vcalendar(), &td, 1, &z, out, err, errlen);
}

int kerio_note_to_ical(const json_t *note, struct kbuf *out, char *err, size_t errlen)
{
    struct zones z = { { 0 }, 0 };
    icalcomponent *j = icalcomponent_new_vjournal();
    char *uid = kerio_object_uid(note);
    icalcomponent_add_property(j, icalproperty_new_uid(uid));
    free(uid);
    add_dtstamp(j, note);
    add_time(j, ICAL_DTSTART_PROPERTY, kj_str(note, "createDate"), &z, 0);
    add_time(j, ICAL_LASTMODIFIED_PROPERTY, kj_str(note, "modifyDate"), &z, 0);
    const char *text = kj_str(note, "text");
    size_t first = strcspn(text, "\r\n");
    char *summary = strndup(text, first > 200 ? 200 : first);
    if (summary)
        add_text(j, ICAL_SUMMARY_PROPERTY, summary);
    free(summary);
    add_text(j, ICAL_DESCRIPTION_PROPERTY, text);
    add_x(j, "X-KERIO-COLOR", kj_str(note, "color"));
    const json_t *pos = json_object_get(note, "position");
    if (json_is_object(pos)) {
        char p[96];
        snprintf(p, sizeof p, "%lld,%lld,%lld,%lld", (long long)kj_int_or(pos, "xOffset", 0),
                 (long long)kj_int_or(pos, "yOffset", 0), (long long)kj_int_or(pos, "xSize", 0),
                 (long long)kj_int_or(pos, "ySize", 0));
        add_x(j, "X-KERIO-POSITION", p);
    }
    return finish(new_vcalendar(), &j, 1, &z, out, err, errlen);
}

/* ---- iCalendar → Kerio ---- */

/* A property's time as a Kerio string, keeping its zone: UTC → Z, TZID → that zone's offset at
 * that instant (Kerio's API carries offsets only), floating → floating, DATE → date. */
static int kerio_time_of(icalcomponent *cal, icalproperty *p, int end_inclusive_date, char out[24])
{
    if (!p)
        return -1;
    icalvalue *v = icalproperty_get_value(p);
    if (!v)
        return -1;
    struct icaltimetype tt = icalvalue_get_datetime(v);
    if (icaltime_is_null_time(tt))
        return -1;
    struct ktime kt = { tt.year, tt.month, tt.day, tt.hour, tt.minute, tt.second, tt.is_date, KTIME_FLOATING, 0 };
    if (tt.is_date) {
        if (end_inclusive_date)
            ktime_add_days(&kt, -1);
    } else if (icaltime_is_utc(tt)) {
        kt.zone = KTIME_UTC;
    } else {
        icalparameter *tzp = icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER);
        const char *tzid = tzp ? icalparameter_get_tzid(tzp) : NULL;
        if (tzid) {
            int sign, h, m;
            char c;
            if (strlen(tzid) == 8 && sscanf(tzid, "UTC%c%2d%2d", &c, &h, &m) == 3 && (c == '+' || c == '-')) {
                sign = c == '-' ? -1 : 1;
                kt.zone = KTIME_OFFSET;
                kt.offset_min = sign * (h * 60 + m);
            } else {
                icaltimezone *zone = icalcomponent_get_timezone(cal, tzid);
                if (!zone)
                    zone = icaltimezone_get_builtin_timezone(tzid);
                if (zone) {
                    int dst = 0;
                    int off = icaltimezone_get_utc_offset(zone, &tt, &dst);
                    kt.zone = KTIME_OFFSET;
                    kt.offset_min = off / 60;
                }
            }
        }
    }
    if (kt.zone == KTIME_OFFSET && kt.offset_min == 0)
        kt.zone = KTIME_OFFSET; /* keep "+0000" as given */
    ktime_format(&kt, out);
    return 0;
}

static const char *text_of(icalcomponent *c, icalproperty_kind k)
{
    icalproperty *p = icalcomponent_get_first_property(c, k);
    const char *s = p ? icalproperty_get_value_as_string(p) : NULL;
    if (!p)
        return "";
    /* get_value_as_string escapes; the typed getters don't. */
    switch (k) {
    case ICAL_SUMMARY_PROPERTY: return icalproperty_get_summary(p);
    case ICAL_DESCRIPTION_PROPERTY: return icalproperty_get_description(p);
    case ICAL_LOCATION_PROPERTY: return icalproperty_get_location(p);
    default: return s ? s : "";
    }
}

static void set_str(json_t *o, const char *k, const char *v)
{
    json_t *s = json_string(v ? v : "");
    json_object_set_new(o, k, s ? s : json_string(""));
}

static void rule_from_ical(json_t *o, icalcomponent *c)
{
    icalproperty *p = icalcomponent_get_first_property(c, ICAL_RRULE_PROPERTY);
    json_t *rule = json_object();
    if (!p) {
        json_object_set_new(rule, "isSet", json_false());
        json_object_set_new(o, "rule", rule);
        return;
    }
    struct icalrecurrencetype r = icalproperty_get_rrule(p);
    static const char *const freqs[] = { [ICAL_DAILY_RECURRENCE] = "Daily", [ICAL_WEEKLY_RECURRENCE] = "Weekly",
                                         [ICAL_MONTHLY_RECURRENCE] = "Monthly", [ICAL_YEARLY_RECURRENCE] = "Yearly" };
    const char *f = (r.freq >= ICAL_DAILY_RECURRENCE && r.freq <= ICAL_YEARLY_RECURRENCE) ? freqs[r.freq] : "Daily";
    json_object_set_new(rule, "isSet", json_true());
    set_str(rule, "frequency", f);
    json_t *end = json_object();
    if (!icaltime_is_null_time(r.until)) {
        struct ktime kt = { r.until.year, r.until.month, r.until.day, r.until.hour, r.until.minute, r.until.second,
                            r.until.is_date, icaltime_is_utc(r.until) ? KTIME_UTC : KTIME_FLOATING, 0 };
        char s[24];
        ktime_format(&kt, s);
        set_str(end, "type", "ByRecurrenceDate");
        set_str(end, "date", s);
    } else {
        set_str(end, "type", "ByRecurrenceNever");
    }
    json_object_set_new(rule, "endBy", end);
    json_t *pb = json_object();
    json_object_set_new(pb, "byInterval", json_integer(r.interval > 0 ? r.interval : 1));
    json_t *days = json_array(), *mdays = json_array(), *months = json_array(), *pos = json_array();
    for (int i = 0; i < ICAL_BY_DAY_SIZE && r.by_day[i] != ICAL_RECURRENCE_ARRAY_MAX; i++)
        json_array_append_new(days, json_integer(icalrecurrencetype_day_day_of_week(r.by_day[i]) - 1));
    for (int i = 0; i < ICAL_BY_MONTHDAY_SIZE && r.by_month_day[i] != ICAL_RECURRENCE_ARRAY_MAX; i++)
        json_array_append_new(mdays, json_integer(r.by_month_day[i]));
    for (int i = 0; i < ICAL_BY_MONTH_SIZE && r.by_month[i] != ICAL_RECURRENCE_ARRAY_MAX; i++)
        json_array_append_new(months, json_integer(r.by_month[i]));
    for (int i = 0; i < ICAL_BY_SETPOS_SIZE && r.by_set_pos[i] != ICAL_RECURRENCE_ARRAY_MAX; i++)
        json_array_append_new(pos, json_integer(r.by_set_pos[i]));
    json_object_set_new(pb, "byDay", days);
    json_object_set_new(pb, "byMonthDay", mdays);
    json_object_set_new(pb, "byMonth", months);
    json_object_set_new(pb, "byPosition", pos);
    json_object_set_new(rule, "preciseBy", pb);
    json_object_set_new(o, "rule", rule);
}

int kerio_ical_to_json(uint32_t kind, const char *ics, size_t len, json_t **out, char **uid_out, char *err, size_t errlen)
{
    char *text = strndup(ics, len);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    icalcomponent *cal = icalparser_parse_string(text);
    free(text);
    if (!cal) {
        snprintf(err, errlen, "content is not iCalendar");
        return -1;
    }
    icalcomponent_kind want = kind == OUTPOST_ITEM_EVENT ? ICAL_VEVENT_COMPONENT
                            : kind == OUTPOST_ITEM_TASK ? ICAL_VTODO_COMPONENT : ICAL_VJOURNAL_COMPONENT;
    icalcomponent *c = icalcomponent_isa(cal) == want ? cal : NULL;
    if (!c) {
        for (c = icalcomponent_get_first_component(cal, want); c; c = icalcomponent_get_next_component(cal, want))
            if (!icalcomponent_get_first_property(c, ICAL_RECURRENCEID_PROPERTY))
                break;
    }
    if (!c) {
        icalcomponent_free(cal);
        snprintf(err, errlen, "iCalendar object without a %s", icalcomponent_kind_to_string(want));
        return -1;
    }
    json_t *o = json_object();
    char t[24];
    icalproperty *uidp = icalcomponent_get_first_property(c, ICAL_UID_PROPERTY);
    if (uid_out)
        *uid_out = uidp ? strdup(icalproperty_get_uid(uidp)) : NULL;
    if (kind == OUTPOST_ITEM_NOTE) {
        const char *d = text_of(c, ICAL_DESCRIPTION_PROPERTY);
        set_str(o, "text", *d ? d : text_of(c, ICAL_SUMMARY_PROPERTY));
        icalproperty *x;
        for (x = icalcomponent_get_first_property(c, ICAL_X_PROPERTY); x; x = icalcomponent_get_next_property(c, ICAL_X_PROPERTY))
            if (strcmp(icalproperty_get_x_name(x), "X-KERIO-COLOR") == 0)
                set_str(o, "color", icalproperty_get_x(x));
        if (!json_object_get(o, "color"))
            set_str(o, "color", "Yellow");
        icalcomponent_free(cal);
        *out = o;
        return 0;
    }
    set_str(o, "summary", text_of(c, ICAL_SUMMARY_PROPERTY));
    set_str(o, "location", text_of(c, ICAL_LOCATION_PROPERTY));
    set_str(o, "description", text_of(c, ICAL_DESCRIPTION_PROPERTY));
    icalproperty *pr = icalcomponent_get_first_property(c, ICAL_PRIORITY_PROPERTY);
    int prio = pr ? icalproperty_get_priority(pr) : 0;
    set_str(o, "priority", prio >= 1 && prio <= 4 ? "High" : prio >= 6 ? "Low" : "Normal");
    icalproperty *cl = icalcomponent_get_first_property(c, ICAL_CLASS_PROPERTY);
    json_object_set_new(o, "isPrivate", json_boolean(cl && icalproperty_get_class(cl) != ICAL_CLASS_PUBLIC));
    json_t *cats = json_array();
    for (icalproperty *p = icalcomponent_get_first_property(c, ICAL_CATEGORIES_PROPERTY); p;
         p = icalcomponent_get_next_property(c, ICAL_CATEGORIES_PROPERTY)) {
        json_t *s = json_string(icalproperty_get_categories(p));
        if (s)
            json_array_append_new(cats, s);
    }
    json_object_set_new(o, "categories", cats);
    if (kind == OUTPOST_ITEM_EVENT) {
        icalproperty *ds = icalcomponent_get_first_property(c, ICAL_DTSTART_PROPERTY);
        if (kerio_time_of(cal, ds, 0, t) != 0) {
            json_decref(o);
            icalcomponent_free(cal);
            snprintf(err, errlen, "event without DTSTART");
            return -1;
        }
        set_str(o, "start", t);
        json_object_set_new(o, "isAllDay", json_boolean(strlen(t) == 8));
        icalproperty *de = icalcomponent_get_first_property(c, ICAL_DTEND_PROPERTY);
        if (kerio_time_of(cal, de, 1, t) != 0)
            kerio_time_of(cal, ds, 0, t);
        set_str(o, "end", t);
        icalproperty *tr = icalcomponent_get_first_property(c, ICAL_TRANSP_PROPERTY);
        set_str(o, "freeBusy", tr && icalproperty_get_transp(tr) == ICAL_TRANSP_TRANSPARENT ? "Free" : "Busy");
        json_t *atts = json_array();
        icalproperty *org = icalcomponent_get_first_property(c, ICAL_ORGANIZER_PROPERTY);
        if (org) {
            const char *u = icalproperty_get_organizer(org);
            icalparameter *cn = icalproperty_get_first_parameter(org, ICAL_CN_PARAMETER);
            json_t *a = json_object();
            set_str(a, "emailAddress", strncasecmp(u, "mailto:", 7) == 0 ? u + 7 : u);
            set_str(a, "displayName", cn ? icalparameter_get_cn(cn) : "");
            set_str(a, "role", "RoleOrganizer");
            json_array_append_new(atts, a);
        }
        for (icalproperty *p = icalcomponent_get_first_property(c, ICAL_ATTENDEE_PROPERTY); p;
             p = icalcomponent_get_next_property(c, ICAL_ATTENDEE_PROPERTY)) {
            const char *u = icalproperty_get_attendee(p);
            icalparameter *cn = icalproperty_get_first_parameter(p, ICAL_CN_PARAMETER);
            icalparameter *role = icalproperty_get_first_parameter(p, ICAL_ROLE_PARAMETER);
            icalparameter *cu = icalproperty_get_first_parameter(p, ICAL_CUTYPE_PARAMETER);
            json_t *a = json_object();
            set_str(a, "emailAddress", strncasecmp(u, "mailto:", 7) == 0 ? u + 7 : u);
            set_str(a, "displayName", cn ? icalparameter_get_cn(cn) : "");
            const char *r = "RoleRequiredAttendee";
            if (cu && icalparameter_get_cutype(cu) == ICAL_CUTYPE_ROOM)
                r = "RoleRoom";
            else if (cu && icalparameter_get_cutype(cu) == ICAL_CUTYPE_RESOURCE)
                r = "RoleEquipment";
            else if (role && icalparameter_get_role(role) == ICAL_ROLE_OPTPARTICIPANT)
                r = "RoleOptionalAttendee";
            set_str(a, "role", r);
            json_array_append_new(atts, a);
        }
        json_object_set_new(o, "attendees", atts);
        rule_from_ical(o, c);
    } else {
        if (kerio_time_of(cal, icalcomponent_get_first_property(c, ICAL_DTSTART_PROPERTY), 0, t) == 0)
            set_str(o, "start", t);
        if (kerio_time_of(cal, icalcomponent_get_first_property(c, ICAL_DUE_PROPERTY), 0, t) == 0)
            set_str(o, "due", t);
        icalproperty *pc = icalcomponent_get_first_property(c, ICAL_PERCENTCOMPLETE_PROPERTY);
        json_object_set_new(o, "done", json_integer(pc ? icalproperty_get_percentcomplete(pc) : 0));
        icalproperty *st = icalcomponent_get_first_property(c, ICAL_STATUS_PROPERTY);
        icalproperty_status s = st ? icalproperty_get_status(st) : ICAL_STATUS_NEEDSACTION;
        const char *ks = s == ICAL_STATUS_COMPLETED ? "tsCompleted" : s == ICAL_STATUS_INPROCESS ? "tsInProgress" : "tsNotStarted";
        for (icalproperty *x = icalcomponent_get_first_property(c, ICAL_X_PROPERTY); x;
             x = icalcomponent_get_next_property(c, ICAL_X_PROPERTY))
            if (strcmp(icalproperty_get_x_name(x), "X-KERIO-STATUS") == 0)
                ks = icalproperty_get_x(x);
        set_str(o, "status", ks);
    }
    icalcomponent *alarm = icalcomponent_get_first_component(c, ICAL_VALARM_COMPONENT);
    json_t *rem = json_object();
    icalproperty *trg = alarm ? icalcomponent_get_first_property(alarm, ICAL_TRIGGER_PROPERTY) : NULL;
    if (trg) {
        struct icaltriggertype tt = icalproperty_get_trigger(trg);
        json_object_set_new(rem, "isSet", json_true());
        set_str(rem, "type", "ReminderRelative");
        json_object_set_new(rem, "minutesBeforeStart", json_integer(-icaldurationtype_as_int(tt.duration) / 60));
    } else {
        json_object_set_new(rem, "isSet", json_false());
    }
    json_object_set_new(o, "reminder", rem);
    icalcomponent_free(cal);
    *out = o;
    return 0;
}
