#!/bin/sh
# Records the IMAP ENVELOPE and BODYSTRUCTURE Dovecot computes for each
# CRLF fixture here into NAME.envelope / NAME.bodystructure (the FETCH values,
# outer parentheses included, literals as {N}CRLF). Run once by hand when a
# fixture is added; the unit tests never need Dovecot. LF-only fixtures are not
# recorded: Dovecot reports CRLF ("virtual") sizes for them while Outpost
# reports the stored bytes, so their expected files are written by hand.
# Usage: tests/store/mime/record-dovecot.sh   (needs dovecot-imapd, root)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
D=$(mktemp -d); chmod 755 "$D"
trap 'doveadm -c "$D/dovecot.conf" stop 2>/dev/null || true; rm -rf "$D"' EXIT
mkdir -p "$D/Maildir/cur" "$D/Maildir/new" "$D/Maildir/tmp" "$D/run"
cat > "$D/dovecot.conf" <<CONF
base_dir = $D/run
mail_location = maildir:$D/Maildir
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$D
}
passdb {
  driver = static
  args = nopassword=y
}
log_path = $D/log
ssl = no
protocols = imap
listen = 127.0.0.1
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = 0
  }
}
CONF
for f in "$here"/*.eml; do
  case "$(basename "$f")" in *lf*) continue ;; esac
  cp "$f" "$D/Maildir/cur/$(basename "$f" .eml):2,"
done
chown -R nobody:nogroup "$D/Maildir"
dovecot -c "$D/dovecot.conf"
doveadm -c "$D/dovecot.conf" -f json fetch -u nobody 'guid imap.envelope imap.bodystructure' mailbox INBOX all |
python3 -c '
import json, sys
for m in json.load(sys.stdin):
    base = sys.argv[1] + "/" + m["guid"]
    for k, ext in (("imap.envelope", "envelope"), ("imap.bodystructure", "bodystructure")):
        with open(base + "." + ext, "wb") as f:
            f.write(("(" + m[k] + ")").encode("utf-8"))
' "$here"
