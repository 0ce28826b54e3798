/* tests/mapi/mapi_test_client.h — a synchronous wire-protocol client for the
 * Linux tests: send a request, wait (bounded) for its reply, keep
 * notifications that arrive in between. */
#ifndef OUTPOST_TESTS_MAPI_CLIENT_H
#define OUTPOST_TESTS_MAPI_CLIENT_H

#include "mapi_os.h"
#include "mapi_wire.h"

typedef struct tclient {
    mapi_sock s;
    uint32_t next_id;
    mapi_buf in;
    mapi_buf notes; /* NOTIFY payloads, each prefixed by its u32 length */
} tclient;

int tc_connect(tclient *c, uint16_t port);
void tc_close(tclient *c);
/* Sends op with the request payload req; on success *sc is the reply's
 * SCODE and rep (initialised by the caller) gets the rest. -1 on a
 * connection failure or a 5 s timeout. */
int tc_call(tclient *c, uint16_t op, const mapi_buf *req, uint32_t *sc, mapi_buf *rep);
/* tc_call waiting up to timeout_ms instead of 5 s (benchmarks of slow paths). */
int tc_call_ms(tclient *c, uint16_t op, const mapi_buf *req, uint32_t *sc, mapi_buf *rep, int timeout_ms);
/* Waits up to timeout_ms for a notification; its payload into rep. 0 or -1. */
int tc_wait_notify(tclient *c, int timeout_ms, mapi_buf *rep);

#endif
