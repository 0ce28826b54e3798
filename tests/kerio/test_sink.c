/* test_sink.c — the recording sink (see test_sink.h). */
#include "test_sink.h"

#include <stdlib.h>
#include <string.h>

static const char *change_name(uint32_t c)
{
    switch (c) {
    case OUTPOST_CHANGE_ADD: return "add";
    case OUTPOST_CHANGE_UPDATE: return "update";
    case OUTPOST_CHANGE_FLAGS: return "flags";
    case OUTPOST_CHANGE_DELETE: return "delete";
    default: return "?";
    }
}

static json_t *str(const char *s)
{
    return s ? json_string(s) : json_null();
}

static outpost_status on_folder(void *ctx, uint32_t change, const outpost_folder *f)
{
    struct rec *r = ctx;
    json_array_append_new(r->pending, json_pack("{s:s, s:s, s:o, s:o, s:o, s:i, s:i}", "op", "folder", "change",
                                                change_name(change), "id", str(f->remote_id), "parent",
                                                str(f->parent_remote_id), "name", str(f->name), "kind", (int)f->kind,
                                                "use", (int)f->special_use));
    return outpost_ok();
}

static outpost_status on_item(void *ctx, uint32_t change, const outpost_item *it)
{
    struct rec *r = ctx;
    if (r->cur)
        r->protocol_errors++;
    json_t *e = json_pack("{s:s, s:o, s:o, s:i, s:i, s:I, s:o, s:o, s:o}", "op", change_name(change), "id",
                          str(it->remote_id), "version", str(it->remote_version), "flags", (int)it->flags, "kind",
                          (int)it->kind, "size", (json_int_t)it->size, "subject", str(it->subject), "uid",
                          str(it->object_uid), "message_id", str(it->message_id));
    json_array_append_new(r->pending, e);
    if (it->content_state == OUTPOST_CONTENT_COMPLETE) {
        r->cur = e;
        kbuf_reset(&r->content);
    }
    return outpost_ok();
}

static outpost_status on_moved(void *ctx, const char *old_id, const char *to, const outpost_item *it)
{
    struct rec *r = ctx;
    json_array_append_new(r->pending, json_pack("{s:s, s:o, s:o, s:o, s:i}", "op", "moved", "old", str(old_id), "to",
                                                str(to), "id", str(it->remote_id), "flags", (int)it->flags));
    return outpost_ok();
}

static outpost_status on_content(void *ctx, const void *data, size_t len)
{
    struct rec *r = ctx;
    if (!r->cur)
        r->protocol_errors++;
    kbuf_append(&r->content, data, len);
    return outpost_ok();
}

static outpost_status on_content_end(void *ctx)
{
    struct rec *r = ctx;
    if (!r->cur) {
        r->protocol_errors++;
        return outpost_ok();
    }
    json_object_set_new(r->cur, "content", json_stringn(r->content.data ? r->content.data : "", r->content.len));
    if ((size_t)json_integer_value(json_object_get(r->cur, "size")) != r->content.len)
        r->protocol_errors++;
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
        memcpy(r->state, state, len);
        r->state[len] = '\0';
        r->state_len = len;
    }
    r->commits++;
    if (r->after_commit)
        r->after_commit(r, r->after_commit_ctx);
    return outpost_ok();
}

static outpost_status on_failed(void *ctx, uint32_t index, outpost_status st)
{
    struct rec *r = ctx;
    json_array_append_new(r->pending, json_pack("{s:s, s:i, s:i}", "op", "failed", "index", (int)index, "class", st.code));
    return outpost_ok();
}

static outpost_status on_progress(void *ctx, uint64_t done, uint64_t total)
{
    struct rec *r = ctx;
    if (done < r->progress_done)
        r->protocol_errors++; /* progress never goes backwards within a call */
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

void rec_reset(struct rec *r)
{
    json_array_clear(r->events);
    json_array_clear(r->pending);
    r->cur = NULL;
    r->commits = 0;
    r->progress_done = r->progress_total = 0;
}

void rec_free(struct rec *r)
{
    json_decref(r->events);
    json_decref(r->pending);
    kbuf_free(&r->content);
    free(r->state);
    memset(r, 0, sizeof *r);
}

size_t rec_count(const struct rec *r, const char *op)
{
    size_t n = 0, i;
    const json_t *e;
    json_array_foreach(r->events, i, e) if (strcmp(json_string_value(json_object_get(e, "op")), op) == 0) n++;
    return n;
}

const json_t *rec_find(const struct rec *r, const char *op, const char *id)
{
    size_t i;
    const json_t *e;
    json_array_foreach(r->events, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "op")), op) != 0)
            continue;
        const char *eid = json_string_value(json_object_get(e, "id"));
        if (!id || (eid && strcmp(eid, id) == 0))
            return e;
    }
    return NULL;
}
