/* ktime.c — Kerio date-time strings. */
#include "ktime.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return d[m - 1];
}

int ktime_parse(const char *s, struct ktime *t)
{
    memset(t, 0, sizeof *t);
    if (!s)
        return -1;
    const char *p = s;
    if (digits(&p, 4, &t->year))
        return -1;
    if (*p == '-')
        p++;
    if (digits(&p, 2, &t->month))
        return -1;
    if (*p == '-')
        p++;
    if (digits(&p, 2, &t->day))
        return -1;
    if (t->month < 1 || t->month > 12 || t->day < 1 || t->day > days_in_month(t->year, t->month))
        return -1;
    if (*p == '\0') {
        t->date_only = 1;
        return 0;
    }
    if (*p != 'T' && *p != 't')
        return -1;
    p++;
    if (digits(&p, 2, &t->hour))
        return -1;
    if (*p == ':')
        p++;
    if (digits(&p, 2, &t->minute))
        return -1;
    if (*p == ':')
        p++;
    if (digits(&p, 2, &t->second))
        return -1;
    if (*p == '.') { /* fractional seconds: dropped */
        p++;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (t->hour > 23 || t->minute > 59 || t->second > 60)
        return -1;
    if (*p == '\0') {
        t->zone = KTIME_FLOATING;
        return 0;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        t->zone = KTIME_UTC;
        return 0;
    }
    if (*p != '+' && *p != '-')
        return -1;
    int sign = *p == '-' ? -1 : 1, oh, om;
    p++;
    if (digits(&p, 2, &oh))
        return -1;
    if (*p == ':')
        p++;
    if (digits(&p, 2, &om) || *p != '\0' || oh > 18 || om > 59)
        return -1;
    t->zone = KTIME_OFFSET;
    t->offset_min = sign * (oh * 60 + om);
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

int64_t ktime_epoch(const struct ktime *t)
{
    int64_t s = days_from_civil(t->year, t->month, t->day) * 86400 + t->hour * 3600 + t->minute * 60 + t->second;
    if (t->zone == KTIME_OFFSET)
        s -= (int64_t)t->offset_min * 60;
    return s;
}

void ktime_add_days(struct ktime *t, int days)
{
    int64_t z = days_from_civil(t->year, t->month, t->day) + days;
    civil_from_days(z, &t->year, &t->month, &t->day);
}

void ktime_from_epoch(int64_t secs, struct ktime *t)
{
    memset(t, 0, sizeof *t);
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    civil_from_days(days, &t->year, &t->month, &t->day);
    t->hour = (int)(rem / 3600);
    t->minute = (int)(rem % 3600 / 60);
    t->second = (int)(rem % 60);
    t->zone = KTIME_UTC;
}

void ktime_format(const struct ktime *t, char out[24])
{
    if (t->date_only) {
        snprintf(out, 24, "%04d%02d%02d", t->year % 10000, t->month % 100, t->day % 100);
        return;
    }
    int n = snprintf(out, 24, "%04d%02d%02dT%02d%02d%02d", t->year % 10000, t->month % 100, t->day % 100,
                     t->hour % 100, t->minute % 100, t->second % 100);
    if (n < 0 || n > 15)
        return;
    if (t->zone == KTIME_UTC) {
        out[15] = 'Z';
        out[16] = '\0';
    } else if (t->zone == KTIME_OFFSET) {
        int o = t->offset_min < 0 ? -t->offset_min : t->offset_min;
        snprintf(out + 15, 9, "%c%02d%02d", t->offset_min < 0 ? '-' : '+', (o / 60) % 100, o % 60);
    }
}
