package reset_test

import (
	"bytes"
	"database/sql"
	"fmt"
	netmail "net/mail"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/mail/mailtest"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store/sqlitestore"
)

// TestSMTPReplyTextNotKept: a real SMTP server refuses the reset email
// with a 550 whose text quotes the recipient's address, as Postfix does.
// The outbox gives the email up and drops its payload; neither the row it
// keeps nor any line logged holds the address, only the reply's code and
// class.
func TestSMTPReplyTextNotKept(t *testing.T) {
	srv := startSMTP(t, reply550Address)
	path := filepath.Join(t.TempDir(), "replies.db")
	st := openSQLite(t, path)
	f := newFixture(t, func(c *reset.Config) {
		c.Store = st
		c.Mailer = &mail.SMTP{Addr: srv.Addr, TLSMode: mail.Insecure, Timeout: 5 * time.Second}
	})
	const email = "marcelina.davis@example.com"
	f.user(t, email)
	f.createReset(t, email)
	require.Equal(t, 1, srv.Attempts())

	db, err := sql.Open("sqlite3", sqlitestore.DSN(path))
	require.NoError(t, err)
	defer db.Close()
	var failed bool
	var lastError string
	var payload []byte
	require.NoError(t, db.QueryRowContext(t.Context(),
		`SELECT failed_at IS NOT NULL, last_error, coalesce(payload, x'') FROM passreset_jobs WHERE kind = 'email'`).Scan(&failed, &lastError, &payload))
	require.True(t, failed, "given up at once: a 5xx")
	require.Empty(t, payload, "the payload is dropped")
	require.Contains(t, lastError, "smtp 550 permanent (5.1.1)")
	require.NotContains(t, lastError, "marcelina")
	require.NotContains(t, lastError, "Recipient address rejected")

	logs := f.logs.String()
	require.Contains(t, logs, "outbox: giving up")
	require.Contains(t, logs, "smtp 550 permanent")
	require.NotContains(t, logs, "marcelina")
}

// TestMailDateAndAutoSubmitted: every email the Service sends carries a
// Date in UTC that is the Service's clock (not the machine's), and
// "Auto-Submitted: auto-generated".
func TestMailDateAndAutoSubmitted(t *testing.T) {
	srv := startSMTP(t)
	f := newFixture(t, func(c *reset.Config) {
		c.Store = openSQLite(t, filepath.Join(t.TempDir(), "date.db"))
		c.Mailer = &mail.SMTP{Addr: srv.Addr, TLSMode: mail.Insecure, Timeout: 5 * time.Second}
	})
	f.user(t, "ana@example.com")
	tokyo := time.FixedZone("JST", 9*3600)
	f.clock.Set(time.Date(2026, 3, 2, 9, 30, 5, 0, tokyo))
	pr := f.createReset(t, "ana@example.com")
	f.clock.Add(time.Minute)
	_, err := f.svc.ResetPassword(t.Context(), byLink(pr))
	require.NoError(t, err)

	delivered := srv.Delivered()
	require.Len(t, delivered, 2, "the reset email and the password-changed notice")
	for i, want := range []string{"Mon, 02 Mar 2026 00:30:05 +0000", "Mon, 02 Mar 2026 00:31:05 +0000"} {
		m, err := netmail.ReadMessage(bytes.NewReader(delivered[i]))
		require.NoError(t, err)
		require.Equal(t, want, m.Header.Get("Date"))
		require.Equal(t, "auto-generated", m.Header.Get("Auto-Submitted"))
	}
}

// TestMailerErrorAddressNotKept: a Mailer other than mail.SMTP (an email
// API's client, say) may quote the address in its error; the outbox row
// and the log keep the error with the address taken out.
func TestMailerErrorAddressNotKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.db")
	rec := &mailtest.Recorder{FailWith: func(m mail.Message) error {
		return fmt.Errorf("emailapi: %q (%s) bounced: %w", m.To, "Marcelina <"+m.To+">", mail.ErrPermanent)
	}}
	f := newFixture(t, func(c *reset.Config) {
		c.Store = openSQLite(t, path)
		c.Mailer = rec
	})
	const email = "marcelina.davis@example.com"
	f.user(t, email)
	f.createReset(t, email)

	db, err := sql.Open("sqlite3", sqlitestore.DSN(path))
	require.NoError(t, err)
	defer db.Close()
	var lastError string
	require.NoError(t, db.QueryRowContext(t.Context(), `SELECT last_error FROM passreset_jobs WHERE kind = 'email'`).Scan(&lastError))
	require.Equal(t, `emailapi: "<address>" (Marcelina <<address>>) bounced: mail: permanent failure`, lastError)
	require.Contains(t, f.logs.String(), "outbox: giving up")
	require.NotContains(t, f.logs.String(), "marcelina.davis")
}
