/* tests/unit/test_config.c — outpost.ini parsing and validation messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "host.h"

static char dir[256];

static const char *write_file(const char *name, const char *text, int mode)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, (mode_t)mode);
    return path;
}

static struct outpost_config *load(const char *text)
{
    const char *p = write_file("outpost.ini", text, 0600);
    struct outpost_config *c = NULL;
    char err[1024] = "";
    if (outpost_config_load(p, 0, &c, err, sizeof err) != 0)
        fail_msg("load failed: %s", err);
    outpost_config_declare_core(c);
    return c;
}

static char warnings[4096];
static void collect(void *ctx, const char *msg)
{
    (void)ctx;
    strncat(warnings, msg, sizeof warnings - strlen(warnings) - 2);
    strcat(warnings, "\n");
}

static const char *const required[] = { "core", "storage", "account", NULL };

static void expect_error(const char *text, const char *needle)
{
    struct outpost_config *c = load(text);
    char err[1024] = "";
    int rc = outpost_config_validate(c, required, collect, NULL, err, sizeof err);
    if (rc == 0 || !strstr(err, needle))
        fail_msg("rc=%d error '%s' lacks '%s'", rc, err, needle);
    outpost_config_free(c);
}

static void test_values_and_defaults(void **s)
{
    (void)s;
    struct outpost_config *c = load("[account]\ntransport = kerio\nurl = https://mail.example.com\n\n[core]\nlog_level = debug\n");
    assert_string_equal(outpost_config_get(c, "account", "url"), "https://mail.example.com");
    assert_string_equal(outpost_config_get(c, "core", "log_level"), "debug");
    assert_string_equal(outpost_config_get(c, "storage", "plugin"), "sqlite"); /* default */
    assert_string_equal(outpost_config_get(c, "imap", "listen"), "127.0.0.1:1143");
    assert_null(outpost_config_get(c, "account", "user"));
    assert_int_equal(outpost_config_line(c, "account", "url"), 3);
    char err[256];
    assert_int_equal(outpost_config_validate(c, required, collect, NULL, err, sizeof err), 0);
    outpost_config_free(c);
}

static void test_unknown_key_warns_with_line(void **s)
{
    (void)s;
    warnings[0] = '\0';
    struct outpost_config *c = load("[account]\ntransport = kerio\n\n[storage]\nplugn = sqlite\n");
    char err[256];
    assert_int_equal(outpost_config_validate(c, required, collect, NULL, err, sizeof err), 0);
    assert_non_null(strstr(warnings, "outpost.ini:5: unknown key 'plugn' in [storage]"));
    outpost_config_free(c);
}

static void test_missing_required(void **s)
{
    (void)s;
    expect_error("[account]\nurl = https://x\n", "[account] transport is required");
}

static void test_bad_bool(void **s)
{
    (void)s;
    expect_error("[account]\ntransport = kerio\ninsecure = maybe\n",
                 "outpost.ini:3: [account] insecure = 'maybe': expected true or false");
}

static void test_bad_enum(void **s)
{
    (void)s;
    expect_error("[account]\ntransport=kerio\n[core]\nlog_level = loud\n",
                 "[core] log_level = 'loud': expected one of error|warning|notice|info|debug");
}

static void test_bad_int(void **s)
{
    (void)s;
    static const outpost_config_key keys[] = { { "page_size", OUTPOST_CFG_INT, 0, "100", NULL, "items per page" },
                                               { NULL, 0, 0, NULL, NULL, NULL } };
    struct outpost_config *c = load("[account]\ntransport = kerio\npage_size = lots\n");
    outpost_config_declare(c, "account", keys);
    char err[1024] = "";
    assert_int_not_equal(outpost_config_validate(c, required, collect, NULL, err, sizeof err), 0);
    assert_non_null(strstr(err, "[account] page_size = 'lots': expected a whole number"));
    outpost_config_free(c);
}

static void test_password_file_permissions(void **s)
{
    (void)s;
    char pw[512];
    snprintf(pw, sizeof pw, "%s", write_file("pw", "secret\n", 0640));
    char text[1024];
    snprintf(text, sizeof text, "[account]\ntransport = kerio\npassword_file = %s\n", pw);
    char needle[600];
    snprintf(needle, sizeof needle, "run: chmod 600 %s", pw);
    expect_error(text, needle);
    expect_error(text, "accessible by group or others");
    chmod(pw, 0600);
    struct outpost_config *c = load(text);
    char err[512];
    assert_int_equal(outpost_config_validate(c, required, collect, NULL, err, sizeof err), 0);
    /* The host resolves the secret; it is never part of a message. */
    struct outpost_host *h = outpost_core_host_new(c, "account", "test", dir);
    char *secret = NULL;
    outpost_status st = h->secret(h, "password", &secret);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_string_equal(secret, "secret");
    free(secret);
    outpost_core_host_free(h);
    outpost_config_free(c);
}

/* ~/ in a declared path or secret file is $HOME/ (the README's and the man
 * page's examples write it so); other values are kept as written. */
static void test_home_in_paths(void **s)
{
    (void)s;
    char home[300];
    snprintf(home, sizeof home, "%s/home", dir);
    mkdir(home, 0700);
    char *old = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("HOME", home, 1);
    char pw[400];
    snprintf(pw, sizeof pw, "%s/pw", home);
    FILE *f = fopen(pw, "w");
    assert_non_null(f);
    fputs("secret\n", f);
    fclose(f);
    chmod(pw, 0600);
    struct outpost_config *c = load("[account]\ntransport = kerio\nuser = ~/jdoe\npassword_file = ~/pw\n"
                                    "ca_file = ~/ca.pem\n[core]\ndata_dir = ~\n");
    assert_string_equal(outpost_config_get(c, "account", "password_file"), pw);
    char want[400];
    snprintf(want, sizeof want, "%s/ca.pem", home);
    assert_string_equal(outpost_config_get(c, "account", "ca_file"), want);
    assert_string_equal(outpost_config_get(c, "core", "data_dir"), home);
    assert_string_equal(outpost_config_get(c, "account", "user"), "~/jdoe"); /* a string */
    char err[512] = "";
    if (outpost_config_validate(c, required, collect, NULL, err, sizeof err) != 0)
        fail_msg("%s", err);
    struct outpost_host *h = outpost_core_host_new(c, "account", "test", dir);
    char *secret = NULL;
    assert_int_equal(h->secret(h, "password", &secret).code, OUTPOST_OK);
    assert_string_equal(secret, "secret");
    free(secret);
    outpost_core_host_free(h);
    outpost_config_free(c);
    /* a key declared after the value was read is expanded too (plugins declare late) */
    c = load("[extra]\nfile = ~/x\n");
    static const outpost_config_key extra[] = { { "file", OUTPOST_CFG_PATH, 0, NULL, NULL, "a file" },
                                                { NULL, 0, 0, NULL, NULL, NULL } };
    assert_string_equal(outpost_config_get(c, "extra", "file"), "~/x");
    outpost_config_declare(c, "extra", extra);
    snprintf(want, sizeof want, "%s/x", home);
    assert_string_equal(outpost_config_get(c, "extra", "file"), want);
    outpost_config_free(c);
    if (old) {
        setenv("HOME", old, 1);
        free(old);
    } else {
        unsetenv("HOME");
    }
}

/* A password in a URL would be in every message naming the URL: refused, without
 * repeating it; a user name alone, or an @ in the path, is fine. */
static void test_url_with_password(void **s)
{
    (void)s;
    expect_error("[account]\ntransport = kerio\nurl = https://jdoe:hunter2@mail.example.com/\n",
                 "outpost.ini:3: [account] url holds a password");
    struct outpost_config *c = load("[account]\ntransport = kerio\nurl = https://jdoe:hunter2@mail.example.com/\n");
    char err[1024] = "";
    assert_int_equal(outpost_config_validate(c, required, collect, NULL, err, sizeof err), -1);
    assert_null(strstr(err, "hunter2"));
    outpost_config_free(c);
    assert_true(outpost_config_url_has_password("https://u:p@h"));
    assert_false(outpost_config_url_has_password("https://jdoe@mail.example.com"));
    assert_false(outpost_config_url_has_password("https://mail.example.com/a:b@c"));
    assert_false(outpost_config_url_has_password("https://mail.example.com:443"));
    assert_false(outpost_config_url_has_password(NULL));
}

/* The host of a URL as the account identity compares it: what is safely the same host
 * compares equal, names are never resolved. */
static void test_url_host(void **s)
{
    (void)s;
    static const struct {
        const char *url, *host;
    } cases[] = {
        { "https://mail.example.com/", "mail.example.com" },
        { "https://MAIL.Example.COM/EWS/Exchange.asmx", "mail.example.com" },
        { "https://mail.example.com.", "mail.example.com" },
        { "https://mail.example.com.:443/x", "mail.example.com" },
        { "https://mail.example.com:443", "mail.example.com" },
        { "https://mail.example.com:8443/webmail", "mail.example.com" },
        { "https://jdoe@Mail.Example.com:443/", "mail.example.com" },
        { "https://mail.example.com?x=1", "mail.example.com" },
        { "https://mail.example.com#f", "mail.example.com" },
        { "mail.example.com/path", "mail.example.com" },
        { "https://127.0.0.1:8443/", "127.0.0.1" },
        { "https://localhost/", "localhost" }, /* not 127.0.0.1: nothing is resolved */
        { "https://[::1]:443/", "[::1]" },
        { "https://[FE80::1]/", "[fe80::1]" },
        { "https://", "" },
        { "https://./", "." },
    };
    char host[256];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n = outpost_url_host(cases[i].url, host, sizeof host);
        if (strcmp(host, cases[i].host) != 0)
            fail_msg("%s: host '%s', expected '%s'", cases[i].url, host, cases[i].host);
        assert_int_equal(n, strlen(cases[i].host));
    }
    /* cut to the buffer, never past it */
    char small[5];
    outpost_url_host("https://mail.example.com/", small, sizeof small);
    assert_string_equal(small, "mail");
    assert_int_equal(outpost_url_host(NULL, host, sizeof host), 0);
    assert_string_equal(host, "");
    char name[] = "Mail.Example.COM..";
    outpost_host_normalise(name);
    assert_string_equal(name, "mail.example.com");
}

static void test_password_cmd(void **s)
{
    (void)s;
    struct outpost_config *c = load("[account]\ntransport = kerio\npassword_cmd = echo s3cret; echo second\n");
    struct outpost_host *h = outpost_core_host_new(c, "account", "test", dir);
    char *secret = NULL;
    outpost_status st = h->secret(h, "password", &secret);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_string_equal(secret, "s3cret");
    free(secret);
    outpost_config_set(c, "account", "password_cmd", "exit 3");
    st = h->secret(h, "password", &secret);
    assert_int_equal(st.code, OUTPOST_AUTH);
    assert_non_null(strstr(st.message, "password_cmd failed"));
    outpost_core_host_free(h);
    outpost_config_free(c);
}

static void test_no_secret(void **s)
{
    (void)s;
    struct outpost_config *c = load("[account]\ntransport = kerio\n");
    struct outpost_host *h = outpost_core_host_new(c, "account", "test", dir);
    char *secret = NULL;
    outpost_status st = h->secret(h, "password", &secret);
    assert_int_equal(st.code, OUTPOST_AUTH);
    assert_non_null(strstr(st.message, "set password_file or password_cmd in [account]"));
    outpost_core_host_free(h);
    outpost_config_free(c);
}

static void test_syntax_error(void **s)
{
    (void)s;
    const char *p = write_file("broken.ini", "[core]\nlog_level = info\nthis line is not ini\n", 0600);
    struct outpost_config *c = NULL;
    char err[1024] = "";
    assert_int_not_equal(outpost_config_load(p, 0, &c, err, sizeof err), 0);
    assert_non_null(strstr(err, "broken.ini:3: syntax error"));
    assert_null(c);
}

static void test_missing_file(void **s)
{
    (void)s;
    struct outpost_config *c = NULL;
    char err[1024] = "";
    assert_int_not_equal(outpost_config_load("/nonexistent/outpost.ini", 0, &c, err, sizeof err), 0);
    assert_non_null(strstr(err, "cannot read config /nonexistent/outpost.ini"));
    assert_non_null(strstr(err, "outpost init"));
    assert_int_equal(outpost_config_load("/nonexistent/outpost.ini", 1, &c, err, sizeof err), 0);
    assert_non_null(c);
    outpost_config_free(c);
}

static void test_typed_parsers(void **s)
{
    (void)s;
    long long n;
    int b;
    assert_int_equal(outpost_config_parse_int("365d", &n), 0);
    assert_int_equal(n, 365LL * 86400);
    assert_int_equal(outpost_config_parse_int("4M", &n), 0);
    assert_int_equal(n, 4LL << 20);
    assert_int_not_equal(outpost_config_parse_int("4MB", &n), 0);
    assert_int_not_equal(outpost_config_parse_int("", &n), 0);
    assert_int_equal(outpost_config_parse_bool("Yes", &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(outpost_config_parse_bool("off", &b), 0);
    assert_int_equal(b, 0);
}

static void test_split_list(void **state)
{
    (void)state;
    char names[3][64];
    assert_int_equal(outpost_config_split_list(NULL, names, 3), 0);
    assert_int_equal(outpost_config_split_list(" ,, ", names, 3), 0);
    assert_int_equal(outpost_config_split_list("imap", names, 3), 1);
    assert_string_equal(names[0], "imap");
    assert_int_equal(outpost_config_split_list(" imap,mapi , x y,z", names, 3), 3);
    assert_string_equal(names[0], "imap");
    assert_string_equal(names[1], "mapi");
    assert_string_equal(names[2], "x");
}

/* The text of ".SH [section]" up to the next ".SH" in the man page, or NULL. */
static const char *man_section(const char *man, const char *section, size_t *len)
{
    char head[80];
    snprintf(head, sizeof head, "\n.SH [%s]\n", section);
    const char *p = strstr(man, head);
    if (!p)
        return NULL;
    p += strlen(head);
    const char *e = strstr(p, "\n.SH ");
    *len = e ? (size_t)(e - p) : strlen(p);
    return p;
}

/* Every key the core declares is documented in outpost.ini(5) under its section, as a
 * ".B key" entry (OUTPOST_MANPAGE: the page; [policy] takes any key: described, not listed). */
static void test_core_keys_documented(void **state)
{
    (void)state;
    const char *path = getenv("OUTPOST_MANPAGE");
    if (!path)
        skip();
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char man[65536];
    size_t n = fread(man, 1, sizeof man - 1, f);
    fclose(f);
    assert_true(n > 0 && n < sizeof man - 1);
    man[n] = '\0';
    static const struct { const char *section; const outpost_config_key *keys; } tables[] = {
        { "core", outpost_core_keys_core }, { "storage", outpost_core_keys_storage },
        { "account", outpost_core_keys_account }, { "imap", outpost_core_keys_imap },
    };
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
        size_t len = 0;
        const char *sec = man_section(man, tables[i].section, &len);
        if (!sec)
            fail_msg("%s has no [%s] section", path, tables[i].section);
        for (const outpost_config_key *k = tables[i].keys; k->name; k++) {
            char entry[80];
            snprintf(entry, sizeof entry, "\n.B %s\n", k->name);
            char *copy = malloc(len + 2);
            assert_non_null(copy);
            memcpy(copy, sec - 1, len + 1); /* from the newline ending the .SH line */
            copy[len + 1] = '\0';
            int found = strstr(copy, entry) != NULL;
            free(copy);
            if (!found)
                fail_msg("[%s] %s is declared but not documented in %s", tables[i].section, k->name, path);
        }
    }
    size_t len;
    assert_non_null(man_section(man, "policy", &len));
    /* and in the sample config (OUTPOST_SAMPLE_CONFIG), as "key = " or "# key = " under its [section] */
    const char *sample = getenv("OUTPOST_SAMPLE_CONFIG");
    if (!sample)
        return;
    if (!(f = fopen(sample, "r")))
        fail_msg("cannot open %s", sample);
    n = fread(man, 1, sizeof man - 1, f);
    fclose(f);
    man[n] = '\0';
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
        char head[80];
        snprintf(head, sizeof head, "\n[%s]\n", tables[i].section);
        const char *sec = strstr(man, head);
        if (!sec)
            fail_msg("%s has no [%s] section", sample, tables[i].section);
        sec += strlen(head) - 1;
        const char *end = strstr(sec, "\n[");
        size_t slen = end ? (size_t)(end - sec) : strlen(sec);
        for (const outpost_config_key *k = tables[i].keys; k->name; k++) {
            char set[80], commented[80];
            snprintf(set, sizeof set, "\n%s = ", k->name);
            snprintf(commented, sizeof commented, "\n# %s = ", k->name);
            char *copy = malloc(slen + 1);
            assert_non_null(copy);
            memcpy(copy, sec, slen);
            copy[slen] = '\0';
            int found = strstr(copy, set) || strstr(copy, commented);
            free(copy);
            if (!found)
                fail_msg("[%s] %s is declared but not in %s", tables[i].section, k->name, sample);
        }
    }
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/outpost-test-config-%ld", (long)getpid());
    char cmd[300];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    if (system(cmd) != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_and_defaults), cmocka_unit_test(test_unknown_key_warns_with_line),
        cmocka_unit_test(test_missing_required),   cmocka_unit_test(test_bad_bool),
        cmocka_unit_test(test_bad_enum),           cmocka_unit_test(test_bad_int),
        cmocka_unit_test(test_password_file_permissions), cmocka_unit_test(test_password_cmd),
        cmocka_unit_test(test_no_secret),          cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_missing_file),       cmocka_unit_test(test_typed_parsers),
        cmocka_unit_test(test_split_list),         cmocka_unit_test(test_core_keys_documented),
        cmocka_unit_test(test_home_in_paths),      cmocka_unit_test(test_url_with_password),
        cmocka_unit_test(test_url_host),
    };
    int rc = cmocka_run_group_tests_name("config", tests, NULL, NULL);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return rc;
}
