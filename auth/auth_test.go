package auth

import (
	"context"
	"strings"
	"testing"
)

func TestAPIKeyRoundTrip(t *testing.T) {
	token, k, err := NewAPIKey("owner")
	if err != nil {
		t.Fatal(err)
	}
	if k.UserID != "owner" || len(k.KeyID) != 16 || len(k.Hash) != 64 || strings.Contains(k.Hash, token) {
		t.Fatalf("key parts: %+v", k)
	}
	again, err := ParseAPIKey(token)
	if err != nil || again != k {
		t.Fatalf("parse: %+v %v, want %+v", again, err, k)
	}
	token2, k2, _ := NewAPIKey("owner")
	if token2 == token || k2.Hash == k.Hash || k2.KeyID == k.KeyID {
		t.Fatal("two keys are the same")
	}
	// Any changed character changes the hash or is refused.
	tampered := token[:len(token)-1] + map[bool]string{true: "A", false: "B"}[token[len(token)-1] != 'A']
	if tk, err := ParseAPIKey(tampered); err == nil && tk.Hash == k.Hash {
		t.Fatal("a tampered key has the same hash")
	}
	if _, _, err := NewAPIKey("Bad User"); err == nil {
		t.Fatal("a key for an invalid user id")
	}
}

func TestParseAPIKeyRefuses(t *testing.T) {
	_, k, _ := NewAPIKey("u-1")
	good := "stich_u-1_" + k.KeyID + "_" + strings.Repeat("A", 43)
	if _, err := ParseAPIKey(good); err != nil {
		t.Fatalf("good shape refused: %v", err)
	}
	for _, bad := range []string{"", "stich_", "Bearer " + good, strings.Replace(good, "stich_", "stitch_", 1),
		good + "A", good[:len(good)-1], "stich_U-1_" + k.KeyID + "_" + strings.Repeat("A", 43),
		"stich_u-1_" + strings.ToUpper(k.KeyID) + "_" + strings.Repeat("A", 43),
		"stich_u-1_" + k.KeyID + "_" + strings.Repeat("=", 43), "stich_u-1__" + strings.Repeat("A", 43)} {
		if _, err := ParseAPIKey(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestBearerToken(t *testing.T) {
	for in, want := range map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", "Basic abc": "", "Bearer": "", "": ""} {
		if got := BearerToken(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// FuzzParseAPIKey: any input parses or is refused without a panic; what
// parses round-trips to the same parts, and its hash covers the whole token.
func FuzzParseAPIKey(f *testing.F) {
	tok, _, _ := NewAPIKey("owner")
	for _, s := range []string{tok, "", "stich_", "stich_a_0123456789abcdef_" + strings.Repeat("_", 43)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseAPIKey(s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(s, "stich_"+k.UserID+"_"+k.KeyID+"_") || !ValidUserID(k.UserID) || len(k.Hash) != 64 {
			t.Fatalf("%q parsed to %+v", s, k)
		}
		if k2, _ := ParseAPIKey(s + "x"); k2.Hash == k.Hash {
			t.Fatal("hash ignores a suffix")
		}
	})
}

// testParams keep the tests fast; the defaults are measured by the benchmark.
var testParams = PasswordParams{Time: 1, Memory: 64, Threads: 1, KeyLen: 32}

func TestPassword(t *testing.T) {
	h, err := HashPassword("correct horse", testParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("encoding: %s", h)
	}
	if err := VerifyPassword("correct horse", h); err != nil {
		t.Fatal(err)
	}
	if err := VerifyPassword("correct horsE", h); err != ErrPasswordMismatch {
		t.Fatalf("wrong password: %v", err)
	}
	h2, _ := HashPassword("correct horse", testParams)
	if h2 == h {
		t.Fatal("no salt")
	}
	if _, err := HashPassword("short", testParams); err == nil {
		t.Fatal("a 5-byte password was hashed")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=99999999,t=1,p=1$AAAA$AAAA",
		"$argon2id$v=19$m=64,t=1,p=1$!!$AAAA", strings.Replace(h, "v=19", "v=16", 1)} {
		if err := VerifyPassword("correct horse", bad); err == nil || err == ErrPasswordMismatch {
			t.Errorf("%q: %v, want a format error", bad, err)
		}
	}
}

func TestPrincipalContext(t *testing.T) {
	ctx := context.Background()
	if FromContext(ctx) != nil || FromContext(ctx).IsAdmin() {
		t.Fatal("anonymous context has a principal")
	}
	p := &Principal{UserID: "owner", Role: RoleAdmin}
	if got := FromContext(NewContext(ctx, p)); got != p || !got.IsAdmin() {
		t.Fatal("principal lost")
	}
}

// BenchmarkVerifyPassword is one sign-in's hashing cost with the default
// parameters (ns/op is the sign-in's argon2id time).
func BenchmarkVerifyPassword(b *testing.B) {
	h, err := HashPassword("correct horse battery", DefaultPasswordParams)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := VerifyPassword("correct horse battery", h); err != nil {
			b.Fatal(err)
		}
	}
}

func TestUserAndInviteTokens(t *testing.T) {
	tok, h, err := NewUserToken("u-1")
	if err != nil {
		t.Fatal(err)
	}
	u, h2, err := ParseUserToken(tok)
	if err != nil || u != "u-1" || h2 != h || len(h) != 64 {
		t.Fatalf("parse %q: %q %q %v", tok, u, h2, err)
	}
	for _, bad := range []string{"", "u-1", "u-1.", "U-1." + strings.Repeat("A", 43), "u-1." + strings.Repeat("A", 42), tok + "A", "." + strings.Repeat("A", 43)} {
		if _, _, err := ParseUserToken(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	inv, ih, err := NewInviteToken()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := InviteHash(inv); err != nil || got != ih {
		t.Fatalf("invite hash: %q %v", got, err)
	}
	for _, bad := range []string{"", "inv_", inv + "x", strings.TrimPrefix(inv, "inv_"), tok} {
		if _, err := InviteHash(bad); err == nil {
			t.Errorf("invite accepted %q", bad)
		}
	}
	id1, _ := NewUserID()
	id2, _ := NewUserID()
	if id1 == id2 || !ValidUserID(id1) {
		t.Fatalf("user ids %q %q", id1, id2)
	}
}

func TestNormalizeEmail(t *testing.T) {
	for in, want := range map[string]string{"Ann@Example.COM": "Ann@example.com", " bob@x.io ": "bob@x.io"} {
		if got, err := NormalizeEmail(in); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ann", "ann@", "@x.io", "Ann <ann@x.io>", "ann@x.io\r\nBcc: eve@x.io", "ann@localhost", "a,b@x.io", "ann@x.io.", strings.Repeat("a", 250) + "@x.io"} {
		if got, err := NormalizeEmail(bad); err == nil {
			t.Errorf("accepted %q as %q", bad, got)
		}
	}
	if EmailDomain("a@Example.com") != "example.com" {
		t.Fatal("domain")
	}
}

// FuzzUserToken: any string parses or is refused; what parses names a
// valid user and hashes the whole token.
func FuzzUserToken(f *testing.F) {
	tok, _, _ := NewUserToken("ann")
	f.Add(tok)
	f.Add("a." + strings.Repeat("_", 43))
	f.Fuzz(func(t *testing.T, s string) {
		u, h, err := ParseUserToken(s)
		if err != nil {
			return
		}
		if !ValidUserID(u) || !strings.HasPrefix(s, u+".") || len(h) != 64 {
			t.Fatalf("%q parsed to %q %q", s, u, h)
		}
		if _, h2, _ := ParseUserToken(s + "x"); h2 == h {
			t.Fatal("hash ignores a suffix")
		}
	})
}
