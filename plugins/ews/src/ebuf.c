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

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

size_t b64dec_run(struct b64dec *d, const char *in, size_t n, unsigned char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        if (c == '=') {
            d->pad++;
            continue;
        }
        int v = b64val(c);
        if (v < 0 || d->pad) {
            d->bad = 1;
            continue;
        }
        d->v = (d->v << 6 | (unsigned)v) & 0xffffff;
        d->bits += 6;
        if (d->bits >= 8) {
            d->bits -= 8;
            out[o++] = (unsigned char)(d->v >> d->bits);
        }
    }
    return o;
}
