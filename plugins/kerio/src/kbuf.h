/* kbuf.h — a growable byte buffer, the one used by every part of the Kerio plugin. */
#ifndef OUTPOST_KERIO_KBUF_H
#define OUTPOST_KERIO_KBUF_H

#include <stdarg.h>
#include <stddef.h>

struct kbuf {
    char *data;   /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
};

int kbuf_append(struct kbuf *b, const void *p, size_t n);   /* 0 or -1 (out of memory) */
int kbuf_puts(struct kbuf *b, const char *s);
int kbuf_printf(struct kbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int kbuf_expect(struct kbuf *b, size_t total);              /* room for `total` bytes in one allocation; 0 or -1 */
void kbuf_reset(struct kbuf *b);                            /* len = 0, keeps memory */
void kbuf_free(struct kbuf *b);
char *kbuf_steal(struct kbuf *b);                           /* returns data ("" if empty), empties b */

#endif
