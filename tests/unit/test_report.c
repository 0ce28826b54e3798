/* tests/unit/test_report.c — text columns of the status and policy tables:
 * padding and truncation by terminal cells, not bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "report.h"

/* outpost_put_column into a string (caller frees). */
static char *column(const char *s, int width, int truncate)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    outpost_put_column(f, s, width, truncate);
    fclose(f);
    return buf;
}

static void check(const char *s, int width, int truncate, const char *want)
{
    char *got = column(s, width, truncate);
    assert_string_equal(got, want);
    free(got);
}

static void test_ascii(void **state)
{
    (void)state;
    check("Inbox", 8, 0, "Inbox   ");
    check("Inbox", 3, 0, "Inbox");   /* wider than the column: kept whole */
    check("Inbox", 3, 1, "Inb");
    check("", 2, 0, "  ");
    check(NULL, 2, 0, "  ");
}

static void test_multibyte(void **state)
{
    (void)state;
    /* Ü is two bytes and one cell: %-10s would pad to 10 bytes, 9 cells */
    check("\xc3\x9c" "berblick", 10, 0, "\xc3\x9c" "berblick ");
    /* 東京 are two wide characters: four cells */
    check("\xe6\x9d\xb1\xe4\xba\xac", 6, 0, "\xe6\x9d\xb1\xe4\xba\xac  ");
    /* cut at a character boundary: a third wide character would need 6 cells of 5 */
    check("\xe6\x9d\xb1\xe4\xba\xac\xe3\x82\xaa", 5, 1, "\xe6\x9d\xb1\xe4\xba\xac ");
    /* a combining acute accent takes no cell */
    check("e\xcc\x81", 3, 0, "e\xcc\x81  ");
    /* an invalid byte counts one cell and is written as is */
    check("a\xff" "b", 4, 0, "a\xff" "b ");
    check("a\xff" "b", 2, 1, "a\xff");
}

static void test_cells(void **state)
{
    (void)state;
    assert_int_equal(outpost_text_cells("Inbox"), 5);
    assert_int_equal(outpost_text_cells("\xc3\x9c" "berblick"), 9);
    assert_int_equal(outpost_text_cells("\xe6\x9d\xb1\xe4\xba\xac"), 4);
    assert_int_equal(outpost_text_cells(""), 0);
    assert_int_equal(outpost_text_cells(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii),
        cmocka_unit_test(test_multibyte),
        cmocka_unit_test(test_cells),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
