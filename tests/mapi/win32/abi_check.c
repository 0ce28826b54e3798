/* tests/mapi/win32/abi_check.c — our omapi.h against mingw-w64's MAPI
 * headers and Microsoft's widths (run under Wine by run_wine_mapi.sh;
 * the compile-time checks also fail the cross build itself). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "omapi.h"
#include "abi_layout.h"

/* Microsoft's widths where mingw-w64 has ULONG: BOOKMARK and the connection
 * ids of Advise/Unadvise are pointer-sized. */
_Static_assert(sizeof(BOOKMARK) == sizeof(void *), "BOOKMARK is ULONG_PTR");
_Static_assert(sizeof(((IMAPITableVtbl *)0)->Unadvise) == sizeof(void *), "vtable slots are pointers");
_Static_assert(offsetof(NOTIFICATION, info) == (sizeof(void *) == 8 ? 8 : 8), "NOTIFICATION.info at 8");
_Static_assert(sizeof(SPropValue) == (sizeof(void *) == 8 ? 24 : 16), "SPropValue");
_Static_assert(sizeof(SRow) == (sizeof(void *) == 8 ? 16 : 12), "SRow");
_Static_assert(sizeof(IMAPISupportVtbl) == 44 * sizeof(void *), "IMAPISupport has 44 slots");
_Static_assert(sizeof(IMsgStoreVtbl) == 27 * sizeof(void *), "IMsgStore has 27 slots");
_Static_assert(sizeof(IMAPIFolderVtbl) == 30 * sizeof(void *), "IMAPIFolder has 30 slots");
_Static_assert(sizeof(IMessageVtbl) == 22 * sizeof(void *), "IMessage has 22 slots");
_Static_assert(sizeof(IMAPITableVtbl) == 26 * sizeof(void *), "IMAPITable has 26 slots");
_Static_assert(sizeof(IMSProviderVtbl) == 7 * sizeof(void *), "IMSProvider has 7 slots");
_Static_assert(sizeof(IMSLogonVtbl) == 10 * sizeof(void *), "IMSLogon has 10 slots");

/* The pointer-sized out-parameters, by type: these assignments do not
 * compile if a slot takes ULONG * where Microsoft has ULONG_PTR *. */
static void widths(void)
{
    HRESULT(OMAPI_CALL * a)(void *, ULONG, LPENTRYID, ULONG, LPMAPIADVISESINK, ULONG_PTR *) = 0;
    HRESULT(OMAPI_CALL * b)(void *, BOOKMARK *) = 0;
    HRESULT(OMAPI_CALL * c)(void *, LPNOTIFKEY, ULONG, ULONG, LPMAPIADVISESINK, ULONG_PTR *) = 0;
    HRESULT(OMAPI_CALL * d)(void *, ULONG, LPMAPIADVISESINK, ULONG_PTR *) = 0;
    IMsgStoreVtbl s = { 0 };
    IMAPITableVtbl t = { 0 };
    IMAPISupportVtbl u = { 0 };
    IMSLogonVtbl l = { 0 };
    s.Advise = a;
    t.CreateBookmark = b;
    u.Subscribe = c;
    t.Advise = d;
    l.Advise = a;
    (void)s, (void)t, (void)u, (void)l;
}

extern const size_t abi_mingw[];
extern const size_t abi_mingw_count;
#define V(x) (size_t)(x),
static const size_t ours[] = { ABI_LAYOUT(V) };
static const char *const names[] = { ABI_LAYOUT(ABI_NAMES) };

int main(void)
{
    int passed = 0, failed = 0;
    widths();
    if (abi_mingw_count != sizeof ours / sizeof ours[0]) {
        printf("FAIL - layout tables differ in length\n");
        return 1;
    }
    for (size_t i = 0; i < abi_mingw_count; i++) {
        int ok = ours[i] == abi_mingw[i];
        printf("%s - %s = %u (mingw-w64: %u)\n", ok ? "ok  " : "FAIL", names[i], (unsigned)ours[i],
               (unsigned)abi_mingw[i]);
        ok ? passed++ : failed++;
    }
    printf("ok   - sizeof(BOOKMARK) = %u = sizeof(void *) (mingw-w64: ULONG, %u)\n", (unsigned)sizeof(BOOKMARK),
           (unsigned)sizeof(ULONG));
    passed++;
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
