/* One item element of an EWS reply (Message, CalendarItem, Contact, Task, ...) read into a
 * flat struct; MimeContent is base64-decoded as it arrives and handed to a callback in
 * chunks, never kept. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ews.h"

static int text(struct ews_reader *r, char **slot)
{
    char *v;
    if (ews_reader_text(r, &v))
        return -1;
    free(*slot);
    *slot = v;
    return 0;
}

static int text_time(struct ews_reader *r, int64_t *t)
{
    char *v = NULL;
    if (text(r, &v))
        return -1;
    if (ews_parse_time(v, t))
        *t = 0;
    free(v);
    return 0;
}

static int text_int(struct ews_reader *r, int *out)
{
    char *v = NULL;
    if (text(r, &v))
        return -1;
    *out = atoi(v);
    free(v);
    return 0;
}

/* Walks the subtree of the current element, calling `each` for every element start. */
static int walk(struct ews_reader *r, int (*each)(struct ews_reader *r, const char *name, void *ctx), void *ctx)
{
    if (ews_reader_is_empty(r))
        return 0;
    int depth = ews_reader_depth(r);
    for (;;) {
        int rc = ews_reader_step(r, depth);
        if (rc < 0)
            return -1;
        if (rc == 0)
            return 0;
        if (rc == 1 && each(r, ews_reader_name(r), ctx))
            return -1;
    }
}

static int from_each(struct ews_reader *r, const char *name, void *ctx)
{
    struct ews_item *it = ctx;
    if (!strcmp(name, "Name"))
        return text(r, &it->from_name);
    if (!strcmp(name, "EmailAddress"))
        return text(r, &it->from_addr);
    return 0;
}

static int flag_each(struct ews_reader *r, const char *name, void *ctx)
{
    struct ews_item *it = ctx;
    if (strcmp(name, "FlagStatus") != 0)
        return 0;
    char *v = NULL;
    if (text(r, &v))
        return -1;
    it->flag_status = ews_flag_status(v);
    free(v);
    return 0;
}

struct ext { char *tag, *pname, *value; };

static int ext_each(struct ews_reader *r, const char *name, void *ctx)
{
    struct ext *x = ctx;
    if (!strcmp(name, "ExtendedFieldURI")) {
        free(x->tag);
        free(x->pname);
        x->tag = ews_reader_attr(r, "PropertyTag");
        x->pname = ews_reader_attr(r, "PropertyName");
        return ews_reader_skip(r);
    }
    if (!strcmp(name, "Value"))
        return text(r, &x->value);
    return 0;
}

static int rec_each(struct ews_reader *r, const char *name, void *ctx)
{
    struct ews_item *it = ctx;
    if (strstr(name, "Recurrence") && strcmp(name, "NumberedRecurrence") && strcmp(name, "EndDateRecurrence") &&
        strcmp(name, "NoEndRecurrence")) {
        free(it->rec_pattern);
        it->rec_pattern = strdup(name);
        return 0;
    }
    if (!strcmp(name, "Interval"))
        return text_int(r, &it->rec_interval);
    if (!strcmp(name, "DaysOfWeek"))
        return text(r, &it->rec_days);
    if (!strcmp(name, "DayOfMonth"))
        return text_int(r, &it->rec_day_of_month);
    if (!strcmp(name, "Month"))
        return text(r, &it->rec_month);
    if (!strcmp(name, "StartDate"))
        return text_time(r, &it->rec_start);
    if (!strcmp(name, "EndDate"))
        return text_time(r, &it->rec_end);
    if (!strcmp(name, "NumberOfOccurrences"))
        return text_int(r, &it->rec_count);
    return 0;
}

static int occ_each(struct ews_reader *r, const char *name, void *ctx)
{
    struct ews_item *it = ctx;
    if (!strcmp(name, "Occurrence")) {
        if (it->nocc < (int)(sizeof it->occ / sizeof *it->occ))
            memset(&it->occ[it->nocc++], 0, sizeof it->occ[0]);
        return 0;
    }
    if (!it->nocc)
        return 0;
    struct ews_occ *o = &it->occ[it->nocc - 1];
    if (!strcmp(name, "Start"))
        return text_time(r, &o->start);
    if (!strcmp(name, "End"))
        return text_time(r, &o->end);
    if (!strcmp(name, "OriginalStart"))
        return text_time(r, &o->orig);
    return 0;
}

static int del_each(struct ews_reader *r, const char *name, void *ctx)
{
    struct ews_item *it = ctx;
    if (strcmp(name, "Start") != 0)
        return 0;
    int64_t t = 0;
    if (text_time(r, &t))
        return -1;
    if (it->ndeleted < (int)(sizeof it->deleted / sizeof *it->deleted))
        it->deleted[it->ndeleted++] = t;
    return 0;
}

static int entry_each(struct ews_reader *r, const char *name, void *ctx)
{
    struct ews_item *it = ctx;
    if (strcmp(name, "Entry") != 0)
        return 0;
    char *key = ews_reader_attr(r, "Key");
    char **slot = NULL;
    if (key && !strncmp(key, "EmailAddress", 12) && key[12] >= '1' && key[12] <= '3' && !key[13])
        slot = &it->email[key[12] - '1'];
    else if (key && !strcmp(key, "BusinessPhone"))
        slot = &it->phone_business;
    else if (key && !strcmp(key, "MobilePhone"))
        slot = &it->phone_mobile;
    else if (key && !strcmp(key, "HomePhone"))
        slot = &it->phone_home;
    free(key);
    return slot ? text(r, slot) : ews_reader_skip(r);
}

/* Item properties that are one text element directly under the item, and where they go. */
enum leaf_type { L_STR, L_TIME, L_INT, L_BOOL, L_U64 };
static const struct {
    const char *name;
    enum leaf_type type;
    size_t off;
} leaves[] = {
    {"ItemClass", L_STR, offsetof(struct ews_item, item_class)},
    {"Subject", L_STR, offsetof(struct ews_item, subject)},
    {"Body", L_STR, offsetof(struct ews_item, body)},
    {"DateTimeReceived", L_TIME, offsetof(struct ews_item, received)},
    {"DateTimeSent", L_TIME, offsetof(struct ews_item, sent)},
    {"LastModifiedTime", L_TIME, offsetof(struct ews_item, modified)},
    {"Size", L_U64, offsetof(struct ews_item, size)},
    {"IsDraft", L_BOOL, offsetof(struct ews_item, is_draft)},
    {"IsRead", L_BOOL, offsetof(struct ews_item, is_read)},
    {"InternetMessageId", L_STR, offsetof(struct ews_item, msgid)},
    {"UID", L_STR, offsetof(struct ews_item, uid)},
    {"Start", L_TIME, offsetof(struct ews_item, start)},
    {"End", L_TIME, offsetof(struct ews_item, end)},
    {"IsAllDayEvent", L_BOOL, offsetof(struct ews_item, all_day)},
    {"Location", L_STR, offsetof(struct ews_item, location)},
    {"DisplayName", L_STR, offsetof(struct ews_item, display)},
    {"GivenName", L_STR, offsetof(struct ews_item, given)},
    {"Surname", L_STR, offsetof(struct ews_item, surname)},
    {"CompanyName", L_STR, offsetof(struct ews_item, company)},
    {"JobTitle", L_STR, offsetof(struct ews_item, job)},
    {"Birthday", L_STR, offsetof(struct ews_item, birthday)},
    {"Status", L_STR, offsetof(struct ews_item, status)},
    {"PercentComplete", L_INT, offsetof(struct ews_item, percent)},
    {"DueDate", L_TIME, offsetof(struct ews_item, due)},
    {"StartDate", L_TIME, offsetof(struct ews_item, start)},
    {"CompleteDate", L_TIME, offsetof(struct ews_item, completed)},
};

int ews_item_leaf_index(const char *name)
{
    for (size_t i = 0; i < sizeof leaves / sizeof *leaves; i++)
        if (!strcmp(name, leaves[i].name))
            return (int)i;
    return -1;
}

void ews_item_set_leaf(struct ews_item *it, int leaf, const char *v)
{
    char *base = (char *)it + leaves[leaf].off;
    switch (leaves[leaf].type) {
    case L_STR: {
        char **slot = (char **)(void *)base;
        free(*slot);
        *slot = strdup(v);
        break;
    }
    case L_TIME:
        if (ews_parse_time(v, (int64_t *)(void *)base))
            *(int64_t *)(void *)base = 0;
        break;
    case L_INT:
        *(int *)(void *)base = atoi(v);
        break;
    case L_BOOL:
        *(int *)(void *)base = ews_xs_bool(v);
        if (leaves[leaf].off == offsetof(struct ews_item, is_read))
            it->has_is_read = 1;
        break;
    case L_U64:
        *(uint64_t *)(void *)base = strtoull(v, NULL, 10);
        break;
    }
}

void ews_item_ext(struct ews_item *it, const char *tag, const char *pname, char **value)
{
    if (!*value)
        return;
    long t = tag ? strtol(tag, NULL, 0) : -1;
    if (t == 0x1081)
        it->last_verb = atoi(*value);
    else if (t == 0x0E07) {
        it->msg_flags = atoi(*value);
        it->has_msg_flags = 1;
    }
    else if (t == 0x1090 && !it->flag_status)
        it->flag_status = atoi(*value) == 2 ? 2 : atoi(*value) == 1 ? 1 : 0;
    else if (pname && !strcmp(pname, "OutpostKey")) {
        free(it->key);
        it->key = *value;
        *value = NULL;
    }
}

/* "Items", then the item elements of the EWS types schema (ArrayOfRealItemsType). */
const char *const ews_items_or_item_names[] = {"Items", "Message", "CalendarItem", "Contact", "Task",
                                               "MeetingMessage", "MeetingRequest", "MeetingResponse",
                                               "MeetingCancellation", "PostItem", "DistributionList", "Item", NULL};
const char *const *const ews_item_names = ews_items_or_item_names + 1;

int ews_xs_bool(const char *v)
{
    if (!v)
        return 0;
    while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
        v++;
    size_t n = !strncmp(v, "true", 4) ? 4 : *v == '1' ? 1 : 0;
    if (!n)
        return 0;
    for (v += n; *v == ' ' || *v == '\t' || *v == '\r' || *v == '\n'; v++)
        ;
    return *v == '\0';
}

int ews_flag_status(const char *v)
{
    return !strcmp(v, "Flagged") ? 2 : !strcmp(v, "Complete") ? 1 : 0;
}

struct mime_ctx {
    ews_mime_fn fn;
    void *ctx;
    struct b64dec d;
    outpost_status st;
    uint64_t total;
};

static int mime_chunk(void *ctx, const char *s, size_t n)
{
    struct mime_ctx *m = ctx;
    unsigned char out[3 * 4096 + 8];
    while (n) {
        size_t k = n > 16384 ? 16384 : n;
        size_t got = b64dec_run(&m->d, s, k, out);
        s += k;
        n -= k;
        if (m->d.bad)
            return 1;
        m->total += got;
        if (got && m->fn) {
            m->st = m->fn(m->ctx, out, got);
            if (m->st.code != OUTPOST_OK)
                return 1;
        }
    }
    return 0;
}

int ews_item_parse(struct ews_reader *r, struct ews_item *it, ews_mime_fn mime, void *ctx, outpost_status *st)
{
    memset(it, 0, sizeof *it);
    *st = outpost_ok();
    it->el = strdup(ews_reader_name(r));
    if (!it->el)
        return -1;
    if (ews_reader_is_empty(r))
        return 0;
    int depth = ews_reader_depth(r);
    for (;;) {
        int rc = ews_reader_step(r, depth);
        if (rc < 0)
            return -1;
        if (rc == 0)
            return 0;
        if (rc != 1)
            continue;
        const char *n = ews_reader_name(r);
        int err = 0, leaf;
        if (!strcmp(n, "MimeContent")) {
            struct mime_ctx m = {mime, ctx, {0}, outpost_ok(), 0};
            int src = ews_reader_stream_text(r, mime_chunk, &m);
            if (src == -2 && m.st.code != OUTPOST_OK) {
                *st = m.st;
                return -2;
            }
            if (src || m.d.bad)
                return -1;
            if (!it->size)
                it->size = m.total;
        } else if (!strcmp(n, "ItemId")) {
            free(it->id);
            free(it->change_key);
            it->id = ews_reader_attr(r, "Id");
            it->change_key = ews_reader_attr(r, "ChangeKey");
            err = ews_reader_skip(r);
        } else if (!strcmp(n, "ParentFolderId")) {
            free(it->parent_id);
            it->parent_id = ews_reader_attr(r, "Id");
            err = ews_reader_skip(r);
        } else if ((leaf = ews_item_leaf_index(n)) >= 0) {
            char *v = NULL;
            err = text(r, &v);
            if (!err)
                ews_item_set_leaf(it, leaf, v);
            free(v);
        } else if (!strcmp(n, "From")) {
            err = walk(r, from_each, it);
        } else if (!strcmp(n, "Flag")) {
            err = walk(r, flag_each, it);
        } else if (!strcmp(n, "ExtendedProperty")) {
            struct ext x = {0};
            err = walk(r, ext_each, &x);
            if (!err)
                ews_item_ext(it, x.tag, x.pname, &x.value);
            free(x.tag);
            free(x.pname);
            free(x.value);
        } else if (!strcmp(n, "Recurrence")) {
            err = walk(r, rec_each, it);
        } else if (!strcmp(n, "ModifiedOccurrences")) {
            err = walk(r, occ_each, it);
        } else if (!strcmp(n, "DeletedOccurrences")) {
            err = walk(r, del_each, it);
        } else if (!strcmp(n, "EmailAddresses") || !strcmp(n, "PhoneNumbers")) {
            err = walk(r, entry_each, it);
        } else {
            err = ews_reader_skip(r);
        }
        if (err)
            return -1;
    }
}

void ews_item_free(struct ews_item *it)
{
    char **s[] = {&it->el, &it->id, &it->change_key, &it->item_class, &it->parent_id, &it->subject, &it->body,
                  &it->msgid, &it->from_name, &it->from_addr, &it->uid, &it->location, &it->key, &it->to, &it->cc,
                  &it->rec_pattern, &it->rec_days, &it->rec_month, &it->given, &it->surname, &it->display,
                  &it->company, &it->job, &it->birthday, &it->email[0], &it->email[1], &it->email[2],
                  &it->phone_business, &it->phone_mobile, &it->phone_home, &it->status};
    for (size_t i = 0; i < sizeof s / sizeof *s; i++) {
        free(*s[i]);
        *s[i] = NULL;
    }
}

uint32_t ews_item_kind(const struct ews_item *it)
{
    if (!it->el)
        return OUTPOST_ITEM_MAIL;
    if (!strcmp(it->el, "CalendarItem"))
        return OUTPOST_ITEM_EVENT;
    if (!strcmp(it->el, "Contact") || !strcmp(it->el, "DistributionList"))
        return OUTPOST_ITEM_CONTACT;
    if (!strcmp(it->el, "Task"))
        return OUTPOST_ITEM_TASK;
    if (it->item_class && !strncmp(it->item_class, "IPM.StickyNote", 14))
        return OUTPOST_ITEM_NOTE;
    return OUTPOST_ITEM_MAIL;
}

uint32_t ews_item_flags(const struct ews_item *it)
{
    uint32_t f = 0;
    /* IsRead belongs to MessageType and its kin: an item of another type (t:Item of a class
     * the server has no type for) tells its read state by PR_MESSAGE_FLAGS only */
    if (it->has_is_read ? it->is_read : it->has_msg_flags && (it->msg_flags & 0x1))
        f |= OUTPOST_FLAG_SEEN;
    if (it->is_draft)
        f |= OUTPOST_FLAG_DRAFT;
    if (it->flag_status == 2)
        f |= OUTPOST_FLAG_FLAGGED;
    if (it->last_verb == 102 || it->last_verb == 103)
        f |= OUTPOST_FLAG_ANSWERED;
    if (it->last_verb == 104)
        f |= OUTPOST_FLAG_FORWARDED;
    return f;
}

int ews_parse_time(const char *s, int64_t *t)
{
    int y, mo, d, h = 0, mi = 0, sec = 0;
    /* xs:dateTime and xs:date collapse whitespace: surrounding blanks are allowed */
    while (s && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
        s++;
    if (!s || sscanf(s, "%4d-%2d-%2d", &y, &mo, &d) != 3)
        return -1;
    if (strlen(s) > 10 && s[10] == 'T' && sscanf(s + 11, "%2d:%2d:%2d", &h, &mi, &sec) < 2)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    int64_t v = (int64_t)timegm(&tm);
    /* a numeric offset after the time (+01:00 / -07:00) */
    const char *tz = strlen(s) > 19 ? s + 19 : NULL;
    if (tz && *tz == '.')
        while (*++tz >= '0' && *tz <= '9')
            ;
    if (tz && (*tz == '+' || *tz == '-') && strlen(tz) >= 6) {
        int oh = atoi(tz + 1), om = atoi(tz + 4);
        v -= (*tz == '+' ? 1 : -1) * (int64_t)(oh * 3600 + om * 60);
    }
    *t = v;
    return 0;
}

void ews_fmt_time(int64_t t, char *out, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
