/* recording_sink.c — the recording sync sink (see recording_sink.h). */
#include "recording_sink.h"

#include <stdlib.h>
#include <string.h>

static outpost_status on_folder(void *ctx, uint32_t change, const outpost_folder *f)
{
    struct rec *r = ctx;
    json_array_append_new(r->pending, json_pack("{s:s, s:i, s:s?, s:s?, s:s?, s:i, s:i, s:i}", "op", "folder", "change",
                                                (int)change, "id", f->remote_id, "parent", f->parent_remote_id,
                                                "name", f->name, "kind", (int)f->kind, "special", (int)f->special_use,
                                                "flags", (int)f->flags));
    return outpost_ok();
}

static outpost_status on_item(void *ctx, uint32_t change, const outpost_item *it)
{
    struct rec *r = ctx;
    if (r->cur)
        r->protocol_errors++; /* previous content not ended */
    json_t *o = json_pack("{s:s, s:i, s:s?, s:s?, s:i, s:i, s:I, s:s?, s:s?, s:s?, s:s?, s:i}", "op", "item", "change",
                          (int)change, "id", it->remote_id, "version", it->remote_version, "kind", (int)it->kind,
                          "flags", (int)it->flags, "size", (json_int_t)it->size, "subject", it->subject,
                          "messageId", it->message_id, "uid", it->object_uid, "from", it->from, "contentState",
                          (int)it->content_state);
    if (o && it->to)
        json_object_set_new(o, "to", json_string(it->to));
    if (o && it->cc)
        json_object_set_new(o, "cc", json_string(it->cc));
    if (o)
        json_object_set_new(o, "date", json_integer(it->date));
    json_array_append(r->pending, o);
    r->cur = it->content_state == OUTPOST_CONTENT_COMPLETE ? o : NULL;
    json_decref(o);
    r->page_items++;
    free(r->content);
    r->content = NULL;
    r->content_len = 0;
    return outpost_ok();
}

static outpost_status on_moved(void *ctx, const char *old_id, const char *to, const outpost_item *it)
{
    struct rec *r = ctx;
    json_array_append_new(r->pending, json_pack("{s:s, s:s?, s:s?, s:s?, s:i}", "op", "moved", "old", old_id, "to", to,
                                                "id", it->remote_id, "flags", (int)it->flags));
    return outpost_ok();
}

static outpost_status on_content(void *ctx, const void *data, size_t len)
{
    struct rec *r = ctx;
    if (!r->cur) {
        r->protocol_errors++;
        return outpost_ok();
    }
    char *p = realloc(r->content, r->content_len + len + 1);
    if (!p)
        abort();
    memcpy(p + r->content_len, data, len);
    r->content = p;
    r->content_len += len;
    p[r->content_len] = '\0';
    json_object_set_new(r->cur, "chunks", json_integer(json_integer_value(json_object_get(r->cur, "chunks")) + 1));
    return outpost_ok();
}

static outpost_status on_content_end(void *ctx)
{
    struct rec *r = ctx;
    if (!r->cur) {
        r->protocol_errors++;
        return outpost_ok();
    }
    json_object_set_new(r->cur, "content", json_stringn(r->content ? r->content : "", r->content_len));
    json_object_set_new(r->cur, "contentLen", json_integer((json_int_t)r->content_len));
    if ((size_t)json_integer_value(json_object_get(r->cur, "size")) != r->content_len)
        r->size_mismatches++;
    r->cur = NULL;
    return outpost_ok();
}

static outpost_status on_commit(void *ctx, const void *state, size_t len)
{
    struct rec *r = ctx;
    if (r->cur)
        r->protocol_errors++;
    json_array_extend(r->events, r->pending);
    json_array_clear(r->pending);
    if (state) {
        free(r->state);
        r->state = malloc(len + 1);
        if (!r->state)
            abort();
        memcpy(r->state, state, len);
        r->state[len] = '\0';
        r->state_len = len;
    }
    r->commits++;
    if (r->page_items > r->max_page)
        r->max_page = r->page_items;
    r->page_items = 0;
    if (r->after_commit)
        r->after_commit(r, r->after_commit_ctx);
    return outpost_ok();
}

static outpost_status on_failed(void *ctx, uint32_t index, outpost_status st)
{
    struct rec *r = ctx;
    json_array_append_new(r->pending, json_pack("{s:s, s:i, s:i}", "op", "failed", "index", (int)index, "status",
                                                (int)st.code));
    return outpost_ok();
}

static outpost_status on_progress(void *ctx, uint64_t done, uint64_t total)
{
    struct rec *r = ctx;
    if (done < r->progress_done)
        r->progress_backwards++; /* progress never goes backwards within a call */
    r->progress_done = done;
    r->progress_total = total;
    return outpost_ok();
}

void rec_init(struct rec *r)
{
    memset(r, 0, sizeof *r);
    r->sink.struct_size = sizeof r->sink;
    r->sink.ctx = r;
    r->sink.folder = on_folder;
    r->sink.item = on_item;
    r->sink.item_moved = on_moved;
    r->sink.content = on_content;
    r->sink.content_end = on_content_end;
    r->sink.commit = on_commit;
    r->sink.item_failed = on_failed;
    r->sink.progress = on_progress;
    r->events = json_array();
    r->pending = json_array();
}

void rec_clear(struct rec *r)
{
    json_array_clear(r->events);
    json_array_clear(r->pending);
    r->cur = NULL;
    r->commits = r->max_page = r->page_items = 0;
    r->progress_done = r->progress_total = 0;
}

void rec_free(struct rec *r)
{
    json_decref(r->events);
    json_decref(r->pending);
    free(r->content);
    free(r->state);
    memset(r, 0, sizeof *r);
}

static int matches(const json_t *e, const char *op, int change, const char *id)
{
    if (strcmp(json_string_value(json_object_get(e, "op")), op) != 0)
        return 0;
    if (change && json_integer_value(json_object_get(e, "change")) != change)
        return 0;
    const char *eid = json_string_value(json_object_get(e, "id"));
    return !id || (eid && strcmp(eid, id) == 0);
}

size_t rec_count(const struct rec *r, const char *op, int change)
{
    size_t n = 0, i;
    json_t *e;
    json_array_foreach(r->events, i, e) n += (size_t)matches(e, op, change, NULL);
    return n;
}

json_t *rec_find(const struct rec *r, const char *op, int change, const char *id)
{
    json_t *found = NULL, *e;
    size_t i;
    json_array_foreach(r->events, i, e) if (matches(e, op, change, id)) found = e;
    return found;
}
