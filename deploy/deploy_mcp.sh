#!/usr/bin/env bash
# Validate, plan and run the control plane's Nomad job with the local `nomad` CLI, over TLS, with a token.
# It talks to the cluster's API only; it never edits an agent's configuration (see deploy/deploy_mcp_volume.sh
# for the client-side steps, printed for you to do).
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: deploy/deploy_mcp.sh --address URL --ca-cert FILE [--job FILE] [--replicas N] [--plan] [--dry-run]
  --address URL   the Nomad API, https:// (default: $NOMAD_ADDR)
  --ca-cert FILE  the CA that signed the Nomad servers' certificates (default: $NOMAD_CACERT)
  --job FILE      the job (default: deploy/mcp-api.nomad; Docker: deploy/mcp-api-docker.nomad)
  --replicas N    API replicas (default: the job's, 3)
  --plan          validate and plan only, do not run
  --dry-run       print the nomad commands, run nothing
The token comes from NOMAD_TOKEN (or the file named by NOMAD_TOKEN_FILE, mode 0600), never from the command line.
USAGE
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
address=${NOMAD_ADDR:-} ca_cert=${NOMAD_CACERT:-} job=$here/mcp-api.nomad replicas="" plan_only=0 dry_run=0
while [ $# -gt 0 ]; do
    case $1 in
        --address) address=${2:?--address needs a URL}; shift 2 ;;
        --ca-cert) ca_cert=${2:?--ca-cert needs a file}; shift 2 ;;
        --job) job=${2:?--job needs a file}; shift 2 ;;
        --replicas) replicas=${2:?--replicas needs a number}; shift 2 ;;
        --plan) plan_only=1; shift ;;
        --dry-run) dry_run=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done

[ "$dry_run" -eq 1 ] || command -v nomad >/dev/null || { echo "the nomad CLI is required on this machine" >&2; exit 1; }
[[ $address == https://* ]] || { echo "--address must be an https:// URL (the Nomad API over TLS)" >&2; exit 1; }
[ -f "$ca_cert" ] || { echo "--ca-cert: no CA file at '$ca_cert'" >&2; exit 1; }
[ -f "$job" ] || { echo "no job file at $job" >&2; exit 1; }
[ -z "$replicas" ] || [[ $replicas =~ ^[1-9][0-9]*$ ]] || { echo "--replicas must be a positive number" >&2; exit 2; }
if [ -z "${NOMAD_TOKEN:-}" ] && [ -n "${NOMAD_TOKEN_FILE:-}" ]; then
    mode=$(stat -c %a "$NOMAD_TOKEN_FILE")
    case $mode in 600 | 400) ;; *) echo "NOMAD_TOKEN_FILE has mode $mode: chmod 600 it" >&2; exit 1 ;; esac
    NOMAD_TOKEN=$(cat "$NOMAD_TOKEN_FILE")
fi
[ -n "${NOMAD_TOKEN:-}" ] || { echo "no token: set NOMAD_TOKEN or NOMAD_TOKEN_FILE (a 0600 file)" >&2; exit 1; }
export NOMAD_TOKEN  # the CLI reads it from the environment: it never shows in a process list

connection=(-address="$address" -ca-cert="$ca_cert")
variables=()
[ -z "$replicas" ] || variables=(-var "replicas=$replicas")
step() {
    echo "    \$ nomad $*"
    [ "$dry_run" -eq 1 ] || nomad "$@"
}

echo "==> job $job on $address${replicas:+ with $replicas replicas}"
step job validate "${connection[@]}" "${variables[@]}" "$job"
# plan exits 1 when it would change allocations, which is the point of a plan: only 255 is an error.
if [ "$dry_run" -eq 1 ]; then
    step job plan "${connection[@]}" "${variables[@]}" "$job"
else
    echo "    \$ nomad job plan ${connection[*]} ${variables[*]} $job"
    nomad job plan "${connection[@]}" "${variables[@]}" "$job" || [ $? -ne 255 ] || exit 1
fi
if [ "$plan_only" -eq 0 ]; then
    step job run "${connection[@]}" "${variables[@]}" "$job"
fi

echo "==> next:"
echo "  nomad job status ${connection[*]} mcp-api"
echo "  nomad service info ${connection[*]} mcp-api            # the replicas' addresses for nginx's upstream"
echo "  nomad job revert ${connection[*]} mcp-api <version>    # roll back to an earlier version"
