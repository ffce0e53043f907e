package password_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/passreset/passreset/password"
)

// TestCompareNormalizes: a password hashed in its normal form matches
// whatever form it is typed in, through Compare, the call a host's own
// login makes; compared raw, it would not.
func TestCompareNormalizes(t *testing.T) {
	h := password.Bcrypt{Cost: bcrypt.MinCost}
	typedAtReset := "Ｃａｆé ｃｒèｍｅ １２３" // full-width letters, precomposed é
	hash, err := h.Hash(password.Normalize(typedAtReset))
	require.NoError(t, err)

	typedAtLogin := "Cafe\u0301 cre\u0300me 123" // ASCII with combining accents
	require.NoError(t, password.Compare(h, hash, typedAtLogin))
	require.NoError(t, password.Compare(h, hash, typedAtReset))
	require.ErrorIs(t, h.Compare(hash, typedAtLogin), password.ErrMismatch, "the raw bytes differ: only the normal form matches")
	require.ErrorIs(t, password.Compare(h, hash, "cafe creme 123"), password.ErrMismatch)
}

func TestBcryptRefusesLongPasswords(t *testing.T) {
	h := password.Bcrypt{Cost: bcrypt.MinCost}
	long := strings.Repeat("a", password.MaxBytes+1)
	_, err := h.Hash(long)
	require.Error(t, err, "a password over 72 bytes was hashed (bcrypt would truncate it)")

	hash, err := h.Hash(long[:password.MaxBytes])
	require.NoError(t, err)
	require.NoError(t, h.Compare(hash, long[:password.MaxBytes]))
	require.ErrorIs(t, h.Compare(hash, long), password.ErrMismatch, "a longer password matched its 72-byte prefix")
}

func TestBcryptCost(t *testing.T) {
	hash, err := password.Bcrypt{}.Hash("a password")
	require.NoError(t, err)
	cost, err := bcrypt.Cost([]byte(hash))
	require.NoError(t, err)
	require.Equal(t, password.DefaultBcryptCost, cost)

	require.NoError(t, password.CheckCost(0))
	require.NoError(t, password.CheckCost(bcrypt.MinCost))
	require.Error(t, password.CheckCost(3))
	require.Error(t, password.CheckCost(32))

	err = password.Bcrypt{}.Compare("not a hash", "a password")
	require.Error(t, err)
	require.NotErrorIs(t, err, password.ErrMismatch, "an unreadable hash is not a wrong password")
}

func TestPolicy(t *testing.T) {
	ctx := context.Background()
	codes := func(err error) []string {
		pe, ok := errors.AsType[*password.PolicyError](err)
		if !ok {
			return nil
		}
		var out []string
		for _, r := range pe.Reasons {
			out = append(out, r.Code)
		}
		return out
	}
	u := password.PolicyUser{ID: "user_1", Email: "ada@example.com"}
	var p password.Policy
	require.NoError(t, p.Validate(ctx, "long enough", u))
	require.Equal(t, []string{password.ReasonTooShort}, codes(p.Validate(ctx, "short", u)))
	require.Equal(t, []string{password.ReasonTooShort}, codes(p.Validate(ctx, "ééééééé", u)), "7 characters, 14 bytes")
	require.Equal(t, []string{password.ReasonTooLong}, codes(p.Validate(ctx, strings.Repeat("é", 37), u)), "37 characters, 74 bytes")
	require.Equal(t, []string{password.ReasonSameAsEmail}, codes(p.Validate(ctx, " ADA@example.com ", u)))
	require.Equal(t, []string{password.ReasonInvalidUTF8}, codes(p.Validate(ctx, "\xff\xfe long enough", u)))
	require.ErrorIs(t, p.Validate(ctx, "short", u), password.ErrWeak)

	p.MinLength = 12
	require.Equal(t, []string{password.ReasonTooShort}, codes(p.Validate(ctx, "eleven char", u)))

	p.Check = func(_ context.Context, pw string, got password.PolicyUser) error {
		require.Equal(t, u, got)
		if pw == "breached password" {
			return errors.New("This password appears in a breach.")
		}
		return nil
	}
	require.NoError(t, p.Validate(ctx, "a fine password", u))
	err := p.Validate(ctx, "breached password", u)
	require.Equal(t, []string{password.ReasonRejected}, codes(err))
	require.NotContains(t, err.Error(), "breached password")
}
