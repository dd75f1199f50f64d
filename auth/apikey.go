package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// An API key is one token: "stich_" USER "_" KEYID "_" SECRET, where USER
// is the owner's user id, KEYID 16 hex digits naming the key (so it can be
// listed and revoked without the secret) and SECRET 43 base64url characters
// (256 random bits).
//
// NB: the user id in the token lets the edge ask that user's grain
// directly, with no key index. The grain keeps only the token's SHA-256:
// with 256 random bits there is nothing to guess, so a slow hash (argon2id,
// as for passwords) would only slow every request down.

// ErrMalformedKey is returned for a token that is not an API key.
var ErrMalformedKey = errors.New("auth: malformed API key")

const keyPrefix = "stich_"

var (
	userIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)
	keyIDPattern  = regexp.MustCompile(`^[0-9a-f]{16}$`)
	secretPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
)

// ValidUserID reports whether id can be a user id (and so appear in a key).
func ValidUserID(id string) bool { return userIDPattern.MatchString(id) }

// APIKey is a parsed API key.
type APIKey struct {
	UserID string
	KeyID  string
	// Hash is the hex SHA-256 of the whole token: what the user grain keeps.
	Hash string
}

// NewAPIKey makes a key for userID: the token (shown once) and its parts.
func NewAPIKey(userID string) (string, APIKey, error) {
	if !ValidUserID(userID) {
		return "", APIKey{}, fmt.Errorf("auth: user id %q cannot own a key", userID)
	}
	var id [8]byte
	var secret [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", APIKey{}, fmt.Errorf("auth: random: %w", err)
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return "", APIKey{}, fmt.Errorf("auth: random: %w", err)
	}
	token := keyPrefix + userID + "_" + hex.EncodeToString(id[:]) + "_" + base64.RawURLEncoding.EncodeToString(secret[:])
	k, err := ParseAPIKey(token)
	return token, k, err
}

// ParseAPIKey checks a token's shape and returns its parts. It does not
// say whether the key is live: that is the user grain's answer.
func ParseAPIKey(token string) (APIKey, error) {
	rest, ok := strings.CutPrefix(token, keyPrefix)
	if !ok || len(token) > 200 {
		return APIKey{}, ErrMalformedKey
	}
	// The secret may contain '_': split the user and key id off the left.
	user, rest, ok1 := strings.Cut(rest, "_")
	keyID, secret, ok2 := strings.Cut(rest, "_")
	if !ok1 || !ok2 || !userIDPattern.MatchString(user) || !keyIDPattern.MatchString(keyID) || !secretPattern.MatchString(secret) {
		return APIKey{}, ErrMalformedKey
	}
	sum := sha256.Sum256([]byte(token))
	return APIKey{UserID: user, KeyID: keyID, Hash: hex.EncodeToString(sum[:])}, nil
}

// BearerToken returns the token of an "Authorization: Bearer TOKEN" header
// value, or "" when there is none.
func BearerToken(header string) string {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}
