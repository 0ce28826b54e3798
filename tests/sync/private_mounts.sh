#!/bin/sh
# private_mounts.sh COMMAND... — runs COMMAND in a private mount namespace, so
# the tmpfs a test mounts never shows in the host's mount table, even if the
# test dies. Needs root; exits 77 (ctest: skipped) where that is not possible.
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
  OUTPOST_PRIVATE_MOUNTS=1 exec unshare -m --propagation private "$@"
fi
echo "skipped: needs root and unshare -m (a private mount namespace)"
exit 77
