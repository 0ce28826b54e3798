/* Events.* (the series, generic item methods) and Occurrences.* (the expanded instances:
 * get by time window, getById, set/remove with modifyThis | modifyAll | modifyAllFollowing |
 * modifyMasterEvent). Occurrence ids: keriostorage://occurrence/<dom>/<user>/<uuid>/<n>.<t>,
 * where t is the instance's original start (epoch seconds). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "datetime.h"
#include "item_json.h"
#include "journal.h"
#include "ops.h"
#include "query.h"
#include "recur.h"
#include "store.h"
#include "util.h"

#define DAY 86400LL

static json_t *events_get(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	return items_get(c, KIND_EVENT, p, e);
}

static json_t *events_get_by_id(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	if (json_is_array(json_object_get(p, "ids")))
		return items_get_by_id(c, KIND_EVENT, p, e);
	const char *id = json_string_value(json_object_get(p, "id"));
	if (!id)
		return rpc_fail(e, -32602, "Invalid params: 'id' is required.");
	struct sim_item *it = store_item_by_id(c->s, id, KIND_EVENT);
	if (!it)
		return rpc_fail(e, 1002, "Event %s doesn't exist.", id);
	return json_pack("{s:o}", "result", item_json(c->s, it, 1));
}

static json_t *events_create(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	return items_create(c, KIND_EVENT, "events", p, e);
}

static json_t *events_set(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	return items_set(c, KIND_EVENT, "events", p, e);
}

static json_t *events_remove(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	return items_remove(c, KIND_EVENT, p, e);
}

static json_t *events_copy(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	return items_copy_move(c, KIND_EVENT, 0, p, e);
}

static json_t *events_move(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	return items_copy_move(c, KIND_EVENT, 1, p, e);
}

/* ---- occurrences ---- */

static void occurrence_id(struct sim_store *s, const struct sim_item *it, int64_t orig, char *out,
			  size_t n)
{
	snprintf(out, n, "keriostorage://occurrence/%s/%s/%s/%" PRIu64 ".%" PRId64, store_domain(s),
		 store_folder_user(s, s->folders[it->folder]), s->folders[it->folder]->uuid, it->n, orig);
}

static struct sim_item *parse_occurrence(struct sim_store *s, const char *id, int64_t *orig)
{
	const char *pre = "keriostorage://occurrence/";
	size_t pl = strlen(pre);
	if (!id || strncmp(id, pre, pl))
		return NULL;
	const char *dot = strrchr(id, '.');
	if (!dot || dot < id + pl)
		return NULL;
	char *end;
	long long t = strtoll(dot + 1, &end, 10);
	if (*end)
		return NULL;
	char eid[ID_MAX];
	snprintf(eid, sizeof eid, "keriostorage://event/%.*s", (int)(dot - id - (long)pl), id + pl);
	*orig = t;
	return store_item_by_id(s, eid, KIND_EVENT);
}

static void put_time(json_t *o, const char *key, int64_t t, int all_day, int is_end)
{
	char buf[20];
	if (all_day)
		dt_format_date(is_end ? t - DAY : t, buf);
	else
		dt_format(t, buf);
	json_object_set_new(o, key, json_string(buf));
}

static json_t *occurrence_json(struct sim_store *s, const struct sim_item *it, json_t *ev,
			       const struct occ *o, int listing)
{
	char id[ID_MAX];
	occurrence_id(s, it, o->orig, id, sizeof id);
	json_t *out = json_object();
	json_object_set_new(out, "id", json_string(id));
	const char *key;
	json_t *v;
	json_object_foreach(ev, key, v) {
		if (!strcmp(key, "id")) {
			json_object_set(out, "eventId", v);
			continue;
		}
		if (listing && (!strcmp(key, "rule") || !strcmp(key, "reminder")))
			continue;
		json_object_set(out, key, v);
	}
	int all_day = json_is_true(json_object_get(ev, "isAllDay"));
	put_time(out, "start", o->start, all_day, 0);
	put_time(out, "end", o->end, all_day, 1);
	if (o->exc) {
		json_object_foreach(o->exc, key, v)
			if (strcmp(key, "orig") && strcmp(key, "start") && strcmp(key, "end") &&
			    strcmp(key, "deleted"))
				json_object_set(out, key, v);
	}
	json_object_set_new(out, "isException", json_boolean(o->exc != NULL));
	json_object_set_new(out, "hasReminder",
			    json_boolean(json_is_true(json_object_get(json_object_get(ev, "reminder"),
								      "isSet"))));
	json_object_set_new(out, "isRecurrent", json_boolean(o->recurring));
	json_object_set_new(out, "seqNumber", json_integer(0));
	return out;
}

struct collect {
	struct sim_store *s;
	const struct sim_item *it;
	json_t *ev;
	const struct query *q;
	json_t *list;
	long cap;
};

static int collect_cb(void *p, const struct occ *o)
{
	struct collect *c = p;
	json_t *obj = occurrence_json(c->s, c->it, c->ev, o, 1);
	if (query_match_json(obj, c->q))
		json_array_append_new(c->list, obj);
	else
		json_decref(obj);
	return (long)json_array_size(c->list) >= c->cap;
}

/* The expansion window from conditions on start/end (else base time ± 2 years). */
static void window(const struct query *q, int64_t base, int64_t *from, int64_t *to)
{
	*from = base - 730 * DAY;
	*to = base + 730 * DAY;
	size_t i;
	json_t *cond;
	json_array_foreach(q->conditions, i, cond) {
		const char *f = json_string_value(json_object_get(cond, "fieldName"));
		const char *cmp = json_string_value(json_object_get(cond, "comparator"));
		const char *v = json_string_value(json_object_get(cond, "value"));
		int64_t t;
		if (!f || !cmp || !v || dt_parse(v, &t))
			continue;
		if ((!strcmp(cmp, "GreaterEq") || !strcmp(cmp, "GreaterThan")) &&
		    (!strcmp(f, "start") || !strcmp(f, "end")))
			*from = t;
		if ((!strcmp(cmp, "LessThan") || !strcmp(cmp, "LessEq")) &&
		    (!strcmp(f, "start") || !strcmp(f, "end")))
			*to = t + 1;
	}
}

static int occ_cmp(const void *a, const void *b, void *arg)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int desc = *(int *)arg;
	int64_t tx = 0, ty = 0;
	dt_parse(json_string_value(json_object_get(x, "start")), &tx);
	dt_parse(json_string_value(json_object_get(y, "start")), &ty);
	int r = tx < ty ? -1 : tx > ty;
	if (!r)
		r = strcmp(json_string_value(json_object_get(x, "id")),
			   json_string_value(json_object_get(y, "id")));
	return desc ? -r : r;
}

static json_t *occurrences_get(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	json_t *fids = json_object_get(p, "folderIds");
	if (fids && !json_is_array(fids))
		return rpc_fail(e, -32602, "Invalid params: 'folderIds' must be an array.");
	struct query q;
	if (query_parse(json_object_get(p, "query"), &q))
		return rpc_fail(e, -32602, "Invalid params: malformed 'query'.");
	size_t nf;
	int *folders = items_folders(c, KIND_EVENT, fids, &nf, e);
	if (!folders)
		return NULL;
	int64_t from, to;
	window(&q, c->sim->cfg.base_time, &from, &to);
	struct collect col = {c->s, NULL, NULL, &q, json_array(), 200000};
	for (size_t f = 0; f < nf; f++) {
		struct sim_folder *fo = c->s->folders[folders[f]];
		for (size_t i = 0; i < fo->len && (long)json_array_size(col.list) < col.cap; i++) {
			col.it = fo->items[i];
			json_t *ev = item_json(c->s, col.it, 1);
			json_t *data = item_data(c->s, col.it, 1);
			json_object_set(ev, "x-exceptions", json_object_get(data, "x-exceptions"));
			col.ev = ev;
			recur_expand(ev, from, to, collect_cb, &col);
			json_decref(data);
			json_decref(ev);
		}
	}
	free(folders);
	size_t n = json_array_size(col.list);
	json_t **v = xmalloc((n ? n : 1) * sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(col.list, i);
	json_t *ob = json_array_get(q.order_by, 0);
	const char *dir = json_string_value(json_object_get(ob, "direction"));
	int desc = dir && !strcmp(dir, "Desc");
	qsort_r(v, n, sizeof *v, occ_cmp, &desc);
	size_t start = (size_t)q.start < n ? (size_t)q.start : n;
	size_t len = n - start;
	if (q.limit >= 0 && (size_t)q.limit < len)
		len = (size_t)q.limit;
	json_t *list = json_array();
	for (size_t i = start; i < start + len; i++) {
		json_object_del(v[i], "x-exceptions");
		json_array_append_new(list, query_project(json_incref(v[i]), q.fields));
	}
	free(v);
	json_decref(col.list);
	return json_pack("{s:o, s:I}", "list", list, "totalItems", (json_int_t)n);
}

/* Finds an occurrence and its event; 0 if found. */
static int lookup(struct rpc_ctx *c, const char *id, struct sim_item **it, struct occ *o,
		  json_t **ev)
{
	int64_t orig;
	*it = parse_occurrence(c->s, id, &orig);
	if (!*it)
		return -1;
	json_t *data = item_data(c->s, *it, 1);
	*ev = item_json(c->s, *it, 1);
	json_object_set(*ev, "x-exceptions", json_object_get(data, "x-exceptions"));
	json_decref(data);
	if (recur_find(*ev, orig, o)) {
		json_decref(*ev);
		return -1;
	}
	return 0;
}

static json_t *occurrences_get_by_id(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	json_t *ids = json_object_get(p, "ids");
	if (!json_is_array(ids))
		return rpc_fail(e, -32602, "Invalid params: 'ids' must be an array.");
	json_t *errors = json_array(), *result = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		struct sim_item *it;
		struct occ o;
		json_t *ev;
		if (lookup(c, json_string_value(v), &it, &o, &ev)) {
			json_array_append_new(errors, rpc_item_error((long)i, 1002,
								     "Occurrence doesn't exist.",
								     json_string_value(v)));
			continue;
		}
		json_t *obj = occurrence_json(c->s, it, ev, &o, 0);
		json_object_del(obj, "x-exceptions");
		json_array_append_new(result, obj);
		json_decref(ev);
	}
	return rpc_batch_result(errors, result);
}

/* Adds or replaces the exception of instance `orig` of event `it`. */
static void set_exception(struct sim_store *s, struct sim_item *it, int64_t orig, json_t *exc)
{
	item_materialize(s, it);
	json_t *list = json_object_get(it->data, "x-exceptions");
	if (!list) {
		list = json_array();
		json_object_set_new(it->data, "x-exceptions", list);
	}
	char o[20];
	dt_format(orig, o);
	json_object_set_new(exc, "orig", json_string(o));
	size_t i;
	json_t *x;
	json_array_foreach(list, i, x) {
		int64_t t;
		if (dt_parse(json_string_value(json_object_get(x, "orig")), &t) == 0 && t == orig) {
			json_array_set_new(list, i, exc);
			op_event_touch(s, it);
			return;
		}
	}
	json_array_append_new(list, exc);
	op_event_touch(s, it);
}

/* Ends the series before `orig` (modifyAllFollowing). */
static void end_series_before(struct sim_store *s, struct sim_item *it, int64_t orig)
{
	item_materialize(s, it);
	json_t *rule = json_object_get(it->data, "rule");
	char d[20];
	dt_format(orig - 1, d);
	json_object_set_new(rule, "endBy", json_pack("{s:s, s:s}", "type", "ByRecurrenceDate",
						     "date", d));
	op_event_touch(s, it);
}

static const char *modification(json_t *x)
{
	const char *m = json_string_value(json_object_get(x, "modification"));
	return m ? m : "modifyThis";
}

static json_t *occurrences_set(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	json_t *in = json_object_get(p, "occurrences");
	if (!json_is_array(in))
		return rpc_fail(e, -32602, "Invalid params: 'occurrences' must be an array.");
	json_t *errors = json_array(), *result = json_array();
	size_t i;
	json_t *x;
	json_array_foreach(in, i, x) {
		const char *id = json_string_value(json_object_get(x, "id"));
		struct sim_item *it;
		struct occ o;
		json_t *ev;
		if (lookup(c, id, &it, &o, &ev)) {
			json_array_append_new(errors, rpc_item_error((long)i, 1002,
								     "Occurrence doesn't exist.", id));
			continue;
		}
		json_decref(ev);
		const char *mod = modification(x);
		char msg[OP_MSG] = "";
		int rc = 0;
		json_t *patch = json_deep_copy(x);
		json_object_del(patch, "id");
		json_object_del(patch, "modification");
		json_object_del(patch, "eventId");
		if (!strcmp(mod, "modifyThis") && o.recurring) {
			json_t *exc = json_object();
			const char *key;
			json_t *v;
			json_object_foreach(patch, key, v)
				if (!item_member_readonly(KIND_EVENT, key) && strcmp(key, "rule"))
					json_object_set(exc, key, v);
			set_exception(c->s, it, o.orig, exc);
		} else if (!strcmp(mod, "modifyAllFollowing") && o.recurring) {
			json_t *data = item_data(c->s, it, 1);
			json_t *copy = json_deep_copy(data);
			json_decref(data);
			json_object_del(copy, "x-exceptions");
			json_object_update(copy, patch);
			end_series_before(c->s, it, o.orig);
			struct sim_item *nit;
			rc = op_item_create(c->s, c->s->folders[it->folder], KIND_EVENT, copy, 0, &nit,
					    msg);
			json_decref(copy);
			if (!rc)
				it = nit;
		} else {
			int moved;
			rc = op_item_set(c->s, &it, patch, &moved, msg);
		}
		json_decref(patch);
		if (rc) {
			json_array_append_new(errors, rpc_item_error((long)i, rc, msg, id));
			continue;
		}
		c->items++;
		json_array_append_new(result, json_pack("{s:I, s:s, s:I}", "inputIndex", (json_int_t)i,
							"id", "", "watermark",
							(json_int_t)it->watermark));
	}
	return rpc_batch_result(errors, result);
}

static json_t *occurrences_remove(struct rpc_ctx *c, json_t *p, struct rpc_error *e)
{
	json_t *in = json_object_get(p, "occurrences");
	if (!json_is_array(in))
		return rpc_fail(e, -32602, "Invalid params: 'occurrences' must be an array.");
	json_t *errors = json_array();
	size_t i;
	json_t *x;
	json_array_foreach(in, i, x) {
		const char *id = json_string_value(json_object_get(x, "id"));
		struct sim_item *it;
		struct occ o;
		json_t *ev;
		if (lookup(c, id, &it, &o, &ev)) {
			json_array_append_new(errors, rpc_item_error((long)i, 1002,
								     "Occurrence doesn't exist.", id));
			continue;
		}
		json_decref(ev);
		const char *mod = modification(x);
		if (!strcmp(mod, "modifyThis") && o.recurring)
			set_exception(c->s, it, o.orig, json_pack("{s:b}", "deleted", 1));
		else if (!strcmp(mod, "modifyAllFollowing") && o.recurring)
			end_series_before(c->s, it, o.orig);
		else
			op_item_remove(c->s, it);
		c->items++;
	}
	return rpc_batch_result(errors, NULL);
}

#define W (RPC_WRITE | RPC_COUNT)
const struct rpc_method api_calendar_methods[] = {
	{"Events.get", events_get, 0},
	{"Events.getById", events_get_by_id, 0},
	{"Events.create", events_create, W},
	{"Events.set", events_set, W},
	{"Events.remove", events_remove, W},
	{"Events.copy", events_copy, W},
	{"Events.move", events_move, W},
	{"Occurrences.get", occurrences_get, 0},
	{"Occurrences.getById", occurrences_get_by_id, 0},
	{"Occurrences.set", occurrences_set, W},
	{"Occurrences.remove", occurrences_remove, W},
	{NULL, NULL, 0},
};
