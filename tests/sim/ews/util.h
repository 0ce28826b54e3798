/* Small helpers of the EWS simulator: aborting allocation, a growable buffer, XML text
 * escaping, base64, a deterministic PRNG and a keyed hash for opaque ids and sync states. */
#ifndef OUTPOST_SIM_EWS_UTIL_H
#define OUTPOST_SIM_EWS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

struct buf {
	char *p;
	size_t len, cap;
};
void buf_add_grow(struct buf *b, const void *data, size_t n);
/* inline when it fits: generated bodies are built a word at a time */
static inline void buf_add(struct buf *b, const void *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		buf_add_grow(b, data, n);
		return;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}
static inline void buf_puts(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}
void buf_reserve(struct buf *b, size_t extra); /* room for `extra` more bytes */
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s with &, <, >, " escaped and XML-illegal control characters dropped. */
void buf_xml(struct buf *b, const char *s);
/* <t:name>escaped text</t:name>; nothing when s is NULL. */
void buf_elem(struct buf *b, const char *name, const char *s);
char *buf_steal(struct buf *b);   /* NUL-terminated; the buffer is empty afterwards */
void buf_free(struct buf *b);

/* base64 (RFC 4648, no line breaks). decode skips whitespace; NULL on bad input. */
char *b64_encode(const void *in, size_t n);
void buf_b64(struct buf *b, const void *in, size_t n);
unsigned char *b64_decode(const char *in, size_t n, size_t *out_len);

/* splitmix64-based deterministic PRNG. */
struct rng {
	uint64_t s;
};
static inline uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}
void rng_seed(struct rng *r, uint64_t a, uint64_t b, uint64_t c);
/* inline: the generated content takes one per attachment byte */
static inline uint64_t rng_next(struct rng *r)
{
	r->s += 0x9e3779b97f4a7c15ull;
	return mix64(r->s);
}
static inline uint32_t rng_below(struct rng *r, uint32_t n)
{
	return n ? (uint32_t)(rng_next(r) % n) : 0;
}

/* 64-bit FNV-1a over bytes, keyed by `key`. */
uint64_t keyed_hash(uint64_t key, const void *p, size_t n);
/* Sealed tokens (sync states, watermarks, subscription ids): base64 of `raw` (which ends in
 * '.') followed by 16 hex digits of keyed_hash(key, raw). sealed_open returns the raw part
 * (malloc'd, NUL-terminated) when the hash matches, NULL otherwise. */
void sealed_make(uint64_t key, const char *raw, size_t n, struct buf *b);
char *sealed_open(uint64_t key, const char *tok);

/* RFC 3339 UTC "YYYY-MM-DDTHH:MM:SSZ" and back; parse returns -1 on bad input. */
void fmt_time(int64_t t, char *out, size_t n);
int parse_time(const char *s, int64_t *t);
/* RFC 5322 date "Mon, 02 Jun 2025 09:00:00 +0000". */
void fmt_rfc5322(int64_t t, char *out, size_t n);

char *read_file(const char *path, size_t *len);

static inline const char *str_or_empty(const char *s) { return s ? s : ""; }

#endif
