/* frontends/mapi/mapi_session.c — a provider connection's MAPI objects over
 * the store API (see mapi_session.h). */
#include "mapi_session.h"

#include "mapi_fai.h"
#include "mapi_search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* {4F505354-4D41-5049-8A4F-55545053540A}: "OPST MAPI OUTPST" */
const uint8_t MAPI_OUTPOST_PROVIDER_UID[16] = { 0x54, 0x53, 0x50, 0x4F, 0x41, 0x4D, 0x49, 0x50,
                                                0x8A, 0x4F, 0x55, 0x54, 0x50, 0x53, 0x54, 0x0A };

#define ACCESS_MESSAGE (OP_ACCESS_MODIFY | OP_ACCESS_READ | OP_ACCESS_DELETE)
#define ACCESS_FOLDER                                                                                       \
    (ACCESS_MESSAGE | OP_ACCESS_CREATE_HIERARCHY | OP_ACCESS_CREATE_CONTENTS | OP_ACCESS_CREATE_ASSOCIATED)
#define GETPROPS_MAX 32768u  /* larger values come through OpenProperty */
#define MAX_CONTENT (64u << 20)
#define MAX_EVENTS 64

#define SUPPORT_MASK                                                                                              \
    (OP_STORE_ENTRYID_UNIQUE | OP_STORE_MODIFY_OK | OP_STORE_CREATE_OK | OP_STORE_ATTACH_OK | OP_STORE_NOTIFY_OK | \
     OP_STORE_MV_PROPS_OK | OP_STORE_RTF_OK | OP_STORE_RESTRICTION_OK | OP_STORE_SORT_OK | OP_STORE_UNICODE_OK |  \
     OP_STORE_HTML_OK | OP_STORE_SEARCH_OK)

enum { OBJ_STORE = 1, OBJ_FOLDER, OBJ_MESSAGE, OBJ_ATTACH, OBJ_TABLE };

typedef struct mapi_obj {
    uint32_t type;
    /* folders: eid kind FOLDER (id = folder id) or VIRTUAL (id = MAPI_VF_*) */
    uint32_t ekind;
    int64_t id;
    /* messages */
    int64_t folder_id;
    uint32_t item_kind;
    uint32_t item_flags;
    char *keywords;
    char *object_uid;
    int is_new, content_dirty, flags_dirty;
    uint32_t bodies_set; /* BODY_* of the body properties the client wrote since the last save */
    int partial;         /* loaded from the summary only (content not cached or unreadable) */
    mapi_message msg;
    /* associated (FAI) messages: kept in the folder's set (mapi_fai.h) */
    int assoc;
    mapi_fai_where fw;
    uint32_t fai_num; /* 0 until a new one is saved */
    /* attachments */
    uint32_t parent;
    uint32_t att_num;
    mapi_props att;
    /* tables */
    mapi_table tbl;
    uint32_t tkind, tflags, tsrc;
    uint32_t advise;
    /* lazy contents tables (lazy_rows): the session, and the properties each
     * row keeps (those the sort and the restriction need) */
    mapi_session *sess;
    uint32_t *keep;
    uint32_t nkeep;
    int loaded; /* rows listed (lazy_load) */
} mapi_obj;

typedef struct mapi_advise {
    uint32_t conn;     /* 0: free */
    uint32_t table;    /* table handle, or 0 for an object advise */
    uint32_t ekind;    /* object advise: 0 = whole store */
    int64_t id;
    uint32_t mask;
} mapi_advise;

struct mapi_session {
    mapi_core *core;
    const struct outpost_host *h;
    const struct outpost_store_api *st;
    int authed;
    mapi_obj **objs;
    uint32_t nobjs;
    mapi_advise *adv;
    uint32_t nadv, next_conn;
    struct outpost_store_subscription *sub;
    mapi_mutex *ev_lock;
    int ev_hierarchy, ev_overflow;
    int64_t ev_folders[MAX_EVENTS];
    uint32_t nev;
    uint32_t fai_seen; /* core->fai_gen when the associated tables were last refreshed */
};

/* ---- core ---- */

int mapi_core_init(mapi_core *c, const struct outpost_host *host, const uint8_t guid[16], mapi_names *names,
                   const uint8_t secret[MAPI_WIRE_SECRET_LEN], const char *display_name, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->host = host;
    c->names = names;
    c->content_timeout_ms = 3000;
    memcpy(c->secret, secret, MAPI_WIRE_SECRET_LEN);
    c->display_name = strdup(display_name ? display_name : "Outpost");
    c->names_lock = mapi_os_mutex_new();
    c->fai_lock = mapi_os_mutex_new();
    c->search_lock = mapi_os_mutex_new();
    c->watch_lock = mapi_os_mutex_new();
    c->receive_lock = mapi_os_mutex_new();
    if (!c->display_name || !c->names_lock || !c->fai_lock || !c->search_lock || !c->watch_lock ||
        !c->receive_lock) {
        snprintf(err, errlen, "out of memory");
        mapi_core_free(c);
        return -1;
    }
    if (mapi_ctx_init(&c->ctx, guid, names) != 0) {
        snprintf(err, errlen, "cannot record the named properties of the mapping (is the data directory writable?)");
        mapi_core_free(c);
        return -1;
    }
    return 0;
}

void mapi_core_free(mapi_core *c)
{
    mapi_core_unwatch(c);
    free(c->display_name);
    mapi_os_mutex_free(c->names_lock);
    mapi_os_mutex_free(c->fai_lock);
    mapi_os_mutex_free(c->search_lock);
    mapi_os_mutex_free(c->watch_lock);
    mapi_os_mutex_free(c->receive_lock);
    memset(c, 0, sizeof *c);
}

outpost_status mapi_core_sweep(mapi_core *c)
{
    const struct outpost_host *h = c->host;
    if (!mapi_fai_supported(h))
        return outpost_ok();
    uint32_t dropped = 0;
    mapi_os_mutex_lock(c->fai_lock);
    outpost_status st = mapi_fai_sweep(h, &dropped);
    mapi_os_mutex_unlock(c->fai_lock);
    if (st.code != OUTPOST_OK)
        h->log(h, OUTPOST_LOG_WARNING, "mapi: dropping associated messages of deleted folders: %s",
               st.message ? st.message : "failed");
    else if (dropped)
        h->log(h, OUTPOST_LOG_INFO, "mapi: dropped the associated messages of %u deleted folders", dropped);
    return st;
}

/* A store listener: runs on a core thread, so it only takes note. */
static void core_on_event(void *ctx, const outpost_store_event *ev)
{
    mapi_core *c = ctx;
    if (ev->kind != OUTPOST_EVENT_FOLDERS)
        return;
    mapi_os_mutex_lock(c->watch_lock);
    c->folders_changed = 1;
    mapi_os_mutex_unlock(c->watch_lock);
}

int mapi_core_watch(mapi_core *c)
{
    const struct outpost_host *h = c->host;
    if (c->watch)
        return 0;
    if (!mapi_fai_supported(h) || !h->store->subscribe)
        return -1;
    outpost_status st = h->store->subscribe(h, core_on_event, c, &c->watch);
    if (st.code != OUTPOST_OK) {
        h->log(h, OUTPOST_LOG_WARNING, "mapi: cannot watch the folder hierarchy (%s): the associated messages "
               "of deleted folders are dropped at the next start only", st.message ? st.message : "failed");
        c->watch = NULL;
        return -1;
    }
    return 0;
}

void mapi_core_unwatch(mapi_core *c)
{
    if (c->watch && c->host && c->host->store)
        c->host->store->unsubscribe(c->host, c->watch);
    c->watch = NULL;
}

void mapi_core_tick(mapi_core *c)
{
    mapi_os_mutex_lock(c->watch_lock);
    int changed = c->folders_changed;
    c->folders_changed = 0;
    mapi_os_mutex_unlock(c->watch_lock);
    if (changed)
        mapi_core_sweep(c); /* a failure is logged; the next change or start sweeps again */
}

/* ---- small helpers ---- */

static void eid_bytes(const mapi_session *s, uint32_t kind, int64_t id, uint8_t out[MAPI_EID_LEN])
{
    mapi_eid e;
    memcpy(e.guid, s->core->ctx.guid, 16);
    e.kind = kind;
    e.id = id;
    mapi_eid_encode(&e, out);
}

static void set_eid(const mapi_session *s, mapi_props *l, uint32_t tag, uint32_t kind, int64_t id)
{
    uint8_t b[MAPI_EID_LEN];
    eid_bytes(s, kind, id, b);
    mapi_props_set_bin(l, tag, b, MAPI_EID_LEN);
}

static uint32_t scode_of(outpost_status st)
{
    switch (st.code) {
    case OUTPOST_OK: return OP_S_OK;
    case OUTPOST_GONE: return OP_MAPI_E_NOT_FOUND;
    case OUTPOST_BAD_DATA: return OP_MAPI_E_INVALID_PARAMETER;
    case OUTPOST_TEMP: return OP_MAPI_E_BUSY;
    case OUTPOST_CONFLICT: return OP_MAPI_E_COLLISION;
    case OUTPOST_FATAL: return OP_MAPI_E_DISK_ERROR;
    default: return OP_MAPI_E_CALL_FAILED;
    }
}

static void log_status(mapi_session *s, const char *what, outpost_status st)
{
    if (st.code != OUTPOST_OK)
        s->h->log(s->h, OUTPOST_LOG_WARNING, "mapi: %s: %s (%s)", what, st.message ? st.message : "failed",
                  outpost_status_class_name(st.code));
}

/* ---- folders from the storage ---- */

typedef struct fol {
    int64_t id, parent;
    uint32_t kind, special, flags, total, unread, uidvalidity;
    uint32_t assoc; /* FAI messages (fols_assoc) */
    char *name;
} fol;

typedef struct fol_list {
    fol *v;
    uint32_t n;
    uint32_t vf_assoc[MAPI_VF_COUNT]; /* FAI messages of the virtual folders (fols_assoc) */
} fol_list;

static void fols_free(fol_list *l)
{
    for (uint32_t i = 0; i < l->n; i++)
        free(l->v[i].name);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static uint32_t fols_load(mapi_session *s, fol_list *l)
{
    memset(l, 0, sizeof *l);
    struct outpost_txn *t;
    outpost_status st = s->st->read_begin(s->h, &t);
    if (st.code != OUTPOST_OK) {
        log_status(s, "read_begin", st);
        return scode_of(st);
    }
    const struct outpost_storage_methods *m = s->st->storage;
    struct outpost_cursor *c;
    st = m->folder_list(t, &c);
    uint32_t sc = OP_S_OK;
    if (st.code == OUTPOST_OK) {
        const void *row;
        while ((st = m->cursor_next(c, &row)).code == OUTPOST_OK && row) {
            const outpost_folder *f = row;
            fol *nv = realloc(l->v, (l->n + 1) * sizeof *nv);
            if (!nv) {
                sc = OP_MAPI_E_NOT_ENOUGH_MEMORY;
                break;
            }
            l->v = nv;
            fol *d = &l->v[l->n++];
            d->id = f->id;
            d->parent = f->parent_id;
            d->kind = f->kind;
            d->special = f->special_use;
            d->flags = f->flags;
            d->total = f->total;
            d->unread = f->unread;
            d->uidvalidity = f->uidvalidity;
            d->assoc = 0;
            d->name = strdup(f->name ? f->name : "");
        }
        if (st.code != OUTPOST_OK)
            sc = scode_of(st);
        m->cursor_close(c);
    } else {
        sc = scode_of(st);
    }
    s->st->read_end(s->h, t);
    if (sc != OP_S_OK)
        fols_free(l);
    return sc;
}

/* Fills the FAI counts of l's folders and of the virtual folders (one read
 * transaction; only each set's header is decoded), or with only_kind
 * MAPI_EID_FOLDER / MAPI_EID_VIRTUAL the count of that one folder only. */
static void fols_assoc(mapi_session *s, fol_list *l, uint32_t only_kind, int64_t only_id)
{
    if (!mapi_fai_supported(s->h))
        return;
    struct outpost_txn *t;
    if (s->st->read_begin(s->h, &t).code != OUTPOST_OK)
        return;
    for (uint32_t i = 0; i < l->n + MAPI_VF_COUNT; i++) {
        mapi_fai_where w = { 0, 0, 0 };
        if (i < l->n) {
            w.folder = l->v[i].id;
            w.uidvalidity = l->v[i].uidvalidity;
        } else if ((w.vf = i - l->n) == 0) {
            continue;
        }
        if (only_kind && (only_kind == MAPI_EID_VIRTUAL ? w.vf != (uint64_t)only_id : w.vf || w.folder != only_id))
            continue;
        char key[MAPI_FAI_KEY_MAX];
        mapi_fai_key(&w, key);
        const void *v = NULL;
        size_t len = 0;
        uint32_t n = 0;
        if (s->st->storage->meta_get(t, key, &v, &len).code == OUTPOST_OK && v)
            n = mapi_fai_count(v, len);
        if (i < l->n)
            l->v[i].assoc = n;
        else
            l->vf_assoc[w.vf] = n;
    }
    s->st->read_end(s->h, t);
}

static const fol *fols_find(const fol_list *l, int64_t id)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (l->v[i].id == id)
            return &l->v[i];
    return NULL;
}

static const fol *fols_special(const fol_list *l, uint32_t use)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (l->v[i].special == use)
            return &l->v[i];
    return NULL;
}

/* The folder Outlook uses for a kind: the first top-level one, else any. */
static const fol *fols_of_kind(const fol_list *l, uint32_t kind)
{
    const fol *any = NULL;
    for (uint32_t i = 0; i < l->n; i++) {
        if (l->v[i].kind != kind || l->v[i].special == OUTPOST_USE_CONFLICTS)
            continue;
        if (l->v[i].parent == 0)
            return &l->v[i];
        if (!any)
            any = &l->v[i];
    }
    return any;
}

static int fols_has_children(const fol_list *l, int64_t id)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (l->v[i].parent == id)
            return 1;
    return 0;
}

static const char *const VF_NAMES[MAPI_VF_COUNT] = { NULL, "Root Container", "Top of Information Store",
                                                     "Finder", "Views", "Common Views" };

static void special_eids(mapi_session *s, const fol_list *l, mapi_props *p)
{
    static const struct { uint32_t tag; uint32_t use; uint32_t kind; } SP[] = {
        { OP_PR_IPM_APPOINTMENT_ENTRYID, 0, OUTPOST_ITEM_EVENT },
        { OP_PR_IPM_CONTACT_ENTRYID, 0, OUTPOST_ITEM_CONTACT },
        { OP_PR_IPM_TASK_ENTRYID, 0, OUTPOST_ITEM_TASK },
        { OP_PR_IPM_NOTE_ENTRYID, 0, OUTPOST_ITEM_NOTE },
        { OP_PR_IPM_DRAFTS_ENTRYID, OUTPOST_USE_DRAFTS, 0 },
    };
    for (size_t i = 0; i < sizeof SP / sizeof SP[0]; i++) {
        const fol *f = SP[i].use ? fols_special(l, SP[i].use) : fols_of_kind(l, SP[i].kind);
        if (f)
            set_eid(s, p, SP[i].tag, MAPI_EID_FOLDER, f->id);
    }
    /* PR_ADDITIONAL_REN_ENTRYIDS: conflicts, sync issues, local failures,
     * server failures, junk (MS-OXOSFLD 2.2.4). */
    const fol *conf = fols_special(l, OUTPOST_USE_CONFLICTS), *junk = fols_special(l, OUTPOST_USE_JUNK);
    uint8_t b[5][MAPI_EID_LEN];
    const void *v[5];
    uint32_t lens[5];
    for (int i = 0; i < 5; i++) {
        const fol *f = i == 0 ? conf : i == 4 ? junk : NULL;
        if (f) {
            eid_bytes(s, MAPI_EID_FOLDER, f->id, b[i]);
            v[i] = b[i];
            lens[i] = MAPI_EID_LEN;
        } else {
            v[i] = "";
            lens[i] = 0;
        }
    }
    mapi_props_set_mvbin(p, 0x36D81102u, v, lens, 5);
}

static void store_common(mapi_session *s, mapi_props *p)
{
    set_eid(s, p, OP_PR_STORE_ENTRYID, MAPI_EID_STORE, 0);
    mapi_props_set_bin(p, OP_PR_STORE_RECORD_KEY, s->core->ctx.guid, 16);
    mapi_props_set_long(p, OP_PR_STORE_SUPPORT_MASK, (int32_t)SUPPORT_MASK);
    mapi_props_set_bin(p, OP_PR_MAPPING_SIGNATURE, s->core->ctx.guid, 16);
}

static void store_props(mapi_session *s, const fol_list *l, mapi_props *p)
{
    set_eid(s, p, OP_PR_ENTRYID, MAPI_EID_STORE, 0);
    mapi_props_set_bin(p, OP_PR_RECORD_KEY, s->core->ctx.guid, 16);
    store_common(s, p);
    mapi_props_set_bin(p, OP_PR_MDB_PROVIDER, MAPI_OUTPOST_PROVIDER_UID, 16);
    mapi_props_set_str(p, OP_PR_DISPLAY_NAME, s->core->display_name);
    mapi_props_set_str(p, OP_PR_PROVIDER_DISPLAY, "Outpost offline store");
    mapi_props_set_long(p, OP_PR_OBJECT_TYPE, OP_MAPI_STORE);
    mapi_props_set_long(p, OP_PR_STORE_STATE, 0);
    mapi_props_set_long(p, OP_PR_ACCESS_LEVEL, 1);
    uint32_t valid = OP_FOLDER_IPM_SUBTREE_VALID | OP_FOLDER_VIEWS_VALID | OP_FOLDER_COMMON_VIEWS_VALID |
                     OP_FOLDER_FINDER_VALID;
    set_eid(s, p, OP_PR_IPM_SUBTREE_ENTRYID, MAPI_EID_VIRTUAL, MAPI_VF_IPM_SUBTREE);
    set_eid(s, p, OP_PR_FINDER_ENTRYID, MAPI_EID_VIRTUAL, MAPI_VF_FINDER);
    set_eid(s, p, OP_PR_VIEWS_ENTRYID, MAPI_EID_VIRTUAL, MAPI_VF_VIEWS);
    set_eid(s, p, OP_PR_COMMON_VIEWS_ENTRYID, MAPI_EID_VIRTUAL, MAPI_VF_COMMON_VIEWS);
    const fol *f;
    if (fols_special(l, OUTPOST_USE_INBOX))
        valid |= OP_FOLDER_IPM_INBOX_VALID;
    if ((f = fols_special(l, OUTPOST_USE_OUTBOX))) {
        valid |= OP_FOLDER_IPM_OUTBOX_VALID;
        set_eid(s, p, OP_PR_IPM_OUTBOX_ENTRYID, MAPI_EID_FOLDER, f->id);
    }
    if ((f = fols_special(l, OUTPOST_USE_TRASH))) {
        valid |= OP_FOLDER_IPM_WASTEBASKET_VALID;
        set_eid(s, p, OP_PR_IPM_WASTEBASKET_ENTRYID, MAPI_EID_FOLDER, f->id);
    }
    if ((f = fols_special(l, OUTPOST_USE_SENT))) {
        valid |= OP_FOLDER_IPM_SENTMAIL_VALID;
        set_eid(s, p, OP_PR_IPM_SENTMAIL_ENTRYID, MAPI_EID_FOLDER, f->id);
    }
    mapi_props_set_long(p, OP_PR_VALID_FOLDER_MASK, (int32_t)valid);
}

/* PR_ACCESS of a folder (real: f != NULL; else virtual folder vf): what
 * the calls on it will really allow, so Outlook offers no command that
 * fails. The core refuses to delete special-use folders (Inbox, Sent Items,
 * Conflicts, ...); a virtual folder holds associated messages only, and
 * subfolders only under Top of Information Store. */
static uint32_t folder_access(const fol *f, uint32_t vf)
{
    if (!f)
        return OP_ACCESS_READ | OP_ACCESS_CREATE_ASSOCIATED |
               (vf == MAPI_VF_IPM_SUBTREE ? OP_ACCESS_CREATE_HIERARCHY : 0);
    return f->special == OUTPOST_USE_NONE ? ACCESS_FOLDER : ACCESS_FOLDER & ~OP_ACCESS_DELETE;
}

/* Properties of a folder (real: f != NULL; else virtual folder vf). */
static void folder_props(mapi_session *s, const fol_list *l, const fol *f, uint32_t vf, mapi_props *p)
{
    uint32_t ekind = f ? MAPI_EID_FOLDER : MAPI_EID_VIRTUAL;
    int64_t id = f ? f->id : (int64_t)vf;
    set_eid(s, p, OP_PR_ENTRYID, ekind, id);
    uint8_t b[MAPI_EID_LEN];
    eid_bytes(s, ekind, id, b);
    mapi_props_set_bin(p, OP_PR_RECORD_KEY, b, MAPI_EID_LEN);
    mapi_props_set_key(p, OP_PR_INSTANCE_KEY, f ? (uint64_t)f->id : (0x8000000000000000ull | vf));
    if (f && f->parent)
        set_eid(s, p, OP_PR_PARENT_ENTRYID, MAPI_EID_FOLDER, f->parent);
    else
        set_eid(s, p, OP_PR_PARENT_ENTRYID, MAPI_EID_VIRTUAL,
                (f || vf != MAPI_VF_ROOT) ? (f ? MAPI_VF_IPM_SUBTREE : MAPI_VF_ROOT) : MAPI_VF_ROOT);
    store_common(s, p);
    mapi_props_set_long(p, OP_PR_OBJECT_TYPE, OP_MAPI_FOLDER);
    mapi_props_set_long(p, OP_PR_ACCESS, (int32_t)folder_access(f, vf));
    mapi_props_set_long(p, OP_PR_ACCESS_LEVEL, 1);
    mapi_props_set_bool(p, OP_PR_ATTR_HIDDEN, 0);
    uint32_t assoc = f ? f->assoc : vf < MAPI_VF_COUNT ? l->vf_assoc[vf] : 0;
    mapi_props_set_long(p, OP_PR_ASSOC_CONTENT_COUNT, (int32_t)assoc);
    if (f) {
        mapi_props_set_str(p, OP_PR_DISPLAY_NAME, f->name);
        const char *cc = mapi_container_class(f->kind);
        mapi_props_set_str(p, OP_PR_CONTAINER_CLASS, cc ? cc : "IPF.Note");
        mapi_props_set_long(p, OP_PR_FOLDER_TYPE, OP_FOLDER_GENERIC);
        mapi_props_set_long(p, OP_PR_CONTENT_COUNT, (int32_t)f->total);
        mapi_props_set_long(p, OP_PR_CONTENT_UNREAD, (int32_t)f->unread);
        mapi_props_set_bool(p, OP_PR_SUBFOLDERS, fols_has_children(l, f->id));
        if (f->special == OUTPOST_USE_INBOX)
            special_eids(s, l, p);
    } else {
        mapi_props_set_str(p, OP_PR_DISPLAY_NAME, vf == MAPI_VF_ROOT ? "" : VF_NAMES[vf]);
        mapi_props_set_long(p, OP_PR_FOLDER_TYPE, vf == MAPI_VF_ROOT ? OP_FOLDER_ROOT : OP_FOLDER_GENERIC);
        mapi_props_set_long(p, OP_PR_CONTENT_COUNT, 0);
        mapi_props_set_long(p, OP_PR_CONTENT_UNREAD, 0);
        int children = vf == MAPI_VF_ROOT || (vf == MAPI_VF_IPM_SUBTREE && l->n > 0);
        mapi_props_set_bool(p, OP_PR_SUBFOLDERS, children);
        if (vf == MAPI_VF_ROOT)
            special_eids(s, l, p);
    }
}

/* ---- search folders (mapi_search.h) ---- */

/* SCODE of a failed read or write of the search folders: damaged is
 * MAPI_E_CORRUPT_DATA. */
static uint32_t search_scode(outpost_status st)
{
    return st.code == OUTPOST_BAD_DATA ? OP_MAPI_E_CORRUPT_DATA : scode_of(st);
}

typedef struct rowset {
    mapi_row *v;
    uint32_t n, cap;
} rowset;

static mapi_row *rows_push(rowset *rs, uint64_t key)
{
    if (rs->n == rs->cap) {
        uint32_t cap = rs->cap ? rs->cap * 2 : 16;
        mapi_row *nv = realloc(rs->v, cap * sizeof *nv);
        if (!nv)
            return NULL;
        rs->v = nv;
        rs->cap = cap;
    }
    mapi_row *r = &rs->v[rs->n++];
    r->key = key;
    r->stamp = 0;
    mapi_props_init(&r->props);
    return r;
}

static void rows_free(rowset *rs)
{
    for (uint32_t i = 0; i < rs->n; i++)
        mapi_props_free(&rs->v[i].props);
    free(rs->v);
    memset(rs, 0, sizeof *rs);
}

static uint32_t folder_rows(mapi_session *s, int64_t fid, rowset *rs);
static uint32_t lazy_rows(mapi_session *s, const struct mapi_obj *t, const mapi_table *old, rowset *rs);
static uint32_t search_rows(mapi_session *s, const fol_list *l, const mapi_search_folder *sf, rowset *rs);

/* Properties of search folder sf; count/unread: its matching messages. */
static void search_folder_props(mapi_session *s, const mapi_search_folder *sf, uint32_t count, uint32_t unread,
                                mapi_props *p)
{
    set_eid(s, p, OP_PR_ENTRYID, MAPI_EID_SEARCH, sf->num);
    uint8_t b[MAPI_EID_LEN];
    eid_bytes(s, MAPI_EID_SEARCH, sf->num, b);
    mapi_props_set_bin(p, OP_PR_RECORD_KEY, b, MAPI_EID_LEN);
    mapi_props_set_key(p, OP_PR_INSTANCE_KEY, 0x4000000000000000ull | sf->num);
    set_eid(s, p, OP_PR_PARENT_ENTRYID, MAPI_EID_VIRTUAL, MAPI_VF_FINDER);
    store_common(s, p);
    mapi_props_set_long(p, OP_PR_OBJECT_TYPE, OP_MAPI_FOLDER);
    mapi_props_set_long(p, OP_PR_ACCESS, (int32_t)(OP_ACCESS_READ | OP_ACCESS_MODIFY | OP_ACCESS_DELETE));
    mapi_props_set_long(p, OP_PR_ACCESS_LEVEL, 1);
    mapi_props_set_bool(p, OP_PR_ATTR_HIDDEN, 0);
    mapi_props_set_long(p, OP_PR_ASSOC_CONTENT_COUNT, 0);
    mapi_props_set_str(p, OP_PR_DISPLAY_NAME, sf->name);
    if (sf->cls && *sf->cls)
        mapi_props_set_str(p, OP_PR_CONTAINER_CLASS, sf->cls);
    mapi_props_set_long(p, OP_PR_FOLDER_TYPE, OP_FOLDER_SEARCH);
    mapi_props_set_long(p, OP_PR_CONTENT_COUNT, (int32_t)count);
    mapi_props_set_long(p, OP_PR_CONTENT_UNREAD, (int32_t)unread);
    mapi_props_set_bool(p, OP_PR_SUBFOLDERS, 0);
}

/* The rows of the search folders (the Finder's hierarchy table) at depth. */
static uint32_t search_hier_rows(mapi_session *s, const fol_list *l, int depth, rowset *rs);
static void search_subfolders(mapi_session *s, mapi_props *p);

/* Reloads this connection's tables and notifies its advises at the next
 * poll (a search folder's criteria or the Finder's hierarchy changed). */
static void search_changed(mapi_session *s)
{
    mapi_os_mutex_lock(s->ev_lock);
    s->ev_hierarchy = 1;
    s->ev_overflow = 1;
    mapi_os_mutex_unlock(s->ev_lock);
}

/* ---- items ---- */

typedef struct itm {
    outpost_item it;
    uint8_t *content;
    size_t len;
    uint32_t msgstatus; /* PR_MSG_STATUS (SetMessageStatus), msgstatus_get */
} itm;

/* SetMessageStatus's bits of an item, kept in its property bag (prop_set:
 * local-only, never sent to the server) as 4 bytes little-endian. */
#define MSGSTATUS_PROP "mapi.msgstatus"

/* The status kept for item id, read in transaction t (0 when none). */
static uint32_t msgstatus_get(mapi_session *s, struct outpost_txn *t, int64_t id)
{
    const void *v = NULL;
    size_t len = 0;
    if (!OUTPOST_HAS_METHOD(s->st, struct outpost_store_api, prop_set) ||
        s->st->storage->prop_get(t, id, MSGSTATUS_PROP, &v, &len).code != OUTPOST_OK || !v || len != 4)
        return 0;
    const uint8_t *b = v;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static char *sdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void itm_free(itm *x)
{
    free((char *)x->it.remote_id);
    free((char *)x->it.remote_version);
    free((char *)x->it.keywords);
    free((char *)x->it.subject);
    free((char *)x->it.from);
    free((char *)x->it.to);
    free((char *)x->it.cc);
    free((char *)x->it.message_id);
    free((char *)x->it.object_uid);
    free((char *)x->it.envelope);
    free((char *)x->it.bodystructure);
    free((char *)x->it.preview);
    free(x->content);
    memset(x, 0, sizeof *x);
}

static void itm_copy(itm *d, const outpost_item *it)
{
    memset(d, 0, sizeof *d);
    d->it = *it;
    d->it.struct_size = sizeof d->it;
    d->it.remote_id = sdup(it->remote_id);
    d->it.remote_version = sdup(it->remote_version);
    d->it.keywords = sdup(it->keywords);
    d->it.subject = sdup(it->subject);
    d->it.from = sdup(it->from);
    d->it.to = sdup(it->to);
    d->it.cc = sdup(it->cc);
    d->it.message_id = sdup(it->message_id);
    d->it.object_uid = sdup(it->object_uid);
    d->it.envelope = sdup(it->envelope);
    d->it.bodystructure = sdup(it->bodystructure);
    d->it.preview = sdup(it->preview);
}

static void read_content(mapi_session *s, struct outpost_txn *t, itm *x)
{
    const struct outpost_storage_methods *m = s->st->storage;
    mapi_buf b;
    mapi_buf_init(&b);
    uint8_t chunk[65536];
    for (uint64_t off = 0; off < MAX_CONTENT;) {
        size_t got = 0;
        outpost_status st = m->content_read(t, x->it.id, off, chunk, sizeof chunk, &got);
        if (st.code != OUTPOST_OK || got == 0)
            break;
        mapi_buf_add(&b, chunk, got);
        off += got;
    }
    if (b.oom || b.len == 0) {
        mapi_buf_free(&b);
        return;
    }
    x->len = b.len;
    x->content = b.data;
}

/* Loads one item (and its content when `content`). */
static uint32_t item_load(mapi_session *s, int64_t id, int content, itm *x)
{
    memset(x, 0, sizeof *x);
    if (content) {
        /* Ask for the body when it is not cached; bounded, never queued behind a sync batch. */
        struct outpost_txn *t0;
        const outpost_item *it0;
        int need = 0;
        if (s->st->read_begin(s->h, &t0).code == OUTPOST_OK) {
            if (s->st->storage->item_get(t0, id, &it0).code == OUTPOST_OK)
                need = it0->content_state != OUTPOST_CONTENT_COMPLETE;
            s->st->read_end(s->h, t0);
        }
        if (need && s->st->request_content)
            s->st->request_content(s->h, id, s->core->content_timeout_ms);
    }
    struct outpost_txn *t;
    outpost_status st = s->st->read_begin(s->h, &t);
    if (st.code != OUTPOST_OK)
        return scode_of(st);
    const outpost_item *it;
    st = s->st->storage->item_get(t, id, &it);
    if (st.code == OUTPOST_OK) {
        itm_copy(x, it);
        x->msgstatus = msgstatus_get(s, t, id);
        /* only a whole content: a summary-only mail may hold just its header block */
        if (content && it->content_state == OUTPOST_CONTENT_COMPLETE)
            read_content(s, t, x);
    }
    s->st->read_end(s->h, t);
    return st.code == OUTPOST_GONE ? OP_MAPI_E_NOT_FOUND : scode_of(st);
}

/* A message's entry id and the keys made from it (kind MESSAGE or ASSOC). */
static void message_keys(mapi_session *s, mapi_props *p, uint32_t ekind, int64_t id)
{
    set_eid(s, p, OP_PR_ENTRYID, ekind, id);
    uint8_t b[MAPI_EID_LEN];
    eid_bytes(s, ekind, id, b);
    mapi_props_set_bin(p, OP_PR_RECORD_KEY, b, MAPI_EID_LEN);
    mapi_props_set_bin(p, OP_PR_SEARCH_KEY, b, MAPI_EID_LEN);
    mapi_props_set_key(p, OP_PR_INSTANCE_KEY, (uint64_t)id);
}

/* A message's parent folder (kind FOLDER or VIRTUAL), store and access. */
static void message_place(mapi_session *s, mapi_props *p, uint32_t parent_kind, int64_t parent)
{
    set_eid(s, p, OP_PR_PARENT_ENTRYID, parent_kind, parent);
    store_common(s, p);
    mapi_props_set_long(p, OP_PR_OBJECT_TYPE, OP_MAPI_MESSAGE);
    mapi_props_set_long(p, OP_PR_ACCESS, (int32_t)ACCESS_MESSAGE);
    mapi_props_set_long(p, OP_PR_ACCESS_LEVEL, 1);
}

static void message_common(mapi_session *s, const outpost_item *it, uint32_t msgstatus, mapi_props *p)
{
    message_keys(s, p, MAPI_EID_MESSAGE, it->id);
    message_place(s, p, MAPI_EID_FOLDER, it->folder_id);
    mapi_props_set_long(p, OP_PR_MSG_STATUS, (int32_t)msgstatus);
}

/* ---- objects and handles ---- */

static uint32_t obj_add(mapi_session *s, mapi_obj *o)
{
    for (uint32_t i = 0; i < s->nobjs; i++)
        if (!s->objs[i]) {
            s->objs[i] = o;
            return i + 1;
        }
    if (s->nobjs >= 65536)
        return 0;
    mapi_obj **n = realloc(s->objs, (s->nobjs + 1) * sizeof *n);
    if (!n)
        return 0;
    s->objs = n;
    s->objs[s->nobjs++] = o;
    return s->nobjs;
}

static mapi_obj *obj_get(mapi_session *s, uint32_t h, uint32_t type)
{
    if (h == 0 || h > s->nobjs || !s->objs[h - 1])
        return NULL;
    mapi_obj *o = s->objs[h - 1];
    return (type == 0 || o->type == type) ? o : NULL;
}

static void obj_free(mapi_obj *o)
{
    if (!o)
        return;
    free(o->keywords);
    free(o->object_uid);
    mapi_message_free(&o->msg);
    mapi_props_free(&o->att);
    if (o->type == OBJ_TABLE)
        mapi_table_free(&o->tbl);
    free(o->keep);
    free(o);
}

static void advise_drop_table(mapi_session *s, uint32_t table)
{
    for (uint32_t i = 0; i < s->nadv; i++)
        if (s->adv[i].conn && s->adv[i].table == table)
            s->adv[i].conn = 0;
}

static void obj_release(mapi_session *s, uint32_t h)
{
    mapi_obj *o = obj_get(s, h, 0);
    if (!o)
        return;
    if (o->type == OBJ_TABLE)
        advise_drop_table(s, h);
    obj_free(o);
    s->objs[h - 1] = NULL;
}

static void on_event(void *ctx, const outpost_store_event *ev)
{
    mapi_session *s = ctx;
    mapi_os_mutex_lock(s->ev_lock);
    if (ev->kind == OUTPOST_EVENT_FOLDERS) {
        s->ev_hierarchy = 1;
    } else if (ev->kind == OUTPOST_EVENT_ITEMS || ev->kind == OUTPOST_EVENT_CONTENT) {
        s->ev_hierarchy = 1; /* counts in hierarchy rows */
        uint32_t i;
        for (i = 0; i < s->nev; i++)
            if (s->ev_folders[i] == ev->folder_id)
                break;
        if (i == s->nev) {
            if (s->nev < MAX_EVENTS)
                s->ev_folders[s->nev++] = ev->folder_id;
            else
                s->ev_overflow = 1;
        }
    }
    mapi_os_mutex_unlock(s->ev_lock);
}

mapi_session *mapi_session_new(mapi_core *core)
{
    mapi_session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->core = core;
    s->h = core->host;
    s->st = core->host->store;
    s->next_conn = 1;
    mapi_os_mutex_lock(core->fai_lock);
    s->fai_seen = core->fai_gen;
    mapi_os_mutex_unlock(core->fai_lock);
    s->ev_lock = mapi_os_mutex_new();
    if (!s->ev_lock) {
        free(s);
        return NULL;
    }
    return s;
}

void mapi_session_free(mapi_session *s)
{
    if (!s)
        return;
    if (s->sub)
        s->st->unsubscribe(s->h, s->sub);
    for (uint32_t i = 0; i < s->nobjs; i++)
        obj_free(s->objs[i]);
    free(s->objs);
    free(s->adv);
    mapi_os_mutex_free(s->ev_lock);
    free(s);
}

int mapi_session_authenticated(const mapi_session *s)
{
    return s->authed;
}

/* ---- replies ---- */

typedef struct reply {
    mapi_buf *out;
    size_t start;
    size_t sc_at;
} reply;

static void reply_begin(reply *r, mapi_buf *out, const mapi_frame *f)
{
    r->out = out;
    r->start = mapi_w_begin(out, f->op, MAPI_WF_REPLY, f->id);
    r->sc_at = out->len;
    mapi_w_u32(out, 0);
}

static void reply_end(reply *r, uint32_t sc)
{
    if (!r->out->oom) {
        if (OP_FAILED(sc))
            r->out->len = r->sc_at + 4; /* a failed reply carries only its SCODE */
        uint8_t *p = r->out->data + r->sc_at;
        p[0] = (uint8_t)sc;
        p[1] = (uint8_t)(sc >> 8);
        p[2] = (uint8_t)(sc >> 16);
        p[3] = (uint8_t)(sc >> 24);
    }
    mapi_w_end(r->out, r->start);
}

/* ---- opening ---- */

static uint32_t open_folder_obj(mapi_session *s, uint32_t ekind, int64_t id, uint32_t *h)
{
    if (ekind == MAPI_EID_FOLDER) {
        fol_list l;
        uint32_t sc = fols_load(s, &l);
        if (sc)
            return sc;
        int found = fols_find(&l, id) != NULL;
        fols_free(&l);
        if (!found)
            return OP_MAPI_E_NOT_FOUND;
    } else if (ekind == MAPI_EID_SEARCH) {
        mapi_search_set set;
        outpost_status st = mapi_search_load(s->h, &set);
        int found = st.code == OUTPOST_OK && id <= UINT32_MAX && mapi_search_find(&set, (uint32_t)id);
        mapi_search_set_free(&set);
        if (st.code != OUTPOST_OK)
            return search_scode(st);
        if (!found)
            return OP_MAPI_E_NOT_FOUND;
    }
    mapi_obj *o = calloc(1, sizeof *o);
    if (!o)
        return OP_MAPI_E_NOT_ENOUGH_MEMORY;
    o->type = OBJ_FOLDER;
    o->ekind = ekind;
    o->id = id;
    if (!(*h = obj_add(s, o))) {
        obj_free(o);
        return OP_MAPI_E_NOT_ENOUGH_MEMORY;
    }
    return OP_S_OK;
}

/* ---- per-message properties the mapping cannot carry ---- */

/* Properties Outlook sets that have no home in MIME, iCalendar or vCard
 * (icon index, flag due dates, arbitrary named properties) live in the
 * item's property bag under this name, as wire-encoded props, when the
 * store API can write it (prop_set, appended after ABI 1.0). Local-only:
 * never sent to the server. */
static int computed(uint32_t tag);
static int flag_prop(const mapi_core *c, uint32_t tag);

#define EXTRAS_PROP "mapi.props"
#define EXTRA_MAX_VALUE (32u * 1024u)
#define EXTRAS_MAX (256u * 1024u)

static int extras_supported(const mapi_session *s)
{
    return OUTPOST_HAS_METHOD(s->st, struct outpost_store_api, prop_set);
}

/* Adds the stored extras to p where p has no value of its own. */
static void extras_load(mapi_session *s, int64_t id, mapi_props *p)
{
    struct outpost_txn *t;
    if (s->st->read_begin(s->h, &t).code != OUTPOST_OK)
        return;
    const void *v = NULL;
    size_t len = 0;
    if (s->st->storage->prop_get(t, id, EXTRAS_PROP, &v, &len).code == OUTPOST_OK && v) {
        mapi_props extra;
        mapi_props_init(&extra);
        mapi_rd rd;
        mapi_rd_init(&rd, v, len);
        if (mapi_r_props(&rd, &extra) == 0)
            for (uint32_t i = 0; i < extra.n; i++)
                if (!mapi_props_find(p, extra.p[i].tag))
                    mapi_props_put(p, &extra.p[i]);
        mapi_props_free(&extra);
    }
    s->st->read_end(s->h, t);
}

static int extra_candidate(const mapi_session *s, const mapi_prop *p)
{
    if (computed(p->tag) || flag_prop(s->core, p->tag) || OP_PROP_TYPE(p->tag) == OP_PT_ERROR)
        return 0;
    if (mapi_type_is_bytes(OP_PROP_TYPE(p->tag)) && !(p->tag & OP_MV_FLAG) && p->v.bin.len > EXTRA_MAX_VALUE)
        return 0;
    return 1;
}

/* Stores what `before` (the object as Outlook saved it) has and `mapped`
 * (the item as its content maps back) lacks. */
static void extras_save(mapi_session *s, int64_t id, const mapi_props *before, const mapi_props *mapped)
{
    mapi_props extra;
    mapi_props_init(&extra);
    for (uint32_t i = 0; i < before->n; i++)
        if (extra_candidate(s, &before->p[i]) && !mapi_props_find(mapped, before->p[i].tag))
            mapi_props_put(&extra, &before->p[i]);
    mapi_buf b;
    mapi_buf_init(&b);
    if (extra.n)
        mapi_w_props(&b, &extra);
    if (b.oom || b.len > EXTRAS_MAX) {
        s->h->log(s->h, OUTPOST_LOG_WARNING, "mapi: %u properties of message %lld not kept (%zu bytes, limit %u)",
                  extra.n, (long long)id, b.len, EXTRAS_MAX);
    } else {
        outpost_status st = s->st->prop_set(s->h, id, EXTRAS_PROP, extra.n ? b.data : NULL, b.len);
        log_status(s, "prop_set", st);
    }
    mapi_buf_free(&b);
    mapi_props_free(&extra);
}

static uint32_t message_load_mapped(mapi_session *s, mapi_obj *o, int64_t id);

static uint32_t message_load(mapi_session *s, mapi_obj *o, int64_t id)
{
    uint32_t sc = message_load_mapped(s, o, id);
    if (!sc && extras_supported(s))
        extras_load(s, id, &o->msg.props);
    return sc;
}

/* The message as its content maps, without the stored extras. */
static uint32_t message_load_mapped(mapi_session *s, mapi_obj *o, int64_t id)
{
    itm x;
    uint32_t sc = item_load(s, id, 1, &x);
    if (sc)
        return sc;
    mapi_message_free(&o->msg);
    o->partial = !x.content;
    if (mapi_map_content(&s->core->ctx, &x.it, x.content, x.len, 1, &o->msg) != 0) {
        /* Unreadable content: serve the summary rather than nothing. */
        mapi_message_free(&o->msg);
        mapi_map_summary(&s->core->ctx, &x.it, &o->msg.props);
        o->partial = 1;
    }
    message_common(s, &x.it, x.msgstatus, &o->msg.props);
    o->id = id;
    o->folder_id = x.it.folder_id;
    o->item_kind = x.it.kind;
    o->item_flags = x.it.flags;
    free(o->keywords);
    free(o->object_uid);
    o->keywords = sdup(x.it.keywords);
    o->object_uid = sdup(x.it.object_uid);
    itm_free(&x);
    return OP_S_OK;
}

/* ---- associated (FAI) messages (mapi_fai.h) ---- */

/* The set of folder (ekind, id): a virtual folder, or a folder of the cache
 * with its UIDVALIDITY. */
static uint32_t fai_where_of(mapi_session *s, uint32_t ekind, int64_t id, mapi_fai_where *w)
{
    memset(w, 0, sizeof *w);
    if (ekind == MAPI_EID_VIRTUAL) {
        if (id <= 0 || id >= MAPI_VF_COUNT)
            return OP_MAPI_E_NOT_FOUND;
        w->vf = (uint32_t)id;
        return OP_S_OK;
    }
    if (ekind != MAPI_EID_FOLDER)
        return OP_MAPI_E_INVALID_PARAMETER;
    fol_list l;
    uint32_t sc = fols_load(s, &l);
    if (sc)
        return sc;
    const fol *f = fols_find(&l, id);
    if (f) {
        w->folder = id;
        w->uidvalidity = f->uidvalidity;
    }
    fols_free(&l);
    if (f && mapi_fai_eid_id(w, 1) == 0)
        return OP_MAPI_E_NO_SUPPORT; /* a folder id too large for an FAI entry id (>= 2^36) */
    return f ? OP_S_OK : OP_MAPI_E_NOT_FOUND;
}

/* SCODE of a failed FAI read: a damaged set is MAPI_E_CORRUPT_DATA. */
static uint32_t fai_scode(outpost_status st)
{
    return st.code == OUTPOST_BAD_DATA ? OP_MAPI_E_CORRUPT_DATA : scode_of(st);
}

/* SCODE of a failed mapi_fai_store: too large is MAPI_E_STORE_FULL, a
 * folder deleted meanwhile MAPI_E_OBJECT_DELETED. */
static uint32_t fai_store_scode(outpost_status st)
{
    return st.code == OUTPOST_BAD_DATA ? OP_MAPI_E_STORE_FULL
           : st.code == OUTPOST_GONE   ? OP_MAPI_E_OBJECT_DELETED
                                       : scode_of(st);
}

/* Properties the provider computes for an FAI message; never stored. */
static int fai_computed(uint32_t tag)
{
    uint32_t id = OP_PROP_ID(tag);
    return computed(tag) || OP_PROP_TYPE(tag) == OP_PT_ERROR || id == OP_PROP_ID(OP_PR_SEARCH_KEY) ||
           id == OP_PROP_ID(OP_PR_MAPPING_SIGNATURE) || id == OP_PROP_ID(OP_PR_ASSOCIATED);
}

/* Adds the computed properties of FAI message num of w (size: stored bytes). */
static void fai_common(mapi_session *s, const mapi_fai_where *w, uint32_t num, uint32_t natts, uint32_t size,
                       mapi_props *p)
{
    if (num)
        message_keys(s, p, MAPI_EID_ASSOC, mapi_fai_eid_id(w, num));
    message_place(s, p, w->vf ? MAPI_EID_VIRTUAL : MAPI_EID_FOLDER, w->vf ? (int64_t)w->vf : w->folder);
    mapi_props_set_bool(p, OP_PR_ASSOCIATED, 1);
    mapi_props_set_bool(p, OP_PR_HASATTACH, natts > 0);
    mapi_props_set_long(p, OP_PR_MESSAGE_SIZE, (int32_t)(size > INT32_MAX ? INT32_MAX : size));
    /* MSGFLAG_ASSOCIATED is read-only; read state means nothing for FAI */
    int32_t mf = mapi_props_long(p, OP_PR_MESSAGE_FLAGS, 0) & ~(int32_t)OP_MSGFLAG_HASATTACH;
    mf |= (int32_t)(OP_MSGFLAG_ASSOCIATED | OP_MSGFLAG_READ) | (natts ? (int32_t)OP_MSGFLAG_HASATTACH : 0);
    mapi_props_set_long(p, OP_PR_MESSAGE_FLAGS, mf);
    if (!mapi_props_find(p, OP_PR_MSG_STATUS))
        mapi_props_set_long(p, OP_PR_MSG_STATUS, 0);
}

/* A new FAI message object in the set of w. */
static uint32_t fai_create(mapi_session *s, const mapi_fai_where *w, uint32_t *h)
{
    mapi_obj *m = calloc(1, sizeof *m);
    if (!m)
        return OP_MAPI_E_NOT_ENOUGH_MEMORY;
    m->type = OBJ_MESSAGE;
    m->is_new = 1;
    m->assoc = 1;
    m->fw = *w;
    m->folder_id = w->folder;
    mapi_props_set_str(&m->msg.props, OP_PR_MESSAGE_CLASS, "IPM.Note");
    int64_t now = mapi_filetime_from_ms(s->h->now_ms(s->h));
    mapi_props_set_i8(&m->msg.props, OP_PR_CREATION_TIME, now);
    mapi_props_set_i8(&m->msg.props, OP_PR_LAST_MODIFICATION_TIME, now);
    fai_common(s, w, 0, 0, 0, &m->msg.props);
    if (!(*h = obj_add(s, m))) {
        obj_free(m);
        return OP_MAPI_E_NOT_ENOUGH_MEMORY;
    }
    return OP_S_OK;
}

/* Opens FAI message `id` (an entry id's id) into o. */
static uint32_t fai_open(mapi_session *s, mapi_obj *o, int64_t id)
{
    mapi_fai_where w;
    uint32_t vf, num;
    int64_t folder;
    if (mapi_fai_eid_split(id, &vf, &folder, &num) != 0)
        return OP_MAPI_E_INVALID_ENTRYID;
    uint32_t sc = fai_where_of(s, vf ? MAPI_EID_VIRTUAL : MAPI_EID_FOLDER, vf ? (int64_t)vf : folder, &w);
    if (sc)
        return sc;
    mapi_fai_set set;
    outpost_status st = mapi_fai_load(s->h, &w, &set);
    if (st.code != OUTPOST_OK)
        return fai_scode(st);
    const mapi_fai_msg *fm = mapi_fai_find(&set, num);
    if (!fm) {
        mapi_fai_set_free(&set);
        return OP_MAPI_E_NOT_FOUND;
    }
    mapi_message_free(&o->msg);
    if (mapi_message_copy(&o->msg, &fm->msg) != 0) {
        mapi_fai_set_free(&set);
        return OP_MAPI_E_NOT_ENOUGH_MEMORY;
    }
    mapi_fai_set_free(&set);
    o->assoc = 1;
    o->fw = w;
    o->fai_num = num;
    o->folder_id = w.folder;
    o->id = id;
    fai_common(s, &w, num, o->msg.natts, mapi_fai_msg_size(&o->msg), &o->msg.props);
    return OP_S_OK;
}

/* Records that the set of w changed: every session refreshes its associated
 * and hierarchy tables and notifies object advises on that folder. */
static void fai_changed(mapi_session *s, const mapi_fai_where *w)
{
    mapi_core *c = s->core;
    mapi_os_mutex_lock(c->fai_lock);
    mapi_fai_change *ch = &c->fai_log[++c->fai_gen % MAPI_FAI_LOG];
    ch->gen = c->fai_gen;
    ch->vf = w->vf;
    ch->folder = w->folder;
    mapi_os_mutex_unlock(c->fai_lock);
}

/* SaveChanges of an FAI message: its properties, recipients and attachments
 * replace the stored ones in its folder's set (one meta write). */
static uint32_t fai_save(mapi_session *s, mapi_obj *o, reply *r)
{
    mapi_message keep;
    memset(&keep, 0, sizeof keep);
    keep.recips = o->msg.recips;
    keep.nrecips = o->msg.nrecips;
    keep.atts = o->msg.atts;
    keep.natts = o->msg.natts;
    keep.next_att = o->msg.next_att;
    mapi_props_init(&keep.props);
    mapi_props_set_i8(&o->msg.props, OP_PR_LAST_MODIFICATION_TIME, mapi_filetime_from_ms(s->h->now_ms(s->h)));
    for (uint32_t i = 0; i < o->msg.props.n; i++)
        if (!fai_computed(o->msg.props.p[i].tag) && mapi_props_put(&keep.props, &o->msg.props.p[i]) != 0) {
            mapi_props_free(&keep.props);
            return OP_MAPI_E_NOT_ENOUGH_MEMORY;
        }
    int32_t mf = mapi_props_long(&keep.props, OP_PR_MESSAGE_FLAGS, 0);
    mapi_props_set_long(&keep.props, OP_PR_MESSAGE_FLAGS,
                        mf & ~(int32_t)(OP_MSGFLAG_ASSOCIATED | OP_MSGFLAG_HASATTACH | OP_MSGFLAG_READ));
    uint32_t sc = OP_S_OK;
    mapi_os_mutex_lock(s->core->fai_lock);
    mapi_fai_set set;
    outpost_status st = mapi_fai_load(s->h, &o->fw, &set);
    uint32_t num = o->fai_num;
    if (st.code != OUTPOST_OK) {
        sc = fai_scode(st);
    } else if (!num && set.next > MAPI_FAI_NUM_MAX) {
        sc = OP_MAPI_E_STORE_FULL;
    } else if (num && !mapi_fai_find(&set, num)) {
        sc = OP_MAPI_E_OBJECT_DELETED; /* deleted since it was opened */
    } else {
        if (!num)
            num = set.next;
        if (mapi_fai_put(&set, num, &keep) != 0) {
            sc = OP_MAPI_E_NOT_ENOUGH_MEMORY;
        } else {
            st = mapi_fai_store(s->h, &o->fw, &set);
            log_status(s, "keeping an associated (FAI) message", st);
            sc = fai_store_scode(st);
        }
    }
    mapi_fai_set_free(&set);
    mapi_os_mutex_unlock(s->core->fai_lock);
    mapi_props_free(&keep.props);
    if (sc)
        return sc;
    fai_changed(s, &o->fw);
    o->is_new = 0;
    o->fai_num = num;
    o->id = mapi_fai_eid_id(&o->fw, num);
    fai_common(s, &o->fw, num, o->msg.natts, mapi_fai_msg_size(&o->msg), &o->msg.props);
    uint8_t b[MAPI_EID_LEN];
    eid_bytes(s, MAPI_EID_ASSOC, o->id, b);
    mapi_w_bin(r->out, b, MAPI_EID_LEN);
    return OP_S_OK;
}

/* Removes FAI messages nums[0..n) from the set of w (all of them when nums
 * is NULL); *missing (may be NULL) gets how many were not there. */
static uint32_t fai_delete(mapi_session *s, const mapi_fai_where *w, const uint32_t *nums, uint32_t n,
                           uint32_t *missing)
{
    if (missing)
        *missing = 0;
    uint32_t sc = OP_S_OK, removed = 0;
    mapi_os_mutex_lock(s->core->fai_lock);
    mapi_fai_set set;
    outpost_status st = mapi_fai_load(s->h, w, &set);
    if (st.code == OUTPOST_OK) {
        if (!nums) {
            removed = set.n;
            mapi_fai_set_free(&set);
        }
        for (uint32_t i = 0; nums && i < n; i++) {
            if (mapi_fai_remove(&set, nums[i]))
                removed++;
            else if (missing)
                (*missing)++;
        }
        if (removed) {
            st = mapi_fai_store(s->h, w, &set);
            log_status(s, "deleting associated (FAI) messages", st);
            sc = st.code == OUTPOST_GONE ? OP_S_OK : fai_store_scode(st); /* gone with its folder */
        }
    } else {
        sc = fai_scode(st);
    }
    mapi_fai_set_free(&set);
    mapi_os_mutex_unlock(s->core->fai_lock);
    if (!sc && removed)
        fai_changed(s, w);
    return sc;
}

static uint32_t op_open_entry(mapi_session *s, const mapi_req *q, reply *r)
{
    mapi_eid e;
    uint32_t h = 0, objtype;
    uint32_t sc;
    if (q->bin.len == 0) {
        e.kind = MAPI_EID_VIRTUAL;
        e.id = MAPI_VF_ROOT;
    } else if (mapi_eid_decode_for(q->bin.p, q->bin.len, s->core->ctx.guid, &e) != 0) {
        return OP_MAPI_E_INVALID_ENTRYID;
    }
    switch (e.kind) {
    case MAPI_EID_STORE: {
        mapi_obj *o = calloc(1, sizeof *o);
        if (!o)
            return OP_MAPI_E_NOT_ENOUGH_MEMORY;
        o->type = OBJ_STORE;
        if (!(h = obj_add(s, o))) {
            obj_free(o);
            return OP_MAPI_E_NOT_ENOUGH_MEMORY;
        }
        objtype = OP_MAPI_STORE;
        break;
    }
    case MAPI_EID_FOLDER:
    case MAPI_EID_VIRTUAL:
    case MAPI_EID_SEARCH:
        if ((sc = open_folder_obj(s, e.kind, e.id, &h)))
            return sc;
        objtype = OP_MAPI_FOLDER;
        break;
    case MAPI_EID_MESSAGE:
    case MAPI_EID_ASSOC: {
        int assoc = e.kind == MAPI_EID_ASSOC;
        if (assoc && !mapi_fai_supported(s->h))
            return OP_MAPI_E_NOT_FOUND;
        mapi_obj *o = calloc(1, sizeof *o);
        if (!o)
            return OP_MAPI_E_NOT_ENOUGH_MEMORY;
        o->type = OBJ_MESSAGE;
        sc = assoc ? fai_open(s, o, e.id) : message_load(s, o, e.id);
        if (sc || !(h = obj_add(s, o))) {
            obj_free(o);
            return sc ? sc : OP_MAPI_E_NOT_ENOUGH_MEMORY;
        }
        if (!assoc && s->st->folder_open_hint)
            s->st->folder_open_hint(s->h, o->folder_id, 1);
        objtype = OP_MAPI_MESSAGE;
        break;
    }
    default:
        return OP_MAPI_E_INVALID_ENTRYID;
    }
    uint8_t b[MAPI_EID_LEN];
    eid_bytes(s, e.kind, e.id, b);
    mapi_w_u32(r->out, h);
    mapi_w_u32(r->out, objtype);
    mapi_w_bin(r->out, b, MAPI_EID_LEN);
    return OP_S_OK;
}

/* Properties of a search folder (o->ekind SEARCH) or of the Finder, whose
 * PR_SUBFOLDERS says whether it holds search folders. */
static uint32_t search_obj_props(mapi_session *s, fol_list *l, mapi_obj *o, mapi_props *p)
{
    mapi_search_set set;
    outpost_status st = mapi_search_load(s->h, &set);
    if (st.code != OUTPOST_OK)
        return search_scode(st);
    uint32_t sc = OP_S_OK;
    if (o->ekind == MAPI_EID_VIRTUAL) {
        fols_assoc(s, l, o->ekind, o->id);
        folder_props(s, l, NULL, (uint32_t)o->id, p);
        mapi_props_set_bool(p, OP_PR_SUBFOLDERS, set.n > 0);
    } else {
        const mapi_search_folder *sf = o->id <= UINT32_MAX ? mapi_search_find(&set, (uint32_t)o->id) : NULL;
        rowset rs;
        memset(&rs, 0, sizeof rs);
        if (!sf)
            sc = OP_MAPI_E_OBJECT_DELETED;
        else
            sc = search_rows(s, l, sf, &rs);
        if (!sc) {
            uint32_t unread = 0;
            for (uint32_t i = 0; i < rs.n; i++)
                if (!(mapi_props_long(&rs.v[i].props, OP_PR_MESSAGE_FLAGS, 0) & (int32_t)OP_MSGFLAG_READ))
                    unread++;
            search_folder_props(s, sf, rs.n, unread, p);
        }
        rows_free(&rs);
    }
    mapi_search_set_free(&set);
    return sc;
}

/* All current properties of an object into *p (caller frees). */
static uint32_t obj_props(mapi_session *s, mapi_obj *o, mapi_props *p)
{
    mapi_props_init(p);
    switch (o->type) {
    case OBJ_STORE:
    case OBJ_FOLDER: {
        fol_list l;
        uint32_t sc = fols_load(s, &l);
        if (sc)
            return sc;
        if (o->type == OBJ_FOLDER && (o->ekind == MAPI_EID_SEARCH || (o->ekind == MAPI_EID_VIRTUAL &&
                                                                      o->id == MAPI_VF_FINDER))) {
            sc = search_obj_props(s, &l, o, p);
            fols_free(&l);
            return sc;
        }
        if (o->type == OBJ_STORE) {
            store_props(s, &l, p);
        } else {
            fols_assoc(s, &l, o->ekind, o->id);
            const fol *f = o->ekind == MAPI_EID_FOLDER ? fols_find(&l, o->id) : NULL;
            if (o->ekind == MAPI_EID_FOLDER && !f) {
                fols_free(&l);
                return OP_MAPI_E_OBJECT_DELETED;
            }
            folder_props(s, &l, f, (uint32_t)o->id, p);
        }
        fols_free(&l);
        return OP_S_OK;
    }
    case OBJ_MESSAGE:
        return mapi_props_copy(p, &o->msg.props) == 0 ? OP_S_OK : OP_MAPI_E_NOT_ENOUGH_MEMORY;
    case OBJ_ATTACH:
        return mapi_props_copy(p, &o->att) == 0 ? OP_S_OK : OP_MAPI_E_NOT_ENOUGH_MEMORY;
    default:
        return OP_MAPI_E_NO_SUPPORT;
    }
}

/* All current properties of the object behind handle h (not a table). */
static uint32_t handle_props(mapi_session *s, uint32_t h, mapi_props *all)
{
    mapi_obj *o = obj_get(s, h, 0);
    if (!o || o->type == OBJ_TABLE)
        return OP_MAPI_E_INVALID_OBJECT;
    return obj_props(s, o, all);
}

static int too_big(const mapi_prop *p)
{
    uint32_t t = OP_PROP_TYPE(p->tag);
    return !(t & OP_MV_FLAG) && mapi_type_is_bytes(t) && p->v.bin.len > GETPROPS_MAX;
}

static uint32_t op_get_props(mapi_session *s, const mapi_req *q, reply *r)
{
    mapi_props all, out;
    uint32_t sc = handle_props(s, q->h, &all);
    if (sc)
        return sc;
    mapi_props_init(&out);
    int errors = 0;
    if (q->ntags == 0) {
        for (uint32_t i = 0; i < all.n; i++)
            if (!too_big(&all.p[i]))
                mapi_props_put(&out, &all.p[i]);
    } else {
        errors = mapi_props_project(&all, q->tags, q->ntags, &out);
        for (uint32_t i = 0; i < out.n; i++)
            if (too_big(&out.p[i])) {
                uint32_t tag = out.p[i].tag;
                mapi_prop_clear(&out.p[i]);
                out.p[i].tag = OP_CHANGE_PROP_TYPE(tag, OP_PT_ERROR);
                out.p[i].v.l = (int32_t)OP_MAPI_E_NOT_ENOUGH_MEMORY;
                errors++;
            }
    }
    mapi_w_props(r->out, &out);
    mapi_props_free(&all);
    mapi_props_free(&out);
    if (errors < 0)
        return OP_MAPI_E_NOT_ENOUGH_MEMORY;
    return errors ? OP_MAPI_W_ERRORS_RETURNED : OP_S_OK;
}

static uint32_t op_get_prop_list(mapi_session *s, const mapi_req *q, reply *r)
{
    mapi_props all;
    uint32_t sc = handle_props(s, q->h, &all);
    if (sc)
        return sc;
    mapi_w_u32(r->out, all.n);
    for (uint32_t i = 0; i < all.n; i++)
        mapi_w_u32(r->out, all.p[i].tag);
    mapi_props_free(&all);
    return OP_S_OK;
}

/* Properties a client cannot set. */
static int computed(uint32_t tag)
{
    switch (OP_PROP_ID(tag)) {
    case OP_PROP_ID(OP_PR_ENTRYID): case OP_PROP_ID(OP_PR_RECORD_KEY): case OP_PROP_ID(OP_PR_INSTANCE_KEY):
    case OP_PROP_ID(OP_PR_OBJECT_TYPE): case OP_PROP_ID(OP_PR_STORE_ENTRYID):
    case OP_PROP_ID(OP_PR_STORE_RECORD_KEY): case OP_PROP_ID(OP_PR_PARENT_ENTRYID):
    case OP_PROP_ID(OP_PR_MESSAGE_SIZE): case OP_PROP_ID(OP_PR_ACCESS): case OP_PROP_ID(OP_PR_ACCESS_LEVEL):
    case OP_PROP_ID(OP_PR_STORE_SUPPORT_MASK): case OP_PROP_ID(OP_PR_HASATTACH):
        return 1;
    default:
        return 0;
    }
}

static int flag_prop(const mapi_core *c, uint32_t tag)
{
    uint32_t id = OP_PROP_ID(tag);
    return id == OP_PROP_ID(OP_PR_MESSAGE_FLAGS) || id == OP_PROP_ID(OP_PR_FLAG_STATUS) ||
           id == OP_PROP_ID(c->ctx.np[NP_KEYWORDS]);
}

/* The body properties of a message: Outlook writes the one of its editor's
 * format (often only PR_RTF_COMPRESSED); the others it leaves as loaded. */
#define BODY_TEXT 0x1u
#define BODY_HTML 0x2u
#define BODY_RTF 0x4u

static uint32_t body_bit(uint32_t tag)
{
    uint32_t id = OP_PROP_ID(tag);
    return id == OP_PROP_ID(OP_PR_BODY)             ? BODY_TEXT
           : id == OP_PROP_ID(OP_PR_HTML)           ? BODY_HTML
           : id == OP_PROP_ID(OP_PR_RTF_COMPRESSED) ? BODY_RTF
                                                    : 0;
}

/* Drops the body properties the client did not write since the last save
 * when it wrote any: they hold the body as it was loaded, and the mapping
 * would prefer a stale PR_HTML to a new PR_BODY or RTF body. */
static void prune_stale_bodies(mapi_obj *o)
{
    if (!o->bodies_set)
        return;
    static const uint32_t tags[] = { OP_PR_BODY, OP_PR_HTML, OP_PR_RTF_COMPRESSED };
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        if (!(o->bodies_set & body_bit(tags[i])))
            mapi_props_remove(&o->msg.props, tags[i]);
}

static int search_named(uint32_t tag);
static uint32_t search_set_name(mapi_session *s, int64_t num, const mapi_prop *p);

static uint32_t op_set_props(mapi_session *s, const mapi_req *q, reply *r)
{
    mapi_obj *o = obj_get(s, q->h, 0);
    if (!o || (o->type != OBJ_MESSAGE && o->type != OBJ_ATTACH && o->type != OBJ_FOLDER))
        return OP_MAPI_E_INVALID_OBJECT;
    mapi_buf probs;
    mapi_buf_init(&probs);
    uint32_t np = 0;
    for (uint32_t i = 0; i < q->props.n; i++) {
        const mapi_prop *p = &q->props.p[i];
        if (computed(p->tag) || o->type == OBJ_FOLDER) {
            /* Folder properties other than the name are derived from the storage. */
            if (o->type == OBJ_FOLDER && OP_PROP_ID(p->tag) == OP_PROP_ID(OP_PR_DISPLAY_NAME) &&
                o->ekind == MAPI_EID_FOLDER) {
                outpost_status st = s->st->folder_rename(s->h, o->id, -1, (const char *)p->v.bin.data);
                log_status(s, "folder_rename", st);
                if (st.code == OUTPOST_OK)
                    continue;
            } else if (o->type == OBJ_FOLDER && o->ekind == MAPI_EID_SEARCH && search_named(p->tag)) {
                uint32_t sc = search_set_name(s, o->id, p);
                if (!sc)
                    continue;
                mapi_w_u32(&probs, i);
                mapi_w_u32(&probs, p->tag);
                mapi_w_u32(&probs, sc);
                np++;
                continue;
            } else if (o->type == OBJ_FOLDER) {
                continue; /* accepted and ignored (e.g. PR_COMMENT, view settings) */
            }
            mapi_w_u32(&probs, i);
            mapi_w_u32(&probs, p->tag);
            mapi_w_u32(&probs, 0x8004011Au /* MAPI_E_COMPUTED */);
            np++;
            continue;
        }
        mapi_props *dst = o->type == OBJ_MESSAGE ? &o->msg.props : &o->att;
        if (mapi_props_put(dst, p) != 0)
            return OP_MAPI_E_NOT_ENOUGH_MEMORY;
        if (o->type == OBJ_MESSAGE) {
            if (flag_prop(s->core, p->tag))
                o->flags_dirty = 1;
            else
                o->content_dirty = 1;
            o->bodies_set |= body_bit(p->tag);
        }
    }
    mapi_w_u32(r->out, np);
    mapi_buf_add(r->out, probs.data, probs.len);
    mapi_buf_free(&probs);
    return OP_S_OK;
}

static uint32_t op_delete_props(mapi_session *s, const mapi_req *q, reply *r)
{
    mapi_obj *o = obj_get(s, q->h, 0);
    if (!o || (o->type != OBJ_MESSAGE && o->type != OBJ_ATTACH))
        return OP_MAPI_E_INVALID_OBJECT;
    mapi_props *dst = o->type == OBJ_MESSAGE ? &o->msg.props : &o->att;
    for (uint32_t i = 0; i < q->ntags; i++) {
        if (computed(q->tags[i]))
            continue;
        mapi_props_remove(dst, q->tags[i]);
        if (o->type == OBJ_MESSAGE)
            o->content_dirty = 1;
    }
    mapi_w_u32(r->out, 0);
    return OP_S_OK;
}

static uint32_t op_read_prop(mapi_session *s, const mapi_req *q, reply *r)
{
    mapi_props all;
    uint32_t sc = handle_props(s, q->h, &all);
    if (sc)
        return sc;
    const mapi_prop *p = mapi_props_find(&all, q->a);
    uint32_t want = OP_PROP_TYPE(q->a) & ~OP_MV_FLAG, have = p ? OP_PROP_TYPE(p->tag) : 0;
    int strings = (want == OP_PT_UNICODE || want == OP_PT_STRING8) && (have == OP_PT_UNICODE || have == OP_PT_STRING8);
    if (!p || !mapi_type_is_bytes(have) || (have & OP_MV_FLAG) || (want != have && !strings)) {
        mapi_props_free(&all);
        return OP_MAPI_E_NOT_FOUND;
    }
    uint64_t total = p->v.bin.len;
    uint64_t off = q->offset < total ? q->offset : total;
    uint32_t max = q->b > (1u << 20) ? (1u << 20) : q->b;
    uint32_t n = (uint32_t)(total - off < max ? total - off : max);
    mapi_w_u64(r->out, total);
    mapi_w_bin(r->out, p->v.bin.data + off, n);
    mapi_props_free(&all);
    return OP_S_OK;
}

static uint32_t op_write_prop(mapi_session *s, const mapi_req *q, reply *r)
{
    (void)r;
    mapi_obj *o = obj_get(s, q->h, 0);
    if (!o || (o->type != OBJ_MESSAGE && o->type != OBJ_ATTACH))
        return OP_MAPI_E_INVALID_OBJECT;
    uint32_t type = OP_PROP_TYPE(q->a);
    if (!mapi_type_is_bytes(type) || (type & OP_MV_FLAG) || computed(q->a))
        return OP_MAPI_E_INVALID_PARAMETER;
    mapi_props *dst = o->type == OBJ_MESSAGE ? &o->msg.props : &o->att;
    mapi_prop *p = mapi_props_find(dst, q->a);
    mapi_buf b;
    mapi_buf_init(&b);
    if (q->offset != 0) {
        if (!p || OP_PROP_TYPE(p->tag) != type || p->v.bin.len != q->offset)
            return OP_MAPI_E_INVALID_PARAMETER; /* chunks come in order */
        mapi_buf_add(&b, p->v.bin.data, p->v.bin.len);
    }
    mapi_buf_add(&b, q->bin.p, q->bin.len);
    if (b.oom || b.len > MAX_CONTENT) {
        mapi_buf_free(&b);
        return OP_MAPI_E_NOT_ENOUGH_MEMORY;
    }
    int rc = type == OP_PT_UNICODE || type == OP_PT_STRING8
                 ? mapi_props_set_strn(dst, q->a, b.len ? (const char *)b.data : "", b.len)
                 : mapi_props_set_bin(dst, q->a, b.data, b.len);
    mapi_buf_free(&b);
    if (rc != 0)
        return OP_MAPI_E_NOT_ENOUGH_MEMORY;
    if (o->type == OBJ_MESSAGE) {
        o->content_dirty = 1;
        o->bodies_set |= body_bit(q->a);
    }
    return OP_S_OK;
}

/* ---- saving ---- */

struct mem_reader {
    const uint8_t *p;
    size_t len, off;
};

static outpost_status mem_read(void *ctx, void *buf, size_t cap, size_t *got)
{
    struct mem_reader *m = ctx;
    size_t n = m->len - m->off < cap ? m->len - m->off : cap;
    memcpy(buf, m->p + m->off, n);
    m->off += n;
    *got = n;
    return outpost_ok();
}

static outpost_status mem_rewind(void *ctx)
{
    ((struct mem_reader *)ctx)->off = 0;
    return outpost_ok();
}

static uint32_t folder_kind(mapi_session *s, int64_t folder_id, uint32_t *kind)
{
    fol_list l;
    uint32_t sc = fols_load(s, &l);
    if (sc)
        return sc;
    const fol *f = fols_find(&l, folder_id);
    if (f)
        *kind = f->kind;
    fols_free(&l);
    return f ? OP_S_OK : OP_MAPI_E_NOT_FOUND;
}

/* Item flags and keywords a message's properties say. */
static void wanted_flags(mapi_session *s, mapi_obj *o, uint32_t *flags, char **keywords)
{
    const mapi_props *p = &o->msg.props;
    uint32_t f = o->item_flags;
    int32_t mf = mapi_props_long(p, OP_PR_MESSAGE_FLAGS, 0);
    f = (mf & (int32_t)OP_MSGFLAG_READ) ? (f | OUTPOST_FLAG_SEEN) : (f & ~OUTPOST_FLAG_SEEN);
    if (o->is_new)
        f = (mf & (int32_t)OP_MSGFLAG_UNSENT) ? (f | OUTPOST_FLAG_DRAFT) : (f & ~OUTPOST_FLAG_DRAFT);
    int32_t fs = mapi_props_long(p, OP_PR_FLAG_STATUS, 0);
    f = fs == 2 ? (f | OUTPOST_FLAG_FLAGGED) : (f & ~OUTPOST_FLAG_FLAGGED);
    *flags = f;
    /* keywords: system keywords kept, categories from Keywords */
    mapi_buf b;
    mapi_buf_init(&b);
    if (o->keywords) {
        char *copy = strdup(o->keywords), *save = NULL;
        for (char *t = copy ? strtok_r(copy, " ", &save) : NULL; t; t = strtok_r(NULL, " ", &save))
            if (t[0] == '$' || t[0] == '\\') {
                if (b.len)
                    mapi_buf_addc(&b, ' ');
                mapi_buf_adds(&b, t);
            }
        free(copy);
    }
    const mapi_prop *k = mapi_props_find(p, s->core->ctx.np[NP_KEYWORDS]);
    if (k && OP_PROP_TYPE(k->tag) == (OP_MV_FLAG | OP_PT_UNICODE))
        for (uint32_t i = 0; i < k->count; i++) {
            if (k->mv[i].bin.len == 0 || memchr(k->mv[i].bin.data, ' ', k->mv[i].bin.len))
                continue; /* an IMAP keyword is one atom */
            if (b.len)
                mapi_buf_addc(&b, ' ');
            mapi_buf_add(&b, k->mv[i].bin.data, k->mv[i].bin.len);
        }
    *keywords = b.len ? mapi_buf_steal(&b, NULL) : NULL;
    mapi_buf_free(&b);
}

static uint32_t save_message_mapped(mapi_session *s, mapi_obj *o, uint32_t flags, int64_t *saved_id);

static uint32_t save_message(mapi_session *s, mapi_obj *o, uint32_t flags, reply *r)
{
    if (o->assoc)
        return fai_save(s, o, r);
    /* before the extras are taken: a stale body must not become one */
    if (!o->is_new && o->item_kind == OUTPOST_ITEM_MAIL)
        prune_stale_bodies(o);
    mapi_props before;
    mapi_props_init(&before);
    int extras = extras_supported(s);
    if (extras && mapi_props_copy(&before, &o->msg.props) != 0)
        return OP_MAPI_E_NOT_ENOUGH_MEMORY;
    int64_t id = 0;
    uint32_t sc = save_message_mapped(s, o, flags, &id);
    if (!sc && extras && id) {
        /* o now holds the stored item as its content maps back (reloaded
         * after a write) or the unchanged item: compare with a fresh load. */
        mapi_obj fresh;
        memset(&fresh, 0, sizeof fresh);
        if (message_load_mapped(s, &fresh, id) == OP_S_OK) {
            extras_save(s, id, &before, &fresh.msg.props);
            for (uint32_t i = 0; i < before.n; i++)
                if (extra_candidate(s, &before.p[i]) && !mapi_props_find(&o->msg.props, before.p[i].tag))
                    mapi_props_put(&o->msg.props, &before.p[i]);
        }
        mapi_message_free(&fresh.msg);
        free(fresh.keywords);
        free(fresh.object_uid);
    }
    mapi_props_free(&before);
    if (!sc) {
        uint8_t b[MAPI_EID_LEN];
        eid_bytes(s, MAPI_EID_MESSAGE, o->id, b);
        mapi_w_bin(r->out, b, MAPI_EID_LEN);
    }
    return sc;
}

/* For a saved mail that exists in the cache: whether Outlook changed what
 * its MIME carries (*changed), compared with the item as stored, whose
 * whole content *orig receives (malloc'd; NULL when the object was served
 * from the summary or the content is not cached: the edit then cannot be
 * kept). */
static uint32_t mail_changed(mapi_session *s, mapi_obj *o, int *changed, uint8_t **orig, size_t *orig_len)
{
    *changed = 0;
    *orig = NULL;
    *orig_len = 0;
    itm x;
    uint32_t sc = item_load(s, o->id, 1, &x);
    if (sc)
        return sc == OP_MAPI_E_NOT_FOUND ? OP_MAPI_E_OBJECT_DELETED : sc;
    mapi_message fresh;
    memset(&fresh, 0, sizeof fresh);
    int same = 0;
    if (!o->partial && x.content && mapi_map_content(&s->core->ctx, &x.it, x.content, x.len, 1, &fresh) == 0) {
        same = mapi_mail_same_content(&o->msg, &fresh);
        *orig = x.content;
        *orig_len = x.len;
        x.content = NULL;
    } else {
        /* served from the summary, or the content is no longer cached:
         * compare with the summary; a change then cannot be kept */
        mapi_message_free(&fresh);
        mapi_map_summary(&s->core->ctx, &x.it, &fresh.props);
        same = mapi_mail_same_content(&o->msg, &fresh);
    }
    mapi_message_free(&fresh);
    itm_free(&x);
    if (same < 0) {
        free(*orig);
        *orig = NULL;
        return OP_MAPI_E_NOT_ENOUGH_MEMORY;
    }
    *changed = !same;
    return OP_S_OK;
}

/* Property-bag values that follow a mail replaced by its edited version. */
static const char *const CARRIED_PROPS[] = { EXTRAS_PROP, MSGSTATUS_PROP, NULL };

/* Saves what the mapping carries: content (new items; edited mail, drafts
 * or not, replaced by a new item; calendar, contact, task and note edits)
 * and flags. *saved_id: the item's id after. */
static uint32_t save_message_mapped(mapi_session *s, mapi_obj *o, uint32_t flags, int64_t *saved_id)
{
    (void)flags;
    char err[256] = "";
    uint32_t sc = OP_S_OK;
    int64_t new_id = 0;
    if (o->is_new || o->content_dirty) {
        uint32_t kind = mapi_kind_of_class(mapi_props_str(&o->msg.props, OP_PR_MESSAGE_CLASS));
        uint32_t fkind = 0;
        if ((sc = folder_kind(s, o->folder_id, &fkind)))
            return sc;
        if (!kind)
            kind = fkind;
        if (kind != fkind)
            kind = fkind; /* the storage keeps one kind per folder */
        int edit_mail = !o->is_new && kind == OUTPOST_ITEM_MAIL;
        int write_content = 1;
        uint8_t *orig = NULL;
        size_t orig_len = 0;
        if (edit_mail) {
            /* a mail's content never changes in place: an edit replaces it */
            if ((sc = mail_changed(s, o, &write_content, &orig, &orig_len)))
                return sc;
            if (!write_content) {
                free(orig); /* what MIME carries is unchanged: the bag and flags only */
                orig = NULL;
            }
            if (write_content && !orig) {
                s->h->log(s->h, OUTPOST_LOG_WARNING,
                          "mapi: message %lld was edited but its content is not cached (offline?): edit refused",
                          (long long)o->id);
                return OP_MAPI_E_NO_ACCESS;
            }
            if (write_content && !OUTPOST_HAS_METHOD(s->st, struct outpost_store_api, replace)) {
                free(orig);
                s->h->log(s->h, OUTPOST_LOG_WARNING,
                          "mapi: message %lld was edited but outpostd's store API has no replace: edit refused",
                          (long long)o->id);
                return OP_MAPI_E_NO_ACCESS;
            }
        }
        if (write_content) {
            mapi_buf content;
            mapi_buf_init(&content);
            int rc = edit_mail ? mapi_build_mail_edit(&s->core->ctx, &o->msg, orig, orig_len, s->h->now_ms(s->h),
                                                      &content, err, sizeof err)
                               : mapi_build_content(&s->core->ctx, kind, &o->msg, o->is_new ? NULL : o->object_uid,
                                                    s->h->now_ms(s->h), &content, err, sizeof err);
            free(orig);
            if (rc != 0) {
                s->h->log(s->h, OUTPOST_LOG_WARNING, "mapi: saving message %lld: %s%s", (long long)o->id, err,
                          edit_mail ? ": edit refused" : "");
                mapi_buf_free(&content);
                return edit_mail ? OP_MAPI_E_NO_ACCESS : OP_MAPI_E_INVALID_PARAMETER;
            }
            struct mem_reader mr = { content.data, content.len, 0 };
            struct outpost_reader rd = { &mr, content.len, mem_read, mem_rewind };
            outpost_status st;
            if (o->is_new || edit_mail) {
                uint32_t fl;
                char *kw;
                wanted_flags(s, o, &fl, &kw);
                if (o->is_new) {
                    int64_t when = mapi_filetime_to_ms(mapi_props_i8(&o->msg.props, OP_PR_MESSAGE_DELIVERY_TIME, 0));
                    st = s->st->append(s->h, o->folder_id, &rd, fl, kw, when > 0 ? when : 0, &new_id, NULL);
                    log_status(s, "append", st);
                } else {
                    /* new item and deletion of the old in one transaction;
                     * the old item's internal date (delivery time) kept */
                    st = s->st->replace(s->h, o->id, &rd, fl, kw, 0, CARRIED_PROPS, &new_id, NULL);
                    log_status(s, "replace (edited message)", st);
                    if (st.code == OUTPOST_GONE)
                        sc = OP_MAPI_E_OBJECT_DELETED; /* deleted meanwhile */
                }
                free(kw);
            } else {
                st = s->st->update(s->h, o->id, &rd);
                log_status(s, "update", st);
                new_id = o->id;
            }
            mapi_buf_free(&content);
            if (sc)
                return sc;
            if (st.code != OUTPOST_OK)
                return scode_of(st);
            o->flags_dirty = 0;
        }
        o->content_dirty = 0;
        o->bodies_set = 0;
    }
    if (o->flags_dirty && !o->is_new && o->id) {
        uint32_t fl;
        char *kw;
        wanted_flags(s, o, &fl, &kw);
        outpost_status st = s->st->set_flags(s->h, &o->id, 1, OUTPOST_FLAGS_REPLACE, fl, kw, NULL, NULL);
        log_status(s, "set_flags", st);
        free(kw);
        if (st.code != OUTPOST_OK)
            return scode_of(st);
        o->flags_dirty = 0;
    }
    if (new_id) {
        /* KEEP_OPEN_*: the object now is the stored item. */
        o->is_new = 0;
        sc = message_load_mapped(s, o, new_id);
        if (sc)
            return sc;
    }
    *saved_id = o->is_new ? 0 : o->id;
    return OP_S_OK;
}

static uint32_t op_save_changes(mapi_session *s, const mapi_req *q, reply *r)
{
    mapi_obj *o = obj_get(s, q->h, 0);
    if (!o)
        return OP_MAPI_E_INVALID_OBJECT;
    if (o->type == OBJ_MESSAGE)
        return save_message(s, o, q->flags, r);
    if (o->type == OBJ_ATTACH) {
        mapi_obj *m = obj_get(s, o->parent, OBJ_MESSAGE);
        if (!m)
            return OP_MAPI_E_OBJECT_DELETED;
        mapi_attach *a = NULL;
        for (uint32_t i = 0; i < m->msg.natts; i++)
            if (m->msg.atts[i].num == o->att_num)
                a = &m->msg.atts[i];
        if (!a) {
            mapi_attach *na = realloc(m->msg.atts, (m->msg.natts + 1) * sizeof *na);
            if (!na)
                return OP_MAPI_E_NOT_ENOUGH_MEMORY;
            m->msg.atts = na;
            a = &m->msg.atts[m->msg.natts++];
            memset(a, 0, sizeof *a);
            a->num = o->att_num;
        }
        mapi_props_free(&a->props);
        if (mapi_props_copy(&a->props, &o->att) != 0)
            return OP_MAPI_E_NOT_ENOUGH_MEMORY;
        m->content_dirty = 1;
        mapi_w_bin(r->out, NULL, 0);
        return OP_S_OK;
    }
    mapi_w_bin(r->out, NULL, 0); /* folders and the store save immediately */
    return OP_S_OK;
}

/* ---- tables ---- */

static const uint32_t DEFAULT_CONTENTS_COLS[] = { OP_PR_ENTRYID, OP_PR_INSTANCE_KEY, OP_PR_SUBJECT,
                                                  OP_PR_MESSAGE_CLASS, OP_PR_MESSAGE_FLAGS,
                                                  OP_PR_MESSAGE_DELIVERY_TIME, OP_PR_SENDER_NAME,
                                                  OP_PR_DISPLAY_TO, OP_PR_MESSAGE_SIZE };
static const uint32_t DEFAULT_HIERARCHY_COLS[] = { OP_PR_ENTRYID, OP_PR_INSTANCE_KEY, OP_PR_DISPLAY_NAME,
                                                   OP_PR_CONTAINER_CLASS, OP_PR_CONTENT_COUNT,
                                                   OP_PR_CONTENT_UNREAD, OP_PR_SUBFOLDERS, OP_PR_DEPTH };
static const uint32_t DEFAULT_RECIP_COLS[] = { OP_PR_ROWID, OP_PR_INSTANCE_KEY, OP_PR_RECIPIENT_TYPE,
                                               OP_PR_DISPLAY_NAME, OP_PR_EMAIL_ADDRESS, OP_PR_ADDRTYPE,
                                               OP_PR_ENTRYID };
static const uint32_t DEFAULT_RECEIVE_COLS[] = { OP_PR_INSTANCE_KEY, OP_PR_ENTRYID, OP_PR_RECORD_KEY,
                                                 OP_PR_MESSAGE_CLASS };
static const uint32_t DEFAULT_ATTACH_COLS[] = { OP_PR_ATTACH_NUM, OP_PR_INSTANCE_KEY, OP_PR_ATTACH_METHOD,
                                                OP_PR_ATTACH_LONG_FILENAME, OP_PR_ATTACH_SIZE,
                                                OP_PR_RENDERING_POSITION, OP_PR_ATTACH_MIME_TAG };
#define NCOLS(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

/* Copies (move: moves) FAI messages nums[0..n) of the set of `from` into the
 * set of `to` under new numbers (nums NULL: copies every message of `from`);
 * *missing gets how many were not in `from`.
 * The destination is written first: a crash between the two writes leaves
 * a copy in both folders, never in neither. */
static uint32_t fai_copy(mapi_session *s, const mapi_fai_where *from, const mapi_fai_where *to,
                         const uint32_t *nums, uint32_t n, int move, uint32_t *missing)
{
    *missing = 0;
    int same = from->vf == to->vf && from->folder == to->folder && from->uidvalidity == to->uidvalidity;
    uint32_t sc = OP_S_OK, done = 0;
    mapi_os_mutex_lock(s->core->fai_lock);
    mapi_fai_set src, dst;
    mapi_fai_set_init(&dst);
    outpost_status st = mapi_fai_load(s->h, from, &src);
    if (st.code == OUTPOST_OK && !same)
        st = mapi_fai_load(s->h, to, &dst);
    mapi_fai_set *d = same ? &src : &dst;
    if (st.code != OUTPOST_OK)
        sc = fai_scode(st);
    if (!nums) {
        n = src.n;
        move = 0;
    }
    for (uint32_t i = 0; !sc && i < n; i++) {
        mapi_fai_msg *m = nums ? mapi_fai_find(&src, nums[i]) : &src.v[i];
        if (!m) {
            (*missing)++;
        } else if (same && move) {
            done++; /* moved onto itself: nothing changes */
        } else if (d->next > MAPI_FAI_NUM_MAX) {
            sc = OP_MAPI_E_STORE_FULL;
        } else {
            /* put copies m before it may move the array (same set) */
            if (mapi_fai_put(d, d->next, &m->msg) != 0)
                sc = OP_MAPI_E_NOT_ENOUGH_MEMORY;
            if (!sc && move)
                mapi_fai_remove(&src, nums[i]);
            done++;
        }
    }
    if (!sc && done && !(same && move)) {
        st = mapi_fai_store(s->h, to, d);
        if (st.code == OUTPOST_OK && move && !same)
            st = mapi_fai_store(s->h, from, &src);
        log_status(s, move ? "moving associated (FAI) messages" : "copying associated (FAI) messages", st);
        sc = fai_store_scode(st);
    }
    mapi_fai_set_free(&src);
    mapi_fai_set_free(&dst);
    mapi_os_mutex_unlock(s->core->fai_lock);
    if (!sc && done) {
        fai_changed(s, to);
        if (move && !same)
            fai_changed(s, from);
    }
    return sc;
}

/* The rows of an associated contents table: the stored properties (values
 * larger than GetProps hands out are left to OpenEntry) and the computed ones. */
static uint32_t fai_rows(mapi_session *s, uint32_t ekind, int64_t fid, rowset *rs)
{
    if (!mapi_fai_supported(s->h))
        return OP_S_OK;
    mapi_fai_where w;
    uint32_t sc = fai_where_of(s, ekind, fid, &w);
    if (sc)
        return sc == OP_MAPI_E_NOT_FOUND ? OP_MAPI_E_OBJECT_DELETED : sc;
    mapi_fai_set set;
    outpost_status st = mapi_fai_load(s->h, &w, &set);
    if (st.code != OUTPOST_OK)
        return fai_scode(st);
    for (uint32_t i = 0; i < set.n && !sc; i++) {
        const mapi_fai_msg *fm = &set.v[i];
        mapi_row *r = rows_push(rs, (uint64_t)mapi_fai_eid_id(&w, fm->num));
        if (!r) {
            sc = OP_MAPI_E_NOT_ENOUGH_MEMORY;
            break;
        }
        for (uint32_t k = 0; k < fm->msg.props.n; k++)
            if (!too_big(&fm->msg.props.p[k]) && mapi_props_put(&r->props, &fm->msg.props.p[k]) != 0)
                sc = OP_MAPI_E_NOT_ENOUGH_MEMORY;
        fai_common(s, &w, fm->num, fm->msg.natts, mapi_fai_msg_size(&fm->msg), &r->props);
    }
    mapi_fai_set_free(&set);
    return sc;
}

static void hier_add(mapi_session *s, const fol_list *l, int64_t parent, int depth, int recursive, rowset *rs)
{
    for (uint32_t i = 0; i < l->n; i++) {
        if (l->v[i].parent != parent)
            continue;
        mapi_row *r = rows_push(rs, (uint64_t)l->v[i].id);
        if (!r)
            return;
        folder_props(s, l, &l->v[i], 0, &r->props);
        mapi_props_set_long(&r->props, OP_PR_DEPTH, depth);
        if (recursive && depth < 32)
            hier_add(s, l, l->v[i].id, depth + 1, recursive, rs);
    }
}

static uint32_t receive_rows(mapi_session *s, rowset *rs);

/* The rows of a table's source as it is now. */
static uint32_t table_rows(mapi_session *s, mapi_obj *t, rowset *rs)
{
    memset(rs, 0, sizeof *rs);
    if (t->tkind == MAPI_TABLE_RECEIVE_FOLDERS)
        return receive_rows(s, rs);
    if (t->tkind == MAPI_TABLE_RECIPIENTS || t->tkind == MAPI_TABLE_ATTACHMENTS) {
        mapi_obj *m = obj_get(s, t->tsrc, OBJ_MESSAGE);
        if (!m)
            return OP_MAPI_E_OBJECT_DELETED;
        if (t->tkind == MAPI_TABLE_RECIPIENTS) {
            for (uint32_t i = 0; i < m->msg.nrecips; i++) {
                mapi_row *r = rows_push(rs, i + 1);
                if (!r || mapi_props_copy(&r->props, &m->msg.recips[i]) != 0)
                    return OP_MAPI_E_NOT_ENOUGH_MEMORY;
                mapi_props_set_key(&r->props, OP_PR_INSTANCE_KEY, i + 1);
            }
        } else {
            for (uint32_t i = 0; i < m->msg.natts; i++) {
                mapi_row *r = rows_push(rs, (uint64_t)m->msg.atts[i].num + 1);
                if (!r || mapi_props_copy(&r->props, &m->msg.atts[i].props) != 0)
                    return OP_MAPI_E_NOT_ENOUGH_MEMORY;
                mapi_props_remove(&r->props, OP_PR_ATTACH_DATA_BIN);
                mapi_props_set_key(&r->props, OP_PR_INSTANCE_KEY, (uint64_t)m->msg.atts[i].num + 1);
            }
        }
        return OP_S_OK;
    }
    if (t->tflags & OP_SHOW_SOFT_DELETES)
        return OP_S_OK; /* soft-deleted rows only, and no delete here is soft: none */
    mapi_obj *f = obj_get(s, t->tsrc, 0);
    uint32_t ekind = f ? f->ekind : t->ekind;
    int64_t fid = f ? f->id : t->id;
    if (ekind == MAPI_EID_SEARCH) {
        /* no subfolders and no associated messages; contents: the matches */
        if (t->tkind == MAPI_TABLE_HIERARCHY || (t->tflags & OP_MAPI_ASSOCIATED))
            return OP_S_OK;
        mapi_search_set set;
        outpost_status st = mapi_search_load(s->h, &set);
        if (st.code != OUTPOST_OK)
            return search_scode(st);
        const mapi_search_folder *sf = fid <= UINT32_MAX ? mapi_search_find(&set, (uint32_t)fid) : NULL;
        fol_list l;
        uint32_t sc = sf ? fols_load(s, &l) : OP_MAPI_E_OBJECT_DELETED;
        if (!sc) {
            sc = search_rows(s, &l, sf, rs);
            fols_free(&l);
        }
        mapi_search_set_free(&set);
        return sc;
    }
    if (t->tkind == MAPI_TABLE_HIERARCHY) {
        fol_list l;
        uint32_t sc = fols_load(s, &l);
        if (sc)
            return sc;
        fols_assoc(s, &l, 0, 0);
        int recursive = (t->tflags & OP_CONVENIENT_DEPTH) != 0;
        if (ekind == MAPI_EID_VIRTUAL && fid == MAPI_VF_ROOT) {
            for (uint32_t vf = MAPI_VF_IPM_SUBTREE; vf < MAPI_VF_COUNT; vf++) {
                mapi_row *r = rows_push(rs, 0x8000000000000000ull | vf);
                if (!r)
                    break;
                folder_props(s, &l, NULL, vf, &r->props);
                mapi_props_set_long(&r->props, OP_PR_DEPTH, 0);
                if (vf == MAPI_VF_FINDER)
                    search_subfolders(s, &r->props);
                if (recursive && vf == MAPI_VF_IPM_SUBTREE)
                    hier_add(s, &l, 0, 1, 1, rs);
                if (recursive && vf == MAPI_VF_FINDER)
                    search_hier_rows(s, &l, 1, rs);
            }
        } else if (ekind == MAPI_EID_VIRTUAL && fid == MAPI_VF_IPM_SUBTREE) {
            hier_add(s, &l, 0, 0, recursive, rs);
        } else if (ekind == MAPI_EID_VIRTUAL && fid == MAPI_VF_FINDER) {
            uint32_t sc = search_hier_rows(s, &l, 0, rs);
            fols_free(&l);
            return sc;
        } else if (ekind == MAPI_EID_FOLDER) {
            hier_add(s, &l, fid, 0, recursive, rs);
        }
        fols_free(&l);
        return OP_S_OK;
    }
    /* associated contents: the folder's FAI messages (virtual folders have them too) */
    if (t->tflags & OP_MAPI_ASSOCIATED)
        return fai_rows(s, ekind, fid, rs);
    if (ekind != MAPI_EID_FOLDER)
        return OP_S_OK;
    if (t->tbl.fetch)
        return lazy_rows(s, t, t->loaded ? &t->tbl : NULL, rs);
    return folder_rows(s, fid, rs);
}

/* The contents-table row of an item (content: the cached content of a
 * non-mail item, else NULL) into p (initialised, empty). */
static void item_row(mapi_session *s, const outpost_item *it, const uint8_t *content, size_t len, uint32_t msgstatus,
                     mapi_props *p)
{
    mapi_message msg;
    if (mapi_map_content(&s->core->ctx, it, content, len, 0, &msg) == 0) {
        *p = msg.props;
        memset(&msg.props, 0, sizeof msg.props);
    } else {
        mapi_props_free(&msg.props);
        mapi_map_summary(&s->core->ctx, it, p);
    }
    mapi_message_free(&msg);
    message_common(s, it, msgstatus, p);
}

/* ---- lazy contents tables ----
 *
 * A mail folder's contents table keeps per row the item id, its MODSEQ (the
 * stamp: every change of what a mail's row shows bumps it, see storage.h)
 * and only the properties its sort and restriction need, in their own
 * exactly sized array. Times, flags and size (Outlook's message list sorts
 * by delivery time, its Unread filter reads PR_MESSAGE_FLAGS) come straight
 * from the listing (mapi_map_listed); other needed properties from the row
 * built and dropped one at a time. The rest of a row is built when
 * QueryRows, FindRow or a notification asks for it (lazy_fetch). Other
 * tables (non-mail folders, whose rows come from their content, associated
 * and search folder contents, hierarchies) hold their whole rows. */

/* Whether t is served lazily: contents of a mail folder of the cache. */
static int lazy_eligible(mapi_session *s, const mapi_obj *t)
{
    if (t->tkind != MAPI_TABLE_CONTENTS || (t->tflags & (OP_MAPI_ASSOCIATED | OP_SHOW_SOFT_DELETES)) ||
        t->ekind != MAPI_EID_FOLDER)
        return 0;
    struct outpost_txn *tx;
    if (s->st->read_begin(s->h, &tx).code != OUTPOST_OK)
        return 0;
    const outpost_folder *f;
    int mail = s->st->storage->folder_get(tx, t->id, &f).code == OUTPOST_OK && f->kind == OUTPOST_ITEM_MAIL;
    s->st->read_end(s->h, tx);
    return mail;
}

static int lazy_fetch(void *ctx, uint64_t key, mapi_props *out)
{
    mapi_obj *t = ctx;
    itm x;
    if (item_load(t->sess, (int64_t)key, 0, &x) != OP_S_OK || x.it.folder_id != t->id ||
        x.it.kind != OUTPOST_ITEM_MAIL) {
        itm_free(&x);
        return -1;
    }
    item_row(t->sess, &x.it, NULL, 0, x.msgstatus, out);
    itm_free(&x);
    return 0;
}

static int tags_has(const uint32_t *v, uint32_t n, uint32_t tag)
{
    for (uint32_t i = 0; i < n; i++)
        if (OP_PROP_ID(v[i]) == OP_PROP_ID(tag))
            return 1;
    return 0;
}

static int tags_add(uint32_t **v, uint32_t *n, uint32_t tag)
{
    if (tags_has(*v, *n, tag))
        return 0;
    uint32_t *nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv)
        return -1;
    nv[(*n)++] = tag;
    *v = nv;
    return 0;
}

/* Adds the tags restriction r reads to v. */
static int res_tags(const mapi_res *r, uint32_t **v, uint32_t *n)
{
    if (!r)
        return 0;
    switch (r->rt) {
    case OP_RES_AND:
    case OP_RES_OR:
        for (uint32_t i = 0; i < r->u.sub.n; i++)
            if (res_tags(&r->u.sub.r[i], v, n) != 0)
                return -1;
        return 0;
    case OP_RES_NOT: return res_tags(r->u.not_, v, n);
    case OP_RES_CONTENT: return tags_add(v, n, r->u.content.tag);
    case OP_RES_PROPERTY: return tags_add(v, n, r->u.property.tag);
    case OP_RES_COMPAREPROPS:
        return tags_add(v, n, r->u.compare.tag1) || tags_add(v, n, r->u.compare.tag2) ? -1 : 0;
    case OP_RES_BITMASK: return tags_add(v, n, r->u.bitmask.tag);
    case OP_RES_SIZE: return tags_add(v, n, r->u.size.tag);
    case OP_RES_EXIST: return tags_add(v, n, r->u.exist.tag);
    case OP_RES_COMMENT: return res_tags(r->u.comment.r, v, n);
    default: return 0; /* SUBRESTRICTION evaluates false whatever the row holds */
    }
}

/* Sets r's properties to what lazy table t keeps of item it (read in tx). 0 or -1. */
static int lazy_keep(mapi_session *s, const mapi_obj *t, struct outpost_txn *tx, const outpost_item *it, mapi_row *r)
{
    r->stamp = it->modseq;
    if (!t->nkeep)
        return 0;
    mapi_props full;
    mapi_props_init(&full);
    /* times, flags and size come from the listing's fields alone (mapi_map_listed) */
    int listed = 1;
    for (uint32_t k = 0; k < t->nkeep && listed; k++)
        listed = tags_has(MAPI_LISTED_TAGS, MAPI_NLISTED_TAGS, t->keep[k]);
    if (listed) {
        mapi_map_listed(it, &full);
    } else {
        item_row(s, it, NULL, 0, msgstatus_get(s, tx, it->id), &full);
    }
    /* keep only what the sort and the restriction read, in an array of that size */
    r->props.p = calloc(t->nkeep, sizeof *r->props.p);
    if (!r->props.p) {
        mapi_props_free(&full);
        return -1;
    }
    r->props.cap = t->nkeep;
    for (uint32_t k = 0; k < t->nkeep; k++) {
        mapi_prop *p = mapi_props_find(&full, t->keep[k]);
        if (p) {
            r->props.p[r->props.n++] = *p; /* moved */
            memset(p, 0, sizeof *p);
        }
    }
    mapi_props_free(&full);
    return 0;
}

/* Appends the lazy rows of t's mail folder (t->keep kept) to rs. With old
 * (the table's current rows, keeping the same properties) and the storage's
 * narrow listing, only the rows whose stamp changed or that are new are read
 * again; the others keep a copy of what they had. */
static uint32_t lazy_rows(mapi_session *s, const mapi_obj *t, const mapi_table *old, rowset *rs)
{
    struct outpost_txn *tx;
    outpost_status st = s->st->read_begin(s->h, &tx);
    if (st.code != OUTPOST_OK)
        return scode_of(st);
    const struct outpost_storage_methods *m = s->st->storage;
    /* the narrow listing when there is little to read per row (a first listing
     * keeping properties reads them from the wide one in the same pass) */
    int narrow = (old || !t->nkeep) && OUTPOST_HAS_METHOD(m, struct outpost_storage_methods, items_uid_flags) &&
                 m->items_uid_flags;
    mapi_keypos *ix = NULL;
    if (narrow && old && old->nrows && !(ix = mapi_rows_index(old->rows, NULL, old->nrows))) {
        s->st->read_end(s->h, tx);
        return OP_MAPI_E_NOT_ENOUGH_MEMORY;
    }
    uint32_t sc = OP_S_OK;
    struct outpost_cursor *c;
    st = narrow ? m->items_uid_flags(tx, t->id, 1, 0, &c) : m->items_by_uid(tx, t->id, 1, 0, &c);
    if (st.code == OUTPOST_OK) {
        const void *row;
        while (!sc && (st = m->cursor_next(c, &row)).code == OUTPOST_OK && row) {
            int64_t id = narrow ? ((const outpost_uid_flags *)row)->id : ((const outpost_item *)row)->id;
            mapi_row *r = rows_push(rs, (uint64_t)id);
            if (!r) {
                sc = OP_MAPI_E_NOT_ENOUGH_MEMORY;
                break;
            }
            if (!narrow) {
                if (lazy_keep(s, t, tx, row, r) != 0)
                    sc = OP_MAPI_E_NOT_ENOUGH_MEMORY;
                continue;
            }
            uint64_t modseq = ((const outpost_uid_flags *)row)->modseq;
            int64_t oi = ix ? mapi_keypos_find(ix, old->nrows, (uint64_t)id) : -1;
            if (oi >= 0 && old->rows[oi].stamp == modseq) {
                /* unchanged: a copy of what it keeps, in an array of that size */
                const mapi_props *op = &old->rows[oi].props;
                r->stamp = modseq;
                if (op->n && !(r->props.p = calloc(op->n, sizeof *r->props.p))) {
                    sc = OP_MAPI_E_NOT_ENOUGH_MEMORY;
                    continue;
                }
                r->props.cap = op->n;
                for (uint32_t k = 0; k < op->n && !sc; k++) {
                    if (mapi_prop_copy(&r->props.p[k], &op->p[k]) != 0)
                        sc = OP_MAPI_E_NOT_ENOUGH_MEMORY;
                    else
                        r->props.n++;
                }
                continue;
            }
            if (!t->nkeep) {
                r->stamp = modseq;
                continue;
            }
            const outpost_item *it;
            st = m->item_get(tx, id, &it);
            if (st.code != OUTPOST_OK)
                break;
            if (lazy_keep(s, t, tx, it, r) != 0)
                sc = OP_MAPI_E_NOT_ENOUGH_MEMORY;
        }
        m->cursor_close(c);
    }
    s->st->read_end(s->h, tx);
    free(ix);
    if (!sc)
        sc = scode_of(st);
    if (!sc && rs->n) {
        mapi_row *shrunk = realloc(rs->v, rs->n * sizeof *shrunk);
        if (shrunk)
            rs->v = shrunk, rs->cap = rs->n;
    }
    return sc;
}

/* Loads lazy table t's rows when it has none yet: a lazy table lists its
 * folder at the first call that needs rows (Outlook's SetColumns and
 * SortTable come first, so the folder is listed once). SCODE. */
static uint32_t lazy_load(mapi_session *s, mapi_obj *t)
{
    if (!t->tbl.fetch || t->loaded)
        return OP_S_OK;
    rowset rs;
    memset(&rs, 0, sizeof rs);
    uint32_t sc = lazy_rows(s, t, NULL, &rs);
    if (sc) {
        rows_free(&rs);
        return sc;
    }
    if (mapi_table_replace_rows(&t->tbl, rs.v, rs.n, NULL, NULL) != 0)
        return OP_MAPI_E_NOT_ENOUGH_MEMORY;
    t->loaded = 1;
    return OP_S_OK;
}

/* Before a sort or restriction of lazy table t: makes its rows keep what
 * sort and res read (rebuilding them when that changes). SCODE. */
static uint32_t lazy_prepare(mapi_session *s, mapi_obj *t, const mapi_sort *sort, const mapi_res *res)
{
    if (!t->tbl.fetch)
        return OP_S_OK;
    uint32_t *keep = NULL, nkeep = 0;
    int oom = 0;
    for (uint32_t i = 0; i < sort->n && !oom; i++)
        oom = tags_add(&keep, &nkeep, sort->keys[i].tag) != 0;
    if (!oom)
        oom = res_tags(res, &keep, &nkeep) != 0;
    if (oom) {
        free(keep);
        return OP_MAPI_E_NOT_ENOUGH_MEMORY;
    }
    int same = nkeep == t->nkeep;
    for (uint32_t i = 0; i < nkeep && same; i++)
        same = tags_has(t->keep, t->nkeep, keep[i]);
    if (same) {
        free(keep);
        return lazy_load(s, t);
    }
    free(t->keep);
    t->keep = keep;
    t->nkeep = nkeep;
    t->loaded = 0; /* what the rows keep changed: list them again */
    return lazy_load(s, t);
}

/* Appends the contents-table rows of folder fid's items to rs. */
static uint32_t folder_rows(mapi_session *s, int64_t fid, rowset *rs)
{
    struct outpost_txn *tx;
    outpost_status st = s->st->read_begin(s->h, &tx);
    if (st.code != OUTPOST_OK)
        return scode_of(st);
    const struct outpost_storage_methods *m = s->st->storage;
    struct outpost_cursor *c;
    itm *items = NULL;
    uint32_t n = 0;
    st = m->items_by_uid(tx, fid, 1, 0, &c);
    if (st.code == OUTPOST_OK) {
        const void *row;
        while ((st = m->cursor_next(c, &row)).code == OUTPOST_OK && row) {
            itm *ni = realloc(items, (n + 1) * sizeof *ni);
            if (!ni)
                break;
            items = ni;
            itm_copy(&items[n], row);
            items[n].msgstatus = msgstatus_get(s, tx, items[n].it.id);
            n++;
        }
        m->cursor_close(c);
        for (uint32_t i = 0; i < n; i++)
            if (items[i].it.kind != OUTPOST_ITEM_MAIL && items[i].it.content_state == OUTPOST_CONTENT_COMPLETE)
                read_content(s, tx, &items[i]);
    }
    s->st->read_end(s->h, tx);
    uint32_t sc = scode_of(st);
    for (uint32_t i = 0; i < n; i++) {
        mapi_row *r = sc ? NULL : rows_push(rs, (uint64_t)items[i].it.id);
        if (r)
            item_row(s, &items[i].it, items[i].content, items[i].len, items[i].msgstatus, &r->props);
        itm_free(&items[i]);
    }
    free(items);
    return sc;
}

/* Marks in `in` (one flag per folder of l) the folders search sf covers:
 * its folders (Top of Information Store: every top-level folder) and, with
 * RECURSIVE_SEARCH, every folder below them. */
static void search_scope(const fol_list *l, const mapi_search_folder *sf, uint8_t *in)
{
    for (uint32_t k = 0; k < sf->nscope; k++)
        for (uint32_t i = 0; i < l->n; i++)
            if (sf->scope[k].kind == MAPI_EID_VIRTUAL ? l->v[i].parent == 0 : l->v[i].id == sf->scope[k].id)
                in[i] = 1;
    if (!(sf->flags & OP_RECURSIVE_SEARCH))
        return;
    for (int more = 1; more;) {
        more = 0;
        for (uint32_t i = 0; i < l->n; i++) {
            if (in[i] || !l->v[i].parent)
                continue;
            const fol *p = fols_find(l, l->v[i].parent);
            if (p && in[p - l->v]) {
                in[i] = 1;
                more = 1;
            }
        }
    }
}

/* Appends the contents-table rows of search folder sf: the messages of the
 * folders it covers that its restriction matches (none before its criteria
 * are set). */
static uint32_t search_rows(mapi_session *s, const fol_list *l, const mapi_search_folder *sf, rowset *rs)
{
    if (!sf->has_criteria || !l->n)
        return OP_S_OK;
    uint8_t *in = calloc(l->n, 1);
    if (!in)
        return OP_MAPI_E_NOT_ENOUGH_MEMORY;
    search_scope(l, sf, in);
    uint32_t sc = OP_S_OK;
    for (uint32_t i = 0; i < l->n && !sc; i++) {
        if (!in[i])
            continue;
        rowset fr;
        memset(&fr, 0, sizeof fr);
        sc = folder_rows(s, l->v[i].id, &fr);
        for (uint32_t k = 0; k < fr.n && !sc; k++) {
            if (sf->res && !mapi_res_eval(sf->res, &fr.v[k].props))
                continue;
            mapi_row *r = rows_push(rs, fr.v[k].key);
            if (!r) {
                sc = OP_MAPI_E_NOT_ENOUGH_MEMORY;
                break;
            }
            r->props = fr.v[k].props; /* moved */
            mapi_props_init(&fr.v[k].props);
        }
        rows_free(&fr);
    }
    free(in);
    return sc;
}

static uint32_t search_hier_rows(mapi_session *s, const fol_list *l, int depth, rowset *rs)
{
    mapi_search_set set;
    outpost_status st = mapi_search_load(s->h, &set);
    if (st.code != OUTPOST_OK)
        return search_scode(st);
    uint32_t sc = OP_S_OK;
    for (uint32_t i = 0; i < set.n && !sc; i++) {
        rowset m;
        memset(&m, 0, sizeof m);
        sc = search_rows(s, l, &set.v[i], &m);
        uint32_t unread = 0;
        for (uint32_t k = 0; k < m.n; k++)
            if (!(mapi_props_long(&m.v[k].props, OP_PR_MESSAGE_FLAGS, 0) & (int32_t)OP_MSGFLAG_READ))
                unread++;
        mapi_row *r = sc ? NULL : rows_push(rs, 0x4000000000000000ull | set.v[i].num);
        if (!sc && !r)
            sc = OP_MAPI_E_NOT_ENOUGH_MEMORY;
        if (r) {
            search_folder_props(s, &set.v[i], m.n, unread, &r->props);
            mapi_props_set_long(&r->props, OP_PR_DEPTH, depth);
        }
        rows_free(&m);
    }
    mapi_search_set_free(&set);
    return sc;
}

/* The Finder's PR_SUBFOLDERS: whether it holds search folders. */
static void search_subfolders(mapi_session *s, mapi_props *p)
{
    mapi_search_set set;
    if (mapi_search_load(s->h, &set).code == OUTPOST_OK)
        mapi_props_set_bool(p, OP_PR_SUBFOLDERS, set.n > 0);
    mapi_search_set_free(&set);
}

static uint32_t op_open_table(mapi_session *s, const mapi_req *q, reply *r)
{
    mapi_obj *src = obj_get(s, q->h, 0);
    const uint32_t *cols;
    uint32_t ncols;
    switch (q->a) {
    case MAPI_TABLE_HIERARCHY:
    case MAPI_TABLE_CONTENTS:
        if (!src || src->type != OBJ_FOLDER)
            return OP_MAPI_E_INVALID_OBJECT;
        cols = q->a == MAPI_TABLE_HIERARCHY ? DEFAULT_HIERARCHY_COLS : DEFAULT_CONTENTS_COLS;
        ncols = q->a == MAPI_TABLE_HIERARCHY ? NCOLS(DEFAULT_HIERARCHY_COLS) : NCOLS(DEFAULT_CONTENTS_COLS);
        break;
    case MAPI_TABLE_RECIPIENTS:
    case MAPI_TABLE_ATTACHMENTS:
        if (!src || src->type != OBJ_MESSAGE)
            return OP_MAPI_E_INVALID_OBJECT;
        cols = q->a == MAPI_TABLE_RECIPIENTS ? DEFAULT_RECIP_COLS : DEFAULT_ATTACH_COLS;
        ncols = q->a == MAPI_TABLE_RECIPIENTS ? NCOLS(DEFAULT_RECIP_COLS) : NCOLS(DEFAULT_ATTACH_COLS);
        break;
    case MAPI_TABLE_RECEIVE_FOLDERS:
        if (!src || src->type != OBJ_STORE)
            return OP_MAPI_E_INVALID_OBJECT;
        cols = DEFAULT_RECEIVE_COLS;
        ncols = NCOLS(DEFAULT_RECEIVE_COLS);
        break;
    default:
        return OP_MAPI_E_INVALID_PARAMETER;
    }
    mapi_obj *t = calloc(1, sizeof *t);
    if (!t)
        return OP_MAPI_E_NOT_ENOUGH_MEMORY;
    t->type = OBJ_TABLE;
    t->tkind = q->a;
    t->tflags = q->flags;
    t->tsrc = q->h;
    t->ekind = src->ekind;
    t->id = src->id;
    if (mapi_table_init(&t->tbl, cols, ncols) != 0) {
        free(t);
        return OP_MAPI_E_NOT_ENOUGH_MEMORY;
    }
    if (!s->core->eager_tables && lazy_eligible(s, t)) {
        t->sess = s;
        t->tbl.fetch = lazy_fetch;
        t->tbl.fetch_ctx = t;
    }
    /* a lazy table lists its folder when a call first needs rows (lazy_load) */
    rowset rs;
    uint32_t sc = t->tbl.fetch ? OP_S_OK : table_rows(s, t, &rs);
    if (sc) {
        rows_free(&rs);
        obj_free(t);
        return sc;
    }
    if (!t->tbl.fetch && mapi_table_replace_rows(&t->tbl, rs.v, rs.n, NULL, NULL) != 0) {
        obj_free(t);
        return OP_MAPI_E_NOT_ENOUGH_MEMORY;
    }
    uint32_t h = obj_add(s, t);
    if (!h) {
        obj_free(t);
        return OP_MAPI_E_NOT_ENOUGH_MEMORY;
    }
    if (q->a == MAPI_TABLE_CONTENTS && !(q->flags & OP_MAPI_ASSOCIATED) && s->st->folder_open_hint &&
        src->ekind == MAPI_EID_FOLDER)
        s->st->folder_open_hint(s->h, src->id, 1);
    mapi_w_u32(r->out, h);
    return OP_S_OK;
}

static mapi_obj *table_of(mapi_session *s, uint32_t h)
{
    return obj_get(s, h, OBJ_TABLE);
}

static void w_rows(mapi_buf *out, mapi_props *rows, uint32_t n)
{
    mapi_w_u32(out, n);
    for (uint32_t i = 0; i < n; i++) {
        mapi_w_props(out, &rows[i]);
        mapi_props_free(&rows[i]);
    }
    free(rows);
}

static uint32_t op_table(mapi_session *s, const mapi_req *q, reply *r)
{
    mapi_obj *t = table_of(s, q->h);
    if (!t)
        return OP_MAPI_E_INVALID_OBJECT;
    mapi_table *tb = &t->tbl;
    if (q->op != MAPI_OP_TBL_SET_COLUMNS && q->op != MAPI_OP_TBL_SORT && q->op != MAPI_OP_TBL_RESTRICT &&
        !(q->op == MAPI_OP_TBL_QUERY_COLUMNS && !(q->flags & 1u))) {
        uint32_t sc = lazy_load(s, t);
        if (sc)
            return sc;
    }
    switch (q->op) {
    case MAPI_OP_TBL_SET_COLUMNS:
        return mapi_table_set_columns(tb, q->tags, q->ntags) == 0 ? OP_S_OK : OP_MAPI_E_NOT_ENOUGH_MEMORY;
    case MAPI_OP_TBL_QUERY_COLUMNS:
        if (q->flags & 1u) { /* TBL_ALL_COLUMNS: every tag of some row, typed as its first row has it */
            uint32_t *all = NULL, nall = 0;
            for (uint32_t i = 0; i < tb->nrows; i++) {
                mapi_props row;
                mapi_props_init(&row);
                if (mapi_table_full_row(tb, i, &row) == 0)
                    for (uint32_t k = 0; k < row.n; k++)
                        if (tags_add(&all, &nall, row.p[k].tag) != 0) {
                            mapi_props_free(&row);
                            free(all);
                            return OP_MAPI_E_NOT_ENOUGH_MEMORY;
                        }
                mapi_props_free(&row);
            }
            mapi_w_tags(r->out, all, nall);
            free(all);
        } else {
            mapi_w_tags(r->out, tb->cols, tb->ncols);
        }
        return OP_S_OK;
    case MAPI_OP_TBL_GET_ROW_COUNT:
        mapi_w_u32(r->out, mapi_table_row_count(tb));
        return OP_S_OK;
    case MAPI_OP_TBL_QUERY_ROWS: {
        mapi_props *rows;
        uint32_t n;
        int32_t count = q->count;
        if (count > 10000)
            count = 10000;
        if (count < -10000)
            count = -10000;
        if (mapi_table_query_rows(tb, count, q->flags, &rows, &n) != 0)
            return OP_MAPI_E_NOT_ENOUGH_MEMORY;
        w_rows(r->out, rows, n);
        return OP_S_OK;
    }
    case MAPI_OP_TBL_SEEK_ROW: {
        int32_t sought = 0;
        uint32_t sc = mapi_table_seek(tb, q->a, q->count, &sought);
        if (!OP_FAILED(sc))
            mapi_w_u32(r->out, (uint32_t)sought);
        return sc;
    }
    case MAPI_OP_TBL_SEEK_ROW_APPROX:
        return mapi_table_seek_approx(tb, q->a, q->b);
    case MAPI_OP_TBL_QUERY_POSITION: {
        uint32_t row, num, den;
        mapi_table_position(tb, &row, &num, &den);
        mapi_w_u32(r->out, row);
        mapi_w_u32(r->out, num);
        mapi_w_u32(r->out, den);
        return OP_S_OK;
    }
    case MAPI_OP_TBL_CREATE_BOOKMARK: {
        uint32_t id = 0, sc = mapi_table_bookmark(tb, &id);
        if (!sc)
            mapi_w_u32(r->out, id);
        return sc;
    }
    case MAPI_OP_TBL_FREE_BOOKMARK:
        return mapi_table_free_bookmark(tb, q->a);
    case MAPI_OP_TBL_RESTRICT: {
        uint32_t sc = lazy_prepare(s, t, &tb->sort, q->res);
        if (sc)
            return sc;
        return mapi_table_restrict(tb, q->res) == 0 ? OP_S_OK : OP_MAPI_E_NOT_ENOUGH_MEMORY;
    }
    case MAPI_OP_TBL_SORT: {
        if (q->sort.categories)
            return OP_MAPI_E_TOO_COMPLEX;
        uint32_t sc = lazy_prepare(s, t, &q->sort, tb->res);
        if (sc)
            return sc;
        return mapi_table_sort(tb, &q->sort);
    }
    case MAPI_OP_TBL_FIND_ROW:
        return mapi_table_find_row(tb, q->res, q->a, q->flags);
    case MAPI_OP_TBL_ADVISE: {
        mapi_advise *a = NULL;
        for (uint32_t i = 0; i < s->nadv; i++)
            if (!s->adv[i].conn)
                a = &s->adv[i];
        if (!a) {
            mapi_advise *na = realloc(s->adv, (s->nadv + 1) * sizeof *na);
            if (!na)
                return OP_MAPI_E_NOT_ENOUGH_MEMORY;
            s->adv = na;
            a = &s->adv[s->nadv++];
        }
        memset(a, 0, sizeof *a);
        a->conn = s->next_conn++;
        a->table = q->h;
        mapi_w_u32(r->out, a->conn);
        return OP_S_OK;
    }
    default:
        return OP_MAPI_E_NO_SUPPORT;
    }
}

/* ---- folder operations ---- */

/* The message entry ids of a request on folder f: items into ids (*n of
 * them), associated (FAI) messages of f into fai (*nfai numbers; FAI
 * messages of another folder count in *foreign). */
static uint32_t eids_split(mapi_session *s, const mapi_req *q, const mapi_obj *f, int64_t **ids, uint32_t *n,
                           uint32_t **fai, uint32_t *nfai, uint32_t *foreign)
{
    *n = *nfai = *foreign = 0;
    *ids = calloc(q->neids ? q->neids : 1, sizeof **ids);
    *fai = calloc(q->neids ? q->neids : 1, sizeof **fai);
    if (!*ids || !*fai) {
        free(*ids);
        free(*fai);
        *ids = NULL;
        *fai = NULL;
        return OP_MAPI_E_NOT_ENOUGH_MEMORY;
    }
    for (uint32_t i = 0; i < q->neids; i++) {
        mapi_eid e;
        uint32_t vf, num;
        int64_t folder;
        if (mapi_eid_decode_for(q->eids[i].p, q->eids[i].len, s->core->ctx.guid, &e) != 0 ||
            (e.kind != MAPI_EID_MESSAGE && e.kind != MAPI_EID_ASSOC) ||
            (e.kind == MAPI_EID_ASSOC && mapi_fai_eid_split(e.id, &vf, &folder, &num) != 0)) {
            free(*ids);
            free(*fai);
            *ids = NULL;
            *fai = NULL;
            return OP_MAPI_E_INVALID_ENTRYID;
        }
        if (e.kind == MAPI_EID_MESSAGE)
            (*ids)[(*n)++] = e.id;
        else if (f->ekind == (vf ? MAPI_EID_VIRTUAL : MAPI_EID_FOLDER) && f->id == (vf ? (int64_t)vf : folder))
            (*fai)[(*nfai)++] = num;
        else
            (*foreign)++;
    }
    return OP_S_OK;
}

/* Every item id of a folder. */
static uint32_t folder_item_ids(mapi_session *s, int64_t folder, int64_t **ids, uint32_t *n)
{
    *ids = NULL;
    *n = 0;
    struct outpost_txn *t;
    outpost_status st = s->st->read_begin(s->h, &t);
    if (st.code != OUTPOST_OK)
        return scode_of(st);
    struct outpost_cursor *c;
    st = s->st->storage->items_by_uid(t, folder, 1, 0, &c);
    if (st.code == OUTPOST_OK) {
        const void *row;
        while ((st = s->st->storage->cursor_next(c, &row)).code == OUTPOST_OK && row) {
            int64_t *ni = realloc(*ids, (*n + 1) * sizeof *ni);
            if (!ni)
                break;
            *ids = ni;
            (*ids)[(*n)++] = ((const outpost_item *)row)->id;
        }
        s->st->storage->cursor_close(c);
    }
    s->st->read_end(s->h, t);
    return scode_of(st);
}

static uint32_t partial(uint32_t n, const outpost_item_status *ist)
{
    for (uint32_t i = 0; i < n; i++)
        if (ist[i].status.code != OUTPOST_OK)
            return OP_MAPI_W_PARTIAL_COMPLETION;
    return OP_S_OK;
}

/* CreateMessage in folder f (MAPI_ASSOCIATED: an FAI message). */
static uint32_t folder_new_message(mapi_session *s, mapi_obj *f, const mapi_req *q, reply *r)
{
    uint32_t sc, h;
    if (q->flags & OP_MAPI_ASSOCIATED) {
        if (!mapi_fai_supported(s->h))
            return OP_MAPI_E_NO_SUPPORT; /* an older core: nowhere to keep them */
        mapi_fai_where w;
        if ((sc = fai_where_of(s, f->ekind, f->id, &w)) || (sc = fai_create(s, &w, &h)))
            return sc;
        mapi_w_u32(r->out, h);
        return OP_S_OK;
    }
    if (f->ekind != MAPI_EID_FOLDER)
        return OP_MAPI_E_NO_SUPPORT; /* no items in virtual folders */
    uint32_t kind = 0;
    if ((sc = folder_kind(s, f->id, &kind)))
        return sc;
    mapi_obj *m = calloc(1, sizeof *m);
    if (!m)
        return OP_MAPI_E_NOT_ENOUGH_MEMORY;
    m->type = OBJ_MESSAGE;
    m->is_new = 1;
    m->folder_id = f->id;
    m->item_kind = kind;
    mapi_props_set_str(&m->msg.props, OP_PR_MESSAGE_CLASS, mapi_message_class(kind));
    mapi_props_set_long(&m->msg.props, OP_PR_MESSAGE_FLAGS, (int32_t)(OP_MSGFLAG_UNSENT | OP_MSGFLAG_READ));
    mapi_props_set_long(&m->msg.props, OP_PR_OBJECT_TYPE, OP_MAPI_MESSAGE);
    set_eid(s, &m->msg.props, OP_PR_PARENT_ENTRYID, MAPI_EID_FOLDER, f->id);
    store_common(s, &m->msg.props);
    int64_t now = mapi_filetime_from_ms(s->h->now_ms(s->h));
    mapi_props_set_i8(&m->msg.props, OP_PR_CREATION_TIME, now);
    mapi_props_set_i8(&m->msg.props, OP_PR_LAST_MODIFICATION_TIME, now);
    if (!(h = obj_add(s, m))) {
        obj_free(m);
        return OP_MAPI_E_NOT_ENOUGH_MEMORY;
    }
    mapi_w_u32(r->out, h);
    return OP_S_OK;
}

/* A folder just created has no associated messages: a set found under its
 * key could only be a deleted folder's that the storage's id and
 * UIDVALIDITY happened to match, and is dropped rather than inherited.
 * *w (may be NULL) gets the new folder's set. */
static void fai_fresh(mapi_session *s, int64_t folder, mapi_fai_where *w)
{
    mapi_fai_where tmp;
    if (!w)
        w = &tmp;
    if (!mapi_fai_supported(s->h) || fai_where_of(s, MAPI_EID_FOLDER, folder, w) != OP_S_OK)
        return;
    mapi_os_mutex_lock(s->core->fai_lock);
    mapi_fai_set set;
    outpost_status st = mapi_fai_load(s->h, w, &set);
    if (st.code == OUTPOST_BAD_DATA || set.n) {
        s->h->log(s->h, OUTPOST_LOG_WARNING, "mapi: new folder %lld had %u stale associated (FAI) messages; dropped",
                  (long long)folder, set.n);
        mapi_fai_set_free(&set);
        log_status(s, "dropping stale associated (FAI) messages", mapi_fai_store(s->h, w, &set));
    }
    mapi_fai_set_free(&set);
    mapi_os_mutex_unlock(s->core->fai_lock);
}

/* The child of `parent` (0: the top level) named exactly `name`. */
static const fol *fols_child(const fol_list *l, int64_t parent, const char *name)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (l->v[i].parent == parent && !strcmp(l->v[i].name, name))
            return &l->v[i];
    return NULL;
}

/* The storage folder a MAPI folder holds its subfolders in: a folder's id,
 * 0 for Top of Information Store, -1 for the other virtual folders. */
static int64_t folder_parent_id(uint32_t ekind, int64_t id)
{
    if (ekind == MAPI_EID_FOLDER)
        return id;
    return ekind == MAPI_EID_VIRTUAL && id == MAPI_VF_IPM_SUBTREE ? 0 : -1;
}

/* CreateFolder(FOLDER_SEARCH) in the Finder: a search folder (mapi_search.h),
 * kept locally, without criteria until SetSearchCriteria. */
static uint32_t search_new_folder(mapi_session *s, mapi_obj *f, const mapi_req *q, reply *r)
{
    if (f->ekind != MAPI_EID_VIRTUAL || f->id != MAPI_VF_FINDER)
        return OP_MAPI_E_NO_SUPPORT; /* search folders live in the search root only */
    mapi_os_mutex_lock(s->core->search_lock);
    mapi_search_set set;
    outpost_status st = mapi_search_load(s->h, &set);
    uint32_t sc = st.code == OUTPOST_OK ? OP_S_OK : search_scode(st);
    mapi_search_folder *sf = sc ? NULL : mapi_search_find_name(&set, q->str);
    int created = 0;
    if (!sc && sf && !(q->flags & OP_OPEN_IF_EXISTS))
        sc = OP_MAPI_E_COLLISION;
    if (!sc && !sf) {
        if (mapi_search_add(&set, q->str, q->str2, &sf) != 0)
            sc = set.n >= MAPI_SEARCH_MAX_FOLDERS ? OP_MAPI_E_STORE_FULL : OP_MAPI_E_NOT_ENOUGH_MEMORY;
        if (!sc) {
            st = mapi_search_store(s->h, &set);
            log_status(s, "keeping a new search folder", st);
            sc = st.code == OUTPOST_OK ? OP_S_OK : search_scode(st);
            created = !sc;
        }
    }
    uint32_t num = sf ? sf->num : 0;
    mapi_search_set_free(&set);
    mapi_os_mutex_unlock(s->core->search_lock);
    uint32_t h = 0;
    if (!sc)
        sc = open_folder_obj(s, MAPI_EID_SEARCH, num, &h);
    if (sc)
        return sc;
    if (created)
        search_changed(s);
    uint8_t b[MAPI_EID_LEN];
    eid_bytes(s, MAPI_EID_SEARCH, num, b);
    mapi_w_u32(r->out, h);
    mapi_w_bin(r->out, b, MAPI_EID_LEN);
    return OP_S_OK;
}

/* DeleteFolder of a search folder (in the Finder): its messages are the
 * searched folders', so nothing but the folder goes. */
static uint32_t search_delete_folder(mapi_session *s, int64_t num)
{
    mapi_os_mutex_lock(s->core->search_lock);
    mapi_search_set set;
    outpost_status st = mapi_search_load(s->h, &set);
    uint32_t sc = st.code == OUTPOST_OK ? OP_S_OK : search_scode(st);
    if (!sc && (num > UINT32_MAX || mapi_search_remove(&set, (uint32_t)num) != 0))
        sc = OP_MAPI_E_NOT_FOUND;
    if (!sc) {
        st = mapi_search_store(s->h, &set);
        log_status(s, "deleting a search folder", st);
        sc = st.code == OUTPOST_OK ? OP_S_OK : search_scode(st);
    }
    mapi_search_set_free(&set);
    mapi_os_mutex_unlock(s->core->search_lock);
    if (!sc)
        search_changed(s);
    return sc;
}

/* The properties of a search folder SetProps keeps: its name and class. */
static int search_named(uint32_t tag)
{
    uint32_t id = OP_PROP_ID(tag), type = OP_PROP_TYPE(tag);
    return (id == OP_PROP_ID(OP_PR_DISPLAY_NAME) || id == OP_PROP_ID(OP_PR_CONTAINER_CLASS)) &&
           (type == OP_PT_UNICODE || type == OP_PT_STRING8);
}

/* SetProps of PR_DISPLAY_NAME (renames; a name taken: MAPI_E_COLLISION) or
 * PR_CONTAINER_CLASS of search folder num. */
static uint32_t search_set_name(mapi_session *s, int64_t num, const mapi_prop *p)
{
    const char *v = p->v.bin.data ? (const char *)p->v.bin.data : "";
    int name = OP_PROP_ID(p->tag) == OP_PROP_ID(OP_PR_DISPLAY_NAME);
    if (name && !*v)
        return OP_MAPI_E_INVALID_PARAMETER;
    mapi_os_mutex_lock(s->core->search_lock);
    mapi_search_set set;
    outpost_status st = mapi_search_load(s->h, &set);
    uint32_t sc = st.code == OUTPOST_OK ? OP_S_OK : search_scode(st);
    mapi_search_folder *sf = sc || num > UINT32_MAX ? NULL : mapi_search_find(&set, (uint32_t)num);
    if (!sc && !sf)
        sc = OP_MAPI_E_OBJECT_DELETED;
    const mapi_search_folder *other = sc || !name ? NULL : mapi_search_find_name(&set, v);
    if (!sc && other && other != sf)
        sc = OP_MAPI_E_COLLISION;
    char *copy = sc ? NULL : strdup(v);
    if (!sc && !copy)
        sc = OP_MAPI_E_NOT_ENOUGH_MEMORY;
    if (!sc) {
        char **field = name ? &sf->name : &sf->cls;
        free(*field);
        *field = copy;
        st = mapi_search_store(s->h, &set);
        log_status(s, "keeping a search folder's name", st);
        sc = st.code == OUTPOST_OK ? OP_S_OK : search_scode(st);
    }
    mapi_search_set_free(&set);
    mapi_os_mutex_unlock(s->core->search_lock);
    if (!sc)
        search_changed(s);
    return sc;
}

/* Set/GetSearchCriteria (ops 47, 48) on a search folder. */
static uint32_t op_search_criteria(mapi_session *s, const mapi_req *q, reply *r)
{
    mapi_obj *f = obj_get(s, q->h, OBJ_FOLDER);
    if (!f)
        return OP_MAPI_E_INVALID_OBJECT;
    if (f->ekind != MAPI_EID_SEARCH)
        return OP_MAPI_E_NO_SUPPORT; /* only search folders have criteria */
    int set_op = q->op == MAPI_OP_SET_SEARCH_CRITERIA;
    uint32_t fl = q->flags;
    if (set_op && (((fl & OP_RECURSIVE_SEARCH) && (fl & OP_SHALLOW_SEARCH)) ||
                   ((fl & OP_STOP_SEARCH) && (fl & OP_RESTART_SEARCH))))
        return OP_MAPI_E_INVALID_PARAMETER;
    mapi_search_scope *scope = NULL;
    uint32_t sc = OP_S_OK;
    if (set_op && q->neids) {
        /* the folders: ours, real or Top of Information Store */
        fol_list l;
        if ((sc = fols_load(s, &l)))
            return sc;
        scope = calloc(q->neids, sizeof *scope);
        if (!scope)
            sc = OP_MAPI_E_NOT_ENOUGH_MEMORY;
        for (uint32_t i = 0; !sc && i < q->neids; i++) {
            mapi_eid e;
            if (mapi_eid_decode_for(q->eids[i].p, q->eids[i].len, s->core->ctx.guid, &e) != 0 ||
                !(e.kind == MAPI_EID_FOLDER || (e.kind == MAPI_EID_VIRTUAL && e.id == MAPI_VF_IPM_SUBTREE)))
                sc = OP_MAPI_E_INVALID_ENTRYID;
            else if (e.kind == MAPI_EID_FOLDER && !fols_find(&l, e.id))
                sc = OP_MAPI_E_NOT_FOUND;
            else
                scope[i] = (mapi_search_scope){ e.kind, e.id };
        }
        fols_free(&l);
        if (!sc && q->neids > MAPI_SEARCH_MAX_SCOPE)
            sc = OP_MAPI_E_TOO_COMPLEX;
    }
    mapi_os_mutex_lock(s->core->search_lock);
    mapi_search_set set;
    outpost_status st = sc ? outpost_ok() : mapi_search_load(s->h, &set);
    if (sc)
        mapi_search_set_init(&set);
    else if (st.code != OUTPOST_OK)
        sc = search_scode(st);
    mapi_search_folder *sf = sc || f->id > UINT32_MAX ? NULL : mapi_search_find(&set, (uint32_t)f->id);
    if (!sc && !sf)
        sc = OP_MAPI_E_OBJECT_DELETED;
    if (!sc && !set_op) {
        if (!sf->has_criteria) {
            sc = OP_MAPI_E_NOT_INITIALIZED;
        } else {
            mapi_w_u8(r->out, sf->res ? 1 : 0);
            if (sf->res)
                mapi_w_res(r->out, sf->res);
            mapi_w_u32(r->out, sf->nscope);
            for (uint32_t i = 0; i < sf->nscope; i++) {
                uint8_t b[MAPI_EID_LEN];
                eid_bytes(s, sf->scope[i].kind, sf->scope[i].id, b);
                mapi_w_bin(r->out, b, MAPI_EID_LEN);
            }
            mapi_w_u32(r->out, sf->state);
        }
    } else if (!sc) {
        if (!sf->has_criteria && !q->neids)
            sc = OP_MAPI_E_INVALID_PARAMETER; /* the first criteria must name the folders */
        mapi_res *res = !sc && q->res ? mapi_res_dup(q->res) : NULL;
        if (!sc && q->res && !res)
            sc = OP_MAPI_E_NOT_ENOUGH_MEMORY;
        if (!sc) {
            if (q->res) {
                mapi_res_free(sf->res);
                sf->res = res;
            }
            if (q->neids) {
                free(sf->scope);
                sf->scope = scope;
                sf->nscope = q->neids;
                scope = NULL;
            }
            if (fl & (OP_RECURSIVE_SEARCH | OP_SHALLOW_SEARCH))
                sf->flags = fl & (OP_RECURSIVE_SEARCH | OP_SHALLOW_SEARCH);
            else if (!sf->has_criteria)
                sf->flags = OP_SHALLOW_SEARCH;
            sf->has_criteria = 1;
            /* evaluated whenever the contents are read: never rebuilding */
            sf->state = ((fl & OP_STOP_SEARCH) ? 0 : OP_SEARCH_RUNNING) |
                        ((sf->flags & OP_RECURSIVE_SEARCH) ? OP_SEARCH_RECURSIVE : 0);
            st = mapi_search_store(s->h, &set);
            log_status(s, "keeping search criteria", st);
            sc = st.code == OUTPOST_OK ? OP_S_OK : search_scode(st);
        }
    }
    mapi_search_set_free(&set);
    mapi_os_mutex_unlock(s->core->search_lock);
    free(scope);
    if (!sc && set_op)
        search_changed(s);
    return sc;
}

static uint32_t folder_new_folder(mapi_session *s, mapi_obj *f, const mapi_req *q, reply *r)
{
    if (!q->str || !*q->str)
        return OP_MAPI_E_INVALID_PARAMETER;
    if (q->a == OP_FOLDER_SEARCH)
        return search_new_folder(s, f, q, r); /* kept locally; never a real (server) folder */
    int64_t parent = folder_parent_id(f->ekind, f->id);
    if (parent < 0)
        return OP_MAPI_E_NO_SUPPORT; /* root, finder, views: nothing on the server to hold them */
    fol_list l;
    uint32_t sc = fols_load(s, &l);
    if (sc)
        return sc;
    const fol *pf = parent ? fols_find(&l, parent) : NULL;
    const fol *old = fols_child(&l, parent, q->str);
    uint32_t kind = pf ? pf->kind : OUTPOST_ITEM_MAIL;
    int64_t nid = old ? old->id : 0;
    fols_free(&l);
    if (parent && !pf)
        return OP_MAPI_E_OBJECT_DELETED;
    if (old && !(q->flags & OP_OPEN_IF_EXISTS))
        return OP_MAPI_E_COLLISION;
    if (!old) {
        if (q->str2 && *q->str2)
            for (uint32_t k = 1; k <= 5; k++)
                if (!strncasecmp(q->str2, mapi_container_class(k), strlen(mapi_container_class(k))))
                    kind = k;
        outpost_status st = s->st->folder_create(s->h, parent, q->str, kind, &nid);
        log_status(s, "folder_create", st);
        if (st.code == OUTPOST_BAD_DATA)
            return OP_MAPI_E_COLLISION;
        if (st.code != OUTPOST_OK)
            return scode_of(st);
        fai_fresh(s, nid, NULL);
    }
    uint32_t h;
    if ((sc = open_folder_obj(s, MAPI_EID_FOLDER, nid, &h)))
        return sc;
    uint8_t b[MAPI_EID_LEN];
    eid_bytes(s, MAPI_EID_FOLDER, nid, b);
    mapi_w_u32(r->out, h);
    mapi_w_bin(r->out, b, MAPI_EID_LEN);
    return OP_S_OK;
}

/* 1 when folder f of snapshot l (FAI counted by fols_assoc) or, with
 * `subfolders`, any folder below it holds items or associated messages. */
static int fols_has_content(const fol_list *l, const fol *f, int subfolders, int depth)
{
    if (f->total || f->assoc)
        return 1;
    for (uint32_t i = 0; subfolders && depth < 64 && i < l->n; i++)
        if (l->v[i].parent == f->id && fols_has_content(l, &l->v[i], 1, depth + 1))
            return 1;
    return 0;
}

/* Deletes folder f of snapshot l with its items and, first, every folder
 * below it (the storage deletes a folder only once it has no subfolders):
 * each a journaled folder_delete whose FAI set goes with it (a failure there
 * leaves a set no folder can see, which the watch's sweep drops). Returns
 * f's own deletion; *failed counts the folders below it not deleted. */
static outpost_status folder_delete_tree(mapi_session *s, const fol_list *l, const fol *f, int depth,
                                         uint32_t *failed)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (l->v[i].parent == f->id &&
            (depth >= 64 || folder_delete_tree(s, l, &l->v[i], depth + 1, failed).code != OUTPOST_OK))
            (*failed)++;
    outpost_status st = s->st->folder_delete(s->h, f->id);
    log_status(s, "folder_delete", st);
    if (st.code == OUTPOST_OK && mapi_fai_supported(s->h)) {
        mapi_fai_where w = { 0, f->id, f->uidvalidity };
        fai_delete(s, &w, NULL, 0, NULL);
    }
    return st;
}

/* DeleteFolder: DEL_FOLDERS takes its subfolders along (else a folder with
 * subfolders is MAPI_E_HAS_FOLDERS), DEL_MESSAGES the items and FAI
 * messages in all of them (else MAPI_E_HAS_MESSAGES). */
static uint32_t folder_delete_folder(mapi_session *s, const mapi_req *q)
{
    mapi_eid e;
    if (mapi_eid_decode_for(q->bin.p, q->bin.len, s->core->ctx.guid, &e) != 0 ||
        (e.kind != MAPI_EID_FOLDER && e.kind != MAPI_EID_SEARCH))
        return OP_MAPI_E_INVALID_ENTRYID;
    if (e.kind == MAPI_EID_SEARCH)
        return search_delete_folder(s, e.id);
    fol_list l;
    uint32_t sc = fols_load(s, &l);
    if (sc)
        return sc;
    fols_assoc(s, &l, 0, 0);
    const fol *df = fols_find(&l, e.id);
    int tree = (q->flags & OP_DEL_FOLDERS) != 0;
    if (!df)
        sc = OP_MAPI_E_NOT_FOUND;
    else if (fols_has_children(&l, e.id) && !tree)
        sc = OP_MAPI_E_HAS_FOLDERS;
    else if (!(q->flags & OP_DEL_MESSAGES) && fols_has_content(&l, df, tree, 0))
        sc = OP_MAPI_E_HAS_MESSAGES;
    if (!sc) {
        uint32_t failed = 0;
        outpost_status st = folder_delete_tree(s, &l, df, 0, &failed);
        sc = st.code != OUTPOST_OK && !failed ? scode_of(st) : failed ? OP_MAPI_W_PARTIAL_COMPLETION : OP_S_OK;
    }
    fols_free(&l);
    return sc;
}

/* Copies folder src (of the snapshot l) under dest with the name `name`: a
 * new folder of its kind (journaled like CreateFolder), copies of its items
 * (journaled like CopyMessages), its associated messages, and with
 * `subfolders` its subfolders as the snapshot has them, so a copy never meets
 * itself. Only a failure to make the folder itself is an error; items and
 * subfolders that could not be copied count in *failed. */
static uint32_t folder_copy_tree(mapi_session *s, const fol_list *l, const fol *src, int64_t dest, const char *name,
                                 int subfolders, int depth, uint32_t *failed)
{
    int64_t nid = 0;
    outpost_status st = s->st->folder_create(s->h, dest, name, src->kind, &nid);
    log_status(s, "folder_create (copying a folder)", st);
    if (st.code == OUTPOST_BAD_DATA)
        return OP_MAPI_E_COLLISION;
    if (st.code != OUTPOST_OK)
        return scode_of(st);
    int64_t *ids = NULL;
    uint32_t n = 0;
    outpost_item_status *ist = NULL;
    if (folder_item_ids(s, src->id, &ids, &n) != OP_S_OK || (n && !(ist = calloc(n, sizeof *ist)))) {
        (*failed)++;
    } else if (n) {
        st = s->st->copy(s->h, ids, n, nid, NULL, NULL, ist);
        log_status(s, "copy (copying a folder)", st);
        for (uint32_t i = 0; i < n; i++)
            if (st.code != OUTPOST_OK || ist[i].status.code != OUTPOST_OK)
                (*failed)++;
    }
    free(ids);
    free(ist);
    if (mapi_fai_supported(s->h)) {
        mapi_fai_where from = { 0, src->id, src->uidvalidity }, to;
        uint32_t missing;
        fai_fresh(s, nid, &to);
        if (mapi_fai_eid_id(&to, 1) == 0 || fai_copy(s, &from, &to, NULL, 0, 0, &missing) != OP_S_OK)
            (*failed)++;
    }
    for (uint32_t i = 0; subfolders && i < l->n; i++) {
        if (l->v[i].parent != src->id)
            continue;
        if (depth >= 64 || folder_copy_tree(s, l, &l->v[i], nid, l->v[i].name, 1, depth + 1, failed) != OP_S_OK)
            (*failed)++;
    }
    return OP_S_OK;
}

/* CopyFolder: the child `bin` of folder f into folder `bin2` (Top of
 * Information Store or one of ours), named `str` (empty: its own name).
 * FOLDER_MOVE renames it there (journaled; its associated messages stay
 * with it); a copy goes through folder_copy_tree, with COPY_SUBFOLDERS its
 * whole subtree. */
static uint32_t folder_copy_folder(mapi_session *s, mapi_obj *f, const mapi_req *q)
{
    mapi_eid se, de;
    if (mapi_eid_decode_for(q->bin.p, q->bin.len, s->core->ctx.guid, &se) != 0 || se.kind != MAPI_EID_FOLDER ||
        mapi_eid_decode_for(q->bin2.p, q->bin2.len, s->core->ctx.guid, &de) != 0 ||
        (de.kind != MAPI_EID_FOLDER && de.kind != MAPI_EID_VIRTUAL))
        return OP_MAPI_E_INVALID_ENTRYID;
    int64_t dest = folder_parent_id(de.kind, de.id);
    if (dest < 0)
        return OP_MAPI_E_NO_SUPPORT; /* only under Top of Information Store and our folders */
    fol_list l;
    uint32_t sc = fols_load(s, &l);
    if (sc)
        return sc;
    const fol *src = fols_find(&l, se.id);
    const char *name = q->str && *q->str ? q->str : src ? src->name : "";
    const fol *clash = fols_child(&l, dest, name);
    int move = (q->flags & OP_FOLDER_MOVE) != 0;
    if (!src || src->parent != folder_parent_id(f->ekind, f->id) || (dest && !fols_find(&l, dest))) {
        sc = OP_MAPI_E_NOT_FOUND; /* not a subfolder of f, or no such destination */
    } else if (clash && !(move && clash == src)) {
        sc = OP_MAPI_E_COLLISION;
    } else {
        /* into itself or one of its own subfolders */
        const fol *p = dest ? fols_find(&l, dest) : NULL;
        for (uint32_t hops = 0; p && !sc && hops <= l.n; hops++, p = p->parent ? fols_find(&l, p->parent) : NULL)
            if (p->id == src->id)
                sc = OP_MAPI_E_FOLDER_CYCLE;
    }
    if (!sc && move) {
        outpost_status st = s->st->folder_rename(s->h, src->id, dest, name);
        log_status(s, "folder_rename (moving a folder)", st);
        sc = st.code == OUTPOST_BAD_DATA ? OP_MAPI_E_NO_ACCESS : scode_of(st); /* the store refuses (Inbox) */
    } else if (!sc) {
        uint32_t failed = 0;
        sc = folder_copy_tree(s, &l, src, dest, name, (q->flags & OP_COPY_SUBFOLDERS) != 0, 0, &failed);
        if (!sc && failed)
            sc = OP_MAPI_W_PARTIAL_COMPLETION;
    }
    fols_free(&l);
    return sc;
}

/* The FAI part of COPY_MESSAGES (into dest) or DELETE_MESSAGES (dest NULL)
 * on folder f: numbers nums[0..n) of its set; those not there count in
 * *foreign. */
static uint32_t fai_apply(mapi_session *s, const mapi_obj *f, const mapi_eid *dest, const uint32_t *nums, uint32_t n,
                          int move, uint32_t *foreign)
{
    if (!n)
        return OP_S_OK;
    mapi_fai_where from, to;
    uint32_t missing = 0, sc = fai_where_of(s, f->ekind, f->id, &from);
    if (!sc && dest)
        sc = fai_where_of(s, dest->kind, dest->id, &to);
    if (!sc)
        sc = dest ? fai_copy(s, &from, &to, nums, n, move, &missing) : fai_delete(s, &from, nums, n, &missing);
    *foreign += missing;
    return sc;
}

static uint32_t op_folder(mapi_session *s, const mapi_req *q, reply *r)
{
    mapi_obj *f = obj_get(s, q->h, OBJ_FOLDER);
    if (!f)
        return OP_MAPI_E_INVALID_OBJECT;
    if (f->ekind == MAPI_EID_SEARCH)
        return OP_MAPI_E_NO_SUPPORT; /* a search folder's messages are the searched folders' */
    switch (q->op) {
    case MAPI_OP_CREATE_MESSAGE: return folder_new_message(s, f, q, r);
    case MAPI_OP_CREATE_FOLDER: return folder_new_folder(s, f, q, r);
    case MAPI_OP_DELETE_FOLDER: return folder_delete_folder(s, q);
    case MAPI_OP_COPY_FOLDER: return folder_copy_folder(s, f, q);
    default: break;
    }
    /* operations on a list of messages (or all of the folder's) */
    int64_t *ids = NULL;
    uint32_t *fai = NULL;
    uint32_t n = 0, nfai = 0, foreign = 0, sc;
    int move = (q->flags & OP_MAPI_MOVE) != 0;
    mapi_eid dest;
    switch (q->op) {
    case MAPI_OP_COPY_MESSAGES:
        if (mapi_eid_decode_for(q->bin.p, q->bin.len, s->core->ctx.guid, &dest) != 0 ||
            (dest.kind != MAPI_EID_FOLDER && dest.kind != MAPI_EID_VIRTUAL))
            return OP_MAPI_E_INVALID_ENTRYID;
        sc = eids_split(s, q, f, &ids, &n, &fai, &nfai, &foreign);
        if (!sc && n && dest.kind != MAPI_EID_FOLDER)
            sc = OP_MAPI_E_NO_SUPPORT; /* no items in virtual folders */
        break;
    case MAPI_OP_DELETE_MESSAGES:
        sc = eids_split(s, q, f, &ids, &n, &fai, &nfai, &foreign);
        break;
    case MAPI_OP_SET_READ_FLAGS:
        if (q->neids == 0)
            sc = f->ekind == MAPI_EID_FOLDER ? folder_item_ids(s, f->id, &ids, &n) : OP_S_OK;
        else
            sc = eids_split(s, q, f, &ids, &n, &fai, &nfai, &foreign);
        foreign = 0; /* associated messages keep no read state (MSGFLAG_READ is ignored for them) */
        break;
    case MAPI_OP_EMPTY_FOLDER:
        sc = OP_S_OK;
        if ((q->flags & OP_DEL_ASSOCIATED) && mapi_fai_supported(s->h)) {
            mapi_fai_where w;
            if (!(sc = fai_where_of(s, f->ekind, f->id, &w)))
                sc = fai_delete(s, &w, NULL, 0, NULL);
        }
        if (!sc && f->ekind == MAPI_EID_FOLDER) {
            /* all its subfolders go, with what they hold (the folder itself stays) */
            fol_list l;
            if (!(sc = fols_load(s, &l))) {
                for (uint32_t i = 0; i < l.n; i++)
                    if (l.v[i].parent == f->id && folder_delete_tree(s, &l, &l.v[i], 0, &foreign).code != OUTPOST_OK)
                        foreign++;
                fols_free(&l);
                sc = folder_item_ids(s, f->id, &ids, &n);
            }
        }
        break;
    default:
        return OP_MAPI_E_NO_SUPPORT;
    }
    outpost_item_status *ist = sc ? NULL : calloc(n ? n : 1, sizeof *ist);
    if (!sc && !ist)
        sc = OP_MAPI_E_NOT_ENOUGH_MEMORY;
    if (!sc && (q->op == MAPI_OP_COPY_MESSAGES || q->op == MAPI_OP_DELETE_MESSAGES))
        sc = fai_apply(s, f, q->op == MAPI_OP_COPY_MESSAGES ? &dest : NULL, fai, nfai, move, &foreign);
    if (!sc && n) {
        outpost_status st;
        const char *what;
        if (q->op == MAPI_OP_COPY_MESSAGES) {
            what = move ? "move" : "copy";
            st = move ? s->st->move(s->h, ids, n, dest.id, NULL, ist)
                      : s->st->copy(s->h, ids, n, dest.id, NULL, NULL, ist);
        } else if (q->op == MAPI_OP_SET_READ_FLAGS) {
            what = "set_flags";
            st = s->st->set_flags(s->h, ids, n,
                                  (q->flags & OP_MSGFLAG_CLEAR_READ_FLAG) ? OUTPOST_FLAGS_REMOVE : OUTPOST_FLAGS_ADD,
                                  OUTPOST_FLAG_SEEN, NULL, NULL, ist);
        } else {
            what = "remove";
            st = s->st->remove(s->h, ids, n, 0, ist);
        }
        log_status(s, what, st);
        sc = st.code == OUTPOST_OK ? partial(n, ist) : scode_of(st);
    }
    if (sc == OP_S_OK && foreign)
        sc = OP_MAPI_W_PARTIAL_COMPLETION; /* FAI messages not in this folder, subfolders not deleted */
    free(ids);
    free(fai);
    free(ist);
    return sc;
}

/* ---- message status ---- */

/* GetMessageStatus / SetMessageStatus of message `bin` in folder f: the
 * status before; SET changes the bits in `b` (mask) to those of `a`. Items
 * keep it in their property bag, FAI messages in their set; local-only. */
static uint32_t op_message_status(mapi_session *s, const mapi_req *q, reply *r)
{
    mapi_obj *f = obj_get(s, q->h, OBJ_FOLDER);
    if (!f)
        return OP_MAPI_E_INVALID_OBJECT;
    mapi_eid e;
    uint32_t vf, num, old = 0, sc = OP_S_OK;
    int64_t folder;
    int set = q->op == MAPI_OP_SET_MESSAGE_STATUS;
    if (mapi_eid_decode_for(q->bin.p, q->bin.len, s->core->ctx.guid, &e) != 0 ||
        (e.kind != MAPI_EID_MESSAGE && e.kind != MAPI_EID_ASSOC) ||
        (e.kind == MAPI_EID_ASSOC && mapi_fai_eid_split(e.id, &vf, &folder, &num) != 0))
        return OP_MAPI_E_INVALID_ENTRYID;
    if (e.kind == MAPI_EID_ASSOC) {
        if (f->ekind != (vf ? MAPI_EID_VIRTUAL : MAPI_EID_FOLDER) || f->id != (vf ? (int64_t)vf : folder))
            return OP_MAPI_E_NOT_FOUND; /* not in this folder */
        mapi_fai_where w;
        if ((sc = fai_where_of(s, f->ekind, f->id, &w)))
            return sc;
        mapi_os_mutex_lock(s->core->fai_lock);
        mapi_fai_set fs;
        outpost_status st = mapi_fai_load(s->h, &w, &fs);
        mapi_fai_msg *m = st.code == OUTPOST_OK ? mapi_fai_find(&fs, num) : NULL;
        sc = st.code != OUTPOST_OK ? fai_scode(st) : !m ? OP_MAPI_E_NOT_FOUND : OP_S_OK;
        if (m) {
            old = (uint32_t)mapi_props_long(&m->msg.props, OP_PR_MSG_STATUS, 0);
            uint32_t now = (old & ~q->b) | (q->a & q->b);
            if (set && now != old) {
                mapi_props_set_long(&m->msg.props, OP_PR_MSG_STATUS, (int32_t)now);
                st = mapi_fai_store(s->h, &w, &fs);
                log_status(s, "keeping the status of an associated (FAI) message", st);
                sc = fai_store_scode(st);
            }
        }
        mapi_fai_set_free(&fs);
        mapi_os_mutex_unlock(s->core->fai_lock);
        if (!sc && set)
            fai_changed(s, &w);
    } else {
        struct outpost_txn *t;
        outpost_status st = s->st->read_begin(s->h, &t);
        if (st.code != OUTPOST_OK)
            return scode_of(st);
        const outpost_item *it;
        st = s->st->storage->item_get(t, e.id, &it);
        if (st.code == OUTPOST_OK && (f->ekind != MAPI_EID_FOLDER || it->folder_id != f->id))
            st.code = OUTPOST_GONE; /* not in this folder */
        if (st.code == OUTPOST_OK)
            old = msgstatus_get(s, t, e.id);
        s->st->read_end(s->h, t);
        if (st.code != OUTPOST_OK)
            return st.code == OUTPOST_GONE ? OP_MAPI_E_NOT_FOUND : scode_of(st);
        uint32_t now = (old & ~q->b) | (q->a & q->b);
        if (set && now != old) {
            if (!extras_supported(s))
                return OP_MAPI_E_NO_SUPPORT; /* an older core: nowhere to keep it */
            uint8_t b[4] = { (uint8_t)now, (uint8_t)(now >> 8), (uint8_t)(now >> 16), (uint8_t)(now >> 24) };
            st = s->st->prop_set(s->h, e.id, MSGSTATUS_PROP, now ? b : NULL, now ? 4 : 0);
            log_status(s, "prop_set (message status)", st);
            sc = scode_of(st);
        }
    }
    if (!sc)
        mapi_w_u32(r->out, old);
    return sc;
}

/* ---- messages ---- */

static uint32_t op_message(mapi_session *s, const mapi_req *q, reply *r)
{
    mapi_obj *m = obj_get(s, q->h, OBJ_MESSAGE);
    if (!m)
        return OP_MAPI_E_INVALID_OBJECT;
    switch (q->op) {
    case MAPI_OP_SET_READ_FLAG: {
        int clear = (q->flags & OP_MSGFLAG_CLEAR_READ_FLAG) != 0;
        int32_t mf = mapi_props_long(&m->msg.props, OP_PR_MESSAGE_FLAGS, 0);
        mf = clear ? (mf & ~(int32_t)OP_MSGFLAG_READ) : (mf | (int32_t)OP_MSGFLAG_READ);
        if (m->assoc)
            return OP_S_OK; /* associated messages keep no read state */
        mapi_props_set_long(&m->msg.props, OP_PR_MESSAGE_FLAGS, mf);
        if (m->is_new)
            return OP_S_OK;
        outpost_status st = s->st->set_flags(s->h, &m->id, 1, clear ? OUTPOST_FLAGS_REMOVE : OUTPOST_FLAGS_ADD,
                                              OUTPOST_FLAG_SEEN, NULL, NULL, NULL);
        log_status(s, "set_flags", st);
        if (st.code == OUTPOST_OK)
            m->item_flags = clear ? (m->item_flags & ~OUTPOST_FLAG_SEEN) : (m->item_flags | OUTPOST_FLAG_SEEN);
        return scode_of(st);
    }
    case MAPI_OP_MODIFY_RECIPIENTS: {
        /* flags: 0 replace all, MODRECIP_ADD 2, MODRECIP_MODIFY 4, MODRECIP_REMOVE 8 */
        mapi_message *msg = &m->msg;
        if (q->flags == 0 || (q->flags & 2u)) {
            if (q->flags == 0) {
                for (uint32_t i = 0; i < msg->nrecips; i++)
                    mapi_props_free(&msg->recips[i]);
                msg->nrecips = 0;
            }
            for (uint32_t i = 0; i < q->nrows; i++) {
                mapi_props *nr = realloc(msg->recips, (msg->nrecips + 1) * sizeof *nr);
                if (!nr)
                    return OP_MAPI_E_NOT_ENOUGH_MEMORY;
                msg->recips = nr;
                mapi_props *d = &msg->recips[msg->nrecips];
                mapi_props_init(d);
                if (mapi_props_copy(d, &q->rows[i]) != 0)
                    return OP_MAPI_E_NOT_ENOUGH_MEMORY;
                uint32_t rowid = 0;
                for (uint32_t k = 0; k < msg->nrecips; k++)
                    if ((uint32_t)mapi_props_long(&msg->recips[k], OP_PR_ROWID, 0) >= rowid)
                        rowid = (uint32_t)mapi_props_long(&msg->recips[k], OP_PR_ROWID, 0) + 1;
                mapi_props_set_long(d, OP_PR_ROWID, (int32_t)rowid);
                msg->nrecips++;
            }
        } else {
            for (uint32_t i = 0; i < q->nrows; i++) {
                int32_t rowid = mapi_props_long(&q->rows[i], OP_PR_ROWID, -1);
                for (uint32_t k = 0; k < msg->nrecips; k++) {
                    if (mapi_props_long(&msg->recips[k], OP_PR_ROWID, -2) != rowid)
                        continue;
                    if (q->flags & 8u) {
                        mapi_props_free(&msg->recips[k]);
                        msg->recips[k] = msg->recips[--msg->nrecips];
                    } else {
                        mapi_props_free(&msg->recips[k]);
                        if (mapi_props_copy(&msg->recips[k], &q->rows[i]) != 0)
                            return OP_MAPI_E_NOT_ENOUGH_MEMORY;
                    }
                    break;
                }
            }
        }
        m->content_dirty = 1;
        return OP_S_OK;
    }
    case MAPI_OP_CREATE_ATTACH: {
        mapi_obj *a = calloc(1, sizeof *a);
        if (!a)
            return OP_MAPI_E_NOT_ENOUGH_MEMORY;
        a->type = OBJ_ATTACH;
        a->parent = q->h;
        uint32_t num = m->msg.next_att;
        for (uint32_t i = 0; i < m->msg.natts; i++)
            if (m->msg.atts[i].num >= num)
                num = m->msg.atts[i].num + 1;
        m->msg.next_att = num + 1;
        a->att_num = num;
        mapi_props_set_long(&a->att, OP_PR_ATTACH_NUM, (int32_t)num);
        mapi_props_set_long(&a->att, OP_PR_OBJECT_TYPE, OP_MAPI_ATTACH);
        mapi_props_set_long(&a->att, OP_PR_ATTACH_METHOD, OP_ATTACH_BY_VALUE);
        mapi_props_set_long(&a->att, OP_PR_RENDERING_POSITION, -1);
        uint32_t h = obj_add(s, a);
        if (!h) {
            obj_free(a);
            return OP_MAPI_E_NOT_ENOUGH_MEMORY;
        }
        mapi_w_u32(r->out, h);
        mapi_w_u32(r->out, num);
        return OP_S_OK;
    }
    case MAPI_OP_OPEN_ATTACH: {
        for (uint32_t i = 0; i < m->msg.natts; i++) {
            if (m->msg.atts[i].num != q->a)
                continue;
            mapi_obj *a = calloc(1, sizeof *a);
            if (!a)
                return OP_MAPI_E_NOT_ENOUGH_MEMORY;
            a->type = OBJ_ATTACH;
            a->parent = q->h;
            a->att_num = q->a;
            uint32_t h = 0;
            if (mapi_props_copy(&a->att, &m->msg.atts[i].props) != 0 || !(h = obj_add(s, a))) {
                obj_free(a);
                return OP_MAPI_E_NOT_ENOUGH_MEMORY;
            }
            mapi_w_u32(r->out, h);
            return OP_S_OK;
        }
        return OP_MAPI_E_NOT_FOUND;
    }
    case MAPI_OP_DELETE_ATTACH:
        for (uint32_t i = 0; i < m->msg.natts; i++) {
            if (m->msg.atts[i].num != q->a)
                continue;
            mapi_props_free(&m->msg.atts[i].props);
            m->msg.atts[i] = m->msg.atts[--m->msg.natts];
            m->content_dirty = 1;
            return OP_S_OK;
        }
        return OP_MAPI_E_NOT_FOUND;
    default:
        return OP_MAPI_E_NO_SUPPORT;
    }
}

/* ---- named properties ---- */

static uint32_t op_names(mapi_session *s, const mapi_req *q, reply *r)
{
    mapi_core *c = s->core;
    uint32_t sc = OP_S_OK;
    mapi_os_mutex_lock(c->names_lock);
    if (q->op == MAPI_OP_GET_IDS_FROM_NAMES) {
        if (q->nnames == 0) {
            uint32_t n = mapi_names_count(c->names);
            mapi_w_u32(r->out, n);
            for (uint32_t i = 0; i < n; i++)
                mapi_w_u32(r->out, OP_PROP_TAG(OP_PT_UNSPECIFIED, mapi_names_id_at(c->names, i)));
        } else {
            mapi_w_u32(r->out, q->nnames);
            for (uint32_t i = 0; i < q->nnames; i++) {
                uint16_t id;
                if (mapi_names_id(c->names, &q->names[i], (q->flags & OP_MAPI_CREATE) != 0, &id) == 0) {
                    mapi_w_u32(r->out, OP_PROP_TAG(OP_PT_UNSPECIFIED, id));
                } else {
                    mapi_w_u32(r->out, OP_PROP_TAG(OP_PT_ERROR, 0));
                    sc = OP_MAPI_W_ERRORS_RETURNED;
                }
            }
        }
    } else {
        uint32_t n = q->ntags ? q->ntags : mapi_names_count(c->names);
        mapi_w_u32(r->out, n);
        for (uint32_t i = 0; i < n; i++) {
            uint32_t tag = q->ntags ? q->tags[i] : OP_PROP_TAG(OP_PT_UNSPECIFIED, mapi_names_id_at(c->names, i));
            const mapi_name *nm = mapi_names_get(c->names, (uint16_t)OP_PROP_ID(tag));
            mapi_w_u32(r->out, tag);
            if (nm) {
                mapi_w_u8(r->out, 1);
                mapi_w_name(r->out, nm);
            } else if (OP_PROP_ID(tag) < MAPI_NAMED_FIRST) {
                mapi_name pm;
                memset(&pm, 0, sizeof pm);
                memcpy(pm.guid, MAPI_PS_MAPI, 16);
                pm.kind = MAPI_MNID_ID;
                pm.lid = OP_PROP_ID(tag);
                mapi_w_u8(r->out, 1);
                mapi_w_name(r->out, &pm);
            } else {
                mapi_w_u8(r->out, 0);
                sc = OP_MAPI_W_ERRORS_RETURNED;
            }
        }
    }
    mapi_os_mutex_unlock(c->names_lock);
    return sc;
}

/* ---- advise ---- */

static uint32_t op_advise(mapi_session *s, const mapi_req *q, reply *r)
{
    mapi_eid e;
    memset(&e, 0, sizeof e);
    if (q->bin.len && mapi_eid_decode_for(q->bin.p, q->bin.len, s->core->ctx.guid, &e) != 0)
        return OP_MAPI_E_INVALID_ENTRYID;
    mapi_advise *na = realloc(s->adv, (s->nadv + 1) * sizeof *na);
    if (!na)
        return OP_MAPI_E_NOT_ENOUGH_MEMORY;
    s->adv = na;
    mapi_advise *a = &s->adv[s->nadv++];
    memset(a, 0, sizeof *a);
    a->conn = s->next_conn++;
    a->ekind = q->bin.len ? e.kind : 0;
    a->id = e.id;
    a->mask = q->a;
    mapi_w_u32(r->out, a->conn);
    return OP_S_OK;
}

static uint32_t op_unadvise(mapi_session *s, const mapi_req *q)
{
    for (uint32_t i = 0; i < s->nadv; i++)
        if (s->adv[i].conn == q->a) {
            s->adv[i].conn = 0;
            return OP_S_OK;
        }
    return OP_MAPI_E_NOT_FOUND;
}

/* ---- receive folders ---- */

/* 1 when message class cls is class `base` or below it ("IPM.Note" is below
 * "IPM", "IPMX" is not; everything is below ""); case-insensitive, as MAPI
 * compares classes. */
static int class_under(const char *cls, const char *base)
{
    size_t n = strlen(base);
    return n == 0 || (strncasecmp(cls, base, n) == 0 && (cls[n] == 0 || cls[n] == '.'));
}

#define RECEIVE_KEY "mapi.receive"
#define RECEIVE_MAX 64
#define RECEIVE_CLASS_MAX 255

typedef struct recv_entry {
    char cls[RECEIVE_CLASS_MAX + 1];
    uint32_t kind; /* MAPI_EID_FOLDER or MAPI_EID_VIRTUAL (the root) */
    int64_t id;
} recv_entry;

/* The assignments SetReceiveFolder kept (meta RECEIVE_KEY, one a line:
 * class TAB kind TAB id); lines that do not parse are skipped. */
static uint32_t receive_kept(mapi_session *s, recv_entry *v, uint32_t *n)
{
    *n = 0;
    if (!mapi_fai_supported(s->h))
        return OP_S_OK; /* an older core: no meta values, the fixed folders only */
    struct outpost_txn *t;
    outpost_status st = s->st->read_begin(s->h, &t);
    if (st.code != OUTPOST_OK)
        return scode_of(st);
    const void *val = NULL;
    size_t len = 0;
    st = s->st->storage->meta_get(t, RECEIVE_KEY, &val, &len);
    char *text = st.code == OUTPOST_OK && val ? malloc(len + 1) : NULL;
    if (text) {
        memcpy(text, val, len);
        text[len] = 0;
    }
    s->st->read_end(s->h, t);
    char *save = NULL;
    for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line && *n < RECEIVE_MAX;
         line = strtok_r(NULL, "\n", &save)) {
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL, *end;
        if (!t2 || (size_t)(t1 - line) > RECEIVE_CLASS_MAX)
            continue;
        recv_entry *e = &v[*n];
        memcpy(e->cls, line, (size_t)(t1 - line));
        e->cls[t1 - line] = 0;
        e->kind = (uint32_t)strtoul(t1 + 1, &end, 10);
        e->id = strtoll(t2 + 1, &end, 10);
        if (*end == 0 && (e->kind == MAPI_EID_FOLDER || e->kind == MAPI_EID_VIRTUAL))
            (*n)++;
    }
    free(text);
    return st.code == OUTPOST_OK || st.code == OUTPOST_GONE ? OP_S_OK : scode_of(st);
}

/* The store's receive folders as they are now: the fixed ones of MS-OXCSTOR
 * ("IPC" the root; "", "IPM" and "REPORT.IPM" the Inbox) with the kept
 * assignments over them, leaving out those whose folder is gone. */
static uint32_t receive_list(mapi_session *s, recv_entry *v, uint32_t *n)
{
    recv_entry kept[RECEIVE_MAX];
    uint32_t nk = 0, sc = receive_kept(s, kept, &nk);
    if (sc)
        return sc;
    fol_list l;
    if ((sc = fols_load(s, &l)))
        return sc;
    static const char *const FIXED[] = { "", "IPM", "REPORT.IPM", "IPC" };
    const fol *in = fols_special(&l, OUTPOST_USE_INBOX);
    *n = 0;
    for (uint32_t i = 0; i < 4; i++) {
        if (i < 3 && !in)
            continue;
        recv_entry *e = &v[(*n)++];
        snprintf(e->cls, sizeof e->cls, "%s", FIXED[i]);
        e->kind = i < 3 ? MAPI_EID_FOLDER : MAPI_EID_VIRTUAL;
        e->id = i < 3 ? in->id : MAPI_VF_ROOT;
    }
    for (uint32_t k = 0; k < nk; k++) {
        if (kept[k].kind == MAPI_EID_FOLDER ? !fols_find(&l, kept[k].id) : kept[k].id != MAPI_VF_ROOT)
            continue; /* its folder was deleted: the class falls back to its parent class */
        uint32_t i = 0;
        while (i < *n && strcasecmp(v[i].cls, kept[k].cls) != 0)
            i++;
        if (i == *n && *n >= RECEIVE_MAX + 4)
            continue;
        v[i] = kept[k];
        if (i == *n)
            (*n)++;
    }
    fols_free(&l);
    return OP_S_OK;
}

/* GetReceiveFolder: the folder of the longest class the message class is
 * under; the reply names that class. */
static uint32_t op_receive_folder(mapi_session *s, const mapi_req *q, reply *r)
{
    const char *cls = q->str ? q->str : "";
    recv_entry v[RECEIVE_MAX + 4];
    uint32_t n = 0, sc = receive_list(s, v, &n);
    if (sc)
        return sc;
    const recv_entry *best = NULL;
    for (uint32_t i = 0; i < n; i++)
        if (class_under(cls, v[i].cls) && (!best || strlen(v[i].cls) > strlen(best->cls)))
            best = &v[i];
    if (!best)
        return OP_MAPI_E_NOT_FOUND; /* no Inbox */
    uint8_t b[MAPI_EID_LEN];
    eid_bytes(s, best->kind, best->id, b);
    mapi_w_bin(r->out, b, MAPI_EID_LEN);
    mapi_w_str(r->out, best->cls);
    return OP_S_OK;
}

/* SetReceiveFolder: class `str` (empty: the default) to the folder `bin`
 * (one of ours, or the root), or back to its fixed folder when `bin` is
 * empty. Kept in the cache (meta RECEIVE_KEY, local-only: never sent to the
 * server). */
static uint32_t op_set_receive_folder(mapi_session *s, const mapi_req *q)
{
    const char *cls = q->str ? q->str : "";
    if (strlen(cls) > RECEIVE_CLASS_MAX || strpbrk(cls, "\t\n\r"))
        return OP_MAPI_E_INVALID_PARAMETER;
    if (!mapi_fai_supported(s->h))
        return OP_MAPI_E_NO_SUPPORT; /* an older core: nowhere to keep it */
    mapi_eid e;
    memset(&e, 0, sizeof e);
    if (q->bin.len) {
        if (mapi_eid_decode_for(q->bin.p, q->bin.len, s->core->ctx.guid, &e) != 0 ||
            !(e.kind == MAPI_EID_FOLDER || (e.kind == MAPI_EID_VIRTUAL && e.id == MAPI_VF_ROOT)))
            return OP_MAPI_E_INVALID_ENTRYID;
        uint32_t kind;
        if (e.kind == MAPI_EID_FOLDER && folder_kind(s, e.id, &kind) != OP_S_OK)
            return OP_MAPI_E_NOT_FOUND;
    }
    mapi_os_mutex_lock(s->core->receive_lock);
    recv_entry v[RECEIVE_MAX];
    uint32_t n = 0, sc = receive_kept(s, v, &n), w = 0;
    for (uint32_t i = 0; !sc && i < n; i++)
        if (strcasecmp(v[i].cls, cls) != 0)
            v[w++] = v[i];
    n = w;
    if (!sc && q->bin.len) {
        if (n >= RECEIVE_MAX) {
            sc = OP_MAPI_E_NOT_ENOUGH_MEMORY;
        } else {
            snprintf(v[n].cls, sizeof v[n].cls, "%s", cls);
            v[n].kind = e.kind;
            v[n].id = e.id;
            n++;
        }
    }
    if (!sc) {
        mapi_buf b;
        mapi_buf_init(&b);
        for (uint32_t i = 0; i < n; i++) {
            char nums[48];
            snprintf(nums, sizeof nums, "\t%u\t%lld\n", v[i].kind, (long long)v[i].id);
            mapi_buf_adds(&b, v[i].cls);
            mapi_buf_adds(&b, nums);
        }
        outpost_status st = b.oom ? outpost_ok() : s->st->meta_set(s->h, RECEIVE_KEY, b.len ? b.data : NULL, b.len);
        log_status(s, "keeping a receive folder", st);
        sc = b.oom ? OP_MAPI_E_NOT_ENOUGH_MEMORY : scode_of(st);
        mapi_buf_free(&b);
    }
    mapi_os_mutex_unlock(s->core->receive_lock);
    return sc;
}

/* The rows of the receive folder table (GetReceiveFolderTable). */
static uint32_t receive_rows(mapi_session *s, rowset *rs)
{
    recv_entry v[RECEIVE_MAX + 4];
    uint32_t n = 0, sc = receive_list(s, v, &n);
    for (uint32_t i = 0; !sc && i < n; i++) {
        mapi_row *row = rows_push(rs, i + 1);
        if (!row)
            return OP_MAPI_E_NOT_ENOUGH_MEMORY;
        uint8_t b[MAPI_EID_LEN];
        eid_bytes(s, v[i].kind, v[i].id, b);
        mapi_props_set_bin(&row->props, OP_PR_ENTRYID, b, MAPI_EID_LEN);
        mapi_props_set_bin(&row->props, OP_PR_RECORD_KEY, b, MAPI_EID_LEN);
        mapi_props_set_key(&row->props, OP_PR_INSTANCE_KEY, i + 1);
        mapi_props_set_str(&row->props, OP_PR_MESSAGE_CLASS, v[i].cls);
    }
    return sc;
}

/* ---- hello and dispatch ---- */

static int secret_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (uint8_t)(a[i] ^ b[i]);
    return d == 0;
}

static uint32_t op_hello(mapi_session *s, const mapi_req *q, reply *r)
{
    if (q->a != MAPI_WIRE_MAGIC)
        return OP_MAPI_E_INVALID_PARAMETER;
    if (q->b != MAPI_WIRE_VERSION) {
        s->h->log(s->h, OUTPOST_LOG_WARNING, "mapi: a provider speaks protocol version %u, outpostd %u: update both",
                  q->b, MAPI_WIRE_VERSION);
        return OP_MAPI_E_VERSION;
    }
    if (q->bin.len != MAPI_WIRE_SECRET_LEN || !secret_equal(q->bin.p, s->core->secret, MAPI_WIRE_SECRET_LEN)) {
        s->h->log(s->h, OUTPOST_LOG_WARNING, "mapi: a client on loopback sent a wrong secret; refused");
        return OP_MAPI_E_LOGON_FAILED;
    }
    s->authed = 1;
    if (!s->sub && s->st->subscribe) {
        outpost_status st = s->st->subscribe(s->h, on_event, s, &s->sub);
        log_status(s, "subscribe", st);
    }
    mapi_w_u32(r->out, MAPI_WIRE_VERSION);
    mapi_buf_add(r->out, s->core->ctx.guid, 16);
    mapi_w_str(r->out, s->core->display_name);
    return OP_S_OK;
}

int mapi_session_handle(mapi_session *s, const mapi_frame *f, mapi_buf *out)
{
    if (f->flags & (MAPI_WF_REPLY | MAPI_WF_NOTIFY))
        return -1;
    mapi_req q;
    if (mapi_req_decode(f->op, f->payload, f->payload_len, &q) != 0) {
        reply r;
        reply_begin(&r, out, f);
        reply_end(&r, OP_MAPI_E_CORRUPT_DATA);
        return -1;
    }
    if (!s->authed && f->op != MAPI_OP_HELLO) {
        mapi_req_clear(&q);
        reply r;
        reply_begin(&r, out, f);
        reply_end(&r, OP_MAPI_E_LOGON_FAILED);
        return -1;
    }
    reply r;
    reply_begin(&r, out, f);
    uint32_t sc;
    switch (f->op) {
    case MAPI_OP_HELLO: sc = op_hello(s, &q, &r); break;
    case MAPI_OP_PING: sc = OP_S_OK; break;
    case MAPI_OP_OPEN_ENTRY: sc = op_open_entry(s, &q, &r); break;
    case MAPI_OP_GET_PROPS: sc = op_get_props(s, &q, &r); break;
    case MAPI_OP_GET_PROP_LIST: sc = op_get_prop_list(s, &q, &r); break;
    case MAPI_OP_SET_PROPS: sc = op_set_props(s, &q, &r); break;
    case MAPI_OP_DELETE_PROPS: sc = op_delete_props(s, &q, &r); break;
    case MAPI_OP_READ_PROP: sc = op_read_prop(s, &q, &r); break;
    case MAPI_OP_WRITE_PROP: sc = op_write_prop(s, &q, &r); break;
    case MAPI_OP_SAVE_CHANGES: sc = op_save_changes(s, &q, &r); break;
    case MAPI_OP_RELEASE: obj_release(s, q.h); sc = OP_S_OK; break;
    case MAPI_OP_GET_IDS_FROM_NAMES:
    case MAPI_OP_GET_NAMES_FROM_IDS: sc = op_names(s, &q, &r); break;
    case MAPI_OP_OPEN_TABLE: sc = op_open_table(s, &q, &r); break;
    case MAPI_OP_TBL_SET_COLUMNS: case MAPI_OP_TBL_QUERY_COLUMNS: case MAPI_OP_TBL_GET_ROW_COUNT:
    case MAPI_OP_TBL_QUERY_ROWS: case MAPI_OP_TBL_SEEK_ROW: case MAPI_OP_TBL_SEEK_ROW_APPROX:
    case MAPI_OP_TBL_QUERY_POSITION: case MAPI_OP_TBL_CREATE_BOOKMARK: case MAPI_OP_TBL_FREE_BOOKMARK:
    case MAPI_OP_TBL_RESTRICT: case MAPI_OP_TBL_SORT: case MAPI_OP_TBL_FIND_ROW: case MAPI_OP_TBL_ADVISE:
        sc = op_table(s, &q, &r);
        break;
    case MAPI_OP_UNADVISE: sc = op_unadvise(s, &q); break;
    case MAPI_OP_CREATE_MESSAGE: case MAPI_OP_CREATE_FOLDER: case MAPI_OP_DELETE_FOLDER:
    case MAPI_OP_COPY_MESSAGES: case MAPI_OP_DELETE_MESSAGES: case MAPI_OP_SET_READ_FLAGS:
    case MAPI_OP_EMPTY_FOLDER: case MAPI_OP_COPY_FOLDER:
        sc = op_folder(s, &q, &r);
        break;
    case MAPI_OP_GET_RECEIVE_FOLDER: sc = op_receive_folder(s, &q, &r); break;
    case MAPI_OP_SET_RECEIVE_FOLDER: sc = op_set_receive_folder(s, &q); break;
    case MAPI_OP_GET_MESSAGE_STATUS:
    case MAPI_OP_SET_MESSAGE_STATUS: sc = op_message_status(s, &q, &r); break;
    case MAPI_OP_MODIFY_RECIPIENTS: case MAPI_OP_CREATE_ATTACH: case MAPI_OP_OPEN_ATTACH:
    case MAPI_OP_DELETE_ATTACH: case MAPI_OP_SET_READ_FLAG:
        sc = op_message(s, &q, &r);
        break;
    case MAPI_OP_ADVISE: sc = op_advise(s, &q, &r); break;
    case MAPI_OP_SET_SEARCH_CRITERIA:
    case MAPI_OP_GET_SEARCH_CRITERIA: sc = op_search_criteria(s, &q, &r); break;
    default: sc = OP_MAPI_E_NO_SUPPORT; break;
    }
    reply_end(&r, sc);
    int hello_failed = f->op == MAPI_OP_HELLO && OP_FAILED(sc);
    mapi_req_clear(&q);
    return hello_failed ? -1 : 0;
}

/* ---- events -> refreshed tables and notifications ---- */

struct notify_ctx {
    mapi_buf *out;
    uint32_t conn;
    int any;
};

static void table_event(void *ctx, uint32_t event, uint64_t key, uint64_t prior, const mapi_props *row)
{
    struct notify_ctx *n = ctx;
    if (!n->conn)
        return;
    size_t st = mapi_w_begin(n->out, MAPI_OP_NOTIFY, MAPI_WF_NOTIFY, 0);
    mapi_w_u32(n->out, n->conn);
    mapi_w_u32(n->out, MAPI_NOTIFY_TABLE);
    mapi_w_u32(n->out, event);
    uint8_t kb[8], pb[8];
    for (int i = 0; i < 8; i++) {
        kb[i] = (uint8_t)(key >> (8 * i));
        pb[i] = (uint8_t)(prior >> (8 * i));
    }
    mapi_w_bin(n->out, kb, 8);
    mapi_w_bin(n->out, pb, prior ? 8 : 0);
    if (row) {
        mapi_w_props(n->out, row);
    } else {
        mapi_w_u32(n->out, 0);
    }
    mapi_w_end(n->out, st);
    n->any = 1;
}

static int folder_affected(mapi_obj *t, const int64_t *folders, uint32_t n, int all)
{
    if (t->tkind == MAPI_TABLE_CONTENTS && t->ekind == MAPI_EID_SEARCH && !(t->tflags & OP_MAPI_ASSOCIATED))
        return all || n > 0; /* any folder may be one it searches */
    if (t->tkind != MAPI_TABLE_CONTENTS || t->ekind != MAPI_EID_FOLDER)
        return 0;
    if (all)
        return 1;
    for (uint32_t i = 0; i < n; i++)
        if (folders[i] == t->id)
            return 1;
    return 0;
}

static void object_notify(mapi_session *s, mapi_buf *out, uint32_t conn, uint32_t ekind, int64_t id, int *any)
{
    size_t st = mapi_w_begin(out, MAPI_OP_NOTIFY, MAPI_WF_NOTIFY, 0);
    mapi_w_u32(out, conn);
    mapi_w_u32(out, MAPI_NOTIFY_OBJECT);
    mapi_w_u32(out, OP_fnevObjectModified);
    uint8_t b[MAPI_EID_LEN];
    eid_bytes(s, ekind, id, b);
    mapi_w_bin(out, b, MAPI_EID_LEN);
    mapi_w_bin(out, NULL, 0);
    mapi_w_u32(out, ekind == MAPI_EID_STORE ? OP_MAPI_STORE : OP_MAPI_FOLDER);
    mapi_w_end(out, st);
    *any = 1;
}

int mapi_session_poll(mapi_session *s, mapi_buf *out)
{
    int64_t folders[MAX_EVENTS];
    uint32_t n;
    int hier, all;
    mapi_os_mutex_lock(s->ev_lock);
    n = s->nev;
    memcpy(folders, s->ev_folders, n * sizeof folders[0]);
    hier = s->ev_hierarchy;
    all = s->ev_overflow;
    s->nev = 0;
    s->ev_hierarchy = s->ev_overflow = 0;
    mapi_os_mutex_unlock(s->ev_lock);
    /* FAI changes (of any connection) come through the core's change log, not as store events */
    mapi_fai_change fch[MAPI_FAI_LOG];
    uint32_t nfch = 0;
    mapi_os_mutex_lock(s->core->fai_lock);
    uint32_t gen = s->core->fai_gen;
    int fai = s->fai_seen != gen, fai_all = gen - s->fai_seen > MAPI_FAI_LOG;
    for (uint32_t g = s->fai_seen + 1; fai && !fai_all && g != gen + 1; g++)
        fch[nfch++] = s->core->fai_log[g % MAPI_FAI_LOG];
    s->fai_seen = gen;
    mapi_os_mutex_unlock(s->core->fai_lock);
    if (!n && !hier && !all && !fai)
        return 0;
    int any = 0;
    for (uint32_t h = 1; h <= s->nobjs; h++) {
        mapi_obj *t = s->objs[h - 1];
        if (!t || t->type != OBJ_TABLE)
            continue;
        int affected = folder_affected(t, folders, n, all) || (t->tkind == MAPI_TABLE_HIERARCHY && (hier || all)) ||
                       (fai && (t->tkind == MAPI_TABLE_HIERARCHY ||
                                (t->tkind == MAPI_TABLE_CONTENTS && (t->tflags & OP_MAPI_ASSOCIATED))));
        if (!affected || (t->tbl.fetch && !t->loaded)) /* a lazy table not listed yet has nothing to diff */
            continue;
        rowset rs;
        if (table_rows(s, t, &rs) != OP_S_OK) {
            rows_free(&rs);
            continue;
        }
        struct notify_ctx nc = { out, 0, 0 };
        for (uint32_t i = 0; i < s->nadv; i++)
            if (s->adv[i].conn && s->adv[i].table == h)
                nc.conn = s->adv[i].conn;
        mapi_table_replace_rows(&t->tbl, rs.v, rs.n, table_event, &nc);
        any |= nc.any;
    }
    for (uint32_t i = 0; i < s->nadv; i++) {
        mapi_advise *a = &s->adv[i];
        if (!a->conn || a->table || !(a->mask & (OP_fnevObjectModified | OP_fnevTableModified)))
            continue;
        if (a->ekind == 0) {
            object_notify(s, out, a->conn, MAPI_EID_STORE, 0, &any);
            continue;
        }
        if (a->ekind != MAPI_EID_FOLDER && a->ekind != MAPI_EID_VIRTUAL)
            continue;
        int hit = a->ekind == MAPI_EID_FOLDER && all;
        for (uint32_t k = 0; k < n && !hit && a->ekind == MAPI_EID_FOLDER; k++)
            hit = folders[k] == a->id;
        for (uint32_t k = 0; k < nfch && !hit; k++)
            hit = a->ekind == MAPI_EID_VIRTUAL ? fch[k].vf == (uint32_t)a->id : !fch[k].vf && fch[k].folder == a->id;
        if (hit || fai_all)
            object_notify(s, out, a->conn, a->ekind, a->id, &any);
    }
    return any;
}
