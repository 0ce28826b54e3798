/* SearchQuery engine with a small result cache (see query.h). */
#include "query.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "datetime.h"
#include "item_json.h"
#include "store.h"
#include "util.h"

#define CACHE_SLOTS 8

struct query_cache {
	struct {
		char *key;
		uint64_t generation;
		struct sim_item **items;
		size_t n;
		uint64_t used;
	} slot[CACHE_SLOTS];
	uint64_t tick;
};

int query_parse(json_t *q, struct query *out)
{
	memset(out, 0, sizeof *out);
	out->limit = -1;
	if (!q || json_is_null(q))
		return 0;
	if (!json_is_object(q))
		return -1;
	json_t *v;
	if ((v = json_object_get(q, "fields")) && !json_is_null(v)) {
		if (!json_is_array(v))
			return -1;
		out->fields = v;
	}
	if ((v = json_object_get(q, "conditions")) && !json_is_null(v)) {
		if (!json_is_array(v))
			return -1;
		out->conditions = v;
	}
	if ((v = json_object_get(q, "orderBy")) && !json_is_null(v)) {
		if (!json_is_array(v))
			return -1;
		out->order_by = v;
	}
	if ((v = json_object_get(q, "combining")) && json_is_string(v))
		out->or_combine = strcmp(json_string_value(v), "Or") == 0;
	if ((v = json_object_get(q, "start"))) {
		if (!json_is_integer(v) && !json_is_null(v))
			return -1;
		out->start = json_is_integer(v) ? (long)json_integer_value(v) : 0;
		if (out->start < 0)
			out->start = 0;
	}
	if ((v = json_object_get(q, "limit"))) {
		if (!json_is_integer(v) && !json_is_null(v))
			return -1;
		out->limit = json_is_integer(v) ? (long)json_integer_value(v) : -1;
	}
	return 0;
}

int query_wants(json_t *fields, const char *name)
{
	if (!fields || json_array_size(fields) == 0)
		return 0;
	size_t i;
	json_t *f;
	json_array_foreach(fields, i, f)
		if (json_is_string(f) && strcmp(json_string_value(f), name) == 0)
			return 1;
	return 0;
}

json_t *query_project(json_t *obj, json_t *fields)
{
	if (!fields || json_array_size(fields) == 0)
		return obj;
	json_t *out = json_object();
	json_object_set(out, "id", json_object_get(obj, "id"));
	size_t i;
	json_t *f;
	json_array_foreach(fields, i, f) {
		const char *k = json_string_value(f);
		json_t *v = k ? json_object_get(obj, k) : NULL;
		if (v)
			json_object_set(out, k, v);
	}
	json_decref(obj);
	return out;
}

/* ---- values ---- */

static int is_date_field(const char *f)
{
	return strstr(f, "Date") || strstr(f, "date") || !strcmp(f, "start") || !strcmp(f, "end") ||
	       !strcmp(f, "due") || !strcmp(f, "birthDay") || !strcmp(f, "anniversary") ||
	       !strcmp(f, "searchTime");
}

/* Value of member `field` of `it`: new reference or NULL. *summary is built on first need. */
static json_t *field_value(struct sim_store *s, const struct sim_item *it, const char *field,
			   json_t **summary)
{
	if (it->kind == KIND_MAIL) {
		uint32_t bit = mail_flag_bit(field);
		if (bit)
			return json_boolean(it->flags & bit);
		if (!strcmp(field, "isDraft"))
			return json_boolean(it->flags & MF_DRAFT);
		if (!strcmp(field, "size"))
			return json_integer(it->size);
	}
	if (!strcmp(field, "watermark"))
		return json_integer(it->watermark);
	if (!strcmp(field, "folderId"))
		return json_string(s->folders[it->folder]->id);
	if (!*summary)
		*summary = item_json(s, it, 0);
	return json_incref(json_object_get(*summary, field));
}

static int like_match(const char *hay, const char *pat)
{
	/* '%' matches any run; without '%' a Like is a substring search (what clients expect of
	 * QUICKSEARCH). Case-insensitive for ASCII. */
	if (!strchr(pat, '%'))
		return strcasestr(hay, pat) != NULL;
	const char *h = hay;
	int anchored = pat[0] != '%';
	char seg[512];
	while (*pat) {
		while (*pat == '%')
			pat++;
		size_t n = strcspn(pat, "%");
		if (n == 0)
			return 1;
		if (n >= sizeof seg)
			n = sizeof seg - 1;
		memcpy(seg, pat, n);
		seg[n] = 0;
		pat += n;
		if (anchored) {
			if (strncasecmp(h, seg, n))
				return 0;
			h += n;
			anchored = 0;
		} else {
			const char *m = strcasestr(h, seg);
			if (!m)
				return 0;
			h = m + n;
		}
		if (!*pat)
			return *h == 0 || pat[-1] == '%';
	}
	return 1;
}

enum cmp { C_EQ, C_NE, C_LT, C_GT, C_LE, C_GE, C_LIKE, C_BAD };

static enum cmp cmp_from(const char *c)
{
	static const char *const n[] = {"Eq", "NotEq", "LessThan", "GreaterThan", "LessEq",
					 "GreaterEq", "Like"};
	for (int i = 0; c && i < 7; i++)
		if (!strcmp(c, n[i]))
			return (enum cmp)i;
	if (c && !strcmp(c, "Equal"))
		return C_EQ;
	return C_BAD;
}

static int ordered(enum cmp c, int r)
{
	switch (c) {
	case C_EQ: return r == 0;
	case C_NE: return r != 0;
	case C_LT: return r < 0;
	case C_GT: return r > 0;
	case C_LE: return r <= 0;
	case C_GE: return r >= 0;
	default: return 0;
	}
}

static int match_value(json_t *v, enum cmp c, const char *want, int datey)
{
	if (!v)
		return c == C_NE;
	if (json_is_array(v)) {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
			if (match_value(e, c == C_NE ? C_EQ : c, want, datey))
				return c != C_NE;
		return c == C_NE;
	}
	if (json_is_object(v)) {
		const char *key;
		json_t *e;
		json_object_foreach(v, key, e)
			if (json_is_string(e) && match_value(e, c == C_NE ? C_EQ : c, want, datey))
				return c != C_NE;
		return c == C_NE;
	}
	if (json_is_boolean(v)) {
		int w = !strcasecmp(want, "true") || !strcmp(want, "1");
		return ordered(c == C_LIKE ? C_EQ : c, (json_is_true(v) ? 1 : 0) - w);
	}
	if (json_is_number(v)) {
		double a = json_number_value(v), b = strtod(want, NULL);
		return ordered(c == C_LIKE ? C_EQ : c, a < b ? -1 : a > b);
	}
	const char *str = json_string_value(v);
	if (!str)
		return 0;
	if (c == C_LIKE)
		return like_match(str, want);
	int64_t a, b;
	if (datey && *str && dt_parse(str, &a) == 0 && dt_parse(want, &b) == 0)
		return ordered(c, a < b ? -1 : a > b);
	return ordered(c, strcmp(str, want));
}

static const char *const quicksearch_fields[] = {
	"subject", "from", "to", "cc", "summary", "location", "description", "commonName",
	"emailAddresses", "companyName", "text", NULL,
};

static int match_cond(json_t *cond, json_t *(*get)(void *, const char *), void *ctx)
{
	const char *field = json_string_value(json_object_get(cond, "fieldName"));
	enum cmp c = cmp_from(json_string_value(json_object_get(cond, "comparator")));
	json_t *wv = json_object_get(cond, "value");
	char num[64];
	const char *want = json_string_value(wv);
	if (!want && json_is_integer(wv)) {
		snprintf(num, sizeof num, "%lld", (long long)json_integer_value(wv));
		want = num;
	} else if (!want && json_is_boolean(wv)) {
		want = json_is_true(wv) ? "true" : "false";
	}
	if (!field || c == C_BAD || !want)
		return 0;
	if (!strcmp(field, "QUICKSEARCH") || !strcmp(field, "FULLTEXT")) {
		for (int i = 0; quicksearch_fields[i]; i++) {
			json_t *v = get(ctx, quicksearch_fields[i]);
			int m = match_value(v, C_LIKE, want, 0);
			json_decref(v);
			if (m)
				return 1;
		}
		return 0;
	}
	if (!strcmp(field, "searchTime"))
		return 1; /* a hint some clients send next to QUICKSEARCH; no filter */
	json_t *v = get(ctx, field);
	int m = match_value(v, c, want, is_date_field(field));
	json_decref(v);
	return m;
}

static int match_all(const struct query *q, json_t *(*get)(void *, const char *), void *ctx)
{
	size_t n = json_array_size(q->conditions);
	if (n == 0)
		return 1;
	for (size_t i = 0; i < n; i++) {
		int m = match_cond(json_array_get(q->conditions, i), get, ctx);
		if (q->or_combine && m)
			return 1;
		if (!q->or_combine && !m)
			return 0;
	}
	return !q->or_combine;
}

struct item_ctx {
	struct sim_store *s;
	const struct sim_item *it;
	json_t *summary;
};

static json_t *item_get(void *p, const char *field)
{
	struct item_ctx *c = p;
	return field_value(c->s, c->it, field, &c->summary);
}

static json_t *obj_get(void *p, const char *field)
{
	return json_incref(json_object_get(p, field));
}

int query_match_json(json_t *obj, const struct query *q)
{
	return match_all(q, obj_get, obj);
}

/* ---- sorting ---- */

struct skey {
	int64_t num;
	char *str;
};

struct srow {
	struct sim_item *it;
	struct skey *k;
};

struct sort_spec {
	size_t ncols;
	int desc[8];
};

static void make_key(struct sim_store *s, struct sim_item *it, const char *col, int ci,
		     struct skey *k, json_t **summary)
{
	k->num = 0;
	k->str = NULL;
	if (!strcmp(col, "id")) {
		k->num = (int64_t)it->folder << 40 | (int64_t)it->n;
		return;
	}
	if ((it->kind == KIND_MAIL && (!strcmp(col, "receiveDate") || !strcmp(col, "date"))) ||
	    (it->kind == KIND_EVENT && !strcmp(col, "start"))) {
		k->num = it->date;
		return;
	}
	if (it->kind == KIND_MAIL && !strcmp(col, "modifiedDate")) {
		k->num = it->mtime;
		return;
	}
	json_t *v = field_value(s, it, col, summary);
	if (json_is_object(v)) {
		json_t *n = json_object_get(v, "name");
		if (!json_string_length(n))
			n = json_object_get(v, "address");
		json_incref(n);
		json_decref(v);
		v = n;
	} else if (json_is_array(v)) {
		json_t *e = json_incref(json_array_get(v, 0));
		json_decref(v);
		v = e;
		if (json_is_object(v)) {
			json_t *n = json_incref(json_object_get(v, "address"));
			json_decref(v);
			v = n;
		}
	}
	if (json_is_string(v)) {
		const char *str = json_string_value(v);
		int64_t t;
		if (is_date_field(col) && *str && dt_parse(str, &t) == 0) {
			k->num = t;
		} else {
			k->str = xstrdup(str);
			if (!ci)
				for (char *p = k->str; *p; p++)
					*p = (char)tolower((unsigned char)*p);
		}
	} else if (json_is_number(v)) {
		k->num = (int64_t)json_number_value(v);
	} else if (json_is_boolean(v)) {
		k->num = json_is_true(v);
	}
	json_decref(v);
}

static int row_cmp(const void *a, const void *b, void *arg)
{
	const struct srow *x = a, *y = b;
	const struct sort_spec *sp = arg;
	for (size_t i = 0; i < sp->ncols; i++) {
		const struct skey *p = &x->k[i], *q = &y->k[i];
		int r;
		if (p->str || q->str)
			r = strcmp(p->str ? p->str : "", q->str ? q->str : "");
		else
			r = p->num < q->num ? -1 : p->num > q->num;
		if (r)
			return sp->desc[i] ? -r : r;
	}
	if (x->it->folder != y->it->folder)
		return x->it->folder < y->it->folder ? -1 : 1;
	return x->it->n < y->it->n ? -1 : x->it->n > y->it->n;
}

static struct sim_item **compute(struct sim_store *s, enum sim_kind kind, const int *folders,
				 size_t nf, const struct query *q, size_t *out_n)
{
	size_t cap = 0;
	for (size_t i = 0; i < nf; i++)
		cap += s->folders[folders[i]]->len;
	struct srow *rows = xmalloc((cap ? cap : 1) * sizeof *rows);
	struct sort_spec sp = {0};
	const char *cols[8];
	int cis[8];
	size_t i;
	json_t *ob;
	json_array_foreach(q->order_by, i, ob) {
		const char *col = json_string_value(json_object_get(ob, "columnName"));
		if (!col || sp.ncols == 8)
			continue;
		const char *dir = json_string_value(json_object_get(ob, "direction"));
		cols[sp.ncols] = col;
		cis[sp.ncols] = json_is_true(json_object_get(ob, "caseSensitive"));
		sp.desc[sp.ncols] = dir && !strcmp(dir, "Desc");
		sp.ncols++;
	}
	size_t n = 0;
	for (size_t f = 0; f < nf; f++) {
		struct sim_folder *fo = s->folders[folders[f]];
		for (size_t j = 0; j < fo->len; j++) {
			struct sim_item *it = fo->items[j];
			if (it->kind != kind)
				continue;
			struct item_ctx c = {s, it, NULL};
			if (!match_all(q, item_get, &c)) {
				json_decref(c.summary);
				continue;
			}
			rows[n].it = it;
			rows[n].k = NULL;
			if (sp.ncols) {
				rows[n].k = xcalloc(sp.ncols, sizeof(struct skey));
				for (size_t col = 0; col < sp.ncols; col++)
					make_key(s, it, cols[col], cis[col], &rows[n].k[col],
						 &c.summary);
			}
			json_decref(c.summary);
			n++;
		}
	}
	if (sp.ncols || nf > 1)
		qsort_r(rows, n, sizeof *rows, row_cmp, &sp);
	struct sim_item **items = xmalloc((n ? n : 1) * sizeof *items);
	for (size_t j = 0; j < n; j++) {
		items[j] = rows[j].it;
		if (rows[j].k) {
			for (size_t col = 0; col < sp.ncols; col++)
				free(rows[j].k[col].str);
			free(rows[j].k);
		}
	}
	free(rows);
	*out_n = n;
	return items;
}

static char *cache_key(enum sim_kind kind, const int *folders, size_t nf, const struct query *q)
{
	struct buf b = {0};
	char tmp[32];
	snprintf(tmp, sizeof tmp, "%d|", (int)kind);
	buf_adds(&b, tmp);
	for (size_t i = 0; i < nf; i++) {
		snprintf(tmp, sizeof tmp, "%d,", folders[i]);
		buf_adds(&b, tmp);
	}
	buf_adds(&b, q->or_combine ? "|or|" : "|and|");
	char *c = q->conditions ? json_dumps(q->conditions, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	char *o = q->order_by ? json_dumps(q->order_by, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	buf_adds(&b, c ? c : "");
	buf_adds(&b, "|");
	buf_adds(&b, o ? o : "");
	free(c);
	free(o);
	return b.p;
}

struct sim_item **query_run(struct sim_store *s, enum sim_kind kind, const int *folders,
			    size_t nfolders, const struct query *q, size_t *page_n, long *total)
{
	char *key = cache_key(kind, folders, nfolders, q);
	pthread_mutex_lock(&s->cache_mu);
	if (!s->qcache)
		s->qcache = xcalloc(1, sizeof *s->qcache);
	struct query_cache *qc = s->qcache;
	int hit = -1;
	for (int i = 0; i < CACHE_SLOTS; i++)
		if (qc->slot[i].key && qc->slot[i].generation == s->generation &&
		    !strcmp(qc->slot[i].key, key)) {
			hit = i;
			break;
		}
	if (hit < 0) {
		/* Computing under cache_mu serialises concurrent cold queries; they would all do
		 * the same work anyway. */
		size_t n;
		struct sim_item **items = compute(s, kind, folders, nfolders, q, &n);
		hit = 0;
		for (int i = 1; i < CACHE_SLOTS; i++)
			if (qc->slot[i].used < qc->slot[hit].used)
				hit = i;
		free(qc->slot[hit].key);
		free(qc->slot[hit].items);
		qc->slot[hit].key = key;
		key = NULL;
		qc->slot[hit].generation = s->generation;
		qc->slot[hit].items = items;
		qc->slot[hit].n = n;
	}
	qc->slot[hit].used = ++qc->tick;
	size_t n = qc->slot[hit].n;
	size_t start = (size_t)q->start < n ? (size_t)q->start : n;
	size_t len = n - start;
	if (q->limit >= 0 && (size_t)q->limit < len)
		len = (size_t)q->limit;
	struct sim_item **page = xmalloc((len ? len : 1) * sizeof *page);
	memcpy(page, qc->slot[hit].items + start, len * sizeof *page);
	pthread_mutex_unlock(&s->cache_mu);
	free(key);
	*page_n = len;
	*total = (long)n;
	return page;
}

void query_cache_free(struct sim_store *s)
{
	if (!s->qcache)
		return;
	for (int i = 0; i < CACHE_SLOTS; i++) {
		free(s->qcache->slot[i].key);
		free(s->qcache->slot[i].items);
	}
	free(s->qcache);
	s->qcache = NULL;
}
