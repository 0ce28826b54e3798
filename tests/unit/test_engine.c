/* tests/unit/test_engine.c — the engine's own statuses: messages made on several
 * threads at once (the sync worker, the fetch worker, front-end threads asking for
 * content) each stay what their thread wrote, and engine_keep copies a message that
 * must outlive later calls; account identities recorded by earlier versions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine_internal.h"

enum { ROUNDS = 20000 };

struct writer {
    int id;
    int torn;        /* messages found changed under their thread */
    char first[64];  /* the first one that was */
};

/* Makes statuses as fast as it can and reads each back a few times: with one buffer
 * for every thread, another thread's message shows up here. */
static void *write_statuses(void *arg)
{
    struct writer *w = arg;
    char want[128];
    for (int i = 0; i < ROUNDS; i++) {
        snprintf(want, sizeof want, "thread %d: item %d cannot be read (%s)", w->id, i,
                 w->id ? "fetch worker" : "sync worker");
        outpost_status st = engine_status(OUTPOST_BAD_DATA, "thread %d: item %d cannot be read (%s)", w->id, i,
                                          w->id ? "fetch worker" : "sync worker");
        for (int k = 0; k < 4; k++) {
            if (strcmp(st.message, want) != 0) {
                if (!w->torn++)
                    snprintf(w->first, sizeof w->first, "%s", st.message);
                break;
            }
        }
        if (st.code != OUTPOST_BAD_DATA)
            w->torn++;
    }
    return NULL;
}

static void test_status_per_thread(void **state)
{
    (void)state;
    struct writer w[3] = { { 0, 0, "" }, { 1, 0, "" }, { 2, 0, "" } };
    op_thread *t[3];
    for (int i = 0; i < 3; i++)
        assert_non_null(t[i] = op_thread_start(write_statuses, &w[i]));
    for (int i = 0; i < 3; i++)
        op_thread_join(t[i]);
    for (int i = 0; i < 3; i++) {
        if (w[i].torn)
            fail_msg("thread %d: %d messages changed under it, e.g. '%s'", i, w[i].torn, w[i].first);
    }
}

static void test_status_format(void **state)
{
    (void)state;
    outpost_status st = engine_status(OUTPOST_FATAL, "out of memory");
    assert_int_equal(st.code, OUTPOST_FATAL);
    assert_int_equal(st.retry_after_ms, 0);
    assert_string_equal(st.message, "out of memory");
    /* a message longer than the buffer is cut, not overrun */
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    st = engine_status(OUTPOST_BAD_DATA, "%s", big);
    assert_true(strlen(st.message) > 500 && strlen(st.message) < sizeof big - 1);
}

static void test_keep(void **state)
{
    (void)state;
    char buf[64];
    outpost_status st = engine_status(OUTPOST_GONE, "item %d has no server copy yet", 7);
    outpost_status kept = engine_keep(st, buf, sizeof buf);
    assert_ptr_equal(kept.message, buf);
    assert_int_equal(kept.code, OUTPOST_GONE);
    engine_status(OUTPOST_FATAL, "something else");
    assert_string_equal(kept.message, "item 7 has no server copy yet");
    /* keeping it again changes nothing; a status without a message gets its class name */
    assert_ptr_equal(engine_keep(kept, buf, sizeof buf).message, buf);
    outpost_status bare = { OUTPOST_TEMP, 250, NULL };
    kept = engine_keep(bare, buf, sizeof buf);
    assert_string_equal(kept.message, outpost_status_class_name(OUTPOST_TEMP));
    assert_int_equal(kept.retry_after_ms, 250);
    /* OK is passed through untouched */
    outpost_status ok = outpost_ok();
    assert_ptr_equal(engine_keep(ok, buf, sizeof buf).message, ok.message);
}

/* An identity an earlier version recorded compares with today's: its host loses a
 * trailing dot and its case; transport and user stay as they are. */
static void test_identity_normalise(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        { "kerio mail.example.com. jdoe", "kerio mail.example.com jdoe" },
        { "kerio mail.example.com jdoe", "kerio mail.example.com jdoe" },
        { "ews MAIL.example.com.. a b", "ews mail.example.com a b" },
        { "kerio host.", "kerio host" },
        { "kerio  jdoe", "kerio  jdoe" },
        { "kerio", "kerio" },
        { "", "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char id[128];
        snprintf(id, sizeof id, "%s", cases[i].in);
        engine_identity_normalise(id);
        if (strcmp(id, cases[i].out) != 0)
            fail_msg("'%s' became '%s', expected '%s'", cases[i].in, id, cases[i].out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_per_thread),
        cmocka_unit_test(test_status_format),
        cmocka_unit_test(test_keep),
        cmocka_unit_test(test_identity_normalise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
