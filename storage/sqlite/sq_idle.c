/* sq_idle.c — checkpoints in idle time, and off the commit path.
 *
 * SQLite copies the WAL into the database file at a checkpoint, so every
 * committed byte is written twice. No checkpoint runs before the WAL holds
 * [storage] checkpoint_mb (sq_open), so an ingest burst is written once
 * while it runs; this thread copies it over when the instance has had no
 * transaction at all (read or write) for SQ_IDLE_MS, on a connection of its
 * own, so it does not compete with the instance's work. When the WAL passes
 * checkpoint_mb, the commit that saw it asks this thread for a checkpoint at
 * once instead of running it itself (wal_hook in sq_store.c): the copy of up
 * to a GiB (about 2.6 s here) no longer stalls a commit, and the writer goes
 * on appending meanwhile.
 * It runs PASSIVE checkpoints only: they never block the instance's readers
 * or writer, and a writer that starts meanwhile simply appends to the WAL.
 * A checkpoint is SQLite's own crash-safe step (it syncs the WAL before and
 * the database after copying, and is redone from the WAL after a crash), so
 * committed data is never at stake; a failure (e.g. a full disk) only leaves
 * the WAL as it was, to be retried after the next write.
 *
 * Once an idle checkpoint has copied every frame of a WAL larger than
 * journal_size_limit, the thread also truncates it (a TRUNCATE checkpoint,
 * which gives up at once if any reader or writer is active): SQLite only
 * shrinks the WAL when the next write transaction starts it over, so after
 * an initial sync followed by no writes the cache took up to twice its size
 * on disk until the next write (`make bench-storage` reports the size both
 * right after its run and once idle).
 *
 * The thread starts with the first committed write, so read-only instances
 * (the core's reader pool) never start one, and stops at close().
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sq_internal.h"

#define SQ_IDLE_MS 1000
#define SQ_IDLE_POLL_MS 250

struct sq_idle {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    int started, quit, busy, dirty;
    int urgent;                 /* the WAL passed checkpoint_mb: checkpoint now */
    int running;                /* a checkpoint runs */
    int backfilled;             /* WAL frames copied by the last checkpoint (0: none) */
    int64_t little;             /* frames the writer copies itself (sq_idle_checkpoint_soon) */
    int64_t last_ms;            /* end of the last transaction */
    int trunc_pages;            /* a WAL of more pages than this is truncated when idle */
    sqlite3 *db;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *idle_main(void *arg)
{
    struct sq_idle *id = arg;
#ifdef __linux__
    pthread_setname_np(pthread_self(), "sq-checkpoint"); /* for top -H, ps -L, perf, gdb */
#endif
    pthread_mutex_lock(&id->mu);
    while (!id->quit) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += SQ_IDLE_POLL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        if (!id->urgent)
            pthread_cond_timedwait(&id->cv, &id->mu, &until);
        int urgent = id->urgent;
        if (id->quit || (!urgent && (!id->dirty || id->busy || mono_ms() - id->last_ms < SQ_IDLE_MS)))
            continue;
        /* an urgent checkpoint runs while the writer goes on: what it
         * appends meanwhile is left for the next one (dirty stays) */
        id->urgent = 0;
        if (!urgent)
            id->dirty = 0;
        id->running = 1;
        pthread_mutex_unlock(&id->mu);
        int log = 0, done = 0;
        int rc = sqlite3_wal_checkpoint_v2(id->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
        pthread_mutex_lock(&id->mu);
        id->running = 0;
        id->backfilled = rc == SQLITE_OK && done > 0 ? done : 0;
        /* commits that asked meanwhile: when little is left, the writer's
         * next commit copies it (and the WAL can start over); another pass
         * here would only race with that writer again */
        if (urgent && id->backfilled && log - done <= id->little)
            id->urgent = 0;
        if (!urgent && rc == SQLITE_OK && done == log && log > id->trunc_pages) {
            /* all copied, nobody wrote meanwhile: give the disk space back; BUSY
             * (a reader or a writer came) leaves it for the next idle period */
            pthread_mutex_unlock(&id->mu);
            rc = sqlite3_wal_checkpoint_v2(id->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
            pthread_mutex_lock(&id->mu);
        }
        if (rc != SQLITE_OK || done < log) {
            /* a reader still needs old frames, or an error: try again after
             * another idle period */
            id->dirty = 1;
            id->last_ms = mono_ms();
        }
    }
    pthread_mutex_unlock(&id->mu);
    return NULL;
}

/* Starts the thread and its connection; 0 when that failed (no idle
 * checkpoints then: the automatic one still bounds the WAL). */
static int idle_start(struct outpost_storage *s, struct sq_idle *id)
{
    if (sqlite3_open_v2(s->path, &id->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        goto fail;
    char sql[96];
    snprintf(sql, sizeof sql, "PRAGMA synchronous=%s; PRAGMA wal_autocheckpoint=0;",
             s->durability_full ? "FULL" : "NORMAL");
    if (sqlite3_exec(id->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    id->trunc_pages = (int)(SQ_WAL_KEEP_BYTES / (s->page_size > 0 ? s->page_size : SQ_PAGE_SIZE));
    if (pthread_create(&id->th, NULL, idle_main, id) != 0)
        goto fail;
    return 1;
fail:
    sqlite3_close(id->db);
    id->db = NULL;
    return 0;
}

void sq_idle_txn_begin(struct outpost_storage *s)
{
    struct sq_idle *id = s->idle;
    if (!id)
        return;
    pthread_mutex_lock(&id->mu);
    id->busy = 1;
    pthread_mutex_unlock(&id->mu);
}

void sq_idle_txn_end(struct outpost_storage *s, int committed)
{
    struct sq_idle *id = s->idle;
    if (!id) {
        if (!committed || !(id = calloc(1, sizeof *id)))
            return;
        pthread_mutex_init(&id->mu, NULL);
        pthread_cond_init(&id->cv, NULL);
        s->idle = id;
    }
    pthread_mutex_lock(&id->mu);
    id->busy = 0;
    id->last_ms = mono_ms();
    if (committed) {
        id->dirty = 1;
        if (!id->started) {
            id->started = 1; /* once: a failed start is not retried */
            if (!idle_start(s, id))
                id->dirty = 0;
        }
    }
    pthread_mutex_unlock(&id->mu);
}

int sq_idle_checkpoint_soon(struct outpost_storage *s, int pages, int fresh)
{
    struct sq_idle *id = s->idle;
    if (!id)
        return 0;
    pthread_mutex_lock(&id->mu);
    if (fresh)
        id->backfilled = 0; /* that count was of the WAL before it started over */
    id->little = s->ckpt_pages / 16;
    int ok = id->db && !id->quit; /* the thread runs */
    if (ok && !id->running && id->backfilled > 0 && pages - id->backfilled <= id->little) {
        /* the thread copied nearly all of it while the writer went on: the
         * writer copies the rest (a few frames), so that its next
         * transaction starts the WAL over instead of growing it further */
        id->backfilled = 0;
        ok = 0;
    } else if (ok) {
        id->urgent = 1;
        pthread_cond_signal(&id->cv);
    }
    pthread_mutex_unlock(&id->mu);
    return ok;
}

void sq_idle_stop(struct outpost_storage *s)
{
    struct sq_idle *id = s->idle;
    if (!id)
        return;
    pthread_mutex_lock(&id->mu);
    id->quit = 1;
    pthread_cond_signal(&id->cv);
    pthread_mutex_unlock(&id->mu);
    if (id->db) {
        pthread_join(id->th, NULL);
        sqlite3_close(id->db);
    }
    pthread_mutex_destroy(&id->mu);
    pthread_cond_destroy(&id->cv);
    free(id);
    s->idle = NULL;
}
