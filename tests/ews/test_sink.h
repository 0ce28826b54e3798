/* test_sink.h — a recording sync sink. Each callback becomes a JSON event; events since the
 * last commit are "pending" and move to "events" on commit, so a test can check that a failed
 * call handed over nothing of the page it failed in. */
#ifndef OUTPOST_TEST_EWS_SINK_H
#define OUTPOST_TEST_EWS_SINK_H

#include <jansson.h>
#include <outpost/transport.h>

struct rec {
    struct outpost_sync_sink sink;
    json_t *events;      /* committed: [{op, change, id, ...}] */
    json_t *pending;     /* since the last commit */
    json_t *cur;         /* the item whose content is arriving */
    char *content;       /* its content so far */
    size_t content_len;
    char *state;         /* last committed state, NUL-terminated */
    size_t state_len;
    int commits;
    int max_page;        /* most items in one committed page */
    int page_items;
    int protocol_errors; /* content without an item, two content_end, ... */
};

void rec_init(struct rec *r);
void rec_clear(struct rec *r);   /* forget events, keep state */
void rec_free(struct rec *r);
/* Committed events of op ("folder", "item", "failed") and change (0: any). */
size_t rec_count(const struct rec *r, const char *op, int change);
/* The committed event of op with remote id `id` (last one), or NULL. */
json_t *rec_find(const struct rec *r, const char *op, const char *id);

#endif
