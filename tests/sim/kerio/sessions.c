/* Login sessions (see sessions.h). A few hundred sessions at most: a linear table is enough. */
#include "sessions.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

#define MAX_SESSIONS 512

struct session {
	char token[SESSION_TOKEN_LEN + 1];
	char sid[SESSION_TOKEN_LEN + 1];
	time_t last;
	int live;
};

struct sim_sessions {
	pthread_mutex_t mu;
	int idle;
	struct session s[MAX_SESSIONS];
};

static time_t now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

struct sim_sessions *sessions_new(int idle_seconds)
{
	struct sim_sessions *ss = xcalloc(1, sizeof *ss);
	pthread_mutex_init(&ss->mu, NULL);
	ss->idle = idle_seconds;
	return ss;
}

void sessions_free(struct sim_sessions *ss)
{
	if (ss) {
		pthread_mutex_destroy(&ss->mu);
		free(ss);
	}
}

void sessions_create(struct sim_sessions *ss, char *token, char *sid)
{
	random_token(token, SESSION_TOKEN_LEN / 2);
	random_token(sid, SESSION_TOKEN_LEN / 2);
	pthread_mutex_lock(&ss->mu);
	time_t now = now_mono();
	int slot = 0;
	for (int i = 0; i < MAX_SESSIONS; i++) {
		if (!ss->s[i].live || now - ss->s[i].last > ss->idle) {
			slot = i;
			break;
		}
		if (ss->s[i].last < ss->s[slot].last)
			slot = i; /* full: evict the least recently used */
	}
	memcpy(ss->s[slot].token, token, SESSION_TOKEN_LEN + 1);
	memcpy(ss->s[slot].sid, sid, SESSION_TOKEN_LEN + 1);
	ss->s[slot].last = now;
	ss->s[slot].live = 1;
	pthread_mutex_unlock(&ss->mu);
}

int sessions_check(struct sim_sessions *ss, const char *sid, const char *token)
{
	if (!sid)
		return -1;
	int rc = -1;
	pthread_mutex_lock(&ss->mu);
	time_t now = now_mono();
	for (int i = 0; i < MAX_SESSIONS; i++) {
		struct session *s = &ss->s[i];
		if (!s->live || strcmp(s->sid, sid) != 0)
			continue;
		if (now - s->last > ss->idle) {
			s->live = 0;
			break;
		}
		if (token && strcmp(s->token, token) != 0)
			break;
		s->last = now;
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&ss->mu);
	return rc;
}

void sessions_remove(struct sim_sessions *ss, const char *sid)
{
	pthread_mutex_lock(&ss->mu);
	for (int i = 0; sid && i < MAX_SESSIONS; i++)
		if (ss->s[i].live && strcmp(ss->s[i].sid, sid) == 0)
			ss->s[i].live = 0;
	pthread_mutex_unlock(&ss->mu);
}

void sessions_expire_all(struct sim_sessions *ss)
{
	pthread_mutex_lock(&ss->mu);
	for (int i = 0; i < MAX_SESSIONS; i++)
		ss->s[i].live = 0;
	pthread_mutex_unlock(&ss->mu);
}

int sessions_count(struct sim_sessions *ss)
{
	int n = 0;
	pthread_mutex_lock(&ss->mu);
	time_t now = now_mono();
	for (int i = 0; i < MAX_SESSIONS; i++)
		n += ss->s[i].live && now - ss->s[i].last <= ss->idle;
	pthread_mutex_unlock(&ss->mu);
	return n;
}
