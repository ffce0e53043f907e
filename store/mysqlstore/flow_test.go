package mysqlstore_test

import (
	"database/sql"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/internal/testfix"
	"github.com/passreset/passreset/mail/mailtest"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store/mysqlstore"
)

// TestFlowLeavesNoSecretInTheDatabase plays a whole reset through the
// Service and a session through the Manager on a fresh database, then
// reads every row of every table: the email is there, no token, password
// or code is.
func TestFlowLeavesNoSecretInTheDatabase(t *testing.T) {
	ctx := t.Context()
	st := newStore(t)
	rec := new(mailtest.Recorder)
	svc, err := reset.NewService(reset.Config{
		Store: st, Mailer: rec, ResetURL: "https://app.example/reset-password",
		Hasher: password.Bcrypt{Cost: 4}, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	accounts, err := account.New(svc, account.Config{})
	require.NoError(t, err)
	const email, oldPassword, newPassword = "ana.secret.test@example.com", "the old passphrase 1", "a brand new passphrase 2"
	u, err := accounts.CreateUser(ctx, account.CreateUserParams{Email: email, Password: oldPassword})
	require.NoError(t, err)
	sm, err := session.New(session.Config{Store: st, Stamps: svc})
	require.NoError(t, err)
	in, err := accounts.Authenticate(ctx, account.AuthenticateParams{Email: email, Password: oldPassword})
	require.NoError(t, err)
	_, sessionToken, err := sm.Create(ctx, u.ID, session.Metadata{Stamp: in.Stamp})
	require.NoError(t, err)

	pr, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: email})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(rec.Messages()) > 0 }, 10*time.Second, 10*time.Millisecond)
	msg := rec.Messages()[0]
	_, err = svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: newPassword})
	require.NoError(t, err)
	_, err = sm.Validate(ctx, sessionToken)
	require.ErrorIs(t, err, session.ErrRevoked)

	all := dump(t, st)
	require.Contains(t, all, email, "the dump holds the data (a sanity check of the search)")
	secrets := map[string]string{"reset token": pr.Token, "session token": sessionToken,
		"old password": oldPassword, "new password": newPassword}
	for _, line := range strings.Split(msg.Text, "\n") {
		// The email's text: its link and code, which only its reader has.
		if line = strings.TrimSpace(line); len(line) >= 6 && !strings.Contains(line, " ") {
			secrets["email line "+line] = line
		}
	}
	for name, s := range secrets {
		require.NotContains(t, all, s, "the %s is in the database", name)
	}
}

// dump reads every row of every table of st's database, as text.
func dump(t *testing.T, st *mysqlstore.Store) string {
	t.Helper()
	ctx := t.Context()
	tables := testfix.Strings(t, st.DB(), `SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()`)
	require.Contains(t, tables, "passreset_resets")
	var b strings.Builder
	for _, table := range tables {
		rows, err := st.DB().QueryContext(ctx, "SELECT * FROM "+table)
		require.NoError(t, err)
		cols, err := rows.Columns()
		require.NoError(t, err)
		for rows.Next() {
			vals := make([]sql.RawBytes, len(cols))
			dest := make([]any, len(cols))
			for i := range vals {
				dest[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(dest...))
			for _, v := range vals {
				b.Write(v)
				b.WriteByte('\n')
			}
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	return b.String()
}
