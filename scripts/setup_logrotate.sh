#!/usr/bin/env bash
# Install the control plane's logrotate rules (config/logrotate.conf) as /etc/logrotate.d/mcp-api and check
# them with `logrotate -d`. It writes that one file and creates the log folders; nothing else.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/setup_logrotate.sh [--dry-run] [--prefix DIR]
  --dry-run     print the rules as they would be installed, write nothing
  --prefix DIR  install under DIR, the rules pointing at DIR's log folders (tests rotate there)
Settings (environment):
  MCP_LOG_DIR        the API's log folder (default: /var/log/mcp; nginx's site logs in its nginx/ folder)
  MCP_LOG_USER       owner of the API's logs, for logrotate's su (default: mcp)
  MCP_LOG_GROUP      its group (default: mcp)
  MCP_NGINX_LOG_GROUP  group of new nginx log files (default: adm)
  MCP_NGINX_PID      nginx's pid file, signalled to reopen its logs (default: /run/nginx.pid)
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
rules=$here/config/logrotate.conf
[ -f "$rules" ] || { echo "missing $rules" >&2; exit 1; }
command -v sed >/dev/null || { echo "sed is required" >&2; exit 1; }
[ "$dry_run" -eq 1 ] || command -v logrotate >/dev/null || PATH=$PATH:/usr/sbin command -v logrotate >/dev/null \
    || { echo "logrotate is not installed: apt-get install -y logrotate" >&2; exit 1; }
PATH=$PATH:/usr/sbin

log_dir=${MCP_LOG_DIR:-$prefix/var/log/mcp}
user=${MCP_LOG_USER:-mcp} group=${MCP_LOG_GROUP:-mcp}
nginx_group=${MCP_NGINX_LOG_GROUP:-adm}
nginx_pid=${MCP_NGINX_PID:-/run/nginx.pid}
target=$prefix/etc/logrotate.d/mcp-api
for value in "$log_dir" "$user" "$group" "$nginx_group" "$nginx_pid"; do
    [[ $value != *[\|\&]* ]] || { echo "settings may not contain | or &: $value" >&2; exit 2; }
done

render() {
    sed -e "s|/var/log/mcp|$log_dir|g" -e "s|su mcp mcp|su $user $group|" \
        -e "s|create 0640 root adm|create 0640 root $nginx_group|" -e "s|/run/nginx.pid|$nginx_pid|g" "$rules"
}

echo "==> logrotate rules for $log_dir/*.log (copytruncate) and $log_dir/nginx/*.log (nginx reopens on USR1)"
if [ "$dry_run" -eq 1 ]; then
    echo "--- would write $target"
    render
    exit 0
fi
mkdir -p "$(dirname "$target")" "$log_dir/nginx"
render >"$target.tmp"
chmod 644 "$target.tmp"
mv "$target.tmp" "$target"
echo "wrote $target"
# -d: a dry run of logrotate itself; it fails on a syntax error or an unknown user.
logrotate -d -s "$(mktemp -d)/status" "$target" >/dev/null 2>&1 || { logrotate -d "$target"; exit 1; }
echo "logrotate -d accepts it"

echo "==> next:"
echo "  chown $user:$group $log_dir && chmod 750 $log_dir"
echo "  logrotate -d $target                 # what the next run would do"
echo "  logrotate -f $target                 # rotate now"
