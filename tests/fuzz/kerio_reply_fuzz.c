/* kerio_reply_fuzz.c — libFuzzer target for everything the Kerio plugin reads from the
 * server or a client: the JSON-RPC reply envelope, page/changes/folder validation, and the
 * converters run on every validated object (mail → MIME with a stub attachment fetch, event
 * (with the series inference of recur.c), task, note → iCalendar, contact → vCard); the same bytes also go through the vCard, iCalendar
 * and MIME readers used on write-back. Anything reaching a converter passed validation, as in
 * the plugin. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "kerio.h"

static int stub_fetch(void *ctx, const char *url, struct kbuf *out, char *err, size_t errlen)
{
    (void)ctx;
    (void)err;
    (void)errlen;
    return kbuf_append(out, url, strlen(url));
}

static void convert_all(uint32_t kind, const json_t *items)
{
    size_t i;
    const json_t *o;
    char err[256];
    json_array_foreach(items, i, o) {
        struct kbuf b = { 0 };
        switch (kind) {
        case OUTPOST_ITEM_MAIL: kerio_mail_to_mime(o, stub_fetch, NULL, &b, err, sizeof err); break;
        case OUTPOST_ITEM_EVENT: {
            kerio_event_to_ical(o, items, &b, err, sizeof err);
            /* the series inference (recur.c) with the page as the event's occurrences */
            json_t *placed = NULL, *exd = NULL;
            if (kerio_series_infer(o, items, 50, &placed, &exd, err, sizeof err) == 0) {
                kbuf_reset(&b);
                kerio_series_to_ical(o, NULL, exd, &b, err, sizeof err);
                json_decref(placed);
                json_decref(exd);
            }
            break;
        }
        case OUTPOST_ITEM_TASK: kerio_task_to_ical(o, &b, err, sizeof err); break;
        case OUTPOST_ITEM_NOTE: kerio_note_to_ical(o, &b, err, sizeof err); break;
        case OUTPOST_ITEM_CONTACT: kerio_contact_to_vcard(o, &b, err, sizeof err); break;
        }
        kbuf_free(&b);
    }
}

static void readers(const uint8_t *data, size_t size)
{
    char err[256];
    json_t *o = NULL;
    char *uid = NULL;
    if (kerio_vcard_to_contact((const char *)data, size, &o, &uid, err, sizeof err) == 0)
        json_decref(o);
    free(uid);
    uid = NULL;
    for (uint32_t k = OUTPOST_ITEM_EVENT; k <= OUTPOST_ITEM_NOTE; k++) {
        if (k == OUTPOST_ITEM_CONTACT)
            continue;
        if (kerio_ical_to_json(k, (const char *)data, size, &o, &uid, err, sizeof err) == 0)
            json_decref(o);
        free(uid);
        uid = NULL;
    }
    struct kerio_parsed_mail pm;
    if (kerio_mime_to_mail((const char *)data, size, &pm, err, sizeof err) == 0)
        kerio_parsed_mail_free(&pm);
    struct kerio_state ks;
    kerio_state_parse(data, size, &ks);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    if (!inited) {
        g_mime_init();
        inited = 1;
    }
    struct kerio_reply r;
    if (kerio_reply_parse((const char *)data, size, &r) == 0) {
        kerio_error_class(r.code, KERIO_CTX_CALL);
        if (!r.is_error) {
            const json_t *items;
            char why[256];
            for (uint32_t k = OUTPOST_ITEM_MAIL; k <= OUTPOST_ITEM_NOTE; k++) {
                if (kerio_validate_list(k, r.result, "list", 1, &items, why, sizeof why) == 0)
                    convert_all(k, items);
                if (kerio_validate_list(k, r.result, "result", 1, &items, why, sizeof why) == 0)
                    convert_all(k, items);
                kerio_validate_list(k, r.result, "list", 0, &items, why, sizeof why);
            }
            const json_t *list;
            struct kerio_key key;
            kerio_validate_folders(r.result, &list, why, sizeof why);
            kerio_validate_changes(r.result, &list, &key, why, sizeof why);
            kerio_batch_error(r.result, 0);
        }
        json_decref(r.root);
    }
    readers(data, size);
    return 0;
}
