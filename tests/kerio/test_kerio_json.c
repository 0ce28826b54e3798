/* test_kerio_json.c — kjson_loadb (yajl lexer, jansson tree) against json_loadb with
 * JSON_REJECT_DUPLICATES, the parser it replaces: on hand-picked valid and invalid texts, on
 * every file of the Kerio reply fuzz corpus (argv[1]) and on deterministic byte mutations of
 * them, both must accept the same texts and build equal trees (same types: an integer never
 * turns into a real). Also the depth limit and the error position, and kjson_loadb_skip: the
 * same tree without the skipped members, the same checks inside them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kbuf.h"
#include "kjson.h"

static const char *corpus_dir;

static const char *const skip_set[] = { "signInfo", "encryptInfo", "contactId", NULL };

/* `v` without the members named in skip_set, at any depth. */
static void strip_skipped(json_t *v)
{
    size_t i;
    json_t *e;
    if (json_is_array(v)) {
        json_array_foreach(v, i, e) strip_skipped(e);
    } else if (json_is_object(v)) {
        for (const char *const *k = skip_set; *k; k++)
            json_object_del(v, *k);
        const char *key;
        json_object_foreach(v, key, e) strip_skipped(e);
    }
}

/* Same verdict and the same tree; returns 1 when the text was accepted. Every text jansson
 * accepts is also read by kjson_loadb_skip, to jansson's tree without the skipped members. */
static int same_as_jansson(const char *buf, size_t len)
{
    json_error_t je, ke;
    json_t *got = kjson_loadb(buf, len, &ke);
    if (memchr(buf, '\0', len)) {
        /* A raw NUL byte is never valid JSON. jansson drops one that follows a token it has to
         * read one byte past (a number: `[1\0]` loads as [1]); kjson refuses them all. */
        assert_null(got);
        return 0;
    }
    json_t *want = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!want != !got) {
        fprintf(stderr, "verdicts differ on %zu bytes: jansson %s (%s), kjson %s (%s): %.*s\n", len,
                want ? "accepts" : "rejects", want ? "" : je.text, got ? "accepts" : "rejects",
                got ? "" : ke.text, (int)(len > 200 ? 200 : len), buf);
    }
    assert_int_equal(!want, !got);
    if (!got) {
        assert_true(ke.text[0] != '\0');
        assert_true(ke.line >= 1);
        assert_true(ke.position >= 0 && (size_t)ke.position <= len);
        return 0;
    }
    assert_true(json_equal(want, got));
    json_t *skipped = kjson_loadb_skip(buf, len, &ke, NULL, skip_set);
    if (!skipped)
        fail_msg("kjson_loadb_skip refuses what jansson reads (%s): %.*s", ke.text, (int)(len > 200 ? 200 : len), buf);
    strip_skipped(want);
    assert_true(json_equal(want, skipped));
    json_decref(skipped);
    json_decref(want);
    json_decref(got);
    return 1;
}

/* Skipped members are read and checked like the rest: bad UTF-8, a NUL, bad syntax or nesting
 * past the limit inside one is still an error; only a repeated skipped member is not. */
static void test_skip(void **state)
{
    (void)state;
    json_error_t e;
    const char *ok = "{\"id\":\"1\",\"signInfo\":{\"isSigned\":false,\"error\":{\"message\":\"\",\"a\":[1,2.5,null,true]}},"
                     "\"from\":{\"name\":\"N\",\"contactId\":\"c\"},\"to\":[{\"address\":\"a@b\",\"contactId\":7}],"
                     "\"encryptInfo\":[],\"contactId\":\"x\",\"signInfo\":1}";
    json_t *v = kjson_loadb_skip(ok, strlen(ok), &e, NULL, skip_set);
    assert_non_null(v);
    json_t *want = json_loads("{\"id\":\"1\",\"from\":{\"name\":\"N\"},\"to\":[{\"address\":\"a@b\"}]}", 0, NULL);
    assert_true(json_equal(want, v));
    json_decref(want);
    json_decref(v);
    assert_null(kjson_loadb(ok, strlen(ok), &e)); /* unskipped, the repeated signInfo is refused */
    const char *bad[] = {
        "{\"signInfo\":\"\xc3\"}", "{\"signInfo\":{\"m\":\"\xed\xa0\x80\"}}", "{\"signInfo\":[\"\\u0000\"]}",
        "{\"signInfo\":{\"\xff\":1}}", "{\"signInfo\":[1,]}", "{\"signInfo\":{\"a\" 1}}", "{\"signInfo\":\"\\ud800\"}",
        "{\"signInfo\":}", "{\"signInfo\":[1]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (kjson_loadb_skip(bad[i], strlen(bad[i]), &e, NULL, skip_set))
            fail_msg("kjson_loadb_skip reads %s", bad[i]);
    /* nesting: skipped containers and scalars count toward KJSON_MAX_DEPTH as built ones do */
    for (int extra = -1; extra <= 1; extra++) {
        struct kbuf b = { 0 };
        kbuf_puts(&b, "{\"signInfo\":");
        int n = KJSON_MAX_DEPTH - 1 + extra; /* the object is depth 1, signInfo's array 2 */
        for (int i = 0; i < n; i++)
            kbuf_puts(&b, "[");
        kbuf_puts(&b, "1");
        for (int i = 0; i < n; i++)
            kbuf_puts(&b, "]");
        kbuf_puts(&b, "}");
        json_t *k = kjson_loadb_skip(b.data, b.len, &e, NULL, skip_set);
        json_t *j = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
        assert_int_equal(!k, !j);
        json_decref(k);
        json_decref(j);
        kbuf_free(&b);
    }
}

static void test_valid(void **state)
{
    (void)state;
    const char *ok[] = {
        "{}", "[]", " \t\r\n[ ]\n", "{\"a\":1}", "[1,-1,0,-0,9223372036854775807,-9223372036854775808]",
        "[1.5,-2.25e3,1E-2,0.0,-0.0,1e308,4.9e-324,1e-400,123456789012345678901234567890.5]",
        "[true,false,null]", "{\"a\":{\"b\":[{\"c\":null}]},\"d\":\"e\"}",
        "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20AC\"]",
        "[\"\\ud83d\\ude00 \xf0\x9f\x98\x80 \xc3\xa9\xe2\x82\xac \xef\xbf\xbf \xf4\x8f\xbf\xbf\"]",
        "{\"\xc3\xa9\":1,\"e\":2,\"\\u00e9x\":3}", "{\"\":\"\",\"a\":[]}",
        "{\"a\":1,\"b\":{\"a\":2}}",   /* the same key in different objects is not a duplicate */
        "[\"\\\\u0000\"]",             /* an escaped backslash, not a NUL */
        "[\"\\\\\\\\ud800\"]",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_int_equal(same_as_jansson(ok[i], strlen(ok[i])), 1);
}

static void test_invalid(void **state)
{
    (void)state;
    const char *bad[] = {
        "", " ", "1", "\"a\"", "null", "true",   /* a scalar at the top */
        "{", "[", "]", "[1,]", "[,1]", "{\"a\"}", "{\"a\":}", "{a:1}", "{'a':1}", "[01]", "[1.]", "[.5]",
        "[+1]", "[1e]", "[NaN]", "[Infinity]", "[tru]", "[nul]", "[\"a]", "[\"\\x\"]", "[\"\\u12\"]",
        "[\"\\u12G4\"]", "[\"a\tb\"]", "[\"a\nb\"]", "[] []", "{}x", "[]]", "{} {}", "[1] 2",
        "[1] // c", "/* c */ []", "{\"a\":1,\"a\":2}", "{\"a\":1,\"b\":{\"c\":2,\"c\":3}}",
        "[\"\\u0000\"]", "{\"a\\u0000b\":1}", "[9223372036854775808]", "[-9223372036854775809]",
        "[123456789012345678901234567890]", "[1e309]", "[-1e400]",
        "[\"\\ud800\"]", "[\"\\ud800x\"]", "[\"\\udc00\"]", "[\"\\ud800\\u0041\"]", "[\"\\ud800\\ud800\"]",
        "{\"\\udfff\":1}",
        "[\"\xc3\"]", "[\"\xc3(\"]", "[\"\x80\"]", "[\"\xc0\x80\"]", "[\"\xe0\x80\x80\"]",
        "[\"\xed\xa0\x80\"]", "[\"\xf4\x90\x80\x80\"]", "[\"\xf8\x88\x80\x80\x80\"]", "[\"\xff\"]",
        "{\"\xc0\xaf\":1}", "[\xc3\xa9]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(same_as_jansson(bad[i], strlen(bad[i])), 0);
    /* The same sequences inside longer strings, at every offset around eight-octet words, among
     * ASCII and two-octet characters, followed by more text or by the string's end (utf8_strict
     * reads ASCII eight octets at a time). */
    static const char *const seqs[] = { "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xed\xa0\x80", "\xf0\x80\x80\x80",
                                        "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                        /* cut short, stray, and lead octets never used */
                                        "\xe2\x82", "\xf0\x9f\x98", "\xc3", "\x80", "\xbf\xbf", "\xfe", "\xf8\x88\x80\x80\x80",
                                        "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf", "\xee\x80\x80" };
    for (size_t q = 0; q < sizeof seqs / sizeof seqs[0]; q++)
        for (int off = 0; off < 20; off++)
            for (int fill = 0; fill < 2; fill++) {
                char doc[128];
                size_t n = 0;
                doc[n++] = '[';
                doc[n++] = '"';
                for (int k = 0; k < off; k++)
                    if (fill) {
                        memcpy(doc + n, "\xd0\x96", 2); /* CYRILLIC ZHE */
                        n += 2;
                    } else {
                        doc[n++] = 'a';
                    }
                memcpy(doc + n, seqs[q], strlen(seqs[q]));
                n += strlen(seqs[q]);
                memcpy(doc + n, "tail of the string\"]", 20);
                (void)same_as_jansson(doc, n + 20); /* asserts the same verdict */
                memcpy(doc + n, "\"]", 2);         /* and at the string's very end */
                (void)same_as_jansson(doc, n + 2);
            }
    /* a raw NUL byte, inside and outside a string */
    assert_int_equal(same_as_jansson("[\"a\0b\"]", 7), 0);
    assert_int_equal(same_as_jansson("[1]\0", 4), 0);
    assert_null(kjson_loadb(NULL, 0, NULL));
}

/* Nesting: a value at depth KJSON_MAX_DEPTH is accepted, one deeper is a clear error, not a
 * crash; the innermost value is an integer, an empty array or an empty object. */
static void test_depth(void **state)
{
    (void)state;
    for (int extra = 0; extra <= 5; extra++) {
        size_t n = KJSON_MAX_DEPTH - 1 + (size_t)(extra % 2);   /* containers around the innermost */
        struct kbuf b = { 0 };
        for (size_t i = 0; i < n; i++)
            kbuf_puts(&b, i % 2 ? "{\"k\":" : "[");
        kbuf_puts(&b, extra / 2 == 0 ? "1" : extra / 2 == 1 ? "[]" : "{}");
        for (size_t i = n; i-- > 0;)
            kbuf_puts(&b, i % 2 ? "}" : "]");
        json_error_t e;
        json_t *v = kjson_loadb(b.data, b.len, &e);
        if (extra % 2) {
            assert_null(v);
            assert_non_null(strstr(e.text, "depth"));
        } else {
            assert_non_null(v);
            json_decref(v);
        }
        same_as_jansson(b.data, b.len);
        kbuf_free(&b);
    }
    /* far deeper than the limit: stops at the limit */
    struct kbuf b = { 0 };
    for (int i = 0; i < 100000; i++)
        kbuf_puts(&b, "[");
    assert_null(kjson_loadb(b.data, b.len, NULL));
    kbuf_free(&b);
}

static void test_error_position(void **state)
{
    (void)state;
    json_error_t e;
    const char *s = "{\n  \"a\": 1,\n  \"a\": 2\n}";
    assert_null(kjson_loadb(s, strlen(s), &e));
    assert_int_equal(e.line, 3);
    assert_non_null(strstr(e.text, "duplicate"));
    s = "{\"a\":\n[1,\n2,\n\"\\ud800\"]}";
    assert_null(kjson_loadb(s, strlen(s), &e));
    assert_int_equal(e.line, 4);
    assert_int_equal(e.position, (int)(strchr(s, '\\') - s));
    assert_non_null(strstr(e.text, "D800"));
    s = "[1,\n2,\n@]";
    assert_null(kjson_loadb(s, strlen(s), &e));
    assert_int_equal(e.line, 3);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static int read_file(const char *path, struct kbuf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        kbuf_append(out, tmp, n);
    fclose(f);
    return 0;
}

/* Every corpus file as it is, then mutated: a byte replaced by one of the characters that
 * matter to a JSON lexer, deleted, or duplicated. Bounded: 300 mutations per file. */
static void test_corpus_and_mutations(void **state)
{
    (void)state;
    static const char interesting[] = "{}[],:\"\\u0123456789.eE-+ntfa\x00\x80\xc3\xed\xf4\xff\n";
    DIR *d = opendir(corpus_dir);
    assert_non_null(d);
    struct dirent *de;
    int files = 0, accepted = 0, mutated_accepted = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", corpus_dir, de->d_name);
        struct kbuf orig = { 0 };
        assert_int_equal(read_file(path, &orig), 0);
        files++;
        accepted += same_as_jansson(orig.data ? orig.data : "", orig.len);
        for (int m = 0; m < 300 && orig.len > 0; m++) {
            struct kbuf b = { 0 };
            kbuf_append(&b, orig.data, orig.len);
            for (int k = 0, edits = 1 + (int)(rnd() % 3); k < edits && b.len > 0; k++) {
                size_t at = rnd() % b.len;
                switch (rnd() % 3) {
                case 0: b.data[at] = interesting[rnd() % (sizeof interesting - 1)]; break;
                case 1: memmove(b.data + at, b.data + at + 1, b.len - at - 1); b.len--; break;
                default: {
                    char ch = b.data[at];
                    kbuf_append(&b, "", 1);
                    memmove(b.data + at + 1, b.data + at, b.len - at - 1);
                    b.data[at] = ch;
                }
                }
            }
            mutated_accepted += same_as_jansson(b.data, b.len);
            kbuf_free(&b);
        }
        kbuf_free(&orig);
    }
    closedir(d);
    assert_true(files > 5);
    assert_true(accepted > 5);            /* the corpus is mostly valid JSON */
    assert_true(mutated_accepted > 0);    /* and some mutations keep it valid */
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s KERIO_REPLY_CORPUS_DIR\n", argv[0]);
        return 2;
    }
    corpus_dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_error_position),
        cmocka_unit_test(test_skip),
        cmocka_unit_test(test_corpus_and_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
