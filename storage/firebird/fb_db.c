/* fb_db.c — the thin layer over Firebird's classic ISC API (ibase.h): error
 * mapping, prepared statements with their XSQLDA buffers, parameter binding,
 * column access and BLOB reads (for migrations). Everything else in the plugin speaks this. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb_internal.h"

#define SQL_DIALECT 3

/* ---- errors ---- */

outpost_status fb_error(struct outpost_storage *s, int32_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->msg, sizeof s->msg, fmt, ap);
    va_end(ap);
    outpost_status st = { code, 0, s->msg };
    return st;
}

/* The engine's own text for the status vector, clauses joined by "; ". */
static void status_text(const ISC_STATUS *status, char *out, size_t n)
{
    const ISC_STATUS *p = status;
    char line[512];
    size_t used = 0;
    out[0] = '\0';
    while (fb_interpret(line, sizeof line, &p) && used + 3 < n) {
        used += (size_t)snprintf(out + used, n - used, "%s%s", used ? "; " : "", line);
        if (used >= n)
            break;
    }
}

/* Does the status vector name error `code`, or carry OS error `err`? */
static int status_has(const ISC_STATUS *v, ISC_STATUS code, int err)
{
    for (int i = 0; i < ISC_STATUS_LENGTH - 1 && v[i] != isc_arg_end;) {
        ISC_STATUS arg = v[i];
        if (arg == isc_arg_gds && code && v[i + 1] == code)
            return 1;
        if (arg == isc_arg_unix && err && v[i + 1] == err)
            return 1;
        if (arg == isc_arg_cstring)
            i += 3;
        else
            i += 2;
    }
    return 0;
}

outpost_status fb_db_error(struct outpost_storage *s, const char *what)
{
    char text[700];
    status_text(s->status, text, sizeof text);
    const char *path = s->path ? s->path : "the cache";
    if (status_has(s->status, 0, ENOSPC) || status_has(s->status, 0, EDQUOT))
        return fb_error(s, OUTPOST_FATAL,
                        "disk full while %s (%s): free space on the file system holding %s; "
                        "the transaction was rolled back, nothing committed is lost",
                        what, text, path);
    if (status_has(s->status, isc_already_opened, 0))
        return fb_error(s, OUTPOST_FATAL,
                        "cache %s is in use by another process (embedded Firebird opens it "
                        "exclusively): stop the other program, or, if it is outpostd, let the "
                        "CLI reach it through its control socket",
                        path);
    if (status_has(s->status, isc_deadlock, 0) || status_has(s->status, isc_update_conflict, 0) ||
        status_has(s->status, isc_lock_conflict, 0) || status_has(s->status, isc_lock_timeout, 0))
        return fb_error(s, OUTPOST_TEMP, "cache %s is busy while %s (%s): retry later", path, what, text);
    if (status_has(s->status, isc_unique_key_violation, 0) || status_has(s->status, isc_no_dup, 0) ||
        status_has(s->status, isc_string_truncation, 0) || status_has(s->status, isc_arith_except, 0))
        return fb_error(s, OUTPOST_BAD_DATA, "invalid data while %s: %s", what, text);
    if (status_has(s->status, isc_virmemexh, 0))
        return fb_error(s, OUTPOST_FATAL, "out of memory while %s", what);
    if (status_has(s->status, isc_bad_db_format, 0) || status_has(s->status, isc_bug_check, 0) ||
        status_has(s->status, isc_db_corrupt, 0))
        return fb_error(s, OUTPOST_FATAL,
                        "cache %s is damaged (%s while %s): check it with gfix -v -full, restore "
                        "it or delete it to resync",
                        path, text, what);
    return fb_error(s, OUTPOST_FATAL, "cache %s: %s while %s", path, text, what);
}

outpost_status fb_poison(struct outpost_txn *t, outpost_status st)
{
    if (st.code != OUTPOST_OK && t->mode == OUTPOST_TXN_WRITE && !t->failed) {
        t->failed = 1;
        t->fail_code = st.code;
        snprintf(t->fail_msg, sizeof t->fail_msg, "%s", st.message ? st.message : "failed");
    }
    return st;
}

int fb_buf_reserve(struct fb_buf *b, size_t n)
{
    if (n <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < n)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

/* ---- statements ---- */

static XSQLDA *sqlda_new(int n)
{
    if (n < 1)
        n = 1;
    XSQLDA *d = calloc(1, XSQLDA_LENGTH(n));
    if (d) {
        d->version = SQLDA_VERSION1;
        d->sqln = (ISC_SHORT)n;
    }
    return d;
}

void fb_stmt_free(struct fb_stmt *st)
{
    if (!st)
        return;
    if (st->h) {
        ISC_STATUS_ARRAY sv;
        isc_dsql_free_statement(sv, &st->h, DSQL_drop);
    }
    free(st->in);
    free(st->out);
    free(st->obuf);
    free(st->oind);
    free(st);
}

/* Lays out the output buffer: integers as BIGINT, text as VARCHAR. */
static int layout_output(struct fb_stmt *st)
{
    XSQLDA *o = st->out;
    size_t off = 0;
    for (int i = 0; i < o->sqld; i++) {
        XSQLVAR *v = &o->sqlvar[i];
        int type = v->sqltype & ~1;
        size_t n;
        switch (type) {
        case SQL_SHORT:
        case SQL_LONG:
        case SQL_INT64:
            v->sqltype = SQL_INT64 | 1;
            v->sqllen = 8;
            n = 8;
            break;
        case SQL_TEXT:
        case SQL_VARYING:
            v->sqltype = SQL_VARYING | 1;
            n = (size_t)(unsigned short)v->sqllen + 2;
            break;
        case SQL_BLOB:
            v->sqltype = SQL_BLOB | 1;
            n = sizeof(ISC_QUAD);
            break;
        default:
            v->sqltype = (ISC_SHORT)(type | 1);
            n = (size_t)(unsigned short)v->sqllen + 8;
            break;
        }
        off = (off + 7) & ~(size_t)7;
        v->sqldata = (char *)(uintptr_t)off; /* fixed up below */
        off += n;
    }
    st->obuf = malloc(off ? off : 1);
    st->oind = calloc((size_t)(o->sqld ? o->sqld : 1), sizeof(short));
    if (!st->obuf || !st->oind)
        return -1;
    for (int i = 0; i < o->sqld; i++) {
        o->sqlvar[i].sqldata = st->obuf + (uintptr_t)o->sqlvar[i].sqldata;
        o->sqlvar[i].sqlind = &st->oind[i];
    }
    return 0;
}

/* Prepares sql in the current transaction (a statement must be prepared in one). */
struct fb_stmt *fb_stmt_prepare(struct outpost_storage *s, const char *sql)
{
    struct fb_stmt *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->sql = sql;
    st->out = sqlda_new(ITEM_NCOLS + 4);
    st->in = sqlda_new(FB_MAX_PARAMS);
    if (!st->out || !st->in)
        goto fail;
    if (isc_dsql_allocate_statement(s->status, &s->db, &st->h))
        goto fail;
    if (isc_dsql_prepare(s->status, &s->txn.tr, &st->h, 0, sql, SQL_DIALECT, st->out))
        goto fail;
    if (st->out->sqld > st->out->sqln) {
        int n = st->out->sqld;
        free(st->out);
        st->out = sqlda_new(n);
        if (!st->out || isc_dsql_describe(s->status, &st->h, SQL_DIALECT, st->out))
            goto fail;
    }
    if (isc_dsql_describe_bind(s->status, &st->h, SQL_DIALECT, st->in))
        goto fail;
    if (st->in->sqld > FB_MAX_PARAMS)
        goto fail;
    for (int i = 0; i < st->in->sqld; i++)
        st->in->sqlvar[i].sqlind = &st->iind[i];
    if (layout_output(st))
        goto fail;
    static const char info_req[] = { isc_info_sql_stmt_type };
    char info[16];
    if (isc_dsql_sql_info(s->status, &st->h, sizeof info_req, info_req, sizeof info, info))
        goto fail;
    if (info[0] == isc_info_sql_stmt_type) {
        short l = (short)isc_vax_integer(info + 1, 2);
        st->is_select = isc_vax_integer(info + 3, l) == isc_info_sql_stmt_select;
    }
    return st;
fail:
    fb_stmt_free(st);
    return NULL;
}

/* The statement texts live in fb_stmt_sql.c. */
extern const char *const fb_stmt_sql[ST__COUNT];

struct fb_stmt *fb_stmt(struct outpost_storage *s, enum fb_stmt_id id)
{
    struct fb_stmt *st = s->stmt[id];
    if (!st) {
        st = fb_stmt_prepare(s, fb_stmt_sql[id]);
        if (!st)
            return NULL;
        s->stmt[id] = st;
    } else {
        fb_stmt_close(s, st);
    }
    return st;
}

void fb_stmt_close(struct outpost_storage *s, struct fb_stmt *st)
{
    if (st->cursor_open) {
        ISC_STATUS_ARRAY sv;
        isc_dsql_free_statement(sv, &st->h, DSQL_close);
        st->cursor_open = 0;
    }
    (void)s;
}

/* ---- binding ---- */

void fb_bind_int(struct fb_stmt *st, int i, int64_t v)
{
    XSQLVAR *x = &st->in->sqlvar[i];
    st->ival[i] = v;
    x->sqltype = SQL_INT64 | 1;
    x->sqlscale = 0;
    x->sqllen = 8;
    x->sqldata = (char *)&st->ival[i];
    st->iind[i] = 0;
}

void fb_bind_null(struct fb_stmt *st, int i)
{
    XSQLVAR *x = &st->in->sqlvar[i];
    x->sqltype |= 1;
    st->iind[i] = -1;
}

void fb_bind_textn(struct fb_stmt *st, int i, const char *v, size_t n)
{
    if (!v) {
        fb_bind_null(st, i);
        return;
    }
    XSQLVAR *x = &st->in->sqlvar[i];
    x->sqltype = SQL_TEXT | 1;
    x->sqlsubtype = 1; /* OCTETS: the bytes as given */
    x->sqlscale = 0;
    x->sqllen = (ISC_SHORT)(n > 32767 ? 32767 : n);
    x->sqldata = (char *)(uintptr_t)v;
    st->iind[i] = 0;
}

void fb_bind_text(struct fb_stmt *st, int i, const char *v)
{
    fb_bind_textn(st, i, v, v ? strlen(v) : 0);
}

/* ---- execution ---- */

int fb_exec(struct outpost_storage *s, struct fb_stmt *st)
{
    fb_stmt_close(s, st);
    XSQLDA *in = st->in->sqld ? st->in : NULL;
    if (st->is_select) {
        if (isc_dsql_execute(s->status, &s->txn.tr, &st->h, SQL_DIALECT, in))
            return -1;
        st->cursor_open = 1;
        return 0;
    }
    XSQLDA *out = st->out->sqld ? st->out : NULL;
    if (isc_dsql_execute2(s->status, &s->txn.tr, &st->h, SQL_DIALECT, in, out))
        return -1;
    return 0;
}

int fb_fetch(struct outpost_storage *s, struct fb_stmt *st)
{
    if (!st->cursor_open)
        return 0;
    ISC_STATUS rc = isc_dsql_fetch(s->status, &st->h, SQL_DIALECT, st->out);
    if (rc == 0)
        return 1;
    if (rc == 100) {
        fb_stmt_close(s, st);
        return 0;
    }
    ISC_STATUS_ARRAY keep;
    memcpy(keep, s->status, sizeof keep);
    fb_stmt_close(s, st);
    memcpy(s->status, keep, sizeof keep);
    return -1;
}

int fb_exec_row(struct outpost_storage *s, struct fb_stmt *st)
{
    if (fb_exec(s, st))
        return -1;
    if (!st->is_select) /* singleton RETURNING: a row when the first output is set */
        return st->out->sqld && st->oind[0] >= 0 ? 1 : 0;
    int r = fb_fetch(s, st);
    if (r == 1)
        fb_stmt_close(s, st);
    return r;
}

int fb_exec_sql(struct outpost_storage *s, const char *sql)
{
    return isc_dsql_execute_immediate(s->status, &s->db, &s->txn.tr, 0, sql, SQL_DIALECT, NULL) ? -1 : 0;
}

/* ---- columns ---- */

int fb_col_null(const struct fb_stmt *st, int i)
{
    return st->oind[i] < 0;
}

int64_t fb_col_int(const struct fb_stmt *st, int i)
{
    if (st->oind[i] < 0)
        return 0;
    ISC_INT64 v;
    memcpy(&v, st->out->sqlvar[i].sqldata, sizeof v);
    return v;
}

const char *fb_col_text(const struct fb_stmt *st, int i, size_t *len)
{
    if (st->oind[i] < 0) {
        *len = 0;
        return NULL;
    }
    const char *d = st->out->sqlvar[i].sqldata;
    unsigned short n;
    memcpy(&n, d, sizeof n);
    *len = n;
    return d + 2;
}

const char *fb_col_strdup(const struct fb_stmt *st, int i, struct fb_buf *b, size_t *at)
{
    size_t n;
    const char *v = fb_col_text(st, i, &n);
    if (!v)
        return NULL;
    if (fb_buf_reserve(b, b->len + n + 1))
        return NULL;
    char *dst = b->p + b->len;
    memcpy(dst, v, n);
    dst[n] = '\0';
    if (at)
        *at = b->len;
    b->len += n + 1;
    return dst;
}

const ISC_QUAD *fb_col_blob(const struct fb_stmt *st, int i)
{
    if (st->oind[i] < 0)
        return NULL;
    return (const ISC_QUAD *)(const void *)st->out->sqlvar[i].sqldata;
}

/* ---- BLOBs ---- */

int fb_blob_read_all(struct outpost_storage *s, const ISC_QUAD *id, struct fb_buf *b)
{
    isc_blob_handle bh = 0;
    ISC_QUAD q = *id;
    if (isc_open_blob2(s->status, &s->db, &s->txn.tr, &bh, &q, 0, NULL))
        return -1;
    for (;;) {
        if (fb_buf_reserve(b, b->len + 32768 + 1)) {
            ISC_STATUS_ARRAY sv;
            isc_close_blob(sv, &bh);
            s->status[0] = isc_arg_gds;
            s->status[1] = isc_virmemexh;
            s->status[2] = isc_arg_end;
            return -1;
        }
        unsigned short got = 0;
        ISC_STATUS rc = isc_get_segment(s->status, &bh, &got, 32768, b->p + b->len);
        if (rc && rc != isc_segment && rc != isc_segstr_eof) {
            ISC_STATUS_ARRAY sv;
            isc_close_blob(sv, &bh);
            return -1;
        }
        b->len += got;
        if (rc == isc_segstr_eof)
            break;
    }
    b->p[b->len] = '\0';
    return isc_close_blob(s->status, &bh) ? -1 : 0;
}
