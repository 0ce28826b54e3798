/* The HTTPS server: starts libmicrohttpd on the configured address with the PEM cert/key in
 * sim->cert_pem/key_pem and routes requests (see http.c). */
#ifndef OUTPOST_SIM_KERIO_HTTP_H
#define OUTPOST_SIM_KERIO_HTTP_H

#include "sim.h"

int http_start(struct sim *sim);  /* sets sim->port; 0 on success */
void http_stop(struct sim *sim);  /* waits for connection threads */

#endif
