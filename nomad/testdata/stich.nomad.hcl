job "stich" {
  name        = "stich"
  type        = "service"
  datacenters = ["*"]

  constraint {
    value    = "true"
    operator = "distinct_hosts"
  }
  group "stich" {
    count = 3

    task "stich" {
      driver       = "exec"
      kill_timeout = "30s"
      kill_signal  = "SIGTERM"

      config {
        args    = ["serve", "--node-name", "stich-$${NOMAD_ALLOC_INDEX}", "--data", "/var/lib/stich/node-$${NOMAD_ALLOC_INDEX}", "--http", "$${NOMAD_ADDR_http}", "--gossip-addr", "$${NOMAD_ADDR_gossip}", "--gossip-profile", "lan", "--actor-addr", "$${NOMAD_ADDR_actor}", "--replication-addr", "$${NOMAD_ADDR_repl}", "--preview-http", "$${NOMAD_ADDR_preview}", "--region", "$${node.region}", "--zone", "$${node.datacenter}", "--shutdown-grace", "20s"]
        command = "/usr/local/bin/stich"
      }
      resources {
        cpu    = 1000
        memory = 1024
      }
      template {
        destination = "local/join.env"
        data        = <<EOT
STICH_JOIN={{ range $i, $s := nomadService "stich-gossip" }}{{ if $i }},{{ end }}{{ $s.Address }}:{{ $s.Port }}{{ end }}
EOT
        change_mode = "noop"
        env         = true
      }
      volume_mount {
        volume      = "data"
        destination = "/var/lib/stich"
      }
    }
    volume "data" {
      type   = "host"
      source = "stich-data"
    }
    restart {
      interval = "10m0s"
      attempts = 10
      delay    = "5s"
      mode     = "delay"
    }
    update {
      max_parallel      = 1
      health_check      = "checks"
      min_healthy_time  = "15s"
      healthy_deadline  = "5m0s"
      progress_deadline = "10m0s"
      canary            = 1
      auto_revert       = true
      auto_promote      = false
    }
    network {
      port "http" {
      }
      port "gossip" {
      }
      port "actor" {
      }
      port "repl" {
      }
      port "preview" {
      }
    }
    service {
      name     = "stich"
      tags     = ["http"]
      port     = "http"
      provider = "nomad"

      check {
        name     = "metrics"
        type     = "http"
        path     = "/metrics"
        interval = "10s"
        timeout  = "3s"
      }
    }
    service {
      name     = "stich-gossip"
      port     = "gossip"
      provider = "nomad"
    }
    service {
      name     = "stich-preview"
      port     = "preview"
      provider = "nomad"
    }
  }
}
