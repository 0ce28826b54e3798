/* imap_syntax.c — sequence sets, FETCH attributes, SEARCH keys, dates,
 * modified UTF-7 and BODYSTRUCTURE reduction (see imap_syntax.h). */
#include "imap_syntax.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <outpost/item.h>

/* The message may quote the client's words and ends up in a response text:
 * only TEXT-CHARs there (RFC 3501 9: 7-bit, no CR/LF), others become '?'. */
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    for (char *p = err; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
}

static char *xstrndup(const char *s, size_t n)
{
    char *r = malloc(n + 1);
    if (r) {
        memcpy(r, s, n);
        r[n] = '\0';
    }
    return r;
}

/* ---- numbers ---- */

int imap_number_parse(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s))
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (d > max || v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* ---- sequence sets ---- */

static int parse_seqnum(const char **p, uint64_t *out)
{
    const char *s = *p;
    if (*s == '*') {
        *out = IMAP_STAR;
        *p = s + 1;
        return 0;
    }
    if (*s < '1' || *s > '9')
        return -1;
    uint64_t v = 0;
    while (isdigit((unsigned char)*s)) {
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > UINT32_MAX)
            return -1;
        s++;
    }
    *out = v;
    *p = s;
    return 0;
}

int imap_seqset_parse(const char *s, struct imap_seqset *out)
{
    out->r = NULL;
    out->n = 0;
    size_t cap = 0;
    if (!s || !*s)
        return -1;
    for (;;) {
        struct imap_range r;
        if (parse_seqnum(&s, &r.lo) != 0)
            goto bad;
        r.hi = r.lo;
        if (*s == ':') {
            s++;
            if (parse_seqnum(&s, &r.hi) != 0)
                goto bad;
        }
        if (out->n == cap) {
            if (cap >= 1u << 20)
                goto bad;
            cap = cap ? cap * 2 : 4;
            struct imap_range *nr = realloc(out->r, cap * sizeof *nr);
            if (!nr)
                goto bad;
            out->r = nr;
        }
        out->r[out->n++] = r;
        if (*s == '\0')
            return 0;
        if (*s != ',')
            goto bad;
        s++;
    }
bad:
    imap_seqset_free(out);
    return -1;
}

void imap_seqset_free(struct imap_seqset *s)
{
    free(s->r);
    s->r = NULL;
    s->n = 0;
}

int imap_seqset_contains(const struct imap_seqset *s, uint32_t v, uint32_t star)
{
    for (size_t i = 0; i < s->n; i++) {
        uint64_t lo = s->r[i].lo == IMAP_STAR ? star : s->r[i].lo;
        uint64_t hi = s->r[i].hi == IMAP_STAR ? star : s->r[i].hi;
        if (lo > hi) {
            uint64_t t = lo;
            lo = hi;
            hi = t;
        }
        if (v >= lo && v <= hi)
            return 1;
    }
    return 0;
}

/* ---- FETCH ---- */

static void fetch_att_free(struct imap_fetch_att *a)
{
    for (size_t i = 0; i < a->nfields; i++)
        free(a->fields[i]);
    free(a->fields);
    free(a->label);
}

void imap_fetch_free(struct imap_fetch_req *r)
{
    for (size_t i = 0; i < r->n; i++)
        fetch_att_free(&r->a[i]);
    free(r->a);
    memset(r, 0, sizeof *r);
}

static struct imap_fetch_att *fetch_add(struct imap_fetch_req *r, int kind)
{
    if (r->n >= 256)
        return NULL;
    struct imap_fetch_att *na = realloc(r->a, (r->n + 1) * sizeof *na);
    if (!na)
        return NULL;
    r->a = na;
    struct imap_fetch_att *a = &r->a[r->n++];
    memset(a, 0, sizeof *a);
    a->kind = kind;
    return a;
}

static int prefix_ci(const char *s, const char *pre)
{
    return !strncasecmp(s, pre, strlen(pre));
}

/* Parses the section text between brackets. */
static int parse_section(const char *s, size_t n, struct imap_fetch_att *a, char *err, size_t errlen)
{
    size_t i = 0;
    while (i < n && isdigit((unsigned char)s[i])) {
        uint64_t v = 0;
        if (s[i] == '0')
            goto bad;
        while (i < n && isdigit((unsigned char)s[i])) {
            v = v * 10 + (uint64_t)(s[i] - '0');
            if (v > 1000000)
                goto bad;
            i++;
        }
        if (a->npart >= IMAP_MAX_PART_DEPTH)
            goto bad;
        a->part[a->npart++] = (uint32_t)v;
        if (i == n)
            return 0;
        if (s[i] != '.')
            goto bad;
        i++;
        if (i == n)
            goto bad;
    }
    if (i == n)
        return 0;
    const char *rest = s + i;
    size_t rn = n - i;
    if (rn == 4 && !strncasecmp(rest, "TEXT", 4)) {
        a->spec = IMAP_SEC_TEXT;
        return 0;
    }
    if (rn == 6 && !strncasecmp(rest, "HEADER", 6)) {
        a->spec = IMAP_SEC_HEADER;
        return 0;
    }
    if (rn == 4 && !strncasecmp(rest, "MIME", 4)) {
        if (a->npart == 0)
            goto bad;
        a->spec = IMAP_SEC_MIME;
        return 0;
    }
    size_t j;
    if (rn > 18 && !strncasecmp(rest, "HEADER.FIELDS.NOT ", 18)) {
        a->spec = IMAP_SEC_HEADER_FIELDS_NOT;
        j = 18;
    } else if (rn > 14 && !strncasecmp(rest, "HEADER.FIELDS ", 14)) {
        a->spec = IMAP_SEC_HEADER_FIELDS;
        j = 14;
    } else {
        goto bad;
    }
    if (rest[j] != '(' || rest[rn - 1] != ')')
        goto bad;
    j++;
    size_t end = rn - 1;
    while (j < end) {
        char buf[256];
        size_t bl = 0;
        if (rest[j] == '"') {
            j++;
            while (j < end && rest[j] != '"') {
                if (rest[j] == '\\' && j + 1 < end)
                    j++;
                if (bl + 1 >= sizeof buf)
                    goto bad;
                buf[bl++] = rest[j++];
            }
            if (j >= end)
                goto bad;
            j++;
        } else {
            while (j < end && rest[j] != ' ') {
                unsigned char c = (unsigned char)rest[j];
                if (c <= 0x20 || c >= 0x7f || c == ':' || c == '(' || c == ')' || c == '"' || bl + 1 >= sizeof buf)
                    goto bad;
                buf[bl++] = rest[j++];
            }
        }
        if (bl == 0 || a->nfields >= 1000)
            goto bad;
        char **nf = realloc(a->fields, (a->nfields + 1) * sizeof *nf);
        if (!nf)
            goto bad;
        a->fields = nf;
        a->fields[a->nfields] = xstrndup(buf, bl);
        if (!a->fields[a->nfields])
            goto bad;
        a->nfields++;
        if (j < end) {
            if (rest[j] != ' ')
                goto bad;
            j++;
            if (j == end)
                goto bad;
        }
    }
    if (a->nfields == 0)
        goto bad;
    return 0;
bad:
    seterr(err, errlen, "invalid section [%.*s]", (int)(n > 60 ? 60 : n), s);
    return -1;
}

static int parse_one_att(const char *s, struct imap_fetch_req *r, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        int kind;
    } simple[] = {
        { "UID", IMAP_FA_UID },
        { "FLAGS", IMAP_FA_FLAGS },
        { "INTERNALDATE", IMAP_FA_INTERNALDATE },
        { "RFC822.SIZE", IMAP_FA_RFC822_SIZE },
        { "ENVELOPE", IMAP_FA_ENVELOPE },
        { "BODYSTRUCTURE", IMAP_FA_BODYSTRUCTURE },
        { "BODY", IMAP_FA_BODY },
        { "RFC822", IMAP_FA_RFC822 },
        { "RFC822.HEADER", IMAP_FA_RFC822_HEADER },
        { "RFC822.TEXT", IMAP_FA_RFC822_TEXT },
        { "MODSEQ", IMAP_FA_MODSEQ },
    };
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        if (!strcasecmp(s, simple[i].name)) {
            if (!fetch_add(r, simple[i].kind))
                goto toomany;
            if (simple[i].kind == IMAP_FA_RFC822 || simple[i].kind == IMAP_FA_RFC822_TEXT)
                r->sets_seen = 1;
            return 0;
        }
    }
    static const char *const macros[][5] = {
        { "ALL", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE" },
        { "FAST", "FLAGS", "INTERNALDATE", "RFC822.SIZE", NULL },
        { "FULL", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE" },
    };
    for (size_t i = 0; i < 3; i++) {
        if (!strcasecmp(s, macros[i][0])) {
            for (size_t k = 1; k < 5 && macros[i][k]; k++)
                if (parse_one_att(macros[i][k], r, err, errlen) != 0)
                    return -1;
            if (i == 2 && parse_one_att("BODY", r, err, errlen) != 0)
                return -1;
            return 0;
        }
    }
    int peek = 0;
    const char *p;
    if (prefix_ci(s, "BODY.PEEK[")) {
        peek = 1;
        p = s + 10;
    } else if (prefix_ci(s, "BODY[")) {
        p = s + 5;
    } else {
        seterr(err, errlen, "unknown fetch attribute %.40s", s);
        return -1;
    }
    const char *close = strrchr(p, ']');
    if (!close) {
        seterr(err, errlen, "missing ']' in %.40s", s);
        return -1;
    }
    struct imap_fetch_att *a = fetch_add(r, IMAP_FA_SECTION);
    if (!a)
        goto toomany;
    a->peek = peek;
    if (!peek)
        r->sets_seen = 1;
    if (parse_section(p, (size_t)(close - p), a, err, errlen) != 0)
        return -1;
    const char *q = close + 1;
    if (*q == '<') {
        char *e;
        q++;
        if (!isdigit((unsigned char)*q))
            goto badpartial;
        a->poff = strtoull(q, &e, 10);
        if (*e != '.' || !isdigit((unsigned char)e[1]))
            goto badpartial;
        a->plen = strtoull(e + 1, &e, 10);
        /* "<" number "." nz-number ">", both 32-bit (RFC 3501 9 number) */
        if (e[0] != '>' || e[1] != '\0' || a->plen == 0 || a->poff > UINT32_MAX || a->plen > UINT32_MAX)
            goto badpartial;
        a->partial = 1;
    } else if (*q) {
        goto badpartial;
    }
    /* label: BODY[<section as sent, upper-cased>]<origin> */
    size_t sl = (size_t)(close - p);
    a->label = malloc(sl + 40);
    if (!a->label)
        goto toomany;
    memcpy(a->label, "BODY[", 5);
    for (size_t i = 0; i < sl; i++)
        a->label[5 + i] = (char)toupper((unsigned char)p[i]);
    if (a->partial)
        snprintf(a->label + 5 + sl, 35, "]<%llu>", (unsigned long long)a->poff);
    else
        strcpy(a->label + 5 + sl, "]");
    return 0;
badpartial:
    seterr(err, errlen, "invalid partial range in %.40s", s);
    return -1;
toomany:
    seterr(err, errlen, "too many fetch attributes");
    return -1;
}

int imap_fetch_parse(const struct imap_tok *att, const struct imap_tok *mods, struct imap_fetch_req *out,
                     char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!att) {
        seterr(err, errlen, "missing fetch attributes");
        return -1;
    }
    if (att->type == IMAP_TOK_ATOM) {
        if (parse_one_att(att->s, out, err, errlen) != 0)
            goto bad;
    } else if (att->type == IMAP_TOK_LIST && att->nkids > 0) {
        for (size_t i = 0; i < att->nkids; i++) {
            const struct imap_tok *t = att->kids[i];
            if (t->type != IMAP_TOK_ATOM) {
                seterr(err, errlen, "fetch attributes must be atoms");
                goto bad;
            }
            if (!strcasecmp(t->s, "ALL") || !strcasecmp(t->s, "FAST") || !strcasecmp(t->s, "FULL")) {
                seterr(err, errlen, "macro %s not allowed in a list", t->s);
                goto bad;
            }
            if (parse_one_att(t->s, out, err, errlen) != 0)
                goto bad;
        }
    } else {
        seterr(err, errlen, "invalid fetch attributes");
        goto bad;
    }
    if (mods) {
        if (mods->type != IMAP_TOK_LIST) {
            seterr(err, errlen, "fetch modifiers must be a list");
            goto bad;
        }
        for (size_t i = 0; i < mods->nkids; i++) {
            const struct imap_tok *t = mods->kids[i];
            if (imap_tok_atom_is(t, "CHANGEDSINCE") && i + 1 < mods->nkids &&
                mods->kids[i + 1]->type == IMAP_TOK_ATOM &&
                imap_number_parse(mods->kids[i + 1]->s, IMAP_MODSEQ_MAX, &out->changedsince) == 0) {
                i++;
                out->has_changedsince = 1;
            } else if (imap_tok_atom_is(t, "VANISHED")) {
                out->vanished = 1;
            } else {
                seterr(err, errlen, "unknown fetch modifier");
                goto bad;
            }
        }
        if (out->vanished && !out->has_changedsince) {
            seterr(err, errlen, "VANISHED needs CHANGEDSINCE");
            goto bad;
        }
    }
    return 0;
bad:
    imap_fetch_free(out);
    return -1;
}

/* ---- flags ---- */

uint32_t imap_flag_from_name(const char *s)
{
    static const struct {
        const char *n;
        uint32_t f;
    } map[] = {
        { "\\Seen", OUTPOST_FLAG_SEEN },     { "\\Answered", OUTPOST_FLAG_ANSWERED },
        { "\\Flagged", OUTPOST_FLAG_FLAGGED }, { "\\Deleted", OUTPOST_FLAG_DELETED },
        { "\\Draft", OUTPOST_FLAG_DRAFT },   { "$Forwarded", OUTPOST_FLAG_FORWARDED },
        { "$Junk", OUTPOST_FLAG_JUNK },      { "$NotJunk", OUTPOST_FLAG_NOTJUNK },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcasecmp(s, map[i].n))
            return map[i].f;
    return 0;
}

int imap_keyword_valid(const char *s)
{
    if (!*s || strlen(s) > 200)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || strchr("(){%*\"\\]", *p))
            return 0;
    return 1;
}

/* ---- dates ---- */

static const char *const months[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int parse_dmy(const char **pp, int *d, int *m, int *y)
{
    const char *p = *pp;
    if (*p == ' ')
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    *d = *p++ - '0';
    if (isdigit((unsigned char)*p))
        *d = *d * 10 + (*p++ - '0');
    if (*p++ != '-')
        return -1;
    *m = -1;
    for (int i = 0; i < 12; i++)
        if (!strncasecmp(p, months[i], 3))
            *m = i + 1;
    if (*m < 0)
        return -1;
    p += 3;
    if (*p++ != '-')
        return -1;
    for (int i = 0; i < 4; i++)
        if (!isdigit((unsigned char)p[i]))
            return -1;
    *y = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
    p += 4;
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (*y % 4 == 0 && *y % 100 != 0) || *y % 400 == 0;
    if (*d < 1 || *d > mdays[*m - 1] || (*m == 2 && *d == 29 && !leap))
        return -1; /* 31-Feb-2024 is no date */
    *pp = p;
    return 0;
}

int imap_date_parse(const char *s, int64_t *days)
{
    int d, m, y;
    if (parse_dmy(&s, &d, &m, &y) != 0 || *s)
        return -1;
    *days = days_from_civil(y, (unsigned)m, (unsigned)d);
    return 0;
}

int imap_datetime_parse(const char *s, int64_t *ms)
{
    int d, m, y;
    if (parse_dmy(&s, &d, &m, &y) != 0 || *s++ != ' ')
        return -1;
    int hh, mm, ss, zh, zm;
    char sign;
    if (strlen(s) != 14 || sscanf(s, "%2d:%2d:%2d %c%2d%2d", &hh, &mm, &ss, &sign, &zh, &zm) != 6)
        return -1;
    for (int i = 0; i < 14; i++)
        if (i != 2 && i != 5 && i != 8 && i != 9 && !isdigit((unsigned char)s[i]))
            return -1;
    if ((sign != '+' && sign != '-') || hh > 23 || mm > 59 || ss > 60 || zm > 59)
        return -1;
    int64_t t = days_from_civil(y, (unsigned)m, (unsigned)d) * 86400 + hh * 3600 + mm * 60 + ss;
    int64_t off = (int64_t)(zh * 3600 + zm * 60);
    t -= sign == '+' ? off : -off;
    *ms = t * 1000;
    return 0;
}

void imap_datetime_format(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, len, "%02d-%s-%04d %02d:%02d:%02d +0000", tm.tm_mday, months[tm.tm_mon % 12],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---- SEARCH ---- */

void imap_search_free(struct imap_skey *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->nkids; i++)
        imap_search_free(k->kids[i]);
    free(k->kids);
    free(k->a);
    free(k->b);
    imap_seqset_free(&k->set);
    free(k);
}

static struct imap_skey *skey_new(int op)
{
    struct imap_skey *k = calloc(1, sizeof *k);
    if (k)
        k->op = op;
    return k;
}

static int skey_add(struct imap_skey *parent, struct imap_skey *kid)
{
    struct imap_skey **nk = realloc(parent->kids, (parent->nkids + 1) * sizeof *nk);
    if (!nk)
        return -1;
    parent->kids = nk;
    parent->kids[parent->nkids++] = kid;
    return 0;
}

struct sparse {
    const struct imap_tok *const *a;
    size_t n, i;
    int depth;
    char *err;
    size_t errlen;
};

static const char *sp_string(struct sparse *s, const char *what)
{
    if (s->i >= s->n || !imap_tok_is_string(s->a[s->i])) {
        seterr(s->err, s->errlen, "%s needs a string argument", what);
        return NULL;
    }
    return s->a[s->i++]->s;
}

static struct imap_skey *parse_key(struct sparse *s);

static struct imap_skey *parse_key(struct sparse *s)
{
    if (s->i >= s->n) {
        seterr(s->err, s->errlen, "missing search key");
        return NULL;
    }
    if (++s->depth > 64) {
        seterr(s->err, s->errlen, "search keys nested too deeply");
        return NULL;
    }
    const struct imap_tok *t = s->a[s->i++];
    struct imap_skey *k = NULL;
    if (t->type == IMAP_TOK_LIST) {
        if (t->nkids == 0) {
            seterr(s->err, s->errlen, "empty search list");
            goto out;
        }
        struct sparse sub = { (const struct imap_tok *const *)t->kids, t->nkids, 0, s->depth, s->err, s->errlen };
        k = skey_new(IMAP_SK_AND);
        while (k && sub.i < sub.n) {
            struct imap_skey *c = parse_key(&sub);
            if (!c || skey_add(k, c) != 0) {
                imap_search_free(c);
                imap_search_free(k);
                k = NULL;
                goto out;
            }
        }
        goto out;
    }
    if (t->type != IMAP_TOK_ATOM) {
        seterr(s->err, s->errlen, "search key expected");
        goto out;
    }
    const char *w = t->s;
    static const struct {
        const char *n;
        int op;
        uint32_t flag;
    } flagkeys[] = {
        { "ANSWERED", IMAP_SK_FLAG, OUTPOST_FLAG_ANSWERED }, { "DELETED", IMAP_SK_FLAG, OUTPOST_FLAG_DELETED },
        { "DRAFT", IMAP_SK_FLAG, OUTPOST_FLAG_DRAFT },       { "FLAGGED", IMAP_SK_FLAG, OUTPOST_FLAG_FLAGGED },
        { "SEEN", IMAP_SK_FLAG, OUTPOST_FLAG_SEEN },         { "UNANSWERED", IMAP_SK_NOFLAG, OUTPOST_FLAG_ANSWERED },
        { "UNDELETED", IMAP_SK_NOFLAG, OUTPOST_FLAG_DELETED }, { "UNDRAFT", IMAP_SK_NOFLAG, OUTPOST_FLAG_DRAFT },
        { "UNFLAGGED", IMAP_SK_NOFLAG, OUTPOST_FLAG_FLAGGED }, { "UNSEEN", IMAP_SK_NOFLAG, OUTPOST_FLAG_SEEN },
    };
    for (size_t i = 0; i < sizeof flagkeys / sizeof flagkeys[0]; i++) {
        if (!strcasecmp(w, flagkeys[i].n)) {
            k = skey_new(flagkeys[i].op);
            if (k)
                k->flag = flagkeys[i].flag;
            goto out;
        }
    }
    if (!strcasecmp(w, "ALL")) {
        k = skey_new(IMAP_SK_ALL);
    } else if (!strcasecmp(w, "RECENT") || !strcasecmp(w, "NEW") || !strcasecmp(w, "OLD")) {
        /* NEW is RECENT UNSEEN, OLD is NOT RECENT (RFC 3501 6.4.4) */
        struct imap_skey *r = skey_new(IMAP_SK_RECENT), *u = NULL;
        if (r && !strcasecmp(w, "RECENT")) {
            k = r;
        } else if (r && (k = skey_new(!strcasecmp(w, "NEW") ? IMAP_SK_AND : IMAP_SK_NOT)) != NULL) {
            if (skey_add(k, r) != 0) {
                imap_search_free(r);
                imap_search_free(k);
                k = NULL;
            } else if (k->op == IMAP_SK_AND && ((u = skey_new(IMAP_SK_NOFLAG)) == NULL || skey_add(k, u) != 0)) {
                imap_search_free(u);
                imap_search_free(k);
                k = NULL;
            } else if (u) {
                u->flag = OUTPOST_FLAG_SEEN;
            }
        } else {
            imap_search_free(r);
        }
    } else if (!strcasecmp(w, "NOT")) {
        struct imap_skey *c = parse_key(s);
        if (!c)
            goto out;
        k = skey_new(IMAP_SK_NOT);
        if (!k || skey_add(k, c) != 0) {
            imap_search_free(c);
            imap_search_free(k);
            k = NULL;
        }
    } else if (!strcasecmp(w, "OR")) {
        struct imap_skey *a = parse_key(s);
        struct imap_skey *b = a ? parse_key(s) : NULL;
        if (!b) {
            imap_search_free(a);
            goto out;
        }
        k = skey_new(IMAP_SK_OR);
        if (!k || skey_add(k, a) != 0) {
            imap_search_free(a);
            imap_search_free(b);
            imap_search_free(k);
            k = NULL;
        } else if (skey_add(k, b) != 0) {
            imap_search_free(b);
            imap_search_free(k);
            k = NULL;
        }
    } else if (!strcasecmp(w, "KEYWORD") || !strcasecmp(w, "UNKEYWORD")) {
        const char *v = sp_string(s, w);
        if (!v)
            goto out;
        k = skey_new(toupper((unsigned char)w[0]) == 'K' ? IMAP_SK_KEYWORD : IMAP_SK_UNKEYWORD);
        if (k) {
            uint32_t f = imap_flag_from_name(v);
            if (f) {
                k->op = k->op == IMAP_SK_KEYWORD ? IMAP_SK_FLAG : IMAP_SK_NOFLAG;
                k->flag = f;
            } else if (!(k->a = strdup(v))) {
                imap_search_free(k);
                k = NULL;
            }
        }
    } else if (!strcasecmp(w, "BEFORE") || !strcasecmp(w, "ON") || !strcasecmp(w, "SINCE") ||
               !strcasecmp(w, "SENTBEFORE") || !strcasecmp(w, "SENTON") || !strcasecmp(w, "SENTSINCE")) {
        const char *v = sp_string(s, w);
        int64_t days;
        if (!v)
            goto out;
        if (imap_date_parse(v, &days) != 0) {
            seterr(s->err, s->errlen, "%s: invalid date '%.40s' (expected e.g. 1-Feb-2024)", w, v);
            goto out;
        }
        int op = !strcasecmp(w, "BEFORE") ? IMAP_SK_BEFORE
                 : !strcasecmp(w, "ON")   ? IMAP_SK_ON
                 : !strcasecmp(w, "SINCE") ? IMAP_SK_SINCE
                 : !strcasecmp(w, "SENTBEFORE") ? IMAP_SK_SENTBEFORE
                 : !strcasecmp(w, "SENTON")     ? IMAP_SK_SENTON
                                                : IMAP_SK_SENTSINCE;
        k = skey_new(op);
        if (k)
            k->num = days;
    } else if (!strcasecmp(w, "LARGER") || !strcasecmp(w, "SMALLER") || !strcasecmp(w, "MODSEQ")) {
        int ismodseq = !strcasecmp(w, "MODSEQ");
        if (ismodseq && s->i + 2 < s->n + 1 && s->i < s->n && s->a[s->i]->type == IMAP_TOK_STRING) {
            /* MODSEQ "/flags/\\Seen" all|shared|priv n: entry name and type are ignored */
            s->i++;
            if (s->i < s->n && s->a[s->i]->type == IMAP_TOK_ATOM && !isdigit((unsigned char)s->a[s->i]->s[0]))
                s->i++;
        }
        if (s->i >= s->n || s->a[s->i]->type != IMAP_TOK_ATOM || !isdigit((unsigned char)s->a[s->i]->s[0])) {
            seterr(s->err, s->errlen, "%s needs a number", w);
            goto out;
        }
        /* a mod-sequence-valzer is 63 bits (RFC 7162 7), LARGER's and SMALLER's number 32 (RFC 3501 9) */
        uint64_t num;
        if (imap_number_parse(s->a[s->i++]->s, ismodseq ? IMAP_MODSEQ_MAX : UINT32_MAX, &num) != 0) {
            seterr(s->err, s->errlen, "%s needs a number of at most %s", w, ismodseq ? "2^63-1" : "2^32-1");
            goto out;
        }
        k = skey_new(ismodseq ? IMAP_SK_MODSEQ : toupper((unsigned char)w[0]) == 'L' ? IMAP_SK_LARGER : IMAP_SK_SMALLER);
        if (k)
            k->num = (int64_t)num;
    } else if (!strcasecmp(w, "HEADER")) {
        const char *f = sp_string(s, w);
        const char *v = f ? sp_string(s, w) : NULL;
        if (!v)
            goto out;
        k = skey_new(IMAP_SK_HEADER);
        if (k && (!(k->a = strdup(f)) || !(k->b = strdup(v)))) {
            imap_search_free(k);
            k = NULL;
        }
    } else if (!strcasecmp(w, "FROM") || !strcasecmp(w, "TO") || !strcasecmp(w, "CC") || !strcasecmp(w, "BCC") ||
               !strcasecmp(w, "SUBJECT")) {
        const char *v = sp_string(s, w);
        if (!v)
            goto out;
        k = skey_new(IMAP_SK_HEADER);
        if (k && (!(k->a = strdup(w)) || !(k->b = strdup(v)))) {
            imap_search_free(k);
            k = NULL;
        }
    } else if (!strcasecmp(w, "BODY") || !strcasecmp(w, "TEXT")) {
        const char *v = sp_string(s, w);
        if (!v)
            goto out;
        k = skey_new(toupper((unsigned char)w[0]) == 'B' ? IMAP_SK_BODY : IMAP_SK_TEXT);
        if (k && !(k->b = strdup(v))) {
            imap_search_free(k);
            k = NULL;
        }
    } else if (!strcasecmp(w, "UID")) {
        if (s->i >= s->n || s->a[s->i]->type != IMAP_TOK_ATOM) {
            seterr(s->err, s->errlen, "UID needs a sequence set");
            goto out;
        }
        k = skey_new(IMAP_SK_UID);
        if (k && imap_seqset_parse(s->a[s->i++]->s, &k->set) != 0) {
            seterr(s->err, s->errlen, "UID: invalid sequence set");
            imap_search_free(k);
            k = NULL;
        }
    } else if (isdigit((unsigned char)w[0]) || w[0] == '*') {
        k = skey_new(IMAP_SK_SEQ);
        if (k && imap_seqset_parse(w, &k->set) != 0) {
            seterr(s->err, s->errlen, "invalid sequence set %.40s", w);
            imap_search_free(k);
            k = NULL;
        }
    } else {
        seterr(s->err, s->errlen, "unknown search key %.40s", w);
    }
out:
    s->depth--;
    if (!k && !s->err[0])
        seterr(s->err, s->errlen, "out of memory");
    return k;
}

int imap_search_parse(const struct imap_tok *const *args, size_t n, struct imap_skey **out, char *err,
                      size_t errlen)
{
    err[0] = '\0';
    struct sparse s = { args, n, 0, 0, err, errlen };
    struct imap_skey *root = skey_new(IMAP_SK_AND);
    if (!root)
        return -1;
    if (n == 0) {
        seterr(err, errlen, "missing search key");
        imap_search_free(root);
        return -1;
    }
    while (s.i < s.n) {
        struct imap_skey *k = parse_key(&s);
        if (!k || skey_add(root, k) != 0) {
            imap_search_free(k);
            imap_search_free(root);
            return -1;
        }
    }
    *out = root;
    return 0;
}

int imap_search_uses(const struct imap_skey *k, int op)
{
    if (!k)
        return 0;
    if (k->op == op)
        return 1;
    for (size_t i = 0; i < k->nkids; i++)
        if (imap_search_uses(k->kids[i], op))
            return 1;
    return 0;
}

/* ---- modified UTF-7 ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* Decodes one UTF-8 code point; returns bytes used or 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t n;
    uint32_t c;
    if ((s[0] & 0xe0) == 0xc0) {
        n = 2;
        c = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        n = 3;
        c = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        n = 4;
        c = s[0] & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) || (n == 2 && c < 0x80) || (n == 3 && c < 0x800) ||
        (n == 4 && c < 0x10000))
        return 0;
    *cp = c;
    return n;
}

char *imap_mutf7_encode(const char *utf8)
{
    size_t len = strlen(utf8);
    char *out = malloc(len * 3 + 8);
    if (!out)
        return NULL;
    size_t o = 0;
    const unsigned char *s = (const unsigned char *)utf8;
    while (*s) {
        if (*s >= 0x20 && *s < 0x7f) {
            out[o++] = (char)*s;
            if (*s == '&')
                out[o++] = '-';
            s++;
            continue;
        }
        out[o++] = '&';
        uint32_t bits = 0;
        int nbits = 0;
        while (*s && !(*s >= 0x20 && *s < 0x7f)) {
            uint32_t cp;
            size_t n = utf8_decode(s, &cp);
            if (!n) {
                cp = 0xfffd;
                n = 1;
            }
            s += n;
            uint16_t units[2];
            int nu = 1;
            if (cp >= 0x10000) {
                cp -= 0x10000;
                units[0] = (uint16_t)(0xd800 + (cp >> 10));
                units[1] = (uint16_t)(0xdc00 + (cp & 0x3ff));
                nu = 2;
            } else {
                units[0] = (uint16_t)cp;
            }
            for (int u = 0; u < nu; u++) {
                bits = (bits << 16) | units[u];
                nbits += 16;
                while (nbits >= 6) {
                    nbits -= 6;
                    out[o++] = b64[(bits >> nbits) & 0x3f];
                }
            }
        }
        if (nbits)
            out[o++] = b64[(bits << (6 - nbits)) & 0x3f];
        out[o++] = '-';
    }
    out[o] = '\0';
    return out;
}

char *imap_mutf7_decode(const char *in)
{
    size_t len = strlen(in);
    char *out = malloc(len * 2 + 8);
    if (!out)
        return NULL;
    size_t o = 0;
    const char *s = in;
    while (*s) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c >= 0x7f)
            goto bad;
        if (c != '&') {
            out[o++] = (char)c;
            s++;
            continue;
        }
        s++;
        if (*s == '-') {
            out[o++] = '&';
            s++;
            continue;
        }
        uint32_t bits = 0, hi = 0;
        int nbits = 0, any = 0;
        while (*s && *s != '-') {
            const char *p = strchr(b64, *s);
            if (!p || !*s)
                goto bad;
            bits = (bits << 6) | (uint32_t)(p - b64);
            nbits += 6;
            s++;
            if (nbits >= 16) {
                nbits -= 16;
                uint32_t u = (bits >> nbits) & 0xffff;
                any = 1;
                uint32_t cp;
                if (u >= 0xd800 && u <= 0xdbff) {
                    if (hi)
                        goto bad;
                    hi = u;
                    continue;
                } else if (u >= 0xdc00 && u <= 0xdfff) {
                    if (!hi)
                        goto bad;
                    cp = 0x10000 + ((hi - 0xd800) << 10) + (u - 0xdc00);
                    hi = 0;
                } else {
                    if (hi)
                        goto bad;
                    cp = u;
                }
                if (cp < 0x80) {
                    if (cp >= 0x20 && cp < 0x7f)
                        goto bad; /* must have been written directly */
                    out[o++] = (char)cp;
                } else if (cp < 0x800) {
                    out[o++] = (char)(0xc0 | (cp >> 6));
                    out[o++] = (char)(0x80 | (cp & 0x3f));
                } else if (cp < 0x10000) {
                    out[o++] = (char)(0xe0 | (cp >> 12));
                    out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                    out[o++] = (char)(0x80 | (cp & 0x3f));
                } else {
                    out[o++] = (char)(0xf0 | (cp >> 18));
                    out[o++] = (char)(0x80 | ((cp >> 12) & 0x3f));
                    out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                    out[o++] = (char)(0x80 | (cp & 0x3f));
                }
            }
        }
        if (*s != '-' || !any || hi || nbits >= 6 || (bits & ((1u << nbits) - 1)))
            goto bad;
        s++;
    }
    out[o] = '\0';
    return out;
bad:
    free(out);
    return NULL;
}

/* ---- BODYSTRUCTURE → BODY ---- */

struct sx {
    const char *s;
    size_t i, n;
    char *out;
    size_t o, cap;
    int depth;
};

static int sx_put(struct sx *x, const char *p, size_t n)
{
    if (x->o + n + 1 > x->cap) {
        size_t cap = (x->o + n + 1) * 2;
        char *no = realloc(x->out, cap);
        if (!no)
            return -1;
        x->out = no;
        x->cap = cap;
    }
    memcpy(x->out + x->o, p, n);
    x->o += n;
    return 0;
}

static void sx_ws(struct sx *x)
{
    while (x->i < x->n && x->s[x->i] == ' ')
        x->i++;
}

/* Scans one element (string, literal, atom or list) starting at x->i; returns
 * its end index or 0 on error. */
static size_t sx_scan(struct sx *x, size_t i, int depth)
{
    if (i >= x->n || depth > 100)
        return 0;
    char c = x->s[i];
    if (c == '"') {
        for (i++; i < x->n; i++) {
            if (x->s[i] == '\\')
                i++;
            else if (x->s[i] == '"')
                return i + 1;
        }
        return 0;
    }
    if (c == '{') {
        char *e;
        unsigned long long n = strtoull(x->s + i + 1, &e, 10);
        if (*e != '}' || e[1] != '\r' || e[2] != '\n')
            return 0;
        size_t start = (size_t)(e + 3 - x->s);
        if (n > x->n - start)
            return 0;
        return start + (size_t)n;
    }
    if (c == '(') {
        i++;
        for (;;) {
            while (i < x->n && x->s[i] == ' ')
                i++;
            if (i >= x->n)
                return 0;
            if (x->s[i] == ')')
                return i + 1;
            i = sx_scan(x, i, depth + 1);
            if (!i)
                return 0;
        }
    }
    if (c == ')' || c == ' ')
        return 0;
    while (i < x->n && x->s[i] != ' ' && x->s[i] != ')' && x->s[i] != '(')
        i++;
    return i;
}

static int sx_copy_elem(struct sx *x, int sep)
{
    sx_ws(x);
    size_t e = sx_scan(x, x->i, 0);
    if (!e)
        return -1;
    if (sep && sx_put(x, " ", 1) != 0)
        return -1;
    if (sx_put(x, x->s + x->i, e - x->i) != 0)
        return -1;
    x->i = e;
    return 0;
}

static int sx_elem_is(struct sx *x, const char *word)
{
    sx_ws(x);
    size_t e = sx_scan(x, x->i, 0);
    size_t wl = strlen(word);
    return e && x->s[x->i] == '"' && e - x->i == wl + 2 && !strncasecmp(x->s + x->i + 1, word, wl);
}

static int sx_skip_to_close(struct sx *x)
{
    for (;;) {
        sx_ws(x);
        if (x->i >= x->n)
            return -1;
        if (x->s[x->i] == ')') {
            x->i++;
            return sx_put(x, ")", 1);
        }
        size_t e = sx_scan(x, x->i, 0);
        if (!e)
            return -1;
        x->i = e;
    }
}

static int sx_body(struct sx *x)
{
    if (++x->depth > 50)
        return -1;
    sx_ws(x);
    if (x->i >= x->n || x->s[x->i] != '(')
        return -1;
    x->i++;
    if (sx_put(x, "(", 1) != 0)
        return -1;
    sx_ws(x);
    if (x->i < x->n && x->s[x->i] == '(') {
        while (x->i < x->n && x->s[x->i] == '(') {
            if (sx_body(x) != 0)
                return -1;
            sx_ws(x);
        }
        if (sx_copy_elem(x, 1) != 0) /* subtype */
            return -1;
    } else {
        int is_text = sx_elem_is(x, "TEXT");
        int is_msg = sx_elem_is(x, "MESSAGE");
        if (sx_copy_elem(x, 0) != 0)
            return -1;
        int is_rfc822 = is_msg && sx_elem_is(x, "RFC822");
        for (int k = 0; k < 6; k++)
            if (sx_copy_elem(x, 1) != 0)
                return -1;
        if (is_rfc822) {
            if (sx_copy_elem(x, 1) != 0 || sx_put(x, " ", 1) != 0 || sx_body(x) != 0 || sx_copy_elem(x, 1) != 0)
                return -1;
        } else if (is_text) {
            if (sx_copy_elem(x, 1) != 0)
                return -1;
        }
    }
    x->depth--;
    return sx_skip_to_close(x);
}

char *imap_body_from_bodystructure(const char *bs)
{
    struct sx x = { bs, 0, strlen(bs), NULL, 0, 0, 0 };
    if (sx_body(&x) != 0) {
        free(x.out);
        return NULL;
    }
    if (sx_put(&x, "", 0) != 0) {
        free(x.out);
        return NULL;
    }
    x.out[x.o] = '\0';
    return x.out;
}
