package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"time"
)

// TLS is a member's credential on the cluster's own transports (actor
// remoting, the replication stream, and the admission check of gossip
// members): its certificate and the cluster CA that every member's
// certificate must chain to. Both ends of every connection present a
// certificate (mutual TLS, 1.3 only).
//
// NB: peers are not checked against host names. Members reach each other
// at addresses learnt by gossip, and the cluster CA is the membership
// credential: any certificate it signed (for client and server use) is a
// member. An operator who wants tighter control issues node certificates
// from a CA used for nothing else.
type TLS struct {
	cert  tls.Certificate
	roots *x509.CertPool
	// caSubject names the CA in logs and errors.
	caSubject string
}

// ErrTLS reports unusable TLS material.
var ErrTLS = errors.New("cluster: tls")

// LoadTLS reads a node's certificate, its key and the cluster CA from PEM
// files.
func LoadTLS(certFile, keyFile, caFile string) (*TLS, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate: %w", ErrTLS, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: key: %w", ErrTLS, err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("%w: CA: %w", ErrTLS, err)
	}
	return NewTLS(certPEM, keyPEM, caPEM)
}

// NewTLS builds a credential from PEM bytes. The certificate must chain to
// the CA and be valid for both client and server use.
func NewTLS(certPEM, keyPEM, caPEM []byte) (*TLS, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate and key: %w", ErrTLS, err)
	}
	roots := x509.NewCertPool()
	var caSubject string
	for rest := caPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: CA: %w", ErrTLS, err)
		}
		if !c.IsCA {
			return nil, fmt.Errorf("%w: CA file holds %q, which is not a CA certificate", ErrTLS, c.Subject.CommonName)
		}
		roots.AddCert(c)
		if caSubject == "" {
			caSubject = c.Subject.CommonName
		}
	}
	if caSubject == "" {
		return nil, fmt.Errorf("%w: CA file holds no PEM certificate", ErrTLS)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("%w: certificate: %w", ErrTLS, err)
	}
	inter := x509.NewCertPool()
	for _, der := range cert.Certificate[1:] {
		if c, err := x509.ParseCertificate(der); err == nil {
			inter.AddCert(c)
		}
	}
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			return nil, fmt.Errorf("%w: certificate %q is not usable with CA %q: %w", ErrTLS, leaf.Subject.CommonName, caSubject, err)
		}
	}
	cert.Leaf = leaf
	return &TLS{cert: cert, roots: roots, caSubject: caSubject}, nil
}

// CA returns the common name of the cluster CA.
func (t *TLS) CA() string { return t.caSubject }

// ServerConfig is the listener side: it requires a client certificate
// signed by the cluster CA.
func (t *TLS) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{t.cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    t.roots,
	}
}

// ClientConfig is the dialling side: it presents the node's certificate
// and accepts a server whose certificate chains to the cluster CA (see
// [TLS] on host names).
func (t *TLS) ClientConfig() *tls.Config {
	roots := t.roots
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{t.cert},
		// The chain is verified below, without a host name.
		InsecureSkipVerify: true, //nolint:gosec // VerifyConnection checks the chain against the cluster CA
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the peer presented no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			return err
		},
	}
}

// checkPeer completes a TLS handshake with the member endpoint at addr
// (its actor remoting listener): it succeeds only if the peer holds a
// certificate of this cluster's CA and accepts this node's.
func (t *TLS) checkPeer(ctx context.Context, addr string) error {
	cfg := t.ClientConfig()
	cfg.NextProtos = []string{"h2"} // the actor remote is gRPC
	return t.dialActor(ctx, addr, cfg)
}

// dialActor completes a handshake with cfg and waits briefly for the
// server's verdict on this node's certificate.
func (t *TLS) dialActor(ctx context.Context, addr string, cfg *tls.Config) error {
	d := tls.Dialer{Config: cfg}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	// NB: in TLS 1.3 the server verifies the client's certificate after
	// the client's handshake completes; a refusal arrives as an alert on
	// the first read. Wait briefly for one.
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	var b [1]byte
	_, err = c.Read(b[:])
	c.Close()
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		return nil // the server said something (gRPC settings) or nothing: accepted
	}
	return err
}

// isLoopbackHost reports whether host (an IP or name) is a loopback
// address.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// CertOptions describe a certificate made by [NewCA] or [NewNodeCert].
type CertOptions struct {
	// Name is the certificate's common name.
	Name string
	// Hosts are DNS names or IP addresses put in the certificate's
	// subject alternative names (informational: members do not check
	// host names; other TLS clients may).
	Hosts []string
	// ValidFor is the certificate's lifetime.
	ValidFor time.Duration
}

// NewCA makes a self-signed ECDSA P-256 CA. It returns the certificate
// and its private key, PEM-encoded.
func NewCA(o CertOptions) (certPEM, keyPEM []byte, err error) {
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: o.Name, Organization: []string{"stich cluster"}},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	return makeCert(tmpl, o, nil, nil)
}

// NewNodeCert makes an ECDSA P-256 node certificate for client and
// server use, signed by the CA given as PEM.
func NewNodeCert(o CertOptions, caCertPEM, caKeyPEM []byte) (certPEM, keyPEM []byte, err error) {
	ca, err := tls.X509KeyPair(caCertPEM, caKeyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: CA certificate and key: %w", ErrTLS, err)
	}
	caCert, err := x509.ParseCertificate(ca.Certificate[0])
	if err != nil {
		return nil, nil, fmt.Errorf("%w: CA certificate: %w", ErrTLS, err)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: o.Name, Organization: []string{"stich cluster"}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range o.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return makeCert(tmpl, o, caCert, ca.PrivateKey)
}

func makeCert(tmpl *x509.Certificate, o CertOptions, parent *x509.Certificate, parentKey any) (certPEM, keyPEM []byte, err error) {
	if o.Name == "" {
		return nil, nil, fmt.Errorf("%w: a certificate needs a name", ErrTLS)
	}
	if o.ValidFor <= 0 {
		return nil, nil, fmt.Errorf("%w: validity must be positive, got %s", ErrTLS, o.ValidFor)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-5 * time.Minute) // tolerate clock skew between hosts
	tmpl.NotAfter = time.Now().Add(o.ValidFor)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}
