/* imap_syntax.h — the grammar above the tokenizer: sequence sets, FETCH
 * attributes, SEARCH keys, dates, modified UTF-7 mailbox names and the
 * BODYSTRUCTURE → BODY reduction. Pure functions, no I/O: fuzzed together
 * with the tokenizer by tests/fuzz/imap_command_fuzz.c.
 */
#ifndef OUTPOST_IMAP_SYNTAX_H
#define OUTPOST_IMAP_SYNTAX_H

#include <stddef.h>
#include <stdint.h>

#include "imap_parser.h"

/* ---- sequence sets ---- */

/* '*' in a range: outside the numbers a set may name (1 to 4294967295, RFC 3501 9 nz-number) */
#define IMAP_STAR UINT64_MAX

struct imap_range {
    uint64_t lo, hi; /* IMAP_STAR for '*'; not ordered */
};

struct imap_seqset {
    struct imap_range *r;
    size_t n;
};

/* 0, or -1 when `s` is not a valid sequence set. */
int imap_seqset_parse(const char *s, struct imap_seqset *out);
void imap_seqset_free(struct imap_seqset *s);
/* Whether v is in the set, '*' standing for `star` (the largest number in use). */
int imap_seqset_contains(const struct imap_seqset *s, uint32_t v, uint32_t star);

/* ---- FETCH ---- */

enum imap_fetch_kind {
    IMAP_FA_UID = 1,
    IMAP_FA_FLAGS,
    IMAP_FA_INTERNALDATE,
    IMAP_FA_RFC822_SIZE,
    IMAP_FA_ENVELOPE,
    IMAP_FA_BODYSTRUCTURE,
    IMAP_FA_BODY,           /* BODY without a section: non-extensible structure */
    IMAP_FA_SECTION,        /* BODY[...] / BODY.PEEK[...] */
    IMAP_FA_RFC822,
    IMAP_FA_RFC822_HEADER,
    IMAP_FA_RFC822_TEXT,
    IMAP_FA_MODSEQ
};

enum imap_section_spec {
    IMAP_SEC_ALL = 0,       /* BODY[] or BODY[1.2] */
    IMAP_SEC_HEADER,
    IMAP_SEC_HEADER_FIELDS,
    IMAP_SEC_HEADER_FIELDS_NOT,
    IMAP_SEC_TEXT,
    IMAP_SEC_MIME
};

#define IMAP_MAX_PART_DEPTH 32

struct imap_fetch_att {
    int kind;
    int peek;
    uint32_t part[IMAP_MAX_PART_DEPTH];
    size_t npart;
    int spec;
    char **fields;          /* HEADER.FIELDS names */
    size_t nfields;
    int partial;
    uint64_t poff, plen;
    char *label;            /* response name, e.g. "BODY[HEADER.FIELDS (FROM)]<0>" */
};

struct imap_fetch_req {
    struct imap_fetch_att *a;
    size_t n;
    uint64_t changedsince;  /* CHANGEDSINCE modifier, 0 = none */
    int has_changedsince;
    int vanished;           /* VANISHED modifier (QRESYNC, UID FETCH only) */
    int sets_seen;          /* a non-PEEK body fetch sets \Seen */
};

/* Parses the fetch attribute argument (`att`: an atom or a list) and an
 * optional modifier list (`mods`, may be NULL). 0, or -1 with err. */
int imap_fetch_parse(const struct imap_tok *att, const struct imap_tok *mods, struct imap_fetch_req *out,
                     char *err, size_t errlen);
void imap_fetch_free(struct imap_fetch_req *r);

/* ---- SEARCH ---- */

enum imap_search_op {
    IMAP_SK_ALL = 1,
    IMAP_SK_AND,            /* kids */
    IMAP_SK_OR,             /* kids[0] or kids[1] */
    IMAP_SK_NOT,            /* kids[0] */
    IMAP_SK_SEQ,            /* set */
    IMAP_SK_UID,            /* set */
    IMAP_SK_FLAG,           /* flag set */
    IMAP_SK_NOFLAG,         /* flag unset */
    IMAP_SK_KEYWORD,        /* a */
    IMAP_SK_UNKEYWORD,      /* a */
    IMAP_SK_NONE,           /* never matches */
    IMAP_SK_RECENT,         /* \Recent in this session (NEW: and unseen, OLD: not) */
    IMAP_SK_BEFORE,         /* num: day (days since epoch) on internal date */
    IMAP_SK_ON,
    IMAP_SK_SINCE,
    IMAP_SK_SENTBEFORE,     /* on Date: */
    IMAP_SK_SENTON,
    IMAP_SK_SENTSINCE,
    IMAP_SK_LARGER,         /* num */
    IMAP_SK_SMALLER,
    IMAP_SK_HEADER,         /* a: field name, b: substring */
    IMAP_SK_BODY,           /* b */
    IMAP_SK_TEXT,           /* b */
    IMAP_SK_MODSEQ          /* num */
};

struct imap_skey {
    int op;
    uint32_t flag;
    char *a, *b;
    int64_t num;
    struct imap_seqset set;
    struct imap_skey **kids;
    size_t nkids;
};

/* Parses search keys from args[*i..n) (all of them, ANDed); charset handling
 * is the caller's. 0, or -1 with err. */
int imap_search_parse(const struct imap_tok *const *args, size_t n, struct imap_skey **out, char *err,
                      size_t errlen);
void imap_search_free(struct imap_skey *k);
/* Non-zero when the key tree uses BODY/TEXT, HEADER (needs content), or MODSEQ. */
int imap_search_uses(const struct imap_skey *k, int op);

/* ---- numbers ---- */

#define IMAP_MODSEQ_MAX 9223372036854775807ull /* mod-sequence values are 63 bits (RFC 7162 7) */

/* A decimal number (digits only) of at most `max` into *out: 0, or -1 (not a number, or too large). */
int imap_number_parse(const char *s, uint64_t max, uint64_t *out);

/* ---- flags ---- */

/* Maps a system flag name ("\Seen") to OUTPOST_FLAG_*; 0 if not a system flag. */
uint32_t imap_flag_from_name(const char *s);
/* Whether s is a valid keyword atom (no \ prefix, atom chars). */
int imap_keyword_valid(const char *s);

/* ---- dates ---- */

/* "1-Feb-1994" (RFC 3501 date) → days since the Unix epoch. 0 or -1. */
int imap_date_parse(const char *s, int64_t *days);
/* "17-Jul-1996 02:44:25 -0700" → ms since epoch (UTC). 0 or -1. */
int imap_datetime_parse(const char *s, int64_t *ms);
/* Formats ms since epoch as "17-Jul-1996 09:44:25 +0000" (buf >= 32). */
void imap_datetime_format(int64_t ms, char *buf, size_t len);

/* ---- mailbox names ---- */

/* UTF-8 → modified UTF-7 (RFC 3501 5.1.3). Returns malloc'd string. */
char *imap_mutf7_encode(const char *utf8);
/* Modified UTF-7 → UTF-8; NULL when invalid. */
char *imap_mutf7_decode(const char *mutf7);

/* ---- BODYSTRUCTURE ---- */

/* The non-extensible BODY form of a BODYSTRUCTURE string (malloc'd), or NULL
 * when the input does not parse. */
char *imap_body_from_bodystructure(const char *bs);

#endif
