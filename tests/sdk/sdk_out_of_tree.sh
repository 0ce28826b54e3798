#!/bin/sh
# sdk_out_of_tree.sh — the installed SDK is enough to build a plugin.
#
# usage: sdk_out_of_tree.sh BUILD_DIR EXAMPLE_DIR CMAKE SDK_VERSION PLUGIN_VERSION [OUTPOST_CLI]
#
# Installs BUILD_DIR into a staging directory (DESTDIR), builds a copy of the
# example plugin with its Makefile (pkg-config only) and with its
# CMakeLists.txt (find_package(Outpost) only), checks that each plugin exports
# outpost_plugin_entry and nothing else, then lists it with
# `outpost plugins --json`. Exits 77 (skipped) after the build checks when no
# CLI is given.
set -eu

build=$1 example=$2 cmake=$3 sdk_version=$4 plugin_version=$5 cli=${6:-}

fail() { echo "FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/outpost-sdk-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

stage=$tmp/stage
DESTDIR=$stage "$cmake" --install "$build" >"$tmp/install.log" 2>&1 \
    || { cat "$tmp/install.log" >&2; fail "cmake --install $build"; }

pc=$(find "$stage" -path '*/pkgconfig/outpost.pc' | head -n 1)
[ -n "$pc" ] || fail "no pkgconfig/outpost.pc in the installed tree"
config=$(find "$stage" -path '*/cmake/Outpost/OutpostConfig.cmake' | head -n 1)
[ -n "$config" ] || fail "no cmake/Outpost/OutpostConfig.cmake in the installed tree"
[ -f "$(dirname "$config")/OutpostConfigVersion.cmake" ] || fail "no OutpostConfigVersion.cmake"

# pkg-config sees only the staged tree.
PKG_CONFIG_PATH=$(dirname "$pc")
PKG_CONFIG_LIBDIR=$PKG_CONFIG_PATH
PKG_CONFIG_SYSROOT_DIR=$stage
PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1
export PKG_CONFIG_PATH PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_ALLOW_SYSTEM_CFLAGS

[ "$(pkg-config --modversion outpost)" = "$sdk_version" ] || fail "outpost.pc Version is not $sdk_version"
[ "$(pkg-config --variable=abi_major outpost)" = 1 ] || fail "outpost.pc abi_major is not 1"
[ "$(pkg-config --variable=abi_minor outpost)" = 2 ] || fail "outpost.pc abi_minor is not 2"
case $(pkg-config --variable=plugindir outpost) in
*/outpost/plugins) ;;
*) fail "outpost.pc plugindir does not end in /outpost/plugins" ;;
esac
[ -z "$(pkg-config --libs outpost)" ] || fail "outpost.pc has Libs: plugins never link the core"
cflags=$(pkg-config --cflags outpost)
case $cflags in
*"$stage"/*) ;;
*) fail "pkg-config --cflags outpost ($cflags) does not point into the staged install" ;;
esac
for h in abi host item storage transport frontend; do
    [ -f "$stage$(pkg-config --variable=includedir outpost | sed "s|^$stage||")/outpost/$h.h" ] \
        || fail "outpost/$h.h not installed"
done

# Exactly one exported symbol: the entry point.
check_exports() {
    syms=$(nm -D --defined-only "$1" | awk '{ print $3 }' | sort)
    [ "$syms" = outpost_plugin_entry ] || fail "$1 exports: $(echo $syms) (want only outpost_plugin_entry)"
}

# 1. make + pkg-config, from a copy outside the source tree.
cp -R "$example" "$tmp/src"
rm -f "$tmp/src"/*.o "$tmp/src"/*.so
make -C "$tmp/src" >"$tmp/make.log" 2>&1 || { cat "$tmp/make.log" >&2; fail "make (pkg-config build)"; }
so=$tmp/src/outpost-transport-maildir.so
[ -f "$so" ] || fail "make built no outpost-transport-maildir.so"
check_exports "$so"

# 2. CMake + find_package(Outpost).
"$cmake" -S "$tmp/src" -B "$tmp/cmake-build" -DOutpost_DIR="$(dirname "$config")" \
    >"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log" >&2; fail "cmake configure with find_package(Outpost)"; }
"$cmake" --build "$tmp/cmake-build" >>"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log" >&2; fail "cmake build"; }
check_exports "$tmp/cmake-build/outpost-transport-maildir.so"
echo "ok: the example builds against the installed SDK (make + pkg-config, CMake + find_package)"

if [ -z "$cli" ]; then
    echo "skipped: the outpost CLI is not built, so loading the plugin is not checked"
    exit 77
fi

# 3. The CLI loads it from a plugin_dir holding only this plugin.
mkdir "$tmp/plugins"
chmod 755 "$tmp/plugins"
cp "$so" "$tmp/plugins/"
chmod 644 "$tmp/plugins/outpost-transport-maildir.so"
cat >"$tmp/outpost.ini" <<INI
[core]
plugin_dir = $tmp/plugins
INI
"$cli" --config "$tmp/outpost.ini" plugins --json >"$tmp/plugins.json" 2>"$tmp/cli.err" \
    || { cat "$tmp/cli.err" >&2; fail "outpost plugins --json exited non-zero"; }
python3 - "$tmp/plugins.json" "$tmp/plugins" "$plugin_version" <<'PY' || fail "outpost plugins --json does not list the example as loaded"
import json, os, sys
path, plugdir, version = sys.argv[1:4]
with open(path) as f:
    listing = json.load(f)
assert isinstance(listing, list), "not a JSON array"
mine = [p for p in listing
        if os.path.realpath(os.path.dirname(p.get("file") or "")) == os.path.realpath(plugdir)]
assert len(mine) == 1, "want one entry from %s, got %r" % (plugdir, listing)
p = mine[0]
want = {"kind": "transport", "name": "maildir", "version": version, "abi": "1.2", "loaded": True, "error": None}
bad = {k: (p.get(k), v) for k, v in want.items() if p.get(k) != v}
assert not bad, "unexpected values (got, want): %r" % bad
assert p.get("description"), "no description"
print("ok: outpost plugins --json lists %s" % p["file"])
PY
