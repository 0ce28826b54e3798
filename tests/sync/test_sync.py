#!/usr/bin/env python3
"""Sync acceptance tests (ctest label `sync`): outpostd against the Kerio simulator.

Local edits are made the way users make them: mail through the IMAP front-end of a running
outpostd (python imaplib), calendar/contact/task/note edits through the core's journaled store
API (store_edit). The cache, read through the core (cache_dump), is compared with the
simulator's state dump (/_sim/state) for every folder and item of every kind; the simulator's
mutation counters (/_sim/counters) prove that every local edit reached the server exactly once.

usage: test_sync.py GROUP --workdir DIR      (GROUP: see GROUPS at the end)
Environment: OUTPOST_BIN, OUTPOST_SIM, OUTPOST_GEN_CERTS, OUTPOST_PLUGIN_DIR, OUTPOST_CACHE_DUMP,
OUTPOST_STORE_EDIT (set by CMake); OUTPOST_SYNC_CRASH_LOOPS / OUTPOST_CRASH_LOOPS (crash loop
counts, default 20). Standard library only; 127.0.0.1 and ephemeral ports only; every wait is
bounded.
"""

import argparse
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


# ---- the simulator ----------------------------------------------------------------------

class Sim:
    """outpost-sim-kerio with a state file, so it can be stopped and started on the same port."""

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
        return self.control("GET", "state" if content else "state?content=0")

    def counters(self):
        return self.control("GET", "counters")["items"]

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
plugin = sqlite

[account]
transport = kerio
url = https://127.0.0.1:{port}
user = jdoe
password_file = {dir}/password
ca_file = {certs}/ca.pem
timeout = 10

[imap]
listen = 127.0.0.1:0
port_file = {portfile}
user = tester
password_file = {dir}/imap-password
auth_failure_delay = 0
""".format(data=self.data, plugins=self.env.plugins, ps=self.page_size, extra=self.extra_core,
           port=self.sim.port, dir=self.dir, certs=self.env.certs, portfile=self.imap_port_file))
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


def compare(dump, state, content=True, where="", allow_pending=False):
    """Every server folder and item is in the cache once, with its flags and sane content; the
    cache has nothing with a remote id the server does not know. Returns the mismatch count."""
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
                check(ci["flags"] & SERVER_MAIL_FLAGS == mail_flags(si),
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


def conflicts_folder(dump):
    for f in dump["folders"]:
        if f["special_use"] == USE_CONFLICTS:
            return f
    raise AssertionError("no Conflicts folder in the cache")


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


def expect_counters(got, want, where):
    check(got == want, "%s: server write counters %s, expected %s" % (where, got, want))


def status_ok(st, where):
    check(st.get("result", "ok") == "ok", "%s: sync result %r, last error %r" % (where, st.get("result"),
                                                                                st.get("last_error")))
    j = st.get("journal", {})
    check(j.get("pending") == 0, "%s: %r journal entries still pending" % (where, j.get("pending")))


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
        self.sim = os.environ["OUTPOST_SIM"]
        self.plugins = os.environ["OUTPOST_PLUGIN_DIR"]
        self.cache_dump = os.environ["OUTPOST_CACHE_DUMP"]
        self.store_edit = os.environ["OUTPOST_STORE_EDIT"]
        self.certs = os.path.join(self.work, "pki")
        subprocess.run([os.environ["OUTPOST_GEN_CERTS"], self.certs], check=True, capture_output=True, timeout=120)


SMALL = {"messages": 150, "events": 20, "contacts": 20, "tasks": 10, "notes": 8}


def setup(env, counts=None, page_size=0, extra_core=""):
    sim = Sim(env, counts or SMALL).start()
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
    c("POST", "items/set", {"id": inbox[0]["id"], "item": {"isSeen": not inbox[0]["isSeen"], "isFlagged": True}})
    c("POST", "items/set", {"id": inbox[1]["id"], "item": {"isAnswered": True}})
    ids["moved"] = c("POST", "items/move", {"id": inbox[2]["id"], "folder": "Archive"})["id"]
    ids["moved_from"] = inbox[2]["id"]
    c("POST", "items/copy", {"id": inbox[3]["id"], "folder": "Archive"})
    c("POST", "items/remove", {"id": inbox[4]["id"]})
    for typ, path, item, edit in (
            ("event", "Calendar", {"summary": "Server event " + tag, "start": "20250610T090000Z",
                                   "end": "20250610T100000Z"}, {"summary": "Renamed on the server " + tag}),
            ("contact", "Contacts", {"commonName": "Server Contact " + tag, "firstName": "Server",
                                     "surName": "Contact " + tag}, {"commonName": "Edited Contact " + tag}),
            ("task", "Tasks", {"summary": "Server task " + tag, "due": "20250620T090000Z"},
             {"summary": "Edited task " + tag, "status": "tsCompleted"}),
            ("note", "Notes", {"text": "Server note " + tag, "color": "Yellow"}, {"text": "Edited note " + tag})):
        c("POST", "items/create", {"type": typ, "folder": path, "item": item})
        existing = items_of(state, path)
        c("POST", "items/set", {"id": existing[0]["id"], "item": edit})
        c("POST", "items/remove", {"id": existing[-1]["id"]})
    # the hierarchy: create with content, rename, re-parent, delete with content
    c("POST", "folders/create", {"parent": "Inbox", "name": "Server folder " + tag})
    c("POST", "items/create", {"type": "mail", "folder": "Inbox/Server folder " + tag, "item": new_mail("in folder " + tag)})
    c("POST", "folders/create", {"parent": "Contacts", "name": "Server contacts " + tag, "type": "FContact"})
    return ids


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


GROUPS = {
    "initial": t_initial,
    "server_changes": t_server_changes,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("group", choices=sorted(GROUPS))
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()
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
