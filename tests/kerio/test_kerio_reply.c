/* test_kerio_reply.c — reading Kerio replies: JSON-RPC envelope, error codes mapped to status
 * classes in context (login, changes, other calls), HTTP statuses without a usable body,
 * validation that rejects a page as a whole, and the folder sync state encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "kerio.h"

static int parse(const char *s, struct kerio_reply *r)
{
    return kerio_reply_parse(s, strlen(s), r);
}

static void test_envelope(void **state)
{
    (void)state;
    struct kerio_reply r;
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"token\":\"abc\"}}", &r), 0);
    assert_false(r.is_error);
    assert_string_equal(kj_str(r.result, "token"), "abc");
    json_decref(r.root);

    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":9,\"error\":{\"code\":-32001,\"message\":\"Session expired.\","
                           "\"data\":{\"messageParameters\":{\"positionalParameters\":[],\"plurality\":1}}}}", &r), 0);
    assert_true(r.is_error);
    assert_int_equal(r.code, -32001);
    assert_string_equal(r.message, "Session expired.");
    json_decref(r.root);

    /* Malformed replies: nothing usable, root NULL. */
    const char *bad[] = { "", "{", "[1,2]", "{\"jsonrpc\":\"2.0\",\"id\":1}", "{\"error\":{\"message\":\"x\"}}",
                          "<html>500 Internal Server Error</html>", "{\"result\":1,\"result\":2}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(kerio_reply_parse(bad[i], strlen(bad[i]), &r), -1);
        assert_null(r.root);
        assert_true(r.message[0] != '\0');
    }
}

static void test_busy_retry_after(void **state)
{
    (void)state;
    struct kerio_reply r;
    assert_int_equal(parse("{\"error\":{\"code\":4101,\"message\":\"Try later\",\"data\":{\"retryAfter\":7}}}", &r), 0);
    assert_int_equal(kerio_error_class(r.code, KERIO_CTX_CALL), OUTPOST_THROTTLED);
    assert_int_equal(r.retry_after_ms, 7000);
    json_decref(r.root);
    assert_int_equal(parse("{\"error\":{\"code\":4100,\"message\":\"reindexing\",\"data\":{\"retryAfterMs\":1500}}}", &r), 0);
    assert_int_equal(kerio_error_class(r.code, KERIO_CTX_CHANGES), OUTPOST_THROTTLED);
    assert_int_equal(r.retry_after_ms, 1500);
    json_decref(r.root);
    /* Control characters in a server message never reach a log line. */
    assert_int_equal(parse("{\"error\":{\"code\":1000,\"message\":\"a\\nb\\u001bc\"}}", &r), 0);
    assert_string_equal(r.message, "a b c");
    json_decref(r.root);
}

static void test_error_classes(void **state)
{
    (void)state;
    /* Login: refusals are AUTH, busy stays THROTTLED, server trouble stays TEMP. */
    assert_int_equal(kerio_error_class(1000, KERIO_CTX_LOGIN), OUTPOST_AUTH);
    assert_int_equal(kerio_error_class(-32602, KERIO_CTX_LOGIN), OUTPOST_AUTH);
    assert_int_equal(kerio_error_class(4101, KERIO_CTX_LOGIN), OUTPOST_THROTTLED);
    assert_int_equal(kerio_error_class(-32603, KERIO_CTX_LOGIN), OUTPOST_TEMP);
    /* Changes.getFolder: a refused sync key means "resync the folder". */
    assert_int_equal(kerio_error_class(1000, KERIO_CTX_CHANGES), OUTPOST_STATE_INVALID);
    assert_int_equal(kerio_error_class(1002, KERIO_CTX_CHANGES), OUTPOST_STATE_INVALID);
    assert_int_equal(kerio_error_class(-32603, KERIO_CTX_CHANGES), OUTPOST_TEMP);
    /* Other calls. */
    assert_int_equal(kerio_error_class(-32001, KERIO_CTX_CALL), OUTPOST_TEMP);
    assert_int_equal(kerio_error_class(1002, KERIO_CTX_CALL), OUTPOST_GONE);
    assert_int_equal(kerio_error_class(4104, KERIO_CTX_CALL), OUTPOST_GONE);
    assert_int_equal(kerio_error_class(1001, KERIO_CTX_CALL), OUTPOST_CONFLICT);
    assert_int_equal(kerio_error_class(1004, KERIO_CTX_CALL), OUTPOST_BAD_DATA);
    assert_int_equal(kerio_error_class(-32601, KERIO_CTX_CALL), OUTPOST_BAD_DATA);
    assert_int_equal(kerio_error_class(4102, KERIO_CTX_CALL), OUTPOST_TEMP);
    /* HTTP without a JSON-RPC body. */
    assert_int_equal(kerio_http_class(500), OUTPOST_TEMP);
    assert_int_equal(kerio_http_class(502), OUTPOST_TEMP);
    assert_int_equal(kerio_http_class(503), OUTPOST_THROTTLED);
    assert_int_equal(kerio_http_class(429), OUTPOST_THROTTLED);
    assert_int_equal(kerio_http_class(401), OUTPOST_AUTH);
    assert_int_equal(kerio_http_class(404), OUTPOST_BAD_DATA);
}

static void test_page_validation_all_or_nothing(void **state)
{
    (void)state;
    struct kerio_reply r;
    const json_t *items;
    char why[200];
    /* A good listing. */
    assert_int_equal(parse("{\"result\":{\"totalItems\":2,\"list\":["
                           "{\"id\":\"a\",\"watermark\":1,\"subject\":\"x\",\"isSeen\":true,\"receiveDate\":\"20240105T101500Z\"},"
                           "{\"id\":\"b\",\"watermark\":2,\"to\":[{\"address\":\"q@x\"}]}]}}", &r), 0);
    assert_int_equal(kerio_validate_list(OUTPOST_ITEM_MAIL, r.result, "list", 0, &items, why, sizeof why), 0);
    assert_int_equal(json_array_size(items), 2);
    json_decref(r.root);
    /* One bad item spoils the page: a date that is no date, a flag that is a string. */
    const char *bad[] = {
        "{\"result\":{\"list\":[{\"id\":\"a\",\"watermark\":1},{\"id\":\"b\",\"receiveDate\":\"yesterday\"}]}}",
        "{\"result\":{\"list\":[{\"id\":\"a\",\"watermark\":1},{\"id\":\"b\",\"isSeen\":\"yes\"}]}}",
        "{\"result\":{\"list\":[{\"id\":\"a\"},{\"watermark\":3}]}}",
        "{\"result\":{\"list\":[{\"id\":\"a\"},\"b\"]}}",
        "{\"result\":{\"list\":{}}}",
        "{\"result\":{\"list\":[{\"id\":\"a\",\"to\":[\"x@y\"]}]}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse(bad[i], &r), 0);
        assert_int_equal(kerio_validate_list(OUTPOST_ITEM_MAIL, r.result, "list", 0, &items, why, sizeof why), -1);
        json_decref(r.root);
    }
    /* Full objects: an attachment URL must stay on the server. */
    assert_int_equal(parse("{\"result\":{\"errors\":[],\"result\":[{\"id\":\"a\",\"attachments\":"
                           "[{\"url\":\"https://evil.example/x\",\"name\":\"x\"}]}]}}", &r), 0);
    assert_int_equal(kerio_validate_list(OUTPOST_ITEM_MAIL, r.result, "result", 1, &items, why, sizeof why), -1);
    json_decref(r.root);
    /* Events need parseable start and end. */
    assert_int_equal(parse("{\"result\":{\"list\":[{\"id\":\"e\",\"start\":\"20240101T100000Z\"}]}}", &r), 0);
    assert_int_equal(kerio_validate_list(OUTPOST_ITEM_EVENT, r.result, "list", 1, &items, why, sizeof why), -1);
    json_decref(r.root);
}

static void test_changes_validation(void **state)
{
    (void)state;
    struct kerio_reply r;
    const json_t *list;
    struct kerio_key key;
    char why[200];
    assert_int_equal(parse("{\"result\":{\"syncKey\":51830,\"list\":[{\"isFolder\":false,\"type\":\"chtMoved\","
                           "\"itemType\":\"itMail\",\"itemId\":\"n\",\"parentId\":\"B\",\"origId\":\"o\",\"origParentId\":\"A\","
                           "\"watermark\":51830,\"messageUnread\":0}]}}", &r), 0);
    assert_int_equal(kerio_validate_changes(r.result, &list, &key, why, sizeof why), 0);
    assert_false(key.quoted);
    assert_string_equal(key.text, "51830");
    json_t *back = kerio_key_json(&key);
    assert_true(json_is_integer(back) && json_integer_value(back) == 51830);
    json_decref(back);
    json_decref(r.root);
    assert_int_equal(parse("{\"result\":{\"syncKey\":\"x\",\"list\":[]}}", &r), 0);
    assert_int_equal(kerio_validate_changes(r.result, &list, &key, why, sizeof why), -1);
    json_decref(r.root);
    assert_int_equal(parse("{\"result\":{\"syncKey\":1,\"list\":[{\"type\":\"chtCreated\"}]}}", &r), 0);
    assert_int_equal(kerio_validate_changes(r.result, &list, &key, why, sizeof why), -1);
    json_decref(r.root);
}

static void test_batch_errors(void **state)
{
    (void)state;
    struct kerio_reply r;
    assert_int_equal(parse("{\"result\":{\"errors\":[{\"inputIndex\":1,\"code\":1002,\"message\":\"gone\"}],"
                           "\"result\":[{\"inputIndex\":0,\"id\":\"x\",\"watermark\":5}]}}", &r), 0);
    assert_null(kerio_batch_error(r.result, 0));
    const json_t *e = kerio_batch_error(r.result, 1);
    assert_non_null(e);
    assert_int_equal(json_integer_value(json_object_get(e, "code")), 1002);
    json_decref(r.root);
}

/* Kerio's int64 values (watermarks, sync keys, sizes, indexes) as a server or proxy may quote
 * them (a JavaScript-safe encoding of values above 2^53), and numbers with an integral value:
 * read as the same integers, never a spoiled page. */
static void test_ints_as_strings(void **state)
{
    (void)state;
    struct kerio_reply r;
    const json_t *items, *list;
    char why[200];
    int64_t v;
    struct kerio_key key;
    assert_int_equal(parse("{\"id\":\"7\",\"result\":{\"totalItems\":\"2\",\"list\":["
                           "{\"id\":\"a\",\"watermark\":\"9007199254740993\",\"size\":\"123\"},"
                           "{\"id\":\"b\",\"watermark\":9223372036854775807,\"size\":12.0}]}}", &r), 0);
    assert_int_equal(kerio_validate_list(OUTPOST_ITEM_MAIL, r.result, "list", 0, &items, why, sizeof why), 0);
    assert_int_equal(kerio_validate_list(OUTPOST_ITEM_MAIL, r.result, "list", 1, &items, why, sizeof why), 0);
    assert_true(kj_int(json_object_get(json_array_get(items, 0), "watermark"), &v));
    assert_true(v == 9007199254740993LL);
    assert_int_equal(kj_int_or(r.result, "totalItems", -1), 2);
    assert_int_equal(kj_int_or(json_array_get(items, 1), "size", -1), 12);
    json_decref(r.root);
    assert_int_equal(parse("{\"result\":{\"syncKey\":\"9007199254740995\",\"list\":[{\"type\":\"chtCreated\","
                           "\"itemId\":\"n\",\"watermark\":\"9007199254740995\",\"messageUnread\":\"0\"}]}}", &r), 0);
    assert_int_equal(kerio_validate_changes(r.result, &list, &key, why, sizeof why), 0);
    /* A quoted key goes back quoted, exactly as it came. */
    assert_true(key.quoted);
    assert_string_equal(key.text, "9007199254740995");
    json_t *kj = kerio_key_json(&key);
    assert_true(json_is_string(kj));
    assert_string_equal(json_string_value(kj), "9007199254740995");
    json_decref(kj);
    json_decref(r.root);
    /* Per-item errors indexed by a quoted inputIndex, with a quoted code. */
    assert_int_equal(parse("{\"result\":{\"errors\":[{\"inputIndex\":\"1\",\"code\":\"1002\",\"message\":\"gone\"}],"
                           "\"result\":[{\"inputIndex\":\"0\",\"id\":\"x\",\"watermark\":\"5\"}]}}", &r), 0);
    assert_int_equal(kerio_validate_list(OUTPOST_ITEM_MAIL, r.result, "result", 1, &items, why, sizeof why), 0);
    assert_null(kerio_batch_error(r.result, 0));
    assert_non_null(kerio_batch_error(r.result, 1));
    assert_int_equal(kj_int_or(kerio_batch_error(r.result, 1), "code", 0), 1002);
    json_decref(r.root);
    /* An error code given as a string is still the code. */
    assert_int_equal(parse("{\"id\":\"x\",\"error\":{\"code\":\"-32001\",\"message\":\"Session expired.\"}}", &r), 0);
    assert_int_equal(r.code, -32001);
    json_decref(r.root);
    /* Not integers: text, fractions, out of range, inexact doubles. */
    const char *bad[] = { "\"\"", "\"-\"", "\"12a\"", "\" 12\"", "1.5", "\"9223372036854775808\"", "1e300", "true",
                          "\"99999999999999999999\"", "9007199254740994.0" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = json_loads(bad[i], JSON_DECODE_ANY, NULL);
        assert_non_null(j);
        assert_false(kj_int(j, &v));
        json_decref(j);
    }
    json_t *j = json_string("-9223372036854775808");
    assert_true(kj_int(j, &v));
    assert_true(v == INT64_MIN);
    json_decref(j);
}

static void test_sync_state(void **state)
{
    (void)state;
    struct kerio_state ks = { .listing = 1, .key = { 0, "51811" }, .pos = 400 }, back;
    char buf[128];
    size_t n = kerio_state_format(&ks, buf, sizeof buf);
    assert_string_equal(buf, "L1 51811 400");
    assert_int_equal(kerio_state_parse(buf, n, &back), 0);
    assert_true(back.listing);
    assert_false(back.key.quoted);
    assert_string_equal(back.key.text, "51811");
    assert_int_equal(back.pos, 400);
    assert_string_equal(back.last, "");
    strcpy(ks.last, "keriostorage://mail/example.com/jdoe/f/17");
    n = kerio_state_format(&ks, buf, sizeof buf);
    assert_string_equal(buf, "L1 51811 400 keriostorage://mail/example.com/jdoe/f/17");
    assert_int_equal(kerio_state_parse(buf, n, &back), 0);
    assert_string_equal(back.last, "keriostorage://mail/example.com/jdoe/f/17");
    ks.listing = 0;
    n = kerio_state_format(&ks, buf, sizeof buf);
    assert_string_equal(buf, "S1 51811");
    assert_int_equal(kerio_state_parse(buf, n, &back), 0);
    assert_false(back.listing);
    /* A key the server quoted keeps its quotes (and its exact text) through the state. */
    ks.key.quoted = 1;
    strcpy(ks.key.text, "0009007199254740995");
    ks.listing = 1;
    n = kerio_state_format(&ks, buf, sizeof buf);
    assert_string_equal(buf, "L1 \"0009007199254740995\" 400 keriostorage://mail/example.com/jdoe/f/17");
    assert_int_equal(kerio_state_parse(buf, n, &back), 0);
    assert_true(back.listing && back.key.quoted);
    assert_string_equal(back.key.text, "0009007199254740995");
    assert_int_equal(back.pos, 400);
    ks.listing = 0;
    n = kerio_state_format(&ks, buf, sizeof buf);
    assert_string_equal(buf, "S1 \"0009007199254740995\"");
    assert_int_equal(kerio_state_parse(buf, n, &back), 0);
    assert_true(back.key.quoted && !back.listing);
    assert_string_equal(back.key.text, "0009007199254740995");
    /* A state stored before keys kept their type reads as a number. */
    assert_int_equal(kerio_state_parse("S1 9007199254740995", 19, &back), 0);
    assert_false(back.key.quoted);
    assert_string_equal(back.key.text, "9007199254740995");
    const char *bad[] = { "", "S1", "S1 x", "L1 5", "S1 -3", "X1 5", "S1 5 junk", "L1 5 6 a b", "L1 5 6x",
                          "S1 \"x\"", "S1 \"5", "S1 \"-3\"", "L1 \"5\"6", "S1 \"5\" ", "S1 99999999999999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(kerio_state_parse(bad[i], strlen(bad[i]), &back), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_busy_retry_after),
        cmocka_unit_test(test_error_classes),
        cmocka_unit_test(test_page_validation_all_or_nothing),
        cmocka_unit_test(test_changes_validation),
        cmocka_unit_test(test_batch_errors),
        cmocka_unit_test(test_ints_as_strings),
        cmocka_unit_test(test_sync_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
