/* A growable byte buffer with XML escaping, used to build requests. Allocation failure
 * sets `oom` and keeps the buffer as it was; callers check it once at the end. */
#ifndef OUTPOST_EWS_EBUF_H
#define OUTPOST_EWS_EBUF_H

#include <stddef.h>

struct ebuf {
    char *p;
    size_t len, cap;
    int oom;
};

void eb_add(struct ebuf *b, const void *data, size_t n);
void eb_puts(struct ebuf *b, const char *s);
void eb_printf(struct ebuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* XML text / attribute escaping; drops characters XML 1.0 cannot carry. */
void eb_xml(struct ebuf *b, const char *s);
void eb_elem(struct ebuf *b, const char *name, const char *text); /* nothing when text is NULL */
void eb_b64(struct ebuf *b, const void *data, size_t n);
void eb_reset(struct ebuf *b);
void eb_free(struct ebuf *b);
const char *eb_str(const struct ebuf *b); /* "" when empty */
void eb_set(struct ebuf *b, const char *s); /* replaces the contents */

/* Incremental base64 decoder (whitespace ignored); zero it to start. A character outside
 * the alphabet, or one after the padding, sets `bad` (and is skipped). */
struct b64dec {
    unsigned v;
    int bits, bad, pad;
};
/* Decodes `n` chars into out (capacity >= n*3/4+3: it may write one byte past the ones it
 * returns); returns the number of bytes decoded. */
size_t b64dec_run(struct b64dec *d, const char *in, size_t n, unsigned char *out);

#endif
