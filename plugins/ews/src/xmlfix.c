/* Replies on their way into the spool, with the characters XML 1.0 forbids replaced by
 * U+FFFD. Exchange copies control characters of a message's properties into its replies as
 * character references (&#x1A; in a Subject, &#x0; in a Body), older grommunio as raw bytes;
 * either makes the whole reply not well-formed, so libxml2 rejects it, and the page holding
 * such an item could never be synced. Nothing else is touched: a well-formed reply passes
 * byte for byte. This is not a parser: it only recognises a numeric character reference
 * ("&#" digits ";" or "&#x" hex digits ";") and single forbidden bytes; libxml2 then reads
 * the result as usual. Replies that are not UTF-8 (a UTF-16 byte order mark or a NUL among
 * the first two bytes) pass unchanged. */
#include <stdlib.h>
#include <string.h>

#include "ews.h"

static const char replacement_ref[] = "&#xFFFD;";
static const char replacement_utf8[] = "\xEF\xBF\xBD";

void ews_xmlfix_init(struct ews_xmlfix *x, FILE *out)
{
    memset(x, 0, sizeof *x);
    x->out = out;
}

static void put(struct ews_xmlfix *x, const char *p, size_t n)
{
    if (n && !x->err && fwrite(p, 1, n, x->out) != n)
        x->err = 1;
}

/* Code points XML 1.0 (production Char) does not allow. */
static int forbidden(unsigned long v)
{
    return (v < 0x20 && v != 0x9 && v != 0xA && v != 0xD) || (v >= 0xD800 && v <= 0xDFFF) || v == 0xFFFE ||
           v == 0xFFFF || v > 0x10FFFF;
}

/* The reference in x->ref ("&#..." without its ';') ended with ';'. */
static void ref_done(struct ews_xmlfix *x)
{
    int hex = x->nref > 2 && x->ref[2] == 'x';
    size_t digits = x->nref - (hex ? 3 : 2);
    if (digits) {
        x->ref[x->nref] = '\0';
        unsigned long v = strtoul(x->ref + (hex ? 3 : 2), NULL, hex ? 16 : 10);
        if (forbidden(v)) {
            put(x, replacement_ref, sizeof replacement_ref - 1);
            x->fixed++;
            x->nref = 0;
            return;
        }
    }
    put(x, x->ref, x->nref);
    put(x, ";", 1);
    x->nref = 0;
}

/* Whether c continues the reference begun in x->ref. */
static int ref_char(const struct ews_xmlfix *x, unsigned char c)
{
    if (x->nref == 1)
        return c == '#';
    if (x->nref + 1 >= sizeof x->ref)
        return 0; /* longer than any code point: not ours to judge */
    if (x->nref == 2 && c == 'x')
        return 1;
    int hex = x->nref > 2 && x->ref[2] == 'x';
    return (c >= '0' && c <= '9') || (hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
}

static void filter(struct ews_xmlfix *x, const unsigned char *p, size_t n)
{
    size_t run = 0; /* bytes of p before i that pass as they are, not yet written */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (x->nref) {
            if (c == ';' && x->nref >= 2) {
                ref_done(x);
                continue;
            }
            if (ref_char(x, c)) {
                x->ref[x->nref++] = (char)c;
                continue;
            }
            put(x, x->ref, x->nref); /* not a reference: as it was */
            x->nref = 0;
        }
        if (c == '&') {
            x->ref[x->nref++] = '&';
            continue;
        }
        if (c < 0x20 && c != 0x9 && c != 0xA && c != 0xD) {
            put(x, replacement_utf8, sizeof replacement_utf8 - 1);
            x->fixed++;
            continue;
        }
        /* an ordinary byte: gather the run */
        for (run = i; i + 1 < n && p[i + 1] != '&' && (p[i + 1] >= 0x20 || p[i + 1] == 0x9 || p[i + 1] == 0xA ||
                                                         p[i + 1] == 0xD); i++)
            ;
        put(x, (const char *)p + run, i + 1 - run);
    }
}

int ews_xmlfix_write(struct ews_xmlfix *x, const char *data, size_t n)
{
    const unsigned char *p = (const unsigned char *)data;
    if (x->off) {
        put(x, data, n);
        return x->err ? -1 : 0;
    }
    while (x->nhead < 2 && n) { /* the encoding is decided on the first two bytes */
        x->head[x->nhead++] = *p++;
        n--;
        if (x->nhead < 2)
            continue;
        unsigned char a = x->head[0], b = x->head[1];
        x->off = a == 0xFE || a == 0xFF || a == 0 || b == 0;
        if (x->off)
            put(x, (const char *)x->head, 2);
        else
            filter(x, x->head, 2);
    }
    if (x->off)
        put(x, (const char *)p, n);
    else if (n)
        filter(x, p, n);
    return x->err ? -1 : 0;
}

int ews_xmlfix_end(struct ews_xmlfix *x)
{
    if (x->nhead == 1 && !x->off)
        filter(x, x->head, 1);
    put(x, x->ref, x->nref); /* a reference cut off by the end: as it was */
    x->nref = 0;
    x->nhead = 2;
    return x->err ? -1 : 0;
}
