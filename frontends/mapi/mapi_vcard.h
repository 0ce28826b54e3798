/* frontends/mapi/mapi_vcard.h — a small vCard 3.0 (RFC 2426) reader and
 * writer for the contact mapping: unfolding, group prefixes, parameters,
 * escaping, structured values (N, ORG), folding at 75 octets on write.
 * (Debian's libvformat is not packaged for our use; this covers what the
 * mapping reads and writes, and the mapi_map tests round-trip it.)
 */
#ifndef OUTPOST_MAPI_VCARD_H
#define OUTPOST_MAPI_VCARD_H

#include <stddef.h>
#include <stdint.h>

#include "mapi_prop.h"

typedef struct mapi_vcard_prop {
    char *name;    /* upper-case, group removed */
    char *params;  /* upper-case parameter text, "" when none */
    char *raw;     /* value as written (escaped) */
    char *text;    /* value unescaped */
} mapi_vcard_prop;

typedef struct mapi_vcard {
    mapi_vcard_prop *p;
    uint32_t n;
} mapi_vcard;

/* Parses the first vCard in s. 0 or -1 (no BEGIN:VCARD, out of memory). */
int mapi_vcard_parse(const char *s, size_t len, mapi_vcard *v);
void mapi_vcard_free(mapi_vcard *v);
/* The index-th value of `name` (whose TYPE includes `type` when non-NULL),
 * unescaped, owned by v; NULL when absent. */
const char *mapi_vcard_get(const mapi_vcard *v, const char *name, const char *type, int index);
/* Component `idx` of a structured value (N, ORG), unescaped, malloc'd; NULL when absent. */
char *mapi_vcard_field(const mapi_vcard *v, const char *name, int idx);

typedef struct mapi_vcard_writer {
    mapi_buf *out;
} mapi_vcard_writer;

void mapi_vcard_begin(mapi_vcard_writer *w, mapi_buf *out);
/* NAME[;TYPE=type]:escaped value, folded. */
void mapi_vcard_line(mapi_vcard_writer *w, const char *name, const char *type, const char *value);
/* NAME:a;b;c with each part escaped (NULL parts empty). */
void mapi_vcard_structured(mapi_vcard_writer *w, const char *name, const char *const *parts, uint32_t n);
/* NAME:a,b,c with each value escaped. */
void mapi_vcard_list(mapi_vcard_writer *w, const char *name, const char *const *vals, uint32_t n);
void mapi_vcard_end(mapi_vcard_writer *w);

#endif
