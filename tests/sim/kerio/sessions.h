/* Login sessions: a session is a cookie id (SESSION_CONNECT_WEBMAIL) plus a token (X-Token);
 * both must match on every call. Sessions expire after an idle time. Thread-safe. */
#ifndef OUTPOST_SIM_KERIO_SESSIONS_H
#define OUTPOST_SIM_KERIO_SESSIONS_H

struct sim_sessions;

#define SESSION_TOKEN_LEN 64

struct sim_sessions *sessions_new(int idle_seconds);
void sessions_free(struct sim_sessions *ss);
/* Creates a session; fills token and sid (SESSION_TOKEN_LEN + 1 bytes each). */
void sessions_create(struct sim_sessions *ss, char *token, char *sid);
/* 0 if (sid, token) is a live session (and touches it); token NULL checks the cookie only. */
int sessions_check(struct sim_sessions *ss, const char *sid, const char *token);
void sessions_remove(struct sim_sessions *ss, const char *sid);
void sessions_expire_all(struct sim_sessions *ss);
int sessions_count(struct sim_sessions *ss);

#endif
