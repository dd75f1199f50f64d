package preview

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Preview access passes.
//
// An app's preview origin is a site apart from the API's: it never sees
// the user's stich cookie. Access travels by a capability instead:
//
//  1. The UI asks the API (signed in, and allowed to read the app) for a
//     ticket: a [Pass] of kind [PassTicket] naming the session, the user
//     and the user's API key (browser session) that asked, valid for
//     [TicketTTL].
//  2. The preview iframe opens ORIGIN[EnterPath]?ticket=…&next=/; the
//     preview server checks the ticket and sets a cookie on that origin
//     only, holding a [Pass] of kind [PassCookie] valid for [CookieTTL],
//     then redirects to next.
//  3. Every later request on that origin needs the cookie; the server asks
//     the user grain and the session grain again at least every few
//     minutes (rpc/preview.go), so a sign-out or a visibility change ends
//     access within that bound.
//
// A pass is "v1.KEYID.PAYLOAD.MAC": PAYLOAD is base64url (no padding) of
// kind, session, user, key id and expiry (Unix seconds) joined by NUL;
// MAC is base64url of HMAC-SHA256 under the key KEYID of [Signer], over
// "stich preview pass v1", NUL, KEYID, ".", PAYLOAD. Every node of a
// cluster holds the same keys (derived from the node keys, or the gossip
// key), so a pass minted by one node is accepted by every other.

// EnterPath is the path on an app's origin that turns a ticket into the
// origin's cookie.
const EnterPath = "/__stich/enter"

// CookieName is the preview origin's access cookie.
const CookieName = "stich_preview"

const (
	// TicketTTL is how long a ticket can be exchanged for a cookie: long
	// enough for a loaded machine to open the frame.
	TicketTTL = 2 * time.Minute
	// CookieTTL bounds a preview cookie's life; the grains are asked
	// again far more often (rpc/preview.go).
	CookieTTL = 12 * time.Hour
	// maxPassLen bounds a pass before it is parsed.
	maxPassLen = 512
)

// PassKind tells a ticket from a cookie: neither is accepted as the other.
type PassKind string

const (
	PassTicket PassKind = "t"
	PassCookie PassKind = "c"
)

// Pass is what a ticket or a preview cookie grants: user, signed in with
// API key Key, may see Session's preview until Expires.
type Pass struct {
	Kind    PassKind
	Session string
	User    string
	Key     string
	Expires time.Time
}

// Errors of [Signer.Verify]; none says more than "refused" to a browser.
var (
	ErrPassMalformed = errors.New("preview: malformed pass")
	ErrPassKey       = errors.New("preview: pass signed with an unknown key")
	ErrPassForged    = errors.New("preview: pass signature does not match")
	ErrPassExpired   = errors.New("preview: pass expired")
	ErrPassMismatch  = errors.New("preview: pass is for another app or use")
)

// SignKey is one HMAC key of a [Signer].
type SignKey struct {
	ID     string
	Secret []byte
}

// Signer mints and checks passes. It is immutable and safe for
// concurrent use.
type Signer struct {
	ids  []string
	keys map[string][]byte
}

var (
	keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)
	// fieldPattern: the fields of a pass hold ids (session, user, key),
	// never NUL or anything a cookie cannot carry once encoded.
	fieldPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
)

// NewSigner returns a signer minting with keys[0] and accepting all of
// keys (so passes minted before a rotation stay valid while the old key
// stays in the ring). Each secret must be at least 16 bytes.
func NewSigner(keys ...SignKey) (*Signer, error) {
	if len(keys) == 0 {
		return nil, errors.New("preview: no pass keys")
	}
	s := &Signer{keys: map[string][]byte{}}
	for _, k := range keys {
		if !keyIDPattern.MatchString(k.ID) || len(k.Secret) < 16 {
			return nil, fmt.Errorf("preview: pass key %q: want an id of 1-32 [A-Za-z0-9._-] and at least 16 bytes", k.ID)
		}
		if _, dup := s.keys[k.ID]; dup {
			return nil, fmt.Errorf("preview: pass key %q appears twice", k.ID)
		}
		s.ids = append(s.ids, k.ID)
		s.keys[k.ID] = append([]byte(nil), k.Secret...)
	}
	return s, nil
}

func mac(secret []byte, keyID, payload string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("stich preview pass v1\x00" + keyID + "." + payload))
	return m.Sum(nil)
}

// b64 decodes passes strictly: one encoding per value (no stray bits).
var b64 = base64.RawURLEncoding.Strict()

// Mint signs p with the current key.
func (s *Signer) Mint(p Pass) (string, error) {
	for _, f := range []string{p.Session, p.User, p.Key} {
		if !fieldPattern.MatchString(f) {
			return "", fmt.Errorf("%w: field %q", ErrPassMalformed, f)
		}
	}
	if p.Kind != PassTicket && p.Kind != PassCookie {
		return "", fmt.Errorf("%w: kind %q", ErrPassMalformed, p.Kind)
	}
	raw := strings.Join([]string{string(p.Kind), p.Session, p.User, p.Key, strconv.FormatInt(p.Expires.Unix(), 10)}, "\x00")
	payload := base64.RawURLEncoding.EncodeToString([]byte(raw))
	id := s.ids[0]
	return "v1." + id + "." + payload + "." + base64.RawURLEncoding.EncodeToString(mac(s.keys[id], id, payload)), nil
}

// Verify checks pass: signed by one of s's keys, of kind, for session,
// not expired at now. It returns the pass's contents.
func (s *Signer) Verify(pass string, kind PassKind, session string, now time.Time) (Pass, error) {
	if len(pass) > maxPassLen {
		return Pass{}, ErrPassMalformed
	}
	parts := strings.Split(pass, ".")
	if len(parts) != 4 || parts[0] != "v1" {
		return Pass{}, ErrPassMalformed
	}
	id, payload, sum := parts[1], parts[2], parts[3]
	key, ok := s.keys[id]
	if !ok {
		return Pass{}, ErrPassKey
	}
	got, err := b64.DecodeString(sum)
	if err != nil {
		return Pass{}, ErrPassMalformed
	}
	if !hmac.Equal(got, mac(key, id, payload)) {
		return Pass{}, ErrPassForged
	}
	raw, err := b64.DecodeString(payload)
	if err != nil {
		return Pass{}, ErrPassMalformed
	}
	f := strings.Split(string(raw), "\x00")
	if len(f) != 5 {
		return Pass{}, ErrPassMalformed
	}
	exp, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil {
		return Pass{}, ErrPassMalformed
	}
	p := Pass{Kind: PassKind(f[0]), Session: f[1], User: f[2], Key: f[3], Expires: time.Unix(exp, 0)}
	switch {
	case p.Kind != kind || p.Session != session:
		return Pass{}, ErrPassMismatch
	case !now.Before(p.Expires):
		return Pass{}, ErrPassExpired
	}
	return p, nil
}
