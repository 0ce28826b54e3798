/* imap_text.c — case-insensitive substring matching for SEARCH (see
 * imap_text.h): an ASCII comparison when both sides are ASCII, else the
 * i;unicode-casemap mapping of RFC 5051 through GLib's Unicode tables.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <glib.h>

#include "imap_text.h"

static int all_ascii(const char *s, size_t n)
{
    unsigned char any = 0;
    for (size_t i = 0; i < n; i++)
        any |= (unsigned char)s[i];
    return any < 0x80;
}

/* ASCII case-insensitive search: candidates by their first byte, then
 * strncasecmp (a needle has no NUL: IMAP strings cannot carry one). */
static int ascii_find(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
    unsigned char lo = (unsigned char)tolower((unsigned char)needle[0]);
    unsigned char up = (unsigned char)toupper((unsigned char)needle[0]);
    for (size_t i = 0; i + nlen <= hlen; i++) {
        unsigned char c = (unsigned char)hay[i];
        if ((c == lo || c == up) && !strncasecmp(hay + i, needle, nlen))
            return 1;
    }
    return 0;
}

static void append_title(GString *out, gunichar u)
{
    gunichar t = g_unichar_totitle(u);
    if (t < 0x80)
        g_string_append_c(out, (char)t);
    else
        g_string_append_unichar(out, t);
}

/* Appends the i;unicode-casemap form of s[0..n) to out (RFC 5051 2): the
 * titlecase of each code point, fully decomposed (compatibility mappings
 * included), each resulting code point titlecased again; a byte that does
 * not start a valid UTF-8 sequence is kept as it is. */
static void casemap(GString *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char b = (unsigned char)s[i];
        if (b < 0x80) {
            g_string_append_c(out, (char)toupper(b));
            i++;
            continue;
        }
        gunichar u = g_utf8_get_char_validated(s + i, (gssize)(n - i));
        if (u == (gunichar)-1 || u == (gunichar)-2) {
            g_string_append_c(out, (char)b);
            i++;
            continue;
        }
        i += (size_t)(g_utf8_next_char(s + i) - (s + i));
        gunichar d[G_UNICHAR_MAX_DECOMPOSITION_LENGTH];
        gsize nd = g_unichar_fully_decompose(g_unichar_totitle(u), TRUE, d, G_N_ELEMENTS(d));
        for (gsize k = 0; k < nd && k < G_N_ELEMENTS(d); k++)
            append_title(out, d[k]);
    }
}

int imap_text_find(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
    if (nlen == 0)
        return 1;
    if (!hay)
        return 0;
    int needle_ascii = all_ascii(needle, nlen);
    if (needle_ascii) {
        /* an ASCII hit is a hit under the Unicode mapping too */
        if (ascii_find(hay, hlen, needle, nlen))
            return 1;
        if (all_ascii(hay, hlen))
            return 0;
    }
    GString *n = g_string_sized_new(nlen * 2 + 1);
    GString *h = g_string_sized_new(hlen + hlen / 4 + 1);
    casemap(n, needle, nlen);
    casemap(h, hay, hlen);
    int found = memmem(h->str, h->len, n->str, n->len) != NULL;
    g_string_free(n, TRUE);
    g_string_free(h, TRUE);
    return found;
}

char *imap_text_strip_marks(const char *s)
{
    if (!g_utf8_validate(s, -1, NULL))
        return NULL;
    gchar *d = g_utf8_normalize(s, -1, G_NORMALIZE_NFKD);
    if (!d)
        return NULL;
    GString *out = g_string_sized_new(strlen(d));
    for (const gchar *p = d; *p; p = g_utf8_next_char(p)) {
        gunichar u = g_utf8_get_char(p);
        if (!g_unichar_ismark(u))
            g_string_append_unichar(out, u);
    }
    g_free(d);
    char *r = malloc(out->len + 1);
    if (r)
        memcpy(r, out->str, out->len + 1);
    g_string_free(out, TRUE);
    return r;
}

int imap_text_contains(const char *hay, const char *needle)
{
    return imap_text_find(hay, hay ? strlen(hay) : 0, needle, strlen(needle));
}

/* How many trailing bytes of a chunk a scan searches again with the next:
 * every code point of the text (at most 4 bytes) maps to at least one byte,
 * so a stretch that matches the mapped needle of m bytes spans at most m
 * code points; 3 more bytes for one cut at the boundary. */
static size_t scan_overlap(const char *needle, size_t nlen)
{
    size_t m = nlen;
    if (!all_ascii(needle, nlen)) {
        GString *n = g_string_sized_new(nlen * 2 + 1);
        casemap(n, needle, nlen);
        m = n->len;
        g_string_free(n, TRUE);
    }
    return 4 * m + 3;
}

int imap_text_scan(imap_range_read_fn rd, void *ctx, uint64_t start, uint64_t end, const char *needle,
                   size_t chunk)
{
    size_t nl = strlen(needle);
    if (nl == 0)
        return 1;
    size_t overlap = scan_overlap(needle, nl);
    char *buf = malloc(chunk + overlap);
    if (!buf)
        return 0;
    size_t keep = 0;
    int found = 0;
    for (uint64_t off = start; off < end && !found;) {
        size_t want = end - off < chunk ? (size_t)(end - off) : chunk;
        size_t got = 0;
        if (rd(ctx, off, buf + keep, want, &got) != 0 || got == 0)
            break;
        size_t have = keep + got;
        found = imap_text_find(buf, have, needle, nl);
        keep = have >= overlap ? overlap : have;
        memmove(buf, buf + have - keep, keep);
        off += got;
    }
    free(buf);
    return found;
}
