/* outpost-sim-ews: an HTTPS test double of Exchange Web Services (SOAP 1.1) with POX
 * autodiscover and a /_sim/ control endpoint. Parses the command line, builds or loads the
 * mailbox, serves until SIGTERM/SIGINT, saves the state file (if any) and exits 0. One
 * thread per connection (libmicrohttpd), so an injected delay blocks only its own client.
 * See README.md. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <libxml/parser.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "faults.h"
#include "soap.h"
#include "util.h"

#define MAX_BODY (96u << 20)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: outpost-sim-ews --cert PEM --key PEM [options]\n"
		"  --listen HOST:PORT     IPv4 address to serve HTTPS on (default 127.0.0.1:0 = any free port)\n"
		"  --cert FILE --key FILE server certificate and key (PEM; see tests/sim/common/gen-certs.sh)\n"
		"  --port-file FILE       also write the chosen port to FILE\n"
		"  --state-file FILE      load the mailbox from FILE if it exists; save it on SIGTERM and POST /_sim/save\n"
		"  --user ADDR            the mailbox's SMTP address, also the Basic user name (default jdoe@example.com)\n"
		"  --password P           Basic password (default secret)\n"
		"  --token T              accept \"Authorization: Bearer T\" (OAuth2); none by default\n"
		"  --full-name NAME       display name (default \"Jan Novák\")\n"
		"  --messages N --events N --contacts N --tasks N --notes N\n"
		"                         generated items (defaults 200, 50, 50, 20, 10)\n"
		"  --seed S               generator seed (default 1); same seed, same mailbox\n"
		"  --base-date YYYYMMDD   the generated mailbox's \"now\" (default 20250601)\n"
		"  --quiet                no log lines on stderr\n"
		"Prints \"READY https://127.0.0.1:<port>\" on stdout once it serves.\n");
}

static long num_arg(const char *opt, const char *v)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || *end || n < 0) {
		fprintf(stderr, "outpost-sim-ews: %s wants a non-negative number, got '%s'\n", opt, v);
		exit(2);
	}
	return n;
}

static void parse_args(int argc, char **argv, struct sim_config *c)
{
	enum { O_LISTEN = 256, O_CERT, O_KEY, O_PORTFILE, O_STATE, O_USER, O_PASS, O_TOKEN, O_NAME,
	       O_MSG, O_EV, O_CON, O_TASK, O_NOTE, O_SEED, O_BASE, O_QUIET, O_HELP };
	static const struct option opts[] = {
		{"listen", 1, 0, O_LISTEN}, {"cert", 1, 0, O_CERT}, {"key", 1, 0, O_KEY},
		{"port-file", 1, 0, O_PORTFILE}, {"state-file", 1, 0, O_STATE}, {"user", 1, 0, O_USER},
		{"password", 1, 0, O_PASS}, {"token", 1, 0, O_TOKEN}, {"full-name", 1, 0, O_NAME},
		{"messages", 1, 0, O_MSG}, {"events", 1, 0, O_EV}, {"contacts", 1, 0, O_CON},
		{"tasks", 1, 0, O_TASK}, {"notes", 1, 0, O_NOTE}, {"seed", 1, 0, O_SEED},
		{"base-date", 1, 0, O_BASE}, {"quiet", 0, 0, O_QUIET}, {"help", 0, 0, O_HELP},
		{0, 0, 0, 0}};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case O_LISTEN: c->listen = optarg; break;
		case O_CERT: c->cert = optarg; break;
		case O_KEY: c->key = optarg; break;
		case O_PORTFILE: c->port_file = optarg; break;
		case O_STATE: c->state_file = optarg; break;
		case O_USER: c->user = optarg; break;
		case O_PASS: c->password = optarg; break;
		case O_TOKEN: c->token = optarg; break;
		case O_NAME: c->full_name = optarg; break;
		case O_MSG: c->n_mail = num_arg("--messages", optarg); break;
		case O_EV: c->n_event = num_arg("--events", optarg); break;
		case O_CON: c->n_contact = num_arg("--contacts", optarg); break;
		case O_TASK: c->n_task = num_arg("--tasks", optarg); break;
		case O_NOTE: c->n_note = num_arg("--notes", optarg); break;
		case O_SEED: c->seed = (uint64_t)num_arg("--seed", optarg); break;
		case O_BASE: {
			char d[64];
			long v = num_arg("--base-date", optarg);
			snprintf(d, sizeof d, "%04ld-%02ld-%02ldT12:00:00Z", v / 10000, v / 100 % 100, v % 100);
			if (parse_time(d, &c->base_time)) {
				fprintf(stderr, "outpost-sim-ews: --base-date wants YYYYMMDD\n");
				exit(2);
			}
			break;
		}
		case O_QUIET: c->quiet = 1; break;
		case O_HELP: usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc || !c->cert || !c->key) {
		usage(stderr);
		exit(2);
	}
}

/* ---- HTTP ---- */

enum route { R_EWS, R_AUTODISCOVER, R_CONTROL, R_OTHER };

struct request {
	enum route route;
	struct buf body;
	int too_big;
};

static enum route route_of(const char *url)
{
	if (!strcasecmp(url, "/EWS/Exchange.asmx"))
		return R_EWS;
	if (!strcasecmp(url, "/autodiscover/autodiscover.xml"))
		return R_AUTODISCOVER;
	if (!strcmp(url, "/_sim") || !strncmp(url, "/_sim/", 6))
		return R_CONTROL;
	return R_OTHER;
}

static enum MHD_Result send_body(struct MHD_Connection *conn, int status, char *body, size_t len,
				 const char *ctype, struct sim *s)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", ctype);
	if (status == 401) {
		MHD_add_response_header(resp, "WWW-Authenticate", "Basic realm=\"127.0.0.1\"");
		if (s->cfg.token)
			MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
	}
	if (status == 503)
		MHD_add_response_header(resp, "Retry-After", "2");
	enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return rc;
}

struct partial {
	char *body;
	size_t len, sent_max;
};

static ssize_t partial_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct partial *p = cls;
	if (pos >= p->sent_max)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	size_t n = p->sent_max - (size_t)pos;
	if (n > max)
		n = max;
	memcpy(buf, p->body + pos, n);
	return (ssize_t)n;
}

static void partial_free(void *cls)
{
	struct partial *p = cls;
	free(p->body);
	free(p);
}

/* Announces the full length, sends half of the reply, then closes the connection. */
static enum MHD_Result send_dropped(struct MHD_Connection *conn, char *body, size_t len)
{
	struct partial *p = xmalloc(sizeof *p);
	p->body = body;
	p->len = len;
	p->sent_max = len / 2;
	struct MHD_Response *resp = MHD_create_response_from_callback(len, 4096, partial_reader, p, partial_free);
	MHD_add_response_header(resp, "Content-Type", "text/xml; charset=utf-8");
	enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return rc;
}

static int authorised(struct sim *s, struct MHD_Connection *conn)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	if (!h)
		return 0;
	if (!strncasecmp(h, "Bearer ", 7))
		return s->cfg.token && !strcmp(h + 7, s->cfg.token);
	if (strncasecmp(h, "Basic ", 6) != 0)
		return 0;
	size_t len;
	unsigned char *raw = b64_decode(h + 6, strlen(h + 6), &len);
	if (!raw)
		return 0;
	char *colon = memchr(raw, ':', len);
	int ok = 0;
	if (colon) {
		*colon = '\0';
		const char *user = (const char *)raw, *bs = strchr(user, '\\');
		if (bs)
			user = bs + 1; /* DOMAIN\user */
		size_t local = strcspn(s->user_addr, "@");
		ok = (!strcasecmp(user, s->user_addr) || (strlen(user) == local && !strncasecmp(user, s->user_addr, local))) &&
		     !strcmp(colon + 1, s->cfg.password);
	}
	free(raw);
	return ok;
}

static char *malformed_reply(const char *op, size_t *len)
{
	struct buf b = {0};
	buf_printf(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?><s:Envelope xmlns:s=\"" NS_SOAP "\"><s:Body>"
		       "<m:%sResponse xmlns:m=\"" NS_M "\" xmlns:t=\"" NS_T "\"><m:ResponseMessages>"
		       "<m:%sResponseMessage ResponseClass=\"Success\"><m:ResponseCode>NoError</m:Response"
		       "<t:Message></m:ResponseMessages",
		   *op ? op : "GetItem", *op ? op : "GetItem");
	*len = b.len;
	return buf_steal(&b);
}

static enum MHD_Result handle_service(struct sim *s, struct MHD_Connection *conn, struct request *r)
{
	char op[64] = "autodiscover";
	if (r->route == R_EWS)
		soap_peek_op(r->body.p ? r->body.p : "", r->body.len, op, sizeof op);
	if (!authorised(s, conn))
		return send_body(conn, 401, xstrdup(""), 0, "text/html", s);
	struct fault_hit fh;
	faults_take(s->faults, op, &fh);
	if (fh.delay_ms) {
		struct timespec ts = {fh.delay_ms / 1000, (long)(fh.delay_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (fh.active[F_DROP])
		return MHD_NO;
	if (fh.active[F_HTTP401])
		return send_body(conn, 401, xstrdup(""), 0, "text/html", s);
	if (fh.active[F_HTTP500]) {
		static const char page[] = "<html><body>500 - Internal server error.</body></html>";
		return send_body(conn, 500, xstrdup(page), sizeof page - 1, "text/html", s);
	}
	if (fh.active[F_HTTP503])
		return send_body(conn, 503, xstrdup(""), 0, "text/html", s);
	if (fh.active[F_MALFORMED]) {
		size_t len;
		char *body = malformed_reply(op, &len);
		return send_body(conn, 200, body, len, "text/xml; charset=utf-8", s);
	}
	struct reply rep = {0};
	char opname[64];
	if (r->route == R_EWS) {
		if (r->too_big) {
			rep.status = 500;
			soap_fault(&rep, "ErrorMessageSizeExceeded", "The request exceeds the maximum size.", 0);
		} else {
			soap_handle(s, r->body.p ? r->body.p : "", r->body.len, &rep, &fh, opname, sizeof opname);
		}
	} else {
		pthread_mutex_lock(&s->mu);
		autodiscover_handle(s, r->body.p ? r->body.p : "", r->body.len, &rep);
		pthread_mutex_unlock(&s->mu);
	}
	size_t len = rep.body.len;
	char *body = buf_steal(&rep.body);
	if (fh.active[F_DROP_MID])
		return send_dropped(conn, body, len);
	return send_body(conn, rep.status, body, len, "text/xml; charset=utf-8", s);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			       const char *version, const char *upload_data, size_t *upload_data_size,
			       void **con_cls)
{
	(void)version;
	struct sim *s = cls;
	struct request *r = *con_cls;
	if (!r) {
		r = xcalloc(1, sizeof *r);
		r->route = route_of(url);
		*con_cls = r;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (r->body.len + *upload_data_size > MAX_BODY)
			r->too_big = 1;
		else
			buf_add(&r->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	switch (r->route) {
	case R_EWS:
	case R_AUTODISCOVER:
		if (strcmp(method, "POST") != 0) {
			static const char msg[] = "Method Not Allowed\n";
			return send_body(conn, 405, xstrdup(msg), sizeof msg - 1, "text/plain", s);
		}
		return handle_service(s, conn, r);
	case R_CONTROL: {
		struct control_args a = {
			MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "content"),
			MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "folder"),
		};
		int status;
		char *body = control_handle(s, method, url, r->body.p ? r->body.p : "", r->body.len, &a, &status);
		return send_body(conn, status, body, strlen(body), "application/json; charset=utf-8", s);
	}
	default: {
		static const char msg[] = "Not Found\n";
		return send_body(conn, 404, xstrdup(msg), sizeof msg - 1, "text/plain", s);
	}
	}
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	struct request *r = *con_cls;
	if (!r)
		return;
	buf_free(&r->body);
	free(r);
	*con_cls = NULL;
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
	struct sim *s = cls;
	if (s->cfg.quiet)
		return;
	fprintf(stderr, "outpost-sim-ews: ");
	vfprintf(stderr, fmt, ap);
}

static int http_start(struct sim *s)
{
	const char *colon = strrchr(s->cfg.listen, ':');
	char host[128];
	if (!colon || colon == s->cfg.listen) {
		fprintf(stderr, "outpost-sim-ews: --listen wants HOST:PORT, got '%s'\n", s->cfg.listen);
		return -1;
	}
	snprintf(host, sizeof host, "%.*s", (int)(colon - s->cfg.listen), s->cfg.listen);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "outpost-sim-ews: --listen host must be an IPv4 address, got '%s'\n", host);
		return -1;
	}
	s->daemon = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS | MHD_USE_ERROR_LOG, 0,
		NULL, NULL, handler, s, MHD_OPTION_EXTERNAL_LOGGER, log_mhd, s, MHD_OPTION_SOCK_ADDR,
		(struct sockaddr *)&sa, MHD_OPTION_HTTPS_MEM_CERT, s->cert_pem, MHD_OPTION_HTTPS_MEM_KEY, s->key_pem,
		MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300,
		MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)128, MHD_OPTION_END);
	if (!s->daemon) {
		fprintf(stderr, "outpost-sim-ews: cannot start HTTPS on %s (port in use, or bad certificate/key?)\n",
			s->cfg.listen);
		return -1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : 0;
	return 0;
}

int main(int argc, char **argv)
{
	struct sim s;
	memset(&s, 0, sizeof s);
	s.cfg = (struct sim_config){.listen = "127.0.0.1:0", .user = "jdoe@example.com", .password = "secret",
				    .full_name = "Jan Novák", .seed = 1, .n_mail = 200, .n_event = 50,
				    .n_contact = 50, .n_task = 20, .n_note = 10};
	parse_time("2025-06-01T12:00:00Z", &s.cfg.base_time);
	parse_args(argc, argv, &s.cfg);
	xmlInitParser();
	s.cert_pem = read_file(s.cfg.cert, NULL);
	s.key_pem = read_file(s.cfg.key, NULL);
	if (!s.cert_pem || !s.key_pem) {
		fprintf(stderr, "outpost-sim-ews: cannot read --cert %s / --key %s\n", s.cfg.cert, s.cfg.key);
		return 1;
	}
	store_init(&s);
	s.faults = faults_new();
	s.counters = counters_new();
	int loaded = 0;
	if (s.cfg.state_file && access(s.cfg.state_file, F_OK) == 0) {
		if (state_load(&s, s.cfg.state_file))
			return 1;
		loaded = 1;
	}
	snprintf(s.user_addr, sizeof s.user_addr, "%s%s", s.cfg.user, strchr(s.cfg.user, '@') ? "" : "@example.com");
	if (!loaded) {
		FILE *ur = fopen("/dev/urandom", "rb");
		if (!ur || fread(&s.secret, sizeof s.secret, 1, ur) != 1)
			s.secret = (uint64_t)time(NULL) ^ (uint64_t)getpid();
		if (ur)
			fclose(ur);
		s.secret &= ~1ull;
		gen_account(&s);
	}
	/* SIGTERM/SIGINT stay blocked in every thread (MHD's inherit the mask); main waits for them */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (http_start(&s))
		return 1;
	if (s.cfg.port_file) {
		FILE *pf = fopen(s.cfg.port_file, "w");
		if (!pf || fprintf(pf, "%d\n", s.port) < 0 || fclose(pf) != 0) {
			fprintf(stderr, "outpost-sim-ews: cannot write --port-file %s\n", s.cfg.port_file);
			return 1;
		}
	}
	printf("READY https://127.0.0.1:%d\n", s.port);
	fflush(stdout);
	int sig = 0;
	while (sigwait(&stop, &sig) != 0)
		;
	MHD_stop_daemon(s.daemon);
	int rc = 0;
	if (s.cfg.state_file && state_save(&s, s.cfg.state_file)) {
		fprintf(stderr, "outpost-sim-ews: cannot write state file %s\n", s.cfg.state_file);
		rc = 1;
	}
	faults_free(s.faults);
	counters_free(s.counters);
	store_free(&s);
	json_decref(s.loaded);
	free(s.cert_pem);
	free(s.key_pem);
	xmlCleanupParser();
	return rc;
}
