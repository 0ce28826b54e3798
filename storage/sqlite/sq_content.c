/* sq_content.c — item content in rows of at most SQ_ZCHUNK bytes, each
 * compressed on its own with zstd.
 *
 * Layout: content(item_id, off, data, len, codec), one row per SQ_ZCHUNK
 * (64 KiB) of an item's content at offset `off`; `len` is the row's content
 * length and `codec` says how `data` holds it (SQ_CODEC_ZSTD: one zstd frame;
 * SQ_CODEC_CRC: as is, then its CRC-32; SQ_CODEC_RAW: as is, written before
 * schema 4 only). Rows of schema 2 caches are raw, up to SQ_CHUNK
 * (128 KiB), with len NULL (then length(data)); they are read as they are and
 * never rewritten, so an upgraded cache needs no conversion.
 *
 * Why compress ([storage] compress = zstd, the default): SQLite writes every
 * byte of content twice in WAL mode (the log, then the checkpoint), and the
 * cache keeps it. zstd level 1 takes the benchmark's mail to 0.64 of its size
 * (text about 0.45, base64 attachments 0.76): the cache of 100k items goes
 * from 1509 to 988 MiB, the WAL written by the insert from 1.46 to 0.99 GB
 * (under checkpoint_mb, so no checkpoint inside the insert), and the time in
 * COMMIT (write + fsync) halves. The price is CPU: about 50 us per 12.6 KiB
 * item to compress on this project's 2-CPU test machine, 20 us to decompress.
 * Measured there, the insert rate does not improve: the compressor thread
 * needs about as long as COMMIT saves (100k items, load average 3-4: zstd
 * 5689, compress = none 5933-6061, the raw 128 KiB layout before 6428
 * items/s; storage_bench 6825 vs 6794 before), and whole-item point reads
 * are slower (17k vs 22k/s). compress = none is the setting for a cache on a
 * fast disk with little CPU to spare. A chunk that does not shrink by at
 * least 1/16 (already compressed data) is kept as is, so reading it costs
 * no decompression. Either setting reads every kind of row. Every row
 * written now carries a checksum, checked whenever it is read and by the
 * integrity check (sq_content_verify): zstd frames their content checksum,
 * rows kept as they are a CRC-32 after the bytes (zlib's, ~1 GB/s here,
 * computed on the compressor thread). Rows written before either (frames
 * without a checksum, codec 0 rows) are read as they are.
 *
 * Why chunks: a range read (IMAP partial fetch, the MAPI stream) finds the row
 * holding the offset through the (item_id, off) index and decompresses that
 * row only, at most 64 KiB, whatever the item's size; the last decompressed
 * row is kept so that reading a row in small pieces decompresses it once.
 *
 * Compression runs on a thread of the instance (started by its first content
 * write), so that it overlaps the SQLite work of the ingest sequence: a full
 * chunk goes into a ring of SQ_ZJOBS slots; the compressor claims them in
 * order; the instance's thread stores the compressed ones as rows, in order,
 * whenever it passes by, and waits for all of them before anything that
 * reads content rows or counts on them (sq_check_txn: every call except
 * item_put, content_finish of an item put in the transaction, item_get and
 * the item lookups) and before COMMIT. Only the instance's thread touches the connection. Measured on the
 * benchmark's insert loop (100k items, load average ~9 on 2 CPUs): CPU of the
 * calling thread 5.8-6.4 s instead of 10.9-11.2 s with compression inline,
 * wall 26.6-29.8 s instead of 34.1-36.1 s.
 *
 * Where the instance's thread would wait for the compressor (a full ring,
 * the drain before COMMIT or a read), it claims the next unclaimed chunk and
 * compresses it itself, with a context of its own: both CPUs compress then,
 * and the ring's slots complete out of order (stored still in order). The
 * compressor alone used to be the bound: it needs ~37 us per item of the
 * benchmark, the instance's thread ~30 us plus the wait for it.
 *
 * Writes append in order. Each chunk is compressed exactly once: the last,
 * partly filled chunk of the content being written (the tail) stays in memory
 * until it is full or anything but the next content_write of that item
 * happens in the transaction (sq_check_txn and commit flush it), so streaming
 * a message in small pieces never recompresses a row. A write that appends to
 * content written by an earlier transaction reopens its last row into the tail
 * when that row is not full. The tail is part of the transaction: a rollback
 * drops it with the rest, and commit writes it before COMMIT, so durability is
 * unchanged (see sq_store.c).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "sq_internal.h"

#include <zlib.h>

struct chunk {
    int64_t rowid;
    uint64_t off;
    uint64_t len;   /* content bytes */
    int codec;
};

/* Chunks waiting to be compressed or stored: a ring filled by the instance's
 * thread, compressed in order by the compressor thread, and stored in order
 * by the instance's thread. */
#define SQ_ZJOBS 16
/* The compressor, when asleep, is woken once this many chunks wait (or when
 * the instance's thread needs one of them), and wakes the instance's thread,
 * when that waits on a full ring, once half the ring is compressed: one
 * wake-up per few chunks instead of one per chunk each way (a futex call and
 * a context switch, about 1 per chunk before: 33.6k voluntary switches for
 * 30k items). */
#define SQ_ZWAKE 4

enum { J_FREE, J_QUEUED, J_BUSY, J_DONE };

struct zjob {
    int64_t item;
    uint64_t off;
    size_t len;             /* content bytes in raw */
    unsigned char *raw;     /* SQ_ZCHUNK bytes */
    unsigned char *out;     /* compressed (zcap bytes) */
    size_t olen;
    int codec;              /* SQ_CODEC_ZSTD: out holds it, else raw */
    int state;              /* J_*, under mu: queued, claimed by a thread, compressed */
};

/* Per instance: contexts and buffers, allocated on first use. */
struct sq_zstate {
    ZSTD_CCtx *cc;          /* the compressor's (the instance's without one) */
    ZSTD_CCtx *hcc;         /* the instance's thread's, when it helps the compressor (lazily) */
    ZSTD_DCtx *dc;
    unsigned char *tail;    /* SQ_ZCHUNK bytes: the pending tail */
    unsigned char *zbuf;    /* zcap bytes: a compressed row being read */
    size_t zcap;
    unsigned char *plain;   /* SQ_ZCHUNK bytes: the last decompressed row */
    int64_t plain_rowid;    /* its rowid (0: none) */
    size_t plain_len;
    /* the ring: counters only grow; stored <= claimed <= queued <= stored + SQ_ZJOBS;
     * slots [stored, claimed) are J_BUSY or J_DONE, [claimed, queued) J_QUEUED */
    struct zjob jobs[SQ_ZJOBS];
    unsigned queued, claimed, stored;
    int csleep;             /* the compressor waits for work (under mu) */
    int mwait;              /* the instance's thread waits until slot `want` is J_DONE */
    unsigned want;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    pthread_t th;
    int started;            /* the compressor thread was started (on the first write) */
    int threaded;           /* it runs (else chunks are compressed inline) */
    int zstd;               /* compress = zstd (else rows are sealed with a CRC only) */
    int quit;
    int bad_frame;          /* the last read met a frame that does not decode (one item's damage) */
};

static uint32_t row_crc(const unsigned char *p, size_t n)
{
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

/* Whether n bytes at p are followed by their CRC-32 (SQ_CODEC_CRC). */
static int crc_matches(const unsigned char *p, size_t n, const unsigned char *trailer)
{
    uint32_t c = row_crc(p, n);
    return trailer[0] == (unsigned char)c && trailer[1] == (unsigned char)(c >> 8) &&
           trailer[2] == (unsigned char)(c >> 16) && trailer[3] == (unsigned char)(c >> 24);
}

/* A chunk kept as it is: its bytes and their CRC-32 into j->out. */
static void seal_job(struct zjob *j)
{
    memcpy(j->out, j->raw, j->len);
    uint32_t c = row_crc(j->raw, j->len);
    for (int i = 0; i < 4; i++)
        j->out[j->len + (size_t)i] = (unsigned char)(c >> (8 * i));
    j->olen = j->len + 4;
    j->codec = SQ_CODEC_CRC;
}

/* Prepares one chunk for its row: zstd when compressing and that saves at
 * least 1/16, else the bytes as they are with their CRC-32. */
static void compress_job(ZSTD_CCtx *cc, struct zjob *j, size_t zcap, int zstd)
{
    if (zstd && j->len >= 64) {
        size_t zn = ZSTD_compress2(cc, j->out, zcap, j->raw, j->len);
        if (!ZSTD_isError(zn) && zn <= j->len - j->len / 16) {
            j->olen = zn;
            j->codec = SQ_CODEC_ZSTD;
            return;
        }
    }
    seal_job(j);
}

/* Claims the next queued slot (under mu; one must be queued): its index. */
static unsigned claim(struct sq_zstate *z)
{
    unsigned k = z->claimed++;
    z->jobs[k % SQ_ZJOBS].state = J_BUSY;
    return k;
}

static void *compressor_main(void *arg)
{
    struct sq_zstate *z = arg;
#ifdef __linux__
    pthread_setname_np(pthread_self(), "sq-compress"); /* for top -H, ps -L, perf, gdb */
#endif
    pthread_mutex_lock(&z->mu);
    for (;;) {
        while (!z->quit && z->claimed == z->queued) {
            z->csleep = 1;
            pthread_cond_wait(&z->work, &z->mu);
            z->csleep = 0;
        }
        if (z->claimed == z->queued)
            break; /* quit, nothing left */
        unsigned k = claim(z);
        struct zjob *j = &z->jobs[k % SQ_ZJOBS];
        pthread_mutex_unlock(&z->mu);
        compress_job(z->cc, j, z->zcap, z->zstd);
        pthread_mutex_lock(&z->mu);
        j->state = J_DONE;
        if (z->mwait && k == z->want)
            pthread_cond_signal(&z->done);
    }
    pthread_mutex_unlock(&z->mu);
    return NULL;
}

static struct sq_zstate *zstate(struct outpost_storage *s)
{
    if (s->z)
        return s->z;
    struct sq_zstate *z = calloc(1, sizeof *z);
    if (!z)
        return NULL;
    s->z = z;
    pthread_mutex_init(&z->mu, NULL);
    pthread_cond_init(&z->work, NULL);
    pthread_cond_init(&z->done, NULL);
    z->zcap = ZSTD_compressBound(SQ_ZCHUNK);
    z->cc = ZSTD_createCCtx();
    z->dc = ZSTD_createDCtx();
    z->tail = malloc(SQ_ZCHUNK);
    z->zbuf = malloc(z->zcap);
    z->plain = malloc(SQ_ZCHUNK);
    /* Each frame carries a checksum of its content (4 bytes): a damaged row fails to
     * decode (a read error, and `outpost check` names it) instead of giving other bytes.
     * Frames written before have none and still decode. */
    int bad = !z->cc || !z->dc || !z->tail || !z->zbuf || !z->plain ||
              ZSTD_isError(ZSTD_CCtx_setParameter(z->cc, ZSTD_c_compressionLevel, SQ_ZSTD_LEVEL)) ||
              ZSTD_isError(ZSTD_CCtx_setParameter(z->cc, ZSTD_c_checksumFlag, 1));
    for (int i = 0; i < SQ_ZJOBS && !bad; i++) {
        z->jobs[i].raw = malloc(SQ_ZCHUNK);
        z->jobs[i].out = malloc(z->zcap);
        bad = !z->jobs[i].raw || !z->jobs[i].out;
    }
    if (bad) {
        sq_content_free(s);
        return NULL;
    }
    return z;
}

void sq_content_free(struct outpost_storage *s)
{
    struct sq_zstate *z = s->z;
    if (!z)
        return;
    if (z->threaded) {
        pthread_mutex_lock(&z->mu);
        z->quit = 1;
        pthread_cond_signal(&z->work);
        pthread_mutex_unlock(&z->mu);
        pthread_join(z->th, NULL);
    }
    for (int i = 0; i < SQ_ZJOBS; i++) {
        free(z->jobs[i].raw);
        free(z->jobs[i].out);
    }
    pthread_mutex_destroy(&z->mu);
    pthread_cond_destroy(&z->work);
    pthread_cond_destroy(&z->done);
    ZSTD_freeCCtx(z->cc);
    ZSTD_freeCCtx(z->hcc);
    ZSTD_freeDCtx(z->dc);
    free(z->tail);
    free(z->zbuf);
    free(z->plain);
    free(z);
    s->z = NULL;
}

void sq_content_forget(struct outpost_storage *s)
{
    if (s->z)
        s->z->plain_rowid = 0;
}

/* The helper's context, made on first use (instance's thread only): NULL
 * when it cannot be made (then the thread only waits). */
static ZSTD_CCtx *helper_cctx(struct sq_zstate *z)
{
    if (!z->hcc && (z->hcc = ZSTD_createCCtx()) != NULL &&
        (ZSTD_isError(ZSTD_CCtx_setParameter(z->hcc, ZSTD_c_compressionLevel, SQ_ZSTD_LEVEL)) ||
         ZSTD_isError(ZSTD_CCtx_setParameter(z->hcc, ZSTD_c_checksumFlag, 1)))) {
        ZSTD_freeCCtx(z->hcc);
        z->hcc = NULL;
    }
    return z->hcc;
}

/* Waits until the slots before `count` (a ring index, counting from the
 * start, past z->stored) are compressed. The instance's thread compresses
 * queued slots itself meanwhile, and sleeps only when the compressor holds
 * every slot still to finish; it wakes the compressor first if that sleeps
 * on work. With `drop`, queued slots are not compressed but given up (the
 * transaction ended: they are not stored). */
static void wait_count(struct sq_zstate *z, unsigned count, int drop)
{
    pthread_mutex_lock(&z->mu);
    if (drop)
        while (z->claimed != z->queued)
            z->jobs[claim(z) % SQ_ZJOBS].state = J_DONE;
    if (z->csleep && z->claimed != z->queued)
        pthread_cond_signal(&z->work);
    unsigned k = z->stored;
    for (;;) {
        while ((int)(count - k) > 0 && z->jobs[k % SQ_ZJOBS].state == J_DONE)
            k++;
        if ((int)(count - k) <= 0)
            break;
        ZSTD_CCtx *cc;
        if (z->claimed != z->queued && (cc = helper_cctx(z)) != NULL) {
            struct zjob *j = &z->jobs[claim(z) % SQ_ZJOBS];
            pthread_mutex_unlock(&z->mu);
            compress_job(cc, j, z->zcap, z->zstd);
            pthread_mutex_lock(&z->mu);
            j->state = J_DONE;
            continue;
        }
        z->mwait = 1;
        z->want = k; /* claimed, so the compressor has it */
        pthread_cond_wait(&z->done, &z->mu);
    }
    z->mwait = 0;
    pthread_mutex_unlock(&z->mu);
}


void sq_content_reset(struct outpost_storage *s)
{
    s->txn.tail_item = 0;
    s->txn.tail_len = 0;
    struct sq_zstate *z = s->z;
    if (!z)
        return;
    z->plain_rowid = 0;
    z->bad_frame = 0;
    /* the transaction ended: chunks not stored yet are dropped with it */
    wait_count(z, z->queued, 1);
    for (; z->stored != z->queued; z->stored++)
        z->jobs[z->stored % SQ_ZJOBS].state = J_FREE;
}

/* The row of item_id at or before `pos` (last row when pos is UINT64_MAX):
 * 1 found, 0 none, <0 error (*rc). */
static int find_chunk(struct outpost_storage *s, int64_t item_id, uint64_t pos, struct chunk *ch, int *rc)
{
    sqlite3_stmt *st;
    if (pos == UINT64_MAX) {
        st = sq_stmt(s, ST_CONTENT_LAST, rc);
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, item_id);
    } else {
        st = sq_stmt(s, ST_CONTENT_FIND, rc);
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, item_id);
        sqlite3_bind_int64(st, 2, (int64_t)pos);
    }
    int r = sqlite3_step(st);
    int old = 0;
    if (r == SQLITE_ROW) {
        ch->rowid = sqlite3_column_int64(st, 0);
        ch->off = (uint64_t)sqlite3_column_int64(st, 1);
        old = sqlite3_column_type(st, 2) == SQLITE_NULL;
        ch->len = (uint64_t)sqlite3_column_int64(st, 2);
        ch->codec = sqlite3_column_int(st, 3);
    }
    sqlite3_reset(st);
    if (r == SQLITE_ROW && old) {
        /* a raw row of schema 2: its length is its blob's */
        if (!(st = sq_stmt(s, ST_CONTENT_LEN, rc)))
            return -1;
        sqlite3_bind_int64(st, 1, ch->rowid);
        r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            ch->len = (uint64_t)sqlite3_column_int64(st, 0);
            ch->codec = SQ_CODEC_RAW;
        }
        sqlite3_reset(st);
        if (r == SQLITE_DONE)
            r = SQLITE_CORRUPT; /* the index names a row that is not there */
    }
    if (r == SQLITE_ROW)
        return 1;
    if (r == SQLITE_DONE)
        return 0;
    *rc = r;
    return -1;
}

/* Does item `id` exist? OK or GONE or an engine error. */
static outpost_status item_exists(struct outpost_txn *t, int64_t id, uint32_t *content_state,
                                  int *has_fts_doc)
{
    struct outpost_storage *s = t->s;
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_ITEM_STATE, &rc);
    if (!st)
        return sq_db_error(s, rc, "reading an item");
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (content_state)
            *content_state = (uint32_t)sqlite3_column_int(st, 5);
        if (has_fts_doc)
            *has_fts_doc = sqlite3_column_type(st, 6) != SQLITE_NULL;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return sq_error(s, OUTPOST_GONE, "item %lld does not exist", (long long)id);
    if (rc != SQLITE_ROW)
        return sq_db_error(s, rc, "reading an item");
    return outpost_ok();
}

outpost_status sq_content_remove(struct outpost_txn *t, int64_t item_id)
{
    struct outpost_storage *s = t->s;
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_CONTENT_DELETE, &rc);
    if (!st)
        return sq_db_error(s, rc, "removing content");
    sqlite3_bind_int64(st, 1, item_id);
    if (s->z)
        s->z->plain_rowid = 0; /* its rowid may be reused */
    if ((rc = sq_exec_stmt(st)) != SQLITE_OK)
        return sq_db_error(s, rc, "removing content");
    return outpost_ok();
}

/* Stores a compressed job as its row. */
static int store_job(struct outpost_storage *s, struct sq_zstate *z, const struct zjob *j)
{
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_CONTENT_INSERT, &rc);
    if (!st)
        return rc;
    const void *blob = j->codec == SQ_CODEC_RAW ? j->raw : j->out;
    size_t blen = j->codec == SQ_CODEC_RAW ? j->len : j->olen;
    sqlite3_bind_int64(st, 1, j->item);
    sqlite3_bind_int64(st, 2, (int64_t)j->off);
    sqlite3_bind_blob64(st, 3, blen ? blob : "", blen, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (int64_t)j->len);
    sqlite3_bind_int(st, 5, j->codec);
    z->plain_rowid = 0;
    return sq_exec_stmt(st);
}

/* Stores compressed jobs in order: all of them (wait), or those already
 * compressed. A failed store keeps going (the rows are dropped) and returns
 * the first error: the caller poisons the transaction. */
static int store_jobs(struct outpost_storage *s, struct sq_zstate *z, int wait)
{
    int first = SQLITE_OK;
    for (; z->stored != z->queued; z->stored++) {
        struct zjob *j = &z->jobs[z->stored % SQ_ZJOBS];
        if (wait) {
            wait_count(z, z->stored + 1, 0); /* stored in order */
        } else {
            pthread_mutex_lock(&z->mu);
            int ready = j->state == J_DONE;
            pthread_mutex_unlock(&z->mu);
            if (!ready)
                break;
        }
        int rc = first == SQLITE_OK ? store_job(s, z, j) : SQLITE_OK;
        if (rc != SQLITE_OK)
            first = rc;
        j->state = J_FREE;
    }
    return first;
}

/* Queues content bytes [off, off+len) of item_id (len <= SQ_ZCHUNK) to become
 * one row; stores the rows already compressed. */
static int insert_chunk(struct outpost_storage *s, struct sq_zstate *z, int64_t item_id, uint64_t off,
                        const void *data, size_t len)
{
    if (!z->started) {
        /* once: read-only instances never start it; with compress = none it
         * computes the rows' CRC-32 */
        z->started = 1;
        z->zstd = s->compress;
        z->threaded = pthread_create(&z->th, NULL, compressor_main, z) == 0;
    }
    if (z->queued - z->stored == SQ_ZJOBS) {
        /* ring full: wait for half of it, store what is compressed */
        wait_count(z, z->stored + SQ_ZJOBS / 2, 0);
        int rc = store_jobs(s, z, 0);
        if (rc != SQLITE_OK)
            return rc;
    }
    struct zjob *j = &z->jobs[z->queued % SQ_ZJOBS];
    j->item = item_id;
    j->off = off;
    j->len = len;
    memcpy(j->raw, data, len);
    if (!z->threaded)
        compress_job(z->cc, j, z->zcap, z->zstd);
    pthread_mutex_lock(&z->mu);
    j->state = z->threaded ? J_QUEUED : J_DONE;
    z->queued++;
    if (!z->threaded)
        z->claimed++;
    else if (z->csleep && z->queued - z->claimed >= SQ_ZWAKE)
        pthread_cond_signal(&z->work);
    pthread_mutex_unlock(&z->mu);
    if (item_id == s->txn.fresh_id)
        s->txn.fresh_rows = 1;
    return store_jobs(s, z, 0);
}

/* Reads the content bytes of row `ch` that start `in` bytes into it: copies
 * n of them to out. Raw rows are read in place by incremental blob I/O (*b
 * is reused across rows); compressed rows are decompressed whole, once. */
static int read_chunk(struct outpost_storage *s, const struct chunk *ch, size_t in, unsigned char *out,
                      size_t n, sqlite3_blob **b)
{
    int rc = *b ? sqlite3_blob_reopen(*b, ch->rowid)
                : sqlite3_blob_open(s->db, "main", "content", "data", ch->rowid, 0, b);
    if (rc != SQLITE_OK)
        return rc;
    if (ch->codec == SQ_CODEC_RAW)
        return sqlite3_blob_read(*b, out, (int)n, (int)in);
    struct sq_zstate *z = zstate(s);
    if (!z)
        return SQLITE_NOMEM;
    if ((ch->codec != SQ_CODEC_ZSTD && ch->codec != SQ_CODEC_CRC) || ch->len > SQ_ZCHUNK)
        return SQLITE_CORRUPT;
    if (z->plain_rowid != ch->rowid && ch->codec == SQ_CODEC_CRC) {
        /* the whole row, to check it: straight into the caller's buffer when
         * that is what it asks for */
        if ((size_t)sqlite3_blob_bytes(*b) != ch->len + 4) {
            z->bad_frame = 1;
            return SQLITE_CORRUPT;
        }
        int whole = in == 0 && n == ch->len;
        unsigned char *dst = whole ? out : z->plain, trailer[4];
        if (!whole)
            z->plain_rowid = 0; /* z->plain is overwritten: it holds no row until this one checks */
        if ((rc = sqlite3_blob_read(*b, dst, (int)ch->len, 0)) != SQLITE_OK ||
            (rc = sqlite3_blob_read(*b, trailer, 4, (int)ch->len)) != SQLITE_OK)
            return rc;
        if (!crc_matches(dst, (size_t)ch->len, trailer)) {
            z->bad_frame = 1;
            return SQLITE_CORRUPT;
        }
        if (whole)
            return SQLITE_OK;
        z->plain_rowid = ch->rowid;
        z->plain_len = (size_t)ch->len;
    } else if (z->plain_rowid != ch->rowid) {
        size_t zn = (size_t)sqlite3_blob_bytes(*b);
        if (zn > z->zcap)
            return SQLITE_CORRUPT;
        if ((rc = sqlite3_blob_read(*b, z->zbuf, (int)zn, 0)) != SQLITE_OK)
            return rc;
        if (in == 0 && n == ch->len) {
            /* the whole row: straight into the caller's buffer */
            size_t pn = ZSTD_decompressDCtx(z->dc, out, n, z->zbuf, zn);
            if (ZSTD_isError(pn) || pn != n) {
                z->bad_frame = 1;
                return SQLITE_CORRUPT;
            }
            return SQLITE_OK;
        }
        z->plain_rowid = 0; /* z->plain is overwritten: it holds no row until this one decodes */
        size_t pn = ZSTD_decompressDCtx(z->dc, z->plain, SQ_ZCHUNK, z->zbuf, zn);
        if (ZSTD_isError(pn) || pn != ch->len) {
            z->bad_frame = 1;
            return SQLITE_CORRUPT;
        }
        z->plain_rowid = ch->rowid;
        z->plain_len = pn;
    }
    memcpy(out, z->plain + in, n);
    return SQLITE_OK;
}

int sq_content_decode(void **dc, int codec, const void *data, size_t n, int64_t len, void *out, size_t *got)
{
    *got = 0;
    if (codec == SQ_CODEC_CRC) {
        if (len < 0 || len > SQ_ZCHUNK || n != (size_t)len + 4 ||
            !crc_matches(data, (size_t)len, (const unsigned char *)data + len))
            return SQLITE_CORRUPT;
        memcpy(out, data, (size_t)len);
        *got = (size_t)len;
        return SQLITE_OK;
    }
    if (len < 0 || codec == SQ_CODEC_RAW) {
        if (len >= 0 && (uint64_t)len != n)
            return SQLITE_CORRUPT;
        memcpy(out, data, n);
        *got = n;
        return SQLITE_OK;
    }
    if (codec != SQ_CODEC_ZSTD || len > SQ_ZCHUNK)
        return SQLITE_CORRUPT;
    if (!*dc && !(*dc = ZSTD_createDCtx()))
        return SQLITE_NOMEM;
    size_t pn = ZSTD_decompressDCtx(*dc, out, (size_t)len, data, n);
    if (ZSTD_isError(pn) || pn != (size_t)len)
        return SQLITE_CORRUPT;
    *got = pn;
    return SQLITE_OK;
}

void sq_content_dctx_free(void *dc)
{
    ZSTD_freeDCtx(dc);
}

int sq_content_verify(struct outpost_storage *s, char *msg, size_t msglen)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, "SELECT item_id, off, len, codec, data FROM content ORDER BY item_id, off", -1,
                                &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    unsigned char *out = malloc(SQ_CHUNK > SQ_ZCHUNK ? SQ_CHUNK : SQ_ZCHUNK);
    void *dc = NULL;
    int bad = 0;
    while (!bad && out && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t len = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 2);
        const void *data = sqlite3_column_blob(st, 4);
        size_t n = (size_t)sqlite3_column_bytes(st, 4);
        size_t got = 0;
        int dr = len > (int64_t)SQ_ZCHUNK || (len < 0 && n > SQ_CHUNK)
                     ? SQLITE_CORRUPT
                     : sq_content_decode(&dc, sqlite3_column_int(st, 3), n ? data : "", n, len, out, &got);
        if (dr == SQLITE_NOMEM) {
            rc = dr;
            break;
        }
        if (dr != SQLITE_OK) {
            int64_t item = sqlite3_column_int64(st, 0);
            char where[160] = "";
            sqlite3_stmt *w;
            if (sqlite3_prepare_v2(s->db, "SELECT i.uid, f.name FROM item i JOIN folder f ON f.id=i.folder_id WHERE i.id=?",
                                   -1, &w, NULL) == SQLITE_OK) {
                sqlite3_bind_int64(w, 1, item);
                if (sqlite3_step(w) == SQLITE_ROW)
                    snprintf(where, sizeof where, " (UID %lld in %.100s)", (long long)sqlite3_column_int64(w, 0),
                             (const char *)sqlite3_column_text(w, 1));
                sqlite3_finalize(w);
            }
            snprintf(msg, msglen, "content of item %lld%s at offset %lld does not decode to its %lld bytes", (long long)item,
                     where, (long long)sqlite3_column_int64(st, 1), (long long)len);
            bad = 1;
        }
    }
    if (!out)
        rc = SQLITE_NOMEM;
    else if (rc == SQLITE_DONE || bad)
        rc = bad ? SQLITE_CORRUPT : SQLITE_OK;
    sqlite3_finalize(st);
    sq_content_dctx_free(dc);
    free(out);
    return rc;
}

/* Appends to the tail; every chunk that fills up becomes a row. */
static int tail_append(struct outpost_storage *s, struct sq_zstate *z, const unsigned char *p, size_t left)
{
    struct outpost_txn *t = &s->txn;
    while (left) {
        if (t->tail_len == 0 && left >= SQ_ZCHUNK) {
            /* a whole chunk in the caller's buffer: no copy */
            int rc = insert_chunk(s, z, t->tail_item, t->tail_off, p, SQ_ZCHUNK);
            if (rc != SQLITE_OK)
                return rc;
            t->tail_off += SQ_ZCHUNK;
            p += SQ_ZCHUNK;
            left -= SQ_ZCHUNK;
            continue;
        }
        size_t k = SQ_ZCHUNK - t->tail_len;
        if (k > left)
            k = left;
        memcpy(z->tail + t->tail_len, p, k);
        t->tail_len += k;
        p += k;
        left -= k;
        if (t->tail_len == SQ_ZCHUNK) {
            int rc = insert_chunk(s, z, t->tail_item, t->tail_off, z->tail, SQ_ZCHUNK);
            if (rc != SQLITE_OK)
                return rc;
            t->tail_off += SQ_ZCHUNK;
            t->tail_len = 0;
        }
    }
    return SQLITE_OK;
}

/* Queues the tail as a row; with `wait`, stores every queued row too. */
static outpost_status flush(struct outpost_txn *t, int wait)
{
    struct outpost_storage *s = t->s;
    if (!s->z)
        return outpost_ok();
    int rc = SQLITE_OK;
    if (t->tail_item && t->tail_len)
        rc = insert_chunk(s, s->z, t->tail_item, t->tail_off, s->z->tail, t->tail_len);
    t->tail_item = 0;
    t->tail_len = 0;
    if (wait) {
        int r2 = store_jobs(s, s->z, 1);
        if (rc == SQLITE_OK)
            rc = r2;
    }
    if (rc != SQLITE_OK)
        return sq_poison(t, sq_db_error(s, rc, "writing content"));
    return outpost_ok();
}

outpost_status sq_content_flush(struct outpost_txn *t)
{
    return flush(t, 1);
}

outpost_status sq_content_flush_queue(struct outpost_txn *t)
{
    return flush(t, 0);
}

/* Makes the last row of item_id the tail when it is not full (reading it
 * back, then deleting it: it is written again, longer, from the tail). */
static int reopen_last(struct outpost_storage *s, struct sq_zstate *z, const struct chunk *last)
{
    struct outpost_txn *t = &s->txn;
    if (last->len >= SQ_ZCHUNK) {
        t->tail_off = last->off + last->len;
        return SQLITE_OK;
    }
    sqlite3_blob *b = NULL;
    int rc = read_chunk(s, last, 0, z->tail, (size_t)last->len, &b);
    if (b)
        sqlite3_blob_close(b);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_stmt *st = sq_stmt(s, ST_CONTENT_DEL_ROW, &rc);
    if (!st)
        return rc;
    sqlite3_bind_int64(st, 1, last->rowid);
    z->plain_rowid = 0;
    if ((rc = sq_exec_stmt(st)) != SQLITE_OK)
        return rc;
    t->tail_off = last->off;
    t->tail_len = (size_t)last->len;
    return SQLITE_OK;
}

outpost_status sq_content_write(struct outpost_txn *t, int64_t item_id, uint64_t offset, const void *data,
                                size_t len)
{
    struct outpost_storage *s = t->s;
    /* not sq_check_txn: that would flush the tail this call may extend */
    if (!t->open)
        return sq_error(s, OUTPOST_BAD_DATA, "call on a transaction that has ended");
    if (t->mode != OUTPOST_TXN_WRITE)
        return sq_error(s, OUTPOST_BAD_DATA, "write call in a read transaction");
    if (!data && len)
        return sq_error(s, OUTPOST_BAD_DATA, "content_write: data is NULL");
    struct sq_zstate *z = zstate(s);
    if (!z)
        return sq_error(s, OUTPOST_FATAL, "out of memory writing content");
    int rc = SQLITE_OK;
    int fresh = t->fresh_id != 0 && t->fresh_id == item_id;
    if (t->tail_item == item_id && offset == t->tail_off + t->tail_len) {
        /* the next piece of the content being written: no lookups */
    } else {
        if (offset == 0 && t->tail_item == item_id)
            t->tail_item = 0; /* rewritten from the start: its tail goes too */
        /* the first write of an item put in this transaction reads no rows:
         * earlier chunks may still be on their way (the ingest pipeline) */
        outpost_status c = offset == 0 && fresh && !t->fresh_rows ? sq_content_flush_queue(t)
                                                                   : sq_content_flush(t);
        if (c.code)
            return c;
        /* an item put in this transaction exists and has only the rows written since */
        if (!fresh && (c = item_exists(t, item_id, NULL, NULL)).code)
            return c;
        if (offset == 0) {
            if ((!fresh || t->fresh_rows) && (c = sq_content_remove(t, item_id)).code)
                return sq_poison(t, c);
            if (fresh)
                t->fresh_rows = 0;
            t->tail_off = 0;
            t->tail_len = 0;
        } else {
            struct chunk last;
            int r = find_chunk(s, item_id, UINT64_MAX, &last, &rc);
            if (r < 0)
                return sq_db_error(s, rc, "writing content");
            uint64_t end = r ? last.off + last.len : 0;
            if (offset != end)
                return sq_error(s, OUTPOST_BAD_DATA,
                                "content_write: offset %llu is not the end of the content written so "
                                "far (%llu): chunks are written in order",
                                (unsigned long long)offset, (unsigned long long)end);
            t->tail_len = 0;
            t->tail_off = end;
            if (r && (rc = reopen_last(s, z, &last)) != SQLITE_OK)
                return sq_poison(t, sq_db_error(s, rc, "writing content"));
        }
        t->tail_item = item_id;
    }
    if ((rc = tail_append(s, z, data, len)) != SQLITE_OK) {
        t->tail_item = 0;
        return sq_poison(t, sq_db_error(s, rc, "writing content"));
    }
    if (fresh)
        t->fresh_end = t->tail_off + t->tail_len;
    return outpost_ok();
}

outpost_status sq_content_finish(struct outpost_txn *t, int64_t item_id, uint32_t state)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn_queue(t, 1);
    if (c.code)
        return c;
    if (state > OUTPOST_CONTENT_COMPLETE)
        return sq_error(s, OUTPOST_BAD_DATA, "content_finish: unknown content state %u", state);
    int had_doc = 0;
    int rc = SQLITE_OK;
    uint64_t size;
    if (t->fresh_id != 0 && t->fresh_id == item_id) {
        size = t->fresh_end; /* not indexed: index_missing forgets fresh_id */
    } else {
        if ((c = sq_content_flush(t)).code || (c = item_exists(t, item_id, NULL, &had_doc)).code)
            return c;
        struct chunk last;
        int r = find_chunk(s, item_id, UINT64_MAX, &last, &rc);
        if (r < 0)
            return sq_db_error(s, rc, "finishing content");
        size = r ? last.off + last.len : 0;
    }
    /* the full text index must pick up a body that just became complete */
    int reindex = state == OUTPOST_CONTENT_COMPLETE;
    sqlite3_stmt *st = sq_stmt(s, ST_CONTENT_FINISH, &rc);
    if (!st)
        return sq_poison(t, sq_db_error(s, rc, "finishing content"));
    sqlite3_bind_int64(st, 1, item_id);
    sqlite3_bind_int(st, 2, (int)state);
    sqlite3_bind_int64(st, 3, (int64_t)size);
    sqlite3_bind_int(st, 4, reindex);
    if ((rc = sq_exec_stmt(st)) != SQLITE_OK)
        return sq_poison(t, sq_db_error(s, rc, "finishing content"));
    if (reindex && had_doc)
        t->fts_garbage++;
    return outpost_ok();
}

outpost_status sq_content_read(struct outpost_txn *t, int64_t item_id, uint64_t offset, void *buf, size_t len,
                               size_t *got)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn(t, 0);
    if (c.code)
        return c;
    *got = 0;
    if (!buf && len)
        return sq_error(s, OUTPOST_BAD_DATA, "content_read: buffer is NULL");
    if ((c = item_exists(t, item_id, NULL, NULL)).code)
        return c;
    unsigned char *out = buf;
    size_t done = 0;
    sqlite3_blob *b = NULL;
    int rc = SQLITE_OK;
    while (done < len) {
        uint64_t pos = offset + done;
        struct chunk ch;
        int r = find_chunk(s, item_id, pos, &ch, &rc);
        if (r < 0)
            break;
        if (r == 0 || pos >= ch.off + ch.len)
            break; /* end of content */
        size_t in = (size_t)(pos - ch.off);
        size_t n = (size_t)ch.len - in;
        if (n > len - done)
            n = len - done;
        if ((rc = read_chunk(s, &ch, in, out + done, n, &b)) != SQLITE_OK)
            break;
        done += n;
    }
    if (b)
        sqlite3_blob_close(b);
    if (rc == SQLITE_CORRUPT && s->z && s->z->bad_frame) {
        /* one item's stored bytes, not the cache: the caller can go on with the others */
        s->z->bad_frame = 0;
        return sq_error(s, OUTPOST_BAD_DATA,
                        "the cached content of item %lld is damaged (it does not decode); `outpost check --repair` "
                        "drops it so that the next sync fetches it again", (long long)item_id);
    }
    if (rc != SQLITE_OK)
        return sq_db_error(s, rc, "reading content");
    *got = done;
    return outpost_ok();
}

outpost_status sq_content_drop(struct outpost_txn *t, int64_t item_id)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn(t, 1);
    if (c.code)
        return c;
    if ((c = item_exists(t, item_id, NULL, NULL)).code)
        return c;
    if ((c = sq_content_remove(t, item_id)).code)
        return sq_poison(t, c);
    if (t->fresh_id == item_id)
        t->fresh_id = 0;
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_CONTENT_FINISH, &rc);
    if (!st)
        return sq_poison(t, sq_db_error(s, rc, "dropping content"));
    sqlite3_bind_int64(st, 1, item_id);
    sqlite3_bind_int(st, 2, OUTPOST_CONTENT_SUMMARY);
    sqlite3_bind_int64(st, 3, 0);
    sqlite3_bind_int(st, 4, 0); /* keep the index: the text stays searchable */
    if ((rc = sq_exec_stmt(st)) != SQLITE_OK)
        return sq_poison(t, sq_db_error(s, rc, "dropping content"));
    return outpost_ok();
}
