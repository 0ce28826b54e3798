/* Fault injection and write counters (see faults.h). */
#include "faults.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

static const char *const kind_names[F_KIND_COUNT] = {
	"http500", "delay", "drop", "drop_before", "malformed", "session_expired", "busy",
	"sync_key_expired", "offline", "error", "http401",
};

struct fault {
	int id;
	enum fault_kind kind;
	char method[96];
	long skip, count;        /* count < 0: unlimited (until `until`) */
	double until;            /* monotonic seconds, 0 = none */
	int delay_ms, code, retry_after_ms;
	char message[200];
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
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
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
	if (k < 0) {
		snprintf(err, errn, "unknown fault kind '%s'", kind ? kind : "(none)");
		return -1;
	}
	struct fault *x = xcalloc(1, sizeof *x);
	x->kind = (enum fault_kind)k;
	const char *m = json_string_value(json_object_get(spec, "method"));
	if (!m)
		m = k == F_SYNC_KEY_EXPIRED ? "Changes.getFolder" : "*";
	snprintf(x->method, sizeof x->method, "%s", m);
	json_t *count = json_object_get(spec, "count");
	double seconds = json_number_value(json_object_get(spec, "seconds"));
	x->count = json_is_integer(count) ? (long)json_integer_value(count) : seconds > 0 ? -1 : 1;
	if (x->count == 0)
		x->count = -1;
	x->until = seconds > 0 ? mono() + seconds : 0;
	x->skip = (long)json_integer_value(json_object_get(spec, "skip"));
	x->delay_ms = (int)json_integer_value(json_object_get(spec, "delay_ms"));
	if (k == F_DELAY && x->delay_ms <= 0)
		x->delay_ms = 1000;
	x->code = (int)json_integer_value(json_object_get(spec, "code"));
	x->retry_after_ms = (int)json_integer_value(json_object_get(spec, "retry_after_ms"));
	if (!x->code)
		x->code = k == F_BUSY ? 4101 : k == F_SYNC_KEY_EXPIRED ? 1000 : k == F_ERROR ? 1000 : 0;
	const char *msg = json_string_value(json_object_get(spec, "message"));
	snprintf(x->message, sizeof x->message, "%s", msg ? msg : "");
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
	double now = mono();
	for (struct fault *x = f->head; x; x = x->next)
		json_array_append_new(a, json_pack("{s:i, s:s, s:s, s:I, s:I, s:f, s:i, s:i}", "id",
						   x->id, "kind", kind_names[x->kind], "method",
						   x->method, "skip", (json_int_t)x->skip, "count",
						   (json_int_t)x->count, "secondsLeft",
						   x->until ? x->until - now : 0.0, "delay_ms",
						   x->delay_ms, "code", x->code));
	pthread_mutex_unlock(&f->mu);
	return a;
}

static int method_matches(const struct fault *x, const char *method)
{
	if (!strcmp(x->method, "*"))
		return 1;
	size_t n = strlen(x->method);
	/* "Mails.*" matches a whole interface */
	if (n >= 2 && x->method[n - 1] == '*')
		return !strncmp(x->method, method, n - 1);
	return !strcmp(x->method, method);
}

void faults_take(struct sim_faults *f, const char *method, struct fault_hit *hit)
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
		if (x->kind == F_OFFLINE || !method_matches(x, method)) {
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
		if (x->kind == F_BUSY || x->kind == F_ERROR || x->kind == F_SYNC_KEY_EXPIRED) {
			hit->code = x->code;
			hit->retry_after_ms = x->retry_after_ms;
			snprintf(hit->message, sizeof hit->message, "%s", x->message);
		}
		if (x->count > 0 && --x->count == 0) {
			*pp = x->next;
			free(x);
			continue;
		}
		pp = &x->next;
	}
	pthread_mutex_unlock(&f->mu);
}

int faults_offline(struct sim_faults *f)
{
	int offline = 0;
	pthread_mutex_lock(&f->mu);
	double now = mono();
	for (struct fault **pp = &f->head; *pp;) {
		struct fault *x = *pp;
		if (x->kind != F_OFFLINE) {
			pp = &x->next;
			continue;
		}
		if (x->until && now > x->until) {
			*pp = x->next;
			free(x);
			continue;
		}
		if (x->skip > 0) {
			x->skip--;
			pp = &x->next;
			continue;
		}
		offline = 1;
		if (x->count > 0 && --x->count == 0) {
			*pp = x->next;
			free(x);
			continue;
		}
		pp = &x->next;
	}
	pthread_mutex_unlock(&f->mu);
	return offline;
}

/* ---- counters ---- */

struct counter {
	char method[64];
	long calls, items;
	int mutating; /* else a read: only its calls are counted ("reads") */
};

struct sim_counters {
	pthread_mutex_t mu;
	struct counter c[128];
	int n;
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

static void count(struct sim_counters *c, const char *method, long items, int mutating)
{
	pthread_mutex_lock(&c->mu);
	int i;
	for (i = 0; i < c->n; i++)
		if (!strcmp(c->c[i].method, method))
			break;
	if (i == c->n && c->n < 128) {
		/* a slot a reset freed starts from zero */
		memset(&c->c[i], 0, sizeof c->c[i]);
		snprintf(c->c[i].method, sizeof c->c[i].method, "%s", method);
		c->c[i].mutating = mutating;
		c->n++;
	}
	if (i < 128) {
		c->c[i].calls++;
		c->c[i].items += items;
	}
	pthread_mutex_unlock(&c->mu);
}

void counters_add(struct sim_counters *c, const char *method, long items)
{
	count(c, method, items, 1);
}

void counters_read(struct sim_counters *c, const char *method)
{
	count(c, method, 0, 0);
}

json_t *counters_json(struct sim_counters *c)
{
	json_t *calls = json_object(), *items = json_object(), *reads = json_object();
	pthread_mutex_lock(&c->mu);
	for (int i = 0; i < c->n; i++) {
		if (!c->c[i].mutating) {
			json_object_set_new(reads, c->c[i].method, json_integer(c->c[i].calls));
			continue;
		}
		json_object_set_new(calls, c->c[i].method, json_integer(c->c[i].calls));
		json_object_set_new(items, c->c[i].method, json_integer(c->c[i].items));
	}
	pthread_mutex_unlock(&c->mu);
	return json_pack("{s:o, s:o, s:o}", "calls", calls, "items", items, "reads", reads);
}

void counters_reset(struct sim_counters *c)
{
	pthread_mutex_lock(&c->mu);
	c->n = 0;
	pthread_mutex_unlock(&c->mu);
}
