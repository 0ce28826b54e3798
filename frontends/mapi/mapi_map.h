/* frontends/mapi/mapi_map.h — MAPI's data model over Outpost's item model.
 *
 * Items keep their content in the standard format of their kind (MIME,
 * iCalendar, vCard); this module turns an item (summary + content) into the
 * properties, recipients and attachments Outlook reads, and turns what
 * Outlook saves back into content of the item's kind:
 *   mail     IPM.Note        GMime: subject, sender, recipients, dates,
 *                            PR_BODY, PR_HTML, PR_RTF_COMPRESSED, attachments
 *   event    IPM.Appointment libical VEVENT: PSETID_Appointment/Common names
 *   task     IPM.Task        libical VTODO:  PSETID_Task names
 *   contact  IPM.Contact     vCard 3.0:      PR_GIVEN_NAME..., PSETID_Address
 *   note     IPM.StickyNote  libical VJOURNAL
 * Named properties get their ids from the store's mapi_names map once, at
 * mapi_ctx_init. Memory: everything produced is owned by the caller.
 */
#ifndef OUTPOST_MAPI_MAP_H
#define OUTPOST_MAPI_MAP_H

#include <stddef.h>
#include <stdint.h>

#include <outpost/item.h>

#include "mapi_names.h"
#include "mapi_prop.h"

/* Named properties this module reads and writes. */
enum mapi_np {
    NP_APPT_START, NP_APPT_END, NP_LOCATION, NP_BUSY_STATUS, NP_ALL_DAY, NP_RECURRING, NP_DURATION,
    NP_COMMON_START, NP_COMMON_END, NP_REMINDER_SET, NP_REMINDER_DELTA,
    NP_TASK_STATUS, NP_TASK_PERCENT, NP_TASK_START, NP_TASK_DUE, NP_TASK_COMPLETE, NP_TASK_DATE_COMPLETED,
    NP_EMAIL1_NAME, NP_EMAIL1_TYPE, NP_EMAIL1_ADDR, NP_EMAIL2_ADDR, NP_EMAIL3_ADDR, NP_FILE_UNDER,
    NP_KEYWORDS, NP_NOTE_COLOR,
    NP_COUNT
};

typedef struct mapi_ctx {
    uint8_t guid[16];          /* store GUID (entry ids, record keys) */
    mapi_names *names;
    uint32_t np[NP_COUNT];     /* full property tags of the names above */
} mapi_ctx;

/* Registers the names (persisting new ones) and fills ctx->np. 0 or -1. */
int mapi_ctx_init(mapi_ctx *c, const uint8_t guid[16], mapi_names *names);

/* A message as MAPI sees it. */
typedef struct mapi_attach {
    uint32_t num;       /* PR_ATTACH_NUM */
    mapi_props props;   /* includes PR_ATTACH_DATA_BIN */
} mapi_attach;

typedef struct mapi_message {
    mapi_props props;
    mapi_props *recips; /* recipient rows (PR_ROWID, PR_RECIPIENT_TYPE, ...) */
    uint32_t nrecips;
    mapi_attach *atts;
    uint32_t natts;
    uint32_t next_att;  /* next PR_ATTACH_NUM */
} mapi_message;

void mapi_message_free(mapi_message *m);

/* Message class and container class of a kind (NULL for an unknown kind). */
const char *mapi_message_class(uint32_t kind);
const char *mapi_container_class(uint32_t kind);
/* The item kind a message class saves as (0 when unknown). */
uint32_t mapi_kind_of_class(const char *message_class);

/* The part of mapi_map_summary made from the listing's fields alone (times,
 * flags, size, Message-ID; none from the strings it parses), in the same
 * order: MAPI_LISTED_TAGS (PR_FLAG_STATUS only when flagged). A contents
 * table sorting or restricting on these reads them without the rest. */
#define MAPI_NLISTED_TAGS 12
extern const uint32_t MAPI_LISTED_TAGS[MAPI_NLISTED_TAGS];
void mapi_map_listed(const outpost_item *it, mapi_props *out);
/* Properties of an item from its summary only (what a contents-table row
 * of mail needs). */
int mapi_map_summary(const mapi_ctx *c, const outpost_item *it, mapi_props *out);
/* The whole message from the item's content (len 0: summary only). With
 * bodies 0 the body properties and attachment data are left out (table rows
 * of calendar, contact and task folders). */
int mapi_map_content(const mapi_ctx *c, const outpost_item *it, const uint8_t *content, size_t len, int bodies,
                     mapi_message *out);

/* Content in the kind's format for a message Outlook saved. `uid` keeps the
 * object's UID (iCalendar/vCard) on updates, NULL makes one; now_ms stamps
 * DTSTAMP / Date. 0, or -1 with a reason in err. */
int mapi_build_content(const mapi_ctx *c, uint32_t kind, const mapi_message *m, const char *uid, int64_t now_ms,
                       mapi_buf *out, char *err, size_t errlen);

/* MIME for an edited mail (not a new one): as mapi_build_content, plus the
 * header fields of its stored content `orig` that the mapping does not own
 * (Received, References, In-Reply-To, Reply-To, List-*, X-*, ...), raw and
 * in their order. -1 with a reason in err when orig is not MIME or holds an
 * attached message (message/rfc822), which the mapping does not carry: the
 * edit cannot be kept without losing it. */
int mapi_build_mail_edit(const mapi_ctx *c, const mapi_message *m, const uint8_t *orig, size_t orig_len,
                         int64_t now_ms, mapi_buf *out, char *err, size_t errlen);
/* 1 when the mail content mapi_build_content writes for a and for b is the
 * same (subject, From, recipients, Date, Message-ID, bodies, attachments),
 * 0 when not, -1 when out of memory. */
int mapi_mail_same_content(const mapi_message *a, const mapi_message *b);

/* Splits "Name <addr>" (or "addr") into its parts, malloc'd; either may be
 * empty. Used for summary address strings. */
void mapi_split_address(const char *s, size_t len, char **name, char **addr);

#endif
