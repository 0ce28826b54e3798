/* tests/mapi/test_mapi_rtf.c — PR_RTF_COMPRESSED: the MS-OXRTFCP example
 * streams decode, compression round-trips (short, repetitive, beyond the
 * 4 KiB dictionary, random bytes), corrupt input is refused, and HTML/text
 * bodies survive RTF encapsulation and extraction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "mapi_rtf.h"

/* MS-OXRTFCP 3.1.1 and 3.1.2 (examples of compressed RTF). */
static const uint8_t EX1[] = { 0x2d, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xf1, 0xc5,
                               0xc7, 0xa7, 0x03, 0x00, 0x0a, 0x00, 0x72, 0x63, 0x70, 0x67, 0x31, 0x32, 0x35, 0x42,
                               0x32, 0x0a, 0xf3, 0x20, 0x68, 0x65, 0x6c, 0x09, 0x00, 0x20, 0x62, 0x77, 0x05, 0xb0,
                               0x6c, 0x64, 0x7d, 0x0a, 0x80, 0x0f, 0xa0 };
static const char EX1_RAW[] = "{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n";
static const uint8_t EX2[] = { 0x1a, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75,
                               0xe2, 0xd4, 0x4b, 0x51, 0x41, 0x00, 0x04, 0x20, 0x57, 0x58, 0x59, 0x5a,
                               0x0d, 0x6e, 0x7d, 0x01, 0x0e, 0xb0 };
static const char EX2_RAW[] = "{\\rtf1 WXYZWXYZWXYZWXYZWXYZ}";

static void decode_ok(const uint8_t *in, size_t len, const char *want)
{
    uint8_t *out;
    size_t n;
    char err[128];
    assert_int_equal(mapi_rtf_decompress(in, len, &out, &n, err, sizeof err), 0);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    free(out);
}

static void test_spec_examples(void **state)
{
    (void)state;
    decode_ok(EX1, sizeof EX1, EX1_RAW);
    decode_ok(EX2, sizeof EX2, EX2_RAW);
}

static void roundtrip(const uint8_t *raw, size_t len)
{
    uint8_t *c, *d;
    size_t cl, dl;
    char err[128];
    assert_int_equal(mapi_rtf_compress(raw, len, &c, &cl), 0);
    assert_int_equal(mapi_rtf_decompress(c, cl, &d, &dl, err, sizeof err), 0);
    assert_int_equal(dl, len);
    if (len)
        assert_memory_equal(d, raw, len);
    free(c);
    free(d);
}

static void test_roundtrips(void **state)
{
    (void)state;
    roundtrip((const uint8_t *)"", 0);
    roundtrip((const uint8_t *)EX1_RAW, strlen(EX1_RAW));
    roundtrip((const uint8_t *)EX2_RAW, strlen(EX2_RAW));
    size_t n = 100000;
    uint8_t *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (uint8_t)("{\\rtf1 lorem ipsum dolor sit amet \\par}"[i % 38]);
    roundtrip(big, n);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        big[i] = (uint8_t)(x >> 16);
    }
    roundtrip(big, n);
    free(big);
}

static void test_compressed_is_smaller(void **state)
{
    (void)state;
    uint8_t *c;
    size_t cl;
    assert_int_equal(mapi_rtf_compress((const uint8_t *)EX2_RAW, strlen(EX2_RAW), &c, &cl), 0);
    /* our encoder finds the same repeats the spec's example uses */
    assert_true(cl <= sizeof EX2);
    free(c);
}

static void test_corrupt_refused(void **state)
{
    (void)state;
    uint8_t bad[sizeof EX1];
    uint8_t *out;
    size_t n;
    char err[128];
    memcpy(bad, EX1, sizeof bad);
    bad[20] ^= 0x40; /* data changed: CRC mismatch */
    assert_int_not_equal(mapi_rtf_decompress(bad, sizeof bad, &out, &n, err, sizeof err), 0);
    assert_non_null(strstr(err, "CRC"));
    memcpy(bad, EX1, sizeof bad);
    bad[0] = 0xff; /* COMPSIZE beyond the data */
    assert_int_not_equal(mapi_rtf_decompress(bad, sizeof bad, &out, &n, err, sizeof err), 0);
    assert_int_not_equal(mapi_rtf_decompress(bad, 10, &out, &n, err, sizeof err), 0);
    memcpy(bad, EX1, sizeof bad);
    bad[8] = 'X'; /* unknown COMPTYPE */
    assert_int_not_equal(mapi_rtf_decompress(bad, sizeof bad, &out, &n, err, sizeof err), 0);
    /* MELA: stored uncompressed */
    uint8_t mela[16 + 5] = { 17, 0, 0, 0, 5, 0, 0, 0, 'M', 'E', 'L', 'A', 0, 0, 0, 0, 'h', 'e', 'l', 'l', 'o' };
    assert_int_equal(mapi_rtf_decompress(mela, sizeof mela, &out, &n, err, sizeof err), 0);
    assert_int_equal(n, 5);
    free(out);
}

static void test_html_encapsulation(void **state)
{
    (void)state;
    const char *html = "<html><body><p>Grüße {braces} \\ back</p>\r\n<b>€ 😀</b></body></html>";
    char *rtf = mapi_rtf_from_html(html, strlen(html));
    assert_non_null(strstr(rtf, "\\fromhtml1"));
    int kind;
    size_t n;
    char *back = mapi_rtf_extract((const uint8_t *)rtf, strlen(rtf), &kind, &n);
    assert_int_equal(kind, MAPI_RTF_HTML);
    assert_string_equal(back, html);
    free(back);
    free(rtf);
    const char *text = "Line one\nLine\ttwo — ünïcode";
    rtf = mapi_rtf_from_text(text, strlen(text));
    back = mapi_rtf_extract((const uint8_t *)rtf, strlen(rtf), &kind, &n);
    assert_int_equal(kind, MAPI_RTF_TEXT);
    assert_string_equal(back, "Line one\nLine\ttwo — ünïcode");
    free(back);
    free(rtf);
}

static void test_outlook_style_rtf(void **state)
{
    (void)state;
    /* RTF as Outlook writes for HTML mail: \htmltag groups and \htmlrtf runs. */
    const char *rtf = "{\\rtf1\\ansi\\ansicpg1252\\fromhtml1 \\deff0{\\fonttbl{\\f0\\fswiss Arial;}}"
                      "{\\*\\htmltag19 <html>}{\\*\\htmltag34 <body>}\\htmlrtf {\\htmlrtf0 Hi \\'e9t\\'e9"
                      "{\\*\\htmltag84 &nbsp;}\\htmlrtf \\'a0\\htmlrtf0 there}\\htmlrtf0 {\\*\\htmltag35 </body>}}";
    int kind;
    size_t n;
    char *back = mapi_rtf_extract((const uint8_t *)rtf, strlen(rtf), &kind, &n);
    assert_int_equal(kind, MAPI_RTF_HTML);
    assert_string_equal(back, "<html><body>Hi été&nbsp;there</body>");
    free(back);
    const char *plain = "{\\rtf1\\ansi{\\fonttbl{\\f0 Arial;}}{\\colortbl;\\red0\\green0\\blue0;}"
                        "\\pard Hello\\par {\\*\\generator x;}World \\u8364?\\tab end}";
    back = mapi_rtf_extract((const uint8_t *)plain, strlen(plain), &kind, &n);
    assert_int_equal(kind, MAPI_RTF_PLAIN);
    assert_string_equal(back, "Hello\nWorld €\tend");
    free(back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_examples),
        cmocka_unit_test(test_roundtrips),
        cmocka_unit_test(test_compressed_is_smaller),
        cmocka_unit_test(test_corrupt_refused),
        cmocka_unit_test(test_html_encapsulation),
        cmocka_unit_test(test_outlook_style_rtf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
