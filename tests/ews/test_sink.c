/* test_sink.c — see test_sink.h. */
#include "test_sink.h"

#include <stdlib.h>
#include <string.h>

static struct rec *R(void *ctx) { return ctx; }

static outpost_status s_folder(void *ctx, uint32_t change, const outpost_folder *f)
{
    struct rec *r = R(ctx);
    json_array_append_new(r->pending, json_pack("{s:s, s:i, s:s?, s:s?, s:s?, s:i, s:i}", "op", "folder", "change",
                                                (int)change, "id", f->remote_id, "parent", f->parent_remote_id,
                                                "name", f->name, "kind", (int)f->kind, "special", (int)f->special_use));
    return outpost_ok();
}

static outpost_status s_item(void *ctx, uint32_t change, const outpost_item *it)
{
    struct rec *r = R(ctx);
    if (r->cur)
        r->protocol_errors++; /* previous content not ended */
    json_t *o = json_pack("{s:s, s:i, s:s?, s:s?, s:i, s:i, s:I, s:s?, s:s?, s:s?, s:s?, s:i}", "op", "item", "change",
                          (int)change, "id", it->remote_id, "version", it->remote_version, "kind", (int)it->kind,
                          "flags", (int)it->flags, "size", (json_int_t)it->size, "subject", it->subject,
                          "messageId", it->message_id, "uid", it->object_uid, "from", it->from, "contentState",
                          (int)it->content_state);
    json_array_append(r->pending, o);
    if (it->content_state == OUTPOST_CONTENT_COMPLETE)
        r->cur = o;
    json_decref(o);
    r->page_items++;
    free(r->content);
    r->content = NULL;
    r->content_len = 0;
    return outpost_ok();
}

static outpost_status s_moved(void *ctx, const char *old_id, const char *to, const outpost_item *it)
{
    struct rec *r = R(ctx);
    json_array_append_new(r->pending, json_pack("{s:s, s:s?, s:s?, s:s?}", "op", "moved", "old", old_id, "to", to,
                                                "id", it->remote_id));
    return outpost_ok();
}

static outpost_status s_content(void *ctx, const void *data, size_t len)
{
    struct rec *r = R(ctx);
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

static outpost_status s_content_end(void *ctx)
{
    struct rec *r = R(ctx);
    if (!r->cur) {
        r->protocol_errors++;
        return outpost_ok();
    }
    json_object_set_new(r->cur, "content", json_stringn(r->content ? r->content : "", r->content_len));
    json_object_set_new(r->cur, "contentLen", json_integer((json_int_t)r->content_len));
    r->cur = NULL;
    return outpost_ok();
}

static outpost_status s_commit(void *ctx, const void *state, size_t len)
{
    struct rec *r = R(ctx);
    if (r->cur)
        r->protocol_errors++;
    json_array_extend(r->events, r->pending);
    json_array_clear(r->pending);
    if (state) {
        free(r->state);
        r->state = malloc(len + 1);
        memcpy(r->state, state, len);
        r->state[len] = '\0';
        r->state_len = len;
    }
    r->commits++;
    if (r->page_items > r->max_page)
        r->max_page = r->page_items;
    r->page_items = 0;
    return outpost_ok();
}

static outpost_status s_failed(void *ctx, uint32_t index, outpost_status st)
{
    struct rec *r = R(ctx);
    json_array_append_new(r->pending, json_pack("{s:s, s:i, s:i}", "op", "failed", "index", (int)index, "status",
                                                (int)st.code));
    return outpost_ok();
}

static outpost_status s_progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    (void)done;
    (void)total;
    return outpost_ok();
}

void rec_init(struct rec *r)
{
    memset(r, 0, sizeof *r);
    r->sink.struct_size = sizeof r->sink;
    r->sink.ctx = r;
    r->sink.folder = s_folder;
    r->sink.item = s_item;
    r->sink.item_moved = s_moved;
    r->sink.content = s_content;
    r->sink.content_end = s_content_end;
    r->sink.commit = s_commit;
    r->sink.item_failed = s_failed;
    r->sink.progress = s_progress;
    r->events = json_array();
    r->pending = json_array();
}

void rec_clear(struct rec *r)
{
    json_array_clear(r->events);
    json_array_clear(r->pending);
    r->cur = NULL;
    r->commits = r->max_page = r->page_items = r->protocol_errors = 0;
}

void rec_free(struct rec *r)
{
    json_decref(r->events);
    json_decref(r->pending);
    free(r->content);
    free(r->state);
    memset(r, 0, sizeof *r);
}

size_t rec_count(const struct rec *r, const char *op, int change)
{
    size_t n = 0, i;
    json_t *e;
    json_array_foreach(r->events, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "op")), op) != 0)
            continue;
        if (change && json_integer_value(json_object_get(e, "change")) != change)
            continue;
        n++;
    }
    return n;
}

json_t *rec_find(const struct rec *r, const char *op, const char *id)
{
    json_t *found = NULL, *e;
    size_t i;
    json_array_foreach(r->events, i, e) {
        const char *eid = json_string_value(json_object_get(e, "id"));
        if (!strcmp(json_string_value(json_object_get(e, "op")), op) && eid && id && !strcmp(eid, id))
            found = e;
    }
    return found;
}
