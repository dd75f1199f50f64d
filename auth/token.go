package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"
)

// E-mailed tokens (e-mail verification, password reset) are
// "USER.SECRET": the user id routes the token to its user grain, which
// keeps only the token's SHA-256 and uses it up once. Invites are
// "inv_SECRET"; their hash is the invite grain's identity. SECRET is 43
// base64url characters (256 random bits) in both.

// ErrMalformedToken is returned for a string that is not a token of the
// expected kind.
var ErrMalformedToken = errors.New("auth: malformed token")

const invitePrefix = "inv_"

func newSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("auth: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewUserToken makes an e-mailed token of userID and its hash.
func NewUserToken(userID string) (token, hash string, err error) {
	if !ValidUserID(userID) {
		return "", "", fmt.Errorf("auth: user id %q cannot own a token", userID)
	}
	secret, err := newSecret()
	if err != nil {
		return "", "", err
	}
	token = userID + "." + secret
	return token, hashToken(token), nil
}

// ParseUserToken checks an e-mailed token's shape and returns its user id
// and hash. Whether it is live is the user grain's answer.
func ParseUserToken(token string) (userID, hash string, err error) {
	user, secret, ok := strings.Cut(token, ".")
	if !ok || len(token) > 200 || !ValidUserID(user) || !secretPattern.MatchString(secret) {
		return "", "", ErrMalformedToken
	}
	return user, hashToken(token), nil
}

// NewInviteToken makes a sign-up invite and its hash.
func NewInviteToken() (token, hash string, err error) {
	secret, err := newSecret()
	if err != nil {
		return "", "", err
	}
	token = invitePrefix + secret
	return token, hashToken(token), nil
}

// InviteHash checks an invite's shape and returns its hash.
func InviteHash(token string) (string, error) {
	secret, ok := strings.CutPrefix(token, invitePrefix)
	if !ok || !secretPattern.MatchString(secret) {
		return "", ErrMalformedToken
	}
	return hashToken(token), nil
}

// NewUserID makes a random user id ("u-" and 20 hex digits) for an account
// made by sign-up: ids are never derived from e-mails, so an address can
// change hands without its old owner's data following it.
func NewUserID() (string, error) {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("auth: random: %w", err)
	}
	return "u-" + hex.EncodeToString(b[:]), nil
}

// ErrBadEmail is returned by [NormalizeEmail] for what is not one bare
// e-mail address.
var ErrBadEmail = errors.New("auth: not an e-mail address")

// NormalizeEmail checks that s is one bare address ("ann@example.com", no
// display name, no line breaks, at most 254 bytes) and returns it trimmed
// with its domain lower-cased. NB: the directory keys addresses fully
// lower-cased (actors.DirectoryID); the local part keeps its case here
// because that is what mail is sent to.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > 254 || strings.ContainsAny(s, "\r\n<>,;\" ") {
		return "", ErrBadEmail
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", ErrBadEmail
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return "", ErrBadEmail
	}
	return local + "@" + strings.ToLower(domain), nil
}

// EmailDomain returns the lower-cased domain of a normalized address.
func EmailDomain(email string) string {
	_, d, _ := strings.Cut(email, "@")
	return strings.ToLower(d)
}
