package mailer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// smtpServer is a small in-process SMTP server: EHLO, STARTTLS (when it
// has a certificate), AUTH PLAIN, MAIL, RCPT, DATA, QUIT, per RFC 5321.
type smtpServer struct {
	ln   net.Listener
	cert *tls.Certificate
	user string // "user\x00pass" accepted by AUTH PLAIN
	wg   sync.WaitGroup

	mu   sync.Mutex
	got  []received
	tlsd []bool
}

type received struct {
	from, to, data, auth string
}

func startSMTP(t *testing.T, cert *tls.Certificate, user string) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, cert: cert, user: user}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serve(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	r, w := bufio.NewReader(c), c
	say := func(line string) { w.Write([]byte(line + "\r\n")) }
	say("220 test ESMTP")
	var cur received
	secure := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		switch verb {
		case "EHLO", "HELO":
			ext := []string{"250-test"}
			if s.cert != nil && !secure {
				ext = append(ext, "250-STARTTLS")
			}
			ext = append(ext, "250 AUTH PLAIN")
			for _, e := range ext {
				say(e)
			}
		case "STARTTLS":
			say("220 go ahead")
			tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{*s.cert}})
			if err := tc.Handshake(); err != nil {
				return
			}
			c, secure = tc, true
			r, w = bufio.NewReader(tc), tc
		case "AUTH":
			parts := strings.Fields(line)
			b, _ := base64.StdEncoding.DecodeString(parts[len(parts)-1])
			if len(parts) != 3 || string(b) != "\x00"+s.user {
				say("535 bad credentials")
				continue
			}
			cur.auth = s.user
			say("235 ok")
		case "MAIL":
			cur.from = strings.TrimSuffix(strings.TrimPrefix(line[len("MAIL FROM:"):], "<"), ">")
			say("250 ok")
		case "RCPT":
			cur.to = strings.TrimSuffix(strings.TrimPrefix(line[len("RCPT TO:"):], "<"), ">")
			say("250 ok")
		case "DATA":
			say("354 end with .")
			var data bytes.Buffer
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(l)
			}
			cur.data = data.String()
			s.mu.Lock()
			s.got = append(s.got, cur)
			s.tlsd = append(s.tlsd, secure)
			s.mu.Unlock()
			say("250 queued")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 unknown")
		}
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestSMTPStartTLSAndAuth: a message goes over STARTTLS, authenticated,
// with its headers and a CRLF body, to the in-process server.
func TestSMTPStartTLSAndAuth(t *testing.T) {
	cert, pool := selfSigned(t)
	srv := startSMTP(t, &cert, "stich\x00s3cret")
	m, err := NewSMTP(SMTPConfig{Addr: srv.ln.Addr().String(), From: "stich@example.com", Username: "stich", Password: "s3cret",
		StartTLS: true, TLS: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Send(ctxT(t), Message{To: "ann@example.com", Subject: "Verify", Body: "line one\nline two"}); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.got) != 1 || !srv.tlsd[0] {
		t.Fatalf("received %d messages (tls %v)", len(srv.got), srv.tlsd)
	}
	g := srv.got[0]
	if g.from != "stich@example.com" || g.to != "ann@example.com" || g.auth == "" ||
		!strings.Contains(g.data, "Subject: Verify\r\n") || !strings.Contains(g.data, "To: ann@example.com\r\n") ||
		!strings.Contains(g.data, "\r\n\r\nline one\r\nline two\r\n") {
		t.Fatalf("received %+v", g)
	}
}

// TestSMTPRefuses: a server without STARTTLS is refused when it is
// required, wrong credentials fail, and header injection never reaches a
// server.
func TestSMTPRefuses(t *testing.T) {
	plain := startSMTP(t, nil, "stich\x00s3cret")
	m, _ := NewSMTP(SMTPConfig{Addr: plain.ln.Addr().String(), From: "stich@example.com", StartTLS: true})
	if err := m.Send(ctxT(t), Message{To: "ann@example.com", Subject: "x"}); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("no STARTTLS: %v", err)
	}
	// A relay on loopback without TLS, with wrong credentials.
	bad, _ := NewSMTP(SMTPConfig{Addr: plain.ln.Addr().String(), From: "stich@example.com", Username: "stich", Password: "wrong"})
	if err := bad.Send(ctxT(t), Message{To: "ann@example.com", Subject: "x"}); err == nil {
		t.Fatal("wrong password accepted")
	}
	ok, _ := NewSMTP(SMTPConfig{Addr: plain.ln.Addr().String(), From: "stich@example.com"})
	for _, msg := range []Message{{To: "ann@example.com\r\nBcc: eve@example.com", Subject: "x"}, {To: "ann@example.com", Subject: "x\nBcc: eve@example.com"}, {}} {
		if err := ok.Send(ctxT(t), msg); !errors.Is(err, ErrBadMessage) {
			t.Errorf("%+v: %v", msg, err)
		}
	}
	if err := (Log{Logger: slog.New(slog.DiscardHandler)}).Send(ctxT(t), Message{To: "a\nb"}); !errors.Is(err, ErrBadMessage) {
		t.Errorf("log mailer: %v", err)
	}
	plain.mu.Lock()
	defer plain.mu.Unlock()
	if len(plain.got) != 0 {
		t.Fatalf("a refused message reached the server: %+v", plain.got)
	}
	if _, err := NewSMTP(SMTPConfig{Addr: "nohost", From: "x", Username: "u"}); err == nil || strings.Count(err.Error(), "\n") != 2 {
		t.Fatalf("validate: %v", err)
	}
}

// TestSMTPHonoursContext: a server that never answers does not hang Send.
func TestSMTPHonoursContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			<-done
			c.Close()
		}
	}()
	m, _ := NewSMTP(SMTPConfig{Addr: ln.Addr().String(), From: "stich@example.com"})
	// NB: the deadline passes while the client waits for the greeting.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := m.Send(ctx, Message{To: "ann@example.com"}); err == nil {
		t.Fatal("sent on a silent server")
	}
}
