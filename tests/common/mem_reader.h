/* mem_reader.h — an outpost_reader (outpost/transport.h) over a NUL-terminated string, for
 * handing content to a transport's write-back in tests. */
#ifndef OUTPOST_TEST_MEM_READER_H
#define OUTPOST_TEST_MEM_READER_H

#include <stddef.h>

#include <outpost/transport.h>

struct mem_reader {
    struct outpost_reader r;
    const char *data;   /* borrowed: must outlive the reader */
    size_t len, off;
};

/* Sets m up to read data from the start; returns &m->r. */
struct outpost_reader *mem_reader(struct mem_reader *m, const char *data);

#endif
