/* Changes.* methods over the account-wide journal: getFolderSyncKey, getFolder, getSyncKey,
 * get (long-poll, one waiter per key: a newer poll with the same key ends the older one) and
 * killRequest. A key older than the journal's start or newer than its end is rejected with
 * error 1000 "Sync key expired." (README: "Expired sync keys"). */
#include <string.h>
#include <time.h>

#include "api.h"
#include "journal.h"
#include "store.h"

#define EXPIRED_CODE 1000

static int key_valid(const struct sim_store *s, int64_t key)
{
	return key >= s->journal_floor && key <= s->wm;
}

static json_t *changes_get_folder_sync_key(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	const char *fid = json_string_value(json_object_get(p, "folderId"));
	if (!store_folder_by_id(c->s, fid))
		return rpc_fail(e, 4104, "Folder %s doesn't exist.", fid ? fid : "(none)");
	return json_pack("{s:I}", "syncKey", (json_int_t)c->s->wm);
}

static json_t *changes_get_folder(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	const char *fid = json_string_value(json_object_get(p, "folderId"));
	json_t *k = json_object_get(p, "lastSyncKey");
	if (!fid || !json_is_integer(k))
		return rpc_fail(e, -32602, "Invalid params: 'folderId' and 'lastSyncKey' are required.");
	struct sim_folder *f = store_folder_by_id(c->s, fid);
	if (!f)
		return rpc_fail(e, 4104, "Folder %s doesn't exist.", fid);
	int64_t key = json_integer_value(k);
	if (!key_valid(c->s, key))
		return rpc_fail(e, EXPIRED_CODE, "Sync key expired.");
	json_t *list = json_array();
	for (size_t i = journal_first_after(c->s, key); i < c->s->njournal; i++)
		if (journal_touches_folder(&c->s->journal[i], f->idx))
			json_array_append_new(list, journal_change_json(c->s, &c->s->journal[i]));
	return json_pack("{s:o, s:I}", "list", list, "syncKey", (json_int_t)c->s->wm);
}

static json_t *sync_key(int64_t wm)
{
	return json_pack("{s:i, s:i, s:I, s:I, s:[]}", "id", 1, "version", 1, "watermark",
			 (json_int_t)wm, "publicFolder", (json_int_t)0, "accountSyncKey");
}

static json_t *changes_get_sync_key(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	(void)p;
	(void)e;
	return json_pack("{s:o}", "syncKey", sync_key(c->s->wm));
}

static int read_key(json_t *p, int64_t *key)
{
	json_t *k = json_object_get(p, "lastSyncKey");
	json_t *w = json_is_object(k) ? json_object_get(k, "watermark") : k;
	if (!json_is_integer(w))
		return -1;
	*key = json_integer_value(w);
	return 0;
}

/* Collects the account's changes after key; NULL if the key is not valid. */
static json_t *collect(struct sim_store *s, int64_t key, int64_t *wm)
{
	pthread_rwlock_rdlock(&s->lock);
	json_t *list = NULL;
	if (key_valid(s, key)) {
		list = json_array();
		for (size_t i = journal_first_after(s, key); i < s->njournal; i++)
			json_array_append_new(list, journal_change_json(s, &s->journal[i]));
	}
	*wm = s->wm;
	pthread_rwlock_unlock(&s->lock);
	return list;
}

static json_t *changes_get(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	struct sim_store *s = c->s;
	int64_t key, wm;
	if (read_key(p, &key))
		return rpc_fail(e, -32602, "Invalid params: 'lastSyncKey' is required.");
	json_int_t timeout = json_integer_value(json_object_get(p, "timeout"));
	if (timeout < 0)
		timeout = 0;
	if (timeout > 600)
		timeout = 600;
	json_t *list = collect(s, key, &wm);
	if (!list)
		return rpc_fail(e, EXPIRED_CODE, "Sync key expired.");
	if (json_array_size(list) == 0 && timeout > 0) {
		json_decref(list);
		list = NULL;
		struct timespec deadline;
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += (time_t)timeout;
		pthread_mutex_lock(&s->notify_mu);
		int slot = -1;
		for (int i = 0; i < SIM_MAX_POLLERS; i++) {
			struct sim_poller *w = &s->pollers[i];
			if (w->used && w->key == key)
				w->killed = 1; /* only one long-poll per key: the newer wins */
			if (!w->used && slot < 0)
				slot = i;
		}
		if (slot < 0) {
			pthread_mutex_unlock(&s->notify_mu);
			return rpc_fail(e, 4101, "Too many long-poll requests. Try later.");
		}
		struct sim_poller *me = &s->pollers[slot];
		me->used = 1;
		me->killed = 0;
		me->key = key;
		pthread_cond_broadcast(&s->notify_cv);
		int rc = 0;
		while (s->notified_wm <= key && !me->killed && !s->stopping && rc == 0)
			rc = pthread_cond_timedwait(&s->notify_cv, &s->notify_mu, &deadline);
		me->used = 0;
		pthread_mutex_unlock(&s->notify_mu);
		list = collect(s, key, &wm);
		if (!list)
			return rpc_fail(e, EXPIRED_CODE, "Sync key expired.");
	}
	return json_pack("{s:o, s:o}", "list", list, "syncKey", sync_key(wm));
}

static json_t *changes_kill_request(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	int64_t key;
	if (read_key(p, &key))
		return rpc_fail(e, -32602, "Invalid params: 'lastSyncKey' is required.");
	struct sim_store *s = c->s;
	pthread_mutex_lock(&s->notify_mu);
	for (int i = 0; i < SIM_MAX_POLLERS; i++)
		if (s->pollers[i].used && s->pollers[i].key == key)
			s->pollers[i].killed = 1;
	pthread_cond_broadcast(&s->notify_cv);
	pthread_mutex_unlock(&s->notify_mu);
	return json_object();
}

const struct rpc_method api_change_methods[] = {
	{"Changes.getFolderSyncKey", changes_get_folder_sync_key, 0},
	{"Changes.getFolder", changes_get_folder, 0},
	{"Changes.getSyncKey", changes_get_sync_key, 0},
	{"Changes.get", changes_get, RPC_NOLOCK},
	{"Changes.killRequest", changes_kill_request, RPC_NOLOCK},
	{NULL, NULL, 0},
};
