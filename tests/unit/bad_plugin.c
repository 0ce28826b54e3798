/* tests/unit/bad_plugin.c — purpose-built plugins for the loader tests.
 *
 * Compiled once per case with one of: GOOD, BAD_KIND, BAD_MAJOR, BAD_MINOR,
 * BAD_TABLE, BAD_NO_ENTRY, BAD_DESCRIPTOR. Each is a real shared object the
 * loader must accept (GOOD) or refuse with a specific message.
 */
#include <outpost/abi.h>
#include <outpost/storage.h>

#ifdef BAD_NO_ENTRY
OUTPOST_EXPORT int not_the_entry_symbol(void) { return 42; }
#else
static outpost_status create(const struct outpost_host *h, struct outpost_storage **out)
{
    (void)h;
    *out = 0;
    return outpost_ok();
}

#ifdef BAD_TABLE
/* A table that stops after create: smaller than the 1.0 storage table. */
static const struct {
    uint32_t struct_size;
    outpost_status (*create)(const struct outpost_host *, struct outpost_storage **);
} methods = { sizeof methods, create };
#else
static const struct outpost_storage_methods methods = { .struct_size = sizeof methods, .create = create };
#endif

static const struct outpost_plugin plugin = {
#ifdef BAD_DESCRIPTOR
    .struct_size = 8,
#else
    .struct_size = sizeof plugin,
#endif
#ifdef BAD_MAJOR
    .abi_major = OUTPOST_ABI_MAJOR + 1,
#else
    .abi_major = OUTPOST_ABI_MAJOR,
#endif
#ifdef BAD_MINOR
    .abi_minor = OUTPOST_ABI_MINOR + 3,
#else
    .abi_minor = OUTPOST_ABI_MINOR,
#endif
#ifdef BAD_KIND
    .kind = OUTPOST_KIND_TRANSPORT,
#else
    .kind = OUTPOST_KIND_STORAGE,
#endif
    .name = "fixture",
    .version = "9.9",
    .description = "loader test fixture",
    .section = "storage",
    .methods = &methods,
};

OUTPOST_EXPORT const struct outpost_plugin *outpost_plugin_entry(void) { return &plugin; }
#endif
