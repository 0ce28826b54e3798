/* Helpers of the EWS simulator (see util.h). */
#include "util.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fputs("outpost-sim-ews: out of memory\n", stderr);
		abort();
	}
	return p;
}

void *xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (!p) {
		fputs("outpost-sim-ews: out of memory\n", stderr);
		abort();
	}
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fputs("outpost-sim-ews: out of memory\n", stderr);
		abort();
	}
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static void buf_grow(struct buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

void buf_reserve(struct buf *b, size_t extra)
{
	buf_grow(b, extra);
}

void buf_add_grow(struct buf *b, const void *data, size_t n)
{
	buf_grow(b, n);
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void buf_xml(struct buf *b, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '&': buf_puts(b, "&amp;"); break;
		case '<': buf_puts(b, "&lt;"); break;
		case '>': buf_puts(b, "&gt;"); break;
		case '"': buf_puts(b, "&quot;"); break;
		default:
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
				break;
			buf_add(b, s, 1);
		}
	}
}

void buf_elem(struct buf *b, const char *name, const char *s)
{
	if (!s)
		return;
	buf_printf(b, "<%s>", name);
	buf_xml(b, s);
	buf_printf(b, "</%s>", name);
}

char *buf_steal(struct buf *b)
{
	if (!b->p)
		return xstrdup("");
	char *p = b->p;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Two base64 characters per 12 bits of input: a group of three bytes is two lookups. */
static char b64pairs[4096][2];
static pthread_once_t b64pairs_once = PTHREAD_ONCE_INIT;

static void b64pairs_fill(void)
{
	for (int i = 0; i < 4096; i++) {
		b64pairs[i][0] = b64chars[i >> 6];
		b64pairs[i][1] = b64chars[i & 63];
	}
}

void buf_b64(struct buf *b, const void *in, size_t n)
{
	const unsigned char *s = in;
	pthread_once(&b64pairs_once, b64pairs_fill);
	buf_grow(b, (n + 2) / 3 * 4);
	char *o = b->p + b->len;
	size_t i = 0;
	for (; i + 5 < n; i += 6) { /* two groups a turn */
		uint64_t v = (uint64_t)s[i] << 40 | (uint64_t)s[i + 1] << 32 | (uint64_t)s[i + 2] << 24 |
			     (uint64_t)s[i + 3] << 16 | (uint64_t)s[i + 4] << 8 | s[i + 5];
		memcpy(o, b64pairs[v >> 36], 2);
		memcpy(o + 2, b64pairs[(v >> 24) & 4095], 2);
		memcpy(o + 4, b64pairs[(v >> 12) & 4095], 2);
		memcpy(o + 6, b64pairs[v & 4095], 2);
		o += 8;
	}
	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		memcpy(o, b64pairs[v >> 12], 2);
		memcpy(o + 2, b64pairs[v & 4095], 2);
		o += 4;
	}
	if (i < n) {
		uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
		*o++ = b64chars[v >> 18];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	b->len = (size_t)(o - b->p);
	b->p[b->len] = '\0';
}

char *b64_encode(const void *in, size_t n)
{
	struct buf b = {0};
	buf_b64(&b, in, n);
	return buf_steal(&b);
}

unsigned char *b64_decode(const char *in, size_t n, size_t *out_len)
{
	unsigned char *out = xmalloc(n / 4 * 3 + 3);
	size_t o = 0;
	uint32_t v = 0;
	int bits = 0, pad = 0;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		const char *p = c ? strchr(b64chars, c) : NULL;
		if (!p || pad) {
			free(out);
			return NULL;
		}
		v = v << 6 | (uint32_t)(p - b64chars);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(v >> bits);
		}
	}
	if (pad > 2) {
		free(out);
		return NULL;
	}
	*out_len = o;
	out[o] = 0;
	return out;
}

void rng_seed(struct rng *r, uint64_t a, uint64_t b, uint64_t c)
{
	r->s = mix64(mix64(mix64(a) ^ b) ^ c);
}

uint64_t keyed_hash(uint64_t key, const void *p, size_t n)
{
	uint64_t h = 1469598103934665603ull ^ mix64(key);
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ull;
	}
	return mix64(h);
}

void fmt_time(int64_t t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void fmt_rfc5322(int64_t t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, n, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

int parse_time(const char *s, int64_t *t)
{
	int y, mo, d, h = 0, mi = 0, sec = 0;
	if (!s || sscanf(s, "%4d-%2d-%2d", &y, &mo, &d) != 3)
		return -1;
	if (s[10] == 'T' && sscanf(s + 11, "%2d:%2d:%2d", &h, &mi, &sec) < 2)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	struct tm tm = {0};
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*t = (int64_t)timegm(&tm);
	return 0;
}

char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct buf b = {0};
	char tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		buf_add(&b, tmp, n);
	fclose(f);
	if (len)
		*len = b.len;
	return buf_steal(&b);
}

void sealed_make(uint64_t key, const char *raw, size_t n, struct buf *b)
{
	char t[160];
	if (n > sizeof t - 17)
		n = sizeof t - 17;
	memcpy(t, raw, n);
	n += (size_t)snprintf(t + n, sizeof t - n, "%016" PRIx64, keyed_hash(key, raw, n));
	buf_b64(b, t, n);
}

char *sealed_open(uint64_t key, const char *tok)
{
	size_t len;
	unsigned char *raw = tok ? b64_decode(tok, strlen(tok), &len) : NULL;
	if (!raw)
		return NULL;
	char *dot = len > 17 && len < 160 ? memchr(raw + len - 17, '.', 1) : NULL;
	char want[20];
	if (dot) {
		snprintf(want, sizeof want, "%016" PRIx64, keyed_hash(key, raw, (size_t)(dot - (char *)raw) + 1));
		if (memcmp(want, dot + 1, 16) == 0 && !memchr(raw, 0, len)) {
			dot[1] = '\0';
			return (char *)raw;
		}
	}
	free(raw);
	return NULL;
}
