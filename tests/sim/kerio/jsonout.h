/* A fast JSON writer for replies: jansson's json_dumps validates and copies byte by byte, which
 * made it the bottleneck of serving mail bodies. Output is compact UTF-8, members in insertion
 * order, identical in meaning to json_dumps(JSON_COMPACT). */
#ifndef OUTPOST_SIM_KERIO_JSONOUT_H
#define OUTPOST_SIM_KERIO_JSONOUT_H

#include <jansson.h>

#include "util.h"

void jsonout_value(struct buf *b, const json_t *v);
/* Whole document as a malloc'd NUL-terminated string; *len gets its length. */
char *jsonout_dump(const json_t *v, size_t *len);

#endif
