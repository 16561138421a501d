#!/bin/sh
# Container entry point of the API (also usable on a host): checks the secrets, waits for MongoDB and
# Redis within MCP_WAIT_TIMEOUT_S, ensures the indexes, then execs uvicorn, so SIGTERM reaches it and
# shuts the service down gracefully within MCP_GRACEFUL_SHUTDOWN_S.
# Exit codes: 78 configuration or secrets refused, 69 a dependency did not answer in time.
set -eu

log() { printf '%s docker_entrypoint: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
refuse() { log "ERROR: $*"; exit 78; }

command -v python >/dev/null 2>&1 || refuse "python is not on PATH (expected the service's virtualenv)"
command -v uvicorn >/dev/null 2>&1 || refuse "uvicorn is not on PATH (expected the service's virtualenv)"
command -v stat >/dev/null 2>&1 || refuse "stat (coreutils) is required"

MCP_HOST=${MCP_HOST:-0.0.0.0}
MCP_PORT=${MCP_PORT:-8000}
MCP_WAIT_TIMEOUT_S=${MCP_WAIT_TIMEOUT_S:-60}
MCP_GRACEFUL_SHUTDOWN_S=${MCP_GRACEFUL_SHUTDOWN_S:-20}
value=""
for number in MCP_PORT MCP_WAIT_TIMEOUT_S MCP_GRACEFUL_SHUTDOWN_S; do
    eval "value=\$$number"
    case $value in '' | *[!0-9]*) refuse "$number must be a whole number, not '$value'" ;; esac
done

# A secret file must exist and be readable by its owner only (0600 or 0400), as the service demands too.
check_secret_file() {
    name=$1 path=$2
    [ -f "$path" ] || refuse "$name=$path does not exist or is not a regular file"
    [ -r "$path" ] || refuse "$name=$path is not readable by uid $(id -u)"
    mode=$(stat -c %a "$path")
    case $mode in
        600 | 400) ;;
        *) refuse "$name=$path has mode $mode; secrets must be 0600 or 0400 (chmod 600 $path)" ;;
    esac
}

if [ -z "${MCP_MASTER_KEY:-}" ] && [ -z "${MCP_MASTER_KEY_FILE:-}" ] && [ -z "${MCP_MASTER_PASSPHRASE:-}" ]; then
    refuse "no vault master key: set MCP_MASTER_KEY_FILE to a 0600 file (python -m app vault genkey --out FILE)"
fi
for name in MCP_MASTER_KEY_FILE MCP_EXTRA_MASTER_KEY_FILE MCP_ADMIN_API_KEY_FILE; do
    eval "path=\${$name:-}"
    if [ -n "$path" ]; then
        check_secret_file "$name" "$path"
    fi
done
log "secrets: present and owner-only"

data_dir=${MCP_DATA_DIR:-}
if [ -n "$data_dir" ]; then
    [ -d "$data_dir" ] || refuse "MCP_DATA_DIR=$data_dir does not exist (create it with mode 0700)"
    [ -w "$data_dir" ] || refuse "MCP_DATA_DIR=$data_dir is not writable by uid $(id -u)"
    mode=$(stat -c %a "$data_dir")
    case $mode in
        *0) ;;
        *) refuse "MCP_DATA_DIR=$data_dir has mode $mode; others must have no access (chmod 700 $data_dir)" ;;
    esac
fi

# Waiting and the indexes use the service's own settings and storage code; URLs are never printed,
# only host:port, since they may hold passwords.
export MCP_WAIT_TIMEOUT_S
set +e
python - <<'PY'
import asyncio
import os
import sys
import time
from urllib.parse import urlsplit

from app.errors import ConfigError
from app.settings import get_settings

PROBE_S = 1.0


def say(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} docker_entrypoint: {message}", file=sys.stderr)


def where(url: str, default_port: int) -> str:
    parts = urlsplit(url.split(",")[0])
    return f"{parts.hostname or '?'}:{parts.port or default_port}"


def scrub(text: str, secret: str) -> str:
    password = urlsplit(secret).password
    return text.replace(password, "***") if password else text


async def wait_for(what: str, probe, timeout_s: float, secret: str) -> bool:
    deadline = time.monotonic() + timeout_s
    last_error, next_note = "no answer", time.monotonic()
    while True:
        try:
            await asyncio.wait_for(probe(), timeout=PROBE_S)
            say(f"{what} answers")
            return True
        except Exception as exc:  # any failure is "not up yet" until the deadline
            last_error = scrub(f"{type(exc).__name__}: {exc}", secret)[:300]
        if time.monotonic() >= deadline:
            say(f"ERROR: {what} did not answer within {timeout_s:g} s (last error: {last_error})")
            return False
        if time.monotonic() >= next_note:
            say(f"waiting for {what} ({deadline - time.monotonic():.0f} s left)")
            next_note = time.monotonic() + 5
        await asyncio.sleep(0.5)


async def main() -> int:
    try:
        settings = get_settings()
    except ConfigError as exc:
        say(f"ERROR: {exc.message}")
        return 78
    timeout_s = float(os.environ["MCP_WAIT_TIMEOUT_S"])
    if settings.redis_url is not None:
        import redis.asyncio as redis

        redis_url = settings.redis_url.get_secret_value()
        client = redis.from_url(redis_url, socket_connect_timeout=PROBE_S, socket_timeout=PROBE_S)
        try:
            if not await wait_for(f"Redis at {where(redis_url, 6379)}", client.ping, timeout_s, redis_url):
                return 69
        finally:
            await client.aclose()
    else:
        say("Redis: not configured (MCP_REDIS_URL unset), the in-process cache is used")
    if settings.mongodb_url is None:
        say("MongoDB: embedded database under MCP_DATA_DIR; the service creates its indexes at start")
        return 0
    from app.storage.database import connect
    from app.storage.indexes import ensure_indexes

    mongo_url = settings.mongodb_url.get_secret_value()
    mongo = connect(mongo_url, int(PROBE_S * 1000))
    try:
        ping = lambda: mongo.admin.command("ping")  # noqa: E731
        if not await wait_for(f"MongoDB at {where(mongo_url, 27017)}", ping, timeout_s, mongo_url):
            return 69
        created = await ensure_indexes(mongo[settings.mongodb_database])
        say(f"MongoDB indexes ensured ({len(created)} in database {settings.mongodb_database})")
    finally:
        await mongo.close()
    return 0


sys.exit(asyncio.run(main()))
PY
status=$?
set -e
[ "$status" -eq 0 ] || exit "$status"

log "starting uvicorn on $MCP_HOST:$MCP_PORT (graceful shutdown within ${MCP_GRACEFUL_SHUTDOWN_S} s)"
exec uvicorn app.main:create_app --factory --host "$MCP_HOST" --port "$MCP_PORT" \
    --proxy-headers --forwarded-allow-ips "${MCP_FORWARDED_ALLOW_IPS:-127.0.0.1}" \
    --timeout-graceful-shutdown "$MCP_GRACEFUL_SHUTDOWN_S" --no-server-header "$@"
