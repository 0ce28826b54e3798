/* frontends/mapi/mapi_rtf.c — LZFu (MS-OXRTFCP), RTF generation from text and
 * HTML (MS-OXRTFEX encapsulation) and extraction back to text or HTML. */
#include "mapi_rtf.h"

#include <stdlib.h>
#include <string.h>

#include "mapi_prop.h"

#define COMP_LZFU 0x75465A4Cu /* "LZFu" */
#define COMP_MELA 0x414C454Du /* "MELA" */
#define DICT_SIZE 4096u
#define MAX_MATCH 17u

/* The dictionary's initial contents (MS-OXRTFCP 2.1.2.1). */
static const char PREBUF[] =
    "{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript "
    "\\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par "
    "\\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx";
#define PREBUF_LEN (sizeof PREBUF - 1)

static uint32_t crc_table[256];
static int crc_ready;

static void crc_init(void)
{
    /* Idempotent: concurrent first calls compute the same values. */
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    crc_ready = 1;
}

uint32_t mapi_rtf_crc(uint32_t crc, const uint8_t *p, size_t n)
{
    if (!crc_ready)
        crc_init();
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return crc;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Compression works on a virtual stream: the prebuffer followed by the input;
 * virtual index v lives at dictionary position v % 4096. A match may start at
 * any index within the last 4095 bytes (never the write position itself,
 * which is the end marker). Hash chains on two bytes find candidates. */
int mapi_rtf_compress(const uint8_t *raw, size_t len, uint8_t **out, size_t *out_len)
{
    if (len > MAPI_RTF_MAX_RAW)
        return -1;
    size_t vlen = PREBUF_LEN + len;
    uint8_t *v = malloc(vlen + 1);
    int32_t *head = malloc(65536 * sizeof *head);
    int32_t *prev = malloc(DICT_SIZE * sizeof *prev);
    mapi_buf b;
    mapi_buf_init(&b);
    if (!v || !head || !prev) {
        free(v);
        free(head);
        free(prev);
        return -1;
    }
    memcpy(v, PREBUF, PREBUF_LEN);
    if (len)
        memcpy(v + PREBUF_LEN, raw, len);
    for (int i = 0; i < 65536; i++)
        head[i] = -1;
    for (size_t i = 0; i < DICT_SIZE; i++)
        prev[i] = -1;
#define HASH(i) (((unsigned)v[i] << 8) | v[(i) + 1])
    for (size_t i = 0; i + 1 < PREBUF_LEN; i++) {
        prev[i % DICT_SIZE] = head[HASH(i)];
        head[HASH(i)] = (int32_t)i;
    }
    uint8_t hdr[16] = { 0 };
    mapi_buf_add(&b, hdr, 16);
    size_t cur = PREBUF_LEN;
    size_t ctrl_at = 0;
    int bit = 8;
    uint8_t ctrl = 0;
    int done = 0;
    while (!done) {
        if (bit == 8) {
            if (ctrl_at)
                b.data[ctrl_at] = ctrl;
            ctrl_at = b.len;
            mapi_buf_addc(&b, 0);
            ctrl = 0;
            bit = 0;
            if (b.oom)
                break;
        }
        if (cur >= vlen) {
            /* End marker: a reference to the write position. */
            ctrl |= (uint8_t)(1u << bit);
            uint16_t ref = (uint16_t)((cur % DICT_SIZE) << 4);
            mapi_buf_addc(&b, (uint8_t)(ref >> 8));
            mapi_buf_addc(&b, (uint8_t)ref);
            bit++;
            done = 1;
            break;
        }
        size_t best_len = 0, best_pos = 0;
        if (cur + 1 < vlen) {
            size_t maxlen = vlen - cur < MAX_MATCH ? vlen - cur : MAX_MATCH;
            int steps = 0;
            for (int32_t cand = head[HASH(cur)]; cand >= 0 && steps < 512; steps++) {
                size_t c = (size_t)cand;
                if (cur - c >= DICT_SIZE)
                    break;
                size_t l = 0;
                while (l < maxlen && v[c + l] == v[cur + l])
                    l++;
                if (l > best_len) {
                    best_len = l;
                    best_pos = c;
                    if (l == maxlen)
                        break;
                }
                int32_t nx = prev[c % DICT_SIZE];
                if (nx >= cand)
                    break; /* the slot was reused by a newer index */
                cand = nx;
            }
        }
        size_t adv;
        if (best_len >= 2) {
            ctrl |= (uint8_t)(1u << bit);
            uint16_t ref = (uint16_t)(((best_pos % DICT_SIZE) << 4) | (best_len - 2));
            mapi_buf_addc(&b, (uint8_t)(ref >> 8));
            mapi_buf_addc(&b, (uint8_t)ref);
            adv = best_len;
        } else {
            mapi_buf_addc(&b, v[cur]);
            adv = 1;
        }
        bit++;
        for (size_t k = 0; k < adv; k++, cur++) {
            if (cur + 1 < vlen) {
                prev[cur % DICT_SIZE] = head[HASH(cur)];
                head[HASH(cur)] = (int32_t)cur;
            }
        }
    }
#undef HASH
    if (ctrl_at && !b.oom)
        b.data[ctrl_at] = ctrl;
    free(v);
    free(head);
    free(prev);
    if (b.oom || b.len - 4 > UINT32_MAX) {
        mapi_buf_free(&b);
        return -1;
    }
    put32(b.data, (uint32_t)(b.len - 4));
    put32(b.data + 4, (uint32_t)len);
    put32(b.data + 8, COMP_LZFU);
    put32(b.data + 12, mapi_rtf_crc(0, b.data + 16, b.len - 16));
    *out_len = b.len;
    *out = b.data;
    return 0;
}

static int fail(char *err, size_t errlen, const char *msg)
{
    if (err && errlen) {
        strncpy(err, msg, errlen - 1);
        err[errlen - 1] = 0;
    }
    return -1;
}

int mapi_rtf_decompress(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len, char *err, size_t errlen)
{
    if (len < 16)
        return fail(err, errlen, "compressed RTF shorter than its 16-byte header");
    uint32_t comp_size = get32(in), raw_size = get32(in + 4), type = get32(in + 8), crc = get32(in + 12);
    if (comp_size < 12 || (size_t)comp_size - 12 > len - 16)
        return fail(err, errlen, "compressed RTF: COMPSIZE larger than the data");
    if (raw_size > MAPI_RTF_MAX_RAW)
        return fail(err, errlen, "compressed RTF: RAWSIZE too large");
    const uint8_t *p = in + 16;
    size_t n = comp_size - 12;
    if (type == COMP_MELA) {
        size_t take = raw_size < n ? raw_size : n;
        uint8_t *o = malloc(take + 1);
        if (!o)
            return fail(err, errlen, "out of memory");
        memcpy(o, p, take);
        o[take] = 0;
        *out = o;
        *out_len = take;
        return 0;
    }
    if (type != COMP_LZFU)
        return fail(err, errlen, "compressed RTF: unknown COMPTYPE");
    if (mapi_rtf_crc(0, p, n) != crc)
        return fail(err, errlen, "compressed RTF: CRC mismatch");
    uint8_t dict[DICT_SIZE];
    memset(dict, 0, sizeof dict);
    memcpy(dict, PREBUF, PREBUF_LEN);
    uint32_t wpos = PREBUF_LEN;
    uint8_t *o = malloc((size_t)raw_size + 1);
    if (!o)
        return fail(err, errlen, "out of memory");
    size_t olen = 0, i = 0;
    int ended = 0;
    while (i < n && !ended) {
        uint8_t ctrl = p[i++];
        for (int bit = 0; bit < 8 && !ended; bit++) {
            if (!(ctrl & (1u << bit))) {
                if (i >= n)
                    break;
                uint8_t c = p[i++];
                if (olen < raw_size)
                    o[olen++] = c;
                dict[wpos] = c;
                wpos = (wpos + 1) % DICT_SIZE;
            } else {
                if (i + 2 > n) {
                    i = n;
                    break;
                }
                uint32_t ref = ((uint32_t)p[i] << 8) | p[i + 1];
                i += 2;
                uint32_t off = ref >> 4, l = (ref & 0xF) + 2;
                if (off == wpos) {
                    ended = 1;
                    break;
                }
                for (uint32_t k = 0; k < l; k++) {
                    uint8_t c = dict[(off + k) % DICT_SIZE];
                    if (olen < raw_size)
                        o[olen++] = c;
                    dict[wpos] = c;
                    wpos = (wpos + 1) % DICT_SIZE;
                }
            }
        }
    }
    o[olen] = 0;
    *out = o;
    *out_len = olen;
    return 0;
}

/* ---- RTF from text / HTML ---- */

/* Decodes one UTF-8 sequence at s (n bytes left); returns its length and
 * the code point in *cp (U+FFFD for invalid input). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned c = s[0];
    size_t need;
    uint32_t v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        need = 2;
        v = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        need = 3;
        v = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        need = 4;
        v = c & 0x07;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    if (need > n) {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v > 0x10FFFF ? 0xFFFD : v;
    return need;
}

static void rtf_char(mapi_buf *b, uint32_t cp, int html)
{
    if (cp == '\\' || cp == '{' || cp == '}') {
        mapi_buf_addc(b, '\\');
        mapi_buf_addc(b, (uint8_t)cp);
    } else if (cp == '\n') {
        mapi_buf_adds(b, html ? "\\par\r\n" : "\\par\r\n");
    } else if (cp == '\r') {
        /* \par stands for the line break */
    } else if (cp == '\t') {
        mapi_buf_adds(b, "\\tab ");
    } else if (cp < 0x80) {
        mapi_buf_addc(b, (uint8_t)cp);
    } else if (cp < 0x10000) {
        mapi_buf_printf(b, "\\u%d?", (int)(int16_t)(uint16_t)cp);
    } else {
        uint32_t x = cp - 0x10000;
        mapi_buf_printf(b, "\\u%d?\\u%d?", (int)(int16_t)(uint16_t)(0xD800 + (x >> 10)),
                        (int)(int16_t)(uint16_t)(0xDC00 + (x & 0x3FF)));
    }
}

static char *rtf_body(const char *head, const char *s, size_t len, int html)
{
    mapi_buf b;
    mapi_buf_init(&b);
    mapi_buf_adds(&b, head);
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += utf8_next(u + i, len - i, &cp);
        rtf_char(&b, cp, html);
    }
    mapi_buf_adds(&b, "}\r\n");
    return mapi_buf_steal(&b, NULL);
}

char *mapi_rtf_from_text(const char *text, size_t len)
{
    return rtf_body("{\\rtf1\\ansi\\ansicpg1252\\fromtext \\deff0{\\fonttbl{\\f0\\fswiss\\fcharset0 Arial;}}"
                    "\\uc1\\pard\\plain\\f0\\fs20 ",
                    text, len, 0);
}

char *mapi_rtf_from_html(const char *html, size_t len)
{
    /* MS-OXRTFEX: text outside \htmlrtf groups is the HTML itself; \par
     * stands for CRLF. */
    return rtf_body("{\\rtf1\\ansi\\ansicpg1252\\fromhtml1 \\deff0{\\fonttbl{\\f0\\fswiss\\fcharset0 Arial;}}"
                    "\\uc1\\pard\\plain\\f0\\fs20 ",
                    html, len, 1);
}

/* ---- extraction ---- */

/* Windows-1252 0x80-0x9F; other bytes map to Latin-1. */
static const uint16_t CP1252_HI[32] = {
    0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD,
    0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A,
    0x0153, 0xFFFD, 0x017E, 0x0178
};

static void put_utf8(mapi_buf *b, uint32_t cp)
{
    if (cp < 0x80) {
        mapi_buf_addc(b, (uint8_t)cp);
    } else if (cp < 0x800) {
        mapi_buf_addc(b, (uint8_t)(0xC0 | (cp >> 6)));
        mapi_buf_addc(b, (uint8_t)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        mapi_buf_addc(b, (uint8_t)(0xE0 | (cp >> 12)));
        mapi_buf_addc(b, (uint8_t)(0x80 | ((cp >> 6) & 0x3F)));
        mapi_buf_addc(b, (uint8_t)(0x80 | (cp & 0x3F)));
    } else {
        mapi_buf_addc(b, (uint8_t)(0xF0 | (cp >> 18)));
        mapi_buf_addc(b, (uint8_t)(0x80 | ((cp >> 12) & 0x3F)));
        mapi_buf_addc(b, (uint8_t)(0x80 | ((cp >> 6) & 0x3F)));
        mapi_buf_addc(b, (uint8_t)(0x80 | (cp & 0x3F)));
    }
}

#define RTF_MAX_GROUPS 256

struct rtf_group {
    int skip;     /* destination whose text is not body text */
    int htmltag;  /* inside {\*\htmltag...}: its text is HTML */
    int htmlrtf;  /* \htmlrtf on: text is RTF-only, not HTML */
    int uc;       /* \ucN: bytes to skip after \u */
};

char *mapi_rtf_extract(const uint8_t *rtf, size_t len, int *kind, size_t *out_len)
{
    mapi_buf b;
    mapi_buf_init(&b);
    struct rtf_group st[RTF_MAX_GROUPS];
    int depth = 0;
    memset(&st[0], 0, sizeof st[0]);
    st[0].uc = 1;
    int fromhtml = 0, fromtext = 0;
    int skip_chars = 0;          /* fallback bytes still to skip after \uN */
    uint32_t hi_surrogate = 0;
    int pending_dest = 0;        /* a '{' followed by '\*' */
    for (size_t i = 0; i < len;) {
        uint8_t c = rtf[i];
        struct rtf_group *g = &st[depth];
        int emit = !g->skip && (!fromhtml || g->htmltag || !g->htmlrtf);
        if (c == '{') {
            if (depth + 1 < RTF_MAX_GROUPS) {
                st[depth + 1] = st[depth];
                st[depth + 1].htmltag = 0;
                depth++;
            }
            pending_dest = 1;
            i++;
            continue;
        }
        if (c == '}') {
            if (depth > 0)
                depth--;
            pending_dest = 0;
            i++;
            continue;
        }
        if (c == '\r' || c == '\n') {
            i++;
            continue;
        }
        if (c != '\\') {
            if (skip_chars > 0) {
                skip_chars--;
            } else if (emit) {
                if (c >= 0x80)
                    put_utf8(&b, c < 0xA0 ? CP1252_HI[c - 0x80] : c);
                else
                    mapi_buf_addc(&b, c);
            }
            pending_dest = 0;
            i++;
            continue;
        }
        /* a control symbol or word */
        i++;
        if (i >= len)
            break;
        c = rtf[i];
        if (c == '\\' || c == '{' || c == '}') {
            if (skip_chars > 0)
                skip_chars--;
            else if (emit)
                mapi_buf_addc(&b, c);
            i++;
            pending_dest = 0;
            continue;
        }
        if (c == '*') {
            if (pending_dest)
                g->skip = 1; /* an ignorable destination unless it is \htmltag */
            i++;
            continue;
        }
        if (c == '\'') {
            if (i + 2 < len) {
                unsigned v = 0;
                int ok = 1;
                for (int k = 1; k <= 2; k++) {
                    if (i + (size_t)k >= len) {
                        ok = 0;
                        break;
                    }
                    char h = (char)rtf[i + k];
                    v <<= 4;
                    if (h >= '0' && h <= '9') v |= (unsigned)(h - '0');
                    else if (h >= 'a' && h <= 'f') v |= (unsigned)(h - 'a' + 10);
                    else if (h >= 'A' && h <= 'F') v |= (unsigned)(h - 'A' + 10);
                    else ok = 0;
                }
                i += 3;
                if (ok) {
                    if (skip_chars > 0)
                        skip_chars--;
                    else if (emit)
                        put_utf8(&b, v >= 0x80 && v < 0xA0 ? CP1252_HI[v - 0x80] : v);
                }
            } else {
                i = len;
            }
            pending_dest = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
            /* other control symbols: \~ nbsp, \- optional hyphen, \_ hyphen */
            if (c == '~' && emit)
                put_utf8(&b, 0xA0);
            else if (c == '_' && emit)
                mapi_buf_addc(&b, '-');
            i++;
            pending_dest = 0;
            continue;
        }
        char word[32];
        size_t wl = 0;
        while (i < len && ((rtf[i] >= 'a' && rtf[i] <= 'z') || (rtf[i] >= 'A' && rtf[i] <= 'Z'))) {
            if (wl < sizeof word - 1)
                word[wl++] = (char)rtf[i];
            i++;
        }
        word[wl] = 0;
        int has_num = 0, neg = 0;
        long num = 0;
        if (i < len && rtf[i] == '-') {
            neg = 1;
            i++;
        }
        while (i < len && rtf[i] >= '0' && rtf[i] <= '9') {
            if (num < 100000000)
                num = num * 10 + (rtf[i] - '0');
            has_num = 1;
            i++;
        }
        if (neg)
            num = -num;
        if (i < len && rtf[i] == ' ')
            i++;
        int was_dest = pending_dest;
        pending_dest = 0;
        if (!strcmp(word, "fromhtml")) {
            fromhtml = 1;
        } else if (!strcmp(word, "fromtext")) {
            fromtext = 1;
        } else if (!strcmp(word, "htmltag")) {
            if (was_dest || g->skip) {
                g->skip = 0;
                g->htmltag = 1;
            }
        } else if (!strcmp(word, "htmlrtf")) {
            g->htmlrtf = !(has_num && num == 0);
        } else if (!strcmp(word, "fonttbl") || !strcmp(word, "colortbl") || !strcmp(word, "stylesheet") ||
                   !strcmp(word, "info") || !strcmp(word, "pict") || !strcmp(word, "object") ||
                   !strcmp(word, "header") || !strcmp(word, "footer") || !strcmp(word, "mhtmltag")) {
            g->skip = 1;
        } else if (!strcmp(word, "uc")) {
            g->uc = has_num && num >= 0 && num < 10 ? (int)num : 1;
        } else if (!strcmp(word, "u") && has_num) {
            uint32_t cp = (uint32_t)(uint16_t)(int16_t)num;
            if (emit) {
                if (cp >= 0xD800 && cp < 0xDC00) {
                    hi_surrogate = cp;
                } else if (cp >= 0xDC00 && cp < 0xE000 && hi_surrogate) {
                    put_utf8(&b, 0x10000 + ((hi_surrogate - 0xD800) << 10) + (cp - 0xDC00));
                    hi_surrogate = 0;
                } else {
                    put_utf8(&b, cp);
                }
            }
            skip_chars = g->uc;
        } else if (emit && (!strcmp(word, "par") || !strcmp(word, "line"))) {
            mapi_buf_adds(&b, fromhtml ? "\r\n" : "\n");
        } else if (emit && !strcmp(word, "tab")) {
            mapi_buf_addc(&b, '\t');
        } else if (emit && (!strcmp(word, "lquote") || !strcmp(word, "rquote"))) {
            put_utf8(&b, word[0] == 'l' ? 0x2018 : 0x2019);
        } else if (emit && (!strcmp(word, "ldblquote") || !strcmp(word, "rdblquote"))) {
            put_utf8(&b, word[0] == 'l' ? 0x201C : 0x201D);
        } else if (emit && !strcmp(word, "emdash")) {
            put_utf8(&b, 0x2014);
        } else if (emit && !strcmp(word, "endash")) {
            put_utf8(&b, 0x2013);
        } else if (emit && !strcmp(word, "bullet")) {
            put_utf8(&b, 0x2022);
        }
    }
    *kind = fromhtml ? MAPI_RTF_HTML : fromtext ? MAPI_RTF_TEXT : MAPI_RTF_PLAIN;
    return mapi_buf_steal(&b, out_len);
}
