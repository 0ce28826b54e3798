/* sim_proc.h — starting and stopping outpost-sim-ews for integration tests and talking to its
 * /_sim/ control endpoint (libcurl). Loopback only, ephemeral ports, bounded waits. */
#ifndef OUTPOST_TEST_EWS_SIM_PROC_H
#define OUTPOST_TEST_EWS_SIM_PROC_H

#include <jansson.h>
#include <sys/types.h>

struct sim_proc {
    pid_t pid;
    char url[256];     /* https://127.0.0.1:<port> */
    char ews[300];     /* .../EWS/Exchange.asmx */
    char ca[512];
};

/* Starts `bin` with `args` (NULL-terminated, without argv[0]); waits up to 30 s for READY. */
int sim_start(struct sim_proc *s, const char *bin, const char *const *args, const char *ca_file);
void sim_stop(struct sim_proc *s);
/* Stops every simulator still running (test teardown after a failed assertion). */
void sim_stop_all(void);
/* GET when body is NULL, else POST (reference stolen). New reference or NULL. */
json_t *sim_ctl(struct sim_proc *s, const char *path, json_t *body);

#endif
