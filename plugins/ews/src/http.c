/* HTTPS for the EWS transport (libcurl): one easy handle per instance (keep-alive, cookies),
 * Basic / NTLM / Negotiate / OAuth2 bearer authentication, TLS verification, replies spooled
 * (in memory up to EWS_SPOOL_MEM, past it in a temporary file) so they can be validated
 * before anything reaches the sink
 * (autodiscover.c finds the URL). */
#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ews.h"

/* ews_envelope; returns the offset of op_xml in b. */
static size_t envelope_at(struct ews *e, struct ebuf *b, const char *op_xml)
{
    /* the operation's local name, for the SOAPAction header that SOAP 1.1 asks of every
     * request and EWS's WSDL binds to each operation */
    const char *op = op_xml && !strncmp(op_xml, "<m:", 3) ? op_xml + 3 : "";
    snprintf(e->action, sizeof e->action, "%.*s", (int)strcspn(op, " />"), op);
    eb_puts(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
               "<soap:Envelope xmlns:soap=\"" EWS_NS_SOAP "\" xmlns:m=\"" EWS_NS_M "\" xmlns:t=\"" EWS_NS_T "\">"
               "<soap:Header><t:RequestServerVersion Version=\"");
    eb_xml(b, e->ver);
    eb_puts(b, "\"/></soap:Header><soap:Body>");
    size_t at = b->len;
    eb_puts(b, op_xml);
    eb_puts(b, "</soap:Body></soap:Envelope>");
    return at;
}

void ews_envelope(struct ews *e, struct ebuf *b, const char *op_xml)
{
    envelope_at(e, b, op_xml);
}

/* ---- a request body with a streamed part (struct ews_upload_src) ---- */

#define UP_RAW (3u * 16384u) /* bytes encoded at once: a multiple of 3, so only the last piece pads */

struct ews_upload {
    struct ews *e;
    const char *body;        /* the envelope without the streamed part */
    size_t len, split, pos;  /* pos: bytes of body sent */
    int phase;               /* 0 body before split, 1 the streamed part, 2 body after split */
    struct outpost_reader *rd;
    uint64_t raw_len, raw_done;
    unsigned char raw[UP_RAW];
    unsigned char enc[UP_RAW / 3 * 4 + 1];
    size_t enc_len, enc_off;
    outpost_status err;      /* why the transfer was aborted (failed) */
    int failed;
};

static uint64_t b64_len(uint64_t n)
{
    return (n + 2) / 3 * 4;
}

static int upload_fail(struct ews_upload *u, outpost_status st)
{
    u->err = st;
    u->failed = 1;
    return -1;
}

/* The next encoded piece of the content: 0, or -1 (u->err). */
static int upload_refill(struct ews_upload *u)
{
    size_t n = 0;
    while (n < UP_RAW) {
        size_t got = 0;
        outpost_status st = u->rd->read(u->rd->ctx, u->raw + n, UP_RAW - n, &got);
        if (st.code != OUTPOST_OK)
            return upload_fail(u, st);
        if (!got)
            break;
        n += got;
    }
    u->raw_done += n;
    if (u->raw_done > u->raw_len || (n < UP_RAW && u->raw_done != u->raw_len))
        return upload_fail(u, ews_status(u->e, OUTPOST_BAD_DATA, "the content changed while it was being sent "
                                         "(%llu bytes announced)", (unsigned long long)u->raw_len));
    u->enc_len = n ? (size_t)EVP_EncodeBlock(u->enc, u->raw, (int)n) : 0;
    u->enc_off = 0;
    if (!n)
        u->phase = 2;
    return 0;
}

static size_t upload_read(char *buf, size_t size, size_t nitems, void *ud)
{
    struct ews_upload *u = ud;
    size_t cap = size * nitems, out = 0;
    while (out < cap) {
        if (u->phase == 0 || u->phase == 2) {
            size_t end = u->phase == 0 ? u->split : u->len;
            size_t n = end - u->pos < cap - out ? end - u->pos : cap - out;
            memcpy(buf + out, u->body + u->pos, n);
            u->pos += n;
            out += n;
            if (u->pos < end)
                continue;
            if (u->phase == 2)
                break;
            u->phase = 1;
            u->raw_done = 0;
            u->enc_len = u->enc_off = 0;
            continue;
        }
        if (u->enc_off == u->enc_len) {
            if (upload_refill(u))
                return CURL_READFUNC_ABORT;
            continue;
        }
        size_t n = u->enc_len - u->enc_off < cap - out ? u->enc_len - u->enc_off : cap - out;
        memcpy(buf + out, u->enc + u->enc_off, n);
        u->enc_off += n;
        out += n;
    }
    return out;
}

/* Back to the start of the body (libcurl sends it again: a stale connection, authentication). */
static int upload_rewind(struct ews_upload *u)
{
    u->pos = 0;
    u->phase = 0;
    u->raw_done = 0;
    u->enc_len = u->enc_off = 0;
    u->failed = 0;
    if (u->rd->rewind) {
        outpost_status st = u->rd->rewind(u->rd->ctx);
        if (st.code != OUTPOST_OK)
            return upload_fail(u, st);
    }
    return 0;
}

static int upload_seek(void *ud, curl_off_t offset, int origin)
{
    struct ews_upload *u = ud;
    if (offset != 0 || origin != SEEK_SET)
        return CURL_SEEKFUNC_CANTSEEK;
    return upload_rewind(u) ? CURL_SEEKFUNC_FAIL : CURL_SEEKFUNC_OK;
}

/* The RequestServerVersion values of the EWS reference, oldest first. */
static const char *const version_names[] = {[EWS_V2007] = "Exchange2007", [EWS_V2007_SP1] = "Exchange2007_SP1",
                                            [EWS_V2010] = "Exchange2010", [EWS_V2010_SP1] = "Exchange2010_SP1",
                                            [EWS_V2010_SP2] = "Exchange2010_SP2", [EWS_V2013] = "Exchange2013",
                                            [EWS_V2013_SP1] = "Exchange2013_SP1"};

int ews_schema(const struct ews *e)
{
    for (int v = EWS_V2007; v < EWS_VLATER; v++)
        if (!strcmp(e->ver, version_names[v]))
            return v;
    return EWS_VLATER;
}

/* The reply `f` (rewound) is a SOAP fault refusing the RequestServerVersion sent: Exchange
 * answers a version it does not know with ErrorInvalidServerVersion, a server validating
 * the header against an older schema with ErrorSchemaValidation naming the attribute's type
 * or the value. Only faults are read (HTTP 200 replies are not parsed twice); *m gets it. */
static int version_refused(struct ews *e, FILE *f, struct ews_msg *m)
{
    if (e->last_http == 200)
        return 0;
    struct ews_reader *r = ews_reader_open(f);
    int rc = r ? ews_reader_next_msg(r, m) : 0;
    ews_reader_close(r);
    rewind(f);
    if (rc != -2)
        return 0;
    if (!strcmp(m->code, "ErrorInvalidServerVersion"))
        return 1;
    return !strcmp(m->code, "ErrorSchemaValidation") &&
           (strstr(m->text, "RequestServerVersion") || strstr(m->text, "ExchangeVersionType") || strstr(m->text, e->ver));
}

outpost_status ews_call_xml(struct ews *e, const char *op_xml, const struct ews_upload_src *up, FILE **reply,
                            const char *what)
{
    struct ews_upload *u = NULL;
    if (up && !(u = calloc(1, sizeof *u)))
        return ews_status(e, OUTPOST_FATAL, "%s: out of memory", what);
    for (;;) {
        struct ebuf req = {0};
        size_t at = envelope_at(e, &req, op_xml);
        if (req.oom) {
            eb_free(&req);
            free(u);
            return ews_status(e, OUTPOST_FATAL, "%s: out of memory", what);
        }
        outpost_status st;
        if (u) {
            u->e = e;
            u->body = req.p;
            u->len = req.len;
            u->split = at + up->split;
            u->rd = up->rd;
            u->raw_len = up->raw_len;
            e->upload = u;
            /* the length is known: libcurl sends it as Content-Length */
            st = ews_post(e, NULL, req.p, req.len + b64_len(up->raw_len), reply);
            e->upload = NULL;
        } else {
            st = ews_post(e, NULL, req.p, req.len, reply);
        }
        eb_free(&req);
        struct ews_msg m;
        int v = ews_schema(e);
        if (st.code != OUTPOST_OK || e->version_fixed || v <= EWS_V2007_SP1 || !version_refused(e, *reply, &m)) {
            free(u);
            return st;
        }
        /* the server does not speak this version: the next older one of the reference's list
         * (Exchange 2007 SP1 is the oldest asked for), kept for this instance; the requests
         * leave out what its schema lacks (ews_schema) */
        const char *older = version_names[v == EWS_VLATER ? EWS_V2013_SP1 : v - 1];
        e->host->log(e->host, OUTPOST_LOG_WARNING, "the server refused RequestServerVersion %s (%s%s%.200s); using %s "
                     "from now on (set server_version to choose one)", e->ver, m.code, m.text[0] ? ": " : "", m.text,
                     older);
        e->ver = older;
        fclose(*reply);
        *reply = NULL;
    }
}

outpost_status ews_call(struct ews *e, const struct ebuf *op, FILE **reply, const char *what)
{
    if (op->oom)
        return ews_status(e, OUTPOST_FATAL, "%s: out of memory", what);
    return ews_call_xml(e, eb_str(op), NULL, reply, what);
}

/* libcurl's progress callback (at least once a second while a transfer waits): a transfer
 * is abandoned when the host cancels (the daemon stops), so a server that stopped answering
 * does not hold up SIGTERM for the request timeout. An abandoned write is one whose reply was
 * lost, which replay already handles. */
static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    const struct ews *e = ctx;
    return e->host->cancelled && e->host->cancelled(e->host);
}

outpost_status ews_http_init(struct ews *e)
{
    CURL *c = curl_easy_init();
    if (!c)
        return ews_status(e, OUTPOST_FATAL, "cannot initialise libcurl");
    e->curl = c;
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, e);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, e->curl_err);
    curl_easy_setopt(c, CURLOPT_COOKIEFILE, "");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, EWS_CONNECT_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, e->timeout_s);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "Outpost-EWS/0.1");
    /* compressed replies (Exchange compresses EWS replies when asked): libcurl decodes them */
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    if (e->auth == EWS_AUTH_NTLM)
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1); /* NTLM authenticates the connection */
    if (e->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, e->ca_file);
    if (e->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return outpost_ok();
}

void ews_http_fini(struct ews *e)
{
    if (e->curl)
        curl_easy_cleanup(e->curl);
    e->curl = NULL;
}

static size_t write_cb(char *data, size_t size, size_t n, void *ctx)
{
    return ews_xmlfix_write(ctx, data, size * n) ? 0 : size * n;
}

struct hdrs {
    long retry_after;
    int chunked;       /* Transfer-Encoding: chunked */
};

/* Retry-After (RFC 9110): delay-seconds or an HTTP-date; -1 when neither. */
static long retry_after_s(const char *v, size_t len)
{
    char buf[80];
    while (len && (*v == ' ' || *v == '\t'))
        v++, len--;
    while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    if (!len || len >= sizeof buf)
        return -1;
    memcpy(buf, v, len);
    buf[len] = '\0';
    char *end;
    long s = strtol(buf, &end, 10);
    if (end != buf && !*end)
        return s >= 0 ? s : -1;
    time_t at = curl_getdate(buf, NULL);
    if (at == (time_t)-1)
        return -1;
    time_t now = time(NULL);
    return at > now ? (long)(at - now) : 0;
}

/* 1 when the reply that just arrived on `c` had no length of its own (HTTP/1.x, neither
 * Content-Length nor chunked): its end was the end of the connection. */
static int unframed(CURL *c, const struct hdrs *h)
{
    long ver = 0;
    curl_off_t cl = -1;
    if (h->chunked || curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) != CURLE_OK || cl >= 0)
        return 0;
    /* HTTP/2 and 3 end a reply with a frame of their own: a drop is a transfer error there */
    return curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &ver) != CURLE_OK || ver == CURL_HTTP_VERSION_1_0 ||
           ver == CURL_HTTP_VERSION_1_1;
}

static size_t header_cb(char *data, size_t size, size_t n, void *ctx)
{
    struct hdrs *h = ctx;
    size_t len = size * n;
    if (len > 5 && !strncmp(data, "HTTP/", 5))
        h->chunked = 0; /* a new response (after a 100 or a 401): its own headers only */
    else if (len > 12 && !strncasecmp(data, "Retry-After:", 12))
        h->retry_after = retry_after_s(data + 12, len - 12);
    else if (len > 18 && !strncasecmp(data, "Transfer-Encoding:", 18))
        for (size_t i = 18; i + 7 <= len; i++)
            if (!strncasecmp(data + i, "chunked", 7))
                h->chunked = 1;
    return len;
}

static outpost_status token_refresh(struct ews *e)
{
    if (e->token)
        e->host->free(e->token);
    e->token = NULL;
    return e->host->secret(e->host, "token", &e->token);
}

/* Sets the credentials of the configured scheme on the handle. */
static void set_auth(struct ews *e, struct curl_slist **hl)
{
    CURL *c = e->curl;
    switch (e->auth) {
    case EWS_AUTH_BEARER: {
        struct ebuf h = {0};
        eb_printf(&h, "Authorization: Bearer %s", e->token ? e->token : "");
        *hl = curl_slist_append(*hl, eb_str(&h));
        eb_free(&h);
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_NONE);
        break;
    }
    case EWS_AUTH_NEGOTIATE:
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_NEGOTIATE);
        curl_easy_setopt(c, CURLOPT_USERPWD, ":");
        break;
    default:
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)(e->auth == EWS_AUTH_NTLM ? CURLAUTH_NTLM : CURLAUTH_BASIC));
        curl_easy_setopt(c, CURLOPT_USERNAME, e->user ? e->user : "");
        curl_easy_setopt(c, CURLOPT_PASSWORD, e->password ? e->password : "");
        break;
    }
}

/* Peeks at an error reply: a SOAP envelope (a fault) is parsed by the caller. */
static int looks_like_xml(FILE *f)
{
    char head[1024];
    size_t n = fread(head, 1, sizeof head - 1, f);
    rewind(f);
    head[n] = '\0';
    return strstr(head, "Envelope") != NULL;
}

_Static_assert(sizeof ((struct ews *)0)->curl_err >= CURL_ERROR_SIZE, "curl_err holds CURL_ERROR_SIZE bytes");

/* OpenSSL's words, in libcurl's error text, for a first reply that is no TLS record at all:
 * the server speaks something else on that port (plain HTTP most often). */
static int not_tls(const char *why)
{
    return strstr(why, "wrong version number") || strstr(why, "packet length too long");
}

/* The status of a failed transfer to `url`. Certificate checks that failed (unknown CA,
 * self-signed, wrong host name, issuer, pinned key, an unreadable ca_file) fail again: FATAL,
 * in libcurl's words, naming ca_file. So does a server that does not answer the handshake in
 * TLS at all. A handshake broken off (a reset, an EOF) and the rest are network failures. */
static outpost_status transfer_failed(struct ews *e, const char *url, CURLcode cc)
{
    const char *why = e->curl_err[0] ? e->curl_err : curl_easy_strerror(cc);
    if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_SSL_CERTPROBLEM ||
        cc == CURLE_SSL_ISSUER_ERROR || cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH)
        return ews_status(e, OUTPOST_FATAL, "TLS verification of %s failed: %s; set ca_file to the CA that signed "
                          "the server's certificate", url, why);
    if (cc == CURLE_SSL_CONNECT_ERROR && not_tls(why))
        return ews_status(e, OUTPOST_FATAL, "%s does not answer in TLS (%s): check the scheme and port of url "
                          "(an https:// URL on a plain HTTP port?)", url, why);
    if (cc == CURLE_OUT_OF_MEMORY)
        return ews_status(e, OUTPOST_FATAL, "out of memory talking to %s", url);
    return ews_status(e, OUTPOST_TEMP, "cannot reach %s: %s", url, why);
}

/* One POST. With `location`, a redirect (301, 302, 303, 307, 308) is OK with no reply and
 * *location the absolute URL it names (malloc'd); without, it is an error like any other
 * status but 200. */
static outpost_status post_once(struct ews *e, const char *url, const char *body, size_t len, FILE **reply,
                                long *http, char **location, int ews_req)
{
    *reply = NULL;
    FILE *f = ews_spool_open(EWS_SPOOL_MEM);
    if (!f)
        return ews_status(e, OUTPOST_FATAL, "out of memory for the server's reply");
    CURL *c = e->curl;
    struct curl_slist *hl = NULL;
    hl = curl_slist_append(hl, "Content-Type: text/xml; charset=utf-8");
    hl = curl_slist_append(hl, "Accept: text/xml");
    hl = curl_slist_append(hl, "Expect:");
    if (ews_req && e->action[0]) {
        struct ebuf h = {0};
        eb_printf(&h, "SOAPAction: \"%s/%s\"", EWS_NS_M, e->action);
        hl = curl_slist_append(hl, eb_str(&h));
        eb_free(&h);
    }
    if (e->email && e->auth == EWS_AUTH_BEARER) {
        struct ebuf h = {0};
        eb_printf(&h, "X-AnchorMailbox: %s", e->email);
        hl = curl_slist_append(hl, eb_str(&h));
        eb_free(&h);
    }
    set_auth(e, &hl);
    struct hdrs hd = {-1, 0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    struct ews_upload *up = ews_req ? e->upload : NULL;
    if (up) {
        /* the body comes from upload_read (len is its whole length); from its start each time */
        if (upload_rewind(up)) {
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
            curl_slist_free_all(hl);
            fclose(f);
            return up->err;
        }
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, upload_read);
        curl_easy_setopt(c, CURLOPT_READDATA, up);
        curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, upload_seek);
        curl_easy_setopt(c, CURLOPT_SEEKDATA, up);
    } else {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    struct ews_xmlfix fix;
    ews_xmlfix_init(&fix, f);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &fix);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hd);
    e->curl_err[0] = '\0';
    CURLcode cc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hl);
    if (up) {
        curl_easy_setopt(c, CURLOPT_READFUNCTION, NULL);
        curl_easy_setopt(c, CURLOPT_READDATA, NULL);
        curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, NULL);
        curl_easy_setopt(c, CURLOPT_SEEKDATA, NULL);
        if (cc != CURLE_OK && up->failed) {
            fclose(f);
            return up->err; /* the content could not be read */
        }
    }
    *http = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, http);
    e->last_http = *http;
    if (cc == CURLE_OK && ews_xmlfix_end(&fix))
        cc = CURLE_WRITE_ERROR;
    if (cc != CURLE_OK) {
        fclose(f);
        if (cc == CURLE_ABORTED_BY_CALLBACK)
            return ews_status(e, OUTPOST_TEMP, "cancelled");
        if (cc == CURLE_WRITE_ERROR && fix.err)
            return ews_status(e, OUTPOST_TEMP, "the reply of %s could not be kept (out of memory, or the temporary "
                              "file past %u MiB could not be written: disk full?)", url, EWS_SPOOL_MEM >> 20);
        return transfer_failed(e, url, cc);
    }
    if (fix.fixed)
        e->host->log(e->host, OUTPOST_LOG_NOTICE, "the reply of %s held %llu character(s) that XML does not allow "
                     "(control characters of an item's text); each was replaced by U+FFFD", url,
                     (unsigned long long)fix.fixed);
    fflush(f);
    rewind(f);
    int soap = *http == 200 || ((*http == 500 || *http == 400 || *http == 503) && looks_like_xml(f));
    if (soap && unframed(c, &hd)) {
        /* The end of the connection was the end of the reply: a connection cut in the middle
         * looks just the same, so a reply that is not a whole XML document is taken for one
         * (TEMP: the request is made again), never for a malformed reply. */
        int whole = ews_xml_complete(f);
        if (whole <= 0) {
            fclose(f);
            if (whole < 0)
                return ews_status(e, OUTPOST_FATAL, "out of memory reading the reply of %s", url);
            return ews_status(e, OUTPOST_TEMP, "the connection to %s ended before the reply did (HTTP %ld without "
                              "a length, not a whole XML document)", url, *http);
        }
    }
    if (*http == 200) {
        *reply = f;
        return outpost_ok();
    }
    int redirect = *http == 301 || *http == 302 || *http == 303 || *http == 307 || *http == 308;
    const char *to = NULL;
    if (redirect && location && curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &to) == CURLE_OK && to) {
        fclose(f);
        if (!(*location = strdup(to)))
            return ews_status(e, OUTPOST_FATAL, "out of memory");
        return outpost_ok();
    }
    if (*http == 401 || *http == 403) {
        fclose(f);
        return ews_status(e, OUTPOST_AUTH, "the server refused the credentials (HTTP %ld) for %s", *http,
                          e->user ? e->user : e->email ? e->email : "the account");
    }
    /* Exchange sends SOAP faults with HTTP 500 (ErrorServerBusy with its back-off among
     * them); a 400 or 503 carrying one is read the same way */
    if (soap) {
        *reply = f; /* a SOAP fault: the caller's parser maps its code */
        return outpost_ok();
    }
    fclose(f);
    if (redirect) {
        /* EWS itself is not redirected (only autodiscover is): a login page or a wrong url */
        if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &to) != CURLE_OK || !to)
            to = "?";
        return ews_status(e, OUTPOST_BAD_DATA, "the server answered HTTP %ld, a redirect to %.200s; set url to the "
                          "EWS endpoint", *http, to);
    }
    /* 503 (or 429) with Retry-After: the server asks us to wait that long (Exchange answers 503
     * when its request queue is full), which is what THROTTLED means; without one it is an
     * outage of unknown length */
    int wait = (*http == 503 || *http == 429) && hd.retry_after >= 0;
    /* 408: the server (or a proxy) gave up waiting for the request: a network matter */
    outpost_status st = ews_status(e, wait ? OUTPOST_THROTTLED : *http >= 500 || *http == 429 || *http == 408
                                   ? OUTPOST_TEMP : OUTPOST_BAD_DATA, "the server answered HTTP %ld%s", *http,
                                   wait ? " (busy: retry later)" : "");
    if (hd.retry_after > 0)
        st.retry_after_ms = (uint32_t)(hd.retry_after > 3600 ? 3600000 : hd.retry_after * 1000);
    else if (wait)
        st.retry_after_ms = 1000; /* "Retry-After: 0" */
    return st;
}

outpost_status ews_post_redirect(struct ews *e, const char *url, const char *body, size_t len, FILE **reply,
                                 char **location)
{
    int soap = !url; /* an EWS request (autodiscover POSTs its own documents to URLs of its own) */
    if (!url)
        url = e->url;
    if (!url)
        return ews_status(e, OUTPOST_FATAL, "no EWS URL: set url, or email for autodiscover");
    if (e->host->cancelled && e->host->cancelled(e->host))
        return ews_status(e, OUTPOST_TEMP, "cancelled");
    long http;
    outpost_status st = post_once(e, url, body, len, reply, &http, location, soap);
    if (st.code == OUTPOST_AUTH && e->auth == EWS_AUTH_BEARER && http == 401) {
        /* the token may have expired: ask token_cmd once more */
        outpost_status ts = token_refresh(e);
        if (ts.code != OUTPOST_OK)
            return ts;
        st = post_once(e, url, body, len, reply, &http, location, soap);
    }
    return st;
}

int ews_busy_wait(struct ews *e, const outpost_status *st, int *tries, const char *what)
{
    if (st->code != OUTPOST_THROTTLED || !e->busy_wait_ms || *tries >= EWS_BUSY_RETRIES ||
        st->retry_after_ms > e->busy_wait_ms)
        return 0;
    uint32_t ms = st->retry_after_ms ? st->retry_after_ms : 1000;
    (*tries)++;
    e->host->log(e->host, OUTPOST_LOG_NOTICE, "%s: the server is busy (%s); retrying in %u ms (%d of %d)", what,
                 st->message ? st->message : "throttled", ms, *tries, EWS_BUSY_RETRIES);
    int64_t until = e->host->monotonic_ms(e->host) + ms;
    for (;;) {
        if (e->host->cancelled && e->host->cancelled(e->host))
            return 0;
        int64_t left = until - e->host->monotonic_ms(e->host);
        if (left <= 0)
            return 1;
        if (left > 100)
            left = 100; /* the host may cancel meanwhile */
        struct timespec ts = {0, (long)left * 1000000L};
        nanosleep(&ts, NULL);
    }
}

outpost_status ews_request(struct ews *e, const struct ebuf *op, ews_parse_fn parse, void *ctx, const char *what)
{
    for (int tries = 0;;) {
        FILE *f = NULL;
        outpost_status st = ews_call(e, op, &f, what);
        if (st.code == OUTPOST_OK) {
            st = parse(e, f, ctx);
            fclose(f);
        }
        if (!ews_busy_wait(e, &st, &tries, what))
            return st;
    }
}

outpost_status ews_post(struct ews *e, const char *url, const char *body, size_t len, FILE **reply)
{
    return ews_post_redirect(e, url, body, len, reply, NULL);
}
