/* tests/windows/test_loader_win.c — the loader on Windows: the purpose-built
 * plugins of tests/unit/bad_plugin.c, built as DLLs, are opened through
 * LoadLibrary and refused with the same one-line messages as on Linux
 * (tests/unit/test_loader.c); the good one and the SDK example plugin load.
 *
 * Usage: test_loader_win.exe FIXTURE_DIR [PLUGIN_DIR]
 *   FIXTURE_DIR has one subdirectory per case with outpost-storage-fixture.dll;
 *   PLUGIN_DIR is searched for outpost-transport-maildir.dll (the example;
 *   required when built with OUTPOST_EXPECT_EXAMPLE). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <outpost/transport.h>

#include "check.h"
#include "loader.h"
#include "platform/platform.h"

static const char *fixtures;

static const char *case_dir(const char *cas)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s%c%s", fixtures, op_path_sep(), cas);
    return buf;
}

static const char *case_path(const char *cas)
{
    static char buf[1100];
    snprintf(buf, sizeof buf, "%s%coutpost-storage-fixture%s", case_dir(cas), op_path_sep(), op_dl_suffix());
    return buf;
}

static void expect_refusal(const char *cas, const char *needle)
{
    outpost_loaded_plugin *p = NULL;
    char err[1024] = "";
    int rc = outpost_loader_open(case_path(cas), OUTPOST_KIND_STORAGE, "fixture", &p, err, sizeof err);
    CHECK(rc != 0 && p == NULL && strstr(err, needle) && strstr(err, "outpost-storage-fixture.dll") &&
              !strchr(err, '\n'),
          "%s refused: %s", cas, err);
}

static void test_good(void)
{
    outpost_loaded_plugin *p = NULL;
    char err[1024] = "";
    int rc = outpost_loader_load(case_dir("good"), OUTPOST_KIND_STORAGE, "fixture", &p, err, sizeof err);
    CHECK(rc == 0 && p, "good fixture loads through LoadLibrary: %s", rc ? err : p->path);
    if (rc != 0)
        return;
    CHECK(!strcmp(p->desc->name, "fixture") && !strcmp(p->desc->version, "9.9") &&
              p->desc->abi_major == OUTPOST_ABI_MAJOR,
          "good fixture's descriptor: %s %s ABI %u.%u", p->desc->name, p->desc->version, p->desc->abi_major,
          p->desc->abi_minor);
    outpost_loader_unload(p);
}

static void test_not_found(void)
{
    outpost_loaded_plugin *p = NULL;
    char err[1024] = "";
    int rc = outpost_loader_load(case_dir("good"), OUTPOST_KIND_STORAGE, "nosuch", &p, err, sizeof err);
    CHECK(rc != 0 && strstr(err, "no storage plugin 'nosuch'") && strstr(err, "outpost-storage-nosuch.dll") &&
              strstr(err, case_dir("good")),
          "missing plugin: %s", err);
}

static void test_refusals(void)
{
    char needle[128];
    expect_refusal("noentry", "no outpost_plugin_entry symbol");
    expect_refusal("kind", "is a transport plugin, expected a storage plugin");
    snprintf(needle, sizeof needle, "built for ABI %d.%d, the core has ABI %d.%d", OUTPOST_ABI_MAJOR + 1,
             OUTPOST_ABI_MINOR, OUTPOST_ABI_MAJOR, OUTPOST_ABI_MINOR);
    expect_refusal("major", needle);
    snprintf(needle, sizeof needle, "needs ABI %d.%d, newer than the core's ABI %d.%d", OUTPOST_ABI_MAJOR,
             OUTPOST_ABI_MINOR + 3, OUTPOST_ABI_MAJOR, OUTPOST_ABI_MINOR);
    expect_refusal("minor", needle);
    expect_refusal("table", "method table of");
    expect_refusal("table", "ABI 1.0 requires at least");
    expect_refusal("descriptor", "plugin descriptor is too small");
}

/* A file that is not a DLL at all is refused by LoadLibrary, in one line. */
static void test_not_a_dll(void)
{
    char *dir = op_user_runtime_dir();
    char path[1024], err[1024] = "";
    snprintf(path, sizeof path, "%s%coutpost-storage-junk.dll", dir ? dir : ".", op_path_sep());
    free(dir);
    FILE *f = op_fopen_private(path);
    CHECK(f != NULL, "wrote a text file named %s", path);
    if (!f)
        return;
    fputs("this is not a DLL\n", f);
    fclose(f);
    outpost_loaded_plugin *p = NULL;
    int rc = outpost_loader_open(path, OUTPOST_KIND_STORAGE, "junk", &p, err, sizeof err);
    CHECK(rc != 0 && strstr(err, "cannot load plugin") && strstr(err, "junk") && !strchr(err, '\n') &&
              !strchr(err, '\r'),
          "text file refused: %s", err);
    remove(path);
}

struct scan_result {
    int seen, loaded;
};

static void on_scan(void *ctx, const char *path, const outpost_loaded_plugin *p, const char *error)
{
    struct scan_result *r = ctx;
    (void)path;
    (void)error;
    r->seen++;
    r->loaded += p != NULL;
}

static void test_scan(void)
{
    char dirs[3300] = "";
    const char *cases[] = { "good", "noentry", "major" };
    for (int i = 0; i < 3; i++) /* case_dir's buffer is reused: one call per statement */
        snprintf(dirs + strlen(dirs), sizeof dirs - strlen(dirs), "%s%c", case_dir(cases[i]), op_path_list_sep());
    struct scan_result r = { 0, 0 };
    outpost_loader_scan(dirs, on_scan, &r);
    CHECK(r.seen == 3 && r.loaded == 1, "scan of three ';'-separated dirs: %d seen, %d loaded", r.seen, r.loaded);
}

/* The SDK example (sdk/examples/maildir-transport) when it was cross-built. */
static void test_example(const char *plugin_dir)
{
    char path[1100];
    snprintf(path, sizeof path, "%s%coutpost-transport-maildir.dll", plugin_dir, op_path_sep());
    if (!op_is_file(path)) {
#ifdef OUTPOST_EXPECT_EXAMPLE
        CHECK(0, "example plugin was built: %s is missing", path);
#else
        printf("skip - example plugin not built: %s\n", path);
#endif
        return;
    }
    outpost_loaded_plugin *p = NULL;
    char err[1024] = "";
    int rc = outpost_loader_load(plugin_dir, OUTPOST_KIND_TRANSPORT, "maildir", &p, err, sizeof err);
    CHECK(rc == 0 && p, "example plugin loads through LoadLibrary: %s", rc ? err : p->path);
    if (rc != 0)
        return;
    CHECK(p->desc->kind == OUTPOST_KIND_TRANSPORT && !strcmp(p->desc->name, "maildir") &&
              p->desc->abi_major == OUTPOST_ABI_MAJOR,
          "example's descriptor: %s %s, ABI %u.%u", p->desc->name, p->desc->version ? p->desc->version : "",
          p->desc->abi_major, p->desc->abi_minor);
    const struct outpost_transport_methods *m = p->methods;
    CHECK(m->struct_size >= OUTPOST_TRANSPORT_METHODS_V1_0_SIZE, "example's transport table: %u bytes",
          (unsigned)m->struct_size);
    outpost_loader_unload(p);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FIXTURE_DIR [PLUGIN_DIR]\n", argv[0]);
        return 2;
    }
    fixtures = argv[1];
    test_good();
    test_not_found();
    test_refusals();
    test_not_a_dll();
    test_scan();
    if (argc > 2)
        test_example(argv[2]);
    return check_summary();
}
