/* tests/unit/test_loader.c — the loader accepts a good plugin and refuses
 * each kind of bad one with one clear line (file, plugin, versions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loader.h"
#include "platform/platform.h"

#ifndef _WIN32
#include <sys/stat.h>
#include <unistd.h>
#endif

static const char *fixtures; /* directory with one subdirectory per case */

static char *case_path(const char *cas)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s%c%s%coutpost-storage-fixture%s", fixtures, op_path_sep(), cas, op_path_sep(),
             op_dl_suffix());
    return buf;
}

static char *case_dir(const char *cas)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s%c%s", fixtures, op_path_sep(), cas);
    return buf;
}

static void expect_refusal(const char *cas, uint32_t kind, const char *needle)
{
    outpost_loaded_plugin *p = NULL;
    char err[1024] = "";
    int rc = outpost_loader_open(case_path(cas), kind, "fixture", &p, err, sizeof err);
    if (rc == 0 || !strstr(err, needle) || !strstr(err, "outpost-storage-fixture"))
        fail_msg("case %s: rc=%d, message '%s' lacks '%s'", cas, rc, err, needle);
    assert_null(p);
    assert_null(strchr(err, '\n'));
}

static void test_good(void **state)
{
    (void)state;
    outpost_loaded_plugin *p = NULL;
    char err[1024] = "";
    int rc = outpost_loader_load(case_dir("good"), OUTPOST_KIND_STORAGE, "fixture", &p, err, sizeof err);
    if (rc != 0)
        fail_msg("good plugin refused: %s", err);
    assert_string_equal(p->desc->name, "fixture");
    assert_string_equal(p->desc->version, "9.9");
    assert_int_equal(p->desc->abi_major, OUTPOST_ABI_MAJOR);
    outpost_loader_unload(p);
}

static void test_not_found(void **state)
{
    (void)state;
    outpost_loaded_plugin *p = NULL;
    char err[1024] = "";
    assert_int_not_equal(outpost_loader_load(case_dir("good"), OUTPOST_KIND_STORAGE, "nosuch", &p, err, sizeof err), 0);
    assert_non_null(strstr(err, "no storage plugin 'nosuch'"));
    assert_non_null(strstr(err, "outpost-storage-nosuch"));
    assert_non_null(strstr(err, case_dir("good")));
}

static void test_no_entry(void **state)
{
    (void)state;
    expect_refusal("noentry", OUTPOST_KIND_STORAGE, "no outpost_plugin_entry symbol");
}

static void test_wrong_kind(void **state)
{
    (void)state;
    expect_refusal("kind", OUTPOST_KIND_STORAGE, "is a transport plugin, expected a storage plugin");
}

static void test_major(void **state)
{
    (void)state;
    char needle[128];
    snprintf(needle, sizeof needle, "built for ABI %d.%d, the core has ABI %d.%d", OUTPOST_ABI_MAJOR + 1,
             OUTPOST_ABI_MINOR, OUTPOST_ABI_MAJOR, OUTPOST_ABI_MINOR);
    expect_refusal("major", OUTPOST_KIND_STORAGE, needle);
}

static void test_minor(void **state)
{
    (void)state;
    char needle[128];
    snprintf(needle, sizeof needle, "needs ABI %d.%d, newer than the core's ABI %d.%d", OUTPOST_ABI_MAJOR,
             OUTPOST_ABI_MINOR + 3, OUTPOST_ABI_MAJOR, OUTPOST_ABI_MINOR);
    expect_refusal("minor", OUTPOST_KIND_STORAGE, needle);
}

static void test_small_table(void **state)
{
    (void)state;
    expect_refusal("table", OUTPOST_KIND_STORAGE, "method table of");
    expect_refusal("table", OUTPOST_KIND_STORAGE, "ABI 1.0 requires at least");
}

static void test_small_descriptor(void **state)
{
    (void)state;
    expect_refusal("descriptor", OUTPOST_KIND_STORAGE, "plugin descriptor is too small");
}

#ifndef _WIN32
/* Copies the good plugin into a fresh directory we can chmod. */
static char *private_copy(const char *tag)
{
    static char dir[512], file[600];
    snprintf(dir, sizeof dir, "%s/perm-%s-%ld", fixtures, tag, (long)getpid());
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s' && chmod 755 '%s' && cp '%s' '%s/' && chmod 755 '%s'/*",
             dir, dir, dir, case_path("good"), dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(file, sizeof file, "%s/outpost-storage-fixture.so", dir);
    return file;
}

static void expect_perm_refusal(const char *file, const char *needle)
{
    outpost_loaded_plugin *p = NULL;
    char err[1024] = "";
    int rc = outpost_loader_open(file, OUTPOST_KIND_STORAGE, "fixture", &p, err, sizeof err);
    if (rc == 0 || !strstr(err, needle) || !strstr(err, "refusing plugin"))
        fail_msg("rc=%d message '%s' lacks '%s'", rc, err, needle);
}

static void test_group_writable_file(void **state)
{
    (void)state;
    char *f = private_copy("gw");
    chmod(f, 0775);
    expect_perm_refusal(f, "writable by group");
}

static void test_other_writable_dir(void **state)
{
    (void)state;
    char *f = private_copy("ow");
    char dir[1100];
    snprintf(dir, sizeof dir, "%s", f);
    *strrchr(dir, '/') = '\0';
    chmod(dir, 0757);
    expect_perm_refusal(f, "writable by others");
    chmod(dir, 0755);
}

static void test_foreign_owner(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip(); /* only root can give a file to another user */
    char *f = private_copy("own");
    assert_int_equal(chown(f, 65534, 65534), 0);
    expect_perm_refusal(f, "owned by another user");
}
#endif

int main(int argc, char **argv)
{
    fixtures = argc > 1 ? argv[1] : ".";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_no_entry),
        cmocka_unit_test(test_wrong_kind),
        cmocka_unit_test(test_major),
        cmocka_unit_test(test_minor),
        cmocka_unit_test(test_small_table),
        cmocka_unit_test(test_small_descriptor),
#ifndef _WIN32
        cmocka_unit_test(test_group_writable_file),
        cmocka_unit_test(test_other_writable_dir),
        cmocka_unit_test(test_foreign_owner),
#endif
    };
    return cmocka_run_group_tests_name("loader", tests, NULL, NULL);
}
