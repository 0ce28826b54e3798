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
 * Body text: for mail, the text/plain and text/html parts decoded by GMime
 * (transfer encoding and charset; HTML tags dropped); for other kinds, the
 * content as is. At most SQ_FTS_SOURCE_MAX bytes of an item are parsed.
 *
 * The index keeps no positions (detail=none) and a 32 MiB pending-term hash:
 * measured, that builds about twice as fast as detail=full, and the search
 * semantics (every word a required prefix) need no positions.
 */
#include <stdlib.h>
#include <string.h>

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

static int mail_text(GByteArray *raw, struct sq_buf *out)
{
    GMimeStream *stream = g_mime_stream_mem_new_with_byte_array(raw); /* owns raw */
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    g_object_unref(stream);
    GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
    g_object_unref(parser);
    if (!msg)
        return 0; /* not MIME: the summary is still indexed */
    int rc = 0;
    GMimePartIter *iter = g_mime_part_iter_new((GMimeObject *)msg);
    do {
        GMimeObject *part = g_mime_part_iter_get_current(iter);
        if (!part || !GMIME_IS_TEXT_PART(part))
            continue;
        GMimeContentType *ct = g_mime_object_get_content_type(part);
        int html = g_mime_content_type_is_type(ct, "text", "html");
        if (!html && !g_mime_content_type_is_type(ct, "text", "plain"))
            continue;
        char *text = g_mime_text_part_get_text((GMimeTextPart *)part);
        if (text) {
            rc = html ? append_html(out, text) : buf_append(out, text, strlen(text));
            g_free(text);
        }
    } while (rc == 0 && g_mime_part_iter_next(iter));
    g_mime_part_iter_free(iter);
    g_object_unref(msg);
    return rc;
}

/* Reads up to SQ_FTS_SOURCE_MAX bytes of an item's content into a GByteArray. */
static GByteArray *read_source(struct outpost_txn *t, int64_t item_id, uint64_t cached)
{
    size_t n = cached > SQ_FTS_SOURCE_MAX ? SQ_FTS_SOURCE_MAX : (size_t)cached;
    GByteArray *raw = g_byte_array_sized_new((guint)n);
    g_byte_array_set_size(raw, (guint)n);
    size_t got = 0;
    outpost_status st = sq_content_read(t, item_id, 0, raw->data, n, &got);
    if (st.code != OUTPOST_OK) {
        g_byte_array_unref(raw);
        return NULL;
    }
    g_byte_array_set_size(raw, (guint)got);
    return raw;
}

/* The body text of an item into out (empty when its content is not cached). */
static int body_text(struct outpost_txn *t, const outpost_item *it, struct sq_buf *out)
{
    out->len = 0;
    if (sq_buf_reserve(out, 1))
        return -1;
    out->p[0] = '\0';
    if (it->content_state != OUTPOST_CONTENT_COMPLETE || it->cached_size == 0)
        return 0;
    GByteArray *raw = read_source(t, it->id, it->cached_size);
    if (!raw)
        return -1;
    if (it->kind == OUTPOST_ITEM_MAIL)
        return mail_text(raw, out);
    int rc = buf_append(out, (const char *)raw->data, raw->len);
    g_byte_array_unref(raw);
    return rc;
}

/* ---- indexing ---- */

static void bind_doc(sqlite3_stmt *st, int64_t docid, const outpost_item *it, struct sq_buf *addrs,
                     const struct sq_buf *body)
{
    addrs->len = 0;
    const char *parts[3] = { it->from, it->to, it->cc };
    for (int i = 0; i < 3; i++)
        if (parts[i])
            buf_append(addrs, parts[i], strlen(parts[i]));
    sqlite3_bind_int64(st, 1, docid);
    sq_bind_text(st, 2, it->subject);
    if (addrs->len)
        sqlite3_bind_text(st, 3, addrs->p, (int)addrs->len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_text(st, 4, body->p, (int)body->len, SQLITE_STATIC);
}

/* Indexes items with no document (of folder_id, 0 = all), at most max (0 =
 * all). temp: into temp.fts_tmp keyed by item id, without touching the cache. */
static outpost_status index_missing(struct outpost_txn *t, int64_t folder_id, uint32_t max, int temp,
                                    uint32_t *indexed)
{
    struct outpost_storage *s = t->s;
    int64_t ids[SQ_FTS_BATCH];
    int64_t next_doc = 0;
    int rc = SQLITE_OK;
    if (!temp && (rc = store_info_int(s, "fts_next_doc", &next_doc)) != SQLITE_OK)
        return sq_db_error(s, rc, "reading the index state");
    if (!temp)
        t->fresh_id = 0; /* it may get a document: content_finish must look again */
    if (next_doc < 1)
        next_doc = 1;
    struct sq_buf body = { 0 }, addrs = { 0 };
    outpost_status result = outpost_ok();
    uint32_t done = 0;
    int64_t last_id = 0; /* walk ids upwards (temp mode cannot mark items) */
    for (;;) {
        uint32_t want = SQ_FTS_BATCH;
        if (max && max - done < want)
            want = max - done;
        if (want == 0)
            break;
        sqlite3_stmt *st = sq_stmt(s, ST_FTS_TODO, &rc);
        if (!st) {
            result = sq_db_error(s, rc, "listing items to index");
            break;
        }
        sqlite3_bind_int64(st, 1, folder_id);
        sqlite3_bind_int64(st, 2, (int64_t)want);
        sqlite3_bind_int64(st, 3, last_id);
        int n = 0;
        while (n < (int)want && (rc = sqlite3_step(st)) == SQLITE_ROW)
            ids[n++] = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            result = sq_db_error(s, rc, "listing items to index");
            break;
        }
        if (n == 0)
            break;
        for (int i = 0; i < n && result.code == OUTPOST_OK; i++) {
            const outpost_item *it;
            result = sq_item_get(t, ids[i], &it);
            if (result.code)
                break;
            if (body_text(t, it, &body)) {
                result = sq_error(s, OUTPOST_FATAL, "out of memory extracting text of item %lld",
                                  (long long)ids[i]);
                break;
            }
            int64_t doc = temp ? ids[i] : next_doc++;
            sqlite3_stmt *ins = sq_stmt(s, temp ? ST_FTS_TMP_INSERT : ST_FTS_INSERT, &rc);
            if (ins) {
                bind_doc(ins, doc, it, &addrs, &body);
                rc = sq_exec_stmt(ins);
            }
            if (rc == SQLITE_OK && !temp) {
                sqlite3_stmt *up = sq_stmt(s, ST_FTS_SET_DOC, &rc);
                if (up) {
                    sqlite3_bind_int64(up, 1, ids[i]);
                    sqlite3_bind_int64(up, 2, doc);
                    rc = sq_exec_stmt(up);
                }
            }
            if (rc != SQLITE_OK)
                result = sq_db_error(s, rc, "indexing an item");
            else
                done++;
            last_id = ids[i];
        }
        if (result.code)
            break;
        if (s->host && s->host->cancelled && s->host->cancelled(s->host) && !temp)
            break; /* idle work: resume later */
    }
    free(body.p);
    free(addrs.p);
    if (result.code == OUTPOST_OK && !temp && (rc = store_info_set(s, "fts_next_doc", next_doc)) != SQLITE_OK)
        result = sq_db_error(s, rc, "writing the index state");
    if (result.code && !temp)
        sq_poison(t, result);
    if (indexed)
        *indexed = done;
    return result;
}

static int count_missing(struct outpost_storage *s, int64_t folder_id, int64_t *n)
{
    int rc;
    sqlite3_stmt *st = sq_stmt(s, folder_id ? ST_FTS_TODO_COUNT_FOLDER : ST_FTS_TODO_COUNT, &rc);
    if (!st)
        return rc;
    if (folder_id)
        sqlite3_bind_int64(st, 1, folder_id);
    rc = sqlite3_step(st);
    *n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Empties the index when stale documents outnumber live ones; items are then
 * indexed again lazily. */
static outpost_status maybe_rebuild(struct outpost_txn *t)
{
    struct outpost_storage *s = t->s;
    int64_t garbage = 0, total = 0, missing = 0;
    int rc = store_info_int(s, "fts_garbage", &garbage);
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
        rc = count_missing(s, 0, &missing);
    if (rc != SQLITE_OK)
        return sq_db_error(s, rc, "reading the index state");
    if (garbage <= total - missing)
        return outpost_ok();
    rc = sq_exec(s, "INSERT INTO fts(fts) VALUES('delete-all');"
                    "UPDATE item SET fts_doc=NULL WHERE fts_doc IS NOT NULL;"
                    "UPDATE store_info SET value=0 WHERE key='fts_garbage';");
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
    c = index_missing(t, 0, max_items, 0, indexed);
    if (c.code)
        return c;
    if (remaining) {
        int64_t n = 0;
        int rc = count_missing(s, 0, &n);
        if (rc != SQLITE_OK)
            return sq_db_error(s, rc, "counting items to index");
        *remaining = (uint64_t)n;
    }
    return outpost_ok();
}

/* ---- search ---- */

/* Length of the separator at p, 0 when p starts a token character: ASCII
 * other than letters and digits, and the punctuation blocks unicode61 also
 * splits on (Latin-1 U+00A0-U+00BF, U+2000-U+206F, CJK U+3000-U+303F). */
static size_t sep_len(const unsigned char *p)
{
    if (*p < 0x80)
        return ((*p >= '0' && *p <= '9') || ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z')) ? 0 : 1;
    if (p[0] == 0xC2 && p[1] >= 0xA0 && p[1] <= 0xBF)
        return 2;
    if (p[0] == 0xE2 && (p[1] == 0x80 || p[1] == 0x81) && p[2])
        return 3;
    if (p[0] == 0xE3 && p[1] == 0x80 && p[2])
        return 3;
    return 0;
}

/* Builds the FTS5 query: every token of every word a quoted prefix term,
 * all required. The index keeps no positions (detail=none: about twice as
 * fast to build), so "foo-bar" means foo* AND bar*, which finds a superset
 * of the phrase; storage.h allows matching more, never less. */
static int build_query(const char *q, struct sq_buf *out)
{
    out->len = 0;
    int words = 0;
    const unsigned char *p = (const unsigned char *)q;
    for (;;) {
        size_t n;
        while (*p && (n = sep_len(p)) > 0)
            p += n;
        if (!*p)
            break;
        const unsigned char *w = p;
        while (*p && sep_len(p) == 0)
            p++;
        n = (size_t)(p - w);
        if (sq_buf_reserve(out, out->len + n + 16))
            return -1;
        if (words++)
            out->len += (size_t)sprintf(out->p + out->len, " AND ");
        out->p[out->len++] = '"';
        memcpy(out->p + out->len, w, n);
        out->len += n;
        out->p[out->len++] = '"';
        out->p[out->len++] = '*';
        out->p[out->len] = '\0';
    }
    return words;
}

/* Creates the per-connection TEMP index used by read transactions; called
 * by open() outside any transaction, so a rollback cannot take it away. */
int sq_fts_create_temp(struct outpost_storage *s)
{
    return sq_exec(s, "CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_tmp USING fts5(subject, addrs, body,"
                      " tokenize='unicode61 remove_diacritics 2', detail=none)");
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
    struct sq_buf q = { 0 };
    int words = build_query(query, &q);
    if (words <= 0) {
        free(q.p);
        return sq_error(s, OUTPOST_BAD_DATA, "fts_search: the query has no word to search for");
    }
    int temp = 0;
    if (t->mode == OUTPOST_TXN_WRITE) {
        if (t->fts_garbage && (c = sq_fts_flush_garbage(t)).code == OUTPOST_OK)
            c = maybe_rebuild(t);
        if (c.code == OUTPOST_OK)
            c = index_missing(t, folder_id, 0, 0, NULL);
    } else {
        int64_t missing = 0;
        int rc = count_missing(s, folder_id, &missing);
        if (rc != SQLITE_OK)
            c = sq_db_error(s, rc, "counting items to index");
        else if (missing) {
            temp = 1;
            c = prepare_temp(s);
            if (c.code == OUTPOST_OK)
                c = index_missing(t, folder_id, 0, 1, NULL);
        }
    }
    if (c.code) {
        free(q.p);
        return c;
    }
    enum sq_stmt_id sid = temp ? (folder_id ? ST_FTS_SEARCH_TMP : ST_FTS_SEARCH_TMP_ALL)
                               : (folder_id ? ST_FTS_SEARCH : ST_FTS_SEARCH_ALL);
    sqlite3_stmt *st;
    c = sq_cursor_open(s, sid, ROW_ITEM, out, &st);
    if (c.code == OUTPOST_OK) {
        sqlite3_bind_text(st, 1, q.p, (int)q.len, SQLITE_TRANSIENT);
        if (folder_id)
            sqlite3_bind_int64(st, 2, folder_id);
    }
    free(q.p);
    return c;
}
