# The Docker variant of deploy/mcp-api.nomad: the image built from Dockerfile.production, the data folder
# as a Docker volume, the same checks, update policy, secrets and TLS. Run it with
# deploy/deploy_mcp.sh --job deploy/mcp-api-docker.nomad.

variable "replicas" {
  type    = number
  default = 3
}

variable "image" {
  type        = string
  default     = "mcp-api:0.2.0"
  description = "the image (pushed by scripts/deploy_docker_production.sh --push REGISTRY)"
}

job "mcp-api" {
  datacenters = ["dc1"]
  type        = "service"

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

    constraint {
      operator = "distinct_hosts"
      value    = "true"
    }

    network {
      port "https" {
        to = 8443
      }
    }

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
        name            = "alive"
        type            = "http"
        protocol        = "https"
        path            = "/health"
        interval        = "10s"
        timeout         = "3s"
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
      driver = "docker"

      config {
        image = var.image
        ports = ["https"]
        args  = ["--ssl-certfile", "/secrets/tls.crt", "--ssl-keyfile", "/secrets/tls.key"]
        # The image's HEALTHCHECK probes plain HTTP; here the replica speaks HTTPS and Nomad's checks judge it.
        healthchecks {
          disable = true
        }
        mount {
          type   = "volume"
          source = "mcp-data"
          target = "/var/lib/mcp"
        }
      }

      env {
        MCP_HOST               = "0.0.0.0"
        MCP_PORT               = "8443"
        MCP_PROFILE            = "conservative"
        MCP_MASTER_KEY_FILE    = "/secrets/master.key"
        MCP_ADMIN_API_KEY_FILE = "/secrets/admin.key"
        MCP_LOG_FORMAT         = "json"
      }

      template {
        destination = "secrets/storage.env"
        env         = true
        perms       = "0600"
        data        = <<EOT
{{ with nomadVar "nomad/jobs/mcp-api" }}
MCP_MONGODB_URL={{ .mongodb_url }}
MCP_REDIS_URL={{ .redis_url }}
{{ end }}
EOT
      }

      # Owned by the image's user (10001), readable by it alone.
      template {
        destination = "secrets/master.key"
        perms       = "0600"
        uid         = 10001
        gid         = 10001
        data        = "{{ with nomadVar \"nomad/jobs/mcp-api\" }}{{ .master_key }}{{ end }}"
      }

      template {
        destination = "secrets/admin.key"
        perms       = "0600"
        uid         = 10001
        gid         = 10001
        data        = "{{ with nomadVar \"nomad/jobs/mcp-api\" }}{{ .admin_api_key }}{{ end }}"
      }

      template {
        destination = "secrets/tls.crt"
        perms       = "0644"
        data        = "{{ with nomadVar \"nomad/jobs/mcp-api\" }}{{ .tls_cert }}{{ end }}"
      }

      template {
        destination = "secrets/tls.key"
        perms       = "0600"
        uid         = 10001
        gid         = 10001
        data        = "{{ with nomadVar \"nomad/jobs/mcp-api\" }}{{ .tls_key }}{{ end }}"
      }

      kill_signal  = "SIGTERM"
      kill_timeout = "45s"

      resources {
        cpu    = 2000
        memory = 2048
      }
    }
  }
}
