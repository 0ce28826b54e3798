/* GetItem replies of mail read with libxml2's SAX2 pull parser (see ews.h): per message its
 * header (class, code, text, BackOffMilliseconds), the mail item's metadata and its
 * MimeContent, decoded in pieces into the spool file. Nothing is kept of the document but
 * the open elements' depth and the text of the small property being read. The spool is then
 * replayed to the sink's callbacks without parsing the reply again. */
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <stdlib.h>
#include <string.h>

#include "ews.h"

struct mp {
    xmlParserCtxtPtr ctxt;
    int depth, bad, stopped, root_seen;
    int fault_depth;          /* depth of soap:Fault, 0 when none */
    int faulted;              /* a whole soap:Fault was read */
    int msg_depth, k;         /* current response message, -1 / its index */
    int msg_has_item, in_msgxml;
    int msg_warning;          /* the message's ResponseClass is Warning */
    int in_items;             /* depth of the message's m:Items, 0 when not inside */
    int item_depth;           /* current item element, -1 when none */
    char sub[32];             /* the item's child open at item_depth + 1 */
    int mime;                 /* inside MimeContent */
    struct b64dec dec;
    uint64_t mime_total;
    /* text of the element being captured */
    int cap_depth;            /* 0: not capturing */
    int cap_what;             /* enum cap */
    int cap_leaf;
    struct ebuf text;
    char *ext_tag, *ext_pname, *backoff_name;
    char *rcpt_name;          /* Name of the recipient Mailbox being read (To / Cc) */
    int max, n;
    struct ews_msg *m, fault;
    struct ews_item *it;
    int *have;
    /* decoded bytes, written to the spool in pieces of up to MAIL_CHUNK when `spooling` */
    FILE *spool;
    struct ews_mime_span *span;
    int spooling;
    unsigned char *out;
    size_t out_len;
};

#define MAIL_CHUNK (64u * 1024u)

enum cap { C_CODE, C_TEXT, C_BACKOFF, C_FAULTCODE, C_FAULTSTRING, C_FAULT_RC, C_LEAF, C_FLAG, C_EXT_VALUE, C_FROM_NAME,
           C_FROM_ADDR, C_RCPT_NAME, C_RCPT_ADDR };

static void stop(struct mp *p, int bad)
{
    if (bad)
        p->bad = 1;
    else
        p->stopped = 1;
    xmlStopParser(p->ctxt);
}

static int ns_is(const xmlChar *uri, const char *ns)
{
    return uri && !strcmp((const char *)uri, ns);
}

/* attributes: localname, prefix, URI, value, end per attribute */
static char *attr(const xmlChar **attrs, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp((const char *)attrs[i * 5], name)) {
            size_t len = (size_t)(attrs[i * 5 + 4] - attrs[i * 5 + 3]);
            char *v = malloc(len + 1);
            if (v) {
                memcpy(v, attrs[i * 5 + 3], len);
                v[len] = '\0';
            }
            return v;
        }
    return NULL;
}

static void capture(struct mp *p, int what)
{
    p->cap_depth = p->depth;
    p->cap_what = what;
    eb_reset(&p->text);
}

static int is_item_name(const char *ln)
{
    for (int i = 0; ews_item_names[i]; i++)
        if (!strcmp(ln, ews_item_names[i]))
            return 1;
    return 0;
}

static void copy(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "");
}

static struct ews_msg *cur_msg(struct mp *p)
{
    return &p->m[p->k];
}

static void on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri, int nb_ns,
                     const xmlChar **nss, int nb_attrs, int nb_defaulted, const xmlChar **attrs)
{
    (void)prefix;
    (void)nb_ns;
    (void)nss;
    (void)nb_defaulted;
    struct mp *p = ctx;
    const char *ln = (const char *)localname;
    int d = ++p->depth;
    if (p->bad || p->stopped)
        return;
    if (!p->root_seen) {
        p->root_seen = 1;
        if (strcmp(ln, "Envelope") || !ns_is(uri, EWS_NS_SOAP))
            stop(p, 1);
        return;
    }
    if (p->cap_depth || p->mime)
        return; /* markup inside a text property: its text is kept, the markup ignored */
    if (p->fault_depth) {
        if (!strcmp(ln, "faultcode"))
            capture(p, C_FAULTCODE);
        else if (!strcmp(ln, "faultstring"))
            capture(p, C_FAULTSTRING);
        else if (!strcmp(ln, "ResponseCode") && ns_is(uri, EWS_NS_E))
            capture(p, C_FAULT_RC);
        else if (!strcmp(ln, "Value")) {
            free(p->backoff_name);
            p->backoff_name = attr(attrs, nb_attrs, "Name");
            capture(p, C_BACKOFF);
        }
        return;
    }
    if (p->msg_depth < 0) {
        if (p->faulted)
            return;
        if (!strcmp(ln, "Fault") && ns_is(uri, EWS_NS_SOAP)) {
            p->fault_depth = d;
            memset(&p->fault, 0, sizeof p->fault);
            p->fault.error = 1;
            return;
        }
        size_t len = strlen(ln);
        if (len > 15 && !strcmp(ln + len - 15, "ResponseMessage") && ns_is(uri, EWS_NS_M)) {
            if (p->n >= p->max) {
                stop(p, 1);
                return;
            }
            p->k = p->n++;
            p->msg_depth = d;
            p->msg_has_item = 0;
            p->item_depth = -1;
            p->in_msgxml = 0;
            struct ews_msg *m = cur_msg(p);
            memset(m, 0, sizeof *m);
            char *cls = attr(attrs, nb_attrs, "ResponseClass");
            m->error = cls && !strcmp(cls, "Error");
            p->msg_warning = cls && !strcmp(cls, "Warning");
            p->in_items = 0;
            free(cls);
        }
        return;
    }
    if (p->item_depth < 0) {
        if (d == p->msg_depth + 1 && ns_is(uri, EWS_NS_M)) {
            if (!strcmp(ln, "ResponseCode"))
                capture(p, C_CODE);
            else if (!strcmp(ln, "MessageText"))
                capture(p, C_TEXT);
            else if (!strcmp(ln, "MessageXml"))
                p->in_msgxml = d;
            else if (!strcmp(ln, "Items"))
                p->in_items = d;
            return;
        }
        if (p->in_msgxml && !strcmp(ln, "Value")) {
            free(p->backoff_name);
            p->backoff_name = attr(attrs, nb_attrs, "Name");
            capture(p, C_BACKOFF);
            return;
        }
        /* the item: the element in m:Items whatever its name, else a known item element */
        int in_items = p->in_items && d == p->in_items + 1;
        if (!p->in_msgxml && !p->msg_has_item && d > p->msg_depth + 1 &&
            (in_items || (ns_is(uri, EWS_NS_T) && is_item_name(ln)))) {
            p->msg_has_item = 1;
            p->item_depth = d;
            ews_msg_settle(cur_msg(p), p->msg_warning);
            if (!p->m[p->k].error) {
                p->have[p->k] = 1;
                if (!(p->it[p->k].el = strdup(ln)))
                    stop(p, 1);
            }
        }
        return;
    }
    int rel = d - p->item_depth;
    struct ews_item *it = !p->have[p->k] ? NULL : &p->it[p->k];
    if (rel == 1) {
        copy(p->sub, sizeof p->sub, ln);
        if (!strcmp(ln, "MimeContent")) {
            p->mime = d;
            memset(&p->dec, 0, sizeof p->dec);
            p->mime_total = 0;
            p->out_len = 0;
            /* the first MimeContent of an item that came back is the one handed over */
            p->spooling = p->spool && it && !p->span[p->k].has;
            if (p->spooling)
                p->span[p->k].has = 1;
            return;
        }
        if (!it)
            return;
        if (!strcmp(ln, "ItemId")) {
            free(it->id);
            free(it->change_key);
            it->id = attr(attrs, nb_attrs, "Id");
            it->change_key = attr(attrs, nb_attrs, "ChangeKey");
        } else if (!strcmp(ln, "ParentFolderId")) {
            free(it->parent_id);
            it->parent_id = attr(attrs, nb_attrs, "Id");
        } else if (!strcmp(ln, "ExtendedProperty")) {
            free(p->ext_tag);
            free(p->ext_pname);
            p->ext_tag = p->ext_pname = NULL;
        } else if ((p->cap_leaf = ews_item_leaf_index(ln)) >= 0) {
            capture(p, C_LEAF);
        }
        return;
    }
    if (!it)
        return;
    if (rel == 2 && !strcmp(p->sub, "Flag") && !strcmp(ln, "FlagStatus")) {
        capture(p, C_FLAG);
    } else if (rel == 2 && !strcmp(p->sub, "ExtendedProperty")) {
        if (!strcmp(ln, "ExtendedFieldURI")) {
            free(p->ext_tag);
            free(p->ext_pname);
            p->ext_tag = attr(attrs, nb_attrs, "PropertyTag");
            p->ext_pname = attr(attrs, nb_attrs, "PropertyName");
        } else if (!strcmp(ln, "Value")) {
            capture(p, C_EXT_VALUE);
        }
    } else if (rel >= 2 && !strcmp(p->sub, "From")) {
        if (!strcmp(ln, "Name"))
            capture(p, C_FROM_NAME);
        else if (!strcmp(ln, "EmailAddress"))
            capture(p, C_FROM_ADDR);
    } else if (!strcmp(p->sub, "ToRecipients") || !strcmp(p->sub, "CcRecipients")) {
        if (rel == 2 && !strcmp(ln, "Mailbox")) {
            free(p->rcpt_name); /* Name is optional: none carries over from the mailbox before */
            p->rcpt_name = NULL;
        } else if (rel == 3 && !strcmp(ln, "Name")) {
            capture(p, C_RCPT_NAME);
        } else if (rel == 3 && !strcmp(ln, "EmailAddress")) {
            capture(p, C_RCPT_ADDR);
        }
    }
}

/* Appends one recipient ("Name <addr>", or the bare address) to a comma separated list. */
static int add_rcpt(char **list, const char *name, const char *addr)
{
    struct ebuf b = {0};
    if (*list && **list) {
        eb_puts(&b, *list);
        eb_puts(&b, ", ");
    }
    if (name && *name)
        eb_printf(&b, "%s <%s>", name, addr);
    else
        eb_puts(&b, addr);
    if (b.oom) {
        eb_free(&b);
        return -1;
    }
    free(*list);
    *list = b.p ? b.p : strdup("");
    return *list ? 0 : -1;
}

static void set_str(char **slot, const char *v)
{
    free(*slot);
    *slot = strdup(v);
}

/* The captured element ended: its text goes where it belongs. */
static void captured(struct mp *p)
{
    if (p->text.oom) {
        stop(p, 1);
        return;
    }
    const char *v = eb_str(&p->text);
    struct ews_msg *m = cur_msg(p);
    struct ews_item *it = p->item_depth >= 0 && p->have[p->k] ? &p->it[p->k] : NULL;
    switch (p->cap_what) {
    case C_CODE:
        if (m)
            copy(m->code, sizeof m->code, v);
        break;
    case C_TEXT:
        if (m)
            copy(m->text, sizeof m->text, v);
        break;
    case C_BACKOFF: {
        struct ews_msg *t = p->fault_depth ? &p->fault : m;
        if (t && p->backoff_name && !strcmp(p->backoff_name, "BackOffMilliseconds"))
            t->backoff_ms = (uint32_t)strtoul(v, NULL, 10);
        break;
    }
    case C_FAULTCODE: {
        const char *colon = strchr(v, ':');
        if (!p->fault.code[0])
            copy(p->fault.code, sizeof p->fault.code, colon ? colon + 1 : v);
        break;
    }
    case C_FAULT_RC: {
        const char *colon = strchr(v, ':');
        copy(p->fault.code, sizeof p->fault.code, colon ? colon + 1 : v);
        break;
    }
    case C_FAULTSTRING:
        copy(p->fault.text, sizeof p->fault.text, v);
        break;
    case C_LEAF:
        if (it)
            ews_item_set_leaf(it, p->cap_leaf, v);
        break;
    case C_FLAG:
        if (it)
            it->flag_status = ews_flag_status(v);
        break;
    case C_EXT_VALUE:
        if (it) {
            char *val = strdup(v);
            ews_item_ext(it, p->ext_tag, p->ext_pname, &val);
            free(val);
        }
        break;
    case C_FROM_NAME:
        if (it)
            set_str(&it->from_name, v);
        break;
    case C_FROM_ADDR:
        if (it)
            set_str(&it->from_addr, v);
        break;
    case C_RCPT_NAME:
        set_str(&p->rcpt_name, v);
        break;
    case C_RCPT_ADDR:
        if (it && *v && add_rcpt(!strcmp(p->sub, "ToRecipients") ? &it->to : &it->cc, p->rcpt_name, v))
            stop(p, 0);
        break;
    }
}

/* Writes the decoded bytes gathered so far to the spool (when spooling; dropped otherwise);
 * non-zero when the spool could not take them. */
static int flush(struct mp *p)
{
    if (p->out_len && p->spooling && fwrite(p->out, 1, p->out_len, p->spool) != p->out_len) {
        stop(p, 0);
        return -1;
    }
    p->out_len = 0;
    return 0;
}

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
    (void)localname;
    (void)prefix;
    (void)uri;
    struct mp *p = ctx;
    int d = p->depth--;
    if (p->bad || p->stopped)
        return;
    if (p->cap_depth == d) {
        p->cap_depth = 0;
        captured(p);
        return;
    }
    if (p->mime == d) {
        p->mime = 0;
        if (p->have[p->k] && !p->it[p->k].size)
            p->it[p->k].size = p->mime_total;
        if (flush(p))
            return;
        if (p->spooling)
            p->span[p->k].len = p->mime_total;
        p->spooling = 0;
        return;
    }
    if (p->item_depth == d) {
        p->item_depth = -1;
        free(p->ext_tag);
        free(p->ext_pname);
        p->ext_tag = p->ext_pname = NULL;
        return;
    }
    if (p->in_msgxml == d) {
        p->in_msgxml = 0;
        return;
    }
    if (p->in_items == d) {
        p->in_items = 0;
        return;
    }
    if (p->msg_depth == d) {
        p->msg_depth = -1;
        ews_msg_settle(&p->m[p->k], p->msg_warning);
        if (!p->m[p->k].error && !p->msg_has_item) {
            snprintf(p->m[p->k].code, sizeof p->m[p->k].code, "ErrorItemNotFound");
            p->m[p->k].error = 1;
        }
        return;
    }
    if (p->fault_depth == d) {
        p->fault_depth = 0; /* the fault was read; the rest must still be well-formed */
        p->faulted = 1;
    }
}

static void on_text(void *ctx, const xmlChar *ch, int len)
{
    struct mp *p = ctx;
    if (p->bad || p->stopped || len <= 0)
        return;
    if (p->mime) {
        while (len > 0) {
            int k = len > 4096 ? 4096 : len;
            if (p->out_len + (size_t)k > MAIL_CHUNK && flush(p))
                return;
            size_t got = b64dec_run(&p->dec, (const char *)ch, (size_t)k, p->out + p->out_len);
            ch += k;
            len -= k;
            if (p->dec.bad) {
                stop(p, 1);
                return;
            }
            p->mime_total += got;
            p->out_len += got;
        }
        return;
    }
    if (p->cap_depth)
        eb_add(&p->text, ch, (size_t)len);
}

static void on_dtd(void *ctx, const xmlChar *name, const xmlChar *ext, const xmlChar *sys)
{
    (void)name;
    (void)ext;
    (void)sys;
    stop(ctx, 1); /* a reply never carries a DTD */
}

static xmlEntityPtr on_entity(void *ctx, const xmlChar *name)
{
    (void)ctx;
    return xmlGetPredefinedEntity(name);
}

static void silent(void *ctx, xmlErrorPtr err)
{
    (void)ctx;
    (void)err;
}

int ews_xml_complete(FILE *f)
{
    struct mp p;
    memset(&p, 0, sizeof p);
    xmlSAXHandler sax;
    memset(&sax, 0, sizeof sax);
    sax.initialized = XML_SAX2_MAGIC; /* no content callbacks: nothing is built or kept */
    sax.internalSubset = on_dtd;
    sax.getEntity = on_entity;
    sax.serror = silent;
    rewind(f);
    p.ctxt = xmlCreateIOParserCtxt(&sax, &p, ews_file_read, ews_file_close, f, XML_CHAR_ENCODING_NONE);
    if (!p.ctxt)
        return -1;
    xmlCtxtUseOptions(p.ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_HUGE);
    xmlParseDocument(p.ctxt);
    int wf = p.ctxt->wellFormed && !p.bad;
    xmlFreeParserCtxt(p.ctxt);
    rewind(f);
    return wf ? 1 : 0;
}

static int run(struct mp *p, FILE *f)
{
    xmlSAXHandler sax;
    memset(&sax, 0, sizeof sax);
    sax.initialized = XML_SAX2_MAGIC;
    sax.startElementNs = on_start;
    sax.endElementNs = on_end;
    sax.characters = on_text;
    sax.cdataBlock = on_text;
    sax.internalSubset = on_dtd;
    sax.getEntity = on_entity;
    sax.serror = silent;
    p->msg_depth = -1;
    p->item_depth = -1;
    p->k = -1;
    rewind(f);
    p->ctxt = xmlCreateIOParserCtxt(&sax, p, ews_file_read, ews_file_close, f, XML_CHAR_ENCODING_NONE);
    if (!p->ctxt)
        return -1;
    xmlCtxtUseOptions(p->ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_HUGE);
    xmlParseDocument(p->ctxt);
    int wf = p->ctxt->wellFormed;
    xmlFreeParserCtxt(p->ctxt);
    p->ctxt = NULL;
    eb_free(&p->text);
    free(p->ext_tag);
    free(p->ext_pname);
    free(p->backoff_name);
    free(p->rcpt_name);
    if (p->stopped)
        return -3;
    if (p->bad || !wf || !p->root_seen)
        return -1;
    if (p->faulted)
        return -2;
    return 0;
}

int ews_mail_collect(FILE *f, int max, struct ews_msg *m, struct ews_item *it, int *have, int *n,
                     struct ews_msg *fault, FILE *spool, struct ews_mime_span *span)
{
    struct mp p;
    memset(&p, 0, sizeof p);
    p.max = max;
    p.m = m;
    p.it = it;
    p.have = have;
    p.spool = spool;
    p.span = span;
    if (span)
        memset(span, 0, (size_t)max * sizeof *span);
    /* room for one piece plus what one 4 KiB slice of base64 decodes to */
    if (!(p.out = malloc(MAIL_CHUNK + 3 * 1024 + 8)))
        return -3;
    int rc = run(&p, f);
    free(p.out);
    *n = p.n;
    /* item:Size is the item's size in the store (PR_MESSAGE_SIZE), not its MIME's: the
     * content handed over is the MimeContent, so its length is the size */
    for (int k = 0; span && k < p.n; k++)
        if (span[k].has && have[k])
            it[k].size = span[k].len;
    if (rc == -2 && fault)
        *fault = p.fault;
    rewind(f);
    if (rc == 0 && spool && fflush(spool))
        rc = -3;
    return rc;
}

int ews_mail_replay(FILE *spool, const struct ews_mime_span *span, int n, const struct ews_mail_cb *cb,
                    outpost_status *st)
{
    *st = outpost_ok();
    unsigned char *buf = malloc(MAIL_CHUNK);
    if (!buf) {
        outpost_status oom = {OUTPOST_FATAL, 0, "out of memory"};
        *st = oom;
        return -3;
    }
    int rc = spool && fseek(spool, 0, SEEK_SET) ? -1 : 0;
    for (int k = 0; rc == 0 && k < n; k++) {
        if (span[k].has) {
            if (cb->begin && (*st = cb->begin(cb->ctx, k)).code != OUTPOST_OK)
                rc = -3;
            for (uint64_t left = span[k].len; rc == 0 && left;) {
                size_t want = left < MAIL_CHUNK ? (size_t)left : MAIL_CHUNK;
                if (fread(buf, 1, want, spool) != want)
                    rc = -1;
                else if (cb->chunk && (*st = cb->chunk(cb->ctx, buf, want)).code != OUTPOST_OK)
                    rc = -3;
                left -= want;
            }
            if (rc == 0 && cb->end && (*st = cb->end(cb->ctx, k)).code != OUTPOST_OK)
                rc = -3;
        }
        if (rc == 0 && cb->msg_end && (*st = cb->msg_end(cb->ctx, k)).code != OUTPOST_OK)
            rc = -3;
    }
    free(buf);
    return rc;
}
