/* Streaming reading of EWS replies with libxml2's xmlTextReader: response messages one by
 * one, their headers (class, code, text, BackOffMilliseconds), SOAP faults, and payload
 * elements; plus the status class of each EWS ResponseCode. Nothing builds a tree of the
 * whole reply: the reader keeps only the current node. */
#include <libxml/xmlreader.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ews.h"

struct ews_reader {
    xmlTextReaderPtr r;
    FILE *f;
    int msg_depth;     /* depth of the current response message, -1 when none */
    int pending;       /* the current node is an element start not yet handed out */
    int msg_done;      /* the current message's end was read */
    int started;       /* the root was checked */
};

int ews_file_read(void *ctx, char *buf, int len)
{
    FILE *f = ctx;
    size_t n = fread(buf, 1, (size_t)len, f);
    return ferror(f) ? -1 : (int)n;
}

int ews_file_close(void *ctx)
{
    (void)ctx;
    return 0;
}

static void silent(void *arg, const char *msg, xmlParserSeverities sev, xmlTextReaderLocatorPtr loc)
{
    (void)arg;
    (void)msg;
    (void)sev;
    (void)loc;
}

struct ews_reader *ews_reader_open(FILE *f)
{
    struct ews_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->f = f;
    r->msg_depth = -1;
    r->r = xmlReaderForIO(ews_file_read, ews_file_close, f, "reply.xml", NULL,
                          XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_HUGE);
    if (!r->r) {
        free(r);
        return NULL;
    }
    xmlTextReaderSetErrorHandler(r->r, silent, NULL);
    return r;
}

void ews_reader_close(struct ews_reader *r)
{
    if (!r)
        return;
    xmlFreeTextReader(r->r);
    free(r);
}

static int is(struct ews_reader *r, const char *ns, const char *name)
{
    const xmlChar *ln = xmlTextReaderConstLocalName(r->r), *uri = xmlTextReaderConstNamespaceUri(r->r);
    return ln && !strcmp((const char *)ln, name) && (!ns || (uri && !strcmp((const char *)uri, ns)));
}

/* One node forward; -1 on malformed XML or a DTD (never accepted in a reply). */
static int adv(struct ews_reader *r)
{
    int rc = xmlTextReaderRead(r->r);
    if (rc == 1) {
        int t = xmlTextReaderNodeType(r->r);
        if (t == XML_READER_TYPE_DOCUMENT_TYPE || t == XML_READER_TYPE_ENTITY_REFERENCE)
            return -1;
        if (!r->started && t == XML_READER_TYPE_ELEMENT) {
            r->started = 1;
            if (!is(r, EWS_NS_SOAP, "Envelope"))
                return -1;
        }
    }
    return rc;
}

int ews_reader_depth(struct ews_reader *r) { return xmlTextReaderDepth(r->r); }
const char *ews_reader_name(struct ews_reader *r) { return (const char *)xmlTextReaderConstLocalName(r->r); }
int ews_reader_is_empty(struct ews_reader *r) { return xmlTextReaderIsEmptyElement(r->r) == 1; }

char *ews_reader_attr(struct ews_reader *r, const char *name)
{
    xmlChar *v = xmlTextReaderGetAttribute(r->r, (const xmlChar *)name);
    if (!v)
        return NULL;
    char *s = strdup((const char *)v);
    xmlFree(v);
    return s;
}

int ews_reader_text(struct ews_reader *r, char **out)
{
    *out = NULL;
    struct ebuf b = {0};
    if (!xmlTextReaderIsEmptyElement(r->r)) {
        int depth = xmlTextReaderDepth(r->r);
        for (;;) {
            int rc = adv(r);
            if (rc != 1) {
                eb_free(&b);
                return -1;
            }
            int t = xmlTextReaderNodeType(r->r);
            if (t == XML_READER_TYPE_END_ELEMENT && xmlTextReaderDepth(r->r) == depth)
                break;
            if (t == XML_READER_TYPE_TEXT || t == XML_READER_TYPE_CDATA ||
                t == XML_READER_TYPE_SIGNIFICANT_WHITESPACE || t == XML_READER_TYPE_WHITESPACE) {
                const xmlChar *v = xmlTextReaderConstValue(r->r);
                if (v)
                    eb_puts(&b, (const char *)v);
            }
        }
    }
    if (b.oom) {
        eb_free(&b);
        return -1;
    }
    *out = b.p ? b.p : strdup("");
    return *out ? 0 : -1;
}

int ews_reader_step(struct ews_reader *r, int depth)
{
    for (;;) {
        int rc = adv(r);
        if (rc != 1)
            return -1;
        int t = xmlTextReaderNodeType(r->r);
        int d = xmlTextReaderDepth(r->r);
        if (t == XML_READER_TYPE_END_ELEMENT)
            return d <= depth ? 0 : 2;
        if (t == XML_READER_TYPE_ELEMENT)
            return d > depth ? 1 : 0;
    }
}

static void copy(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "");
}

void ews_msg_settle(struct ews_msg *m, int warning)
{
    if (warning && strcmp(m->code, "NoError") != 0) {
        m->error = 1;
        if (!m->code[0])
            copy(m->code, sizeof m->code, "ErrorBatchProcessingStopped");
    }
}

/* Reads a MessageXml element for BackOffMilliseconds. */
static int message_xml(struct ews_reader *r, struct ews_msg *m)
{
    if (xmlTextReaderIsEmptyElement(r->r))
        return 0;
    int depth = xmlTextReaderDepth(r->r);
    for (;;) {
        int rc = ews_reader_step(r, depth);
        if (rc <= 0)
            return rc;
        if (rc == 1 && is(r, NULL, "Value")) {
            char *name = ews_reader_attr(r, "Name"), *v = NULL;
            if (ews_reader_text(r, &v)) {
                free(name);
                return -1;
            }
            if (name && !strcmp(name, "BackOffMilliseconds"))
                m->backoff_ms = (uint32_t)strtoul(v, NULL, 10);
            free(name);
            free(v);
        }
    }
}

/* The SOAP fault the reader is on: faultcode, faultstring, detail/ResponseCode, MessageXml. */
static int fault(struct ews_reader *r, struct ews_msg *m)
{
    memset(m, 0, sizeof *m);
    m->error = 1;
    int depth = xmlTextReaderDepth(r->r);
    for (;;) {
        int rc = ews_reader_step(r, depth);
        if (rc < 0)
            return -1;
        if (rc == 0)
            break;
        if (rc != 1)
            continue;
        char *v = NULL;
        if (is(r, NULL, "faultcode") || is(r, EWS_NS_E, "ResponseCode")) {
            int detail = is(r, EWS_NS_E, "ResponseCode");
            if (ews_reader_text(r, &v))
                return -1;
            const char *colon = strchr(v, ':');
            if (detail || !m->code[0])
                copy(m->code, sizeof m->code, colon ? colon + 1 : v);
        } else if (is(r, NULL, "faultstring")) {
            if (ews_reader_text(r, &v))
                return -1;
            copy(m->text, sizeof m->text, v);
        } else if (is(r, NULL, "MessageXml")) {
            if (message_xml(r, m) < 0)
                return -1;
        }
        free(v);
    }
    /* the rest of the document must still be well-formed */
    int rc;
    while ((rc = adv(r)) == 1)
        ;
    return rc == 0 ? -2 : -1;
}

static int is_message(struct ews_reader *r)
{
    const xmlChar *ln = xmlTextReaderConstLocalName(r->r), *uri = xmlTextReaderConstNamespaceUri(r->r);
    size_t n = ln ? strlen((const char *)ln) : 0;
    return n > 15 && !strcmp((const char *)ln + n - 15, "ResponseMessage") && uri &&
           !strcmp((const char *)uri, EWS_NS_M);
}

int ews_reader_next_msg(struct ews_reader *r, struct ews_msg *m)
{
    memset(m, 0, sizeof *m);
    /* finish the current message */
    if (r->msg_depth >= 0 && !r->msg_done) {
        if (r->pending && xmlTextReaderIsEmptyElement(r->r) && xmlTextReaderDepth(r->r) == r->msg_depth) {
            /* empty message element */
        } else {
            for (;;) {
                int rc = adv(r);
                if (rc != 1)
                    return -1;
                if (xmlTextReaderNodeType(r->r) == XML_READER_TYPE_END_ELEMENT &&
                    xmlTextReaderDepth(r->r) == r->msg_depth)
                    break;
            }
        }
    }
    r->msg_depth = -1;
    r->pending = 0;
    r->msg_done = 0;
    for (;;) {
        int rc = adv(r);
        if (rc == 0)
            return r->started ? 0 : -1;
        if (rc != 1)
            return -1;
        if (xmlTextReaderNodeType(r->r) != XML_READER_TYPE_ELEMENT)
            continue;
        if (is(r, EWS_NS_SOAP, "Fault"))
            return fault(r, m);
        if (is_message(r))
            break;
    }
    r->msg_depth = xmlTextReaderDepth(r->r);
    char *cls = ews_reader_attr(r, "ResponseClass");
    m->error = cls && !strcmp(cls, "Error");
    int warning = cls && !strcmp(cls, "Warning");
    free(cls);
    if (xmlTextReaderIsEmptyElement(r->r)) {
        r->msg_done = 1;
        ews_msg_settle(m, warning);
        return 1;
    }
    for (;;) {
        int rc = ews_reader_step(r, r->msg_depth);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            r->msg_done = 1;
            ews_msg_settle(m, warning);
            return 1;
        }
        if (rc != 1)
            continue;
        char *v = NULL;
        if (is(r, EWS_NS_M, "ResponseCode")) {
            if (ews_reader_text(r, &v))
                return -1;
            copy(m->code, sizeof m->code, v);
        } else if (is(r, EWS_NS_M, "MessageText")) {
            if (ews_reader_text(r, &v))
                return -1;
            copy(m->text, sizeof m->text, v);
        } else if (is(r, EWS_NS_M, "DescriptiveLinkKey")) {
            if (ews_reader_text(r, &v))
                return -1;
        } else if (is(r, EWS_NS_M, "MessageXml")) {
            if (message_xml(r, m) < 0)
                return -1;
        } else {
            r->pending = 1; /* first payload element */
            ews_msg_settle(m, warning);
            return 1;
        }
        free(v);
    }
}

int ews_reader_find(struct ews_reader *r, const char *const *names, int *which)
{
    if (r->msg_depth < 0 || r->msg_done)
        return 0;
    for (;;) {
        if (!r->pending) {
            int rc = adv(r);
            if (rc != 1)
                return -1;
        }
        r->pending = 0;
        int t = xmlTextReaderNodeType(r->r);
        if (t == XML_READER_TYPE_END_ELEMENT && xmlTextReaderDepth(r->r) <= r->msg_depth) {
            r->msg_done = 1;
            return 0;
        }
        if (t != XML_READER_TYPE_ELEMENT)
            continue;
        const char *ln = (const char *)xmlTextReaderConstLocalName(r->r);
        for (int i = 0; names[i]; i++)
            if (ln && !strcmp(ln, names[i])) {
                *which = i;
                return 1;
            }
    }
}

/* ---- status classes ---- */

outpost_status ews_status(struct ews *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    outpost_status st = {code, 0, code == OUTPOST_OK ? NULL : e->msg};
    return st;
}


int ews_code_class(const char *code)
{
    static const struct { const char *code; int cls; } map[] = {
        {"NoError", OUTPOST_OK},
        {"ErrorServerBusy", OUTPOST_THROTTLED},
        {"ErrorExceededConnectionCount", OUTPOST_THROTTLED},
        {"ErrorTooManyObjectsOpened", OUTPOST_THROTTLED},
        {"ErrorInvalidSyncStateData", OUTPOST_STATE_INVALID},
        {"ErrorInvalidSyncState", OUTPOST_STATE_INVALID}, /* not a ResponseCodeType value; taken as the same should a server send it */
        {"ErrorIrresolvableConflict", OUTPOST_CONFLICT},
        {"ErrorChangeKeyRequired", OUTPOST_CONFLICT}, /* UpdateItem without a ChangeKey (ItemId reference) */
        {"ErrorChangeKeyRequiredForWriteOperations", OUTPOST_CONFLICT},
        {"ErrorStaleObject", OUTPOST_CONFLICT},
        {"ErrorInvalidChangeKey", OUTPOST_CONFLICT},
        {"ErrorItemNotFound", OUTPOST_GONE},
        {"ErrorFolderNotFound", OUTPOST_GONE},
        {"ErrorSyncFolderNotFound", OUTPOST_GONE},
        {"ErrorInvalidIdMalformed", OUTPOST_GONE},
        {"ErrorMailboxStoreUnavailable", OUTPOST_TEMP},
        {"ErrorMailboxMoveInProgress", OUTPOST_TEMP},
        {"ErrorInternalServerTransientError", OUTPOST_TEMP},
        {"ErrorInternalServerError", OUTPOST_TEMP},
        {"ErrorTimeoutExpired", OUTPOST_TEMP},
        {"ErrorConnectionFailed", OUTPOST_TEMP},
        {"ErrorBatchProcessingStopped", OUTPOST_TEMP},
        {"ErrorAccessDenied", OUTPOST_BAD_DATA},
        {"ErrorNonExistentMailbox", OUTPOST_AUTH},
        {"ErrorInvalidServerVersion", OUTPOST_FATAL},
    };
    for (size_t i = 0; code && i < sizeof map / sizeof *map; i++)
        if (!strcmp(code, map[i].code))
            return map[i].cls;
    return OUTPOST_BAD_DATA;
}

outpost_status ews_msg_status(struct ews *e, const struct ews_msg *m, const char *what)
{
    int cls = ews_code_class(m->code[0] ? m->code : "ErrorInternalServerError");
    if (cls == OUTPOST_OK)
        cls = OUTPOST_BAD_DATA;
    outpost_status st = ews_status(e, cls, "%s: %s%s%s", what, m->code[0] ? m->code : "error",
                                   m->text[0] ? " — " : "", m->text);
    if (cls == OUTPOST_THROTTLED)
        st.retry_after_ms = m->backoff_ms ? m->backoff_ms : 5000;
    return st;
}

/* ---- one-message replies ---- */

void ews_simple_free(struct ews_simple *s)
{
    free(s->id);
    free(s->change_key);
    s->id = s->change_key = NULL;
}

outpost_status ews_parse_simple(struct ews *e, FILE *f, struct ews_simple *out, const char *what)
{
    memset(out, 0, sizeof *out);
    struct ews_reader *r = ews_reader_open(f);
    if (!r)
        return ews_status(e, OUTPOST_FATAL, "%s: out of memory", what);
    static const char *const ids[] = {"ItemId", "FolderId", NULL};
    struct ews_msg m;
    int rc;
    while ((rc = ews_reader_next_msg(r, &m)) == 1) {
        if (out->nmsgs++ == 0)
            out->m = m;
        if (out->nmsgs > 1 || m.error)
            continue;
        int which;
        int fr = ews_reader_find(r, ids, &which);
        if (fr < 0) {
            rc = -1;
            break;
        }
        if (fr == 1) {
            out->id = ews_reader_attr(r, "Id");
            out->change_key = ews_reader_attr(r, "ChangeKey");
        }
    }
    ews_reader_close(r);
    if (rc == -2) {
        out->m = m;
        ews_simple_free(out);
        return ews_msg_status(e, &m, what);
    }
    if (rc < 0 || out->nmsgs == 0) {
        ews_simple_free(out);
        out->unreadable = 1;
        return ews_status(e, OUTPOST_BAD_DATA, "%s: the server's reply is not a well-formed EWS response", what);
    }
    if (out->m.error) {
        outpost_status st = ews_msg_status(e, &out->m, what);
        ews_simple_free(out);
        return st;
    }
    return outpost_ok();
}

outpost_status ews_call_simple(struct ews *e, const char *op_xml, struct ews_simple *out, const char *what)
{
    return ews_call_simple_up(e, op_xml, NULL, out, what);
}

outpost_status ews_call_simple_up(struct ews *e, const char *op_xml, const struct ews_upload_src *up,
                                  struct ews_simple *out, const char *what)
{
    outpost_status st;
    for (int tries = 0;;) {
        FILE *reply = NULL;
        memset(out, 0, sizeof *out);
        st = ews_call_xml(e, op_xml, up, &reply, what);
        if (st.code == OUTPOST_OK) {
            st = ews_parse_simple(e, reply, out, what);
            fclose(reply);
        }
        if (!ews_busy_wait(e, &st, &tries, what))
            break;
    }
    if (st.code == OUTPOST_BAD_DATA && out->unreadable)
        /* Not a rejection: the server may have applied the write. The engine retries,
         * and its duplicate check (find) decides. */
        return ews_status(e, OUTPOST_TEMP, "%s: reply unreadable; the write is checked and retried", what);
    return st;
}

int ews_reader_stream_text(struct ews_reader *r, int (*cb)(void *ctx, const char *s, size_t n), void *ctx)
{
    if (xmlTextReaderIsEmptyElement(r->r))
        return 0;
    int depth = xmlTextReaderDepth(r->r);
    for (;;) {
        int rc = adv(r);
        if (rc != 1)
            return -1;
        int t = xmlTextReaderNodeType(r->r);
        if (t == XML_READER_TYPE_END_ELEMENT && xmlTextReaderDepth(r->r) == depth)
            return 0;
        if (t == XML_READER_TYPE_TEXT || t == XML_READER_TYPE_CDATA || t == XML_READER_TYPE_SIGNIFICANT_WHITESPACE) {
            const char *v = (const char *)xmlTextReaderConstValue(r->r);
            if (v && cb(ctx, v, strlen(v)))
                return -2;
        }
    }
}

int ews_reader_skip(struct ews_reader *r)
{
    if (xmlTextReaderIsEmptyElement(r->r))
        return 0;
    int depth = xmlTextReaderDepth(r->r);
    for (;;) {
        int rc = adv(r);
        if (rc != 1)
            return -1;
        if (xmlTextReaderNodeType(r->r) == XML_READER_TYPE_END_ELEMENT && xmlTextReaderDepth(r->r) == depth)
            return 0;
    }
}
