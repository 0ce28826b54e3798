/* kbuf.c — growable byte buffer. */
#include "kbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int kbuf_reserve(struct kbuf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > ((size_t)-1) / 2)
            return -1;
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int kbuf_append(struct kbuf *b, const void *p, size_t n)
{
    if (kbuf_reserve(b, n) != 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int kbuf_expect(struct kbuf *b, size_t total)
{
    if (total < b->len || total + 1 <= b->cap)
        return 0;
    char *p = realloc(b->data, total + 1);
    if (!p)
        return -1;
    if (!b->data)
        p[0] = '\0';
    b->data = p;
    b->cap = total + 1;
    return 0;
}

int kbuf_puts(struct kbuf *b, const char *s)
{
    return kbuf_append(b, s, strlen(s));
}

int kbuf_printf(struct kbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || kbuf_reserve(b, (size_t)n) != 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void kbuf_reset(struct kbuf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void kbuf_free(struct kbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *kbuf_steal(struct kbuf *b)
{
    char *p = b->data ? b->data : strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
