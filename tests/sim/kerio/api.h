/* Helpers shared by the JSON-RPC method modules: the generic item methods every interface
 * (Mails, Events, Contacts, Tasks, Notes) is built from, and the Folder object. */
#ifndef OUTPOST_SIM_KERIO_API_H
#define OUTPOST_SIM_KERIO_API_H

#include "rpc.h"

json_t *folder_json(struct sim_store *s, const struct sim_folder *f);

/* X.get {folderIds, query} → {list, totalItems}. folder_key: "folderIds" (Events: "ids"). */
json_t *items_get(struct rpc_ctx *c, enum sim_kind kind, json_t *p, struct rpc_error *e);
/* X.getById {ids} → {errors, result}. */
json_t *items_get_by_id(struct rpc_ctx *c, enum sim_kind kind, json_t *p, struct rpc_error *e);
/* X.create {<list_key>} → {errors, result: CreateResult[]}. */
json_t *items_create(struct rpc_ctx *c, enum sim_kind kind, const char *list_key, json_t *p,
		     struct rpc_error *e);
/* X.set {<list_key>} → {errors, result: SetResult[]}. */
json_t *items_set(struct rpc_ctx *c, enum sim_kind kind, const char *list_key, json_t *p,
		  struct rpc_error *e);
json_t *items_remove(struct rpc_ctx *c, enum sim_kind kind, json_t *p, struct rpc_error *e);
json_t *items_copy_move(struct rpc_ctx *c, enum sim_kind kind, int move, json_t *p,
			struct rpc_error *e);

/* 1004 "Access denied" (msg set) when the account may not write items in f (its access is
 * FAccessReadOnly or FAccessListingOnly), else 0. */
int items_write_denied(const struct sim_folder *f, char *msg);

/* Resolves the folder list of a get; NULL (and e set) if one is missing. */
int *items_folders(struct rpc_ctx *c, enum sim_kind kind, json_t *ids, size_t *n,
		   struct rpc_error *e);

#endif
