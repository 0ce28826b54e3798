/* storage_fsguard_open.c — `storage_fsguard_open <plugin-name>`: the core
 * refuses to open a storage plugin's cache on a FUSE mount (bindfs), before
 * the plugin touches it; with allow_network_fs = true it opens. The guard
 * lives in the core (core/fsguard.c, called by outpost_app_open_storage);
 * this checks that no plugin path bypasses it. Needs root, /dev/fuse and
 * bindfs; skipped otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "app.h"

static const char *plugin;

static int open_with(const char *ini_dir, const char *data_dir, int allow, char *err, size_t errlen, int *created)
{
    char ini[512];
    snprintf(ini, sizeof ini, "%s/outpost.ini", ini_dir);
    FILE *f = fopen(ini, "w");
    assert_non_null(f);
    fprintf(f, "[core]\ndata_dir = %s\nplugin_dir = %s\n\n[storage]\nplugin = %s\n%s", data_dir,
            OUTPOST_TEST_PLUGIN_DIR, plugin, allow ? "allow_network_fs = true\n" : "");
    fclose(f);
    struct outpost_app app;
    int rc = outpost_app_load(&app, ini, 0, err, errlen);
    if (rc == 0) {
        struct outpost_open_storage o;
        rc = outpost_app_open_storage(&app, &o, err, errlen);
        if (rc == 0)
            outpost_app_close_storage(&o);
    }
    outpost_app_free(&app);
    char cache[600];
    struct stat sb;
    snprintf(cache, sizeof cache, "%s/cache.fdb", data_dir);
    *created = stat(cache, &sb) == 0;
    snprintf(cache, sizeof cache, "%s/cache.sqlite", data_dir);
    *created |= stat(cache, &sb) == 0;
    return rc;
}

static void test_refused_on_fuse(void **s)
{
    (void)s;
    if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) != 0 || system("command -v bindfs >/dev/null") != 0)
        skip();
    char src[128], mnt[128], cfg[128], cmd[1024];
    snprintf(src, sizeof src, "/tmp/outpost-sfuse-src-%ld", (long)getpid());
    snprintf(mnt, sizeof mnt, "/tmp/outpost-sfuse-mnt-%ld", (long)getpid());
    snprintf(cfg, sizeof cfg, "/tmp/outpost-sfuse-cfg-%ld", (long)getpid());
    snprintf(cmd, sizeof cmd, "mkdir -p %s %s %s && bindfs %s %s", src, mnt, cfg, src, mnt);
    if (system(cmd) != 0) {
        snprintf(cmd, sizeof cmd, "rmdir %s %s %s", src, mnt, cfg);
        if (system(cmd)) {
        }
        skip(); /* FUSE not usable in this sandbox */
    }
    char err[2048] = "", err2[2048] = "";
    int created = 0, created2 = 0;
    int refused = open_with(cfg, mnt, 0, err, sizeof err, &created) != 0;
    int opened = open_with(cfg, mnt, 1, err2, sizeof err2, &created2) == 0;
    snprintf(cmd, sizeof cmd, "fusermount -u %s 2>/dev/null || umount %s; rm -rf %s %s %s", mnt, mnt, mnt, src, cfg);
    if (system(cmd)) {
    }
    if (!refused)
        fail_msg("[storage] plugin = %s on a FUSE mount was opened", plugin);
    assert_false(created);
    assert_non_null(strstr(err, "fuse"));
    assert_non_null(strstr(err, "allow_network_fs = true"));
    if (!opened)
        fail_msg("with allow_network_fs = true the cache should open: %s", err2);
    assert_true(created2);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PLUGIN-NAME\n", argv[0]);
        return 2;
    }
    plugin = argv[1];
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_refused_on_fuse) };
    char group[128];
    snprintf(group, sizeof group, "network-fs guard before opening storage (%s)", plugin);
    return cmocka_run_group_tests_name(group, tests, NULL, NULL);
}
