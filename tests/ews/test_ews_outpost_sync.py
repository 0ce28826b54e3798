#!/usr/bin/env python3
"""End-to-end: `outpost sync --once` with the EWS transport against outpost-sim-ews. The cache's
per-folder counts (`outpost status --json`) must match the simulator's state dump after the
initial sync and again after server-side changes of every kind. Standard library only; every
wait is bounded.
Usage: test_ews_outpost_sync.py --outpost BIN --sim BIN --plugin-dir DIR --gen-certs SCRIPT --workdir DIR"""

import argparse
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import http.client

FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, flush=True)


def main():
    ap = argparse.ArgumentParser()
    for a in ("outpost", "sim", "plugin-dir", "gen-certs", "workdir"):
        ap.add_argument("--" + a, required=True)
    args = ap.parse_args()
    work = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(work, "data"))
    certs = os.path.join(work, "certs")
    subprocess.run(["sh", args.gen_certs, certs], check=True)
    sim = subprocess.Popen([args.sim, "--cert", os.path.join(certs, "server.pem"), "--key",
                            os.path.join(certs, "server.key"), "--quiet", "--messages", "120", "--events", "30",
                            "--contacts", "20", "--tasks", "10", "--notes", "5", "--seed", "11"],
                           stdout=subprocess.PIPE, text=True)
    try:
        line = sim.stdout.readline()
        if not line.startswith("READY "):
            raise SystemExit("simulator did not start: %r" % line)
        port = int(line.strip().rsplit(":", 1)[1])
        ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))

        def ctl(method, path, body=None):
            c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
            c.request(method, "/_sim/" + path, body=json.dumps(body) if body is not None else None)
            r = c.getresponse()
            d = json.loads(r.read())
            c.close()
            return d

        pw = os.path.join(work, "password")
        with open(pw, "w") as f:
            f.write("secret\n")
        os.chmod(pw, 0o600)
        cfg = os.path.join(work, "outpost.ini")
        with open(cfg, "w") as f:
            f.write("[core]\ndata_dir = %s\nplugin_dir = %s\n[storage]\nplugin = sqlite\n[account]\ntransport = ews\n"
                    "url = https://127.0.0.1:%d/EWS/Exchange.asmx\nuser = jdoe@example.com\npassword_file = %s\n"
                    "ca_file = %s\n" % (os.path.join(work, "data"), args.plugin_dir, port, pw,
                                        os.path.join(certs, "ca.pem")))

        def sync_and_compare(what):
            r = subprocess.run([args.outpost, "--config", cfg, "sync", "--once"], capture_output=True, text=True,
                               timeout=300)
            check(r.returncode == 0, "%s: outpost sync exit %d: %s" % (what, r.returncode, r.stderr[-2000:]))
            st = subprocess.run([args.outpost, "--config", cfg, "status", "--json"], capture_output=True, text=True,
                                timeout=60)
            local = {f["path"]: f for f in json.loads(st.stdout)["folders"]}
            server = ctl("GET", "state?content=0")
            for f in server["folders"]:
                if f["kind"] == "none":
                    continue
                l = local.get(f["path"])
                check(l is not None, "%s: folder %s in the cache" % (what, f["path"]))
                if l is None:
                    continue
                check(l["items"] == f["count"], "%s: %s has %d items, server %d" % (what, f["path"], l["items"], f["count"]))
                if f["kind"] == "mail":
                    check(l["unread"] == f["unread"], "%s: %s unread %d, server %d" % (what, f["path"], l["unread"], f["unread"]))
            server_paths = {f["path"] for f in server["folders"] if f["kind"] != "none"}
            extra = [p for p, l in local.items() if l["state"] != "local" and p not in server_paths]
            check(not extra, "%s: folders only in the cache: %s" % (what, extra))

        sync_and_compare("initial")
        state = ctl("GET", "state?content=0")
        items = {f["path"]: f["items"] for f in state["folders"]}
        ctl("POST", "items/create", {"folder": "Inbox", "item": {"subject": "Neue Nachricht"}})
        ctl("POST", "items/set", {"id": items["Inbox"][0]["id"], "read": not items["Inbox"][0]["flags"]["read"]})
        ctl("POST", "items/set", {"id": items["Inbox"][1]["id"], "flagged": True})
        ctl("POST", "items/move", {"id": items["Inbox"][2]["id"], "folder": "Inbox/Projekte"})
        ctl("POST", "items/remove", {"id": items["Calendar"][0]["id"]})
        ctl("POST", "items/set", {"id": items["Contacts"][0]["id"], "item": {"surname": "Geändert"}})
        ctl("POST", "items/create", {"type": "task", "item": {"subject": "Server task", "status": "InProgress"}})
        ctl("POST", "folders/create", {"parent": "Inbox", "name": "Neu angelegt"})
        ctl("POST", "folders/set", {"path": "Inbox/Projekte", "name": "Projekte 2"})
        ctl("POST", "folders/remove", {"path": "Calendar/Urlaub"})
        sync_and_compare("after server changes")
    finally:
        sim.send_signal(signal.SIGTERM)
        try:
            sim.wait(timeout=20)
        except subprocess.TimeoutExpired:
            sim.kill()
            sim.wait()
    if FAILS:
        print("%d check(s) failed" % len(FAILS))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
