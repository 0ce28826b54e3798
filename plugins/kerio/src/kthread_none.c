/* kthread_none.c — no helper thread on this OS yet: callers run the work themselves. */
#include "kerio.h"

struct kerio_thread *kerio_thread_start(void (*fn)(void *), void *arg, const char *name)
{
    (void)fn;
    (void)arg;
    (void)name;
    return NULL;
}

void kerio_thread_join(struct kerio_thread *th) { (void)th; }

struct kerio_sync *kerio_sync_new(void) { return NULL; }
void kerio_sync_free(struct kerio_sync *s) { (void)s; }
void kerio_sync_lock(struct kerio_sync *s) { (void)s; }
void kerio_sync_unlock(struct kerio_sync *s) { (void)s; }
void kerio_sync_wait(struct kerio_sync *s) { (void)s; }
void kerio_sync_broadcast(struct kerio_sync *s) { (void)s; }
