/* tests/imap/test_imap_syntax.c — the IMAP command tokenizer and grammar:
 * what a client sends turns into the right tokens, or a BAD with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap_mime.h"
#include "imap_parser.h"
#include "imap_syntax.h"

static struct imap_parser *newp(void)
{
    struct imap_parser_limits lim = { 1000, 16, 100 };
    return imap_parser_new(&lim);
}

static void test_simple_command(void **state)
{
    (void)state;
    struct imap_parser *p = newp();
    uint64_t n;
    int ns;
    const char *l = "a1 uid fetch 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.10>)";
    assert_int_equal(imap_parser_line(p, l, strlen(l), &n, &ns), IMAP_PARSE_DONE);
    assert_string_equal(imap_parser_tag(p), "a1");
    assert_string_equal(imap_parser_name(p), "UID FETCH");
    const struct imap_tok *a = imap_parser_args(p);
    assert_int_equal(a->nkids, 2);
    assert_string_equal(a->kids[0]->s, "1:*");
    assert_int_equal(a->kids[1]->type, IMAP_TOK_LIST);
    assert_string_equal(a->kids[1]->kids[1]->s, "BODY.PEEK[HEADER.FIELDS (From To)]<0.10>");
    struct imap_fetch_req r;
    char err[128];
    assert_int_equal(imap_fetch_parse(a->kids[1], NULL, &r, err, sizeof err), 0);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.a[1].spec, IMAP_SEC_HEADER_FIELDS);
    assert_int_equal(r.a[1].nfields, 2);
    assert_true(r.a[1].peek && r.a[1].partial && r.a[1].plen == 10);
    assert_string_equal(r.a[1].label, "BODY[HEADER.FIELDS (FROM TO)]<0>");
    imap_fetch_free(&r);
    imap_parser_free(p);
}

static void test_literals(void **state)
{
    (void)state;
    struct imap_parser *p = newp();
    uint64_t n = 0;
    int ns = 0;
    assert_int_equal(imap_parser_line(p, "x LOGIN {3+}", 12, &n, &ns), IMAP_PARSE_LITERAL);
    assert_int_equal(n, 3);
    assert_int_equal(ns, 1);
    char *m = malloc(4);
    memcpy(m, "bob", 3);
    imap_parser_literal(p, m, NULL, 3);
    assert_int_equal(imap_parser_line(p, " \"pw\"", 5, &n, &ns), IMAP_PARSE_DONE);
    assert_string_equal(imap_parser_args(p)->kids[0]->s, "bob");
    assert_string_equal(imap_parser_args(p)->kids[1]->s, "pw");
    imap_parser_reset(p);
    /* over the limit: an error that says so */
    assert_int_equal(imap_parser_line(p, "y APPEND INBOX {101}", 20, &n, &ns), IMAP_PARSE_ERROR);
    assert_true(imap_parser_too_big(p));
    assert_non_null(strstr(imap_parser_error(p), "exceeds"));
    imap_parser_free(p);
}

/* A header-fld-name is an astring (RFC 3501 9), so a literal may stand inside the brackets of
 * BODY[HEADER.FIELDS (...)]: it joins the atom as a quoted string; a literal that is no field name, or a
 * line that ends inside brackets without one, is an error. */
static void feed_lit(struct imap_parser *p, const char *text)
{
    size_t k = strlen(text);
    char *m = malloc(k + 1);
    memcpy(m, text, k);
    imap_parser_literal(p, m, NULL, k);
}

static void test_literal_in_brackets(void **state)
{
    (void)state;
    struct imap_parser *p = newp();
    uint64_t n = 0;
    int ns = 0;
    const char *l1 = "t FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (\"Subject\" {2}";
    assert_int_equal(imap_parser_line(p, l1, strlen(l1), &n, &ns), IMAP_PARSE_LITERAL);
    assert_int_equal(n, 2);
    feed_lit(p, "Cc");
    assert_int_equal(imap_parser_line(p, " {4+}", 5, &n, &ns), IMAP_PARSE_LITERAL);
    assert_int_equal(ns, 1);
    feed_lit(p, "X-\"a");
    assert_int_equal(imap_parser_line(p, ")]<0.5> UID)", 12, &n, &ns), IMAP_PARSE_DONE);
    const struct imap_tok *a = imap_parser_args(p);
    assert_int_equal(a->kids[1]->nkids, 3);
    assert_string_equal(a->kids[1]->kids[1]->s, "BODY.PEEK[HEADER.FIELDS (\"Subject\" \"Cc\" \"X-\\\"a\")]<0.5>");
    struct imap_fetch_req r;
    char err[128];
    assert_int_equal(imap_fetch_parse(a->kids[1], NULL, &r, err, sizeof err), 0);
    assert_int_equal(r.a[1].nfields, 3);
    assert_string_equal(r.a[1].fields[1], "Cc");
    assert_string_equal(r.a[1].fields[2], "X-\"a");
    imap_fetch_free(&r);
    imap_parser_reset(p);
    const char *l2 = "t FETCH 1 BODY[HEADER.FIELDS ({3}";
    assert_int_equal(imap_parser_line(p, l2, strlen(l2), &n, &ns), IMAP_PARSE_LITERAL);
    feed_lit(p, "a\r\n");
    assert_int_equal(imap_parser_line(p, ")]", 2, &n, &ns), IMAP_PARSE_ERROR);
    imap_parser_reset(p);
    const char *l3 = "t FETCH 1 BODY[HEADER.FIELDS (a";
    assert_int_equal(imap_parser_line(p, l3, strlen(l3), &n, &ns), IMAP_PARSE_ERROR);
    imap_parser_reset(p);
    const char *l4 = "t FETCH 1 BODY[HEADER.FIELDS ({5000}";
    assert_int_equal(imap_parser_line(p, l4, strlen(l4), &n, &ns), IMAP_PARSE_ERROR);
    imap_parser_free(p);
}

static void test_errors(void **state)
{
    (void)state;
    static const char *const bad[] = { "", "a1", "a1 ", "+x NOOP", "a1 FETCH (1", "a1 FETCH 1)", "a1 LOGIN \"x",
                                       "a1 X {3}abc", "a1 X a\"b" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct imap_parser *p = newp();
        uint64_t n;
        int ns;
        assert_int_equal(imap_parser_line(p, bad[i], strlen(bad[i]), &n, &ns), IMAP_PARSE_ERROR);
        assert_true(strlen(imap_parser_error(p)) > 0);
        imap_parser_free(p);
    }
}

static void test_seqset(void **state)
{
    (void)state;
    struct imap_seqset s;
    assert_int_equal(imap_seqset_parse("1:3,7,10:*", &s), 0);
    assert_true(imap_seqset_contains(&s, 2, 20));
    assert_false(imap_seqset_contains(&s, 5, 20));
    assert_true(imap_seqset_contains(&s, 20, 20));
    imap_seqset_free(&s);
    assert_int_equal(imap_seqset_parse("5:*", &s), 0);
    assert_true(imap_seqset_contains(&s, 3, 3)); /* 5:* with 3 messages means 3:5 */
    imap_seqset_free(&s);
    /* 4294967295 is the largest number a set may name (RFC 3501 9 nz-number); it is not '*' */
    assert_int_equal(imap_seqset_parse("1:4294967295", &s), 0);
    assert_true(imap_seqset_contains(&s, 7, 7));
    assert_true(imap_seqset_contains(&s, 4294967295u, 7));
    imap_seqset_free(&s);
    assert_int_equal(imap_seqset_parse("4294967295", &s), 0);
    assert_false(imap_seqset_contains(&s, 7, 7));
    imap_seqset_free(&s);
    assert_int_equal(imap_seqset_parse("4294967296", &s), -1);
    assert_int_equal(imap_seqset_parse("0", &s), -1);
    assert_int_equal(imap_seqset_parse("1,", &s), -1);
    assert_int_equal(imap_seqset_parse("a", &s), -1);
}

static void test_numbers(void **state)
{
    (void)state;
    uint64_t v = 1;
    assert_int_equal(imap_number_parse("0", UINT32_MAX, &v), 0);
    assert_true(v == 0);
    assert_int_equal(imap_number_parse("4294967295", UINT32_MAX, &v), 0);
    assert_true(v == 4294967295u);
    assert_int_equal(imap_number_parse("4294967296", UINT32_MAX, &v), -1);
    /* mod-sequences are 63 bits (RFC 7162 7) */
    assert_int_equal(imap_number_parse("9223372036854775807", IMAP_MODSEQ_MAX, &v), 0);
    assert_true(v == IMAP_MODSEQ_MAX);
    assert_int_equal(imap_number_parse("9223372036854775808", IMAP_MODSEQ_MAX, &v), -1);
    assert_int_equal(imap_number_parse("99999999999999999999999", IMAP_MODSEQ_MAX, &v), -1);
    assert_int_equal(imap_number_parse("18446744073709551615", UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(imap_number_parse("18446744073709551616", UINT64_MAX, &v), -1);
    assert_int_equal(imap_number_parse("", UINT32_MAX, &v), -1);
    assert_int_equal(imap_number_parse("12a", UINT32_MAX, &v), -1);
    assert_int_equal(imap_number_parse("-1", UINT32_MAX, &v), -1);
    assert_int_equal(imap_number_parse("+1", UINT32_MAX, &v), -1);
}

static void test_search(void **state)
{
    (void)state;
    struct imap_parser *p = newp();
    uint64_t n;
    int ns;
    const char *l = "s SEARCH OR FROM alice (SINCE 1-Feb-2024 UNSEEN) NOT KEYWORD \\Flagged";
    assert_int_equal(imap_parser_line(p, l, strlen(l), &n, &ns), IMAP_PARSE_DONE);
    const struct imap_tok *a = imap_parser_args(p);
    struct imap_skey *k;
    char err[128];
    assert_int_equal(imap_search_parse((const struct imap_tok *const *)a->kids, a->nkids, &k, err, sizeof err), 0);
    assert_int_equal(k->nkids, 2);
    assert_int_equal(k->kids[0]->op, IMAP_SK_OR);
    assert_int_equal(k->kids[1]->op, IMAP_SK_NOT);
    imap_search_free(k);
    imap_parser_free(p);
    p = newp();
    l = "s SEARCH SINCE 31-Foo-2024";
    assert_int_equal(imap_parser_line(p, l, strlen(l), &n, &ns), IMAP_PARSE_DONE);
    a = imap_parser_args(p);
    assert_int_equal(imap_search_parse((const struct imap_tok *const *)a->kids, a->nkids, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "invalid date"));
    imap_parser_free(p);
    /* a client's 8-bit word quoted in the error stays 7-bit (response text is TEXT-CHAR) */
    p = newp();
    l = "s SEARCH CAF\xc3\x89";
    assert_int_equal(imap_parser_line(p, l, strlen(l), &n, &ns), IMAP_PARSE_DONE);
    a = imap_parser_args(p);
    assert_int_equal(imap_search_parse((const struct imap_tok *const *)a->kids, a->nkids, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "CAF??"));
    imap_parser_free(p);
}

static void test_mutf7_dates(void **state)
{
    (void)state;
    char *e = imap_mutf7_encode("Projekte \xc3\xa4 & more");
    assert_string_equal(e, "Projekte &AOQ- &- more");
    char *d = imap_mutf7_decode(e);
    assert_string_equal(d, "Projekte \xc3\xa4 & more");
    free(e);
    free(d);
    assert_null(imap_mutf7_decode("&Jjo"));
    int64_t ms, days;
    assert_int_equal(imap_datetime_parse("17-Jul-1996 02:44:25 -0700", &ms), 0);
    char buf[40];
    imap_datetime_format(ms, buf, sizeof buf);
    assert_string_equal(buf, "17-Jul-1996 09:44:25 +0000");
    assert_int_equal(imap_date_parse("1-Jan-1970", &days), 0);
    assert_int_equal(days, 0);
}

static void test_body_from_bodystructure(void **state)
{
    (void)state;
    char *b = imap_body_from_bodystructure("((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 10 1 NIL "
                                           "NIL NIL NIL)(\"IMAGE\" \"PNG\" NIL NIL NIL \"BASE64\" 100 NIL (\"attachment\""
                                           " NIL) NIL NIL) \"MIXED\" (\"BOUNDARY\" \"x\") NIL NIL NIL)");
    assert_string_equal(b, "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 10 1)(\"IMAGE\" \"PNG\" NIL "
                           "NIL NIL \"BASE64\" 100) \"MIXED\")");
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_command), cmocka_unit_test(test_literals), cmocka_unit_test(test_literal_in_brackets), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_seqset), cmocka_unit_test(test_numbers), cmocka_unit_test(test_search),   cmocka_unit_test(test_mutf7_dates),
        cmocka_unit_test(test_body_from_bodystructure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
