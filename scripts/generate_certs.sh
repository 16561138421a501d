#!/usr/bin/env bash
# Generate a private CA and, signed by it, a server certificate and a client certificate, every one with
# subjectAltName (clients ignore a legacy Common Name). For nginx in front of the API on a LAN or on
# loopback, and for mutual TLS between nodes; a public name should use Let's Encrypt (docs/OPERATIONS.md).
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/generate_certs.sh [--out DIR] [--names NAME,NAME,...] [--client NAME] [--days N] [--force] [--dry-run]
  --out DIR      where to write ca.crt, ca.key, server.crt, server.key, client.crt, client.key (default: certs)
  --names LIST   server names and addresses for the SAN (default: localhost,127.0.0.1,::1)
  --client NAME  the client certificate's name, also its SAN (default: mcp-client)
  --days N       validity in days (default: 397, what browsers accept for a server certificate)
  --force        overwrite existing files in DIR
  --dry-run      print what would be written, write nothing
USAGE
}

out=certs names="localhost,127.0.0.1,::1" client=mcp-client days=397 force=0 dry_run=0
while [ $# -gt 0 ]; do
    case $1 in
        --out) out=${2:?--out needs a directory}; shift 2 ;;
        --names) names=${2:?--names needs a list}; shift 2 ;;
        --client) client=${2:?--client needs a name}; shift 2 ;;
        --days) days=${2:?--days needs a number}; shift 2 ;;
        --force) force=1; shift ;;
        --dry-run) dry_run=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done

command -v openssl >/dev/null || { echo "openssl is required: apt-get install -y openssl" >&2; exit 1; }
[[ $days =~ ^[0-9]+$ ]] || { echo "--days must be a number" >&2; exit 2; }

# Each name becomes DNS:name or IP:address, so clients match it whatever they connect with.
san=""
IFS=, read -r -a entries <<<"$names"
for name in "${entries[@]}"; do
    name=${name// /}
    [ -n "$name" ] || continue
    if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then kind=IP; else kind=DNS; fi
    san+="${san:+,}$kind:$name"
done
[ -n "$san" ] || { echo "--names gave no name" >&2; exit 2; }
first=${entries[0]// /}

echo "==> certificates in $out: CA, server (subjectAltName $san), client $client; valid $days days"
if [ "$dry_run" -eq 1 ]; then
    echo "dry run: would write $out/ca.{crt,key} $out/server.{crt,key} $out/client.{crt,key} (keys 0600, folder 0700)"
    exit 0
fi
if [ "$force" -eq 0 ] && [ -e "$out/ca.key" ]; then
    echo "$out/ca.key exists: refusing to replace a CA (use --force, and redistribute ca.crt)" >&2
    exit 1
fi

umask 077
mkdir -p "$out"
chmod 700 "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

key "$out/ca.key"
openssl req -x509 -new -key "$out/ca.key" -sha256 -days "$days" -subj "/O=Lightning fee control plane/CN=MCP private CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" -out "$out/ca.crt"

sign() { # sign NAME SUBJECT_CN EXTENSIONS
    key "$out/$1.key"
    openssl req -new -key "$out/$1.key" -subj "/O=Lightning fee control plane/CN=$2" -out "$work/$1.csr"
    printf '%s\n' "$3" >"$work/$1.ext"
    openssl x509 -req -in "$work/$1.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
        -CAserial "$work/ca.srl" -sha256 -days "$days" -extfile "$work/$1.ext" -out "$out/$1.crt" 2>/dev/null
}

sign server "$first" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
subjectAltName=$san"
sign client "$client" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
subjectAltName=DNS:$client"

chmod 600 "$out"/*.key
chmod 644 "$out"/*.crt
openssl verify -CAfile "$out/ca.crt" "$out/server.crt" "$out/client.crt"

echo "==> done. Next:"
echo "  openssl x509 -in $out/server.crt -noout -ext subjectAltName     # the names it is valid for"
echo "  MCP_TLS_CERT=$out/server.crt MCP_TLS_KEY=$out/server.key scripts/configure_nginx_production.sh --dry-run"
echo "  curl --cacert $out/ca.crt https://$first/health                  # once nginx serves it"
