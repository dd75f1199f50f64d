job "inference-vllm" {
  name        = "inference-vllm"
  type        = "service"
  datacenters = ["*"]

  group "vllm" {
    count = 1

    task "vllm" {
      driver       = "docker"
      kill_timeout = "30s"

      config {
        args     = ["--model", "Qwen/Qwen2.5-Coder-32B-Instruct", "--served-model-name", "qwen2.5-coder-32b", "--host", "0.0.0.0", "--port", "8000", "--tensor-parallel-size", "2", "--max-model-len", "32768"]
        image    = "vllm/vllm-openai:v0.11.0"
        ipc_mode = "host"
        ports    = ["http"]
      }
      env {
        HF_HOME = "/alloc/data/hf"
      }
      resources {
        cpu    = 4000
        memory = 32768

        device "nvidia/gpu" {
          count = 2

          constraint {
            attribute = "$${device.attr.memory}"
            value     = "40960 MiB"
            operator  = ">="
          }
        }
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
      tags     = ["model=qwen2.5-coder-32b", "engine=vllm"]
      port     = "http"
      provider = "nomad"

      check {
        name     = "model-loaded"
        type     = "http"
        path     = "/v1/models"
        interval = "15s"
        timeout  = "5s"

        check_restart {
          limit = 3
          grace = "30m0s"
        }
      }
    }
  }
}
