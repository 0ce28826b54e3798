/* imap_fetch.c — FETCH and STORE on the selected mailbox.
 *
 * Metadata (flags, dates, ENVELOPE, BODYSTRUCTURE) is copied from the item
 * summaries in one short read transaction per batch of messages; body
 * sections are located by a streaming scan and sent in chunks, each chunk
 * read in its own short transaction, so neither a transaction nor a whole
 * large message is held while writing to the client.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_internal.h"
#include "imap_mime.h"

#define HEADER_FILTER_MAX (1024 * 1024)

struct fitem {
    size_t ix;
    int64_t id;
    uint32_t uid, flags, cstate;
    uint64_t modseq, size, cached;
    int64_t idate;
    char *keywords, *envelope, *bodystructure;
    int gone;
};

static void fitem_clear(struct fitem *f)
{
    free(f->keywords);
    free(f->envelope);
    free(f->bodystructure);
    f->keywords = f->envelope = f->bodystructure = NULL;
}

static char *dup0(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

static void fitem_fill(struct fitem *f, const outpost_item *it, int want_text)
{
    f->gone = 0;
    f->flags = it->flags;
    f->cstate = it->content_state;
    f->cached = it->cached_size;
    f->modseq = it->modseq;
    f->size = it->size;
    f->idate = it->internal_date;
    f->keywords = dup0(it->keywords);
    if (want_text) {
        f->envelope = dup0(it->envelope);
        f->bodystructure = dup0(it->bodystructure);
    }
}

/* Loads items idx[0..n) (ascending UIDs) into out[]; 0 or -1. A dense run of
 * UIDs — the usual 1:* or a client's window — is read with one range listing
 * merged by UID: a scan of the covering UID/flags index when only UID, FLAGS
 * and MODSEQ are wanted (flags_only), else of the items. A sparse set is read
 * item by item. */
static int load_batch(struct imap_conn *c, const size_t *idx, size_t n, struct fitem *out, int want_text,
                      int flags_only)
{
    struct imap_server *s = c->srv;
    struct outpost_txn *t;
    if (!n)
        return 0;
    if (s->st->read_begin(s->h, &t).code != OUTPOST_OK)
        return -1;
    for (size_t k = 0; k < n; k++) {
        struct fitem *f = &out[k];
        memset(f, 0, sizeof *f);
        f->ix = idx[k];
        f->id = c->msgs[idx[k]].id;
        f->uid = c->msgs[idx[k]].uid;
        f->gone = 1;
    }
    uint32_t lo = out[0].uid, hi = out[n - 1].uid;
    int dense = (uint64_t)(hi - lo) < 2 * (uint64_t)n + 64;
    struct outpost_cursor *cur;
    const void *row;
    if (dense && flags_only && OUTPOST_HAS_METHOD(s->sm, struct outpost_storage_methods, items_uid_flags) &&
        s->sm->items_uid_flags(t, c->sel_folder, lo, hi, &cur).code == OUTPOST_OK) {
        size_t k = 0;
        while (k < n && s->sm->cursor_next(cur, &row).code == OUTPOST_OK && row) {
            const outpost_uid_flags *r = row;
            while (k < n && out[k].uid < r->uid)
                k++;
            if (k < n && out[k].uid == r->uid && out[k].id == r->id) {
                struct fitem *f = &out[k++];
                f->gone = 0;
                f->flags = r->flags;
                f->modseq = r->modseq;
                f->keywords = dup0(r->keywords);
            }
        }
        s->sm->cursor_close(cur);
    } else if (dense && s->sm->items_by_uid(t, c->sel_folder, lo, hi, &cur).code == OUTPOST_OK) {
        size_t k = 0;
        while (k < n && s->sm->cursor_next(cur, &row).code == OUTPOST_OK && row) {
            const outpost_item *it = row;
            while (k < n && out[k].uid < it->uid)
                k++;
            if (k < n && out[k].uid == it->uid && out[k].id == it->id)
                fitem_fill(&out[k++], it, want_text);
        }
        s->sm->cursor_close(cur);
    } else {
        for (size_t k = 0; k < n; k++) {
            const outpost_item *it;
            if (s->sm->item_get(t, out[k].id, &it).code == OUTPOST_OK && it->folder_id == c->sel_folder)
                fitem_fill(&out[k], it, want_text);
        }
    }
    s->st->read_end(s->h, t);
    return 0;
}

/* Whether f's item is still in the selected folder under f's UID. A mail whose
 * fetched content did not match the summary the client was shown moves to a new
 * UID (core/engine.c); its old UID must not answer with the new bytes. */
static int still_listed(struct imap_conn *c, const struct fitem *f)
{
    struct imap_server *s = c->srv;
    struct outpost_txn *t;
    const outpost_item *it;
    if (s->st->read_begin(s->h, &t).code != OUTPOST_OK)
        return 1; /* the content read that follows reports it */
    int here = s->sm->item_get(t, f->id, &it).code == OUTPOST_OK && it->uid == f->uid &&
               it->folder_id == c->sel_folder;
    s->st->read_end(s->h, t);
    return here;
}

int imap_content_range_read(void *ctx, uint64_t off, void *buf, size_t len, size_t *got)
{
    struct imap_content_ctx *cc = ctx;
    struct outpost_txn *t;
    *got = 0;
    if (cc->s->st->read_begin(cc->s->h, &t).code != OUTPOST_OK)
        return -1;
    outpost_status st = cc->s->sm->content_read(t, cc->id, off, buf, len, got);
    if (st.code != OUTPOST_OK && cc->s->h->log)
        /* the client only sees the connection end (a literal already announced cannot be
         * answered otherwise) or a failed SEARCH: the log says why. Before read_end: the
         * message is the storage instance's, and once the transaction is handed back the
         * instance may serve another thread (a data race ThreadSanitizer found) */
        cc->s->h->log(cc->s->h, OUTPOST_LOG_WARNING, "reading the content of item %lld: %s", (long long)cc->id,
                      st.message ? st.message : outpost_status_class_name(st.code));
    cc->s->st->read_end(cc->s->h, t);
    return st.code == OUTPOST_OK ? 0 : -1;
}

static int needs_content(const struct imap_fetch_att *a)
{
    return a->kind == IMAP_FA_SECTION || a->kind == IMAP_FA_RFC822 || a->kind == IMAP_FA_RFC822_HEADER ||
           a->kind == IMAP_FA_RFC822_TEXT;
}

/* Whether an attribute reads the message's own header block only (RFC822.HEADER,
 * BODY[HEADER], BODY[HEADER.FIELDS (...)], BODY[HEADER.FIELDS.NOT (...)]): the part a
 * summary-only mail keeps in the cache (core/engine.c, headers policy). */
static int header_only(const struct imap_fetch_att *a)
{
    return !needs_content(a) || a->kind == IMAP_FA_RFC822_HEADER ||
           (a->kind == IMAP_FA_SECTION && a->npart == 0 &&
            (a->spec == IMAP_SEC_HEADER || a->spec == IMAP_SEC_HEADER_FIELDS || a->spec == IMAP_SEC_HEADER_FIELDS_NOT));
}

/* Whether item f must be fetched for this request: content is wanted and not cached,
 * unless only the header block is wanted and the cache holds it. */
static int must_fetch(const struct fitem *f, int want_content, int headers_only)
{
    return want_content && f->cstate != OUTPOST_CONTENT_COMPLETE && !(headers_only && f->cached > 0);
}

/* Asks for the bodies of a batch's items that are not cached, all at once (one
 * server call per 50 instead of one each: a client fetching BODY[] of a whole
 * headers-policy folder). Failures are left to the item-by-item request_content,
 * which then reports them. */
static void prefetch(struct imap_conn *c, const struct fitem *batch, size_t n, const struct imap_fetch_req *req,
                     int headers_only)
{
    struct imap_server *s = c->srv;
    if (!OUTPOST_HAS_METHOD(s->st, struct outpost_store_api, request_contents))
        return;
    int64_t *ids = malloc((n ? n : 1) * sizeof *ids);
    uint32_t k = 0;
    for (size_t b = 0; ids && b < n; b++)
        if (!batch[b].gone && must_fetch(&batch[b], 1, headers_only) &&
            !(req->has_changedsince && batch[b].modseq <= req->changedsince))
            ids[k++] = batch[b].id;
    if (k > 1) {
        imap_flush(c);
        (void)s->st->request_contents(s->h, ids, k, (uint32_t)s->content_timeout_ms);
    }
    free(ids);
}

/* Writes message bytes inside a literal. A literal is CHAR8, which excludes NUL
 * (RFC 3501 / 9051 section 9; BINARY, whose literal8 allows it, is not offered),
 * but a mail from the server may hold one: it goes out as 0x80, as Dovecot does,
 * so the sizes the client was shown stay true. */
static void write_literal_bytes(struct imap_conn *c, char *buf, size_t n)
{
    for (char *p = buf, *end = buf + n; (p = memchr(p, '\0', (size_t)(end - p))) != NULL; p++)
        *p = (char)0x80;
    imap_write(c, buf, n);
}

int imap_content_read_span(struct imap_content_ctx *cc, uint64_t off, char *buf, size_t len, size_t *got)
{
    *got = 0;
    while (*got < len) {
        size_t want = len - *got < IMAP_CHUNK ? len - *got : IMAP_CHUNK, g = 0;
        if (imap_content_range_read(cc, off + *got, buf + *got, want, &g) != 0)
            return -1;
        if (g == 0)
            break;
        *got += g;
    }
    return 0;
}

/* Sends `len` bytes of content from `start` as a literal. The first
 * IMAP_VERIFY_MAX bytes (the whole of nearly every mail) are read before the
 * literal is announced, so content the cache cannot give back is answered with
 * NIL (return 1) and the connection goes on; -1 when a read fails after the
 * literal began, which leaves nothing but to end the connection. */
static int send_range(struct imap_conn *c, struct imap_content_ctx *cc, uint64_t start, uint64_t len)
{
    size_t head = len < IMAP_VERIFY_MAX ? (size_t)len : IMAP_VERIFY_MAX;
    char *buf = malloc(head > IMAP_CHUNK ? head : IMAP_CHUNK);
    if (!buf)
        return -1;
    size_t have = 0;
    if (imap_content_read_span(cc, start, buf, head, &have) != 0) {
        free(buf);
        imap_puts(c, " NIL");
        return 1;
    }
    imap_printf(c, " {%llu}\r\n", (unsigned long long)len);
    int short_read = have < head;
    if (short_read) /* the cache holds less than the summary's size: keep the protocol in step */
        c->srv->h->log(c->srv->h, OUTPOST_LOG_ERROR, "item %lld: cached content shorter than its size; padding the reply",
                       (long long)cc->id);
    write_literal_bytes(c, buf, have);
    uint64_t done = have;
    while (done < len && !c->write_failed) {
        size_t want = len - done < IMAP_CHUNK ? (size_t)(len - done) : IMAP_CHUNK;
        size_t got = 0;
        if (!short_read && imap_content_range_read(cc, start + done, buf, want, &got) != 0) {
            free(buf);
            return -1;
        }
        if (got == 0) {
            /* the cache holds less than the summary's size: keep the
             * protocol in step and report it */
            if (!short_read)
                c->srv->h->log(c->srv->h, OUTPOST_LOG_ERROR,
                               "item %lld: cached content shorter than its size; padding the reply",
                               (long long)cc->id);
            short_read = 1;
            memset(buf, ' ', want);
            got = want;
        }
        write_literal_bytes(c, buf, got);
        done += got;
    }
    free(buf);
    return 0;
}

/* Writes one body section attribute (label and value). 0 when written; 1 when
 * the content could not be read and the value went out as NIL (the tagged reply
 * then says so); -1 when the connection cannot go on (a literal cut short). */
static int write_section(struct imap_conn *c, const struct fitem *f, const struct imap_fetch_att *a)
{
    struct imap_content_ctx cc = { c->srv, f->id };
    const char *label = a->label;
    int spec = a->spec;
    size_t npart = a->npart;
    if (a->kind == IMAP_FA_RFC822) {
        label = "RFC822";
        spec = IMAP_SEC_ALL;
        npart = 0;
    } else if (a->kind == IMAP_FA_RFC822_HEADER) {
        label = "RFC822.HEADER";
        spec = IMAP_SEC_HEADER;
        npart = 0;
    } else if (a->kind == IMAP_FA_RFC822_TEXT) {
        label = "RFC822.TEXT";
        spec = IMAP_SEC_TEXT;
        npart = 0;
    }
    struct imap_region r = { 0, f->size };
    if (!(npart == 0 && spec == IMAP_SEC_ALL) &&
        imap_mime_locate(imap_content_range_read, &cc, f->size, a->part, npart, spec, &r) != 0) {
        imap_puts(c, label);
        imap_puts(c, " NIL");
        return 1;
    }
    imap_puts(c, label);
    if (spec == IMAP_SEC_HEADER_FIELDS || spec == IMAP_SEC_HEADER_FIELDS_NOT) {
        size_t hl = (size_t)(r.end - r.start < HEADER_FILTER_MAX ? r.end - r.start : HEADER_FILTER_MAX);
        char *h = malloc(hl + 1);
        if (!h)
            return -1;
        size_t got = 0;
        if (imap_content_read_span(&cc, r.start, h, hl, &got) != 0) {
            free(h);
            imap_puts(c, " NIL");
            return 1;
        }
        size_t ol;
        char *o = r.end > r.start ? imap_mime_filter_header(h, got, a->fields, a->nfields,
                                                             spec == IMAP_SEC_HEADER_FIELDS_NOT, &ol)
                                  : (ol = 0, strdup(""));
        free(h);
        if (!o)
            return -1;
        size_t off = 0, len = ol;
        if (a->partial) {
            off = a->poff < ol ? (size_t)a->poff : ol;
            len = ol - off < a->plen ? ol - off : (size_t)a->plen;
        }
        imap_printf(c, " {%zu}\r\n", len);
        write_literal_bytes(c, o + off, len);
        free(o);
        return 0;
    }
    uint64_t start = r.start, len = r.end - r.start;
    if (a->partial && (a->kind == IMAP_FA_SECTION)) {
        uint64_t off = a->poff < len ? a->poff : len;
        start += off;
        len -= off;
        if (len > a->plen)
            len = a->plen;
    }
    return send_range(c, &cc, start, len);
}

/* Writes one FETCH response. 1 when a body section could not be read (sent as
 * NIL), else 0; c->write_failed when the connection cannot go on. */
static int write_item(struct imap_conn *c, const struct fitem *f, const struct imap_fetch_req *req, int uidcmd,
                      int add_flags, int add_modseq)
{
    int unreadable = 0;
    int sp = 0;
    int has_uid = 0, has_flags = 0, has_modseq = 0;
    for (size_t i = 0; i < req->n; i++) {
        has_uid |= req->a[i].kind == IMAP_FA_UID;
        has_flags |= req->a[i].kind == IMAP_FA_FLAGS;
        has_modseq |= req->a[i].kind == IMAP_FA_MODSEQ;
    }
    if (has_flags || add_flags)
        imap_announce_keywords(c, f->keywords);
    imap_write(c, "* ", 2);
    imap_put_uint(c, f->ix + 1);
    imap_write(c, " FETCH (", 8);
    /* once CONDSTORE is on, a FETCH that sets \Seen reports UID and MODSEQ with the flags (RFC 7162 3.2.4) */
    if (uidcmd || has_uid || (add_flags && c->condstore)) {
        imap_write(c, "UID ", 4);
        imap_put_uint(c, f->uid);
        sp = 1;
    }
    if (has_flags || add_flags) {
        imap_puts(c, sp ? " FLAGS " : "FLAGS ");
        imap_write_flags(c, f->flags, f->keywords, f->uid);
        sp = 1;
    }
    if (has_modseq || add_modseq) {
        imap_puts(c, sp ? " MODSEQ (" : "MODSEQ (");
        imap_put_uint(c, f->modseq);
        imap_write(c, ")", 1);
        sp = 1;
    }
    for (size_t i = 0; i < req->n && !c->write_failed; i++) {
        const struct imap_fetch_att *a = &req->a[i];
        const char *pre = sp ? " " : "";
        switch (a->kind) {
        case IMAP_FA_UID:
        case IMAP_FA_FLAGS:
        case IMAP_FA_MODSEQ:
            continue;
        case IMAP_FA_INTERNALDATE: {
            char d[40];
            imap_datetime_format(f->idate, d, sizeof d);
            imap_printf(c, "%sINTERNALDATE \"%s\"", pre, d);
            break;
        }
        case IMAP_FA_RFC822_SIZE:
            imap_puts(c, pre);
            imap_write(c, "RFC822.SIZE ", 12);
            imap_put_uint(c, f->size);
            break;
        case IMAP_FA_ENVELOPE:
            imap_puts(c, pre);
            imap_write(c, "ENVELOPE ", 9);
            imap_puts(c, f->envelope ? f->envelope : "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
            break;
        case IMAP_FA_BODYSTRUCTURE:
        case IMAP_FA_BODY: {
            char fallback[128];
            snprintf(fallback, sizeof fallback, "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" %llu 0)",
                     (unsigned long long)f->size);
            const char *bs = f->bodystructure ? f->bodystructure : fallback;
            imap_puts(c, pre);
            imap_puts(c, a->kind == IMAP_FA_BODY ? "BODY " : "BODYSTRUCTURE ");
            if (a->kind == IMAP_FA_BODY) {
                char *b = imap_body_from_bodystructure(bs);
                imap_puts(c, b ? b : fallback);
                free(b);
            } else {
                imap_puts(c, bs);
            }
            break;
        }
        default:
            imap_puts(c, pre);
            int w = write_section(c, f, a);
            if (w < 0) {
                /* after a partial literal the stream cannot be repaired */
                c->write_failed = 1;
                return 1;
            }
            unreadable |= w;
            break;
        }
        sp = 1;
    }
    imap_puts(c, ")\r\n");
    return unreadable;
}

void imap_cmd_fetch(struct imap_conn *c, const char *tag, int uid, const struct imap_tok *args)
{
    struct imap_server *s = c->srv;
    const struct imap_tok *set = args->nkids > 0 ? args->kids[0] : NULL;
    const struct imap_tok *att = args->nkids > 1 ? args->kids[1] : NULL;
    const struct imap_tok *mods = args->nkids > 2 ? args->kids[2] : NULL;
    char err[200];
    if (!set || set->type != IMAP_TOK_ATOM || !att || args->nkids > 3) {
        imap_tagged(c, tag, "BAD", "FETCH expects a sequence set and attributes");
        return;
    }
    struct imap_fetch_req req;
    if (imap_fetch_parse(att, mods, &req, err, sizeof err) != 0) {
        imap_tagged(c, tag, "BAD", "FETCH: %s", err);
        return;
    }
    if (req.vanished && (!uid || !c->qresync)) {
        imap_fetch_free(&req);
        imap_tagged(c, tag, "BAD", "VANISHED needs UID FETCH and ENABLE QRESYNC");
        return;
    }
    int want_modseq = req.has_changedsince;
    for (size_t i = 0; i < req.n; i++)
        want_modseq |= req.a[i].kind == IMAP_FA_MODSEQ;
    if (want_modseq)
        imap_condstore_on(c);
    size_t *idx, n;
    int r = imap_resolve_set(c, set->s, uid, &idx, &n);
    if (r != 0) {
        imap_fetch_free(&req);
        imap_tagged(c, tag, "BAD", "FETCH: invalid %s", r == -2 ? "message sequence number" : "sequence set");
        return;
    }
    if (req.vanished) {
        struct imap_seqset us;
        struct outpost_txn *t;
        struct outpost_cursor *cur;
        const void *row;
        uint32_t *v = NULL;
        size_t nv = 0, cv = 0;
        if (imap_seqset_parse(set->s, &us) == 0 && s->st->read_begin(s->h, &t).code == OUTPOST_OK) {
            if (s->sm->expunged_since(t, c->sel_folder, req.changedsince, &cur).code == OUTPOST_OK) {
                while (s->sm->cursor_next(cur, &row).code == OUTPOST_OK && row) {
                    uint32_t u = ((const outpost_tombstone *)row)->uid;
                    if (!imap_seqset_contains(&us, u, UINT32_MAX - 1))
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
            imap_seqset_free(&us);
        }
        if (nv) {
            imap_puts(c, "* VANISHED (EARLIER) ");
            imap_write_uidset(c, v, nv);
            imap_puts(c, "\r\n");
        }
        free(v);
    }
    int want_text = 0, want_content = 0, flags_only = 1, headers_only = 1, uid_only = 1;
    for (size_t i = 0; i < req.n; i++) {
        uid_only &= req.a[i].kind == IMAP_FA_UID || req.a[i].kind == IMAP_FA_MODSEQ;
        headers_only &= header_only(&req.a[i]);
        want_text |= req.a[i].kind == IMAP_FA_ENVELOPE || req.a[i].kind == IMAP_FA_BODYSTRUCTURE ||
                     req.a[i].kind == IMAP_FA_BODY;
        want_content |= needs_content(&req.a[i]);
        flags_only &= req.a[i].kind == IMAP_FA_UID || req.a[i].kind == IMAP_FA_FLAGS ||
                      req.a[i].kind == IMAP_FA_MODSEQ;
    }
    /* UID/FLAGS/MODSEQ rows are small and cheap to copy: bigger batches */
    size_t bsz = flags_only ? 16 * IMAP_BATCH : IMAP_BATCH;
    struct fitem *batch = calloc(bsz, sizeof *batch);
    int64_t *seen_ids = calloc(bsz, sizeof *seen_ids);
    uint64_t *seen_ms = calloc(bsz, sizeof *seen_ms);
    outpost_item_status *seen_st = calloc(bsz, sizeof *seen_st);
    const char *fail = NULL;
    size_t unreadable = 0; /* messages with a body section sent as NIL */
    size_t expunged = 0;   /* messages expunged elsewhere and left out */
    for (size_t k = 0; k < n && batch && seen_ids && seen_ms && seen_st && !fail && !c->write_failed; k += bsz) {
        size_t bn = n - k < bsz ? n - k : bsz;
        if (load_batch(c, idx + k, bn, batch, want_text, flags_only) != 0) {
            fail = "NO [SERVERBUG] cannot read the cache";
            break;
        }
        /* a body fetch without PEEK sets \Seen (not in a read-only mailbox) */
        size_t ns = 0;
        if (req.sets_seen && !c->readonly)
            for (size_t b = 0; b < bn; b++)
                if (!batch[b].gone && !(batch[b].flags & OUTPOST_FLAG_SEEN) &&
                    (!req.has_changedsince || batch[b].modseq > req.changedsince))
                    seen_ids[ns++] = batch[b].id;
        /* Each item's own result counts: one expunged since the batch was read (GONE) is left out of the
         * answer like any message expunged elsewhere (its EXPUNGE comes when it may), the others are
         * answered with their \Seen. */
        if (ns && s->st->set_flags(s->h, seen_ids, (uint32_t)ns, OUTPOST_FLAGS_ADD, OUTPOST_FLAG_SEEN, NULL, seen_ms,
                                   seen_st).code == OUTPOST_OK) {
            size_t j = 0;
            for (size_t b = 0; b < bn && j < ns; b++)
                if (!batch[b].gone && batch[b].id == seen_ids[j]) {
                    if (seen_st[j].status.code == OUTPOST_GONE) {
                        batch[b].gone = 1;
                    } else if (seen_st[j].status.code == OUTPOST_OK) {
                        batch[b].flags |= OUTPOST_FLAG_SEEN | (1u << 31); /* bit 31: flags changed here */
                        if (seen_ms[j])
                            batch[b].modseq = seen_ms[j];
                    }
                    j++;
                }
        }
        if (want_content)
            prefetch(c, batch, bn, &req, headers_only);
        for (size_t b = 0; b < bn && !fail && !c->write_failed; b++) {
            struct fitem *f = &batch[b];
            if (f->gone) {
                /* Expunged elsewhere, not yet reported: its UID and MODSEQ are still the session's to give
                 * (RFC 2180 4.1.1, as Dovecot does); anything else is gone with it, so the message is left
                 * out and the completion says why (RFC 2180 4.1.2, RFC 5530 EXPUNGEISSUED). */
                f->modseq = c->msgs[f->ix].modseq;
                if (!uid_only)
                    expunged++;
                else if (!req.has_changedsince || f->modseq > req.changedsince)
                    write_item(c, f, &req, uid, 0, want_modseq);
                continue;
            }
            if (req.has_changedsince && f->modseq <= req.changedsince)
                continue;
            int changed = (f->flags & (1u << 31)) != 0;
            f->flags &= ~(1u << 31);
            if (must_fetch(f, want_content, headers_only)) {
                imap_flush(c);
                outpost_status st = s->st->request_content(s->h, f->id, (uint32_t)s->content_timeout_ms);
                if (st.code != OUTPOST_OK && !still_listed(c, f))
                    continue; /* expunged meanwhile: left out, as a message expunged elsewhere */
                if (st.code != OUTPOST_OK) {
                    fail = "NO [UNAVAILABLE] Message body not cached and the server cannot be reached";
                    break;
                }
                if (!still_listed(c, f))
                    continue; /* replaced under a new UID: EXPUNGE and EXISTS follow */
            }
            /* a section that could not be read because the message was expunged meanwhile (RFC 2180 4.1.3
             * lets its data be NIL) is no damage of the cache */
            if (write_item(c, f, &req, uid, changed, want_modseq || (changed && c->condstore)) && still_listed(c, f))
                unreadable++;
            struct imap_msg *m = &c->msgs[f->ix];
            m->flags = f->flags;
            if (f->modseq > m->modseq)
                m->modseq = f->modseq;
        }
        for (size_t b = 0; b < bn; b++)
            fitem_clear(&batch[b]);
    }
    if (!batch || !seen_ids || !seen_ms || !seen_st)
        fail = "NO [SERVERBUG] out of memory";
    free(batch);
    free(seen_ids);
    free(seen_ms);
    free(seen_st);
    free(idx);
    imap_fetch_free(&req);
    if (fail) {
        imap_tagged(c, tag, NULL, "%s", fail);
        return;
    }
    imap_sync_selected(c, uid);
    if (unreadable) {
        /* RFC 5530: the data are damaged; the log names the items, and `outpost check
         * --repair` drops such bodies so the next sync fetches them again */
        imap_printf(c, "%s NO [CORRUPTION] FETCH: the cached body of %zu message%s cannot be read (sent as NIL)\r\n", tag,
                    unreadable, unreadable == 1 ? "" : "s");
        return;
    }
    if (expunged)
        imap_tagged(c, tag, "OK", "[EXPUNGEISSUED] FETCH completed; %zu of the messages were expunged meanwhile",
                    expunged);
    else
        imap_tagged(c, tag, "OK", "FETCH completed");
}

void imap_cmd_store(struct imap_conn *c, const char *tag, int uid, const struct imap_tok *args)
{
    struct imap_server *s = c->srv;
    char err[200];
    size_t i = 0;
    const struct imap_tok *set = i < args->nkids ? args->kids[i++] : NULL;
    uint64_t unchangedsince = 0;
    int has_unchanged = 0;
    if (!set || set->type != IMAP_TOK_ATOM) {
        imap_tagged(c, tag, "BAD", "STORE expects a sequence set, an item and flags");
        return;
    }
    if (i < args->nkids && args->kids[i]->type == IMAP_TOK_LIST) {
        const struct imap_tok *m = args->kids[i++];
        if (m->nkids != 2 || !imap_tok_atom_is(m->kids[0], "UNCHANGEDSINCE") || m->kids[1]->type != IMAP_TOK_ATOM ||
            imap_number_parse(m->kids[1]->s, IMAP_MODSEQ_MAX, &unchangedsince) != 0) {
            imap_tagged(c, tag, "BAD", "STORE: unknown modifier (only UNCHANGEDSINCE with a 63-bit number)");
            return;
        }
        has_unchanged = 1;
        imap_condstore_on(c);
    }
    const struct imap_tok *item = i < args->nkids ? args->kids[i++] : NULL;
    if (!item || item->type != IMAP_TOK_ATOM || i >= args->nkids) {
        imap_tagged(c, tag, "BAD", "STORE expects a sequence set, an item and flags");
        return;
    }
    const char *it = item->s;
    uint32_t op = OUTPOST_FLAGS_REPLACE;
    if (*it == '+') {
        op = OUTPOST_FLAGS_ADD;
        it++;
    } else if (*it == '-') {
        op = OUTPOST_FLAGS_REMOVE;
        it++;
    }
    int silent;
    if (!strcasecmp(it, "FLAGS"))
        silent = 0;
    else if (!strcasecmp(it, "FLAGS.SILENT"))
        silent = 1;
    else {
        imap_tagged(c, tag, "BAD", "STORE: unknown item %.40s (FLAGS, +FLAGS, -FLAGS[.SILENT])", item->s);
        return;
    }
    /* flags: a list, or one or more atoms */
    uint32_t flags = 0;
    char *kw = NULL;
    struct imap_tok tmp = { 0 };
    const struct imap_tok *ft = args->kids[i];
    if (ft->type != IMAP_TOK_LIST) {
        tmp.type = IMAP_TOK_LIST;
        tmp.kids = (struct imap_tok **)&args->kids[i];
        tmp.nkids = args->nkids - i;
        ft = &tmp;
    } else if (i + 1 != args->nkids) {
        imap_tagged(c, tag, "BAD", "STORE: unexpected arguments after the flag list");
        return;
    }
    if (imap_parse_flags(ft, &flags, &kw, err, sizeof err) != 0) {
        imap_tagged(c, tag, "BAD", "STORE: %s", err);
        return;
    }
    if (c->readonly) {
        free(kw);
        imap_tagged(c, tag, "NO", "[READ-ONLY] Mailbox is read-only");
        return;
    }
    size_t *idx, n;
    int r = imap_resolve_set(c, set->s, uid, &idx, &n);
    if (r != 0) {
        free(kw);
        imap_tagged(c, tag, "BAD", "STORE: invalid %s", r == -2 ? "message sequence number" : "sequence set");
        return;
    }
    struct fitem *batch = calloc(IMAP_BATCH, sizeof *batch);
    int64_t *ids = calloc(IMAP_BATCH, sizeof *ids);
    uint64_t *ms = calloc(IMAP_BATCH, sizeof *ms);
    outpost_item_status *ist = calloc(IMAP_BATCH, sizeof *ist);
    uint32_t *modified = NULL;
    size_t nmod = 0, nexpunged = 0;
    const char *fail = NULL;
    /* the UNCHANGEDSINCE test and the change in one write transaction of the store; a core older than
     * ABI 1.1 has no such call, and the test is then made on a read before the change */
    int atomic_test = has_unchanged && OUTPOST_HAS_METHOD(s->st, struct outpost_store_api, set_flags_unchanged);
    uint64_t *since = atomic_test ? malloc(IMAP_BATCH * sizeof *since) : NULL;
    if (atomic_test && !since)
        fail = "NO [SERVERBUG] out of memory";
    for (size_t b = 0; since && b < IMAP_BATCH; b++)
        since[b] = unchangedsince;
    for (size_t k = 0; k < n && batch && ids && ms && ist && !fail && !c->write_failed; k += IMAP_BATCH) {
        size_t bn = n - k < IMAP_BATCH ? n - k : IMAP_BATCH;
        size_t nid = 0;
        if (has_unchanged && !atomic_test) {
            if (load_batch(c, idx + k, bn, batch, 0, 1) != 0) {
                fail = "NO [SERVERBUG] cannot read the cache";
                break;
            }
            for (size_t b = 0; b < bn; b++) {
                if (batch[b].gone)
                    continue;
                if (batch[b].modseq > unchangedsince) {
                    uint32_t *nm = realloc(modified, (nmod + 1) * sizeof *nm);
                    if (nm) {
                        modified = nm;
                        modified[nmod++] = uid ? batch[b].uid : (uint32_t)(batch[b].ix + 1);
                    }
                } else {
                    ids[nid++] = batch[b].id;
                }
                fitem_clear(&batch[b]);
            }
        } else {
            for (size_t b = 0; b < bn; b++)
                ids[nid++] = c->msgs[idx[k + b]].id;
        }
        if (nid) {
            outpost_status st = atomic_test ? s->st->set_flags_unchanged(s->h, ids, (uint32_t)nid, op, flags, kw,
                                                                         since, ms, ist)
                                            : s->st->set_flags(s->h, ids, (uint32_t)nid, op, flags, kw, ms, ist);
            /* a message another session expunged, not reported yet, is passed over: the others are stored and
             * reported (RFC 2180 4; Dovecot does the same) and the completion says EXPUNGEISSUED. One whose
             * MODSEQ went past UNCHANGEDSINCE is left alone and named in [MODIFIED]. */
            size_t kept = 0;
            for (size_t j = 0; st.code == OUTPOST_OK && j < nid; j++) {
                if (ist[j].status.code == OUTPOST_CONFLICT && atomic_test) {
                    uint32_t *nm = realloc(modified, (nmod + 1) * sizeof *nm);
                    if (nm) {
                        modified = nm;
                        modified[nmod++] = uid ? c->msgs[idx[k + j]].uid : (uint32_t)(idx[k + j] + 1);
                    }
                    continue;
                }
                if (ist[j].status.code == OUTPOST_GONE)
                    nexpunged++;
                else if (ist[j].status.code != OUTPOST_OK)
                    st = ist[j].status;
                ids[kept++] = ids[j];
            }
            if (st.code == OUTPOST_OK)
                nid = kept;
            if (st.code != OUTPOST_OK) {
                snprintf(err, sizeof err, "NO STORE failed: %s", imap_status_text(st));
                fail = err;
                break;
            }
        }
        /* report the resulting flags (or, silent with CONDSTORE, the MODSEQ) */
        size_t sel[IMAP_BATCH];
        size_t ns = 0;
        for (size_t b = 0; b < bn; b++) {
            size_t ix = idx[k + b];
            for (size_t j = 0; j < nid; j++)
                if (ids[j] == c->msgs[ix].id) {
                    sel[ns++] = ix;
                    break;
                }
        }
        if (load_batch(c, sel, ns, batch, 0, 1) != 0)
            continue;
        for (size_t b = 0; b < ns; b++) {
            struct fitem *f = &batch[b];
            if (!f->gone) {
                struct imap_msg *m = &c->msgs[f->ix];
                if (!silent) {
                    imap_announce_keywords(c, f->keywords);
                    imap_printf(c, "* %zu FETCH (", f->ix + 1);
                    if (uid || c->condstore)
                        imap_printf(c, "UID %u ", f->uid);
                    imap_puts(c, "FLAGS ");
                    imap_write_flags(c, f->flags, f->keywords, f->uid);
                    if (c->condstore)
                        imap_printf(c, " MODSEQ (%llu)", (unsigned long long)f->modseq);
                    imap_puts(c, ")\r\n");
                } else if (c->condstore && (has_unchanged || f->modseq != m->modseq)) {
                    /* .SILENT: the MODSEQ of a change (RFC 7162 3.1.3 Example 14), and of every message that
                     * passed an UNCHANGEDSINCE test, also when the store changed nothing and the MODSEQ stays
                     * (3.1.3: "An untagged FETCH response MUST be sent, even if the .SILENT suffix is
                     * specified"; 3.1.11: adding a flag already there SHOULD NOT change the mod-sequence) */
                    imap_printf(c, "* %zu FETCH (UID %u MODSEQ (%llu))\r\n", f->ix + 1, f->uid,
                                (unsigned long long)f->modseq);
                }
                m->flags = f->flags;
                m->modseq = f->modseq;
            }
            fitem_clear(f);
        }
    }
    if (!batch || !ids || !ms || !ist)
        fail = "NO [SERVERBUG] out of memory";
    free(batch);
    free(ids);
    free(ms);
    free(ist);
    free(since);
    free(idx);
    free(kw);
    if (fail) {
        free(modified);
        imap_tagged(c, tag, NULL, "%s", fail);
        return;
    }
    imap_sync_selected(c, uid);
    if (nmod) {
        imap_printf(c, "%s OK [MODIFIED ", tag);
        imap_write_uidset(c, modified, nmod);
        imap_puts(c, "] Conditional STORE failed for some messages\r\n");
    } else if (nexpunged) {
        imap_tagged(c, tag, "OK", "[EXPUNGEISSUED] STORE completed; %zu of the messages were expunged meanwhile",
                    nexpunged);
    } else {
        imap_tagged(c, tag, "OK", "STORE completed");
    }
    free(modified);
}
