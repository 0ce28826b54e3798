/* storage_diskfull.c — a full disk: `storage_diskfull <plugin-name>`.
 *
 * Runs the store on a 6 MiB tmpfs (in a private mount namespace, so nothing
 * leaks into the host's mount table even if the test dies), writes batches
 * until the disk is full, and checks: the failure is FATAL with a message
 * saying "disk full", nothing committed is lost, and the store works again
 * once space is freed. Needs root (CI runs as root); skipped otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include "storage_fixture.h"

struct test_storage_plugin g_plugin;

#define ITEMS_PER_BATCH 4
#define ITEM_BYTES 16384

struct dfx {
    struct fx f;
    char *mnt;
    int mounted;
};

static unsigned char byte_at(int64_t item_no, size_t i)
{
    return (unsigned char)((item_no * 131 + i * 7 + (i >> 9)) & 0xff);
}

static int dfx_setup(void **state)
{
    if (geteuid() != 0) {
        print_message("skipped: the disk-full test mounts a tmpfs and needs root\n");
        *state = NULL;
        return 0;
    }
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        print_message("skipped: cannot make a private mount namespace (%s)\n", strerror(errno));
        *state = NULL;
        return 0;
    }
    struct dfx *d = calloc(1, sizeof *d);
    d->mnt = test_mkdtemp("diskfull");
    if (!d->mnt || mount("tmpfs", d->mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=6m,mode=0700") != 0) {
        print_message("skipped: cannot mount a tmpfs (%s)\n", strerror(errno));
        if (d->mnt)
            rmdir(d->mnt);
        free(d->mnt);
        free(d);
        *state = NULL;
        return 0;
    }
    d->mounted = 1;
    *state = d;
    return 0;
}

static int dfx_teardown(void **state)
{
    struct dfx *d = *state;
    if (!d)
        return 0;
    if (d->f.s) {
        d->f.m->close(d->f.s);
        d->f.m->destroy(d->f.s);
    }
    test_host_free(d->f.th);
    if (d->mounted && umount2(d->mnt, MNT_DETACH) != 0)
        print_message("warning: umount %s: %s\n", d->mnt, strerror(errno));
    rmdir(d->mnt);
    free(d->mnt);
    free(d);
    return 0;
}

/* All committed items are there with their content. */
static void check_items(struct fx *f, int64_t folder, int64_t nitems)
{
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_READ);
    const outpost_folder *fo;
    OK(f->m->folder_get(t, folder, &fo));
    assert_int_equal(fo->total, nitems);
    char state[32];
    snprintf(state, sizeof state, "items=%lld", (long long)nitems);
    assert_int_equal(fo->sync_state_len, strlen(state));
    assert_memory_equal(fo->sync_state, state, strlen(state));
    struct outpost_cursor *c;
    OK(f->m->items_by_uid(t, folder, 1, 0, &c));
    int64_t ids[4096];
    int64_t n = 0;
    const void *row;
    for (;;) {
        OK(f->m->cursor_next(c, &row));
        if (!row)
            break;
        assert_true(n < 4096);
        ids[n++] = ((const outpost_item *)row)->id;
    }
    f->m->cursor_close(c);
    assert_int_equal(n, nitems);
    unsigned char *buf = malloc(ITEM_BYTES + 1);
    for (int64_t i = 0; i < n; i++) {
        const outpost_item *it;
        OK(f->m->item_get(t, ids[i], &it));
        int64_t no = strtoll(it->remote_id, NULL, 10);
        size_t got = 0;
        OK(f->m->content_read(t, ids[i], 0, buf, ITEM_BYTES + 1, &got));
        assert_int_equal(got, ITEM_BYTES);
        for (size_t k = 0; k < got; k++)
            if (buf[k] != byte_at(no, k))
                fail_msg("item %lld: content byte %zu differs after the disk filled up", (long long)no, k);
    }
    free(buf);
    f->m->rollback(t);
}

/* One batch; returns the status of the first failing call (or of commit). */
static outpost_status write_batch(struct fx *f, int64_t folder, int64_t first_no, int nitems)
{
    struct outpost_txn *t;
    outpost_status st = f->m->begin(f->s, OUTPOST_TXN_WRITE, &t);
    if (st.code)
        return st;
    unsigned char *buf = malloc(ITEM_BYTES);
    for (int j = 0; j < nitems && st.code == OUTPOST_OK; j++) {
        int64_t no = first_no + j;
        char rid[32];
        snprintf(rid, sizeof rid, "%lld", (long long)no);
        outpost_item it = fx_item_template(folder, OUTPOST_ITEM_MAIL, 0, "fill");
        it.remote_id = rid;
        it.size = ITEM_BYTES;
        for (size_t k = 0; k < ITEM_BYTES; k++)
            buf[k] = byte_at(no, k);
        st = f->m->item_put(t, &it);
        if (st.code == OUTPOST_OK)
            st = f->m->content_write(t, it.id, 0, buf, ITEM_BYTES);
        if (st.code == OUTPOST_OK)
            st = f->m->content_finish(t, it.id, OUTPOST_CONTENT_COMPLETE);
    }
    free(buf);
    if (st.code == OUTPOST_OK) {
        char state[32];
        int n = snprintf(state, sizeof state, "items=%lld", (long long)(first_no + nitems));
        st = f->m->folder_set_sync_state(t, folder, state, (size_t)n);
    }
    if (st.code != OUTPOST_OK) {
        /* keep the message: rollback may overwrite the instance's buffer */
        static char msg[1024];
        snprintf(msg, sizeof msg, "%s", st.message ? st.message : "");
        st.message = msg;
        f->m->rollback(t);
        return st;
    }
    return f->m->commit(t);
}

static void test_disk_full(void **state)
{
    struct dfx *d = *state;
    if (!d)
        skip();
    struct fx *f = &d->f;
    f->dir = d->mnt;
    f->th = test_host_new("storage", d->mnt, NULL);
    f->m = g_plugin.m;
    /* space to free later */
    char filler[4200];
    snprintf(filler, sizeof filler, "%s/filler", d->mnt);
    int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    char block[4096];
    memset(block, 'x', sizeof block);
    for (int i = 0; i < 96; i++) /* 384 KiB */
        assert_int_equal(write(fd, block, sizeof block), (ssize_t)sizeof block);
    close(fd);

    fx_instance(f, &f->s);
    struct outpost_txn *t = fx_begin(f, OUTPOST_TXN_WRITE);
    int64_t folder = fx_folder(f, t, 0, "INBOX", OUTPOST_ITEM_MAIL);
    OK(f->m->folder_set_sync_state(t, folder, "items=0", 7));
    OK(f->m->commit(t));

    int64_t committed = 0;
    outpost_status st = outpost_ok();
    for (int batch = 0; batch < 1000; batch++) {
        st = write_batch(f, folder, committed, ITEMS_PER_BATCH);
        if (st.code != OUTPOST_OK)
            break;
        committed += ITEMS_PER_BATCH;
    }
    print_message("disk full after %lld committed items: %s\n", (long long)committed,
                  st.message ? st.message : "(no failure)");
    assert_int_equal(st.code, OUTPOST_FATAL);
    assert_non_null(st.message);
    assert_non_null(strstr(st.message, "disk full"));
    assert_true(committed > 0);

    /* nothing committed is lost, while the disk is still full ... */
    check_items(f, folder, committed);
    /* ... and it keeps failing cleanly until space is freed */
    st = write_batch(f, folder, committed, ITEMS_PER_BATCH);
    assert_int_equal(st.code, OUTPOST_FATAL);
    check_items(f, folder, committed);

    assert_int_equal(unlink(filler), 0);
    OK(write_batch(f, folder, committed, 2));
    committed += 2;
    check_items(f, folder, committed);
    OK(f->m->integrity_check(f->s));
    fx_close_instance(f, f->s);
    f->s = NULL;
    fx_instance(f, &f->s);
    check_items(f, folder, committed);
    OK(f->m->integrity_check(f->s));
    fx_close_instance(f, f->s);
    f->s = NULL;
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
        cmocka_unit_test_setup_teardown(test_disk_full, dfx_setup, dfx_teardown),
    };
    char group[128];
    snprintf(group, sizeof group, "storage disk full (%s)", g_plugin.plugin->name);
    int rc = cmocka_run_group_tests_name(group, tests, NULL, NULL);
    test_storage_unload(&g_plugin);
    return rc;
}
