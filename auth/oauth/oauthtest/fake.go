// Package oauthtest is an in-process identity provider for tests: GitHub's
// OAuth endpoints (authorize, access_token, /user, /user/emails), Google's
// OpenID Connect issuer and a generic one (discovery, authorize, token,
// JWKS, RS256 ID tokens), on one httptest server.
//
// It checks what the real providers check: the client id and secret, the
// redirect URI of the code, PKCE S256 (the verifier must hash to the
// challenge; "plain" is refused), and codes are single use and expire. The
// authorize endpoint approves at once as the provider's current [User]
// (no login page), redirecting to the redirect URI with the code and the
// state it was given, as a provider does after the user clicks "allow".
//
// Safe for concurrent use. Only for tests: it trusts everyone.
package oauthtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// User is an account at a fake provider.
type User struct {
	// ID is GitHub's numeric id, or an ID token's sub.
	ID    string
	Login string
	Name  string
	Email string
	// EmailVerified is what the provider says of Email (GitHub: the
	// verified flag of the primary address; OIDC: email_verified).
	EmailVerified bool
}

// Client ids and secrets the fake knows (one pair per provider).
const (
	GitHubClientID     = "gh-client"
	GitHubClientSecret = "gh-secret"
	GoogleClientID     = "google-client.apps.googleusercontent.com"
	GoogleClientSecret = "google-secret"
	OIDCClientID       = "stich"
	OIDCClientSecret   = "oidc-secret"
)

// codeTTL is how long an authorization code is redeemable (GitHub: 10 min).
const codeTTL = 10 * time.Minute

// Server is the fake provider.
type Server struct {
	*httptest.Server
	key *rsa.PrivateKey
	kid string

	mu    sync.Mutex
	users map[string]User // provider ("github", "google", "oidc") -> current user
	codes map[string]grant
	// tokens maps a GitHub access token to its user.
	tokens map[string]User
	// wrongNonce makes the next ID tokens carry a nonce other than the one
	// asked for (a replayed or swapped token).
	wrongNonce bool
	// exchanges counts token requests answered with a token.
	exchanges int
}

type grant struct {
	provider, clientID, redirectURI, challenge, nonce string
	user                                              User
	expires                                           time.Time
}

// New starts a fake provider; it stops when the test ends.
func New(t interface {
	Helper()
	Fatal(...any)
	Cleanup(func())
}) *Server {
	t.Helper()
	s, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake provider listening on addr (host:port; port 0 picks
// one). The caller closes it.
func Start(addr string) (*Server, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{key: key, kid: "fake-1", users: map[string]User{}, codes: map[string]grant{}, tokens: map[string]User{}}
	mux := http.NewServeMux()
	// GitHub (web and API on one host: BaseURL = URL, APIURL = URL + "/api").
	mux.HandleFunc("GET /login/oauth/authorize", s.authorize("github"))
	mux.HandleFunc("POST /login/oauth/access_token", s.token("github"))
	mux.HandleFunc("GET /api/user", s.githubUser)
	mux.HandleFunc("GET /api/user/emails", s.githubEmails)
	// OpenID Connect issuers: Google's paths, and a generic one's.
	for _, p := range []string{"google", "oidc"} {
		mux.HandleFunc("GET /"+p+"/.well-known/openid-configuration", s.discovery(p))
		mux.HandleFunc("GET /"+p+"/authorize", s.authorize(p))
		mux.HandleFunc("POST /"+p+"/token", s.token(p))
		mux.HandleFunc("GET /"+p+"/jwks", s.jwks)
	}
	s.Server = &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	s.Server.Start()
	return s, nil
}

// GitHubURL and GitHubAPIURL are the fake's GitHub base and API URLs.
func (s *Server) GitHubURL() string    { return s.URL }
func (s *Server) GitHubAPIURL() string { return s.URL + "/api" }

// Issuer is the issuer URL of "google" or "oidc".
func (s *Server) Issuer(provider string) string { return s.URL + "/" + provider }

// SetUser makes u the account that approves the next sign-ins at provider.
func (s *Server) SetUser(provider string, u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[provider] = u
}

// SetWrongNonce makes the ID tokens issued from now on carry a wrong nonce.
func (s *Server) SetWrongNonce(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wrongNonce = on
}

// Exchanges counts the codes redeemed for a token.
func (s *Server) Exchanges() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exchanges
}

func clientOf(provider string) (id, secret string) {
	switch provider {
	case "github":
		return GitHubClientID, GitHubClientSecret
	case "google":
		return GoogleClientID, GoogleClientSecret
	}
	return OIDCClientID, OIDCClientSecret
}

func random() string {
	var b [24]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// authorize approves a sign-in as the provider's current user.
func (s *Server) authorize(provider string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		id, _ := clientOf(provider)
		redirect, err := url.Parse(q.Get("redirect_uri"))
		switch {
		case q.Get("client_id") != id:
			http.Error(w, "unknown client_id", http.StatusBadRequest)
			return
		case err != nil || redirect.Scheme == "" || redirect.Host == "":
			http.Error(w, "bad redirect_uri", http.StatusBadRequest)
			return
		case q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43:
			http.Error(w, "PKCE with S256 is required", http.StatusBadRequest)
			return
		case provider != "github" && (q.Get("response_type") != "code" || !strings.Contains(" "+q.Get("scope")+" ", " openid ")):
			http.Error(w, "response_type=code and scope openid are required", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		u, ok := s.users[provider]
		code := random()
		if ok {
			s.codes[code] = grant{provider: provider, clientID: id, redirectURI: q.Get("redirect_uri"),
				challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), user: u, expires: time.Now().Add(codeTTL)}
		}
		s.mu.Unlock()
		if !ok {
			http.Error(w, "no user is signed in at the fake "+provider, http.StatusForbidden)
			return
		}
		back := redirect.Query()
		back.Set("code", code)
		back.Set("state", q.Get("state"))
		redirect.RawQuery = back.Encode()
		http.Redirect(w, r, redirect.String(), http.StatusFound)
	}
}

// token redeems a code, checking the client, the redirect URI and PKCE.
// GitHub answers errors with status 200 and an "error" field (form or
// JSON by the Accept header); OIDC issuers with 400 and JSON.
func (s *Server) token(provider string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		fail := func(code, desc string) {
			if provider == "github" {
				writeGitHub(w, r, url.Values{"error": {code}, "error_description": {desc}})
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
		}
		if err := r.ParseForm(); err != nil {
			fail("invalid_request", "bad form")
			return
		}
		clientID, secret, ok := r.BasicAuth()
		if !ok {
			clientID, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		wantID, wantSecret := clientOf(provider)
		if clientID != wantID || secret != wantSecret {
			fail("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.")
			return
		}
		code := r.PostForm.Get("code")
		s.mu.Lock()
		g, ok := s.codes[code]
		delete(s.codes, code) // single use, whatever the outcome
		s.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		switch {
		case !ok || g.provider != provider || time.Now().After(g.expires):
			fail("bad_verification_code", "The code passed is incorrect or expired.")
			return
		case r.PostForm.Get("redirect_uri") != g.redirectURI:
			fail("redirect_uri_mismatch", "The redirect_uri MUST match the registered callback URL for this application.")
			return
		case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
			fail("invalid_grant", "The code_verifier does not match the code_challenge.")
			return
		}
		access := "gho_" + random()
		s.mu.Lock()
		s.exchanges++
		s.tokens[access] = g.user
		wrongNonce := s.wrongNonce
		s.mu.Unlock()
		if provider == "github" {
			writeGitHub(w, r, url.Values{"access_token": {access}, "scope": {"read:user,user:email"}, "token_type": {"bearer"}})
			return
		}
		nonce := g.nonce
		if wrongNonce {
			nonce = "not-" + nonce
		}
		idToken, err := s.idToken(provider, g.user, nonce)
		if err != nil {
			fail("server_error", err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": 3599,
			"scope": "openid email profile", "id_token": idToken})
	}
}

// writeGitHub answers like GitHub's token endpoint: JSON when asked for,
// else form encoding, status 200 either way.
func writeGitHub(w http.ResponseWriter, r *http.Request, v url.Values) {
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		m := map[string]string{}
		for k := range v {
			m[k] = v.Get(k)
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		json.NewEncoder(w).Encode(m)
		return
	}
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	fmt.Fprint(w, v.Encode())
}

// bearerUser is the user of a request's GitHub access token.
func (s *Server) bearerUser(w http.ResponseWriter, r *http.Request) (User, bool) {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	s.mu.Lock()
	u, ok := s.tokens[tok]
	s.mu.Unlock()
	if !ok || !strings.EqualFold(scheme, "Bearer") && !strings.EqualFold(scheme, "token") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`)
		return User{}, false
	}
	return u, true
}

func (s *Server) githubUser(w http.ResponseWriter, r *http.Request) {
	u, ok := s.bearerUser(w, r)
	if !ok {
		return
	}
	var id int64
	fmt.Sscan(u.ID, &id)
	// NB: /user's email is the public profile address (often null), not
	// a verified one.
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{"login": u.Login, "id": id, "node_id": "U_" + u.ID, "type": "User",
		"name": u.Name, "email": nil, "site_admin": false})
}

func (s *Server) githubEmails(w http.ResponseWriter, r *http.Request) {
	u, ok := s.bearerUser(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode([]map[string]any{
		{"email": u.Email, "primary": true, "verified": u.EmailVerified, "visibility": "private"},
		{"email": u.ID + "+" + u.Login + "@users.noreply.github.com", "primary": false, "verified": true, "visibility": nil},
	})
}

func (s *Server) discovery(provider string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		iss := s.Issuer(provider)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": iss, "authorization_endpoint": iss + "/authorize", "token_endpoint": iss + "/token",
			"jwks_uri": iss + "/jwks", "response_types_supported": []string{"code"},
			"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"RS256"},
			"scopes_supported":                 []string{"openid", "email", "profile"},
			"code_challenge_methods_supported": []string{"S256"},
		})
	}
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	pub := s.key.PublicKey
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": s.kid,
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// idToken signs an RS256 ID token for u.
func (s *Server) idToken(provider string, u User, nonce string) (string, error) {
	id, _ := clientOf(provider)
	now := time.Now()
	claims := map[string]any{"iss": s.Issuer(provider), "sub": u.ID, "aud": id, "azp": id,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "email": u.Email, "email_verified": u.EmailVerified, "name": u.Name}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	return s.Sign(map[string]any{"alg": "RS256", "kid": s.kid, "typ": "JWT"}, claims)
}

// Sign makes a JWT of header and claims signed with the fake's key.
func (s *Server) Sign(header, claims map[string]any) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
