/* storage_conformance.c — the storage conformance suite.
 *
 * One suite for every storage plugin: `storage_conformance <plugin-name>`.
 * It speaks only the storage ABI (storage.h) and what the plugin declares in
 * its capability flags; nothing here may assume a particular engine.
 */
#include <pthread.h>
#include <unistd.h>

#include "storage_fixture.h"

struct test_storage_plugin g_plugin;

/* ---- descriptor ---- */

static void test_descriptor(void **state)
{
    (void)state;
    const struct outpost_plugin *p = g_plugin.plugin;
    const struct outpost_storage_methods *m = g_plugin.m;
    assert_int_equal(p->kind, OUTPOST_KIND_STORAGE);
    assert_non_null(p->name);
    assert_string_equal(p->section, "storage");
    assert_true(m->struct_size >= OUTPOST_STORAGE_METHODS_V1_0_SIZE);
    /* every 1.0 method is present */
    const char *base = (const char *)m;
    for (size_t off = offsetof(struct outpost_storage_methods, create);
         off < OUTPOST_STORAGE_METHODS_V1_0_SIZE; off += sizeof(void (*)(void))) {
        void (*fn)(void);
        memcpy(&fn, base + off, sizeof fn);
        if (!fn)
            fail_msg("method at offset %zu of the storage table is NULL", off);
    }
    if (p->caps & OUTPOST_STORAGE_CAP_FTS)
        assert_true(OUTPOST_HAS_METHOD(m, struct outpost_storage_methods, fts_search));
    if (p->caps & OUTPOST_STORAGE_CAP_FTS_ALL_HEADERS)
        assert_true(p->caps & OUTPOST_STORAGE_CAP_FTS);
}

/* ---- CRUD for every kind ---- */

static const struct {
    uint32_t kind;
    const char *content;
    const char *key;
} kinds[] = {
    { OUTPOST_ITEM_MAIL,
      "From: Ann <ann@example.org>\r\nTo: bob@example.org\r\nSubject: hello\r\n"
      "Message-ID: <m1@example.org>\r\n\r\nbody text\r\n",
      "<m1@example.org>" },
    { OUTPOST_ITEM_EVENT,
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:ev-1\r\nSUMMARY:standup\r\n"
      "DTSTART:20240101T090000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
      "ev-1" },
    { OUTPOST_ITEM_CONTACT,
      "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c-1\r\nFN:Ann Example\r\nN:Example;Ann;;;\r\nEND:VCARD\r\n",
      "c-1" },
    { OUTPOST_ITEM_TASK,
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTODO\r\nUID:t-1\r\nSUMMARY:pay\r\nEND:VTODO\r\n"
      "END:VCALENDAR\r\n",
      "t-1" },
    { OUTPOST_ITEM_NOTE,
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VJOURNAL\r\nUID:n-1\r\nSUMMARY:idea\r\n"
      "END:VJOURNAL\r\nEND:VCALENDAR\r\n",
      "n-1" },
};

static void check_str(const char *got, const char *want)
{
    if (!want)
        assert_null(got);
    else {
        assert_non_null(got);
        assert_string_equal(got, want);
    }
}

static void test_crud_every_kind(void **state)
{
    struct fx *f = *state;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
        char name[32];
        snprintf(name, sizeof name, "folder-%u", kinds[k].kind);
        int64_t folder = fx_folder(f, t, 0, name, kinds[k].kind);
        outpost_item it = fx_item_template(folder, kinds[k].kind, OUTPOST_FLAG_SEEN, "subject");
        it.remote_id = "rid-1";
        it.remote_version = "v1";
        it.keywords = "$Work";
        it.from = "Ann <ann@example.org>";
        it.to = "bob@example.org";
        it.cc = "carol@example.org";
        if (kinds[k].kind == OUTPOST_ITEM_MAIL) {
            it.message_id = kinds[k].key;
            it.envelope = "(NIL \"hello\" NIL NIL NIL NIL NIL NIL NIL NIL)";
            it.bodystructure = "(\"text\" \"plain\" NIL NIL NIL \"7bit\" 11 1)";
        } else {
            it.object_uid = kinds[k].key;
        }
        it.preview = "body text";
        it.size = strlen(kinds[k].content);
        it.content_state = OUTPOST_CONTENT_SUMMARY;
        OK(f->m->item_put(t, &it));
        assert_int_equal(it.uid, 1);
        assert_int_equal(it.modseq, 2);
        OK(f->m->content_write(t, it.id, 0, kinds[k].content, strlen(kinds[k].content)));
        OK(f->m->content_finish(t, it.id, OUTPOST_CONTENT_COMPLETE));
        OK(f->m->commit(t));

        t = fx_begin(f, OUTPOST_TXN_READ);
        const outpost_item *g;
        OK(f->m->item_get(t, it.id, &g));
        assert_int_equal(g->kind, kinds[k].kind);
        assert_int_equal(g->folder_id, folder);
        assert_int_equal(g->uid, 1);
        assert_int_equal(g->modseq, 2);
        assert_int_equal(g->flags, OUTPOST_FLAG_SEEN);
        assert_int_equal(g->content_state, OUTPOST_CONTENT_COMPLETE);
        assert_int_equal(g->size, strlen(kinds[k].content));
        assert_int_equal(g->cached_size, strlen(kinds[k].content));
        assert_int_equal(g->internal_date, it.internal_date);
        assert_int_equal(g->date, it.date);
        check_str(g->remote_id, "rid-1");
        check_str(g->remote_version, "v1");
        check_str(g->keywords, "$Work");
        check_str(g->subject, "subject");
        check_str(g->from, it.from);
        check_str(g->to, it.to);
        check_str(g->cc, it.cc);
        check_str(g->message_id, it.message_id);
        check_str(g->object_uid, it.object_uid);
        check_str(g->envelope, it.envelope);
        check_str(g->bodystructure, it.bodystructure);
        check_str(g->preview, "body text");
        char buf[1024];
        size_t got = 0;
        OK(f->m->content_read(t, it.id, 0, buf, sizeof buf, &got));
        assert_int_equal(got, strlen(kinds[k].content));
        assert_memory_equal(buf, kinds[k].content, got);
        OK(f->m->content_read(t, it.id, 5, buf, 3, &got));
        assert_int_equal(got, 3);
        assert_memory_equal(buf, kinds[k].content + 5, 3);
        OK(f->m->content_read(t, it.id, strlen(kinds[k].content), buf, sizeof buf, &got));
        assert_int_equal(got, 0);
        OK(f->m->item_find_remote(t, folder, "rid-1", &g));
        assert_int_equal(g->id, it.id);
        OK(f->m->item_find_remote(t, 0, "rid-1", &g));
        assert_int_equal(g->id, it.id);
        EXPECT(f->m->item_find_remote(t, folder, "nope", &g), OUTPOST_GONE);
        OK(f->m->item_find_key(t, folder, kinds[k].key, &g));
        assert_int_equal(g->id, it.id);
        OK(f->m->item_find_key(t, 0, kinds[k].key, &g));
        assert_int_equal(g->id, it.id);
        EXPECT(f->m->item_find_key(t, folder, "<other@x>", &g), OUTPOST_GONE);
        f->m->rollback(t);

        /* update: summary bumps MODSEQ, remote and content state do not */
        t = fx_begin(f, OUTPOST_TXN_WRITE);
        outpost_item up = it;
        up.subject = "changed";
        up.remote_id = "rid-2";
        up.remote_version = "v2";
        OK(f->m->item_update(t, &up, OUTPOST_ITEM_F_REMOTE));
        OK(f->m->item_get(t, it.id, &g));
        assert_int_equal(g->modseq, 2);
        check_str(g->remote_id, "rid-2");
        check_str(g->remote_version, "v2");
        check_str(g->subject, "subject");
        OK(f->m->item_update(t, &up, OUTPOST_ITEM_F_SUMMARY));
        OK(f->m->item_get(t, it.id, &g));
        assert_int_equal(g->modseq, 3);
        check_str(g->subject, "changed");
        up.content_state = OUTPOST_CONTENT_SUMMARY;
        OK(f->m->item_update(t, &up, OUTPOST_ITEM_F_CONTENT_STATE));
        OK(f->m->item_get(t, it.id, &g));
        assert_int_equal(g->modseq, 3);
        assert_int_equal(g->content_state, OUTPOST_CONTENT_SUMMARY);
        OK(f->m->item_delete(t, it.id));
        EXPECT(f->m->item_get(t, it.id, &g), OUTPOST_GONE);
        EXPECT(f->m->content_read(t, it.id, 0, buf, sizeof buf, &got), OUTPOST_GONE);
        fx_check_counters(f, t, folder);
        OK(f->m->commit(t));
    }
    OK(f->m->integrity_check(f->s));
}

static void test_item_kind_must_match_folder(void **state)
{
    struct fx *f = *state;
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t cal = fx_folder(f, t, 0, "Calendar", OUTPOST_ITEM_EVENT);
    int64_t mail = fx_folder(f, t, 0, "INBOX", OUTPOST_ITEM_MAIL);
    outpost_item it = fx_item_template(cal, OUTPOST_ITEM_MAIL, 0, "x");
    EXPECT(f->m->item_put(t, &it), OUTPOST_BAD_DATA);
    it = fx_item_template(999999, OUTPOST_ITEM_MAIL, 0, "x");
    EXPECT(f->m->item_put(t, &it), OUTPOST_GONE);
    int64_t id = fx_put(f, t, mail, OUTPOST_ITEM_MAIL, 0, "m", NULL);
    EXPECT(f->m->item_move(t, id, cal, NULL), OUTPOST_BAD_DATA);
    /* these answers left the transaction usable */
    OK(f->m->commit(t));
}

/* ---- folders ---- */

static void test_folders(void **state)
{
    struct fx *f = *state;
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t a = fx_folder(f, t, 0, "A", OUTPOST_ITEM_MAIL);
    int64_t b = fx_folder(f, t, 0, "B", OUTPOST_ITEM_MAIL);
    int64_t a1 = fx_folder(f, t, a, "child", OUTPOST_ITEM_MAIL);
    int64_t b1 = fx_folder(f, t, b, "child", OUTPOST_ITEM_MAIL); /* same name, other parent: fine */
    outpost_folder fo;
    memset(&fo, 0, sizeof fo);
    fo.struct_size = sizeof fo;
    fo.kind = OUTPOST_ITEM_MAIL;
    fo.parent_id = a;
    fo.name = "child";
    int64_t id;
    EXPECT(f->m->folder_create(t, &fo, &id), OUTPOST_BAD_DATA);
    fo.name = "";
    EXPECT(f->m->folder_create(t, &fo, &id), OUTPOST_BAD_DATA);
    fo.name = "x";
    fo.kind = 99;
    EXPECT(f->m->folder_create(t, &fo, &id), OUTPOST_BAD_DATA);

    const outpost_folder *g;
    OK(f->m->folder_get(t, a1, &g));
    assert_int_equal(g->parent_id, a);
    assert_string_equal(g->name, "child");
    assert_int_equal(g->uidnext, 1);
    assert_int_equal(g->highest_modseq, 1);
    assert_int_equal(g->total, 0);
    assert_null(g->remote_id);
    assert_null(g->sync_state);
    assert_int_equal(g->flags, OUTPOST_FOLDER_SUBSCRIBED);

    /* A becomes a child of a new folder C created after it: folder_list must
     * still give parents before children */
    int64_t c = fx_folder(f, t, 0, "C", OUTPOST_ITEM_MAIL);
    fo.parent_id = c;
    OK(f->m->folder_update(t, a, &fo, OUTPOST_FOLDER_F_PARENT));
    /* cycles are refused */
    fo.parent_id = a1;
    EXPECT(f->m->folder_update(t, c, &fo, OUTPOST_FOLDER_F_PARENT), OUTPOST_BAD_DATA);
    fo.parent_id = c;
    EXPECT(f->m->folder_update(t, c, &fo, OUTPOST_FOLDER_F_PARENT), OUTPOST_BAD_DATA);
    /* rename onto a sibling's name is refused; a plain rename works */
    fo.name = "child";
    fo.parent_id = a;
    EXPECT(f->m->folder_update(t, b1, &fo, OUTPOST_FOLDER_F_PARENT), OUTPOST_BAD_DATA);
    fo.name = "renamed";
    fo.remote_id = "r-b1";
    fo.special_use = OUTPOST_USE_ARCHIVE;
    fo.flags = 0;
    OK(f->m->folder_update(t, b1, &fo,
                           OUTPOST_FOLDER_F_NAME | OUTPOST_FOLDER_F_REMOTE_ID | OUTPOST_FOLDER_F_SPECIAL_USE |
                               OUTPOST_FOLDER_F_FLAGS));
    OK(f->m->folder_get(t, b1, &g));
    assert_string_equal(g->name, "renamed");
    assert_int_equal(g->parent_id, b);
    assert_int_equal(g->special_use, OUTPOST_USE_ARCHIVE);
    assert_int_equal(g->flags, 0);
    OK(f->m->folder_find_remote(t, "r-b1", &g));
    assert_int_equal(g->id, b1);
    EXPECT(f->m->folder_find_remote(t, "nope", &g), OUTPOST_GONE);
    EXPECT(f->m->folder_get(t, 424242, &g), OUTPOST_GONE);

    struct outpost_cursor *cur;
    OK(f->m->folder_list(t, &cur));
    int64_t seen[16];
    size_t n = 0;
    const void *row;
    for (;;) {
        OK(f->m->cursor_next(cur, &row));
        if (!row)
            break;
        const outpost_folder *r = row;
        if (r->parent_id) {
            int found = 0;
            for (size_t i = 0; i < n; i++)
                found |= seen[i] == r->parent_id;
            if (!found)
                fail_msg("folder %lld listed before its parent %lld", (long long)r->id, (long long)r->parent_id);
        }
        assert_true(n < 16);
        seen[n++] = r->id;
    }
    f->m->cursor_close(cur);
    assert_int_equal(n, 5);

    EXPECT(f->m->folder_delete(t, c), OUTPOST_BAD_DATA); /* has children */
    fx_put(f, t, a1, OUTPOST_ITEM_MAIL, 0, "doomed", "content");
    OK(f->m->folder_delete(t, a1));
    EXPECT(f->m->folder_get(t, a1, &g), OUTPOST_GONE);
    EXPECT(f->m->folder_delete(t, a1), OUTPOST_GONE);
    OK(f->m->commit(t));
    OK(f->m->integrity_check(f->s));
}

static void test_uidvalidity_fresh(void **state)
{
    struct fx *f = *state;
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t a = fx_folder(f, t, 0, "Same", OUTPOST_ITEM_MAIL);
    const outpost_folder *g;
    OK(f->m->folder_get(t, a, &g));
    uint32_t uv1 = g->uidvalidity;
    assert_true(uv1 != 0);
    OK(f->m->folder_delete(t, a));
    OK(f->m->commit(t));
    fx_reopen(f);
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t b = fx_folder(f, t, 0, "Same", OUTPOST_ITEM_MAIL);
    OK(f->m->folder_get(t, b, &g));
    assert_true(g->uidvalidity != 0);
    assert_true(g->uidvalidity != uv1);
    OK(f->m->commit(t));
}

static void test_unicode_and_long_names(void **state)
{
    struct fx *f = *state;
    static const char *const names[] = {
        "Входящие", "送信済みアイテム", "Ελληνικά & more", "emoji 📬✉️", "a/b\\c \"quoted\" 'single'",
        "Entwürfe", "  spaces  ", "%*?[]",
    };
    char longname[4097];
    for (size_t i = 0; i < sizeof longname - 1; i++)
        longname[i] = (char)('a' + i % 26);
    longname[sizeof longname - 1] = '\0';
    /* long UTF-8: 1000 × "ü" (2 bytes each) */
    char longutf8[2001];
    for (int i = 0; i < 1000; i++)
        memcpy(longutf8 + 2 * i, "\xc3\xbc", 2);
    longutf8[2000] = '\0';

    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t ids[10];
    size_t n = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        ids[n++] = fx_folder(f, t, 0, names[i], OUTPOST_ITEM_MAIL);
    ids[n++] = fx_folder(f, t, 0, longname, OUTPOST_ITEM_MAIL);
    ids[n++] = fx_folder(f, t, ids[0], longutf8, OUTPOST_ITEM_MAIL);
    /* names differing only in case are distinct folders */
    fx_folder(f, t, 0, "entwürfe", OUTPOST_ITEM_MAIL);
    fx_put(f, t, ids[1], OUTPOST_ITEM_MAIL, 0, "件名 🎉", NULL);
    OK(f->m->commit(t));
    fx_reopen(f);
    t = fx_begin(f, OUTPOST_TXN_READ);
    const outpost_folder *g;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        OK(f->m->folder_get(t, ids[i], &g));
        assert_string_equal(g->name, names[i]);
    }
    OK(f->m->folder_get(t, ids[8], &g));
    assert_string_equal(g->name, longname);
    OK(f->m->folder_get(t, ids[9], &g));
    assert_string_equal(g->name, longutf8);
    assert_int_equal(g->parent_id, ids[0]);
    struct outpost_cursor *c;
    OK(f->m->items_by_uid(t, ids[1], 1, 0, &c));
    const void *row;
    OK(f->m->cursor_next(c, &row));
    assert_non_null(row);
    assert_string_equal(((const outpost_item *)row)->subject, "件名 🎉");
    f->m->cursor_close(c);
    f->m->rollback(t);
}

/* ---- UIDs, MODSEQs, counters ---- */

static void test_uid_modseq_monotonic_across_reopen(void **state)
{
    struct fx *f = *state;
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t folder = fx_folder(f, t, 0, "INBOX", OUTPOST_ITEM_MAIL);
    int64_t ids[5];
    for (int i = 0; i < 5; i++)
        ids[i] = fx_put(f, t, folder, OUTPOST_ITEM_MAIL, 0, "m", NULL);
    const outpost_folder *g;
    OK(f->m->folder_get(t, folder, &g));
    uint32_t uv = g->uidvalidity;
    assert_int_equal(g->uidnext, 6);
    assert_int_equal(g->highest_modseq, 6);
    /* delete the newest: its UID is never given again */
    OK(f->m->item_delete(t, ids[4]));
    OK(f->m->commit(t));
    fx_reopen(f);
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    OK(f->m->folder_get(t, folder, &g));
    assert_int_equal(g->uidvalidity, uv);
    assert_int_equal(g->uidnext, 6);
    assert_int_equal(g->highest_modseq, 7);
    outpost_item it = fx_item_template(folder, OUTPOST_ITEM_MAIL, 0, "n");
    OK(f->m->item_put(t, &it));
    assert_int_equal(it.uid, 6);
    assert_int_equal(it.modseq, 8);
    uint64_t ms = 0;
    OK(f->m->item_set_flags(t, ids[0], OUTPOST_FLAG_SEEN, NULL, &ms));
    assert_int_equal(ms, 9);
    OK(f->m->commit(t));
    /* a rolled-back transaction's UIDs may be given again, but never below
     * a committed one */
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    outpost_item r = fx_item_template(folder, OUTPOST_ITEM_MAIL, 0, "r");
    OK(f->m->item_put(t, &r));
    f->m->rollback(t);
    fx_reopen(f);
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    outpost_item z = fx_item_template(folder, OUTPOST_ITEM_MAIL, 0, "z");
    OK(f->m->item_put(t, &z));
    assert_true(z.uid > it.uid);
    assert_true(z.modseq > ms);
    OK(f->m->commit(t));
}

/* Item and folder ids are never given again, not even the newest one's after it was
 * deleted: a journal entry, a MAPI entry id or an Outlook shortcut naming a deleted object
 * must never reach another one created later (an offline APPEND, its EXPUNGE and a second
 * APPEND would otherwise replay the second mail as the first). Across reopen too. */
static void test_ids_never_reused(void **state)
{
    struct fx *f = *state;
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t folder = fx_folder(f, t, 0, "INBOX", OUTPOST_ITEM_MAIL);
    int64_t gone_folder = fx_folder(f, t, 0, "Gone", OUTPOST_ITEM_MAIL);
    int64_t a = fx_put(f, t, folder, OUTPOST_ITEM_MAIL, 0, "a", NULL);
    int64_t b = fx_put(f, t, gone_folder, OUTPOST_ITEM_MAIL, 0, "b", NULL);
    OK(f->m->commit(t));

    /* the newest item deleted alone, then its whole folder (items go with it) */
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t c = fx_put(f, t, folder, OUTPOST_ITEM_MAIL, 0, "c", NULL);
    OK(f->m->item_delete(t, c));
    int64_t d = fx_put(f, t, folder, OUTPOST_ITEM_MAIL, 0, "d", NULL);
    assert_true(d > c && c > b && b > a);
    OK(f->m->item_delete(t, d));
    OK(f->m->folder_delete(t, gone_folder));
    OK(f->m->commit(t));

    fx_reopen(f);
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t e = fx_put(f, t, folder, OUTPOST_ITEM_MAIL, 0, "e", NULL);
    assert_true(e > d);
    int64_t again = fx_folder(f, t, 0, "Again", OUTPOST_ITEM_MAIL);
    assert_true(again > gone_folder);
    const outpost_item *it;
    assert_int_equal(f->m->item_get(t, d, &it).code, OUTPOST_GONE);
    assert_int_equal(f->m->item_get(t, b, &it).code, OUTPOST_GONE);
    OK(f->m->commit(t));

    /* a rolled-back creation's id may come again, but never one that was committed */
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t r = fx_put(f, t, folder, OUTPOST_ITEM_MAIL, 0, "r", NULL);
    assert_true(r > e);
    f->m->rollback(t);
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    OK(f->m->item_delete(t, e));
    OK(f->m->commit(t));
    fx_reopen(f);
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    assert_true(fx_put(f, t, folder, OUTPOST_ITEM_MAIL, 0, "z", NULL) > e);
    OK(f->m->commit(t));
}

static void test_counters_exact(void **state)
{
    struct fx *f = *state;
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t a = fx_folder(f, t, 0, "A", OUTPOST_ITEM_MAIL);
    int64_t b = fx_folder(f, t, 0, "B", OUTPOST_ITEM_MAIL);
    const uint32_t S = OUTPOST_FLAG_SEEN, F = OUTPOST_FLAG_FLAGGED;
    uint32_t fl[] = { 0, S, F, S | F, OUTPOST_FLAG_DELETED, S | OUTPOST_FLAG_ANSWERED };
    int64_t ids[7];
    for (int i = 0; i < 6; i++) {
        ids[i] = fx_put(f, t, a, OUTPOST_ITEM_MAIL, fl[i], "c", NULL);
        fx_check_counters(f, t, a);
    }
    const outpost_folder *g;
    OK(f->m->folder_get(t, a, &g));
    assert_int_equal(g->total, 6);
    assert_int_equal(g->unread, 3);
    assert_int_equal(g->flagged, 2);
    uint32_t next[] = { S, 0, S | F, F, S, 0 };
    for (int i = 0; i < 6; i++) {
        OK(f->m->item_set_flags(t, ids[i], next[i], NULL, NULL));
        fx_check_counters(f, t, a);
    }
    for (int i = 0; i < 3; i++) {
        OK(f->m->item_move(t, ids[i], b, NULL));
        fx_check_counters(f, t, a);
        fx_check_counters(f, t, b);
    }
    OK(f->m->item_move(t, ids[3], a, NULL)); /* same folder: new UID */
    fx_check_counters(f, t, a);
    OK(f->m->item_delete(t, ids[4]));
    fx_check_counters(f, t, a);
    OK(f->m->item_delete(t, ids[0]));
    fx_check_counters(f, t, b);
    OK(f->m->commit(t));
    fx_reopen(f);
    t = fx_begin(f, OUTPOST_TXN_READ);
    fx_check_counters(f, t, a);
    fx_check_counters(f, t, b);
    OK(f->m->folder_get(t, b, &g));
    assert_int_equal(g->total, 2);
    f->m->rollback(t);
    OK(f->m->integrity_check(f->s));
}

static void test_flags_and_changed_since(void **state)
{
    struct fx *f = *state;
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t a = fx_folder(f, t, 0, "A", OUTPOST_ITEM_MAIL);
    int64_t ids[10];
    for (int i = 0; i < 10; i++)
        ids[i] = fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "m", NULL);
    const outpost_folder *g;
    OK(f->m->folder_get(t, a, &g));
    uint64_t base = g->highest_modseq;
    uint64_t ms = 0, ms2 = 0;
    OK(f->m->item_set_flags(t, ids[7], OUTPOST_FLAG_SEEN, "$Label1 Work", &ms));
    assert_int_equal(ms, base + 1);
    /* same set: nothing changes, MODSEQ stays */
    OK(f->m->item_set_flags(t, ids[7], OUTPOST_FLAG_SEEN, "$Label1 Work", &ms2));
    assert_int_equal(ms2, ms);
    OK(f->m->item_set_flags(t, ids[2], OUTPOST_FLAG_FLAGGED, NULL, &ms));
    assert_int_equal(ms, base + 2);
    OK(f->m->item_set_flags(t, ids[7], OUTPOST_FLAG_SEEN, NULL, &ms)); /* keywords removed */
    assert_int_equal(ms, base + 3);
    EXPECT(f->m->item_set_flags(t, 987654, 0, NULL, &ms), OUTPOST_GONE);
    OK(f->m->commit(t));

    t = fx_begin(f, OUTPOST_TXN_READ);
    struct outpost_cursor *c;
    OK(f->m->items_changed_since(t, a, base, &c));
    const void *row;
    OK(f->m->cursor_next(c, &row));
    assert_non_null(row);
    assert_int_equal(((const outpost_item *)row)->id, ids[2]); /* by UID */
    assert_int_equal(((const outpost_item *)row)->flags, OUTPOST_FLAG_FLAGGED);
    OK(f->m->cursor_next(c, &row));
    assert_non_null(row);
    assert_int_equal(((const outpost_item *)row)->id, ids[7]);
    assert_int_equal(((const outpost_item *)row)->modseq, base + 3);
    assert_null(((const outpost_item *)row)->keywords);
    OK(f->m->cursor_next(c, &row));
    assert_null(row);
    OK(f->m->cursor_next(c, &row)); /* stays at the end */
    assert_null(row);
    f->m->cursor_close(c);
    OK(f->m->items_changed_since(t, a, base + 3, &c));
    assert_int_equal(fx_count(f, c), 0);
    OK(f->m->items_changed_since(t, a, 0, &c));
    assert_int_equal(fx_count(f, c), 10);
    OK(f->m->items_by_uid(t, a, 3, 5, &c));
    assert_int_equal(fx_count(f, c), 3);
    OK(f->m->items_by_uid(t, a, 9, 0, &c));
    assert_int_equal(fx_count(f, c), 2);
    if (OUTPOST_HAS_METHOD(f->m, struct outpost_storage_methods, items_uid_flags)) {
        OK(f->m->items_uid_flags(t, a, 1, 0, &c));
        uint32_t last = 0;
        size_t n = 0;
        for (;;) {
            OK(f->m->cursor_next(c, &row));
            if (!row)
                break;
            const outpost_uid_flags *u = row;
            assert_true(u->uid > last);
            last = u->uid;
            if (u->id == ids[2]) {
                assert_int_equal(u->flags, OUTPOST_FLAG_FLAGGED);
                assert_int_equal(u->modseq, base + 2);
            }
            n++;
        }
        f->m->cursor_close(c);
        assert_int_equal(n, 10);
        OK(f->m->items_uid_flags(t, a, 2, 4, &c));
        assert_int_equal(fx_count(f, c), 3);
    }
    /* two listings of one kind open at once */
    struct outpost_cursor *c1, *c2;
    OK(f->m->items_by_uid(t, a, 1, 0, &c1));
    OK(f->m->items_by_uid(t, a, 1, 0, &c2));
    const void *r1, *r2;
    OK(f->m->cursor_next(c1, &r1));
    OK(f->m->cursor_next(c1, &r1));
    OK(f->m->cursor_next(c2, &r2));
    assert_int_equal(((const outpost_item *)r1)->uid, 2);
    assert_int_equal(((const outpost_item *)r2)->uid, 1);
    f->m->cursor_close(c1);
    f->m->cursor_close(c2);
    f->m->rollback(t);
}

static void test_tombstones(void **state)
{
    struct fx *f = *state;
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t a = fx_folder(f, t, 0, "A", OUTPOST_ITEM_MAIL);
    int64_t b = fx_folder(f, t, 0, "B", OUTPOST_ITEM_MAIL);
    int64_t ids[5];
    for (int i = 0; i < 5; i++)
        ids[i] = fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "m", "x");
    OK(f->m->prop_set(t, ids[3], "p", "v", 1));
    const outpost_folder *g;
    OK(f->m->folder_get(t, a, &g));
    uint64_t base = g->highest_modseq;
    OK(f->m->item_delete(t, ids[3])); /* UID 4 */
    uint32_t nu = 0;
    OK(f->m->item_move(t, ids[1], b, &nu)); /* UID 2 */
    assert_int_equal(nu, 1);
    OK(f->m->item_delete(t, ids[0])); /* UID 1 */
    EXPECT(f->m->item_delete(t, ids[0]), OUTPOST_GONE);
    OK(f->m->commit(t));
    fx_reopen(f);
    t = fx_begin(f, OUTPOST_TXN_READ);
    struct outpost_cursor *c;
    OK(f->m->expunged_since(t, a, base, &c));
    const void *row;
    uint32_t want_uid[] = { 1, 2, 4 };
    uint64_t want_ms[] = { base + 3, base + 2, base + 1 };
    for (int i = 0; i < 3; i++) {
        OK(f->m->cursor_next(c, &row));
        assert_non_null(row);
        const outpost_tombstone *ts = row;
        assert_int_equal(ts->uid, want_uid[i]);
        assert_int_equal(ts->modseq, want_ms[i]);
    }
    OK(f->m->cursor_next(c, &row));
    assert_null(row);
    f->m->cursor_close(c);
    OK(f->m->expunged_since(t, a, base + 2, &c));
    assert_int_equal(fx_count(f, c), 1);
    OK(f->m->expunged_since(t, b, 0, &c));
    assert_int_equal(fx_count(f, c), 0);
    /* the moved item kept its id, content and properties; the deleted one lost them */
    const outpost_item *it;
    OK(f->m->item_get(t, ids[1], &it));
    assert_int_equal(it->folder_id, b);
    assert_int_equal(it->uid, 1);
    char buf[8];
    size_t got;
    OK(f->m->content_read(t, ids[1], 0, buf, sizeof buf, &got));
    assert_int_equal(got, 1);
    const void *v;
    size_t len;
    EXPECT(f->m->prop_get(t, ids[3], "p", &v, &len), OUTPOST_GONE);
    f->m->rollback(t);
}

/* ---- content ---- */

static unsigned char pattern_byte(uint64_t pos)
{
    uint64_t x = pos * 2654435761u + (pos >> 7);
    return (unsigned char)(x ^ (x >> 13));
}

static void test_empty_and_large_items(void **state)
{
    struct fx *f = *state;
    const size_t big = (size_t)50 * 1024 * 1024;
    const size_t piece = 1024 * 1024 + 17; /* odd size: rows and writes do not line up */
    unsigned char *buf = malloc(piece);
    assert_non_null(buf);
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t a = fx_folder(f, t, 0, "A", OUTPOST_ITEM_MAIL);
    int64_t empty = fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "empty", NULL);
    OK(f->m->content_write(t, empty, 0, "", 0));
    OK(f->m->content_finish(t, empty, OUTPOST_CONTENT_COMPLETE));
    int64_t large = fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "large", NULL);
    for (size_t off = 0; off < big; off += piece) {
        size_t n = big - off < piece ? big - off : piece;
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern_byte(off + i);
        OK(f->m->content_write(t, large, off, buf, n));
    }
    EXPECT(f->m->content_write(t, large, 5, buf, 1), OUTPOST_BAD_DATA); /* out of order */
    OK(f->m->content_finish(t, large, OUTPOST_CONTENT_COMPLETE));
    /* small appends (as a streaming download would do) */
    int64_t small = fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "small", NULL);
    for (size_t off = 0; off < 300000; off += 1000) {
        for (size_t i = 0; i < 1000; i++)
            buf[i] = pattern_byte(off + i);
        OK(f->m->content_write(t, small, off, buf, 1000));
    }
    OK(f->m->content_finish(t, small, OUTPOST_CONTENT_COMPLETE));
    OK(f->m->commit(t));
    fx_reopen(f);

    t = fx_begin(f, OUTPOST_TXN_READ);
    const outpost_item *it;
    OK(f->m->item_get(t, empty, &it));
    assert_int_equal(it->cached_size, 0);
    assert_int_equal(it->content_state, OUTPOST_CONTENT_COMPLETE);
    size_t got = 1;
    OK(f->m->content_read(t, empty, 0, buf, 10, &got));
    assert_int_equal(got, 0);
    OK(f->m->item_get(t, large, &it));
    assert_int_equal(it->cached_size, big);
    OK(f->m->item_get(t, small, &it));
    assert_int_equal(it->cached_size, 300000);
    /* whole read, in pieces */
    uint64_t off = 0;
    for (;;) {
        OK(f->m->content_read(t, large, off, buf, piece - 17, &got));
        if (got == 0)
            break;
        for (size_t i = 0; i < got; i++)
            if (buf[i] != pattern_byte(off + i))
                fail_msg("large item byte %llu differs", (unsigned long long)(off + i));
        off += got;
    }
    assert_int_equal(off, big);
    /* range reads at awkward places */
    uint64_t offs[] = { 0, 1, 131071, 131072, 131073, 20000000, big - 3, big - 1 };
    for (size_t k = 0; k < sizeof offs / sizeof offs[0]; k++) {
        OK(f->m->content_read(t, large, offs[k], buf, 300000, &got));
        size_t want = big - offs[k] < 300000 ? (size_t)(big - offs[k]) : 300000;
        assert_int_equal(got, want);
        for (size_t i = 0; i < got; i++)
            if (buf[i] != pattern_byte(offs[k] + i))
                fail_msg("range read at %llu: byte %zu differs", (unsigned long long)offs[k], i);
    }
    OK(f->m->content_read(t, large, big + 10, buf, 10, &got));
    assert_int_equal(got, 0);
    OK(f->m->content_read(t, small, 999, buf, 2002, &got));
    assert_int_equal(got, 2002);
    for (size_t i = 0; i < got; i++)
        assert_int_equal(buf[i], pattern_byte(999 + i));
    f->m->rollback(t);

    /* drop keeps the summary, rewrite at offset 0 replaces */
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    OK(f->m->content_drop(t, large));
    OK(f->m->item_get(t, large, &it));
    assert_int_equal(it->content_state, OUTPOST_CONTENT_SUMMARY);
    assert_int_equal(it->cached_size, 0);
    assert_string_equal(it->subject, "large");
    OK(f->m->content_read(t, large, 0, buf, 10, &got));
    assert_int_equal(got, 0);
    OK(f->m->content_write(t, small, 0, "new", 3));
    OK(f->m->content_finish(t, small, OUTPOST_CONTENT_COMPLETE));
    OK(f->m->content_read(t, small, 0, buf, 100, &got));
    assert_int_equal(got, 3);
    assert_memory_equal(buf, "new", 3);
    /* a summary-only item may keep a prefix (a mail's header block): written after
     * content_drop and finished as SUMMARY */
    static const char hdr[] = "Subject: large\r\n\r\n";
    OK(f->m->content_write(t, large, 0, hdr, sizeof hdr - 1));
    OK(f->m->content_finish(t, large, OUTPOST_CONTENT_SUMMARY));
    OK(f->m->commit(t));
    fx_reopen(f);
    t = fx_begin(f, OUTPOST_TXN_READ);
    OK(f->m->item_get(t, large, &it));
    assert_int_equal(it->content_state, OUTPOST_CONTENT_SUMMARY);
    assert_int_equal(it->cached_size, sizeof hdr - 1);
    assert_string_equal(it->subject, "large");
    OK(f->m->content_read(t, large, 0, buf, 100, &got));
    assert_int_equal(got, sizeof hdr - 1);
    assert_memory_equal(buf, hdr, got);
    f->m->rollback(t);
    free(buf);
    OK(f->m->integrity_check(f->s));
}

/* Mail-like text: compresses well. */
static void fill_text(unsigned char *p, size_t n, unsigned seed)
{
    static const char *const words[] = { "budget ", "meeting ", "lighthouse ", "report ", "the ", "of ",
                                          "quarterly ", "please ", "review ", "attached\r\n" };
    size_t i = 0;
    for (uint64_t k = seed; i < n; k = k * 6364136223846793005ull + 1442695040888963407ull) {
        const char *w = words[(k >> 33) % 10];
        while (*w && i < n)
            p[i++] = (unsigned char)*w++;
    }
}

/* Random bytes (an already compressed attachment): do not compress. */
static void fill_noise(unsigned char *p, size_t n, uint64_t x)
{
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)(x >> 24);
    }
}

/* Reads item `id` whole in odd pieces and by ranges around the places where
 * storages cut content into rows (64 KiB and 128 KiB multiples), and compares. */
static void expect_content(struct fx *f, struct outpost_txn *t, int64_t id, const unsigned char *want, size_t n)
{
    unsigned char *buf = malloc(n + 100000);
    assert_non_null(buf);
    size_t off = 0, got;
    for (;;) {
        OK(f->m->content_read(t, id, off, buf + off, 4093, &got));
        if (!got)
            break;
        off += got;
    }
    assert_int_equal(off, n);
    assert_memory_equal(buf, want, n);
    static const uint64_t at[] = { 0, 1, 65535, 65536, 65537, 131071, 131072, 131073, 196607, 196608, 262143 };
    static const size_t lens[] = { 1, 2, 70000 };
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
        for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
            OK(f->m->content_read(t, id, at[i], buf, lens[k], &got));
            size_t exp = at[i] >= n ? 0 : n - at[i] < lens[k] ? (size_t)(n - at[i]) : lens[k];
            assert_int_equal(got, exp);
            if (exp && memcmp(buf, want + at[i], exp) != 0)
                fail_msg("item %lld: range %llu+%zu differs", (long long)id, (unsigned long long)at[i], exp);
        }
    OK(f->m->content_read(t, id, n - 1, buf, 10, &got));
    assert_int_equal(got, 1);
    assert_int_equal(buf[0], want[n - 1]);
    OK(f->m->content_read(t, id, n, buf, 10, &got));
    assert_int_equal(got, 0);
    free(buf);
}

static void write_pieces(struct fx *f, struct outpost_txn *t, int64_t id, const unsigned char *p, size_t from,
                         size_t to, size_t piece)
{
    for (size_t off = from; off < to; off += piece)
        OK(f->m->content_write(t, id, off, p + off, to - off < piece ? to - off : piece));
}

/* Compressible and incompressible content, written whole, in small pieces and
 * interleaved with another item's, read back by range before and after commit. */
static void test_content_round_trip(void **state)
{
    struct fx *f = *state;
    const size_t n = 300001;
    unsigned char *text = malloc(n), *noise = malloc(n), *mixed = malloc(n);
    assert_true(text && noise && mixed);
    fill_text(text, n, 1);
    fill_noise(noise, n, 0x9E3779B97F4A7C15ull);
    memcpy(mixed, noise, 100000);
    fill_text(mixed + 100000, n - 100000, 2);

    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t a = fx_folder(f, t, 0, "A", OUTPOST_ITEM_MAIL);
    int64_t ids[5];
    const unsigned char *want[5] = { text, noise, mixed, text, mixed };
    for (int i = 0; i < 5; i++)
        ids[i] = fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "c", NULL);
    OK(f->m->content_write(t, ids[0], 0, text, n)); /* whole */
    write_pieces(f, t, ids[1], noise, 0, n, 7777);
    /* two items in turns: each continues where it stopped */
    write_pieces(f, t, ids[2], mixed, 0, 50000, 50000);
    write_pieces(f, t, ids[3], text, 0, 1000, 333);
    write_pieces(f, t, ids[2], mixed, 50000, n, 65536);
    write_pieces(f, t, ids[3], text, 1000, n, 333);
    /* read between writes, then go on writing */
    write_pieces(f, t, ids[4], mixed, 0, 10000, 10000);
    size_t got;
    unsigned char probe[16];
    OK(f->m->content_read(t, ids[4], 9990, probe, 16, &got));
    assert_int_equal(got, 10);
    assert_memory_equal(probe, mixed + 9990, 10);
    write_pieces(f, t, ids[4], mixed, 10000, n, 60000);
    for (int i = 0; i < 5; i++)
        OK(f->m->content_finish(t, ids[i], OUTPOST_CONTENT_COMPLETE));
    for (int i = 0; i < 5; i++)
        expect_content(f, t, ids[i], want[i], n);
    OK(f->m->commit(t));
    fx_reopen(f);

    t = fx_begin(f, OUTPOST_TXN_READ);
    for (int i = 0; i < 5; i++) {
        const outpost_item *it;
        OK(f->m->item_get(t, ids[i], &it));
        assert_int_equal(it->cached_size, n);
        expect_content(f, t, ids[i], want[i], n);
    }
    f->m->rollback(t);
    /* a rolled back rewrite and a rolled back new item leave nothing */
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    write_pieces(f, t, ids[1], text, 0, 70000, 70000);
    int64_t gone = fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "gone", NULL);
    write_pieces(f, t, gone, text, 0, 1000, 1000);
    f->m->rollback(t);
    t = fx_begin(f, OUTPOST_TXN_READ);
    expect_content(f, t, ids[1], noise, n);
    const outpost_item *it;
    EXPECT(f->m->item_get(t, gone, &it), OUTPOST_GONE);
    f->m->rollback(t);
    free(text);
    free(noise);
    free(mixed);
    OK(f->m->integrity_check(f->s));
}

/* The ingest sequence (item_put, content_write, content_finish) for many
 * items in one transaction, as a sync batch does: every item reads back in
 * the transaction and after commit; a rolled back batch leaves nothing. */
static void test_content_batch(void **state)
{
    struct fx *f = *state;
    enum { N = 120 };
    const size_t max = 70000;
    unsigned char *data = malloc(N * max);
    size_t len[N];
    int64_t ids[N];
    assert_non_null(data);
    for (int i = 0; i < N; i++) {
        len[i] = 100 + (size_t)i * 577 % max;
        if (i % 3 == 0)
            fill_noise(data + i * max, len[i], 77 + (uint64_t)i);
        else
            fill_text(data + i * max, len[i], (unsigned)i);
    }
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t a = fx_folder(f, t, 0, "A", OUTPOST_ITEM_MAIL);
    for (int i = 0; i < N; i++) {
        outpost_item it = fx_item_template(a, OUTPOST_ITEM_MAIL, 0, "batch");
        it.size = len[i];
        OK(f->m->item_put(t, &it));
        ids[i] = it.id;
        OK(f->m->content_write(t, it.id, 0, data + i * max, len[i]));
        OK(f->m->content_finish(t, it.id, OUTPOST_CONTENT_COMPLETE));
    }
    unsigned char *buf = malloc(max);
    size_t got;
    for (int i = 0; i < N; i += 7) {
        OK(f->m->content_read(t, ids[i], 0, buf, max, &got));
        assert_int_equal(got, len[i]);
        assert_memory_equal(buf, data + i * max, len[i]);
    }
    OK(f->m->commit(t));
    /* a batch rolled back in the middle of its content */
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t gone[N];
    for (int i = 0; i < N; i++) {
        outpost_item it = fx_item_template(a, OUTPOST_ITEM_MAIL, 0, "gone");
        OK(f->m->item_put(t, &it));
        gone[i] = it.id;
        OK(f->m->content_write(t, it.id, 0, data + i * max, len[i]));
    }
    f->m->rollback(t);
    fx_reopen(f);
    t = fx_begin(f, OUTPOST_TXN_READ);
    for (int i = 0; i < N; i++) {
        const outpost_item *it;
        OK(f->m->item_get(t, ids[i], &it));
        assert_int_equal(it->cached_size, len[i]);
        OK(f->m->content_read(t, ids[i], 0, buf, max, &got));
        assert_int_equal(got, len[i]);
        assert_memory_equal(buf, data + i * max, len[i]);
        EXPECT(f->m->item_get(t, gone[i], &it), OUTPOST_GONE);
    }
    const outpost_folder *g;
    OK(f->m->folder_get(t, a, &g));
    assert_int_equal(g->total, N);
    f->m->rollback(t);
    free(buf);
    free(data);
    OK(f->m->integrity_check(f->s));
}

static void test_missing_content(void **state)
{
    struct fx *f = *state;
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t a = fx_folder(f, t, 0, "A", OUTPOST_ITEM_MAIL);
    int64_t b = fx_folder(f, t, 0, "B", OUTPOST_ITEM_MAIL);
    fx_put(f, t, b, OUTPOST_ITEM_MAIL, 0, "b-none", NULL);
    fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "a-complete", "x");
    int64_t a2 = fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "a-none", NULL);
    outpost_item it = fx_item_template(a, OUTPOST_ITEM_MAIL, 0, "a-summary");
    it.content_state = OUTPOST_CONTENT_SUMMARY;
    OK(f->m->item_put(t, &it));
    OK(f->m->commit(t));
    t = fx_begin(f, OUTPOST_TXN_READ);
    struct outpost_cursor *c;
    OK(f->m->items_missing_content(t, a, &c));
    assert_int_equal(fx_count(f, c), 2);
    OK(f->m->items_missing_content(t, 0, &c));
    const void *row;
    int64_t order[3];
    for (int i = 0; i < 3; i++) {
        OK(f->m->cursor_next(c, &row));
        assert_non_null(row);
        order[i] = ((const outpost_item *)row)->folder_id;
        if (i == 0)
            assert_int_equal(((const outpost_item *)row)->id, a2);
    }
    OK(f->m->cursor_next(c, &row));
    assert_null(row);
    f->m->cursor_close(c);
    assert_int_equal(order[0], a);
    assert_int_equal(order[1], a);
    assert_int_equal(order[2], b);
    f->m->rollback(t);
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    OK(f->m->content_write(t, a2, 0, "y", 1));
    OK(f->m->content_finish(t, a2, OUTPOST_CONTENT_COMPLETE));
    OK(f->m->items_missing_content(t, a, &c));
    assert_int_equal(fx_count(f, c), 1);
    OK(f->m->commit(t));
}

/* ---- journal and sync state ---- */

static outpost_journal_entry jentry(uint32_t op, int64_t item, int64_t folder)
{
    outpost_journal_entry e;
    memset(&e, 0, sizeof e);
    e.struct_size = sizeof e;
    e.op = op;
    e.item_id = item;
    e.folder_id = folder;
    return e;
}

static void test_journal_order_and_atomicity(void **state)
{
    struct fx *f = *state;
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t a = fx_folder(f, t, 0, "A", OUTPOST_ITEM_MAIL);
    OK(f->m->commit(t));

    /* an edit and its journal entry: rolled back together */
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t gone = fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "rolled back", "x");
    outpost_journal_entry e = jentry(OUTPOST_J_ITEM_CREATE, gone, a);
    OK(f->m->journal_append(t, &e));
    f->m->rollback(t);
    t = fx_begin(f, OUTPOST_TXN_READ);
    uint64_t n = 99;
    OK(f->m->journal_count(t, OUTPOST_JS_PENDING, &n));
    assert_int_equal(n, 0);
    const outpost_item *it;
    EXPECT(f->m->item_get(t, gone, &it), OUTPOST_GONE);
    f->m->rollback(t);

    /* committed together, in order */
    int64_t seqs[6];
    int64_t items[6];
    for (int i = 0; i < 6; i++) {
        t = fx_begin(f, OUTPOST_TXN_WRITE);
        items[i] = fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "kept", "x");
        e = jentry(i % 2 ? OUTPOST_J_ITEM_FLAGS : OUTPOST_J_ITEM_CREATE, items[i], a);
        e.flags = OUTPOST_FLAG_SEEN | OUTPOST_J_PERMANENT;
        e.keywords = i % 2 ? "$Seen-ish" : NULL;
        e.name = "name";
        e.remote_id = i == 0 ? NULL : "rid";
        e.payload = "\0pay\0load";
        e.payload_len = 9;
        e.target_folder_id = 77;
        e.created_ms = i == 3 ? 1234 : 0;
        OK(f->m->journal_append(t, &e));
        assert_int_equal(e.state, OUTPOST_JS_PENDING);
        assert_true(e.created_ms > 0);
        if (i)
            assert_true(e.seq > seqs[i - 1]);
        seqs[i] = e.seq;
        OK(f->m->commit(t));
    }
    fx_reopen(f);
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    struct outpost_cursor *c;
    OK(f->m->journal_pending(t, 4, &c));
    const void *row;
    for (int i = 0; i < 4; i++) {
        OK(f->m->cursor_next(c, &row));
        assert_non_null(row);
        const outpost_journal_entry *r = row;
        assert_int_equal(r->seq, seqs[i]);
        assert_int_equal(r->item_id, items[i]);
        assert_int_equal(r->folder_id, a);
        assert_int_equal(r->target_folder_id, 77);
        assert_int_equal(r->flags, OUTPOST_FLAG_SEEN | OUTPOST_J_PERMANENT);
        assert_int_equal(r->op, i % 2 ? OUTPOST_J_ITEM_FLAGS : OUTPOST_J_ITEM_CREATE);
        assert_int_equal(r->state, OUTPOST_JS_PENDING);
        assert_int_equal(r->attempts, 0);
        assert_int_equal(r->done_ms, 0);
        assert_int_equal(r->payload_len, 9);
        assert_memory_equal(r->payload, "\0pay\0load", 9);
        check_str(r->keywords, i % 2 ? "$Seen-ish" : NULL);
        check_str(r->remote_id, i == 0 ? NULL : "rid");
        check_str(r->name, "name");
        if (i == 3)
            assert_int_equal(r->created_ms, 1234);
    }
    OK(f->m->cursor_next(c, &row));
    assert_null(row);
    f->m->cursor_close(c);

    /* replay outcomes */
    OK(f->m->journal_set_state(t, seqs[0], OUTPOST_JS_DONE, "new-rid", NULL));
    OK(f->m->journal_set_state(t, seqs[1], OUTPOST_JS_PENDING, NULL, "timeout"));
    OK(f->m->journal_set_state(t, seqs[2], OUTPOST_JS_DEAD, NULL, "rejected"));
    EXPECT(f->m->journal_set_state(t, 999999, OUTPOST_JS_DONE, NULL, NULL), OUTPOST_GONE);
    OK(f->m->journal_count(t, OUTPOST_JS_PENDING, &n));
    assert_int_equal(n, 4);
    OK(f->m->journal_count(t, OUTPOST_JS_DONE, &n));
    assert_int_equal(n, 1);
    OK(f->m->journal_count(t, OUTPOST_JS_DEAD, &n));
    assert_int_equal(n, 1);
    OK(f->m->journal_pending(t, 0, &c));
    OK(f->m->cursor_next(c, &row));
    assert_int_equal(((const outpost_journal_entry *)row)->seq, seqs[1]);
    assert_int_equal(((const outpost_journal_entry *)row)->attempts, 1);
    check_str(((const outpost_journal_entry *)row)->message, "timeout");
    assert_int_equal(((const outpost_journal_entry *)row)->done_ms, 0);
    f->m->cursor_close(c);
    OK(f->m->journal_list(t, seqs[0] - 1, &c));
    OK(f->m->cursor_next(c, &row));
    const outpost_journal_entry *r = row;
    assert_int_equal(r->seq, seqs[0]);
    assert_int_equal(r->state, OUTPOST_JS_DONE);
    assert_true(r->done_ms > 0);
    check_str(r->result_remote_id, "new-rid");
    f->m->cursor_close(c);
    OK(f->m->journal_list(t, seqs[2], &c));
    assert_int_equal(fx_count(f, c), 3);
    OK(f->m->commit(t));
}

static void test_sync_state_atomic_with_batch(void **state)
{
    struct fx *f = *state;
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t a = fx_folder(f, t, 0, "A", OUTPOST_ITEM_MAIL);
    OK(f->m->folder_set_sync_state(t, a, "page=1", 6));
    OK(f->m->commit(t));
    /* batch 2 rolled back: old state, no items */
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    for (int i = 0; i < 20; i++)
        fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "batch", NULL);
    OK(f->m->folder_set_sync_state(t, a, "page=2", 6));
    f->m->rollback(t);
    t = fx_begin(f, OUTPOST_TXN_READ);
    const outpost_folder *g;
    OK(f->m->folder_get(t, a, &g));
    assert_int_equal(g->sync_state_len, 6);
    assert_memory_equal(g->sync_state, "page=1", 6);
    assert_int_equal(g->total, 0);
    f->m->rollback(t);
    /* committed: both */
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    for (int i = 0; i < 20; i++)
        fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "batch", NULL);
    OK(f->m->folder_set_sync_state(t, a, "page\0two", 8));
    OK(f->m->commit(t));
    fx_reopen(f);
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    OK(f->m->folder_get(t, a, &g));
    assert_int_equal(g->sync_state_len, 8);
    assert_memory_equal(g->sync_state, "page\0two", 8);
    assert_int_equal(g->total, 20);
    OK(f->m->folder_set_sync_state(t, a, NULL, 0));
    OK(f->m->folder_get(t, a, &g));
    assert_null(g->sync_state);
    EXPECT(f->m->folder_set_sync_state(t, 55555, "x", 1), OUTPOST_GONE);
    OK(f->m->commit(t));
}

static void test_rollback_leaves_no_trace(void **state)
{
    struct fx *f = *state;
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t a = fx_folder(f, t, 0, "A", OUTPOST_ITEM_MAIL);
    int64_t keep = fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "keep", "original");
    OK(f->m->prop_set(t, keep, "p", "1", 1));
    OK(f->m->meta_set(t, "k", "v1", 2));
    OK(f->m->commit(t));
    t = fx_begin(f, OUTPOST_TXN_READ);
    const outpost_folder *g;
    OK(f->m->folder_get(t, a, &g));
    outpost_folder before = *g;
    f->m->rollback(t);

    t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t b = fx_folder(f, t, 0, "B", OUTPOST_ITEM_MAIL);
    fx_put(f, t, a, OUTPOST_ITEM_MAIL, OUTPOST_FLAG_FLAGGED, "new", "content");
    fx_put(f, t, b, OUTPOST_ITEM_MAIL, 0, "new", "content");
    OK(f->m->item_set_flags(t, keep, OUTPOST_FLAG_SEEN, "kw", NULL));
    OK(f->m->content_write(t, keep, 0, "changed", 7));
    OK(f->m->content_finish(t, keep, OUTPOST_CONTENT_COMPLETE));
    OK(f->m->prop_set(t, keep, "p", "2", 1));
    OK(f->m->meta_set(t, "k", "v2", 2));
    OK(f->m->meta_set(t, "other", "x", 1));
    outpost_journal_entry e = jentry(OUTPOST_J_FOLDER_CREATE, 0, b);
    OK(f->m->journal_append(t, &e));
    OK(f->m->folder_set_sync_state(t, a, "s", 1));
    f->m->rollback(t);

    t = fx_begin(f, OUTPOST_TXN_READ);
    OK(f->m->folder_get(t, a, &g));
    assert_int_equal(g->uidnext, before.uidnext);
    assert_int_equal(g->highest_modseq, before.highest_modseq);
    assert_int_equal(g->total, 1);
    assert_int_equal(g->flagged, 0);
    assert_null(g->sync_state);
    struct outpost_cursor *c;
    OK(f->m->folder_list(t, &c));
    assert_int_equal(fx_count(f, c), 1);
    const outpost_item *it;
    OK(f->m->item_get(t, keep, &it));
    assert_int_equal(it->flags, 0);
    assert_null(it->keywords);
    char buf[16];
    size_t got;
    OK(f->m->content_read(t, keep, 0, buf, sizeof buf, &got));
    assert_int_equal(got, 8);
    assert_memory_equal(buf, "original", 8);
    const void *v;
    size_t len;
    OK(f->m->prop_get(t, keep, "p", &v, &len));
    assert_memory_equal(v, "1", 1);
    OK(f->m->meta_get(t, "k", &v, &len));
    assert_int_equal(len, 2);
    assert_memory_equal(v, "v1", 2);
    EXPECT(f->m->meta_get(t, "other", &v, &len), OUTPOST_GONE);
    OK(f->m->journal_list(t, 0, &c));
    assert_int_equal(fx_count(f, c), 0);
    f->m->rollback(t);
    OK(f->m->integrity_check(f->s));
}

/* A rollback while large content is still being written: more than the SQLite plugin's
 * ring of chunks waiting for its compressor (its drop path), then the same again
 * committed; nothing of the first is left and the second reads back whole. */
static void test_rollback_large_content(void **state)
{
    struct fx *f = *state;
    const size_t big = (size_t)3 * 1024 * 1024 + 5;
    unsigned char *buf = malloc(big);
    assert_non_null(buf);
    for (size_t i = 0; i < big; i++)
        buf[i] = pattern_byte(i);
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t a = fx_folder(f, t, 0, "A", OUTPOST_ITEM_MAIL);
    OK(f->m->commit(t));
    for (int round = 0; round < 2; round++) {
        t = fx_begin(f, OUTPOST_TXN_WRITE);
        int64_t id = fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, round ? "kept" : "dropped", NULL);
        OK(f->m->content_write(t, id, 0, buf, big / 2));
        OK(f->m->content_write(t, id, big / 2, buf + big / 2, big - big / 2));
        if (!round) {
            f->m->rollback(t); /* chunks still queued go with it */
            t = fx_begin(f, OUTPOST_TXN_READ);
            const outpost_item *it;
            EXPECT(f->m->item_get(t, id, &it), OUTPOST_GONE);
            f->m->rollback(t);
            continue;
        }
        OK(f->m->content_finish(t, id, OUTPOST_CONTENT_COMPLETE));
        OK(f->m->commit(t));
        t = fx_begin(f, OUTPOST_TXN_READ);
        unsigned char *back = malloc(big);
        assert_non_null(back);
        size_t got = 0;
        OK(f->m->content_read(t, id, 0, back, big, &got));
        assert_int_equal(got, big);
        assert_memory_equal(back, buf, big);
        free(back);
        fx_check_counters(f, t, a);
        const outpost_folder *fo;
        OK(f->m->folder_get(t, a, &fo));
        assert_int_equal(fo->total, 1);
        f->m->rollback(t);
    }
    free(buf);
    OK(f->m->integrity_check(f->s));
}

static void test_transaction_rules(void **state)
{
    struct fx *f = *state;
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_READ);
    outpost_folder fo;
    memset(&fo, 0, sizeof fo);
    fo.struct_size = sizeof fo;
    fo.kind = OUTPOST_ITEM_MAIL;
    fo.name = "x";
    int64_t id;
    EXPECT(f->m->folder_create(t, &fo, &id), OUTPOST_BAD_DATA); /* read transaction */
    EXPECT(f->m->meta_set(t, "k", "v", 1), OUTPOST_BAD_DATA);
    f->m->rollback(t);
    struct outpost_txn *t2;
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    EXPECT(f->m->begin(f->s, OUTPOST_TXN_READ, &t2), OUTPOST_BAD_DATA); /* one at a time */
    f->m->rollback(t);
    t = fx_begin(f, OUTPOST_TXN_READ);
    OK(f->m->commit(t)); /* committing a read transaction just ends it */
}

/* ---- concurrency ---- */

struct reader_arg {
    struct fx *f;
    struct outpost_storage *s;
    int64_t folder;
    uint32_t total_seen;
    int64_t elapsed_ms;
    outpost_status st;
    char msg[256];
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *reader_main(void *p)
{
    struct reader_arg *r = p;
    const struct outpost_storage_methods *m = r->f->m;
    int64_t t0 = mono_ms();
    struct outpost_txn *t;
    r->st = m->begin(r->s, OUTPOST_TXN_READ, &t);
    if (r->st.code == OUTPOST_OK) {
        const outpost_folder *g;
        r->st = m->folder_get(t, r->folder, &g);
        if (r->st.code == OUTPOST_OK)
            r->total_seen = g->total;
        m->rollback(t);
    }
    if (r->st.code != OUTPOST_OK)
        snprintf(r->msg, sizeof r->msg, "%s", r->st.message ? r->st.message : "");
    r->elapsed_ms = mono_ms() - t0;
    return NULL;
}

static void test_reader_during_long_write(void **state)
{
    struct fx *f = *state;
    if (!(f->caps & OUTPOST_STORAGE_CAP_CONCURRENT_READERS))
        skip();
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t a = fx_folder(f, t, 0, "A", OUTPOST_ITEM_MAIL);
    for (int i = 0; i < 10; i++)
        fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "before", "x");
    OK(f->m->commit(t));

    struct outpost_storage *reader;
    fx_instance(f, &reader);
    /* a long write transaction in progress on the first instance */
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    for (int i = 0; i < 3000; i++)
        fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "during", "some content of the long write");
    /* a reader on another thread and instance is served at once, with the
     * last committed state */
    struct reader_arg r = { .f = f, .s = reader, .folder = a };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, reader_main, &r), 0);
    pthread_join(th, NULL);
    if (r.st.code != OUTPOST_OK)
        fail_msg("reader failed during a write: %s", r.msg);
    assert_int_equal(r.total_seen, 10);
    assert_true(r.elapsed_ms < 1000);
    /* a read transaction that started before the commit keeps its snapshot */
    struct outpost_txn *rt;
    OK(f->m->begin(reader, OUTPOST_TXN_READ, &rt));
    for (int i = 0; i < 100; i++)
        fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "during", "x");
    OK(f->m->commit(t));
    const outpost_folder *g;
    OK(f->m->folder_get(rt, a, &g));
    assert_int_equal(g->total, 10);
    struct outpost_cursor *c;
    OK(f->m->items_by_uid(rt, a, 1, 0, &c));
    assert_int_equal(fx_count(f, c), 10);
    f->m->rollback(rt);
    OK(f->m->begin(reader, OUTPOST_TXN_READ, &rt));
    OK(f->m->folder_get(rt, a, &g));
    assert_int_equal(g->total, 3110);
    f->m->rollback(rt);
    fx_close_instance(f, reader);
}

static void test_two_stores_in_one_process(void **state)
{
    struct fx *f = *state;
    char *dir2 = test_mkdtemp("storage2");
    assert_non_null(dir2);
    struct test_host *th2 = test_host_new("storage", dir2, NULL);
    struct outpost_storage *s2;
    OK(f->m->create(test_host_table(th2), &s2));
    OK(f->m->open(s2));
    struct outpost_txn *t1 = fx_begin(f, OUTPOST_TXN_WRITE);
    struct outpost_txn *t2;
    OK(f->m->begin(s2, OUTPOST_TXN_WRITE, &t2)); /* both writing at once: separate caches */
    int64_t a1 = fx_folder(f, t1, 0, "one", OUTPOST_ITEM_MAIL);
    int64_t a2 = fx_folder(f, t2, 0, "two", OUTPOST_ITEM_MAIL);
    fx_put(f, t1, a1, OUTPOST_ITEM_MAIL, 0, "first store", NULL);
    for (int i = 0; i < 3; i++)
        fx_put(f, t2, a2, OUTPOST_ITEM_MAIL, 0, "second store", NULL);
    OK(f->m->meta_set(t1, "who", "1", 1));
    OK(f->m->meta_set(t2, "who", "2", 1));
    OK(f->m->commit(t2));
    OK(f->m->commit(t1));
    fx_reopen(f);
    OK(f->m->close(s2));
    OK(f->m->open(s2));
    t1 = fx_begin(f, OUTPOST_TXN_READ);
    OK(f->m->begin(s2, OUTPOST_TXN_READ, &t2));
    struct outpost_cursor *c;
    OK(f->m->folder_list(t1, &c));
    const void *row;
    OK(f->m->cursor_next(c, &row));
    assert_string_equal(((const outpost_folder *)row)->name, "one");
    assert_int_equal(((const outpost_folder *)row)->total, 1);
    f->m->cursor_close(c);
    OK(f->m->folder_list(t2, &c));
    OK(f->m->cursor_next(c, &row));
    assert_string_equal(((const outpost_folder *)row)->name, "two");
    assert_int_equal(((const outpost_folder *)row)->total, 3);
    f->m->cursor_close(c);
    const void *v;
    size_t len;
    OK(f->m->meta_get(t1, "who", &v, &len));
    assert_memory_equal(v, "1", 1);
    OK(f->m->meta_get(t2, "who", &v, &len));
    assert_memory_equal(v, "2", 1);
    f->m->rollback(t1);
    f->m->rollback(t2);
    OK(f->m->close(s2));
    f->m->destroy(s2);
    test_host_free(th2);
    test_rmtree(dir2);
    free(dir2);
}

/* ---- property bag, meta ---- */

static void test_property_bag(void **state)
{
    struct fx *f = *state;
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t a = fx_folder(f, t, 0, "A", OUTPOST_ITEM_MAIL);
    int64_t b = fx_folder(f, t, 0, "B", OUTPOST_ITEM_MAIL);
    int64_t i1 = fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "x", NULL);
    int64_t i2 = fx_put(f, t, a, OUTPOST_ITEM_MAIL, 0, "y", NULL);
    OK(f->m->prop_set(t, i1, "mapi:0x8501", "\x00\x01\x02", 3));
    OK(f->m->prop_set(t, i1, "empty", "", 0));
    OK(f->m->prop_set(t, i2, "mapi:0x8501", "other", 5));
    OK(f->m->prop_set(t, i1, "mapi:0x8501", "\x00\x01\x02\x03", 4)); /* overwrite */
    char name[300];
    memset(name, 'n', sizeof name);
    name[256] = '\0';
    EXPECT(f->m->prop_set(t, i1, name, "v", 1), OUTPOST_BAD_DATA);
    name[255] = '\0';
    OK(f->m->prop_set(t, i1, name, "max", 3));
    EXPECT(f->m->prop_set(t, 888888, "p", "v", 1), OUTPOST_GONE);
    OK(f->m->commit(t));
    fx_reopen(f);
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    const void *v;
    size_t len;
    OK(f->m->prop_get(t, i1, "mapi:0x8501", &v, &len));
    assert_int_equal(len, 4);
    assert_memory_equal(v, "\x00\x01\x02\x03", 4);
    OK(f->m->prop_get(t, i1, "empty", &v, &len));
    assert_int_equal(len, 0);
    assert_non_null(v);
    OK(f->m->prop_get(t, i1, name, &v, &len));
    assert_memory_equal(v, "max", 3);
    OK(f->m->prop_get(t, i2, "mapi:0x8501", &v, &len));
    assert_memory_equal(v, "other", 5);
    EXPECT(f->m->prop_get(t, i2, "absent", &v, &len), OUTPOST_GONE);
    OK(f->m->prop_set(t, i1, "empty", NULL, 0)); /* delete */
    EXPECT(f->m->prop_get(t, i1, "empty", &v, &len), OUTPOST_GONE);
    OK(f->m->item_move(t, i1, b, NULL)); /* properties follow a move */
    OK(f->m->prop_get(t, i1, "mapi:0x8501", &v, &len));
    assert_int_equal(len, 4);
    OK(f->m->item_delete(t, i2));
    EXPECT(f->m->prop_get(t, i2, "mapi:0x8501", &v, &len), OUTPOST_GONE);
    OK(f->m->commit(t));
}

static void test_meta(void **state)
{
    struct fx *f = *state;
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    const void *v;
    size_t len;
    EXPECT(f->m->meta_get(t, "hierarchy_state", &v, &len), OUTPOST_GONE);
    OK(f->m->meta_set(t, "hierarchy_state", "s1\0x", 4));
    OK(f->m->meta_set(t, "account", "ann@example.org", 15));
    OK(f->m->meta_set(t, "empty", "", 0));
    OK(f->m->meta_set(t, "hierarchy_state", "s2", 2));
    OK(f->m->meta_get(t, "hierarchy_state", &v, &len));
    assert_int_equal(len, 2);
    assert_memory_equal(v, "s2", 2);
    OK(f->m->commit(t));
    fx_reopen(f);
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    OK(f->m->meta_get(t, "account", &v, &len));
    assert_int_equal(len, 15);
    assert_memory_equal(v, "ann@example.org", 15);
    OK(f->m->meta_get(t, "empty", &v, &len));
    assert_int_equal(len, 0);
    OK(f->m->meta_set(t, "account", NULL, 0));
    EXPECT(f->m->meta_get(t, "account", &v, &len), OUTPOST_GONE);
    OK(f->m->meta_set(t, "account", NULL, 0)); /* deleting an absent key is fine */
    OK(f->m->commit(t));
}

static void test_journal_prune(void **state)
{
    struct fx *f = *state;
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t seq[5];
    for (int i = 0; i < 5; i++) {
        outpost_journal_entry e = jentry(OUTPOST_J_FOLDER_CREATE, 0, i + 1);
        OK(f->m->journal_append(t, &e));
        seq[i] = e.seq;
    }
    /* 0 stays pending, 1 dead, 2 conflict, 3 local, 4 done */
    OK(f->m->journal_set_state(t, seq[1], OUTPOST_JS_DEAD, NULL, "no"));
    OK(f->m->journal_set_state(t, seq[2], OUTPOST_JS_CONFLICT, NULL, NULL));
    OK(f->m->journal_set_state(t, seq[3], OUTPOST_JS_LOCAL, NULL, NULL));
    OK(f->m->journal_set_state(t, seq[4], OUTPOST_JS_DONE, "r", NULL));
    uint64_t removed = 99;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    /* done entries newer than the cut stay */
    OK(f->m->journal_prune(t, now - 60000, &removed));
    assert_int_equal(removed, 0);
    OK(f->m->journal_prune(t, now + 60000, &removed));
    assert_int_equal(removed, 1);
    uint64_t n;
    uint32_t states[] = { OUTPOST_JS_PENDING, OUTPOST_JS_DEAD, OUTPOST_JS_CONFLICT, OUTPOST_JS_LOCAL,
                          OUTPOST_JS_DONE };
    uint64_t want[] = { 1, 1, 1, 1, 0 };
    for (int i = 0; i < 5; i++) {
        OK(f->m->journal_count(t, states[i], &n));
        assert_int_equal(n, want[i]);
    }
    OK(f->m->commit(t));
    /* seq is never reused, not even after pruning the newest entry */
    fx_reopen(f);
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    outpost_journal_entry e = jentry(OUTPOST_J_FOLDER_DELETE, 0, 1);
    OK(f->m->journal_append(t, &e));
    assert_true(e.seq > seq[4]);
    OK(f->m->commit(t));
}

/* ---- full-text search ---- */

static const char *const fts_mails[] = {
    /* 0: plain text */
    "From: Alice Martin <alice@example.org>\r\nTo: bob@example.org\r\nSubject: Quarterly budget\r\n"
    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    "Please review the spreadsheet before Thursday at the harbour.\r\n",
    /* 1: quoted-printable latin-1 with diacritics */
    "From: Zoe <zoe@example.org>\r\nSubject: Résumé\r\nMIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    "Le caf=E9 est pr=EAt. Meeting at noon.\r\n",
    /* 2: multipart with HTML and a base64 attachment */
    "From: carol@example.org\r\nSubject: photos\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n"
    "Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>The <b>lighthouse</b> pictures</p>"
    "</body></html>\r\n--b1\r\nContent-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nWmVicmFzdHJpcGVzCg==\r\n--b1--\r\n",
    /* 3: base64 text part */
    "From: dave@example.org\r\nSubject: misc\r\nMIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    "c2VjcmV0IHdvcmQ6IHh5bG9waG9uZQ==\r\n",
};

static void expect_hits(struct fx *f, struct outpost_txn *t, int64_t folder, const char *q, const int64_t *want,
                        size_t nwant)
{
    struct outpost_cursor *c;
    OK(f->m->fts_search(t, folder, q, &c));
    const void *row;
    size_t n = 0;
    for (;;) {
        OK(f->m->cursor_next(c, &row));
        if (!row)
            break;
        const outpost_item *it = row;
        if (n >= nwant || it->id != want[n])
            fail_msg("search \"%s\": hit %zu is item %lld, expected %lld", q, n, (long long)it->id,
                     n < nwant ? (long long)want[n] : -1LL);
        n++;
    }
    f->m->cursor_close(c);
    if (n != nwant)
        fail_msg("search \"%s\": %zu hits, expected %zu", q, n, nwant);
}

static void fts_round(struct fx *f, uint32_t mode, int64_t a, int64_t b, const int64_t *ids)
{
    struct outpost_txn *t = fx_begin(f, mode);
    expect_hits(f, t, a, "budget", &ids[0], 1);
    expect_hits(f, t, a, "BUDG", &ids[0], 1);                 /* prefix, any case */
    expect_hits(f, t, a, "alice spreadsheet", &ids[0], 1);   /* all words */
    expect_hits(f, t, a, "alice lighthouse", NULL, 0);
    expect_hits(f, t, a, "bob@example.org", &ids[0], 1);     /* address */
    expect_hits(f, t, a, "cafe", &ids[1], 1);                /* diacritics, QP latin-1 */
    expect_hits(f, t, a, "resume", &ids[1], 1);
    expect_hits(f, t, a, "\"Résumé\u2026\"", &ids[1], 1);     /* punctuation around a word */
    expect_hits(f, t, a, "lighthouse", &ids[2], 1);          /* HTML part */
    expect_hits(f, t, a, "zebrastripes", NULL, 0);           /* binary attachment */
    expect_hits(f, t, a, "xylophone", &ids[3], 1);           /* base64 text */
    /* a word matches inside a word of the text (IMAP SEARCH is a substring match) */
    expect_hits(f, t, a, "arbour", &ids[0], 1);              /* mid-word: "harbour" */
    expect_hits(f, t, a, "phone", &ids[3], 1);               /* suffix: "xylophone" */
    expect_hits(f, t, a, "ylophon", &ids[3], 1);
    expect_hits(f, t, a, "RESUM", &ids[1], 1);               /* case and diacritics: "Résumé" */
    expect_hits(f, t, a, "ÉSUM", &ids[1], 1);
    expect_hits(f, t, a, "ighthous", &ids[2], 1);            /* HTML part */
    expect_hits(f, t, a, "preadshe URSDA artin", &ids[0], 1); /* each word inside a different word */
    expect_hits(f, t, a, "arbour ylophon", NULL, 0);         /* words of different items */
    expect_hits(f, t, a, "qqzzy", NULL, 0);                  /* in no word at all */
    expect_hits(f, t, a, "udge qqzzy", NULL, 0);
    expect_hits(f, t, a, "xample", ids, 4);                  /* a token inside many words */
    expect_hits(f, t, b, "ZQV", &ids[6], 1);                 /* ... inside 40 distinct words */
    expect_hits(f, t, 0, "zqv", &ids[6], 1);
    expect_hits(f, t, b, "zqv eeper", &ids[6], 1);
    expect_hits(f, t, b, "eeper zqv qv", &ids[6], 1);
    expect_hits(f, t, b, "zqv standup", NULL, 0);            /* each word, not either */
    expect_hits(f, t, b, "zqv qqzzy", NULL, 0);
    expect_hits(f, t, b, "zqv1", &ids[6], 1);
    int64_t both[] = { ids[1], ids[4] };
    expect_hits(f, t, 0, "meeting", both, 2);                /* all folders, by folder/UID */
    expect_hits(f, t, a, "meeting", &ids[1], 1);
    expect_hits(f, t, b, "meeting", &ids[4], 1);
    expect_hits(f, t, b, "standup", &ids[4], 1);             /* calendar content */
    struct outpost_cursor *c;
    EXPECT(f->m->fts_search(t, a, "  ", &c), OUTPOST_BAD_DATA);
    if (mode == OUTPOST_TXN_WRITE)
        OK(f->m->commit(t));
    else
        f->m->rollback(t);
}

static void test_fts(void **state)
{
    struct fx *f = *state;
    if (!(f->caps & OUTPOST_STORAGE_CAP_FTS))
        skip();
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t a = fx_folder(f, t, 0, "INBOX", OUTPOST_ITEM_MAIL);
    int64_t b = fx_folder(f, t, 0, "Calendar", OUTPOST_ITEM_EVENT);
    int64_t ids[7];
    const char *subjects[] = { "Quarterly budget", "Résumé", "photos", "misc" };
    const char *froms[] = { "Alice Martin <alice@example.org>", "Zoe <zoe@example.org>", "carol@example.org",
                            "dave@example.org" };
    for (int i = 0; i < 4; i++) {
        outpost_item it = fx_item_template(a, OUTPOST_ITEM_MAIL, 0, subjects[i]);
        it.from = froms[i];
        it.to = i == 0 ? "bob@example.org" : NULL;
        OK(f->m->item_put(t, &it));
        OK(f->m->content_write(t, it.id, 0, fts_mails[i], strlen(fts_mails[i])));
        OK(f->m->content_finish(t, it.id, OUTPOST_CONTENT_COMPLETE));
        ids[i] = it.id;
    }
    ids[4] = fx_put(f, t, b, OUTPOST_ITEM_EVENT, 0, "Weekly meeting",
                    "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:standup\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
    char many[512] = "lighthouse-keeper";
    for (int i = 1; i <= 40; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), " zqv%da", i);
    ids[6] = fx_put(f, t, b, OUTPOST_ITEM_EVENT, 0, "rota", many);
    OK(f->m->commit(t));
    /* nothing indexed yet: a read transaction must still find everything */
    fts_round(f, OUTPOST_TXN_READ, a, b, ids);
    fts_round(f, OUTPOST_TXN_WRITE, a, b, ids);
    fts_round(f, OUTPOST_TXN_READ, a, b, ids);
    /* changes after indexing: deleted, summary changed, content arrived */
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    OK(f->m->item_delete(t, ids[3]));
    const outpost_item *g;
    OK(f->m->item_get(t, ids[2], &g));
    outpost_item up = *g;
    up.subject = "holiday snaps";
    OK(f->m->item_update(t, &up, OUTPOST_ITEM_F_SUMMARY));
    outpost_item late = fx_item_template(a, OUTPOST_ITEM_MAIL, 0, "late body");
    late.content_state = OUTPOST_CONTENT_SUMMARY;
    OK(f->m->item_put(t, &late));
    ids[5] = late.id;
    OK(f->m->commit(t));
    if (OUTPOST_HAS_METHOD(f->m, struct outpost_storage_methods, fts_index)) {
        t = fx_begin(f, OUTPOST_TXN_WRITE);
        uint32_t done = 0;
        uint64_t left = 99;
        OK(f->m->fts_index(t, 0, &done, &left));
        assert_int_equal(left, 0);
        OK(f->m->commit(t));
    }
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    OK(f->m->content_write(t, ids[5], 0, "Subject: late body\r\n\r\nnarwhal\r\n", 31));
    OK(f->m->content_finish(t, ids[5], OUTPOST_CONTENT_COMPLETE));
    OK(f->m->commit(t));
    for (int round = 0; round < 2; round++) {
        t = fx_begin(f, round ? OUTPOST_TXN_WRITE : OUTPOST_TXN_READ);
        expect_hits(f, t, a, "xylophone", NULL, 0);
        expect_hits(f, t, a, "holiday", &ids[2], 1);
        /* the summary no longer says it; the message's own Subject does */
        if (f->caps & OUTPOST_STORAGE_CAP_FTS_ALL_HEADERS)
            expect_hits(f, t, a, "photos", &ids[2], 1);
        else
            expect_hits(f, t, a, "photos", NULL, 0);
        expect_hits(f, t, a, "lighthouse", &ids[2], 1);
        expect_hits(f, t, a, "narwhal", &ids[5], 1);
        expect_hits(f, t, a, "ARWHA", &ids[5], 1);           /* not indexed yet in round 0 */
        expect_hits(f, t, a, "oliday", &ids[2], 1);
        OK(f->m->commit(t));
    }
    /* dropping content keeps the item findable */
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    OK(f->m->content_drop(t, ids[0]));
    expect_hits(f, t, a, "spreadsheet", &ids[0], 1);
    OK(f->m->commit(t));
    fx_reopen(f);
    t = fx_begin(f, OUTPOST_TXN_READ);
    expect_hits(f, t, a, "spreadsheet", &ids[0], 1);
    expect_hits(f, t, a, "narwhal", &ids[5], 1);
    f->m->rollback(t);
    OK(f->m->integrity_check(f->s));
}

/* OUTPOST_STORAGE_CAP_FTS_ALL_HEADERS: words found only in header fields
 * other than subject and addresses (Message-ID, Reply-To, X-Mailer, an
 * encoded word, a folded line) are found, and only in their message. */
static void test_fts_all_headers(void **state)
{
    struct fx *f = *state;
    if (!(f->caps & OUTPOST_STORAGE_CAP_FTS_ALL_HEADERS))
        skip();
    static const char with[] =
        "From: ann@example.org\r\nTo: ben@example.org\r\nSubject: status\r\n"
        "Message-ID: <quokka4711@mx.example>\r\nReply-To: wombat@example.net\r\n"
        "X-Mailer: Platypus Mail 2.1\r\nX-Note: =?utf-8?q?pi=C3=B1ata?=\r\n"
        "X-Folded: first line\r\n\tsecond echidna\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nAll fine here.\r\n";
    static const char without[] =
        "From: ann@example.org\r\nTo: ben@example.org\r\nSubject: status\r\n"
        "Message-ID: <koala@mx.example>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nAll fine here.\r\n";
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t a = fx_folder(f, t, 0, "INBOX", OUTPOST_ITEM_MAIL);
    int64_t ids[2];
    const char *contents[2] = { with, without };
    for (int i = 0; i < 2; i++) {
        outpost_item it = fx_item_template(a, OUTPOST_ITEM_MAIL, 0, "status");
        it.from = "ann@example.org";
        it.to = "ben@example.org";
        it.size = strlen(contents[i]);
        OK(f->m->item_put(t, &it));
        OK(f->m->content_write(t, it.id, 0, contents[i], strlen(contents[i])));
        OK(f->m->content_finish(t, it.id, OUTPOST_CONTENT_COMPLETE));
        ids[i] = it.id;
    }
    OK(f->m->commit(t));
    /* not indexed (read), indexed by a write, then read from the index */
    static const uint32_t modes[] = { OUTPOST_TXN_READ, OUTPOST_TXN_WRITE, OUTPOST_TXN_READ };
    for (int round = 0; round < 3; round++) {
        t = fx_begin(f, modes[round]);
        expect_hits(f, t, a, "quokka4711", &ids[0], 1);      /* Message-ID */
        expect_hits(f, t, a, "okka47", &ids[0], 1);          /* ... inside its word */
        expect_hits(f, t, a, "koala", &ids[1], 1);
        expect_hits(f, t, a, "wombat", &ids[0], 1);          /* Reply-To */
        expect_hits(f, t, a, "PLATYPUS", &ids[0], 1);        /* X-Mailer */
        expect_hits(f, t, a, "pinata", &ids[0], 1);          /* RFC 2047, diacritics */
        expect_hits(f, t, a, "echidna", &ids[0], 1);         /* folded line */
        expect_hits(f, t, a, "mailer", &ids[0], 1);          /* a field's name */
        expect_hits(f, t, a, "mx.example", ids, 2);
        expect_hits(f, t, a, "wombat koala", NULL, 0);
        if (modes[round] == OUTPOST_TXN_WRITE)
            OK(f->m->commit(t));
        else
            f->m->rollback(t);
    }
}

static void test_integrity_after_reopen(void **state)
{
    struct fx *f = *state;
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t a = fx_folder(f, t, 0, "A", OUTPOST_ITEM_MAIL);
    for (int i = 0; i < 50; i++)
        fx_put(f, t, a, OUTPOST_ITEM_MAIL, i % 3 ? OUTPOST_FLAG_SEEN : 0, "m", "content");
    OK(f->m->commit(t));
    fx_reopen(f);
    OK(f->m->integrity_check(f->s));
    t = fx_begin(f, OUTPOST_TXN_READ);
    const outpost_folder *g;
    OK(f->m->folder_get(t, a, &g));
    assert_int_equal(g->total, 50);
    assert_int_equal(g->unread, 17);
    f->m->rollback(t);
    /* close refuses while a transaction is open */
    t = fx_begin(f, OUTPOST_TXN_READ);
    EXPECT(f->m->close(f->s), OUTPOST_BAD_DATA);
    f->m->rollback(t);
}

/* ---- items_uid_flags of a large folder stays exact through changes ---- */

/* items_uid_flags(lo, hi) equals what items_by_uid(lo, hi) says, row by row. */
static void uf_check(struct fx *f, struct outpost_txn *t, int64_t folder, uint32_t lo, uint32_t hi, size_t want)
{
    struct outpost_cursor *c;
    struct fx_uf_row *a, *b;
    OK(f->m->items_by_uid(t, folder, lo, hi, &c));
    size_t na = fx_uf_collect(f, c, 1, &a);
    OK(f->m->items_uid_flags(t, folder, lo, hi, &c));
    size_t nb = fx_uf_collect(f, c, 0, &b);
    assert_int_equal(na, want);
    fx_uf_same(a, na, b, nb);
}

static void test_uid_flags_large_folder(void **state)
{
    struct fx *f = *state;
    if (!OUTPOST_HAS_METHOD(f->m, struct outpost_storage_methods, items_uid_flags))
        skip();
    enum { N = 2500 };
    static int64_t ids[N];
    char longkw[700] = "";
    for (int k = 0; k < 60; k++)
        snprintf(longkw + strlen(longkw), sizeof longkw - strlen(longkw), "%s$Label%03d", k ? " " : "", k);
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t a = fx_folder(f, t, 0, "A", OUTPOST_ITEM_MAIL);
    int64_t b = fx_folder(f, t, 0, "B", OUTPOST_ITEM_MAIL);
    OK(f->m->commit(t));
    for (int i = 0; i < N; i++) {
        if (i % 1000 == 0)
            t = fx_begin(f, OUTPOST_TXN_WRITE);
        ids[i] = fx_put(f, t, a, OUTPOST_ITEM_MAIL, i % 3 ? OUTPOST_FLAG_SEEN : 0, "m", NULL);
        if (i % 1000 == 999 || i == N - 1)
            OK(f->m->commit(t));
    }
    t = fx_begin(f, OUTPOST_TXN_READ);
    uf_check(f, t, a, 1, 0, N);
    uf_check(f, t, a, 100, 700, 601);
    f->m->rollback(t);

    /* a few changes of every kind: flags and keywords (long ones too),
     * removals, moves out and back in */
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    for (int i = 0; i < 50; i++)
        OK(f->m->item_set_flags(t, ids[i * 40], OUTPOST_FLAG_FLAGGED, i % 5 ? "$Work" : longkw, NULL));
    for (int i = 0; i < 30; i++)
        OK(f->m->item_delete(t, ids[i * 80 + 1]));
    uint32_t nu;
    for (int i = 0; i < 20; i++)
        OK(f->m->item_move(t, ids[i * 100 + 3], b, &nu));
    for (int i = 0; i < 5; i++)
        OK(f->m->item_move(t, ids[i * 100 + 3], a, &nu));
    uf_check(f, t, a, 1, 0, N - 30 - 15); /* the transaction sees its own changes */
    OK(f->m->commit(t));
    t = fx_begin(f, OUTPOST_TXN_READ);
    uf_check(f, t, a, 1, 0, N - 45);
    uf_check(f, t, a, 100, 700, 601 - 7 - 6);
    uf_check(f, t, a, N + 1, 0, 5);
    uf_check(f, t, b, 1, 0, 15);
    f->m->rollback(t);

    /* uncommitted changes are seen inside only, and vanish on rollback */
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    for (int i = 2; i < 1502; i++)
        if (!(i % 80 == 1 && i / 80 < 30)) /* not deleted above */
            OK(f->m->item_set_flags(t, ids[i], OUTPOST_FLAG_SEEN | OUTPOST_FLAG_ANSWERED, NULL, NULL));
    OK(f->m->item_delete(t, ids[2]));
    uf_check(f, t, a, 1, 0, N - 46);
    f->m->rollback(t);
    t = fx_begin(f, OUTPOST_TXN_READ);
    uf_check(f, t, a, 1, 0, N - 45);
    f->m->rollback(t);

    /* many changes in one commit, then after reopening */
    t = fx_begin(f, OUTPOST_TXN_WRITE);
    for (int i = N - 1500; i < N; i++)
        if (!(i % 80 == 1 && i / 80 < 30))
            OK(f->m->item_set_flags(t, ids[i], OUTPOST_FLAG_DRAFT, i % 700 ? NULL : "$Late", NULL));
    OK(f->m->commit(t));
    fx_reopen(f);
    t = fx_begin(f, OUTPOST_TXN_READ);
    uf_check(f, t, a, 1, 0, N - 45);
    uf_check(f, t, a, 1, 50, 48);
    uf_check(f, t, b, 1, 0, 15);
    f->m->rollback(t);
    OK(f->m->integrity_check(f->s));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PLUGIN-NAME-OR-PATH\n", argv[0]);
        return 2;
    }
    if (test_storage_load(argv[1], &g_plugin) != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        T(test_crud_every_kind),
        T(test_item_kind_must_match_folder),
        T(test_folders),
        T(test_uidvalidity_fresh),
        T(test_unicode_and_long_names),
        T(test_uid_modseq_monotonic_across_reopen),
        T(test_ids_never_reused),
        T(test_counters_exact),
        T(test_flags_and_changed_since),
        T(test_uid_flags_large_folder),
        T(test_tombstones),
        T(test_empty_and_large_items),
        T(test_content_round_trip),
        T(test_content_batch),
        T(test_missing_content),
        T(test_journal_order_and_atomicity),
        T(test_sync_state_atomic_with_batch),
        T(test_rollback_leaves_no_trace),
        T(test_rollback_large_content),
        T(test_transaction_rules),
        T(test_reader_during_long_write),
        T(test_two_stores_in_one_process),
        T(test_property_bag),
        T(test_meta),
        T(test_journal_prune),
        T(test_fts),
        T(test_fts_all_headers),
        T(test_integrity_after_reopen),
    };
    char group[128];
    snprintf(group, sizeof group, "storage conformance (%s)", g_plugin.plugin->name);
    int rc = cmocka_run_group_tests_name(group, tests, NULL, NULL);
    test_storage_unload(&g_plugin);
    return rc;
}
