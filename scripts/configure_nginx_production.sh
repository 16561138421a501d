#!/usr/bin/env bash
# Install nginx's site for the API: the reverse proxy (HTTP -> HTTPS, TLS 1.2/1.3, security headers) and
# its upstream pool, rendered from config/nginx/*.template. It writes only its own two files and the
# sites-enabled link; nginx.conf is never touched, and nginx is not reloaded (the next command says how).
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/configure_nginx_production.sh [--dry-run] [--prefix DIR]
  --dry-run     print the rendered files, write nothing
  --prefix DIR  write under DIR instead of /, and let the files refer to DIR's paths (a self-contained
                tree: tests run nginx on it with `nginx -p DIR`)
Settings (environment):
  MCP_SERVER_NAME     server_name (default: localhost)
  MCP_UPSTREAMS       API replicas, space-separated host:port (default: 127.0.0.1:8000)
  MCP_TLS_CERT        certificate chain (default: /etc/ssl/mcp/server.crt; scripts/generate_certs.sh or Let's Encrypt)
  MCP_TLS_KEY         its key, mode 0600 (default: /etc/ssl/mcp/server.key)
  MCP_HTTP_PORT       plain HTTP port, redirects only (default: 80)
  MCP_HTTPS_PORT      HTTPS port (default: 443)
  MCP_NGINX_LOG_DIR   access and error logs (default: /var/log/mcp/nginx, rotated by config/logrotate.conf)
  MCP_ACME_ROOT       webroot for Let's Encrypt HTTP-01 challenges (default: /var/www/letsencrypt)
  MCP_METRICS_ALLOW   extra addresses or CIDRs allowed to read /metrics (default: none besides loopback)
  MCP_UPSTREAM_CA     when the replicas serve HTTPS (deploy/mcp-api.nomad): the CA their certificates are checked
                      against; unset, nginx speaks plain HTTP to them (on loopback or a private network)
  MCP_UPSTREAM_TLS_NAME  the name their certificates carry (default: MCP_SERVER_NAME)
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
templates=$here/config/nginx
command -v awk >/dev/null || { echo "awk is required" >&2; exit 1; }
for template in mcp-api.conf.template mcp-api-upstream.conf.template; do
    [ -f "$templates/$template" ] || { echo "missing $templates/$template" >&2; exit 1; }
done

server_name=${MCP_SERVER_NAME:-localhost}
upstreams=${MCP_UPSTREAMS:-127.0.0.1:8000}
http_port=${MCP_HTTP_PORT:-80}
https_port=${MCP_HTTPS_PORT:-443}
tls_cert=${MCP_TLS_CERT:-/etc/ssl/mcp/server.crt}
tls_key=${MCP_TLS_KEY:-/etc/ssl/mcp/server.key}
log_dir=${MCP_NGINX_LOG_DIR:-$prefix/var/log/mcp/nginx}
acme_root=${MCP_ACME_ROOT:-$prefix/var/www/letsencrypt}
for port in "$http_port" "$https_port"; do
    [[ $port =~ ^[0-9]+$ ]] || { echo "ports must be numbers, not '$port'" >&2; exit 2; }
done

conf_dir=$prefix/etc/nginx
site=$conf_dir/sites-available/mcp-api.conf
upstream=$conf_dir/mcp-api/upstream.conf
enabled=$conf_dir/sites-enabled/mcp-api.conf
suffix=""
[ "$https_port" = 443 ] || suffix=":$https_port"

servers=""
host_port='^[][A-Za-z0-9.:-]+:[0-9]+$'
for server in $upstreams; do
    [[ $server =~ $host_port ]] || { echo "MCP_UPSTREAMS entry '$server' is not host:port" >&2; exit 2; }
    servers+="    server $server max_fails=2 fail_timeout=5s;"$'\n'
done
[ -n "$servers" ] || { echo "MCP_UPSTREAMS names no replica" >&2; exit 2; }
scheme=http upstream_tls=""
if [ -n "${MCP_UPSTREAM_CA:-}" ]; then
    [ -n "$prefix" ] || [ "$dry_run" -eq 1 ] || [ -f "$MCP_UPSTREAM_CA" ] || { echo "no CA at $MCP_UPSTREAM_CA" >&2; exit 1; }
    scheme=https
    upstream_tls="    proxy_ssl_trusted_certificate $MCP_UPSTREAM_CA;
    proxy_ssl_verify on;
    proxy_ssl_verify_depth 2;
    proxy_ssl_name ${MCP_UPSTREAM_TLS_NAME:-$server_name};
    proxy_ssl_server_name on;
    proxy_ssl_protocols TLSv1.2 TLSv1.3;
    proxy_ssl_session_reuse on;"
fi
allow=""
for network in ${MCP_METRICS_ALLOW:-}; do
    allow+="        allow $network;"$'\n'
done

# Literal replacement of @NAME@ (no regular expressions: paths and ciphers stay as written).
render() {
    UPSTREAM_SERVERS=${servers%$'\n'} METRICS_ALLOW=${allow%$'\n'} UPSTREAM_CONF=$upstream \
        UPSTREAM_SCHEME=$scheme UPSTREAM_TLS=$upstream_tls \
        SERVER_NAME=$server_name HTTP_PORT=$http_port HTTPS_PORT=$https_port HTTPS_PORT_SUFFIX=$suffix \
        TLS_CERT=$tls_cert TLS_KEY=$tls_key LOG_DIR=$log_dir ACME_ROOT=$acme_root \
        awk '{
            line = $0; out = ""
            while (match(line, /@[A-Z_]+@/)) {
                name = substr(line, RSTART + 1, RLENGTH - 2)
                value = (name in ENVIRON) ? ENVIRON[name] : substr(line, RSTART, RLENGTH)
                out = out substr(line, 1, RSTART - 1) value
                line = substr(line, RSTART + RLENGTH)
            }
            print out line
        }' "$1"
}

echo "==> nginx site for $server_name: HTTP :$http_port -> HTTPS :$https_port -> $scheme to $upstreams"
if [ "$dry_run" -eq 1 ]; then
    echo "--- would write $upstream"
    render "$templates/mcp-api-upstream.conf.template"
    echo "--- would write $site (and link it from $enabled)"
    render "$templates/mcp-api.conf.template"
    exit 0
fi

[ -n "$prefix" ] || command -v nginx >/dev/null || { echo "nginx is not installed: apt-get install -y nginx" >&2; exit 1; }
[ -n "$prefix" ] || [ -f "$tls_cert" ] || { echo "no certificate at $tls_cert (MCP_TLS_CERT)" >&2; exit 1; }
mkdir -p "$(dirname "$site")" "$(dirname "$upstream")" "$(dirname "$enabled")" "$log_dir" "$acme_root"
for target in "$site" "$upstream"; do
    [ ! -f "$target" ] || cp -p "$target" "$target.bak"
done
render "$templates/mcp-api-upstream.conf.template" >"$upstream.tmp" && mv "$upstream.tmp" "$upstream"
render "$templates/mcp-api.conf.template" >"$site.tmp" && mv "$site.tmp" "$site"
ln -sfn "$site" "$enabled"
echo "wrote $site, $upstream and the link $enabled"

echo "==> next:"
if [ -z "$prefix" ]; then
    echo "  nginx -t && systemctl reload nginx"
else
    echo "  nginx -t -p $prefix -c <a main nginx.conf including $site>"
fi
echo "  curl -sI http://$server_name:$http_port/ | head -3          # 301 to HTTPS"
echo "  curl -s --cacert <ca.crt> https://$server_name$suffix/health"
