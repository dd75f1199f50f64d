// Command fakeoauth runs the in-process fake identity provider of package
// oauthtest as a process, for the browser end-to-end tests (web/e2e): it
// prints one JSON line {"url": ...} on stdout when it serves, approves
// every sign-in as the user its flags describe, and exits when its stdin
// closes (so it never outlives the test that started it). Only for tests.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/stichdev/stich/auth/oauth/oauthtest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	id := flag.String("id", "31337", "the user's id at the provider")
	login := flag.String("login", "octo", "the user's GitHub login")
	name := flag.String("name", "Octo Cat", "the user's display name")
	email := flag.String("email", "octo@example.com", "the user's e-mail")
	verified := flag.Bool("verified", true, "whether the provider has verified the e-mail")
	flag.Parse()
	s, err := oauthtest.Start(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakeoauth:", err)
		os.Exit(1)
	}
	defer s.Close()
	u := oauthtest.User{ID: *id, Login: *login, Name: *name, Email: *email, EmailVerified: *verified}
	for _, p := range []string{"github", "google", "oidc"} {
		s.SetUser(p, u)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]string{"url": s.URL})
	io.Copy(io.Discard, os.Stdin)
}
