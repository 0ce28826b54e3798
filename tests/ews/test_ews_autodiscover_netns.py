#!/usr/bin/env python3
"""EWS autodiscover's last two methods, end to end: Microsoft's unauthenticated HTTP GET redirect
(http://autodiscover.<domain>/autodiscover/autodiscover.xml answering 302) and the DNS SRV record
_autodiscover._tcp.<domain>, reached by `outpost sync --once` with only `email` configured.

Runs itself again inside a private network and mount namespace (`unshare -n -m`): only its own
loopback exists there, /etc/resolv.conf names dnsmasq on 127.0.0.1:53 (which answers every
*.example.test with 127.0.0.1 and serves the SRV record) and /etc/hosts knows only localhost.
A plain-HTTP listener on 127.0.0.1:80 answers the GETs; outpost-sim-ews serves HTTPS with a
certificate for mail.example.test. Nothing listens on 443, so the two https POSTs of each
domain fail. Cases:
  a.example.test  the GET is redirected to the simulator: open and sync work
  b.example.test  the GET is redirected to http://: refused, no credentials ever sent over HTTP
  c.example.test  only the SRV record leads to the simulator: open and sync work
  d.example.test  nothing works: one message names every attempt and why it failed
Needs root (exit 77 = skipped otherwise) and dnsmasq (scripts/deps.sh). Every wait is bounded.
Usage: test_ews_autodiscover_netns.py --outpost BIN --sim BIN --plugin-dir DIR --gen-certs SCRIPT
       --workdir DIR"""

import argparse
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

FAILS = []
INNER = "OUTPOST_AD_NETNS"


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, flush=True)


def enter_namespace():
    """Runs this script again in a new network + mount namespace, or exits 77."""
    if os.geteuid() != 0 or not shutil.which("unshare") or \
            subprocess.run(["unshare", "-n", "-m", "true"], capture_output=True).returncode != 0:
        print("skipped: needs root and unshare -n -m (a private network namespace)")
        sys.exit(77)
    env = dict(os.environ, **{INNER: "1"})
    os.execvpe("unshare", ["unshare", "-n", "-m", "--propagation", "private", sys.executable,
                           os.path.abspath(__file__)] + sys.argv[1:], env)


def private_file(work, path, text):
    """Bind-mounts a file with `text` over `path` (in this mount namespace only)."""
    src = os.path.join(work, os.path.basename(path))
    with open(src, "w") as f:
        f.write(text)
    subprocess.run(["mount", "--bind", src, os.path.realpath(path)], check=True)


class Listener(http.server.BaseHTTPRequestHandler):
    """Plain HTTP on 127.0.0.1:80: Microsoft's unauthenticated GET, answered per Host."""
    seen = []          # (method, host, path, had Authorization)
    redirects = {}     # host -> Location of its 302
    silent = None      # a host whose GET is never answered

    def answer(self):
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        Listener.seen.append((self.command, host, self.path, "Authorization" in self.headers))
        if host == Listener.silent:
            time.sleep(8)  # longer than the client's timeout: it must give up first
            return
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        if self.command == "GET" and host in Listener.redirects:
            self.send_response(302)
            self.send_header("Location", Listener.redirects[host])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"<html>no autodiscover here</html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = answer
    do_POST = answer

    def log_message(self, fmt, *args):
        pass


def start_sim(args, certs, user):
    sim = subprocess.Popen([args.sim, "--cert", os.path.join(certs, "mail-example.pem"), "--key",
                            os.path.join(certs, "mail-example.key"), "--quiet", "--user", user, "--messages", "6",
                            "--events", "2", "--contacts", "2", "--tasks", "1", "--notes", "1", "--seed", "5"],
                           stdout=subprocess.PIPE, text=True)
    line = sim.stdout.readline()
    if not line.startswith("READY "):
        sim.kill()
        raise SystemExit("simulator did not start: %r" % line)
    return sim, int(line.strip().rsplit(":", 1)[1])


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait_resolves(name, deadline_s=10):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if socket.getaddrinfo(name, 443, socket.AF_INET)[0][4][0] == "127.0.0.1":
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def sync(args, work, case, timeout=10):
    """`outpost sync --once` for jdoe@<case>.example.test with only the e-mail address."""
    d = os.path.join(work, case)
    os.makedirs(os.path.join(d, "data"))
    pw = os.path.join(d, "password")
    with open(pw, "w") as f:
        f.write("secret\n")
    os.chmod(pw, 0o600)
    cfg = os.path.join(d, "outpost.ini")
    with open(cfg, "w") as f:
        f.write("[core]\ndata_dir = %s\nplugin_dir = %s\n[storage]\nplugin = sqlite\n[account]\ntransport = ews\n"
                "email = jdoe@%s.example.test\npassword_file = %s\nca_file = %s\ntimeout = %d\n"
                % (os.path.join(d, "data"), args.plugin_dir, case, pw, os.path.join(work, "certs", "ca.pem"), timeout))
    t0 = time.monotonic()
    r = subprocess.run([args.outpost, "--config", cfg, "sync", "--once"], capture_output=True, text=True, timeout=120)
    took = time.monotonic() - t0
    out = r.stdout + r.stderr
    print("--- case %s: exit %d in %.1f s\n%s" % (case, r.returncode, took, out[-3000:]), flush=True)
    st = subprocess.run([args.outpost, "--config", cfg, "status", "--json"], capture_output=True, text=True,
                        timeout=60)
    try:
        items = sum(f["items"] for f in json.loads(st.stdout)["folders"])
    except (ValueError, KeyError):
        items = 0
    return r.returncode, out, items, took


def main():
    ap = argparse.ArgumentParser()
    for a in ("outpost", "sim", "plugin-dir", "gen-certs", "workdir"):
        ap.add_argument("--" + a, required=True)
    args = ap.parse_args()
    if os.environ.get(INNER) != "1":
        enter_namespace()
    dnsmasq = shutil.which("dnsmasq") or ("/usr/sbin/dnsmasq" if os.path.exists("/usr/sbin/dnsmasq") else None)
    if not dnsmasq:
        raise SystemExit("dnsmasq is not installed (package dnsmasq-base, scripts/deps.sh)")
    work = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    certs = os.path.join(work, "certs")
    subprocess.run(["sh", args.gen_certs, certs], check=True)

    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    # timeout:2 attempts:1 keeps case (f) short: libcurl waits for the system resolver (5 s x 2
    # tries by default) even past its connect timeout
    private_file(work, "/etc/resolv.conf", "nameserver 127.0.0.1\noptions timeout:2 attempts:1\n")
    private_file(work, "/etc/hosts", "127.0.0.1 localhost\n::1 localhost\n")

    procs = []
    dns_log = open(os.path.join(work, "dnsmasq.log"), "w")
    try:
        sim_a, port_a = start_sim(args, certs, "jdoe@a.example.test")
        procs.append(sim_a)
        sim_c, port_c = start_sim(args, certs, "jdoe@c.example.test")
        procs.append(sim_c)
        dns = subprocess.Popen([dnsmasq, "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                                "--listen-address=127.0.0.1", "--bind-interfaces", "--port=53", "--user=root",
                                "--pid-file=", "--log-facility=-", "--local=/example.test/", "--address=/example.test/127.0.0.1",
                                "--srv-host=_autodiscover._tcp.c.example.test,mail.example.test,%d,0,0" % port_c],
                               stdout=dns_log, stderr=subprocess.STDOUT)
        procs.append(dns)
        check(wait_resolves("mail.example.test"), "dnsmasq answers for mail.example.test")

        Listener.redirects = {
            "autodiscover.a.example.test": "https://mail.example.test:%d/autodiscover/autodiscover.xml" % port_a,
            "autodiscover.b.example.test": "http://mail.example.test/autodiscover/autodiscover.xml",
        }
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 80), Listener)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()

        # (a) the two POSTs fail, the GET's 302 leads to the simulator
        rc, out, items, _ = sync(args, work, "a")
        check(rc == 0, "a: outpost sync works after the GET redirect (exit %d)" % rc)
        check(items > 0, "a: the cache holds the mailbox (%d items)" % items)
        check(("GET", "autodiscover.a.example.test", "/autodiscover/autodiscover.xml", False) in Listener.seen,
              "a: the unauthenticated GET was sent")

        # (b) a redirect to plain http is refused: the listener never sees credentials
        n0 = len(Listener.seen)
        rc, out, items, _ = sync(args, work, "b")
        check(rc != 0, "b: open fails")
        check("http://mail.example.test/autodiscover/autodiscover.xml" in out and "not an https URL" in out,
              "b: the message says the http redirect was not followed")
        seen_b = Listener.seen[n0:]
        check([s for s in seen_b if s[1] == "autodiscover.b.example.test"], "b: the GET was sent")
        check(not [s for s in seen_b if s[1] == "mail.example.test"], "b: the http target was never asked")

        # (c) only the SRV record works (the GET is answered 404)
        n0 = len(Listener.seen)
        rc, out, items, _ = sync(args, work, "c")
        check(rc == 0, "c: outpost sync works through the SRV record (exit %d)" % rc)
        check(items > 0, "c: the cache holds the mailbox (%d items)" % items)
        check([s for s in Listener.seen[n0:] if s[1] == "autodiscover.c.example.test"],
              "c: the GET came before the SRV lookup")

        # (d) everything fails: each attempt is named, in Microsoft's order, with its reason
        rc, out, items, took = sync(args, work, "d")
        check(rc != 0, "d: open fails")
        names = ["https://d.example.test/autodiscover/autodiscover.xml",
                 "https://autodiscover.d.example.test/autodiscover/autodiscover.xml",
                 "GET http://autodiscover.d.example.test/autodiscover/autodiscover.xml: HTTP 404, not a redirect",
                 "SRV _autodiscover._tcp.d.example.test: no SRV record"]
        msg = next((l for l in out.splitlines() if "autodiscover found no EWS URL for jdoe@d.example.test" in l), "")
        check(msg != "", "d: one message says autodiscover failed")
        pos = [msg.find(n) for n in names]
        check(all(p >= 0 for p in pos) and pos == sorted(pos), "d: the message names every attempt in order: %r" % msg)
        check(msg.count("Couldn't connect") >= 2, "d: the message says why the POSTs failed")
        check(took < 30, "d: failing takes %.1f s" % took)

        # (e) a GET that is never answered gives up after `timeout` (5 s)
        Listener.silent = "autodiscover.e.example.test"
        rc, out, items, took = sync(args, work, "e", timeout=5)
        check(rc != 0 and "GET http://autodiscover.e.example.test/autodiscover/autodiscover.xml: Timeout" in out,
              "e: the silent GET timed out")
        check(took < 15, "e: failing takes %.1f s" % took)

        # (f) a DNS server that never answers: every name and the SRV lookup give up in bounded time
        dns.send_signal(signal.SIGSTOP)
        rc, out, items, took = sync(args, work, "f", timeout=5)
        dns.send_signal(signal.SIGCONT)
        check(rc != 0 and "SRV _autodiscover._tcp.f.example.test: no answer from the DNS server" in out,
              "f: the SRV lookup of a silent DNS server fails")
        check(took < 20, "f: failing takes %.1f s" % took)

        check(not [s for s in Listener.seen if s[3]], "no request over plain HTTP carried credentials")
        httpd.shutdown()
    finally:
        for p in reversed(procs):
            stop(p)
        dns_log.close()
    if FAILS:
        print("%d check(s) failed" % len(FAILS))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
