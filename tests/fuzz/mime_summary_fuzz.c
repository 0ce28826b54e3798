/* tests/fuzz/mime_summary_fuzz.c — libFuzzer target for the summary parser
 * (core/summary.c): MIME from servers and IMAP APPEND is outside input. The
 * first byte picks the item kind (mail most of the time), the rest is the
 * content, fed in two chunks to exercise the builder. */
#include <stdint.h>
#include <string.h>

#include "summary.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t kind = OUTPOST_ITEM_MAIL;
    if (size && data[0] >= 0xF0) {
        static const uint32_t kinds[] = { OUTPOST_ITEM_EVENT, OUTPOST_ITEM_TASK, OUTPOST_ITEM_NOTE,
                                          OUTPOST_ITEM_CONTACT };
        kind = kinds[data[0] & 3];
        data++;
        size--;
    }
    struct outpost_summary_builder *b = outpost_summary_builder_new(kind);
    if (!b)
        return 0;
    char err[256];
    size_t half = size / 2;
    if (outpost_summary_builder_feed(b, data, half, err, sizeof err) == 0 &&
        outpost_summary_builder_feed(b, data + half, size - half, err, sizeof err) == 0) {
        outpost_item it;
        memset(&it, 0, sizeof it);
        it.struct_size = sizeof it;
        struct outpost_summary a;
        outpost_summary_init(&a);
        if (outpost_summary_builder_finish(b, &it, &a, err, sizeof err) == 0 && kind == OUTPOST_ITEM_MAIL) {
            /* the IMAP strings are always produced for mail */
            if (!it.envelope || !it.bodystructure || it.envelope[0] != '(' || it.bodystructure[0] != '(')
                __builtin_trap();
        }
        outpost_summary_release(&a);
    }
    outpost_summary_builder_free(b);
    return 0;
}
