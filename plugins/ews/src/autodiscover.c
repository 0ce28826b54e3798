/* POX autodiscover for the EWS transport (MS-OXDSCLI; Microsoft's "Autodiscover for
 * Exchange"): finds the EWS URL of an e-mail address when `url` is not configured.
 *
 * Order, for the address's domain D (or only `autodiscover_url` when it is set):
 *   1. POST https://D/autodiscover/autodiscover.xml
 *   2. POST https://autodiscover.D/autodiscover/autodiscover.xml
 *   3. unauthenticated GET http://autodiscover.D/autodiscover/autodiscover.xml; a 301/302
 *      to an https URL is POSTed to (never anything else over plain HTTP)
 *   4. DNS SRV _autodiscover._tcp.D; the best record's https://target[:port]/... is POSTed to
 * Each POST follows HTTP redirects and RedirectUrl to https URLs only, at most AD_HOPS of
 * them, never to a URL already asked for this address; RedirectAddr starts over with the new
 * address. Every request is bounded in time (see ews_autodiscover). When everything fails,
 * the status names each attempt and why it failed. */
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

#include <curl/curl.h>
#include <libxml/xmlreader.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ews.h"

#define AD_HOPS 5          /* redirects followed from one URL; also RedirectAddr hops */
#define AD_URL_MAX 512
#define AD_SEEN_MAX 24     /* URLs asked for one address */
#define AD_NOTES_MAX 880   /* the failure message fits the 1 KiB the engine keeps of it */
#define AD_CONNECT_S 10L   /* connect (with name resolution) per request, at most */
#define AD_REQUEST_S 30L   /* one whole request, at most */
#define AD_DNS_WAIT_S 2    /* SRV lookup: seconds per DNS server and try, at most */
#define AD_DNS_TRIES 2     /* SRV lookup: tries, at most */

struct ad_result {
    char *ews_url, *redirect_addr, *redirect_url;
    int error;
    char code[16], msg[200]; /* an Error element's ErrorCode and Message */
};

/* Candidate EWS URLs of a POX autodiscover response, best first: EwsUrl of the external
 * (EXPR), internal (EXCH), then any other Protocol section (EXHTTP, ...), then the same order
 * for ASUrl (the availability service, on the same Exchange.asmx). */
enum { AD_EXPR, AD_EXCH, AD_OTHER, AD_NPROTO };

static void ad_parse(FILE *f, struct ad_result *res)
{
    xmlTextReaderPtr r = xmlReaderForIO(ews_file_read, ews_file_close, f, "autodiscover.xml", NULL,
                                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!r) {
        res->error = 1;
        return;
    }
    /* Protocol sections nest (WEB holds Internal/External Protocol sections); each has its
     * type as a Type child element or, in newer responses, a Type attribute */
    char type[8][16];
    int pdepth[8], np = 0;
    char *url[2][AD_NPROTO] = {{0}};
    int rc;
    while ((rc = xmlTextReaderRead(r)) == 1) {
        int t = xmlTextReaderNodeType(r), d = xmlTextReaderDepth(r);
        if (t == XML_READER_TYPE_END_ELEMENT && np && pdepth[np - 1] == d)
            np--;
        if (t != XML_READER_TYPE_ELEMENT)
            continue;
        const char *ln = (const char *)xmlTextReaderConstLocalName(r);
        if (!strcmp(ln, "Error"))
            res->error = 1;
        if (!strcmp(ln, "Protocol") && !xmlTextReaderIsEmptyElement(r) && np < 8) {
            xmlChar *a = xmlTextReaderGetAttribute(r, (const xmlChar *)"Type");
            snprintf(type[np], sizeof type[np], "%s", a ? (const char *)a : "");
            xmlFree(a);
            pdepth[np++] = d;
            continue;
        }
        if (res->error && (!strcmp(ln, "ErrorCode") || !strcmp(ln, "Message"))) {
            /* the server's reason, e.g. 500 "The e-mail address cannot be found." */
            xmlChar *v = xmlTextReaderReadString(r);
            const char *s = v ? (const char *)v : "";
            s += strspn(s, " \t\r\n");
            int n = (int)strcspn(s, "\r\n");
            if (ln[0] == 'E')
                snprintf(res->code, sizeof res->code, "%.*s", n, s);
            else
                snprintf(res->msg, sizeof res->msg, "%.*s", n, s);
            xmlFree(v);
            continue;
        }
        int want = !strcmp(ln, "Type") || !strcmp(ln, "EwsUrl") || !strcmp(ln, "ASUrl") ||
                   !strcmp(ln, "RedirectAddr") || !strcmp(ln, "RedirectUrl");
        if (!want)
            continue;
        char name[16];
        snprintf(name, sizeof name, "%s", ln);
        xmlChar *v = xmlTextReaderReadString(r);
        const char *s = v ? (const char *)v : "";
        while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
            s++;
        if (!strcmp(name, "Type")) {
            if (np)
                snprintf(type[np - 1], sizeof type[0], "%.*s", (int)strcspn(s, " \t\r\n"), s);
        } else if (!strcmp(name, "EwsUrl") || !strcmp(name, "ASUrl")) {
            const char *ty = np ? type[np - 1] : "";
            char **slot = &url[name[0] == 'A'][!strcmp(ty, "EXPR") ? AD_EXPR : !strcmp(ty, "EXCH") ? AD_EXCH : AD_OTHER];
            if (!*slot)
                *slot = strndup(s, strcspn(s, " \t\r\n"));
        } else if (!strcmp(name, "RedirectAddr")) {
            free(res->redirect_addr);
            res->redirect_addr = strndup(s, strcspn(s, " \t\r\n"));
        } else {
            free(res->redirect_url);
            res->redirect_url = strndup(s, strcspn(s, " \t\r\n"));
        }
        xmlFree(v);
    }
    if (rc != 0)
        res->error = 1;
    for (int k = 0; k < 2 * AD_NPROTO; k++) {
        char **slot = &url[k / AD_NPROTO][k % AD_NPROTO];
        if (*slot && !res->ews_url && !strncmp(*slot, "https://", 8))
            res->ews_url = *slot;
        else
            free(*slot);
    }
    xmlFreeTextReader(r);
}

static void ad_result_free(struct ad_result *res)
{
    free(res->ews_url);
    free(res->redirect_addr);
    free(res->redirect_url);
    memset(res, 0, sizeof *res);
}

/* One autodiscover run. */
struct ad {
    struct ews *e;
    char *addr;                    /* the address asked for (malloc'd) */
    char *next_addr;               /* a RedirectAddr to start over with (malloc'd), or NULL */
    struct ebuf req;               /* the request for addr */
    char seen[AD_SEEN_MAX][AD_URL_MAX]; /* URLs asked for addr: never asked twice */
    int nseen;
    struct ebuf notes;             /* what each attempt gave, "; " between them */
    int code;                      /* class of the most telling failure so far (0: none) */
    long request_s, connect_s;
};

/* Which failure decides the class of the whole run: refused credentials first (the user
 * must act), then a definite answer (an Error response, an untrusted certificate), then
 * malformed replies, then transient ones (the network: retried later). */
static int ad_rank(int code)
{
    switch (code) {
    case OUTPOST_AUTH: return 5;
    case OUTPOST_FATAL: return 4;
    case OUTPOST_BAD_DATA: return 3;
    case OUTPOST_THROTTLED: return 2;
    case OUTPOST_TEMP: return 1;
    default: return 0;
    }
}

/* Records one attempt's outcome: logged now, named in the failure message. `code` is its
 * status class, 0 for an outcome that says nothing about the account (no SRV record, a
 * GET that is not redirected). */
static void ad_note(struct ad *a, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void ad_note(struct ad *a, int code, const char *fmt, ...)
{
    char line[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    a->e->host->log(a->e->host, OUTPOST_LOG_INFO, "autodiscover: %s", line);
    if (ad_rank(code) > ad_rank(a->code))
        a->code = code;
    if (a->notes.len >= AD_NOTES_MAX)
        return;
    if (a->notes.len)
        eb_puts(&a->notes, "; ");
    if (a->notes.len + strlen(line) > AD_NOTES_MAX)
        eb_printf(&a->notes, "%.*s...", (int)(AD_NOTES_MAX - a->notes.len), line);
    else
        eb_puts(&a->notes, line);
}

static int ad_seen(struct ad *a, const char *url)
{
    for (int i = 0; i < a->nseen; i++)
        if (!strcasecmp(a->seen[i], url))
            return 1;
    return 0;
}

/* Starts asking for `addr` (taken over): a new request and no URL asked yet. */
static void ad_set_addr(struct ad *a, char *addr)
{
    free(a->addr);
    a->addr = addr;
    a->nseen = 0;
    eb_reset(&a->req);
    eb_puts(&a->req, "<?xml version=\"1.0\" encoding=\"utf-8\"?><Autodiscover xmlns=\""
                     "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\"><Request>");
    eb_elem(&a->req, "EMailAddress", addr);
    eb_puts(&a->req, "<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/"
                     "responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>");
}

/* The host part of an https URL, for the log. */
static void url_host(const char *url, char *out, size_t cap)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    snprintf(out, cap, "%.*s", (int)strcspn(h, "/?#"), h);
}

/* POSTs the request to `start` with the credentials and follows what it answers: an HTTP
 * redirect or RedirectUrl to an https URL not asked yet (at most AD_HOPS), a RedirectAddr
 * (a->next_addr). `via` says how a URL that no configuration or domain name vouches for
 * was found (it is logged with the host that gets the credentials), NULL otherwise.
 * 1: e->url is set. 0: noted why not. */
static int ad_try(struct ad *a, const char *start, const char *via)
{
    struct ews *e = a->e;
    char url[AD_URL_MAX], host[AD_URL_MAX];
    snprintf(url, sizeof url, "%s", start);
    for (int hop = 0; hop <= AD_HOPS; hop++) {
        const char *from = hop ? start : "";
        const char *arrow = hop ? " -> " : "";
        if (ad_seen(a, url)) {
            ad_note(a, hop ? OUTPOST_FATAL : 0, "%s%s%s: %s", from, arrow, url,
                    hop ? "asked before for this address: not followed (a redirect loop)" : "asked before: skipped");
            return 0;
        }
        if (a->nseen < AD_SEEN_MAX)
            snprintf(a->seen[a->nseen++], AD_URL_MAX, "%s", url);
        url_host(url, host, sizeof host);
        if (via)
            e->host->log(e->host, OUTPOST_LOG_WARNING, "autodiscover: sending the credentials of %s to %s, "
                         "found through %s: only its TLS certificate vouches for that host (set url or "
                         "autodiscover_url to pin the server)", e->user ? e->user : a->addr, host, via);
        else
            e->host->log(e->host, OUTPOST_LOG_INFO, "autodiscover: asking %s for %s", url, a->addr);
        FILE *f = NULL;
        char *loc = NULL;
        outpost_status st = ews_post_redirect(e, url, eb_str(&a->req), a->req.len, &f, &loc);
        if (st.code != OUTPOST_OK) {
            /* the transport's messages mostly name the URL already */
            const char *m = st.message ? st.message : "failed";
            if (strstr(m, url))
                ad_note(a, st.code, "%s%s%s", from, arrow, m);
            else
                ad_note(a, st.code, "%s%s%s: %s", from, arrow, url, m);
            return 0;
        }
        if (loc) {
            /* MS-OXDSCLI 3.1.5.2: the same request again at the Location, which must be https
             * (the credentials never go out unencrypted) */
            int ok = !strncmp(loc, "https://", 8) && strlen(loc) < sizeof url;
            if (!ok)
                ad_note(a, OUTPOST_FATAL, "%s%s%s: redirects to %.200s, not an https URL: not followed", from,
                        arrow, url, loc);
            else
                snprintf(url, sizeof url, "%s", loc);
            free(loc);
            if (!ok)
                return 0;
            continue;
        }
        struct ad_result res = {0};
        ad_parse(f, &res);
        fclose(f);
        if (res.ews_url) {
            free(e->url);
            e->url = res.ews_url;
            res.ews_url = NULL;
            ad_result_free(&res);
            e->host->log(e->host, OUTPOST_LOG_INFO, "autodiscover: EWS URL %s", e->url);
            return 1;
        }
        if (res.redirect_url && !strncmp(res.redirect_url, "https://", 8) && strlen(res.redirect_url) < sizeof url) {
            snprintf(url, sizeof url, "%s", res.redirect_url);
            ad_result_free(&res);
            continue;
        }
        if (res.redirect_addr && strchr(res.redirect_addr, '@') && strcasecmp(res.redirect_addr, a->addr) != 0) {
            ad_note(a, 0, "%s%s%s: redirects %s to %s", from, arrow, url, a->addr, res.redirect_addr);
            free(a->next_addr);
            a->next_addr = res.redirect_addr;
            res.redirect_addr = NULL;
            ad_result_free(&res);
            return 0;
        }
        if (res.code[0] || res.msg[0])
            ad_note(a, OUTPOST_FATAL, "%s%s%s refused %s: error %s%s%s%s", from, arrow, url, a->addr,
                    res.code[0] ? res.code : "?", res.msg[0] ? " (" : "", res.msg, res.msg[0] ? ")" : "");
        else if (res.redirect_url)
            ad_note(a, OUTPOST_FATAL, "%s%s%s: RedirectUrl %.200s is not an https URL: not followed", from, arrow,
                    url, res.redirect_url);
        else if (res.redirect_addr)
            ad_note(a, OUTPOST_FATAL, "%s%s%s: RedirectAddr %.200s is not a new address: not followed", from, arrow,
                    url, res.redirect_addr);
        else
            ad_note(a, OUTPOST_FATAL, "%s%s%s found no EWS URL for %s", from, arrow, url, a->addr);
        ad_result_free(&res);
        return 0;
    }
    ad_note(a, OUTPOST_FATAL, "%s: more than %d redirects: not followed", start, AD_HOPS);
    return 0;
}

/* Reads nothing of a body: only the status line and Location of a GET matter. Stops a
 * server that sends more than a page. */
static size_t ad_discard(char *data, size_t size, size_t n, void *ctx)
{
    (void)data;
    size_t *total = ctx;
    *total += size * n;
    return *total > 65536 ? 0 : size * n;
}

/* Microsoft's "unauthenticated GET": http://autodiscover.DOMAIN/autodiscover/autodiscover.xml
 * on its own libcurl handle, which has no credentials, cookies or TLS to share. 1 with the
 * https URL of its 301/302 in `out`; 0 (noted) otherwise. */
static int ad_get_redirect(struct ad *a, const char *domain, char *out, size_t cap)
{
    char url[AD_URL_MAX];
    snprintf(url, sizeof url, "http://autodiscover.%s/autodiscover/autodiscover.xml", domain);
    CURL *c = curl_easy_init();
    if (!c) {
        ad_note(a, OUTPOST_FATAL, "GET %s: cannot initialise libcurl", url);
        return 0;
    }
    size_t got = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, a->connect_s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, a->request_s);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "Outpost-EWS/0.1");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ad_discard);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &got);
    CURLcode cc = curl_easy_perform(c);
    long http = 0;
    char *to = NULL;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
    curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &to);
    int found = 0;
    if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && http))
        ad_note(a, 0, "GET %s: %s", url, curl_easy_strerror(cc));
    else if ((http != 301 && http != 302) || !to)
        ad_note(a, 0, "GET %s: HTTP %ld, not a redirect", url, http);
    else if (strncmp(to, "https://", 8) != 0)
        ad_note(a, OUTPOST_FATAL, "GET %s: redirects to %.200s, not an https URL: not followed", url, to);
    else if (strlen(to) >= cap)
        ad_note(a, OUTPOST_FATAL, "GET %s: redirects to a URL too long to follow", url);
    else {
        snprintf(out, cap, "%s", to);
        found = 1;
    }
    curl_easy_cleanup(c);
    return found;
}

/* A host name as DNS gives it may carry anything; only a plain one goes into a URL. */
static int plain_host(const char *h)
{
    size_t n = strlen(h);
    return n > 0 && n < 254 && strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") == n &&
           h[0] != '.' && h[0] != '-';
}

/* DNS SRV _autodiscover._tcp.DOMAIN through the system resolver (libresolv, the servers of
 * /etc/resolv.conf, at most AD_DNS_WAIT_S x AD_DNS_TRIES per server). The record with the lowest
 * priority, then the highest weight, gives https://target[:port]/autodiscover/autodiscover.xml
 * in `out` (1); 0 (noted) when there is none. Records on port 80 (plain HTTP) are not used. */
static int ad_srv(struct ad *a, const char *domain, char *out, size_t cap)
{
    char name[NS_MAXDNAME];
    snprintf(name, sizeof name, "_autodiscover._tcp.%s", domain);
    struct __res_state rs;
    memset(&rs, 0, sizeof rs);
    if (res_ninit(&rs) != 0) {
        ad_note(a, 0, "SRV %s: cannot initialise the DNS resolver", name);
        return 0;
    }
    /* resolv.conf's timeout and attempts, but no more than ours */
    if (rs.retrans <= 0 || rs.retrans > AD_DNS_WAIT_S)
        rs.retrans = AD_DNS_WAIT_S;
    if (rs.retry <= 0 || rs.retry > AD_DNS_TRIES)
        rs.retry = AD_DNS_TRIES;
    unsigned char *ans = malloc(NS_MAXMSG);
    int n = ans ? res_nquery(&rs, name, ns_c_in, ns_t_srv, ans, NS_MAXMSG) : -1;
    int found = 0;
    ns_msg msg;
    if (!ans)
        ad_note(a, OUTPOST_FATAL, "SRV %s: out of memory", name);
    else if (n < 0)
        ad_note(a, 0, "SRV %s: %s", name,
                rs.res_h_errno == HOST_NOT_FOUND ? "no such name"
                : rs.res_h_errno == NO_DATA      ? "no SRV record"
                : rs.res_h_errno == TRY_AGAIN    ? "no answer from the DNS server (timeout or server failure)"
                                                 : "the DNS lookup failed");
    else if (ns_initparse(ans, n > NS_MAXMSG ? NS_MAXMSG : n, &msg) < 0)
        ad_note(a, 0, "SRV %s: the DNS answer is malformed", name);
    else {
        long best_prio = -1, best_weight = -1;
        unsigned best_port = 0;
        char best[NS_MAXDNAME] = "", target[NS_MAXDNAME];
        int unusable = 0;
        for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
            ns_rr rr;
            if (ns_parserr(&msg, ns_s_an, i, &rr) < 0 || ns_rr_type(rr) != ns_t_srv || ns_rr_rdlen(rr) < 7)
                continue; /* e.g. the CNAME the name led through */
            const unsigned char *rd = ns_rr_rdata(rr);
            long prio = ns_get16(rd), weight = ns_get16(rd + 2);
            unsigned port = ns_get16(rd + 4);
            if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), rd + 6, target, sizeof target) < 0 ||
                !plain_host(target) || port == 0 || port == 80) {
                unusable++; /* "." (no such service), a name no URL can hold, plain HTTP */
                continue;
            }
            if (best_prio < 0 || prio < best_prio || (prio == best_prio && weight > best_weight)) {
                best_prio = prio;
                best_weight = weight;
                best_port = port;
                snprintf(best, sizeof best, "%s", target);
            }
        }
        if (!best[0])
            ad_note(a, 0, "SRV %s: %s", name, unusable ? "no usable record (target \".\", port 80 or not a host name)"
                                                         : "no SRV record");
        else {
            char port[16] = "";
            if (best_port != 443)
                snprintf(port, sizeof port, ":%u", best_port);
            if ((size_t)snprintf(out, cap, "https://%s%s/autodiscover/autodiscover.xml", best, port) < cap)
                found = 1;
            else
                ad_note(a, 0, "SRV %s: the target's name is too long for a URL", name);
        }
    }
    free(ans);
    res_nclose(&rs);
    return found;
}

/* Asks every method for a->addr in Microsoft's order; 1 when e->url is set, 0 when not
 * (a->next_addr may say the address to start over with), -1 when cancelled. */
static int ad_methods(struct ad *a)
{
    struct ews *e = a->e;
    const char *at = strchr(a->addr, '@');
    const char *domain = at ? at + 1 : "";
    char url[AD_URL_MAX];
    if (e->autodiscover_url)
        return ad_try(a, e->autodiscover_url, NULL);
    if (!*domain || domain[strcspn(domain, "/?#@:\\ \t")]) {
        ad_note(a, OUTPOST_FATAL, "%s has no domain to ask", a->addr);
        return 0;
    }
    static const char *const forms[] = {"https://%s/autodiscover/autodiscover.xml",
                                        "https://autodiscover.%s/autodiscover/autodiscover.xml"};
    for (int i = 0; i < 2; i++) {
        if (e->host->cancelled && e->host->cancelled(e->host))
            return -1;
        snprintf(url, sizeof url, forms[i], domain);
        if (ad_try(a, url, NULL) || a->next_addr)
            return !a->next_addr;
    }
    if (e->insecure) {
        /* a server found through plain HTTP or DNS gets the credentials only when its
         * certificate is verified (Microsoft's "Handling redirect errors") */
        ad_note(a, 0, "HTTP redirect and DNS SRV methods not used: insecure = true turns off the certificate "
                      "check they rely on");
        return 0;
    }
    if (e->host->cancelled && e->host->cancelled(e->host))
        return -1;
    if (ad_get_redirect(a, domain, url, sizeof url) && (ad_try(a, url, "an unauthenticated HTTP redirect") || a->next_addr))
        return !a->next_addr;
    if (e->host->cancelled && e->host->cancelled(e->host))
        return -1;
    if (ad_srv(a, domain, url, sizeof url) && (ad_try(a, url, "a DNS SRV record") || a->next_addr))
        return !a->next_addr;
    return 0;
}

outpost_status ews_autodiscover(struct ews *e)
{
    if (!e->email || !strchr(e->email, '@'))
        return ews_status(e, OUTPOST_FATAL, "autodiscover: no e-mail address configured (set email or url)");
    struct ad *a = calloc(1, sizeof *a);
    char *addr = strdup(e->email);
    if (!a || !addr) {
        free(a);
        free(addr);
        return ews_status(e, OUTPOST_FATAL, "out of memory");
    }
    a->e = e;
    a->request_s = e->timeout_s < AD_REQUEST_S ? e->timeout_s : AD_REQUEST_S;
    a->connect_s = e->timeout_s < AD_CONNECT_S ? e->timeout_s : AD_CONNECT_S;
    ad_set_addr(a, addr);
    /* a silent server must not hold `open` for the full `timeout` of EWS requests */
    curl_easy_setopt(e->curl, CURLOPT_TIMEOUT, a->request_s);
    curl_easy_setopt(e->curl, CURLOPT_CONNECTTIMEOUT, a->connect_s);
    int rc = ad_methods(a);
    for (int hop = 0; rc == 0 && a->next_addr && hop < AD_HOPS; hop++) {
        ad_set_addr(a, a->next_addr);
        a->next_addr = NULL;
        rc = ad_methods(a);
    }
    curl_easy_setopt(e->curl, CURLOPT_TIMEOUT, 0L);
    curl_easy_setopt(e->curl, CURLOPT_CONNECTTIMEOUT, EWS_CONNECT_TIMEOUT_S);
    outpost_status st;
    if (rc > 0)
        st = outpost_ok();
    else if (rc < 0)
        st = ews_status(e, OUTPOST_TEMP, "cancelled");
    else if (a->req.oom || a->notes.oom)
        st = ews_status(e, OUTPOST_FATAL, "autodiscover: out of memory");
    else
        st = ews_status(e, a->code ? a->code : OUTPOST_FATAL, "autodiscover found no EWS URL for %s: %s%s. Set url "
                        "(the EWS endpoint) or autodiscover_url", e->email, eb_str(&a->notes),
                        a->next_addr ? "; too many address redirects" : "");
    free(a->addr);
    free(a->next_addr);
    eb_free(&a->req);
    eb_free(&a->notes);
    free(a);
    return st;
}
