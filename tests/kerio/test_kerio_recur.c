/* test_kerio_recur.c — placing the exceptions of a recurring Kerio event (recur.c, pure part):
 * nearest free instance, ties to the earlier one, EXDATE for instances with neither, the
 * master's offset kept in RECURRENCE-ID/EXDATE, a server-given original start honoured,
 * all-day series, the cap, input order, and refusal when the server's occurrences are not
 * instances of the rule as we expand it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kerio.h"

static json_t *weekly(const char *start, const char *end, const char *until)
{
    json_t *e = json_pack("{s:s, s:s, s:s, s:{s:b, s:s, s:{s:s}, s:{s:i}}}", "id", "ev1", "start", start, "end", end,
                          "rule", "isSet", 1, "frequency", "Weekly", "endBy", "type", until ? "ByRecurrenceDate" : "ByRecurrenceNever",
                          "preciseBy", "byInterval", 1);
    if (until)
        json_object_set_new(json_object_get(json_object_get(e, "rule"), "endBy"), "date", json_string(until));
    return e;
}

static json_t *occ(const char *id, const char *start, int exc)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:b}", "id", id, "eventId", "ev1", "start", start, "end", start, "isException", exc);
}

static void infer_ok(json_t *ev, json_t *list, uint32_t cap, json_t **placed, json_t **exd)
{
    char err[256] = "";
    int rc = kerio_series_infer(ev, list, cap, placed, exd, err, sizeof err);
    if (rc)
        fprintf(stderr, "infer: %s\n", err);
    assert_int_equal(rc, 0);
}

static const char *rid(const json_t *placed, size_t i)
{
    return json_string_value(json_object_get(json_array_get(placed, i), "recurrenceId"));
}

/* Six Mondays; the third moved by an hour, the fifth deleted. */
static void test_moved_and_deleted_utc(void **state)
{
    (void)state;
    json_t *ev = weekly("20250602T100000Z", "20250602T110000Z", "20250707");
    json_t *l = json_array();
    json_array_append_new(l, occ("o1", "20250602T100000Z", 0));
    json_array_append_new(l, occ("o2", "20250609T100000Z", 0));
    json_array_append_new(l, occ("x3", "20250616T110000Z", 1));
    json_array_append_new(l, occ("o4", "20250623T100000Z", 0));
    json_array_append_new(l, occ("o6", "20250707T100000Z", 0));
    json_t *placed, *exd;
    infer_ok(ev, l, 1000, &placed, &exd);
    assert_int_equal(json_array_size(placed), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(placed, 0), "id")), "x3");
    assert_string_equal(rid(placed, 0), "20250616T100000Z");
    assert_int_equal(json_array_size(exd), 1);
    assert_string_equal(json_string_value(json_array_get(exd, 0)), "20250630T100000Z");
    /* Order of the input does not matter. */
    json_t *rev = json_array();
    for (size_t i = json_array_size(l); i-- > 0;)
        json_array_append(rev, json_array_get(l, i));
    json_t *p2, *e2;
    infer_ok(ev, rev, 1000, &p2, &e2);
    assert_true(json_equal(placed, p2) && json_equal(exd, e2));
    json_decref(p2);
    json_decref(e2);
    json_decref(rev);
    json_decref(placed);
    json_decref(exd);
    json_decref(l);
    json_decref(ev);
}

/* The master's offset: instances are expanded in it, and written in it. */
static void test_offset_kept(void **state)
{
    (void)state;
    json_t *ev = weekly("20250602T100000+0200", "20250602T110000+0200", "20250623");
    json_t *l = json_array();
    json_array_append_new(l, occ("o1", "20250602T080000Z", 0));
    json_array_append_new(l, occ("x2", "20250610T120000Z", 1)); /* moved a day and 4 h later */
    json_array_append_new(l, occ("o4", "20250623T100000+0200", 0));
    json_t *placed, *exd;
    infer_ok(ev, l, 1000, &placed, &exd);
    assert_int_equal(json_array_size(placed), 1);
    assert_string_equal(rid(placed, 0), "20250609T100000+0200");
    assert_int_equal(json_array_size(exd), 1);
    assert_string_equal(json_string_value(json_array_get(exd, 0)), "20250616T100000+0200");
    /* Converted: EXDATE on the master with the same zone as DTSTART, override with RECURRENCE-ID. */
    json_t *x = json_deep_copy(json_array_get(l, 1));
    json_object_set(x, "recurrenceId", json_object_get(json_array_get(placed, 0), "recurrenceId"));
    json_t *exc = json_pack("[o]", x);
    struct kbuf out = { 0 };
    char err[256];
    assert_int_equal(kerio_series_to_ical(ev, exc, exd, &out, err, sizeof err), 0);
    assert_non_null(strstr(out.data, "EXDATE;TZID=UTC+0200:20250616T100000\r\n"));
    assert_non_null(strstr(out.data, "RECURRENCE-ID;TZID=UTC+0200:20250609T100000\r\n"));
    assert_non_null(strstr(out.data, "DTSTART:20250610T120000Z\r\n"));
    /* Only one VTIMEZONE for the offset. */
    assert_ptr_equal(strstr(out.data, "BEGIN:VTIMEZONE"), strstr(out.data, "BEGIN:VTIMEZONE\r\nTZID:UTC+0200"));
    struct kbuf again = { 0 };
    assert_int_equal(kerio_series_to_ical(ev, exc, exd, &again, err, sizeof err), 0);
    assert_int_equal(out.len, again.len);
    assert_memory_equal(out.data, again.data, out.len);
    kbuf_free(&out);
    kbuf_free(&again);
    json_decref(exc);
    json_decref(placed);
    json_decref(exd);
    json_decref(l);
    json_decref(ev);
}

/* Half-way between two free instances: the earlier one wins; the next exception takes the other. */
static void test_tie_and_two_exceptions(void **state)
{
    (void)state;
    json_t *ev = weekly("20250602T100000Z", "20250602T110000Z", "20250623");
    json_t *l = json_array();
    json_array_append_new(l, occ("o1", "20250602T100000Z", 0));
    json_array_append_new(l, occ("xb", "20250620T120000Z", 1));  /* near 23 June: second */
    json_array_append_new(l, occ("xa", "20250612T220000Z", 1));  /* 3.5 days from 9 and 16 June */
    json_t *placed, *exd;
    infer_ok(ev, l, 1000, &placed, &exd);
    assert_int_equal(json_array_size(placed), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(placed, 0), "id")), "xa");
    assert_string_equal(rid(placed, 0), "20250609T100000Z");
    assert_string_equal(json_string_value(json_object_get(json_array_get(placed, 1), "id")), "xb");
    assert_string_equal(rid(placed, 1), "20250623T100000Z");
    assert_int_equal(json_array_size(exd), 1);
    assert_string_equal(json_string_value(json_array_get(exd, 0)), "20250616T100000Z");
    json_decref(placed);
    json_decref(exd);
    json_decref(l);
    json_decref(ev);
}

/* A server that does give the original start is believed; other events' occurrences are ignored. */
static void test_server_recurrence_id(void **state)
{
    (void)state;
    json_t *ev = weekly("20250602T100000Z", "20250602T110000Z", "20250616");
    json_t *l = json_array();
    json_t *x = occ("x1", "20250610T100000Z", 1);
    json_object_set_new(x, "recurrenceId", json_string("20250602T100000Z"));
    json_array_append_new(l, x);
    json_array_append_new(l, occ("o2", "20250609T100000Z", 0));
    json_t *other = occ("z", "20250603T100000Z", 0);
    json_object_set_new(other, "eventId", json_string("ev2"));
    json_array_append_new(l, other);
    json_t *placed, *exd;
    infer_ok(ev, l, 1000, &placed, &exd);
    assert_int_equal(json_array_size(placed), 1);
    assert_string_equal(rid(placed, 0), "20250602T100000Z");
    assert_int_equal(json_array_size(exd), 1);
    assert_string_equal(json_string_value(json_array_get(exd, 0)), "20250616T100000Z");
    json_decref(placed);
    json_decref(exd);
    json_decref(l);
    json_decref(ev);
}

/* A regular occurrence that is not an instance of our expansion: nothing is inferred. */
static void test_disagreement_refused(void **state)
{
    (void)state;
    json_t *ev = weekly("20250602T100000Z", "20250602T110000Z", "20250630");
    json_t *l = json_array();
    json_array_append_new(l, occ("o1", "20250602T100000Z", 0));
    json_array_append_new(l, occ("o2", "20250610T100000Z", 0));
    json_t *placed = (json_t *)1, *exd = (json_t *)1;
    char err[256] = "";
    assert_int_equal(kerio_series_infer(ev, l, 1000, &placed, &exd, err, sizeof err), -1);
    assert_null(placed);
    assert_null(exd);
    assert_non_null(strstr(err, "20250610T100000Z"));
    json_decref(l);
    json_decref(ev);
    /* A rule we cannot read: refused too. */
    ev = json_pack("{s:s, s:s, s:s, s:{s:b, s:s}}", "id", "ev1", "start", "20250602T100000Z", "end", "20250602T110000Z",
                   "rule", "isSet", 1, "frequency", "Hourly");
    l = json_array();
    assert_int_equal(kerio_series_infer(ev, l, 1000, &placed, &exd, err, sizeof err), -1);
    json_decref(l);
    json_decref(ev);
}

/* All-day daily, forever, capped at 10 instances: dates in and out; nothing past the cap. */
static void test_all_day_capped(void **state)
{
    (void)state;
    json_t *ev = json_pack("{s:s, s:s, s:s, s:b, s:{s:b, s:s, s:{s:s}}}", "id", "ev1", "start", "20250601", "end",
                           "20250601", "isAllDay", 1, "rule", "isSet", 1, "frequency", "Daily", "endBy", "type",
                           "ByRecurrenceNever");
    struct kerio_series_window w;
    char err[256];
    assert_int_equal(kerio_series_window(ev, 10, &w, err, sizeof err), 0);
    json_t *l = json_array();
    char d[16], id[16];
    for (int day = 1; day <= 30; day++) {
        if (day == 3 || day == 7 || day == 25)
            continue; /* no regular occurrence on the 3rd, 7th and 25th */
        snprintf(d, sizeof d, "202506%02d", day);
        snprintf(id, sizeof id, "o%d", day);
        json_array_append_new(l, occ(id, d, 0));
    }
    json_array_append_new(l, occ("x3", "20250612", 1)); /* nearest free: the 7th (5 days) vs the 3rd (9 days) */
    json_t *placed, *exd;
    infer_ok(ev, l, 10, &placed, &exd);
    /* Within the cap (1..10 June) the 3rd and 7th are free; the exception takes the 7th; the 3rd
     * is an EXDATE; the 25th is past the cap and its shadows: not represented. */
    assert_int_equal(json_array_size(placed), 1);
    assert_string_equal(rid(placed, 0), "20250607");
    assert_int_equal(json_array_size(exd), 1);
    assert_string_equal(json_string_value(json_array_get(exd, 0)), "20250603");
    struct kbuf out = { 0 };
    assert_int_equal(kerio_series_to_ical(ev, NULL, exd, &out, err, sizeof err), 0);
    assert_non_null(strstr(out.data, "EXDATE;VALUE=DATE:20250603\r\n"));
    kbuf_free(&out);
    json_decref(placed);
    json_decref(exd);
    json_decref(l);
    json_decref(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moved_and_deleted_utc), cmocka_unit_test(test_offset_kept),
        cmocka_unit_test(test_tie_and_two_exceptions), cmocka_unit_test(test_server_recurrence_id),
        cmocka_unit_test(test_disagreement_refused),  cmocka_unit_test(test_all_day_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
