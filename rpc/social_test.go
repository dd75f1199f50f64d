package rpc

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/auth"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
	"github.com/stichdev/stich/ratelimit"
)

// TestSharingVisibilityGalleryFork follows one app through its
// visibilities: private (nobody else reads it), public (listed in the
// gallery, read and forked by another user, never changed by them),
// unlisted (read, not listed), private again (not even forked), public
// again and deleted (gone from the gallery). Changes are audited; the
// gallery pages newest first.
func TestSharingVisibilityGalleryFork(t *testing.T) {
	var logs lockedBuffer
	ts := newTestServerLogged(t, ratelimit.Rule{}, 0, nil, slog.New(slog.NewJSONHandler(&logs, nil)))
	carol := stichv1connect.NewSessionServiceClient(clientAs(t, ts.srv, "carol", auth.RoleUser), ts.url)
	bob := stichv1connect.NewSessionServiceClient(clientAs(t, ts.srv, "bob", auth.RoleUser), ts.url)
	newApp := func(prompt string) string {
		t.Helper()
		res, err := carol.CreateSession(ctxT(t), connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: prompt}))
		if err != nil {
			t.Fatal(err)
		}
		stream, err := carol.Watch(ctxT(t), connect.NewRequest(&stichv1.WatchRequest{SessionId: res.Msg.GetSessionId(), UntilIdle: true}))
		if err != nil {
			t.Fatal(err)
		}
		for stream.Receive() {
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetSessionId()
	}
	set := func(id string, v stichv1.Visibility) {
		t.Helper()
		if _, err := carol.SetVisibility(ctxT(t), connect.NewRequest(&stichv1.SetVisibilityRequest{SessionId: id, Visibility: v})); err != nil {
			t.Fatalf("set %v: %v", v, err)
		}
	}
	gallery := func(size uint32, token string) ([]string, string) {
		t.Helper()
		r, err := bob.ListGallery(ctxT(t), connect.NewRequest(&stichv1.ListGalleryRequest{PageSize: size, PageToken: token}))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, a := range r.Msg.GetApps() {
			if a.GetVisibility() != stichv1.Visibility_VISIBILITY_PUBLIC {
				t.Errorf("gallery lists %s as %v", a.GetSessionId(), a.GetVisibility())
			}
			ids = append(ids, a.GetSessionId())
		}
		return ids, r.Msg.GetNextPageToken()
	}
	bobGet := func(id string) (*stichv1.Session, error) {
		r, err := bob.GetSession(ctxT(t), connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id}))
		if err != nil {
			return nil, err
		}
		return r.Msg.GetSession(), nil
	}

	id := newApp("a todo list")
	_, err := bobGet(id)
	wantCode(t, err, connect.CodeNotFound, "")
	if ids, _ := gallery(0, ""); len(ids) != 0 {
		t.Fatalf("gallery before anything is public: %v", ids)
	}

	set(id, stichv1.Visibility_VISIBILITY_PUBLIC)
	if ids, _ := gallery(0, ""); len(ids) != 1 || ids[0] != id {
		t.Fatalf("gallery after publishing: %v", ids)
	}
	got, err := bobGet(id)
	if err != nil || got.GetOwned() || got.GetVisibility() != stichv1.Visibility_VISIBILITY_PUBLIC {
		t.Fatalf("bob reading the public app: owned %v, %v, %v", got.GetOwned(), got.GetVisibility(), err)
	}
	_, err = bob.SendMessage(ctxT(t), connect.NewRequest(&stichv1.SendMessageRequest{SessionId: id, Text: "make it mine"}))
	wantCode(t, err, connect.CodeNotFound, "")
	_, err = bob.SetVisibility(ctxT(t), connect.NewRequest(&stichv1.SetVisibilityRequest{SessionId: id, Visibility: stichv1.Visibility_VISIBILITY_PRIVATE}))
	wantCode(t, err, connect.CodeNotFound, "")

	fork, err := bob.ForkSession(ctxT(t), connect.NewRequest(&stichv1.ForkSessionRequest{SessionId: id}))
	if err != nil {
		t.Fatal(err)
	}
	if fork.Msg.GetVersion() != got.GetVersion() {
		t.Errorf("forked version %d, want the latest %d", fork.Msg.GetVersion(), got.GetVersion())
	}
	mine, err := bobGet(fork.Msg.GetSessionId())
	if err != nil || !mine.GetOwned() || mine.GetForkedFrom().GetSessionId() != id || len(mine.GetFiles()) != len(got.GetFiles()) {
		t.Fatalf("bob's fork: %v, owned %v, origin %v, %d files of %d", err, mine.GetOwned(), mine.GetForkedFrom(), len(mine.GetFiles()), len(got.GetFiles()))
	}
	list, err := bob.ListSessions(ctxT(t), connect.NewRequest(&stichv1.ListSessionsRequest{}))
	if err != nil || len(list.Msg.GetApps()) != 1 || list.Msg.GetApps()[0].GetForkedFrom().GetSessionId() != id {
		t.Fatalf("bob's apps: %v %v", list.Msg.GetApps(), err)
	}
	_, err = carol.GetSession(ctxT(t), connect.NewRequest(&stichv1.GetSessionRequest{SessionId: fork.Msg.GetSessionId()}))
	wantCode(t, err, connect.CodeNotFound, "")
	_, err = bob.ForkSession(ctxT(t), connect.NewRequest(&stichv1.ForkSessionRequest{SessionId: id, Version: 99}))
	wantCode(t, err, connect.CodeNotFound, "")

	set(id, stichv1.Visibility_VISIBILITY_UNLISTED)
	if ids, _ := gallery(0, ""); len(ids) != 0 {
		t.Fatalf("gallery lists an unlisted app: %v", ids)
	}
	if _, err := bobGet(id); err != nil {
		t.Fatalf("bob reading the unlisted app: %v", err)
	}

	set(id, stichv1.Visibility_VISIBILITY_PRIVATE)
	_, err = bobGet(id)
	wantCode(t, err, connect.CodeNotFound, "")
	_, err = bob.ForkSession(ctxT(t), connect.NewRequest(&stichv1.ForkSessionRequest{SessionId: id}))
	wantCode(t, err, connect.CodeNotFound, "")

	// Pages, newest first: publishing bumps an app to the top.
	set(id, stichv1.Visibility_VISIBILITY_PUBLIC)
	second := newApp("a notes app")
	set(second, stichv1.Visibility_VISIBILITY_PUBLIC)
	third := newApp("a timer")
	set(third, stichv1.Visibility_VISIBILITY_PUBLIC)
	page1, next := gallery(2, "")
	page2, last := gallery(2, next)
	if strings.Join(page1, ",") != third+","+second || strings.Join(page2, ",") != id || next == "" || last != "" {
		t.Fatalf("gallery pages %v (%q) %v (%q), want [%s %s] [%s]", page1, next, page2, last, third, second, id)
	}
	_, err = bob.ListGallery(ctxT(t), connect.NewRequest(&stichv1.ListGalleryRequest{PageToken: "forged"}))
	wantCode(t, err, connect.CodeInvalidArgument, "page_token")

	if _, err := carol.DeleteSession(ctxT(t), connect.NewRequest(&stichv1.DeleteSessionRequest{SessionId: id})); err != nil {
		t.Fatal(err)
	}
	if ids, _ := gallery(0, ""); len(ids) != 2 {
		t.Fatalf("gallery after deleting a public app: %v", ids)
	}

	out := logs.String()
	for _, want := range []string{`"audit":"visibility_changed"`, `"user":"carol"`, `"detail":"app ` + id + `: private -> public"`,
		`: public -> unlisted"`, `: unlisted -> private"`} {
		if !strings.Contains(out, want) {
			t.Errorf("no %s in the log", want)
		}
	}
}

// TestGalleryOwnerNameAndForkLimit: the gallery names each app's owner by
// their display name (never an e-mail: a name that looks like one is left
// out), and forks count in the forking user's create bucket: past it,
// resource_exhausted with the retry delay.
func TestGalleryOwnerNameAndForkLimit(t *testing.T) {
	ts := newTestServerRPC(t, ratelimit.Rule{Limit: 3, Window: time.Hour}, 0, nil, slog.New(slog.DiscardHandler), nil)
	carolHTTP := clientAs(t, ts.srv, "carol", auth.RoleUser)
	carol := stichv1connect.NewSessionServiceClient(carolHTTP, ts.url)
	bob := stichv1connect.NewSessionServiceClient(clientAs(t, ts.srv, "bob", auth.RoleUser), ts.url)
	dave := stichv1connect.NewSessionServiceClient(clientAs(t, ts.srv, "dave", auth.RoleUser), ts.url)
	if _, err := stichv1connect.NewAccountServiceClient(carolHTTP, ts.url).UpdateProfile(ctxT(t),
		connect.NewRequest(&stichv1.UpdateProfileRequest{DisplayName: "Carol Cook"})); err != nil {
		t.Fatal(err)
	}
	newPublic := func(c stichv1connect.SessionServiceClient) string {
		t.Helper()
		res, err := c.CreateSession(ctxT(t), connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a todo list"}))
		if err != nil {
			t.Fatal(err)
		}
		id := res.Msg.GetSessionId()
		stream, err := c.Watch(ctxT(t), connect.NewRequest(&stichv1.WatchRequest{SessionId: id, UntilIdle: true}))
		if err != nil {
			t.Fatal(err)
		}
		for stream.Receive() {
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.SetVisibility(ctxT(t), connect.NewRequest(&stichv1.SetVisibilityRequest{SessionId: id, Visibility: stichv1.Visibility_VISIBILITY_PUBLIC})); err != nil {
			t.Fatal(err)
		}
		return id
	}
	app := newPublic(carol)
	// dave's display name looks like an e-mail: never shown.
	if _, err := stichv1connect.NewAccountServiceClient(clientAs(t, ts.srv, "dave", auth.RoleUser), ts.url).UpdateProfile(ctxT(t),
		connect.NewRequest(&stichv1.UpdateProfileRequest{DisplayName: "dave@example.com"})); err != nil {
		t.Fatal(err)
	}
	daveApp := newPublic(dave)
	g, err := bob.ListGallery(ctxT(t), connect.NewRequest(&stichv1.ListGalleryRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, a := range g.Msg.GetApps() {
		names[a.GetSessionId()] = a.GetOwnerName()
	}
	if names[app] != "Carol Cook" {
		t.Errorf("carol's app's owner name %q, want Carol Cook (gallery %v)", names[app], names)
	}
	if n, ok := names[daveApp]; !ok || n != "" {
		t.Errorf("dave's app's owner name %q (listed %v), want it listed with no name", n, ok)
	}

	// bob's create bucket holds 3: three forks, then resource_exhausted.
	for i := range 3 {
		if _, err := bob.ForkSession(ctxT(t), connect.NewRequest(&stichv1.ForkSessionRequest{SessionId: app})); err != nil {
			t.Fatalf("fork %d: %v", i+1, err)
		}
	}
	_, err = bob.ForkSession(ctxT(t), connect.NewRequest(&stichv1.ForkSessionRequest{SessionId: app}))
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted || ce.Meta().Get("Retry-After") == "" || !strings.Contains(ce.Message(), "retry in") {
		t.Fatalf("the 4th fork: %v, want resource_exhausted with the retry delay", err)
	}
	// The bucket is the one CreateSession uses.
	if _, err := bob.CreateSession(ctxT(t), connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "x"})); connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Errorf("create after 3 forks: %v, want resource_exhausted", err)
	}
	// carol's bucket is her own.
	if _, err := carol.ForkSession(ctxT(t), connect.NewRequest(&stichv1.ForkSessionRequest{SessionId: app})); err != nil {
		t.Errorf("carol's fork: %v", err)
	}
}

// A reader of a public app (anonymous or another user) gets the owner's
// display name and no cluster node name; the owner and an admin get the
// node; only an admin learns the node from GetServerInfo.
func TestReaderSeesOwnerNameNotNode(t *testing.T) {
	ts := newTestServerRPC(t, ratelimit.Rule{}, 0, nil, slog.New(slog.DiscardHandler), nil)
	carolHTTP := clientAs(t, ts.srv, "carol", auth.RoleUser)
	carol := stichv1connect.NewSessionServiceClient(carolHTTP, ts.url)
	if _, err := stichv1connect.NewAccountServiceClient(carolHTTP, ts.url).UpdateProfile(ctxT(t),
		connect.NewRequest(&stichv1.UpdateProfileRequest{DisplayName: "Carol Cook"})); err != nil {
		t.Fatal(err)
	}
	res, err := carol.CreateSession(ctxT(t), connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a todo list"}))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Msg.GetSessionId()
	if _, err := carol.SetVisibility(ctxT(t), connect.NewRequest(&stichv1.SetVisibilityRequest{SessionId: id, Visibility: stichv1.Visibility_VISIBILITY_PUBLIC})); err != nil {
		t.Fatal(err)
	}
	bobHTTP := clientAs(t, ts.srv, "bob", auth.RoleUser)
	for _, c := range []struct {
		who               string
		hc                connect.HTTPClient
		owned, node, name bool
	}{
		{"anonymous", http.DefaultClient, false, false, true},
		{"other user", bobHTTP, false, false, true},
		{"owner", carolHTTP, true, true, false},
		{"admin", testHTTP, false, true, true},
	} {
		r, err := stichv1connect.NewSessionServiceClient(c.hc, ts.url).GetSession(ctxT(t), connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id}))
		if err != nil {
			t.Fatalf("%s: %v", c.who, err)
		}
		s := r.Msg.GetSession()
		if s.GetOwned() != c.owned || (s.GetNode() != "") != c.node || (s.GetNode() != "" && s.GetNode() != "rpc-test") {
			t.Errorf("%s: owned %v, node %q; want owned %v, node shown %v", c.who, s.GetOwned(), s.GetNode(), c.owned, c.node)
		}
		if want := map[bool]string{true: "Carol Cook", false: ""}[c.name]; s.GetOwnerName() != want {
			t.Errorf("%s: owner name %q, want %q", c.who, s.GetOwnerName(), want)
		}
	}
	for _, c := range []struct {
		who  string
		hc   connect.HTTPClient
		node string
	}{{"other user", bobHTTP, ""}, {"owner of an app", carolHTTP, ""}, {"admin", testHTTP, "rpc-test"}} {
		r, err := stichv1connect.NewAdminServiceClient(c.hc, ts.url).GetServerInfo(ctxT(t), connect.NewRequest(&stichv1.GetServerInfoRequest{}))
		if err != nil {
			t.Fatalf("%s: %v", c.who, err)
		}
		if r.Msg.GetNode() != c.node {
			t.Errorf("%s: server info node %q, want %q", c.who, r.Msg.GetNode(), c.node)
		}
	}
}
