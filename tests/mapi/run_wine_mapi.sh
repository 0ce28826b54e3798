#!/bin/sh
# tests/mapi/run_wine_mapi.sh — the Outlook provider DLL under Wine against a
# running outpostd (ctest mapi_wine64, labels mapi;windows; mapi_wine32,
# label wine32).
#
# Usage: run_wine_mapi.sh ARCH SOURCE_DIR WORK_DIR MAPI_SEED OUTPOSTD PLUGIN_DIR
#   ARCH: x86_64 or i686
# 1. Cross-builds frontends/mapi/win32 (the DLL, the harness) with mingw-w64
#    and checks the DLL's export table: exactly MSProviderInit and
#    ServiceEntry, undecorated; no import of MAPI32.dll.
# 2. Seeds a fresh cache through the store API (mapi_seed) and starts
#    outpostd on it with `[core] frontends = mapi` on an ephemeral loopback
#    port (the Kerio transport points at a closed port: offline).
# 3. Runs mapi_abi_check.exe (omapi.h's layouts against mingw-w64's MAPI
#    headers) and the harness under Wine in a prefix of its own, headless: once
#    normally, once while the script stops, continues and kills outpostd
#    mid-query. Both must end with "N passed, 0 failed".
# 4. Synced run (wine_sync.py): the Kerio simulator serves a small generated
#    account, outpostd syncs it and serves it; the harness (sync mode) reads
#    it and edits it through the provider; the edits must reach the simulator
#    exactly once, and change nothing else there. Needs OUTPOST_SIM and the
#    other variables test_sync.py reads (set by CMake).
# Exit 77 (ctest: skipped) when mingw-w64 or Wine for ARCH is missing.
set -u

arch=$1
src=$2
work=$3
seed=$4
outpostd=$5
plugins=$6
cross=$work/cross
logs=$work/logs
data=$work/data
markers=$work/markers
prefix=$work/wineprefix
wine_ready=

say() { printf 'run_wine_mapi(%s): %s\n' "$arch" "$*"; }
fail() { say "FAIL: $*"; cleanup; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

daemon_pid=
cleanup() {
    if [ -n "$daemon_pid" ]; then
        kill -CONT "$daemon_pid" 2>/dev/null
        kill -TERM "$daemon_pid" 2>/dev/null
        wait "$daemon_pid" 2>/dev/null
        daemon_pid=
    fi
    if [ -n "$wine_ready" ]; then
        WINEPREFIX=$prefix "$wineserver" -k 2>/dev/null
    fi
    return 0
}
trap cleanup EXIT INT TERM

# ---- tools ---------------------------------------------------------------------
case $arch in
x86_64) triplet=x86_64-w64-mingw32 winearch=win64 dll=outpost-mapi64.dll
        wines="/usr/lib/wine/wine64 wine64" ;;
i686)   triplet=i686-w64-mingw32 winearch=win32 dll=outpost-mapi32.dll
        wines="/usr/lib/wine/wine" ;;
*) say "unknown ARCH $arch"; exit 2 ;;
esac
if ! command -v $triplet-gcc >/dev/null 2>&1; then
    say "skipped: $triplet-gcc not found (scripts/deps.sh installs mingw-w64)"
    exit 77
fi
wine=
for w in $wines; do
    if command -v "$w" >/dev/null 2>&1; then wine=$(command -v "$w"); break; fi
done
if [ "$arch" = i686 ] && [ -n "$wine" ] && ! file -L "$wine" 2>/dev/null | grep -q '32-bit'; then
    wine=
fi
wineserver=
for w in /usr/lib/wine/wineserver64 /usr/lib/wine/wineserver wineserver64 wineserver; do
    if command -v "$w" >/dev/null 2>&1; then wineserver=$(command -v "$w"); break; fi
done
if [ -z "$wine" ] || [ -z "$wineserver" ]; then
    if [ "$arch" = i686 ]; then
        say "skipped: 32-bit Wine is not installed (OUTPOST_WINE32=1 scripts/deps.sh adds wine32:i386)"
    else
        say "skipped: Wine not found (apt-get install wine wine64)"
    fi
    exit 77
fi
[ -x "$outpostd" ] || { say "FAIL: $outpostd not built"; exit 1; }

mkdir -p "$work" "$logs" || fail "cannot create $work"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$work/.lock"
    flock -w 600 9 || fail "another run holds $work/.lock"
fi

# ---- cross build -----------------------------------------------------------------
unset CC CFLAGS CPPFLAGS LDFLAGS MAKEFLAGS MFLAGS MAKELEVEL
t=$(now)
if [ ! -f "$cross/CMakeCache.txt" ]; then
    cmake -S "$src/frontends/mapi/win32" -B "$cross" \
        -DCMAKE_TOOLCHAIN_FILE="$src/cmake/mingw-w64-$arch.cmake" >"$logs/configure.log" 2>&1 ||
        { cat "$logs/configure.log"; fail "cross configure failed (log above)"; }
fi
cmake --build "$cross" -j2 >"$logs/build.log" 2>&1 ||
    { cat "$logs/build.log"; fail "cross build failed (log above)"; }
if grep -q 'warning:' "$logs/build.log"; then
    grep 'warning:' "$logs/build.log"
    fail "the cross build has warnings"
fi
say "cross build ready in $(since "$t")"

# ---- export table ----------------------------------------------------------------
$triplet-objdump -p "$cross/$dll" >"$logs/objdump.txt" || fail "objdump -p $dll failed"
exports=$(sed -n '/\[Ordinal\/Name Pointer\] Table/,/^$/p' "$logs/objdump.txt" | sed -n 's/^[[:space:]]*\[ *[0-9]*\] //p' | tr '\n' ' ')
if [ "$exports" != "MSProviderInit ServiceEntry " ]; then
    fail "$dll exports '$exports', expected exactly 'MSProviderInit ServiceEntry'"
fi
if grep -qi 'DLL Name: MAPI32' "$logs/objdump.txt"; then
    fail "$dll imports MAPI32.dll: the provider must use only what MAPI hands it"
fi
say "ok - $dll exports: $exports; imports: $(sed -n 's/.*DLL Name: //p' "$logs/objdump.txt" | tr '\n' ' ')"

# ---- Wine prefix -------------------------------------------------------------------
wine_ready=1
. "$src/tests/common/wine_prefix.sh"
wine_prefix_setup "$prefix" "$winearch" "$work" "$logs"

# ---- outpostd on a seeded cache ---------------------------------------------------
start_daemon() {
    rm -rf "$data"
    mkdir -p "$data" && chmod 700 "$data"
    "$seed" "$data" "$plugins" >"$logs/seed.log" 2>&1 || { cat "$logs/seed.log"; fail "mapi_seed failed"; }
    printf 'x\n' >"$data/password" && chmod 600 "$data/password"
    cat >"$data/outpost.ini" <<INI
[core]
data_dir = $data
plugin_dir = $plugins
frontends = mapi
log_level = info
[storage]
plugin = sqlite
durability = normal
[account]
; offline: nothing listens on port 9
transport = kerio
url = https://127.0.0.1:9
user = test
password_file = $data/password
[mapi]
listen = 127.0.0.1:0
display_name = Outpost (Wine test)
INI
    # Emptied here, not by the background job's redirection: that runs in the
    # child, and the port search below could read the last run's log first.
    : >"$logs/outpostd-$1.log"
    "$outpostd" --config "$data/outpost.ini" >>"$logs/outpostd-$1.log" 2>&1 &
    daemon_pid=$!
    port=
    for _ in $(seq 1 200); do
        port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$logs/outpostd-$1.log" | head -n 1)
        [ -n "$port" ] && break
        kill -0 "$daemon_pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$port" ] || { cat "$logs/outpostd-$1.log"; fail "outpostd did not start the MAPI front-end (log above)"; }
    say "outpostd (pid $daemon_pid) serves the MAPI front-end on 127.0.0.1:$port"
}

status=0
harness=$cross/harness/mapi_harness.exe
[ -f "$harness" ] || fail "$harness was not built"

check_log() {
    tr -d '\r' <"$logs/$1.log" >"$logs/$1.txt"
    cat "$logs/$1.txt"
    last=$(tail -n 1 "$logs/$1.txt")
    if [ "$2" -eq 0 ] && printf '%s\n' "$last" | grep -Eq '^[1-9][0-9]* passed, 0 failed$'; then
        say "$1: $last (exit 0, $(since "$3"))"
    else
        say "FAIL: $1 exited $2, last line '$last' ($(since "$3"))"
        status=1
    fi
}

# Struct layouts: omapi.h against mingw-w64's headers.
t=$(now)
timeout 60 "$wine" "$cross/harness/mapi_abi_check.exe" >"$logs/abi_check.log" 2>&1
check_log abi_check $? "$t"

# Normal run, with the call trace recorded.
start_daemon normal
t=$(now)
OUTPOST_MAPI_TRACE=$(winpath "$logs/trace-$arch.txt") timeout 120 "$wine" "$harness" "$(winpath "$cross/$dll")" \
    "127.0.0.1:$port" "$(winpath "$data/mapi.secret")" >"$logs/harness.log" 2>&1
check_log harness $? "$t"
cleanup

# Kill run: stop, continue, stop and kill outpostd while the harness queries.
start_daemon kill
rm -rf "$markers" && mkdir -p "$markers"
t=$(now)
OUTPOST_MAPI_TIMEOUT_MS=3000 timeout 120 "$wine" "$harness" "$(winpath "$cross/$dll")" "127.0.0.1:$port" \
    "$(winpath "$data/mapi.secret")" kill "$(winpath "$markers")" >"$logs/harness-kill.log" 2>&1 &
hpid=$!
wait_file() {
    for _ in $(seq 1 600); do
        [ -e "$markers/$1" ] && return 0
        kill -0 "$hpid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
if wait_file stop-me; then
    kill -STOP "$daemon_pid" && touch "$markers/stopped"
    if wait_file continue-me; then
        kill -CONT "$daemon_pid" && touch "$markers/continued"
        if wait_file kill-me; then
            kill -STOP "$daemon_pid" && touch "$markers/stopped-again"
            sleep 1
            kill -KILL "$daemon_pid"
            wait "$daemon_pid" 2>/dev/null
            daemon_pid=
        fi
    fi
fi
wait "$hpid"
check_log harness-kill $? "$t"
cleanup

# Synced run: a cache synced from the Kerio simulator, edits through the
# provider, each on the server exactly once (wine_sync.py).
if [ -n "${OUTPOST_SIM:-}" ] && [ -x "$OUTPOST_SIM" ]; then
    t=$(now)
    wine_ready=1
    timeout -k 20 420 python3 -B "$src/tests/mapi/wine_sync.py" --workdir "$work/sync" --wine "$wine" --harness "$harness" \
        --dll "$(winpath "$cross/$dll")" >"$logs/wine-sync.log" 2>&1
    rc=$?
    cat "$logs/wine-sync.log"
    if [ $rc -eq 0 ]; then
        say "synced run: the provider's edits reached the simulator exactly once ($(since "$t"))"
    else
        say "FAIL: synced run (wine_sync.py) exited $rc ($(since "$t"))"
        status=1
    fi
    "$wineserver" -k 2>/dev/null
else
    say "FAIL: OUTPOST_SIM is not set (the Kerio simulator is not built): the synced run cannot run"
    status=1
fi
exit $status
