#!/usr/bin/env python3
"""bench/imap — Outpost's IMAP front-end against Dovecot on the same mailbox.

Generates (once, cached in the build tree) a deterministic Maildir of
OUTPOST_BENCH_IMAP_MESSAGES messages (default 100000; gen_mail.py), hands a
hard-linked copy to a throwaway Dovecot (own config in a temp dir, 127.0.0.1,
ephemeral port, no SSL, default fsync) and loads the very same files into an
Outpost SQLite cache (outpost-bench-imap-load), served by outpostd's IMAP
front-end on another ephemeral port. Then it times, against both servers in
turn, with the raw client outpost-bench-imap-client (one warm-up run, median
of 3 measured runs):

  select          SELECT INBOX (on a fresh connection)
  fetch_flags     UID FETCH 1:* (UID FLAGS)
  fetch_envelope  FETCH 1:* (ENVELOPE BODYSTRUCTURE)
  search_text     UID SEARCH TEXT "<a word in ~1% of the bodies>"
  append_1000     1,000 APPENDs of new messages (LITERAL+, one at a time)
                  into a new mailbox (as a client saving to Sent)
  mix             an imaplib session: LIST, STATUS, SELECT, header fetch of
                  the newest 200, 50 full bodies, STORE, SEARCH, LOGOUT

A command whose measured run takes more than 10 s (Dovecot's SEARCH TEXT
without an FTS plugin) is not run again. Prints each time for both, the
ratio and the servers' CPU time per run (outpostd's threads; Dovecot's
master with the processes it reaped, i.e. imap, imap-login and auth;
averaged over every run of the command, warm-up included), writes
imap.json with outpost_<op>_ms and dovecot_<op>_ms, and
outpost_<op>_cpu_ms and dovecot_<op>_cpu_ms. Both servers are stopped at the end.
OUTPOST_BENCH_KEEP=1 keeps the temp dir.
"""
import argparse, hashlib, imaplib, json, os, pwd, grp, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

ap = argparse.ArgumentParser()
for a in ("build", "source", "results", "loader", "client", "data"):
    ap.add_argument("--" + a, required=True)
args = ap.parse_args()
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import gen_mail  # noqa: E402

N = int(os.environ.get("OUTPOST_BENCH_IMAP_MESSAGES", "100000"))
RUNS = 3
LONG_MS = 10000
APPENDS = 1000
USER, PASSWORD = "bench", "bench-pass"
build = os.path.abspath(args.build)
OPS = ["select", "fetch_flags", "fetch_envelope", "search_text", "append_1000", "mix"]
LABEL = {
    "select": "SELECT INBOX",
    "fetch_flags": "UID FETCH 1:* (UID FLAGS)",
    "fetch_envelope": "FETCH 1:* (ENVELOPE BODYSTRUCTURE)",
    "search_text": f'UID SEARCH TEXT "{gen_mail.SEARCH_WORD}"',
    "append_1000": f"{APPENDS} x APPEND (new mailbox)",
    "mix": "imaplib session mix",
}
procs = []
server_pid = {}  # port -> pid of the server process whose CPU time is read


def log(msg):
    print(f"[bench-imap] {msg}", flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc, what, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} did not listen on 127.0.0.1:{port}")


def ensure_maildir():
    """The cached pristine Maildir for N messages (regenerated when gen_mail.py changes)."""
    ver = hashlib.sha1(open(os.path.join(here, "gen_mail.py"), "rb").read()).hexdigest()[:10]
    path = os.path.join(args.data, f"maildir-{N}-{ver}")
    if os.path.exists(os.path.join(path, ".complete")):
        return path
    os.makedirs(args.data, exist_ok=True)
    for old in os.listdir(args.data):  # made by an older generator
        if old.startswith("maildir-") and not old.endswith("-" + ver):
            shutil.rmtree(os.path.join(args.data, old), ignore_errors=True)
    tmp = os.path.join(args.data, f"tmp-{N}-{ver}")
    shutil.rmtree(tmp, ignore_errors=True)
    log(f"generating {N} messages into {path} (once)")
    t0 = time.monotonic()
    total = gen_mail.write_maildir(tmp, N)
    os.rename(tmp, path)
    open(os.path.join(path, ".complete"), "w").close()
    log(f"generated {N} messages, {total / 1e6:.0f} MB in {time.monotonic() - t0:.0f} s")
    return path


def write_append_blobs(work):
    """One file of APPENDS new messages per run (warm-up + RUNS), "<len>\\n<bytes>" records."""
    files = []
    for r in range(RUNS + 1):
        p = os.path.join(work, f"append-{r}.bin")
        with open(p, "wb") as f:
            for i in range(APPENDS):
                data, _, _ = gen_mail.make_message(N + r * APPENDS + i, salt=f"append{r}.")
                f.write(b"%d\n" % len(data))
                f.write(data)
        files.append(p)
    return files


# ---- Dovecot ----

def start_dovecot(work, maildir):
    dove = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not os.path.exists(dove):
        raise SystemExit("dovecot is not installed: run scripts/deps.sh (group bench)")
    d = os.path.join(work, "dovecot")
    os.makedirs(d)
    box = os.path.join(d, "Maildir")
    subprocess.run(["cp", "-al", maildir, box], check=True)
    os.unlink(os.path.join(box, ".complete"))
    os.makedirs(os.path.join(d, "home"))
    if os.geteuid() == 0:
        # Dovecot never runs mail processes as root: the mail belongs to nobody.
        uid, gid = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
        internal, login = "dovecot", "dovenull"
        subprocess.run(["chown", "-R", f"{uid}:{gid}", box, os.path.join(d, "home")], check=True)
    else:
        uid, gid = os.getuid(), os.getgid()
        internal = login = pwd.getpwuid(uid).pw_name
    port = free_port()
    conf = os.path.join(d, "dovecot.conf")
    with open(conf, "w") as f:
        f.write(f"""protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = {min(uid, 500)}
mail_location = maildir:{box}
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
protocol imap {{
  mail_max_userip_connections = 100
}}
""")
    p = subprocess.Popen([dove, "-F", "-c", conf], stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "stderr"), "w"))
    procs.append(p)
    wait_port(port, p, "dovecot")
    server_pid[port] = p.pid
    return port


# ---- Outpost ----

def start_outpost(work, maildir):
    d = os.path.join(work, "outpost")
    os.makedirs(d)
    for name, val in (("password", "unused\n"), ("imap-password", PASSWORD + "\n")):
        with open(os.path.join(d, name), "w") as f:
            f.write(val)
        os.chmod(os.path.join(d, name), 0o600)
    port_file = os.path.join(d, "imap.port")
    ini = os.path.join(d, "outpost.ini")
    # The account points at a closed port: the cache is served offline, as
    # after a sync; the sync worker just keeps failing to connect.
    with open(ini, "w") as f:
        f.write(f"""[core]
data_dir = {d}/data
plugin_dir = {build}/plugins
log_level = error
sync_interval = 3600
frontends = imap
[storage]
plugin = sqlite
[account]
transport = kerio
url = https://127.0.0.1:9
user = bench@example.com
password_file = {d}/password
[imap]
listen = 127.0.0.1:0
port_file = {port_file}
user = {USER}
password_file = {d}/imap-password
""")
    os.chmod(ini, 0o600)
    log(f"loading {N} messages into the Outpost cache")
    t0 = time.monotonic()
    r = subprocess.run([args.loader, ini, maildir], capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        raise SystemExit(f"loader failed:\n{r.stderr[-3000:]}")
    log(r.stderr.strip().replace("\n", "; ") + f" (total {time.monotonic() - t0:.0f} s)")
    p = subprocess.Popen([os.path.join(build, "bin/outpostd"), "--config", ini],
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "outpostd.log"), "w"))
    procs.append(p)
    end = time.monotonic() + 60
    while time.monotonic() < end and not (os.path.exists(port_file) and open(port_file).read().strip()):
        if p.poll() is not None:
            raise SystemExit(f"outpostd exited with {p.returncode}: {open(os.path.join(d, 'outpostd.log')).read()[-2000:]}")
        time.sleep(0.05)
    port = int(open(port_file).read().strip().rsplit(":", 1)[-1])
    wait_port(port, p, "outpostd")
    server_pid[port] = p.pid
    return port


# ---- measurements ----

def client(port, script, timeout=1800):
    r = subprocess.run([args.client, "127.0.0.1", str(port), USER, PASSWORD], input=script,
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise SystemExit(f"client failed on port {port}: {r.stderr.strip()}")
    out = []
    for line in r.stdout.splitlines():
        ms, nbytes, hits, status = line.split(" ", 3)
        if not status.startswith("OK"):
            raise SystemExit(f"port {port}: command failed: {status}\nscript:\n{script[:500]}")
        out.append((float(ms), int(nbytes), int(hits)))
    return out


def cpu_ms(pid):
    """User + system CPU time of a process and of the children it has reaped, in ms (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) * 1000 / os.sysconf("SC_CLK_TCK")


def measure(port, op, blobs):
    """(median ms, bytes, hits, runs, server CPU ms per run) of a command;
    cpu_ms of the server around every run of it."""
    c0 = cpu_ms(server_pid[port])
    r = measure_runs(port, op, blobs)
    time.sleep(0.3)  # Dovecot's master reaps the session's imap process
    return r + ((cpu_ms(server_pid[port]) - c0) / (r[3] + 1),)


def measure_runs(port, op, blobs):
    """(median ms of the measured runs after one warm-up, bytes, hits, runs).

    SELECT is timed on a fresh connection each time (what a client does after
    logging in); the other commands on one connection with INBOX selected.
    APPENDs go to a new, empty mailbox per run (as a client saves to Sent or
    Drafts). Measuring stops after the first measured run over LONG_MS, so
    the run stays bounded."""
    if op == "mix":
        times = [mix(port) for _ in range(RUNS + 1)]
        return statistics.median(times[1:]), 0, 0, RUNS
    if op == "select":
        rows = [client(port, "CMD SELECT INBOX\n")[0] for _ in range(RUNS + 1)]
    elif op == "append_1000":
        rows = []
        for r, b in enumerate(blobs):
            box = f"BenchAppend{r}"
            rows.append(client(port, f"CMD CREATE {box}\nAPPEND {box} {b} {APPENDS}\n")[1])
            if len(rows) >= 2 and rows[-1][0] > LONG_MS:
                break
    else:
        cmd = {"fetch_flags": "UID FETCH 1:* (UID FLAGS)",
               "fetch_envelope": "FETCH 1:* (ENVELOPE BODYSTRUCTURE)",
               "search_text": f"UID SEARCH TEXT \"{gen_mail.SEARCH_WORD}\""}[op]
        rows = []
        while len(rows) < RUNS + 1 and (len(rows) < 2 or rows[-1][0] <= LONG_MS):
            rows += client(port, f"CMD SELECT INBOX\nCMD {cmd}\n")[1:]
    ms = statistics.median(r[0] for r in rows[1:])
    return ms, rows[-1][1], rows[-1][2], len(rows) - 1


def mix(port):
    """A mail client's session through imaplib; wall time in ms."""
    t0 = time.perf_counter()
    m = imaplib.IMAP4("127.0.0.1", port)
    m.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    m.login(USER, PASSWORD)
    m.capability()
    m.list('""', "*")
    m.status("INBOX", "(MESSAGES UNSEEN UIDNEXT)")
    typ, data = m.select("INBOX")
    n = int(data[0])
    lo = max(1, n - 199)
    m.fetch(f"{lo}:{n}", "(UID FLAGS RFC822.SIZE INTERNALDATE "
                         "BODY.PEEK[HEADER.FIELDS (FROM TO CC SUBJECT DATE MESSAGE-ID)])")
    typ, data = m.uid("SEARCH", "UNSEEN")
    uids = [int(x) for x in data[0].split()]
    step = max(1, len(uids) // 50)
    for u in uids[::step][:50]:
        m.uid("FETCH", str(u), "(BODY.PEEK[])")
    some = ",".join(str(u) for u in uids[:20])
    if some:
        m.uid("STORE", some, "+FLAGS", "(\\Flagged)")
        m.uid("STORE", some, "-FLAGS", "(\\Flagged)")
    m.uid("SEARCH", "FLAGGED")
    m.noop()
    m.close()
    m.logout()
    return (time.perf_counter() - t0) * 1000


def main():
    results, rows = {"imap_messages": N}, []
    work = tempfile.mkdtemp(prefix="outpost-bench-imap-")
    os.chmod(work, 0o755)
    try:
        maildir = ensure_maildir()
        blobs = write_append_blobs(work)
        dport = start_dovecot(work, maildir)
        oport = start_outpost(work, maildir)
        log(f"dovecot on 127.0.0.1:{dport}, outpostd on 127.0.0.1:{oport}")
        # Dovecot builds its index on the first SELECT (cold, not measured).
        t0 = time.monotonic()
        client(dport, "CMD SELECT INBOX\n", timeout=3600)
        log(f"dovecot's first SELECT (index build): {(time.monotonic() - t0) * 1000:.0f} ms")
        client(oport, "CMD SELECT INBOX\n")
        for op in OPS:
            o = measure(oport, op, blobs)
            d = measure(dport, op, blobs)
            results[f"outpost_{op}_ms"] = round(o[0], 1)
            results[f"dovecot_{op}_ms"] = round(d[0], 1)
            results[f"outpost_{op}_cpu_ms"] = round(o[4], 1)
            results[f"dovecot_{op}_cpu_ms"] = round(d[4], 1)
            note = ""
            if op == "search_text":
                note = f"hits {o[2]} / {d[2]}"
                results["search_text_hits"] = o[2]
                if o[2] != d[2]:
                    note += " (DIFFER)"
            elif o[1]:
                note = f"{o[1] / 1e6:.1f} / {d[1] / 1e6:.1f} MB"
            if o[3] != RUNS or d[3] != RUNS:
                note += f" (runs {o[3]} / {d[3]})"
            rows.append((LABEL[op], o[0], d[0], o[4], d[4], note))
            log(f"{op}: outpost {o[0]:.1f} ms (cpu {o[4]:.0f}), dovecot {d[0]:.1f} ms (cpu {d[4]:.0f}) {note}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(60)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if os.environ.get("OUTPOST_BENCH_KEEP") == "1":
            log(f"files kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"IMAP, {N} messages in INBOX (median of {RUNS} warm runs; load average {os.getloadavg()[0]:.1f})")
    print(f"{'command':<40} {'outpost ms':>11} {'dovecot ms':>11} {'ratio':>7} {'cpu ms o / d':>15}  notes")
    for label, o, d, oc, dc, note in rows:
        print(f"{label:<40} {o:>11.1f} {d:>11.1f} {o / d if d else 0:>7.2f} {f'{oc:.0f} / {dc:.0f}':>15}  {note}")
    print("ratio = outpost / dovecot (wall time); cpu = server CPU time per run; "
          "targets: every ratio <= 1, SEARCH TEXT <= 200 ms")
    os.makedirs(args.results, exist_ok=True)
    path = os.path.join(args.results, "imap.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)
    print(f"wrote {path}")


main()
