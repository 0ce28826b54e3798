/* kthread_posix.c — the Kerio plugin's one OS call of its own: a helper thread (POSIX). */
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
