/* outpost-sim-kerio: an HTTPS test double of Kerio Connect's webmail JSON-RPC Client API.
 * Parses the command line, builds or loads the account, serves until SIGTERM/SIGINT, then saves
 * the state file (if any) and exits 0. See README.md. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "datetime.h"
#include "faults.h"
#include "http.h"
#include "query.h"
#include "sessions.h"
#include "statefile.h"
#include "store.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: outpost-sim-kerio --cert PEM --key PEM [options]\n"
		"  --listen HOST:PORT     IPv4 address to serve HTTPS on (default 127.0.0.1:0 = any free port)\n"
		"  --cert FILE --key FILE server certificate and key (PEM; see tests/sim/common/gen-certs.sh)\n"
		"  --port-file FILE       also write the chosen port to FILE\n"
		"  --state-file FILE      load the account from FILE if it exists; save it on SIGTERM and POST /_sim/save\n"
		"  --user U               login name, or name@domain (default jdoe)\n"
		"  --password P           password (default secret)\n"
		"  --domain D             mail domain when --user has none (default example.com)\n"
		"  --full-name NAME       the user's display name (default \"Jan Novák\")\n"
		"  --messages N --events N --contacts N --tasks N --notes N\n"
		"                         generated items (defaults 200, 50, 50, 20, 10)\n"
		"  --seed S               generator seed (default 1); same seed, same account\n"
		"  --base-date YYYYMMDD   the generated account's \"now\" (default 20250601)\n"
		"  --session-idle SEC     idle time after which a session expires (default 1800)\n"
		"  --error-status MODE    HTTP status of JSON-RPC errors: 200 (default) or idl (500/404)\n"
		"  --shared               also public folders and a subscribed mailbox of another user\n"
		"  --quiet                no log lines on stderr\n"
		"Prints \"READY https://127.0.0.1:<port>\" on stdout once it serves.\n");
}

static long num_arg(const char *opt, const char *v)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || *end || n < 0) {
		fprintf(stderr, "outpost-sim-kerio: %s wants a non-negative number, got '%s'\n", opt, v);
		exit(2);
	}
	return n;
}

static int parse_args(int argc, char **argv, struct sim_config *c)
{
	enum { O_LISTEN = 256, O_CERT, O_KEY, O_PORTFILE, O_STATE, O_USER, O_PASS, O_DOMAIN,
	       O_NAME, O_MSG, O_EV, O_CON, O_TASK, O_NOTE, O_SEED, O_BASE, O_IDLE, O_ERR, O_QUIET,
	       O_HELP, O_SHARED };
	static const struct option opts[] = {
		{"listen", 1, 0, O_LISTEN}, {"cert", 1, 0, O_CERT}, {"key", 1, 0, O_KEY},
		{"port-file", 1, 0, O_PORTFILE}, {"state-file", 1, 0, O_STATE},
		{"user", 1, 0, O_USER}, {"password", 1, 0, O_PASS}, {"domain", 1, 0, O_DOMAIN},
		{"full-name", 1, 0, O_NAME}, {"messages", 1, 0, O_MSG}, {"events", 1, 0, O_EV},
		{"contacts", 1, 0, O_CON}, {"tasks", 1, 0, O_TASK}, {"notes", 1, 0, O_NOTE},
		{"seed", 1, 0, O_SEED}, {"base-date", 1, 0, O_BASE}, {"session-idle", 1, 0, O_IDLE},
		{"error-status", 1, 0, O_ERR}, {"quiet", 0, 0, O_QUIET}, {"help", 0, 0, O_HELP},
		{"shared", 0, 0, O_SHARED},
		{0, 0, 0, 0},
	};
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
		case O_DOMAIN: c->domain = optarg; break;
		case O_NAME: c->full_name = optarg; break;
		case O_MSG: c->n_mail = num_arg("--messages", optarg); break;
		case O_EV: c->n_event = num_arg("--events", optarg); break;
		case O_CON: c->n_contact = num_arg("--contacts", optarg); break;
		case O_TASK: c->n_task = num_arg("--tasks", optarg); break;
		case O_NOTE: c->n_note = num_arg("--notes", optarg); break;
		case O_SEED: c->seed = strtoull(optarg, NULL, 10); break;
		case O_BASE:
			if (dt_parse(optarg, &c->base_time)) {
				fprintf(stderr, "outpost-sim-kerio: --base-date wants YYYYMMDD\n");
				return -1;
			}
			break;
		case O_IDLE: c->session_idle = (int)num_arg("--session-idle", optarg); break;
		case O_ERR:
			if (strcmp(optarg, "200") && strcmp(optarg, "idl")) {
				fprintf(stderr, "outpost-sim-kerio: --error-status is 200 or idl\n");
				return -1;
			}
			c->error_status_idl = !strcmp(optarg, "idl");
			break;
		case O_QUIET: c->quiet = 1; break;
		case O_SHARED: c->shared = 1; break;
		case O_HELP: usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc || !c->cert || !c->key) {
		usage(stderr);
		return -1;
	}
	if (c->n_mail > 4000000 || c->n_event > 4000000 || c->n_contact > 4000000 ||
	    c->n_task > 4000000 || c->n_note > 4000000) {
		fprintf(stderr, "outpost-sim-kerio: at most 4000000 items of each kind\n");
		return -1;
	}
	return 0;
}

static int write_port_file(const char *path, int port)
{
	char *tmp = xasprintf("%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	int ok = f && fprintf(f, "%d\n", port) > 0;
	if (f && fclose(f))
		ok = 0;
	if (ok && rename(tmp, path))
		ok = 0;
	if (!ok)
		fprintf(stderr, "outpost-sim-kerio: cannot write port file %s: %s\n", path,
			strerror(errno));
	free(tmp);
	return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct sim sim;
	memset(&sim, 0, sizeof sim);
	struct sim_config *c = &sim.cfg;
	c->listen = "127.0.0.1:0";
	c->user = "jdoe";
	c->password = "secret";
	c->domain = "example.com";
	c->full_name = "Jan Novák";
	c->n_mail = 200;
	c->n_event = 50;
	c->n_contact = 50;
	c->n_task = 20;
	c->n_note = 10;
	c->seed = 1;
	c->session_idle = 1800;
	dt_parse("20250601T000000Z", &c->base_time);
	if (parse_args(argc, argv, c))
		return 2;

	sim.cert_pem = read_file(c->cert, NULL);
	sim.key_pem = read_file(c->key, NULL);
	if (!sim.cert_pem || !sim.key_pem) {
		fprintf(stderr, "outpost-sim-kerio: cannot read %s: %s (generate them with "
				"tests/sim/common/gen-certs.sh DIR)\n",
			!sim.cert_pem ? c->cert : c->key, strerror(errno));
		return 1;
	}

	/* Signals are handled by sigwait below; block them before any thread starts. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int loaded = c->state_file ? state_load(&sim, c->state_file) : 0;
	if (loaded < 0)
		return 1;
	if (!loaded) {
		store_init(&sim.store, c);
		store_generate(&sim.store);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	sim.sessions = sessions_new(c->session_idle);
	sim.faults = faults_new();
	sim.counters = counters_new();
	if (http_start(&sim))
		return 1;
	if (c->port_file && write_port_file(c->port_file, sim.port))
		return 1;
	if (!c->quiet)
		fprintf(stderr, "outpost-sim-kerio: %s account %s in %.2fs (%zu folders, wm %lld)\n",
			loaded ? "loaded" : "generated", sim.store.user_addr,
			(double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
			sim.store.nfolders, (long long)sim.store.wm);
	printf("READY https://127.0.0.1:%d\n", sim.port);
	fflush(stdout);

	int sig = 0;
	while (sigwait(&set, &sig) != 0 || (sig != SIGTERM && sig != SIGINT))
		;

	pthread_mutex_lock(&sim.store.notify_mu);
	sim.store.stopping = 1;
	pthread_cond_broadcast(&sim.store.notify_cv);
	pthread_mutex_unlock(&sim.store.notify_mu);
	http_stop(&sim);
	int rc = 0;
	if (c->state_file && state_save(&sim, c->state_file))
		rc = 1;
	query_cache_free(&sim.store);
	store_free(&sim.store);
	sessions_free(sim.sessions);
	faults_free(sim.faults);
	counters_free(sim.counters);
	json_decref(sim.state_cfg);
	free(sim.cert_pem);
	free(sim.key_pem);
	return rc;
}
