package rpc

import (
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/auth"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
	"github.com/stichdev/stich/ratelimit"
)

// TestAnonymousReadLimit: calls without credentials count in one bucket
// per client address; past the limit they get resource_exhausted with the
// retry delay, on the RPCs and the plain HTTP routes alike, while a
// signed-in user from the same address is not counted.
func TestAnonymousReadLimit(t *testing.T) {
	ts := newTestServerRPC(t, ratelimit.Rule{}, 0, nil, slog.New(slog.DiscardHandler), func(c *Config) {
		c.Accounts = AccountsConfig{Mode: "multi", Mailer: &mailbox{}}
		c.AnonymousReadLimit = ratelimit.Rule{Limit: 3, Window: time.Hour}
	})
	anon := stichv1connect.NewSessionServiceClient(http.DefaultClient, ts.url)
	for i := range 3 {
		if _, err := anon.ListGallery(ctxT(t), connect.NewRequest(&stichv1.ListGalleryRequest{})); err != nil {
			t.Fatalf("anonymous call %d: %v", i+1, err)
		}
	}
	_, err := anon.ListGallery(ctxT(t), connect.NewRequest(&stichv1.ListGalleryRequest{}))
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted || ce.Meta().Get("Retry-After") == "" {
		t.Fatalf("the 4th anonymous call: %v, want resource_exhausted with Retry-After", err)
	}
	req, _ := http.NewRequestWithContext(ctxT(t), "GET", ts.url+DownloadPath("s-doesnotexist000"), nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Errorf("anonymous download past the limit: %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	user := stichv1connect.NewSessionServiceClient(clientAs(t, ts.srv, "bob", auth.RoleUser), ts.url)
	for i := range 5 {
		if _, err := user.ListGallery(ctxT(t), connect.NewRequest(&stichv1.ListGalleryRequest{})); err != nil {
			t.Fatalf("signed-in call %d: %v", i+1, err)
		}
	}
}
