#!/usr/bin/env bash
# tests/unit/test_cli.sh — the outpost command line as a user meets it.
# usage: test_cli.sh OUTPOST_BINARY FIXTURE_PLUGIN_DIR
set -u
bin=$1
fixdir=$2
plugdir=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CONFIG_HOME=$tmp/config XDG_DATA_HOME=$tmp/data
unset JOURNAL_STREAM
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect() { # expect DESCRIPTION EXIT_CODE NEEDLE -- command...
  local what=$1 code=$2 needle=$3; shift 4
  local out rc
  out=$("$@" 2>&1 </dev/null); rc=$?
  if [ "$rc" != "$code" ]; then bad "$what: exit $rc, wanted $code: $out"; return; fi
  if [ -n "$needle" ] && ! grep -qF -- "$needle" <<<"$out"; then bad "$what: output lacks '$needle': $out"; return; fi
  ok
}

expect "--help" 0 "usage: outpost" -- "$bin" --help
expect "--version" 0 "(ABI 1.2)" -- "$bin" --version
expect "no command" 2 "usage:" -- "$bin"
expect "unknown command" 2 "unknown command 'frobnicate'" -- "$bin" frobnicate
expect "unknown option" 2 "unknown option --bogus" -- "$bin" --bogus
expect "--config without a file" 2 "--config needs a FILE" -- "$bin" --config
expect "missing config" 1 "outpost init" -- "$bin" --config "$tmp/none.ini" check
expect "sync needs a config" 1 "outpost init" -- "$bin" --config "$tmp/none.ini" sync --once
# Every command explains itself with --help (exit 0), before any config is read.
for c in init sync run status plugins check audit policy reload demo; do
  expect "$c --help" 0 "usage: outpost $c" -- "$bin" --config "$tmp/none.ini" $c --help
done
expect "-h after a command" 0 "usage: outpost audit" -- "$bin" --config "$tmp/none.ini" audit --json -h
# outpost(1) and the help agree: every command and every option of each command's --help is
# in the man page, and every command the man page lists is one the program knows.
if python3 - "$bin" "$(dirname "$0")/../../docs/outpost.1" <<'PY'
import re, subprocess, sys
bin_, man = sys.argv[1], open(sys.argv[2]).read()
helptext = subprocess.run([bin_, "--help"], capture_output=True, text=True).stdout
cmds = re.findall(r"^  ([a-z]+)\b", helptext.split("commands:")[1].split("options:")[0], re.M)
section = man.split(".SH COMMANDS")[1].split(".SH ")[0]
man_cmds = set(re.findall(r"^\.B ([a-z]+)", section, re.M))
missing = [c for c in cmds if c not in man_cmds] + ["unknown command %s in outpost(1)" % c for c in man_cmds if c not in cmds]
flat = man.replace("\\-", "-").replace("\\fB", "").replace("\\fR", "").replace("\\fI", "")
for c in set(cmds):
    out = subprocess.run([bin_, c, "--help"], capture_output=True, text=True).stdout
    missing += ["%s %s" % (c, o) for o in re.findall(r"--[a-z][a-z-]*", out) if o not in flat]
missing += [o for o in re.findall(r"(?<![a-z])--?[a-z][a-z-]*", helptext.split("options:")[1]) if o not in flat]
if missing:
    sys.exit("not in outpost(1): " + ", ".join(sorted(set(missing))))
PY
then ok; else bad "outpost(1) and --help disagree"; fi
cp "$bin" "$tmp/outpost-copy"
expect "demo outside a build tree" 2 "make demo" -- "$tmp/outpost-copy" demo

# plugins --json lists the fixture plugin with its ABI and is valid JSON.
printf '[core]\nplugin_dir = %s\n' "$fixdir" > "$tmp/p.ini"
out=$("$bin" --config "$tmp/p.ini" plugins --json) || bad "plugins --json failed"
if python3 -c 'import json,sys; a=json.loads(sys.argv[1]); p=[x for x in a if x["name"]=="fixture"][0]; assert p["kind"]=="storage" and p["abi"]=="1.2" and p["loaded"] is True and p["version"]=="9.9" and p["error"] is None' "$out"; then ok; else bad "plugins --json: $out"; fi
expect "plugins table" 0 "fixture" -- "$bin" --config "$tmp/p.ini" plugins

# A syntax error names file:line.
printf '[core]\nlog_level = info\nnot ini at all\n' > "$tmp/bad.ini"
expect "syntax error" 1 "bad.ini:3: syntax error" -- "$bin" --config "$tmp/bad.ini" plugins
printf '[core]\nlog_level = chatty\n' > "$tmp/lvl.ini"
expect "bad log level" 1 "lvl.ini:2: [core] log_level = 'chatty'" -- "$bin" --config "$tmp/lvl.ini" plugins

# init without a terminal needs its flags; a shared password file is refused.
expect "init needs flags" 2 "--url --user is required" -- "$bin" --config "$tmp/i.ini" init
echo secret > "$tmp/pw"; chmod 644 "$tmp/pw"
expect "init password perms" 1 "chmod 600" -- "$bin" --config "$tmp/i.ini" init --url https://x --user u --password-file "$tmp/pw"
expect "init unknown storage" 1 "no storage plugin 'nosuch'" -- env OUTPOST_PLUGIN_DIR="$fixdir" "$bin" --config "$tmp/i.ini" init --url https://x --user u --storage nosuch --data-dir "$tmp/d"
[ -e "$tmp/i.ini" ] && bad "init wrote a config for a storage engine that is not installed" || ok
printf '[core]\n' > "$tmp/i.ini"
expect "init refuses overwrite" 1 "already exists" -- "$bin" --config "$tmp/i.ini" init --url https://x --user u

# Warnings under systemd carry the priority prefix.
printf '[core]\nplugin_dir = %s\nbogus = 1\n[account]\ntransport = kerio\n[storage]\nplugin = nosuch\n' "$fixdir" > "$tmp/j.ini"
out=$(JOURNAL_STREAM=8:123 "$bin" --config "$tmp/j.ini" check 2>&1)
if grep -q '^<3>\|^<4>\|^<6>' <<<"$out" || grep -q "no storage plugin" <<<"$out"; then ok; else bad "journal prefix: $out"; fi

# With the real SQLite plugin: init creates the cache; check, status and audit read it.
if [ -n "$plugdir" ] && [ -f "$plugdir/outpost-storage-sqlite.so" ]; then
  echo pw > "$tmp/pw2"; chmod 600 "$tmp/pw2"
  expect "init creates the cache" 0 "cache in $tmp/cache" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/r.ini" init \
    --transport kerio --url https://127.0.0.1:9 --user u --password-file "$tmp/pw2" --data-dir "$tmp/cache"
  [ -f "$tmp/cache/cache.sqlite" ] && ok || bad "no cache file after init"
  [ "$(stat -c %a "$tmp/r.ini")" = 600 ] && ok || bad "init wrote the config with mode $(stat -c %a "$tmp/r.ini")"
  # init from another directory with relative paths: the config names them absolutely
  # (the daemon does not start where init ran), and IMAP clients get the account's login.
  mkdir -p "$tmp/w" && cp "$tmp/pw2" "$tmp/w/pw" && touch "$tmp/w/ca.pem"
  expect "init with relative paths" 0 'next: `outpost check`' -- env OUTPOST_PLUGIN_DIR="$plugdir" sh -c \
    "cd '$tmp/w' && '$bin' --config '$tmp/rel.ini' init --url https://127.0.0.1:9 --user u --password-file pw --ca-file ca.pem --data-dir dd"
  if grep -qx "password_file = $tmp/w/pw" "$tmp/rel.ini" && grep -qx "ca_file = $tmp/w/ca.pem" "$tmp/rel.ini" &&
     grep -qx "data_dir = $tmp/w/dd" "$tmp/rel.ini" && [ -f "$tmp/w/dd/cache.sqlite" ] &&
     python3 -c 'import configparser,sys; c=configparser.ConfigParser(); c.read(sys.argv[1]); assert c["imap"]["user"]=="u" and c["imap"]["password_file"]==sys.argv[2]' "$tmp/rel.ini" "$tmp/w/pw"
  then ok; else bad "init wrote relative paths or no [imap] login: $(cat "$tmp/rel.ini")"; fi
  expect "init unknown transport" 1 "--transport kerrio: no transport plugin 'kerrio'" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/rel3.ini" init \
    --transport kerrio --url https://127.0.0.1:9 --user u
  [ -e "$tmp/rel3.ini" ] && bad "init wrote a config for a transport that is not installed" || ok
  expect "init --ca-file missing" 1 "--ca-file: cannot read" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/rel2.ini" init \
    --url https://127.0.0.1:9 --user u --ca-file "$tmp/none.pem"
  # ~/ in a path or secret file means $HOME, as the README and outpost.ini(5) write it.
  mkdir -p "$tmp/home/.config/outpost" && cp "$tmp/pw2" "$tmp/home/.config/outpost/password"
  sed "s#^password_file = .*#password_file = ~/.config/outpost/password#" "$tmp/r.ini" > "$tmp/tilde.ini"
  expect "check reads ~/ paths" 0 "config:  ok" -- env HOME="$tmp/home" OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/tilde.ini" check
  # check reads the transport's settings as the first sync would, and needs the transport.
  sed "s#^url = .*#url = htps:/127.0.0.1:9#" "$tmp/r.ini" > "$tmp/url.ini"
  expect "check bad url" 1 "url must start with https://" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/url.ini" check
  sed "s#^transport = .*#transport = kerrio#" "$tmp/r.ini" > "$tmp/tr.ini"
  expect "check unknown transport" 1 "transport = 'kerrio': no transport plugin 'kerrio'" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/tr.ini" check
  # A misspelt key is named when sync starts, not only by check.
  sed "s#^\[core\]#[core]\nsync_intervall = 5#" "$tmp/r.ini" > "$tmp/typo.ini"
  expect "sync names a misspelt key" 1 "unknown key 'sync_intervall' in [core]" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/typo.ini" sync --once
  # A password in the URL is refused before anything could log it, and never repeated.
  sed "s#^url = .*#url = https://u:hunter2@127.0.0.1:9#" "$tmp/r.ini" > "$tmp/cred.ini"
  expect "sync refuses a password in the url" 1 "[account] url holds a password" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/cred.ini" sync --once
  OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/cred.ini" sync --once 2>&1 | grep -q hunter2 && bad "the url's password was shown" || ok
  sed "s#^user = .*#usr = u#" "$tmp/r.ini" > "$tmp/nouser.ini"
  expect "sync points at check" 1 "outpost check names unknown keys" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/nouser.ini" sync --once
  # The daemon stopped by its configuration exits 78 (EX_CONFIG), which the systemd unit
  # does not restart on; a start failure that is not the config's stays 1 (below).
  ln -s "$bin" "$tmp/outpostd"
  expect "run: config without user" 78 "outpost check names unknown keys" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/nouser.ini" run
  expect "outpostd: password in the url" 78 "[account] url holds a password" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$tmp/outpostd" --config "$tmp/cred.ini"
  expect "outpostd: no config" 78 "outpost init" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$tmp/outpostd" --config "$tmp/none.ini"
  unit=$(dirname "$0")/../../conf/outpostd.service.in
  grep -q '^RestartPreventExitStatus=78$' "$unit" && grep -q '^Restart=on-failure$' "$unit" && ok ||
    bad "outpostd.service.in does not stop restarting on exit 78"
  grep -q '^\\fBoutpostd\\fR and \\fBoutpost run\\fR exit with 78' "$(dirname "$0")/../../docs/outpost.1" && ok ||
    bad "outpost(1) EXIT STATUS does not document 78"
  expect "status on an empty cache" 0 "Conflicts" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/r.ini" status
  out=$(OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/r.ini" status --json)
  if python3 -c 'import json,sys; s=json.loads(sys.argv[1]); assert s["journal"]["pending"]==0 and any(f["path"]=="Conflicts" for f in s["folders"])' "$out"; then ok; else bad "status --json: $out"; fi
  expect "audit on an empty cache" 0 "SEQ" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/r.ini" audit
  expect "audit --prune" 0 "pruned 0" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/r.ini" audit --prune 30
  expect "audit --prune needs days" 2 "number of days" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/r.ini" audit --prune soon
  expect "audit --prune without days" 2 "--prune needs a number of days" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/r.ini" audit --prune
  # A daemon that cannot start says so as an error the journal files as one (<3>), exit 1.
  long=$tmp/$(printf 'd%.0s' $(seq 110))
  sed "s#^data_dir = .*#data_dir = $long#" "$tmp/r.ini" > "$tmp/long.ini"
  expect "daemon start error under systemd" 1 "<3>daemon: control socket: socket path too long" -- \
    env JOURNAL_STREAM=8:1 OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/long.ini" run
  # Per-folder policy: listed with its source, written to [policy] keeping every
  # other line, removed again; bad modes and unwritable names are refused.
  expect "policy lists defaults" 0 "default" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/r.ini" policy
  printf '; my note\n[policy]\n# keep me\nOld = full\n' >> "$tmp/r.ini"
  expect "policy set" 0 "Archive: headers, 365d" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/r.ini" policy Archive headers 365d
  expect "policy replace" 0 "Old: headers" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/r.ini" policy Old 'headers'
  expect "policy conflicts" 0 "" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/r.ini" policy Conflicts full
  out=$(OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/r.ini" policy --json)
  if python3 -c 'import json,sys; a=json.loads(sys.argv[1]); c=[f for f in a if f["path"]=="Conflicts"][0]; assert c["policy"]=="full" and c["source"]=="config"' "$out"; then ok; else bad "policy --json: $out"; fi
  if [ "$(grep -c '^Old = headers$' "$tmp/r.ini")" = 1 ] && grep -q '^Archive = headers, 365d$' "$tmp/r.ini" &&
     grep -q '^# keep me$' "$tmp/r.ini" && grep -q '^; my note$' "$tmp/r.ini" && grep -q '^url = https://127.0.0.1:9$' "$tmp/r.ini"; then ok
  else bad "policy rewrote the config badly: $(cat "$tmp/r.ini")"; fi
  [ "$(stat -c %a "$tmp/r.ini")" = 600 ] && ok || bad "config mode after policy: $(stat -c %a "$tmp/r.ini")"
  expect "policy default" 0 "back to the default" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/r.ini" policy Old default
  grep -q '^Old' "$tmp/r.ini" && bad "policy default left the line" || ok
  expect "policy bad mode" 1 "expected full or headers" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/r.ini" policy X sometimes
  expect "policy bad age" 1 "expected full or headers" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/r.ini" policy X headers soon
  expect "policy path" 1 "give the last part ('B')" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/r.ini" policy A/B full
  expect "policy unwritable name" 1 "cannot be a key" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/r.ini" policy 'a=b' full
  expect "policy usage" 2 "usage: outpost policy" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/r.ini" policy Inbox
  cp "$tmp/r.ini" "$tmp/rbad.ini"; printf 'Junk = weekly\n' >> "$tmp/rbad.ini"
  expect "malformed policy in config" 1 "rbad.ini:$(wc -l < "$tmp/rbad.ini"): [policy] Junk = 'weekly'" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/rbad.ini" status
  # check knows the keys of the engine and of the configured front-ends (no "unknown key").
  cp "$tmp/r.ini" "$tmp/k.ini"
  printf '[core]\nsync_interval = 5m\naudit_retention = 30\nfrontends = imap, mapi\n[imap]\nidle_timeout = 29m\n[mapi]\ndisplay_name = Mail\n' >> "$tmp/k.ini"
  out=$(OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/k.ini" check 2>&1)
  if grep -q "unknown key" <<<"$out" || ! grep -q "config:  ok" <<<"$out"; then bad "check with engine and front-end keys: $out"; else ok; fi
  printf '[imap]\nidle_timeuot = 29m\n' >> "$tmp/k.ini"
  expect "check names a misspelt front-end key" 0 "unknown key 'idle_timeuot' in [imap]" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/k.ini" check
  # Every key a plugin declares (plugins --json) is documented under its section in
  # outpost.ini(5) and in the sample config.
  man=$(dirname "$0")/../../docs/outpost.ini.5
  out=$(OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/r.ini" plugins --json)
  if python3 - "$man" "$out" "$(dirname "$0")/../../conf/outpost.ini" <<'PY'
import json, re, sys
man = open(sys.argv[1]).read()
sample = open(sys.argv[3]).read()
missing = []
for p in json.loads(sys.argv[2]):
    if not p["loaded"]:
        continue
    m = re.search(r"^\.SH \[%s\]\n(.*?)(?=^\.SH |\Z)" % re.escape(p["section"]), man, re.S | re.M)
    for k in p["config_keys"]:
        assert k["type"] in ("string", "int", "bool", "path", "secret_file", "command", "enum"), k
        if not m or not re.search(r"^\.B %s$" % re.escape(k["name"]), m.group(1), re.M):
            missing.append("%s: [%s] %s in outpost.ini(5)" % (p["name"], p["section"], k["name"]))
        c = re.search(r"^\[%s\]\n(.*?)(?=^\[|\Z)" % re.escape(p["section"]), sample, re.S | re.M)
        if not c or not re.search(r"^(# )?%s = " % re.escape(k["name"]), c.group(1), re.M):
            missing.append("%s: [%s] %s in conf/outpost.ini" % (p["name"], p["section"], k["name"]))
if missing:
    sys.exit("undocumented: " + ", ".join(missing))
PY
  then ok; else bad "plugin keys missing from the man page"; fi
  # The server is unreachable: sync fails with a clear error and loses nothing.
  expect "sync --once offline" 1 "" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/r.ini" sync --once
  # SIGHUP: a config with a bad value is refused (the running one is kept), a misspelt
  # key is named; the daemon answers throughout.
  sed "s#^\[core\]#[core]\nfrontends =\nsync_interval = 1h#" "$tmp/r.ini" > "$tmp/hup.ini"
  OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/hup.ini" run > "$tmp/hup.log" 2>&1 &
  dpid=$!
  wait_log() { for _ in $(seq 100); do grep -qF -- "$1" "$tmp/hup.log" && return 0; sleep 0.1; done; return 1; }
  if wait_log "running with cache"; then
    cp "$tmp/hup.ini" "$tmp/hup.good"
    printf '[core]\nsync_interval = 5x\n' >> "$tmp/hup.ini"; kill -HUP $dpid
    wait_log "reload: $tmp/hup.ini:$(wc -l < "$tmp/hup.ini"): [core] sync_interval = '5x': expected a whole number" &&
      grep -q "keeping the running configuration" "$tmp/hup.log" && ok || bad "reload took a bad value: $(cat "$tmp/hup.log")"
    cp "$tmp/hup.good" "$tmp/hup.ini"; printf '[core]\nsync_interval = 5x\n' >> "$tmp/hup.ini"
    expect "reload checks values first" 1 "[core] sync_interval = '5x': expected a whole number" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/hup.ini" reload
    cp "$tmp/hup.good" "$tmp/hup.ini"; printf '[core]\nsync_intervall = 5\n' >> "$tmp/hup.ini"
    expect "outpost reload" 0 "the running daemon re-reads" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/hup.ini" reload
    wait_log "unknown key 'sync_intervall' in [core]" && wait_log "configuration reloaded" && ok ||
      bad "reload did not name the misspelt key: $(cat "$tmp/hup.log")"
    expect "status from the daemon after reloads" 0 "Conflicts" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/hup.ini" status
    # check leaves the cache to the daemon (Firebird's is exclusive) and asks it instead.
    expect "check with a daemon running" 0 "checked by the running daemon" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/hup.ini" check
  else
    bad "daemon did not start: $(cat "$tmp/hup.log")"
  fi
  kill -TERM $dpid; wait $dpid
  expect "reload without a daemon" 1 "no daemon is running on the cache" -- env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/hup.ini" reload
  # A second process cannot take the cache while the lock is held.
  if command -v flock >/dev/null; then
    expect "cache locked" 1 "in use" -- flock "$tmp/cache/outpost.lock" env OUTPOST_PLUGIN_DIR="$plugdir" "$bin" --config "$tmp/r.ini" audit
  fi
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
