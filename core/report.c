/* core/report.c — status and audit reports (see report.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "engine.h"
#include "policy.h"
#include "platform/platform.h"
#include "report.h"
#include "store.h"

const char *outpost_journal_op_name(uint32_t op)
{
    static const char *const names[] = { "?", "create", "update", "flags", "move", "copy", "delete",
                                         "folder-create", "folder-rename", "folder-delete", "subscribe" };
    return op < sizeof names / sizeof *names ? names[op] : "?";
}

const char *outpost_journal_state_name(uint32_t state)
{
    static const char *const names[] = { "pending", "confirmed", "dead", "conflict", "local" };
    return state < sizeof names / sizeof *names ? names[state] : "?";
}

static const char *kind_name(uint32_t k)
{
    switch (k) {
    case 1: return "mail";
    case 2: return "calendar";
    case 3: return "contacts";
    case 4: return "tasks";
    case 5: return "notes";
    default: return "?";
    }
}

static json_t *meta_string(const struct outpost_storage_methods *m, struct outpost_txn *t, const char *key)
{
    const void *v;
    size_t len;
    if (m->meta_get(t, key, &v, &len).code != OUTPOST_OK)
        return json_null();
    return json_stringn(v, len);
}

json_t *outpost_report_status(struct outpost_store *store, struct outpost_engine *engine,
                              const struct outpost_config *cfg)
{
    const struct outpost_storage_methods *m = outpost_store_methods(store);
    json_t *r = json_object();
    char err[1024] = "";
    int32_t code = engine ? outpost_engine_last_error(engine, err, sizeof err) : 0;
    json_object_set_new(r, "daemon", json_boolean(engine != NULL));
    json_object_set_new(r, "online", json_boolean(engine && outpost_engine_online(engine)));
    json_object_set_new(r, "auth_failed", json_boolean(engine && outpost_engine_auth_failed(engine)));
    json_object_set_new(r, "last_error", *err ? json_string(err) : json_null());
    json_object_set_new(r, "last_error_class", *err ? json_string(outpost_status_class_name(code)) : json_null());
    struct outpost_txn *t;
    if (outpost_store_read_begin(store, &t).code != OUTPOST_OK)
        return r;
    json_t *j = json_object();
    for (uint32_t s = OUTPOST_JS_PENDING; s <= OUTPOST_JS_LOCAL; s++) {
        uint64_t n = 0;
        m->journal_count(t, s, &n);
        json_object_set_new(j, outpost_journal_state_name(s), json_integer((json_int_t)n));
    }
    json_object_set_new(r, "journal", j);
    /* Pending edits per folder: one pass over the pending queue. */
    json_t *pending = json_object();
    struct outpost_cursor *c;
    const void *row;
    char key[64];
    if (m->journal_pending(t, 0, &c).code == OUTPOST_OK) {
        while (m->cursor_next(c, &row).code == OUTPOST_OK && row) {
            const outpost_journal_entry *e = row;
            int64_t fid = e->target_folder_id && e->op == OUTPOST_J_ITEM_MOVE ? e->target_folder_id : e->folder_id;
            snprintf(key, sizeof key, "%lld", (long long)fid);
            json_t *n = json_object_get(pending, key);
            json_object_set_new(pending, key, json_integer(n ? json_integer_value(n) + 1 : 1));
        }
        m->cursor_close(c);
    }
    /* Folders with their paths (parents are listed before children). */
    json_t *folders = json_array(), *paths = json_object();
    if (m->folder_list(t, &c).code == OUTPOST_OK) {
        while (m->cursor_next(c, &row).code == OUTPOST_OK && row) {
            const outpost_folder *f = row;
            char path[2048];
            snprintf(key, sizeof key, "%lld", (long long)f->parent_id);
            json_t *pp = f->parent_id ? json_object_get(paths, key) : NULL;
            snprintf(path, sizeof path, "%s%s%s", pp ? json_string_value(pp) : "", pp ? "/" : "", f->name ? f->name : "");
            snprintf(key, sizeof key, "%lld", (long long)f->id);
            json_object_set_new(paths, key, json_string(path));
            json_t *o = json_object();
            json_object_set_new(o, "id", json_integer(f->id));
            json_object_set_new(o, "path", json_string(path));
            json_object_set_new(o, "kind", json_string(kind_name(f->kind)));
            json_object_set_new(o, "items", json_integer(f->total));
            json_object_set_new(o, "unread", json_integer(f->unread));
            json_object_set_new(o, "flagged", json_integer(f->flagged));
            json_t *pn = json_object_get(pending, key);
            json_object_set_new(o, "pending", json_integer(pn ? json_integer_value(pn) : 0));
            int headers, from_config;
            int64_t max_age;
            char pol[64];
            outpost_policy_effective(cfg, f, &headers, &max_age, &from_config);
            outpost_policy_format(headers, max_age, pol, sizeof pol);
            json_object_set_new(o, "name", json_string(f->name ? f->name : ""));
            json_object_set_new(o, "policy", json_string(pol));
            json_object_set_new(o, "policy_source", json_string(from_config ? "config" : "default"));
            json_object_set_new(o, "state", json_string((f->flags & OUTPOST_FOLDER_LOCAL_ONLY) ? "local"
                                                        : f->sync_state_len ? "synced"
                                                                            : "not synced"));
            json_array_append_new(folders, o);
        }
        m->cursor_close(c);
    }
    /* meta lookups after the folder cursor is closed */
    size_t i;
    json_t *o;
    /* Items whose content the server refused (core/policy.h), from the engine's index:
     * an id whose item, record or missing content has gone since is not counted. */
    json_t *unreadable = json_object();
    json_int_t unreadable_all = 0;
    json_t *ids = outpost_content_failures_index(m, t);
    json_array_foreach(ids, i, o) {
        int64_t id = json_integer_value(o);
        const void *pv;
        size_t pl;
        const outpost_item *it;
        if (id <= 0 || m->prop_get(t, id, OUTPOST_CONTENT_FAILURES_PROP, &pv, &pl).code != OUTPOST_OK ||
            m->item_get(t, id, &it).code != OUTPOST_OK || !it || it->content_state == OUTPOST_CONTENT_COMPLETE)
            continue;
        snprintf(key, sizeof key, "%lld", (long long)it->folder_id);
        json_t *c = json_object_get(unreadable, key);
        json_object_set_new(unreadable, key, json_integer(c ? json_integer_value(c) + 1 : 1));
        unreadable_all++;
    }
    json_decref(ids);
    json_object_set_new(r, "unreadable_content", json_integer(unreadable_all));
    json_array_foreach(folders, i, o) {
        long long id = (long long)json_integer_value(json_object_get(o, "id"));
        snprintf(key, sizeof key, "last_sync:%lld", id);
        json_t *ls = meta_string(m, t, key);
        json_object_set_new(o, "last_sync_ms", json_is_string(ls) ? json_integer(atoll(json_string_value(ls))) : json_null());
        json_decref(ls);
        snprintf(key, sizeof key, "folder_error:%lld", id);
        json_object_set_new(o, "last_error", meta_string(m, t, key));
        snprintf(key, sizeof key, "%lld", id);
        json_t *u = json_object_get(unreadable, key);
        json_object_set_new(o, "unreadable_content", json_integer(u ? json_integer_value(u) : 0));
    }
    json_decref(unreadable);
    outpost_store_read_end(store, t);
    json_object_set_new(r, "folders", folders);
    json_decref(pending);
    json_decref(paths);
    return r;
}

json_t *outpost_report_audit(struct outpost_store *store)
{
    const struct outpost_storage_methods *m = outpost_store_methods(store);
    json_t *r = json_object(), *a = json_array();
    json_object_set_new(r, "entries", a);
    struct outpost_txn *t;
    if (outpost_store_read_begin(store, &t).code != OUTPOST_OK)
        return r;
    struct outpost_cursor *c;
    const void *row;
    if (m->journal_list(t, 0, &c).code == OUTPOST_OK) {
        while (m->cursor_next(c, &row).code == OUTPOST_OK && row) {
            const outpost_journal_entry *e = row;
            json_t *o = json_object();
            json_object_set_new(o, "seq", json_integer(e->seq));
            json_object_set_new(o, "op", json_string(outpost_journal_op_name(e->op)));
            json_object_set_new(o, "state", json_string(outpost_journal_state_name(e->state)));
            json_object_set_new(o, "created_ms", json_integer(e->created_ms));
            json_object_set_new(o, "done_ms", e->done_ms ? json_integer(e->done_ms) : json_null());
            json_object_set_new(o, "attempts", json_integer(e->attempts));
            json_object_set_new(o, "item_id", json_integer(e->item_id));
            json_object_set_new(o, "folder_id", json_integer(e->folder_id));
            json_object_set_new(o, "remote_id", e->remote_id ? json_string(e->remote_id) : json_null());
            json_object_set_new(o, "result_remote_id",
                                e->result_remote_id ? json_string(e->result_remote_id) : json_null());
            json_object_set_new(o, "message", e->message ? json_string(e->message) : json_null());
            json_array_append_new(a, o);
        }
        m->cursor_close(c);
    }
    outpost_store_read_end(store, t);
    return r;
}

long long outpost_report_prune(struct outpost_store *store, long long days, int64_t now_ms)
{
    const struct outpost_storage_methods *m = outpost_store_methods(store);
    struct outpost_txn *t;
    if (outpost_store_write_begin(store, &t).code != OUTPOST_OK)
        return -1;
    uint64_t removed = 0;
    if (m->journal_prune(t, now_ms - days * 86400000LL, &removed).code != OUTPOST_OK) {
        outpost_store_write_rollback(store, t);
        return -1;
    }
    return outpost_store_write_commit(store, t).code == OUTPOST_OK ? (long long)removed : -1;
}

static const char *str_or(json_t *o, const char *k, const char *def)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : def;
}

/* Terminal cells of the first bytes of s that fit in `limit` cells (all of
 * s when limit < 0); *end gets where they stop. */
static int cells_of(const char *s, int limit, const char **end)
{
    int used = 0;
    const char *p = s ? s : "";
    while (*p) {
        const char *next = g_utf8_find_next_char(p, NULL);
        gunichar c = g_utf8_get_char_validated(p, -1);
        int cells = 1;
        if (c == (gunichar)-1 || c == (gunichar)-2)
            next = p + 1;
        else if (g_unichar_iszerowidth(c))
            cells = 0;
        else if (g_unichar_iswide(c))
            cells = 2;
        if (limit >= 0 && used + cells > limit)
            break;
        used += cells;
        p = next ? next : p + strlen(p);
    }
    if (end)
        *end = p;
    return used;
}

int outpost_text_cells(const char *s) { return cells_of(s, -1, NULL); }

void outpost_put_column(FILE *out, const char *s, int width, int truncate)
{
    const char *p = s ? s : "", *end;
    int used = cells_of(p, truncate ? width : -1, &end);
    fwrite(p, 1, (size_t)(end - p), out);
    for (; used < width; used++)
        fputc(' ', out);
}

static long long int_of(json_t *o, const char *k) { return (long long)json_integer_value(json_object_get(o, k)); }

void outpost_report_print_status(json_t *s, FILE *out)
{
    json_t *j = json_object_get(s, "journal");
    fprintf(out, "server: %s%s%s\n",
            json_is_true(json_object_get(s, "auth_failed"))
                ? "login refused (authentication failed: fix the password, then `outpost reload`); not syncing"
            : json_is_true(json_object_get(s, "daemon")) ? (json_is_true(json_object_get(s, "online")) ? "online" : "offline")
                                                         : "no daemon running",
            str_or(s, "last_error", NULL) ? " — " : "", str_or(s, "last_error", ""));
    fprintf(out, "edits:  %lld pending, %lld confirmed, %lld dead, %lld in Conflicts, %lld kept locally\n",
            int_of(j, "pending"), int_of(j, "confirmed"), int_of(j, "dead"), int_of(j, "conflict"), int_of(j, "local"));
    long long unreadable = int_of(s, "unreadable_content");
    if (unreadable > 0)
        fprintf(out, "content: %lld item%s whose content the server refuses (an attachment gone): kept without it, "
                "asked for again an hour later, then daily; opening one or `outpost sync` asks at once\n",
                unreadable, unreadable == 1 ? "" : "s");
    json_t *fts = json_object_get(s, "fts");
    if (json_is_object(fts)) {
        json_t *left = json_object_get(fts, "remaining");
        if (json_is_integer(left) && json_integer_value(left) > 0)
            fprintf(out, "search: full-text index catching up, %lld items to go (searches index them first)\n",
                    (long long)json_integer_value(left));
        else if (json_is_integer(left))
            fprintf(out, "search: full-text index complete\n");
    }
    /* The folder column fits the longest path (within reason). */
    int width = 32;
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(s, "folders"), i, f) {
        int w = outpost_text_cells(str_or(f, "path", "?"));
        if (w > width)
            width = w > 60 ? 60 : w;
    }
    outpost_put_column(out, "FOLDER", width, 0);
    fprintf(out, " %-9s %8s %7s %8s %-20s %-10s %s\n", "KIND", "ITEMS", "UNREAD", "PENDING", "LAST SYNC", "STATE",
            "LAST ERROR");
    json_array_foreach(json_object_get(s, "folders"), i, f) {
        char when[32] = "never";
        json_t *ls = json_object_get(f, "last_sync_ms");
        if (json_is_integer(ls)) {
            op_format_utc(json_integer_value(ls), "%Y-%m-%d %H:%M:%SZ", when, sizeof when);
        }
        outpost_put_column(out, str_or(f, "path", "?"), width, 0);
        fprintf(out, " %-9s %8lld %7lld %8lld %-20s %-10s %s\n", str_or(f, "kind", "?"),
                int_of(f, "items"), int_of(f, "unread"), int_of(f, "pending"), when, str_or(f, "state", "?"),
                str_or(f, "last_error", ""));
    }
}

void outpost_report_print_audit(json_t *a, FILE *out)
{
    fprintf(out, "%-7s %-14s %-10s %-20s %-8s %s\n", "SEQ", "OP", "STATE", "WHEN", "ATTEMPTS", "REMOTE ID / MESSAGE");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(a, "entries"), i, e) {
        char when[32];
        op_format_utc(int_of(e, "created_ms"), "%Y-%m-%d %H:%M:%SZ", when, sizeof when);
        const char *rid = str_or(e, "result_remote_id", NULL);
        const char *msg = str_or(e, "message", NULL);
        fprintf(out, "%-7lld %-14s %-10s %-20s %-8lld %s%s%s\n", int_of(e, "seq"), str_or(e, "op", "?"),
                str_or(e, "state", "?"), when, int_of(e, "attempts"), rid ? rid : "", rid && msg ? " — " : "",
                msg ? msg : "");
    }
}
