/* Kerio Connect simulator: the shared model (folders, items, journal, blobs) and the server
 * context every part receives. One `struct sim` per process; nothing else is global.
 *
 * Locking: `store.lock` is a rwlock. JSON-RPC read methods hold it shared, write methods and
 * control calls hold it exclusively; the dispatcher takes it, handlers never do. Sessions,
 * faults and counters have their own small mutexes. Changes.get waits on `notify_cv`. */
#ifndef OUTPOST_SIM_KERIO_SIM_H
#define OUTPOST_SIM_KERIO_SIM_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

enum sim_kind { KIND_ROOT, KIND_MAIL, KIND_EVENT, KIND_CONTACT, KIND_TASK, KIND_NOTE, KIND_COUNT };

enum sim_subtype {
	SUB_NONE, SUB_INBOX, SUB_DRAFTS, SUB_SENT, SUB_DELETED, SUB_JUNK, SUB_DEFAULT, SUB_COUNT
};

/* Mail flag bits (Mail.is* members). */
enum {
	MF_SEEN = 1u << 0, MF_ANSWERED = 1u << 1, MF_FLAGGED = 1u << 2, MF_FORWARDED = 1u << 3,
	MF_JUNK = 1u << 4, MF_MDNSENT = 1u << 5, MF_DRAFT = 1u << 6, MF_SHOWEXTERNAL = 1u << 7,
	MF_REQUESTDSN = 1u << 8
};

struct sim_item;
struct gen_corpus;

struct sim_folder {
	int idx;                 /* position in store.folders; never reused */
	int parent;              /* idx of the parent, -1 for the root */
	int dead;                /* removed; kept so journal entries can still name it */
	enum sim_kind kind;
	enum sim_subtype subtype;
	char uuid[40];
	char *id;                /* keriostorage://folder/<domain>/<user>/<uuid> */
	char *name;
	char *color;
	uint64_t next_n;         /* next item number in this folder */
	struct sim_item **items; /* sorted by n */
	size_t len, cap;
	long unread;             /* mail: items without MF_SEEN */
	long long bytes;         /* sum of item sizes */
	/* Other places (--shared): PLACE_MAILBOX for the account's own folders (Folders.get);
	 * PLACE_PUBLIC (Folders.getPublic) and PLACE_PEOPLE (another user's mailbox, listed by
	 * Folders.getSubscribed while subscribed) are never in Folders.get. */
	int place;
	char *owner;             /* PLACE_PEOPLE/PUBLIC: the user part of the ids; NULL = own */
	char *owner_name;        /* ownerName / emailAddress of PLACE_PEOPLE folders */
	char *owner_addr;
	int access;              /* enum sim_access of the account's user */
	int subscribed;          /* PLACE_PEOPLE: in the subscription list */
};

enum sim_place { PLACE_MAILBOX, PLACE_PUBLIC, PLACE_PEOPLE };
enum sim_access { ACC_ADMIN, ACC_READWRITE, ACC_READONLY, ACC_LISTING };

/* An item. Generated items keep only this struct (gen != 0, data == NULL) and are rebuilt from
 * (seed, kind, gen) on demand; items written by clients or edited keep their JSON in `data`
 * (the API members except id, folderId, watermark and mail flags; internal members start "x-"). */
struct sim_item {
	uint64_t n;
	int folder;
	enum sim_kind kind;
	uint32_t gen;            /* generator index + 1, 0 = none */
	uint32_t flags;          /* MF_* for mail */
	int64_t watermark;
	int64_t date;            /* mail receive date / event start / sort default (epoch s) */
	int64_t mtime;           /* last modification (epoch s) */
	int64_t size;            /* mail size in bytes */
	json_t *data;
};

enum sim_change_type {
	CHT_CREATED, CHT_COPIED, CHT_DELETED, CHT_MODIFIED, CHT_MOVED, CHT_NEWMAIL, CHT_STATUS,
	CHT_READFLAG, CHT_METADATA, CHT_CONTENT
};

struct sim_change {
	int64_t wm;
	uint8_t is_folder;
	uint8_t type;            /* enum sim_change_type */
	uint8_t kind;            /* enum sim_kind of the item or folder */
	int folder;              /* folder holding the item now (items) / parent (folders) */
	int orig_folder;         /* source folder of a move/copy, else -1 */
	int self;                /* the folder itself for folder changes, else -1 */
	int unread;              /* messageUnread */
	char *item_id;
	char *orig_id;
};

/* Bytes written by clients (uploads, attachments of created mail). */
struct sim_blob {
	char *id;
	char *name;
	char *ctype;
	unsigned char *data;
	size_t len;
};

struct sim_config {
	const char *listen;      /* "127.0.0.1:0" */
	const char *cert, *key;
	const char *port_file, *state_file;
	const char *user, *password, *domain, *full_name;
	uint64_t seed;
	long n_mail, n_event, n_contact, n_task, n_note;
	int session_idle;        /* seconds */
	int error_status_idl;    /* 1: JSON-RPC errors with the IDL's HTTP status (500/404) */
	int64_t base_time;       /* "now" of the generated account */
	int shared;              /* --shared: public folders and a subscribed mailbox of another user */
	int quiet;
};

/* A running Changes.get long-poll. */
struct sim_poller {
	int used, killed;
	int64_t key;
};
#define SIM_MAX_POLLERS 64

struct sim_store {
	pthread_rwlock_t lock;
	const struct sim_config *cfg;
	struct gen_corpus *corpus; /* immutable text for generated bodies */
	char raw_tag[40];        /* marks pre-written JSON in replies (jsonout.h) */
	char user_local[128], user_domain[128], user_addr[300];
	struct sim_folder **folders;
	size_t nfolders, folders_cap;
	int special[SUB_COUNT];  /* folder idx of Inbox, Drafts, ... (-1 if none) */
	int root;
	int default_folder[KIND_COUNT]; /* default calendar/contacts/tasks/notes folder */
	int archive;
	int64_t wm;              /* the account-wide journal counter */
	int64_t journal_floor;   /* keys below this are expired */
	struct sim_change *journal;
	size_t njournal, journal_cap;
	struct sim_blob **blobs;
	size_t nblobs, blobs_cap;
	uint64_t next_blob;
	uint64_t generation;     /* bumped on every mutation; invalidates query caches */
	pthread_mutex_t cache_mu;
	struct query_cache *qcache;
	pthread_mutex_t notify_mu;
	pthread_cond_t notify_cv;
	int64_t notified_wm;     /* wm published to Changes.get waiters */
	struct sim_poller pollers[SIM_MAX_POLLERS]; /* under notify_mu */
	volatile int stopping;   /* wakes every poller at shutdown */
};

struct sim_sessions;
struct sim_faults;
struct sim_counters;

struct sim {
	struct sim_config cfg;
	struct sim_store store;
	struct sim_sessions *sessions;
	struct sim_faults *faults;
	struct sim_counters *counters;
	struct MHD_Daemon *daemon;
	volatile int stopping;
	int port;
	char *cert_pem, *key_pem;
	json_t *state_cfg;       /* keeps config strings loaded from a state file alive */
};

/* Names on the wire. */
const char *sim_folder_type_name(enum sim_kind k);    /* FMail ... */
const char *sim_item_type_name(enum sim_kind k);      /* itMail ... */
const char *sim_id_word(enum sim_kind k);             /* mail, event, ... */
const char *sim_subtype_name(enum sim_subtype s);     /* FSubInbox ... */
const char *sim_change_type_name(int t);              /* chtCreated ... */
int sim_kind_from_folder_type(const char *s);         /* -1 if unknown */
const char *sim_place_name(int place);                /* FPlaceMailbox ... */
const char *sim_access_name(int access);              /* FAccessAdmin ... */
int sim_access_from_name(const char *s);              /* -1 if unknown */
int sim_subtype_from_name(const char *s);
int sim_change_type_from_name(const char *s);

#endif
