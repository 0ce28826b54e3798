/* Internals of generated mail shared by gen.c and gen_mail.c (not for other modules). */
#ifndef OUTPOST_SIM_KERIO_GEN_MAIL_H
#define OUTPOST_SIM_KERIO_GEN_MAIL_H

#include "gen.h"
#include "util.h"

#define MAX_TO 4
#define MAX_ATT 2

/* Everything about generated mail k that is cheap to compute. */
struct mail_facts {
	int64_t parent;          /* generated index of the mail this replies to, -1 if none */
	int slot;
	int sent;                /* from the user */
	int64_t date;
	uint32_t flags;
	int body_len;            /* target length of the text body */
	int has_html;
	int from;                /* person index (received mail) */
	int nto, to[MAX_TO], to_user;
	int ncc, cc[MAX_TO];
	int topic, form;
	int nattach;
	int att_kind[MAX_ATT];
	int64_t att_size[MAX_ATT];
	int priority;            /* 0 normal, 1 low, 2 high */
	int64_t size;
};

void gen_mail_facts(const struct gen_ctx *g, uint32_t k, struct mail_facts *f);
int64_t gen_mail_root(const struct gen_ctx *g, uint32_t k);
json_t *gen_mail_json(const struct gen_ctx *g, uint32_t k, int with_content);

/* Shared with the other generators in gen.c. */
void gen_add_date(json_t *o, const char *key, int64_t t);
void gen_text(const struct gen_corpus *c, struct rng *r, struct buf *b, int len, int html);

#endif
