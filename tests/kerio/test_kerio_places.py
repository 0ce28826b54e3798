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
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

OUTPOST, PLUGIN_DIR, SIM, GEN_CERTS = sys.argv[1:5]


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def main():
    tmp = tempfile.mkdtemp(prefix="outpost-kerio-places-")
    sim = None
    try:
        subprocess.run(["sh", GEN_CERTS, os.path.join(tmp, "pki")], check=True, capture_output=True, timeout=120)
        ca = os.path.join(tmp, "pki", "ca.pem")
        port_file = os.path.join(tmp, "sim.port")
        sim = subprocess.Popen([SIM, "--listen", "127.0.0.1:0", "--cert", os.path.join(tmp, "pki", "server.pem"),
                                "--key", os.path.join(tmp, "pki", "server.key"), "--messages", "6", "--events", "2",
                                "--contacts", "2", "--tasks", "1", "--notes", "1", "--seed", "3", "--shared",
                                "--port-file", port_file, "--quiet"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            check(time.time() < deadline and sim.poll() is None, "simulator did not start")
            time.sleep(0.05)
        url = "https://127.0.0.1:%s" % open(port_file).read().strip()
        ctx = ssl.create_default_context(cafile=ca)

        def control(path, body=None):
            data = json.dumps(body).encode() if body is not None else None
            req = urllib.request.Request(url + "/_sim/" + path, data=data, method="POST" if data else "GET",
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
                return json.loads(r.read())

        pw = os.path.join(tmp, "password")
        with open(pw, "w") as f:
            f.write("secret\n")
        os.chmod(pw, 0o600)
        cfg = os.path.join(tmp, "outpost.ini")
        with open(cfg, "w") as f:
            f.write("[core]\ndata_dir = %s\nplugin_dir = %s\nlog_level = info\n"
                    "[storage]\nplugin = sqlite\n"
                    "[account]\ntransport = kerio\nurl = %s\nuser = jdoe\npassword_file = %s\nca_file = %s\n"
                    % (os.path.join(tmp, "data"), PLUGIN_DIR, url, pw, ca))
        os.chmod(cfg, 0o600)
        env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(tmp, "xdg"), XDG_DATA_HOME=os.path.join(tmp, "xdg"))

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
        if sim is not None and sim.poll() is None:
            sim.terminate()
            try:
                sim.wait(timeout=10)
            except subprocess.TimeoutExpired:
                sim.kill()
                sim.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
