"""What the Kerio end-to-end scripts (test_kerio_daemon.py, test_kerio_places.py) share: a
test CA, the in-tree simulator on an ephemeral loopback port, its control API, and a private
Outpost configuration syncing the simulator's account into SQLite. Bounded waits only."""
import json
import os
import ssl
import subprocess
import time
import urllib.request


def check(cond, what):
    if not cond:
        raise AssertionError(what)


class Sim:
    """outpost-sim-kerio started in `tmp` with the generator arguments `args` (a list)."""

    def __init__(self, sim_bin, gen_certs, tmp, args):
        subprocess.run(["sh", gen_certs, os.path.join(tmp, "pki")], check=True, capture_output=True, timeout=120)
        self.ca = os.path.join(tmp, "pki", "ca.pem")
        port_file = os.path.join(tmp, "sim.port")
        self.proc = subprocess.Popen([sim_bin, "--listen", "127.0.0.1:0", "--cert", os.path.join(tmp, "pki", "server.pem"),
                                      "--key", os.path.join(tmp, "pki", "server.key")] + list(args) +
                                     ["--port-file", port_file, "--quiet"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            check(time.time() < deadline and self.proc.poll() is None, "simulator did not start")
            time.sleep(0.05)
        self.url = "https://127.0.0.1:%s" % open(port_file).read().strip()
        self.ctx = ssl.create_default_context(cafile=self.ca)

    def control(self, path, body=None):
        """The simulator's control API (/_sim/PATH): GET, or POST of `body` as JSON."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + "/_sim/" + path, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=self.ctx, timeout=30) as r:
            return json.loads(r.read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def write_config(tmp, plugin_dir, sim, core_extra=""):
    """A private config (0600, with a 0600 password file) in `tmp` syncing the simulator's
    account `jdoe` into tmp/data; returns its path and the environment to run Outpost with."""
    pw = os.path.join(tmp, "password")
    with open(pw, "w") as f:
        f.write("secret\n")
    os.chmod(pw, 0o600)
    cfg = os.path.join(tmp, "outpost.ini")
    with open(cfg, "w") as f:
        f.write("[core]\ndata_dir = %s\nplugin_dir = %s\nlog_level = info\n%s"
                "[storage]\nplugin = sqlite\n"
                "[account]\ntransport = kerio\nurl = %s\nuser = jdoe\npassword_file = %s\nca_file = %s\n"
                % (os.path.join(tmp, "data"), plugin_dir, core_extra, sim.url, pw, sim.ca))
    os.chmod(cfg, 0o600)
    env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(tmp, "xdg"), XDG_DATA_HOME=os.path.join(tmp, "xdg"))
    env.pop("JOURNAL_STREAM", None)
    return cfg, env
