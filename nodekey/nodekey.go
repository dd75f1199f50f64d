// Package nodekey seals small secrets that stich keeps for users (their
// own model API keys) with AES-256-GCM under the node's keys.
//
// A [Ring] holds one or more 32-byte node keys, each with a short id. The
// first is current: [Ring.Seal] uses it, and the sealed value is stored
// with that id. [Ring.Open] takes the id and uses the key it names, so
// values sealed under an older key still open after a rotation, as long as
// the older key stays in the ring; [Ring.Current] tells the caller when to
// seal again. Every node of a cluster must hold the same keys.
//
// Guarantees:
//
//  1. A value is bound to its additional data (the user id): a sealed value
//     copied to another user does not open.
//  2. Open fails with [ErrUnknownKey] when the ring lacks the key id, and
//     with [ErrWrongKey] when the key of that id did not seal the value (a
//     different file under the same id, or a tampered value); neither error
//     contains key material.
//
// The key file (--node-key-file) has one key a line, "ID BASE64": ID is 1
// to 32 characters of [A-Za-z0-9._-], BASE64 the 32-byte key in standard
// base64. Blank lines and lines starting with # are ignored. The first key
// is current. The environment variable form (STICH_NODE_KEY) is the same
// with keys separated by commas or newlines.
//
// Package nodekey imports only the standard library.
package nodekey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// KeySize is the size of a node key: AES-256.
const KeySize = 32

var (
	// ErrUnknownKey is returned when a value was sealed under a key id the
	// ring does not hold.
	ErrUnknownKey = errors.New("nodekey: the value was sealed under a node key this node does not have")
	// ErrWrongKey is returned when the ring's key of that id does not open
	// the value (another key under the same id, or a changed value).
	ErrWrongKey = errors.New("nodekey: the node key does not open the value (a different key under the same id, or the value was changed)")
)

var idRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)

// Ring is a set of node keys; the first is current. It is immutable and
// safe for concurrent use.
type Ring struct {
	ids  []string
	aead map[string]cipher.AEAD
	raw  map[string][]byte
}

// Key is one node key.
type Key struct {
	ID  string
	Raw []byte
}

// New returns a ring of keys (the first current). It checks every key.
func New(keys ...Key) (*Ring, error) {
	if len(keys) == 0 {
		return nil, errors.New("nodekey: no keys")
	}
	r := &Ring{aead: map[string]cipher.AEAD{}, raw: map[string][]byte{}}
	var errs []error
	for _, k := range keys {
		if !idRE.MatchString(k.ID) {
			errs = append(errs, fmt.Errorf("nodekey: key id %q: want 1 to 32 of A-Z a-z 0-9 . _ -", k.ID))
			continue
		}
		if _, dup := r.aead[k.ID]; dup {
			errs = append(errs, fmt.Errorf("nodekey: key id %q appears twice", k.ID))
			continue
		}
		if len(k.Raw) != KeySize {
			errs = append(errs, fmt.Errorf("nodekey: key %q has %d bytes, want %d", k.ID, len(k.Raw), KeySize))
			continue
		}
		b, err := aes.NewCipher(k.Raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("nodekey: key %q: %w", k.ID, err))
			continue
		}
		g, err := cipher.NewGCM(b)
		if err != nil {
			errs = append(errs, fmt.Errorf("nodekey: key %q: %w", k.ID, err))
			continue
		}
		r.ids = append(r.ids, k.ID)
		r.aead[k.ID] = g
		r.raw[k.ID] = append([]byte(nil), k.Raw...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

// Parse reads keys in the file format (see the package doc); commas
// separate keys as newlines do (the environment form).
func Parse(text string) (*Ring, error) {
	var keys []Key
	var errs []error
	lines := strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == ',' })
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, b64, ok := strings.Cut(line, " ")
		if !ok {
			id, b64, ok = strings.Cut(line, ":")
		}
		if !ok {
			errs = append(errs, fmt.Errorf("nodekey: entry %d: want \"ID BASE64KEY\"", i+1))
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
		if err != nil {
			errs = append(errs, fmt.Errorf("nodekey: entry %d (%s): the key is not standard base64", i+1, id))
			continue
		}
		keys = append(keys, Key{ID: strings.TrimSpace(id), Raw: raw})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return New(keys...)
}

// Load reads a key file, which must not be readable by group or others.
func Load(path string) (*Ring, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("nodekey: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("nodekey: %s is readable by others (mode %v): chmod 600 it", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nodekey: %w", err)
	}
	r, err := Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return r, nil
}

// Generate returns a new random key under id.
func Generate(id string) (Key, error) {
	raw := make([]byte, KeySize)
	if _, err := rand.Read(raw); err != nil {
		return Key{}, err
	}
	return Key{ID: id, Raw: raw}, nil
}

// Line is k in the file format.
func (k Key) Line() string { return k.ID + " " + base64.StdEncoding.EncodeToString(k.Raw) }

// Current is the id of the key [Ring.Seal] uses.
func (r *Ring) Current() string { return r.ids[0] }

// IDs lists the key ids, current first.
func (r *Ring) IDs() []string { return append([]string(nil), r.ids...) }

// Seal encrypts plaintext under the current key, bound to ad. It returns
// the key id and the nonce followed by the ciphertext.
func (r *Ring) Seal(plaintext, ad []byte) (string, []byte, error) {
	id := r.ids[0]
	g := r.aead[id]
	nonce := make([]byte, g.NonceSize(), g.NonceSize()+len(plaintext)+g.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", nil, fmt.Errorf("nodekey: nonce: %w", err)
	}
	return id, g.Seal(nonce, nonce, plaintext, ad), nil
}

// Open decrypts a value sealed under key id with ad.
func (r *Ring) Open(id string, sealed, ad []byte) ([]byte, error) {
	g, ok := r.aead[id]
	if !ok {
		return nil, fmt.Errorf("%w (key id %q; this node has %s)", ErrUnknownKey, id, strings.Join(r.ids, ", "))
	}
	if len(sealed) < g.NonceSize()+g.Overhead() {
		return nil, fmt.Errorf("%w (key id %q)", ErrWrongKey, id)
	}
	n := g.NonceSize()
	out, err := g.Open(nil, sealed[:n], sealed[n:], ad)
	if err != nil {
		return nil, fmt.Errorf("%w (key id %q)", ErrWrongKey, id)
	}
	return out, nil
}

// Derive returns, for each node key (current first, under the same ids),
// a 32-byte key for purpose: HMAC-SHA256 of the node key over a label
// naming the purpose. Keys derived for different purposes are unrelated,
// so a derived key (an HMAC key signing preview tickets) never reveals
// the node key or what it sealed. Every node holding the same ring
// derives the same keys.
func (r *Ring) Derive(purpose string) []Key {
	out := make([]Key, 0, len(r.ids))
	for _, id := range r.ids {
		m := hmac.New(sha256.New, r.raw[id])
		m.Write([]byte("stich nodekey derive\x00" + purpose))
		out = append(out, Key{ID: id, Raw: m.Sum(nil)})
	}
	return out
}
