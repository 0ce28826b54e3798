/* recording_sink.h — a recording sync sink (struct outpost_sync_sink) for driving a
 * transport in tests. Every callback becomes a JSON event; events since the last commit stay
 * "pending" and move to "events" on commit, so a test can check that a failed call handed
 * over nothing of the page it failed in.
 *
 * Events: {op:"folder", change, id, parent, name, kind, special, flags}
 *         {op:"item", change, id, version, kind, flags, size, subject, messageId, uid, from,
 *          contentState[, content, contentLen, chunks]}
 *         {op:"moved", old, to, id, flags}      {op:"failed", index, status}
 * where change is OUTPOST_CHANGE_* and status an OUTPOST_* class. */
#ifndef OUTPOST_TEST_RECORDING_SINK_H
#define OUTPOST_TEST_RECORDING_SINK_H

#include <jansson.h>
#include <outpost/transport.h>

struct rec {
    struct outpost_sync_sink sink;
    json_t *events;      /* committed */
    json_t *pending;     /* since the last commit */
    json_t *cur;         /* the item whose content is arriving */
    char *content;       /* its content so far */
    size_t content_len;
    char *state;         /* last committed state, NUL-terminated */
    size_t state_len;
    int commits;
    int max_page;        /* most items in one committed page */
    int page_items;
    /* Never reset by rec_clear: */
    int protocol_errors; /* content without an item, two content_end, item or commit before
                            content_end, ... */
    int size_mismatches; /* content length other than the item's size */
    int progress_backwards; /* progress() lower than the one before */
    uint64_t progress_done, progress_total; /* last progress() report */
    /* Called after each commit (a test changes the server between pages). */
    void (*after_commit)(struct rec *r, void *ctx);
    void *after_commit_ctx;
};

void rec_init(struct rec *r);
void rec_clear(struct rec *r);   /* forget events, keep state and error counts */
void rec_free(struct rec *r);
/* Committed events of op ("folder", "item", "moved", "failed") and change (0: any). */
size_t rec_count(const struct rec *r, const char *op, int change);
/* The last committed event of op and change (0: any) with remote id `id` (NULL: any), or
 * NULL. */
json_t *rec_find(const struct rec *r, const char *op, int change, const char *id);

#endif
