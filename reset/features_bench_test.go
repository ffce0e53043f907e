package reset_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/internal/testfix/testsvc"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/token"
)

// benchService is a Service over a fresh SQLite file, the embedded
// default, with its default limits but for the reset emails per address,
// which the benchmarks make many of (they are counted all the same), and
// the account.Service that makes their users.
func benchService(b *testing.B, hasher password.Hasher) (*reset.Service, *account.Service) {
	svc, accounts, _ := testsvc.OnSQLite(b, reset.Config{Hasher: hasher, RateLimit: reset.RateLimit{Disabled: true}})
	return svc, accounts
}

// wrongGuess creates a user at email and a reset for it, and returns a
// code that is not the reset's: a wrong guess at an address with an
// account and a live code.
func wrongGuess(b *testing.B, svc *reset.Service, accounts *account.Service, email string) string {
	b.Helper()
	if _, err := accounts.CreateUser(b.Context(), account.CreateUserParams{Email: email}); err != nil {
		b.Fatal(err)
	}
	pr, err := svc.CreatePasswordReset(b.Context(), reset.CreatePasswordResetParams{Email: email})
	if err != nil {
		b.Fatal(err)
	}
	return wrongCode(pr.Code)
}

// BenchmarkRejectWrongCode measures ResetPassword refusing a wrong code,
// over SQLite, at an address with an account and a live code, and at one
// without an account: the two must cost the same (the Service makes the
// same Store calls, and one write each). Every reset.CodeTries guesses
// the benchmark moves to a new address, outside the timer, so that every
// timed guess at a known address meets a live code and no address reaches
// its per-address limit. Beside them, the token path's refusal of a
// well-formed token that matches no reset.
func BenchmarkRejectWrongCode(b *testing.B) {
	const pw = "a brand new passphrase"
	b.Run("code/known-address", func(b *testing.B) {
		svc, accounts := benchService(b, password.Bcrypt{Cost: 4})
		var email, wrong string
		b.ReportAllocs()
		for i := range b.N {
			if i%reset.CodeTries == 0 {
				b.StopTimer()
				email = fmt.Sprintf("known%d@example.com", i)
				wrong = wrongGuess(b, svc, accounts, email)
				b.StartTimer()
			}
			if _, err := svc.ResetPassword(b.Context(), reset.ResetPasswordParams{Email: email, Code: wrong, NewPassword: pw}); !errors.Is(err, reset.ErrInvalidCode) {
				b.Fatal(err)
			}
		}
	})
	b.Run("code/unknown-address", func(b *testing.B) {
		svc, _ := benchService(b, password.Bcrypt{Cost: 4})
		var email string
		b.ReportAllocs()
		for i := range b.N {
			if i%reset.CodeTries == 0 {
				email = fmt.Sprintf("unknown%d@example.com", i)
			}
			if _, err := svc.ResetPassword(b.Context(), reset.ResetPasswordParams{Email: email, Code: "1234 5678", NewPassword: pw}); !errors.Is(err, reset.ErrInvalidCode) {
				b.Fatal(err)
			}
		}
	})
	b.Run("token/unknown-token", func(b *testing.B) {
		svc, _ := benchService(b, password.Bcrypt{Cost: 4})
		tok, _, err := token.New(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := svc.ResetPassword(b.Context(), reset.ResetPasswordParams{Token: tok, NewPassword: pw}); !errors.Is(err, reset.ErrInvalidToken) {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkWrongCodeAlike interleaves, in one loop over one SQLite file,
// a wrong code at an address with an account and a live code, a wrong code
// at an address without an account, and a well-formed token that matches
// no reset, so that the load of a shared machine weighs on the three
// alike; it reports the median time of each (known-ns, unknown-ns,
// token-ns) and unknown/known, which must be close to 1: the answer's time
// does not tell whether the address has an account. Every reset.CodeTries
// rounds it moves both to new addresses, outside the timings.
func BenchmarkWrongCodeAlike(b *testing.B) {
	const pw = "a brand new passphrase"
	svc, accounts := benchService(b, password.Bcrypt{Cost: 4})
	tok, _, err := token.New(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	var known, unknown, tokens []time.Duration
	var kEmail, uEmail, wrong string
	timed := func(p reset.ResetPasswordParams, want error, into *[]time.Duration) {
		start := time.Now()
		_, err := svc.ResetPassword(b.Context(), p)
		*into = append(*into, time.Since(start))
		if !errors.Is(err, want) {
			b.Fatal(err)
		}
	}
	for i := range b.N {
		if i%reset.CodeTries == 0 {
			kEmail, uEmail = fmt.Sprintf("known%d@example.com", i), fmt.Sprintf("unknown%d@example.com", i)
			wrong = wrongGuess(b, svc, accounts, kEmail)
		}
		k := func() {
			timed(reset.ResetPasswordParams{Email: kEmail, Code: wrong, NewPassword: pw}, reset.ErrInvalidCode, &known)
		}
		u := func() {
			timed(reset.ResetPasswordParams{Email: uEmail, Code: wrong, NewPassword: pw}, reset.ErrInvalidCode, &unknown)
		}
		if i%2 == 0 {
			k()
			u()
		} else {
			u()
			k()
		}
		timed(reset.ResetPasswordParams{Token: tok, NewPassword: pw}, reset.ErrInvalidToken, &tokens)
	}
	med := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2])
	}
	b.ReportMetric(0, "ns/op")
	mk, mu := med(known), med(unknown)
	b.ReportMetric(mk, "known-ns")
	b.ReportMetric(mu, "unknown-ns")
	b.ReportMetric(med(tokens), "token-ns")
	b.ReportMetric(mu/mk, "unknown/known")
}
