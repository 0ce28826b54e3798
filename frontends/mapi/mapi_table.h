/* frontends/mapi/mapi_table.h — the IMAPITable engine: rows, columns,
 * restriction, sort, cursor, bookmarks, and the row notifications a change
 * of the underlying rows produces.
 *
 * A table holds every row of its source (a folder's subfolders or items)
 * with all their properties; Restrict and SortTable build a view (indices)
 * over them, and QueryRows projects the view onto the columns. Rows are
 * identified by a 64-bit instance key, unique in the table, which bookmarks
 * and notifications use, so both survive changes of the rows.
 *
 * A lazy table (fetch set) keeps per row only its key, a change stamp and
 * the properties its sort and restriction need; QueryRows, FindRow and the
 * notifications build a row's other properties when they need them, through
 * fetch. A row whose stamp changed counts as modified.
 *
 * Not thread-safe; the front-end uses a table from one connection.
 */
#ifndef OUTPOST_MAPI_TABLE_H
#define OUTPOST_MAPI_TABLE_H

#include "mapi_prop.h"
#include "mapi_restrict.h"

typedef struct mapi_row {
    uint64_t key;
    uint64_t stamp; /* lazy tables: changes whenever the row's properties may have */
    mapi_props props;
} mapi_row;

/* Builds every property of the row with this key into out (initialised by
 * the caller); 0, or -1 when the row cannot be built (gone). */
typedef int (*mapi_table_fetch_fn)(void *ctx, uint64_t key, mapi_props *out);

typedef struct mapi_bookmark {
    uint32_t id;     /* 0: free slot */
    uint64_t key;    /* row it points at; 0 = the end */
    uint32_t pos;    /* position when created (used when the row is gone) */
} mapi_bookmark;

typedef struct mapi_table {
    mapi_row *rows;
    uint32_t nrows;
    uint32_t *view;
    uint32_t nview;
    uint32_t *cols;
    uint32_t ncols;
    mapi_res *res;
    mapi_sort sort;
    uint32_t pos;
    mapi_bookmark *bms;
    uint32_t nbms;
    uint32_t next_bm;
    mapi_table_fetch_fn fetch; /* non-NULL: a lazy table */
    void *fetch_ctx;
} mapi_table;

/* A row event from mapi_table_replace_rows: OP_TABLE_ROW_ADDED / _DELETED /
 * _MODIFIED, the row's key, the key of the row before it in the view (0 when
 * it is the first), and the row projected on the columns (NULL for DELETED). */
typedef void (*mapi_table_event_fn)(void *ctx, uint32_t event, uint64_t key, uint64_t prior_key,
                                    const mapi_props *row);

int mapi_table_init(mapi_table *t, const uint32_t *cols, uint32_t ncols);
void mapi_table_free(mapi_table *t);

/* Replaces all rows (takes ownership of rows[0..n) and the array); calls fn
 * (may be NULL) for every visible row added, deleted or modified in the
 * projected columns. The cursor stays on its row when it still exists. */
int mapi_table_replace_rows(mapi_table *t, mapi_row *rows, uint32_t n, mapi_table_event_fn fn, void *ctx);

/* Every property of row i of the table's rows (0 <= i < nrows, in the
 * order they were given, restricted away or not) into out (initialised by
 * the caller), built through fetch for a lazy table. 0 or -1. */
int mapi_table_full_row(const mapi_table *t, uint32_t i, mapi_props *out);

int mapi_table_set_columns(mapi_table *t, const uint32_t *cols, uint32_t n);
/* r NULL removes the restriction; the table keeps a copy. Cursor to the start. */
int mapi_table_restrict(mapi_table *t, const mapi_res *r);
/* SCODE: OK, or MAPI_E_TOO_COMPLEX for categorized sorts. Cursor to the start. */
uint32_t mapi_table_sort(mapi_table *t, const mapi_sort *s);

uint32_t mapi_table_row_count(const mapi_table *t);
/* Up to |count| rows from the cursor (backwards when negative), each
 * projected on the columns, appended to *out (n rows). Advances the cursor
 * unless OP_TBL_NOADVANCE. */
int mapi_table_query_rows(mapi_table *t, int32_t count, uint32_t flags, mapi_props **out, uint32_t *n);
/* SCODE; *sought gets the rows actually moved (signed). */
uint32_t mapi_table_seek(mapi_table *t, uint32_t bookmark, int32_t count, int32_t *sought);
uint32_t mapi_table_seek_approx(mapi_table *t, uint32_t num, uint32_t denom);
void mapi_table_position(const mapi_table *t, uint32_t *row, uint32_t *num, uint32_t *denom);
/* SCODE; *id the new bookmark. */
uint32_t mapi_table_bookmark(mapi_table *t, uint32_t *id);
uint32_t mapi_table_free_bookmark(mapi_table *t, uint32_t id);
/* Moves the cursor to the first row from `bookmark` (backwards with
 * OP_DIR_BACKWARD) that satisfies r: OK or MAPI_E_NOT_FOUND. */
uint32_t mapi_table_find_row(mapi_table *t, const mapi_res *r, uint32_t bookmark, uint32_t flags);

/* A lookup of rows by key: rows[view[i]] (view NULL: rows[i]) for i < n,
 * sorted by key, each with its i. Free with free(); NULL when out of memory. */
typedef struct mapi_keypos {
    uint64_t key;
    uint32_t pos;
} mapi_keypos;
mapi_keypos *mapi_rows_index(const mapi_row *rows, const uint32_t *view, uint32_t n);
/* The i of key in an index of n rows, or -1. */
int64_t mapi_keypos_find(const mapi_keypos *k, uint32_t n, uint64_t key);

/* Projects src onto tags as GetProps does: missing -> PT_ERROR
 * MAPI_E_NOT_FOUND; PT_UNSPECIFIED -> the stored type; string tags get the
 * asked width. Returns the number of errors, -1 on allocation failure. */
int mapi_props_project(const mapi_props *src, const uint32_t *tags, uint32_t n, mapi_props *out);
/* Builds an 8-byte little-endian instance key property. */
int mapi_props_set_key(mapi_props *l, uint32_t tag, uint64_t key);

#endif
