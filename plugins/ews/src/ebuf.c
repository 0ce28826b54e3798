/* Growable buffer, XML escaping and base64 for the EWS transport (see ebuf.h). */
#include "ebuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(struct ebuf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void eb_add(struct ebuf *b, const void *data, size_t n)
{
    if (grow(b, n))
        return;
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void eb_puts(struct ebuf *b, const char *s)
{
    eb_add(b, s, strlen(s));
}

void eb_printf(struct ebuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || grow(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void eb_xml(struct ebuf *b, const char *s)
{
    const char *run = s;
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        const char *rep = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '"' ? "&quot;"
                          : (c < 0x20 && c != '\t' && c != '\n' && c != '\r') ? "" : NULL;
        if (!rep)
            continue;
        eb_add(b, run, (size_t)(s - run));
        eb_puts(b, rep);
        run = s + 1;
    }
    if (run && s)
        eb_add(b, run, (size_t)(s - run));
}

void eb_elem(struct ebuf *b, const char *name, const char *text)
{
    if (!text)
        return;
    eb_printf(b, "<%s>", name);
    eb_xml(b, text);
    eb_printf(b, "</%s>", name);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void eb_b64(struct ebuf *b, const void *data, size_t n)
{
    const unsigned char *s = data;
    if (grow(b, (n + 2) / 3 * 4))
        return;
    char *o = b->p + b->len;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = b64[(v >> 6) & 63];
        *o++ = b64[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0);
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    b->len = (size_t)(o - b->p);
    b->p[b->len] = '\0';
}

void eb_reset(struct ebuf *b)
{
    b->len = 0;
    b->oom = 0;
    if (b->p)
        b->p[0] = '\0';
}

void eb_free(struct ebuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

const char *eb_str(const struct ebuf *b)
{
    return b->p ? b->p : "";
}

void eb_set(struct ebuf *b, const char *s)
{
    eb_reset(b);
    if (s)
        eb_puts(b, s);
}

/* Base64 alphabet value + 1 per byte (0: not in the alphabet). */
#define B64_ROW(c, v) [c] = (v) + 1
static const unsigned char b64tab[256] = {
    B64_ROW('A', 0), B64_ROW('B', 1), B64_ROW('C', 2), B64_ROW('D', 3), B64_ROW('E', 4), B64_ROW('F', 5),
    B64_ROW('G', 6), B64_ROW('H', 7), B64_ROW('I', 8), B64_ROW('J', 9), B64_ROW('K', 10), B64_ROW('L', 11),
    B64_ROW('M', 12), B64_ROW('N', 13), B64_ROW('O', 14), B64_ROW('P', 15), B64_ROW('Q', 16), B64_ROW('R', 17),
    B64_ROW('S', 18), B64_ROW('T', 19), B64_ROW('U', 20), B64_ROW('V', 21), B64_ROW('W', 22), B64_ROW('X', 23),
    B64_ROW('Y', 24), B64_ROW('Z', 25), B64_ROW('a', 26), B64_ROW('b', 27), B64_ROW('c', 28), B64_ROW('d', 29),
    B64_ROW('e', 30), B64_ROW('f', 31), B64_ROW('g', 32), B64_ROW('h', 33), B64_ROW('i', 34), B64_ROW('j', 35),
    B64_ROW('k', 36), B64_ROW('l', 37), B64_ROW('m', 38), B64_ROW('n', 39), B64_ROW('o', 40), B64_ROW('p', 41),
    B64_ROW('q', 42), B64_ROW('r', 43), B64_ROW('s', 44), B64_ROW('t', 45), B64_ROW('u', 46), B64_ROW('v', 47),
    B64_ROW('w', 48), B64_ROW('x', 49), B64_ROW('y', 50), B64_ROW('z', 51), B64_ROW('0', 52), B64_ROW('1', 53),
    B64_ROW('2', 54), B64_ROW('3', 55), B64_ROW('4', 56), B64_ROW('5', 57), B64_ROW('6', 58), B64_ROW('7', 59),
    B64_ROW('8', 60), B64_ROW('9', 61), B64_ROW('+', 62), B64_ROW('/', 63),
};

size_t b64dec_run(struct b64dec *d, const char *in, size_t n, unsigned char *out)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0, i = 0;
    while (i < n) {
        /* fast path: four alphabet characters on a byte boundary make three bytes */
        if (d->bits == 0 && !d->pad && i + 4 <= n) {
            unsigned a = b64tab[p[i]], b = b64tab[p[i + 1]], c = b64tab[p[i + 2]], e = b64tab[p[i + 3]];
            if (a && b && c && e) {
                unsigned v = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6 | (e - 1);
                out[o] = (unsigned char)(v >> 16);
                out[o + 1] = (unsigned char)(v >> 8);
                out[o + 2] = (unsigned char)v;
                o += 3;
                i += 4;
                continue;
            }
        }
        unsigned char c = p[i++];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        if (c == '=') {
            d->pad++;
            continue;
        }
        unsigned v = b64tab[c];
        if (!v || d->pad) {
            d->bad = 1;
            continue;
        }
        d->v = (d->v << 6 | (v - 1)) & 0xffffff;
        d->bits += 6;
        if (d->bits >= 8) {
            d->bits -= 8;
            out[o++] = (unsigned char)(d->v >> d->bits);
        }
    }
    return o;
}
