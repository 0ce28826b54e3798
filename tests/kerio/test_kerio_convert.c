/* test_kerio_convert.c — the Kerio plugin's converters: mail → MIME (byte-identical on every
 * run, headers and parts as a client reads them), recurring event with exceptions → one
 * iCalendar master with RECURRENCE-ID overrides, time zones kept as given, contact ↔ vCard 3.0,
 * task → VTODO, note → VJOURNAL, and MIME → Mails.create fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gmime/gmime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kerio.h"

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fprintf(stderr, "fixture: %s (line %d)\n", e.text, e.line);
    assert_non_null(j);
    return j;
}

static const char *mail_json =
    "{\"id\":\"keriostorage://mail/example.com/jdoe/inbox-uuid/74860\",\"folderId\":\"f\",\"watermark\":51811,"
    "\"from\":{\"name\":\"Alice Ärger\",\"address\":\"alice@example.org\"},"
    "\"to\":[{\"name\":\"\",\"address\":\"jdoe@example.com\"},{\"name\":\"Bob\",\"address\":\"bob@example.com\"}],"
    "\"cc\":[{\"name\":\"Carol\",\"address\":\"carol@example.net\"}],"
    "\"subject\":\"Quarterly report – draft\",\"sendDate\":\"20240105T101455+0100\",\"receiveDate\":\"20240105T101500Z\","
    "\"isSeen\":true,\"isFlagged\":false,\"priority\":\"High\",\"size\":4821,"
    "\"headers\":[{\"type\":\"mhMessageID\",\"value\":\"<abc.123@example.org>\"},"
    "{\"type\":\"mhInReplayTo\",\"value\":\"<parent.1@example.com>\"}],"
    "\"displayableParts\":[{\"id\":\"0\",\"contentType\":\"ctTextPlain\",\"content\":\"Hello Bob,\\nsee attached.\\n\"},"
    "{\"id\":\"1\",\"contentType\":\"ctTextHtml\",\"content\":\"<p>Hello Bob,</p><p>see attached.</p>\"}],"
    "\"attachments\":[{\"id\":\"a1\",\"url\":\"/webmail/api/download/attachment/x/74860/0-2/report.pdf\","
    "\"name\":\"report.pdf\",\"contentType\":\"application/pdf\",\"contentId\":\"\",\"size\":9}]}";

static int fake_fetch(void *ctx, const char *url, struct kbuf *out, char *err, size_t errlen)
{
    int *calls = ctx;
    (*calls)++;
    if (strstr(url, "report.pdf") == NULL) {
        snprintf(err, errlen, "unexpected URL");
        return -1;
    }
    return kbuf_append(out, "%PDF-1.4\n", 9);
}

static void test_mail_mime_byte_identical(void **state)
{
    (void)state;
    json_t *m = load(mail_json);
    struct kbuf a = { 0 }, b = { 0 };
    char err[200];
    int calls = 0;
    assert_int_equal(kerio_mail_to_mime(m, fake_fetch, &calls, &a, err, sizeof err), 0);
    assert_int_equal(kerio_mail_to_mime(m, fake_fetch, &calls, &b, err, sizeof err), 0);
    assert_int_equal(calls, 2);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    /* What a mail client reads. */
    assert_non_null(strstr(a.data, "Message-Id: <abc.123@example.org>\r\n"));
    assert_non_null(strstr(a.data, "In-Reply-To: <parent.1@example.com>\r\n"));
    assert_non_null(strstr(a.data, "Date: Fri, 05 Jan 2024 10:14:55 +0100\r\n"));
    assert_non_null(strstr(a.data, "alice@example.org"));
    assert_non_null(strstr(a.data, "Bob <bob@example.com>"));
    assert_non_null(strstr(a.data, "Cc: Carol <carol@example.net>"));
    assert_non_null(strstr(a.data, "multipart/mixed"));
    assert_non_null(strstr(a.data, "multipart/alternative"));
    assert_non_null(strstr(a.data, "filename=report.pdf"));
    assert_non_null(strstr(a.data, "JVBERi0xLjQK")); /* base64 of the attachment */
    assert_non_null(strstr(a.data, "X-Priority: 1"));
    /* CRLF only, no bare LF. */
    for (size_t i = 0; i < a.len; i++)
        if (a.data[i] == '\n')
            assert_true(i > 0 && a.data[i - 1] == '\r');
    /* GMime can read it back with the same envelope. */
    GMimeStream *s = g_mime_stream_mem_new_with_buffer(a.data, a.len);
    GMimeParser *p = g_mime_parser_new_with_stream(s);
    GMimeMessage *msg = g_mime_parser_construct_message(p, NULL);
    assert_non_null(msg);
    assert_string_equal(g_mime_message_get_subject(msg), "Quarterly report – draft");
    assert_string_equal(g_mime_message_get_message_id(msg), "abc.123@example.org");
    g_object_unref(msg);
    g_object_unref(p);
    g_object_unref(s);
    kbuf_free(&a);
    kbuf_free(&b);
    json_decref(m);
}

/* tests/kerio/data/mime_golden.json holds mails (edge cases of the text rules, of address
 * encoding and folding, attachments, text and HTML bodies in every charset and encoding
 * case, and generated ones) and mime_golden.eml the MIME that GMime wrote for them from a
 * GMimeMessage (the first 27) or from GMime parts (the "alt" ones, session 12; the 17 with
 * attachments of 0 to 100,000 octets from golden_fetch's /bytes/N, and 12 of texts with LF,
 * CR and CRLF at their start and end, session 14), each followed by a separator line. mail.c
 * writes the header block itself from GMime's raw values (address values from its memo), a
 * body of text parts from the header blocks and templates GMime made once, and attachments in
 * base64 in place of placeholders GMime wrote: the bytes must stay those, on a first
 * conversion (memo and templates empty) and on a second one (all made). */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = NULL;
    size_t cap = 0, n = 0, r;
    do {
        if (n + 4096 > cap) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap + 1);
            assert_non_null(buf);
        }
        r = fread(buf + n, 1, cap - n, f);
        n += r;
    } while (r > 0);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int golden_fetch(void *ctx, const char *url, struct kbuf *out, char *err, size_t errlen)
{
    (void)ctx;
    (void)err;
    (void)errlen;
    if (strncmp(url, "/bytes/", 7) == 0) {
        /* N octets of every value (CR, LF and NUL among them), the same on every call: the
         * attachments whose base64 lines end at every place of a line */
        size_t n = strtoul(url + 7, NULL, 10);
        uint32_t x = (uint32_t)n * 2654435761u + 1;
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            unsigned char c = (unsigned char)(x >> 24);
            if (kbuf_append(out, &c, 1) != 0)
                return -1;
        }
        return 0;
    }
    char b[256];
    snprintf(b, sizeof b, "bytes of %s\n", url);
    return kbuf_append(out, b, strlen(b));
}

static void test_mail_mime_golden(void **state)
{
    (void)state;
    json_error_t je;
    json_t *mails = json_load_file(KERIO_TEST_DATA "/mime_golden.json", 0, &je);
    assert_non_null(mails);
    size_t glen;
    char *golden = slurp(KERIO_TEST_DATA "/mime_golden.eml", &glen);
    static const char sep[] = "\r\n--- outpost golden separator ---\r\n";
    for (int round = 0; round < 2; round++) {
        const char *g = golden;
        for (size_t i = 0; i < json_array_size(mails); i++) {
            const char *end = strstr(g, sep);
            assert_non_null(end);
            struct kbuf a = { 0 };
            char err[200];
            assert_int_equal(kerio_mail_to_mime(json_array_get(mails, i), golden_fetch, NULL, &a, err, sizeof err), 0);
            if (a.len != (size_t)(end - g) || memcmp(a.data, g, a.len) != 0)
                fail_msg("mail %zu (round %d) differs from the golden MIME:\n%s", i, round, a.data);
            kbuf_free(&a);
            g = end + sizeof sep - 1;
        }
        assert_int_equal(g - golden, (ptrdiff_t)glen);
    }
    free(golden);
    json_decref(mails);
}

static void test_mail_plain_only_and_no_date(void **state)
{
    (void)state;
    json_t *m = load("{\"id\":\"keriostorage://mail/x/y/z/1\",\"watermark\":1,\"subject\":\"\",\"to\":[],"
                     "\"displayableParts\":[{\"contentType\":\"ctTextPlain\",\"content\":\"plain text only\"}]}");
    struct kbuf a = { 0 };
    char err[200];
    assert_int_equal(kerio_mail_to_mime(m, NULL, NULL, &a, err, sizeof err), 0);
    assert_null(strstr(a.data, "Date:"));   /* a draft has no Date; never "now" */
    assert_null(strstr(a.data, "multipart"));
    assert_non_null(strstr(a.data, "text/plain"));
    assert_non_null(strstr(a.data, "plain text only"));
    kbuf_free(&a);
    json_decref(m);
}

/* Mail.notificationTo is the Disposition-Notification-To header (a read receipt asked
 * for) and Mail.sender the Sender header: both ways, so neither is lost on a write-back. */
static void test_mail_notification_and_sender(void **state)
{
    (void)state;
    json_t *m = load("{\"id\":\"keriostorage://mail/x/y/z/2\",\"watermark\":1,\"subject\":\"receipt\","
                     "\"from\":{\"name\":\"Alice\",\"address\":\"alice@example.org\"},"
                     "\"sender\":{\"name\":\"Assistant\",\"address\":\"assist@example.org\"},"
                     "\"notificationTo\":{\"name\":\"Alice\",\"address\":\"alice@example.org\",\"contactId\":\"\"},"
                     "\"to\":[{\"name\":\"\",\"address\":\"bob@example.com\"}],"
                     "\"displayableParts\":[{\"contentType\":\"ctTextPlain\",\"content\":\"hi\"}]}");
    struct kbuf a = { 0 };
    char err[200];
    assert_int_equal(kerio_mail_to_mime(m, NULL, NULL, &a, err, sizeof err), 0);
    assert_non_null(strstr(a.data, "\r\nDisposition-Notification-To: Alice <alice@example.org>\r\n"));
    assert_non_null(strstr(a.data, "\r\nSender: Assistant <assist@example.org>\r\n"));
    struct kerio_parsed_mail pm;
    assert_int_equal(kerio_mime_to_mail(a.data, a.len, &pm, err, sizeof err), 0);
    assert_string_equal(kj_str(json_object_get(pm.mail, "notificationTo"), "address"), "alice@example.org");
    assert_string_equal(kj_str(json_object_get(pm.mail, "notificationTo"), "name"), "Alice");
    assert_string_equal(kj_str(json_object_get(pm.mail, "sender"), "address"), "assist@example.org");
    kerio_parsed_mail_free(&pm);
    kbuf_free(&a);
    json_decref(m);
    /* none asked for (the empty Email the IDL's full objects carry): no header */
    m = load("{\"id\":\"keriostorage://mail/x/y/z/3\",\"subject\":\"\",\"notificationTo\":{\"name\":\"\",\"address\":\"\"},"
             "\"displayableParts\":[]}");
    assert_int_equal(kerio_mail_to_mime(m, NULL, NULL, &a, err, sizeof err), 0);
    assert_null(strstr(a.data, "Disposition-Notification-To"));
    assert_int_equal(kerio_mime_to_mail(a.data, a.len, &pm, err, sizeof err), 0);
    assert_null(json_object_get(pm.mail, "notificationTo"));
    assert_null(json_object_get(pm.mail, "sender"));
    kerio_parsed_mail_free(&pm);
    kbuf_free(&a);
    json_decref(m);
}

/* Text parts keep GMime's charset rule (us-ascii, iso-8859-1 when every character is below
 * U+0100, else utf-8) and its exact bytes: mail.c picks the charset itself instead of
 * g_mime_text_part_set_text, and these bytes were written by the GMime path it replaced. */
static char *no_cr(const char *s)
{
    char *d = strdup(s);
    size_t o = 0;
    for (size_t i = 0; d[i]; i++)
        if (d[i] != '\r')
            d[o++] = d[i];
    d[o] = '\0';
    return d;
}

static void test_mail_text_charsets_golden(void **state)
{
    (void)state;
    json_t *m = load("{\"id\":\"keriostorage://mail/x/y/z/7\",\"watermark\":1,\"subject\":\"Charsets\","
                     "\"from\":{\"name\":\"\",\"address\":\"a@example.org\"},\"displayableParts\":["
                     "{\"contentType\":\"ctTextPlain\",\"content\":\"Caf\\u00e9 cr\\u00e8me \\u00bd\\n\"},"
                     "{\"contentType\":\"ctTextHtml\",\"content\":\"<p>ascii</p>\"}]}");
    struct kbuf a = { 0 };
    char err[200];
    assert_int_equal(kerio_mail_to_mime(m, NULL, NULL, &a, err, sizeof err), 0);
    assert_string_equal(a.data,
                        "From: a@example.org\r\nSubject: Charsets\r\nMIME-Version: 1.0\r\n"
                        "Content-Type: multipart/alternative; boundary=\"=_outpost_82eb122099341167_1\"\r\n\r\n"
                        "--=_outpost_82eb122099341167_1\r\n"
                        "Content-Type: text/plain; charset=iso-8859-1\r\n"
                        "Content-Transfer-Encoding: 8bit\r\n\r\n"
                        "Caf\xE9 cr\xE8me \xBD\r\n\r\n"
                        "--=_outpost_82eb122099341167_1\r\n"
                        "Content-Type: text/html; charset=us-ascii\r\n"
                        "Content-Transfer-Encoding: 7bit\r\n\r\n"
                        "<p>ascii</p>\r\n"
                        "--=_outpost_82eb122099341167_1--\r\n");
    kbuf_free(&a);
    json_decref(m);
    m = load("{\"id\":\"keriostorage://mail/x/y/z/8\",\"watermark\":1,\"subject\":\"UTF-8\","
             "\"displayableParts\":[{\"contentType\":\"ctTextPlain\",\"content\":\"\\u017d\\u00e9\\n\"}]}");
    assert_int_equal(kerio_mail_to_mime(m, NULL, NULL, &a, err, sizeof err), 0);
    assert_string_equal(a.data, "Subject: UTF-8\r\nMIME-Version: 1.0\r\n"
                                "Content-Type: text/plain; charset=utf-8\r\n"
                                "Content-Transfer-Encoding: 8bit\r\n\r\n"
                                "\xC5\xBD\xC3\xA9\r\n");
    kbuf_free(&a);
    json_decref(m);
    /* Lines over 998 octets are encoded: quoted-printable when mostly ASCII, base64 when
     * at least 17% of the octets are 8-bit; a control character other than tab and line
     * breaks (a CR that does not end a line included) also makes quoted-printable. */
    static const struct { const char *unit; int times; const char *cte; } enc[] = {
        { "abcdefgh\\u00e9 ", 120, "quoted-printable" },
        { "\\u0416\\u0436 ", 300, "base64" },
        { "ab\\u0007c\\n", 3, "quoted-printable" },
        { "line of ascii\\n", 100, "7bit" },
        { "", 1, "7bit" },
        { "a\\r\\r\\nb\\rc\\r\\n\\u00e9\\r", 2, "quoted-printable" },
    };
    for (size_t k = 0; k < sizeof enc / sizeof enc[0]; k++) {
        char *js = NULL;
        size_t jn = 0;
        FILE *f = open_memstream(&js, &jn);
        fprintf(f, "{\"id\":\"keriostorage://mail/x/y/z/9\",\"watermark\":1,\"subject\":\"Long\","
                   "\"displayableParts\":[{\"contentType\":\"ctTextPlain\",\"content\":\"");
        for (int r = 0; r < enc[k].times; r++)
            fputs(enc[k].unit, f);
        fputs("\"}]}", f);
        fclose(f);
        m = load(js);
        free(js);
        assert_int_equal(kerio_mail_to_mime(m, NULL, NULL, &a, err, sizeof err), 0);
        char want[80];
        snprintf(want, sizeof want, "Content-Transfer-Encoding: %s\r\n", enc[k].cte);
        assert_non_null(strstr(a.data, want));
        /* and the text reads back unchanged (but for CRs: line breaks read back as CRLF) */
        struct kerio_parsed_mail pm;
        assert_int_equal(kerio_mime_to_mail(a.data, a.len, &pm, err, sizeof err), 0);
        char *text = no_cr(kj_str(json_array_get(json_object_get(pm.mail, "displayableParts"), 0), "content"));
        char *orig = no_cr(kj_str(json_array_get(json_object_get(m, "displayableParts"), 0), "content"));
        assert_string_equal(text, orig);
        free(text);
        free(orig);
        kerio_parsed_mail_free(&pm);
        kbuf_free(&a);
        json_decref(m);
    }
}

static void test_mail_attachment_fetch_failure(void **state)
{
    (void)state;
    json_t *m = load(mail_json);
    json_object_set_new(json_array_get(json_object_get(m, "attachments"), 0), "url", json_string("/other"));
    struct kbuf a = { 0 };
    char err[200] = "";
    int calls = 0;
    assert_int_equal(kerio_mail_to_mime(m, fake_fetch, &calls, &a, err, sizeof err), -1);
    assert_non_null(strstr(err, "unexpected URL"));
    kbuf_free(&a);
    json_decref(m);
}

static void test_mime_to_mail(void **state)
{
    (void)state;
    json_t *m = load(mail_json);
    struct kbuf mime = { 0 };
    char err[200];
    int calls = 0;
    assert_int_equal(kerio_mail_to_mime(m, fake_fetch, &calls, &mime, err, sizeof err), 0);
    struct kerio_parsed_mail pm;
    assert_int_equal(kerio_mime_to_mail(mime.data, mime.len, &pm, err, sizeof err), 0);
    assert_string_equal(pm.message_id, "abc.123@example.org");
    assert_string_equal(kj_str(pm.mail, "subject"), "Quarterly report – draft");
    assert_string_equal(kj_str(json_object_get(pm.mail, "from"), "address"), "alice@example.org");
    assert_string_equal(kj_str(json_object_get(pm.mail, "from"), "name"), "Alice Ärger");
    assert_int_equal(json_array_size(json_object_get(pm.mail, "to")), 2);
    assert_string_equal(kj_str(pm.mail, "sendDate"), "20240105T101455+0100");
    assert_string_equal(kj_str(pm.mail, "priority"), "High");
    const json_t *parts = json_object_get(pm.mail, "displayableParts");
    assert_int_equal(json_array_size(parts), 2);
    assert_string_equal(kj_str(json_array_get(parts, 0), "contentType"), "ctTextPlain");
    assert_non_null(strstr(kj_str(json_array_get(parts, 0), "content"), "see attached."));
    assert_int_equal(pm.natt, 1);
    assert_string_equal(pm.att[0].name, "report.pdf");
    assert_string_equal(pm.att[0].content_type, "application/pdf");
    assert_int_equal(pm.att[0].data.len, 9);
    assert_memory_equal(pm.att[0].data.data, "%PDF-1.4\n", 9);
    const json_t *hdrs = json_object_get(pm.mail, "headers");
    assert_int_equal(json_array_size(hdrs), 2);
    assert_string_equal(kj_str(json_array_get(hdrs, 1), "value"), "<parent.1@example.com>");
    kerio_parsed_mail_free(&pm);
    kbuf_free(&mime);
    json_decref(m);
    assert_int_equal(kerio_mime_to_mail("", 0, &pm, err, sizeof err), -1);
}

static const char *event_json =
    "{\"id\":\"keriostorage://event/example.com/jdoe/cal-uuid/17\",\"folderId\":\"c\",\"watermark\":900,"
    "\"summary\":\"Team sync\",\"location\":\"Room 4, 2nd floor\",\"description\":\"Agenda:\\n1. news; 2. plans\","
    "\"start\":\"20240108T090000+0100\",\"end\":\"20240108T093000+0100\",\"isAllDay\":false,\"freeBusy\":\"Busy\","
    "\"isPrivate\":false,\"priority\":\"Normal\",\"label\":\"Business\",\"categories\":[\"Work\"],"
    "\"rule\":{\"isSet\":true,\"frequency\":\"Weekly\",\"endBy\":{\"type\":\"ByRecurrenceDate\",\"date\":\"20240401\"},"
    "\"preciseBy\":{\"byDay\":[1,3],\"byMonthDay\":[],\"byMonth\":[],\"byPosition\":[],\"byInterval\":2}},"
    "\"attendees\":[{\"displayName\":\"J Doe\",\"emailAddress\":\"jdoe@example.com\",\"role\":\"RoleOrganizer\"},"
    "{\"displayName\":\"Bob\",\"emailAddress\":\"bob@example.com\",\"role\":\"RoleOptionalAttendee\",\"partStatus\":\"PartAccepted\"}],"
    "\"reminder\":{\"isSet\":true,\"type\":\"ReminderRelative\",\"minutesBeforeStart\":15,\"date\":\"\"}}";

static const char *exceptions_json =
    "[{\"id\":\"keriostorage://occurrence/example.com/jdoe/cal-uuid/17-3\",\"eventId\":\"keriostorage://event/example.com/jdoe/cal-uuid/17\","
    "\"isException\":true,\"recurrenceId\":\"20240122T090000+0100\",\"summary\":\"Team sync (moved)\","
    "\"start\":\"20240123T140000+0100\",\"end\":\"20240123T143000+0100\"},"
    "{\"id\":\"keriostorage://occurrence/example.com/jdoe/cal-uuid/17-5\",\"isException\":true,"
    "\"recurrenceId\":\"20240205T080000Z\",\"summary\":\"Team sync in New York\","
    "\"start\":\"20240205T090000-0500\",\"end\":\"20240205T100000-0500\"}]";

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_recurring_event_with_exceptions(void **state)
{
    (void)state;
    json_t *e = load(event_json), *x = load(exceptions_json);
    struct kbuf a = { 0 }, b = { 0 };
    char err[200];
    assert_int_equal(kerio_event_to_ical(e, x, &a, err, sizeof err), 0);
    assert_int_equal(kerio_event_to_ical(e, x, &b, err, sizeof err), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    /* One master and two overrides, all with the same UID. */
    assert_int_equal(count(a.data, "BEGIN:VEVENT"), 3);
    assert_int_equal(count(a.data, "RRULE:"), 1);
    assert_non_null(strstr(a.data, "RRULE:FREQ=WEEKLY;UNTIL=20240401;INTERVAL=2;BYDAY=MO,WE"));
    char *uid = kerio_object_uid(e);
    char line[128];
    snprintf(line, sizeof line, "UID:%s", uid);
    assert_int_equal(count(a.data, line), 3);
    free(uid);
    /* Times carry the offset the server gave: +0100 and -0500 zones, UTC stays UTC. */
    assert_non_null(strstr(a.data, "TZID:UTC+0100"));
    assert_non_null(strstr(a.data, "TZOFFSETTO:+0100"));
    assert_non_null(strstr(a.data, "TZID:UTC-0500"));
    assert_non_null(strstr(a.data, "DTSTART;TZID=UTC+0100:20240108T090000"));
    assert_non_null(strstr(a.data, "RECURRENCE-ID;TZID=UTC+0100:20240122T090000"));
    assert_non_null(strstr(a.data, "DTSTART;TZID=UTC+0100:20240123T140000"));
    assert_non_null(strstr(a.data, "RECURRENCE-ID:20240205T080000Z"));
    assert_non_null(strstr(a.data, "DTSTART;TZID=UTC-0500:20240205T090000"));
    assert_non_null(strstr(a.data, "SUMMARY:Team sync (moved)"));
    assert_non_null(strstr(a.data, "LOCATION:Room 4\\, 2nd floor"));
    assert_non_null(strstr(a.data, "ORGANIZER;CN=J Doe:mailto:jdoe@example.com"));
    assert_non_null(strstr(a.data, "PARTSTAT=ACCEPTED"));
    assert_non_null(strstr(a.data, "TRIGGER:-PT15M"));
    assert_null(strstr(a.data, "DTSTAMP:2026")); /* never the clock */

    /* And back: the master's fields and times as the server gave them. */
    json_t *o;
    char *puid = NULL;
    assert_int_equal(kerio_ical_to_json(OUTPOST_ITEM_EVENT, a.data, a.len, &o, &puid, err, sizeof err), 0);
    assert_string_equal(kj_str(o, "summary"), "Team sync");
    assert_string_equal(kj_str(o, "location"), "Room 4, 2nd floor");
    assert_string_equal(kj_str(o, "description"), "Agenda:\n1. news; 2. plans");
    assert_string_equal(kj_str(o, "start"), "20240108T090000+0100");
    assert_string_equal(kj_str(o, "end"), "20240108T093000+0100");
    const json_t *rule = json_object_get(o, "rule");
    assert_true(kj_bool(rule, "isSet"));
    assert_string_equal(kj_str(rule, "frequency"), "Weekly");
    const json_t *pb = json_object_get(rule, "preciseBy");
    assert_int_equal(json_integer_value(json_object_get(pb, "byInterval")), 2);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(pb, "byDay"), 0)), 1);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(pb, "byDay"), 1)), 3);
    assert_int_equal(json_array_size(json_object_get(o, "attendees")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "reminder"), "minutesBeforeStart")), 15);
    free(puid);
    json_decref(o);
    kbuf_free(&a);
    kbuf_free(&b);
    json_decref(e);
    json_decref(x);
}

static void test_all_day_and_utc_event(void **state)
{
    (void)state;
    json_t *e = load("{\"id\":\"keriostorage://event/x/y/z/2\",\"watermark\":1,\"summary\":\"Holiday\","
                     "\"start\":\"20240701\",\"end\":\"20240702\",\"isAllDay\":true}");
    struct kbuf a = { 0 };
    char err[200];
    assert_int_equal(kerio_event_to_ical(e, NULL, &a, err, sizeof err), 0);
    assert_non_null(strstr(a.data, "DTSTART;VALUE=DATE:20240701"));
    assert_non_null(strstr(a.data, "DTEND;VALUE=DATE:20240703")); /* Kerio's end day is inclusive */
    assert_null(strstr(a.data, "VTIMEZONE"));
    json_t *o;
    assert_int_equal(kerio_ical_to_json(OUTPOST_ITEM_EVENT, a.data, a.len, &o, NULL, err, sizeof err), 0);
    assert_string_equal(kj_str(o, "start"), "20240701");
    assert_string_equal(kj_str(o, "end"), "20240702");
    assert_true(kj_bool(o, "isAllDay"));
    json_decref(o);
    kbuf_free(&a);
    json_decref(e);

    e = load("{\"id\":\"keriostorage://event/x/y/z/3\",\"summary\":\"Call\",\"start\":\"20240105T101500Z\",\"end\":\"20240105T104500Z\"}");
    assert_int_equal(kerio_event_to_ical(e, NULL, &a, err, sizeof err), 0);
    assert_non_null(strstr(a.data, "DTSTART:20240105T101500Z"));
    assert_int_equal(kerio_ical_to_json(OUTPOST_ITEM_EVENT, a.data, a.len, &o, NULL, err, sizeof err), 0);
    assert_string_equal(kj_str(o, "start"), "20240105T101500Z");
    json_decref(o);
    kbuf_free(&a);
    json_decref(e);
}

static void test_ical_named_zone_to_offset(void **state)
{
    (void)state;
    const char *ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
                      "BEGIN:VTIMEZONE\r\nTZID:Europe/Prague\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n"
                      "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n"
                      "BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n"
                      "TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
                      "BEGIN:VEVENT\r\nUID:client-uid-1\r\nDTSTAMP:20240101T000000Z\r\nSUMMARY:Summer\r\n"
                      "DTSTART;TZID=Europe/Prague:20240710T100000\r\nDTEND;TZID=Europe/Prague:20240710T110000\r\n"
                      "END:VEVENT\r\nEND:VCALENDAR\r\n";
    json_t *o;
    char *uid = NULL;
    char err[200];
    assert_int_equal(kerio_ical_to_json(OUTPOST_ITEM_EVENT, ics, strlen(ics), &o, &uid, err, sizeof err), 0);
    assert_string_equal(uid, "client-uid-1");
    assert_string_equal(kj_str(o, "start"), "20240710T100000+0200");
    assert_string_equal(kj_str(o, "end"), "20240710T110000+0200");
    free(uid);
    json_decref(o);
}

static const char *contact_json =
    "{\"id\":\"keriostorage://contact/example.com/jdoe/con-uuid/5\",\"watermark\":7,\"type\":\"ctContact\","
    "\"commonName\":\"Dr. Anna Müller, PhD\",\"firstName\":\"Anna\",\"middleName\":\"\",\"surName\":\"Müller\","
    "\"titleBefore\":\"Dr.\",\"titleAfter\":\"PhD\",\"nickName\":\"Anni\","
    "\"emailAddresses\":[{\"address\":\"anna@example.org\",\"type\":\"EmailWork\",\"preferred\":true},"
    "{\"address\":\"anna.home@example.net\",\"type\":\"EmailHome\",\"preferred\":false}],"
    "\"phoneNumbers\":[{\"type\":\"TypeMobile\",\"number\":\"+420 601 123 456\"},{\"type\":\"TypeWorkFax\",\"number\":\"+420 2 1234\"}],"
    "\"postalAddresses\":[{\"type\":\"AddressWork\",\"preferred\":false,\"pobox\":\"\",\"extendedAddress\":\"Floor 3\","
    "\"street\":\"Main St. 1; Block B\",\"locality\":\"Praha\",\"state\":\"\",\"zip\":\"110 00\",\"country\":\"Czechia\",\"label\":\"\"}],"
    "\"urls\":[{\"type\":\"UrlWork\",\"url\":\"https://example.org/anna\"}],"
    "\"birthDay\":\"19800214\",\"companyName\":\"Example, s.r.o.\",\"departmentName\":\"R&D\",\"profession\":\"Engineer\","
    "\"comment\":\"Met at the fair.\\nLikes tea, not coffee.\",\"categories\":[\"VIP\",\"Clients\"]}";

static void test_contact_vcard_round_trip(void **state)
{
    (void)state;
    json_t *c = load(contact_json);
    struct kbuf a = { 0 }, b = { 0 };
    char err[200];
    assert_int_equal(kerio_contact_to_vcard(c, &a, err, sizeof err), 0);
    assert_int_equal(kerio_contact_to_vcard(c, &b, err, sizeof err), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_non_null(strstr(a.data, "BEGIN:VCARD\r\nVERSION:3.0\r\n"));
    assert_non_null(strstr(a.data, "FN:Dr. Anna Müller\\, PhD\r\n"));
    assert_non_null(strstr(a.data, "N:Müller;Anna;;Dr.;PhD\r\n"));
    assert_non_null(strstr(a.data, "EMAIL;TYPE=INTERNET,WORK,PREF:anna@example.org\r\n"));
    assert_non_null(strstr(a.data, "TEL;TYPE=CELL,VOICE:+420 601 123 456\r\n"));
    assert_non_null(strstr(a.data, "ADR;TYPE=WORK:;Floor 3;Main St. 1\\; Block B;Praha;;110 00;Czechia\r\n"));
    assert_non_null(strstr(a.data, "ORG:Example\\, s.r.o.;R&D\r\n"));
    assert_non_null(strstr(a.data, "BDAY;VALUE=date:1980-02-14\r\n"));
    assert_non_null(strstr(a.data, "NOTE:Met at the fair.\\nLikes tea\\, not coffee.\r\n"));
    assert_non_null(strstr(a.data, "CATEGORIES:VIP,Clients\r\n"));
    assert_non_null(strstr(a.data, "END:VCARD\r\n"));

    json_t *o;
    char *uid = NULL;
    assert_int_equal(kerio_vcard_to_contact(a.data, a.len, &o, &uid, err, sizeof err), 0);
    char *want_uid = kerio_object_uid(c);
    assert_string_equal(uid, want_uid);
    free(want_uid);
    free(uid);
    const char *same[] = { "commonName", "firstName", "surName", "titleBefore", "titleAfter", "nickName", "companyName",
                           "departmentName", "profession", "comment", "birthDay" };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        assert_string_equal(kj_str(o, same[i]), kj_str(c, same[i]));
    const json_t *em = json_object_get(o, "emailAddresses");
    assert_int_equal(json_array_size(em), 2);
    assert_string_equal(kj_str(json_array_get(em, 0), "type"), "EmailWork");
    assert_true(kj_bool(json_array_get(em, 0), "preferred"));
    assert_string_equal(kj_str(json_array_get(em, 1), "type"), "EmailHome");
    const json_t *ph = json_object_get(o, "phoneNumbers");
    assert_string_equal(kj_str(json_array_get(ph, 0), "type"), "TypeMobile");
    assert_string_equal(kj_str(json_array_get(ph, 1), "type"), "TypeWorkFax");
    const json_t *ad = json_array_get(json_object_get(o, "postalAddresses"), 0);
    assert_string_equal(kj_str(ad, "street"), "Main St. 1; Block B");
    assert_string_equal(kj_str(ad, "type"), "AddressWork");
    assert_int_equal(json_array_size(json_object_get(o, "categories")), 2);
    json_decref(o);
    kbuf_free(&a);
    kbuf_free(&b);
    json_decref(c);
}

static void test_vcard_reader_tolerates(void **state)
{
    (void)state;
    /* Folded lines, groups, lower-case names, bare TYPE words, LF endings. */
    const char *v = "begin:vcard\nversion:3.0\nitem1.EMAIL;type=internet;type=home:x@example.com\n"
                    "FN:Very long name that was\n  folded by a client\nTEL;WORK;VOICE:123\nend:vcard\n";
    json_t *o;
    char err[200];
    assert_int_equal(kerio_vcard_to_contact(v, strlen(v), &o, NULL, err, sizeof err), 0);
    assert_string_equal(kj_str(o, "commonName"), "Very long name that was folded by a client");
    assert_string_equal(kj_str(json_array_get(json_object_get(o, "emailAddresses"), 0), "type"), "EmailHome");
    assert_string_equal(kj_str(json_array_get(json_object_get(o, "phoneNumbers"), 0), "type"), "TypeWorkVoice");
    json_decref(o);
    assert_int_equal(kerio_vcard_to_contact("hello", 5, &o, NULL, err, sizeof err), -1);
}

static void test_task_vtodo(void **state)
{
    (void)state;
    json_t *t = load("{\"id\":\"keriostorage://task/x/y/t/9\",\"watermark\":3,\"summary\":\"File taxes\","
                     "\"description\":\"Before May\",\"status\":\"tsInProgress\",\"start\":\"20240301\",\"due\":\"20240430T170000+0200\","
                     "\"done\":40,\"priority\":\"Low\",\"reminder\":{\"isSet\":false}}");
    struct kbuf a = { 0 };
    char err[200];
    assert_int_equal(kerio_task_to_ical(t, &a, err, sizeof err), 0);
    assert_non_null(strstr(a.data, "BEGIN:VTODO"));
    assert_non_null(strstr(a.data, "DUE;TZID=UTC+0200:20240430T170000"));
    assert_non_null(strstr(a.data, "STATUS:IN-PROCESS"));
    assert_non_null(strstr(a.data, "PERCENT-COMPLETE:40"));
    assert_non_null(strstr(a.data, "PRIORITY:9"));
    json_t *o;
    assert_int_equal(kerio_ical_to_json(OUTPOST_ITEM_TASK, a.data, a.len, &o, NULL, err, sizeof err), 0);
    assert_string_equal(kj_str(o, "due"), "20240430T170000+0200");
    assert_string_equal(kj_str(o, "status"), "tsInProgress");
    assert_int_equal(json_integer_value(json_object_get(o, "done")), 40);
    json_decref(o);
    kbuf_free(&a);
    json_decref(t);
}

static void test_note_vjournal(void **state)
{
    (void)state;
    json_t *n = load("{\"id\":\"keriostorage://note/x/y/n/4\",\"watermark\":2,\"color\":\"Green\","
                     "\"text\":\"Shopping\\nmilk, eggs; bread\",\"createDate\":\"20240102T080000Z\",\"modifyDate\":\"20240103T090000Z\","
                     "\"position\":{\"xOffset\":1,\"yOffset\":2,\"xSize\":200,\"ySize\":150}}");
    struct kbuf a = { 0 }, b = { 0 };
    char err[200];
    assert_int_equal(kerio_note_to_ical(n, &a, err, sizeof err), 0);
    assert_int_equal(kerio_note_to_ical(n, &b, err, sizeof err), 0);
    assert_memory_equal(a.data, b.data, a.len);
    assert_non_null(strstr(a.data, "BEGIN:VJOURNAL"));
    assert_non_null(strstr(a.data, "SUMMARY:Shopping\r\n"));
    assert_non_null(strstr(a.data, "DESCRIPTION:Shopping\\nmilk\\, eggs\\; bread"));
    assert_non_null(strstr(a.data, "X-KERIO-COLOR:Green"));
    assert_non_null(strstr(a.data, "DTSTAMP:20240103T090000Z"));
    json_t *o;
    assert_int_equal(kerio_ical_to_json(OUTPOST_ITEM_NOTE, a.data, a.len, &o, NULL, err, sizeof err), 0);
    assert_string_equal(kj_str(o, "text"), "Shopping\nmilk, eggs; bread");
    assert_string_equal(kj_str(o, "color"), "Green");
    json_decref(o);
    kbuf_free(&a);
    kbuf_free(&b);
    json_decref(n);
}

static int setup(void **state)
{
    (void)state;
    g_mime_init();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    g_mime_shutdown();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mail_mime_byte_identical),
        cmocka_unit_test(test_mail_plain_only_and_no_date),
        cmocka_unit_test(test_mail_mime_golden),
        cmocka_unit_test(test_mail_text_charsets_golden),
        cmocka_unit_test(test_mail_attachment_fetch_failure),
        cmocka_unit_test(test_mime_to_mail),
        cmocka_unit_test(test_mail_notification_and_sender),
        cmocka_unit_test(test_recurring_event_with_exceptions),
        cmocka_unit_test(test_all_day_and_utc_event),
        cmocka_unit_test(test_ical_named_zone_to_offset),
        cmocka_unit_test(test_contact_vcard_round_trip),
        cmocka_unit_test(test_vcard_reader_tolerates),
        cmocka_unit_test(test_task_vtodo),
        cmocka_unit_test(test_note_vjournal),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
