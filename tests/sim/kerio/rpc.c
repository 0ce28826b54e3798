/* JSON-RPC dispatcher (see rpc.h). */
#include "rpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "faults.h"
#include "journal.h"
#include "jsonout.h"
#include "sessions.h"
#include "util.h"

json_t *rpc_fail(struct rpc_error *e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof e->message, fmt, ap);
	va_end(ap);
	e->code = code;
	return NULL;
}

json_t *rpc_item_error(long index, int code, const char *message, const char *param)
{
	json_t *pp = json_array();
	if (param)
		json_array_append_new(pp, json_string(param));
	return json_pack("{s:I, s:i, s:s, s:{s:o, s:i}}", "inputIndex", (json_int_t)index, "code",
			 code, "message", message, "messageParameters", "positionalParameters",
			 pp, "plurality", 1);
}

json_t *rpc_batch_result(json_t *errors, json_t *result)
{
	json_t *o = json_object();
	json_object_set_new(o, "errors", errors);
	if (result)
		json_object_set_new(o, "result", result);
	return o;
}

char *rpc_error_body(json_t *id, int code, const char *message, json_t *params)
{
	json_t *pp = params ? json_incref(params) : json_array();
	json_t *env = json_pack("{s:s, s:O, s:{s:i, s:s, s:{s:{s:o, s:i}}}}", "jsonrpc", "2.0",
				"id", id ? id : json_null(), "error", "code", code, "message",
				message, "data", "messageParameters", "positionalParameters", pp,
				"plurality", 1);
	char *s = json_dumps(env, JSON_COMPACT);
	json_decref(env);
	return s;
}

int rpc_error_status(const struct sim *sim, int code)
{
	if (!sim->cfg.error_status_idl)
		return 200;
	if (code == -32601)
		return 404;
	if (code == -32700 || code == -32603 || code == -32602 || code == -32600 ||
	    code == -32001)
		return 500;
	return 200;
}

static const struct rpc_method *const tables[] = {
	api_session_methods, api_folder_methods, api_item_methods, api_mail_methods,
	api_calendar_methods, api_change_methods, NULL,
};

static const struct rpc_method *find_method(const char *name)
{
	for (int t = 0; tables[t]; t++)
		for (const struct rpc_method *m = tables[t]; m->name; m++)
			if (!strcmp(m->name, name))
				return m;
	return NULL;
}

static void set_error(struct sim *sim, struct rpc_reply *out, json_t *id, int code,
		      const char *msg, json_t *params)
{
	out->body = rpc_error_body(id, code, msg, params);
	out->len = strlen(out->body);
	out->status = rpc_error_status(sim, code);
}

void rpc_handle(struct sim *sim, const char *body, size_t len, const char *sid,
		const char *token, struct rpc_reply *out)
{
	memset(out, 0, sizeof *out);
	out->status = 200;
	json_error_t jerr;
	json_t *req = json_loadb(body, len, 0, &jerr);
	if (!req) {
		set_error(sim, out, NULL, -32700, "Parse error.", NULL);
		return;
	}
	json_t *id = json_object_get(req, "id");
	const char *method = json_string_value(json_object_get(req, "method"));
	json_t *params = json_object_get(req, "params");
	if (!json_is_object(req) || !method) {
		set_error(sim, out, id, -32600, "Invalid request.", NULL);
		json_decref(req);
		return;
	}
	struct fault_hit fh;
	faults_take(sim->faults, method, &fh);
	if (fh.delay_ms > 0) {
		struct timespec ts = {fh.delay_ms / 1000, (long)(fh.delay_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (fh.active[F_DROP_BEFORE]) {
		out->drop_before = 1;
		json_decref(req);
		return;
	}
	if (fh.active[F_HTTP500]) {
		out->status = 500;
		out->body = xstrdup("<html><body><h1>500 Internal Server Error</h1></body></html>\n");
		out->len = strlen(out->body);
		json_decref(req);
		return;
	}
	if (fh.active[F_HTTP401]) {
		/* a front end that ended the session and says so in HTTP only */
		sessions_expire_all(sim->sessions);
		out->status = 401;
		out->body = xstrdup("<html><body><h1>401 Unauthorized</h1></body></html>\n");
		out->len = strlen(out->body);
		json_decref(req);
		return;
	}
	if (fh.active[F_SESSION_EXPIRED])
		sessions_expire_all(sim->sessions);
	const struct rpc_method *m = find_method(method);
	if (!m) {
		char msg[200];
		snprintf(msg, sizeof msg, "Method %.150s doesn't exist.", method);
		set_error(sim, out, id, -32601, msg, NULL);
		json_decref(req);
		return;
	}
	if (!(m->flags & RPC_PUBLIC) && sessions_check(sim->sessions, sid, token ? token : "") != 0) {
		set_error(sim, out, id, -32001, "Session expired.", NULL);
		json_decref(req);
		return;
	}
	if (fh.active[F_BUSY] || fh.active[F_ERROR]) {
		const char *msg = fh.message[0] ? fh.message
				  : fh.code == 4100 ? "Folder is already being reindexed. Try later."
				  : fh.code == 4101 ? "Long lasting operation blocks perform the request. Try later."
						    : "The operation failed.";
		set_error(sim, out, id, fh.code, msg, NULL);
		if (fh.retry_after_ms > 0) {
			/* the server's own delay hint, as error.data.retryAfterMs */
			json_t *env = json_loads(out->body, 0, NULL);
			json_object_set_new(json_object_get(json_object_get(env, "error"), "data"),
					    "retryAfterMs", json_integer(fh.retry_after_ms));
			free(out->body);
			out->body = json_dumps(env, JSON_COMPACT);
			out->len = strlen(out->body);
			json_decref(env);
		}
		json_decref(req);
		return;
	}
	if (fh.active[F_SYNC_KEY_EXPIRED]) {
		set_error(sim, out, id, fh.code, fh.message[0] ? fh.message : "Sync key expired.",
			  NULL);
		json_decref(req);
		return;
	}
	if (params && !json_is_object(params) && !json_is_null(params)) {
		set_error(sim, out, id, -32602, "Invalid params.", NULL);
		json_decref(req);
		return;
	}
	json_t *empty = NULL;
	if (!json_is_object(params))
		params = empty = json_object();

	struct rpc_ctx c = {sim, &sim->store, sid, 0, {0}};
	struct rpc_error e = {0, {0}, NULL};
	json_t *result;
	if (m->flags & RPC_NOLOCK) {
		result = m->fn(&c, params, &e);
	} else if (m->flags & RPC_WRITE) {
		pthread_rwlock_wrlock(&sim->store.lock);
		result = m->fn(&c, params, &e);
		journal_publish(&sim->store);
		pthread_rwlock_unlock(&sim->store.lock);
	} else {
		pthread_rwlock_rdlock(&sim->store.lock);
		result = m->fn(&c, params, &e);
		pthread_rwlock_unlock(&sim->store.lock);
	}
	json_decref(empty);
	if (!result) {
		set_error(sim, out, id, e.code ? e.code : -32603,
			  e.message[0] ? e.message : "Internal error.", e.params);
		json_decref(e.params);
		json_decref(req);
		return;
	}
	if (m->flags & RPC_COUNT)
		counters_add(sim->counters, method, c.items);
	else
		counters_read(sim->counters, method);
	memcpy(out->set_cookie, c.set_cookie, sizeof out->set_cookie);
	json_t *env = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(),
				"result", result);
	out->body = jsonout_dump(env, sim->store.raw_tag, &out->len);
	json_decref(env);
	json_decref(req);
	if (fh.active[F_MALFORMED]) {
		/* A cut, unparseable reply with a normal status. */
		out->len = out->len / 2;
		out->body[out->len] = 0;
	}
	if (fh.active[F_DROP])
		out->drop = 1;
}
