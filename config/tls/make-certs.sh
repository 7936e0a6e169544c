#!/bin/sh
# The private CA and certificates of docker-compose.yml's `tls` profile, made
# with openssl into DIR (the `switchyard-tls` volume, /tls):
#
#   ca.pem                        the CA: give it to clients (curl --cacert, switchyard --ca)
#   gateway.pem, gateway-key.pem  gateway-tls's certificate, for its admin and proxy ports
#                                 (names: gateway-tls, localhost, 127.0.0.1)
#   cli.pem, cli-key.pem          a client certificate for mutual TLS (switchyard --cert/--key)
#
#   make-certs.sh DIR          makes what is missing: a restart keeps the CA clients trust
#   make-certs.sh DIR renew    issues gateway.pem again from the same CA; the gateway
#                              picks it up on its own (or on SIGHUP)
#
# A demo CA: outside a demo, certificates come from your CA or cert-manager.
set -eu
dir="${1:-/tls}"
mode="${2:-}"
command -v openssl >/dev/null 2>&1 || apk add --no-cache openssl >/dev/null
mkdir -p "$dir"
cd "$dir"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

# issue NAME SUBJECT EXTENSIONS: written beside and renamed into place, key
# first, so a gateway following the files never reads half of a pair.
issue() {
  key "$1-key.pem.new"
  openssl req -new -key "$1-key.pem.new" -subj "/CN=$2" -out "$1.csr"
  printf '%b\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 90 -extfile "$1.ext" -out "$1.pem.new"
  rm -f "$1.csr" "$1.ext"
  # The gateway and the CLI run as the image's `node` user (uid 1000) and must read their keys.
  if [ "$(id -u)" = 0 ]; then chown 1000:1000 "$1-key.pem.new"; fi
  chmod 600 "$1-key.pem.new"
  chmod 644 "$1.pem.new"
  mv "$1-key.pem.new" "$1-key.pem"
  mv "$1.pem.new" "$1.pem"
  echo "issued $dir/$1.pem (CN=$2)"
}

if [ ! -s ca.pem ]; then
  key ca-key.pem
  chmod 600 ca-key.pem
  openssl req -x509 -new -key ca-key.pem -subj "/CN=Switchyard compose CA" -days 365 -out ca.pem
  chmod 644 ca.pem
  echo "made $dir/ca.pem"
fi
if [ ! -s gateway.pem ] || [ "$mode" = renew ]; then
  issue gateway gateway-tls 'subjectAltName=DNS:gateway-tls,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth'
fi
if [ ! -s cli.pem ]; then
  issue cli switchyard-cli 'extendedKeyUsage=clientAuth'
fi
