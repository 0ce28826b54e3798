/* fb_schema.c — the schema of the Firebird cache and its forward migrations.
 *
 * The version lives in store_info('schema_version'). A new file gets version
 * 1 and then runs every migration, so the migration path runs on every fresh
 * cache. A file newer than this plugin is refused. Firebird needs DDL
 * committed before DML can use it, so each step commits its DDL in one
 * transaction (atomic: all of a step's tables or none) and then records the
 * version in a second one; a step whose DDL is already there (a crash between
 * the two) is recognised and only recorded.
 *
 * Layout as in the SQLite plugin: `item` rows with one index per listing,
 * plus `item_flags`, a narrow copy of the listed columns kept by triggers
 * (v3); content in `content_part` rows of at most FB_PART bytes, inline
 * (v5; v1-v4 kept them as BLOBs in `content`, see fb_content.c for why that
 * changed), each with a CRC-32 of its bytes (v9); tombstones; the journal; and `val`, the value store (v7,
 * fb_val.c), for every other value that can outgrow a column: meta values,
 * item properties, item strings longer than their columns, the full-text
 * token texts, listing snapshots, and the sync states and journal payloads
 * too long for their inline columns (folder.sync_in, journal.payload_in).
 *
 * No BLOBs are written: v7 copies every BLOB value to where it lives now,
 * in its data transaction (all or nothing), and v8 drops the BLOB columns
 * and the `meta` and `prop` tables (a new cache creates them in v1 and drops
 * them in v8, so every cache takes the same path). After a crash, Firebird
 * 3.0 could resolve a committed record's BLOB id to another record's bytes
 * (fb_val.c says how). A value owned by a
 * row is deleted with it by a trigger on the owner (item, folder, journal,
 * uid_snapshot), so no delete path can leave one behind. Ids
 * and journal seqs come from counters in store_info updated inside the
 * writing transaction, so a seq is never reused (not even after pruning the
 * newest entry) and no generator can run behind the data after a crash.
 * Every index is on integers or OCTETS strings (bytewise): none depends on
 * ICU collation data.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb_internal.h"

#define OCTETS(n) "VARCHAR(" #n ") CHARACTER SET OCTETS"

static const char *const schema_v1[] = {
    "CREATE TABLE store_info(k " OCTETS(64) " NOT NULL PRIMARY KEY, ival BIGINT)",
    "CREATE TABLE meta(k " OCTETS(500) " NOT NULL PRIMARY KEY, v BLOB SUB_TYPE BINARY)",
    "CREATE TABLE folder(id BIGINT NOT NULL PRIMARY KEY, parent_id BIGINT NOT NULL, kind INTEGER NOT NULL,"
    " name " OCTETS(8000) " NOT NULL, remote_id " OCTETS(900) ", special_use INTEGER NOT NULL,"
    " flags BIGINT NOT NULL, uidvalidity BIGINT NOT NULL, uidnext BIGINT NOT NULL,"
    " highest_modseq BIGINT NOT NULL, total BIGINT NOT NULL, unread BIGINT NOT NULL,"
    " flagged BIGINT NOT NULL, sync_state BLOB SUB_TYPE BINARY)",
    "CREATE INDEX folder_parent ON folder(parent_id)",
    "CREATE INDEX folder_remote ON folder(remote_id)",
    "CREATE TABLE item(id BIGINT NOT NULL PRIMARY KEY, folder_id BIGINT NOT NULL, kind INTEGER NOT NULL,"
    " uid BIGINT NOT NULL, modseq BIGINT NOT NULL, flags BIGINT NOT NULL, internal_date BIGINT NOT NULL,"
    " date_ BIGINT NOT NULL, size_ BIGINT NOT NULL, content_state INTEGER NOT NULL,"
    " cached_size BIGINT NOT NULL, big_mask INTEGER NOT NULL,"
    " keywords " OCTETS(250) ", remote_id " OCTETS(250) ", remote_version " OCTETS(250) ","
    " subject " OCTETS(500) ", from_addr " OCTETS(500) ", to_addr " OCTETS(1000) ","
    " cc_addr " OCTETS(1000) ", message_id " OCTETS(250) ", object_uid " OCTETS(250) ","
    " find_key " OCTETS(250) ", envelope " OCTETS(2000) ", bodystructure " OCTETS(2000) ","
    " preview " OCTETS(500) ", big BLOB SUB_TYPE BINARY)",
    "CREATE UNIQUE INDEX item_uid ON item(folder_id, uid)",
    "CREATE INDEX item_modseq ON item(folder_id, modseq)",
    "CREATE INDEX item_remote ON item(remote_id)",
    "CREATE INDEX item_key ON item(find_key)",
    "CREATE INDEX item_cstate ON item(content_state)",
    "CREATE TABLE content(item_id BIGINT NOT NULL, off BIGINT NOT NULL, len BIGINT NOT NULL,"
    " data BLOB SUB_TYPE BINARY, PRIMARY KEY(item_id, off))",
    "CREATE TABLE tombstone(folder_id BIGINT NOT NULL, uid BIGINT NOT NULL, modseq BIGINT NOT NULL,"
    " PRIMARY KEY(folder_id, uid))",
    "CREATE INDEX tombstone_modseq ON tombstone(folder_id, modseq)",
    "CREATE TABLE prop(item_id BIGINT NOT NULL, name " OCTETS(255) " NOT NULL, v BLOB SUB_TYPE BINARY,"
    " PRIMARY KEY(item_id, name))",
    "CREATE TABLE journal(seq BIGINT NOT NULL PRIMARY KEY, op INTEGER NOT NULL, state INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL, item_id BIGINT NOT NULL, folder_id BIGINT NOT NULL,"
    " target_folder_id BIGINT NOT NULL, flags BIGINT NOT NULL, keywords " OCTETS(4000) ","
    " name " OCTETS(8000) ", remote_id " OCTETS(1000) ", payload BLOB SUB_TYPE BINARY,"
    " created_ms BIGINT NOT NULL, done_ms BIGINT NOT NULL, result_remote_id " OCTETS(1000) ","
    " message " OCTETS(2000) ")",
    "CREATE INDEX journal_state ON journal(state, seq)",
    "CREATE INDEX journal_done ON journal(state, done_ms)",
    NULL,
};

/* v1 → v2: full-text search (an extracted token text per item). */
static const char *const migrate_v2[] = {
    "ALTER TABLE item ADD fts_state SMALLINT, ADD fts_text BLOB SUB_TYPE BINARY",
    "CREATE INDEX item_fts ON item(fts_state)",
    NULL,
};
static const char *const migrate_v2_data[] = {
    "UPDATE item SET fts_state=0 WHERE fts_state IS NULL",
    NULL,
};
/* Marks a step's DDL as present (checked before running it). */
static const char *const migrate_v2_probe =
    "SELECT count(*) FROM rdb$relation_fields WHERE rdb$relation_name='ITEM' AND rdb$field_name='FTS_STATE'";

/* v2 → v3: a narrow copy of what items_uid_flags lists, kept by triggers.
 * Firebird expands every record it reads to its format's full width
 * (~11 KiB for `item`), so a listing of the wide rows costs more per row
 * than the whole narrow record. kwbig: the keywords live in item.big. */
static const char *const migrate_v3[] = {
    "CREATE TABLE item_flags(id BIGINT NOT NULL PRIMARY KEY, folder_id BIGINT NOT NULL, uid BIGINT NOT NULL,"
    " flags BIGINT NOT NULL, modseq BIGINT NOT NULL, kwbig SMALLINT NOT NULL, keywords " OCTETS(250) ")",
    "CREATE INDEX item_flags_uid ON item_flags(folder_id, uid)",
    "CREATE TRIGGER item_flags_ai FOR item ACTIVE AFTER INSERT POSITION 0 AS BEGIN"
    " INSERT INTO item_flags(id, folder_id, uid, flags, modseq, kwbig, keywords) VALUES(NEW.id,"
    " NEW.folder_id, NEW.uid, NEW.flags, NEW.modseq, BIN_AND(NEW.big_mask, 1), NEW.keywords); END",
    "CREATE TRIGGER item_flags_au FOR item ACTIVE AFTER UPDATE POSITION 0 AS BEGIN"
    " IF (NEW.folder_id <> OLD.folder_id OR NEW.uid <> OLD.uid OR NEW.flags <> OLD.flags"
    " OR NEW.modseq <> OLD.modseq OR NEW.big_mask <> OLD.big_mask"
    " OR NEW.keywords IS DISTINCT FROM OLD.keywords) THEN"
    " UPDATE item_flags SET folder_id=NEW.folder_id, uid=NEW.uid, flags=NEW.flags, modseq=NEW.modseq,"
    " kwbig=BIN_AND(NEW.big_mask, 1), keywords=NEW.keywords WHERE id=NEW.id; END",
    "CREATE TRIGGER item_flags_ad FOR item ACTIVE AFTER DELETE POSITION 0 AS BEGIN"
    " DELETE FROM item_flags WHERE id=OLD.id; END",
    NULL,
};
static const char *const migrate_v3_data[] = {
    "INSERT INTO item_flags(id, folder_id, uid, flags, modseq, kwbig, keywords)"
    " SELECT id, folder_id, uid, flags, modseq, BIN_AND(big_mask, 1), keywords FROM item",
    NULL,
};

/* v3 → v4: a packed copy of each large folder's items_uid_flags listing
 * (uid_snapshot, written by the plugin at commit, fb_uidsnap.c), read with
 * the rows changed since its MODSEQ: through item_flags_modseq, and the
 * tombstones since. Filled by the first commits that change a folder. */
static const char *const migrate_v4[] = {
    "CREATE TABLE uid_snapshot(folder_id BIGINT NOT NULL PRIMARY KEY, modseq BIGINT NOT NULL,"
    " data BLOB SUB_TYPE BINARY NOT NULL)",
    "CREATE INDEX item_flags_modseq ON item_flags(folder_id, modseq)",
    NULL,
};

/* v4 → v5: content rows with their bytes inline (fb_content.c says why),
 * filled from the BLOBs of `content` by copy_content(). */
static const char *const migrate_v5[] = {
    "CREATE TABLE content_part(item_id BIGINT NOT NULL, off BIGINT NOT NULL, len INTEGER NOT NULL,"
    " data VARCHAR(" FB_PART_SQL ") CHARACTER SET OCTETS NOT NULL, PRIMARY KEY(item_id, off))",
    NULL,
};

/* v5 → v6: the BLOB content table goes (its rows were copied in v5). */
static const char *const migrate_v6[] = {
    "DROP TABLE content",
    NULL,
};

/* v6 → v7: the value store (fb_val.c), inline columns for short sync states
 * and journal payloads (NULL length: no value), and the triggers that delete
 * a row's values with it. copy_values() fills them from the BLOB columns. */
static const char *const migrate_v7[] = {
    "CREATE TABLE val(space SMALLINT NOT NULL, k1 BIGINT NOT NULL, k2 " OCTETS(500) " NOT NULL,"
    " part INTEGER NOT NULL, data VARCHAR(" FB_PART_SQL ") CHARACTER SET OCTETS NOT NULL,"
    " PRIMARY KEY(space, k1, k2, part))",
    "ALTER TABLE folder ADD sync_len BIGINT, ADD sync_in VARCHAR(" FB_SYNC_INLINE_SQL ") CHARACTER SET OCTETS",
    "ALTER TABLE journal ADD payload_len BIGINT,"
    " ADD payload_in VARCHAR(" FB_PAYLOAD_INLINE_SQL ") CHARACTER SET OCTETS",
    "CREATE TRIGGER item_val_ad FOR item ACTIVE AFTER DELETE POSITION 1 AS BEGIN"
    " DELETE FROM val WHERE space IN (" VS_BIG_SQL ", " VS_FTS_SQL ", " VS_PROP_SQL ") AND k1=OLD.id; END",
    "CREATE TRIGGER folder_val_ad FOR folder ACTIVE AFTER DELETE POSITION 0 AS BEGIN"
    " IF (OLD.sync_len > " FB_SYNC_INLINE_SQL ") THEN"
    " DELETE FROM val WHERE space=" VS_SYNC_SQL " AND k1=OLD.id AND k2=''; END",
    "CREATE TRIGGER journal_val_ad FOR journal ACTIVE AFTER DELETE POSITION 0 AS BEGIN"
    " IF (OLD.payload_len > " FB_PAYLOAD_INLINE_SQL ") THEN"
    " DELETE FROM val WHERE space=" VS_JOURNAL_SQL " AND k1=OLD.seq AND k2=''; END",
    "CREATE TRIGGER uid_snapshot_val_ad FOR uid_snapshot ACTIVE AFTER DELETE POSITION 0 AS BEGIN"
    " DELETE FROM val WHERE space=" VS_SNAP_SQL " AND k1=OLD.folder_id AND k2=''; END",
    NULL,
};

/* v7 → v8: the BLOB columns go (their values were copied in v7). */
static const char *const migrate_v8[] = {
    "DROP TABLE meta",
    "DROP TABLE prop",
    "ALTER TABLE folder DROP sync_state",
    "ALTER TABLE item DROP big, DROP fts_text",
    "ALTER TABLE journal DROP payload",
    "ALTER TABLE uid_snapshot DROP data",
    NULL,
};

/* v8 → v9: a CRC-32 of each content row's bytes (fb_content.c), so damaged
 * content is found by a read and by the integrity check instead of being
 * served. Rows written before stay NULL (not checked): computing theirs would
 * rewrite every byte of the cache at the first start, and would vouch for
 * bytes nobody checked. */
static const char *const migrate_v9[] = {
    "ALTER TABLE content_part ADD crc INTEGER",
    NULL,
};

/* Copies every `content` BLOB into content_part rows of FB_PART bytes, in
 * the migration's data transaction (all or nothing). A BLOB row held at
 * most 1 MiB, read whole (any BLOB type). 0 or -1. */
static int copy_content(struct outpost_storage *s)
{
    struct fb_stmt *rd = fb_stmt_prepare(s, "SELECT item_id, off, data FROM content ORDER BY item_id, off");
    struct fb_stmt *wr = fb_stmt_prepare(s, "INSERT INTO content_part(item_id, off, len, data) VALUES(?, ?, ?, ?)");
    struct fb_buf b = { 0 };
    int bad = !rd || !wr || fb_exec(s, rd);
    int r = 0;
    while (!bad && (r = fb_fetch(s, rd)) == 1) {
        int64_t item = fb_col_int(rd, 0), off = fb_col_int(rd, 1);
        const ISC_QUAD *q = fb_col_blob(rd, 2);
        if (!q)
            continue;
        ISC_QUAD id = *q;
        b.len = 0;
        if (fb_blob_read_all(s, &id, &b)) {
            bad = 1;
            break;
        }
        for (size_t at = 0; at < b.len && !bad; at += FB_PART) {
            size_t n = b.len - at < FB_PART ? b.len - at : FB_PART;
            fb_bind_int(wr, 0, item);
            fb_bind_int(wr, 1, off + (int64_t)at);
            fb_bind_int(wr, 2, (int64_t)n);
            fb_bind_textn(wr, 3, b.p + at, n);
            bad = fb_exec(s, wr) != 0;
        }
    }
    if (r < 0)
        bad = 1;
    free(b.p);
    fb_stmt_free(rd);
    fb_stmt_free(wr);
    return bad ? -1 : 0;
}

/* Where copy_values() finds each kind of BLOB value: a query of (k1, k2,
 * BLOB); `split`, when set, stores a value of at most `inline_max` bytes in
 * its row instead (len, bytes, k1) and a longer one as (len, NULL, k1) plus
 * the value in `val`. */
static const struct blob_src {
    const char *sql;
    enum fb_space sp;
    const char *split;
    size_t inline_max;
} blob_srcs[] = {
    { "SELECT 0, k, v FROM meta", VS_META, NULL, 0 },
    { "SELECT item_id, name, v FROM prop", VS_PROP, NULL, 0 },
    { "SELECT id, '', big FROM item WHERE big_mask<>0 AND big IS NOT NULL", VS_BIG, NULL, 0 },
    { "SELECT id, '', fts_text FROM item WHERE fts_text IS NOT NULL", VS_FTS, NULL, 0 },
    { "SELECT folder_id, '', data FROM uid_snapshot", VS_SNAP, NULL, 0 },
    { "SELECT id, '', sync_state FROM folder WHERE sync_state IS NOT NULL", VS_SYNC,
      "UPDATE folder SET sync_len=?, sync_in=? WHERE id=?", FB_SYNC_INLINE },
    { "SELECT seq, '', payload FROM journal WHERE payload IS NOT NULL", VS_JOURNAL,
      "UPDATE journal SET payload_len=?, payload_in=? WHERE seq=?", FB_PAYLOAD_INLINE },
};

/* Copies one kind of BLOB value into `val` or its inline column. A NULL
 * meta or property BLOB (never written, but it read as empty) becomes an
 * empty value. 0 or -1. */
static int copy_blobs(struct outpost_storage *s, const struct blob_src *src, struct fb_buf *b)
{
    struct fb_stmt *rd = fb_stmt_prepare(s, src->sql);
    struct fb_stmt *up = src->split ? fb_stmt_prepare(s, src->split) : NULL;
    int bad = !rd || (src->split && !up) || fb_exec(s, rd);
    int r = 0;
    while (!bad && (r = fb_fetch(s, rd)) == 1) {
        int64_t k1 = fb_col_int(rd, 0);
        size_t kn = 0;
        const char *kv = fb_col_text(rd, 1, &kn);
        char k2[512];
        if (kn >= sizeof k2) { /* the key columns are at most 500 bytes */
            bad = 1;
            break;
        }
        memcpy(k2, kv ? kv : "", kn);
        k2[kn] = '\0';
        b->len = 0;
        if (fb_col_blob(rd, 2)) {
            ISC_QUAD id = *fb_col_blob(rd, 2);
            if (fb_blob_read_all(s, &id, b)) {
                bad = 1;
                break;
            }
        }
        int in_row = up && b->len <= src->inline_max;
        if (up) {
            fb_bind_int(up, 0, (int64_t)b->len);
            fb_bind_textn(up, 1, in_row ? (b->p ? b->p : "") : NULL, b->len);
            fb_bind_int(up, 2, k1);
            bad = fb_exec(s, up) != 0;
        }
        if (!bad && !in_row)
            bad = fb_val_put(s, src->sp, k1, k2, b->p, b->len) != 0;
    }
    if (r < 0)
        bad = 1;
    fb_stmt_free(rd);
    fb_stmt_free(up);
    return bad ? -1 : 0;
}

/* Copies every BLOB value of a v6 cache (meta, properties, item overflow
 * strings, token texts, listing snapshots, sync states, journal payloads)
 * to where v7 keeps it, in the migration's data transaction (all or
 * nothing). 0 or -1. */
static int copy_values(struct outpost_storage *s)
{
    struct fb_buf b = { 0 };
    int bad = 0;
    for (size_t i = 0; i < sizeof blob_srcs / sizeof blob_srcs[0] && !bad; i++)
        bad = copy_blobs(s, &blob_srcs[i], &b);
    free(b.p);
    return bad ? -1 : 0;
}

struct step {
    const char *const *ddl;
    const char *const *data;
    const char *probe;
    int (*copy)(struct outpost_storage *s); /* runs after data, in its transaction */
};
/* steps[v] takes the schema from version v to v+1 (steps[0] creates v1). */
static const struct step steps[FB_SCHEMA_VERSION] = {
    [0] = { .ddl = schema_v1,
            .probe = "SELECT count(*) FROM rdb$relations WHERE rdb$relation_name='STORE_INFO'" },
    [1] = { .ddl = migrate_v2, .data = migrate_v2_data },
    [2] = { .ddl = migrate_v3, .data = migrate_v3_data,
            .probe = "SELECT count(*) FROM rdb$relations WHERE rdb$relation_name='ITEM_FLAGS'" },
    [3] = { .ddl = migrate_v4, .probe = "SELECT count(*) FROM rdb$relations WHERE rdb$relation_name='UID_SNAPSHOT'" },
    [4] = { .ddl = migrate_v5, .copy = copy_content,
            .probe = "SELECT count(*) FROM rdb$relations WHERE rdb$relation_name='CONTENT_PART'" },
    [5] = { .ddl = migrate_v6, .probe = "SELECT 1 - count(*) FROM rdb$relations WHERE rdb$relation_name='CONTENT'" },
    [6] = { .ddl = migrate_v7, .copy = copy_values,
            .probe = "SELECT count(*) FROM rdb$relations WHERE rdb$relation_name='VAL'" },
    [7] = { .ddl = migrate_v8, .probe = "SELECT 1 - count(*) FROM rdb$relations WHERE rdb$relation_name='META'" },
    [8] = { .ddl = migrate_v9,
            .probe = "SELECT count(*) FROM rdb$relation_fields WHERE rdb$relation_name='CONTENT_PART'"
                     " AND rdb$field_name='CRC'" },
};

static const char tpb_ddl[] = { isc_tpb_version3, isc_tpb_write, isc_tpb_concurrency, isc_tpb_wait };

static int begin(struct outpost_storage *s)
{
    s->txn.tr = 0;
    return isc_start_transaction(s->status, &s->txn.tr, 1, &s->db, sizeof tpb_ddl, tpb_ddl) ? -1 : 0;
}

static void rollback(struct outpost_storage *s)
{
    if (s->txn.tr) {
        ISC_STATUS_ARRAY sv;
        isc_rollback_transaction(sv, &s->txn.tr);
        s->txn.tr = 0;
    }
}

static int commit(struct outpost_storage *s)
{
    if (isc_commit_transaction(s->status, &s->txn.tr))
        return -1;
    s->txn.tr = 0;
    return 0;
}

/* A one-integer query in the current transaction: 0 or -1. */
static int query_int(struct outpost_storage *s, const char *sql, const char *arg, int64_t *v)
{
    struct fb_stmt *st = fb_stmt_prepare(s, sql);
    if (!st)
        return -1;
    if (arg)
        fb_bind_text(st, 0, arg);
    int r = fb_exec_row(s, st);
    *v = r == 1 ? fb_col_int(st, 0) : -1;
    fb_stmt_free(st);
    return r < 0 ? -1 : 0;
}

static int run_all(struct outpost_storage *s, const char *const *sql)
{
    for (int i = 0; sql && sql[i]; i++)
        if (fb_exec_sql(s, sql[i]))
            return -1;
    return 0;
}

outpost_status fb_schema_upgrade(struct outpost_storage *s)
{
    int64_t have = 0, v = 0, users = 0;
    /* the usual case writes nothing, so a cache on a full disk still opens */
    if (begin(s) || query_int(s, steps[0].probe, NULL, &have))
        goto fail;
    if (have > 0 && query_int(s, "SELECT ival FROM store_info WHERE k=?", "schema_version", &v))
        goto fail;
    if (have > 0 && v < 1)
        v = 1; /* v1 tables committed, version not yet recorded */
    if (!have && query_int(s, "SELECT count(*) FROM rdb$relations WHERE COALESCE(rdb$system_flag, 0)=0",
                           NULL, &users))
        goto fail;
    rollback(s);
    if (!have && users > 0)
        return fb_error(s, OUTPOST_FATAL,
                        "%s is a Firebird database but not an Outpost cache: point [storage] path at "
                        "another file", s->path);
    if (v > FB_SCHEMA_VERSION)
        return fb_error(s, OUTPOST_FATAL,
                        "cache %s has schema version %lld, newer than this plugin's %d: run a newer "
                        "Outpost (it is never downgraded)", s->path, (long long)v, FB_SCHEMA_VERSION);
    int fresh = v == 0;
    for (; v < FB_SCHEMA_VERSION; v++) {
        const struct step *sp = &steps[v];
        int64_t done = 0;
        if (begin(s))
            goto fail;
        if (v > 0 && sp->probe && query_int(s, sp->probe, NULL, &done))
            goto fail;
        if (v == 1 && query_int(s, migrate_v2_probe, NULL, &done))
            goto fail;
        if (!done && run_all(s, sp->ddl))
            goto fail;
        if (commit(s) || begin(s) || run_all(s, sp->data) || (sp->copy && sp->copy(s)))
            goto fail;
        struct fb_stmt *st = fb_stmt_prepare(s, "UPDATE OR INSERT INTO store_info(k, ival) VALUES(?, ?) MATCHING(k)");
        if (!st)
            goto fail;
        fb_bind_text(st, 0, "schema_version");
        fb_bind_int(st, 1, v + 1);
        int bad = fb_exec(s, st);
        fb_stmt_free(st);
        if (bad || commit(s))
            goto fail;
        if (!fresh && s->host && s->host->log)
            s->host->log(s->host, OUTPOST_LOG_NOTICE, "cache %s: schema migrated to version %lld", s->path,
                         (long long)(v + 1));
    }
    return outpost_ok();
fail:;
    outpost_status st = fb_db_error(s, "creating or migrating the cache schema");
    rollback(s);
    return st;
}
