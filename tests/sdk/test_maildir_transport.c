/* test_maildir_transport.c — drives the example maildir transport plugin
 * (sdk/examples/maildir-transport) through its method table, loaded with
 * dlopen as the core loads it, over a Maildir++ fixture built per test. */
#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
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

#include <outpost/abi.h>
#include <outpost/host.h>
#include <outpost/item.h>
#include <outpost/transport.h>

#ifndef MAILDIR_PLUGIN_PATH
#error MAILDIR_PLUGIN_PATH must name the built outpost-transport-maildir plugin
#endif

/* ---- the plugin, loaded once ---------------------------------------------- */

static void *plugin_handle;
static const struct outpost_plugin *plugin;
static const struct outpost_transport_methods *tm;

static int load_plugin(void **state)
{
    (void)state;
    plugin_handle = dlopen(MAILDIR_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
    if (plugin_handle == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", MAILDIR_PLUGIN_PATH, dlerror());
        return -1;
    }
    outpost_plugin_entry_fn entry;
    *(void **)&entry = dlsym(plugin_handle, OUTPOST_PLUGIN_ENTRY_NAME);
    if (entry == NULL)
        return -1;
    plugin = entry();
    tm = plugin != NULL ? plugin->methods : NULL;
    return tm != NULL ? 0 : -1;
}

static int unload_plugin(void **state)
{
    (void)state;
    if (plugin_handle != NULL)
        dlclose(plugin_handle);
    return 0;
}

/* ---- fixture: a Maildir++ tree, a data dir and a fake host ---------------- */

struct fixture {
    char base[256];
    char maildir[300];
    char data[300];
    const char *config_maildir; /* what config_get("maildir") answers */
    struct outpost_host host;
    struct outpost_transport *t;
};

static void host_vlog(const struct outpost_host *h, int level, const char *fmt, va_list ap)
{
    (void)h;
    fprintf(stderr, "[plugin %d] ", level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

static void host_log(const struct outpost_host *h, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    host_vlog(h, level, fmt, ap);
    va_end(ap);
}

static const char *host_config_get(const struct outpost_host *h, const char *key)
{
    const struct fixture *fx = h->core;
    return strcmp(key, "maildir") == 0 ? fx->config_maildir : NULL;
}

static const char *host_config_get_in(const struct outpost_host *h, const char *section, const char *key)
{
    return strcmp(section, "account") == 0 ? host_config_get(h, key) : NULL;
}

static int64_t host_config_int(const struct outpost_host *h, const char *key, int64_t def)
{
    (void)h;
    (void)key;
    return def;
}

static int host_config_bool(const struct outpost_host *h, const char *key, int def)
{
    (void)h;
    (void)key;
    return def;
}

static outpost_status host_secret(const struct outpost_host *h, const char *prefix, char **out)
{
    (void)h;
    (void)prefix;
    *out = NULL;
    outpost_status s = { OUTPOST_AUTH, 0, "no secrets in this test" };
    return s;
}

static const char *host_data_dir(const struct outpost_host *h)
{
    const struct fixture *fx = h->core;
    return fx->data;
}

static int64_t host_now(const struct outpost_host *h)
{
    (void)h;
    return 0;
}

static int host_cancelled(const struct outpost_host *h)
{
    (void)h;
    return 0;
}

static void mkdir_or_die(const char *a, const char *b)
{
    char p[512];
    snprintf(p, sizeof p, "%s%s%s", a, b ? "/" : "", b ? b : "");
    if (mkdir(p, 0700) != 0 && errno != EEXIST)
        fail_msg("mkdir %s: %s", p, strerror(errno));
}

/* A Maildir (cur, new, tmp) at <maildir>/<sub> ("" for INBOX). */
static void make_maildir(struct fixture *fx, const char *sub)
{
    char p[512];
    snprintf(p, sizeof p, "%s%s%s", fx->maildir, sub[0] ? "/" : "", sub);
    mkdir_or_die(p, NULL);
    mkdir_or_die(p, "cur");
    mkdir_or_die(p, "new");
    mkdir_or_die(p, "tmp");
}

/* Writes a message file <maildir>/<folder>/<sub>/<name>. */
static void put_file(struct fixture *fx, const char *folder, const char *sub, const char *name, const void *data,
                     size_t len)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s%s%s/%s", fx->maildir, folder, folder[0] ? "/" : "", sub, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void put_msg(struct fixture *fx, const char *sub, const char *name)
{
    char body[256];
    int n = snprintf(body, sizeof body, "From: a@example.org\r\nSubject: %s\r\n\r\nbody of %s\r\n", name, name);
    put_file(fx, "", sub, name, body, (size_t)n);
}

static void path_in(struct fixture *fx, const char *sub, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s/%s", fx->maildir, sub, name);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    if (fx == NULL)
        return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(fx->base, sizeof fx->base, "%s/outpost-maildir-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (mkdtemp(fx->base) == NULL)
        return -1;
    snprintf(fx->maildir, sizeof fx->maildir, "%s/Maildir", fx->base);
    snprintf(fx->data, sizeof fx->data, "%s/data", fx->base);
    mkdir_or_die(fx->data, NULL);
    make_maildir(fx, "");
    fx->config_maildir = fx->maildir;
    struct outpost_host *h = &fx->host;
    h->struct_size = sizeof *h;
    h->abi_major = OUTPOST_ABI_MAJOR;
    h->abi_minor = OUTPOST_ABI_MINOR;
    h->core = fx;
    h->log = host_log;
    h->vlog = host_vlog;
    h->config_get = host_config_get;
    h->config_get_in = host_config_get_in;
    h->config_int = host_config_int;
    h->config_bool = host_config_bool;
    h->secret = host_secret;
    h->data_dir = host_data_dir;
    h->now_ms = host_now;
    h->monotonic_ms = host_now;
    h->alloc = malloc;
    h->realloc = realloc;
    h->free = free;
    h->cancelled = host_cancelled;
    *state = fx;
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    if (fx->t != NULL) {
        tm->close(fx->t);
        tm->destroy(fx->t);
    }
    nftw(fx->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

static void open_transport(struct fixture *fx)
{
    outpost_status s = tm->create(&fx->host, &fx->t);
    assert_int_equal(s.code, OUTPOST_OK);
    s = tm->open(fx->t);
    if (s.code != OUTPOST_OK)
        fail_msg("open: %s", s.message);
}

/* ---- a recording sink --------------------------------------------------------- */

struct rec {
    uint32_t change;
    char id[300];
    char parent[300];
    char name[300];
    uint32_t flags;
    uint32_t special_use;
    uint64_t size;
    char *content;
    size_t clen;
    int ended;
};

struct recorder {
    struct rec v[64];
    size_t n;
    void *states[16];
    size_t state_len[16];
    size_t ncommit;
    size_t commit_fail_at;       /* 1-based commit number to refuse, 0 = none */
    uint32_t failed_index[8];
    int32_t failed_code[8];
    size_t nfailed;
};

static struct rec *rec_new(struct recorder *r)
{
    assert_true(r->n < sizeof r->v / sizeof r->v[0]);
    struct rec *x = &r->v[r->n++];
    memset(x, 0, sizeof *x);
    return x;
}

static outpost_status sink_folder(void *ctx, uint32_t change, const outpost_folder *f)
{
    struct rec *x = rec_new(ctx);
    x->change = change;
    snprintf(x->id, sizeof x->id, "%s", f->remote_id);
    snprintf(x->parent, sizeof x->parent, "%s", f->parent_remote_id ? f->parent_remote_id : "");
    snprintf(x->name, sizeof x->name, "%s", f->name);
    x->flags = f->flags;
    x->special_use = f->special_use;
    return outpost_ok();
}

static outpost_status sink_item(void *ctx, uint32_t change, const outpost_item *it)
{
    struct rec *x = rec_new(ctx);
    x->change = change;
    snprintf(x->id, sizeof x->id, "%s", it->remote_id);
    x->flags = it->flags;
    x->size = it->size;
    return outpost_ok();
}

static outpost_status sink_moved(void *ctx, const char *old, const char *to, const outpost_item *it)
{
    (void)ctx;
    (void)old;
    (void)to;
    (void)it;
    fail_msg("item_moved is never expected from the maildir transport");
    return outpost_ok();
}

static outpost_status sink_content(void *ctx, const void *data, size_t len)
{
    struct recorder *r = ctx;
    assert_true(r->n > 0);
    struct rec *x = &r->v[r->n - 1];
    assert_false(x->ended);
    x->content = realloc(x->content, x->clen + len);
    assert_non_null(x->content);
    memcpy(x->content + x->clen, data, len);
    x->clen += len;
    return outpost_ok();
}

static outpost_status sink_content_end(void *ctx)
{
    struct recorder *r = ctx;
    assert_true(r->n > 0);
    r->v[r->n - 1].ended = 1;
    return outpost_ok();
}

static outpost_status sink_commit(void *ctx, const void *state, size_t len)
{
    struct recorder *r = ctx;
    if (r->commit_fail_at != 0 && r->ncommit + 1 == r->commit_fail_at) {
        outpost_status s = { OUTPOST_TEMP, 0, "simulated crash before the commit" };
        return s;
    }
    assert_true(r->ncommit < 16);
    r->states[r->ncommit] = NULL;
    if (len > 0) {
        r->states[r->ncommit] = malloc(len);
        assert_non_null(r->states[r->ncommit]);
        memcpy(r->states[r->ncommit], state, len);
    }
    r->state_len[r->ncommit] = len;
    r->ncommit++;
    return outpost_ok();
}

static outpost_status sink_item_failed(void *ctx, uint32_t index, outpost_status st)
{
    struct recorder *r = ctx;
    assert_true(r->nfailed < 8);
    r->failed_index[r->nfailed] = index;
    r->failed_code[r->nfailed] = st.code;
    r->nfailed++;
    return outpost_ok();
}

static struct outpost_sync_sink make_sink(struct recorder *r)
{
    struct outpost_sync_sink s = {
        .struct_size = sizeof s, .ctx = r, .folder = sink_folder, .item = sink_item, .item_moved = sink_moved,
        .content = sink_content, .content_end = sink_content_end, .commit = sink_commit,
        .item_failed = sink_item_failed, /* progress is optional */
    };
    return s;
}

static struct recorder *recorder_new(void)
{
    struct recorder *r = calloc(1, sizeof *r);
    assert_non_null(r);
    return r;
}

static void recorder_free(struct recorder *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i].content);
    for (size_t i = 0; i < r->ncommit; i++)
        free(r->states[i]);
    free(r);
}

static const struct rec *find_rec(const struct recorder *r, const char *id)
{
    const struct rec *found = NULL;
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->v[i].id, id) == 0) {
            if (found != NULL)
                fail_msg("%s reported twice", id);
            found = &r->v[i];
        }
    }
    return found;
}

static outpost_folder folder_of(const char *rid)
{
    outpost_folder f;
    memset(&f, 0, sizeof f);
    f.struct_size = sizeof f;
    f.kind = OUTPOST_ITEM_MAIL;
    f.remote_id = rid;
    return f;
}

static outpost_status sync_inbox(struct fixture *fx, struct recorder *r, const void *state, size_t len,
                                 uint32_t page, uint32_t flags)
{
    outpost_folder f = folder_of("INBOX");
    struct outpost_sync_sink sink = make_sink(r);
    return tm->sync_folder(fx->t, &f, state, len, page, flags, &sink);
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_descriptor(void **state)
{
    (void)state;
    assert_int_equal(plugin->struct_size, sizeof(struct outpost_plugin));
    assert_int_equal(plugin->abi_major, OUTPOST_ABI_MAJOR);
    assert_true(plugin->abi_minor <= OUTPOST_ABI_MINOR);
    assert_int_equal(plugin->kind, OUTPOST_KIND_TRANSPORT);
    assert_string_equal(plugin->name, "maildir");
    assert_string_equal(plugin->section, "account");
    /* A read-only source declares no write capability and no push. */
    assert_int_equal(plugin->caps & (OUTPOST_TRANSPORT_CAP_RAW_MIME | OUTPOST_TRANSPORT_CAP_KEYWORDS |
                                     OUTPOST_TRANSPORT_CAP_CUSTOM_HEADERS | OUTPOST_TRANSPORT_CAP_FOLDER_WRITE |
                                     OUTPOST_TRANSPORT_CAP_PUSH), 0);
    assert_true(tm->struct_size >= OUTPOST_TRANSPORT_METHODS_V1_0_SIZE);
    assert_non_null(plugin->config_keys);
    assert_string_equal(plugin->config_keys[0].name, "maildir");
    assert_int_equal(plugin->config_keys[0].type, OUTPOST_CFG_PATH);
    assert_true(plugin->config_keys[0].required);
    assert_null(plugin->config_keys[1].name);
}

static void test_create_and_open_check_config(void **state)
{
    struct fixture *fx = *state;
    struct outpost_transport *t = NULL;
    fx->config_maildir = NULL;
    outpost_status s = tm->create(&fx->host, &t);
    assert_int_not_equal(s.code, OUTPOST_OK);
    assert_non_null(strstr(s.message, "maildir"));

    /* create() does no I/O; open() notices a directory that is no Maildir. */
    fx->config_maildir = fx->data;
    s = tm->create(&fx->host, &t);
    assert_int_equal(s.code, OUTPOST_OK);
    s = tm->open(t);
    assert_int_equal(s.code, OUTPOST_FATAL);
    assert_non_null(strstr(s.message, "cur"));
    tm->destroy(t);
}

static void test_hierarchy(void **state)
{
    struct fixture *fx = *state;
    make_maildir(fx, ".Sent");
    make_maildir(fx, ".Archive");
    make_maildir(fx, ".Archive.2023");
    make_maildir(fx, ".Lists.dev"); /* no ".Lists": a NOSELECT container appears */
    mkdir_or_die(fx->maildir, ".NotAFolder"); /* no cur/: ignored */
    open_transport(fx);

    struct recorder *r = recorder_new();
    struct outpost_sync_sink sink = make_sink(r);
    outpost_status s = tm->sync_hierarchy(fx->t, NULL, 0, &sink);
    assert_int_equal(s.code, OUTPOST_OK);
    assert_int_equal(r->n, 6);
    assert_int_equal(r->ncommit, 1);
    const struct rec *x = find_rec(r, "INBOX");
    assert_non_null(x);
    assert_int_equal(x->special_use, OUTPOST_USE_INBOX);
    assert_string_equal(x->parent, "");
    x = find_rec(r, ".Sent");
    assert_non_null(x);
    assert_string_equal(x->name, "Sent");
    assert_int_equal(x->special_use, OUTPOST_USE_SENT);
    x = find_rec(r, ".Archive.2023");
    assert_non_null(x);
    assert_string_equal(x->name, "2023");
    assert_string_equal(x->parent, ".Archive");
    assert_int_equal(x->special_use, OUTPOST_USE_NONE);
    x = find_rec(r, ".Lists");
    assert_non_null(x);
    assert_true(x->flags & OUTPOST_FOLDER_NOSELECT);
    x = find_rec(r, ".Lists.dev");
    assert_non_null(x);
    assert_string_equal(x->parent, ".Lists");
    assert_false(x->flags & OUTPOST_FOLDER_NOSELECT);
    assert_null(find_rec(r, ".NotAFolder"));
    /* Parents come before their children. */
    for (size_t i = 0; i < r->n; i++)
        for (size_t j = i + 1; j < r->n; j++)
            assert_string_not_equal(r->v[i].parent, r->v[j].id);

    /* Incremental: one folder removed, one added, a container made real. */
    struct recorder *r2 = recorder_new();
    sink = make_sink(r2);
    char p[512];
    snprintf(p, sizeof p, "%s/.Archive.2023", fx->maildir);
    assert_int_equal(nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
    make_maildir(fx, ".Drafts");
    make_maildir(fx, ".Lists");
    s = tm->sync_hierarchy(fx->t, r->states[0], r->state_len[0], &sink);
    assert_int_equal(s.code, OUTPOST_OK);
    assert_int_equal(r2->n, 3);
    assert_int_equal(find_rec(r2, ".Archive.2023")->change, OUTPOST_CHANGE_DELETE);
    x = find_rec(r2, ".Drafts");
    assert_int_equal(x->change, OUTPOST_CHANGE_ADD);
    assert_int_equal(x->special_use, OUTPOST_USE_DRAFTS);
    x = find_rec(r2, ".Lists");
    assert_int_equal(x->change, OUTPOST_CHANGE_UPDATE);
    assert_false(x->flags & OUTPOST_FOLDER_NOSELECT);
    recorder_free(r);
    recorder_free(r2);
}

/* Seven messages, in cur/ with flags and in new/ without. */
static const struct {
    const char *sub, *name, *id;
    uint32_t flags;
} seven[] = {
    { "cur", "1700000001.M1P1.host,S=60:2,S", "1700000001.M1P1.host,S=60", OUTPOST_FLAG_SEEN },
    { "cur", "1700000002.M2P1.host:2,RS", "1700000002.M2P1.host", OUTPOST_FLAG_ANSWERED | OUTPOST_FLAG_SEEN },
    { "cur", "1700000003.M3P1.host:2,FT", "1700000003.M3P1.host", OUTPOST_FLAG_FLAGGED | OUTPOST_FLAG_DELETED },
    { "cur", "1700000004.M4P1.host:2,DP", "1700000004.M4P1.host", OUTPOST_FLAG_DRAFT | OUTPOST_FLAG_FORWARDED },
    { "cur", "1700000005.M5P1.host:2,", "1700000005.M5P1.host", 0 },
    { "new", "1700000006.M6P1.host", "1700000006.M6P1.host", 0 },
    { "new", "1700000007.M7P1.host", "1700000007.M7P1.host", 0 },
};
#define NSEVEN (sizeof seven / sizeof seven[0])

static void put_seven(struct fixture *fx)
{
    for (size_t i = 0; i < NSEVEN; i++)
        put_msg(fx, seven[i].sub, seven[i].name);
}

static void test_listing_in_pages_with_flags(void **state)
{
    struct fixture *fx = *state;
    put_seven(fx);
    put_msg(fx, "tmp", "1700000008.M8P1.host"); /* tmp/ is not delivered yet */
    open_transport(fx);

    struct recorder *r = recorder_new();
    outpost_status s = sync_inbox(fx, r, NULL, 0, 3, OUTPOST_SYNC_INITIAL);
    assert_int_equal(s.code, OUTPOST_OK);
    assert_int_equal(r->n, NSEVEN);
    assert_int_equal(r->ncommit, 3); /* 3 + 3 + 1 */
    for (size_t i = 0; i < NSEVEN; i++) {
        const struct rec *x = find_rec(r, seven[i].id);
        if (x == NULL)
            fail_msg("%s not listed", seven[i].id);
        assert_int_equal(x->change, OUTPOST_CHANGE_ADD);
        assert_int_equal(x->flags, seven[i].flags);
        assert_true(x->size > 0);
        assert_null(x->content);
    }

    /* Nothing changed: the next pass reports nothing and commits once. */
    struct recorder *r2 = recorder_new();
    s = sync_inbox(fx, r2, r->states[2], r->state_len[2], 3, 0);
    assert_int_equal(s.code, OUTPOST_OK);
    assert_int_equal(r2->n, 0);
    assert_int_equal(r2->ncommit, 1);
    recorder_free(r);
    recorder_free(r2);
}

static void test_listing_resumes_after_a_crash(void **state)
{
    struct fixture *fx = *state;
    put_seven(fx);
    open_transport(fx);

    /* The engine crashes at the second commit: only page 1 is committed. */
    struct recorder *r = recorder_new();
    r->commit_fail_at = 2;
    outpost_status s = sync_inbox(fx, r, NULL, 0, 2, OUTPOST_SYNC_INITIAL);
    assert_int_equal(s.code, OUTPOST_TEMP);
    assert_int_equal(r->ncommit, 1);
    assert_int_equal(r->n, 4); /* page 1 (committed) and page 2 (lost) */

    struct recorder *r2 = recorder_new();
    s = sync_inbox(fx, r2, r->states[0], r->state_len[0], 2, 0);
    assert_int_equal(s.code, OUTPOST_OK);
    assert_int_equal(r2->ncommit, 3); /* 2 + 2 + 1 */
    /* Page 1 and the resumed listing together: every message exactly once. */
    assert_int_equal(r2->n, NSEVEN - 2);
    for (size_t i = 0; i < NSEVEN; i++) {
        const struct rec *a = NULL;
        for (size_t k = 0; k < 2; k++)
            if (strcmp(r->v[k].id, seven[i].id) == 0)
                a = &r->v[k];
        const struct rec *b = find_rec(r2, seven[i].id);
        if ((a == NULL) == (b == NULL))
            fail_msg("%s listed %s", seven[i].id, a ? "twice" : "never");
    }

    /* The lost page left nothing behind: the next pass is quiet (a snapshot
     * holding page 2 twice would report deletions). */
    struct recorder *r4 = recorder_new();
    s = sync_inbox(fx, r4, r2->states[2], r2->state_len[2], 2, 0);
    assert_int_equal(s.code, OUTPOST_OK);
    assert_int_equal(r4->n, 0);
    recorder_free(r4);

    /* A state that is not ours is refused so the engine resyncs. */
    struct recorder *r3 = recorder_new();
    s = sync_inbox(fx, r3, "garbage", 7, 2, 0);
    assert_int_equal(s.code, OUTPOST_STATE_INVALID);
    assert_int_equal(r3->n, 0);
    recorder_free(r);
    recorder_free(r2);
    recorder_free(r3);
}

static void fill_pattern(unsigned char *buf, size_t n)
{
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
}

static void test_fetch_is_byte_identical(void **state)
{
    struct fixture *fx = *state;
    size_t big = 300000; /* several chunks */
    unsigned char *data = malloc(big);
    assert_non_null(data);
    fill_pattern(data, big);
    put_file(fx, "", "cur", "1700000100.big.host:2,S", data, big);
    put_file(fx, "", "new", "1700000101.small.host", "x\r\n", 3);
    open_transport(fx);

    struct recorder *r = recorder_new();
    struct outpost_sync_sink sink = make_sink(r);
    outpost_folder f = folder_of("INBOX");
    const char *ids[] = { "1700000100.big.host", "no-such-message", "1700000101.small.host" };
    outpost_status s = tm->fetch(fx->t, &f, ids, 3, &sink);
    assert_int_equal(s.code, OUTPOST_OK);
    assert_int_equal(r->n, 2);
    assert_string_equal(r->v[0].id, ids[0]);
    assert_int_equal(r->v[0].change, OUTPOST_CHANGE_UPDATE);
    assert_int_equal(r->v[0].flags, OUTPOST_FLAG_SEEN);
    assert_int_equal(r->v[0].size, big);
    assert_true(r->v[0].ended);
    assert_int_equal(r->v[0].clen, big);
    assert_memory_equal(r->v[0].content, data, big);
    assert_string_equal(r->v[1].id, ids[2]);
    assert_int_equal(r->v[1].clen, 3);
    assert_memory_equal(r->v[1].content, "x\r\n", 3);
    assert_int_equal(r->nfailed, 1);
    assert_int_equal(r->failed_index[0], 1);
    assert_int_equal(r->failed_code[0], OUTPOST_GONE);
    assert_int_equal(r->ncommit, 1);
    assert_int_equal(r->state_len[0], 0);

    /* sync_folder with content hands over the same bytes. */
    struct recorder *r2 = recorder_new();
    s = sync_inbox(fx, r2, NULL, 0, 0, OUTPOST_SYNC_INITIAL | OUTPOST_SYNC_WANT_CONTENT);
    assert_int_equal(s.code, OUTPOST_OK);
    const struct rec *x = find_rec(r2, ids[0]);
    assert_non_null(x);
    assert_true(x->ended);
    assert_int_equal(x->clen, big);
    assert_memory_equal(x->content, data, big);
    free(data);
    recorder_free(r);
    recorder_free(r2);
}

static void test_incremental_sees_add_remove_and_flags(void **state)
{
    struct fixture *fx = *state;
    put_seven(fx);
    open_transport(fx);
    struct recorder *r = recorder_new();
    outpost_status s = sync_inbox(fx, r, NULL, 0, 3, OUTPOST_SYNC_INITIAL);
    assert_int_equal(s.code, OUTPOST_OK);
    assert_int_equal(r->ncommit, 3);

    char a[512], b[512];
    put_msg(fx, "new", "1700000009.M9P1.host");                 /* added */
    path_in(fx, "cur", seven[1].name, a, sizeof a);             /* removed */
    assert_int_equal(unlink(a), 0);
    path_in(fx, "cur", seven[4].name, a, sizeof a);             /* flagged and seen */
    path_in(fx, "cur", "1700000005.M5P1.host:2,FS", b, sizeof b);
    assert_int_equal(rename(a, b), 0);
    path_in(fx, "new", seven[5].name, a, sizeof a);             /* read: new/ → cur/ */
    path_in(fx, "cur", "1700000006.M6P1.host:2,S", b, sizeof b);
    assert_int_equal(rename(a, b), 0);
    path_in(fx, "new", seven[6].name, a, sizeof a);             /* moved, flags unchanged */
    path_in(fx, "cur", "1700000007.M7P1.host:2,", b, sizeof b);
    assert_int_equal(rename(a, b), 0);

    struct recorder *r2 = recorder_new();
    s = sync_inbox(fx, r2, r->states[2], r->state_len[2], 2, 0);
    assert_int_equal(s.code, OUTPOST_OK);
    assert_int_equal(r2->n, 4);
    assert_int_equal(find_rec(r2, "1700000009.M9P1.host")->change, OUTPOST_CHANGE_ADD);
    assert_int_equal(find_rec(r2, seven[1].id)->change, OUTPOST_CHANGE_DELETE);
    const struct rec *x = find_rec(r2, seven[4].id);
    assert_int_equal(x->change, OUTPOST_CHANGE_FLAGS);
    assert_int_equal(x->flags, OUTPOST_FLAG_FLAGGED | OUTPOST_FLAG_SEEN);
    x = find_rec(r2, seven[5].id);
    assert_int_equal(x->change, OUTPOST_CHANGE_FLAGS);
    assert_int_equal(x->flags, OUTPOST_FLAG_SEEN);
    assert_null(find_rec(r2, seven[6].id));

    /* And the pass after that starts from the new snapshot: quiet again. */
    struct recorder *r3 = recorder_new();
    s = sync_inbox(fx, r3, r2->states[r2->ncommit - 1], r2->state_len[r2->ncommit - 1], 2, 0);
    assert_int_equal(s.code, OUTPOST_OK);
    assert_int_equal(r3->n, 0);
    recorder_free(r);
    recorder_free(r2);
    recorder_free(r3);
}

static void test_subfolder_and_unknown_folder(void **state)
{
    struct fixture *fx = *state;
    make_maildir(fx, ".Work");
    put_file(fx, ".Work", "cur", "1700000200.w.host:2,F", "w\r\n", 3);
    open_transport(fx);
    struct recorder *r = recorder_new();
    struct outpost_sync_sink sink = make_sink(r);
    outpost_folder f = folder_of(".Work");
    outpost_status s = tm->sync_folder(fx->t, &f, NULL, 0, 0, OUTPOST_SYNC_INITIAL, &sink);
    assert_int_equal(s.code, OUTPOST_OK);
    assert_int_equal(r->n, 1);
    assert_string_equal(r->v[0].id, "1700000200.w.host");
    assert_int_equal(r->v[0].flags, OUTPOST_FLAG_FLAGGED);

    f = folder_of(".Gone");
    s = tm->sync_folder(fx->t, &f, NULL, 0, 0, OUTPOST_SYNC_INITIAL, &sink);
    assert_int_equal(s.code, OUTPOST_GONE);
    f = folder_of("../etc");
    s = tm->sync_folder(fx->t, &f, NULL, 0, 0, OUTPOST_SYNC_INITIAL, &sink);
    assert_int_equal(s.code, OUTPOST_GONE);
    recorder_free(r);
}

static void test_write_is_refused(void **state)
{
    struct fixture *fx = *state;
    open_transport(fx);
    outpost_change c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.kind = OUTPOST_ITEM_MAIL;
    c.flags = OUTPOST_FLAG_SEEN;
    c.remote_id = "1700000001.M1P1.host";
    c.folder_remote_id = "INBOX";
    outpost_change_result res;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    outpost_status s = tm->write(fx->t, &c, &res);
    assert_int_equal(s.code, OUTPOST_BAD_DATA);
    assert_non_null(strstr(s.message, "read-only"));
    s = tm->find(fx->t, "INBOX", OUTPOST_ITEM_MAIL, "<id@example.org>", &res);
    assert_int_equal(s.code, OUTPOST_GONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test_setup_teardown(test_create_and_open_check_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hierarchy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listing_in_pages_with_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listing_resumes_after_a_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_is_byte_identical, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incremental_sees_add_remove_and_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subfolder_and_unknown_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_is_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, load_plugin, unload_plugin);
}
