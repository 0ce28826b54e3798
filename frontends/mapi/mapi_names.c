/* frontends/mapi/mapi_names.c — the persistent named-property map. */
#include "mapi_names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define G(d1, d2, d3, a, b, c, d, e, f, g, h)                                                              \
    { (uint8_t)(d1), (uint8_t)((d1) >> 8), (uint8_t)((d1) >> 16), (uint8_t)((d1) >> 24), (uint8_t)(d2),   \
      (uint8_t)((d2) >> 8), (uint8_t)(d3), (uint8_t)((d3) >> 8), a, b, c, d, e, f, g, h }

const uint8_t MAPI_PSETID_APPOINTMENT[16] = G(0x00062002u, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46);
const uint8_t MAPI_PSETID_TASK[16] = G(0x00062003u, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46);
const uint8_t MAPI_PSETID_ADDRESS[16] = G(0x00062004u, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46);
const uint8_t MAPI_PSETID_COMMON[16] = G(0x00062008u, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46);
const uint8_t MAPI_PSETID_NOTE[16] = G(0x0006200Eu, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46);
const uint8_t MAPI_PS_PUBLIC_STRINGS[16] = G(0x00020329u, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46);
const uint8_t MAPI_PS_MAPI[16] = G(0x00020328u, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46);
const uint8_t MAPI_PS_INTERNET_HEADERS[16] = G(0x00020386u, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46);

struct mapi_names {
    mapi_name *v;  /* v[i] has id MAPI_NAMED_FIRST + i */
    uint32_t n, cap;
    FILE *f;       /* append handle, NULL for an in-memory map */
    mapi_names_save_fn save; /* or the whole map saved through this */
    void *save_ctx;
};

static int same(const mapi_name *a, const mapi_name *b)
{
    if (memcmp(a->guid, b->guid, 16) != 0 || a->kind != b->kind)
        return 0;
    if (a->kind == MAPI_MNID_ID)
        return a->lid == b->lid;
    return strcmp(a->name ? a->name : "", b->name ? b->name : "") == 0;
}

static int push(mapi_names *m, const mapi_name *n)
{
    if (m->n > MAPI_NAMED_LAST - MAPI_NAMED_FIRST)
        return -1;
    if (m->n == m->cap) {
        uint32_t cap = m->cap ? m->cap * 2 : 64;
        mapi_name *v = realloc(m->v, cap * sizeof *v);
        if (!v)
            return -1;
        m->v = v;
        m->cap = cap;
    }
    mapi_name *d = &m->v[m->n];
    *d = *n;
    d->name = NULL;
    if (n->kind == MAPI_MNID_STRING) {
        d->name = strdup(n->name ? n->name : "");
        if (!d->name)
            return -1;
    }
    m->n++;
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes n hex digit pairs from s into out; -1 if malformed. */
static int unhex(const char *s, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int a = hexval(s[2 * i]), b = hexval(s[2 * i + 1]);
        if (a < 0 || b < 0)
            return -1;
        out[i] = (uint8_t)(a << 4 | b);
    }
    return 0;
}

static void write_hex(FILE *f, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
}

/* The same line format into a buffer. */
static void buf_line(mapi_buf *b, uint32_t id, const mapi_name *n)
{
    mapi_buf_printf(b, "%x ", id);
    for (size_t i = 0; i < 16; i++)
        mapi_buf_printf(b, "%02x", n->guid[i]);
    if (n->kind == MAPI_MNID_ID) {
        mapi_buf_printf(b, " i %x\n", n->lid);
    } else {
        mapi_buf_adds(b, " s ");
        for (const char *c = n->name ? n->name : ""; *c; c++)
            mapi_buf_printf(b, "%02x", (uint8_t)*c);
        mapi_buf_addc(b, '\n');
    }
}

/* One line: "<id> <guid hex> i <lid>" or "<id> <guid hex> s <name hex>". */
static int parse_line(mapi_names *m, char *line)
{
    char *sp1 = strchr(line, ' ');
    if (!sp1)
        return -1;
    unsigned long id = strtoul(line, NULL, 16);
    char *g = sp1 + 1;
    if (strlen(g) < 32 + 3 || g[32] != ' ' || g[34] != ' ')
        return -1;
    mapi_name n;
    memset(&n, 0, sizeof n);
    if (unhex(g, 16, n.guid) != 0)
        return -1;
    char *val = g + 35;
    if (g[33] == 'i') {
        n.kind = MAPI_MNID_ID;
        n.lid = (uint32_t)strtoul(val, NULL, 16);
    } else if (g[33] == 's') {
        size_t hl = strlen(val);
        if (hl % 2)
            return -1;
        n.kind = MAPI_MNID_STRING;
        n.name = malloc(hl / 2 + 1);
        if (!n.name || unhex(val, hl / 2, (uint8_t *)n.name) != 0) {
            free(n.name);
            return -1;
        }
        n.name[hl / 2] = 0;
    } else {
        return -1;
    }
    /* Ids are dense and in order; a line out of order means a damaged file. */
    int rc = (id == MAPI_NAMED_FIRST + m->n) ? push(m, &n) : -1;
    free(n.name);
    return rc;
}

mapi_names *mapi_names_open(const char *path, char *err, size_t errlen)
{
    mapi_names *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!path)
        return m;
    FILE *f = fopen(path, "rb");
    if (f) {
        char line[2048];
        unsigned lineno = 0;
        while (fgets(line, sizeof line, f)) {
            lineno++;
            size_t l = strlen(line);
            while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
                line[--l] = 0;
            if (l == 0 || line[0] == '#')
                continue;
            if (parse_line(m, line) != 0) {
                snprintf(err, errlen, "%s:%u: malformed named-property line; restore the file from a backup", path,
                         lineno);
                fclose(f);
                mapi_names_close(m);
                return NULL;
            }
        }
        fclose(f);
    }
    m->f = fopen(path, "ab");
    if (!m->f) {
        snprintf(err, errlen, "cannot open %s for appending", path);
        mapi_names_close(m);
        return NULL;
    }
    return m;
}

mapi_names *mapi_names_open_text(const char *text, size_t len, mapi_names_save_fn save, void *ctx, char *err,
                                 size_t errlen)
{
    mapi_names *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->save = save;
    m->save_ctx = ctx;
    unsigned lineno = 0;
    for (size_t off = 0; text && off < len;) {
        const char *nl = memchr(text + off, '\n', len - off);
        size_t l = nl ? (size_t)(nl - (text + off)) : len - off;
        char line[2048];
        lineno++;
        if (l >= sizeof line) {
            snprintf(err, errlen, "named-property map line %u is too long", lineno);
            mapi_names_close(m);
            return NULL;
        }
        memcpy(line, text + off, l);
        line[l] = 0;
        while (l && line[l - 1] == '\r')
            line[--l] = 0;
        off += l + (nl ? 1 : 0);
        if (l == 0 || line[0] == '#')
            continue;
        if (parse_line(m, line) != 0) {
            snprintf(err, errlen, "named-property map line %u is malformed", lineno);
            mapi_names_close(m);
            return NULL;
        }
    }
    return m;
}

char *mapi_names_text(const mapi_names *m, size_t *len)
{
    mapi_buf b;
    mapi_buf_init(&b);
    for (uint32_t i = 0; i < m->n; i++)
        buf_line(&b, MAPI_NAMED_FIRST + i, &m->v[i]);
    if (b.oom) {
        mapi_buf_free(&b);
        return NULL;
    }
    return mapi_buf_steal(&b, len);
}

void mapi_names_close(mapi_names *m)
{
    if (!m)
        return;
    if (m->f)
        fclose(m->f);
    for (uint32_t i = 0; i < m->n; i++)
        free(m->v[i].name);
    free(m->v);
    free(m);
}

int mapi_names_id(mapi_names *m, const mapi_name *n, int create, uint16_t *id)
{
    if (n->kind == MAPI_MNID_ID && memcmp(n->guid, MAPI_PS_MAPI, 16) == 0 && n->lid < MAPI_NAMED_FIRST) {
        *id = (uint16_t)n->lid;
        return 0;
    }
    if (n->kind != MAPI_MNID_ID && n->kind != MAPI_MNID_STRING)
        return -1;
    for (uint32_t i = 0; i < m->n; i++) {
        if (same(&m->v[i], n)) {
            *id = (uint16_t)(MAPI_NAMED_FIRST + i);
            return 0;
        }
    }
    if (!create || m->n > MAPI_NAMED_LAST - MAPI_NAMED_FIRST)
        return -1;
    if (m->save) {
        /* the whole map with the new name, saved before the id is handed out */
        size_t len = 0;
        char *text = mapi_names_text(m, &len);
        if (!text)
            return -1;
        mapi_buf b;
        mapi_buf_init(&b);
        mapi_buf_add(&b, text, len);
        free(text);
        buf_line(&b, MAPI_NAMED_FIRST + m->n, n);
        int rc = b.oom ? -1 : m->save(m->save_ctx, (const char *)b.data, b.len);
        mapi_buf_free(&b);
        if (rc != 0)
            return -1;
    }
    if (m->f) {
        fprintf(m->f, "%x ", MAPI_NAMED_FIRST + m->n);
        write_hex(m->f, n->guid, 16);
        if (n->kind == MAPI_MNID_ID) {
            fprintf(m->f, " i %x\n", n->lid);
        } else {
            fputs(" s ", m->f);
            write_hex(m->f, (const uint8_t *)(n->name ? n->name : ""), n->name ? strlen(n->name) : 0);
            fputc('\n', m->f);
        }
        if (fflush(m->f) != 0)
            return -1;
    }
    if (push(m, n) != 0)
        return -1;
    *id = (uint16_t)(MAPI_NAMED_FIRST + m->n - 1);
    return 0;
}

int mapi_names_lid(mapi_names *m, const uint8_t guid[16], uint32_t lid, uint16_t *id)
{
    mapi_name n;
    memset(&n, 0, sizeof n);
    memcpy(n.guid, guid, 16);
    n.kind = MAPI_MNID_ID;
    n.lid = lid;
    return mapi_names_id(m, &n, 1, id);
}

int mapi_names_string(mapi_names *m, const uint8_t guid[16], const char *name, uint16_t *id)
{
    mapi_name n;
    memset(&n, 0, sizeof n);
    memcpy(n.guid, guid, 16);
    n.kind = MAPI_MNID_STRING;
    n.name = (char *)name;
    return mapi_names_id(m, &n, 1, id);
}

const mapi_name *mapi_names_get(const mapi_names *m, uint16_t id)
{
    if (id < MAPI_NAMED_FIRST || (uint32_t)(id - MAPI_NAMED_FIRST) >= m->n)
        return NULL;
    return &m->v[id - MAPI_NAMED_FIRST];
}

uint32_t mapi_names_count(const mapi_names *m)
{
    return m->n;
}

uint16_t mapi_names_id_at(const mapi_names *m, uint32_t i)
{
    (void)m;
    return (uint16_t)(MAPI_NAMED_FIRST + i);
}
