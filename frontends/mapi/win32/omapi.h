/* frontends/mapi/win32/omapi.h — the MAPI types, interfaces and constants
 * the Outpost provider uses, written from the documented signatures
 * (learn.microsoft.com, "MAPI reference"), with Microsoft's widths.
 *
 * Why not mingw-w64's mapi*.h: they declare ULONG where Microsoft declares
 * ULONG_PTR (Advise/Unadvise/Subscribe connection ids, ulUIParam,
 * BOOKMARK). Through a pointer that writes 4 of 8 bytes in 64-bit Outlook.
 * They also lack IMAPIProviderShutdown, IMSCapabilities, STORE_UNICODE_OK,
 * PR_HTML, PR_CHANGE_KEY and others. tests/mapi/win32/abi_check.c keeps this
 * header's layouts equal to mingw's for the data structures (which agree
 * with Microsoft's) and checks the widths where they differ.
 *
 * Interfaces are C structs with an lpVtbl. Every method's `This` is `void *`
 * so one function serves the same slot of every interface that inherits it
 * (IMAPIProp's methods in IMsgStore, IMAPIFolder, IMessage, IAttach). All
 * methods are __stdcall (callee pops on i686): each slot has the exact
 * parameter list, never a generic stub.
 */
#ifndef OUTPOST_OMAPI_H
#define OUTPOST_OMAPI_H

#include <windows.h>
#include <objidl.h>

#define OMAPI_CALL __stdcall

typedef ULONG_PTR BOOKMARK;
#define BOOKMARK_BEGINNING ((BOOKMARK)0)
#define BOOKMARK_CURRENT ((BOOKMARK)1)
#define BOOKMARK_END ((BOOKMARK)2)

typedef const IID *LPCIID;

typedef struct MAPIUID {
    BYTE ab[16];
} MAPIUID, *LPMAPIUID;

typedef struct ENTRYID {
    BYTE abFlags[4];
    BYTE ab[1];
} ENTRYID, *LPENTRYID;

typedef struct SPropTagArray {
    ULONG cValues;
    ULONG aulPropTag[1];
} SPropTagArray, *LPSPropTagArray;
#define CbNewSPropTagArray(n) (offsetof(SPropTagArray, aulPropTag) + (n) * sizeof(ULONG))

typedef struct SBinary {
    ULONG cb;
    LPBYTE lpb;
} SBinary, *LPSBinary;

typedef struct SShortArray { ULONG cValues; short *lpi; } SShortArray;
typedef struct SLongArray { ULONG cValues; LONG *lpl; } SLongArray;
typedef struct SRealArray { ULONG cValues; float *lpflt; } SRealArray;
typedef struct SDoubleArray { ULONG cValues; double *lpdbl; } SDoubleArray;
typedef struct SCurrencyArray { ULONG cValues; CY *lpcur; } SCurrencyArray;
typedef struct SAppTimeArray { ULONG cValues; double *lpat; } SAppTimeArray;
typedef struct SDateTimeArray { ULONG cValues; FILETIME *lpft; } SDateTimeArray;
typedef struct SBinaryArray { ULONG cValues; SBinary *lpbin; } SBinaryArray;
typedef struct SLPSTRArray { ULONG cValues; LPSTR *lppszA; } SLPSTRArray;
typedef struct SWStringArray { ULONG cValues; LPWSTR *lppszW; } SWStringArray;
typedef struct SGuidArray { ULONG cValues; GUID *lpguid; } SGuidArray;
typedef struct SLargeIntegerArray { ULONG cValues; LARGE_INTEGER *lpli; } SLargeIntegerArray;

typedef union _PV {
    short int i;
    LONG l;
    ULONG ul;
    float flt;
    double dbl;
    unsigned short int b;
    CY cur;
    double at;
    FILETIME ft;
    LPSTR lpszA;
    SBinary bin;
    LPWSTR lpszW;
    LPGUID lpguid;
    LARGE_INTEGER li;
    SShortArray MVi;
    SLongArray MVl;
    SRealArray MVflt;
    SDoubleArray MVdbl;
    SCurrencyArray MVcur;
    SAppTimeArray MVat;
    SDateTimeArray MVft;
    SBinaryArray MVbin;
    SLPSTRArray MVszA;
    SWStringArray MVszW;
    SGuidArray MVguid;
    SLargeIntegerArray MVli;
    SCODE err;
    LONG x;
} __UPV;

typedef struct SPropValue {
    ULONG ulPropTag;
    ULONG dwAlignPad;
    union _PV Value;
} SPropValue, *LPSPropValue;

typedef struct SPropProblem {
    ULONG ulIndex;
    ULONG ulPropTag;
    SCODE scode;
} SPropProblem;

typedef struct SPropProblemArray {
    ULONG cProblem;
    SPropProblem aProblem[1];
} SPropProblemArray, *LPSPropProblemArray;

typedef struct SRow {
    ULONG ulAdrEntryPad;
    ULONG cValues;
    LPSPropValue lpProps;
} SRow, *LPSRow;

typedef struct SRowSet {
    ULONG cRows;
    SRow aRow[1];
} SRowSet, *LPSRowSet;
#define CbNewSRowSet(n) (offsetof(SRowSet, aRow) + (n) * sizeof(SRow))

typedef struct ADRENTRY {
    ULONG ulReserved1;
    ULONG cValues;
    LPSPropValue rgPropVals;
} ADRENTRY;

typedef struct ADRLIST {
    ULONG cEntries;
    ADRENTRY aEntries[1];
} ADRLIST, *LPADRLIST;

typedef struct SSortOrder {
    ULONG ulPropTag;
    ULONG ulOrder;
} SSortOrder;

typedef struct SSortOrderSet {
    ULONG cSorts;
    ULONG cCategories;
    ULONG cExpanded;
    SSortOrder aSort[1];
} SSortOrderSet, *LPSSortOrderSet;

typedef struct ENTRYLIST {
    ULONG cValues;
    SBinary *lpbin;
} ENTRYLIST, *LPENTRYLIST;

typedef struct MAPINAMEID {
    LPGUID lpguid;
    ULONG ulKind;
    union {
        LONG lID;
        LPWSTR lpwstrName;
    } Kind;
} MAPINAMEID, *LPMAPINAMEID;
#define MNID_ID 0
#define MNID_STRING 1

typedef struct MAPIERROR {
    ULONG ulVersion;
    LPWSTR lpszError; /* LPTSTR: Unicode when MAPI_UNICODE was asked */
    LPWSTR lpszComponent;
    ULONG ulLowLevelError;
    ULONG ulContext;
} MAPIERROR, *LPMAPIERROR;

typedef struct NOTIFKEY {
    ULONG cb;
    BYTE ab[1];
} NOTIFKEY, *LPNOTIFKEY;

/* Restrictions */
struct SRestriction;
typedef struct SAndRestriction { ULONG cRes; struct SRestriction *lpRes; } SAndRestriction;
typedef struct SOrRestriction { ULONG cRes; struct SRestriction *lpRes; } SOrRestriction;
typedef struct SNotRestriction { ULONG ulReserved; struct SRestriction *lpRes; } SNotRestriction;
typedef struct SContentRestriction { ULONG ulFuzzyLevel; ULONG ulPropTag; LPSPropValue lpProp; } SContentRestriction;
typedef struct SPropertyRestriction { ULONG relop; ULONG ulPropTag; LPSPropValue lpProp; } SPropertyRestriction;
typedef struct SComparePropsRestriction { ULONG relop; ULONG ulPropTag1; ULONG ulPropTag2; } SComparePropsRestriction;
typedef struct SBitMaskRestriction { ULONG relBMR; ULONG ulPropTag; ULONG ulMask; } SBitMaskRestriction;
typedef struct SSizeRestriction { ULONG relop; ULONG ulPropTag; ULONG cb; } SSizeRestriction;
typedef struct SExistRestriction { ULONG ulReserved1; ULONG ulPropTag; ULONG ulReserved2; } SExistRestriction;
typedef struct SSubRestriction { ULONG ulSubObject; struct SRestriction *lpRes; } SSubRestriction;
typedef struct SCommentRestriction { ULONG cValues; struct SRestriction *lpRes; LPSPropValue lpProp; } SCommentRestriction;

typedef struct SRestriction {
    ULONG rt;
    union {
        SComparePropsRestriction resCompareProps;
        SAndRestriction resAnd;
        SOrRestriction resOr;
        SNotRestriction resNot;
        SContentRestriction resContent;
        SPropertyRestriction resProperty;
        SBitMaskRestriction resBitMask;
        SSizeRestriction resSize;
        SExistRestriction resExist;
        SSubRestriction resSub;
        SCommentRestriction resComment;
    } res;
} SRestriction, *LPSRestriction;

#define RES_AND 0
#define RES_OR 1
#define RES_NOT 2
#define RES_CONTENT 3
#define RES_PROPERTY 4
#define RES_COMPAREPROPS 5
#define RES_BITMASK 6
#define RES_SIZE 7
#define RES_EXIST 8
#define RES_SUBRESTRICTION 9
#define RES_COMMENT 10

/* Notifications */
typedef struct ERROR_NOTIFICATION {
    ULONG cbEntryID;
    LPENTRYID lpEntryID;
    SCODE scode;
    ULONG ulFlags;
    LPMAPIERROR lpMAPIError;
} ERROR_NOTIFICATION;

typedef struct NEWMAIL_NOTIFICATION {
    ULONG cbEntryID;
    LPENTRYID lpEntryID;
    ULONG cbParentID;
    LPENTRYID lpParentID;
    ULONG ulFlags;
    LPWSTR lpszMessageClass;
    ULONG ulMessageFlags;
} NEWMAIL_NOTIFICATION;

typedef struct OBJECT_NOTIFICATION {
    ULONG cbEntryID;
    LPENTRYID lpEntryID;
    ULONG ulObjType;
    ULONG cbParentID;
    LPENTRYID lpParentID;
    ULONG cbOldID;
    LPENTRYID lpOldID;
    ULONG cbOldParentID;
    LPENTRYID lpOldParentID;
    LPSPropTagArray lpPropTagArray;
} OBJECT_NOTIFICATION;

typedef struct TABLE_NOTIFICATION {
    ULONG ulTableEvent;
    HRESULT hResult;
    SPropValue propIndex;
    SPropValue propPrior;
    SRow row;
    ULONG ulPad;
} TABLE_NOTIFICATION;

typedef struct EXTENDED_NOTIFICATION {
    ULONG ulEvent;
    ULONG cb;
    LPBYTE pbEventParameters;
} EXTENDED_NOTIFICATION;

typedef struct STATUS_OBJECT_NOTIFICATION {
    ULONG cbEntryID;
    LPENTRYID lpEntryID;
    ULONG cValues;
    LPSPropValue lpPropVals;
} STATUS_OBJECT_NOTIFICATION;

typedef struct NOTIFICATION {
    ULONG ulEventType;
#ifdef _WIN64
    ULONG ulAlignPad;
#endif
    union {
        ERROR_NOTIFICATION err;
        NEWMAIL_NOTIFICATION newmail;
        OBJECT_NOTIFICATION obj;
        TABLE_NOTIFICATION tab;
        EXTENDED_NOTIFICATION ext;
        STATUS_OBJECT_NOTIFICATION statobj;
    } info;
} NOTIFICATION, *LPNOTIFICATION;

#define fnevCriticalError 0x00000001
#define fnevNewMail 0x00000002
#define fnevObjectCreated 0x00000004
#define fnevObjectDeleted 0x00000008
#define fnevObjectModified 0x00000010
#define fnevObjectMoved 0x00000020
#define fnevObjectCopied 0x00000040
#define fnevSearchComplete 0x00000080
#define fnevTableModified 0x00000100

#define TABLE_CHANGED 1
#define TABLE_ERROR 2
#define TABLE_ROW_ADDED 3
#define TABLE_ROW_DELETED 4
#define TABLE_ROW_MODIFIED 5
#define TABLE_SORT_DONE 6
#define TABLE_RESTRICT_DONE 7
#define TABLE_SETCOL_DONE 8
#define TABLE_RELOAD 9

/* Allocators MAPI hands the provider (MSProviderInit). */
typedef SCODE(STDMETHODCALLTYPE ALLOCATEBUFFER)(ULONG cbSize, LPVOID *lppBuffer);
typedef SCODE(STDMETHODCALLTYPE ALLOCATEMORE)(ULONG cbSize, LPVOID lpObject, LPVOID *lppBuffer);
typedef ULONG(STDMETHODCALLTYPE FREEBUFFER)(LPVOID lpBuffer);
typedef ALLOCATEBUFFER *LPALLOCATEBUFFER;
typedef ALLOCATEMORE *LPALLOCATEMORE;
typedef FREEBUFFER *LPFREEBUFFER;

/* ---- interfaces ---------------------------------------------------------- */

#define OMAPI_IUNKNOWN_METHODS                                                       \
    HRESULT(OMAPI_CALL *QueryInterface)(void *This, REFIID riid, LPVOID *ppv);       \
    ULONG(OMAPI_CALL *AddRef)(void *This);                                           \
    ULONG(OMAPI_CALL *Release)(void *This)

typedef struct IMAPIAdviseSink IMAPIAdviseSink, *LPMAPIADVISESINK;
typedef struct IMAPIProgress IMAPIProgress, *LPMAPIPROGRESS;
typedef struct IMAPITable IMAPITable, *LPMAPITABLE;
typedef struct IMAPIProp IMAPIProp, *LPMAPIPROP;
typedef struct IMAPIProp IProfSect, *LPPROFSECT;
typedef struct IMsgStore IMsgStore, *LPMDB;
typedef struct IMAPIFolder IMAPIFolder, *LPMAPIFOLDER;
typedef struct IMessage IMessage, *LPMESSAGE;
typedef struct IAttach IAttach, *LPATTACH;
typedef struct IMAPISupport IMAPISupport, *LPMAPISUP;
typedef struct IMSProvider IMSProvider, *LPMSPROVIDER;
typedef struct IMSLogon IMSLogon, *LPMSLOGON;
typedef struct IProviderAdmin IProviderAdmin, *LPPROVIDERADMIN;

typedef struct IMAPIAdviseSinkVtbl {
    OMAPI_IUNKNOWN_METHODS;
    ULONG(OMAPI_CALL *OnNotify)(void *This, ULONG cNotif, LPNOTIFICATION lpNotifications);
} IMAPIAdviseSinkVtbl;
struct IMAPIAdviseSink {
    const IMAPIAdviseSinkVtbl *lpVtbl;
};

#define OMAPI_IMAPIPROP_METHODS                                                                                    \
    OMAPI_IUNKNOWN_METHODS;                                                                                        \
    HRESULT(OMAPI_CALL *GetLastError)(void *This, HRESULT hResult, ULONG ulFlags, LPMAPIERROR *lppMAPIError);      \
    HRESULT(OMAPI_CALL *SaveChanges)(void *This, ULONG ulFlags);                                                   \
    HRESULT(OMAPI_CALL *GetProps)(void *This, LPSPropTagArray lpPropTagArray, ULONG ulFlags, ULONG *lpcValues,     \
                                  LPSPropValue *lppPropArray);                                                     \
    HRESULT(OMAPI_CALL *GetPropList)(void *This, ULONG ulFlags, LPSPropTagArray *lppPropTagArray);                 \
    HRESULT(OMAPI_CALL *OpenProperty)(void *This, ULONG ulPropTag, LPCIID lpiid, ULONG ulInterfaceOptions,         \
                                      ULONG ulFlags, LPUNKNOWN *lppUnk);                                           \
    HRESULT(OMAPI_CALL *SetProps)(void *This, ULONG cValues, LPSPropValue lpPropArray,                             \
                                  LPSPropProblemArray *lppProblems);                                               \
    HRESULT(OMAPI_CALL *DeleteProps)(void *This, LPSPropTagArray lpPropTagArray, LPSPropProblemArray *lppProblems); \
    HRESULT(OMAPI_CALL *CopyTo)(void *This, ULONG ciidExclude, LPCIID rgiidExclude,                                \
                                LPSPropTagArray lpExcludeProps, ULONG_PTR ulUIParam, LPMAPIPROGRESS lpProgress,    \
                                LPCIID lpInterface, LPVOID lpDestObj, ULONG ulFlags,                               \
                                LPSPropProblemArray *lppProblems);                                                 \
    HRESULT(OMAPI_CALL *CopyProps)(void *This, LPSPropTagArray lpIncludeProps, ULONG_PTR ulUIParam,                \
                                   LPMAPIPROGRESS lpProgress, LPCIID lpInterface, LPVOID lpDestObj,                \
                                   ULONG ulFlags, LPSPropProblemArray *lppProblems);                               \
    HRESULT(OMAPI_CALL *GetNamesFromIDs)(void *This, LPSPropTagArray *lppPropTags, LPGUID lpPropSetGuid,           \
                                         ULONG ulFlags, ULONG *lpcPropNames, LPMAPINAMEID **lpppPropNames);        \
    HRESULT(OMAPI_CALL *GetIDsFromNames)(void *This, ULONG cPropNames, LPMAPINAMEID *lppPropNames,                 \
                                         ULONG ulFlags, LPSPropTagArray *lppPropTags)

typedef struct IMAPIPropVtbl {
    OMAPI_IMAPIPROP_METHODS;
} IMAPIPropVtbl;
struct IMAPIProp {
    const IMAPIPropVtbl *lpVtbl;
};

typedef struct IAttachVtbl {
    OMAPI_IMAPIPROP_METHODS;
} IAttachVtbl;
struct IAttach {
    const IAttachVtbl *lpVtbl;
};

typedef struct IMsgStoreVtbl {
    OMAPI_IMAPIPROP_METHODS;
    HRESULT(OMAPI_CALL *Advise)(void *This, ULONG cbEntryID, LPENTRYID lpEntryID, ULONG ulEventMask,
                                LPMAPIADVISESINK lpAdviseSink, ULONG_PTR *lpulConnection);
    HRESULT(OMAPI_CALL *Unadvise)(void *This, ULONG_PTR ulConnection);
    HRESULT(OMAPI_CALL *CompareEntryIDs)(void *This, ULONG cbEntryID1, LPENTRYID lpEntryID1, ULONG cbEntryID2,
                                         LPENTRYID lpEntryID2, ULONG ulFlags, ULONG *lpulResult);
    HRESULT(OMAPI_CALL *OpenEntry)(void *This, ULONG cbEntryID, LPENTRYID lpEntryID, LPCIID lpInterface,
                                   ULONG ulFlags, ULONG *lpulObjType, LPUNKNOWN *lppUnk);
    HRESULT(OMAPI_CALL *SetReceiveFolder)(void *This, LPWSTR lpszMessageClass, ULONG ulFlags, ULONG cbEntryID,
                                          LPENTRYID lpEntryID);
    HRESULT(OMAPI_CALL *GetReceiveFolder)(void *This, LPWSTR lpszMessageClass, ULONG ulFlags, ULONG *lpcbEntryID,
                                          LPENTRYID *lppEntryID, LPWSTR *lppszExplicitClass);
    HRESULT(OMAPI_CALL *GetReceiveFolderTable)(void *This, ULONG ulFlags, LPMAPITABLE *lppTable);
    HRESULT(OMAPI_CALL *StoreLogoff)(void *This, ULONG *lpulFlags);
    HRESULT(OMAPI_CALL *AbortSubmit)(void *This, ULONG cbEntryID, LPENTRYID lpEntryID, ULONG ulFlags);
    HRESULT(OMAPI_CALL *GetOutgoingQueue)(void *This, ULONG ulFlags, LPMAPITABLE *lppTable);
    HRESULT(OMAPI_CALL *SetLockState)(void *This, LPMESSAGE lpMessage, ULONG ulLockState);
    HRESULT(OMAPI_CALL *FinishedMsg)(void *This, ULONG ulFlags, ULONG cbEntryID, LPENTRYID lpEntryID);
    HRESULT(OMAPI_CALL *NotifyNewMail)(void *This, LPNOTIFICATION lpNotification);
} IMsgStoreVtbl;
struct IMsgStore {
    const IMsgStoreVtbl *lpVtbl;
};

typedef struct IMAPIFolderVtbl {
    OMAPI_IMAPIPROP_METHODS;
    /* IMAPIContainer */
    HRESULT(OMAPI_CALL *GetContentsTable)(void *This, ULONG ulFlags, LPMAPITABLE *lppTable);
    HRESULT(OMAPI_CALL *GetHierarchyTable)(void *This, ULONG ulFlags, LPMAPITABLE *lppTable);
    HRESULT(OMAPI_CALL *OpenEntry)(void *This, ULONG cbEntryID, LPENTRYID lpEntryID, LPCIID lpInterface,
                                   ULONG ulFlags, ULONG *lpulObjType, LPUNKNOWN *lppUnk);
    HRESULT(OMAPI_CALL *SetSearchCriteria)(void *This, LPSRestriction lpRestriction, LPENTRYLIST lpContainerList,
                                           ULONG ulSearchFlags);
    HRESULT(OMAPI_CALL *GetSearchCriteria)(void *This, ULONG ulFlags, LPSRestriction *lppRestriction,
                                           LPENTRYLIST *lppContainerList, ULONG *lpulSearchState);
    /* IMAPIFolder */
    HRESULT(OMAPI_CALL *CreateMessage)(void *This, LPCIID lpInterface, ULONG ulFlags, LPMESSAGE *lppMessage);
    HRESULT(OMAPI_CALL *CopyMessages)(void *This, LPENTRYLIST lpMsgList, LPCIID lpInterface, LPVOID lpDestFolder,
                                      ULONG_PTR ulUIParam, LPMAPIPROGRESS lpProgress, ULONG ulFlags);
    HRESULT(OMAPI_CALL *DeleteMessages)(void *This, LPENTRYLIST lpMsgList, ULONG_PTR ulUIParam,
                                        LPMAPIPROGRESS lpProgress, ULONG ulFlags);
    HRESULT(OMAPI_CALL *CreateFolder)(void *This, ULONG ulFolderType, LPWSTR lpszFolderName,
                                      LPWSTR lpszFolderComment, LPCIID lpInterface, ULONG ulFlags,
                                      LPMAPIFOLDER *lppFolder);
    HRESULT(OMAPI_CALL *CopyFolder)(void *This, ULONG cbEntryID, LPENTRYID lpEntryID, LPCIID lpInterface,
                                    LPVOID lpDestFolder, LPWSTR lpszNewFolderName, ULONG_PTR ulUIParam,
                                    LPMAPIPROGRESS lpProgress, ULONG ulFlags);
    HRESULT(OMAPI_CALL *DeleteFolder)(void *This, ULONG cbEntryID, LPENTRYID lpEntryID, ULONG_PTR ulUIParam,
                                      LPMAPIPROGRESS lpProgress, ULONG ulFlags);
    HRESULT(OMAPI_CALL *SetReadFlags)(void *This, LPENTRYLIST lpMsgList, ULONG_PTR ulUIParam,
                                      LPMAPIPROGRESS lpProgress, ULONG ulFlags);
    HRESULT(OMAPI_CALL *GetMessageStatus)(void *This, ULONG cbEntryID, LPENTRYID lpEntryID, ULONG ulFlags,
                                          ULONG *lpulMessageStatus);
    HRESULT(OMAPI_CALL *SetMessageStatus)(void *This, ULONG cbEntryID, LPENTRYID lpEntryID, ULONG ulNewStatus,
                                          ULONG ulNewStatusMask, ULONG *lpulOldStatus);
    HRESULT(OMAPI_CALL *SaveContentsSort)(void *This, LPSSortOrderSet lpSortCriteria, ULONG ulFlags);
    HRESULT(OMAPI_CALL *EmptyFolder)(void *This, ULONG_PTR ulUIParam, LPMAPIPROGRESS lpProgress, ULONG ulFlags);
} IMAPIFolderVtbl;
struct IMAPIFolder {
    const IMAPIFolderVtbl *lpVtbl;
};

typedef struct IMessageVtbl {
    OMAPI_IMAPIPROP_METHODS;
    HRESULT(OMAPI_CALL *GetAttachmentTable)(void *This, ULONG ulFlags, LPMAPITABLE *lppTable);
    HRESULT(OMAPI_CALL *OpenAttach)(void *This, ULONG ulAttachmentNum, LPCIID lpInterface, ULONG ulFlags,
                                    LPATTACH *lppAttach);
    HRESULT(OMAPI_CALL *CreateAttach)(void *This, LPCIID lpInterface, ULONG ulFlags, ULONG *lpulAttachmentNum,
                                      LPATTACH *lppAttach);
    HRESULT(OMAPI_CALL *DeleteAttach)(void *This, ULONG ulAttachmentNum, ULONG_PTR ulUIParam,
                                      LPMAPIPROGRESS lpProgress, ULONG ulFlags);
    HRESULT(OMAPI_CALL *GetRecipientTable)(void *This, ULONG ulFlags, LPMAPITABLE *lppTable);
    HRESULT(OMAPI_CALL *ModifyRecipients)(void *This, ULONG ulFlags, LPADRLIST lpMods);
    HRESULT(OMAPI_CALL *SubmitMessage)(void *This, ULONG ulFlags);
    HRESULT(OMAPI_CALL *SetReadFlag)(void *This, ULONG ulFlags);
} IMessageVtbl;
struct IMessage {
    const IMessageVtbl *lpVtbl;
};

typedef struct IMAPITableVtbl {
    OMAPI_IUNKNOWN_METHODS;
    HRESULT(OMAPI_CALL *GetLastError)(void *This, HRESULT hResult, ULONG ulFlags, LPMAPIERROR *lppMAPIError);
    HRESULT(OMAPI_CALL *Advise)(void *This, ULONG ulEventMask, LPMAPIADVISESINK lpAdviseSink,
                                ULONG_PTR *lpulConnection);
    HRESULT(OMAPI_CALL *Unadvise)(void *This, ULONG_PTR ulConnection);
    HRESULT(OMAPI_CALL *GetStatus)(void *This, ULONG *lpulTableStatus, ULONG *lpulTableType);
    HRESULT(OMAPI_CALL *SetColumns)(void *This, LPSPropTagArray lpPropTagArray, ULONG ulFlags);
    HRESULT(OMAPI_CALL *QueryColumns)(void *This, ULONG ulFlags, LPSPropTagArray *lpPropTagArray);
    HRESULT(OMAPI_CALL *GetRowCount)(void *This, ULONG ulFlags, ULONG *lpulCount);
    HRESULT(OMAPI_CALL *SeekRow)(void *This, BOOKMARK bkOrigin, LONG lRowCount, LONG *lplRowsSought);
    HRESULT(OMAPI_CALL *SeekRowApprox)(void *This, ULONG ulNumerator, ULONG ulDenominator);
    HRESULT(OMAPI_CALL *QueryPosition)(void *This, ULONG *lpulRow, ULONG *lpulNumerator, ULONG *lpulDenominator);
    HRESULT(OMAPI_CALL *FindRow)(void *This, LPSRestriction lpRestriction, BOOKMARK bkOrigin, ULONG ulFlags);
    HRESULT(OMAPI_CALL *Restrict)(void *This, LPSRestriction lpRestriction, ULONG ulFlags);
    HRESULT(OMAPI_CALL *CreateBookmark)(void *This, BOOKMARK *lpbkPosition);
    HRESULT(OMAPI_CALL *FreeBookmark)(void *This, BOOKMARK bkPosition);
    HRESULT(OMAPI_CALL *SortTable)(void *This, LPSSortOrderSet lpSortCriteria, ULONG ulFlags);
    HRESULT(OMAPI_CALL *QuerySortOrder)(void *This, LPSSortOrderSet *lppSortCriteria);
    HRESULT(OMAPI_CALL *QueryRows)(void *This, LONG lRowCount, ULONG ulFlags, LPSRowSet *lppRows);
    HRESULT(OMAPI_CALL *Abort)(void *This);
    HRESULT(OMAPI_CALL *ExpandRow)(void *This, ULONG cbInstanceKey, LPBYTE pbInstanceKey, ULONG ulRowCount,
                                   ULONG ulFlags, LPSRowSet *lppRows, ULONG *lpulMoreRows);
    HRESULT(OMAPI_CALL *CollapseRow)(void *This, ULONG cbInstanceKey, LPBYTE pbInstanceKey, ULONG ulFlags,
                                     ULONG *lpulRowCount);
    HRESULT(OMAPI_CALL *WaitForCompletion)(void *This, ULONG ulFlags, ULONG ulTimeout, ULONG *lpulTableStatus);
    HRESULT(OMAPI_CALL *GetCollapseState)(void *This, ULONG ulFlags, ULONG cbInstanceKey, LPBYTE lpbInstanceKey,
                                          ULONG *lpcbCollapseState, LPBYTE *lppbCollapseState);
    HRESULT(OMAPI_CALL *SetCollapseState)(void *This, ULONG ulFlags, ULONG cbCollapseState,
                                          LPBYTE pbCollapseState, BOOKMARK *lpbkLocation);
} IMAPITableVtbl;
struct IMAPITable {
    const IMAPITableVtbl *lpVtbl;
};

typedef struct IMSProviderVtbl {
    OMAPI_IUNKNOWN_METHODS;
    HRESULT(OMAPI_CALL *Shutdown)(void *This, ULONG *lpulFlags);
    HRESULT(OMAPI_CALL *Logon)(void *This, LPMAPISUP lpMAPISup, ULONG_PTR ulUIParam, LPWSTR lpszProfileName,
                               ULONG cbEntryID, LPENTRYID lpEntryID, ULONG ulFlags, LPCIID lpInterface,
                               ULONG *lpcbSpoolSecurity, LPBYTE *lppbSpoolSecurity, LPMAPIERROR *lppMAPIError,
                               LPMSLOGON *lppMSLogon, LPMDB *lppMDB);
    HRESULT(OMAPI_CALL *SpoolerLogon)(void *This, LPMAPISUP lpMAPISup, ULONG_PTR ulUIParam,
                                      LPWSTR lpszProfileName, ULONG cbEntryID, LPENTRYID lpEntryID, ULONG ulFlags,
                                      LPCIID lpInterface, ULONG cbSpoolSecurity, LPBYTE lpbSpoolSecurity,
                                      LPMAPIERROR *lppMAPIError, LPMSLOGON *lppMSLogon, LPMDB *lppMDB);
    HRESULT(OMAPI_CALL *CompareStoreIDs)(void *This, ULONG cbEntryID1, LPENTRYID lpEntryID1, ULONG cbEntryID2,
                                         LPENTRYID lpEntryID2, ULONG ulFlags, ULONG *lpulResult);
} IMSProviderVtbl;
struct IMSProvider {
    const IMSProviderVtbl *lpVtbl;
};

typedef struct IMSLogonVtbl {
    OMAPI_IUNKNOWN_METHODS;
    HRESULT(OMAPI_CALL *GetLastError)(void *This, HRESULT hResult, ULONG ulFlags, LPMAPIERROR *lppMAPIError);
    HRESULT(OMAPI_CALL *Logoff)(void *This, ULONG *lpulFlags);
    HRESULT(OMAPI_CALL *OpenEntry)(void *This, ULONG cbEntryID, LPENTRYID lpEntryID, LPCIID lpInterface,
                                   ULONG ulFlags, ULONG *lpulObjType, LPUNKNOWN *lppUnk);
    HRESULT(OMAPI_CALL *CompareEntryIDs)(void *This, ULONG cbEntryID1, LPENTRYID lpEntryID1, ULONG cbEntryID2,
                                         LPENTRYID lpEntryID2, ULONG ulFlags, ULONG *lpulResult);
    HRESULT(OMAPI_CALL *Advise)(void *This, ULONG cbEntryID, LPENTRYID lpEntryID, ULONG ulEventMask,
                                LPMAPIADVISESINK lpAdviseSink, ULONG_PTR *lpulConnection);
    HRESULT(OMAPI_CALL *Unadvise)(void *This, ULONG_PTR ulConnection);
    HRESULT(OMAPI_CALL *OpenStatusEntry)(void *This, LPCIID lpInterface, ULONG ulFlags, ULONG *lpulObjType,
                                         LPVOID *lppEntry);
} IMSLogonVtbl;
struct IMSLogon {
    const IMSLogonVtbl *lpVtbl;
};

/* IMAPISupport: MAPI's object; the provider calls only a few slots, but
 * the table is declared whole so each slot sits at its documented index. */
typedef struct IMAPISupportVtbl {
    OMAPI_IUNKNOWN_METHODS;
    HRESULT(OMAPI_CALL *GetLastError)(void *This, HRESULT hResult, ULONG ulFlags, LPMAPIERROR *lppMAPIError);
    HRESULT(OMAPI_CALL *GetMemAllocRoutines)(void *This, LPALLOCATEBUFFER *lpAllocateBuffer,
                                             LPALLOCATEMORE *lpAllocateMore, LPFREEBUFFER *lpFreeBuffer);
    HRESULT(OMAPI_CALL *Subscribe)(void *This, LPNOTIFKEY lpKey, ULONG ulEventMask, ULONG ulFlags,
                                   LPMAPIADVISESINK lpAdviseSink, ULONG_PTR *lpulConnection);
    HRESULT(OMAPI_CALL *Unsubscribe)(void *This, ULONG_PTR ulConnection);
    HRESULT(OMAPI_CALL *Notify)(void *This, LPNOTIFKEY lpKey, ULONG cNotification, LPNOTIFICATION lpNotifications,
                                ULONG *lpulFlags);
    HRESULT(OMAPI_CALL *ModifyStatusRow)(void *This, ULONG cValues, LPSPropValue lpColumnVals, ULONG ulFlags);
    HRESULT(OMAPI_CALL *OpenProfileSection)(void *This, LPMAPIUID lpUid, ULONG ulFlags, LPPROFSECT *lppProfileObj);
    HRESULT(OMAPI_CALL *RegisterPreprocessor)(void *This, LPMAPIUID lpMuid, LPWSTR lpszAdrType, LPWSTR lpszDLLName,
                                              LPSTR lpszPreprocessor, LPSTR lpszRemovePreprocessInfo,
                                              ULONG ulFlags);
    HRESULT(OMAPI_CALL *NewUID)(void *This, LPMAPIUID lpMuid);
    HRESULT(OMAPI_CALL *MakeInvalid)(void *This, ULONG ulFlags, LPVOID lpObject, ULONG ulRefCount, ULONG cMethods);
    HRESULT(OMAPI_CALL *SpoolerYield)(void *This, ULONG ulFlags);
    HRESULT(OMAPI_CALL *SpoolerNotify)(void *This, ULONG ulFlags, LPVOID lpvData);
    HRESULT(OMAPI_CALL *CreateOneOff)(void *This, LPWSTR lpszName, LPWSTR lpszAdrType, LPWSTR lpszAddress,
                                      ULONG ulFlags, ULONG *lpcbEntryID, LPENTRYID *lppEntryID);
    HRESULT(OMAPI_CALL *SetProviderUID)(void *This, LPMAPIUID lpProviderID, ULONG ulFlags);
    HRESULT(OMAPI_CALL *CompareEntryIDs)(void *This, ULONG cbEntry1, LPENTRYID lpEntry1, ULONG cbEntry2,
                                         LPENTRYID lpEntry2, ULONG ulCompareFlags, ULONG *lpulResult);
    HRESULT(OMAPI_CALL *OpenTemplateID)(void *This, ULONG cbTemplateID, LPENTRYID lpTemplateID,
                                        ULONG ulTemplateFlags, LPMAPIPROP lpMAPIPropData, LPCIID lpInterface,
                                        LPMAPIPROP *lppMAPIPropNew, LPMAPIPROP lpMAPIPropSibling);
    HRESULT(OMAPI_CALL *OpenEntry)(void *This, ULONG cbEntryID, LPENTRYID lpEntryID, LPCIID lpInterface,
                                   ULONG ulOpenFlags, ULONG *lpulObjType, LPUNKNOWN *lppUnk);
    HRESULT(OMAPI_CALL *GetOneOffTable)(void *This, ULONG ulFlags, LPMAPITABLE *lppTable);
    HRESULT(OMAPI_CALL *Address)(void *This, ULONG_PTR *lpulUIParam, LPVOID lpAdrParms, LPADRLIST *lppAdrList);
    HRESULT(OMAPI_CALL *Details)(void *This, ULONG_PTR *lpulUIParam, LPVOID lpfnDismiss, LPVOID lpvDismissContext,
                                 ULONG cbEntryID, LPENTRYID lpEntryID, LPVOID lpfButtonCallback,
                                 LPVOID lpvButtonContext, LPWSTR lpszButtonText, ULONG ulFlags);
    HRESULT(OMAPI_CALL *NewEntry)(void *This, ULONG_PTR ulUIParam, ULONG ulFlags, ULONG cbEIDContainer,
                                  LPENTRYID lpEIDContainer, ULONG cbEIDNewEntryTpl, LPENTRYID lpEIDNewEntryTpl,
                                  ULONG *lpcbEIDNewEntry, LPENTRYID *lppEIDNewEntry);
    HRESULT(OMAPI_CALL *DoConfigPropsheet)(void *This, ULONG_PTR ulUIParam, ULONG ulFlags, LPWSTR lpszTitle,
                                           LPMAPITABLE lpDisplayTable, LPMAPIPROP lpCOnfigData,
                                           ULONG ulTopPage);
    HRESULT(OMAPI_CALL *CopyMessages)(void *This, LPCIID lpSrcInterface, LPVOID lpSrcFolder, LPENTRYLIST lpMsgList,
                                      LPCIID lpDestInterface, LPVOID lpDestFolder, ULONG_PTR ulUIParam,
                                      LPMAPIPROGRESS lpProgress, ULONG ulFlags);
    HRESULT(OMAPI_CALL *CopyFolder)(void *This, LPCIID lpSrcInterface, LPVOID lpSrcFolder, ULONG cbEntryID,
                                    LPENTRYID lpEntryID, LPCIID lpDestInterface, LPVOID lpDestFolder,
                                    LPWSTR lpszNewFolderName, ULONG_PTR ulUIParam, LPMAPIPROGRESS lpProgress,
                                    ULONG ulFlags);
    HRESULT(OMAPI_CALL *DoCopyTo)(void *This, LPCIID lpSrcInterface, LPVOID lpSrcObj, ULONG ciidExclude,
                                  LPCIID rgiidExclude, LPSPropTagArray lpExcludeProps, ULONG_PTR ulUIParam,
                                  LPMAPIPROGRESS lpProgress, LPCIID lpDestInterface, LPVOID lpDestObj,
                                  ULONG ulFlags, LPSPropProblemArray *lppProblems);
    HRESULT(OMAPI_CALL *DoCopyProps)(void *This, LPCIID lpSrcInterface, LPVOID lpSrcObj,
                                     LPSPropTagArray lpIncludeProps, ULONG_PTR ulUIParam,
                                     LPMAPIPROGRESS lpProgress, LPCIID lpDestInterface, LPVOID lpDestObj,
                                     ULONG ulFlags, LPSPropProblemArray *lppProblems);
    HRESULT(OMAPI_CALL *DoProgressDialog)(void *This, ULONG_PTR ulUIParam, ULONG ulFlags,
                                          LPMAPIPROGRESS *lppProgress);
    HRESULT(OMAPI_CALL *ReadReceipt)(void *This, ULONG ulFlags, LPMESSAGE lpReadMessage,
                                     LPMESSAGE *lppEmptyMessage);
    HRESULT(OMAPI_CALL *PrepareSubmit)(void *This, LPMESSAGE lpMessage, ULONG *lpulFlags);
    HRESULT(OMAPI_CALL *ExpandRecips)(void *This, LPMESSAGE lpMessage, ULONG *lpulFlags);
    HRESULT(OMAPI_CALL *UpdatePAB)(void *This, ULONG ulFlags, LPMESSAGE lpMessage);
    HRESULT(OMAPI_CALL *DoSentMail)(void *This, ULONG ulFlags, LPMESSAGE lpMessage);
    HRESULT(OMAPI_CALL *OpenAddressBook)(void *This, LPCIID lpInterface, ULONG ulFlags, LPVOID *lppAdrBook);
    HRESULT(OMAPI_CALL *Preprocess)(void *This, ULONG ulFlags, ULONG cbEntryID, LPENTRYID lpEntryID);
    HRESULT(OMAPI_CALL *CompleteMsg)(void *This, ULONG ulFlags, ULONG cbEntryID, LPENTRYID lpEntryID);
    HRESULT(OMAPI_CALL *StoreLogoffTransports)(void *This, ULONG *lpulFlags);
    HRESULT(OMAPI_CALL *StatusRecips)(void *This, LPMESSAGE lpMessage, LPADRLIST lpRecipList);
    HRESULT(OMAPI_CALL *WrapStoreEntryID)(void *This, ULONG cbOrigEntry, LPENTRYID lpOrigEntry,
                                          ULONG *lpcbWrappedEntry, LPENTRYID *lppWrappedEntry);
    HRESULT(OMAPI_CALL *ModifyProfile)(void *This, ULONG ulFlags);
    HRESULT(OMAPI_CALL *IStorageFromStream)(void *This, LPUNKNOWN lpUnkIn, LPCIID lpInterface, ULONG ulFlags,
                                            LPSTORAGE *lppStorageOut);
    HRESULT(OMAPI_CALL *GetSvcConfigSupportObj)(void *This, ULONG ulFlags, LPMAPISUP *lppSvcSupport);
} IMAPISupportVtbl;
struct IMAPISupport {
    const IMAPISupportVtbl *lpVtbl;
};

typedef struct IProviderAdminVtbl {
    OMAPI_IUNKNOWN_METHODS;
    HRESULT(OMAPI_CALL *GetLastError)(void *This, HRESULT hResult, ULONG ulFlags, LPMAPIERROR *lppMAPIError);
    HRESULT(OMAPI_CALL *GetProviderTable)(void *This, ULONG ulFlags, LPMAPITABLE *lppTable);
    HRESULT(OMAPI_CALL *CreateProvider)(void *This, LPWSTR lpszProvider, ULONG cValues, LPSPropValue lpProps,
                                        ULONG_PTR ulUIParam, ULONG ulFlags, MAPIUID *lpUID);
    HRESULT(OMAPI_CALL *DeleteProvider)(void *This, LPMAPIUID lpUID);
    HRESULT(OMAPI_CALL *OpenProfileSection)(void *This, LPMAPIUID lpUID, LPCIID lpInterface, ULONG ulFlags,
                                            LPPROFSECT *lppProfSect);
} IProviderAdminVtbl;
struct IProviderAdmin {
    const IProviderAdminVtbl *lpVtbl;
};

/* Fast shutdown (Outlook 2010+): the provider answers QueryInterface for
 * IID_IMAPIProviderShutdown on its IMSProvider. */
typedef struct IMAPIProviderShutdownVtbl {
    OMAPI_IUNKNOWN_METHODS;
    HRESULT(OMAPI_CALL *QueryFastShutdown)(void *This);
    HRESULT(OMAPI_CALL *NotifyProcessShutdown)(void *This);
    HRESULT(OMAPI_CALL *DoFastShutdown)(void *This);
} IMAPIProviderShutdownVtbl;

/* Capabilities Outlook asks a store for (QueryInterface on IMsgStore). */
typedef enum { STORE_CAP_MSCAP_SELECTOR = 0 } MSCAP_SELECTOR;
typedef struct IMSCapabilitiesVtbl {
    OMAPI_IUNKNOWN_METHODS;
    ULONG(OMAPI_CALL *GetCapabilities)(void *This, MSCAP_SELECTOR mscapSelector);
} IMSCapabilitiesVtbl;

/* The entry points (MAPISPI.h): MSProviderInit is __cdecl, ServiceEntry
 * __stdcall (WINAPI). */
typedef HRESULT(__cdecl MSPROVIDERINIT)(HINSTANCE hInstance, LPMALLOC lpMalloc, LPALLOCATEBUFFER lpAllocateBuffer,
                                        LPALLOCATEMORE lpAllocateMore, LPFREEBUFFER lpFreeBuffer, ULONG ulFlags,
                                        ULONG ulMAPIVer, ULONG *lpulProviderVer, LPMSPROVIDER *lppMSProvider);
typedef HRESULT(WINAPI MSGSERVICEENTRY)(HINSTANCE hInstance, LPMALLOC lpMalloc, LPMAPISUP lpMAPISup,
                                        ULONG_PTR ulUIParam, ULONG ulFlags, ULONG ulContext, ULONG cValues,
                                        LPSPropValue lpProps, LPPROVIDERADMIN lpProviderAdmin,
                                        LPMAPIERROR *lppMapiError);

/* ---- constants ----------------------------------------------------------- */

#define CURRENT_SPI_VERSION 0x00010010UL
#define MAPI_UNICODE 0x80000000UL
#define MAPI_MODIFY 0x00000001UL
#define MAPI_CREATE 0x00000002UL
#define MAPI_BEST_ACCESS 0x00000010UL
#define MAPI_DEFERRED_ERRORS 0x00000008UL
#define MAPI_ASSOCIATED 0x00000040UL
#define MAPI_MOVE 0x00000001UL
#define MAPI_NO_STRINGS 0x00000001UL
#define MAPI_NO_IDS 0x00000002UL
#define KEEP_OPEN_READONLY 0x00000001UL
#define KEEP_OPEN_READWRITE 0x00000002UL
#define FORCE_SAVE 0x00000004UL
#define CONVENIENT_DEPTH 0x00000001UL
#define TBL_NOADVANCE 0x00000001UL
#define TBL_ALL_COLUMNS 0x00000001UL
#define TBL_BATCH 0x00000002UL
#define TBL_ASYNC 0x00000001UL
#define TBL_COMPLETE 0
#define TBLTYPE_DYNAMIC 2
#define CLEAR_READ_FLAG 0x00000004UL
#define DEL_MESSAGES 0x00000001UL
#define DEL_FOLDERS 0x00000004UL
#define DIR_BACKWARD 0x00000001UL
#define FOLDER_GENERIC 1
#define FOLDER_SEARCH 2
#define OPEN_IF_EXISTS 0x00000001UL
#define FOLDER_MOVE 0x00000001UL
#define COPY_SUBFOLDERS 0x00000010UL
#define LOGOFF_NO_WAIT 0x00000001UL

#define MAPI_STORE 0x00000001UL
#define MAPI_FOLDER 0x00000003UL
#define MAPI_MESSAGE 0x00000005UL
#define MAPI_ATTACH 0x00000007UL
#define MAPI_STATUS 0x00000009UL

#define MSG_SERVICE_INSTALL 1
#define MSG_SERVICE_CREATE 2
#define MSG_SERVICE_CONFIGURE 3
#define MSG_SERVICE_DELETE 4
#define MSG_SERVICE_UNINSTALL 5
#define MSG_SERVICE_PROVIDER_CREATE 6
#define MSG_SERVICE_PROVIDER_DELETE 7

#define STGM_READ_ 0x00000000UL

/* Property types and tags the DLL uses itself (the daemon knows the rest;
 * frontends/mapi/mapi_defs.h lists them). */
#define PT_UNSPECIFIED 0x0000
#define PT_NULL 0x0001
#define PT_I2 0x0002
#define PT_LONG 0x0003
#define PT_R4 0x0004
#define PT_DOUBLE 0x0005
#define PT_CURRENCY 0x0006
#define PT_APPTIME 0x0007
#define PT_ERROR 0x000A
#define PT_BOOLEAN 0x000B
#define PT_OBJECT 0x000D
#define PT_I8 0x0014
#define PT_STRING8 0x001E
#define PT_UNICODE 0x001F
#define PT_SYSTIME 0x0040
#define PT_CLSID 0x0048
#define PT_BINARY 0x0102
#define MV_FLAG 0x1000
#define PROP_TYPE(t) ((ULONG)(t)&0xFFFFUL)
#define PROP_ID(t) ((ULONG)(t) >> 16)
#define PROP_TAG(type, id) ((((ULONG)(id)) << 16) | ((ULONG)(type)))
#define CHANGE_PROP_TYPE(t, type) (((ULONG)0xFFFF0000UL & (t)) | (type))

#define PR_ENTRYID PROP_TAG(PT_BINARY, 0x0FFF)
#define PR_OBJECT_TYPE PROP_TAG(PT_LONG, 0x0FFE)
#define PR_RECORD_KEY PROP_TAG(PT_BINARY, 0x0FF9)
#define PR_STORE_ENTRYID PROP_TAG(PT_BINARY, 0x0FFB)
#define PR_INSTANCE_KEY PROP_TAG(PT_BINARY, 0x0FF6)
#define PR_DISPLAY_NAME_W PROP_TAG(PT_UNICODE, 0x3001)
#define PR_PROVIDER_DISPLAY_W PROP_TAG(PT_UNICODE, 0x3006)
#define PR_MDB_PROVIDER PROP_TAG(PT_BINARY, 0x3414)
#define PR_RESOURCE_FLAGS PROP_TAG(PT_LONG, 0x3009)
#define PR_PROVIDER_UID PROP_TAG(PT_BINARY, 0x300C)
#define PR_SERVICE_UID PROP_TAG(PT_BINARY, 0x300D)
#define PR_SUBJECT_W PROP_TAG(PT_UNICODE, 0x0037)
#define PR_MESSAGE_CLASS_W PROP_TAG(PT_UNICODE, 0x001A)
#define PR_MESSAGE_FLAGS PROP_TAG(PT_LONG, 0x0E07)
#define PR_MESSAGE_DELIVERY_TIME PROP_TAG(PT_SYSTIME, 0x0E06)
#define PR_BODY_W PROP_TAG(PT_UNICODE, 0x1000)
#define PR_HTML PROP_TAG(PT_BINARY, 0x1013)
#define PR_RTF_COMPRESSED PROP_TAG(PT_BINARY, 0x1009)
#define PR_CHANGE_KEY PROP_TAG(PT_BINARY, 0x65E2)
#define PR_ATTACH_DATA_BIN PROP_TAG(PT_BINARY, 0x3701)
#define PR_CONTAINER_CLASS_W PROP_TAG(PT_UNICODE, 0x3613)
#define PR_DEPTH PROP_TAG(PT_LONG, 0x3005)
#define PR_IPM_SUBTREE_ENTRYID PROP_TAG(PT_BINARY, 0x35E0)
#define PR_STORE_SUPPORT_MASK PROP_TAG(PT_LONG, 0x340D)
#define PR_CONTENT_COUNT PROP_TAG(PT_LONG, 0x3602)
#define PR_CONTENT_UNREAD PROP_TAG(PT_LONG, 0x3603)
#define PR_IPM_APPOINTMENT_ENTRYID PROP_TAG(PT_BINARY, 0x36D0)

/* Outpost's profile properties (PROTOCOL.md): where outpostd listens and
 * the file holding the per-user secret. */
#define PR_OUTPOST_ADDRESS_W PROP_TAG(PT_UNICODE, 0x6700)
#define PR_OUTPOST_SECRET_PATH_W PROP_TAG(PT_UNICODE, 0x6701)

#define STORE_UNICODE_OK 0x00040000UL
#define STORE_HTML_OK 0x00010000UL
#define MSGFLAG_READ 0x00000001UL
#define MSGFLAG_UNSENT 0x00000008UL
#define STATUS_DEFAULT_STORE 0x00000001UL
#define STATUS_NO_DEFAULT_STORE 0x00000004UL

/* SCODEs (mapicode.h values) */
#define MAPI_E_CALL_FAILED ((HRESULT)0x80004005L)
#define MAPI_E_NOT_ENOUGH_MEMORY ((HRESULT)0x8007000EL)
#define MAPI_E_INVALID_PARAMETER ((HRESULT)0x80070057L)
#define MAPI_E_INTERFACE_NOT_SUPPORTED ((HRESULT)0x80004002L)
#define MAPI_E_NO_ACCESS ((HRESULT)0x80070005L)
#define MAPI_E_NO_SUPPORT ((HRESULT)0x80040102L)
#define MAPI_E_UNKNOWN_FLAGS ((HRESULT)0x80040106L)
#define MAPI_E_INVALID_ENTRYID ((HRESULT)0x80040107L)
#define MAPI_E_NOT_FOUND ((HRESULT)0x8004010FL)
#define MAPI_E_VERSION ((HRESULT)0x80040110L)
#define MAPI_E_LOGON_FAILED ((HRESULT)0x80040111L)
#define MAPI_E_NETWORK_ERROR ((HRESULT)0x80040115L)
#define MAPI_E_FAILONEPROVIDER ((HRESULT)0x8004011DL)
#define MAPI_E_UNKNOWN_ENTRYID ((HRESULT)0x80040201L)
#define MAPI_E_TIMEOUT ((HRESULT)0x80040401L)
#define MAPI_E_TOO_COMPLEX ((HRESULT)0x80040117L)
#define MAPI_E_CORRUPT_DATA ((HRESULT)0x8004011BL)
#define MAPI_E_INVALID_BOOKMARK ((HRESULT)0x80040405L)
#define MAPI_E_NOT_INITIALIZED ((HRESULT)0x80040605L)
#define MAPI_E_OBJECT_CHANGED ((HRESULT)0x80040109L)
#define MAPI_W_ERRORS_RETURNED ((HRESULT)0x00040380L)

/* IIDs: {000203xx-0000-0000-C000-000000000046} */
#define OMAPI_DEFINE_IID(name, n) \
    static const IID name __attribute__((unused)) = { 0x00020300 + (n), 0x0000, 0x0000, { 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46 } }
OMAPI_DEFINE_IID(IID_IMAPITable, 0x01);
OMAPI_DEFINE_IID(IID_IMAPIAdviseSink, 0x02);
OMAPI_DEFINE_IID(IID_IMAPIProp, 0x03);
OMAPI_DEFINE_IID(IID_IProfSect, 0x04);
OMAPI_DEFINE_IID(IID_IMsgStore, 0x06);
OMAPI_DEFINE_IID(IID_IMessage, 0x07);
OMAPI_DEFINE_IID(IID_IAttachment, 0x08);
OMAPI_DEFINE_IID(IID_IMAPIContainer, 0x0B);
OMAPI_DEFINE_IID(IID_IMAPIFolder, 0x0C);
OMAPI_DEFINE_IID(IID_IMSProvider, 0x10);
OMAPI_DEFINE_IID(IID_IMSLogon, 0x13);
OMAPI_DEFINE_IID(IID_IMSCapabilities, 0x93);
OMAPI_DEFINE_IID(IID_IMAPIProviderShutdown, 0x98);

#endif
