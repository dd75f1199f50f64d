package preview

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func testSigner(t testing.TB, id, secret string) *Signer {
	t.Helper()
	s, err := NewSigner(SignKey{ID: id, Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Every way a pass can be wrong is refused with the matching error; a
// good one round-trips.
func TestPassVerify(t *testing.T) {
	s := testSigner(t, "k1", "0123456789abcdef0123456789abcdef")
	now := time.Unix(1_800_000_000, 0)
	const sess = "s-abcdefghijklmnopqrst.eu-west"
	good := Pass{Kind: PassTicket, Session: sess, User: "u-carol", Key: "0123456789abcdef", Expires: now.Add(time.Minute)}
	tk, err := s.Mint(good)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Verify(tk, PassTicket, sess, now)
	if err != nil || got != good {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	parts := strings.Split(tk, ".")
	flip := func(s string) string {
		b := []byte(s)
		if b[0] == 'A' {
			b[0] = 'B'
		} else {
			b[0] = 'A'
		}
		return string(b)
	}
	expired, _ := s.Mint(Pass{Kind: PassTicket, Session: sess, User: "u-carol", Key: "0123456789abcdef", Expires: now})
	other := testSigner(t, "k1", "another key of thirty-two bytes!")
	forged, _ := other.Mint(good)
	for name, c := range map[string]struct {
		pass string
		kind PassKind
		sess string
		want error
	}{
		"empty":           {"", PassTicket, sess, ErrPassMalformed},
		"too long":        {strings.Repeat("a", 600), PassTicket, sess, ErrPassMalformed},
		"version":         {"v2" + tk[2:], PassTicket, sess, ErrPassMalformed},
		"unknown key":     {strings.Join([]string{"v1", "k2", parts[2], parts[3]}, "."), PassTicket, sess, ErrPassKey},
		"payload changed": {strings.Join([]string{"v1", "k1", flip(parts[2]), parts[3]}, "."), PassTicket, sess, ErrPassForged},
		"mac changed":     {strings.Join([]string{"v1", "k1", parts[2], flip(parts[3])}, "."), PassTicket, sess, ErrPassForged},
		"another key":     {forged, PassTicket, sess, ErrPassForged},
		"expired":         {expired, PassTicket, sess, ErrPassExpired},
		"as a cookie":     {tk, PassCookie, sess, ErrPassMismatch},
		"another app":     {tk, PassTicket, "s-bcdefghijklmnopqrstu.eu-west", ErrPassMismatch},
	} {
		if _, err := s.Verify(c.pass, c.kind, c.sess, now); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	for _, bad := range []Pass{
		{Kind: "x", Session: sess, User: "u", Key: "k"},
		{Kind: PassTicket, Session: sess, User: "u\x00c", Key: "k"},
		{Kind: PassTicket, Session: "", User: "u", Key: "k"},
	} {
		if _, err := s.Mint(bad); !errors.Is(err, ErrPassMalformed) {
			t.Errorf("Mint(%+v): %v", bad, err)
		}
	}
	if _, err := NewSigner(SignKey{ID: "k", Secret: []byte("short")}); err == nil {
		t.Error("a 5-byte key was taken")
	}
}

// FuzzPassVerify: no input panics, and only what the signer minted
// verifies.
func FuzzPassVerify(f *testing.F) {
	s := testSigner(f, "k1", "0123456789abcdef0123456789abcdef")
	now := time.Unix(1_800_000_000, 0)
	tk, _ := s.Mint(Pass{Kind: PassCookie, Session: "s-a", User: "u", Key: "k", Expires: now.Add(time.Hour)})
	f.Add(tk)
	f.Add("v1.k1..")
	f.Add("v1.k1.AAAA.AAAA")
	f.Fuzz(func(t *testing.T, pass string) {
		p, err := s.Verify(pass, PassCookie, "s-a", now)
		if err == nil && pass != tk {
			// Strict decoding: a signed pass has one encoding.
			again, _ := s.Mint(p)
			if again != pass {
				t.Errorf("%q verified but is not what the signer mints (%q)", pass, again)
			}
		}
	})
}
