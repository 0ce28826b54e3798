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

from kerio_env import Sim, check, write_config

OUTPOST, PLUGIN_DIR, SIM, GEN_CERTS = sys.argv[1:5]


def main():
    tmp = tempfile.mkdtemp(prefix="outpost-kerio-push-")
    procs = []
    try:
        sim = Sim(SIM, GEN_CERTS, tmp, ["--messages", "8", "--events", "3", "--contacts", "2", "--tasks", "2",
                                        "--notes", "2", "--seed", "5"])
        procs.append(sim.proc)
        control = sim.control
        cfg, env = write_config(tmp, PLUGIN_DIR, sim, "sync_interval = 3600\n")
        log = open(os.path.join(tmp, "outpostd.log"), "w+")
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
