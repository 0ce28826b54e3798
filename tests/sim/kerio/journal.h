/* The account-wide change journal: one 64-bit counter (Kerio's watermark) stamps every item
 * and every entry; Changes.getFolder and Changes.get read it. Callers hold the write lock to
 * append and at least the read lock to read. */
#ifndef OUTPOST_SIM_KERIO_JOURNAL_H
#define OUTPOST_SIM_KERIO_JOURNAL_H

#include "sim.h"

/* Records a change of `it` (already in its new folder) and stamps it->watermark. */
int64_t journal_item(struct sim_store *s, int type, struct sim_item *it, const char *orig_id,
		     int orig_folder);
/* Records a deletion: id and folder of the item before it went away. */
int64_t journal_deleted(struct sim_store *s, enum sim_kind kind, const char *id, int folder);
/* Records a change of folder f (created, modified, deleted, content/unread count). */
int64_t journal_folder(struct sim_store *s, int type, const struct sim_folder *f);
/* Appends the entry as loaded from a state file. */
void journal_append_raw(struct sim_store *s, const struct sim_change *c);

size_t journal_first_after(const struct sim_store *s, int64_t wm);
int journal_touches_folder(const struct sim_change *c, int folder);
json_t *journal_change_json(const struct sim_store *s, const struct sim_change *c);

/* Wakes Changes.get waiters; call with the write lock still held. */
void journal_publish(struct sim_store *s);

#endif
