/* frontends/mapi/mapi_session.h — one provider connection's MAPI objects
 * (store, folders, messages, attachments, tables) served from the cache
 * through the host's store API; every edit goes through the journaled store
 * API (set_flags, move, copy, remove, append, update, folder_*).
 *
 * A session is driven by one thread (its connection's): mapi_session_handle
 * decodes a request frame, runs it and appends the reply (and notifications)
 * to `out`. Store events arrive on core threads through the listener the
 * session subscribes; they are queued under a lock and turned into table
 * refreshes and notifications by mapi_session_poll on the session's thread.
 */
#ifndef OUTPOST_MAPI_SESSION_H
#define OUTPOST_MAPI_SESSION_H

#include <outpost/frontend.h>

#include "mapi_eid.h"
#include "mapi_map.h"
#include "mapi_os.h"
#include "mapi_table.h"
#include "mapi_wire.h"

/* The provider's MAPIUID (PR_MDB_PROVIDER): the same for every Outpost store. */
extern const uint8_t MAPI_OUTPOST_PROVIDER_UID[16];

/* One change of a folder's FAI set (mapi_fai.h), for other sessions' notifications. */
#define MAPI_FAI_LOG 32
typedef struct mapi_fai_change {
    uint32_t gen;   /* fai_gen after the change */
    uint32_t vf;    /* the virtual folder, or 0 */
    int64_t folder; /* else the folder's id */
} mapi_fai_change;

/* What every session of a front-end instance shares. */
typedef struct mapi_core {
    const struct outpost_host *host;
    mapi_ctx ctx;
    mapi_names *names;          /* guarded by names_lock */
    mapi_mutex *names_lock;
    uint8_t secret[MAPI_WIRE_SECRET_LEN];
    char *display_name;
    uint32_t content_timeout_ms; /* request_content wait for bodies not cached */
    int eager_tables;            /* tests: every contents table holds its whole rows (no lazy tables) */
    mapi_mutex *search_lock;     /* serialises changes of the search folders (mapi_search.h) */
    mapi_mutex *fai_lock;        /* serialises changes of FAI sets (mapi_fai.h); guards fai_gen, fai_log */
    uint32_t fai_gen;            /* grows with every FAI change: sessions refresh associated tables */
    mapi_fai_change fai_log[MAPI_FAI_LOG]; /* the last changes, at gen % MAPI_FAI_LOG */
    /* hierarchy watch (mapi_core_watch): a folder deleted by IMAP, the server
     * or another connection gets its FAI set dropped by the next tick */
    struct outpost_store_subscription *watch;
    mapi_mutex *watch_lock;      /* guards folders_changed; never held while calling the store */
    int folders_changed;
    mapi_mutex *receive_lock;    /* serialises SetReceiveFolder's rewrite of meta mapi.receive */
} mapi_core;

/* names is owned by the caller; 0 or -1 with err. */
int mapi_core_init(mapi_core *c, const struct outpost_host *host, const uint8_t guid[16], mapi_names *names,
                   const uint8_t secret[MAPI_WIRE_SECRET_LEN], const char *display_name, char *err, size_t errlen);
void mapi_core_free(mapi_core *c);
/* Drops the FAI sets of folders that no longer exist (mapi_fai_sweep, under
 * fai_lock) and logs how many. Any thread. */
outpost_status mapi_core_sweep(mapi_core *c);
/* Subscribes the core to the store's change events: every hierarchy change
 * (a folder deleted through IMAP, by the sync engine or by MAPI) marks the
 * FAI sets for a sweep that mapi_core_tick runs. 0, or -1 when the store API
 * cannot notify (the sweep then runs at start only). mapi_core_free ends it. */
int mapi_core_watch(mapi_core *c);
void mapi_core_unwatch(mapi_core *c);
/* Sweeps when the hierarchy changed since the last tick; called by the
 * server's accept thread every few hundred milliseconds. */
void mapi_core_tick(mapi_core *c);

typedef struct mapi_session mapi_session;

mapi_session *mapi_session_new(mapi_core *core);
void mapi_session_free(mapi_session *s);
/* Runs one request frame; appends the reply to out. -1 means close the
 * connection (no hello yet, bad secret or version, malformed frame). */
int mapi_session_handle(mapi_session *s, const mapi_frame *f, mapi_buf *out);
/* Applies queued store events: refreshes open tables and appends NOTIFY
 * frames for advised ones. Returns 1 when something was appended. */
int mapi_session_poll(mapi_session *s, mapi_buf *out);
/* 1 once the hello succeeded. */
int mapi_session_authenticated(const mapi_session *s);

#endif
