/* kthread_posix.c — the Kerio plugin's OS calls of its own: helper threads and a mutex with a
 * condition variable (POSIX). */
#include "kerio.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

struct kerio_thread {
    pthread_t id;
    void (*fn)(void *);
    void *arg;
    char name[16];
};

static void *trampoline(void *p)
{
    struct kerio_thread *th = p;
#ifdef __linux__
    pthread_setname_np(pthread_self(), th->name); /* for top -H, ps -L, perf, gdb */
#endif
    th->fn(th->arg);
    return NULL;
}

struct kerio_thread *kerio_thread_start(void (*fn)(void *), void *arg, const char *name)
{
    struct kerio_thread *th = malloc(sizeof *th);
    if (!th)
        return NULL;
    th->fn = fn;
    th->arg = arg;
    snprintf(th->name, sizeof th->name, "%s", name);
    if (pthread_create(&th->id, NULL, trampoline, th) != 0) {
        free(th);
        return NULL;
    }
    return th;
}

void kerio_thread_join(struct kerio_thread *th)
{
    if (!th)
        return;
    pthread_join(th->id, NULL);
    free(th);
}

struct kerio_sync {
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

struct kerio_sync *kerio_sync_new(void)
{
    struct kerio_sync *s = malloc(sizeof *s);
    if (!s)
        return NULL;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        return NULL;
    }
    if (pthread_cond_init(&s->cv, NULL) != 0) {
        pthread_mutex_destroy(&s->mu);
        free(s);
        return NULL;
    }
    return s;
}

void kerio_sync_free(struct kerio_sync *s)
{
    if (!s)
        return;
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* NULL (no sync object: one thread alone) does nothing. */
void kerio_sync_lock(struct kerio_sync *s)
{
    if (s)
        pthread_mutex_lock(&s->mu);
}

void kerio_sync_unlock(struct kerio_sync *s)
{
    if (s)
        pthread_mutex_unlock(&s->mu);
}

void kerio_sync_wait(struct kerio_sync *s)
{
    if (s)
        pthread_cond_wait(&s->cv, &s->mu);
}

void kerio_sync_broadcast(struct kerio_sync *s)
{
    if (s)
        pthread_cond_broadcast(&s->cv);
}
