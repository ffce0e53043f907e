package reset_test

import (
	"log/slog"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/mail/mailtest"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store/memstore"
)

// TestSecretKeyUnset: an empty SecretKey, as an unset environment variable
// gives ([]byte(os.Getenv(...))), means what nil means: a key of the
// Service's own. A key that is set but short is refused with a message that
// says what to set.
func TestSecretKeyUnset(t *testing.T) {
	cfg := reset.Config{Store: memstore.New(), Mailer: new(mailtest.Recorder), ResetURL: "https://app.example/reset-password",
		Hasher: password.Bcrypt{Cost: 4}, Logger: slog.New(slog.DiscardHandler)}
	for _, key := range [][]byte{nil, {}, []byte(os.Getenv("PASSRESET_TEST_SURELY_UNSET_VARIABLE"))} {
		cfg.SecretKey = key
		_, err := reset.NewService(cfg)
		require.NoError(t, err, "SecretKey %q", key)
	}
	cfg.SecretKey = []byte("too short")
	_, err := reset.NewService(cfg)
	require.ErrorContains(t, err, "SecretKey must be at least 32 bytes")
}

// TestResetURLChecks: a reset link must go where it reads, and not in the
// clear across a network.
func TestResetURLChecks(t *testing.T) {
	cfg := reset.Config{Store: memstore.New(), Mailer: new(mailtest.Recorder), Hasher: password.Bcrypt{Cost: 4}, Logger: slog.New(slog.DiscardHandler)}
	for raw, ok := range map[string]bool{
		"https://app.example/reset-password":                  true,
		"http://localhost:8080/reset-password":                true,
		"http://127.0.0.1:8080/reset-password":                true,
		"http://[::1]:8080/reset-password":                    true,
		"http://app.localhost/reset-password":                 true,
		"https://good.example@evil.example/reset-password":    false,
		"https://good.example:pw@evil.example/reset-password": false,
		"http://app.example/reset-password":                   false,
		"http://10.0.0.5/reset-password":                      false,
		"ftp://app.example/reset":                             false,
		"/reset-password":                                     false,
		"https:///reset-password":                             false,
		"mailto:x@example.com":                                false,
	} {
		cfg.ResetURL = raw
		_, err := reset.NewService(cfg)
		if ok {
			require.NoError(t, err, raw)
		} else {
			require.Error(t, err, raw)
		}
	}
}

// TestDummyHashMadeUpFront: the hash an unknown address's sign-in is
// compared with exists before the first sign-in, so that the first
// unknown address costs one comparison, as a wrong password does, and no
// hashing on top.
func TestDummyHashMadeUpFront(t *testing.T) {
	f := newFixture(t)
	made := f.hasher.Hashes.Load()
	require.EqualValues(t, 1, made, "NewService made the dummy hash")
	_, err := f.acct.Authenticate(t.Context(), account.AuthenticateParams{Email: "nobody@example.com", Password: "a password"})
	require.ErrorIs(t, err, reset.ErrInvalidCredentials)
	require.Equal(t, made, f.hasher.Hashes.Load(), "the first unknown-address sign-in hashed")
	require.EqualValues(t, 1, f.hasher.Compares.Load())
}
