package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/stichdev/stich/rpc"
)

// edgeFlags are the serve flags of the API server's edge (rpc/edge.go).
type edgeFlags struct {
	allowedHosts   []string
	allowedOrigins []string
	trustedProxies []string
	auth           string
}

func (f *edgeFlags) register(fl *pflag.FlagSet) {
	fl.StringSliceVar(&f.allowedHosts, "allowed-hosts", nil, "extra host names the API answers to (e.g. the name a reverse proxy serves it under); --http's own names are always allowed, any other Host header is refused (DNS rebinding)")
	fl.StringSliceVar(&f.allowedOrigins, "allowed-origins", nil, "extra browser origins allowed to call the API (https://stich.example); the server's own origin is always allowed")
	fl.StringVar(&f.auth, "auth", "single", "accounts: single (one owner; its API key is saved for the CLI on this machine and a one-time browser sign-in link is logged at start) or multi (anyone who signs in through a configured provider gets an account: --oauth-*, --oidc-*)")
	fl.StringSliceVar(&f.trustedProxies, "trusted-proxies", nil, "addresses or networks (10.0.0.0/8) of reverse proxies whose X-Forwarded-For names the client; without it the header is ignored")
}

// config builds the edge config, reporting a bad --trusted-proxies entry.
func (f *edgeFlags) config() (rpc.EdgeConfig, error) {
	switch f.auth {
	case "single":
	case "multi":
		// NB: accounts are made by signing in through a provider
		// (cmd/stich/oauthflags.go checks one is configured).
	default:
		return rpc.EdgeConfig{}, fmt.Errorf("--auth %q: want single or multi", f.auth)
	}
	proxies, err := rpc.ParseTrustedProxies(f.trustedProxies)
	if err != nil {
		return rpc.EdgeConfig{}, fmt.Errorf("--trusted-proxies: %w", err)
	}
	return rpc.EdgeConfig{AllowedHosts: f.allowedHosts, AllowedOrigins: f.allowedOrigins, TrustedProxies: proxies}, nil
}
