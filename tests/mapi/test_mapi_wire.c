/* tests/mapi/test_mapi_wire.c — wire codec: every property type (single and
 * multi-valued) round-trips, restrictions and sort orders round-trip,
 * frames parse, truncated or hostile input is refused; entry ids round-trip
 * and foreign ones are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "mapi_eid.h"
#include "mapi_fai.h"
#include "mapi_search.h"
#include "mapi_wire.h"

static void roundtrip_props(const mapi_props *in)
{
    mapi_buf b;
    mapi_buf_init(&b);
    mapi_w_props(&b, in);
    mapi_rd r;
    mapi_rd_init(&r, b.data, b.len);
    mapi_props out;
    mapi_props_init(&out);
    assert_int_equal(mapi_r_props(&r, &out), 0);
    assert_int_equal(r.left, 0);
    assert_int_equal(out.n, in->n);
    for (uint32_t i = 0; i < in->n; i++)
        assert_true(mapi_prop_equal(&in->p[i], &out.p[i]));
    /* every truncation is refused, never read past the end */
    for (size_t cut = 0; cut < b.len; cut++) {
        mapi_props t;
        mapi_props_init(&t);
        mapi_rd_init(&r, b.data, cut);
        assert_int_not_equal(mapi_r_props(&r, &t), 0);
        mapi_props_free(&t);
    }
    mapi_props_free(&out);
    mapi_buf_free(&b);
}

static void test_every_type(void **state)
{
    (void)state;
    mapi_props l;
    mapi_props_init(&l);
    mapi_props_set_long(&l, OP_PR_MESSAGE_FLAGS, -5);
    mapi_props_set_bool(&l, OP_PR_HASATTACH, 1);
    mapi_props_set_i8(&l, OP_PR_MESSAGE_DELIVERY_TIME, mapi_filetime_from_ms(1700000000123LL));
    mapi_props_set_i8(&l, OP_PROP_TAG(OP_PT_I8, 0x6601), INT64_MIN);
    mapi_props_set_double(&l, OP_PROP_TAG(OP_PT_DOUBLE, 0x8102), 0.25);
    mapi_props_set_str(&l, OP_PR_SUBJECT, "Grüße ☃");
    mapi_props_set_bin(&l, OP_PR_ENTRYID, "\0\1\2\3", 4);
    mapi_props_set_bin(&l, OP_PROP_TAG(OP_PT_CLSID, 0x6602), "0123456789abcdef", 16);
    const char *kw[] = { "Red", "Blue category" };
    mapi_props_set_mvstr(&l, OP_PROP_TAG(OP_PT_UNICODE, 0x8001), kw, 2);
    const void *bins[] = { "ab", "" };
    uint32_t lens[] = { 2, 0 };
    mapi_props_set_mvbin(&l, 0x36D81102u, bins, lens, 2);
    mapi_prop mvl = { .tag = OP_PROP_TAG(OP_MV_FLAG | OP_PT_LONG, 0x6603), .count = 3 };
    mapi_val vals[3] = { { .l = 1 }, { .l = -2 }, { .l = 3 } };
    mvl.mv = vals;
    mapi_props_put(&l, &mvl);
    mapi_prop err = { .tag = OP_CHANGE_PROP_TYPE(OP_PR_BODY, OP_PT_ERROR) };
    err.v.l = (int32_t)OP_MAPI_E_NOT_FOUND;
    mapi_props_put(&l, &err);
    assert_int_equal(l.n, 12);
    roundtrip_props(&l);
    assert_string_equal(mapi_props_str(&l, OP_PR_SUBJECT), "Grüße ☃");
    assert_int_equal(mapi_filetime_to_ms(mapi_props_i8(&l, OP_PR_MESSAGE_DELIVERY_TIME, 0)), 1700000000123LL);
    mapi_props_free(&l);
}

static void test_hostile_props(void **state)
{
    (void)state;
    /* an MV count far beyond the bytes present: refused without allocating it */
    uint8_t buf[] = { 1, 0, 0, 0, 0x03, 0x10, 0x01, 0x66, 0xff, 0xff, 0xff, 0x7f };
    mapi_rd r;
    mapi_rd_init(&r, buf, sizeof buf);
    mapi_props l;
    mapi_props_init(&l);
    assert_int_not_equal(mapi_r_props(&r, &l), 0);
    /* an unknown type */
    uint8_t bad[] = { 1, 0, 0, 0, 0x99, 0x00, 0x01, 0x66, 0, 0, 0, 0 };
    mapi_rd_init(&r, bad, sizeof bad);
    assert_int_not_equal(mapi_r_props(&r, &l), 0);
    /* a CLSID that is not 16 bytes */
    uint8_t clsid[] = { 1, 0, 0, 0, 0x48, 0x00, 0x01, 0x66, 2, 0, 0, 0, 'a', 'b' };
    mapi_rd_init(&r, clsid, sizeof clsid);
    assert_int_not_equal(mapi_r_props(&r, &l), 0);
    /* a string with an embedded NUL */
    uint8_t nul[] = { 1, 0, 0, 0, 0x1f, 0x00, 0x37, 0x00, 3, 0, 0, 0, 'a', 0, 'b' };
    mapi_rd_init(&r, nul, sizeof nul);
    assert_int_not_equal(mapi_r_props(&r, &l), 0);
    mapi_props_free(&l);
}

static mapi_res *sample_res(void)
{
    mapi_res *r = calloc(1, sizeof *r);
    r->rt = OP_RES_AND;
    r->u.sub.n = 3;
    r->u.sub.r = calloc(3, sizeof(mapi_res));
    mapi_res *c = &r->u.sub.r[0];
    c->rt = OP_RES_CONTENT;
    c->u.content.fuzzy = OP_FL_SUBSTRING | OP_FL_IGNORECASE;
    c->u.content.tag = OP_PR_SUBJECT;
    mapi_props tmp;
    mapi_props_init(&tmp);
    mapi_props_set_str(&tmp, OP_PR_SUBJECT, "hello");
    mapi_prop_copy(&c->u.content.prop, &tmp.p[0]);
    mapi_props_free(&tmp);
    mapi_res *n = &r->u.sub.r[1];
    n->rt = OP_RES_NOT;
    n->u.not_ = calloc(1, sizeof(mapi_res));
    n->u.not_->rt = OP_RES_BITMASK;
    n->u.not_->u.bitmask.relop = OP_BMR_NEZ;
    n->u.not_->u.bitmask.tag = OP_PR_MESSAGE_FLAGS;
    n->u.not_->u.bitmask.mask = OP_MSGFLAG_READ;
    mapi_res *e = &r->u.sub.r[2];
    e->rt = OP_RES_OR;
    e->u.sub.n = 2;
    e->u.sub.r = calloc(2, sizeof(mapi_res));
    e->u.sub.r[0].rt = OP_RES_EXIST;
    e->u.sub.r[0].u.exist.tag = OP_PR_SENDER_NAME;
    e->u.sub.r[1].rt = OP_RES_COMMENT;
    mapi_props_set_long(&e->u.sub.r[1].u.comment.props, OP_PROP_TAG(OP_PT_LONG, 0x6604), 7);
    return r;
}

static void test_restriction_roundtrip(void **state)
{
    (void)state;
    mapi_res *r = sample_res();
    mapi_buf b, b2;
    mapi_buf_init(&b);
    mapi_buf_init(&b2);
    mapi_w_res(&b, r);
    mapi_rd rd;
    mapi_rd_init(&rd, b.data, b.len);
    mapi_res *back = mapi_r_res(&rd);
    assert_non_null(back);
    assert_int_equal(rd.left, 0);
    mapi_w_res(&b2, back);
    assert_int_equal(b.len, b2.len);
    assert_memory_equal(b.data, b2.data, b.len);
    mapi_res *dup = mapi_res_dup(back);
    assert_non_null(dup);
    for (size_t cut = 0; cut < b.len; cut++) {
        mapi_rd_init(&rd, b.data, cut);
        assert_null(mapi_r_res(&rd));
    }
    mapi_res_free(r);
    mapi_res_free(back);
    mapi_res_free(dup);
    mapi_buf_free(&b);
    mapi_buf_free(&b2);
}

static void test_deep_restriction_refused(void **state)
{
    (void)state;
    mapi_buf b;
    mapi_buf_init(&b);
    for (int i = 0; i < 1000; i++)
        mapi_w_u32(&b, OP_RES_NOT);
    mapi_w_u32(&b, OP_RES_EXIST);
    mapi_w_u32(&b, OP_PR_SUBJECT);
    mapi_rd rd;
    mapi_rd_init(&rd, b.data, b.len);
    assert_null(mapi_r_res(&rd));
    mapi_buf_free(&b);
}

static void test_frames_and_requests(void **state)
{
    (void)state;
    mapi_buf b;
    mapi_buf_init(&b);
    size_t st = mapi_w_begin(&b, MAPI_OP_TBL_QUERY_ROWS, 0, 77);
    mapi_w_u32(&b, 5);
    mapi_w_u32(&b, (uint32_t)-10);
    mapi_w_u32(&b, OP_TBL_NOADVANCE);
    mapi_w_end(&b, st);
    mapi_frame f;
    size_t used;
    assert_int_equal(mapi_frame_parse(b.data, b.len - 1, &f, &used), 0);
    assert_int_equal(mapi_frame_parse(b.data, b.len, &f, &used), 1);
    assert_int_equal(used, b.len);
    assert_int_equal(f.op, MAPI_OP_TBL_QUERY_ROWS);
    assert_int_equal(f.id, 77);
    mapi_req q;
    assert_int_equal(mapi_req_decode(f.op, f.payload, f.payload_len, &q), 0);
    assert_int_equal(q.h, 5);
    assert_int_equal(q.count, -10);
    assert_int_equal(q.flags, OP_TBL_NOADVANCE);
    mapi_req_clear(&q);
    /* trailing bytes and short payloads are malformed */
    assert_int_not_equal(mapi_req_decode(f.op, f.payload, f.payload_len - 1, &q), 0);
    uint8_t more[64];
    memcpy(more, f.payload, f.payload_len);
    more[f.payload_len] = 0;
    assert_int_not_equal(mapi_req_decode(f.op, more, f.payload_len + 1, &q), 0);
    assert_int_not_equal(mapi_req_decode(9999, f.payload, f.payload_len, &q), 0);
    /* COPY_FOLDER: parent handle, folder, destination, new name, flags */
    mapi_buf cf;
    mapi_buf_init(&cf);
    mapi_w_u32(&cf, 7);
    mapi_w_bin(&cf, "src", 3);
    mapi_w_bin(&cf, "dest", 4);
    mapi_w_str(&cf, "New name");
    mapi_w_u32(&cf, OP_FOLDER_MOVE | OP_COPY_SUBFOLDERS);
    assert_int_equal(mapi_req_decode(MAPI_OP_COPY_FOLDER, cf.data, cf.len, &q), 0);
    assert_int_equal(q.h, 7);
    assert_true(q.bin.len == 3 && !memcmp(q.bin.p, "src", 3));
    assert_true(q.bin2.len == 4 && !memcmp(q.bin2.p, "dest", 4));
    assert_string_equal(q.str, "New name");
    assert_int_equal(q.flags, OP_FOLDER_MOVE | OP_COPY_SUBFOLDERS);
    mapi_req_clear(&q);
    assert_int_not_equal(mapi_req_decode(MAPI_OP_COPY_FOLDER, cf.data, cf.len - 1, &q), 0);
    /* SET_RECEIVE_FOLDER: class, folder (empty: back to the fixed one) */
    cf.len = 0;
    mapi_w_str(&cf, "IPM.Note");
    mapi_w_bin(&cf, NULL, 0);
    assert_int_equal(mapi_req_decode(MAPI_OP_SET_RECEIVE_FOLDER, cf.data, cf.len, &q), 0);
    assert_string_equal(q.str, "IPM.Note");
    assert_int_equal(q.bin.len, 0);
    mapi_req_clear(&q);
    assert_int_not_equal(mapi_req_decode(MAPI_OP_SET_RECEIVE_FOLDER, cf.data, cf.len - 1, &q), 0);
    mapi_buf_free(&cf);
    /* a frame larger than the limit */
    uint8_t huge[12] = { 0xff, 0xff, 0xff, 0x7f };
    assert_int_equal(mapi_frame_parse(huge, sizeof huge, &f, &used), -1);
    uint8_t tiny[12] = { 2, 0, 0, 0 };
    assert_int_equal(mapi_frame_parse(tiny, sizeof tiny, &f, &used), -1);
    mapi_buf_free(&b);
}

static void test_sort_and_names(void **state)
{
    (void)state;
    mapi_sort s = { 0 };
    mapi_sort_key keys[2] = { { OP_PR_MESSAGE_DELIVERY_TIME, OP_TABLE_SORT_DESCEND }, { OP_PR_SUBJECT, 0 } };
    s.n = 2;
    s.keys = keys;
    mapi_buf b;
    mapi_buf_init(&b);
    mapi_w_sort(&b, &s);
    mapi_name n = { .kind = MAPI_MNID_STRING, .name = "Keywords" };
    memcpy(n.guid, "0123456789abcdef", 16);
    mapi_w_name(&b, &n);
    mapi_rd r;
    mapi_rd_init(&r, b.data, b.len);
    mapi_sort s2;
    assert_int_equal(mapi_r_sort(&r, &s2), 0);
    assert_int_equal(s2.n, 2);
    assert_int_equal(s2.keys[0].order, OP_TABLE_SORT_DESCEND);
    mapi_name n2;
    assert_int_equal(mapi_r_name(&r, &n2), 0);
    assert_string_equal(n2.name, "Keywords");
    assert_int_equal(r.left, 0);
    mapi_sort_clear(&s2);
    mapi_name_clear(&n2);
    mapi_buf_free(&b);
}

static void test_entry_ids(void **state)
{
    (void)state;
    mapi_eid e = { .kind = MAPI_EID_MESSAGE, .id = 0x123456789ALL };
    memcpy(e.guid, "GUIDGUIDGUIDGUID", 16);
    uint8_t b[MAPI_EID_LEN];
    mapi_eid_encode(&e, b);
    mapi_eid d;
    assert_int_equal(mapi_eid_decode_for(b, sizeof b, e.guid, &d), 0);
    assert_int_equal(d.kind, MAPI_EID_MESSAGE);
    assert_int_equal(d.id, 0x123456789ALL);
    /* stable: the same item gives the same bytes */
    uint8_t b2[MAPI_EID_LEN];
    mapi_eid_encode(&e, b2);
    assert_memory_equal(b, b2, MAPI_EID_LEN);
    /* another store's GUID, a wrong length, flags or version are refused */
    assert_int_not_equal(mapi_eid_decode_for(b, sizeof b, (const uint8_t *)"OTHERSTOREGUID!!", &d), 0);
    assert_int_not_equal(mapi_eid_decode(b, sizeof b - 1, &d), 0);
    b2[0] = 1;
    assert_int_not_equal(mapi_eid_decode(b2, sizeof b2, &d), 0);
    mapi_eid_encode(&e, b2);
    b2[20] = 9;
    assert_int_not_equal(mapi_eid_decode(b2, sizeof b2, &d), 0);
    e.kind = MAPI_EID_VIRTUAL;
    e.id = 99;
    mapi_eid_encode(&e, b2);
    assert_int_not_equal(mapi_eid_decode(b2, sizeof b2, &d), 0);
}

static void test_fai_codec(void **state)
{
    (void)state;
    /* keys: folder id + UIDVALIDITY, or the virtual folder's number */
    char key[MAPI_FAI_KEY_MAX];
    mapi_fai_where w = { 0, 42, 7 }, back;
    mapi_fai_key(&w, key);
    assert_string_equal(key, "mapi.fai.42.7");
    assert_int_equal(mapi_fai_key_parse(key, &back), 0);
    assert_int_equal(back.vf, 0);
    assert_int_equal(back.folder, 42);
    assert_int_equal(back.uidvalidity, 7);
    mapi_fai_where v = { MAPI_VF_COMMON_VIEWS, 0, 0 };
    mapi_fai_key(&v, key);
    assert_string_equal(key, "mapi.fai.v5");
    assert_int_equal(mapi_fai_key_parse(key, &back), 0);
    assert_int_equal(back.vf, MAPI_VF_COMMON_VIEWS);
    const char *bad[] = { "mapi.fai", "mapi.fai.", "mapi.fai.v9", "mapi.fai.v0", "mapi.fai.42", "mapi.fai.42.",
                          "mapi.fai.0.1", "mapi.fai.42.7x", "mapi.fai.42.4294967296", "mapi.names",
                          "mapi.fai.99999999999999999999.1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(mapi_fai_key_parse(bad[i], &back), 0);

    /* entry ids carry the folder and the number */
    uint32_t vf, num;
    int64_t folder;
    int64_t id = mapi_fai_eid_id(&w, 3);
    assert_true(id > 0);
    assert_int_equal(mapi_fai_eid_split(id, &vf, &folder, &num), 0);
    assert_int_equal(vf, 0);
    assert_int_equal(folder, 42);
    assert_int_equal(num, 3);
    id = mapi_fai_eid_id(&v, MAPI_FAI_NUM_MAX);
    assert_int_equal(mapi_fai_eid_split(id, &vf, &folder, &num), 0);
    assert_int_equal(vf, MAPI_VF_COMMON_VIEWS);
    assert_int_equal(num, MAPI_FAI_NUM_MAX);
    assert_int_equal(mapi_fai_eid_id(&w, 0), 0);
    assert_int_equal(mapi_fai_eid_id(&w, MAPI_FAI_NUM_MAX + 1), 0);
    mapi_fai_where huge = { 0, 1ll << 36, 1 };
    assert_int_equal(mapi_fai_eid_id(&huge, 1), 0);
    assert_int_not_equal(mapi_fai_eid_split(5, &vf, &folder, &num), 0);                /* no folder part */
    assert_int_not_equal(mapi_fai_eid_split((int64_t)6 << 24 | 1, &vf, &folder, &num), 0); /* no such virtual folder */
    mapi_eid e = { .kind = MAPI_EID_ASSOC, .id = mapi_fai_eid_id(&w, 3) }, d;
    memcpy(e.guid, "GUIDGUIDGUIDGUID", 16);
    uint8_t b[MAPI_EID_LEN];
    mapi_eid_encode(&e, b);
    assert_int_equal(mapi_eid_decode(b, sizeof b, &d), 0);
    assert_int_equal(d.kind, MAPI_EID_ASSOC);
    b[21] = MAPI_EID_SEARCH; /* a search folder's number: any positive id */
    assert_int_equal(mapi_eid_decode(b, sizeof b, &d), 0);
    assert_int_equal(d.kind, MAPI_EID_SEARCH);
    b[21] = MAPI_EID_SEARCH + 1;
    assert_int_not_equal(mapi_eid_decode(b, sizeof b, &d), 0);

    /* a set survives encoding: properties, recipients, attachments */
    mapi_fai_set s, r;
    mapi_fai_set_init(&s);
    mapi_message m;
    memset(&m, 0, sizeof m);
    mapi_props_set_str(&m.props, OP_PR_MESSAGE_CLASS, "IPM.Configuration.CategoryList");
    uint8_t blob[300];
    for (size_t i = 0; i < sizeof blob; i++)
        blob[i] = (uint8_t)i;
    mapi_props_set_bin(&m.props, 0x7C080102u, blob, sizeof blob);
    m.nrecips = 1;
    m.recips = calloc(1, sizeof *m.recips);
    mapi_props_set_str(&m.recips[0], OP_PR_DISPLAY_NAME, "Carol");
    m.natts = 1;
    m.atts = calloc(1, sizeof *m.atts);
    m.atts[0].num = 4;
    mapi_props_set_bin(&m.atts[0].props, OP_PR_ATTACH_DATA_BIN, "data", 4);
    assert_int_equal(mapi_fai_put(&s, 1, &m), 0);
    mapi_props_set_str(&m.props, OP_PR_SUBJECT, "second");
    assert_int_equal(mapi_fai_put(&s, 2, &m), 0);
    assert_int_equal(s.next, 3);
    assert_int_equal(mapi_fai_put(&s, 1, &m), 0); /* replaces */
    assert_int_equal(s.n, 2);
    mapi_message_free(&m);
    mapi_buf buf;
    mapi_buf_init(&buf);
    mapi_fai_encode(&s, &buf);
    assert_int_equal(mapi_fai_count(buf.data, buf.len), 2);
    assert_int_equal(mapi_fai_decode(buf.data, buf.len, &r), 0);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.next, 3);
    const mapi_fai_msg *fm = mapi_fai_find(&r, 1);
    assert_non_null(fm);
    assert_string_equal(mapi_props_str(&fm->msg.props, OP_PR_SUBJECT), "second");
    assert_memory_equal(mapi_props_bin(&fm->msg.props, 0x7C080102u)->bin.data, blob, sizeof blob);
    assert_int_equal(fm->msg.nrecips, 1);
    assert_string_equal(mapi_props_str(&fm->msg.recips[0], OP_PR_DISPLAY_NAME), "Carol");
    assert_int_equal(fm->msg.natts, 1);
    assert_int_equal(fm->msg.atts[0].num, 4);
    assert_int_equal(fm->msg.next_att, 5);
    assert_true(mapi_fai_msg_size(&fm->msg) > sizeof blob);
    assert_int_equal(mapi_fai_remove(&r, 1), 1);
    assert_int_equal(mapi_fai_remove(&r, 1), 0);
    assert_int_equal(r.n, 1);
    mapi_fai_set_free(&r);

    /* damaged values are refused, never half read: every truncation, a bad
     * magic, trailing bytes, a duplicate or out-of-range number */
    for (size_t cut = 0; cut < buf.len; cut++) {
        assert_int_not_equal(mapi_fai_decode(buf.data, cut, &r), 0);
        assert_int_equal(r.n, 0);
    }
    mapi_buf_addc(&buf, 0);
    assert_int_not_equal(mapi_fai_decode(buf.data, buf.len, &r), 0);
    buf.len--;
    buf.data[0] ^= 1;
    assert_int_not_equal(mapi_fai_decode(buf.data, buf.len, &r), 0);
    assert_int_equal(mapi_fai_count(buf.data, buf.len), 0);
    buf.data[0] ^= 1;
    s.v[1].num = s.v[0].num;
    buf.len = 0;
    mapi_fai_encode(&s, &buf);
    assert_int_not_equal(mapi_fai_decode(buf.data, buf.len, &r), 0);
    s.v[1].num = 9; /* >= next */
    buf.len = 0;
    mapi_fai_encode(&s, &buf);
    assert_int_not_equal(mapi_fai_decode(buf.data, buf.len, &r), 0);
    mapi_buf_free(&buf);
    mapi_fai_set_free(&s);
}

/* The search folders' value: criteria survive encoding; numbers are never
 * given twice; a damaged value is refused. */
static void test_search_codec(void **state)
{
    (void)state;
    mapi_search_set s, r;
    mapi_search_set_init(&s);
    mapi_search_folder *a, *b;
    assert_int_equal(mapi_search_add(&s, "Reminders", "Outlook.Reminder", &a), 0);
    assert_int_equal(mapi_search_add(&s, "To-Do", NULL, &b), 0);
    assert_int_equal(b->num, 2);
    b->has_criteria = 1;
    b->flags = OP_RECURSIVE_SEARCH;
    b->state = OP_SEARCH_RUNNING | OP_SEARCH_RECURSIVE;
    b->res = calloc(1, sizeof *b->res);
    b->res->rt = OP_RES_EXIST;
    b->res->u.exist.tag = OP_PR_SUBJECT;
    b->scope = calloc(2, sizeof *b->scope);
    b->scope[0] = (mapi_search_scope){ MAPI_EID_FOLDER, 7 };
    b->scope[1] = (mapi_search_scope){ MAPI_EID_VIRTUAL, MAPI_VF_IPM_SUBTREE };
    b->nscope = 2;
    assert_int_equal(mapi_search_remove(&s, 1), 0);
    assert_int_not_equal(mapi_search_remove(&s, 1), 0);
    mapi_buf buf;
    mapi_buf_init(&buf);
    mapi_search_encode(&s, &buf);
    assert_int_equal(mapi_search_decode(buf.data, buf.len, &r), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.next, 3);
    mapi_search_folder *f = mapi_search_find_name(&r, "To-Do");
    assert_non_null(f);
    assert_int_equal(f->num, 2);
    assert_string_equal(f->cls, "");
    assert_true(f->has_criteria);
    assert_int_equal(f->flags, OP_RECURSIVE_SEARCH);
    assert_int_equal(f->state, OP_SEARCH_RUNNING | OP_SEARCH_RECURSIVE);
    assert_non_null(f->res);
    assert_int_equal(f->res->rt, OP_RES_EXIST);
    assert_int_equal(f->nscope, 2);
    assert_int_equal(f->scope[0].id, 7);
    assert_int_equal(f->scope[1].kind, MAPI_EID_VIRTUAL);
    mapi_search_folder *c;
    assert_int_equal(mapi_search_add(&r, "Later", "", &c), 0);
    assert_int_equal(c->num, 3); /* never 1 again */
    mapi_search_set_free(&r);
    /* damaged: cut short, a wrong magic, a number not below next */
    for (size_t cut = 0; cut < buf.len; cut += 7)
        assert_int_not_equal(mapi_search_decode(buf.data, cut, &r), 0);
    buf.data[0] ^= 1;
    assert_int_not_equal(mapi_search_decode(buf.data, buf.len, &r), 0);
    buf.data[0] ^= 1;
    buf.data[4] = 2; /* next 2, but folder 2 exists */
    assert_int_not_equal(mapi_search_decode(buf.data, buf.len, &r), 0);
    mapi_buf_free(&buf);
    mapi_search_set_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type),
        cmocka_unit_test(test_hostile_props),
        cmocka_unit_test(test_restriction_roundtrip),
        cmocka_unit_test(test_deep_restriction_refused),
        cmocka_unit_test(test_frames_and_requests),
        cmocka_unit_test(test_sort_and_names),
        cmocka_unit_test(test_entry_ids),
        cmocka_unit_test(test_fai_codec),
        cmocka_unit_test(test_search_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
