/* UtcDateTime formatting and parsing (see datetime.h). */
#include "datetime.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void digits_out(char *p, int v, int n)
{
	for (int i = n - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
}

void dt_format(int64_t t, char out[20])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	if (tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
		strftime(out, 20, "%Y%m%dT%H%M%SZ", &tm);
		return;
	}
	/* Hand-written: strftime showed up in profiles of mail listings. */
	digits_out(out, tm.tm_year + 1900, 4);
	digits_out(out + 4, tm.tm_mon + 1, 2);
	digits_out(out + 6, tm.tm_mday, 2);
	out[8] = 'T';
	digits_out(out + 9, tm.tm_hour, 2);
	digits_out(out + 11, tm.tm_min, 2);
	digits_out(out + 13, tm.tm_sec, 2);
	out[15] = 'Z';
	out[16] = 0;
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
