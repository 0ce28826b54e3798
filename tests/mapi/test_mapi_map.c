/* tests/mapi/test_mapi_map.c — the item <-> MAPI mapping: mail (MIME) to
 * message class, subject, sender, recipients, delivery time, flags, bodies
 * (PR_BODY, PR_HTML, PR_RTF_COMPRESSED) and attachments, and back to MIME;
 * appointments, tasks and notes (iCalendar) and contacts (vCard) to their
 * named properties and back; named-property ids stable across reopen.
 * Items come from a real SQLite cache: appended through the core's store API,
 * their summaries computed by the core at ingest as outpostd serves them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "mapi_map.h"
#include "mapi_rtf.h"
#include "mapi_test_store.h"

static mapi_names *names;
static mapi_ctx ctx;
static mts cache;
static int64_t folders[6];          /* by OUTPOST_ITEM_* kind */
static struct outpost_txn *rt;      /* read transaction holding the last cached() item */

/* Appends content to the folder of its kind and returns the item as the
 * cache holds it (valid until the next cached() or teardown). */
static outpost_item cached(uint32_t kind, const char *content, size_t len, uint32_t flags, int64_t date)
{
    if (rt) {
        cache.api->read_end(cache.host, rt);
        rt = NULL;
    }
    char *copy = malloc(len + 1);
    memcpy(copy, content, len);
    copy[len] = '\0';
    int64_t id = mts_item(&cache, folders[kind], copy, flags, date);
    free(copy);
    assert_true(id > 0);
    assert_int_equal(cache.api->read_begin(cache.host, &rt).code, OUTPOST_OK);
    const outpost_item *it = NULL;
    assert_int_equal(cache.m->item_get(rt, id, &it).code, OUTPOST_OK);
    assert_non_null(it);
    return *it;
}
static char dir[] = "/tmp/mapi-map-XXXXXX";

static int setup(void **state)
{
    (void)state;
    g_mime_init();
    if (!mkdtemp(dir))
        return -1;
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/mapi-names", dir);
    names = mapi_names_open(path, err, sizeof err);
    char e2[1024];
    if (mts_open(&cache, NULL, OUTPOST_BUILD_PLUGIN_DIR, e2, sizeof e2) != 0) {
        fprintf(stderr, "opening the SQLite cache: %s\n", e2);
        return -1;
    }
    static const char *const fname[6] = { "", "Inbox", "Calendar", "Contacts", "Tasks", "Notes" };
    for (uint32_t k = 1; k <= 5; k++)
        folders[k] = mts_folder(&cache, 0, fname[k], k, k == OUTPOST_ITEM_MAIL ? OUTPOST_USE_INBOX : 0);
    return names && mapi_ctx_init(&ctx, (const uint8_t *)"0123456789ABCDEF", names) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    mapi_names_close(names);
    if (rt)
        cache.api->read_end(cache.host, rt);
    mts_close(&cache);
    char path[128];
    snprintf(path, sizeof path, "%s/mapi-names", dir);
    unlink(path);
    rmdir(dir);
    g_mime_shutdown();
    return 0;
}

static const char MAIL[] =
    "From: \"Ann Example\" <ann@example.com>\r\n"
    "To: Bob <bob@example.com>, carol@example.com\r\n"
    "Cc: \"Dave, Jr.\" <dave@example.com>\r\n"
    "Subject: Re: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n"
    "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    "Message-ID: <m1@example.com>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=\"alt\"\r\n"
    "\r\n"
    "--alt\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Hall=F6 Bob\r\n"
    "--alt\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    "<p>Hall\xc3\xb6 <b>Bob</b></p>\r\n"
    "--alt--\r\n"
    "--outer\r\n"
    "Content-Type: application/pdf; name=\"report.pdf\"\r\n"
    "Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "JVBERi0xLjQK\r\n"
    "--outer--\r\n";

static outpost_item mail_item(void)
{
    outpost_item it = cached(OUTPOST_ITEM_MAIL, MAIL, sizeof MAIL - 1, OUTPOST_FLAG_SEEN | OUTPOST_FLAG_FLAGGED,
                             1700000000000LL);
    /* keywords as a client set them (append stores none) */
    it.keywords = "$Forwarded Project";
    return it;
}

static void test_mail_summary(void **state)
{
    (void)state;
    outpost_item it = mail_item();
    mapi_props p;
    mapi_props_init(&p);
    assert_int_equal(mapi_map_summary(&ctx, &it, &p), 0);
    assert_string_equal(mapi_props_str(&p, OP_PR_MESSAGE_CLASS), "IPM.Note");
    assert_string_equal(mapi_props_str(&p, OP_PR_SUBJECT), "Re: Grüße");
    assert_string_equal(mapi_props_str(&p, OP_PR_SUBJECT_PREFIX), "Re: ");
    assert_string_equal(mapi_props_str(&p, OP_PR_NORMALIZED_SUBJECT), "Grüße");
    assert_string_equal(mapi_props_str(&p, OP_PR_SENDER_NAME), "Ann Example");
    assert_string_equal(mapi_props_str(&p, OP_PR_SENDER_EMAIL_ADDRESS), "ann@example.com");
    assert_string_equal(mapi_props_str(&p, OP_PR_DISPLAY_TO), "Bob; carol@example.com");
    assert_string_equal(mapi_props_str(&p, OP_PR_DISPLAY_CC), "Dave, Jr.");
    assert_int_equal(mapi_filetime_to_ms(mapi_props_i8(&p, OP_PR_MESSAGE_DELIVERY_TIME, 0)), 1700000000000LL);
    int32_t mf = mapi_props_long(&p, OP_PR_MESSAGE_FLAGS, 0);
    assert_true(mf & OP_MSGFLAG_READ);
    assert_true(mf & OP_MSGFLAG_HASATTACH);
    assert_int_equal(mapi_props_long(&p, OP_PR_FLAG_STATUS, 0), 2);
    const mapi_prop *k = mapi_props_find(&p, ctx.np[NP_KEYWORDS]);
    assert_non_null(k);
    assert_int_equal(k->count, 1);
    assert_string_equal((char *)k->mv[0].bin.data, "Project");
    mapi_props_free(&p);
}

static void test_mail_content(void **state)
{
    (void)state;
    outpost_item it = mail_item();
    mapi_message m;
    assert_int_equal(mapi_map_content(&ctx, &it, (const uint8_t *)MAIL, sizeof MAIL - 1, 1, &m), 0);
    assert_string_equal(mapi_props_str(&m.props, OP_PR_BODY), "Hallö Bob");
    const mapi_val *html = mapi_props_bin(&m.props, OP_PR_HTML);
    assert_non_null(html);
    assert_non_null(strstr((char *)html->bin.data, "<b>Bob</b>"));
    assert_int_equal(mapi_props_long(&m.props, OP_PR_NATIVE_BODY_INFO, 0), OP_NATIVE_BODY_HTML);
    /* RTF: compressed, in sync, decompresses to the encapsulated HTML */
    const mapi_val *rtf = mapi_props_bin(&m.props, OP_PR_RTF_COMPRESSED);
    assert_non_null(rtf);
    uint8_t *raw;
    size_t rl;
    char err[128];
    assert_int_equal(mapi_rtf_decompress(rtf->bin.data, rtf->bin.len, &raw, &rl, err, sizeof err), 0);
    int kind;
    size_t xl;
    char *x = mapi_rtf_extract(raw, rl, &kind, &xl);
    assert_int_equal(kind, MAPI_RTF_HTML);
    assert_memory_equal(x, html->bin.data, html->bin.len);
    free(x);
    free(raw);
    assert_int_equal(mapi_props_long(&m.props, OP_PR_RTF_IN_SYNC, 0), 1);
    /* recipients with types and one-off entry ids */
    assert_int_equal(m.nrecips, 3);
    assert_int_equal(mapi_props_long(&m.recips[0], OP_PR_RECIPIENT_TYPE, 0), OP_MAPI_TO);
    assert_string_equal(mapi_props_str(&m.recips[0], OP_PR_DISPLAY_NAME), "Bob");
    assert_string_equal(mapi_props_str(&m.recips[1], OP_PR_EMAIL_ADDRESS), "carol@example.com");
    assert_int_equal(mapi_props_long(&m.recips[2], OP_PR_RECIPIENT_TYPE, 0), OP_MAPI_CC);
    assert_string_equal(mapi_props_str(&m.recips[2], OP_PR_DISPLAY_NAME), "Dave, Jr.");
    assert_non_null(mapi_props_bin(&m.recips[0], OP_PR_ENTRYID));
    /* the attachment */
    assert_int_equal(m.natts, 1);
    assert_string_equal(mapi_props_str(&m.atts[0].props, OP_PR_ATTACH_LONG_FILENAME), "report.pdf");
    assert_string_equal(mapi_props_str(&m.atts[0].props, OP_PR_ATTACH_MIME_TAG), "application/pdf");
    const mapi_val *data = mapi_props_bin(&m.atts[0].props, OP_PR_ATTACH_DATA_BIN);
    assert_non_null(data);
    assert_int_equal(data->bin.len, 9);
    assert_memory_equal(data->bin.data, "%PDF-1.4\n", 9);
    assert_non_null(strstr(mapi_props_str(&m.props, OP_PR_TRANSPORT_MESSAGE_HEADERS), "Message-ID"));
    assert_string_equal(mapi_props_str(&m.props, OP_PR_INTERNET_MESSAGE_ID), "<m1@example.com>");

    /* back to MIME and mapped again: the same message */
    mapi_buf out;
    mapi_buf_init(&out);
    assert_int_equal(mapi_build_content(&ctx, OUTPOST_ITEM_MAIL, &m, NULL, 1700000000000LL, &out, err, sizeof err), 0);
    mapi_message m2;
    assert_int_equal(mapi_map_content(&ctx, &it, out.data, out.len, 1, &m2), 0);
    assert_string_equal(mapi_props_str(&m2.props, OP_PR_SUBJECT), "Re: Grüße");
    assert_string_equal(mapi_props_str(&m2.props, OP_PR_SENDER_EMAIL_ADDRESS), "ann@example.com");
    assert_int_equal(m2.nrecips, 3);
    assert_int_equal(m2.natts, 1);
    assert_memory_equal(mapi_props_bin(&m2.atts[0].props, OP_PR_ATTACH_DATA_BIN)->bin.data, "%PDF-1.4\n", 9);
    assert_non_null(strstr((char *)mapi_props_bin(&m2.props, OP_PR_HTML)->bin.data, "<b>Bob</b>"));
    assert_string_equal(mapi_props_str(&m2.props, OP_PR_INTERNET_MESSAGE_ID), "<m1@example.com>");
    mapi_message_free(&m2);
    mapi_buf_free(&out);
    mapi_message_free(&m);
}

static void test_new_mail_from_rtf(void **state)
{
    (void)state;
    /* Outlook saving a note with only an RTF body */
    mapi_message m;
    memset(&m, 0, sizeof m);
    mapi_props_set_str(&m.props, OP_PR_MESSAGE_CLASS, "IPM.Note");
    mapi_props_set_str(&m.props, OP_PR_SUBJECT, "Draft");
    char *rtf = mapi_rtf_from_text("Typed in Outlook", 16);
    uint8_t *c;
    size_t cl;
    assert_int_equal(mapi_rtf_compress((uint8_t *)rtf, strlen(rtf), &c, &cl), 0);
    mapi_props_set_bin(&m.props, OP_PR_RTF_COMPRESSED, c, cl);
    free(c);
    free(rtf);
    m.recips = calloc(1, sizeof *m.recips);
    m.nrecips = 1;
    mapi_props_set_str(&m.recips[0], OP_PR_DISPLAY_NAME, "Bob");
    mapi_props_set_str(&m.recips[0], OP_PR_EMAIL_ADDRESS, "bob@example.com");
    mapi_props_set_long(&m.recips[0], OP_PR_RECIPIENT_TYPE, OP_MAPI_TO);
    mapi_buf out;
    mapi_buf_init(&out);
    char err[128];
    assert_int_equal(mapi_build_content(&ctx, OUTPOST_ITEM_MAIL, &m, NULL, 1700000000000LL, &out, err, sizeof err), 0);
    char *s = mapi_buf_steal(&out, NULL);
    assert_non_null(strstr(s, "Typed in Outlook"));
    assert_non_null(strstr(s, "To: Bob <bob@example.com>"));
    assert_non_null(strstr(s, "Subject: Draft"));
    free(s);
    mapi_message_free(&m);
}

static const char EVENT[] = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
                            "BEGIN:VEVENT\r\nUID:ev-1@example.com\r\nDTSTAMP:20231101T000000Z\r\n"
                            "DTSTART:20231115T090000Z\r\nDTEND:20231115T103000Z\r\nSUMMARY:Planning\r\n"
                            "LOCATION:Room 1\r\nDESCRIPTION:Agenda\\nitem\r\nCATEGORIES:Work,Blue\r\n"
                            "RRULE:FREQ=WEEKLY\r\n"
                            "BEGIN:VALARM\r\nTRIGGER:-PT15M\r\nACTION:DISPLAY\r\nDESCRIPTION:x\r\nEND:VALARM\r\n"
                            "END:VEVENT\r\nEND:VCALENDAR\r\n";

static outpost_item other_item(uint32_t kind, const char *content)
{
    return cached(kind, content, strlen(content), 0, 1700000000000LL);
}

static void test_event(void **state)
{
    (void)state;
    outpost_item it = other_item(OUTPOST_ITEM_EVENT, EVENT);
    mapi_message m;
    assert_int_equal(mapi_map_content(&ctx, &it, (const uint8_t *)EVENT, sizeof EVENT - 1, 1, &m), 0);
    assert_string_equal(mapi_props_str(&m.props, OP_PR_MESSAGE_CLASS), "IPM.Appointment");
    assert_string_equal(mapi_props_str(&m.props, OP_PR_SUBJECT), "Planning");
    assert_string_equal(mapi_props_str(&m.props, ctx.np[NP_LOCATION]), "Room 1");
    int64_t start = mapi_filetime_to_ms(mapi_props_i8(&m.props, ctx.np[NP_APPT_START], 0));
    int64_t end = mapi_filetime_to_ms(mapi_props_i8(&m.props, ctx.np[NP_APPT_END], 0));
    assert_int_equal(start, 1700038800000LL); /* 2023-11-15T09:00Z */
    assert_int_equal(end - start, 90 * 60000);
    assert_int_equal(mapi_props_long(&m.props, ctx.np[NP_DURATION], 0), 90);
    assert_int_equal(mapi_props_long(&m.props, ctx.np[NP_ALL_DAY], 1), 0);
    assert_int_equal(mapi_props_long(&m.props, ctx.np[NP_RECURRING], 0), 1);
    assert_int_equal(mapi_props_long(&m.props, ctx.np[NP_REMINDER_SET], 0), 1);
    assert_int_equal(mapi_props_long(&m.props, ctx.np[NP_REMINDER_DELTA], 0), 15);
    assert_int_equal(mapi_props_long(&m.props, ctx.np[NP_BUSY_STATUS], 0), 2);
    assert_string_equal(mapi_props_str(&m.props, OP_PR_BODY), "Agenda\nitem");
    assert_int_equal(mapi_props_find(&m.props, ctx.np[NP_KEYWORDS])->count, 2);
    /* Outlook moves it by an hour and saves: iCalendar keeps the UID */
    mapi_props_set_i8(&m.props, ctx.np[NP_APPT_START], mapi_filetime_from_ms(start + 3600000));
    mapi_props_set_i8(&m.props, ctx.np[NP_APPT_END], mapi_filetime_from_ms(end + 3600000));
    mapi_props_set_str(&m.props, ctx.np[NP_LOCATION], "Room 2");
    mapi_buf out;
    mapi_buf_init(&out);
    char err[128];
    assert_int_equal(mapi_build_content(&ctx, OUTPOST_ITEM_EVENT, &m, it.object_uid, 1700000000000LL, &out, err,
                                        sizeof err), 0);
    mapi_message m2;
    assert_int_equal(mapi_map_content(&ctx, &it, out.data, out.len, 1, &m2), 0);
    assert_int_equal(mapi_filetime_to_ms(mapi_props_i8(&m2.props, ctx.np[NP_APPT_START], 0)), start + 3600000);
    assert_string_equal(mapi_props_str(&m2.props, ctx.np[NP_LOCATION]), "Room 2");
    assert_int_equal(mapi_props_long(&m2.props, ctx.np[NP_REMINDER_DELTA], 0), 15);
    char *s = mapi_buf_steal(&out, NULL);
    assert_non_null(strstr(s, "UID:ev-1@example.com"));
    free(s);
    mapi_message_free(&m2);
    mapi_message_free(&m);
}

static void test_all_day_event(void **state)
{
    (void)state;
    const char *ad = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:ad\r\nDTSTART;VALUE=DATE:20231224\r\n"
                     "DTEND;VALUE=DATE:20231226\r\nSUMMARY:Holidays\r\nTRANSP:TRANSPARENT\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    outpost_item it = other_item(OUTPOST_ITEM_EVENT, ad);
    mapi_message m;
    assert_int_equal(mapi_map_content(&ctx, &it, (const uint8_t *)ad, strlen(ad), 1, &m), 0);
    assert_int_equal(mapi_props_long(&m.props, ctx.np[NP_ALL_DAY], 0), 1);
    assert_int_equal(mapi_props_long(&m.props, ctx.np[NP_BUSY_STATUS], 2), 0);
    mapi_buf out;
    mapi_buf_init(&out);
    char err[128];
    assert_int_equal(mapi_build_content(&ctx, OUTPOST_ITEM_EVENT, &m, "ad", 0, &out, err, sizeof err), 0);
    char *s = mapi_buf_steal(&out, NULL);
    assert_non_null(strstr(s, "DTSTART;VALUE=DATE:20231224"));
    assert_non_null(strstr(s, "DTEND;VALUE=DATE:20231226"));
    assert_non_null(strstr(s, "TRANSP:TRANSPARENT"));
    free(s);
    mapi_message_free(&m);
}

static void test_task_and_note(void **state)
{
    (void)state;
    const char *todo = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTODO\r\nUID:t1\r\nSUMMARY:File taxes\r\n"
                       "DUE;VALUE=DATE:20240430\r\nSTATUS:IN-PROCESS\r\nPERCENT-COMPLETE:40\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
    outpost_item it = other_item(OUTPOST_ITEM_TASK, todo);
    mapi_message m;
    assert_int_equal(mapi_map_content(&ctx, &it, (const uint8_t *)todo, strlen(todo), 1, &m), 0);
    assert_string_equal(mapi_props_str(&m.props, OP_PR_MESSAGE_CLASS), "IPM.Task");
    assert_int_equal(mapi_props_long(&m.props, ctx.np[NP_TASK_STATUS], 0), 1);
    assert_true(mapi_props_find(&m.props, ctx.np[NP_TASK_PERCENT])->v.d > 0.39);
    assert_true(mapi_props_find(&m.props, ctx.np[NP_TASK_DUE]) != NULL);
    /* completed in Outlook */
    mapi_props_set_long(&m.props, ctx.np[NP_TASK_STATUS], 2);
    mapi_props_set_double(&m.props, ctx.np[NP_TASK_PERCENT], 1.0);
    mapi_buf out;
    mapi_buf_init(&out);
    char err[128];
    assert_int_equal(mapi_build_content(&ctx, OUTPOST_ITEM_TASK, &m, "t1", 0, &out, err, sizeof err), 0);
    char *s = mapi_buf_steal(&out, NULL);
    assert_non_null(strstr(s, "STATUS:COMPLETED"));
    assert_non_null(strstr(s, "PERCENT-COMPLETE:100"));
    assert_non_null(strstr(s, "DUE;VALUE=DATE:20240430"));
    free(s);
    mapi_message_free(&m);

    const char *jn = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VJOURNAL\r\nUID:n1\r\nSUMMARY:Idea\r\n"
                     "DESCRIPTION:Idea\\nmore\r\nX-OUTPOST-NOTE-COLOR:1\r\nEND:VJOURNAL\r\nEND:VCALENDAR\r\n";
    it = other_item(OUTPOST_ITEM_NOTE, jn);
    assert_int_equal(mapi_map_content(&ctx, &it, (const uint8_t *)jn, strlen(jn), 1, &m), 0);
    assert_string_equal(mapi_props_str(&m.props, OP_PR_MESSAGE_CLASS), "IPM.StickyNote");
    assert_string_equal(mapi_props_str(&m.props, OP_PR_BODY), "Idea\nmore");
    assert_int_equal(mapi_props_long(&m.props, ctx.np[NP_NOTE_COLOR], 0), 1);
    mapi_message_free(&m);
}

static void test_contact(void **state)
{
    (void)state;
    const char *vc = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c1\r\nFN:Dr. Jane Q. Doe\r\nN:Doe;Jane;Q.;Dr.;\r\n"
                     "ORG:Acme\\, Inc.;R&D\r\nTITLE:Chief\r\nitem1.EMAIL;TYPE=INTERNET:jane@example.com\r\n"
                     "EMAIL:jd@home.example\r\nTEL;TYPE=WORK,VOICE:+1 555 0100\r\nTEL;TYPE=CELL:+1 555 0199\r\n"
                     "BDAY:1980-02-29\r\nNOTE:Met at\\, the fair\r\n  (long)\r\nEND:VCARD\r\n";
    outpost_item it = other_item(OUTPOST_ITEM_CONTACT, vc);
    mapi_message m;
    assert_int_equal(mapi_map_content(&ctx, &it, (const uint8_t *)vc, strlen(vc), 1, &m), 0);
    assert_string_equal(mapi_props_str(&m.props, OP_PR_MESSAGE_CLASS), "IPM.Contact");
    assert_string_equal(mapi_props_str(&m.props, OP_PR_DISPLAY_NAME), "Dr. Jane Q. Doe");
    assert_string_equal(mapi_props_str(&m.props, OP_PR_SURNAME), "Doe");
    assert_string_equal(mapi_props_str(&m.props, OP_PR_GIVEN_NAME), "Jane");
    assert_string_equal(mapi_props_str(&m.props, OP_PR_COMPANY_NAME), "Acme, Inc.");
    assert_string_equal(mapi_props_str(&m.props, OP_PR_DEPARTMENT_NAME), "R&D");
    assert_string_equal(mapi_props_str(&m.props, ctx.np[NP_EMAIL1_ADDR]), "jane@example.com");
    assert_string_equal(mapi_props_str(&m.props, ctx.np[NP_EMAIL2_ADDR]), "jd@home.example");
    assert_string_equal(mapi_props_str(&m.props, OP_PR_BUSINESS_TELEPHONE_NUMBER), "+1 555 0100");
    assert_string_equal(mapi_props_str(&m.props, OP_PR_MOBILE_TELEPHONE_NUMBER), "+1 555 0199");
    assert_string_equal(mapi_props_str(&m.props, ctx.np[NP_FILE_UNDER]), "Doe, Jane");
    assert_string_equal(mapi_props_str(&m.props, OP_PR_BODY), "Met at, the fair (long)");
    assert_non_null(mapi_props_find(&m.props, OP_PR_BIRTHDAY));
    mapi_props_set_str(&m.props, OP_PR_TITLE, "CEO; founder");
    mapi_buf out;
    mapi_buf_init(&out);
    char err[128];
    assert_int_equal(mapi_build_content(&ctx, OUTPOST_ITEM_CONTACT, &m, "c1", 0, &out, err, sizeof err), 0);
    mapi_message m2;
    assert_int_equal(mapi_map_content(&ctx, &it, out.data, out.len, 1, &m2), 0);
    assert_string_equal(mapi_props_str(&m2.props, OP_PR_TITLE), "CEO; founder");
    assert_string_equal(mapi_props_str(&m2.props, OP_PR_COMPANY_NAME), "Acme, Inc.");
    assert_string_equal(mapi_props_str(&m2.props, ctx.np[NP_EMAIL2_ADDR]), "jd@home.example");
    assert_int_equal(mapi_props_i8(&m2.props, OP_PR_BIRTHDAY, 0), mapi_props_i8(&m.props, OP_PR_BIRTHDAY, 1));
    char *s = mapi_buf_steal(&out, NULL);
    assert_non_null(strstr(s, "BDAY:1980-02-29"));
    assert_non_null(strstr(s, "UID:c1"));
    free(s);
    mapi_message_free(&m2);
    mapi_message_free(&m);
}

static void test_names_persist(void **state)
{
    (void)state;
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/mapi-names", dir);
    uint16_t a, b, c;
    assert_int_equal(mapi_names_string(names, MAPI_PS_PUBLIC_STRINGS, "x-custom ☃", &a), 0);
    assert_int_equal(mapi_names_lid(names, MAPI_PSETID_COMMON, 0x8580, &b), 0);
    assert_true(a >= MAPI_NAMED_FIRST && b > a);
    mapi_names *again = mapi_names_open(path, err, sizeof err);
    assert_non_null(again);
    mapi_name n = { .kind = MAPI_MNID_STRING, .name = "x-custom ☃" };
    memcpy(n.guid, MAPI_PS_PUBLIC_STRINGS, 16);
    assert_int_equal(mapi_names_id(again, &n, 0, &c), 0);
    assert_int_equal(c, a);
    assert_int_equal(mapi_names_lid(again, MAPI_PSETID_COMMON, 0x8580, &c), 0);
    assert_int_equal(c, b);
    /* the mapping's own names kept their ids */
    mapi_ctx c2;
    assert_int_equal(mapi_ctx_init(&c2, ctx.guid, again), 0);
    assert_memory_equal(c2.np, ctx.np, sizeof ctx.np);
    /* unknown without create; PS_MAPI ids are themselves */
    n.name = "never";
    assert_int_not_equal(mapi_names_id(again, &n, 0, &c), 0);
    mapi_name pm = { .kind = MAPI_MNID_ID, .lid = 0x0037 };
    memcpy(pm.guid, MAPI_PS_MAPI, 16);
    assert_int_equal(mapi_names_id(again, &pm, 0, &c), 0);
    assert_int_equal(c, 0x0037);
    const mapi_name *back = mapi_names_get(again, a);
    assert_string_equal(back->name, "x-custom ☃");
    mapi_names_close(again);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mail_summary),
        cmocka_unit_test(test_mail_content),
        cmocka_unit_test(test_new_mail_from_rtf),
        cmocka_unit_test(test_event),
        cmocka_unit_test(test_all_day_event),
        cmocka_unit_test(test_task_and_note),
        cmocka_unit_test(test_contact),
        cmocka_unit_test(test_names_persist),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
