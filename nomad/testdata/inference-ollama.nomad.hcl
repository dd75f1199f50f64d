job "inference-ollama" {
  name        = "inference-ollama"
  type        = "service"
  datacenters = ["*"]

  group "ollama" {
    count = 1

    task "ollama" {
      driver       = "docker"
      kill_timeout = "30s"

      config {
        image = "ollama/ollama:0.12.6"
        ports = ["http"]
      }
      env {
        OLLAMA_HOST       = "0.0.0.0:8000"
        OLLAMA_KEEP_ALIVE = "-1"
        OLLAMA_MODELS     = "/alloc/data/ollama"
      }
      resources {
        cpu    = 4000
        memory = 32768

        device "nvidia/gpu" {
          count = 1

          constraint {
            attribute = "$${device.attr.memory}"
            value     = "8192 MiB"
            operator  = ">="
          }
        }
      }
    }
    task "pull" {
      driver = "docker"

      lifecycle {
        hook = "poststart"
      }
      config {
        args  = ["-fsS", "--retry", "30", "--retry-connrefused", "--retry-delay", "2", "-d", "{\"model\":\"qwen2.5-coder:7b\",\"stream\":false}", "http://$${NOMAD_ADDR_http}/api/pull"]
        image = "curlimages/curl:8.10.1"
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
    ephemeral_disk {
      sticky = true
      size   = 102400
    }
    update {
      max_parallel      = 1
      health_check      = "checks"
      min_healthy_time  = "30s"
      healthy_deadline  = "30m0s"
      progress_deadline = "40m0s"
      auto_revert       = true
    }
    network {
      port "http" {
        to = 8000
      }
    }
    service {
      name     = "stich-inference"
      tags     = ["model=qwen2.5-coder:7b", "engine=ollama"]
      port     = "http"
      provider = "nomad"

      check {
        name     = "model-loaded"
        type     = "http"
        path     = "/api/show"
        interval = "15s"
        timeout  = "5s"
        method   = "POST"
        body     = "{\"model\":\"qwen2.5-coder:7b\"}"

        check_restart {
          limit = 3
          grace = "30m0s"
        }
      }
    }
  }
}
