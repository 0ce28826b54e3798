/* mem_reader.c — a reader over a string (see mem_reader.h). */
#include "mem_reader.h"

#include <string.h>

static outpost_status mr_read(void *ctx, void *buf, size_t cap, size_t *got)
{
    struct mem_reader *m = ctx;
    size_t n = m->len - m->off < cap ? m->len - m->off : cap;
    memcpy(buf, m->data + m->off, n);
    m->off += n;
    *got = n;
    return outpost_ok();
}

static outpost_status mr_rewind(void *ctx)
{
    ((struct mem_reader *)ctx)->off = 0;
    return outpost_ok();
}

struct outpost_reader *mem_reader(struct mem_reader *m, const char *data)
{
    m->data = data;
    m->len = strlen(data);
    m->off = 0;
    m->r.ctx = m;
    m->r.size = m->len;
    m->r.read = mr_read;
    m->r.rewind = mr_rewind;
    return &m->r;
}
