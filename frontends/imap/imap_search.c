/* imap_search.c — SEARCH / UID SEARCH (RFC 3501 6.4.4 keys plus MODSEQ,
 * RFC 7162). Metadata keys are evaluated on copies of the item summaries
 * taken in short read transactions; BODY and TEXT use the storage's
 * full-text index when it has one (OUTPOST_STORAGE_CAP_FTS), else a
 * streaming, case-insensitive scan of the cached content. Strings the
 * front-end compares itself (summary fields, header fields, content) match
 * as imap_text.h says: ASCII case ignored, and for other text the
 * i;unicode-casemap comparator (RFC 5051). With an index of
 * every header field (OUTPOST_STORAGE_CAP_FTS_ALL_HEADERS) a TEXT key is
 * answered by the index alone, without reading summaries or content.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

#include "imap_internal.h"
#include "imap_mime.h"
#include "imap_text.h"

struct sitem {
    size_t ix;
    int64_t id;
    uint32_t uid, flags, cstate;
    uint64_t modseq, size, cached;
    int64_t idate, date;
    int64_t sent_day;      /* the Date: header's own calendar day (SENT* keys), days since 1970-01-01 */
    char *keywords, *subject, *from, *to, *cc;
    int gone;
};

/* Whether the cache holds the item's header block: the whole content, or the
 * header block a summary-only mail keeps (core/engine.c, headers policy). */
static int has_header(const struct sitem *it)
{
    return it->cstate == OUTPOST_CONTENT_COMPLETE || (it->cstate == OUTPOST_CONTENT_SUMMARY && it->cached > 0);
}

/* The UIDs an FTS query matched, per BODY/TEXT key (sorted). */
struct fts_hits {
    const struct imap_skey *key;
    uint32_t *uids;
    size_t n;
};

struct search_ctx {
    struct imap_conn *c;
    struct fts_hits *fts;
    size_t nfts;
    int all_headers;            /* the index covers every header field (OUTPOST_STORAGE_CAP_FTS_ALL_HEADERS) */
    int failed;
    /* a dry run over a batch (prefetch_batch): ensure_content only notes the
     * items whose bodies the real run will need */
    int dry;
    int64_t *want;
    uint32_t nwant;
};

static char *dup0(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int64_t day_of(int64_t ms)
{
    int64_t s = ms / 1000;
    return (s >= 0 ? s : s - 86399) / 86400;
}

static int keyword_has(const char *kws, const char *kw)
{
    if (!kws)
        return 0;
    size_t l = strlen(kw);
    for (const char *p = kws; *p;) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if ((size_t)(e - p) == l && !strncasecmp(p, kw, l))
            return 1;
        p = e;
    }
    return 0;
}

/* Case-insensitive substring search over [start,end) of the content. */
static int scan_range(struct imap_content_ctx *cc, uint64_t start, uint64_t end, const char *needle)
{
    if (strlen(needle) > 4096)
        return 0;
    return imap_text_scan(imap_content_range_read, cc, start, end, needle, IMAP_CHUNK);
}

/* Length of the header block at the start of buf (up to and including its
 * blank line, as imap_mime_locate delimits IMAP_SEC_HEADER); 0 when the
 * block does not end within the n bytes. */
static size_t header_block_len(const char *buf, size_t n)
{
    for (size_t ls = 0; ls < n;) {
        const char *nl = memchr(buf + ls, '\n', n - ls);
        if (!nl)
            return 0;
        size_t ll = (size_t)(nl - (buf + ls)) + 1;
        if (ll == 1 || (ll == 2 && buf[ls] == '\r'))
            return ls + ll;
        ls += ll;
    }
    return 0;
}

#define HDR_PEEK 8192 /* most header blocks end within this: one read answers */

/* Whether the cached header block of `it` contains needle (case-insensitive):
 * one read of the first HDR_PEEK bytes when the block ends there (or is the
 * whole message), else located and scanned chunk by chunk. -1 on a read
 * failure. */
static int header_contains(struct imap_content_ctx *cc, uint64_t size, const char *needle)
{
    size_t nl = strlen(needle);
    if (nl == 0)
        return 1;
    char buf[HDR_PEEK];
    size_t want = size < HDR_PEEK ? (size_t)size : HDR_PEEK, got = 0;
    if (imap_content_read_span(cc, 0, buf, want, &got) != 0)
        return -1;
    size_t hl = header_block_len(buf, got);
    if (hl || got == size)
        return imap_text_find(buf, hl ? hl : got, needle, nl);
    struct imap_region r;
    if (imap_mime_locate(imap_content_range_read, cc, size, NULL, 0, IMAP_SEC_HEADER, &r) != 0)
        return -1;
    return scan_range(cc, r.start, r.end, needle);
}

/* Makes sure the content is cached; 0 when it is. */
static int ensure_content(struct search_ctx *sx, struct sitem *it)
{
    struct imap_server *s = sx->c->srv;
    if (it->cstate == OUTPOST_CONTENT_COMPLETE)
        return 0;
    if (sx->dry) {
        if (sx->want && (!sx->nwant || sx->want[sx->nwant - 1] != it->id))
            sx->want[sx->nwant++] = it->id;
        return -1;
    }
    if (s->st->request_content(s->h, it->id, (uint32_t)s->content_timeout_ms).code != OUTPOST_OK) {
        sx->failed = 1;
        return -1;
    }
    it->cstate = OUTPOST_CONTENT_COMPLETE;
    return 0;
}

/* HEADER field contains value: scans the header block's matching fields. */
static int header_match(struct search_ctx *sx, struct sitem *it, const char *field, const char *value)
{
    if (!has_header(it) && ensure_content(sx, it) != 0)
        return 0;
    struct imap_content_ctx cc = { sx->c->srv, it->id };
    struct imap_region r;
    if (imap_mime_locate(imap_content_range_read, &cc, it->size, NULL, 0, IMAP_SEC_HEADER, &r) != 0)
        return 0;
    size_t hl = (size_t)(r.end - r.start < 1024 * 1024 ? r.end - r.start : 1024 * 1024);
    char *h = malloc(hl + 1);
    if (!h)
        return 0;
    size_t got = 0;
    (void)imap_content_read_span(&cc, r.start, h, hl, &got); /* after a failed read: what was read */
    char *names[1] = { (char *)field };
    size_t ol;
    char *o = imap_mime_filter_header(h, got, names, 1, 0, &ol);
    free(h);
    if (!o)
        return 0;
    o[ol - 2] = '\0'; /* drop the blank line */
    int any = ol > 2;
    int m = 0;
    if (any) {
        /* the value part of each field */
        char *p = o;
        while (p && *p && !m) {
            char *colon = strchr(p, ':');
            if (!colon)
                break;
            char *next = colon;
            /* field ends at a line end not followed by whitespace */
            for (;;) {
                next = strchr(next, '\n');
                if (!next || (next[1] != ' ' && next[1] != '\t'))
                    break;
                next++;
            }
            char save = 0;
            if (next) {
                save = next[1];
                next[1] = '\0';
            }
            m = imap_text_contains(colon + 1, value);
            if (next) {
                next[1] = save;
                p = next + 1;
            } else {
                p = NULL;
            }
        }
    }
    free(o);
    return m;
}

/* Whether the index answered key k (collect_fts). */
static int fts_known(const struct search_ctx *sx, const struct imap_skey *k)
{
    for (size_t i = 0; i < sx->nfts; i++)
        if (sx->fts[i].key == k)
            return 1;
    return 0;
}

static int fts_has(const struct search_ctx *sx, const struct imap_skey *k, uint32_t uid, int *known)
{
    for (size_t i = 0; i < sx->nfts; i++)
        if (sx->fts[i].key == k) {
            *known = 1;
            return sx->fts[i].n && bsearch(&uid, sx->fts[i].uids, sx->fts[i].n, sizeof uid, cmp_u32) != NULL;
        }
    *known = 0;
    return 0;
}

/* The full-text index covers subject, addresses and body text (decoded),
 * and with OUTPOST_STORAGE_CAP_FTS_ALL_HEADERS every header field of the
 * message (name and decoded value). BODY and TEXT (RFC 3501 6.4.4) use it so:
 * - BODY is the body only: a hit whose words also occur in the subject or
 *   an address (or, with every header field indexed, in the header block,
 *   or in any header field when an encoded word hides its text from a raw
 *   look) may come from there alone, so it is confirmed in the body;
 * - TEXT is every header field and the body: with every header field
 *   indexed, the index's answer is final; without, a miss may still be in a
 *   header field the index leaves out (Message-ID, Reply-To, ...), searched
 *   in the cached header block (not fetched for this).
 * The index finds every item where each word of the key occurs inside a
 * word of the text, ignoring case and diacritics (storage.h, fts_search), a
 * superset of the RFC 3501 substring match for a key within words: a BODY
 * miss is trusted as is, a TEXT miss only after the header block unless
 * the index holds every header field. */
static int fts_verdict(struct search_ctx *sx, const struct imap_skey *k, struct sitem *it, int hit)
{
    struct imap_content_ctx cc = { sx->c->srv, it->id };
    struct imap_region r;
    if (k->op == IMAP_SK_TEXT) {
        if (hit || sx->all_headers)
            return hit;
        return has_header(it) && header_contains(&cc, it->size, k->b) == 1;
    }
    if (!hit)
        return 0;
    int elsewhere = 0;
    char *words = strdup(k->b);
    if (!words)
        return 1;
    char *save = NULL;
    for (char *w = strtok_r(words, " \t", &save); w && !elsewhere; w = strtok_r(NULL, " \t", &save)) {
        /* the index ignores diacritics: "ä" is a hit for the "a" of "example.com" in From. Look for the
         * word without its marks too, so that such a hit is confirmed in the body. */
        char *bare = NULL;
        for (const char *q = w; *q && !bare; q++)
            if ((unsigned char)*q >= 0x80)
                bare = imap_text_strip_marks(w);
        for (int pass = 0; pass < 2 && !elsewhere; pass++) {
            const char *x = pass ? bare : w;
            if (!x || !*x)
                continue;
            elsewhere = imap_text_contains(it->subject, x) || imap_text_contains(it->from, x) ||
                        imap_text_contains(it->to, x) || imap_text_contains(it->cc, x);
            if (!elsewhere && sx->all_headers && has_header(it))
                elsewhere = header_contains(&cc, it->size, x) != 0 || header_contains(&cc, it->size, "=?") != 0;
        }
        free(bare);
    }
    free(words);
    if (!elsewhere)
        return 1;
    if (ensure_content(sx, it) != 0 ||
        imap_mime_locate(imap_content_range_read, &cc, it->size, NULL, 0, IMAP_SEC_TEXT, &r) != 0)
        return 0;
    return scan_range(&cc, r.start, it->size, k->b);
}

static int eval(struct search_ctx *sx, const struct imap_skey *k, struct sitem *it)
{
    struct imap_conn *c = sx->c;
    switch (k->op) {
    case IMAP_SK_ALL: return 1;
    case IMAP_SK_NONE: return 0;
    case IMAP_SK_RECENT: return imap_is_recent(c, it->uid);
    case IMAP_SK_AND:
        for (size_t i = 0; i < k->nkids; i++)
            if (!eval(sx, k->kids[i], it))
                return 0;
        return 1;
    case IMAP_SK_OR: return eval(sx, k->kids[0], it) || eval(sx, k->kids[1], it);
    case IMAP_SK_NOT: return !eval(sx, k->kids[0], it);
    case IMAP_SK_SEQ: return imap_seqset_contains(&k->set, (uint32_t)(it->ix + 1), (uint32_t)c->nmsgs);
    case IMAP_SK_UID:
        return imap_seqset_contains(&k->set, it->uid, c->nmsgs ? c->msgs[c->nmsgs - 1].uid : 0);
    case IMAP_SK_FLAG: return (it->flags & k->flag) != 0;
    case IMAP_SK_NOFLAG: return (it->flags & k->flag) == 0;
    case IMAP_SK_KEYWORD: return keyword_has(it->keywords, k->a);
    case IMAP_SK_UNKEYWORD: return !keyword_has(it->keywords, k->a);
    case IMAP_SK_BEFORE: return day_of(it->idate) < k->num;
    case IMAP_SK_ON: return day_of(it->idate) == k->num;
    case IMAP_SK_SINCE: return day_of(it->idate) >= k->num;
    case IMAP_SK_SENTBEFORE: return it->sent_day < k->num;
    case IMAP_SK_SENTON: return it->sent_day == k->num;
    case IMAP_SK_SENTSINCE: return it->sent_day >= k->num;
    case IMAP_SK_LARGER: return it->size > (uint64_t)k->num;
    case IMAP_SK_SMALLER: return it->size < (uint64_t)k->num;
    case IMAP_SK_MODSEQ: return it->modseq >= (uint64_t)k->num;
    case IMAP_SK_HEADER:
        if (!strcasecmp(k->a, "SUBJECT") && it->subject)
            return imap_text_contains(it->subject, k->b);
        if (!strcasecmp(k->a, "FROM") && it->from)
            return imap_text_contains(it->from, k->b);
        if (!strcasecmp(k->a, "TO") && it->to)
            return imap_text_contains(it->to, k->b);
        if (!strcasecmp(k->a, "CC") && it->cc)
            return imap_text_contains(it->cc, k->b);
        return header_match(sx, it, k->a, k->b);
    case IMAP_SK_BODY:
    case IMAP_SK_TEXT: {
        int known;
        int m = fts_has(sx, k, it->uid, &known);
        /* the index holds the body of mail whose content was cached when it was
         * indexed; a summary-only mail's miss proves nothing about its body */
        if (known && (m || it->cstate == OUTPOST_CONTENT_COMPLETE))
            return fts_verdict(sx, k, it, m);
        if (ensure_content(sx, it) != 0)
            return 0;
        struct imap_content_ctx cc = { c->srv, it->id };
        uint64_t start = 0;
        if (k->op == IMAP_SK_BODY) {
            struct imap_region r;
            if (imap_mime_locate(imap_content_range_read, &cc, it->size, NULL, 0, IMAP_SEC_TEXT, &r) != 0)
                return 0;
            start = r.start;
        } else if (imap_text_contains(it->subject, k->b) || imap_text_contains(it->from, k->b) ||
                   imap_text_contains(it->to, k->b)) {
            return 1;
        }
        return scan_range(&cc, start, it->size, k->b);
    }
    default: return 0;
    }
}

/* Runs fts_search for every BODY/TEXT key when the storage has FTS. */
static int collect_fts(struct search_ctx *sx, const struct imap_skey *k)
{
    struct imap_server *s = sx->c->srv;
    if (k->op == IMAP_SK_BODY || k->op == IMAP_SK_TEXT) {
        struct outpost_txn *t;
        struct outpost_cursor *cur;
        const void *row;
        if (s->st->read_begin(s->h, &t).code != OUTPOST_OK)
            return -1;
        struct fts_hits hits = { k, NULL, 0 };
        size_t cap = 0;
        outpost_status st = s->sm->fts_search(t, sx->c->sel_folder, k->b, &cur);
        if (st.code == OUTPOST_OK) {
            while ((st = s->sm->cursor_next(cur, &row)).code == OUTPOST_OK && row) {
                if (hits.n == cap) {
                    cap = cap ? cap * 2 : 64;
                    uint32_t *nu = realloc(hits.uids, cap * sizeof *nu);
                    if (!nu) {
                        st.code = OUTPOST_FATAL;
                        break;
                    }
                    hits.uids = nu;
                }
                hits.uids[hits.n++] = ((const outpost_item *)row)->uid;
            }
            s->sm->cursor_close(cur);
        }
        s->st->read_end(s->h, t);
        if (st.code != OUTPOST_OK) {
            /* no answer or a partial one: fall back to scanning */
            free(hits.uids);
            return 0;
        }
        if (hits.n)
            qsort(hits.uids, hits.n, sizeof *hits.uids, cmp_u32);
        struct fts_hits *nf = realloc(sx->fts, (sx->nfts + 1) * sizeof *nf);
        if (!nf) {
            free(hits.uids);
            return -1;
        }
        sx->fts = nf;
        sx->fts[sx->nfts++] = hits;
        return 0;
    }
    for (size_t i = 0; i < k->nkids; i++)
        if (collect_fts(sx, k->kids[i]) != 0)
            return -1;
    return 0;
}

/* What evaluating key k needs of an item: 0 nothing (sequence numbers,
 * UIDs, BODY/TEXT answered by the full-text index), 1 flags and MODSEQ (the
 * session's list, once brought up to date), 2 keywords (the narrow
 * listing), 3 the summary (or content). */
static int key_needs(const struct search_ctx *sx, const struct imap_skey *k)
{
    switch (k->op) {
    case IMAP_SK_ALL:
    case IMAP_SK_NONE:
    case IMAP_SK_RECENT:
    case IMAP_SK_SEQ:
    case IMAP_SK_UID: return 0;
    case IMAP_SK_FLAG:
    case IMAP_SK_NOFLAG:
    case IMAP_SK_MODSEQ: return 1;
    case IMAP_SK_KEYWORD:
    case IMAP_SK_UNKEYWORD: return 2;
    case IMAP_SK_AND:
    case IMAP_SK_OR:
    case IMAP_SK_NOT: {
        int n = 0;
        for (size_t i = 0; i < k->nkids; i++) {
            int m = key_needs(sx, k->kids[i]);
            n = m > n ? m : n;
        }
        return n;
    }
    case IMAP_SK_TEXT:
        /* answered by an index of every header field and the body alone */
        if (sx->all_headers && fts_known(sx, k))
            return 0;
        /* fall through */
    case IMAP_SK_BODY:
        /* Even when the index answered, fts_verdict needs the summary: BODY must
         * not match words found only in header fields, and TEXT also covers
         * header fields an index without OUTPOST_STORAGE_CAP_FTS_ALL_HEADERS
         * does not hold (RFC 3501 6.4.4). */
        return 3;
    default: return 3;
    }
}

/* The Date: header text an ENVELOPE starts with (its first string), malloc'd, or NULL. */
static char *envelope_date(const char *env)
{
    if (!env || env[0] != '(')
        return NULL;
    const char *p = env + 1;
    if (*p == '"') {
        char *out = malloc(strlen(p));
        size_t o = 0;
        if (!out)
            return NULL;
        for (p++; *p && *p != '"'; p++) {
            if (*p == '\\' && p[1])
                p++;
            out[o++] = *p;
        }
        out[o] = '\0';
        return out;
    }
    if (*p == '{') {
        char *e;
        unsigned long long n = strtoull(p + 1, &e, 10);
        if (e[0] != '}' || e[1] != '\r' || e[2] != '\n' || strlen(e + 3) < n)
            return NULL;
        return strndup(e + 3, (size_t)n);
    }
    return NULL;
}

/* The calendar day of the Date: header in its own time zone (RFC 3501 6.4.4:
 * SENTBEFORE/SENTON/SENTSINCE disregard time and timezone); the UTC day when
 * the header gives no zone GMime can read. */
static int64_t sent_day_of(const outpost_item *it, int64_t date_ms)
{
    int64_t off_ms = 0;
    char *d = envelope_date(it->envelope);
    GDateTime *dt = d ? g_mime_utils_header_decode_date(d) : NULL;
    if (dt) {
        off_ms = g_date_time_get_utc_offset(dt) / 1000;
        g_date_time_unref(dt);
    }
    free(d);
    return day_of(date_ms + off_ms);
}

static void sitem_fill(struct sitem *si, const outpost_item *it, int want_sent_day)
{
    si->gone = 0;
    si->flags = it->flags;
    si->cstate = it->content_state;
    si->cached = it->cached_size;
    si->modseq = it->modseq;
    si->size = it->size;
    si->idate = it->internal_date;
    si->date = it->date ? it->date : it->internal_date;
    si->sent_day = !want_sent_day ? 0 : it->date ? sent_day_of(it, it->date) : day_of(it->internal_date);
    si->keywords = dup0(it->keywords);
    si->subject = dup0(it->subject);
    si->from = dup0(it->from);
    si->to = dup0(it->to);
    si->cc = dup0(it->cc);
}

/* Loads messages k..k+n of the selected mailbox into out[] with what `need`
 * (key_needs) asks for: the session's list for 0 and 1; else one range
 * listing merged by UID (the covering UID/flags index for 2), or item by
 * item when the UIDs are sparse. 0 or -1. */
static int load_sbatch(struct imap_conn *c, size_t k, size_t n, struct sitem *out, int need, int sent_day)
{
    struct imap_server *s = c->srv;
    for (size_t b = 0; b < n; b++) {
        struct sitem *si = &out[b];
        memset(si, 0, sizeof *si);
        si->ix = k + b;
        si->id = c->msgs[k + b].id;
        si->uid = c->msgs[k + b].uid;
        si->flags = c->msgs[k + b].flags;
        si->modseq = c->msgs[k + b].modseq;
        si->gone = need > 1;
    }
    if (need <= 1 || !n)
        return 0;
    struct outpost_txn *t;
    if (s->st->read_begin(s->h, &t).code != OUTPOST_OK)
        return -1;
    uint32_t lo = out[0].uid, hi = out[n - 1].uid;
    int dense = (uint64_t)(hi - lo) < 2 * (uint64_t)n + 64;
    struct outpost_cursor *cur;
    const void *row;
    size_t b = 0;
    if (dense && need == 2 && OUTPOST_HAS_METHOD(s->sm, struct outpost_storage_methods, items_uid_flags) &&
        s->sm->items_uid_flags(t, c->sel_folder, lo, hi, &cur).code == OUTPOST_OK) {
        while (b < n && s->sm->cursor_next(cur, &row).code == OUTPOST_OK && row) {
            const outpost_uid_flags *r = row;
            while (b < n && out[b].uid < r->uid)
                b++;
            if (b < n && out[b].uid == r->uid && out[b].id == r->id) {
                struct sitem *si = &out[b++];
                si->gone = 0;
                si->flags = r->flags;
                si->modseq = r->modseq;
                si->keywords = dup0(r->keywords);
            }
        }
        s->sm->cursor_close(cur);
    } else if (dense && s->sm->items_by_uid(t, c->sel_folder, lo, hi, &cur).code == OUTPOST_OK) {
        while (b < n && s->sm->cursor_next(cur, &row).code == OUTPOST_OK && row) {
            const outpost_item *it = row;
            while (b < n && out[b].uid < it->uid)
                b++;
            if (b < n && out[b].uid == it->uid && out[b].id == it->id)
                sitem_fill(&out[b++], it, sent_day);
        }
        s->sm->cursor_close(cur);
    } else {
        for (b = 0; b < n; b++) {
            const outpost_item *it;
            if (s->sm->item_get(t, out[b].id, &it).code == OUTPOST_OK && it->folder_id == c->sel_folder)
                sitem_fill(&out[b], it, sent_day);
        }
    }
    s->st->read_end(s->h, t);
    return 0;
}

/* Fetches, all at once, the bodies a batch's evaluation is going to ask for one by
 * one: a dry run of eval notes the items whose keys need a body not cached (a HEADER
 * field outside the summary, an index hit to verify), then one request_contents
 * (one server call per 50 items) gets them. What fails is left to the real run. */
static void prefetch_batch(struct search_ctx *sx, const struct imap_skey *root, struct sitem *batch, size_t n)
{
    struct imap_server *s = sx->c->srv;
    if (!OUTPOST_HAS_METHOD(s->st, struct outpost_store_api, request_contents) ||
        !(sx->want = malloc((n ? n : 1) * sizeof *sx->want)))
        return;
    sx->nwant = 0;
    sx->dry = 1;
    for (size_t b = 0; b < n && !sx->failed; b++)
        if (!batch[b].gone && batch[b].cstate != OUTPOST_CONTENT_COMPLETE)
            (void)eval(sx, root, &batch[b]);
    sx->dry = 0;
    if (sx->nwant > 1) {
        imap_flush(sx->c);
        (void)s->st->request_contents(s->h, sx->want, sx->nwant, (uint32_t)s->content_timeout_ms);
    }
    free(sx->want);
    sx->want = NULL;
}

void imap_cmd_search(struct imap_conn *c, const char *tag, int uid, const struct imap_tok *args)
{
    struct imap_server *s = c->srv;
    size_t start = 0;
    char err[200];
    if (args->nkids >= 1 && imap_tok_atom_is(args->kids[0], "RETURN")) {
        imap_tagged(c, tag, "BAD", "SEARCH RETURN (ESEARCH) is not supported");
        return;
    }
    if (args->nkids >= 2 && imap_tok_atom_is(args->kids[0], "CHARSET")) {
        const char *cs = imap_tok_is_string(args->kids[1]) ? args->kids[1]->s : "";
        if (strcasecmp(cs, "UTF-8") != 0 && strcasecmp(cs, "US-ASCII") != 0) {
            imap_tagged(c, tag, "NO", "[BADCHARSET (US-ASCII UTF-8)] Unsupported charset");
            return;
        }
        start = 2;
    }
    struct imap_skey *root;
    if (imap_search_parse((const struct imap_tok *const *)args->kids + start, args->nkids - start, &root, err,
                          sizeof err) != 0) {
        imap_tagged(c, tag, "BAD", "SEARCH: %s", err);
        return;
    }
    int use_modseq = imap_search_uses(root, IMAP_SK_MODSEQ);
    /* expunges may be reported after a UID SEARCH, but not after one whose keys hold message numbers: the
     * client could not tell which numbering they meant (RFC 7162 3.2.10) */
    int may_expunge = uid && !imap_search_uses(root, IMAP_SK_SEQ);
    if (use_modseq)
        imap_condstore_on(c);
    struct search_ctx sx = { c, NULL, 0, 0, 0, 0, NULL, 0 };
    if ((imap_search_uses(root, IMAP_SK_BODY) || imap_search_uses(root, IMAP_SK_TEXT)) &&
        (s->st->storage_caps & OUTPOST_STORAGE_CAP_FTS) &&
        OUTPOST_HAS_METHOD(s->sm, struct outpost_storage_methods, fts_search)) {
        sx.all_headers = (s->st->storage_caps & OUTPOST_STORAGE_CAP_FTS_ALL_HEADERS) != 0;
        if (collect_fts(&sx, root) != 0)
            sx.failed = 1;
    }
    uint32_t *hits = malloc((c->nmsgs ? c->nmsgs : 1) * sizeof *hits);
    uint64_t maxmod = 0;
    size_t nh = 0;
    int need = key_needs(&sx, root);
    int sent_day = imap_search_uses(root, IMAP_SK_SENTBEFORE) || imap_search_uses(root, IMAP_SK_SENTON) ||
                   imap_search_uses(root, IMAP_SK_SENTSINCE);
    /* flags and MODSEQs changed by others since the last command (no
     * expunges during SEARCH): afterwards the session's list is exact */
    if (need == 1 && imap_sync_selected(c, 0) != 0)
        sx.failed = 1;
    struct sitem *batch = calloc(IMAP_BATCH, sizeof *batch);
    int may_fetch = imap_search_uses(root, IMAP_SK_HEADER) || imap_search_uses(root, IMAP_SK_BODY) ||
                    imap_search_uses(root, IMAP_SK_TEXT);
    for (size_t k = 0; k < c->nmsgs && hits && batch && !sx.failed; k += IMAP_BATCH) {
        size_t bn = c->nmsgs - k < IMAP_BATCH ? c->nmsgs - k : IMAP_BATCH;
        if (load_sbatch(c, k, bn, batch, need, sent_day) != 0) {
            sx.failed = 1;
            break;
        }
        if (may_fetch)
            prefetch_batch(&sx, root, batch, bn);
        for (size_t b = 0; b < bn; b++) {
            struct sitem *si = &batch[b];
            if (!si->gone && !sx.failed && eval(&sx, root, si)) {
                hits[nh++] = uid ? si->uid : (uint32_t)(si->ix + 1);
                if (si->modseq > maxmod)
                    maxmod = si->modseq;
            }
            free(si->keywords);
            free(si->subject);
            free(si->from);
            free(si->to);
            free(si->cc);
        }
    }
    for (size_t i = 0; i < sx.nfts; i++)
        free(sx.fts[i].uids);
    free(sx.fts);
    free(batch);
    imap_search_free(root);
    if (!hits || sx.failed) {
        free(hits);
        imap_tagged(c, tag, "NO", "[UNAVAILABLE] SEARCH needs message bodies that are not cached while offline");
        return;
    }
    imap_puts(c, "* SEARCH");
    for (size_t i = 0; i < nh; i++) {
        imap_write(c, " ", 1);
        imap_put_uint(c, hits[i]);
    }
    if (use_modseq && nh)
        imap_printf(c, " (MODSEQ %llu)", (unsigned long long)maxmod);
    imap_puts(c, "\r\n");
    free(hits);
    imap_sync_selected(c, may_expunge);
    imap_tagged(c, tag, "OK", "SEARCH completed");
}
