/* tests/mapi/mapi_seed.c — seeds a cache for the Wine harness through the
 * store API (the same mts helpers as the Linux tests): Inbox with three
 * messages (one unread), Sent Items, Deleted Items, Calendar with one
 * appointment, Contacts, Tasks, Notes. outpostd then serves the cache with
 * the MAPI front-end (tests/mapi/run_wine_mapi.sh).
 *
 * Usage: mapi_seed DATA_DIR PLUGIN_DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapi_test_store.h"

static char *mail(const char *subject, const char *date, const char *body)
{
    char *s = malloc(1024);
    snprintf(s, 1024,
             "From: Ann <ann@example.com>\r\nTo: Bob <bob@example.com>\r\nSubject: %s\r\nDate: %s\r\n"
             "Message-ID: <%s@x>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
             subject, date, subject, body);
    return s;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: mapi_seed DATA_DIR PLUGIN_DIR\n");
        return 2;
    }
    mts e;
    char err[1024];
    if (mts_open(&e, argv[1], argv[2], err, sizeof err) != 0) {
        fprintf(stderr, "mapi_seed: %s\n", err);
        return 1;
    }
    int64_t inbox = mts_folder(&e, 0, "Inbox", OUTPOST_ITEM_MAIL, OUTPOST_USE_INBOX);
    mts_folder(&e, 0, "Sent Items", OUTPOST_ITEM_MAIL, OUTPOST_USE_SENT);
    mts_folder(&e, 0, "Deleted Items", OUTPOST_ITEM_MAIL, OUTPOST_USE_TRASH);
    int64_t cal = mts_folder(&e, 0, "Calendar", OUTPOST_ITEM_EVENT, 0);
    mts_folder(&e, 0, "Contacts", OUTPOST_ITEM_CONTACT, 0);
    mts_folder(&e, 0, "Tasks", OUTPOST_ITEM_TASK, 0);
    mts_folder(&e, 0, "Notes", OUTPOST_ITEM_NOTE, 0);
    char *a = mail("First", "Mon, 13 Nov 2023 10:00:00 +0000", "Body of the first message.");
    char *b = mail("Second", "Tue, 14 Nov 2023 10:00:00 +0000", "Second body, unread.");
    char *c = mail("Third", "Wed, 15 Nov 2023 10:00:00 +0000", "Third body.");
    int ok = inbox && cal && mts_item(&e, inbox, a, OUTPOST_FLAG_SEEN, 1699869600000LL) &&
             mts_item(&e, inbox, b, 0, 1699956000000LL) && mts_item(&e, inbox, c, OUTPOST_FLAG_SEEN, 1700042400000LL) &&
             mts_item(&e, cal,
                      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:ev1\r\nDTSTART:20231115T090000Z\r\n"
                      "DTEND:20231115T100000Z\r\nSUMMARY:Standup\r\nLOCATION:Room A\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
                      0, 0);
    free(a);
    free(b);
    free(c);
    mts_close(&e);
    if (!ok) {
        fprintf(stderr, "mapi_seed: seeding %s failed\n", argv[1]);
        return 1;
    }
    printf("mapi_seed: cache in %s seeded\n", argv[1]);
    return 0;
}
