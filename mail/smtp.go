package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"slices"
	"strings"
	"time"
)

// TLSMode says how an [SMTP] transport protects its connection.
type TLSMode int

const (
	// StartTLS connects in plain text and upgrades the connection with
	// STARTTLS before anything else is sent; a server that does not offer
	// STARTTLS is an error. It is the zero value, and the usual mode for
	// port 587.
	StartTLS TLSMode = iota

	// ImplicitTLS speaks TLS from the first byte, as on port 465.
	ImplicitTLS

	// Insecure never uses TLS. It is meant for a development server on
	// the local machine, such as Mailpit; credentials are only sent to
	// localhost in this mode.
	Insecure
)

// String returns the name of the mode's constant.
func (m TLSMode) String() string {
	switch m {
	case StartTLS:
		return "StartTLS"
	case ImplicitTLS:
		return "ImplicitTLS"
	case Insecure:
		return "Insecure"
	}
	return fmt.Sprintf("TLSMode(%d)", int(m))
}

// DefaultTimeout is the time an [SMTP] transport with a zero Timeout allows
// for sending one message, from dialling to the server's reply to it.
const DefaultTimeout = 30 * time.Second

// SMTP is a transport that sends each message over a new connection to an
// SMTP server (a submission server, such as a provider's smtp.example.com
// on port 587). The zero values of its fields, other than Addr, select the
// documented defaults. An SMTP is safe for concurrent use as long as its
// fields are not changed.
type SMTP struct {
	// Addr is the server's "host:port". It is required. The host is also
	// the name the server's certificate is checked against, unless
	// TLSConfig sets ServerName.
	Addr string

	// Username and Password are the credentials for AUTH PLAIN. When
	// Username is empty, the transport does not authenticate. They are
	// only sent over TLS or, in Insecure mode, to localhost.
	Username string
	Password string

	// TLSMode says how the connection is protected. The zero value is
	// StartTLS.
	TLSMode TLSMode

	// TLSConfig, if not nil, is used for TLS (custom root certificates,
	// a client certificate). When its ServerName is empty, the host of
	// Addr is used. Nil means the system's roots.
	TLSConfig *tls.Config

	// Timeout bounds the sending of one message, from dialling to the
	// server's reply to it; it is set as the connection's deadline. Zero
	// means DefaultTimeout. A context with an earlier deadline wins.
	Timeout time.Duration

	// LocalName is the host name sent with EHLO. Empty means "localhost".
	LocalName string
}

// SMTPError is a reply from an SMTP server that refused a command. Send
// returns it wrapped; match it with errors.As. One with a 5xx code is a
// permanent failure, which errors.Is(err, [ErrPermanent]) reports.
//
// It keeps the reply's code and enhanced status code, never its text:
// servers often write the recipient's address there ("550 5.1.1
// <ana@example.com>: no such user"), and the error ends up in logs and in
// the outbox, which must not hold addresses once a message is dropped.
type SMTPError struct {
	// Code is the reply code, such as 451 or 550.
	Code int

	// Enhanced is the enhanced status code the reply's text began with
	// (RFC 3463), such as "5.1.1", or "" when it had none.
	Enhanced string
}

// Error returns "smtp", the code, its class (temporary for 4xx, permanent
// for 5xx) and the enhanced status code, if any: "smtp 550 permanent
// (5.1.1)". Never the reply's text.
func (e *SMTPError) Error() string {
	class := "unexpected"
	switch {
	case e.Temporary():
		class = "temporary"
	case e.Code >= 500 && e.Code < 600:
		class = "permanent"
	}
	s := fmt.Sprintf("smtp %d %s", e.Code, class)
	if e.Enhanced != "" {
		s += " (" + e.Enhanced + ")"
	}
	return s
}

// enhancedCode returns the enhanced status code ("5.1.1") msg begins
// with, or "": a class digit 2, 4 or 5, then two numbers of up to three
// digits, each after a dot, then a space or the end.
func enhancedCode(msg string) string {
	code, _, _ := strings.Cut(msg, " ")
	parts := strings.Split(code, ".")
	if len(parts) != 3 || len(parts[0]) != 1 || !strings.Contains("245", parts[0]) {
		return ""
	}
	for _, p := range parts[1:] {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return ""
		}
	}
	return code
}

// Temporary reports whether the reply is a transient failure (a 4xx code):
// sending the message later may succeed. A 5xx reply is permanent.
func (e *SMTPError) Temporary() bool {
	return e.Code >= 400 && e.Code < 500
}

// Is reports whether target is [ErrPermanent] and the reply is a permanent
// failure (a 5xx code), so that errors.Is(err, ErrPermanent) holds for an
// error that wraps such a reply.
func (e *SMTPError) Is(target error) bool {
	return target == ErrPermanent && e.Code >= 500 && e.Code < 600
}

// Send delivers m to the server at s.Addr over a new connection, and
// returns once the server has accepted the message or failed.
//
// An error that is a refusal by the server wraps an [*SMTPError]; a
// permanent refusal (5xx) also matches [ErrPermanent]. When ctx is done or
// the Timeout passes first, Send closes the connection and returns an
// error that wraps context.Canceled or context.DeadlineExceeded. An invalid message is an error that wraps
// [ErrInvalidMessage], and nothing is sent. Errors never hold the body of
// the message or the password.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	from, to, err := m.addresses()
	if err != nil {
		return err
	}
	data, err := m.Bytes()
	if err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("mail: SMTP address %q: %w", s.Addr, err)
	}
	switch s.TLSMode {
	case StartTLS, ImplicitTLS:
	case Insecure:
		if s.Username != "" && !isLocalhost(host) {
			return fmt.Errorf("mail: SMTP credentials are only sent over TLS or to localhost, not to %s", host)
		}
	default:
		return fmt.Errorf("mail: unknown SMTP %v", s.TLSMode)
	}

	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout,
		fmt.Errorf("SMTP timeout of %v exceeded: %w", timeout, context.DeadlineExceeded))
	defer cancel()

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return fail(ctx, "dial", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	if err := conn.SetDeadline(deadline(ctx)); err != nil {
		stop()
		conn.Close()
		return fail(ctx, "dial", err)
	}
	c, err := s.send(ctx, conn, host, from.Address, to.Address, data)
	stop()
	if err != nil {
		conn.Close()
		return err
	}
	// The server has accepted the message. QUIT cannot undo that, so it is
	// said after Send returns, given a second at most: the caller records
	// the delivery at once, and a crash in the meantime, which would send
	// the message again, has the narrowest window to strike.
	conn.SetDeadline(time.Now().Add(time.Second))
	go func() {
		c.Quit() // closes conn, answered or not
		conn.Close()
	}()
	return nil
}

// send holds the SMTP conversation over conn up to the server's acceptance
// of the message, and returns the client for the QUIT. On an error the
// caller closes conn.
func (s *SMTP) send(ctx context.Context, conn net.Conn, host, from, to string, data []byte) (*smtp.Client, error) {
	if s.TLSMode == ImplicitTLS {
		tc := tls.Client(conn, s.tlsConfig(host))
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fail(ctx, "TLS handshake", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return nil, fail(ctx, "greeting", err)
	}
	localName := s.LocalName
	if localName == "" {
		localName = "localhost"
	}
	if err := c.Hello(localName); err != nil {
		return nil, fail(ctx, "EHLO", err)
	}
	if s.TLSMode == StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return nil, fmt.Errorf("mail: SMTP server %s does not offer STARTTLS, which TLSMode StartTLS requires", s.Addr)
		}
		if err := c.StartTLS(s.tlsConfig(host)); err != nil {
			return nil, fail(ctx, "STARTTLS", err)
		}
	}
	if s.Username != "" {
		ok, mechs := c.Extension("AUTH")
		if !ok || !slices.Contains(strings.Fields(strings.ToUpper(mechs)), "PLAIN") {
			return nil, fmt.Errorf("mail: SMTP server %s does not offer AUTH PLAIN", s.Addr)
		}
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return nil, fail(ctx, "AUTH", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return nil, fail(ctx, "MAIL FROM", err)
	}
	if err := c.Rcpt(to); err != nil {
		return nil, fail(ctx, "RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return nil, fail(ctx, "DATA", err)
	}
	if _, err := w.Write(data); err != nil {
		return nil, fail(ctx, "DATA", err)
	}
	if err := w.Close(); err != nil { // reads the reply to the message
		return nil, fail(ctx, "DATA", err)
	}
	return c, nil
}

func (s *SMTP) tlsConfig(host string) *tls.Config {
	cfg := &tls.Config{}
	if s.TLSConfig != nil {
		cfg = s.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	return cfg
}

// fail describes err, which happened at step of the conversation: a
// server's reply becomes an *SMTPError, and an error caused by the end of
// ctx wraps the reason for it.
func fail(ctx context.Context, step string, err error) error {
	if tpErr, ok := errors.AsType[*textproto.Error](err); ok {
		return fmt.Errorf("mail: SMTP %s: %w", step, &SMTPError{Code: tpErr.Code, Enhanced: enhancedCode(tpErr.Msg)})
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The connection's deadline is ctx's: ctx is done, or about to be.
		<-ctx.Done()
	}
	if ctx.Err() != nil {
		cause := context.Cause(ctx)
		if !errors.Is(cause, ctx.Err()) {
			cause = fmt.Errorf("%w: %w", ctx.Err(), cause)
		}
		return fmt.Errorf("mail: SMTP %s: %w", step, cause)
	}
	return fmt.Errorf("mail: SMTP %s: %w", step, err)
}

// deadline returns the deadline of ctx, which Send always gives one.
func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// isLocalhost reports whether host names this machine, as net/smtp's
// PlainAuth understands it.
func isLocalhost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}
