/* Session.* methods: login (token + SESSION_CONNECT_WEBMAIL cookie), logout, whoAmI,
 * getQuotaInformation. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rpc.h"
#include "sessions.h"
#include "store.h"

static json_t *session_login(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	const char *user = json_string_value(json_object_get(p, "userName"));
	const char *pass = json_string_value(json_object_get(p, "password"));
	if (!user || !pass)
		return rpc_fail(e, -32602, "Invalid params: userName and password are required.");
	const struct sim_store *s = c->s;
	int user_ok = !strcasecmp(user, store_user_local(s)) || !strcasecmp(user, store_user_addr(s));
	if (!user_ok || strcmp(pass, c->sim->cfg.password) != 0)
		return rpc_fail(e, -32000, "Username or password is not correct.");
	char token[SESSION_TOKEN_LEN + 1], sid[SESSION_TOKEN_LEN + 1];
	sessions_create(c->sim->sessions, token, sid);
	snprintf(c->set_cookie, sizeof c->set_cookie,
		 "SESSION_CONNECT_WEBMAIL=%s; Path=/; Secure; HttpOnly", sid);
	return json_pack("{s:s}", "token", token);
}

static json_t *session_logout(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	(void)p;
	(void)e;
	sessions_remove(c->sim->sessions, c->sid);
	snprintf(c->set_cookie, sizeof c->set_cookie,
		 "SESSION_CONNECT_WEBMAIL=; Path=/; Secure; HttpOnly; Max-Age=0");
	return json_pack("{s:s}", "redirectUrl", "");
}

static json_t *session_who_am_i(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	(void)p;
	(void)e;
	const struct sim_store *s = c->s;
	char id[400];
	snprintf(id, sizeof id, "keriostorage://user/%s/%s", store_domain(s), store_user_local(s));
	return json_pack("{s:{s:s, s:s, s:s, s:[s], s:s, s:s}}", "userDetails", "id", id,
			 "loginName", store_user_addr(s), "fullName", c->sim->cfg.full_name,
			 "emails", store_user_addr(s), "preferredAddress", store_user_addr(s),
			 "replyToAddress", "");
}

static json_t *session_quota(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	(void)p;
	(void)e;
	long long used = 0, count = 0;
	for (size_t i = 0; i < c->s->nfolders; i++) {
		const struct sim_folder *f = c->s->folders[i];
		if (!f->dead && f->kind == KIND_MAIL) {
			used += f->bytes;
			count += (long long)f->len;
		}
	}
	return json_pack("{s:{s:i, s:I, s:I, s:I, s:i}}", "quotaInfo", "messagesLimit", 0,
			 "messagesUsed", (json_int_t)count, "spaceLimit", (json_int_t)0,
			 "spaceUsed", (json_int_t)used, "percentLimitForWarning", 90);
}

const struct rpc_method api_session_methods[] = {
	{"Session.login", session_login, RPC_PUBLIC | RPC_NOLOCK},
	{"Session.logout", session_logout, RPC_NOLOCK},
	{"Session.whoAmI", session_who_am_i, RPC_NOLOCK},
	{"Session.getQuotaInformation", session_quota, 0},
	{NULL, NULL, 0},
};
