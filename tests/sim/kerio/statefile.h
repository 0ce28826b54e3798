/* --state-file: the whole account (config, folders, items, journal, blobs) as one JSON file,
 * loaded at start if present and saved on SIGTERM and on POST /_sim/save. Generated items are
 * stored compactly (their generator index) and rebuilt from the seed. Caller holds the lock. */
#ifndef OUTPOST_SIM_KERIO_STATEFILE_H
#define OUTPOST_SIM_KERIO_STATEFILE_H

#include "sim.h"

/* 1 if loaded, 0 if the file does not exist, -1 on error (message on stderr). */
int state_load(struct sim *sim, const char *path);
int state_save(struct sim *sim, const char *path);  /* 0 on success; writes atomically */

#endif
