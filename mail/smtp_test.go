package mail_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/mail"
)

func TestSMTPInsecureLocalhost(t *testing.T) {
	srv := startServer(t, serverOptions{})
	s := &mail.SMTP{Addr: srv.Addr, TLSMode: mail.Insecure}

	m := testMessage()
	require.NoError(t, s.Send(t.Context(), m))

	msgs := srv.Messages()
	require.Len(t, msgs, 1)
	got := msgs[0]
	require.Equal(t, "noreply@app.example", got.From, "envelope sender")
	require.Equal(t, "marcelina.davis@example.com", got.To, "envelope recipient")
	require.False(t, got.TLS)

	p := parseMessage(t, got.Data)
	require.Equal(t, m.Subject, p.Subject)
	require.Equal(t, m.Text, p.Text)
	require.Equal(t, m.HTML, p.HTML)
	from, err := p.Header.AddressList("From")
	require.NoError(t, err)
	require.Equal(t, "Example App", from[0].Name)
	require.Equal(t, "noreply@app.example", from[0].Address)
	to, err := p.Header.AddressList("To")
	require.NoError(t, err)
	require.Equal(t, "marcelina.davis@example.com", to[0].Address)
	date, err := p.Header.Date()
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), date, time.Minute)
	require.Regexp(t, `^<[^@<>\s]+@app\.example>$`, p.Header.Get("Message-ID"))
}

func TestSMTPStartTLS(t *testing.T) {
	serverTLS, roots := newCert(t)
	srv := startServer(t, serverOptions{startTLS: serverTLS})

	t.Run("trusted", func(t *testing.T) {
		s := &mail.SMTP{Addr: srv.Addr, TLSConfig: &tls.Config{RootCAs: roots}}
		require.NoError(t, s.Send(t.Context(), testMessage()))
		msgs := srv.Messages()
		require.Len(t, msgs, 1)
		require.True(t, msgs[0].TLS, "message sent after STARTTLS")
	})

	t.Run("untrusted certificate", func(t *testing.T) {
		before := len(srv.Messages())
		s := &mail.SMTP{Addr: srv.Addr} // system roots do not hold the test certificate
		err := s.Send(t.Context(), testMessage())
		require.ErrorContains(t, err, "STARTTLS")
		_, isReply := errors.AsType[*mail.SMTPError](err)
		require.False(t, isReply)
		require.Len(t, srv.Messages(), before)
	})
}

func TestSMTPStartTLSRequired(t *testing.T) {
	srv := startServer(t, serverOptions{}) // offers no STARTTLS
	s := &mail.SMTP{Addr: srv.Addr}        // StartTLS is the default
	err := s.Send(t.Context(), testMessage())
	require.ErrorContains(t, err, "does not offer STARTTLS")
	require.Empty(t, srv.Messages())
}

func TestSMTPImplicitTLS(t *testing.T) {
	serverTLS, roots := newCert(t)
	srv := startServer(t, serverOptions{implicitTLS: serverTLS})
	s := &mail.SMTP{Addr: srv.Addr, TLSMode: mail.ImplicitTLS, TLSConfig: &tls.Config{RootCAs: roots}}

	m := testMessage()
	require.NoError(t, s.Send(t.Context(), m))
	msgs := srv.Messages()
	require.Len(t, msgs, 1)
	require.True(t, msgs[0].TLS)
	require.Equal(t, m.Text, parseMessage(t, msgs[0].Data).Text)
}

func TestSMTPAuth(t *testing.T) {
	const password = "correct horse battery staple"
	serverTLS, roots := newCert(t)
	srv := startServer(t, serverOptions{startTLS: serverTLS, username: "app", password: password})

	t.Run("accepted", func(t *testing.T) {
		s := &mail.SMTP{Addr: srv.Addr, Username: "app", Password: password, TLSConfig: &tls.Config{RootCAs: roots}}
		require.NoError(t, s.Send(t.Context(), testMessage()))
		msgs := srv.Messages()
		require.Len(t, msgs, 1)
		require.Equal(t, "app", msgs[0].User)
	})

	t.Run("wrong password", func(t *testing.T) {
		const wrong = "wrong-password-1234"
		s := &mail.SMTP{Addr: srv.Addr, Username: "app", Password: wrong, TLSConfig: &tls.Config{RootCAs: roots}}
		err := s.Send(t.Context(), testMessage())
		smtpErr, ok := errors.AsType[*mail.SMTPError](err)
		require.True(t, ok, "got %v", err)
		require.Equal(t, 535, smtpErr.Code)
		require.False(t, smtpErr.Temporary())
		require.ErrorIs(t, err, mail.ErrPermanent)
		require.NotContains(t, err.Error(), wrong)
		require.NotContains(t, err.Error(), "token=")
		require.Len(t, srv.Messages(), 1)
	})

	t.Run("no credentials", func(t *testing.T) {
		s := &mail.SMTP{Addr: srv.Addr, TLSConfig: &tls.Config{RootCAs: roots}}
		err := s.Send(t.Context(), testMessage())
		smtpErr, ok := errors.AsType[*mail.SMTPError](err)
		require.True(t, ok, "got %v", err)
		require.False(t, smtpErr.Temporary())
		require.ErrorContains(t, err, "MAIL FROM")
	})
}

func TestSMTPAuthPlaintextOnlyToLocalhost(t *testing.T) {
	t.Run("localhost", func(t *testing.T) {
		srv := startServer(t, serverOptions{username: "app", password: "pw", allowInsecureAuth: true})
		s := &mail.SMTP{Addr: srv.Addr, TLSMode: mail.Insecure, Username: "app", Password: "pw"}
		require.NoError(t, s.Send(t.Context(), testMessage()))
		require.Equal(t, "app", srv.Messages()[0].User)
	})

	t.Run("remote host", func(t *testing.T) {
		// Refused before dialling: nothing listens there.
		s := &mail.SMTP{Addr: "mail.invalid:25", TLSMode: mail.Insecure, Username: "app", Password: "secret-pw"}
		err := s.Send(t.Context(), testMessage())
		require.ErrorContains(t, err, "only sent over TLS or to localhost")
		require.NotContains(t, err.Error(), "secret-pw")
	})

	t.Run("server without AUTH", func(t *testing.T) {
		srv := startServer(t, serverOptions{})
		s := &mail.SMTP{Addr: srv.Addr, TLSMode: mail.Insecure, Username: "app", Password: "pw"}
		require.ErrorContains(t, s.Send(t.Context(), testMessage()), "does not offer AUTH PLAIN")
		require.Empty(t, srv.Messages())
	})
}

func TestSMTPReplies(t *testing.T) {
	tests := []struct {
		name      string
		opts      serverOptions
		code      int
		enhanced  string
		temporary bool
		step      string
	}{
		{
			name: "RCPT 451",
			opts: serverOptions{rcpt: func(string) error {
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
			}},
			code:      451,
			temporary: true,
			step:      "RCPT TO",
		},
		{
			name: "RCPT 550",
			opts: serverOptions{rcpt: func(string) error {
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<marcelina.davis@example.com>: no such user"}
			}},
			code:     550,
			enhanced: "5.1.1",
			step:     "RCPT TO",
		},
		{
			name: "RCPT 550 without an enhanced code",
			opts: serverOptions{rcpt: func(string) error {
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.NoEnhancedCode, Message: "marcelina.davis@example.com unknown"}
			}},
			code: 550,
			step: "RCPT TO",
		},
		{
			name: "MAIL 553",
			opts: serverOptions{mail: func(*smtp.Conn, string) error {
				return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "sender not allowed"}
			}},
			code: 553,
			step: "MAIL FROM",
		},
		{
			name: "DATA 452",
			opts: serverOptions{data: func(_ *smtp.Conn, r io.Reader) error {
				io.Copy(io.Discard, r)
				return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "mailbox full"}
			}},
			code:      452,
			temporary: true,
			step:      "DATA",
		},
		{
			name: "DATA 554",
			opts: serverOptions{data: func(_ *smtp.Conn, r io.Reader) error {
				io.Copy(io.Discard, r)
				return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "rejected as spam"}
			}},
			code: 554,
			step: "DATA",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, tt.opts)
			s := &mail.SMTP{Addr: srv.Addr, TLSMode: mail.Insecure}
			err := s.Send(t.Context(), testMessage())
			var smtpErr *mail.SMTPError
			require.ErrorAs(t, err, &smtpErr)
			require.Equal(t, tt.code, smtpErr.Code)
			require.Equal(t, tt.temporary, smtpErr.Temporary())
			require.Equal(t, !tt.temporary, errors.Is(err, mail.ErrPermanent), "a 5xx reply, and only one, is permanent")
			require.ErrorContains(t, err, tt.step)
			require.NotContains(t, err.Error(), "token=", "the body stays out of errors")
			// The reply's text, which may name the recipient, stays out
			// too: the code, its class and the enhanced code only.
			require.NotContains(t, err.Error(), "marcelina")
			require.NotContains(t, err.Error(), "example.com")
			if tt.enhanced != "" {
				require.Equal(t, tt.enhanced, smtpErr.Enhanced)
				require.ErrorContains(t, err, fmt.Sprintf("smtp %d permanent (%s)", tt.code, tt.enhanced))
			}
		})
	}
}

// listenSilent accepts connections and never says a word, as a server that
// has hung does.
func listenSilent(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return ln.Addr().String()
}

func TestSMTPTimeout(t *testing.T) {
	s := &mail.SMTP{Addr: listenSilent(t), TLSMode: mail.Insecure, Timeout: 200 * time.Millisecond}
	start := time.Now()
	err := s.Send(t.Context(), testMessage())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "SMTP timeout of 200ms exceeded")
	require.NotErrorIs(t, err, mail.ErrPermanent, "a timeout is worth retrying")
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestSMTPContextDeadline(t *testing.T) {
	s := &mail.SMTP{Addr: listenSilent(t), TLSMode: mail.Insecure} // the default timeout is far off
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Send(ctx, testMessage())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestSMTPContextCanceled(t *testing.T) {
	// The server answers until RCPT TO, then hangs.
	release := make(chan struct{})
	srv := startServer(t, serverOptions{rcpt: func(string) error {
		<-release
		return nil
	}})
	t.Cleanup(func() { close(release) }) // runs before the server closes

	t.Run("mid-conversation", func(t *testing.T) {
		s := &mail.SMTP{Addr: srv.Addr, TLSMode: mail.Insecure}
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(200*time.Millisecond, cancel)
		start := time.Now()
		err := s.Send(ctx, testMessage())
		require.ErrorIs(t, err, context.Canceled)
		require.ErrorContains(t, err, "RCPT TO")
		require.Less(t, time.Since(start), 5*time.Second)
	})

	t.Run("before dialling", func(t *testing.T) {
		s := &mail.SMTP{Addr: srv.Addr, TLSMode: mail.Insecure}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		require.ErrorIs(t, s.Send(ctx, testMessage()), context.Canceled)
	})
}

func TestSMTPConnectionDroppedMidData(t *testing.T) {
	srv := startServer(t, serverOptions{data: func(c *smtp.Conn, r io.Reader) error {
		io.CopyN(io.Discard, r, 1024)
		c.Conn().Close()
		return nil
	}})
	s := &mail.SMTP{Addr: srv.Addr, TLSMode: mail.Insecure}
	m := testMessage()
	m.Text = strings.Repeat("a long body that is still being written\n", 10000)
	err := s.Send(t.Context(), m)
	require.Error(t, err)
	require.ErrorContains(t, err, "DATA")
	_, isReply := errors.AsType[*mail.SMTPError](err)
	require.False(t, isReply, "got %v", err)
	require.NotErrorIs(t, err, mail.ErrPermanent, "a dropped connection is worth retrying")
	require.NotErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, context.DeadlineExceeded)
}

func TestSMTPInvalidMessageNotSent(t *testing.T) {
	srv := startServer(t, serverOptions{})
	s := &mail.SMTP{Addr: srv.Addr, TLSMode: mail.Insecure}
	for name, m := range map[string]mail.Message{
		"subject":      {From: "a@example.com", To: "b@example.com", Subject: "Hi\r\nBcc: victim@example.com", Text: "x"},
		"to":           {From: "a@example.com", To: "b@example.com\r\nBcc: victim@example.com", Text: "x"},
		"header value": {From: "a@example.com", To: "b@example.com", Text: "x", Headers: map[string]string{"X-Tag": "a\nBcc: victim@example.com"}},
	} {
		t.Run(name, func(t *testing.T) {
			require.ErrorIs(t, s.Send(t.Context(), m), mail.ErrInvalidMessage)
		})
	}
	require.Zero(t, srv.Sessions(), "no connection is made for an invalid message")
}

func TestSMTPConfigErrors(t *testing.T) {
	for name, s := range map[string]*mail.SMTP{
		"no address":   {},
		"no port":      {Addr: "127.0.0.1"},
		"unknown mode": {Addr: "127.0.0.1:25", TLSMode: mail.TLSMode(42)},
	} {
		t.Run(name, func(t *testing.T) {
			require.Error(t, s.Send(t.Context(), testMessage()))
		})
	}
}

func TestSMTPErrorTemporary(t *testing.T) {
	require.True(t, (&mail.SMTPError{Code: 421}).Temporary())
	require.True(t, (&mail.SMTPError{Code: 450}).Temporary())
	require.False(t, (&mail.SMTPError{Code: 500}).Temporary())
	require.False(t, (&mail.SMTPError{Code: 550}).Temporary())
	require.Equal(t, "smtp 550 permanent (5.1.1)", (&mail.SMTPError{Code: 550, Enhanced: "5.1.1"}).Error())
	require.Equal(t, "smtp 421 temporary", (&mail.SMTPError{Code: 421}).Error())
}

// TestSMTPErrorPermanent checks that a wrapped 5xx reply, and no other,
// matches ErrPermanent, and that nothing else matches through it.
func TestSMTPErrorPermanent(t *testing.T) {
	for code, permanent := range map[int]bool{250: false, 354: false, 421: false, 451: false, 500: true, 535: true, 550: true, 554: true} {
		err := fmt.Errorf("mail: SMTP RCPT TO: %w", &mail.SMTPError{Code: code})
		require.Equal(t, permanent, errors.Is(err, mail.ErrPermanent), "%d", code)
	}
	reply := &mail.SMTPError{Code: 550}
	require.NotErrorIs(t, reply, mail.ErrInvalidMessage)
	require.NotErrorIs(t, reply, context.DeadlineExceeded)
	require.False(t, reply.Is(errors.New("mail: permanent failure")), "matched by identity, not by text")
}

func TestTLSModeString(t *testing.T) {
	require.Equal(t, "StartTLS", mail.StartTLS.String())
	require.Equal(t, "ImplicitTLS", mail.ImplicitTLS.String())
	require.Equal(t, "Insecure", mail.Insecure.String())
	require.Equal(t, "TLSMode(9)", mail.TLSMode(9).String())
}

// TestSMTPQuitHangs checks that a message the server has accepted is
// reported as sent, promptly, even when the server never answers QUIT: a
// failure would make the caller send it twice.
func TestSMTPQuitHangs(t *testing.T) {
	addr := quitServer(t, func(*textproto.Conn) { <-t.Context().Done() }) // never answers
	s := &mail.SMTP{Addr: addr, TLSMode: mail.Insecure}
	start := time.Now()
	require.NoError(t, s.Send(t.Context(), testMessage()))
	require.Less(t, time.Since(start), 5*time.Second)
}

// quitServer is a minimal SMTP server on loopback that accepts every
// message and handles QUIT with quit, which gets the connection's
// textproto.Conn.
func quitServer(tb testing.TB, quit func(tp *textproto.Conn)) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tp := textproto.NewConn(c)
				tp.PrintfLine("220 localhost ESMTP")
				for {
					line, err := tp.ReadLine()
					if err != nil {
						return
					}
					switch verb, _, _ := strings.Cut(line, " "); strings.ToUpper(verb) {
					case "EHLO":
						tp.PrintfLine("250 localhost")
					case "DATA":
						tp.PrintfLine("354 go ahead")
						tp.ReadDotBytes()
						tp.PrintfLine("250 queued")
					case "QUIT":
						quit(tp)
						return
					default:
						tp.PrintfLine("250 ok")
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestSMTPQuitAfterSend: Send returns once the server has accepted the
// message, and the QUIT still follows.
func TestSMTPQuitAfterSend(t *testing.T) {
	quits := make(chan struct{}, 1)
	addr := quitServer(t, func(tp *textproto.Conn) {
		tp.PrintfLine("221 bye")
		quits <- struct{}{}
	})
	s := &mail.SMTP{Addr: addr, TLSMode: mail.Insecure}
	require.NoError(t, s.Send(t.Context(), testMessage()))
	select {
	case <-quits:
	case <-t.Context().Done():
		t.Fatal("the server never got a QUIT")
	}
}

// BenchmarkSMTPSendSlowQuit sends to a server on loopback that takes 20 ms
// to answer QUIT, as a distant one would: Send returns at the server's
// acceptance of the message, not after the QUIT's round trip, so that an
// outbox records the delivery sooner and a crash has less time to make it
// send the message twice.
//
//	go test ./mail -run '^$' -bench SMTPSendSlowQuit
func BenchmarkSMTPSendSlowQuit(b *testing.B) {
	addr := quitServer(b, func(tp *textproto.Conn) {
		time.Sleep(20 * time.Millisecond)
		tp.PrintfLine("221 bye")
	})
	s := &mail.SMTP{Addr: addr, TLSMode: mail.Insecure}
	m := testMessage()
	for b.Loop() {
		if err := s.Send(b.Context(), m); err != nil {
			b.Fatal(err)
		}
	}
}
