#!/bin/sh
# gen-certs.sh DIR: test PKI for the in-tree server simulators (Kerio, EWS).
# Writes into DIR (created if missing), with the openssl CLI only:
#   ca.pem / ca.key          test CA ("Outpost Test CA")
#   server.pem / server.key  server cert signed by the CA, SAN 127.0.0.1, localhost, ::1
#   wrong-selfsigned.pem/.key  self-signed cert with the same SANs (not signed by the CA)
#   wrong-host.pem/.key      CA-signed cert for wrong.example.invalid only (hostname mismatch)
#   mail-example.pem/.key    CA-signed cert for mail.example.test and 127.0.0.1 (a simulator reached
#                            by a host name inside a private network namespace: tests/ews)
# Re-running is cheap: existing files are kept unless FORCE=1. Keys are RSA 2048, valid 825 days.
set -eu
dir=${1:?usage: gen-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
if [ -s server.pem ] && [ -s wrong-host.pem ] && [ -s wrong-selfsigned.pem ] && [ -s mail-example.pem ] &&
   [ "${FORCE:-0}" != 1 ]; then
  exit 0
fi
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 825 \
  -subj "/O=Outpost/CN=Outpost Test CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

# leaf NAME CN SAN: CA-signed server certificate
leaf() {
  cat > "$tmp/$1.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$3
EXT
  openssl req -new -newkey rsa:2048 -nodes -keyout "$1.key" -out "$tmp/$1.csr" \
    -subj "/O=Outpost/CN=$2" 2>/dev/null
  openssl x509 -req -in "$tmp/$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
    -out "$1.pem" -days 825 -sha256 -extfile "$tmp/$1.ext" 2>/dev/null
}
leaf server 127.0.0.1 "IP:127.0.0.1,DNS:localhost,IP:::1"
leaf wrong-host wrong.example.invalid "DNS:wrong.example.invalid"
leaf mail-example mail.example.test "DNS:mail.example.test,IP:127.0.0.1"

openssl req -x509 -newkey rsa:2048 -nodes -keyout wrong-selfsigned.key -out wrong-selfsigned.pem \
  -days 825 -subj "/O=Nobody/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost,IP:::1" 2>/dev/null
rm -f ca.srl
chmod 644 ./*.pem
