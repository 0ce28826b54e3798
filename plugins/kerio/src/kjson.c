/* kjson.c — json_loadb for replies that carry mail bodies (see kerio.h).
 *
 * jansson reads strings one byte at a time through its stream layer, about 100 instructions
 * per byte (20-35 MB/s on this project's machines), and a Mails.getById reply is mostly string
 * bytes: the text and HTML bodies. This pass finds every string *value* of LONG_STRING raw
 * bytes or more, checks and decodes it here with jansson's rules (escapes, \u surrogate
 * pairs, UTF-8 as utf8_check_full accepts it, no control characters, no \u0000), and hands
 * jansson the text with a placeholder in its place: jansson still parses all of the
 * structure, every key, number and short string, and the decoded strings are put back into
 * its tree. Whenever this pass or jansson refuses the input, plain json_loadb runs on the
 * original bytes, so a refusal and its message are always jansson's own. The fuzz target
 * kerio_reply_fuzz checks that both ways give equal trees.
 *
 * A placeholder is "\u0000" followed by the decimal index of the string: parsed with
 * JSON_ALLOW_NUL it is a string starting with NUL, which no other string can be (this pass
 * refuses \u0000 anywhere, leaving it to jansson's own error). */
#include "kerio.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LONG_STRING 48

/* 0 plain byte, 1 quote, 2 backslash, 3 control character, 4 non-ASCII */
static const unsigned char cls[256] = {
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

/* Length of the UTF-8 sequence at p (p < end, *p >= 0x80) as jansson accepts it: no
 * overlong forms, no surrogates, nothing above U+10FFFF. 0 when invalid. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned v;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    return n;
}

static int hex4(const unsigned char *p, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        *v = (*v << 4) | d;
    }
    return 0;
}

static int put_utf8(struct kbuf *b, unsigned v)
{
    char u[4];
    size_t n;
    if (v < 0x80) {
        u[0] = (char)v;
        n = 1;
    } else if (v < 0x800) {
        u[0] = (char)(0xC0 | (v >> 6));
        u[1] = (char)(0x80 | (v & 0x3F));
        n = 2;
    } else if (v < 0x10000) {
        u[0] = (char)(0xE0 | (v >> 12));
        u[1] = (char)(0x80 | ((v >> 6) & 0x3F));
        u[2] = (char)(0x80 | (v & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (v >> 18));
        u[1] = (char)(0x80 | ((v >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((v >> 6) & 0x3F));
        u[3] = (char)(0x80 | (v & 0x3F));
        n = 4;
    }
    return kbuf_append(b, u, n);
}

/* Non-zero when one of the 8 bytes of w is a quote, a backslash, below 0x20 or above 0x7F
 * (the usual "has a byte less than n / equal to c" word tricks: exact as a yes/no). */
static inline uint64_t special8(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    return (w | ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) & high;
}

/* Scans the string whose opening quote is at p[-1]: on success *close points at the closing
 * quote and *escaped says whether it holds escapes. -1 for anything jansson refuses, or
 * that is left to it (\u0000). */
static int scan_string(const unsigned char *p, const unsigned char *end, const unsigned char **close, int *escaped)
{
    *escaped = 0;
    for (;;) {
        uint64_t w;
        while (end - p >= 8 && (memcpy(&w, p, 8), !special8(w)))
            p += 8;
        while (p < end && cls[*p] == 0)
            p++;
        if (p >= end)
            return -1;
        switch (cls[*p]) {
        case 1:
            *close = p;
            return 0;
        case 2: {
            if (p + 1 >= end)
                return -1;
            unsigned char e = p[1];
            *escaped = 1;
            if (e == 'u') {
                unsigned v, lo;
                if (end - p < 6 || hex4(p + 2, &v) != 0 || v == 0)
                    return -1;
                p += 6;
                if (v >= 0xDC00 && v <= 0xDFFF)
                    return -1;
                if (v >= 0xD800 && v <= 0xDBFF) {
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) != 0 || lo < 0xDC00 ||
                        lo > 0xDFFF)
                        return -1;
                    p += 6;
                }
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
                       e == 't') {
                p += 2;
            } else {
                return -1;
            }
            break;
        }
        case 3:
            return -1;
        default:
            /* a run of non-ASCII characters */
            do {
                size_t n = utf8_len(p, end);
                if (!n)
                    return -1;
                p += n;
            } while (p < end && *p >= 0x80);
        }
    }
}

/* Decodes a checked string body [p, close) into b. 0, or -1 when out of memory. */
static int decode_string(const unsigned char *p, const unsigned char *close, struct kbuf *b)
{
    while (p < close) {
        const unsigned char *run = p;
        p = memchr(p, '\\', (size_t)(close - p));
        if (!p)
            p = close;
        if (p > run && kbuf_append(b, run, (size_t)(p - run)) != 0)
            return -1;
        if (p >= close)
            break;
        unsigned char e = p[1];
        if (e == 'u') {
            unsigned v, lo;
            hex4(p + 2, &v);
            p += 6;
            if (v >= 0xD800 && v <= 0xDBFF) {
                hex4(p + 2, &lo);
                v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            if (put_utf8(b, v) != 0)
                return -1;
            continue;
        }
        char c = e == 'b' ? '\b' : e == 'f' ? '\f' : e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : (char)e;
        if (kbuf_append(b, &c, 1) != 0)
            return -1;
        p += 2;
    }
    return 0;
}

struct span {
    size_t off, len;
};

/* Puts the decoded strings in place of the placeholders. 0, or -1 on a placeholder that is
 * not one of ours (cannot happen: \u0000 never reaches jansson from the input). */
static int restore(json_t *j, const struct kbuf *arena, const struct span *spans, size_t nspans)
{
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        if (json_string_length(j) < 2 || s[0] != '\0')
            return 0;
        size_t idx = strtoul(s + 1, NULL, 10);
        if (idx >= nspans)
            return -1;
        return json_string_setn_nocheck(j, arena->data + spans[idx].off, spans[idx].len);
    }
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) if (restore(v, arena, spans, nspans) != 0) return -1;
        return 0;
    }
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) if (restore(v, arena, spans, nspans) != 0) return -1;
    }
    return 0;
}

json_t *kerio_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *error)
{
    const unsigned char *p = (const unsigned char *)buf, *end = p + len;
    struct kbuf text = { 0 }, arena = { 0 };
    struct span *spans = NULL;
    size_t nspans = 0, cap = 0;
    json_t *root = NULL;
    int ok = 1;
    while (ok && p < end) {
        const unsigned char *q = memchr(p, '"', (size_t)(end - p));
        if (!q) {
            ok = kbuf_append(&text, p, (size_t)(end - p)) == 0;
            break;
        }
        const unsigned char *close;
        int escaped;
        if (scan_string(q + 1, end, &close, &escaped) != 0) {
            ok = 0;
            break;
        }
        const unsigned char *after = close + 1;
        while (after < end && (*after == ' ' || *after == '\t' || *after == '\n' || *after == '\r'))
            after++;
        int is_key = after < end && *after == ':';
        if (is_key || close - (q + 1) < LONG_STRING) {
            ok = kbuf_append(&text, p, (size_t)(close + 1 - p)) == 0;
            p = close + 1;
            continue;
        }
        if (kbuf_append(&text, p, (size_t)(q - p)) != 0) {
            ok = 0;
            break;
        }
        if (nspans == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct span *ns = realloc(spans, ncap * sizeof *ns);
            if (!ns) {
                ok = 0;
                break;
            }
            spans = ns;
            cap = ncap;
        }
        spans[nspans].off = arena.len;
        if ((escaped ? decode_string(q + 1, close, &arena) : kbuf_append(&arena, q + 1, (size_t)(close - (q + 1)))) != 0 ||
            kbuf_printf(&text, "\"\\u0000%zu\"", nspans) != 0) {
            ok = 0;
            break;
        }
        spans[nspans].len = arena.len - spans[nspans].off;
        nspans++;
        p = close + 1;
    }
    if (ok && nspans && text.data && arena.data) {
        root = json_loadb(text.data, text.len, flags | JSON_ALLOW_NUL, error);
        if (root && restore(root, &arena, spans, nspans) != 0) {
            json_decref(root);
            root = NULL;
        }
    }
    kbuf_free(&text);
    kbuf_free(&arena);
    free(spans);
    /* Nothing long (small replies), or refused: jansson alone, with its own messages. */
    return root ? root : json_loadb(buf, len, flags, error);
}
