/* Every mutation of the account, each with its journal entries, shared by the JSON-RPC API and
 * the control endpoint. Caller holds the store write lock. Functions that can fail return a
 * Kerio error code (0 = success) and fill `msg`. */
#ifndef OUTPOST_SIM_KERIO_OPS_H
#define OUTPOST_SIM_KERIO_OPS_H

#include "sim.h"

#define OP_MSG 200

/* Creates an item in f from the client's object (read-only members ignored). `delivered`: mail
 * arrives as received mail (receiveDate now unless given), else a stored/draft copy. */
int op_item_create(struct sim_store *s, struct sim_folder *f, enum sim_kind kind, json_t *in,
		   int delivered, struct sim_item **out, char *msg);

/* Applies a partial object. A different folderId moves the item (*moved set). */
int op_item_set(struct sim_store *s, struct sim_item **it, json_t *patch, int *moved, char *msg);

int op_item_move(struct sim_store *s, struct sim_item *it, struct sim_folder *dst, char *msg);
int op_item_copy(struct sim_store *s, struct sim_item *it, struct sim_folder *dst,
		 struct sim_item **out, char *msg);
void op_item_remove(struct sim_store *s, struct sim_item *it);

/* Sends mail (data as in Mails.create): a copy goes to Sent Items, and to the Inbox when the
 * user is among the recipients. *sent = the Sent Items copy. */
int op_mail_send(struct sim_store *s, json_t *in, struct sim_item **sent, char *msg);

int op_folder_create(struct sim_store *s, struct sim_folder *parent, enum sim_kind kind,
		     const char *name, struct sim_folder **out, char *msg);
/* name/parent/color NULL = unchanged. */
int op_folder_set(struct sim_store *s, struct sim_folder *f, const char *name,
		  struct sim_folder *parent, const char *color, char *msg);
int op_folder_remove(struct sim_store *s, struct sim_folder *f, int recursive, char *msg);

/* Re-keys event exceptions etc.: replace an event's internal exception list. */
void op_event_touch(struct sim_store *s, struct sim_item *it);

#endif
