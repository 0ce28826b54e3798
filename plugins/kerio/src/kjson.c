/* kjson.c — yajl's event parser building a jansson tree (see kjson.h for why).
 *
 * yajl lexes and checks the grammar; the callbacks below build the tree on an explicit stack
 * (no recursion, so nesting costs heap, bounded by KJSON_MAX_DEPTH) and add the checks jansson
 * makes that yajl does not: duplicate keys, NUL in strings, a scalar at the top, the depth
 * limit, and UTF-8. yajl's own UTF-8 check is off (yajl_dont_validate_strings): it stops its
 * string scan at every non-ASCII octet and validates that character with a function call, and
 * still lets overlong forms, encoded surrogates and code points above U+10FFFF through; with it
 * off the scan runs over whole strings, and utf8_strict() below checks every decoded string and
 * key in full (11% fewer instructions to read a Mails.getById reply of mostly non-ASCII text).
 * yajl turns a \u escape of a lone high surrogate into '?': one pass over the escapes
 * (bad_surrogate) refuses those. (jansson's own checking constructors would check too, but
 * halve the speed: they check one character per function call.) Numbers come as text:
 * integers are read with strtoll (ERANGE is an error, as in jansson), reals by jansson itself so
 * their value and locale handling are exactly json_loadb's. */
#include "kjson.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

struct kjson_ctx {
    json_t *root;       /* the top container: owns every value added so far */
    json_t **stack;     /* open containers, stack[depth - 1] innermost; borrowed from root */
    size_t depth, cap;
    char *key;          /* the pending object key (a copy: yajl's buffer does not outlive the call) */
    size_t key_len, key_cap;
    char msg[160];      /* why a callback stopped the parse */
    const char *const *skip; /* member names whose values are not built (kjson_loadb_skip) */
    int skip_next;      /* the next value is such a member's */
    size_t skip_depth;  /* containers open inside a skipped value */
};

static int fail(struct kjson_ctx *c, const char *msg)
{
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    return 0;
}

/* Whether a value event belongs to a skipped member's value (and is to be dropped): its
 * scalar, or anything inside its container. */
static int skipped_value(struct kjson_ctx *c)
{
    if (c->skip_depth)
        return 1;
    if (c->skip_next) {
        c->skip_next = 0;
        return 1;
    }
    return 0;
}

/* A scalar of a skipped value: dropped, the depth limit checked as add() checks it. */
static int skipped_scalar_ok(struct kjson_ctx *c)
{
    return c->depth + c->skip_depth < KJSON_MAX_DEPTH ? 1 : fail(c, "maximum parsing depth reached");
}

/* A container opening inside a skipped value, or as one: counted, not built, the depth limit
 * checked as for a built one. Returns the callback's verdict (1 or 0) when it is skipped, -1
 * when it is to be built. */
static int skipped_open(struct kjson_ctx *c)
{
    if (!c->skip_depth && !c->skip_next)
        return -1;
    c->skip_next = 0;
    c->skip_depth++;
    return c->depth + c->skip_depth <= KJSON_MAX_DEPTH ? 1 : fail(c, "maximum parsing depth reached");
}

/* Hands `v` (a new reference, NULL when its constructor failed with `why`) to the innermost
 * container, or makes it the root. */
static int add(struct kjson_ctx *c, json_t *v, const char *why)
{
    if (!v)
        return fail(c, why);
    if (c->depth >= KJSON_MAX_DEPTH) {   /* v would be at depth + 1, the top value at 1 */
        json_decref(v);
        return fail(c, "maximum parsing depth reached");
    }
    if (c->depth == 0) {
        if (!json_is_object(v) && !json_is_array(v)) {
            json_decref(v);
            return fail(c, "'[' or '{' expected");
        }
        c->root = v;
        return 1;
    }
    json_t *parent = c->stack[c->depth - 1];
    if (json_is_array(parent))
        return json_array_append_new(parent, v) == 0 ? 1 : fail(c, "out of memory");
    /* map_key already refused a duplicate, a NUL or bad UTF-8 */
    return json_object_setn_new_nocheck(parent, c->key, c->key_len, v) == 0 ? 1 : fail(c, "out of memory");
}

static int open_container(struct kjson_ctx *c, json_t *v)
{
    if (c->depth == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 32;
        json_t **ns = realloc(c->stack, ncap * sizeof *ns);
        if (!ns) {
            json_decref(v);
            return fail(c, "out of memory");
        }
        c->stack = ns;
        c->cap = ncap;
    }
    if (!add(c, json_incref(v), "out of memory")) {
        json_decref(v);
        return 0;
    }
    c->stack[c->depth++] = v;
    json_decref(v);   /* the parent (or root) holds it now */
    return 1;
}

static int close_container(void *ctx)
{
    struct kjson_ctx *c = ctx;
    if (c->skip_depth)
        c->skip_depth--;
    else
        c->depth--;
    return 1;
}

static int on_null(void *ctx)
{
    if (skipped_value(ctx))
        return skipped_scalar_ok(ctx);
    return add(ctx, json_null(), "out of memory");
}

static int on_boolean(void *ctx, int b)
{
    if (skipped_value(ctx))
        return skipped_scalar_ok(ctx);
    return add(ctx, json_boolean(b), "out of memory");
}

static int on_number(void *ctx, const char *s, size_t len)
{
    struct kjson_ctx *c = ctx;
    if (skipped_value(c))
        return skipped_scalar_ok(c);
    int real = memchr(s, '.', len) || memchr(s, 'e', len) || memchr(s, 'E', len);
    if (real) {
        json_error_t je;
        json_t *v = json_loadb(s, len, JSON_DECODE_ANY, &je);
        if (!v)
            return fail(c, je.text);
        return add(c, v, "out of memory");
    }
    /* 20 digits and a sign are the most a long long needs; longer is out of range anyway */
    char tmp[32];
    if (len >= sizeof tmp)
        return fail(c, s[0] == '-' ? "too big negative integer" : "too big integer");
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    errno = 0;
    long long n = strtoll(tmp, NULL, 10);
    if (errno == ERANGE)
        return fail(c, s[0] == '-' ? "too big negative integer" : "too big integer");
    return add(c, json_integer((json_int_t)n), "out of memory");
}

/* Whether `s` is UTF-8 as RFC 3629 defines it: no stray continuation octets, no overlong
 * forms, no surrogates, nothing above U+10FFFF, no sequence cut at the end. ASCII is passed
 * eight octets at a time. */
static int utf8_strict(const unsigned char *s, size_t len)
{
    const uint64_t highs = 0x8080808080808080u;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            uint64_t w;
            while (len - i >= 8 && (memcpy(&w, s + i, 8), !(w & highs)))
                i += 8;
            continue;
        }
        size_t left = len - i;
        if (c >= 0xC2 && c <= 0xDF) {
            if (left < 2 || (s[i + 1] & 0xC0) != 0x80)
                return 0;
            i += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (left < 3)
                return 0;
            unsigned c1 = s[i + 1];
            if ((c1 & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80 || (c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0))
                return 0;
            i += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (left < 4)
                return 0;
            unsigned c1 = s[i + 1];
            if ((c1 & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80 || (s[i + 3] & 0xC0) != 0x80 ||
                (c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90))
                return 0;
            i += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    if (memchr(s, '\0', len))
        return fail(ctx, "\\u0000 is not allowed without JSON_ALLOW_NUL");
    if (!utf8_strict(s, len))
        return fail(ctx, "string is not valid UTF-8"); /* skipped or not: the same verdict */
    if (skipped_value(ctx))
        return skipped_scalar_ok(ctx);
    return add(ctx, json_stringn_nocheck((const char *)s, len), "out of memory");
}

static int on_start_map(void *ctx)
{
    int skipped = skipped_open(ctx);
    if (skipped >= 0)
        return skipped;
    json_t *o = json_object();
    return o ? open_container(ctx, o) : fail(ctx, "out of memory");
}

static int on_map_key(void *ctx, const unsigned char *k, size_t len)
{
    struct kjson_ctx *c = ctx;
    if (memchr(k, '\0', len))
        return fail(c, "NUL byte in object key not supported");
    if (!utf8_strict(k, len))
        return fail(c, "object key is not valid UTF-8");
    if (c->skip_depth)
        return 1;
    for (const char *const *sk = c->skip; sk && *sk; sk++)
        if (strlen(*sk) == len && memcmp(*sk, k, len) == 0) {
            c->skip_next = 1; /* not checked for a duplicate either: it is not kept */
            return 1;
        }
    if (json_object_getn(c->stack[c->depth - 1], (const char *)k, len))
        return fail(c, "duplicate object key");
    if (len + 1 > c->key_cap) {
        size_t ncap = len + 1 > 64 ? len + 1 : 64;
        char *nk = realloc(c->key, ncap);
        if (!nk)
            return fail(c, "out of memory");
        c->key = nk;
        c->key_cap = ncap;
    }
    memcpy(c->key, k, len);
    c->key[len] = '\0';
    c->key_len = len;
    return 1;
}

static int on_start_array(void *ctx)
{
    int skipped = skipped_open(ctx);
    if (skipped >= 0)
        return skipped;
    json_t *a = json_array();
    return a ? open_container(ctx, a) : fail(ctx, "out of memory");
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = close_container,
    .yajl_start_array = on_start_array,
    .yajl_end_array = close_container,
};

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = p[i];
        v <<= 4;
        if (ch >= '0' && ch <= '9')
            v |= (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            v |= (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F')
            v |= (unsigned)(ch - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Finds the first \u escape of a surrogate that is not a high one followed by a low one, in
 * text yajl accepted (so every backslash starts an escape inside a string). Returns its offset,
 * or len when there is none. */
static size_t bad_surrogate(const char *buf, size_t len, unsigned *cp)
{
    const char *p = buf, *end = buf + len;
    while (p < end && (p = memchr(p, '\\', (size_t)(end - p))) != NULL) {
        unsigned u, lo;
        if (end - p < 6 || p[1] != 'u' || hex4(p + 2, &u) != 0) {
            p += 2;   /* another escape (yajl checked its form) */
            continue;
        }
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || hex4(p + 8, &lo) != 0 || lo < 0xDC00 ||
                lo > 0xDFFF) {
                *cp = u;
                return (size_t)(p - buf);
            }
            p += 12;
        } else if (u >= 0xDC00 && u <= 0xDFFF) {
            *cp = u;
            return (size_t)(p - buf);
        } else {
            p += 6;
        }
    }
    return len;
}

static void set_error(json_error_t *err, const char *buf, size_t len, size_t pos, const char *text)
{
    if (!err)
        return;
    if (pos > len)
        pos = len;
    int line = 1, column = 0;
    for (size_t i = 0; i < pos; i++) {
        unsigned char ch = (unsigned char)buf[i];
        if (ch == '\n') {
            line++;
            column = 0;
        } else if ((ch & 0xC0) != 0x80) {
            column++;   /* characters, not bytes, as jansson counts */
        }
    }
    memset(err, 0, sizeof *err);
    err->line = line;
    err->column = column;
    err->position = (int)pos;
    snprintf(err->source, sizeof err->source, "<buffer>");
    snprintf(err->text, sizeof err->text, "%s", text);
}

json_t *kjson_loadb(const char *buf, size_t len, json_error_t *err)
{
    return kjson_loadb_ex(buf, len, err, NULL);
}

json_t *kjson_loadb_ex(const char *buf, size_t len, json_error_t *err, int *ended_early)
{
    return kjson_loadb_skip(buf, len, err, ended_early, NULL);
}

json_t *kjson_loadb_skip(const char *buf, size_t len, json_error_t *err, int *ended_early, const char *const *skip)
{
    struct kjson_ctx c = { 0 };
    c.skip = skip;
    if (ended_early)
        *ended_early = 0;
    yajl_handle h = yajl_alloc(&callbacks, NULL, &c);
    if (h)
        yajl_config(h, yajl_dont_validate_strings, 1);
    if (!h) {
        set_error(err, buf, len, 0, "out of memory");
        return NULL;
    }
    yajl_status st = yajl_parse(h, (const unsigned char *)(buf ? buf : ""), buf ? len : 0);
    size_t pos = yajl_get_bytes_consumed(h);
    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
        pos = len;
        /* yajl_parse took every byte (a token cut in two waits in its buffer) and only the
         * end was missing; no value at all (empty text) counts too */
        if (st == yajl_status_error && ended_early)
            *ended_early = 1;
    }
    if (st == yajl_status_client_canceled) {
        set_error(err, buf, len, pos, c.msg);
    } else if (st != yajl_status_ok) {
        unsigned char *e = yajl_get_error(h, 0, NULL, 0);
        char text[160];
        snprintf(text, sizeof text, "%s", e ? (const char *)e : "parse error");
        text[strcspn(text, "\n")] = '\0';
        set_error(err, buf, len, pos, text);
        if (e)
            yajl_free_error(h, e);
    } else if (!c.root) {
        set_error(err, buf, len, len, "'[' or '{' expected");
        st = yajl_status_error;
    } else {
        unsigned cp = 0;
        size_t at = bad_surrogate(buf, len, &cp);
        if (at < len) {
            char text[64];
            snprintf(text, sizeof text, "invalid Unicode '\\u%04X'", cp);
            set_error(err, buf, len, at, text);
            st = yajl_status_error;
        }
    }
    yajl_free(h);
    free(c.stack);
    free(c.key);
    if (st != yajl_status_ok) {
        json_decref(c.root);
        return NULL;
    }
    return c.root;
}
