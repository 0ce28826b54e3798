/* Fault injection and counters (see faults.h). */
#include "faults.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

static const char *const kind_names[F_KIND_COUNT] = {
	"busy", "invalid_sync_state", "error", "http401", "http500", "http503", "drop_before",
	"drop", "malformed", "delay"};

/* Names the Kerio simulator uses for the same faults, so shared tests can arm either. */
static const struct {
	const char *alias;
	enum fault_kind kind;
} aliases[] = {{"drop_mid", F_DROP_MID}, {"sync_key_expired", F_SYNC_INVALID}};

struct fault {
	int id;
	enum fault_kind kind;
	char op[64];
	long skip, count;
	double until;
	int delay_ms, backoff_ms, message_form;
	char code[96];
	struct fault *next;
};

struct sim_faults {
	pthread_mutex_t mu;
	struct fault *head;
	int next_id;
};

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct sim_faults *faults_new(void)
{
	struct sim_faults *f = xcalloc(1, sizeof *f);
	pthread_mutex_init(&f->mu, NULL);
	f->next_id = 1;
	return f;
}

void faults_clear(struct sim_faults *f)
{
	pthread_mutex_lock(&f->mu);
	while (f->head) {
		struct fault *n = f->head->next;
		free(f->head);
		f->head = n;
	}
	pthread_mutex_unlock(&f->mu);
}

void faults_free(struct sim_faults *f)
{
	if (!f)
		return;
	faults_clear(f);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

int faults_add(struct sim_faults *f, json_t *spec, char *err, size_t errn)
{
	const char *kind = json_string_value(json_object_get(spec, "kind"));
	int k = -1;
	for (int i = 0; kind && i < F_KIND_COUNT; i++)
		if (!strcmp(kind, kind_names[i]))
			k = i;
	for (size_t i = 0; kind && k < 0 && i < sizeof aliases / sizeof *aliases; i++)
		if (!strcmp(kind, aliases[i].alias))
			k = (int)aliases[i].kind;
	if (k < 0) {
		snprintf(err, errn, "unknown fault kind '%s'", kind ? kind : "(none)");
		return -1;
	}
	struct fault *x = xcalloc(1, sizeof *x);
	x->kind = (enum fault_kind)k;
	const char *op = json_string_value(json_object_get(spec, "method"));
	if (!op)
		op = json_string_value(json_object_get(spec, "op"));
	snprintf(x->op, sizeof x->op, "%s", op ? op : k == F_SYNC_INVALID ? "SyncFolderItems" : "*");
	json_t *count = json_object_get(spec, "count");
	double seconds = json_number_value(json_object_get(spec, "seconds"));
	x->count = json_is_integer(count) ? (long)json_integer_value(count) : seconds > 0 ? 0 : 1;
	x->until = seconds > 0 ? mono() + seconds : 0;
	x->skip = (long)json_integer_value(json_object_get(spec, "skip"));
	x->delay_ms = (int)json_integer_value(json_object_get(spec, "delay_ms"));
	if (k == F_DELAY && x->delay_ms <= 0)
		x->delay_ms = 1000;
	json_t *bo = json_object_get(spec, "backoff_ms");
	x->backoff_ms = bo ? (int)json_integer_value(bo) : 5000;
	const char *form = json_string_value(json_object_get(spec, "form"));
	x->message_form = form && !strcmp(form, "message");
	const char *code = json_string_value(json_object_get(spec, "code"));
	snprintf(x->code, sizeof x->code, "%s", code ? code : "ErrorInternalServerError");
	pthread_mutex_lock(&f->mu);
	x->id = f->next_id++;
	struct fault **tail = &f->head;
	while (*tail)
		tail = &(*tail)->next;
	*tail = x;
	pthread_mutex_unlock(&f->mu);
	return x->id;
}

json_t *faults_json(struct sim_faults *f)
{
	json_t *a = json_array();
	pthread_mutex_lock(&f->mu);
	for (struct fault *x = f->head; x; x = x->next)
		json_array_append_new(a, json_pack("{s:i, s:s, s:s, s:I, s:I, s:i, s:i, s:s}", "id",
						   x->id, "kind", kind_names[x->kind], "method", x->op,
						   "skip", (json_int_t)x->skip, "count",
						   (json_int_t)x->count, "delay_ms", x->delay_ms,
						   "backoff_ms", x->backoff_ms, "form",
						   x->message_form ? "message" : "fault"));
	pthread_mutex_unlock(&f->mu);
	return a;
}

void faults_take(struct sim_faults *f, const char *op, struct fault_hit *hit)
{
	memset(hit, 0, sizeof *hit);
	pthread_mutex_lock(&f->mu);
	double now = mono();
	for (struct fault **pp = &f->head; *pp;) {
		struct fault *x = *pp;
		if (x->until && now > x->until) {
			*pp = x->next;
			free(x);
			continue;
		}
		if (strcmp(x->op, "*") != 0 && strcmp(x->op, op) != 0) {
			pp = &x->next;
			continue;
		}
		if (x->skip > 0) {
			x->skip--;
			pp = &x->next;
			continue;
		}
		hit->active[x->kind] = 1;
		if (x->delay_ms > hit->delay_ms)
			hit->delay_ms = x->delay_ms;
		if (x->kind == F_BUSY) {
			hit->backoff_ms = x->backoff_ms;
			hit->message_form = x->message_form;
		}
		if (x->kind == F_ERROR)
			snprintf(hit->code, sizeof hit->code, "%s", x->code);
		if (x->count > 0 && --x->count == 0) {
			*pp = x->next;
			free(x);
			continue;
		}
		pp = &x->next;
	}
	pthread_mutex_unlock(&f->mu);
}

/* ---- counters ---- */

struct counter {
	char name[64];
	long calls, items;
};

struct sim_counters {
	pthread_mutex_t mu;
	struct counter ops[64], muts[64];
	int nops, nmuts;
};

struct sim_counters *counters_new(void)
{
	struct sim_counters *c = xcalloc(1, sizeof *c);
	pthread_mutex_init(&c->mu, NULL);
	return c;
}

void counters_free(struct sim_counters *c)
{
	if (c) {
		pthread_mutex_destroy(&c->mu);
		free(c);
	}
}

static struct counter *slot(struct counter *a, int *n, const char *name)
{
	for (int i = 0; i < *n; i++)
		if (!strcmp(a[i].name, name))
			return &a[i];
	if (*n == 64)
		return NULL;
	snprintf(a[*n].name, sizeof a[*n].name, "%s", name);
	a[*n].calls = a[*n].items = 0;
	return &a[(*n)++];
}

void counters_call(struct sim_counters *c, const char *op, long items)
{
	pthread_mutex_lock(&c->mu);
	struct counter *x = slot(c->ops, &c->nops, op);
	if (x) {
		x->calls++;
		x->items += items;
	}
	pthread_mutex_unlock(&c->mu);
}

void counters_mutation(struct sim_counters *c, const char *what)
{
	pthread_mutex_lock(&c->mu);
	struct counter *x = slot(c->muts, &c->nmuts, what);
	if (x)
		x->calls++;
	pthread_mutex_unlock(&c->mu);
}

json_t *counters_json(struct sim_counters *c)
{
	json_t *calls = json_object(), *items = json_object(), *muts = json_object();
	pthread_mutex_lock(&c->mu);
	for (int i = 0; i < c->nops; i++) {
		json_object_set_new(calls, c->ops[i].name, json_integer(c->ops[i].calls));
		json_object_set_new(items, c->ops[i].name, json_integer(c->ops[i].items));
	}
	for (int i = 0; i < c->nmuts; i++)
		json_object_set_new(muts, c->muts[i].name, json_integer(c->muts[i].calls));
	pthread_mutex_unlock(&c->mu);
	return json_pack("{s:o, s:o, s:o}", "calls", calls, "items", items, "mutations", muts);
}

void counters_reset(struct sim_counters *c)
{
	pthread_mutex_lock(&c->mu);
	c->nops = c->nmuts = 0;
	pthread_mutex_unlock(&c->mu);
}
