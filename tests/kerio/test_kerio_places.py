#!/usr/bin/env python3
"""End to end through the core and the SQLite cache: with the simulator's --shared account,
`outpost sync --once` puts the public folders under "Public Folders" and the subscribed
folders of another user under "Other Users/<owner>", with their items; a folder unsubscribed
on the server disappears from the cache, with its items, on the next sync; the own mailbox is
unchanged. Loopback only, ephemeral ports, bounded waits.

usage: test_kerio_places.py OUTPOST-BINARY PLUGIN-DIR SIM-BINARY GEN-CERTS.sh"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request

from kerio_env import Sim, check, write_config

OUTPOST, PLUGIN_DIR, SIM, GEN_CERTS = sys.argv[1:5]


def main():
    tmp = tempfile.mkdtemp(prefix="outpost-kerio-places-")
    sim = None
    try:
        sim = Sim(SIM, GEN_CERTS, tmp, ["--messages", "6", "--events", "2", "--contacts", "2", "--tasks", "1",
                                        "--notes", "1", "--seed", "3", "--shared"])
        control = sim.control
        cfg, env = write_config(tmp, PLUGIN_DIR, sim)

        def sync():
            p = subprocess.run([OUTPOST, "--config", cfg, "sync", "--once"], capture_output=True, timeout=120, env=env)
            check(p.returncode == 0, "outpost sync --once failed: %s" % p.stderr.decode(errors="replace")[-2000:])

        def folders():
            p = subprocess.run([OUTPOST, "--config", cfg, "status", "--json"], capture_output=True, timeout=60,
                               env=env)
            check(p.returncode == 0, "outpost status failed: %s" % p.stderr.decode(errors="replace")[-2000:])
            return {f["path"]: f for f in json.loads(p.stdout)["folders"]}

        info = control("info")["folders"]
        sync()
        fs = folders()
        for path, sim_path in (("Public Folders/Announcements", "Public/Announcements"),
                               ("Public Folders/Team Board", "Public/Team Board"),
                               ("Other Users/Ann Smith/Inbox", "Ann Smith/Inbox"),
                               ("Other Users/Ann Smith/Projects", "Ann Smith/Projects")):
            check(path in fs, "%s not in the cache: %s" % (path, sorted(fs)))
            want = len(control("state?content=0&folder=" + urllib.request.quote(info[sim_path], safe=""))
                       ["folders"][0]["items"])
            check(want == 3 and fs[path].get("items") == want,
                  "%s: %s items in the cache, %d on the server" % (path, fs[path].get("items"), want))
        own = len(control("state?content=0&folder=Inbox")["folders"][0]["items"])
        check(fs["Inbox"].get("items") == own, "own Inbox: %s items, %d on the server" % (fs["Inbox"].get("items"), own))

        # A server change in a shared folder comes with the next sync, as in the own mailbox.
        control("items/create", {"type": "mail", "folderId": info["Ann Smith/Projects"],
                                 "item": {"subject": "new in a shared folder"}})
        sync()
        check(folders()["Other Users/Ann Smith/Projects"].get("items") == 4, "shared folder change not synced")

        # Unsubscribed on the server: gone from the cache with its items; the rest stays.
        control("folders/subscribe", {"id": info["Ann Smith/Projects"], "subscribed": False})
        sync()
        fs = folders()
        check("Other Users/Ann Smith/Projects" not in fs, "unsubscribed folder still cached: %s" % sorted(fs))
        check(fs.get("Other Users/Ann Smith/Inbox", {}).get("items") == 3, "still subscribed folder lost")
        check(fs.get("Public Folders/Announcements", {}).get("items") == 3, "public folder lost")
        check(fs["Inbox"].get("items") == own, "own Inbox changed")
        print("public and shared folders synced; unsubscribed one removed")
    finally:
        if sim is not None:
            sim.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
