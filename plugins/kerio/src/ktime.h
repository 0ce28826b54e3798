/* ktime.h — Kerio's UtcDateTime strings ("20240105T101500Z", "20200806T180000-0700",
 * "20240105" for all-day dates). The offset or zone the server gave is kept as given, so a
 * converter can write it back out without relabelling it. Pure functions, no I/O. */
#ifndef OUTPOST_KERIO_KTIME_H
#define OUTPOST_KERIO_KTIME_H

#include <stdint.h>

enum ktime_zone { KTIME_FLOATING = 0, KTIME_UTC = 1, KTIME_OFFSET = 2 };

struct ktime {
    int year, month, day, hour, minute, second;
    int date_only;      /* "YYYYMMDD" */
    int zone;           /* enum ktime_zone */
    int offset_min;     /* KTIME_OFFSET: minutes east of UTC */
};

/* Parses basic ("20240105T101500Z") or extended ("2024-01-05T10:15:00+01:00") form with Z,
 * +hhmm, +hh:mm or no zone, and date-only. Returns 0, or -1 when malformed. */
int ktime_parse(const char *s, struct ktime *t);
/* Seconds since the epoch (floating and date-only times read as UTC). */
int64_t ktime_epoch(const struct ktime *t);
/* Adds whole days to a date (for all-day end dates). */
void ktime_add_days(struct ktime *t, int days);
/* Writes t back in Kerio's basic form (date only, Z, or +hhmm). out holds 24 bytes. */
void ktime_format(const struct ktime *t, char out[24]);
/* Broken-down UTC time from epoch seconds. */
void ktime_from_epoch(int64_t secs, struct ktime *t);

#endif
