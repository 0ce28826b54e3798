/* Small helpers shared by the simulator: allocation that aborts on failure, a deterministic
 * PRNG (splitmix64), base64, random tokens and a growable byte buffer. */
#ifndef OUTPOST_SIM_KERIO_UTIL_H
#define OUTPOST_SIM_KERIO_UTIL_H

#include <stddef.h>
#include <stdint.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Deterministic PRNG: the same (seed, stream...) always gives the same sequence. */
struct rng { uint64_t s; };
uint64_t mix64(uint64_t x);
void rng_init(struct rng *r, uint64_t seed, uint64_t a, uint64_t b, uint64_t c);
uint64_t rng_next(struct rng *r);
uint32_t rng_below(struct rng *r, uint32_t n);   /* uniform in [0, n) */
double rng_unit(struct rng *r);                  /* uniform in [0, 1) */

/* Fills `n` bytes of the pseudo-random stream `key` starting at byte `off` (random access). */
void stream_bytes(uint64_t key, uint64_t off, unsigned char *out, size_t n);

/* base64 (RFC 4648, no line breaks). Results are malloc'd; decode returns NULL on bad input. */
char *base64_encode(const unsigned char *in, size_t n);
unsigned char *base64_decode(const char *in, size_t *out_len);

/* Hex token of 2*bytes characters from the OS random source. */
void random_token(char *out, size_t bytes);

static inline const char *str_or(const char *s, const char *dflt) { return s ? s : dflt; }

struct buf { char *p; size_t len, cap; };
void buf_add(struct buf *b, const void *data, size_t n);
void buf_adds(struct buf *b, const char *s);
void buf_free(struct buf *b);

/* Reads a whole file; NULL if it cannot. */
char *read_file(const char *path, size_t *len);

#endif
