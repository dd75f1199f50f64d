package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/stichdev/stich/cluster"
)

// Files written by `stich cluster certs` in its --out folder.
const (
	caCertFile    = "ca.pem"
	caKeyFile     = "ca-key.pem"
	gossipKeyFile = "gossip.key"
)

func newCertsCmd() *cobra.Command {
	var (
		out      string
		nodes    []string
		hosts    []string
		validFor time.Duration
	)
	cmd := &cobra.Command{
		Use:   "certs --node NAME [--node NAME...]",
		Short: "Make a cluster CA, node certificates and a gossip key",
		Long: `Make what the members of a stich cluster need to talk to each other across hosts, in the
folder --out (created if missing):

  ca.pem          the cluster CA certificate: give it to every node (--tls-ca)
  ca-key.pem      the CA's private key: keep it off the nodes, offline if you can; it
                  issues node certificates, and anyone holding it can join the cluster
  NAME.pem        a node certificate for each --node (--tls-cert), valid for client and
  NAME-key.pem    server use, with its private key (--tls-key)
  gossip.key      a random 32-byte key encrypting gossip (--gossip-key-file)

Keys are ECDSA P-256, written with mode 0600. If --out already holds ca.pem and ca-key.pem,
they are reused, so running the command again adds certificates for new nodes to the same
cluster; gossip.key is likewise kept. Existing node files are never overwritten.

Members accept each other by the CA alone: any certificate the CA signed is a member,
whatever host it runs on (members reach each other at addresses learnt by gossip, so host
names are not checked). --host adds DNS names or IPs to the certificates for other tools.`,
		Example: `  stich cluster certs --out ./stich-certs --node n1 --node n2 --node n3
  stich serve --node-name n1 --gossip-addr 10.0.0.1:7946 --actor-addr 10.0.0.1:0 \
    --tls-ca stich-certs/ca.pem --tls-cert stich-certs/n1.pem --tls-key stich-certs/n1-key.pem \
    --gossip-key-file stich-certs/gossip.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(nodes) == 0 {
				return usageError{errors.New("give at least one --node NAME")}
			}
			for _, n := range nodes {
				if !nodeNameRE.MatchString(n) {
					return usageError{fmt.Errorf("--node %q: use letters, digits, '.', '_' or '-' (up to 63)", n)}
				}
			}
			if validFor <= 0 {
				return usageError{fmt.Errorf("--valid-for must be positive, got %s", validFor)}
			}
			w := cmd.OutOrStdout()
			if err := os.MkdirAll(out, 0o700); err != nil {
				return fmt.Errorf("create %s: %w", out, err)
			}
			caCert, caKey, made, err := loadOrMakeCA(out, validFor)
			if err != nil {
				return err
			}
			if made {
				fmt.Fprintf(w, "made a new cluster CA: %s (key %s)\n", filepath.Join(out, caCertFile), filepath.Join(out, caKeyFile))
			} else {
				fmt.Fprintf(w, "using the cluster CA in %s\n", filepath.Join(out, caCertFile))
			}
			for _, n := range nodes {
				certPath, keyPath := filepath.Join(out, n+".pem"), filepath.Join(out, n+"-key.pem")
				if exists(certPath) || exists(keyPath) {
					return fmt.Errorf("%s or %s exists already: remove them to issue a new certificate for %s", certPath, keyPath, n)
				}
				cert, key, err := cluster.NewNodeCert(cluster.CertOptions{Name: n, Hosts: hosts, ValidFor: validFor}, caCert, caKey)
				if err != nil {
					return err
				}
				if err := writeNew(keyPath, key, 0o600); err != nil {
					return err
				}
				if err := writeNew(certPath, cert, 0o644); err != nil {
					return err
				}
				fmt.Fprintf(w, "node %s: %s, %s\n", n, certPath, keyPath)
			}
			gk := filepath.Join(out, gossipKeyFile)
			if !exists(gk) {
				key := make([]byte, 32)
				if _, err := rand.Read(key); err != nil {
					return err
				}
				if err := writeNew(gk, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
					return err
				}
				fmt.Fprintf(w, "gossip key: %s\n", gk)
			}
			fmt.Fprintf(w, "Copy ca.pem, gossip.key and each node's two files to that node; keep %s elsewhere.\n", caKeyFile)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&out, "out", "./stich-certs", "folder to write the files to (created if missing)")
	fl.StringSliceVar(&nodes, "node", nil, "name of a node to issue a certificate for (repeat, or comma-separated)")
	fl.StringSliceVar(&hosts, "host", nil, "DNS name or IP to add to every node certificate (optional; members do not check it)")
	fl.DurationVar(&validFor, "valid-for", 5*365*24*time.Hour, "how long the certificates (and a new CA) are valid")
	return cmd
}

// loadOrMakeCA reads the CA in dir, or makes one if there is none.
func loadOrMakeCA(dir string, validFor time.Duration) (cert, key []byte, made bool, err error) {
	certPath, keyPath := filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile)
	cert, cerr := os.ReadFile(certPath)
	key, kerr := os.ReadFile(keyPath)
	switch {
	case cerr == nil && kerr == nil:
		return cert, key, false, nil
	case errors.Is(cerr, fs.ErrNotExist) && errors.Is(kerr, fs.ErrNotExist):
	case cerr == nil || kerr == nil:
		return nil, nil, false, fmt.Errorf("%s holds only one of %s and %s: restore the other, or remove it to make a new CA", dir, caCertFile, caKeyFile)
	default:
		return nil, nil, false, errors.Join(cerr, kerr)
	}
	cert, key, err = cluster.NewCA(cluster.CertOptions{Name: "stich cluster CA " + time.Now().UTC().Format("2006-01-02T15:04:05Z"), ValidFor: validFor})
	if err != nil {
		return nil, nil, false, err
	}
	if err := writeNew(keyPath, key, 0o600); err != nil {
		return nil, nil, false, err
	}
	if err := writeNew(certPath, cert, 0o644); err != nil {
		return nil, nil, false, err
	}
	return cert, key, true, nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// writeNew creates path with mode perm; it never overwrites a file.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
