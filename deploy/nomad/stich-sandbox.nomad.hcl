job "stich-sandbox" {
  name        = "stich-sandbox"
  type        = "batch"
  datacenters = ["*"]

  group "build" {
    count            = 1
    max_run_duration = "10m0s"

    task "build" {
      driver       = "exec"
      kill_timeout = "5s"

      config {
        args    = ["sandbox-build", "--workspace-url", "$${NOMAD_META_workspace_url}", "--result-url", "$${NOMAD_META_result_url}", "--sandbox-dir", "$${NOMAD_TASK_DIR}/sandbox"]
        command = "/usr/local/bin/stich"
      }
      resources {
        cpu    = 2000
        memory = 2048
      }
      logs {
        max_files     = 2
        max_file_size = 10
      }
    }
    restart {
      attempts = 0
      mode     = "fail"
    }
    reschedule {
      attempts  = 0
      unlimited = false
    }
    ephemeral_disk {
      size = 2048
    }
  }
  parameterized {
    payload       = "forbidden"
    meta_required = ["workspace_url", "result_url"]
  }
}
