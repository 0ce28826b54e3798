/* tests/unit/test_fsguard.c — network/FUSE detection on recorded mount
 * tables and on the real file systems of this machine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fsguard.h"

static const char *mounts_dir;

static char *slurp(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", mounts_dir, name);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static const char *type_of(const char *mounts, const char *path)
{
    static char t[64];
    if (outpost_fs_type_from_mounts(mounts, path, t, sizeof t) != 0)
        return "(none)";
    return t;
}

static void test_recorded_table(void **s)
{
    (void)s;
    char *m = slurp("debian-nfs.txt");
    assert_string_equal(type_of(m, "/var/lib"), "ext4");
    assert_string_equal(type_of(m, "/home/alice/.local/share/outpost"), "nfs4");
    assert_string_equal(type_of(m, "/home/alice/local/outpost"), "ext4"); /* nested local mount */
    assert_string_equal(type_of(m, "/home/alice/localx"), "nfs4");        /* prefix is not a parent */
    assert_string_equal(type_of(m, "/mnt/share/x"), "cifs");
    assert_string_equal(type_of(m, "/mnt/bind/cache"), "fuse.bindfs");
    assert_string_equal(type_of(m, "/media/usb/outpost"), "fuseblk");
    assert_string_equal(type_of(m, "/srv/with space/db"), "ext4");
    assert_string_equal(type_of(m, "/mnt/wsl/c"), "9p");
}

static void test_classification(void **s)
{
    (void)s;
    const char *net[] = { "nfs", "nfs4", "cifs", "smb3", "9p", "ceph", "afs", "fuse.bindfs", "fuse.sshfs", "fuse" };
    for (size_t i = 0; i < sizeof net / sizeof *net; i++)
        if (!outpost_fs_type_is_network(net[i]))
            fail_msg("%s should be refused", net[i]);
    const char *local[] = { "ext4", "xfs", "btrfs", "tmpfs", "fuseblk", "overlay", "zfs" };
    for (size_t i = 0; i < sizeof local / sizeof *local; i++)
        if (outpost_fs_type_is_network(local[i]))
            fail_msg("%s should be allowed", local[i]);
    assert_true(outpost_fs_magic_is_network(0x6969));
    assert_true(outpost_fs_magic_is_network(0xFF534D42UL));
    assert_false(outpost_fs_magic_is_network(0xEF53)); /* ext4 */
}

static void test_real_local_dirs(void **s)
{
    (void)s;
    char err[1024];
    if (outpost_fsguard_check("/tmp", 0, err, sizeof err) != 0)
        fail_msg("/tmp refused: %s", err);
    if (outpost_fsguard_check("/dev/shm", 0, err, sizeof err) != 0) /* tmpfs */
        fail_msg("/dev/shm refused: %s", err);
    assert_int_not_equal(outpost_fsguard_check("/nonexistent/dir", 0, err, sizeof err), 0);
}

/* A real FUSE mount (bindfs), as root with /dev/fuse; skipped otherwise. */
static void test_real_fuse(void **s)
{
    (void)s;
    if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) != 0 || system("command -v bindfs >/dev/null") != 0)
        skip();
    char src[128], mnt[128], cmd[1024];
    snprintf(src, sizeof src, "/tmp/outpost-fuse-src-%ld", (long)getpid());
    snprintf(mnt, sizeof mnt, "/tmp/outpost-fuse-mnt-%ld", (long)getpid());
    snprintf(cmd, sizeof cmd, "mkdir -p %s %s && bindfs %s %s", src, mnt, src, mnt);
    if (system(cmd) != 0) {
        snprintf(cmd, sizeof cmd, "rmdir %s %s", src, mnt);
        if (system(cmd)) {
        }
        skip(); /* FUSE not usable in this sandbox */
    }
    char err[2048] = "", err2[2048] = "";
    int refused = outpost_fsguard_check(mnt, 0, err, sizeof err) != 0;
    int allowed = outpost_fsguard_check(mnt, 1, err2, sizeof err2) == 0;
    snprintf(cmd, sizeof cmd, "fusermount -u %s 2>/dev/null || umount %s; rmdir %s %s", mnt, mnt, mnt, src);
    if (system(cmd)) {
    }
    assert_true(refused);
    assert_true(allowed);
    assert_non_null(strstr(err, "(fuse")); /* "fuse" or "fuse.bindfs" by libfuse version */
    assert_non_null(strstr(err, "allow_network_fs = true"));
    assert_non_null(strstr(err, "corrupt"));
}

int main(int argc, char **argv)
{
    mounts_dir = argc > 1 ? argv[1] : ".";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recorded_table),
        cmocka_unit_test(test_classification),
        cmocka_unit_test(test_real_local_dirs),
        cmocka_unit_test(test_real_fuse),
    };
    return cmocka_run_group_tests_name("fsguard", tests, NULL, NULL);
}
