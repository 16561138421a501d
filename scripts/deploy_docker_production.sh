#!/usr/bin/env bash
# Deploy a new version of the API with a blue/green switch behind nginx: run the tests, build the image,
# start the idle colour, wait for its /ready, point nginx's upstream at it, reload nginx, drain and stop the
# old colour. When the new colour fails its health check (before or after the switch), nginx keeps or gets
# back the old colour and the new one is stopped: an automatic rollback. Optionally pushes the image.
# It owns the upstream file it rewrites (see scripts/configure_nginx_production.sh) and the state file.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/deploy_docker_production.sh [--tag TAG] [--skip-tests] [--skip-build] [--push REGISTRY] [--dry-run]
  --tag TAG        image tag (default: the project's version)
  --skip-tests     do not run MCP_TEST_COMMAND (default: make test) before building
  --skip-build     deploy an image that is already built
  --push REGISTRY  after a successful switch, tag and push the image to REGISTRY
  --dry-run        print each step, change nothing
Settings (environment):
  MCP_IMAGE            image name (default: mcp-api)
  MCP_ENV_FILE         settings for the container (default: /etc/mcp/mcp-api.env, mode 0600)
  MCP_BLUE_PORT        loopback port of the blue colour (default: 8001)
  MCP_GREEN_PORT       loopback port of the green colour (default: 8002)
  MCP_NGINX_UPSTREAM   the upstream file nginx includes (default: /etc/nginx/mcp-api/upstream.conf)
  MCP_NGINX_TEST       command that checks nginx's configuration (default: nginx -t)
  MCP_NGINX_RELOAD     command that reloads nginx gracefully (default: nginx -s reload)
  MCP_PUBLIC_URL       URL whose /health is checked through nginx after the switch (default: https://localhost)
  MCP_CURL_OPTIONS     extra curl options for that check, e.g. "--cacert /etc/ssl/mcp/ca.crt"
  MCP_DEPLOY_STATE     file recording the live colour (default: /var/lib/mcp-deploy/active-colour)
  MCP_HEALTH_TIMEOUT_S how long a new colour may take to become ready (default: 120)
  MCP_DRAIN_S          how long the old colour keeps serving requests nginx already sent it (default: 10)
  MCP_COLOUR_RUNNER    command that starts and stops a colour: RUNNER start COLOUR PORT IMAGE | RUNNER stop COLOUR
                       (default: docker run / docker stop, container mcp-api-COLOUR)
  MCP_TEST_COMMAND     the tests run before building (default: make test)
USAGE
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tag="" skip_tests=0 skip_build=0 registry="" dry_run=0
while [ $# -gt 0 ]; do
    case $1 in
        --tag) tag=${2:?--tag needs a value}; shift 2 ;;
        --skip-tests) skip_tests=1; shift ;;
        --skip-build) skip_build=1; shift ;;
        --push) registry=${2:?--push needs a registry}; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done

image_name=${MCP_IMAGE:-mcp-api}
tag=${tag:-$(sed -n 's/^version = "\(.*\)"/\1/p' "$here/pyproject.toml" | head -1)}
image=$image_name:$tag
env_file=${MCP_ENV_FILE:-/etc/mcp/mcp-api.env}
blue_port=${MCP_BLUE_PORT:-8001}
green_port=${MCP_GREEN_PORT:-8002}
upstream=${MCP_NGINX_UPSTREAM:-/etc/nginx/mcp-api/upstream.conf}
nginx_test=${MCP_NGINX_TEST:-nginx -t}
nginx_reload=${MCP_NGINX_RELOAD:-nginx -s reload}
public_url=${MCP_PUBLIC_URL:-https://localhost}
state=${MCP_DEPLOY_STATE:-/var/lib/mcp-deploy/active-colour}
health_timeout=${MCP_HEALTH_TIMEOUT_S:-120}
drain=${MCP_DRAIN_S:-10}
runner=${MCP_COLOUR_RUNNER:-}
test_command=${MCP_TEST_COMMAND:-make test}

say() { printf '==> %s\n' "$*"; }
run() { # print, and run unless --dry-run
    printf '    $ %s\n' "$*"
    [ "$dry_run" -eq 1 ] || "$@"
}

command -v curl >/dev/null || { echo "curl is required" >&2; exit 1; }
if [ -z "$runner" ] || [ "$skip_build" -eq 0 ] || [ -n "$registry" ]; then
    [ "$dry_run" -eq 1 ] || command -v docker >/dev/null || { echo "docker is required" >&2; exit 1; }
fi
[ -f "$here/config/nginx/mcp-api-upstream.conf.template" ] || { echo "missing the upstream template" >&2; exit 1; }
if [ -z "$runner" ] && [ -f "$env_file" ]; then
    # Both colours must share one database the containers can reach: loopback inside a container is the
    # container itself, and without a URL each colour would start its own embedded server on the shared volume.
    mongo_url=$(sed -n 's/^MCP_MONGODB_URL=//p' "$env_file" | tail -n 1)
    case $mongo_url in
        "" | *://127.* | *://localhost* | *://\[::1\]*)
            echo "MCP_MONGODB_URL in $env_file must name a MongoDB the containers reach (not loopback, not unset)" >&2
            exit 2 ;;
    esac
fi

# The default runner: one container per colour, published on loopback only (nginx is the way in).
docker_colour() {
    case $1 in
        # The key files the env file names live in /etc/mcp (docs/OPERATIONS.md), read-only in the container.
        start) run docker run --detach --name "mcp-api-$2" --restart unless-stopped --env-file "$env_file" \
            --publish "127.0.0.1:$3:8000" --volume mcp-data:/var/lib/mcp --volume /etc/mcp:/etc/mcp:ro "$4" ;;
        stop) run docker stop --time 30 "mcp-api-$2" && run docker rm "mcp-api-$2" ;;
    esac
}
colour() { # colour start|stop COLOUR [PORT]
    if [ -n "$runner" ]; then
        # shellcheck disable=SC2086  # the runner is a command line
        run $runner "$@" ${3:+"$image"}
    else
        docker_colour "$@" ${3:+"$image"}
    fi
}

render_upstream() { # one server line: the live colour
    local server="    server 127.0.0.1:$1 max_fails=2 fail_timeout=5s;"
    SERVERS=$server awk '{ if ($0 == "@UPSTREAM_SERVERS@") print ENVIRON["SERVERS"]; else print }' \
        "$here/config/nginx/mcp-api-upstream.conf.template"
}
point_nginx_at() { # write the upstream for PORT, check, reload
    printf '    upstream -> 127.0.0.1:%s\n' "$1"
    [ "$dry_run" -eq 1 ] && return 0
    render_upstream "$1" >"$upstream.tmp"
    mv "$upstream.tmp" "$upstream"
    # shellcheck disable=SC2086
    $nginx_test >/dev/null 2>&1 && $nginx_reload
}
ready() { # ready PORT: /ready answers 200 within the health timeout
    local deadline=$((SECONDS + health_timeout))
    while [ $SECONDS -lt "$deadline" ]; do
        curl -fsS --max-time 2 "http://127.0.0.1:$1/ready" >/dev/null 2>&1 && return 0
        sleep 1
    done
    return 1
}

active=$(cat "$state" 2>/dev/null || echo none)
case $active in blue) new=green new_port=$green_port old_port=$blue_port ;;
    *) new=blue new_port=$blue_port old_port=$green_port ;; esac
say "deploying $image: $active is live, $new (127.0.0.1:$new_port) is next"

if [ "$skip_tests" -eq 0 ]; then
    say "tests: $test_command"
    # shellcheck disable=SC2086
    (cd "$here" && run $test_command)
fi
if [ "$skip_build" -eq 0 ]; then
    say "build"
    run docker build --file "$here/Dockerfile.production" --tag "$image" --build-arg "VERSION=$tag" "$here"
fi

say "start $new"
colour start "$new" "$new_port"
if [ "$dry_run" -eq 0 ] && ! ready "$new_port"; then
    say "ROLLBACK: $new did not become ready within ${health_timeout} s; $active keeps serving"
    colour stop "$new" || true
    exit 1
fi

say "switch nginx to $new"
[ "$dry_run" -eq 1 ] || [ ! -f "$upstream" ] || cp -p "$upstream" "$upstream.previous"
if ! point_nginx_at "$new_port" || { [ "$dry_run" -eq 0 ] && ! (
    # shellcheck disable=SC2086
    curl -fsS --max-time 5 ${MCP_CURL_OPTIONS:-} "$public_url/health" >/dev/null
); }; then
    say "ROLLBACK: nginx could not serve $new; back to $active"
    if [ "$dry_run" -eq 0 ]; then
        [ ! -f "$upstream.previous" ] || mv "$upstream.previous" "$upstream"
        # shellcheck disable=SC2086
        $nginx_reload || true
        # A reload is asynchronous: workers of the switched configuration may still send $new requests.
        sleep "$drain"
    fi
    colour stop "$new" || true
    exit 1
fi
[ "$dry_run" -eq 1 ] || { mkdir -p "$(dirname "$state")" && echo "$new" >"$state"; }

if [ "$active" != none ]; then
    say "drain $active for ${drain} s (requests nginx sent it before the reload), then stop it"
    [ "$dry_run" -eq 1 ] || sleep "$drain"
    # The switch is done and recorded: an old colour that is already gone is a warning, not a failed deploy.
    colour stop "$active" || say "warning: could not stop $active (already gone?)"
fi
if [ -n "$registry" ]; then
    say "push to $registry"
    run docker tag "$image" "$registry/$image"
    run docker push "$registry/$image"
fi

say "$new is live on 127.0.0.1:$new_port (old port $old_port is free). Next:"
echo "  curl -fsS ${MCP_CURL_OPTIONS:-} $public_url/ready"
echo "  scripts/deploy_docker_production.sh --skip-build --tag <previous tag>   # roll back by deploying the old tag"
