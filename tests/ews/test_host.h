/* test_host.h — a small, real host table for driving the EWS plugin from tests until the
 * core's host is usable there: [account] keys from key/value pairs, secrets ("password",
 * "token") as host->secret hands them out, log lines kept for assertions. */
#ifndef OUTPOST_TEST_EWS_HOST_H
#define OUTPOST_TEST_EWS_HOST_H

#include <outpost/host.h>

#define TEST_HOST_MAX_KEYS 32

struct test_host {
    struct outpost_host host;          /* first: the plugin sees &th->host */
    const char *keys[TEST_HOST_MAX_KEYS];
    char *values[TEST_HOST_MAX_KEYS];
    int nkeys;
    char log[16384];                   /* every log line, newline separated (truncated) */
    int cancel;
    int secret_calls;
};

void test_host_init(struct test_host *th);
void test_host_free(struct test_host *th);
/* Sets (or with value NULL removes) a key; "password" and "token" are what secret() returns. */
void test_host_set(struct test_host *th, const char *key, const char *value);
int test_host_logged(const struct test_host *th, const char *s);

#endif
