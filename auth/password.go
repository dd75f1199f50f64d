package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are argon2id's cost parameters.
type PasswordParams struct {
	Time    uint32 // passes over memory
	Memory  uint32 // KiB
	Threads uint8
	KeyLen  uint32 // bytes of output
}

// DefaultPasswordParams are RFC 9106's second recommended option (t=3,
// 64 MiB) with 2 lanes instead of 4: a node is sized for a couple of cores,
// and more lanes than cores adds memory without adding cost to an attacker
// with many. 64 MiB per sign-in bounds how many can run at once on a small
// node; the sign-in path must limit concurrency accordingly.
var DefaultPasswordParams = PasswordParams{Time: 3, Memory: 64 << 10, Threads: 2, KeyLen: 32}

// ErrPasswordMismatch is returned by [VerifyPassword] for a wrong password.
var ErrPasswordMismatch = errors.New("auth: wrong password")

// maxPasswordBytes bounds a password (argon2 takes any length; a huge one
// is only a way to spend the server's time).
const maxPasswordBytes = 1024

// HashPassword hashes a password with argon2id and a random salt, as a PHC
// string ("$argon2id$v=19$m=65536,t=3,p=2$SALT$HASH") that records the
// parameters, so they can be raised later without breaking old hashes.
func HashPassword(password string, p PasswordParams) (string, error) {
	if len(password) < 8 || len(password) > maxPasswordBytes {
		return "", fmt.Errorf("auth: a password has 8 to %d bytes", maxPasswordBytes)
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: random: %w", err)
	}
	sum := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum)), nil
}

// VerifyPassword checks password against a PHC string made by
// [HashPassword], in constant time.
func VerifyPassword(password, encoded string) error {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return errors.New("auth: not an argon2id hash")
	}
	var p PasswordParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil ||
		p.Time == 0 || p.Time > 16 || p.Memory < 8 || p.Memory > 1<<20 || p.Threads == 0 {
		return errors.New("auth: bad argon2id parameters")
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 64 {
		return errors.New("auth: bad argon2id hash encoding")
	}
	if len(password) > maxPasswordBytes {
		return ErrPasswordMismatch
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrPasswordMismatch
	}
	return nil
}
