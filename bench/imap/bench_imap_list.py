#!/usr/bin/env python3
"""bench/imap/bench_imap_list.py — LIST and LSUB over many folders.

Starts tests/imap/imap_harness (the IMAP front-end over the real core store and
SQLite storage, on an ephemeral 127.0.0.1 port) once per folder count in
OUTPOST_BENCH_IMAP_FOLDERS (default "1000,4000,16000"), has it create that many
server folders in one sync (`folders N`: Bulk###/F#####, 100 below each
top-level folder, all subscribed), and times on one connection (one warm-up
run, median of 3 measured runs) each of:

  list_all        LIST "" "*"
  lsub_all        LSUB "" "*"
  lsub_pct        LSUB "" "%"
  list_subscribed LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"
  list_children   LIST "" "%" RETURN (SUBSCRIBED CHILDREN)

Prints wall ms, the harness's CPU ms per run and µs per folder for each count
(a per-folder cost that stays flat as the count grows is linear scaling), and
writes imap-list.json with <op>_<count>_ms and <op>_<count>_cpu_ms.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("--harness", required=True)
ap.add_argument("--plugins", required=True)
ap.add_argument("--fixtures", required=True)
ap.add_argument("--results", required=True)
args = ap.parse_args()

COUNTS = [int(x) for x in os.environ.get("OUTPOST_BENCH_IMAP_FOLDERS", "1000,4000,16000").split(",")]
RUNS = 3
OPS = [("list_all", 'LIST "" "*"'), ("lsub_all", 'LSUB "" "*"'), ("lsub_pct", 'LSUB "" "%"'),
       ("list_subscribed", 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"'),
       ("list_children", 'LIST "" "%" RETURN (SUBSCRIBED CHILDREN)')]
USER, PASS = "bench", "bench-pass"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_ms(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / TICK


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=600)
        self.buf = b""
        self.n = 0
        self.until(None)

    def until(self, tag):
        while True:
            i = self.buf.find(b"\r\n")
            if i < 0:
                d = self.s.recv(1 << 20)
                if not d:
                    raise SystemExit("connection closed")
                self.buf += d
                continue
            line, self.buf = self.buf[:i], self.buf[i + 2:]
            if tag is None or line.startswith(tag + b" "):
                return line

    def cmd(self, text):
        self.n += 1
        tag = b"b%d" % self.n
        self.s.sendall(tag + b" " + text.encode() + b"\r\n")
        line = self.until(tag)
        if not line.startswith(tag + b" OK"):
            raise SystemExit("%s: %r" % (text, line))


def run(count):
    d = tempfile.mkdtemp(prefix="outpost-bench-list-")
    try:
        pw = os.path.join(d, "pw")
        with open(pw, "w") as f:
            f.write(PASS + "\n")
        os.chmod(pw, 0o600)
        port_file = os.path.join(d, "port")
        cfg = os.path.join(d, "outpost.ini")
        with open(cfg, "w") as f:
            f.write("[core]\ndata_dir = %s\nplugin_dir = %s\nlog_level = warning\n[storage]\nplugin = sqlite\n"
                    "[imap]\nlisten = 127.0.0.1:0\nuser = %s\npassword_file = %s\nport_file = %s\n"
                    % (os.path.join(d, "data"), args.plugins, USER, pw, port_file))
        log = open(os.path.join(d, "harness.log"), "w")
        p = subprocess.Popen([args.harness, cfg, args.fixtures], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=log)
        deadline = time.time() + 30
        while not os.path.exists(port_file):
            if p.poll() is not None or time.time() > deadline:
                raise SystemExit("harness did not start (log in %s)" % d)
            time.sleep(0.05)
        port = int(open(port_file).read().split()[0])
        p.stdin.write(b"folders %d\n" % count)
        p.stdin.flush()
        out = []
        while True:
            line = p.stdout.readline()
            if line in (b".\n", b""):
                break
            out.append(line)
        if out:
            raise SystemExit("folders %d: %r" % (count, out))
        c = Conn(port)
        c.cmd('LOGIN %s "%s"' % (USER, PASS))
        res = {}
        for op, text in OPS:
            c.cmd(text)  # warm-up
            walls, cpus = [], []
            for _ in range(RUNS):
                c0, t0 = cpu_ms(p.pid), time.perf_counter()
                c.cmd(text)
                walls.append((time.perf_counter() - t0) * 1000)
                cpus.append(cpu_ms(p.pid) - c0)
            res[op] = (statistics.median(walls), statistics.median(cpus))
        c.cmd("LOGOUT")
        p.stdin.close()
        p.wait(timeout=30)
        return res
    finally:
        shutil.rmtree(d, ignore_errors=True)


results = {}
table = []
for count in COUNTS:
    r = run(count)
    for op, (wall, cpu) in r.items():
        results["%s_%d_ms" % (op, count)] = round(wall, 2)
        results["%s_%d_cpu_ms" % (op, count)] = round(cpu, 2)
        table.append((op, count, wall, cpu, wall * 1000 / count))
os.makedirs(args.results, exist_ok=True)
with open(os.path.join(args.results, "imap-list.json"), "w") as f:
    json.dump(results, f, indent=1, sort_keys=True)
print("load average: %.2f %.2f %.2f" % os.getloadavg())
print("%-16s %7s %10s %10s %12s" % ("op", "folders", "wall ms", "cpu ms", "wall us/fold"))
for op, count, wall, cpu, per in sorted(table):
    print("%-16s %7d %10.1f %10.1f %12.1f" % (op, count, wall, cpu, per))
sys.exit(0)
