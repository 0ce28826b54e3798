/* push.c — wait_changes: Kerio's account-wide long-poll `Changes.get(lastSyncKey, timeout)`.
 *
 * The long-poll runs on a libcurl handle of its own (driven through a multi handle), so it
 * never occupies the keep-alive connection of the other calls; it shares their session: the
 * X-Token and the cookies of the main handle are copied onto it before every poll, and a
 * -32001 logs in again through the main connection. The wait is sliced: the transfer is
 * polled every 100 ms for host->cancelled(); when cancelled the transfer is abandoned and
 * `Changes.killRequest(lastSyncKey)` ends the server's side of the poll (Kerio permits only one
 * long-poll per key), then the wait returns OK with nothing changed.
 *
 * The key: `Changes.getSyncKey` at open() (best effort), before the first sync, so a change
 * made between that sync and the first wait is reported by the wait. A key the server refuses
 * (expired journal) or a change list too large to read is replaced by a fresh key and reported
 * as a change: the engine's next sync finds out what changed, folder by folder. */
#include "kerio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PUSH_MAX_SLICE_S 300L               /* longest single Changes.get */
#define PUSH_GRACE_S 30L                    /* HTTP timeout beyond the long-poll's own */
#define PUSH_KILL_TIMEOUT_MS 3000L          /* killRequest on the way out */
#define PUSH_POLL_MS 100                    /* cancellation latency */
#define PUSH_MIN_INTERVAL_MS 1000           /* least time between the starts of two polls */
#define PUSH_MAX_REPLY (16u * 1024u * 1024u)

struct kerio_push {
    CURLM *multi;
    CURL *curl;
    json_t *key;                            /* the last SyncKey the server gave */
    int fresh;                              /* key from getSyncKey, not yet accepted by Changes.get */
    char err[CURL_ERROR_SIZE];
    long http;
};

struct push_body {
    struct kbuf b;
    int over;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct push_body *s = ud;
    size_t len = sz * n;
    if (s->b.len + len > PUSH_MAX_REPLY) {
        s->over = 1;
        return 0;
    }
    return kbuf_append(&s->b, p, len) == 0 ? len : 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cancelled(struct outpost_transport *t)
{
    return t->host->cancelled && t->host->cancelled(t->host);
}

static struct kerio_push *push_of(struct outpost_transport *t)
{
    if (!t->push)
        t->push = calloc(1, sizeof *t->push);
    return t->push;
}

static outpost_status push_connect(struct outpost_transport *t, struct kerio_push *p)
{
    if (!p->multi)
        p->multi = curl_multi_init();
    if (!p->curl) {
        p->curl = curl_easy_init();
        if (p->curl) {
            kerio_curl_setup(t, p->curl, p->err);
            /* this handle polls host->cancelled itself (push_rpc), and some of its calls
             * must run while it is set (ending an abandoned poll) */
            curl_easy_setopt(p->curl, CURLOPT_NOPROGRESS, 1L);
        }
    }
    if (!p->multi || !p->curl)
        return kerio_fail(t, OUTPOST_FATAL, "kerio: cannot create a libcurl handle for the change long-poll");
    return outpost_ok();
}

/* The main handle's session cookies onto the push handle. */
static void copy_cookies(struct outpost_transport *t, struct kerio_push *p)
{
    curl_easy_setopt(p->curl, CURLOPT_COOKIELIST, "ALL");
    struct curl_slist *list = NULL;
    if (t->curl && curl_easy_getinfo(t->curl, CURLINFO_COOKIELIST, &list) == CURLE_OK) {
        for (struct curl_slist *c = list; c; c = c->next)
            curl_easy_setopt(p->curl, CURLOPT_COOKIELIST, c->data);
        curl_slist_free_all(list);
    }
}

enum { RPC_DONE = 0, RPC_CANCELLED = 1 };

/* One JSON-RPC exchange on the push handle. `cancellable`: abandon the transfer when the host
 * cancels (returns OK with *how = RPC_CANCELLED). On OK with RPC_DONE, r holds the reply. */
static outpost_status push_rpc(struct outpost_transport *t, struct kerio_push *p, const char *method, json_t *params,
                               long timeout_ms, int cancellable, int *how, int *over, struct kerio_reply *r)
{
    *how = RPC_DONE;
    memset(r, 0, sizeof *r);
    outpost_status st = push_connect(t, p);
    if (st.code != OUTPOST_OK) {
        json_decref(params);
        return st;
    }
    json_t *req = json_pack("{s:s, s:I, s:s}", "jsonrpc", "2.0", "id", (json_int_t)++t->next_id, "method", method);
    if (t->token)
        json_object_set_new(req, "token", json_string(t->token));
    if (params)
        json_object_set_new(req, "params", params);
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!text)
        return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: %s: request cannot be encoded", method);
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Accept: application/json-rpc");
    h = curl_slist_append(h, "Content-Type: application/json-rpc; charset=UTF-8");
    h = kerio_token_header(t, h);
    h = curl_slist_append(h, "Expect:");
    copy_cookies(t, p);
    struct push_body body = { { 0 }, 0 };
    CURL *c = p->curl;
    curl_easy_setopt(c, CURLOPT_URL, t->endpoint);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(text));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    struct kerio_hdr hs = { 0 };
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, kerio_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hs);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 30000 ? timeout_ms : 30000L);
    p->err[0] = '\0';
    CURLcode rc = CURLE_OK;
    int done = 0;
    curl_multi_add_handle(p->multi, c);
    while (!done) {
        int running = 0;
        if (curl_multi_perform(p->multi, &running) != CURLM_OK) {
            rc = CURLE_FAILED_INIT;
            break;
        }
        int left;
        for (CURLMsg *m; (m = curl_multi_info_read(p->multi, &left));)
            if (m->msg == CURLMSG_DONE && m->easy_handle == c) {
                rc = m->data.result;
                done = 1;
            }
        if (done || !running) {
            done = 1;
            break;
        }
        if (cancellable && cancelled(t)) {
            *how = RPC_CANCELLED;
            break;
        }
        curl_multi_poll(p->multi, NULL, 0, PUSH_POLL_MS, NULL);
    }
    /* Removing an unfinished transfer closes its connection: the poll is abandoned. */
    curl_multi_remove_handle(p->multi, c);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    free(text);
    p->http = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &p->http);
    if (*how == RPC_CANCELLED) {
        kbuf_free(&body.b);
        return outpost_ok();
    }
    if (over)
        *over = body.over;
    if (rc == CURLE_WRITE_ERROR && body.over) {
        kbuf_free(&body.b);
        return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: %s: reply larger than %u bytes", method, PUSH_MAX_REPLY);
    }
    if (rc != CURLE_OK) {
        kbuf_free(&body.b);
        return kerio_transfer_failed(t, rc, p->err);
    }
    int prc = kerio_reply_parse(body.b.data, body.b.len, r);
    kbuf_free(&body.b);
    if (prc != 0 && r->ended_early && kerio_reply_unframed(c, &hs))
        return kerio_cut_reply(t, method, r);
    if (prc != 0) {
        if (p->http != 200) {
            int cls = kerio_http_class(p->http);
            outpost_status s = kerio_fail(t, cls, "kerio: %s: HTTP %ld from %s", method, p->http, t->base);
            if (cls == OUTPOST_THROTTLED)
                s.retry_after_ms = 1000;
            return s;
        }
        return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: %s: malformed reply: %s", method, r->message);
    }
    return outpost_ok();
}

/* Ends the server's side of an abandoned poll (best effort, not cancellable, short). */
static void kill_request(struct outpost_transport *t, struct kerio_push *p)
{
    if (!p->key)
        return;
    int how;
    struct kerio_reply r;
    outpost_status st = push_rpc(t, p, "Changes.killRequest", json_pack("{s:O}", "lastSyncKey", p->key),
                                 PUSH_KILL_TIMEOUT_MS, 0, &how, NULL, &r);
    if (st.code == OUTPOST_OK)
        json_decref(r.root);
    else
        t->host->log(t->host, OUTPOST_LOG_DEBUG, "kerio: Changes.killRequest: %s", st.message);
}

/* A SyncKey as Kerio gives it: an object (its watermark an integer, kj_int's forms); an
 * integer is accepted. The key is sent back exactly as received. */
static int key_valid(const json_t *k)
{
    int64_t v;
    return kj_int(k, &v) || (json_is_object(k) && kj_int(json_object_get(k, "watermark"), &v));
}

static outpost_status fetch_key(struct outpost_transport *t, struct kerio_push *p)
{
    json_t *res = NULL;
    outpost_status st = kerio_call(t, "Changes.getSyncKey", NULL, KERIO_CTX_CALL, 1u << 20, NULL, &res);
    if (st.code != OUTPOST_OK)
        return st;
    const json_t *k = json_object_get(res, "syncKey");
    if (!key_valid(k)) {
        json_decref(res);
        return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: Changes.getSyncKey reply without a syncKey");
    }
    json_decref(p->key);
    p->key = json_deep_copy(k);
    p->fresh = 1;
    json_decref(res);
    return outpost_ok();
}

void kerio_push_prime(struct outpost_transport *t)
{
    struct kerio_push *p = push_of(t);
    if (!p || p->key)
        return;
    outpost_status st = fetch_key(t, p);
    if (st.code != OUTPOST_OK)
        t->host->log(t->host, OUTPOST_LOG_INFO, "kerio: no account sync key yet (%s); the first wait will take one",
                     st.message);
}

void kerio_push_disconnect(struct outpost_transport *t)
{
    struct kerio_push *p = t->push;
    if (!p)
        return;
    if (p->curl)
        curl_easy_cleanup(p->curl);
    if (p->multi)
        curl_multi_cleanup(p->multi);
    p->curl = NULL;
    p->multi = NULL;
}

void kerio_push_free(struct outpost_transport *t)
{
    kerio_push_disconnect(t);
    if (t->push)
        json_decref(t->push->key);
    free(t->push);
    t->push = NULL;
}

/* The key was refused or the change list could not be read: take a fresh key and report a
 * change, so the engine syncs and finds out what changed. */
static outpost_status renew_key(struct outpost_transport *t, struct kerio_push *p, const char *why, int *changed)
{
    t->host->log(t->host, OUTPOST_LOG_INFO, "kerio: %s; taking a new account sync key", why);
    json_decref(p->key);
    p->key = NULL;
    outpost_status st = fetch_key(t, p);
    if (st.code == OUTPOST_OK)
        *changed = 1;
    return st;
}

/* Waits locally until `until` (monotonic ms) or cancellation. */
static void wait_until(struct outpost_transport *t, int64_t until)
{
    while (now_ms() < until && !cancelled(t)) {
        struct timespec ts = { 0, 20 * 1000000L };
        nanosleep(&ts, NULL);
    }
}

outpost_status kerio_wait_changes(struct outpost_transport *t, uint32_t timeout_ms, int *changed)
{
    *changed = 0;
    struct kerio_push *p = push_of(t);
    if (!p)
        return kerio_fail(t, OUTPOST_FATAL, "kerio: out of memory");
    if (cancelled(t))
        return outpost_ok();
    if (!t->curl || !t->token) {
        outpost_status st = kerio_login(t);
        if (st.code != OUTPOST_OK)
            return st;
    }
    if (!p->key) {
        /* Without a key, changes since the last sync cannot be told apart: report one. */
        outpost_status st = fetch_key(t, p);
        if (st.code == OUTPOST_OK)
            *changed = 1;
        return st;
    }
    int64_t deadline = now_ms() + timeout_ms;
    int relogged = 0;
    for (;;) {
        int64_t left = deadline - now_ms();
        long secs = (long)(left / 1000);
        if (secs > PUSH_MAX_SLICE_S)
            secs = PUSH_MAX_SLICE_S;
        if (secs < 1) {
            /* Less than the server's 1 s granularity left: wait it out locally. */
            wait_until(t, deadline);
            return outpost_ok();
        }
        int64_t polled = now_ms();
        int how, over = 0;
        struct kerio_reply r;
        outpost_status st = push_rpc(t, p, "Changes.get", json_pack("{s:O, s:i}", "lastSyncKey", p->key, "timeout", (int)secs),
                                     (secs + PUSH_GRACE_S) * 1000L, 1, &how, &over, &r);
        if (st.code == OUTPOST_OK && how == RPC_CANCELLED) {
            kill_request(t, p);
            return outpost_ok();
        }
        if (st.code != OUTPOST_OK) {
            if (over)
                return renew_key(t, p, "the change list is too large to read", changed);
            return st;
        }
        if (r.is_error) {
            int64_t code = r.code;
            char msg[sizeof r.message];
            memcpy(msg, r.message, sizeof msg);
            uint32_t retry = r.retry_after_ms;
            json_decref(r.root);
            if (code == KERIO_E_SESSION_EXPIRED && !relogged) {
                relogged = 1;
                t->host->log(t->host, OUTPOST_LOG_INFO, "kerio: session expired, logging in again");
                free(t->token);
                t->token = NULL;
                st = kerio_login(t);
                if (st.code != OUTPOST_OK)
                    return st;
                continue;
            }
            /* Like Changes.getFolder, an unexpected refusal means the key; but a method the
             * server lacks, bad parameters or a denial are not about the key, and a key
             * refused right after getSyncKey gave it would only loop. */
            int about_key = code != KERIO_E_METHOD_NOT_FOUND && code != KERIO_E_INVALID_PARAMS &&
                            code != KERIO_E_ACCESS_DENIED && code != KERIO_E_NOT_PERMITTED;
            int cls = kerio_error_class(code, about_key ? KERIO_CTX_CHANGES : KERIO_CTX_CALL);
            if (cls == OUTPOST_STATE_INVALID && !p->fresh) {
                char why[300];
                snprintf(why, sizeof why, "Changes.get refused the sync key: %s (code %lld)", msg[0] ? msg : "no message",
                         (long long)code);
                return renew_key(t, p, why, changed);
            }
            outpost_status s = kerio_fail(t, cls, "kerio: Changes.get failed: %s (code %lld)", msg[0] ? msg : "no message",
                                          (long long)code);
            if (cls == OUTPOST_THROTTLED)
                s.retry_after_ms = retry ? retry : 1000;
            return s;
        }
        const json_t *list = json_object_get(r.result, "list");
        const json_t *key = json_object_get(r.result, "syncKey");
        if (!json_is_array(list) || !key_valid(key)) {
            json_decref(r.root);
            return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: Changes.get: malformed reply (list and syncKey expected)");
        }
        json_decref(p->key);
        p->key = json_deep_copy(key);
        p->fresh = 0;
        size_t n = json_array_size(list);
        json_decref(r.root);
        if (n > 0) {
            *changed = 1;
            return outpost_ok();
        }
        /* Empty: the poll timed out (or a newer poll with our key ended it); wait on. A
         * server that answers at once (one that does not hold the poll, or reads the
         * undocumented timeout in another unit) is asked at most once a second. */
        if (cancelled(t))
            return outpost_ok();
        wait_until(t, polled + PUSH_MIN_INTERVAL_MS < deadline ? polled + PUSH_MIN_INTERVAL_MS : deadline);
    }
}
