#!/usr/bin/env python3
"""Every response line of a broad IMAP command matrix checked against the formal syntax (imap_grammar.py,
written from RFC 3501/9051 section 9 and the ABNF of the advertised extensions), and the RFCs' semantics of
each command where the grammar alone cannot tell (the status of the tagged response, the untagged responses
that must or must not come). The harness serves tests/imap/fixtures plus tests/imap/fixtures-grammar (nested
multipart with message/rfc822 inside, specials and 8-bit in addresses and subjects, an empty subject, no
Date, group addresses, very long header lines, an 8-bit body).

usage: test_imap_grammar.py [matrix|idle|qresync|conform]   (no argument: all)"""
import os
import re
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_imap  # noqa: E402
from imap_grammar import Client, GrammarError  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FAILURES = []


def expect(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)


def fixture_dir():
    d = tempfile.mkdtemp(prefix="outpost-imap-grammar-fx-")
    for src in (os.environ["IMAP_FIXTURES"], os.path.join(HERE, "fixtures-grammar")):
        for n in os.listdir(src):
            if n.endswith(".eml"):
                shutil.copy(os.path.join(src, n), d)
    return d


def login(h):
    c = Client(h.port)
    st, _, t = c.cmd('LOGIN %s "%s"' % (test_imap.USER, test_imap.PASS))
    assert st == "OK", t
    if not c.caps or "IMAP4REV1" not in c.caps:
        c.cmd("CAPABILITY")
    return c


def names(untagged, kind):
    return [r for r, _ in untagged if r[0] == kind]


def run(c, text, want="OK", literals=(), what=None):
    st, u, t = c.cmd(text, literals)
    expect(st == want, "%s -> %s (want %s): %r" % (what or text, st, want, t))
    return u, t


def fetch_raw(u):
    return b"".join(raw for r, raw in u if r[0] == "FETCH")


def code_of(t):
    m = re.match(rb"\S+ \w+ \[([^\]]*)\]", t)
    return m.group(1).decode() if m else None


# ---------------------------------------------------------------- the matrix

def t_matrix():
    with test_imap.Harness() as h:
        # not authenticated state
        c = Client(h.port)
        run(c, "CAPABILITY")
        run(c, "NOOP")
        st, _, t = c.cmd("SELECT INBOX")
        expect(st in ("BAD", "NO"), "SELECT before login: %r" % t)
        run(c, 'LOGIN bob "wrong"', "NO")
        run(c, "AUTHENTICATE PLAIN AGJvYgBzM2NyZXQgcGFzcw== x", "BAD",
            what="AUTHENTICATE with an argument after the initial response")
        run(c, 'LOGIN bob "s3cret pass" x', "BAD", what="LOGIN with a third argument")
        run(c, "LOGIN", "BAD", what="LOGIN without arguments")
        run(c, 'ID ("name" "grammar" "version" NIL)')
        run(c, "ID NIL")
        run(c, 'LOGIN %s {%d+}\r\n' % (test_imap.USER, len(test_imap.PASS)), literals=[test_imap.PASS.encode()],
            what="LOGIN with a LITERAL+ password")
        c.cmd("CAPABILITY")
        caps = c.caps
        run(c, "LOGIN a b", "BAD", what="LOGIN in the authenticated state")

        # server folders whose names hold specials: a '/' in a name is not the hierarchy delimiter
        for n in ("Invoices 2023/24", 'say "hi" \\ back', "a&b", "tab\there", "%wild*", "[brackets]",
                  "\u00dcn\u00efc\u00f6d\u00e9 \u65e5\u672c"):
            expect(h.control("folder " + n) == [], "harness: folder %r" % n)
        u, _ = run(c, 'LIST "" "%"')
        top = {r[3] for r in names(u, "LIST")}
        for n in ("Invoices 2023\u221524", 'say "hi" \\ back', "a&b", "tab\there", "%wild*", "[brackets]",
                  "\u00dcn\u00efc\u00f6d\u00e9 \u65e5\u672c"):
            expect(n in top, "server folder %r in LIST %%: %r" % (n, sorted(top)))
        run(c, 'EXAMINE "Invoices 2023&IhU-24"')
        run(c, 'STATUS "a&-b" (MESSAGES)')
        run(c, 'STATUS "tab&AAk-here" (MESSAGES)')
        run(c, 'STATUS "say \\"hi\\" \\\\ back" (MESSAGES)')
        run(c, "UNSELECT")

        # namespace / list / lsub / status
        run(c, "NAMESPACE")
        u, _ = run(c, 'LIST "" ""')
        expect(len(names(u, "LIST")) == 1, "LIST \"\" \"\" gives the hierarchy delimiter: %r" % u)
        u, _ = run(c, 'LIST "" "*"')
        boxes = {r[3]: r for r in names(u, "LIST")}
        expect("INBOX" in boxes and "Projekte \u00e4\u00f6\u00fc" in boxes, "LIST *: %r" % list(boxes))
        run(c, 'LIST "" "%"')
        u, _ = run(c, 'LIST "" "*&AOQ-*"')
        expect([r[3] for r in names(u, "LIST")] == ["Projekte \u00e4\u00f6\u00fc"],
               "a pattern with a non-ASCII letter (*\u00e4*) finds Projekte \u00e4\u00f6\u00fc: %r" % u)
        u, _ = run(c, 'LIST "" "Projekte &AOQ-%"')
        expect(len(names(u, "LIST")) == 1, "LIST Projekte \u00e4%%: %r" % u)
        run(c, 'LIST "" "Archive/%"')
        run(c, 'LIST "Archive/" "%"')
        run(c, 'LIST "" "*" RETURN (CHILDREN SPECIAL-USE)')
        run(c, 'LIST (SUBSCRIBED) "" "*"')
        run(c, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
        run(c, 'LIST (SPECIAL-USE) "" "*"')
        u, _ = run(c, 'LIST "" "*" RETURN (STATUS (MESSAGES UIDNEXT UNSEEN UIDVALIDITY HIGHESTMODSEQ))')
        st_names = {r[1] for r in names(u, "STATUS")}
        expect("INBOX" in st_names, "LIST-STATUS gives STATUS for INBOX: %r" % st_names)
        run(c, 'LIST ("" "*")', "BAD", what="LIST with a bad argument")
        run(c, 'LIST "" ("INBOX" "Archive")', what="LIST with several patterns (LIST-EXTENDED)")
        run(c, "LSUB \"\" \"*\"")
        run(c, "STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)")
        run(c, 'STATUS "Projekte &AOQA9gD8-" (MESSAGES)')
        run(c, "STATUS Nonexistent (MESSAGES)", "NO")
        run(c, "STATUS INBOX (BOGUS)", "BAD")
        run(c, "STATUS INBOX ()", "BAD", what="STATUS with an empty item list (status-att-list is 1*)")
        run(c, "FETCH 1 FLAGS", "BAD", what="FETCH in the authenticated state")

        # create / rename / delete, names with specials and non-ASCII
        run(c, 'CREATE "quote\\"and\\\\back"', what="CREATE with a quote and a backslash")
        run(c, 'CREATE "Stra&AN8-e/sub"')
        run(c, 'CREATE {8}\r\n', literals=[b"Lit[er]l"], what="CREATE with a literal name holding ]")
        u, _ = run(c, 'LIST "" "*"')
        got = {r[3] for r in names(u, "LIST")}
        expect('quote"and\\back' in got, "LIST after CREATE quote: %r" % got)
        expect("Stra\u00dfe/sub" in got and "Stra\u00dfe" in got, "CREATE made the superior: %r" % got)
        expect("Lit[er]l" in got, "LIST after CREATE Lit[er]l: %r" % got)
        run(c, "CREATE INBOX", "NO")
        run(c, 'CREATE ""', "NO", what="CREATE of the empty name (a valid astring: NO, not BAD)")
        run(c, "CREATE Archive", "NO")
        run(c, "DELETE INBOX", "NO")
        run(c, "DELETE Nonexistent", "NO")
        run(c, "RENAME Nonexistent Foo", "NO")
        run(c, "RENAME Archive INBOX", "NO")
        run(c, 'RENAME "Lit[er]l" "Renamed \\"x\\""')
        run(c, 'SUBSCRIBE "Renamed \\"x\\""')
        u, _ = run(c, 'LSUB "" "Renamed*"')
        expect(len(names(u, "LSUB")) == 1, "LSUB after SUBSCRIBE: %r" % u)
        run(c, 'UNSUBSCRIBE "Renamed \\"x\\""')
        u, _ = run(c, 'LSUB "" "Renamed*"')
        expect(len(names(u, "LSUB")) == 0, "LSUB after UNSUBSCRIBE: %r" % u)
        run(c, 'DELETE "Renamed \\"x\\""')

        # APPEND
        msg = b"From: a@example.com\r\nSubject: appended\r\n\r\nbody \xc3\xa4\r\n"
        u, t = run(c, 'APPEND INBOX (\\Seen $Label1) " 5-Mar-2024 10:00:00 +0100" {%d}\r\n' % len(msg),
                   literals=[msg])
        cd = code_of(t) or ""
        expect(cd.startswith("APPENDUID "), "APPEND gives APPENDUID: %r" % t)
        u, t = run(c, "APPEND INBOX {%d+}\r\n" % len(msg), literals=[msg], what="APPEND with LITERAL+")
        run(c, "APPEND Nonexistent {%d+}\r\n" % len(msg), "NO", literals=[msg])
        st, u, t = c.cmd("APPEND Nonexistent {%d+}\r\n" % len(msg), [msg])
        expect(b"[TRYCREATE]" in t, "APPEND to a missing mailbox gives TRYCREATE: %r" % t)
        # TRYCREATE only where CREATE can succeed (RFC 3501 7.1): not for the name of a calendar folder
        st, u, t = c.cmd("APPEND Calendar {%d+}\r\n" % len(msg), [msg])
        expect(st == "NO" and b"TRYCREATE" not in t, "APPEND to the calendar folder's name: %r" % t)
        run(c, "CREATE Calendar", "NO")
        run(c, 'APPEND INBOX (\\Recent) {%d+}\r\n' % len(msg), "BAD", literals=[msg],
            what="APPEND with \\Recent (not a flag a client may set)")
        run(c, 'APPEND INBOX "bad date" {%d+}\r\n' % len(msg), "BAD", literals=[msg])
        run(c, 'APPEND INBOX "31-Feb-2024 10:00:00 +0100" {%d+}\r\n' % len(msg), "BAD", literals=[msg],
            what="APPEND with the date 31-Feb-2024")
        run(c, 'APPEND INBOX "29-Feb-2023 10:00:00 +0100" {%d+}\r\n' % len(msg), "BAD", literals=[msg],
            what="APPEND with the date 29-Feb-2023")
        u, t = run(c, 'APPEND INBOX "29-Feb-2024 10:00:00 +0100" {%d+}\r\n' % len(msg), literals=[msg])
        nul = b"From: a@example.com\r\nSubject: nul\r\n\r\na\x00b\r\n"
        run(c, "APPEND INBOX {%d}\r\n" % len(nul), "BAD", literals=[nul],
            what="APPEND of a message with NUL (literal is CHAR8; literal8 needs BINARY)")
        big = b"From: a@example.com\r\nSubject: big nul\r\n\r\n" + b"x" * 1200000 + b"\x00\r\n"
        run(c, "APPEND INBOX {%d+}\r\n" % len(big), "BAD", literals=[big], what="APPEND of a large message with NUL")

        # EXAMINE vs SELECT
        u, t = run(c, "EXAMINE INBOX")
        expect(b"[READ-ONLY]" in t, "EXAMINE is READ-ONLY: %r" % t)
        n_exists = c.state.exists
        run(c, "STORE 1 +FLAGS (\\Deleted)", "NO", what="STORE in EXAMINE")
        run(c, "EXPUNGE", "NO", what="EXPUNGE in EXAMINE")
        u, t = run(c, "FETCH 1 BODY[TEXT]")
        u, t = run(c, "FETCH 1 FLAGS")
        expect(b"\\Seen" not in fetch_raw(u) or True, "")
        u, t = run(c, "SELECT INBOX")
        expect(b"[READ-WRITE]" in t, "SELECT is READ-WRITE: %r" % t)
        total = c.state.exists
        expect(total == n_exists, "EXAMINE and SELECT count alike")
        ut = [r for r, _ in u]
        for need in ("FLAGS", "EXISTS"):
            expect(any(r[0] == need for r in ut), "SELECT without %s" % need)
        expect(any(r[0] == "OK" and r[1] and r[1][0] == b"UIDVALIDITY" for r in ut), "SELECT without UIDVALIDITY")
        expect(any(r[0] == "OK" and r[1] and r[1][0] == b"UIDNEXT" for r in ut), "SELECT without UIDNEXT")
        expect(any(r[0] == "OK" and r[1] and r[1][0] == b"PERMANENTFLAGS" for r in ut), "SELECT without PERMANENTFLAGS")

        # body-fld-octets of every part equals the size of BODY[part] (RFC 3501 7.4.2), for every message
        for n in range(1, total + 1):
            run(c, "FETCH %d (BODYSTRUCTURE)" % n)
            parts = list(c.state.parts)
            if not parts:
                continue
            items = " ".join("BODY.PEEK[%s]" % ".".join(map(str, p)) for p, _ in parts)
            u, _ = run(c, "FETCH %d (%s)" % (n, items))
            raw = fetch_raw(u)
            for p, octets in parts:
                m = re.search(rb"BODY\[%s\] \{(\d+)\}" % ".".join(map(str, p)).encode(), raw)
                got = int(m.group(1)) if m else -1
                expect(got == octets, "message %d part %s: BODYSTRUCTURE says %d octets, BODY[%s] has %d"
                       % (n, ".".join(map(str, p)), octets, ".".join(map(str, p)), got))

        # fixture 15: Reply-To with a comment only is the From list; `name <>` is no group end (RFC 3501 7.4.2)
        u, _ = run(c, 'SEARCH HEADER Message-ID "odd-15"')
        n15 = names(u, "SEARCH")[0][1][0]
        u, _ = run(c, "FETCH %d (ENVELOPE)" % n15)
        env = fetch_raw(u)
        frm = b'((NIL NIL "Mailer-Daemon" "MISSING_DOMAIN"))'
        expect(env.count(frm) == 2 and b'"example.fr")) ' + frm in env,
               "Reply-To without an address is the From list: %r" % env)
        expect(b'("Just a name" NIL "MISSING_MAILBOX" "MISSING_DOMAIN")' in env, "name <> in ENVELOPE: %r" % env)

        # FETCH everything of every message
        u, t = run(c, "FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE)")
        expect(len(u) == total, "FETCH 1:* answered %d of %d" % (len(u), total))
        run(c, "FETCH 1:* ALL")
        run(c, "FETCH 1:* FAST")
        run(c, "FETCH 1:* FULL")
        run(c, "FETCH * (BODY.PEEK[] RFC822.HEADER)")
        run(c, "FETCH 1:* (BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[1] BODY.PEEK[1.MIME])")
        run(c, "FETCH 1:* (BODY.PEEK[1.2.MIME] BODY.PEEK[2.1] BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT])")
        run(c, "FETCH 1:* (BODY.PEEK[2.1.1] BODY.PEEK[2.1.2.HEADER] BODY.PEEK[2.1.2.TEXT] BODY.PEEK[2.1.3.MIME])")
        run(c, "FETCH 1:* (BODY.PEEK[HEADER.FIELDS (Subject From)] BODY.PEEK[HEADER.FIELDS.NOT (Subject To Cc)])")
        run(c, 'FETCH 1:* (BODY.PEEK[HEADER.FIELDS ("Subject" {2}\r\n To)])', literals=[b"Cc"],
            what="HEADER.FIELDS with quoted and literal field names")
        run(c, "FETCH 1:* (BODY.PEEK[2.HEADER.FIELDS (Subject)])")
        run(c, "FETCH 1:* (BODY.PEEK[]<0.10> BODY.PEEK[TEXT]<5.3> BODY.PEEK[1]<100000.10>)")
        u, t = run(c, "FETCH 1 (BODY.PEEK[]<100000.10>)")
        expect(re.search(rb"BODY\[\]<100000> (\"\"|\{0\})", fetch_raw(u)) is not None,
               "partial beyond the end is an empty string with the origin: %r" % fetch_raw(u))
        run(c, "FETCH 1:* (RFC822.TEXT)")
        run(c, "FETCH 1:* (RFC822)")
        run(c, "FETCH * FLAGS")
        run(c, "FETCH 5:3 FLAGS")
        u, _ = run(c, "FETCH *:1 (FLAGS)")
        expect(len(u) == total, "FETCH *:1 answered %d of %d" % (len(u), total))
        run(c, "FETCH 1,3,5:6,* (UID)")
        st, u, t = c.cmd("FETCH %d FLAGS" % (total + 5))
        expect(st in ("BAD", "NO"), "FETCH beyond EXISTS: %r" % t)
        run(c, "FETCH 0 FLAGS", "BAD")
        run(c, "FETCH 1 (FLAGS", "BAD")
        run(c, "FETCH 1 BOGUS", "BAD")
        run(c, "FETCH 1 BODY[1.0]", "BAD")
        run(c, "FETCH 1 BODY[MIME]", "BAD", what="MIME without a part number")
        run(c, "FETCH 1 (BODY[]<5.0>)", "BAD", what="partial with octet count 0 (nz-number)")
        run(c, "FETCH 1 (BODY.PEEK[]<4294967295.1>)")
        run(c, "FETCH 1 (BODY.PEEK[]<4294967296.1>)", "BAD", what="partial origin beyond 32 bits")
        run(c, "FETCH 1 (BODY.PEEK[]<0.4294967296>)", "BAD", what="partial length beyond 32 bits")
        run(c, "FETCH 1 (BODY.PEEK[]<99999999999999999999999.1>)", "BAD", what="partial origin beyond 64 bits")
        # UID FETCH
        u, _ = run(c, "UID FETCH 1:* (FLAGS)")
        expect(all(b"UID " in raw for _, raw in u if raw.startswith(b"* ") and b"FETCH" in raw),
               "UID FETCH responses carry UID")
        u, _ = run(c, "UID FETCH 4000000:* (FLAGS)")
        expect(len(names(u, "FETCH")) == 1, "UID FETCH n:* beyond the last UID gives the last message: %r" % u)
        u, _ = run(c, "UID FETCH 4000000:4000010 (FLAGS)")
        expect(len(names(u, "FETCH")) == 0, "UID FETCH beyond the last UID gives nothing: %r" % u)
        run(c, "UID FETCH 1:4294967295 (UID)")
        run(c, "UID FETCH 1:4294967296 (UID)", "BAD")
        # \Seen by BODY[] fetch
        run(c, "STORE 1 -FLAGS.SILENT (\\Seen)")
        u, _ = run(c, "FETCH 1 (BODY[TEXT])")
        expect(b"\\Seen" in fetch_raw(u), "BODY[] sets \\Seen and reports FLAGS: %r" % fetch_raw(u))

        # STORE
        run(c, "STORE 1 +FLAGS (\\Flagged)")
        u, _ = run(c, "STORE 1 +FLAGS.SILENT (\\Answered)")
        # CONDSTORE is enabled (STATUS HIGHESTMODSEQ above): a FETCH with UID and MODSEQ only may come
        expect(not any(r[0] == "FETCH" and "FLAGS" in r[2] for r, _ in u), "+FLAGS.SILENT sends no FLAGS: %r" % u)
        run(c, "STORE 1 -FLAGS (\\Answered)")
        run(c, "STORE 1 FLAGS (\\Seen \\Draft $Kw)")
        run(c, "STORE 1:* +FLAGS ($Kw2)")
        run(c, "STORE 1 +FLAGS (\\Recent)", "BAD", what="STORE \\Recent")
        run(c, "STORE 1 +FLAGS (\\Bogus)", "BAD", what="STORE of an unknown system flag")
        run(c, "STORE 1 FLAGS ()")
        run(c, "STORE 1 +FLAGS \\Flagged", what="STORE with a flag without parentheses")
        run(c, "STORE 1 XFLAGS (\\Seen)", "BAD")
        # a client's 8-bit or CR LF echoed in an error stays 7-bit TEXT-CHAR (the checker reads every line)
        run(c, "STORE 1 +FLAGS (\u00e4)", "BAD", what="STORE of an 8-bit keyword")
        run(c, "STORE 1 +FLAGS (a]b)", "BAD", what="STORE of a keyword with ]")
        run(c, 'STORE 1 +FLAGS ("kw")', "BAD", what="STORE of a quoted keyword")
        run(c, "FETCH 1 (BODY[HEADER.FIELDS (\u00e4)])", "BAD", what="FETCH of an 8-bit field name")
        run(c, "SEARCH \u00e4", "BAD", what="SEARCH with an 8-bit key")
        run(c, "STORE 1 \u00e4FLAGS (\\Seen)", "BAD", what="STORE with an 8-bit item")
        st, u, t = c.cmd("COPY 1 {5}\r\n", [b"a\r\nb\xff"])
        expect(st == "NO", "COPY to a missing mailbox named by a literal with CR LF: %r" % t)
        run(c, "UID STORE 1:* +FLAGS.SILENT (\\Seen)")
        u, _ = run(c, "UID STORE 1 -FLAGS (\\Seen)")
        expect(all(b"UID " in raw for _, raw in u if b"FETCH" in raw), "UID STORE responses carry UID: %r" % u)

        # SEARCH
        for k in ("ALL", "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "NEW", "OLD", "RECENT", "SEEN", "UNANSWERED",
                  "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN", "KEYWORD $Kw", "UNKEYWORD $Kw",
                  "BCC bob", "BEFORE 1-Jan-2030", "BODY lunch", "CC dave", "FROM carol", "HEADER Message-ID nested",
                  'HEADER "X-Long" ""', "LARGER 100", "NOT SEEN", "ON 15-Nov-2023", "OR SEEN FLAGGED",
                  "SENTBEFORE 1-Jan-2030", "SENTON 15-Nov-2023", "SENTSINCE 1-Jan-2000", "SINCE 1-Jan-2000",
                  "SMALLER 100000", "SUBJECT lunch", "TEXT lunch", "TO bob", "UID 1:*", "1:3,5", "*",
                  "(SEEN UNFLAGGED) OR DELETED (NOT DRAFT)", "MODSEQ 1", 'MODSEQ "/flags/\\\\Seen" all 1',
                  "CHARSET US-ASCII ALL", "CHARSET UTF-8 SUBJECT M\u00fcnchen"):
            st, u, t = c.cmd("SEARCH " + k)
            expect(st == "OK", "SEARCH %s: %r" % (k, t))
        run(c, "SEARCH CHARSET UTF-8 SUBJECT {8+}\r\n", literals=["M\u00fcnchen".encode()],
            what="SEARCH with a literal")
        u, _ = run(c, "SEARCH CHARSET UTF-8 SUBJECT {8}\r\n", literals=["M\u00fcnchen".encode()],
                   what="SEARCH with a synchronizing literal")
        s = names(u, "SEARCH")
        expect(len(s) == 1 and len(s[0][1]) == 1, "SEARCH SUBJECT München finds the message: %r" % s)
        # BODY is the body only (RFC 3501 6.4.4); the full-text index ignores diacritics, so an "ä" hit may be
        # the "a" of "example.com" in From: the body "body" of the long-header mail has neither
        def search_set(q, lits=()):
            u, _ = run(c, q, literals=lits)
            return set(names(u, "SEARCH")[0][1]) if names(u, "SEARCH") else set()
        n_long = search_set('SEARCH HEADER Message-ID "long-13"')
        n_umlaut = search_set('SEARCH HEADER Message-ID "nonascii-11"')
        for ch in ("\u00e4", "\u00e9", "\u00fc"):
            got = search_set("SEARCH CHARSET UTF-8 BODY {%d+}\r\n" % len(ch.encode()), [ch.encode()])
            expect(not (got & n_long), "SEARCH BODY %s matched a body without it: %r" % (ch, got))
            if ch != "\u00e9":
                expect(n_umlaut <= got, "SEARCH BODY %s missed K\u00e4se/\u00dcberblick: %r" % (ch, got))
        st, u, t = c.cmd("SEARCH CHARSET KOI8-X ALL")
        expect(st == "NO" and b"[BADCHARSET" in t, "SEARCH with an unknown charset: %r" % t)
        run(c, "SEARCH BOGUS", "BAD")
        run(c, "SEARCH BEFORE 32-Jan-2020", "BAD")
        run(c, "SEARCH UID", "BAD")
        u, _ = run(c, "UID SEARCH ALL")
        run(c, "UID SEARCH UID 4000000:*")
        u, _ = run(c, "SEARCH MODSEQ 1")
        s = names(u, "SEARCH")
        expect(s and (not s[0][1] or b"(MODSEQ" in [raw for r, raw in u if r[0] == "SEARCH"][0]),
               "SEARCH MODSEQ gives (MODSEQ n): %r" % u)

        # COPY / MOVE / UIDPLUS
        run(c, "CREATE Dest")
        u, t = run(c, "COPY 1:2 Dest")
        expect((code_of(t) or "").startswith("COPYUID "), "COPY gives COPYUID: %r" % t)
        u, t = run(c, "UID COPY 1:* Dest")
        expect((code_of(t) or "").startswith("COPYUID "), "UID COPY gives COPYUID: %r" % t)
        st, u, t = c.cmd("COPY 1 Contacts")
        expect(st == "NO" and b"TRYCREATE" not in t, "COPY to the contacts folder's name: %r" % t)
        st, u, t = c.cmd("COPY 1 Nonexistent")
        expect(st == "NO" and b"[TRYCREATE]" in t, "COPY to a missing mailbox: %r" % t)
        u, t = run(c, "UID COPY 4000000:4000010 Dest")
        before = c.state.exists
        u, t = run(c, "MOVE 2 Dest")
        ut = [r for r, _ in u]
        expect(any(r[0] == "OK" and r[1] and r[1][0] == b"COPYUID" for r in ut),
               "MOVE gives an untagged OK [COPYUID]: %r" % u)
        expect(any(r[0] == "EXPUNGE" and r[1] == 2 for r in ut), "MOVE expunges message 2: %r" % u)
        expect(c.state.exists == before - 1, "MOVE count")
        u, t = run(c, "UID MOVE 4000000:4000010 Dest")
        u, t = run(c, "UID MOVE 1 Nonexistent", "NO")

        # EXPUNGE order and numbers
        run(c, "STORE 2,4,5 +FLAGS.SILENT (\\Deleted)")
        before = c.state.exists
        u, _ = run(c, "EXPUNGE")
        ex = [r[1] for r, _ in u if r[0] == "EXPUNGE"]
        expect(ex in ([5, 4, 2], [2, 3, 3], [4, 4, 2], [2, 4, 3], [5, 2, 3], [4, 2, 3]) and len(ex) == 3,
               "EXPUNGE of 2,4,5 reports numbers as they shift: %r" % ex)
        expect(c.state.exists == before - 3, "EXPUNGE count")
        run(c, "STORE 1 +FLAGS.SILENT (\\Deleted)")
        u, t = run(c, "UID EXPUNGE 4000000")
        expect(not any(r[0] == "EXPUNGE" for r, _ in u), "UID EXPUNGE of another UID expunged: %r" % u)
        run(c, "UID EXPUNGE 1:*")
        run(c, "UID EXPUNGE", "BAD")

        # CHECK / CLOSE / UNSELECT
        run(c, "CHECK")
        run(c, "SELECT Dest")
        run(c, "STORE 1 +FLAGS.SILENT (\\Deleted)")
        n_before = c.state.exists
        u, _ = run(c, "UNSELECT")
        expect(not any(r[0] == "EXPUNGE" for r, _ in u), "UNSELECT sends no EXPUNGE")
        u, _ = run(c, "STATUS Dest (MESSAGES)")
        s = names(u, "STATUS")
        expect(s and b"MESSAGES %d" % n_before in [raw for r, raw in u if r[0] == "STATUS"][0],
               "UNSELECT does not expunge: %r" % u)
        run(c, "FETCH 1 FLAGS", "BAD", what="FETCH after UNSELECT")
        run(c, "EXAMINE Dest")
        u, _ = run(c, "CLOSE")
        expect(not any(r[0] == "EXPUNGE" for r, _ in u), "CLOSE sends no EXPUNGE")
        u, _ = run(c, "STATUS Dest (MESSAGES)")
        expect(b"MESSAGES %d" % n_before in fetch_raw(u) + b"".join(raw for _, raw in u),
               "CLOSE after EXAMINE does not expunge: %r" % u)
        run(c, "SELECT Dest")
        run(c, "CLOSE")
        u, _ = run(c, "STATUS Dest (MESSAGES)")
        expect(b"MESSAGES %d" % (n_before - 1) in b"".join(raw for _, raw in u),
               "CLOSE after SELECT expunges: %r" % u)
        run(c, "CLOSE", "BAD", what="CLOSE without a selected mailbox")
        run(c, "UNSELECT", "BAD", what="UNSELECT without a selected mailbox")
        run(c, "EXPUNGE", "BAD", what="EXPUNGE without a selected mailbox")

        # RENAME INBOX: moves the messages to the new mailbox, INBOX stays and is empty
        u, _ = run(c, "STATUS INBOX (MESSAGES)")
        m = re.search(rb"MESSAGES (\d+)", b"".join(raw for _, raw in u))
        n_inbox = int(m.group(1)) if m else -1
        st, u, t = c.cmd("RENAME INBOX OldInbox")
        if st == "OK":
            u, _ = run(c, "STATUS INBOX (MESSAGES)")
            expect(b"MESSAGES 0" in b"".join(raw for _, raw in u), "RENAME INBOX leaves INBOX empty: %r" % u)
            u, _ = run(c, "STATUS OldInbox (MESSAGES)")
            expect(b"MESSAGES %d" % n_inbox in b"".join(raw for _, raw in u),
                   "RENAME INBOX moved %d messages: %r" % (n_inbox, u))
        else:
            print("NOTE: RENAME INBOX refused: %r" % t)

        # syntax errors vs failures, unknown commands
        run(c, "BOGUS", "BAD")
        run(c, "SELECT", "BAD")
        run(c, "SELECT Nonexistent", "NO")
        run(c, 'SELECT "unterminated', "BAD")
        st, u, t = c.cmd("ENABLE CONDSTORE")
        expect(st == "OK", "ENABLE CONDSTORE: %r" % t)
        run(c, "SELECT INBOX")
        for cmd in ("NOOP", "CAPABILITY", "CHECK", "NAMESPACE", "STARTTLS", "IDLE", "EXPUNGE", "UNSELECT", "CLOSE",
                    "LOGOUT"):
            run(c, cmd + " extra", "BAD", what="%s with an argument (command-any etc. take none)" % cmd)
        run(c, "CREATE", "BAD")
        # trailing arguments are syntax errors, answered BAD before anything happens
        run(c, "CREATE Junk1")
        for cmd in ("CREATE Junk2 x", "CREATE Junk2 (x)", "DELETE Junk1 x", "SUBSCRIBE Junk1 x", "UNSUBSCRIBE Junk1 x",
                    'ID ("a")', 'ID ("a" "b" "c")', 'ID ("a" ("x"))', "ID NIL x", 'ID (NIL "b")'):
            run(c, cmd, "BAD", what="%s (syntax error)" % cmd)
        u, _ = run(c, 'LIST "" "Junk*"')
        expect([r[3] for r in names(u, "LIST")] == ["Junk1"], "after the BAD commands: %r" % u)
        run(c, 'ID ("name" "grammar" "os" NIL)')
        u, _ = run(c, "LOGOUT")
        expect(names(u, "BYE"), "LOGOUT sends BYE first: %r" % u)
        c.close()
        print("checked %d responses" % c.count)


def t_condstore_qresync():
    with test_imap.Harness() as h:
        c = login(h)
        u, t = run(c, "ENABLE CONDSTORE QRESYNC")
        en = names(u, "ENABLED")
        expect(en and "QRESYNC" in en[0][1], "ENABLED QRESYNC: %r" % u)
        u, t = run(c, "SELECT INBOX")
        ut = [r for r, _ in u]
        hm = [r[1][1] for r in ut if r[0] == "OK" and r[1] and r[1][0] == b"HIGHESTMODSEQ"]
        uv = [r[1][1] for r in ut if r[0] == "OK" and r[1] and r[1][0] == b"UIDVALIDITY"][0]
        expect(hm, "SELECT after ENABLE CONDSTORE gives HIGHESTMODSEQ")
        ms0 = hm[0] if hm else 1
        u, _ = run(c, "FETCH 1:* (UID MODSEQ)")
        run(c, "FETCH 1:* (FLAGS) (CHANGEDSINCE 1)")
        run(c, "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
        u, _ = run(c, "FETCH 1 (MODSEQ)")
        m = re.search(rb"MODSEQ \((\d+)\)", fetch_raw(u))
        ms1 = int(m.group(1))
        u, t = run(c, "STORE 1 (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)" % ms1)
        expect(b"MODSEQ" in fetch_raw(u), "STORE after CONDSTORE reports MODSEQ: %r" % u)
        u, t = run(c, "STORE 1,2 (UNCHANGEDSINCE %d) +FLAGS (\\Answered)" % ms1)
        expect("MODIFIED 1" in (code_of(t) or ""), "STORE UNCHANGEDSINCE on a changed message gives MODIFIED: %r" % t)
        u, t = run(c, "UID STORE 1:* (UNCHANGEDSINCE 0) +FLAGS (\\Answered)")
        expect((code_of(t) or "").startswith("MODIFIED"), "UNCHANGEDSINCE 0 fails every message: %r" % t)
        run(c, "STORE 1 (UNCHANGEDSINCE x) +FLAGS (\\Answered)", "BAD")
        run(c, "SEARCH MODSEQ %d" % ms1)
        # a second connection expunges a message; the first hears VANISHED (not EXPUNGE)
        c2 = login(h)
        run(c2, "SELECT INBOX")
        run(c2, "UID STORE 3 +FLAGS.SILENT (\\Deleted)")
        run(c2, "UID EXPUNGE 3")
        run(c2, "LOGOUT")
        u, _ = run(c, "NOOP")
        v = names(u, "VANISHED")
        expect(v and not v[0][1], "NOOP after another session's expunge gives VANISHED: %r" % u)
        run(c, "UNSELECT")
        u, t = run(c, "SELECT INBOX (QRESYNC (%d %d 1:100))" % (uv, ms0))
        v = names(u, "VANISHED")
        expect(v and v[0][1], "SELECT QRESYNC gives VANISHED (EARLIER): %r" % u)
        expect(any(r[0] == "OK" and r[1] and r[1][0] == b"CLOSED" for r, _ in u) is False,
               "no CLOSED without a previously selected mailbox")
        u, t = run(c, "SELECT INBOX (QRESYNC (%d %d))" % (uv, ms0))
        expect(any(r[0] == "OK" and r[1] and r[1][0] == b"CLOSED" for r, _ in u),
               "SELECT while a mailbox is selected gives OK [CLOSED] (RFC 7162 3.2.11): %r" % u)
        u, t = run(c, "SELECT INBOX (QRESYNC (%d %d 1:100 (1,3 1,3)))" % (uv, ms0))
        run(c, "SELECT INBOX (QRESYNC (%d))" % uv, "BAD")
        u, t = run(c, "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % ms0)
        run(c, "FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % ms0, "BAD",
            what="VANISHED modifier without UID FETCH")
        run(c, "EXPUNGE")
        run(c, "LOGOUT")
        c.close()
        print("checked %d responses" % c.count)


def t_idle():
    with test_imap.Harness() as h:
        c = login(h)
        run(c, "SELECT INBOX")
        u, _ = run(c, "STORE 1 +FLAGS.SILENT (\\Answered)")
        expect(not u, "+FLAGS.SILENT before CONDSTORE is enabled sends nothing: %r" % u)
        n = c.state.exists
        c.n += 1
        tag = "g%d" % c.n
        c.send(tag + " IDLE\r\n")
        r, raw = c.next()
        expect(r[0] == "+", "IDLE continuation: %r" % raw)
        c2 = login(h)
        msg = b"From: x@example.com\r\nSubject: during idle\r\n\r\nhi\r\n"
        run(c2, "APPEND INBOX {%d+}\r\n" % len(msg), literals=[msg])
        run(c2, "SELECT INBOX")
        run(c2, "STORE 1 +FLAGS (\\Flagged)")
        run(c2, "STORE 2 +FLAGS.SILENT (\\Deleted)")
        run(c2, "EXPUNGE")
        got = []
        deadline = time.time() + 10
        c.s.settimeout(1)
        while time.time() < deadline and not (any(x[0] == "EXISTS" for x in got) and
                                               any(x[0] == "EXPUNGE" for x in got) and
                                               any(x[0] == "FETCH" for x in got)):
            try:
                r, raw = c.next()
                got.append(r)
            except (TimeoutError, OSError):
                pass
        c.s.settimeout(15)
        expect(any(x[0] == "EXISTS" for x in got), "IDLE: EXISTS for the APPEND: %r" % got)
        expect(any(x[0] == "EXPUNGE" for x in got), "IDLE: EXPUNGE: %r" % got)
        expect(any(x[0] == "FETCH" for x in got), "IDLE: FETCH FLAGS: %r" % got)
        c.send("DONE\r\n")
        st, u, t = c.until(tag)
        expect(st == "OK", "IDLE completes OK: %r" % t)
        expect(c.state.exists == n, "IDLE count: %d vs %d" % (c.state.exists, n))
        c.n += 1
        tag = "g%d" % c.n
        c.send(tag + " IDLE\r\n")
        c.next()
        c.send("BOGUS\r\n")
        st, u, t = c.until(tag)
        expect(st == "BAD", "IDLE ended by something other than DONE: %r" % t)
        # a line over the limit instead of DONE: BAD as well, the session goes on
        c.n += 1
        tag = "g%d" % c.n
        c.send(tag + " IDLE\r\n")
        c.next()
        c.send("DONE" + "x" * 70000 + "\r\n")
        st, u, t = c.until(tag)
        expect(st == "BAD", "IDLE ended by an over-long line: %r" % t)
        run(c, "NOOP")
        run(c, "LOGOUT")
        run(c2, "LOGOUT")


def modseq_of(raw):
    m = re.search(rb"MODSEQ \((\d+)\)", raw)
    return int(m.group(1)) if m else None


def t_conform():
    """Behaviour a strict tester checks beyond the grammar: conditional STORE that changes nothing (RFC 7162
    3.1.3 and 3.1.11), DELETE of the selected mailbox (own session: CLOSED; another: BYE), server folders named
    inbox in any case and with '/' in their name (README "Server folder names"), STATUS of the selected
    mailbox after its EXISTS, RENAME onto INBOX."""
    with test_imap.Harness() as h:
        c = login(h)
        u, t = run(c, "SELECT INBOX (CONDSTORE)")
        u, _ = run(c, "UID FETCH 1 (MODSEQ)")
        run(c, "UID STORE 1 +FLAGS.SILENT (\\Flagged)")
        u, _ = run(c, "UID FETCH 1 (MODSEQ)")
        ms = modseq_of(fetch_raw(u))
        # no-op with UNCHANGEDSINCE and .SILENT: the FETCH with MODSEQ must still come (3.1.3), the MODSEQ stays
        # (3.1.11: adding a flag already there SHOULD NOT change it) and no FLAGS (.SILENT)
        for cmd in ("UID STORE 1 (UNCHANGEDSINCE %d) +FLAGS.SILENT (\\Flagged)" % ms,
                    "UID STORE 1 (UNCHANGEDSINCE %d) -FLAGS.SILENT (\\Answered)" % ms,
                    "STORE 1 (UNCHANGEDSINCE %d) FLAGS.SILENT (\\Flagged)" % ms):
            u, t = run(c, cmd)
            f = [raw for r, raw in u if r[0] == "FETCH"]
            expect(len(f) == 1 and modseq_of(f[0]) == ms and b"UID 1" in f[0] and b"FLAGS" not in f[0],
                   "%s (no change) gives FETCH (UID MODSEQ %d): %r" % (cmd, ms, u))
            expect(code_of(t) is None, "%s: %r" % (cmd, t))
        u, t = run(c, "STORE 1 (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)" % ms)
        f = [raw for r, raw in u if r[0] == "FETCH"]
        expect(len(f) == 1 and modseq_of(f[0]) == ms and b"\\Flagged" in f[0],
               "no-op conditional STORE without .SILENT gives FLAGS and MODSEQ: %r" % u)
        # without UNCHANGEDSINCE: .SILENT and nothing changed is silent; without .SILENT the flags come
        u, _ = run(c, "STORE 1 +FLAGS.SILENT (\\Flagged)")
        expect(not [r for r, _ in u if r[0] == "FETCH"], "no-op +FLAGS.SILENT sends nothing: %r" % u)
        u, _ = run(c, "STORE 1 +FLAGS (\\Flagged)")
        f = [raw for r, raw in u if r[0] == "FETCH"]
        expect(len(f) == 1 and modseq_of(f[0]) == ms, "no-op +FLAGS gives FLAGS and the same MODSEQ: %r" % u)
        u, _ = run(c, "UID FETCH 1 (MODSEQ)")
        expect(modseq_of(fetch_raw(u)) == ms, "no-op stores changed the MODSEQ: %r" % u)
        # a change with UNCHANGEDSINCE and .SILENT: a FETCH with the new, higher MODSEQ
        u, t = run(c, "UID STORE 1 (UNCHANGEDSINCE %d) -FLAGS.SILENT (\\Flagged)" % ms)
        f = [raw for r, raw in u if r[0] == "FETCH"]
        expect(len(f) == 1 and (modseq_of(f[0]) or 0) > ms, "conditional change: %r" % u)

        # a FETCH that sets \Seen, CONDSTORE on: UID and MODSEQ come with the flags (RFC 7162 3.2.4)
        run(c, "STORE 1 -FLAGS.SILENT (\\Seen)")
        u, _ = run(c, "FETCH 1 (BODY[HEADER.FIELDS (Subject)])")
        f = fetch_raw(u)
        expect(b"UID 1 " in f and b"\\Seen" in f and modseq_of(f), "FETCH setting \\Seen: %r" % f)

        # numbers beyond their grammar are syntax errors: mod-sequences are 63 bits (RFC 7162 7), LARGER's
        # number 32 (RFC 3501 9)
        for cmd in ("FETCH 1 (FLAGS) (CHANGEDSINCE 9223372036854775808)",
                    "STORE 1 (UNCHANGEDSINCE 99999999999999999999999) +FLAGS (\\Seen)",
                    "SEARCH MODSEQ 9223372036854775808", "SEARCH LARGER 4294967296"):
            run(c, cmd, "BAD")
        run(c, "FETCH 1 (FLAGS) (CHANGEDSINCE 9223372036854775807)")

        # STATUS of the selected mailbox: another session's APPEND is announced (EXISTS) before the STATUS,
        # whose MESSAGES is that count
        c2 = login(h)
        msg = b"From: x@example.com\r\nSubject: status\r\n\r\nhi\r\n"
        run(c2, "APPEND INBOX {%d+}\r\n" % len(msg), literals=[msg])
        u, _ = run(c, "STATUS INBOX (MESSAGES UNSEEN)")
        kinds = [r[0] for r, _ in u]
        expect("EXISTS" in kinds and kinds.index("EXISTS") < kinds.index("STATUS"),
               "STATUS of the selected mailbox after its EXISTS: %r" % u)
        st_raw = [raw for r, raw in u if r[0] == "STATUS"]
        expect(st_raw and b"MESSAGES %d" % c.state.exists in st_raw[0], "STATUS MESSAGES is EXISTS: %r" % u)
        run(c2, "APPEND INBOX {%d+}\r\n" % len(msg), literals=[msg])
        u, _ = run(c, 'LIST "" "INBOX" RETURN (STATUS (MESSAGES))')
        kinds = [r[0] for r, _ in u]
        st_raw = [raw for r, raw in u if r[0] == "STATUS"]
        expect("EXISTS" in kinds and kinds.index("EXISTS") < kinds.index("STATUS") and
               b"MESSAGES %d" % c.state.exists in st_raw[0], "LIST-STATUS of the selected mailbox: %r" % u)

        # STORE over a message another session expunged (not reported yet): the others are stored and reported
        # (RFC 2180 4), the completion is OK [EXPUNGEISSUED]
        c5, c6 = login(h), login(h)
        run(c5, "SELECT INBOX")
        run(c6, "SELECT INBOX")
        run(c6, "STORE 3 +FLAGS.SILENT (\\Deleted)")
        run(c6, "EXPUNGE")
        n5 = c5.state.exists
        u, t = run(c5, "STORE 1:* +FLAGS ($Stored)")
        expect(code_of(t) == "EXPUNGEISSUED" and len([r for r, _ in u if r[0] == "FETCH"]) == n5 - 1,
               "STORE over an expunged message (%d messages): %r %r" % (n5, u, t))
        u, _ = run(c5, "NOOP")
        expect([r for r, _ in u if r[0] == "EXPUNGE"], "the expunge after the STORE: %r" % u)
        u, _ = run(c5, "SEARCH UNKEYWORD $Stored")
        expect(names(u, "SEARCH") and not names(u, "SEARCH")[0][1], "messages the STORE passed over: %r" % u)
        c5.close()
        c6.close()

        # DELETE of the selected mailbox by the session itself: OK [CLOSED], then the authenticated state
        run(c, "CREATE Doomed")
        run(c, "SELECT Doomed")
        u, t = run(c, "DELETE Doomed")
        expect(any(r[0] == "OK" and r[1] and r[1][0] == b"CLOSED" for r, _ in u),
               "DELETE of the selected mailbox gives OK [CLOSED]: %r" % u)
        run(c, "FETCH 1 FLAGS", "BAD", what="FETCH after DELETE of the selected mailbox")
        run(c, "NOOP")
        # a DELETE that fails (the server's Sent folder is special-use) leaves the mailbox selected
        run(c, 'SELECT "Sent Items"')
        u, t = run(c, 'DELETE "Sent Items"', "NO")
        expect(not any(r[0] == "OK" and r[1] and r[1][0] == b"CLOSED" for r, _ in u), "failed DELETE: %r" % u)
        run(c, "UID FETCH 1:* (UID)", what="UID FETCH after a DELETE of the selected mailbox that failed")
        # ... by another session: that one is disconnected with BYE [NONEXISTENT]
        run(c, "CREATE Doomed2")
        run(c2, "SELECT Doomed2")
        run(c, "DELETE Doomed2")
        st, u, t = c2.cmd("NOOP")
        bye = [raw for r, raw in u if r[0] == "BYE"]
        expect(bye and b"[NONEXISTENT]" in bye[0], "the other session's NOOP: %r %r" % (u, t))
        c2.close()
        # ... in IDLE
        c3 = login(h)
        run(c, "CREATE Doomed3")
        run(c3, "SELECT Doomed3")
        c3.n += 1
        c3.send("g%d IDLE\r\n" % c3.n)
        r, raw = c3.next()
        expect(r[0] == "+", "IDLE continuation: %r" % raw)
        run(c, "DELETE Doomed3")
        r, raw = c3.next()
        expect(r[0] == "BYE" and b"[NONEXISTENT]" in raw, "IDLE on a deleted mailbox: %r" % raw)
        c3.close()
        run(c, "SELECT INBOX")

        # server folders named inbox in any case: reachable as inbox_, INBOX__, ... (one '_' more); the harness's
        # Inbox is named "Inbox" on the server
        for n in ("inbox", "INBOX_", "inbox__x"):
            expect(h.control("folder " + n) == [], "harness: folder %r" % n)
        u, _ = run(c, 'LIST "" "%"')
        top = {r[3] for r in names(u, "LIST")}
        for n in ("INBOX", "inbox_", "INBOX__", "inbox__x"):
            expect(n in top, "%s in LIST %%: %r" % (n, sorted(top)))
        expect("inbox" not in top and "INBOX_" not in top, "LIST shows a server name as it is: %r" % sorted(top))
        u, _ = run(c, 'LIST "" "inbox%"')
        expect(sorted(r[3] for r in names(u, "LIST")) == ["INBOX", "inbox_", "inbox__x"],
               "only INBOX is case-insensitive (not INBOX__): %r" % u)
        u, _ = run(c, "EXAMINE inbox_")
        expect(c.state.exists == 0, "inbox_ is the server's inbox folder, not INBOX: %r" % u)
        u, _ = run(c, "STATUS INBOX__ (MESSAGES)")
        expect(b"MESSAGES 0" in b"".join(raw for _, raw in u), "STATUS INBOX__: %r" % u)
        u, _ = run(c, "SELECT Inbox")
        expect(c.state.exists > 0, "SELECT Inbox is INBOX: %r" % u)
        run(c, "CREATE inbox_/Sub")
        run(c, "CREATE Moved")
        run(c, "RENAME Moved InBoX_")
        u, t = run(c, "CREATE inbox_", "NO")
        expect(code_of(t) == "ALREADYEXISTS", "CREATE of an existing inbox_: %r" % t)
        u, _ = run(c, 'LIST "" "*"')
        got = {r[3] for r in names(u, "LIST")}
        for n in ("inbox_/Sub", "InBoX_"):
            expect(n in got, "%s in LIST *: %r" % (n, sorted(got)))
        j = h.journal()
        for n in ("Sub", "InBoX"):
            expect(re.search(r"name=%s uid=" % re.escape(n), j), "server name %r in the journal:\n%s" % (n, j))
        expect(not re.search(r"name=\S*_ uid=", j), "a '_' of the mapping reached the server:\n%s" % j)

        # U+2215 in a name a client creates or renames to is a '/' on the server
        run(c, 'CREATE "Reports 2024&IhU-25"')
        run(c, 'CREATE "a&IhU-b/c"')
        run(c, 'RENAME "Reports 2024&IhU-25" "Q&IhU-1"')
        u, _ = run(c, 'LIST "" "*"')
        got = {r[3] for r in names(u, "LIST")}
        for n in ("Q\u22151", "a\u2215b", "a\u2215b/c"):
            expect(n in got, "%s in LIST *: %r" % (n, sorted(got)))
        j = h.journal()
        for n in ("Reports 2024/25", "a/b", "Q/1"):
            expect(re.search(r"name=%s uid=" % re.escape(n), j), "server name %r in the journal:\n%s" % (n, j))
        expect("\u2215" not in j, "U+2215 reached the server:\n%s" % j)
        run(c, 'SELECT "a&IhU-b/c"')

        # no VANISHED (or EXPUNGE) after a UID SEARCH whose keys hold message numbers (RFC 7162 3.2.10); after
        # one without them it may come
        q = login(h)
        run(q, "SELECT INBOX")
        # the first CONDSTORE enabling command with a mailbox selected gives its HIGHESTMODSEQ (RFC 7162 3.1)
        u, _ = run(q, "ENABLE QRESYNC")
        hm = [r[1][1] for r, _ in u if r[0] == "OK" and r[1] and r[1][0] == b"HIGHESTMODSEQ"]
        expect(len(hm) == 1, "ENABLE QRESYNC with a mailbox selected gives HIGHESTMODSEQ: %r" % u)
        u, _ = run(q, "FETCH 1 (MODSEQ)")
        expect(not [r for r, _ in u if r[0] == "OK"], "HIGHESTMODSEQ again on a later enabling command: %r" % u)
        c4 = login(h)
        run(c4, "SELECT INBOX")
        run(c4, "STORE 2 +FLAGS.SILENT (\\Deleted)")
        run(c4, "EXPUNGE")
        run(c4, "STORE 3 +FLAGS (\\Flagged)")
        run(c4, "LOGOUT")
        c4.close()
        # a FETCH may not report the expunge, but it shows a MODSEQ above it: a HIGHESTMODSEQ below the expunge
        # comes with it (RFC 7162 3.2), so that a client resynchronizing from there learns of it
        u, _ = run(q, "FETCH 1:4 (FLAGS MODSEQ)")
        ms_seen = max([modseq_of(raw) or 0 for r, raw in u if r[0] == "FETCH"] or [0])
        hm2 = [r[1][1] for r, _ in u if r[0] == "OK" and r[1] and r[1][0] == b"HIGHESTMODSEQ"]
        expect(ms_seen and hm2 and hm2[-1] < ms_seen and hm2[-1] <= hm[0] and
               not [r for r, _ in u if r[0] in ("VANISHED", "EXPUNGE")],
               "FETCH with an expunge held back: MODSEQ %s, HIGHESTMODSEQ %r: %r" % (ms_seen, hm2, u))
        run(q, "SELECT INBOX (QRESYNC (1 0))", "BAD", what="QRESYNC with mod-sequence 0 (a positive number)")
        run(q, "SELECT INBOX (QRESYNC (4294967296 1))", "BAD", what="QRESYNC with a 33-bit UIDVALIDITY")
        # known-uids and seq-match-data are sequence sets without "*" (RFC 7162 3.2.5 and the ABNF in 7)
        for bad in ("1:*", "1:5 (1:* 1:3)", "1:5 (1:3 *)", "1:5 (1:3)", "1:5 (1 1) 2", "1:5 1:5", "1:5 (1 x)"):
            run(q, "SELECT INBOX (QRESYNC (1 1 %s))" % bad, "BAD", what="QRESYNC (v m %s)" % bad)
        q2 = login(h)
        run(q2, "ENABLE QRESYNC")
        for good in ("1:5", "1:5 (1:2 1:2)", "(1,3 1,3)"):
            run(q2, "EXAMINE INBOX (QRESYNC (1 1 %s))" % good, what="QRESYNC (v m %s)" % good)
        q2.close()
        u, _ = run(q, "UID SEARCH 1:3 UNDELETED")
        expect(not [r for r, _ in u if r[0] in ("VANISHED", "EXPUNGE")], "UID SEARCH 1:3 gave VANISHED: %r" % u)
        u, _ = run(q, "UID SEARCH ALL")
        expect([r for r, _ in u if r[0] == "VANISHED"], "UID SEARCH ALL: the pending VANISHED: %r" % u)
        run(q, "LOGOUT")
        q.close()

        # UNSUBSCRIBE of a name that is no mailbox succeeds (it is not subscribed); SUBSCRIBE of one fails
        run(c, "UNSUBSCRIBE Nonexistent")
        u, t = run(c, "SUBSCRIBE Nonexistent", "NO")
        expect(code_of(t) == "NONEXISTENT", "SUBSCRIBE of a missing mailbox: %r" % t)

        # Subscriptions are names (RFC 3501 6.3.6 / RFC 9051 6.3.7: the server MUST NOT remove one on its own):
        # a deleted subscribed mailbox stays in LSUB (\Noselect) and in LIST (SUBSCRIBED) with \NonExistent
        # (RFC 5258 3), not in LIST; RENAME moves the subscriptions of the mailbox and those below it.
        def listed(cmd, kind):
            u, _ = run(c, cmd)
            return {raw.split(b'"/" ', 1)[1].rstrip(b"\r\n").strip(b'"'): raw.split(b") ", 1)[0]
                    for r, raw in u if r[0] == kind}
        # CREATE subscribes nothing (RFC 3501 6.3.3 / 6.3.6: SUBSCRIBE does), not the level made above either
        run(c, "CREATE Kept/Sub")
        l = listed('LSUB "" "Kept*"', "LSUB")
        expect(l == {}, "CREATE subscribed: %r" % l)
        u, _ = run(c, 'LIST "" "Kept*" RETURN (SUBSCRIBED)')
        expect(not [raw for r, raw in u if b"\\Subscribed" in raw], "CREATE subscribed: %r" % u)
        run(c, "SUBSCRIBE Kept")
        run(c, "UNSUBSCRIBE Kept")
        run(c, "CREATE Unsub")
        run(c, "UNSUBSCRIBE Unsub")
        run(c, "SUBSCRIBE Kept/Sub")
        run(c, "DELETE Kept/Sub")
        run(c, "DELETE Kept")
        run(c, "DELETE Unsub")
        l = listed('LSUB "" "*"', "LSUB")
        expect(l.get(b"Kept/Sub") == b"* LSUB (\\Noselect", "LSUB of a deleted subscribed mailbox: %r" % l)
        expect(b"Unsub" not in l, "LSUB of an unsubscribed deleted mailbox: %r" % l)
        l = listed('LSUB "" "%"', "LSUB")
        expect(l.get(b"Kept") == b"* LSUB (\\Noselect", "LSUB %% above a deleted subscribed mailbox: %r" % l)
        l = listed('LIST (SUBSCRIBED) "" "*"', "LIST")
        expect(l.get(b"Kept/Sub") == b"* LIST (\\NonExistent \\Subscribed", "LIST (SUBSCRIBED): %r" % l)
        expect(b"Kept" not in l and b"INBOX" in l, "LIST (SUBSCRIBED): %r" % l)
        u, _ = run(c, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
        expect([raw for r, raw in u if r[0] == "LIST" and b'"Kept" ("CHILDINFO" ("SUBSCRIBED"))' in raw
                and b"\\NonExistent" in raw], "RECURSIVEMATCH above a deleted subscribed mailbox: %r" % u)
        l = listed('LIST "" "*"', "LIST")
        expect(b"Kept/Sub" not in l and b"Kept" not in l, "LIST shows only mailboxes: %r" % l)
        # created again: subscribed as before
        run(c, "CREATE Kept/Sub")
        l = listed('LIST "" "Kept*" RETURN (SUBSCRIBED)', "LIST")
        expect(b"\\Subscribed" in l.get(b"Kept/Sub", b""), "re-created mailbox subscribed: %r" % l)
        run(c, "DELETE Kept/Sub")
        run(c, "UNSUBSCRIBE Kept/Sub")
        l = listed('LSUB "" "*"', "LSUB")
        expect(b"Kept/Sub" not in l and b"Kept" not in l, "UNSUBSCRIBE of a deleted name: %r" % l)
        # RENAME: the subscriptions move (the old names do not stay behind)
        run(c, "CREATE Ren/Sub")
        run(c, "SUBSCRIBE Ren/Sub")
        listed('LSUB "" "*"', "LSUB")
        run(c, "RENAME Ren Moved")
        l = listed('LSUB "" "*"', "LSUB")
        expect(l.get(b"Moved/Sub") == b"* LSUB (" and b"Moved" not in l, "LSUB after RENAME: %r" % l)
        expect(not [k for k in l if k.startswith(b"Ren")], "old names after RENAME: %r" % l)
        # a folder the server creates arrives subscribed (its flag), and stays subscribed once it is gone
        h.control("folder FromServer")
        l = listed('LSUB "" "FromServer"', "LSUB")
        expect(l.get(b"FromServer") == b"* LSUB (", "LSUB of a server folder: %r" % l)
        run(c, "DELETE FromServer")
        l = listed('LSUB "" "FromServer"', "LSUB")
        expect(l.get(b"FromServer") == b"* LSUB (\\Noselect", "LSUB of a deleted server folder: %r" % l)
        # The list holds a server folder's name as soon as the folder arrives (the front-end writes it after
        # each change of the hierarchy), so a folder the server deletes before any command looked at the
        # subscriptions leaves its name too; and one the server renames takes its subscription along (a name
        # is kept with its folder's id), as a RENAME here does.
        def recorded(name):
            for _ in range(100):
                if [x for x in h.control("meta imap.subscriptions") if x.endswith("\t" + name)]:
                    return True
                time.sleep(0.05)
            return False
        h.control("folder Vanishing")
        expect(recorded("Vanishing"), "a server folder's subscription in the list: %r" % h.control("meta imap.subscriptions"))
        expect(h.control("rmfolder Vanishing") == [], "harness: rmfolder")
        l = listed('LSUB "" "Vanishing"', "LSUB")
        expect(l.get(b"Vanishing") == b"* LSUB (\\Noselect", "LSUB of a server folder deleted unseen: %r" % l)
        l = listed('LIST (SUBSCRIBED) "" "Vanishing"', "LIST")
        expect(l.get(b"Vanishing") == b"* LIST (\\NonExistent \\Subscribed", "LIST (SUBSCRIBED) of it: %r" % l)
        h.control("folder Roaming")
        expect(recorded("Roaming"), "a server folder's subscription in the list: %r" % h.control("meta imap.subscriptions"))
        expect(h.control("mvfolder Roaming Roamed") == [], "harness: mvfolder")
        l = listed('LSUB "" "Roam*"', "LSUB")
        expect(l == {b"Roamed": b"* LSUB ("}, "LSUB after the server renamed a subscribed folder: %r" % l)
        expect(recorded("Roamed") and not [x for x in h.control("meta imap.subscriptions") if x.endswith("\tRoaming")],
               "the list after the server's rename: %r" % h.control("meta imap.subscriptions"))
        run(c, "UNSUBSCRIBE Roamed")
        expect(h.control("mvfolder Roaming Roaming") == [], "harness: mvfolder")
        l = listed('LSUB "" "Roam*"', "LSUB")
        expect(l == {}, "an unsubscribed folder renamed on the server: %r" % l)

        # before login a literal is small (user name, password): larger ones are refused
        p = Client(h.port)
        run(p, "STARTTLS", "BAD", what="STARTTLS without TLS configured (not advertised; 6.2.1 has no NO)")
        st, u, t = p.cmd("LOGIN {9000}\r\n", [b"x" * 9000])
        expect(st == "NO" and b"[TOOBIG]" in t, "LOGIN with a 9000-byte literal before login: %r" % t)
        run(p, "NOOP")
        st, u, t = p.cmd("LOGIN {9000+}\r\n", [b"x" * 9000])
        expect(st == "BAD" and b"[TOOBIG]" in t, "LOGIN with a 9000-byte LITERAL+ before login: %r" % t)
        r, raw = p.next()
        expect(r[0] == "BYE", "BYE after a non-synchronizing literal over the limit: %r" % raw)
        p.close()
        p = Client(h.port)
        run(p, 'LOGIN {%d}\r\n "%s"' % (len(test_imap.USER), test_imap.PASS), literals=[test_imap.USER.encode()])
        p.close()

        # MOVE into the selected mailbox itself: new UIDs, the old ones expunged (RFC 6851 does not forbid it)
        u, _ = run(c, "SELECT Archive")
        n0 = c.state.exists
        uidnext = [r[1][1] for r, _ in u if r[0] == "OK" and r[1] and r[1][0] == b"UIDNEXT"][0]
        u, _ = run(c, "UID FETCH 1:* (UID)")
        uids = sorted(int(re.search(rb"UID (\d+)", raw).group(1)) for r, raw in u if r[0] == "FETCH")
        u, t = run(c, "MOVE 1 Archive")
        cu = [r[1] for r, _ in u if r[0] == "OK" and r[1] and r[1][0] == b"COPYUID"]
        expect(cu and any(r[0] == "EXPUNGE" for r, _ in u) and c.state.exists == n0,
               "MOVE into the selected mailbox: %r %r" % (u, t))
        u, _ = run(c, "UID FETCH 1:* (UID)")
        after = sorted(int(re.search(rb"UID (\d+)", raw).group(1)) for r, raw in u if r[0] == "FETCH")
        expect(uids and after == uids[1:] + [uidnext], "UIDs after MOVE into the same mailbox: %r -> %r"
               % (uids, after))

        # RENAME onto INBOX: INBOX always exists
        u, t = run(c, "RENAME Q&IhU-1 inbox", "NO")
        expect(code_of(t) == "ALREADYEXISTS", "RENAME onto INBOX: %r" % t)
        run(c, "LOGOUT")
        c.close()
        print("checked %d responses" % c.count)


def selftest():
    """The checker refuses what the grammar does not allow (so that the matrix can fail)."""
    from imap_grammar import State, check_response
    caps = {"IMAP4REV1", "CONDSTORE", "UIDPLUS", "LIST-EXTENDED", "QRESYNC", "ENABLE"}
    bad = [b"* 1 FETCH (FLAGS (\\Seen))\r\n",  # beyond EXISTS 0
           b"* LIST () \"/\" a b\r\n", b'* LIST () "/" "a\xc3\xa4"\r\n', b'* LIST () "/" a&AGE-\r\n',
           b"* SEARCH 0\r\n", b"a OK\r\n", b"* OK [UIDNEXT 0] x\r\n", b'* STATUS a (MESSAGES)\r\n',
           b'* FLAGS (\\Seen  \\Draft)\r\n', b'* FLAGS (\\Recent)\r\n', b"* BYE\r\n", b"a OK [COPYUID 1 *:2 3] x\r\n",
           b'* 5 EXPUNGE\r\n', b'* VANISHED 1\r\n']
    for b in bad:
        try:
            check_response(b, caps, State())
        except GrammarError:
            continue
        raise AssertionError("the checker accepted %r" % b)
    st = State()
    st.exists = 3
    good = [b'* 2 FETCH (UID 7 BODY[1.MIME] {3}\r\nabc BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL'
            b' "7BIT" 3 1 NIL NIL NIL NIL) ENVELOPE (NIL "" ((NIL NIL "g" NIL)(NIL NIL "a" "b")(NIL NIL NIL NIL)) NIL'
            b' NIL NIL NIL NIL NIL NIL))\r\n', b'* LIST (\\HasNoChildren) "/" "a \\"&AOQ-" ("CHILDINFO" ("SUBSCRIBED"))\r\n',
            b"* OK [HIGHESTMODSEQ 5] x\r\n", b"t1 NO [MODIFIED 1:3,5] x\r\n", b"* 3 EXPUNGE\r\n"]
    for b in good:
        check_response(b, caps, st)


def main():
    selftest()
    fx = fixture_dir()
    test_imap.FIXTURES = fx
    groups = {"matrix": [t_matrix], "qresync": [t_condstore_qresync], "idle": [t_idle], "conform": [t_conform]}
    which = sys.argv[1:] or list(groups)
    try:
        for g in which:
            for fn in groups[g]:
                try:
                    fn()
                except GrammarError as e:
                    FAILURES.append("%s: grammar: %s" % (fn.__name__, e))
                    print("FAIL grammar:", e)
                print("done", fn.__name__)
    finally:
        shutil.rmtree(fx, ignore_errors=True)
    if FAILURES:
        print("%d failures" % len(FAILURES))
        sys.exit(1)


if __name__ == "__main__":
    main()
