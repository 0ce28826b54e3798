/* Kerio's UtcDateTime strings: compact ISO 8601 basic form. We emit "YYYYMMDDTHHMMSSZ" (and
 * "YYYYMMDD" for all-day dates) and accept Z, +hhmm, +hh:mm offsets, date-only and the extended
 * form with dashes and colons. */
#ifndef OUTPOST_SIM_KERIO_DATETIME_H
#define OUTPOST_SIM_KERIO_DATETIME_H

#include <stdint.h>

void dt_format(int64_t t, char out[20]);       /* 20240105T101500Z */
void dt_format_date(int64_t t, char out[12]);  /* 20240105 */
int dt_parse(const char *s, int64_t *out);     /* 0 on success */
int64_t dt_now(void);

#endif
