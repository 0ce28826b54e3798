/* tests/mapi/mapi_test_client.c — see header. */
#include "mapi_test_client.h"

#include <string.h>

int tc_connect(tclient *c, uint16_t port)
{
    char err[256];
    memset(c, 0, sizeof *c);
    c->next_id = 1;
    c->s = mapi_os_connect("127.0.0.1", port, 2000, err, sizeof err);
    return c->s == MAPI_BAD_SOCK ? -1 : 0;
}

void tc_close(tclient *c)
{
    mapi_os_close(c->s);
    mapi_buf_free(&c->in);
    mapi_buf_free(&c->notes);
    c->s = MAPI_BAD_SOCK;
}

/* Reads one frame (bounded by timeout); 1 with *f pointing into c->in, 0
 * timeout, -1 error. The caller consumes *used bytes. */
static int read_frame(tclient *c, int timeout_ms, mapi_frame *f, size_t *used)
{
    int64_t deadline = mapi_os_monotonic_ms() + timeout_ms;
    for (;;) {
        int pr = mapi_frame_parse(c->in.data, c->in.len, f, used);
        if (pr != 0)
            return pr;
        int64_t left = deadline - mapi_os_monotonic_ms();
        if (left <= 0)
            return 0;
        int rd = mapi_os_wait_readable(c->s, (int)left);
        if (rd <= 0)
            return rd;
        uint8_t buf[65536];
        long n = mapi_os_recv(c->s, buf, sizeof buf);
        if (n <= 0)
            return -1;
        mapi_buf_add(&c->in, buf, (size_t)n);
    }
}

static void consume(tclient *c, size_t used)
{
    memmove(c->in.data, c->in.data + used, c->in.len - used);
    c->in.len -= used;
}

int tc_call_ms(tclient *c, uint16_t op, const mapi_buf *req, uint32_t *sc, mapi_buf *rep, int timeout_ms)
{
    uint32_t id = c->next_id++;
    mapi_buf out;
    mapi_buf_init(&out);
    size_t st = mapi_w_begin(&out, op, 0, id);
    if (req && req->len)
        mapi_buf_add(&out, req->data, req->len);
    mapi_w_end(&out, st);
    int rc = mapi_os_send_all(c->s, out.data, out.len, timeout_ms);
    mapi_buf_free(&out);
    if (rc != 0)
        return -1;
    for (;;) {
        mapi_frame f;
        size_t used;
        if (read_frame(c, timeout_ms, &f, &used) != 1)
            return -1;
        if (f.flags & MAPI_WF_NOTIFY) {
            mapi_w_u32(&c->notes, (uint32_t)f.payload_len);
            mapi_buf_add(&c->notes, f.payload, f.payload_len);
            consume(c, used);
            continue;
        }
        if (f.id != id || f.payload_len < 4) {
            consume(c, used);
            return -1;
        }
        mapi_rd r;
        mapi_rd_init(&r, f.payload, f.payload_len);
        *sc = mapi_r_u32(&r);
        if (rep)
            mapi_buf_add(rep, r.p, r.left);
        consume(c, used);
        return 0;
    }
}

int tc_call(tclient *c, uint16_t op, const mapi_buf *req, uint32_t *sc, mapi_buf *rep)
{
    return tc_call_ms(c, op, req, sc, rep, 5000);
}

int tc_wait_notify(tclient *c, int timeout_ms, mapi_buf *rep)
{
    int64_t deadline = mapi_os_monotonic_ms() + timeout_ms;
    for (;;) {
        if (c->notes.len >= 4) {
            mapi_rd r;
            mapi_rd_init(&r, c->notes.data, c->notes.len);
            uint32_t n = mapi_r_u32(&r);
            mapi_buf_add(rep, r.p, n);
            memmove(c->notes.data, c->notes.data + 4 + n, c->notes.len - 4 - n);
            c->notes.len -= 4 + n;
            return 0;
        }
        int64_t left = deadline - mapi_os_monotonic_ms();
        if (left <= 0)
            return -1;
        mapi_frame f;
        size_t used;
        if (read_frame(c, (int)left, &f, &used) != 1)
            return -1;
        if (f.flags & MAPI_WF_NOTIFY) {
            mapi_w_u32(&c->notes, (uint32_t)f.payload_len);
            mapi_buf_add(&c->notes, f.payload, f.payload_len);
        }
        consume(c, used);
    }
}
