/* kthread_none.c — no helper thread on this OS yet: callers run the work themselves. */
#include "kerio.h"

struct kerio_thread *kerio_thread_start(void (*fn)(void *), void *arg)
{
    (void)fn;
    (void)arg;
    return NULL;
}

void kerio_thread_join(struct kerio_thread *th) { (void)th; }

struct kerio_worker *kerio_worker_new(void) { return NULL; }

int kerio_worker_post(struct kerio_worker *w, void (*fn)(void *), void *arg)
{
    (void)w;
    (void)fn;
    (void)arg;
    return -1;
}

void kerio_worker_wait(struct kerio_worker *w) { (void)w; }

void kerio_worker_free(struct kerio_worker *w) { (void)w; }
