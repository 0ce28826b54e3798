#!/usr/bin/env bash
# scripts/demo.sh BUILD_DIR — the `make demo` walk-through on embedded defaults:
# starts the in-tree Kerio simulator with a generated mailbox, syncs it into
# SQLite with a progress bar, serves it over IMAP on 127.0.0.1 and shows the
# INBOX through a real client (curl's IMAP). Everything stays on loopback and
# is removed at the end unless OUTPOST_DEMO_KEEP=1.
#
# Knobs: DEMO_MESSAGES (default 5000), DEMO_SEED, OUTPOST_STORAGE (sqlite|firebird).
set -euo pipefail
build=${1:-build}
build=$(cd "$build" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
sim="$build/tests/sim/kerio/outpost-sim-kerio"
outpost="$build/bin/outpost"
messages=${DEMO_MESSAGES:-5000}
seed=${DEMO_SEED:-42}
storage=${OUTPOST_STORAGE:-sqlite}

for f in "$sim" "$outpost"; do
  [ -x "$f" ] || { echo "demo: $f is missing; run make first" >&2; exit 1; }
done
[ -f "$build/plugins/outpost-transport-kerio.so" ] || { echo "demo: the Kerio transport plugin is not built" >&2; exit 1; }
[ -f "$build/plugins/outpost-storage-$storage.so" ] || { echo "demo: storage plugin '$storage' is not built" >&2; exit 1; }

demo=$(mktemp -d /tmp/outpost-demo.XXXXXX)
chmod 700 "$demo"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${OUTPOST_DEMO_KEEP:-0}" = 1 ]; then echo "demo: files kept in $demo"; else rm -rf "$demo"; fi
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Generating a test CA and server certificate (openssl)"
"$top/tests/sim/common/gen-certs.sh" "$demo/pki"

say "Starting the Kerio Connect simulator with $messages generated messages"
user=demo@example.com
printf 'demo-password\n' > "$demo/password"
chmod 600 "$demo/password"
"$sim" --listen 127.0.0.1:0 --cert "$demo/pki/server.pem" --key "$demo/pki/server.key" \
  --user "$user" --password demo-password --messages "$messages" --events 200 --contacts 300 \
  --tasks 100 --notes 50 --seed "$seed" --port-file "$demo/sim.port" --quiet > "$demo/sim.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do [ -s "$demo/sim.port" ] && break; sleep 0.1; done
[ -s "$demo/sim.port" ] || { echo "demo: the simulator did not start:" >&2; cat "$demo/sim.out" >&2; exit 1; }
port=$(cat "$demo/sim.port")
echo "simulator: https://127.0.0.1:$port/webmail/api/jsonrpc/"

imap_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'demo-imap\n' > "$demo/imap-password"
chmod 600 "$demo/imap-password"
cat > "$demo/outpost.ini" <<EOF
[core]
data_dir = $demo/data
plugin_dir = $build/plugins
log_level = notice

[storage]
plugin = $storage

[account]
transport = kerio
url = https://127.0.0.1:$port
user = $user
password_file = $demo/password
ca_file = $demo/pki/ca.pem

[imap]
listen = 127.0.0.1:$imap_port
user = demo
password_file = $demo/imap-password

[policy]
Inbox = full
EOF
chmod 600 "$demo/outpost.ini"

say "Initial sync into $storage"
start=$(date +%s.%N)
"$outpost" --config "$demo/outpost.ini" sync --once
end=$(date +%s.%N)
python3 -c "import sys; d=float(sys.argv[2])-float(sys.argv[1]); print(f'initial sync: {int(sys.argv[3])} messages in {d:.1f} s ({int(sys.argv[3])/d:.0f} messages/s end to end)')" "$start" "$end" "$messages"

say "outpost status"
"$outpost" --config "$demo/outpost.ini" status

if [ ! -f "$build/plugins/outpost-frontend-imap.so" ]; then
  say "The IMAP front-end is not built yet; the demo ends with the status above"
  exit 0
fi

say "Starting outpostd: IMAP on 127.0.0.1:$imap_port"
"$build/bin/outpostd" --config "$demo/outpost.ini" > "$demo/outpostd.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',int(sys.argv[1])),1)" "$imap_port" 2>/dev/null && break
  sleep 0.1
done

say "A real client (curl's IMAP) lists the mailboxes and the newest INBOX messages"
curl -sS --max-time 20 -u demo:demo-imap "imap://127.0.0.1:$imap_port/"
echo
echo "python3 imaplib reads the five newest INBOX messages:"
python3 - "$imap_port" <<'PY'
import email.header, email.parser, imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("demo", "demo-imap")
typ, data = m.select("INBOX", readonly=True)
n = int(data[0])
print(f"INBOX holds {n} messages")
typ, data = m.fetch(f"{max(1, n - 4)}:{n}", "(FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])")
for part in data:
    if not isinstance(part, tuple):
        continue
    h = email.parser.BytesHeaderParser().parsebytes(part[1])
    dec = lambda v: str(email.header.make_header(email.header.decode_header(v or "")))
    flags = "unread" if b"\\Seen" not in part[0] else "read"
    print(f"  {dec(h['Date'])[:25]:<25}  {dec(h['From'])[:34]:<34}  {dec(h['Subject'])[:60]}  ({flags})")
m.logout()
PY
say "Done. The same cache is what Thunderbird, mutt or mbsync would see on 127.0.0.1:$imap_port."
