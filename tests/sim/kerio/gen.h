/* Deterministic account generator: the folder tree, and what generated item k of each kind
 * looks like, computed from (seed, kind, k) alone so nothing but a small struct per item is kept
 * in memory. Bodies and attachment bytes are produced on demand, byte-identical every time. */
#ifndef OUTPOST_SIM_KERIO_GEN_H
#define OUTPOST_SIM_KERIO_GEN_H

#include <jansson.h>
#include <stdint.h>

#include "sim.h"

enum gen_folder_slot {
	GF_ROOT, GF_INBOX, GF_PROJECTS, GF_NEWS, GF_PROJ2024, GF_SENT, GF_DRAFTS, GF_DELETED,
	GF_JUNK, GF_ARCHIVE, GF_ARCH2023, GF_CAL, GF_CAL2, GF_CONTACTS, GF_CONTACTS2, GF_TASKS,
	GF_NOTES, GF_COUNT
};

struct gen_folder_spec {
	const char *name;
	int parent;              /* slot of the parent, -1 for the root */
	enum sim_kind kind;
	enum sim_subtype sub;
};
extern const struct gen_folder_spec gen_folder_specs[GF_COUNT];

/* Paragraphs of text built once per seed; bodies are sequences of them, so producing a body
 * costs a few copies instead of thousands of word draws. Immutable once built. */
struct gen_corpus {
	char **para;
	size_t *len;
	size_t n;
};
struct gen_corpus *gen_corpus_new(uint64_t seed);
void gen_corpus_free(struct gen_corpus *c);

struct gen_ctx {
	const struct gen_corpus *corpus;
	uint64_t seed;
	int64_t base;            /* the account's "now" */
	long n_mail;
	const char *user_addr, *user_name;
};

/* The facts the store keeps per generated item. */
struct gen_meta {
	int slot;                /* enum gen_folder_slot */
	int64_t date;
	uint32_t flags;
	int64_t size;
};

void gen_meta(const struct gen_ctx *g, enum sim_kind kind, uint32_t k, struct gen_meta *m);

/* API members of generated item k (no id/folderId/watermark/flags). with_content adds mail
 * displayableParts. Attachments carry "x-src": "gen:<k>:<i>". Caller owns the result. */
json_t *gen_item_json(const struct gen_ctx *g, enum sim_kind kind, uint32_t k, int with_content);

/* Attachment i of generated mail k: name, type and size; 0 if it exists. */
int gen_attachment_info(const struct gen_ctx *g, uint32_t k, int i, const char **name,
			const char **ctype, int64_t *size);
void gen_attachment_read(const struct gen_ctx *g, uint32_t k, int i, uint64_t off,
			 unsigned char *out, size_t n);

/* Message-ID of generated mail k (for threads). */
void gen_message_id(const struct gen_ctx *g, uint32_t k, char out[96]);

#endif
