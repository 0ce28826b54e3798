/* tests/store/test_summary.c — summaries computed at ingest: IMAP ENVELOPE and
 * BODYSTRUCTURE byte-identical to what Dovecot computes for the same messages
 * (recorded once into mime/NAME.envelope / NAME.bodystructure by
 * mime/record-dovecot.sh), decoded subjects and addresses, dates, and the
 * iCalendar / vCard summary fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "summary.h"

static const char *mime_dir;

static char *slurp(const char *name, const char *ext, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s%s", mime_dir, name, ext);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open fixture %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

struct mail {
    outpost_item it;
    struct outpost_summary a;
    char *data;
    size_t len;
};

static void summarise(const char *name, struct mail *m)
{
    memset(m, 0, sizeof *m);
    m->it.struct_size = sizeof m->it;
    outpost_summary_init(&m->a);
    m->data = slurp(name, ".eml", &m->len);
    char err[256] = "";
    if (outpost_summary_compute(OUTPOST_ITEM_MAIL, m->data, m->len, &m->it, &m->a, err, sizeof err) != 0)
        fail_msg("%s: %s", name, err);
    assert_int_equal(m->it.size, m->len);
    assert_int_equal(m->it.kind, OUTPOST_ITEM_MAIL);
}

static void done(struct mail *m)
{
    outpost_summary_release(&m->a);
    free(m->data);
}

/* ENVELOPE and BODYSTRUCTURE equal Dovecot's recorded values. */
static void check_against_dovecot(const char *name)
{
    struct mail m;
    summarise(name, &m);
    char *env = slurp(name, ".envelope", NULL);
    char *bs = slurp(name, ".bodystructure", NULL);
    if (strcmp(env, m.it.envelope))
        fail_msg("%s ENVELOPE\n  want %s\n  got  %s", name, env, m.it.envelope);
    if (strcmp(bs, m.it.bodystructure))
        fail_msg("%s BODYSTRUCTURE\n  want %s\n  got  %s", name, bs, m.it.bodystructure);
    free(env);
    free(bs);
    done(&m);
}

static void test_simple(void **state)
{
    (void)state;
    check_against_dovecot("simple");
    struct mail m;
    summarise("simple", &m);
    assert_string_equal(m.it.subject, "Lunch on Friday?");
    assert_string_equal(m.it.from, "Alice Example <alice@example.com>");
    assert_string_equal(m.it.to, "Bob <bob@example.org>, carol@example.net");
    assert_string_equal(m.it.cc, "\"Dave, the third\" <dave@example.com>");
    assert_string_equal(m.it.message_id, "lunch-1@example.com");
    assert_int_equal(m.it.date, 1772529300000LL); /* 2026-03-03T09:15:00Z */
    assert_string_equal(m.it.preview, "Hi Bob, shall we have lunch on Friday at noon? Alice");
    assert_non_null(strstr(m.a.index_text, "lunch on Friday at noon"));
    done(&m);
}

static void test_alternative(void **state)
{
    (void)state;
    check_against_dovecot("alternative");
    struct mail m;
    summarise("alternative", &m);
    /* quoted-printable ISO-8859-1 decoded to UTF-8; preview from text/plain */
    assert_string_equal(m.it.preview, "Caf\xc3\xa9 prices are up. Read more online.");
    assert_non_null(strstr(m.a.index_text, "Caf\xc3\xa9 prices are up."));
    done(&m);
}

static void test_mixed(void **state)
{
    (void)state;
    check_against_dovecot("mixed");
    struct mail m;
    summarise("mixed", &m);
    /* the base64 attachment is not indexed */
    assert_null(strstr(m.a.index_text, "AAECAwQF"));
    assert_string_equal(m.it.preview, "Please find the report attached.");
    done(&m);
}

static void test_rfc822(void **state)
{
    (void)state;
    check_against_dovecot("rfc822");
    /* prefix boundaries (a, ab), a digest inside an attached message */
    check_against_dovecot("nested");
}

/* Malformed structure handled as Dovecot does: a multipart whose boundary
 * never comes or that has none, a message without a body, an encoded
 * message/rfc822, a boundary inside a header block, a missing close
 * delimiter, odd addresses (missing domain, comments, empty names). */
static void test_edge_cases(void **state)
{
    (void)state;
    check_against_dovecot("edge-noparts");
    check_against_dovecot("edge-nobound");
    check_against_dovecot("edge-hdronly");
    check_against_dovecot("edge-misc");
}

static void test_encoded(void **state)
{
    (void)state;
    check_against_dovecot("encoded");
    struct mail m;
    summarise("encoded", &m);
    assert_string_equal(m.it.subject, "Gr\xc3\xbc\xc3\x9f" "e aus M\xc3\xbcnchen \xe2\x9c\x93");
    assert_string_equal(m.it.from, "Andr\xc3\xa9 M\xc3\xbcller <andre@example.de>");
    assert_non_null(strstr(m.it.to, "\xd0\x90\xd0\xbd\xd0\xbd\xd0\xb0 <anna@example.ru>"));
    assert_non_null(strstr(m.a.index_text, "Gr\xc3\xbc\xc3\x9f" "e aus M\xc3\xbcnchen!"));
    done(&m);
}

static void test_noheaders(void **state)
{
    (void)state;
    check_against_dovecot("noheaders");
    struct mail m;
    summarise("noheaders", &m);
    assert_null(m.it.subject);
    assert_null(m.it.from);
    assert_null(m.it.message_id);
    assert_int_equal(m.it.date, 0);
    done(&m);
}

static void test_eightbit(void **state)
{
    (void)state;
    check_against_dovecot("eightbit");
    struct mail m;
    summarise("eightbit", &m);
    assert_string_equal(m.it.subject, "Sm\xc3\xb6rg\xc3\xa5sbord \"quoted\" \\ backslash");
    done(&m);
}

static void test_quoting(void **state)
{
    (void)state;
    check_against_dovecot("quoting");
    struct mail m;
    summarise("quoting", &m);
    assert_string_equal(m.it.subject, "He said \"hi\" \\ ok and a folded tail");
    done(&m);
}

/* Bare-LF messages: same structure as their CRLF twins, sizes of the stored
 * bytes (each line one byte shorter), line counts unchanged. */
static void test_lf_vs_crlf(void **state)
{
    (void)state;
    struct mail crlf, lf;
    summarise("simple", &crlf);
    summarise("simple-lf", &lf);
    assert_string_equal(crlf.it.envelope, lf.it.envelope);
    assert_string_equal(lf.it.bodystructure,
                        "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 55 5 NIL NIL NIL NIL)");
    assert_int_equal(lf.it.date, crlf.it.date);
    assert_string_equal(lf.it.subject, crlf.it.subject);
    done(&crlf);
    done(&lf);

    summarise("lf-multipart", &lf);
    char *want = slurp("lf-multipart", ".bodystructure", NULL);
    assert_string_equal(lf.it.bodystructure, want);
    free(want);
    done(&lf);
}

/* The same message fed in chunks of every small size gives the same summary. */
static void test_chunked_feed(void **state)
{
    (void)state;
    struct mail ref;
    summarise("rfc822", &ref);
    for (size_t chunk = 1; chunk <= 7; chunk++) {
        struct outpost_summary_builder *b = outpost_summary_builder_new(OUTPOST_ITEM_MAIL);
        char err[256];
        for (size_t off = 0; off < ref.len; off += chunk) {
            size_t n = ref.len - off < chunk ? ref.len - off : chunk;
            assert_int_equal(outpost_summary_builder_feed(b, ref.data + off, n, err, sizeof err), 0);
        }
        outpost_item it = { .struct_size = sizeof it };
        struct outpost_summary a;
        outpost_summary_init(&a);
        assert_int_equal(outpost_summary_builder_finish(b, &it, &a, err, sizeof err), 0);
        assert_string_equal(it.bodystructure, ref.it.bodystructure);
        assert_string_equal(it.envelope, ref.it.envelope);
        outpost_summary_release(&a);
        outpost_summary_builder_free(b);
    }
    done(&ref);
}

/* A builder reused for item after item (the sync engine keeps one) gives each the summary a
 * new builder gives: a small mail after a larger one, an event between mails, a mail fed in
 * pieces. One still referenced, or spooled to a file, refuses to be reused. */
static void test_builder_reuse(void **state)
{
    (void)state;
    const char *names[] = { "rfc822", "simple", "lf-multipart", "rfc822" };
    const char *ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:u-1\r\n"
                      "DTSTAMP:20260301T120000Z\r\nDTSTART:20260310T090000Z\r\nSUMMARY:Reused\r\n"
                      "END:VEVENT\r\nEND:VCALENDAR\r\n";
    struct outpost_summary_builder *b = outpost_summary_builder_new(OUTPOST_ITEM_MAIL);
    char err[256];
    for (size_t k = 0; k < 4; k++) {
        struct mail ref;
        summarise(names[k], &ref);
        if (k > 0)
            assert_int_equal(outpost_summary_builder_reuse(b, OUTPOST_ITEM_MAIL, k == 2 ? 0 : ref.len), 0);
        for (size_t off = 0; off < ref.len; off += 100) /* in pieces */
            assert_int_equal(outpost_summary_builder_feed(b, ref.data + off, ref.len - off < 100 ? ref.len - off : 100,
                                                          err, sizeof err), 0);
        outpost_item it = { .struct_size = sizeof it };
        struct outpost_summary a;
        outpost_summary_init(&a);
        assert_int_equal(outpost_summary_builder_finish(b, &it, &a, err, sizeof err), 0);
        assert_int_equal(it.size, ref.len);
        assert_string_equal(it.bodystructure, ref.it.bodystructure);
        assert_string_equal(it.envelope, ref.it.envelope);
        outpost_summary_release(&a);
        done(&ref);
        if (k == 1) { /* an event between two mails */
            assert_int_equal(outpost_summary_builder_reuse(b, OUTPOST_ITEM_EVENT, 0), 0);
            assert_int_equal(outpost_summary_builder_feed(b, ics, strlen(ics), err, sizeof err), 0);
            outpost_item ev = { .struct_size = sizeof ev };
            outpost_summary_init(&a);
            assert_int_equal(outpost_summary_builder_finish(b, &ev, &a, err, sizeof err), 0);
            assert_int_equal(ev.kind, OUTPOST_ITEM_EVENT);
            assert_string_equal(ev.subject, "Reused");
            assert_int_equal(ev.size, strlen(ics));
            outpost_summary_release(&a);
        }
    }
    /* an item past the memory spool (and OUTPOST_SUMMARY_REUSE_BYTES) went to a file: not kept */
    assert_int_equal(outpost_summary_builder_reuse(b, OUTPOST_ITEM_MAIL, 0), 0);
    size_t big = (OUTPOST_SUMMARY_SPOOL_BYTES > OUTPOST_SUMMARY_REUSE_BYTES ? OUTPOST_SUMMARY_SPOOL_BYTES
                                                                          : OUTPOST_SUMMARY_REUSE_BYTES) + 1;
    char *junk = malloc(big);
    assert_non_null(junk);
    memset(junk, 'a', big);
    assert_int_equal(outpost_summary_builder_feed(b, junk, big, err, sizeof err), 0);
    assert_int_equal(outpost_summary_builder_reuse(b, OUTPOST_ITEM_MAIL, 0), -1);
    free(junk);
    outpost_summary_builder_free(b);
}

/* Without index text (the sync engine's builders), only what the preview reads is decoded:
 * every summary field must still be the same as with it. */
static void same_without_index(const char *what, const char *data, size_t len)
{
    outpost_item full = { .struct_size = sizeof full }, lean = { .struct_size = sizeof lean };
    struct outpost_summary fa, la;
    outpost_summary_init(&fa);
    outpost_summary_init(&la);
    char err[256];
    struct outpost_summary_builder *b = outpost_summary_builder_new(OUTPOST_ITEM_MAIL);
    assert_int_equal(outpost_summary_builder_feed(b, data, len, err, sizeof err), 0);
    assert_int_equal(outpost_summary_builder_finish(b, &full, &fa, err, sizeof err), 0);
    outpost_summary_builder_free(b);
    b = outpost_summary_builder_new(OUTPOST_ITEM_MAIL);
    outpost_summary_builder_set_index(b, 0);
    assert_int_equal(outpost_summary_builder_feed(b, data, len, err, sizeof err), 0);
    assert_int_equal(outpost_summary_builder_finish(b, &lean, &la, err, sizeof err), 0);
    outpost_summary_builder_free(b);
#define SAME(f)                                                                                          \
    do {                                                                                                 \
        if ((full.f == NULL) != (lean.f == NULL) || (full.f && strcmp(full.f, lean.f)))                  \
            fail_msg("%s: %s differs: [%s] vs [%s]", what, #f, full.f ? full.f : "NULL", lean.f ? lean.f : "NULL"); \
    } while (0)
    SAME(preview);
    SAME(envelope);
    SAME(bodystructure);
    SAME(subject);
    SAME(from);
    SAME(to);
    SAME(cc);
    SAME(message_id);
#undef SAME
    assert_int_equal(full.size, lean.size);
    assert_int_equal(full.date, lean.date);
    assert_null(la.index_text);
    outpost_summary_release(&fa);
    outpost_summary_release(&la);
}

static void test_preview_without_index(void **state)
{
    (void)state;
    static const char *const fixtures[] = { "alternative", "edge-hdronly", "edge-misc", "edge-nobound", "edge-noparts",
                                            "eightbit", "encoded", "lf-multipart", "mixed", "nested", "rfc822",
                                            "simple", "simple-lf", "noheaders", "quoting", NULL };
    for (int i = 0; fixtures[i]; i++) {
        size_t len;
        char *data = slurp(fixtures[i], ".eml", &len);
        same_without_index(fixtures[i], data, len);
        free(data);
    }
    /* Long parts: the preview text ends inside them. */
    struct sbuf_t { char *p; size_t n; } m = { NULL, 0 };
    FILE *f;
    const char *hdr = "From: a@example.org\r\nSubject: long\r\nMIME-Version: 1.0\r\n";
    /* 1. html only, quoted-printable, kilobytes of tags and white space before the text */
    f = open_memstream(&m.p, &m.n);
    fprintf(f, "%sContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", hdr);
    for (int k = 0; k < 300; k++)
        fprintf(f, "<div class=3D\"x\">   \r\n\t  </div>\r\n");
    for (int k = 0; k < 200; k++)
        fprintf(f, "Gr=C3=BC=C3=9Fe %d aus M=C3=BCnchen &amp; mehr   text=\r\n  </p>\r\n", k);
    fclose(f);
    same_without_index("html only", m.p, m.n);
    free(m.p);
    /* 2. an empty text/plain part, then html, then a long latin-1 plain part */
    f = open_memstream(&m.p, &m.n);
    fprintf(f, "%sContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\r\n"
               "--b\r\nContent-Type: text/html\r\n\r\n<p>first html</p>\r\n--b\r\n"
               "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", hdr);
    for (int k = 0; k < 400; k++)
        fprintf(f, "caf=E9 cr=E8me %d      =\r\n\t\r\n", k);
    fprintf(f, "\r\n--b\r\nContent-Type: text/plain\r\n\r\nsecond plain\r\n--b--\r\n");
    fclose(f);
    same_without_index("empty plain then latin-1", m.p, m.n);
    free(m.p);
    /* 3. base64 UTF-8 plain whose 4 KiB cut falls inside a character, then html */
    f = open_memstream(&m.p, &m.n);
    fprintf(f, "%sContent-Type: multipart/alternative; boundary=\"b\"\r\n\r\n--b\r\n"
               "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n", hdr);
    {
        char plain[9000];
        size_t pn = 0;
        plain[pn++] = 'x';
        while (pn + 3 < sizeof plain) {
            memcpy(plain + pn, "\xe2\x82\xac", 3); /* EURO SIGN */
            pn += 3;
        }
        static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        char b64[12100];
        size_t bl = 0;
        for (size_t i = 0; i < pn; i += 3) {
            unsigned v = (unsigned char)plain[i] << 16 | (i + 1 < pn ? (unsigned char)plain[i + 1] << 8 : 0) |
                         (i + 2 < pn ? (unsigned char)plain[i + 2] : 0);
            b64[bl++] = al[v >> 18 & 63];
            b64[bl++] = al[v >> 12 & 63];
            b64[bl++] = i + 1 < pn ? al[v >> 6 & 63] : '=';
            b64[bl++] = i + 2 < pn ? al[v & 63] : '=';
        }
        for (size_t off = 0; off < bl; off += 76)
            fprintf(f, "%.*s\r\n", (int)(bl - off < 76 ? bl - off : 76), b64 + off);
    }
    fprintf(f, "--b\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--b--\r\n");
    fclose(f);
    same_without_index("base64 utf-8", m.p, m.n);
    free(m.p);
    /* 4. several html parts that fill the preview together, white space between words */
    f = open_memstream(&m.p, &m.n);
    fprintf(f, "%sContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n", hdr);
    for (int p = 0; p < 6; p++) {
        fprintf(f, "--b\r\nContent-Type: text/html\r\n\r\n");
        for (int k = 0; k < 25; k++)
            fprintf(f, "<b>w%d</b> \t \r\n", p * 1000 + k);
    }
    fprintf(f, "--b--\r\n");
    fclose(f);
    same_without_index("html parts", m.p, m.n);
    free(m.p);
}

/* The preview of an 8-bit text/plain body (engine builders: no index text). */
static char *lean_preview(const char *body)
{
    char *m = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&m, &n);
    fprintf(f, "From: a@example.org\r\nSubject: p\r\nMIME-Version: 1.0\r\n"
               "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n", body);
    fclose(f);
    outpost_item it = { .struct_size = sizeof it };
    struct outpost_summary a;
    outpost_summary_init(&a);
    char err[256];
    struct outpost_summary_builder *b = outpost_summary_builder_new(OUTPOST_ITEM_MAIL);
    outpost_summary_builder_set_index(b, 0);
    assert_int_equal(outpost_summary_builder_feed(b, m, n, err, sizeof err), 0);
    assert_int_equal(outpost_summary_builder_finish(b, &it, &a, err, sizeof err), 0);
    char *pv = it.preview ? strdup(it.preview) : NULL;
    outpost_summary_builder_free(b);
    outpost_summary_release(&a);
    free(m);
    return pv;
}

/* Invalid UTF-8 reads as U+FFFD in the preview where the preview reaches it, and changes
 * nothing beyond. */
static void test_preview_invalid_utf8(void **state)
{
    (void)state;
    char *pv = lean_preview("ab\xff" "cd   ef");
    assert_string_equal(pv, "ab\xef\xbf\xbd" "cd ef");
    free(pv);
    char body[700];
    memset(body, 'x', 255);
    static const char tail[] = "\xc3\xa9 tail \xff\xfe end"; /* the cut falls inside the e-acute */
    memcpy(body + 255, tail, sizeof tail);
    pv = lean_preview(body);
    assert_int_equal(strlen(pv), 255);
    assert_int_equal(strspn(pv, "x"), 255);
    free(pv);
    memset(body, 'y', 600);
    body[100] = '\x80'; /* a stray continuation byte inside the preview */
    body[600] = '\0';
    pv = lean_preview(body);
    assert_memory_equal(pv + 100, "\xef\xbf\xbd", 3);
    assert_int_equal(strlen(pv), 256);
    free(pv);
}

/* Appends what outpost_summary_builder_content hands out. */
struct bytes {
    char *p;
    size_t n;
};

static int collect_bytes(void *ctx, const void *data, size_t len)
{
    struct bytes *c = ctx;
    char *np = realloc(c->p, c->n + len);
    if (!np)
        return -1;
    memcpy(np + c->n, data, len);
    c->p = np;
    c->n += len;
    return 0;
}

/* A message larger than the in-memory spool goes through a temporary file. */
static void test_large_spooled(void **state)
{
    (void)state;
    const char *head = "From: big@example.com\r\nSubject: big\r\nContent-Type: text/plain\r\n\r\n";
    struct outpost_summary_builder *b = outpost_summary_builder_new(OUTPOST_ITEM_MAIL);
    char err[256];
    assert_int_equal(outpost_summary_builder_feed(b, head, strlen(head), err, sizeof err), 0);
    char line[100];
    memset(line, 'x', 98);
    line[98] = '\r';
    line[99] = '\n';
    uint64_t lines = 3 * OUTPOST_SUMMARY_SPOOL_BYTES / 100;
    for (uint64_t i = 0; i < lines; i++)
        assert_int_equal(outpost_summary_builder_feed(b, line, sizeof line, err, sizeof err), 0);
    outpost_item it = { .struct_size = sizeof it };
    struct outpost_summary a;
    outpost_summary_init(&a);
    assert_int_equal(outpost_summary_builder_finish(b, &it, &a, err, sizeof err), 0);
    char want[256];
    snprintf(want, sizeof want, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" %llu %llu NIL NIL NIL NIL)",
             (unsigned long long)(lines * 100), (unsigned long long)lines);
    assert_string_equal(it.bodystructure, want);
    assert_int_equal(it.size, strlen(head) + lines * 100);
    assert_true(a.index_len <= OUTPOST_SUMMARY_INDEX_MAX + 1024);
    /* the spooled bytes read back in order */
    struct bytes got = { NULL, 0 };
    assert_int_equal(outpost_summary_builder_content(b, collect_bytes, &got, err, sizeof err), 0);
    assert_int_equal(got.n, strlen(head) + lines * 100);
    assert_memory_equal(got.p, head, strlen(head));
    assert_memory_equal(got.p + got.n - sizeof line, line, sizeof line);
    free(got.p);
    outpost_summary_release(&a);
    outpost_summary_builder_free(b);
}

/* A line longer than the scanner's buffer (64 KiB) inside a multipart held in memory:
 * the part's size and line count are exact and the closing boundary is still found. */
static void test_long_line_in_memory(void **state)
{
    (void)state;
    const char *head = "From: long@example.com\r\nSubject: long\r\nMIME-Version: 1.0\r\n"
                       "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
                       "--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
                       "--b1\r\nContent-Type: application/octet-stream\r\n"
                       "Content-Transfer-Encoding: base64\r\n\r\n";
    size_t body = 200000;
    size_t n = strlen(head) + body + 64;
    char *m = malloc(n);
    assert_non_null(m);
    size_t len = (size_t)snprintf(m, n, "%s", head);
    memset(m + len, 'A', body);
    /* something that looks like a boundary, but not at a line start */
    memcpy(m + len + 70000, "--b1--", 6);
    len += body;
    len += (size_t)snprintf(m + len, n - len, "\r\n--b1--\r\n");
    struct outpost_summary_builder *b = outpost_summary_builder_new_sized(OUTPOST_ITEM_MAIL, len);
    char err[256];
    assert_int_equal(outpost_summary_builder_feed(b, m, len, err, sizeof err), 0);
    outpost_item it = { .struct_size = sizeof it };
    struct outpost_summary a;
    outpost_summary_init(&a);
    assert_int_equal(outpost_summary_builder_finish(b, &it, &a, err, sizeof err), 0);
    assert_non_null(strstr(it.bodystructure, "(\"application\" \"octet-stream\" NIL NIL NIL \"base64\" 200000 NIL"));
    assert_non_null(strstr(it.bodystructure, "\"mixed\""));
    assert_int_equal(it.size, len);
    assert_string_equal(it.preview, "hello");
    /* the same content from the builder, byte for byte */
    struct bytes got = { NULL, 0 };
    assert_int_equal(outpost_summary_builder_content(b, collect_bytes, &got, err, sizeof err), 0);
    assert_int_equal(got.n, len);
    assert_memory_equal(got.p, m, len);
    free(got.p);
    outpost_summary_release(&a);
    outpost_summary_builder_free(b);
    free(m);
}

/* Display addresses repeat across mail and are remembered per thread (summary.c
 * decode_addresses): a value seen again gives exactly what it gave the first time, through
 * slot collisions and evictions, for plain, encoded, quoted, group, empty and over-long
 * (never remembered) values. */
static void summarise_text(const char *text, struct mail *m)
{
    memset(m, 0, sizeof *m);
    m->it.struct_size = sizeof m->it;
    outpost_summary_init(&m->a);
    m->len = strlen(text);
    m->data = strdup(text);
    assert_non_null(m->data);
    char err[256] = "";
    if (outpost_summary_compute(OUTPOST_ITEM_MAIL, m->data, m->len, &m->it, &m->a, err, sizeof err) != 0)
        fail_msg("%s", err);
}

static void test_address_memo(void **state)
{
    (void)state;
    enum { N = 300 };
    static char *first[N][3]; /* From, To and the ENVELOPE: both memos (display and ENVELOPE forms) */
    char longname[400];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < N; k++) {
            int i = round == 1 ? N - 1 - k : (k * 7) % N;
            char from[600], to[600], text[1400];
            switch (i % 6) {
            case 0: snprintf(from, sizeof from, "Person %d <p%d@memo.example>", i, i); break;
            case 1: snprintf(from, sizeof from, "=?iso-8859-1?q?J=F6rg_%d?= <j%d@memo.example>", i, i); break;
            case 2: snprintf(from, sizeof from, "\"Last, First %d\" <l%d@memo.example>", i, i); break;
            case 3: snprintf(from, sizeof from, "team%d: a%d@memo.example, b@memo.example;", i, i); break;
            case 4: snprintf(from, sizeof from, "<>%*d", i % 3, i); break;
            default: snprintf(from, sizeof from, "%s %d <x%d@memo.example>", longname, i, i); break;
            }
            snprintf(to, sizeof to, "r%d@memo.example, =?utf-8?b?0JDQvdC90LA=?= <anna@memo.example>", i % 5);
            snprintf(text, sizeof text, "From: %s\r\nTo: %s\r\nSubject: m\r\n\r\nbody\r\n", from, to);
            struct mail m;
            summarise_text(text, &m);
            const char *got[3] = { m.it.from, m.it.to, m.it.envelope };
            for (int h = 0; h < 3; h++) {
                if (round == 0 && (k * 7) % N == i) {
                    first[i][h] = got[h] ? strdup(got[h]) : NULL;
                } else if (!first[i][h] || !got[h]) {
                    assert_ptr_equal(first[i][h], got[h]);
                } else {
                    assert_string_equal(first[i][h], got[h]);
                }
            }
            if (round == 0 && i % 6 == 0) {
                char want[100];
                snprintf(want, sizeof want, "Person %d <p%d@memo.example>", i, i);
                assert_string_equal(m.it.from, want);
                snprintf(want, sizeof want, "((\"Person %d\" NIL \"p%d\" \"memo.example\"))", i, i);
                assert_non_null(strstr(m.it.envelope, want));
            }
            done(&m);
        }
    }
    for (int i = 0; i < N; i++) {
        for (int h = 0; h < 3; h++)
            free(first[i][h]);
    }
}

static void test_event(void **state)
{
    (void)state;
    const char *ics =
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
        "BEGIN:VEVENT\r\nUID:ev-1@example.com\r\nDTSTAMP:20260301T120000Z\r\n"
        "DTSTART:20260310T090000Z\r\nDTEND:20260310T100000Z\r\nSUMMARY:Planning\\, Q2\r\n"
        "ORGANIZER;CN=Alice Example:mailto:alice@example.com\r\nDESCRIPTION:Agenda:\\n1. budget\r\n"
        "END:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:ev-1@example.com\r\nRECURRENCE-ID:20260317T090000Z\r\nDTSTAMP:20260301T120000Z\r\n"
        "DTSTART:20260318T090000Z\r\nSUMMARY:Moved\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    outpost_item it = { .struct_size = sizeof it };
    struct outpost_summary a;
    outpost_summary_init(&a);
    char err[256];
    assert_int_equal(outpost_summary_compute(OUTPOST_ITEM_EVENT, ics, strlen(ics), &it, &a, err, sizeof err), 0);
    assert_int_equal(it.kind, OUTPOST_ITEM_EVENT);
    assert_string_equal(it.subject, "Planning, Q2");
    assert_string_equal(it.object_uid, "ev-1@example.com");
    assert_string_equal(it.from, "Alice Example <alice@example.com>");
    assert_int_equal(it.date, 1773133200000LL); /* 2026-03-10T09:00:00Z */
    assert_int_equal(it.size, strlen(ics));
    assert_string_equal(it.preview, "Agenda: 1. budget");
    assert_null(it.envelope);
    outpost_summary_release(&a);

    /* a task's date is its DUE */
    const char *todo = "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VTODO\nUID:t1\nDTSTAMP:20260301T120000Z\n"
                       "DUE;VALUE=DATE:20260401\nSUMMARY:File taxes\nEND:VTODO\nEND:VCALENDAR\n";
    outpost_item t = { .struct_size = sizeof t };
    outpost_summary_init(&a);
    assert_int_equal(outpost_summary_compute(OUTPOST_ITEM_TASK, todo, strlen(todo), &t, &a, err, sizeof err), 0);
    assert_string_equal(t.subject, "File taxes");
    assert_int_equal(t.date, 1775001600000LL); /* 2026-04-01 */
    outpost_summary_release(&a);

    /* the wrong component is refused with a reason */
    outpost_item bad = { .struct_size = sizeof bad };
    outpost_summary_init(&a);
    assert_int_equal(outpost_summary_compute(OUTPOST_ITEM_NOTE, todo, strlen(todo), &bad, &a, err, sizeof err), -1);
    assert_non_null(strstr(err, "VJOURNAL"));
    outpost_summary_release(&a);
}

static void test_contact(void **state)
{
    (void)state;
    const char *vcf = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:M\xc3\xbcller;Andr\xc3\xa9;;;\r\nFN:Andr\xc3\xa9 M\xc3\xbcller\r\n"
                      "item1.EMAIL;TYPE=INTERNET,PREF:andre@example.de\r\nEMAIL;TYPE=WORK:a.mueller@\r\n work.example\r\n"
                      "UID:urn:uuid:1234\r\nNOTE:Met at\\, the fair\r\nEND:VCARD\r\n";
    outpost_item it = { .struct_size = sizeof it };
    struct outpost_summary a;
    outpost_summary_init(&a);
    char err[256];
    assert_int_equal(outpost_summary_compute(OUTPOST_ITEM_CONTACT, vcf, strlen(vcf), &it, &a, err, sizeof err), 0);
    assert_string_equal(it.subject, "Andr\xc3\xa9 M\xc3\xbcller");
    assert_string_equal(it.object_uid, "urn:uuid:1234");
    assert_string_equal(it.to, "andre@example.de, a.mueller@work.example");
    assert_string_equal(it.preview, "Met at, the fair");
    outpost_summary_release(&a);

    /* no FN: the name comes from N */
    const char *nofn = "BEGIN:VCARD\nVERSION:3.0\nN:Doe;Jane\nEND:VCARD\n";
    outpost_summary_init(&a);
    outpost_item n = { .struct_size = sizeof n };
    assert_int_equal(outpost_summary_compute(OUTPOST_ITEM_CONTACT, nofn, strlen(nofn), &n, &a, err, sizeof err), 0);
    assert_string_equal(n.subject, "Jane Doe");
    outpost_summary_release(&a);

    outpost_summary_init(&a);
    assert_int_equal(outpost_summary_compute(OUTPOST_ITEM_CONTACT, "hello", 5, &n, &a, err, sizeof err), -1);
    outpost_summary_release(&a);
}

/* A mail known by its properties only (the server cannot render its MIME): the ENVELOPE from
 * them, addresses and names as a client reads them from a header (quoted, RFC 2047 encoded). */
static void test_envelope_from_item(void **state)
{
    (void)state;
    struct outpost_summary a;
    outpost_summary_init(&a);
    outpost_item it = { .struct_size = sizeof it, .kind = OUTPOST_ITEM_MAIL };
    it.subject = "Unrenderable invitation";
    it.from = "Ann Organizer <ann@example.com>";
    it.to = "Doe, John <john@example.com>, bob@example.org, \"Dave, the third\" <dave@example.com>";
    it.cc = "J\xc3\xbcrgen <j@example.de>";
    it.message_id = "m1@example.com";
    it.date = 1772529300000LL; /* 2026-03-03T09:15:00Z */
    assert_int_equal(outpost_summary_envelope_from_item(&it, &a), 0);
    const char *want = "(\"Tue, 03 Mar 2026 09:15:00 +0000\" \"Unrenderable invitation\" "
                       "((\"Ann Organizer\" NIL \"ann\" \"example.com\")) "
                       "((\"Ann Organizer\" NIL \"ann\" \"example.com\")) "
                       "((\"Ann Organizer\" NIL \"ann\" \"example.com\")) "
                       "((\"Doe, John\" NIL \"john\" \"example.com\")(NIL NIL \"bob\" \"example.org\")"
                       "(\"Dave, the third\" NIL \"dave\" \"example.com\")) "
                       "((\"=?UTF-8?b?SsO8cmdlbg==?=\" NIL \"j\" \"example.de\")) NIL NIL \"<m1@example.com>\")";
    if (strcmp(it.envelope, want))
        fail_msg("ENVELOPE\n  want %s\n  got  %s", want, it.envelope);
    outpost_summary_release(&a);

    /* nothing but a subject: NIL for the rest; a UTF-8 subject RFC 2047 encoded */
    outpost_summary_init(&a);
    outpost_item s = { .struct_size = sizeof s, .kind = OUTPOST_ITEM_MAIL, .subject = "Gr\xc3\xbc\xc3\x9f\x65" };
    assert_int_equal(outpost_summary_envelope_from_item(&s, &a), 0);
    assert_non_null(strstr(s.envelope, "(NIL \"=?"));
    assert_non_null(strstr(s.envelope, "?=\" NIL NIL NIL NIL NIL NIL NIL NIL)"));
    outpost_summary_release(&a);
}

int main(int argc, char **argv)
{
    mime_dir = argc > 1 ? argv[1] : "mime";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple),       cmocka_unit_test(test_alternative), cmocka_unit_test(test_mixed),
        cmocka_unit_test(test_rfc822), cmocka_unit_test(test_edge_cases),       cmocka_unit_test(test_encoded),     cmocka_unit_test(test_noheaders),
        cmocka_unit_test(test_eightbit),     cmocka_unit_test(test_quoting),     cmocka_unit_test(test_lf_vs_crlf),
        cmocka_unit_test(test_chunked_feed), cmocka_unit_test(test_large_spooled), cmocka_unit_test(test_long_line_in_memory),
        cmocka_unit_test(test_event),        cmocka_unit_test(test_address_memo),
        cmocka_unit_test(test_contact),      cmocka_unit_test(test_preview_without_index), cmocka_unit_test(test_preview_invalid_utf8),
        cmocka_unit_test(test_envelope_from_item), cmocka_unit_test(test_builder_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
