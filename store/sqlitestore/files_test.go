package sqlitestore_test

import (
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/mail/mailtest"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
)

// TestFilesOwnerOnly: with a umask that lets anyone read what a process
// creates, the database file Open creates, and the -wal and -shm files
// SQLite creates beside it, are readable by their owner only.
func TestFilesOwnerOnly(t *testing.T) {
	old := syscall.Umask(0) // process-wide: this test does not run in parallel
	t.Cleanup(func() { syscall.Umask(old) })
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "app.db")
	st := openStore(t, path)
	_, err := st.EndResets(ctx, "user_nobody", base) // a write, so that the -wal exists
	require.NoError(t, err)

	for _, suffix := range []string{"", "-wal", "-shm"} {
		fi, err := os.Stat(path + suffix)
		require.NoError(t, err, "no %s file", suffix)
		require.Equal(t, fs.FileMode(0o600), fi.Mode().Perm(), "the mode of %s", filepath.Base(path+suffix))
	}
}

// TestReplacedHashLeavesNoTrace: after a reset, the bytes of the old
// password hash are in neither the database file nor its write-ahead log.
// Two cases: a new hash of the same length, which SQLite writes over the
// old one in place, and a longer one (bcrypt replaced by Argon2id), whose
// row moves and leaves the old cell in freed space unless secure_delete
// zeroes it. In both, the log's frames that held the old page are
// checkpointed away (without the checkpoint both fail; without
// secure_delete, the longer one).
func TestReplacedHashLeavesNoTrace(t *testing.T) {
	for name, hasher := range map[string]password.Hasher{
		"same length": password.Bcrypt{Cost: 4},
		"longer":      password.Argon2id{Memory: 64, Time: 1, Threads: 1},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			path := filepath.Join(t.TempDir(), "app.db")
			st := openStore(t, path)
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			newService := func(h password.Hasher) *reset.Service {
				svc, err := reset.NewService(reset.Config{Store: st, Mailer: new(mailtest.Recorder),
					ResetURL: "https://app.example/reset-password", Hasher: h, Logger: quiet})
				require.NoError(t, err)
				return svc
			}
			svc := newService(password.Bcrypt{Cost: 4})

			u, err := accountsOf(t, svc).CreateUser(ctx, account.CreateUserParams{Email: "ana@example.com", Password: "the first passphrase"})
			require.NoError(t, err)
			oldHash, err := st.PasswordHash(ctx, u.ID)
			require.NoError(t, err)
			require.True(t, strings.Contains(files(t, path), oldHash), "the hash is not in the files: wrong files?")
			// Another row after hers on the page: her cell is then not at
			// the edge of the free space, where a longer new cell would
			// cover it; freed, it stays unless secure_delete zeroes it.
			_, err = accountsOf(t, svc).CreateUser(ctx, account.CreateUserParams{Email: "bob@example.com", Password: "another passphrase"})
			require.NoError(t, err)

			svc = newService(hasher)
			pr, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ana@example.com"})
			require.NoError(t, err)
			_, err = svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "the second passphrase"})
			require.NoError(t, err)
			newHash, err := st.PasswordHash(ctx, u.ID)
			require.NoError(t, err)

			dump := files(t, path)
			require.True(t, strings.Contains(dump, newHash), "the new hash is not in the files: wrong files?")
			// Not the hash, nor its salt and digest apart from the "$2a$04$".
			require.False(t, strings.Contains(dump, oldHash[7:]), "the replaced hash is still in the files")
		})
	}
}

// files returns the bytes of the database file and its -wal, as one string.
func files(t *testing.T, path string) string {
	t.Helper()
	var dump []byte
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		dump = append(dump, b...)
	}
	return string(dump)
}

// accountsOf is an account.Service on svc.
func accountsOf(t testing.TB, svc *reset.Service) *account.Service {
	t.Helper()
	accounts, err := account.New(svc, account.Config{})
	require.NoError(t, err)
	return accounts
}
