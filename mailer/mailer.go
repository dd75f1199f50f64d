// Package mailer sends the few e-mails stich writes (verification and
// password-reset links, sign-up notices): [Log] writes them to a logger
// (the default: a node with no mail server still works, and its operator
// finds the links in the log), [SMTP] hands them to a mail server.
//
// Senders are safe for concurrent use. A message's To and Subject are
// checked for line breaks (header injection) before anything is sent.
// It must not import rpc, actors or cluster.
package mailer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/smtp"
	"strings"
	"time"
)

// Message is one plain-text e-mail.
type Message struct {
	To      string
	Subject string
	Body    string
}

// Mailer sends messages. Send may block on the network; it honours ctx.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// ErrBadMessage is returned for a message with a line break in To or
// Subject, or no recipient.
var ErrBadMessage = errors.New("mailer: bad message")

func (m Message) check() error {
	if m.To == "" || strings.ContainsAny(m.To+m.Subject, "\r\n") {
		return ErrBadMessage
	}
	return nil
}

// Log "sends" messages by logging them whole at info level, with the
// attribute mail=outgoing (links in them are secrets: the log is the
// mailbox of a node without a mail server).
type Log struct{ Logger *slog.Logger }

// Send logs m.
func (l Log) Send(ctx context.Context, m Message) error {
	if err := m.check(); err != nil {
		return err
	}
	l.Logger.InfoContext(ctx, "e-mail (log-only mailer: set --smtp-addr to send it)", "mail", "outgoing",
		"to", m.To, "subject", m.Subject, "body", m.Body)
	return nil
}

// SMTPConfig configures [SMTP].
type SMTPConfig struct {
	// Addr is the server's host:port (587 for submission with STARTTLS).
	Addr string
	// From is the sender address.
	From string
	// Username and Password, if set, authenticate with PLAIN (only over
	// TLS, or to a loopback server).
	Username, Password string
	// StartTLS requires STARTTLS (default on); off only for a relay on
	// loopback or a trusted network.
	StartTLS bool
	// TLS overrides the TLS client config (tests); nil uses the system's
	// roots and Addr's host name.
	TLS *tls.Config
	// Timeout bounds one message's delivery when ctx has no deadline
	// (default 30 s).
	Timeout time.Duration
}

// Validate reports every problem of c at once.
func (c SMTPConfig) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("SMTP address %q: want host:port", c.Addr))
	}
	if c.From == "" || strings.ContainsAny(c.From, "\r\n<> ") || !strings.Contains(c.From, "@") {
		errs = append(errs, fmt.Errorf("SMTP sender %q: want an address", c.From))
	}
	if (c.Username == "") != (c.Password == "") {
		errs = append(errs, errors.New("SMTP user and password go together"))
	}
	return errors.Join(errs...)
}

// SMTP sends each message in its own connection to a mail server.
type SMTP struct{ cfg SMTPConfig }

// NewSMTP checks cfg and returns a sender.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &SMTP{cfg: cfg}, nil
}

// Send delivers m.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if err := m.check(); err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.Timeout)
		defer cancel()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("mailer: dial %s: %w", s.cfg.Addr, err)
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	conn.SetDeadline(dl)
	// NB: closing the connection when ctx ends unblocks any step below.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	host, _, _ := net.SplitHostPort(s.cfg.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("mailer: greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello("stich"); err != nil {
		return fmt.Errorf("mailer: hello: %w", err)
	}
	if s.cfg.StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("mailer: the server does not offer STARTTLS (set --smtp-starttls=false only for a trusted relay)")
		}
		tc := s.cfg.TLS
		if tc == nil {
			tc = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		if err := c.StartTLS(tc); err != nil {
			return fmt.Errorf("mailer: starttls: %w", err)
		}
	}
	if s.cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, host)); err != nil {
			return fmt.Errorf("mailer: auth: %w", err)
		}
	}
	if err := c.Mail(s.cfg.From); err != nil {
		return fmt.Errorf("mailer: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return fmt.Errorf("mailer: RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("mailer: DATA: %w", err)
	}
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
	msg := "From: " + s.cfg.From + "\r\nTo: " + m.To + "\r\nSubject: " + m.Subject +
		"\r\nDate: " + time.Now().UTC().Format(time.RFC1123Z) +
		"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body + "\r\n"
	if _, err := w.Write([]byte(msg)); err != nil {
		return fmt.Errorf("mailer: write: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mailer: end of data: %w", err)
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("mailer: quit: %w", err)
	}
	return nil
}
