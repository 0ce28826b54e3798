/* test_sink.h — a recording sync sink for driving a transport in tests. Every callback is
 * recorded as a JSON event; events since the last commit stay "pending" and move to
 * "events" on commit, so a test can assert that a failed call handed over nothing of the
 * page it failed in. */
#ifndef OUTPOST_TEST_SINK_H
#define OUTPOST_TEST_SINK_H

#include <jansson.h>
#include <outpost/transport.h>

#include "kbuf.h"

struct rec {
    struct outpost_sync_sink sink;
    json_t *events;      /* committed: [{op, id, ...}] */
    json_t *pending;     /* since the last commit */
    json_t *cur;         /* the item whose content is arriving */
    struct kbuf content;
    char *state;         /* last committed state */
    size_t state_len;
    int commits;
    int protocol_errors; /* content without item, content_end twice, ... */
    uint64_t progress_done, progress_total; /* last progress() report */
    /* Called after each commit (a test changes the server between pages). */
    void (*after_commit)(struct rec *r, void *ctx);
    void *after_commit_ctx;
};

void rec_init(struct rec *r);
void rec_reset(struct rec *r);     /* forget events, keep state */
void rec_free(struct rec *r);
/* Committed events with op (and id when non-NULL). */
size_t rec_count(const struct rec *r, const char *op);
const json_t *rec_find(const struct rec *r, const char *op, const char *id);

#endif
