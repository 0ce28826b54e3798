/* vcard.c — Kerio contacts ↔ vCard 3.0 (RFC 2426): a small writer and reader of our own.
 * libvformat was tried first: it writes only to a named file and does not undo vCard 3.0
 * escaping ("\;" ends a value), so it cannot round-trip our contacts. The reader is fuzzed
 * (tests/fuzz). Output is deterministic: fixed property order, CRLF, folding at 75 octets. */
#include "kerio.h"
#include "ktime.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- writer ---- */

struct line {
    struct kbuf *out;
    struct kbuf cur;
};

static void esc_append(struct kbuf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '\\': kbuf_puts(b, "\\\\"); break;
        case ';': kbuf_puts(b, "\\;"); break;
        case ',': kbuf_puts(b, "\\,"); break;
        case '\n': kbuf_puts(b, "\\n"); break;
        case '\r': break;
        default: kbuf_append(b, s, 1);
        }
    }
}

/* Folds a logical line at 75 octets without splitting a UTF-8 sequence, ends it with CRLF. */
static void emit(struct kbuf *out, const struct kbuf *l)
{
    size_t col = 0;
    for (size_t i = 0; i < l->len; i++) {
        unsigned char c = (unsigned char)l->data[i];
        if (col >= 75 && (c & 0xC0) != 0x80) {
            kbuf_puts(out, "\r\n ");
            col = 1;
        }
        kbuf_append(out, &l->data[i], 1);
        col++;
    }
    kbuf_puts(out, "\r\n");
}

static void prop(struct kbuf *out, const char *name, const char *params, const char *value)
{
    if (!value || !*value)
        return;
    struct kbuf l = { 0 };
    kbuf_puts(&l, name);
    if (params && *params) {
        kbuf_puts(&l, ";");
        kbuf_puts(&l, params);
    }
    kbuf_puts(&l, ":");
    esc_append(&l, value);
    emit(out, &l);
    kbuf_free(&l);
}

/* A structured value: components escaped one by one, joined with ';'. Skipped if all empty. */
static void prop_struct(struct kbuf *out, const char *name, const char *params, const char *const *v, size_t n)
{
    int any = 0;
    for (size_t i = 0; i < n; i++)
        any |= v[i] && *v[i];
    if (!any)
        return;
    struct kbuf l = { 0 };
    kbuf_puts(&l, name);
    if (params && *params) {
        kbuf_puts(&l, ";");
        kbuf_puts(&l, params);
    }
    kbuf_puts(&l, ":");
    for (size_t i = 0; i < n; i++) {
        if (i)
            kbuf_puts(&l, ";");
        esc_append(&l, v[i] ? v[i] : "");
    }
    emit(out, &l);
    kbuf_free(&l);
}

struct type_map {
    const char *kerio;
    const char *vcard; /* TYPE parameter value list, canonical order */
};

static const struct type_map phone_types[] = {
    { "TypeWorkVoice", "WORK,VOICE" }, { "TypeHomeVoice", "HOME,VOICE" }, { "TypeMobile", "CELL,VOICE" },
    { "TypeWorkFax", "WORK,FAX" }, { "TypeHomeFax", "HOME,FAX" }, { "TypeOtherFax", "FAX" },
    { "TypePager", "PAGER" }, { "TypeCar", "CAR" }, { "TypeIsdn", "ISDN" }, { "TypePrimary", "PREF,VOICE" },
    { "TypeOtherVoice", "VOICE" }, { "TypeAssistant", "X-ASSISTANT" }, { "TypeCallback", "X-CALLBACK" },
    { "TypeCompany", "X-COMPANY" }, { "TypeRadio", "X-RADIO" }, { "TypeTelex", "X-TELEX" },
    { "TypeTtyTdd", "X-TTYTDD" }, { "TypeCustom", "X-CUSTOM" }, { NULL, NULL }
};
static const struct type_map email_types[] = {
    { "EmailWork", "INTERNET,WORK" }, { "EmailHome", "INTERNET,HOME" }, { "EmailOther", "INTERNET" },
    { "EmailCustom", "INTERNET,X-CUSTOM" }, { "RefContact", "INTERNET,X-REFCONTACT" },
    { "RefDistributionList", "INTERNET,X-REFLIST" }, { NULL, NULL }
};
static const struct type_map addr_types[] = {
    { "AddressWork", "WORK" }, { "AddressHome", "HOME" }, { "AddressOther", "POSTAL" }, { "AddressCustom", "X-CUSTOM" },
    { NULL, NULL }
};
static const struct type_map url_types[] = {
    { "UrlWork", "WORK" }, { "UrlHome", "HOME" }, { "UrlOther", "" }, { "UrlCustom", "X-CUSTOM" }, { NULL, NULL }
};

static const char *to_vcard_type(const struct type_map *m, const char *k)
{
    for (; m->kerio; m++)
        if (strcmp(m->kerio, k) == 0)
            return m->vcard;
    return NULL;
}

static void date_value(const char *s, char out[16])
{
    struct ktime kt;
    out[0] = '\0';
    if (*s && ktime_parse(s, &kt) == 0)
        snprintf(out, 16, "%04d-%02d-%02d", kt.year % 10000, kt.month % 100, kt.day % 100);
}

int kerio_contact_to_vcard(const json_t *c, struct kbuf *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    size_t i;
    const json_t *e;
    char params[96];
    kbuf_puts(out, "BEGIN:VCARD\r\nVERSION:3.0\r\n");
    char *uid = kerio_object_uid(c);
    prop(out, "UID", NULL, uid);
    free(uid);
    const char *fn = kj_str(c, "commonName");
    struct kbuf composed = { 0 };
    if (!*fn) {
        const char *parts[] = { kj_str(c, "titleBefore"), kj_str(c, "firstName"), kj_str(c, "middleName"),
                                kj_str(c, "surName"), kj_str(c, "titleAfter") };
        for (size_t k = 0; k < 5; k++)
            if (*parts[k])
                kbuf_printf(&composed, "%s%s", composed.len ? " " : "", parts[k]);
        fn = composed.data ? composed.data : "";
    }
    /* FN is mandatory in 3.0: an empty one is still written. */
    {
        struct kbuf l = { 0 };
        kbuf_puts(&l, "FN:");
        esc_append(&l, fn);
        emit(out, &l);
        kbuf_free(&l);
    }
    kbuf_free(&composed);
    const char *n[] = { kj_str(c, "surName"), kj_str(c, "firstName"), kj_str(c, "middleName"), kj_str(c, "titleBefore"),
                        kj_str(c, "titleAfter") };
    prop_struct(out, "N", NULL, n, 5);
    if (!(*n[0] || *n[1] || *n[2] || *n[3] || *n[4]))
        kbuf_puts(out, "N:;;;;\r\n");
    prop(out, "NICKNAME", NULL, kj_str(c, "nickName"));
    const char *org[] = { kj_str(c, "companyName"), kj_str(c, "departmentName") };
    prop_struct(out, "ORG", NULL, org, *org[1] ? 2 : 1);
    prop(out, "TITLE", NULL, kj_str(c, "profession"));
    json_array_foreach(json_object_get(c, "emailAddresses"), i, e) {
        const char *t = to_vcard_type(email_types, kj_str(e, "type"));
        snprintf(params, sizeof params, "TYPE=%s%s", t ? t : "INTERNET", kj_bool(e, "preferred") ? ",PREF" : "");
        prop(out, "EMAIL", params, kj_str(e, "address"));
    }
    json_array_foreach(json_object_get(c, "phoneNumbers"), i, e) {
        const char *t = to_vcard_type(phone_types, kj_str(e, "type"));
        snprintf(params, sizeof params, "TYPE=%s", t ? t : "VOICE");
        prop(out, "TEL", params, kj_str(e, "number"));
    }
    json_array_foreach(json_object_get(c, "postalAddresses"), i, e) {
        const char *t = to_vcard_type(addr_types, kj_str(e, "type"));
        snprintf(params, sizeof params, "TYPE=%s%s", t ? t : "POSTAL", kj_bool(e, "preferred") ? ",PREF" : "");
        const char *adr[] = { kj_str(e, "pobox"), kj_str(e, "extendedAddress"), kj_str(e, "street"), kj_str(e, "locality"),
                              kj_str(e, "state"), kj_str(e, "zip"), kj_str(e, "country") };
        prop_struct(out, "ADR", params, adr, 7);
        prop(out, "LABEL", params, kj_str(e, "label"));
    }
    json_array_foreach(json_object_get(c, "urls"), i, e) {
        const char *t = to_vcard_type(url_types, kj_str(e, "type"));
        if (t && *t)
            snprintf(params, sizeof params, "TYPE=%s", t);
        else
            params[0] = '\0';
        prop(out, "URL", params, kj_str(e, "url"));
    }
    char d[16];
    date_value(kj_str(c, "birthDay"), d);
    prop(out, "BDAY", "VALUE=date", d);
    date_value(kj_str(c, "anniversary"), d);
    prop(out, "X-ANNIVERSARY", NULL, d);
    prop(out, "NOTE", NULL, kj_str(c, "comment"));
    prop(out, "X-MANAGER", NULL, kj_str(c, "managerName"));
    prop(out, "X-ASSISTANT", NULL, kj_str(c, "assistantName"));
    prop(out, "X-KERIO-IM", NULL, kj_str(c, "IMAddress"));
    const json_t *cats = json_object_get(c, "categories");
    if (json_array_size(cats)) {
        struct kbuf l = { 0 };
        kbuf_puts(&l, "CATEGORIES:");
        json_array_foreach(cats, i, e) {
            if (i)
                kbuf_puts(&l, ",");
            esc_append(&l, json_is_string(e) ? json_string_value(e) : "");
        }
        emit(out, &l);
        kbuf_free(&l);
    }
    if (strcmp(kj_str(c, "type"), "ctDistributionList") == 0)
        kbuf_puts(out, "X-KERIO-TYPE:ctDistributionList\r\n");
    kbuf_puts(out, "END:VCARD\r\n");
    return 0;
}

/* ---- reader ---- */

struct vprop {
    char *name;    /* upper case, group stripped */
    char *params;  /* raw parameter text, upper case */
    char *value;   /* raw (escaped) value */
};

/* Unescapes one component (up to an unescaped `stop` char or end); returns a new string and
 * advances *p past the separator. */
static char *unescape_until(const char **p, char stop)
{
    struct kbuf b = { 0 };
    const char *s = *p;
    for (; *s && *s != stop; s++) {
        if (*s == '\\' && s[1]) {
            s++;
            char c = (*s == 'n' || *s == 'N') ? '\n' : *s;
            kbuf_append(&b, &c, 1);
        } else {
            kbuf_append(&b, s, 1);
        }
    }
    *p = *s ? s + 1 : s;
    return kbuf_steal(&b);
}

static int has_type(const char *params, const char *t)
{
    /* Matches t as a whole word in TYPE=a,b;TYPE=c or bare ;a;b parameter lists. */
    size_t n = strlen(t);
    for (const char *p = params; p && *p;) {
        const char *q = strcasestr(p, t);
        if (!q)
            return 0;
        char before = q == params ? ';' : q[-1];
        char after = q[n];
        if ((before == ';' || before == ',' || before == '=') && (after == '\0' || after == ';' || after == ','))
            return 1;
        p = q + n;
    }
    return 0;
}

static const char *from_vcard_type(const struct type_map *m, const char *params, const char *def)
{
    /* The entry whose every TYPE word is present, preferring the most specific. */
    const char *best = def;
    size_t best_words = 0;
    for (; m->kerio; m++) {
        if (!*m->vcard)
            continue;
        char words[64];
        snprintf(words, sizeof words, "%s", m->vcard);
        size_t count = 0;
        int all = 1;
        for (char *save = NULL, *w = strtok_r(words, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
            if (strcmp(w, "PREF") == 0 && strcmp(m->kerio, "TypePrimary") != 0)
                continue;
            count++;
            if (!has_type(params, w))
                all = 0;
        }
        if (all && count > best_words) {
            best = m->kerio;
            best_words = count;
        }
    }
    return best;
}

static void set_s(json_t *o, const char *k, const char *v)
{
    json_t *s = json_string(v ? v : "");
    json_object_set_new(o, k, s ? s : json_string(""));
}

static void date_to_kerio(const char *v, json_t *o, const char *key)
{
    char digits[16];
    size_t n = 0;
    for (const char *p = v; *p && n < 8; p++)
        if (isdigit((unsigned char)*p))
            digits[n++] = *p;
        else if (*p == 'T')
            break;
    digits[n] = '\0';
    struct ktime kt;
    if (n == 8 && ktime_parse(digits, &kt) == 0)
        set_s(o, key, digits);
}

int kerio_vcard_to_contact(const char *vcf, size_t len, json_t **out, char **uid_out, char *err, size_t errlen)
{
    /* Unfold into logical lines. */
    struct kbuf text = { 0 };
    for (size_t i = 0; i < len; i++) {
        char ch = vcf[i];
        if (ch == '\0') {
            kbuf_free(&text);
            snprintf(err, errlen, "vCard contains a NUL byte");
            return -1;
        }
        if (ch == '\r')
            continue;
        if (ch == '\n' && i + 1 < len && (vcf[i + 1] == ' ' || vcf[i + 1] == '\t')) {
            i++;
            continue;
        }
        kbuf_append(&text, &ch, 1);
    }
    if (!text.data) {
        snprintf(err, errlen, "empty vCard");
        return -1;
    }
    json_t *c = json_object();
    json_t *emails = json_array(), *phones = json_array(), *addrs = json_array(), *urls = json_array(), *cats = json_array();
    int begun = 0, ended = 0;
    char *save = NULL;
    if (uid_out)
        *uid_out = NULL;
    set_s(c, "type", "ctContact");
    for (char *line = strtok_r(text.data, "\n", &save); line && !ended; line = strtok_r(NULL, "\n", &save)) {
        char *colon = NULL;
        int inq = 0;
        for (char *p = line; *p; p++) {
            if (*p == '"')
                inq = !inq;
            else if (*p == ':' && !inq) {
                colon = p;
                break;
            }
        }
        if (!colon)
            continue;
        *colon = '\0';
        const char *value = colon + 1;
        char *name = line;
        char *params = strchr(name, ';');
        if (params)
            *params++ = '\0';
        char *dot = strrchr(name, '.');
        if (dot)
            name = dot + 1;
        for (char *p = name; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        if (params)
            for (char *p = params; *p; p++)
                *p = (char)toupper((unsigned char)*p);
        const char *pr = params ? params : "";
        if (strcmp(name, "BEGIN") == 0) {
            begun = strcasecmp(value, "VCARD") == 0;
            continue;
        }
        if (!begun)
            continue;
        if (strcmp(name, "END") == 0) {
            ended = 1;
            continue;
        }
        const char *p = value;
        if (strcmp(name, "FN") == 0) {
            char *v = unescape_until(&p, '\0');
            set_s(c, "commonName", v);
            free(v);
        } else if (strcmp(name, "N") == 0) {
            const char *keys[] = { "surName", "firstName", "middleName", "titleBefore", "titleAfter" };
            for (size_t k = 0; k < 5; k++) {
                char *v = unescape_until(&p, ';');
                set_s(c, keys[k], v);
                free(v);
            }
        } else if (strcmp(name, "NICKNAME") == 0 || strcmp(name, "TITLE") == 0 || strcmp(name, "NOTE") == 0 ||
                   strcmp(name, "X-MANAGER") == 0 || strcmp(name, "X-ASSISTANT") == 0 || strcmp(name, "X-KERIO-IM") == 0 ||
                   strcmp(name, "UID") == 0 || strcmp(name, "X-KERIO-TYPE") == 0) {
            char *v = unescape_until(&p, '\0');
            const char *key = strcmp(name, "NICKNAME") == 0 ? "nickName" : strcmp(name, "TITLE") == 0 ? "profession"
                            : strcmp(name, "NOTE") == 0 ? "comment" : strcmp(name, "X-MANAGER") == 0 ? "managerName"
                            : strcmp(name, "X-ASSISTANT") == 0 ? "assistantName" : strcmp(name, "X-KERIO-IM") == 0 ? "IMAddress"
                            : strcmp(name, "X-KERIO-TYPE") == 0 ? "type" : NULL;
            if (key)
                set_s(c, key, strcmp(key, "type") == 0 && strcmp(v, "ctDistributionList") != 0 ? "ctContact" : v);
            else if (uid_out && !*uid_out)
                *uid_out = strdup(v);
            free(v);
        } else if (strcmp(name, "ORG") == 0) {
            char *a = unescape_until(&p, ';');
            char *b = unescape_until(&p, ';');
            set_s(c, "companyName", a);
            set_s(c, "departmentName", b);
            free(a);
            free(b);
        } else if (strcmp(name, "EMAIL") == 0) {
            char *v = unescape_until(&p, '\0');
            json_t *e = json_object();
            set_s(e, "address", v);
            set_s(e, "type", from_vcard_type(email_types, pr, "EmailOther"));
            json_object_set_new(e, "preferred", json_boolean(has_type(pr, "PREF")));
            json_array_append_new(emails, e);
            free(v);
        } else if (strcmp(name, "TEL") == 0) {
            char *v = unescape_until(&p, '\0');
            json_t *e = json_object();
            set_s(e, "type", from_vcard_type(phone_types, pr, "TypeOtherVoice"));
            set_s(e, "number", v);
            json_array_append_new(phones, e);
            free(v);
        } else if (strcmp(name, "ADR") == 0) {
            const char *keys[] = { "pobox", "extendedAddress", "street", "locality", "state", "zip", "country" };
            json_t *e = json_object();
            set_s(e, "type", from_vcard_type(addr_types, pr, "AddressOther"));
            json_object_set_new(e, "preferred", json_boolean(has_type(pr, "PREF")));
            for (size_t k = 0; k < 7; k++) {
                char *v = unescape_until(&p, ';');
                set_s(e, keys[k], v);
                free(v);
            }
            json_array_append_new(addrs, e);
        } else if (strcmp(name, "LABEL") == 0) {
            char *v = unescape_until(&p, '\0');
            json_t *last = json_array_get(addrs, json_array_size(addrs) ? json_array_size(addrs) - 1 : 0);
            if (last)
                set_s(last, "label", v);
            free(v);
        } else if (strcmp(name, "URL") == 0) {
            char *v = unescape_until(&p, '\0');
            json_t *e = json_object();
            set_s(e, "type", from_vcard_type(url_types, pr, "UrlOther"));
            set_s(e, "url", v);
            json_array_append_new(urls, e);
            free(v);
        } else if (strcmp(name, "BDAY") == 0 || strcmp(name, "X-ANNIVERSARY") == 0) {
            char *v = unescape_until(&p, '\0');
            date_to_kerio(v, c, strcmp(name, "BDAY") == 0 ? "birthDay" : "anniversary");
            free(v);
        } else if (strcmp(name, "CATEGORIES") == 0) {
            while (*p) {
                char *v = unescape_until(&p, ',');
                if (*v) {
                    json_t *s = json_string(v);
                    if (s)
                        json_array_append_new(cats, s);
                }
                free(v);
            }
        }
    }
    kbuf_free(&text);
    json_object_set_new(c, "emailAddresses", emails);
    json_object_set_new(c, "phoneNumbers", phones);
    json_object_set_new(c, "postalAddresses", addrs);
    json_object_set_new(c, "urls", urls);
    json_object_set_new(c, "categories", cats);
    if (!begun) {
        json_decref(c);
        if (uid_out) {
            free(*uid_out);
            *uid_out = NULL;
        }
        snprintf(err, errlen, "content is not a vCard");
        return -1;
    }
    *out = c;
    return 0;
}
