"""A strict checker of IMAP server responses, written from the formal syntax of RFC 3501 section 9 (with the
RFC 9051 section 9 forms an IMAP4rev1 server may also use where they do not conflict) and the ABNF of the
extensions the server advertises: LITERAL+ (RFC 7888), ID (RFC 2971), ENABLE (RFC 5161), NAMESPACE (RFC 2342),
UIDPLUS (RFC 4315), LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819), SPECIAL-USE (RFC 6154), CONDSTORE and
QRESYNC (RFC 7162), ESEARCH (RFC 4731), BINARY (RFC 3516), response codes of RFC 5530.

Client.read_response() reads one whole response (a line with its literals) from the socket and
check_response() parses it, raising GrammarError at the first byte that the grammar does not allow. The
parser also tracks the mailbox's message count (EXISTS/EXPUNGE/VANISHED) so that message numbers the server
sends out of range are reported as well.
"""
import base64
import re
import socket


class GrammarError(AssertionError):
    pass


CTL = set(range(0, 0x20)) | {0x7F}
ATOM_SPECIALS = set(b"(){ %*\"\\]") | CTL
QUOTED_SPECIALS = set(b"\"\\")
MONTHS = {b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"}


def is_atom_char(c):
    return c < 0x80 and c not in ATOM_SPECIALS


def is_astring_char(c):
    return is_atom_char(c) or c == ord("]")


def mutf7_decode(raw):
    """Decodes a mailbox name in modified UTF-7 (RFC 3501 5.1.3); raises ValueError when it is not."""
    out = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c < 0x20 or c > 0x7E:
            raise ValueError("byte 0x%02x is not printable US-ASCII" % c)
        if c != ord("&"):
            out.append(chr(c))
            i += 1
            continue
        j = raw.index(b"-", i + 1)
        if j == i + 1:
            out.append("&")
            i = j
        else:
            b64 = raw[i + 1:j]
            if not re.fullmatch(rb"[A-Za-z0-9+,]+", b64):
                raise ValueError("bad modified BASE64 %r" % b64)
            b = b64.replace(b",", b"/")
            pad = b + b"=" * (-len(b) % 4)
            data = base64.b64decode(pad)
            if len(data) % 2:
                raise ValueError("odd UTF-16 length in %r" % b64)
            # the unused bits of the last base64 digit must be zero and no extra digit may follow
            if base64.b64encode(data).rstrip(b"=") != b:
                raise ValueError("non-canonical modified BASE64 %r" % b64)
            text = data.decode("utf-16-be")
            for ch in text:
                if 0x20 <= ord(ch) <= 0x7E:
                    raise ValueError("printable US-ASCII %r encoded in modified BASE64" % ch)
            out.append(text)
            i = j
        i += 1
    return "".join(out)


class Parser:
    """Recursive descent over one response (bytes, literals inline as {n}CRLF<n bytes>)."""

    def __init__(self, data, caps, state):
        self.d = data
        self.i = 0
        self.caps = caps
        self.st = state

    # ---- primitives
    def fail(self, what):
        raise GrammarError("%s at byte %d: %r  <<HERE>>  %r" % (what, self.i, self.d[max(0, self.i - 60):self.i],
                                                                 self.d[self.i:self.i + 60]))

    def peek(self, n=1):
        return self.d[self.i:self.i + n]

    def at(self, s):
        return self.d[self.i:self.i + len(s)] == s

    def at_ci(self, s):
        return self.d[self.i:self.i + len(s)].upper() == s.upper()

    def expect(self, s, what=None):
        if not self.at(s):
            self.fail("expected %r%s" % (s, " (" + what + ")" if what else ""))
        self.i += len(s)

    def expect_ci(self, s):
        if not self.at_ci(s):
            self.fail("expected %r" % s)
        self.i += len(s)

    def sp(self):
        self.expect(b" ", "SP")

    def crlf(self):
        self.expect(b"\r\n", "CRLF")

    def _run(self, ok, what):
        """The longest run of bytes that ok() accepts, at least one."""
        j = self.i
        while j < len(self.d) and ok(self.d[j]):
            j += 1
        if j == self.i:
            self.fail("expected " + what)
        a = self.d[self.i:j]
        self.i = j
        return a

    def atom(self):
        return self._run(is_atom_char, "an atom")

    def _digits(self, limit, what):
        m = re.compile(rb"\d+").match(self.d, self.i)
        if not m:
            self.fail("expected a " + what)
        self.i = m.end()
        v = int(m.group())
        if v > limit:
            self.fail(what + " out of range")
        return v

    def number(self):
        return self._digits(4294967295, "number")  # 32-bit (RFC 3501 9)

    def number64(self):
        return self._digits(9223372036854775807, "number64")  # 63-bit (RFC 7162, RFC 9051)

    def nz_number(self):
        if self.at(b"0"):
            self.fail("nz-number starting with 0")
        return self.number()

    def nil(self):
        if self.at_ci(b"NIL") and not (self.i + 3 < len(self.d) and is_atom_char(self.d[self.i + 3])):
            self.i += 3
            return True
        return False

    def quoted(self):
        self.expect(b'"')
        out = bytearray()
        while True:
            if self.i >= len(self.d):
                self.fail("unterminated quoted string")
            c = self.d[self.i]
            if c == ord('"'):
                self.i += 1
                return bytes(out)
            if c == ord("\\"):
                n = self.d[self.i + 1] if self.i + 1 < len(self.d) else 0
                if n not in QUOTED_SPECIALS:
                    self.fail("backslash before a character that is not a quoted-special")
                out.append(n)
                self.i += 2
                continue
            if c in (0x0D, 0x0A, 0):
                self.fail("CR/LF/NUL inside a quoted string")
            if c >= 0x80 and "UTF8=ACCEPT" not in self.st.enabled:
                self.fail("8-bit byte inside a quoted string (needs a literal)")
            out.append(c)
            self.i += 1

    def literal(self, binary=False):
        if binary and self.at(b"~{"):
            self.i += 1
        self.expect(b"{")
        n = self.number()
        if self.at(b"+"):
            self.fail("a server does not send non-synchronizing literals")
        self.expect(b"}")
        self.crlf()
        data = self.d[self.i:self.i + n]
        if len(data) != n:
            self.fail("literal shorter than announced")
        if not binary and 0 in data:
            self.fail("NUL inside a literal (CHAR8 is %x01-ff)")
        self.i += n
        return data

    def string(self):
        if self.at(b'"'):
            return self.quoted()
        if self.at(b"{"):
            return self.literal()
        self.fail("expected a string")

    def nstring(self):
        if self.nil():
            return None
        return self.string()

    def astring(self):
        if self.at(b'"') or self.at(b"{"):
            return self.string()
        return self._run(is_astring_char, "an astring")

    def mailbox(self):
        name = self.astring()
        if name.upper() == b"INBOX":
            return "INBOX"
        try:
            return mutf7_decode(name)
        except ValueError as e:
            self.fail("mailbox name %r is not modified UTF-7: %s" % (name, e))

    def text(self, allow_empty=False):
        j = self.i
        while j < len(self.d) and self.d[j] not in (0x0D, 0x0A):
            if self.d[j] == 0 or self.d[j] >= 0x80:
                self.i = j
                self.fail("text holds a byte that is not TEXT-CHAR")
            j += 1
        if j == self.i and not allow_empty:
            self.fail("empty text (text = 1*TEXT-CHAR)")
        t = self.d[self.i:j]
        self.i = j
        return t

    def paren_list(self, item, allow_empty=True):
        self.expect(b"(")
        out = []
        if self.at(b")"):
            if not allow_empty:
                self.fail("empty list")
            self.i += 1
            return out
        out.append(item())
        while self.at(b" "):
            self.i += 1
            out.append(item())
        self.expect(b")")
        return out

    # ---- sets
    def seq_number(self, allow_star=True):
        if self.at(b"*"):
            if not allow_star:
                self.fail("'*' not allowed here")
            self.i += 1
            return "*"
        return self.nz_number()

    def sequence_set(self, allow_star=True):
        out = []
        while True:
            a = self.seq_number(allow_star)
            if self.at(b":"):
                self.i += 1
                b = self.seq_number(allow_star)
                out.append((a, b))
            else:
                out.append((a, a))
            if not self.at(b","):
                return out
            self.i += 1

    def uid_set(self):
        return self.sequence_set(allow_star=False)

    # ---- flags
    def flag(self, perm=False, fetch=False):
        if self.at(b"\\"):
            self.i += 1
            if perm and self.at(b"*"):
                self.i += 1
                return "\\*"
            a = self.atom()
            if a.upper() == b"RECENT" and not fetch:
                self.fail("\\Recent is not a flag a client may set (flag-perm / flag)")
            return "\\" + a.decode()
        return self.atom().decode()

    def flag_list(self, perm=False, fetch=False):
        return self.paren_list(lambda: self.flag(perm, fetch))

    # ---- response text codes
    def resp_text(self, allow_empty=False):
        code = None
        if self.at(b"["):
            self.i += 1
            code = self.resp_text_code()
            self.expect(b"]")
            if self.at(b" "):
                self.i += 1
                self.text(allow_empty=True)  # RFC 9051 makes text after a code optional
            elif not self.at(b"\r\n"):
                self.fail("expected SP after the response code")
            return code
        self.text(allow_empty=allow_empty)
        return code

    def resp_text_code(self):
        a = self.atom().upper()
        if a in (b"ALERT", b"PARSE", b"READ-ONLY", b"READ-WRITE", b"TRYCREATE", b"UIDNOTSTICKY", b"NOMODSEQ",
                 b"CLOSED", b"UNAVAILABLE", b"AUTHENTICATIONFAILED", b"AUTHORIZATIONFAILED", b"EXPIRED",
                 b"PRIVACYREQUIRED", b"CONTACTADMIN", b"NOPERM", b"INUSE", b"EXPUNGEISSUED", b"CORRUPTION",
                 b"SERVERBUG", b"CLIENTBUG", b"CANNOT", b"LIMIT", b"OVERQUOTA", b"ALREADYEXISTS",
                 b"NONEXISTENT", b"HASCHILDREN", b"NOTSAVED", b"UNKNOWN-CTE", b"COMPRESSIONACTIVE",
                 b"USEATTR"):
            return (a,)
        if a == b"BADCHARSET":
            if self.at(b" "):
                self.i += 1
                self.paren_list(self.astring, allow_empty=False)
            return (a,)
        if a == b"CAPABILITY":
            return (a, self.capabilities())
        if a == b"PERMANENTFLAGS":
            self.sp()
            return (a, self.flag_list(perm=True))
        if a in (b"UIDNEXT", b"UIDVALIDITY", b"UNSEEN"):
            self.sp()
            return (a, self.nz_number())
        if a == b"HIGHESTMODSEQ":
            self.need("CONDSTORE", a)
            self.sp()
            v = self.number64()
            if v == 0:
                self.fail("mod-sequence-value 0")
            return (a, v)
        if a == b"MODIFIED":
            self.need("CONDSTORE", a)
            self.sp()
            return (a, self.sequence_set(allow_star=False))
        if a == b"APPENDUID":
            self.need("UIDPLUS", a)
            self.sp()
            v = self.nz_number()
            self.sp()
            return (a, v, self.uid_set())
        if a == b"COPYUID":
            self.need("UIDPLUS", a)
            self.sp()
            v = self.nz_number()
            self.sp()
            src = self.uid_set()
            self.sp()
            dst = self.uid_set()
            return (a, v, src, dst)
        # atom [SP 1*<any TEXT-CHAR except "]">]
        if self.at(b" "):
            self.i += 1
            j = self.i
            while j < len(self.d) and self.d[j] not in (0x0D, 0x0A, ord("]")):
                if self.d[j] >= 0x80 or self.d[j] == 0:
                    self.fail("8-bit byte in a response code")
                j += 1
            if j == self.i:
                self.fail("empty response code argument")
            self.i = j
        return (a,)

    def need(self, cap, what):
        if cap not in self.caps:
            self.fail("%s sent but %s is not advertised" % (what.decode() if isinstance(what, bytes) else what, cap))

    def capabilities(self):
        caps = []
        while self.at(b" "):
            self.i += 1
            caps.append(self.atom().decode().upper())
        if "IMAP4REV1" not in caps and "IMAP4REV2" not in caps:
            self.fail("capability list without IMAP4rev1")
        return caps

    # ---- envelope / body
    def address_list(self):
        if self.nil():
            return None
        self.expect(b"(")
        addrs = []
        depth = 0
        while True:
            self.expect(b"(", "address")
            name = self.nstring()
            self.sp()
            self.nstring()
            self.sp()
            mbox = self.nstring()
            self.sp()
            host = self.nstring()
            self.expect(b")")
            if host is None:
                if mbox is None:
                    if depth == 0:
                        self.fail("end of group without its start")
                    depth -= 1
                else:
                    if name is not None:
                        self.fail("group start with a non-NIL addr-name")
                    depth += 1
            addrs.append((name, mbox, host))
            if self.at(b")"):
                break
        if depth:
            self.fail("group not ended")
        self.expect(b")")
        return addrs

    def envelope(self):
        self.expect(b"(")
        self.nstring()  # date
        self.sp()
        self.nstring()  # subject
        for _ in range(6):
            self.sp()
            self.address_list()
        self.sp()
        self.nstring()  # in-reply-to
        self.sp()
        self.nstring()  # message-id
        self.expect(b")")

    def body_fld_param(self):
        if self.nil():
            return None

        def pair():
            k = self.string()
            self.sp()
            v = self.string()
            return (k, v)
        return self.paren_list(pair, allow_empty=False)

    def body_fld_dsp(self):
        if self.nil():
            return
        self.expect(b"(")
        self.string()
        self.sp()
        self.body_fld_param()
        self.expect(b")")

    def body_fld_lang(self):
        if self.at(b"("):
            self.paren_list(self.string, allow_empty=False)
        else:
            self.nstring()

    def body_extension(self):
        if self.at(b"("):
            self.paren_list(self.body_extension, allow_empty=False)
        elif self.peek().isdigit():
            self.number64()
        else:
            self.nstring()

    def body_ext_tail(self):
        # [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc *(SP body-extension)]]]
        if not self.at(b" "):
            return
        self.i += 1
        self.body_fld_dsp()
        if not self.at(b" "):
            return
        self.i += 1
        self.body_fld_lang()
        if not self.at(b" "):
            return
        self.i += 1
        self.nstring()
        while self.at(b" "):
            self.i += 1
            self.body_extension()

    def body(self, ext, path=(), top=True):
        """body; records (part path, body-fld-octets) of every non-multipart part in self.parts."""
        self.expect(b"(", "body")
        if self.at(b"("):
            n = 0
            while self.at(b"("):
                n += 1
                self.body(ext, path + (n,), False)
            self.sp()
            sub = self.string()
            if ext and self.at(b" "):
                self.i += 1
                self.body_fld_param()
                self.body_ext_tail()
            elif not ext and self.at(b" "):
                self.fail("extension data in BODY (non-extensible form)")
            self.expect(b")")
            return ("MULTIPART", sub)
        typ = self.string()
        self.sp()
        sub = self.string()
        self.sp()
        self.body_fld_param()
        self.sp()
        self.nstring()  # id
        self.sp()
        self.nstring()  # description
        self.sp()
        self.string()  # encoding
        self.sp()
        octets = self.number()
        mypath = path + (1,) if top else path
        self.parts.append((mypath, octets))
        if typ.upper() == b"MESSAGE" and sub.upper() in (b"RFC822", b"GLOBAL"):
            self.sp()
            self.envelope()
            self.sp()
            # the encapsulated message's parts: its multipart children are mypath.n, a single body mypath.1
            self.body(ext, mypath, True)
            self.sp()
            self.number64()
        elif typ.upper() == b"TEXT":
            self.sp()
            self.number64()
        if ext and self.at(b" "):
            self.i += 1
            self.nstring()  # md5
            self.body_ext_tail()
        elif not ext and self.at(b" "):
            self.fail("extension data or a stray item in BODY")
        self.expect(b")")
        return (typ, sub)

    def section(self):
        self.expect(b"[")
        if self.at(b"]"):
            self.i += 1
            return b""
        start = self.i
        part = False
        while self.peek().isdigit():
            self.nz_number()
            part = True
            if self.at(b"."):
                self.i += 1
            else:
                break
        if part and self.d[self.i - 1:self.i] != b"." and self.at(b"]"):
            self.i += 1
            return self.d[start:self.i - 1]
        if self.at_ci(b"HEADER.FIELDS.NOT") or self.at_ci(b"HEADER.FIELDS"):
            self.i += 17 if self.at_ci(b"HEADER.FIELDS.NOT") else 13
            self.sp()
            self.paren_list(self.astring, allow_empty=False)
        elif self.at_ci(b"HEADER"):
            self.i += 6
        elif self.at_ci(b"TEXT"):
            self.i += 4
        elif part and self.at_ci(b"MIME"):
            self.i += 4
        else:
            self.fail("bad section-spec")
        self.expect(b"]")
        return self.d[start:self.i - 1]

    def date_time(self):
        self.expect(b'"')
        m = re.compile(rb'([ \d]\d)-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d{4})"').match(self.d, self.i)
        if not m or m.group(2) not in MONTHS:
            self.fail("bad date-time")
        if m.group(1)[0:1] == b"0":
            pass  # date-day-fixed is (SP DIGIT) / 2DIGIT: "05" is fine
        self.i = m.end()

    def msg_att(self, msgno):
        seen = set()
        self.expect(b"(")
        while True:
            name = self.fetch_att_name()
            key = name
            if key in seen and not key.startswith("BODY[") and not key.startswith("BINARY"):
                self.fail("FETCH item %s twice" % key)
            seen.add(key)
            if self.at(b")"):
                break
            self.sp()
        self.expect(b")")
        return seen

    def fetch_att_name(self):
        a = bytearray()
        while self.i < len(self.d) and (self.d[self.i:self.i + 1].isalnum() or self.d[self.i] in b".-"):
            a.append(self.d[self.i])
            self.i += 1
        a = bytes(a).upper()
        if a == b"FLAGS":
            self.sp()
            self.flag_list(fetch=True)
        elif a == b"ENVELOPE":
            self.sp()
            self.envelope()
        elif a == b"INTERNALDATE":
            self.sp()
            self.date_time()
        elif a in (b"RFC822", b"RFC822.HEADER", b"RFC822.TEXT"):
            self.sp()
            self.nstring()
        elif a == b"RFC822.SIZE":
            self.sp()
            self.number64()
        elif a in (b"BODY", b"BODYSTRUCTURE") and not self.at(b"["):
            self.sp()
            self.parts = []
            self.body(ext=(a == b"BODYSTRUCTURE"))
            self.st.parts = self.parts
        elif a in (b"BODY", b"BODYSTRUCTURE"):
            if a == b"BODY" and self.at(b"["):
                sec = self.section()
                if self.at(b"<"):
                    self.i += 1
                    self.number()
                    self.expect(b">")
                self.sp()
                self.nstring()
                return "BODY[%s]" % sec.decode(errors="replace")
            self.sp()
            self.body(ext=(a == b"BODYSTRUCTURE"))
        elif a == b"UID":
            self.sp()
            self.nz_number()
        elif a == b"MODSEQ":
            self.need("CONDSTORE", a)
            self.sp()
            self.expect(b"(")
            v = self.number64()
            if v == 0:
                self.fail("MODSEQ 0")
            self.expect(b")")
        elif a in (b"BINARY", b"BINARY.SIZE"):
            self.need("BINARY", a)
            self.expect(b"[")
            while self.peek().isdigit():
                self.nz_number()
                if self.at(b"."):
                    self.i += 1
            self.expect(b"]")
            if a == b"BINARY":
                if self.at(b"<"):
                    self.i += 1
                    self.number()
                    self.expect(b">")
                self.sp()
                if not self.nil():
                    if self.at(b"~{"):
                        self.literal(binary=True)
                    else:
                        self.string()
            else:
                self.sp()
                self.number()
            return a.decode()
        else:
            self.fail("unknown FETCH item %r" % a)
        return a.decode()

    # ---- status / list
    def status_att_list(self):
        def item():
            a = self.atom().upper()
            if a not in (b"MESSAGES", b"UIDNEXT", b"UIDVALIDITY", b"UNSEEN", b"RECENT", b"HIGHESTMODSEQ", b"SIZE",
                         b"DELETED", b"APPENDLIMIT"):
                self.fail("unknown STATUS item %r" % a)
            self.sp()
            if a == b"HIGHESTMODSEQ":
                self.need("CONDSTORE", a)
                self.number64()
            elif a == b"APPENDLIMIT" and self.nil():
                pass
            else:
                self.number()
            return a
        items = self.paren_list(item)
        if len(set(items)) != len(items):
            self.fail("STATUS item repeated")
        return items

    def tagged_ext_val(self):
        # tagged-ext-simple (sequence-set / number / number64) or "(" [tagged-ext-comp] ")"
        if self.at(b"("):
            self.expect(b"(")
            if not self.at(b")"):
                self.tagged_ext_comp()
            self.expect(b")")
        elif self.peek().isdigit() or self.at(b"*"):
            self.sequence_set()
        else:
            self.fail("bad tagged-ext-val")

    def tagged_ext_comp(self):
        while True:
            if self.at(b"("):
                self.expect(b"(")
                self.tagged_ext_comp()
                self.expect(b")")
            else:
                self.astring()
            if not self.at(b" "):
                return
            self.i += 1

    def mailbox_list(self):
        flags = self.paren_list(lambda: (self.expect(b"\\"), "\\" + self.atom().decode())[1])
        up = [f.upper() for f in flags]
        for a, b in (("\\NOSELECT", "\\MARKED"), ("\\NOSELECT", "\\UNMARKED"), ("\\MARKED", "\\UNMARKED"),
                     ("\\HASCHILDREN", "\\HASNOCHILDREN"), ("\\NOINFERIORS", "\\HASCHILDREN")):
            if a in up and b in up:
                self.fail("LIST attributes %s and %s together" % (a, b))
        if len(set(up)) != len(up):
            self.fail("LIST attribute repeated")
        self.sp()
        delim = None
        if not self.nil():
            self.expect(b'"')
            if self.at(b"\\"):
                self.i += 1
                if self.peek() not in (b'"', b"\\"):
                    self.fail("bad quoted delimiter")
            elif self.peek() in (b'"', b"\r", b"\n") or self.peek()[0] >= 0x80:
                self.fail("bad delimiter character")
            delim = self.peek()
            self.i += 1
            self.expect(b'"')
        self.sp()
        name = self.mailbox()
        ext = []
        if self.at(b" "):
            self.need("LIST-EXTENDED", "mbox-list-extended")
            self.i += 1
            self.expect(b"(")
            while not self.at(b")"):
                tag = self.astring().upper()
                self.sp()
                if tag == b"CHILDINFO":
                    self.paren_list(self.string, allow_empty=False)
                elif tag == b"OLDNAME":
                    self.expect(b"(")
                    self.mailbox()
                    self.expect(b")")
                else:
                    self.tagged_ext_val()
                ext.append(tag)
                if self.at(b" "):
                    self.i += 1
            self.expect(b")")
        return flags, delim, name, ext

    # ---- responses
    def response(self):
        """One response; returns a tuple describing it."""
        if self.at(b"+"):
            self.i += 1
            if self.at(b" "):
                self.i += 1
                self.text(allow_empty=True)
            elif not self.at(b"\r\n"):
                self.fail("bad continuation request")
            self.crlf()
            return ("+",)
        if self.at(b"* "):
            self.i += 2
            r = self.untagged()
            self.crlf()
            return r
        tag = bytearray()
        while self.i < len(self.d) and is_astring_char(self.d[self.i]) and self.d[self.i] != ord("+"):
            tag.append(self.d[self.i])
            self.i += 1
        if not tag:
            self.fail("expected '*', '+' or a tag")
        self.sp()
        st = self.atom().upper()
        if st not in (b"OK", b"NO", b"BAD"):
            self.fail("tagged response is not OK/NO/BAD")
        self.sp()
        code = self.resp_text()
        self.crlf()
        return ("tagged", bytes(tag).decode(), st.decode(), code)

    def untagged(self):
        if self.peek().isdigit():
            n = self.number()
            self.sp()
            w = self.atom().upper()
            if w == b"EXISTS":
                self.st.exists = n
                return ("EXISTS", n)
            if w == b"RECENT":
                if n > self.st.exists:
                    self.fail("RECENT %d > EXISTS %d" % (n, self.st.exists))
                return ("RECENT", n)
            if w == b"EXPUNGE":
                if n == 0 or n > self.st.exists:
                    self.fail("EXPUNGE %d with %d messages" % (n, self.st.exists))
                if "QRESYNC" in self.st.enabled:
                    self.fail("EXPUNGE after ENABLE QRESYNC (VANISHED must be used)")
                self.st.exists -= 1
                return ("EXPUNGE", n)
            if w == b"FETCH":
                if n == 0 or n > self.st.exists:
                    self.fail("FETCH of message %d with %d messages" % (n, self.st.exists))
                self.sp()
                items = self.msg_att(n)
                return ("FETCH", n, items)
            self.fail("unknown numbered response %r" % w)
        w = self.atom().upper()
        if w in (b"OK", b"NO", b"BAD", b"BYE", b"PREAUTH"):
            self.sp()
            code = self.resp_text()
            return (w.decode(), code)
        if w == b"CAPABILITY":
            return ("CAPABILITY", self.capabilities())
        if w == b"FLAGS":
            self.sp()
            return ("FLAGS", self.flag_list())
        if w in (b"LIST", b"LSUB"):
            self.sp()
            return (w.decode(),) + self.mailbox_list()
        if w == b"STATUS":
            self.sp()
            name = self.mailbox()
            self.sp()
            return ("STATUS", name, self.status_att_list())
        if w == b"SEARCH":
            nums = []
            while self.at(b" ") and self.peek(2)[1:2].isdigit():
                self.i += 1
                nums.append(self.nz_number())
            if self.at(b" ("):
                self.need("CONDSTORE", "SEARCH MODSEQ")
                self.i += 2
                self.expect_ci(b"MODSEQ")
                self.sp()
                self.number64()
                self.expect(b")")
            return ("SEARCH", nums)
        if w == b"ESEARCH":
            self.need("ESEARCH", w)
            while self.at(b" "):
                self.i += 1
                if self.at(b"("):
                    self.expect(b"(TAG ")
                    self.string()
                    self.expect(b")")
                    continue
                self.atom()
                if self.at(b" "):
                    self.i += 1
                    self.tagged_ext_val()
            return ("ESEARCH",)
        if w == b"ENABLED":
            self.need("ENABLE", w)
            caps = []
            while self.at(b" "):
                self.i += 1
                caps.append(self.atom().decode().upper())
            self.st.enabled.update(caps)
            return ("ENABLED", caps)
        if w == b"ID":
            self.need("ID", w)
            self.sp()
            if not self.nil():
                def pair():
                    self.string()
                    self.sp()
                    self.nstring()
                self.paren_list(pair, allow_empty=False)
            return ("ID",)
        if w == b"NAMESPACE":
            self.need("NAMESPACE", w)
            for k in range(3):
                self.sp()
                if self.nil():
                    continue

                def descr():
                    self.expect(b"(")
                    self.string()
                    self.sp()
                    if not self.nil():
                        self.expect(b'"')
                        if self.at(b"\\"):
                            self.i += 1
                        self.i += 1
                        self.expect(b'"')
                    while self.at(b" "):
                        self.i += 1
                        self.string()
                        self.sp()
                        self.paren_list(self.string, allow_empty=False)
                    self.expect(b")")
                self.expect(b"(")
                while self.at(b"("):
                    descr()
                self.expect(b")")
            return ("NAMESPACE",)
        if w == b"VANISHED":
            self.need("QRESYNC", w)
            if "QRESYNC" not in self.st.enabled:
                self.fail("VANISHED before ENABLE QRESYNC")
            self.sp()
            earlier = False
            if self.at(b"("):
                self.expect_ci(b"(EARLIER)")
                self.sp()
                earlier = True
            uids = self.uid_set()
            if not earlier:
                n = sum(b - a + 1 for a, b in ((min(x), max(x)) for x in uids))
                if n > self.st.exists:
                    self.fail("VANISHED of %d UIDs with %d messages" % (n, self.st.exists))
                self.st.exists -= n
            return ("VANISHED", earlier, uids)
        self.fail("unknown untagged response %r" % w)


class State:
    def __init__(self):
        self.exists = 0
        self.enabled = set()
        self.parts = []  # (part path, body-fld-octets) of the last BODY/BODYSTRUCTURE parsed


def check_response(data, caps, state):
    p = Parser(data, caps, state)
    r = p.response()
    if p.i != len(data):
        p.fail("trailing bytes after the response")
    return r


class Client:
    """A raw IMAP client that checks every response the server sends."""

    def __init__(self, port, log=None):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=15)
        self.buf = b""
        self.caps = set()
        self.state = State()
        self.n = 0
        self.log = log
        self.count = 0
        g = self.read_response()
        r = check_response(g, {"IMAP4REV1"}, self.state)
        if r[0] not in ("OK", "PREAUTH"):
            raise GrammarError("greeting %r" % g)
        if r[1] and r[1][0] == b"CAPABILITY":
            self.caps = set(r[1][1])
        self.greeting = g

    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError("server closed the connection")
        self.buf += d

    def read_response(self):
        """One response with its literals, bytes up to and including the final CRLF."""
        out = b""
        while True:
            while b"\r\n" not in self.buf:
                self._fill()
            line, self.buf = self.buf.split(b"\r\n", 1)
            out += line + b"\r\n"
            m = re.search(rb"~?\{(\d+)\+?\}$", line)
            if not m:
                return out
            n = int(m.group(1))
            while len(self.buf) < n:
                self._fill()
            out += self.buf[:n]
            self.buf = self.buf[n:]

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def next(self):
        raw = self.read_response()
        self.count += 1
        try:
            r = check_response(raw, self.caps or {"IMAP4REV1"}, self.state)
        except GrammarError as e:
            raise GrammarError("%s\n  in response: %r" % (e, raw[:600]))
        if r[0] == "CAPABILITY":
            self.caps = set(r[1])
        elif r[0] in ("OK", "tagged") and r[-1] and r[-1][0] == b"CAPABILITY":
            self.caps = set(r[-1][1])
        return r, raw

    def cmd(self, text, literals=()):
        """Sends a command (text may hold {n} markers for literals sent after the continuation, or {n+}
        LITERAL+ literals); returns (status, untagged [(parsed, raw)], tagged raw)."""
        self.n += 1
        tag = "g%d" % self.n
        parts = re.split(rb"(\{\d+\+?\}\r\n)", (tag + " " + text).encode() if isinstance(text, str)
                         else tag.encode() + b" " + text)
        lits = list(literals)
        self.send(parts[0])
        untagged = []
        k = 1
        while k < len(parts):
            self.send(parts[k])
            if b"+" not in parts[k]:
                while True:
                    r, raw = self.next()
                    if r[0] == "+":
                        break
                    if r[0] == "tagged":
                        return r[2], untagged, raw
                    untagged.append((r, raw))
            self.send(lits.pop(0))
            self.send(parts[k + 1])
            k += 2
        self.send(b"\r\n")
        return self.until(tag, untagged)

    def until(self, tag, untagged=None):
        untagged = [] if untagged is None else untagged
        while True:
            r, raw = self.next()
            if r[0] == "tagged":
                if r[1] != tag:
                    raise GrammarError("tagged response for %s while waiting for %s" % (r[1], tag))
                return r[2], untagged, raw
            if r[0] == "+":
                raise GrammarError("unexpected continuation request: %r" % raw)
            untagged.append((r, raw))

    def close(self):
        self.s.close()
