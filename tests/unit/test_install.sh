#!/bin/sh
# tests/unit/test_install.sh — `make install` as an operator meets it: the staged tree
# (DESTDIR) has the programs, the plugins, the man pages, the sample config and a systemd user
# unit where the user manager looks, starting the installed daemon; the installed CLI loads the
# installed plugins and makes a working config with them.
# usage: test_install.sh BUILD_DIR CMAKE INSTALL_PREFIX
set -u
build=$1 cmake=$2 prefix=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/outpost-install-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

stage=$tmp/stage
if ! DESTDIR=$stage "$cmake" --install "$build" >"$tmp/install.log" 2>&1; then
  cat "$tmp/install.log"; echo "FAIL: cmake --install"; exit 1
fi
root=$stage$prefix
for f in bin/outpost bin/outpostd share/man/man1/outpost.1 share/man/man5/outpost.ini.5 \
         share/doc/outpost/examples/outpost.ini; do
  [ -e "$root/$f" ] && ok || bad "not installed: $prefix/$f"
done

# systemd reads user units from PREFIX/lib/systemd/user (never a multiarch libdir).
unit=$root/lib/systemd/user/outpostd.service
if [ -f "$unit" ]; then ok; else bad "no unit in $prefix/lib/systemd/user: $(cd "$stage" && find . -name 'outpostd.service')"; fi
exec_start=$(sed -n 's/^ExecStart=//p' "$unit" 2>/dev/null)
[ "$exec_start" = "$prefix/bin/outpostd" ] && [ -x "$stage$exec_start" ] && ok || bad "ExecStart=$exec_start is not the installed outpostd"
# Paths the sandbox must find, made optional: the cache directory does not exist before
# `outpost init`, and a missing ReadWritePaths entry stops the unit from starting at all.
rw=$(sed -n 's/^ReadWritePaths=//p' "$unit" 2>/dev/null)
[ -n "$rw" ] && ok || bad "no ReadWritePaths in the unit"
for p in $rw; do
  case $p in -*) ok ;; *) bad "ReadWritePaths entry $p is not optional ('-')" ;; esac
done
# A user manager cannot see the system's network-online.target.
grep -v '^#' "$unit" | grep -q 'network-online' && bad "the user unit orders itself after a system target" || ok
grep -q 'conf/outpostd.service ' "$unit" && bad "the unit's comment names a file that does not exist" || ok

# The installed CLI with the installed plugins (a staged tree needs OUTPOST_PLUGIN_DIR).
plugins=$root/lib/outpost/plugins
out=$(OUTPOST_PLUGIN_DIR=$plugins "$root/bin/outpost" --config "$tmp/none.ini" plugins --json 2>&1)
if python3 -c 'import json,sys; a={(p["kind"],p["name"]) for p in json.loads(sys.argv[1]) if p["loaded"]}; assert {("storage","sqlite"),("transport","kerio"),("transport","ews"),("frontend","imap")} <= a, a' "$out"
then ok; else bad "installed plugins: $out"; fi
out=$("$root/bin/outpostd" --help 2>&1) && echo "$out" | grep -q "usage: outpost" && ok || bad "installed outpostd --help: $out"
echo pw > "$tmp/pw"; chmod 600 "$tmp/pw"
out=$(cd "$tmp" && HOME=$tmp XDG_CONFIG_HOME=$tmp/config XDG_DATA_HOME=$tmp/data OUTPOST_PLUGIN_DIR=$plugins \
      "$root/bin/outpost" init --url https://127.0.0.1:9 --user u --password-file pw 2>&1) && ok || bad "installed init: $out"
out=$(HOME=$tmp XDG_CONFIG_HOME=$tmp/config XDG_DATA_HOME=$tmp/data OUTPOST_PLUGIN_DIR=$plugins "$root/bin/outpost" check 2>&1)
echo "$out" | grep -q "storage: ok (sqlite, $tmp/data/outpost)" && ok || bad "installed check: $out"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
