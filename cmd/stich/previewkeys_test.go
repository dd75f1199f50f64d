package main

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stichdev/stich/nodekey"
	"github.com/stichdev/stich/preview"
)

// Two nodes with the same node keys, or the same gossip key, accept each
// other's preview tickets; nodes with neither do not.
func TestPreviewSignerShared(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	k, err := nodekey.Generate("k1")
	if err != nil {
		t.Fatal(err)
	}
	ringOf := func() *nodekey.Ring {
		r, err := nodekey.Parse(k.Line())
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	gossip := []byte("0123456789abcdef0123456789abcdef")
	now := time.Now()
	p := preview.Pass{Kind: preview.PassTicket, Session: "s-abcdefghijklmnopqrst", User: "carol", Key: "0123456789abcdef", Expires: now.Add(time.Minute)}
	for _, c := range []struct {
		name   string
		a, b   func() (*preview.Signer, error)
		shared bool
	}{
		{"node keys", func() (*preview.Signer, error) { return previewSigner(ringOf(), gossip, true, log) },
			func() (*preview.Signer, error) { return previewSigner(ringOf(), nil, true, log) }, true},
		{"gossip key", func() (*preview.Signer, error) { return previewSigner(nil, gossip, true, log) },
			func() (*preview.Signer, error) { return previewSigner(nil, append([]byte(nil), gossip...), true, log) }, true},
		{"neither", func() (*preview.Signer, error) { return previewSigner(nil, nil, true, log) },
			func() (*preview.Signer, error) { return previewSigner(nil, nil, true, log) }, false},
	} {
		a, err := c.a()
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.b()
		if err != nil {
			t.Fatal(err)
		}
		tk, err := a.Mint(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Verify(tk, preview.PassTicket, p.Session, now); (err == nil) != c.shared {
			t.Errorf("%s: node B's verdict %v, shared %v", c.name, err, c.shared)
		}
	}
}
