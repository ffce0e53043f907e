package password_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/passreset/passreset/password"
)

// cheap is an Argon2id cheap enough for tests.
var cheap = password.Argon2id{Memory: 64, Time: 1, Threads: 1}

// TestBcryptRehashIsBcrypt: the salted bcrypt that Rehash uses gives, for
// the salt and cost of a hash golang.org/x/crypto/bcrypt made, that very
// hash, byte for byte; and at another cost a hash bcrypt accepts.
func TestBcryptRehashIsBcrypt(t *testing.T) {
	for _, pw := range []string{"a password", "", "ünïcödé pässwörd", strings.Repeat("x", password.MaxBytes)} {
		orig, err := bcrypt.GenerateFromPassword([]byte(pw), 4)
		require.NoError(t, err)
		same, err := password.Bcrypt{Cost: 4}.Rehash(string(orig), pw)
		require.NoError(t, err)
		require.Equal(t, string(orig), same, "the same salt and cost must give the same hash")

		up, err := password.Bcrypt{Cost: 5}.Rehash(string(orig), pw)
		require.NoError(t, err)
		require.NoError(t, bcrypt.CompareHashAndPassword([]byte(up), []byte(pw)))
		cost, err := bcrypt.Cost([]byte(up))
		require.NoError(t, err)
		require.Equal(t, 5, cost)
		require.Equal(t, string(orig[7:29]), up[7:29], "the salt is kept")
		require.ErrorIs(t, bcrypt.CompareHashAndPassword([]byte(up), []byte("y"+pw)), bcrypt.ErrMismatchedHashAndPassword)
	}
}

// TestSaltSurvivesRehash: every upgrade path keeps the salt the credential
// stamp is derived from, and a new Hash draws a new one.
func TestSaltSurvivesRehash(t *testing.T) {
	pw := "a long enough passphrase"
	b4, err := password.Bcrypt{Cost: 4}.Hash(pw)
	require.NoError(t, err)
	salt, ok := password.Salt(b4)
	require.True(t, ok)
	require.Len(t, salt, 16)

	a, err := cheap.Rehash(b4, pw) // bcrypt -> argon2id
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(a, "$argon2id$v=19$m=64,t=1,p=1$"), a)
	aSalt, ok := password.Salt(a)
	require.True(t, ok)
	require.Equal(t, salt, aSalt)
	require.NoError(t, cheap.Compare(a, pw))

	a2, err := password.Argon2id{Memory: 128, Time: 1, Threads: 1}.Rehash(a, pw) // argon2id -> other parameters
	require.NoError(t, err)
	a2Salt, _ := password.Salt(a2)
	require.Equal(t, salt, a2Salt)

	b5, err := password.Bcrypt{Cost: 5}.Rehash(a2, pw) // argon2id -> bcrypt
	require.NoError(t, err)
	b5Salt, _ := password.Salt(b5)
	require.Equal(t, salt, b5Salt)
	require.NoError(t, bcrypt.CompareHashAndPassword([]byte(b5), []byte(pw)))

	fresh, err := password.Bcrypt{Cost: 4}.Hash(pw)
	require.NoError(t, err)
	freshSalt, _ := password.Salt(fresh)
	require.NotEqual(t, salt, freshSalt, "a new hash has a new salt")

	_, ok = password.Salt("not a hash")
	require.False(t, ok)
	_, ok = password.Salt("$argon2id$v=19$m=64,t=1,p=1$$")
	require.False(t, ok)
}

// TestArgon2id: hashes in the PHC format, verifies bcrypt hashes too,
// refuses wrong passwords and unreadable or abusive hashes, and says which
// hashes need a rehash.
func TestArgon2id(t *testing.T) {
	pw := "a long enough passphrase"
	h, err := cheap.Hash(pw)
	require.NoError(t, err)
	require.Regexp(t, `^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`, h)
	require.NoError(t, cheap.Compare(h, pw))
	require.ErrorIs(t, cheap.Compare(h, pw+"!"), password.ErrMismatch)
	require.NoError(t, password.Bcrypt{}.Compare(h, pw), "Bcrypt verifies argon2id hashes, to move back")

	b, err := password.Bcrypt{Cost: 4}.Hash(pw)
	require.NoError(t, err)
	require.NoError(t, cheap.Compare(b, pw), "Argon2id verifies bcrypt hashes")
	require.ErrorIs(t, cheap.Compare(b, "wrong"), password.ErrMismatch)

	require.False(t, cheap.NeedsRehash(h))
	require.True(t, cheap.NeedsRehash(b))
	require.True(t, password.Argon2id{Memory: 128, Time: 1}.NeedsRehash(h))
	require.True(t, password.Argon2id{Memory: 64, Time: 2}.NeedsRehash(h))
	require.False(t, password.Bcrypt{Cost: 4}.NeedsRehash(b))
	require.True(t, password.Bcrypt{Cost: 5}.NeedsRehash(b))
	require.True(t, password.Bcrypt{Cost: 4}.NeedsRehash(h))

	for _, bad := range []string{
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdA",                                 // no key
		"$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHQ$" + strings.Repeat("A", 43), // another version
		"$argon2id$v=19$m=99999999999,t=1,p=1$c2FsdHNhbHQ$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=8388608,t=1,p=1$c2FsdHNhbHQ$" + strings.Repeat("A", 43), // 8 GiB: refused, not spent
		"$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHQ$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=64,t=4000000000,p=1$c2FsdHNhbHQ$" + strings.Repeat("A", 43), // refused, not run
		"$argon2id$v=19$m=64,t=1$c2FsdHNhbHQ$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=64,t=1,p=1,x=2$c2FsdHNhbHQ$" + strings.Repeat("A", 43),
	} {
		err := cheap.Compare(bad, pw)
		require.Error(t, err, bad)
		require.NotErrorIs(t, err, password.ErrMismatch, "an unreadable hash is not a wrong password: %s", bad)
	}
	require.Error(t, password.Argon2id{Memory: 4}.Check())
	require.Error(t, password.Argon2id{Time: 65}.Check())
}

// pwnedServer speaks the range protocol for the passwords given, with
// padding lines of count 0, and records what it was sent.
func pwnedServer(t *testing.T, breached map[string]int) (*httptest.Server, *atomic.Value) {
	t.Helper()
	byPrefix := map[string][]string{}
	for pw, n := range breached {
		sum := sha1.Sum([]byte(pw))
		h := strings.ToUpper(hex.EncodeToString(sum[:]))
		byPrefix[h[:5]] = append(byPrefix[h[:5]], fmt.Sprintf("%s:%d", h[5:], n))
	}
	var seen atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		prefix := strings.TrimPrefix(r.URL.Path, "/range/")
		seen.Store(r.URL.Path + " padding=" + r.Header.Get("Add-Padding"))
		if len(prefix) != 5 {
			http.Error(w, "The hash prefix was not in a valid format", http.StatusBadRequest)
			return
		}
		lines := append([]string{}, byPrefix[prefix]...)
		for i := range 20 { // padding: suffixes that match nothing, count 0
			lines = append(lines, fmt.Sprintf("%035X:0", i))
		}
		lines = append(lines, "0018A45C4D1DEF81644B54AB7F969B88D65:3") // someone else's
		fmt.Fprint(w, strings.Join(lines, "\r\n"))
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

// TestPwned: the k-anonymity range protocol against an in-process server
// speaking it: a breached password is refused, a clean one accepted, only
// the 5-character prefix is sent, with Add-Padding; a slow or failing
// service fails open or closed as configured, within the timeout.
func TestPwned(t *testing.T) {
	ctx := context.Background()
	srv, seen := pwnedServer(t, map[string]int{"P@ssw0rd-leaked": 42})
	p := password.Pwned{URL: srv.URL + "/range/"}

	n, err := p.Count(ctx, "P@ssw0rd-leaked")
	require.NoError(t, err)
	require.Equal(t, 42, n)
	sum := sha1.Sum([]byte("P@ssw0rd-leaked"))
	require.Equal(t, "/range/"+strings.ToUpper(hex.EncodeToString(sum[:]))[:5]+" padding=true", seen.Load())

	pol := password.Policy{Check: p.Check}
	err = pol.Validate(ctx, "P@ssw0rd-leaked", password.PolicyUser{})
	pe, ok := errors.AsType[*password.PolicyError](err)
	require.True(t, ok, "%v", err)
	require.Equal(t, password.ReasonBreached, pe.Reasons[0].Code)
	require.NotContains(t, err.Error(), "P@ssw0rd")
	require.NoError(t, pol.Validate(ctx, "a clean unusual passphrase", password.PolicyUser{}))
	n, err = p.Count(ctx, "a clean unusual passphrase")
	require.NoError(t, err)
	require.Zero(t, n, "padding lines (count 0) never match")

	// A service that hangs: the timeout ends the check.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(hang.Close)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(empty.Close)
	for name, url := range map[string]string{"hang": hang.URL + "/", "5xx": down.URL + "/", "empty": empty.URL + "/"} {
		open := password.Pwned{URL: url, Timeout: 50 * time.Millisecond}
		_, err := open.Count(ctx, "anything at all")
		require.Error(t, err, name)
		require.NoError(t, open.Check(ctx, "anything at all", password.PolicyUser{}), "%s: fails open by default", name)
		closed := open
		closed.FailClosed = true
		err = password.Policy{Check: closed.Check}.Validate(ctx, "anything at all", password.PolicyUser{})
		pe, ok := errors.AsType[*password.PolicyError](err)
		require.True(t, ok, "%s: %v", name, err)
		require.Equal(t, password.ReasonBreachUnchecked, pe.Reasons[0].Code, name)
	}
}

// TestPolicyRefusesCommon: the default policy refuses the issue's
// examples in any case, as a policy reason; AllowCommon lets them through.
func TestPolicyRefusesCommon(t *testing.T) {
	ctx := context.Background()
	for _, pw := range []string{"password123", "qwertyuiop", "Password123", "QWERTYUIOP"} {
		err := password.Policy{}.Validate(ctx, pw, password.PolicyUser{})
		pe, ok := errors.AsType[*password.PolicyError](err)
		require.True(t, ok, pw)
		require.Equal(t, password.ReasonCommon, pe.Reasons[0].Code)
		require.ErrorIs(t, err, password.ErrWeak)
		require.NoError(t, password.Policy{AllowCommon: true}.Validate(ctx, pw, password.PolicyUser{}))
	}
}
