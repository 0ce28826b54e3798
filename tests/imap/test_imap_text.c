/* tests/imap/test_imap_text.c — SEARCH's case-insensitive substring match
 * (frontends/imap/imap_text.h): ASCII, the i;unicode-casemap comparator of
 * RFC 5051 for other text, bytes that are not UTF-8, and a scan of content
 * read in chunks that finds a match across two chunks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap_text.h"

static int has(const char *hay, const char *needle)
{
    return imap_text_contains(hay, needle);
}

static void test_ascii(void **state)
{
    (void)state;
    assert_true(has("Quarterly Report 2023", "REPORT"));
    assert_true(has("Quarterly Report 2023", "rly rep"));
    assert_false(has("Quarterly Report 2023", "reports"));
    assert_true(has("anything", ""));
    assert_true(has(NULL, ""));
    assert_false(has(NULL, "a"));
    assert_false(has("ab", "abc"));
    /* a NUL in the text (binary content) ends nothing */
    assert_true(imap_text_find("a\0bCD", 5, "cd", 2));
}

static void test_unicode_case(void **state)
{
    (void)state;
    assert_true(has("\xc3\x9c" "berblick der Zahlen", "\xc3\xbc" "berblick"));        /* Überblick / überblick */
    assert_true(has("\xc3\xbc" "berblick", "\xc3\x9c" "BERBLICK"));
    /* ПРИВЕТ мир / привет */
    assert_true(has("\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2 \xd0\xbc\xd0\xb8\xd1\x80",
                    "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"));
    /* ΟΔΌΣ / οδός (final sigma) */
    assert_true(has("\xce\x9f\xce\x94\xce\x8c\xce\xa3", "\xce\xbf\xce\xb4\xcf\x8c\xcf\x82"));
    assert_false(has("\xc3\x9c" "berblick", "\xc3\xb6" "berblick"));                   /* ö is not ü */
    assert_false(has("Uberblick", "\xc3\xbc" "berblick"));                            /* nor u */
    /* a decomposed é (e + U+0301) is the precomposed É */
    assert_true(has("Caf" "e\xcc\x81" " au lait", "CAF\xc3\x89"));
    assert_true(has("CAF\xc3\x89", "caf" "e\xcc\x81"));
    /* compatibility mappings: the ligature U+FB01, the Kelvin sign, a full-width letter */
    assert_true(has("\xef\xac\x81" "le", "FILE"));
    assert_true(has("5 \xe2\x84\xaa", "5 k"));
    assert_true(has("\xef\xbc\xa1" "BC", "abc"));
    /* RFC 5051 maps case with the simple titlecase mapping: sharp s stays one
     * letter (it is not "SS"), matching itself in any word case */
    assert_true(has("Stra\xc3\x9f" "e", "STRA\xc3\x9f" "E"));
    assert_false(has("Stra\xc3\x9f" "e", "STRASSE"));
}

static void test_not_utf8(void **state)
{
    (void)state;
    /* Latin-1 bytes are compared as they are */
    assert_true(has("\xdc" "berblick", "\xdc" "BERBLICK"));
    assert_false(has("\xdc" "berblick", "\xc3\xbc" "berblick"));
    /* a cut or invalid sequence next to real text does not hide it */
    assert_true(has("\xe2\x84" "\xc3\x9c" "ber", "\xc3\xbc" "ber"));
    assert_true(has("\xff\xfe" "\xd0\x9f\xd0\xa0\xd0\x98", "\xd0\xbf\xd1\x80\xd0\xb8"));
}

/* A text in memory read through imap_text_scan's range reader. */
struct mem {
    const char *p;
    size_t n;
};

static int mem_read(void *ctx, uint64_t off, void *buf, size_t len, size_t *got)
{
    const struct mem *m = ctx;
    *got = off >= m->n ? 0 : m->n - off < len ? (size_t)(m->n - off) : len;
    memcpy(buf, m->p + off, *got);
    return 0;
}

/* What a full-text index ignoring diacritics sees: marks dropped after NFKD. */
static void test_strip_marks(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = { { "K\xc3\xa4se", "Kase" }, { "\xc3\xa9", "e" }, { "e\xcc\x81t\xc3\xa9", "ete" },
                  { "plain", "plain" }, { "\xef\xac\x81le", "file" }, { "\xc3\x9f", "\xc3\x9f" } };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *r = imap_text_strip_marks(cases[i].in);
        assert_non_null(r);
        assert_string_equal(r, cases[i].out);
        free(r);
    }
    assert_null(imap_text_strip_marks("bad \xff"));
}

static void test_chunk_overlap(void **state)
{
    (void)state;
    /* content read in chunks of every size: text whose code points shrink when mapped (the Kelvin sign, 3 bytes, is
     * "K"; a mathematical bold A, 4 bytes, is "A"), and long multi-byte runs */
    const char *texts[] = {
        /* octal escapes: a hex escape would swallow the letters after it */
        "....................\342\204\252\342\204\252\342\204\252\342\204\252elvin........",
        "...............\360\235\220\200\360\235\220\200\360\235\220\200BC.............",
        "........\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2......\303\234berblick....",
    };
    const char *needles[] = {
        "kkkkelvin",
        "aaabc",
        "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82",
        "\303\274berblick",
    };
    int expect[3][4] = { { 1, 0, 0, 0 }, { 0, 1, 0, 0 }, { 0, 0, 1, 1 } };
    for (size_t t = 0; t < 3; t++)
        for (size_t n = 0; n < 4; n++) {
            size_t len = strlen(texts[t]);
            assert_int_equal(imap_text_find(texts[t], len, needles[n], strlen(needles[n])), expect[t][n]);
            struct mem m = { texts[t], len };
            for (size_t chunk = 1; chunk <= len; chunk++)
                assert_int_equal(imap_text_scan(mem_read, &m, 0, len, needles[n], chunk), expect[t][n]);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii),
        cmocka_unit_test(test_unicode_case),
        cmocka_unit_test(test_not_utf8),
        cmocka_unit_test(test_chunk_overlap),
        cmocka_unit_test(test_strip_marks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
