/* frontends/mapi/win32/ms_table.c — IMAPITable over a daemon table handle:
 * columns, rows in pages, seeking, bookmarks (ULONG_PTR, as Microsoft's
 * BOOKMARK), restrictions, sorting and row notifications. Categorized
 * views (ExpandRow/CollapseRow) are not supported (PROTOCOL.md). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms.h"

static ms_conn *C(ms_table *t) { return t->lg->conn; }

HRESULT ms_table_new(ms_logon *lg, uint32_t handle, uint32_t gen, const char *what, ms_table **out)
{
    ms_table *t = calloc(1, sizeof *t);
    if (!t)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    t->lpVtbl = &ms_table_vtbl;
    t->refs = 1;
    t->lg = lg;
    lg->lpVtbl->AddRef(lg);
    t->t = handle;
    t->gen = gen;
    t->what = what;
    *out = t;
    return S_OK;
}

/* Sends op with the table handle first. */
static HRESULT tcall(ms_table *t, uint16_t op, const mapi_buf *q, mapi_buf *r)
{
    mapi_buf full;
    mapi_buf_init(&full);
    mapi_w_u32(&full, t->t);
    if (q && q->len)
        mapi_buf_add(&full, q->data, q->len);
    HRESULT hr = ms_call(C(t), t->gen, op, &full, r);
    mapi_buf_free(&full);
    return hr;
}

/* tcall for the operations that answer with n 32-bit values, read into out
 * when the call succeeds (a warning such as MAPI_W_POSITION_CHANGED too). */
static HRESULT tcall_u32(ms_table *t, uint16_t op, const mapi_buf *q, uint32_t *out, int n)
{
    mapi_buf r;
    mapi_buf_init(&r);
    HRESULT hr = tcall(t, op, q, &r);
    if (SUCCEEDED(hr)) {
        mapi_rd rd;
        mapi_rd_init(&rd, r.data, r.len);
        for (int i = 0; i < n; i++)
            out[i] = mapi_r_u32(&rd);
    }
    mapi_buf_free(&r);
    return hr;
}

static HRESULT OMAPI_CALL tbl_QueryInterface(void *This, REFIID riid, LPVOID *ppv)
{
    ms_table *t = This;
    if (!ppv)
        return MAPI_E_INVALID_PARAMETER;
    *ppv = NULL;
    if (!IsEqualIID(riid, &IID_IUnknown) && !IsEqualIID(riid, &IID_IMAPITable))
        return MAPI_E_INTERFACE_NOT_SUPPORTED;
    InterlockedIncrement(&t->refs);
    *ppv = t;
    return S_OK;
}

static ULONG OMAPI_CALL tbl_AddRef(void *This) { return (ULONG)InterlockedIncrement(&((ms_table *)This)->refs); }

static ULONG OMAPI_CALL tbl_Release(void *This)
{
    ms_table *t = This;
    LONG n = InterlockedDecrement(&t->refs);
    if (n == 0) {
        if (t->gen == C(t)->gen && C(t)->s != MAPI_BAD_SOCK) {
            mapi_buf q;
            mapi_buf_init(&q);
            mapi_w_u32(&q, t->t);
            ms_call(C(t), t->gen, MAPI_OP_RELEASE, &q, NULL);
            mapi_buf_free(&q);
        }
        MS_TRACE("IMAPITable::Release(t=%u %s) -> freed", t->t, t->what);
        t->lg->lpVtbl->Release(t->lg);
        free(t);
    }
    return (ULONG)n;
}

static HRESULT OMAPI_CALL tbl_GetLastError(void *This, HRESULT hResult, ULONG ulFlags, LPMAPIERROR *lppMAPIError)
{
    ms_table *t = This;
    if (!lppMAPIError)
        return MAPI_E_INVALID_PARAMETER;
    const char *text = C(t)->last_error[0] ? C(t)->last_error : ms_hr_name(hResult);
    return ms_make_error(&t->lg->a, ulFlags, text, lppMAPIError);
}

static HRESULT OMAPI_CALL tbl_Advise(void *This, ULONG ulEventMask, LPMAPIADVISESINK lpAdviseSink,
                                     ULONG_PTR *lpulConnection)
{
    ms_table *t = This;
    if (!lpAdviseSink || !lpulConnection)
        return MAPI_E_INVALID_PARAMETER;
    *lpulConnection = 0;
    uint32_t sink;
    HRESULT hr = tcall_u32(t, MAPI_OP_TBL_ADVISE, NULL, &sink, 1);
    if (hr == S_OK) {
        *lpulConnection = ms_sink_add(C(t), sink, lpAdviseSink, t);
        if (!*lpulConnection)
            hr = MAPI_E_NOT_ENOUGH_MEMORY;
    }
    return ms_ret(hr, "IMAPITable::Advise(t=%u %s, ulEventMask=0x%lx) connection=%lu", t->t, t->what,
                  (unsigned long)ulEventMask, (unsigned long)*lpulConnection);
}

static HRESULT OMAPI_CALL tbl_Unadvise(void *This, ULONG_PTR ulConnection)
{
    ms_table *t = This;
    uint32_t conn = ms_sink_remove(C(t), ulConnection);
    HRESULT hr = MAPI_E_NOT_FOUND;
    if (conn) {
        mapi_buf q;
        mapi_buf_init(&q);
        mapi_w_u32(&q, conn);
        hr = ms_call(C(t), 0, MAPI_OP_UNADVISE, &q, NULL);
        mapi_buf_free(&q);
        if (hr == MAPI_E_NETWORK_ERROR)
            hr = S_OK;
    }
    return ms_ret(hr, "IMAPITable::Unadvise(t=%u, connection=%lu)", t->t, (unsigned long)ulConnection);
}

static HRESULT OMAPI_CALL tbl_GetStatus(void *This, ULONG *lpulTableStatus, ULONG *lpulTableType)
{
    ms_table *t = This;
    if (!lpulTableStatus || !lpulTableType)
        return MAPI_E_INVALID_PARAMETER;
    *lpulTableStatus = TBL_COMPLETE;
    *lpulTableType = TBLTYPE_DYNAMIC;
    return ms_ret(S_OK, "IMAPITable::GetStatus(t=%u)", t->t);
}

static HRESULT OMAPI_CALL tbl_SetColumns(void *This, LPSPropTagArray lpPropTagArray, ULONG ulFlags)
{
    ms_table *t = This;
    if (!lpPropTagArray)
        return MAPI_E_INVALID_PARAMETER;
    mapi_buf q;
    mapi_buf_init(&q);
    ms_w_tags(&q, lpPropTagArray);
    HRESULT hr = tcall(t, MAPI_OP_TBL_SET_COLUMNS, &q, NULL);
    mapi_buf_free(&q);
    return ms_ret(hr, "IMAPITable::SetColumns(t=%u %s, columns=%lu, ulFlags=0x%lx)", t->t, t->what,
                  (unsigned long)lpPropTagArray->cValues, (unsigned long)ulFlags);
}

static HRESULT OMAPI_CALL tbl_QueryColumns(void *This, ULONG ulFlags, LPSPropTagArray *lpPropTagArray)
{
    ms_table *t = This;
    if (!lpPropTagArray)
        return MAPI_E_INVALID_PARAMETER;
    *lpPropTagArray = NULL;
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, ulFlags);
    HRESULT hr = tcall(t, MAPI_OP_TBL_QUERY_COLUMNS, &q, &r);
    if (hr == S_OK) {
        mapi_rd rd;
        mapi_rd_init(&rd, r.data, r.len);
        hr = ms_tags_to_mapi(&t->lg->a, &rd, lpPropTagArray);
    }
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return ms_ret(hr, "IMAPITable::QueryColumns(t=%u, ulFlags=0x%lx)", t->t, (unsigned long)ulFlags);
}

static HRESULT OMAPI_CALL tbl_GetRowCount(void *This, ULONG ulFlags, ULONG *lpulCount)
{
    ms_table *t = This;
    if (!lpulCount)
        return MAPI_E_INVALID_PARAMETER;
    *lpulCount = 0;
    uint32_t count = 0;
    HRESULT hr = tcall_u32(t, MAPI_OP_TBL_GET_ROW_COUNT, NULL, &count, 1);
    if (hr == S_OK)
        *lpulCount = count;
    return ms_ret(hr, "IMAPITable::GetRowCount(t=%u %s, ulFlags=0x%lx) count=%lu", t->t, t->what,
                  (unsigned long)ulFlags, (unsigned long)*lpulCount);
}

/* Bookmarks: 0..2 are MAPI's; the daemon's start at 3 and fit in 32 bits. */
static HRESULT bookmark_arg(BOOKMARK bk, uint32_t *out)
{
    if (bk > 0xFFFFFFFFu)
        return MAPI_E_INVALID_BOOKMARK;
    *out = (uint32_t)bk;
    return S_OK;
}

static HRESULT OMAPI_CALL tbl_SeekRow(void *This, BOOKMARK bkOrigin, LONG lRowCount, LONG *lplRowsSought)
{
    ms_table *t = This;
    uint32_t bk;
    HRESULT hr = bookmark_arg(bkOrigin, &bk);
    LONG sought = 0;
    if (hr == S_OK) {
        mapi_buf q;
        mapi_buf_init(&q);
        mapi_w_u32(&q, bk);
        mapi_w_u32(&q, (uint32_t)lRowCount);
        uint32_t n = 0;
        hr = tcall_u32(t, MAPI_OP_TBL_SEEK_ROW, &q, &n, 1);
        if (SUCCEEDED(hr))
            sought = (LONG)n;
        mapi_buf_free(&q);
    }
    if (lplRowsSought)
        *lplRowsSought = sought;
    return ms_ret(hr, "IMAPITable::SeekRow(t=%u, bkOrigin=%lu, lRowCount=%ld) sought=%ld", t->t,
                  (unsigned long)bkOrigin, (long)lRowCount, (long)sought);
}

static HRESULT OMAPI_CALL tbl_SeekRowApprox(void *This, ULONG ulNumerator, ULONG ulDenominator)
{
    ms_table *t = This;
    mapi_buf q;
    mapi_buf_init(&q);
    mapi_w_u32(&q, ulNumerator);
    mapi_w_u32(&q, ulDenominator);
    HRESULT hr = tcall(t, MAPI_OP_TBL_SEEK_ROW_APPROX, &q, NULL);
    mapi_buf_free(&q);
    return ms_ret(hr, "IMAPITable::SeekRowApprox(t=%u, %lu/%lu)", t->t, (unsigned long)ulNumerator,
                  (unsigned long)ulDenominator);
}

static HRESULT OMAPI_CALL tbl_QueryPosition(void *This, ULONG *lpulRow, ULONG *lpulNumerator, ULONG *lpulDenominator)
{
    ms_table *t = This;
    if (!lpulRow || !lpulNumerator || !lpulDenominator)
        return MAPI_E_INVALID_PARAMETER;
    uint32_t pos[3];
    HRESULT hr = tcall_u32(t, MAPI_OP_TBL_QUERY_POSITION, NULL, pos, 3);
    if (hr == S_OK) {
        *lpulRow = pos[0];
        *lpulNumerator = pos[1];
        *lpulDenominator = pos[2];
    }
    return ms_ret(hr, "IMAPITable::QueryPosition(t=%u)", t->t);
}

static HRESULT OMAPI_CALL tbl_FindRow(void *This, LPSRestriction lpRestriction, BOOKMARK bkOrigin, ULONG ulFlags)
{
    ms_table *t = This;
    uint32_t bk;
    HRESULT hr = bookmark_arg(bkOrigin, &bk);
    mapi_buf q;
    mapi_buf_init(&q);
    if (hr == S_OK)
        ms_w_res(&q, lpRestriction, &hr);
    mapi_w_u32(&q, bk);
    mapi_w_u32(&q, ulFlags);
    if (hr == S_OK)
        hr = tcall(t, MAPI_OP_TBL_FIND_ROW, &q, NULL);
    mapi_buf_free(&q);
    return ms_ret(hr, "IMAPITable::FindRow(t=%u, rt=%ld, bkOrigin=%lu, ulFlags=0x%lx)", t->t,
                  lpRestriction ? (long)lpRestriction->rt : -1l, (unsigned long)bkOrigin, (unsigned long)ulFlags);
}

static HRESULT OMAPI_CALL tbl_Restrict(void *This, LPSRestriction lpRestriction, ULONG ulFlags)
{
    ms_table *t = This;
    HRESULT hr = S_OK;
    mapi_buf q;
    mapi_buf_init(&q);
    ms_w_res(&q, lpRestriction, &hr);
    if (hr == S_OK)
        hr = tcall(t, MAPI_OP_TBL_RESTRICT, &q, NULL);
    mapi_buf_free(&q);
    return ms_ret(hr, "IMAPITable::Restrict(t=%u %s, rt=%ld, ulFlags=0x%lx)", t->t, t->what,
                  lpRestriction ? (long)lpRestriction->rt : -1l, (unsigned long)ulFlags);
}

static HRESULT OMAPI_CALL tbl_CreateBookmark(void *This, BOOKMARK *lpbkPosition)
{
    ms_table *t = This;
    if (!lpbkPosition)
        return MAPI_E_INVALID_PARAMETER;
    uint32_t bk = 0;
    HRESULT hr = tcall_u32(t, MAPI_OP_TBL_CREATE_BOOKMARK, NULL, &bk, 1);
    if (hr == S_OK)
        *lpbkPosition = (BOOKMARK)bk;
    return ms_ret(hr, "IMAPITable::CreateBookmark(t=%u) bookmark=%lu", t->t,
                  hr == S_OK ? (unsigned long)*lpbkPosition : 0ul);
}

static HRESULT OMAPI_CALL tbl_FreeBookmark(void *This, BOOKMARK bkPosition)
{
    ms_table *t = This;
    uint32_t bk;
    HRESULT hr = bookmark_arg(bkPosition, &bk);
    if (hr == S_OK) {
        mapi_buf q;
        mapi_buf_init(&q);
        mapi_w_u32(&q, bk);
        hr = tcall(t, MAPI_OP_TBL_FREE_BOOKMARK, &q, NULL);
        mapi_buf_free(&q);
    }
    return ms_ret(hr, "IMAPITable::FreeBookmark(t=%u, %lu)", t->t, (unsigned long)bkPosition);
}

static HRESULT OMAPI_CALL tbl_SortTable(void *This, LPSSortOrderSet lpSortCriteria, ULONG ulFlags)
{
    ms_table *t = This;
    if (!lpSortCriteria)
        return MAPI_E_INVALID_PARAMETER;
    mapi_buf q;
    mapi_buf_init(&q);
    mapi_w_u32(&q, lpSortCriteria->cSorts);
    mapi_w_u32(&q, lpSortCriteria->cCategories);
    mapi_w_u32(&q, lpSortCriteria->cExpanded);
    for (ULONG i = 0; i < lpSortCriteria->cSorts; i++) {
        mapi_w_u32(&q, lpSortCriteria->aSort[i].ulPropTag);
        mapi_w_u32(&q, lpSortCriteria->aSort[i].ulOrder);
    }
    HRESULT hr = tcall(t, MAPI_OP_TBL_SORT, &q, NULL);
    mapi_buf_free(&q);
    return ms_ret(hr, "IMAPITable::SortTable(t=%u %s, cSorts=%lu, first=0x%08lx/%lu, ulFlags=0x%lx)", t->t, t->what,
                  (unsigned long)lpSortCriteria->cSorts,
                  lpSortCriteria->cSorts ? (unsigned long)lpSortCriteria->aSort[0].ulPropTag : 0ul,
                  lpSortCriteria->cSorts ? (unsigned long)lpSortCriteria->aSort[0].ulOrder : 0ul,
                  (unsigned long)ulFlags);
}

static HRESULT OMAPI_CALL tbl_QuerySortOrder(void *This, LPSSortOrderSet *lppSortCriteria)
{
    ms_table *t = This;
    if (!lppSortCriteria)
        return MAPI_E_INVALID_PARAMETER;
    /* The daemon keeps the order; report "unsorted" rather than guess. */
    SSortOrderSet *s;
    HRESULT hr = ms_alloc(&t->lg->a, sizeof *s, (void **)&s);
    if (hr == S_OK)
        *lppSortCriteria = s;
    return ms_ret(hr, "IMAPITable::QuerySortOrder(t=%u)", t->t);
}

static HRESULT OMAPI_CALL tbl_QueryRows(void *This, LONG lRowCount, ULONG ulFlags, LPSRowSet *lppRows)
{
    ms_table *t = This;
    if (!lppRows)
        return MAPI_E_INVALID_PARAMETER;
    *lppRows = NULL;
    mapi_buf q, r;
    mapi_buf_init(&q);
    mapi_buf_init(&r);
    mapi_w_u32(&q, (uint32_t)lRowCount);
    mapi_w_u32(&q, ulFlags);
    HRESULT hr = tcall(t, MAPI_OP_TBL_QUERY_ROWS, &q, &r);
    ULONG got = 0;
    if (hr == S_OK) {
        const ms_alloc_fns *a = &t->lg->a;
        mapi_rd rd;
        mapi_rd_init(&rd, r.data, r.len);
        uint32_t n = mapi_r_u32(&rd);
        SRowSet *rs = NULL;
        if (n > 10000 || rd.err)
            hr = MAPI_E_CALL_FAILED;
        else
            hr = ms_alloc(a, CbNewSRowSet(n ? n : 1), (void **)&rs);
        /* Each row's props are a block of their own: FreeProws frees them one by one. */
        for (uint32_t i = 0; hr == S_OK && i < n; i++) {
            mapi_props row;
            mapi_props_init(&row);
            if (mapi_r_props(&rd, &row) != 0)
                hr = MAPI_E_CALL_FAILED;
            else
                hr = ms_props_to_mapi(a, &row, NULL, &rs->aRow[i].cValues, &rs->aRow[i].lpProps);
            mapi_props_free(&row);
            if (hr == S_OK)
                rs->cRows = i + 1;
        }
        if (hr == S_OK) {
            *lppRows = rs;
            got = rs->cRows;
        } else if (rs) {
            for (ULONG i = 0; i < rs->cRows; i++)
                a->free(rs->aRow[i].lpProps);
            a->free(rs);
        }
    }
    mapi_buf_free(&q);
    mapi_buf_free(&r);
    return ms_ret(hr, "IMAPITable::QueryRows(t=%u %s, lRowCount=%ld, ulFlags=0x%lx) rows=%lu", t->t, t->what,
                  (long)lRowCount, (unsigned long)ulFlags, (unsigned long)got);
}

static HRESULT OMAPI_CALL tbl_Abort(void *This)
{
    ms_table *t = This;
    return ms_ret(S_OK, "IMAPITable::Abort(t=%u)", t->t);
}

static HRESULT OMAPI_CALL tbl_ExpandRow(void *This, ULONG cb, LPBYTE key, ULONG n, ULONG f, LPSRowSet *rows, ULONG *more)
{
    (void)This, (void)cb, (void)key, (void)n, (void)f;
    if (rows)
        *rows = NULL;
    if (more)
        *more = 0;
    return ms_ret(MAPI_E_NO_SUPPORT, "IMAPITable::ExpandRow (categorized views are not supported)");
}

static HRESULT OMAPI_CALL tbl_CollapseRow(void *This, ULONG cb, LPBYTE key, ULONG f, ULONG *count)
{
    (void)This, (void)cb, (void)key, (void)f;
    if (count)
        *count = 0;
    return ms_ret(MAPI_E_NO_SUPPORT, "IMAPITable::CollapseRow");
}

static HRESULT OMAPI_CALL tbl_WaitForCompletion(void *This, ULONG ulFlags, ULONG ulTimeout, ULONG *lpulTableStatus)
{
    (void)This, (void)ulFlags, (void)ulTimeout;
    if (lpulTableStatus)
        *lpulTableStatus = TBL_COMPLETE;
    return ms_ret(S_OK, "IMAPITable::WaitForCompletion");
}

static HRESULT OMAPI_CALL tbl_GetCollapseState(void *This, ULONG f, ULONG cb, LPBYTE key, ULONG *cbState, LPBYTE *state)
{
    (void)This, (void)f, (void)cb, (void)key;
    if (cbState)
        *cbState = 0;
    if (state)
        *state = NULL;
    return ms_ret(MAPI_E_NO_SUPPORT, "IMAPITable::GetCollapseState");
}

static HRESULT OMAPI_CALL tbl_SetCollapseState(void *This, ULONG f, ULONG cb, LPBYTE state, BOOKMARK *bk)
{
    (void)This, (void)f, (void)cb, (void)state;
    if (bk)
        *bk = BOOKMARK_BEGINNING;
    return ms_ret(MAPI_E_NO_SUPPORT, "IMAPITable::SetCollapseState");
}

const IMAPITableVtbl ms_table_vtbl = {
    tbl_QueryInterface, tbl_AddRef, tbl_Release, tbl_GetLastError, tbl_Advise, tbl_Unadvise, tbl_GetStatus,
    tbl_SetColumns, tbl_QueryColumns, tbl_GetRowCount, tbl_SeekRow, tbl_SeekRowApprox, tbl_QueryPosition,
    tbl_FindRow, tbl_Restrict, tbl_CreateBookmark, tbl_FreeBookmark, tbl_SortTable, tbl_QuerySortOrder,
    tbl_QueryRows, tbl_Abort, tbl_ExpandRow, tbl_CollapseRow, tbl_WaitForCompletion, tbl_GetCollapseState,
    tbl_SetCollapseState,
};
