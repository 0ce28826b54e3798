/* fb_fts.c — full-text search: a token text per item, scanned at search time.
 *
 * Firebird 3 has no full-text index, so this is the documented slower path:
 * indexing (fts_index at idle time, or fts_search in a write transaction)
 * stores for each item one token text (in the value store, fb_val.c, space
 * VS_FTS) holding its distinct tokens, each preceded by a space:
 * " budget lighthouse resume ...". A token is a run of
 * letters and digits, NFKD-decomposed with the combining marks dropped and
 * lower-cased (so "Résumé" → "resume", as SQLite's unicode61 tokenizer with
 * remove_diacritics does). A search reads the token texts of the folder's
 * items in folder/UID order and keeps the items where every query token
 * occurs inside one of their tokens: a query token has no space, so it
 * occurs in the text only within a token ("arbour" finds " harbour "). A
 * query word made of several tokens ("bob@example.org") needs all of them,
 * which may match more than a phrase would, never less.
 *
 * The text of mail is the name and decoded value of every header field of
 * the message and its text/plain and text/html parts, so a miss is final for
 * IMAP SEARCH TEXT (OUTPOST_STORAGE_CAP_FTS_ALL_HEADERS).
 *
 * Items not yet indexed (fts_state 0: new, summary changed, content just
 * completed; 1: indexed by an older Outpost, without the header fields) are
 * indexed first in a write transaction; a read transaction, which must not
 * write, computes their tokens on the fly. Indexed items have fts_state
 * FTS_DONE. Dropping content keeps the tokens, so the item stays findable.
 *
 * Cost: a search reads every token text of the folder (about a fifth of the
 * mail's text size), so it grows with the folder; see README.md for numbers.
 */
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "fb_internal.h"

#define FTS_SOURCE_MAX (16u * 1024u * 1024u)
#define FTS_DONE 2 /* item.fts_state of an item whose token text is current */
#define FTS_BATCH 256

/* ---- tokens ---- */

/* Appends token `tok` as " tok" unless `seen` has it. */
static void emit(GString *tok, GString *out, GHashTable *seen)
{
    if (!tok->len)
        return;
    if (!seen || !g_hash_table_contains(seen, tok->str)) {
        if (seen)
            g_hash_table_add(seen, g_strdup(tok->str));
        g_string_append_c(out, ' ');
        g_string_append_len(out, tok->str, (gssize)tok->len);
    }
    g_string_truncate(tok, 0);
}

/* The general path for a run holding non-ASCII bytes: NFKD, marks dropped,
 * lower-cased, split at anything that is not a letter or digit. */
static void unicode_tokens(const char *text, size_t len, GString *tok, GString *out, GHashTable *seen)
{
    gchar *valid = g_utf8_make_valid(text, (gssize)len);
    gchar *nfkd = g_utf8_normalize(valid, -1, G_NORMALIZE_ALL);
    g_free(valid);
    if (!nfkd)
        return;
    for (const gchar *p = nfkd;; p = g_utf8_next_char(p)) {
        gunichar ch = *p ? g_utf8_get_char(p) : 0;
        if (ch && g_unichar_ismark(ch))
            continue; /* a diacritic: part of the letter before it */
        if (ch && g_unichar_isalnum(ch)) {
            g_string_append_unichar(tok, g_unichar_tolower(ch));
            continue;
        }
        emit(tok, out, seen);
        if (!ch)
            break;
    }
    g_free(nfkd);
}

static int ascii_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Appends the tokens of UTF-8 text to `out` as " tok" each; with `seen`, only
 * tokens not seen before. ASCII punctuation and spaces always separate tokens
 * (NFKD leaves ASCII alone and never reorders across it), so the text is cut
 * there and runs of plain ASCII letters and digits skip the Unicode path. */
static void add_tokens(const char *text, size_t len, GString *out, GHashTable *seen)
{
    if (!text || !len)
        return;
    const unsigned char *u = (const unsigned char *)text;
    GString *tok = g_string_new(NULL);
    size_t i = 0;
    while (i < len) {
        if (u[i] < 0x80 && !ascii_alnum(u[i])) {
            i++;
            continue;
        }
        size_t j = i;
        int ascii = 1;
        while (j < len && (u[j] >= 0x80 || ascii_alnum(u[j]))) {
            ascii &= u[j] < 0x80;
            j++;
        }
        if (ascii) {
            for (size_t k = i; k < j; k++)
                g_string_append_c(tok, (gchar)(u[k] >= 'A' && u[k] <= 'Z' ? u[k] + 32 : u[k]));
            emit(tok, out, seen);
        } else {
            unicode_tokens(text + i, j - i, tok, out, seen);
        }
        i = j;
    }
    g_string_free(tok, TRUE);
}

/* Appends HTML text without its tags. */
static void add_html(const char *html, GString *out, GHashTable *seen)
{
    GString *plain = g_string_new(NULL);
    int in_tag = 0;
    for (const char *p = html; *p; p++) {
        if (*p == '<')
            in_tag = 1;
        else if (*p == '>' && in_tag) {
            in_tag = 0;
            g_string_append_c(plain, ' ');
        } else if (!in_tag)
            g_string_append_c(plain, *p);
    }
    add_tokens(plain->str, plain->len, out, seen);
    g_string_free(plain, TRUE);
}

/* The header fields (name and decoded value) and the text/plain and
 * text/html parts of a MIME message, decoded by GMime; content GMime cannot
 * parse is taken as is. raw stays the caller's. */
static void mail_tokens(GByteArray *raw, GString *out, GHashTable *seen)
{
    GMimeStream *stream = g_mime_stream_mem_new_with_byte_array(raw);
    g_mime_stream_mem_set_owner((GMimeStreamMem *)stream, FALSE); /* raw outlives msg */
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    g_object_unref(stream);
    GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
    g_object_unref(parser);
    if (!msg) {
        add_tokens((const char *)raw->data, raw->len, out, seen);
        return;
    }
    GMimeHeaderList *hl = g_mime_object_get_header_list((GMimeObject *)msg);
    int nh = hl ? g_mime_header_list_get_count(hl) : 0;
    for (int i = 0; i < nh; i++) {
        GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
        const char *name = h ? g_mime_header_get_name(h) : NULL;
        const char *value = h ? g_mime_header_get_value(h) : NULL;
        if (name)
            add_tokens(name, strlen(name), out, seen);
        if (value)
            add_tokens(value, strlen(value), out, seen);
    }
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
            if (html)
                add_html(text, out, seen);
            else
                add_tokens(text, strlen(text), out, seen);
            g_free(text);
        }
    } while (g_mime_part_iter_next(iter));
    g_mime_part_iter_free(iter);
    g_object_unref(msg);
}

/* The token text of item `id` (summary and cached body). NULL with the
 * status in s on failure; the caller frees the GString. */
static GString *item_tokens(struct outpost_txn *t, int64_t id, outpost_status *err)
{
    struct outpost_storage *s = t->s;
    const outpost_item *it;
    *err = fb_item_get(t, id, &it);
    if (err->code)
        return NULL;
    GString *out = g_string_new(NULL);
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    const char *fields[4] = { it->subject, it->from, it->to, it->cc };
    for (int i = 0; i < 4; i++)
        if (fields[i])
            add_tokens(fields[i], strlen(fields[i]), out, seen);
    uint32_t kind = it->kind;
    uint64_t cached = it->cached_size;
    if (it->content_state == OUTPOST_CONTENT_COMPLETE && cached) {
        size_t n = cached > FTS_SOURCE_MAX ? FTS_SOURCE_MAX : (size_t)cached;
        GByteArray *raw = g_byte_array_sized_new((guint)n);
        g_byte_array_set_size(raw, (guint)n);
        size_t got = 0;
        *err = fb_content_read(t, id, 0, raw->data, n, &got);
        if (err->code) {
            g_byte_array_unref(raw);
            g_hash_table_destroy(seen);
            g_string_free(out, TRUE);
            return NULL;
        }
        g_byte_array_set_size(raw, (guint)got);
        if (kind == OUTPOST_ITEM_MAIL)
            mail_tokens(raw, out, seen);
        else
            add_tokens((const char *)raw->data, raw->len, out, seen);
        g_byte_array_unref(raw);
    }
    g_hash_table_destroy(seen);
    g_string_append_c(out, ' ');
    (void)s;
    return out;
}

/* ---- indexing ---- */

static outpost_status index_missing(struct outpost_txn *t, int64_t folder_id, uint32_t max, uint32_t *indexed)
{
    struct outpost_storage *s = t->s;
    int64_t ids[FTS_BATCH];
    uint32_t done = 0;
    int64_t last_id = 0;
    outpost_status result = outpost_ok();
    for (;;) {
        uint32_t want = FTS_BATCH;
        if (max && max - done < want)
            want = max - done;
        if (want == 0)
            break;
        struct fb_stmt *st = fb_stmt(s, ST_FTS_TODO);
        if (!st)
            return fb_poison(t, fb_db_error(s, "listing items to index"));
        fb_bind_int(st, 0, want);
        fb_bind_int(st, 1, folder_id);
        fb_bind_int(st, 2, folder_id);
        fb_bind_int(st, 3, last_id);
        if (fb_exec(s, st))
            return fb_poison(t, fb_db_error(s, "listing items to index"));
        int n = 0, r;
        while (n < (int)want && (r = fb_fetch(s, st)) == 1)
            ids[n++] = fb_col_int(st, 0);
        fb_stmt_close(s, st);
        if (r < 0)
            return fb_poison(t, fb_db_error(s, "listing items to index"));
        if (n == 0)
            break;
        for (int i = 0; i < n; i++) {
            GString *text = item_tokens(t, ids[i], &result);
            if (!text)
                return fb_poison(t, result);
            struct fb_stmt *up = fb_stmt(s, ST_FTS_SET);
            int bad = !up || fb_val_put(s, VS_FTS, ids[i], NULL, text->str, text->len);
            g_string_free(text, TRUE);
            if (!bad) {
                fb_bind_int(up, 0, ids[i]);
                bad = fb_exec(s, up);
            }
            if (bad)
                return fb_poison(t, fb_db_error(s, "indexing an item"));
            done++;
            last_id = ids[i];
        }
        if (s->host && s->host->cancelled && s->host->cancelled(s->host))
            break; /* idle work: resume later */
    }
    if (indexed)
        *indexed = done;
    return result;
}

static int count_missing(struct outpost_storage *s, int64_t folder_id, int64_t *n)
{
    struct fb_stmt *st = fb_stmt(s, folder_id ? ST_FTS_TODO_COUNT_FOLDER : ST_FTS_TODO_COUNT);
    if (!st)
        return -1;
    if (folder_id)
        fb_bind_int(st, 0, folder_id);
    int r = fb_exec_row(s, st);
    *n = r == 1 ? fb_col_int(st, 0) : 0;
    return r < 0 ? -1 : 0;
}

outpost_status fb_fts_index(struct outpost_txn *t, uint32_t max_items, uint32_t *indexed, uint64_t *remaining)
{
    struct outpost_storage *s = t->s;
    outpost_status c = fb_check_txn(t, 1);
    if (c.code)
        return c;
    if ((c = index_missing(t, 0, max_items, indexed)).code)
        return c;
    if (remaining) {
        int64_t n = 0;
        if (count_missing(s, 0, &n))
            return fb_db_error(s, "counting items to index");
        *remaining = (uint64_t)n;
    }
    return outpost_ok();
}

/* ---- search ---- */

static int matches(const char *text, size_t len, char *const *words, int nwords)
{
    for (int i = 0; i < nwords; i++) {
        const char *w = words[i]; /* a token: inside one of the text's tokens */
        if (!memmem(text, len, w, strlen(w)))
            return 0;
    }
    return 1;
}

/* Adds the token-text part of a scan row (columns part, data; NULL when the
 * item has none) to the item's text. 0 or -1. */
static int scan_part(struct outpost_storage *s, const struct fb_stmt *st, struct fb_val_rd *rd, struct fb_buf *text)
{
    if (fb_col_null(st, 2))
        return 0;
    size_t n;
    const char *d = fb_col_text(st, 3, &n);
    return fb_val_add(s, rd, text, fb_col_int(st, 2), d ? d : "", n);
}

outpost_status fb_fts_search(struct outpost_txn *t, int64_t folder_id, const char *query,
                             struct outpost_cursor **out)
{
    struct outpost_storage *s = t->s;
    outpost_status c = fb_check_txn(t, 0);
    if (c.code)
        return c;
    if (!query)
        return fb_error(s, OUTPOST_BAD_DATA, "fts_search: query is NULL");
    GString *q = g_string_new(NULL);
    add_tokens(query, strlen(query), q, NULL);
    gchar **words = g_strsplit(q->str, " ", -1);
    g_string_free(q, TRUE);
    int nwords = 0;
    for (int i = 0; words[i]; i++) /* " a b" splits into "", "a", "b" */
        if (*words[i])
            words[nwords++] = words[i];
        else
            g_free(words[i]);
    words[nwords] = NULL;
    if (nwords == 0) {
        g_strfreev(words);
        return fb_error(s, OUTPOST_BAD_DATA, "fts_search: the query has no word to search for");
    }
    if (t->mode == OUTPOST_TXN_WRITE && (c = index_missing(t, folder_id, 0, NULL)).code) {
        g_strfreev(words);
        return c;
    }
    struct outpost_cursor *cur;
    struct fb_stmt *st;
    if ((c = fb_cursor_open(s, folder_id ? ST_FTS_SCAN : ST_FTS_SCAN_ALL, ROW_IDLIST, &cur, &st)).code) {
        g_strfreev(words);
        return c;
    }
    if (folder_id)
        fb_bind_int(st, 0, folder_id);
    if ((c = fb_cursor_exec(&cur, "searching")).code) {
        g_strfreev(words);
        return c;
    }
    /* one row per part of an item's token text (one row with NULLs when it
     * has none); an item's rows come together, its parts in any order */
    size_t cap = 0;
    struct fb_buf text = { 0 };
    struct fb_val_rd rd;
    int64_t id = 0;
    int state = 0, have = 0, r;
    for (;;) {
        r = fb_fetch(s, st);
        if (r < 0)
            break;
        int64_t next = r == 1 ? fb_col_int(st, 0) : 0;
        if (r == 1 && have && next == id) { /* another part of the same item */
            if (scan_part(s, st, &rd, &text)) {
                c = fb_db_error(s, "reading the search index");
                break;
            }
            continue;
        }
        if (have) { /* the previous item is complete */
            int hit;
            if (state == FTS_DONE && rd.parts) {
                if (fb_val_end(s, &rd, &text)) {
                    c = fb_db_error(s, "reading the search index");
                    break;
                }
                hit = matches(text.p, text.len, words, nwords);
            } else {
                /* not indexed yet, and this transaction may not write: on the fly */
                GString *tok = item_tokens(t, id, &c);
                if (!tok)
                    break;
                hit = matches(tok->str, tok->len, words, nwords);
                g_string_free(tok, TRUE);
            }
            if (hit) {
                if (cur->nids == cap) {
                    cap = cap ? cap * 2 : 64;
                    int64_t *p = realloc(cur->ids, cap * sizeof *p);
                    if (!p) {
                        c = fb_error(s, OUTPOST_FATAL, "out of memory searching");
                        break;
                    }
                    cur->ids = p;
                }
                cur->ids[cur->nids++] = id;
            }
        }
        if (r == 0)
            break;
        id = next;
        state = (int)fb_col_int(st, 1);
        have = 1;
        text.len = 0;
        fb_val_begin(&rd, &text);
        if (scan_part(s, st, &rd, &text)) {
            c = fb_db_error(s, "reading the search index");
            break;
        }
    }
    if (r < 0 && c.code == OUTPOST_OK)
        c = fb_db_error(s, "searching");
    free(text.p);
    g_strfreev(words);
    if (c.code) {
        fb_cursor_close(cur);
        return c;
    }
    fb_stmt_close(s, st);
    *out = cur;
    return outpost_ok();
}
