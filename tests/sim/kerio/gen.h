/* Deterministic account generator: the folder tree, and what generated item k of each kind
 * looks like, computed from (seed, kind, k) alone so nothing but a small struct per item is kept
 * in memory. Bodies and attachment bytes are produced on demand, byte-identical every time. */
#ifndef OUTPOST_SIM_KERIO_GEN_H
#define OUTPOST_SIM_KERIO_GEN_H

#include <jansson.h>
#include <stdint.h>

#include "sim.h"
#include "util.h"

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

/* Members of the Mail object, in the order the simulator writes them. */
enum mail_field {
	MFD_ID, MFD_FOLDERID, MFD_WATERMARK, MFD_FROM, MFD_SENDER, MFD_TO, MFD_CC, MFD_BCC,
	MFD_SENDDATE, MFD_RECEIVEDATE, MFD_REPLYTO, MFD_NOTIFICATIONTO, MFD_SUBJECT, MFD_PRIORITY,
	MFD_SIZE, MFD_ISSEEN, MFD_ISANSWERED, MFD_ISFLAGGED, MFD_ISFORWARDED, MFD_ISJUNK,
	MFD_ISMDNSENT, MFD_SHOWEXTERNAL, MFD_REQUESTDSN, MFD_HASATTACHMENT, MFD_ISDRAFT,
	MFD_ISREADONLY, MFD_SIGNINFO, MFD_ENCRYPTINFO, MFD_DISPLAYABLEPARTS, MFD_ATTACHMENTS,
	MFD_HEADERS, MFD_MODIFIEDDATE, MFD_COUNT
};
/* Bit mask of a SearchQuery "fields" list (empty: every member; displayableParts only with
 * content). "id" is always included. */
uint64_t gen_mail_field_mask(json_t *fields, int content);

/* What the store knows of a generated mail that the generator does not. */
struct mail_render {
	const char *id, *folder_id;
	int64_t watermark, size, mtime;
	uint32_t flags;
	const char *att_id_prefix;   /* keriostorage://attachment/<dom>/<user>/<uuid>/<n>/ */
	const char *att_url_prefix;  /* /webmail/api/download/attachment/<uuid>/<n>/ */
	uint64_t mask;
};
/* Appends the Mail object of generated mail k as JSON text: the same members and values
 * item_json() builds through jansson, written directly (the serving hot path). */
void gen_mail_write(const struct gen_ctx *g, uint32_t k, const struct mail_render *r,
		    struct buf *b);

/* Message-ID of generated mail k (for threads). */
void gen_message_id(const struct gen_ctx *g, uint32_t k, char out[96]);

#endif
