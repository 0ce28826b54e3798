/* Items as JSON: the API objects (Mail, Event, Contact, Task, Note) built from the compact
 * store entry plus generated or stored members, creation templates, attachment sources. */
#ifndef OUTPOST_SIM_KERIO_ITEM_JSON_H
#define OUTPOST_SIM_KERIO_ITEM_JSON_H

#include "sim.h"

/* The API object of `it`. content=1 adds mail displayableParts (as getById). New reference. */
json_t *item_json(struct sim_store *s, const struct sim_item *it, int content);

/* The API object for a reply, projected to `fields` (borrowed, may be NULL): generated mail
 * is written straight to JSON text (a raw node, see jsonout.h), everything else goes through
 * item_json(). mail_mask = gen_mail_field_mask(fields, content), computed once per call.
 * New reference. */
json_t *item_json_reply(struct sim_store *s, const struct sim_item *it, int content,
			json_t *fields, uint64_t mail_mask);

/* The item's stored members including "x-" internals; new reference, do not modify. */
json_t *item_data(struct sim_store *s, const struct sim_item *it, int content);

/* Gives a generated item its own full `data`, so it can be edited. */
void item_materialize(struct sim_store *s, struct sim_item *it);

/* Writable members with their default values for X.create. New reference. */
json_t *item_defaults(struct sim_store *s, enum sim_kind kind);

/* Members a client may not write (id, watermark, read-only flags...). */
int item_member_readonly(enum sim_kind kind, const char *key);

/* Mail flag name → MF_* bit (0 if not a writable flag). */
uint32_t mail_flag_bit(const char *name);

/* Recomputes a stored mail's size from its parts and attachments. */
int64_t mail_data_size(struct sim_store *s, json_t *data);

/* Where an attachment's bytes come from. */
struct att_src {
	const char *name, *ctype;
	int64_t size;
	uint32_t gen_k;          /* generated mail index, if blob == NULL */
	int gen_i;
	struct sim_blob *blob;
};
/* Finds attachment `part` ("0-1") of mail `it`; 0 if found. Pointers live as long as the item. */
int item_attachment(struct sim_store *s, const struct sim_item *it, const char *part,
		    struct att_src *out, json_t **keep);
void att_read(struct sim_store *s, const struct att_src *a, uint64_t off, unsigned char *out,
	      size_t n);

/* Percent-encodes a file name for attachment URLs. */
void url_escape(const char *in, char *out, size_t n);

#endif
