/* frontends/mapi/mapi_server.h — the loopback listener of the MAPI front-end:
 * an accept thread and a thread per provider connection, each running a
 * mapi_session. Stop closes every connection and joins every thread.
 */
#ifndef OUTPOST_MAPI_SERVER_H
#define OUTPOST_MAPI_SERVER_H

#include "mapi_session.h"

typedef struct mapi_server mapi_server;

/* Binds host:port (port 0: any) and starts accepting. NULL with err. */
mapi_server *mapi_server_start(mapi_core *core, const char *host, uint16_t port, char *err, size_t errlen);
uint16_t mapi_server_port(const mapi_server *s);
void mapi_server_stop(mapi_server *s);

/* Splits "host:port" (port may be 0). 0 or -1. */
int mapi_parse_listen(const char *spec, char *host, size_t hostlen, uint16_t *port);

#endif
