#!/usr/bin/env python3
"""tests/mapi/wine_sync.py: the Wine harness on a cache synced from the Kerio simulator, and its
edits back on the server (the last phase of run_wine_mapi.sh; ctest mapi_wine64, labels mapi;windows).

1. The Kerio simulator (outpost-sim-kerio, certificates from tests/sim/common/gen-certs.sh) serves a
   small generated account; `outpost sync --once` fills a fresh cache from it.
2. outpostd starts on that cache with the MAPI front-end. The plan names messages of the server's
   Inbox with a subject found there once; mapi_harness.exe (sync mode) runs under Wine, opens the
   store through the provider DLL, checks the Inbox's row count, reads a body, and makes the edits:
   mark read, follow-up flag, move to Archive, delete, an edit of a received message (subject and
   body: the message is replaced), a new draft in Drafts, a new contact, a new appointment.
3. The daemon syncs: the simulator's write counters (/_sim/counters) must show each edit exactly
   once and nothing else; its state dump, compared with the one taken before, must differ by
   exactly those edits. A restart and another cycle write nothing more. Then the cache (cache_dump)
   is compared with the server as tests/sync/test_sync.py does.

usage: wine_sync.py --workdir DIR --wine WINE --harness EXE --dll DLL
Environment: as test_sync.py (OUTPOST_BIN, OUTPOST_SIM, OUTPOST_GEN_CERTS, OUTPOST_PLUGIN_DIR,
OUTPOST_CACHE_DUMP, OUTPOST_STORE_EDIT), plus the Wine environment (WINEPREFIX...) from
run_wine_mapi.sh. 127.0.0.1 and ephemeral ports only; every wait is bounded.
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sync"))
import test_sync as ts  # noqa: E402  (the simulator, outpostd and cache comparison helpers)

check = ts.check
COUNTS = {"messages": 40, "events": 6, "contacts": 6, "tasks": 3, "notes": 2}
# The server writes the edits make, each once: read and flag are a Mails.set each; move and delete
# (to Deleted Items, [account] delete = trash) a Mails.move each; the draft (saved read, as
# Outlook saves one) a Mails.create and, because Kerio's Mails.create may ignore flags, the Kerio
# transport's Mails.set of its flags; the contact and the appointment one create each. The edited
# message is replaced: one Mails.create of the new version (plus a Mails.set when it has flags to
# set, see want_counters) and one Mails.remove of the old one (permanent: not a move to the trash).
WANT = {"Mails.set": 3, "Mails.move": 2, "Mails.create": 2, "Mails.remove": 1, "Contacts.create": 1,
        "Events.create": 1}
# What a server write changes besides the edited fields.
BOOKKEEPING = ("modifiedDate", "watermark")
TAG = "Wine harness"


def winpath(p):
    return "Z:" + os.path.abspath(p).replace("/", "\\")


class MapiOutpost(ts.Outpost):
    """outpostd with the MAPI front-end on an ephemeral loopback port instead of IMAP."""

    def write_config(self):
        with open(self.config, "w") as f:
            f.write("[core]\ndata_dir = {data}\nplugin_dir = {plugins}\nlog_level = info\nsync_interval = 3600\n"
                    "frontends = mapi\n[storage]\nplugin = sqlite\n[account]\n{account}timeout = 10\n"
                    "[mapi]\nlisten = 127.0.0.1:0\ndisplay_name = Outpost (Wine, synced)\n".format(
                        data=self.data, plugins=self.env.plugins,
                        account=ts.SRV.account(self.sim.port, self.dir, self.env.certs)))
        os.chmod(self.config, 0o600)

    def start(self, wait_ready=True):
        start = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        logf = open(self.log_path, "a")
        self.proc = subprocess.Popen([self.env.outpostd, "--config", self.config], stdout=logf, stderr=logf,
                                     stdin=subprocess.DEVNULL)
        logf.close()

        def port():
            if self.proc.poll() is not None:
                raise AssertionError("outpostd exited %s (log %s)" % (self.proc.returncode, self.log_path))
            with open(self.log_path, errors="replace") as f:
                f.seek(start)
                m = re.search(r"mapi: listening on 127\.0\.0\.1:(\d+)", f.read())
            return m and os.path.exists(os.path.join(self.data, "control.sock")) and int(m.group(1))
        self.mapi_port = ts.wait_for(port, 30, "outpostd's MAPI front-end to listen")
        return self


def unique_subjects(items):
    seen = {}
    for i in items:
        seen[i.get("subject")] = seen.get(i.get("subject"), 0) + 1
    return [i for i in items if i.get("subject") and seen[i["subject"]] == 1 and
            not re.search(r"[\t\r\n]", i["subject"])]


def make_plan(state):
    inbox = unique_subjects(ts.items_of(state, "Inbox"))
    unread = [i for i in inbox if not i.get("isSeen") and not i.get("isFlagged")]
    if not unread:
        raise AssertionError("the generated Inbox has no unread, unflagged message with a unique subject")
    read = unread[0]
    rest = [i for i in inbox if i is not read and not i.get("isFlagged")]
    # the edit: a message without attachments (whose upload would be one more server write)
    editable = [i for i in rest[3:] if not i.get("hasAttachment")]
    if len(rest) < 3 or not editable:
        raise AssertionError("the generated Inbox has too few messages with unique subjects")
    plan = {"read": read, "flag": rest[0], "move": rest[1], "delete": rest[2], "edit": editable[0],
            "edited": TAG + " edited \u2014 " + editable[0]["subject"],
            "draft": TAG + " draft \u2014 \u00fcbermorgen",
            "contact": "Wenzel Wine\u00e9",
            "event": TAG + " appointment \u263a"}
    lines = ["inbox\t%d" % len(ts.items_of(state, "Inbox"))]
    for verb in ("read", "flag", "move", "delete", "edit", "draft", "contact", "event"):
        v = plan[verb]
        lines.append("%s\t%s" % (verb, v["subject"] if isinstance(v, dict) else v))
        if verb == "edit":
            lines[-1] += "\t" + plan["edited"]
    return plan, "\n".join(lines) + "\n"


def want_counters(plan):
    """WANT, plus the Kerio transport's Mails.set of the edited message's flags after its create."""
    want = dict(WANT)
    if any(plan["edit"].get(k) for k in ("isSeen", "isAnswered", "isFlagged", "isForwarded", "isJunk")):
        want["Mails.set"] += 1
    return want


def by_id(items):
    return {i["id"]: i for i in items}


def check_state(before, after, plan):
    """The server's state after the sync is the state before with exactly the plan's edits."""
    bf = {f["path"]: f for f in before["folders"] if f.get("type") != "FRoot"}
    af = {f["path"]: f for f in after["folders"] if f.get("type") != "FRoot"}
    check(sorted(bf) == sorted(af), "the server's folders are unchanged: %s vs %s" % (sorted(bf), sorted(af)))
    added_want = {"Inbox": ("subject", plan["edited"]),
                  "Archive": ("subject", plan["move"]["subject"]),
                  "Deleted Items": ("subject", plan["delete"]["subject"]),
                  "Drafts": ("subject", plan["draft"]),
                  "Contacts": ("commonName", plan["contact"]),
                  "Calendar": ("summary", plan["event"])}
    gone_want = {plan["move"]["id"], plan["delete"]["id"], plan["edit"]["id"]}
    changed_want = {plan["read"]["id"]: {"isSeen": True}, plan["flag"]["id"]: {"isFlagged": True}}
    for path in sorted(set(bf) & set(af)):
        b, a = by_id(bf[path]["items"]), by_id(af[path]["items"])
        gone = set(b) - set(a)
        added = [a[i] for i in set(a) - set(b)]
        want_gone = gone_want & set(b) if path == "Inbox" else set()
        check(gone == want_gone, "%s: items gone on the server %s, expected %s" % (path, sorted(gone), sorted(want_gone)))
        if path in added_want:
            key, value = added_want[path]
            check(len(added) == 1 and added[0].get(key) == value,
                  "%s: one new item with %s %r on the server: %s" % (path, key, value,
                                                                   [i.get(key) for i in added]))
        else:
            check(not added, "%s: unexpected new items on the server: %s" % (path, [i.get("subject") for i in added]))
        for iid in set(a) & set(b):
            want = dict(b[iid], **changed_want.get(iid, {}))
            diff = sorted(k for k in set(want) | set(a[iid]) if want.get(k) != a[iid].get(k) and
                          not (iid in changed_want and k in BOOKKEEPING))
            check(not diff, "%s %s: the server's item differs from the expected in %s" % (path, iid, diff))
    new = {path: [i for i in af[path]["items"] if i.get(key) == value]
           for path, (key, value) in added_want.items() if path in af}
    # a moved message (to Archive, or to Deleted Items by the delete) is the same message there
    for path, verb in (("Archive", "move"), ("Deleted Items", "delete")):
        for moved in new.get(path, [])[:1]:
            diff = sorted(k for k in set(moved) | set(plan[verb]) if moved.get(k) != plan[verb].get(k) and
                          k not in ("id", "folderId") + BOOKKEEPING)
            check(not diff, "%s: the message the %s put there differs from the Inbox's in %s" % (path, verb, diff))
    # the edited message: the new version has the edited subject and body, the rest as it was
    for ed in new.get("Inbox", [])[:1]:
        check((ed.get("from"), ed.get("to"), ed.get("isSeen"), ed.get("isFlagged")) ==
              (plan["edit"].get("from"), plan["edit"].get("to"), plan["edit"].get("isSeen"),
               plan["edit"].get("isFlagged")),
              "the edited message's sender, recipients and flags on the server: %r" %
              ((ed.get("from"), ed.get("to"), ed.get("isSeen"), ed.get("isFlagged")),))
    for ev in new.get("Calendar", [])[:1]:
        check((ev.get("start"), ev.get("end"), ev.get("location")) ==
              ("20250616T140000Z", "20250616T150000Z", "Wine room"),
              "the appointment's start, end and location on the server: %r" %
              ((ev.get("start"), ev.get("end"), ev.get("location")),))
    for ct in new.get("Contacts", [])[:1]:
        check((ct.get("firstName"), ct.get("surName")) == tuple(plan["contact"].split(" ", 1)),
              "the contact's given name and surname on the server: %r" % ((ct.get("firstName"), ct.get("surName")),))
    new_mail = new.get("Drafts", [])
    if new_mail:
        check(new_mail[0].get("isDraft") and new_mail[0].get("isSeen"),
              "the saved draft is a read draft on the server: isDraft %r, isSeen %r" %
              (new_mail[0].get("isDraft"), new_mail[0].get("isSeen")))


def run_harness(args, op, plan_text):
    plan_file = os.path.join(args.workdir, "plan.txt")
    with open(plan_file, "w", encoding="utf-8", newline="\n") as f:
        f.write(plan_text)
    t0 = time.monotonic()
    secret = os.path.join(op.data, "mapi.secret")
    try:
        p = subprocess.run([args.wine, args.harness, args.dll, "127.0.0.1:%d" % op.mapi_port, winpath(secret), "sync",
                            winpath(plan_file)], capture_output=True, timeout=120)
        out, rc = p.stdout.decode("utf-8", "replace").replace("\r", ""), p.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.stdout or b"").decode("utf-8", "replace").replace("\r", ""), "timeout"
    print(out, end="", flush=True)
    last = out.strip().splitlines()[-1] if out.strip() else ""
    check(rc == 0 and re.fullmatch(r"[1-9][0-9]* passed, 0 failed", last),
          "mapi_harness (sync mode) exited %r, last line %r" % (rc, last))
    ts.log("the Wine harness made its edits in %.1fs" % (time.monotonic() - t0))


def sync_until_replayed(op, where):
    deadline = time.monotonic() + 60
    while True:
        st = op.control("sync", timeout=60)
        if st.get("journal", {}).get("pending") == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    ts.status_ok(st, where)
    return st


def on_term(signum, frame):
    raise KeyboardInterrupt("SIGTERM")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--wine", required=True)
    ap.add_argument("--harness", required=True)
    ap.add_argument("--dll", required=True, help="the provider DLL as a Windows path")
    args = ap.parse_args()
    # run_wine_mapi.sh bounds this script with timeout(1): on SIGTERM the
    # simulator and outpostd this script started are stopped too.
    signal.signal(signal.SIGTERM, on_term)
    t0 = time.monotonic()
    env = ts.Env(args.workdir)
    sim = ts.Sim(env, COUNTS).start()
    op = MapiOutpost(env, sim)
    try:
        ts.initial_sync(op)
        before = sim.state(content=False)
        plan, plan_text = make_plan(before)
        op.start()
        sim.reset_counters()
        run_harness(args, op, plan_text)
        st = sync_until_replayed(op, "MAPI edits")
        check(st["journal"].get("conflict", 0) == 0, "no conflicts: %s" % st["journal"])
        ts.expect_counters(sim.counters(), want_counters(plan), "MAPI edits")
        check_state(before, sim.state(content=False), plan)
        # a restart and another cycle: nothing is sent twice
        op.stop()
        op.start()
        sync_until_replayed(op, "after a restart")
        ts.expect_counters(sim.counters(), want_counters(plan), "after a restart and another cycle")
        op.stop()
        dump = op.dump()
        ts.compare(dump, sim.state(), where="after MAPI edits")
        ts.no_pending(dump, "after MAPI edits")
        bad = [(e["op"], e["state"], e["message"]) for e in dump["journal"] if e["state"] != "confirmed"]
        check(not bad, "every MAPI edit confirmed: %s" % bad)
    except (AssertionError, KeyboardInterrupt) as e:
        check(False, "%s: %s" % (type(e).__name__, e))
    finally:
        op.kill()
        sim.stop()
    ts.log("wine_sync: %d failure(s) in %.1fs" % (len(ts.FAILS), time.monotonic() - t0))
    if ts.FAILS:
        for f in ts.FAILS[:50]:
            print("  -", f)
        if os.path.exists(op.log_path):
            print("---- last lines of outpostd.log ----")
            print("".join(open(op.log_path, errors="replace").readlines()[-40:]))
        sys.exit(1)
    shutil.rmtree(env.work, ignore_errors=True)


if __name__ == "__main__":
    main()
