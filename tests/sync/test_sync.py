#!/usr/bin/env python3
"""Sync acceptance tests (ctest label `sync`): outpostd against the Kerio simulator, or with
`--server ews` against the EWS simulator (ctest labels `sync;ews`).

Local edits are made the way users make them: mail through the IMAP front-end of a running
outpostd (python imaplib), calendar/contact/task/note edits through the core's journaled store
API (store_edit). The cache, read through the core (cache_dump), is compared with the
simulator's state dump (/_sim/state) for every folder and item of every kind; the simulator's
mutation counters (/_sim/counters) prove that every local edit reached the server exactly once.

usage: test_sync.py GROUP --workdir DIR [--server kerio|ews] [--storage sqlite|firebird]
(GROUP: see GROUPS at the end; --storage picks the cache's engine, ctest runs the Firebird
groups under labels `sync;firebird`)
The EWS simulator's state dump, counters and control calls differ from Kerio's; class Ews maps
its dump onto the Kerio shape the checks read and names the EWS counterpart of every Kerio
fault, counter and control payload (SRV.pick(kerio, ews)).
Environment: OUTPOST_BIN, OUTPOST_SIM (Kerio) / OUTPOST_SIM_EWS, OUTPOST_GEN_CERTS, OUTPOST_PLUGIN_DIR, OUTPOST_CACHE_DUMP,
OUTPOST_STORE_EDIT (set by CMake); OUTPOST_SYNC_CRASH_LOOPS / OUTPOST_CRASH_LOOPS (crash loop
counts, default 20). Standard library only; 127.0.0.1 and ephemeral ports only; every wait is
bounded.
"""

import argparse
import base64
import email
import email.policy
import http.client
import imaplib
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time

FAILS = []
SERVER_MAIL_FLAGS = 1 | 2 | 4 | 16 | 32 | 64  # seen answered flagged draft forwarded junk
KIND_OF_TYPE = {"FMail": 1, "FCalendar": 2, "FContact": 3, "FTask": 4, "FNote": 5}
ITEM_TYPE = {1: "mail", 2: "event", 3: "contact", 4: "task", 5: "note"}
USE_CONFLICTS = 7


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, flush=True)
    return cond


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def wait_for(pred, timeout, what, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, what))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


# ---- the server profiles ---------------------------------------------------------------------

class Kerio:
    name = "kerio"
    sim_env = "OUTPOST_SIM"

    def pick(self, kerio, ews):
        return kerio

    def account(self, port, d, certs):
        return ("transport = kerio\nurl = https://127.0.0.1:%d\nuser = jdoe\npassword_file = %s/password\n"
                "ca_file = %s/ca.pem\n" % (port, d, certs))

    def counters(self, c):
        return c["items"]

    def state(self, st):
        return st

    def prepare(self, sim):
        pass


EWS_COUNTER = {"Mails.create": "item.create", "Mails.copy": "item.copy", "Mails.move": "item.move",
               "Mails.trash": "item.trash", "Folders.create": "folder.create", "Mails.set": "item.flags"}
EWS_TYPE = {"mail": "FMail", "event": "FCalendar", "contact": "FContact", "task": "FTask", "note": "FNote"}


class Ews(Kerio):
    """The EWS simulator: its dump is mapped onto the Kerio dump's shape (type FMail..., isSeen...,
    headers, summary / commonName / text) so one set of checks reads both."""
    name = "ews"
    sim_env = "OUTPOST_SIM_EWS"

    def pick(self, kerio, ews):
        return ews

    def account(self, port, d, certs):
        return ("transport = ews\nurl = https://127.0.0.1:%d/EWS/Exchange.asmx\nuser = jdoe@example.com\n"
                "password_file = %s/password\nca_file = %s/ca.pem\n" % (port, d, certs))

    def counters(self, c):
        return c["mutations"]

    def state(self, st):
        for f in st["folders"]:
            f["type"] = EWS_TYPE.get(f["kind"], "FRoot")
            # Exchange keeps deleted appointments, contacts, tasks and notes in Deleted Items (a
            # mail folder); a cached folder holds one kind, so the transport leaves them out.
            f["items"] = [i for i in f["items"] if i["kind"] == f["kind"]]
            for i in f["items"]:
                props = i.get("props") or {}
                fl = i.get("flags") or {}
                if i["kind"] == "mail":
                    i.update(isSeen=fl.get("read"), isFlagged=fl.get("flagged"), isDraft=fl.get("draft"),
                             isAnswered=i.get("lastVerb") in (102, 103), isForwarded=i.get("lastVerb") == 104,
                             isJunk=False)
                    i["headers"] = [{"type": "mhMessageID", "value": i["messageId"]}] if i.get("messageId") else []
                elif i["kind"] in ("event", "task"):
                    i["summary"] = i.get("subject")
                elif i["kind"] == "contact":
                    i["commonName"] = i.get("displayName")
                elif i["kind"] == "note":
                    i["text"] = props.get("body")
        return st

    def prepare(self, sim):
        """The folders the Kerio simulator generates and the groups use (Archive,
        Inbox/Newsletters, Archive/2023 — Архив), made on the EWS simulator with a few mails."""
        c = sim.control
        c("POST", "folders/create", {"name": "Archive"})
        c("POST", "folders/create", {"parent": "Inbox", "name": "Newsletters"})
        c("POST", "folders/create", {"parent": "Archive", "name": "2023 — Архив"})
        for path in ("Archive", "Inbox/Newsletters", "Archive/2023 — Архив"):
            for n in range(3):
                c("POST", "items/create", {"type": "mail", "folder": path,
                                           "item": {"subject": "%s %d" % (path, n), "body": "Kept.\n"}})


SRV = Kerio()
STORAGE = "sqlite"


# ---- the simulator ----------------------------------------------------------------------

class Sim:
    """outpost-sim-kerio / outpost-sim-ews with a state file, so it can be stopped and started on the same port."""

    def __init__(self, env, counts, seed=7):
        self.env = env
        self.state_file = os.path.join(env.work, "sim-state.json")
        self.port = None
        self.counts = counts
        self.seed = seed
        self.proc = None
        self.ctx = ssl.create_default_context(cafile=os.path.join(env.certs, "ca.pem"))

    def start(self):
        cmd = [self.env.sim, "--cert", os.path.join(self.env.certs, "server.pem"),
               "--key", os.path.join(self.env.certs, "server.key"), "--quiet",
               "--state-file", self.state_file, "--seed", str(self.seed),
               "--listen", "127.0.0.1:%d" % (self.port or 0)]
        for k, v in self.counts.items():
            cmd += ["--" + k, str(v)]
        for _ in range(20):
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            line = self.proc.stdout.readline()
            if line.startswith("READY https://127.0.0.1:"):
                self.port = int(line.strip().rsplit(":", 1)[1])
                return self
            self.proc.wait(timeout=10)
            time.sleep(0.2)  # the old port may linger briefly: try again
        raise AssertionError("simulator did not start: %s" % self.proc.stderr.read())

    def stop(self):
        """SIGTERM: the simulator saves its state file and must exit 0."""
        if not self.proc:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = "timeout"
        check(rc == 0, "simulator exit status %r: %s" % (rc, self.proc.stderr.read()[-3000:]))
        self.proc = None

    def control(self, method, path, body=None, ok=(200,)):
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=60)
        try:
            c.request(method, "/_sim/" + path, body=json.dumps(body) if body is not None else None,
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            data = json.loads(r.read())
        finally:
            c.close()
        if r.status not in ok:
            raise AssertionError("/_sim/%s answered %d: %s" % (path, r.status, data))
        return data

    def state(self, content=True):
        return SRV.state(self.control("GET", "state" if content else "state?content=0"))

    def counters(self):
        return SRV.counters(self.control("GET", "counters"))

    def reset_counters(self):
        self.control("POST", "counters/reset", {})

    def fault(self, **spec):
        return self.control("POST", "faults", spec)["id"]

    def clear_faults(self):
        self.control("POST", "faults/clear", {})

    def faults(self):
        return self.control("GET", "faults")["faults"]

    def info(self):
        return self.control("GET", "info")


# ---- outpost ----------------------------------------------------------------------------

class Outpost:
    """A cache with its config, the daemon and the command-line tools around it."""

    def __init__(self, env, sim, page_size=0, extra_core=""):
        self.env, self.sim = env, sim
        self.dir = os.path.join(env.work, "outpost")
        self.data = os.path.join(self.dir, "data")
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        self.config = os.path.join(self.dir, "outpost.ini")
        self.imap_port_file = os.path.join(self.dir, "imap.port")
        self.log_path = os.path.join(self.dir, "outpostd.log")
        self.page_size = page_size
        self.extra_core = extra_core
        self.proc = None
        self.imap_password = "imap-secret"
        for name, secret in (("password", "secret"), ("imap-password", self.imap_password)):
            p = os.path.join(self.dir, name)
            with open(p, "w") as f:
                f.write(secret + "\n")
            os.chmod(p, 0o600)
        self.write_config()

    def write_config(self):
        with open(self.config, "w") as f:
            f.write("""[core]
data_dir = {data}
plugin_dir = {plugins}
log_level = info
sync_interval = 3600
page_size = {ps}
frontends = imap
{extra}
[storage]
plugin = {storage}

[account]
{account}timeout = 10

[imap]
listen = 127.0.0.1:0
port_file = {portfile}
user = tester
password_file = {dir}/imap-password
auth_failure_delay = 0
""".format(data=self.data, plugins=self.env.plugins, ps=self.page_size, extra=self.extra_core,
           account=SRV.account(self.sim.port, self.dir, self.env.certs), dir=self.dir, storage=STORAGE, certs=self.env.certs, portfile=self.imap_port_file))
        os.chmod(self.config, 0o600)

    # -- the daemon --
    def start(self, wait_ready=True):
        if os.path.exists(self.imap_port_file):
            os.unlink(self.imap_port_file)
        logf = open(self.log_path, "a")
        self.proc = subprocess.Popen([self.env.outpostd, "--config", self.config], stdout=logf,
                                     stderr=logf, stdin=subprocess.DEVNULL)
        logf.close()
        if wait_ready:
            wait_for(lambda: os.path.exists(os.path.join(self.data, "control.sock")) and
                     os.path.exists(self.imap_port_file) and open(self.imap_port_file).read().strip(),
                     30, "outpostd to listen")
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if not self.proc:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = "timeout"
        check(rc == 0, "outpostd exit status %r (log %s)" % (rc, self.log_path))
        self.proc = None

    def kill(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            # A killed daemon leaves its socket file behind; the next one replaces it.

    def control(self, request, timeout=300):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(os.path.join(self.data, "control.sock"))
        s.sendall(request.encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        s.close()
        return json.loads(buf)

    def sync(self):
        """One full cycle on the running daemon; returns its status (with "result")."""
        return self.control("sync")

    def status(self):
        return self.control("status")

    def audit(self):
        return self.control("audit")["entries"]

    def run(self, *args, timeout=300, ok=True):
        p = subprocess.run([self.env.outpost, "--config", self.config] + list(args), capture_output=True,
                           text=True, timeout=timeout)
        if ok:
            check(p.returncode == 0, "outpost %s exited %d: %s" % (" ".join(args), p.returncode,
                                                                  p.stderr[-3000:]))
        return p

    def sync_once(self, ok=True):
        return self.run("sync", "--once", ok=ok)

    def dump(self, content=True):
        args = [self.env.cache_dump, self.config] + (["--content"] if content else [])
        p = subprocess.run(args, capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise AssertionError("cache_dump failed: %s" % p.stderr)
        return json.loads(p.stdout)

    def edit(self, *args, ok=True):
        p = subprocess.run([self.env.store_edit, self.config] + [str(a) for a in args], capture_output=True,
                           text=True, timeout=60)
        if ok and p.returncode != 0:
            raise AssertionError("store_edit %s failed: %s" % (args, p.stderr))
        return p

    def imap(self):
        port = int(open(self.imap_port_file).read().split()[0])
        m = imaplib.IMAP4("127.0.0.1", port, timeout=30)
        m.login("tester", self.imap_password)
        return m

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()


# ---- comparing the cache with the server --------------------------------------------------

def sim_folders(state):
    """Folders of the state dump without the root, by id."""
    return {f["id"]: f for f in state["folders"] if f.get("type") != "FRoot"}


def cache_folders(dump):
    return {f["remote_id"]: f for f in dump["folders"] if f["remote_id"]}


def mail_flags(m):
    f = 0
    for bit, key in ((1, "isSeen"), (2, "isAnswered"), (4, "isFlagged"), (16, "isDraft"),
                     (32, "isForwarded"), (64, "isJunk")):
        if m.get(key):
            f |= bit
    return f


def header(m, kind):
    for h in m.get("headers") or []:
        if h.get("type") == kind:
            return h.get("value")
    return None


def bare(mid):
    """A Message-ID without its angle brackets (the cache keeps it bare)."""
    return mid.strip().strip("<>") if mid else None


def ical_prop(text, name):
    """Unfolded value of the first NAME property of an iCalendar/vCard text."""
    text = re.sub(r"\r?\n[ \t]", "", text)
    for line in text.splitlines():
        head, _, value = line.partition(":")
        if head.split(";")[0].upper() == name:
            return value
    return None


def ical_unescape(v):
    return (v or "").replace("\\n", "\n").replace("\\N", "\n").replace("\\,", ",").replace("\\;", ";") \
        .replace("\\\\", "\\")


def check_content(kind, item, server, where):
    """Content in the cache is in its kind's standard format and says what the server says."""
    c = item.get("content")
    if c is None:
        check(kind == 1, "%s: %s item without content" % (where, ITEM_TYPE[kind]))
        return
    if kind == 1:
        msg = email.message_from_string(c, policy=email.policy.compat32)
        check(not msg.defects, "%s: MIME defects %s" % (where, msg.defects))
        mid = msg.get("Message-ID")
        want = {header(server, "mhMessageID"), header(server, "mhResentMessageID")} - {None}
        check(not want or (mid and mid.strip() in want), "%s: Message-ID %r, server has %r" % (where, mid, want))
        if server.get("subject"):
            subj = str(email.header.make_header(email.header.decode_header(msg.get("Subject", ""))))
            check(subj == server["subject"], "%s: Subject %r vs server %r" % (where, subj, server["subject"]))
        return
    comp = {2: "VEVENT", 4: "VTODO", 5: "VJOURNAL", 3: "VCARD"}[kind]
    check(("BEGIN:" + comp) in c, "%s: no %s in %r" % (where, comp, c[:200]))
    uid = ical_prop(c, "UID")
    check(uid and uid == item.get("object_uid"), "%s: UID %r vs summary %r" % (where, uid, item.get("object_uid")))
    if kind in (2, 4):
        check(ical_unescape(ical_prop(c, "SUMMARY")) == (server.get("summary") or ""),
              "%s: SUMMARY %r vs server %r" % (where, ical_prop(c, "SUMMARY"), server.get("summary")))
    elif kind == 3:
        fn = ical_unescape(ical_prop(c, "FN"))
        check(fn == (server.get("commonName") or fn), "%s: FN %r vs server %r" % (where, fn, server.get("commonName")))
    elif kind == 5:
        check(ical_unescape(ical_prop(c, "DESCRIPTION")) == (server.get("text") or ""),
              "%s: note text %r vs server %r" % (where, ical_prop(c, "DESCRIPTION"), server.get("text")))


def compare(dump, state, content=True, where="", allow_pending=False, flags_apart=()):
    """Every server folder and item is in the cache once, with its flags and sane content; the
    cache has nothing with a remote id the server does not know. Returns the mismatch count.
    flags_apart: remote ids whose flag edit is a dead letter — the server refused it, the cache
    keeps the user's flags and says so in status/audit, so the two stay apart until either side
    changes that item again (unless a re-listing brought the server's flags back)."""
    before = len(FAILS)
    sf, cf = sim_folders(state), cache_folders(dump)
    by_local = {f["id"]: f for f in dump["folders"]}
    check(set(sf) == set(cf), "%s folders: only on server %s, only in cache %s" % (
        where, sorted(sf[i]["path"] for i in set(sf) - set(cf)), sorted(cf[i]["path"] for i in set(cf) - set(sf))))
    for fid in set(sf) & set(cf):
        s, c = sf[fid], cf[fid]
        path = s["path"]
        check(s["name"] == c["name"], "%s %s: name %r in cache" % (where, path, c["name"]))
        check(KIND_OF_TYPE.get(s["type"]) == c["kind"], "%s %s: kind %r vs %r" % (where, path, s["type"], c["kind"]))
        parent = by_local.get(c["parent_id"])
        sparent = s.get("parentId")
        if sparent in sf:
            check(parent is not None and parent["remote_id"] == sparent, "%s %s: parent differs" % (where, path))
        else:
            check(c["parent_id"] == 0, "%s %s: top-level on the server, parent %r in cache" % (where, path, c["parent_id"]))
        sitems = {i["id"]: i for i in s["items"]}
        citems = {}
        for i in c["items"]:
            if i["remote_id"] is None:
                check(allow_pending, "%s %s: item %d has no remote id" % (where, path, i["id"]))
                continue
            check(i["remote_id"] not in citems, "%s %s: remote id %s twice in the cache" % (where, path, i["remote_id"]))
            citems[i["remote_id"]] = i
        check(len(sitems) == len(s["items"]), "%s %s: the server lists an item twice" % (where, path))
        missing, extra = set(sitems) - set(citems), set(citems) - set(sitems)
        check(not missing and not extra, "%s %s: %d on server only %s, %d in cache only %s" % (
            where, path, len(missing), sorted(missing)[:5], len(extra), sorted(extra)[:5]))
        check(c["total"] == len(c["items"]), "%s %s: counter total %d, %d items" % (where, path, c["total"], len(c["items"])))
        for rid in set(sitems) & set(citems):
            si, ci = sitems[rid], citems[rid]
            w = "%s %s %s" % (where, path, rid.rsplit("/", 1)[-1])
            check(ci["kind"] == c["kind"], "%s: item kind %d in a kind %d folder" % (w, ci["kind"], c["kind"]))
            if c["kind"] == 1:
                check(rid in flags_apart or ci["flags"] & SERVER_MAIL_FLAGS == mail_flags(si),
                      "%s: flags %#x in cache, %#x on server" % (w, ci["flags"] & SERVER_MAIL_FLAGS, mail_flags(si)))
                want = {bare(header(si, "mhMessageID")), bare(header(si, "mhResentMessageID"))} - {None}
                check(not want or bare(ci["message_id"]) in want, "%s: message_id %r vs %r" % (w, ci["message_id"], want))
                check(ci["content_state"] in (1, 2), "%s: content state %d" % (w, ci["content_state"]))
            else:
                check(ci["content_state"] == 2, "%s: content state %d" % (w, ci["content_state"]))
                check(ci["object_uid"], "%s: no object UID" % w)
            if content:
                check_content(c["kind"], ci, si, w)
        unread = sum(1 for i in c["items"] if not i["flags"] & 1)
        check(c["unread"] == unread, "%s %s: unread counter %d, %d unseen" % (where, path, c["unread"], unread))
    return len(FAILS) - before


def conflict_items(dump):
    """Items in the local Conflicts folder and its per-kind sub-folders."""
    top = [f for f in dump["folders"] if f["special_use"] == USE_CONFLICTS]
    if len(top) != 1:
        raise AssertionError("%d Conflicts folders in the cache" % len(top))
    return [i for f in dump["folders"] if f["id"] == top[0]["id"] or f["parent_id"] == top[0]["id"]
            for i in f["items"]]


def folder_by_path(dump, path):
    for f in dump["folders"]:
        if f["path"] == path:
            return f
    raise AssertionError("no folder %r in the cache" % path)


def sim_folder(state, path):
    for f in state["folders"]:
        if f.get("path") == path:
            return f
    raise AssertionError("no folder %r on the server" % path)


def counter_delta(after, before):
    keys = set(after) | set(before)
    return {k: after.get(k, 0) - before.get(k, 0) for k in keys if after.get(k, 0) != before.get(k, 0)}


def tmp_folder_pair(got, want):
    """Writes that prompt replay may or may not make. The IMAP session creates and at once
    deletes a folder. The daemon replays promptly, so the
    create may reach the server before the delete is journaled: then both are sent (once each),
    otherwise neither. Either is right; the counters are compared without that pair."""
    create, delete = SRV.pick(("Folders.create", "Folders.remove"), ("folder.create", "folder.delete"))
    if got.get(create) == want.get(create, 0) + 1 and got.get(delete) == want.get(delete, 0) + 1:
        got = dict(got, **{create: got[create] - 1, delete: got[delete] - 1})
    # Likewise STORE +\Deleted, then EXPUNGE: when the flag change is replayed before the
    # expunge is journaled, it is written (once, changing nothing the server shows).
    flags = SRV.pick("Mails.set", "item.flags")
    if want.get(flags) and got.get(flags) == want[flags] + 1:
        got = dict(got, **{flags: got[flags] - 1})
    return got


def expect_counters(got, want, where):
    check(got == want, "%s: server write counters %s, expected %s" % (where, got, want))


def status_ok(st, where):
    check(st.get("result", "ok").lower() == "ok", "%s: sync result %r, last error %r" % (where, st.get("result"),
                                                                                st.get("last_error")))
    j = st.get("journal", {})
    check(j.get("pending") == 0, "%s: %r journal entries still pending" % (where, j.get("pending")))


def unconfirmed(dump):
    """Journal entries not confirmed by the server, as (op, state, message). Subscriptions are
    kept locally by design (no transport carries them): an IMAP CREATE makes its mailbox
    unsubscribed, which the journal records as a local entry."""
    return [(e["op"], e["state"], e["message"]) for e in dump["journal"]
            if e["state"] != "confirmed" and not (e["op"] == "subscribe" and e["state"] == "local")]


def no_pending(dump, where):
    pend = [e for e in dump["journal"] if e["state"] == "pending"]
    check(not pend, "%s: pending journal entries %s" % (where, pend[:5]))


# ---- the environment ----------------------------------------------------------------------

class Env:
    def __init__(self, workdir):
        self.work = os.path.abspath(workdir)
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work, mode=0o700)
        outpost = os.environ["OUTPOST_BIN"]
        self.outpost = outpost
        self.outpostd = os.path.join(os.path.dirname(outpost), "outpostd")
        self.sim = os.environ[SRV.sim_env]
        self.plugins = os.environ["OUTPOST_PLUGIN_DIR"]
        self.cache_dump = os.environ["OUTPOST_CACHE_DUMP"]
        self.store_edit = os.environ["OUTPOST_STORE_EDIT"]
        self.certs = os.path.join(self.work, "pki")
        subprocess.run([os.environ["OUTPOST_GEN_CERTS"], self.certs], check=True, capture_output=True, timeout=120)


SMALL = {"messages": 150, "events": 20, "contacts": 20, "tasks": 10, "notes": 8}


def setup(env, counts=None, page_size=0, extra_core=""):
    sim = Sim(env, counts or SMALL).start()
    SRV.prepare(sim)
    sim.control("POST", "folders/create", {"name": "Empty server folder"})
    op = Outpost(env, sim, page_size=page_size, extra_core=extra_core)
    return sim, op


def initial_sync(op, where="initial sync"):
    t0 = time.monotonic()
    op.sync_once()
    log("%s: %.1fs" % (where, time.monotonic() - t0))


# ---- groups --------------------------------------------------------------------------------

def t_initial(env):
    """After an initial sync the cache equals the server for every folder and item of every
    kind; a second sync changes nothing and writes nothing to the server."""
    sim, op = setup(env, page_size=40)
    try:
        initial_sync(op)
        state = sim.state()
        dump = op.dump()
        kinds = {f["kind"] for f in dump["folders"] if f["remote_id"]}
        check(kinds == {1, 2, 3, 4, 5}, "folders of every kind synced: %s" % kinds)
        n = sum(len(f["items"]) for f in dump["folders"])
        check(n >= sum(SMALL.values()), "cache holds %d items" % n)
        compare(dump, state, where="initial")
        no_pending(dump, "initial")
        inbox = folder_by_path(dump, "Inbox")
        check(all(i["content_state"] == 2 for i in inbox["items"]), "Inbox (policy full) has every body")
        check(sim.counters() == {}, "an initial sync writes nothing: %s" % sim.counters())
        # A second cycle: nothing changes locally, nothing is written to the server.
        op.sync_once()
        again = op.dump()
        strip = lambda d: [(f["remote_id"], [(i["remote_id"], i["uid"], i["flags"], i["remote_version"])
                                             for i in f["items"]]) for f in d["folders"]]
        check(strip(again) == strip(dump), "a second sync leaves the cache as it was")
        check(sim.counters() == {}, "a second sync writes nothing: %s" % sim.counters())
    finally:
        sim.stop()


def items_of(state, path):
    return sim_folder(state, path)["items"]


def new_mail(subject, body="Hello from the server.\n"):
    if SRV.name == "ews":
        return {"subject": subject, "from": {"name": "Server Sender", "email": "sender@example.org"},
                "to": [{"name": "Jan Novák", "email": "jdoe@example.com"}], "body": body}
    return {"subject": subject, "from": {"name": "Server Sender", "address": "sender@example.org"},
            "to": [{"name": "Jan Novák", "address": "jdoe@example.com"}],
            "displayableParts": [{"contentType": "ctTextPlain", "content": body}]}


def server_changes_round(sim, state, tag, letters="Inbox/Newsletters"):
    """Changes of every kind made on the server (by another client); returns what to expect."""
    c = sim.control
    inbox = items_of(state, "Inbox")
    ids = {}
    ids["new_mail"] = c("POST", "items/create", {"type": "mail", "folder": "Inbox", "item": new_mail("new " + tag)})["id"]
    c("POST", "items/create", {"type": "mail", "folder": letters, "item": new_mail("letter " + tag)})
    c("POST", "items/set", SRV.pick({"id": inbox[0]["id"], "item": {"isSeen": not inbox[0]["isSeen"], "isFlagged": True}},
                                    {"id": inbox[0]["id"], "read": not inbox[0]["isSeen"], "flagged": True}))
    c("POST", "items/set", SRV.pick({"id": inbox[1]["id"], "item": {"isAnswered": True}},
                                    {"id": inbox[1]["id"], "lastVerb": 102}))
    ids["moved"] = c("POST", "items/move", {"id": inbox[2]["id"], "folder": "Archive"})["id"]
    ids["moved_from"] = inbox[2]["id"]
    c("POST", "items/copy", {"id": inbox[3]["id"], "folder": "Archive"})
    c("POST", "items/remove", {"id": inbox[4]["id"]})
    for typ, path, item, edit in SRV.pick((
            ("event", "Calendar", {"summary": "Server event " + tag, "start": "20250610T090000Z",
                                   "end": "20250610T100000Z"}, {"summary": "Renamed on the server " + tag}),
            ("contact", "Contacts", {"commonName": "Server Contact " + tag, "firstName": "Server",
                                     "surName": "Contact " + tag}, {"commonName": "Edited Contact " + tag}),
            ("task", "Tasks", {"summary": "Server task " + tag, "due": "20250620T090000Z"},
             {"summary": "Edited task " + tag, "status": "tsCompleted"}),
            ("note", "Notes", {"text": "Server note " + tag, "color": "Yellow"}, {"text": "Edited note " + tag})), (
            ("event", "Calendar", {"subject": "Server event " + tag, "start": 1749546000, "end": 1749549600},
             {"subject": "Renamed on the server " + tag}),
            ("contact", "Contacts", {"displayName": "Server Contact " + tag, "givenName": "Server",
                                     "surname": "Contact " + tag}, {"displayName": "Edited Contact " + tag}),
            ("task", "Tasks", {"subject": "Server task " + tag, "due": 1750410000},
             {"subject": "Edited task " + tag, "status": "Completed"}),
            ("note", "Notes", {"subject": "Server note " + tag, "body": "Server note " + tag},
             {"subject": "Edited note " + tag, "body": "Edited note " + tag}))):
        c("POST", "items/create", {"type": typ, "folder": path, "item": item})
        existing = items_of(state, path)
        c("POST", "items/set", {"id": existing[0]["id"], "item": edit})
        c("POST", "items/remove", {"id": existing[-1]["id"]})
    # the hierarchy: create with content, rename, re-parent, delete with content
    c("POST", "folders/create", {"parent": "Inbox", "name": "Server folder " + tag})
    c("POST", "items/create", {"type": "mail", "folder": "Inbox/Server folder " + tag, "item": new_mail("in folder " + tag)})
    c("POST", "folders/create", {"parent": "Contacts", "name": "Server contacts " + tag, "type": "FContact"})
    return ids


def t_changed_mail(sim, op):
    """A mail whose content the server changes comes back under a new UID, the old UID
    expunged (IMAP messages never change, RFC 3501 2.3.1.1), also when only its body
    changed; a mail whose flags alone change keeps its UID."""
    inbox = items_of(sim.state(content=False), "Inbox")
    edited, flagged, bodied = inbox[6], inbox[7], inbox[8]
    m = op.imap()
    try:
        m.select("INBOX", readonly=True)

        def uids_of(subject):
            m.literal = subject.encode()
            typ, d = m.uid("SEARCH", "CHARSET", "UTF-8", "SUBJECT")
            check(typ == "OK", "UID SEARCH SUBJECT %r: %r" % (subject, d))
            return [int(x) for x in d[0].split()]

        e_uids, f_uids = uids_of(edited["subject"]), uids_of(flagged["subject"])
        check(e_uids and f_uids, "the two mails are found by subject: %r %r" % (e_uids, f_uids))
        b_uids = uids_of(bodied["subject"])
        sim.control("POST", "items/set", {"id": edited["id"], "item": {"subject": "Rewritten on the server"}})
        sim.control("POST", "items/set", SRV.pick({"id": flagged["id"], "item": {"isFlagged": True}},
                                                  {"id": flagged["id"], "flagged": True}))
        status_ok(op.sync(), "a mail changed on the server")
        m.noop()
        now = uids_of("Rewritten on the server")
        check(len(now) == 1 and now[0] > max(e_uids), "the changed mail has a new UID: %r (was %r)" % (now, e_uids))
        # (generated subjects repeat: the old subject may still find other mails)
        left = uids_of(edited["subject"])
        gone = sorted(set(e_uids) - set(left))
        check(len(gone) == 1 and set(left) <= set(e_uids), "one UID of %r expunged: %r left" % (e_uids, left))
        typ, d = m.uid("FETCH", str(gone[0]), "(FLAGS)")
        mine = [x for x in d if x and re.search(rb"UID %d\b" % gone[0], x if isinstance(x, bytes) else x[0])]
        check(typ == "OK" and not mine, "the old UID %d is gone: %r" % (gone[0], d))
        check(uids_of(flagged["subject"]) == f_uids, "a flag change keeps the UID %r" % f_uids)

        # a body-only edit (same envelope: a draft edited on the server) is a change too
        typ, d = m.uid("SEARCH", "BODY", "Quinceharbour")
        check(typ == "OK" and d[0].split() == [], "no mail says Quinceharbour yet: %r" % d)
        body = "Quinceharbour: the body was edited on the server.\n"
        sim.control("POST", "items/set", SRV.pick(
            {"id": bodied["id"], "item": {"displayableParts": [{"contentType": "ctTextPlain", "content": body}]}},
            {"id": bodied["id"], "item": {"body": body}}))
        status_ok(op.sync(), "a mail's body changed on the server")
        m.noop()
        typ, d = m.uid("SEARCH", "BODY", "Quinceharbour")
        now = [int(x) for x in d[0].split()] if typ == "OK" else []
        check(len(now) == 1 and now[0] > max(b_uids), "the edited body is served under a new UID: %r (was %r)" % (now, b_uids))
        after = set(uids_of(bodied["subject"]))
        check(len(set(b_uids) - after) == 1 and set(now) <= after,
              "the old version's UID is expunged, the new one has the same subject: %r -> %r" % (b_uids, sorted(after)))
    finally:
        m.logout()


def t_server_changes(env):
    """Server-side changes of every kind (mail create/flags/move/copy/delete, events,
    contacts, tasks, notes created/edited/deleted, folders created/renamed/moved/deleted)
    arrive in the cache; the engine writes nothing back."""
    sim, op = setup(env)
    try:
        initial_sync(op)
        op.start()
        before = op.dump  # (the daemon holds the lock: no dump while it runs)
        del before
        state = sim.state(content=False)
        ids = server_changes_round(sim, state, "one")
        st = op.sync()
        status_ok(st, "server changes 1")
        # IMAP clients see the new message while the daemon runs.
        m = op.imap()
        typ, data = m.select("INBOX", readonly=True)
        typ, found = m.search(None, "SUBJECT", '"new one"')
        check(typ == "OK" and found[0].split(), "IMAP finds the server's new message: %r" % found)
        m.logout()
        t_changed_mail(sim, op)
        # second round: folder rename, re-parent and delete (with items), more item changes
        sim.control("POST", "folders/set", {"path": "Inbox/Newsletters", "name": "Newsletter-Archiv"})
        sim.control("POST", "folders/set", {"path": "Inbox/Server folder one", "parent": "Archive"})
        sim.control("POST", "folders/remove", {"path": "Archive/2023 — Архив", "recursive": True})
        sim.control("POST", "items/move", {"id": ids["moved"], "folder": "Inbox"})
        server_changes_round(sim, sim.state(content=False), "two", letters="Inbox/Newsletter-Archiv")
        st = op.sync()
        status_ok(st, "server changes 2")
        op.stop()
        dump = op.dump()
        state = sim.state()
        compare(dump, state, where="after server changes")
        paths = {f["path"] for f in dump["folders"]}
        check("Inbox/Newsletter-Archiv" in paths and "Inbox/Newsletters" not in paths, "a renamed folder is renamed")
        check("Archive/Server folder one" in paths, "a re-parented folder moved: %s" % sorted(paths))
        check("Archive/2023 — Архив" not in paths, "a deleted folder is gone")
        check(sim.counters() == {}, "applying server changes writes nothing back: %s" % sim.counters())
    finally:
        op.kill()
        sim.stop()


# ---- local edits ---------------------------------------------------------------------------

def imap_uids(m, mailbox):
    typ, _ = m.select(mailbox)
    if typ != "OK":
        raise AssertionError("IMAP SELECT %s failed" % mailbox)
    typ, data = m.uid("SEARCH", None, "ALL")
    return [int(x) for x in data[0].split()]


def imap_ok(res, what):
    typ, data = res
    check(typ == "OK", "IMAP %s: %s %r" % (what, typ, data))
    return data


def test_message(mid, subject, body="Written offline.\r\n"):
    return ("From: Jan Novák <jdoe@example.com>\r\nTo: Someone <someone@example.org>\r\n"
            "Subject: %s\r\nDate: Mon, 02 Jun 2025 10:00:00 +0000\r\nMessage-ID: <%s>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n%s" % (subject, mid, body)).encode()


def server_mails_with(state, mid):
    """Server mails carrying Message-ID (or, for mail we created, Resent-Message-ID) mid."""
    out = []
    for f in state["folders"]:
        for i in f["items"]:
            if "headers" in i and mid in {bare(header(i, "mhMessageID")), bare(header(i, "mhResentMessageID"))}:
                out.append((f["path"], i))
    return out


def imap_edit_session(op, tag):
    """The mail edits of a user in an IMAP client: flags, copy, move, delete + expunge, append,
    folder create / rename / delete. Returns (expected server write counters, appended ids)."""
    m = op.imap()
    uids = imap_uids(m, "INBOX")
    if len(uids) < 8:
        raise AssertionError("INBOX has only %d messages" % len(uids))
    imap_ok(m.uid("STORE", str(uids[0]), "+FLAGS", "(\\Seen \\Flagged)"), "STORE +Seen +Flagged")
    imap_ok(m.uid("STORE", str(uids[1]), "+FLAGS", "(\\Answered)"), "STORE +Answered")
    imap_ok(m.uid("STORE", str(uids[2]), "-FLAGS", "(\\Seen)"), "STORE -Seen")
    imap_ok(m.uid("COPY", str(uids[3]), "Archive"), "COPY")
    imap_ok(m.uid("MOVE", str(uids[4]), "Archive"), "MOVE")
    imap_ok(m.uid("STORE", str(uids[5]), "+FLAGS", "(\\Deleted)"), "STORE +Deleted")
    imap_ok(m.expunge(), "EXPUNGE")
    mids = ["%s-inbox@outpost.test" % tag, "%s-folder@outpost.test" % tag]
    imap_ok(m.append("INBOX", "(\\Seen)", None, test_message(mids[0], "Appended " + tag)), "APPEND INBOX")
    imap_ok(m.create("Outpost-%s" % tag), "CREATE")
    imap_ok(m.append("Outpost-%s" % tag, None, None, test_message(mids[1], "In a new folder " + tag)), "APPEND new folder")
    imap_ok(m.rename("Outpost-%s" % tag, "Outpost-%s-renamed" % tag), "RENAME")
    imap_ok(m.create("Outpost-%s-tmp" % tag), "CREATE tmp")  # deleted before it reaches the server
    imap_ok(m.delete("Outpost-%s-tmp" % tag), "DELETE tmp")
    imap_ok(m.delete('"Empty server folder"'), "DELETE a server folder")
    m.logout()
    want = SRV.pick({"Mails.set": 3, "Mails.copy": 1, "Mails.move": 2, "Mails.create": 2, "Folders.create": 1,
                     "Folders.set": 1, "Folders.remove": 1},
                    # EWS: an expunge is MoveToDeletedItems (item.trash), flag edits are item.flags
                    {"item.flags": 3, "item.copy": 1, "item.move": 1, "item.trash": 1, "item.create": 2,
                     "folder.create": 1, "folder.rename": 1, "folder.delete": 1})
    return want, mids


def t_imap_edits(env):
    """Mail edits made through the IMAP front-end of a running outpostd reach the server exactly
    once and the cache equals the server afterwards."""
    sim, op = setup(env)
    try:
        initial_sync(op)
        op.start()
        sim.reset_counters()
        want, mids = imap_edit_session(op, "e1")
        st = op.sync()
        status_ok(st, "IMAP edits")
        expect_counters(tmp_folder_pair(sim.counters(), want), want, "IMAP edits")
        state = sim.state()
        for mid in mids:
            got = server_mails_with(state, mid)
            check(len(got) == 1, "appended %s is on the server once: %s" % (mid, [p for p, _ in got]))
        paths = {f["path"] for f in state["folders"]}
        check("Outpost-e1-renamed" in paths and "Outpost-e1" not in paths and "Outpost-e1-tmp" not in paths,
              "folder create/rename/delete reached the server: %s" % sorted(paths))
        # another cycle after a restart: nothing is sent twice
        op.stop()
        op.start()
        status_ok(op.sync(), "second cycle")
        expect_counters(tmp_folder_pair(sim.counters(), want), want, "after a restart and another cycle")
        op.stop()
        dump = op.dump()
        compare(dump, sim.state(), where="after IMAP edits")
        no_pending(dump, "after IMAP edits")
        bad = unconfirmed(dump)
        check(not bad, "every edit confirmed: %s" % bad)
    finally:
        op.kill()
        sim.stop()


ICS = {
    2: ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Outpost tests//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
        "DTSTAMP:20250601T000000Z\r\nDTSTART:20250615T090000Z\r\nDTEND:20250615T100000Z\r\n"
        "SUMMARY:{text}\r\nLOCATION:Room 1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"),
    4: ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Outpost tests//EN\r\nBEGIN:VTODO\r\nUID:{uid}\r\n"
        "DTSTAMP:20250601T000000Z\r\nDUE:20250620T090000Z\r\nSUMMARY:{text}\r\nSTATUS:NEEDS-ACTION\r\n"
        "END:VTODO\r\nEND:VCALENDAR\r\n"),
    5: ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Outpost tests//EN\r\nBEGIN:VJOURNAL\r\nUID:{uid}\r\n"
        "DTSTAMP:20250601T000000Z\r\nSUMMARY:{text}\r\nDESCRIPTION:{text}\r\nEND:VJOURNAL\r\nEND:VCALENDAR\r\n"),
    3: ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{text}\r\nN:{text};;;;\r\n"
        "EMAIL;TYPE=INTERNET:local@example.net\r\nEND:VCARD\r\n"),
}
PIM = ((2, "Calendar", "Events", "summary"), (3, "Contacts", "Contacts", "commonName"),
       (4, "Tasks", "Tasks", "summary"), (5, "Notes", "Notes", "text"))


def retitle(content, kind, text):
    """The item's content with its title (SUMMARY / FN / note text) replaced."""
    content = re.sub(r"\r?\n[ \t]", "", content)
    props = {2: ("SUMMARY",), 4: ("SUMMARY",), 5: ("SUMMARY", "DESCRIPTION"), 3: ("FN",)}[kind]
    out, done = [], set()
    for line in content.splitlines():
        name = line.split(":", 1)[0].split(";")[0].upper()
        if name in props and name not in done:
            line = line.split(":", 1)[0] + ":" + text
            done.add(name)
        out.append(line)
    return "\r\n".join(out) + "\r\n"


def write_tmp(env, name, text):
    p = os.path.join(env.work, name)
    with open(p, "w", newline="") as f:
        f.write(text)
    return p


def t_pim_edits(env):
    """Calendar, contact, task and note edits (update, create, delete) made through the store
    API reach the server exactly once; the cache equals the server afterwards."""
    sim, op = setup(env)
    try:
        initial_sync(op)
        dump = op.dump()
        sim.reset_counters()
        expect = {}
        for kind, path, iface, field in PIM:
            items = folder_by_path(dump, path)["items"]
            first, last = items[0], items[-1]
            text = "Edited locally %d" % kind
            op.edit("update", first["id"], write_tmp(env, "u%d" % kind, retitle(first["content"], kind, text)))
            new = ICS[kind].format(uid="local-%d@outpost.test" % kind, text="Created locally %d" % kind)
            op.edit("append", folder_by_path(dump, path)["id"], write_tmp(env, "a%d" % kind, new))
            op.edit("remove", last["id"])
            expect[kind] = (first["remote_id"], last["remote_id"], text)
        # The replies to the updates are lost after the server applied them: the retry must
        # recognise its own write (no second set, no false conflict), for every kind.
        if SRV.name == "ews":  # every kind's update is an UpdateItem: the first and the last
            sim.fault(kind="drop", method="UpdateItem", count=1)
            sim.fault(kind="drop", method="UpdateItem", skip=3, count=1)
        else:
            for iface in ("Events", "Contacts", "Tasks", "Notes"):
                sim.fault(kind="drop", method=iface + ".set", count=1)
        op.start()
        deadline = time.monotonic() + 60
        while True:
            st = op.sync()
            if st["journal"]["pending"] == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        status_ok(st, "PIM edits")
        check(st["journal"]["conflict"] == 0, "a retried update is not a conflict with itself: %s" % st["journal"])
        want = {}
        for kind, path, iface, field in PIM:
            want.update({iface + ".set": 1, iface + ".create": 1, iface + ".remove": 1})
        if SRV.name == "ews":
            want = {"item.update": 4, "item.create": 4, "item.trash": 4}
        expect_counters(sim.counters(), want, "PIM edits")
        op.stop()
        state = sim.state()
        for kind, path, iface, field in PIM:
            items = {i["id"]: i for i in sim_folder(state, path)["items"]}
            edited, removed, text = expect[kind]
            check(edited in items and items[edited].get(field, "").startswith(text),
                  "%s: the local edit is on the server: %r" % (path, items.get(edited, {}).get(field)))
            check(removed not in items, "%s: the local delete reached the server" % path)
            created = [i for i in items.values() if (i.get(field) or "").startswith("Created locally")]
            check(len(created) == 1, "%s: the local create is on the server once (%d)" % (path, len(created)))
        dump = op.dump()
        compare(dump, state, where="after PIM edits")
        no_pending(dump, "after PIM edits")
    finally:
        op.kill()
        sim.stop()


# ---- conflicts -----------------------------------------------------------------------------

def t_conflicts(env):
    """CONFLICT: the server's version stays in place, the local one is kept as a copy in
    Conflicts. GONE: the edit is dropped with a log line, with a copy in Conflicts if it
    carried content. Both versions survive; the audit says what happened."""
    sim, op = setup(env)
    try:
        initial_sync(op)
        dump = op.dump()
        state = sim.state(content=False)
        cal = folder_by_path(dump, "Calendar")["items"]
        event = cal[0]
        contact = folder_by_path(dump, "Contacts")["items"][0]
        mail = folder_by_path(dump, "Inbox")["items"][0]
        # the server changes the event and deletes the contact and the mail ...
        sim.control("POST", "items/set", {"id": event["remote_id"], "item": SRV.pick({"summary": "Server version wins"},
                                                                                     {"subject": "Server version wins"})})
        sim.control("POST", "items/remove", {"id": contact["remote_id"]})
        sim.control("POST", "items/remove", {"id": mail["remote_id"]})
        # ... while the user edits all three offline
        op.edit("update", event["id"], write_tmp(env, "ev", retitle(event["content"], 2, "Local version kept")))
        op.edit("update", contact["id"], write_tmp(env, "ct", retitle(contact["content"], 3, "Local contact kept")))
        op.edit("flags", mail["id"], (mail["flags"] ^ 4))
        sim.reset_counters()
        op.start()
        st = op.sync()
        status_ok(st, "conflicts")
        audit = op.audit()
        op.stop()
        check(sim.counters().get(SRV.pick("Events.set", "item.update"), 0) == 0, "a conflicting update is not written: %s" % sim.counters())
        dump = op.dump()
        state = sim.state()
        compare(dump, state, where="after conflicts")
        conf = conflict_items(dump)
        subjects = sorted(i["subject"] or "" for i in conf)
        check(len(conf) == 2, "Conflicts holds the event and the contact: %s" % subjects)
        check(any("Local version kept" in s for s in subjects), "the local event is kept in Conflicts: %s" % subjects)
        check(any("Local contact kept" in s for s in subjects), "the local contact is kept in Conflicts: %s" % subjects)
        for i in conf:
            check(i["remote_id"] is None and i["content_state"] == 2 and i.get("content"),
                  "a Conflicts copy is local with its content: %r" % {k: i[k] for k in ("remote_id", "content_state")})
        ev = [i for i in folder_by_path(dump, "Calendar")["items"] if i["remote_id"] == event["remote_id"]]
        check(len(ev) == 1 and ev[0]["subject"] == "Server version wins", "the server's event is in place: %s" %
              [i["subject"] for i in ev])
        states = sorted((e["op"], e["state"]) for e in audit)
        check(states == [("flags", "confirmed"), ("update", "conflict"), ("update", "conflict")],
              "audit: %s" % [(e["op"], e["state"], e["message"]) for e in audit])
        text = op.log_text()
        check("conflict, the server's version wins" in text, "the conflict is logged")
        check(text.count("is gone on the server; edit dropped") >= 2, "GONE edits are logged")
    finally:
        op.kill()
        sim.stop()


# ---- offline --------------------------------------------------------------------------------

def t_offline(env):
    """The simulator is stopped: clients keep working through IMAP, status says offline and
    counts the pending edits; when the server is back every edit arrives exactly once."""
    sim, op = setup(env)
    try:
        initial_sync(op)
        op.start()
        status_ok(op.sync(), "online")
        sim.stop()
        want, mids = imap_edit_session(op, "off")
        st = op.sync()
        check(st["result"].lower() in ("temp", "throttled"), "offline sync result %r" % st["result"])
        check(not st["online"], "status shows offline")
        check(st["journal"]["pending"] >= 9, "status counts pending edits: %s" % st["journal"])
        check(st["last_error"], "status says why: %r" % st["last_error"])
        # reading still works offline (the INBOX body is cached)
        m = op.imap()
        m.select("INBOX", readonly=True)
        typ, data = m.fetch("1", "(BODY.PEEK[])")
        check(typ == "OK" and data and data[0] and len(data[0][1]) > 100, "IMAP serves cached mail offline")
        m.logout()
        p = op.run("status", "--json")
        check('"pending"' in p.stdout, "outpost status --json works offline")
        sim.start()  # same port, same state
        deadline = time.monotonic() + 60
        while True:
            st = op.sync()
            if st["result"].lower() == "ok" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        status_ok(st, "back online")
        check(st["online"], "status shows online again")
        expect_counters(tmp_folder_pair(sim.counters(), want), want, "replay after the offline period")
        state = sim.state()
        for mid in mids:
            check(len(server_mails_with(state, mid)) == 1, "%s on the server once" % mid)
        op.stop()
        dump = op.dump()
        compare(dump, state, where="after the offline period")
        no_pending(dump, "after the offline period")
    finally:
        op.kill()
        sim.stop()


def imap_uid_of(m, mailbox, mid):
    """UIDs in mailbox (selected read-write) of the mails whose Message-ID is mid."""
    imap_ok(m.select(mailbox), "SELECT %s" % mailbox)
    data = imap_ok(m.uid("SEARCH", None, "HEADER", "Message-ID", mid), "SEARCH HEADER Message-ID")
    return [int(x) for x in (data[0] or b"").split()]


def sim_side_port(sim, fn):
    """Runs fn(sim) against the simulator started on another port, so the daemon (which dials
    the usual one) cannot reach it meanwhile: a change made on the server while the client is
    offline. The state file carries the change back to the usual port."""
    port = sim.port
    sim.port = None
    sim.start()
    try:
        fn(sim)
    finally:
        sim.stop()
        sim.port = port


def t_offline_sequences(env):
    """Awkward sequences of edits made through IMAP while the server is unreachable (simulator
    stopped), then replayed when it comes back: nothing is lost, nothing is duplicated, no
    server change is sent that the user did not make, and the cache equals the server.
    a) APPEND A, EXPUNGE A, APPEND B: B on the server once, A never.
    b) CREATE X, APPEND into X, DELETE X, CREATE X, APPEND: one X holding the second mail only.
    c) RENAME a server folder and back, another to the top level; MOVE a mail out and back,
       then COPY it; flag, unflag, flag.
    d) APPEND, MOVE it to another folder, STORE flags on it, before it reached the server;
       the same into a folder created after the APPEND; APPEND then COPY; APPEND, COPY,
       EXPUNGE the original.
    e) a mail deleted on the server while the client flags it offline: the flag change is
       dropped with a log line (GONE), the mail is not resurrected.
    f) MOVE a mail into the local Conflicts folder and back, or out into another folder
       (offline; online after its server copy was deleted; with the move's reply lost)."""
    sim, op = setup(env)
    try:
        initial_sync(op)
        before = op.dump(content=False)
        inbox = [i for i in folder_by_path(before, "Inbox")["items"] if i["message_id"]]
        unflagged = [i for i in inbox if not i["flags"] & 4]
        if len(unflagged) < 7:
            raise AssertionError("Inbox has only %d unflagged mails" % len(unflagged))
        c_move, c_flag, e_mail, f_mail, g_mail, h_mail, i_mail = unflagged[:7]
        news = folder_by_path(before, "Inbox/Newsletters")
        op.start()
        m = op.imap()
        imap_ok(m.create("INBOX/Offline-Z"), "CREATE Z")  # on the server before the offline period
        m.logout()
        status_ok(sync_until_replayed(op), "online")
        sim.stop()
        st = op.sync()
        check(st["result"].lower() in ("temp", "throttled"), "offline: sync result %r" % st["result"])
        m = op.imap()
        mid = lambda tag: "seq-%s@outpost.test" % tag
        # a) APPEND A, EXPUNGE A, APPEND B
        imap_ok(m.append("INBOX", None, None, test_message(mid("a"), "Sequence A, expunged")), "APPEND A")
        a_uids = imap_uid_of(m, "INBOX", mid("a"))
        check(len(a_uids) == 1, "A is in INBOX once: %r" % a_uids)
        imap_ok(m.uid("STORE", ",".join(map(str, a_uids)), "+FLAGS", "(\\Deleted)"), "STORE +Deleted A")
        imap_ok(m.expunge(), "EXPUNGE A")
        imap_ok(m.append("INBOX", None, None, test_message(mid("b"), "Sequence B, kept")), "APPEND B")
        b_uids = imap_uid_of(m, "INBOX", mid("b"))
        check(len(b_uids) == 1 and a_uids and b_uids[0] > a_uids[0], "B has a new UID: %r after %r" % (b_uids, a_uids))
        check(imap_uid_of(m, "INBOX", mid("a")) == [], "A is expunged")
        # b) CREATE X, APPEND, DELETE X, CREATE X, APPEND
        imap_ok(m.create("Offline-X"), "CREATE X")
        imap_ok(m.append("Offline-X", None, None, test_message(mid("x1"), "In the first X")), "APPEND into X")
        imap_ok(m.delete("Offline-X"), "DELETE X")
        imap_ok(m.create("Offline-X"), "CREATE X again")
        imap_ok(m.append("Offline-X", None, None, test_message(mid("x2"), "In the second X")), "APPEND into X again")
        check(imap_uid_of(m, "Offline-X", mid("x1")) == [] and len(imap_uid_of(m, "Offline-X", mid("x2"))) == 1,
              "the second X holds the second mail only")
        # c) RENAME and back; MOVE out and back; flag, unflag, flag
        imap_ok(m.rename("INBOX/Newsletters", '"INBOX/Renamed offline"'), "RENAME")
        imap_ok(m.rename('"INBOX/Renamed offline"', "INBOX/Newsletters"), "RENAME back")
        imap_ok(m.rename("INBOX/Offline-Z", "Offline-Z"), "RENAME to the top level")
        imap_ok(m.select("INBOX"), "SELECT INBOX")
        imap_ok(m.uid("MOVE", str(c_move["uid"]), "Archive"), "MOVE out")
        back = imap_uid_of(m, "Archive", c_move["message_id"])
        check(len(back) == 1, "the moved mail is in Archive: %r" % back)
        imap_ok(m.uid("MOVE", ",".join(map(str, back)), "INBOX"), "MOVE back")
        # ... and copied: the copy is replayed after the moves gave the mail new remote ids
        imap_ok(m.uid("COPY", ",".join(map(str, imap_uid_of(m, "INBOX", c_move["message_id"]))), "Archive"), "COPY")
        imap_ok(m.select("INBOX"), "SELECT INBOX")
        for op_ in ("+FLAGS", "-FLAGS", "+FLAGS"):
            imap_ok(m.uid("STORE", str(c_flag["uid"]), op_, "(\\Flagged)"), "STORE %s" % op_)
        # d) APPEND, MOVE, STORE before it reached the server
        imap_ok(m.append("INBOX", None, None, test_message(mid("d"), "Sequence D, moved and flagged")), "APPEND D")
        d_uids = imap_uid_of(m, "INBOX", mid("d"))
        imap_ok(m.uid("MOVE", ",".join(map(str, d_uids)), "Archive"), "MOVE D")
        d_uids = imap_uid_of(m, "Archive", mid("d"))
        check(len(d_uids) == 1, "D is in Archive: %r" % d_uids)
        imap_ok(m.uid("STORE", ",".join(map(str, d_uids)), "+FLAGS", "(\\Flagged \\Answered)"), "STORE on D")
        # d2) the same into a folder made after the APPEND (not on the server when the mail is sent)
        imap_ok(m.append("INBOX", None, None, test_message(mid("d2"), "Sequence D2, into a new folder")), "APPEND D2")
        imap_ok(m.create("Offline-Y"), "CREATE Y")
        imap_ok(m.uid("MOVE", ",".join(map(str, imap_uid_of(m, "INBOX", mid("d2")))), "Offline-Y"), "MOVE D2")
        # d3) APPEND, then COPY before it reached the server: both on the server
        imap_ok(m.append("INBOX", None, None, test_message(mid("d3"), "Sequence D3, copied")), "APPEND D3")
        imap_ok(m.uid("COPY", ",".join(map(str, imap_uid_of(m, "INBOX", mid("d3")))), "Archive"), "COPY D3")
        # d4) APPEND, COPY, EXPUNGE the original, all before it reached the server: the copy
        # is uploaded from its own content, with its flags
        imap_ok(m.append("INBOX", "(\\Seen)", None, test_message(mid("d4"), "Sequence D4, copy kept")), "APPEND D4")
        d4 = ",".join(map(str, imap_uid_of(m, "INBOX", mid("d4"))))
        imap_ok(m.uid("COPY", d4, "Archive"), "COPY D4")
        imap_ok(m.uid("STORE", d4, "+FLAGS", "(\\Deleted)"), "STORE +Deleted D4")
        imap_ok(m.expunge(), "EXPUNGE D4")
        # f) MOVE a mail into the local Conflicts folder and back
        imap_ok(m.select("INBOX"), "SELECT INBOX")
        imap_ok(m.uid("MOVE", str(f_mail["uid"]), "Conflicts"), "MOVE into Conflicts")
        imap_ok(m.uid("MOVE", ",".join(map(str, imap_uid_of(m, "Conflicts", f_mail["message_id"]))), "INBOX"),
                "MOVE out of Conflicts")
        # ... and into Conflicts, then out into another folder: a move there
        imap_ok(m.select("INBOX"), "SELECT INBOX")
        imap_ok(m.uid("MOVE", str(g_mail["uid"]), "Conflicts"), "MOVE into Conflicts")
        imap_ok(m.uid("MOVE", ",".join(map(str, imap_uid_of(m, "Conflicts", g_mail["message_id"]))), "Archive"),
                "MOVE out of Conflicts into Archive")
        # e) flag a mail that is deleted on the server meanwhile
        imap_ok(m.select("INBOX"), "SELECT INBOX")
        imap_ok(m.uid("STORE", str(e_mail["uid"]), "+FLAGS", "(\\Flagged)"), "STORE on E")
        m.logout()
        st = op.status()
        check(st["journal"]["pending"] >= 15, "the offline edits are queued: %s" % st["journal"])
        sim_side_port(sim, lambda s: s.control("POST", "items/remove", {"id": e_mail["remote_id"]}))

        sim.start()  # the usual port: the daemon comes back online
        sim.reset_counters()  # (no-op: a restarted simulator counts from zero)
        deadline = time.monotonic() + 60
        while True:
            st = op.sync()
            if (st["result"].lower() == "ok" and st["journal"]["pending"] == 0) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        status_ok(st, "back online")
        # folder writes: X, Y; Newsletters renamed and back, Z moved to the top level (EWS:
        # a MoveFolder, its name unchanged); creates: B, the second X's mail, D, D2, D3, D4's copy; moves: out and back, D2 into Y (sent to
        # Inbox first: Y was not on the server yet; the mail through Conflicts into Archive); copies: the mail moved out and back, D3;
        # flags: flag-unflag-flag (coalesced), D's; Kerio also sets the flags of a mail it
        # creates with flags (D4's copy, seen) in a call of their own
        want = SRV.pick({"Mails.create": 6, "Mails.copy": 2, "Folders.create": 2, "Folders.set": 3, "Mails.move": 4,
                         "Mails.set": 3},
                        {"item.create": 6, "item.copy": 2, "folder.create": 2, "folder.rename": 2, "folder.move": 1,
                         "item.move": 4,
                         "item.flags": 2})
        got = sim.counters()
        expect_counters(got, want, "replay of the offline sequences")
        state = sim.state()
        on = lambda tag: [p for p, _ in server_mails_with(state, mid(tag))]
        check(on("a") == [], "A never reached the server: %r" % on("a"))
        check(on("b") == ["Inbox"], "B is on the server once, in Inbox: %r" % on("b"))
        xs = [f["path"] for f in state["folders"] if f.get("path", "").startswith("Offline-X")]
        check(xs == ["Offline-X"], "one X on the server: %r" % xs)
        check(on("x1") == [], "the first X's mail never reached the server: %r" % on("x1"))
        check(on("x2") == ["Offline-X"], "the second X's mail is in X once: %r" % on("x2"))
        paths = {f.get("path") for f in state["folders"]}
        check("Inbox/Newsletters" in paths and "Inbox/Renamed offline" not in paths,
              "the folder renamed and back has its name: %s" % sorted(p for p in paths if p and p.startswith("Inbox")))
        check("Offline-Z" in paths and "Inbox/Offline-Z" not in paths, "a folder moved to the top level is there: %s" %
              sorted(p for p in paths if p and "Offline-Z" in p))
        srv_news = sim_folder(state, "Inbox/Newsletters")
        check(srv_news["id"] == news["remote_id"] and len(srv_news["items"]) == len(news["items"]),
              "the renamed folder is the same folder with its %d mails: %d" % (len(news["items"]), len(srv_news["items"])))
        moved = server_mails_with(state, bare(c_move["message_id"]))
        check(sorted(p for p, _ in moved) == ["Archive", "Inbox"],
              "the mail moved out and back is in Inbox once, its copy in Archive: %r" % [p for p, _ in moved])
        flagged = [i for i in items_of(state, "Inbox") if i["id"] == c_flag["remote_id"]]
        check(len(flagged) == 1 and flagged[0].get("isFlagged"), "flag, unflag, flag: flagged on the server")
        d = server_mails_with(state, mid("d"))
        check([p for p, _ in d] == ["Archive"], "D is in Archive once: %r" % [p for p, _ in d])
        check(d and d[0][1].get("isFlagged") and d[0][1].get("isAnswered"), "D carries its flags on the server")
        check([p for p, _ in server_mails_with(state, mid("d2"))] == ["Offline-Y"], "D2 is in Y once: %r" % on("d2"))
        check(sorted(on("d3")) == ["Archive", "Inbox"], "D3 and its copy are on the server: %r" % on("d3"))
        d4 = server_mails_with(state, mid("d4"))
        check([p for p, _ in d4] == ["Archive"] and d4[0][1].get("isSeen"),
              "D4's copy is in Archive once, seen; the expunged original nowhere: %r" % [(p, i.get("isSeen")) for p, i in d4])
        check(not [i for f in state["folders"] for i in f["items"] if i["id"] == e_mail["remote_id"]] and
              not server_mails_with(state, bare(e_mail["message_id"])), "E stays deleted on the server")
        f = server_mails_with(state, bare(f_mail["message_id"]))
        check([(p, i["id"]) for p, i in f] == [("Inbox", f_mail["remote_id"])],
              "the mail moved into Conflicts and back is in Inbox, untouched: %r" % [(p, i["id"]) for p, i in f])
        g = server_mails_with(state, bare(g_mail["message_id"]))
        check([p for p, _ in g] == ["Archive"], "the mail moved through Conflicts into Archive is there once: %r" %
              [p for p, _ in g])
        text = op.log_text()
        check("flags: the object is gone on the server; edit dropped" in text, "the dropped flag change of E is logged")
        # another cycle and a restart send nothing again
        status_ok(op.sync(), "one more cycle")
        op.stop()
        op.start()
        status_ok(op.sync(), "after a restart")
        op.stop()
        expect_counters(sim.counters(), want, "after another cycle and a restart")
        # online: a mail moved into Conflicts is deleted on the server (to its trash) once
        # that is replayed; moved out again, it is uploaded anew, not taken for the old one
        op.start()
        m = op.imap()
        imap_ok(m.select("INBOX"), "SELECT INBOX")
        imap_ok(m.uid("MOVE", str(h_mail["uid"]), "Conflicts"), "MOVE into Conflicts (online)")
        status_ok(sync_until_replayed(op), "the move into Conflicts replayed")
        sim.reset_counters()
        kept = imap_uid_of(m, "Conflicts", h_mail["message_id"])
        check(len(kept) == 1, "the mail stays in Conflicts after the server deleted its copy: %r" % kept)
        imap_ok(m.uid("MOVE", ",".join(map(str, kept or [0])), "INBOX"), "MOVE out of Conflicts (online)")
        status_ok(sync_until_replayed(op), "the move out of Conflicts replayed")
        h = [p for p, _ in server_mails_with(sim.state(content=False), bare(h_mail["message_id"]))]
        check(sorted(h) == ["Deleted Items", "Inbox"], "moved out of Conflicts, the mail is uploaded to Inbox: %r" % h)
        c = sim.counters()
        check(c.get(SRV.pick("Mails.create", "item.create")) == 1, "one create for the mail out of Conflicts: %s" % c)
        # into Conflicts and out into Archive while the server is unreachable, and the reply
        # to that move is lost: the retry finds it done (no delete, no upload after it)
        sim.fault(kind=SRV.pick("offline", "drop_before"), count=0)
        imap_ok(m.select("INBOX"), "SELECT INBOX")
        imap_ok(m.uid("MOVE", str(i_mail["uid"]), "Conflicts"), "MOVE into Conflicts (unreachable)")
        imap_ok(m.uid("MOVE", ",".join(map(str, imap_uid_of(m, "Conflicts", i_mail["message_id"]))), "Archive"),
                "MOVE out of Conflicts into Archive (unreachable)")
        m.logout()
        op.sync()
        sim.clear_faults()
        sim.reset_counters()
        sim.fault(kind="drop", method=SRV.pick("Mails.move", "MoveItem"), count=1)
        status_ok(sync_until_replayed(op), "the move through Conflicts replayed after a lost reply")
        op.stop()
        i = [p for p, _ in server_mails_with(sim.state(content=False), bare(i_mail["message_id"]))]
        check(i == ["Archive"], "the mail through Conflicts is in Archive once after a lost reply: %r" % i)
        expect_counters(sim.counters(), SRV.pick({"Mails.move": 1}, {"item.move": 1}), "a move whose reply was lost")
        dump = op.dump()
        compare(dump, sim.state(), where="after the offline sequences")
        no_pending(dump, "after the offline sequences")
        check(not [i for f in dump["folders"] for i in f["items"] if i["message_id"] == e_mail["message_id"]],
              "E is not resurrected in the cache")
        bad = unconfirmed(dump)
        check(not bad, "every edit confirmed (none dead, in conflict or local): %s" % bad)
        said = [e["message"] or "" for e in dump["journal"]]
        check(sum("Conflicts and back: nothing to send" in s for s in said) == 1 and
              sum("Conflicts and back out: sent as a move" in s for s in said) == 2,
              "the audit says which moves through Conflicts were sent as moves: %s" %
              [s for s in said if "Conflicts" in s])
    finally:
        op.kill()
        sim.stop()


# ---- faults -----------------------------------------------------------------------------------

def attempts(times):
    """Sync attempts: fault uses closer than 0.3 s belong to one attempt (a failed call and
    the logout after it)."""
    out = []
    for t in times:
        if not out or t - out[-1][-1] > 0.3:
            out.append([t])
        else:
            out[-1].append(t)
    return [a[0] for a in out]


def fault_hits(sim, fid, total, timeout):
    """Times at which a fault with `total` uses was consumed, until it is used up."""
    times, last = [], total
    end = time.monotonic() + timeout
    while time.monotonic() < end and len(times) < total:
        left = {f["id"]: f["count"] for f in sim.faults()}.get(fid, 0)
        while last > left:
            times.append(time.monotonic())
            last -= 1
        time.sleep(0.02)
    return times


def t_read_ahead(env):
    """Kerio: while the engine stores a folder's last pages, the transport reads the folder it
    syncs next ahead (sync_next); the cache is the server's either way, and a fault met while
    reading ahead costs nothing but that read (the folder's own listing reads it again)."""
    def debug_log(op):
        with open(op.config) as f:
            text = f.read()
        with open(op.config, "w") as f:
            f.write(text.replace("log_level = info", "log_level = debug"))

    sim, op = setup(env, page_size=20)
    try:
        debug_log(op)
        p = op.sync_once()
        read = [int(m) for m in re.findall(r"read (\d+) page\(s\) of folder \S+ ahead", p.stderr)]
        log("read ahead: %s pages" % read)
        check(any(n > 0 for n in read), "folders were read ahead: %s" % read)
        compare(op.dump(), sim.state(), where="read ahead")
        check(sim.counters() == {}, "an initial sync writes nothing: %s" % sim.counters())
    finally:
        sim.stop()
    # Pages read ahead whose conversion the sink's pace cut short (here: at most 7 items of
    # each converted ahead): the folder's own listing converts the rest.
    sim, op = setup(Env(os.path.join(env.work, "partial")), page_size=20)
    os.environ["OUTPOST_KERIO_AHEAD_CONVERT"] = "7"
    try:
        debug_log(op)
        # every mail folder full, so that every converted mail is in the cache to be compared
        names = sorted({f["name"] for f in sim.state()["folders"] if KIND_OF_TYPE.get(f["type"]) == 1})
        with open(op.config, "a") as f:
            f.write("[policy]\n" + "".join("%s = full\n" % n for n in names))
        sim.reset_counters()
        p = op.sync_once()
        reads = sim.control("GET", "counters")["reads"]
        left = [int(m) for m in re.findall(r"ahead, (\d+) item\(s\) of them left to convert", p.stderr)]
        log("read ahead, items left to convert: %s" % left)
        check(any(n > 0 for n in left), "pages read ahead were left partly converted: %s" % left)
        dump = op.dump()
        compare(dump, sim.state(), where="read ahead, partly converted")
        bare = [i["remote_id"] for f in dump["folders"] if f["kind"] == 1 for i in f["items"]
                if i["remote_id"] and i["content_state"] != 2]
        check(not bare, "read ahead, partly converted: %d mail(s) without content %s" % (len(bare), bare[:3]))
        # each listed page's mail read once (a mail handed over unconverted would come back
        # without content, and be read again by the engine's content pass)
        check(reads.get("Mails.getById", 0) <= reads.get("Mails.get", 0),
              "read ahead, partly converted: %d Mails.getById calls for %d listing pages" % (
                  reads.get("Mails.getById", 0), reads.get("Mails.get", 0)))
    finally:
        del os.environ["OUTPOST_KERIO_AHEAD_CONVERT"]
        sim.stop()
    # A fault on each of the calls that read ahead, at several places in the sync: whichever
    # call it hits, a few runs of `sync --once` leave the cache equal to the server.
    for n, (method, skip) in enumerate((("Changes.getFolderSyncKey", 1), ("Changes.getFolderSyncKey", 3),
                                        ("Mails.getById", 4), ("Mails.getById", 9), ("Mails.get", 7))):
        env_n = Env(os.path.join(env.work, "fault%d" % n))
        sim, op = setup(env_n, page_size=20)
        try:
            debug_log(op)
            fid = sim.fault(kind="http500", method=method, skip=skip, count=1)
            runs = 0
            for runs in range(1, 6):
                if op.sync_once(ok=False).returncode == 0:
                    break
            del fid
            log("%s fault after %d call(s): %d run(s) of sync --once" % (method, skip, runs))
            check(runs < 5, "%s fault (skip %d): the sync completes" % (method, skip))
            compare(op.dump(), sim.state(), where="%s fault (skip %d)" % (method, skip))
        finally:
            sim.stop()


def t_faults(env):
    """Every fault mode of the simulator is survived with the right behaviour."""
    sim, op = setup(env)
    try:
        initial_sync(op)
        op.start()
        status_ok(op.sync(), "start")
        m = op.imap()
        uids = imap_uids(m, "INBOX")

        # TEMP: exponential backoff with jitter, then recovery without help.
        # Faults go to the sync cycle's first call (Folders.get), not "*": the Kerio
        # transport's push long-poll (Changes.get) runs on a connection of its own
        # and would take some of the hits, blurring the backoff timing measured here.
        # (EWS: no push connection, SyncFolderHierarchy opens each cycle.)
        first = SRV.pick("Folders.get", "SyncFolderHierarchy")
        fid = sim.fault(kind="http500", method=first, count=5)
        sim.control("POST", "items/create", {"type": "mail", "folder": "Inbox", "item": new_mail("after TEMP")})
        op.control("sync")
        hits = attempts(fault_hits(sim, fid, 5, 30))
        gaps = [round(b - a, 2) for a, b in zip(hits, hits[1:])][:3]
        log("TEMP: retries after %s s" % gaps)
        check(len(gaps) == 3 and gaps[0] >= 0.45 and gaps[1] >= 0.95 and gaps[2] >= 1.95,
              "TEMP retries back off exponentially (0.5-1, 1-2, 2-4 s): %s" % gaps)
        st = wait_for(lambda: (lambda s: s if s["online"] and not s["last_error"] else None)(op.status()),
                      20, "recovery after TEMP")
        m.select("INBOX", readonly=True)
        check(m.search(None, "SUBJECT", '"after TEMP"')[1][0], "the change made during TEMP arrived")

        # THROTTLED: the server's delay (3 s) is honoured although backoff would retry sooner.
        fid = sim.fault(kind="busy", method=first, count=3,
                        **SRV.pick({"retry_after_ms": 3000}, {"backoff_ms": 3000}))  # EWS: BackOffMilliseconds
        op.control("sync")
        hits = attempts(fault_hits(sim, fid, 3, 30))
        t_end = time.monotonic()
        wait_for(lambda: op.status()["online"], 20, "recovery after THROTTLED")
        gap = hits[1] - hits[0] if len(hits) >= 2 else 0
        after = time.monotonic() - hits[-1] if hits else 0
        log("THROTTLED: retry after %.2f s, recovered %.2f s after the last refusal" % (gap, after))
        check(gap >= 2.9, "THROTTLED retry waits for the server's retryAfterMs: %.2f s" % gap)
        del t_end

        # AUTH: syncing stops, front-ends keep serving, status says why.
        if SRV.name == "ews":  # Basic auth on every request: HTTP 401 is the refusal
            sim.fault(kind="http401", method="*", count=0)
        else:
            sim.fault(kind="error", method="Session.login", count=0, code=-32000,
                      message="Username or password is not correct.")
            sim.control("POST", "sessions/expire", {})
        st = op.sync()
        check(st["result"].lower() == "auth" and st["auth_failed"], "AUTH result and status: %r %r" % (st["result"], st["auth_failed"]))
        check("jdoe" in (st["last_error"] or "") and "secret" not in (st["last_error"] or ""),
              "status says whose login was refused (never the password): %r" % st["last_error"])
        m2 = op.imap()
        m2.select("INBOX", readonly=True)
        typ, data = m2.fetch("1", "(FLAGS BODY.PEEK[HEADER])")
        check(typ == "OK", "IMAP serves while AUTH failed")
        m2.logout()
        p = op.run("status")
        check("login refused" in p.stdout.splitlines()[0], "outpost status shows the AUTH failure: %s" % p.stdout[:300])
        sim.clear_faults()
        status_ok(op.sync(), "after AUTH is fixed")
        check(not op.status()["auth_failed"], "auth_failed cleared")

        # The password changed on disk and the daemon told by SIGHUP, as outpost status advises:
        # a wrong one is refused, the right one logs in again (a transport instance that kept
        # the password its refused login read would never log in again until a restart).
        pwfile = os.path.join(op.dir, "password")

        def reload_with(secret):
            with open(pwfile, "w") as f:
                f.write(secret + "\n")
            n = open(op.log_path).read().count("configuration reloaded")
            op.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: open(op.log_path).read().count("configuration reloaded") > n, 20, "SIGHUP reload")
        reload_with("not-the-password")
        st = op.sync()
        check(st["result"].lower() == "auth" and st["auth_failed"], "a wrong password after SIGHUP: %r" % st["result"])
        reload_with("secret")
        status_ok(op.sync(), "the right password after SIGHUP")
        check(not op.status()["auth_failed"], "auth_failed cleared by the right password")

        # BAD_DATA on replay: dead letter shown by status and audit, the queue goes on.
        m.select("INBOX")
        sim.fault(**SRV.pick(dict(kind="error", method="Mails.set", count=1, code=1003, message="Not permitted by the test."),
                             dict(kind="error", method="UpdateItem", count=1, code="ErrorAccessDenied")))
        refusal = SRV.pick("Not permitted", "ErrorAccessDenied")
        imap_ok(m.uid("STORE", str(uids[0]), "+FLAGS", "(\\Flagged)"), "STORE 1")
        imap_ok(m.uid("STORE", str(uids[1]), "+FLAGS", "(\\Flagged)"), "STORE 2")
        st = op.sync()
        status_ok(st, "after a dead letter")
        check(st["journal"]["dead"] == 1, "status counts the dead letter: %s" % st["journal"])
        dead = [e for e in op.audit() if e["state"] == "dead"]
        check(len(dead) == 1 and refusal in (dead[0]["message"] or ""), "audit shows the dead letter: %s" % dead)
        dead_rids = {e["remote_id"] for e in dead if e.get("remote_id")}
        p = op.run("audit")
        check("dead" in p.stdout, "outpost audit lists the dead letter")

        # A reply that cannot be read is not a rejection: retried, the duplicate check decides.
        sim.reset_counters()
        sim.fault(kind="malformed", method=SRV.pick("Mails.create", "CreateItem"), count=1)
        sim.fault(kind="drop", method=SRV.pick("Mails.move", "MoveItem"), count=1)
        imap_ok(m.append("INBOX", None, None, test_message("unreadable-reply@outpost.test", "Unreadable reply")), "APPEND")
        imap_ok(m.uid("MOVE", str(uids[2]), "Archive"), "MOVE")
        st = sync_until_replayed(op)
        status_ok(st, "after unreadable replies")
        state = sim.state(content=False)
        check(len(server_mails_with(state, "unreadable-reply@outpost.test")) == 1,
              "a create whose reply was lost is on the server once")
        c = sim.counters()
        check(c.get(SRV.pick("Mails.create", "item.create")) == 1 and c.get(SRV.pick("Mails.move", "item.move")) == 1,
              "no write repeated after an unreadable reply: %s" % c)
        check(st["journal"]["dead"] == 1, "unreadable replies are not dead letters: %s" % st["journal"])

        # A folder create whose reply was lost: the retry finds the name taken on the server
        # and the local folder becomes that server folder (no twin, no conflict); a message
        # saved into it meanwhile reaches the server once.
        sim.fault(kind="drop", method=SRV.pick("Folders.create", "CreateFolder"), count=1)
        imap_ok(m.create("Lost-reply"), "CREATE")
        imap_ok(m.append("Lost-reply", None, None, test_message("in-lost-reply@outpost.test", "In Lost-reply")),
                "APPEND into the folder")
        st = sync_until_replayed(op)
        status_ok(st, "after a lost folder create reply")
        state = sim.state(content=False)
        twins = [f for f in state["folders"] if f.get("path", "").startswith("Lost-reply")]
        check(len(twins) == 1, "the folder is on the server once: %s" % [f.get("path") for f in twins])
        check(len(server_mails_with(state, "in-lost-reply@outpost.test")) == 1, "the message in it arrived once")
        check(st["journal"]["dead"] == 1 and st["journal"]["conflict"] == 0,
              "a lost create reply is neither a dead letter nor a conflict: %s" % st["journal"])

        # STATE_INVALID: full resync of the folder, keeping every pending local edit.
        sim.control("POST", "items/create", {"type": "mail", "folder": "Inbox", "item": new_mail("before resync")})
        sim.control("POST", "items/remove", {"id": sim_folder(sim.state(content=False), "Inbox")["items"][-1]["id"]})
        sim.control("POST", "journal/truncate", {})
        sim.fault(kind="delay", method=SRV.pick("Mails.get", "GetItem"), count=1, delay_ms=2000)
        import threading
        res = {}
        th = threading.Thread(target=lambda: res.setdefault("st", op.sync()))
        th.start()
        time.sleep(0.7)
        m.select("INBOX")
        imap_ok(m.uid("STORE", str(uids[3]), "+FLAGS", "(\\Flagged \\Seen)"), "STORE during resync")
        imap_ok(m.append("INBOX", None, None, test_message("during-resync@outpost.test", "During resync")), "APPEND during resync")
        th.join(120)
        status_ok(op.sync(), "after the resync")
        check("listing the folder again" in op.log_text(), "the folder was listed again")
        state = sim.state(content=False)
        check(len(server_mails_with(state, "during-resync@outpost.test")) == 1, "an edit made during the resync arrived once")
        m.logout()
        op.stop()
        dump = op.dump()
        compare(dump, sim.state(), where="after faults", flags_apart=dead_rids)
        mine = [i for i in folder_by_path(dump, "Inbox")["items"] if i["subject"] == "Appended during resync"]
        inbox_server = {i["id"]: i for i in sim_folder(state, "Inbox")["items"]}
        flagged = [i for i in folder_by_path(dump, "Inbox")["items"] if i["uid"] == uids[3]]
        check(not flagged or (flagged[0]["flags"] & 5) == 5, "the flags set during the resync stayed")
        if flagged:
            srv = inbox_server.get(flagged[0]["remote_id"], {})
            check(srv.get("isFlagged") and srv.get("isSeen"), "the flags set during the resync reached the server")
        del mine

        # A server that stops answering does not hold up SIGTERM: a sync call and a body a
        # client asked for (a summary-only mail of a headers folder) both wait for replies
        # the server delays by 15 s; the daemon answers the client and exits at once.
        op.start()
        m = op.imap()
        typ, data = m.select("Archive", readonly=True)
        check(typ == "OK" and int(data[0]) > 0, "Archive has mail: %r" % data)
        delay = dict(kind="delay", count=0, delay_ms=15000)
        sim.fault(method=first, **delay)
        sim.fault(method=SRV.pick("Mails.getById", "GetItem"), **delay)
        import threading
        got = {}

        def fetch_body():
            try:
                got["reply"] = m.fetch("1", "(BODY.PEEK[])")
            except Exception as ex:  # BYE or a closed connection: what shutdown may give
                got["reply"] = repr(ex)

        def sync_cycle():
            try:
                op.control("sync", timeout=60)
            except Exception:
                pass

        threads = [threading.Thread(target=fetch_body), threading.Thread(target=sync_cycle)]
        for th in threads:
            th.start()
        time.sleep(1.5)
        t0 = time.monotonic()
        op.proc.send_signal(signal.SIGTERM)
        try:
            rc = op.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            rc = "timeout"
        took = time.monotonic() - t0
        op.proc = None
        for th in threads:
            th.join(30)
        log("stop with a hung server: %.2f s, the client got %.120s" % (took, got.get("reply")))
        check(rc == 0 and took < 5, "outpostd stops within 5 s while the server hangs: exit %r after %.1f s" % (rc, took))
        check("reply" in got, "the client waiting for a body was answered before the daemon exited")
        sim.clear_faults()
    finally:
        op.kill()
        sim.stop()


def t_daemon(env):
    """A running daemon told of a new password by SIGHUP serves bodies a client asks for with
    it (the fetch worker's transport is re-created too, not only the sync one); and its
    integrity check (`outpost check` through the control socket) waits for the transactions
    of the fetch worker and the front-ends instead of failing inside one. The cache keeps
    the identity of its account and refuses to sync another one into it."""
    sim, op = setup(env)
    try:
        initial_sync(op)
        news = folder_by_path(op.dump(content=False), "Inbox/Newsletters")
        summary = sorted(i["uid"] for i in news["items"] if i["content_state"] == 1)
        check(len(summary) >= 6, "Inbox/Newsletters (policy headers) holds summary-only mails: %r" % summary)
        pwfile = os.path.join(op.dir, "password")
        with open(pwfile, "w") as f:
            f.write("not-the-password\n")
        op.start()
        st = op.sync()
        check(st["result"].lower() == "auth" and st["auth_failed"], "a wrong password at start: %r" % st["result"])
        m = op.imap()
        imap_ok(m.select("INBOX/Newsletters", readonly=True), "SELECT INBOX/Newsletters")
        typ, data = m.uid("FETCH", str(summary[0]), "(BODY.PEEK[])")
        check(typ != "OK" or b"Subject" not in b"".join(d[1] for d in data if isinstance(d, tuple)),
              "no body while the password is wrong: %r" % typ)

        # The password fixed in a new file the reloaded config names, and SIGHUP: the old
        # configuration (and its file) would still give the fetch worker the wrong one.
        with open(pwfile + "2", "w") as f:
            f.write("secret\n")
        os.chmod(pwfile + "2", 0o600)
        text = open(op.config).read()
        with open(op.config, "w") as f:
            f.write(text.replace("password_file = %s\n" % pwfile, "password_file = %s2\n" % pwfile))
        n = op.log_text().count("configuration reloaded")
        op.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: op.log_text().count("configuration reloaded") > n, 20, "SIGHUP reload")
        data = imap_ok(m.uid("FETCH", str(summary[1]), "(BODY.PEEK[])"), "FETCH a body after SIGHUP")
        body = b"".join(d[1] for d in data if isinstance(d, tuple))
        check(len(body) > 100 and b"\r\n\r\n" in body, "the body fetched with the reloaded password: %r" % body[:200])
        status_ok(op.sync(), "a sync after SIGHUP")
        # its threads carry names for top -H, ps -L, perf and gdb (Linux)
        if sys.platform.startswith("linux"):
            names = set()
            for tid in os.listdir("/proc/%d/task" % op.proc.pid):
                try:
                    with open("/proc/%d/task/%s/comm" % (op.proc.pid, tid)) as f:
                        names.add(f.read().strip())
                except OSError:
                    pass  # a thread that ended meanwhile
            want = {"outpost-control", "outpost-fetch", "outpost-signal", "imap-accept", "imap-subs",
                    "imap-session", "sq-checkpoint"}
            check(want <= names, "named threads: %s missing from %s" % (sorted(want - names), sorted(names)))
        m.logout()

        # `check` requests while the fetch worker stores bodies and a client changes flags:
        # each waits for the writer's transactions, none fails inside one.
        import threading
        stop = threading.Event()
        done = {"stores": 0, "fetches": 0}

        def flags():
            c = op.imap()
            c.select("INBOX")
            uid = imap_uids(c, "INBOX")[0]
            for i in range(4000):
                if stop.is_set():
                    break
                c.uid("STORE", str(uid), "+FLAGS" if i % 2 == 0 else "-FLAGS", "(\\Flagged)")
                done["stores"] += 1
            c.logout()

        def bodies():
            c = op.imap()
            c.select("INBOX/Newsletters", readonly=True)
            for uid in summary[2:]:
                if stop.is_set():
                    break
                c.uid("FETCH", str(uid), "(BODY.PEEK[])")
                done["fetches"] += 1
            c.logout()

        threads = [threading.Thread(target=flags), threading.Thread(target=bodies)]
        for th in threads:
            th.start()
        replies = []
        t_end = time.monotonic() + 8
        while time.monotonic() < t_end and len(replies) < 200:
            replies.append(op.control("check", timeout=60))
        stop.set()
        for th in threads:
            th.join(60)
        bad = [r for r in replies if "ok" not in r]
        log("check under load: %d checks, %d STOREs, %d body fetches" % (len(replies), done["stores"], done["fetches"]))
        check(replies and not bad, "every check of the running daemon passed: %r" % bad[:3])
        p = op.run("check")
        check("checked by the running daemon" in p.stdout, "outpost check asked the daemon: %s" % p.stdout)

        # Signals that keep coming while the daemon stops (an impatient user, systemd's
        # stop then kill): the signal thread must never touch the engine the stop is freeing
        # (a use after free that ASan and ThreadSanitizer catch). SIGTERM and SIGHUP every
        # millisecond from the first SIGTERM until the process is gone; it exits 0.
        sent = 0
        t_end = time.monotonic() + 60
        while op.proc.poll() is None and time.monotonic() < t_end:
            try:
                op.proc.send_signal(signal.SIGHUP if sent % 3 == 2 else signal.SIGTERM)
            except ProcessLookupError:
                break
            sent += 1
            time.sleep(0.001)
        rc = op.proc.wait(timeout=30)
        op.proc = None
        log("stop under a signal storm: %d signals, exit %r" % (sent, rc))
        check(rc == 0, "outpostd exits 0 while SIGTERM and SIGHUP keep coming: %r (log %s)" % (rc, op.log_path))

        # The cache belongs to the account of its first sync: a config naming another user
        # is refused before anything is replayed or fetched; the same user written in
        # other case is the same account; adopt_cache lets a sync through and records the
        # identity only once the login succeeded.
        text = open(op.config).read()

        def with_user(u, extra=""):
            with open(op.config, "w") as f:
                f.write(re.sub(r"(?m)^user = jdoe$", "user = %s%s" % (u, extra), text))
        with_user("someone.else")
        sim.reset_counters()
        p = op.run("sync", "--once", ok=False)
        out = p.stdout + p.stderr
        check(p.returncode == 1 and "belongs to another account" in out and "data_dir" in out and "adopt_cache" in out,
              "another account is refused: exit %d: %s" % (p.returncode, out[-1500:]))
        check(sim.counters() == {}, "nothing reached the server for another account: %s" % sim.counters())
        with_user("JDoe")
        p = op.run("sync", "--once", ok=False)
        check("belongs to another account" not in p.stdout + p.stderr, "the user compares case-insensitively")
        with_user("someone.else", "\nadopt_cache = true")
        p = op.run("sync", "--once", ok=False)
        out = p.stdout + p.stderr
        check("belongs to another account" not in out and "adopt_cache = true" in out,
              "adopt_cache lets the sync try: %s" % out[-1500:])
        with_user("jdoe")
        p = op.run("sync", "--once", ok=False)
        check(p.returncode == 0, "a refused login under adopt_cache recorded nothing: %s" % (p.stdout + p.stderr)[-1500:])
    finally:
        op.kill()
        sim.stop()


# ---- crash loops ------------------------------------------------------------------------------

def sync_until_replayed(op, timeout=60):
    """Sync cycles on the running daemon until no edit is pending (or timeout s); the last status."""
    deadline = time.monotonic() + timeout
    while True:
        st = op.sync()
        if st["journal"]["pending"] == 0 or time.monotonic() > deadline:
            return st
        time.sleep(0.3)


def crash_loops():
    return int(os.environ.get("OUTPOST_SYNC_CRASH_LOOPS") or os.environ.get("OUTPOST_CRASH_LOOPS") or 20)


def all_remote_ids_unique(dump, where):
    seen = {}
    for f in dump["folders"]:
        for i in f["items"]:
            if i["remote_id"]:
                check(i["remote_id"] not in seen, "%s: %s in %s and %s" % (where, i["remote_id"], seen.get(i["remote_id"]), f["path"]))
                seen[i["remote_id"]] = f["path"]


def crash_random():
    """The kill timing's random source; its seed is logged so that a failing run can be
    repeated with OUTPOST_SEED."""
    seed = int(os.environ.get("OUTPOST_SEED", "0")) or random.SystemRandom().randrange(1, 2**31)
    log("kill timing seed %d (OUTPOST_SEED)" % seed)
    return random.Random(seed)


def t_crash_initial(env):
    """outpostd is killed with SIGKILL at random moments during the initial sync; afterwards
    the cache equals the server exactly, nothing duplicated."""
    loops = crash_loops()
    rnd = crash_random()
    sim, op = setup(env, counts={"messages": 600, "events": 40, "contacts": 40, "tasks": 20, "notes": 20},
                    page_size=25)
    try:
        sim.fault(kind="delay", method="*", count=0, delay_ms=15)  # a slower server: kills land mid-sync
        for n in range(loops):
            op.start(wait_ready=False)
            time.sleep(rnd.uniform(0.1, 1.5))
            op.kill()
        log("%d kills during the initial sync" % loops)
        sim.clear_faults()
        p = op.run("check", ok=False)
        check(p.returncode == 0, "the cache is intact after %d kills: %s" % (loops, p.stdout + p.stderr))
        initial_sync(op, "sync after the kills")
        dump = op.dump()
        compare(dump, sim.state(), where="after %d kills" % loops)
        all_remote_ids_unique(dump, "after kills")
        check(sim.counters() == {}, "an initial sync writes nothing: %s" % sim.counters())
    finally:
        op.kill()
        sim.stop()


def t_crash_replay(env):
    """200 local edits (IMAP and store API) are replayed while outpostd is killed with SIGKILL
    at random moments; afterwards cache and server are equal and no create, copy, move or
    folder edit reached the server twice."""
    loops = crash_loops()
    rnd = crash_random()
    sim, op = setup(env, counts={"messages": 300, "events": 20, "contacts": 20, "tasks": 10, "notes": 8})
    try:
        initial_sync(op)
        dump = op.dump()
        # PIM edits through the store API (updates and deletes), made while no daemon runs
        pim = 0
        for kind, path, iface, field in PIM:
            items = folder_by_path(dump, path)["items"]
            for it in items[:2]:
                op.edit("update", it["id"], write_tmp(env, "u%d" % it["id"], retitle(it["content"], kind, "Crash edit %d" % it["id"])))
                pim += 1
            op.edit("remove", items[-1]["id"])
            pim += 1
        # mail edits through IMAP while the server is unreachable, so they queue up
        # (EWS: no "offline" fault; connections closed before any reply do the same)
        sim.fault(kind=SRV.pick("offline", "drop_before"), count=0)
        op.start()
        m = op.imap()
        uids = imap_uids(m, "INBOX")
        want = {"Mails.create": 0, "Mails.copy": 0, "Mails.move": 0, "Folders.create": 0}
        if SRV.name == "ews":  # an expunge is MoveToDeletedItems (item.trash), so is each PIM remove
            want["Mails.trash"] = len(PIM)
        edits = pim
        mids = []
        flagged_before = 0
        for u in uids[:100]:
            typ, data = m.uid("FETCH", str(u), "(FLAGS)")
            flagged_before += b"\\Flagged" in data[0]
            imap_ok(m.uid("STORE", str(u), "+FLAGS", "(\\Flagged)"), "STORE")
            edits += 1
        for u in uids[100:115]:
            imap_ok(m.uid("MOVE", str(u), "Archive"), "MOVE")
            want["Mails.move"] += 1
            edits += 1
        for u in uids[115:125]:
            imap_ok(m.uid("COPY", str(u), "\"Sent Items\""), "COPY")
            want["Mails.copy"] += 1
            edits += 1
        for u in uids[125:133]:
            imap_ok(m.uid("STORE", str(u), "+FLAGS", "(\\Deleted)"), "STORE +Deleted")
            edits += 1
        imap_ok(m.expunge(), "EXPUNGE")
        want[SRV.pick("Mails.move", "Mails.trash")] += 8
        edits += 8
        for k in range(4):
            imap_ok(m.create("Crash-%d" % k), "CREATE")
            want["Folders.create"] += 1
            edits += 1
            mid = "crash-folder-%d@outpost.test" % k
            imap_ok(m.append("Crash-%d" % k, None, None, test_message(mid, "Crash folder %d" % k)), "APPEND")
            mids.append(mid)
            want["Mails.create"] += 1
            edits += 1
        while edits < 200:
            mid = "crash-%d@outpost.test" % edits
            imap_ok(m.append("INBOX", None, None, test_message(mid, "Crash append %d" % edits)), "APPEND")
            mids.append(mid)
            want["Mails.create"] += 1
            edits += 1
        m.logout()
        st = op.status()
        check(st["journal"]["pending"] >= 190, "the edits are queued: %s" % st["journal"])
        op.kill()
        sim.clear_faults()
        sim.reset_counters()
        sim.fault(kind="delay", method="*", count=0, delay_ms=10)
        for n in range(loops):
            op.start(wait_ready=False)
            time.sleep(rnd.uniform(0.1, 1.2))
            op.kill()
        sim.clear_faults()
        log("%d kills during the replay of %d edits" % (loops, edits))
        op.start()
        deadline = time.monotonic() + 120
        while True:
            st = op.sync()
            if st["journal"]["pending"] == 0 or time.monotonic() > deadline:
                break
        status_ok(st, "after the kills")
        status_ok(op.sync(), "one more cycle")
        op.stop()
        c = sim.counters()
        if SRV.name == "ews":
            want = {EWS_COUNTER[k]: v for k, v in want.items()}
        for k, v in want.items():
            check(c.get(k, 0) == v, "%s written %d times for %d edits (counters %s)" % (k, c.get(k, 0), v, c))
        flag_edits = 100 - flagged_before  # STORE on a flagged message changes nothing
        flags = SRV.pick("Mails.set", "item.flags")
        check(flag_edits <= c.get(flags, 0) <= flag_edits + loops,
              "%s items %r for %d flag edits (each kill may repeat one)" % (flags, c.get(flags), flag_edits))
        state = sim.state()
        for mid in mids:
            got = server_mails_with(state, mid)
            check(len(got) == 1, "%s is on the server once: %s" % (mid, [p for p, _ in got]))
        dump = op.dump()
        compare(dump, state, where="after kills during replay")
        all_remote_ids_unique(dump, "after kills during replay")
        no_pending(dump, "after kills during replay")
        bad = unconfirmed(dump)
        check(not bad, "every edit confirmed, none dead or in conflict: %s" % bad[:10])
    finally:
        op.kill()
        sim.stop()


def t_policy(env):
    """Per-folder policy changed at any time, without a resync: `outpost policy` writes
    [policy] and a running daemon reloads it; headers -> full downloads the missing bodies,
    full -> headers keeps what is cached; UIDs stay, nothing is written to the server."""
    sim, op = setup(env)
    try:
        initial_sync(op)
        before = op.dump(content=False)
        news = folder_by_path(before, "Inbox/Newsletters")
        check(news["items"], "Inbox/Newsletters has items")
        check(all(i["content_state"] != 2 for i in news["items"]),
              "Inbox/Newsletters (default policy headers) has no body before the change")
        listed = op.run("policy", "--json")
        pol = {f["path"]: f for f in json.loads(listed.stdout)}
        check(pol["Inbox/Newsletters"]["policy"] == "headers" and pol["Inbox/Newsletters"]["source"] == "default",
              "policy list: %r" % pol.get("Inbox/Newsletters"))
        check(pol["Inbox"]["policy"] == "full", "Inbox is full by default: %r" % pol.get("Inbox"))
        op.start()
        out = op.run("policy", "Newsletters", "full").stdout
        check("reloads" in out, "a running daemon is told to reload: %r" % out)
        op.sync()
        op.stop()
        after = op.dump()
        news2 = folder_by_path(after, "Inbox/Newsletters")
        check(all(i["content_state"] == 2 for i in news2["items"]), "headers -> full fetched every body")
        # each body replaced the header block kept under headers, byte for byte
        check(all(len(i["content"].encode()) == i["size"] for i in news2["items"] if i.get("content") is not None),
              "headers -> full: every body is as long as its size: %r" %
              [(i["uid"], i["size"], len((i.get("content") or "").encode())) for i in news2["items"]])
        compare(after, sim.state(), where="after headers -> full")
        uid_of = lambda f: sorted((i["remote_id"], i["uid"]) for i in f["items"])
        check(uid_of(news2) == uid_of(news) and news2["uidvalidity"] == news["uidvalidity"],
              "the policy change kept UIDs and UIDVALIDITY (no resync)")
        op.start()
        op.run("policy", "Inbox", "headers")
        op.sync()
        pol = {f["path"]: f for f in json.loads(op.run("policy", "--json").stdout)}
        check(pol["Inbox"]["policy"] == "headers" and pol["Inbox"]["source"] == "config", "policy list after: %r" % pol["Inbox"])
        op.stop()
        inbox = folder_by_path(op.dump(content=False), "Inbox")
        check(all(i["content_state"] == 2 for i in inbox["items"]), "full -> headers kept the cached bodies")
        check(sim.counters() == {}, "policy changes write nothing to the server: %s" % sim.counters())
    finally:
        op.kill()
        sim.stop()


def t_unreadable(env):
    """A mail whose content the server refuses for good (Kerio: its attachment's download
    answers 1002, the attachment is gone) stays in the cache without content and is asked
    for again on a schedule, not after every sync: cycles started by a server change leave
    it alone (no download, no new warning), a client opening it and `outpost sync` ask at
    once (the client gets NO [UNAVAILABLE], not an empty body), `outpost status` counts it,
    and once the server gives it the content is stored and the count is 0. (The schedule
    itself, an hour and then daily: unit_policy.)"""
    sim, op = setup(env)
    try:
        initial_sync(op)
        state = sim.state(content=False)
        src = next((i for f in state["folders"] if f.get("path") == "Archive" for i in f["items"]
                    if i.get("attachments")), None) or \
            next((i for f in state["folders"] if f.get("type") == "FMail" and f.get("path") != "Inbox"
                  for i in f["items"] if i.get("attachments")), None)
        check(src is not None, "the generated account has a mail with an attachment outside the Inbox")
        if src is None:
            return
        op.start()
        fid = sim.fault(kind="error", method="download", code=1002, message="Attachment not found.", count=1000)

        def downloads():
            return 1000 - {f["id"]: f["count"] for f in sim.faults()}.get(fid, 0)

        def warnings():
            return op.log_text().count("cannot be read from the server")

        copy = sim.control("POST", "items/copy", {"id": src["id"], "folder": "Inbox"})["id"]
        st = op.sync()
        status_ok(st, "the mail with a gone attachment")
        check(st.get("unreadable_content") == 1, "status counts 1 unreadable item: %r" % st.get("unreadable_content"))
        inbox_st = next(f for f in st["folders"] if f["path"] == "Inbox")
        check(inbox_st.get("unreadable_content") == 1, "the Inbox has it: %r" % inbox_st)
        # listed once (the listing hands it over without content), fetched once after its folder's
        # sync; when the daemon's own cycle for the copy (the push connection saw it) came before the
        # explicit one, `outpost sync` then asked once more, at once, as it does for such an item
        base = downloads()
        check(base in (2, 3), "one sync downloads the attachment twice (listing, fetch), and an explicit "
              "sync after a cycle of the daemon's once more: %d" % base)
        check(warnings() == 1, "one warning: %d" % warnings())
        text = op.run("status").stdout
        check("content: 1 item whose content the server refuses" in text, "outpost status says so: %r" % text[:600])

        # cycles the daemon starts itself (a server change, through the push connection)
        for n in range(2):
            before = {f["path"]: f["last_sync_ms"] for f in op.status()["folders"] if f.get("last_sync_ms")}
            sim.control("POST", "items/create", {"type": "mail", "folder": "Archive",
                                                 "item": {"subject": "Trigger %d" % n, "body": "A change.\n"}})
            wait_for(lambda: all((f.get("last_sync_ms") or 0) > before.get(f["path"], 0)
                                 for f in op.status()["folders"] if f["path"] in before),
                     60, "a cycle after server change %d" % n)
        check(downloads() == base, "cycles before the next try ask nothing: %d downloads" % (downloads() - base))
        check(warnings() == 1, "no new warning: %d" % warnings())

        # a client opens it: asked for at once (the IMAP answer says it is unavailable)
        m = op.imap()
        imap_ok(m.select("INBOX"), "SELECT INBOX")
        typ, d = m.uid("SEARCH", None, "ALL")
        uid = max(int(x) for x in d[0].split())
        typ, d = m.uid("FETCH", str(uid), "(FLAGS ENVELOPE)")
        check(typ == "OK" and b"ENVELOPE" in b" ".join(x if isinstance(x, bytes) else x[0] for x in d if x),
              "the mail's envelope is served: %r" % d)
        typ, d = m.uid("FETCH", str(uid), "(BODY.PEEK[])")
        check(typ == "NO" and b"UNAVAILABLE" in b" ".join(x for x in d if isinstance(x, bytes)),
              "FETCH BODY[] of the unreadable mail answers NO [UNAVAILABLE], not an empty body: %s %r" % (typ, d[:2]))
        m.logout()
        check(downloads() == base + 1, "a client opening it asks the server: %d downloads" % (downloads() - base))
        check(warnings() == 1, "asked before its schedule: no new warning: %d" % warnings())

        # `outpost sync` asks at once too
        st = op.sync()
        status_ok(st, "outpost sync with the attachment still gone")
        check(downloads() == base + 2, "outpost sync asks the server: %d downloads" % (downloads() - base - 1))
        check(st.get("unreadable_content") == 1, "still counted: %r" % st.get("unreadable_content"))
        check(warnings() == 1, "no new warning: %d" % warnings())

        # the server gives it again
        sim.clear_faults()
        st = op.sync()
        status_ok(st, "outpost sync with the attachment back")
        check(st.get("unreadable_content") == 0, "nothing unreadable left: %r" % st.get("unreadable_content"))
        check("could be read from the server after 1 failed tries" in op.log_text(), "the recovery is logged")
        op.stop()
        dump = op.dump()
        got = [i for f in dump["folders"] for i in f["items"] if i["remote_id"] == copy]
        check(len(got) == 1 and got[0]["content_state"] == 2 and got[0].get("content"),
              "the mail's content is cached now: %r" % [(i["uid"], i["content_state"]) for i in got])
        compare(dump, sim.state(), where="after the attachment came back")
    finally:
        op.kill()
        sim.stop()


def t_unrenderable(env):
    """EWS: a mail the server cannot render as MIME (GetItem answers that item
    ErrorMimeContentConversionFailed, as Exchange does for some meeting messages) stays in the
    client's view with the properties the server gives (subject, sender), without content:
    `outpost status` counts it, a client opening it gets NO [UNAVAILABLE] rather than an
    empty body, and once the server renders it the content is stored."""
    if SRV.name != "ews":
        log("unrenderable: EWS only")
        return
    sim, op = setup(env)
    try:
        initial_sync(op)
        op.start()
        made = sim.control("POST", "items/create", {"type": "mail", "folder": "Inbox", "item": {
            "subject": "Unrenderable invitation", "from": {"name": "Ann Organizer", "email": "ann@example.com"},
            "to": [{"name": "Doe, John", "email": "john@example.com"}, {"email": "bob@example.org"}],
            "cc": [{"name": "Carol", "email": "carol@example.net"}],
            "messageId": "<unrenderable-1@example.com>",
            "body": "Meet me.\n",
            "mimeUnconvertible": True}})
        st = op.sync()
        status_ok(st, "a mail the server cannot render")
        check(st.get("unreadable_content") == 1, "status counts 1 unreadable item: %r" % st.get("unreadable_content"))
        check("handed over without content: GetItem answered ErrorMimeContentConversionFailed" in op.log_text(),
              "the transport names the mail and the code")
        m = op.imap()
        imap_ok(m.select("INBOX"), "SELECT INBOX")
        typ, d = m.uid("SEARCH", None, "SUBJECT", '"Unrenderable invitation"')
        uids = d[0].split() if typ == "OK" and d and d[0] else []
        check(len(uids) == 1, "the mail is in the client's view of the Inbox: %r" % d)
        if uids:
            uid = uids[0].decode()
            typ, d = m.uid("FETCH", uid, "(ENVELOPE)")
            env_text = b" ".join(x if isinstance(x, bytes) else x[0] for x in d if x)
            # the ENVELOPE the core built from the properties GetItem gave without MimeContent
            # (Subject, From, ToRecipients, CcRecipients, DateTimeSent, InternetMessageId)
            ann = b'(("Ann Organizer" NIL "ann" "example.com"))'
            m_env = re.search(rb'ENVELOPE \(("[^"]*") "Unrenderable invitation" (.*) NIL NIL "<unrenderable-1@example.com>"\)',
                              env_text)
            check(typ == "OK" and m_env, "its envelope from the item's properties: %r" % d)
            if m_env:
                check(re.match(rb'"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000"$', m_env.group(1)),
                      "an RFC 5322 date: %r" % m_env.group(1))
                check(m_env.group(2) == b" ".join([ann, ann, ann,
                                                    b'(("Doe, John" NIL "john" "example.com")(NIL NIL "bob" "example.org"))',
                                                    b'(("Carol" NIL "carol" "example.net"))']),
                      "From (as Sender, Reply-To), To, Cc: %r" % m_env.group(2))
            typ, d = m.uid("FETCH", uid, "(BODY.PEEK[])")
            check(typ == "NO" and b"UNAVAILABLE" in b" ".join(x for x in d if isinstance(x, bytes)),
                  "FETCH BODY[] answers NO [UNAVAILABLE], not an empty body: %s %r" % (typ, d[:2]))
        m.logout()
        # the server renders it again
        sim.control("POST", "items/set", {"id": made["id"], "item": {"mimeUnconvertible": False}})
        st = op.sync()
        status_ok(st, "the mail rendered again")
        check(st.get("unreadable_content") == 0, "nothing unreadable left: %r" % st.get("unreadable_content"))
        # its ENVELOPE is now the MIME's; where that says something else than the properties did
        # (here the unquoted "Doe, John" the simulator writes into To:), under a new UID, the one
        # clients were shown expunged (they keep an envelope by UID)
        m = op.imap()
        imap_ok(m.select("INBOX"), "SELECT INBOX")
        typ, d = m.uid("SEARCH", None, "SUBJECT", '"Unrenderable invitation"')
        now = d[0].split() if typ == "OK" and d and d[0] else []
        check(len(now) == 1, "one mail after the rendering: %r" % d)
        if now and uids:
            typ, d = m.uid("FETCH", now[0].decode(), "(ENVELOPE)")
            env2 = b" ".join(x if isinstance(x, bytes) else x[0] for x in d if x)
            check(b'"Unrenderable invitation"' in env2 and b'"<unrenderable-1@example.com>"' in env2 and
                  b'(NIL NIL "Doe" "MISSING_DOMAIN")("John" NIL "john" "example.com")' in env2,
                  "the envelope of the rendered mail is the MIME's: %r" % d)
            check(now[0] != uids[0], "a new UID for a mail whose envelope said something else: %r %r" % (uids, now))
            typ, d = m.uid("FETCH", uids[0].decode(), "(UID)")
            check(typ == "OK" and d == [None], "the UID clients were shown is expunged: %r" % d)
        m.logout()
        op.stop()
        dump = op.dump()
        got = [i for f in dump["folders"] for i in f["items"] if i.get("subject") == "Unrenderable invitation"]
        check(len(got) == 1 and got[0]["content_state"] == 2 and got[0].get("content"),
              "the mail's content is cached now: %r" % [(i["uid"], i["content_state"]) for i in got])
    finally:
        op.kill()
        sim.stop()


def sqlite_module(what):
    """Python's sqlite3 module, for a test that `what` (edits the cache behind Outpost's back);
    exits 77 (skipped) when the cache is not SQLite."""
    if STORAGE != "sqlite":
        print("skipped: the test %s with the sqlite3 module" % what)
        sys.exit(77)
    import sqlite3
    return sqlite3


def t_repair(env):
    """A cache damaged on disk: one byte of a cached mail's stored (compressed) content is
    changed behind SQLite's back. `outpost check` names the mail; `outpost check --repair`
    drops that content; the next sync fetches it again, under the same UID, byte for byte."""
    sqlite3 = sqlite_module("damages the cache")
    sim, op = setup(env)
    try:
        initial_sync(op)
        p = op.run("check", "--repair")
        check("repair:  nothing to repair" in p.stdout and "storage: ok" in p.stdout,
              "check --repair on a sound cache: %r" % p.stdout)
        before = op.dump()
        inbox = folder_by_path(before, "Inbox")
        victim = [i for i in inbox["items"] if i["content_state"] == 2 and i["size"] > 2000][0]
        # a mail written here and not sent yet (its content is the only copy): damaged too
        body = test_message("local-only@outpost.test", "Written here", "Not on the server yet. " * 200)
        # (in a subfolder: the repair names it by its path)
        sub = folder_by_path(before, "Inbox/Newsletters")
        local_id = int(op.edit("append", sub["id"], write_tmp(env, "local.eml", body.decode())).stdout.strip())
        db = sqlite3.connect(os.path.join(op.data, "cache.sqlite"))
        for item in (victim["id"], local_id):
            rows = db.execute("SELECT rowid, data FROM content WHERE item_id=? AND codec=1 ORDER BY off",
                              (item,)).fetchall()
            check(rows, "item %d has a compressed content row" % item)
            rowid, data = rows[0]
            data = bytearray(data)
            data[len(data) // 2] ^= 0x5A
            db.execute("UPDATE content SET data=? WHERE rowid=?", (bytes(data), rowid))
        db.commit()
        db.close()
        # a client reading it gets the body as NIL and a tagged NO [CORRUPTION] (RFC 5530),
        # its connection goes on, and the daemon's log says why and what to do
        op.start()
        m = op.imap()
        m.select("INBOX", readonly=True)
        other = [i for i in inbox["items"] if i["content_state"] == 2 and i["id"] != victim["id"]][0]
        for section in ("BODY.PEEK[]", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]", "BODY.PEEK[1]"):
            typ, data = m.uid("FETCH", "%d,%d" % (victim["uid"], other["uid"]), "(%s)" % section)
            check(typ == "NO" and b"[CORRUPTION]" in data[-1],
                  "FETCH %s of the damaged mail answers NO [CORRUPTION]: %r %r" % (section, typ, data))
            data = m.untagged_responses.pop("FETCH", [])  # imaplib keeps them aside after a NO
            got = {}
            for d in data:
                if isinstance(d, tuple):
                    got[int(re.search(rb"UID (\d+)", d[0]).group(1))] = d[1]
                elif d and b"UID %d" % victim["uid"] in d:
                    got[victim["uid"]] = None if d.rstrip().endswith(b"NIL)") else d
            check(victim["uid"] in got and got[victim["uid"]] is None, "the damaged body is sent as NIL: %r" % data)
            if section == "BODY.PEEK[]":
                check(got.get(other["uid"]) is not None and len(got[other["uid"]]) == other["size"],
                      "the other mail of the same FETCH comes whole: %r" % data)
        typ, _ = m.noop()
        check(typ == "OK", "the connection goes on after the damaged body")
        m.logout()
        op.stop()
        logged = [l for l in op.log_text().splitlines() if "reading the content of item %d:" % victim["id"] in l]
        check(logged and "check --repair" in logged[0], "the daemon logs the damaged content and the remedy: %r" % logged)
        p = op.run("check", ok=False)
        where = "UID %d in Inbox" % victim["uid"]
        check(p.returncode != 0 and where in p.stderr, "check names the damaged mail: %r %r" % (p.stdout, p.stderr))
        p = op.run("check", "--repair", ok=False)
        check("2 damaged: 1 dropped" in p.stdout and "UID %d" % victim["uid"] in p.stdout,
              "check --repair drops the server's mail: %r" % p.stdout)
        check("damaged: Inbox/Newsletters UID" in p.stdout and "only this cache has it" in p.stdout and
              "1 kept" in p.stdout,
              "check --repair keeps the local-only mail and says so: %r" % p.stdout)
        check(p.returncode != 0, "the check still fails on the damaged local mail: %r" % p.stderr)
        mid = folder_by_path(op.dump(content=False), "Inbox")
        dropped = [i for i in mid["items"] if i["id"] == victim["id"]]
        check(dropped and dropped[0]["content_state"] != 2, "the damaged body is no longer cached: %r" % dropped)
        initial_sync(op, "sync after the repair")
        after = op.dump()
        again = [i for i in folder_by_path(after, "Inbox")["items"] if i["remote_id"] == victim["remote_id"]]
        check(len(again) == 1 and again[0]["uid"] == victim["uid"] and again[0]["content_state"] == 2 and
              again[0]["content"] == victim["content"], "refetched under the same UID, the same bytes")
        # the damaged local mail cannot be sent: a dead letter saying why; the sync went on
        audit = json.loads(op.run("audit", "--json").stdout)["entries"]
        dead = [j for j in audit if j["state"] == "dead"]
        check(len(dead) == 1 and "damaged" in (dead[0]["message"] or ""),
              "the damaged local mail is a dead letter saying why: %r" % audit)
        check(not server_mails_with(sim.state(content=False), "local-only@outpost.test"),
              "nothing of the damaged mail reached the server")
    finally:
        op.kill()
        sim.stop()


def t_stale_summary(env):
    """Summary-only mails (headers policy) as clients read them: the header block is cached,
    so listings by header fields and header searches need no server; bodies are fetched in
    batches; and a mail whose fetched content is not what its summary said (an older Outpost
    converted it differently, or the server regenerated its MIME) takes a new UID, so what a
    client cached under the old UID (RFC822.SIZE, BODYSTRUCTURE) never changes."""
    sqlite3 = sqlite_module("rewrites the cache")
    sim, op = setup(env)
    try:
        initial_sync(op)
        news = folder_by_path(op.dump(content=False), "Inbox/Newsletters")
        summary = [i for i in news["items"] if i["content_state"] == 1]
        check(len(summary) >= 3, "Inbox/Newsletters holds summary-only mails: %r" % news["items"])
        victim, other, old = summary[0], summary[1], summary[2]
        db = sqlite3.connect(os.path.join(op.data, "cache.sqlite"))
        # the summary an older converter left: another size than the content will have
        db.execute("UPDATE item SET size=size+17 WHERE id=?", (victim["id"],))
        # a mail cached before header blocks were kept: nothing of its content
        db.execute("DELETE FROM content WHERE item_id=?", (old["id"],))
        db.execute("UPDATE item SET cached_size=0 WHERE id=?", (old["id"],))
        db.commit()
        db.close()
        op.start()
        op.sync()  # the daemon's own sync at start is over: only the reads below count
        m = op.imap()
        imap_ok(m.select("INBOX/Newsletters"), "SELECT INBOX/Newsletters")
        old_uid = victim["uid"]

        def reads():
            r = sim.control("GET", "counters")["reads"]
            sim.control("POST", "counters/reset", {})
            return r.get("Mails.getById", 0)

        # a client's folder listing: sizes and header fields, from the cache
        sim.control("POST", "counters/reset", {})
        uids = [i["uid"] for i in summary if i is not old]
        data = imap_ok(m.uid("FETCH", ",".join(map(str, uids)),
                             "(RFC822.SIZE BODY.PEEK[HEADER.FIELDS (Subject Message-ID)] RFC822.HEADER)"),
                       "FETCH header fields")
        got, u = {}, None
        for d in data:
            if isinstance(d, tuple):
                hit = re.search(rb"UID (\d+)", d[0])
                u = int(hit.group(1)) if hit else u  # a second literal continues the same response
                got.setdefault(u, []).append(d[1])
        check(sorted(got) == sorted(uids) and all(len(v) == 2 and b"message-id:" in v[0].lower() and
                                                   v[1].endswith(b"\r\n\r\n") for v in got.values()),
              "header fields and RFC822.HEADER of every summary-only mail: %r" % got)
        check(reads() == 0, "header fields of summary-only mails are served without the server")
        data = imap_ok(m.uid("FETCH", str(old_uid), "(RFC822.SIZE)"), "FETCH RFC822.SIZE")
        check(("RFC822.SIZE %d" % (victim["size"] + 17)).encode() in data[0],
              "the client is shown the stored summary's size: %r" % data)
        data = imap_ok(m.uid("SEARCH", None, "HEADER", "X-Outpost-Absent", "nothing"), "SEARCH HEADER")
        check(data[0].split() == [], "SEARCH HEADER X-Outpost-Absent finds nothing: %r" % data)
        check(reads() == 1, "SEARCH on a header field: the mail without a cached header block is "
                            "fetched, the others are answered from their header blocks")
        # SEARCH BODY: the index holds no body of a summary-only mail, so its bodies are
        # fetched (in calls of up to 50 mails, not one each) and searched
        srv = next(i for f in sim.state()["folders"] for i in f["items"] if i["id"] == other["remote_id"])
        text = " ".join(p.get("content") or "" for p in srv.get("displayableParts") or [])
        known = " ".join([other.get("subject") or "", other.get("from") or "", other.get("to") or ""]).lower()
        word = next((w for w in re.findall(r"[A-Za-z]{6,}", text) if w.lower() not in known), None)
        check(word is not None, "a body word of %s: %r" % (other["remote_id"], text[:200]))
        if word:
            data = imap_ok(m.uid("SEARCH", None, "BODY", word), "SEARCH BODY")
            found = [int(x) for x in data[0].split()]
            check(other["uid"] in found, "SEARCH BODY %s finds the summary-only mail %d: %r" % (word, other["uid"], found))
        n = sum(1 for i in news["items"] if i["content_state"] == 1) - 1
        calls = reads()
        check(1 <= calls <= (n + 49) // 50 + 1, "SEARCH BODY: %d bodies fetched in %d Mails.getById calls" % (n, calls))
        # the bodies are cached now: FETCH serves them without the server
        data = imap_ok(m.uid("FETCH", "1:*", "(RFC822.SIZE BODY.PEEK[])"), "FETCH 1:* BODY[]")
        check(reads() == 0, "FETCH 1:* BODY[] after the SEARCH needs no server")
        bodies = {}
        for d in data:
            if isinstance(d, tuple):
                u = int(re.search(rb"UID (\d+)", d[0]).group(1))
                size = int(re.search(rb"RFC822.SIZE (\d+)", d[0]).group(1))
                bodies[u] = (size, len(d[1]))
        check(old_uid not in bodies,
              "the old UID answers with no bytes that contradict its size: %r" % bodies.get(old_uid))
        # (the new UID is listed too: the SEARCH announced it)
        check(len(bodies) >= len(news["items"]) - 1 and all(a == b for a, b in bodies.values()),
              "every other mail is served whole, its size its body's length: %r" % bodies)
        typ, data = m.uid("SEARCH", None, "UID", str(old_uid))
        check(typ == "OK" and data[0].split() == [], "the old UID is expunged: %r" % data)
        mid = victim["message_id"]
        data = imap_ok(m.uid("SEARCH", None, "HEADER", "Message-ID", mid), "SEARCH by Message-ID")
        new_uids = [int(x) for x in data[0].split()]
        check(len(new_uids) == 1 and new_uids[0] > old_uid, "the mail is there once, under a new UID: %r" % new_uids)
        if new_uids:
            data = imap_ok(m.uid("FETCH", str(new_uids[0]), "(RFC822.SIZE BODY.PEEK[])"), "FETCH the new UID")
            # (unsolicited FLAGS of other mails would come first)
            got = [d for d in data if isinstance(d, tuple) and b"UID %d " % new_uids[0] in d[0]]
            check(len(got) == 1, "FETCH of the new UID: %r" % data)
            if got:
                size = int(re.search(rb"RFC822.SIZE (\d+)", got[0][0]).group(1))
                check(size == len(got[0][1]), "the new UID's size is its body's length: %d vs %d" % (size, len(got[0][1])))
            # the mails whose bodies arrived had right summaries: their MODSEQ (and so their
            # FLAGS, which did not change) are not re-announced
            check(not [d for d in data if isinstance(d, bytes) and b"FLAGS" in d and b"UID %d " % new_uids[0] not in d],
                  "no FLAGS re-announced for mails whose content arrived: %r" % data)
        # a mail whose summary was right kept its UID
        data = imap_ok(m.uid("FETCH", str(other["uid"]), "(RFC822.SIZE BODY.PEEK[])"), "FETCH a matching mail")
        got = [d for d in data if isinstance(d, tuple) and b"UID %d " % other["uid"] in d[0]]
        check(len(got) == 1 and len(got[0][1]) == other["size"],
              "a mail whose summary matches is served under its UID: %r" % [d[0] if isinstance(d, tuple) else d for d in data])
        m.logout()
        op.stop()
        c = op.run("check", ok=False)
        check(c.returncode == 0, "the cache passes its integrity check: %s" % c.stderr[-400:])
        check(sim.counters() == {}, "nothing is written to the server: %s" % sim.counters())
    finally:
        op.kill()
        sim.stop()


def t_diskfull(env):
    """The cache's disk fills up (a small tmpfs in a private mount namespace): the initial
    sync stops with a clear "disk full" error and the cache stays consistent; a client's
    APPEND on a full disk gets NO with the reason while the daemon keeps serving; once space
    is freed everything completes and the cache equals the server, each edit once."""
    if os.geteuid() != 0 or os.environ.get("OUTPOST_PRIVATE_MOUNTS") != "1":
        print("skipped: needs root inside `unshare -m` (OUTPOST_PRIVATE_MOUNTS=1)")
        sys.exit(77)
    sim, op = setup(env, page_size=20)
    mounted = False
    try:
        os.makedirs(op.data, mode=0o700, exist_ok=True)
        # room for the empty cache and part of the account (Firebird's empty file is 3.7 MB)
        size = {"sqlite": "3m", "firebird": "6m"}[STORAGE]
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % size, "outpost-diskfull", op.data],
                       check=True, timeout=30)
        mounted = True
        p = op.sync_once(ok=False)
        said = (p.stdout + p.stderr).lower()
        check(p.returncode != 0, "a sync into a full disk fails")
        check("disk full" in said or "no space" in said, "it says the disk is full: %r" % said[-600:])
        # Space comes back (Firebird cannot even attach to a full disk: it writes on attach).
        subprocess.run(["mount", "-o", "remount,size=256m", op.data], check=True, timeout=30)
        c = op.run("check", ok=False)
        check(c.returncode == 0, "the cache passes its integrity check after a full disk: %s" % c.stderr[-400:])
        part = op.dump(content=False)
        n = sum(len(f["items"]) for f in part["folders"])
        log("disk full after %d items" % n)
        check(n > 0, "pages committed before the disk filled up are kept")
        all_remote_ids_unique(part, "after a full disk")
        initial_sync(op, "sync after space was freed")
        compare(op.dump(), sim.state(), where="after the disk was freed")

        # A client edit on a full disk: NO with the reason, nothing half-written.
        op.start()
        filler = os.path.join(op.data, "filler")
        subprocess.run(["dd", "if=/dev/zero", "of=" + filler, "bs=64k"], capture_output=True, timeout=60)
        m = op.imap()
        # An engine may still have free pages inside its file: append until the disk says no.
        mids, typ, data = [], "OK", None
        for k in range(40):
            mid = "full-%d@outpost.test" % k
            # an attachment-like body: base64 of random bytes, which no engine's
            # record compression shrinks (Firebird stores a run of "x" in a few bytes)
            body = base64.encodebytes(random.Random(k).randbytes(300000)).decode().replace("\n", "\r\n")
            typ, data = m.append("INBOX", None, None, test_message(mid, "On a full disk", body))
            if typ != "OK":
                break
            mids.append(mid)
        check(typ == "NO", "APPEND on a full disk is refused: %s %r" % (typ, data))
        check(data and b"full" in data[0].lower(), "the NO says the disk is full: %r" % data)
        m.select("INBOX", readonly=True)
        typ, data = m.fetch("1", "(BODY.PEEK[HEADER])")
        check(typ == "OK", "the daemon still serves reads on a full disk")
        m.logout()
        os.unlink(filler)
        m = op.imap()
        mids.append("freed@outpost.test")
        imap_ok(m.append("INBOX", None, None, test_message(mids[-1], "After the disk was freed")),
                "APPEND after space was freed")
        m.logout()
        st = op.sync()
        status_ok(st, "replay after the disk was freed")
        op.stop()
        state = sim.state()
        for mid in mids:
            check(len(server_mails_with(state, mid)) == 1, "%s reached the server once" % mid)
        n = len(mids)
        expect_counters(sim.counters(), SRV.pick({"Mails.create": n}, {"item.create": n}), "after the full disk")
        dump = op.dump()
        compare(dump, state, where="after the full disk")
        no_pending(dump, "after the full disk")
    finally:
        op.kill()
        sim.stop()
        if mounted:
            subprocess.run(["umount", "-l", op.data], timeout=30)


GROUPS = {
    "initial": t_initial,
    "server_changes": t_server_changes,
    "imap_edits": t_imap_edits,
    "pim_edits": t_pim_edits,
    "conflicts": t_conflicts,
    "offline": t_offline,
    "offline_sequences": t_offline_sequences,
    "faults": t_faults,
    "read_ahead": t_read_ahead,
    "daemon": t_daemon,
    "crash_initial": t_crash_initial,
    "crash_replay": t_crash_replay,
    "policy": t_policy,
    "stale_summary": t_stale_summary,
    "unreadable": t_unreadable,
    "unrenderable": t_unrenderable,
    "repair": t_repair,
    "diskfull": t_diskfull,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("group", choices=sorted(GROUPS))
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--server", choices=("kerio", "ews"), default="kerio")
    ap.add_argument("--storage", choices=("sqlite", "firebird"), default="sqlite")
    a = ap.parse_args()
    global SRV, STORAGE
    STORAGE = a.storage
    SRV = Ews() if a.server == "ews" else Kerio()
    env = Env(a.workdir)
    t0 = time.monotonic()
    try:
        GROUPS[a.group](env)
    except AssertionError as e:
        import traceback
        traceback.print_exc()
        check(False, str(e))
    log("%s: %d failure(s) in %.1fs" % (a.group, len(FAILS), time.monotonic() - t0))
    if FAILS:
        for f in FAILS[:50]:
            print("  -", f)
        outpost_log = os.path.join(env.work, "outpost", "outpostd.log")
        if os.path.exists(outpost_log):
            print("---- last lines of outpostd.log ----")
            print("".join(open(outpost_log, errors="replace").readlines()[-40:]))
        sys.exit(1)
    shutil.rmtree(env.work, ignore_errors=True)


if __name__ == "__main__":
    main()
