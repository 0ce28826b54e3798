/* storage_bench.c — storage benchmark: `storage_bench [PLUGIN[,PLUGIN2]] [RESULTS]`.
 *
 * Loads storage plugins by name (default "sqlite,firebird" when the Firebird
 * plugin is built, else sqlite) and runs them side by side on the same data,
 * printing each one's numbers and the ratio per operation. For each, it fills one folder with 100k mail items of realistic sizes
 * (median ~4 KiB of text, 5% with a 100 KiB attachment, 0.1% with 1 MiB;
 * mean ~11 KiB), and measures: batched insert rate, point reads (summary and
 * whole content), a whole-folder UID+flags listing, changed-since-MODSEQ for
 * 10 changes, full-text indexing rate and full-text search. Prints a table
 * and writes RESULTS (a .json file, or a directory that gets storage.json;
 * default $OUTPOST_BENCH_RESULTS/storage.json or bench-results/storage.json).
 * The first plugin's keys are written unprefixed (sqlite's, as before); the
 * second plugin's carry its name as a prefix ("firebird_insert_items_per_s").
 * Beside the rates it reports the insert's CPU time per item (the whole
 * process, every thread, user + system: insert_cpu_us_per_item) and the load
 * average after the insert (insert_load_avg_1m): the rates are wall time.
 * Only the storage ABI is used. $OUTPOST_BENCH_ITEMS changes the item count;
 * $OUTPOST_TEST_STORAGE_CONFIG ("key=value ...") sets [storage] keys for every plugin
 * (tests/common/test_host.c).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "test_host.h"

#ifndef OUTPOST_BENCH_PLUGIN_DIR
#define OUTPOST_BENCH_PLUGIN_DIR "."
#endif

#define BATCH 1000

static const struct outpost_storage_methods *M;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 1-minute load average (Linux), or -1: the insert rate is wall time, so
 * the results say how busy the machine was. */
static double load_1m(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

/* CPU seconds (user + system) of the process, or of the calling thread. */
static double cpu_s(int who)
{
    struct rusage ru;
    getrusage(who, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void check(outpost_status st, const char *what)
{
    if (st.code != OUTPOST_OK) {
        fprintf(stderr, "storage_bench: %s failed: %s: %s\n", what, outpost_status_class_name(st.code),
                st.message ? st.message : "");
        exit(1);
    }
}

/* ---- deterministic data ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static double rnd01(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

static double gauss(void)
{
    double u = rnd01() + 1e-12, v = rnd01();
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

#define VOCAB 4000
static char vocab[VOCAB][16];

static void make_vocab(void)
{
    static const char *syl[] = { "ka", "lo", "mi", "ne", "ru", "sta", "tor", "vel", "qui", "bra", "den", "fo",
                                 "gal", "hen", "jor", "pel", "zu", "xa", "wen", "yor" };
    for (int i = 0; i < VOCAB; i++) {
        int n = 2 + (int)(rnd() % 3);
        vocab[i][0] = '\0';
        for (int k = 0; k < n; k++)
            strcat(vocab[i], syl[rnd() % 20]);
    }
    /* words the search measures */
    strcpy(vocab[7], "budget");
    strcpy(vocab[123], "lighthouse");
}

/* Zipf-like word choice: a few words are common, most are rare. */
static const char *word(void)
{
    double r = rnd01();
    int i = (int)(pow(r, 3.0) * VOCAB);
    return vocab[i < VOCAB ? i : VOCAB - 1];
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

struct msg {
    char *data;
    size_t len, cap;
    char subject[96];
    char from[64];
    char msgid[64];
};

static void put(struct msg *m, const char *s, size_t n)
{
    if (m->len + n > m->cap) {
        while (m->len + n > m->cap)
            m->cap = m->cap ? m->cap * 2 : 8192;
        m->data = realloc(m->data, m->cap);
    }
    memcpy(m->data + m->len, s, n);
    m->len += n;
}

static void puts_(struct msg *m, const char *s)
{
    put(m, s, strlen(s));
}

static void make_msg(struct msg *m, long no)
{
    m->len = 0;
    snprintf(m->subject, sizeof m->subject, "%s %s %s", word(), word(), word());
    snprintf(m->from, sizeof m->from, "%s <%s@example.org>", vocab[rnd() % 300], vocab[rnd() % 300]);
    snprintf(m->msgid, sizeof m->msgid, "<%ld.%llx@bench.example>", no, (unsigned long long)(rnd() & 0xffffff));
    double r = rnd01();
    size_t attach = r < 0.001 ? 1024 * 1024 : r < 0.051 ? 100 * 1024 : 0;
    size_t text = (size_t)(3600.0 * exp(0.55 * gauss()));
    if (text < 300)
        text = 300;
    if (text > 65536)
        text = 65536;
    char hdr[512];
    snprintf(hdr, sizeof hdr,
             "From: %s\r\nTo: reader@example.org\r\nSubject: %s\r\nMessage-ID: %s\r\n"
             "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nMIME-Version: 1.0\r\n",
             m->from, m->subject, m->msgid);
    puts_(m, hdr);
    if (attach)
        puts_(m, "Content-Type: multipart/mixed; boundary=\"=b=\"\r\n\r\n--=b=\r\n");
    puts_(m, "Content-Type: text/plain; charset=utf-8\r\n\r\n");
    size_t start = m->len, col = 0;
    while (m->len - start < text) {
        const char *w = word();
        size_t n = strlen(w);
        put(m, w, n);
        col += n + 1;
        if (col > 70) {
            put(m, "\r\n", 2);
            col = 0;
        } else {
            put(m, " ", 1);
        }
    }
    puts_(m, "\r\n");
    if (attach) {
        puts_(m, "--=b=\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\n"
                 "Content-Transfer-Encoding: base64\r\n\r\n");
        size_t enc = attach / 3 * 4;
        char line[78];
        for (size_t done = 0; done < enc; done += 76) {
            size_t n = enc - done < 76 ? enc - done : 76;
            for (size_t k = 0; k < n; k++)
                line[k] = b64[rnd() & 63];
            line[n] = '\r';
            line[n + 1] = '\n';
            put(m, line, n + 2);
        }
        puts_(m, "--=b=--\r\n");
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

static uint64_t dir_bytes(const char *dir)
{
    static const char *const names[] = { "cache.sqlite", "cache.sqlite-wal", "cache.sqlite-shm", "cache.fdb", NULL };
    uint64_t total = 0;
    char p[4200];
    for (int i = 0; names[i]; i++) {
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        if (stat(p, &st) == 0)
            total += (uint64_t)st.st_size;
    }
    return total;
}

static size_t search(struct outpost_storage *s, int64_t folder, const char *q, double *ms)
{
    struct outpost_txn *t;
    struct outpost_cursor *c;
    const void *row;
    size_t hits = 0;
    double t0 = now_s();
    check(M->begin(s, OUTPOST_TXN_READ, &t), "begin read");
    check(M->fts_search(t, folder, q, &c), "fts_search");
    for (;;) {
        check(M->cursor_next(c, &row), "fts cursor");
        if (!row)
            break;
        hits++;
    }
    M->cursor_close(c);
    M->rollback(t);
    *ms = (now_s() - t0) * 1000.0;
    return hits;
}

struct result {
    char name[32];
    long items;
    double mean_bytes, median_bytes, insert_rate, insert_cpu_us, insert_load, read_rate, list_ms, changed_ms;
    int has_fts;
    double index_rate, index_cpu, index_main_cpu, search_ms, search2_ms;
    size_t hits, hits2, changed;
    uint64_t disk, idle_disk;
};

/* Runs every measurement on one plugin with the same generated data. */
static int bench_one(struct test_storage_plugin *pp, long nitems, struct result *res)
{
    rng_state = 0x9E3779B97F4A7C15ull; /* same items for every plugin */
    struct test_storage_plugin p = *pp;
    M = p.m;
    char *dir = test_mkdtemp("bench");
    struct test_host *th = test_host_new("storage", dir, NULL);
    struct outpost_storage *s;
    check(M->create(test_host_table(th), &s), "create");
    check(M->open(s), "open");
    make_vocab();

    struct outpost_txn *t;
    check(M->begin(s, OUTPOST_TXN_WRITE, &t), "begin");
    outpost_folder fo;
    memset(&fo, 0, sizeof fo);
    fo.struct_size = sizeof fo;
    fo.kind = OUTPOST_ITEM_MAIL;
    fo.name = "INBOX";
    int64_t folder;
    check(M->folder_create(t, &fo, &folder), "folder_create");
    check(M->commit(t), "commit");

    /* ---- insert ---- */
    struct msg *batch = calloc(BATCH, sizeof *batch);
    int64_t *ids = malloc((size_t)nitems * sizeof *ids);
    double insert_s = 0, insert_cpu = 0;
    uint64_t bytes = 0;
    size_t *sizes = malloc((size_t)nitems * sizeof *sizes);
    for (long base = 0; base < nitems; base += BATCH) {
        int n = nitems - base < BATCH ? (int)(nitems - base) : BATCH;
        for (int i = 0; i < n; i++)
            make_msg(&batch[i], base + i);
        double t0 = now_s(), c0 = cpu_s(RUSAGE_SELF);
        check(M->begin(s, OUTPOST_TXN_WRITE, &t), "begin");
        for (int i = 0; i < n; i++) {
            struct msg *m = &batch[i];
            outpost_item it;
            memset(&it, 0, sizeof it);
            it.struct_size = sizeof it;
            it.kind = OUTPOST_ITEM_MAIL;
            it.folder_id = folder;
            it.flags = (rnd() % 10 < 7 ? OUTPOST_FLAG_SEEN : 0) | (rnd() % 20 == 0 ? OUTPOST_FLAG_FLAGGED : 0);
            it.subject = m->subject;
            it.from = m->from;
            it.to = "reader@example.org";
            it.message_id = m->msgid;
            it.internal_date = 1704103200000 + (base + i) * 60000;
            it.date = it.internal_date;
            it.size = m->len;
            it.content_state = OUTPOST_CONTENT_SUMMARY;
            char rid[32];
            snprintf(rid, sizeof rid, "r%ld", base + i);
            it.remote_id = rid;
            check(M->item_put(t, &it), "item_put");
            check(M->content_write(t, it.id, 0, m->data, m->len), "content_write");
            check(M->content_finish(t, it.id, OUTPOST_CONTENT_COMPLETE), "content_finish");
            ids[base + i] = it.id;
            sizes[base + i] = m->len;
            bytes += m->len;
        }
        check(M->commit(t), "commit");
        insert_s += now_s() - t0;
        insert_cpu += cpu_s(RUSAGE_SELF) - c0;
    }
    for (int i = 0; i < BATCH; i++)
        free(batch[i].data);
    free(batch);
    double *sd = malloc((size_t)nitems * sizeof *sd);
    for (long i = 0; i < nitems; i++)
        sd[i] = (double)sizes[i];
    double median_size = median(sd, (int)nitems);
    free(sd);
    double insert_rate = (double)nitems / insert_s;
    double insert_load = load_1m();

    /* ---- point reads: summary + whole content ---- */
    long nreads = nitems < 20000 ? nitems : 20000;
    char *buf = malloc(2 * 1024 * 1024);
    double t0 = now_s();
    for (long r = 0; r < nreads; r += 100) {
        check(M->begin(s, OUTPOST_TXN_READ, &t), "begin read");
        for (long k = r; k < r + 100 && k < nreads; k++) {
            long i = (long)(rnd() % (uint64_t)nitems);
            const outpost_item *it;
            check(M->item_get(t, ids[i], &it), "item_get");
            size_t got = 0, total = 0;
            do {
                check(M->content_read(t, ids[i], total, buf, 2 * 1024 * 1024, &got), "content_read");
                total += got;
            } while (got);
            if (total != sizes[i]) {
                fprintf(stderr, "storage_bench: item %ld read %zu bytes, wrote %zu\n", i, total, sizes[i]);
                return 1;
            }
        }
        M->rollback(t);
    }
    double read_rate = (double)nreads / (now_s() - t0);

    /* ---- list UIDs + flags of the whole folder ---- */
    int has_uf = OUTPOST_HAS_METHOD(M, struct outpost_storage_methods, items_uid_flags);
    struct uf {
        uint32_t uid, flags;
        uint64_t modseq;
    } *uf = malloc((size_t)nitems * sizeof *uf);
    double runs[7];
    for (int k = 0; k < 7; k++) {
        double a = now_s();
        check(M->begin(s, OUTPOST_TXN_READ, &t), "begin read");
        struct outpost_cursor *c;
        const void *row;
        long n = 0;
        if (has_uf)
            check(M->items_uid_flags(t, folder, 1, 0, &c), "items_uid_flags");
        else
            check(M->items_by_uid(t, folder, 1, 0, &c), "items_by_uid");
        for (;;) {
            check(M->cursor_next(c, &row), "cursor_next");
            if (!row)
                break;
            if (has_uf) {
                const outpost_uid_flags *u = row;
                uf[n].uid = u->uid;
                uf[n].flags = u->flags;
                uf[n].modseq = u->modseq;
            } else {
                const outpost_item *it = row;
                uf[n].uid = it->uid;
                uf[n].flags = it->flags;
                uf[n].modseq = it->modseq;
            }
            n++;
        }
        M->cursor_close(c);
        M->rollback(t);
        runs[k] = (now_s() - a) * 1000.0;
        if (n != nitems) {
            fprintf(stderr, "storage_bench: listed %ld of %ld items\n", n, nitems);
            return 1;
        }
    }
    double list_ms = median(runs, 7);

    /* ---- changed since MODSEQ: 10 changes ---- */
    check(M->begin(s, OUTPOST_TXN_WRITE, &t), "begin");
    const outpost_folder *g;
    check(M->folder_get(t, folder, &g), "folder_get");
    uint64_t since = g->highest_modseq;
    for (int k = 0; k < 10; k++)
        check(M->item_set_flags(t, ids[rnd() % (uint64_t)nitems], OUTPOST_FLAG_SEEN | OUTPOST_FLAG_ANSWERED,
                                NULL, NULL),
              "item_set_flags");
    check(M->commit(t), "commit");
    size_t changed = 0;
    for (int k = 0; k < 7; k++) {
        double a = now_s();
        check(M->begin(s, OUTPOST_TXN_READ, &t), "begin read");
        struct outpost_cursor *c;
        const void *row;
        check(M->items_changed_since(t, folder, since, &c), "items_changed_since");
        changed = 0;
        for (;;) {
            check(M->cursor_next(c, &row), "cursor_next");
            if (!row)
                break;
            changed++;
        }
        M->cursor_close(c);
        M->rollback(t);
        runs[k] = (now_s() - a) * 1000.0;
    }
    double changed_ms = median(runs, 7);

    /* ---- full-text indexing and search ---- */
    int has_fts = (p.plugin->caps & OUTPOST_STORAGE_CAP_FTS) &&
                  OUTPOST_HAS_METHOD(M, struct outpost_storage_methods, fts_search);
    double index_rate = -1, search_ms = -1, search2_ms = -1;
    size_t hits = 0, hits2 = 0;
    double index_cpu = -1, index_main_cpu = -1;
    if (has_fts) {
        double a = now_s(), cpu0 = cpu_s(RUSAGE_SELF), main0 = cpu_s(RUSAGE_THREAD);
        if (OUTPOST_HAS_METHOD(M, struct outpost_storage_methods, fts_index)) {
            uint64_t left = 1;
            while (left) {
                check(M->begin(s, OUTPOST_TXN_WRITE, &t), "begin");
                check(M->fts_index(t, 10000, NULL, &left), "fts_index");
                check(M->commit(t), "commit");
            }
        } else {
            /* the first search in a write transaction indexes everything */
            struct outpost_cursor *c;
            check(M->begin(s, OUTPOST_TXN_WRITE, &t), "begin");
            check(M->fts_search(t, folder, "budget", &c), "fts_search");
            M->cursor_close(c);
            check(M->commit(t), "commit");
        }
        index_rate = (double)nitems / (now_s() - a);
        index_cpu = cpu_s(RUSAGE_SELF) - cpu0; /* the plugin's threads too */
        index_main_cpu = cpu_s(RUSAGE_THREAD) - main0;
        for (int k = 0; k < 7; k++)
            hits = search(s, folder, "budget lighthouse", &runs[k]);
        search_ms = median(runs, 7);
        for (int k = 0; k < 7; k++)
            hits2 = search(s, folder, "budg", &runs[k]);
        search2_ms = median(runs, 7);
    }
    uint64_t disk = dir_bytes(dir);
    /* What stays once the instance idles (SQLite's idle thread copies the WAL into the
     * cache file and truncates it): polled until two readings 2 s apart agree, at most
     * 30 s, with the instance open and unused as a daemon's between syncs. */
    uint64_t idle_disk = disk;
    for (int k = 0; k < 15; k++) {
        struct timespec ts = { 2, 0 };
        nanosleep(&ts, NULL);
        uint64_t now = dir_bytes(dir);
        if (now == idle_disk)
            break;
        idle_disk = now;
    }
    check(M->close(s), "close");
    M->destroy(s);

    res->items = nitems;
    snprintf(res->name, sizeof res->name, "%s", p.plugin->name);
    res->mean_bytes = (double)bytes / (double)nitems;
    res->median_bytes = median_size;
    res->insert_rate = insert_rate;
    res->insert_cpu_us = insert_cpu * 1e6 / (double)nitems;
    res->insert_load = insert_load;
    res->read_rate = read_rate;
    res->list_ms = list_ms;
    res->changed_ms = changed_ms;
    res->has_fts = has_fts;
    res->index_rate = index_rate;
    res->index_cpu = index_cpu;
    res->index_main_cpu = index_main_cpu;
    res->search_ms = search_ms;
    res->search2_ms = search2_ms;
    res->hits = hits;
    res->hits2 = hits2;
    res->changed = changed;
    res->disk = disk;
    res->idle_disk = idle_disk;
    free(uf);
    free(buf);
    free(ids);
    free(sizes);
    test_host_free(th);
    test_rmtree(dir);
    free(dir);
    return 0;
}

static void json_fields(FILE *out, const char *pre, const struct result *r)
{
    fprintf(out,
            "  \"%splugin\": \"%s\",\n  \"%sitems\": %ld,\n  \"%smean_item_bytes\": %.0f,\n"
            "  \"%smedian_item_bytes\": %.0f,\n  \"%sinsert_items_per_s\": %.0f,\n  \"%sread_items_per_s\": %.0f,\n"
            "  \"%slist_uids_flags_ms\": %.2f,\n  \"%schanged_since_10_ms\": %.3f,\n"
            "  \"%sinsert_cpu_us_per_item\": %.1f,\n  \"%sinsert_load_avg_1m\": %.2f,\n",
            pre, r->name, pre, r->items, pre, r->mean_bytes, pre, r->median_bytes, pre, r->insert_rate, pre,
            r->read_rate, pre, r->list_ms, pre, r->changed_ms, pre, r->insert_cpu_us, pre, r->insert_load);
    if (r->has_fts)
        fprintf(out,
                "  \"%sfts_index_items_per_s\": %.0f,\n  \"%sfts_index_cpu_s\": %.2f,\n"
                "  \"%sfts_index_main_cpu_s\": %.2f,\n  \"%sfts_search_ms\": %.2f,\n  \"%sfts_search_prefix_ms\": %.2f,\n",
                pre, r->index_rate, pre, r->index_cpu, pre, r->index_main_cpu, pre, r->search_ms, pre, r->search2_ms);
    else
        fprintf(out, "  \"%sfts_index_items_per_s\": null,\n  \"%sfts_search_ms\": null,\n", pre, pre);
    fprintf(out, "  \"%sdisk_bytes\": %llu,\n", pre, (unsigned long long)r->disk);
    fprintf(out, "  \"%sdisk_idle_bytes\": %llu", pre, (unsigned long long)r->idle_disk);
}

/* higher_better: the ratio printed is "how many times slower" either way. */
static void row(const char *what, const struct result *r, int n, const char *fmt, double (*get)(const struct result *),
                int higher_better, const char *target)
{
    printf("%-38s", what);
    for (int i = 0; i < n; i++) {
        char cell[32];
        snprintf(cell, sizeof cell, fmt, get(&r[i]));
        printf(" %12s", cell);
    }
    if (n == 2) {
        double a = get(&r[0]), b = get(&r[1]);
        double ratio = higher_better ? (b > 0 ? a / b : 0) : (a > 0 ? b / a : 0);
        printf(" %9.2fx", ratio);
    }
    printf(" %10s\n", target);
}

static double g_insert(const struct result *r) { return r->insert_rate; }
static double g_insert_cpu(const struct result *r) { return r->insert_cpu_us; }
static double g_insert_load(const struct result *r) { return r->insert_load; }
static double g_read(const struct result *r) { return r->read_rate; }
static double g_list(const struct result *r) { return r->list_ms; }
static double g_changed(const struct result *r) { return r->changed_ms; }
static double g_index(const struct result *r) { return r->index_rate; }
static double g_index_cpu(const struct result *r) { return r->index_cpu; }
static double g_index_main(const struct result *r) { return r->index_main_cpu; }
static double g_search(const struct result *r) { return r->search_ms; }
static double g_search2(const struct result *r) { return r->search2_ms; }
static double g_disk(const struct result *r) { return (double)r->disk / 1048576.0; }
static double g_idle_disk(const struct result *r) { return (double)r->idle_disk / 1048576.0; }

int main(int argc, char **argv)
{
    /* PLUGIN: one name, or a comma-separated list run side by side (default
     * "sqlite,firebird", or just sqlite when the Firebird plugin is absent) */
    const char *plugins = argc > 1 ? argv[1] : NULL;
    char list[256];
    if (!plugins) {
        const char *dir = getenv("OUTPOST_PLUGIN_DIR");
        char path[4200];
        snprintf(path, sizeof path, "%s/outpost-storage-firebird.so", dir && *dir ? dir : OUTPOST_BENCH_PLUGIN_DIR);
        struct stat sb;
        plugins = stat(path, &sb) == 0 ? "sqlite,firebird" : "sqlite";
    }
    snprintf(list, sizeof list, "%s", plugins);
    char results[4200];
    const char *env_dir = getenv("OUTPOST_BENCH_RESULTS");
    if (argc > 2) {
        size_t n = strlen(argv[2]);
        if (n > 5 && strcmp(argv[2] + n - 5, ".json") == 0)
            snprintf(results, sizeof results, "%s", argv[2]);
        else
            snprintf(results, sizeof results, "%s/storage.json", argv[2]);
    } else {
        snprintf(results, sizeof results, "%s/storage.json", env_dir && *env_dir ? env_dir : "bench-results");
    }
    const char *e = getenv("OUTPOST_BENCH_ITEMS");
    long nitems = e && *e ? atol(e) : 100000;

    /* all plugins stay loaded until the end: libraries they share (GMime)
     * cannot be initialised again in a process after their last shutdown */
    struct result r[2];
    struct test_storage_plugin loaded[2];
    int nl = 0;
    for (char *save = NULL, *name = strtok_r(list, ",", &save); name && nl < 2; name = strtok_r(NULL, ",", &save))
        if (test_storage_load(name, &loaded[nl++]) != 0)
            return 1;
    int n = 0;
    for (; n < nl; n++) {
        memset(&r[n], 0, sizeof r[n]);
        if (bench_one(&loaded[n], nitems, &r[n]) != 0)
            return 1;
        if (r[n].changed < 1 || r[n].changed > 10) {
            fprintf(stderr, "storage_bench: %s: changed-since returned %zu items, expected 1..10\n", r[n].name,
                    r[n].changed);
            return 1;
        }
    }
    for (int i = nl - 1; i >= 0; i--)
        test_storage_unload(&loaded[i]);
    if (n == 0)
        return 2;

    printf("\nstorage benchmark: %ld mail items, %.1f KiB mean, %.1f KiB median, %.0f MiB content\n", nitems,
           r[0].mean_bytes / 1024.0, r[0].median_bytes / 1024.0, r[0].mean_bytes * (double)nitems / 1048576.0);
    printf("%-38s", "metric");
    for (int i = 0; i < n; i++)
        printf(" %12s", r[i].name);
    if (n == 2)
        printf(" %10s", "ratio");
    printf(" %10s\n", "target");
    row("insert, batches of 1000 (items/s)", r, n, "%.0f", g_insert, 1, ">= 20000");
    row("insert CPU, all threads (us/item)", r, n, "%.1f", g_insert_cpu, 0, "");
    row("load average after insert (1 min)", r, n, "%.2f", g_insert_load, 0, "");
    row("point read, summary+content (items/s)", r, n, "%.0f", g_read, 1, "");
    row("list all UIDs+flags (ms)", r, n, "%.1f", g_list, 0, "<= 50");
    row("changed since MODSEQ, 10 changes (ms)", r, n, "%.2f", g_changed, 0, "<= 5");
    if (r[0].has_fts && (n < 2 || r[1].has_fts)) {
        row("full-text indexing (items/s)", r, n, "%.0f", g_index, 1, ">= 10000");
        row("  its CPU time, all threads (s)", r, n, "%.2f", g_index_cpu, 0, "");
        row("  its CPU time, calling thread (s)", r, n, "%.2f", g_index_main, 0, "");
        row("full-text search, 2 words (ms)", r, n, "%.1f", g_search, 0, "<= 200");
        row("full-text search, prefix (ms)", r, n, "%.1f", g_search2, 0, "");
    }
    row("cache size on disk (MiB)", r, n, "%.0f", g_disk, 0, "");
    row("  the same once idle (MiB)", r, n, "%.0f", g_idle_disk, 0, "");
    if (n == 2)
        printf("(ratio: how many times slower (or bigger) %s is than %s)\n", r[1].name, r[0].name);

    char rdir[4200];
    snprintf(rdir, sizeof rdir, "%s", results);
    char *slash = strrchr(rdir, '/');
    if (slash) {
        *slash = '\0';
        mkdir(rdir, 0755);
    }
    FILE *out = fopen(results, "w");
    if (!out) {
        fprintf(stderr, "storage_bench: cannot write %s: %s\n", results, strerror(errno));
        return 1;
    }
    /* the first plugin's keys unprefixed (as before); a second one's prefixed with its name */
    fprintf(out, "{\n");
    json_fields(out, "", &r[0]);
    for (int i = 1; i < n; i++) {
        char pre[48];
        snprintf(pre, sizeof pre, "%.32s_", r[i].name);
        fprintf(out, ",\n");
        json_fields(out, pre, &r[i]);
    }
    fprintf(out, "\n}\n");
    fclose(out);
    printf("results written to %s\n", results);
    return 0;
}
