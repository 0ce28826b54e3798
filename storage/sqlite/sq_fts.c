/* sq_fts.c — full-text search with FTS5 (unicode61, diacritics removed).
 *
 * Indexing runs behind ingest: item_put and content_finish only mark an item
 * as not indexed (item.fts_doc NULL). fts_index (idle time) and fts_search in
 * a write transaction index what is missing into the persistent contentless
 * table `fts`; fts_search in a read transaction, which must not write the
 * cache, indexes the missing items into a per-connection TEMP table instead,
 * so a search never misses an item either way.
 *
 * Document ids are indirected: item.fts_doc names the item's document, and a
 * changed or deleted item simply stops naming its old one. Stale documents
 * are counted (store_info 'fts_garbage') and the index is rebuilt lazily when
 * they outnumber the live ones, which a contentless table needs since it
 * cannot delete a document without its original text.
 *
 * Text of an item: its summary's subject, from, to and cc; for mail, the
 * name and decoded value of every header field of the message (so a miss is
 * final for IMAP SEARCH TEXT: OUTPOST_STORAGE_CAP_FTS_ALL_HEADERS) and the
 * text/plain and text/html parts decoded by GMime (transfer encoding and
 * charset; HTML tags dropped); for other kinds, the content as is. At most
 * SQ_FTS_SOURCE_MAX bytes of an item are parsed.
 *
 * The index keeps no positions (detail=none) and a 32 MiB pending-term hash:
 * measured, that builds about twice as fast as detail=full, and the search
 * semantics need no positions: every query token must occur inside some
 * word of the item (storage.h). A search expands each folded query token
 * into the indexed terms containing it (the term list, fts_term, below) and
 * asks FTS5 for the AND of those OR-groups.
 *
 * Indexing is a pipeline (index_missing): the main thread, the only one that
 * uses the connection, reads a batch of items (summary fields and content
 * rows as stored) and inserts the documents of the previous batch, while
 * worker threads (one per extra CPU, at most 3, joined before index_missing
 * returns) decompress, parse MIME and tokenize. A document is the set of an
 * item's distinct folded tokens (see "documents" below). Measured on the
 * 100k-item benchmark: 4.9k → 11k items/s on 2 CPUs. The main thread's
 * share is then mostly FTS5's own insert (about 3/4 of its CPU time).
 * Everything tokenizes through a faster unicode61 (same tokens, below);
 * measurements and the ideas that did not pay are in README.md.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "sq_internal.h"

#define SQ_FTS_SOURCE_MAX (16u * 1024u * 1024u)
#define SQ_FTS_BATCH 256

static int store_info_int(struct outpost_storage *s, const char *key, int64_t *v)
{
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_INFO_GET, &rc);
    if (!st)
        return rc;
    sq_bind_text(st, 1, key);
    rc = sqlite3_step(st);
    *v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int store_info_set(struct outpost_storage *s, const char *key, int64_t v)
{
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_INFO_SET, &rc);
    if (!st)
        return rc;
    sq_bind_text(st, 1, key);
    sqlite3_bind_int64(st, 2, v);
    return sq_exec_stmt(st);
}

/* ---- text extraction ---- */

static int buf_append(struct sq_buf *b, const char *p, size_t n)
{
    if (sq_buf_reserve(b, b->len + n + 2))
        return -1;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len++] = '\n';
    b->p[b->len] = '\0';
    return 0;
}

/* Appends HTML text without its tags (entities stay as words). */
static int append_html(struct sq_buf *b, const char *html)
{
    size_t n = strlen(html);
    if (sq_buf_reserve(b, b->len + n + 2))
        return -1;
    int in_tag = 0;
    for (const char *p = html; *p; p++) {
        if (*p == '<')
            in_tag = 1;
        else if (*p == '>' && in_tag) {
            in_tag = 0;
            b->p[b->len++] = ' ';
        } else if (!in_tag)
            b->p[b->len++] = *p;
    }
    b->p[b->len++] = '\n';
    b->p[b->len] = '\0';
    return 0;
}

/* ---- documents: unique folded tokens ----
 *
 * The index keeps no positions or columns (detail=none), so a document is
 * fully described by the set of its distinct tokens. Workers run GMime and
 * the unicode61 tokenizer (the very tokenizer of the table, through the
 * fts5_api, with the same arguments) over an item and hand the main thread
 * its distinct folded tokens joined by spaces; FTS5 re-tokenizing that
 * string yields the same tokens (folded tokens fold to themselves), about a
 * third of the original count. Only the main thread touches the connection.
 */

static uint32_t tok_hash(const char *p, int n)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}

/* The tokens a thread met during one indexing run, each with the last
 * document it was put in: one lookup per token of the text both drops the
 * repeats within a document and tells the tokens new to the thread (for
 * the term list), which a set per document and a second pass over a set of
 * the run's tokens did with two. One slot is one cache line's quarter (a
 * probe touches one line, not one per field). */
struct tokslot {
    uint32_t off;               /* 0 empty, else 1 + offset of the token in text */
    uint32_t len;
    uint32_t hash;
    uint32_t last;              /* the document it was last put in */
};

struct tokdict {
    struct tokslot *slot;
    size_t cap, used;
    struct sq_buf text;         /* every token, back to back */
};

/* The tokenizer callback's context: the document being made. */
struct docctx {
    struct tokdict *d;
    uint32_t docno;             /* never 0 */
    struct sq_buf *doc;         /* "tok tok " */
    struct sq_buf *newterms;    /* tokens new to d ("tok tok "), NULL: not wanted */
};

static void tokdict_free(struct tokdict *d)
{
    free(d->slot);
    free(d->text.p);
    memset(d, 0, sizeof *d);
}

static int tokdict_grow(struct tokdict *d)
{
    size_t cap = d->cap ? d->cap * 2 : 4096;
    struct tokslot *slot = calloc(cap, sizeof *slot);
    if (!slot)
        return -1;
    for (size_t i = 0; i < d->cap; i++) {
        if (!d->slot[i].off)
            continue;
        size_t k = d->slot[i].hash & (cap - 1);
        while (slot[k].off)
            k = (k + 1) & (cap - 1);
        slot[k] = d->slot[i];
    }
    free(d->slot);
    d->slot = slot;
    d->cap = cap;
    return 0;
}

static int buf_token(struct sq_buf *b, const char *tok, size_t n)
{
    if (b->len + n + 2 > b->cap && sq_buf_reserve(b, b->len + n + 2)) /* a call per token costs */
        return -1;
    memcpy(b->p + b->len, tok, n);
    b->len += n;
    b->p[b->len++] = ' ';
    b->p[b->len] = '\0';
    return 0;
}

/* fts5 token callback: puts a token in the document once. */
static int docctx_add(void *ctx, int tflags, const char *tok, int n, int start, int end)
{
    (void)tflags;
    (void)start;
    (void)end;
    struct docctx *dc = ctx;
    struct tokdict *d = dc->d;
    if (n <= 0)
        return SQLITE_OK;
    if ((d->used + 1) * 2 > d->cap && tokdict_grow(d))
        return SQLITE_NOMEM;
    uint32_t h = tok_hash(tok, n);
    size_t k = h & (d->cap - 1);
    for (struct tokslot *e; (e = &d->slot[k])->off; k = (k + 1) & (d->cap - 1)) {
        if (e->hash == h && e->len == (uint32_t)n && memcmp(d->text.p + e->off - 1, tok, (size_t)n) == 0) {
            if (e->last == dc->docno)
                return SQLITE_OK;
            e->last = dc->docno;
            return buf_token(dc->doc, tok, (size_t)n) ? SQLITE_NOMEM : SQLITE_OK;
        }
    }
    if (d->text.len + (size_t)n + 1 > UINT32_MAX || sq_buf_reserve(&d->text, d->text.len + (size_t)n + 1))
        return SQLITE_NOMEM;
    d->slot[k] = (struct tokslot){ (uint32_t)d->text.len + 1, (uint32_t)n, h, dc->docno };
    d->used++;
    memcpy(d->text.p + d->text.len, tok, (size_t)n);
    d->text.len += (size_t)n;
    if (buf_token(dc->doc, tok, (size_t)n) || (dc->newterms && buf_token(dc->newterms, tok, (size_t)n)))
        return SQLITE_NOMEM;
    return SQLITE_OK;
}

/* One item to index: filled by the main thread, turned into a document by
 * a worker. */
struct fts_job {
    int64_t id;
    uint32_t kind;
    char *fields;               /* subject, from, to, cc: "\n"-separated, malloc'd */
    struct sq_buf rows;         /* its content rows as stored (struct row_head + data each) */
    size_t plain;               /* their content bytes */
    GByteArray *raw;            /* the content, decoded from rows by the worker */
    struct sq_buf doc;          /* distinct folded tokens */
    struct sq_buf newterms;     /* those of them new to the thread that made doc */
    int failed;                 /* out of memory */
    int damaged;                /* a content row could not be decoded */
};

struct fts_tok {                /* a unicode61 tokenizer instance */
    fts5_tokenizer api;
    Fts5Tokenizer *inst;
};

static fts5_api *get_fts5_api(sqlite3 *db)
{
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
        sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return api;
}

/* ---- unicode61, faster ----
 *
 * sq_fts_register puts this tokenizer under the name "unicode61" on the
 * connection, in front of SQLite's (FTS5 keeps its tokenizers in a list,
 * adds a new one at its head and takes the first of a name; were it to
 * keep its own, the tokens would be the same): the index, the private
 * index, the queries and the workers then tokenize through it. It makes
 * exactly the tokens unicode61 makes, with
 * the same offsets, so an index built by either can be read and written by
 * the other. With unicode61's default token characters (no "categories",
 * "tokenchars" or "separators" option), an ASCII byte that is not a letter
 * or a digit separates tokens, and such bytes never occur inside a UTF-8
 * sequence, nor inside an invalid one (unicode61 reads a sequence up to the
 * first byte that does not continue it). So the text is cut at them; a
 * piece of ASCII letters and digits is one token, folded to lower case
 * here; a piece holding any other byte goes to SQLite's unicode61 as is.
 * Text mostly ASCII (the documents of the index are folded tokens joined by
 * spaces) thus skips unicode61's per-character work. */

enum { TC_SEP, TC_LOWER, TC_UPPER, TC_HIGH };

static unsigned char tok_cls[256];
static pthread_once_t tok_cls_once = PTHREAD_ONCE_INIT;

static void tok_cls_init(void)
{
    for (int c = 0; c < 256; c++)
        tok_cls[c] = c >= 0x80                                            ? TC_HIGH
                     : c >= 'A' && c <= 'Z'                               ? TC_UPPER
                     : (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? TC_LOWER
                                                                          : TC_SEP;
}

struct fast61_module {          /* the registration's context */
    fts5_tokenizer real;        /* SQLite's unicode61 */
    void *real_ud;
};

struct fast61 {                 /* an instance */
    fts5_tokenizer real;
    Fts5Tokenizer *inst;        /* SQLite's unicode61 with the same arguments */
    int ascii;                  /* default token characters: the ASCII path applies */
};

typedef int (*token_cb)(void *, int, const char *, int, int, int);

static int fast61_create(void *ud, const char **argv, int argc, Fts5Tokenizer **out)
{
    struct fast61_module *m = ud;
    struct fast61 *f = calloc(1, sizeof *f);
    if (!f)
        return SQLITE_NOMEM;
    f->real = m->real;
    int rc = m->real.xCreate(m->real_ud, argv, argc, &f->inst);
    if (rc != SQLITE_OK) {
        free(f);
        return rc;
    }
    f->ascii = 1; /* arguments come in pairs, checked by unicode61 */
    for (int i = 0; i < argc; i += 2)
        f->ascii &= strcmp(argv[i], "remove_diacritics") == 0;
    pthread_once(&tok_cls_once, tok_cls_init);
    *out = (Fts5Tokenizer *)f;
    return SQLITE_OK;
}

static void fast61_delete(Fts5Tokenizer *t)
{
    struct fast61 *f = (struct fast61 *)t;
    if (f) {
        f->real.xDelete(f->inst);
        free(f);
    }
}

/* A piece handed to unicode61 reports offsets from its own start. */
struct shift_ctx {
    void *ctx;
    token_cb cb;
    int off;
};

static int shift_token(void *ctx, int tflags, const char *tok, int n, int start, int end)
{
    struct shift_ctx *sc = ctx;
    return sc->cb(sc->ctx, tflags, tok, n, start + sc->off, end + sc->off);
}

static int fast61_tokenize(Fts5Tokenizer *t, void *ctx, int flags, const char *text, int n, token_cb cb)
{
    struct fast61 *f = (struct fast61 *)t;
    if (!f->ascii)
        return f->real.xTokenize(f->inst, ctx, flags, text, n, cb);
    const unsigned char *u = (const unsigned char *)text, *cls = tok_cls;
    char small[64], *fold = small;
    size_t cap = sizeof small;
    int rc = SQLITE_OK;
    for (int i = 0; rc == SQLITE_OK && i < n;) {
        while (i < n && cls[u[i]] == TC_SEP)
            i++;
        if (i == n)
            break;
        int start = i, upper = 0, high = 0;
        for (unsigned char c; i < n && (c = cls[u[i]]) != TC_SEP; i++)
            if (c != TC_LOWER) {
                upper |= c == TC_UPPER;
                high |= c == TC_HIGH;
            }
        int len = i - start;
        if (high) {
            struct shift_ctx sc = { ctx, cb, start };
            rc = f->real.xTokenize(f->inst, &sc, flags, text + start, len, shift_token);
        } else if (!upper) {
            rc = cb(ctx, 0, text + start, len, start, i);
        } else {
            if ((size_t)len > cap) {
                char *p = malloc((size_t)len);
                if (!p) {
                    rc = SQLITE_NOMEM;
                    break;
                }
                if (fold != small)
                    free(fold);
                fold = p;
                cap = (size_t)len;
            }
            for (int k = 0; k < len; k++)
                fold[k] = (char)(cls[u[start + k]] == TC_UPPER ? u[start + k] + ('a' - 'A') : u[start + k]);
            rc = cb(ctx, 0, fold, len, start, i);
        }
    }
    if (fold != small)
        free(fold);
    return rc;
}

int sq_fts_register(struct outpost_storage *s)
{
    fts5_api *api = get_fts5_api(s->db);
    if (!api || api->iVersion < 2)
        return SQLITE_ERROR;
    struct fast61_module *m = calloc(1, sizeof *m);
    if (!m)
        return SQLITE_NOMEM;
    int rc = api->xFindTokenizer(api, "unicode61", &m->real_ud, &m->real);
    if (rc == SQLITE_OK && m->real.xTokenize == fast61_tokenize) {
        free(m); /* registered already */
        return SQLITE_OK;
    }
    fts5_tokenizer mine = { fast61_create, fast61_delete, fast61_tokenize };
    if (rc == SQLITE_OK) /* the connection frees m when it closes */
        rc = api->xCreateTokenizer(api, "unicode61", m, &mine, free);
    if (rc != SQLITE_OK)
        free(m); /* not registered: FTS5 does not call the destructor then */
    return rc;
}

/* What a thread running jobs keeps across them. */
struct fts_scratch {
    struct tokdict dict;        /* every token this thread has met in the run */
    uint32_t docno;             /* documents it made */
    struct sq_buf text;         /* the current document's text */
    void *dc;                   /* zstd context (sq_content_decode) */
};

static void scratch_free(struct fts_scratch *x)
{
    tokdict_free(&x->dict);
    free(x->text.p);
    sq_content_dctx_free(x->dc);
    memset(x, 0, sizeof *x);
}

/* Appends the decoded text of a text part: through GMime's charset filter,
 * except for UTF-8 and US-ASCII text, which only loses its transfer
 * encoding (the tokenizer reads UTF-8 as is). */
static int part_text(GMimeTextPart *part, int html, struct sq_buf *out)
{
    const char *cs = g_mime_text_part_get_charset(part);
    if (cs && g_ascii_strcasecmp(cs, "utf-8") && g_ascii_strcasecmp(cs, "utf8") &&
        g_ascii_strcasecmp(cs, "us-ascii")) {
        char *text = g_mime_text_part_get_text(part);
        int rc = 0;
        if (text) {
            rc = html ? append_html(out, text) : buf_append(out, text, strlen(text));
            g_free(text);
        }
        return rc;
    }
    GMimeDataWrapper *content = g_mime_part_get_content((GMimePart *)part);
    if (!content)
        return 0;
    GByteArray *bytes = g_byte_array_new();
    GMimeStream *mem = g_mime_stream_mem_new_with_byte_array(bytes);
    g_mime_stream_mem_set_owner((GMimeStreamMem *)mem, FALSE);
    int rc = 0;
    if (g_mime_data_wrapper_write_to_stream(content, mem) >= 0) { /* else undecodable: nothing to add */
        g_byte_array_append(bytes, (const guint8 *)"", 1);
        const char *text = (const char *)bytes->data;
        rc = html ? append_html(out, text) : buf_append(out, text, bytes->len - 1);
    }
    g_object_unref(mem);
    g_byte_array_free(bytes, TRUE);
    return rc;
}

/* The text of mail: the name and decoded value of every header field of the
 * message, then its text/plain and text/html parts, decoded. Content GMime
 * cannot parse is taken as is, so nothing it holds escapes the index. */
static int mail_text(GByteArray *raw, struct sq_buf *out)
{
    GMimeStream *stream = g_mime_stream_mem_new_with_byte_array(raw);
    g_mime_stream_mem_set_owner((GMimeStreamMem *)stream, FALSE); /* raw outlives msg */
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    g_object_unref(stream);
    GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
    g_object_unref(parser);
    if (!msg)
        return buf_append(out, (const char *)raw->data, raw->len);
    int rc = 0;
    GMimeHeaderList *hl = g_mime_object_get_header_list((GMimeObject *)msg);
    int nh = hl ? g_mime_header_list_get_count(hl) : 0;
    for (int i = 0; rc == 0 && i < nh; i++) {
        GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
        const char *name = h ? g_mime_header_get_name(h) : NULL;
        const char *value = h ? g_mime_header_get_value(h) : NULL;
        if (name)
            rc = buf_append(out, name, strlen(name));
        if (rc == 0 && value)
            rc = buf_append(out, value, strlen(value));
    }
    GMimePartIter *iter = g_mime_part_iter_new((GMimeObject *)msg);
    do {
        GMimeObject *part = g_mime_part_iter_get_current(iter);
        if (rc || !part || !GMIME_IS_TEXT_PART(part))
            continue;
        GMimeContentType *ct = g_mime_object_get_content_type(part);
        int html = g_mime_content_type_is_type(ct, "text", "html");
        if (html || g_mime_content_type_is_type(ct, "text", "plain"))
            rc = part_text((GMimeTextPart *)part, html, out);
    } while (rc == 0 && g_mime_part_iter_next(iter));
    g_mime_part_iter_free(iter);
    g_object_unref(msg);
    return rc;
}

/* A content row in fts_job.rows, followed by its n bytes. */
struct row_head {
    int64_t len;                /* content bytes, < 0: a raw row of schema 2 */
    uint64_t n;
    int codec;
};

/* Decodes the rows of a job into j->raw (at most SQ_FTS_SOURCE_MAX bytes). */
static int decode_rows(struct fts_job *j, struct fts_scratch *x)
{
    GByteArray *raw = g_byte_array_sized_new((guint)j->plain);
    g_byte_array_set_size(raw, (guint)j->plain);
    size_t at = 0;
    int rc = SQLITE_OK;
    for (size_t k = 0; rc == SQLITE_OK && k < j->rows.len;) {
        struct row_head h;
        memcpy(&h, j->rows.p + k, sizeof h);
        k += sizeof h;
        size_t need = h.len < 0 ? (size_t)h.n : (size_t)h.len, got = 0;
        if (at + need > j->plain)
            rc = SQLITE_CORRUPT;
        else
            rc = sq_content_decode(&x->dc, h.codec, j->rows.p + k, (size_t)h.n, h.len, raw->data + at, &got);
        at += got;
        k += (size_t)h.n;
    }
    free(j->rows.p);
    memset(&j->rows, 0, sizeof j->rows);
    g_byte_array_set_size(raw, (guint)(at > SQ_FTS_SOURCE_MAX ? SQ_FTS_SOURCE_MAX : at));
    j->raw = raw;
    return rc == SQLITE_OK ? 0 : -1;
}

/* Worker side: job → job->doc (and job->newterms when `terms`). */
static void run_job(struct fts_job *j, struct fts_tok *tk, struct fts_scratch *x, int terms)
{
    struct sq_buf *text = &x->text;
    text->len = 0;
    int rc = sq_buf_reserve(text, 1) ? -1 : 0;
    if (rc == 0 && j->rows.len && decode_rows(j, x) != 0) {
        /* indexed by its summary fields only (insert_batch warns): one damaged row must
         * not stop the index, and with it every search */
        j->damaged = 1;
        if (j->raw)
            g_byte_array_unref(j->raw);
        j->raw = NULL;
    }
    if (rc == 0)
        text->p[0] = '\0';
    if (rc == 0 && j->raw) {
        GByteArray *raw = j->raw;
        j->raw = NULL;
        if (j->kind == OUTPOST_ITEM_MAIL)
            rc = mail_text(raw, text);
        else
            rc = buf_append(text, (const char *)raw->data, raw->len);
        g_byte_array_unref(raw);
    }
    j->doc.len = 0;
    j->newterms.len = 0;
    if (++x->docno == 0)
        x->docno = 1; /* wrapped (4G documents): 0 means none */
    struct docctx dc = { &x->dict, x->docno, &j->doc, terms ? &j->newterms : NULL };
    if (rc == 0 && sq_buf_reserve(&j->doc, 64))
        rc = -1;
    if (rc == 0)
        j->doc.p[0] = '\0';
    if (rc == 0 && j->fields)
        rc = tk->api.xTokenize(tk->inst, &dc, FTS5_TOKENIZE_DOCUMENT, j->fields, (int)strlen(j->fields),
                               docctx_add);
    if (rc == 0 && text->len)
        rc = tk->api.xTokenize(tk->inst, &dc, FTS5_TOKENIZE_DOCUMENT, text->p, (int)text->len, docctx_add);
    j->failed = rc != 0;
}

static void job_free(struct fts_job *j)
{
    free(j->fields);
    if (j->raw)
        g_byte_array_unref(j->raw);
    free(j->doc.p);
    free(j->newterms.p);
    free(j->rows.p);
    memset(j, 0, sizeof *j);
}

/* ---- the pipeline: the main thread reads batch k+1 and inserts batch k
 * while workers (and the main thread, when it waits) extract batch k ---- */

#define SQ_FTS_MAX_WORKERS 3
#define SQ_FTS_BATCH_BYTES (32u * 1024u * 1024u)
#define SQ_FTS_TERMS_PENDING (16u * 1024u * 1024u) /* noted terms kept before a flush */

struct fts_batch {
    struct fts_job jobs[SQ_FTS_BATCH];
    int n;
};

struct fts_pool {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    struct fts_batch *cur;      /* batch being extracted, NULL when none */
    int next, finished;         /* next job to take, jobs finished */
    int quit;
    int terms;                  /* jobs note the terms new to their thread */
    int nworkers;
    pthread_t th[SQ_FTS_MAX_WORKERS];
    struct fts_tok tok[SQ_FTS_MAX_WORKERS + 1]; /* [nworkers] is the main thread's */
};

struct worker_arg {
    struct fts_pool *pool;
    int idx;
};

/* Takes and runs jobs of the current batch until none is left; called with
 * the mutex held, returns with it held. */
static void help(struct fts_pool *p, int idx, struct fts_scratch *x)
{
    while (p->cur && p->next < p->cur->n) {
        struct fts_job *j = &p->cur->jobs[p->next++];
        pthread_mutex_unlock(&p->mu);
        run_job(j, &p->tok[idx], x, p->terms);
        pthread_mutex_lock(&p->mu);
        if (++p->finished == p->cur->n)
            pthread_cond_broadcast(&p->done);
    }
}

static void *worker_main(void *arg)
{
    struct worker_arg *wa = arg;
#ifdef __linux__
    pthread_setname_np(pthread_self(), "sq-fts"); /* for top -H, ps -L, perf, gdb */
#endif
    struct fts_pool *p = wa->pool;
    struct fts_scratch x = { 0 };
    pthread_mutex_lock(&p->mu);
    while (!p->quit) {
        if (p->cur && p->next < p->cur->n)
            help(p, wa->idx, &x);
        else
            pthread_cond_wait(&p->work, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    scratch_free(&x);
    return NULL;
}

/* A unicode61 tokenizer with the arguments of the fts table (sq_schema.c). */
static int tok_create(struct outpost_storage *s, struct fts_tok *tk)
{
    fts5_api *api = get_fts5_api(s->db);
    if (!api || api->iVersion < 2)
        return SQLITE_ERROR;
    void *ud = NULL;
    int rc = api->xFindTokenizer(api, "unicode61", &ud, &tk->api);
    if (rc != SQLITE_OK)
        return rc;
    const char *argv[] = { "remove_diacritics", "2" };
    return tk->api.xCreate(ud, argv, 2, &tk->inst);
}

static int workers_wanted(uint32_t max)
{
    if (max && max < 64)
        return 0; /* a few items: not worth a thread */
    long n = sysconf(_SC_NPROCESSORS_ONLN) - 1;
    if (n < 0)
        n = 0;
    return n > SQ_FTS_MAX_WORKERS ? SQ_FTS_MAX_WORKERS : (int)n;
}

/* 0 or an SQLite error code. */
static int pool_start(struct fts_pool *p, struct outpost_storage *s, int nworkers, int terms,
                      struct worker_arg *args)
{
    memset(p, 0, sizeof *p);
    p->terms = terms;
    int rc;
    for (int i = 0; i <= nworkers; i++) {
        if ((rc = tok_create(s, &p->tok[i])) != SQLITE_OK) {
            for (int k = 0; k < i; k++)
                p->tok[k].api.xDelete(p->tok[k].inst);
            return rc;
        }
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int i = 0; i < nworkers; i++) {
        args[i].pool = p;
        args[i].idx = i;
        if (pthread_create(&p->th[i], NULL, worker_main, &args[i]) != 0)
            break; /* fewer workers; the main thread does the rest */
        p->nworkers++;
    }
    return SQLITE_OK;
}

static void pool_stop(struct fts_pool *p, int ntok)
{
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nworkers; i++)
        pthread_join(p->th[i], NULL);
    for (int i = 0; i < ntok; i++)
        p->tok[i].api.xDelete(p->tok[i].inst);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
}

static void pool_post(struct fts_pool *p, struct fts_batch *b)
{
    pthread_mutex_lock(&p->mu);
    p->cur = b;
    p->next = 0;
    p->finished = 0;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
}

/* Waits for the current batch, extracting alongside the workers. */
static void pool_wait(struct fts_pool *p, int main_idx, struct fts_scratch *x)
{
    pthread_mutex_lock(&p->mu);
    help(p, main_idx, x);
    while (p->cur && p->finished < p->cur->n)
        pthread_cond_wait(&p->done, &p->mu);
    p->cur = NULL;
    pthread_mutex_unlock(&p->mu);
}

/* subject, from, to and cc (columns 2..5 of st) joined by "\n", malloc'd. */
static char *join_fields(sqlite3_stmt *st)
{
    size_t n = 1;
    for (int i = 2; i < 6; i++)
        n += (size_t)sqlite3_column_bytes(st, i) + 1;
    char *out = malloc(n), *p = out;
    if (!out)
        return NULL;
    for (int i = 2; i < 6; i++) {
        const char *f = (const char *)sqlite3_column_text(st, i);
        if (f) {
            size_t k = (size_t)sqlite3_column_bytes(st, i);
            memcpy(p, f, k);
            p += k;
            *p++ = '\n';
        }
    }
    *p = '\0';
    return out;
}

/* Copies the content rows of j's item, as stored, into j->rows (up to
 * SQ_FTS_SOURCE_MAX content bytes): the workers decode them. */
static int read_rows(struct outpost_storage *s, struct fts_job *j)
{
    int rc;
    sqlite3_stmt *st = sq_stmt(s, ST_CONTENT_ROWS, &rc);
    if (!st)
        return rc;
    sqlite3_bind_int64(st, 1, j->id);
    while (j->plain < SQ_FTS_SOURCE_MAX && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct row_head h = { 0 };
        h.len = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 0);
        h.codec = sqlite3_column_int(st, 1);
        const void *data = sqlite3_column_blob(st, 2);
        h.n = (uint64_t)sqlite3_column_bytes(st, 2);
        if (sq_buf_reserve(&j->rows, j->rows.len + sizeof h + (size_t)h.n + 1)) {
            rc = SQLITE_NOMEM;
            break;
        }
        memcpy(j->rows.p + j->rows.len, &h, sizeof h);
        if (h.n)
            memcpy(j->rows.p + j->rows.len + sizeof h, data, (size_t)h.n);
        j->rows.len += sizeof h + (size_t)h.n;
        j->plain += h.len < 0 ? (size_t)h.n : (size_t)h.len;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Reads the next batch of items to index (ids above *last_id; all of them
 * when `all`, else those without a document): their summary fields and up
 * to SQ_FTS_SOURCE_MAX bytes of content. */
static outpost_status read_batch(struct outpost_txn *t, int64_t folder_id, uint32_t want, int all, int64_t *last_id,
                                 struct fts_batch *b)
{
    struct outpost_storage *s = t->s;
    uint64_t size[SQ_FTS_BATCH];
    b->n = 0;
    if (want > SQ_FTS_BATCH)
        want = SQ_FTS_BATCH;
    if (want == 0)
        return outpost_ok();
    int rc;
    sqlite3_stmt *st = sq_stmt(s, all ? ST_FTS_TODO_ALL : ST_FTS_TODO, &rc);
    if (!st)
        return sq_db_error(s, rc, "listing items to index");
    sqlite3_bind_int64(st, 1, folder_id);
    sqlite3_bind_int64(st, 2, (int64_t)want);
    sqlite3_bind_int64(st, 3, *last_id);
    int n = 0;
    while (n < (int)want && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct fts_job *j = &b->jobs[n];
        memset(j, 0, sizeof *j);
        j->id = sqlite3_column_int64(st, 0);
        j->kind = (uint32_t)sqlite3_column_int(st, 1);
        j->fields = join_fields(st);
        size[n] = sqlite3_column_int(st, 6) == OUTPOST_CONTENT_COMPLETE ? (uint64_t)sqlite3_column_int64(st, 7) : 0;
        if (!j->fields) {
            rc = SQLITE_NOMEM;
            break;
        }
        n++;
    }
    sqlite3_reset(st);
    for (int i = 0; i < n; i++)
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            job_free(&b->jobs[i]);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sq_db_error(s, rc, "listing items to index");
    size_t bytes = 0;
    for (int i = 0; i < n; i++) {
        struct fts_job *j = &b->jobs[i];
        b->n = i + 1;
        *last_id = j->id;
        if (size[i] && (rc = read_rows(s, j)) != SQLITE_OK) {
            for (int k = i + 1; k < n; k++)
                job_free(&b->jobs[k]);
            return sq_db_error(s, rc, "reading content to index");
        }
        bytes += j->rows.len;
        if (bytes >= SQ_FTS_BATCH_BYTES)
            break; /* bounded memory: the rest comes with the next batch */
    }
    for (int k = b->n; k < n; k++)
        job_free(&b->jobs[k]);
    return outpost_ok();
}

/* ---- the term list ----
 *
 * A search matches a query token inside the words of the text, so it needs
 * the index's vocabulary. fts5vocab lists it, but by walking every document
 * list (about 1.5 s per scan on 100k items), so the persistent index keeps
 * its distinct terms in the table fts_term. An indexing run collects the
 * terms of its documents in memory (each worker notes the tokens new to
 * it, the main thread gathers them) and adds them sorted, in one batch, at
 * the end of the run: one INSERT per term and document made indexing half
 * as fast. A term whose documents are all gone stays listed until the
 * index is rebuilt: it only expands a query into a term that matches
 * nothing.
 *
 * fts_term is the index's own format, kept apart from the schema version:
 * store_info 'fts_terms' holds the 'fts_next_doc' at which the table listed
 * every term of the index, so documents added by a writer that does not
 * know the table (a cache indexed before it existed, or by an older
 * Outpost) show as a mismatch. The first write then lists the terms again
 * from fts5vocab (once, without re-indexing); until then read transactions
 * search the vocabulary with fts5vocab (slower, same results).
 *
 * The documents' format is versioned the same way: store_info
 * 'fts_all_headers' holds the 'fts_next_doc' up to which every document
 * holds the header fields of its message (OUTPOST_STORAGE_CAP_FTS_ALL_HEADERS).
 * An index with documents made without them (by an older Outpost) is
 * emptied by the next write, and its items are indexed again lazily; until
 * then read transactions index every item of the searched folder privately,
 * so a search never relies on a document without headers. */

struct term_rec {
    struct sq_buf pending;      /* "tok tok " noted by the jobs, not yet in fts_term */
    sqlite3_stmt *ins;
};

/* *up_to_date: whether store_info `key` holds the current 'fts_next_doc'
 * (the index's format property it names holds for every document), or the
 * index never had a document and `empty_ok`. SQLite error code. */
static int info_at_next_doc(struct outpost_storage *s, const char *key, int empty_ok, int *up_to_date)
{
    int64_t at = 0, next = 0;
    int rc = store_info_int(s, key, &at);
    if (rc == SQLITE_OK)
        rc = store_info_int(s, "fts_next_doc", &next);
    *up_to_date = rc == SQLITE_OK && ((empty_ok && next <= 1) || (at > 0 && at == next));
    return rc;
}

/* Whether fts_term lists every term of the index. */
static int terms_listed(struct outpost_storage *s, int *listed)
{
    return info_at_next_doc(s, "fts_terms", 0, listed);
}

/* Whether every document of the index holds its message's header fields
 * (true of an index that never had one). */
static int docs_current(struct outpost_storage *s, int *current)
{
    return info_at_next_doc(s, "fts_all_headers", 1, current);
}

/* FTS5 merges the segments of a level once this many wait there (its
 * default is 4). Every commit of an indexing run writes a segment; with 8,
 * the bench's 10 commits of 10k items merged about half as much: the
 * commits' CPU time 2.1-2.4 s -> 1.3-1.7 s per 100k items, the search as
 * fast. A setting of the index (fts_config), not of its format: set on
 * caches indexed before it too, and read by any Outpost. */
#define SQ_FTS_AUTOMERGE 8

/* Sets the index's automerge (write transaction). SQLite error code. */
static int automerge_ensure(struct outpost_storage *s)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, "SELECT v FROM main.fts_config WHERE k='automerge'", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    int set = rc == SQLITE_ROW && sqlite3_column_int(st, 0) == SQ_FTS_AUTOMERGE;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return rc;
    if (set)
        return SQLITE_OK;
    char sql[96];
    snprintf(sql, sizeof sql, "INSERT INTO fts(fts, rank) VALUES('automerge', %d)", SQ_FTS_AUTOMERGE);
    return sq_exec(s, sql);
}

/* Makes sure fts_term lists every term of the index (write transaction). */
static outpost_status terms_ensure(struct outpost_txn *t)
{
    struct outpost_storage *s = t->s;
    int ok = 0;
    int64_t next = 0;
    int rc = terms_listed(s, &ok);
    if (rc == SQLITE_OK && ok)
        return outpost_ok();
    if (rc == SQLITE_OK)
        rc = sq_exec(s, "CREATE TABLE IF NOT EXISTS fts_term(term TEXT PRIMARY KEY) WITHOUT ROWID;"
                        "INSERT OR IGNORE INTO fts_term(term) SELECT term FROM temp.fts_vocab;");
    if (rc == SQLITE_OK)
        rc = store_info_int(s, "fts_next_doc", &next);
    if (rc == SQLITE_OK)
        rc = store_info_set(s, "fts_terms", next > 0 ? next : 1);
    if (rc != SQLITE_OK)
        return sq_poison(t, sq_db_error(s, rc, "listing the terms of the full-text index"));
    return outpost_ok();
}

/* Keeps the terms a job noted for terms_flush. */
static int terms_note(struct term_rec *tr, const struct sq_buf *newterms)
{
    if (!newterms->len)
        return SQLITE_OK;
    if (sq_buf_reserve(&tr->pending, tr->pending.len + newterms->len + 1))
        return SQLITE_NOMEM;
    memcpy(tr->pending.p + tr->pending.len, newterms->p, newterms->len);
    tr->pending.len += newterms->len;
    tr->pending.p[tr->pending.len] = '\0';
    return SQLITE_OK;
}

struct term_ref {
    const char *p;
    int n;
};

static int cmp_term(const void *a, const void *b)
{
    const struct term_ref *x = a, *y = b;
    int c = memcmp(x->p, y->p, (size_t)(x->n < y->n ? x->n : y->n));
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* Adds the pending terms to fts_term, sorted and each once. */
static int terms_flush(struct term_rec *tr)
{
    size_t n = 0;
    for (size_t i = 0; i < tr->pending.len; i++)
        n += tr->pending.p[i] == ' ';
    if (!n)
        return SQLITE_OK;
    struct term_ref *v = malloc(n * sizeof *v);
    if (!v)
        return SQLITE_NOMEM;
    size_t k = 0;
    for (const char *p = tr->pending.p, *end = p + tr->pending.len; p < end && k < n;) {
        const char *sp = memchr(p, ' ', (size_t)(end - p));
        v[k].p = p;
        v[k++].n = (int)(sp - p);
        p = sp + 1;
    }
    qsort(v, k, sizeof *v, cmp_term);
    int rc = SQLITE_OK;
    for (size_t i = 0; rc == SQLITE_OK && i < k; i++) {
        if (v[i].n == 0 || (i && cmp_term(&v[i - 1], &v[i]) == 0))
            continue;
        sqlite3_bind_text(tr->ins, 1, v[i].p, v[i].n, SQLITE_STATIC);
        rc = sq_exec_stmt(tr->ins);
    }
    free(v);
    tr->pending.len = 0;
    return rc;
}

/* Inserts the documents of a batch (persistent index with fresh document
 * ids and their terms noted in tr, or the private temp index keyed by item
 * id). */
static outpost_status insert_batch(struct outpost_txn *t, struct fts_batch *b, int temp, int64_t *next_doc,
                                   struct term_rec *tr, uint32_t *done)
{
    struct outpost_storage *s = t->s;
    int rc = SQLITE_OK;
    for (int i = 0; i < b->n; i++) {
        struct fts_job *j = &b->jobs[i];
        if (j->damaged && s->host && s->host->log)
            s->host->log(s->host, OUTPOST_LOG_WARNING,
                         "cache %s: the content of item %lld does not decode; it is indexed by its subject and "
                         "addresses only (outpost check names it)", s->path, (long long)j->id);
        if (j->failed)
            return sq_error(s, OUTPOST_FATAL, "out of memory extracting text of item %lld", (long long)j->id);
        int64_t doc = temp ? j->id : (*next_doc)++;
        sqlite3_stmt *ins = sq_stmt(s, temp ? ST_FTS_TMP_INSERT : ST_FTS_INSERT, &rc);
        if (ins) {
            sqlite3_bind_int64(ins, 1, doc);
            sqlite3_bind_null(ins, 2);
            sqlite3_bind_null(ins, 3);
            sqlite3_bind_text(ins, 4, j->doc.p ? j->doc.p : "", (int)j->doc.len, SQLITE_STATIC);
            rc = sq_exec_stmt(ins);
        }
        if (rc == SQLITE_OK && !temp) {
            sqlite3_stmt *up = sq_stmt(s, ST_FTS_SET_DOC, &rc);
            if (up) {
                sqlite3_bind_int64(up, 1, j->id);
                sqlite3_bind_int64(up, 2, doc);
                rc = sq_exec_stmt(up);
            }
        }
        if (rc == SQLITE_OK && !temp)
            rc = terms_note(tr, &j->newterms);
        if (rc == SQLITE_OK && !temp && tr->pending.len > SQ_FTS_TERMS_PENDING)
            rc = terms_flush(tr);
        if (rc != SQLITE_OK)
            return sq_db_error(s, rc, "indexing an item");
        (*done)++;
    }
    return outpost_ok();
}

static void batch_clear(struct fts_batch *b)
{
    for (int i = 0; i < b->n; i++)
        job_free(&b->jobs[i]);
    b->n = 0;
}

/* Indexes items with no document (of folder_id, 0 = all), at most max (0 =
 * all). temp: into temp.fts_tmp keyed by item id, without touching the
 * cache; all (temp only): every item, documents or not. */
static outpost_status index_missing(struct outpost_txn *t, int64_t folder_id, uint32_t max, int temp, int all,
                                    uint32_t *indexed)
{
    struct outpost_storage *s = t->s;
    int64_t next_doc = 0;
    int rc = SQLITE_OK;
    if (!temp && (rc = store_info_int(s, "fts_next_doc", &next_doc)) != SQLITE_OK)
        return sq_db_error(s, rc, "reading the index state");
    if (!temp)
        t->fresh_id = 0; /* it may get a document: content_finish must look again */
    if (next_doc < 1)
        next_doc = 1;
    struct fts_batch *bat = calloc(2, sizeof *bat);
    struct fts_pool *pool = calloc(1, sizeof *pool);
    struct worker_arg args[SQ_FTS_MAX_WORKERS];
    if (!bat || !pool) {
        free(bat);
        free(pool);
        return sq_poison(t, sq_error(s, OUTPOST_FATAL, "out of memory indexing"));
    }
    int nworkers = workers_wanted(max);
    if ((rc = pool_start(pool, s, nworkers, !temp, args)) != SQLITE_OK) {
        free(bat);
        free(pool);
        outpost_status e = sq_db_error(s, rc, "starting the full-text tokenizer");
        return temp ? e : sq_poison(t, e);
    }
    struct fts_scratch x = { 0 };
    struct term_rec tr = { 0 };
    outpost_status result = outpost_ok();
    if (!temp) {
        if ((result = terms_ensure(t)).code == OUTPOST_OK && (rc = automerge_ensure(s)) != SQLITE_OK)
            result = sq_db_error(s, rc, "configuring the full-text index");
        if (result.code == OUTPOST_OK &&
            (rc = sqlite3_prepare_v2(s->db, "INSERT OR IGNORE INTO fts_term(term) VALUES(?1)", -1, &tr.ins,
                                     NULL)) != SQLITE_OK)
            result = sq_db_error(s, rc, "preparing the term list");
    }
    uint32_t done = 0, queued = 0;
    int64_t last_id = 0; /* walk ids upwards (temp mode cannot mark items) */
    struct fts_batch *a = &bat[0], *b = &bat[1];
    if (result.code == OUTPOST_OK)
        result = read_batch(t, folder_id, max ? max : SQ_FTS_BATCH, all, &last_id, a);
    queued = (uint32_t)a->n;
    if (result.code == OUTPOST_OK && a->n)
        pool_post(pool, a);
    while (result.code == OUTPOST_OK && a->n) {
        int stop = !temp && s->host && s->host->cancelled && s->host->cancelled(s->host);
        uint32_t want = stop ? 0 : max ? max - queued : SQ_FTS_BATCH;
        result = read_batch(t, folder_id, want, all, &last_id, b); /* overlaps the extraction of a */
        queued += (uint32_t)b->n;
        pool_wait(pool, nworkers, &x);
        if (result.code == OUTPOST_OK && b->n)
            pool_post(pool, b);
        if (result.code == OUTPOST_OK)
            result = insert_batch(t, a, temp, &next_doc, &tr, &done);
        batch_clear(a);
        struct fts_batch *y = a;
        a = b;
        b = y;
    }
    pool_wait(pool, nworkers, &x); /* nothing left running on a batch */
    pool_stop(pool, nworkers + 1);
    batch_clear(&bat[0]);
    batch_clear(&bat[1]);
    free(bat);
    free(pool);
    scratch_free(&x);
    if (result.code == OUTPOST_OK && !temp && (rc = terms_flush(&tr)) != SQLITE_OK)
        result = sq_db_error(s, rc, "listing the terms of the full-text index");
    sqlite3_finalize(tr.ins);
    free(tr.pending.p);
    if (result.code == OUTPOST_OK && !temp &&
        ((rc = store_info_set(s, "fts_next_doc", next_doc)) != SQLITE_OK ||
         (rc = store_info_set(s, "fts_terms", next_doc)) != SQLITE_OK || /* fts_term has them all */
         (rc = store_info_set(s, "fts_all_headers", next_doc)) != SQLITE_OK)) /* maybe_rebuild made them so */
        result = sq_db_error(s, rc, "writing the index state");
    if (result.code && !temp)
        sq_poison(t, result);
    if (indexed)
        *indexed = done;
    return result;
}

/* Items to index (of folder_id, 0 = all): those without a document, or
 * every one when `all`. */
static int count_missing(struct outpost_storage *s, int64_t folder_id, int all, int64_t *n)
{
    int rc;
    sqlite3_stmt *st = sq_stmt(s, all ? ST_FTS_ALL_COUNT : folder_id ? ST_FTS_TODO_COUNT_FOLDER : ST_FTS_TODO_COUNT, &rc);
    if (!st)
        return rc;
    if (folder_id || all)
        sqlite3_bind_int64(st, 1, folder_id);
    rc = sqlite3_step(st);
    *n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Empties the index when stale documents outnumber live ones, or when some
 * of its documents lack their message's header fields (made by an older
 * Outpost); items are then indexed again lazily. Every write transaction
 * runs it before indexing (index_missing then records the documents as
 * current). */
static outpost_status maybe_rebuild(struct outpost_txn *t)
{
    struct outpost_storage *s = t->s;
    outpost_status c;
    int64_t garbage = 0, total = 0, missing = 0;
    int current = 0;
    int rc = docs_current(s, &current);
    if (rc == SQLITE_OK && !current)
        goto rebuild;
    if (rc == SQLITE_OK)
        rc = store_info_int(s, "fts_garbage", &garbage);
    if (rc != SQLITE_OK || garbage < 10000)
        return rc == SQLITE_OK ? outpost_ok() : sq_db_error(s, rc, "reading the index state");
    sqlite3_stmt *st;
    rc = sqlite3_prepare_v2(s->db, "SELECT count(*) FROM item", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            total = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    if (rc == SQLITE_OK)
        rc = count_missing(s, 0, 0, &missing);
    if (rc != SQLITE_OK)
        return sq_db_error(s, rc, "reading the index state");
    if (garbage <= total - missing)
        return outpost_ok();
rebuild:
    if ((c = terms_ensure(t)).code)
        return c;
    rc = sq_exec(s, "INSERT INTO fts(fts) VALUES('delete-all');"
                    "DELETE FROM fts_term;"
                    "UPDATE item SET fts_doc=NULL WHERE fts_doc IS NOT NULL;"
                    "UPDATE store_info SET value=0 WHERE key='fts_garbage';"
                    "INSERT OR REPLACE INTO store_info(key, value)"
                    " SELECT 'fts_all_headers', value FROM store_info WHERE key='fts_next_doc';");
    if (rc != SQLITE_OK)
        return sq_poison(t, sq_db_error(s, rc, "rebuilding the full-text index"));
    return outpost_ok();
}

outpost_status sq_fts_flush_garbage(struct outpost_txn *t)
{
    struct outpost_storage *s = t->s;
    int64_t g = 0;
    int rc = store_info_int(s, "fts_garbage", &g);
    if (rc == SQLITE_OK)
        rc = store_info_set(s, "fts_garbage", g + t->fts_garbage);
    if (rc != SQLITE_OK)
        return sq_db_error(s, rc, "recording stale index entries");
    t->fts_garbage = 0;
    return outpost_ok();
}

outpost_status sq_fts_index(struct outpost_txn *t, uint32_t max_items, uint32_t *indexed, uint64_t *remaining)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn(t, 1);
    if (c.code)
        return c;
    if (t->fts_garbage && (c = sq_fts_flush_garbage(t)).code)
        return sq_poison(t, c);
    if ((c = maybe_rebuild(t)).code)
        return c;
    c = index_missing(t, 0, max_items, 0, 0, indexed);
    if (c.code)
        return c;
    if (remaining) {
        int64_t n = 0;
        int rc = count_missing(s, 0, 0, &n);
        if (rc != SQLITE_OK)
            return sq_db_error(s, rc, "counting items to index");
        *remaining = (uint64_t)n;
    }
    return outpost_ok();
}

/* ---- search ---- */

/* Folds the query into its distinct tokens, "tok tok " in `out` (as a
 * document is made: docctx_add), with the tokenizer of the index; *n gets
 * their count. */
static int query_tokens(struct outpost_storage *s, const char *q, struct sq_buf *out, size_t *n)
{
    struct fts_tok tk;
    int rc = tok_create(s, &tk);
    if (rc != SQLITE_OK)
        return rc;
    struct tokdict d = { 0 };
    struct docctx dc = { &d, 1, out, NULL };
    rc = tk.api.xTokenize(tk.inst, &dc, FTS5_TOKENIZE_QUERY, q, (int)strlen(q), docctx_add);
    tk.api.xDelete(tk.inst);
    *n = d.used;
    tokdict_free(&d);
    return rc;
}

/* The indexed terms containing one query token, each quoted (quotes
 * doubled) and NUL-terminated in `terms`. */
struct qtok {
    struct sq_buf terms;
    size_t n;
};

static int qtok_add(struct qtok *qt, const char *term, size_t n)
{
    struct sq_buf *b = &qt->terms;
    if (sq_buf_reserve(b, b->len + 2 * n + 4))
        return SQLITE_NOMEM;
    b->p[b->len++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (term[i] == '"')
            b->p[b->len++] = '"';
        b->p[b->len++] = term[i];
    }
    b->p[b->len++] = '"';
    b->p[b->len++] = '\0';
    qt->n++;
    return SQLITE_OK;
}

/* Expands each token of "tok tok " into the terms `vocab` lists for it
 * (those containing ?1): one scan of the vocabulary per token. */
static int expand_tokens(const struct sq_buf *tokens, sqlite3_stmt *vocab, struct qtok *qt)
{
    const char *p = tokens->p, *end = tokens->p + tokens->len;
    int rc = SQLITE_OK;
    for (size_t k = 0; rc == SQLITE_OK && p < end; k++) {
        const char *sp = memchr(p, ' ', (size_t)(end - p));
        sqlite3_bind_text(vocab, 1, p, (int)(sp - p), SQLITE_STATIC);
        while ((rc = sqlite3_step(vocab)) == SQLITE_ROW) {
            const char *term = (const char *)sqlite3_column_text(vocab, 0);
            if (term && (rc = qtok_add(&qt[k], term, (size_t)sqlite3_column_bytes(vocab, 0))) != SQLITE_OK)
                break;
        }
        sqlite3_reset(vocab);
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
        p = sp + 1;
    }
    return rc;
}

/* Appends "(t1 OR t2 ...)" for qt to out, after " AND " unless first. */
static int append_group(struct sq_buf *out, const struct qtok *qt)
{
    if (sq_buf_reserve(out, out->len + qt->terms.len + 4 * qt->n + 8))
        return SQLITE_NOMEM;
    if (out->len)
        out->len += (size_t)sprintf(out->p + out->len, " AND ");
    out->p[out->len++] = '(';
    const char *t = qt->terms.p;
    for (size_t i = 0; i < qt->n; i++) {
        size_t n = strlen(t);
        if (i)
            out->len += (size_t)sprintf(out->p + out->len, " OR ");
        memcpy(out->p + out->len, t, n);
        out->len += n;
        t += n + 1;
    }
    out->p[out->len++] = ')';
    out->p[out->len] = '\0';
    return SQLITE_OK;
}

/* FTS5 evaluates an OR of n terms in time n x matches (1000 terms: 4 s on
 * 100k items), so a token with more terms than this is not put in the MATCH
 * expression: its documents are collected term by term in C. */
#define SQ_FTS_OR_MAX 32

struct bits {
    uint64_t *w;
    int64_t nbits;
};

static int bits_has(const struct bits *b, int64_t i)
{
    return i >= 0 && i < b->nbits && (b->w[i >> 6] >> (i & 63)) & 1;
}

static void bits_set(struct bits *b, int64_t i)
{
    b->w[i >> 6] |= 1ull << (i & 63);
}

static void bits_clear(struct bits *b, int64_t i)
{
    b->w[i >> 6] &= ~(1ull << (i & 63));
}

/* Rows of one index matching every token, written into the temp table
 * `hits`. The candidates start as `universe` (the index's rows that can be
 * hits); tokens with few terms narrow them with one MATCH; each other token
 * keeps the candidates some of its terms contain, term by term, stopping
 * once every candidate is kept. No constraint is dropped. */
static int match_in_c(struct outpost_storage *s, const char *match_sql, const char *universe_sql,
                      int64_t folder_id, const struct qtok *qt, size_t ntok, const char *insert_sql)
{
    sqlite3_stmt *st = NULL;
    struct bits cur = { 0 }, left = { 0 };
    struct sq_buf q = { 0 };
    int64_t ncur = 0, max = 0;
    /* the universe: its largest row sizes the bitmaps */
    int rc = sqlite3_prepare_v2(s->db, universe_sql, -1, &st, NULL);
    for (int pass = 0; rc == SQLITE_OK && pass < 2; pass++) {
        if (folder_id)
            sqlite3_bind_int64(st, 1, folder_id);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            int64_t r = sqlite3_column_int64(st, 0);
            if (pass == 0 && r > max)
                max = r;
            else if (pass == 1 && r >= 0 && !bits_has(&cur, r)) {
                bits_set(&cur, r);
                ncur++;
            }
        }
        sqlite3_reset(st);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        if (rc == SQLITE_OK && pass == 0) {
            size_t words = (size_t)(max / 64 + 1);
            cur.w = calloc(words, sizeof *cur.w);
            left.w = calloc(words, sizeof *left.w);
            cur.nbits = left.nbits = (int64_t)words * 64;
            if (!cur.w || !left.w)
                rc = SQLITE_NOMEM;
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(s->db, match_sql, -1, &st, NULL);
    for (size_t k = 0; rc == SQLITE_OK && k < ntok; k++)
        if (qt[k].n <= SQ_FTS_OR_MAX)
            rc = append_group(&q, &qt[k]);
    /* pass 0: the small tokens at once; pass k: large token k-1 */
    for (size_t pass = 0; rc == SQLITE_OK && ncur && pass <= ntok; pass++) {
        const struct qtok *tk = pass ? &qt[pass - 1] : NULL;
        if (tk ? tk->n <= SQ_FTS_OR_MAX : q.len == 0)
            continue;
        memcpy(left.w, cur.w, (size_t)(cur.nbits / 64) * sizeof *cur.w);
        memset(cur.w, 0, (size_t)(cur.nbits / 64) * sizeof *cur.w);
        int64_t nleft = ncur;
        ncur = 0;
        const char *t = tk ? tk->terms.p : q.p;
        size_t nterms = tk ? tk->n : 1;
        for (size_t i = 0; rc == SQLITE_OK && nleft && i < nterms; i++, t += strlen(t) + 1) {
            sqlite3_bind_text(st, 1, t, -1, SQLITE_STATIC);
            while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                int64_t r = sqlite3_column_int64(st, 0);
                if (bits_has(&left, r)) {
                    bits_clear(&left, r);
                    bits_set(&cur, r);
                    ncur++;
                    if (--nleft == 0)
                        break; /* every candidate kept: the other terms cannot add any */
                }
            }
            sqlite3_reset(st);
            rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(s->db, insert_sql, -1, &st, NULL);
    for (int64_t i = 0; rc == SQLITE_OK && ncur && i < cur.nbits; i++)
        if (bits_has(&cur, i)) {
            sqlite3_bind_int64(st, 1, i);
            rc = sq_exec_stmt(st);
        }
    sqlite3_finalize(st);
    free(cur.w);
    free(left.w);
    free(q.p);
    return rc;
}

/* Creates the per-connection TEMP index used by read transactions; called
 * by open() outside any transaction, so a rollback cannot take it away. */
int sq_fts_create_temp(struct outpost_storage *s)
{
    return sq_exec(s, "CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_tmp USING fts5(subject, addrs, body,"
                      " tokenize='unicode61 remove_diacritics 2', detail=none);"
                      "CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_vocab USING fts5vocab(main, fts, row);"
                      "CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_tmp_vocab USING fts5vocab(temp, fts_tmp, row);"
                      "CREATE TEMP TABLE IF NOT EXISTS fts_hit(doc INTEGER PRIMARY KEY);"
                      "CREATE TEMP TABLE IF NOT EXISTS fts_hit_tmp(id INTEGER PRIMARY KEY);");
}

static outpost_status prepare_temp(struct outpost_storage *s)
{
    int rc = sq_exec(s, "DELETE FROM temp.fts_tmp");
    return rc == SQLITE_OK ? outpost_ok() : sq_db_error(s, rc, "clearing the private search index");
}

outpost_status sq_fts_search(struct outpost_txn *t, int64_t folder_id, const char *query,
                             struct outpost_cursor **out)
{
    struct outpost_storage *s = t->s;
    outpost_status c = sq_check_txn(t, 0);
    if (c.code)
        return c;
    if (!query)
        return sq_error(s, OUTPOST_BAD_DATA, "fts_search: query is NULL");
    struct sq_buf tokens = { 0 }, q = { 0 };
    size_t ntokens = 0;
    int rc = query_tokens(s, query, &tokens, &ntokens);
    if (rc != SQLITE_OK || ntokens == 0) {
        free(tokens.p);
        return rc != SQLITE_OK ? sq_db_error(s, rc, "tokenizing the query")
                               : sq_error(s, OUTPOST_BAD_DATA, "fts_search: the query has no word to search for");
    }
    int temp = 0, only_temp = 0; /* only_temp: the persistent index is not used at all */
    if (t->mode == OUTPOST_TXN_WRITE) {
        if (t->fts_garbage)
            c = sq_fts_flush_garbage(t);
        if (c.code == OUTPOST_OK)
            c = maybe_rebuild(t);
        if (c.code == OUTPOST_OK)
            c = index_missing(t, folder_id, 0, 0, 0, NULL); /* makes fts_term complete */
    } else {
        int64_t missing = 0;
        int current = 0;
        rc = docs_current(s, &current);
        only_temp = !current; /* documents without headers: index every item privately */
        if (rc == SQLITE_OK)
            rc = count_missing(s, folder_id, only_temp, &missing);
        if (rc != SQLITE_OK)
            c = sq_db_error(s, rc, "counting items to index");
        else if (missing || only_temp) {
            temp = 1;
            c = prepare_temp(s);
            if (c.code == OUTPOST_OK && missing)
                c = index_missing(t, folder_id, missing > UINT32_MAX ? 0 : (uint32_t)missing, 1, only_temp, NULL);
        }
    }
    int listed = 0;
    if (c.code == OUTPOST_OK && (rc = terms_listed(s, &listed)) != SQLITE_OK)
        c = sq_db_error(s, rc, "reading the index state");
    struct qtok *qt = calloc(ntokens, sizeof *qt);
    int in_c = 0;
    if (c.code == OUTPOST_OK && !qt)
        c = sq_error(s, OUTPOST_FATAL, "out of memory searching");
    if (c.code == OUTPOST_OK) {
        /* the vocabulary of the persistent index, and of the private one
         * when it is used (terms missing from one index match nothing there) */
        char sql[256];
        sqlite3_stmt *vocab = NULL;
        if (only_temp)
            snprintf(sql, sizeof sql, "SELECT term FROM temp.fts_tmp_vocab WHERE instr(term, ?1) > 0");
        else
            snprintf(sql, sizeof sql, "SELECT term FROM %s WHERE instr(term, ?1) > 0%s",
                     listed ? "main.fts_term" : "temp.fts_vocab",
                     temp ? " UNION SELECT term FROM temp.fts_tmp_vocab WHERE instr(term, ?1) > 0" : "");
        if ((rc = sqlite3_prepare_v2(s->db, sql, -1, &vocab, NULL)) == SQLITE_OK)
            rc = expand_tokens(&tokens, vocab, qt);
        sqlite3_finalize(vocab);
        /* the MATCH expression: an AND of OR-groups; a token no term
         * contains makes it the empty phrase, which matches nothing */
        int none = 0;
        for (size_t k = 0; k < ntokens; k++) {
            none |= qt[k].n == 0;
            in_c |= qt[k].n > SQ_FTS_OR_MAX;
        }
        if (rc == SQLITE_OK && none) {
            in_c = 0;
            rc = sq_buf_reserve(&q, 3) ? SQLITE_NOMEM : SQLITE_OK;
            if (rc == SQLITE_OK)
                q.len = (size_t)sprintf(q.p, "\"\"");
        } else if (rc == SQLITE_OK && !in_c) {
            for (size_t k = 0; rc == SQLITE_OK && k < ntokens; k++)
                rc = append_group(&q, &qt[k]);
        } else if (rc == SQLITE_OK) {
            rc = sq_exec(s, "DELETE FROM temp.fts_hit; DELETE FROM temp.fts_hit_tmp;");
            if (rc == SQLITE_OK && !only_temp)
                rc = match_in_c(s, "SELECT rowid FROM main.fts WHERE fts MATCH ?1",
                                folder_id ? "SELECT fts_doc FROM item WHERE folder_id=?1 AND fts_doc IS NOT NULL"
                                          : "SELECT fts_doc FROM item WHERE fts_doc IS NOT NULL",
                                folder_id, qt, ntokens, "INSERT INTO temp.fts_hit(doc) VALUES(?1)");
            if (rc == SQLITE_OK && temp) /* holds the missing items of the folder only */
                rc = match_in_c(s, "SELECT rowid FROM temp.fts_tmp WHERE fts_tmp MATCH ?1",
                                "SELECT rowid FROM temp.fts_tmp", 0, qt, ntokens,
                                "INSERT INTO temp.fts_hit_tmp(id) VALUES(?1)");
        }
        if (rc != SQLITE_OK)
            c = sq_db_error(s, rc, "expanding the query");
    }
    for (size_t k = 0; qt && k < ntokens; k++)
        free(qt[k].terms.p);
    free(qt);
    free(tokens.p);
    if (c.code) {
        free(q.p);
        return c;
    }
    enum sq_stmt_id sid = only_temp ? (in_c ? (folder_id ? ST_FTS_SEARCH_HITS_TMPONLY : ST_FTS_SEARCH_HITS_TMPONLY_ALL)
                                            : (folder_id ? ST_FTS_SEARCH_TMPONLY : ST_FTS_SEARCH_TMPONLY_ALL))
                          : in_c ? (folder_id ? ST_FTS_SEARCH_HITS : ST_FTS_SEARCH_HITS_ALL)
                          : temp ? (folder_id ? ST_FTS_SEARCH_TMP : ST_FTS_SEARCH_TMP_ALL)
                                 : (folder_id ? ST_FTS_SEARCH : ST_FTS_SEARCH_ALL);
    sqlite3_stmt *st;
    c = sq_cursor_open(s, sid, ROW_ITEM, out, &st);
    if (c.code == OUTPOST_OK) {
        if (!in_c)
            sqlite3_bind_text(st, 1, q.p, (int)q.len, SQLITE_TRANSIENT);
        if (folder_id)
            sqlite3_bind_int64(st, 2, folder_id);
    }
    free(q.p);
    return c;
}
