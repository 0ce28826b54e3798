/* tests/mapi/test_mapi_session.c — the front-end end to end over loopback:
 * hello and secret, store properties, hierarchy tables, the Inbox contents
 * table with Outlook's columns, sort and restrictions, reading a message and
 * its body stream, marking it read, saving a new message, reading and
 * editing an appointment, moves and deletes (each a journal entry), a
 * table notification when the cache changes underneath, and associated (FAI)
 * messages: created, read, modified, copied, moved, deleted, queried by
 * message class, counted on the folder, kept out of normal tables, counters
 * and journal. */
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

#include "mapi_fai.h"
#include "mapi_search.h"
#include "mapi_rtf.h"
#include "mapi_test_store.h"
#include "store.h"
#include "mapi_server.h"
#include "mapi_test_client.h"

static const uint8_t SECRET[32] = "0123456789abcdef0123456789abcde";
static const uint8_t GUID[16] = "OutpostTestStore";

static mts cache;
static mts *fs = &cache;
static mapi_names *names;
static mapi_core core;
static mapi_server *srv;
static int64_t f_inbox, f_trash, f_cal, f_contacts, f_tasks, f_notes, f_sent;
static int64_t m_unread, m_read1, ev1;

static char *mail(const char *subject, const char *date, const char *body)
{
    char *s = malloc(1024);
    snprintf(s, 1024,
             "From: Ann <ann@example.com>\r\nTo: Bob <bob@example.com>\r\nSubject: %s\r\nDate: %s\r\n"
             "Message-ID: <%s@x>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
             subject, date, subject, body);
    return s;
}

static int setup(void **state)
{
    (void)state;
    g_mime_init();
    char err[1024];
    if (mts_open(fs, NULL, OUTPOST_BUILD_PLUGIN_DIR, err, sizeof err) != 0) {
        fprintf(stderr, "opening the SQLite cache: %s\n", err);
        return -1;
    }
    f_inbox = mts_folder(fs, 0, "Inbox", OUTPOST_ITEM_MAIL, OUTPOST_USE_INBOX);
    f_sent = mts_folder(fs, 0, "Sent Items", OUTPOST_ITEM_MAIL, OUTPOST_USE_SENT);
    f_trash = mts_folder(fs, 0, "Deleted Items", OUTPOST_ITEM_MAIL, OUTPOST_USE_TRASH);
    f_cal = mts_folder(fs, 0, "Calendar", OUTPOST_ITEM_EVENT, 0);
    f_contacts = mts_folder(fs, 0, "Contacts", OUTPOST_ITEM_CONTACT, 0);
    f_tasks = mts_folder(fs, 0, "Tasks", OUTPOST_ITEM_TASK, 0);
    f_notes = mts_folder(fs, 0, "Notes", OUTPOST_ITEM_NOTE, 0);
    mts_folder(fs, f_inbox, "Projects", OUTPOST_ITEM_MAIL, 0);
    char *a = mail("First", "Mon, 13 Nov 2023 10:00:00 +0000", "Body of the first message.");
    char *b = mail("Second", "Tue, 14 Nov 2023 10:00:00 +0000", "Second body, unread.");
    char *c = mail("Third", "Wed, 15 Nov 2023 10:00:00 +0000", "Third body.");
    m_read1 = mts_item(fs, f_inbox, a, OUTPOST_FLAG_SEEN, 1699869600000LL);
    m_unread = mts_item(fs, f_inbox, b, 0, 1699956000000LL);
    mts_item(fs, f_inbox, c, OUTPOST_FLAG_SEEN, 1700042400000LL);
    free(a);
    free(b);
    free(c);
    ev1 = mts_item(fs, f_cal,
                        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:ev1\r\nDTSTART:20231115T090000Z\r\n"
                        "DTEND:20231115T100000Z\r\nSUMMARY:Standup\r\nLOCATION:Room A\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
                        0, 0);
    names = mapi_names_open(NULL, err, sizeof err);
    if (!names || mapi_core_init(&core, fs->host, GUID, names, SECRET, "Test store", err, sizeof err) != 0)
        return -1;
    srv = mapi_server_start(&core, "127.0.0.1", 0, err, sizeof err);
    return srv ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    mapi_server_stop(srv);
    mapi_core_free(&core);
    mapi_names_close(names);
    mts_close(fs);
    g_mime_shutdown();
    return 0;
}

/* ---- request helpers ---- */

static tclient C;

static uint32_t call(uint16_t op, mapi_buf *req, mapi_buf *rep)
{
    uint32_t sc = 0xFFFFFFFFu;
    mapi_buf empty;
    mapi_buf_init(&empty);
    assert_int_equal(tc_call(&C, op, req ? req : &empty, &sc, rep), 0);
    if (req)
        req->len = 0;
    return sc;
}

static void hello(void)
{
    assert_int_equal(tc_connect(&C, mapi_server_port(srv)), 0);
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, MAPI_WIRE_MAGIC);
    mapi_w_u32(&q, MAPI_WIRE_VERSION);
    mapi_w_bin(&q, SECRET, 32);
    assert_int_equal(call(MAPI_OP_HELLO, &q, &r), OP_S_OK);
    assert_memory_equal(r.data + 4, GUID, 16);
    mapi_buf_free(&q);
    mapi_buf_free(&r);
}

static void eid_of(uint32_t kind, int64_t id, uint8_t out[MAPI_EID_LEN])
{
    mapi_eid e = { .kind = kind, .id = id };
    memcpy(e.guid, GUID, 16);
    mapi_eid_encode(&e, out);
}

static uint32_t open_entry(const uint8_t *eid, uint32_t len, uint32_t *objtype)
{
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, 0);
    mapi_w_bin(&q, eid, len);
    assert_int_equal(call(MAPI_OP_OPEN_ENTRY, &q, &r), OP_S_OK);
    mapi_rd rd;
    mapi_rd_init(&rd, r.data, r.len);
    uint32_t h = mapi_r_u32(&rd);
    if (objtype)
        *objtype = mapi_r_u32(&rd);
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return h;
}

static uint32_t get_props(uint32_t h, const uint32_t *tags, uint32_t n, mapi_props *out)
{
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, h);
    mapi_w_u32(&q, 0);
    mapi_w_tags(&q, tags, n);
    uint32_t sc = call(MAPI_OP_GET_PROPS, &q, &r);
    mapi_props_init(out);
    if (!OP_FAILED(sc)) {
        mapi_rd rd;
        mapi_rd_init(&rd, r.data, r.len);
        assert_int_equal(mapi_r_props(&rd, out), 0);
    }
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return sc;
}

static uint32_t open_table(uint32_t h, uint32_t kind, uint32_t flags)
{
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, h);
    mapi_w_u32(&q, kind);
    mapi_w_u32(&q, flags);
    assert_int_equal(call(MAPI_OP_OPEN_TABLE, &q, &r), OP_S_OK);
    uint32_t t = r.data[0] | (r.data[1] << 8);
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return t;
}

static void set_columns(uint32_t t, const uint32_t *tags, uint32_t n)
{
    mapi_buf q;
    mapi_buf_init(&q);
    mapi_w_u32(&q, t);
    mapi_w_tags(&q, tags, n);
    assert_int_equal(call(MAPI_OP_TBL_SET_COLUMNS, &q, NULL), OP_S_OK);
    mapi_buf_free(&q);
}

/* QueryRows into rows[] (up to max); returns the count. */
static uint32_t query_rows(uint32_t t, int32_t count, mapi_props *rows, uint32_t max)
{
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, t);
    mapi_w_u32(&q, (uint32_t)count);
    mapi_w_u32(&q, 0);
    assert_int_equal(call(MAPI_OP_TBL_QUERY_ROWS, &q, &r), OP_S_OK);
    mapi_rd rd;
    mapi_rd_init(&rd, r.data, r.len);
    uint32_t n = mapi_r_u32(&rd);
    assert_true(n <= max);
    for (uint32_t i = 0; i < n; i++) {
        mapi_props_init(&rows[i]);
        assert_int_equal(mapi_r_props(&rd, &rows[i]), 0);
    }
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return n;
}

static void free_rows(mapi_props *rows, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        mapi_props_free(&rows[i]);
}

static void release(uint32_t h)
{
    mapi_buf q;
    mapi_buf_init(&q);
    mapi_w_u32(&q, h);
    assert_int_equal(call(MAPI_OP_RELEASE, &q, NULL), OP_S_OK);
    mapi_buf_free(&q);
}

/* ---- tests ---- */

static void test_hello_refusals(void **state)
{
    (void)state;
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    /* wrong secret: refused and the connection closed */
    assert_int_equal(tc_connect(&C, mapi_server_port(srv)), 0);
    mapi_w_u32(&q, MAPI_WIRE_MAGIC);
    mapi_w_u32(&q, MAPI_WIRE_VERSION);
    uint8_t wrong[32];
    memcpy(wrong, SECRET, 32);
    wrong[31] ^= 1;
    mapi_w_bin(&q, wrong, 32);
    assert_int_equal(call(MAPI_OP_HELLO, &q, &r), OP_MAPI_E_LOGON_FAILED);
    uint32_t sc;
    assert_int_not_equal(tc_call(&C, MAPI_OP_PING, &q, &sc, NULL), 0);
    tc_close(&C);
    /* another protocol version */
    assert_int_equal(tc_connect(&C, mapi_server_port(srv)), 0);
    mapi_w_u32(&q, MAPI_WIRE_MAGIC);
    mapi_w_u32(&q, MAPI_WIRE_VERSION + 1);
    mapi_w_bin(&q, SECRET, 32);
    assert_int_equal(call(MAPI_OP_HELLO, &q, &r), OP_MAPI_E_VERSION);
    tc_close(&C);
    /* a request before the hello */
    assert_int_equal(tc_connect(&C, mapi_server_port(srv)), 0);
    assert_int_equal(call(MAPI_OP_PING, NULL, NULL), OP_MAPI_E_LOGON_FAILED);
    tc_close(&C);
    mapi_buf_free(&q);
    mapi_buf_free(&r);
}

static void test_store_and_hierarchy(void **state)
{
    (void)state;
    hello();
    uint8_t seid[MAPI_EID_LEN];
    eid_of(MAPI_EID_STORE, 0, seid);
    uint32_t type;
    uint32_t store = open_entry(seid, MAPI_EID_LEN, &type);
    assert_int_equal(type, OP_MAPI_STORE);
    uint32_t tags[] = { OP_PR_DISPLAY_NAME, OP_PR_STORE_SUPPORT_MASK, OP_PR_IPM_SUBTREE_ENTRYID,
                        OP_PR_VALID_FOLDER_MASK, OP_PR_IPM_WASTEBASKET_ENTRYID, OP_PR_IPM_OUTBOX_ENTRYID };
    mapi_props p;
    assert_int_equal(get_props(store, tags, 6, &p), OP_MAPI_W_ERRORS_RETURNED); /* no outbox */
    assert_string_equal(mapi_props_str(&p, OP_PR_DISPLAY_NAME), "Test store");
    uint32_t mask = (uint32_t)mapi_props_long(&p, OP_PR_STORE_SUPPORT_MASK, 0);
    assert_true(mask & OP_STORE_UNICODE_OK);
    assert_true(mask & OP_STORE_NOTIFY_OK);
    assert_true(mask & OP_STORE_RESTRICTION_OK);
    assert_true(mask & OP_STORE_SEARCH_OK); /* search folders */
    uint32_t valid = (uint32_t)mapi_props_long(&p, OP_PR_VALID_FOLDER_MASK, 0);
    assert_true(valid & OP_FOLDER_IPM_SUBTREE_VALID);
    assert_true(valid & OP_FOLDER_IPM_INBOX_VALID);
    assert_true(valid & OP_FOLDER_IPM_WASTEBASKET_VALID);
    assert_false(valid & OP_FOLDER_IPM_OUTBOX_VALID);
    uint8_t trash_eid[MAPI_EID_LEN];
    eid_of(MAPI_EID_FOLDER, f_trash, trash_eid);
    assert_memory_equal(mapi_props_bin(&p, OP_PR_IPM_WASTEBASKET_ENTRYID)->bin.data, trash_eid, MAPI_EID_LEN);
    uint8_t subtree[MAPI_EID_LEN];
    memcpy(subtree, mapi_props_bin(&p, OP_PR_IPM_SUBTREE_ENTRYID)->bin.data, MAPI_EID_LEN);
    mapi_props_free(&p);

    /* root (OpenEntry with no entry id): its hierarchy lists IPM_SUBTREE and the non-IPM folders */
    uint32_t root = open_entry(NULL, 0, &type);
    assert_int_equal(type, OP_MAPI_FOLDER);
    uint32_t t = open_table(root, MAPI_TABLE_HIERARCHY, 0);
    mapi_props rows[16];
    uint32_t n = query_rows(t, 16, rows, 16);
    assert_int_equal(n, 4);
    assert_string_equal(mapi_props_str(&rows[0], OP_PR_DISPLAY_NAME), "Top of Information Store");
    free_rows(rows, n);
    release(t);

    /* IPM_SUBTREE, CONVENIENT_DEPTH: the 8 folders with class, counts, depth,
     * and the core's local-only Conflicts folder */
    uint32_t top = open_entry(subtree, MAPI_EID_LEN, NULL);
    t = open_table(top, MAPI_TABLE_HIERARCHY, OP_CONVENIENT_DEPTH);
    n = query_rows(t, 16, rows, 16);
    assert_int_equal(n, 9);
    int seen = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *name = mapi_props_str(&rows[i], OP_PR_DISPLAY_NAME);
        const char *cls = mapi_props_str(&rows[i], OP_PR_CONTAINER_CLASS);
        if (!strcmp(name, "Inbox")) {
            assert_string_equal(cls, "IPF.Note");
            assert_int_equal(mapi_props_long(&rows[i], OP_PR_CONTENT_COUNT, 0), 3);
            assert_int_equal(mapi_props_long(&rows[i], OP_PR_CONTENT_UNREAD, 0), 1);
            assert_int_equal(mapi_props_long(&rows[i], OP_PR_SUBFOLDERS, 0), 1);
            seen |= 1;
        } else if (!strcmp(name, "Calendar")) {
            assert_string_equal(cls, "IPF.Appointment");
            seen |= 2;
        } else if (!strcmp(name, "Contacts")) {
            assert_string_equal(cls, "IPF.Contact");
            seen |= 4;
        } else if (!strcmp(name, "Tasks")) {
            assert_string_equal(cls, "IPF.Task");
            seen |= 8;
        } else if (!strcmp(name, "Notes")) {
            assert_string_equal(cls, "IPF.StickyNote");
            seen |= 16;
        } else if (!strcmp(name, "Projects")) {
            assert_int_equal(mapi_props_long(&rows[i], OP_PR_DEPTH, 0), 1);
            seen |= 32;
        } else if (!strcmp(name, "Conflicts")) {
            assert_string_equal(cls, "IPF.Note");
            seen |= 64;
        }
    }
    assert_int_equal(seen, 127);
    free_rows(rows, n);
    /* the Inbox has the special folder entry ids Outlook reads */
    uint8_t ieid[MAPI_EID_LEN];
    eid_of(MAPI_EID_FOLDER, f_inbox, ieid);
    uint32_t inbox = open_entry(ieid, MAPI_EID_LEN, NULL);
    uint32_t itags[] = { OP_PR_IPM_APPOINTMENT_ENTRYID, OP_PR_IPM_CONTACT_ENTRYID, OP_PR_IPM_TASK_ENTRYID,
                         OP_PR_IPM_NOTE_ENTRYID, 0x36D81102u };
    assert_int_equal(get_props(inbox, itags, 5, &p), OP_S_OK);
    uint8_t ceid[MAPI_EID_LEN];
    eid_of(MAPI_EID_FOLDER, f_cal, ceid);
    assert_memory_equal(mapi_props_bin(&p, OP_PR_IPM_APPOINTMENT_ENTRYID)->bin.data, ceid, MAPI_EID_LEN);
    /* PR_ADDITIONAL_REN_ENTRYIDS[0] is the core's Conflicts folder */
    eid_of(MAPI_EID_FOLDER, outpost_store_conflicts_folder(fs->store), ceid);
    const mapi_prop *ren = mapi_props_find(&p, 0x36D81102u);
    assert_non_null(ren);
    assert_true(ren->count == 5 && ren->mv[0].bin.len == MAPI_EID_LEN);
    assert_memory_equal(ren->mv[0].bin.data, ceid, MAPI_EID_LEN);
    mapi_props_free(&p);
    (void)f_contacts;
    (void)f_tasks;
    (void)f_notes;
    (void)f_sent;
    tc_close(&C);
}

static uint32_t open_inbox_contents(uint32_t *inbox_out)
{
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_str(&q, "IPM.Note");
    assert_int_equal(call(MAPI_OP_GET_RECEIVE_FOLDER, &q, &r), OP_S_OK);
    mapi_rd rd;
    mapi_rd_init(&rd, r.data, r.len);
    uint32_t len;
    const uint8_t *eid = mapi_r_bin(&rd, &len);
    uint32_t inbox = open_entry(eid, len, NULL);
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    *inbox_out = inbox;
    return open_table(inbox, MAPI_TABLE_CONTENTS, 0);
}

static void test_inbox_contents(void **state)
{
    (void)state;
    hello();
    uint32_t inbox;
    uint32_t t = open_inbox_contents(&inbox);
    /* the columns Outlook's mail view asks for */
    uint32_t cols[] = { OP_PR_ENTRYID, OP_PR_INSTANCE_KEY, OP_PR_SUBJECT, OP_PR_SENDER_NAME,
                        OP_PR_MESSAGE_DELIVERY_TIME, OP_PR_MESSAGE_FLAGS, OP_PR_MESSAGE_SIZE, OP_PR_MESSAGE_CLASS,
                        OP_PR_DISPLAY_TO, OP_PR_HASATTACH, OP_PR_ICON_INDEX };
    set_columns(t, cols, 11);
    mapi_buf q;
    mapi_buf_init(&q);
    mapi_sort_key k = { OP_PR_MESSAGE_DELIVERY_TIME, OP_TABLE_SORT_DESCEND };
    mapi_sort s = { 1, 0, 0, &k };
    mapi_w_u32(&q, t);
    mapi_w_sort(&q, &s);
    assert_int_equal(call(MAPI_OP_TBL_SORT, &q, NULL), OP_S_OK);
    mapi_props rows[8];
    uint32_t n = query_rows(t, 8, rows, 8);
    assert_int_equal(n, 3);
    assert_string_equal(mapi_props_str(&rows[0], OP_PR_SUBJECT), "Third");
    assert_string_equal(mapi_props_str(&rows[2], OP_PR_SUBJECT), "First");
    assert_string_equal(mapi_props_str(&rows[0], OP_PR_SENDER_NAME), "Ann");
    assert_int_equal(OP_PROP_TYPE(rows[0].p[10].tag), OP_PT_ERROR); /* no icon index */
    free_rows(rows, n);
    /* unread only */
    mapi_res r = { .rt = OP_RES_BITMASK };
    r.u.bitmask.relop = OP_BMR_EQZ;
    r.u.bitmask.tag = OP_PR_MESSAGE_FLAGS;
    r.u.bitmask.mask = OP_MSGFLAG_READ;
    mapi_w_u32(&q, t);
    mapi_w_u8(&q, 1);
    mapi_w_res(&q, &r);
    assert_int_equal(call(MAPI_OP_TBL_RESTRICT, &q, NULL), OP_S_OK);
    n = query_rows(t, 8, rows, 8);
    assert_int_equal(n, 1);
    assert_string_equal(mapi_props_str(&rows[0], OP_PR_SUBJECT), "Second");
    uint8_t eid[MAPI_EID_LEN];
    memcpy(eid, mapi_props_bin(&rows[0], OP_PR_ENTRYID)->bin.data, MAPI_EID_LEN);
    free_rows(rows, n);

    /* open it, read the body through the stream op in small chunks */
    uint32_t type;
    uint32_t m = open_entry(eid, MAPI_EID_LEN, &type);
    assert_int_equal(type, OP_MAPI_MESSAGE);
    mapi_buf body, rep;
    mapi_buf_init(&body);
    mapi_buf_init(&rep);
    for (uint64_t off = 0;;) {
        mapi_w_u32(&q, m);
        mapi_w_u32(&q, OP_PR_BODY);
        mapi_w_u64(&q, off);
        mapi_w_u32(&q, 7);
        rep.len = 0;
        assert_int_equal(call(MAPI_OP_READ_PROP, &q, &rep), OP_S_OK);
        mapi_rd rd;
        mapi_rd_init(&rd, rep.data, rep.len);
        uint64_t total = mapi_r_u64(&rd);
        uint32_t len;
        const uint8_t *p = mapi_r_bin(&rd, &len);
        mapi_buf_add(&body, p, len);
        off += len;
        if (off >= total || len == 0)
            break;
    }
    mapi_buf_addc(&body, 0);
    assert_string_equal((char *)body.data, "Second body, unread.\r\n");
    /* the RTF body is there too, and PR_BODY is readable through GetProps */
    uint32_t ptags[] = { OP_PR_RTF_COMPRESSED, OP_PR_BODY, OP_PR_SUBJECT, OP_PR_MESSAGE_FLAGS };
    mapi_props p;
    assert_int_equal(get_props(m, ptags, 4, &p), OP_S_OK);
    assert_true(mapi_props_bin(&p, OP_PR_RTF_COMPRESSED)->bin.len > 16);
    assert_false(mapi_props_long(&p, OP_PR_MESSAGE_FLAGS, 0) & OP_MSGFLAG_READ);
    mapi_props_free(&p);

    /* mark it read: a journaled flag change */
    uint32_t before = mts_journal_count(fs, OUTPOST_J_ITEM_FLAGS);
    mapi_w_u32(&q, m);
    mapi_w_u32(&q, 0);
    assert_int_equal(call(MAPI_OP_SET_READ_FLAG, &q, NULL), OP_S_OK);
    assert_int_equal(mts_journal_count(fs, OUTPOST_J_ITEM_FLAGS), before + 1);
    uint32_t fl;
    assert_int_equal(mts_item_state(fs, m_unread, &fl, NULL), 0);
    assert_true(fl & OUTPOST_FLAG_SEEN);
    /* the restricted table follows after a poll: the row is gone */
    n = 0;
    for (int i = 0; i < 40; i++) {
        mapi_w_u32(&q, t);
        rep.len = 0;
        assert_int_equal(call(MAPI_OP_TBL_GET_ROW_COUNT, &q, &rep), OP_S_OK);
        n = rep.data[0];
        if (n == 0)
            break;
        usleep(50000);
    }
    assert_int_equal(n, 0);
    /* SetReadFlags on the folder with CLEAR_READ_FLAG for that message */
    mapi_w_u32(&q, inbox);
    mapi_w_u32(&q, 1);
    mapi_w_bin(&q, eid, MAPI_EID_LEN);
    mapi_w_u32(&q, OP_MSGFLAG_CLEAR_READ_FLAG);
    assert_int_equal(call(MAPI_OP_SET_READ_FLAGS, &q, NULL), OP_S_OK);
    assert_int_equal(mts_item_state(fs, m_unread, &fl, NULL), 0);
    assert_false(fl & OUTPOST_FLAG_SEEN);
    mapi_buf_free(&body);
    mapi_buf_free(&rep);
    mapi_buf_free(&q);
    tc_close(&C);
}

static void test_new_message_and_moves(void **state)
{
    (void)state;
    hello();
    uint8_t eid[MAPI_EID_LEN];
    eid_of(MAPI_EID_FOLDER, f_inbox, eid);
    uint32_t inbox = open_entry(eid, MAPI_EID_LEN, NULL);
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, inbox);
    mapi_w_u32(&q, 0);
    assert_int_equal(call(MAPI_OP_CREATE_MESSAGE, &q, &r), OP_S_OK);
    uint32_t m = r.data[0] | (r.data[1] << 8);
    mapi_props p;
    mapi_props_init(&p);
    mapi_props_set_str(&p, OP_PR_SUBJECT, "Saved from Outlook");
    mapi_props_set_str(&p, OP_PR_BODY, "Hello from the provider");
    mapi_props_set_long(&p, OP_PR_MESSAGE_FLAGS, (int32_t)OP_MSGFLAG_READ);
    mapi_w_u32(&q, m);
    mapi_w_props(&q, &p);
    r.len = 0;
    assert_int_equal(call(MAPI_OP_SET_PROPS, &q, &r), OP_S_OK);
    assert_int_equal(r.data[0], 0); /* no problems */
    mapi_props_free(&p);
    mapi_props rcpt;
    mapi_props_init(&rcpt);
    mapi_props_set_str(&rcpt, OP_PR_DISPLAY_NAME, "Carol");
    mapi_props_set_str(&rcpt, OP_PR_EMAIL_ADDRESS, "carol@example.com");
    mapi_props_set_long(&rcpt, OP_PR_RECIPIENT_TYPE, OP_MAPI_TO);
    mapi_w_u32(&q, m);
    mapi_w_u32(&q, 0);
    mapi_w_u32(&q, 1);
    mapi_w_props(&q, &rcpt);
    assert_int_equal(call(MAPI_OP_MODIFY_RECIPIENTS, &q, NULL), OP_S_OK);
    mapi_props_free(&rcpt);
    uint32_t creates = mts_journal_count(fs, OUTPOST_J_ITEM_CREATE);
    mapi_w_u32(&q, m);
    mapi_w_u32(&q, OP_KEEP_OPEN_READWRITE);
    r.len = 0;
    assert_int_equal(call(MAPI_OP_SAVE_CHANGES, &q, &r), OP_S_OK);
    assert_int_equal(mts_journal_count(fs, OUTPOST_J_ITEM_CREATE), creates + 1);
    mapi_eid e;
    assert_int_equal(mapi_eid_decode(r.data + 4, MAPI_EID_LEN, &e), 0);
    char *content = mts_item_content(fs, e.id);
    assert_non_null(content);
    assert_non_null(strstr(content, "Subject: Saved from Outlook"));
    assert_non_null(strstr(content, "To: Carol <carol@example.com>"));
    assert_non_null(strstr(content, "Hello from the provider"));
    free(content);
    uint32_t fl;
    assert_int_equal(mts_item_state(fs, e.id, &fl, NULL), 0);
    assert_true(fl & OUTPOST_FLAG_SEEN);

    /* move it to Deleted Items, then delete it there */
    uint8_t meid[MAPI_EID_LEN], teid[MAPI_EID_LEN];
    eid_of(MAPI_EID_MESSAGE, e.id, meid);
    eid_of(MAPI_EID_FOLDER, f_trash, teid);
    mapi_w_u32(&q, inbox);
    mapi_w_u32(&q, 1);
    mapi_w_bin(&q, meid, MAPI_EID_LEN);
    mapi_w_bin(&q, teid, MAPI_EID_LEN);
    mapi_w_u32(&q, OP_MAPI_MOVE);
    assert_int_equal(call(MAPI_OP_COPY_MESSAGES, &q, NULL), OP_S_OK);
    int64_t folder;
    assert_int_equal(mts_item_state(fs, e.id, NULL, &folder), 0);
    assert_int_equal(folder, f_trash);
    assert_int_equal(mts_journal_last_op(fs), OUTPOST_J_ITEM_MOVE);
    uint32_t trash = open_entry(teid, MAPI_EID_LEN, NULL);
    mapi_w_u32(&q, trash);
    mapi_w_u32(&q, 1);
    mapi_w_bin(&q, meid, MAPI_EID_LEN);
    mapi_w_u32(&q, 0);
    assert_int_equal(call(MAPI_OP_DELETE_MESSAGES, &q, NULL), OP_S_OK);
    assert_int_equal(mts_item_state(fs, e.id, NULL, NULL), -1);
    assert_int_equal(mts_journal_last_op(fs), OUTPOST_J_ITEM_DELETE);
    /* an entry id of another store is refused */
    uint8_t foreign[MAPI_EID_LEN];
    memcpy(foreign, meid, MAPI_EID_LEN);
    foreign[5] ^= 0xFF;
    mapi_w_u32(&q, 0);
    mapi_w_bin(&q, foreign, MAPI_EID_LEN);
    assert_int_equal(call(MAPI_OP_OPEN_ENTRY, &q, NULL), OP_MAPI_E_INVALID_ENTRYID);
    /* a folder is created through the journal */
    mapi_w_u32(&q, inbox);
    mapi_w_u32(&q, 0);
    mapi_w_u32(&q, OP_FOLDER_GENERIC);
    mapi_w_str(&q, "Receipts");
    mapi_w_str(&q, NULL);
    assert_int_equal(call(MAPI_OP_CREATE_FOLDER, &q, NULL), OP_S_OK);
    assert_int_equal(mts_journal_last_op(fs), OUTPOST_J_FOLDER_CREATE);
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    tc_close(&C);
}

static void test_calendar(void **state)
{
    (void)state;
    hello();
    /* named property ids as Outlook asks for them */
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, OP_MAPI_CREATE);
    mapi_w_u32(&q, 2);
    mapi_name n1 = { .kind = MAPI_MNID_ID, .lid = 0x820D };
    memcpy(n1.guid, MAPI_PSETID_APPOINTMENT, 16);
    mapi_name n2 = { .kind = MAPI_MNID_ID, .lid = 0x8208 };
    memcpy(n2.guid, MAPI_PSETID_APPOINTMENT, 16);
    mapi_w_name(&q, &n1);
    mapi_w_name(&q, &n2);
    assert_int_equal(call(MAPI_OP_GET_IDS_FROM_NAMES, &q, &r), OP_S_OK);
    mapi_rd rd;
    mapi_rd_init(&rd, r.data, r.len);
    assert_int_equal(mapi_r_u32(&rd), 2);
    uint32_t start_tag = OP_CHANGE_PROP_TYPE(mapi_r_u32(&rd), OP_PT_SYSTIME);
    uint32_t loc_tag = OP_CHANGE_PROP_TYPE(mapi_r_u32(&rd), OP_PT_UNICODE);
    assert_true(OP_PROP_ID(start_tag) >= 0x8000);
    /* the names come back from the ids */
    r.len = 0;
    mapi_w_u32(&q, 0);
    mapi_w_tags(&q, &start_tag, 1);
    assert_int_equal(call(MAPI_OP_GET_NAMES_FROM_IDS, &q, &r), OP_S_OK);
    mapi_rd_init(&rd, r.data, r.len);
    assert_int_equal(mapi_r_u32(&rd), 1);
    mapi_r_u32(&rd);
    assert_int_equal(mapi_r_u8(&rd), 1);
    mapi_name back;
    assert_int_equal(mapi_r_name(&rd, &back), 0);
    assert_int_equal(back.lid, 0x820D);
    mapi_name_clear(&back);

    uint8_t ceid[MAPI_EID_LEN];
    eid_of(MAPI_EID_FOLDER, f_cal, ceid);
    uint32_t cal = open_entry(ceid, MAPI_EID_LEN, NULL);
    uint32_t t = open_table(cal, MAPI_TABLE_CONTENTS, 0);
    uint32_t cols[] = { OP_PR_ENTRYID, OP_PR_SUBJECT, OP_PR_MESSAGE_CLASS, start_tag, loc_tag };
    set_columns(t, cols, 5);
    mapi_props rows[4];
    uint32_t n = query_rows(t, 4, rows, 4);
    assert_int_equal(n, 1);
    assert_string_equal(mapi_props_str(&rows[0], OP_PR_MESSAGE_CLASS), "IPM.Appointment");
    assert_string_equal(mapi_props_str(&rows[0], OP_PR_SUBJECT), "Standup");
    assert_int_equal(mapi_filetime_to_ms(mapi_props_i8(&rows[0], start_tag, 0)), 1700038800000LL);
    assert_string_equal(mapi_props_str(&rows[0], loc_tag), "Room A");
    uint8_t eeid[MAPI_EID_LEN];
    memcpy(eeid, mapi_props_bin(&rows[0], OP_PR_ENTRYID)->bin.data, MAPI_EID_LEN);
    free_rows(rows, n);
    /* edit the location and save: one journaled content update */
    uint32_t m = open_entry(eeid, MAPI_EID_LEN, NULL);
    mapi_props p;
    mapi_props_init(&p);
    mapi_props_set_str(&p, loc_tag, "Room B");
    mapi_w_u32(&q, m);
    mapi_w_props(&q, &p);
    assert_int_equal(call(MAPI_OP_SET_PROPS, &q, NULL), OP_S_OK);
    mapi_props_free(&p);
    uint32_t updates = mts_journal_count(fs, OUTPOST_J_ITEM_UPDATE);
    mapi_w_u32(&q, m);
    mapi_w_u32(&q, 0);
    assert_int_equal(call(MAPI_OP_SAVE_CHANGES, &q, NULL), OP_S_OK);
    assert_int_equal(mts_journal_count(fs, OUTPOST_J_ITEM_UPDATE), updates + 1);
    char *content = mts_item_content(fs, ev1);
    assert_non_null(strstr(content, "LOCATION:Room B"));
    assert_non_null(strstr(content, "UID:ev1"));
    assert_non_null(strstr(content, "DTSTART:20231115T090000Z"));
    free(content);
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    tc_close(&C);
}

static void test_notifications(void **state)
{
    (void)state;
    hello();
    uint32_t inbox;
    uint32_t t = open_inbox_contents(&inbox);
    uint32_t cols[] = { OP_PR_INSTANCE_KEY, OP_PR_SUBJECT };
    set_columns(t, cols, 2);
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, t);
    assert_int_equal(call(MAPI_OP_TBL_ADVISE, &q, &r), OP_S_OK);
    uint32_t conn = r.data[0];
    char *msg = mail("Pushed", "Thu, 16 Nov 2023 10:00:00 +0000", "new");
    int64_t id = mts_item(fs, f_inbox, msg, 0, 0);
    free(msg);
    r.len = 0;
    assert_int_equal(tc_wait_notify(&C, 2000, &r), 0);
    mapi_rd rd;
    mapi_rd_init(&rd, r.data, r.len);
    assert_int_equal(mapi_r_u32(&rd), conn);
    assert_int_equal(mapi_r_u32(&rd), MAPI_NOTIFY_TABLE);
    assert_int_equal(mapi_r_u32(&rd), OP_TABLE_ROW_ADDED);
    uint32_t kl;
    const uint8_t *key = mapi_r_bin(&rd, &kl);
    assert_int_equal(kl, 8);
    assert_int_equal(key[0], (uint8_t)id);
    mapi_r_bin(&rd, &kl);
    mapi_props row;
    mapi_props_init(&row);
    assert_int_equal(mapi_r_props(&rd, &row), 0);
    assert_string_equal(mapi_props_str(&row, OP_PR_SUBJECT), "Pushed");
    mapi_props_free(&row);
    /* Unadvise: no more notifications */
    mapi_w_u32(&q, conn);
    assert_int_equal(call(MAPI_OP_UNADVISE, &q, NULL), OP_S_OK);
    uint32_t one = (uint32_t)id;
    (void)one;
    int64_t ids[1] = { id };
    fs->api->remove(fs->host, ids, 1, 1, NULL);
    r.len = 0;
    assert_int_not_equal(tc_wait_notify(&C, 300, &r), 0);
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    tc_close(&C);
}

/* ---- associated (FAI) contents ---- */

#define PR_ROAMING_XMLSTREAM 0x7C080102u

static uint32_t open_entry_sc(const uint8_t *eid, uint32_t *h)
{
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, 0);
    mapi_w_bin(&q, eid, MAPI_EID_LEN);
    uint32_t sc = call(MAPI_OP_OPEN_ENTRY, &q, &r);
    if (!OP_FAILED(sc) && h)
        *h = r.data[0] | (r.data[1] << 8);
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return sc;
}

/* CreateMessage(MAPI_ASSOCIATED) in folder h, props set, saved: its entry id. */
static void fai_new(uint32_t folder, const char *cls, const char *subject, const uint8_t *blob, uint32_t blob_len,
                    uint8_t eid[MAPI_EID_LEN])
{
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, folder);
    mapi_w_u32(&q, OP_MAPI_ASSOCIATED);
    assert_int_equal(call(MAPI_OP_CREATE_MESSAGE, &q, &r), OP_S_OK);
    uint32_t m = r.data[0] | (r.data[1] << 8);
    mapi_props p;
    mapi_props_init(&p);
    mapi_props_set_str(&p, OP_PR_MESSAGE_CLASS, cls);
    mapi_props_set_str(&p, OP_PR_SUBJECT, subject);
    mapi_w_u32(&q, m);
    mapi_w_props(&q, &p);
    r.len = 0;
    assert_int_equal(call(MAPI_OP_SET_PROPS, &q, &r), OP_S_OK);
    assert_int_equal(r.data[0], 0);
    mapi_props_free(&p);
    if (blob) {
        /* a large stream property, written in two chunks as IStream::Write does */
        uint32_t half = blob_len / 2;
        mapi_w_u32(&q, m);
        mapi_w_u32(&q, PR_ROAMING_XMLSTREAM);
        mapi_w_u64(&q, 0);
        mapi_w_bin(&q, blob, half);
        assert_int_equal(call(MAPI_OP_WRITE_PROP, &q, NULL), OP_S_OK);
        mapi_w_u32(&q, m);
        mapi_w_u32(&q, PR_ROAMING_XMLSTREAM);
        mapi_w_u64(&q, half);
        mapi_w_bin(&q, blob + half, blob_len - half);
        assert_int_equal(call(MAPI_OP_WRITE_PROP, &q, NULL), OP_S_OK);
    }
    mapi_w_u32(&q, m);
    mapi_w_u32(&q, 0);
    r.len = 0;
    assert_int_equal(call(MAPI_OP_SAVE_CHANGES, &q, &r), OP_S_OK);
    mapi_eid e;
    assert_int_equal(mapi_eid_decode(r.data + 4, MAPI_EID_LEN, &e), 0);
    assert_int_equal(e.kind, MAPI_EID_ASSOC);
    memcpy(eid, r.data + 4, MAPI_EID_LEN);
    release(m);
    mapi_buf_free(&q);
    mapi_buf_free(&r);
}

static int32_t folder_long(uint32_t folder, uint32_t tag)
{
    mapi_props p;
    get_props(folder, &tag, 1, &p);
    int32_t v = mapi_props_long(&p, tag, -1);
    mapi_props_free(&p);
    return v;
}

/* The folder as the storage counts it: total, unread and items listed. */
static void store_counts(int64_t folder, uint32_t *total, uint32_t *unread, uint32_t *listed)
{
    struct outpost_txn *t;
    assert_int_equal(fs->api->read_begin(fs->host, &t).code, OUTPOST_OK);
    const outpost_folder *f;
    assert_int_equal(fs->m->folder_get(t, folder, &f).code, OUTPOST_OK);
    *total = f->total;
    *unread = f->unread;
    struct outpost_cursor *c;
    assert_int_equal(fs->m->items_by_uid(t, folder, 1, 0, &c).code, OUTPOST_OK);
    const void *row;
    *listed = 0;
    while (fs->m->cursor_next(c, &row).code == OUTPOST_OK && row)
        (*listed)++;
    fs->m->cursor_close(c);
    fs->api->read_end(fs->host, t);
}

static int meta_present(const char *key)
{
    struct outpost_txn *t;
    assert_int_equal(fs->api->read_begin(fs->host, &t).code, OUTPOST_OK);
    const void *v = NULL;
    size_t len = 0;
    int present = fs->m->meta_get(t, key, &v, &len).code == OUTPOST_OK && v;
    fs->api->read_end(fs->host, t);
    return present;
}

static void restrict_class(uint32_t t, const char *cls)
{
    mapi_buf q;
    mapi_buf_init(&q);
    mapi_res res = { .rt = OP_RES_PROPERTY };
    res.u.property.relop = OP_RELOP_EQ;
    res.u.property.tag = OP_PR_MESSAGE_CLASS;
    mapi_props tmp;
    mapi_props_init(&tmp);
    mapi_props_set_str(&tmp, OP_PR_MESSAGE_CLASS, cls);
    res.u.property.prop = tmp.p[0];
    mapi_w_u32(&q, t);
    mapi_w_u8(&q, 1);
    mapi_w_res(&q, &res);
    assert_int_equal(call(MAPI_OP_TBL_RESTRICT, &q, NULL), OP_S_OK);
    mapi_props_free(&tmp);
    mapi_buf_free(&q);
}

static void test_associated_contents(void **state)
{
    (void)state;
    hello();
    uint8_t ceid[MAPI_EID_LEN];
    eid_of(MAPI_EID_FOLDER, f_cal, ceid);
    uint32_t cal = open_entry(ceid, MAPI_EID_LEN, NULL);
    uint32_t total0, unread0, listed0;
    store_counts(f_cal, &total0, &unread0, &listed0);
    uint32_t journal0 = mts_journal_count(fs, 0);
    assert_int_equal(folder_long(cal, OP_PR_ASSOC_CONTENT_COUNT), 0);

    /* an associated table we watch while Outlook saves its settings */
    uint32_t at = open_table(cal, MAPI_TABLE_CONTENTS, OP_MAPI_ASSOCIATED);
    uint32_t cols[] = { OP_PR_ENTRYID, OP_PR_INSTANCE_KEY, OP_PR_MESSAGE_CLASS, OP_PR_SUBJECT,
                        OP_PR_MESSAGE_FLAGS, OP_PR_ASSOCIATED };
    set_columns(at, cols, 6);
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, at);
    assert_int_equal(call(MAPI_OP_TBL_ADVISE, &q, &r), OP_S_OK);
    uint32_t conn = r.data[0];
    /* ... and the Calendar itself (its PR_ASSOC_CONTENT_COUNT changes) */
    mapi_w_bin(&q, ceid, MAPI_EID_LEN);
    mapi_w_u32(&q, OP_fnevObjectModified);
    r.len = 0;
    assert_int_equal(call(MAPI_OP_ADVISE, &q, &r), OP_S_OK);
    uint32_t fconn = r.data[0];

    /* the category list (with a 40 KiB XML stream) and a view definition */
    uint32_t blob_len = 40000;
    uint8_t *blob = malloc(blob_len);
    for (uint32_t i = 0; i < blob_len; i++)
        blob[i] = (uint8_t)("<categories/>"[i % 13] ^ (i >> 9));
    uint8_t cat[MAPI_EID_LEN], view[MAPI_EID_LEN];
    fai_new(cal, "IPM.Configuration.CategoryList", "Categories", blob, blob_len, cat);
    r.len = 0;
    assert_int_equal(tc_wait_notify(&C, 2000, &r), 0);
    mapi_rd rd;
    mapi_rd_init(&rd, r.data, r.len);
    assert_int_equal(mapi_r_u32(&rd), conn);
    assert_int_equal(mapi_r_u32(&rd), MAPI_NOTIFY_TABLE);
    assert_int_equal(mapi_r_u32(&rd), OP_TABLE_ROW_ADDED);
    r.len = 0;
    assert_int_equal(tc_wait_notify(&C, 2000, &r), 0);
    mapi_rd_init(&rd, r.data, r.len);
    assert_int_equal(mapi_r_u32(&rd), fconn);
    assert_int_equal(mapi_r_u32(&rd), MAPI_NOTIFY_OBJECT);
    assert_int_equal(mapi_r_u32(&rd), OP_fnevObjectModified);
    uint32_t el;
    const uint8_t *ne = mapi_r_bin(&rd, &el);
    assert_int_equal(el, MAPI_EID_LEN);
    assert_memory_equal(ne, ceid, MAPI_EID_LEN);
    mapi_w_u32(&q, fconn);
    assert_int_equal(call(MAPI_OP_UNADVISE, &q, NULL), OP_S_OK);
    fai_new(cal, "IPM.Microsoft.FolderDesign.NamedView", "Day view", NULL, 0, view);
    assert_int_equal(folder_long(cal, OP_PR_ASSOC_CONTENT_COUNT), 2);

    /* the associated table, restricted on the message class as Outlook does */
    uint32_t t = open_table(cal, MAPI_TABLE_CONTENTS, OP_MAPI_ASSOCIATED);
    set_columns(t, cols, 6);
    mapi_props rows[4];
    uint32_t n = query_rows(t, 4, rows, 4);
    assert_int_equal(n, 2);
    free_rows(rows, n);
    mapi_sort_key k = { OP_PR_SUBJECT, OP_TABLE_SORT_DESCEND };
    mapi_sort so = { 1, 0, 0, &k };
    mapi_w_u32(&q, t);
    mapi_w_sort(&q, &so);
    assert_int_equal(call(MAPI_OP_TBL_SORT, &q, NULL), OP_S_OK);
    n = query_rows(t, 4, rows, 4);
    assert_int_equal(n, 2);
    assert_string_equal(mapi_props_str(&rows[0], OP_PR_SUBJECT), "Day view");
    assert_string_equal(mapi_props_str(&rows[1], OP_PR_SUBJECT), "Categories");
    free_rows(rows, n);
    restrict_class(t, "IPM.Configuration.CategoryList");
    n = query_rows(t, 4, rows, 4);
    assert_int_equal(n, 1);
    assert_string_equal(mapi_props_str(&rows[0], OP_PR_SUBJECT), "Categories");
    assert_true(mapi_props_long(&rows[0], OP_PR_MESSAGE_FLAGS, 0) & OP_MSGFLAG_ASSOCIATED);
    assert_int_equal(mapi_props_long(&rows[0], OP_PR_ASSOCIATED, 0), 1);
    assert_memory_equal(mapi_props_bin(&rows[0], OP_PR_ENTRYID)->bin.data, cat, MAPI_EID_LEN);
    free_rows(rows, n);

    /* not in the normal contents table, the folder's counters, the storage or the journal */
    uint32_t ct = open_table(cal, MAPI_TABLE_CONTENTS, 0);
    set_columns(ct, cols, 6);
    n = query_rows(ct, 4, rows, 4);
    assert_int_equal(n, 1);
    assert_string_equal(mapi_props_str(&rows[0], OP_PR_SUBJECT), "Standup");
    free_rows(rows, n);
    assert_int_equal(folder_long(cal, OP_PR_CONTENT_COUNT), 1);
    uint32_t total, unread, listed;
    store_counts(f_cal, &total, &unread, &listed);
    assert_int_equal(total, total0);
    assert_int_equal(unread, unread0);
    assert_int_equal(listed, listed0);
    assert_int_equal(mts_journal_count(fs, 0), journal0);

    /* OpenEntry reads it back, the large stream by range */
    uint32_t m, type;
    assert_int_equal(open_entry_sc(cat, &m), OP_S_OK);
    uint32_t want[] = { OP_PR_SUBJECT, OP_PR_MESSAGE_CLASS, PR_ROAMING_XMLSTREAM };
    mapi_props p;
    assert_int_equal(get_props(m, want, 3, &p), OP_MAPI_W_ERRORS_RETURNED); /* the stream is too big for GetProps */
    assert_string_equal(mapi_props_str(&p, OP_PR_SUBJECT), "Categories");
    mapi_props_free(&p);
    mapi_buf all;
    mapi_buf_init(&all);
    for (uint64_t off = 0;;) {
        mapi_w_u32(&q, m);
        mapi_w_u32(&q, PR_ROAMING_XMLSTREAM);
        mapi_w_u64(&q, off);
        mapi_w_u32(&q, 16384);
        r.len = 0;
        assert_int_equal(call(MAPI_OP_READ_PROP, &q, &r), OP_S_OK);
        mapi_rd_init(&rd, r.data, r.len);
        assert_int_equal(mapi_r_u64(&rd), blob_len);
        uint32_t got;
        const uint8_t *d = mapi_r_bin(&rd, &got);
        if (got == 0)
            break;
        mapi_buf_add(&all, d, got);
        off += got;
    }
    assert_int_equal(all.len, blob_len);
    assert_memory_equal(all.data, blob, blob_len);
    mapi_buf_free(&all);
    release(m);

    /* modified: same entry id, new subject, still two */
    m = open_entry(view, MAPI_EID_LEN, &type);
    assert_int_equal(type, OP_MAPI_MESSAGE);
    mapi_props_init(&p);
    mapi_props_set_str(&p, OP_PR_SUBJECT, "Week view");
    mapi_w_u32(&q, m);
    mapi_w_props(&q, &p);
    assert_int_equal(call(MAPI_OP_SET_PROPS, &q, NULL), OP_S_OK);
    mapi_props_free(&p);
    mapi_w_u32(&q, m);
    mapi_w_u32(&q, 0);
    r.len = 0;
    assert_int_equal(call(MAPI_OP_SAVE_CHANGES, &q, &r), OP_S_OK);
    assert_memory_equal(r.data + 4, view, MAPI_EID_LEN);
    release(m);
    m = open_entry(view, MAPI_EID_LEN, NULL);
    get_props(m, want, 2, &p);
    assert_string_equal(mapi_props_str(&p, OP_PR_SUBJECT), "Week view");
    assert_string_equal(mapi_props_str(&p, OP_PR_MESSAGE_CLASS), "IPM.Microsoft.FolderDesign.NamedView");
    mapi_props_free(&p);
    release(m);
    assert_int_equal(folder_long(cal, OP_PR_ASSOC_CONTENT_COUNT), 2);

    /* deleted through the folder: gone from the table and OpenEntry */
    mapi_w_u32(&q, cal);
    mapi_w_u32(&q, 1);
    mapi_w_bin(&q, view, MAPI_EID_LEN);
    mapi_w_u32(&q, 0);
    assert_int_equal(call(MAPI_OP_DELETE_MESSAGES, &q, NULL), OP_S_OK);
    assert_int_equal(open_entry_sc(view, NULL), OP_MAPI_E_NOT_FOUND);
    assert_int_equal(folder_long(cal, OP_PR_ASSOC_CONTENT_COUNT), 1);
    /* ... and deleting it again from another folder finds nothing there */
    uint8_t ieid[MAPI_EID_LEN];
    eid_of(MAPI_EID_FOLDER, f_inbox, ieid);
    uint32_t inbox = open_entry(ieid, MAPI_EID_LEN, NULL);
    mapi_w_u32(&q, inbox);
    mapi_w_u32(&q, 1);
    mapi_w_bin(&q, cat, MAPI_EID_LEN);
    mapi_w_u32(&q, 0);
    assert_int_equal(call(MAPI_OP_DELETE_MESSAGES, &q, NULL), 0x00040680u /* MAPI_W_PARTIAL_COMPLETION */);
    assert_int_equal(open_entry_sc(cat, NULL), OP_S_OK);
    assert_int_equal(mts_journal_count(fs, 0), journal0);

    /* the views folder of the root has FAI too (navigation shortcuts) */
    uint8_t veid[MAPI_EID_LEN], link[MAPI_EID_LEN];
    eid_of(MAPI_EID_VIRTUAL, MAPI_VF_COMMON_VIEWS, veid);
    uint32_t cv = open_entry(veid, MAPI_EID_LEN, NULL);
    fai_new(cv, "IPM.Microsoft.WunderBar.Link", "Calendar", NULL, 0, link);
    uint32_t vt = open_table(cv, MAPI_TABLE_CONTENTS, OP_MAPI_ASSOCIATED);
    set_columns(vt, cols, 6);
    n = query_rows(vt, 4, rows, 4);
    assert_int_equal(n, 1);
    assert_string_equal(mapi_props_str(&rows[0], OP_PR_MESSAGE_CLASS), "IPM.Microsoft.WunderBar.Link");
    free_rows(rows, n);
    assert_int_equal(folder_long(cv, OP_PR_ASSOC_CONTENT_COUNT), 1);
    /* EmptyFolder(DEL_ASSOCIATED) clears them */
    mapi_w_u32(&q, cv);
    mapi_w_u32(&q, OP_DEL_ASSOCIATED);
    assert_int_equal(call(MAPI_OP_EMPTY_FOLDER, &q, NULL), OP_S_OK);
    assert_int_equal(folder_long(cv, OP_PR_ASSOC_CONTENT_COUNT), 0);
    assert_false(meta_present("mapi.fai.v5"));
    /* copied, then moved from the Calendar to Common Views: new entry ids there */
    for (int move = 0; move <= 1; move++) {
        mapi_w_u32(&q, cal);
        mapi_w_u32(&q, 1);
        mapi_w_bin(&q, cat, MAPI_EID_LEN);
        mapi_w_bin(&q, veid, MAPI_EID_LEN);
        mapi_w_u32(&q, move ? OP_MAPI_MOVE : 0);
        assert_int_equal(call(MAPI_OP_COPY_MESSAGES, &q, NULL), OP_S_OK);
        assert_int_equal(folder_long(cal, OP_PR_ASSOC_CONTENT_COUNT), move ? 0 : 1);
        assert_int_equal(folder_long(cv, OP_PR_ASSOC_CONTENT_COUNT), move ? 2 : 1);
    }
    assert_int_equal(open_entry_sc(cat, NULL), OP_MAPI_E_NOT_FOUND);
    restrict_class(vt, "IPM.Configuration.CategoryList");
    n = query_rows(vt, 4, rows, 4);
    assert_int_equal(n, 2);
    assert_string_equal(mapi_props_str(&rows[0], OP_PR_SUBJECT), "Categories");
    assert_memory_not_equal(mapi_props_bin(&rows[0], OP_PR_ENTRYID)->bin.data, cat, MAPI_EID_LEN);
    uint32_t moved;
    assert_int_equal(open_entry_sc(mapi_props_bin(&rows[0], OP_PR_ENTRYID)->bin.data, &moved), OP_S_OK);
    free_rows(rows, n);
    mapi_props_init(&p);
    assert_int_equal(get_props(moved, want, 3, &p), OP_MAPI_W_ERRORS_RETURNED);
    assert_string_equal(mapi_props_str(&p, OP_PR_MESSAGE_CLASS), "IPM.Configuration.CategoryList");
    mapi_props_free(&p);
    release(moved);
    /* a normal message cannot go to a virtual folder */
    int64_t one = mts_item(fs, f_cal, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:ev2\r\n"
                                      "DTSTART:20231116T090000Z\r\nSUMMARY:Other\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
                           0, 0);
    uint8_t oeid[MAPI_EID_LEN];
    eid_of(MAPI_EID_MESSAGE, one, oeid);
    mapi_w_u32(&q, cal);
    mapi_w_u32(&q, 1);
    mapi_w_bin(&q, oeid, MAPI_EID_LEN);
    mapi_w_bin(&q, veid, MAPI_EID_LEN);
    mapi_w_u32(&q, OP_MAPI_MOVE);
    assert_int_equal(call(MAPI_OP_COPY_MESSAGES, &q, NULL), OP_MAPI_E_NO_SUPPORT);
    int64_t gone_ids[1] = { one };
    fs->api->remove(fs->host, gone_ids, 1, 1, NULL);
    mapi_w_u32(&q, cv);
    mapi_w_u32(&q, OP_DEL_ASSOCIATED);
    assert_int_equal(call(MAPI_OP_EMPTY_FOLDER, &q, NULL), OP_S_OK);

    /* a folder with FAI: not deleted without DEL_MESSAGES; with it, its FAI go too */
    mapi_w_u32(&q, inbox);
    mapi_w_u32(&q, 0);
    mapi_w_u32(&q, OP_FOLDER_GENERIC);
    mapi_w_str(&q, "With views");
    mapi_w_str(&q, NULL);
    r.len = 0;
    assert_int_equal(call(MAPI_OP_CREATE_FOLDER, &q, &r), OP_S_OK);
    uint32_t wv = r.data[0] | (r.data[1] << 8);
    mapi_eid we;
    assert_int_equal(mapi_eid_decode(r.data + 8, MAPI_EID_LEN, &we), 0);
    uint8_t wv_view[MAPI_EID_LEN];
    fai_new(wv, "IPM.Microsoft.FolderDesign.NamedView", "Compact", NULL, 0, wv_view);
    struct outpost_txn *tx;
    const outpost_folder *fo;
    assert_int_equal(fs->api->read_begin(fs->host, &tx).code, OUTPOST_OK);
    assert_int_equal(fs->m->folder_get(tx, we.id, &fo).code, OUTPOST_OK);
    char key[80];
    snprintf(key, sizeof key, "mapi.fai.%lld.%u", (long long)we.id, fo->uidvalidity);
    fs->api->read_end(fs->host, tx);
    assert_true(meta_present(key));
    mapi_w_u32(&q, inbox);
    mapi_w_bin(&q, r.data + 8, MAPI_EID_LEN);
    mapi_w_u32(&q, 0);
    assert_int_equal(call(MAPI_OP_DELETE_FOLDER, &q, NULL), OP_MAPI_E_HAS_MESSAGES);
    mapi_w_u32(&q, inbox);
    mapi_w_bin(&q, r.data + 8, MAPI_EID_LEN);
    mapi_w_u32(&q, OP_DEL_MESSAGES);
    assert_int_equal(call(MAPI_OP_DELETE_FOLDER, &q, NULL), OP_S_OK);
    assert_false(meta_present(key));
    assert_int_equal(open_entry_sc(wv_view, NULL), OP_MAPI_E_NOT_FOUND);
    free(blob);
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    tc_close(&C);
}

/* ---- folders: CopyFolder, FAI that go with their folder, Outlook's startup calls ---- */

/* The id of the folder named name under parent in the storage (0: none);
 * *uidvalidity (may be NULL) gets its UIDVALIDITY. */
static int64_t store_folder(int64_t parent, const char *name, uint32_t *uidvalidity)
{
    struct outpost_txn *t;
    assert_int_equal(fs->api->read_begin(fs->host, &t).code, OUTPOST_OK);
    struct outpost_cursor *c;
    assert_int_equal(fs->m->folder_list(t, &c).code, OUTPOST_OK);
    const void *row;
    int64_t id = 0;
    while (!id && fs->m->cursor_next(c, &row).code == OUTPOST_OK && row) {
        const outpost_folder *f = row;
        if (f->parent_id == parent && !strcmp(f->name, name)) {
            id = f->id;
            if (uidvalidity)
                *uidvalidity = f->uidvalidity;
        }
    }
    fs->m->cursor_close(c);
    fs->api->read_end(fs->host, t);
    return id;
}

/* CreateFolder in folder h: the SCODE; *folder (may be NULL) the new handle, *id its folder id. */
static uint32_t create_folder(uint32_t h, const char *name, uint32_t type, uint32_t flags, uint32_t *folder,
                              int64_t *id)
{
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, h);
    mapi_w_u32(&q, flags);
    mapi_w_u32(&q, type);
    mapi_w_str(&q, name);
    mapi_w_str(&q, NULL);
    uint32_t sc = call(MAPI_OP_CREATE_FOLDER, &q, &r);
    if (!OP_FAILED(sc)) {
        mapi_rd rd;
        mapi_rd_init(&rd, r.data, r.len);
        uint32_t fh = mapi_r_u32(&rd), len;
        const uint8_t *eid = mapi_r_bin(&rd, &len);
        mapi_eid e;
        assert_int_equal(mapi_eid_decode(eid, len, &e), 0);
        if (folder)
            *folder = fh;
        else
            release(fh);
        if (id)
            *id = e.id;
    }
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return sc;
}

/* CopyFolder (dest: the destination's entry id) or, dest NULL, DeleteFolder
 * of folder id, a child of the folder behind handle parent. */
static uint32_t folder_call(uint32_t parent, int64_t id, const uint8_t *dest, const char *name, uint32_t flags)
{
    mapi_buf q;
    mapi_buf_init(&q);
    uint8_t eid[MAPI_EID_LEN];
    eid_of(MAPI_EID_FOLDER, id, eid);
    mapi_w_u32(&q, parent);
    mapi_w_bin(&q, eid, MAPI_EID_LEN);
    if (dest) {
        mapi_w_bin(&q, dest, MAPI_EID_LEN);
        mapi_w_str(&q, name);
    }
    mapi_w_u32(&q, flags);
    uint32_t sc = call(dest ? MAPI_OP_COPY_FOLDER : MAPI_OP_DELETE_FOLDER, &q, NULL);
    mapi_buf_free(&q);
    return sc;
}

static uint32_t copy_folder(uint32_t parent, int64_t src, const uint8_t *dest, const char *name, uint32_t flags)
{
    return folder_call(parent, src, dest, name, flags);
}

static uint32_t delete_folder(uint32_t parent, int64_t id, uint32_t flags)
{
    return folder_call(parent, id, NULL, NULL, flags);
}

/* OpenEntry of folder (kind, id): its handle. */
static uint32_t open_folder(uint32_t kind, int64_t id)
{
    uint8_t eid[MAPI_EID_LEN];
    eid_of(kind, id, eid);
    return open_entry(eid, MAPI_EID_LEN, NULL);
}

/* The subjects of folder id's associated table, sorted, joined by '|'. */
static void fai_subjects(int64_t id, char *out, size_t cap)
{
    uint32_t h = open_folder(MAPI_EID_FOLDER, id);
    uint32_t t = open_table(h, MAPI_TABLE_CONTENTS, OP_MAPI_ASSOCIATED);
    mapi_buf q;
    mapi_buf_init(&q);
    mapi_sort_key k = { OP_PR_SUBJECT, OP_TABLE_SORT_ASCEND };
    mapi_sort so = { 1, 0, 0, &k };
    mapi_w_u32(&q, t);
    mapi_w_sort(&q, &so);
    assert_int_equal(call(MAPI_OP_TBL_SORT, &q, NULL), OP_S_OK);
    mapi_buf_free(&q);
    mapi_props rows[8];
    uint32_t n = query_rows(t, 8, rows, 8);
    out[0] = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *sub = mapi_props_str(&rows[i], OP_PR_SUBJECT);
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? "|" : "", sub ? sub : "?");
    }
    free_rows(rows, n);
    assert_int_equal(folder_long(h, OP_PR_ASSOC_CONTENT_COUNT), (int32_t)n);
    release(t);
    release(h);
}

static void test_copy_folder(void **state)
{
    (void)state;
    hello();
    uint8_t ieid[MAPI_EID_LEN], top[MAPI_EID_LEN], views[MAPI_EID_LEN];
    eid_of(MAPI_EID_FOLDER, f_inbox, ieid);
    eid_of(MAPI_EID_VIRTUAL, MAPI_VF_IPM_SUBTREE, top);
    eid_of(MAPI_EID_VIRTUAL, MAPI_VF_VIEWS, views);
    uint32_t inbox = open_entry(ieid, MAPI_EID_LEN, NULL);
    /* Inbox/Src (2 mails, a view) with Src/Child (1 mail, a view) */
    uint32_t srch, childh;
    int64_t src, child;
    assert_int_equal(create_folder(inbox, "Src", OP_FOLDER_GENERIC, 0, &srch, &src), OP_S_OK);
    assert_int_equal(create_folder(srch, "Child", OP_FOLDER_GENERIC, 0, &childh, &child), OP_S_OK);
    char *a = mail("Kept one", "Mon, 13 Nov 2023 10:00:00 +0000", "one");
    char *b = mail("Kept two", "Tue, 14 Nov 2023 10:00:00 +0000", "two");
    assert_true(mts_item(fs, src, a, OUTPOST_FLAG_SEEN, 0) > 0);
    assert_true(mts_item(fs, src, b, 0, 0) > 0);
    assert_true(mts_item(fs, child, a, 0, 0) > 0);
    free(a);
    free(b);
    uint8_t src_view[MAPI_EID_LEN], child_view[MAPI_EID_LEN];
    fai_new(srch, "IPM.Microsoft.FolderDesign.NamedView", "Src view", NULL, 0, src_view);
    fai_new(childh, "IPM.Microsoft.FolderDesign.NamedView", "Child view", NULL, 0, child_view);
    uint32_t creates = mts_journal_count(fs, OUTPOST_J_FOLDER_CREATE);
    uint32_t copies = mts_journal_count(fs, OUTPOST_J_ITEM_COPY);

    /* with its subfolders to Top of Information Store, under a new name */
    assert_int_equal(copy_folder(inbox, src, top, "Src copy", OP_COPY_SUBFOLDERS), OP_S_OK);
    uint32_t uv_copy;
    int64_t copy = store_folder(0, "Src copy", &uv_copy), copy_child = store_folder(copy, "Child", NULL);
    assert_true(copy > 0 && copy_child > 0);
    assert_int_equal(mts_journal_count(fs, OUTPOST_J_FOLDER_CREATE), creates + 2);
    assert_int_equal(mts_journal_count(fs, OUTPOST_J_ITEM_COPY), copies + 3);
    uint32_t total, unread, listed;
    store_counts(copy, &total, &unread, &listed);
    assert_true(total == 2 && unread == 1 && listed == 2);
    store_counts(copy_child, &total, &unread, &listed);
    assert_true(total == 1 && listed == 1);
    char subj[256];
    fai_subjects(copy, subj, sizeof subj);
    assert_string_equal(subj, "Src view");
    fai_subjects(copy_child, subj, sizeof subj);
    assert_string_equal(subj, "Child view");
    char key[80];
    snprintf(key, sizeof key, "mapi.fai.%lld.%u", (long long)copy, uv_copy);
    assert_true(meta_present(key));
    /* the originals are untouched and the copies are other messages */
    fai_subjects(src, subj, sizeof subj);
    assert_string_equal(subj, "Src view");
    store_counts(src, &total, &unread, &listed);
    assert_int_equal(total, 2);
    /* without COPY_SUBFOLDERS: the folder alone */
    assert_int_equal(copy_folder(inbox, src, top, "Flat", 0), OP_S_OK);
    int64_t flat = store_folder(0, "Flat", NULL);
    assert_true(flat > 0);
    assert_int_equal(store_folder(flat, "Child", NULL), 0);
    fai_subjects(flat, subj, sizeof subj);
    assert_string_equal(subj, "Src view");

    /* refusals: a name taken, into itself, a virtual folder, not a child of the handle's folder */
    assert_int_equal(copy_folder(inbox, src, top, "Flat", 0), OP_MAPI_E_COLLISION);
    uint8_t ceid[MAPI_EID_LEN];
    eid_of(MAPI_EID_FOLDER, child, ceid);
    assert_int_equal(copy_folder(inbox, src, ceid, "Loop", OP_COPY_SUBFOLDERS), OP_MAPI_E_FOLDER_CYCLE);
    assert_int_equal(copy_folder(inbox, src, views, "Elsewhere", 0), OP_MAPI_E_NO_SUPPORT);
    uint32_t topf = open_entry(top, MAPI_EID_LEN, NULL);
    assert_int_equal(copy_folder(topf, src, top, "Wrong parent", 0), OP_MAPI_E_NOT_FOUND);
    assert_int_equal(store_folder(0, "Wrong parent", NULL), 0);

    /* FOLDER_MOVE: the same folder (id, UIDVALIDITY, entry ids of its FAI) under Flat, renamed */
    uint32_t renames = mts_journal_count(fs, OUTPOST_J_FOLDER_RENAME);
    uint8_t feid[MAPI_EID_LEN];
    eid_of(MAPI_EID_FOLDER, flat, feid);
    assert_int_equal(copy_folder(inbox, src, feid, "Moved", OP_FOLDER_MOVE), OP_S_OK);
    assert_int_equal(store_folder(flat, "Moved", NULL), src);
    assert_int_equal(store_folder(src, "Child", NULL), child);
    assert_int_equal(mts_journal_count(fs, OUTPOST_J_FOLDER_RENAME), renames + 1);
    uint32_t vh;
    assert_int_equal(open_entry_sc(src_view, &vh), OP_S_OK);
    release(vh);
    /* the Inbox itself cannot move (the store refuses) */
    uint32_t rooth = open_entry(top, MAPI_EID_LEN, NULL);
    assert_int_equal(copy_folder(rooth, f_inbox, feid, NULL, OP_FOLDER_MOVE), OP_MAPI_E_NO_ACCESS);
    release(rooth);
    release(topf);
    release(childh);
    release(srch);
    release(inbox);
    tc_close(&C);
}

/* Waits (bounded) until meta value key is gone: 1 gone, 0 still there. */
static int meta_gone_within(const char *key, int ms)
{
    for (int waited = 0; waited <= ms; waited += 20) {
        if (!meta_present(key))
            return 1;
        usleep(20 * 1000);
    }
    return 0;
}

static void test_fai_go_with_folder(void **state)
{
    (void)state;
    hello();
    /* a folder made and deleted as IMAP does it (the store API), FAI saved by Outlook in between */
    int64_t doomed = 0;
    assert_int_equal(fs->api->folder_create(fs->host, 0, "Doomed", OUTPOST_ITEM_MAIL, &doomed).code, OUTPOST_OK);
    uint32_t uv = 0;
    assert_int_equal(store_folder(0, "Doomed", &uv), doomed);
    uint8_t view[MAPI_EID_LEN];
    uint32_t dh = open_folder(MAPI_EID_FOLDER, doomed);
    fai_new(dh, "IPM.Microsoft.FolderDesign.NamedView", "Doomed view", NULL, 0, view);
    char key[80];
    snprintf(key, sizeof key, "mapi.fai.%lld.%u", (long long)doomed, uv);
    assert_true(meta_present(key));
    /* an FAI message opened for a save, then the folder goes */
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, dh);
    mapi_w_u32(&q, OP_MAPI_ASSOCIATED);
    assert_int_equal(call(MAPI_OP_CREATE_MESSAGE, &q, &r), OP_S_OK);
    uint32_t late = r.data[0] | (r.data[1] << 8);
    assert_int_equal(fs->api->folder_delete(fs->host, doomed).code, OUTPOST_OK);
    /* the set goes with the folder now, not at the next start */
    assert_true(meta_gone_within(key, 3000));
    assert_int_equal(open_entry_sc(view, NULL), OP_MAPI_E_NOT_FOUND);
    /* a save into the deleted folder keeps nothing */
    mapi_w_u32(&q, late);
    mapi_w_u32(&q, 0);
    assert_int_equal(call(MAPI_OP_SAVE_CHANGES, &q, NULL), OP_MAPI_E_OBJECT_DELETED);
    assert_false(meta_present(key));
    release(late);
    release(dh);
    /* a new folder, even one given the same id, starts with no FAI */
    int64_t reborn = 0;
    assert_int_equal(fs->api->folder_create(fs->host, 0, "Reborn", OUTPOST_ITEM_MAIL, &reborn).code, OUTPOST_OK);
    uint32_t uv2 = 0;
    store_folder(0, "Reborn", &uv2);
    assert_int_not_equal(uv2, uv);
    char subj[64];
    fai_subjects(reborn, subj, sizeof subj);
    assert_string_equal(subj, "");
    /* a stale set under a new MAPI folder's key (were the storage to give an
     * id and UIDVALIDITY again) is dropped, not inherited: planted under the
     * key the next folder gets (the next id; the clock's second, or one more
     * than the last UIDVALIDITY), tried until the guess is right */
    mapi_fai_set stale;
    mapi_fai_set_init(&stale);
    mapi_message m;
    memset(&m, 0, sizeof m);
    mapi_props_set_str(&m.props, OP_PR_SUBJECT, "Stale view");
    assert_int_equal(mapi_fai_put(&stale, 1, &m), 0);
    mapi_buf enc;
    mapi_buf_init(&enc);
    mapi_fai_encode(&stale, &enc);
    uint32_t top = open_folder(MAPI_EID_VIRTUAL, MAPI_VF_IPM_SUBTREE);
    int hit = 0;
    for (int attempt = 0; attempt < 5 && !hit; attempt++) {
        char name[32];
        snprintf(name, sizeof name, "Spare %d", attempt);
        int64_t spare = 0, fresh = 0;
        assert_int_equal(fs->api->folder_create(fs->host, 0, name, OUTPOST_ITEM_MAIL, &spare).code, OUTPOST_OK);
        uint32_t uvs = 0, uvf = 0;
        store_folder(0, name, &uvs);
        snprintf(key, sizeof key, "mapi.fai.%lld.%u", (long long)spare + 1, uvs + 1);
        assert_int_equal(fs->api->meta_set(fs->host, key, enc.data, enc.len).code, OUTPOST_OK);
        snprintf(name, sizeof name, "Fresh %d", attempt);
        assert_int_equal(create_folder(top, name, OP_FOLDER_GENERIC, 0, NULL, &fresh), OP_S_OK);
        store_folder(0, name, &uvf);
        hit = fresh == spare + 1 && uvf == uvs + 1;
        if (hit) {
            assert_false(meta_present(key));
            fai_subjects(fresh, subj, sizeof subj);
            assert_string_equal(subj, "");
        }
        fs->api->meta_set(fs->host, key, NULL, 0);
    }
    assert_true(hit);
    mapi_buf_free(&enc);
    mapi_message_free(&m);
    mapi_fai_set_free(&stale);
    release(top);
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    tc_close(&C);
}

static void test_delete_folder_tree(void **state)
{
    (void)state;
    hello();
    uint32_t top = open_folder(MAPI_EID_VIRTUAL, MAPI_VF_IPM_SUBTREE);
    /* Tree/Mid/Leaf, a mail in Leaf, a view in Mid */
    uint32_t treeh, midh;
    int64_t tree, mid, leaf;
    assert_int_equal(create_folder(top, "Tree", OP_FOLDER_GENERIC, 0, &treeh, &tree), OP_S_OK);
    assert_int_equal(create_folder(treeh, "Mid", OP_FOLDER_GENERIC, 0, &midh, &mid), OP_S_OK);
    assert_int_equal(create_folder(midh, "Leaf", OP_FOLDER_GENERIC, 0, NULL, &leaf), OP_S_OK);
    char *a = mail("In a leaf", "Mon, 13 Nov 2023 10:00:00 +0000", "leaf");
    assert_true(mts_item(fs, leaf, a, 0, 0) > 0);
    uint8_t view[MAPI_EID_LEN];
    fai_new(midh, "IPM.Microsoft.FolderDesign.NamedView", "Mid view", NULL, 0, view);
    uint32_t uv_mid = 0;
    store_folder(tree, "Mid", &uv_mid);
    char key[80];
    snprintf(key, sizeof key, "mapi.fai.%lld.%u", (long long)mid, uv_mid);
    assert_true(meta_present(key));
    /* without DEL_FOLDERS the subfolders stop it; without DEL_MESSAGES the mail and the view do */
    assert_int_equal(delete_folder(top, tree, OP_DEL_MESSAGES), OP_MAPI_E_HAS_FOLDERS);
    assert_int_equal(delete_folder(top, tree, OP_DEL_FOLDERS), OP_MAPI_E_HAS_MESSAGES);
    assert_int_equal(store_folder(0, "Tree", NULL), tree);
    /* with both: the whole subtree, each folder a journal entry, the view with it */
    uint32_t deletes = mts_journal_count(fs, OUTPOST_J_FOLDER_DELETE);
    assert_int_equal(delete_folder(top, tree, OP_DEL_FOLDERS | OP_DEL_MESSAGES), OP_S_OK);
    assert_int_equal(store_folder(0, "Tree", NULL), 0);
    assert_int_equal(mts_item_state(fs, leaf, NULL, NULL), -1);
    assert_int_equal(mts_journal_count(fs, OUTPOST_J_FOLDER_DELETE), deletes + 3);
    assert_false(meta_present(key));
    release(midh);
    release(treeh);
    /* EmptyFolder: the folder stays, its mails and subfolders (with theirs) go */
    uint32_t boxh, subh;
    int64_t box, sub;
    assert_int_equal(create_folder(top, "Emptied", OP_FOLDER_GENERIC, 0, &boxh, &box), OP_S_OK);
    assert_int_equal(create_folder(boxh, "Sub", OP_FOLDER_GENERIC, 0, &subh, &sub), OP_S_OK);
    assert_true(mts_item(fs, box, a, 0, 0) > 0);
    assert_true(mts_item(fs, sub, a, 0, 0) > 0);
    mapi_buf q;
    mapi_buf_init(&q);
    uint8_t keep[MAPI_EID_LEN];
    fai_new(boxh, "IPM.Microsoft.FolderDesign.NamedView", "Kept view", NULL, 0, keep);
    mapi_w_u32(&q, boxh);
    mapi_w_u32(&q, 0);
    assert_int_equal(call(MAPI_OP_EMPTY_FOLDER, &q, NULL), OP_S_OK);
    assert_int_equal(store_folder(0, "Emptied", NULL), box);
    assert_int_equal(store_folder(box, "Sub", NULL), 0);
    uint32_t total, unread, listed;
    store_counts(box, &total, &unread, &listed);
    assert_true(total == 0 && listed == 0);
    char subj[64];
    fai_subjects(box, subj, sizeof subj); /* FAI only with DEL_ASSOCIATED */
    assert_string_equal(subj, "Kept view");
    free(a);
    release(subh);
    release(boxh);
    release(top);
    mapi_buf_free(&q);
    tc_close(&C);
}

/* GetReceiveFolder(cls): the folder's entry id into eid, the matched class into cls_out. */
static void receive_folder(const char *cls, mapi_eid *e, char *cls_out, size_t cap)
{
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_str(&q, cls);
    assert_int_equal(call(MAPI_OP_GET_RECEIVE_FOLDER, &q, &r), OP_S_OK);
    mapi_rd rd;
    mapi_rd_init(&rd, r.data, r.len);
    uint32_t len;
    const uint8_t *eid = mapi_r_bin(&rd, &len);
    assert_int_equal(mapi_eid_decode(eid, len, e), 0);
    char *m = mapi_r_str(&rd);
    assert_non_null(m);
    snprintf(cls_out, cap, "%s", m);
    free(m);
    mapi_buf_free(&q);
    mapi_buf_free(&r);
}

static void test_startup_calls(void **state)
{
    (void)state;
    hello();
    uint32_t inbox = open_folder(MAPI_EID_FOLDER, f_inbox);
    uint32_t top = open_folder(MAPI_EID_VIRTUAL, MAPI_VF_IPM_SUBTREE);
    int64_t projects = store_folder(f_inbox, "Projects", NULL);
    assert_true(projects > 0);
    /* CreateFolder(OPEN_IF_EXISTS), as Outlook does for its folders at every start: the existing one */
    uint32_t journal0 = mts_journal_count(fs, 0);
    int64_t got = 0;
    assert_int_equal(create_folder(inbox, "Projects", OP_FOLDER_GENERIC, 0, NULL, NULL), OP_MAPI_E_COLLISION);
    assert_int_equal(create_folder(inbox, "Projects", OP_FOLDER_GENERIC, OP_OPEN_IF_EXISTS, NULL, &got), OP_S_OK);
    assert_int_equal(got, projects);
    /* a search folder is made in the Finder only, never as a real (server) folder */
    assert_int_equal(create_folder(top, "Reminders", OP_FOLDER_SEARCH, OP_OPEN_IF_EXISTS, NULL, NULL),
                     OP_MAPI_E_NO_SUPPORT);
    assert_int_equal(store_folder(0, "Reminders", NULL), 0);
    assert_int_equal(mts_journal_count(fs, 0), journal0);
    /* SHOW_SOFT_DELETES: no delete here is soft, so those tables are empty */
    mapi_props rows[16];
    uint32_t t = open_table(inbox, MAPI_TABLE_CONTENTS, 0);
    uint32_t live = query_rows(t, 16, rows, 16);
    free_rows(rows, live);
    assert_true(live > 0);
    release(t);
    t = open_table(inbox, MAPI_TABLE_CONTENTS, OP_SHOW_SOFT_DELETES);
    assert_int_equal(query_rows(t, 16, rows, 16), 0);
    release(t);
    t = open_table(inbox, MAPI_TABLE_CONTENTS, OP_SHOW_SOFT_DELETES | OP_MAPI_ASSOCIATED);
    assert_int_equal(query_rows(t, 16, rows, 16), 0);
    release(t);
    t = open_table(top, MAPI_TABLE_HIERARCHY, OP_SHOW_SOFT_DELETES | OP_CONVENIENT_DEPTH);
    assert_int_equal(query_rows(t, 16, rows, 16), 0);
    release(t);
    /* PR_ACCESS says what the calls allow */
    uint32_t access = (uint32_t)folder_long(inbox, OP_PR_ACCESS);
    assert_true((access & OP_ACCESS_CREATE_HIERARCHY) && (access & OP_ACCESS_CREATE_CONTENTS));
    assert_false(access & OP_ACCESS_DELETE); /* the Inbox cannot be deleted */
    uint8_t peid[MAPI_EID_LEN];
    eid_of(MAPI_EID_FOLDER, projects, peid);
    uint32_t ph = open_entry(peid, MAPI_EID_LEN, NULL);
    assert_true((uint32_t)folder_long(ph, OP_PR_ACCESS) & OP_ACCESS_DELETE);
    release(ph);
    access = (uint32_t)folder_long(top, OP_PR_ACCESS);
    assert_true((access & OP_ACCESS_CREATE_HIERARCHY) && (access & OP_ACCESS_CREATE_ASSOCIATED));
    assert_false(access & (OP_ACCESS_CREATE_CONTENTS | OP_ACCESS_DELETE));
    uint32_t root = open_entry(NULL, 0, NULL);
    access = (uint32_t)folder_long(root, OP_PR_ACCESS);
    assert_false(access & (OP_ACCESS_CREATE_HIERARCHY | OP_ACCESS_CREATE_CONTENTS | OP_ACCESS_DELETE));
    assert_true(access & OP_ACCESS_CREATE_ASSOCIATED);
    release(root);
    /* GetReceiveFolder: the class that matched, IPC classes to the root */
    static const struct { const char *cls, *matched; int root; } RF[] = {
        { "IPM.Note", "IPM", 0 }, { "ipm", "IPM", 0 }, { "", "", 0 }, { "IPMX.Other", "", 0 },
        { "IPC.Microsoft.ICS", "IPC", 1 }, { "REPORT.IPM.Note.NDR", "REPORT.IPM", 0 },
    };
    for (size_t i = 0; i < sizeof RF / sizeof RF[0]; i++) {
        mapi_eid e;
        char m[32];
        receive_folder(RF[i].cls, &e, m, sizeof m);
        assert_string_equal(m, RF[i].matched);
        if (RF[i].root) {
            assert_true(e.kind == MAPI_EID_VIRTUAL && e.id == MAPI_VF_ROOT);
        } else {
            assert_true(e.kind == MAPI_EID_FOLDER && e.id == f_inbox);
        }
    }
    /* SetReceiveFolder: kept in the cache, longest class wins, a deleted folder falls back */
    mapi_buf q;
    mapi_buf_init(&q);
    mapi_eid e;
    char m[64];
    mapi_w_str(&q, "IPM.Note.Custom");
    mapi_w_bin(&q, peid, MAPI_EID_LEN);
    assert_int_equal(call(MAPI_OP_SET_RECEIVE_FOLDER, &q, NULL), OP_S_OK);
    assert_true(meta_present("mapi.receive"));
    receive_folder("ipm.note.custom.v2", &e, m, sizeof m);
    assert_true(e.kind == MAPI_EID_FOLDER && e.id == projects);
    assert_string_equal(m, "IPM.Note.Custom");
    receive_folder("IPM.Note", &e, m, sizeof m);
    assert_true(e.id == f_inbox && !strcmp(m, "IPM"));
    mapi_w_str(&q, "");
    mapi_w_bin(&q, peid, MAPI_EID_LEN);
    assert_int_equal(call(MAPI_OP_SET_RECEIVE_FOLDER, &q, NULL), OP_S_OK);
    receive_folder("Other", &e, m, sizeof m);
    assert_true(e.id == projects && !strcmp(m, ""));
    mapi_w_str(&q, "");
    mapi_w_bin(&q, NULL, 0);
    assert_int_equal(call(MAPI_OP_SET_RECEIVE_FOLDER, &q, NULL), OP_S_OK);
    receive_folder("Other", &e, m, sizeof m);
    assert_true(e.id == f_inbox && !strcmp(m, ""));
    int64_t box = 0;
    assert_int_equal(fs->api->folder_create(fs->host, 0, "Drop box", OUTPOST_ITEM_MAIL, &box).code, OUTPOST_OK);
    uint8_t beid[MAPI_EID_LEN];
    eid_of(MAPI_EID_FOLDER, box, beid);
    mapi_w_str(&q, "IPM.Drop");
    mapi_w_bin(&q, beid, MAPI_EID_LEN);
    assert_int_equal(call(MAPI_OP_SET_RECEIVE_FOLDER, &q, NULL), OP_S_OK);
    receive_folder("IPM.Drop", &e, m, sizeof m);
    assert_true(e.id == box && !strcmp(m, "IPM.Drop"));
    assert_int_equal(fs->api->folder_delete(fs->host, box).code, OUTPOST_OK);
    receive_folder("IPM.Drop", &e, m, sizeof m);
    assert_true(e.id == f_inbox && !strcmp(m, "IPM"));
    uint8_t meid[MAPI_EID_LEN];
    eid_of(MAPI_EID_MESSAGE, m_read1, meid);
    mapi_w_str(&q, "IPM.Bad");
    mapi_w_bin(&q, meid, MAPI_EID_LEN);
    assert_int_equal(call(MAPI_OP_SET_RECEIVE_FOLDER, &q, NULL), OP_MAPI_E_INVALID_ENTRYID);
    /* GetReceiveFolderTable: the fixed classes and the kept one whose folder exists */
    uint8_t seid[MAPI_EID_LEN];
    eid_of(MAPI_EID_STORE, 0, seid);
    uint32_t store = open_entry(seid, MAPI_EID_LEN, NULL);
    t = open_table(store, MAPI_TABLE_RECEIVE_FOLDERS, 0);
    uint32_t nr = query_rows(t, 16, rows, 16);
    assert_int_equal(nr, 5);
    int custom = 0;
    for (uint32_t i = 0; i < nr; i++)
        if (!strcmp(mapi_props_str(&rows[i], OP_PR_MESSAGE_CLASS), "IPM.Note.Custom")) {
            mapi_eid re;
            const mapi_prop *pe = mapi_props_find(&rows[i], OP_PR_ENTRYID);
            assert_int_equal(mapi_eid_decode(pe->v.bin.data, pe->v.bin.len, &re), 0);
            custom = re.id == projects;
        }
    assert_true(custom);
    free_rows(rows, nr);
    release(t);
    release(store);
    mapi_buf_free(&q);
    release(top);
    release(inbox);
    tc_close(&C);
}

/* Get (mask 0 and not set) or SetMessageStatus of message eid in folder h; *old the status before. */
static uint32_t msg_status(uint32_t h, const uint8_t *eid, int set, uint32_t status, uint32_t mask, uint32_t *old)
{
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, h);
    mapi_w_bin(&q, eid, MAPI_EID_LEN);
    if (set) {
        mapi_w_u32(&q, status);
        mapi_w_u32(&q, mask);
    }
    uint32_t sc = call(set ? MAPI_OP_SET_MESSAGE_STATUS : MAPI_OP_GET_MESSAGE_STATUS, &q, &r);
    if (!OP_FAILED(sc)) {
        assert_int_equal(r.len, 4);
        *old = r.data[0] | (uint32_t)r.data[1] << 8 | (uint32_t)r.data[2] << 16 | (uint32_t)r.data[3] << 24;
    }
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return sc;
}

static void test_message_status(void **state)
{
    (void)state;
    hello();
    uint32_t inbox = open_folder(MAPI_EID_FOLDER, f_inbox), cal = open_folder(MAPI_EID_FOLDER, f_cal);
    uint8_t meid[MAPI_EID_LEN], eeid[MAPI_EID_LEN];
    eid_of(MAPI_EID_MESSAGE, m_read1, meid);
    eid_of(MAPI_EID_MESSAGE, ev1, eeid);
    uint32_t journal0 = mts_journal_count(fs, 0), old = 99;
    assert_int_equal(msg_status(inbox, meid, 0, 0, 0, &old), OP_S_OK);
    assert_int_equal(old, 0);
    /* MSGSTATUS_HIGHLIGHTED | TAGGED, then HIGHLIGHTED cleared: only the masked bits change */
    assert_int_equal(msg_status(inbox, meid, 1, 0x3, 0x3, &old), OP_S_OK);
    assert_int_equal(old, 0);
    assert_int_equal(msg_status(inbox, meid, 1, 0x0, 0x1, &old), OP_S_OK);
    assert_int_equal(old, 0x3);
    assert_int_equal(msg_status(inbox, meid, 0, 0, 0, &old), OP_S_OK);
    assert_int_equal(old, 0x2);
    /* PR_MSG_STATUS of the opened message and of its contents table row; nothing journaled */
    uint32_t m = open_entry(meid, MAPI_EID_LEN, NULL);
    assert_int_equal(folder_long(m, OP_PR_MSG_STATUS), 0x2);
    release(m);
    uint32_t t = open_table(inbox, MAPI_TABLE_CONTENTS, 0);
    uint32_t cols[] = { OP_PR_ENTRYID, OP_PR_MSG_STATUS };
    set_columns(t, cols, 2);
    mapi_props rows[16];
    uint32_t n = query_rows(t, 16, rows, 16), seen = 0;
    for (uint32_t i = 0; i < n; i++)
        if (!memcmp(mapi_props_bin(&rows[i], OP_PR_ENTRYID)->bin.data, meid, MAPI_EID_LEN))
            seen = (uint32_t)mapi_props_long(&rows[i], OP_PR_MSG_STATUS, -1) == 0x2;
    assert_true(seen);
    free_rows(rows, n);
    release(t);
    assert_int_equal(mts_journal_count(fs, 0), journal0);
    /* a message of another folder */
    assert_int_equal(msg_status(inbox, eeid, 0, 0, 0, &old), OP_MAPI_E_NOT_FOUND);
    /* an associated message keeps it in its set */
    uint8_t fai[MAPI_EID_LEN];
    fai_new(cal, "IPM.Microsoft.FolderDesign.NamedView", "Status view", NULL, 0, fai);
    assert_int_equal(msg_status(cal, fai, 1, 0x4, 0x4, &old), OP_S_OK);
    assert_int_equal(old, 0);
    assert_int_equal(msg_status(cal, fai, 0, 0, 0, &old), OP_S_OK);
    assert_int_equal(old, 0x4);
    assert_int_equal(msg_status(inbox, fai, 0, 0, 0, &old), OP_MAPI_E_NOT_FOUND);
    assert_int_equal(msg_status(inbox, meid, 1, 0, 0xFFFFFFFFu, &old), OP_S_OK);
    release(cal);
    release(inbox);
    tc_close(&C);
}

/* ---- editing a received message (Actions > Edit Message, then save) ---- */

static uint32_t set_props_h(uint32_t h, const mapi_props *p)
{
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, h);
    mapi_w_props(&q, p);
    uint32_t sc = call(MAPI_OP_SET_PROPS, &q, &r);
    if (!OP_FAILED(sc))
        assert_int_equal(r.data[0], 0); /* no problems */
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return sc;
}

/* SaveChanges(KEEP_OPEN_READWRITE); *id: the item id of the entry id answered. */
static uint32_t save_h(uint32_t h, int64_t *id)
{
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, h);
    mapi_w_u32(&q, OP_KEEP_OPEN_READWRITE);
    uint32_t sc = call(MAPI_OP_SAVE_CHANGES, &q, &r);
    if (!OP_FAILED(sc)) {
        mapi_eid e;
        assert_int_equal(mapi_eid_decode(r.data + 4, MAPI_EID_LEN, &e), 0);
        *id = e.id;
    }
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return sc;
}

static uint32_t open_message(int64_t id)
{
    uint8_t eid[MAPI_EID_LEN];
    eid_of(MAPI_EID_MESSAGE, id, eid);
    return open_entry(eid, MAPI_EID_LEN, NULL);
}

static void test_edit_received(void **state)
{
    (void)state;
    hello();
    /* a received mail as the sync engine keeps it: on the server (remote
     * id), read, with trace headers, a text and an HTML body, an attachment */
    const char *orig =
        "Received: from mx.example.com by mail.example.org; Mon, 20 Nov 2023 08:00:00 +0000\r\n"
        "From: Ann <ann@example.com>\r\nTo: Bob <bob@example.com>\r\nSubject: Quarterly figures\r\n"
        "Date: Mon, 20 Nov 2023 08:00:00 +0000\r\nMessage-ID: <q3@example.com>\r\n"
        "References: <q1@example.com>\r\n <q2@example.com>\r\nX-Custom: kept as it was\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
        "--outer\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n"
        "--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nOriginal body.\r\n"
        "--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Original body.</p>\r\n--alt--\r\n"
        "--outer\r\nContent-Type: text/csv; name=\"figures.csv\"\r\n"
        "Content-Disposition: attachment; filename=\"figures.csv\"\r\n\r\nq,total\r\n3,42\r\n--outer--\r\n";
    int64_t old = mts_item(fs, f_inbox, orig, OUTPOST_FLAG_SEEN, 1700467200000LL);
    assert_true(old > 0);
    assert_int_equal(mts_set_remote(fs, old, "srv-q3"), 0);
    uint32_t inbox = open_folder(MAPI_EID_FOLDER, f_inbox);
    uint8_t oeid[MAPI_EID_LEN];
    eid_of(MAPI_EID_MESSAGE, old, oeid);
    uint32_t st0;
    assert_int_equal(msg_status(inbox, oeid, 1, 0x2, 0x2, &st0), OP_S_OK);

    /* a property MIME cannot carry: kept in the bag, nothing journaled, same item */
    uint32_t j0 = mts_journal_count(fs, 0);
    uint32_t h = open_message(old);
    mapi_props p;
    mapi_props_init(&p);
    mapi_props_set_long(&p, 0x10800003u /* PR_ICON_INDEX */, 261);
    assert_int_equal(set_props_h(h, &p), OP_S_OK);
    mapi_props_free(&p);
    int64_t id = 0;
    assert_int_equal(save_h(h, &id), OP_S_OK);
    assert_int_equal(id, old);
    assert_int_equal(mts_journal_count(fs, 0), j0);
    char *content = mts_item_content(fs, old);
    assert_string_equal(content, orig);
    free(content);

    /* the edit: subject, body (PR_BODY only: the loaded HTML must not win)
     * and a Cc recipient */
    mapi_props_init(&p);
    mapi_props_set_str(&p, OP_PR_SUBJECT, "Quarterly figures (annotated)");
    mapi_props_set_str(&p, OP_PR_BODY, "Edited body: see row 2.");
    assert_int_equal(set_props_h(h, &p), OP_S_OK);
    mapi_props_free(&p);
    mapi_props rc;
    mapi_props_init(&rc);
    mapi_props_set_str(&rc, OP_PR_DISPLAY_NAME, "Dave");
    mapi_props_set_str(&rc, OP_PR_EMAIL_ADDRESS, "dave@example.com");
    mapi_props_set_long(&rc, OP_PR_RECIPIENT_TYPE, OP_MAPI_CC);
    mapi_buf q;
    mapi_buf_init(&q);
    mapi_w_u32(&q, h);
    mapi_w_u32(&q, 2 /* MODRECIP_ADD */);
    mapi_w_u32(&q, 1);
    mapi_w_props(&q, &rc);
    assert_int_equal(call(MAPI_OP_MODIFY_RECIPIENTS, &q, NULL), OP_S_OK);
    mapi_props_free(&rc);
    assert_int_equal(save_h(h, &id), OP_S_OK);
    assert_true(id != old);

    /* one transaction, two journal entries: the new message, then the old
     * one deleted on the server (permanently: it is replaced, not trashed) */
    mts_jentry je[4];
    assert_int_equal(mts_journal_since(fs, j0, je, 4), 2);
    assert_int_equal(je[0].op, OUTPOST_J_ITEM_CREATE);
    assert_int_equal(je[0].item_id, id);
    assert_int_equal(je[0].folder_id, f_inbox);
    assert_int_equal(je[1].op, OUTPOST_J_ITEM_DELETE);
    assert_int_equal(je[1].item_id, old);
    assert_string_equal(je[1].remote_id, "srv-q3");
    assert_true(je[1].flags & OUTPOST_J_PERMANENT);
    assert_int_equal(mts_item_state(fs, old, NULL, NULL), -1);
    uint32_t fl;
    int64_t folder;
    assert_int_equal(mts_item_state(fs, id, &fl, &folder), 0);
    assert_int_equal(folder, f_inbox);
    assert_true(fl & OUTPOST_FLAG_SEEN);
    content = mts_item_content(fs, id);
    assert_non_null(content);
    assert_non_null(strstr(content, "Subject: Quarterly figures (annotated)"));
    assert_non_null(strstr(content, "Edited body: see row 2."));
    assert_null(strstr(content, "Original body"));
    assert_non_null(strstr(content, "Cc: Dave <dave@example.com>"));
    assert_non_null(strstr(content, "To: Bob <bob@example.com>"));
    assert_non_null(strstr(content, "From: Ann <ann@example.com>"));
    assert_non_null(strstr(content, "<q3@example.com>"));
    /* the header fields MAPI does not carry, as they were, trace fields on top */
    assert_memory_equal(content, "Received: from mx.example.com by mail.example.org; Mon, 20 Nov 2023 08:00:00 +0000\r\n",
                        84);
    assert_non_null(strstr(content, "References: <q1@example.com>\r\n <q2@example.com>\r\n"));
    assert_non_null(strstr(content, "X-Custom: kept as it was"));
    assert_non_null(strstr(content, "filename=figures.csv"));
    free(content);

    /* the open object is the new item; the bag (icon, message status) and
     * the delivery time came along */
    uint32_t tags[] = { OP_PR_ENTRYID, OP_PR_SUBJECT, 0x10800003u, OP_PR_MSG_STATUS, OP_PR_MESSAGE_DELIVERY_TIME };
    mapi_props got;
    assert_int_equal(get_props(h, tags, 5, &got), OP_S_OK);
    uint8_t neid[MAPI_EID_LEN];
    eid_of(MAPI_EID_MESSAGE, id, neid);
    assert_memory_equal(mapi_props_bin(&got, OP_PR_ENTRYID)->bin.data, neid, MAPI_EID_LEN);
    assert_string_equal(mapi_props_str(&got, OP_PR_SUBJECT), "Quarterly figures (annotated)");
    assert_int_equal(mapi_props_long(&got, 0x10800003u, 0), 261);
    assert_int_equal(mapi_props_long(&got, OP_PR_MSG_STATUS, 0), 0x2);
    assert_int_equal(mapi_props_i8(&got, OP_PR_MESSAGE_DELIVERY_TIME, 0), mapi_filetime_from_ms(1700467200000LL));
    mapi_props_free(&got);

    /* further calls on it work: a second edit, the body now as Outlook's
     * editor writes it (compressed RTF only) */
    char *rtf = mapi_rtf_from_text("Body written as RTF.", 20);
    uint8_t *comp;
    size_t clen;
    assert_int_equal(mapi_rtf_compress((const uint8_t *)rtf, strlen(rtf), &comp, &clen), 0);
    free(rtf);
    mapi_props_init(&p);
    mapi_props_set_bin(&p, OP_PR_RTF_COMPRESSED, comp, clen);
    free(comp);
    assert_int_equal(set_props_h(h, &p), OP_S_OK);
    mapi_props_free(&p);
    int64_t id2 = 0;
    assert_int_equal(save_h(h, &id2), OP_S_OK);
    assert_true(id2 != id);
    assert_int_equal(mts_journal_since(fs, j0 + 2, je, 4), 2);
    assert_int_equal(je[0].op, OUTPOST_J_ITEM_CREATE);
    assert_int_equal(je[1].op, OUTPOST_J_ITEM_DELETE);
    assert_int_equal(je[1].item_id, id);
    assert_int_equal(mts_item_state(fs, id, NULL, NULL), -1);
    release(h);
    /* the old entry ids are gone */
    eid_of(MAPI_EID_MESSAGE, old, oeid);
    mapi_w_u32(&q, 0);
    mapi_w_bin(&q, oeid, MAPI_EID_LEN);
    assert_int_equal(call(MAPI_OP_OPEN_ENTRY, &q, NULL), OP_MAPI_E_NOT_FOUND);

    /* reopened: the content as saved, nothing lost */
    h = open_message(id2);
    assert_int_equal(get_props(h, tags, 5, &got), OP_S_OK);
    assert_string_equal(mapi_props_str(&got, OP_PR_SUBJECT), "Quarterly figures (annotated)");
    assert_int_equal(mapi_props_long(&got, 0x10800003u, 0), 261);
    mapi_props_free(&got);
    uint32_t btag = OP_PR_BODY;
    assert_int_equal(get_props(h, &btag, 1, &got), OP_S_OK);
    assert_non_null(strstr(mapi_props_str(&got, OP_PR_BODY), "Body written as RTF."));
    mapi_props_free(&got);
    uint32_t t = open_table(h, 3 /* recipients */, 0);
    mapi_props rows[8];
    uint32_t n = query_rows(t, 8, rows, 8);
    assert_int_equal(n, 2);
    free_rows(rows, n);
    release(t);
    t = open_table(h, 4 /* attachments */, 0);
    n = query_rows(t, 8, rows, 8);
    assert_int_equal(n, 1);
    assert_string_equal(mapi_props_str(&rows[0], OP_PR_ATTACH_LONG_FILENAME), "figures.csv");
    free_rows(rows, n);
    release(t);
    content = mts_item_content(fs, id2);
    assert_non_null(strstr(content, "Body written as RTF."));
    assert_non_null(strstr(content, "Cc: Dave <dave@example.com>"));
    assert_non_null(strstr(content, "References: <q1@example.com>\r\n <q2@example.com>\r\n"));
    assert_non_null(strstr(content, "cSx0b3RhbA0KMyw0Mg")); /* figures.csv in base64 */
    free(content);
    release(h);

    /* a draft takes the same path: saved again, it is replaced in one
     * transaction and stays a draft */
    mapi_w_u32(&q, inbox);
    mapi_w_u32(&q, 0);
    mapi_buf rr;
    mapi_buf_init(&rr);
    assert_int_equal(call(MAPI_OP_CREATE_MESSAGE, &q, &rr), OP_S_OK);
    h = rr.data[0] | (rr.data[1] << 8);
    mapi_buf_free(&rr);
    mapi_props_init(&p);
    mapi_props_set_str(&p, OP_PR_SUBJECT, "Draft v1");
    mapi_props_set_str(&p, OP_PR_BODY, "first words");
    mapi_props_set_long(&p, OP_PR_MESSAGE_FLAGS, (int32_t)(OP_MSGFLAG_UNSENT | OP_MSGFLAG_READ));
    assert_int_equal(set_props_h(h, &p), OP_S_OK);
    mapi_props_free(&p);
    int64_t d1 = 0, d2 = 0;
    assert_int_equal(save_h(h, &d1), OP_S_OK);
    uint32_t jd = mts_journal_count(fs, 0);
    mapi_props_init(&p);
    mapi_props_set_str(&p, OP_PR_SUBJECT, "Draft v2");
    assert_int_equal(set_props_h(h, &p), OP_S_OK);
    mapi_props_free(&p);
    assert_int_equal(save_h(h, &d2), OP_S_OK);
    assert_true(d2 != d1);
    assert_int_equal(mts_journal_since(fs, jd, je, 4), 2);
    assert_int_equal(je[0].op, OUTPOST_J_ITEM_CREATE);
    assert_int_equal(je[0].item_id, d2);
    assert_int_equal(je[1].op, OUTPOST_J_ITEM_DELETE);
    assert_int_equal(je[1].item_id, d1);
    assert_int_equal(mts_item_state(fs, d2, &fl, NULL), 0);
    assert_true((fl & OUTPOST_FLAG_DRAFT) && (fl & OUTPOST_FLAG_SEEN));
    content = mts_item_content(fs, d2);
    assert_non_null(strstr(content, "Subject: Draft v2"));
    assert_non_null(strstr(content, "first words"));
    free(content);
    release(h);

    /* an edit that cannot be kept (an attached message, which the mapping
     * does not carry) is refused, and nothing changes */
    const char *fwd = "From: Ann <ann@example.com>\r\nTo: Bob <bob@example.com>\r\nSubject: Fwd: plan\r\n"
                      "Date: Mon, 20 Nov 2023 09:00:00 +0000\r\nMessage-ID: <fwd@example.com>\r\nMIME-Version: 1.0\r\n"
                      "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n"
                      "--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: Carol <carol@example.com>\r\nSubject: plan\r\n\r\n"
                      "The plan.\r\n--b--\r\n";
    int64_t fid = mts_item(fs, f_inbox, fwd, OUTPOST_FLAG_SEEN, 0);
    uint32_t j1 = mts_journal_count(fs, 0);
    h = open_message(fid);
    mapi_props_init(&p);
    mapi_props_set_str(&p, OP_PR_SUBJECT, "Fwd: plan (edited)");
    assert_int_equal(set_props_h(h, &p), OP_S_OK);
    mapi_props_free(&p);
    assert_int_equal(save_h(h, &id), OP_MAPI_E_NO_ACCESS);
    assert_int_equal(mts_journal_count(fs, 0), j1);
    content = mts_item_content(fs, fid);
    assert_string_equal(content, fwd);
    free(content);
    release(h);
    mapi_buf_free(&q);
    release(inbox);
    tc_close(&C);
}

/* ---- search folders (in the Finder, local-only) ---- */

/* SetSearchCriteria on search folder h: restriction res (may be NULL), the
 * folders eids[0..n) (MAPI_EID_LEN each), flags. */
static uint32_t set_criteria(uint32_t h, const mapi_res *res, const uint8_t (*eids)[MAPI_EID_LEN], uint32_t n,
                             uint32_t flags)
{
    mapi_buf q;
    mapi_buf_init(&q);
    mapi_w_u32(&q, h);
    mapi_w_u8(&q, res ? 1 : 0);
    if (res)
        mapi_w_res(&q, res);
    mapi_w_u32(&q, n);
    for (uint32_t i = 0; i < n; i++)
        mapi_w_bin(&q, eids[i], MAPI_EID_LEN);
    mapi_w_u32(&q, flags);
    uint32_t sc = call(MAPI_OP_SET_SEARCH_CRITERIA, &q, NULL);
    mapi_buf_free(&q);
    return sc;
}

/* The subjects of a contents table's rows, sorted, joined by '|'. */
static void table_subjects(uint32_t t, char *out, size_t cap)
{
    uint32_t cols[] = { OP_PR_SUBJECT, OP_PR_PARENT_ENTRYID };
    set_columns(t, cols, 2);
    mapi_buf q;
    mapi_buf_init(&q);
    mapi_w_u32(&q, t);
    mapi_w_u32(&q, 0); /* BOOKMARK_BEGINNING */
    mapi_w_u32(&q, 0);
    assert_int_equal(call(MAPI_OP_TBL_SEEK_ROW, &q, NULL), OP_S_OK);
    mapi_buf_free(&q);
    mapi_props rows[16];
    uint32_t n = query_rows(t, 16, rows, 16);
    char *sub[16];
    for (uint32_t i = 0; i < n; i++)
        sub[i] = (char *)mapi_props_str(&rows[i], OP_PR_SUBJECT);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t k = i + 1; k < n; k++)
            if (strcmp(sub[k], sub[i]) < 0) {
                char *x = sub[i];
                sub[i] = sub[k];
                sub[k] = x;
            }
    out[0] = 0;
    for (uint32_t i = 0; i < n; i++)
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? "|" : "", sub[i]);
    free_rows(rows, n);
}

static void test_search_folders(void **state)
{
    (void)state;
    hello();
    /* a folder with a subfolder, read and unread mail in both */
    int64_t fa = mts_folder(fs, 0, "Search A", OUTPOST_ITEM_MAIL, 0);
    int64_t fb = mts_folder(fs, fa, "Search B", OUTPOST_ITEM_MAIL, 0);
    char *m1 = mail("alpha one", "Mon, 13 Nov 2023 10:00:00 +0000", "a1");
    char *m2 = mail("alpha two", "Mon, 13 Nov 2023 11:00:00 +0000", "a2");
    char *m3 = mail("beta", "Mon, 13 Nov 2023 12:00:00 +0000", "b");
    mts_item(fs, fa, m1, 0, 0);
    mts_item(fs, fa, m2, OUTPOST_FLAG_SEEN, 0);
    int64_t beta = mts_item(fs, fb, m3, 0, 0);
    free(m1);
    free(m2);
    free(m3);
    uint32_t journal0 = mts_journal_count(fs, 0);

    uint32_t finder = open_folder(MAPI_EID_VIRTUAL, MAPI_VF_FINDER);
    uint32_t inbox = open_folder(MAPI_EID_FOLDER, f_inbox);
    uint32_t sh = 0;
    int64_t num = 0, again = 0;
    assert_int_equal(create_folder(inbox, "Unread", OP_FOLDER_SEARCH, 0, NULL, NULL), OP_MAPI_E_NO_SUPPORT);
    assert_int_equal(create_folder(finder, "Unread", OP_FOLDER_SEARCH, 0, &sh, &num), OP_S_OK);
    assert_int_equal(create_folder(finder, "Unread", OP_FOLDER_SEARCH, 0, NULL, NULL), OP_MAPI_E_COLLISION);
    assert_int_equal(create_folder(finder, "Unread", OP_FOLDER_SEARCH, OP_OPEN_IF_EXISTS, NULL, &again), OP_S_OK);
    assert_int_equal(again, num);
    uint8_t seid[MAPI_EID_LEN];
    eid_of(MAPI_EID_SEARCH, num, seid);

    /* listed in the Finder, a search folder of its own kind; no criteria yet */
    assert_int_equal(folder_long(finder, OP_PR_SUBFOLDERS), 1);
    uint32_t ht = open_table(finder, MAPI_TABLE_HIERARCHY, 0);
    uint32_t hcols[] = { OP_PR_ENTRYID, OP_PR_DISPLAY_NAME, OP_PR_FOLDER_TYPE };
    set_columns(ht, hcols, 3);
    mapi_props rows[16];
    assert_int_equal(query_rows(ht, 16, rows, 16), 1);
    assert_string_equal(mapi_props_str(&rows[0], OP_PR_DISPLAY_NAME), "Unread");
    assert_int_equal(mapi_props_long(&rows[0], OP_PR_FOLDER_TYPE, 0), OP_FOLDER_SEARCH);
    assert_memory_equal(mapi_props_bin(&rows[0], OP_PR_ENTRYID)->bin.data, seid, MAPI_EID_LEN);
    free_rows(rows, 1);
    release(ht);
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, sh);
    mapi_w_u32(&q, 0);
    assert_int_equal(call(MAPI_OP_GET_SEARCH_CRITERIA, &q, NULL), OP_MAPI_E_NOT_INITIALIZED);
    uint32_t ct = open_table(sh, MAPI_TABLE_CONTENTS, 0);
    char subj[256];
    table_subjects(ct, subj, sizeof subj);
    assert_string_equal(subj, "");

    /* unread messages of Search A: shallow, then with its subfolder */
    mapi_res unread = { .rt = OP_RES_BITMASK };
    unread.u.bitmask.relop = OP_BMR_EQZ;
    unread.u.bitmask.tag = OP_PR_MESSAGE_FLAGS;
    unread.u.bitmask.mask = OP_MSGFLAG_READ;
    uint8_t scope[2][MAPI_EID_LEN];
    eid_of(MAPI_EID_FOLDER, fa, scope[0]);
    assert_int_equal(set_criteria(sh, &unread, NULL, 0, 0), OP_MAPI_E_INVALID_PARAMETER); /* no folders yet */
    assert_int_equal(set_criteria(sh, &unread, scope, 1, OP_RECURSIVE_SEARCH | OP_SHALLOW_SEARCH),
                     OP_MAPI_E_INVALID_PARAMETER);
    eid_of(MAPI_EID_MESSAGE, beta, scope[1]);
    assert_int_equal(set_criteria(sh, &unread, scope + 1, 1, 0), OP_MAPI_E_INVALID_ENTRYID);
    assert_int_equal(set_criteria(inbox, &unread, scope, 1, 0), OP_MAPI_E_NO_SUPPORT);
    assert_int_equal(set_criteria(sh, &unread, scope, 1, OP_SHALLOW_SEARCH), OP_S_OK);
    table_subjects(ct, subj, sizeof subj);
    assert_string_equal(subj, "alpha one");
    assert_int_equal(set_criteria(sh, NULL, NULL, 0, OP_RECURSIVE_SEARCH), OP_S_OK); /* the rest kept */
    table_subjects(ct, subj, sizeof subj);
    assert_string_equal(subj, "alpha one|beta");
    uint32_t tags[] = { OP_PR_FOLDER_TYPE, OP_PR_CONTENT_COUNT, OP_PR_CONTENT_UNREAD, OP_PR_PARENT_ENTRYID };
    mapi_props got;
    assert_int_equal(get_props(sh, tags, 4, &got), OP_S_OK);
    assert_int_equal(mapi_props_long(&got, OP_PR_FOLDER_TYPE, 0), OP_FOLDER_SEARCH);
    assert_int_equal(mapi_props_long(&got, OP_PR_CONTENT_COUNT, 0), 2);
    assert_int_equal(mapi_props_long(&got, OP_PR_CONTENT_UNREAD, 0), 2);
    uint8_t feid[MAPI_EID_LEN];
    eid_of(MAPI_EID_VIRTUAL, MAPI_VF_FINDER, feid);
    assert_memory_equal(mapi_props_bin(&got, OP_PR_PARENT_ENTRYID)->bin.data, feid, MAPI_EID_LEN);
    mapi_props_free(&got);

    /* GetSearchCriteria answers what was set */
    mapi_w_u32(&q, sh);
    mapi_w_u32(&q, 0);
    r.len = 0;
    assert_int_equal(call(MAPI_OP_GET_SEARCH_CRITERIA, &q, &r), OP_S_OK);
    mapi_rd rd;
    mapi_rd_init(&rd, r.data, r.len);
    assert_int_equal(mapi_r_u8(&rd), 1);
    mapi_res *back = mapi_r_res(&rd);
    assert_non_null(back);
    assert_int_equal(back->rt, OP_RES_BITMASK);
    assert_int_equal(back->u.bitmask.mask, OP_MSGFLAG_READ);
    mapi_res_free(back);
    assert_int_equal(mapi_r_u32(&rd), 1);
    uint32_t el;
    const uint8_t *e0 = mapi_r_bin(&rd, &el);
    assert_int_equal(el, MAPI_EID_LEN);
    assert_memory_equal(e0, scope[0], MAPI_EID_LEN);
    assert_int_equal(mapi_r_u32(&rd), OP_SEARCH_RUNNING | OP_SEARCH_RECURSIVE);

    /* live: a message read elsewhere leaves the results, with a notification */
    mapi_w_u32(&q, ct);
    r.len = 0;
    assert_int_equal(call(MAPI_OP_TBL_ADVISE, &q, &r), OP_S_OK);
    uint32_t conn = r.data[0];
    assert_int_equal(fs->api->set_flags(fs->host, &beta, 1, OUTPOST_FLAGS_ADD, OUTPOST_FLAG_SEEN, NULL, NULL, NULL).code,
                     OUTPOST_OK);
    journal0++; /* that flag change is journaled, as any */
    r.len = 0;
    assert_int_equal(tc_wait_notify(&C, 3000, &r), 0);
    mapi_rd_init(&rd, r.data, r.len);
    assert_int_equal(mapi_r_u32(&rd), conn);
    assert_int_equal(mapi_r_u32(&rd), MAPI_NOTIFY_TABLE);
    assert_int_equal(mapi_r_u32(&rd), OP_TABLE_ROW_DELETED);
    table_subjects(ct, subj, sizeof subj);
    assert_string_equal(subj, "alpha one");

    /* the whole store (Top of Information Store, recursive), by subject */
    mapi_res bysub = { .rt = OP_RES_CONTENT };
    bysub.u.content.fuzzy = OP_FL_SUBSTRING | OP_FL_IGNORECASE;
    bysub.u.content.tag = OP_PR_SUBJECT;
    mapi_props_init(&got);
    mapi_props_set_str(&got, OP_PR_SUBJECT, "BETA");
    bysub.u.content.prop = got.p[0];
    eid_of(MAPI_EID_VIRTUAL, MAPI_VF_IPM_SUBTREE, scope[1]);
    assert_int_equal(set_criteria(sh, &bysub, scope + 1, 1, OP_RECURSIVE_SEARCH), OP_S_OK);
    mapi_props_free(&got);
    table_subjects(ct, subj, sizeof subj);
    assert_string_equal(subj, "beta");
    release(ct);

    /* Outlook sets the class (and may rename it) after CreateFolder */
    uint32_t other = 0;
    assert_int_equal(create_folder(finder, "Other", OP_FOLDER_SEARCH, 0, &other, NULL), OP_S_OK);
    mapi_props_init(&got);
    mapi_props_set_str(&got, OP_PR_CONTAINER_CLASS, "IPF.Task");
    mapi_props_set_str(&got, OP_PR_DISPLAY_NAME, "Other");
    mapi_w_u32(&q, sh);
    mapi_w_props(&q, &got);
    r.len = 0;
    assert_int_equal(call(MAPI_OP_SET_PROPS, &q, &r), OP_S_OK);
    mapi_rd_init(&rd, r.data, r.len);
    assert_int_equal(mapi_r_u32(&rd), 1); /* the name is taken */
    assert_int_equal(mapi_r_u32(&rd), 1);
    assert_int_equal(mapi_r_u32(&rd), OP_PR_DISPLAY_NAME);
    assert_int_equal(mapi_r_u32(&rd), OP_MAPI_E_COLLISION);
    mapi_props_free(&got);
    mapi_props_init(&got);
    mapi_props_set_str(&got, OP_PR_DISPLAY_NAME, "Unread mail");
    assert_int_equal(set_props_h(sh, &got), OP_S_OK);
    mapi_props_free(&got);
    uint32_t ntags[] = { OP_PR_DISPLAY_NAME, OP_PR_CONTAINER_CLASS };
    assert_int_equal(get_props(sh, ntags, 2, &got), OP_S_OK);
    assert_string_equal(mapi_props_str(&got, OP_PR_DISPLAY_NAME), "Unread mail");
    assert_string_equal(mapi_props_str(&got, OP_PR_CONTAINER_CLASS), "IPF.Task");
    mapi_props_free(&got);
    uint8_t oeid[MAPI_EID_LEN];
    mapi_props_init(&got);
    uint32_t etag = OP_PR_ENTRYID;
    assert_int_equal(get_props(other, &etag, 1, &got), OP_S_OK);
    memcpy(oeid, mapi_props_bin(&got, OP_PR_ENTRYID)->bin.data, MAPI_EID_LEN);
    mapi_props_free(&got);
    release(other);
    mapi_w_u32(&q, finder);
    mapi_w_bin(&q, oeid, MAPI_EID_LEN);
    mapi_w_u32(&q, 0);
    assert_int_equal(call(MAPI_OP_DELETE_FOLDER, &q, NULL), OP_S_OK);

    /* a search folder holds no messages of its own */
    mapi_w_u32(&q, sh);
    mapi_w_u32(&q, 0);
    assert_int_equal(call(MAPI_OP_CREATE_MESSAGE, &q, NULL), OP_MAPI_E_NO_SUPPORT);
    /* kept in the cache only: nothing journaled, the storage's folders unchanged */
    assert_int_equal(mts_journal_count(fs, 0), journal0);
    assert_int_equal(store_folder(0, "Unread", NULL), 0);
    assert_true(meta_present(MAPI_SEARCH_KEY));
    release(sh);

    /* another connection finds it, criteria and all; then deletes it */
    tc_close(&C);
    hello();
    finder = open_folder(MAPI_EID_VIRTUAL, MAPI_VF_FINDER);
    sh = open_entry(seid, MAPI_EID_LEN, NULL);
    ct = open_table(sh, MAPI_TABLE_CONTENTS, 0);
    table_subjects(ct, subj, sizeof subj);
    assert_string_equal(subj, "beta");
    release(ct);
    release(sh);
    mapi_w_u32(&q, finder);
    mapi_w_bin(&q, seid, MAPI_EID_LEN);
    mapi_w_u32(&q, 0);
    assert_int_equal(call(MAPI_OP_DELETE_FOLDER, &q, NULL), OP_S_OK);
    mapi_w_u32(&q, 0);
    mapi_w_bin(&q, seid, MAPI_EID_LEN);
    assert_int_equal(call(MAPI_OP_OPEN_ENTRY, &q, NULL), OP_MAPI_E_NOT_FOUND);
    ht = open_table(finder, MAPI_TABLE_HIERARCHY, 0);
    assert_int_equal(query_rows(ht, 16, rows, 16), 0);
    release(ht);
    assert_int_equal(folder_long(finder, OP_PR_SUBFOLDERS), 0);
    /* a new one never gets the old one's entry id */
    int64_t num2 = 0;
    assert_int_equal(create_folder(finder, "Unread", OP_FOLDER_SEARCH, 0, NULL, &num2), OP_S_OK);
    assert_true(num2 != num && num2 > 2);
    assert_int_equal(mts_journal_count(fs, 0), journal0);
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    release(finder);
    tc_close(&C);
}

/* ---- lazy contents tables equal whole-row tables ---- */

/* The rows of table t from its start (at most max), after SeekRow to the beginning. */
static uint32_t all_rows(uint32_t t, mapi_props *rows, uint32_t max)
{
    mapi_buf q;
    mapi_buf_init(&q);
    mapi_w_u32(&q, t);
    mapi_w_u32(&q, OP_BOOKMARK_BEGINNING);
    mapi_w_u32(&q, 0);
    assert_int_equal(call(MAPI_OP_TBL_SEEK_ROW, &q, NULL), OP_S_OK);
    mapi_buf_free(&q);
    return query_rows(t, (int32_t)max, rows, max);
}

/* Same rows, same columns, same values, same order. */
static void assert_same_rows(uint32_t lazy, uint32_t eager, uint32_t expect)
{
    enum { MAX = 400 };
    mapi_props *a = calloc(MAX, sizeof *a), *b = calloc(MAX, sizeof *b);
    uint32_t na = all_rows(lazy, a, MAX), nb = all_rows(eager, b, MAX);
    assert_int_equal(na, nb);
    assert_int_equal(na, expect);
    for (uint32_t i = 0; i < na; i++) {
        assert_int_equal(a[i].n, b[i].n);
        for (uint32_t k = 0; k < a[i].n; k++) {
            assert_int_equal(a[i].p[k].tag, b[i].p[k].tag);
            assert_true(mapi_prop_equal(&a[i].p[k], &b[i].p[k]));
        }
    }
    free_rows(a, na);
    free_rows(b, nb);
    free(a);
    free(b);
}

static void table_sort(uint32_t t, const mapi_sort_key *k, uint32_t n)
{
    mapi_buf q;
    mapi_buf_init(&q);
    mapi_sort s = { n, 0, 0, (mapi_sort_key *)k };
    mapi_w_u32(&q, t);
    mapi_w_sort(&q, &s);
    assert_int_equal(call(MAPI_OP_TBL_SORT, &q, NULL), OP_S_OK);
    mapi_buf_free(&q);
}

static void table_restrict(uint32_t t, const mapi_res *r)
{
    mapi_buf q;
    mapi_buf_init(&q);
    mapi_w_u32(&q, t);
    mapi_w_u8(&q, r != NULL);
    if (r)
        mapi_w_res(&q, r);
    assert_int_equal(call(MAPI_OP_TBL_RESTRICT, &q, NULL), OP_S_OK);
    mapi_buf_free(&q);
}

static uint32_t table_u32(uint16_t op, uint32_t t)
{
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, t);
    assert_int_equal(call(op, &q, &r), OP_S_OK);
    uint32_t v = (uint32_t)r.data[0] | (uint32_t)r.data[1] << 8 | (uint32_t)r.data[2] << 16 |
                 (uint32_t)r.data[3] << 24;
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return v;
}

/* The notifications that arrive within 1 s, per connection (payload after it). */
static void drain_notes(uint32_t conn_a, mapi_buf *a, uint32_t conn_b, mapi_buf *b)
{
    mapi_buf r;
    mapi_buf_init(&r);
    while (tc_wait_notify(&C, 1000, &r) == 0) {
        mapi_rd rd;
        mapi_rd_init(&rd, r.data, r.len);
        uint32_t conn = mapi_r_u32(&rd);
        assert_true(conn == conn_a || conn == conn_b);
        mapi_buf *to = conn == conn_a ? a : b;
        mapi_w_u32(to, (uint32_t)(r.len - 4));
        mapi_buf_add(to, r.data + 4, r.len - 4);
        r.len = 0;
    }
    mapi_buf_free(&r);
}

static void test_lazy_equals_eager(void **state)
{
    (void)state;
    int64_t bulk = mts_folder(fs, 0, "Bulk", OUTPOST_ITEM_MAIL, 0);
    assert_true(bulk > 0);
    enum { N = 300 };
    int64_t ids[N];
    for (int i = 0; i < N; i++) {
        char subj[64], date[64];
        snprintf(subj, sizeof subj, "%s %d", i % 4 ? "Report" : "re: Meeting", (i * 37) % 101);
        snprintf(date, sizeof date, "Mon, %d Nov 2023 %02d:%02d:00 +0000", 1 + i % 28, i % 24, i % 60);
        char *m = mail(subj, date, "body");
        /* delivery times out of UID order, some equal */
        ids[i] = mts_item(fs, bulk, m, i % 3 ? OUTPOST_FLAG_SEEN : 0, 1699000000000LL + ((i * 7) % 150) * 60000LL);
        free(m);
        assert_true(ids[i] > 0);
    }
    hello();
    uint8_t eid[MAPI_EID_LEN];
    eid_of(MAPI_EID_FOLDER, bulk, eid);
    uint32_t f = open_entry(eid, MAPI_EID_LEN, NULL);
    core.eager_tables = 1;
    uint32_t eager = open_table(f, MAPI_TABLE_CONTENTS, 0);
    core.eager_tables = 0;
    uint32_t lazy = open_table(f, MAPI_TABLE_CONTENTS, 0);
    uint32_t cols[] = { OP_PR_ENTRYID, OP_PR_INSTANCE_KEY, OP_PR_SUBJECT, OP_PR_SENDER_NAME,
                        OP_PR_MESSAGE_DELIVERY_TIME, OP_PR_MESSAGE_FLAGS, OP_PR_MESSAGE_SIZE, OP_PR_MESSAGE_CLASS,
                        OP_PR_DISPLAY_TO, OP_PR_HASATTACH, OP_PR_ICON_INDEX, OP_PR_MSG_STATUS,
                        OP_PR_PARENT_ENTRYID, OP_PR_NORMALIZED_SUBJECT };
    uint32_t ncols = sizeof cols / sizeof cols[0];
    /* the default columns, UID order */
    assert_same_rows(lazy, eager, N);
    set_columns(lazy, cols, ncols);
    set_columns(eager, cols, ncols);
    assert_same_rows(lazy, eager, N);
    /* TBL_ALL_COLUMNS */
    mapi_buf q, ra, rb;
    mapi_buf_init(&q);
    mapi_buf_init(&ra);
    mapi_buf_init(&rb);
    mapi_w_u32(&q, lazy);
    mapi_w_u32(&q, 1);
    assert_int_equal(call(MAPI_OP_TBL_QUERY_COLUMNS, &q, &ra), OP_S_OK);
    mapi_w_u32(&q, eager);
    mapi_w_u32(&q, 1);
    assert_int_equal(call(MAPI_OP_TBL_QUERY_COLUMNS, &q, &rb), OP_S_OK);
    assert_int_equal(ra.len, rb.len);
    assert_memory_equal(ra.data, rb.data, ra.len);
    assert_true(ra.len > 4 * 10);
    /* Outlook's Inbox view: newest first (delivery time from the listing) */
    mapi_sort_key by_date = { OP_PR_MESSAGE_DELIVERY_TIME, OP_TABLE_SORT_DESCEND };
    table_sort(lazy, &by_date, 1);
    table_sort(eager, &by_date, 1);
    assert_same_rows(lazy, eager, N);
    /* a sort on what only the built row has: subject, then date */
    mapi_sort_key by_subject[2] = { { OP_PR_SUBJECT, OP_TABLE_SORT_ASCEND }, by_date };
    table_sort(lazy, by_subject, 2);
    table_sort(eager, by_subject, 2);
    assert_same_rows(lazy, eager, N);
    /* unread only, newest first */
    mapi_res unread = { .rt = OP_RES_BITMASK };
    unread.u.bitmask.relop = OP_BMR_EQZ;
    unread.u.bitmask.tag = OP_PR_MESSAGE_FLAGS;
    unread.u.bitmask.mask = OP_MSGFLAG_READ;
    table_restrict(lazy, &unread);
    table_restrict(eager, &unread);
    table_sort(lazy, &by_date, 1);
    table_sort(eager, &by_date, 1);
    assert_same_rows(lazy, eager, N / 3);
    table_restrict(lazy, NULL);
    table_restrict(eager, NULL);
    assert_same_rows(lazy, eager, N);

    /* bookmarks on row 20 of each, FindRow of a subject */
    mapi_w_u32(&q, lazy);
    mapi_w_u32(&q, OP_BOOKMARK_BEGINNING);
    mapi_w_u32(&q, 20);
    assert_int_equal(call(MAPI_OP_TBL_SEEK_ROW, &q, NULL), OP_S_OK);
    mapi_w_u32(&q, eager);
    mapi_w_u32(&q, OP_BOOKMARK_BEGINNING);
    mapi_w_u32(&q, 20);
    assert_int_equal(call(MAPI_OP_TBL_SEEK_ROW, &q, NULL), OP_S_OK);
    uint32_t bm_lazy = table_u32(MAPI_OP_TBL_CREATE_BOOKMARK, lazy);
    uint32_t bm_eager = table_u32(MAPI_OP_TBL_CREATE_BOOKMARK, eager);
    mapi_res meeting = { .rt = OP_RES_CONTENT };
    meeting.u.content.fuzzy = OP_FL_SUBSTRING | OP_FL_IGNORECASE;
    meeting.u.content.tag = OP_PR_SUBJECT;
    meeting.u.content.prop.tag = OP_PR_SUBJECT;
    meeting.u.content.prop.v.bin.data = (uint8_t *)"MEETING 5";
    meeting.u.content.prop.v.bin.len = 9;
    uint32_t pos[2];
    uint32_t tb[2] = { lazy, eager };
    for (int i = 0; i < 2; i++) {
        mapi_w_u32(&q, tb[i]);
        mapi_w_u8(&q, 1);
        mapi_w_res(&q, &meeting);
        mapi_w_u32(&q, OP_BOOKMARK_BEGINNING);
        mapi_w_u32(&q, 0);
        assert_int_equal(call(MAPI_OP_TBL_FIND_ROW, &q, NULL), OP_S_OK);
        pos[i] = table_u32(MAPI_OP_TBL_QUERY_POSITION, tb[i]);
    }
    assert_int_equal(pos[0], pos[1]);

    /* changes, with both tables advised: the same notifications, the same rows */
    mapi_w_u32(&q, lazy);
    ra.len = 0;
    assert_int_equal(call(MAPI_OP_TBL_ADVISE, &q, &ra), OP_S_OK);
    uint32_t conn_lazy = ra.data[0];
    mapi_w_u32(&q, eager);
    rb.len = 0;
    assert_int_equal(call(MAPI_OP_TBL_ADVISE, &q, &rb), OP_S_OK);
    uint32_t conn_eager = rb.data[0];
    mapi_buf na, nb;
    mapi_buf_init(&na);
    mapi_buf_init(&nb);
    int64_t some[3] = { ids[0], ids[3], ids[150] };
    assert_int_equal(fs->api->set_flags(fs->host, some, 3, OUTPOST_FLAGS_ADD, OUTPOST_FLAG_SEEN, NULL, NULL, NULL).code,
                     OUTPOST_OK);
    drain_notes(conn_lazy, &na, conn_eager, &nb);
    int64_t gone[2] = { ids[21], ids[200] };
    assert_int_equal(fs->api->remove(fs->host, gone, 2, 1, NULL).code, OUTPOST_OK);
    drain_notes(conn_lazy, &na, conn_eager, &nb);
    char *m = mail("Zeta late", "Thu, 30 Nov 2023 10:00:00 +0000", "new");
    assert_true(mts_item(fs, bulk, m, 0, 1699000000000LL + 75 * 60000LL) > 0);
    free(m);
    /* each change's notifications before the next: two changes close together may reach the
     * two tables in one refresh or in two, which orders their notifications differently */
    drain_notes(conn_lazy, &na, conn_eager, &nb);
    int64_t out[1] = { ids[40] };
    assert_int_equal(fs->api->move(fs->host, out, 1, f_trash, NULL, NULL).code, OUTPOST_OK);
    drain_notes(conn_lazy, &na, conn_eager, &nb);
    assert_true(na.len > 0);
    assert_int_equal(na.len, nb.len);
    assert_memory_equal(na.data, nb.data, na.len);
    assert_same_rows(lazy, eager, N - 2);
    /* the bookmarks followed their row */
    uint32_t seek_lazy, seek_eager;
    mapi_w_u32(&q, lazy);
    mapi_w_u32(&q, bm_lazy);
    mapi_w_u32(&q, 0);
    seek_lazy = call(MAPI_OP_TBL_SEEK_ROW, &q, NULL);
    mapi_w_u32(&q, eager);
    mapi_w_u32(&q, bm_eager);
    mapi_w_u32(&q, 0);
    seek_eager = call(MAPI_OP_TBL_SEEK_ROW, &q, NULL);
    assert_int_equal(seek_lazy, seek_eager);
    assert_int_equal(table_u32(MAPI_OP_TBL_QUERY_POSITION, lazy), table_u32(MAPI_OP_TBL_QUERY_POSITION, eager));
    mapi_buf_free(&na);
    mapi_buf_free(&nb);
    mapi_buf_free(&q);
    mapi_buf_free(&ra);
    mapi_buf_free(&rb);
    release(lazy);
    release(eager);
    release(f);
    tc_close(&C);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_refusals),
        cmocka_unit_test(test_store_and_hierarchy),
        cmocka_unit_test(test_inbox_contents),
        cmocka_unit_test(test_new_message_and_moves),
        cmocka_unit_test(test_calendar),
        cmocka_unit_test(test_notifications),
        cmocka_unit_test(test_associated_contents),
        cmocka_unit_test(test_copy_folder),
        cmocka_unit_test(test_fai_go_with_folder),
        cmocka_unit_test(test_delete_folder_tree),
        cmocka_unit_test(test_startup_calls),
        cmocka_unit_test(test_message_status),
        cmocka_unit_test(test_edit_received),
        cmocka_unit_test(test_search_folders),
        cmocka_unit_test(test_lazy_equals_eager),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
