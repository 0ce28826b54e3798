/* Server change notifications over EWS pull subscriptions: Subscribe (all folders, item and
 * folder events), then GetEvents with the last watermark every `push_poll` seconds until
 * an event arrives or the wait ends. An event only says "something changed": the engine
 * then runs its SyncFolderHierarchy / SyncFolderItems pass, which says what. A new
 * subscription counts as a change (what happened since the last sync is before its
 * watermark), and so does one the server no longer knows (expired, lost in a restart): a
 * new one is made on the next wait. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ews.h"

static const char *const lost_codes[] = {"ErrorSubscriptionNotFound", "ErrorExpiredSubscription",
                                         "ErrorInvalidSubscription", "ErrorInvalidWatermark",
                                         "ErrorReadEventsFailed", "ErrorInvalidPullSubscriptionId", NULL};

static int is_lost(const char *code)
{
    for (int i = 0; lost_codes[i]; i++)
        if (!strcmp(code, lost_codes[i]))
            return 1;
    return 0;
}

void ews_sub_drop(struct ews *e)
{
    free(e->sub_id);
    free(e->sub_wm);
    e->sub_id = e->sub_wm = NULL;
}

/* Reads a Subscribe or GetEvents reply: the subscription id (Subscribe), the newest
 * watermark, whether an event other than StatusEvent came and whether more are waiting. */
struct events {
    struct ews_msg m;
    char *id, *wm;
    int changed, more;
};

static outpost_status read_events(struct ews *e, FILE *f, struct events *ev, const char *what)
{
    memset(ev, 0, sizeof *ev);
    struct ews_reader *r = ews_reader_open(f);
    if (!r)
        return ews_status(e, OUTPOST_FATAL, "out of memory");
    static const char *const names[] = {"SubscriptionId", "Watermark", "MoreEvents", "StatusEvent", "NewMailEvent",
                                        "CreatedEvent", "DeletedEvent", "ModifiedEvent", "MovedEvent",
                                        "CopiedEvent", "FreeBusyChangedEvent", NULL};
    int rc = ews_reader_next_msg(r, &ev->m), which, fr = 0;
    while (rc == 1 && !ev->m.error && (fr = ews_reader_find(r, names, &which)) == 1) {
        if (which >= 4) {
            ev->changed = 1;
            continue;
        }
        if (which == 3)
            continue;
        char *v = NULL;
        if (ews_reader_text(r, &v)) {
            fr = -1;
            break;
        }
        char **slot = which == 0 ? &ev->id : which == 1 ? &ev->wm : NULL;
        if (slot) {
            free(*slot);
            *slot = v;
        } else {
            ev->more = ews_xs_bool(v);
            free(v);
        }
    }
    int first = rc;
    struct ews_msg rest;
    memset(&rest, 0, sizeof rest);
    if (rc == 1 && fr >= 0)
        while ((rc = ews_reader_next_msg(r, &rest)) == 1)
            ;
    ews_reader_close(r);
    /* a SOAP fault in place of the first message (ErrorServerBusy among them) is in ev->m */
    if (first == -2)
        return ews_msg_status(e, &ev->m, what);
    if (rc == -2)
        return ews_msg_status(e, &rest, what);
    if (first != 1 || rc < 0 || fr < 0)
        return ews_status(e, OUTPOST_BAD_DATA, "%s: the server's reply is not a well-formed EWS response", what);
    if (ev->m.error)
        return ews_msg_status(e, &ev->m, what);
    if (!ev->wm)
        return ews_status(e, OUTPOST_BAD_DATA, "%s: the reply carries no watermark", what);
    return outpost_ok();
}

static void events_free(struct events *ev)
{
    free(ev->id);
    free(ev->wm);
    ev->id = ev->wm = NULL;
}

outpost_status ews_parse_events(struct ews *e, FILE *f, int *changed)
{
    struct events ev;
    outpost_status st = read_events(e, f, &ev, "GetEvents");
    *changed = ev.changed;
    events_free(&ev);
    return st;
}

struct events_req {
    struct events *ev;
    const char *what;
};

static outpost_status parse_events(struct ews *e, FILE *f, void *ctx)
{
    struct events_req *q = ctx;
    events_free(q->ev);
    return read_events(e, f, q->ev, q->what);
}

/* Subscribe and GetEvents go the way of every request (ews_request): a busy server is
 * waited for within busy_wait, a longer back-off is THROTTLED with its delay. */
static outpost_status exchange(struct ews *e, const struct ebuf *op, struct events *ev, const char *what)
{
    memset(ev, 0, sizeof *ev);
    struct events_req q = {ev, what};
    return ews_request(e, op, parse_events, &q, what);
}

static outpost_status subscribe(struct ews *e)
{
    struct ebuf op = {0};
    eb_puts(&op, "<m:Subscribe><m:PullSubscriptionRequest SubscribeToAllFolders=\"true\"><t:EventTypes>"
                 "<t:EventType>NewMailEvent</t:EventType><t:EventType>CreatedEvent</t:EventType>"
                 "<t:EventType>DeletedEvent</t:EventType><t:EventType>ModifiedEvent</t:EventType>"
                 "<t:EventType>MovedEvent</t:EventType><t:EventType>CopiedEvent</t:EventType></t:EventTypes>"
                 "<t:Timeout>30</t:Timeout></m:PullSubscriptionRequest></m:Subscribe>");
    struct events ev;
    outpost_status st = exchange(e, &op, &ev, "Subscribe");
    eb_free(&op);
    if (st.code == OUTPOST_OK && !ev.id)
        st = ews_status(e, OUTPOST_BAD_DATA, "Subscribe: the reply carries no subscription id");
    if (st.code == OUTPOST_OK) {
        ews_sub_drop(e);
        e->sub_id = ev.id;
        e->sub_wm = ev.wm;
        ev.id = ev.wm = NULL;
    }
    events_free(&ev);
    return st;
}

/* One GetEvents: *changed when an event came; the watermark moves on. */
static outpost_status get_events(struct ews *e, int *changed, int *more)
{
    struct ebuf op = {0};
    eb_puts(&op, "<m:GetEvents>");
    eb_elem(&op, "m:SubscriptionId", e->sub_id);
    eb_elem(&op, "m:Watermark", e->sub_wm);
    eb_puts(&op, "</m:GetEvents>");
    struct events ev;
    outpost_status st = exchange(e, &op, &ev, "GetEvents");
    eb_free(&op);
    if (st.code == OUTPOST_OK) {
        free(e->sub_wm);
        e->sub_wm = ev.wm;
        ev.wm = NULL;
        *changed = ev.changed;
        *more = ev.more;
    } else if (ev.m.error && is_lost(ev.m.code)) {
        /* the subscription is gone: whatever happened meanwhile is unknown, so a sync runs */
        ews_sub_drop(e);
        *changed = 1;
        *more = 0;
        st = outpost_ok();
    }
    events_free(&ev);
    return st;
}

void ews_unsubscribe(struct ews *e)
{
    if (!e->sub_id)
        return;
    if (e->curl) {
        struct ebuf op = {0};
        eb_puts(&op, "<m:Unsubscribe>");
        eb_elem(&op, "m:SubscriptionId", e->sub_id);
        eb_puts(&op, "</m:Unsubscribe>");
        struct ews_simple s;
        ews_call_simple(e, eb_str(&op), &s, "Unsubscribe"); /* best effort: it expires anyway */
        ews_simple_free(&s);
        eb_free(&op);
    }
    ews_sub_drop(e);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

outpost_status ews_wait_changes(struct ews *e, uint32_t timeout_ms, int *changed)
{
    *changed = 0;
    int64_t deadline = now_ms() + timeout_ms;
    outpost_status st = outpost_ok();
    if (!e->sub_id) {
        /* what changed between the last sync and now precedes the new watermark */
        if ((st = subscribe(e)).code == OUTPOST_OK)
            *changed = 1;
        return st;
    }
    for (;;) {
        int more = 0;
        if ((st = get_events(e, changed, &more)).code != OUTPOST_OK || *changed) {
            if (st.code != OUTPOST_OK && e->host->cancelled && e->host->cancelled(e->host))
                return outpost_ok(); /* a wake-up abandoned the request (http.c): not a failure */
            return st;
        }
        if (more)
            continue;
        /* nothing yet: ask again after push_poll, or return at the deadline */
        int64_t next = now_ms() + (int64_t)e->push_poll_ms;
        for (;;) {
            if (e->host->cancelled && e->host->cancelled(e->host))
                return outpost_ok();
            int64_t now = now_ms();
            if (now >= deadline)
                return outpost_ok();
            if (now >= next)
                break;
            int64_t step = next - now < 100 ? next - now : 100;
            struct timespec ts = {0, (long)step * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
}
