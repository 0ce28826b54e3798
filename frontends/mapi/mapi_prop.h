/* frontends/mapi/mapi_prop.h — MAPI property values and property lists as
 * the core keeps them: typed values, strings in UTF-8, every list owning its
 * data (deep copies in, freed with the list).
 *
 * Strings (PT_UNICODE and PT_STRING8) are UTF-8 here and on the wire; the
 * provider DLL converts to UTF-16 / the ANSI code page for Outlook.
 * FILETIMEs (PT_SYSTIME) are 100 ns ticks since 1601-01-01 UTC.
 */
#ifndef OUTPOST_MAPI_PROP_H
#define OUTPOST_MAPI_PROP_H

#include <stddef.h>
#include <stdint.h>

#include "mapi_defs.h"

typedef union mapi_val {
    int32_t l;      /* PT_I2, PT_LONG, PT_BOOLEAN (0/1), PT_ERROR (an SCODE) */
    int64_t ll;     /* PT_I8, PT_SYSTIME, PT_CURRENCY */
    double d;       /* PT_R4, PT_DOUBLE, PT_APPTIME */
    struct {
        uint32_t len;
        uint8_t *data; /* strings: UTF-8 with a NUL after len bytes */
    } bin;          /* PT_BINARY, PT_CLSID (16 bytes), PT_STRING8, PT_UNICODE */
} mapi_val;

typedef struct mapi_prop {
    uint32_t tag;
    uint32_t count;   /* number of values of an MV property */
    union {
        mapi_val v;   /* single-valued */
        mapi_val *mv; /* multi-valued: count values of the base type */
    };
} mapi_prop;

/* A growable list of properties, unique by property id. */
typedef struct mapi_props {
    uint32_t n, cap;
    mapi_prop *p;
} mapi_props;

/* 1 for types whose value is (len, data). */
int mapi_type_is_bytes(uint32_t type);
/* 1 for a known base or MV type. */
int mapi_type_valid(uint32_t type);

void mapi_prop_clear(mapi_prop *p);
/* Deep copy; -1 on allocation failure. */
int mapi_prop_copy(mapi_prop *dst, const mapi_prop *src);
/* Equal type and values (strings compared exactly). */
int mapi_prop_equal(const mapi_prop *a, const mapi_prop *b);

void mapi_props_init(mapi_props *l);
void mapi_props_free(mapi_props *l);
/* The property with this id (type ignored), or NULL. */
mapi_prop *mapi_props_find(const mapi_props *l, uint32_t tag);
/* Replaces (or adds) the property with p's id by a copy of p. */
int mapi_props_put(mapi_props *l, const mapi_prop *p);
/* Moves p in (no copy); p is cleared. */
int mapi_props_take(mapi_props *l, mapi_prop *p);
int mapi_props_remove(mapi_props *l, uint32_t tag);
int mapi_props_copy(mapi_props *dst, const mapi_props *src);

int mapi_props_set_long(mapi_props *l, uint32_t tag, int32_t v);
int mapi_props_set_bool(mapi_props *l, uint32_t tag, int v);
int mapi_props_set_i8(mapi_props *l, uint32_t tag, int64_t v); /* PT_I8 / PT_SYSTIME */
int mapi_props_set_double(mapi_props *l, uint32_t tag, double v);
int mapi_props_set_str(mapi_props *l, uint32_t tag, const char *utf8); /* NULL: nothing set */
int mapi_props_set_strn(mapi_props *l, uint32_t tag, const char *utf8, size_t len);
int mapi_props_set_bin(mapi_props *l, uint32_t tag, const void *data, size_t len);
/* PT_MV_UNICODE from n strings. */
int mapi_props_set_mvstr(mapi_props *l, uint32_t tag, const char *const *v, uint32_t n);
int mapi_props_set_mvbin(mapi_props *l, uint32_t tag, const void *const *v, const uint32_t *lens, uint32_t n);

/* Accessors: default when absent or of another type. */
int32_t mapi_props_long(const mapi_props *l, uint32_t tag, int32_t def);
int64_t mapi_props_i8(const mapi_props *l, uint32_t tag, int64_t def);
const char *mapi_props_str(const mapi_props *l, uint32_t tag); /* NULL when absent */
const mapi_val *mapi_props_bin(const mapi_props *l, uint32_t tag);

/* Orders two values of the same base type (sort and RELOP_*): <0, 0, >0.
 * Strings compare case-insensitively (ASCII folding), as MAPI tables sort. */
int mapi_val_cmp(uint32_t type, const mapi_val *a, const mapi_val *b);

/* FILETIME <-> ms since the Unix epoch. */
int64_t mapi_filetime_from_ms(int64_t ms);
int64_t mapi_filetime_to_ms(int64_t ft);

/* A byte buffer that grows (used by the wire writer, the mappers and RTF). */
typedef struct mapi_buf {
    uint8_t *data;
    size_t len, cap;
    int oom; /* set once an allocation failed; later appends do nothing */
} mapi_buf;

void mapi_buf_init(mapi_buf *b);
void mapi_buf_free(mapi_buf *b);
void mapi_buf_add(mapi_buf *b, const void *p, size_t n);
void mapi_buf_addc(mapi_buf *b, uint8_t c);
void mapi_buf_adds(mapi_buf *b, const char *s);
void mapi_buf_printf(mapi_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* NUL-terminates (not counted in len) and hands the data over; NULL on OOM. */
char *mapi_buf_steal(mapi_buf *b, size_t *len);

#endif
