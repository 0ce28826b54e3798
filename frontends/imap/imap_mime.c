/* imap_mime.c — locating body sections by streaming scan (see imap_mime.h). */
#include "imap_mime.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_syntax.h"

#define HDR_MAX (256 * 1024) /* header bytes examined for Content-Type */
#define LR_BUF 16384

/* Line reader over a region. */
struct lr {
    imap_range_read_fn rd;
    void *ctx;
    uint64_t pos, end;  /* next unread offset, region end */
    char buf[LR_BUF];
    uint64_t boff;      /* offset of buf[0] */
    size_t blen;
};

static void lr_init(struct lr *l, imap_range_read_fn rd, void *ctx, uint64_t start, uint64_t end)
{
    l->rd = rd;
    l->ctx = ctx;
    l->pos = start;
    l->end = end;
    l->boff = start;
    l->blen = 0;
}

/* Next line: *start its offset, *len its length including the line end,
 * *pre points to its first min(len, LR_BUF/2) bytes (*prelen). 1 = a line,
 * 0 = end of region, -1 = read error. */
static int lr_next(struct lr *l, uint64_t *start, uint64_t *len, const char **pre, size_t *prelen)
{
    if (l->pos >= l->end)
        return 0;
    /* keep the line start at the front of the buffer */
    if (l->pos > l->boff) {
        size_t drop = (size_t)(l->pos - l->boff);
        if (drop >= l->blen) {
            l->blen = 0;
            l->boff = l->pos;
        } else {
            memmove(l->buf, l->buf + drop, l->blen - drop);
            l->blen -= drop;
            l->boff = l->pos;
        }
    }
    *start = l->pos;
    uint64_t scanned = 0; /* bytes of this line already known not to contain LF */
    for (;;) {
        while (scanned < l->blen) {
            if (l->buf[scanned] == '\n') {
                *len = scanned + 1;
                *pre = l->buf;
                *prelen = (size_t)(*len < LR_BUF / 2 ? *len : LR_BUF / 2);
                l->pos += *len;
                return 1;
            }
            scanned++;
        }
        if (l->boff + l->blen >= l->end) {
            *len = l->end - l->pos;
            *pre = l->buf;
            *prelen = (size_t)(*len < LR_BUF / 2 ? *len : LR_BUF / 2);
            if (*prelen > l->blen)
                *prelen = l->blen;
            l->pos = l->end;
            return 1;
        }
        if (l->blen == LR_BUF) {
            /* a very long line: keep its first half, skip forward to its end */
            uint64_t off = l->boff + LR_BUF;
            char tmp[4096];
            for (;;) {
                size_t want = sizeof tmp;
                if (off >= l->end)
                    break;
                if (l->end - off < want)
                    want = (size_t)(l->end - off);
                size_t got = 0;
                if (l->rd(l->ctx, off, tmp, want, &got) != 0)
                    return -1;
                if (got == 0)
                    break;
                char *nl = memchr(tmp, '\n', got);
                if (nl) {
                    off += (uint64_t)(nl - tmp) + 1;
                    break;
                }
                off += got;
            }
            if (off > l->end)
                off = l->end;
            *len = off - l->pos;
            *pre = l->buf;
            *prelen = LR_BUF / 2;
            l->pos = off;
            l->boff = off;
            l->blen = 0;
            return 1;
        }
        size_t want = LR_BUF - l->blen;
        uint64_t at = l->boff + l->blen;
        if (l->end - at < want)
            want = (size_t)(l->end - at);
        size_t got = 0;
        if (l->rd(l->ctx, at, l->buf + l->blen, want, &got) != 0)
            return -1;
        if (got == 0) {
            l->end = at; /* content shorter than announced */
            if (l->pos >= l->end)
                return 0;
            continue;
        }
        l->blen += got;
    }
}

static int line_blank(const char *p, uint64_t len)
{
    return (len == 1 && p[0] == '\n') || (len == 2 && p[0] == '\r' && p[1] == '\n');
}

struct entity {
    uint64_t hstart, hend;  /* header incl. blank line */
    uint64_t bend;          /* body is [hend, bend) */
    char type[64], subtype[64];
    char boundary[128];
};

/* Finds the header end and parses Content-Type of the entity at [start, end).
 * digest: the default type is message/rfc822 (RFC 2046 5.1.5). */
static int entity_parse(imap_range_read_fn rd, void *ctx, uint64_t start, uint64_t end, int digest,
                        struct entity *e)
{
    struct lr *l = malloc(sizeof *l);
    char *hdr = malloc(HDR_MAX + 1);
    int rc = -1;
    if (!l || !hdr)
        goto out;
    lr_init(l, rd, ctx, start, end);
    e->hstart = start;
    e->hend = end;
    e->bend = end;
    strcpy(e->type, digest ? "message" : "text");
    strcpy(e->subtype, digest ? "rfc822" : "plain");
    e->boundary[0] = '\0';
    size_t hl = 0;
    uint64_t ls, ll;
    const char *pre;
    size_t pl;
    int r;
    while ((r = lr_next(l, &ls, &ll, &pre, &pl)) == 1) {
        if (line_blank(pre, ll)) {
            e->hend = ls + ll;
            break;
        }
        if (hl + pl <= HDR_MAX) {
            memcpy(hdr + hl, pre, pl);
            hl += pl;
        }
    }
    if (r < 0)
        goto out;
    hdr[hl] = '\0';
    /* find Content-Type: (field starts at a line start) */
    for (size_t i = 0; i < hl;) {
        size_t eol = i;
        while (eol < hl && hdr[eol] != '\n')
            eol++;
        if (hl - i >= 13 && !strncasecmp(hdr + i, "content-type:", 13)) {
            /* unfold the value into v */
            char v[2048];
            size_t vl = 0;
            size_t j = i + 13;
            for (;;) {
                for (; j < hl && hdr[j] != '\n'; j++)
                    if (hdr[j] != '\r' && vl + 1 < sizeof v)
                        v[vl++] = hdr[j] == '\t' ? ' ' : hdr[j];
                if (j + 1 < hl && (hdr[j + 1] == ' ' || hdr[j + 1] == '\t'))
                    j++;
                else
                    break;
            }
            v[vl] = '\0';
            char *p = v;
            while (*p == ' ')
                p++;
            size_t tl = strcspn(p, "/; ");
            if (p[tl] == '/' && tl > 0 && tl < sizeof e->type) {
                memcpy(e->type, p, tl);
                e->type[tl] = '\0';
                p += tl + 1;
                size_t sl = strcspn(p, "; ");
                if (sl > 0 && sl < sizeof e->subtype) {
                    memcpy(e->subtype, p, sl);
                    e->subtype[sl] = '\0';
                }
            }
            for (char *b = v; (b = strcasestr(b, "boundary=")) != NULL; b++) {
                if (b > v && b[-1] != ';' && b[-1] != ' ')
                    continue;
                b += 9;
                size_t bl = 0;
                if (*b == '"') {
                    b++;
                    while (b[bl] && b[bl] != '"')
                        bl++;
                } else {
                    bl = strcspn(b, "; ");
                }
                if (bl > 0 && bl < sizeof e->boundary) {
                    memcpy(e->boundary, b, bl);
                    e->boundary[bl] = '\0';
                }
                break;
            }
            break;
        }
        i = eol + 1;
    }
    rc = 0;
out:
    free(l);
    free(hdr);
    return rc;
}

static int is_multipart(const struct entity *e)
{
    return !strcasecmp(e->type, "multipart") && e->boundary[0];
}

static int is_rfc822(const struct entity *e)
{
    return !strcasecmp(e->type, "message") && !strcasecmp(e->subtype, "rfc822");
}

/* Region [start,end) of child n (1-based) of multipart entity e: its
 * header+body. 1 found, 0 not found, -1 error. When the child's last line
 * is a close-delimiter `--X--` (a nested multipart ending right before this
 * entity's next delimiter), *cend_eol is the end including that line's line
 * end and `closeb` holds X; else closeb is "". */
static int multipart_child(imap_range_read_fn rd, void *ctx, const struct entity *e, uint32_t n, uint64_t *cstart,
                           uint64_t *cend, uint64_t *cend_eol, char *closeb, size_t closeb_size)
{
    char prev_close[128] = "";
    struct lr *l = malloc(sizeof *l);
    if (!l)
        return -1;
    lr_init(l, rd, ctx, e->hend, e->bend);
    size_t bl = strlen(e->boundary);
    uint32_t idx = 0;
    int found = 0, r;
    uint64_t ls, ll, prev_eol_start = e->hend;
    const char *pre;
    size_t pl;
    while ((r = lr_next(l, &ls, &ll, &pre, &pl)) == 1) {
        int delim = pl >= bl + 2 && pre[0] == '-' && pre[1] == '-' && !memcmp(pre + 2, e->boundary, bl);
        if (delim) {
            int close = pl >= bl + 4 && pre[bl + 2] == '-' && pre[bl + 3] == '-';
            if (idx == n) {
                /* the CRLF before the delimiter belongs to it */
                uint64_t end = ls;
                if (end > *cstart)
                    end = prev_eol_start;
                if (end < *cstart)
                    end = *cstart;
                *cend = end;
                *cend_eol = ls > end ? ls : end;
                snprintf(closeb, closeb_size, "%s", prev_close);
                found = 1;
                break;
            }
            if (close)
                break;
            idx++;
            if (idx == n)
                *cstart = ls + ll;
        }
        /* whether this line looks like a close-delimiter, `--X--` and transport padding */
        size_t t = pl;
        while (t && (pre[t - 1] == '\r' || pre[t - 1] == '\n' || pre[t - 1] == ' ' || pre[t - 1] == '\t'))
            t--;
        if (pl == ll && t >= 5 && t - 4 < sizeof prev_close && pre[0] == '-' && pre[1] == '-' && pre[t - 2] == '-' &&
            pre[t - 1] == '-') {
            memcpy(prev_close, pre + 2, t - 4);
            prev_close[t - 4] = '\0';
        } else {
            prev_close[0] = '\0';
        }
        /* where this line's line end starts (for the next delimiter) */
        if (ll >= 1) {
            uint64_t eol = ls + ll - 1; /* the LF */
            if (ll >= 2 && pl == ll && pre[ll - 2] == '\r')
                eol--;
            else if (ll >= 2 && pl < ll)
                eol--; /* long line: assume CRLF */
            prev_eol_start = eol;
        }
    }
    if (r < 0) {
        free(l);
        return -1;
    }
    if (!found && idx == n && n > 0) {
        *cend = e->bend; /* unterminated last part */
        found = 1;
    }
    free(l);
    return found;
}

int imap_mime_locate(imap_range_read_fn rd, void *ctx, uint64_t total, const uint32_t *part, size_t npart,
                     int spec, struct imap_region *out)
{
    struct entity e;
    int is_msg = 1;     /* e is a message (top level or encapsulated) */
    int digest = 0;
    if (entity_parse(rd, ctx, 0, total, 0, &e) != 0)
        return -1;
    out->start = out->end = 0;
    for (size_t k = 0; k < npart; k++) {
        if (!is_msg && is_rfc822(&e)) {
            /* step into the encapsulated message */
            struct entity m;
            if (entity_parse(rd, ctx, e.hend, e.bend, 0, &m) != 0)
                return -1;
            e = m;
            is_msg = 1;
        }
        if (is_multipart(&e)) {
            uint64_t cs = 0, ce = 0, ce_eol = 0;
            char closeb[128] = "";
            int r = multipart_child(rd, ctx, &e, part[k], &cs, &ce, &ce_eol, closeb, sizeof closeb);
            if (r < 0)
                return -1;
            if (r == 0)
                return 0; /* no such part: empty */
            digest = !strcasecmp(e.subtype, "digest");
            struct entity c;
            if (entity_parse(rd, ctx, cs, ce, digest, &c) != 0)
                return -1;
            if (ce_eol > ce) {
                /* The CRLF before the next delimiter stays with the child where the child did not end in
                 * a body: its last line is the close-delimiter of a nested multipart, or it is a message
                 * that is a header only. BODYSTRUCTURE's octets count it so (the core's summaries, equal
                 * to Dovecot's), and BODY[n] must agree with them. */
                const struct entity *top = &c;
                struct entity m;
                int header_only = 0;
                if (is_rfc822(&c)) {
                    if (entity_parse(rd, ctx, c.hend, c.bend, 0, &m) != 0)
                        return -1;
                    top = &m;
                    header_only = m.hend == m.bend && m.bend > m.hstart;
                }
                int nested_close = closeb[0] && is_multipart(top) && !strcmp(top->boundary, closeb);
                if ((nested_close || header_only) && entity_parse(rd, ctx, cs, ce_eol, digest, &c) != 0)
                    return -1;
            }
            e = c;
            is_msg = 0;
        } else if (!strcasecmp(e.type, "multipart")) {
            /* a multipart without a boundary has no part to find (BODYSTRUCTURE shows one empty text
             * part, as Dovecot does) */
            return 0;
        } else if (is_msg && part[k] == 1) {
            is_msg = 0; /* the body of a non-multipart message is its part 1 */
        } else {
            return 0;
        }
    }
    if (npart == 0) {
        if (spec == IMAP_SEC_HEADER || spec == IMAP_SEC_HEADER_FIELDS || spec == IMAP_SEC_HEADER_FIELDS_NOT) {
            out->start = e.hstart;
            out->end = e.hend;
        } else if (spec == IMAP_SEC_TEXT) {
            out->start = e.hend;
            out->end = e.bend;
        } else {
            out->start = 0;
            out->end = total;
        }
        return 0;
    }
    switch (spec) {
    case IMAP_SEC_MIME:
        out->start = e.hstart;
        out->end = e.hend;
        return 0;
    case IMAP_SEC_ALL:
        out->start = e.hend;
        out->end = e.bend;
        return 0;
    default:
        if (!is_rfc822(&e))
            return 0;
        {
            struct entity m;
            if (entity_parse(rd, ctx, e.hend, e.bend, 0, &m) != 0)
                return -1;
            if (spec == IMAP_SEC_TEXT) {
                out->start = m.hend;
                out->end = m.bend;
            } else {
                out->start = m.hstart;
                out->end = m.hend;
            }
        }
        return 0;
    }
}

static int name_in(const char *f, size_t fl, char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(names[i]) == fl && !strncasecmp(f, names[i], fl))
            return 1;
    return 0;
}

char *imap_mime_filter_header(const char *hdr, size_t len, char *const *names, size_t nnames, int want_not,
                              size_t *outlen)
{
    char *out = malloc(len + 5); /* + a missing final CRLF + the blank line */
    if (!out)
        return NULL;
    size_t o = 0;
    size_t i = 0;
    while (i < len) {
        /* one field: first line plus continuation lines */
        size_t fs = i;
        size_t eol = i;
        while (eol < len && hdr[eol] != '\n')
            eol++;
        if (eol - i == 0 || (eol - i == 1 && hdr[i] == '\r'))
            break; /* the blank line */
        size_t fe = eol < len ? eol + 1 : eol;
        while (fe < len && (hdr[fe] == ' ' || hdr[fe] == '\t')) {
            size_t e2 = fe;
            while (e2 < len && hdr[e2] != '\n')
                e2++;
            fe = e2 < len ? e2 + 1 : e2;
        }
        const char *colon = memchr(hdr + fs, ':', fe - fs);
        size_t nl = colon ? (size_t)(colon - (hdr + fs)) : 0;
        while (nl > 0 && (hdr[fs + nl - 1] == ' ' || hdr[fs + nl - 1] == '\t'))
            nl--;
        int match = colon && name_in(hdr + fs, nl, names, nnames);
        if (colon && (match != 0) != (want_not != 0)) {
            memcpy(out + o, hdr + fs, fe - fs);
            o += fe - fs;
            if (hdr[fe - 1] != '\n') {
                out[o++] = '\r';
                out[o++] = '\n';
            }
        }
        i = fe;
    }
    out[o++] = '\r';
    out[o++] = '\n';
    *outlen = o;
    return out;
}
