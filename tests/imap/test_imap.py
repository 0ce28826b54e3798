#!/usr/bin/env python3
"""IMAP front-end end-to-end tests: starts tests/imap/imap_harness (the plugin over the real core store and
SQLite storage, seeded from fixtures/) on an ephemeral 127.0.0.1 port and drives it with python imaplib, raw
sockets, curl and real clients (mbsync, offlineimap, neomutt). The harness plays the server's side through its
control channel (online/offline, server-side changes, journal). usage: test_imap.py GROUP  (protocol,
condstore, limits, shutdown, concurrency, tls, reload, curl, mbsync, offlineimap, neomutt)."""
import base64
import imaplib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HARNESS = os.environ["IMAP_HARNESS"]
FIXTURES = os.environ["IMAP_FIXTURES"]
PLUGIN_DIR = os.environ["OUTPOST_PLUGIN_DIR"]
OUTPOST_CLI = os.environ["OUTPOST_CLI"]
USER, PASS = "bob", "s3cret pass"


def check(cond, what):
    if not cond:
        raise AssertionError(what)


class Harness:
    def __init__(self, extra=None, expect_fail=False, storage="sqlite", data=None):
        """data: a data_dir of the caller's, kept after the run (a restart on the same cache)."""
        self.extra = extra or {}
        self.expect_fail = expect_fail
        self.storage = storage
        self.keep_data = data

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="outpost-imap-")
        pw = os.path.join(self.dir, "pw")
        with open(pw, "w") as f:
            f.write(PASS + "\n")
        os.chmod(pw, 0o600)
        self.port_file = os.path.join(self.dir, "port")
        keys = {"listen": "127.0.0.1:0", "user": USER, "password_file": pw, "port_file": self.port_file,
                "auth_failure_delay": "0"}
        keys.update(self.extra)
        self.keys = keys
        self.data = self.keep_data or os.path.join(self.dir, "data")
        cfg = os.path.join(self.dir, "outpost.ini")
        self.cfg = cfg
        self.write_config(keys)
        self.log = open(os.path.join(self.dir, "harness.log"), "w+")
        self.proc = subprocess.Popen([HARNESS, cfg, FIXTURES], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log)
        if self.expect_fail:
            self.rc = self.proc.wait(timeout=20)
            self.log.seek(0)
            self.output = self.log.read()
            return self
        deadline = time.time() + 20
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                self.log.seek(0)
                raise AssertionError("harness did not start: " + self.log.read())
            time.sleep(0.05)
        ports = open(self.port_file).read().split()
        self.port = int(ports[0])
        self.tls_port = int(ports[1]) if len(ports) > 1 else None
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("harness did not stop on SIGTERM")
        rc = self.proc.returncode
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass
        self.log.seek(0)
        out = self.log.read()
        if exc[0] is not None:
            sys.stderr.write("--- harness log ---\n" + out[-4000:])
        shutil.rmtree(self.dir, ignore_errors=True)
        if exc[0] is None and not self.expect_fail:
            check(rc == 0, "harness exit code %s: %s" % (rc, out[-2000:]))
        return False

    def write_config(self, keys):
        with open(self.cfg, "w") as f:
            f.write("[core]\ndata_dir = %s\nplugin_dir = %s\nlog_level = info\n[storage]\nplugin = %s\n"
                    "[imap]\n" % (self.data, PLUGIN_DIR, self.storage))
            for k, v in keys.items():
                f.write("%s = %s\n" % (k, v))

    def control(self, command):
        """Sends a control command to the harness; returns its answer lines."""
        self.proc.stdin.write(command.encode() + b"\n")
        self.proc.stdin.flush()
        out = []
        while True:
            l = self.proc.stdout.readline()
            check(l != b"", "harness closed its control channel")
            l = l.decode().rstrip("\n")
            if l == ".":
                return out
            out.append(l)

    def journal(self):
        """The cache's journal (the storage's journal_list), one entry a line."""
        return "\n".join(self.control("journal"))

    def status(self):
        p = subprocess.run([OUTPOST_CLI, "--config", self.cfg, "status", "--json"], capture_output=True, timeout=60)
        check(p.returncode == 0, "outpost status: %s" % p.stderr.decode())
        return json.loads(p.stdout)

    def audit(self):
        """`outpost audit --json` on the same cache, as a user would run it."""
        p = subprocess.run([OUTPOST_CLI, "--config", self.cfg, "audit", "--json"], capture_output=True, timeout=60)
        check(p.returncode == 0, "outpost audit: %s" % p.stderr.decode())
        return json.loads(p.stdout)

    def imap(self):
        m = imaplib.IMAP4("127.0.0.1", self.port, timeout=30)
        m.login(USER, PASS)
        return m


class Raw:
    """A line-level client for what imaplib will not send."""

    def __init__(self, port, tls_ctx=None):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=15)
        if tls_ctx:
            self.s = tls_ctx.wrap_socket(self.s)
        self.buf = b""
        self.greeting = self.line()

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                r, self.buf = self.buf, b""
                return r
            self.buf += d
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l

    def cmd(self, tag, text):
        """Sends a command; returns (untagged lines, tagged line). Literals in
        responses are inlined into the line."""
        self.send("%s %s\r\n" % (tag, text))
        return self.until(tag)

    def until(self, tag):
        lines = []
        while True:
            l = self.line()
            m = re.search(rb"\{(\d+)\}$", l)
            while m:
                n = int(m.group(1))
                while len(self.buf) < n:
                    d = self.s.recv(65536)
                    if not d:
                        break
                    self.buf += d
                l += b"\r\n" + self.buf[:n]
                self.buf = self.buf[n:]
                l += self.line()
                m = re.search(rb"\{(\d+)\}$", l)
            if l.startswith(tag.encode() + b" ") or not l:
                return lines, l
            lines.append(l)

    def login(self):
        _, t = self.cmd("L", 'LOGIN %s "%s"' % (USER, PASS))
        check(b"OK" in t, "login: %r" % t)

    def close(self):
        self.s.close()


# ---------------------------------------------------------------- protocol

def t_protocol_caps():
    with Harness() as h:
        # capabilities before login
        m = imaplib.IMAP4("127.0.0.1", h.port, timeout=30)
        for cap in ("IMAP4REV1", "LITERAL+", "UIDPLUS", "IDLE", "NAMESPACE", "ID", "ENABLE", "SPECIAL-USE",
                    "LIST-EXTENDED", "LIST-STATUS", "UNSELECT", "MOVE", "CONDSTORE", "QRESYNC", "AUTH=PLAIN"):
            check(cap in m.capabilities, "capability %s missing: %s" % (cap, m.capabilities))
        check("STARTTLS" not in m.capabilities, "STARTTLS advertised without a certificate")
        # login failures
        try:
            m.login(USER, "wrong")
            check(False, "wrong password accepted")
        except imaplib.IMAP4.error as e:
            check("AUTHENTICATIONFAILED" in str(e), "failure without code: %s" % e)
        m.login(USER, PASS)
        m.logout()
        r = Raw(h.port)
        for i in range(3):
            _, t = r.cmd("f%d" % i, 'LOGIN %s "nope"' % USER)
            check(t.startswith(b"f%d NO" % i), "bad login: %r" % t)
        l = r.line()
        check(l.startswith(b"* BYE"), "no BYE after 3 failed logins: %r" % l)
        r.close()
        # AUTHENTICATE PLAIN
        m = imaplib.IMAP4("127.0.0.1", h.port, timeout=30)
        typ, _ = m.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (USER, PASS)).encode())
        check(typ == "OK", "AUTHENTICATE PLAIN")
        typ, d = m._simple_command("NAMESPACE")
        check(typ == "OK" and m.untagged_responses.get("NAMESPACE") == [b'(("" "/")) NIL NIL'],
              "NAMESPACE %r" % m.untagged_responses)
        typ, d = m.xatom("ID", '("name" "test")')
        check(typ == "OK", "ID")
        # LIST: INBOX, special-use folders, no calendar, modified UTF-7
        typ, lst = m.list()
        text = b"\n".join(lst).decode()
        for want in ('"INBOX"', '\\Sent) "/" "Sent Items"', '\\Drafts) "/" "Drafts"', '\\Trash) "/" "Trash"',
                     '"Archive/2023"', '"Projekte &AOQA9gD8-"'):
            check(want in text, "LIST lacks %s:\n%s" % (want, text))
        check("Calendar" not in text and "Contacts" not in text, "non-mail folders listed")
        typ, lst = m._simple_command("LIST", '(SPECIAL-USE)', '""', '"*"', "RETURN", "(SPECIAL-USE)")
        su = b"\n".join(m.untagged_responses.pop("LIST", [])).decode()
        check("Sent Items" in su and "Drafts" in su and "Trash" in su and "INBOX" not in su, "LIST (SPECIAL-USE): %s" % su)
        typ, _ = m._simple_command("LIST", '""', '"*"', "RETURN", "(STATUS (MESSAGES UNSEEN))")
        st = b"\n".join(m.untagged_responses.pop("STATUS", [])).decode()
        check('"INBOX" (MESSAGES 5 UNSEEN 4)' in st, "LIST-STATUS: %s" % st)
        m.untagged_responses.pop("LIST", None)
        # SELECT
        typ, d = m.select("INBOX")
        check(d == [b"5"], "EXISTS %r" % d)
        check("UIDVALIDITY" in m.untagged_responses and "HIGHESTMODSEQ" in m.untagged_responses, "SELECT codes")
        # FETCH metadata
        typ, d = m.fetch("1", "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)")
        s = d[0].decode()
        check('ENVELOPE ("Tue, 14 Nov 2023 10:00:00 +0000" "Quarterly report"' in s, "ENVELOPE: " + s)
        check("BODYSTRUCTURE (" in s and "INTERNALDATE \"" in s, "FETCH: " + s)
        size = int(re.search(r"RFC822.SIZE (\d+)", s).group(1))
        typ, d = m.fetch("1", "(BODY.PEEK[])")
        full = d[0][1]
        check(len(full) == size, "RFC822.SIZE %d != %d" % (size, len(full)))
        check(full == open(os.path.join(FIXTURES, "01-plain.eml"), "rb").read(), "BODY[] differs from the fixture")
        typ, d = m.fetch("1", "(BODY.PEEK[]<10.20>)")
        check(d[0][1] == full[10:30] and b"BODY[]<10>" in d[0][0], "partial: %r" % (d,))
        typ, d = m.fetch("1", "(FLAGS)")
        check(b"\\Seen" not in d[0], "PEEK set \\Seen")
        typ, d = m.fetch("2", "(BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[HEADER.FIELDS (Subject)])")
        check(d[0][1] == b"See the attached picture of the harbour.", "BODY[1]: %r" % d[0][1])
        check(d[1][1].startswith(b"Content-Type: application/octet-stream"), "BODY[2.MIME]")
        check(d[2][1] == b"Subject: Photos attached\r\n\r\n", "HEADER.FIELDS: %r" % d[2][1])
        typ, d = m.fetch("3", "(BODY.PEEK[2.1] BODY.PEEK[2.HEADER.FIELDS (SUBJECT)])")
        check(d[0][1] == b"Lunch at noon?" and d[1][1] == b"Subject: Lunch\r\n\r\n", "nested: %r" % d)
        typ, d = m.fetch("1", "(BODY[TEXT])")
        typ, d = m.fetch("1", "(FLAGS)")
        check(b"\\Seen" in d[0], "BODY[] did not set \\Seen")
        m.logout()


def t_summaries():
    """ENVELOPE, BODYSTRUCTURE, BODY and RFC822.SIZE equal Dovecot's for every fixture, also for a message
    whose content is not cached (served offline from its summary)."""
    want = {}
    for l in open(os.path.join(FIXTURES, "dovecot-summaries.txt"), encoding="utf-8"):
        if not l.startswith("#"):
            name, attrs = l.rstrip("\n").split("\t")
            want[name] = attrs
    with Harness() as h:
        h.control("offline")
        r = Raw(h.port)
        r.login()
        for box, names in (("INBOX", ["01-plain.eml", "02-multipart.eml", "03-nested.eml", "04-seen.eml",
                                      "05-uncached.eml"]), ("Archive", ["06-archive.eml"])):
            r.cmd("s", "EXAMINE %s" % box)
            u, t = r.cmd("f", "FETCH 1:* (RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY)")
            check(t.startswith(b"f OK") and len(u) == len(names), "FETCH summaries of %s: %r %r" % (box, u, t))
            for i, (l, name) in enumerate(zip(u, names)):
                got = l.decode()
                exp = "* %d FETCH (%s)" % (i + 1, want[name])
                check(got == exp, "%s differs from Dovecot's:\n ours    %s\n dovecot %s" % (name, got, exp))
        r.close()
        check(h.control("fetches") == ["0"], "summaries needed the server")


def t_search_fts():
    """BODY and TEXT through the storage's full-text index keep their RFC 3501 meaning: BODY is the body only,
    TEXT every header field and the body; the index adds decoding (quoted-printable soft breaks, charsets) and
    a key matches inside words of the text, case and diacritics ignored (RFC 3501 substrings, which the index
    must not miss). Runs on SQLite and, when built, Firebird: both index every header field
    (OUTPOST_STORAGE_CAP_FTS_ALL_HEADERS), so TEXT answers come from the index alone, and BODY hits on words
    also in the header are checked in the body."""
    storages = ["sqlite"]
    # OUTPOST_TEST_NO_FIREBIRD: `make check-tsan` (Firebird's engine holds more locks at once
    # than ThreadSanitizer can follow, and its tests are left out there).
    if os.path.exists(os.path.join(PLUGIN_DIR, "outpost-storage-firebird.so")) and \
            not os.environ.get("OUTPOST_TEST_NO_FIREBIRD"):
        storages.append("firebird")
    for storage in storages:
        search_fts_on(storage)


def search_fts_on(storage):
    with Harness(storage=storage) as h:
        m = h.imap()
        qp = (b"From: Judy <judy@example.com>\r\nSubject: results\r\nMessage-ID: <qp-7@example.com>\r\n"
              b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
              b"Content-Transfer-Encoding: quoted-printable\r\n\r\nR=C3=A9sum=C3=A9 of the ol=\r\nympics\r\n")
        m.append("INBOX", None, None, qp)
        # words only in header fields that are neither the subject nor an address field
        hdrs = (b"From: Ken <ken@example.com>\r\nSubject: notes\r\nMessage-ID: <wombat-3@example.com>\r\n"
                b"Reply-To: numbat@example.net\r\nX-Mailer: Wallaroo Mail 3.1\r\n"
                b"X-Label: =?utf-8?b?S29va2FidXJyYQ==?=\r\nMIME-Version: 1.0\r\n"
                b"Content-Type: text/plain; charset=utf-8\r\n\r\nNothing to see.\r\n")
        m.append("INBOX", None, None, hdrs)
        m.select("INBOX")

        def search(*crit):
            typ, d = m.search("UTF-8" if any(not c.isascii() for c in crit) else None,
                              *[c if c.isascii() else c.encode() for c in crit])
            check(typ == "OK", "SEARCH %r: %r" % (crit, d))
            return d[0].decode().split()
        cases = [(("BODY", "Photos"), []),             # only in the Subject of 2
                 (("TEXT", "Photos"), ["2"]),
                 (("BODY", "carol"), []),              # only in From of 2
                 (("TEXT", "carol"), ["2"]),
                 (("TEXT", "multi-2"), ["2"]),         # Message-ID
                 (("BODY", "harb"), ["2"]),
                 (("BODY", "arbour"), ["2"]),          # inside a word: "harbour"
                 (("BODY", "ARBOU"), ["2"]),
                 (("TEXT", "ylophon"), ["1"]),         # inside "xylophone"
                 (("TEXT", "phone"), ["1"]),           # a word's end
                 (("BODY", '"ylophon arbour"'), []),   # words of different messages
                 (("TEXT", "qqzzyx"), []),
                 (("TEXT", "ésum"), ["6"]),            # inside "Résumé"
                 (("TEXT", "esum"), ["6"]),
                 (("BODY", '"of the harbour"'), ["2"]),
                 (("BODY", "olympics"), ["6"]),        # across a quoted-printable soft break
                 (("TEXT", "resume"), ["6"]),          # Résumé
                 (("BODY", "Résumé"), ["6"]),
                 (("NOT", "BODY", "harbour"), ["1", "3", "4", "5", "6", "7"]),
                 (("NOT", "BODY", "arbou"), ["1", "3", "4", "5", "6", "7"]),
                 (("TEXT", "qp-7"), ["6"]),            # Message-ID
                 (("TEXT", "wallaroo"), ["7"]),        # X-Mailer
                 (("TEXT", "allaro"), ["7"]),
                 (("TEXT", "numbat"), ["7"]),          # Reply-To
                 (("TEXT", "wombat-3"), ["7"]),        # Message-ID
                 (("BODY", "wallaroo"), []),           # header only: not the body
                 (("BODY", "numbat"), []),
                 (("NOT", "TEXT", "wallaroo"), ["1", "2", "3", "4", "5", "6"]),
                 (("TEXT", "wallaroo", "TEXT", "photos"), []),
                 (("OR", "TEXT", "wallaroo", "TEXT", "photos"), ["2", "7"]),
                 (("TEXT", "kookaburra"), ["7"]),      # an encoded word (RFC 2047, base64)
                 (("BODY", "kookaburra"), [])]
        for crit, want in cases:
            got = search(*crit)
            check(got == want, "%s: SEARCH %r: %r, expected %r" % (storage, crit, got, want))
        m.logout()


def t_search_unicode():
    """SEARCH strings that the front-end compares itself, not through the full-text index, match case-
    insensitively beyond ASCII (RFC 3501 6.4.4, the i;unicode-casemap comparator of RFC 5051): SUBJECT, FROM
    and TO on the decoded summary (RFC 2047 encoded words), HEADER with any other field on the header as
    cached, and BODY where an index hit must be confirmed in the body because the word is also in the
    subject. Needles come as quoted strings and as literals, with CHARSET UTF-8."""
    with Harness() as h:
        m = h.imap()
        a = ("From: =?utf-8?b?0J/QoNCY0JLQldCiINCY0LLQsNC9?= <ivan@example.com>\r\n"  # ПРИВЕТ Иван
             "To: J\u00fcrgen Stra\u00dfer <juergen@example.com>\r\n"
             "Subject: =?utf-8?q?=C3=9Cberblick_der_Zahlen?=\r\n"
             "X-Project: \u00dcBERBLICK Stra\u00dfe\r\n"
             "Message-ID: <uni-1@example.com>\r\nMIME-Version: 1.0\r\n"
             "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
             "Hier ist der \u00fcberblick, \u043f\u0440\u0438\u0432\u0435\u0442.\r\n").encode()
        b = ("From: Ken <ken@example.com>\r\nSubject: \u00dcberblick\r\nMessage-ID: <uni-2@example.com>\r\n"
             "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
             "Content-Transfer-Encoding: 8bit\r\n\r\nNothing about it here.\r\n").encode()
        for msg in (a, b):
            check(m.append("INBOX", None, None, msg)[0] == "OK", "APPEND")
        m.select("INBOX")

        def search(key, value, literal):
            if literal:
                m.literal = value.encode()
                typ, d = m.search("UTF-8", *key)
            else:
                typ, d = m.search("UTF-8", *key, b'"' + value.encode() + b'"')
            check(typ == "OK", "SEARCH %s %r: %r" % (key, value, d))
            return d[0].decode().split()
        cases = [(("SUBJECT",), "\u00fcberblick", ["6", "7"]),       # Überblick, encoded word and raw
                 (("SUBJECT",), "\u00dcBERBLICK DER", ["6"]),
                 (("SUBJECT",), "\u00f6berblick", []),              # ö is not ü
                 (("SUBJECT",), "QUARTERLY", ["1"]),                # ASCII as before
                 (("FROM",), "\u043f\u0440\u0438\u0432\u0435\u0442", ["6"]),   # привет in ПРИВЕТ
                 (("FROM",), "\u0438\u0412\u0410\u041d", ["6"]),   # иВАН in Иван
                 (("TO",), "J\u00dcRGEN STRA\u00dfER", ["6"]),
                 (("HEADER", "X-Project"), "\u00fcberblick stra\u00dfe", ["6"]),   # raw UTF-8 field
                 (("HEADER", "X-Project"), "strasse", []),            # RFC 5051: sharp s is not "ss"
                 (("BODY",), "\u00dcberblick", ["6"]),                # hit in subject and body: checked in the body
                 (("BODY",), "\u041f\u0420\u0418\u0412\u0415\u0422", ["6"]),
                 (("NOT", "BODY"), "\u00dcberblick", ["1", "2", "3", "4", "5", "7"])]
        for key, value, want in cases:
            for literal in (False, True):
                got = search(key, value, literal)
                check(got == want, "SEARCH CHARSET UTF-8 %s %r (%s): %r, expected %r" %
                      (" ".join(key), value, "literal" if literal else "quoted", got, want))
        m.logout()


def t_idle_server_changes():
    """Changes the sync engine applies from the server reach a client in IDLE: a new message, a flag change
    and an expunge, each as the store's change event after commit."""
    with Harness() as h:
        r = Raw(h.port)
        r.login()
        u, t = r.cmd("s", "SELECT INBOX")
        check(b"* 5 EXISTS" in u, "SELECT: %r" % u)
        r.send("i IDLE\r\n")
        check(r.line().startswith(b"+"), "IDLE continuation")
        r.s.settimeout(5)
        check(h.control("deliver 06-archive.eml") == ["uid 6"], "server delivery")
        l = r.line()
        check(l == b"* 6 EXISTS", "IDLE: new message from the server: %r" % l)
        l = r.line()  # this session is the first to learn of it (RFC 3501 2.3.2, 7.3.2)
        check(l == b"* 1 RECENT", "IDLE: the new message is recent here: %r" % l)
        h.control("flags 2 0x4")  # the server flags UID 2
        l = r.line()
        check(re.match(rb"\* 2 FETCH \((UID 2 )?FLAGS \(\\Flagged\)", l), "IDLE: server flag change: %r" % l)
        h.control("expunge 3")
        l = r.line()
        check(l == b"* 3 EXPUNGE", "IDLE: server expunge: %r" % l)
        r.send("DONE\r\n")
        u, t = r.until("i")
        check(t.startswith(b"i OK") and u == [], "IDLE end: %r %r" % (u, t))
        u, t = r.cmd("f", "UID FETCH 1:* (FLAGS)")
        uids = [int(re.search(rb"UID (\d+)", l).group(1)) for l in u]
        check(uids == [1, 2, 4, 5, 6], "UIDs after the server's changes: %r" % u)
        # none of it is a local edit
        check(not re.search(r"op=(create|flags|delete)", h.journal()), "server changes journaled: " + h.journal())
        r.close()


def t_keywords_in_flags():
    """A keyword is announced in FLAGS/PERMANENTFLAGS before any FETCH shows it (RFC 3501 7.2.6): at SELECT
    for keywords already in use, and with a new FLAGS when one appears (own STORE or another session's)."""
    with Harness() as h:
        a, b = Raw(h.port), Raw(h.port)
        a.login()
        b.login()
        u, _ = a.cmd("s", "SELECT INBOX")
        flags = [l for l in u if l.startswith(b"* FLAGS")]
        check(flags == [b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded $Junk $NotJunk)"],
              "FLAGS without keywords: %r" % u)
        b.cmd("s", "SELECT INBOX")
        u, t = a.cmd("st", "STORE 1 +FLAGS (Project-X)")
        check(t.startswith(b"st OK") and len(u) == 3, "STORE of a new keyword: %r" % u)
        check(u[0] == b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded $Junk $NotJunk Project-X)",
              "new FLAGS: %r" % u)
        check(u[1].startswith(b"* OK [PERMANENTFLAGS (") and b" Project-X \\*)]" in u[1], "PERMANENTFLAGS: %r" % u)
        check(u[2].startswith(b"* 1 FETCH") and b"Project-X" in u[2], "FETCH after FLAGS: %r" % u)
        u, t = a.cmd("st2", "STORE 2 +FLAGS (project-x)")  # keywords are case-insensitive: nothing new
        check(not any(l.startswith(b"* FLAGS") for l in u), "FLAGS repeated: %r" % u)
        u, t = b.cmd("n", "NOOP")  # the other session learns it before the FETCH
        check(len(u) >= 3 and u[0].startswith(b"* FLAGS") and b"Project-X" in u[0] and b"FETCH" in u[-1],
              "other session: %r" % u)
        c = Raw(h.port)
        c.login()
        u, _ = c.cmd("e", "EXAMINE INBOX")
        check(any(l.startswith(b"* FLAGS") and l.endswith(b" Project-X)") for l in u), "SELECT FLAGS: %r" % u)
        check(b"* OK [PERMANENTFLAGS ()] Read-only mailbox" in u, "EXAMINE PERMANENTFLAGS: %r" % u)
        for r in (a, b, c):
            r.close()


def t_authenticate_raw():
    """AUTHENTICATE PLAIN with and without an initial response (RFC 3501 6.2.2, RFC 4959), cancelled, malformed."""
    import base64
    good = base64.b64encode(("\0%s\0%s" % (USER, PASS)).encode()).decode()
    with Harness() as h:
        r = Raw(h.port)
        check(b"SASL-IR" in r.greeting and b"AUTH=PLAIN" in r.greeting, "greeting: %r" % r.greeting)
        r.send("a AUTHENTICATE PLAIN\r\n")
        check(r.line() == b"+ ", "empty server challenge expected")
        r.send("*\r\n")
        _, t = r.until("a")
        check(t.startswith(b"a BAD"), "cancelled AUTHENTICATE: %r" % t)
        r.send("b AUTHENTICATE PLAIN\r\n")
        check(r.line() == b"+ ", "challenge")
        r.send("not base64!\r\n")
        _, t = r.until("b")
        check(t.startswith(b"b BAD"), "invalid base64: %r" % t)
        # a response over the line limit: BAD, the connection stays
        r.send("b2 AUTHENTICATE PLAIN\r\n")
        check(r.line() == b"+ ", "challenge")
        r.send("QUFB" * 20000 + "\r\n")
        _, t = r.until("b2")
        check(t.startswith(b"b2 BAD"), "over-long PLAIN response: %r" % t)
        _, t = r.cmd("c", "AUTHENTICATE PLAIN =")
        check(t.startswith(b"c BAD") or t.startswith(b"c NO"), "empty initial response: %r" % t)
        _, t = r.cmd("d", "AUTHENTICATE PLAIN %s" % base64.b64encode(b"\0bob\0wrong").decode())
        check(t.startswith(b"d NO [AUTHENTICATIONFAILED]"), "wrong password: %r" % t)
        # without an initial response: the credentials follow the continuation
        r.send("e AUTHENTICATE PLAIN\r\n")
        check(r.line() == b"+ ", "challenge")
        r.send(good + "\r\n")
        _, t = r.until("e")
        check(t.startswith(b"e OK"), "AUTHENTICATE without initial response: %r" % t)
        _, t = r.cmd("f", "SELECT INBOX")
        check(t.startswith(b"f OK"), "session after AUTHENTICATE")
        r.close()
        r = Raw(h.port)  # SASL-IR, with an authorization identity equal to the user
        ir = base64.b64encode(("%s\0%s\0%s" % (USER, USER, PASS)).encode()).decode()
        _, t = r.cmd("g", "AUTHENTICATE PLAIN %s" % ir)
        check(t.startswith(b"g OK"), "AUTHENTICATE with initial response: %r" % t)
        r.close()
        r = Raw(h.port)  # acting as another user is refused
        ir = base64.b64encode(("admin\0%s\0%s" % (USER, PASS)).encode()).decode()
        _, t = r.cmd("h", "AUTHENTICATE PLAIN %s" % ir)
        check(t.startswith(b"h NO"), "authorization identity of another user: %r" % t)
        r.close()


def t_list_recursivematch():
    """LIST-EXTENDED (RFC 5258): RECURSIVEMATCH reports a parent whose children match with CHILDINFO."""
    with Harness() as h:
        r = Raw(h.port)
        r.login()
        for cmd in ("UNSUBSCRIBE Archive", "SUBSCRIBE Archive/2023"):
            _, t = r.cmd("s", cmd)
            check(t.startswith(b"s OK"), "%s: %r" % (cmd, t))
        u, t = r.cmd("l1", 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
        arch = [l for l in u if b'"Archive"' in l]
        check(len(arch) == 1 and arch[0].endswith(b'"Archive" ("CHILDINFO" ("SUBSCRIBED"))') and
              b"\\Subscribed" not in arch[0], "RECURSIVEMATCH on %%: %r" % u)
        check(not any(b"Archive/2023" in l for l in u), "%% matched a child: %r" % u)
        check(any(b'\\Subscribed' in l and l.endswith(b'"INBOX"') for l in u), "INBOX: %r" % u)
        u, t = r.cmd("l2", 'LIST (SUBSCRIBED) "" "%"')
        check(not any(b'"Archive"' in l for l in u), "unsubscribed parent without RECURSIVEMATCH: %r" % u)
        u, t = r.cmd("l3", 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "*"')
        check(any(l.endswith(b'"Archive" ("CHILDINFO" ("SUBSCRIBED"))') for l in u) and
              any(b"\\Subscribed" in l and l.endswith(b'"Archive/2023"') for l in u), "RECURSIVEMATCH on *: %r" % u)
        u, t = r.cmd("l4", 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "Arch*"')
        check(len(u) == 2 and not any(b"CHILDINFO" in l and b"2023" in l for l in u), "Arch*: %r" % u)
        _, t = r.cmd("l5", 'LIST (RECURSIVEMATCH) "" "*"')
        check(t.startswith(b"l5 BAD"), "RECURSIVEMATCH alone: %r" % t)
        # a parent that is itself subscribed: listed as such; CHILDINFO only where the parent does not match
        r.cmd("s", "SUBSCRIBE Archive")
        u, t = r.cmd("l6", 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
        arch = [l for l in u if b'"Archive"' in l]
        check(len(arch) == 1 and b"\\Subscribed" in arch[0], "subscribed parent: %r" % u)
        r.close()


def t_mailbox_rfc3501():
    """RFC 3501 mailbox rules: RENAME creates the superior levels of the new name (6.3.5) and will not move a
    mailbox under itself; RENAME INBOX moves its messages; LSUB "%" shows an unsubscribed level above a subscribed mailbox as \\Noselect (6.3.9)."""
    with Harness() as h:
        r = Raw(h.port)
        r.login()
        _, t = r.cmd("c", "CREATE a/b")
        check(t.startswith(b"c OK"), "CREATE a/b: %r" % t)
        _, t = r.cmd("r", "RENAME a x/y/z")
        check(t.startswith(b"r OK"), "RENAME to a name with missing superiors: %r" % t)
        u, _ = r.cmd("l", 'LIST "" "x*"')
        names = [l.rsplit(b' "/" ', 1)[1] for l in u]
        check(names == [b'"x"', b'"x/y"', b'"x/y/z"', b'"x/y/z/b"'], "LIST after RENAME: %r" % u)
        _, t = r.cmd("r2", "RENAME x/y x/y/q")
        check(t.startswith(b"r2 NO"), "RENAME under itself: %r" % t)
        _, t = r.cmd("r3", "RENAME x/y/z x/y")
        check(t.startswith(b"r3 NO [ALREADYEXISTS]"), "RENAME onto an existing name: %r" % t)
        _, t = r.cmd("u", "UNSUBSCRIBE Archive")
        check(t.startswith(b"u OK"), "UNSUBSCRIBE: %r" % t)
        u, _ = r.cmd("s", 'LSUB "" "%"')
        check(b'* LSUB (\\Noselect) "/" "Archive"' in u, "LSUB %% lacks the \\Noselect parent: %r" % u)
        check(not any(b"Archive/2023" in l for l in u), "LSUB %% went below the top level: %r" % u)
        u, _ = r.cmd("s2", 'LSUB "" "*"')
        check(any(l.endswith(b'"Archive/2023"') for l in u) and not any(l.endswith(b'"Archive"') for l in u),
              "LSUB * lists only subscribed mailboxes: %r" % u)
        # RENAME INBOX moves its messages to the new mailbox and leaves INBOX empty (6.3.5)
        _, t = r.cmd("ri0", "RENAME INBOX Archive")
        check(t.startswith(b"ri0 NO [ALREADYEXISTS]"), "RENAME INBOX onto an existing name: %r" % t)
        r.cmd("sel", "SELECT INBOX")
        u, t = r.cmd("ri", 'RENAME INBOX "Old/Inbox &AOQ-"')
        check(t.startswith(b"ri OK") and u.count(b"* 1 EXPUNGE") == 5, "RENAME INBOX: %r %r" % (u, t))
        u, _ = r.cmd("st", "STATUS INBOX (MESSAGES)")
        check(u == [b'* STATUS "INBOX" (MESSAGES 0)'], "INBOX after RENAME: %r" % u)
        u, _ = r.cmd("st2", 'STATUS "Old/Inbox &AOQ-" (MESSAGES)')
        check(u == [b'* STATUS "Old/Inbox &AOQ-" (MESSAGES 5)'], "renamed INBOX: %r" % u)
        r.close()


def t_fetch_missing_section():
    """FETCH of a body section the message does not have (BODY[3] of a single-part message, BODY[1.2.3],
    MIME or TEXT of a part that is no message) answers an empty string. Neither RFC 3501 nor RFC 9051 6.4.5
    says what to answer there (their only empty-string rule is a partial fetch starting beyond the end), so
    this documents the behaviour kept. \\Seen follows the data item as for any section: BODY.PEEK never
    sets it; BODY[...] does (RFC 3501 / 9051 6.4.5: "The \\Seen flag is implicitly set")."""
    with Harness() as h:
        m = h.imap()
        m.select("INBOX")

        def sections(n, items):
            typ, d = m.fetch(n, "(%s)" % " ".join(items))
            check(typ == "OK", "FETCH %s %s: %r" % (n, items, d))
            got = {}
            for part in d:
                if isinstance(part, tuple):
                    got[re.search(rb"(BODY\[[^\]]*\])(<\d+>)? \{\d+\}$", part[0]).group(1).decode()] = part[1]
            return got
        # 1: single part (text/plain); 2: text/plain + application/octet-stream; 3: text/plain + message/rfc822
        missing = {"1": ["3", "2", "1.2.3", "1.1", "2.MIME", "1.HEADER", "1.TEXT"],
                   "2": ["3", "1.1", "2.1", "3.MIME", "1.TEXT", "2.HEADER"],
                   "3": ["3", "1.1", "2.3", "2.1.1", "2.1.TEXT", "2.2.HEADER"]}
        for n, secs in missing.items():
            got = sections(n, ["BODY.PEEK[%s]" % x for x in secs] + ["BODY.PEEK[%s]<0.10>" % secs[0]])
            for x in secs:
                check(got.get("BODY[%s]" % x) == b"", "message %s: BODY[%s] of a missing part: %r" % (n, x, got))
        # the parts that exist are still what they were
        got = sections("1", ["BODY.PEEK[1]"])
        check(got["BODY[1]"].startswith(b"Hello"), "BODY[1] of a single-part message: %r" % got)
        got = sections("3", ["BODY.PEEK[2.1]", "BODY.PEEK[2.2]"])
        check(got["BODY[2.1]"] == b"Lunch at noon?" and got["BODY[2.2]"] == b"<p>Lunch at noon?</p>",
              "nested: %r" % got)
        typ, d = m.fetch("1:3", "(FLAGS)")
        check(not any(b"\\Seen" in x for x in d), "BODY.PEEK of a missing part set \\Seen: %r" % d)
        typ, d = m.fetch("1", "(BODY[3])")
        check(typ == "OK" and d[0][1] == b"" and b"\\Seen" in d[0][0], "BODY[3] without PEEK: %r" % d)
        typ, d = m.fetch("1:3", "(FLAGS)")
        check([b"\\Seen" in x for x in d] == [True, False, False], "\\Seen after BODY[3]: %r" % d)
        m.logout()


def t_fetch_seen_expunged():
    """A FETCH that sets \\Seen (BODY[] without PEEK) while the sync expunges one of its messages between the
    FETCH reading the batch and the \\Seen edit (the harness commits the expunge just ahead of the
    front-end's flag edit): the store reports that message GONE, so it is left out of the answer like any
    message expunged elsewhere (its EXPUNGE comes with the next command that may carry it, RFC 3501 7.4.1),
    the others are answered with their data and FLAGS (\\Seen), and the command completes OK."""
    with Harness() as h:
        r = Raw(h.port)
        r.login()
        r.cmd("s", "SELECT INBOX")
        check(h.control("race 2 expunge") == [], "race armed")
        u, t = r.cmd("f", "FETCH 1:3 (UID BODY[HEADER.FIELDS (SUBJECT)])")
        check(t.startswith(b"f OK"), "FETCH with an item expunged during the \\Seen edit: %r %r" % (u, t))
        fetched = [l for l in u if b" FETCH " in l]
        check([l.split()[1] for l in fetched] == [b"1", b"3"], "FETCH answers: %r" % u)
        check(all(b"\\Seen" in l and b"Subject:" in l for l in fetched), "FLAGS (\\Seen) and data: %r" % u)
        check(not any(b"EXPUNGE" in l for l in u), "EXPUNGE during FETCH (RFC 3501 7.4.1): %r" % u)
        u, t = r.cmd("n", "NOOP")
        check(b"* 2 EXPUNGE" in u, "EXPUNGE after the FETCH: %r" % u)
        u, t = r.cmd("f2", "FETCH 1:2 (UID FLAGS)")
        check(len(u) == 2 and all(b"\\Seen" in l for l in u) and b"UID 3 " in u[1], "flags kept: %r" % u)
        # UID FETCH may carry the EXPUNGE (7.4.1): still no FETCH for the message gone
        check(h.control("race 5 expunge") == [], "race armed")
        u, t = r.cmd("f3", "UID FETCH 1:5 (BODY[TEXT])")
        uids = [re.search(rb"UID (\d+)", l).group(1) for l in u if b" FETCH " in l]
        check(t.startswith(b"f3 OK") and uids == [b"1", b"3", b"4"],
              "UID FETCH with an item expunged during the \\Seen edit: %r %r" % (u, t))
        r.close()


def t_fetch_expunged_elsewhere():
    """A message another session expunged keeps its sequence number until this session is told (RFC 3501
    7.4.1): a FETCH of its UID (and MODSEQ) still answers from the session's list (RFC 2180 4.1.1, as
    Dovecot does, and imaptest's 'expunge' test expects); a FETCH of anything else leaves it out and
    completes OK [EXPUNGEISSUED] (RFC 2180 4.1.2, RFC 5530), as STORE does; the next NOOP reports it."""
    with Harness() as h:
        a, b = Raw(h.port), Raw(h.port)
        a.login()
        b.login()
        a.cmd("s", "SELECT INBOX")
        b.cmd("s", "SELECT INBOX")
        b.cmd("d", "STORE 2 +FLAGS.SILENT (\\Deleted)")
        u, _ = b.cmd("e", "EXPUNGE")
        check(u == [b"* 2 EXPUNGE"], "EXPUNGE: %r" % u)
        u, t = a.cmd("f1", "FETCH 1:3 (UID)")
        check(u == [b"* 1 FETCH (UID 1)", b"* 2 FETCH (UID 2)", b"* 3 FETCH (UID 3)"] and t == b"f1 OK FETCH completed",
              "FETCH UID of a message expunged elsewhere: %r %r" % (u, t))
        u, t = a.cmd("f2", "FETCH 1:3 (FLAGS)")
        check([l.split()[1] for l in u] == [b"1", b"3"] and t.startswith(b"f2 OK [EXPUNGEISSUED]"),
              "FETCH FLAGS with a message expunged elsewhere: %r %r" % (u, t))
        u, t = a.cmd("f3", "FETCH 2 (BODY.PEEK[])")
        check(u == [] and t.startswith(b"f3 OK [EXPUNGEISSUED]"), "FETCH of its body: %r %r" % (u, t))
        u, t = a.cmd("n", "NOOP")
        check(u == [b"* 2 EXPUNGE"], "NOOP: %r" % u)
        u, t = a.cmd("f4", "FETCH 1:2 (UID FLAGS)")
        check(t == b"f4 OK FETCH completed" and len(u) == 2, "FETCH after: %r %r" % (u, t))
        a.close()
        b.close()


def t_recent():
    """\\Recent (RFC 3501 2.3.2, 6.3.1, 6.3.2, 7.3.2): a message is recent in the one session that is first
    told of it, by SELECT or by an EXISTS while it has the mailbox selected; EXAMINE shows the recent
    messages without taking them; STATUS RECENT counts those no session was told of; SEARCH RECENT, NEW
    and OLD; FETCH FLAGS shows \\Recent, which STORE cannot set or remove. Messages in the cache before the
    front-end started are not recent."""
    with Harness() as h:
        a, b = Raw(h.port), Raw(h.port)
        a.login()
        b.login()
        u, t = a.cmd("s0", "SELECT INBOX")
        check(b"* 0 RECENT" in u, "the cache's messages are not recent: %r" % u)
        a.cmd("u0", "UNSELECT")
        a.cmd("c", "CREATE Fresh")
        for k in range(2):
            _, t = a.cmd("a%d" % k, "APPEND Fresh {15+}\r\nSubject: %d\r\n\r\nx" % k)
            check(t.startswith(b"a%d OK" % k), "APPEND: %r" % t)
        u, _ = a.cmd("st", "STATUS Fresh (MESSAGES RECENT)")
        check(u == [b'* STATUS "Fresh" (MESSAGES 2 RECENT 2)'], "STATUS RECENT: %r" % u)
        u, t = b.cmd("e", "EXAMINE Fresh")
        check(b"* 2 RECENT" in u, "EXAMINE shows the recent messages: %r" % u)
        u, _ = b.cmd("ef", "FETCH 1:* (FLAGS)")
        check(all(b"\\Recent" in l for l in u) and len(u) == 2, "FLAGS under EXAMINE: %r" % u)
        u, t = a.cmd("s", "SELECT Fresh")
        check(b"* 2 RECENT" in u, "EXAMINE took nothing: %r" % u)
        u, _ = b.cmd("e2", "EXAMINE Fresh")
        check(b"* 0 RECENT" in u, "SELECT took them: %r" % u)
        u, _ = a.cmd("sr", "SEARCH RECENT")
        check(u == [b"* SEARCH 1 2"], "SEARCH RECENT: %r" % u)
        a.cmd("se", "STORE 1 +FLAGS (\\Seen)")
        u, _ = a.cmd("sn", "SEARCH NEW")
        check(u == [b"* SEARCH 2"], "SEARCH NEW (recent and unseen): %r" % u)
        u, _ = a.cmd("so", "SEARCH OLD")
        check(u == [b"* SEARCH"], "SEARCH OLD: %r" % u)
        u, t = a.cmd("sf", "STORE 2 FLAGS (\\Flagged)")
        check(u == [b"* 2 FETCH (FLAGS (\\Recent \\Flagged))"], "STORE keeps \\Recent: %r" % u)
        # a message another session appends: recent here, where the mailbox is selected and told of it first
        b.cmd("b0", "UNSELECT")
        _, t = b.cmd("ba", "APPEND Fresh {15+}\r\nSubject: 2\r\n\r\nx")
        check(t.startswith(b"ba OK"), "APPEND: %r" % t)
        u, _ = a.cmd("n", "NOOP")
        check(u == [b"* 3 EXISTS", b"* 3 RECENT"], "EXISTS and RECENT: %r" % u)
        u, _ = a.cmd("uf", "UID FETCH 3 (FLAGS)")
        check(u == [b"* 3 FETCH (UID 3 FLAGS (\\Recent))"], "the new message: %r" % u)
        u, _ = b.cmd("st2", "STATUS Fresh (RECENT)")
        check(u == [b'* STATUS "Fresh" (RECENT 0)'], "STATUS RECENT once taken: %r" % u)
        u, _ = b.cmd("s2", "SELECT Fresh")
        check(b"* 0 RECENT" in u, "a second SELECT: %r" % u)
        a.close()
        b.close()


def t_recent_restart():
    """\\Recent survives a restart (RFC 3501 2.3.2: recent in exactly one session, the first after the message
    arrived): what a session was shown is not recent again after a restart, what no session was shown still
    is, in a folder a session selected and in one no session opened; a third run shows none of them."""
    d = tempfile.mkdtemp(prefix="outpost-imap-recent-")
    data = os.path.join(d, "data")
    try:
        with Harness(data=data) as h:
            a = Raw(h.port)
            a.login()
            for box in ("Fresh", "Never"):
                a.cmd("c", "CREATE " + box)
            for k in range(2):
                a.cmd("a", "APPEND Fresh {15+}\r\nSubject: %d\r\n\r\nx" % k)
            u, _ = a.cmd("s", "SELECT Fresh")
            check(b"* 2 RECENT" in u, "first session: %r" % u)
            a.cmd("u", "UNSELECT")
            for k in range(2, 4):
                a.cmd("a", "APPEND Fresh {15+}\r\nSubject: %d\r\n\r\nx" % k)
            a.cmd("a", "APPEND Never {15+}\r\nSubject: n\r\n\r\nx")
            u, _ = a.cmd("st", "STATUS Fresh (RECENT)")
            check(u == [b'* STATUS "Fresh" (RECENT 2)'], "STATUS before the restart: %r" % u)
            a.close()
        with Harness(data=data) as h:
            a = Raw(h.port)
            a.login()
            u, _ = a.cmd("st", "STATUS Fresh (RECENT)")
            check(u == [b'* STATUS "Fresh" (RECENT 2)'], "STATUS after the restart: %r" % u)
            u, _ = a.cmd("e", "EXAMINE Fresh")
            check(b"* 2 RECENT" in u, "EXAMINE after the restart: %r" % u)
            u, _ = a.cmd("s", "SELECT Fresh")
            check(b"* 4 EXISTS" in u and b"* 2 RECENT" in u, "the messages no session was shown: %r" % u)
            u, _ = a.cmd("sr", "SEARCH RECENT")
            check(u == [b"* SEARCH 3 4"], "SEARCH RECENT after the restart: %r" % u)
            u, _ = a.cmd("s2", "SELECT Never")
            check(b"* 1 RECENT" in u, "a folder no session opened: %r" % u)
            u, _ = a.cmd("s3", "SELECT INBOX")
            check(b"* 0 RECENT" in u, "the seeded cache: %r" % u)
            a.close()
        with Harness(data=data) as h:
            a = Raw(h.port)
            a.login()
            for box in ("Fresh", "Never", "INBOX"):
                u, _ = a.cmd("s", "SELECT " + box)
                check(b"* 0 RECENT" in u, "%s in a third run: %r" % (box, u))
            a.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def t_fetch_nul():
    """A mail from the server holding NUL bytes: a literal is CHAR8, which excludes NUL (RFC 3501 / 9051
    section 9; BINARY is not offered), so FETCH sends each NUL as 0x80 (as Dovecot does), keeping every
    size the client was shown; the cache keeps the bytes as they came."""
    with Harness() as h:
        out = h.control("deliver nul-body.raw")
        check(len(out) == 1 and out[0].startswith("uid "), "deliver: %r" % out)
        uid = out[0].split()[1]
        raw = open(os.path.join(FIXTURES, "nul-body.raw"), "rb").read()
        m = h.imap()
        m.select("INBOX", readonly=True)
        typ, d = m.uid("FETCH", uid, "(RFC822.SIZE BODY.PEEK[] BODY.PEEK[TEXT] BODY.PEEK[1]<2.8>)")
        check(typ == "OK", "FETCH: %r" % d)
        got = {}
        for part in d:
            if isinstance(part, tuple):
                got[re.search(rb"(BODY\[[^\]]*\](<\d+>)?) \{\d+\}$", part[0]).group(1).decode()] = part[1]
        want = raw.replace(b"\0", b"\x80")
        check(got.get("BODY[]") == want, "BODY[] with NUL as 0x80: %r" % got.get("BODY[]"))
        check(b"RFC822.SIZE %d" % len(raw) in d[0][0], "RFC822.SIZE unchanged: %r" % d[0][0])
        body = want[want.index(b"\r\n\r\n") + 4:]
        check(got.get("BODY[TEXT]") == body, "BODY[TEXT]: %r" % got.get("BODY[TEXT]"))
        check(got.get("BODY[1]<2>") == body[2:10], "BODY[1]<2.8>: %r" % got.get("BODY[1]<2>"))
        m.logout()


def t_login_nul():
    """A NUL inside a LOGIN literal or after the PLAIN password is not ignored: the credentials are the whole
    strings (RFC 3501 6.2.3, RFC 4616 2)."""
    with Harness() as h:
        r = Raw(h.port)
        pw = PASS.encode() + b"\0junk"
        r.send(b"a LOGIN " + USER.encode() + b" {%d+}\r\n" % len(pw) + pw + b"\r\n")
        _, t = r.until("a")
        check(t.startswith(b"a NO"), "LOGIN with a NUL after the password: %r" % t)
        ir = base64.b64encode(b"\0" + USER.encode() + b"\0" + pw).decode()
        _, t = r.cmd("b", "AUTHENTICATE PLAIN " + ir)
        check(t.startswith(b"b BAD") or t.startswith(b"b NO"), "PLAIN with a NUL after the password: %r" % t)
        _, t = r.cmd("c", 'LOGIN %s "%s"' % (USER, PASS))
        check(t.startswith(b"c OK"), "LOGIN: %r" % t)
        r.close()


def t_sequence_edges():
    """RFC 3501 9: 4294967295 is a valid UID in a set (clients send 1:4294967295 for "all")."""
    with Harness() as h:
        r = Raw(h.port)
        r.login()
        r.cmd("s", "SELECT INBOX")
        u, t = r.cmd("f", "UID FETCH 1:4294967295 (FLAGS)")
        check(t.startswith(b"f OK") and len(u) == 5, "UID FETCH 1:4294967295: %r %r" % (u, t))
        u, t = r.cmd("f2", "UID FETCH 4294967295 (FLAGS)")
        check(t.startswith(b"f2 OK") and u == [], "UID FETCH 4294967295 names no message: %r %r" % (u, t))
        u, t = r.cmd("f3", "UID SEARCH UID 3:4294967295")
        check(u == [b"* SEARCH 3 4 5"], "UID SEARCH UID 3:4294967295: %r" % u)
        _, t = r.cmd("f4", "UID FETCH 1:4294967296 (FLAGS)")
        check(t.startswith(b"f4 BAD"), "a number past 2^32-1: %r" % t)
        r.close()


def t_empty_mailbox():
    """Commands with "*" or a range on an empty selected mailbox. UIDs (RFC 3501 / 9051 section 9, seq-number:
    "*" is the last UID, or UIDNEXT when the mailbox is empty; a UID set names the messages it covers, none
    here): UID FETCH / STORE / COPY / MOVE / EXPUNGE / SEARCH answer OK with no results, what mbsync,
    offlineimap and Thunderbird send on an empty folder. Message sequence numbers must exist: RFC 9051 asks
    for a tagged BAD for a number past the count, "including * if the selected mailbox is empty", and
    Dovecot answers BAD "Invalid messageset" there; clients look at EXISTS first. A SEARCH key that is a
    sequence set selects nothing."""
    with Harness() as h:
        r = Raw(h.port)
        r.login()
        r.cmd("c", "CREATE Empty")
        u, t = r.cmd("s", "SELECT Empty")
        check(b"* 0 EXISTS" in u and t.startswith(b"s OK"), "SELECT: %r %r" % (u, t))
        for k, c in enumerate(["UID FETCH 1:* (FLAGS)", "UID FETCH * (UID FLAGS RFC822.SIZE)",
                               "UID FETCH 1:4294967295 (FLAGS)", "UID STORE 1:* +FLAGS.SILENT (\\Seen)",
                               "UID STORE 1:* FLAGS (\\Deleted)", "UID COPY 1:* INBOX", "UID MOVE 1:* INBOX",
                               "UID EXPUNGE 1:*"]):
            u, t = r.cmd("u%d" % k, c)
            check(u == [] and t.startswith(b"u%d OK" % k), "%s on an empty mailbox: %r %r" % (c, u, t))
        for k, c in enumerate(["UID SEARCH ALL", "UID SEARCH UID 1:*", "UID SEARCH 1:*", "SEARCH 1:*",
                               "SEARCH *"]):
            u, t = r.cmd("q%d" % k, c)
            check(u == [b"* SEARCH"] and t.startswith(b"q%d OK" % k), "%s: %r %r" % (c, u, t))
        u, t = r.cmd("v", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1)")
        check(t.startswith(b"v OK") and not any(b"FETCH" in l for l in u), "CHANGEDSINCE: %r %r" % (u, t))
        for k, c in enumerate(["FETCH 1:* (FLAGS)", "FETCH * (FLAGS)", "STORE 1:* +FLAGS (\\Seen)",
                               "COPY 1:* INBOX", "MOVE 1:* INBOX"]):
            u, t = r.cmd("m%d" % k, c)
            check(u == [] and t == b"m%d BAD %s: invalid message sequence number" % (k, c.split()[0].encode()),
                  "%s on an empty mailbox: %r %r" % (c, u, t))
        # the session goes on: an APPEND makes 1:* valid
        u, t = r.cmd("a", "APPEND Empty {15+}\r\nSubject: e\r\n\r\nx")
        u2, t = r.cmd("n", "NOOP")
        check(b"* 1 EXISTS" in u + u2, "EXISTS: %r" % (u + u2))
        u, t = r.cmd("f", "FETCH 1:* (UID)")
        check(u == [b"* 1 FETCH (UID 1)"] and t.startswith(b"f OK"), "FETCH 1:*: %r %r" % (u, t))
        r.close()
    # imaplib, as a client library sends them
    with Harness() as h:
        m = h.imap()
        m.create("Empty")
        typ, d = m.select("Empty")
        check(typ == "OK" and d == [b"0"], "select: %r %r" % (typ, d))
        typ, d = m.uid("FETCH", "1:*", "(FLAGS)")
        check(typ == "OK" and d == [None], "imaplib UID FETCH 1:*: %r %r" % (typ, d))
        typ, d = m.uid("SEARCH", None, "ALL")
        check(typ == "OK" and d == [b""], "imaplib UID SEARCH ALL: %r %r" % (typ, d))
        try:
            m.fetch("1:*", "(FLAGS)")
            check(False, "FETCH 1:* on an empty mailbox answered OK")
        except imaplib.IMAP4.error as e:
            check("invalid message sequence number" in str(e), "FETCH 1:*: %s" % e)
        m.logout()


def t_search_sent_dates():
    """SENTBEFORE/SENTON/SENTSINCE compare the Date: header's own calendar day, disregarding time and
    timezone (RFC 3501 6.4.4), not the UTC day."""
    with Harness() as h:
        m = h.imap()
        for date in ("Tue, 2 Jan 2024 23:30:00 -0800", "Wed, 3 Jan 2024 00:30:00 +0100 (CET)"):
            typ, _ = m.append("INBOX", None, None, ("Subject: sent %s\r\nDate: %s\r\n\r\nx\r\n" % (date, date)).encode())
            check(typ == "OK", "APPEND")
        m.select("INBOX", readonly=True)
        for crit, want in ((("SENTON", "2-Jan-2024"), b"6"), (("SENTON", "3-Jan-2024"), b"7"),
                           (("SENTSINCE", "3-Jan-2024"), b"7"), (("SENTBEFORE", "3-Jan-2024", "SENTSINCE", "1-Jan-2024"), b"6"),
                           (("NOT", "SENTBEFORE", "2-Jan-2024", "NOT", "SENTSINCE", "4-Jan-2024"), b"6 7")):
            typ, d = m.search(None, *crit)
            check(typ == "OK" and d == [want], "SEARCH %s: %r (want %r)" % (" ".join(crit), d, want))
        m.logout()


def t_protocol2():
    with Harness() as h:
        h.control("offline")
        r = Raw(h.port)
        r.login()
        r.cmd("s", "SELECT INBOX")
        _, t = r.cmd("f", "FETCH 5 (BODY.PEEK[])")
        check(t.startswith(b"f NO [UNAVAILABLE]"), "offline uncached fetch: %r" % t)
        _, t = r.cmd("f2", "FETCH 5 (ENVELOPE RFC822.SIZE)")
        check(t.startswith(b"f2 OK"), "summary fetch offline: %r" % t)
        check(h.control("fetches") == ["0"], "fetch attempted while offline")
        h.control("online")
        u, t = r.cmd("f3", "FETCH 5 (BODY.PEEK[TEXT])")
        check(t.startswith(b"f3 OK") and b"Body only on the server." in b"".join(u), "on-demand fetch: %r" % u)
        # malformed commands get BAD with a reason
        for bad, why in ((b"f4 FETCH 1 (FLAGS", b"unbalanced"), (b"f5 FETCH x FLAGS", b"sequence"),
                         (b"f6 FROB", b"Unknown command"), (b"f7 SEARCH SINCE 1-Foo-2020", b"invalid date"),
                         (b"f8 FETCH 99 FLAGS", b"message sequence number"),
                         (b"f9 STORE 1 +FLAGS (\\Recent)", b"Recent"), (b"(x NOOP", b"tag")):
            r.send(bad + b"\r\n")
            tg = bad.split(b" ")[0]
            t = r.line()
            while not (t.startswith(tg + b" ") or t.startswith(b"* BAD")):
                t = r.line()
            check(b"BAD" in t and why.lower() in t.lower(), "malformed %r -> %r" % (bad, t))
        _, t = r.cmd("g1", "NOOP")
        check(t.startswith(b"g1 OK"), "session survives malformed input")
        r.close()

        m = h.imap()
        m.select("INBOX")
        # SEARCH
        def search(*crit):
            typ, d = m.search(None, *crit)
            return d[0].decode().split()
        check(search("TEXT", "xylophone") == ["1"], "TEXT")
        check(search("BODY", "harbour") == ["2"], "BODY")
        check(search("FROM", "carol") == ["2"], "FROM")
        check(search("SUBJECT", "lunch") == ["3"], "SUBJECT")
        check(search("SEEN") == ["4"], "SEEN")
        check(search("NOT", "SEEN") == ["1", "2", "3", "5"], "NOT SEEN")
        check(search("OR", "FROM", "alice", "FROM", "grace") == ["1", "4"], "OR")
        check(search("LARGER", "600") == ["2", "3"], "LARGER")
        check(search("SINCE", "17-Nov-2023") == ["4", "5"], "SINCE: %s" % search("SINCE", "17-Nov-2023"))
        check(search("HEADER", "Message-ID", "nested-3") == ["3"], "HEADER")
        check(search("2:3", "UNSEEN") == ["2", "3"], "seq set")
        typ, d = m.uid("SEARCH", None, "UID", "4:*")
        check(d[0].split() == [b"4", b"5"], "UID SEARCH")
        # STORE and the journal
        typ, d = m.store("1", "+FLAGS", "(\\Flagged $Important)")
        check(b"\\Flagged" in d[0] and b"$Important" in d[0], "STORE: %r" % d)
        typ, d = m.store("1", "-FLAGS.SILENT", "($Important)")
        check(d == [None], "STORE .SILENT answered %r" % d)
        j = h.journal()
        check(re.search(r"op=flags state=pending item=\d+ folder=\d+ target=0 flags=4 keywords=\$Important name= uid=1$",
                        j, re.M), "journal: " + j)
        # COPY / MOVE with COPYUID, EXPUNGE
        typ, d = m.uid("COPY", "1:2", "Archive")
        check(typ == "OK", "COPY")
        r = Raw(h.port)
        r.login()
        r.cmd("s", "SELECT INBOX")
        _, t = r.cmd("c", "UID COPY 1,2 Archive")
        check(re.match(rb"c OK \[COPYUID \d+ 1:2 4:5\]", t), "COPYUID: %r" % t)
        u, t = r.cmd("m", "UID MOVE 3 Archive")
        check(any(re.match(rb"\* OK \[COPYUID \d+ 3 6\]", l) for l in u) and b"* 3 EXPUNGE" in u, "MOVE: %r" % u)
        _, t = r.cmd("x", "COPY 1 Nonexistent")
        check(t.startswith(b"x NO [TRYCREATE]"), "TRYCREATE: %r" % t)
        _, t = r.cmd("a", "APPEND INBOX (\\Seen) {27}\r\nSubject: appended\r\n\r\nhello\r\n".replace("{27}\r\n", "{27+}\r\n"))
        check(re.match(rb"a OK \[APPENDUID \d+ 6\]", t), "APPENDUID: %r" % t)
        r.cmd("st", "STORE 1 +FLAGS.SILENT (\\Deleted)")
        u, t = r.cmd("e", "UID EXPUNGE 2")
        check(t.startswith(b"e OK") and not any(b"EXPUNGE" in l for l in u), "UID EXPUNGE of an undeleted: %r" % u)
        u, t = r.cmd("e2", "EXPUNGE")
        check(b"* 1 EXPUNGE" in u, "EXPUNGE: %r" % u)
        u, t = r.cmd("st2", "STATUS Archive (MESSAGES UIDNEXT UNSEEN)")
        check(any(b'"Archive" (MESSAGES 6 UIDNEXT 7' in l for l in u), "STATUS: %r" % u)
        # mailbox management
        for cmd, want in (("CREATE Work/Reports", b"OK"), ("CREATE Work/Reports", b"NO [ALREADYEXISTS]"),
                          ("RENAME Work/Reports Work/Old", b"OK"), ("SUBSCRIBE Work/Old", b"OK"),
                          ('UNSUBSCRIBE "Work/Old"', b"OK"), ("DELETE Work", b"NO [HASCHILDREN]"),
                          ("DELETE Work/Old", b"OK"), ("DELETE INBOX", b"NO"), ("CREATE &AOQ-rger", b"OK")):
            _, t = r.cmd("mb", cmd)
            check(t.startswith(b"mb " + want), "%s -> %r" % (cmd, t))
        u, t = r.cmd("ls", 'LSUB "" "*"')
        check(any(b'"INBOX"' in l for l in u), "LSUB: %r" % u)
        u, t = r.cmd("ls2", 'LIST "" "Work/*"')
        check(not any(b"Reports" in l for l in u), "renamed mailbox still listed")
        j = h.journal()
        for op in ("folder-create", "folder-rename", "subscribe", "folder-delete", "copy", "move", "delete",
                   "create"):
            check(re.search(r"^seq=\d+ op=%s state=pending " % op, j, re.M), "journal lacks %s:\n%s" % (op, j))
        # EXAMINE is read-only; UNSELECT / CLOSE
        u, t = r.cmd("ex", "EXAMINE INBOX")
        check(b"[READ-ONLY]" in t, "EXAMINE: %r" % t)
        _, t = r.cmd("ro", "STORE 1 +FLAGS (\\Seen)")
        check(t.startswith(b"ro NO"), "STORE in EXAMINE: %r" % t)
        _, t = r.cmd("un", "UNSELECT")
        check(t.startswith(b"un OK"), "UNSELECT")
        _, t = r.cmd("f", "FETCH 1 FLAGS")
        check(t.startswith(b"f BAD"), "FETCH after UNSELECT: %r" % t)
        r.cmd("s2", "SELECT INBOX")
        _, t = r.cmd("cl", "CLOSE")
        check(t.startswith(b"cl OK"), "CLOSE")
        r.close()

        # IDLE sees an APPEND from another connection
        idle = Raw(h.port)
        idle.login()
        u, _ = idle.cmd("s", "SELECT INBOX")
        exists = [int(l.split()[1]) for l in u if l.endswith(b"EXISTS")][0]
        idle.send("i IDLE\r\n")
        check(idle.line().startswith(b"+"), "IDLE continuation")
        m2 = h.imap()
        m2.append("INBOX", None, None, b"Subject: while idling\r\n\r\nping\r\n")
        idle.s.settimeout(5)
        l = idle.line()
        check(l == b"* %d EXISTS" % (exists + 1), "IDLE did not report the append: %r" % l)
        l = idle.line()
        check(l.endswith(b" RECENT"), "RECENT with the EXISTS: %r" % l)
        m2.select("INBOX")
        m2.store("1", "+FLAGS", "(\\Answered)")
        l = idle.line()
        check(b"FETCH" in l and b"\\Answered" in l, "IDLE did not report a flag change: %r" % l)
        idle.send("DONE\r\n")
        _, t = idle.until("i")
        check(t.startswith(b"i OK"), "IDLE end: %r" % t)
        # IDLE without a selected mailbox (Outlook) is accepted
        idle.cmd("u", "UNSELECT")
        idle.send("j IDLE\r\n")
        check(idle.line().startswith(b"+"), "IDLE in authenticated state")
        idle.send("DONE\r\n")
        _, t = idle.until("j")
        check(t.startswith(b"j OK"), "IDLE end (auth)")
        _, t = idle.cmd("lo", "LOGOUT")
        idle.close()
        m2.logout()
        m.logout()


# ---------------------------------------------------------------- condstore

def t_condstore():
    with Harness() as h:
        a = Raw(h.port)
        a.login()
        a.cmd("st", "STATUS INBOX (HIGHESTMODSEQ)")
        # CONDSTORE is on since STATUS HIGHESTMODSEQ; ENABLE still names it (RFC 5161 3.1)
        u, t = a.cmd("e0", "ENABLE CONDSTORE X-UNKNOWN")
        check(u == [b"* ENABLED CONDSTORE"] and t.startswith(b"e0 OK"), "ENABLE CONDSTORE: %r" % u)
        u, t = a.cmd("e", "ENABLE QRESYNC")
        check(b"* ENABLED QRESYNC" in u, "ENABLE: %r" % u)
        u, t = a.cmd("s", "SELECT INBOX (CONDSTORE)")
        uidv = int(re.search(rb"UIDVALIDITY (\d+)", b"\n".join(u)).group(1))
        hms = int(re.search(rb"HIGHESTMODSEQ (\d+)", b"\n".join(u)).group(1))
        u, t = a.cmd("f", "FETCH 1:* (UID MODSEQ)")
        check(all(b"MODSEQ (" in l for l in u) and len(u) == 5, "FETCH MODSEQ: %r" % u)
        a.cmd("lo", "LOGOUT")
        a.close()
        # another client changes flags and expunges
        m = h.imap()
        m.select("INBOX")
        m.store("2", "+FLAGS", "(\\Flagged)")
        m.store("4", "+FLAGS", "(\\Deleted)")
        m.expunge()
        # QRESYNC resync in a new session
        b = Raw(h.port)
        b.login()
        b.cmd("e", "ENABLE QRESYNC")
        u, t = b.cmd("s", "SELECT INBOX (QRESYNC (%d %d 1:5))" % (uidv, hms))
        check(b"* VANISHED (EARLIER) 4" in u, "VANISHED (EARLIER): %r" % u)
        check(any(b"UID 2 " in l and b"\\Flagged" in l and b"MODSEQ" in l for l in u), "changed flags: %r" % u)
        check(t.startswith(b"s OK [READ-WRITE]"), "SELECT QRESYNC: %r" % t)
        u, t = b.cmd("f", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % hms)
        check(b"* VANISHED (EARLIER) 4" in u and len([l for l in u if b"FETCH" in l]) == 1, "CHANGEDSINCE: %r" % u)
        u, t = b.cmd("f2", "FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % (hms + 100))
        check(u == [], "CHANGEDSINCE high: %r" % u)
        # conditional STORE
        u, t = b.cmd("c", "UID STORE 1,2 (UNCHANGEDSINCE %d) +FLAGS (\\Seen)" % hms)
        check(b"[MODIFIED 2]" in t, "UNCHANGEDSINCE: %r" % t)
        # RFC 7162 3.1.3 under a concurrent change: the sync sets \Flagged on UID 3 after the session read its
        # MODSEQ and before the store (the harness commits it just ahead of the front-end's flag edit). The
        # test and the change are one transaction, so the STORE fails for it and nothing overwrites \Flagged.
        u, t = b.cmd("r0", "UID FETCH 3 (MODSEQ)")
        ms3 = int(re.search(rb"MODSEQ \((\d+)\)", b"\n".join(u)).group(1))
        check(h.control("race 3 4") == [], "race armed")
        u, t = b.cmd("r1", "UID STORE 3 (UNCHANGEDSINCE %d) FLAGS.SILENT (\\Answered)" % ms3)
        check(t.startswith(b"r1 OK [MODIFIED 3]"), "UNCHANGEDSINCE under a concurrent change: %r %r" % (u, t))
        u, t = b.cmd("r2", "UID FETCH 3 (FLAGS MODSEQ)")
        fl = b"\n".join(u)
        check(b"\\Flagged" in fl and b"\\Answered" not in fl, "the concurrent change stays: %r" % u)
        u, t = b.cmd("q", "SEARCH MODSEQ %d" % (hms + 1))
        check(re.search(rb"\* SEARCH [\d ]+ \(MODSEQ \d+\)", b"\n".join(u)), "SEARCH MODSEQ: %r" % u)
        # an expunge by another session arrives as VANISHED (QRESYNC)
        m.store("1", "+FLAGS", "(\\Deleted)")
        m.expunge()
        u, t = b.cmd("n", "NOOP")
        check(b"* VANISHED 1" in u, "unsolicited VANISHED: %r" % u)
        # STATUS HIGHESTMODSEQ
        u, t = b.cmd("st", "STATUS INBOX (HIGHESTMODSEQ)")
        check(any(b"HIGHESTMODSEQ" in l for l in u), "STATUS HIGHESTMODSEQ")
        b.close()
        m.logout()


# ---------------------------------------------------------------- limits

def t_limits():
    with Harness({"max_literal": "1k", "login_timeout": "2s", "timeout": "3s"}) as h:
        r = Raw(h.port)
        r.login()
        r.send("a APPEND INBOX {5000}\r\n")
        l = r.line()
        check(l.startswith(b"a NO [TOOBIG]") and b"max_literal" in l, "sync literal over the limit: %r" % l)
        _, t = r.cmd("b", "NOOP")
        check(t.startswith(b"b OK"), "session after TOOBIG")
        r.send(b"c APPEND INBOX {500}\r\n")
        check(r.line().startswith(b"+"), "literal within the limit")
        r.send(b"x" * 500 + b"\r\n")
        _, t = r.until("c")
        check(t.startswith(b"c OK [APPENDUID"), "APPEND 500 bytes: %r" % t)
        r.send(b"d" + b" NOOP" * 20000 + b"\r\n")
        l = r.line()
        # tagged (RFC 3501 7.1.3): a client waits for its tag, not for an untagged BAD
        check(l.startswith(b"d BAD") and b"too long" in l, "over-long line: %r" % l)
        _, t = r.cmd("e", "NOOP")
        check(t.startswith(b"e OK"), "session after long line: %r" % t)
        # the same after a literal: the command fails, the connection stays
        r.send(b"g LOGIN {3+}\r\nbob" + b" x" * 40000 + b"\r\n")
        l = r.line()
        check(l.startswith(b"g BAD") and b"too long" in l, "over-long line after a literal: %r" % l)
        _, t = r.cmd("e2", "NOOP")
        check(t.startswith(b"e2 OK"), "session after a long line after a literal: %r" % t)
        # LITERAL+ over the limit (an mbsync APPEND of a huge message): read and dropped, NO [TOOBIG], the
        # session goes on (RFC 7888 4) and nothing is stored
        u, t = r.cmd("s0", "STATUS INBOX (MESSAGES)")
        before = b"\n".join(u)
        r.send(b"f APPEND INBOX (\\Seen) {3000+}\r\n" + b"y" * 3000 + b"\r\n")
        _, t = r.until("f")
        check(t.startswith(b"f NO [TOOBIG]") and b"3000" in t, "LITERAL+ over the limit: %r" % t)
        _, t = r.cmd("f1", "NOOP")
        check(t.startswith(b"f1 OK"), "session after a dropped LITERAL+: %r" % t)
        u, t = r.cmd("s1", "STATUS INBOX (MESSAGES)")
        check(b"\n".join(u) == before, "nothing appended: %r / %r" % (before, u))
        # beyond four times the limit the connection ends
        r.send(b"f2 APPEND INBOX {5000+}\r\n")
        l = r.line()
        check(l.startswith(b"f2 BAD [TOOBIG]"), "LITERAL+ far over the limit: %r" % l)
        check(r.line().startswith(b"* BYE"), "BYE after non-synchronising literal far over the limit")
        r.close()
        # autologout: before login (2s) and after (3s)
        r = Raw(h.port)
        t0 = time.time()
        l = r.line()
        check(l.startswith(b"* BYE") and 1.5 < time.time() - t0 < 10, "login timeout: %r" % l)
        r.close()
        r = Raw(h.port)
        r.login()
        t0 = time.time()
        l = r.line()
        check(l.startswith(b"* BYE") and b"Autologout" in l and 2.5 < time.time() - t0 < 10, "autologout: %r" % l)
        r.close()
    # a large message streams through APPEND and partial FETCH
    with Harness() as h:
        big = b"Subject: big\r\n\r\n" + b"".join(b"line %07d of a large message body\r\n" % i for i in range(200000))
        m = h.imap()
        typ, d = m.append("INBOX", None, None, big)
        check(typ == "OK", "APPEND of %d bytes" % len(big))
        m.select("INBOX")
        typ, d = m.fetch("6", "(RFC822.SIZE BODY.PEEK[]<3000000.64>)")
        check(str(len(big)).encode() in d[0][0] and d[0][1] == big[3000000:3000064], "partial of big: %r" % d[0][0])
        typ, d = m.fetch("6", "(BODY.PEEK[])")
        check(d[0][1] == big, "BODY[] of the big message")
        m.logout()


def t_shutdown_bye():
    """When the server stops (SIGTERM: outpostd and the harness call the front-end's stop()), every client
    still connected reads an untagged BYE before the connection closes (RFC 9051 7.1.5), with the
    UNAVAILABLE code (RFC 5530): a session not logged in, one between commands, one in IDLE, one in the middle
    of a command line, one in the middle of a literal, one over implicit TLS. A client that stopped reading
    holds up the shutdown for a bounded time only."""
    d = tempfile.mkdtemp(prefix="outpost-bye-")
    try:
        cert, key, ctx = self_signed(d)
        with Harness({"tls_cert": cert, "tls_key": key, "tls_listen": "127.0.0.1:0"}) as h:
            big = b"Subject: big\r\n\r\n" + (b"y" * 78 + b"\r\n") * 60000  # 4.8 MB
            m = h.imap()
            check(m.append("INBOX", None, None, big)[0] == "OK", "APPEND of the big message")
            m.logout()
            clients = {}
            clients["not logged in"] = Raw(h.port)
            plain = h.imap()
            plain.select("INBOX")
            clients["between commands"] = plain
            idle = h.imap()
            idle.select("INBOX")
            idle.send(b"i1 IDLE\r\n")
            check(idle.readline().startswith(b"+ "), "IDLE continuation")
            clients["in IDLE"] = idle
            partial = Raw(h.port)
            partial.login()
            partial.send("p1 SELECT IN")  # no line end yet
            clients["in a command line"] = partial
            lit = Raw(h.port)
            lit.login()
            lit.send("a1 APPEND INBOX {40}\r\n")
            check(lit.line().startswith(b"+"), "literal continuation")
            lit.send("Subject: half\r\n")  # 15 of the 40 bytes
            clients["in a literal"] = lit
            tls = imaplib.IMAP4_SSL("127.0.0.1", h.tls_port, ssl_context=ctx, timeout=30)
            tls.login(USER, PASS)
            clients["over TLS"] = tls
            # a client that asks for megabytes and reads none of them: its session blocks in a write
            stalled = socket.socket()
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stalled.connect(("127.0.0.1", h.port))
            stalled.sendall(('L LOGIN %s "%s"\r\nS SELECT INBOX\r\n' % (USER, PASS)).encode() +
                            b"".join(b"f%d FETCH 1:* (BODY.PEEK[])\r\n" % i for i in range(8)))
            time.sleep(1)
            t0 = time.time()
            h.proc.send_signal(signal.SIGTERM)
            for what, cl in clients.items():
                if isinstance(cl, Raw):
                    l, rest = cl.line(), cl.line()
                else:
                    l, rest = cl.readline().rstrip(b"\r\n"), cl.readline()
                check(l.startswith(b"* BYE [UNAVAILABLE] ") and b"shutting down" in l,
                      "%s: no BYE before the server closed the connection: %r" % (what, l))
                check(rest == b"", "%s: the connection stayed open after the BYE: %r" % (what, rest))
            h.proc.wait(timeout=20)
            took = time.time() - t0
            check(took < 8, "stopping took %.1f s with a client that does not read" % took)
            stalled.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------- concurrency

def t_concurrency():
    with Harness({"max_connections": "150"}) as h:
        errors = []
        barrier = threading.Barrier(100, timeout=60)

        def client(i):
            try:
                m = imaplib.IMAP4("127.0.0.1", h.port, timeout=60)
                m.login(USER, PASS)
                barrier.wait()  # all 100 logged in at once
                m.select("INBOX")
                typ, d = m.fetch("1:*", "(UID FLAGS BODY.PEEK[HEADER])")
                if typ != "OK" or len([x for x in d if isinstance(x, tuple)]) < 5:
                    errors.append("client %d: fetch %r" % (i, typ))
                if i % 10 == 0:
                    m.append("INBOX", None, None, b"Subject: from %d\r\n\r\nx\r\n" % i)
                m.logout()
            except Exception as e:  # noqa: BLE001
                errors.append("client %d: %r" % (i, e))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(100)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        check(not errors, "concurrent clients failed: %s" % errors[:5])
        m = h.imap()
        typ, d = m.select("INBOX")
        check(d == [b"15"], "appends of 10 clients: %r" % d)
        m.logout()
    with Harness({"max_connections": "3"}) as h:
        conns = [Raw(h.port) for _ in range(3)]
        extra = Raw(h.port)
        check(extra.greeting.startswith(b"* BYE"), "connection over the cap: %r" % extra.greeting)
        for c in conns:
            check(c.greeting.startswith(b"* OK"), "greeting")
            c.close()
        extra.close()


# ---------------------------------------------------------------- tls

def self_signed(d):
    """A certificate for 127.0.0.1 in directory d: (cert path, key path, a client context trusting it)."""
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    ctx = ssl.create_default_context(cafile=cert)
    ctx.check_hostname = False
    return cert, key, ctx


def t_tls():
    d = tempfile.mkdtemp(prefix="outpost-tls-")
    try:
        cert, key, ctx = self_signed(d)
        with Harness({"tls_cert": cert, "tls_key": key, "tls_listen": "127.0.0.1:0"}) as h:
            m = imaplib.IMAP4("127.0.0.1", h.port, timeout=30)
            check("STARTTLS" in m.capabilities, "STARTTLS not advertised")
            m.starttls(ssl_context=ctx)
            check("STARTTLS" not in m.capabilities, "STARTTLS still advertised after TLS")
            m.login(USER, PASS)
            typ, dd = m.select("INBOX")
            check(dd == [b"5"], "SELECT over STARTTLS")
            m.logout()
            s = imaplib.IMAP4_SSL("127.0.0.1", h.tls_port, ssl_context=ctx, timeout=30)
            s.login(USER, PASS)
            typ, dd = s.fetch("1:*", "(FLAGS)") if s.select("INBOX")[0] == "OK" else (None, None)
            check(typ == "OK", "implicit TLS session")
            s.logout()
            # command injection after STARTTLS is refused
            r = Raw(h.port)
            r.send("a STARTTLS\r\nb NOOP\r\n")
            l = r.line()
            check(b"BAD" in l or b"a OK" in l, "STARTTLS pipelining: %r" % l)
            r.close()
        # non-loopback without TLS is refused at create()
        with Harness({"listen": "0.0.0.0:0"}, expect_fail=True) as h:
            check(h.rc != 0 and "not a loopback address" in h.output and "tls_cert" in h.output,
                  "non-loopback without TLS: rc=%s %s" % (h.rc, h.output))
        with Harness({"listen": "0.0.0.0:0", "tls_cert": cert, "tls_key": key}) as h:
            r = Raw(h.port)  # from 127.0.0.1: loopback peers may log in without TLS
            check(b"STARTTLS" in r.greeting, "STARTTLS on a public listener")
            r.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------- reload

def t_reload():
    """SIGHUP applies a changed [imap] section (what outpostd does): new password, listen address and TLS
    certificate for new connections; connections already open, one of them in IDLE, keep working; a bad
    section or an address that cannot be bound keeps everything as it was."""
    d = tempfile.mkdtemp(prefix="outpost-reload-")
    try:
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
        ctx = ssl.create_default_context(cafile=cert)
        ctx.check_hostname = False
        with Harness() as h:
            logpath = os.path.join(h.dir, "harness.log")

            def reload(keys, want):
                n = open(logpath).read().count(want)
                h.write_config(keys)
                h.proc.send_signal(signal.SIGHUP)
                deadline = time.time() + 15
                while open(logpath).read().count(want) == n:
                    check(time.time() < deadline, "no '%s' after SIGHUP:\n%s" % (want, open(logpath).read()[-2000:]))
                    time.sleep(0.05)

            idle = Raw(h.port)
            idle.login()
            idle.cmd("s", "SELECT INBOX")
            idle.send("i IDLE\r\n")
            check(idle.line().startswith(b"+"), "IDLE")
            busy = Raw(h.port)
            busy.login()
            busy.cmd("s", "SELECT INBOX")
            check(b"STARTTLS" not in busy.greeting, "STARTTLS before TLS is configured")

            pw2 = os.path.join(h.dir, "pw2")
            with open(pw2, "w") as f:
                f.write("n3w pass\n")
            os.chmod(pw2, 0o600)
            keys = dict(h.keys, password_file=pw2, listen="127.0.0.2:0", tls_cert=cert, tls_key=key)
            os.remove(h.port_file)
            reload(keys, "imap_harness: reloaded")
            new_port = int(open(h.port_file).read().split()[0])
            # the open connections were kept: the one in IDLE still hears about changes
            m = imaplib.IMAP4("127.0.0.2", new_port, timeout=30)
            check("STARTTLS" in m.capabilities, "STARTTLS after the reload: %r" % (m.capabilities,))
            m.starttls(ssl_context=ctx)
            try:
                m.login(USER, PASS)
                check(False, "the old password still works")
            except imaplib.IMAP4.error as e:
                check("AUTHENTICATIONFAILED" in str(e), "old password: %s" % e)
            m.login(USER, "n3w pass")
            m.select("INBOX")
            m.store("1", "+FLAGS", "(\\Flagged)")
            idle.s.settimeout(10)
            l = idle.line()
            check(b"FETCH" in l and b"\\Flagged" in l, "IDLE across the reload: %r" % l)
            idle.send("DONE\r\n")
            _, t = idle.until("i")
            check(t.startswith(b"i OK"), "IDLE end after the reload: %r" % t)
            u, t = busy.cmd("f", "FETCH 1 (FLAGS)")
            check(t.startswith(b"f OK") and b"\\Flagged" in b"".join(u), "old connection after the reload: %r" % u)
            try:
                socket.create_connection(("127.0.0.1", h.port), timeout=5).close()
                check(False, "the old listener still accepts")
            except ConnectionRefusedError:
                pass
            # a section that does not validate, and an address in use: nothing changes
            reload(dict(keys, tls_key=""), "imap_harness: reload refused")
            blocker = socket.socket()
            blocker.bind(("127.0.0.1", 0))
            blocker.listen(1)
            taken = blocker.getsockname()[1]
            reload(dict(keys, listen="127.0.0.1:%d" % taken), "imap_harness: reload refused")
            blocker.close()
            check("reload refused: [imap] cannot listen on 127.0.0.1:%d" % taken in open(logpath).read(),
                  "bind failure not reported: " + open(logpath).read()[-1000:])
            m2 = imaplib.IMAP4("127.0.0.2", new_port, timeout=30)
            m2.starttls(ssl_context=ctx)
            m2.login(USER, "n3w pass")
            m2.logout()
            m.logout()
            for r in (idle, busy):
                r.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------- curl

def curl(h, url, *args):
    p = subprocess.run(["curl", "-sS", "--max-time", "30", "-u", "%s:%s" % (USER, PASS),
                        "imap://127.0.0.1:%d/%s" % (h.port, url)] + list(args), capture_output=True, timeout=60)
    check(p.returncode == 0, "curl %s: %s" % (url, p.stderr.decode()))
    return p.stdout


def t_curl():
    with Harness() as h:
        out = curl(h, "")
        check(b'"INBOX"' in out and b"Sent Items" in out, "curl LIST: %r" % out)
        out = curl(h, "INBOX?UNSEEN")
        check(out.strip() == b"* SEARCH 1 2 3 5", "curl SEARCH: %r" % out)
        out = curl(h, "INBOX;UID=1")
        check(out == open(os.path.join(FIXTURES, "01-plain.eml"), "rb").read(), "curl fetch")
        out = curl(h, "INBOX;UID=2;SECTION=HEADER.FIELDS%20(SUBJECT)")
        check(out.strip() == b"Subject: Photos attached", "curl section: %r" % out)
        out = curl(h, "INBOX;UID=2;SECTION=1")
        check(out == b"See the attached picture of the harbour.", "curl part: %r" % out)
        msg = os.path.join(tempfile.mkdtemp(prefix="outpost-curl-"), "m.eml")
        with open(msg, "wb") as f:
            f.write(b"From: curl@example.com\r\nSubject: via curl\r\n\r\nuploaded\r\n")
        curl(h, "INBOX", "-T", msg)
        out = curl(h, "INBOX", "-X", "UID FETCH 1:* (FLAGS RFC822.SIZE)")
        check(out.count(b"FETCH") == 6 and b"\\Seen" in out, "curl -X: %r" % out)
        out = curl(h, "INBOX", "-X", "UID SEARCH SUBJECT curl")
        check(out.strip() == b"* SEARCH 6", "curl APPEND found: %r" % out)
        shutil.rmtree(os.path.dirname(msg), ignore_errors=True)


# ---------------------------------------------------------------- real clients

def write_mbsyncrc(rc, port, user, password, mail):
    """An mbsync config syncing every folder of the account at 127.0.0.1:port both ways into the Maildir
    tree `mail` (INBOX at mail/INBOX, the other folders as directories named as on IMAP)."""
    with open(rc, "w") as f:
        f.write("IMAPAccount local\nHost 127.0.0.1\nPort %d\nUser %s\nPass \"%s\"\nSSLType None\n"
                "AuthMechs LOGIN\n\nIMAPStore remote\nAccount local\n\nMaildirStore near\nPath %s/\n"
                "Inbox %s/INBOX\nSubFolders Verbatim\n\nChannel ch\nFar :remote:\nNear :near:\n"
                "Patterns *\nCreate Both\nExpunge Both\nSyncState *\n" % (port, user, password, mail, mail))


def mbsync(rc):
    p = subprocess.run(["mbsync", "-c", rc, "-a"], capture_output=True, timeout=120)
    check(p.returncode == 0, "mbsync: %s %s" % (p.stdout.decode(), p.stderr.decode()))
    return p


def mbsync_first_run(h, d):
    """An mbsync config in directory d for the harness's account (write_mbsyncrc) and its first run:
    (config path, Maildir root)."""
    rc = os.path.join(d, "mbsyncrc")
    mail = os.path.join(d, "Mail")
    os.makedirs(mail)
    write_mbsyncrc(rc, h.port, USER, PASS, mail)
    mbsync(rc)
    return rc, mail


def t_mbsync():
    with Harness() as h:
        d = tempfile.mkdtemp(prefix="outpost-mbsync-")
        try:
            rc, mail = mbsync_first_run(h, d)
            inbox = os.path.join(mail, "INBOX", "cur")
            files = sorted(os.listdir(inbox)) + sorted(os.listdir(os.path.join(mail, "INBOX", "new")))
            check(len(files) == 5, "mbsync INBOX files: %r" % files)
            check(os.path.isdir(os.path.join(mail, "Archive", "2023")), "subfolders synced")
            # an empty folder (mbsync sends UID FETCH 1:* on it, t_empty_mailbox): synced, no messages
            check(sum(len(os.listdir(os.path.join(mail, "Archive", "2023", s))) for s in ("cur", "new")) == 0,
                  "the empty folder Archive/2023")
            check(len(os.listdir(os.path.join(mail, "Archive", "cur"))) + len(os.listdir(os.path.join(mail, "Archive", "new"))) == 1,
                  "Archive synced")
            # flag a message in the Maildir and sync back
            cur = [f for f in os.listdir(inbox)]
            src = None
            for sub in ("cur", "new"):
                for f in os.listdir(os.path.join(mail, "INBOX", sub)):
                    body = open(os.path.join(mail, "INBOX", sub, f), "rb").read()
                    if b"Quarterly report" in body:
                        src = os.path.join(mail, "INBOX", sub, f)
            check(src is not None, "message 1 in the Maildir: %r" % cur)
            base = os.path.basename(src).split(":2,")[0]
            flags = os.path.basename(src).split(":2,")[1] if ":2," in src else ""
            os.rename(src, os.path.join(mail, "INBOX", "cur", base + ":2," + "".join(sorted(set(flags + "FS")))))
            # a new message dropped into the Maildir, and a new draft
            with open(os.path.join(mail, "INBOX", "new", "%d.local.eml" % time.time()), "wb") as f:
                f.write(b"From: me@example.com\r\nSubject: written offline\r\n\r\nnew\r\n")
            check(os.path.isdir(os.path.join(mail, "Drafts", "cur")), "Drafts not synced: %r" % os.listdir(mail))
            draft = b"From: me@example.com\r\nTo: ann@example.com\r\nSubject: draft reply\r\n\r\nunfinished\r\n"
            with open(os.path.join(mail, "Drafts", "cur", "%d.local.eml:2,D" % time.time()), "wb") as f:
                f.write(draft)
            mbsync(rc)
            # every edit is a pending journal entry in the cache, for the sync engine to replay
            j = h.journal()
            check(re.search(r"^seq=\d+ op=flags state=pending .* flags=5 keywords= name= uid=1$", j, re.M),
                  "flag change (\\Seen \\Flagged) not journaled:\n" + j)
            check(len(re.findall(r"^seq=\d+ op=create state=pending ", j, re.M)) == 2, "new messages not journaled:\n" + j)
            check(re.search(r"^seq=\d+ op=create state=pending .* flags=16 ", j, re.M), "draft (\\Draft) not journaled:\n" + j)
            audit = h.audit()
            ops = [(e["op"], e["state"]) for e in audit["entries"]]
            check(ops.count(("flags", "pending")) == 1 and ops.count(("create", "pending")) == 2,
                  "outpost audit: %r" % audit)
            folders = {f["path"]: f for f in h.status()["folders"]}
            # Drafts: its creation at the first login (it did not exist on the server) and the draft
            check(folders.get("Drafts", {}).get("pending") == 2, "Drafts pending in outpost status: %r" % folders)
            m = h.imap()
            m.select("Drafts")
            typ, dd = m.fetch("1", "(FLAGS BODY.PEEK[])")
            # stored byte for byte as mbsync sent it (it adds its X-TUID header)
            check(b"\\Draft" in dd[0][0] and re.sub(rb"X-TUID: [^\r]*\r\n", b"", dd[0][1]) == draft,
                  "draft in the cache: %r" % dd)
            m.logout()
            m = h.imap()
            m.select("INBOX")
            typ, dd = m.search(None, "SUBJECT", '"written offline"')
            check(dd[0] != b"", "mbsync APPEND not in the cache")
            m.logout()
        finally:
            shutil.rmtree(d, ignore_errors=True)


def maildir_by_subject(box):
    """{Subject: (file path, flags after ':2,')} of the messages of one Maildir folder."""
    out = {}
    for sub in ("cur", "new"):
        for f in os.listdir(os.path.join(box, sub)):
            path = os.path.join(box, sub, f)
            m = re.search(rb"^Subject: ([^\r\n]*)", open(path, "rb").read(), re.M)
            out[m.group(1).decode() if m else None] = (path, f.split(":2,")[1] if ":2," in f else "")
    return out


def t_mbsync_twoway():
    """mbsync both ways after changes on both sides: the server (the sync engine) flags one message and
    expunges another, the user marks the flagged one \\Seen, answers a second and deletes a third in the
    Maildir (Expunge Both). After one mbsync run both sides hold the union of the flag changes, neither
    side has the messages deleted on the other, the edits are journaled for the server, and a second run
    changes nothing."""
    with Harness() as h:
        d = tempfile.mkdtemp(prefix="outpost-mbsync2-")
        try:
            rc, mail = mbsync_first_run(h, d)
            box = os.path.join(mail, "INBOX")
            local = maildir_by_subject(box)
            check(len(local) == 5, "first sync: %r" % local)
            # the server: UID 2 (Photos attached) gets \Flagged, UID 3 (Fwd: Lunch) is expunged
            check(h.control("flags 2 4")[0].startswith("modseq"), "server flag change")
            check(h.control("expunge 3") == [], "server expunge")
            # the user: Photos attached \Seen, Already read \Answered, Big attachment deleted
            def setflags(subject, add):
                path, fl = local[subject]
                base = os.path.basename(path).split(":2,")[0]
                os.rename(path, os.path.join(box, "cur", base + ":2," + "".join(sorted(set(fl + add)))))
            setflags("Photos attached", "S")
            setflags("Already read", "R")
            setflags("Big attachment not cached", "T")
            mbsync(rc)
            local = maildir_by_subject(box)
            check(sorted(local) == ["Already read", "Photos attached", "Quarterly report"], "Maildir after: %r" % local)
            check(local["Photos attached"][1] == "FS" and local["Already read"][1] == "RS" and
                  local["Quarterly report"][1] == "", "Maildir flags after: %r" % local)
            m = h.imap()
            m.select("INBOX")
            typ, dd = m.fetch("1:*", "(UID FLAGS)")
            got = {int(re.search(rb"UID (\d+)", x).group(1)): set(re.search(rb"FLAGS \(([^)]*)\)", x).group(1).split())
                   for x in dd}
            check(got == {1: set(), 2: {b"\\Seen", b"\\Flagged"}, 4: {b"\\Seen", b"\\Answered"}},
                  "cache after: %r" % got)
            m.logout()
            j = h.journal()
            check(re.search(r"^seq=\d+ op=flags state=pending .* flags=5 keywords= name= uid=2$", j, re.M) and
                  re.search(r"^seq=\d+ op=flags state=pending .* flags=3 keywords= name= uid=4$", j, re.M) and
                  re.search(r"^seq=\d+ op=delete state=pending item=5 ", j, re.M), "journal:\n" + j)
            entries = len(j.splitlines())
            mbsync(rc)
            check(maildir_by_subject(box) == local and len(h.journal().splitlines()) == entries,
                  "a second run changed something: %r\n%s" % (maildir_by_subject(box), h.journal()))
        finally:
            shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------- real clients against the Kerio simulator

def sync_tests():
    """tests/sync/test_sync.py as a module (the simulator, the daemon and the state-dump helpers), set
    up for the Kerio simulator."""
    sys.path.insert(0, os.environ["OUTPOST_SYNC_TESTS"])
    sys.dont_write_bytecode = True  # no __pycache__ in the source tree
    import test_sync
    test_sync.SRV = test_sync.Kerio()
    return test_sync


def maildir_messages(root):
    """{maildir directory relative to root: {file path: (Message-ID, flags after ':2,')}}"""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        if os.path.basename(dirpath) not in ("cur", "new"):
            continue
        box = os.path.relpath(os.path.dirname(dirpath), root)
        msgs = out.setdefault(box, {})
        for fn in files:
            path = os.path.join(dirpath, fn)
            with open(path, "rb") as f:
                head = f.read().split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
            mid = re.search(rb"^Message-ID:\s*<?([^>\r\n]*)>?", head, re.I | re.M)
            msgs[path] = (mid.group(1).decode() if mid else None, fn.split(":2,")[1] if ":2," in fn else "")
    return out


def mutf7_decode(name):
    """An IMAP mailbox name in modified UTF-7 (RFC 3501 5.1.3) as text."""
    return re.sub(r"&([^-]*)-", lambda m: "&" if not m.group(1) else
                  base64.b64decode(m.group(1).replace(",", "/") + "=" * (-len(m.group(1)) % 4)).decode("utf-16-be"),
                  name)


def mutf7_encode(text):
    """Text as an IMAP mailbox name in modified UTF-7 (RFC 3501 5.1.3)."""
    out, run = [], []

    def flush():
        if run:
            b = base64.b64encode("".join(run).encode("utf-16-be")).decode().rstrip("=").replace("/", ",")
            out.append("&" + b + "-")
            del run[:]
    for ch in text:
        if 0x20 <= ord(ch) <= 0x7e:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


def server_path(maildir_box):
    """The server folder path of a Maildir folder a client synced (INBOX is the server's Inbox)."""
    name = mutf7_decode(maildir_box)
    return "Inbox" + name[5:] if name == "INBOX" or name.startswith("INBOX/") else name


def sim_mail(ts, state):
    """{server folder path: {item id: item}} for the mail folders of a simulator state dump."""
    return {f["path"]: {i["id"]: i for i in f["items"]} for f in state["folders"] if f.get("type") == "FMail"}


def e2e_session(client_name):
    """The Kerio simulator with a small generated account, outpostd with the IMAP front-end on an ephemeral
    127.0.0.1 port (not started yet). Returns (the test_sync module, sim, outpost, work dir)."""
    ts = sync_tests()
    work = tempfile.mkdtemp(prefix="outpost-%s-e2e-" % client_name)
    env = ts.Env(os.path.join(work, "t"))
    sim = ts.Sim(env, {"messages": 60, "events": 3, "contacts": 3, "tasks": 2, "notes": 2}).start()
    op = ts.Outpost(env, sim)
    return ts, sim, op, work


def e2e_edit_maildir(ts, mail, inbox, state):
    """The user's edits in the Maildir: \\Flagged added to an INBOX message that has neither it nor
    \\Draft (renamed to cur/ with the flag letter, per the Maildir rules), and a new draft in Drafts/cur.
    Returns (the server id of the flagged message, the draft's Message-ID)."""
    by_mid = {ts.bare(ts.header(i, "mhMessageID")): i for i in sim_mail(ts, state)["Inbox"].values()}
    src = None
    for path, (mid, flags) in sorted(maildir_messages(mail)[inbox].items()):
        if "F" not in flags and "D" not in flags and mid in by_mid and not by_mid[mid]["isFlagged"]:
            src, src_mid, src_flags = path, mid, flags
            break
    check(src is not None, "an INBOX message without \\Flagged in the Maildir")
    base = os.path.basename(src).split(":2,")[0]
    os.rename(src, os.path.join(mail, inbox, "cur", base + ":2," + "".join(sorted(set(src_flags + "F")))))
    drafts = os.path.join(mail, "Drafts")
    check(os.path.isdir(os.path.join(drafts, "cur")), "Drafts in the Maildir: %r" % os.listdir(mail))
    draft_mid = "e2e-draft-%d@outpost.test" % os.getpid()
    draft = ("From: Jan Novak <jdoe@example.com>\r\nTo: Ann <ann@example.org>\r\nSubject: Draft written in the "
             "Maildir\r\nDate: Tue, 03 Jun 2025 09:00:00 +0000\r\nMessage-ID: <%s>\r\nMIME-Version: 1.0\r\n"
             "Content-Type: text/plain; charset=utf-8\r\n\r\nUnfinished reply about the quokkaberry plan.\r\n"
             % draft_mid).encode()
    with open(os.path.join(drafts, "cur", "%d.%d_1.outpost-test:2,DS" % (time.time(), os.getpid())), "wb") as f:
        f.write(draft)
    return by_mid[src_mid]["id"], draft_mid


def e2e_check_server(ts, sim, op, before, flagged_id, draft_mid, where):
    """The server holds exactly the edits: the one message gained \\Flagged and nothing else, Drafts gained
    the one draft (\\Draft, \\Seen), every other item is as it was; each write reached it once."""
    got = sim.counters()
    # The flag change is one Mails.set; the draft is one Mails.create and, since Kerio may ignore the
    # flags of a created mail, one Mails.set of its flags (plugins/kerio/src/write.c).
    check(got == {"Mails.set": 2, "Mails.create": 1},
          "%s: server writes %r, expected two Mails.set and one Mails.create; the cache's journal: %r" % (
              where, got, [(e["op"], e["state"], e["item_id"], e["remote_id"], e["message"]) for e in op.audit()]))
    after = sim.state()
    old, new = sim_mail(ts, before), sim_mail(ts, after)
    check(set(old) == set(new), "%s: mail folders %r -> %r" % (where, sorted(old), sorted(new)))
    flags = ("isSeen", "isAnswered", "isFlagged", "isDraft", "isForwarded", "isJunk")
    for path in set(old) & set(new):
        o, n = old[path], new[path]
        added = set(n) - set(o)
        check(not set(o) - set(n), "%s: %s lost %r" % (where, path, sorted(set(o) - set(n))))
        if path == "Drafts":
            check(len(added) == 1, "%s: Drafts gained %d messages" % (where, len(added)))
            for i in added:
                d = n[i]
                # Kerio gives a created mail its own Message-ID and keeps the client's as Resent-Message-ID
                check(draft_mid in (ts.bare(ts.header(d, "mhMessageID")), ts.bare(ts.header(d, "mhResentMessageID")))
                      and d["isDraft"] and d["isSeen"],
                      "%s: the new draft on the server: %r" % (where, {k: d.get(k) for k in ("subject",) + flags}))
        else:
            check(not added, "%s: %s gained %r" % (where, path, sorted(added)))
        for i in set(o) & set(n):
            want = dict((k, o[i].get(k)) for k in flags)
            if i == flagged_id:
                check(not want["isFlagged"], "the flagged message was not flagged before")
                want["isFlagged"] = True
            have = dict((k, n[i].get(k)) for k in flags)
            check(have == want, "%s: %s item %s flags %r, expected %r" % (where, path, i, have, want))
    # nothing else on the server moved either (other kinds of items)
    other = lambda st: {f["path"]: sorted(i["id"] for i in f["items"]) for f in st["folders"] if f.get("type") != "FMail"}
    check(other(before) == other(after), "%s: non-mail folders changed" % where)


def e2e_fts_idle(ts, op):
    """Between sync cycles outpostd builds the full-text index (`outpost status --json` shows "fts"
    {"indexed", "remaining"}); SEARCH TEXT then finds body words of synced and of locally made mail, and
    every hit really contains the word (RFC 3501: a case-insensitive substring of the message)."""
    def caught_up():
        p = op.run("status", "--json")
        st = json.loads(p.stdout)
        fts = st.get("fts")
        check(fts is not None, "status has no fts progress: %r" % sorted(st))
        return fts if fts.get("remaining") == 0 else None
    fts = ts.wait_for(caught_up, 60, "the full-text index to catch up", step=0.5)
    check(fts["indexed"] >= 60, "the idle indexer indexed %r items" % fts)
    plain = op.run("status").stdout
    check("full-text index complete" in plain, "plain status shows the index state: %r" % plain[:400])
    m = op.imap()
    try:
        m.select("INBOX", readonly=True)
        typ, dd = m.fetch("1", "(UID BODY.PEEK[TEXT])")
        uid = int(re.search(rb"UID (\d+)", dd[0][0]).group(1))
        words = sorted(set(re.findall(r"[A-Za-z]{7,}", dd[0][1].decode("utf-8", "replace"))), key=len)
        check(words, "a body word in INBOX message 1: %r" % dd[0][1][:300])
        word = words[-1]
        # Case-insensitive, and any part of a word finds it: its beginning, its middle, its end (RFC 3501
        # substrings; the index matches a key inside words).
        for q in (word, word.upper(), word[:-2].lower(), word[1:-1].lower(), word[2:].upper()):
            typ, hits = m.uid("SEARCH", None, "TEXT", '"%s"' % q)
            got = [int(x) for x in hits[0].split()]
            check(typ == "OK" and uid in got, "UID SEARCH TEXT %s finds UID %d: %r" % (q, uid, hits))
            for u in got:
                typ, body = m.uid("FETCH", str(u), "(BODY.PEEK[])")
                check(q.lower().encode() in body[0][1].lower(), "SEARCH TEXT %s hit UID %d without the text" % (q, u))
        m.select("Drafts", readonly=True)
        typ, hits = m.uid("SEARCH", None, "TEXT", "quokkaberry")
        check(typ == "OK" and len(hits[0].split()) == 1, "SEARCH TEXT finds the draft: %r" % hits)
        typ, hits = m.uid("SEARCH", None, "BODY", "zebraquokka")
        check(typ == "OK" and hits[0] == b"", "SEARCH BODY of an absent word: %r" % hits)
    finally:
        m.logout()


def e2e_idle_qresync(ts, sim, op):
    """Server changes the daemon's sync brings in reach a client in IDLE with QRESYNC enabled (RFC 2177,
    RFC 7162 3.2.10): a new message as EXISTS, a deleted one as VANISHED, a flag change as FETCH with
    MODSEQ. A client reconnecting with SELECT (QRESYNC ...) from before gets VANISHED (EARLIER) for the
    deletion and the flag change (RFC 7162 3.2.5.2). None of it is written back to the server. Also: the
    Kerio special folders carry their SPECIAL-USE attributes (RFC 6154)."""
    port = int(open(op.imap_port_file).read().split()[0])
    writes = sim.counters()
    r = Raw(port)
    try:
        _, t = r.cmd("l", 'LOGIN tester "%s"' % op.imap_password)
        check(t.startswith(b"l OK"), "login: %r" % t)
        # the server's special folders under their Kerio names carry their RFC 6154 attributes
        u, _ = r.cmd("x", 'LIST "" "*" RETURN (SPECIAL-USE)')
        use = {}
        for l in u:
            name = re.search(rb'(?:"([^"]*)"|(\S+))$', l)
            use[name.group(1) or name.group(2)] = set(re.findall(rb"\\(Sent|Drafts|Trash|Junk)\b", l))
        check(use.get(b"Sent Items") == {b"Sent"} and use.get(b"Drafts") == {b"Drafts"} and
              use.get(b"Deleted Items") == {b"Trash"} and use.get(b"Junk E-mail") == {b"Junk"},
              "special-use attributes: %r" % u)
        r.cmd("e", "ENABLE QRESYNC")
        u, t = r.cmd("s", "SELECT INBOX")
        text = b"\n".join(u)
        uidvalidity = int(re.search(rb"UIDVALIDITY (\d+)", text).group(1))
        hms = int(re.search(rb"HIGHESTMODSEQ (\d+)", text).group(1))
        exists = int(re.search(rb"\* (\d+) EXISTS", text).group(1))
        u, _ = r.cmd("f", "UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        uid_of = {}
        for l in u:
            mid = re.search(rb"Message-ID:\s*<([^>]*)>", l, re.I)
            if mid:
                uid_of[mid.group(1).decode()] = (int(re.search(rb"UID (\d+)", l).group(1)), b"\\Flagged" in l)
        inbox = sim_mail(ts, sim.state())["Inbox"]
        by_mid = {ts.bare(ts.header(i, "mhMessageID")): i for i in inbox.values()}
        plain = [m for m in sorted(by_mid) if m in uid_of and not uid_of[m][1]]
        gone, flag = plain[0], plain[1]
        r.send("i IDLE\r\n")
        check(r.line().startswith(b"+"), "IDLE continuation")
        sim.control("POST", "items/create", {"type": "mail", "folder": "Inbox", "item": ts.new_mail("arrives in IDLE")})
        sim.control("POST", "items/remove", {"id": by_mid[gone]["id"]})
        sim.control("POST", "items/set", {"id": by_mid[flag]["id"], "item": {"isFlagged": True}})
        ts.status_ok(op.sync(), "server changes during IDLE")
        r.s.settimeout(10)
        # The sync applies the three changes in the server's order, in one cycle or (with the server's push)
        # in two: the new message is number `exists` after the deletion, `exists` + 1 before it.
        vanished = b"* VANISHED %d" % uid_of[gone][0]
        added = (b"* %d EXISTS" % exists, b"* %d EXISTS" % (exists + 1))
        flagged = re.compile(rb"\* \d+ FETCH \(.*UID %d .*FLAGS \([^)]*\\Flagged.*MODSEQ" % uid_of[flag][0])
        def complete(seen):
            return vanished in seen and any(l in added for l in seen) and any(flagged.match(l) for l in seen)
        seen = []
        end = time.monotonic() + 20
        while time.monotonic() < end and not complete(seen):
            try:
                seen.append(r.line())
            except socket.timeout:
                break
        check(vanished in seen, "IDLE: VANISHED for the deleted message: %r" % seen)
        check(any(l in added for l in seen), "IDLE: EXISTS for the new message: %r" % seen)
        check(any(flagged.match(l) for l in seen), "IDLE: FETCH FLAGS MODSEQ for the flag change: %r" % seen)
        check(not any(b"EXPUNGE" in l for l in seen), "QRESYNC client got EXPUNGE instead of VANISHED: %r" % seen)
        r.send("DONE\r\n")
        _, t = r.until("i")
        check(t.startswith(b"i OK"), "IDLE end: %r" % t)
    finally:
        r.close()
    # a client that was away: SELECT with the state it had
    r = Raw(port)
    try:
        r.cmd("l", 'LOGIN tester "%s"' % op.imap_password)
        r.cmd("e", "ENABLE QRESYNC")
        u, t = r.cmd("s", "SELECT INBOX (QRESYNC (%d %d))" % (uidvalidity, hms))
        check(t.startswith(b"s OK"), "SELECT QRESYNC: %r" % t)
        check(b"* VANISHED (EARLIER) %d" % uid_of[gone][0] in u, "SELECT QRESYNC: VANISHED (EARLIER): %r" % u)
        check(any(b"UID %d " % uid_of[flag][0] in l and b"\\Flagged" in l for l in u if b"FETCH" in l),
              "SELECT QRESYNC: the flag change: %r" % u)
    finally:
        r.close()
    check(sim.counters() == writes, "server changes are not written back: %r -> %r" % (writes, sim.counters()))


def e2e_finish(ts, sim, op, work, ok):
    """Stops the daemon and the simulator (each must exit 0), shows the daemon's log after a failure and
    removes the work directory."""
    op.stop()
    sim.stop()
    fails = list(ts.FAILS)
    if fails or not ok:
        print("---- last lines of outpostd.log ----\n" + "".join(op.log_text().splitlines(True)[-40:]))
    shutil.rmtree(work, ignore_errors=True)
    check(not fails, "failures: %r" % fails)


def client_e2e(name, configure, more=False):
    """A real client syncs the whole account from outpostd (synced from the Kerio simulator) to a Maildir;
    a flag change and a new draft made in the Maildir come back through the cache to the simulator,
    exactly once. configure(work, port, password, maildir) returns the function that runs one client sync.
    more: then also the idle-time full-text index and IDLE / QRESYNC with server changes."""
    ts, sim, op, work = e2e_session(name)
    ok = False
    try:
        op.start()
        ts.status_ok(op.sync(), "first sync")
        before = sim.state()
        sim.reset_counters()
        port = int(open(op.imap_port_file).read().split()[0])
        mail = os.path.join(work, "Mail")
        os.makedirs(mail)
        run = configure(work, port, op.imap_password, mail)
        run()
        # the whole account: every server mail folder, each message once, in its folder
        boxes = maildir_messages(mail)
        server = sim_mail(ts, before)
        local = {server_path(b): sorted(m for m, _ in msgs.values()) for b, msgs in boxes.items()}
        remote = {p: sorted(ts.bare(ts.header(i, "mhMessageID")) for i in items.values()) for p, items in server.items()}
        # the cache's local-only Conflicts folder is served too (empty)
        check(local.pop("Conflicts", None) == [], "the Conflicts folder in the Maildir: %r" % sorted(local))
        check(local == remote, "Maildir vs server:\n%r\n%r" % (local, remote))
        check(sum(len(v) for v in remote.values()) >= 60, "the account holds %d messages" % sum(len(v) for v in remote.values()))
        check(sim.counters() == {}, "pulling the account writes nothing: %r" % sim.counters())
        flagged_id, draft_mid = e2e_edit_maildir(ts, mail, "INBOX", before)
        run()
        ts.status_ok(op.sync(), "replay of the Maildir edits")
        e2e_check_server(ts, sim, op, before, flagged_id, draft_mid, "after the push")
        # Another round trip changes nothing: the draft the server confirmed stays one message in the
        # Maildir, and nothing is sent twice.
        run()
        ts.status_ok(op.sync(), "second cycle")
        run()
        drafts = maildir_messages(mail)["Drafts"]
        check(len(drafts) == 1 and all(("<%s>" % draft_mid).encode() in open(p, "rb").read() for p in drafts),
              "the draft in the Maildir: %r" % drafts)
        inbox = {m: f for m, f in maildir_messages(mail)["INBOX"].values()}
        flagged_mid = ts.bare(ts.header(sim_mail(ts, before)["Inbox"][flagged_id], "mhMessageID"))
        check("F" in inbox[flagged_mid], "the flag stays in the Maildir: %r" % inbox[flagged_mid])
        e2e_check_server(ts, sim, op, before, flagged_id, draft_mid, "after a second round trip")
        if more:  # once is enough: what the server side does, not the client
            e2e_fts_idle(ts, op)
            e2e_idle_qresync(ts, sim, op)
        ok = True
    finally:
        e2e_finish(ts, sim, op, work, ok)


def t_mbsync_e2e():
    def configure(work, port, password, mail):
        rc = os.path.join(work, "mbsyncrc")
        write_mbsyncrc(rc, port, "tester", password, mail)
        return lambda: mbsync(rc)
    client_e2e("mbsync", configure, more=True)


def write_offlineimaprc(rc, meta, port, user, password, mail):
    """An offlineimap config syncing the account at 127.0.0.1:port both ways into the Maildir tree `mail`
    (folders as nested directories named as on IMAP, like write_mbsyncrc)."""
    with open(rc, "w") as f:
        f.write("[general]\naccounts = local\nmetadata = %s\n\n[Account local]\nlocalrepository = L\n"
                "remoterepository = R\n\n[Repository L]\ntype = Maildir\nlocalfolders = %s\nsep = /\n\n"
                "[Repository R]\ntype = IMAP\nremotehost = 127.0.0.1\nremoteport = %d\nremoteuser = %s\n"
                "remotepass = %s\nssl = no\nstarttls = no\nauth_mechanisms = LOGIN\n"
                % (meta, mail, port, user, password))


def offlineimap(rc):
    p = subprocess.run(["offlineimap", "-c", rc, "-o", "-u", "basic"], capture_output=True, timeout=120)
    out = p.stdout.decode() + p.stderr.decode()
    check(p.returncode == 0 and "ERROR" not in out, "offlineimap: %s" % out[-3000:])


def t_offlineimap_e2e():
    def configure(work, port, password, mail):
        rc = os.path.join(work, "offlineimaprc")
        write_offlineimaprc(rc, os.path.join(work, "meta"), port, "tester", password, mail)
        return lambda: offlineimap(rc)
    client_e2e("offlineimap", configure)


def t_offlineimap():
    with Harness() as h:
        d = tempfile.mkdtemp(prefix="outpost-olimap-")
        try:
            rc = os.path.join(d, "rc")
            write_offlineimaprc(rc, os.path.join(d, "meta"), h.port, USER, PASS, os.path.join(d, "Mail"))
            offlineimap(rc)
            inbox = os.path.join(d, "Mail", "INBOX")
            n = len(os.listdir(os.path.join(inbox, "cur"))) + len(os.listdir(os.path.join(inbox, "new")))
            check(n == 5, "offlineimap INBOX has %d messages" % n)
            empty = os.path.join(d, "Mail", "Archive", "2023")
            check(os.path.isdir(os.path.join(empty, "cur")) and
                  sum(len(os.listdir(os.path.join(empty, s))) for s in ("cur", "new")) == 0,
                  "offlineimap: the empty folder Archive/2023: %r" % os.listdir(os.path.join(d, "Mail")))
        finally:
            shutil.rmtree(d, ignore_errors=True)


def t_offlineimap_server_rename():
    """offlineimap3 after the server renamed a folder it had synced (the sync engine applies the rename:
    same folder, same UIDVALIDITY, a new name): the next run syncs the folder under its new name with
    its message, without an error, and the run after it changes nothing in the cache."""
    with Harness() as h:
        d = tempfile.mkdtemp(prefix="outpost-olimap-ren-")
        try:
            check(h.control("folder Projects") == [], "harness: folder")
            m = h.imap()
            m.select("INBOX")
            typ, _ = m.copy("1", "Projects")
            check(typ == "OK", "COPY into Projects")
            m.logout()
            rc = os.path.join(d, "rc")
            mail = os.path.join(d, "Mail")
            write_offlineimaprc(rc, os.path.join(d, "meta"), h.port, USER, PASS, mail)
            # offlineimap does not follow a rename: with createfolders (the default) it would create the old
            # name again on the IMAP side, a new mailbox (new UIDVALIDITY, RFC 3501 2.3.1.1) that its saved
            # state then refuses, as with any server; the Maildir keeps the old folder either way
            with open(rc, "a") as f:
                f.write("createfolders = False\n")
            offlineimap(rc)
            check(list(maildir_by_subject(os.path.join(mail, "Projects"))) == ["Quarterly report"],
                  "Projects after the first run: %r" % os.listdir(mail))
            check(h.control("mvfolder Projects Renamed") == [], "harness: mvfolder")
            offlineimap(rc)
            check(list(maildir_by_subject(os.path.join(mail, "Renamed"))) == ["Quarterly report"],
                  "Renamed after the server's rename: %r" % os.listdir(mail))
            m = h.imap()
            typ, st = m.status("Renamed", "(MESSAGES)")
            check(typ == "OK" and b"MESSAGES 1" in st[0], "the renamed folder on the IMAP side: %r" % st)
            m.logout()
            j = h.journal()
            offlineimap(rc)
            check(h.journal() == j, "a third run changed the cache:\n%s\n---\n%s" % (j, h.journal()))
        finally:
            shutil.rmtree(d, ignore_errors=True)


def t_neomutt():
    neomutt_read("INBOX")


def t_neomutt_nonascii():
    """NeoMutt reads a message of a folder whose name is not ASCII ("Projekte äöü", sent as modified UTF-7,
    RFC 3501 5.1.3): opened by its UTF-8 name, the message shows and gets \\Seen there."""
    neomutt_read("Projekte \u00e4\u00f6\u00fc")


def neomutt_read(folder):
    """NeoMutt (in tmux) opens `folder` (copied there from INBOX unless it is INBOX), shows the index, opens
    the quarterly report and quits; the message has \\Seen in that folder afterwards."""
    if not shutil.which("tmux"):
        print("SKIP: tmux missing")
        return
    with Harness() as h:
        if folder != "INBOX":
            m = h.imap()
            m.select("INBOX")
            typ, _ = m.copy("1", '"%s"' % mutf7_encode(folder))
            check(typ == "OK", "COPY into %r" % folder)
            m.logout()
        d = tempfile.mkdtemp(prefix="outpost-neomutt-")
        sess = "outpost-neomutt-%d" % os.getpid()
        try:
            rc = os.path.join(d, "rc")
            with open(rc, "w") as f:
                f.write('set folder="imap://%s@127.0.0.1:%d/"\nset spoolfile="+%s"\nset imap_pass="%s"\n'
                        "set ssl_starttls=no\nset ssl_force_tls=no\nset timeout=1\nset sort=date\n"
                        "set header_cache=%s/hc\nset message_cachedir=%s/mc\nset pager_stop=yes\n"
                        "set imap_check_subscribed=no\nset mail_check=1\nset charset=utf-8\n"
                        % (USER, h.port, folder, PASS, d, d))
            subprocess.run(["tmux", "new-session", "-d", "-s", sess, "-x", "160", "-y", "40",
                            "neomutt -n -F %s" % rc], check=True,
                           env=dict(os.environ, TERM="xterm", LANG="C.UTF-8", LC_ALL="C.UTF-8"))
            screen = ""
            deadline = time.time() + 30
            while time.time() < deadline and "Quarterly report" not in screen:
                time.sleep(0.5)
                screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", sess], capture_output=True).stdout.decode()
            check("Quarterly report" in screen, "neomutt index:\n" + screen)
            # open the first message (sorted by date: the quarterly report)
            subprocess.run(["tmux", "send-keys", "-t", sess, "1", "Enter"], check=True)
            time.sleep(0.3)
            subprocess.run(["tmux", "send-keys", "-t", sess, "Enter"], check=True)
            deadline = time.time() + 20
            while time.time() < deadline and "xylophone" not in screen:
                time.sleep(0.5)
                screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", sess], capture_output=True).stdout.decode()
            check("xylophone" in screen, "neomutt pager:\n" + screen)
            subprocess.run(["tmux", "send-keys", "-t", sess, "q", "q"], check=False)
            time.sleep(1)
            m = h.imap()
            m.select('"%s"' % mutf7_encode(folder))
            typ, dd = m.fetch("1", "(FLAGS)")
            check(b"\\Seen" in dd[0], "neomutt reading did not set \\Seen: %r" % dd)
            m.logout()
        finally:
            subprocess.run(["tmux", "kill-session", "-t", sess], capture_output=True)
            shutil.rmtree(d, ignore_errors=True)


GROUPS = {
    "protocol": [t_protocol2],
    "condstore": [t_condstore],
    "limits": [t_limits],
    "shutdown": [t_shutdown_bye],
    "concurrency": [t_concurrency],
    "tls": [t_tls],
    "reload": [t_reload],
    "curl": [t_curl],
    "mbsync": [t_mbsync, t_mbsync_twoway],
    "mbsync_e2e": [t_mbsync_e2e],
    "offlineimap_e2e": [t_offlineimap_e2e],
    "offlineimap": [t_offlineimap, t_offlineimap_server_rename],
    "neomutt": [t_neomutt, t_neomutt_nonascii],
}

if __name__ == "__main__":
    group = sys.argv[1]
    if group == "protocol":
        GROUPS["protocol"] = [t_protocol_caps, t_summaries, t_search_fts, t_search_unicode, t_idle_server_changes, t_keywords_in_flags, t_authenticate_raw, t_list_recursivematch,
                              t_mailbox_rfc3501, t_sequence_edges, t_empty_mailbox, t_fetch_missing_section, t_fetch_seen_expunged, t_fetch_expunged_elsewhere, t_recent, t_recent_restart, t_fetch_nul, t_login_nul,
                              t_search_sent_dates,
                              t_protocol2]
    for fn in GROUPS[group]:
        fn()
        print("ok", fn.__name__)
