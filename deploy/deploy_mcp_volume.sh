#!/usr/bin/env bash
# Prepare the host volume `mcp-data` that deploy/mcp-api.nomad mounts, on the Nomad client this runs on:
# creates the folder (0700, owned by the service's user) and prints the client configuration to add by hand.
# It never edits the Nomad agent's configuration.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: deploy/deploy_mcp_volume.sh [--path DIR] [--owner UID:GID] [--prefix DIR] [--dry-run]
  --path DIR       the volume's folder on this client (default: /var/lib/mcp-data)
  --owner UID:GID  its owner (default: 10001:10001, the image's user; use the mcp user's ids with exec)
  --prefix DIR     create the folder under DIR (tests)
  --dry-run        print what would be done, do nothing
USAGE
}

path=/var/lib/mcp-data owner=10001:10001 prefix="" dry_run=0
while [ $# -gt 0 ]; do
    case $1 in
        --path) path=${2:?--path needs a folder}; shift 2 ;;
        --owner) owner=${2:?--owner needs UID:GID}; shift 2 ;;
        --prefix) prefix=${2:?--prefix needs a folder}; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
[[ $owner =~ ^[0-9]+:[0-9]+$ ]] || { echo "--owner must be UID:GID in numbers" >&2; exit 2; }
[[ $path == /* ]] || { echo "--path must be absolute" >&2; exit 2; }
for tool in install chown; do command -v $tool >/dev/null || { echo "$tool is required" >&2; exit 1; }; done

echo "==> host volume mcp-data at $path (mode 0700, owner $owner)"
if [ "$dry_run" -eq 1 ]; then
    echo "    $ install -d -m 0700 $prefix$path/graph $prefix$path/backups"
    echo "    $ chown -R $owner $prefix$path"
else
    install -d -m 0700 "$prefix$path" "$prefix$path/graph" "$prefix$path/backups"
    chown -R "$owner" "$prefix$path"
    chmod 0700 "$prefix$path"
fi

cat <<NEXT
==> next (by hand, on this client; this script does not touch the agent's configuration):
  1. add to the client block of the Nomad agent's configuration, then restart the agent:
       client {
         host_volume "mcp-data" {
           path      = "$path"
           read_only = false
         }
         # exec driver only: the release must be visible inside the task's chroot
         chroot_env {
           "/opt/mcp" = "/opt/mcp"
         }
       }
  2. put the channel graph there: install -m 0600 -o ${owner%%:*} describegraph.json.gz $path/graph/
  3. nomad node status -self -verbose | grep mcp-data     # the volume is announced
  4. deploy/deploy_mcp.sh --address https://<server>:4646 --ca-cert <nomad-ca.pem> --plan
NEXT
