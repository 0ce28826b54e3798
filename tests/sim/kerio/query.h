/* Kerio's SearchQuery over the store: conditions (Eq, NotEq, LessThan, GreaterThan, LessEq,
 * GreaterEq, Like; combining And|Or; QUICKSEARCH), orderBy, start/limit, fields projection.
 * Matching, sorted id lists are cached per (kind, folders, conditions, order) until the next
 * store mutation, so paging a 100k-item folder sorts it once. */
#ifndef OUTPOST_SIM_KERIO_QUERY_H
#define OUTPOST_SIM_KERIO_QUERY_H

#include "sim.h"

struct query {
	json_t *fields;          /* borrowed; NULL or [] = all */
	json_t *conditions;      /* borrowed array or NULL */
	int or_combine;
	json_t *order_by;        /* borrowed array or NULL */
	long start, limit;       /* limit < 0: unlimited */
};

/* Reads a SearchQuery (partial objects allowed). -1 if it is malformed. */
int query_parse(json_t *q, struct query *out);

/* Runs q over the folders (read lock held). Returns the page (malloc'd array, caller frees)
 * and the total number of matches. */
struct sim_item **query_run(struct sim_store *s, enum sim_kind kind, const int *folders,
			    size_t nfolders, const struct query *q, size_t *page_n, long *total);

/* Does `it` (as API object `obj`) satisfy the conditions? Used for expanded occurrences. */
int query_match_json(json_t *obj, const struct query *q);

/* Keeps only the requested members of obj (always keeps "id"). Steals obj. */
json_t *query_project(json_t *obj, json_t *fields);

/* Does the fields list ask for member `name`? */
int query_wants(json_t *fields, const char *name);

void query_cache_free(struct sim_store *s);

#endif
