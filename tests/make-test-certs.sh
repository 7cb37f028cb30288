#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Makes the certificates of the TLS tests in the directory $1 (which exists):
#   ca.pem                      the tests' own certificate authority
#   server.pem, server.key      localhost, 127.0.0.1 and ::1, signed by the CA
#   wronghost.pem/.key          wrong.example, signed by the CA
#   expired.pem/.key            localhost, signed by the CA, expired in 2020
#   self.pem/.key               localhost, self-signed (an unknown authority)
# EC P-256 keys: quick to make. Needs the openssl command.
set -eu
cd "$1"
quiet() { "$@" >/dev/null 2>&1 || { "$@"; exit 1; }; }
newkey="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"

quiet openssl req -x509 $newkey -keyout ca.key -out ca.pem -days 2 -subj "/CN=gio-socket test CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign

leaf_request() {  # name common-name subject-alt-names
  quiet openssl req $newkey -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n' "$3" > "$1.ext"
}
leaf_request server localhost "DNS:localhost,IP:127.0.0.1,IP:::1"
quiet openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 1 -days 2 \
  -extfile server.ext -out server.pem
leaf_request wronghost wrong.example "DNS:wrong.example"
quiet openssl x509 -req -in wronghost.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 2 \
  -extfile wronghost.ext -out wronghost.pem

# openssl x509 cannot date a certificate in the past; openssl ca can.
leaf_request expired localhost "DNS:localhost,IP:127.0.0.1,IP:::1"
: > index.txt
echo 03 > serial
cat > ca.cnf <<'CNF'
[ ca ]
default_ca = test
[ test ]
database = index.txt
new_certs_dir = .
certificate = ca.pem
private_key = ca.key
serial = serial
default_md = sha256
policy = any
[ any ]
commonName = supplied
CNF
quiet openssl ca -batch -config ca.cnf -in expired.csr -out expired.pem -notext \
  -startdate 20200101000000Z -enddate 20200102000000Z -extfile expired.ext

quiet openssl req -x509 $newkey -keyout self.key -out self.pem -days 2 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"
