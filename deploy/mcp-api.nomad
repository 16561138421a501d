# The control plane on a Nomad cluster: N API replicas (each runs the scheduler; they share it through leases
# in MongoDB), the exec driver so the data folder is a host volume, TLS from the first byte (uvicorn serves
# HTTPS with a certificate rendered from Nomad variables), health checks on /health and /ready, rolling
# updates with a canary and automatic revert. Secrets never appear here: they come from Nomad variables at
# nomad/jobs/mcp-api (deploy/DEPLOYMENT_GUIDE.md). Docker instead of exec: deploy/mcp-api-docker.nomad.
# Check and run it with deploy/deploy_mcp.sh.

variable "replicas" {
  type        = number
  default     = 3
  description = "API replicas (each needs 2 GB and 2 cores at most)"
}

variable "install_dir" {
  type        = string
  default     = "/opt/mcp"
  description = "where the release and its .venv are installed on every client (make install)"
}

job "mcp-api" {
  datacenters = ["dc1"]
  type        = "service"

  # One replica at a time, a canary first; a release whose checks fail is reverted on its own.
  update {
    max_parallel      = 1
    canary            = 1
    health_check      = "checks"
    min_healthy_time  = "15s"
    healthy_deadline  = "3m"
    progress_deadline = "10m"
    auto_revert       = true
    auto_promote      = true
  }

  group "api" {
    count = var.replicas

    # Replicas on different clients: losing one machine loses one replica.
    constraint {
      operator = "distinct_hosts"
      value    = "true"
    }

    network {
      port "https" {}
    }

    # Cold backups and the passphrase salt; created on each client by deploy/deploy_mcp_volume.sh.
    volume "mcp-data" {
      type      = "host"
      source    = "mcp-data"
      read_only = false
    }

    # The unit's policy: five restarts within 200 s, ten seconds apart, then the allocation fails.
    restart {
      attempts = 5
      interval = "200s"
      delay    = "10s"
      mode     = "fail"
    }

    service {
      name     = "mcp-api"
      port     = "https"
      provider = "nomad"
      tags     = ["https"]

      check {
        name     = "alive"
        type     = "http"
        protocol = "https"
        path     = "/health"
        interval = "10s"
        timeout  = "3s"
        # The certificate is signed by our private CA, which Nomad's checker does not know.
        tls_skip_verify = true
      }

      check {
        name            = "ready"
        type            = "http"
        protocol        = "https"
        path            = "/ready"
        interval        = "15s"
        timeout         = "5s"
        tls_skip_verify = true
      }
    }

    task "api" {
      driver = "exec"

      config {
        command = "${var.install_dir}/start_api.sh"
        args    = ["--", "--ssl-certfile", "${NOMAD_SECRETS_DIR}/tls.crt", "--ssl-keyfile", "${NOMAD_SECRETS_DIR}/tls.key"]
      }

      volume_mount {
        volume      = "mcp-data"
        destination = "/var/lib/mcp"
      }

      env {
        MCP_VENV                = "${var.install_dir}/.venv"
        MCP_HOST                = "${NOMAD_IP_https}"
        MCP_PORT                = "${NOMAD_PORT_https}"
        MCP_DATA_DIR            = "/var/lib/mcp"
        MCP_PROFILE             = "conservative"
        MCP_MASTER_KEY_FILE     = "${NOMAD_SECRETS_DIR}/master.key"
        MCP_ADMIN_API_KEY_FILE  = "${NOMAD_SECRETS_DIR}/admin.key"
        MCP_GRAPH_FILE          = "/var/lib/mcp/graph/describegraph.json.gz"
        MCP_LOG_FORMAT          = "json"
        MCP_WAIT_TIMEOUT_S      = "60"
        MCP_GRACEFUL_SHUTDOWN_S = "20"
      }

      # Storage and cache URLs (they may hold passwords): environment from a secrets-only file.
      template {
        destination = "${NOMAD_SECRETS_DIR}/storage.env"
        env         = true
        perms       = "0600"
        data        = <<EOT
{{ with nomadVar "nomad/jobs/mcp-api" }}
MCP_MONGODB_URL={{ .mongodb_url }}
MCP_REDIS_URL={{ .redis_url }}
{{ end }}
EOT
      }

      template {
        destination = "${NOMAD_SECRETS_DIR}/master.key"
        perms       = "0600"
        data        = "{{ with nomadVar \"nomad/jobs/mcp-api\" }}{{ .master_key }}{{ end }}"
      }

      template {
        destination = "${NOMAD_SECRETS_DIR}/admin.key"
        perms       = "0600"
        data        = "{{ with nomadVar \"nomad/jobs/mcp-api\" }}{{ .admin_api_key }}{{ end }}"
      }

      template {
        destination = "${NOMAD_SECRETS_DIR}/tls.crt"
        perms       = "0644"
        data        = "{{ with nomadVar \"nomad/jobs/mcp-api\" }}{{ .tls_cert }}{{ end }}"
      }

      template {
        destination = "${NOMAD_SECRETS_DIR}/tls.key"
        perms       = "0600"
        data        = "{{ with nomadVar \"nomad/jobs/mcp-api\" }}{{ .tls_key }}{{ end }}"
      }

      # SIGTERM, then uvicorn's graceful shutdown (20 s) and the lifespan's bounded closes.
      kill_signal  = "SIGTERM"
      kill_timeout = "45s"

      resources {
        cpu    = 2000
        memory = 2048
      }
    }
  }
}
