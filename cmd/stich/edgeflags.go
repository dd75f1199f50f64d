package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/spf13/pflag"

	"github.com/stichdev/stich/mailer"
	"github.com/stichdev/stich/rpc"
)

// edgeFlags are the serve flags of the API server's edge (rpc/edge.go).
type edgeFlags struct {
	allowedHosts   []string
	allowedOrigins []string
	trustedProxies []string
	auth           string
	signup         string
	signupDomains  []string
	publicURL      string
	smtpAddr       string
	smtpFrom       string
	smtpUser       string
	smtpStartTLS   bool
}

func (f *edgeFlags) register(fl *pflag.FlagSet) {
	fl.StringSliceVar(&f.allowedHosts, "allowed-hosts", nil, "extra host names the API answers to (e.g. the name a reverse proxy serves it under); --http's own names are always allowed, any other Host header is refused (DNS rebinding)")
	fl.StringSliceVar(&f.allowedOrigins, "allowed-origins", nil, "extra browser origins allowed to call the API (https://stich.example); the server's own origin is always allowed")
	fl.StringVar(&f.auth, "auth", "single", "accounts: single (one owner; its API key is saved for the CLI on this machine and a one-time browser sign-in link is logged at start) or multi (sign-up and sign-in by e-mail and password, and through the providers configured with --oauth-* and --oidc-*; the owner stays the admin, and grants the role with 'stich admin grant')")
	fl.StringVar(&f.signup, "signup", "open", "with --auth multi: who may sign up: open, or invite (an invite from 'stich admin invite' is needed, except for --signup-domain addresses)")
	fl.StringSliceVar(&f.signupDomains, "signup-domain", nil, "with --auth multi: e-mail domains that may sign up (example.com,...); with --signup open, only these")
	fl.StringVar(&f.publicURL, "public-url", "", "the URL browsers reach this node at (https://stich.example): the base of links in e-mails and of sign-in providers' callback URLs (default: http:// and --http for e-mails, the address each request came to for callbacks)")
	fl.StringVar(&f.smtpAddr, "smtp-addr", "", "mail server (host:port) for verification and password-reset e-mails; without it they are written to the log")
	fl.StringVar(&f.smtpFrom, "smtp-from", "", "sender address of e-mails (with --smtp-addr)")
	fl.StringVar(&f.smtpUser, "smtp-user", "", "SMTP user name (the password is read from STICH_SMTP_PASSWORD)")
	fl.BoolVar(&f.smtpStartTLS, "smtp-starttls", true, "require STARTTLS with the mail server (turn off only for a relay on loopback or a trusted network)")
	fl.StringSliceVar(&f.trustedProxies, "trusted-proxies", nil, "addresses or networks (10.0.0.0/8) of reverse proxies whose X-Forwarded-For names the client; without it the header is ignored")
}

// config builds the edge config, reporting a bad --trusted-proxies entry.
func (f *edgeFlags) config() (rpc.EdgeConfig, error) {
	switch f.auth {
	case "single", "multi":
	default:
		return rpc.EdgeConfig{}, fmt.Errorf("--auth %q: want single or multi", f.auth)
	}
	proxies, err := rpc.ParseTrustedProxies(f.trustedProxies)
	if err != nil {
		return rpc.EdgeConfig{}, fmt.Errorf("--trusted-proxies: %w", err)
	}
	return rpc.EdgeConfig{AllowedHosts: f.allowedHosts, AllowedOrigins: f.allowedOrigins, TrustedProxies: proxies}, nil
}

// accounts builds the accounts config (mail included), reporting every
// problem at once.
func (f *edgeFlags) accounts() (rpc.AccountsConfig, error) {
	var errs []error
	switch f.signup {
	case "", "open", "invite":
	default:
		errs = append(errs, fmt.Errorf("--signup %q: want open or invite", f.signup))
	}
	if f.auth != "multi" && (f.signup == "invite" || len(f.signupDomains) > 0 || f.smtpAddr != "") {
		errs = append(errs, errors.New("--signup, --signup-domain and --smtp-addr need --auth multi"))
	}
	if f.publicURL != "" {
		if u, err := url.Parse(f.publicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			errs = append(errs, fmt.Errorf("--public-url %q: want http(s)://host[:port]", f.publicURL))
		}
	}
	cfg := rpc.AccountsConfig{Mode: f.auth, Signup: f.signup, SignupDomains: f.signupDomains, PublicURL: f.publicURL}
	if f.smtpAddr != "" {
		m, err := mailer.NewSMTP(mailer.SMTPConfig{Addr: f.smtpAddr, From: f.smtpFrom, Username: f.smtpUser,
			Password: os.Getenv("STICH_SMTP_PASSWORD"), StartTLS: f.smtpStartTLS})
		if err != nil {
			errs = append(errs, fmt.Errorf("--smtp-*: %w", err))
		}
		cfg.Mailer = m
	}
	if err := errors.Join(errs...); err != nil {
		return rpc.AccountsConfig{}, err
	}
	return cfg, nil
}
