/* frontends/mapi/mapi_restrict.h — MAPI restrictions (SRestriction trees) and
 * sort orders, and their evaluation against a row's properties.
 *
 * The tree owns its nodes and property values (mapi_res_free). Evaluation
 * follows the MAPI reference: a missing property fails PROPERTY, CONTENT,
 * BITMASK, SIZE and COMPAREPROPS; a multi-valued column matches when any of
 * its values does; string comparisons honour FL_IGNORECASE (ASCII folding;
 * FL_LOOSE implies it).
 */
#ifndef OUTPOST_MAPI_RESTRICT_H
#define OUTPOST_MAPI_RESTRICT_H

#include "mapi_prop.h"

#define MAPI_RES_MAX_DEPTH 64

typedef struct mapi_res {
    uint32_t rt; /* OP_RES_* */
    union {
        struct { uint32_t n; struct mapi_res *r; } sub;                /* AND, OR */
        struct mapi_res *not_;                                         /* NOT */
        struct { uint32_t fuzzy; uint32_t tag; mapi_prop prop; } content;
        struct { uint32_t relop; uint32_t tag; mapi_prop prop; } property;
        struct { uint32_t relop; uint32_t tag1, tag2; } compare;
        struct { uint32_t relop; uint32_t tag; uint32_t mask; } bitmask;
        struct { uint32_t relop; uint32_t tag; uint32_t size; } size;
        struct { uint32_t tag; } exist;
        struct { uint32_t subobject; struct mapi_res *r; } subres;
        struct { mapi_props props; struct mapi_res *r; } comment;     /* r may be NULL */
    } u;
} mapi_res;

/* Frees the contents of r (not r itself). */
void mapi_res_clear(mapi_res *r);
/* Frees r and its contents. */
void mapi_res_free(mapi_res *r);
/* Deep copy into a new tree; NULL on allocation failure. */
mapi_res *mapi_res_dup(const mapi_res *r);

/* 1 when the row's properties satisfy r. */
int mapi_res_eval(const mapi_res *r, const mapi_props *row);

typedef struct mapi_sort_key {
    uint32_t tag;
    uint32_t order; /* OP_TABLE_SORT_ASCEND / DESCEND */
} mapi_sort_key;

typedef struct mapi_sort {
    uint32_t n;
    uint32_t categories; /* cCategories; only 0 is supported */
    uint32_t expanded;
    mapi_sort_key *keys;
} mapi_sort;

void mapi_sort_clear(mapi_sort *s);
int mapi_sort_copy(mapi_sort *dst, const mapi_sort *src);
/* Orders two rows by s: a missing value sorts after every present one. */
int mapi_sort_cmp(const mapi_sort *s, const mapi_props *a, const mapi_props *b);
/* The same on the rows' values already looked up: ka[i] / kb[i] the value
 * of sort key i (NULL when absent). */
int mapi_sort_cmp_found(const mapi_sort *s, const mapi_prop *const *ka, const mapi_prop *const *kb);

#endif
