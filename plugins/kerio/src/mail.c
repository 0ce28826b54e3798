/* mail.c — Kerio Mail objects ↔ RFC 5322 MIME, with GMime.
 *
 * JSON → MIME must be byte-identical on every sync of an unchanged mail: boundaries are
 * derived from the mail id, the Date header comes from the server's sendDate with the offset
 * it gave, encodings are chosen by fixed rules, and nothing depends on the clock.
 * MIME → JSON extracts what Mails.create can carry (addresses, subject, Message-ID,
 * In-Reply-To, text and HTML parts, attachments); everything else is lost, as documented in
 * README.md and declared in the plugin's capabilities. */
#include "kerio.h"
#include "ktime.h"

#include <gmime/gmime.h>
#include <openssl/evp.h>
#include <iconv.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* GMime writes header words in the charset it finds best for them (iso-8859-x, koi8-r, a CJK
 * charset, else UTF-8) and converts them with iconv. glibc unloads a gconv module when its last
 * descriptor closes, so every message would dlopen and relocate it again (strace: hundreds of
 * opens of ISO8859-2.so per thousand messages). One descriptor held per candidate keeps them
 * loaded; the bytes GMime writes do not change. The list is GMime's (charset-map.c). */
static const char *const held_charsets[] = {
    "iso-8859-1", "iso-8859-2", "iso-8859-4", "koi8-r", "koi8-u", "iso-8859-5", "iso-8859-6",
    "iso-8859-8", "iso-8859-9", "iso-8859-13", "iso-8859-15", "windows-1251", "iso-2022-jp",
    "Shift-JIS", "euc-jp", "euc-kr", "gb2312", "Big5", "euc-tw"
};
static iconv_t held_cd[sizeof held_charsets / sizeof held_charsets[0]];
static int held_open;

void kerio_mime_init(void)
{
    if (held_open)
        return;
    for (size_t i = 0; i < sizeof held_charsets / sizeof held_charsets[0]; i++)
        held_cd[i] = iconv_open(held_charsets[i], "UTF-8");
    held_open = 1;
}

static void part_heads_free(void);

static void alt_tmpls_free(void);

void kerio_mime_fini(void)
{
    part_heads_free();
    alt_tmpls_free();
    if (!held_open)
        return;
    for (size_t i = 0; i < sizeof held_charsets / sizeof held_charsets[0]; i++)
        if (held_cd[i] != (iconv_t)-1)
            iconv_close(held_cd[i]);
    held_open = 0;
}

static void add_address(InternetAddressList *list, const json_t *e)
{
    const char *addr = kj_str(e, "address");
    const char *name = kj_str(e, "name");
    if (!*addr && !*name)
        return;
    InternetAddress *ia = internet_address_mailbox_new(*name ? name : NULL, addr);
    internet_address_list_add(list, ia);
    g_object_unref(ia);
}

/* An address header's value is a function of its name and its (name, address) pairs alone, and
 * a mailbox repeats a few of them over and over (its owner in To, the usual correspondents in
 * From and Cc). Encoding one with GMime costs an IDNA conversion per domain and a charset
 * conversion per non-ASCII name (about a fifth of a mail's conversion on the sync benchmark's
 * mailbox), so the last results are kept: AH_SLOTS slots chosen by a hash of the key, shared
 * by the threads converting mail. A slot is only ever tried, never waited for: a thread that
 * finds it busy encodes the header itself. Keys longer than AH_KEY octets or values longer
 * than AH_VAL are not kept. */
#define AH_SLOTS 256
#define AH_KEY 240
#define AH_VAL 400
struct ah_slot {
    atomic_bool busy;
    uint16_t klen, vlen; /* klen 0: empty */
    char key[AH_KEY];
    char val[AH_VAL];
};
static struct ah_slot ah_memo[AH_SLOTS];

static struct ah_slot *ah_try(const char *key, size_t klen)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < klen; i++)
        h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
    struct ah_slot *s = &ah_memo[(h ^ (h >> 29)) % AH_SLOTS];
    bool expect = false;
    return atomic_compare_exchange_strong_explicit(&s->busy, &expect, true, memory_order_acquire, memory_order_relaxed)
               ? s : NULL;
}

static void ah_release(struct ah_slot *s) { atomic_store_explicit(&s->busy, false, memory_order_release); }

/* The memo key of header `name` over `v` (one address object or an array of them): the
 * name, then each non-empty pair as name \1 address \2. 0 when it does not fit. */
static size_t ah_key(char *key, const char *name, const json_t *v)
{
    size_t n = strlen(name) + 1;
    memcpy(key, name, n);
    size_t count = json_is_object(v) ? 1 : json_array_size(v);
    for (size_t i = 0; i < count; i++) {
        const json_t *e = json_is_object(v) ? v : json_array_get(v, i);
        const char *addr = kj_str(e, "address"), *nm = kj_str(e, "name");
        if (!*addr && !*nm)
            continue;
        size_t la = strlen(addr), ln = strlen(nm);
        if (n + ln + la + 2 > AH_KEY)
            return 0;
        memcpy(key + n, nm, ln);
        key[n + ln] = '\1';
        memcpy(key + n + ln + 1, addr, la);
        key[n + ln + 1 + la] = '\2';
        n += ln + la + 2;
    }
    return n;
}

/* The raw value of address header `name` over `v` as GMimeMessage writes it when its address
 * list changes: a space, the list encoded by internet_address_list_encode (RFC 2047 words,
 * IDNA, folded after `name:`), a newline; NULL when `v` holds no address. g_free it. */
static char *encode_address_header(const char *name, const json_t *v)
{
    InternetAddressList *list = internet_address_list_new();
    if (json_is_object(v)) {
        add_address(list, v);
    } else {
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e) add_address(list, e);
    }
    char *raw = NULL;
    if (internet_address_list_length(list) > 0) {
        GString *s = g_string_new(name);
        g_string_append(s, ": ");
        internet_address_list_encode(list, NULL, s);
        size_t skip = strlen(name) + 1;
        raw = g_strdup(s->str + skip);
        g_string_free(s, TRUE);
    }
    g_object_unref(list);
    return raw;
}

static void hb_raw(GByteArray *ba, const char *name, const char *raw);

/* Appends address header `name` to the header block `ba` from member `key` of `mail`, with the
 * raw value from the memo when it has it. */
static void add_addresses(GByteArray *ba, const char *name, const json_t *mail, const char *key)
{
    const json_t *v = json_object_get(mail, key);
    if (!json_is_object(v) && !json_array_size(v))
        return;
    char k[AH_KEY];
    size_t klen = ah_key(k, name, v);
    char *raw = NULL;
    struct ah_slot *slot = klen ? ah_try(k, klen) : NULL;
    if (slot && slot->klen == klen && memcmp(slot->key, k, klen) == 0)
        raw = slot->vlen == UINT16_MAX ? NULL : g_strndup(slot->val, slot->vlen);
    else {
        raw = encode_address_header(name, v);
        size_t vlen = raw ? strlen(raw) : 0;
        if (slot && vlen <= AH_VAL) {
            memcpy(slot->key, k, klen);
            slot->klen = (uint16_t)klen;
            if (raw)
                memcpy(slot->val, raw, vlen);
            slot->vlen = raw ? (uint16_t)vlen : UINT16_MAX;
        }
    }
    if (slot)
        ah_release(slot);
    if (!raw)
        return;
    hb_raw(ba, name, raw);
    g_free(raw);
}

/* Strips one pair of angle brackets: GMime adds its own. */
static char *bare_msgid(const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n >= 2 && v[0] == '<' && v[n - 1] == '>') {
        v++;
        n -= 2;
    }
    return g_strndup(v, n);
}

static GDateTime *kerio_gdatetime(const char *s)
{
    struct ktime kt;
    if (!*s || ktime_parse(s, &kt) != 0)
        return NULL;
    GTimeZone *tz = kt.zone == KTIME_OFFSET ? g_time_zone_new_offset(kt.offset_min * 60) : g_time_zone_new_utc();
    GDateTime *dt = g_date_time_new(tz, kt.year, kt.month, kt.day, kt.hour, kt.minute, kt.second);
    g_time_zone_unref(tz);
    return dt;
}

#define ONES ((uint64_t)0x0101010101010101u)
#define HIGHS (ONES * 0x80)

/* Bit 0: `s` holds an 8-bit octet; bit 1: a control character other than tab (a line without
 * its break is passed: LF and the CR before it never are). Eight octets at a time: a word
 * without octets below 0x20 or DEL (the usual one) costs a few operations. */
static unsigned scan_octets(const unsigned char *s, size_t n)
{
    unsigned seen = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & HIGHS)
            seen |= 1;
        uint64_t low = (w - ONES * 0x20) & ~w & HIGHS;           /* some octet < 0x20 */
        uint64_t del = ((w ^ (ONES * 0x7F)) - ONES) & ~(w ^ (ONES * 0x7F)) & HIGHS; /* some DEL */
        if (low || del)
            for (size_t k = i; k < i + 8; k++)
                seen |= (unsigned)(((s[k] < 0x20) & (s[k] != '\t')) | (s[k] == 0x7F)) << 1;
    }
    for (; i < n; i++)
        seen |= (unsigned)(s[i] >> 7) | (unsigned)(((s[i] < 0x20) & (s[i] != '\t')) | (s[i] == 0x7F)) << 1;
    return seen;
}

/* How a text part goes out. Text whose lines all fit in 998 octets (RFC 5322 2.1.1, RFC 2045
 * 2.7/2.8) and that holds no control characters but tab and line breaks (LF or CRLF; a CR
 * elsewhere is not a line break) is written as it is: 7bit when ASCII, 8bit otherwise (IMAP
 * serves 8-bit content in literals; RFC 3501 4.3). Nothing is encoded to write it or decoded to
 * summarise or serve it, and the message is smaller than quoted-printable makes UTF-8 text
 * (a third of the size for Cyrillic). Other text is encoded as GMime's best-encoding rule does
 * under a 7-bit constraint: base64 when at least 17% of its octets are 8-bit, else
 * quoted-printable. `s` is the text as stored (UTF-8, or ISO-8859-1 when text_part converted
 * it; no NUL: it came as a C string), `len` its length. */
static GMimeContentEncoding text_encoding(const unsigned char *s, size_t len)
{
    if (!len)
        return GMIME_CONTENT_ENCODING_7BIT; /* an empty GByteArray may have no data at all */
    unsigned seen = 0;
    int longline = 0;
    for (const unsigned char *p = s, *end = s + len; p < end;) {
        const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
        const unsigned char *le = nl ? nl : end;
        size_t n = (size_t)(le - p);
        longline |= n > 998;
        seen |= scan_octets(p, nl && n && p[n - 1] == '\r' ? n - 1 : n);
        p = nl ? nl + 1 : end;
    }
    int ctl = (seen & 2) != 0;
    if (!(seen & 1))
        return ctl || longline ? GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE : GMIME_CONTENT_ENCODING_7BIT;
    if (!ctl && !longline)
        return GMIME_CONTENT_ENCODING_8BIT;
    size_t eight = 0;
    for (size_t i = 0; i < len; i++)
        eight += s[i] >> 7;
    return eight * 100 >= len * 17 ? GMIME_CONTENT_ENCODING_BASE64 : GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
}

/* The text as GMime's g_mime_text_part_set_text stores it, without its per-character charset
 * tables: charset us-ascii when 7-bit (*level 0), iso-8859-1 when every character is below
 * U+0100 (1: the content converted to it), else utf-8 (2) — GMime's rule, so the bytes written
 * are the same. The text is valid UTF-8 (jansson checks every string). */
static GByteArray *text_bytes(const char *content, int *level_out)
{
    size_t len = strlen(content);
    int level = 0;
    for (const unsigned char *p = (const unsigned char *)content, *end = p + len; p < end; p++) {
        uint64_t w;
        while (end - p >= 8 && (memcpy(&w, p, 8), !(w & HIGHS)))
            p += 8; /* eight ASCII octets */
        if (p == end)
            break;
        if (*p < 0x80)
            continue;
        if ((*p == 0xC2 || *p == 0xC3) && p + 1 < end) {
            level = 1;
            p++;
            continue;
        }
        level = 2;
        break;
    }
    GByteArray *ba = g_byte_array_sized_new((guint)len);
    if (level == 1) {
        const unsigned char *p = (const unsigned char *)content, *end = p + len;
        guint8 *o = ba->data;
        while (p < end) {
            if (*p < 0x80) {
                *o++ = *p++;
            } else {
                *o++ = (guint8)(((p[0] & 0x03) << 6) | (p[1] & 0x3F));
                p += 2;
            }
        }
        g_byte_array_set_size(ba, (guint)(o - ba->data));
    } else {
        g_byte_array_append(ba, (const guint8 *)content, (guint)len);
    }
    *level_out = level;
    return ba;
}

/* A text part of `ba` (taken over) as text_bytes made it. */
static GMimeObject *text_part_of(const char *subtype, GByteArray *ba, int level, GMimeContentEncoding enc)
{
    GMimeTextPart *tp = g_mime_text_part_new_with_subtype(subtype);
    g_mime_object_set_content_type_parameter(GMIME_OBJECT(tp), "charset",
                                             level == 0 ? "us-ascii" : level == 1 ? "iso-8859-1" : "utf-8");
    GMimeStream *stream = g_mime_stream_mem_new_with_byte_array(ba);
    GMimeDataWrapper *w = g_mime_data_wrapper_new_with_stream(stream, GMIME_CONTENT_ENCODING_DEFAULT);
    g_object_unref(stream);
    g_mime_part_set_content(GMIME_PART(tp), w);
    g_object_unref(w);
    g_mime_part_set_content_encoding(GMIME_PART(tp), enc);
    return GMIME_OBJECT(tp);
}

/* What GMime writes for `o` with CRLF line ends, as a new array (NULL when it cannot). */
static GByteArray *written_crlf(GMimeObject *o)
{
    GMimeStream *mem = g_mime_stream_mem_new();
    GMimeFormatOptions *opts = g_mime_format_options_new();
    g_mime_format_options_set_newline_format(opts, GMIME_NEWLINE_FORMAT_DOS);
    ssize_t n = g_mime_object_write_to_stream(o, opts, mem);
    g_mime_format_options_free(opts);
    /* a copy: the stream's array loses its bytes with the stream, references or not */
    const GByteArray *written = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    GByteArray *made = n < 0 ? NULL : g_byte_array_sized_new(written->len);
    if (made)
        g_byte_array_append(made, written->data, written->len);
    g_object_unref(mem);
    return made;
}

/* The header block (and the empty line after it) GMime writes for a text part written as it
 * is (7bit or 8bit), per subtype, charset and encoding: a message whose body is that one part
 * is its own header block, this one and the text, which GMime's unix2dos filter gives CRLF
 * line ends, as writing the part would. Made by GMime from an empty part the first time one is
 * needed; threads that race for one keep the first published. */
struct part_head {
    _Atomic(GByteArray *) bytes;
};
static struct part_head part_heads[2][3][2]; /* [html][charset level][8bit] */

static const GByteArray *text_part_head(int html, int level, GMimeContentEncoding enc)
{
    struct part_head *h = &part_heads[html][level][enc == GMIME_CONTENT_ENCODING_8BIT];
    GByteArray *have = atomic_load_explicit(&h->bytes, memory_order_acquire);
    if (have)
        return have;
    GMimeObject *part = text_part_of(html ? "html" : "plain", g_byte_array_new(), level, enc);
    GByteArray *made = written_crlf(part);
    g_object_unref(part);
    if (!made || made->len < 4 || memcmp(made->data + made->len - 4, "\r\n\r\n", 4) != 0) {
        if (made)
            g_byte_array_unref(made);
        return NULL; /* not the form expected: the part is written by GMime then */
    }
    GByteArray *expect = NULL;
    if (atomic_compare_exchange_strong_explicit(&h->bytes, &expect, made, memory_order_acq_rel, memory_order_acquire))
        return made;
    g_byte_array_unref(made);
    return expect;
}

static void part_heads_free(void)
{
    for (size_t i = 0; i < sizeof part_heads / sizeof part_heads[0][0][0]; i++) {
        struct part_head *h = &part_heads[0][0][0] + i;
        GByteArray *b = atomic_exchange(&h->bytes, NULL);
        if (b)
            g_byte_array_unref(b);
    }
}

/* Appends `len` octets at `data` to `out` as GMime's unix2dos filter writes them: a CR before
 * every LF that does not follow one, nothing else changed (nothing added at the end). Done here
 * line by line with memchr and memcpy: the filter (a new object per text, a buffer of twice
 * the text, a loop over every octet) was a seventh of converting a mail. */
static void append_crlf(GByteArray *out, const guint8 *data, size_t len)
{
    if (!len)
        return;
    const guint8 *p = data, *end = p + len;
    size_t add = 0;
    for (const guint8 *q = p; (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++)
        add += q == p || q[-1] != '\r';
    guint at = out->len;
    g_byte_array_set_size(out, (guint)(at + len + add));
    guint8 *o = out->data + at;
    for (const guint8 *q = p; q < end;) {
        const guint8 *nl = memchr(q, '\n', (size_t)(end - q));
        const guint8 *stop = nl ? nl : end;
        memcpy(o, q, (size_t)(stop - q));
        o += stop - q;
        if (!nl)
            break;
        if (nl == p || nl[-1] != '\r')
            *o++ = '\r';
        *o++ = '\n';
        q = nl + 1;
    }
}

static void append_crlf_text(GByteArray *out, const GByteArray *ba) { append_crlf(out, ba->data, ba->len); }

/* The message's header block is written here, header by header, as GMime writes a header:
 * its name, a colon and its raw value (a space, the value encoded and folded, LF at each line
 * end) with CRLF line ends. Address headers come from the memo (add_addresses); the others
 * are formatted by GMime (hb_value). No GMimeHeaderList is written: it made, formatted again,
 * wrote through a filter and destroyed an object per header of every mail. */
static void hb_raw(GByteArray *ba, const char *name, const char *raw)
{
    g_byte_array_append(ba, (const guint8 *)name, (guint)strlen(name));
    g_byte_array_append(ba, (const guint8 *)":", 1);
    append_crlf(ba, (const guint8 *)raw, strlen(raw));
}

/* Header `name` with `value` (RFC 2047 words in `charset` where it needs them, may be NULL),
 * formatted by GMime's formatter for that name: appended to `hl`, which only formats. */
static void hb_value(GMimeHeaderList *hl, GByteArray *ba, const char *name, const char *value, const char *charset)
{
    g_mime_header_list_append(hl, name, value, charset);
    int n = g_mime_header_list_get_count(hl);
    GMimeHeader *h = n > 0 ? g_mime_header_list_get_header_at(hl, n - 1) : NULL;
    const char *raw = h ? g_mime_header_get_raw_value(h) : NULL;
    if (raw)
        hb_raw(ba, name, raw);
}

/* g_mime_multipart_new_with_subtype draws a random boundary from /dev/urandom (one open and
 * read per multipart); ours is derived from the mail id and set right after. */
static GMimeMultipart *multipart_hashed(const char *subtype, uint64_t hash, int level)
{
    GMimeMultipart *mp = g_object_new(GMIME_TYPE_MULTIPART, NULL);
    GMimeContentType *ct = g_mime_content_type_new("multipart", subtype);
    g_mime_object_set_content_type(GMIME_OBJECT(mp), ct);
    g_object_unref(ct);
    char b[64];
    snprintf(b, sizeof b, "=_outpost_%016llx_%d", (unsigned long long)hash, level);
    g_mime_multipart_set_boundary(mp, b);
    return mp;
}

static GMimeMultipart *multipart_new(const char *subtype, const char *id, int level)
{
    return multipart_hashed(subtype, kerio_hash64(id), level);
}

/* The body of a mail that is its text and its HTML (multipart/alternative of two text parts
 * written as they are, 7bit or 8bit), as GMime writes it: made once per combination of the
 * parts' charsets and encodings, by GMime, from a multipart whose boundary holds TMPL_HASH and
 * whose parts hold one placeholder octet each (\x01, \x02: never in a header). GMime writes
 * a part's content as it is (unix2dos only) and the same "\r\n--boundary" after any content,
 * so the body of a mail is the three pieces around the placeholders with its boundary's hash
 * in place of TMPL_HASH, and its texts through unix2dos between them. */
#define TMPL_HASH 0xfedcba9876543210ull
#define TMPL_MAX_HASHES 8
struct alt_piece {
    GByteArray *bytes;
    size_t hash_at[TMPL_MAX_HASHES]; /* where the 16 hex digits of the boundary's hash are */
    unsigned nhash;
};
struct alt_tmpl {
    struct alt_piece piece[3]; /* before the text, between the texts, after the HTML */
};
static _Atomic(struct alt_tmpl *) alt_tmpls[3][2][3][2]; /* [text charset level][8bit][html ...][8bit] */

static void alt_tmpl_free(struct alt_tmpl *a)
{
    if (!a)
        return;
    for (int i = 0; i < 3; i++)
        if (a->piece[i].bytes)
            g_byte_array_unref(a->piece[i].bytes);
    free(a);
}

/* Cuts `b` (GMime's output) into a->piece at the two placeholders; 0, or -1 when it is not
 * the form expected (then GMime writes every such mail itself). */
static int alt_cut(struct alt_tmpl *a, const GByteArray *b)
{
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)TMPL_HASH);
    const guint8 *p1 = memchr(b->data, 0x01, b->len), *p2 = memchr(b->data, 0x02, b->len);
    if (!p1 || !p2 || p2 < p1 || memchr(p1 + 1, 0x01, (size_t)(b->data + b->len - p1 - 1)) ||
        memchr(p2 + 1, 0x02, (size_t)(b->data + b->len - p2 - 1)))
        return -1;
    const guint8 *from[3] = { b->data, p1 + 1, p2 + 1 }, *to[3] = { p1, p2, b->data + b->len };
    unsigned total = 0;
    for (int i = 0; i < 3; i++) {
        struct alt_piece *pc = &a->piece[i];
        pc->bytes = g_byte_array_sized_new((guint)(to[i] - from[i]));
        g_byte_array_append(pc->bytes, from[i], (guint)(to[i] - from[i]));
        for (const guint8 *q = pc->bytes->data, *end = q + pc->bytes->len;
             (q = memmem(q, (size_t)(end - q), hex, 16)) != NULL; q += 16) {
            if (pc->nhash == TMPL_MAX_HASHES)
                return -1;
            pc->hash_at[pc->nhash++] = (size_t)(q - pc->bytes->data);
        }
        total += pc->nhash;
    }
    return total == 4 ? 0 : -1; /* Content-Type's boundary parameter and three delimiter lines */
}

static const struct alt_tmpl *alt_template(int plain_level, GMimeContentEncoding plain_enc, int html_level,
                                           GMimeContentEncoding html_enc)
{
    _Atomic(struct alt_tmpl *) *slot = &alt_tmpls[plain_level][plain_enc == GMIME_CONTENT_ENCODING_8BIT][html_level]
                                                 [html_enc == GMIME_CONTENT_ENCODING_8BIT];
    struct alt_tmpl *have = atomic_load_explicit(slot, memory_order_acquire);
    if (have)
        return have;
    GMimeMultipart *mp = multipart_hashed("alternative", TMPL_HASH, 1);
    GByteArray *t = g_byte_array_new();
    g_byte_array_append(t, (const guint8 *)"\x01", 1);
    GMimeObject *part = text_part_of("plain", t, plain_level, plain_enc);
    g_mime_multipart_add(mp, part);
    g_object_unref(part);
    t = g_byte_array_new();
    g_byte_array_append(t, (const guint8 *)"\x02", 1);
    part = text_part_of("html", t, html_level, html_enc);
    g_mime_multipart_add(mp, part);
    g_object_unref(part);
    GByteArray *bytes = written_crlf(GMIME_OBJECT(mp));
    g_object_unref(mp);
    struct alt_tmpl *made = bytes ? calloc(1, sizeof *made) : NULL;
    int cut = made ? alt_cut(made, bytes) : -1;
    if (bytes)
        g_byte_array_unref(bytes);
    if (cut != 0) {
        alt_tmpl_free(made);
        return NULL;
    }
    struct alt_tmpl *expect = NULL;
    if (atomic_compare_exchange_strong_explicit(slot, &expect, made, memory_order_acq_rel, memory_order_acquire))
        return made;
    alt_tmpl_free(made);
    return expect;
}

/* Appends piece `pc` with `hex` (16 digits) as the boundary's hash. */
static void alt_append(GByteArray *out, const struct alt_piece *pc, const char *hex)
{
    guint at = out->len;
    g_byte_array_append(out, pc->bytes->data, pc->bytes->len);
    for (unsigned i = 0; i < pc->nhash; i++)
        memcpy(out->data + at + pc->hash_at[i], hex, 16);
}

static void alt_tmpls_free(void)
{
    for (size_t i = 0; i < sizeof alt_tmpls / sizeof alt_tmpls[0][0][0][0]; i++)
        alt_tmpl_free(atomic_exchange(&alt_tmpls[0][0][0][0] + i, NULL));
}

/* The content of an attachment part: `data`'s bytes for GMime to encode (the stream takes
 * them over, no copy), or with data NULL the placeholder octet ATT_MARK that GMime writes as
 * it is (the wrapper says it is base64 already, as the part does), for att_splice to replace. */
#define ATT_MARK 0x03
static void attachment_content(GMimePart *part, struct kbuf *data)
{
    GByteArray *bytes;
    if (data) {
        /* GLib frees with free() */
        bytes = data->data ? g_byte_array_new_take((guint8 *)data->data, data->len) : g_byte_array_new();
        memset(data, 0, sizeof *data);
    } else {
        bytes = g_byte_array_new();
        g_byte_array_append(bytes, (const guint8 *)"\x03", 1);
    }
    GMimeStream *stream = g_mime_stream_mem_new_with_byte_array(bytes);
    GMimeDataWrapper *w = g_mime_data_wrapper_new_with_stream(stream, data ? GMIME_CONTENT_ENCODING_DEFAULT
                                                                            : GMIME_CONTENT_ENCODING_BASE64);
    g_mime_part_set_content(part, w);
    g_object_unref(w);
    g_object_unref(stream);
}

static GMimeObject *attachment_part(const json_t *a)
{
    const char *ct = kj_str(a, "contentType");
    GMimeContentType *type = g_mime_content_type_parse(NULL, *ct ? ct : "application/octet-stream");
    const char *mt = type ? g_mime_content_type_get_media_type(type) : NULL;
    const char *st = type ? g_mime_content_type_get_media_subtype(type) : NULL;
    GMimePart *part = g_mime_part_new_with_type(mt && *mt ? mt : "application", st && *st ? st : "octet-stream");
    if (type)
        g_object_unref(type);
    attachment_content(part, NULL);
    const char *cid = kj_str(a, "contentId");
    const char *name = kj_str(a, "name");
    GMimeContentDisposition *disp = g_mime_content_disposition_new();
    g_mime_content_disposition_set_disposition(disp, *cid ? "inline" : "attachment");
    if (*name)
        g_mime_param_list_set_parameter(g_mime_content_disposition_get_parameters(disp), "filename", name);
    g_mime_object_set_content_disposition(GMIME_OBJECT(part), disp);
    g_object_unref(disp);
    if (*name)
        g_mime_param_list_set_parameter(g_mime_content_type_get_parameters(g_mime_object_get_content_type(GMIME_OBJECT(part))),
                                        "name", name);
    if (*cid) {
        char *bare = bare_msgid(cid);
        g_mime_object_set_content_id(GMIME_OBJECT(part), bare);
        g_free(bare);
    }
    g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_BASE64);
    return GMIME_OBJECT(part);
}

/* About the size of the message written for `mail` (headers, its text parts with CRLF line
 * ends, `atts_bytes` of attachments in base64): the output array starts at that size. */
static size_t mime_size_hint(const json_t *mail, size_t atts_bytes)
{
    size_t n = 2048 + atts_bytes / 3 * 4 + atts_bytes / 38; /* base64: 4/3, and CRLF per 76 */
    size_t i;
    const json_t *h;
    json_array_foreach(json_object_get(mail, "displayableParts"), i, h) {
        size_t len = json_string_length(json_object_get(h, "content"));
        n += len + len / 32 + 512;
    }
    return n < (1u << 30) ? n : (1u << 30);
}

/* An attachment in base64 as GMime writes a part's content with CRLF line ends: lines of 76
 * characters (57 octets, RFC 2045 6.8), the last one shorter, each ended by CRLF; nothing for
 * no octets. Encoded by OpenSSL's EVP_EncodeBlock (the standard alphabet, '=' padding, no
 * line breaks), 64 lines at a time, with the line breaks put in while copying them out:
 * GMime's base64 filter and its unix2dos filter behind it made four passes over every octet,
 * the largest share of writing a mail with an attachment; GLib's g_base64_encode_step took
 * 1.5 times as long as EVP_EncodeBlock. */
#define B64_LINE_IN 57u
#define B64_LINE_OUT 76u
#define B64_BLOCK_LINES 64u

static size_t b64_crlf_len(size_t n)
{
    size_t rem = n % B64_LINE_IN;
    return n / B64_LINE_IN * (B64_LINE_OUT + 2) + (rem ? (rem + 2) / 3 * 4 + 2 : 0);
}

/* Writes b64_crlf_len(n) octets at `o`. */
static void b64_crlf_write(char *o, const unsigned char *p, size_t n)
{
    char enc[B64_BLOCK_LINES * B64_LINE_OUT + 8];
    while (n) {
        size_t take = n < B64_BLOCK_LINES * B64_LINE_IN ? n : B64_BLOCK_LINES * B64_LINE_IN;
        size_t elen = (size_t)EVP_EncodeBlock((unsigned char *)enc, p, (int)take); /* and a NUL */
        for (size_t at = 0; at < elen; at += B64_LINE_OUT) {
            size_t line = elen - at < B64_LINE_OUT ? elen - at : B64_LINE_OUT;
            memcpy(o, enc + at, line);
            o[line] = '\r';
            o[line + 1] = '\n';
            o += line + 2;
        }
        p += take;
        n -= take;
    }
}

/* GMime's output `ba` for a mail whose attachments hold the placeholder ATT_MARK, from `body_at`
 * on its body, with the attachments (`data`, in order) in their place: a new array, or NULL
 * when the output is not the form expected (each placeholder alone between the empty line
 * ending its part's header block and the line break before the next delimiter; no other
 * ATT_MARK octet), and the mail is written by GMime part by part then. */
static GByteArray *att_splice(const GByteArray *ba, size_t body_at, const struct kbuf *data, size_t natt)
{
    size_t total = ba->len - natt, found = 0;
    for (size_t i = 0; i < natt; i++)
        total += b64_crlf_len(data[i].len);
    const guint8 **at = g_new(const guint8 *, natt ? natt : 1);
    for (const guint8 *q = ba->data + body_at, *end = ba->data + ba->len;
         (q = memchr(q, ATT_MARK, (size_t)(end - q))) != NULL; q++) {
        if (found == natt || q - ba->data < (ptrdiff_t)body_at + 4 || end - q < 5 || memcmp(q - 4, "\r\n\r\n", 4) != 0 ||
            memcmp(q + 1, "\r\n--", 4) != 0) {
            g_free(at);
            return NULL;
        }
        at[found++] = q;
    }
    if (found != natt || total > G_MAXUINT) {
        g_free(at);
        return NULL;
    }
    GByteArray *out = g_byte_array_sized_new((guint)total);
    g_byte_array_set_size(out, (guint)total);
    char *o = (char *)out->data;
    const guint8 *from = ba->data;
    for (size_t i = 0; i < natt; i++) {
        memcpy(o, from, (size_t)(at[i] - from));
        o += at[i] - from;
        b64_crlf_write(o, (const unsigned char *)data[i].data, data[i].len);
        o += b64_crlf_len(data[i].len);
        from = at[i] + 1;
    }
    memcpy(o, from, (size_t)(ba->data + ba->len - from));
    g_free(at);
    return out;
}

/* Moves the bytes of `ba` (GLib allocates with malloc) into `out` when `out` is empty, else
 * appends a copy. `ba` is left empty either way. */
static int take_bytes(struct kbuf *out, GByteArray *ba)
{
    if (out->data) {
        int rc = kbuf_append(out, ba->data, ba->len);
        g_byte_array_set_size(ba, 0);
        return rc;
    }
    g_byte_array_append(ba, (const guint8 *)"", 1); /* kbuf data is NUL-terminated */
    gsize n = 0;
    guint8 *data = g_byte_array_steal(ba, &n);
    /* GLib sizes arrays in powers of two: give back the unused end (a page of mail holds
     * its messages until they are handed over). */
    char *fit = realloc(data, n);
    out->data = fit ? fit : (char *)data;
    out->len = n - 1;
    out->cap = n;
    return 0;
}

int kerio_mail_to_mime(const json_t *mail, kerio_fetch_fn fetch, void *fctx, struct kbuf *out,
                       char *err, size_t errlen)
{
    const char *id = kj_str(mail, "id");
    /* The message's header block, in the order GMimeMessage writes these headers (its
     * "pretty" ones first): Date, From, Reply-To, Subject, Sender, To, Cc, then
     * Disposition-Notification-To, Bcc, Message-Id, In-Reply-To, X-Priority, MIME-Version. */
    GMimeHeaderList *hl = g_mime_header_list_new(NULL); /* formats the headers given by value */
    /* The whole message is written into one array sized for it (no doubling and copying on the
     * way), which `out` then takes over when it is empty (no copy at all): the header block
     * first, here, then the body by GMime through a stream on the same array. */
    GByteArray *head = g_byte_array_sized_new((guint)mime_size_hint(mail, 0));
    GMimeObject *body = NULL;
    int rc = -1;

    GDateTime *date = kerio_gdatetime(kj_str(mail, "sendDate"));
    if (!date)
        date = kerio_gdatetime(kj_str(mail, "receiveDate"));
    if (date) {
        char *v = g_mime_utils_header_format_date(date);
        hb_value(hl, head, "Date", v, NULL);
        g_free(v);
        g_date_time_unref(date);
    }
    add_addresses(head, "From", mail, "from");
    add_addresses(head, "Reply-To", mail, "replyTo");
    hb_value(hl, head, "Subject", kj_str(mail, "subject"), "utf-8");
    const json_t *sender = json_object_get(mail, "sender");
    if (json_is_object(sender) && *kj_str(sender, "address") &&
        strcmp(kj_str(sender, "address"), kj_str(json_object_get(mail, "from"), "address")) != 0)
        add_addresses(head, "Sender", mail, "sender");
    add_addresses(head, "To", mail, "to");
    add_addresses(head, "Cc", mail, "cc");
    /* Mail.notificationTo: "contents of Disposition-Notification-To header" (a read
     * receipt asked for, RFC 8098) */
    const json_t *dnt = json_object_get(mail, "notificationTo");
    if (json_is_object(dnt) && *kj_str(dnt, "address")) {
        InternetAddressList *list = internet_address_list_new();
        add_address(list, dnt);
        char *v = internet_address_list_to_string(list, NULL, TRUE);
        if (v && *v)
            hb_value(hl, head, "Disposition-Notification-To", v, NULL);
        g_free(v);
        g_object_unref(list);
    }
    add_addresses(head, "Bcc", mail, "bcc");
    const json_t *hdrs = json_object_get(mail, "headers");
    size_t i;
    const json_t *h;
    /* Message-Id and In-Reply-To in the order they first come, each with its last value (as
     * GMimeMessage's set_header left them) */
    char *msgid = NULL, *irt = NULL;
    int irt_first = 0;
    json_array_foreach(hdrs, i, h) {
        const char *type = kj_str(h, "type"), *value = kj_str(h, "value");
        if (!*value)
            continue;
        char *bare = bare_msgid(value);
        if (strcmp(type, "mhMessageID") == 0 && *bare) {
            g_free(msgid);
            msgid = g_strdup_printf("<%s>", bare);
        } else if (strcmp(type, "mhInReplayTo") == 0 || strcmp(type, "mhInReplyTo") == 0) {
            irt_first |= !msgid && !irt;
            g_free(irt);
            irt = g_strdup_printf("<%s>", bare);
        }
        g_free(bare);
    }
    if (irt && irt_first)
        hb_value(hl, head, "In-Reply-To", irt, NULL);
    if (msgid)
        hb_value(hl, head, "Message-Id", msgid, NULL);
    if (irt && !irt_first)
        hb_value(hl, head, "In-Reply-To", irt, NULL);
    g_free(msgid);
    g_free(irt);
    const char *prio = kj_str(mail, "priority");
    if (strcmp(prio, "High") == 0)
        hb_value(hl, head, "X-Priority", "1 (Highest)", NULL);
    else if (strcmp(prio, "Low") == 0)
        hb_value(hl, head, "X-Priority", "5 (Lowest)", NULL);
    hb_value(hl, head, "MIME-Version", "1.0", NULL);

    /* Body: text and/or HTML (alternative), then attachments (mixed). */
    const char *plain = NULL, *html = NULL;
    const json_t *atts = json_object_get(mail, "attachments");
    GByteArray *single = NULL;          /* the text of a message that is one text part */
    GByteArray *alt_text[2] = { NULL, NULL }; /* the text and HTML of a message of those two */
    const struct alt_tmpl *alt = NULL;      /* and the template of that message's body */
    const GByteArray *single_head = NULL; /* and that part's header block */
    const json_t *parts = json_object_get(mail, "displayableParts");
    json_array_foreach(parts, i, h) {
        const char *ct = kj_str(h, "contentType");
        if (!plain && strcmp(ct, "ctTextPlain") == 0)
            plain = kj_str(h, "content");
        else if (!html && strcmp(ct, "ctTextHtml") == 0)
            html = kj_str(h, "content");
    }
    /* Text and HTML (alternative) or one of them; written from what GMime made once for such
     * a body (text_part_head, alt_template) when no text needs encoding and no attachment
     * follows, else by GMime part by part. */
    int as_is = json_array_size(atts) == 0;
    if (plain && html) {
        int levels[2];
        GMimeContentEncoding encs[2];
        for (int k = 0; k < 2; k++) {
            alt_text[k] = text_bytes(k ? html : plain, &levels[k]);
            encs[k] = text_encoding(alt_text[k]->data, alt_text[k]->len);
            as_is &= encs[k] == GMIME_CONTENT_ENCODING_7BIT || encs[k] == GMIME_CONTENT_ENCODING_8BIT;
        }
        alt = as_is ? alt_template(levels[0], encs[0], levels[1], encs[1]) : NULL;
        if (!alt) {
            GMimeMultipart *mp = multipart_new("alternative", id, 1);
            for (int k = 0; k < 2; k++) {
                GMimeObject *p = text_part_of(k ? "html" : "plain", alt_text[k], levels[k], encs[k]);
                alt_text[k] = NULL;
                g_mime_multipart_add(mp, p);
                g_object_unref(p);
            }
            body = GMIME_OBJECT(mp);
        }
    } else {
        int level;
        GByteArray *tb = text_bytes(html ? html : plain ? plain : "", &level);
        GMimeContentEncoding enc = text_encoding(tb->data, tb->len);
        as_is &= enc == GMIME_CONTENT_ENCODING_7BIT || enc == GMIME_CONTENT_ENCODING_8BIT;
        single_head = as_is ? text_part_head(html != NULL, level, enc) : NULL;
        if (single_head)
            single = tb;
        else
            body = text_part_of(html ? "html" : "plain", tb, level, enc);
    }
    /* Attachments: parts whose content is a placeholder, the downloaded bytes in `att_data`;
     * the written message gets them in base64 in its place (att_splice). */
    size_t natt = json_array_size(atts);
    struct kbuf *att_data = natt ? calloc(natt, sizeof *att_data) : NULL;
    GMimePart **att_parts = natt ? calloc(natt, sizeof *att_parts) : NULL;
    if (natt && (!att_data || !att_parts)) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (natt > 0) {
        GMimeMultipart *mixed = multipart_new("mixed", id, 0);
        g_mime_multipart_add(mixed, body);
        g_object_unref(body);
        body = GMIME_OBJECT(mixed);
        const json_t *a;
        json_array_foreach(atts, i, a) {
            if (!fetch || fetch(fctx, kj_str(a, "url"), &att_data[i], err, errlen) != 0) {
                if (!fetch)
                    snprintf(err, errlen, "no way to fetch attachment %zu", i);
                goto out;
            }
            GMimeObject *p = attachment_part(a);
            g_mime_multipart_add(mixed, p);
            att_parts[i] = GMIME_PART(p); /* the multipart holds it */
            g_object_unref(p);
        }
    }

    size_t body_at = head->len;
    GMimeStream *mem = g_mime_stream_mem_new_with_byte_array(head); /* owns it now */
    head = NULL;
    GMimeFormatOptions *opts = g_mime_format_options_new();
    g_mime_format_options_set_newline_format(opts, GMIME_NEWLINE_FORMAT_DOS);
    int wrote = g_mime_stream_seek(mem, (gint64)body_at, GMIME_STREAM_SEEK_SET) == (gint64)body_at &&
                (!body || g_mime_object_write_to_stream(body, opts, mem) >= 0);
    GByteArray *spliced = NULL;
    if (wrote && natt) {
        GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
        spliced = att_splice(ba, body_at, att_data, natt);
        if (!spliced) {
            /* not the form expected: GMime encodes the attachments itself */
            for (size_t k = 0; k < natt; k++)
                attachment_content(att_parts[k], &att_data[k]);
            g_byte_array_set_size(ba, (guint)body_at);
            wrote = g_mime_stream_seek(mem, (gint64)body_at, GMIME_STREAM_SEEK_SET) == (gint64)body_at &&
                    g_mime_object_write_to_stream(body, opts, mem) >= 0;
        }
    }
    if (!wrote) {
        snprintf(err, errlen, "GMime could not write the message");
    } else {
        GByteArray *ba = spliced ? spliced : g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
        if (single) {
            g_byte_array_append(ba, single_head->data, single_head->len);
            append_crlf_text(ba, single);
        } else if (alt) {
            char hex[17];
            snprintf(hex, sizeof hex, "%016llx", (unsigned long long)kerio_hash64(id));
            alt_append(ba, &alt->piece[0], hex);
            append_crlf_text(ba, alt_text[0]);
            alt_append(ba, &alt->piece[1], hex);
            append_crlf_text(ba, alt_text[1]);
            alt_append(ba, &alt->piece[2], hex);
        }
        /* GMimeMessage ends a single-part body that does not end with a line break with one
         * (its body's ensure_newline); a multipart writes its own after the last boundary. */
        if ((single || GMIME_IS_PART(body)) && ba->len && ba->data[ba->len - 1] != '\n')
            g_byte_array_append(ba, (const guint8 *)"\r\n", 2);
        rc = take_bytes(out, ba);
        if (rc)
            snprintf(err, errlen, "out of memory");
    }
    if (spliced)
        g_byte_array_unref(spliced);
    g_mime_format_options_free(opts);
    g_object_unref(mem);
out:
    if (head)
        g_byte_array_unref(head);
    for (size_t k = 0; att_data && k < natt; k++)
        kbuf_free(&att_data[k]);
    free(att_data);
    free(att_parts);
    if (body)
        g_object_unref(body);
    if (single)
        g_byte_array_unref(single);
    for (int i = 0; i < 2; i++)
        if (alt_text[i])
            g_byte_array_unref(alt_text[i]);
    g_object_unref(hl);
    return rc;
}

/* ---- MIME → Mail ---- */

static json_t *address_list_json(InternetAddressList *list)
{
    json_t *a = json_array();
    int n = list ? internet_address_list_length(list) : 0;
    for (int i = 0; i < n; i++) {
        InternetAddress *ia = internet_address_list_get_address(list, i);
        if (INTERNET_ADDRESS_IS_GROUP(ia)) {
            json_t *inner = address_list_json(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)));
            json_array_extend(a, inner);
            json_decref(inner);
            continue;
        }
        const char *name = internet_address_get_name(ia);
        const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
        json_array_append_new(a, json_pack("{s:s, s:s}", "name", name ? name : "", "address", addr ? addr : ""));
    }
    return a;
}

struct walk_ctx {
    struct kerio_parsed_mail *out;
    json_t *parts;
    int have_plain, have_html;
    int failed;
};

static int decode_part(GMimePart *part, struct kbuf *out)
{
    GMimeDataWrapper *w = g_mime_part_get_content(part);
    if (!w)
        return 0;
    GMimeStream *mem = g_mime_stream_mem_new();
    int rc = g_mime_data_wrapper_write_to_stream(w, mem) < 0 ? -1 : 0;
    if (rc == 0) {
        GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
        rc = kbuf_append(out, ba->data, ba->len);
    }
    g_object_unref(mem);
    return rc;
}

static void walk_part(GMimeObject *parent, GMimeObject *obj, gpointer data)
{
    (void)parent;
    struct walk_ctx *w = data;
    if (w->failed || !GMIME_IS_PART(obj))
        return;
    GMimePart *part = GMIME_PART(obj);
    GMimeContentType *ct = g_mime_object_get_content_type(obj);
    GMimeContentDisposition *disp = g_mime_object_get_content_disposition(obj);
    int is_att = disp && g_mime_content_disposition_is_attachment(disp);
    if (!is_att && GMIME_IS_TEXT_PART(obj) && g_mime_content_type_is_type(ct, "text", "plain") && !w->have_plain) {
        char *text = g_mime_text_part_get_text(GMIME_TEXT_PART(obj));
        json_array_append_new(w->parts, json_pack("{s:s, s:s}", "contentType", "ctTextPlain", "content", text ? text : ""));
        g_free(text);
        w->have_plain = 1;
        return;
    }
    if (!is_att && GMIME_IS_TEXT_PART(obj) && g_mime_content_type_is_type(ct, "text", "html") && !w->have_html) {
        char *text = g_mime_text_part_get_text(GMIME_TEXT_PART(obj));
        json_array_append_new(w->parts, json_pack("{s:s, s:s}", "contentType", "ctTextHtml", "content", text ? text : ""));
        g_free(text);
        w->have_html = 1;
        return;
    }
    struct kerio_parsed_mail *m = w->out;
    struct kerio_mime_attachment *na = realloc(m->att, (m->natt + 1) * sizeof *na);
    if (!na) {
        w->failed = 1;
        return;
    }
    m->att = na;
    struct kerio_mime_attachment *a = &m->att[m->natt++];
    memset(a, 0, sizeof *a);
    const char *fn = g_mime_part_get_filename(part);
    char *mime_type = g_mime_content_type_get_mime_type(ct);
    a->name = g_strdup(fn ? fn : "attachment");
    a->content_type = g_strdup(mime_type ? mime_type : "application/octet-stream");
    g_free(mime_type);
    const char *cid = g_mime_object_get_content_id(obj);
    a->content_id = cid ? g_strdup(cid) : NULL;
    if (decode_part(part, &a->data) != 0)
        w->failed = 1;
}

int kerio_mime_to_mail(const char *mime, size_t len, struct kerio_parsed_mail *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(mime, len);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
    g_object_unref(parser);
    g_object_unref(stream);
    if (!msg) {
        snprintf(err, errlen, "content is not a MIME message");
        return -1;
    }
    json_t *m = json_object();
    InternetAddressList *from = g_mime_message_get_from(msg);
    json_t *fl = address_list_json(from);
    if (json_array_size(fl) > 0)
        json_object_set(m, "from", json_array_get(fl, 0));
    json_decref(fl);
    json_object_set_new(m, "to", address_list_json(g_mime_message_get_to(msg)));
    json_object_set_new(m, "cc", address_list_json(g_mime_message_get_cc(msg)));
    json_object_set_new(m, "bcc", address_list_json(g_mime_message_get_bcc(msg)));
    json_object_set_new(m, "replyTo", address_list_json(g_mime_message_get_reply_to(msg)));
    /* Sender (delegation) and Disposition-Notification-To: Mail.sender, Mail.notificationTo */
    fl = address_list_json(g_mime_message_get_sender(msg));
    if (json_array_size(fl) > 0)
        json_object_set(m, "sender", json_array_get(fl, 0));
    json_decref(fl);
    const char *dnt = g_mime_object_get_header(GMIME_OBJECT(msg), "Disposition-Notification-To");
    InternetAddressList *dl = dnt ? internet_address_list_parse(NULL, dnt) : NULL;
    fl = address_list_json(dl);
    if (json_array_size(fl) > 0 && *kj_str(json_array_get(fl, 0), "address"))
        json_object_set(m, "notificationTo", json_array_get(fl, 0));
    json_decref(fl);
    if (dl)
        g_object_unref(dl);
    const char *subj = g_mime_message_get_subject(msg);
    json_object_set_new(m, "subject", json_string(subj && g_utf8_validate(subj, -1, NULL) ? subj : ""));
    GDateTime *date = g_mime_message_get_date(msg);
    if (date) {
        int off = (int)(g_date_time_get_utc_offset(date) / G_TIME_SPAN_MINUTE);
        struct ktime kt = { g_date_time_get_year(date), g_date_time_get_month(date), g_date_time_get_day_of_month(date),
                            g_date_time_get_hour(date), g_date_time_get_minute(date), g_date_time_get_second(date), 0,
                            off ? KTIME_OFFSET : KTIME_UTC, off };
        char s[24];
        ktime_format(&kt, s);
        json_object_set_new(m, "sendDate", json_string(s));
    }
    json_t *hdrs = json_array();
    const char *mid = g_mime_message_get_message_id(msg);
    if (mid && *mid) {
        out->message_id = g_strdup(mid);
        char *v = g_strdup_printf("<%s>", mid);
        json_array_append_new(hdrs, json_pack("{s:s, s:s}", "type", "mhMessageID", "value", v));
        g_free(v);
    }
    const char *irt = g_mime_object_get_header(GMIME_OBJECT(msg), "In-Reply-To");
    if (irt && *irt) {
        char *decoded = g_mime_utils_header_decode_text(NULL, irt);
        char *bare = bare_msgid(decoded);
        char *v = g_strdup_printf("<%s>", bare);
        json_array_append_new(hdrs, json_pack("{s:s, s:s}", "type", "mhInReplayTo", "value", v));
        g_free(v);
        g_free(bare);
        g_free(decoded);
    }
    json_object_set_new(m, "headers", hdrs);
    const char *xp = g_mime_object_get_header(GMIME_OBJECT(msg), "X-Priority");
    if (xp && (*xp == '1' || *xp == '2'))
        json_object_set_new(m, "priority", json_string("High"));
    else if (xp && (*xp == '4' || *xp == '5'))
        json_object_set_new(m, "priority", json_string("Low"));

    struct walk_ctx w = { out, json_array(), 0, 0, 0 };
    g_mime_message_foreach(msg, walk_part, &w);
    json_object_set_new(m, "displayableParts", w.parts);
    g_object_unref(msg);
    /* Strings must be valid UTF-8 for JSON: jansson refuses otherwise. */
    out->mail = m;
    if (w.failed) {
        snprintf(err, errlen, "could not decode a MIME part");
        kerio_parsed_mail_free(out);
        return -1;
    }
    return 0;
}

void kerio_parsed_mail_free(struct kerio_parsed_mail *m)
{
    json_decref(m->mail);
    for (size_t i = 0; i < m->natt; i++) {
        g_free(m->att[i].name);
        g_free(m->att[i].content_type);
        g_free(m->att[i].content_id);
        kbuf_free(&m->att[i].data);
    }
    free(m->att);
    g_free(m->message_id);
    memset(m, 0, sizeof *m);
}
