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
#include <libxml/parser.h>

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
    it.email[1] = strdup("zoe@home.example");
    it.phone_mobile = strdup("+49 170 1234567");
    it.phone_business = strdup("+49 30 1");
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
    /* several addresses and numbers: one EmailAddresses and one PhoneNumbers element each,
     * the item well-formed (it was not with two addresses) */
    assert_non_null(strstr(x, "<t:EmailAddresses><t:Entry Key=\"EmailAddress1\">zoe@example.org</t:Entry>"
                              "<t:Entry Key=\"EmailAddress2\">zoe@home.example</t:Entry></t:EmailAddresses>"
                              "<t:PhoneNumbers><t:Entry Key=\"BusinessPhone\">+49 30 1</t:Entry>"
                              "<t:Entry Key=\"MobilePhone\">+49 170 1234567</t:Entry></t:PhoneNumbers>"));
    struct ebuf wrapped = {0};
    eb_puts(&wrapped, "<r xmlns:t=\"" EWS_NS_T "\">");
    eb_puts(&wrapped, x);
    eb_puts(&wrapped, "</r>");
    xmlDocPtr doc = xmlReadMemory(eb_str(&wrapped), (int)wrapped.len, "item.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    assert_non_null(doc);
    xmlFreeDoc(doc);
    eb_free(&wrapped);
    eb_free(&xml);
    free(v);
    /* a birthday as Exchange keeps it: midnight of the zone it was entered in, in UTC, or 11:59Z */
    static const char *const bdays[] = {"1980-03-31T22:00:00Z", "1980-04-01T11:59:00Z", "1980-04-01T05:00:00Z",
                                        "1980-04-01"};
    for (size_t i = 0; i < sizeof bdays / sizeof *bdays; i++) {
        free(it.birthday);
        it.birthday = strdup(bdays[i]);
        v = ews_to_vcard(&it);
        assert_non_null(v);
        if (!strstr(v, "BDAY:1980-04-01\r\n"))
            fail_msg("Birthday %s: %s", bdays[i], v);
        free(v);
    }
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
    /* a task's Status agrees with its percentage (Exchange: NotStarted resets it to 0) */
    static const struct { const char *props, *status, *pct; } tasks[] = {
        {"PERCENT-COMPLETE:50\r\n", "InProgress", "50"},
        {"STATUS:NEEDS-ACTION\r\nPERCENT-COMPLETE:40\r\n", "InProgress", "40"},
        {"", "NotStarted", "0"},
        {"STATUS:COMPLETED\r\n", "Completed", "100"},
        {"PERCENT-COMPLETE:100\r\n", "Completed", "100"}};
    for (size_t i = 0; i < sizeof tasks / sizeof *tasks; i++) {
        char vtodo[512], want[96];
        snprintf(vtodo, sizeof vtodo, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VTODO\r\n"
                 "UID:t%zu\r\nSUMMARY:task\r\n%sEND:VTODO\r\nEND:VCALENDAR\r\n", i, tasks[i].props);
        struct ebuf tx = {0};
        assert_int_equal(ews_item_xml(OUTPOST_ITEM_TASK, vtodo, NULL, &tx, &why), 0);
        snprintf(want, sizeof want, "<t:PercentComplete>%s</t:PercentComplete>", tasks[i].pct);
        assert_non_null(strstr(eb_str(&tx), want));
        snprintf(want, sizeof want, "<t:Status>%s</t:Status>", tasks[i].status);
        assert_non_null(strstr(eb_str(&tx), want));
        eb_free(&tx);
    }
    assert_non_null(why);
    eb_free(&xml);
    ews_item_free(&it);
    /* all-day events as Exchange gives them: midnight of the zone they were made in, in UTC
     * (Central Europe in summer: 22:00Z the day before; New York: 04:00Z; UTC itself) */
    static const struct { int64_t start; const char *dtstart, *dtend; } allday[] = {
        {1749592800, "DTSTART;VALUE=DATE:20250611", "DTEND;VALUE=DATE:20250612"},
        {1749614400, "DTSTART;VALUE=DATE:20250611", "DTEND;VALUE=DATE:20250612"},
        {1749600000, "DTSTART;VALUE=DATE:20250611", "DTEND;VALUE=DATE:20250612"}};
    for (size_t i = 0; i < sizeof allday / sizeof *allday; i++) {
        memset(&it, 0, sizeof it);
        it.uid = strdup("ad@x");
        it.all_day = 1;
        it.start = allday[i].start;
        it.end = allday[i].start + 86400;
        char *ad = ews_to_ical(&it, OUTPOST_ITEM_EVENT);
        assert_non_null(ad);
        if (!strstr(ad, allday[i].dtstart) || !strstr(ad, allday[i].dtend))
            fail_msg("all-day event starting %lld: %s", (long long)allday[i].start, ad);
        free(ad);
        ews_item_free(&it);
    }
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

/* ---- GetItem replies of mail through the SAX reader (mailget.c) ---- */

struct got {
    char buf[512];
    size_t len;
    int begins[8], ends[8], msg_ends[8], nb, ne, nm;
    int stop_at; /* chunk callback fails when this many bytes were received (0: never) */
};

static outpost_status g_begin(void *ctx, int k)
{
    struct got *g = ctx;
    g->begins[g->nb++ & 7] = k;
    return outpost_ok();
}

static outpost_status g_chunk(void *ctx, const void *p, size_t n)
{
    struct got *g = ctx;
    assert_true(g->len + n < sizeof g->buf);
    memcpy(g->buf + g->len, p, n);
    g->len += n;
    if (g->stop_at && g->len >= (size_t)g->stop_at) {
        outpost_status st = {OUTPOST_FATAL, 0, "sink full"};
        return st;
    }
    return outpost_ok();
}

static outpost_status g_end(void *ctx, int k)
{
    struct got *g = ctx;
    g->ends[g->ne++ & 7] = k;
    return outpost_ok();
}

static outpost_status g_msg_end(void *ctx, int k)
{
    struct got *g = ctx;
    g->msg_ends[g->nm++ & 7] = k;
    return outpost_ok();
}

static void items_free(struct ews_item *it, const int *have, int n)
{
    for (int k = 0; k < n && k < 4; k++)
        if (have[k])
            ews_item_free(&it[k]);
}

#define MAIL_REPLY_HEAD "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"" EWS_NS_SOAP "\"><s:Body><m:GetItemResponse " \
    "xmlns:m=\"" EWS_NS_M "\" xmlns:t=\"" EWS_NS_T "\"><m:ResponseMessages>"
#define MAIL_REPLY_TAIL "</m:ResponseMessages></m:GetItemResponse></s:Body></s:Envelope>"

static void test_mail_getitem_reader(void **unused)
{
    (void)unused;
    /* "Subject: a\r\n\r\nhi" in base64, wrapped, then an error message and an item without content */
    static const char doc[] = MAIL_REPLY_HEAD
        "<m:GetItemResponseMessage ResponseClass=\"Success\"><m:ResponseCode>NoError</m:ResponseCode><m:Items>"
        "<t:Message><t:MimeContent CharacterSet=\"UTF-8\">U3ViamVj\ndDogYQ0KDQpoaQ==</t:MimeContent>"
        "<t:ItemId Id=\"I1\" ChangeKey=\"C1\"/><t:Subject>a &amp; b</t:Subject><t:IsRead>true</t:IsRead>"
        "<t:Flag><t:FlagStatus>Flagged</t:FlagStatus></t:Flag><t:ExtendedProperty><t:ExtendedFieldURI "
        "PropertyTag=\"0x1081\" PropertyType=\"Integer\"/><t:Value>104</t:Value></t:ExtendedProperty>"
        "<t:From><t:Mailbox><t:Name>Ann</t:Name><t:EmailAddress>ann@example.com</t:EmailAddress></t:Mailbox></t:From>"
        "<t:DateTimeReceived>2025-06-01T00:00:10Z</t:DateTimeReceived></t:Message></m:Items></m:GetItemResponseMessage>"
        "<m:GetItemResponseMessage ResponseClass=\"Error\"><m:MessageText>gone</m:MessageText>"
        "<m:ResponseCode>ErrorItemNotFound</m:ResponseCode><m:Items/></m:GetItemResponseMessage>"
        "<m:GetItemResponseMessage ResponseClass=\"Success\"><m:ResponseCode>NoError</m:ResponseCode><m:Items>"
        "<t:Message><t:ItemId Id=\"I3\" ChangeKey=\"C3\"/></t:Message></m:Items></m:GetItemResponseMessage>"
        MAIL_REPLY_TAIL;
    struct ews_msg m[4];
    struct ews_item it[4];
    int have[4] = {0}, n = 0;
    memset(it, 0, sizeof it);
    FILE *f = file_of(doc), *spool = tmpfile();
    struct ews_mime_span span[4];
    assert_non_null(spool);
    assert_int_equal(ews_mail_collect(f, 4, m, it, have, &n, NULL, spool, span), 0);
    assert_int_equal(n, 3);
    assert_true(span[0].has && !span[1].has && !span[2].has);
    assert_int_equal(span[0].len, 16);
    assert_true(have[0] && !have[1] && have[2]);
    assert_string_equal(it[0].id, "I1");
    assert_string_equal(it[0].change_key, "C1");
    assert_string_equal(it[0].subject, "a & b");
    assert_string_equal(it[0].from_name, "Ann");
    assert_string_equal(it[0].from_addr, "ann@example.com");
    assert_int_equal(it[0].received, 1748736010);
    assert_int_equal(ews_item_flags(&it[0]), OUTPOST_FLAG_SEEN | OUTPOST_FLAG_FLAGGED | OUTPOST_FLAG_FORWARDED);
    assert_int_equal(it[0].size, 16); /* no Size property: the decoded length */
    assert_true(m[1].error);
    assert_string_equal(m[1].code, "ErrorItemNotFound");
    assert_string_equal(m[1].text, "gone");
    assert_string_equal(it[2].id, "I3");
    items_free(it, have, n);
    /* the replay: decoded content of message 0, every message's end */
    struct got g;
    memset(&g, 0, sizeof g);
    struct ews_mail_cb cb = {&g, g_begin, g_chunk, g_end, g_msg_end};
    outpost_status st;
    assert_int_equal(ews_mail_replay(spool, span, n, &cb, &st), 0);
    assert_int_equal(g.len, 16);
    assert_memory_equal(g.buf, "Subject: a\r\n\r\nhi", 16);
    assert_int_equal(g.nb, 1);
    assert_int_equal(g.begins[0], 0);
    assert_int_equal(g.ne, 1);
    assert_int_equal(g.nm, 3);
    assert_int_equal(g.msg_ends[2], 2);
    /* a sink failure stops the reading with its status */
    memset(&g, 0, sizeof g);
    g.stop_at = 1;
    assert_int_equal(ews_mail_replay(spool, span, n, &cb, &st), -3);
    assert_int_equal(st.code, OUTPOST_FATAL);
    /* a spool shorter than what was written to it: an error, not a short item */
    span[0].len = 17;
    memset(&g, 0, sizeof g);
    assert_int_equal(ews_mail_replay(spool, span, n, &cb, &st), -1);
    fclose(spool);
    /* without a spool the content is only checked */
    memset(it, 0, sizeof it);
    memset(have, 0, sizeof have);
    assert_int_equal(ews_mail_collect(f, 4, m, it, have, &n, NULL, NULL, NULL), 0);
    assert_int_equal(it[0].size, 16);
    items_free(it, have, n);
    fclose(f);
    /* more messages than asked for, bad base64, a cut reply, a DTD: malformed */
    static const char *const bad[] = {
        MAIL_REPLY_HEAD "<m:GetItemResponseMessage ResponseClass=\"Success\"><m:Items><t:Message><t:MimeContent>"
        "U3V*amVj</t:MimeContent></t:Message></m:Items></m:GetItemResponseMessage>" MAIL_REPLY_TAIL,
        MAIL_REPLY_HEAD "<m:GetItemResponseMessage ResponseClass=\"Success\"><m:Items><t:Message><t:MimeContent>"
        "U3ViamVj",
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><s:Envelope xmlns:s=\"" EWS_NS_SOAP "\"/>",
        "<x/>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        f = file_of(bad[i]);
        memset(it, 0, sizeof it);
        memset(have, 0, sizeof have);
        assert_int_equal(ews_mail_collect(f, 4, m, it, have, &n, NULL, NULL, NULL), -1);
        items_free(it, have, n);
        fclose(f);
    }
    f = file_of(doc);
    memset(it, 0, sizeof it);
    memset(have, 0, sizeof have);
    assert_int_equal(ews_mail_collect(f, 2, m, it, have, &n, NULL, NULL, NULL), -1);
    items_free(it, have, n);
    fclose(f);
    /* a SOAP fault */
    f = file_of("<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"" EWS_NS_SOAP "\"><s:Body><s:Fault><faultcode>s:Client"
                "</faultcode><faultstring>nope</faultstring><detail><e:ResponseCode xmlns:e=\"" EWS_NS_E
                "\">ErrorServerBusy</e:ResponseCode><t:MessageXml xmlns:t=\"" EWS_NS_T "\"><t:Value "
                "Name=\"BackOffMilliseconds\">1500</t:Value></t:MessageXml></detail></s:Fault></s:Body></s:Envelope>");
    struct ews_msg fault;
    assert_int_equal(ews_mail_collect(f, 4, m, it, have, &n, &fault, NULL, NULL), -2);
    assert_string_equal(fault.code, "ErrorServerBusy");
    assert_string_equal(fault.text, "nope");
    assert_int_equal(fault.backoff_ms, 1500);
    fclose(f);
}

/* b64dec_run against eb_b64 (the encoder): every length up to 3 groups past a few hundred
 * bytes, fed in pieces split at every offset class, with line breaks inserted; then the
 * input it must refuse. */
static size_t dec_pieces(const char *in, size_t n, size_t step, unsigned char *out, struct b64dec *d)
{
    memset(d, 0, sizeof *d);
    size_t got = 0;
    for (size_t i = 0; i < n; i += step)
        got += b64dec_run(d, in + i, n - i < step ? n - i : step, out + got);
    return got;
}

static void test_base64_decoder(void **unused)
{
    (void)unused;
    unsigned char raw[300], out[500];
    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (unsigned char)(i * 131 + 7);
    for (size_t len = 0; len <= sizeof raw; len += len < 16 ? 1 : 37) {
        struct ebuf enc = {0}, wrapped = {0};
        eb_b64(&enc, raw, len);
        for (size_t i = 0; i < enc.len; i++) {
            eb_add(&wrapped, enc.p + i, 1);
            if (i % 19 == 18)
                eb_puts(&wrapped, i % 2 ? "\r\n" : " \t");
        }
        assert_false(enc.oom || wrapped.oom);
        const struct ebuf *forms[] = {&enc, &wrapped};
        for (int f = 0; f < 2; f++)
            for (size_t step = 1; step <= 9; step++) {
                struct b64dec d;
                memset(out, 0xee, sizeof out);
                size_t got = dec_pieces(forms[f]->p ? forms[f]->p : "", forms[f]->len, step, out, &d);
                assert_false(d.bad);
                assert_int_equal(got, len);
                assert_memory_equal(out, raw, len);
            }
        eb_free(&enc);
        eb_free(&wrapped);
    }
    /* a character outside the alphabet anywhere, or data after the padding: bad */
    static const char *const bad[] = {"U3V*amVj", "U3ViamVjdDog*", "*U3ViamVj", "U3Vi\001amVj", "U3Vi=amVj",
                                      "QQ==QQ==", "U3Viam\xc3\xa9j", "U3Vi-_Vj"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        for (size_t step = 1; step <= 9; step++) {
            struct b64dec d;
            dec_pieces(bad[i], strlen(bad[i]), step, out, &d);
            assert_true(d.bad);
        }
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
    /* xs:dateTime collapses whitespace: a padded value (a pretty-printing server) is valid */
    assert_int_equal(ews_parse_time("\n    2025-06-10T11:00:00+02:00\n  ", &t), 0);
    assert_int_equal(t, 1749546000);
    assert_int_equal(ews_parse_time(" 2025-06-10T09:00:00.5Z ", &t), 0);
    assert_int_equal(t, 1749546000);
}

/* The spool: bytes in memory up to its limit, then in a temporary file, read back the same
 * either way, with rewind and seeks in between. */
static void test_spool(void **unused)
{
    (void)unused;
    enum { N = 200000 }; /* a few of the spool's memory blocks */
    static char data[N], back[N + 100];
    for (size_t i = 0; i < N; i++)
        data[i] = (char)('a' + (i * 7) % 26);
    static const size_t limits[] = {0, 100000, 1u << 20}; /* spilled at once, midway, never */
    for (size_t l = 0; l < sizeof limits / sizeof *limits; l++) {
        FILE *f = ews_spool_open(limits[l]);
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, 70000, f), 70000);
        assert_int_equal(fwrite(data + 70000, 1, N - 70000, f), N - 70000);
        assert_int_equal(fflush(f), 0);
        rewind(f);
        assert_int_equal(fread(back, 1, sizeof back, f), N);
        assert_memory_equal(back, data, N);
        assert_int_equal(fread(back, 1, 10, f), 0);
        assert_false(ferror(f));
        assert_int_equal(fseek(f, N - 10, SEEK_SET), 0);
        assert_int_equal(fread(back, 1, 100, f), 10);
        assert_memory_equal(back, data + N - 10, 10);
        assert_int_equal(fseek(f, -20, SEEK_END), 0);
        assert_int_equal(ftell(f), N - 20);
        /* written over in place across a block boundary, then read again from the start */
        assert_int_equal(fseek(f, 65534, SEEK_SET), 0);
        assert_int_equal(fwrite("XYZ", 1, 3, f), 3);
        rewind(f);
        assert_int_equal(fread(back, 1, sizeof back, f), N);
        assert_memory_equal(back, data, 65534);
        assert_memory_equal(back + 65534, "XYZ", 3);
        assert_memory_equal(back + 65537, data + 65537, N - 65537);
        assert_int_equal(fclose(f), 0);
    }
}

/* Runs `in` through the reply filter in pieces of `step` bytes (0: split once at `cut`);
 * what came out (malloc'd, *len) and the number of characters replaced. */
static char *xmlfix_run(const char *in, size_t n, size_t step, size_t cut, size_t *len, uint64_t *fixed)
{
    FILE *f = ews_spool_open(1u << 20);
    assert_non_null(f);
    struct ews_xmlfix x;
    ews_xmlfix_init(&x, f);
    if (step)
        for (size_t i = 0; i < n; i += step)
            assert_int_equal(ews_xmlfix_write(&x, in + i, n - i < step ? n - i : step), 0);
    else {
        assert_int_equal(ews_xmlfix_write(&x, in, cut), 0);
        assert_int_equal(ews_xmlfix_write(&x, in + cut, n - cut), 0);
    }
    assert_int_equal(ews_xmlfix_end(&x), 0);
    *fixed = x.fixed;
    fflush(f);
    rewind(f);
    char *out = calloc(1, 4 * n + 16);
    assert_non_null(out);
    *len = fread(out, 1, 4 * n + 16, f);
    fclose(f);
    return out;
}

/* The filter that replies pass on their way into the spool: the characters XML 1.0 forbids
 * (references to them as Exchange sends them from an item's text, raw C0 bytes) become
 * U+FFFD, wherever the pieces libcurl hands over are cut; everything else passes as it was. */
static void test_reply_filter(void **unused)
{
    (void)unused;
    static const struct { const char *in, *out; int fixed; } cases[] = {
        /* well-formed: byte for byte, references to allowed characters included */
        {"<a b=\"x&amp;y&#34;\">t&#10;&#x9;&#xD;&#169;&#x10FFFF;&#xE000;&lt;\tok\r\n</a>",
         "<a b=\"x&amp;y&#34;\">t&#10;&#x9;&#xD;&#169;&#x10FFFF;&#xE000;&lt;\tok\r\n</a>", 0},
        /* not well-formed: the forbidden ones replaced */
        {"<s>A&#x1A;B&#0;C&#16;D\001E&#xD800;F&#x110000;G&#xFFFE;H&#x0000001b;I\x1f</s>",
         "<s>A&#xFFFD;B&#xFFFD;C&#xFFFD;D\xEF\xBF\xBD" "E&#xFFFD;F&#xFFFD;G&#xFFFD;H&#xFFFD;I\xEF\xBF\xBD</s>", 9},
        /* what is not a reference stays as it was (libxml2 judges it) */
        {"<s>&&#x1;&#;&#x;&#xZ;&#12a;&#x12345678901234567;</s>",
         "<s>&&#xFFFD;&#;&#x;&#xZ;&#12a;&#x12345678901234567;</s>", 1},
        /* cut off at the end */
        {"<s>&#x1", "<s>&#x1", 0},
        /* UTF-8 text around it */
        {"<s>gr\xc3\xbc\xc3\x9f&#x7;e \xe6\x97\xa5</s>", "<s>gr\xc3\xbc\xc3\x9f&#xFFFD;e \xe6\x97\xa5</s>", 1}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n = strlen(cases[i].in);
        for (size_t step = 0; step <= n; step++)
            for (size_t cut = 0; cut <= (step ? 0 : n); cut++) {
                size_t len;
                uint64_t fixed;
                char *out = xmlfix_run(cases[i].in, n, step, cut, &len, &fixed);
                if (len != strlen(cases[i].out) || memcmp(out, cases[i].out, len) != 0 ||
                    fixed != (uint64_t)cases[i].fixed)
                    fail_msg("case %zu, pieces of %zu (cut %zu): '%.*s' (%llu replaced)", i, step, cut, (int)len, out,
                             (unsigned long long)fixed);
                free(out);
            }
    }
    /* a reply in UTF-16 (byte order mark, or NUL among the first two bytes) passes unchanged */
    static const char utf16[][12] = {"\xff\xfe<\0\x01\x04&\0#\0", "<\0s\0\x01\x04&\0#\0"};
    for (size_t i = 0; i < 2; i++) {
        size_t len;
        uint64_t fixed;
        char *out = xmlfix_run(utf16[i], 10, 1, 0, &len, &fixed);
        assert_int_equal(len, 10);
        assert_memory_equal(out, utf16[i], 10);
        assert_int_equal(fixed, 0);
        free(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vcard_escaping_and_folding),
        cmocka_unit_test(test_ical_recurrence_both_ways),
        cmocka_unit_test(test_reply_classes),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_spool),
        cmocka_unit_test(test_reply_filter),
        cmocka_unit_test(test_mail_getitem_reader),
        cmocka_unit_test(test_base64_decoder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
