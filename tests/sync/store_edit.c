/* tests/sync/store_edit.c — makes local edits through the core's journaled
 * store API (core/store.h, the table front-ends get), the way a calendar or
 * contacts front-end would, for the sync tests.
 *
 * usage: store_edit CONFIG update ITEM_ID FILE
 *        store_edit CONFIG append FOLDER_ID FILE     (prints the new item id)
 *        store_edit CONFIG remove ITEM_ID [permanent]
 *        store_edit CONFIG flags ITEM_ID FLAGS        (OUTPOST_FLAG_* bits, full set)
 *
 * FILE holds the content in the kind's format (iCalendar, vCard, MIME).
 * Takes the cache lock: run it while no daemon runs (the daemon replays the
 * journal when it starts). Exit 0 ok, 1 error (the store's message on
 * stderr), 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <outpost/frontend.h>

#include "app.h"
#include "host.h"
#include "session.h"

static outpost_status file_read(void *ctx, void *buf, size_t cap, size_t *got)
{
    *got = fread(buf, 1, cap, ctx);
    outpost_status st = { ferror((FILE *)ctx) ? OUTPOST_FATAL : OUTPOST_OK, 0, NULL };
    return st;
}

static outpost_status file_rewind(void *ctx)
{
    rewind(ctx);
    return outpost_ok();
}

static int usage(void)
{
    fprintf(stderr, "usage: store_edit CONFIG update ITEM_ID FILE | append FOLDER_ID FILE | "
                    "remove ITEM_ID [permanent] | flags ITEM_ID FLAGS\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return usage();
    const char *op = argv[2];
    int64_t id = atoll(argv[3]);
    FILE *f = NULL;
    if (!strcmp(op, "update") || !strcmp(op, "append")) {
        if (argc != 5)
            return usage();
        if (!(f = fopen(argv[4], "rb"))) {
            perror(argv[4]);
            return 1;
        }
    } else if (strcmp(op, "remove") && strcmp(op, "flags")) {
        return usage();
    }
    struct outpost_app app;
    char err[2048];
    if (outpost_app_load(&app, argv[1], 0, err, sizeof err) != 0) {
        fprintf(stderr, "store_edit: %s\n", err);
        return 1;
    }
    struct outpost_session s;
    int o = outpost_session_open(&s, &app, 0, err, sizeof err);
    if (o != 0) {
        fprintf(stderr, "store_edit: %s\n", o == 1 ? "the cache is in use (stop the daemon first)" : err);
        outpost_app_free(&app);
        if (f)
            fclose(f);
        return 1;
    }
    struct outpost_host *h = outpost_core_host_new(app.cfg, "core", "store_edit", app.data_dir);
    outpost_core_host_set_store(h, outpost_store_api_table());
    outpost_store_bind_host(s.store, h);
    const struct outpost_store_api *api = h->store;
    struct outpost_reader r = { f, UINT64_MAX, file_read, file_rewind };
    outpost_status st;
    if (!strcmp(op, "update")) {
        st = api->update(h, id, &r);
    } else if (!strcmp(op, "append")) {
        int64_t nid = 0;
        st = api->append(h, id, &r, 0, NULL, 0, &nid, NULL);
        if (st.code == OUTPOST_OK)
            printf("%lld\n", (long long)nid);
    } else if (!strcmp(op, "remove")) {
        outpost_item_status ist;
        st = api->remove(h, &id, 1, argc > 4 && !strcmp(argv[4], "permanent"), &ist);
    } else {
        if (argc != 5) {
            st.code = OUTPOST_BAD_DATA;
            st.message = "flags needs FLAGS";
        } else {
            outpost_item_status ist;
            st = api->set_flags(h, &id, 1, OUTPOST_FLAGS_REPLACE, (uint32_t)atol(argv[4]), NULL, NULL, &ist);
        }
    }
    int rc = 0;
    if (st.code != OUTPOST_OK) {
        fprintf(stderr, "store_edit %s: %s: %s\n", op, outpost_status_class_name(st.code),
                st.message ? st.message : "");
        rc = 1;
    }
    if (f)
        fclose(f);
    outpost_core_host_free(h);
    outpost_session_close(&s);
    outpost_app_free(&app);
    return rc;
}
