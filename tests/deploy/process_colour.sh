#!/bin/sh
# The blue/green test's stand-in for `docker run`/`docker stop`: runs the image's entry point as a process on
# this host, with the settings of the "image tag" (MCP_RUNNER_DIR/TAG.env), so the real deploy script drives
# real API processes behind the real nginx. Usage: process_colour.sh start COLOUR PORT IMAGE | stop COLOUR
set -eu
dir=${MCP_RUNNER_DIR:?MCP_RUNNER_DIR is required}
project=${MCP_PROJECT:?MCP_PROJECT is required}
case $1 in
    start)
        colour=$2 port=$3 tag=${4##*:}
        (
            set -a
            # shellcheck disable=SC1090  # the tag's settings, written by the test
            . "$dir/$tag.env"
            set +a
            MCP_PORT=$port
            export MCP_PORT
            exec sh "$project/docker_entrypoint.sh" --log-level warning
        ) </dev/null >>"$dir/$colour.log" 2>&1 &
        echo $! >"$dir/$colour.pid"
        ;;
    stop)
        pid=$(cat "$dir/$2.pid")
        kill -TERM "$pid" 2>/dev/null || exit 0
        # Gone, or a zombie nobody reaps (its parent, this script's first run, has exited).
        tries=0
        while kill -0 "$pid" 2>/dev/null && [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ]; do
            tries=$((tries + 1))
            [ $tries -lt 300 ] || { kill -KILL "$pid"; break; }
            sleep 0.1
        done
        ;;
    *) echo "usage: process_colour.sh start COLOUR PORT IMAGE | stop COLOUR" >&2; exit 2 ;;
esac
