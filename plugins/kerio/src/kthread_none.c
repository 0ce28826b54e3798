/* kthread_none.c — no helper thread on this OS yet: callers run the work themselves. */
#include "kerio.h"

struct kerio_thread *kerio_thread_start(void (*fn)(void *), void *arg)
{
    (void)fn;
    (void)arg;
    return NULL;
}

void kerio_thread_join(struct kerio_thread *th) { (void)th; }
