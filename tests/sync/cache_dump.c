/* tests/sync/cache_dump.c — prints any cache as JSON, read through the core
 * (config, storage plugin, store), so the sync tests can compare it with the
 * simulator's state dump whatever the storage engine.
 *
 * usage: cache_dump CONFIG [--content]
 *
 * {"folders":[{"id","parent_id","path","name","remote_id","kind","special_use","uidvalidity",
 *   "flags","total","unread","flagged","synced",
 *   "items":[{"id","uid","remote_id","remote_version","kind","flags","keywords",
 *     "size","content_state","message_id","object_uid","subject","from",
 *     "content"?}]}],
 *  "journal":[{"seq","op","state","item_id","folder_id","attempts","message"}]}
 *
 * Content is printed as a string (invalid UTF-8 replaced) only with
 * --content. Takes the cache lock like every command: run it while no
 * daemon runs. Exit 0 ok, 1 error, 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app.h"
#include "report.h"
#include "session.h"

/* Replaces bytes that are not valid UTF-8 with '?', so jansson accepts them. */
static void utf8_scrub(unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        int ok = len && i + len <= n && c != 0;
        for (size_t k = 1; ok && k < len; k++)
            ok = (s[i + k] & 0xC0) == 0x80;
        if (!ok) {
            s[i++] = '?';
            continue;
        }
        i += len;
    }
}

static json_t *content_json(const struct outpost_storage_methods *m, struct outpost_txn *t, int64_t id)
{
    size_t cap = 65536, n = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            return json_null();
        size_t got = 0;
        if (m->content_read(t, id, n, buf + n, cap - n, &got).code != OUTPOST_OK) {
            free(buf);
            return json_null();
        }
        if (!got)
            break;
        n += got;
        if (n == cap) {
            unsigned char *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    utf8_scrub(buf, n);
    json_t *j = json_stringn((const char *)buf, n);
    free(buf);
    return j;
}

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *item_json(const struct outpost_storage_methods *m, struct outpost_txn *t, const outpost_item *it,
                         int with_content, json_t **content_ids)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(it->id));
    json_object_set_new(o, "uid", json_integer(it->uid));
    json_object_set_new(o, "remote_id", str_or_null(it->remote_id));
    json_object_set_new(o, "remote_version", str_or_null(it->remote_version));
    json_object_set_new(o, "kind", json_integer(it->kind));
    json_object_set_new(o, "flags", json_integer(it->flags));
    json_object_set_new(o, "keywords", str_or_null(it->keywords));
    json_object_set_new(o, "size", json_integer((json_int_t)it->size));
    json_object_set_new(o, "content_state", json_integer(it->content_state));
    json_object_set_new(o, "message_id", str_or_null(it->message_id));
    json_object_set_new(o, "object_uid", str_or_null(it->object_uid));
    json_object_set_new(o, "subject", str_or_null(it->subject));
    json_object_set_new(o, "from", str_or_null(it->from));
    (void)m;
    (void)t;
    if (with_content && it->content_state == OUTPOST_CONTENT_COMPLETE)
        json_array_append_new(*content_ids, json_integer(it->id));
    return o;
}

int main(int argc, char **argv)
{
    if (argc < 2 || (argc > 2 && strcmp(argv[2], "--content"))) {
        fprintf(stderr, "usage: cache_dump CONFIG [--content]\n");
        return 2;
    }
    int with_content = argc > 2;
    struct outpost_app app;
    char err[2048];
    if (outpost_app_load(&app, argv[1], 0, err, sizeof err) != 0) {
        fprintf(stderr, "cache_dump: %s\n", err);
        return 1;
    }
    struct outpost_session s;
    int o = outpost_session_open(&s, &app, 0, err, sizeof err);
    if (o != 0) {
        fprintf(stderr, "cache_dump: %s\n", o == 1 ? "the cache is in use (stop the daemon first)" : err);
        outpost_app_free(&app);
        return 1;
    }
    const struct outpost_storage_methods *m = outpost_store_methods(s.store);
    struct outpost_txn *t;
    if (outpost_store_read_begin(s.store, &t).code != OUTPOST_OK) {
        fprintf(stderr, "cache_dump: cannot open a read transaction\n");
        outpost_session_close(&s);
        outpost_app_free(&app);
        return 1;
    }
    json_t *folders = json_array(), *paths = json_object();
    struct outpost_cursor *c;
    const void *row;
    char key[64], path[4096];
    int rc = 0;
    if (m->folder_list(t, &c).code != OUTPOST_OK) {
        rc = 1;
    } else {
        while (m->cursor_next(c, &row).code == OUTPOST_OK && row) {
            const outpost_folder *f = row;
            snprintf(key, sizeof key, "%lld", (long long)f->parent_id);
            json_t *pp = f->parent_id ? json_object_get(paths, key) : NULL;
            snprintf(path, sizeof path, "%s%s%s", pp ? json_string_value(pp) : "", pp ? "/" : "",
                     f->name ? f->name : "");
            snprintf(key, sizeof key, "%lld", (long long)f->id);
            json_object_set_new(paths, key, json_string(path));
            json_t *fo = json_object();
            json_object_set_new(fo, "id", json_integer(f->id));
            json_object_set_new(fo, "parent_id", json_integer(f->parent_id));
            json_object_set_new(fo, "path", json_string(path));
            json_object_set_new(fo, "name", str_or_null(f->name));
            json_object_set_new(fo, "remote_id", str_or_null(f->remote_id));
            json_object_set_new(fo, "kind", json_integer(f->kind));
            json_object_set_new(fo, "special_use", json_integer(f->special_use));
            json_object_set_new(fo, "flags", json_integer(f->flags));
            json_object_set_new(fo, "uidvalidity", json_integer(f->uidvalidity));
            json_object_set_new(fo, "total", json_integer(f->total));
            json_object_set_new(fo, "unread", json_integer(f->unread));
            json_object_set_new(fo, "flagged", json_integer(f->flagged));
            json_object_set_new(fo, "synced", json_boolean(f->sync_state_len > 0));
            json_array_append_new(folders, fo);
        }
        m->cursor_close(c);
    }
    /* Items per folder (a cursor per folder, content read after it closes). */
    size_t i;
    json_t *fo;
    json_array_foreach(folders, i, fo) {
        int64_t fid = json_integer_value(json_object_get(fo, "id"));
        json_t *items = json_array(), *cids = json_array();
        if (m->items_by_uid(t, fid, 1, 0, &c).code != OUTPOST_OK) {
            rc = 1;
        } else {
            while (m->cursor_next(c, &row).code == OUTPOST_OK && row)
                json_array_append_new(items, item_json(m, t, row, with_content, &cids));
            m->cursor_close(c);
        }
        size_t k;
        json_t *io;
        json_array_foreach(items, k, io) {
            int64_t id = json_integer_value(json_object_get(io, "id"));
            size_t x;
            json_t *ci;
            json_array_foreach(cids, x, ci) {
                if (json_integer_value(ci) == id) {
                    json_object_set_new(io, "content", content_json(m, t, id));
                    break;
                }
            }
        }
        json_decref(cids);
        json_object_set_new(fo, "items", items);
    }
    json_t *journal = json_array();
    if (m->journal_list(t, 0, &c).code == OUTPOST_OK) {
        while (m->cursor_next(c, &row).code == OUTPOST_OK && row) {
            const outpost_journal_entry *e = row;
            json_t *je = json_object();
            json_object_set_new(je, "seq", json_integer(e->seq));
            json_object_set_new(je, "op", json_string(outpost_journal_op_name(e->op)));
            json_object_set_new(je, "state", json_string(outpost_journal_state_name(e->state)));
            json_object_set_new(je, "item_id", json_integer(e->item_id));
            json_object_set_new(je, "folder_id", json_integer(e->folder_id));
            json_object_set_new(je, "attempts", json_integer(e->attempts));
            json_object_set_new(je, "message", str_or_null(e->message));
            json_array_append_new(journal, je);
        }
        m->cursor_close(c);
    }
    outpost_store_read_end(s.store, t);
    json_t *out = json_object();
    json_object_set_new(out, "folders", folders);
    json_object_set_new(out, "journal", journal);
    if (json_dumpf(out, stdout, JSON_COMPACT) != 0)
        rc = 1;
    putchar('\n');
    json_decref(out);
    json_decref(paths);
    outpost_session_close(&s);
    outpost_app_free(&app);
    return rc;
}
