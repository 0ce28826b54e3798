/* tests/mapi/test_mapi_table.c — the table engine: every restriction kind,
 * multi-key sort, paging with QueryRows/SeekRow/SeekRowApprox, bookmarks
 * that survive row changes, FindRow, and the row notifications a change of
 * the rows produces (added with the prior row, modified, deleted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapi_table.h"

static const uint32_t COLS[] = { OP_PR_INSTANCE_KEY, OP_PR_SUBJECT, OP_PR_MESSAGE_FLAGS, OP_PR_MESSAGE_DELIVERY_TIME };

/* Row i: subject "msg <i % 7>", flags read when i even, time 1000 - i,
 * categories on every third row, no sender on row 0. */
static mapi_row *make_rows(uint32_t n)
{
    mapi_row *rows = calloc(n, sizeof *rows);
    for (uint32_t i = 0; i < n; i++) {
        char subj[32];
        snprintf(subj, sizeof subj, "Msg %u", i % 7);
        rows[i].key = i + 1;
        mapi_props *p = &rows[i].props;
        mapi_props_set_key(p, OP_PR_INSTANCE_KEY, i + 1);
        mapi_props_set_str(p, OP_PR_SUBJECT, subj);
        mapi_props_set_long(p, OP_PR_MESSAGE_FLAGS, (i % 2 == 0) ? (int32_t)OP_MSGFLAG_READ : 0);
        mapi_props_set_i8(p, OP_PR_MESSAGE_DELIVERY_TIME, 1000 - (int64_t)i);
        mapi_props_set_long(p, OP_PR_MESSAGE_SIZE, (int32_t)(i * 10));
        if (i)
            mapi_props_set_str(p, OP_PR_SENDER_NAME, i % 2 ? "Alice" : "bob");
        if (i % 3 == 0) {
            const char *kw[] = { "Work", "Urgent" };
            mapi_props_set_mvstr(p, OP_PROP_TAG(OP_PT_UNICODE, 0x8001), kw, 2);
        }
    }
    return rows;
}

static mapi_table *table_with(uint32_t n)
{
    mapi_table *t = calloc(1, sizeof *t);
    assert_int_equal(mapi_table_init(t, COLS, 4), 0);
    assert_int_equal(mapi_table_replace_rows(t, make_rows(n), n, NULL, NULL), 0);
    return t;
}

static void table_free(mapi_table *t)
{
    mapi_table_free(t);
    free(t);
}

static uint32_t count_with(mapi_table *t, mapi_res *r)
{
    assert_int_equal(mapi_table_restrict(t, r), 0);
    return mapi_table_row_count(t);
}

static void set_prop_str(mapi_prop *p, uint32_t tag, const char *s)
{
    mapi_props l;
    mapi_props_init(&l);
    mapi_props_set_str(&l, tag, s);
    mapi_prop_copy(p, &l.p[0]);
    mapi_props_free(&l);
}

static void test_restrictions(void **state)
{
    (void)state;
    mapi_table *t = table_with(20);
    mapi_res r;
    memset(&r, 0, sizeof r);

    /* RES_BITMASK: unread (Outlook's "Unread" view) */
    r.rt = OP_RES_BITMASK;
    r.u.bitmask.relop = OP_BMR_EQZ;
    r.u.bitmask.tag = OP_PR_MESSAGE_FLAGS;
    r.u.bitmask.mask = OP_MSGFLAG_READ;
    assert_int_equal(count_with(t, &r), 10);
    r.u.bitmask.relop = OP_BMR_NEZ;
    assert_int_equal(count_with(t, &r), 10);

    /* RES_PROPERTY with each relop on a long */
    mapi_res p;
    memset(&p, 0, sizeof p);
    p.rt = OP_RES_PROPERTY;
    p.u.property.tag = OP_PR_MESSAGE_SIZE;
    p.u.property.prop.tag = OP_PR_MESSAGE_SIZE;
    p.u.property.prop.v.l = 100;
    uint32_t want[] = { 10, 11, 9, 10, 1, 19 }; /* LT LE GT GE EQ NE */
    for (uint32_t op = OP_RELOP_LT; op <= OP_RELOP_NE; op++) {
        p.u.property.relop = op;
        assert_int_equal(count_with(t, &p), want[op]);
    }
    /* RES_PROPERTY EQ on a string is case-sensitive; MV column: any value */
    p.u.property.relop = OP_RELOP_EQ;
    p.u.property.tag = OP_PR_SENDER_NAME;
    set_prop_str(&p.u.property.prop, OP_PR_SENDER_NAME, "Alice");
    assert_int_equal(count_with(t, &p), 10);
    mapi_prop_clear(&p.u.property.prop);
    p.u.property.tag = OP_PROP_TAG(OP_MV_FLAG | OP_PT_UNICODE, 0x8001);
    set_prop_str(&p.u.property.prop, OP_PROP_TAG(OP_PT_UNICODE, 0x8001), "Urgent");
    assert_int_equal(count_with(t, &p), 7);
    mapi_prop_clear(&p.u.property.prop);

    /* RES_CONTENT: substring + ignore case, prefix, full string */
    mapi_res c;
    memset(&c, 0, sizeof c);
    c.rt = OP_RES_CONTENT;
    c.u.content.tag = OP_PR_SUBJECT;
    c.u.content.fuzzy = OP_FL_SUBSTRING | OP_FL_IGNORECASE;
    set_prop_str(&c.u.content.prop, OP_PR_SUBJECT, "SG 3");
    assert_int_equal(count_with(t, &c), 3); /* rows 3, 10, 17 */
    c.u.content.fuzzy = OP_FL_SUBSTRING;
    assert_int_equal(count_with(t, &c), 0);
    c.u.content.fuzzy = OP_FL_PREFIX | OP_FL_LOOSE;
    mapi_prop_clear(&c.u.content.prop);
    set_prop_str(&c.u.content.prop, OP_PR_SUBJECT, "msg");
    assert_int_equal(count_with(t, &c), 20);
    c.u.content.fuzzy = OP_FL_FULLSTRING;
    mapi_prop_clear(&c.u.content.prop);
    set_prop_str(&c.u.content.prop, OP_PR_SUBJECT, "Msg 0");
    assert_int_equal(count_with(t, &c), 3);

    /* RES_EXIST: every row but row 0 has a sender */
    mapi_res e;
    memset(&e, 0, sizeof e);
    e.rt = OP_RES_EXIST;
    e.u.exist.tag = OP_PR_SENDER_NAME;
    assert_int_equal(count_with(t, &e), 19);

    /* RES_NOT, RES_AND, RES_OR nesting: unread AND (NOT sender exists OR subject "Msg 0") */
    mapi_res n = { .rt = OP_RES_NOT };
    n.u.not_ = &e;
    assert_int_equal(count_with(t, &n), 1);
    mapi_res orr = { .rt = OP_RES_OR };
    mapi_res ors[2];
    ors[0] = n;
    ors[1] = c;
    orr.u.sub.n = 2;
    orr.u.sub.r = ors;
    assert_int_equal(count_with(t, &orr), 3); /* rows 0, 7, 14 */
    r.u.bitmask.relop = OP_BMR_EQZ;
    mapi_res andr = { .rt = OP_RES_AND };
    mapi_res ands[2];
    ands[0] = r;
    ands[1] = orr;
    andr.u.sub.n = 2;
    andr.u.sub.r = ands;
    assert_int_equal(count_with(t, &andr), 1); /* row 7 */

    /* RES_SIZE and RES_COMPAREPROPS */
    mapi_res sz = { .rt = OP_RES_SIZE };
    sz.u.size.relop = OP_RELOP_GT;
    sz.u.size.tag = OP_PR_SENDER_NAME;
    sz.u.size.size = 5;
    assert_int_equal(count_with(t, &sz), 10); /* "Alice" + NUL */
    mapi_res cp = { .rt = OP_RES_COMPAREPROPS };
    cp.u.compare.relop = OP_RELOP_LT;
    cp.u.compare.tag1 = OP_PR_MESSAGE_SIZE;
    cp.u.compare.tag2 = OP_PR_MESSAGE_FLAGS;
    assert_int_equal(count_with(t, &cp), 1); /* row 0: size 0 < flags 1 */
    cp.u.compare.relop = OP_RELOP_GE;
    assert_int_equal(count_with(t, &cp), 19);

    /* removing the restriction shows everything */
    assert_int_equal(count_with(t, NULL), 20);
    mapi_prop_clear(&c.u.content.prop);
    table_free(t);
}

static void test_sort(void **state)
{
    (void)state;
    mapi_table *t = table_with(20);
    mapi_sort_key keys[2] = { { OP_PR_SUBJECT, OP_TABLE_SORT_ASCEND },
                              { OP_PR_MESSAGE_DELIVERY_TIME, OP_TABLE_SORT_DESCEND } };
    mapi_sort s = { 2, 0, 0, keys };
    assert_int_equal(mapi_table_sort(t, &s), OP_S_OK);
    mapi_props *rows;
    uint32_t n;
    assert_int_equal(mapi_table_query_rows(t, 100, 0, &rows, &n), 0);
    assert_int_equal(n, 20);
    /* "Msg 0" rows 0, 7, 14 by time descending (1000, 993, 986) */
    assert_string_equal(mapi_props_str(&rows[0], OP_PR_SUBJECT), "Msg 0");
    assert_int_equal(mapi_props_i8(&rows[0], OP_PR_MESSAGE_DELIVERY_TIME, 0), 1000);
    assert_int_equal(mapi_props_i8(&rows[2], OP_PR_MESSAGE_DELIVERY_TIME, 0), 986);
    assert_string_equal(mapi_props_str(&rows[3], OP_PR_SUBJECT), "Msg 1");
    for (uint32_t i = 1; i < n; i++) {
        const char *a = mapi_props_str(&rows[i - 1], OP_PR_SUBJECT), *b = mapi_props_str(&rows[i], OP_PR_SUBJECT);
        assert_true(strcmp(a, b) <= 0);
    }
    for (uint32_t i = 0; i < n; i++)
        mapi_props_free(&rows[i]);
    free(rows);
    /* a missing value sorts last ascending */
    mapi_sort_key k2 = { OP_PR_SENDER_NAME, OP_TABLE_SORT_ASCEND };
    mapi_sort s2 = { 1, 0, 0, &k2 };
    assert_int_equal(mapi_table_sort(t, &s2), OP_S_OK);
    assert_int_equal(mapi_table_seek(t, OP_BOOKMARK_END, -1, NULL), OP_S_OK);
    assert_int_equal(mapi_table_query_rows(t, 1, 0, &rows, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(OP_PROP_TYPE(rows[0].p[1].tag), OP_PT_UNICODE);
    mapi_props_free(&rows[0]);
    free(rows);
    /* categorized views are refused clearly */
    mapi_sort cat = { 1, 1, 1, &k2 };
    assert_int_equal(mapi_table_sort(t, &cat), OP_MAPI_E_TOO_COMPLEX);
    table_free(t);
}

static void test_paging_and_bookmarks(void **state)
{
    (void)state;
    mapi_table *t = table_with(10000);
    mapi_props *rows;
    uint32_t n, total = 0;
    /* page through 10k rows in pages of 333 */
    for (;;) {
        assert_int_equal(mapi_table_query_rows(t, 333, 0, &rows, &n), 0);
        if (!n)
            break;
        assert_int_equal(rows[0].p[0].v.bin.data[0] | (rows[0].p[0].v.bin.data[1] << 8), (total + 1) & 0xFFFF);
        for (uint32_t i = 0; i < n; i++)
            mapi_props_free(&rows[i]);
        free(rows);
        total += n;
    }
    assert_int_equal(total, 10000);
    uint32_t row, num, den;
    mapi_table_position(t, &row, &num, &den);
    assert_int_equal(row, 10000);
    int32_t sought;
    assert_int_equal(mapi_table_seek(t, OP_BOOKMARK_BEGINNING, 50, &sought), OP_S_OK);
    assert_int_equal(sought, 50);
    assert_int_equal(mapi_table_seek(t, OP_BOOKMARK_CURRENT, -100, &sought), OP_S_OK);
    assert_int_equal(sought, -50);
    assert_int_equal(mapi_table_seek_approx(t, 1, 2), OP_S_OK);
    mapi_table_position(t, &row, &num, &den);
    assert_int_equal(row, 5000);
    /* a bookmark on row 5000 (key 5001) */
    uint32_t bm;
    assert_int_equal(mapi_table_bookmark(t, &bm), OP_S_OK);
    assert_true(bm > OP_BOOKMARK_END);
    /* backwards read: the 10 rows before the cursor */
    assert_int_equal(mapi_table_query_rows(t, -10, 0, &rows, &n), 0);
    assert_int_equal(n, 10);
    mapi_table_position(t, &row, &num, &den);
    assert_int_equal(row, 4990);
    for (uint32_t i = 0; i < n; i++)
        mapi_props_free(&rows[i]);
    free(rows);
    /* rows before the bookmark disappear: it still points at its row */
    mapi_row *fewer = make_rows(10000);
    for (uint32_t i = 0; i < 100; i++)
        mapi_props_free(&fewer[i].props);
    memmove(fewer, fewer + 100, (10000 - 100) * sizeof *fewer);
    assert_int_equal(mapi_table_replace_rows(t, fewer, 9900, NULL, NULL), 0);
    assert_int_equal(mapi_table_seek(t, bm, 0, &sought), OP_S_OK);
    mapi_table_position(t, &row, &num, &den);
    assert_int_equal(row, 4900);
    assert_int_equal(mapi_table_free_bookmark(t, bm), OP_S_OK);
    assert_int_equal(mapi_table_seek(t, bm, 0, &sought), OP_MAPI_E_INVALID_BOOKMARK);
    /* FindRow forward and backward */
    mapi_res r = { .rt = OP_RES_PROPERTY };
    r.u.property.relop = OP_RELOP_EQ;
    r.u.property.tag = OP_PR_MESSAGE_SIZE;
    r.u.property.prop.tag = OP_PR_MESSAGE_SIZE;
    r.u.property.prop.v.l = 2000 * 10;
    assert_int_equal(mapi_table_find_row(t, &r, OP_BOOKMARK_BEGINNING, 0), OP_S_OK);
    mapi_table_position(t, &row, &num, &den);
    assert_int_equal(row, 1900);
    assert_int_equal(mapi_table_find_row(t, &r, OP_BOOKMARK_CURRENT, OP_DIR_BACKWARD), OP_MAPI_E_NOT_FOUND);
    assert_int_equal(mapi_table_find_row(t, &r, OP_BOOKMARK_END, OP_DIR_BACKWARD), OP_S_OK);
    table_free(t);
}

struct events {
    uint32_t added, deleted, modified;
    uint64_t last_key, last_prior;
};

static void on_ev(void *ctx, uint32_t event, uint64_t key, uint64_t prior, const mapi_props *row)
{
    struct events *e = ctx;
    if (event == OP_TABLE_ROW_ADDED)
        e->added++;
    else if (event == OP_TABLE_ROW_DELETED)
        e->deleted++;
    else if (event == OP_TABLE_ROW_MODIFIED)
        e->modified++;
    if (event != OP_TABLE_ROW_DELETED)
        assert_non_null(row);
    e->last_key = key;
    e->last_prior = prior;
}

static void test_notifications(void **state)
{
    (void)state;
    mapi_table *t = table_with(5);
    mapi_sort_key k = { OP_PR_MESSAGE_DELIVERY_TIME, OP_TABLE_SORT_ASCEND };
    mapi_sort s = { 1, 0, 0, &k };
    mapi_table_sort(t, &s); /* keys 5,4,3,2,1 */
    struct events e = { 0 };
    /* same rows: no events */
    mapi_table_replace_rows(t, make_rows(5), 5, on_ev, &e);
    assert_int_equal(e.added + e.deleted + e.modified, 0);
    /* a sixth row (time 994) sorts first: added, no prior row */
    mapi_table_replace_rows(t, make_rows(6), 6, on_ev, &e);
    assert_int_equal(e.added, 1);
    assert_int_equal(e.last_key, 6);
    assert_int_equal(e.last_prior, 0);
    /* row 3 read: modified */
    memset(&e, 0, sizeof e);
    mapi_row *rows = make_rows(6);
    mapi_props_set_long(&rows[3].props, OP_PR_MESSAGE_FLAGS, (int32_t)OP_MSGFLAG_READ);
    mapi_table_replace_rows(t, rows, 6, on_ev, &e);
    assert_int_equal(e.modified, 1);
    assert_int_equal(e.last_key, 4);
    assert_int_equal(e.last_prior, 5);
    /* a change outside the columns is not a modification */
    memset(&e, 0, sizeof e);
    rows = make_rows(6);
    mapi_props_set_long(&rows[3].props, OP_PR_MESSAGE_FLAGS, (int32_t)OP_MSGFLAG_READ);
    mapi_props_set_long(&rows[3].props, OP_PR_MESSAGE_SIZE, 5);
    mapi_table_replace_rows(t, rows, 6, on_ev, &e);
    assert_int_equal(e.modified, 0);
    /* rows filtered by a restriction do not notify */
    mapi_res r = { .rt = OP_RES_BITMASK };
    r.u.bitmask.relop = OP_BMR_NEZ;
    r.u.bitmask.tag = OP_PR_MESSAGE_FLAGS;
    r.u.bitmask.mask = OP_MSGFLAG_READ;
    mapi_table_restrict(t, &r); /* read rows: keys 1, 3, 4, 5 */
    assert_int_equal(mapi_table_row_count(t), 4);
    memset(&e, 0, sizeof e);
    rows = make_rows(6); /* row 3 unread again, row 1 (unread) changes subject */
    mapi_props_set_str(&rows[1].props, OP_PR_SUBJECT, "changed");
    mapi_table_replace_rows(t, rows, 6, on_ev, &e);
    assert_int_equal(e.deleted, 1);
    assert_int_equal(e.last_key, 4);
    assert_int_equal(e.modified, 0);
    /* deleting everything */
    memset(&e, 0, sizeof e);
    mapi_table_replace_rows(t, make_rows(0), 0, on_ev, &e);
    assert_int_equal(e.deleted, 3);
    table_free(t);
}

static void test_projection(void **state)
{
    (void)state;
    mapi_props src, out;
    mapi_props_init(&src);
    mapi_props_init(&out);
    mapi_props_set_str(&src, OP_PR_SUBJECT, "x");
    mapi_props_set_long(&src, OP_PR_MESSAGE_FLAGS, 1);
    uint32_t tags[] = { OP_CHANGE_PROP_TYPE(OP_PR_SUBJECT, OP_PT_STRING8), OP_CHANGE_PROP_TYPE(OP_PR_MESSAGE_FLAGS, 0),
                        OP_PR_BODY, OP_CHANGE_PROP_TYPE(OP_PR_SUBJECT, OP_PT_LONG) };
    assert_int_equal(mapi_props_project(&src, tags, 4, &out), 2);
    assert_int_equal(out.p[0].tag, tags[0]);
    assert_int_equal(out.p[1].tag, OP_PR_MESSAGE_FLAGS);
    assert_int_equal(out.p[2].tag, OP_CHANGE_PROP_TYPE(OP_PR_BODY, OP_PT_ERROR));
    assert_int_equal((uint32_t)out.p[2].v.l, OP_MAPI_E_NOT_FOUND);
    assert_int_equal(OP_PROP_TYPE(out.p[3].tag), OP_PT_ERROR);
    mapi_props_free(&src);
    mapi_props_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restrictions),
        cmocka_unit_test(test_sort),
        cmocka_unit_test(test_paging_and_bookmarks),
        cmocka_unit_test(test_notifications),
        cmocka_unit_test(test_projection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
