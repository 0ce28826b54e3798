/* A read/write stream (FILE *, through glibc's fopencookie) that keeps its bytes in memory up
 * to a limit and moves them to an anonymous temporary file when it grows past it. Replies and
 * decoded mail pass through one on their way from libcurl to the parsers and from the parser
 * to the sink: small ones never touch the file system (no write and read-back copies through
 * the kernel), large ones cost at most `mem_max` bytes of memory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ews.h"

/* Memory is held in blocks: growing never copies what is there, and a block is below
 * malloc's mmap threshold, so spools made one after the other reuse the same heap memory. */
#define SPOOL_BLOCK (64u * 1024u)

struct spool {
    char **blk;          /* the bytes while in memory: len bytes over ceil(len / SPOOL_BLOCK) blocks */
    size_t nblk, capblk;
    size_t len, pos;
    size_t mem_max;
    FILE *f;             /* the temporary file once spilled (the blocks are then freed) */
};

static void free_blocks(struct spool *s)
{
    for (size_t i = 0; i < s->nblk; i++)
        free(s->blk[i]);
    free(s->blk);
    s->blk = NULL;
    s->nblk = s->capblk = 0;
}

/* Moves the bytes to a temporary file, positioned where the stream is. */
static int spill(struct spool *s)
{
    FILE *f = tmpfile();
    if (!f)
        return -1;
    for (size_t i = 0, left = s->len; left; i++) {
        size_t k = left < SPOOL_BLOCK ? left : SPOOL_BLOCK;
        if (fwrite(s->blk[i], 1, k, f) != k) {
            fclose(f);
            errno = ENOSPC;
            return -1;
        }
        left -= k;
    }
    if (fseeko(f, (off_t)s->pos, SEEK_SET)) {
        fclose(f);
        return -1;
    }
    free_blocks(s);
    s->len = 0;
    s->f = f;
    return 0;
}

static ssize_t sp_read(void *c, char *buf, size_t n)
{
    struct spool *s = c;
    if (s->f) {
        size_t got = fread(buf, 1, n, s->f);
        return got || !ferror(s->f) ? (ssize_t)got : -1;
    }
    size_t done = 0;
    while (done < n && s->pos < s->len) {
        size_t off = s->pos % SPOOL_BLOCK, k = SPOOL_BLOCK - off;
        if (k > n - done)
            k = n - done;
        if (k > s->len - s->pos)
            k = s->len - s->pos;
        memcpy(buf + done, s->blk[s->pos / SPOOL_BLOCK] + off, k);
        s->pos += k;
        done += k;
    }
    return (ssize_t)done;
}

static ssize_t sp_write(void *c, const char *buf, size_t n)
{
    struct spool *s = c;
    if (!s->f && s->pos + n > s->mem_max && spill(s))
        return -1;
    if (s->f)
        return fwrite(buf, 1, n, s->f) == n ? (ssize_t)n : -1;
    size_t need = (s->pos + n + SPOOL_BLOCK - 1) / SPOOL_BLOCK;
    if (need > s->capblk) {
        size_t cap = s->capblk ? s->capblk * 2 : 16;
        while (cap < need)
            cap *= 2;
        char **nb = realloc(s->blk, cap * sizeof *nb);
        if (!nb) {
            errno = ENOMEM;
            return -1;
        }
        s->blk = nb;
        s->capblk = cap;
    }
    while (s->nblk < need) {
        if (!(s->blk[s->nblk] = malloc(SPOOL_BLOCK))) {
            errno = ENOMEM;
            return -1;
        }
        s->nblk++;
    }
    for (size_t done = 0; done < n;) {
        size_t off = s->pos % SPOOL_BLOCK, k = SPOOL_BLOCK - off;
        if (k > n - done)
            k = n - done;
        memcpy(s->blk[s->pos / SPOOL_BLOCK] + off, buf + done, k);
        s->pos += k;
        done += k;
    }
    if (s->pos > s->len)
        s->len = s->pos;
    return (ssize_t)n;
}

static int sp_seek(void *c, off64_t *off, int whence)
{
    struct spool *s = c;
    if (s->f) {
        if (fseeko(s->f, (off_t)*off, whence))
            return -1;
        *off = (off64_t)ftello(s->f);
        return 0;
    }
    off64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (off64_t)s->pos : (off64_t)s->len;
    off64_t to = base + *off;
    if (to < 0 || to > (off64_t)s->len) { /* no holes: a stream is written front to back */
        errno = EINVAL;
        return -1;
    }
    s->pos = (size_t)to;
    *off = to;
    return 0;
}

static int sp_close(void *c)
{
    struct spool *s = c;
    int rc = s->f ? fclose(s->f) : 0;
    free_blocks(s);
    free(s);
    return rc;
}

FILE *ews_spool_open(size_t mem_max)
{
    struct spool *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->mem_max = mem_max;
    cookie_io_functions_t io = {sp_read, sp_write, sp_seek, sp_close};
    FILE *f = fopencookie(s, "w+", io);
    if (!f) {
        free(s);
        return NULL;
    }
    /* a large stdio buffer: glibc reads a cookie stream through its buffer whatever the
     * caller's read size (unbuffered, that is one callback per byte) */
    setvbuf(f, NULL, _IOFBF, 64 * 1024);
    return f;
}
