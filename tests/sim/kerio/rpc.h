/* JSON-RPC 2.0 over POST /webmail/api/jsonrpc/: envelope, method table, session rule, locking,
 * fault application and write counters. The HTTP layer hands in the body and the session
 * credentials and gets back a status, a body and instructions (drop, cookie). */
#ifndef OUTPOST_SIM_KERIO_RPC_H
#define OUTPOST_SIM_KERIO_RPC_H

#include <jansson.h>
#include <stddef.h>

#include "sim.h"

struct rpc_error {
	int code;
	char message[256];
	json_t *params;          /* positionalParameters (owned) or NULL */
};

struct rpc_ctx {
	struct sim *sim;
	struct sim_store *s;
	const char *sid;         /* session cookie of the request */
	long items;              /* items written (counters) */
	char set_cookie[256];    /* Set-Cookie to send, if any */
};

typedef json_t *(*rpc_fn)(struct rpc_ctx *c, json_t *params, struct rpc_error *e);

enum { RPC_PUBLIC = 1, RPC_WRITE = 2, RPC_NOLOCK = 4, RPC_COUNT = 8 };

struct rpc_method {
	const char *name;
	rpc_fn fn;
	int flags;
};

/* Method tables, each ending with {NULL}. */
extern const struct rpc_method api_session_methods[], api_folder_methods[],
	api_item_methods[], api_mail_methods[], api_calendar_methods[], api_change_methods[];

struct rpc_reply {
	int status;              /* HTTP status */
	char *body;              /* malloc'd */
	size_t len;
	char set_cookie[256];
	int drop;                /* close the connection after part of the body */
	int drop_before;         /* close without any reply */
};

void rpc_handle(struct sim *sim, const char *body, size_t len, const char *sid,
		const char *token, struct rpc_reply *out);

/* Helpers for handlers. */
json_t *rpc_fail(struct rpc_error *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
json_t *rpc_item_error(long index, int code, const char *message, const char *param);
/* {"errors": errors, "result": result}; steals both (result may be NULL: omitted). */
json_t *rpc_batch_result(json_t *errors, json_t *result);
/* JSON-RPC error envelope as bytes (also used by upload/download). */
char *rpc_error_body(json_t *id, int code, const char *message, json_t *params);
/* HTTP status for a JSON-RPC error code under the configured policy. */
int rpc_error_status(const struct sim *sim, int code);

#endif
