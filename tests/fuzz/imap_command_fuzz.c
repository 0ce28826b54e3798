/* tests/fuzz/imap_command_fuzz.c — libFuzzer target for the IMAP command
 * parser: client input is untrusted. The input is split into lines; when the
 * tokenizer asks for a literal, the next bytes are the literal. Complete
 * commands then go through the grammar a command would use (sequence sets,
 * FETCH attributes, SEARCH keys, flags, dates, mailbox names), as the
 * server does before touching the store.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_mime.h"
#include "imap_parser.h"
#include "imap_syntax.h"

static void grammar(const char *name, const struct imap_tok *args)
{
    char err[256];
    const struct imap_tok *a0 = args->nkids > 0 ? args->kids[0] : NULL;
    const struct imap_tok *a1 = args->nkids > 1 ? args->kids[1] : NULL;
    const struct imap_tok *a2 = args->nkids > 2 ? args->kids[2] : NULL;
    if (strstr(name, "FETCH") && a0 && a0->type == IMAP_TOK_ATOM) {
        struct imap_seqset s;
        if (imap_seqset_parse(a0->s, &s) == 0) {
            (void)imap_seqset_contains(&s, 7, 100);
            imap_seqset_free(&s);
        }
        struct imap_fetch_req r;
        if (imap_fetch_parse(a1, a2 && a2->type == IMAP_TOK_LIST ? a2 : NULL, &r, err, sizeof err) == 0)
            imap_fetch_free(&r);
    } else if (strstr(name, "SEARCH")) {
        struct imap_skey *k;
        if (imap_search_parse((const struct imap_tok *const *)args->kids, args->nkids, &k, err, sizeof err) == 0) {
            (void)imap_search_uses(k, IMAP_SK_BODY);
            imap_search_free(k);
        }
    } else if (a0 && imap_tok_is_string(a0)) {
        char *d = imap_mutf7_decode(a0->s);
        if (d) {
            char *e = imap_mutf7_encode(d);
            free(e);
            free(d);
        }
        int64_t v;
        (void)imap_date_parse(a0->s, &v);
        (void)imap_datetime_parse(a0->s, &v);
        (void)imap_flag_from_name(a0->s);
        (void)imap_keyword_valid(a0->s);
        char *b = imap_body_from_bodystructure(a0->s);
        free(b);
    }
}

struct mem_msg {
    const uint8_t *d;
    size_t n;
};

static int mem_read(void *ctx, uint64_t off, void *buf, size_t len, size_t *got)
{
    struct mem_msg *m = ctx;
    *got = 0;
    if (off >= m->n)
        return 0;
    *got = m->n - off < len ? (size_t)(m->n - off) : len;
    memcpy(buf, m->d + off, *got);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct imap_parser_limits lim = { 1000, 32, 4096 };
    struct imap_parser *p = imap_parser_new(&lim);
    if (!p)
        return 0;
    size_t pos = 0;
    int rounds = 0;
    while (pos < size && rounds++ < 64) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t end = nl ? (size_t)(nl - data) : size;
        size_t len = end - pos;
        if (len && data[pos + len - 1] == '\r')
            len--;
        uint64_t lit = 0;
        int nonsync = 0;
        int r = imap_parser_line(p, (const char *)data + pos, len, &lit, &nonsync);
        pos = nl ? end + 1 : size;
        if (r == IMAP_PARSE_LITERAL) {
            size_t n = lit < size - pos ? (size_t)lit : size - pos;
            char *mem = malloc(n + 1);
            if (!mem)
                break;
            memcpy(mem, data + pos, n);
            imap_parser_literal(p, mem, NULL, n);
            pos += n;
            continue;
        }
        if (r == IMAP_PARSE_DONE && imap_parser_name(p))
            grammar(imap_parser_name(p), imap_parser_args(p));
        imap_parser_reset(p);
    }
    imap_parser_free(p);
    /* the raw input as a BODYSTRUCTURE string and as a MIME message */
    char *text = malloc(size + 1);
    if (text) {
        memcpy(text, data, size);
        text[size] = '\0';
        char *b = imap_body_from_bodystructure(text);
        free(b);
        struct mem_msg mm = { data, size };
        static const uint32_t parts[][3] = { { 1, 0, 0 }, { 2, 1, 0 }, { 1, 2, 1 } };
        for (int i = 0; i < 3; i++) {
            struct imap_region r;
            (void)imap_mime_locate(mem_read, &mm, size, parts[i], (size_t)(i + 1), IMAP_SEC_ALL, &r);
            (void)imap_mime_locate(mem_read, &mm, size, parts[i], (size_t)(i + 1), IMAP_SEC_MIME, &r);
        }
        struct imap_region r;
        (void)imap_mime_locate(mem_read, &mm, size, NULL, 0, IMAP_SEC_TEXT, &r);
        char *names[2] = { "subject", "from" };
        size_t ol;
        char *h = imap_mime_filter_header(text, size, names, 2, (int)(size & 1), &ol);
        free(h);
        free(text);
    }
    return 0;
}
