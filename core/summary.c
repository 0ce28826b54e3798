/* core/summary.c — computes item summaries at ingest (see summary.h).
 *
 * Mail: a line scanner walks the MIME structure over a GMimeStream with a
 * boundary stack, as Dovecot's message parser does (a boundary is a line
 * starting with "--" + the longest matching boundary, innermost first; the
 * line break before it belongs to it), recording each part's byte extent and
 * line count. Header blocks are kept per part (capped) and their values
 * parsed here for the byte-exact IMAP forms (Dovecot keeps values raw: no
 * RFC 2047 / 2231 decoding in ENVELOPE and BODYSTRUCTURE), while GMime decodes
 * what users read (subject, display addresses, dates, Message-ID) and the
 * transfer encodings and charsets of the text that is indexed.
 */
#include "summary.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>
#include <iconv.h>
#include <libical/ical.h>

#define SCAN_BUF (64u * 1024)
#define MAX_DEPTH 64
#define MAX_PARTS 10000
#define MAX_HEADER_BLOCK (256u * 1024)

/* ---- arena and string buffers ----------------------------------------- */

void outpost_summary_init(struct outpost_summary *s) { memset(s, 0, sizeof *s); }

void outpost_summary_release(struct outpost_summary *s)
{
    for (size_t i = 0; i < s->nstrs; i++)
        free(s->strs[i]);
    free(s->strs);
    free(s->index_text);
    memset(s, 0, sizeof *s);
}

/* Takes ownership of a malloc'd string; NULL stays NULL. */
static char *arena_own(struct outpost_summary *a, char *str)
{
    if (!str)
        return NULL;
    if (a->nstrs == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        char **n = realloc(a->strs, cap * sizeof *n);
        if (!n) {
            free(str);
            return NULL;
        }
        a->strs = n;
        a->cap = cap;
    }
    a->strs[a->nstrs++] = str;
    return str;
}

static char *dupn(const char *s, size_t n)
{
    char *r = malloc(n + 1);
    if (r) {
        memcpy(r, s, n);
        r[n] = '\0';
    }
    return r;
}

/* Copies a g_malloc'd string into the arena (valid UTF-8) and frees it. */
static char *arena_gtake(struct outpost_summary *a, char *g)
{
    if (!g)
        return NULL;
    char *valid = g_utf8_make_valid(g, -1);
    g_free(g);
    char *r = arena_own(a, dupn(valid, strlen(valid)));
    g_free(valid);
    return r;
}

struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
};

static void sb_addn(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_add(struct sbuf *b, const char *s) { sb_addn(b, s, strlen(s)); }

static void sb_printf_u64(struct sbuf *b, uint64_t v)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    sb_add(b, tmp);
}

/* An IMAP string: quoted when plain, a literal when it holds '"', '\\',
 * CR, LF or 8-bit bytes (as Dovecot writes them). CR, LF and NUL are
 * dropped first (header folding). */
static void sb_imap_string(struct sbuf *b, const char *s)
{
    size_t len = 0;
    int literal = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\r' || *p == '\n')
            continue;
        len++;
        if (*p == '"' || *p == '\\' || *p >= 0x80)
            literal = 1;
    }
    if (literal) {
        char tmp[48];
        snprintf(tmp, sizeof tmp, "{%zu}\r\n", len);
        sb_add(b, tmp);
    } else {
        sb_add(b, "\"");
    }
    const char *run = s;
    for (const char *p = s;; p++) {
        if (!*p || *p == '\r' || *p == '\n') {
            sb_addn(b, run, (size_t)(p - run));
            run = p + 1;
            if (!*p)
                break;
        }
    }
    if (!literal)
        sb_add(b, "\"");
}

static void sb_imap_nstring(struct sbuf *b, const char *s)
{
    if (s)
        sb_imap_string(b, s);
    else
        sb_add(b, "NIL");
}

/* ---- library set-up --------------------------------------------------- */

static atomic_int lib_state; /* 0 none, 1 initialising, 2 ready: process-wide, as GMime itself */

/* Header words come in the charsets GMime (and most mailers) pick for them: iso-8859-x,
 * koi8-r, windows-1251, CJK. glibc unloads a gconv module when its last descriptor closes, so
 * decoding each message's words would dlopen the module again every time; one descriptor
 * held per common charset for the life of the process keeps them loaded. */
static const char *const held_names[] = { "iso-8859-1", "iso-8859-2", "iso-8859-4", "koi8-r", "koi8-u",
                                         "iso-8859-5", "iso-8859-6", "iso-8859-7", "iso-8859-8", "iso-8859-9",
                                         "iso-8859-13", "iso-8859-15", "windows-1250", "windows-1251",
                                         "windows-1252", "iso-2022-jp", "Shift-JIS", "euc-jp", "euc-kr",
                                         "gb2312", "Big5" };
static iconv_t held_cd[sizeof held_names / sizeof held_names[0]]; /* never closed: process lifetime */

static void hold_charsets(void)
{
    for (size_t i = 0; i < sizeof held_names / sizeof held_names[0]; i++)
        held_cd[i] = iconv_open("UTF-8", held_names[i]);
}

void outpost_summary_library_init(void)
{
    int expect = 0;
    if (atomic_load(&lib_state) == 2)
        return;
    if (atomic_compare_exchange_strong(&lib_state, &expect, 1)) {
        g_mime_init();
        hold_charsets();
        icalerror_set_errors_are_fatal(0);
        atomic_store(&lib_state, 2);
        return;
    }
    while (atomic_load(&lib_state) != 2)
        g_usleep(100);
}

/* ---- header values (RFC 2045 / 5322 tokens, kept raw) ------------------ */

struct hfield {
    char *name;
    char *value; /* unfolded (CR and LF removed), leading white space removed */
};

static int is_wsp(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Skips white space and (nested) comments; a comment's text goes to *comment
 * when non-NULL (the last one wins; caller frees). */
static void skip_cfws(const char **pp, char **comment)
{
    const char *p = *pp;
    for (;;) {
        while (is_wsp((unsigned char)*p))
            p++;
        if (*p != '(')
            break;
        int depth = 0;
        const char *start = p + 1;
        for (; *p; p++) {
            if (*p == '\\' && p[1]) {
                p++;
                continue;
            }
            if (*p == '(')
                depth++;
            else if (*p == ')' && --depth == 0)
                break;
        }
        if (comment && *p == ')') {
            free(*comment);
            *comment = dupn(start, (size_t)(p - start));
        }
        if (*p)
            p++;
    }
    *pp = p;
}

static int is_tspecial(int c) { return c && strchr("()<>@,;:\\\"/[]?=", c) != NULL; }

/* An RFC 2045 token (8-bit allowed), malloc'd; NULL when none. */
static char *get_token(const char **pp)
{
    const char *p = *pp, *s = p;
    while (*p && !is_wsp((unsigned char)*p) && !is_tspecial((unsigned char)*p) && (unsigned char)*p > 31 &&
           *p != 127)
        p++;
    *pp = p;
    return p > s ? dupn(s, (size_t)(p - s)) : NULL;
}

/* A quoted-string's content (escapes removed), p at the opening quote. */
static char *get_quoted(const char **pp)
{
    const char *p = *pp + 1;
    struct sbuf b = { 0 };
    sb_add(&b, "");
    while (*p && *p != '"') {
        if (*p == '\\' && p[1])
            p++;
        sb_addn(&b, p, 1);
        p++;
    }
    if (*p == '"')
        p++;
    *pp = p;
    return b.p;
}

static char *get_value(const char **pp)
{
    return **pp == '"' ? get_quoted(pp) : get_token(pp);
}

struct param {
    char *name, *value;
};

struct ctype {
    char *type, *subtype;   /* subtype NULL for Content-Disposition */
    struct param *params;
    size_t np;
};

static void ctype_free(struct ctype *c)
{
    free(c->type);
    free(c->subtype);
    for (size_t i = 0; i < c->np; i++) {
        free(c->params[i].name);
        free(c->params[i].value);
    }
    free(c->params);
    memset(c, 0, sizeof *c);
}

/* Parses "type/subtype; a=b" (with_subtype) or "type; a=b". 0 when valid. */
static int ctype_parse(const char *v, int with_subtype, struct ctype *out)
{
    memset(out, 0, sizeof *out);
    const char *p = v;
    skip_cfws(&p, NULL);
    out->type = get_token(&p);
    if (!out->type)
        goto bad;
    if (with_subtype) {
        skip_cfws(&p, NULL);
        if (*p != '/')
            goto bad;
        p++;
        skip_cfws(&p, NULL);
        out->subtype = get_token(&p);
        if (!out->subtype)
            goto bad;
    }
    for (;;) {
        skip_cfws(&p, NULL);
        if (*p != ';') {
            if (!*p)
                break;
            p++; /* junk: skip to the next ';' */
            while (*p && *p != ';')
                p++;
            continue;
        }
        p++;
        skip_cfws(&p, NULL);
        char *name = get_token(&p);
        if (!name)
            continue;
        skip_cfws(&p, NULL);
        if (*p != '=') {
            free(name);
            continue;
        }
        p++;
        skip_cfws(&p, NULL);
        char *value = get_value(&p);
        if (!value) {
            free(name);
            continue;
        }
        struct param *np = realloc(out->params, (out->np + 1) * sizeof *np);
        if (!np) {
            free(name);
            free(value);
            break;
        }
        out->params = np;
        out->params[out->np].name = name;
        out->params[out->np].value = value;
        out->np++;
    }
    return 0;
bad:
    ctype_free(out);
    return -1;
}

static const char *ctype_param(const struct ctype *c, const char *name)
{
    for (size_t i = 0; i < c->np; i++)
        if (!strcasecmp(c->params[i].name, name))
            return c->params[i].value;
    return NULL;
}

/* ---- MIME parts ---------------------------------------------------------- */

enum part_kind { PART_LEAF, PART_MULTI, PART_MESSAGE };

struct mpart {
    struct hfield *h;
    size_t nh;
    size_t hbytes;               /* header bytes kept (capped) */
    int digest_child;            /* default type message/rfc822 */
    int kind;
    uint64_t body_off, body_nl, end_off, end_nl;
    struct mpart *child, *next;  /* MULTI: children; MESSAGE: the embedded message */
    char *pending;               /* header field being folded */
    size_t pending_len;
};

static void part_free(struct mpart *p)
{
    while (p) {
        struct mpart *next = p->next;
        for (size_t i = 0; i < p->nh; i++) {
            free(p->h[i].name);
            free(p->h[i].value);
        }
        free(p->h);
        free(p->pending);
        part_free(p->child);
        free(p);
        p = next;
    }
}

static const char *part_header(const struct mpart *p, const char *name)
{
    for (size_t i = 0; i < p->nh; i++)
        if (!strcasecmp(p->h[i].name, name))
            return p->h[i].value;
    return NULL;
}

/* The headers a summary reads; others are not kept. */
static int header_wanted(const char *name, size_t n)
{
    static const char *const wanted[] = { "content-type", "content-transfer-encoding", "content-id",
                                          "content-description", "content-md5", "content-disposition",
                                          "content-language", "content-location", "date", "subject",
                                          "from", "sender", "reply-to", "to", "cc", "bcc", "in-reply-to",
                                          "message-id", NULL };
    for (int i = 0; wanted[i]; i++)
        if (strlen(wanted[i]) == n && !strncasecmp(wanted[i], name, n))
            return 1;
    return 0;
}

/* Stores the pending (unfolded) field if it is wanted and not yet seen. */
static void part_flush_field(struct mpart *p)
{
    if (!p->pending)
        return;
    char *f = p->pending;
    p->pending = NULL;
    char *colon = memchr(f, ':', p->pending_len);
    if (!colon) {
        free(f);
        return;
    }
    size_t nlen = (size_t)(colon - f);
    while (nlen && (f[nlen - 1] == ' ' || f[nlen - 1] == '\t'))
        nlen--;
    if (!nlen || !header_wanted(f, nlen) || p->nh >= 64) {
        free(f);
        return;
    }
    char *name = dupn(f, nlen);
    for (size_t i = 0; name && i < p->nh; i++)
        if (!strcasecmp(p->h[i].name, name)) { /* the first occurrence wins */
            free(name);
            free(f);
            return;
        }
    const char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    char *value = dupn(v, strlen(v));
    struct hfield *nh = name && value ? realloc(p->h, (p->nh + 1) * sizeof *nh) : NULL;
    if (!nh) {
        free(name);
        free(value);
        free(f);
        return;
    }
    p->h = nh;
    p->h[p->nh].name = name;
    p->h[p->nh].value = value;
    p->nh++;
    free(f);
}

/* Adds one raw header line (its line break included or not). */
static void part_header_line(struct mpart *p, const char *line, size_t n)
{
    if (p->hbytes + n > MAX_HEADER_BLOCK)
        return;
    p->hbytes += n;
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    if (n && (line[0] == ' ' || line[0] == '\t') && p->pending) {
        char *r = realloc(p->pending, p->pending_len + n + 1);
        if (!r)
            return;
        memcpy(r + p->pending_len, line, n);
        p->pending_len += n;
        r[p->pending_len] = '\0';
        p->pending = r;
        return;
    }
    part_flush_field(p);
    p->pending = dupn(line, n);
    p->pending_len = p->pending ? n : 0;
}

/* The part's content type, or the default (text/plain, message/rfc822 in a
 * digest). Returns 1 when it came from the header. */
static int part_ctype(const struct mpart *p, struct ctype *ct)
{
    const char *v = part_header(p, "content-type");
    if (v && ctype_parse(v, 1, ct) == 0)
        return 1;
    memset(ct, 0, sizeof *ct);
    ct->type = strdup(p->digest_child ? "message" : "text");
    ct->subtype = strdup(p->digest_child ? "rfc822" : "plain");
    return 0;
}

/* ---- the line scanner -------------------------------------------------- */

struct boundary {
    char *s;
    size_t n;
};

struct capture {
    GMimeStream *sink, *filter;
    int html;
    int full;
    size_t limit;                /* decoded bytes wanted from this part */
};

struct scanner {
    GMimeStream *st;
    char *buf;
    size_t pos, len;
    int eof;
    int at_line_start;
    uint64_t off;                /* offset of buf[pos] */
    uint64_t nl;                 /* line feeds before off */
    size_t last_eol;             /* length of the previous line's break (0: none) */
    struct boundary stack[MAX_DEPTH];
    int nb;
    int hit, hit_close;          /* boundary found by the last read_body */
    uint64_t mark_off, mark_nl;  /* where the part that just ended ends */
    int parts;
    struct capture *cap;         /* text of the current leaf for the index */
    struct sbuf text;            /* captured body text (UTF-8) */
    struct sbuf first_plain;     /* text of the first text/plain part, for the preview */
    int preview_only;            /* no index text: decode only what the preview reads */
    size_t text_nonws;           /* bytes of `text` other than white space (counted while there
                                  * is no first_plain, up to PREVIEW_ENOUGH: see capture_end) */
};

/* Bytes of text that fill a preview for sure: make_preview stops at PREVIEW_MAX bytes and
 * every byte other than white space gives at least one (g_utf8_make_valid changes at most
 * the last incomplete sequence of a cut text). */
#define PREVIEW_ENOUGH (2u * OUTPOST_SUMMARY_PREVIEW_MAX)
/* Decoded bytes of the first text/plain part kept for the preview. */
#define PREVIEW_PLAIN 4096u

/* One line (or a piece of a very long one). Returns 0 at the end. */
static int next_line(struct scanner *sc, const char **line, size_t *n, int *starts)
{
    for (;;) {
        /* A content held in memory is scanned where it is (whole: buf holds all of it, eof
         * set); pieces of a long line are SCAN_BUF bytes either way. */
        size_t avail = sc->len - sc->pos;
        size_t look = avail < SCAN_BUF ? avail : SCAN_BUF;
        char *nlp = memchr(sc->buf + sc->pos, '\n', look);
        if (nlp || sc->eof || look == SCAN_BUF) {
            if (!avail)
                return 0;
            size_t take = nlp ? (size_t)(nlp - (sc->buf + sc->pos)) + 1 : look;
            *line = sc->buf + sc->pos;
            *n = take;
            *starts = sc->at_line_start;
            sc->at_line_start = nlp != NULL;
            return 1;
        }
        if (sc->pos) {
            memmove(sc->buf, sc->buf + sc->pos, avail);
            sc->len = avail;
            sc->pos = 0;
        }
        ssize_t got = g_mime_stream_read(sc->st, sc->buf + sc->len, SCAN_BUF - sc->len);
        if (got <= 0)
            sc->eof = 1;
        else
            sc->len += (size_t)got;
    }
}

/* Consumes the line handed out by next_line. */
static void consume(struct scanner *sc, const char *line, size_t n)
{
    sc->pos += n;
    sc->off += n;
    if (n && line[n - 1] == '\n') {
        sc->nl++;
        sc->last_eol = n >= 2 && line[n - 2] == '\r' ? 2 : 1;
    } else {
        sc->last_eol = 0;
    }
}

/* Index of the boundary this line starts (longest match, innermost first), or -1. */
static int boundary_of(struct scanner *sc, const char *line, size_t n, int starts, int *close)
{
    if (!starts || n < 3 || line[0] != '-' || line[1] != '-' || !sc->nb)
        return -1;
    const char *s = line + 2;
    size_t len = n - 2;
    while (len && (s[len - 1] == '\n' || s[len - 1] == '\r'))
        len--;
    int best = -1;
    for (int i = sc->nb - 1; i >= 0; i--) {
        const struct boundary *b = &sc->stack[i];
        if (b->n <= len && !memcmp(b->s, s, b->n) && (best < 0 || sc->stack[best].n < b->n))
            best = i;
    }
    if (best >= 0) {
        size_t bn = sc->stack[best].n;
        *close = len >= bn + 2 && s[bn] == '-' && s[bn + 1] == '-';
    }
    return best;
}

/* Sets the end mark at the start of the boundary line just found. The line
 * break before it belongs to the boundary when it lies in the body region
 * being read (not when it ends a header block or a previous boundary line):
 * Dovecot's rule. */
static void mark_at_boundary(struct scanner *sc, uint64_t region_start)
{
    int steal = sc->last_eol && sc->off - sc->last_eol >= region_start;
    sc->mark_off = sc->off - (steal ? sc->last_eol : 0);
    sc->mark_nl = sc->nl - (steal ? 1 : 0);
}

static void mark_at_eof(struct scanner *sc)
{
    sc->mark_off = sc->off;
    sc->mark_nl = sc->nl;
}

/* Body bytes handed to a capture's decoding filters in one write: a run of whole lines. */
#define CAPTURE_RUN (16u * 1024)

/* Decodes a run of body lines into the current capture; stops capturing once the decoded
 * text passed the limit (capture_end keeps a prefix of it, which more input only extends). */
static void capture_run(struct scanner *sc, const char *run, size_t n)
{
    if (!n || !sc->cap || sc->cap->full)
        return;
    g_mime_stream_write(sc->cap->filter, run, n);
    if (g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(sc->cap->sink))->len > sc->cap->limit)
        sc->cap->full = 1;
}

/* Bytes of body the next run may take: decoding never makes more bytes than it reads, so a
 * run that fits in what is left below the limit cannot go past the line at which writing them
 * one by one would have stopped (a preview needs only the first 4 KiB of a long text). */
static size_t capture_room(const struct scanner *sc)
{
    size_t got = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(sc->cap->sink))->len;
    size_t room = got <= sc->cap->limit ? sc->cap->limit - got + 1 : 0;
    return room < CAPTURE_RUN ? room : CAPTURE_RUN;
}

/* Reads body lines until a boundary (returns 1, sc->hit set, the boundary
 * line consumed) or the end (returns 0). Captured lines go to the filters in runs (see
 * capture_room) rather than one write per line (each write walks the whole filter chain);
 * a run only spans lines that stay where they are, so it is written before next_line may
 * move the buffer (when reading from a stream, not at its end). */
static int read_body(struct scanner *sc)
{
    const char *line;
    size_t n;
    int starts, close;
    uint64_t region = sc->off;
    const char *run = NULL;
    size_t run_n = 0, room = 0;
    for (;;) {
        if (!sc->eof) {
            capture_run(sc, run, run_n);
            run_n = 0;
        }
        if (!next_line(sc, &line, &n, &starts))
            break;
        int b = boundary_of(sc, line, n, starts, &close);
        if (b >= 0) {
            capture_run(sc, run, run_n);
            mark_at_boundary(sc, region);
            consume(sc, line, n);
            sc->hit = b;
            sc->hit_close = close;
            return 1;
        }
        if (sc->cap && !sc->cap->full && !(run_n && line == run + run_n && run_n + n <= room)) {
            capture_run(sc, run, run_n);
            run_n = 0;
            room = sc->cap->full ? 0 : capture_room(sc);
        }
        if (sc->cap && !sc->cap->full) {
            if (!run_n)
                run = line;
            run_n += n;
        }
        consume(sc, line, n);
    }
    capture_run(sc, run, run_n);
    mark_at_eof(sc);
    return 0;
}

/* Reads a header block up to and including the empty line. Returns 1 when
 * a boundary line ended it, 0 otherwise. */
static int read_headers(struct scanner *sc, struct mpart *p)
{
    const char *line;
    size_t n;
    int starts, close;
    while (next_line(sc, &line, &n, &starts)) {
        int b = boundary_of(sc, line, n, starts, &close);
        if (b >= 0) {
            part_flush_field(p);
            mark_at_boundary(sc, UINT64_MAX);
            p->body_off = sc->off;
            p->body_nl = sc->nl;
            consume(sc, line, n);
            sc->hit = b;
            sc->hit_close = close;
            return 1;
        }
        int empty = starts && (n == 1 || (n == 2 && line[0] == '\r')) && line[n - 1] == '\n';
        if (!empty)
            part_header_line(p, line, n);
        consume(sc, line, n);
        if (empty)
            break;
    }
    part_flush_field(p);
    p->body_off = sc->off;
    p->body_nl = sc->nl;
    return 0;
}

static void strip_html(struct sbuf *out, const char *s, size_t n)
{
    int in_tag = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!in_tag && c != '<' && c != '&') {
            /* a run of text: appended in one piece, not a character at a time */
            size_t j = i + 1;
            while (j < n && s[j] != '<' && s[j] != '&')
                j++;
            sb_addn(out, s + i, j - i);
            i = j - 1;
        } else if (in_tag) {
            if (c == '>') {
                in_tag = 0;
                sb_add(out, " ");
            }
        } else if (c == '<') {
            in_tag = 1;
        } else if (c == '&') {
            static const struct { const char *e; const char *r; } ents[] = {
                { "&amp;", "&" }, { "&lt;", "<" }, { "&gt;", ">" }, { "&quot;", "\"" }, { "&nbsp;", " " },
                { "&#39;", "'" }, { NULL, NULL } };
            int done = 0;
            for (int k = 0; ents[k].e; k++) {
                size_t el = strlen(ents[k].e);
                if (i + el <= n && !strncasecmp(s + i, ents[k].e, el)) {
                    sb_add(out, ents[k].r);
                    i += el - 1;
                    done = 1;
                    break;
                }
            }
            if (!done)
                sb_addn(out, &c, 1);
        } else {
            sb_addn(out, &c, 1);
        }
    }
}

/* Starts capturing a text leaf's decoded text for the index. */
static void capture_start(struct scanner *sc, const struct mpart *p, const struct ctype *ct)
{
    if (sc->text.n >= OUTPOST_SUMMARY_INDEX_MAX || strcasecmp(ct->type, "text") ||
        (strcasecmp(ct->subtype, "plain") && strcasecmp(ct->subtype, "html")))
        return;
    int html = !strcasecmp(ct->subtype, "html");
    /* Without index text, only the preview reads the text: the first 4 KiB of the first
     * non-empty text/plain part, else the text of all parts up to PREVIEW_ENOUGH. The
     * decoded stream is the same up to where decoding stops, so the preview is too. */
    if (sc->preview_only && (sc->first_plain.n || (html && sc->text_nonws >= PREVIEW_ENOUGH)))
        return;
    const char *disp = part_header(p, "content-disposition");
    if (disp) {
        struct ctype d;
        if (ctype_parse(disp, 0, &d) == 0) {
            int attachment = !strcasecmp(d.type, "attachment");
            ctype_free(&d);
            if (attachment)
                return;
        }
    }
    struct capture *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->html = html;
    c->limit = sc->preview_only && !html ? PREVIEW_PLAIN : OUTPOST_SUMMARY_INDEX_MAX;
    c->sink = g_mime_stream_mem_new();
    c->filter = g_mime_stream_filter_new(c->sink);
    const char *enc = part_header(p, "content-transfer-encoding");
    if (enc) {
        const char *e = enc;
        skip_cfws(&e, NULL);
        char *tok = get_token(&e);
        GMimeContentEncoding ce = tok ? g_mime_content_encoding_from_string(tok) : GMIME_CONTENT_ENCODING_DEFAULT;
        free(tok);
        if (ce == GMIME_CONTENT_ENCODING_BASE64 || ce == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
            ce == GMIME_CONTENT_ENCODING_UUENCODE) {
            GMimeFilter *f = g_mime_filter_basic_new(ce, FALSE);
            g_mime_stream_filter_add(GMIME_STREAM_FILTER(c->filter), f);
            g_object_unref(f);
        }
    }
    const char *cs = ctype_param(ct, "charset");
    if (cs && strcasecmp(cs, "utf-8") && strcasecmp(cs, "us-ascii")) {
        GMimeFilter *f = g_mime_filter_charset_new(cs, "UTF-8");
        if (f) {
            g_mime_stream_filter_add(GMIME_STREAM_FILTER(c->filter), f);
            g_object_unref(f);
        }
    }
    sc->cap = c;
}

static void capture_end(struct scanner *sc)
{
    struct capture *c = sc->cap;
    if (!c)
        return;
    sc->cap = NULL;
    g_mime_stream_flush(c->filter);
    GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(c->sink));
    size_t n = ba->len;
    if (n > OUTPOST_SUMMARY_INDEX_MAX)
        n = OUTPOST_SUMMARY_INDEX_MAX;
    size_t before = sc->text.n;
    if (before)
        sb_add(&sc->text, "\n");
    if (c->html)
        strip_html(&sc->text, (const char *)ba->data, n);
    else
        sb_addn(&sc->text, (const char *)ba->data, n);
    if (!c->html && !sc->first_plain.n && n)
        sb_addn(&sc->first_plain, (const char *)ba->data, n < 4096 ? n : 4096);
    /* capture_start reads the count only while there is no first plain part, and only
     * up to PREVIEW_ENOUGH */
    for (size_t i = before;
         sc->preview_only && !sc->first_plain.n && i < sc->text.n && sc->text_nonws < PREVIEW_ENOUGH; i++)
        sc->text_nonws += !is_wsp((unsigned char)sc->text.p[i]);
    g_object_unref(c->filter);
    g_object_unref(c->sink);
    free(c);
}

/* Parses one part (headers then body) at the current position. Returns 1
 * when it ended at a boundary line (sc->hit), 0 at the end of input. The
 * part's extent ends at sc->mark_*. */
static int parse_part(struct scanner *sc, struct mpart *p, int depth)
{
    sc->parts++;
    if (read_headers(sc, p)) {
        p->end_off = sc->mark_off;
        p->end_nl = sc->mark_nl;
        return 1;
    }
    struct ctype ct;
    part_ctype(p, &ct);
    int r;
    const char *bnd = ct.type && !strcasecmp(ct.type, "multipart") ? ctype_param(&ct, "boundary") : NULL;
    int nested_ok = depth + 1 < MAX_DEPTH && sc->parts < MAX_PARTS;
    if (!ct.type || !ct.subtype) {
        r = read_body(sc);
    } else if (bnd && *bnd && nested_ok && sc->nb < MAX_DEPTH) {
        p->kind = PART_MULTI;
        int me = sc->nb;
        sc->stack[me].s = strdup(bnd);
        sc->stack[me].n = sc->stack[me].s ? strlen(bnd) : 0;
        sc->nb++;
        int digest = !strcasecmp(ct.subtype, "digest");
        struct mpart **tail = &p->child;
        r = read_body(sc); /* the preamble */
        while (r == 1 && sc->hit == me && !sc->hit_close && sc->parts < MAX_PARTS) {
            struct mpart *c = calloc(1, sizeof *c);
            if (!c)
                break;
            c->digest_child = digest;
            *tail = c;
            tail = &c->next;
            r = parse_part(sc, c, depth + 1);
        }
        if (r == 1 && sc->hit == me && !sc->hit_close)
            r = read_body(sc); /* too many parts: the rest is one body */
        if (r == 1 && sc->hit == me) {
            free(sc->stack[me].s);
            sc->nb = me;
            r = read_body(sc); /* the epilogue */
        } else {
            free(sc->stack[me].s);
            sc->nb = me;
        }
    } else if (!strcasecmp(ct.type, "multipart")) {
        /* no usable boundary: a multipart of no parts (written as one empty text part) */
        p->kind = PART_MULTI;
        r = read_body(sc);
    } else if (!strcasecmp(ct.type, "message") && !strcasecmp(ct.subtype, "rfc822")) {
        p->kind = PART_MESSAGE;
        p->child = calloc(1, sizeof *p->child);
        /* parsed as a message whatever its encoding, as Dovecot does */
        r = p->child && nested_ok ? parse_part(sc, p->child, depth + 1) : read_body(sc);
    } else {
        capture_start(sc, p, &ct);
        r = read_body(sc);
        capture_end(sc);
    }
    ctype_free(&ct);
    p->end_off = sc->mark_off;
    p->end_nl = sc->mark_nl;
    return r;
}

/* ---- ENVELOPE ---------------------------------------------------------- */

struct addr_tok {
    char *s;
    int quoted;
};

/* Words of a phrase or local part up to a delimiter ('<', ':', ',', ';', '@', '>' or end). */
static size_t read_words(const char **pp, struct addr_tok *w, size_t max, char **comment)
{
    size_t n = 0;
    const char *p = *pp;
    for (;;) {
        skip_cfws(&p, comment);
        if (!*p || strchr("<>:,;@", *p))
            break;
        char *s;
        int quoted = 0;
        if (*p == '"') {
            s = get_quoted(&p);
            quoted = 1;
        } else {
            const char *st = p;
            while (*p && !is_wsp((unsigned char)*p) && !strchr("()<>@,;:\\\"[]", *p))
                p++;
            if (p == st) { /* a stray special: skip it */
                p++;
                continue;
            }
            s = dupn(st, (size_t)(p - st));
        }
        if (n < max) {
            w[n].s = s;
            w[n].quoted = quoted;
            n++;
        } else {
            free(s);
        }
    }
    *pp = p;
    return n;
}

static char *join_words(struct addr_tok *w, size_t n, const char *sep)
{
    struct sbuf b = { 0 };
    sb_add(&b, "");
    for (size_t i = 0; i < n; i++) {
        if (i && sep)
            sb_add(&b, sep);
        sb_add(&b, w[i].s);
        free(w[i].s);
    }
    return b.p;
}

static char *read_domain(const char **pp)
{
    const char *p = *pp;
    skip_cfws(&p, NULL);
    struct sbuf b = { 0 };
    sb_add(&b, "");
    for (;;) {
        if (*p == '[') {
            const char *st = p;
            while (*p && *p != ']')
                p++;
            if (*p)
                p++;
            sb_addn(&b, st, (size_t)(p - st));
        } else {
            const char *st = p;
            while (*p && !is_wsp((unsigned char)*p) && !strchr("()<>@,;:\\\"[]", *p))
                p++;
            sb_addn(&b, st, (size_t)(p - st));
        }
        const char *q = p;
        skip_cfws(&q, NULL);
        if (*q != '.' || b.oom)
            break;
        p = q + 1;
        sb_add(&b, ".");
        skip_cfws(&p, NULL);
    }
    *pp = p;
    if (b.p && !*b.p) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* Group start (NIL NIL "name" NIL) and end (NIL NIL NIL NIL) markers. */
static void write_group_mark(struct sbuf *b, const char *name)
{
    sb_add(b, "(NIL NIL ");
    sb_imap_nstring(b, name);
    sb_add(b, " NIL)");
}

static void write_addr(struct sbuf *b, const char *name, const char *route, const char *mailbox, const char *host)
{
    sb_add(b, "(");
    sb_imap_nstring(b, name && *name ? name : NULL);
    sb_add(b, " ");
    sb_imap_nstring(b, route);
    sb_add(b, " ");
    /* a mailbox needs both halves: Dovecot's placeholders for a missing one; with neither (`name <>`) the
     * address would read as a group end, (NIL NIL NIL NIL) with a name (RFC 3501 7.4.2) */
    if (!mailbox && !host) {
        mailbox = "MISSING_MAILBOX";
        host = "MISSING_DOMAIN";
    } else if (mailbox && !host) {
        host = "MISSING_DOMAIN";
    } else if (host && !mailbox) {
        mailbox = "MISSING_MAILBOX";
    }
    sb_imap_nstring(b, mailbox);
    sb_add(b, " ");
    sb_imap_nstring(b, host);
    sb_add(b, ")");
}

/* One mailbox (phrase <addr> or addr-spec); 0 when nothing was there. */
static int write_mailbox(struct sbuf *b, const char **pp, int in_group, int *group_start)
{
    struct addr_tok w[64];
    char *comment = NULL; /* a comment after an addr-spec names it */
    const char *p = *pp;
    size_t n = read_words(&p, w, 64, NULL);
    int wrote = 0;
    if (*p == ':' && !in_group) {
        char *name = join_words(w, n, " ");
        write_group_mark(b, name);
        free(name);
        p++;
        *group_start = 1;
        wrote = 1;
    } else if (*p == '<') {
        char *name = join_words(w, n, " ");
        p++;
        char *route = NULL;
        skip_cfws(&p, NULL);
        if (*p == '@') { /* obsolete route: @a,@b: */
            const char *st = p;
            while (*p && *p != ':' && *p != '>')
                p++;
            route = dupn(st, (size_t)(p - st));
            if (*p == ':')
                p++;
        }
        struct addr_tok lw[16];
        size_t ln = read_words(&p, lw, 16, NULL);
        char *local = join_words(lw, ln, NULL);
        char *host = NULL;
        if (*p == '@') {
            p++;
            host = read_domain(&p);
        }
        skip_cfws(&p, NULL);
        if (*p == '>')
            p++;
        write_addr(b, name, route, local && *local ? local : NULL, host);
        free(name);
        free(route);
        free(local);
        free(host);
        wrote = 1;
    } else if (n) {
        char *local = join_words(w, n, NULL);
        char *host = NULL;
        if (*p == '@') {
            p++;
            host = read_domain(&p);
        }
        const char *q = p;
        skip_cfws(&q, &comment);
        p = q;
        write_addr(b, comment, NULL, local, host);
        free(local);
        free(host);
        wrote = 1;
    } else if (*p == '@') { /* "@host" alone: skip */
        p++;
        free(read_domain(&p));
    }
    free(comment);
    *pp = p;
    return wrote;
}

static int write_addr_list_parsed(struct sbuf *b, const char *v);

/* The slot of `len` octets at `v` in a memo of `slots` (FNV-1a, folded): the address memos'
 * (ENVELOPE form here, display form in decode_addresses). */
static size_t memo_slot(const char *v, size_t len, size_t slots)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)v[i]) * 1099511628211ull;
    return (size_t)((h ^ (h >> 32)) % slots);
}

/* The ENVELOPE form of an address header is a function of its raw value alone and, as for
 * decode_addresses below, a mailbox repeats a few values over and over; reading one (words,
 * quoted strings, comments, RFC 2047 words, domains) costs a dozen allocations. So the last
 * results are kept per thread the same way: ENV_MEMO slots chosen by a hash of the value,
 * each one value of up to ENV_MEMO_KEY octets with what write_addr_list_parsed wrote for it
 * and its count (longer ones are not kept). */
#define ENV_MEMO 128
#define ENV_MEMO_KEY 192
#define ENV_MEMO_VAL 320
struct env_memo {
    uint16_t klen, vlen;
    int count;
    char key[ENV_MEMO_KEY];
    char val[ENV_MEMO_VAL];
};
static _Thread_local struct env_memo env_memo[ENV_MEMO];

/* Writes an address list or NIL; returns the number of addresses written (0: NIL). */
static int write_addr_list(struct sbuf *b, const char *v)
{
    if (!v) {
        sb_add(b, "NIL");
        return 0;
    }
    size_t klen = strlen(v);
    if (klen == 0 || klen > ENV_MEMO_KEY)
        return write_addr_list_parsed(b, v);
    struct env_memo *m = &env_memo[memo_slot(v, klen, ENV_MEMO)];
    if (m->klen == klen && memcmp(m->key, v, klen) == 0) {
        sb_addn(b, m->val, m->vlen);
        return m->count;
    }
    size_t at = b->n;
    int count = write_addr_list_parsed(b, v);
    if (!b->oom && b->n - at <= ENV_MEMO_VAL) {
        memcpy(m->key, v, klen);
        m->klen = (uint16_t)klen;
        memcpy(m->val, b->p + at, b->n - at);
        m->vlen = (uint16_t)(b->n - at);
        m->count = count;
    }
    return count;
}

static int write_addr_list_parsed(struct sbuf *b, const char *v)
{
    struct sbuf l = { 0 };
    const char *p = v;
    int in_group = 0, count = 0;
    while (*p) {
        skip_cfws(&p, NULL);
        if (!*p)
            break;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == ';') {
            p++;
            if (in_group) {
                write_group_mark(&l, NULL);
                in_group = 0;
            }
            continue;
        }
        int gs = 0;
        const char *before = p;
        if (write_mailbox(&l, &p, in_group, &gs))
            count++;
        if (gs)
            in_group = 1;
        if (p == before)
            p++;
    }
    if (in_group)
        write_group_mark(&l, NULL);
    if (!count || l.oom || !l.p) {
        sb_add(b, "NIL");
        count = 0;
    } else {
        sb_add(b, "(");
        sb_add(b, l.p);
        sb_add(b, ")");
    }
    free(l.p);
    return count;
}

/* Sender and Reply-To: absent or without any address (empty, a comment only) they are the From
 * list (RFC 3501 7.4.2). */
static void write_addr_list_or_from(struct sbuf *b, const char *v, const char *from)
{
    struct sbuf t = { 0 };
    if (v && write_addr_list(&t, v) > 0 && !t.oom && t.p)
        sb_add(b, t.p);
    else
        write_addr_list(b, from);
    free(t.p);
}

static void write_envelope(struct sbuf *b, const struct mpart *m)
{
    const char *from = part_header(m, "from");
    const char *sender = part_header(m, "sender");
    const char *reply_to = part_header(m, "reply-to");
    sb_add(b, "(");
    sb_imap_nstring(b, part_header(m, "date"));
    sb_add(b, " ");
    sb_imap_nstring(b, part_header(m, "subject"));
    sb_add(b, " ");
    write_addr_list(b, from);
    sb_add(b, " ");
    write_addr_list_or_from(b, sender, from);
    sb_add(b, " ");
    write_addr_list_or_from(b, reply_to, from);
    static const char *const rest[] = { "to", "cc", "bcc", NULL };
    for (int i = 0; rest[i]; i++) {
        sb_add(b, " ");
        write_addr_list(b, part_header(m, rest[i]));
    }
    sb_add(b, " ");
    sb_imap_nstring(b, part_header(m, "in-reply-to"));
    sb_add(b, " ");
    sb_imap_nstring(b, part_header(m, "message-id"));
    sb_add(b, ")");
}

/* ---- ENVELOPE from a mail's properties ---------------------------------- */

/* The end of the entry of a display list ("Name <addr>, addr, ...", as the transports and
 * decode_addresses write it) that starts at p: a name may hold ", " ("Doe, John <j@x>"), so an
 * entry ends at ", " only after "<...>" or after a bare address (an '@', no space, no '<'). */
static const char *display_entry_end(const char *p)
{
    const char *st = p;
    for (const char *q = p; *q; q++) {
        if (q[0] != ',' || q[1] != ' ')
            continue;
        size_t n = (size_t)(q - st);
        int angle = n && q[-1] == '>' && memchr(st, '<', n);
        int bare = memchr(st, '@', n) && !memchr(st, ' ', n) && !memchr(st, '<', n);
        if (angle || bare)
            return q;
    }
    return p + strlen(p);
}

/* A display list as an RFC 5322 address list: names quoted or RFC 2047 encoded by GMime,
 * addresses as they are. NULL for NULL or an empty list. */
static char *display_to_header(const char *list)
{
    if (!list || !*list)
        return NULL;
    struct sbuf b = { 0 };
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *e = display_entry_end(p);
        char *entry = dupn(p, (size_t)(e - p));
        p = e;
        if (!entry)
            break;
        char *lt = strrchr(entry, '<');
        size_t len = strlen(entry);
        if (b.n)
            sb_add(&b, ", ");
        if (lt && len && entry[len - 1] == '>') {
            char *name = entry;
            char *end = lt;
            while (end > name && end[-1] == ' ')
                end--;
            *end = 0;
            size_t nl = strlen(name);
            if (nl >= 2 && name[0] == '"' && name[nl - 1] == '"') /* a quoted name (decode_addresses) */
                g_mime_utils_unquote_string(name);
            if (*name) {
                char *ph = g_mime_utils_header_encode_phrase(NULL, name, "utf-8");
                sb_add(&b, ph ? ph : name);
                g_free(ph);
                sb_add(&b, " ");
            }
            sb_add(&b, lt);
        } else {
            sb_add(&b, entry);
        }
        free(entry);
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

int outpost_summary_envelope_from_item(outpost_item *it, struct outpost_summary *arena)
{
    outpost_summary_library_init();
    char *from = display_to_header(it->from), *to = display_to_header(it->to), *cc = display_to_header(it->cc);
    char *subject = it->subject ? g_mime_utils_header_encode_text(NULL, it->subject, "utf-8") : NULL;
    char *date = NULL;
    if (it->date) {
        GDateTime *dt = g_date_time_new_from_unix_utc(it->date / 1000);
        date = dt ? g_mime_utils_header_format_date(dt) : NULL;
        if (dt)
            g_date_time_unref(dt);
    }
    char *mid = NULL;
    if (it->message_id && *it->message_id)
        mid = g_strdup_printf(it->message_id[0] == '<' ? "%s" : "<%s>", it->message_id);
    struct sbuf b = { 0 };
    sb_add(&b, "(");
    sb_imap_nstring(&b, date);
    sb_add(&b, " ");
    sb_imap_nstring(&b, subject);
    sb_add(&b, " ");
    write_addr_list(&b, from);
    sb_add(&b, " ");
    write_addr_list(&b, from); /* Sender and Reply-To: the From list (RFC 3501 7.4.2) */
    sb_add(&b, " ");
    write_addr_list(&b, from);
    sb_add(&b, " ");
    write_addr_list(&b, to);
    sb_add(&b, " ");
    write_addr_list(&b, cc);
    sb_add(&b, " NIL NIL "); /* Bcc, In-Reply-To */
    sb_imap_nstring(&b, mid);
    sb_add(&b, ")");
    free(from);
    free(to);
    free(cc);
    g_free(subject);
    g_free(date);
    g_free(mid);
    if (b.oom) {
        free(b.p);
        return -1;
    }
    it->envelope = arena_own(arena, b.p);
    return it->envelope ? 0 : -1;
}

/* ---- BODYSTRUCTURE ----------------------------------------------------- */

static void write_params(struct sbuf *b, const struct ctype *ct, int default_charset)
{
    if (!ct->np && !default_charset) {
        sb_add(b, "NIL");
        return;
    }
    sb_add(b, "(");
    int seen = 0;
    for (size_t i = 0; i < ct->np; i++) {
        if (i)
            sb_add(b, " ");
        if (!strcasecmp(ct->params[i].name, "charset"))
            seen = 1;
        sb_imap_string(b, ct->params[i].name);
        sb_add(b, " ");
        sb_imap_string(b, ct->params[i].value);
    }
    if (default_charset && !seen) {
        if (ct->np)
            sb_add(b, " ");
        sb_add(b, "\"charset\" \"us-ascii\"");
    }
    sb_add(b, ")");
}

static char *trimmed(const char *v)
{
    if (!v)
        return NULL;
    while (is_wsp((unsigned char)*v))
        v++;
    size_t n = strlen(v);
    while (n && is_wsp((unsigned char)v[n - 1]))
        n--;
    return dupn(v, n);
}

static void write_nstring_header(struct sbuf *b, const struct mpart *p, const char *name)
{
    char *v = trimmed(part_header(p, name));
    sb_imap_nstring(b, v);
    free(v);
}

/* disposition, language, location */
static void write_common_ext(struct sbuf *b, const struct mpart *p)
{
    const char *disp = part_header(p, "content-disposition");
    struct ctype d;
    if (disp && ctype_parse(disp, 0, &d) == 0) {
        sb_add(b, "(");
        sb_imap_string(b, d.type);
        sb_add(b, " ");
        write_params(b, &d, 0);
        sb_add(b, ")");
        ctype_free(&d);
    } else {
        sb_add(b, "NIL");
    }
    sb_add(b, " ");
    const char *lang = part_header(p, "content-language");
    int nl = 0;
    if (lang) {
        const char *q = lang;
        while (*q) {
            skip_cfws(&q, NULL);
            if (*q == ',') {
                q++;
                continue;
            }
            char *tok = get_token(&q);
            if (!tok) {
                if (*q)
                    q++;
                continue;
            }
            sb_add(b, nl ? " " : "(");
            sb_imap_string(b, tok);
            free(tok);
            nl++;
        }
    }
    sb_add(b, nl ? ")" : "NIL");
    sb_add(b, " ");
    write_nstring_header(b, p, "content-location");
}

static void write_body(struct sbuf *b, const struct mpart *p);

static void write_multipart(struct sbuf *b, const struct mpart *p, const struct ctype *ct)
{
    sb_add(b, "(");
    if (p->child) {
        for (const struct mpart *c = p->child; c; c = c->next)
            write_body(b, c);
    } else { /* a multipart without parts: one empty text part, as Dovecot */
        sb_add(b, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)");
    }
    sb_add(b, " ");
    sb_imap_string(b, ct->subtype);
    sb_add(b, " ");
    write_params(b, ct, 0);
    sb_add(b, " ");
    write_common_ext(b, p);
    sb_add(b, ")");
}

static uint64_t span(uint64_t start, uint64_t end) { return end > start ? end - start : 0; }

static void write_body(struct sbuf *b, const struct mpart *p)
{
    struct ctype ct;
    part_ctype(p, &ct);
    if (!ct.type || !ct.subtype) {
        ctype_free(&ct);
        b->oom = 1;
        return;
    }
    if (p->kind == PART_MULTI) {
        write_multipart(b, p, &ct);
        ctype_free(&ct);
        return;
    }
    int text = p->kind == PART_LEAF && !strcasecmp(ct.type, "text");
    sb_add(b, "(");
    if (p->kind == PART_MESSAGE) {
        sb_add(b, "\"message\" \"rfc822\"");
    } else {
        sb_imap_string(b, ct.type);
        sb_add(b, " ");
        sb_imap_string(b, ct.subtype);
    }
    sb_add(b, " ");
    write_params(b, &ct, text);
    sb_add(b, " ");
    write_nstring_header(b, p, "content-id");
    sb_add(b, " ");
    write_nstring_header(b, p, "content-description");
    sb_add(b, " ");
    const char *enc = part_header(p, "content-transfer-encoding");
    char *etok = NULL;
    if (enc) {
        const char *e = enc;
        skip_cfws(&e, NULL);
        etok = get_token(&e);
    }
    sb_imap_string(b, etok ? etok : "7bit");
    free(etok);
    sb_add(b, " ");
    sb_printf_u64(b, span(p->body_off, p->end_off));
    if (text) {
        sb_add(b, " ");
        sb_printf_u64(b, span(p->body_nl, p->end_nl));
    } else if (p->kind == PART_MESSAGE) {
        sb_add(b, " ");
        write_envelope(b, p->child);
        sb_add(b, " ");
        write_body(b, p->child);
        sb_add(b, " ");
        sb_printf_u64(b, span(p->body_nl, p->end_nl));
    }
    sb_add(b, " ");
    write_nstring_header(b, p, "content-md5");
    sb_add(b, " ");
    write_common_ext(b, p);
    sb_add(b, ")");
    ctype_free(&ct);
}

/* ---- mail summary ------------------------------------------------------ */

static char *decode_addresses_gmime(const char *v)
{
    InternetAddressList *l = internet_address_list_parse(NULL, v);
    if (!l)
        return NULL;
    char *s = internet_address_list_length(l) > 0 ? internet_address_list_to_string(l, NULL, FALSE) : NULL;
    g_object_unref(l);
    return s;
}

/* The display form of an address header is a function of its raw value alone, and a
 * mailbox's mail repeats a few values over and over (its owner in To, the usual
 * correspondents in From and Cc), while GMime's parse and format of each costs an iconv
 * descriptor per encoded word and an IDNA conversion per mailbox. So the last results are
 * kept per thread: ADDR_MEMO slots chosen by a hash of the value (128: 81% hits on the sync
 * benchmark's mailbox, 71% with 64; 66 KB of thread-local storage), each holding one value
 * of up to ADDR_MEMO_KEY octets and its result (the same octets decode_addresses_gmime
 * gives; longer ones are not kept). Fixed arrays: nothing to free when a thread ends. */
#define ADDR_MEMO 128
#define ADDR_MEMO_KEY 192
#define ADDR_MEMO_VAL 320
struct addr_memo {
    uint16_t klen, vlen; /* vlen == UINT16_MAX: the result was NULL */
    char key[ADDR_MEMO_KEY];
    char val[ADDR_MEMO_VAL];
};
static _Thread_local struct addr_memo addr_memo[ADDR_MEMO];

static char *decode_addresses(const char *v)
{
    if (!v)
        return NULL;
    size_t klen = strlen(v);
    if (klen == 0 || klen > ADDR_MEMO_KEY)
        return decode_addresses_gmime(v);
    struct addr_memo *m = &addr_memo[memo_slot(v, klen, ADDR_MEMO)];
    if (m->klen == klen && memcmp(m->key, v, klen) == 0)
        return m->vlen == UINT16_MAX ? NULL : g_strndup(m->val, m->vlen);
    char *s = decode_addresses_gmime(v);
    size_t vlen = s ? strlen(s) : 0;
    if (vlen <= ADDR_MEMO_VAL) {
        memcpy(m->key, v, klen);
        m->klen = (uint16_t)klen;
        if (s)
            memcpy(m->val, s, vlen);
        m->vlen = s ? (uint16_t)vlen : UINT16_MAX;
    }
    return s;
}

/* Collapses white space and cuts at a character boundary. *used (if not NULL) is set to the
 * bytes of text read. */
static char *make_preview_n(const char *text, size_t n, size_t *used)
{
    struct sbuf b = { 0 };
    sb_add(&b, "");
    int space = 0;
    size_t i = 0;
    for (; i < n && b.n < OUTPOST_SUMMARY_PREVIEW_MAX; i++) {
        unsigned char c = (unsigned char)text[i];
        if (is_wsp(c)) {
            space = b.n > 0;
            continue;
        }
        if (space) {
            sb_add(&b, " ");
            space = 0;
        }
        sb_addn(&b, (const char *)&c, 1);
    }
    if (used)
        *used = i;
    if (b.oom || !b.p) {
        free(b.p);
        return NULL;
    }
    /* never cut a UTF-8 sequence */
    size_t len = b.n;
    if (len >= OUTPOST_SUMMARY_PREVIEW_MAX) {
        while (len && ((unsigned char)b.p[len - 1] & 0xC0) == 0x80)
            len--;
        if (len && (unsigned char)b.p[len - 1] >= 0xC0)
            len--;
        b.p[len] = '\0';
    }
    if (!*b.p) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

static char *make_preview(const char *text, size_t n) { return make_preview_n(text, n, NULL); }

/* make_preview of g_utf8_make_valid(text, n), without making the whole text (a mail's first
 * 4 KiB) valid first: when the part of it the preview read is valid UTF-8 up to a character
 * boundary, g_utf8_make_valid would have copied that part unchanged, so the preview is the
 * same. */
static char *make_preview_valid(const char *text, size_t n)
{
    size_t used = 0;
    char *p = make_preview_n(text, n, &used);
    while (used < n && ((unsigned char)text[used] & 0xC0) == 0x80)
        used++;
    if (g_utf8_validate_len(text, used, NULL))
        return p;
    free(p);
    char *valid = g_utf8_make_valid(text, (gssize)n);
    p = make_preview(valid, strlen(valid));
    g_free(valid);
    return p;
}

static void append_index(struct sbuf *idx, const char *s)
{
    if (s && *s) {
        sb_add(idx, s);
        sb_add(idx, "\n");
    }
}

static void set_index_text(struct outpost_summary *arena, struct sbuf *idx)
{
    free(arena->index_text);
    arena->index_text = NULL;
    arena->index_len = 0;
    if (idx->oom || !idx->p) {
        free(idx->p);
        return;
    }
    if (g_utf8_validate_len(idx->p, idx->n, NULL)) {
        /* valid and without NUL (the common case): what g_utf8_make_valid would copy */
        arena->index_text = idx->p;
        arena->index_len = idx->n;
        return;
    }
    char *valid = g_utf8_make_valid(idx->p, (gssize)idx->n);
    free(idx->p);
    arena->index_text = dupn(valid, strlen(valid));
    arena->index_len = arena->index_text ? strlen(arena->index_text) : 0;
    g_free(valid);
}

/* `whole`: the content when it is in memory (scanned in place), else NULL (read from st). */
static int mail_summary(GMimeStream *st, char *whole, uint64_t size, int with_index, outpost_item *it,
                        struct outpost_summary *a, char *err, size_t errlen)
{
    struct scanner sc;
    memset(&sc, 0, sizeof sc);
    sc.st = st;
    sc.preview_only = !with_index;
    sc.at_line_start = 1;
    if (whole) {
        sc.buf = whole;
        sc.len = (size_t)size;
        sc.eof = 1;
    } else {
        sc.buf = malloc(SCAN_BUF);
    }
    struct mpart *root = calloc(1, sizeof *root);
    if (!sc.buf || !root) {
        if (!whole)
            free(sc.buf);
        free(root);
        snprintf(err, errlen, "out of memory computing a mail summary");
        return -1;
    }
    parse_part(&sc, root, 0);
    for (int i = 0; i < sc.nb; i++)
        free(sc.stack[i].s);
    capture_end(&sc);

    struct sbuf env = { 0 }, bs = { 0 };
    write_envelope(&env, root);
    write_body(&bs, root);
    int rc = 0;
    if (env.oom || bs.oom) {
        snprintf(err, errlen, "out of memory computing a mail summary");
        free(env.p);
        free(bs.p);
        rc = -1;
        goto out;
    }
    it->kind = OUTPOST_ITEM_MAIL;
    it->size = size;
    it->envelope = arena_own(a, env.p);
    it->bodystructure = arena_own(a, bs.p);

    const char *subj = part_header(root, "subject");
    it->subject = subj ? arena_gtake(a, g_mime_utils_header_decode_text(NULL, subj)) : NULL;
    it->from = arena_gtake(a, decode_addresses(part_header(root, "from")));
    it->to = arena_gtake(a, decode_addresses(part_header(root, "to")));
    it->cc = arena_gtake(a, decode_addresses(part_header(root, "cc")));
    const char *mid = part_header(root, "message-id");
    char *id = mid ? g_mime_utils_decode_message_id(mid) : NULL;
    if (id && *id) {
        it->message_id = arena_gtake(a, id);
    } else {
        it->message_id = NULL;
        g_free(id);
    }
    it->date = 0;
    const char *date = part_header(root, "date");
    GDateTime *dt = date ? g_mime_utils_header_decode_date(date) : NULL;
    if (dt) {
        it->date = (int64_t)g_date_time_to_unix(dt) * 1000;
        g_date_time_unref(dt);
    }
    const char *pv = sc.first_plain.n ? sc.first_plain.p : sc.text.p;
    size_t pn = sc.first_plain.n ? sc.first_plain.n : sc.text.n;
    char *preview = NULL;
    if (pv && pn)
        preview = make_preview_valid(pv, pn);
    it->preview = arena_own(a, preview);

    if (with_index) {
        struct sbuf idx = { 0 };
        append_index(&idx, it->subject);
        append_index(&idx, it->from);
        append_index(&idx, it->to);
        append_index(&idx, it->cc);
        if (sc.text.p)
            sb_addn(&idx, sc.text.p, sc.text.n);
        set_index_text(a, &idx);
    }
out:
    free(sc.text.p);
    free(sc.first_plain.p);
    if (!whole)
        free(sc.buf);
    part_free(root);
    return rc;
}

/* ---- iCalendar --------------------------------------------------------- */

static int64_t ical_ms(icalcomponent *root, icalproperty *p, struct icaltimetype t)
{
    if (!p || icaltime_is_null_time(t))
        return 0;
    icaltimezone *z = NULL;
    icalparameter *tz = icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER);
    const char *tzid = tz ? icalparameter_get_tzid(tz) : NULL;
    if (tzid) {
        z = icalcomponent_get_timezone(root, tzid);
        if (!z)
            z = icaltimezone_get_builtin_timezone(tzid);
    }
    if (!z && t.zone)
        z = (icaltimezone *)t.zone;
    if (!z)
        z = icaltimezone_get_utc_timezone();
    return (int64_t)icaltime_as_timet_with_zone(t, z) * 1000;
}

static int ical_summary(uint32_t kind, const char *text, outpost_item *it, struct outpost_summary *a, char *err,
                        size_t errlen)
{
    icalcomponent_kind want = kind == OUTPOST_ITEM_TASK   ? ICAL_VTODO_COMPONENT
                              : kind == OUTPOST_ITEM_NOTE ? ICAL_VJOURNAL_COMPONENT
                                                          : ICAL_VEVENT_COMPONENT;
    const char *wname = want == ICAL_VTODO_COMPONENT ? "VTODO" : want == ICAL_VJOURNAL_COMPONENT ? "VJOURNAL" : "VEVENT";
    icalcomponent *root = icalparser_parse_string(text);
    if (!root) {
        snprintf(err, errlen, "not an iCalendar object (expected a %s)", wname);
        return -1;
    }
    icalcomponent *c = NULL;
    if (icalcomponent_isa(root) == want) {
        c = root;
    } else {
        for (icalcomponent *x = icalcomponent_get_first_component(root, want); x;
             x = icalcomponent_get_next_component(root, want)) {
            if (!c)
                c = x;
            if (!icalcomponent_get_first_property(x, ICAL_RECURRENCEID_PROPERTY)) {
                c = x; /* the master, not an override */
                break;
            }
        }
    }
    if (!c) {
        icalcomponent_free(root);
        snprintf(err, errlen, "the iCalendar object has no %s", wname);
        return -1;
    }
    it->kind = kind;
    icalproperty *p;
    if ((p = icalcomponent_get_first_property(c, ICAL_SUMMARY_PROPERTY)) && icalproperty_get_summary(p))
        it->subject = arena_gtake(a, g_strdup(icalproperty_get_summary(p)));
    if ((p = icalcomponent_get_first_property(c, ICAL_UID_PROPERTY)) && icalproperty_get_uid(p))
        it->object_uid = arena_gtake(a, g_strdup(icalproperty_get_uid(p)));
    it->date = 0;
    if (kind == OUTPOST_ITEM_TASK && (p = icalcomponent_get_first_property(c, ICAL_DUE_PROPERTY)))
        it->date = ical_ms(root, p, icalproperty_get_due(p));
    if (!it->date && (p = icalcomponent_get_first_property(c, ICAL_DTSTART_PROPERTY)))
        it->date = ical_ms(root, p, icalproperty_get_dtstart(p));
    if (!it->date && (p = icalcomponent_get_first_property(c, ICAL_DTSTAMP_PROPERTY)))
        it->date = ical_ms(root, p, icalproperty_get_dtstamp(p));
    if ((p = icalcomponent_get_first_property(c, ICAL_ORGANIZER_PROPERTY)) && icalproperty_get_organizer(p)) {
        const char *addr = icalproperty_get_organizer(p);
        if (!strncasecmp(addr, "mailto:", 7))
            addr += 7;
        icalparameter *cn = icalproperty_get_first_parameter(p, ICAL_CN_PARAMETER);
        const char *name = cn ? icalparameter_get_cn(cn) : NULL;
        it->from = arena_gtake(a, name && *name ? g_strdup_printf("%s <%s>", name, addr) : g_strdup(addr));
    }
    const char *desc = NULL;
    if ((p = icalcomponent_get_first_property(c, ICAL_DESCRIPTION_PROPERTY)))
        desc = icalproperty_get_description(p);
    if (desc && *desc) {
        char *valid = g_utf8_make_valid(desc, -1);
        it->preview = arena_own(a, make_preview(valid, strlen(valid)));
        g_free(valid);
    }
    struct sbuf idx = { 0 };
    append_index(&idx, it->subject);
    append_index(&idx, it->from);
    if ((p = icalcomponent_get_first_property(c, ICAL_LOCATION_PROPERTY)))
        append_index(&idx, icalproperty_get_location(p));
    append_index(&idx, desc);
    set_index_text(a, &idx);
    icalcomponent_free(root);
    return 0;
}

/* ---- vCard (summary fields only) --------------------------------------- */

/* Unescapes a vCard text value (\n \, \; \\). */
static char *vcard_text(const char *v, size_t n)
{
    struct sbuf b = { 0 };
    sb_add(&b, "");
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '\\' && i + 1 < n) {
            char c = v[++i];
            sb_add(&b, c == 'n' || c == 'N' ? "\n" : (char[2]){ c, 0 });
        } else {
            sb_addn(&b, v + i, 1);
        }
    }
    return b.p;
}

static int vcard_summary(const char *text, outpost_item *it, struct outpost_summary *a, char *err, size_t errlen)
{
    /* Unfold: a line break followed by a space or tab continues the line. */
    struct sbuf u = { 0 };
    sb_add(&u, "");
    for (const char *p = text; *p; p++) {
        if (*p == '\r' && p[1] == '\n' && (p[2] == ' ' || p[2] == '\t')) {
            p += 2;
            continue;
        }
        if (*p == '\n' && (p[1] == ' ' || p[1] == '\t')) {
            p++;
            continue;
        }
        sb_addn(&u, p, 1);
    }
    if (u.oom) {
        free(u.p);
        snprintf(err, errlen, "out of memory reading a vCard");
        return -1;
    }
    int in_card = 0, done = 0;
    char *fn = NULL, *n_name = NULL, *uid = NULL, *note = NULL;
    struct sbuf emails = { 0 };
    for (char *line = u.p; line && *line && !done;) {
        char *end = strchr(line, '\n');
        char *next = end ? end + 1 : NULL;
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len && line[len - 1] == '\r')
            len--;
        /* name[;params]:value — the colon outside quotes */
        size_t colon = 0;
        int q = 0;
        while (colon < len && (line[colon] != ':' || q)) {
            if (line[colon] == '"')
                q = !q;
            colon++;
        }
        if (colon < len) {
            size_t nend = 0;
            while (nend < colon && line[nend] != ';')
                nend++;
            const char *name = line;
            for (size_t k = 0; k < nend; k++)
                if (line[k] == '.')
                    name = line + k + 1; /* group prefix */
            size_t nl = (size_t)(line + nend - name);
            const char *val = line + colon + 1;
            size_t vl = len - colon - 1;
#define IS(s) (nl == strlen(s) && !strncasecmp(name, s, nl))
            if (IS("BEGIN") && vl == 5 && !strncasecmp(val, "VCARD", 5)) {
                in_card = 1;
            } else if (IS("END") && in_card) {
                done = 1;
            } else if (in_card && IS("FN") && !fn) {
                fn = vcard_text(val, vl);
            } else if (in_card && IS("N") && !n_name) {
                /* Family;Given;Additional;Prefix;Suffix → "Given Family" */
                const char *semi = memchr(val, ';', vl);
                size_t fam = semi ? (size_t)(semi - val) : vl;
                const char *given = semi ? semi + 1 : "";
                size_t gl = semi ? strcspn(given, ";") : 0;
                if (gl > vl - fam - 1 && semi)
                    gl = vl - fam - 1;
                char *f = vcard_text(val, fam), *g = vcard_text(given, gl);
                if (f && g)
                    n_name = g_strdup_printf("%s%s%s", g, *g && *f ? " " : "", f);
                free(f);
                free(g);
            } else if (in_card && IS("UID") && !uid) {
                uid = vcard_text(val, vl);
            } else if (in_card && IS("NOTE") && !note) {
                note = vcard_text(val, vl);
            } else if (in_card && IS("EMAIL") && vl) {
                if (emails.n)
                    sb_add(&emails, ", ");
                char *e = vcard_text(val, vl);
                if (e)
                    sb_add(&emails, e);
                free(e);
            }
#undef IS
        }
        line = next;
    }
    free(u.p);
    if (!in_card) {
        free(fn);
        g_free(n_name);
        free(uid);
        free(note);
        free(emails.p);
        snprintf(err, errlen, "not a vCard (no BEGIN:VCARD)");
        return -1;
    }
    it->kind = OUTPOST_ITEM_CONTACT;
    if (fn && *fn)
        it->subject = arena_gtake(a, g_strdup(fn));
    else if (n_name && *n_name)
        it->subject = arena_gtake(a, g_strdup(n_name));
    if (uid && *uid)
        it->object_uid = arena_gtake(a, g_strdup(uid));
    if (emails.p && *emails.p)
        it->to = arena_gtake(a, g_strdup(emails.p));
    if (note && *note) {
        char *valid = g_utf8_make_valid(note, -1);
        it->preview = arena_own(a, make_preview(valid, strlen(valid)));
        g_free(valid);
    }
    struct sbuf idx = { 0 };
    append_index(&idx, it->subject);
    append_index(&idx, it->to);
    append_index(&idx, note);
    set_index_text(a, &idx);
    free(fn);
    g_free(n_name);
    free(uid);
    free(note);
    free(emails.p);
    return 0;
}

/* ---- builder ----------------------------------------------------------- */

struct outpost_summary_builder {
    uint32_t kind;
    int no_index;                /* index_text not wanted */
    GMimeStream *st;
    int spooled;                 /* st is a temporary file */
    uint64_t size;
};

struct outpost_summary_builder *outpost_summary_builder_new(uint32_t kind)
{
    return outpost_summary_builder_new_sized(kind, 0);
}

struct outpost_summary_builder *outpost_summary_builder_new_sized(uint32_t kind, uint64_t size_hint)
{
    outpost_summary_library_init();
    struct outpost_summary_builder *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->kind = kind;
    if (size_hint && size_hint <= OUTPOST_SUMMARY_SPOOL_BYTES)
        b->st = g_mime_stream_mem_new_with_byte_array(g_byte_array_sized_new((guint)size_hint));
    else
        b->st = g_mime_stream_mem_new();
    return b;
}

void outpost_summary_builder_free(struct outpost_summary_builder *b)
{
    if (!b)
        return;
    if (b->st)
        g_object_unref(b->st);
    free(b);
}

int outpost_summary_builder_reuse(struct outpost_summary_builder *b, uint32_t kind, uint64_t size_hint)
{
    if (b->spooled || b->size > OUTPOST_SUMMARY_REUSE_BYTES || G_OBJECT(b->st)->ref_count != 1)
        return -1;
    GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(b->st));
    if (size_hint && size_hint <= OUTPOST_SUMMARY_SPOOL_BYTES && size_hint > ba->len)
        g_byte_array_set_size(ba, (guint)size_hint); /* grows the allocation once, if need be */
    g_byte_array_set_size(ba, 0);
    if (g_mime_stream_reset(b->st) != 0)
        return -1;
    b->kind = kind;
    b->no_index = 0;
    b->size = 0;
    return 0;
}

uint64_t outpost_summary_builder_size(const struct outpost_summary_builder *b) { return b->size; }

void outpost_summary_builder_set_index(struct outpost_summary_builder *b, int want)
{
    b->no_index = !want;
}

/* Moves the in-memory spool to an anonymous temporary file. */
static int spool_to_file(struct outpost_summary_builder *b, char *err, size_t errlen)
{
    FILE *f = tmpfile();
    if (!f) {
        snprintf(err, errlen, "cannot create a temporary file to spool a large item (check TMPDIR)");
        return -1;
    }
    GMimeStream *fs = g_mime_stream_file_new(f); /* owns f */
    GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(b->st));
    if (ba->len && g_mime_stream_write(fs, (const char *)ba->data, ba->len) != (ssize_t)ba->len) {
        g_object_unref(fs);
        snprintf(err, errlen, "cannot write the temporary spool file (disk full?)");
        return -1;
    }
    g_object_unref(b->st);
    b->st = fs;
    b->spooled = 1;
    return 0;
}

int outpost_summary_builder_feed(struct outpost_summary_builder *b, const void *data, size_t len, char *err,
                                 size_t errlen)
{
    if (!len)
        return 0;
    if (b->kind != OUTPOST_ITEM_MAIL && b->size + len > OUTPOST_SUMMARY_OBJECT_MAX) {
        snprintf(err, errlen, "object larger than %u bytes", OUTPOST_SUMMARY_OBJECT_MAX);
        return -1;
    }
    if (!b->spooled && b->size + len > OUTPOST_SUMMARY_SPOOL_BYTES && spool_to_file(b, err, errlen) != 0)
        return -1;
    if (g_mime_stream_write(b->st, data, len) != (ssize_t)len) {
        snprintf(err, errlen, "cannot write the summary spool (disk full?)");
        return -1;
    }
    b->size += len;
    return 0;
}

int outpost_summary_builder_content(struct outpost_summary_builder *b,
                                    int (*fn)(void *ctx, const void *data, size_t len), void *ctx, char *err,
                                    size_t errlen)
{
    if (!b->spooled) {
        GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(b->st));
        return ba->len ? fn(ctx, ba->data, ba->len) : 0;
    }
    if (g_mime_stream_seek(b->st, 0, GMIME_STREAM_SEEK_SET) < 0) {
        snprintf(err, errlen, "cannot rewind the summary spool");
        return -1;
    }
    char *buf = malloc(65536);
    if (!buf) {
        snprintf(err, errlen, "out of memory reading the summary spool");
        return -1;
    }
    uint64_t left = b->size;
    int rc = 0;
    while (left && rc == 0) {
        ssize_t r = g_mime_stream_read(b->st, buf, left < 65536 ? (size_t)left : 65536);
        if (r <= 0) {
            snprintf(err, errlen, "cannot read the summary spool");
            rc = -1;
            break;
        }
        left -= (uint64_t)r;
        rc = fn(ctx, buf, (size_t)r);
    }
    free(buf);
    return rc;
}

int outpost_summary_builder_finish(struct outpost_summary_builder *b, outpost_item *it,
                                   struct outpost_summary *arena, char *err, size_t errlen)
{
    if (g_mime_stream_seek(b->st, 0, GMIME_STREAM_SEEK_SET) < 0) {
        snprintf(err, errlen, "cannot rewind the summary spool");
        return -1;
    }
    it->size = b->size;
    switch (b->kind) {
    case OUTPOST_ITEM_MAIL: {
        char *whole = NULL;
        if (!b->spooled) {
            GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(b->st));
            whole = ba->len == b->size ? (char *)ba->data : NULL;
        }
        return mail_summary(b->st, whole, b->size, !b->no_index, it, arena, err, errlen);
    }
    case OUTPOST_ITEM_EVENT:
    case OUTPOST_ITEM_TASK:
    case OUTPOST_ITEM_NOTE:
    case OUTPOST_ITEM_CONTACT: {
        char *text = malloc((size_t)b->size + 1);
        if (!text) {
            snprintf(err, errlen, "out of memory reading an object of %llu bytes", (unsigned long long)b->size);
            return -1;
        }
        size_t got = 0;
        while (got < b->size) {
            ssize_t r = g_mime_stream_read(b->st, text + got, (size_t)b->size - got);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        text[got] = '\0';
        int rc = b->kind == OUTPOST_ITEM_CONTACT ? vcard_summary(text, it, arena, err, errlen)
                                                 : ical_summary(b->kind, text, it, arena, err, errlen);
        free(text);
        it->size = b->size;
        return rc;
    }
    default:
        snprintf(err, errlen, "unknown item kind %u", b->kind);
        return -1;
    }
}

int outpost_summary_compute(uint32_t kind, const void *data, size_t len, outpost_item *it,
                            struct outpost_summary *arena, char *err, size_t errlen)
{
    struct outpost_summary_builder *b = outpost_summary_builder_new(kind);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = outpost_summary_builder_feed(b, data, len, err, errlen);
    if (rc == 0)
        rc = outpost_summary_builder_finish(b, it, arena, err, errlen);
    outpost_summary_builder_free(b);
    return rc;
}
