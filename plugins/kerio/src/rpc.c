/* rpc.c — the HTTP side: one libcurl easy handle per instance (keep-alive, cookie jar, TLS
 * verified against the system store or ca_file), JSON-RPC calls with transparent re-login on
 * -32001, attachment upload and download. Replies are read by reply.c; this file only moves
 * bytes and turns transport failures into status classes. */
#include "kerio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KERIO_DEFAULT_MAX_REPLY (512u * 1024u * 1024u)
/* A reply buffer up to this size is kept for the instance's next call: a listing's getById
 * replies are about a megabyte each, and a fresh buffer grown to that size for every one of
 * them costs page faults and copies on every page. */
#define KERIO_REPLY_KEEP (4u * 1024u * 1024u)

struct sink_buf {
    struct kbuf b;
    size_t max;
    int over;
    CURL *sized;   /* a download: its buffer is made the announced length at the first bytes */
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct sink_buf *s = ud;
    size_t len = sz * n;
    if (s->b.len + len > s->max) {
        s->over = 1;
        return 0; /* aborts the transfer: memory stays bounded */
    }
    if (s->sized) {
        /* one allocation of the Content-Length (attachments of 100 KB and more grew by doubling
         * otherwise: a copy and new pages at every step); a length that lies only costs growing */
        curl_off_t cl = -1;
        if (curl_easy_getinfo(s->sized, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK && cl > 0 &&
            (uint64_t)cl <= s->max)
            (void)kbuf_expect(&s->b, (size_t)cl);
        s->sized = NULL;
    }
    return kbuf_append(&s->b, p, len) == 0 ? len : 0;
}

size_t kerio_on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct kerio_hdr *h = ud;
    size_t len = sz * n;
    if (len > 5 && strncmp(p, "HTTP/", 5) == 0) {
        h->chunked = 0; /* a new response (after a 100 or a 401): its own headers only */
    } else if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
        long v = strtol(p + 12, NULL, 10);
        if (v > 0 && v < 86400)
            h->retry_after_ms = (uint32_t)v * 1000u;
    } else if (len > 9 && strncasecmp(p, "Location:", 9) == 0) {
        size_t i = 9, j = 0;
        while (i < len && (p[i] == ' ' || p[i] == '\t'))
            i++;
        for (; i < len && j + 1 < sizeof h->location && (unsigned char)p[i] >= 0x20 && p[i] != 0x7f; i++)
            h->location[j++] = p[i];
        h->location[j] = '\0';
    } else if (len > 18 && strncasecmp(p, "Transfer-Encoding:", 18) == 0) {
        for (size_t i = 18; i + 7 <= len; i++)
            if (strncasecmp(p + i, "chunked", 7) == 0)
                h->chunked = 1;
    }
    return len;
}

int kerio_reply_unframed(CURL *c, const struct kerio_hdr *h)
{
    long ver = 0;
    curl_off_t cl = -1;
    if (h->chunked || curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) != CURLE_OK || cl >= 0)
        return 0;
    /* HTTP/2 and 3 end a reply with a frame of their own: a drop is a transfer error there */
    if (curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &ver) == CURLE_OK && ver != CURL_HTTP_VERSION_1_0 &&
        ver != CURL_HTTP_VERSION_1_1)
        return 0;
    return 1;
}

/* OpenSSL's words, in libcurl's error text, for a first reply that is no TLS record at all:
 * the server speaks something else on that port (plain HTTP most often). */
static int not_tls(const char *why)
{
    return strstr(why, "wrong version number") || strstr(why, "packet length too long");
}

outpost_status kerio_transfer_failed(struct outpost_transport *t, CURLcode rc, const char *errbuf)
{
    const char *why = errbuf && errbuf[0] ? errbuf : curl_easy_strerror(rc);
    /* Certificate checks that failed will fail again: FATAL, naming ca_file. */
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM ||
        rc == CURLE_SSL_ISSUER_ERROR || rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH)
        return kerio_fail(t, OUTPOST_FATAL,
                          "kerio: TLS verification of %s failed: %s (set [account] ca_file to trust a private CA)",
                          t->base, why);
    if (rc == CURLE_SSL_CONNECT_ERROR) {
        /* A server that answers the handshake with something other than TLS does so every
         * time: FATAL, with what to check. A handshake that breaks off (a reset or an EOF in
         * the middle of it, a server restarting) is a network failure like any other. */
        if (not_tls(why))
            return kerio_fail(t, OUTPOST_FATAL,
                              "kerio: %s does not answer in TLS (%s): check the scheme and port of [account] url "
                              "(an https:// URL on a plain HTTP port?)", t->base, why);
        return kerio_fail(t, OUTPOST_TEMP, "kerio: TLS handshake with %s failed: %s", t->base, why);
    }
    return kerio_fail(t, OUTPOST_TEMP, "kerio: cannot reach %s: %s", t->base, why);
}

/* libcurl's progress callback (at least once a second while a transfer waits): a transfer
 * is abandoned when the host cancels (the daemon stops), so a server that stopped answering
 * does not hold up SIGTERM for the request timeout. An abandoned write is one whose reply was
 * lost, which replay already handles (duplicate checks before a retry). */
static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    const struct outpost_transport *t = ctx;
    return t->host->cancelled && t->host->cancelled(t->host);
}

void kerio_curl_setup(struct outpost_transport *t, CURL *c, char *errbuf)
{
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, t);
    curl_easy_setopt(c, CURLOPT_COOKIEFILE, "");          /* in-memory cookie jar */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, t->timeout_s < 30 ? t->timeout_s : 30L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, t->timeout_s);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(c, CURLOPT_USERAGENT, KERIO_APP_NAME "/" KERIO_APP_VERSION);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    if (t->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, t->ca_file);
    if (t->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

outpost_status kerio_connect(struct outpost_transport *t)
{
    if (t->curl)
        return outpost_ok();
    t->curl = curl_easy_init();
    if (!t->curl)
        return kerio_fail(t, OUTPOST_FATAL, "kerio: cannot create a libcurl handle");
    kerio_curl_setup(t, t->curl, t->curl_err);
    return outpost_ok();
}

void kerio_disconnect(struct outpost_transport *t)
{
    if (t->curl)
        curl_easy_cleanup(t->curl);
    t->curl = NULL;
    free(t->token);
    t->token = NULL;
    kbuf_free(&t->reply);
}

struct curl_slist *kerio_token_header(const struct outpost_transport *t, struct curl_slist *h)
{
    if (!t->token)
        return h;
    struct kbuf b = { 0 };
    kbuf_printf(&b, "X-Token: %s", t->token); /* any length: the token is opaque */
    if (b.data)
        h = curl_slist_append(h, b.data);
    kbuf_free(&b);
    return h;
}

/* One HTTP exchange. On transport failure returns non-OK; otherwise fills body and http. */
static outpost_status http_exchange(struct outpost_transport *t, const char *url, const char *ctype,
                                    const char *extra_header, const void *data, size_t len, int post,
                                    struct sink_buf *body)
{
    struct curl_slist *h = NULL;
    struct kerio_hdr hs = { 0 };
    h = curl_slist_append(h, "Accept: application/json-rpc");
    if (ctype) {
        char ct[256];
        snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
        h = curl_slist_append(h, ct);
    }
    if (extra_header)
        h = curl_slist_append(h, extra_header);
    h = kerio_token_header(t, h);
    h = curl_slist_append(h, "Expect:");
    CURL *c = t->curl;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (post) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, kerio_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hs);
    t->curl_err[0] = '\0';
    CURLcode rc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    t->last_http = 0;
    t->last_retry_after_ms = hs.retry_after_ms;
    snprintf(t->last_location, sizeof t->last_location, "%s", hs.location);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &t->last_http);
    t->last_unframed = rc == CURLE_OK && kerio_reply_unframed(c, &hs);
    if (rc == CURLE_WRITE_ERROR && body->over)
        return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: reply larger than %zu bytes", body->max);
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        return kerio_fail(t, OUTPOST_TEMP, "kerio: cancelled");
    if (rc != CURLE_OK)
        return kerio_transfer_failed(t, rc, t->curl_err);
    return outpost_ok();
}

outpost_status kerio_cut_reply(struct outpost_transport *t, const char *what, const struct kerio_reply *r)
{
    return kerio_fail(t, OUTPOST_TEMP,
                      "kerio: %s: the connection to %s ended before the reply did (%s; no length announced)", what,
                      t->base, r->message);
}

/* Members of a mail that nothing here reads (Mail.signInfo, Mail.encryptInfo,
 * EmailAddress.contactId): a reply to Mails.get or Mails.getById is parsed without building
 * them — a seventh of the instructions of reading a page of generated mail. Mail objects read
 * from the server are only ever converted (to MIME, a summary), never sent back, so nothing
 * dropped here can be lost on the server. */
static const char *const mail_unread_members[] = { "signInfo", "encryptInfo", "contactId", NULL };

static int mail_read(const char *method)
{
    return strcmp(method, "Mails.get") == 0 || strcmp(method, "Mails.getById") == 0;
}

/* One JSON-RPC exchange without re-login. */
static outpost_status call_once(struct outpost_transport *t, const char *method, json_t *params, int ctx,
                                size_t max_reply, int *over_cap, struct kerio_reply *r)
{
    json_t *req = json_object();
    json_object_set_new(req, "jsonrpc", json_string("2.0"));
    json_object_set_new(req, "id", json_integer(++t->next_id));
    json_object_set_new(req, "method", json_string(method));
    if (t->token)
        json_object_set_new(req, "token", json_string(t->token));
    if (params)
        json_object_set(req, "params", params);
    char *text = json_dumps(req, JSON_COMPACT);
    /* The login request holds the password: wipe the serialised copy once it is sent. */
    json_decref(req);
    if (!text)
        return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: %s: request cannot be encoded (invalid UTF-8?)", method);
    struct sink_buf body = { t->reply, max_reply ? max_reply : KERIO_DEFAULT_MAX_REPLY, 0, NULL };
    memset(&t->reply, 0, sizeof t->reply);
    kbuf_reset(&body.b);
    outpost_status st = http_exchange(t, t->endpoint, "application/json-rpc; charset=UTF-8", NULL, text, strlen(text), 1, &body);
    explicit_bzero(text, strlen(text));
    free(text);
    int prc = 0;
    if (st.code == OUTPOST_OK) /* body first, whatever the HTTP status */
        prc = kerio_reply_parse_skip(body.b.data, body.b.len, mail_read(method) ? mail_unread_members : NULL, r);
    else if (body.over && over_cap)
        *over_cap = 1;
    if (body.b.cap <= KERIO_REPLY_KEEP)
        t->reply = body.b;
    else
        kbuf_free(&body.b);
    if (st.code != OUTPOST_OK)
        return st;
    t->last_unreadable = prc != 0;
    if (prc != 0 && r->ended_early && t->last_unframed)
        return kerio_cut_reply(t, method, r);
    if (prc != 0) {
        if (t->last_http >= 300 && t->last_http < 400)
            /* Redirects are not followed (a POST would turn into a GET, the session would not
             * follow): say where the server points. */
            return kerio_fail(t, OUTPOST_BAD_DATA,
                              "kerio: %s: %s answers with a redirect (HTTP %ld) to %s; set [account] url to the "
                              "server's address", method, t->base, t->last_http,
                              t->last_location[0] ? t->last_location : "an unnamed location");
        if (t->last_http != 200) {
            int cls = kerio_http_class(t->last_http);
            outpost_status s = kerio_fail(t, cls, "kerio: %s: HTTP %ld from %s", method, t->last_http, t->base);
            if (cls == OUTPOST_THROTTLED)
                s.retry_after_ms = t->last_retry_after_ms ? t->last_retry_after_ms : 1000;
            return s;
        }
        return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: %s: malformed reply: %s", method, r->message);
    }
    if (r->is_error) {
        int cls = kerio_error_class(r->code, ctx);
        outpost_status s = kerio_fail(t, cls, "kerio: %s failed: %s (code %lld)", method,
                                      r->message[0] ? r->message : "no message", (long long)r->code);
        if (cls == OUTPOST_THROTTLED)
            s.retry_after_ms = r->retry_after_ms ? r->retry_after_ms : t->last_retry_after_ms ? t->last_retry_after_ms : 1000;
        return s;
    }
    return outpost_ok();
}

outpost_status kerio_call(struct outpost_transport *t, const char *method, json_t *params, int ctx,
                          size_t max_reply, int *over_cap, json_t **result)
{
    struct kerio_reply r;
    outpost_status st;
    *result = NULL;
    if (t->host->cancelled && t->host->cancelled(t->host)) {
        json_decref(params);
        return kerio_fail(t, OUTPOST_TEMP, "kerio: cancelled");
    }
    if (!t->curl || !t->token) {
        st = kerio_login(t);
        if (st.code != OUTPOST_OK) {
            json_decref(params);
            return st;
        }
    }
    for (int attempt = 0;; attempt++) {
        memset(&r, 0, sizeof r);
        st = call_once(t, method, params, ctx, max_reply, over_cap, &r);
        if (st.code == OUTPOST_OK)
            break;
        /* -32001 is Kerio's word for it; a bare HTTP 401 on a call other than the login is
         * read the same way (a front end or proxy that ended the session). */
        int expired = (r.root && r.is_error && r.code == KERIO_E_SESSION_EXPIRED) ||
                      (st.code == OUTPOST_AUTH && t->last_http == 401);
        json_decref(r.root);
        r.root = NULL;
        if (!expired || attempt > 0) {
            json_decref(params);
            return st;
        }
        /* The session expired (idle timeout, server restart): log in again and retry once. */
        t->host->log(t->host, OUTPOST_LOG_INFO, "kerio: session expired, logging in again");
        free(t->token);
        t->token = NULL;
        st = kerio_login(t);
        if (st.code != OUTPOST_OK) {
            json_decref(params);
            return st;
        }
    }
    json_decref(params);
    *result = json_incref(r.result ? r.result : json_null());
    json_decref(r.root);
    return outpost_ok();
}

void kerio_logout(struct outpost_transport *t)
{
    if (!t->curl || !t->token)
        return;
    /* Once, never through kerio_call: a session that already expired is simply gone, and
     * logging in again only to log out would open a session for nothing. */
    struct kerio_reply r;
    memset(&r, 0, sizeof r);
    (void)call_once(t, "Session.logout", NULL, KERIO_CTX_CALL, 0, NULL, &r);
    json_decref(r.root);
    free(t->token);
    t->token = NULL;
}

outpost_status kerio_login(struct outpost_transport *t)
{
    outpost_status st = kerio_connect(t);
    if (st.code != OUTPOST_OK)
        return st;
    if (!t->password)
        return kerio_fail(t, OUTPOST_AUTH, "kerio: no password for %s (set [account] password_file or password_cmd)", t->user);
    free(t->token);
    t->token = NULL;
    json_t *params = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "userName", t->user, "password", t->password,
                               "application", "name", KERIO_APP_NAME, "vendor", KERIO_APP_VENDOR, "version", KERIO_APP_VERSION);
    if (!params)
        return kerio_fail(t, OUTPOST_AUTH, "kerio: user name or password is not valid UTF-8");
    struct kerio_reply r;
    memset(&r, 0, sizeof r);
    st = call_once(t, "Session.login", params, KERIO_CTX_LOGIN, 0, NULL, &r);
    /* Scrub the password from the request object before freeing it. */
    json_t *pw = json_object_get(params, "password");
    if (pw) {
        size_t n = strlen(json_string_value(pw));
        char *z = calloc(1, n + 1);
        if (z) {
            memset(z, 'x', n);
            json_string_set(pw, z);
            free(z);
        }
    }
    json_decref(params);
    if (st.code != OUTPOST_OK) {
        json_decref(r.root);
        if (st.code == OUTPOST_AUTH)
            return kerio_fail(t, OUTPOST_AUTH, "kerio: login of %s refused by %s: %s", t->user, t->base,
                              r.message[0] ? r.message : "wrong user name or password");
        return st;
    }
    const char *tok = kj_str(r.result, "token");
    if (!*tok) {
        json_decref(r.root);
        return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: Session.login reply without a token");
    }
    for (const char *q = tok; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f) { /* it goes into a header line */
            json_decref(r.root);
            return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: Session.login reply with a token that is not one line");
        }
    t->token = strdup(tok);
    json_decref(r.root);
    return outpost_ok();
}

outpost_status kerio_upload(struct outpost_transport *t, const char *name, const char *ctype,
                            const void *data, size_t len, char **id)
{
    *id = NULL;
    if (!t->token) {
        outpost_status st = kerio_login(t);
        if (st.code != OUTPOST_OK)
            return st;
    }
    char url[1024];
    snprintf(url, sizeof url, "%sattachment-upload/", t->endpoint);
    /* Content-Description carries the file name; keep it to one safe line. */
    char desc[300];
    snprintf(desc, sizeof desc, "Content-Description: ");
    size_t j = strlen(desc);
    for (const char *p = name; *p && j + 1 < sizeof desc; p++)
        desc[j++] = ((unsigned char)*p < 0x20 || *p == 0x7f) ? '_' : *p;
    desc[j] = '\0';
    for (int attempt = 0; attempt < 2; attempt++) {
        struct sink_buf body = { { 0 }, 1u << 20, 0, NULL };
        outpost_status st = http_exchange(t, url, ctype, desc, data, len, 1, &body);
        if (st.code != OUTPOST_OK) {
            kbuf_free(&body.b);
            return st;
        }
        if (t->last_http == 401) {
            /* a bare 401 (a front end that ended the session), as for calls: one new login */
            kbuf_free(&body.b);
            if (attempt > 0)
                return kerio_fail(t, OUTPOST_AUTH, "kerio: attachment upload: HTTP 401 after a new login");
            t->host->log(t->host, OUTPOST_LOG_INFO, "kerio: session expired, logging in again");
            outpost_status ls = kerio_login(t);
            if (ls.code != OUTPOST_OK)
                return ls;
            continue;
        }
        struct kerio_reply r;
        int prc = kerio_reply_parse(body.b.data, body.b.len, &r);
        kbuf_free(&body.b);
        if (prc != 0 && r.ended_early && t->last_unframed)
            return kerio_cut_reply(t, "attachment upload", &r);
        if (prc != 0)
            return kerio_fail(t, t->last_http >= 500 ? OUTPOST_TEMP : OUTPOST_BAD_DATA,
                              "kerio: attachment upload: malformed reply (HTTP %ld)", t->last_http);
        if (r.is_error) {
            int64_t code = r.code;
            json_decref(r.root);
            if (code == KERIO_E_SESSION_EXPIRED && attempt == 0) {
                outpost_status ls = kerio_login(t);
                if (ls.code != OUTPOST_OK)
                    return ls;
                continue;
            }
            return kerio_fail(t, kerio_error_class(code, KERIO_CTX_CALL), "kerio: attachment upload refused: %s", r.message);
        }
        const char *fid = kj_str(json_object_get(r.result, "fileUpload"), "id");
        if (!*fid) {
            json_decref(r.root);
            return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: attachment upload reply without fileUpload.id");
        }
        *id = strdup(fid);
        json_decref(r.root);
        return outpost_ok();
    }
    return kerio_fail(t, OUTPOST_AUTH, "kerio: attachment upload: session keeps expiring");
}

/* A reply to a download that is a JSON-RPC error rather than the attachment: any status but
 * 200, or a 200 announced as JSON (an attachment that is itself JSON keeps its own type only
 * if the server says so; an error envelope is what Kerio's endpoints answer with). */
static int download_error(struct outpost_transport *t, const struct kbuf *b, struct kerio_reply *r)
{
    const char *ct = NULL;
    memset(r, 0, sizeof *r);
    if (t->last_http == 200 &&
        (curl_easy_getinfo(t->curl, CURLINFO_CONTENT_TYPE, &ct) != CURLE_OK || !ct ||
         strncasecmp(ct, "application/json", 16) != 0))
        return 0;
    if (kerio_reply_parse(b->data, b->len, r) != 0)
        return 0;
    if (!r->is_error) {
        json_decref(r->root);
        memset(r, 0, sizeof *r);
        return 0;
    }
    return 1;
}

outpost_status kerio_download(struct outpost_transport *t, const char *url, struct kbuf *out)
{
    char full[2048];
    if (url[0] != '/' || snprintf(full, sizeof full, "%s%s", t->base, url) >= (int)sizeof full)
        return kerio_fail(t, OUTPOST_BAD_DATA, "kerio: attachment URL %.200s is not on the server", url);
    for (int attempt = 0;; attempt++) {
        struct sink_buf body = { { 0 }, KERIO_DEFAULT_MAX_REPLY, 0, t->curl };
        outpost_status st = http_exchange(t, full, NULL, NULL, NULL, 0, 0, &body);
        if (st.code != OUTPOST_OK) {
            kbuf_free(&body.b);
            return st;
        }
        struct kerio_reply r;
        int rpc = download_error(t, &body.b, &r);
        if (t->last_http == 200 && !rpc) {
            kbuf_free(out);
            *out = body.b;
            return outpost_ok();
        }
        kbuf_free(&body.b);
        json_decref(r.root);
        /* An ended session (Kerio's -32001, or a bare 401/403 of a front end): log in again once. */
        int expired = rpc ? r.code == KERIO_E_SESSION_EXPIRED : t->last_http == 401 || t->last_http == 403;
        if (expired && attempt == 0) {
            st = kerio_login(t);
            if (st.code != OUTPOST_OK)
                return st;
            continue;
        }
        /* What the server says of this attachment. "No such item" (1002/4104) and HTTP 404/410
         * are GONE; another refusal, or a 4xx other than 408/429 (a 401/403 even after a new
         * login), is BAD_DATA: neither changes by asking again. 5xx, 408, 429 and Kerio's
         * transient codes stay TEMP/THROTTLED. */
        int cls;
        if (rpc)
            cls = kerio_error_class(r.code, KERIO_CTX_CALL);
        else if (t->last_http == 404 || t->last_http == 410)
            cls = OUTPOST_GONE;
        else if ((cls = kerio_http_class(t->last_http)) == OUTPOST_AUTH)
            cls = OUTPOST_BAD_DATA;
        outpost_status s = rpc ? kerio_fail(t, cls, "attachment download refused: %s (code %lld)",
                                            r.message[0] ? r.message : "no message", (long long)r.code)
                               : kerio_fail(t, cls, "attachment download failed: HTTP %ld", t->last_http);
        if (cls == OUTPOST_THROTTLED)
            s.retry_after_ms = r.retry_after_ms ? r.retry_after_ms : t->last_retry_after_ms ? t->last_retry_after_ms : 1000;
        return s;
    }
}
