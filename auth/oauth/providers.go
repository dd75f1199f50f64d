package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// GitHub's public endpoints; GitHub Enterprise Server serves the same
// paths under its own host (API under /api/v3).
const (
	GitHubURL    = "https://github.com"
	GitHubAPIURL = "https://api.github.com"
	// GoogleIssuer is Google's OpenID Connect issuer.
	GoogleIssuer = "https://accounts.google.com"
)

// GitHubConfig configures sign-in with GitHub (an OAuth app).
type GitHubConfig struct {
	ClientID, ClientSecret string
	// BaseURL serves /login/oauth/authorize and /login/oauth/access_token.
	// Default [GitHubURL].
	BaseURL string
	// APIURL serves /user and /user/emails. Default [GitHubAPIURL].
	APIURL string
	// Client makes the calls to GitHub. Default: a client with a 15 s timeout.
	Client *http.Client
}

// NewGitHub returns the "github" provider.
func NewGitHub(c GitHubConfig) (Provider, error) {
	if c.ClientID == "" || c.ClientSecret == "" {
		return nil, errors.New("oauth: GitHub needs a client id and a client secret")
	}
	if c.BaseURL == "" {
		c.BaseURL = GitHubURL
	}
	if c.APIURL == "" {
		c.APIURL = GitHubAPIURL
	}
	base, api := strings.TrimSuffix(c.BaseURL, "/"), strings.TrimSuffix(c.APIURL, "/")
	return &github{cfg: c, api: api, oauth: oauth2.Config{
		ClientID: c.ClientID, ClientSecret: c.ClientSecret,
		Endpoint: oauth2.Endpoint{AuthURL: base + "/login/oauth/authorize", TokenURL: base + "/login/oauth/access_token",
			AuthStyle: oauth2.AuthStyleInParams},
		// read:user for the profile, user:email for private addresses.
		Scopes: []string{"read:user", "user:email"},
	}}, nil
}

type github struct {
	cfg   GitHubConfig
	api   string
	oauth oauth2.Config
}

func (g *github) Name() string  { return "github" }
func (g *github) Label() string { return "GitHub" }

func (g *github) config(redirectURL string) *oauth2.Config {
	c := g.oauth
	c.RedirectURL = redirectURL
	return &c
}

func (g *github) AuthURL(_ context.Context, f Flow, redirectURL string) (string, error) {
	return g.config(redirectURL).AuthCodeURL(f.State, oauth2.S256ChallengeOption(f.Verifier)), nil
}

// maxAPIBody bounds a provider's JSON answer.
const maxAPIBody = 1 << 20

func (g *github) Exchange(ctx context.Context, f Flow, code, redirectURL string) (Identity, error) {
	ctx = withClient(ctx, g.cfg.Client)
	tok, err := g.config(redirectURL).Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return Identity{}, fmt.Errorf("oauth: github token: %w", err)
	}
	client := oauth2.NewClient(ctx, oauth2.StaticTokenSource(tok))
	var user struct {
		ID    int64  `json:"id"`
		Login string `json:"login"`
		Name  string `json:"name"`
	}
	if err := getJSON(ctx, client, g.api+"/user", &user); err != nil {
		return Identity{}, err
	}
	if user.ID == 0 {
		return Identity{}, errors.New("oauth: github /user has no id")
	}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if err := getJSON(ctx, client, g.api+"/user/emails", &emails); err != nil {
		return Identity{}, err
	}
	id := Identity{Provider: g.Name(), Subject: strconv.FormatInt(user.ID, 10), Name: user.Name}
	if id.Name == "" {
		id.Name = user.Login
	}
	// NB: only the primary address, and only if verified: GitHub lets an
	// account add any address unverified, and its public profile e-mail
	// (/user's email) says nothing about verification.
	for _, e := range emails {
		if e.Primary && e.Verified && strings.Contains(e.Email, "@") {
			id.Email = e.Email
		}
	}
	if id.Email == "" {
		return Identity{}, ErrUnverifiedEmail
	}
	return id, nil
}

// getJSON GETs url with GitHub's API headers and decodes the answer.
func getJSON(ctx context.Context, c *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("oauth: %w", err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	res, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("oauth: GET %s: %w", url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxAPIBody))
	if err != nil {
		return fmt.Errorf("oauth: GET %s: %w", url, err)
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("oauth: GET %s: %s", url, res.Status)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("oauth: GET %s: %w", url, err)
	}
	return nil
}

// OIDCConfig configures sign-in with an OpenID Connect issuer.
type OIDCConfig struct {
	// Name is the provider's id in URLs ("google", "keycloak").
	Name string
	// Label is the button's text ("Google", "Keycloak").
	Label string
	// Issuer is the issuer URL; its discovery document is at
	// Issuer + "/.well-known/openid-configuration".
	Issuer                 string
	ClientID, ClientSecret string
	// Client makes the calls to the issuer. Default: a client with a 15 s timeout.
	Client *http.Client
}

// NewGoogle returns the "google" provider (Google's OpenID Connect issuer).
func NewGoogle(clientID, clientSecret string, client *http.Client) (Provider, error) {
	return NewOIDC(OIDCConfig{Name: "google", Label: "Google", Issuer: GoogleIssuer, ClientID: clientID, ClientSecret: clientSecret, Client: client})
}

// NewOIDC returns a provider for an OpenID Connect issuer. The discovery
// document is fetched on first use (and again after a failure), so a node
// starts while its issuer is down.
func NewOIDC(c OIDCConfig) (Provider, error) {
	switch {
	case !ValidName(c.Name):
		return nil, fmt.Errorf("oauth: provider name %q: want lower-case letters, digits and '-'", c.Name)
	case !strings.HasPrefix(c.Issuer, "https://") && !strings.HasPrefix(c.Issuer, "http://"):
		return nil, fmt.Errorf("oauth: issuer %q is not an http(s) URL", c.Issuer)
	case c.ClientID == "" || c.ClientSecret == "":
		return nil, fmt.Errorf("oauth: %s needs a client id and a client secret", c.Name)
	}
	if c.Label == "" {
		c.Label = c.Name
	}
	if c.Client == nil {
		c.Client = defaultClient
	}
	return &oidcProvider{cfg: c}, nil
}

type oidcProvider struct {
	cfg OIDCConfig

	mu       sync.Mutex
	provider *oidc.Provider // nil until discovered
}

func (o *oidcProvider) Name() string  { return o.cfg.Name }
func (o *oidcProvider) Label() string { return o.cfg.Label }

// discover returns the issuer's metadata, fetching it once.
func (o *oidcProvider) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	// NB: the client goes into the provider and its key set (JWKS fetches
	// outlive this request's context).
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, o.cfg.Client), o.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oauth: %s discovery: %w", o.cfg.Name, err)
	}
	o.provider = p
	return p, nil
}

func (o *oidcProvider) config(p *oidc.Provider, redirectURL string) *oauth2.Config {
	ep := p.Endpoint()
	// NB: client_secret_basic, OpenID Connect's default method, which
	// Google, Keycloak, Authentik and Dex accept. (x/oauth2's auto-detect
	// would retry a refused code in the form, hiding the first error.)
	ep.AuthStyle = oauth2.AuthStyleInHeader
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, Endpoint: ep,
		RedirectURL: redirectURL, Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}
}

func (o *oidcProvider) AuthURL(ctx context.Context, f Flow, redirectURL string) (string, error) {
	p, err := o.discover(ctx)
	if err != nil {
		return "", err
	}
	return o.config(p, redirectURL).AuthCodeURL(f.State, oauth2.S256ChallengeOption(f.Verifier), oidc.Nonce(f.Nonce)), nil
}

func (o *oidcProvider) Exchange(ctx context.Context, f Flow, code, redirectURL string) (Identity, error) {
	p, err := o.discover(ctx)
	if err != nil {
		return Identity{}, err
	}
	ctx = withClient(ctx, o.cfg.Client)
	tok, err := o.config(p, redirectURL).Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return Identity{}, fmt.Errorf("oauth: %s token: %w", o.cfg.Name, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Identity{}, fmt.Errorf("oauth: %s answered without an ID token", o.cfg.Name)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: o.cfg.ClientID}).Verify(ctx, raw)
	if err != nil {
		return Identity{}, fmt.Errorf("oauth: %s ID token: %w", o.cfg.Name, err)
	}
	if idt.Nonce != f.Nonce {
		return Identity{}, ErrNonce
	}
	var claims struct {
		Email         string          `json:"email"`
		EmailVerified json.RawMessage `json:"email_verified"`
		Name          string          `json:"name"`
	}
	if err := idt.Claims(&claims); err != nil {
		return Identity{}, fmt.Errorf("oauth: %s ID token claims: %w", o.cfg.Name, err)
	}
	// NB: some issuers send email_verified as the string "true".
	verified := string(claims.EmailVerified) == "true" || string(claims.EmailVerified) == `"true"`
	if !verified || !strings.Contains(claims.Email, "@") {
		return Identity{}, ErrUnverifiedEmail
	}
	return Identity{Provider: o.cfg.Name, Subject: idt.Subject, Email: claims.Email, Name: claims.Name}, nil
}
