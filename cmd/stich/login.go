package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	"github.com/stichdev/stich/auth"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
	"github.com/stichdev/stich/rpc"
)

// Client credentials. Every client command sends an API key, the first of:
//
//  1. --token (or STICH_TOKEN);
//  2. the key of an embedded node this process started (in memory only);
//  3. the key file of the server's host:port in the user's config folder
//     (~/.config/stich/keys/HOST_PORT, mode 0600): written by `stich login`,
//     and by `stich serve --auth single` for its owner, so the CLI on the
//     node's machine works with no extra step. The file's permissions, not
//     the caller's address, are the credential.

type tokenKey struct{}

// withToken returns ctx carrying the --token value for [apiHTTP].
func withToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, tokenKey{}, token)
}

// embeddedTokens maps an embedded node's host:port to its owner key.
var embeddedTokens sync.Map

// apiHTTP is the HTTP client of every client command: it adds the
// caller's API key (see above) to each request.
var apiHTTP = &http.Client{Transport: tokenTransport{}}

// tokenTransport adds the key; base (default http.DefaultTransport) sends.
type tokenTransport struct{ base http.RoundTripper }

func (t tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") == "" {
		hostport := r.URL.Host
		if r.URL.Port() == "" {
			hostport = net.JoinHostPort(r.URL.Hostname(), map[string]string{"http": "80", "https": "443"}[r.URL.Scheme])
		}
		if token := tokenFor(r.Context(), hostport); token != "" {
			r = r.Clone(r.Context())
			r.Header.Set("Authorization", "Bearer "+token)
		}
	}
	if t.base != nil {
		return t.base.RoundTrip(r)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func tokenFor(ctx context.Context, hostport string) string {
	if t, _ := ctx.Value(tokenKey{}).(string); t != "" {
		return t
	}
	if t, ok := embeddedTokens.Load(hostport); ok {
		return t.(string)
	}
	path, err := keyFilePath(hostport)
	if err != nil {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// keyFilePath is the key file of a server's host:port.
func keyFilePath(hostport string) (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config folder for keys: %w", err)
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, "80"
	}
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, strings.ToLower(host)+"_"+port)
	return filepath.Join(dir, "stich", "keys", name), nil
}

// writeKeyFile stores a key readable only by the OS user (0600, in a 0700
// folder), replacing the file whole.
func writeKeyFile(path, token string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("key folder: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".key-*")
	if err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err == nil {
		_, err = tmp.WriteString(token + "\n")
		if err == nil {
			err = tmp.Close()
		}
		if err == nil {
			err = os.Rename(tmp.Name(), path)
		}
		if err != nil {
			return fmt.Errorf("key file %s: %w", path, err)
		}
		return nil
	}
	tmp.Close()
	return fmt.Errorf("key file %s: cannot restrict its permissions", path)
}

// ownerKeyHosts are the host:port names the CLI may use for a node bound
// to addr: the address itself, and the loopback names for a loopback or
// wildcard bind.
func ownerKeyHosts(addr string) []string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	out := []string{addr}
	ip, err := netip.ParseAddr(host)
	if err == nil && (ip.IsLoopback() || ip.IsUnspecified()) {
		for _, h := range []string{"127.0.0.1", "localhost", "[::1]"} {
			if hp := net.JoinHostPort(strings.Trim(h, "[]"), port); hp != addr {
				out = append(out, hp)
			}
		}
	}
	return out
}

// ensureOwner makes the single owner's API key available on this machine:
// the saved key when it is still live, else a new one written to the key
// files of the node's names. An embedded node keeps its key in memory.
//
// NB: a node that has just joined may not reach the user grain's owner
// yet; the calls are retried for up to [ownerSetupTimeout].
func ensureOwner(ctx context.Context, srv *rpc.Server, node string, embedded bool, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, ownerSetupTimeout)
	defer cancel()
	for {
		// Each attempt is bounded on its own: a call caught in a membership
		// change (a claim waiting on a member that just joined) is given up
		// and tried again rather than spending the whole budget.
		actx, acancel := context.WithTimeout(ctx, ownerAttemptTimeout)
		err := ensureOwnerOnce(actx, srv, node, embedded, log)
		acancel()
		if err == nil || ctx.Err() != nil {
			return err
		}
		log.Warn("owner account not ready; retrying", "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// ownerSetupTimeout bounds ensureOwner's retries, ownerAttemptTimeout
// each attempt.
const (
	ownerSetupTimeout   = 60 * time.Second
	ownerAttemptTimeout = 5 * time.Second
)

func ensureOwnerOnce(ctx context.Context, srv *rpc.Server, node string, embedded bool, log *slog.Logger) error {
	addr := srv.Addr()
	if embedded {
		token, err := srv.EnsureUser(ctx, rpc.OwnerID, auth.RoleAdmin, "embedded node")
		if err != nil {
			return err
		}
		embeddedTokens.Store(addr, token)
		return nil
	}
	hosts := ownerKeyHosts(addr)
	var paths []string
	for _, h := range hosts {
		p, err := keyFilePath(h)
		if err != nil {
			return err
		}
		paths = append(paths, p)
	}
	token := ""
	if b, err := os.ReadFile(paths[0]); err == nil && srv.KeyIsLive(ctx, strings.TrimSpace(string(b))) {
		token = strings.TrimSpace(string(b))
	} else {
		t, err := srv.EnsureUser(ctx, rpc.OwnerID, auth.RoleAdmin, "owner key of "+node+" at "+addr)
		if err != nil {
			return err
		}
		token = t
	}
	for _, p := range paths {
		if err := writeKeyFile(p, token); err != nil {
			return err
		}
	}
	log.Info("owner API key saved for the CLI on this machine", "file", paths[0])
	return nil
}

func newLoginCmd() *cobra.Command {
	var server string
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Save an API key for a server, for the other commands",
		Long: `Check an API key against --server and save it in your config folder (mode 0600), where
every other command finds it for that server. The key comes from --token (or STICH_TOKEN), or
is read from standard input.

On the machine of a 'stich serve' node this is not needed: the node saves its owner's key there.`,
		Example: `  stich login --server https://stich.example --token stich_...
  echo "$KEY" | stich login --server https://stich.example`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := url.Parse(strings.TrimRight(server, "/"))
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return usageError{fmt.Errorf("--server %q: want http(s)://host[:port]", server)}
			}
			token, _ := cmd.Context().Value(tokenKey{}).(string)
			if token == "" {
				line, err := bufio.NewReader(io.LimitReader(cmd.InOrStdin(), 4096)).ReadString('\n')
				if err != nil && !errors.Is(err, io.EOF) {
					return err
				}
				token = strings.TrimSpace(line)
			}
			if _, err := auth.ParseAPIKey(token); err != nil {
				return usageError{errors.New("that is not a stich API key (stich_USER_KEYID_SECRET); pass it with --token or on standard input")}
			}
			c := stichv1connect.NewAdminServiceClient(apiHTTP, u.String())
			if _, err := c.GetServerInfo(withToken(cmd.Context(), token), connect.NewRequest(&stichv1.GetServerInfoRequest{})); err != nil {
				return err
			}
			hostport := u.Host
			if u.Port() == "" {
				hostport = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
			}
			path, err := keyFilePath(hostport)
			if err != nil {
				return err
			}
			if err := writeKeyFile(path, token); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signed in to %s; key saved in %s\n", u, path)
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "http://127.0.0.1:8080", "URL of the stich server")
	return cmd
}

func newSignInLinkCmd() *cobra.Command {
	var server string
	cmd := &cobra.Command{
		Use:   "signin-link",
		Short: "Print a new one-time link that signs a browser in to the web UI",
		Long: `Ask the node at --server for a new sign-in link for its owner (an admin's API key is needed:
on the node's machine the CLI finds the one the node saved). The link works once, for 24 hours.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, strings.TrimRight(server, "/")+"/auth/links", nil)
			if err != nil {
				return usageError{fmt.Errorf("--server %q: %w", server, err)}
			}
			res, err := apiHTTP.Do(req)
			if err != nil {
				return err
			}
			defer res.Body.Close()
			body, err := io.ReadAll(io.LimitReader(res.Body, 4096))
			if err != nil {
				return err
			}
			if res.StatusCode != http.StatusOK {
				return &exitError{code: exitFailure, err: fmt.Errorf("%s", strings.TrimSpace(string(body)))}
			}
			fmt.Fprint(cmd.OutOrStdout(), string(body))
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "http://127.0.0.1:8080", "URL of the stich node")
	return cmd
}
