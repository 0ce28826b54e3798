/* frontends/mapi/mapi_map.c — items (MIME, iCalendar, vCard) <-> MAPI
 * properties; see mapi_map.h. */
#include "mapi_map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>
#include <libical/ical.h>

#include "mapi_rtf.h"
#include "mapi_vcard.h"

/* ---- names ---- */

struct np_def {
    const uint8_t *guid;
    uint32_t lid;
    const char *name;
    uint32_t type;
};

static const struct np_def NP_DEFS[NP_COUNT] = {
    [NP_APPT_START] = { MAPI_PSETID_APPOINTMENT, 0x820D, NULL, OP_PT_SYSTIME },
    [NP_APPT_END] = { MAPI_PSETID_APPOINTMENT, 0x820E, NULL, OP_PT_SYSTIME },
    [NP_LOCATION] = { MAPI_PSETID_APPOINTMENT, 0x8208, NULL, OP_PT_UNICODE },
    [NP_BUSY_STATUS] = { MAPI_PSETID_APPOINTMENT, 0x8205, NULL, OP_PT_LONG },
    [NP_ALL_DAY] = { MAPI_PSETID_APPOINTMENT, 0x8215, NULL, OP_PT_BOOLEAN },
    [NP_RECURRING] = { MAPI_PSETID_APPOINTMENT, 0x8223, NULL, OP_PT_BOOLEAN },
    [NP_DURATION] = { MAPI_PSETID_APPOINTMENT, 0x8213, NULL, OP_PT_LONG },
    [NP_COMMON_START] = { MAPI_PSETID_COMMON, 0x8516, NULL, OP_PT_SYSTIME },
    [NP_COMMON_END] = { MAPI_PSETID_COMMON, 0x8517, NULL, OP_PT_SYSTIME },
    [NP_REMINDER_SET] = { MAPI_PSETID_COMMON, 0x8503, NULL, OP_PT_BOOLEAN },
    [NP_REMINDER_DELTA] = { MAPI_PSETID_COMMON, 0x8501, NULL, OP_PT_LONG },
    [NP_TASK_STATUS] = { MAPI_PSETID_TASK, 0x8101, NULL, OP_PT_LONG },
    [NP_TASK_PERCENT] = { MAPI_PSETID_TASK, 0x8102, NULL, OP_PT_DOUBLE },
    [NP_TASK_START] = { MAPI_PSETID_TASK, 0x8104, NULL, OP_PT_SYSTIME },
    [NP_TASK_DUE] = { MAPI_PSETID_TASK, 0x8105, NULL, OP_PT_SYSTIME },
    [NP_TASK_COMPLETE] = { MAPI_PSETID_TASK, 0x811C, NULL, OP_PT_BOOLEAN },
    [NP_TASK_DATE_COMPLETED] = { MAPI_PSETID_TASK, 0x810F, NULL, OP_PT_SYSTIME },
    [NP_EMAIL1_NAME] = { MAPI_PSETID_ADDRESS, 0x8080, NULL, OP_PT_UNICODE },
    [NP_EMAIL1_TYPE] = { MAPI_PSETID_ADDRESS, 0x8082, NULL, OP_PT_UNICODE },
    [NP_EMAIL1_ADDR] = { MAPI_PSETID_ADDRESS, 0x8083, NULL, OP_PT_UNICODE },
    [NP_EMAIL2_ADDR] = { MAPI_PSETID_ADDRESS, 0x8093, NULL, OP_PT_UNICODE },
    [NP_EMAIL3_ADDR] = { MAPI_PSETID_ADDRESS, 0x80A3, NULL, OP_PT_UNICODE },
    [NP_FILE_UNDER] = { MAPI_PSETID_ADDRESS, 0x8005, NULL, OP_PT_UNICODE },
    [NP_KEYWORDS] = { MAPI_PS_PUBLIC_STRINGS, 0, "Keywords", OP_MV_FLAG | OP_PT_UNICODE },
    [NP_NOTE_COLOR] = { MAPI_PSETID_NOTE, 0x8B00, NULL, OP_PT_LONG },
};

int mapi_ctx_init(mapi_ctx *c, const uint8_t guid[16], mapi_names *names)
{
    memset(c, 0, sizeof *c);
    memcpy(c->guid, guid, 16);
    c->names = names;
    for (int i = 0; i < NP_COUNT; i++) {
        uint16_t id;
        int rc = NP_DEFS[i].name ? mapi_names_string(names, NP_DEFS[i].guid, NP_DEFS[i].name, &id)
                                 : mapi_names_lid(names, NP_DEFS[i].guid, NP_DEFS[i].lid, &id);
        if (rc != 0)
            return -1;
        c->np[i] = OP_PROP_TAG(NP_DEFS[i].type, id);
    }
    return 0;
}

void mapi_message_free(mapi_message *m)
{
    mapi_props_free(&m->props);
    for (uint32_t i = 0; i < m->nrecips; i++)
        mapi_props_free(&m->recips[i]);
    free(m->recips);
    for (uint32_t i = 0; i < m->natts; i++)
        mapi_props_free(&m->atts[i].props);
    free(m->atts);
    memset(m, 0, sizeof *m);
}

static const char *const MSG_CLASS[] = { NULL, "IPM.Note", "IPM.Appointment", "IPM.Contact", "IPM.Task",
                                         "IPM.StickyNote" };
static const char *const CONT_CLASS[] = { NULL, "IPF.Note", "IPF.Appointment", "IPF.Contact", "IPF.Task",
                                          "IPF.StickyNote" };

const char *mapi_message_class(uint32_t kind)
{
    return kind >= 1 && kind <= 5 ? MSG_CLASS[kind] : NULL;
}

const char *mapi_container_class(uint32_t kind)
{
    return kind >= 1 && kind <= 5 ? CONT_CLASS[kind] : NULL;
}

static int class_is(const char *cls, const char *base)
{
    size_t n = strlen(base);
    return strncasecmp(cls, base, n) == 0 && (cls[n] == 0 || cls[n] == '.');
}

uint32_t mapi_kind_of_class(const char *cls)
{
    if (!cls)
        return 0;
    if (class_is(cls, "IPM.Appointment") || class_is(cls, "IPM.Schedule.Meeting"))
        return OUTPOST_ITEM_EVENT;
    if (class_is(cls, "IPM.Contact") || class_is(cls, "IPM.DistList"))
        return OUTPOST_ITEM_CONTACT;
    if (class_is(cls, "IPM.Task"))
        return OUTPOST_ITEM_TASK;
    if (class_is(cls, "IPM.StickyNote"))
        return OUTPOST_ITEM_NOTE;
    if (class_is(cls, "IPM") || class_is(cls, "REPORT"))
        return OUTPOST_ITEM_MAIL;
    return 0;
}

/* ---- addresses ---- */

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static char *trimdup(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t' || *s == '"')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '"'))
        n--;
    return dupn(s, n);
}

void mapi_split_address(const char *s, size_t len, char **name, char **addr)
{
    const char *lt = memchr(s, '<', len);
    const char *gt = lt ? memchr(lt, '>', len - (size_t)(lt - s)) : NULL;
    if (lt && gt) {
        *name = trimdup(s, (size_t)(lt - s));
        *addr = trimdup(lt + 1, (size_t)(gt - lt - 1));
    } else {
        *name = dupn("", 0);
        *addr = trimdup(s, len);
    }
}

/* Calls fn for each address of a comma-separated display list (commas
 * inside quotes do not split). */
static void each_address(const char *list, void (*fn)(void *ctx, const char *name, const char *addr), void *ctx)
{
    if (!list)
        return;
    const char *p = list;
    while (*p) {
        const char *start = p;
        int q = 0;
        while (*p && (q || *p != ',')) {
            if (*p == '"')
                q = !q;
            p++;
        }
        char *name, *addr;
        mapi_split_address(start, (size_t)(p - start), &name, &addr);
        if (name && addr && (*name || *addr))
            fn(ctx, name, addr);
        free(name);
        free(addr);
        if (*p == ',')
            p++;
    }
}

static void add_display(void *ctx, const char *name, const char *addr)
{
    mapi_buf *b = ctx;
    if (b->len)
        mapi_buf_adds(b, "; ");
    mapi_buf_adds(b, *name ? name : addr);
}

static int set_display_list(mapi_props *l, uint32_t tag, const char *list)
{
    mapi_buf b;
    mapi_buf_init(&b);
    each_address(list, add_display, &b);
    int rc = mapi_props_set_strn(l, tag, b.len ? (const char *)b.data : "", b.len);
    mapi_buf_free(&b);
    return rc;
}

/* UTF-8 -> UTF-16LE appended to b, with a terminating NUL. */
static void utf16z(mapi_buf *b, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    while (*u) {
        uint32_t cp;
        size_t n = 1;
        if (*u < 0x80) {
            cp = *u;
        } else if ((*u & 0xE0) == 0xC0 && (u[1] & 0xC0) == 0x80) {
            cp = ((uint32_t)(*u & 0x1F) << 6) | (u[1] & 0x3F);
            n = 2;
        } else if ((*u & 0xF0) == 0xE0 && (u[1] & 0xC0) == 0x80 && (u[2] & 0xC0) == 0x80) {
            cp = ((uint32_t)(*u & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
            n = 3;
        } else if ((*u & 0xF8) == 0xF0 && (u[1] & 0xC0) == 0x80 && (u[2] & 0xC0) == 0x80 && (u[3] & 0xC0) == 0x80) {
            cp = ((uint32_t)(*u & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) | ((uint32_t)(u[2] & 0x3F) << 6) |
                 (u[3] & 0x3F);
            n = 4;
        } else {
            cp = 0xFFFD;
        }
        u += n;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            uint16_t hi = (uint16_t)(0xD800 + (cp >> 10)), lo = (uint16_t)(0xDC00 + (cp & 0x3FF));
            mapi_buf_addc(b, (uint8_t)hi);
            mapi_buf_addc(b, (uint8_t)(hi >> 8));
            mapi_buf_addc(b, (uint8_t)lo);
            mapi_buf_addc(b, (uint8_t)(lo >> 8));
        } else {
            mapi_buf_addc(b, (uint8_t)cp);
            mapi_buf_addc(b, (uint8_t)(cp >> 8));
        }
    }
    mapi_buf_addc(b, 0);
    mapi_buf_addc(b, 0);
}

/* A one-off entry id (MS-OXCDATA 2.2.5.1) for an SMTP address, Unicode. */
static int set_oneoff(mapi_props *l, uint32_t tag, const char *name, const char *addr)
{
    static const uint8_t ONE_OFF_UID[16] = { 0x81, 0x2B, 0x1F, 0xA4, 0xBE, 0xA3, 0x10, 0x19,
                                             0x9D, 0x6E, 0x00, 0xDD, 0x01, 0x0F, 0x54, 0x02 };
    mapi_buf b;
    mapi_buf_init(&b);
    uint8_t flags[4] = { 0 };
    mapi_buf_add(&b, flags, 4);
    mapi_buf_add(&b, ONE_OFF_UID, 16);
    uint8_t ver_flags[4] = { 0, 0, 0x01, 0x80 }; /* version 0; MAPI_ONE_OFF_UNICODE | NO_RICH_INFO */
    mapi_buf_add(&b, ver_flags, 4);
    utf16z(&b, *name ? name : addr);
    utf16z(&b, "SMTP");
    utf16z(&b, addr);
    int rc = b.oom ? -1 : mapi_props_set_bin(l, tag, b.data, b.len);
    mapi_buf_free(&b);
    return rc;
}

static void set_sender(mapi_props *l, const char *name, const char *addr)
{
    const char *shown = (name && *name) ? name : addr;
    mapi_props_set_str(l, OP_PR_SENDER_NAME, shown);
    mapi_props_set_str(l, OP_PR_SENDER_EMAIL_ADDRESS, addr);
    mapi_props_set_str(l, OP_PR_SENDER_ADDRTYPE, "SMTP");
    mapi_props_set_str(l, OP_PR_SENT_REPRESENTING_NAME, shown);
    mapi_props_set_str(l, OP_PR_SENT_REPRESENTING_EMAIL_ADDRESS, addr);
    mapi_props_set_str(l, OP_PR_SENT_REPRESENTING_ADDRTYPE, "SMTP");
    set_oneoff(l, OP_PR_SENDER_ENTRYID, name ? name : "", addr);
    set_oneoff(l, OP_PR_SENT_REPRESENTING_ENTRYID, name ? name : "", addr);
    mapi_buf k;
    mapi_buf_init(&k);
    mapi_buf_adds(&k, "SMTP:");
    for (const char *p = addr; *p; p++)
        mapi_buf_addc(&k, (uint8_t)((*p >= 'a' && *p <= 'z') ? *p - 32 : *p));
    mapi_buf_addc(&k, 0);
    if (!k.oom) {
        mapi_props_set_bin(l, OP_PR_SENDER_SEARCH_KEY, k.data, k.len);
        mapi_props_set_bin(l, OP_PR_SENT_REPRESENTING_SEARCH_KEY, k.data, k.len);
    }
    mapi_buf_free(&k);
}

struct first_addr {
    char *name, *addr;
};

static void take_first(void *ctx, const char *name, const char *addr)
{
    struct first_addr *f = ctx;
    if (!f->addr) {
        f->name = strdup(name);
        f->addr = strdup(addr);
    }
}

/* ---- subject and keywords ---- */

static void set_subject(mapi_props *l, const char *subject)
{
    if (!subject)
        subject = "";
    mapi_props_set_str(l, OP_PR_SUBJECT, subject);
    /* A prefix is up to 3 characters followed by ": " (MS-OXCMSG 2.2.1.9). */
    const char *colon = strchr(subject, ':');
    size_t plen = 0;
    if (colon && colon - subject >= 1 && colon - subject <= 3 && colon[1] == ' ') {
        int alnum = 1;
        for (const char *p = subject; p < colon; p++)
            if (*p == ' ' || (unsigned char)*p < 0x20)
                alnum = 0;
        if (alnum)
            plen = (size_t)(colon - subject) + 2;
    }
    mapi_props_set_strn(l, OP_PR_SUBJECT_PREFIX, subject, plen);
    mapi_props_set_str(l, OP_PR_NORMALIZED_SUBJECT, subject + plen);
    mapi_props_set_str(l, OP_PR_CONVERSATION_TOPIC, subject + plen);
}

/* IMAP keywords (space-separated) -> Keywords (categories); system
 * keywords ($Forwarded, ...) are not categories. */
static void set_keywords(const mapi_ctx *c, mapi_props *l, const char *kw)
{
    if (!kw)
        return;
    const char *v[64];
    char *copy = strdup(kw);
    uint32_t n = 0;
    if (!copy)
        return;
    for (char *save = NULL, *t = strtok_r(copy, " ", &save); t && n < 64; t = strtok_r(NULL, " ", &save))
        if (t[0] != '$' && t[0] != '\\')
            v[n++] = t;
    if (n)
        mapi_props_set_mvstr(l, c->np[NP_KEYWORDS], v, n);
    free(copy);
}

static int32_t clamp32(uint64_t v)
{
    return v > INT32_MAX ? INT32_MAX : (int32_t)v;
}

const uint32_t MAPI_LISTED_TAGS[MAPI_NLISTED_TAGS] = {
    OP_PR_MESSAGE_DELIVERY_TIME, OP_PR_CLIENT_SUBMIT_TIME, OP_PR_LAST_MODIFICATION_TIME, OP_PR_CREATION_TIME,
    OP_PR_MESSAGE_FLAGS,         OP_PR_HASATTACH,          OP_PR_MESSAGE_SIZE,           OP_PR_IMPORTANCE,
    OP_PR_PRIORITY,              OP_PR_SENSITIVITY,        OP_PR_INTERNET_MESSAGE_ID,    OP_PR_FLAG_STATUS
};

void mapi_map_listed(const outpost_item *it, mapi_props *l)
{
    int64_t delivered = it->internal_date ? it->internal_date : it->date;
    mapi_props_set_i8(l, OP_PR_MESSAGE_DELIVERY_TIME, mapi_filetime_from_ms(delivered));
    mapi_props_set_i8(l, OP_PR_CLIENT_SUBMIT_TIME, mapi_filetime_from_ms(it->date ? it->date : delivered));
    mapi_props_set_i8(l, OP_PR_CREATION_TIME, mapi_filetime_from_ms(delivered));
    mapi_props_set_i8(l, OP_PR_LAST_MODIFICATION_TIME, mapi_filetime_from_ms(delivered));
    uint32_t mf = 0;
    if (it->flags & OUTPOST_FLAG_SEEN)
        mf |= OP_MSGFLAG_READ;
    if (it->flags & OUTPOST_FLAG_DRAFT)
        mf |= OP_MSGFLAG_UNSENT;
    int hasatt = it->bodystructure && strstr(it->bodystructure, "\"attachment\"") != NULL;
    if (hasatt)
        mf |= OP_MSGFLAG_HASATTACH;
    mapi_props_set_long(l, OP_PR_MESSAGE_FLAGS, (int32_t)mf);
    mapi_props_set_bool(l, OP_PR_HASATTACH, hasatt);
    mapi_props_set_long(l, OP_PR_MESSAGE_SIZE, clamp32(it->size));
    mapi_props_set_long(l, OP_PR_IMPORTANCE, 1);
    mapi_props_set_long(l, OP_PR_PRIORITY, 0);
    mapi_props_set_long(l, OP_PR_SENSITIVITY, 0);
    mapi_props_set_str(l, OP_PR_INTERNET_MESSAGE_ID, it->message_id);
    if (it->flags & OUTPOST_FLAG_FLAGGED)
        mapi_props_set_long(l, OP_PR_FLAG_STATUS, 2); /* followupFlagged */
}

int mapi_map_summary(const mapi_ctx *c, const outpost_item *it, mapi_props *l)
{
    const char *cls = mapi_message_class(it->kind);
    mapi_props_set_str(l, OP_PR_MESSAGE_CLASS, cls ? cls : "IPM.Note");
    set_subject(l, it->subject);
    if (it->kind == OUTPOST_ITEM_MAIL || it->from) {
        struct first_addr f = { 0 };
        each_address(it->from, take_first, &f);
        if (f.addr)
            set_sender(l, f.name, f.addr);
        free(f.name);
        free(f.addr);
    }
    if (it->kind == OUTPOST_ITEM_MAIL) {
        set_display_list(l, OP_PR_DISPLAY_TO, it->to);
        set_display_list(l, OP_PR_DISPLAY_CC, it->cc);
        mapi_props_set_str(l, OP_PR_DISPLAY_BCC, "");
    }
    mapi_map_listed(it, l);
    set_keywords(c, l, it->keywords);
    return 0;
}

/* ---- mail content (GMime) ---- */

struct mime_walk {
    const mapi_ctx *c;
    mapi_message *m;
    int bodies;
    GMimePart *text, *html;
};

/* The decoded content of a part, converted to UTF-8 when `text`. */
static GByteArray *part_bytes(GMimePart *part, int text)
{
    GMimeDataWrapper *dw = g_mime_part_get_content(part);
    if (!dw)
        return NULL;
    GMimeStream *mem = g_mime_stream_mem_new();
    GMimeStream *out = mem;
    const char *cs = text ? g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset") : NULL;
    if (cs && g_ascii_strcasecmp(cs, "utf-8") != 0 && g_ascii_strcasecmp(cs, "us-ascii") != 0) {
        GMimeFilter *f = g_mime_filter_charset_new(cs, "utf-8");
        if (f) {
            out = g_mime_stream_filter_new(mem);
            g_mime_stream_filter_add(GMIME_STREAM_FILTER(out), f);
            g_object_unref(f);
        }
    }
    g_mime_data_wrapper_write_to_stream(dw, out);
    g_mime_stream_flush(out);
    GByteArray *ba = g_byte_array_new();
    GByteArray *src = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    g_byte_array_append(ba, src->data, src->len);
    if (out != mem)
        g_object_unref(out);
    g_object_unref(mem);
    return ba;
}

static void add_attachment(struct mime_walk *w, GMimePart *part)
{
    mapi_message *m = w->m;
    mapi_attach *na = realloc(m->atts, (m->natts + 1) * sizeof *na);
    if (!na)
        return;
    m->atts = na;
    mapi_attach *a = &m->atts[m->natts++];
    memset(a, 0, sizeof *a);
    a->num = m->next_att++;
    mapi_props *l = &a->props;
    mapi_props_set_long(l, OP_PR_ATTACH_NUM, (int32_t)a->num);
    mapi_props_set_long(l, OP_PR_ATTACH_METHOD, OP_ATTACH_BY_VALUE);
    mapi_props_set_long(l, OP_PR_OBJECT_TYPE, OP_MAPI_ATTACH);
    mapi_props_set_long(l, OP_PR_RENDERING_POSITION, -1);
    const char *fn = g_mime_part_get_filename(part);
    GMimeContentType *ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
    char *mime = ct ? g_mime_content_type_get_mime_type(ct) : NULL;
    if (!fn)
        fn = "attachment";
    mapi_props_set_str(l, OP_PR_ATTACH_LONG_FILENAME, fn);
    mapi_props_set_str(l, OP_PR_ATTACH_FILENAME, fn);
    mapi_props_set_str(l, OP_PR_DISPLAY_NAME, fn);
    const char *dot = strrchr(fn, '.');
    if (dot)
        mapi_props_set_str(l, OP_PR_ATTACH_EXTENSION, dot);
    if (mime)
        mapi_props_set_str(l, OP_PR_ATTACH_MIME_TAG, mime);
    g_free(mime);
    const char *cid = g_mime_object_get_content_id(GMIME_OBJECT(part));
    if (cid) {
        mapi_props_set_str(l, OP_PR_ATTACH_CONTENT_ID, cid);
        mapi_props_set_bool(l, OP_PR_ATTACHMENT_HIDDEN, !g_mime_part_is_attachment(part));
    } else {
        mapi_props_set_bool(l, OP_PR_ATTACHMENT_HIDDEN, 0);
    }
    GByteArray *ba = part_bytes(part, 0);
    uint32_t size = ba ? ba->len : 0;
    mapi_props_set_long(l, OP_PR_ATTACH_SIZE, (int32_t)size);
    if (ba && w->bodies)
        mapi_props_set_bin(l, OP_PR_ATTACH_DATA_BIN, ba->data, ba->len);
    if (ba)
        g_byte_array_free(ba, TRUE);
}

static void walk_part(GMimeObject *parent, GMimeObject *obj, gpointer data)
{
    (void)parent;
    struct mime_walk *w = data;
    if (GMIME_IS_MESSAGE_PART(obj) || !GMIME_IS_PART(obj))
        return;
    GMimePart *part = GMIME_PART(obj);
    GMimeContentType *ct = g_mime_object_get_content_type(obj);
    int attachment = g_mime_part_is_attachment(part);
    if (!attachment && ct && g_mime_content_type_is_type(ct, "text", "plain") && !w->text) {
        w->text = part;
        return;
    }
    if (!attachment && ct && g_mime_content_type_is_type(ct, "text", "html") && !w->html) {
        w->html = part;
        return;
    }
    add_attachment(w, part);
}

struct recip_ctx {
    mapi_message *m;
    uint32_t type;
};

static void add_recip(mapi_message *m, uint32_t type, const char *name, const char *addr)
{
    mapi_props *nr = realloc(m->recips, (m->nrecips + 1) * sizeof *nr);
    if (!nr)
        return;
    m->recips = nr;
    mapi_props *r = &m->recips[m->nrecips];
    mapi_props_init(r);
    mapi_props_set_long(r, OP_PR_ROWID, (int32_t)m->nrecips);
    mapi_props_set_long(r, OP_PR_RECIPIENT_TYPE, (int32_t)type);
    mapi_props_set_str(r, OP_PR_DISPLAY_NAME, (name && *name) ? name : addr);
    mapi_props_set_str(r, OP_PR_EMAIL_ADDRESS, addr);
    mapi_props_set_str(r, OP_PR_ADDRTYPE, "SMTP");
    mapi_props_set_str(r, 0x39FE001Fu /* PR_SMTP_ADDRESS */, addr);
    mapi_props_set_long(r, OP_PR_OBJECT_TYPE, OP_MAPI_MAILUSER);
    mapi_props_set_long(r, OP_PR_DISPLAY_TYPE, 0);
    set_oneoff(r, OP_PR_ENTRYID, name ? name : "", addr);
    m->nrecips++;
}

static void add_list(mapi_message *m, InternetAddressList *list, uint32_t type, mapi_buf *display)
{
    int n = list ? internet_address_list_length(list) : 0;
    for (int i = 0; i < n; i++) {
        InternetAddress *ia = internet_address_list_get_address(list, i);
        if (!INTERNET_ADDRESS_IS_MAILBOX(ia))
            continue;
        const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
        const char *name = internet_address_get_name(ia);
        if (!addr)
            continue;
        add_recip(m, type, name, addr);
        if (display->len)
            mapi_buf_adds(display, "; ");
        mapi_buf_adds(display, name && *name ? name : addr);
    }
}

/* Plain text from HTML for a body Outlook shows when it asks for PR_BODY of
 * an HTML-only message: tags dropped, a few entities decoded. */
static char *html_to_text(const char *h, size_t n)
{
    mapi_buf b;
    mapi_buf_init(&b);
    int in_tag = 0, skip = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = h[i];
        if (in_tag) {
            if (ch == '>')
                in_tag = 0;
            continue;
        }
        if (ch == '<') {
            in_tag = 1;
            if (!strncasecmp(h + i, "<br", 3) || !strncasecmp(h + i, "</p", 3) || !strncasecmp(h + i, "</div", 5))
                mapi_buf_addc(&b, '\n');
            if (!strncasecmp(h + i, "<style", 6) || !strncasecmp(h + i, "<script", 7))
                skip = 1;
            if (!strncasecmp(h + i, "</style", 7) || !strncasecmp(h + i, "</script", 8))
                skip = 0;
            continue;
        }
        if (skip)
            continue;
        if (ch == '&') {
            static const struct { const char *e; char c; } ents[] = {
                { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&nbsp;", ' ' }, { "&#39;", '\'' }
            };
            size_t k;
            for (k = 0; k < sizeof ents / sizeof ents[0]; k++) {
                size_t el = strlen(ents[k].e);
                if (i + el <= n && !strncasecmp(h + i, ents[k].e, el)) {
                    mapi_buf_addc(&b, (uint8_t)ents[k].c);
                    i += el - 1;
                    break;
                }
            }
            if (k < sizeof ents / sizeof ents[0])
                continue;
        }
        if (ch == '\r')
            continue;
        mapi_buf_addc(&b, (uint8_t)ch);
    }
    return mapi_buf_steal(&b, NULL);
}

static void set_bodies(mapi_props *l, const char *text, size_t tlen, const char *html, size_t hlen)
{
    char *derived = NULL;
    if (!text && html) {
        derived = html_to_text(html, hlen);
        text = derived;
        tlen = derived ? strlen(derived) : 0;
    }
    if (text)
        mapi_props_set_strn(l, OP_PR_BODY, text, tlen);
    char *rtf = NULL;
    if (html) {
        mapi_props_set_bin(l, OP_PR_HTML, html, hlen);
        mapi_props_set_long(l, OP_PR_INTERNET_CPID, 65001);
        mapi_props_set_long(l, OP_PR_NATIVE_BODY_INFO, OP_NATIVE_BODY_HTML);
        rtf = mapi_rtf_from_html(html, hlen);
    } else if (text) {
        mapi_props_set_long(l, OP_PR_NATIVE_BODY_INFO, OP_NATIVE_BODY_PLAINTEXT);
        rtf = mapi_rtf_from_text(text, tlen);
    }
    if (rtf) {
        uint8_t *comp;
        size_t clen;
        if (mapi_rtf_compress((const uint8_t *)rtf, strlen(rtf), &comp, &clen) == 0) {
            mapi_props_set_bin(l, OP_PR_RTF_COMPRESSED, comp, clen);
            mapi_props_set_bool(l, OP_PR_RTF_IN_SYNC, 1);
            free(comp);
        }
        free(rtf);
    }
    free(derived);
}

/* The message GMime parses from content (NULL when it is not one). */
static GMimeMessage *parse_mail(const uint8_t *content, size_t len)
{
    GMimeStream *s = g_mime_stream_mem_new_with_buffer((const char *)content, len);
    GMimeParser *p = g_mime_parser_new_with_stream(s);
    GMimeMessage *msg = g_mime_parser_construct_message(p, NULL);
    g_object_unref(p);
    g_object_unref(s);
    return msg;
}

static int map_mail(const mapi_ctx *c, const uint8_t *content, size_t len, int bodies, mapi_message *m)
{
    (void)c;
    GMimeMessage *msg = parse_mail(content, len);
    if (!msg)
        return -1;
    mapi_props *l = &m->props;
    const char *subj = g_mime_message_get_subject(msg);
    if (subj)
        set_subject(l, subj);
    InternetAddressList *from = g_mime_message_get_from(msg);
    if (from && internet_address_list_length(from) > 0) {
        InternetAddress *ia = internet_address_list_get_address(from, 0);
        if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
            const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
            if (addr)
                set_sender(l, internet_address_get_name(ia), addr);
        }
    }
    mapi_buf to, cc, bcc;
    mapi_buf_init(&to);
    mapi_buf_init(&cc);
    mapi_buf_init(&bcc);
    add_list(m, g_mime_message_get_addresses(msg, GMIME_ADDRESS_TYPE_TO), OP_MAPI_TO, &to);
    add_list(m, g_mime_message_get_addresses(msg, GMIME_ADDRESS_TYPE_CC), OP_MAPI_CC, &cc);
    add_list(m, g_mime_message_get_addresses(msg, GMIME_ADDRESS_TYPE_BCC), OP_MAPI_BCC, &bcc);
    mapi_props_set_strn(l, OP_PR_DISPLAY_TO, to.len ? (char *)to.data : "", to.len);
    mapi_props_set_strn(l, OP_PR_DISPLAY_CC, cc.len ? (char *)cc.data : "", cc.len);
    mapi_props_set_strn(l, OP_PR_DISPLAY_BCC, bcc.len ? (char *)bcc.data : "", bcc.len);
    mapi_buf_free(&to);
    mapi_buf_free(&cc);
    mapi_buf_free(&bcc);
    GDateTime *d = g_mime_message_get_date(msg);
    if (d)
        mapi_props_set_i8(l, OP_PR_CLIENT_SUBMIT_TIME, mapi_filetime_from_ms(g_date_time_to_unix(d) * 1000));
    const char *mid = g_mime_message_get_message_id(msg);
    if (mid) {
        char *bracketed = g_strdup_printf("<%s>", mid);
        mapi_props_set_str(l, OP_PR_INTERNET_MESSAGE_ID, bracketed);
        g_free(bracketed);
    }
    char *hdrs = g_mime_object_get_headers(GMIME_OBJECT(msg), NULL);
    if (hdrs) {
        mapi_props_set_str(l, OP_PR_TRANSPORT_MESSAGE_HEADERS, hdrs);
        g_free(hdrs);
    }
    struct mime_walk w = { c, m, bodies, NULL, NULL };
    if (GMIME_IS_PART(g_mime_message_get_mime_part(msg)))
        walk_part(NULL, g_mime_message_get_mime_part(msg), &w);
    else
        g_mime_message_foreach(msg, walk_part, &w);
    if (bodies) {
        GByteArray *t = w.text ? part_bytes(w.text, 1) : NULL;
        GByteArray *h = w.html ? part_bytes(w.html, 1) : NULL;
        set_bodies(l, t ? (const char *)t->data : NULL, t ? t->len : 0, h ? (const char *)h->data : NULL,
                   h ? h->len : 0);
        if (t)
            g_byte_array_free(t, TRUE);
        if (h)
            g_byte_array_free(h, TRUE);
    }
    int visible = 0;
    for (uint32_t i = 0; i < m->natts; i++)
        if (!mapi_props_long(&m->atts[i].props, OP_PR_ATTACHMENT_HIDDEN, 0))
            visible = 1;
    int32_t mf = mapi_props_long(l, OP_PR_MESSAGE_FLAGS, 0);
    mf = visible ? (mf | (int32_t)OP_MSGFLAG_HASATTACH) : (mf & ~(int32_t)OP_MSGFLAG_HASATTACH);
    mapi_props_set_long(l, OP_PR_MESSAGE_FLAGS, mf);
    mapi_props_set_bool(l, OP_PR_HASATTACH, visible);
    g_object_unref(msg);
    return 0;
}

/* ---- iCalendar content (libical) ---- */

static int64_t ical_ms(icalproperty *p, struct icaltimetype t, int *is_date)
{
    *is_date = t.is_date;
    const icaltimezone *zone = t.zone;
    if (!zone && !icaltime_is_utc(t) && p) {
        icalparameter *tzp = icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER);
        if (tzp)
            zone = icaltimezone_get_builtin_timezone(icalparameter_get_tzid(tzp));
    }
    if (t.is_date)
        zone = icaltimezone_get_utc_timezone();
    return (int64_t)icaltime_as_timet_with_zone(t, zone ? zone : icaltimezone_get_utc_timezone()) * 1000;
}

static void set_time(mapi_props *l, uint32_t tag, int64_t ms)
{
    mapi_props_set_i8(l, tag, mapi_filetime_from_ms(ms));
}

static void ical_categories(const mapi_ctx *c, icalcomponent *comp, mapi_props *l)
{
    const char *v[64];
    uint32_t n = 0;
    char *buf[64];
    for (icalproperty *p = icalcomponent_get_first_property(comp, ICAL_CATEGORIES_PROPERTY); p && n < 64;
         p = icalcomponent_get_next_property(comp, ICAL_CATEGORIES_PROPERTY)) {
        const char *cats = icalproperty_get_categories(p);
        if (!cats)
            continue;
        char *copy = strdup(cats);
        if (!copy)
            continue;
        buf[n] = copy;
        char *save = NULL;
        uint32_t start = n;
        for (char *t = strtok_r(copy, ",", &save); t && n < 64; t = strtok_r(NULL, ",", &save))
            v[n++] = t;
        if (n == start)
            free(copy);
        else
            for (uint32_t k = start + 1; k < n; k++)
                buf[k] = NULL;
    }
    if (n)
        mapi_props_set_mvstr(l, c->np[NP_KEYWORDS], v, n);
    for (uint32_t k = 0; k < n; k++)
        free(buf[k]);
}

static icalcomponent *ical_find(icalcomponent *root, icalcomponent_kind kind)
{
    if (!root)
        return NULL;
    if (icalcomponent_isa(root) == kind)
        return root;
    return icalcomponent_get_first_component(root, kind);
}

static int map_ical(const mapi_ctx *c, uint32_t kind, const uint8_t *content, size_t len, int bodies, mapi_message *m)
{
    char *s = dupn((const char *)content, len);
    if (!s)
        return -1;
    icalcomponent *root = icalparser_parse_string(s);
    free(s);
    icalcomponent_kind want = kind == OUTPOST_ITEM_EVENT ? ICAL_VEVENT_COMPONENT
                              : kind == OUTPOST_ITEM_TASK ? ICAL_VTODO_COMPONENT
                                                          : ICAL_VJOURNAL_COMPONENT;
    icalcomponent *comp = ical_find(root, want);
    if (!comp) {
        if (root)
            icalcomponent_free(root);
        return -1;
    }
    mapi_props *l = &m->props;
    const char *summary = icalcomponent_get_summary(comp);
    set_subject(l, summary ? summary : "");
    const char *desc = icalcomponent_get_description(comp);
    if (bodies && desc)
        set_bodies(l, desc, strlen(desc), NULL, 0);
    ical_categories(c, comp, l);
    icalproperty *p;
    int is_date;
    if (kind == OUTPOST_ITEM_EVENT) {
        const char *loc = icalcomponent_get_location(comp);
        mapi_props_set_str(l, c->np[NP_LOCATION], loc ? loc : "");
        p = icalcomponent_get_first_property(comp, ICAL_DTSTART_PROPERTY);
        int64_t start = 0, end = 0;
        if (p) {
            start = ical_ms(p, icalcomponent_get_dtstart(comp), &is_date);
            struct icaltimetype te = icalcomponent_get_dtend(comp);
            icalproperty *pe = icalcomponent_get_first_property(comp, ICAL_DTEND_PROPERTY);
            int d2;
            end = icaltime_is_null_time(te) ? start + (is_date ? 86400000 : 0) : ical_ms(pe ? pe : p, te, &d2);
            set_time(l, c->np[NP_APPT_START], start);
            set_time(l, c->np[NP_APPT_END], end);
            set_time(l, c->np[NP_COMMON_START], start);
            set_time(l, c->np[NP_COMMON_END], end);
            mapi_props_set_bool(l, c->np[NP_ALL_DAY], is_date);
            mapi_props_set_long(l, c->np[NP_DURATION], (int32_t)((end - start) / 60000));
        }
        p = icalcomponent_get_first_property(comp, ICAL_TRANSP_PROPERTY);
        int free_time = p && icalproperty_get_transp(p) == ICAL_TRANSP_TRANSPARENT;
        mapi_props_set_long(l, c->np[NP_BUSY_STATUS], free_time ? 0 : 2);
        mapi_props_set_bool(l, c->np[NP_RECURRING], icalcomponent_get_first_property(comp, ICAL_RRULE_PROPERTY) != NULL);
        icalcomponent *alarm = icalcomponent_get_first_component(comp, ICAL_VALARM_COMPONENT);
        int reminder = 0;
        if (alarm && (p = icalcomponent_get_first_property(alarm, ICAL_TRIGGER_PROPERTY))) {
            struct icaltriggertype tr = icalproperty_get_trigger(p);
            if (icaltime_is_null_time(tr.time)) {
                int secs = icaldurationtype_as_int(tr.duration);
                mapi_props_set_long(l, c->np[NP_REMINDER_DELTA], secs < 0 ? -secs / 60 : 0);
                reminder = 1;
            }
        }
        mapi_props_set_bool(l, c->np[NP_REMINDER_SET], reminder);
    } else if (kind == OUTPOST_ITEM_TASK) {
        int32_t status = 0;
        double pct = 0;
        switch (icalcomponent_get_status(comp)) {
        case ICAL_STATUS_INPROCESS: status = 1; break;
        case ICAL_STATUS_COMPLETED: status = 2; pct = 1.0; break;
        case ICAL_STATUS_CANCELLED: status = 4; break;
        default: break;
        }
        if ((p = icalcomponent_get_first_property(comp, ICAL_PERCENTCOMPLETE_PROPERTY)))
            pct = icalproperty_get_percentcomplete(p) / 100.0;
        mapi_props_set_long(l, c->np[NP_TASK_STATUS], status);
        mapi_props_set_double(l, c->np[NP_TASK_PERCENT], pct);
        mapi_props_set_bool(l, c->np[NP_TASK_COMPLETE], status == 2);
        if ((p = icalcomponent_get_first_property(comp, ICAL_DTSTART_PROPERTY))) {
            int64_t t = ical_ms(p, icalproperty_get_dtstart(p), &is_date);
            set_time(l, c->np[NP_TASK_START], t);
            set_time(l, c->np[NP_COMMON_START], t);
        }
        if ((p = icalcomponent_get_first_property(comp, ICAL_DUE_PROPERTY))) {
            int64_t t = ical_ms(p, icalproperty_get_due(p), &is_date);
            set_time(l, c->np[NP_TASK_DUE], t);
            set_time(l, c->np[NP_COMMON_END], t);
        }
        if ((p = icalcomponent_get_first_property(comp, ICAL_COMPLETED_PROPERTY)))
            set_time(l, c->np[NP_TASK_DATE_COMPLETED], ical_ms(p, icalproperty_get_completed(p), &is_date));
    } else {
        int32_t color = 3; /* yellow */
        for (p = icalcomponent_get_first_property(comp, ICAL_X_PROPERTY); p;
             p = icalcomponent_get_next_property(comp, ICAL_X_PROPERTY))
            if (icalproperty_get_x_name(p) && !strcmp(icalproperty_get_x_name(p), "X-OUTPOST-NOTE-COLOR"))
                color = atoi(icalproperty_get_x(p));
        mapi_props_set_long(l, c->np[NP_NOTE_COLOR], color);
    }
    icalcomponent_free(root);
    return 0;
}

/* ---- vCard content ---- */

static int map_vcard(const mapi_ctx *c, const uint8_t *content, size_t len, int bodies, mapi_message *m)
{
    mapi_vcard v;
    if (mapi_vcard_parse((const char *)content, len, &v) != 0)
        return -1;
    mapi_props *l = &m->props;
    const char *fn = mapi_vcard_get(&v, "FN", NULL, 0);
    char *surname = mapi_vcard_field(&v, "N", 0), *given = mapi_vcard_field(&v, "N", 1),
         *middle = mapi_vcard_field(&v, "N", 2), *prefix = mapi_vcard_field(&v, "N", 3),
         *suffix = mapi_vcard_field(&v, "N", 4), *org = mapi_vcard_field(&v, "ORG", 0),
         *dept = mapi_vcard_field(&v, "ORG", 1);
    if (fn) {
        mapi_props_set_str(l, OP_PR_DISPLAY_NAME, fn);
        set_subject(l, fn);
    }
    if (surname && *surname) mapi_props_set_str(l, OP_PR_SURNAME, surname);
    if (given && *given) mapi_props_set_str(l, OP_PR_GIVEN_NAME, given);
    if (middle && *middle) mapi_props_set_str(l, OP_PR_MIDDLE_NAME, middle);
    if (prefix && *prefix) mapi_props_set_str(l, OP_PR_DISPLAY_NAME_PREFIX, prefix);
    if (suffix && *suffix) mapi_props_set_str(l, OP_PR_GENERATION, suffix);
    if (org && *org) mapi_props_set_str(l, OP_PR_COMPANY_NAME, org);
    if (dept && *dept) mapi_props_set_str(l, OP_PR_DEPARTMENT_NAME, dept);
    if (surname && *surname && given && *given) {
        char *fu = g_strdup_printf("%s, %s", surname, given);
        mapi_props_set_str(l, c->np[NP_FILE_UNDER], fu);
        g_free(fu);
    } else if (fn) {
        mapi_props_set_str(l, c->np[NP_FILE_UNDER], fn);
    }
    free(surname); free(given); free(middle); free(prefix); free(suffix); free(org); free(dept);
    const char *s;
    if ((s = mapi_vcard_get(&v, "TITLE", NULL, 0))) mapi_props_set_str(l, OP_PR_TITLE, s);
    if ((s = mapi_vcard_get(&v, "NICKNAME", NULL, 0))) mapi_props_set_str(l, OP_PR_NICKNAME, s);
    if ((s = mapi_vcard_get(&v, "TEL", "WORK", 0))) mapi_props_set_str(l, OP_PR_BUSINESS_TELEPHONE_NUMBER, s);
    if ((s = mapi_vcard_get(&v, "TEL", "HOME", 0))) mapi_props_set_str(l, OP_PR_HOME_TELEPHONE_NUMBER, s);
    if ((s = mapi_vcard_get(&v, "TEL", "CELL", 0))) mapi_props_set_str(l, OP_PR_MOBILE_TELEPHONE_NUMBER, s);
    static const int email_np[3] = { NP_EMAIL1_ADDR, NP_EMAIL2_ADDR, NP_EMAIL3_ADDR };
    for (int i = 0; i < 3; i++) {
        const char *e = mapi_vcard_get(&v, "EMAIL", NULL, i);
        if (!e)
            break;
        mapi_props_set_str(l, c->np[email_np[i]], e);
        if (i == 0) {
            mapi_props_set_str(l, c->np[NP_EMAIL1_TYPE], "SMTP");
            char *dn = g_strdup_printf("%s (%s)", fn ? fn : e, e);
            mapi_props_set_str(l, c->np[NP_EMAIL1_NAME], dn);
            g_free(dn);
        }
    }
    if ((s = mapi_vcard_get(&v, "BDAY", NULL, 0))) {
        int y, mo, d;
        if (sscanf(s, "%4d-%2d-%2d", &y, &mo, &d) == 3 || sscanf(s, "%4d%2d%2d", &y, &mo, &d) == 3) {
            GDateTime *dt = g_date_time_new_utc(y, mo, d, 0, 0, 0);
            if (dt) {
                set_time(l, OP_PR_BIRTHDAY, g_date_time_to_unix(dt) * 1000);
                g_date_time_unref(dt);
            }
        }
    }
    if (bodies && (s = mapi_vcard_get(&v, "NOTE", NULL, 0)))
        set_bodies(l, s, strlen(s), NULL, 0);
    if ((s = mapi_vcard_get(&v, "CATEGORIES", NULL, 0))) {
        char *copy = strdup(s);
        const char *vals[64];
        uint32_t n = 0;
        char *save = NULL;
        for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && n < 64; t = strtok_r(NULL, ",", &save))
            vals[n++] = t;
        if (n)
            mapi_props_set_mvstr(l, c->np[NP_KEYWORDS], vals, n);
        free(copy);
    }
    mapi_vcard_free(&v);
    return 0;
}

int mapi_map_content(const mapi_ctx *c, const outpost_item *it, const uint8_t *content, size_t len, int bodies,
                     mapi_message *out)
{
    memset(out, 0, sizeof *out);
    if (mapi_map_summary(c, it, &out->props) != 0)
        return -1;
    if (!content || len == 0)
        return 0;
    switch (it->kind) {
    case OUTPOST_ITEM_MAIL:
        return map_mail(c, content, len, bodies, out);
    case OUTPOST_ITEM_EVENT:
    case OUTPOST_ITEM_TASK:
    case OUTPOST_ITEM_NOTE:
        return map_ical(c, it->kind, content, len, bodies, out);
    case OUTPOST_ITEM_CONTACT:
        return map_vcard(c, content, len, bodies, out);
    default:
        return 0;
    }
}

/* ---- building content from what Outlook saved ---- */

/* The body as text and/or HTML: PR_HTML wins, then an RTF body that carries
 * HTML, then PR_BODY, then the text of RTF. Each result malloc'd or NULL. */
static void saved_bodies(const mapi_props *l, char **text, char **html)
{
    *text = NULL;
    *html = NULL;
    const mapi_val *h = mapi_props_bin(l, OP_PR_HTML);
    if (!h) {
        const mapi_prop *hs = mapi_props_find(l, OP_PR_HTML);
        if (hs && (OP_PROP_TYPE(hs->tag) == OP_PT_UNICODE || OP_PROP_TYPE(hs->tag) == OP_PT_STRING8))
            h = &hs->v;
    }
    if (h)
        *html = dupn((const char *)h->bin.data, h->bin.len);
    const char *b = mapi_props_str(l, OP_PR_BODY);
    if (b)
        *text = strdup(b);
    const mapi_val *r = mapi_props_bin(l, OP_PR_RTF_COMPRESSED);
    if (r && (!*html || !*text)) {
        uint8_t *raw;
        size_t rlen;
        char err[128];
        if (mapi_rtf_decompress(r->bin.data, r->bin.len, &raw, &rlen, err, sizeof err) == 0) {
            int kind;
            size_t xl;
            char *x = mapi_rtf_extract(raw, rlen, &kind, &xl);
            free(raw);
            if (x && kind == MAPI_RTF_HTML && !*html) {
                *html = x;
            } else if (x && kind != MAPI_RTF_HTML && !*text) {
                *text = x;
            } else {
                free(x);
            }
        }
    }
}

static GDateTime *gdt_from_ft(int64_t ft)
{
    return g_date_time_new_from_unix_utc(mapi_filetime_to_ms(ft) / 1000);
}

/* The From mailbox build_mail writes: the sender, else the one sent
 * representing; *name NULL when it equals the address. NULL: none. */
static const char *mail_from(const mapi_props *l, const char **name)
{
    const char *sa = mapi_props_str(l, OP_PR_SENDER_EMAIL_ADDRESS);
    const char *sn = mapi_props_str(l, OP_PR_SENDER_NAME);
    if (!sa) {
        sa = mapi_props_str(l, OP_PR_SENT_REPRESENTING_EMAIL_ADDRESS);
        sn = mapi_props_str(l, OP_PR_SENT_REPRESENTING_NAME);
    }
    *name = sn && sa && strcmp(sn, sa) ? sn : NULL;
    return sa && *sa ? sa : NULL;
}

/* A recipient row's address as build_mail writes it (NULL: skipped), its
 * shown name (NULL when it equals the address) and its type. */
static const char *recip_addr(const mapi_props *r, const char **name, int32_t *type)
{
    const char *addr = mapi_props_str(r, OP_PR_EMAIL_ADDRESS);
    const char *n = mapi_props_str(r, OP_PR_DISPLAY_NAME);
    if (!addr || !*addr)
        addr = mapi_props_str(r, 0x39FE001Fu /* PR_SMTP_ADDRESS */);
    *name = n && addr && strcmp(n, addr) ? n : NULL;
    *type = mapi_props_long(r, OP_PR_RECIPIENT_TYPE, OP_MAPI_TO);
    return addr && *addr ? addr : NULL;
}

/* An attachment's file name as build_mail writes it (NULL: none). */
static const char *attach_name(const mapi_props *a)
{
    const char *fn = mapi_props_str(a, OP_PR_ATTACH_LONG_FILENAME);
    if (!fn)
        fn = mapi_props_str(a, OP_PR_ATTACH_FILENAME);
    if (!fn)
        fn = mapi_props_str(a, OP_PR_DISPLAY_NAME);
    return fn;
}

/* The message build_mail writes, as a GMime message (NULL when out of memory). */
static GMimeMessage *mail_message(const mapi_message *m, int64_t now_ms)
{
    const mapi_props *l = &m->props;
    GMimeMessage *msg = g_mime_message_new(TRUE);
    const char *subj = mapi_props_str(l, OP_PR_SUBJECT);
    g_mime_message_set_subject(msg, subj ? subj : "", "utf-8");
    const char *sn, *sa = mail_from(l, &sn);
    if (sa)
        g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM, sn, sa);
    for (uint32_t i = 0; i < m->nrecips; i++) {
        const char *name;
        int32_t type;
        const char *addr = recip_addr(&m->recips[i], &name, &type);
        if (!addr)
            continue;
        GMimeAddressType at = type == OP_MAPI_CC ? GMIME_ADDRESS_TYPE_CC
                              : type == OP_MAPI_BCC ? GMIME_ADDRESS_TYPE_BCC
                                                    : GMIME_ADDRESS_TYPE_TO;
        g_mime_message_add_mailbox(msg, at, name, addr);
    }
    int64_t when = mapi_props_i8(l, OP_PR_CLIENT_SUBMIT_TIME, mapi_filetime_from_ms(now_ms));
    GDateTime *dt = gdt_from_ft(when);
    if (dt) {
        g_mime_message_set_date(msg, dt);
        g_date_time_unref(dt);
    }
    const char *mid = mapi_props_str(l, OP_PR_INTERNET_MESSAGE_ID);
    if (mid && *mid) {
        char *bare = g_strdup(mid[0] == '<' ? mid + 1 : mid);
        size_t bl = strlen(bare);
        if (bl && bare[bl - 1] == '>')
            bare[bl - 1] = 0;
        g_mime_message_set_message_id(msg, bare);
        g_free(bare);
    } else {
        char *id = g_mime_utils_generate_message_id("outpost.invalid");
        g_mime_message_set_message_id(msg, id);
        g_free(id);
    }
    char *text, *html;
    saved_bodies(l, &text, &html);
    GMimeObject *body = NULL;
    GMimeTextPart *tp = NULL, *hp = NULL;
    if (text || !html) {
        tp = g_mime_text_part_new_with_subtype("plain");
        g_mime_text_part_set_text(tp, text ? text : "");
    }
    if (html) {
        hp = g_mime_text_part_new_with_subtype("html");
        g_mime_text_part_set_text(hp, html);
    }
    if (tp && hp) {
        GMimeMultipart *alt = g_mime_multipart_new_with_subtype("alternative");
        g_mime_multipart_add(alt, GMIME_OBJECT(tp));
        g_mime_multipart_add(alt, GMIME_OBJECT(hp));
        g_object_unref(tp);
        g_object_unref(hp);
        body = GMIME_OBJECT(alt);
    } else {
        body = GMIME_OBJECT(tp ? tp : hp);
    }
    free(text);
    free(html);
    if (m->natts) {
        GMimeMultipart *mixed = g_mime_multipart_new_with_subtype("mixed");
        g_mime_multipart_add(mixed, body);
        g_object_unref(body);
        for (uint32_t i = 0; i < m->natts; i++) {
            const mapi_props *a = &m->atts[i].props;
            const mapi_val *data = mapi_props_bin(a, OP_PR_ATTACH_DATA_BIN);
            const char *fn = attach_name(a);
            const char *mt = mapi_props_str(a, OP_PR_ATTACH_MIME_TAG);
            GMimeContentType *ct = g_mime_content_type_parse(NULL, mt ? mt : "application/octet-stream");
            GMimePart *part = g_mime_part_new_with_type(ct ? g_mime_content_type_get_media_type(ct) : "application",
                                                        ct ? g_mime_content_type_get_media_subtype(ct) : "octet-stream");
            if (ct)
                g_object_unref(ct);
            if (fn)
                g_mime_part_set_filename(part, fn);
            const char *cid = mapi_props_str(a, OP_PR_ATTACH_CONTENT_ID);
            if (cid && *cid)
                g_mime_part_set_content_id(part, cid);
            GMimeStream *ms = g_mime_stream_mem_new_with_buffer(data ? (const char *)data->bin.data : "",
                                                                data ? data->bin.len : 0);
            GMimeDataWrapper *dw = g_mime_data_wrapper_new_with_stream(ms, GMIME_CONTENT_ENCODING_DEFAULT);
            g_mime_part_set_content(part, dw);
            g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_BASE64);
            g_object_unref(dw);
            g_object_unref(ms);
            g_mime_multipart_add(mixed, GMIME_OBJECT(part));
            g_object_unref(part);
        }
        body = GMIME_OBJECT(mixed);
    }
    g_mime_message_set_mime_part(msg, body);
    g_object_unref(body);
    return msg;
}

/* Writes msg as MIME with CRLF line ends into out. 0 or -1 with err. */
static int mail_write(GMimeMessage *msg, mapi_buf *out, char *err, size_t errlen)
{
    GMimeStream *os = g_mime_stream_mem_new();
    GMimeFormatOptions *fo = g_mime_format_options_clone(NULL);
    g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
    int rc = g_mime_object_write_to_stream(GMIME_OBJECT(msg), fo, os) < 0 ? -1 : 0;
    g_mime_format_options_free(fo);
    if (rc == 0) {
        GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(os));
        mapi_buf_add(out, ba->data, ba->len);
    } else {
        snprintf(err, errlen, "cannot write the message as MIME");
    }
    g_object_unref(os);
    return rc;
}

static int build_mail(const mapi_ctx *c, const mapi_message *m, int64_t now_ms, mapi_buf *out, char *err,
                      size_t errlen)
{
    (void)c;
    GMimeMessage *msg = mail_message(m, now_ms);
    int rc = mail_write(msg, out, err, errlen);
    g_object_unref(msg);
    return rc;
}

/* Set when a part of a message is one the mapping does not carry. */
static void find_message_part(GMimeObject *parent, GMimeObject *obj, gpointer data)
{
    (void)parent;
    if (GMIME_IS_MESSAGE_PART(obj))
        *(int *)data = 1;
}

/* Header fields build_mail writes (or, for recipients, leaves out when the
 * message has none) and the MIME structure's own: never taken over from
 * the original of an edited message. */
static int mail_owned_header(const char *name)
{
    static const char *const owned[] = { "From", "To", "Cc", "Bcc", "Subject", "Date", "Message-ID",
                                         "MIME-Version" };
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        if (!g_ascii_strcasecmp(name, owned[i]))
            return 1;
    return !g_ascii_strncasecmp(name, "Content-", 8);
}

int mapi_build_mail_edit(const mapi_ctx *c, const mapi_message *m, const uint8_t *orig, size_t orig_len,
                         int64_t now_ms, mapi_buf *out, char *err, size_t errlen)
{
    (void)c;
    GMimeMessage *old = parse_mail(orig, orig_len);
    if (!old) {
        snprintf(err, errlen, "the message's stored content is not MIME");
        return -1;
    }
    int nested = 0;
    if (GMIME_IS_MESSAGE_PART(g_mime_message_get_mime_part(old)))
        nested = 1;
    else
        g_mime_message_foreach(old, find_message_part, &nested);
    if (nested) {
        g_object_unref(old);
        snprintf(err, errlen, "the message holds an attached message, which the MAPI mapping does not carry");
        return -1;
    }
    GMimeMessage *msg = mail_message(m, now_ms);
    GMimeHeaderList *from = g_mime_object_get_header_list(GMIME_OBJECT(old));
    GMimeHeaderList *to = g_mime_object_get_header_list(GMIME_OBJECT(msg));
    /* as they were: raw (folded, encoded) values in their order, on top
     * (where trace fields such as Received belong) */
    for (int i = g_mime_header_list_get_count(from) - 1; i >= 0; i--) {
        GMimeHeader *hd = g_mime_header_list_get_header_at(from, i);
        const char *name = g_mime_header_get_name(hd);
        const char *raw = g_mime_header_get_raw_value(hd);
        if (!name || !raw || mail_owned_header(name))
            continue;
        g_mime_header_list_prepend(to, name, "", NULL);
        g_mime_header_set_raw_value(g_mime_header_list_get_header_at(to, 0), raw);
    }
    g_object_unref(old);
    int rc = mail_write(msg, out, err, errlen);
    g_object_unref(msg);
    if (rc == 0 && out->oom) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    return rc;
}

/* A field of mail_canon: u32 length + bytes; absent is 0xFFFFFFFF. */
static void canon_field(mapi_buf *b, const void *p, size_t len)
{
    uint32_t n = p ? (uint32_t)len : 0xFFFFFFFFu;
    mapi_buf_add(b, &n, sizeof n);
    if (p)
        mapi_buf_add(b, p, len);
}

static void canon_str(mapi_buf *b, const char *s)
{
    canon_field(b, s, s ? strlen(s) : 0);
}

/* Everything of m that build_mail writes, in one byte string. */
static void mail_canon(const mapi_message *m, mapi_buf *b)
{
    const mapi_props *l = &m->props;
    canon_str(b, mapi_props_str(l, OP_PR_SUBJECT));
    const char *sn, *sa = mail_from(l, &sn);
    canon_str(b, sa);
    canon_str(b, sa ? sn : NULL);
    for (uint32_t i = 0; i < m->nrecips; i++) {
        const char *name;
        int32_t type;
        const char *addr = recip_addr(&m->recips[i], &name, &type);
        if (!addr)
            continue;
        canon_field(b, &type, sizeof type);
        canon_str(b, addr);
        canon_str(b, name);
    }
    canon_str(b, "");
    const mapi_prop *t = mapi_props_find(l, OP_PR_CLIENT_SUBMIT_TIME);
    canon_field(b, t && t->tag == OP_PR_CLIENT_SUBMIT_TIME ? &t->v.ll : NULL, sizeof(int64_t));
    canon_str(b, mapi_props_str(l, OP_PR_INTERNET_MESSAGE_ID));
    char *text, *html;
    saved_bodies(l, &text, &html);
    canon_str(b, text);
    canon_str(b, html);
    free(text);
    free(html);
    for (uint32_t i = 0; i < m->natts; i++) {
        const mapi_props *a = &m->atts[i].props;
        const mapi_val *data = mapi_props_bin(a, OP_PR_ATTACH_DATA_BIN);
        canon_field(b, data ? data->bin.data : NULL, data ? data->bin.len : 0);
        canon_str(b, attach_name(a));
        canon_str(b, mapi_props_str(a, OP_PR_ATTACH_MIME_TAG));
        canon_str(b, mapi_props_str(a, OP_PR_ATTACH_CONTENT_ID));
    }
}

int mapi_mail_same_content(const mapi_message *a, const mapi_message *b)
{
    mapi_buf x, y;
    mapi_buf_init(&x);
    mapi_buf_init(&y);
    mail_canon(a, &x);
    mail_canon(b, &y);
    int same = !x.oom && !y.oom && x.len == y.len && (x.len == 0 || memcmp(x.data, y.data, x.len) == 0);
    if (x.oom || y.oom)
        same = -1;
    mapi_buf_free(&x);
    mapi_buf_free(&y);
    return same;
}

static struct icaltimetype ical_from_ft(int64_t ft, int is_date)
{
    int64_t ms = mapi_filetime_to_ms(ft);
    if (is_date)
        ms += 12 * 3600 * 1000; /* all-day values are local midnights: take the nearest date */
    return icaltime_from_timet_with_zone((time_t)(ms / 1000), is_date, icaltimezone_get_utc_timezone());
}

static int have(const mapi_props *l, uint32_t tag)
{
    const mapi_prop *p = mapi_props_find(l, tag);
    return p && OP_PROP_TYPE(p->tag) == OP_PROP_TYPE(tag);
}

static void ical_add_categories(const mapi_ctx *c, const mapi_props *l, icalcomponent *comp)
{
    const mapi_prop *k = mapi_props_find(l, c->np[NP_KEYWORDS]);
    if (!k || OP_PROP_TYPE(k->tag) != (OP_MV_FLAG | OP_PT_UNICODE) || !k->count)
        return;
    mapi_buf b;
    mapi_buf_init(&b);
    for (uint32_t i = 0; i < k->count; i++) {
        if (i)
            mapi_buf_addc(&b, ',');
        mapi_buf_add(&b, k->mv[i].bin.data, k->mv[i].bin.len);
    }
    char *s = mapi_buf_steal(&b, NULL);
    if (s)
        icalcomponent_add_property(comp, icalproperty_new_categories(s));
    free(s);
}

static int build_ical(const mapi_ctx *c, uint32_t kind, const mapi_message *m, const char *uid, int64_t now_ms,
                      mapi_buf *out, char *err, size_t errlen)
{
    const mapi_props *l = &m->props;
    icalcomponent *cal = icalcomponent_new(ICAL_VCALENDAR_COMPONENT);
    icalcomponent_add_property(cal, icalproperty_new_version("2.0"));
    icalcomponent_add_property(cal, icalproperty_new_prodid("-//Outpost//MAPI front-end//EN"));
    icalcomponent *comp = icalcomponent_new(kind == OUTPOST_ITEM_EVENT ? ICAL_VEVENT_COMPONENT
                                            : kind == OUTPOST_ITEM_TASK ? ICAL_VTODO_COMPONENT
                                                                        : ICAL_VJOURNAL_COMPONENT);
    char genuid[96];
    if (!uid) {
        static unsigned counter;
        snprintf(genuid, sizeof genuid, "outpost-%lld-%u-%p@outpost.invalid", (long long)now_ms, ++counter,
                 (const void *)m);
        uid = genuid;
    }
    icalcomponent_set_uid(comp, uid);
    icalcomponent_set_dtstamp(comp, icaltime_from_timet_with_zone((time_t)(now_ms / 1000), 0,
                                                                  icaltimezone_get_utc_timezone()));
    const char *subj = mapi_props_str(l, OP_PR_SUBJECT);
    icalcomponent_set_summary(comp, subj ? subj : "");
    char *text, *html;
    saved_bodies(l, &text, &html);
    if (!text && html)
        text = html_to_text(html, strlen(html));
    if (text && *text)
        icalcomponent_set_description(comp, text);
    free(text);
    free(html);
    ical_add_categories(c, l, comp);
    if (kind == OUTPOST_ITEM_EVENT) {
        uint32_t ts = have(l, c->np[NP_APPT_START]) ? c->np[NP_APPT_START] : c->np[NP_COMMON_START];
        uint32_t te = have(l, c->np[NP_APPT_END]) ? c->np[NP_APPT_END] : c->np[NP_COMMON_END];
        if (!have(l, ts)) {
            icalcomponent_free(comp);
            icalcomponent_free(cal);
            snprintf(err, errlen, "appointment without a start time");
            return -1;
        }
        int allday = mapi_props_long(l, c->np[NP_ALL_DAY], 0) != 0;
        int64_t s = mapi_props_i8(l, ts, 0);
        int64_t e = mapi_props_i8(l, te, s);
        icalcomponent_set_dtstart(comp, ical_from_ft(s, allday));
        icalcomponent_set_dtend(comp, ical_from_ft(e, allday));
        const char *loc = mapi_props_str(l, c->np[NP_LOCATION]);
        if (loc && *loc)
            icalcomponent_set_location(comp, loc);
        if (mapi_props_long(l, c->np[NP_BUSY_STATUS], 2) == 0)
            icalcomponent_add_property(comp, icalproperty_new_transp(ICAL_TRANSP_TRANSPARENT));
        if (mapi_props_long(l, c->np[NP_REMINDER_SET], 0)) {
            icalcomponent *al = icalcomponent_new(ICAL_VALARM_COMPONENT);
            struct icaltriggertype tr;
            memset(&tr, 0, sizeof tr);
            tr.time = icaltime_null_time();
            tr.duration = icaldurationtype_from_int(-60 * mapi_props_long(l, c->np[NP_REMINDER_DELTA], 15));
            icalcomponent_add_property(al, icalproperty_new_trigger(tr));
            icalcomponent_add_property(al, icalproperty_new_action(ICAL_ACTION_DISPLAY));
            icalcomponent_add_property(al, icalproperty_new_description("Reminder"));
            icalcomponent_add_component(comp, al);
        }
    } else if (kind == OUTPOST_ITEM_TASK) {
        int32_t status = mapi_props_long(l, c->np[NP_TASK_STATUS], 0);
        icalproperty_status st = status == 1 ? ICAL_STATUS_INPROCESS
                                 : status == 2 ? ICAL_STATUS_COMPLETED
                                 : status == 4 ? ICAL_STATUS_CANCELLED
                                               : ICAL_STATUS_NEEDSACTION;
        icalcomponent_set_status(comp, st);
        const mapi_prop *pct = mapi_props_find(l, c->np[NP_TASK_PERCENT]);
        if (pct && OP_PROP_TYPE(pct->tag) == OP_PT_DOUBLE)
            icalcomponent_add_property(comp, icalproperty_new_percentcomplete((int)(pct->v.d * 100 + 0.5)));
        if (have(l, c->np[NP_TASK_START]))
            icalcomponent_add_property(comp, icalproperty_new_dtstart(ical_from_ft(mapi_props_i8(l, c->np[NP_TASK_START], 0), 1)));
        if (have(l, c->np[NP_TASK_DUE]))
            icalcomponent_add_property(comp, icalproperty_new_due(ical_from_ft(mapi_props_i8(l, c->np[NP_TASK_DUE], 0), 1)));
        if (have(l, c->np[NP_TASK_DATE_COMPLETED]))
            icalcomponent_add_property(comp, icalproperty_new_completed(
                                                 ical_from_ft(mapi_props_i8(l, c->np[NP_TASK_DATE_COMPLETED], 0), 0)));
    } else {
        char color[16];
        snprintf(color, sizeof color, "%d", mapi_props_long(l, c->np[NP_NOTE_COLOR], 3));
        icalproperty *x = icalproperty_new_x(color);
        icalproperty_set_x_name(x, "X-OUTPOST-NOTE-COLOR");
        icalcomponent_add_property(comp, x);
    }
    icalcomponent_add_component(cal, comp);
    char *s = icalcomponent_as_ical_string_r(cal);
    icalcomponent_free(cal);
    if (!s) {
        snprintf(err, errlen, "cannot write iCalendar");
        return -1;
    }
    mapi_buf_adds(out, s);
    free(s);
    return 0;
}

static int build_vcard(const mapi_ctx *c, const mapi_message *m, const char *uid, int64_t now_ms, mapi_buf *out)
{
    const mapi_props *l = &m->props;
    mapi_vcard_writer w;
    mapi_vcard_begin(&w, out);
    char genuid[64];
    if (!uid) {
        static unsigned counter;
        snprintf(genuid, sizeof genuid, "outpost-%lld-%u", (long long)now_ms, ++counter);
        uid = genuid;
    }
    mapi_vcard_line(&w, "UID", NULL, uid);
    const char *fn = mapi_props_str(l, OP_PR_DISPLAY_NAME);
    if (!fn)
        fn = mapi_props_str(l, OP_PR_SUBJECT);
    mapi_vcard_line(&w, "FN", NULL, fn ? fn : "");
    const char *n[5] = { mapi_props_str(l, OP_PR_SURNAME), mapi_props_str(l, OP_PR_GIVEN_NAME),
                         mapi_props_str(l, OP_PR_MIDDLE_NAME), mapi_props_str(l, OP_PR_DISPLAY_NAME_PREFIX),
                         mapi_props_str(l, OP_PR_GENERATION) };
    mapi_vcard_structured(&w, "N", n, 5);
    const char *org[2] = { mapi_props_str(l, OP_PR_COMPANY_NAME), mapi_props_str(l, OP_PR_DEPARTMENT_NAME) };
    if (org[0] || org[1])
        mapi_vcard_structured(&w, "ORG", org, 2);
    const char *s;
    if ((s = mapi_props_str(l, OP_PR_TITLE))) mapi_vcard_line(&w, "TITLE", NULL, s);
    if ((s = mapi_props_str(l, OP_PR_NICKNAME))) mapi_vcard_line(&w, "NICKNAME", NULL, s);
    static const int email_np[3] = { NP_EMAIL1_ADDR, NP_EMAIL2_ADDR, NP_EMAIL3_ADDR };
    for (int i = 0; i < 3; i++)
        if ((s = mapi_props_str(l, c->np[email_np[i]])) && *s)
            mapi_vcard_line(&w, "EMAIL", "INTERNET", s);
    if ((s = mapi_props_str(l, OP_PR_BUSINESS_TELEPHONE_NUMBER))) mapi_vcard_line(&w, "TEL", "WORK", s);
    if ((s = mapi_props_str(l, OP_PR_HOME_TELEPHONE_NUMBER))) mapi_vcard_line(&w, "TEL", "HOME", s);
    if ((s = mapi_props_str(l, OP_PR_MOBILE_TELEPHONE_NUMBER))) mapi_vcard_line(&w, "TEL", "CELL", s);
    if (have(l, OP_PR_BIRTHDAY)) {
        int64_t ms = mapi_filetime_to_ms(mapi_props_i8(l, OP_PR_BIRTHDAY, 0)) + 12 * 3600 * 1000;
        GDateTime *dt = g_date_time_new_from_unix_utc(ms / 1000);
        if (dt) {
            char *d = g_date_time_format(dt, "%Y-%m-%d");
            mapi_vcard_line(&w, "BDAY", NULL, d);
            g_free(d);
            g_date_time_unref(dt);
        }
    }
    char *text, *html;
    saved_bodies(l, &text, &html);
    if (text && *text)
        mapi_vcard_line(&w, "NOTE", NULL, text);
    free(text);
    free(html);
    const mapi_prop *k = mapi_props_find(l, c->np[NP_KEYWORDS]);
    if (k && OP_PROP_TYPE(k->tag) == (OP_MV_FLAG | OP_PT_UNICODE) && k->count) {
        const char *vals[64];
        uint32_t nv = k->count < 64 ? k->count : 64;
        for (uint32_t i = 0; i < nv; i++)
            vals[i] = (const char *)k->mv[i].bin.data;
        mapi_vcard_list(&w, "CATEGORIES", vals, nv);
    }
    mapi_vcard_end(&w);
    return out->oom ? -1 : 0;
}

int mapi_build_content(const mapi_ctx *c, uint32_t kind, const mapi_message *m, const char *uid, int64_t now_ms,
                       mapi_buf *out, char *err, size_t errlen)
{
    int rc;
    switch (kind) {
    case OUTPOST_ITEM_MAIL:
        rc = build_mail(c, m, now_ms, out, err, errlen);
        break;
    case OUTPOST_ITEM_EVENT:
    case OUTPOST_ITEM_TASK:
    case OUTPOST_ITEM_NOTE:
        rc = build_ical(c, kind, m, uid, now_ms, out, err, errlen);
        break;
    case OUTPOST_ITEM_CONTACT:
        rc = build_vcard(c, m, uid, now_ms, out);
        if (rc)
            snprintf(err, errlen, "out of memory writing the vCard");
        break;
    default:
        snprintf(err, errlen, "unknown item kind %u", kind);
        return -1;
    }
    if (rc == 0 && out->oom) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return rc;
}
