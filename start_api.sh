#!/usr/bin/env bash
# Start the API on a host install (systemd runs this too): checks the virtualenv, the installed
# dependencies and the port, then hands over to docker_entrypoint.sh (secrets, MongoDB and Redis waits,
# indexes, exec uvicorn). Configuration comes from the environment (MCP_*; see env.production.example),
# optionally from an env file given with --env-file.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv=${MCP_VENV:-$here/.venv}
env_file=""
check_only=0

usage() {
    cat <<'USAGE'
Usage: start_api.sh [--env-file FILE] [--check] [-- extra uvicorn arguments]
  --env-file FILE  read MCP_* settings from FILE (mode 0600: it holds secrets) before starting
  --check          run every check, then exit instead of starting
Environment: MCP_VENV (default: .venv beside this script), MCP_HOST (default 127.0.0.1), MCP_PORT (8000),
and every MCP_* setting of the service.
USAGE
}

while [ $# -gt 0 ]; do
    case $1 in
        --env-file) env_file=${2:?--env-file needs a file}; shift 2 ;;
        --check) check_only=1; shift ;;
        -h | --help) usage; exit 0 ;;
        --) shift; break ;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done

# Colours only on a terminal; under systemd the journal gets plain text.
if [ -t 2 ]; then red=$'\e[31m' green=$'\e[32m' yellow=$'\e[33m' reset=$'\e[0m'; else red="" green="" yellow="" reset=""; fi
info() { printf '%s[start_api]%s %s\n' "$green" "$reset" "$*" >&2; }
warn() { printf '%s[start_api] warning:%s %s\n' "$yellow" "$reset" "$*" >&2; }
fail() { printf '%s[start_api] error:%s %s\n' "$red" "$reset" "$*" >&2; exit 1; }

if [ -n "$env_file" ]; then
    [ -f "$env_file" ] || fail "env file $env_file does not exist"
    mode=$(stat -c %a "$env_file")
    case $mode in 600 | 400) ;; *) fail "env file $env_file has mode $mode; it holds secrets: chmod 600 $env_file" ;; esac
    set -a
    # shellcheck disable=SC1090
    . "$env_file"
    set +a
    info "settings read from $env_file"
fi

[ -x "$venv/bin/python" ] || fail "no virtualenv at $venv: run 'make install' (or set MCP_VENV)"
"$venv/bin/python" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' \
    || fail "$venv runs $("$venv/bin/python" -V 2>&1); the service needs Python 3.11"
info "virtualenv $venv ($("$venv/bin/python" -V 2>&1))"

export MCP_HOST=${MCP_HOST:-127.0.0.1}
export MCP_PORT=${MCP_PORT:-8000}
[[ $MCP_PORT =~ ^[0-9]+$ ]] || fail "MCP_PORT must be a number, not '$MCP_PORT'"
if ! "$venv/bin/python" - "$MCP_HOST" "$MCP_PORT" <<'PY'
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
with socket.socket(family, socket.SOCK_STREAM) as sock:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sys.exit(f"{host}:{port} is not free: {exc.strerror}")
PY
then
    fail "port $MCP_PORT on $MCP_HOST is taken (another instance? set MCP_PORT)"
fi
info "port $MCP_HOST:$MCP_PORT is free"

# Every pinned dependency installed at its version, and the service importable.
"$venv/bin/python" -m pip check >/dev/null 2>&1 || fail "broken dependencies in $venv: $("$venv/bin/python" -m pip check 2>&1 | head -3)"
version=$("$venv/bin/python" -m app --version 2>/dev/null) || fail "the service is not installed in $venv: run 'make install'"
info "installed: $version"

[ -n "${MCP_MONGODB_URL:-}" ] || warn "MCP_MONGODB_URL unset: the embedded database under ${MCP_DATA_DIR:-data} is used (one replica only)"
[ -n "${MCP_REDIS_URL:-}" ] || warn "MCP_REDIS_URL unset: the in-process cache is used (one replica only)"

if [ "$check_only" -eq 1 ]; then
    info "checks passed; start with: $0${env_file:+ --env-file $env_file}"
    exit 0
fi
export PATH="$venv/bin:$PATH"
exec "$here/docker_entrypoint.sh" "$@"
