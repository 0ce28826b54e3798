/* tests/fuzz/mapi_wire_fuzz.c — the daemon's parser of the MAPI wire
 * protocol: frames split from the input as they arrive on a connection,
 * each payload decoded by mapi_req_decode for its op (restrictions, property
 * values, sort orders, names, entry-id lists), decoded restrictions
 * evaluated against a sample row, and compressed RTF as SetProps would hand
 * it to the mapping; the whole input also as a stored set of associated
 * (FAI) messages (mapi_fai.h), which a damaged cache could hold. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "mapi_fai.h"
#include "mapi_rtf.h"
#include "mapi_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mapi_props row;
    if (row.n == 0) {
        mapi_props_set_str(&row, OP_PR_SUBJECT, "Hello world");
        mapi_props_set_long(&row, OP_PR_MESSAGE_FLAGS, 1);
        mapi_props_set_i8(&row, OP_PR_MESSAGE_DELIVERY_TIME, 133000000000000000LL);
        const char *kw[] = { "a", "b" };
        mapi_props_set_mvstr(&row, OP_PROP_TAG(OP_PT_UNICODE, 0x8001), kw, 2);
    }
    mapi_fai_set fai;
    if (mapi_fai_decode(data, size, &fai) == 0) {
        /* what decodes encodes again into a set that decodes the same */
        mapi_buf b;
        mapi_buf_init(&b);
        mapi_fai_encode(&fai, &b);
        mapi_fai_set again;
        if (!b.oom && (mapi_fai_decode(b.data, b.len, &again) != 0 || again.n != fai.n ||
                       mapi_fai_count(b.data, b.len) != fai.n))
            abort();
        mapi_fai_set_free(&again);
        for (uint32_t i = 0; i < fai.n; i++)
            (void)mapi_fai_msg_size(&fai.v[i].msg);
        mapi_buf_free(&b);
        mapi_fai_set_free(&fai);
    }
    size_t off = 0;
    while (off < size) {
        mapi_frame f;
        size_t used;
        if (mapi_frame_parse(data + off, size - off, &f, &used) != 1)
            break;
        mapi_req q;
        if (mapi_req_decode(f.op, f.payload, f.payload_len, &q) == 0) {
            if (q.res)
                (void)mapi_res_eval(q.res, &row);
            for (uint32_t i = 0; i < q.props.n; i++) {
                const mapi_prop *p = &q.props.p[i];
                if (OP_PROP_ID(p->tag) == OP_PROP_ID(OP_PR_RTF_COMPRESSED) && OP_PROP_TYPE(p->tag) == OP_PT_BINARY) {
                    uint8_t *raw;
                    size_t rl;
                    char err[64];
                    if (mapi_rtf_decompress(p->v.bin.data, p->v.bin.len, &raw, &rl, err, sizeof err) == 0) {
                        int kind;
                        size_t xl;
                        free(mapi_rtf_extract(raw, rl, &kind, &xl));
                        free(raw);
                    }
                }
            }
            mapi_req_clear(&q);
        }
        off += used;
    }
    return 0;
}
