package main

import (
	"archive/zip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
)

func TestDownloadCommand(t *testing.T) {
	n := startNode(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := stichv1connect.NewSessionServiceClient(apiHTTP, n.url)
	res, err := c.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a recipe tracker with ingredients and ratings"}))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Msg.GetSessionId()
	stream, err := c.Watch(ctx, connect.NewRequest(&stichv1.WatchRequest{SessionId: id, UntilIdle: true}))
	if err != nil {
		t.Fatal(err)
	}
	for stream.Receive() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	out := filepath.Join(dir, "app.zip")
	code, _, errs := runCLI(t, "download", "--server", n.url, "--version", "1", "-o", out, id)
	if code != 0 || !strings.Contains(errs, "Saved "+out) {
		t.Fatalf("exit %d: %s", code, errs)
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	found := false
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, "recipe-tracker/") {
			t.Fatalf("entry %q is not under the app's folder", f.Name)
		}
		if f.Name == "recipe-tracker/package.json" {
			found = true
		}
	}
	if !found {
		t.Fatal("no package.json in the zip")
	}
	// Default name from the server, in the current folder.
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chdir(wd) })
	if code, _, errs := runCLI(t, "download", "--server", n.url, id); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "recipe-tracker.zip")); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"download", "--server", n.url, "s-nosuchsession000000"}, 1, "does not exist"},
		{[]string{"download", "--server", n.url, "--version", "99", id}, 1, "404"},
		{[]string{"download", "--server", n.url, "--version", "x", id}, 2, "version"},
		{[]string{"download"}, 2, "one SESSION"},
		{[]string{"download", "--server", "http://127.0.0.1:1", id}, 1, "cannot reach the server"},
	} {
		code, _, errs := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%v: exit %d %q, want %d mentioning %q", tc.args, code, errs, tc.code, tc.msg)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("failed downloads left files: %v", entries)
	}
}

func TestServerInfoReportsModels(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	info := func(n *node) *stichv1.GetServerInfoResponse {
		t.Helper()
		r, err := stichv1connect.NewAdminServiceClient(apiHTTP, n.url).GetServerInfo(ctx, connect.NewRequest(&stichv1.GetServerInfoRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		return r.Msg
	}
	plain := info(startNode(t, t.TempDir(), "--region", "eu-west"))
	if plain.GetDefaultProviderLabel() != "scaffold (no model)" || plain.GetDefaultModel() != "" || len(plain.GetEndpoints()) != 0 ||
		len(plain.GetActions()) != 0 || plain.GetRegion() != "eu-west" || plain.GetVersion() == "" {
		t.Fatalf("no model: %v", plain)
	}

	t.Setenv("STICH_LLM_API_KEY", "sk-secret-never-shown")
	m := info(startNode(t, t.TempDir(), "--model-provider", "custom", "--base-url", "http://127.0.0.1:1/v1", "--model", "m-test"))
	if m.GetDefaultModel() != "m-test" || !strings.Contains(m.GetDefaultProviderLabel(), "m-test") || len(m.GetProviders()) != 2 {
		t.Fatalf("with a model: %v", m)
	}
	if len(m.GetEndpoints()) != 1 || m.GetEndpoints()[0].GetBaseUrl() != "http://127.0.0.1:1/v1" || !m.GetEndpoints()[0].GetIsDefault() {
		t.Fatalf("endpoints %v", m.GetEndpoints())
	}
	if len(m.GetActions()) == 0 {
		t.Fatal("no per-action models")
	}
	for _, a := range m.GetActions() {
		if a.GetModel() != "m-test" {
			t.Fatalf("action %s uses %q", a.GetAction(), a.GetModel())
		}
	}
	if strings.Contains(m.String(), "sk-secret") {
		t.Fatal("the API key leaked into GetServerInfo")
	}
}

func TestAppsCommand(t *testing.T) {
	n := startNode(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := stichv1connect.NewSessionServiceClient(apiHTTP, n.url)
	var ids []string
	for _, p := range []string{"a recipe tracker with ingredients and ratings", "a kanban board for my team"} {
		res, err := c.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: p}))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Msg.GetSessionId())
	}
	code, out, errs := runCLI(t, "apps", "--server", n.url)
	if code != 0 || !strings.HasPrefix(out, "SESSION") || strings.Count(out, "\n") != 3 || !strings.Contains(out, ids[0]) || !strings.Contains(out, ids[1]) {
		t.Fatalf("apps: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = runCLI(t, "apps", "--server", n.url, "--json", "--limit", "1")
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"sessionId":"s-`) {
		t.Fatalf("apps --json --limit 1: exit %d\n%s", code, out)
	}
	if code, out, errs := runCLI(t, "apps", "rename", "--server", n.url, ids[0], "My  recipes"); code != 0 || !strings.Contains(out, `"My recipes"`) {
		t.Fatalf("rename: exit %d %s %s", code, out, errs)
	}
	if code, _, errs := runCLI(t, "apps", "delete", "--server", n.url, ids[0]); code != 2 || !strings.Contains(errs, "--yes") {
		t.Fatalf("delete without --yes: exit %d %s", code, errs)
	}
	if code, _, errs := runCLI(t, "apps", "delete", "--server", n.url, "--yes", ids[0]); code != 0 {
		t.Fatalf("delete: exit %d %s", code, errs)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"apps", "delete", "--server", n.url, "--yes", ids[0]}, 1, "not_found"},
		{[]string{"apps", "rename", "--server", n.url, ids[0], "x"}, 1, "not_found"},
		{[]string{"apps", "rename", "--server", n.url, ids[1], "  "}, 2, "non-empty TITLE"},
		{[]string{"apps", "--server", n.url, "--limit", "-1"}, 2, "--limit"},
	} {
		code, _, errs := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%v: exit %d %q, want %d mentioning %q", tc.args, code, errs, tc.code, tc.msg)
		}
	}
	code, out, _ = runCLI(t, "apps", "--server", n.url)
	if code != 0 || strings.Contains(out, ids[0]) || !strings.Contains(out, ids[1]) {
		t.Fatalf("after delete:\n%s", out)
	}
}
