/* sim_proc.h — starting and stopping a groupware simulator (outpost-sim-kerio,
 * outpost-sim-ews) for integration tests, and talking to its /_sim/ control endpoint
 * (libcurl). Loopback only, ephemeral ports, bounded waits. */
#ifndef OUTPOST_TEST_SIM_PROC_H
#define OUTPOST_TEST_SIM_PROC_H

#include <jansson.h>
#include <sys/types.h>

struct sim_proc {
    pid_t pid;
    char url[256];     /* https://127.0.0.1:<port> */
    char ca[512];      /* CA file trusted by the control client */
};

/* Starts `bin` with `args` (NULL-terminated, without argv[0]) and waits up to 30 s for its
 * "READY <url>" line (other lines before it are skipped). 0 on success. */
int sim_start(struct sim_proc *s, const char *bin, const char *const *args, const char *ca_file);
void sim_stop(struct sim_proc *s);
/* Stops every simulator still running (test teardown after a failed assertion). */
void sim_stop_all(void);
/* A control call: GET when body is NULL, else POST of body (reference stolen). Returns the
 * parsed reply (new reference), or NULL after printing why when the call or HTTP failed. */
json_t *sim_ctl(struct sim_proc *s, const char *path, json_t *body);
/* Runs tests/sim/common/gen-certs.sh (`script`) to write a test CA and server
 * certificates into `dir` (created with its parents). 0 on success; else -1 after
 * printing why. */
int sim_gen_certs(const char *script, const char *dir);

#endif
