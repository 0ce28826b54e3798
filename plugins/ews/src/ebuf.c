/* Growable buffer, XML escaping and base64 for the EWS transport (see ebuf.h). */
#include "ebuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

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

/* OpenSSL's encoder (no line breaks), as CreateItem's streamed MimeContent uses. */
void eb_b64(struct ebuf *b, const void *data, size_t n)
{
    const unsigned char *s = data;
    if (grow(b, 0))
        return;
    b->p[b->len] = '\0';
    while (n) {
        size_t k = n > 48 * 1024 ? 48 * 1024 : n; /* a multiple of 3: no padding inside */
        if (grow(b, (k + 2) / 3 * 4 + 1))
            return;
        b->len += (size_t)EVP_EncodeBlock((unsigned char *)b->p + b->len, s, (int)k);
        b->p[b->len] = '\0';
        s += k;
        n -= k;
    }
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

/* Base64 decoding, four characters at a time through four tables, one per position in the
 * group. An alphabet character's entry holds its 6 bits already moved to where they land
 * in the three decoded bytes (byte i of the group in bits 8i..8i+7) plus 1 << 24; anything
 * else is 0. The sum of a group's four entries is then 4 << 24 plus its three bytes when
 * all four are alphabet characters, and less otherwise; such a group (whitespace, padding,
 * a bad character, a group split between two calls) goes through the one-character path,
 * which keeps the state across calls. */
#define B64_ALPHABET(X)                                                                                            \
    X('A', 0) X('B', 1) X('C', 2) X('D', 3) X('E', 4) X('F', 5) X('G', 6) X('H', 7) X('I', 8) X('J', 9)           \
    X('K', 10) X('L', 11) X('M', 12) X('N', 13) X('O', 14) X('P', 15) X('Q', 16) X('R', 17) X('S', 18)            \
    X('T', 19) X('U', 20) X('V', 21) X('W', 22) X('X', 23) X('Y', 24) X('Z', 25) X('a', 26) X('b', 27)            \
    X('c', 28) X('d', 29) X('e', 30) X('f', 31) X('g', 32) X('h', 33) X('i', 34) X('j', 35) X('k', 36)            \
    X('l', 37) X('m', 38) X('n', 39) X('o', 40) X('p', 41) X('q', 42) X('r', 43) X('s', 44) X('t', 45)            \
    X('u', 46) X('v', 47) X('w', 48) X('x', 49) X('y', 50) X('z', 51) X('0', 52) X('1', 53) X('2', 54)            \
    X('3', 55) X('4', 56) X('5', 57) X('6', 58) X('7', 59) X('8', 60) X('9', 61) X('+', 62) X('/', 63)

#define B64_ONE (UINT32_C(1) << 24)
/* byte 0 = v0 << 2 | v1 >> 4, byte 1 = (v1 & 15) << 4 | v2 >> 2, byte 2 = (v2 & 3) << 6 | v3 */
#define B64_AT0(c, v) [c] = B64_ONE + ((uint32_t)(v) << 2),
#define B64_AT1(c, v) [c] = B64_ONE + ((uint32_t)(v) >> 4) + (((uint32_t)(v) & 15) << 12),
#define B64_AT2(c, v) [c] = B64_ONE + (((uint32_t)(v) >> 2) << 8) + (((uint32_t)(v) & 3) << 22),
#define B64_AT3(c, v) [c] = B64_ONE + ((uint32_t)(v) << 16),
static const uint32_t b64at[4][256] = {{B64_ALPHABET(B64_AT0)}, {B64_ALPHABET(B64_AT1)},
                                       {B64_ALPHABET(B64_AT2)}, {B64_ALPHABET(B64_AT3)}};

size_t b64dec_run(struct b64dec *d, const char *in, size_t n, unsigned char *out)
{
    /* the state in locals: stores through `out` may alias *d as far as the compiler knows */
    const unsigned char *p = (const unsigned char *)in, *end = p + n;
    const unsigned char *last = n >= 4 ? end - 3 : p; /* a whole group starts before this */
    unsigned char *o = out;
    uint32_t v = d->v;
    int bits = d->bits, pad = d->pad, bad = d->bad;
    while (p < end) {
        if (bits == 0 && !pad) {
            while (p < last) {
                uint32_t w = b64at[0][p[0]] + b64at[1][p[1]] + b64at[2][p[2]] + b64at[3][p[3]];
                if (w >> 24 != 4)
                    break;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                memcpy(o, &w, 4); /* the three bytes and one more, overwritten next (ebuf.h) */
#else
                o[0] = (unsigned char)w;
                o[1] = (unsigned char)(w >> 8);
                o[2] = (unsigned char)(w >> 16);
#endif
                o += 3;
                p += 4;
            }
            if (p == end)
                break;
        }
        unsigned char c = *p++;
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        if (c == '=') {
            pad++;
            continue;
        }
        uint32_t e = b64at[0][c];
        if (!e || pad) {
            bad = 1;
            continue;
        }
        v = (v << 6 | (e - B64_ONE) >> 2) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *o++ = (unsigned char)(v >> bits);
        }
    }
    d->v = v;
    d->bits = bits;
    d->pad = pad;
    d->bad = bad;
    return (size_t)(o - out);
}
