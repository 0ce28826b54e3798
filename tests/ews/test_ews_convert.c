/* test_ews_convert.c — unit tests of the EWS transport's converters and reply reading, on
 * the code the plugin runs (outpost_ews_core): vCard escaping and folding, iCalendar
 * recurrence both ways, reply error classes, and replies that must be refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ews.h"

static FILE *file_of(const char *s)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    fputs(s, f);
    rewind(f);
    return f;
}

static void test_vcard_escaping_and_folding(void **unused)
{
    (void)unused;
    struct ews_item it;
    memset(&it, 0, sizeof it);
    it.id = strdup("AAMk-id");
    it.display = strdup("Zoë Müller, Dr.");
    it.given = strdup("Zoë");
    it.surname = strdup("Müller; née Novák");
    it.company = strdup("Example, Inc.");
    it.email[0] = strdup("zoe@example.org");
    it.phone_mobile = strdup("+49 170 1234567");
    it.birthday = strdup("1980-04-01T00:00:00Z");
    it.body = strdup("Erste Zeile\nZweite Zeile mit sehr langem Text: ÄÖÜäöüß€ — 日本語のテキストがここに続きます。 und noch mehr Text");
    char *v = ews_to_vcard(&it);
    assert_non_null(v);
    assert_non_null(strstr(v, "VERSION:3.0\r\n"));
    assert_non_null(strstr(v, "FN:Zoë Müller\\, Dr.\r\n"));
    assert_non_null(strstr(v, "N:Müller\\; née Novák;Zoë;;;\r\n"));
    assert_non_null(strstr(v, "BDAY:1980-04-01\r\n"));
    assert_non_null(strstr(v, "TEL;TYPE=CELL:+49 170 1234567\r\n"));
    /* every physical line ≤ 75 octets and no UTF-8 sequence split by a fold */
    for (char *line = v; *line;) {
        char *end = strstr(line, "\r\n");
        assert_non_null(end);
        assert_true(end - line <= 75);
        if (end[2] == ' ')
            assert_true(((unsigned char)end[3] & 0xc0) != 0x80);
        line = end + 2;
    }
    /* and back: the same fields */
    struct ebuf xml = {0};
    const char *why = NULL;
    assert_int_equal(ews_item_xml(OUTPOST_ITEM_CONTACT, v, "k1", &xml, &why), 0);
    const char *x = eb_str(&xml);
    assert_non_null(strstr(x, "<t:Surname>Müller; née Novák</t:Surname>"));
    assert_non_null(strstr(x, "<t:CompanyName>Example, Inc.</t:CompanyName>"));
    assert_non_null(strstr(x, "<t:Entry Key=\"MobilePhone\">+49 170 1234567</t:Entry>"));
    assert_non_null(strstr(x, "<t:Birthday>1980-04-01T00:00:00Z</t:Birthday>"));
    assert_non_null(strstr(x, "Zweite Zeile"));
    assert_non_null(strstr(x, "PropertyName=\"OutpostKey\""));
    eb_free(&xml);
    free(v);
    ews_item_free(&it);
}

static void test_ical_recurrence_both_ways(void **unused)
{
    (void)unused;
    struct ews_item it;
    memset(&it, 0, sizeof it);
    it.uid = strdup("ev-1@x");
    it.subject = strdup("Jour fixe");
    it.start = 1749546000; /* 2025-06-10T09:00:00Z, a Tuesday */
    it.end = it.start + 3600;
    it.rec_pattern = strdup("WeeklyRecurrence");
    it.rec_interval = 2;
    it.rec_days = strdup("Tuesday Thursday");
    it.rec_count = 6;
    it.nocc = 1;
    it.occ[0].orig = it.start + 14 * 86400;
    it.occ[0].start = it.occ[0].orig + 3600;
    it.occ[0].end = it.occ[0].start + 3600;
    it.ndeleted = 1;
    it.deleted[0] = it.start + 28 * 86400;
    char *ical = ews_to_ical(&it, OUTPOST_ITEM_EVENT);
    assert_non_null(ical);
    assert_non_null(strstr(ical, "RRULE:FREQ=WEEKLY;COUNT=6;INTERVAL=2;BYDAY=TU,TH"));
    assert_non_null(strstr(ical, "EXDATE:20250708T090000Z"));
    assert_non_null(strstr(ical, "RECURRENCE-ID:20250624T090000Z"));
    assert_non_null(strstr(ical, "DTSTART:20250624T100000Z"));
    struct ebuf xml = {0};
    const char *why = NULL;
    assert_int_equal(ews_item_xml(OUTPOST_ITEM_EVENT, ical, NULL, &xml, &why), 0);
    const char *x = eb_str(&xml);
    assert_non_null(strstr(x, "<t:WeeklyRecurrence><t:Interval>2</t:Interval><t:DaysOfWeek>Tuesday Thursday</t:DaysOfWeek>"));
    assert_non_null(strstr(x, "<t:NumberedRecurrence><t:StartDate>2025-06-10</t:StartDate><t:NumberOfOccurrences>6"));
    assert_non_null(strstr(x, "<t:Start>2025-06-10T09:00:00Z</t:Start>"));
    assert_non_null(strstr(x, "<t:UID>ev-1@x</t:UID>"));
    eb_free(&xml);
    free(ical);
    /* all-day and a time zone given by TZID */
    const char *tz = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Prague\r\nBEGIN:DAYLIGHT\r\n"
                     "DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZOFFSETFROM:+0100\r\n"
                     "TZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n"
                     "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n"
                     "END:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:tz@x\r\nDTSTART;TZID=Europe/Prague:20250610T110000\r\n"
                     "DTEND;TZID=Europe/Prague:20250610T120000\r\nSUMMARY:Prag\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    assert_int_equal(ews_item_xml(OUTPOST_ITEM_EVENT, tz, NULL, &xml, &why), 0);
    assert_non_null(strstr(eb_str(&xml), "<t:Start>2025-06-10T09:00:00Z</t:Start>"));
    eb_free(&xml);
    assert_int_equal(ews_item_xml(OUTPOST_ITEM_EVENT, "not a calendar", NULL, &xml, &why), -1);
    assert_non_null(why);
    eb_free(&xml);
    ews_item_free(&it);
}

static void test_reply_classes(void **unused)
{
    (void)unused;
    struct ews e;
    memset(&e, 0, sizeof e);
    struct ews_simple s;
    static const char env[] = "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"" EWS_NS_SOAP "\"><s:Body>";
    char buf[4096];
    /* throttled, SOAP fault form */
    snprintf(buf, sizeof buf, "%s<s:Fault><faultcode xmlns:a=\"" EWS_NS_T "\">a:ErrorServerBusy</faultcode>"
             "<faultstring>busy</faultstring><detail><e:ResponseCode xmlns:e=\"" EWS_NS_E "\">ErrorServerBusy"
             "</e:ResponseCode><t:MessageXml xmlns:t=\"" EWS_NS_T "\"><t:Value Name=\"BackOffMilliseconds\">297749"
             "</t:Value></t:MessageXml></detail></s:Fault></s:Body></s:Envelope>", env);
    FILE *f = file_of(buf);
    outpost_status st = ews_parse_simple(&e, f, &s, "t");
    fclose(f);
    assert_int_equal(st.code, OUTPOST_THROTTLED);
    assert_int_equal(st.retry_after_ms, 297749);
    /* error message form */
    snprintf(buf, sizeof buf, "%s<m:UpdateItemResponse xmlns:m=\"" EWS_NS_M "\" xmlns:t=\"" EWS_NS_T "\"><m:ResponseMessages>"
             "<m:UpdateItemResponseMessage ResponseClass=\"Error\"><m:MessageText>stale</m:MessageText>"
             "<m:ResponseCode>ErrorIrresolvableConflict</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
             "</m:UpdateItemResponseMessage></m:ResponseMessages></m:UpdateItemResponse></s:Body></s:Envelope>", env);
    f = file_of(buf);
    st = ews_parse_simple(&e, f, &s, "t");
    fclose(f);
    assert_int_equal(st.code, OUTPOST_CONFLICT);
    /* success with an id */
    snprintf(buf, sizeof buf, "%s<m:CreateItemResponse xmlns:m=\"" EWS_NS_M "\" xmlns:t=\"" EWS_NS_T "\"><m:ResponseMessages>"
             "<m:CreateItemResponseMessage ResponseClass=\"Success\"><m:ResponseCode>NoError</m:ResponseCode><m:Items>"
             "<t:Message><t:ItemId Id=\"ID1\" ChangeKey=\"CK1\"/></t:Message></m:Items></m:CreateItemResponseMessage>"
             "</m:ResponseMessages></m:CreateItemResponse></s:Body></s:Envelope>", env);
    f = file_of(buf);
    st = ews_parse_simple(&e, f, &s, "t");
    fclose(f);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_string_equal(s.id, "ID1");
    assert_string_equal(s.change_key, "CK1");
    ews_simple_free(&s);
    /* the same reply cut short, a DTD with an entity, and something that is not SOAP */
    buf[strlen(buf) - 40] = '\0';
    f = file_of(buf);
    assert_int_equal(ews_parse_simple(&e, f, &s, "t").code, OUTPOST_BAD_DATA);
    fclose(f);
    f = file_of("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\">]><s:Envelope xmlns:s=\"" EWS_NS_SOAP
                "\"><s:Body>&a;</s:Body></s:Envelope>");
    assert_int_equal(ews_parse_simple(&e, f, &s, "t").code, OUTPOST_BAD_DATA);
    fclose(f);
    f = file_of("<html><body>500</body></html>");
    assert_int_equal(ews_parse_simple(&e, f, &s, "t").code, OUTPOST_BAD_DATA);
    fclose(f);
    assert_int_equal(ews_code_class("ErrorInvalidSyncStateData"), OUTPOST_STATE_INVALID);
    assert_int_equal(ews_code_class("ErrorItemNotFound"), OUTPOST_GONE);
    assert_int_equal(ews_code_class("ErrorSomethingNew"), OUTPOST_BAD_DATA);
}

static void test_times(void **unused)
{
    (void)unused;
    int64_t t;
    assert_int_equal(ews_parse_time("2025-06-10T09:00:00Z", &t), 0);
    assert_int_equal(t, 1749546000);
    assert_int_equal(ews_parse_time("2025-06-10T11:00:00+02:00", &t), 0);
    assert_int_equal(t, 1749546000);
    assert_int_equal(ews_parse_time("2025-06-10T02:00:00.000-07:00", &t), 0);
    assert_int_equal(t, 1749546000);
    assert_int_equal(ews_parse_time("2025-06-10", &t), 0);
    assert_int_equal(ews_parse_time("yesterday", &t), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vcard_escaping_and_folding),
        cmocka_unit_test(test_ical_recurrence_both_ways),
        cmocka_unit_test(test_reply_classes),
        cmocka_unit_test(test_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
