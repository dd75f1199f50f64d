package sandbox

// InstallOnHostNetwork makes l's installs share the host's network with
// no egress proxy (the sandbox before the proxy), for benchmark
// references.
func InstallOnHostNetwork(l *Local) { l.installHostNet = true }
