#!/usr/bin/env bash
# Install the API's systemd unit (config/systemd/mcp-api.service) and enable it at boot. It writes that
# one unit file, checks it with `systemd-analyze verify`, and enables (never starts) the service.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/configure_systemd_autostart.sh [--dry-run] [--prefix DIR]
  --dry-run     print the unit as it would be installed, write nothing
  --prefix DIR  write DIR/etc/systemd/system/mcp-api.service and neither reload nor enable anything
Settings (environment):
  MCP_INSTALL_DIR  where the project and its .venv live (default: this checkout)
USAGE
}

dry_run=0 prefix=""
while [ $# -gt 0 ]; do
    case $1 in
        --dry-run) dry_run=1; shift ;;
        --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
unit=$here/config/systemd/mcp-api.service
[ -f "$unit" ] || { echo "missing $unit" >&2; exit 1; }
install_dir=${MCP_INSTALL_DIR:-$here}
[[ $install_dir != *[\|\&]* ]] || { echo "MCP_INSTALL_DIR may not contain | or &" >&2; exit 2; }
target=$prefix/etc/systemd/system/mcp-api.service
render() { sed "s|/opt/mcp|$install_dir|g" "$unit"; }

echo "==> systemd unit mcp-api.service running $install_dir/start_api.sh"
if [ "$dry_run" -eq 1 ]; then
    echo "--- would write $target"
    render
    exit 0
fi
command -v systemd-analyze >/dev/null || { echo "systemd-analyze is required (package systemd)" >&2; exit 1; }
[ -x "$install_dir/start_api.sh" ] || { echo "$install_dir/start_api.sh is missing or not executable" >&2; exit 1; }
[ -n "$prefix" ] || command -v systemctl >/dev/null || { echo "systemctl is required" >&2; exit 1; }

mkdir -p "$(dirname "$target")"
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
render >"$staging/mcp-api.service"
chmod 644 "$staging/mcp-api.service"
# verify prints a line for every problem (and exits 0 on some): any output is a failure here.
problems=$(cd "$staging" && systemd-analyze verify "$staging/mcp-api.service" 2>&1) || true
if [ -n "$problems" ]; then
    echo "systemd-analyze verify refused the unit:" >&2
    echo "$problems" >&2
    exit 1
fi
mv "$staging/mcp-api.service" "$target"
echo "wrote $target (systemd-analyze verify: clean)"

echo "==> next:"
if [ -z "$prefix" ]; then
    systemctl daemon-reload
    systemctl enable mcp-api.service
    echo "  useradd --system --home-dir /var/lib/mcp --shell /usr/sbin/nologin mcp"
    echo "  install -d -o mcp -g mcp -m 0700 /var/lib/mcp /var/log/mcp"
    echo "  install -m 0600 env.production.example /etc/mcp/mcp-api.env   # then edit it"
    echo "  .venv/bin/python scripts/validate_production_config.py --env-file /etc/mcp/mcp-api.env"
    echo "  systemctl start mcp-api && journalctl -u mcp-api -f"
else
    echo "  systemd-analyze verify $target"
fi
echo "  systemd-analyze security --offline=yes $target   # exposure score"
