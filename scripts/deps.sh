#!/usr/bin/env bash
# Installs every Debian package Outpost needs to build, test and benchmark.
# Idempotent: when every package is already installed it does nothing at all.
# Groups: build (compilers, libraries), test (real clients, Wine, mingw-w64),
# bench (peers such as Dovecot). OUTPOST_DEPS_GROUPS="build test" limits the set.
# OUTPOST_WINE32=1 also enables i386 multiarch and installs 32-bit Wine.
set -euo pipefail

build=(
  build-essential cmake make pkg-config clang libclang-rt-14-dev llvm
  libcurl4-openssl-dev libssl-dev openssl ca-certificates
  libjansson-dev libyajl-dev libxml2-dev libgmime-3.0-dev libical-dev libvformat-dev
  libinih-dev libsqlite3-dev sqlite3 libzstd-dev
  firebird-dev libfbclient2 firebird3.0-server-core firebird3.0-utils
  libcmocka-dev libmicrohttpd-dev zlib1g-dev
)
test=(
  curl python3 mingw-w64 wine wine64 bindfs fuse3 isync offlineimap3 neomutt
  msitools wixl procps util-linux iproute2 xxd file dnsmasq-base
)
bench=(
  dovecot-imapd dovecot-core hyperfine
)

groups=${OUTPOST_DEPS_GROUPS:-build test bench}
want=()
for g in $groups; do
  case $g in
    build) want+=("${build[@]}") ;;
    test) want+=("${test[@]}") ;;
    bench) want+=("${bench[@]}") ;;
    *) echo "deps.sh: unknown group '$g' (expected build, test or bench)" >&2; exit 2 ;;
  esac
done

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
    echo "deps.sh: not root and no sudo; install these as root: ${want[*]}" >&2; exit 1
  fi
fi

if [ "${OUTPOST_WINE32:-0}" = 1 ] && ! dpkg --print-foreign-architectures | grep -qx i386; then
  "${sudo[@]}" dpkg --add-architecture i386
  want+=(wine32:i386)
  force_update=1
elif [ "${OUTPOST_WINE32:-0}" = 1 ]; then
  want+=(wine32:i386)
fi

missing=()
for p in "${want[@]}"; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$st" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ] && [ -z "${force_update:-}" ]; then
  exit 0
fi

echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
