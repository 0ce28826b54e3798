#!/bin/sh
# frontends/mapi/win32/install/make_msi.sh — builds outpost-mapi.msi with
# msitools' wixl from the two cross-built DLLs.
# Usage: make_msi.sh DLL64 DLL32 OUT.msi [VERSION]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dll64=$1 dll32=$2 out=$3 version=${4:-0.1.0}
command -v wixl >/dev/null 2>&1 || { echo "make_msi.sh: wixl not found (apt-get install wixl)" >&2; exit 77; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$dll64" "$stage/outpost-mapi64.dll"
cp "$dll32" "$stage/outpost-mapi32.dll"
cp "$here/outpost-mapi-register.ps1" "$here/outpost-mapisvc.inf" "$here/outpost-mapi.wxs" "$stage/"
cp "$here/../../README.md" "$stage/README.md"
out_abs=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
(cd "$stage" && wixl -a x64 -D Version="$version" -o "$out_abs" outpost-mapi.wxs)
