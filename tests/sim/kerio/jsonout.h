/* A fast JSON writer for replies: jansson's json_dumps validates and copies byte by byte, which
 * made it the bottleneck of serving mail bodies. Output is compact UTF-8, members in insertion
 * order, identical in meaning to json_dumps(JSON_COMPACT). */
#ifndef OUTPOST_SIM_KERIO_JSONOUT_H
#define OUTPOST_SIM_KERIO_JSONOUT_H

#include <jansson.h>

#include "util.h"

/* Raw nodes: a JSON text produced elsewhere (the fast mail writer) travels through a jansson
 * tree as a string starting with `tag` (a per-process random marker no client can guess) and
 * is written out verbatim. */
#define JSONOUT_TAG_LEN 34
void jsonout_make_tag(char tag[JSONOUT_TAG_LEN + 1]);
json_t *jsonout_raw(const char *tag, const char *text, size_t len);

void jsonout_value(struct buf *b, const json_t *v, const char *tag);
void jsonout_string(struct buf *b, const char *s, size_t n);
/* Whole document as a malloc'd NUL-terminated string; *len gets its length. */
char *jsonout_dump(const json_t *v, const char *tag, size_t *len);

#endif
