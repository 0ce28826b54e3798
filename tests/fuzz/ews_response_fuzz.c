/* ews_response_fuzz.c — libFuzzer target for the EWS transport's reply parsing: the input is
 * taken as a SOAP reply and read by every parser the transport has (SyncFolderHierarchy,
 * SyncFolderItems, one-id write replies, GetItem batches with MimeContent streaming and the
 * iCalendar / vCard conversion), into a sink that checks the callback protocol. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "ews.h"

struct fz {
    int in_item;
    size_t bytes;
};

static outpost_status f_folder(void *ctx, uint32_t change, const outpost_folder *f)
{
    (void)ctx;
    (void)change;
    (void)f;
    return outpost_ok();
}

static outpost_status f_item(void *ctx, uint32_t change, const outpost_item *it)
{
    struct fz *z = ctx;
    (void)change;
    if (it->subject)
        z->bytes += strlen(it->subject);
    z->in_item = it->content_state == OUTPOST_CONTENT_COMPLETE;
    return outpost_ok();
}

static outpost_status f_moved(void *ctx, const char *a, const char *b, const outpost_item *it)
{
    (void)ctx;
    (void)a;
    (void)b;
    (void)it;
    return outpost_ok();
}

static outpost_status f_content(void *ctx, const void *data, size_t len)
{
    struct fz *z = ctx;
    if (!z->in_item)
        abort(); /* content without an announced item */
    if (len)
        z->bytes += ((const unsigned char *)data)[len - 1];
    return outpost_ok();
}

static outpost_status f_end(void *ctx)
{
    struct fz *z = ctx;
    if (!z->in_item)
        abort();
    z->in_item = 0;
    return outpost_ok();
}

static outpost_status f_commit(void *ctx, const void *state, size_t len)
{
    (void)ctx;
    (void)state;
    (void)len;
    return outpost_ok();
}

static outpost_status f_failed(void *ctx, uint32_t index, outpost_status st)
{
    (void)ctx;
    (void)index;
    (void)st;
    return outpost_ok();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        xmlInitParser();
        init = 1;
    }
    FILE *f = tmpfile();
    if (!f)
        return 0;
    /* spooled as a reply is: through the filter of characters XML does not allow */
    struct ews_xmlfix fix;
    ews_xmlfix_init(&fix, f);
    if (ews_xmlfix_write(&fix, (const char *)data, size) || ews_xmlfix_end(&fix)) {
        fclose(f);
        return 0;
    }
    fflush(f);
    struct ews *e = calloc(1, sizeof *e);
    struct fz z = {0, 0};
    struct outpost_sync_sink sink = {sizeof sink, &z, f_folder, f_item, f_moved, f_content, f_end, f_commit, f_failed, NULL};
    if (e) {
        e->batch = EWS_MAX_BATCH;
        ews_parse_any(e, f, &sink);
        free(e);
    }
    fclose(f);
    return 0;
}
