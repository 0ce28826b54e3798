#!/bin/sh
# tests/windows/run_wine.sh — the Windows check of the native build (ctest label windows).
#
# Usage: run_wine.sh SOURCE_DIR WORK_DIR
# Cross-builds the SDK-only tree with mingw-w64 into WORK_DIR/cross, then runs
# its test .exe files under Wine in a prefix of its own (WORK_DIR/wineprefix,
# created with wineboot the first time), headless. Passes when every .exe exits
# 0 and ends with "N passed, 0 failed", N > 0. Exit 77 (ctest: skipped) when
# mingw-w64 or Wine is missing.
set -u

src=$1
work=$2
cross=$work/cross
prefix=$work/wineprefix
logs=$work/logs

say() { printf 'run_wine: %s\n' "$*"; }
fail() { say "FAIL: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

# ---- tools -------------------------------------------------------------------
if ! command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1; then
    say "skipped: x86_64-w64-mingw32-gcc not found (apt-get install gcc-mingw-w64-x86-64)"
    exit 77
fi
wine=
for w in /usr/lib/wine/wine64 wine64 wine; do
    if command -v "$w" >/dev/null 2>&1; then wine=$(command -v "$w"); break; fi
done
wineserver=
for w in /usr/lib/wine/wineserver64 wineserver64 wineserver; do
    if command -v "$w" >/dev/null 2>&1; then wineserver=$(command -v "$w"); break; fi
done
if [ -z "$wine" ] || [ -z "$wineserver" ]; then
    say "skipped: Wine not found (apt-get install wine wine64)"
    exit 77
fi

mkdir -p "$work" "$logs" || fail "cannot create $work"
# One run at a time per build tree (two ctest runs would share the prefix).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$work/.lock"
    flock -w 600 9 || fail "another run_wine.sh holds $work/.lock"
fi

# ---- cross build ---------------------------------------------------------------
# The native build's compiler and flags (CC=clang, CFLAGS=-fsanitize=...) are not
# for mingw-w64: the toolchain file picks the compiler.
unset CC CFLAGS CPPFLAGS LDFLAGS
# Under `make check`, ctest inherits make's jobserver, which is not ours.
unset MAKEFLAGS MFLAGS MAKELEVEL
t=$(now)
if [ ! -f "$cross/CMakeCache.txt" ]; then
    cmake -S "$src" -B "$cross" -DCMAKE_TOOLCHAIN_FILE="$src/cmake/mingw-w64-x86_64.cmake" \
        -DOUTPOST_SDK_ONLY=ON >"$logs/configure.log" 2>&1 ||
        { cat "$logs/configure.log"; fail "cross configure failed (log above)"; }
fi
cmake --build "$cross" -j2 >"$logs/build.log" 2>&1 ||
    { cat "$logs/build.log"; fail "cross build failed (log above)"; }
say "cross build ready in $(since "$t")"

# ---- Wine prefix -------------------------------------------------------------------
. "$src/tests/common/wine_prefix.sh"
wine_prefix_setup "$prefix" win64 "$work" "$logs"

# ---- tests ---------------------------------------------------------------------
status=0
run() {
    name=$1
    shift
    exe=$cross/tests/windows/$name.exe
    [ -f "$exe" ] || fail "$exe was not built"
    t=$(now)
    timeout 120 "$wine" "$exe" "$@" >"$logs/$name.log" 2>&1
    rc=$?
    tr -d '\r' <"$logs/$name.log" >"$logs/$name.txt"
    cat "$logs/$name.txt"
    last=$(tail -n 1 "$logs/$name.txt")
    if [ "$rc" -eq 0 ] && printf '%s\n' "$last" | grep -Eq '^[1-9][0-9]* passed, 0 failed$'; then
        say "$name: $last (exit 0, $(since "$t"))"
    else
        say "FAIL: $name exited $rc, last line '$last' ($(since "$t"))"
        status=1
    fi
}

run test_platform_win "$(winpath "$work/scratch")"
run test_loader_win "$(winpath "$cross/tests/unit/loader-fixtures")" "$(winpath "$cross/plugins")"

if grep -q '^skip - example plugin' "$logs/test_loader_win.txt" 2>/dev/null; then
    say "NOTE: the SDK example plugin was not cross-built, so it was not loaded (docs/windows.md)"
fi

# Stop this prefix's wineserver now rather than letting it linger.
"$wineserver" -k 2>/dev/null
exit $status
