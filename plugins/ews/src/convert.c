/* Conversions between EWS item properties and the item model's formats: calendar items,
 * tasks and sticky notes ↔ iCalendar (libical: VEVENT with RRULE/EXDATE and RECURRENCE-ID
 * overrides, VTODO, VJOURNAL), contacts ↔ vCard 3.0 (a small reader/writer of our own:
 * escaping, folding at 75 octets). The reverse direction fills a struct ews_item, from which
 * the CreateItem element and the UpdateItem field list are written. All times are UTC. */
#include <libical/ical.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ews.h"

static const char *const weekdays[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
static const char *const months[] = {"January", "February", "March", "April", "May", "June", "July",
                                     "August", "September", "October", "November", "December"};

/* A UID for items that carry none (tasks, notes, contacts made elsewhere): derived from
 * the ItemId, so it changes when the server gives the item a new id. */
static void derived_uid(const struct ews_item *it, char *out, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = it->id ? it->id : ""; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ull;
    }
    snprintf(out, n, "ews-%016llx@outpost", (unsigned long long)h);
}

static const char *uid_of(const struct ews_item *it, char *buf, size_t n)
{
    if (it->uid && *it->uid)
        return it->uid;
    if (it->key && *it->key)
        return it->key;
    derived_uid(it, buf, n);
    return buf;
}

/* A day that Exchange gives as a point in time (an all-day event's Start and End, a
 * contact's Birthday) is midnight in the time zone it was made in, in UTC:
 * 2025-06-10T22:00:00Z is 11 June in Central Europe, 2025-06-11T04:00:00Z 11 June in New
 * York (a birthday may also come as 11:59Z). Its day is the one of the nearest UTC midnight
 * (right for offsets between -12 and +12 hours), not the UTC date (a day early for every
 * zone east of UTC). */
static int64_t nearest_midnight(int64_t t)
{
    int64_t d = t + 43200;
    return d - ((d % 86400) + 86400) % 86400;
}

static struct icaltimetype utc_time(int64_t t, int is_date)
{
    if (is_date)
        t = nearest_midnight(t);
    return icaltime_from_timet_with_zone((time_t)t, is_date, icaltimezone_get_utc_timezone());
}

static void add_rrule(icalcomponent *ev, const struct ews_item *it)
{
    if (!it->rec_pattern)
        return;
    struct icalrecurrencetype r;
    icalrecurrencetype_clear(&r);
    const char *p = it->rec_pattern;
    r.interval = (short)(it->rec_interval > 0 ? it->rec_interval : 1);
    struct tm tm;
    time_t st = (time_t)it->start;
    gmtime_r(&st, &tm);
    if (!strcmp(p, "DailyRecurrence")) {
        r.freq = ICAL_DAILY_RECURRENCE;
    } else if (!strcmp(p, "WeeklyRecurrence")) {
        r.freq = ICAL_WEEKLY_RECURRENCE;
        int k = 0;
        for (int d = 0; d < 7; d++) {
            int on = it->rec_days ? strstr(it->rec_days, weekdays[d]) != NULL : d == tm.tm_wday;
            if (it->rec_days && strstr(it->rec_days, "Weekday") && d >= 1 && d <= 5)
                on = 1;
            if (on)
                r.by_day[k++] = (short)(d + 1); /* ICAL_SUNDAY_WEEKDAY == 1 */
        }
        r.by_day[k] = ICAL_RECURRENCE_ARRAY_MAX;
    } else if (!strcmp(p, "AbsoluteMonthlyRecurrence")) {
        r.freq = ICAL_MONTHLY_RECURRENCE;
        r.by_month_day[0] = (short)(it->rec_day_of_month ? it->rec_day_of_month : tm.tm_mday);
        r.by_month_day[1] = ICAL_RECURRENCE_ARRAY_MAX;
    } else if (!strcmp(p, "AbsoluteYearlyRecurrence")) {
        r.freq = ICAL_YEARLY_RECURRENCE;
        int m = tm.tm_mon + 1;
        for (int i = 0; it->rec_month && i < 12; i++)
            if (!strcmp(it->rec_month, months[i]))
                m = i + 1;
        r.by_month[0] = (short)m;
        r.by_month[1] = ICAL_RECURRENCE_ARRAY_MAX;
        r.by_month_day[0] = (short)(it->rec_day_of_month ? it->rec_day_of_month : tm.tm_mday);
        r.by_month_day[1] = ICAL_RECURRENCE_ARRAY_MAX;
    } else {
        return; /* relative patterns: not modelled (README) */
    }
    if (it->rec_count > 0)
        r.count = it->rec_count;
    else if (it->rec_end)
        r.until = utc_time(it->rec_end / 86400 * 86400 + 86399, 0);
    icalcomponent_add_property(ev, icalproperty_new_rrule(r));
}

static void add_text(icalcomponent *c, icalproperty *(*mk)(const char *), const char *v)
{
    if (v && *v)
        icalcomponent_add_property(c, mk(v));
}

static icalcomponent *vevent(const struct ews_item *it, const char *uid, int64_t start, int64_t end)
{
    icalcomponent *ev = icalcomponent_new(ICAL_VEVENT_COMPONENT);
    icalcomponent_add_property(ev, icalproperty_new_uid(uid));
    icalcomponent_add_property(ev, icalproperty_new_dtstamp(utc_time(it->modified ? it->modified : it->start, 0)));
    icalcomponent_add_property(ev, icalproperty_new_dtstart(utc_time(start, it->all_day)));
    icalcomponent_add_property(ev, icalproperty_new_dtend(utc_time(end, it->all_day)));
    add_text(ev, icalproperty_new_summary, it->subject);
    add_text(ev, icalproperty_new_location, it->location);
    add_text(ev, icalproperty_new_description, it->body);
    return ev;
}

static const char *todo_status(const char *s, icalproperty_status *st)
{
    *st = ICAL_STATUS_NEEDSACTION;
    if (s && !strcmp(s, "InProgress"))
        *st = ICAL_STATUS_INPROCESS;
    else if (s && !strcmp(s, "Completed"))
        *st = ICAL_STATUS_COMPLETED;
    else if (s && !strcmp(s, "Deferred"))
        *st = ICAL_STATUS_CANCELLED;
    return s;
}

char *ews_to_ical(const struct ews_item *it, uint32_t kind)
{
    char ubuf[64];
    const char *uid = uid_of(it, ubuf, sizeof ubuf);
    icalcomponent *cal = icalcomponent_new(ICAL_VCALENDAR_COMPONENT);
    icalcomponent_add_property(cal, icalproperty_new_version("2.0"));
    icalcomponent_add_property(cal, icalproperty_new_prodid("-//Outpost//EWS transport//EN"));
    if (kind == OUTPOST_ITEM_EVENT) {
        icalcomponent *ev = vevent(it, uid, it->start, it->end);
        add_rrule(ev, it);
        for (int i = 0; i < it->ndeleted; i++) {
            struct icaldatetimeperiodtype dp;
            memset(&dp, 0, sizeof dp);
            dp.time = utc_time(it->deleted[i], it->all_day);
            dp.period = icalperiodtype_null_period();
            icalcomponent_add_property(ev, icalproperty_new_exdate(dp.time));
        }
        icalcomponent_add_component(cal, ev);
        for (int i = 0; i < it->nocc; i++) {
            icalcomponent *ov = vevent(it, uid, it->occ[i].start, it->occ[i].end);
            icalcomponent_add_property(ov, icalproperty_new_recurrenceid(utc_time(it->occ[i].orig, it->all_day)));
            icalcomponent_add_component(cal, ov);
        }
    } else if (kind == OUTPOST_ITEM_TASK) {
        icalcomponent *td = icalcomponent_new(ICAL_VTODO_COMPONENT);
        icalcomponent_add_property(td, icalproperty_new_uid(uid));
        icalcomponent_add_property(td, icalproperty_new_dtstamp(utc_time(it->modified ? it->modified : it->start, 0)));
        add_text(td, icalproperty_new_summary, it->subject);
        add_text(td, icalproperty_new_description, it->body);
        if (it->start)
            icalcomponent_add_property(td, icalproperty_new_dtstart(utc_time(it->start, 0)));
        if (it->due)
            icalcomponent_add_property(td, icalproperty_new_due(utc_time(it->due, 0)));
        icalproperty_status st;
        todo_status(it->status, &st);
        icalcomponent_add_property(td, icalproperty_new_status(st));
        icalcomponent_add_property(td, icalproperty_new_percentcomplete(it->percent));
        if (it->completed)
            icalcomponent_add_property(td, icalproperty_new_completed(utc_time(it->completed, 0)));
        icalcomponent_add_component(cal, td);
    } else {
        icalcomponent *j = icalcomponent_new(ICAL_VJOURNAL_COMPONENT);
        int64_t when = it->modified ? it->modified : it->received;
        icalcomponent_add_property(j, icalproperty_new_uid(uid));
        icalcomponent_add_property(j, icalproperty_new_dtstamp(utc_time(when, 0)));
        icalcomponent_add_property(j, icalproperty_new_dtstart(utc_time(when, 0)));
        add_text(j, icalproperty_new_summary, it->subject);
        add_text(j, icalproperty_new_description, it->body);
        icalcomponent_add_component(cal, j);
    }
    char *s = icalcomponent_as_ical_string_r(cal);
    icalcomponent_free(cal);
    return s;
}

/* ---- vCard 3.0 ---- */

static void vc_line(struct ebuf *b, const char *name, const char *value, int escape)
{
    struct ebuf l = {0};
    eb_puts(&l, name);
    eb_puts(&l, ":");
    for (const char *p = value; *p; p++) {
        if (escape && (*p == ',' || *p == ';' || *p == '\\'))
            eb_add(&l, "\\", 1);
        if (*p == '\n') {
            eb_puts(&l, "\\n");
            continue;
        }
        if (*p == '\r')
            continue;
        eb_add(&l, p, 1);
    }
    /* fold at 75 octets without splitting a UTF-8 sequence */
    const char *s = eb_str(&l);
    size_t n = l.len, col = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t seq = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        if (col + seq > 75) {
            eb_puts(b, "\r\n ");
            col = 1;
        }
        eb_add(b, s + i, 1);
        col++;
        for (size_t k = 1; k < seq && i + 1 < n; k++, col++)
            eb_add(b, s + ++i, 1);
    }
    eb_puts(b, "\r\n");
    eb_free(&l);
}

static void vc_escaped(struct ebuf *out, const char *v)
{
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == ',' || *p == ';' || *p == '\\')
            eb_add(out, "\\", 1);
        eb_add(out, p, 1);
    }
}

char *ews_to_vcard(const struct ews_item *it)
{
    struct ebuf b = {0};
    char ubuf[64];
    eb_puts(&b, "BEGIN:VCARD\r\nVERSION:3.0\r\n");
    vc_line(&b, "UID", uid_of(it, ubuf, sizeof ubuf), 1);
    const char *fn = it->display && *it->display ? it->display : it->subject ? it->subject : "";
    vc_line(&b, "FN", fn, 1);
    struct ebuf n = {0};
    vc_escaped(&n, it->surname);
    eb_puts(&n, ";");
    vc_escaped(&n, it->given);
    eb_puts(&n, ";;;");
    vc_line(&b, "N", eb_str(&n), 0);
    eb_free(&n);
    if (it->company)
        vc_line(&b, "ORG", it->company, 1);
    if (it->job)
        vc_line(&b, "TITLE", it->job, 1);
    for (int i = 0; i < 3; i++)
        if (it->email[i] && *it->email[i])
            vc_line(&b, i ? "EMAIL;TYPE=INTERNET" : "EMAIL;TYPE=INTERNET,PREF", it->email[i], 1);
    if (it->phone_business)
        vc_line(&b, "TEL;TYPE=WORK,VOICE", it->phone_business, 1);
    if (it->phone_mobile)
        vc_line(&b, "TEL;TYPE=CELL", it->phone_mobile, 1);
    if (it->phone_home)
        vc_line(&b, "TEL;TYPE=HOME,VOICE", it->phone_home, 1);
    int64_t born;
    if (it->birthday && !ews_parse_time(it->birthday, &born)) {
        char bd[16];
        time_t day = (time_t)nearest_midnight(born);
        struct tm tm;
        gmtime_r(&day, &tm);
        strftime(bd, sizeof bd, "%Y-%m-%d", &tm);
        vc_line(&b, "BDAY", bd, 0);
    }
    if (it->body && *it->body)
        vc_line(&b, "NOTE", it->body, 1);
    eb_puts(&b, "END:VCARD\r\n");
    if (b.oom) {
        eb_free(&b);
        return NULL;
    }
    return b.p;
}

/* Splits a raw vCard value at unescaped `sep` and unescapes the field `idx` (malloc'd). */
static char *vc_field(const char *v, char sep, int idx)
{
    struct ebuf out = {0};
    int cur = 0;
    for (const char *p = v; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            if (cur == idx)
                eb_add(&out, *p == 'n' || *p == 'N' ? "\n" : p, 1);
            continue;
        }
        if (*p == sep) {
            cur++;
            continue;
        }
        if (cur == idx)
            eb_add(&out, p, 1);
    }
    if (out.oom) {
        eb_free(&out);
        return NULL;
    }
    return out.p ? out.p : strdup("");
}

static void set(char **slot, char *v)
{
    free(*slot);
    *slot = v;
}

static int parse_vcard(const char *content, struct ews_item *it, const char **why)
{
    /* unfold */
    struct ebuf u = {0};
    for (const char *p = content; *p; p++) {
        if ((*p == '\r' && p[1] == '\n' && (p[2] == ' ' || p[2] == '\t'))) {
            p += 2;
            continue;
        }
        if (*p == '\n' && (p[1] == ' ' || p[1] == '\t')) {
            p += 1;
            continue;
        }
        eb_add(&u, p, 1);
    }
    if (u.oom || !u.p || !strstr(u.p, "BEGIN:VCARD")) {
        eb_free(&u);
        *why = "not a vCard";
        return -1;
    }
    int nemail = 0;
    char *save = NULL;
    for (char *line = strtok_r(u.p, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
        char *colon = NULL;
        int q = 0;
        for (char *p = line; *p; p++) {
            if (*p == '"')
                q = !q;
            if (*p == ':' && !q) {
                colon = p;
                break;
            }
        }
        if (!colon)
            continue;
        *colon = '\0';
        const char *value = colon + 1;
        char *params = strchr(line, ';');
        if (params)
            *params++ = '\0';
        char *dot = strchr(line, '.'); /* item1.EMAIL */
        const char *name = dot ? dot + 1 : line;
        if (!strcasecmp(name, "FN"))
            set(&it->display, vc_field(value, '\0', 0));
        else if (!strcasecmp(name, "N")) {
            set(&it->surname, vc_field(value, ';', 0));
            set(&it->given, vc_field(value, ';', 1));
        } else if (!strcasecmp(name, "ORG"))
            set(&it->company, vc_field(value, ';', 0));
        else if (!strcasecmp(name, "TITLE"))
            set(&it->job, vc_field(value, '\0', 0));
        else if (!strcasecmp(name, "UID"))
            set(&it->uid, vc_field(value, '\0', 0));
        else if (!strcasecmp(name, "NOTE"))
            set(&it->body, vc_field(value, '\0', 0));
        else if (!strcasecmp(name, "BDAY"))
            set(&it->birthday, vc_field(value, '\0', 0));
        else if (!strcasecmp(name, "EMAIL") && nemail < 3)
            set(&it->email[nemail++], vc_field(value, '\0', 0));
        else if (!strcasecmp(name, "TEL")) {
            char *v = vc_field(value, '\0', 0);
            const char *pr = params ? params : "";
            char up[256];
            size_t i;
            for (i = 0; pr[i] && i + 1 < sizeof up; i++)
                up[i] = (char)(pr[i] >= 'a' && pr[i] <= 'z' ? pr[i] - 32 : pr[i]);
            up[i] = '\0';
            if (strstr(up, "CELL"))
                set(&it->phone_mobile, v);
            else if (strstr(up, "HOME"))
                set(&it->phone_home, v);
            else if (!it->phone_business)
                set(&it->phone_business, v);
            else
                free(v);
        }
    }
    eb_free(&u);
    return 0;
}

/* ---- iCalendar → item ---- */

static int64_t ical_utc(struct icaltimetype t)
{
    const icaltimezone *z = t.zone ? t.zone : icaltimezone_get_utc_timezone();
    return (int64_t)icaltime_as_timet_with_zone(t, z);
}

static void rrule_to_item(struct icalrecurrencetype r, struct ews_item *it)
{
    static const char *const pat[] = {[ICAL_DAILY_RECURRENCE] = "DailyRecurrence",
                                      [ICAL_WEEKLY_RECURRENCE] = "WeeklyRecurrence",
                                      [ICAL_MONTHLY_RECURRENCE] = "AbsoluteMonthlyRecurrence",
                                      [ICAL_YEARLY_RECURRENCE] = "AbsoluteYearlyRecurrence"};
    if (r.freq < ICAL_DAILY_RECURRENCE || r.freq > ICAL_YEARLY_RECURRENCE)
        return;
    it->rec_pattern = strdup(pat[r.freq]);
    it->rec_interval = r.interval > 0 ? r.interval : 1;
    struct ebuf days = {0};
    for (int i = 0; i < ICAL_BY_DAY_SIZE && r.by_day[i] != ICAL_RECURRENCE_ARRAY_MAX; i++) {
        int d = icalrecurrencetype_day_day_of_week(r.by_day[i]);
        if (d >= 1 && d <= 7)
            eb_printf(&days, "%s%s", days.len ? " " : "", weekdays[d - 1]);
    }
    if (days.len)
        it->rec_days = days.p;
    else
        eb_free(&days);
    if (r.by_month_day[0] != ICAL_RECURRENCE_ARRAY_MAX && r.by_month_day[0] > 0)
        it->rec_day_of_month = r.by_month_day[0];
    if (r.by_month[0] != ICAL_RECURRENCE_ARRAY_MAX && r.by_month[0] >= 1 && r.by_month[0] <= 12)
        it->rec_month = strdup(months[r.by_month[0] - 1]);
    if (r.count > 0)
        it->rec_count = r.count;
    else if (!icaltime_is_null_time(r.until))
        it->rec_end = ical_utc(r.until);
    it->rec_start = it->start;
}

static const char *text_prop(icalcomponent *c, icalproperty_kind k)
{
    icalproperty *p = icalcomponent_get_first_property(c, k);
    return p ? icalproperty_get_value_as_string(p) : NULL;
}

static char *dup_text(icalcomponent *c, icalproperty_kind k)
{
    icalproperty *p = icalcomponent_get_first_property(c, k);
    if (!p)
        return NULL;
    icalvalue *v = icalproperty_get_value(p);
    const char *s = v && icalvalue_isa(v) == ICAL_TEXT_VALUE ? icalvalue_get_text(v) : icalproperty_get_value_as_string(p);
    return s ? strdup(s) : NULL;
}

static int parse_ical(uint32_t kind, const char *content, struct ews_item *it, const char **why)
{
    icalcomponent *cal = icalparser_parse_string(content);
    if (!cal) {
        *why = "not iCalendar";
        return -1;
    }
    icalcomponent_kind want = kind == OUTPOST_ITEM_EVENT ? ICAL_VEVENT_COMPONENT
                              : kind == OUTPOST_ITEM_TASK ? ICAL_VTODO_COMPONENT : ICAL_VJOURNAL_COMPONENT;
    icalcomponent *c = icalcomponent_isa(cal) == want ? cal : NULL;
    for (icalcomponent *x = icalcomponent_get_first_component(cal, want); x && !c;
         x = icalcomponent_get_next_component(cal, want))
        if (!icalcomponent_get_first_property(x, ICAL_RECURRENCEID_PROPERTY))
            c = x;
    if (!c) {
        icalcomponent_free(cal);
        *why = "no VEVENT/VTODO/VJOURNAL of the item's kind";
        return -1;
    }
    it->subject = dup_text(c, ICAL_SUMMARY_PROPERTY);
    it->body = dup_text(c, ICAL_DESCRIPTION_PROPERTY);
    it->location = dup_text(c, ICAL_LOCATION_PROPERTY);
    it->uid = dup_text(c, ICAL_UID_PROPERTY);
    if (kind == OUTPOST_ITEM_EVENT) {
        struct icaltimetype s = icalcomponent_get_dtstart(c), e = icalcomponent_get_dtend(c);
        if (icaltime_is_null_time(s)) {
            icalcomponent_free(cal);
            *why = "VEVENT without DTSTART";
            return -1;
        }
        it->all_day = s.is_date;
        it->start = ical_utc(s);
        it->end = icaltime_is_null_time(e) ? it->start + (s.is_date ? 86400 : 3600) : ical_utc(e);
        icalproperty *rr = icalcomponent_get_first_property(c, ICAL_RRULE_PROPERTY);
        if (rr)
            rrule_to_item(icalproperty_get_rrule(rr), it);
    } else if (kind == OUTPOST_ITEM_TASK) {
        icalproperty *p;
        if ((p = icalcomponent_get_first_property(c, ICAL_DTSTART_PROPERTY)))
            it->start = ical_utc(icalproperty_get_dtstart(p));
        if ((p = icalcomponent_get_first_property(c, ICAL_DUE_PROPERTY)))
            it->due = ical_utc(icalproperty_get_due(p));
        if ((p = icalcomponent_get_first_property(c, ICAL_COMPLETED_PROPERTY)))
            it->completed = ical_utc(icalproperty_get_completed(p));
        if ((p = icalcomponent_get_first_property(c, ICAL_PERCENTCOMPLETE_PROPERTY)))
            it->percent = icalproperty_get_percentcomplete(p);
        /* Exchange keeps Status, PercentComplete and CompleteDate consistent, the last one
         * written deciding (the Status reference: NotStarted resets the percentage to 0,
         * Completed sets it to 100): without a STATUS, or NEEDS-ACTION, the status follows
         * the percentage so that writing both loses neither */
        const char *st = text_prop(c, ICAL_STATUS_PROPERTY);
        int pct = it->percent;
        const char *derived = pct >= 100 ? "Completed" : pct > 0 ? "InProgress" : "NotStarted";
        it->status = strdup(!st || !strcasecmp(st, "NEEDS-ACTION") ? derived
                            : !strcasecmp(st, "IN-PROCESS") ? "InProgress"
                            : !strcasecmp(st, "COMPLETED") ? "Completed"
                            : !strcasecmp(st, "CANCELLED") ? "Deferred" : derived);
        if (it->status && !strcmp(it->status, "Completed"))
            it->percent = 100;
    }
    icalcomponent_free(cal);
    return 0;
}

static int content_parse(uint32_t kind, const char *content, struct ews_item *it, const char **why)
{
    memset(it, 0, sizeof *it);
    if (!content) {
        *why = "no content";
        return -1;
    }
    return kind == OUTPOST_ITEM_CONTACT ? parse_vcard(content, it, why) : parse_ical(kind, content, it, why);
}

char *ews_content_uid(uint32_t kind, const char *content)
{
    struct ews_item it;
    const char *why;
    if (content_parse(kind, content, &it, &why)) {
        ews_item_free(&it);
        return NULL;
    }
    char *uid = it.uid;
    it.uid = NULL;
    ews_item_free(&it);
    return uid;
}

/* ---- item → EWS XML ---- */

static void time_el(struct ebuf *b, const char *name, int64_t t)
{
    char s[32];
    ews_fmt_time(t, s, sizeof s);
    eb_printf(b, "<t:%s>%s</t:%s>", name, s, name);
}

static void body_el(struct ebuf *b, const char *body)
{
    if (!body)
        return;
    eb_puts(b, "<t:Body BodyType=\"Text\">");
    eb_xml(b, body);
    eb_puts(b, "</t:Body>");
}

static void key_el(struct ebuf *b, const char *key)
{
    if (!key)
        return;
    eb_puts(b, "<t:ExtendedProperty><t:ExtendedFieldURI DistinguishedPropertySetId=\"PublicStrings\" "
               "PropertyName=\"OutpostKey\" PropertyType=\"String\"/><t:Value>");
    eb_xml(b, key);
    eb_puts(b, "</t:Value></t:ExtendedProperty>");
}

static void recurrence_el(struct ebuf *b, const struct ews_item *it)
{
    struct tm tm;
    time_t st = (time_t)it->start;
    gmtime_r(&st, &tm);
    const char *p = it->rec_pattern;
    eb_printf(b, "<t:Recurrence><t:%s>", p);
    if (strcmp(p, "AbsoluteYearlyRecurrence") != 0)
        eb_printf(b, "<t:Interval>%d</t:Interval>", it->rec_interval > 0 ? it->rec_interval : 1);
    if (!strcmp(p, "WeeklyRecurrence"))
        eb_printf(b, "<t:DaysOfWeek>%s</t:DaysOfWeek>", it->rec_days ? it->rec_days : weekdays[tm.tm_wday]);
    if (!strcmp(p, "AbsoluteMonthlyRecurrence") || !strcmp(p, "AbsoluteYearlyRecurrence"))
        eb_printf(b, "<t:DayOfMonth>%d</t:DayOfMonth>", it->rec_day_of_month ? it->rec_day_of_month : tm.tm_mday);
    if (!strcmp(p, "AbsoluteYearlyRecurrence"))
        eb_printf(b, "<t:Month>%s</t:Month>", it->rec_month ? it->rec_month : months[tm.tm_mon]);
    eb_printf(b, "</t:%s>", p);
    char sd[16];
    strftime(sd, sizeof sd, "%Y-%m-%d", &tm);
    if (it->rec_count > 0) {
        eb_printf(b, "<t:NumberedRecurrence><t:StartDate>%s</t:StartDate><t:NumberOfOccurrences>%d"
                     "</t:NumberOfOccurrences></t:NumberedRecurrence>", sd, it->rec_count);
    } else if (it->rec_end) {
        char ed[16];
        time_t et = (time_t)it->rec_end;
        struct tm etm;
        gmtime_r(&et, &etm);
        strftime(ed, sizeof ed, "%Y-%m-%d", &etm);
        eb_printf(b, "<t:EndDateRecurrence><t:StartDate>%s</t:StartDate><t:EndDate>%s</t:EndDate>"
                     "</t:EndDateRecurrence>", sd, ed);
    } else {
        eb_printf(b, "<t:NoEndRecurrence><t:StartDate>%s</t:StartDate></t:NoEndRecurrence>", sd);
    }
    eb_puts(b, "</t:Recurrence>");
}

/* One settable field: its FieldURI (or IndexedFieldURI with index), its element XML, and
 * whether an absent value may be deleted. */
struct field {
    const char *uri, *index;
    struct ebuf xml;
    int present, deletable;
};

#define MAXF 24

static struct field *addf(struct field *f, int *n, const char *uri, const char *index, int deletable)
{
    struct field *x = &f[(*n)++];
    memset(x, 0, sizeof *x);
    x->uri = uri;
    x->index = index;
    x->deletable = deletable;
    return x;
}

static void text_field(struct field *f, int *n, const char *uri, const char *el, const char *v, int deletable)
{
    struct field *x = addf(f, n, uri, NULL, deletable);
    if (v && *v) {
        x->present = 1;
        eb_elem(&x->xml, el, v);
    }
}

static const char *element_of(uint32_t kind)
{
    return kind == OUTPOST_ITEM_EVENT ? "CalendarItem" : kind == OUTPOST_ITEM_CONTACT ? "Contact"
           : kind == OUTPOST_ITEM_TASK ? "Task" : "Message";
}

/* The fields of an item in schema order. */
static int fields_of(uint32_t kind, const struct ews_item *it, struct field *f)
{
    int n = 0;
    struct field *x;
    if (kind == OUTPOST_ITEM_NOTE) {
        x = addf(f, &n, "item:ItemClass", NULL, 0);
        x->present = 1;
        eb_puts(&x->xml, "<t:ItemClass>IPM.StickyNote</t:ItemClass>");
    }
    if (kind != OUTPOST_ITEM_CONTACT)
        text_field(f, &n, "item:Subject", "t:Subject", it->subject ? it->subject : "", 0);
    x = addf(f, &n, "item:Body", NULL, 1);
    if (it->body && *it->body) {
        x->present = 1;
        body_el(&x->xml, it->body);
    }
    switch (kind) {
    case OUTPOST_ITEM_EVENT:
        text_field(f, &n, "calendar:UID", "t:UID", it->uid, 0);
        x = addf(f, &n, "calendar:Start", NULL, 0);
        x->present = 1;
        time_el(&x->xml, "Start", it->start);
        x = addf(f, &n, "calendar:End", NULL, 0);
        x->present = 1;
        time_el(&x->xml, "End", it->end);
        x = addf(f, &n, "calendar:IsAllDayEvent", NULL, 0);
        x->present = 1;
        eb_printf(&x->xml, "<t:IsAllDayEvent>%s</t:IsAllDayEvent>", it->all_day ? "true" : "false");
        text_field(f, &n, "calendar:Location", "t:Location", it->location, 1);
        x = addf(f, &n, "calendar:Recurrence", NULL, 1);
        if (it->rec_pattern) {
            x->present = 1;
            recurrence_el(&x->xml, it);
        }
        break;
    case OUTPOST_ITEM_CONTACT: {
        text_field(f, &n, "contacts:FileAs", "t:FileAs", it->display, 0);
        text_field(f, &n, "contacts:DisplayName", "t:DisplayName", it->display, 0);
        text_field(f, &n, "contacts:GivenName", "t:GivenName", it->given, 1);
        text_field(f, &n, "contacts:CompanyName", "t:CompanyName", it->company, 1);
        static const char *const ek[] = {"EmailAddress1", "EmailAddress2", "EmailAddress3"};
        for (int i = 0; i < 3; i++) {
            x = addf(f, &n, "contacts:EmailAddress", ek[i], 1);
            if (it->email[i] && *it->email[i]) {
                x->present = 1;
                eb_printf(&x->xml, "<t:Entry Key=\"%s\">", ek[i]);
                eb_xml(&x->xml, it->email[i]);
                eb_puts(&x->xml, "</t:Entry>");
            }
        }
        const char *pv[] = {it->phone_business, it->phone_home, it->phone_mobile};
        static const char *const pk[] = {"BusinessPhone", "HomePhone", "MobilePhone"};
        for (int i = 0; i < 3; i++) {
            x = addf(f, &n, "contacts:PhoneNumber", pk[i], 1);
            if (pv[i] && *pv[i]) {
                x->present = 1;
                eb_printf(&x->xml, "<t:Entry Key=\"%s\">", pk[i]);
                eb_xml(&x->xml, pv[i]);
                eb_puts(&x->xml, "</t:Entry>");
            }
        }
        x = addf(f, &n, "contacts:Birthday", NULL, 1);
        if (it->birthday && strlen(it->birthday) >= 8) {
            const char *b = it->birthday;
            char d[16];
            if (strlen(b) == 8 && !strchr(b, '-'))
                snprintf(d, sizeof d, "%.4s-%.2s-%.2s", b, b + 4, b + 6);
            else
                snprintf(d, sizeof d, "%.10s", b);
            x->present = 1;
            eb_printf(&x->xml, "<t:Birthday>%sT00:00:00Z</t:Birthday>", d);
        }
        text_field(f, &n, "contacts:JobTitle", "t:JobTitle", it->job, 1);
        text_field(f, &n, "contacts:Surname", "t:Surname", it->surname, 1);
        break;
    }
    case OUTPOST_ITEM_TASK:
        x = addf(f, &n, "task:DueDate", NULL, 1);
        if (it->due) {
            x->present = 1;
            time_el(&x->xml, "DueDate", it->due);
        }
        x = addf(f, &n, "task:PercentComplete", NULL, 0);
        x->present = 1;
        eb_printf(&x->xml, "<t:PercentComplete>%d</t:PercentComplete>", it->percent < 0 ? 0 : it->percent > 100 ? 100 : it->percent);
        x = addf(f, &n, "task:StartDate", NULL, 1);
        if (it->start) {
            x->present = 1;
            time_el(&x->xml, "StartDate", it->start);
        }
        text_field(f, &n, "task:Status", "t:Status", it->status ? it->status : "NotStarted", 0);
        break;
    default:
        break;
    }
    return n;
}

static void free_fields(struct field *f, int n)
{
    for (int i = 0; i < n; i++)
        eb_free(&f[i].xml);
}

int ews_item_xml(uint32_t kind, const char *content, const char *key, struct ebuf *out, const char **why)
{
    struct ews_item it;
    if (content_parse(kind, content, &it, why)) {
        ews_item_free(&it);
        return -1;
    }
    struct field f[MAXF];
    int n = fields_of(kind, &it, f);
    const char *el = element_of(kind);
    eb_printf(out, "<t:%s>", el);
    /* item-level fields, then the extended property, then the type's own fields */
    int i = 0;
    for (; i < n && (!strncmp(f[i].uri, "item:", 5)); i++)
        if (f[i].present)
            eb_puts(out, eb_str(&f[i].xml));
    key_el(out, key);
    /* indexed entries (EmailAddresses, PhoneNumbers) share one wrapper element: open it
     * at the first present entry, close it at the first present field of another kind */
    static const char *const wraps[][2] = {{"contacts:EmailAddress", "EmailAddresses"},
                                           {"contacts:PhoneNumber", "PhoneNumbers"}};
    const char *open = NULL;
    for (; i < n; i++) {
        if (!f[i].present)
            continue;
        const char *w = NULL;
        for (size_t k = 0; k < sizeof wraps / sizeof *wraps; k++)
            if (!strcmp(f[i].uri, wraps[k][0]))
                w = wraps[k][1];
        if (open && open != w) {
            eb_printf(out, "</t:%s>", open);
            open = NULL;
        }
        if (w && !open) {
            eb_printf(out, "<t:%s>", w);
            open = w;
        }
        eb_puts(out, eb_str(&f[i].xml));
    }
    if (open)
        eb_printf(out, "</t:%s>", open);
    eb_printf(out, "</t:%s>", el);
    free_fields(f, n);
    ews_item_free(&it);
    return out->oom ? -1 : 0;
}

int ews_update_xml(uint32_t kind, const char *content, struct ebuf *out, const char **why)
{
    struct ews_item it;
    if (content_parse(kind, content, &it, why)) {
        ews_item_free(&it);
        return -1;
    }
    struct field f[MAXF];
    int n = fields_of(kind, &it, f);
    const char *el = element_of(kind);
    for (int i = 0; i < n; i++) {
        struct field *x = &f[i];
        if (!x->present && !x->deletable)
            continue;
        if (!strcmp(x->uri, "item:ItemClass") || !strcmp(x->uri, "calendar:UID"))
            continue; /* set at creation */
        struct ebuf uri = {0};
        if (x->index)
            eb_printf(&uri, "<t:IndexedFieldURI FieldURI=\"%s\" FieldIndex=\"%s\"/>", x->uri, x->index);
        else
            eb_printf(&uri, "<t:FieldURI FieldURI=\"%s\"/>", x->uri);
        if (!x->present) {
            eb_printf(out, "<t:DeleteItemField>%s</t:DeleteItemField>", eb_str(&uri));
        } else {
            const char *wrap = !strcmp(x->uri, "contacts:EmailAddress") ? "EmailAddresses"
                               : !strcmp(x->uri, "contacts:PhoneNumber") ? "PhoneNumbers" : NULL;
            eb_printf(out, "<t:SetItemField>%s<t:%s>", eb_str(&uri), el);
            if (wrap)
                eb_printf(out, "<t:%s>", wrap);
            eb_puts(out, eb_str(&x->xml));
            if (wrap)
                eb_printf(out, "</t:%s>", wrap);
            eb_printf(out, "</t:%s></t:SetItemField>", el);
        }
        eb_free(&uri);
    }
    free_fields(f, n);
    ews_item_free(&it);
    return out->oom ? -1 : 0;
}
