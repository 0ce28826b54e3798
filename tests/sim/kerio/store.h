/* The account store: folders and items indexed by folder and item number, id strings, the
 * generated initial account, and client blobs. Callers hold store.lock as sim.h describes;
 * these functions never lock. */
#ifndef OUTPOST_SIM_KERIO_STORE_H
#define OUTPOST_SIM_KERIO_STORE_H

#include "gen.h"
#include "sim.h"

void store_init(struct sim_store *s, const struct sim_config *cfg);
void store_free(struct sim_store *s);
/* Builds the folder tree and the generated items (journal starts after them). */
void store_generate(struct sim_store *s);

const char *store_user_local(const struct sim_store *s);  /* "jdoe" */
const char *store_domain(const struct sim_store *s);      /* "example.com" */
const char *store_user_addr(const struct sim_store *s);   /* "jdoe@example.com" */
struct gen_ctx store_gen_ctx(const struct sim_store *s);

/* Folders. store_folder_new: uuid NULL derives one from (seed, idx). */
struct sim_folder *store_folder_new(struct sim_store *s, int parent, enum sim_kind kind,
				    enum sim_subtype sub, const char *name, const char *uuid);
struct sim_folder *store_folder_by_id(struct sim_store *s, const char *id); /* live only */
struct sim_folder *store_folder_by_path(struct sim_store *s, const char *path);
/* Moves a new folder (no items yet) to another place; owner = user part of its ids. */
void store_folder_set_place(struct sim_store *s, struct sim_folder *f, int place,
			    const char *owner, const char *owner_name, const char *owner_addr,
			    int access);
/* The user part of the ids of a folder and its items ("jdoe", or the other place's). */
const char *store_folder_user(const struct sim_store *s, const struct sim_folder *f);
int store_folder_depth(const struct sim_store *s, const struct sim_folder *f);
int store_folder_is_under(const struct sim_store *s, int idx, int ancestor);

/* Items. An item belongs to exactly one folder; attach gives it the folder's next number. */
struct sim_item *store_item_alloc(enum sim_kind kind);
void store_item_attach(struct sim_store *s, struct sim_item *it, struct sim_folder *f);
/* Appends with a given number (must exceed the folder's last; used when loading state). */
void store_item_attach_n(struct sim_store *s, struct sim_item *it, struct sim_folder *f,
			 uint64_t n);
void store_item_detach(struct sim_store *s, struct sim_item *it);
void store_item_free(struct sim_item *it);
void store_item_set_flags(struct sim_store *s, struct sim_item *it, uint32_t flags);
void store_item_set_size(struct sim_store *s, struct sim_item *it, int64_t size);
struct sim_item *store_item_by_id(struct sim_store *s, const char *id, enum sim_kind kind);
void store_item_id(const struct sim_store *s, const struct sim_item *it, char *out, size_t n);
/* Folder of an item (never NULL for attached items). */
struct sim_folder *store_item_folder(struct sim_store *s, const struct sim_item *it);

/* Blobs written by clients. store_blob_add takes ownership of data. */
struct sim_blob *store_blob_add(struct sim_store *s, const char *name, const char *ctype,
				unsigned char *data, size_t len, const char *id);
struct sim_blob *store_blob_get(struct sim_store *s, const char *id);

#define ID_MAX 512

#endif
