/* storage_crash.c — crash safety: `storage_crash <plugin-name>`.
 *
 * A child process commits batches (items with content and a property, one
 * journal entry per item with a payload, the folder's sync state naming the
 * batch; each value of a length that varies from a few bytes to several
 * storage rows and spells out whose it is) and reports each batch to
 * the parent through a pipe once commit() returned OK. The parent kills it
 * with SIGKILL at a random moment, reopens the store and checks: the engine's
 * integrity check passes, every acknowledged batch is there whole, each of
 * the last 40 batches' values holds its own bytes (content, property, payload,
 * sync state), and of the batch in flight either all or nothing is there. Repeated
 * $OUTPOST_CRASH_LOOPS times (default 50), bounded by $OUTPOST_CRASH_SECONDS
 * (default 90); a child runs up to $OUTPOST_CRASH_RUN_MS (default 60) after
 * its first commit. Engine neutral: only the storage ABI is used.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "storage_fixture.h"

struct test_storage_plugin g_plugin;

#define BATCH 16

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A value of item j of a batch: `what` and the item's name repeated
 * ("b12-3 b12-3 ..." for content), so a value that shows another's bytes
 * says whose they are. */
static void fill_tag(const char *what, uint32_t batch, uint32_t j, unsigned char *buf, size_t n)
{
    char tag[48];
    int tl = snprintf(tag, sizeof tag, "%sb%u-%u ", what, batch, j);
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)tag[i % (size_t)tl];
}

static void fill_content(uint32_t batch, uint32_t j, unsigned char *buf, size_t n)
{
    fill_tag("", batch, j, buf, n);
}

static size_t content_len(uint32_t batch, uint32_t j)
{
    return 500 + (batch * 131 + j * 977) % 12000;
}

/* Property "crash.tag" and journal payload lengths: a few bytes to a few
 * storage rows. */
static size_t prop_len(uint32_t batch, uint32_t j)
{
    return 1 + (batch * 53 + j * 211) % 20000;
}

static size_t payload_len(uint32_t batch, uint32_t j)
{
    return 1 + (batch * 37 + j * 101) % 3000;
}

#define STATE_MAX 6000

/* The folder's sync state: "batch=N;" once, or repeated to STATE_MAX bytes
 * for every third batch. */
static size_t make_state(uint32_t batch, char *buf)
{
    char tag[24];
    int tl = snprintf(tag, sizeof tag, "batch=%u;", batch);
    size_t n = batch % 3 ? (size_t)tl : STATE_MAX;
    for (size_t i = 0; i < n; i++)
        buf[i] = tag[i % (size_t)tl];
    return n;
}

static uint32_t parse_batch(const outpost_folder *f)
{
    if (!f->sync_state || f->sync_state_len < 7 || f->sync_state_len > STATE_MAX)
        return 0;
    uint32_t b = (uint32_t)strtoul((const char *)f->sync_state + 6, NULL, 10); /* "batch=N;" */
    char want[STATE_MAX];
    size_t n = make_state(b, want);
    if (n != f->sync_state_len || memcmp(want, f->sync_state, n) != 0)
        fail_msg("the sync state (%zu bytes) is not batch %u's: it begins \"%.40s\"", f->sync_state_len, b,
                 (const char *)f->sync_state);
    return b;
}

/* The child: commits batches forever and acknowledges each. Never returns. */
static void child_main(const char *dir, int ack_fd)
{
    struct test_host *th = test_host_new("storage", dir, NULL);
    const struct outpost_storage_methods *m = g_plugin.m;
    struct outpost_storage *s;
    struct outpost_txn *t;
    const outpost_folder *fo;
    if (m->create(test_host_table(th), &s).code || m->open(s).code || m->begin(s, OUTPOST_TXN_READ, &t).code)
        _exit(3);
    if (m->folder_find_remote(t, "inbox", &fo).code)
        _exit(4);
    int64_t folder = fo->id;
    uint32_t batch = parse_batch(fo);
    m->rollback(t);
    unsigned char *buf = malloc(20000), *pay = malloc(3000);
    for (;;) {
        batch++;
        if (m->begin(s, OUTPOST_TXN_WRITE, &t).code)
            _exit(5);
        for (uint32_t j = 0; j < BATCH; j++) {
            char rid[48];
            snprintf(rid, sizeof rid, "b%u-%u", batch, j);
            outpost_item it = fx_item_template(folder, OUTPOST_ITEM_MAIL, j % 3 ? OUTPOST_FLAG_SEEN : 0, "crash");
            it.remote_id = rid;
            size_t n = content_len(batch, j);
            it.size = n;
            fill_content(batch, j, buf, n);
            outpost_journal_entry e;
            memset(&e, 0, sizeof e);
            e.struct_size = sizeof e;
            e.op = OUTPOST_J_ITEM_CREATE;
            e.folder_id = folder;
            if (m->item_put(t, &it).code || m->content_write(t, it.id, 0, buf, n / 2).code ||
                m->content_write(t, it.id, n / 2, buf + n / 2, n - n / 2).code ||
                m->content_finish(t, it.id, OUTPOST_CONTENT_COMPLETE).code)
                _exit(6);
            e.item_id = it.id;
            e.remote_id = rid;
            e.payload_len = payload_len(batch, j);
            fill_tag("pay ", batch, j, pay, e.payload_len);
            e.payload = pay;
            if (m->journal_append(t, &e).code)
                _exit(7);
            size_t pl = prop_len(batch, j);
            fill_tag("prop ", batch, j, buf, pl);
            if (m->prop_set(t, it.id, "crash.tag", buf, pl).code)
                _exit(11);
        }
        char state[STATE_MAX];
        size_t sl = make_state(batch, state);
        if (m->folder_set_sync_state(t, folder, state, sl).code)
            _exit(8);
        if (m->commit(t).code)
            _exit(9);
        if (write(ack_fd, &batch, sizeof batch) != (ssize_t)sizeof batch)
            _exit(10);
    }
}

/* Checks the store after a kill; returns the committed batch number. */
static uint32_t verify(struct fx *f, uint32_t last_ack)
{
    OK(f->m->integrity_check(f->s));
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_READ);
    const outpost_folder *fo;
    OK(f->m->folder_find_remote(t, "inbox", &fo));
    int64_t folder = fo->id;
    uint32_t committed = parse_batch(fo);
    if (committed < last_ack || committed > last_ack + 1)
        fail_msg("sync state says batch %u, but batch %u was acknowledged", committed, last_ack);
    assert_int_equal(fo->total, committed * BATCH);
    fx_check_counters(f, t, folder);
    /* every batch whole: count items per batch from their remote ids */
    uint32_t *per = calloc(committed + 2, sizeof *per);
    struct outpost_cursor *c;
    OK(f->m->items_by_uid(t, folder, 1, 0, &c));
    const void *row;
    for (;;) {
        OK(f->m->cursor_next(c, &row));
        if (!row)
            break;
        const outpost_item *it = row;
        unsigned b = 0, j = 0;
        if (!it->remote_id || sscanf(it->remote_id, "b%u-%u", &b, &j) != 2 || b == 0 || b > committed)
            fail_msg("item %lld with remote id %s is not part of a committed batch (committed %u)",
                     (long long)it->id, it->remote_id ? it->remote_id : "(null)", committed);
        per[b]++;
        assert_int_equal(it->content_state, OUTPOST_CONTENT_COMPLETE);
        assert_int_equal(it->cached_size, content_len(b, j));
    }
    f->m->cursor_close(c);
    for (uint32_t b = 1; b <= committed; b++)
        if (per[b] != BATCH)
            fail_msg("batch %u has %u of its %d items", b, per[b], BATCH);
    free(per);
    /* the last 40 committed batches' values are intact */
    uint32_t first_checked = committed > 40 ? committed - 40 : 1;
    for (uint32_t cb = first_checked; cb && cb <= committed; cb++) {
        unsigned char buf[20001], want[20000];
        for (uint32_t j = 0; j < BATCH; j++) {
            char rid[48];
            snprintf(rid, sizeof rid, "b%u-%u", cb, j);
            const outpost_item *it;
            OK(f->m->item_find_remote(t, folder, rid, &it));
            size_t got = 0;
            OK(f->m->content_read(t, it->id, 0, buf, sizeof buf, &got));
            assert_int_equal(got, content_len(cb, j));
            fill_content(cb, j, want, got);
            if (memcmp(buf, want, got) != 0)
                fail_msg("batch %u item %u (item id %lld, %zu bytes): content differs, it begins \"%.40s\" (committed %u)",
                         cb, j, (long long)it->id, got, (const char *)buf, committed);
            const void *pv;
            size_t pn = 0;
            OK(f->m->prop_get(t, it->id, "crash.tag", &pv, &pn));
            assert_int_equal(pn, prop_len(cb, j));
            fill_tag("prop ", cb, j, want, pn);
            if (memcmp(pv, want, pn) != 0)
                fail_msg("batch %u item %u (item id %lld): its property differs, it begins \"%.40s\" (committed %u)",
                         cb, j, (long long)it->id, (const char *)pv, committed);
        }
    }
    uint64_t pending = 0;
    OK(f->m->journal_pending(t, 0, &c));
    size_t n = 0;
    int64_t last_seq = 0;
    for (;;) {
        OK(f->m->cursor_next(c, &row));
        if (!row)
            break;
        const outpost_journal_entry *e = row;
        assert_true(e->seq > last_seq);
        last_seq = e->seq;
        n++;
        unsigned b = 0, j = 0;
        if (!e->remote_id || sscanf(e->remote_id, "b%u-%u", &b, &j) != 2)
            fail_msg("journal entry %lld names no item", (long long)e->seq);
        if (b < first_checked)
            continue;
        unsigned char want[3000];
        size_t pn = payload_len(b, j);
        fill_tag("pay ", b, j, want, pn);
        if (!e->payload || e->payload_len != pn || memcmp(e->payload, want, pn) != 0)
            fail_msg("journal entry %lld of b%u-%u: its payload (%zu bytes) differs, it begins \"%.40s\" (committed %u)",
                     (long long)e->seq, b, j, e->payload_len, e->payload ? (const char *)e->payload : "", committed);
    }
    f->m->cursor_close(c);
    OK(f->m->journal_count(t, OUTPOST_JS_PENDING, &pending));
    assert_int_equal(pending, n);
    assert_int_equal(n, (size_t)committed * BATCH);
    f->m->rollback(t);
    return committed;
}

static void test_crash_loops(void **state)
{
    struct fx *f = *state;
    const char *e = getenv("OUTPOST_CRASH_LOOPS");
    int loops = e && *e ? atoi(e) : 50;
    e = getenv("OUTPOST_CRASH_SECONDS");
    int64_t budget_ms = (e && *e ? atoll(e) : 90) * 1000;
    /* how long a child may run after its first commit: long enough for the
     * WAL to pass a small checkpoint_mb when that is what is tested */
    e = getenv("OUTPOST_CRASH_RUN_MS");
    int run_ms = e && *e ? atoi(e) : 60;
    if (run_ms < 1)
        run_ms = 1;
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    e = getenv("OUTPOST_CRASH_SEED");
    if (e && *e)
        seed = (unsigned)strtoul(e, NULL, 10);
    srand(seed);
    print_message("crash loops: %d, seed %u (OUTPOST_CRASH_SEED to repeat)\n", loops, seed);

    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    outpost_folder fo;
    memset(&fo, 0, sizeof fo);
    fo.struct_size = sizeof fo;
    fo.kind = OUTPOST_ITEM_MAIL;
    fo.name = "INBOX";
    fo.remote_id = "inbox";
    int64_t id;
    OK(f->m->folder_create(t, &fo, &id));
    OK(f->m->commit(t));
    fx_close_instance(f, f->s);
    f->s = NULL;

    int64_t start = now_ms();
    uint32_t last_ack = 0, committed = 0, killed_before_first_ack = 0, in_flight_committed = 0;
    int done;
    for (done = 0; done < loops && now_ms() - start < budget_ms; done++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            child_main(f->dir, p[1]);
        }
        close(p[1]);
        /* let it run for a random while: 0..run_ms after its first commit,
         * sometimes before it got that far */
        int64_t t0 = now_ms();
        int wait_first = rand() % 4 != 0;
        int64_t deadline = t0 + (wait_first ? 2000 : rand() % 15);
        int64_t extra = rand() % run_ms;
        uint32_t acks_this_run = 0;
        for (;;) {
            int64_t left = deadline - now_ms();
            if (left <= 0)
                break;
            struct pollfd pfd = { p[0], POLLIN, 0 };
            int r = poll(&pfd, 1, (int)left);
            if (r <= 0)
                continue;
            uint32_t b;
            ssize_t got = read(p[0], &b, sizeof b);
            if (got != (ssize_t)sizeof b)
                break; /* the child died on its own: checked below */
            last_ack = b;
            if (acks_this_run++ == 0 && wait_first)
                deadline = now_ms() + extra;
        }
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFSIGNALED(status))
            fail_msg("child exited by itself with status %d (a failed storage call)", WEXITSTATUS(status));
        uint32_t b;
        while (read(p[0], &b, sizeof b) == (ssize_t)sizeof b) {
            last_ack = b;
            acks_this_run++;
        }
        close(p[0]);
        killed_before_first_ack += acks_this_run == 0;
        fx_instance(f, &f->s);
        committed = verify(f, last_ack);
        in_flight_committed += committed > last_ack;
        fx_close_instance(f, f->s);
        f->s = NULL;
        last_ack = committed; /* the next child continues from there */
    }
    print_message("%d kills in %lld ms: %u batches committed, %u kills before a first commit, "
                  "%u with the batch in flight committed but not acknowledged\n",
                  done, (long long)(now_ms() - start), committed, killed_before_first_ack, in_flight_committed);
    assert_true(done > 0);
    assert_true(committed > 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PLUGIN-NAME-OR-PATH\n", argv[0]);
        return 2;
    }
    if (test_storage_load(argv[1], &g_plugin) != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crash_loops, fx_setup, fx_teardown),
    };
    char group[128];
    snprintf(group, sizeof group, "storage crash safety (%s)", g_plugin.plugin->name);
    int rc = cmocka_run_group_tests_name(group, tests, NULL, NULL);
    test_storage_unload(&g_plugin);
    return rc;
}
