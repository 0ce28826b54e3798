/* tests/mapi/fake_store.h — an in-memory cache behind the journaled store API
 * (outpost/frontend.h) and a host table, for the MAPI front-end's tests and
 * for the test server the Wine harness talks to. Writes record journal
 * entries (op, item, folder, flags) the tests check, and notify subscribers
 * after the change, as core/store.c does.
 */
#ifndef OUTPOST_TESTS_FAKE_STORE_H
#define OUTPOST_TESTS_FAKE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <outpost/frontend.h>

typedef struct fake_journal {
    uint32_t op;        /* OUTPOST_J_* */
    int64_t item_id;
    int64_t folder_id;
    int64_t target;
    uint32_t flags;
} fake_journal;

struct fake_store;

/* A host whose store API is a fresh in-memory cache; data_dir as given. */
struct outpost_host *fake_host_new(const char *data_dir);
void fake_host_free(struct outpost_host *h);
struct fake_store *fake_store_of(const struct outpost_host *h);
/* [mapi] keys the host's config_get answers. */
void fake_host_set_config(struct outpost_host *h, const char *key, const char *value);

int64_t fake_add_folder(struct fake_store *s, int64_t parent, const char *name, uint32_t kind, uint32_t special);
/* Adds an item with content; the summary comes from the content as the
 * core computes it at ingest (subject, from, to, cc, Message-ID / UID, date). */
int64_t fake_add_item(struct fake_store *s, int64_t folder, uint32_t kind, const char *content, uint32_t flags,
                      int64_t internal_date_ms);
/* Item state (copy of flags/folder) for assertions; -1 when gone. */
int fake_item_state(struct fake_store *s, int64_t id, uint32_t *flags, int64_t *folder);
/* The item's content (malloc'd copy) or NULL. */
char *fake_item_content(struct fake_store *s, int64_t id);
uint32_t fake_journal_count(struct fake_store *s, uint32_t op);
const fake_journal *fake_journal_last(struct fake_store *s);

#endif
