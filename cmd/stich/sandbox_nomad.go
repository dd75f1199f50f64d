package main

import (
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/spf13/pflag"

	"github.com/stichdev/stich/appbuild"
	"github.com/stichdev/stich/nomad"
)

// nomadSandboxFlags configure --sandbox nomad: builds dispatched as the
// parameterized sandbox job.
type nomadSandboxFlags struct {
	job     string
	nodeURL string
}

func (f *nomadSandboxFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.job, "sandbox-nomad-job", "stich-sandbox", "with --sandbox nomad: the registered sandbox job builds are dispatched from (stich nomad apply sandbox)")
	fl.StringVar(&f.nodeURL, "sandbox-nomad-url", "", "with --sandbox nomad: this node's HTTP root as Nomad clients reach it, for the builds' signed URLs (default http://<--http address>; set it when --http binds 0.0.0.0 or sits behind a proxy)")
}

func (f *nomadSandboxFlags) validate(mode string) []error {
	var errs []error
	if f.nodeURL != "" {
		if u, err := url.Parse(f.nodeURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			errs = append(errs, fmt.Errorf("--sandbox-nomad-url %q: want http(s)://host:port", f.nodeURL))
		}
	}
	if mode == "nomad" && f.job == "" {
		errs = append(errs, fmt.Errorf("--sandbox-nomad-job: required with --sandbox nomad"))
	}
	return errs
}

// builds sets up the Nomad runner: checks become dispatches of the job,
// and handler serves their signed URLs on the node's HTTP port under
// [nomad.BuildPathPrefix].
func (f *nomadSandboxFlags) builds(addr, token, httpAddr string) (cfg *appbuild.Config, handler http.Handler, disabled string) {
	c, err := nomad.NewClient(nomad.ClientConfig{Address: addr, Token: token})
	if err != nil {
		return nil, nil, "builds and previews are off: " + err.Error()
	}
	node := f.nodeURL
	if node == "" {
		host, port, _ := net.SplitHostPort(httpAddr)
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			return nil, nil, "builds and previews are off: --http " + httpAddr + " binds every address, so Nomad clients need --sandbox-nomad-url to reach this node"
		}
		node = "http://" + net.JoinHostPort(host, port)
	}
	// The secret lives as long as the process, as do the builds it signs.
	secret := make([]byte, 32)
	rand.Read(secret)
	r, err := nomad.NewBuildRunner(nomad.BuildRunnerConfig{Client: c, JobID: f.job, NodeURL: node, Secret: secret})
	if err != nil {
		return nil, nil, "builds and previews are off: " + err.Error()
	}
	return &appbuild.Config{Remote: r}, r.Handler(), ""
}
