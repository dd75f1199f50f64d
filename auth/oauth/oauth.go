package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

var (
	// ErrUnverifiedEmail is returned when the provider gives no e-mail it
	// says is verified.
	ErrUnverifiedEmail = errors.New("oauth: the provider has no verified e-mail for this account")
	// ErrBadState is returned for a state that is unknown, used, expired or
	// of another provider.
	ErrBadState = errors.New("oauth: unknown, used or expired sign-in state")
	// ErrNonce is returned when an ID token's nonce is not the flow's.
	ErrNonce = errors.New("oauth: the ID token's nonce does not match this sign-in")
	// ErrTooManyFlows is returned when too many sign-ins are in progress.
	ErrTooManyFlows = errors.New("oauth: too many sign-ins in progress; retry in a few minutes")
)

// Identity is who a provider says signed in.
type Identity struct {
	// Provider is the [Provider]'s name.
	Provider string
	// Subject is the provider's stable id of the account.
	Subject string
	// Email is an address the provider says the account holds and has
	// verified (never empty).
	Email string
	// Name is a display name ("" if none).
	Name string
}

// Provider is one configured identity provider.
type Provider interface {
	// Name is the provider's id in URLs and linked identities ("github").
	Name() string
	// Label is what the sign-in button says ("GitHub").
	Label() string
	// AuthURL is where to send the browser to sign in: the provider's
	// authorization endpoint with f's state, PKCE challenge and nonce.
	AuthURL(ctx context.Context, f Flow, redirectURL string) (string, error)
	// Exchange redeems the code of a callback for f and returns the
	// verified identity.
	Exchange(ctx context.Context, f Flow, code, redirectURL string) (Identity, error)
}

// namePattern is what a provider's name may be (it is a URL segment).
var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// ValidName reports whether name can name a provider.
func ValidName(name string) bool { return namePattern.MatchString(name) }

// Flow is one sign-in in progress: the secrets its callback must match.
type Flow struct {
	Provider string
	// State is the OAuth state parameter (and the browser cookie's value).
	State string
	// Verifier is the PKCE code verifier (43 characters).
	Verifier string
	// Nonce is the OIDC nonce put in the ID token.
	Nonce string
	// Expires ends the flow.
	Expires time.Time
	// Next is the same-origin path the browser returns to once signed in
	// (the caller validated it: see [Flows.BeginReturn]); "" for "/".
	Next string
}

// FlowTTL is how long a sign-in may take at the provider.
const FlowTTL = 10 * time.Minute

// MaxFlows bounds the sign-ins in progress on one node (each holds ~200
// bytes; the bound stops a flood of /start requests from growing memory).
const MaxFlows = 10000

// Flows keeps the sign-ins in progress on this node, each until used or
// expired. NB: in memory: the callback must reach the node that started
// the flow (one node, or sticky sessions behind a load balancer); a
// restart ends the sign-ins in progress (the user clicks again).
type Flows struct {
	now func() time.Time

	mu    sync.Mutex
	flows map[string]Flow // by state
}

// NewFlows returns an empty store reading time from now (nil: time.Now).
func NewFlows(now func() time.Time) *Flows {
	if now == nil {
		now = time.Now
	}
	return &Flows{now: now, flows: map[string]Flow{}}
}

func random32() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("oauth: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Begin starts a flow for provider with fresh state, verifier and nonce
// (256 random bits each).
func (fs *Flows) Begin(provider string) (Flow, error) { return fs.BeginReturn(provider, "") }

// BeginReturn is [Flows.Begin] for a browser that returns to next once
// signed in. next is kept server side with the flow, never sent to the
// provider; the caller must have checked it is a same-origin path.
func (fs *Flows) BeginReturn(provider, next string) (Flow, error) {
	f := Flow{Provider: provider, Next: next}
	var err error
	if f.State, err = random32(); err != nil {
		return Flow{}, err
	}
	if f.Verifier, err = random32(); err != nil {
		return Flow{}, err
	}
	if f.Nonce, err = random32(); err != nil {
		return Flow{}, err
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	now := fs.now()
	if len(fs.flows) >= MaxFlows {
		for s, old := range fs.flows {
			if !now.Before(old.Expires) {
				delete(fs.flows, s)
			}
		}
		if len(fs.flows) >= MaxFlows {
			return Flow{}, ErrTooManyFlows
		}
	}
	f.Expires = now.Add(FlowTTL)
	fs.flows[f.State] = f
	return f, nil
}

// Take ends the flow of state and returns it, if it is live and was
// started for provider. A state is taken once, whatever the outcome.
func (fs *Flows) Take(provider, state string) (Flow, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f, ok := fs.flows[state]
	delete(fs.flows, state)
	if !ok || f.Provider != provider || !fs.now().Before(f.Expires) {
		return Flow{}, ErrBadState
	}
	return f, nil
}

// Len is the number of flows held (expired ones included until pruned).
func (fs *Flows) Len() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return len(fs.flows)
}

// httpTimeout bounds each call to a provider.
const httpTimeout = 15 * time.Second

// defaultClient is the HTTP client for providers' endpoints.
var defaultClient = &http.Client{Timeout: httpTimeout}

// withClient puts c (or the default) where x/oauth2 and go-oidc look for it.
func withClient(ctx context.Context, c *http.Client) context.Context {
	if c == nil {
		c = defaultClient
	}
	return context.WithValue(ctx, oauth2.HTTPClient, c)
}
