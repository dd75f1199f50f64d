package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
)

// TestAdminUsersAndAuditCLI: `stich admin users` lists the accounts with
// the owner's key; `stich admin disable|enable EMAIL` turn an account off
// (its key stops working) and on; `stich audit` shows a user their own
// events, `stich audit --all` is refused to them (a clear message, exit
// 1) and shows the admin every account's.
func TestAdminUsersAndAuditCLI(t *testing.T) {
	n := startNode(t, t.TempDir(), "--auth", "multi")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b := browserClient(n.url)
	acc := stichv1connect.NewAccountServiceClient(b, n.url)
	const email, pw = "ann@example.com", "correct horse battery"
	if _, err := acc.SignUp(ctx, connect.NewRequest(&stichv1.SignUpRequest{Email: email, Password: pw})); err != nil {
		t.Fatal(err)
	}
	var token string
	for deadline := time.Now().Add(time.Minute); token == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := verifyLink.FindStringSubmatch(n.logs()); m != nil {
			token = m[1]
		}
	}
	if token == "" {
		t.Fatal("no verification link in the log")
	}
	if _, err := acc.VerifyEmail(ctx, connect.NewRequest(&stichv1.VerifyEmailRequest{Token: token})); err != nil {
		t.Fatal(err)
	}
	if _, err := acc.SignIn(ctx, connect.NewRequest(&stichv1.SignInRequest{Email: email, Password: pw})); err != nil {
		t.Fatal(err)
	}
	k, err := acc.CreateAPIKey(ctx, connect.NewRequest(&stichv1.CreateAPIKeyRequest{Label: "cli"}))
	if err != nil {
		t.Fatal(err)
	}
	annKey := k.Msg.GetToken()

	code, out, errs := runCLI(t, "admin", "users", "--server", n.url)
	if code != 0 || !strings.Contains(out, "LAST SIGN-IN") || !strings.Contains(out, email) {
		t.Fatalf("admin users: exit %d\n%s%s", code, out, errs)
	}
	annLine := func(out string) string {
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, email) {
				return l
			}
		}
		return ""
	}
	if l := strings.Fields(annLine(out)); len(l) < 5 || l[2] != "user" || l[3] != "no" || l[4] == "never" {
		t.Errorf("ann's line: %q, want role user, not disabled, a last sign-in", annLine(out))
	}

	// ann, a plain user: her own events (written in the background: polled
	// for); the admin commands refused.
	eventually := func(args []string, want ...string) {
		t.Helper()
		var code int
		var out, errs string
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			code, out, errs = runCLI(t, args...)
			ok := code == 0
			for _, w := range want {
				ok = ok && strings.Contains(out, w)
			}
			if ok {
				return
			}
		}
		t.Errorf("%v: exit %d, want %q in\n%s%s", args, code, want, out, errs)
	}
	eventually([]string{"audit", "--server", n.url, "--token", annKey}, "sign_in", "key_created")
	for _, args := range [][]string{{"audit", "--all"}, {"admin", "users"}, {"admin", "disable", "root@example.com"}} {
		code, out, errs = runCLI(t, append(args, "--server", n.url, "--token", annKey)...)
		if code != 1 || !strings.Contains(errs, "needs the admin role") || out != "" {
			t.Errorf("%v as ann: exit %d, stdout %q, stderr %q; want exit 1 and the admin role explained", args, code, out, errs)
		}
	}

	// Disable ann: her key stops working; enable: it works again.
	if code, out, errs := runCLI(t, "admin", "disable", email, "--server", n.url); code != 0 || !strings.Contains(out, "is now disabled") {
		t.Fatalf("admin disable: exit %d %q %s", code, out, errs)
	}
	refused := false
	for deadline := time.Now().Add(time.Minute); !refused && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		code, _, errs = runCLI(t, "audit", "--server", n.url, "--token", annKey)
		refused = code == 1 && strings.Contains(errs, "needs a key")
	}
	if !refused {
		t.Errorf("a disabled account's key still works: exit %d %s", code, errs)
	}
	if _, out, _ := runCLI(t, "admin", "users", "--server", n.url, "--query", "ann@"); !strings.Contains(annLine(out), " yes ") {
		t.Errorf("users after disable: %q", out)
	}
	if code, out, errs := runCLI(t, "admin", "enable", email, "--server", n.url); code != 0 || !strings.Contains(out, "is now enabled") {
		t.Fatalf("admin enable: exit %d %q %s", code, out, errs)
	}
	works := false
	for deadline := time.Now().Add(time.Minute); !works && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		code, _, _ = runCLI(t, "audit", "--server", n.url, "--token", annKey)
		works = code == 0
	}
	if !works {
		t.Error("the key of an enabled account is still refused")
	}
	eventually([]string{"audit", "--all", "--user", email, "--server", n.url}, "account_disabled", "account_enabled")
	if code, _, errs := runCLI(t, "admin", "disable", "nobody@example.com", "--server", n.url); code != 1 || !strings.Contains(errs, "no account has the e-mail") {
		t.Errorf("disable nobody: exit %d %s", code, errs)
	}
	if code, _, _ := runCLI(t, "admin", "disable", "not-an-email", "--server", n.url); code != 2 {
		t.Errorf("disable not-an-email: exit %d, want 2", code)
	}
}
