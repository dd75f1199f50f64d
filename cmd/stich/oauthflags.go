package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/stichdev/stich/auth/oauth"
	"github.com/stichdev/stich/rpc"
)

// oauthFlags are the serve flags of sign-in through outside providers
// (rpc/oauth.go).
//
// NB: a client secret is never a flag's value (it would show in `ps` and
// in shell history): it comes from a file (--…-client-secret-file) or an
// environment variable (STICH_OAUTH_GITHUB_CLIENT_SECRET,
// STICH_OAUTH_GOOGLE_CLIENT_SECRET, STICH_OIDC_CLIENT_SECRET); the file
// wins when both are set.
type oauthFlags struct {
	githubID, githubSecretFile, githubURL, githubAPIURL string
	googleID, googleSecretFile                          string
	oidcIssuer, oidcID, oidcSecretFile, oidcName        string
	oidcLabel                                           string
	ownerEmail                                          string
}

func (f *oauthFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.githubID, "oauth-github-client-id", "", "client id of a GitHub OAuth app: turns on \"Sign in with GitHub\" (callback URL to register: PUBLIC_URL/auth/oauth/github/callback)")
	fl.StringVar(&f.githubSecretFile, "oauth-github-client-secret-file", "", "file holding the GitHub OAuth app's client secret (or set STICH_OAUTH_GITHUB_CLIENT_SECRET)")
	fl.StringVar(&f.githubURL, "oauth-github-url", oauth.GitHubURL, "GitHub's web URL (a GitHub Enterprise Server's URL instead)")
	fl.StringVar(&f.githubAPIURL, "oauth-github-api-url", oauth.GitHubAPIURL, "GitHub's API URL (GitHub Enterprise Server: https://HOST/api/v3)")
	fl.StringVar(&f.googleID, "oauth-google-client-id", "", "client id of a Google OAuth client: turns on \"Sign in with Google\" (redirect URI to register: PUBLIC_URL/auth/oauth/google/callback)")
	fl.StringVar(&f.googleSecretFile, "oauth-google-client-secret-file", "", "file holding the Google client secret (or set STICH_OAUTH_GOOGLE_CLIENT_SECRET)")
	fl.StringVar(&f.oidcIssuer, "oidc-issuer", "", "issuer URL of an OpenID Connect provider (Keycloak, Authentik, Dex...), found by its discovery document: turns on sign-in with it")
	fl.StringVar(&f.oidcID, "oidc-client-id", "", "client id registered at --oidc-issuer")
	fl.StringVar(&f.oidcSecretFile, "oidc-client-secret-file", "", "file holding the --oidc-issuer client's secret (or set STICH_OIDC_CLIENT_SECRET)")
	fl.StringVar(&f.oidcName, "oidc-name", "oidc", "the OIDC provider's id in URLs (redirect URI: PUBLIC_URL/auth/oauth/NAME/callback)")
	fl.StringVar(&f.oidcLabel, "oidc-label", "", "the OIDC provider's name on the sign-in button (default: --oidc-name)")
	fl.StringVar(&f.ownerEmail, "oauth-owner-email", "", "with --auth single: the owner's e-mail; a provider's sign-in with this verified e-mail signs in as the owner, any other is refused")
}

// secret reads a client secret from file (the value of flag), else from
// the environment variable env.
func secret(flag, file, env string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s: %w", flag, err)
		}
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, nil
		}
		return "", fmt.Errorf("%s: %s is empty", flag, file)
	}
	if s := strings.TrimSpace(os.Getenv(env)); s != "" {
		return s, nil
	}
	return "", fmt.Errorf("a client secret is needed: give a file holding it with %s, or set $%s (a secret is never a flag's value)", flag, env)
}

// config builds the providers; mode is --auth, publicURL --public-url
// (checked with the edge flags). Every problem is reported.
func (f *oauthFlags) config(mode, publicURL string) (rpc.OAuthConfig, error) {
	cfg := rpc.OAuthConfig{SignUp: mode == "multi", OwnerEmail: f.ownerEmail, PublicURL: publicURL}
	var errs []error
	add := func(p oauth.Provider, err error) {
		if err != nil {
			errs = append(errs, err)
			return
		}
		cfg.Providers = append(cfg.Providers, p)
	}
	if f.githubID != "" {
		s, err := secret("--oauth-github-client-secret-file", f.githubSecretFile, "STICH_OAUTH_GITHUB_CLIENT_SECRET")
		if err != nil {
			errs = append(errs, err)
		} else {
			add(oauth.NewGitHub(oauth.GitHubConfig{ClientID: f.githubID, ClientSecret: s, BaseURL: f.githubURL, APIURL: f.githubAPIURL}))
		}
	}
	if f.googleID != "" {
		s, err := secret("--oauth-google-client-secret-file", f.googleSecretFile, "STICH_OAUTH_GOOGLE_CLIENT_SECRET")
		if err != nil {
			errs = append(errs, err)
		} else {
			add(oauth.NewGoogle(f.googleID, s, nil))
		}
	}
	if f.oidcIssuer != "" || f.oidcID != "" {
		s, err := secret("--oidc-client-secret-file", f.oidcSecretFile, "STICH_OIDC_CLIENT_SECRET")
		switch {
		case f.oidcIssuer == "" || f.oidcID == "":
			errs = append(errs, errors.New("--oidc-issuer and --oidc-client-id go together"))
		case err != nil:
			errs = append(errs, err)
		case f.oidcName == "github" || f.oidcName == "google":
			errs = append(errs, fmt.Errorf("--oidc-name %q is taken by a built-in provider", f.oidcName))
		default:
			add(oauth.NewOIDC(oauth.OIDCConfig{Name: f.oidcName, Label: f.oidcLabel, Issuer: f.oidcIssuer, ClientID: f.oidcID, ClientSecret: s}))
		}
	}
	switch {
	case mode != "multi" && len(cfg.Providers) > 0 && f.ownerEmail == "":
		errs = append(errs, errors.New("with --auth single, sign-in through a provider needs --oauth-owner-email (only the owner signs in); or use --auth multi"))
	case f.ownerEmail != "" && !strings.Contains(f.ownerEmail, "@"):
		errs = append(errs, fmt.Errorf("--oauth-owner-email %q is not an e-mail address", f.ownerEmail))
	}
	return cfg, errors.Join(errs...)
}
