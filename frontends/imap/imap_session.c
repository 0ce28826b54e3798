/* imap_session.c — one client session: the command loop (lines, literals,
 * limits, timeouts), authentication, mailbox commands (LIST, STATUS, SELECT,
 * CREATE, ...), IDLE, APPEND, COPY/MOVE, EXPUNGE and the report of changes
 * made by others (EXISTS, EXPUNGE/VANISHED, FETCH FLAGS).
 *
 * Reads happen in short read transactions that copy what the reply needs;
 * no transaction is open while writing to the client. Every change goes
 * through the journaled store API.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "imap_internal.h"

#define CAPS_COMMON                                                                                                \
    "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS UNSELECT MOVE CHILDREN SPECIAL-USE LIST-EXTENDED " \
    "LIST-STATUS CONDSTORE QRESYNC"

typedef void (*cmd_fn)(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid);

/* ---- small helpers ---- */

void imap_tagged(struct imap_conn *c, const char *tag, const char *cond, const char *fmt, ...)
{
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* resp-text is 7-bit TEXT-CHARs (RFC 3501 9); a client's 8-bit words become '?' */
    for (char *p = buf; *p; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' ';
        else if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    if (cond)
        imap_printf(c, "%s %s %s\r\n", tag, cond, buf);
    else
        imap_printf(c, "%s %s\r\n", tag, buf);
}

const char *imap_status_text(outpost_status st)
{
    return st.message && *st.message ? st.message : outpost_status_class_name(st.code);
}

static const struct imap_tok *arg(const struct imap_tok *args, size_t i)
{
    return i < args->nkids ? args->kids[i] : NULL;
}

static const char *arg_str(const struct imap_tok *args, size_t i)
{
    const struct imap_tok *t = arg(args, i);
    return imap_tok_is_string(t) ? t->s : NULL;
}

static void write_caps(struct imap_conn *c)
{
    imap_puts(c, CAPS_COMMON);
    if (c->state == S_NOTAUTH) {
        if (c->srv->ssl_ctx && !c->tls_active)
            imap_puts(c, " STARTTLS");
        if (!c->tls_active && !c->loopback_peer)
            imap_puts(c, " LOGINDISABLED");
        else
            imap_puts(c, " AUTH=PLAIN");
    }
}

long imap_msg_index(const struct imap_conn *c, uint32_t uid)
{
    size_t lo = 0, hi = c->nmsgs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->msgs[mid].uid < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->nmsgs && c->msgs[lo].uid == uid ? (long)lo : -1;
}

int imap_resolve_set(struct imap_conn *c, const char *set, int uid, size_t **idx, size_t *n)
{
    struct imap_seqset ss;
    *idx = NULL;
    *n = 0;
    if (!set || imap_seqset_parse(set, &ss) != 0)
        return -1;
    size_t *out = malloc((c->nmsgs ? c->nmsgs : 1) * sizeof *out);
    if (!out) {
        imap_seqset_free(&ss);
        return -1;
    }
    size_t k = 0;
    if (uid) {
        uint32_t star = c->nmsgs ? c->msgs[c->nmsgs - 1].uid : 0;
        for (size_t i = 0; i < c->nmsgs; i++)
            if (imap_seqset_contains(&ss, c->msgs[i].uid, star))
                out[k++] = i;
    } else {
        /* message sequence numbers must exist (RFC 3501 9: seq-number) */
        for (size_t r = 0; r < ss.n; r++) {
            if ((ss.r[r].lo != IMAP_STAR && ss.r[r].lo > c->nmsgs) ||
                (ss.r[r].hi != IMAP_STAR && ss.r[r].hi > c->nmsgs) || c->nmsgs == 0) {
                free(out);
                imap_seqset_free(&ss);
                return -2;
            }
        }
        for (size_t i = 0; i < c->nmsgs; i++)
            if (imap_seqset_contains(&ss, (uint32_t)(i + 1), (uint32_t)c->nmsgs))
                out[k++] = i;
    }
    imap_seqset_free(&ss);
    *idx = out;
    *n = k;
    return 0;
}

static int kw_in(const char *set, const char *w, size_t n)
{
    for (const char *p = set; p && *p;) {
        while (*p == ' ')
            p++;
        size_t l = strcspn(p, " ");
        if (l == n && n && !strncasecmp(p, w, n))
            return 1;
        p += l;
    }
    return 0;
}

/* Adds the keywords of `kws` missing from c->kw_known; 1 if any was new. */
static int kw_learn(struct imap_conn *c, const char *kws)
{
    int added = 0;
    for (const char *p = kws; p && *p;) {
        while (*p == ' ')
            p++;
        size_t l = strcspn(p, " ");
        if (l && !kw_in(c->kw_known, p, l)) {
            size_t have = c->kw_known ? strlen(c->kw_known) : 0;
            char *n = realloc(c->kw_known, have + l + 2);
            if (!n)
                return added;
            if (have)
                n[have++] = ' ';
            memcpy(n + have, p, l);
            n[have + l] = '\0';
            c->kw_known = n;
            added = 1;
        }
        p += l;
    }
    return added;
}

static void write_flags_responses(struct imap_conn *c)
{
    const char *kw = c->kw_known && *c->kw_known ? c->kw_known : NULL;
    imap_printf(c, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded $Junk $NotJunk%s%s)\r\n",
                kw ? " " : "", kw ? kw : "");
    if (c->readonly)
        imap_puts(c, "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
    else
        imap_printf(c, "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded $Junk "
                       "$NotJunk%s%s \\*)] Flags permitted\r\n", kw ? " " : "", kw ? kw : "");
}

void imap_announce_keywords(struct imap_conn *c, const char *keywords)
{
    if (c->state == S_SELECTED && keywords && *keywords && kw_learn(c, keywords))
        write_flags_responses(c);
}

void imap_write_flags(struct imap_conn *c, uint32_t flags, const char *keywords, uint32_t uid)
{
    static const struct {
        uint32_t f;
        const char *n;
    } names[] = {
        { OUTPOST_FLAG_SEEN, "\\Seen" },       { OUTPOST_FLAG_ANSWERED, "\\Answered" },
        { OUTPOST_FLAG_FLAGGED, "\\Flagged" }, { OUTPOST_FLAG_DELETED, "\\Deleted" },
        { OUTPOST_FLAG_DRAFT, "\\Draft" },     { OUTPOST_FLAG_FORWARDED, "$Forwarded" },
        { OUTPOST_FLAG_JUNK, "$Junk" },        { OUTPOST_FLAG_NOTJUNK, "$NotJunk" },
    };
    int first = 1;
    imap_puts(c, "(");
    if (uid && imap_is_recent(c, uid)) {
        imap_puts(c, "\\Recent");
        first = 0;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (flags & names[i].f) {
            if (!first)
                imap_puts(c, " ");
            imap_puts(c, names[i].n);
            first = 0;
        }
    }
    if (keywords && *keywords) {
        if (!first)
            imap_puts(c, " ");
        imap_puts(c, keywords);
    }
    imap_puts(c, ")");
}

int imap_parse_flags(const struct imap_tok *t, uint32_t *flags, char **kw, char *err, size_t errlen)
{
    *flags = 0;
    *kw = NULL;
    const struct imap_tok *const *items;
    size_t n;
    const struct imap_tok *single[1];
    if (!t) {
        snprintf(err, errlen, "missing flags");
        return -1;
    }
    if (t->type == IMAP_TOK_LIST) {
        items = (const struct imap_tok *const *)t->kids;
        n = t->nkids;
    } else if (t->type == IMAP_TOK_ATOM) {
        single[0] = t;
        items = single;
        n = 1;
    } else {
        snprintf(err, errlen, "flags must be atoms");
        return -1;
    }
    size_t kl = 0;
    for (size_t i = 0; i < n; i++) {
        if (items[i]->type != IMAP_TOK_ATOM) {
            snprintf(err, errlen, "flags must be atoms");
            goto bad;
        }
        const char *s = items[i]->s;
        uint32_t f = imap_flag_from_name(s);
        if (f) {
            *flags |= f;
            continue;
        }
        if (s[0] == '\\') {
            if (!strcasecmp(s, "\\Recent")) {
                snprintf(err, errlen, "\\Recent cannot be stored");
                goto bad;
            }
            snprintf(err, errlen, "unknown system flag %.40s", s);
            goto bad;
        }
        if (!imap_keyword_valid(s)) {
            snprintf(err, errlen, "invalid keyword %.40s", s);
            goto bad;
        }
        size_t sl = strlen(s);
        char *nk = realloc(*kw, kl + sl + 2);
        if (!nk)
            goto bad;
        *kw = nk;
        if (kl)
            (*kw)[kl++] = ' ';
        memcpy(*kw + kl, s, sl);
        kl += sl;
        (*kw)[kl] = '\0';
    }
    return 0;
bad:
    free(*kw);
    *kw = NULL;
    return -1;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void imap_write_uidset(struct imap_conn *c, const uint32_t *uids, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && uids[j + 1] == uids[j] + 1)
            j++;
        if (i)
            imap_puts(c, ",");
        if (j > i)
            imap_printf(c, "%u:%u", uids[i], uids[j]);
        else
            imap_printf(c, "%u", uids[i]);
        i = j + 1;
    }
}

/* ---- mailboxes ---- */

struct mbox {
    int64_t id, parent;
    char *path;       /* UTF-8, "/"-joined; the INBOX folder is "INBOX" */
    uint32_t special_use, flags, kind;
    int has_children;
    int nonexistent;  /* LIST and LSUB only: a subscribed name (or a level above one) with no folder */
    uint32_t total, unread, uidnext, uidvalidity;
    uint64_t hms;
};

static void mboxes_free(struct mbox *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(m[i].path);
    free(m);
}

static const char *special_flag(uint32_t use)
{
    switch (use) {
    case OUTPOST_USE_SENT: return "\\Sent";
    case OUTPOST_USE_DRAFTS: return "\\Drafts";
    case OUTPOST_USE_TRASH: return "\\Trash";
    case OUTPOST_USE_JUNK: return "\\Junk";
    case OUTPOST_USE_ARCHIVE: return "\\Archive";
    default: return NULL;
    }
}

/* ---- server folder names and mailbox names ----
 *
 * A mailbox name is the server's folder names joined with '/'. Two kinds of server name cannot be shown as
 * they are (README "Server folder names"), so one level of a mailbox name and the server's name differ:
 * - a '/' in a server name is not our hierarchy delimiter: it is shown as U+2215 DIVISION SLASH, and a
 *   U+2215 a client writes in CREATE or RENAME is a '/' on the server;
 * - a top-level folder named "inbox" in any case, other than the Inbox itself, would be INBOX (whose name
 *   is case-insensitive) and unreachable: a top-level name that is "inbox" in any case followed by zero or
 *   more '_' is shown with one '_' more ("Inbox" is "Inbox_", "INBOX_" is "INBOX__"), so that every such
 *   name keeps a name of its own, and one '_' is dropped the other way. */

#define DIVISION_SLASH "\xe2\x88\x95"

/* "inbox" in any case followed by zero or more '_' (with at least `min_us` of them). */
static int inbox_lookalike(const char *name, size_t min_us)
{
    if (strncasecmp(name, "inbox", 5) != 0)
        return 0;
    size_t us = 0;
    for (const char *p = name + 5; *p; p++, us++)
        if (*p != '_')
            return 0;
    return us >= min_us;
}

/* The mailbox name level of a server folder's name (malloc'd, NULL when out of memory); `top`: the folder
 * is at the top level. */
static char *leaf_from_server(const char *name, int top)
{
    size_t nslash = 0;
    for (const char *q = name; *q; q++)
        nslash += *q == '/';
    int extra = top && inbox_lookalike(name, 0);
    char *out = malloc(strlen(name) + 2 * nslash + (size_t)extra + 1), *w = out;
    if (!out)
        return NULL;
    for (const char *q = name; *q; q++) {
        if (*q == '/') {
            memcpy(w, DIVISION_SLASH, 3);
            w += 3;
        } else {
            *w++ = *q;
        }
    }
    if (extra)
        *w++ = '_';
    *w = '\0';
    return out;
}

/* The server folder name for one level of a client's mailbox name, the inverse of leaf_from_server
 * (malloc'd, NULL when out of memory). */
static char *leaf_to_server(const char *leaf, int top)
{
    char *out = malloc(strlen(leaf) + 1), *w = out;
    if (!out)
        return NULL;
    for (const char *q = leaf; *q;) {
        if (!strncmp(q, DIVISION_SLASH, 3)) {
            *w++ = '/';
            q += 3;
        } else {
            *w++ = *q++;
        }
    }
    *w = '\0';
    if (top && inbox_lookalike(out, 1))
        out[strlen(out) - 1] = '\0';
    return out;
}

/* ---- lookups in a folder list ----
 * A LIST or LSUB over many folders must not compare every folder with every other one: a folder list is
 * looked up through sorted tables, by id (parents) and by path (subscriptions, levels above a name,
 * children of a name: the names below "a" are one run of the table sorted by path, from "a/" on). */

struct id_ix {
    int64_t id;
    size_t i;
};

static int id_ix_cmp(const void *a, const void *b)
{
    int64_t x = ((const struct id_ix *)a)->id, y = ((const struct id_ix *)b)->id;
    return x < y ? -1 : x > y;
}

/* The folders of m sorted by id (malloc'd; NULL when out of memory). */
static struct id_ix *mbox_ids(const struct mbox *m, size_t n)
{
    struct id_ix *ix = malloc((n ? n : 1) * sizeof *ix);
    for (size_t i = 0; ix && i < n; i++)
        ix[i] = (struct id_ix){ m[i].id, i };
    if (ix)
        qsort(ix, n, sizeof *ix, id_ix_cmp);
    return ix;
}

/* The position of folder `id` in a table from mbox_ids, or -1. */
static long id_find(const struct id_ix *ix, size_t n, int64_t id)
{
    struct id_ix key = { id, 0 };
    const struct id_ix *r = n ? bsearch(&key, ix, n, sizeof *ix, id_ix_cmp) : NULL;
    return r ? (long)r->i : -1;
}

struct path_ix {
    const char *path;
    size_t i;
};

static int path_ix_cmp(const void *a, const void *b)
{
    return strcmp(((const struct path_ix *)a)->path, ((const struct path_ix *)b)->path);
}

/* k[0..kl) (no NUL in it) compared with the string s, as strcmp would. */
static int cmp_n(const char *k, size_t kl, const char *s)
{
    int r = strncmp(k, s, kl);
    return r ? r : s[kl] ? -1 : 0;
}

/* The mail folders of m (the `nonexistent` entries too) sorted by path, *nix of them (malloc'd; NULL when
 * out of memory). The table points into m's paths: it stays valid while they do, also when m is
 * reallocated. */
static struct path_ix *mbox_paths(const struct mbox *m, size_t n, size_t *nix)
{
    struct path_ix *ix = malloc((n ? n : 1) * sizeof *ix);
    size_t k = 0;
    for (size_t i = 0; ix && i < n; i++)
        if (m[i].kind == OUTPOST_ITEM_MAIL)
            ix[k++] = (struct path_ix){ m[i].path, i };
    if (ix)
        qsort(ix, k, sizeof *ix, path_ix_cmp);
    *nix = k;
    return ix;
}

/* The first entry of a path table not below k[0..kl) (n when there is none). */
static size_t path_lower(const struct path_ix *ix, size_t n, const char *k, size_t kl)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_n(k, kl, ix[mid].path) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The index in m of the mail folder with path k[0..kl), or -1. */
static long path_find(const struct path_ix *ix, size_t n, const char *k, size_t kl)
{
    size_t at = path_lower(ix, n, k, kl);
    return at < n && cmp_n(k, kl, ix[at].path) == 0 ? (long)ix[at].i : -1;
}

/* Loads every folder (mail ones are shown); 0 or -1 with err. */
static int mboxes_load(struct imap_server *s, struct mbox **out, size_t *nout, char *err, size_t errlen)
{
    struct outpost_txn *t;
    struct outpost_cursor *cur;
    *out = NULL;
    *nout = 0;
    outpost_status st = s->st->read_begin(s->h, &t);
    if (st.code != OUTPOST_OK) {
        snprintf(err, errlen, "cannot read the cache: %s", imap_status_text(st));
        return -1;
    }
    st = s->sm->folder_list(t, &cur);
    if (st.code != OUTPOST_OK) {
        snprintf(err, errlen, "cannot list folders: %s", imap_status_text(st));
        s->st->read_end(s->h, t);
        return -1;
    }
    struct mbox *m = NULL;
    size_t n = 0, cap = 0;
    const void *row;
    int rc = 0;
    while ((st = s->sm->cursor_next(cur, &row)).code == OUTPOST_OK && row) {
        const outpost_folder *f = row;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            struct mbox *nm = realloc(m, cap * sizeof *nm);
            if (!nm) {
                rc = -1;
                break;
            }
            m = nm;
        }
        struct mbox *b = &m[n];
        memset(b, 0, sizeof *b);
        b->id = f->id;
        b->parent = f->parent_id;
        b->special_use = f->special_use;
        b->flags = f->flags;
        b->kind = f->kind;
        b->total = f->total;
        b->unread = f->unread;
        b->uidnext = f->uidnext;
        b->uidvalidity = f->uidvalidity;
        b->hms = f->highest_modseq;
        /* the server's name for now; the path once the parents are known (below) */
        b->path = strdup(f->special_use == OUTPOST_USE_INBOX ? "INBOX" : f->name ? f->name : "");
        if (!b->path) {
            rc = -1;
            break;
        }
        n++;
    }
    s->sm->cursor_close(cur);
    s->st->read_end(s->h, t);
    /* the paths: the storage lists parents before children, so a parent's path is complete before its
     * children's (a parent listed later, or none, makes a top-level name, as a missing one) */
    struct id_ix *ids = rc == 0 ? mbox_ids(m, n) : NULL;
    if (!ids)
        rc = -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct mbox *b = &m[i];
        long p = b->parent ? id_find(ids, n, b->parent) : -1;
        const char *ppath = p >= 0 && (size_t)p < i ? m[p].path : NULL;
        if (ppath)
            m[p].has_children |= b->kind == OUTPOST_ITEM_MAIL;
        int inbox = b->special_use == OUTPOST_USE_INBOX;
        int top = !ppath || inbox;
        char *leaf = inbox ? strdup(b->path) : leaf_from_server(b->path, top);
        char *path = leaf ? malloc((top ? 0 : strlen(ppath) + 1) + strlen(leaf) + 1) : NULL;
        if (!path) {
            free(leaf);
            rc = -1;
            break;
        }
        sprintf(path, "%s%s%s", top ? "" : ppath, top ? "" : "/", leaf);
        free(leaf);
        free(b->path);
        b->path = path;
    }
    free(ids);
    if (rc != 0 || st.code != OUTPOST_OK) {
        snprintf(err, errlen, "cannot list folders: %s", rc ? "out of memory" : imap_status_text(st));
        mboxes_free(m, n);
        return -1;
    }
    /* Sent, Drafts and Trash by name when no folder carries the special use */
    static const struct {
        uint32_t use;
        const char *name;
    } wanted[] = { { OUTPOST_USE_SENT, "Sent" }, { OUTPOST_USE_DRAFTS, "Drafts" }, { OUTPOST_USE_TRASH, "Trash" } };
    for (size_t w = 0; w < 3; w++) {
        int have = 0;
        for (size_t i = 0; i < n; i++)
            have |= m[i].kind == OUTPOST_ITEM_MAIL && m[i].special_use == wanted[w].use;
        for (size_t i = 0; i < n && !have; i++)
            if (m[i].kind == OUTPOST_ITEM_MAIL && m[i].parent == 0 && m[i].special_use == OUTPOST_USE_NONE &&
                !strcasecmp(m[i].path, wanted[w].name)) {
                m[i].special_use = wanted[w].use;
                have = 1;
            }
    }
    *out = m;
    *nout = n;
    return 0;
}

/* Canonical UTF-8 path of a client's mailbox name (mUTF-7), or NULL. */
static char *mbox_path_from_name(const char *name)
{
    char *p = imap_mutf7_decode(name);
    if (!p)
        return NULL;
    size_t l = strlen(p);
    while (l > 1 && p[l - 1] == '/')
        p[--l] = '\0';
    if (!strncasecmp(p, "INBOX", 5) && (p[5] == '\0' || p[5] == '/'))
        memcpy(p, "INBOX", 5);
    return p;
}

static struct mbox *mbox_find(struct mbox *m, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (m[i].kind == OUTPOST_ITEM_MAIL && !strcmp(m[i].path, path))
            return &m[i];
    return NULL;
}

/* Looks a client's mailbox name up: 0 and the folder, 1 not found, 2 not found and no CREATE could make
 * it (an invalid name, or the name of a calendar, contacts, ... folder), -1 error (err). */
static int mbox_lookup(struct imap_conn *c, const char *name, struct mbox *out, char *err, size_t errlen)
{
    struct mbox *m;
    size_t n;
    char *path = mbox_path_from_name(name);
    if (!path) {
        snprintf(err, errlen, "invalid mailbox name (modified UTF-7 expected)");
        return 2;
    }
    if (mboxes_load(c->srv, &m, &n, err, errlen) != 0) {
        free(path);
        return -1;
    }
    struct mbox *f = mbox_find(m, n, path);
    int rc = 1;
    if (f) {
        *out = *f;
        out->path = strdup(f->path);
        rc = out->path ? 0 : -1;
    } else {
        snprintf(err, errlen, "no mailbox %.200s", name);
        for (size_t i = 0; i < n; i++)
            if (!strcmp(m[i].path, path)) {
                snprintf(err, errlen, "%.200s is not a mail folder", name);
                rc = 2;
            }
    }
    free(path);
    mboxes_free(m, n);
    return rc;
}

/* mbox_lookup answering the command's NO itself when the mailbox does not exist
 * ([NONEXISTENT]) or the cache cannot be read ([SERVERBUG]): 0, or -1 (answered). */
static int mbox_lookup_or_no(struct imap_conn *c, const char *tag, const char *name, struct mbox *out)
{
    char err[300];
    int r = mbox_lookup(c, name, out, err, sizeof err);
    if (r != 0)
        imap_tagged(c, tag, "NO", "%s%s", r > 0 ? "[NONEXISTENT] " : "[SERVERBUG] ", err);
    return r ? -1 : 0;
}

/* ---- subscriptions ----
 *
 * The subscription list is a list of mailbox names (UTF-8 paths as struct mbox has them), kept in the
 * store's meta value SUBS_KEY, so that a subscribed mailbox that is deleted, here or on the server, stays in
 * it (RFC 3501 6.3.6, RFC 9051 6.3.7: the server MUST NOT remove a name on its own) and LSUB and
 * LIST (SUBSCRIBED) show it \Noselect / \NonExistent, and so that RENAME moves it. The folder flag
 * OUTPOST_FOLDER_SUBSCRIBED is kept in step (SUBSCRIBE and UNSUBSCRIBE still go through folder_subscribe,
 * journaled as OUTPOST_J_FOLDER_SUBSCRIBE), and a folder carrying it is subscribed too: folders the server
 * creates arrive with it, and a cache from before the list has its subscriptions in the flags only.
 *
 * Each name is kept with the id of the folder it names (0 when none), so that a folder the server renames
 * or moves takes its subscription to its new name, as a RENAME here does, and one it deletes leaves its
 * name. The names of the folders carrying the flag are written into the list when the front-end starts
 * and after every change of the hierarchy (imap_subs_record, on the subscriptions thread), besides every
 * command that reads or edits the list, so that a folder the server deletes later leaves its name
 * whether or not a client looked at the subscriptions meanwhile. */

#define SUBS_KEY "imap.subscriptions"
#define SUBS_HEADER_V1 "v1\n" /* one name a line */
#define SUBS_HEADER "v2\n"    /* one "<folder id>\t<name>" a line (id 0: no folder) */

enum { SUBS_KEEP, SUBS_ADD, SUBS_DEL, SUBS_RENAME };

struct sub {
    char *name;
    int64_t id;
};

/* sorted by name, no name twice */
struct subs {
    struct sub *e;
    size_t n, cap;
};

static void subs_free(struct subs *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->e[i].name);
    free(l->e);
    memset(l, 0, sizeof *l);
}

/* The first entry not below path[0..len). */
static size_t subs_lower(const struct subs *l, const char *path, size_t len)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_n(path, len, l->e[mid].name) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The index of path[0..len) in the list, or -1. */
static long subs_find(const struct subs *l, const char *path, size_t len)
{
    size_t at = subs_lower(l, path, len);
    return at < l->n && cmp_n(path, len, l->e[at].name) == 0 ? (long)at : -1;
}

/* Adds a copy of path[0..len) with folder `id` unless the name is there (then it takes `id` if it had
 * none): 1 added, 0 there already, -1 out of memory. */
static int subs_add(struct subs *l, const char *path, size_t len, int64_t id)
{
    size_t at = subs_lower(l, path, len);
    if (at < l->n && cmp_n(path, len, l->e[at].name) == 0) {
        if (!l->e[at].id)
            l->e[at].id = id;
        return 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct sub *ne = realloc(l->e, cap * sizeof *ne);
        if (!ne)
            return -1;
        l->e = ne;
        l->cap = cap;
    }
    char *d = malloc(len + 1);
    if (!d)
        return -1;
    memcpy(d, path, len);
    d[len] = '\0';
    memmove(l->e + at + 1, l->e + at, (l->n - at) * sizeof *l->e);
    l->e[at] = (struct sub){ d, id };
    l->n++;
    return 1;
}

/* Parses the stored value (v1 or v2) into l: 0, 1 when it must be written again (v1), -1 not a
 * subscription list, -2 out of memory. */
static int subs_parse(struct subs *l, const char *val, size_t len)
{
    size_t hl = strlen(SUBS_HEADER);
    int v1 = len >= hl && !memcmp(val, SUBS_HEADER_V1, hl);
    if (!v1 && (len < hl || memcmp(val, SUBS_HEADER, hl) != 0))
        return -1;
    const char *p = val + hl, *end = val + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t k = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *name = p;
        size_t nk = k;
        int64_t id = 0;
        if (!v1) {
            const char *tab = memchr(p, '\t', k);
            if (!tab)
                return -1;
            for (const char *q = p; q < tab; q++) {
                if (*q < '0' || *q > '9' || id > (INT64_MAX - 9) / 10)
                    return -1;
                id = id * 10 + (*q - '0');
            }
            name = tab + 1;
            nk = k - (size_t)(name - p);
        }
        if (nk && subs_add(l, name, nk, id) < 0)
            return -2;
        p += k + 1;
    }
    return v1;
}

/* The list with `op` applied (SUBS_ADD / SUBS_DEL of `path`, SUBS_RENAME of `path` and the names below it to
 * `to`) and brought in step with the folders (each name follows its folder's renames, the name of a folder
 * that is gone stays without an id, a name that is a folder's path takes its id, the folders carrying the
 * flag are added), stored when it changed; *out (may be NULL) receives it. The folders are read here,
 * under subs_mu, so that no other session's update comes between them and the write. 0, or -1 with err.
 * Without the store's meta_set (a core before it) the flags alone are the list. */
static int subs_update(struct imap_server *s, int op, const char *path, const char *to, struct subs *out, char *err,
                       size_t errlen)
{
    struct subs l = { 0 }, nl = { 0 };
    struct mbox *m = NULL;
    size_t n = 0, npaths = 0;
    struct id_ix *ids = NULL;
    struct path_ix *paths = NULL;
    int keep = OUTPOST_HAS_METHOD(s->st, struct outpost_store_api, meta_set);
    int rc = -1, changed = 0, r = 0;
    pthread_mutex_lock(&s->subs_mu);
    if (mboxes_load(s, &m, &n, err, errlen) != 0)
        goto done;
    struct outpost_txn *t;
    char why[256] = ""; /* a storage message, copied while the transaction is ours */
    outpost_status st = keep ? s->st->read_begin(s->h, &t) : outpost_ok();
    if (keep && st.code == OUTPOST_OK) {
        const void *val;
        size_t len = 0;
        st = s->sm->meta_get(t, SUBS_KEY, &val, &len);
        if (st.code == OUTPOST_OK) {
            r = subs_parse(&l, val, len);
            changed = r == 1;
            if (r == -1)
                st = (outpost_status){ OUTPOST_BAD_DATA, 0, "the value " SUBS_KEY " is not a subscription list" };
        } else if (st.code == OUTPOST_GONE) {
            changed = 1; /* no list yet: the flags are the list */
            st = outpost_ok();
        }
        if (st.code != OUTPOST_OK)
            snprintf(why, sizeof why, "%s", imap_status_text(st));
        s->st->read_end(s->h, t);
    }
    if (st.code != OUTPOST_OK || r == -2) {
        snprintf(err, errlen, "cannot read the subscriptions: %s",
                 r == -2 ? "out of memory" : why[0] ? why : imap_status_text(st));
        goto done;
    }
    r = 0;
    size_t pl = path ? strlen(path) : 0, tl = to ? strlen(to) : 0;
    if (op == SUBS_ADD) {
        r = subs_add(&l, path, pl, 0);
        changed |= r > 0;
    } else if (op == SUBS_DEL) {
        long i = subs_find(&l, path, pl);
        if (i >= 0) {
            free(l.e[i].name);
            memmove(l.e + i, l.e + i + 1, (l.n - (size_t)i - 1) * sizeof *l.e);
            l.n--;
            changed = 1;
        }
    }
    ids = mbox_ids(m, n);
    paths = mbox_paths(m, n, &npaths);
    if (!ids || !paths)
        r = -1;
    /* the list again, each name where it is now */
    for (size_t i = 0; i < l.n && r >= 0; i++) {
        const char *nm = l.e[i].name;
        size_t nml = strlen(nm);
        int64_t id = l.e[i].id;
        char *moved = NULL;
        if (op == SUBS_RENAME && !strncmp(nm, path, pl) && (nm[pl] == '\0' || nm[pl] == '/')) {
            moved = malloc(tl + nml - pl + 1);
            if (!moved) {
                r = -1;
                break;
            }
            memcpy(moved, to, tl);
            memcpy(moved + tl, nm + pl, nml - pl + 1);
            nm = moved;
            nml = strlen(nm);
            changed = 1;
        }
        long f = id ? id_find(ids, n, id) : -1;
        if (f >= 0 && m[f].kind == OUTPOST_ITEM_MAIL) {
            if (strcmp(m[f].path, nm) != 0) { /* renamed or moved (on the server) */
                nm = m[f].path;
                nml = strlen(nm);
                changed = 1;
            }
        } else if (id) { /* its folder is gone: the name stays */
            id = 0;
            changed = 1;
        }
        if (!id && (f = path_find(paths, npaths, nm, nml)) >= 0) {
            id = m[f].id;
            changed = 1;
        }
        r = subs_add(&nl, nm, nml, id);
        changed |= r == 0; /* two names became one */
        free(moved);
    }
    for (size_t i = 0; i < n && r >= 0; i++)
        if (m[i].kind == OUTPOST_ITEM_MAIL && (m[i].flags & OUTPOST_FOLDER_SUBSCRIBED) &&
            (r = subs_add(&nl, m[i].path, strlen(m[i].path), m[i].id)) > 0)
            changed = 1;
    if (r < 0) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (keep && changed) {
        size_t len = strlen(SUBS_HEADER);
        for (size_t i = 0; i < nl.n; i++)
            len += 22 + strlen(nl.e[i].name);
        char *buf = malloc(len + 1), *w = buf;
        if (!buf) {
            snprintf(err, errlen, "out of memory");
            goto done;
        }
        w += sprintf(w, "%s", SUBS_HEADER);
        for (size_t i = 0; i < nl.n; i++)
            w += sprintf(w, "%lld\t%s\n", (long long)nl.e[i].id, nl.e[i].name);
        st = s->st->meta_set(s->h, SUBS_KEY, buf, (size_t)(w - buf));
        free(buf);
        if (st.code != OUTPOST_OK) {
            snprintf(err, errlen, "cannot store the subscriptions: %s", imap_status_text(st));
            goto done;
        }
    }
    rc = 0;
done:
    pthread_mutex_unlock(&s->subs_mu);
    free(ids);
    free(paths);
    mboxes_free(m, n);
    subs_free(&l);
    if (rc == 0 && out)
        *out = nl;
    else
        subs_free(&nl);
    return rc;
}

void imap_subs_record(struct imap_server *s)
{
    char err[300];
    if (subs_update(s, SUBS_KEEP, NULL, NULL, NULL, err, sizeof err) != 0)
        s->h->log(s->h, OUTPOST_LOG_WARNING, "IMAP subscriptions: %s", err);
}

/* Appends an entry to a folder list for LIST/LSUB: a name with no folder (nonexistent). */
static struct mbox *mbox_add_missing(struct mbox **m, size_t *n, const char *path, size_t len, uint32_t flags)
{
    struct mbox *nm = realloc(*m, (*n + 1) * sizeof *nm);
    if (!nm)
        return NULL;
    *m = nm;
    struct mbox *b = &nm[*n];
    memset(b, 0, sizeof *b);
    b->kind = OUTPOST_ITEM_MAIL;
    b->flags = flags | OUTPOST_FOLDER_NOSELECT;
    b->nonexistent = 1;
    b->path = malloc(len + 1);
    if (!b->path)
        return NULL;
    memcpy(b->path, path, len);
    b->path[len] = '\0';
    (*n)++;
    return b;
}

/* The folder list as LSUB and LIST (SUBSCRIBED) see it: the subscription flag of each folder is its name
 * being in the subscription list, and each subscribed name with no folder is an entry of its own
 * (nonexistent, subscribed), with the levels above it that have no folder either (nonexistent, not
 * subscribed: LSUB "%" and RECURSIVEMATCH show them). 0, or -1 with err. */
static int subs_view(struct imap_conn *c, struct mbox **m, size_t *n, char *err, size_t errlen)
{
    struct subs l, levels = { 0 };
    if (subs_update(c->srv, SUBS_KEEP, NULL, NULL, &l, err, errlen) != 0)
        return -1;
    size_t nix;
    struct path_ix *ix = mbox_paths(*m, *n, &nix);
    int rc = ix ? 0 : -1;
    for (size_t i = 0; i < *n && rc == 0; i++) {
        (*m)[i].flags &= ~(uint32_t)OUTPOST_FOLDER_SUBSCRIBED;
        if ((*m)[i].kind == OUTPOST_ITEM_MAIL && subs_find(&l, (*m)[i].path, strlen((*m)[i].path)) >= 0)
            (*m)[i].flags |= OUTPOST_FOLDER_SUBSCRIBED;
    }
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        const char *nm = l.e[i].name;
        if (path_find(ix, nix, nm, strlen(nm)) >= 0)
            continue;
        if (!mbox_add_missing(m, n, nm, strlen(nm), OUTPOST_FOLDER_SUBSCRIBED)) {
            rc = -1;
            break;
        }
        for (const char *sl = strchr(nm, '/'); sl && rc == 0; sl = strchr(sl + 1, '/')) {
            size_t ll = (size_t)(sl - nm);
            /* a level that is subscribed itself gets its own entry; each level one */
            if (path_find(ix, nix, nm, ll) >= 0 || subs_find(&l, nm, ll) >= 0)
                continue;
            int r = subs_add(&levels, nm, ll, 0);
            if (r < 0 || (r > 0 && !mbox_add_missing(m, n, nm, ll, 0)))
                rc = -1;
        }
    }
    free(ix);
    subs_free(&l);
    subs_free(&levels);
    if (rc != 0)
        snprintf(err, errlen, "out of memory");
    return rc;
}

/* Sent, Drafts and Trash always exist (clients such as Outlook expect them). */
static void ensure_special_folders(struct imap_conn *c)
{
    struct imap_server *s = c->srv;
    char err[256];
    pthread_mutex_lock(&s->ensure_mu);
    struct mbox *m;
    size_t n;
    if (mboxes_load(c->srv, &m, &n, err, sizeof err) == 0) {
        static const struct {
            uint32_t use;
            const char *name;
        } wanted[] = { { OUTPOST_USE_SENT, "Sent" }, { OUTPOST_USE_DRAFTS, "Drafts" }, { OUTPOST_USE_TRASH, "Trash" } };
        for (size_t w = 0; w < 3; w++) {
            int have = 0;
            for (size_t i = 0; i < n; i++)
                have |= m[i].kind == OUTPOST_ITEM_MAIL && m[i].special_use == wanted[w].use;
            if (have)
                continue;
            int64_t id;
            outpost_status st = s->st->folder_create(s->h, 0, wanted[w].name, OUTPOST_ITEM_MAIL, &id);
            if (st.code != OUTPOST_OK)
                s->h->log(s->h, OUTPOST_LOG_WARNING, "cannot create the %s folder: %s", wanted[w].name,
                          imap_status_text(st));
        }
        mboxes_free(m, n);
    }
    pthread_mutex_unlock(&s->ensure_mu);
}

/* ---- selected mailbox ---- */

static int msgs_push(struct imap_conn *c, const struct imap_msg *m)
{
    if (c->nmsgs == c->capmsgs) {
        size_t cap = c->capmsgs ? c->capmsgs * 2 : 256;
        struct imap_msg *nm = realloc(c->msgs, cap * sizeof *nm);
        if (!nm)
            return -1;
        c->msgs = nm;
        c->capmsgs = cap;
    }
    size_t at = c->nmsgs;
    while (at > 0 && c->msgs[at - 1].uid > m->uid)
        at--;
    memmove(c->msgs + at + 1, c->msgs + at, (c->nmsgs - at) * sizeof *m);
    c->msgs[at] = *m;
    c->nmsgs++;
    return 0;
}

/* ---- kept message lists ---- */

#define SNAP_MIN 1000 /* smaller folders load fast enough */
#define SNAP_MAX 8    /* folders kept */

struct imap_snap {
    struct imap_snap *next;
    int64_t folder;
    uint32_t uidvalidity;
    uint64_t modseq;      /* the folder's highest MODSEQ the list reflects */
    uint64_t used;        /* snap_clock at the last use (LRU) */
    struct imap_msg *msgs;
    size_t n;
};

void imap_snaps_free(struct imap_server *s)
{
    while (s->snaps) {
        struct imap_snap *n = s->snaps->next;
        free(s->snaps->msgs);
        free(s->snaps);
        s->snaps = n;
    }
}

/* Copies the kept list of `folder` into c->msgs when it is at most a few
 * changes behind `hms`; *from gets the MODSEQ it reflects. 1 taken, 0 not. */
static int snap_take(struct imap_conn *c, int64_t folder, uint32_t uidvalidity, uint64_t hms, uint64_t *from)
{
    struct imap_server *s = c->srv;
    int taken = 0;
    pthread_mutex_lock(&s->snap_mu);
    for (struct imap_snap *p = s->snaps; p; p = p->next) {
        if (p->folder != folder)
            continue;
        /* a changes listing costs about what a full one does past n/4 */
        if (p->uidvalidity == uidvalidity && p->modseq <= hms && hms - p->modseq <= p->n / 4 + 64) {
            size_t cap = p->n + p->n / 8 + 256;
            struct imap_msg *m = malloc(cap * sizeof *m);
            if (m) {
                memcpy(m, p->msgs, p->n * sizeof *m);
                free(c->msgs);
                c->msgs = m;
                c->nmsgs = p->n;
                c->capmsgs = cap;
                *from = p->modseq;
                p->used = ++s->snap_clock;
                taken = 1;
            }
        }
        break;
    }
    pthread_mutex_unlock(&s->snap_mu);
    return taken;
}

/* Keeps a copy of c->msgs as the list of `folder` at `hms`. */
static void snap_put(struct imap_conn *c, int64_t folder, uint32_t uidvalidity, uint64_t hms)
{
    struct imap_server *s = c->srv;
    if (c->nmsgs < SNAP_MIN)
        return;
    struct imap_msg *copy = malloc(c->nmsgs * sizeof *copy);
    if (!copy)
        return;
    memcpy(copy, c->msgs, c->nmsgs * sizeof *copy);
    pthread_mutex_lock(&s->snap_mu);
    struct imap_snap *p = s->snaps, *lru = NULL;
    size_t count = 0;
    for (; p && p->folder != folder; p = p->next) {
        count++;
        if (!lru || p->used < lru->used)
            lru = p;
    }
    if (!p && count >= SNAP_MAX)
        p = lru; /* replace the least recently used */
    if (!p && (p = calloc(1, sizeof *p)) != NULL) {
        p->next = s->snaps;
        s->snaps = p;
    }
    if (p && (p->folder != folder || p->uidvalidity != uidvalidity || p->modseq <= hms)) {
        free(p->msgs);
        p->folder = folder;
        p->uidvalidity = uidvalidity;
        p->modseq = hms;
        p->msgs = copy;
        p->n = c->nmsgs;
        p->used = ++s->snap_clock;
        copy = NULL;
    }
    pthread_mutex_unlock(&s->snap_mu);
    free(copy);
}

/* Applies the folder's expunges and changes after MODSEQ `from` to c->msgs. */
static int apply_changes(struct imap_conn *c, struct outpost_txn *t, int64_t folder, uint64_t from)
{
    struct imap_server *s = c->srv;
    struct outpost_cursor *cur;
    const void *row;
    if (s->sm->expunged_since(t, folder, from, &cur).code != OUTPOST_OK)
        return -1;
    while (s->sm->cursor_next(cur, &row).code == OUTPOST_OK && row) {
        long ix = imap_msg_index(c, ((const outpost_tombstone *)row)->uid);
        if (ix >= 0) {
            memmove(c->msgs + ix, c->msgs + ix + 1, (c->nmsgs - (size_t)ix - 1) * sizeof *c->msgs);
            c->nmsgs--;
        }
    }
    s->sm->cursor_close(cur);
    if (s->sm->items_changed_since(t, folder, from, &cur).code != OUTPOST_OK)
        return -1;
    int rc = 0;
    while (rc == 0 && s->sm->cursor_next(cur, &row).code == OUTPOST_OK && row) {
        const outpost_item *it = row;
        long ix = imap_msg_index(c, it->uid);
        struct imap_msg m = { it->uid, it->flags, it->id, it->modseq };
        if (ix >= 0)
            c->msgs[ix] = m;
        else
            rc = msgs_push(c, &m);
    }
    s->sm->cursor_close(cur);
    return rc;
}

/* Fills c->msgs with the folder's messages as of `hms` (read in t, the
 * transaction `hms` was read in): from the kept list plus the changes since
 * when there is one, else with the narrow listing (a covering-index scan)
 * when the storage has it. 0 or -1. */
static int load_msgs(struct imap_conn *c, struct outpost_txn *t, int64_t folder, uint32_t uidvalidity,
                     uint64_t hms)
{
    struct imap_server *s = c->srv;
    uint64_t from = 0;
    if (snap_take(c, folder, uidvalidity, hms, &from)) {
        if (from == hms || apply_changes(c, t, folder, from) == 0) {
            if (from != hms)
                snap_put(c, folder, uidvalidity, hms);
            return 0;
        }
        c->nmsgs = 0; /* read it all instead */
    }
    int narrow = OUTPOST_HAS_METHOD(s->sm, struct outpost_storage_methods, items_uid_flags);
    struct outpost_cursor *cur;
    const void *row;
    if ((narrow ? s->sm->items_uid_flags(t, folder, 1, 0, &cur) : s->sm->items_by_uid(t, folder, 1, 0, &cur))
            .code != OUTPOST_OK)
        return -1;
    int rc = 0;
    while (s->sm->cursor_next(cur, &row).code == OUTPOST_OK && row) {
        struct imap_msg m;
        /* Keywords in use are learnt here so SELECT announces them in FLAGS; a
         * list taken from the kept snapshot learns them as FETCH shows them. */
        if (narrow) {
            const outpost_uid_flags *r = row;
            m = (struct imap_msg){ r->uid, r->flags, r->id, r->modseq };
            kw_learn(c, r->keywords);
        } else {
            const outpost_item *it = row;
            m = (struct imap_msg){ it->uid, it->flags, it->id, it->modseq };
            kw_learn(c, it->keywords);
        }
        if (msgs_push(c, &m) != 0) {
            rc = -1;
            break;
        }
    }
    s->sm->cursor_close(cur);
    if (rc == 0)
        snap_put(c, folder, uidvalidity, hms);
    return rc;
}

/* ---- \Recent ----
 *
 * RFC 3501 2.3.2: a message is recent in the one session that is the first to be told of it (SELECT, or an
 * EXISTS while it has the mailbox selected); EXAMINE shows the recent messages without taking them. The
 * server keeps per folder the highest UID some session has taken (recent_floor); the messages above it are
 * recent for the next session that selects the mailbox or is told of them. At start each folder's floor is
 * its highest UID, so that what was in the cache before is not recent; a folder made later starts at 0.
 * The floors live as long as the front-end: after a restart the messages that no session saw are not
 * recent any more. RFC 9051 dropped \Recent; IMAP4rev1 clients such as mutt show it. */

static struct imap_recent_floor *recent_find(struct imap_server *s, int64_t folder, size_t *at)
{
    size_t lo = 0, hi = s->nrecent;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->recent[mid].folder < folder)
            lo = mid + 1;
        else
            hi = mid;
    }
    *at = lo;
    return lo < s->nrecent && s->recent[lo].folder == folder ? &s->recent[lo] : NULL;
}

/* Sets the floor of `folder` to `uid` (when higher); 0, or -1 out of memory. Under recent_mu. */
static int recent_set_floor(struct imap_server *s, int64_t folder, uint32_t uid)
{
    size_t at;
    struct imap_recent_floor *e = recent_find(s, folder, &at);
    if (e) {
        if (uid > e->floor)
            e->floor = uid;
        return 0;
    }
    if (s->nrecent == s->caprecent) {
        size_t cap = s->caprecent ? s->caprecent * 2 : 64;
        struct imap_recent_floor *n = realloc(s->recent, cap * sizeof *n);
        if (!n)
            return -1;
        s->recent = n;
        s->caprecent = cap;
    }
    memmove(s->recent + at + 1, s->recent + at, (s->nrecent - at) * sizeof *s->recent);
    s->recent[at] = (struct imap_recent_floor){ folder, uid };
    s->nrecent++;
    return 0;
}

/* The floors are kept in the store (host meta_set, local-only values) so that a restart neither makes
 * recent again what a session was shown nor takes from the next session what no session was shown:
 * RECENT_KEY_PREFIX<folder id> holds "<uidvalidity> <floor>" and is written whenever a session raises the
 * floor; RECENT_KEY, written at the first start that keeps floors, holds the baseline, one line
 * "<folder id> <uidvalidity> <floor>" for each folder then in the cache (what was there before is not
 * recent). A folder with neither value was made after that first start: its floor is 0. A value whose
 * UIDVALIDITY is not the folder's (a folder reset, or a deleted folder's id) is ignored. */
#define RECENT_KEY "imap.recent"
#define RECENT_KEY_PREFIX "imap.recent."

static int recent_keep(const struct imap_server *s)
{
    return OUTPOST_HAS_METHOD(s->st, struct outpost_store_api, meta_set);
}

/* Stores the floor of `folder` (see above); a failure is logged, the floor stays in memory. */
static void recent_persist(struct imap_server *s, int64_t folder, uint32_t uidvalidity, uint32_t floor)
{
    if (!recent_keep(s))
        return;
    char key[64], val[32];
    snprintf(key, sizeof key, RECENT_KEY_PREFIX "%lld", (long long)folder);
    int n = snprintf(val, sizeof val, "%u %u", uidvalidity, floor);
    outpost_status st = s->st->meta_set(s->h, key, val, (size_t)n);
    if (st.code != OUTPOST_OK)
        s->h->log(s->h, OUTPOST_LOG_WARNING, "[imap] cannot store the \\Recent floor of folder %lld: %s",
                  (long long)folder, imap_status_text(st));
}

/* The stored floor of folder f: 1 and *floor when there is one for its UIDVALIDITY, else 0. `base` is the
 * baseline (RECENT_KEY's value, NUL-terminated) or NULL. */
static int recent_stored(const struct imap_server *s, struct outpost_txn *t, const outpost_folder *f,
                         const char *base, uint32_t *floor)
{
    char key[64];
    const void *val;
    size_t len;
    unsigned uv, fl;
    snprintf(key, sizeof key, RECENT_KEY_PREFIX "%lld", (long long)f->id);
    if (s->sm->meta_get(t, key, &val, &len).code == OUTPOST_OK && len < 32) {
        char buf[32];
        memcpy(buf, val, len);
        buf[len] = 0;
        if (sscanf(buf, "%u %u", &uv, &fl) == 2 && uv == f->uidvalidity) {
            *floor = fl;
            return 1;
        }
    }
    for (const char *p = base; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : "") {
        long long id;
        if (sscanf(p, "%lld %u %u", &id, &uv, &fl) == 3 && id == f->id && uv == f->uidvalidity) {
            *floor = fl;
            return 1;
        }
    }
    return 0;
}

void imap_recent_init(struct imap_server *s)
{
    struct outpost_txn *t;
    struct outpost_cursor *cur;
    const void *row;
    if (s->st->read_begin(s->h, &t).code != OUTPOST_OK)
        return;
    int keep = recent_keep(s);
    char *base = NULL, *nbase = NULL;
    size_t nlen = 0, ncap = 0;
    const void *val;
    size_t len;
    if (keep && s->sm->meta_get(t, RECENT_KEY, &val, &len).code == OUTPOST_OK) {
        base = malloc(len + 1);
        if (base) {
            memcpy(base, val, len);
            base[len] = 0;
        }
    }
    int first = keep && !base; /* no baseline yet: this start writes it */
    pthread_mutex_lock(&s->recent_mu);
    if (s->sm->folder_list(t, &cur).code == OUTPOST_OK) {
        while (s->sm->cursor_next(cur, &row).code == OUTPOST_OK && row) {
            const outpost_folder *f = row;
            uint32_t floor = 0;
            if (!keep || first)
                floor = f->uidnext > 1 ? f->uidnext - 1 : 0;
            else if (!recent_stored(s, t, f, base, &floor))
                floor = 0; /* made since the baseline, and no session was shown its messages */
            if (floor && recent_set_floor(s, f->id, floor) != 0)
                break;
            if (first && floor) {
                if (nlen + 48 > ncap) {
                    size_t cap = ncap ? ncap * 2 : 1024;
                    char *n = realloc(nbase, cap);
                    if (!n)
                        break;
                    nbase = n;
                    ncap = cap;
                }
                nlen += (size_t)snprintf(nbase + nlen, ncap - nlen, "%lld %u %u\n", (long long)f->id,
                                         f->uidvalidity, floor);
            }
        }
        s->sm->cursor_close(cur);
    }
    pthread_mutex_unlock(&s->recent_mu);
    s->st->read_end(s->h, t);
    if (first) {
        outpost_status st = s->st->meta_set(s->h, RECENT_KEY, nbase ? nbase : "", nlen);
        if (st.code != OUTPOST_OK)
            s->h->log(s->h, OUTPOST_LOG_WARNING, "[imap] cannot store the \\Recent baseline: %s",
                      imap_status_text(st));
    }
    free(base);
    free(nbase);
}

/* The messages of the selected mailbox up to `maxuid` that no session was told of yet become recent in
 * this one (taken, unless the mailbox is read-only); the number of recent messages it holds. */
static size_t recent_update(struct imap_conn *c, uint32_t maxuid)
{
    struct imap_server *s = c->srv;
    pthread_mutex_lock(&s->recent_mu);
    size_t at;
    struct imap_recent_floor *e = recent_find(s, c->sel_folder, &at);
    uint32_t floor = e ? e->floor : 0;
    uint32_t from = c->nrecent && c->recent[c->nrecent - 1].hi > floor ? c->recent[c->nrecent - 1].hi : floor;
    if (maxuid > from) {
        int ok = c->readonly || recent_set_floor(s, c->sel_folder, maxuid) == 0;
        if (ok && !c->readonly) /* under recent_mu: the floors reach the store in the order they rise */
            recent_persist(s, c->sel_folder, c->uidvalidity, maxuid);
        if (ok && c->nrecent == c->caprecent) {
            size_t cap = c->caprecent ? c->caprecent * 2 : 4;
            struct imap_uid_range *n = realloc(c->recent, cap * sizeof *n);
            ok = n != NULL;
            if (n) {
                c->recent = n;
                c->caprecent = cap;
            }
        }
        if (ok)
            c->recent[c->nrecent++] = (struct imap_uid_range){ from + 1, maxuid };
    }
    pthread_mutex_unlock(&s->recent_mu);
    size_t n = 0;
    for (size_t i = 0; i < c->nmsgs; i++)
        n += imap_is_recent(c, c->msgs[i].uid) != 0;
    return n;
}

int imap_is_recent(const struct imap_conn *c, uint32_t uid)
{
    for (size_t i = c->nrecent; i > 0; i--) {
        if (uid > c->recent[i - 1].hi)
            return 0;
        if (uid >= c->recent[i - 1].lo)
            return 1;
    }
    return 0;
}

static void unselect(struct imap_conn *c)
{
    if (c->state == S_SELECTED && c->srv->st->folder_open_hint)
        c->srv->st->folder_open_hint(c->srv->h, c->sel_folder, 0);
    free(c->msgs);
    c->msgs = NULL;
    c->nmsgs = c->capmsgs = 0;
    free(c->kw_known);
    c->kw_known = NULL;
    free(c->recent);
    c->recent = NULL;
    c->nrecent = c->caprecent = 0;
    c->sel_folder = 0;
    imap_set_selected_folder(c, 0);
    if (c->state == S_SELECTED)
        c->state = S_AUTH;
}

struct change {
    uint32_t uid, flags;
    int64_t id;
    uint64_t modseq;
    char *keywords;
};

int imap_sync_selected(struct imap_conn *c, int allow_expunge)
{
    if (c->state != S_SELECTED)
        return 0;
    struct imap_server *s = c->srv;
    struct outpost_txn *t;
    const outpost_folder *f;
    outpost_status st = s->st->read_begin(s->h, &t);
    if (st.code != OUTPOST_OK)
        return -1;
    st = s->sm->folder_get(t, c->sel_folder, &f);
    if (st.code == OUTPOST_GONE) {
        s->st->read_end(s->h, t);
        /* deleted by another session or on the server: nothing can tell the client so but the end of the
         * session (RFC 2180 3.3; Dovecot does the same); NONEXISTENT, not UNAVAILABLE, so that a client does
         * not take it for a passing failure and select it again */
        imap_puts(c, "* BYE [NONEXISTENT] The selected mailbox was deleted\r\n");
        c->state = S_LOGOUT;
        return -1;
    }
    if (st.code != OUTPOST_OK) {
        s->st->read_end(s->h, t);
        return -1;
    }
    uint64_t hms = f->highest_modseq;
    uint32_t *gone = NULL;
    size_t ngone = 0, capgone = 0;
    struct change *ch = NULL;
    size_t nch = 0, capch = 0;
    struct outpost_cursor *cur;
    const void *row;
    /* expunges held back (none may be reported during FETCH, STORE, SEARCH): a QRESYNC client told MODSEQs
     * above theirs must be given a HIGHESTMODSEQ below them, or it would resynchronize from past them after
     * a disconnection and never learn of them (RFC 7162 3.2) */
    int held_back = 0;
    if (!allow_expunge && c->qresync && c->exp_modseq && hms > c->exp_modseq &&
        s->sm->expunged_since(t, c->sel_folder, c->exp_modseq, &cur).code == OUTPOST_OK) {
        while (!held_back && s->sm->cursor_next(cur, &row).code == OUTPOST_OK && row)
            held_back = imap_msg_index(c, ((const outpost_tombstone *)row)->uid) >= 0;
        s->sm->cursor_close(cur);
    }
    if (allow_expunge && hms > c->exp_modseq && s->sm->expunged_since(t, c->sel_folder, c->exp_modseq, &cur).code == OUTPOST_OK) {
        while (s->sm->cursor_next(cur, &row).code == OUTPOST_OK && row) {
            if (ngone == capgone) {
                capgone = capgone ? capgone * 2 : 64;
                uint32_t *ng = realloc(gone, capgone * sizeof *ng);
                if (!ng)
                    break;
                gone = ng;
            }
            gone[ngone++] = ((const outpost_tombstone *)row)->uid;
        }
        s->sm->cursor_close(cur);
    }
    if (hms > c->sel_modseq && s->sm->items_changed_since(t, c->sel_folder, c->sel_modseq, &cur).code == OUTPOST_OK) {
        while (s->sm->cursor_next(cur, &row).code == OUTPOST_OK && row) {
            const outpost_item *it = row;
            if (nch == capch) {
                capch = capch ? capch * 2 : 64;
                struct change *nc = realloc(ch, capch * sizeof *nc);
                if (!nc)
                    break;
                ch = nc;
            }
            ch[nch].uid = it->uid;
            ch[nch].flags = it->flags;
            ch[nch].id = it->id;
            ch[nch].modseq = it->modseq;
            ch[nch].keywords = it->keywords && *it->keywords ? strdup(it->keywords) : NULL;
            nch++;
        }
        s->sm->cursor_close(cur);
    }
    s->st->read_end(s->h, t);

    /* expunges */
    if (ngone) {
        uint32_t *vanished = c->qresync ? malloc(ngone * sizeof *vanished) : NULL;
        size_t nv = 0;
        for (size_t i = 0; i < ngone; i++) {
            long ix = imap_msg_index(c, gone[i]);
            if (ix < 0)
                continue;
            if (c->qresync && vanished)
                vanished[nv++] = gone[i];
            else
                imap_printf(c, "* %ld EXPUNGE\r\n", ix + 1);
            memmove(c->msgs + ix, c->msgs + ix + 1, (c->nmsgs - (size_t)ix - 1) * sizeof *c->msgs);
            c->nmsgs--;
        }
        if (nv) {
            qsort(vanished, nv, sizeof *vanished, cmp_u32);
            imap_puts(c, "* VANISHED ");
            imap_write_uidset(c, vanished, nv);
            imap_puts(c, "\r\n");
        }
        free(vanished);
    }
    if (allow_expunge)
        c->exp_modseq = hms;

    /* flag changes and new messages */
    size_t before = c->nmsgs;
    uint32_t maxuid = c->nmsgs ? c->msgs[c->nmsgs - 1].uid : 0;
    for (size_t i = 0; i < nch; i++) {
        long ix = imap_msg_index(c, ch[i].uid);
        if (ix >= 0) {
            struct imap_msg *m = &c->msgs[ix];
            if (ch[i].modseq > m->modseq) {
                m->modseq = ch[i].modseq;
                m->flags = ch[i].flags;
                imap_announce_keywords(c, ch[i].keywords);
                imap_printf(c, "* %ld FETCH (UID %u FLAGS ", ix + 1, m->uid);
                imap_write_flags(c, ch[i].flags, ch[i].keywords, m->uid);
                if (c->condstore)
                    imap_printf(c, " MODSEQ (%llu)", (unsigned long long)ch[i].modseq);
                imap_puts(c, ")\r\n");
            }
        } else if (ch[i].uid > maxuid || allow_expunge) {
            /* new (an unknown lower UID can only appear at a point where
             * sequence numbers may change) */
            struct imap_msg m = { ch[i].uid, ch[i].flags, ch[i].id, ch[i].modseq };
            msgs_push(c, &m);
        }
        free(ch[i].keywords);
    }
    free(ch);
    free(gone);
    if (c->nmsgs != before) /* EXPUNGE and VANISHED already told the client the count */
        imap_printf(c, "* %zu EXISTS\r\n* %zu RECENT\r\n", c->nmsgs,
                    recent_update(c, c->nmsgs ? c->msgs[c->nmsgs - 1].uid : 0));
    c->sel_modseq = hms;
    if (held_back)
        imap_printf(c, "* OK [HIGHESTMODSEQ %llu] Expunges not reported yet\r\n", (unsigned long long)c->exp_modseq);
    return 0;
}

void imap_condstore_on(struct imap_conn *c)
{
    if (c->condstore)
        return;
    c->condstore = 1;
    /* RFC 7162 3.1: the first CONDSTORE enabling command while a mailbox is selected returns its
     * HIGHESTMODSEQ (as far as this session was told: not past an expunge it has not heard of) */
    uint64_t hms = c->sel_modseq < c->exp_modseq ? c->sel_modseq : c->exp_modseq;
    if (c->state == S_SELECTED && hms)
        imap_printf(c, "* OK [HIGHESTMODSEQ %llu] CONDSTORE is on\r\n", (unsigned long long)hms);
}

/* ---- commands: any state ---- */

static void cmd_capability(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    (void)args;
    (void)uid;
    imap_puts(c, "* CAPABILITY ");
    write_caps(c);
    imap_puts(c, "\r\n");
    imap_tagged(c, tag, "OK", "CAPABILITY completed");
}

static void cmd_noop(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    (void)args;
    (void)uid;
    imap_sync_selected(c, 1);
    imap_tagged(c, tag, "OK", "%s completed", "NOOP");
}

static void cmd_check(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    (void)args;
    (void)uid;
    imap_sync_selected(c, 1);
    imap_tagged(c, tag, "OK", "CHECK completed");
}

static void cmd_logout(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    (void)args;
    (void)uid;
    imap_puts(c, "* BYE Outpost IMAP logging out\r\n");
    imap_tagged(c, tag, "OK", "LOGOUT completed");
    unselect(c);
    c->state = S_LOGOUT;
}

static void cmd_id(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    (void)uid;
    const struct imap_tok *a = arg(args, 0);
    int ok = a && args->nkids == 1 && (imap_tok_atom_is(a, "NIL") || a->type == IMAP_TOK_LIST);
    /* RFC 2971: "(" field SP value *(SP field SP value) ")", each field a string, each value a string or
     * NIL; an odd count or a nested list is a syntax error */
    if (ok && a->type == IMAP_TOK_LIST) {
        ok = a->nkids % 2 == 0;
        for (size_t i = 0; ok && i < a->nkids; i++)
            ok = imap_tok_is_string(a->kids[i]) && (i % 2 == 1 || !imap_tok_atom_is(a->kids[i], "NIL"));
    }
    if (!ok) {
        imap_tagged(c, tag, "BAD", "ID expects a list of field and value pairs, or NIL");
        return;
    }
    imap_puts(c, "* ID (\"name\" \"Outpost\" \"vendor\" \"Outpost\" \"version\" \"0.1.0\")\r\n");
    imap_tagged(c, tag, "OK", "ID completed");
}

/* ---- not authenticated ---- */

static int secure_enough(struct imap_conn *c)
{
    return c->tls_active || c->loopback_peer;
}

static int check_login(struct imap_conn *c, const char *user, const char *pass)
{
    struct imap_server *s = c->srv;
    size_t a = strlen(pass), b = strlen(s->password);
    unsigned diff = (unsigned)(a ^ b);
    for (size_t i = 0; i < a; i++)
        diff |= (unsigned char)pass[i] ^ (unsigned char)s->password[b ? i % b : 0];
    return diff == 0 && strcmp(user, s->user) == 0;
}

static void login_done(struct imap_conn *c, const char *tag, int ok, const char *user)
{
    struct imap_server *s = c->srv;
    if (!ok) {
        c->auth_failures++;
        s->h->log(s->h, OUTPOST_LOG_NOTICE, "failed login from %s (user '%.64s')", c->peer, user);
        int delay = s->auth_delay_ms;
        if (delay > 0) {
            imap_cfg_unlock(s); /* a reload need not wait for it */
            usleep((useconds_t)delay * 1000);
            imap_cfg_rdlock(s);
        }
        imap_tagged(c, tag, "NO", "[AUTHENTICATIONFAILED] Invalid credentials");
        if (c->auth_failures >= 3) {
            imap_puts(c, "* BYE Too many failed logins\r\n");
            c->state = S_LOGOUT;
        }
        return;
    }
    c->state = S_AUTH;
    ensure_special_folders(c);
    s->h->log(s->h, OUTPOST_LOG_INFO, "login from %s", c->peer);
    imap_puts(c, tag);
    imap_puts(c, " OK [CAPABILITY ");
    write_caps(c);
    imap_puts(c, "] Logged in\r\n");
}

static void cmd_login(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    (void)uid;
    const char *user = arg_str(args, 0), *pass = arg_str(args, 1);
    if (!user || !pass || args->nkids != 2) {
        imap_tagged(c, tag, "BAD", "LOGIN expects a user name and a password");
        return;
    }
    if (!secure_enough(c)) {
        imap_tagged(c, tag, "NO", "[PRIVACYREQUIRED] Use STARTTLS first");
        return;
    }
    /* a literal may hold a NUL: the name and password are the whole strings, not a prefix */
    int whole = strlen(user) == arg(args, 0)->len && strlen(pass) == arg(args, 1)->len;
    login_done(c, tag, whole && check_login(c, user, pass), user);
}

static int b64_decode(const char *in, unsigned char *out, size_t cap, size_t *outlen)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (const char *p = in; *p; p++) {
        if (*p == '=')
            break;
        const char *q = strchr(tbl, *p);
        if (!q || !*p)
            return -1;
        acc = (acc << 6) | (uint32_t)(q - tbl);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    *outlen = o;
    return 0;
}

static void cmd_authenticate(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    (void)uid;
    const char *mech = arg_str(args, 0);
    if (!mech || args->nkids > 2) { /* "AUTHENTICATE" SP auth-type [SP initial-response] (RFC 4959) */
        imap_tagged(c, tag, "BAD", "AUTHENTICATE expects a mechanism");
        return;
    }
    if (strcasecmp(mech, "PLAIN") != 0) {
        imap_tagged(c, tag, "NO", "Unsupported authentication mechanism (PLAIN only)");
        return;
    }
    if (!secure_enough(c)) {
        imap_tagged(c, tag, "NO", "[PRIVACYREQUIRED] Use STARTTLS first");
        return;
    }
    char *resp = NULL;
    const char *ir = arg_str(args, 1);
    if (ir) {
        resp = strdup(ir);
    } else {
        imap_puts(c, "+ \r\n");
        imap_flush(c);
        size_t len;
        int r = imap_read_line(c, &resp, &len, c->srv->login_timeout_s * 1000, 0);
        if (r == -4) { /* over the line limit (discarded): no PLAIN response is that long */
            imap_tagged(c, tag, "BAD", "Malformed PLAIN response (too long)");
            return;
        }
        if (r != 1) {
            c->state = S_LOGOUT;
            return;
        }
    }
    if (!resp)
        return;
    if (!strcmp(resp, "*")) {
        free(resp);
        imap_tagged(c, tag, "BAD", "Authentication cancelled");
        return;
    }
    unsigned char buf[1024];
    size_t n = 0;
    int ok = !strcmp(resp, "=") || b64_decode(resp, buf, sizeof buf - 1, &n) == 0;
    free(resp);
    if (!ok) {
        imap_tagged(c, tag, "BAD", "Invalid base64 in the PLAIN response");
        return;
    }
    buf[n] = '\0';
    /* authzid NUL authcid NUL passwd */
    const unsigned char *z1 = memchr(buf, 0, n);
    const unsigned char *z2 = z1 ? memchr(z1 + 1, 0, n - (size_t)(z1 + 1 - buf)) : NULL;
    /* exactly two NULs (RFC 4616 2): a password holding a third is malformed, not a prefix */
    if (!z1 || !z2 || memchr(z2 + 1, 0, n - (size_t)(z2 + 1 - buf))) {
        imap_tagged(c, tag, "BAD", "Malformed PLAIN response");
        return;
    }
    const char *authz = (const char *)buf, *user = (const char *)z1 + 1, *pass = (const char *)z2 + 1;
    int good = check_login(c, user, pass) && (!*authz || !strcmp(authz, user));
    login_done(c, tag, good, user);
}

static void cmd_starttls(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    (void)args;
    (void)uid;
    if (!c->srv->ssl_ctx) {
        /* not advertised, so an unknown command: BAD (RFC 3501 6.2.1 has no NO for STARTTLS) */
        imap_tagged(c, tag, "BAD", "TLS is not configured (set tls_cert and tls_key in [imap])");
        return;
    }
    if (c->tls_active) {
        imap_tagged(c, tag, "BAD", "TLS is already active");
        return;
    }
    if (c->rlen > c->rpos) {
        /* a client must not pipeline after STARTTLS (command injection) */
        imap_tagged(c, tag, "BAD", "Data after STARTTLS");
        c->state = S_LOGOUT;
        return;
    }
    imap_tagged(c, tag, "OK", "Begin TLS negotiation now");
    if (imap_flush(c) != 0 || imap_start_tls(c) != 0)
        c->state = S_LOGOUT;
}

/* ---- authenticated ---- */

static void cmd_enable(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    (void)uid;
    if (args->nkids == 0) {
        imap_tagged(c, tag, "BAD", "ENABLE expects capability names");
        return;
    }
    char enabled[128] = "";
    for (size_t i = 0; i < args->nkids; i++) {
        const struct imap_tok *t = args->kids[i];
        if (t->type != IMAP_TOK_ATOM) {
            imap_tagged(c, tag, "BAD", "ENABLE expects atoms");
            return;
        }
        /* each supported extension asked for is named in ENABLED, also when an
         * earlier command (STATUS HIGHESTMODSEQ, ENABLE) had already enabled it:
         * the client learns it is on (RFC 5161 3.1, RFC 7162 3.1) */
        if (!strcasecmp(t->s, "CONDSTORE") && !strstr(enabled, " CONDSTORE")) {
            strcat(enabled, " CONDSTORE");
        } else if (!strcasecmp(t->s, "QRESYNC") && !strstr(enabled, " QRESYNC")) {
            c->qresync = 1;
            strcat(enabled, " QRESYNC");
        }
    }
    imap_printf(c, "* ENABLED%s\r\n", enabled);
    if (*enabled)
        imap_condstore_on(c);
    imap_tagged(c, tag, "OK", "ENABLE completed");
}

static void cmd_namespace(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    (void)args;
    (void)uid;
    imap_puts(c, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
    imap_tagged(c, tag, "OK", "NAMESPACE completed");
}

static void write_mbox_name(struct imap_conn *c, const char *path)
{
    char *m = imap_mutf7_encode(path);
    imap_astring(c, m ? m : path);
    free(m);
}

enum {
    ST_MESSAGES = 1,
    ST_RECENT = 2,
    ST_UIDNEXT = 4,
    ST_UIDVALIDITY = 8,
    ST_UNSEEN = 16,
    ST_HIGHESTMODSEQ = 32
};

static int parse_status_items(const struct imap_tok *t, unsigned *items)
{
    *items = 0;
    if (!t || t->type != IMAP_TOK_LIST || t->nkids == 0)
        return -1;
    for (size_t i = 0; i < t->nkids; i++) {
        const struct imap_tok *k = t->kids[i];
        if (k->type != IMAP_TOK_ATOM)
            return -1;
        if (!strcasecmp(k->s, "MESSAGES"))
            *items |= ST_MESSAGES;
        else if (!strcasecmp(k->s, "RECENT"))
            *items |= ST_RECENT;
        else if (!strcasecmp(k->s, "UIDNEXT"))
            *items |= ST_UIDNEXT;
        else if (!strcasecmp(k->s, "UIDVALIDITY"))
            *items |= ST_UIDVALIDITY;
        else if (!strcasecmp(k->s, "UNSEEN"))
            *items |= ST_UNSEEN;
        else if (!strcasecmp(k->s, "HIGHESTMODSEQ"))
            *items |= ST_HIGHESTMODSEQ;
        else
            return -1;
    }
    return 0;
}

/* STATUS RECENT: the selected mailbox's recent messages in this session, another's those no session was
 * told of yet. */
static size_t recent_count(struct imap_conn *c, const struct mbox *m)
{
    struct imap_server *s = c->srv;
    size_t n = 0;
    if (c->state == S_SELECTED && m->id == c->sel_folder) {
        for (size_t i = 0; i < c->nmsgs; i++)
            n += imap_is_recent(c, c->msgs[i].uid) != 0;
        return n;
    }
    size_t at;
    pthread_mutex_lock(&s->recent_mu);
    struct imap_recent_floor *e = recent_find(s, m->id, &at);
    uint32_t floor = e ? e->floor : 0;
    pthread_mutex_unlock(&s->recent_mu);
    if (m->uidnext && floor + 1 >= m->uidnext)
        return 0;
    if (!floor) /* all of them (a folder made since start): no scan of a big folder a client polls */
        return m->total;
    struct outpost_txn *t;
    struct outpost_cursor *cur;
    const void *row;
    if (s->st->read_begin(s->h, &t).code != OUTPOST_OK)
        return 0;
    int narrow = OUTPOST_HAS_METHOD(s->sm, struct outpost_storage_methods, items_uid_flags);
    if ((narrow ? s->sm->items_uid_flags(t, m->id, floor + 1, 0, &cur)
                : s->sm->items_by_uid(t, m->id, floor + 1, 0, &cur)).code == OUTPOST_OK) {
        while (s->sm->cursor_next(cur, &row).code == OUTPOST_OK && row)
            n++;
        s->sm->cursor_close(cur);
    }
    s->st->read_end(s->h, t);
    return n;
}

static void write_status(struct imap_conn *c, const struct mbox *mb, unsigned items)
{
    struct mbox view = *mb, *m = &view;
    if (c->state == S_SELECTED && m->id == c->sel_folder) {
        /* the selected mailbox, whose changes the caller reported first: the counts are the session's, so
         * that MESSAGES is the number the last EXISTS gave (RFC 9051 6.3.11 lets a client ask) */
        m->total = (uint32_t)c->nmsgs;
        m->unread = 0;
        for (size_t i = 0; i < c->nmsgs; i++)
            m->unread += !(c->msgs[i].flags & OUTPOST_FLAG_SEEN);
        m->hms = c->sel_modseq < c->exp_modseq ? c->sel_modseq : c->exp_modseq;
    }
    imap_puts(c, "* STATUS ");
    write_mbox_name(c, m->path);
    imap_puts(c, " (");
    const char *sp = "";
    if (items & ST_MESSAGES) {
        imap_printf(c, "%sMESSAGES %u", sp, m->total);
        sp = " ";
    }
    if (items & ST_RECENT) {
        imap_printf(c, "%sRECENT %zu", sp, recent_count(c, m));
        sp = " ";
    }
    if (items & ST_UIDNEXT) {
        imap_printf(c, "%sUIDNEXT %u", sp, m->uidnext ? m->uidnext : 1);
        sp = " ";
    }
    if (items & ST_UIDVALIDITY) {
        imap_printf(c, "%sUIDVALIDITY %u", sp, m->uidvalidity);
        sp = " ";
    }
    if (items & ST_UNSEEN) {
        imap_printf(c, "%sUNSEEN %u", sp, m->unread);
        sp = " ";
    }
    if (items & ST_HIGHESTMODSEQ)
        imap_printf(c, "%sHIGHESTMODSEQ %llu", sp, (unsigned long long)m->hms);
    imap_puts(c, ")\r\n");
}

static void cmd_status(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    (void)uid;
    const char *name = arg_str(args, 0);
    unsigned items;
    if (!name || args->nkids != 2 || parse_status_items(arg(args, 1), &items) != 0) {
        imap_tagged(c, tag, "BAD", "STATUS expects a mailbox and a list of MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN "
                              "HIGHESTMODSEQ");
        return;
    }
    struct mbox m;
    if (mbox_lookup_or_no(c, tag, name, &m) != 0)
        return;
    if (items & ST_HIGHESTMODSEQ)
        imap_condstore_on(c);
    if (c->state == S_SELECTED && m.id == c->sel_folder)
        imap_sync_selected(c, 1); /* its changes first: the counts are the session's (write_status) */
    if (c->state != S_LOGOUT)
        write_status(c, &m, items);
    free(m.path);
    imap_sync_selected(c, 1);
    if (c->state != S_LOGOUT)
        imap_tagged(c, tag, "OK", "STATUS completed");
}

/* LIST pattern match with '*' and '%' (RFC 3501 6.3.8). */
static int list_match(const char *pat, const char *name)
{
    while (*pat) {
        if (*pat == '*' || *pat == '%') {
            int star = *pat == '*';
            pat++;
            for (const char *n = name;; n++) {
                if (list_match(pat, n))
                    return 1;
                if (!*n || (!star && *n == '/'))
                    return 0;
            }
        }
        if (*pat != *name)
            return 0;
        pat++;
        name++;
    }
    return *name == '\0';
}

static int list_match_mbox(const char *pat, const char *name)
{
    /* INBOX is case-insensitive (only INBOX and its children: "INBOX_" is another name) */
    if (!strncasecmp(pat, "INBOX", 5) && (pat[5] == '\0' || pat[5] == '/' || pat[5] == '*' || pat[5] == '%') &&
        !strncmp(name, "INBOX", 5) && (name[5] == '\0' || name[5] == '/')) {
        return list_match(pat + 5, name + 5);
    }
    return list_match(pat, name);
}

/* Whether a mailbox name (mUTF-7) matches one of the patterns under the reference. */
static int list_patterns_match(const char *ref, const struct imap_tok *const *pats, size_t npats, const char *ename)
{
    for (size_t p = 0; p < npats; p++) {
        char full[1024];
        const char *pat = pats[p]->s;
        if (*ref && pat[0] != '/')
            snprintf(full, sizeof full, "%s%s", ref, pat);
        else
            snprintf(full, sizeof full, "%s", pat);
        /* compared as text: "*&AOQ-*" (*ä*) finds "Projekte &AOQA9gD8-" (Projekte äöü), whose encoding
         * does not hold "&AOQ-"; a pattern that is not valid modified UTF-7 is compared as sent */
        char *dp = imap_mutf7_decode(full), *dn = dp ? imap_mutf7_decode(ename) : NULL;
        int m = dp && dn ? list_match_mbox(dp, dn) : list_match_mbox(full, ename);
        free(dp);
        free(dn);
        if (m)
            return 1;
    }
    return 0;
}

enum { SEL_SUBSCRIBED = 1, SEL_RECURSIVEMATCH = 2, SEL_SPECIALUSE = 4, SEL_REMOTE = 8 };
enum { RET_SUBSCRIBED = 1, RET_CHILDREN = 2, RET_SPECIALUSE = 4, RET_STATUS = 8 };

static void do_list(struct imap_conn *c, const char *tag, const struct imap_tok *args, int lsub)
{
    size_t i = 0;
    unsigned sel = 0, ret = 0, status_items = 0;
    int extended = 0;
    const struct imap_tok *t = arg(args, 0);
    if (!lsub && t && t->type == IMAP_TOK_LIST) {
        extended = 1;
        for (size_t k = 0; k < t->nkids; k++) {
            const struct imap_tok *o = t->kids[k];
            if (imap_tok_atom_is(o, "SUBSCRIBED"))
                sel |= SEL_SUBSCRIBED;
            else if (imap_tok_atom_is(o, "RECURSIVEMATCH"))
                sel |= SEL_RECURSIVEMATCH;
            else if (imap_tok_atom_is(o, "SPECIAL-USE"))
                sel |= SEL_SPECIALUSE;
            else if (imap_tok_atom_is(o, "REMOTE"))
                sel |= SEL_REMOTE;
            else {
                imap_tagged(c, tag, "BAD", "unknown LIST selection option");
                return;
            }
        }
        if ((sel & SEL_RECURSIVEMATCH) && !(sel & (SEL_SUBSCRIBED | SEL_SPECIALUSE))) {
            imap_tagged(c, tag, "BAD", "RECURSIVEMATCH needs another selection option");
            return;
        }
        i = 1;
    }
    const char *ref = arg_str(args, i);
    const struct imap_tok *pt = arg(args, i + 1);
    if (!ref || !pt) {
        imap_tagged(c, tag, "BAD", "%s expects a reference and a mailbox pattern", lsub ? "LSUB" : "LIST");
        return;
    }
    const struct imap_tok *const *pats;
    size_t npats;
    if (pt->type == IMAP_TOK_LIST && !lsub) {
        extended = 1;
        pats = (const struct imap_tok *const *)pt->kids;
        npats = pt->nkids;
        for (size_t k = 0; k < npats; k++)
            if (!imap_tok_is_string(pats[k])) {
                imap_tagged(c, tag, "BAD", "invalid mailbox pattern");
                return;
            }
    } else if (imap_tok_is_string(pt)) {
        pats = (const struct imap_tok *const *)&args->kids[i + 1];
        npats = 1;
    } else {
        imap_tagged(c, tag, "BAD", "invalid mailbox pattern");
        return;
    }
    size_t next = i + 2;
    if (next < args->nkids) {
        if (lsub || !imap_tok_atom_is(arg(args, next), "RETURN") || !arg(args, next + 1) ||
            arg(args, next + 1)->type != IMAP_TOK_LIST || next + 2 != args->nkids) {
            imap_tagged(c, tag, "BAD", "unexpected arguments after the LIST pattern");
            return;
        }
        const struct imap_tok *r = arg(args, next + 1);
        for (size_t k = 0; k < r->nkids; k++) {
            const struct imap_tok *o = r->kids[k];
            if (imap_tok_atom_is(o, "SUBSCRIBED"))
                ret |= RET_SUBSCRIBED;
            else if (imap_tok_atom_is(o, "CHILDREN"))
                ret |= RET_CHILDREN;
            else if (imap_tok_atom_is(o, "SPECIAL-USE"))
                ret |= RET_SPECIALUSE;
            else if (imap_tok_atom_is(o, "STATUS") && k + 1 < r->nkids &&
                     parse_status_items(r->kids[k + 1], &status_items) == 0) {
                ret |= RET_STATUS;
                k++;
            } else {
                imap_tagged(c, tag, "BAD", "unknown LIST return option");
                return;
            }
        }
    }
    (void)extended;
    if (npats == 1 && pats[0]->len == 0 && !(sel & SEL_SUBSCRIBED)) {
        /* hierarchy delimiter request */
        imap_printf(c, "* %s (\\Noselect) \"/\" \"\"\r\n", lsub ? "LSUB" : "LIST");
        imap_tagged(c, tag, "OK", "%s completed", lsub ? "LSUB" : "LIST");
        return;
    }
    int lsub_pct = 0; /* a "%" pattern stops above subscribed mailboxes */
    for (size_t p = 0; p < npats; p++)
        lsub_pct |= strchr(pats[p]->s, '%') != NULL;
    struct mbox *m;
    size_t n;
    char err[300];
    if (ret & RET_STATUS)
        imap_sync_selected(c, 1); /* the selected mailbox's STATUS is the session's view (write_status) */
    if (c->state == S_LOGOUT || mboxes_load(c->srv, &m, &n, err, sizeof err) != 0) {
        if (c->state != S_LOGOUT)
            imap_tagged(c, tag, "NO", "[SERVERBUG] %s", err);
        return;
    }
    /* the subscription list, with the subscribed names that have no mailbox (any more) */
    if ((lsub || (sel & SEL_SUBSCRIBED) || (ret & RET_SUBSCRIBED)) && subs_view(c, &m, &n, err, sizeof err) != 0) {
        mboxes_free(m, n);
        imap_tagged(c, tag, "NO", "[SERVERBUG] %s", err);
        return;
    }
    /* the folders by path, and for RECURSIVEMATCH the names with a subscribed (or special-use) name below */
    size_t nix = 0;
    struct path_ix *ix = mbox_paths(m, n, &nix);
    unsigned char *desc = (sel & SEL_RECURSIVEMATCH) ? calloc(n ? n : 1, 1) : NULL;
    if (!ix || ((sel & SEL_RECURSIVEMATCH) && !desc)) {
        free(ix);
        free(desc);
        mboxes_free(m, n);
        imap_tagged(c, tag, "NO", "[SERVERBUG] out of memory");
        return;
    }
    for (size_t q = 0; desc && q < n; q++) {
        if (m[q].kind != OUTPOST_ITEM_MAIL || !(((sel & SEL_SUBSCRIBED) && (m[q].flags & OUTPOST_FOLDER_SUBSCRIBED)) ||
                                                ((sel & SEL_SPECIALUSE) && special_flag(m[q].special_use))))
            continue;
        for (const char *sl = strchr(m[q].path, '/'); sl; sl = strchr(sl + 1, '/')) {
            size_t ll = (size_t)(sl - m[q].path);
            for (size_t at = path_lower(ix, nix, m[q].path, ll); at < nix && !cmp_n(m[q].path, ll, ix[at].path); at++)
                desc[ix[at].i] = 1;
        }
    }
    for (size_t k = 0; k < n; k++) {
        struct mbox *b = &m[k];
        if (b->kind != OUTPOST_ITEM_MAIL)
            continue;
        /* a name with no mailbox: LSUB and LIST (SUBSCRIBED) only (RFC 5258 3: \NonExistent) */
        if (b->nonexistent && !lsub && !(sel & SEL_SUBSCRIBED))
            continue;
        char *ename = imap_mutf7_encode(b->path);
        if (!ename)
            continue;
        int match = list_patterns_match(ref, pats, npats, ename);
        int subscribed = (b->flags & OUTPOST_FOLDER_SUBSCRIBED) != 0;
        /* LSUB "%": an unsubscribed level above a subscribed mailbox the
         * pattern does not reach is listed \Noselect (RFC 3501 6.3.9) */
        int lsub_parent = 0;
        if (lsub && lsub_pct && match && !subscribed) {
            /* the names below b->path: one run of the table, from "b->path/" on */
            size_t pl = strlen(b->path);
            char *below = malloc(pl + 2);
            if (below) {
                memcpy(below, b->path, pl);
                memcpy(below + pl, "/", 2);
            }
            for (size_t at = below ? path_lower(ix, nix, below, pl + 1) : nix;
                 at < nix && !lsub_parent && !strncmp(ix[at].path, below, pl + 1); at++) {
                if (!(m[ix[at].i].flags & OUTPOST_FOLDER_SUBSCRIBED))
                    continue;
                char *qname = imap_mutf7_encode(ix[at].path);
                lsub_parent = qname && !list_patterns_match(ref, pats, npats, qname);
                free(qname);
            }
            free(below);
        }
        const char *su = special_flag(b->special_use);
        int child_subscribed = desc && desc[k];
        int selected = 1;
        if ((sel & SEL_SUBSCRIBED) && !subscribed)
            selected = 0;
        if ((sel & SEL_SPECIALUSE) && !su)
            selected = 0;
        if (lsub && !subscribed && !lsub_parent)
            selected = 0;
        if (!match || (!selected && !child_subscribed)) {
            free(ename);
            continue;
        }
        imap_printf(c, "* %s (", lsub ? "LSUB" : "LIST");
        const char *sp = "";
        if (b->nonexistent && !lsub) {
            imap_puts(c, "\\NonExistent"); /* implies \Noselect (RFC 5258 3) */
            sp = " ";
        } else if ((b->flags & OUTPOST_FOLDER_NOSELECT) || (lsub && !subscribed)) {
            imap_puts(c, "\\Noselect");
            sp = " ";
        }
        if (!lsub && !b->nonexistent) {
            imap_printf(c, "%s%s", sp, b->has_children ? "\\HasChildren" : "\\HasNoChildren");
            sp = " ";
        }
        if (subscribed && !lsub && ((ret & RET_SUBSCRIBED) || (sel & SEL_SUBSCRIBED))) {
            imap_printf(c, "%s\\Subscribed", sp);
            sp = " ";
        }
        if (su && !lsub) {
            imap_printf(c, "%s%s", sp, su);
            sp = " ";
        }
        imap_puts(c, ") \"/\" ");
        imap_astring(c, ename);
        if (child_subscribed && !selected)
            imap_puts(c, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
        imap_puts(c, "\r\n");
        if ((ret & RET_STATUS) && selected && !(b->flags & OUTPOST_FOLDER_NOSELECT))
            write_status(c, b, status_items);
        free(ename);
    }
    free(ix);
    free(desc);
    mboxes_free(m, n);
    imap_sync_selected(c, 1);
    imap_tagged(c, tag, "OK", "%s completed", lsub ? "LSUB" : "LIST");
}

static void cmd_list(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    (void)uid;
    do_list(c, tag, args, 0);
}

static void cmd_lsub(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    (void)uid;
    do_list(c, tag, args, 1);
}

static void write_fetch_change(struct imap_conn *c, long seq, const outpost_item *it)
{
    imap_announce_keywords(c, it->keywords);
    imap_printf(c, "* %ld FETCH (UID %u FLAGS ", seq, it->uid);
    imap_write_flags(c, it->flags, it->keywords, it->uid);
    imap_printf(c, " MODSEQ (%llu))\r\n", (unsigned long long)it->modseq);
}

/* A sequence set of SELECT's QRESYNC parameter: valid, and without "*" (RFC 7162 3.2.5). */
static int qresync_set_ok(const char *set)
{
    struct imap_seqset ss;
    if (strchr(set, '*') || imap_seqset_parse(set, &ss) != 0)
        return 0;
    imap_seqset_free(&ss);
    return 1;
}

static void do_select(struct imap_conn *c, const char *tag, const struct imap_tok *args, int readonly)
{
    struct imap_server *s = c->srv;
    const char *cmd = readonly ? "EXAMINE" : "SELECT";
    const char *name = arg_str(args, 0);
    if (!name) {
        imap_tagged(c, tag, "BAD", "%s expects a mailbox name", cmd);
        return;
    }
    /* select parameters: (CONDSTORE) or (QRESYNC (uidvalidity modseq [known-uids [seq-match]])) */
    int want_condstore = 0, want_qresync = 0;
    uint32_t q_uidvalidity = 0;
    uint64_t q_modseq = 0;
    const char *q_known = NULL;
    const struct imap_tok *params = arg(args, 1);
    if (params) {
        if (params->type != IMAP_TOK_LIST || args->nkids > 2) {
            imap_tagged(c, tag, "BAD", "%s: invalid parameters", cmd);
            return;
        }
        for (size_t k = 0; k < params->nkids; k++) {
            const struct imap_tok *p = params->kids[k];
            if (imap_tok_atom_is(p, "CONDSTORE")) {
                want_condstore = 1;
            } else if (imap_tok_atom_is(p, "QRESYNC") && k + 1 < params->nkids &&
                       params->kids[k + 1]->type == IMAP_TOK_LIST) {
                const struct imap_tok *q = params->kids[++k];
                if (!c->qresync) {
                    imap_tagged(c, tag, "BAD", "QRESYNC is not enabled (send ENABLE QRESYNC first)");
                    return;
                }
                uint64_t uv = 0;
                /* uidvalidity is an nz-number, the mod-sequence a positive 63-bit number (RFC 7162 7) */
                if (q->nkids < 2 || q->kids[0]->type != IMAP_TOK_ATOM || q->kids[1]->type != IMAP_TOK_ATOM ||
                    imap_number_parse(q->kids[0]->s, UINT32_MAX, &uv) != 0 || uv == 0 ||
                    imap_number_parse(q->kids[1]->s, IMAP_MODSEQ_MAX, &q_modseq) != 0 || q_modseq == 0) {
                    imap_tagged(c, tag, "BAD", "QRESYNC expects (uidvalidity modseq [known-uids])");
                    return;
                }
                q_uidvalidity = (uint32_t)uv;
                /* [SP known-uids] [SP seq-match-data], seq-match-data = "(" known-sequence-set SP
                 * known-uid-set ")", each a sequence set without "*" (RFC 7162 3.2.5 and 7); the
                 * seq-match-data is only checked (the known UIDs alone are enough here) */
                size_t qk = 2;
                if (qk < q->nkids && q->kids[qk]->type == IMAP_TOK_ATOM)
                    q_known = q->kids[qk++]->s;
                const struct imap_tok *sm = qk < q->nkids ? q->kids[qk++] : NULL;
                if (qk < q->nkids || (q_known && !qresync_set_ok(q_known)) ||
                    (sm && (sm->type != IMAP_TOK_LIST || sm->nkids != 2 || sm->kids[0]->type != IMAP_TOK_ATOM ||
                            sm->kids[1]->type != IMAP_TOK_ATOM || !qresync_set_ok(sm->kids[0]->s) ||
                            !qresync_set_ok(sm->kids[1]->s)))) {
                    imap_tagged(c, tag, "BAD", "QRESYNC: invalid known-uids or seq-match-data (sequence sets "
                                               "without \"*\")");
                    return;
                }
                want_qresync = 1;
            } else {
                imap_tagged(c, tag, "BAD", "%s: unknown parameter", cmd);
                return;
            }
        }
    }
    struct imap_seqset known = { 0 };
    if (q_known && imap_seqset_parse(q_known, &known) != 0) {
        imap_tagged(c, tag, "BAD", "QRESYNC: invalid known-uids");
        return;
    }
    if (c->state == S_SELECTED) {
        unselect(c);
        if (c->qresync)
            imap_puts(c, "* OK [CLOSED] Previous mailbox closed\r\n");
    }
    struct mbox mb;
    if (mbox_lookup_or_no(c, tag, name, &mb) != 0) {
        imap_seqset_free(&known);
        return;
    }
    free(mb.path);
    if (mb.flags & OUTPOST_FOLDER_NOSELECT) {
        imap_seqset_free(&known);
        imap_tagged(c, tag, "NO", "[CANNOT] %s is not selectable", name);
        return;
    }
    if (want_condstore)
        c->condstore = 1;
    /* load UIDs, flags and the counters in one read transaction */
    struct outpost_txn *t = NULL;
    const outpost_folder *f;
    outpost_status st = s->st->read_begin(s->h, &t);
    int began = st.code == OUTPOST_OK;
    if (began)
        st = s->sm->folder_get(t, mb.id, &f);
    if (st.code != OUTPOST_OK) {
        /* the message may be the storage instance's: copied before the transaction is handed back */
        char why[256];
        snprintf(why, sizeof why, "%s", imap_status_text(st));
        if (began)
            s->st->read_end(s->h, t);
        imap_seqset_free(&known);
        imap_tagged(c, tag, "NO", "[SERVERBUG] cannot read the mailbox: %s", why);
        return;
    }
    c->uidvalidity = f->uidvalidity;
    uint32_t uidnext = f->uidnext ? f->uidnext : 1;
    uint64_t hms = f->highest_modseq;
    c->special_use = mb.special_use;
    struct outpost_cursor *cur;
    const void *row;
    c->state = S_SELECTED;
    c->sel_folder = mb.id;
    int ok = load_msgs(c, t, mb.id, c->uidvalidity, hms) == 0;
    size_t first_unseen = 0;
    for (size_t i = 0; ok && i < c->nmsgs && !first_unseen; i++)
        if (!(c->msgs[i].flags & OUTPOST_FLAG_SEEN))
            first_unseen = i + 1;
    s->st->read_end(s->h, t);
    if (!ok) {
        unselect(c);
        imap_seqset_free(&known);
        imap_tagged(c, tag, "NO", "[SERVERBUG] cannot list the mailbox");
        return;
    }
    c->readonly = readonly;
    c->sel_modseq = c->exp_modseq = hms;
    imap_set_selected_folder(c, mb.id);
    if (s->st->folder_open_hint)
        s->st->folder_open_hint(s->h, mb.id, 1);
    write_flags_responses(c);
    imap_printf(c, "* %zu EXISTS\r\n* %zu RECENT\r\n", c->nmsgs,
                recent_update(c, c->nmsgs ? c->msgs[c->nmsgs - 1].uid : 0));
    if (first_unseen)
        imap_printf(c, "* OK [UNSEEN %zu] First unseen\r\n", first_unseen);
    imap_printf(c, "* OK [UIDVALIDITY %u] UIDs valid\r\n", c->uidvalidity);
    imap_printf(c, "* OK [UIDNEXT %u] Predicted next UID\r\n", uidnext);
    imap_printf(c, "* OK [HIGHESTMODSEQ %llu] Highest\r\n", (unsigned long long)hms);
    if (want_qresync && q_uidvalidity == c->uidvalidity && q_modseq < hms) {
        /* VANISHED (EARLIER) for expunges since q_modseq, then changed flags */
        uint32_t *v = NULL;
        size_t nv = 0, cv = 0;
        if (s->st->read_begin(s->h, &t).code == OUTPOST_OK) {
            if (s->sm->expunged_since(t, mb.id, q_modseq, &cur).code == OUTPOST_OK) {
                while (s->sm->cursor_next(cur, &row).code == OUTPOST_OK && row) {
                    uint32_t u = ((const outpost_tombstone *)row)->uid;
                    if (q_known && !imap_seqset_contains(&known, u, UINT32_MAX - 1))
                        continue;
                    if (nv == cv) {
                        cv = cv ? cv * 2 : 64;
                        uint32_t *nvp = realloc(v, cv * sizeof *nvp);
                        if (!nvp)
                            break;
                        v = nvp;
                    }
                    v[nv++] = u;
                }
                s->sm->cursor_close(cur);
            }
            s->st->read_end(s->h, t);
        }
        if (nv) {
            qsort(v, nv, sizeof *v, cmp_u32);
            imap_puts(c, "* VANISHED (EARLIER) ");
            imap_write_uidset(c, v, nv);
            imap_puts(c, "\r\n");
        }
        free(v);
        /* changed messages, in batches so no transaction spans a socket write */
        uint64_t from = q_modseq;
        for (;;) {
            if (s->st->read_begin(s->h, &t).code != OUTPOST_OK)
                break;
            size_t sent = 0;
            if (s->sm->items_changed_since(t, mb.id, from, &cur).code == OUTPOST_OK) {
                /* rows come by UID; collect a bounded batch */
                while (sent < 100000 && s->sm->cursor_next(cur, &row).code == OUTPOST_OK && row) {
                    const outpost_item *it = row;
                    long ix = imap_msg_index(c, it->uid);
                    if (ix >= 0 && it->modseq <= hms)
                        write_fetch_change(c, ix + 1, it);
                    sent++;
                }
                s->sm->cursor_close(cur);
            }
            s->st->read_end(s->h, t);
            break;
        }
    }
    imap_seqset_free(&known);
    imap_tagged(c, tag, "OK", "[%s] %s completed", readonly ? "READ-ONLY" : "READ-WRITE", cmd);
}

static void cmd_select(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    (void)uid;
    do_select(c, tag, args, 0);
}

static void cmd_examine(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    (void)uid;
    do_select(c, tag, args, 1);
}

static int64_t path_parent(struct mbox *m, size_t n, const char *path, const char **leaf, int *missing)
{
    const char *slash = strrchr(path, '/');
    *missing = 0;
    if (!slash) {
        *leaf = path;
        return 0;
    }
    *leaf = slash + 1;
    char *pp = strndup(path, (size_t)(slash - path));
    if (!pp)
        return -1;
    struct mbox *p = mbox_find(m, n, pp);
    free(pp);
    if (!p) {
        *missing = 1;
        return -1;
    }
    return p->id;
}

/* Creates the levels of `path` that do not exist yet, parents first (RFC 3501
 * 6.3.3 and 6.3.5); the last level too when leaf_too. *existed (optional) is set
 * when the whole path was there already (nothing is created then). */
static outpost_status make_path(struct imap_conn *c, char *path, int leaf_too, int *existed)
{
    struct imap_server *s = c->srv;
    char err[300];
    outpost_status st = outpost_ok();
    if (existed)
        *existed = 0;
    for (char *p = path;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char save = *p;
        if (!save && !leaf_too)
            break;
        *p = '\0';
        struct mbox *m;
        size_t n;
        if (mboxes_load(c->srv, &m, &n, err, sizeof err) != 0) {
            *p = save;
            st.code = OUTPOST_FATAL;
            st.message = "cannot list folders";
            break;
        }
        if (mbox_find(m, n, path)) {
            mboxes_free(m, n);
            *p = save;
            if (!save) {
                if (existed)
                    *existed = 1;
                break;
            }
            continue;
        }
        const char *leaf;
        int missing;
        int64_t parent = path_parent(m, n, path, &leaf, &missing);
        mboxes_free(m, n);
        int64_t id;
        if (missing || parent < 0) {
            st.code = OUTPOST_GONE;
            st.message = "parent missing";
        } else {
            /* A mailbox made here is not subscribed (RFC 3501 6.3.3 leaves that to SUBSCRIBE; clients
             * subscribe after CREATE), though the store gives a new folder the flag as it gives the
             * server's folders: it is taken off (kept locally, never sent to the server) before the
             * subscription list can see it (subs_mu), unless the name is in the list already (a
             * subscribed mailbox made again). */
            char *sname = leaf_to_server(leaf, parent == 0);
            pthread_mutex_lock(&s->subs_mu);
            if (sname)
                st = s->st->folder_create(s->h, parent, sname, OUTPOST_ITEM_MAIL, &id);
            else
                st = (outpost_status){ OUTPOST_FATAL, 0, "out of memory" };
            if (st.code == OUTPOST_OK) {
                outpost_status us = s->st->folder_subscribe(s->h, id, 0);
                if (us.code != OUTPOST_OK)
                    s->h->log(s->h, OUTPOST_LOG_WARNING, "IMAP CREATE: the new folder stays subscribed: %s",
                              imap_status_text(us));
            }
            pthread_mutex_unlock(&s->subs_mu);
            free(sname);
        }
        *p = save;
        if (st.code != OUTPOST_OK || !save)
            break;
    }
    return st;
}

static void cmd_create(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    (void)uid;
    const char *name = arg_str(args, 0);
    if (!name || args->nkids != 1) { /* no RFC 4466 create-params are supported: BAD for any */
        imap_tagged(c, tag, "BAD", "CREATE expects a mailbox name");
        return;
    }
    if (!*name) { /* "" is a valid astring: a failure, not a syntax error */
        imap_tagged(c, tag, "NO", "[CANNOT] empty mailbox name");
        return;
    }
    char *path = mbox_path_from_name(name);
    if (!path) {
        imap_tagged(c, tag, "NO", "[CANNOT] invalid mailbox name (modified UTF-7 expected)");
        return;
    }
    if (!strcmp(path, "INBOX")) {
        free(path);
        imap_tagged(c, tag, "NO", "[ALREADYEXISTS] INBOX always exists");
        return;
    }
    if (strstr(path, "//") || path[0] == '/') {
        free(path);
        imap_tagged(c, tag, "NO", "[CANNOT] empty hierarchy level in the name");
        return;
    }
    int existed = 0;
    outpost_status st = make_path(c, path, 1, &existed);
    if (existed) {
        free(path);
        imap_tagged(c, tag, "NO", "[ALREADYEXISTS] Mailbox exists");
        return;
    }
    free(path);
    if (st.code != OUTPOST_OK) {
        imap_tagged(c, tag, "NO", "[CANNOT] %s", imap_status_text(st));
        return;
    }
    imap_sync_selected(c, 1);
    imap_tagged(c, tag, "OK", "CREATE completed");
}

static void cmd_delete(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    (void)uid;
    struct imap_server *s = c->srv;
    const char *name = arg_str(args, 0);
    if (!name || args->nkids != 1) {
        imap_tagged(c, tag, "BAD", "DELETE expects a mailbox name");
        return;
    }
    struct mbox mb;
    if (mbox_lookup_or_no(c, tag, name, &mb) != 0)
        return;
    free(mb.path);
    if (mb.special_use == OUTPOST_USE_INBOX) {
        imap_tagged(c, tag, "NO", "[CANNOT] INBOX cannot be deleted");
        return;
    }
    if (mb.has_children) {
        imap_tagged(c, tag, "NO", "[HASCHILDREN] Mailbox has child mailboxes; delete them first");
        return;
    }
    /* a subscription the folder's flag holds is written into the list first: the name stays subscribed
     * after the mailbox is gone (RFC 3501 6.3.6) */
    char err[300];
    if ((mb.flags & OUTPOST_FOLDER_SUBSCRIBED) && subs_update(c->srv, SUBS_KEEP, NULL, NULL, NULL, err, sizeof err)) {
        imap_tagged(c, tag, "NO", "[SERVERBUG] %s", err);
        return;
    }
    outpost_status st = s->st->folder_delete(s->h, mb.id);
    if (st.code != OUTPOST_OK) {
        /* a mailbox that stays stays selected */
        imap_tagged(c, tag, "NO", "[CANNOT] %s", imap_status_text(st));
        return;
    }
    if (c->state == S_SELECTED && c->sel_folder == mb.id) {
        /* The session's own selected mailbox: it goes back to the authenticated state, as after a CLOSE
         * without the expunge, and says so with the CLOSED response code (RFC 9051 7.1, RFC 7162 3.2.11)
         * before the completion, so that the client can go on without a new connection (Dovecot 2.3 keeps
         * the mailbox selected and ends the session with BYE at the next command). Another session that
         * has it selected is disconnected (imap_sync_selected). */
        unselect(c);
        imap_puts(c, "* OK [CLOSED] The selected mailbox was deleted; no mailbox is selected\r\n");
    }
    imap_tagged(c, tag, "OK", "DELETE completed");
}

/* RENAME INBOX (RFC 3501 6.3.5): a new mailbox gets every message of INBOX,
 * which stays, empty (its child mailboxes are not touched). */
static void rename_inbox(struct imap_conn *c, const char *tag, const struct mbox *inbox, char *path)
{
    struct imap_server *s = c->srv;
    int existed = 0;
    outpost_status st = make_path(c, path, 1, &existed);
    if (existed) {
        imap_tagged(c, tag, "NO", "[ALREADYEXISTS] Target mailbox exists");
        return;
    }
    struct mbox *m = NULL, *tm = NULL;
    size_t nm = 0;
    char err[300];
    int64_t target = 0;
    if (st.code == OUTPOST_OK && mboxes_load(c->srv, &m, &nm, err, sizeof err) == 0 && (tm = mbox_find(m, nm, path)))
        target = tm->id;
    mboxes_free(m, nm);
    if (!target) {
        imap_tagged(c, tag, "NO", "[CANNOT] %s", st.code != OUTPOST_OK ? imap_status_text(st) : "the new mailbox is gone");
        return;
    }
    /* the ids first (one read transaction), then the moves in bounded batches */
    int64_t *ids = NULL;
    size_t n = 0, cap = 0;
    struct outpost_txn *t;
    struct outpost_cursor *cur = NULL;
    const void *row;
    st = s->st->read_begin(s->h, &t);
    if (st.code == OUTPOST_OK) {
        st = s->sm->items_by_uid(t, inbox->id, 1, UINT32_MAX, &cur);
        while (st.code == OUTPOST_OK && (st = s->sm->cursor_next(cur, &row)).code == OUTPOST_OK && row) {
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                int64_t *ni = realloc(ids, cap * sizeof *ni);
                if (!ni) {
                    st.code = OUTPOST_FATAL;
                    st.message = "out of memory";
                    break;
                }
                ids = ni;
            }
            ids[n++] = ((const outpost_item *)row)->id;
        }
        if (cur)
            s->sm->cursor_close(cur);
        s->st->read_end(s->h, t);
    }
    enum { BATCH = 500 };
    uint32_t *dst = calloc(BATCH, sizeof *dst);
    outpost_item_status *ist = calloc(BATCH, sizeof *ist);
    if (!dst || !ist) {
        st.code = OUTPOST_FATAL;
        st.message = "out of memory";
    }
    for (size_t k = 0; st.code == OUTPOST_OK && k < n; k += BATCH) {
        uint32_t bn = (uint32_t)(n - k < BATCH ? n - k : BATCH);
        st = s->st->move(s->h, ids + k, bn, target, dst, ist);
    }
    free(ids);
    free(dst);
    free(ist);
    imap_sync_selected(c, 1);
    if (st.code != OUTPOST_OK)
        imap_tagged(c, tag, "NO", "[CANNOT] moving the INBOX messages failed: %s", imap_status_text(st));
    else
        imap_tagged(c, tag, "OK", "RENAME completed (INBOX messages moved)");
}

static void cmd_rename(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    (void)uid;
    struct imap_server *s = c->srv;
    const char *from = arg_str(args, 0), *to = arg_str(args, 1);
    if (!from || !to || args->nkids != 2) {
        imap_tagged(c, tag, "BAD", "RENAME expects two mailbox names");
        return;
    }
    struct mbox mb;
    if (mbox_lookup_or_no(c, tag, from, &mb) != 0)
        return;
    char *path = mbox_path_from_name(to);
    if (mb.special_use == OUTPOST_USE_INBOX && path && *path && strcmp(path, "INBOX") != 0 && !strstr(path, "//") &&
        path[0] != '/') {
        free(mb.path);
        rename_inbox(c, tag, &mb, path);
        free(path);
        return;
    }
    if (path && !strcmp(path, "INBOX")) {
        free(mb.path);
        free(path);
        imap_tagged(c, tag, "NO", "[ALREADYEXISTS] INBOX always exists");
        return;
    }
    if (!path || !*path || strstr(path, "//") || path[0] == '/') {
        free(mb.path);
        free(path);
        imap_tagged(c, tag, "NO", "[CANNOT] invalid target name");
        return;
    }
    size_t fl = strlen(mb.path);
    int into_itself = !strncmp(path, mb.path, fl) && path[fl] == '/';
    char *from_path = mb.path; /* for the subscriptions */
    if (into_itself) {
        free(from_path);
        free(path);
        imap_tagged(c, tag, "NO", "[CANNOT] cannot move a mailbox into itself");
        return;
    }
    struct mbox *m;
    size_t n;
    char err[300];
    if (mboxes_load(c->srv, &m, &n, err, sizeof err) != 0) {
        free(from_path);
        free(path);
        imap_tagged(c, tag, "NO", "[SERVERBUG] %s", err);
        return;
    }
    int exists = mbox_find(m, n, path) != NULL;
    mboxes_free(m, n);
    if (exists) {
        free(from_path);
        free(path);
        imap_tagged(c, tag, "NO", "[ALREADYEXISTS] Target mailbox exists");
        return;
    }
    /* the superior levels of the new name are created as needed (RFC 3501 6.3.5) */
    outpost_status st = make_path(c, path, 0, NULL);
    if (st.code == OUTPOST_OK && mboxes_load(c->srv, &m, &n, err, sizeof err) != 0) {
        st.code = OUTPOST_FATAL;
        st.message = "cannot list folders";
    }
    if (st.code != OUTPOST_OK) {
        free(from_path);
        free(path);
        imap_tagged(c, tag, "NO", "[CANNOT] %s", imap_status_text(st));
        return;
    }
    const char *leaf;
    int missing;
    int64_t parent = path_parent(m, n, path, &leaf, &missing);
    mboxes_free(m, n);
    if (missing || parent < 0) {
        st.code = OUTPOST_GONE;
        st.message = "the parent of the new name does not exist (create it first)";
    } else if (parent == mb.id) {
        st.code = OUTPOST_BAD_DATA;
        st.message = "cannot move a mailbox into itself";
    } else {
        char *sname = leaf_to_server(leaf, parent == 0);
        if (sname)
            st = s->st->folder_rename(s->h, mb.id, parent, sname);
        else
            st = (outpost_status){ OUTPOST_FATAL, 0, "out of memory" };
        free(sname);
    }
    /* the subscriptions of the mailbox and of those below it move with it */
    int r = st.code == OUTPOST_OK ? subs_update(c->srv, SUBS_RENAME, from_path, path, NULL, err, sizeof err) : 0;
    free(from_path);
    free(path);
    if (st.code != OUTPOST_OK) {
        imap_tagged(c, tag, "NO", "[CANNOT] %s", imap_status_text(st));
        return;
    }
    if (r != 0)
        imap_tagged(c, tag, "OK", "RENAME completed, but the subscriptions stay under the old name: %s", err);
    else
        imap_tagged(c, tag, "OK", "RENAME completed");
}

static void do_subscribe(struct imap_conn *c, const char *tag, const struct imap_tok *args, int on)
{
    struct imap_server *s = c->srv;
    const char *name = arg_str(args, 0);
    if (!name || args->nkids != 1) {
        imap_tagged(c, tag, "BAD", "%s expects a mailbox name", on ? "SUBSCRIBE" : "UNSUBSCRIBE");
        return;
    }
    struct mbox mb;
    char err[300];
    int r = mbox_lookup(c, name, &mb, err, sizeof err);
    if (r > 0 && !on) {
        /* a name that is no mailbox (any more): out of the subscription list if it is there, and OK when it
         * was not (Dovecot does the same; RFC 3501 6.3.6 lets only SUBSCRIBE check that the mailbox exists) */
        char *path = mbox_path_from_name(name);
        r = path ? subs_update(c->srv, SUBS_DEL, path, NULL, NULL, err, sizeof err) : 0;
        free(path);
        if (r != 0)
            imap_tagged(c, tag, "NO", "[SERVERBUG] %s", err);
        else
            imap_tagged(c, tag, "OK", "UNSUBSCRIBE completed");
        return;
    }
    if (r != 0) {
        imap_tagged(c, tag, "NO", "%s%s", r > 0 ? "[NONEXISTENT] " : "[SERVERBUG] ", err);
        return;
    }
    /* the folder's flag (journaled), then the name in the list */
    outpost_status st = s->st->folder_subscribe(s->h, mb.id, on);
    if (st.code != OUTPOST_OK) {
        free(mb.path);
        imap_tagged(c, tag, "NO", "[CANNOT] %s", imap_status_text(st));
        return;
    }
    r = subs_update(c->srv, on ? SUBS_ADD : SUBS_DEL, mb.path, NULL, NULL, err, sizeof err);
    free(mb.path);
    if (r != 0)
        imap_tagged(c, tag, "NO", "[SERVERBUG] %s", err);
    else
        imap_tagged(c, tag, "OK", "%s completed", on ? "SUBSCRIBE" : "UNSUBSCRIBE");
}

static void cmd_subscribe(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    (void)uid;
    do_subscribe(c, tag, args, 1);
}

static void cmd_unsubscribe(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    (void)uid;
    do_subscribe(c, tag, args, 0);
}

/* APPEND content reader over a literal in memory or a spill file. */
struct lit_reader {
    const struct imap_tok *t;
    uint64_t pos;
};

static outpost_status lit_read(void *ctx, void *buf, size_t cap, size_t *got)
{
    struct lit_reader *r = ctx;
    size_t left = (size_t)(r->t->len - r->pos);
    size_t n = cap < left ? cap : left;
    if (r->t->file) {
        if (fseeko(r->t->file, (off_t)r->pos, SEEK_SET) != 0)
            n = 0;
        else
            n = fread(buf, 1, n, r->t->file);
    } else {
        memcpy(buf, r->t->s + r->pos, n);
    }
    r->pos += n;
    *got = n;
    return outpost_ok();
}

static outpost_status lit_rewind(void *ctx)
{
    ((struct lit_reader *)ctx)->pos = 0;
    return outpost_ok();
}

/* Whether a literal holds a NUL byte (a literal is *CHAR8, %x01-ff, RFC 3501 9; NUL needs BINARY's literal8,
 * which this server does not advertise). */
static int lit_has_nul(const struct imap_tok *t)
{
    if (!t->file)
        return memchr(t->s, '\0', t->len) != NULL;
    struct lit_reader lr = { t, 0 };
    char buf[16384];
    size_t got;
    while (lr.pos < t->len) {
        lit_read(&lr, buf, sizeof buf, &got);
        if (!got)
            return 1; /* the spill file cannot be read: not a message to store */
        if (memchr(buf, '\0', got))
            return 1;
    }
    return 0;
}

static void cmd_append(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    (void)uid;
    struct imap_server *s = c->srv;
    const char *name = arg_str(args, 0);
    size_t i = 1;
    uint32_t flags = 0;
    char *kw = NULL;
    int64_t date = 0;
    char err[300];
    if (!name || args->nkids < 2) {
        imap_tagged(c, tag, "BAD", "APPEND expects a mailbox, optional flags and date, and a literal");
        return;
    }
    const struct imap_tok *t = arg(args, i);
    if (t && t->type == IMAP_TOK_LIST) {
        if (imap_parse_flags(t, &flags, &kw, err, sizeof err) != 0) {
            imap_tagged(c, tag, "BAD", "APPEND: %s", err);
            return;
        }
        t = arg(args, ++i);
    }
    if (t && t->type == IMAP_TOK_STRING) {
        if (imap_datetime_parse(t->s, &date) != 0) {
            free(kw);
            imap_tagged(c, tag, "BAD", "APPEND: invalid date-time (expected \"dd-Mon-yyyy hh:mm:ss +zzzz\")");
            return;
        }
        t = arg(args, ++i);
    }
    if (!t || t->type != IMAP_TOK_LITERAL || i + 1 != args->nkids) {
        free(kw);
        imap_tagged(c, tag, "BAD", "APPEND expects the message as a literal");
        return;
    }
    if (t->len == 0) {
        free(kw);
        imap_tagged(c, tag, "NO", "APPEND: empty message");
        return;
    }
    if (lit_has_nul(t)) {
        free(kw);
        imap_tagged(c, tag, "BAD", "APPEND: the message holds a NUL byte (a literal has none; BINARY is not supported)");
        return;
    }
    struct mbox mb;
    int r = mbox_lookup(c, name, &mb, err, sizeof err);
    if (r != 0) {
        free(kw);
        imap_tagged(c, tag, "NO", "%s%s", r == 1 ? "[TRYCREATE] " : r > 1 ? "[CANNOT] " : "[SERVERBUG] ", err);
        return;
    }
    free(mb.path);
    struct lit_reader lr = { t, 0 };
    struct outpost_reader rd = { &lr, t->len, lit_read, lit_rewind };
    int64_t new_id = 0;
    uint32_t new_uid = 0;
    outpost_status st = s->st->append(s->h, mb.id, &rd, flags, kw, date, &new_id, &new_uid);
    free(kw);
    if (st.code != OUTPOST_OK) {
        imap_tagged(c, tag, "NO", "%sAPPEND failed: %s", st.code == OUTPOST_BAD_DATA ? "" : "[SERVERBUG] ",
               imap_status_text(st));
        return;
    }
    imap_sync_selected(c, 1);
    imap_tagged(c, tag, "OK", "[APPENDUID %u %u] APPEND completed", mb.uidvalidity, new_uid);
}

static void cmd_idle(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    (void)uid;
    struct imap_server *s = c->srv;
    if (args->nkids) {
        imap_tagged(c, tag, "BAD", "IDLE takes no arguments");
        return;
    }
    imap_drain_wake(c);
    imap_sync_selected(c, 1);
    imap_puts(c, "+ idling\r\n");
    if (imap_flush(c) != 0)
        return;
    int64_t deadline = s->h->monotonic_ms(s->h) + s->idle_timeout_s * 1000;
    for (;;) {
        int64_t left = deadline - s->h->monotonic_ms(s->h);
        if (left <= 0) {
            imap_puts(c, "* BYE IDLE timed out\r\n");
            c->state = S_LOGOUT;
            return;
        }
        char *line = NULL;
        size_t len;
        int r = imap_read_line(c, &line, &len, left, 1);
        if (r == -3) {
            imap_sync_selected(c, 1);
            if (imap_flush(c) != 0 || c->state == S_LOGOUT)
                return;
            continue;
        }
        if (r == -2)
            continue;
        if (r == -4) { /* an over-long line (discarded) is not DONE either */
            imap_tagged(c, tag, "BAD", "Expected DONE to end IDLE");
            return;
        }
        if (r != 1) {
            c->state = S_LOGOUT;
            return;
        }
        int done = len == 4 && !strncasecmp(line, "DONE", 4);
        free(line);
        if (done) {
            imap_sync_selected(c, 1);
            imap_tagged(c, tag, "OK", "IDLE terminated");
        } else {
            imap_tagged(c, tag, "BAD", "Expected DONE to end IDLE");
        }
        return;
    }
}

/* ---- selected ---- */

static void cmd_unselect(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    (void)args;
    (void)uid;
    unselect(c);
    imap_tagged(c, tag, "OK", "UNSELECT completed");
}

/* Removes messages flagged \Deleted (those in `only` when non-NULL). */
static outpost_status expunge_deleted(struct imap_conn *c, const size_t *only, size_t nonly)
{
    struct imap_server *s = c->srv;
    size_t total = only ? nonly : c->nmsgs;
    int64_t *ids = malloc((total ? total : 1) * sizeof *ids);
    unsigned char *mark = calloc(c->nmsgs ? c->nmsgs : 1, 1); /* 1 in the set, 2 \Deleted */
    size_t n = 0;
    outpost_status st = outpost_ok();
    if (!ids || !mark) {
        free(ids);
        free(mark);
        st.code = OUTPOST_FATAL;
        st.message = "out of memory";
        return st;
    }
    /* The session's flags are exact as of c->sel_modseq (imap_sync_selected
     * and its own FETCH/STORE keep them): only messages changed since are
     * read again, so a 100k-message CLOSE reads a few rows, not all. */
    for (size_t k = 0; k < total; k++) {
        size_t ix = only ? only[k] : k;
        mark[ix] = 1 | ((c->msgs[ix].flags & OUTPOST_FLAG_DELETED) ? 2 : 0);
    }
    struct outpost_txn *t;
    struct outpost_cursor *cur;
    const void *row;
    if ((st = s->st->read_begin(s->h, &t)).code != OUTPOST_OK)
        goto out;
    if ((st = s->sm->items_changed_since(t, c->sel_folder, c->sel_modseq, &cur)).code == OUTPOST_OK) {
        while (s->sm->cursor_next(cur, &row).code == OUTPOST_OK && row) {
            const outpost_item *it = row;
            long ix = imap_msg_index(c, it->uid);
            if (ix >= 0 && mark[ix])
                mark[ix] = 1 | ((it->flags & OUTPOST_FLAG_DELETED) ? 2 : 0);
        }
        s->sm->cursor_close(cur);
    }
    /* the candidates, checked one by one: still here and still \Deleted */
    for (size_t ix = 0; st.code == OUTPOST_OK && ix < c->nmsgs; ix++) {
        const outpost_item *it;
        if ((mark[ix] & 2) && s->sm->item_get(t, c->msgs[ix].id, &it).code == OUTPOST_OK &&
            it->folder_id == c->sel_folder && (it->flags & OUTPOST_FLAG_DELETED))
            ids[n++] = c->msgs[ix].id;
    }
    s->st->read_end(s->h, t);
    if (st.code == OUTPOST_OK && n)
        st = s->st->remove(s->h, ids, (uint32_t)n, c->special_use == OUTPOST_USE_TRASH, NULL);
out:
    free(ids);
    free(mark);
    return st;
}

static void cmd_close(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    (void)args;
    (void)uid;
    if (!c->readonly) {
        outpost_status st = expunge_deleted(c, NULL, 0);
        if (st.code != OUTPOST_OK)
            c->srv->h->log(c->srv->h, OUTPOST_LOG_WARNING, "CLOSE: expunge failed: %s", imap_status_text(st));
    }
    unselect(c);
    imap_tagged(c, tag, "OK", "CLOSE completed");
}

static void cmd_expunge(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    if (c->readonly) {
        imap_tagged(c, tag, "NO", "[READ-ONLY] Mailbox is read-only");
        return;
    }
    size_t *idx = NULL, n = 0;
    if (uid) {
        const char *set = arg_str(args, 0);
        if (!set || args->nkids != 1 || imap_resolve_set(c, set, 1, &idx, &n) != 0) {
            imap_tagged(c, tag, "BAD", "UID EXPUNGE expects a UID set");
            return;
        }
    } else if (args->nkids) {
        imap_tagged(c, tag, "BAD", "EXPUNGE takes no arguments");
        return;
    }
    outpost_status st = expunge_deleted(c, uid ? idx : NULL, n);
    free(idx);
    imap_sync_selected(c, 1);
    if (st.code != OUTPOST_OK)
        imap_tagged(c, tag, "NO", "EXPUNGE failed: %s", imap_status_text(st));
    else
        imap_tagged(c, tag, "OK", "EXPUNGE completed");
}

static void do_copy_move(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid, int move)
{
    struct imap_server *s = c->srv;
    const char *cmd = move ? "MOVE" : "COPY";
    const char *set = arg_str(args, 0), *name = arg_str(args, 1);
    if (!set || !name || args->nkids != 2) {
        imap_tagged(c, tag, "BAD", "%s expects a sequence set and a mailbox", cmd);
        return;
    }
    if (move && c->readonly) {
        imap_tagged(c, tag, "NO", "[READ-ONLY] Mailbox is read-only");
        return;
    }
    size_t *idx, n;
    int r = imap_resolve_set(c, set, uid, &idx, &n);
    if (r != 0) {
        imap_tagged(c, tag, "BAD", "%s: invalid %s", cmd, r == -2 ? "message sequence number" : "sequence set");
        return;
    }
    struct mbox mb;
    char err[300];
    r = mbox_lookup(c, name, &mb, err, sizeof err);
    if (r != 0) {
        free(idx);
        imap_tagged(c, tag, "NO", "%s%s", r == 1 ? "[TRYCREATE] " : r > 1 ? "[CANNOT] " : "[SERVERBUG] ", err);
        return;
    }
    free(mb.path);
    if (n == 0) {
        free(idx);
        imap_tagged(c, tag, "OK", "%s completed (nothing matched)", cmd);
        return;
    }
    int64_t *ids = malloc(n * sizeof *ids);
    uint32_t *src = malloc(n * sizeof *src), *dst = calloc(n, sizeof *dst);
    outpost_item_status *ist = calloc(n, sizeof *ist);
    outpost_status st = { OUTPOST_FATAL, 0, "out of memory" };
    if (ids && src && dst && ist) {
        for (size_t k = 0; k < n; k++) {
            ids[k] = c->msgs[idx[k]].id;
            src[k] = c->msgs[idx[k]].uid;
        }
        if (move) {
            /* also into the selected mailbox itself: new UIDs there, the old ones expunged (Dovecot
             * allows it too; the storage's item_move takes the item's own folder) */
            st = s->st->move(s->h, ids, (uint32_t)n, mb.id, dst, ist);
        } else {
            st = s->st->copy(s->h, ids, (uint32_t)n, mb.id, NULL, dst, ist);
        }
    }
    if (st.code == OUTPOST_OK) {
        /* COPYUID lists only what was copied (a failed item has no new UID) */
        size_t k2 = 0;
        for (size_t k = 0; k < n; k++)
            if (dst[k]) {
                src[k2] = src[k];
                dst[k2] = dst[k];
                k2++;
            }
        if (k2) {
            if (move) {
                imap_printf(c, "* OK [COPYUID %u ", mb.uidvalidity);
                imap_write_uidset(c, src, k2);
                imap_puts(c, " ");
                imap_write_uidset(c, dst, k2);
                imap_puts(c, "] Moved\r\n");
                imap_sync_selected(c, 1);
                imap_tagged(c, tag, "OK", "MOVE completed");
            } else {
                imap_sync_selected(c, uid);
                imap_printf(c, "%s OK [COPYUID %u ", tag, mb.uidvalidity);
                imap_write_uidset(c, src, k2);
                imap_puts(c, " ");
                imap_write_uidset(c, dst, k2);
                imap_puts(c, "] COPY completed\r\n");
            }
        } else {
            imap_sync_selected(c, move || uid);
            imap_tagged(c, tag, "OK", "%s completed", cmd);
        }
    } else {
        imap_tagged(c, tag, "NO", "%s failed: %s", cmd, imap_status_text(st));
    }
    free(idx);
    free(ids);
    free(src);
    free(dst);
    free(ist);
}

static void cmd_copy(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    do_copy_move(c, tag, args, uid, 0);
}

static void cmd_move(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    do_copy_move(c, tag, args, uid, 1);
}

/* ---- dispatch ---- */

struct command {
    const char *name;
    int min_state;      /* S_NOTAUTH: any; S_AUTH; S_SELECTED */
    int only_notauth;
    int uid;
    cmd_fn fn;
};

static void fetch_fn(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    imap_cmd_fetch(c, tag, uid, args);
}
static void store_fn(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    imap_cmd_store(c, tag, uid, args);
}
static void search_fn(struct imap_conn *c, const char *tag, const struct imap_tok *args, int uid)
{
    imap_cmd_search(c, tag, uid, args);
}

static const struct command commands[] = {
    { "CAPABILITY", S_NOTAUTH, 0, 0, cmd_capability },
    { "NOOP", S_NOTAUTH, 0, 0, cmd_noop },
    { "LOGOUT", S_NOTAUTH, 0, 0, cmd_logout },
    { "ID", S_NOTAUTH, 0, 0, cmd_id },
    { "STARTTLS", S_NOTAUTH, 1, 0, cmd_starttls },
    { "LOGIN", S_NOTAUTH, 1, 0, cmd_login },
    { "AUTHENTICATE", S_NOTAUTH, 1, 0, cmd_authenticate },
    { "ENABLE", S_AUTH, 0, 0, cmd_enable },
    { "NAMESPACE", S_AUTH, 0, 0, cmd_namespace },
    { "SELECT", S_AUTH, 0, 0, cmd_select },
    { "EXAMINE", S_AUTH, 0, 0, cmd_examine },
    { "CREATE", S_AUTH, 0, 0, cmd_create },
    { "DELETE", S_AUTH, 0, 0, cmd_delete },
    { "RENAME", S_AUTH, 0, 0, cmd_rename },
    { "SUBSCRIBE", S_AUTH, 0, 0, cmd_subscribe },
    { "UNSUBSCRIBE", S_AUTH, 0, 0, cmd_unsubscribe },
    { "LIST", S_AUTH, 0, 0, cmd_list },
    { "LSUB", S_AUTH, 0, 0, cmd_lsub },
    { "STATUS", S_AUTH, 0, 0, cmd_status },
    { "APPEND", S_AUTH, 0, 0, cmd_append },
    { "IDLE", S_AUTH, 0, 0, cmd_idle },
    { "CHECK", S_SELECTED, 0, 0, cmd_check },
    { "CLOSE", S_SELECTED, 0, 0, cmd_close },
    { "UNSELECT", S_SELECTED, 0, 0, cmd_unselect },
    { "EXPUNGE", S_SELECTED, 0, 0, cmd_expunge },
    { "UID EXPUNGE", S_SELECTED, 0, 1, cmd_expunge },
    { "SEARCH", S_SELECTED, 0, 0, search_fn },
    { "UID SEARCH", S_SELECTED, 0, 1, search_fn },
    { "FETCH", S_SELECTED, 0, 0, fetch_fn },
    { "UID FETCH", S_SELECTED, 0, 1, fetch_fn },
    { "STORE", S_SELECTED, 0, 0, store_fn },
    { "UID STORE", S_SELECTED, 0, 1, store_fn },
    { "COPY", S_SELECTED, 0, 0, cmd_copy },
    { "UID COPY", S_SELECTED, 0, 1, cmd_copy },
    { "MOVE", S_SELECTED, 0, 0, cmd_move },
    { "UID MOVE", S_SELECTED, 0, 1, cmd_move },
};

/* Commands whose grammar has no arguments at all (RFC 3501 9 command-any, "CHECK", "CLOSE", "EXPUNGE",
 * "STARTTLS"; RFC 2177 idle, RFC 2342 namespace, RFC 3691 UNSELECT): anything after the name is a syntax
 * error, answered BAD before the command runs (a LOGOUT with junk does not log out). */
static int takes_no_args(const char *name)
{
    static const char *const names[] = { "CAPABILITY", "NOOP",  "LOGOUT",   "STARTTLS", "NAMESPACE",
                                         "IDLE",       "CHECK", "CLOSE",    "UNSELECT", "EXPUNGE" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(names[i], name))
            return 1;
    return 0;
}

static void dispatch(struct imap_conn *c, const char *tag, const char *name, const struct imap_tok *args)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const struct command *cmd = &commands[i];
        if (strcmp(cmd->name, name) != 0)
            continue;
        if (cmd->only_notauth && c->state != S_NOTAUTH) {
            imap_tagged(c, tag, "BAD", "%s is only valid before login", name);
            return;
        }
        if (cmd->min_state == S_AUTH && c->state == S_NOTAUTH) {
            imap_tagged(c, tag, "BAD", "%s needs a login first", name);
            return;
        }
        if (cmd->min_state == S_SELECTED && c->state != S_SELECTED) {
            imap_tagged(c, tag, "BAD", "%s needs a selected mailbox", name);
            return;
        }
        if (args->nkids && takes_no_args(name)) {
            imap_tagged(c, tag, "BAD", "%s takes no arguments", name);
            return;
        }
        cmd->fn(c, tag, args, cmd->uid);
        return;
    }
    imap_tagged(c, tag, "BAD", "Unknown command %.40s", name);
}

/* Reads the literal announced by the parser into memory or a spill file. */
static int read_literal(struct imap_conn *c, uint64_t size)
{
    int64_t to = (c->state == S_NOTAUTH ? c->srv->login_timeout_s : c->srv->timeout_s) * 1000;
    if (size <= IMAP_SPILL_THRESHOLD) {
        char *mem = malloc((size_t)size + 1);
        if (!mem)
            return -1;
        if (imap_read_exact(c, mem, (size_t)size, to) != 0) {
            free(mem);
            return -1;
        }
        imap_parser_literal(c->parser, mem, NULL, (size_t)size);
        return 0;
    }
    FILE *f = tmpfile();
    if (!f)
        return -1;
    char *buf = malloc(IMAP_CHUNK);
    if (!buf) {
        fclose(f);
        return -1;
    }
    uint64_t left = size;
    while (left) {
        size_t k = left < IMAP_CHUNK ? (size_t)left : IMAP_CHUNK;
        if (imap_read_exact(c, buf, k, to) != 0 || fwrite(buf, 1, k, f) != k) {
            free(buf);
            fclose(f);
            return -1;
        }
        left -= k;
    }
    free(buf);
    imap_parser_literal(c->parser, NULL, f, (size_t)size);
    return 0;
}

/* Reads and drops `size` bytes of a literal the client sends although it is over max_literal ({n+}). */
static int drop_literal(struct imap_conn *c, uint64_t size)
{
    int64_t to = c->srv->timeout_s * 1000;
    char *buf = malloc(IMAP_CHUNK);
    if (!buf)
        return -1;
    for (uint64_t left = size; left;) {
        size_t k = left < IMAP_CHUNK ? (size_t)left : IMAP_CHUNK;
        if (imap_read_exact(c, buf, k, to) != 0) {
            free(buf);
            return -1;
        }
        left -= k;
    }
    free(buf);
    imap_parser_literal(c->parser, NULL, NULL, 0);
    return 0;
}

void imap_session_free(struct imap_conn *c)
{
    free(c->kw_known);
    c->kw_known = NULL;
    free(c->recent);
    c->recent = NULL;
    c->nrecent = c->caprecent = 0;
    free(c->msgs);
    c->msgs = NULL;
    c->nmsgs = c->capmsgs = 0;
}

void imap_session_run(struct imap_conn *c)
{
    struct imap_server *s = c->srv;
    imap_cfg_rdlock(s); /* released only while waiting for the client */
    if (c->tls_active == -1) {
        c->tls_active = 0;
        if (imap_start_tls(c) != 0) {
            imap_cfg_unlock(s);
            return;
        }
    }
    c->state = S_NOTAUTH;
    imap_puts(c, "* OK [CAPABILITY ");
    write_caps(c);
    imap_puts(c, "] Outpost IMAP ready\r\n");
    while (c->state != S_LOGOUT && imap_flush(c) == 0 && !atomic_load(&s->stopping)) {
        int64_t to = (c->state == S_NOTAUTH ? s->login_timeout_s : s->timeout_s) * 1000;
        char *line = NULL;
        size_t len = 0;
        int r = imap_read_line(c, &line, &len, to, 0);
        if (r == -2) {
            imap_puts(c, "* BYE Autologout; idle for too long\r\n");
            imap_flush(c);
            break;
        }
        if (r == -4) {
            imap_parser_reset(c->parser);
            /* tagged, so a client waiting for its command's completion goes on */
            imap_printf(c, "%s BAD Command line too long (limit %d bytes)\r\n", c->long_tag[0] ? c->long_tag : "*",
                        IMAP_LINE_MAX);
            continue;
        }
        if (r != 1)
            break;
        uint64_t lit = 0, dropped = 0;
        int nonsync = 0, long_after_literal = 0, preauth_big = 0;
        char toobig[160] = "";
        int pr = imap_parser_line(c->parser, line, len, &lit, &nonsync);
        free(line);
        while (pr == IMAP_PARSE_LITERAL) {
            if (c->state == S_NOTAUTH && lit > IMAP_PREAUTH_LITERAL_MAX) {
                /* before login a literal is a user name, a password or an ID value: a client that is
                 * not logged in cannot make the server take in up to max_literal bytes */
                const char *ptag = imap_parser_tag(c->parser);
                /* {n+}: the client is already sending it, we cannot resync */
                imap_tagged(c, ptag, nonsync ? "BAD" : "NO", "[TOOBIG] literal larger than %d bytes before login",
                            IMAP_PREAUTH_LITERAL_MAX);
                if (nonsync) {
                    imap_puts(c, "* BYE Literal too large\r\n");
                    c->state = S_LOGOUT;
                }
                pr = IMAP_PARSE_DONE;
                preauth_big = 1;
                break;
            }
            if (imap_parser_too_big(c->parser) && nonsync && !toobig[0]) {
                /* a {n+} literal over max_literal after login (an mbsync APPEND of a huge message): read and
                 * dropped so the session goes on, the command answered NO [TOOBIG] (RFC 7888 4); past
                 * IMAP_TOOBIG_DROP_FACTOR times the limit in one command the connection ends as before */
                snprintf(toobig, sizeof toobig, "%s", imap_parser_error(c->parser));
            }
            if (toobig[0] && !nonsync) {
                /* a synchronising literal after the dropped one: the client waits for "+", so the tagged
                 * NO ends the command here */
                pr = IMAP_PARSE_DONE;
                break;
            }
            if (toobig[0]) {
                uint64_t bound = s->max_literal > UINT64_MAX / IMAP_TOOBIG_DROP_FACTOR
                                     ? UINT64_MAX
                                     : s->max_literal * IMAP_TOOBIG_DROP_FACTOR;
                if (lit > bound - dropped) {
                    imap_tagged(c, imap_parser_tag(c->parser), "BAD", "[TOOBIG] %s", toobig);
                    imap_puts(c, "* BYE Literal too large\r\n");
                    c->state = S_LOGOUT;
                    break;
                }
                dropped += lit;
                if (drop_literal(c, lit) != 0) {
                    pr = IMAP_PARSE_ERROR;
                    c->state = S_LOGOUT;
                    break;
                }
            } else {
                if (!nonsync) {
                    imap_puts(c, "+ Ready for literal data\r\n");
                    if (imap_flush(c) != 0)
                        break;
                }
                if (read_literal(c, lit) != 0) {
                    pr = IMAP_PARSE_ERROR;
                    c->state = S_LOGOUT;
                    break;
                }
            }
            r = imap_read_line(c, &line, &len, to, 0);
            if (r == -4) {
                /* the rest of an over-long line after a literal was discarded:
                 * the command fails, the session goes on */
                pr = IMAP_PARSE_ERROR;
                long_after_literal = 1;
                break;
            }
            if (r != 1) {
                pr = IMAP_PARSE_ERROR;
                c->state = S_LOGOUT;
                break;
            }
            pr = imap_parser_line(c->parser, line, len, &lit, &nonsync);
            free(line);
        }
        if (c->state == S_LOGOUT)
            break;
        if (preauth_big) {
            imap_parser_reset(c->parser);
            continue;
        }
        const char *tag = imap_parser_tag(c->parser);
        if (toobig[0]) {
            /* the command whose literal was dropped does not run, whatever followed the literal */
            imap_tagged(c, tag, "NO", "[TOOBIG] %s ([imap] max_literal)", toobig);
            imap_parser_reset(c->parser);
            continue;
        }
        if (pr == IMAP_PARSE_ERROR) {
            if (long_after_literal) {
                imap_printf(c, "%s BAD Command line too long (limit %d bytes)\r\n", tag, IMAP_LINE_MAX);
            } else if (imap_parser_too_big(c->parser)) {
                /* a synchronising literal: the client sends nothing more of the command */
                imap_tagged(c, tag, "NO", "[TOOBIG] %s ([imap] max_literal)", imap_parser_error(c->parser));
            } else {
                imap_tagged(c, tag, "BAD", "%s", imap_parser_error(c->parser));
            }
            imap_parser_reset(c->parser);
            continue;
        }
        if (pr == IMAP_PARSE_DONE) {
            char tagbuf[130];
            snprintf(tagbuf, sizeof tagbuf, "%s", tag);
            dispatch(c, tagbuf, imap_parser_name(c->parser), imap_parser_args(c->parser));
            imap_parser_reset(c->parser);
        }
    }
    imap_flush(c);
    /* The server is stopping (RFC 9051 7.1.5: a BYE before it closes the
     * connection on its own): said between two commands, in IDLE, or in the
     * middle of a command line or literal the client was sending, unless the
     * session had ended with a BYE of its own. The write is bounded: a client
     * that does not read must not hold up the shutdown. */
    if (atomic_load(&s->stopping) && (c->halted || c->state != S_LOGOUT)) {
        imap_puts(c, "* BYE [UNAVAILABLE] Outpost IMAP is shutting down\r\n");
        imap_flush_bounded(c, IMAP_BYE_TIMEOUT_MS);
    }
    unselect(c);
    imap_cfg_unlock(s);
}
