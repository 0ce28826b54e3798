/* test_host.h — a small, real host table for driving the Kerio plugin in tests until the
 * core's host lands: config from key/value pairs, the password as host->secret hands it out,
 * log lines kept for assertions (and checked never to contain the password). */
#ifndef OUTPOST_TEST_HOST_H
#define OUTPOST_TEST_HOST_H

#include <outpost/host.h>

#define TEST_HOST_MAX_KEYS 32

struct test_host {
    struct outpost_host host;          /* first: the plugin sees &th->host */
    const char *keys[TEST_HOST_MAX_KEYS];
    const char *values[TEST_HOST_MAX_KEYS];
    int nkeys;
    const char *password;              /* NULL: secret() fails with AUTH */
    char log[16384];                   /* every log line, newline separated (truncated) */
    int cancel;
};

void test_host_init(struct test_host *th);
void test_host_set(struct test_host *th, const char *key, const char *value);
/* Non-zero when any logged line contains s. */
int test_host_logged(const struct test_host *th, const char *s);

#endif
