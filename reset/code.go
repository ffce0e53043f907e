package reset

import (
	"context"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/store"
)

// Reset codes: every reset email carries, beside its link, a code of
// CodeDigits digits (26.6 bits) that the person types on the page that
// asked for it, with the address, instead of opening the link: for a link
// opened on another device, prefetched by a mail scanner, or an app that
// cannot receive it. The code and the link belong to one reset: using
// either spends both.
const (
	// CodeDigits is the length of a reset code: 8 decimal digits, 10^8
	// values, log2(10^8) = 26.6 bits.
	CodeDigits = 8
	// CodeTries is how many guesses a code allows. The guess that takes
	// the last try may still be right; after CodeTries wrong guesses the
	// code is dead, and so is its reset's link.
	CodeTries = 5
	// MaxCodeTTL is the longest a code lives (Config.CodeTTL).
	MaxCodeTTL = 10 * time.Minute
)

// newCode reads a uniform code of CodeDigits digits from r.
func newCode(r io.Reader) (string, error) {
	const n = 100_000_000 // 10^CodeDigits
	// Rejection sampling: uniform over [0, n) from uniform uint64s.
	const limit = (1<<64 - 1) / n * n
	var b [8]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return "", fmt.Errorf("reset: code: %w", err)
		}
		if v := binary.BigEndian.Uint64(b[:]); v < limit {
			var digits [CodeDigits]byte // v % n, zero-padded
			v %= n
			for i := len(digits) - 1; i >= 0; i-- {
				digits[i] = byte('0' + v%10)
				v /= 10
			}
			return string(digits[:]), nil
		}
	}
}

// FormatCode writes a code as the email shows it: two groups of four
// digits ("1234 5678").
func FormatCode(code string) string {
	if len(code) != CodeDigits {
		return code
	}
	return code[:CodeDigits/2] + " " + code[CodeDigits/2:]
}

// normalizeCode reads a code as a person types it: digits, with spaces,
// dashes or dots between them (full-width digits are made ASCII by the
// NFKC form first). It reports false for anything that cannot be a code.
func normalizeCode(raw string) (string, bool) {
	if len(raw) > 64 {
		return "", false
	}
	var b strings.Builder
	for _, r := range password.Normalize(raw) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '\t':
		default:
			return "", false
		}
	}
	if b.Len() != CodeDigits {
		return "", false
	}
	return b.String(), true
}

// codeFor makes the code of a new reset: the code itself, for the email,
// and what the Store keeps of it.
func (s *Service) codeFor(resetID, email string, now, resetExpires time.Time) (string, store.Code, error) {
	code, err := newCode(s.rand)
	if err != nil {
		return "", store.Code{}, err
	}
	expires := now.Add(s.codeTTL)
	if resetExpires.Before(expires) {
		expires = resetExpires
	}
	return code, store.Code{
		Key:       s.secrets.codeLookup(email),
		Hash:      s.secrets.codeHash(resetID, code),
		ExpiresAt: expires,
		TriesLeft: CodeTries,
	}, nil
}

// decoyResetID is the reset id a guess at an address without a usable
// code is hashed with, so that it costs what a guess at a real code costs.
const decoyResetID = "password_reset_00000000000000000000000000"

// redeemCode checks p.Email and p.Code and, when they match a usable
// reset, returns it for ResetPassword to spend. Every wrong answer is
// ErrInvalidCode, and costs the same Store work whether the address has an
// account, a reset, a live code, or none of these: a per-address count,
// a claim (a read, then the write that takes a try when there is a live
// code), one keyed hash of the guess, and, when there was no live code, a
// record of the guess that costs the write a try would have cost.
func (s *Service) redeemCode(ctx context.Context, p ResetPasswordParams, pw string) (store.Reset, error) {
	email, err := NormalizeEmail(p.Email)
	code, ok := normalizeCode(p.Code)
	if err != nil || !ok {
		return store.Reset{}, ErrInvalidCode // malformed: reveals nothing of any account
	}
	now := s.clock()
	if err := s.allow(ctx, s.codes, "code:"+email, now); err != nil {
		return store.Reset{}, err
	}
	// The policy comes before the code, so that a refused password uses
	// no try; it knows nothing of the account but the address typed.
	if err := s.policy.Validate(ctx, pw, password.PolicyUser{Email: email}); err != nil {
		return store.Reset{}, err
	}
	r, err := s.store.ClaimResetCode(ctx, s.secrets.codeLookup(email), now)
	switch {
	case errors.Is(err, store.ErrResetNotFound):
		// No live code at the address: hash the guess, and record it, a
		// write of one row that costs what taking a try costs (a claim
		// that finds nothing writes nothing: the bundled stores read
		// before they write). BenchmarkWrongCodeAlike measures the two
		// cases side by side.
		_ = s.secrets.codeHash(decoyResetID, code)
		if _, _, err := s.store.AllowRequest(ctx, s.secrets.rateLimitKey("code-guess:"+email), now, s.codeTTL, 1<<30); err != nil {
			return store.Reset{}, fmt.Errorf("reset: check code: %w", err)
		}
		return store.Reset{}, ErrInvalidCode
	case err != nil:
		return store.Reset{}, fmt.Errorf("reset: check code: %w", err)
	}
	got := s.secrets.codeHash(r.ID, code)
	if subtle.ConstantTimeCompare(got[:], r.Code.Hash[:]) != 1 {
		if r.Code.TriesLeft == 0 {
			s.log.InfoContext(ctx, "reset code guessed wrong too often: the reset is dead", "reset_id", r.ID, "user_id", r.UserID)
		}
		return store.Reset{}, ErrInvalidCode
	}
	return r, nil
}
