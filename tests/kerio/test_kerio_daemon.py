#!/usr/bin/env python3
"""End to end: a running outpostd picks up a server change through the Kerio plugin's push
(Changes.get long-poll) without waiting for its sync_interval (3600 s here); a sync request
(`outpost sync`) ends the long-poll at once; and it stops promptly on SIGTERM while a long-poll
is open. The cache is read with `outpost status --json` (through
the daemon's control socket). Loopback only, ephemeral ports, bounded waits.

usage: test_kerio_daemon.py OUTPOST-BINARY PLUGIN-DIR SIM-BINARY GEN-CERTS.sh"""
import json
import os
import shutil
import signal
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
    tmp = tempfile.mkdtemp(prefix="outpost-kerio-push-")
    procs = []
    try:
        subprocess.run(["sh", GEN_CERTS, os.path.join(tmp, "pki")], check=True, capture_output=True, timeout=120)
        ca = os.path.join(tmp, "pki", "ca.pem")
        port_file = os.path.join(tmp, "sim.port")
        sim = subprocess.Popen([SIM, "--listen", "127.0.0.1:0", "--cert", os.path.join(tmp, "pki", "server.pem"),
                                "--key", os.path.join(tmp, "pki", "server.key"), "--messages", "8", "--events", "3",
                                "--contacts", "2", "--tasks", "2", "--notes", "2", "--seed", "5",
                                "--port-file", port_file, "--quiet"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(sim)
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
            f.write("[core]\ndata_dir = %s\nplugin_dir = %s\nlog_level = info\nsync_interval = 3600\n"
                    "[storage]\nplugin = sqlite\n"
                    "[account]\ntransport = kerio\nurl = %s\nuser = jdoe\npassword_file = %s\nca_file = %s\n"
                    % (os.path.join(tmp, "data"), PLUGIN_DIR, url, pw, ca))
        os.chmod(cfg, 0o600)
        log = open(os.path.join(tmp, "outpostd.log"), "w+")
        env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(tmp, "xdg"), XDG_DATA_HOME=os.path.join(tmp, "xdg"))
        env.pop("JOURNAL_STREAM", None)
        d = subprocess.Popen([OUTPOST, "--config", cfg, "run"], stdout=log, stderr=log, env=env)
        procs.append(d)

        def status():
            p = subprocess.run([OUTPOST, "--config", cfg, "status", "--json"], capture_output=True, timeout=30,
                               env=env)
            if p.returncode != 0:
                return None
            try:
                return json.loads(p.stdout)
            except ValueError:
                return None

        def inbox_items():
            s = status()
            if not s or not s.get("daemon"):
                return None
            for f in s.get("folders", []):
                if f.get("path") == "Inbox":
                    return f.get("items")
            return None

        want = len([i for f in control("state?content=0&folder=Inbox")["folders"] for i in f["items"]])
        # `outpost status` opens the cache itself when no daemon answers, which would take the
        # cache lock from a daemon still starting: ask only once its control socket exists.
        sock = os.path.join(tmp, "data", "control.sock")
        deadline = time.time() + 30
        while not os.path.exists(sock):
            check(d.poll() is None, "outpostd exited")
            check(time.time() < deadline, "outpostd did not open its control socket")
            time.sleep(0.05)
        deadline = time.time() + 60
        while inbox_items() != want:
            check(d.poll() is None, "outpostd exited")
            check(time.time() < deadline, "initial sync did not finish")
            time.sleep(0.2)
        # Let the daemon settle into its wait (it may sync once more for changes of its own first sync).
        time.sleep(1.5)
        t0 = time.time()
        control("items/create", {"type": "mail", "folder": "Inbox", "item": {"subject": "pushed to outpostd"}})
        deadline = t0 + 10
        while inbox_items() != want + 1:
            check(d.poll() is None, "outpostd exited")
            check(time.time() < deadline, "server change not picked up within 10 s (sync_interval is 3600 s)")
            time.sleep(0.1)
        took = time.time() - t0
        print("server change in the cache after %.2f s" % took)
        # A second change, while the daemon is certainly in its long-poll again.
        time.sleep(1.0)
        t0 = time.time()
        control("items/create", {"type": "mail", "folder": "Inbox", "item": {"subject": "pushed again"}})
        while inbox_items() != want + 2:
            check(time.time() < t0 + 10, "second server change not picked up within 10 s")
            time.sleep(0.1)
        print("second change after %.2f s" % (time.time() - t0))
        # `outpost sync` wakes the daemon out of its long-poll (the engine ends the transport's
        # wait): the requested cycle runs and answers promptly.
        time.sleep(1.0)
        t0 = time.time()
        p = subprocess.run([OUTPOST, "--config", cfg, "sync"], capture_output=True, timeout=60, env=env)
        took = time.time() - t0
        print("outpost sync answered after %.2f s" % took)
        check(p.returncode == 0, "outpost sync: %s %s" % (p.stdout.decode(), p.stderr.decode()))
        check(took < 5, "outpost sync waited for the long-poll (%.1f s)" % took)
        # SIGTERM while the long-poll is open: stops promptly and cleanly.
        time.sleep(0.5)
        t0 = time.time()
        d.send_signal(signal.SIGTERM)
        try:
            rc = d.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise AssertionError("outpostd did not stop within 10 s of SIGTERM")
        print("stopped %.2f s after SIGTERM, exit %d" % (time.time() - t0, rc))
        check(rc == 0, "outpostd exit code %d" % rc)
        check(time.time() - t0 < 5, "outpostd took too long to stop")
    except BaseException:
        try:
            with open(os.path.join(tmp, "outpostd.log")) as f:
                sys.stderr.write("--- outpostd log ---\n" + f.read()[-4000:])
        except OSError:
            pass
        raise
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
