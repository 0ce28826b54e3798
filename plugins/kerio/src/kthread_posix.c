/* kthread_posix.c — the Kerio plugin's own OS calls: helper threads (POSIX). */
#include "kerio.h"

#include <pthread.h>
#include <stdlib.h>

struct kerio_thread {
    pthread_t id;
    void (*fn)(void *);
    void *arg;
};

static void *trampoline(void *p)
{
    struct kerio_thread *th = p;
    th->fn(th->arg);
    return NULL;
}

struct kerio_thread *kerio_thread_start(void (*fn)(void *), void *arg)
{
    struct kerio_thread *th = malloc(sizeof *th);
    if (!th)
        return NULL;
    th->fn = fn;
    th->arg = arg;
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

struct kerio_worker {
    pthread_t id;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void (*fn)(void *); /* the posted job, NULL once it ran (under mu) */
    void *arg;
    int busy;           /* a job is posted and not finished (under mu) */
    int quit;
};

static void *worker_main(void *p)
{
    struct kerio_worker *w = p;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->fn && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->fn)
            break;
        void (*fn)(void *) = w->fn;
        void *arg = w->arg;
        pthread_mutex_unlock(&w->mu);
        fn(arg);
        pthread_mutex_lock(&w->mu);
        w->fn = NULL;
        w->busy = 0;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

struct kerio_worker *kerio_worker_new(void)
{
    struct kerio_worker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->id, NULL, worker_main, w) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
        return NULL;
    }
    return w;
}

int kerio_worker_post(struct kerio_worker *w, void (*fn)(void *), void *arg)
{
    if (!w)
        return -1;
    pthread_mutex_lock(&w->mu);
    int posted = !w->busy;
    if (posted) {
        w->fn = fn;
        w->arg = arg;
        w->busy = 1;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return posted ? 0 : -1;
}

void kerio_worker_wait(struct kerio_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    while (w->busy)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

void kerio_worker_free(struct kerio_worker *w)
{
    if (!w)
        return;
    kerio_worker_wait(w);
    pthread_mutex_lock(&w->mu);
    w->quit = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->id, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}
