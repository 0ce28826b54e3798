/* EWS simulator: the mailbox model (folders, items, per-folder change logs) and the server
 * context every part receives. One `struct sim` per process; nothing else is global.
 *
 * Change numbers: every mutation takes the next value of the mailbox-wide counter `cn`.
 * Each folder keeps a log of slots ordered by cn: a LIVE slot holds an item at its latest
 * change, a TOMBSTONE records an item that left the folder, a HOLE is a slot whose item
 * changed again later. SyncFolderItems is a binary search plus a walk of that log, so a
 * 100k-item folder costs O(page) per call. The folder hierarchy has one log of the same
 * kind. Sync states carry (folder, cn) and a keyed hash; see README.md "Sync state".
 *
 * Locking: one mutex around the whole model (`sim.mu`); SOAP and control handlers hold it
 * while they read or mutate, never across network I/O. */
#ifndef OUTPOST_SIM_EWS_SIM_H
#define OUTPOST_SIM_EWS_SIM_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* Item and folder kinds; the values match outpost_item_kind. */
enum sim_kind { K_NONE = 0, K_MAIL = 1, K_EVENT = 2, K_CONTACT = 3, K_TASK = 4, K_NOTE = 5 };

/* Mail flag bits. */
enum { MF_READ = 1u << 0, MF_FLAGGED = 1u << 1, MF_COMPLETE = 1u << 2, MF_DRAFT = 1u << 3 };

enum slot_state { SLOT_HOLE = 0, SLOT_LIVE = 1, SLOT_TOMB = 2 };

struct sim_item;

struct slot {
	uint64_t cn;
	uint8_t state;
	struct sim_item *it;     /* LIVE */
	uint64_t dead_n;         /* TOMB: the item number that left */
	uint64_t created_cn;     /* TOMB: when it was created (a create+delete after a state is skipped) */
	uint64_t dead_ck;        /* TOMB: its last change key cn */
	uint8_t kind;            /* TOMB */
};

struct sim_folder {
	int idx;                 /* position in sim.folders, never reused */
	int parent;              /* idx of the parent, -1 for the root */
	int dead;
	enum sim_kind kind;
	const char *dist;        /* distinguished id ("inbox") or NULL */
	char *name;
	const char *folder_class;
	uint64_t cn;             /* last change of the folder object itself (ChangeKey) */
	size_t hslot;            /* its slot in the hierarchy log */
	struct slot *log;
	size_t nlog, caplog, first_live; /* first_live: no LIVE/TOMB slot before it */
	long count, unread;
};

/* An item. Generated items keep no properties (`props` NULL, `gen` = generator index + 1)
 * and are rebuilt from (seed, kind, gen) when read; an item written by a client or changed
 * keeps its properties as JSON (names as in the README's state dump). Mail written by a
 * client keeps its raw MIME in `mime`. */
struct sim_item {
	uint64_t n;              /* item number: the ItemId; a move/copy makes a new one */
	int folder;
	enum sim_kind kind;
	uint32_t gen;
	uint32_t flags;          /* MF_* */
	int last_verb;           /* PidTagLastVerbExecuted: 0, 102 reply, 103 reply all, 104 forward */
	uint64_t created_cn, content_cn, read_cn, cn;
	uint64_t data_cn;        /* last change of properties other than flags (AutoResolve) */
	size_t slot;             /* its LIVE slot in the folder log */
	json_t *props;
	unsigned char *mime;
	size_t mime_len;
	int64_t date;            /* received / start / modified (epoch s) */
};

struct sim_config {
	const char *listen;
	const char *cert, *key;
	const char *port_file, *state_file;
	const char *user, *password, *token, *full_name;
	uint64_t seed;
	long n_mail, n_event, n_contact, n_task, n_note;
	int64_t base_time;
	int quiet;
};

struct sim_faults;
struct sim_subs;
struct sim_counters;

struct sim {
	struct sim_config cfg;
	pthread_mutex_t mu;
	char user_addr[256];
	uint64_t secret;         /* keys the hashes inside ids and sync states */
	uint64_t cn;             /* mailbox-wide change counter */
	uint64_t state_floor;    /* sync states older than this are refused (control "expire") */
	struct sim_folder **folders;
	size_t nfolders, capfolders;
	struct slot *hlog;       /* hierarchy log: it == NULL, dead_n = folder idx */
	size_t nhlog, caphlog;
	struct sim_item **items; /* by item number n; NULL once gone */
	size_t nitems, capitems;
	struct sim_subs *subs;   /* pull notification subscriptions (ops_notify.c), NULL until one */
	struct sim_faults *faults;
	struct sim_counters *counters;
	struct MHD_Daemon *daemon;
	int port;
	char *cert_pem, *key_pem;
	json_t *loaded;          /* keeps strings of a loaded state file alive */
};

/* ---- store.c ---- */
void store_init(struct sim *s);
void store_free(struct sim *s);
struct sim_folder *store_folder(struct sim *s, int idx);
struct sim_folder *store_folder_dist(struct sim *s, const char *dist);
struct sim_folder *store_folder_path(struct sim *s, const char *path);
void store_folder_path_of(struct sim *s, const struct sim_folder *f, char *out, size_t n);
struct sim_folder *store_folder_new(struct sim *s, int parent, enum sim_kind kind, const char *name,
				    const char *dist, const char *folder_class);
void store_folder_touch(struct sim *s, struct sim_folder *f); /* renamed/moved: hierarchy change */
void store_folder_remove(struct sim *s, struct sim_folder *f); /* and everything under it */
int store_folder_is_under(struct sim *s, const struct sim_folder *f, const struct sim_folder *anc);

struct sim_item *store_item(struct sim *s, uint64_t n);
struct sim_item *store_item_new(struct sim *s, struct sim_folder *f, enum sim_kind kind, uint32_t gen,
				json_t *props);
/* what: 0 content, 1 read flag only, 2 other flags (an Update in EWS terms) */
void store_item_touch(struct sim *s, struct sim_item *it, int what);
void store_item_remove(struct sim *s, struct sim_item *it);
struct sim_item *store_item_move(struct sim *s, struct sim_item *it, struct sim_folder *to);
struct sim_item *store_item_copy(struct sim *s, struct sim_item *it, struct sim_folder *to);
/* Makes the item's properties editable (materialises generated ones). */
json_t *store_item_props(struct sim *s, struct sim_item *it);

/* Opaque ids: "<kind letter><n>" + hash, base64. Parse returns 0 on success. */
void id_item(struct sim *s, uint64_t n, char *out, size_t cap);
void id_folder(struct sim *s, int idx, char *out, size_t cap);
void id_changekey(struct sim *s, char type, uint64_t cn, char *out, size_t cap);
int id_parse_item(struct sim *s, const char *id, uint64_t *n);
int id_parse_folder(struct sim *s, const char *id, int *idx);
int id_parse_changekey(struct sim *s, const char *ck, uint64_t *cn);
void item_changekey(struct sim *s, const struct sim_item *it, char *out, size_t cap);
void folder_changekey(struct sim *s, const struct sim_folder *f, char *out, size_t cap);

/* ---- gen.c ---- */
void gen_account(struct sim *s);
/* Properties of an item (generated or stored); new reference. */
json_t *item_props(struct sim *s, const struct sim_item *it);
/* The mail's MIME (generated deterministically or stored); caller frees. */
unsigned char *item_mime(struct sim *s, const struct sim_item *it, size_t *len);
/* The same from the item's properties `p` when the caller has them already (not taken). */
unsigned char *item_mime_of(struct sim *s, const struct sim_item *it, json_t *p, size_t *len);
const char *kind_name(enum sim_kind k);  /* "mail", "event", ... */
int kind_from_name(const char *n);

#endif
