/* outpost-sim-kerio-bench: measures the simulator's serving rate the way a sync does it:
 * N threads, each with one keep-alive HTTPS connection and its own session, page through the
 * Inbox (Mails.get, 500 per page, listing fields, newest first) and fetch every listed message
 * with Mails.getById in batches of 50. Prints messages per second.
 * usage: outpost-sim-kerio-bench URL CA.pem [threads] [max-messages] [user] [password]
 * (user and password default to the simulator's own defaults, jdoe and secret). */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct resp { char *p; size_t n; };

static size_t on_data(char *d, size_t sz, size_t nm, void *u)
{
	struct resp *r = u;
	size_t n = sz * nm;
	char *p = realloc(r->p, r->n + n + 1);
	if (!p)
		return 0;
	r->p = p;
	memcpy(r->p + r->n, d, n);
	r->n += n;
	r->p[r->n] = 0;
	return n;
}

struct worker {
	const char *url, *ca, *user, *password;
	int index, nthreads;
	long max;
	long fetched;
	long bytes;
	int failed;
};

/* Posts req; returns the raw reply (caller frees) or NULL. */
static char *call_raw(CURL *h, struct curl_slist *hdr, const char *url, json_t *req, long *bytes)
{
	char *body = json_dumps(req, JSON_COMPACT);
	struct resp r = {0};
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
	CURLcode rc = curl_easy_perform(h);
	free(body);
	*bytes += (long)r.n;
	if (rc != CURLE_OK) {
		fprintf(stderr, "bench: call failed: %s\n", curl_easy_strerror(rc));
		free(r.p);
		return NULL;
	}
	return r.p;
}

static json_t *call(CURL *h, struct curl_slist *hdr, const char *url, json_t *req, long *bytes)
{
	char *body = json_dumps(req, JSON_COMPACT);
	struct resp r = {0};
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
	CURLcode rc = curl_easy_perform(h);
	free(body);
	json_t *j = rc == CURLE_OK && r.p ? json_loads(r.p, 0, NULL) : NULL;
	*bytes += (long)r.n;
	free(r.p);
	json_t *res = json_incref(json_object_get(j, "result"));
	if (!res)
		fprintf(stderr, "bench: call failed: %s\n", rc ? curl_easy_strerror(rc) : "JSON-RPC error");
	json_decref(j);
	return res;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	char url[512];
	snprintf(url, sizeof url, "%s/webmail/api/jsonrpc/", w->url);
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_CAINFO, w->ca);
	curl_easy_setopt(h, CURLOPT_COOKIEFILE, "");
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json-rpc");
	json_t *login = json_pack("{s:s, s:i, s:s, s:{s:s, s:s}}", "jsonrpc", "2.0", "id", 1, "method",
				  "Session.login", "params", "userName", w->user, "password", w->password);
	long junk = 0;
	json_t *res = call(h, hdr, url, login, &junk);
	json_decref(login);
	if (!res) {
		w->failed = 1;
		return NULL;
	}
	char tok[200];
	snprintf(tok, sizeof tok, "X-Token: %s", json_string_value(json_object_get(res, "token")));
	json_decref(res);
	hdr = curl_slist_append(hdr, tok);
	json_t *req = json_pack("{s:s, s:i, s:s}", "jsonrpc", "2.0", "id", 2, "method", "Folders.get");
	res = call(h, hdr, url, req, &junk);
	json_decref(req);
	const char *inbox = NULL;
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(res, "list"), i, f)
		if (!strcmp(json_string_value(json_object_get(f, "subType")), "FSubInbox"))
			inbox = json_string_value(json_object_get(f, "id"));
	json_t *fields = json_pack("[s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s]", "id", "folderId", "watermark",
				   "from", "to", "cc", "subject", "receiveDate", "sendDate", "isSeen",
				   "isFlagged", "isAnswered", "isForwarded", "isDraft", "hasAttachment",
				   "priority", "size");
	for (long page = w->index;; page += w->nthreads) {
		if (page * 500 >= w->max)
			break;
		req = json_pack("{s:s, s:i, s:s, s:{s:[s], s:{s:O, s:I, s:i, s:[{s:s, s:s}]}}}",
				"jsonrpc", "2.0", "id", 3, "method", "Mails.get", "params", "folderIds",
				inbox, "query", "fields", fields, "start", (json_int_t)(page * 500),
				"limit", 500, "orderBy", "columnName", "receiveDate", "direction", "Desc");
		json_t *lst = call(h, hdr, url, req, &w->bytes);
		json_decref(req);
		json_t *items = json_object_get(lst, "list");
		size_t n = json_array_size(items);
		for (size_t b = 0; b < n; b += 50) {
			json_t *ids = json_array();
			for (size_t k = b; k < b + 50 && k < n; k++)
				json_array_append(ids, json_object_get(json_array_get(items, k), "id"));
			req = json_pack("{s:s, s:i, s:s, s:{s:o}}", "jsonrpc", "2.0", "id", 4, "method",
					"Mails.getById", "params", "ids", ids);
			/* Count messages without parsing: the client's JSON parser would otherwise
			 * dominate what is meant to measure the server. Each Mail has one folderId. */
			char *got = call_raw(h, hdr, url, req, &w->bytes);
			json_decref(req);
			for (char *p = got; p && (p = strstr(p, "\"folderId\":")); p++)
				w->fetched++;
			free(got);
		}
		json_decref(lst);
		if (n < 500)
			break;
	}
	json_decref(fields);
	json_decref(res);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: outpost-sim-kerio-bench URL CA.pem [threads] [max-messages] [user] [password]\n");
		return 2;
	}
	int nt = argc > 3 ? atoi(argv[3]) : 2;
	long max = argc > 4 ? atol(argv[4]) : 1000000;
	const char *user = argc > 5 ? argv[5] : "jdoe", *password = argc > 6 ? argv[6] : "secret";
	if (nt < 1 || nt > 64)
		nt = 2;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct worker w[64];
	pthread_t th[64];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < nt; i++) {
		w[i] = (struct worker){argv[1], argv[2], user, password, i, nt, max, 0, 0, 0};
		pthread_create(&th[i], NULL, run, &w[i]);
	}
	long total = 0, bytes = 0;
	int failed = 0;
	for (int i = 0; i < nt; i++) {
		pthread_join(th[i], NULL);
		total += w[i].fetched;
		bytes += w[i].bytes;
		failed |= w[i].failed;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double dt = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%d threads: %ld messages listed + fetched in %.2f s = %.0f msg/s, %.1f MB/s of JSON\n",
	       nt, total, dt, total / dt, bytes / dt / 1e6);
	curl_global_cleanup();
	return failed || total == 0;
}
