/* UtcDateTime formatting and parsing (see datetime.h). */
#include "datetime.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void dt_format(int64_t t, char out[20])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 20, "%Y%m%dT%H%M%SZ", &tm);
}

void dt_format_date(int64_t t, char out[12])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 12, "%Y%m%d", &tm);
}

int64_t dt_now(void)
{
	return (int64_t)time(NULL);
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return 0;
}

int dt_parse(const char *s, int64_t *out)
{
	struct tm tm = {0};
	int y, mo, d, h = 0, mi = 0, se = 0;
	const char *p = s;
	if (!s || digits(&p, 4, &y))
		return -1;
	if (*p == '-')
		p++;
	if (digits(&p, 2, &mo))
		return -1;
	if (*p == '-')
		p++;
	if (digits(&p, 2, &d))
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h))
			return -1;
		if (*p == ':')
			p++;
		if (digits(&p, 2, &mi))
			return -1;
		if (*p == ':')
			p++;
		if (isdigit((unsigned char)*p) && digits(&p, 2, &se))
			return -1;
		if (*p == '.')
			while (*++p && isdigit((unsigned char)*p))
				;
	}
	long off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om = 0;
		p++;
		if (digits(&p, 2, &oh))
			return -1;
		if (*p == ':')
			p++;
		if (*p && digits(&p, 2, &om))
			return -1;
		off = sign * (oh * 3600L + om * 60L);
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	*out = (int64_t)timegm(&tm) - off;
	return 0;
}
