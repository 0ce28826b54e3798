/* bench/mapi/mapi_bench.c — what Outlook's first look at a big Inbox costs
 * outpostd: memory and time of the MAPI front-end's contents table.
 *
 *   outpost-bench-mapi DATA_DIR PLUGIN_DIR RESULTS_JSON [MESSAGES]
 *
 * DATA_DIR holds a SQLite cache with an Inbox of MESSAGES mails (default
 * 100000, or OUTPOST_BENCH_MAPI_MESSAGES), made on the first run the way the
 * sync engine stores server mail (storage item_put with the summary of
 * core/summary.c, 2,000 items a write transaction, no journal entries) and
 * kept for later runs. Delivery times are a permutation of the UIDs, so the
 * date order is not the listing order.
 *
 * Each measuring run is a fresh process (the program execs itself after
 * seeding), first with lazy tables, then with whole-row tables
 * (mapi_core.eager_tables, the path before them; its results go to
 * RESULTS_JSON with "-whole-rows" before ".json"). The MAPI front-end's
 * server runs in it on loopback and the tests' wire client
 * (tests/mapi/mapi_test_client.c) speaks to it as the provider DLL does:
 * OPEN_TABLE on the Inbox, SetColumns with the columns of Outlook's message
 * list, SortTable by PR_MESSAGE_DELIVERY_TIME descending, QueryRows of the
 * first 50 rows; SeekRow to the end and QueryRows of the last 50; then one
 * message marked read and the time until the table's row notification
 * arrives (the table refreshed after a change); last Outlook's Unread
 * filter (Restrict on PR_MESSAGE_FLAGS) and its first 50 rows. Reported:
 * the process's peak RSS (VmHWM) growth by the first QueryRows and over the
 * table's life, and wall and CPU (user+sys of the process) time of each
 * step. Prints a table and writes RESULTS_JSON (jansson).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "mapi_eid.h"
#include "mapi_server.h"
#include "mapi_test_client.h"
#include "mapi_test_store.h"
#include "store.h"
#include "summary.h"

#define BATCH 2000
#define INBOX_REMOTE "bench:INBOX"

static const uint8_t GUID[16] = { 0xB1, 0xE5, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t SECRET[32] = { 'b', 'e', 'n', 'c', 'h' };

/* The columns of Outlook's message list (the Inbox view's table). */
static const uint32_t OUTLOOK_COLS[] = {
    OP_PR_ENTRYID, OP_PR_INSTANCE_KEY, OP_PR_RECORD_KEY, OP_PR_SEARCH_KEY, OP_PR_PARENT_ENTRYID,
    OP_PR_MESSAGE_CLASS, OP_PR_SUBJECT, OP_PR_NORMALIZED_SUBJECT, OP_PR_CONVERSATION_TOPIC,
    OP_PR_SENDER_NAME, OP_PR_SENT_REPRESENTING_NAME, OP_PR_DISPLAY_TO, OP_PR_DISPLAY_CC,
    OP_PR_MESSAGE_DELIVERY_TIME, OP_PR_CLIENT_SUBMIT_TIME, OP_PR_LAST_MODIFICATION_TIME, OP_PR_MESSAGE_FLAGS,
    OP_PR_MESSAGE_SIZE, OP_PR_HASATTACH, OP_PR_IMPORTANCE, OP_PR_SENSITIVITY, OP_PR_ICON_INDEX, OP_PR_FLAG_STATUS,
    OP_PR_MSG_STATUS, OP_PR_INTERNET_MESSAGE_ID
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* A field of /proc/self/status in kB (VmHWM, VmRSS); -1 when unknown. */
static long status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long v = -1;
    size_t fl = strlen(field);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, fl) && line[fl] == ':') {
            v = strtol(line + fl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static int die(const char *what)
{
    fprintf(stderr, "outpost-bench-mapi: %s\n", what);
    return 1;
}

/* The Inbox's id and item count; 0 when there is none. */
static int64_t find_inbox(mts *e, uint32_t *total)
{
    struct outpost_txn *t;
    int64_t id = 0;
    *total = 0;
    if (e->api->read_begin(e->host, &t).code != OUTPOST_OK)
        return 0;
    const outpost_folder *f;
    if (e->m->folder_find_remote(t, INBOX_REMOTE, &f).code == OUTPOST_OK) {
        id = f->id;
        *total = f->total;
    }
    e->api->read_end(e->host, t);
    return id;
}

static int seed(mts *e, uint32_t count)
{
    struct outpost_txn *t;
    const struct outpost_storage_methods *m = e->m;
    if (outpost_store_write_begin(e->store, &t).code != OUTPOST_OK)
        return die("write_begin");
    outpost_folder f = { .struct_size = sizeof f, .kind = OUTPOST_ITEM_MAIL, .name = "Inbox",
                         .remote_id = INBOX_REMOTE, .special_use = OUTPOST_USE_INBOX,
                         .flags = OUTPOST_FOLDER_SUBSCRIBED };
    int64_t inbox = 0;
    if (m->folder_create(t, &f, &inbox).code != OUTPOST_OK || outpost_store_write_commit(e->store, t).code != OUTPOST_OK)
        return die("creating the Inbox");
    double t0 = now_s();
    const int64_t base = 1577836800000LL; /* 2020-01-01 */
    char msg[2048];
    for (uint32_t i = 0; i < count;) {
        if (outpost_store_write_begin(e->store, &t).code != OUTPOST_OK)
            return die("write_begin");
        uint32_t end = i + BATCH < count ? i + BATCH : count;
        for (; i < end; i++) {
            /* delivery minute: a permutation of 0..count-1 (7919 is prime) */
            int64_t when = base + (int64_t)(((uint64_t)i * 7919u) % count) * 60000;
            time_t secs = (time_t)(when / 1000);
            struct tm tm;
            gmtime_r(&secs, &tm);
            char date[64];
            strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
            int len = snprintf(msg, sizeof msg,
                               "From: Sender %u <sender%u@example.com>\r\nTo: Bob <bob@example.com>\r\n"
                               "Cc: Team %u <team%u@example.com>\r\nSubject: Report %u on topic %u\r\n"
                               "Date: %s\r\nMessage-ID: <bench%u@example.com>\r\n"
                               "Content-Type: text/plain; charset=utf-8\r\n\r\n"
                               "Body of message %u: the quarterly figures for topic %u are attached below.\r\n",
                               i % 997, i % 997, i % 13, i % 13, i, i % 211, date, i, i, i % 211);
            outpost_item it;
            memset(&it, 0, sizeof it);
            it.struct_size = sizeof it;
            struct outpost_summary arena;
            outpost_summary_init(&arena);
            char err[256];
            if (outpost_summary_compute(OUTPOST_ITEM_MAIL, msg, (size_t)len, &it, &arena, err, sizeof err) != 0) {
                outpost_summary_release(&arena);
                outpost_store_write_rollback(e->store, t);
                return die(err);
            }
            char remote[32];
            snprintf(remote, sizeof remote, "bench:%u", i);
            it.folder_id = inbox;
            it.kind = OUTPOST_ITEM_MAIL;
            it.remote_id = remote;
            it.flags = i % 3 ? OUTPOST_FLAG_SEEN : 0;
            it.internal_date = when;
            it.content_state = OUTPOST_CONTENT_NONE;
            outpost_status st = m->item_put(t, &it);
            if (st.code == OUTPOST_OK)
                st = m->content_write(t, it.id, 0, msg, (size_t)len);
            if (st.code == OUTPOST_OK)
                st = m->content_finish(t, it.id, OUTPOST_CONTENT_COMPLETE);
            outpost_summary_release(&arena);
            if (st.code != OUTPOST_OK) {
                outpost_store_write_rollback(e->store, t);
                return die("item_put");
            }
        }
        if (outpost_store_write_commit(e->store, t).code != OUTPOST_OK)
            return die("commit");
    }
    fprintf(stderr, "seeded %u messages in %.1f s\n", count, now_s() - t0);
    return 0;
}

/* ---- the measuring run ---- */

static tclient C;

static uint32_t call(uint16_t op, mapi_buf *req, mapi_buf *rep)
{
    uint32_t sc = 0xFFFFFFFFu;
    if (tc_call_ms(&C, op, req, &sc, rep, 120000) != 0) {
        fprintf(stderr, "outpost-bench-mapi: request %u failed (connection)\n", op);
        exit(1);
    }
    req->len = 0;
    if (OP_FAILED(sc)) {
        fprintf(stderr, "outpost-bench-mapi: request %u: SCODE 0x%08x\n", op, sc);
        exit(1);
    }
    return sc;
}

static uint32_t u32_of(const mapi_buf *r)
{
    return r->len < 4 ? 0 : (uint32_t)r->data[0] | (uint32_t)r->data[1] << 8 | (uint32_t)r->data[2] << 16 |
                                (uint32_t)r->data[3] << 24;
}

/* QueryRows; returns the count, *first_time/last_time the delivery times of
 * the first and last row. */
static uint32_t query(uint32_t t, int32_t count, int64_t *first_time, int64_t *last_time)
{
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, t);
    mapi_w_u32(&q, (uint32_t)count);
    mapi_w_u32(&q, 0);
    call(MAPI_OP_TBL_QUERY_ROWS, &q, &r);
    mapi_rd rd;
    mapi_rd_init(&rd, r.data, r.len);
    uint32_t n = mapi_r_u32(&rd);
    for (uint32_t i = 0; i < n; i++) {
        mapi_props p;
        mapi_props_init(&p);
        if (mapi_r_props(&rd, &p) != 0)
            exit(die("bad row"));
        int64_t when = mapi_props_i8(&p, OP_PR_MESSAGE_DELIVERY_TIME, 0);
        if (i == 0)
            *first_time = when;
        *last_time = when;
        mapi_props_free(&p);
    }
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return n;
}

typedef struct step {
    const char *name;
    double wall, cpu;
} step;

static int run(const char *dir, const char *plugins, const char *json_path, int eager)
{
    g_mime_init();
    mts e;
    char err[1024];
    if (mts_open(&e, dir, plugins, err, sizeof err) != 0)
        return die(err);
    uint32_t total = 0;
    int64_t inbox = find_inbox(&e, &total);
    if (!inbox)
        return die("no Inbox in the cache");
    mapi_names *names = mapi_names_open(NULL, err, sizeof err);
    mapi_core core;
    if (!names || mapi_core_init(&core, e.host, GUID, names, SECRET, "Bench", err, sizeof err) != 0)
        return die(err);
    core.eager_tables = eager;
    mapi_server *srv = mapi_server_start(&core, "127.0.0.1", 0, err, sizeof err);
    if (!srv || tc_connect(&C, mapi_server_port(srv)) != 0)
        return die("cannot start or reach the MAPI front-end");
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, MAPI_WIRE_MAGIC);
    mapi_w_u32(&q, MAPI_WIRE_VERSION);
    mapi_w_bin(&q, SECRET, 32);
    call(MAPI_OP_HELLO, &q, &r);
    mapi_eid eid = { .kind = MAPI_EID_FOLDER, .id = inbox };
    memcpy(eid.guid, GUID, 16);
    uint8_t eb[MAPI_EID_LEN];
    mapi_eid_encode(&eid, eb);
    mapi_w_u32(&q, 0);
    mapi_w_bin(&q, eb, MAPI_EID_LEN);
    r.len = 0;
    call(MAPI_OP_OPEN_ENTRY, &q, &r);
    uint32_t folder = u32_of(&r);

    long hwm0 = status_kb("VmHWM"), rss0 = status_kb("VmRSS");
    step steps[5];
    int64_t t_first = 0, t_last = 0, e_first = 0, e_last = 0;

    /* 1: open + SetColumns + SortTable + the first 50 rows */
    double w0 = now_s(), c0 = cpu_s();
    mapi_w_u32(&q, folder);
    mapi_w_u32(&q, MAPI_TABLE_CONTENTS);
    mapi_w_u32(&q, 0);
    r.len = 0;
    call(MAPI_OP_OPEN_TABLE, &q, &r);
    uint32_t tbl = u32_of(&r);
    mapi_w_u32(&q, tbl);
    mapi_w_tags(&q, OUTLOOK_COLS, (uint32_t)(sizeof OUTLOOK_COLS / sizeof OUTLOOK_COLS[0]));
    call(MAPI_OP_TBL_SET_COLUMNS, &q, &r);
    mapi_w_u32(&q, tbl);
    mapi_w_u32(&q, 1); /* cSorts */
    mapi_w_u32(&q, 0);
    mapi_w_u32(&q, 0);
    mapi_w_u32(&q, OP_PR_MESSAGE_DELIVERY_TIME);
    mapi_w_u32(&q, OP_TABLE_SORT_DESCEND);
    call(MAPI_OP_TBL_SORT, &q, &r);
    uint32_t got = query(tbl, 50, &t_first, &t_last);
    steps[0] = (step){ "open, SetColumns, SortTable, QueryRows 50", now_s() - w0, cpu_s() - c0 };
    if (got != (total < 50 ? total : 50) || t_first < t_last)
        return die("the first rows are not the newest, in order");
    long hwm_open = status_kb("VmHWM");

    /* 2: row count, SeekRow to the end, the last 50 rows */
    w0 = now_s();
    c0 = cpu_s();
    mapi_w_u32(&q, tbl);
    r.len = 0;
    call(MAPI_OP_TBL_GET_ROW_COUNT, &q, &r);
    uint32_t rows = u32_of(&r);
    mapi_w_u32(&q, tbl);
    mapi_w_u32(&q, OP_BOOKMARK_END);
    mapi_w_u32(&q, (uint32_t)-50);
    call(MAPI_OP_TBL_SEEK_ROW, &q, &r);
    got = query(tbl, 50, &e_first, &e_last);
    steps[1] = (step){ "GetRowCount, SeekRow end-50, QueryRows 50", now_s() - w0, cpu_s() - c0 };
    if (rows != total || got != (total < 50 ? total : 50) || e_first < e_last || e_first > t_last)
        return die("the last rows are wrong");

    /* 3: a change: the message of UID 1 marked read (unread on a rerun), until its row notification */
    mapi_w_u32(&q, tbl);
    r.len = 0;
    call(MAPI_OP_TBL_ADVISE, &q, &r);
    int64_t ids[1];
    uint32_t seen = 0;
    {
        struct outpost_txn *t;
        struct outpost_cursor *cur;
        const void *row;
        ids[0] = 0;
        if (e.api->read_begin(e.host, &t).code == OUTPOST_OK) {
            if (e.m->items_by_uid(t, inbox, 1, 1, &cur).code == OUTPOST_OK) {
                if (e.m->cursor_next(cur, &row).code == OUTPOST_OK && row) {
                    ids[0] = ((const outpost_item *)row)->id;
                    seen = ((const outpost_item *)row)->flags & OUTPOST_FLAG_SEEN;
                }
                e.m->cursor_close(cur);
            }
            e.api->read_end(e.host, t);
        }
    }
    w0 = now_s();
    c0 = cpu_s();
    if (!ids[0] || e.api->set_flags(e.host, ids, 1, seen ? OUTPOST_FLAGS_REMOVE : OUTPOST_FLAGS_ADD, OUTPOST_FLAG_SEEN,
                                        NULL, NULL, NULL).code !=
                       OUTPOST_OK)
        return die("set_flags");
    r.len = 0;
    if (tc_wait_notify(&C, 60000, &r) != 0)
        return die("no row notification within 60 s");
    steps[2] = (step){ "a flag change until its row notification", now_s() - w0, cpu_s() - c0 };

    /* 4: QueryRows of 50 from the start again */
    w0 = now_s();
    c0 = cpu_s();
    mapi_w_u32(&q, tbl);
    mapi_w_u32(&q, OP_BOOKMARK_BEGINNING);
    mapi_w_u32(&q, 0);
    call(MAPI_OP_TBL_SEEK_ROW, &q, &r);
    query(tbl, 50, &t_first, &t_last);
    steps[3] = (step){ "SeekRow start, QueryRows 50", now_s() - w0, cpu_s() - c0 };

    /* 5: Outlook's Unread filter: Restrict on PR_MESSAGE_FLAGS, QueryRows 50 */
    w0 = now_s();
    c0 = cpu_s();
    mapi_res unread = { .rt = OP_RES_BITMASK };
    unread.u.bitmask.relop = OP_BMR_EQZ;
    unread.u.bitmask.tag = OP_PR_MESSAGE_FLAGS;
    unread.u.bitmask.mask = OP_MSGFLAG_READ;
    mapi_w_u32(&q, tbl);
    mapi_w_u8(&q, 1);
    mapi_w_res(&q, &unread);
    call(MAPI_OP_TBL_RESTRICT, &q, &r);
    got = query(tbl, 50, &t_first, &t_last);
    steps[4] = (step){ "Restrict unread, QueryRows 50", now_s() - w0, cpu_s() - c0 };
    if ((total >= 150 && got != 50) || t_first < t_last)
        return die("the unread rows are wrong");

    long hwm1 = status_kb("VmHWM"), rss1 = status_kb("VmRSS");
    mapi_w_u32(&q, tbl);
    call(MAPI_OP_RELEASE, &q, &r);
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    tc_close(&C);
    mapi_server_stop(srv);
    mapi_core_free(&core);
    mapi_names_close(names);
    mts_close(&e);

    double load[3] = { 0, 0, 0 };
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
            load[0] = load[1] = load[2] = 0;
        fclose(la);
    }
    long growth = hwm1 - hwm0;
    printf("\nMAPI contents table, Inbox of %u messages, %s (load average %.2f)\n", total,
           eager ? "whole rows (mapi_core.eager_tables: the path before lazy tables)" : "lazy rows", load[0]);
    printf("%-46s %10s %10s\n", "step", "wall ms", "cpu ms");
    for (int i = 0; i < 5; i++)
        printf("%-46s %10.1f %10.1f\n", steps[i].name, steps[i].wall * 1e3, steps[i].cpu * 1e3);
    printf("%-46s %10ld\n", "peak RSS (VmHWM) before the table, kB", hwm0);
    printf("%-46s %10ld\n", "peak RSS growth by the first QueryRows, kB", hwm_open - hwm0);
    printf("%-46s %10ld\n", "peak RSS growth while the table lived, kB", growth);
    printf("%-46s %10.1f\n", "  per row, bytes", total ? growth * 1024.0 / total : 0.0);
    printf("%-46s %10ld\n", "RSS after, minus RSS before, kB", rss1 - rss0);

    json_t *j = json_pack("{s:s, s:i, s:f, s:i, s:i, s:i, s:f, s:i}", "benchmark", eager ? "mapi-contents-table-whole-rows" : "mapi-contents-table", "messages",
                          (json_int_t)total, "load_average", load[0], "vmhwm_before_kb", (json_int_t)hwm0,
                          "vmhwm_growth_kb", (json_int_t)growth, "vmhwm_growth_open_kb", (json_int_t)(hwm_open - hwm0), "bytes_per_row",
                          total ? growth * 1024.0 / total : 0.0, "rss_growth_kb", (json_int_t)(rss1 - rss0));
    json_t *arr = json_array();
    for (int i = 0; i < 5; i++)
        json_array_append_new(arr, json_pack("{s:s, s:f, s:f}", "step", steps[i].name, "wall_ms",
                                             steps[i].wall * 1e3, "cpu_ms", steps[i].cpu * 1e3));
    json_object_set_new(j, "steps", arr);
    if (json_dump_file(j, json_path, JSON_INDENT(2)) != 0)
        fprintf(stderr, "outpost-bench-mapi: cannot write %s\n", json_path);
    json_decref(j);
    g_mime_shutdown();
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 6) {
        fprintf(stderr, "usage: outpost-bench-mapi DATA_DIR PLUGIN_DIR RESULTS_JSON [MESSAGES]\n");
        return 2;
    }
    if (argc == 5 && !strcmp(argv[4], "--run"))
        return run(argv[1], argv[2], argv[3], 0);
    if (argc == 5 && !strcmp(argv[4], "--run-eager"))
        return run(argv[1], argv[2], argv[3], 1);
    const char *env = getenv("OUTPOST_BENCH_MAPI_MESSAGES");
    uint32_t count = (uint32_t)strtoul(argc == 5 ? argv[4] : env ? env : "100000", NULL, 10);
    if (count == 0)
        return die("MESSAGES must be at least 1");
    mts e;
    char err[1024];
    if (mts_open(&e, argv[1], argv[2], err, sizeof err) != 0)
        return die(err);
    uint32_t total = 0;
    int64_t inbox = find_inbox(&e, &total);
    int rc = 0;
    if (inbox && total != count) {
        fprintf(stderr, "outpost-bench-mapi: %s holds %u messages, not %u: remove it to seed again\n", argv[1],
                total, count);
        rc = 1;
    } else if (!inbox) {
        rc = seed(&e, count);
    }
    mts_close(&e);
    if (rc)
        return rc;
    /* measure in fresh processes (the seeding's memory must not count): the
     * lazy tables, then the whole-row tables as before them (RESULTS_JSON
     * with -whole-rows before .json), under the same load */
    char eager_json[4096];
    size_t jl = strlen(argv[3]);
    if (jl > 5 && !strcmp(argv[3] + jl - 5, ".json"))
        snprintf(eager_json, sizeof eager_json, "%.*s-whole-rows.json", (int)(jl - 5), argv[3]);
    else
        snprintf(eager_json, sizeof eager_json, "%s-whole-rows", argv[3]);
    const char *modes[2] = { "--run", "--run-eager" };
    const char *jsons[2] = { argv[3], eager_json };
    for (int i = 0; i < 2; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
            return die("fork");
        if (pid == 0) {
            char *args[] = { argv[0], argv[1], argv[2], (char *)jsons[i], (char *)modes[i], NULL };
            execv("/proc/self/exe", args);
            _exit(die("cannot exec the measuring run"));
        }
        int status = 0;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            return die("a measuring run failed");
    }
    return 0;
}
