/* reply.c — reading Kerio's JSON-RPC replies: envelope, error classes, and validation of
 * every page before any of it reaches the sink. Pure functions (no I/O, no instance), so the
 * libFuzzer target and its replay runner call exactly what the plugin calls. */
#include "kerio.h"
#include "kjson.h"
#include "ktime.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct kerio_kind kinds[] = {
    { OUTPOST_ITEM_MAIL, "Mails", "FMail", "itMail", "mails" },
    { OUTPOST_ITEM_EVENT, "Events", "FCalendar", "itCalendar", "events" },
    { OUTPOST_ITEM_CONTACT, "Contacts", "FContact", "itContact", "contacts" },
    { OUTPOST_ITEM_TASK, "Tasks", "FTask", "itTask", "tasks" },
    { OUTPOST_ITEM_NOTE, "Notes", "FNote", "itNote", "notes" },
};

const struct kerio_kind *kerio_kind_by_item(uint32_t kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].kind == kind)
            return &kinds[i];
    return NULL;
}

const struct kerio_kind *kerio_kind_by_folder_type(const char *ftype)
{
    for (size_t i = 0; ftype && i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].folder_type, ftype) == 0)
            return &kinds[i];
    return NULL;
}

const struct kerio_kind *kerio_kind_by_item_type(const char *itype)
{
    for (size_t i = 0; itype && i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].item_type, itype) == 0)
            return &kinds[i];
    return NULL;
}

const char *kj_str(const json_t *obj, const char *key)
{
    const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : "";
}

int kj_bool(const json_t *obj, const char *key)
{
    const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_true(v);
}

int kj_int(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 1;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        /* Only where a double is exact: beyond 2^53 the value was already rounded (range
         * first: converting an out-of-range double is undefined). */
        if (!(d <= 9007199254740992.0 && d >= -9007199254740992.0) || d != (double)(int64_t)d)
            return 0;
        *out = (int64_t)d;
        return 1;
    }
    if (!json_is_string(v))
        return 0;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v), i = s[0] == '-' ? 1 : 0;
    if (n == i || n - i > 19)
        return 0;
    uint64_t acc = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (acc > (UINT64_MAX - d) / 10)
            return 0;
        acc = acc * 10 + d;
    }
    if (s[0] == '-') {
        if (acc > (uint64_t)INT64_MAX + 1)
            return 0;
        *out = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
    } else {
        if (acc > (uint64_t)INT64_MAX)
            return 0;
        *out = (int64_t)acc;
    }
    return 1;
}

int64_t kj_int_or(const json_t *obj, const char *key, int64_t dflt)
{
    int64_t v;
    return json_is_object(obj) && kj_int(json_object_get(obj, key), &v) ? v : dflt;
}

uint64_t kerio_hash64(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; s && *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

/* Copies a server message into one printable line (never trusted to be short or clean). */
static void copy_line(char *dst, size_t cap, const char *src)
{
    size_t j = 0;
    for (size_t i = 0; src && src[i] && j + 1 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[j++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    dst[j] = '\0';
}

int kerio_reply_parse(const char *body, size_t len, struct kerio_reply *r)
{
    return kerio_reply_parse_skip(body, len, NULL, r);
}

int kerio_reply_parse_skip(const char *body, size_t len, const char *const *skip, struct kerio_reply *r)
{
    memset(r, 0, sizeof *r);
    if (!body || len == 0) {
        snprintf(r->message, sizeof r->message, "empty reply");
        r->ended_early = 1;
        return -1;
    }
    json_error_t je;
    json_t *root = kjson_loadb_skip(body, len, &je, &r->ended_early, skip);
    if (!root) {
        if (r->ended_early)
            snprintf(r->message, sizeof r->message, "reply ends inside its JSON (after %zu bytes)", len);
        else
            snprintf(r->message, sizeof r->message, "reply is not JSON (line %d: %.80s)", je.line, je.text);
        return -1;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        snprintf(r->message, sizeof r->message, "reply is not a JSON-RPC object");
        return -1;
    }
    json_t *err = json_object_get(root, "error");
    json_t *res = json_object_get(root, "result");
    if (err && !json_is_null(err)) {
        int64_t code;
        if (!json_is_object(err) || !kj_int(json_object_get(err, "code"), &code)) {
            json_decref(root);
            snprintf(r->message, sizeof r->message, "JSON-RPC error without a numeric code");
            return -1;
        }
        r->is_error = 1;
        r->code = code;
        copy_line(r->message, sizeof r->message, kj_str(err, "message"));
        json_t *data = json_object_get(err, "data");
        int64_t ra = kj_int_or(data, "retryAfterMs", 0);
        if (ra > 0)
            r->retry_after_ms = (uint32_t)(ra > 86400000 ? 86400000 : ra);
        ra = kj_int_or(data, "retryAfter", 0);
        if (!r->retry_after_ms && ra > 0)
            r->retry_after_ms = (uint32_t)(ra > 86400 ? 86400000 : ra * 1000);
        r->root = root;
        return 0;
    }
    if (!res) {
        json_decref(root);
        snprintf(r->message, sizeof r->message, "JSON-RPC reply has neither result nor error");
        return -1;
    }
    r->root = root;
    r->result = res;
    return 0;
}

int kerio_error_class(int64_t code, int ctx)
{
    switch (code) {
    case KERIO_E_SESSION_EXPIRED:
        return ctx == KERIO_CTX_LOGIN ? OUTPOST_AUTH : OUTPOST_TEMP;
    case KERIO_E_INTERNAL:
    case KERIO_E_TIMEDOUT:
    case KERIO_E_MAINTENANCE:
    case KERIO_E_COMMUNICATION:
    case KERIO_E_QUOTA:
    case KERIO_E_SENDING_FAILED:
        return OUTPOST_TEMP;
    case KERIO_E_REINDEXING:
    case KERIO_E_IN_PROGRESS:
        return OUTPOST_THROTTLED;
    default:
        break;
    }
    if (ctx == KERIO_CTX_LOGIN)
        return OUTPOST_AUTH;    /* "Username or password is not correct" and the like */
    if (ctx == KERIO_CTX_CHANGES && code != KERIO_E_PARSE && code != KERIO_E_INVALID_REQUEST)
        return OUTPOST_STATE_INVALID;
    switch (code) {
    case KERIO_E_NO_SUCH_ENTITY:
    case KERIO_E_NO_SUCH_FOLDER:
        return OUTPOST_GONE;
    case KERIO_E_ALREADY_EXISTS:
        return OUTPOST_CONFLICT;
    case KERIO_E_ACCESS_DENIED:
    case KERIO_E_NOT_PERMITTED:
    case KERIO_E_PARSE:
    case KERIO_E_INVALID_REQUEST:
    case KERIO_E_METHOD_NOT_FOUND:
    case KERIO_E_INVALID_PARAMS:
    case KERIO_E_TOO_LARGE:
        return OUTPOST_BAD_DATA;
    default:
        return OUTPOST_BAD_DATA;
    }
}

int kerio_http_class(long http_status)
{
    if (http_status == 429 || http_status == 503)
        return OUTPOST_THROTTLED;
    if (http_status == 401 || http_status == 403)
        return OUTPOST_AUTH;
    if (http_status >= 500 || http_status == 0 || http_status == 408)
        return OUTPOST_TEMP;
    return OUTPOST_BAD_DATA;
}

/* ---- validation ---- */

/* Member type specs: S string, B bool, I integer, D date string (empty allowed), O object,
 * A array of objects, L array of strings, N string or integer. */
struct member_spec {
    const char *name;
    char type;
    char required;
};

static int check_date(const char *s)
{
    struct ktime kt;
    return (*s == '\0' || ktime_parse(s, &kt) == 0) ? 0 : -1;
}

static int check_members(const json_t *obj, const struct member_spec *spec, const char *what,
                         char *err, size_t errlen)
{
    for (; spec->name; spec++) {
        const json_t *v = json_object_get(obj, spec->name);
        if (!v || json_is_null(v)) {
            if (spec->required) {
                snprintf(err, errlen, "%s without %s", what, spec->name);
                return -1;
            }
            continue;
        }
        int ok = 1;
        switch (spec->type) {
        case 'S': ok = json_is_string(v); break;
        case 'B': ok = json_is_boolean(v); break;
        case 'I': {
            int64_t x;
            ok = kj_int(v, &x);
            break;
        }
        case 'N': ok = json_is_integer(v) || json_is_string(v); break;
        case 'D': ok = json_is_string(v) && check_date(json_string_value(v)) == 0; break;
        case 'O': ok = json_is_object(v); break;
        case 'A': {
            ok = json_is_array(v);
            size_t i;
            const json_t *e;
            json_array_foreach(v, i, e) if (!json_is_object(e)) ok = 0;
            break;
        }
        case 'L': {
            ok = json_is_array(v);
            size_t i;
            const json_t *e;
            json_array_foreach(v, i, e) if (!json_is_string(e)) ok = 0;
            break;
        }
        default: ok = 0;
        }
        if (!ok) {
            snprintf(err, errlen, "%s has a malformed %s", what, spec->name);
            return -1;
        }
    }
    return 0;
}

static const struct member_spec email_spec[] = { { "name", 'S', 0 }, { "address", 'S', 0 }, { NULL, 0, 0 } };

static int check_array_of(const json_t *obj, const char *key, const struct member_spec *spec, const char *what,
                          char *err, size_t errlen)
{
    const json_t *a = json_object_get(obj, key);
    size_t i;
    const json_t *e;
    if (!json_is_array(a))
        return 0;
    json_array_foreach(a, i, e) if (check_members(e, spec, what, err, errlen)) return -1;
    return 0;
}

static int validate_mail(const json_t *m, int full, char *err, size_t errlen)
{
    static const struct member_spec spec[] = {
        { "folderId", 'S', 0 }, { "from", 'O', 0 }, { "sender", 'O', 0 }, { "to", 'A', 0 }, { "cc", 'A', 0 },
        { "bcc", 'A', 0 }, { "replyTo", 'A', 0 }, { "notificationTo", 'O', 0 }, { "subject", 'S', 0 },
        { "sendDate", 'D', 0 }, { "receiveDate", 'D', 0 }, { "modifiedDate", 'D', 0 }, { "priority", 'S', 0 },
        { "size", 'I', 0 }, { "isSeen", 'B', 0 }, { "isAnswered", 'B', 0 }, { "isFlagged", 'B', 0 },
        { "isForwarded", 'B', 0 }, { "isJunk", 'B', 0 }, { "isDraft", 'B', 0 }, { "displayableParts", 'A', 0 },
        { "attachments", 'A', 0 }, { "headers", 'A', 0 }, { NULL, 0, 0 }
    };
    static const struct member_spec part_spec[] = { { "contentType", 'S', 1 }, { "content", 'S', 1 }, { NULL, 0, 0 } };
    static const struct member_spec att_spec[] = {
        { "name", 'S', 0 }, { "contentType", 'S', 0 }, { "contentId", 'S', 0 }, { "url", 'S', 1 }, { "size", 'I', 0 },
        { NULL, 0, 0 }
    };
    static const struct member_spec hdr_spec[] = { { "type", 'S', 1 }, { "value", 'S', 1 }, { NULL, 0, 0 } };
    if (check_members(m, spec, "mail", err, errlen))
        return -1;
    if (check_members(json_object_get(m, "from"), email_spec, "mail sender", err, errlen) && json_object_get(m, "from"))
        return -1;
    const char *lists[] = { "to", "cc", "bcc", "replyTo" };
    for (size_t i = 0; i < 4; i++)
        if (check_array_of(m, lists[i], email_spec, "mail recipient", err, errlen))
            return -1;
    if (!full)
        return 0;
    if (check_array_of(m, "displayableParts", part_spec, "mail part", err, errlen) ||
        check_array_of(m, "attachments", att_spec, "mail attachment", err, errlen) ||
        check_array_of(m, "headers", hdr_spec, "mail header", err, errlen))
        return -1;
    /* Attachment URLs are fetched relative to the server root: refuse anything else. */
    const json_t *atts = json_object_get(m, "attachments");
    size_t i;
    const json_t *a;
    json_array_foreach(atts, i, a) {
        const char *u = kj_str(a, "url");
        if (u[0] != '/' || u[1] == '/' || strstr(u, "..")) {
            snprintf(err, errlen, "mail attachment with a URL outside the server");
            return -1;
        }
    }
    return 0;
}

static const struct member_spec attendee_spec[] = {
    { "displayName", 'S', 0 }, { "emailAddress", 'S', 0 }, { "role", 'S', 0 }, { "partStatus", 'S', 0 }, { NULL, 0, 0 }
};

static int validate_rule(const json_t *rule, char *err, size_t errlen)
{
    static const struct member_spec spec[] = {
        { "isSet", 'B', 0 }, { "frequency", 'S', 0 }, { "endBy", 'O', 0 }, { "preciseBy", 'O', 0 }, { "interval", 'I', 0 },
        { NULL, 0, 0 }
    };
    static const struct member_spec end_spec[] = { { "type", 'S', 0 }, { "date", 'D', 0 }, { "count", 'I', 0 }, { NULL, 0, 0 } };
    if (!rule)
        return 0;
    if (check_members(rule, spec, "recurrence rule", err, errlen))
        return -1;
    const json_t *e = json_object_get(rule, "endBy");
    if (e && check_members(e, end_spec, "recurrence end", err, errlen))
        return -1;
    const json_t *p = json_object_get(rule, "preciseBy");
    if (p) {
        /* byMonthDay etc. may be integers in some servers: tolerate arrays of ints or strings. */
        /* Day numbers or names; month days etc. as integers or strings. */
        const char *names[] = { "byDay", "byMonthDay", "byMonth", "byPosition" };
        for (size_t i = 0; i < 4; i++) {
            const json_t *a = json_object_get(p, names[i]);
            size_t j;
            const json_t *x;
            if (!a)
                continue;
            if (!json_is_array(a)) {
                snprintf(err, errlen, "recurrence rule has a malformed %s", names[i]);
                return -1;
            }
            json_array_foreach(a, j, x) if (!json_is_integer(x) && !json_is_string(x)) {
                snprintf(err, errlen, "recurrence rule has a malformed %s", names[i]);
                return -1;
            }
        }
    }
    return 0;
}

static int validate_event(const json_t *e, char *err, size_t errlen)
{
    static const struct member_spec spec[] = {
        { "folderId", 'S', 0 }, { "summary", 'S', 0 }, { "location", 'S', 0 }, { "description", 'S', 0 },
        { "categories", 'L', 0 }, { "start", 'D', 1 }, { "end", 'D', 1 }, { "freeBusy", 'S', 0 }, { "isPrivate", 'B', 0 },
        { "isAllDay", 'B', 0 }, { "priority", 'S', 0 }, { "rule", 'O', 0 }, { "attendees", 'A', 0 }, { "reminder", 'O', 0 },
        { "isException", 'B', 0 }, { "eventId", 'S', 0 }, { "recurrenceId", 'D', 0 }, { "originalStart", 'D', 0 },
        { NULL, 0, 0 }
    };
    static const struct member_spec rem_spec[] = {
        { "isSet", 'B', 0 }, { "type", 'S', 0 }, { "minutesBeforeStart", 'I', 0 }, { "date", 'D', 0 }, { NULL, 0, 0 }
    };
    if (check_members(e, spec, "event", err, errlen) || check_array_of(e, "attendees", attendee_spec, "attendee", err, errlen))
        return -1;
    const json_t *rem = json_object_get(e, "reminder");
    if (rem && check_members(rem, rem_spec, "reminder", err, errlen))
        return -1;
    return validate_rule(json_object_get(e, "rule"), err, errlen);
}

static int validate_contact(const json_t *c, char *err, size_t errlen)
{
    static const struct member_spec spec[] = {
        { "folderId", 'S', 0 }, { "type", 'S', 0 }, { "commonName", 'S', 0 }, { "firstName", 'S', 0 },
        { "middleName", 'S', 0 }, { "surName", 'S', 0 }, { "titleBefore", 'S', 0 }, { "titleAfter", 'S', 0 },
        { "nickName", 'S', 0 }, { "phoneNumbers", 'A', 0 }, { "emailAddresses", 'A', 0 }, { "postalAddresses", 'A', 0 },
        { "urls", 'A', 0 }, { "birthDay", 'D', 0 }, { "anniversary", 'D', 0 }, { "companyName", 'S', 0 },
        { "departmentName", 'S', 0 }, { "profession", 'S', 0 }, { "managerName", 'S', 0 }, { "assistantName", 'S', 0 },
        { "comment", 'S', 0 }, { "IMAddress", 'S', 0 }, { "categories", 'L', 0 }, { "photo", 'O', 0 }, { NULL, 0, 0 }
    };
    static const struct member_spec phone_spec[] = { { "type", 'S', 0 }, { "number", 'S', 0 }, { NULL, 0, 0 } };
    static const struct member_spec mail_spec[] = {
        { "address", 'S', 0 }, { "name", 'S', 0 }, { "type", 'S', 0 }, { "preferred", 'B', 0 }, { NULL, 0, 0 }
    };
    static const struct member_spec addr_spec[] = {
        { "type", 'S', 0 }, { "pobox", 'S', 0 }, { "extendedAddress", 'S', 0 }, { "street", 'S', 0 },
        { "locality", 'S', 0 }, { "state", 'S', 0 }, { "zip", 'S', 0 }, { "country", 'S', 0 }, { "label", 'S', 0 },
        { "preferred", 'B', 0 }, { NULL, 0, 0 }
    };
    static const struct member_spec url_spec[] = { { "type", 'S', 0 }, { "url", 'S', 0 }, { NULL, 0, 0 } };
    if (check_members(c, spec, "contact", err, errlen) ||
        check_array_of(c, "phoneNumbers", phone_spec, "phone number", err, errlen) ||
        check_array_of(c, "emailAddresses", mail_spec, "e-mail address", err, errlen) ||
        check_array_of(c, "postalAddresses", addr_spec, "postal address", err, errlen) ||
        check_array_of(c, "urls", url_spec, "URL", err, errlen))
        return -1;
    return 0;
}

static int validate_task(const json_t *t, char *err, size_t errlen)
{
    static const struct member_spec spec[] = {
        { "folderId", 'S', 0 }, { "summary", 'S', 0 }, { "location", 'S', 0 }, { "description", 'S', 0 },
        { "status", 'S', 0 }, { "start", 'D', 0 }, { "due", 'D', 0 }, { "end", 'D', 0 }, { "done", 'I', 0 },
        { "priority", 'S', 0 }, { "rule", 'O', 0 }, { "attendees", 'A', 0 }, { "reminder", 'O', 0 },
        { "isPrivate", 'B', 0 }, { "categories", 'L', 0 }, { NULL, 0, 0 }
    };
    if (check_members(t, spec, "task", err, errlen) || check_array_of(t, "attendees", attendee_spec, "attendee", err, errlen))
        return -1;
    return validate_rule(json_object_get(t, "rule"), err, errlen);
}

static int validate_note(const json_t *n, char *err, size_t errlen)
{
    static const struct member_spec spec[] = {
        { "folderId", 'S', 0 }, { "color", 'S', 0 }, { "text", 'S', 0 }, { "position", 'O', 0 },
        { "createDate", 'D', 0 }, { "modifyDate", 'D', 0 }, { NULL, 0, 0 }
    };
    return check_members(n, spec, "note", err, errlen);
}

int kerio_validate_item(uint32_t kind, const json_t *item, char *err, size_t errlen)
{
    static const struct member_spec id_spec[] = { { "id", 'S', 1 }, { "watermark", 'I', 0 }, { NULL, 0, 0 } };
    if (!json_is_object(item)) {
        snprintf(err, errlen, "item is not an object");
        return -1;
    }
    if (check_members(item, id_spec, "item", err, errlen))
        return -1;
    if (kj_str(item, "id")[0] == '\0') {
        snprintf(err, errlen, "item with an empty id");
        return -1;
    }
    switch (kind) {
    case OUTPOST_ITEM_MAIL: return validate_mail(item, 1, err, errlen);
    case OUTPOST_ITEM_EVENT: return validate_event(item, err, errlen);
    case OUTPOST_ITEM_CONTACT: return validate_contact(item, err, errlen);
    case OUTPOST_ITEM_TASK: return validate_task(item, err, errlen);
    case OUTPOST_ITEM_NOTE: return validate_note(item, err, errlen);
    default:
        snprintf(err, errlen, "unknown item kind %u", kind);
        return -1;
    }
}

int kerio_validate_list(uint32_t kind, const json_t *result, const char *member, int full,
                        const json_t **items, char *err, size_t errlen)
{
    if (!json_is_object(result)) {
        snprintf(err, errlen, "result is not an object");
        return -1;
    }
    /* An empty list may come as null (as may "errors" below). */
    if (json_is_null(json_object_get(result, member)))
        json_object_set_new((json_t *)result, member, json_array());
    const json_t *list = json_object_get(result, member);
    if (!json_is_array(list)) {
        snprintf(err, errlen, "result without a %s array", member);
        return -1;
    }
    const json_t *tot = json_object_get(result, "totalItems");
    int64_t num;
    if (tot && !json_is_null(tot) && !kj_int(tot, &num)) {
        snprintf(err, errlen, "result with a malformed totalItems");
        return -1;
    }
    const json_t *errs = json_object_get(result, "errors");
    if (errs && !json_is_array(errs) && !json_is_null(errs)) {
        snprintf(err, errlen, "result with a malformed errors list");
        return -1;
    }
    size_t i;
    const json_t *e;
    json_array_foreach(errs, i, e) {
        if (!json_is_object(e) || !kj_int(json_object_get(e, "inputIndex"), &num)) {
            snprintf(err, errlen, "per-item error without inputIndex");
            return -1;
        }
    }
    json_array_foreach(list, i, e) {
        char why[160];
        int rc = full ? kerio_validate_item(kind, e, why, sizeof why)
                      : (json_is_object(e) && json_is_string(json_object_get(e, "id")) && kj_str(e, "id")[0] &&
                         (kind != OUTPOST_ITEM_MAIL || validate_mail(e, 0, why, sizeof why) == 0) &&
                         (!json_object_get(e, "watermark") || json_is_null(json_object_get(e, "watermark")) ||
                          kj_int(json_object_get(e, "watermark"), &num)))
                             ? 0
                             : (snprintf(why, sizeof why, "item without a usable id"), -1);
        if (rc) {
            snprintf(err, errlen, "item %zu: %s", i, why);
            return -1;
        }
    }
    *items = list;
    return 0;
}

int kerio_validate_folders(const json_t *result, const json_t **list, char *err, size_t errlen)
{
    static const struct member_spec spec[] = {
        { "id", 'S', 1 }, { "parentId", 'S', 0 }, { "name", 'S', 1 }, { "type", 'S', 1 }, { "subType", 'S', 0 },
        { "placeType", 'S', 0 }, { "nestingLevel", 'I', 0 }, { "messageCount", 'I', 0 }, { "messageUnread", 'I', 0 },
        { NULL, 0, 0 }
    };
    const json_t *l = json_is_object(result) ? json_object_get(result, "list") : NULL;
    if (!json_is_array(l)) {
        snprintf(err, errlen, "Folders.get result without a list");
        return -1;
    }
    size_t i;
    const json_t *f;
    json_array_foreach(l, i, f) {
        if (!json_is_object(f) || check_members(f, spec, "folder", err, errlen))
            return (json_is_object(f) ? 0 : snprintf(err, errlen, "folder is not an object")), -1;
        if (kj_str(f, "id")[0] == '\0') {
            snprintf(err, errlen, "folder with an empty id");
            return -1;
        }
    }
    *list = l;
    return 0;
}

int kerio_key_read(const json_t *v, struct kerio_key *k)
{
    int64_t n;
    memset(k, 0, sizeof *k);
    if (!kj_int(v, &n) || n < 0)
        return -1;
    if (json_is_string(v)) {
        if (json_string_length(v) >= sizeof k->text)
            return -1;
        k->quoted = 1;
        snprintf(k->text, sizeof k->text, "%s", json_string_value(v));
    } else {
        snprintf(k->text, sizeof k->text, "%lld", (long long)n);
    }
    return 0;
}

json_t *kerio_key_json(const struct kerio_key *k)
{
    return k->quoted ? json_string(k->text) : json_integer((json_int_t)strtoll(k->text, NULL, 10));
}

int kerio_validate_changes(const json_t *result, const json_t **list, struct kerio_key *sync_key, char *err,
                           size_t errlen)
{
    static const struct member_spec spec[] = {
        { "isFolder", 'B', 0 }, { "type", 'S', 1 }, { "itemType", 'S', 0 }, { "itemId", 'S', 1 }, { "parentId", 'S', 0 },
        { "origId", 'S', 0 }, { "origParentId", 'S', 0 }, { "watermark", 'I', 0 }, { "messageUnread", 'I', 0 },
        { NULL, 0, 0 }
    };
    if (json_is_object(result) && json_is_null(json_object_get(result, "list")))
        json_object_set_new((json_t *)result, "list", json_array()); /* no changes, as null */
    const json_t *l = json_is_object(result) ? json_object_get(result, "list") : NULL;
    const json_t *k = json_is_object(result) ? json_object_get(result, "syncKey") : NULL;
    struct kerio_key key;
    if (!json_is_array(l) || kerio_key_read(k, &key) != 0) {
        snprintf(err, errlen, "Changes.getFolder result without list and syncKey");
        return -1;
    }
    size_t i;
    const json_t *c;
    json_array_foreach(l, i, c) {
        if (!json_is_object(c)) {
            snprintf(err, errlen, "change %zu is not an object", i);
            return -1;
        }
        if (check_members(c, spec, "change", err, errlen))
            return -1;
    }
    *list = l;
    *sync_key = key;
    return 0;
}

const json_t *kerio_batch_error(const json_t *result, size_t index)
{
    const json_t *errs = json_is_object(result) ? json_object_get(result, "errors") : NULL;
    size_t i;
    const json_t *e;
    json_array_foreach(errs, i, e) {
        int64_t ix;
        if (kj_int(json_object_get(e, "inputIndex"), &ix) && ix == (int64_t)index)
            return e;
    }
    return NULL;
}

/* ---- folder sync state ---- */

/* Reads the key token at *p (digits, or a quoted string) and moves *p past it. */
static int state_key(const char **p, struct kerio_key *k)
{
    const char *s = *p, *end;
    json_t *v;
    if (*s == '"') {
        if (!(end = strchr(s + 1, '"')))
            return -1;
        v = json_stringn(s + 1, (size_t)(end - s - 1));
        end++;
    } else {
        for (end = s; *end >= '0' && *end <= '9'; end++)
            ;
        if (end == s || end - s > 19)
            return -1;
        char digits[24];
        memcpy(digits, s, (size_t)(end - s));
        digits[end - s] = '\0';
        v = json_string(digits);
        if (v) {
            int64_t n;
            json_t *num = kj_int(v, &n) ? json_integer((json_int_t)n) : NULL;
            json_decref(v);
            v = num;
        }
    }
    int rc = v ? kerio_key_read(v, k) : -1;
    json_decref(v);
    if (rc == 0)
        *p = end;
    return rc;
}

int kerio_state_parse(const void *s, size_t len, struct kerio_state *st)
{
    char buf[640];
    memset(st, 0, sizeof *st);
    if (!s || len == 0 || len >= sizeof buf || memchr(s, '\0', len))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    const char *p = buf + 3;
    if (strncmp(buf, "L1 ", 3) == 0) {
        if (state_key(&p, &st->key) != 0 || *p++ != ' ' || *p < '0' || *p > '9')
            return -1;
        char *end;
        errno = 0;
        long long pos = strtoll(p, &end, 10);
        if (errno || pos < 0)
            return -1;
        const char *rest = end;
        if (*rest == ' ' && rest[1]) {
            if (strlen(rest + 1) >= sizeof st->last || strpbrk(rest + 1, " \t\r\n"))
                return -1;
            strcpy(st->last, rest + 1);
        } else if (*rest) {
            return -1;
        }
        st->listing = 1;
        st->pos = pos;
        return 0;
    }
    if (strncmp(buf, "S1 ", 3) == 0 && state_key(&p, &st->key) == 0 && !*p)
        return 0;
    memset(st, 0, sizeof *st);
    return -1;
}

size_t kerio_state_format(const struct kerio_state *st, char *out, size_t cap)
{
    const char *q = st->key.quoted ? "\"" : "";
    int n = st->listing ? snprintf(out, cap, "L1 %s%s%s %lld%s%s", q, st->key.text, q, (long long)st->pos,
                                   st->last[0] ? " " : "", st->last)
                        : snprintf(out, cap, "S1 %s%s%s", q, st->key.text, q);
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}
