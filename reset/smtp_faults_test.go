package reset_test

import (
	"bytes"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/internal/testfix/testsmtp"
	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store/sqlitestore"
)

// smtpFault is what the test SMTP server does to one delivery attempt.
type smtpFault int

const (
	deliver         smtpFault = iota
	reply451                  // "451 4.3.0 try again later" to RCPT TO
	reply550                  // "550 5.1.1 no such mailbox" to RCPT TO
	reply550Address           // "550 5.1.1 <recipient>: Recipient address rejected" to RCPT TO
	dropConn                  // reads the message, then closes the connection without a reply
)

// smtpServer is a real SMTP server (github.com/emersion/go-smtp) on a
// loopback port that answers the n-th delivery attempt (counted by MAIL
// FROM) as faults[n-1] says, and delivers every attempt past the list.
type smtpServer struct {
	Addr string

	mu        sync.Mutex
	faults    []smtpFault
	attempts  int
	delivered [][]byte
}

func startSMTP(t testing.TB, faults ...smtpFault) *smtpServer {
	t.Helper()
	s := &smtpServer{faults: faults}
	s.Addr = testsmtp.Serve(t, smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{srv: s, conn: c}, nil
	}), 10*time.Second)
	return s
}

// Attempts returns how many deliveries were attempted.
func (s *smtpServer) Attempts() int { s.mu.Lock(); defer s.mu.Unlock(); return s.attempts }

// Delivered returns the messages accepted, raw.
func (s *smtpServer) Delivered() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.delivered...)
}

// DeliveredWith returns how many accepted messages hold text once the
// quoted-printable soft line breaks are taken out (a token or a subject
// survives the encoding otherwise intact).
func (s *smtpServer) DeliveredWith(text string) int {
	n := 0
	for _, m := range s.Delivered() {
		if strings.Contains(strings.ReplaceAll(string(m), "=\r\n", ""), text) {
			n++
		}
	}
	return n
}

type smtpSession struct {
	srv   *smtpServer
	conn  *smtp.Conn
	fault smtpFault
}

func (s *smtpSession) AuthMechanisms() []string         { return nil }
func (s *smtpSession) Auth(string) (sasl.Server, error) { return nil, smtp.ErrAuthUnsupported }
func (s *smtpSession) Reset()                           {}
func (s *smtpSession) Logout() error                    { return nil }

func (s *smtpSession) Mail(string, *smtp.MailOptions) error {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	s.srv.attempts++
	s.fault = deliver
	if s.srv.attempts <= len(s.srv.faults) {
		s.fault = s.srv.faults[s.srv.attempts-1]
	}
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	switch s.fault {
	case reply550Address:
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
			Message: "<" + to + ">: Recipient address rejected: User unknown in virtual mailbox table"}
	case reply451:
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	case reply550:
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	}
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.fault == dropConn {
		s.conn.Conn().Close()
		return nil
	}
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	s.srv.delivered = append(s.srv.delivered, b)
	return nil
}

// openSQLite opens (and migrates) a SQLite store on path.
func openSQLite(t testing.TB, path string, opts ...sqlitestore.Option) *sqlitestore.Store {
	t.Helper()
	st, err := sqlitestore.Open(t.Context(), path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	require.NoError(t, st.Migrate(t.Context()))
	return st
}

// TestSMTPFaults sends the reset email through the real SMTP transport to
// a server that refuses or drops the first attempts. In every case
// CreatePasswordReset succeeds and the reset is stored intact; a 4xx reply
// or a dropped connection is retried by the dispatcher until the email is
// delivered, once; a 5xx reply fails the email at once, for good.
func TestSMTPFaults(t *testing.T) {
	for _, tc := range []struct {
		name      string
		faults    []smtpFault
		delivered bool
		attempts  int // attempts at the reset email in the end
	}{
		{"4xx", []smtpFault{reply451}, true, 2},
		{"4xx twice", []smtpFault{reply451, reply451}, true, 3},
		{"dropped connection", []smtpFault{dropConn}, true, 2},
		{"5xx", []smtpFault{reply550}, false, 1},
		{"4xx then 5xx", []smtpFault{reply451, reply550}, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startSMTP(t, tc.faults...)
			st := openSQLite(t, filepath.Join(t.TempDir(), "faults.db"))
			f := newFixture(t, func(c *reset.Config) {
				c.Store = st
				c.Mailer = &mail.SMTP{Addr: srv.Addr, TLSMode: mail.Insecure, Timeout: 5 * time.Second}
			})
			u := f.user(t, "ana@example.com")
			ctx := t.Context()

			pr, err := f.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ana@example.com"})
			require.NoError(t, err, "a mail failure never reaches the caller")
			require.Equal(t, 1, srv.Attempts(), "the first attempt is made at once")
			require.Zero(t, len(srv.Delivered()))
			stored, err := f.svc.GetPasswordReset(ctx, pr.ID)
			require.NoError(t, err)
			require.Equal(t, reset.PasswordReset{ID: pr.ID, UserID: u.ID, Email: u.Email, CreatedAt: pr.CreatedAt, ExpiresAt: pr.ExpiresAt}, stored)

			n, err := f.svc.DispatchOnce(ctx)
			require.NoError(t, err)
			require.Zero(t, n, "nothing is due before the backoff")

			// Ten rounds of the dispatcher, an hour apart: the email is
			// retried with backoff until delivered, and then never again.
			for range 10 {
				f.clock.Add(time.Hour)
				_, err := f.svc.DispatchOnce(ctx)
				require.NoError(t, err)
			}
			require.Equal(t, tc.attempts, srv.Attempts())
			if tc.delivered {
				require.Equal(t, 1, srv.DeliveredWith(pr.Token), "the reset email, with its link, delivered once")
			} else {
				require.Zero(t, len(srv.Delivered()))
				require.Contains(t, f.logs.String(), "outbox: giving up")
				require.Contains(t, f.logs.String(), "550")
			}

			// The reset is intact whatever became of its email. (Its token
			// expired during the rounds above: make a new one, as the user
			// would, and check the first is as it was.)
			stored, err = f.svc.GetPasswordReset(ctx, pr.ID)
			require.NoError(t, err)
			require.Equal(t, pr.ExpiresAt, stored.ExpiresAt)
			_, err = f.svc.CheckToken(ctx, pr.Token)
			require.ErrorIs(t, err, reset.ErrTokenExpired, "expired, not spent or ended")
			again := f.createReset(t, "ana@example.com")
			_, err = f.svc.ResetPassword(ctx, byLink(again))
			require.NoError(t, err)
			_, err = f.acct.Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: newPassphrase})
			require.NoError(t, err)
			require.Equal(t, 1, srv.DeliveredWith(again.Token))
			require.Equal(t, 1, srv.DeliveredWith("password was changed"))
			require.NotContains(t, f.logs.String(), pr.Token)
		})
	}
}

// TestSMTPFaultWithinTTL checks that a retried email arrives while its
// link still works, and that the link then resets the password.
func TestSMTPFaultWithinTTL(t *testing.T) {
	srv := startSMTP(t, dropConn, reply451)
	f := newFixture(t, func(c *reset.Config) {
		c.Store = openSQLite(t, filepath.Join(t.TempDir(), "ttl.db"))
		c.Mailer = &mail.SMTP{Addr: srv.Addr, TLSMode: mail.Insecure, Timeout: 5 * time.Second}
	})
	f.user(t, "ana@example.com")
	ctx := t.Context()
	pr := f.createReset(t, "ana@example.com")
	f.clock.Add(10 * time.Second) // the first backoff
	n, err := f.svc.DispatchOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Zero(t, len(srv.Delivered()), "451 on the second attempt")
	f.clock.Add(20 * time.Second) // the second backoff, doubled
	n, err = f.svc.DispatchOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, 1, srv.DeliveredWith(pr.Token))
	_, err = f.svc.ResetPassword(ctx, byLink(pr))
	require.NoError(t, err)
	require.True(t, bytes.Contains(srv.Delivered()[1], []byte("password was changed")))
}

// TestSMTPServerDown checks that an email whose server cannot be reached
// (connection refused) is retried, not failed as if the server had
// refused it.
func TestSMTPServerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	down := ln.Addr().String()
	require.NoError(t, ln.Close())
	transport := &mail.SMTP{Addr: down, TLSMode: mail.Insecure, Timeout: 5 * time.Second}
	f := newFixture(t, func(c *reset.Config) {
		c.Store = openSQLite(t, filepath.Join(t.TempDir(), "down.db"))
		c.Mailer = transport
	})
	f.user(t, "ana@example.com")
	ctx := t.Context()
	pr := f.createReset(t, "ana@example.com")
	require.Contains(t, f.logs.String(), "will retry")

	srv := startSMTP(t)
	transport.Addr = srv.Addr // the server is back (nothing sends meanwhile)
	f.clock.Add(10 * time.Second)
	n, err := f.svc.DispatchOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, 1, srv.DeliveredWith(pr.Token))
}
