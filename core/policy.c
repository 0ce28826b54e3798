/* core/policy.c — per-folder cache policy: parsing, defaults, and `outpost
 * policy` writing the [policy] section of the config file. */
#include "policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "config.h"

int outpost_policy_parse(const char *v, int *headers, int64_t *max_age_s)
{
    char buf[128];
    if (!v || strlen(v) >= sizeof buf)
        return -1;
    snprintf(buf, sizeof buf, "%s", v);
    *headers = 0;
    *max_age_s = 0;
    char *comma = strchr(buf, ',');
    if (comma)
        *comma = '\0';
    char *mode = buf;
    while (*mode == ' ' || *mode == '\t')
        mode++;
    char *end = mode + strlen(mode);
    while (end > mode && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
    if (!strcmp(mode, "headers"))
        *headers = 1;
    else if (strcmp(mode, "full"))
        return -1;
    if (comma) {
        char *age = comma + 1;
        while (*age == ' ' || *age == '\t')
            age++;
        end = age + strlen(age);
        while (end > age && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        long long n;
        if (outpost_config_parse_int(age, &n) != 0 || n <= 0)
            return -1;
        *max_age_s = n;
    }
    return 0;
}

void outpost_policy_effective(const struct outpost_config *cfg, const outpost_folder *f, int *headers,
                              int64_t *max_age_s, int *from_config)
{
    const char *v = cfg && f->name ? outpost_config_get(cfg, "policy", f->name) : NULL;
    if (from_config)
        *from_config = 0;
    if (v && outpost_policy_parse(v, headers, max_age_s) == 0) {
        if (from_config)
            *from_config = 1;
        return;
    }
    *max_age_s = 0;
    *headers = f->kind == OUTPOST_ITEM_MAIL && f->special_use != OUTPOST_USE_INBOX &&
               f->special_use != OUTPOST_USE_DRAFTS && f->special_use != OUTPOST_USE_SENT;
}

void outpost_policy_format(int headers, int64_t max_age_s, char *buf, size_t len)
{
    const char *mode = headers ? "headers" : "full";
    if (max_age_s <= 0)
        snprintf(buf, len, "%s", mode);
    else if (max_age_s % 86400 == 0)
        snprintf(buf, len, "%s, %lldd", mode, (long long)(max_age_s / 86400));
    else
        snprintf(buf, len, "%s, %llds", mode, (long long)max_age_s);
}

/* ---- content the server cannot give ---- */

int64_t outpost_content_retry_delay_ms(uint32_t failures)
{
    if (failures == 0)
        return 0;
    return failures == 1 ? 3600 * 1000LL : 86400 * 1000LL;
}

int outpost_content_retry_due(uint32_t failures, int64_t last_ms, int64_t now_ms)
{
    /* A clock set back puts last_ms in the future: wait at most the delay from now. */
    int64_t delay = outpost_content_retry_delay_ms(failures);
    return failures == 0 || now_ms - last_ms >= delay || last_ms - now_ms > delay;
}

int outpost_content_failures_parse(const void *val, size_t len, uint32_t *failures, int64_t *last_ms)
{
    *failures = 0;
    *last_ms = 0;
    char buf[64];
    if (!val || len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, val, len);
    buf[len] = '\0';
    unsigned long long n;
    long long last;
    int used = 0;
    if (sscanf(buf, "%llu %lld%n", &n, &last, &used) != 2 || (size_t)used != len || n == 0 || n > UINT32_MAX ||
        buf[0] < '0' || buf[0] > '9')
        return -1;
    *failures = (uint32_t)n;
    *last_ms = last;
    return 0;
}

int outpost_content_failures_format(uint32_t failures, int64_t last_ms, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%lu %lld", (unsigned long)failures, (long long)last_ms);
    return n < 0 ? 0 : (size_t)n >= len ? (int)len - 1 : n;
}

struct validate_ctx {
    const char *path;
    char *err;
    size_t errlen;
    int bad;
};

static void validate_one(void *vctx, const char *section, const char *key, const char *value, int line)
{
    struct validate_ctx *c = vctx;
    int headers;
    int64_t age;
    if (c->bad || strcmp(section, "policy") || outpost_policy_parse(value, &headers, &age) == 0)
        return;
    snprintf(c->err, c->errlen,
             "%s:%d: [policy] %s = '%s': expected full or headers, optionally followed by an age (e.g. "
             "'headers, 365d')",
             c->path, line, key, value);
    c->bad = 1;
}

int outpost_policy_validate(const struct outpost_config *cfg, char *err, size_t errlen)
{
    struct validate_ctx c = { outpost_config_path(cfg), err, errlen, 0 };
    outpost_config_each(cfg, validate_one, &c);
    return c.bad ? -1 : 0;
}

/* ---- writing the config file ---- */

/* A folder name inih reads back as the same key: no separator or comment
 * character, no line break, no surrounding blanks, not starting a section. */
static int key_writable(const char *k, char *err, size_t errlen)
{
    size_t n = strlen(k);
    if (!n) {
        snprintf(err, errlen, "the folder name is empty");
        return -1;
    }
    if (strchr(k, '/')) {
        const char *leaf = strrchr(k, '/') + 1;
        snprintf(err, errlen, "'%s': policies are set per folder name, not path; give the last part ('%s')", k,
                 leaf);
        return -1;
    }
    if (k[0] == ' ' || k[0] == '\t' || k[n - 1] == ' ' || k[n - 1] == '\t' || k[0] == '[' ||
        strpbrk(k, "=:;#\r\n")) {
        snprintf(err, errlen,
                 "'%s': a folder name with = : ; # [ or surrounding blanks cannot be a key in outpost.ini; "
                 "rename the folder or leave it to the defaults",
                 k);
        return -1;
    }
    return 0;
}

static const char *skip_blank(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* How inih reads one line (lines are [b, e) without the newline). */
enum line_kind { L_BLANK, L_COMMENT, L_SECTION, L_KEY, L_CONTINUATION };

static enum line_kind classify(const char *b, const char *e, int after_key, const char **name, size_t *name_len)
{
    while (e > b && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
        e--;
    const char *s = skip_blank(b, e);
    if (s == e)
        return L_BLANK;
    if (*s == ';' || *s == '#')
        return L_COMMENT;
    if (after_key && s > b)
        return L_CONTINUATION;
    if (*s == '[') {
        const char *close = memchr(s, ']', (size_t)(e - s));
        *name = s + 1;
        *name_len = close ? (size_t)(close - s - 1) : 0;
        return L_SECTION;
    }
    const char *sep = s;
    while (sep < e && *sep != '=' && *sep != ':')
        sep++;
    const char *ke = sep;
    while (ke > s && (ke[-1] == ' ' || ke[-1] == '\t'))
        ke--;
    *name = s;
    *name_len = (size_t)(ke - s);
    return L_KEY;
}

static void put_entry(GString *g, const char *folder, const char *value)
{
    g_string_append_printf(g, "%s = %s\n", folder, value);
}

int outpost_policy_write(const char *config_path, const char *folder, const char *value, char *err, size_t errlen)
{
    int headers;
    int64_t age;
    if (key_writable(folder, err, errlen) != 0)
        return -1;
    if (value && (strpbrk(value, "\r\n;#") || outpost_policy_parse(value, &headers, &age) != 0)) {
        snprintf(err, errlen, "'%s': expected full or headers, optionally followed by an age (e.g. 'headers, 365d')",
                 value);
        return -1;
    }
    char canon[64];
    if (value) {
        outpost_policy_format(headers, age, canon, sizeof canon);
        value = canon;
    }
    gchar *text = NULL;
    gsize len = 0;
    GError *gerr = NULL;
    if (!g_file_get_contents(config_path, &text, &len, &gerr)) {
        snprintf(err, errlen, "cannot read %s: %s", config_path, gerr->message);
        g_error_free(gerr);
        return -1;
    }

    /* One pass: copy every line, replacing or dropping the folder's entries
     * (with their continuation lines) in [policy], and remember where the
     * last [policy] section's last entry ends to insert a new one there. */
    GString *out = g_string_sized_new(len + 64);
    const char *p = text, *end = text + len;
    int in_policy = 0, after_key = 0, skipping = 0, written = 0;
    size_t insert_at = (size_t)-1; /* offset in `out` after the last [policy] line */
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *name = NULL;
        size_t name_len = 0;
        enum line_kind k = classify(p, le, after_key, &name, &name_len);
        int drop = 0;
        if (k == L_SECTION) {
            in_policy = name_len == 6 && !memcmp(name, "policy", 6);
            after_key = 0;
            skipping = 0;
        } else if (k == L_KEY) {
            after_key = 1;
            skipping = in_policy && name_len == strlen(folder) && !memcmp(name, folder, name_len);
            drop = skipping;
        } else if (k == L_CONTINUATION) {
            drop = skipping;
        } else {
            skipping = 0;
        }
        if (drop && value && !written) {
            put_entry(out, folder, value); /* replaced in place */
            written = 1;
        } else if (!drop) {
            g_string_append_len(out, p, le - p);
            g_string_append_c(out, '\n');
        }
        if (in_policy && (k == L_SECTION || k == L_KEY || k == L_CONTINUATION || drop))
            insert_at = out->len;
        p = nl ? nl + 1 : end;
    }
    g_free(text);
    if (value && !written) {
        if (insert_at == (size_t)-1) {
            g_string_append(out, out->len ? "\n[policy]\n" : "[policy]\n");
            put_entry(out, folder, value);
        } else {
            gchar *entry = g_strdup_printf("%s = %s\n", folder, value);
            g_string_insert(out, (gssize)insert_at, entry);
            g_free(entry);
        }
    }
    /* Never leave a file behind that the daemon could not load. */
    struct outpost_config *check = NULL;
    char perr[1024];
    int rc = -1;
    if (outpost_config_parse_text(out->str, config_path, &check, perr, sizeof perr) != 0) {
        snprintf(err, errlen, "not written, the result would not parse: %s", perr);
        goto done;
    }
    const char *got = outpost_config_get(check, "policy", folder);
    int same = value ? got && !strcmp(got, value) : got == NULL;
    outpost_config_free(check);
    if (!same) {
        snprintf(err, errlen, "not written: %s would not read back as [policy] %s = %s", config_path, folder,
                 value ? value : "(none)");
        goto done;
    }
    /* Atomic and durable: a private temporary file, flushed, renamed over. */
    if (!g_file_set_contents_full(config_path, out->str, (gssize)out->len,
                                  G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0600, &gerr)) {
        snprintf(err, errlen, "cannot write %s: %s", config_path, gerr->message);
        g_error_free(gerr);
        goto done;
    }
    rc = 0;
done:
    g_string_free(out, TRUE);
    return rc;
}

json_t *outpost_content_failures_index(const struct outpost_storage_methods *m, struct outpost_txn *t)
{
    const void *v = NULL;
    size_t len = 0;
    if (m->meta_get(t, OUTPOST_CONTENT_FAILURES_INDEX, &v, &len).code != OUTPOST_OK || !v)
        return NULL;
    return json_loadb(v, len, 0, NULL);
}
