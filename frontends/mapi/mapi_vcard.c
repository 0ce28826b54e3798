/* frontends/mapi/mapi_vcard.c — vCard 3.0 reader and writer (see header). */
#include "mapi_vcard.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *upper_dup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++)
        d[i] = (s[i] >= 'a' && s[i] <= 'z') ? (char)(s[i] - 32) : s[i];
    d[n] = 0;
    return d;
}

/* Unescapes s[0..n) stopping at an unescaped `stop` (0: none). */
static char *unescape(const char *s, size_t n, char stop, size_t *used)
{
    char *d = malloc(n + 1);
    size_t k = 0, i = 0;
    if (!d)
        return NULL;
    for (; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            char e = s[++i];
            d[k++] = (e == 'n' || e == 'N') ? '\n' : e;
            continue;
        }
        if (stop && c == stop)
            break;
        d[k++] = c;
    }
    d[k] = 0;
    if (used)
        *used = i;
    return d;
}

static int add_line(mapi_vcard *v, const char *line, size_t n)
{
    /* name[;params]:value, name may have a "group." prefix. */
    const char *colon = NULL;
    int q = 0;
    for (size_t i = 0; i < n; i++) {
        if (line[i] == '"')
            q = !q;
        if (!q && line[i] == ':') {
            colon = line + i;
            break;
        }
    }
    if (!colon)
        return 0; /* not a property line: ignore */
    size_t head = (size_t)(colon - line);
    const char *semi = memchr(line, ';', head);
    size_t namelen = semi ? (size_t)(semi - line) : head;
    const char *dot = memchr(line, '.', namelen);
    const char *name = dot ? dot + 1 : line;
    namelen -= (size_t)(name - line);
    mapi_vcard_prop *np = realloc(v->p, (v->n + 1) * sizeof *np);
    if (!np)
        return -1;
    v->p = np;
    mapi_vcard_prop *p = &v->p[v->n];
    p->name = upper_dup(name, namelen);
    p->params = semi ? upper_dup(semi + 1, head - namelen - (size_t)(name - line) - 1) : upper_dup("", 0);
    size_t vl = n - head - 1;
    p->raw = malloc(vl + 1);
    if (p->raw) {
        memcpy(p->raw, colon + 1, vl);
        p->raw[vl] = 0;
    }
    p->text = unescape(colon + 1, vl, 0, NULL);
    if (!p->name || !p->params || !p->raw || !p->text) {
        free(p->name);
        free(p->params);
        free(p->raw);
        free(p->text);
        return -1;
    }
    v->n++;
    return 0;
}

int mapi_vcard_parse(const char *s, size_t len, mapi_vcard *v)
{
    memset(v, 0, sizeof *v);
    mapi_buf line;
    mapi_buf_init(&line);
    int in_card = 0, rc = -1;
    size_t i = 0;
    while (i < len) {
        /* one logical (unfolded) line */
        line.len = 0;
        while (i < len) {
            if (s[i] == '\r' || s[i] == '\n') {
                size_t j = i;
                if (s[j] == '\r' && j + 1 < len && s[j + 1] == '\n')
                    j++;
                j++;
                if (j < len && (s[j] == ' ' || s[j] == '\t')) {
                    i = j + 1; /* folded continuation */
                    continue;
                }
                i = j;
                break;
            }
            mapi_buf_addc(&line, (uint8_t)s[i++]);
        }
        if (line.oom)
            break;
        const char *l = line.len ? (const char *)line.data : "";
        if (!in_card) {
            if (line.len >= 11 && strncasecmp(l, "BEGIN:VCARD", 11) == 0)
                in_card = 1;
            continue;
        }
        if (line.len >= 9 && strncasecmp(l, "END:VCARD", 9) == 0) {
            rc = 0;
            break;
        }
        if (line.len && add_line(v, l, line.len) != 0)
            break;
    }
    if (in_card && rc != 0 && !line.oom && i >= len)
        rc = 0; /* tolerate a missing END:VCARD */
    mapi_buf_free(&line);
    if (rc != 0)
        mapi_vcard_free(v);
    return rc;
}

void mapi_vcard_free(mapi_vcard *v)
{
    for (uint32_t i = 0; i < v->n; i++) {
        free(v->p[i].name);
        free(v->p[i].params);
        free(v->p[i].raw);
        free(v->p[i].text);
    }
    free(v->p);
    memset(v, 0, sizeof *v);
}

static int has_type(const char *params, const char *type)
{
    size_t tl = strlen(type);
    for (const char *p = params; (p = strcasestr(p, type)) != NULL; p += tl) {
        char before = p == params ? ';' : p[-1];
        char after = p[tl];
        if ((before == ';' || before == ',' || before == '=') && (after == 0 || after == ';' || after == ','))
            return 1;
    }
    return 0;
}

static const mapi_vcard_prop *find(const mapi_vcard *v, const char *name, const char *type, int index)
{
    for (uint32_t i = 0; i < v->n; i++) {
        if (strcmp(v->p[i].name, name) != 0)
            continue;
        if (type && !has_type(v->p[i].params, type))
            continue;
        if (index-- == 0)
            return &v->p[i];
    }
    return NULL;
}

const char *mapi_vcard_get(const mapi_vcard *v, const char *name, const char *type, int index)
{
    const mapi_vcard_prop *p = find(v, name, type, index);
    return p ? p->text : NULL;
}

char *mapi_vcard_field(const mapi_vcard *v, const char *name, int idx)
{
    const mapi_vcard_prop *p = find(v, name, NULL, 0);
    if (!p)
        return NULL;
    const char *s = p->raw;
    size_t n = strlen(s);
    for (int k = 0;; k++) {
        size_t used;
        char *f = unescape(s, n, ';', &used);
        if (k == idx)
            return f;
        free(f);
        if (used >= n)
            return NULL;
        s += used + 1;
        n -= used + 1;
    }
}

/* ---- writer ---- */

static void folded(mapi_vcard_writer *w, const char *s, size_t n)
{
    /* Fold at 75 octets, never inside a UTF-8 sequence. */
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (col >= 74 && (c & 0xC0) != 0x80) {
            mapi_buf_adds(w->out, "\r\n ");
            col = 1;
        }
        mapi_buf_addc(w->out, c);
        col++;
    }
    mapi_buf_adds(w->out, "\r\n");
}

static void escape(mapi_buf *b, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\\' || *s == ';' || *s == ',') {
            mapi_buf_addc(b, '\\');
            mapi_buf_addc(b, (uint8_t)*s);
        } else if (*s == '\n') {
            mapi_buf_adds(b, "\\n");
        } else if (*s != '\r') {
            mapi_buf_addc(b, (uint8_t)*s);
        }
    }
}

void mapi_vcard_begin(mapi_vcard_writer *w, mapi_buf *out)
{
    w->out = out;
    mapi_buf_adds(out, "BEGIN:VCARD\r\nVERSION:3.0\r\n");
}

static void emit(mapi_vcard_writer *w, mapi_buf *l)
{
    if (l->oom)
        w->out->oom = 1;
    else
        folded(w, (const char *)l->data, l->len);
    mapi_buf_free(l);
}

void mapi_vcard_line(mapi_vcard_writer *w, const char *name, const char *type, const char *value)
{
    mapi_buf l;
    mapi_buf_init(&l);
    mapi_buf_adds(&l, name);
    if (type) {
        mapi_buf_adds(&l, ";TYPE=");
        mapi_buf_adds(&l, type);
    }
    mapi_buf_addc(&l, ':');
    escape(&l, value);
    emit(w, &l);
}

void mapi_vcard_structured(mapi_vcard_writer *w, const char *name, const char *const *parts, uint32_t n)
{
    mapi_buf l;
    mapi_buf_init(&l);
    mapi_buf_adds(&l, name);
    mapi_buf_addc(&l, ':');
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            mapi_buf_addc(&l, ';');
        escape(&l, parts[i]);
    }
    emit(w, &l);
}

void mapi_vcard_list(mapi_vcard_writer *w, const char *name, const char *const *vals, uint32_t n)
{
    mapi_buf l;
    mapi_buf_init(&l);
    mapi_buf_adds(&l, name);
    mapi_buf_addc(&l, ':');
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            mapi_buf_addc(&l, ',');
        escape(&l, vals[i]);
    }
    emit(w, &l);
}

void mapi_vcard_end(mapi_vcard_writer *w)
{
    mapi_buf_adds(w->out, "END:VCARD\r\n");
}
