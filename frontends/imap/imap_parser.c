/* imap_parser.c — the IMAP command tokenizer (see imap_parser.h). */
#include "imap_parser.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum { ST_TAG = 0, ST_NAME, ST_UIDNAME, ST_ARGS, ST_DONE };

struct imap_parser {
    struct imap_parser_limits lim;
    int state;
    char tag[128];
    char name[64];
    struct imap_tok root;
    struct imap_tok *stack[128];
    size_t depth;
    size_t ntokens;
    int need_sep;          /* a token just ended: next must be SP, ')' or end */
    int lit_pending;
    int too_big;
    char err[160];
    /* A bracketed atom cut by a literal (`BODY[HEADER.FIELDS (A {5}` CRLF literal ...): its text so far,
     * the literal appended as a quoted string when it arrives, and the bracket depth to resume at. */
    char *brk;
    size_t brk_len;
    int brk_nest;
    int brk_lit;           /* the pending literal belongs to brk */
    int brk_bad;           /* that literal was not a field name */
};

/* The longest literal accepted inside brackets: a header field name (RFC 5322 lines are at most 998). */
#define BRK_LITERAL_MAX 998

struct imap_parser *imap_parser_new(const struct imap_parser_limits *lim)
{
    struct imap_parser *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->lim = *lim;
    if (p->lim.max_depth == 0 || p->lim.max_depth >= sizeof p->stack / sizeof p->stack[0])
        p->lim.max_depth = sizeof p->stack / sizeof p->stack[0] - 1;
    if (p->lim.max_tokens == 0)
        p->lim.max_tokens = 100000;
    imap_parser_reset(p);
    return p;
}

static void free_kids(struct imap_tok *t)
{
    for (size_t i = 0; i < t->nkids; i++)
        imap_tok_free(t->kids[i]);
    free(t->kids);
    t->kids = NULL;
    t->nkids = t->capkids = 0;
}

void imap_tok_free(struct imap_tok *t)
{
    if (!t)
        return;
    free_kids(t);
    free(t->s);
    if (t->file)
        fclose(t->file);
    free(t);
}

void imap_parser_reset(struct imap_parser *p)
{
    free_kids(&p->root);
    memset(&p->root, 0, sizeof p->root);
    p->root.type = IMAP_TOK_LIST;
    p->state = ST_TAG;
    strcpy(p->tag, "*");
    p->name[0] = '\0';
    p->stack[0] = &p->root;
    p->depth = 0;
    p->ntokens = 0;
    p->need_sep = 0;
    p->lit_pending = 0;
    p->too_big = 0;
    p->err[0] = '\0';
    free(p->brk);
    p->brk = NULL;
    p->brk_len = 0;
    p->brk_nest = p->brk_lit = p->brk_bad = 0;
}

void imap_parser_free(struct imap_parser *p)
{
    if (!p)
        return;
    free_kids(&p->root);
    free(p->brk);
    free(p);
}

static int fail(struct imap_parser *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof p->err, fmt, ap);
    va_end(ap);
    return IMAP_PARSE_ERROR;
}

static struct imap_tok *add_tok(struct imap_parser *p, int type)
{
    if (p->ntokens >= p->lim.max_tokens)
        return NULL;
    struct imap_tok *parent = p->stack[p->depth];
    if (parent->nkids == parent->capkids) {
        size_t cap = parent->capkids ? parent->capkids * 2 : 8;
        struct imap_tok **k = realloc(parent->kids, cap * sizeof *k);
        if (!k)
            return NULL;
        parent->kids = k;
        parent->capkids = cap;
    }
    struct imap_tok *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->type = type;
    parent->kids[parent->nkids++] = t;
    p->ntokens++;
    return t;
}

/* Characters that end an atom (outside brackets). */
static int atom_end(unsigned char c)
{
    return c == ' ' || c == '(' || c == ')' || c == '{' || c == '"' || c < 0x20 || c == 0x7f;
}

/* Tag: ASTRING-CHAR except '+' (RFC 3501 "tag"). */
static int tag_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' && c != '%' && c != '*' && c != '"' &&
           c != '\\' && c != '+';
}

/* Parses "{n}" or "{n+}" at s (which starts with '{'); returns chars used or 0. */
static size_t parse_literal_spec(const char *s, size_t n, uint64_t *size, int *nonsync)
{
    size_t i = 1;
    uint64_t v = 0;
    if (i >= n || !isdigit((unsigned char)s[i]))
        return 0;
    while (i < n && isdigit((unsigned char)s[i])) {
        if (v > (UINT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
        i++;
    }
    *nonsync = 0;
    if (i < n && s[i] == '+') {
        *nonsync = 1;
        i++;
    }
    if (i >= n || s[i] != '}')
        return 0;
    *size = v;
    return i + 1;
}

/* Scans an atom from line[*pi]; an atom containing '[' runs to the matching ']'. *pnest > 0 resumes inside
 * brackets. Returns 0 when the atom ended at *pi, 1 when the line ended inside brackets (*pnest: the depth),
 * -1 on a control character. */
static int scan_atom(const char *line, size_t len, size_t *pi, int *pnest)
{
    size_t i = *pi;
    int nest = *pnest;
    for (;;) {
        if (nest > 0) {
            while (i < len) {
                unsigned char d = (unsigned char)line[i];
                if (d < 0x20 || d == 0x7f)
                    return -1;
                if (d == '[')
                    nest++;
                else if (d == ']' && --nest == 0)
                    break;
                i++;
            }
            if (i >= len) {
                *pi = i;
                *pnest = nest;
                return 1;
            }
            i++;
            continue;
        }
        if (i >= len || atom_end((unsigned char)line[i]))
            break;
        if (line[i] == '[')
            nest = 1;
        i++;
    }
    *pi = i;
    *pnest = 0;
    return 0;
}

/* Where a literal announcement that ends the line begins, or `len` when the line does not end in one. */
static size_t trailing_literal(const char *line, size_t len)
{
    size_t k = len;
    if (!k || line[k - 1] != '}')
        return len;
    k--;
    if (k && line[k - 1] == '+')
        k--;
    while (k && isdigit((unsigned char)line[k - 1]))
        k--;
    return k && line[k - 1] == '{' ? k - 1 : len;
}

/* Scans an atom at line[*pi] into a token (resuming the bracketed atom in p->brk if any). Returns 0 with
 * the token added, IMAP_PARSE_LITERAL when a literal inside brackets must be read first, or an error. */
static int scan_atom_tok(struct imap_parser *p, const char *line, size_t len, size_t *pi, uint64_t *lit_size,
                         int *lit_nonsync)
{
    size_t s = *pi, i = *pi;
    int nest = p->brk ? p->brk_nest : 0;
    int r = scan_atom(line, len, &i, &nest);
    if (r < 0)
        return fail(p, "control character in argument");
    size_t end = i;
    if (r == 1) {
        /* the line ends inside brackets: only a literal announcement may cut it (an astring of a
         * header-list, RFC 3501 9 header-fld-name) */
        end = trailing_literal(line + s, len - s) + s;
        uint64_t size;
        int nonsync;
        if (end == len || parse_literal_spec(line + end, len - end, &size, &nonsync) != len - end)
            return fail(p, "missing ']'");
        if (size == 0 || size > BRK_LITERAL_MAX)
            return fail(p, "invalid header field name literal");
    } else if (i < len && (line[i] == '"' || line[i] == '{' || (unsigned char)line[i] < 0x20 || line[i] == 0x7f)) {
        return fail(p, "invalid character in atom at column %zu", i + 1);
    }
    char *b = realloc(p->brk, p->brk_len + (end - s) + 1);
    if (!b)
        return fail(p, "out of memory");
    memcpy(b + p->brk_len, line + s, end - s);
    p->brk = b;
    p->brk_len += end - s;
    p->brk[p->brk_len] = '\0';
    if (r == 1) {
        if (p->brk_len > 65536)
            return fail(p, "argument too long");
        parse_literal_spec(line + end, len - end, lit_size, lit_nonsync);
        p->brk_nest = nest;
        p->brk_lit = 1;
        p->lit_pending = 1;
        *pi = len;
        return IMAP_PARSE_LITERAL;
    }
    struct imap_tok *t = add_tok(p, IMAP_TOK_ATOM);
    if (!t) {
        return fail(p, "too many arguments");
    }
    t->s = p->brk;
    t->len = p->brk_len;
    p->brk = NULL;
    p->brk_len = 0;
    p->brk_nest = 0;
    p->need_sep = 1;
    *pi = i;
    return 0;
}

int imap_parser_line(struct imap_parser *p, const char *line, size_t len, uint64_t *lit_size, int *lit_nonsync)
{
    size_t i = 0;
    if (p->state == ST_DONE)
        return fail(p, "command already complete");
    if (p->lit_pending)
        return fail(p, "literal expected");
    if (p->state == ST_TAG) {
        while (i < len && tag_char((unsigned char)line[i]))
            i++;
        if (i == 0 || i >= sizeof p->tag)
            return fail(p, i ? "tag too long" : "missing or invalid tag");
        memcpy(p->tag, line, i);
        p->tag[i] = '\0';
        if (i >= len || line[i] != ' ')
            return fail(p, i >= len ? "missing command" : "invalid character in tag");
        i++;
        p->state = ST_NAME;
    }
    while (p->state == ST_NAME || p->state == ST_UIDNAME) {
        size_t s = i;
        while (i < len && isalnum((unsigned char)line[i]))
            i++;
        if (i == s)
            return fail(p, "missing or invalid command name");
        size_t have = strlen(p->name);
        if (have + (i - s) + 2 >= sizeof p->name)
            return fail(p, "command name too long");
        if (have)
            p->name[have++] = ' ';
        for (size_t k = s; k < i; k++)
            p->name[have++] = (char)toupper((unsigned char)line[k]);
        p->name[have] = '\0';
        if (i < len && line[i] != ' ')
            return fail(p, "invalid character in command name");
        if (i < len)
            i++;
        if (p->state == ST_NAME && !strcmp(p->name, "UID")) {
            if (i >= len)
                return fail(p, "UID needs a command");
            p->state = ST_UIDNAME;
        } else {
            p->state = ST_ARGS;
            p->need_sep = 0;
        }
    }
    if (p->brk) {
        /* the line after a literal inside brackets continues that atom */
        if (p->brk_bad)
            return fail(p, "invalid header field name literal");
        int rc = scan_atom_tok(p, line, len, &i, lit_size, lit_nonsync);
        if (rc != 0)
            return rc;
    }
    while (i < len) {
        unsigned char c = (unsigned char)line[i];
        if (p->need_sep) {
            if (c == ' ') {
                p->need_sep = 0;
                i++;
                continue;
            }
            if (c != ')')
                return fail(p, "missing space after argument at column %zu", i + 1);
        }
        if (c == '(') {
            if (p->depth + 1 > p->lim.max_depth)
                return fail(p, "parentheses nested too deeply");
            struct imap_tok *t = add_tok(p, IMAP_TOK_LIST);
            if (!t)
                return fail(p, "too many arguments");
            p->stack[++p->depth] = t;
            i++;
            continue;
        }
        if (c == ')') {
            if (p->depth == 0)
                return fail(p, "unexpected ')'");
            p->depth--;
            p->need_sep = 1;
            i++;
            continue;
        }
        if (c == ' ')
            return fail(p, "unexpected space at column %zu", i + 1);
        if (c == '"') {
            size_t j = i + 1, n = 0;
            char *buf = malloc(len - i);
            if (!buf)
                return fail(p, "out of memory");
            for (;;) {
                if (j >= len) {
                    free(buf);
                    return fail(p, "unterminated quoted string");
                }
                char d = line[j++];
                if (d == '"')
                    break;
                if (d == '\\') {
                    if (j >= len || (line[j] != '"' && line[j] != '\\')) {
                        free(buf);
                        return fail(p, "invalid escape in quoted string");
                    }
                    d = line[j++];
                } else if (d == '\0') {
                    free(buf);
                    return fail(p, "NUL in quoted string");
                }
                buf[n++] = d;
            }
            struct imap_tok *t = add_tok(p, IMAP_TOK_STRING);
            if (!t) {
                free(buf);
                return fail(p, "too many arguments");
            }
            buf[n] = '\0';
            t->s = buf;
            t->len = n;
            i = j;
            p->need_sep = 1;
            continue;
        }
        if (c == '{' || (c == '~' && i + 1 < len && line[i + 1] == '{')) {
            int l8 = c == '~';
            uint64_t size;
            int nonsync;
            size_t used = parse_literal_spec(line + i + l8, len - i - l8, &size, &nonsync);
            if (!used)
                return fail(p, "invalid literal announcement");
            if (i + l8 + used != len)
                return fail(p, "literal announcement must end the line");
            *lit_nonsync = nonsync;
            *lit_size = size;
            if (size > p->lim.max_literal) {
                p->too_big = 1;
                if (!nonsync)
                    return fail(p, "literal of %llu bytes exceeds the limit of %zu bytes", (unsigned long long)size,
                                p->lim.max_literal);
                /* {n+}: the client sends it anyway. The caller reads and drops it, and the rest of the command
                 * is parsed on so that the stream stays in step (RFC 7888 4: answered NO [TOOBIG] once complete) */
                snprintf(p->err, sizeof p->err, "literal of %llu bytes exceeds the limit of %zu bytes",
                         (unsigned long long)size, p->lim.max_literal);
            }
            struct imap_tok *t = add_tok(p, IMAP_TOK_LITERAL);
            if (!t)
                return fail(p, "too many arguments");
            t->literal8 = l8;
            *lit_size = size;
            *lit_nonsync = nonsync;
            p->lit_pending = 1;
            return IMAP_PARSE_LITERAL;
        }
        /* atom, possibly with a bracketed part */
        int rc = scan_atom_tok(p, line, len, &i, lit_size, lit_nonsync);
        if (rc != 0)
            return rc;
    }
    if (p->depth != 0)
        return fail(p, "unbalanced parentheses");
    if (p->state != ST_ARGS)
        return fail(p, "missing command");
    p->state = ST_DONE;
    return IMAP_PARSE_DONE;
}

void imap_parser_literal(struct imap_parser *p, char *mem, FILE *file, size_t len)
{
    if (p->brk_lit) {
        /* a header field name inside brackets: appended to the atom as a quoted string */
        p->brk_lit = 0;
        p->lit_pending = 0;
        char *b = mem ? realloc(p->brk, p->brk_len + 2 * len + 3) : NULL;
        if (!b) {
            p->brk_bad = 1;
        } else {
            p->brk = b;
            b[p->brk_len++] = '"';
            for (size_t k = 0; k < len; k++) {
                unsigned char ch = (unsigned char)mem[k];
                if (ch <= 0x20 || ch >= 0x7f || ch == ':')
                    p->brk_bad = 1;
                if (ch == '"' || ch == '\\')
                    b[p->brk_len++] = '\\';
                b[p->brk_len++] = (char)ch;
            }
            b[p->brk_len++] = '"';
            b[p->brk_len] = '\0';
        }
        free(mem);
        if (file)
            fclose(file);
        return;
    }
    struct imap_tok *parent = p->stack[p->depth];
    struct imap_tok *t = parent->nkids ? parent->kids[parent->nkids - 1] : NULL;
    if (!p->lit_pending || !t || t->type != IMAP_TOK_LITERAL) {
        free(mem);
        if (file)
            fclose(file);
        return;
    }
    t->s = mem;
    t->file = file;
    t->len = len;
    if (mem)
        mem[len] = '\0';
    p->lit_pending = 0;
    p->need_sep = 1;
}

const char *imap_parser_tag(const struct imap_parser *p) { return p ? p->tag : "*"; }
const char *imap_parser_name(const struct imap_parser *p) { return p->name[0] ? p->name : NULL; }
const struct imap_tok *imap_parser_args(const struct imap_parser *p) { return &p->root; }
const char *imap_parser_error(const struct imap_parser *p) { return p->err; }
int imap_parser_too_big(const struct imap_parser *p) { return p->too_big; }
int imap_parser_in_command(const struct imap_parser *p) { return p->state != ST_TAG; }

int imap_tok_is_string(const struct imap_tok *t)
{
    return t && (t->type == IMAP_TOK_ATOM || t->type == IMAP_TOK_STRING ||
                 (t->type == IMAP_TOK_LITERAL && t->s != NULL));
}

int imap_tok_atom_is(const struct imap_tok *t, const char *word)
{
    return t && t->type == IMAP_TOK_ATOM && !strcasecmp(t->s, word);
}
