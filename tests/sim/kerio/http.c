/* The HTTPS server (libmicrohttpd, one thread per connection so long-polls and injected delays
 * block only their own client): routes JSON-RPC, attachment upload/download and the /_sim/
 * control endpoint; applies connection-level faults (offline, dropped replies). */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "attach.h"
#include "control.h"
#include "faults.h"
#include "rpc.h"
#include "sessions.h"
#include "util.h"

#define MAX_BODY (64u << 20)

enum route { R_RPC, R_UPLOAD, R_DOWNLOAD, R_CONTROL, R_OTHER };

struct request {
	enum route route;
	struct buf body;
	int too_big;
	struct MHD_PostProcessor *pp;
	struct buf file;
	char *file_name, *file_type;
	int got_file;
};

static enum route route_of(const char *url, const char *method)
{
	if (!strcmp(url, "/webmail/api/jsonrpc/") || !strcmp(url, "/webmail/api/jsonrpc"))
		return !strcmp(method, "POST") ? R_RPC : R_OTHER;
	if (!strcmp(url, "/webmail/api/jsonrpc/attachment-upload/") ||
	    !strcmp(url, "/webmail/api/jsonrpc/attachment-upload"))
		return !strcmp(method, "POST") ? R_UPLOAD : R_OTHER;
	if (!strncmp(url, "/webmail/api/download/attachment/", 33))
		return !strcmp(method, "GET") ? R_DOWNLOAD : R_OTHER;
	if (!strcmp(url, "/_sim") || !strncmp(url, "/_sim/", 6))
		return R_CONTROL;
	return R_OTHER;
}

static enum MHD_Result post_iter(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *filename, const char *content_type,
				 const char *transfer_encoding, const char *data, uint64_t off,
				 size_t size)
{
	(void)kind;
	(void)key;
	(void)transfer_encoding;
	(void)off;
	struct request *r = cls;
	if (!filename)
		return MHD_YES;
	if (r->got_file && strcmp(r->file_name, filename) != 0)
		return MHD_YES; /* only the first file of a multipart body counts */
	if (!r->got_file) {
		r->got_file = 1;
		r->file_name = xstrdup(filename);
		r->file_type = xstrdup(content_type ? content_type : "application/octet-stream");
	}
	if (r->file.len + size > MAX_BODY) {
		r->too_big = 1;
		return MHD_NO;
	}
	buf_add(&r->file, data, size);
	return MHD_YES;
}

static enum MHD_Result send_body(struct MHD_Connection *conn, int status, char *body, size_t len,
				 const char *ctype, const char *cookie)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", ctype);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (cookie && *cookie)
		MHD_add_response_header(resp, "Set-Cookie", cookie);
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

/* Announces the full length, sends half, then closes the connection. */
static enum MHD_Result send_dropped(struct MHD_Connection *conn, char *body, size_t len)
{
	struct partial *p = xmalloc(sizeof *p);
	p->body = body;
	p->len = len;
	p->sent_max = len / 2;
	struct MHD_Response *resp =
		MHD_create_response_from_callback(len, 4096, partial_reader, p, partial_free);
	MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
	enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return rc;
}

static ssize_t download_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	size_t n = attach_download_read(cls, pos, buf, max);
	return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static int authorised(struct sim *sim, struct MHD_Connection *conn, int need_token)
{
	const char *sid = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND,
						      "SESSION_CONNECT_WEBMAIL");
	const char *token = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Token");
	if (!need_token && !token)
		return sessions_check(sim->sessions, sid, NULL) == 0;
	return sessions_check(sim->sessions, sid, token ? token : "") == 0;
}

static enum MHD_Result error_reply(struct sim *sim, struct MHD_Connection *conn, int code,
				   const char *msg)
{
	char *body = rpc_error_body(NULL, code, msg, NULL);
	return send_body(conn, rpc_error_status(sim, code), body, strlen(body),
			 "application/json; charset=utf-8", NULL);
}

static enum MHD_Result handle_download(struct sim *sim, struct MHD_Connection *conn,
				       const char *url)
{
	struct fault_hit fh;
	faults_take(sim->faults, "download", &fh);
	if (fh.delay_ms) {
		struct timespec ts = {fh.delay_ms / 1000, (long)(fh.delay_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (fh.active[F_DROP_BEFORE])
		return MHD_NO;
	if (fh.active[F_HTTP500])
		return send_body(conn, 500, xstrdup("Internal Server Error\n"), 22, "text/plain", NULL);
	if (fh.active[F_HTTP401]) {
		sessions_expire_all(sim->sessions);
		return send_body(conn, 401, xstrdup("<html><body>401 Unauthorized</body></html>\n"), 43, "text/html", NULL);
	}
	if (fh.active[F_SESSION_EXPIRED])
		sessions_expire_all(sim->sessions);
	if (fh.active[F_ERROR])
		/* refused with a JSON-RPC error body, as the webmail's download endpoint
		 * answers (1002: the attachment is not there any more) */
		return error_reply(sim, conn, fh.code,
				   fh.message[0] ? fh.message : "The operation failed.");
	if (!authorised(sim, conn, 0)) {
		/* Not a JSON-RPC endpoint: refuse with a real HTTP status (README). */
		char *body = rpc_error_body(NULL, -32001, "Session expired.", NULL);
		return send_body(conn, 401, body, strlen(body), "application/json; charset=utf-8",
				 NULL);
	}
	struct download *d = attach_download_open(sim, url + 33);
	if (!d)
		return send_body(conn, 404, xstrdup("Not Found\n"), 10, "text/plain", NULL);
	struct MHD_Response *resp;
	if (fh.active[F_DROP]) {
		size_t len = (size_t)attach_download_size(d);
		char *all = xmalloc(len + 1);
		attach_download_read(d, 0, all, len);
		attach_download_free(d);
		return send_dropped(conn, all, len);
	}
	resp = MHD_create_response_from_callback((uint64_t)attach_download_size(d), 65536,
						 download_reader, d, attach_download_free);
	char disp[700];
	snprintf(disp, sizeof disp, "attachment; filename*=UTF-8''%s", attach_download_name(d));
	MHD_add_response_header(resp, "Content-Type", attach_download_type(d));
	MHD_add_response_header(resp, "Content-Disposition", disp);
	enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return rc;
}

static enum MHD_Result handle_upload(struct sim *sim, struct MHD_Connection *conn,
				     struct request *r)
{
	struct fault_hit fh;
	faults_take(sim->faults, "upload", &fh);
	if (fh.delay_ms) {
		struct timespec ts = {fh.delay_ms / 1000, (long)(fh.delay_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (fh.active[F_DROP_BEFORE])
		return MHD_NO;
	if (fh.active[F_HTTP500])
		return send_body(conn, 500, xstrdup("Internal Server Error\n"), 22, "text/plain", NULL);
	if (fh.active[F_HTTP401]) {
		sessions_expire_all(sim->sessions);
		return send_body(conn, 401, xstrdup("<html><body>401 Unauthorized</body></html>\n"), 43, "text/html", NULL);
	}
	if (fh.active[F_SESSION_EXPIRED])
		sessions_expire_all(sim->sessions);
	if (!authorised(sim, conn, 1))
		return error_reply(sim, conn, -32001, "Session expired.");
	if (r->too_big)
		return error_reply(sim, conn, 413, "The file is too large.");
	unsigned char *data;
	size_t len;
	const char *name, *ctype;
	if (r->got_file) {
		len = r->file.len;
		data = (unsigned char *)(r->file.p ? r->file.p : xstrdup(""));
		r->file.p = NULL;
		name = r->file_name;
		ctype = r->file_type;
	} else {
		len = r->body.len;
		data = (unsigned char *)(r->body.p ? r->body.p : xstrdup(""));
		r->body.p = NULL;
		name = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Description");
		ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
	}
	char *body = attach_upload(sim, name ? name : "upload.bin", ctype, data, len);
	if (fh.active[F_DROP])
		return send_dropped(conn, body, strlen(body));
	return send_body(conn, 200, body, strlen(body), "application/json; charset=utf-8", NULL);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls)
{
	(void)version;
	struct sim *sim = cls;
	struct request *r = *con_cls;
	if (!r) {
		r = xcalloc(1, sizeof *r);
		r->route = route_of(url, method);
		*con_cls = r;
		/* Offline: every API request is dropped; the control endpoint stays reachable. */
		if (r->route != R_CONTROL && faults_offline(sim->faults))
			return MHD_NO;
		if (r->route == R_UPLOAD) {
			const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
								     "Content-Type");
			if (ct && !strncasecmp(ct, "multipart/form-data", 19))
				r->pp = MHD_create_post_processor(conn, 65536, post_iter, r);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (r->pp) {
			if (MHD_post_process(r->pp, upload_data, *upload_data_size) != MHD_YES)
				r->too_big = 1;
		} else if (r->body.len + *upload_data_size > MAX_BODY) {
			r->too_big = 1;
		} else {
			buf_add(&r->body, upload_data, *upload_data_size);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	switch (r->route) {
	case R_RPC: {
		if (r->too_big)
			return error_reply(sim, conn, 413, "Request entity too large.");
		const char *sid = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND,
							      "SESSION_CONNECT_WEBMAIL");
		const char *token = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Token");
		struct rpc_reply rep;
		rpc_handle(sim, r->body.p ? r->body.p : "", r->body.len, sid, token, &rep);
		if (rep.drop_before)
			return MHD_NO;
		if (rep.drop)
			return send_dropped(conn, rep.body, rep.len);
		return send_body(conn, rep.status, rep.body, rep.len,
				 rep.status == 500 && rep.body[0] == '<' ? "text/html"
					 : "application/json; charset=utf-8",
				 rep.set_cookie);
	}
	case R_UPLOAD:
		return handle_upload(sim, conn, r);
	case R_DOWNLOAD:
		return handle_download(sim, conn, url);
	case R_CONTROL: {
		struct control_args a = {
			MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "content"),
			MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "folder"),
		};
		int status;
		char *body = control_handle(sim, method, url, r->body.p ? r->body.p : "",
					    r->body.len, &a, &status);
		return send_body(conn, status, body, strlen(body), "application/json; charset=utf-8",
				 NULL);
	}
	default:
		return send_body(conn, 404, xstrdup("Not Found\n"), 10, "text/plain", NULL);
	}
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	struct request *r = *con_cls;
	if (!r)
		return;
	if (r->pp)
		MHD_destroy_post_processor(r->pp);
	buf_free(&r->body);
	buf_free(&r->file);
	free(r->file_name);
	free(r->file_type);
	free(r);
	*con_cls = NULL;
}

/* Replies go out in several TLS records; without TCP_NODELAY Nagle holds the last one until
 * the client's delayed ACK, 40 ms per request. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	(void)socket_context;
	if (toe != MHD_CONNECTION_NOTIFY_STARTED)
		return;
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	int one = 1;
	if (ci)
		setsockopt(ci->connect_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
	struct sim *sim = cls;
	if (sim->cfg.quiet)
		return;
	fprintf(stderr, "outpost-sim-kerio: ");
	vfprintf(stderr, fmt, ap);
}

int http_start(struct sim *sim)
{
	char host[128];
	int port = 0;
	const char *colon = strrchr(sim->cfg.listen, ':');
	if (!colon || colon == sim->cfg.listen) {
		fprintf(stderr, "outpost-sim-kerio: --listen wants HOST:PORT, got '%s'\n",
			sim->cfg.listen);
		return -1;
	}
	snprintf(host, sizeof host, "%.*s", (int)(colon - sim->cfg.listen), sim->cfg.listen);
	port = atoi(colon + 1);
	struct sockaddr_in sa4;
	memset(&sa4, 0, sizeof sa4);
	sa4.sin_family = AF_INET;
	sa4.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa4.sin_addr) != 1) {
		fprintf(stderr, "outpost-sim-kerio: --listen host must be an IPv4 address, got '%s'\n",
			host);
		return -1;
	}
	/* Bind here so the port is known before any connection thread exists. */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	socklen_t sl = sizeof sa4;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    bind(fd, (struct sockaddr *)&sa4, sizeof sa4) || listen(fd, 256) ||
	    getsockname(fd, (struct sockaddr *)&sa4, &sl)) {
		fprintf(stderr, "outpost-sim-kerio: cannot listen on %s: %s\n", sim->cfg.listen,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	sim->port = ntohs(sa4.sin_port);
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_TLS | MHD_USE_ERROR_LOG;
	sim->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, handler, sim, MHD_OPTION_EXTERNAL_LOGGER, log_mhd, sim,
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_HTTPS_MEM_CERT, sim->cert_pem, MHD_OPTION_HTTPS_MEM_KEY, sim->key_pem,
		MHD_OPTION_NOTIFY_COMPLETED, completed, sim, MHD_OPTION_NOTIFY_CONNECTION,
		on_connection, sim, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)900, MHD_OPTION_END);
	if (!sim->daemon) {
		fprintf(stderr, "outpost-sim-kerio: cannot start HTTPS on %s (bad certificate or "
				"key?)\n", sim->cfg.listen);
		close(fd);
		return -1;
	}
	return 0;
}

void http_stop(struct sim *sim)
{
	if (sim->daemon) {
		MHD_stop_daemon(sim->daemon);
		sim->daemon = NULL;
	}
}
