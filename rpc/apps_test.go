package rpc

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/internal/testutil"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
	"github.com/stichdev/stich/ratelimit"
)

// createIdle creates a session and waits until its generation completed.
func createIdle(t *testing.T, c stichv1connect.SessionServiceClient, prompt string) string {
	t.Helper()
	res, err := c.CreateSession(ctxT(t), connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: prompt}))
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
	return id
}

func listAll(t *testing.T, c stichv1connect.SessionServiceClient, pageSize uint32) []*stichv1.AppSummary {
	t.Helper()
	var out []*stichv1.AppSummary
	tok := ""
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("paging does not end")
		}
		r, err := c.ListSessions(ctxT(t), connect.NewRequest(&stichv1.ListSessionsRequest{PageSize: pageSize, PageToken: tok}))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r.Msg.GetApps()...)
		if int(r.Msg.GetTotal()) < len(out) {
			t.Fatalf("total %d < %d listed", r.Msg.GetTotal(), len(out))
		}
		if tok = r.Msg.GetNextPageToken(); tok == "" {
			return out
		}
	}
}

func TestAppsListRenameDelete(t *testing.T) {
	ts := newTestServer(t, ratelimit.Rule{}, 0)
	c, ctx := ts.client, ctxT(t)

	if apps := listAll(t, c, 0); len(apps) != 0 {
		t.Fatalf("fresh server lists %d apps", len(apps))
	}
	first := createIdle(t, c, "a recipe tracker with ingredients and ratings")
	second := createIdle(t, c, "a kanban board\nwith three columns")
	// The session reports its final phase and version off its mailbox.
	testutil.WaitFor(t, 10*time.Second, func() error {
		for _, a := range listAll(t, c, 0) {
			if a.GetPhase() != stichv1.Phase_PHASE_COMPLETED || a.GetVersion() != 1 {
				return fmt.Errorf("app %s: phase %v version %d", a.GetSessionId(), a.GetPhase(), a.GetVersion())
			}
		}
		return nil
	})
	apps := listAll(t, c, 0)
	if len(apps) != 2 || apps[0].GetSessionId() != second || apps[1].GetSessionId() != first {
		t.Fatalf("want [%s %s] newest first, got %v", second, first, apps)
	}
	for _, a := range apps {
		if a.GetTitle() == "" || a.GetPrompt() == "" || a.GetCreatedAt() == nil || a.GetProviderLabel() != "scaffold (no model)" {
			t.Fatalf("incomplete entry %v", a)
		}
	}
	// Paging one at a time gives the same list.
	paged := listAll(t, c, 1)
	if len(paged) != 2 || paged[0].GetSessionId() != second || paged[1].GetSessionId() != first {
		t.Fatalf("paged list %v", paged)
	}

	r, err := c.RenameSession(ctx, connect.NewRequest(&stichv1.RenameSessionRequest{SessionId: first, Title: "  My   recipes "}))
	if err != nil {
		t.Fatal(err)
	}
	if r.Msg.GetApp().GetTitle() != "My recipes" {
		t.Fatalf("renamed to %q", r.Msg.GetApp().GetTitle())
	}
	// GetSession carries the user's title (and only a user's: second has none).
	for id, want := range map[string]string{first: "My recipes", second: ""} {
		g, err := c.GetSession(ctx, connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id}))
		if err != nil || g.Msg.GetSession().GetTitle() != want {
			t.Fatalf("GetSession(%s).title = %q (%v), want %q", id, g.Msg.GetSession().GetTitle(), err, want)
		}
	}
	// A later report (a refinement) keeps the user's title.
	if _, err := c.SendMessage(ctx, connect.NewRequest(&stichv1.SendMessageRequest{SessionId: first, Text: "also track a notes field"})); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 20*time.Second, func() error {
		for _, a := range listAll(t, c, 0) {
			if a.GetSessionId() == first && (a.GetVersion() != 2 || a.GetPhase() != stichv1.Phase_PHASE_COMPLETED) {
				return fmt.Errorf("refined app: phase %v version %d", a.GetPhase(), a.GetVersion())
			}
		}
		return nil
	})
	for _, a := range listAll(t, c, 0) {
		if a.GetSessionId() == first && a.GetTitle() != "My recipes" {
			t.Fatalf("title after refinement %q", a.GetTitle())
		}
	}

	if _, err := c.DeleteSession(ctx, connect.NewRequest(&stichv1.DeleteSessionRequest{SessionId: first})); err != nil {
		t.Fatal(err)
	}
	apps = listAll(t, c, 0)
	if len(apps) != 1 || apps[0].GetSessionId() != second {
		t.Fatalf("after delete: %v", apps)
	}
	// Every RPC of the deleted session answers NotFound; so does a second delete.
	_, err = c.GetSession(ctx, connect.NewRequest(&stichv1.GetSessionRequest{SessionId: first}))
	wantCode(t, err, connect.CodeNotFound, "does not exist")
	_, err = c.ListVersions(ctx, connect.NewRequest(&stichv1.ListVersionsRequest{SessionId: first}))
	wantCode(t, err, connect.CodeNotFound, "")
	_, err = c.GetFile(ctx, connect.NewRequest(&stichv1.GetFileRequest{SessionId: first, Path: "package.json", Version: 1}))
	wantCode(t, err, connect.CodeNotFound, "")
	_, err = c.RenameSession(ctx, connect.NewRequest(&stichv1.RenameSessionRequest{SessionId: first, Title: "x"}))
	wantCode(t, err, connect.CodeNotFound, "")
	_, err = c.DeleteSession(ctx, connect.NewRequest(&stichv1.DeleteSessionRequest{SessionId: first}))
	wantCode(t, err, connect.CodeNotFound, "does not exist")
	stream, err := c.Watch(ctx, connect.NewRequest(&stichv1.WatchRequest{SessionId: first}))
	if err == nil {
		for stream.Receive() {
		}
		err = stream.Err()
	}
	wantCode(t, err, connect.CodeNotFound, "")

	// The storage of the deleted session is gone: no key of it remains.
	found := false
	err = ts.rt.Node.Store().Grains(func(kind, identity string) error {
		if identity == first {
			found = true
		}
		return nil
	})
	if err != nil || found {
		t.Fatalf("storage of the deleted session remains (%v)", err)
	}
}

func TestDeleteStopsWorkAndWatchers(t *testing.T) {
	// Slow chunks: the session is still generating when it is deleted.
	ts := newTestServer(t, ratelimit.Rule{}, 20*time.Millisecond)
	c := ts.client
	res, err := c.CreateSession(ctxT(t), connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a dashboard of sales metrics"}))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Msg.GetSessionId()
	stream, err := c.Watch(ctxT(t), connect.NewRequest(&stichv1.WatchRequest{SessionId: id}))
	if err != nil {
		t.Fatal(err)
	}
	if !stream.Receive() {
		t.Fatal(stream.Err())
	}
	if _, err := c.DeleteSession(ctxT(t), connect.NewRequest(&stichv1.DeleteSessionRequest{SessionId: id})); err != nil {
		t.Fatal(err)
	}
	for stream.Receive() {
	}
	wantCode(t, stream.Err(), connect.CodeNotFound, "does not exist")
	if apps := listAll(t, c, 0); len(apps) != 0 {
		t.Fatalf("deleted app still listed: %v", apps)
	}
}

func TestAppsBadInput(t *testing.T) {
	ts := newTestServer(t, ratelimit.Rule{}, 0)
	c, ctx := ts.client, ctxT(t)
	_, err := c.RenameSession(ctx, connect.NewRequest(&stichv1.RenameSessionRequest{SessionId: "s-nosuchsession000000", Title: "x"}))
	wantCode(t, err, connect.CodeNotFound, "does not exist")
	_, err = c.RenameSession(ctx, connect.NewRequest(&stichv1.RenameSessionRequest{SessionId: "s-nosuchsession000000", Title: ""}))
	wantCode(t, err, connect.CodeInvalidArgument, "title")
	_, err = c.RenameSession(ctx, connect.NewRequest(&stichv1.RenameSessionRequest{SessionId: "s-nosuchsession000000", Title: " \t "}))
	wantCode(t, err, connect.CodeInvalidArgument, "title must contain non-whitespace text")
	_, err = c.RenameSession(ctx, connect.NewRequest(&stichv1.RenameSessionRequest{SessionId: "s-nosuchsession000000", Title: strings.Repeat("x", 121)}))
	wantCode(t, err, connect.CodeInvalidArgument, "title")
	_, err = c.RenameSession(ctx, connect.NewRequest(&stichv1.RenameSessionRequest{SessionId: "../etc", Title: "x"}))
	wantCode(t, err, connect.CodeInvalidArgument, "session_id")
	_, err = c.DeleteSession(ctx, connect.NewRequest(&stichv1.DeleteSessionRequest{SessionId: "s-nosuchsession000000"}))
	wantCode(t, err, connect.CodeNotFound, "does not exist")
	_, err = c.DeleteSession(ctx, connect.NewRequest(&stichv1.DeleteSessionRequest{SessionId: ""}))
	wantCode(t, err, connect.CodeInvalidArgument, "session_id")
	_, err = c.ListSessions(ctx, connect.NewRequest(&stichv1.ListSessionsRequest{PageSize: 201}))
	wantCode(t, err, connect.CodeInvalidArgument, "page_size")
	for _, tok := range []string{"!!!", "bm90LWEtdG9rZW4", pageTokenRaw("12.../etc"), pageTokenRaw("x.s-abcdefgh12")} {
		_, err = c.ListSessions(ctx, connect.NewRequest(&stichv1.ListSessionsRequest{PageToken: tok}))
		wantCode(t, err, connect.CodeInvalidArgument, "page_token")
	}
}

func pageTokenRaw(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// getZip downloads a session's zip and returns the response and the
// unzipped files by name.
func getZip(t *testing.T, url string) (*http.Response, map[string]string, []string) {
	t.Helper()
	resp, err := testHTTP.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp, nil, []string{string(b)}
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	files := map[string]string{}
	var order []string
	for _, f := range zr.File {
		if !f.Modified.Equal(zipTime) {
			t.Fatalf("%s: time %v, want the fixed %v", f.Name, f.Modified, zipTime)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name] = string(data)
		order = append(order, f.Name)
	}
	resp.Header.Set("X-Body-Len", fmt.Sprint(len(b)))
	return resp, files, order
}

func TestDownloadZip(t *testing.T) {
	ts := newTestServer(t, ratelimit.Rule{}, 0)
	c, ctx := ts.client, ctxT(t)
	id := createIdle(t, c, "a book list with title and author")
	if _, err := c.RenameSession(ctx, connect.NewRequest(&stichv1.RenameSessionRequest{SessionId: id, Title: "Recipe Box!"})); err != nil {
		t.Fatal(err)
	}
	// A refinement makes version 2, so versions 1 and 2 differ.
	sent, err := c.SendMessage(ctx, connect.NewRequest(&stichv1.SendMessageRequest{SessionId: id, Text: "also track a rating"}))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := c.Watch(ctx, connect.NewRequest(&stichv1.WatchRequest{SessionId: id, AfterSeq: sent.Msg.GetSeq(), UntilIdle: true}))
	if err != nil {
		t.Fatal(err)
	}
	for stream.Receive() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	sess, err := c.GetSession(ctx, connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id}))
	if err != nil || sess.Msg.GetSession().GetVersion() < 2 {
		t.Fatalf("session %v %v", sess, err)
	}

	check := func(version uint32, wantName string) []byte {
		t.Helper()
		url := ts.url + DownloadPath(id)
		if version > 0 {
			url += fmt.Sprintf("?version=%d", version)
		}
		resp, files, order := getZip(t, url)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %v", url, resp.StatusCode, order)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/zip" {
			t.Fatalf("content type %q", ct)
		}
		if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="`+wantName+`"` {
			t.Fatalf("content disposition %q", cd)
		}
		if !sort.StringsAreSorted(order) {
			t.Fatalf("entries not in path order: %v", order)
		}
		var want []*stichv1.FileInfo
		if version == 0 {
			l, err := c.ListFiles(ctx, connect.NewRequest(&stichv1.ListFilesRequest{SessionId: id}))
			if err != nil {
				t.Fatal(err)
			}
			want = l.Msg.GetFiles()
		}
		if version > 0 {
			// The version's files: every path GetFile answers for it.
			for name := range files {
				want = append(want, &stichv1.FileInfo{Path: strings.TrimPrefix(name, "recipe-box/")})
			}
		}
		if len(files) != len(want) || len(want) < 10 {
			t.Fatalf("zip has %d files, want %d", len(files), len(want))
		}
		for _, f := range want {
			g, err := c.GetFile(ctx, connect.NewRequest(&stichv1.GetFileRequest{SessionId: id, Path: f.GetPath(), Version: version}))
			if err != nil {
				t.Fatalf("%s: %v", f.GetPath(), err)
			}
			got, ok := files["recipe-box/"+f.GetPath()]
			if !ok || got != g.Msg.GetFile().GetContent() {
				t.Fatalf("zip entry recipe-box/%s differs from GetFile (present %v)", f.GetPath(), ok)
			}
		}
		b, _ := io.ReadAll(bytesOf(t, url))
		return b
	}
	cur := check(0, "recipe-box.zip")
	v1 := check(1, "recipe-box-v1.zip")
	latest := check(sess.Msg.GetSession().GetVersion(), fmt.Sprintf("recipe-box-v%d.zip", sess.Msg.GetSession().GetVersion()))
	if !bytes.Equal(cur, latest) {
		t.Fatal("current files and the latest version zip differently (or the zip is not deterministic)")
	}
	if bytes.Equal(v1, latest) {
		t.Fatal("version 1 and the refined version zip the same")
	}
	// Deterministic: the same request gives the same bytes.
	if again, _ := io.ReadAll(bytesOf(t, ts.url+DownloadPath(id)+"?version=1")); !bytes.Equal(again, v1) {
		t.Fatal("two downloads of version 1 differ")
	}
}

func bytesOf(t *testing.T, url string) io.Reader {
	t.Helper()
	resp, err := testHTTP.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b)
}

func TestDownloadBadInput(t *testing.T) {
	ts := newTestServer(t, ratelimit.Rule{}, 0)
	id := createIdle(t, ts.client, "a todo list")
	cases := []struct {
		path   string
		status int
		body   string
	}{
		{DownloadPath("s-nosuchsession000000"), http.StatusNotFound, "does not exist"},
		{DownloadPath("S-BAD"), http.StatusBadRequest, "invalid session id"},
		{DownloadPath(id) + "?version=0", http.StatusBadRequest, "version"},
		{DownloadPath(id) + "?version=abc", http.StatusBadRequest, "version"},
		{DownloadPath(id) + "?version=1&version=2", http.StatusBadRequest, "version"},
		{DownloadPath(id) + "?version=99", http.StatusNotFound, "99"},
		{"/api/sessions/" + id + "/nothing", http.StatusNotFound, "no API endpoint"},
	}
	for _, tc := range cases {
		resp, _, body := getZip(t, ts.url+tc.path)
		if resp.StatusCode != tc.status || !strings.Contains(strings.Join(body, ""), tc.body) {
			t.Errorf("%s: %d %q, want %d mentioning %q", tc.path, resp.StatusCode, body, tc.status, tc.body)
		}
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, ts.url+DownloadPath(id), nil)
	resp, err := testHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestFolderName(t *testing.T) {
	for in, want := range map[string]string{
		"Recipe Box!": "recipe-box", "  ": "app", "Ünïcode — only": "n-code-only", "a/../b": "a-b",
		strings.Repeat("ab ", 40): strings.Repeat("ab-", 19) + "ab-a",
	} {
		if got := folderName(in); got != want {
			t.Errorf("folderName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestServerInfo(t *testing.T) {
	ts := newTestServer(t, ratelimit.Rule{}, 0)
	a := stichv1connect.NewAdminServiceClient(testHTTP, ts.url)
	r, err := a.GetServerInfo(ctxT(t), connect.NewRequest(&stichv1.GetServerInfoRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	m := r.Msg
	if m.GetNode() != "rpc-test" || m.GetVersion() != "dev" || m.GetDefaultProvider() != "scaffold" ||
		m.GetDefaultProviderLabel() != "scaffold (no model)" || m.GetDefaultModel() != "" || len(m.GetEndpoints()) != 0 {
		t.Fatalf("server info %v", m)
	}
	if len(m.GetProviders()) != 1 || !m.GetProviders()[0].GetIsDefault() {
		t.Fatalf("providers %v", m.GetProviders())
	}
}

// FuzzPageToken: any token either fails with errBadPageToken or decodes to
// a cursor whose re-encoding decodes to the same cursor.
func FuzzPageToken(f *testing.F) {
	f.Add(pageTokenRaw("1700000000000000000.s-abcdefgh12"))
	f.Add(pageTokenRaw("-5.s-abcdefgh12.eu"))
	f.Add("")
	f.Add("!!")
	f.Fuzz(func(t *testing.T, tok string) {
		at, id, err := parsePageToken(tok)
		if err != nil {
			if !errors.Is(err, errBadPageToken) {
				t.Fatalf("error %v", err)
			}
			return
		}
		again := pageToken(&actorsv1.AppEntry{SessionId: id, UpdatedAt: at})
		at2, id2, err := parsePageToken(again)
		if err != nil || id2 != id || !at2.AsTime().Equal(at.AsTime()) {
			t.Fatalf("round trip of %q: %v %q %v", tok, at2, id2, err)
		}
	})
}

// TestSendMessageIdempotencyKey: a retried SendMessage (same key, same
// text) is recorded once and answers the first seq; the key reused for
// another text is refused; a message without a key is never deduplicated.
func TestSendMessageIdempotencyKey(t *testing.T) {
	ts := newTestServer(t, ratelimit.Rule{}, 0)
	c, ctx := ts.client, ctxT(t)
	id := createIdle(t, c, "a book list with title and author")
	send := func(text, key string) (uint64, error) {
		r, err := c.SendMessage(ctx, connect.NewRequest(&stichv1.SendMessageRequest{SessionId: id, Text: text, IdempotencyKey: key}))
		if err != nil {
			return 0, err
		}
		return r.Msg.GetSeq(), nil
	}
	first, err := send("also track a rating", "k-1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := send("also track a rating", "k-1")
	if err != nil || again != first {
		t.Fatalf("retry answered seq %d, %v; want the first seq %d", again, err, first)
	}
	if _, err := send("something else", "k-1"); connect.CodeOf(err) != connect.CodeAlreadyExists {
		t.Fatalf("key reused for another text: %v, want AlreadyExists", err)
	}
	if _, err := send("x", "bad key!"); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("malformed key: %v, want InvalidArgument", err)
	}
	sess, err := c.GetSession(ctx, connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id}))
	if err != nil {
		t.Fatal(err)
	}
	if n := sess.Msg.GetSession().GetCounters().GetMessages(); n != 1 {
		t.Fatalf("%d messages recorded, want 1", n)
	}
}
