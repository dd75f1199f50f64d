package nodekey

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func ring(t *testing.T, keys ...Key) *Ring {
	t.Helper()
	r, err := New(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func key(t *testing.T, id string) Key {
	t.Helper()
	k, err := Generate(id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpenRotate(t *testing.T) {
	k1, k2 := key(t, "k1"), key(t, "k2")
	old := ring(t, k1)
	id, sealed, err := old.Seal([]byte("sk-secret-1234"), []byte("u-alice"))
	if err != nil {
		t.Fatal(err)
	}
	if id != "k1" || bytes.Contains(sealed, []byte("sk-secret")) {
		t.Fatalf("id %q, sealed %q", id, sealed)
	}
	// After a rotation (k2 current, k1 kept) the old value still opens,
	// and new seals use k2.
	rotated := ring(t, k2, k1)
	got, err := rotated.Open(id, sealed, []byte("u-alice"))
	if err != nil || string(got) != "sk-secret-1234" {
		t.Fatalf("open after rotation: %q, %v", got, err)
	}
	if id2, _, _ := rotated.Seal([]byte("x"), nil); id2 != "k2" {
		t.Fatalf("rotated ring seals under %q", id2)
	}
	// Bound to its additional data.
	if _, err := rotated.Open(id, sealed, []byte("u-mallory")); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("other user's ad: %v", err)
	}
	// A ring without k1: a clear error naming the key id, no key material.
	_, err = ring(t, k2).Open(id, sealed, []byte("u-alice"))
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), `"k1"`) {
		t.Fatalf("missing key: %v", err)
	}
	// Another key under the same id.
	_, err = ring(t, key(t, "k1")).Open(id, sealed, []byte("u-alice"))
	if !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	// Tampered and truncated values.
	bad := bytes.Clone(sealed)
	bad[len(bad)-1] ^= 1
	if _, err := old.Open(id, bad, []byte("u-alice")); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("tampered: %v", err)
	}
	if _, err := old.Open(id, sealed[:5], []byte("u-alice")); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("truncated: %v", err)
	}
}

func TestParseAndLoad(t *testing.T) {
	k1, k2 := key(t, "2026-12"), key(t, "2026-01")
	text := "# node keys\n" + k1.Line() + "\n\n" + k2.Line() + "\n"
	r, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	if r.Current() != "2026-12" || len(r.IDs()) != 2 {
		t.Fatalf("ids %v", r.IDs())
	}
	if r2, err := Parse(k1.Line() + "," + k2.Line()); err != nil || r2.Current() != "2026-12" {
		t.Fatalf("env form: %v", err)
	}
	for _, bad := range []string{"", "k1", "k1 !!!", "k1 AAAA", "bad/id " + strings.Repeat("A", 44), k1.Line() + "\n" + k1.Line()} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "node.key")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable file: %v", err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if r, err := Load(p); err != nil || r.Current() != "2026-12" {
		t.Fatalf("load: %v", err)
	}
}

// Derive gives every holder of the same ring the same keys, under the
// same ids, current first; other purposes and other rings get others, and
// no derived key is a node key.
func TestDerive(t *testing.T) {
	a1, _ := Generate("a1")
	a0, _ := Generate("a0")
	text := a1.Line() + "\n" + a0.Line() + "\n"
	r1, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	d1, d2 := r1.Derive("preview-ticket"), r2.Derive("preview-ticket")
	if len(d1) != 2 || d1[0].ID != "a1" || d1[1].ID != "a0" {
		t.Fatalf("derived ids: %+v", d1)
	}
	for i := range d1 {
		if string(d1[i].Raw) != string(d2[i].Raw) || len(d1[i].Raw) != 32 {
			t.Errorf("key %s: not the same on two nodes", d1[i].ID)
		}
	}
	other := r1.Derive("another")
	if string(other[0].Raw) == string(d1[0].Raw) || string(d1[0].Raw) == string(a1.Raw) || string(d1[0].Raw) == string(d1[1].Raw) {
		t.Error("derived keys are not apart from each other and from the node keys")
	}
}
