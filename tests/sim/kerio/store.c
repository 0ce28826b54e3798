/* The account store (see store.h): folder tree, per-folder item arrays sorted by item number,
 * id strings "keriostorage://<word>/<domain>/<user>/<folder-uuid>/<n>", generation, blobs. */
#include "store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datetime.h"
#include "jsonout.h"
#include "util.h"

void store_init(struct sim_store *s, const struct sim_config *cfg)
{
	memset(s, 0, sizeof *s);
	s->cfg = cfg;
	pthread_rwlock_init(&s->lock, NULL);
	pthread_mutex_init(&s->cache_mu, NULL);
	pthread_mutex_init(&s->notify_mu, NULL);
	pthread_cond_init(&s->notify_cv, NULL);
	for (int i = 0; i < SUB_COUNT; i++)
		s->special[i] = -1;
	for (int i = 0; i < KIND_COUNT; i++)
		s->default_folder[i] = -1;
	s->root = s->archive = -1;
	s->next_blob = 1;
	const char *at = strchr(cfg->user, '@');
	if (at) {
		snprintf(s->user_local, sizeof s->user_local, "%.*s", (int)(at - cfg->user), cfg->user);
		snprintf(s->user_domain, sizeof s->user_domain, "%s", at + 1);
	} else {
		snprintf(s->user_local, sizeof s->user_local, "%s", cfg->user);
		snprintf(s->user_domain, sizeof s->user_domain, "%s", cfg->domain);
	}
	snprintf(s->user_addr, sizeof s->user_addr, "%s@%s", s->user_local, s->user_domain);
	s->corpus = gen_corpus_new(cfg->seed);
	jsonout_make_tag(s->raw_tag);
}

const char *store_user_local(const struct sim_store *s) { return s->user_local; }
const char *store_domain(const struct sim_store *s) { return s->user_domain; }
const char *store_user_addr(const struct sim_store *s) { return s->user_addr; }

struct gen_ctx store_gen_ctx(const struct sim_store *s)
{
	struct gen_ctx g = {s->corpus, s->cfg->seed, s->cfg->base_time, s->cfg->n_mail,
			    s->user_addr, s->cfg->full_name};
	return g;
}

void store_item_free(struct sim_item *it)
{
	if (it) {
		json_decref(it->data);
		free(it);
	}
}

void store_free(struct sim_store *s)
{
	for (size_t i = 0; i < s->nfolders; i++) {
		struct sim_folder *f = s->folders[i];
		for (size_t j = 0; j < f->len; j++)
			store_item_free(f->items[j]);
		free(f->items);
		free(f->id);
		free(f->name);
		free(f->color);
		free(f->owner);
		free(f->owner_name);
		free(f->owner_addr);
		free(f);
	}
	free(s->folders);
	for (size_t i = 0; i < s->njournal; i++) {
		free(s->journal[i].item_id);
		free(s->journal[i].orig_id);
	}
	free(s->journal);
	for (size_t i = 0; i < s->nblobs; i++) {
		free(s->blobs[i]->id);
		free(s->blobs[i]->name);
		free(s->blobs[i]->ctype);
		free(s->blobs[i]->data);
		free(s->blobs[i]);
	}
	free(s->blobs);
	gen_corpus_free(s->corpus);
}

struct sim_folder *store_folder_new(struct sim_store *s, int parent, enum sim_kind kind,
				    enum sim_subtype sub, const char *name, const char *uuid)
{
	struct sim_folder *f = xcalloc(1, sizeof *f);
	f->idx = (int)s->nfolders;
	f->parent = parent;
	f->kind = kind;
	f->subtype = sub;
	if (uuid) {
		snprintf(f->uuid, sizeof f->uuid, "%s", uuid);
	} else {
		uint64_t a = mix64(s->cfg->seed ^ mix64(0xf01de7 + (uint64_t)f->idx));
		uint64_t b = mix64(a);
		snprintf(f->uuid, sizeof f->uuid, "%08" PRIx32 "-%04" PRIx32 "-4%03" PRIx32 "-%04" PRIx32
			 "-%012" PRIx64, (uint32_t)(a >> 32), (uint32_t)(a >> 16) & 0xffff,
			 (uint32_t)a & 0xfff, (uint32_t)(0x8000 | ((b >> 48) & 0x3fff)),
			 (uint64_t)(b & 0xffffffffffffULL));
	}
	f->id = xasprintf("keriostorage://folder/%s/%s/%s", s->user_domain, s->user_local, f->uuid);
	f->name = xstrdup(name);
	f->color = xstrdup("");
	f->next_n = 1;
	if (s->nfolders == s->folders_cap) {
		s->folders_cap = s->folders_cap ? s->folders_cap * 2 : 32;
		s->folders = xrealloc(s->folders, s->folders_cap * sizeof *s->folders);
	}
	s->folders[s->nfolders++] = f;
	if (kind == KIND_ROOT && s->root < 0)
		s->root = f->idx;
	if (sub != SUB_NONE && sub != SUB_DEFAULT && s->special[sub] < 0)
		s->special[sub] = f->idx;
	if (sub == SUB_DEFAULT && s->default_folder[kind] < 0)
		s->default_folder[kind] = f->idx;
	if (kind == KIND_MAIL && sub == SUB_INBOX && s->special[SUB_INBOX] == f->idx)
		s->default_folder[KIND_MAIL] = f->idx;
	return f;
}

void store_folder_set_place(struct sim_store *s, struct sim_folder *f, int place,
			    const char *owner, const char *owner_name, const char *owner_addr,
			    int access)
{
	f->place = place;
	f->access = access;
	f->subscribed = place == PLACE_PEOPLE;
	free(f->owner);
	free(f->owner_name);
	free(f->owner_addr);
	f->owner = owner ? xstrdup(owner) : NULL;
	f->owner_name = xstrdup(owner_name ? owner_name : "");
	f->owner_addr = xstrdup(owner_addr ? owner_addr : "");
	free(f->id);
	f->id = xasprintf("keriostorage://folder/%s/%s/%s", s->user_domain,
			  store_folder_user(s, f), f->uuid);
}

const char *store_folder_user(const struct sim_store *s, const struct sim_folder *f)
{
	return f->owner ? f->owner : s->user_local;
}

struct sim_folder *store_folder_by_id(struct sim_store *s, const char *id)
{
	if (!id)
		return NULL;
	for (size_t i = 0; i < s->nfolders; i++)
		if (!s->folders[i]->dead && strcmp(s->folders[i]->id, id) == 0)
			return s->folders[i];
	return NULL;
}

struct sim_folder *store_folder_by_path(struct sim_store *s, const char *path)
{
	int cur = s->root;
	char *copy = xstrdup(path), *save = NULL;
	for (char *tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		int found = -1;
		for (size_t i = 0; i < s->nfolders; i++) {
			struct sim_folder *f = s->folders[i];
			if (!f->dead && f->parent == cur && strcmp(f->name, tok) == 0) {
				found = f->idx;
				break;
			}
		}
		if (found < 0) {
			free(copy);
			return NULL;
		}
		cur = found;
	}
	free(copy);
	return cur >= 0 ? s->folders[cur] : NULL;
}

int store_folder_depth(const struct sim_store *s, const struct sim_folder *f)
{
	int d = 0;
	while (f->parent >= 0) {
		f = s->folders[f->parent];
		d++;
	}
	return d;
}

int store_folder_is_under(const struct sim_store *s, int idx, int ancestor)
{
	for (int cur = idx; cur >= 0; cur = s->folders[cur]->parent)
		if (cur == ancestor)
			return 1;
	return 0;
}

struct sim_item *store_item_alloc(enum sim_kind kind)
{
	struct sim_item *it = xcalloc(1, sizeof *it);
	it->kind = kind;
	it->folder = -1;
	return it;
}

static void account(struct sim_folder *f, const struct sim_item *it, int sign)
{
	if (it->kind == KIND_MAIL && !(it->flags & MF_SEEN))
		f->unread += sign;
	f->bytes += sign * it->size;
}

void store_item_attach(struct sim_store *s, struct sim_item *it, struct sim_folder *f)
{
	store_item_attach_n(s, it, f, f->next_n++);
}

void store_item_attach_n(struct sim_store *s, struct sim_item *it, struct sim_folder *f,
			 uint64_t n)
{
	it->n = n;
	if (n >= f->next_n)
		f->next_n = n + 1;
	it->folder = f->idx;
	if (f->len == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 64;
		f->items = xrealloc(f->items, f->cap * sizeof *f->items);
	}
	f->items[f->len++] = it;
	account(f, it, 1);
	s->generation++;
}

static size_t find_pos(const struct sim_folder *f, uint64_t n)
{
	size_t lo = 0, hi = f->len;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (f->items[mid]->n < n)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void store_item_detach(struct sim_store *s, struct sim_item *it)
{
	struct sim_folder *f = s->folders[it->folder];
	size_t pos = find_pos(f, it->n);
	if (pos < f->len && f->items[pos] == it) {
		memmove(f->items + pos, f->items + pos + 1, (f->len - pos - 1) * sizeof *f->items);
		f->len--;
		account(f, it, -1);
	}
	it->folder = -1;
	s->generation++;
}

void store_item_set_flags(struct sim_store *s, struct sim_item *it, uint32_t flags)
{
	if (it->folder >= 0)
		account(s->folders[it->folder], it, -1);
	it->flags = flags;
	if (it->folder >= 0)
		account(s->folders[it->folder], it, 1);
	s->generation++;
}

void store_item_set_size(struct sim_store *s, struct sim_item *it, int64_t size)
{
	if (it->folder >= 0)
		account(s->folders[it->folder], it, -1);
	it->size = size;
	if (it->folder >= 0)
		account(s->folders[it->folder], it, 1);
}

struct sim_folder *store_item_folder(struct sim_store *s, const struct sim_item *it)
{
	return it->folder >= 0 ? s->folders[it->folder] : NULL;
}

void store_item_id(const struct sim_store *s, const struct sim_item *it, char *out, size_t n)
{
	const struct sim_folder *f = s->folders[it->folder];
	snprintf(out, n, "keriostorage://%s/%s/%s/%s/%" PRIu64, sim_id_word(it->kind), s->user_domain,
		 store_folder_user(s, f), f->uuid, it->n);
}

struct sim_item *store_item_by_id(struct sim_store *s, const char *id, enum sim_kind kind)
{
	if (!id)
		return NULL;
	char prefix[400];
	int pl = snprintf(prefix, sizeof prefix, "keriostorage://%s/%s/", sim_id_word(kind),
			  s->user_domain);
	if (strncmp(id, prefix, (size_t)pl) != 0)
		return NULL;
	/* the user part: the account's, or the other place's the folder belongs to */
	const char *user = id + pl, *uslash = strchr(user, '/');
	if (!uslash)
		return NULL;
	const char *uuid = uslash + 1, *slash = strchr(uuid, '/');
	if (!slash || slash - uuid >= 40 || !slash[1])
		return NULL;
	char *end;
	unsigned long long n = strtoull(slash + 1, &end, 10);
	if (*end)
		return NULL;
	for (size_t i = 0; i < s->nfolders; i++) {
		struct sim_folder *f = s->folders[i];
		if (f->dead || strncmp(f->uuid, uuid, (size_t)(slash - uuid)) != 0 ||
		    f->uuid[slash - uuid])
			continue;
		const char *fu = store_folder_user(s, f);
		if (strlen(fu) != (size_t)(uslash - user) || strncmp(fu, user, (size_t)(uslash - user)))
			return NULL;
		size_t pos = find_pos(f, n);
		if (pos < f->len && f->items[pos]->n == n && f->items[pos]->kind == kind)
			return f->items[pos];
		return NULL;
	}
	return NULL;
}

/* --shared: a public store ("Public" root; "Announcements" read-only, "Team Board"
 * read-write) and the mailbox of another user, Ann Smith (ann@<domain>), whose Inbox
 * (read-only) and "Projects" (read-write) are shared with and subscribed by the account's
 * user. Each of the four folders holds three mails. */
static void store_generate_shared(struct sim_store *s)
{
	char addr[300];
	snprintf(addr, sizeof addr, "ann@%s", s->user_domain);
	struct {
		const char *name;
		int place, access, parent; /* parent: index in this table, -1 = none */
		enum sim_kind kind;
	} spec[] = {
		{"Public", PLACE_PUBLIC, ACC_READONLY, -1, KIND_ROOT},
		{"Announcements", PLACE_PUBLIC, ACC_READONLY, 0, KIND_MAIL},
		{"Team Board", PLACE_PUBLIC, ACC_READWRITE, 0, KIND_MAIL},
		{"Ann Smith", PLACE_PEOPLE, ACC_LISTING, -1, KIND_ROOT},
		{"Inbox", PLACE_PEOPLE, ACC_READONLY, 3, KIND_MAIL},
		{"Projects", PLACE_PEOPLE, ACC_READWRITE, 3, KIND_MAIL},
	};
	int idx[6];
	struct gen_ctx g = store_gen_ctx(s);
	for (int i = 0; i < 6; i++) {
		struct sim_folder *f = store_folder_new(
			s, spec[i].parent < 0 ? -1 : idx[spec[i].parent], spec[i].kind,
			spec[i].kind == KIND_MAIL && !strcmp(spec[i].name, "Inbox") ? SUB_INBOX : SUB_NONE,
			spec[i].name, NULL);
		int people = spec[i].place == PLACE_PEOPLE;
		store_folder_set_place(s, f, spec[i].place, people ? "ann" : "#public",
				       people ? "Ann Smith" : "", people ? addr : "", spec[i].access);
		idx[i] = f->idx;
		if (spec[i].kind != KIND_MAIL)
			continue;
		for (uint32_t k = 0; k < 3; k++) {
			/* generated mails past the account's own ones: same generator, other texts */
			uint32_t gi = (uint32_t)s->cfg->n_mail + (uint32_t)i * 3 + k;
			struct gen_meta m;
			gen_meta(&g, KIND_MAIL, gi, &m);
			struct sim_item *it = store_item_alloc(KIND_MAIL);
			it->gen = gi + 1;
			it->flags = m.flags;
			it->date = m.date;
			it->mtime = m.date;
			it->size = m.size;
			it->watermark = ++s->wm;
			store_item_attach(s, it, f);
		}
	}
}

void store_generate(struct sim_store *s)
{
	const struct sim_config *c = s->cfg;
	int slot_idx[GF_COUNT];
	for (int i = 0; i < GF_COUNT; i++) {
		const struct gen_folder_spec *sp = &gen_folder_specs[i];
		const char *name = i == GF_ROOT ? c->full_name : sp->name;
		struct sim_folder *f = store_folder_new(s, sp->parent < 0 ? -1 : slot_idx[sp->parent],
							sp->kind, sp->sub, name, NULL);
		slot_idx[i] = f->idx;
	}
	s->archive = slot_idx[GF_ARCHIVE];
	struct gen_ctx g = store_gen_ctx(s);
	const long counts[KIND_COUNT] = {0, c->n_mail, c->n_event, c->n_contact, c->n_task,
					 c->n_note};
	for (int kind = KIND_MAIL; kind < KIND_COUNT; kind++) {
		for (long k = 0; k < counts[kind]; k++) {
			struct gen_meta m;
			gen_meta(&g, (enum sim_kind)kind, (uint32_t)k, &m);
			struct sim_item *it = store_item_alloc((enum sim_kind)kind);
			it->gen = (uint32_t)k + 1;
			it->flags = m.flags;
			it->date = m.date;
			it->mtime = m.date;
			it->size = m.size;
			it->watermark = ++s->wm;
			store_item_attach(s, it, s->folders[slot_idx[m.slot]]);
		}
	}
	if (c->shared)
		store_generate_shared(s);
	s->journal_floor = s->wm;
	s->notified_wm = s->wm;
}

struct sim_blob *store_blob_add(struct sim_store *s, const char *name, const char *ctype,
				unsigned char *data, size_t len, const char *id)
{
	struct sim_blob *b = xcalloc(1, sizeof *b);
	if (id) {
		b->id = xstrdup(id);
	} else {
		char tok[33];
		random_token(tok, 8);
		b->id = xasprintf("upload-%" PRIu64 "-%s", s->next_blob++, tok);
	}
	b->name = xstrdup(name ? name : "");
	b->ctype = xstrdup(ctype && *ctype ? ctype : "application/octet-stream");
	b->data = data;
	b->len = len;
	if (s->nblobs == s->blobs_cap) {
		s->blobs_cap = s->blobs_cap ? s->blobs_cap * 2 : 16;
		s->blobs = xrealloc(s->blobs, s->blobs_cap * sizeof *s->blobs);
	}
	s->blobs[s->nblobs++] = b;
	return b;
}

struct sim_blob *store_blob_get(struct sim_store *s, const char *id)
{
	for (size_t i = 0; i < s->nblobs; i++)
		if (strcmp(s->blobs[i]->id, id) == 0)
			return s->blobs[i];
	return NULL;
}

/* ---- names on the wire ---- */

const char *sim_folder_type_name(enum sim_kind k)
{
	static const char *const n[] = {"FRoot", "FMail", "FCalendar", "FContact", "FTask", "FNote"};
	return k < KIND_COUNT ? n[k] : "FMail";
}

const char *sim_item_type_name(enum sim_kind k)
{
	static const char *const n[] = {"itMail", "itMail", "itCalendar", "itContact", "itTask",
					"itNote"};
	return k < KIND_COUNT ? n[k] : "itMail";
}

const char *sim_id_word(enum sim_kind k)
{
	static const char *const n[] = {"folder", "mail", "event", "contact", "task", "note"};
	return k < KIND_COUNT ? n[k] : "mail";
}

static const char *const subtype_names[] = {"FSubNone", "FSubInbox", "FSubDrafts",
					    "FSubSentItems", "FSubDeletedItems", "FSubJunkEmail",
					    "FSubDefault"};

const char *sim_subtype_name(enum sim_subtype s)
{
	return s < SUB_COUNT ? subtype_names[s] : "FSubNone";
}

int sim_subtype_from_name(const char *s)
{
	for (int i = 0; s && i < SUB_COUNT; i++)
		if (strcmp(s, subtype_names[i]) == 0)
			return i;
	return -1;
}

static const char *const change_names[] = {"chtCreated", "chtCopied", "chtDeleted",
					   "chtModified", "chtMoved", "chtNewMail", "chtStatus",
					   "chtReadFlagChanged", "chtModifiedMetadata",
					   "chtModifiedContent"};

const char *sim_change_type_name(int t)
{
	return t >= 0 && t <= CHT_CONTENT ? change_names[t] : "chtModified";
}

int sim_change_type_from_name(const char *s)
{
	for (int i = 0; s && i <= CHT_CONTENT; i++)
		if (strcmp(s, change_names[i]) == 0)
			return i;
	return -1;
}

static const char *const place_names[] = {"FPlaceMailbox", "FPlacePublic", "FPlacePeople"};
static const char *const access_names[] = {"FAccessAdmin", "FAccessReadWrite", "FAccessReadOnly",
					   "FAccessListingOnly"};

const char *sim_place_name(int place)
{
	return place >= 0 && place <= PLACE_PEOPLE ? place_names[place] : "FPlaceMailbox";
}

const char *sim_access_name(int access)
{
	return access >= 0 && access <= ACC_LISTING ? access_names[access] : "FAccessAdmin";
}

int sim_access_from_name(const char *s)
{
	for (int i = 0; s && i <= ACC_LISTING; i++)
		if (strcmp(s, access_names[i]) == 0)
			return i;
	return -1;
}

int sim_kind_from_folder_type(const char *s)
{
	for (int k = 0; s && k < KIND_COUNT; k++)
		if (strcmp(s, sim_folder_type_name((enum sim_kind)k)) == 0)
			return k;
	return -1;
}
