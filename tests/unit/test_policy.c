/* tests/unit/test_policy.c — per-folder policy: parsing, KOFF defaults, and
 * outpost_policy_write() editing [policy] in a config file; the schedule of content
 * the server refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "policy.h"

static char dir[] = "/tmp/outpost-policy-XXXXXX";
static char path[128];

static void write_text(const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_text(void)
{
    static char buf[8192];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Writes `in`, applies folder=value, expects `out` (NULL: refused, file unchanged). */
static void edit(const char *in, const char *folder, const char *value, const char *out)
{
    char err[512] = "";
    write_text(in);
    int rc = outpost_policy_write(path, folder, value, err, sizeof err);
    if (!out) {
        assert_int_equal(rc, -1);
        assert_true(err[0]);
        assert_string_equal(read_text(), in);
        return;
    }
    if (rc != 0)
        fail_msg("outpost_policy_write: %s", err);
    assert_string_equal(read_text(), out);
}

static void parse_and_format(void **state)
{
    (void)state;
    int h;
    int64_t age;
    char buf[64];
    assert_int_equal(outpost_policy_parse("full", &h, &age), 0);
    assert_int_equal(h, 0);
    assert_int_equal(age, 0);
    assert_int_equal(outpost_policy_parse(" headers ,  365d ", &h, &age), 0);
    assert_int_equal(h, 1);
    assert_int_equal(age, 365 * 86400);
    outpost_policy_format(h, age, buf, sizeof buf);
    assert_string_equal(buf, "headers, 365d");
    outpost_policy_format(0, 90, buf, sizeof buf);
    assert_string_equal(buf, "full, 90s");
    assert_int_equal(outpost_policy_parse("Headers", &h, &age), -1);
    assert_int_equal(outpost_policy_parse("headers,", &h, &age), -1);
    assert_int_equal(outpost_policy_parse("headers, 0d", &h, &age), -1);
    assert_int_equal(outpost_policy_parse("headers, -3d", &h, &age), -1);
    assert_int_equal(outpost_policy_parse("headers, 3 weeks", &h, &age), -1);
    assert_int_equal(outpost_policy_parse(NULL, &h, &age), -1);
}

static void defaults_and_config(void **state)
{
    (void)state;
    outpost_folder f = { .struct_size = sizeof f, .kind = OUTPOST_ITEM_MAIL, .name = "Archive" };
    int h, from;
    int64_t age;
    outpost_policy_effective(NULL, &f, &h, &age, &from);
    assert_int_equal(h, 1);
    assert_int_equal(from, 0);
    f.special_use = OUTPOST_USE_INBOX;
    outpost_policy_effective(NULL, &f, &h, &age, &from);
    assert_int_equal(h, 0);
    f.special_use = OUTPOST_USE_NONE;
    f.kind = OUTPOST_ITEM_EVENT;
    outpost_policy_effective(NULL, &f, &h, &age, &from);
    assert_int_equal(h, 0);

    struct outpost_config *c = NULL;
    char err[256];
    assert_int_equal(outpost_config_parse_text("[policy]\nArchive = full, 30d\nJunk = sometimes\n", "t.ini", &c, err,
                                               sizeof err), 0);
    f.kind = OUTPOST_ITEM_MAIL;
    outpost_policy_effective(c, &f, &h, &age, &from);
    assert_int_equal(h, 0);
    assert_int_equal(age, 30 * 86400);
    assert_int_equal(from, 1);
    assert_int_equal(outpost_policy_validate(c, err, sizeof err), -1);
    assert_non_null(strstr(err, "t.ini:3: [policy] Junk = 'sometimes'"));
    f.name = "Junk"; /* malformed counts as absent */
    outpost_policy_effective(c, &f, &h, &age, &from);
    assert_int_equal(h, 1);
    assert_int_equal(from, 0);
    outpost_config_free(c);
}

static void write_cases(void **state)
{
    (void)state;
    /* No section: appended. An empty file gets just the section. */
    edit("[core]\nlog_level = info\n", "Archive", "headers,365d",
         "[core]\nlog_level = info\n\n[policy]\nArchive = headers, 365d\n");
    edit("", "Inbox", "full", "[policy]\nInbox = full\n");
    /* No final newline. */
    edit("[core]\nx = 1", "Inbox", "full", "[core]\nx = 1\n\n[policy]\nInbox = full\n");
    /* Replaced in place, a duplicate and continuation lines dropped, comments
     * and other sections (with the same key) kept. */
    edit("; top\n[policy]\n# note\nInbox = headers\n  continued\nOther: full\nInbox = full\n[mapi]\nInbox = x\n",
         "Inbox", "headers",
         "; top\n[policy]\n# note\nInbox = headers\nOther: full\n[mapi]\nInbox = x\n");
    /* Added after the section's last entry, before the next section. */
    edit("[policy]\nA = full\n\n[imap]\nuser = u\n", "B", "headers",
         "[policy]\nA = full\nB = headers\n\n[imap]\nuser = u\n");
    /* Removed. */
    edit("[policy]\nA = full\nB = headers\n", "A", NULL, "[policy]\nB = headers\n");
    edit("[policy]\nB = headers\n", "A", NULL, "[policy]\nB = headers\n");
    /* Unicode folder names are fine. */
    edit("[policy]\n", "Přijatá", "full", "[policy]\nPřijatá = full\n");
    /* Refused: bad values and names inih could not read back; the file stays. */
    edit("[policy]\nA = full\n", "A", "weekly", NULL);
    edit("[policy]\nA = full\n", "A", "full\nInjected = 1", NULL);
    edit("[policy]\nA = full\n", "a=b", "full", NULL);
    edit("[policy]\nA = full\n", "x;y", "full", NULL);
    edit("[policy]\nA = full\n", " A", "full", NULL);
    edit("[policy]\nA = full\n", "[A", "full", NULL);
    edit("[policy]\nA = full\n", "Inbox/Sub", "full", NULL);
    edit("[policy]\nA = full\n", "", "full", NULL);
    /* A file that would not parse afterwards is left alone. */
    edit("[policy]\nA = full\nthis is not ini\n", "B", "full", NULL);
    /* The result is private and no temporary file is left behind. */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 077, 0);
    char err[256];
    assert_int_equal(outpost_policy_write("/nonexistent/dir/x.ini", "A", "full", err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot read"));
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/outpost.ini", dir);
    return 0;
}

/* Content the server refuses for good: asked for again an hour after the first
 * failed try, then daily; the record of tries reads back what was written. */
static void content_retry_schedule(void **state)
{
    (void)state;
    const int64_t h = 3600 * 1000LL, d = 24 * h, t0 = 1750000000000LL;
    assert_int_equal(outpost_content_retry_delay_ms(0), 0);
    assert_int_equal(outpost_content_retry_delay_ms(1), h);
    assert_int_equal(outpost_content_retry_delay_ms(2), d);
    assert_int_equal(outpost_content_retry_delay_ms(3), d);
    assert_int_equal(outpost_content_retry_delay_ms(1000), d);
    /* never failed: due */
    assert_true(outpost_content_retry_due(0, 0, t0));
    /* after one failure: not within the hour, due from the hour on */
    assert_false(outpost_content_retry_due(1, t0, t0));
    assert_false(outpost_content_retry_due(1, t0, t0 + h - 1));
    assert_true(outpost_content_retry_due(1, t0, t0 + h));
    /* after two and more: a day */
    assert_false(outpost_content_retry_due(2, t0, t0 + h));
    assert_false(outpost_content_retry_due(2, t0, t0 + d - 1));
    assert_true(outpost_content_retry_due(2, t0, t0 + d));
    assert_false(outpost_content_retry_due(7, t0, t0 + d - 1));
    assert_true(outpost_content_retry_due(7, t0, t0 + 3 * d));
    /* a clock set back by less than the delay waits; by more, the try is due */
    assert_false(outpost_content_retry_due(1, t0, t0 - h + 1));
    assert_true(outpost_content_retry_due(1, t0, t0 - h - 1));
    /* a whole sequence as the engine runs it, a sync every 5 minutes for 4 days:
     * tries at 0, 1 h, 1 h + 1 d, 1 h + 2 d, 1 h + 3 d */
    uint32_t n = 0;
    int64_t last = 0, tries[8];
    int ntries = 0;
    for (int64_t now = t0; now < t0 + 4 * d; now += 5 * 60 * 1000) {
        if (!outpost_content_retry_due(n, last, now))
            continue;
        assert_true(ntries < 8);
        tries[ntries++] = now - t0;
        n++;
        last = now;
    }
    assert_int_equal(ntries, 5);
    assert_int_equal(tries[0], 0);
    assert_int_equal(tries[1], h);
    assert_int_equal(tries[2], h + d);
    assert_int_equal(tries[3], h + 2 * d);
    assert_int_equal(tries[4], h + 3 * d);

    char buf[64];
    int len = outpost_content_failures_format(3, t0, buf, sizeof buf);
    assert_string_equal(buf, "3 1750000000000");
    assert_int_equal(len, (int)strlen(buf));
    uint32_t f;
    int64_t at;
    assert_int_equal(outpost_content_failures_parse(buf, (size_t)len, &f, &at), 0);
    assert_int_equal(f, 3);
    assert_int_equal(at, t0);
    /* malformed records are refused (the next try is then due) */
    static const char *const bad[] = { "", "3", "x 5", "3 5 6", " 3 5", "0 5", "-1 5", "3 5x", "99999999999 5" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(outpost_content_failures_parse(bad[i], strlen(bad[i]), &f, &at), -1);
        assert_int_equal(f, 0);
    }
    assert_int_equal(outpost_content_failures_parse(NULL, 0, &f, &at), -1);
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_and_format),
        cmocka_unit_test(defaults_and_config),
        cmocka_unit_test(write_cases),
        cmocka_unit_test(content_retry_schedule),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
