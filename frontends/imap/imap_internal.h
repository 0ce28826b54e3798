/* imap_internal.h — shared by the IMAP front-end's files: the server
 * (listener, threads, TLS), a connection's buffered I/O and the session
 * state the commands work on.
 */
#ifndef OUTPOST_IMAP_INTERNAL_H
#define OUTPOST_IMAP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include <outpost/frontend.h>

#include "imap_parser.h"
#include "imap_syntax.h"

#define IMAP_LINE_MAX (64 * 1024)         /* one line of a command */
#define IMAP_SPILL_THRESHOLD (1024 * 1024) /* literals above go to a temp file */
#define IMAP_BATCH 256                     /* items per read transaction */
#define IMAP_CHUNK (64 * 1024)             /* content bytes per read transaction */
#define IMAP_VERIFY_MAX (1024 * 1024)      /* body bytes read before their literal is announced */
#define IMAP_BYE_TIMEOUT_MS 500            /* the BYE of a shutdown: how long the client may take */
#define IMAP_PREAUTH_LITERAL_MAX 8192      /* largest literal before login (user name, password, ID) */
#define IMAP_TOOBIG_DROP_FACTOR 4          /* {n+} over max_literal: read and dropped up to 4x it */

struct imap_conn;
struct imap_snap;

struct imap_server {
    /* Held for reading by every thread while it uses h, st, sm or the
     * configuration below (a session from the start of its loop, released
     * only while it waits for its client); reload() takes it for writing to
     * swap them. Prefers writers, so no thread may take it twice. */
    pthread_rwlock_t lock;
    const struct outpost_host *h;
    const struct outpost_store_api *st;
    const struct outpost_storage_methods *sm;

    /* configuration */
    char listen_host[256];
    int listen_port;
    char tls_host[256];
    int tls_port;          /* -1: no implicit TLS listener */
    char *user;
    char *password;
    char *port_file;
    char *tls_cert, *tls_key;
    uint64_t max_literal;
    int64_t timeout_s, login_timeout_s, idle_timeout_s;
    int max_conns;
    int64_t content_timeout_ms;
    int auth_delay_ms;

    SSL_CTX *ssl_ctx;
    int lfd, tlfd;
    int bound_port, bound_tport; /* what lfd / tlfd are bound to */
    int stop_pipe[2];
    /* Written once by stop() and never drained: every session polls it so
     * that one waiting for its client notices the shutdown at once. */
    int halt_pipe[2];
    pthread_t accept_thr;
    int started;
    atomic_int stopping;

    pthread_mutex_t ensure_mu; /* one session at a time creates Sent/Drafts/Trash */
    pthread_mutex_t subs_mu;   /* one session at a time edits the subscription list */
    /* The last message list (UID, flags, id, MODSEQ) of each big folder a
     * session selected, kept so the next SELECT copies it and reads only the
     * changes since (imap_session.c). Guarded by snap_mu. */
    pthread_mutex_t snap_mu;
    struct imap_snap *snaps;
    uint64_t snap_clock;
    pthread_mutex_t mu;    /* guards the connection list */
    pthread_cond_t cond;   /* signalled (under mu) when a connection's thread is done */
    struct imap_conn *conns;
    int nconns;
    struct outpost_store_subscription *sub;
    /* Set (under subs_wake_mu) by the store listener when the hierarchy changed, and at start: the
     * subscriptions thread brings the subscription list in step (imap_subs_record), on a thread of its own
     * so that a write transaction of the sync it waits for holds up neither the listener nor a session. */
    int folders_changed;
    /* \Recent: per folder the highest UID a session has been the first to learn of (or the folder's
     * highest at start); sorted by folder id, guarded by recent_mu */
    pthread_mutex_t recent_mu;
    struct imap_recent_floor {
        int64_t folder;
        uint32_t floor;
    } *recent;
    size_t nrecent, caprecent;
    pthread_mutex_t subs_wake_mu;
    pthread_cond_t subs_wake;
    pthread_t subs_thr;
    int subs_thr_started;
};

/* One message of the selected mailbox as the session knows it. */
struct imap_msg {
    uint32_t uid;
    uint32_t flags;
    int64_t id;
    uint64_t modseq;       /* last MODSEQ this session reported or loaded */
};

enum { S_NOTAUTH = 0, S_AUTH, S_SELECTED, S_LOGOUT };

struct imap_conn {
    struct imap_server *srv;
    struct imap_conn *next;
    pthread_t thr;
    int fd;
    int wake[2];           /* store notifications poke this */
    SSL *ssl;
    int tls_active;
    int loopback_peer;
    atomic_int done;
    atomic_llong sel_folder_atomic; /* for the notification listener */
    char peer[64];

    /* input buffer */
    char *rbuf;
    size_t rlen, rpos;
    /* output buffer */
    char *wbuf;
    size_t wlen;
    int write_failed;
    int halted;            /* a wait for the client was cut short by stop() */
    char long_tag[64];     /* tag of the last over-long line ("" if it had none) */

    struct imap_parser *parser;

    /* session */
    int state;
    int condstore, qresync;
    int auth_failures;
    int64_t sel_folder;
    int readonly;
    uint32_t uidvalidity;
    uint32_t special_use;
    struct imap_msg *msgs;
    size_t nmsgs, capmsgs;
    /* the UIDs of the selected mailbox that are recent in this session (RFC 3501 2.3.2): ascending ranges */
    struct imap_uid_range {
        uint32_t lo, hi;
    } *recent;
    size_t nrecent, caprecent;
    uint64_t sel_modseq;   /* changes up to this were reported */
    uint64_t exp_modseq;   /* expunges up to this were reported */
    char *kw_known;        /* keywords announced in FLAGS for the selected mailbox (space-separated) */
    int in_idle;
};

/* ---- configuration lock (see imap_server.lock) ---- */

static inline void imap_cfg_rdlock(struct imap_server *s) { pthread_rwlock_rdlock(&s->lock); }
static inline void imap_cfg_unlock(struct imap_server *s) { pthread_rwlock_unlock(&s->lock); }

/* ---- connection I/O (imap_server.c) ---- */

void imap_write(struct imap_conn *c, const void *data, size_t len);
void imap_printf(struct imap_conn *c, const char *fmt, ...) OUTPOST_PRINTF(2, 3);
/* The tagged completion `tag cond text` (cond NULL: text starts with the condition). The text is made
 * 7-bit TEXT-CHARs (RFC 3501 9 resp-text), so a client's words echoed in it (an 8-bit keyword, a literal
 * with CR LF) cannot break the response line. */
void imap_tagged(struct imap_conn *c, const char *tag, const char *cond, const char *fmt, ...) OUTPOST_PRINTF(4, 5);
void imap_puts(struct imap_conn *c, const char *s);
/* Writes v in decimal (no printf: FETCH 1:* writes a few per message). */
void imap_put_uint(struct imap_conn *c, uint64_t v);
/* Writes s as an IMAP string: quoted when safe, else a literal; NIL for NULL. */
void imap_astring(struct imap_conn *c, const char *s);
int imap_flush(struct imap_conn *c);
/* Writes what is buffered within timeout_ms, without blocking beyond it: the
 * socket is made non-blocking, so only for a connection about to close (the
 * BYE of a shutdown). 0, or -1 (write_failed set) when the client did not
 * take it in time or the write failed. */
int imap_flush_bounded(struct imap_conn *c, int64_t timeout_ms);
/* Reads one line (without CRLF) into a malloc'd buffer; timeout in ms (<0:
 * none). Called with the configuration lock held: releases it while it
 * waits. 1 = line, 0 = EOF/error or stop() (c->halted set), -2 = timeout, -3 = woken by a
 * notification (only when wakeable), -4 = line too long (rest discarded;
 * c->long_tag holds its tag so the reply can be tagged). */
int imap_read_line(struct imap_conn *c, char **line, size_t *len, int64_t timeout_ms, int wakeable);
/* Reads exactly n bytes into buf (0 ok, -1 EOF/timeout). */
int imap_read_exact(struct imap_conn *c, void *buf, size_t n, int64_t timeout_ms);
/* TLS handshake (lock held; released during the handshake). */
int imap_start_tls(struct imap_conn *c);
void imap_drain_wake(struct imap_conn *c);

/* ---- session (imap_session.c) ---- */

/* Runs the command loop of one connection until logout or disconnect. */
void imap_session_run(struct imap_conn *c);
void imap_session_free(struct imap_conn *c);
/* Reports changes of the selected mailbox (EXISTS, EXPUNGE/VANISHED,
 * FETCH FLAGS). allow_expunge 0 during FETCH/STORE/SEARCH. */
int imap_sync_selected(struct imap_conn *c, int allow_expunge);
/* A CONDSTORE enabling command (RFC 7162 3.1): turns MODSEQ reporting on and, the first time while a mailbox
 * is selected, writes its HIGHESTMODSEQ. */
void imap_condstore_on(struct imap_conn *c);

/* Reads an item's cached content at [off, off+len) for the MIME locator and the
 * SEARCH scanner: ctx is a struct imap_content_ctx; one read transaction per call.
 * 0, or -1 when the cache cannot be read. */
struct imap_content_ctx {
    struct imap_server *s;
    int64_t id;
};
int imap_content_range_read(void *ctx, uint64_t off, void *buf, size_t len, size_t *got);
/* Reads up to `len` bytes from `off` into buf, IMAP_CHUNK at a time (one short read
 * transaction each); *got stops short at the end of what the cache holds and, after a
 * failure, says how much was read. -1 when the cache cannot give them back (logged by
 * imap_content_range_read). */
int imap_content_read_span(struct imap_content_ctx *cc, uint64_t off, char *buf, size_t len, size_t *got);
/* Status message text for a store failure. */
const char *imap_status_text(outpost_status st);
void imap_set_selected_folder(struct imap_conn *c, int64_t id);
/* Frees the server's kept message lists. */
void imap_snaps_free(struct imap_server *s);
/* Writes the names of the folders carrying the subscription flag into the subscription list and moves the
 * names of folders renamed on the server (imap_session.c "subscriptions"); logs a failure. Any thread
 * but the store listener's. */
void imap_subs_record(struct imap_server *s);
/* \Recent (imap_session.c): whether message `uid` of the selected mailbox is recent in this session (0:
 * not); the highest UID of each folder at start, so that only messages arriving later are recent
 * (imap_recent_init, from start()). */
int imap_is_recent(const struct imap_conn *c, uint32_t uid);
void imap_recent_init(struct imap_server *s);

/* Resolves a sequence set to indexes into c->msgs (ascending). */
int imap_resolve_set(struct imap_conn *c, const char *set, int uid, size_t **idx, size_t *n);
/* Index of uid in c->msgs, or -1. */
long imap_msg_index(const struct imap_conn *c, uint32_t uid);
/* Before a FETCH response shows `keywords`: announces those the client has
 * not seen in a FLAGS response yet (RFC 3501 7.2.6), with a new FLAGS and
 * PERMANENTFLAGS. Call at the start of a line. */
void imap_announce_keywords(struct imap_conn *c, const char *keywords);
/* Writes "(\Seen \Flagged kw...)". */
void imap_write_flags(struct imap_conn *c, uint32_t flags, const char *keywords, uint32_t uid);
/* Parses a flag list token (list or single atom); 0 or -1 with err. *kw is
 * malloc'd space-separated keywords (NULL if none). */
int imap_parse_flags(const struct imap_tok *t, uint32_t *flags, char **kw, char *err, size_t errlen);
/* Writes a UID set compactly ("1:3,7"). */
void imap_write_uidset(struct imap_conn *c, const uint32_t *uids, size_t n);

/* ---- commands on the selected mailbox (imap_fetch.c, imap_search.c) ---- */

void imap_cmd_fetch(struct imap_conn *c, const char *tag, int uid, const struct imap_tok *args);
void imap_cmd_store(struct imap_conn *c, const char *tag, int uid, const struct imap_tok *args);
void imap_cmd_search(struct imap_conn *c, const char *tag, int uid, const struct imap_tok *args);

#endif
