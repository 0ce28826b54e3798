/* tests/mapi/win32/abi_layout.h — the layouts abi_check compares between
 * our omapi.h (abi_ours.c) and mingw-w64's mapidefs.h (abi_mingw.c): the
 * data structures agree with Microsoft's in both, so any difference is a bug
 * in omapi.h. Method signatures are where mingw is wrong (ULONG for
 * ULONG_PTR); abi_ours.c checks those widths itself. */
#define ABI_LAYOUT(X)                                                                                           \
    X(sizeof(SPropValue)) X(offsetof(SPropValue, Value)) X(sizeof(SBinary)) X(sizeof(SPropTagArray))           \
    X(sizeof(SRow)) X(offsetof(SRow, lpProps)) X(sizeof(SRowSet)) X(offsetof(SRowSet, aRow))                    \
    X(sizeof(SRestriction)) X(offsetof(SRestriction, res)) X(sizeof(SPropertyRestriction))                     \
    X(sizeof(SContentRestriction)) X(sizeof(SCommentRestriction)) X(sizeof(SSortOrderSet))                      \
    X(sizeof(ENTRYID)) X(sizeof(MAPIUID)) X(sizeof(ENTRYLIST)) X(sizeof(MAPINAMEID))                            \
    X(offsetof(MAPINAMEID, Kind)) X(sizeof(NOTIFICATION)) X(offsetof(NOTIFICATION, info))                     \
    X(sizeof(TABLE_NOTIFICATION)) X(offsetof(TABLE_NOTIFICATION, row)) X(sizeof(OBJECT_NOTIFICATION))        \
    X(sizeof(NEWMAIL_NOTIFICATION)) X(sizeof(ADRENTRY)) X(sizeof(ADRLIST)) X(sizeof(SPropProblem))            \
    X(sizeof(MAPIERROR)) X(sizeof(NOTIFKEY)) X(sizeof(IMAPIPropVtbl)) X(sizeof(IMsgStoreVtbl))                 \
    X(sizeof(IMAPIFolderVtbl)) X(sizeof(IMessageVtbl)) X(sizeof(IAttachVtbl)) X(sizeof(IMAPITableVtbl))         \
    X(sizeof(IMSProviderVtbl)) X(sizeof(IMSLogonVtbl)) X(sizeof(IMAPISupportVtbl))                             \
    X(sizeof(IProviderAdminVtbl)) X(offsetof(IMAPITableVtbl, QueryRows)) X(offsetof(IMsgStoreVtbl, OpenEntry)) \
    X(offsetof(IMAPIFolderVtbl, EmptyFolder)) X(offsetof(IMAPISupportVtbl, WrapStoreEntryID))                  \
    X(offsetof(IMAPISupportVtbl, SetProviderUID)) X(offsetof(IMessageVtbl, SetReadFlag))
#define ABI_NAMES(X) #X,
