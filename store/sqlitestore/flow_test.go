package sqlitestore_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/mail/mailtest"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
)

// TestFlowLeavesNoSecretInTheFile runs the whole flow through the Service
// on a real file, then reads the database's bytes: neither token, nor any
// password, nor a queued email's link may be there in plain text.
func TestFlowLeavesNoSecretInTheFile(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "app.db")
	st := openStore(t, path)
	rec := new(mailtest.Recorder)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := reset.NewService(reset.Config{Store: st, Mailer: rec, ResetURL: "https://app.example/reset-password", Hasher: password.Bcrypt{Cost: 4}, Logger: quiet})
	require.NoError(t, err)
	accounts, err := account.New(svc, account.Config{})
	require.NoError(t, err)
	sessions, err := session.New(session.Config{Store: st, Logger: quiet})
	require.NoError(t, err)

	const oldPW, newPW = "the first passphrase", "the second passphrase"
	u, err := accounts.CreateUser(ctx, account.CreateUserParams{Email: "ana@example.com", Password: oldPW})
	require.NoError(t, err)
	_, sessTok, err := sessions.Create(ctx, u.ID, session.Metadata{})
	require.NoError(t, err)

	// The first email fails and stays queued, sealed; the second is sent.
	rec.FailWith = func(mail.Message) error { return errors.New("421 try again later") }
	queued, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ana@example.com"})
	require.NoError(t, err)
	rec.FailWith = nil
	pr, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ana@example.com"})
	require.NoError(t, err)
	_, err = svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: newPW})
	require.NoError(t, err)
	_, err = sessions.Validate(ctx, sessTok)
	require.ErrorIs(t, err, session.ErrRevoked)

	dump := readFiles(t, path)
	require.True(t, bytes.Contains(dump, []byte("ana@example.com")), "read the right bytes")
	// A code redeems a third reset: its code, and the queued one's, are
	// not in the file either.
	byCode, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ana@example.com"})
	require.NoError(t, err)
	_, err = svc.ResetPassword(ctx, reset.ResetPasswordParams{Email: "ana@example.com", Code: byCode.Code, NewPassword: "the third passphrase"})
	require.NoError(t, err)
	dump = readFiles(t, path)
	for _, secret := range []string{pr.Token, queued.Token, sessTok, oldPW, newPW, hex.EncodeToString([]byte(pr.Token)),
		byCode.Code, queued.Code, pr.Code, reset.FormatCode(queued.Code)} {
		require.False(t, bytes.Contains(dump, []byte(secret)), "plaintext secret in the database file")
	}
	require.NoError(t, st.Close())
}

// readFiles returns the bytes of the database file at path and of the
// files SQLite keeps beside it (-wal, -shm, -journal), those that exist.
func readFiles(t *testing.T, path string) []byte {
	t.Helper()
	var dump []byte
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		b, err := os.ReadFile(path + suffix)
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		dump = append(dump, b...)
	}
	return dump
}
