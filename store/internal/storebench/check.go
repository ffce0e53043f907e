package storebench

import (
	"crypto/sha256"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/token"
)

// Test checks the harness on d, without timing anything: the seeded tokens
// pass the module's checks (so that the benchmarks measure lookups, not
// the refusal of malformed tokens), each path of the flow makes the Store
// calls whose statements the raw sides issue (flowCalls), and every path
// runs once on each side,
// the raw side's answers judged (so that a broken raw side fails go test,
// not only a benchmark run).
func Test(t *testing.T, d Dialect) {
	ctx := t.Context()
	spec := Spec{Users: 2, Resets: 4, Sessions: 4, Now: time.Now().UTC()} // resets 0 and 1 ended
	db := d.Seeded(t, spec)
	st := db.Store(t)
	if _, err := NewManager(t, st, nil).Validate(ctx, Token(SessionToken, 1)); err != nil {
		t.Fatal(err)
	}
	svc := NewService(t, st, NoWorkHasher{}, nil)
	if _, err := svc.CheckToken(ctx, Token(ResetToken, 3)); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CheckToken(ctx, Token(ResetToken, 0)); !errors.Is(err, reset.ErrInvalidToken) {
		t.Fatalf("an ended reset: got %v, want ErrInvalidToken", err)
	}
	if _, err := svc.CheckToken(ctx, Token(UnknownToken, 1)); !errors.Is(err, reset.ErrInvalidToken) {
		t.Fatalf("an unknown token: got %v, want ErrInvalidToken", err)
	}
	if h := sha256.Sum256([]byte(Token(SessionToken, 1))); token.Sum(Token(SessionToken, 1)) != h {
		t.Fatal("token.Sum is not the SHA-256 of the token's text")
	}
	raw := db.Raw(t, nil)
	if err := raw.Lookup(ctx, Token(ResetToken, 0)); err != ErrInvalid {
		t.Fatalf("raw, an ended reset: got %v, want ErrInvalid", err)
	}
	if err := raw.Lookup(ctx, Token(ResetToken, 3)); err != nil {
		t.Fatalf("raw, a live reset: %v", err)
	}
	if err := raw.Validate(ctx, Token(UnknownToken, 1)); err != ErrNotFound {
		t.Fatalf("raw, an unknown session: got %v, want ErrNotFound", err)
	}

	pl := new(payloads)
	testCalls(t, d, pl)
	create, get, reject, redeem, validate, stamp := paths(d, pl)
	small := Spec{Users: 4, Resets: 4, Sessions: 4, Now: time.Now().UTC()}
	for _, pt := range []path{create, get, reject, redeem, validate, stamp} {
		for name, s := range map[string]side{"passreset": pt.passreset, "raw": pt.raw} {
			if err := s(t, d.Seeded(t, small), upTo(small.Users), nil)(1); err != nil {
				t.Errorf("%s, %s: %v", pt.name, name, err)
			}
		}
	}
}

// CheckSpec is the database CheckWrites expects on both sides.
func CheckSpec() Spec { return Spec{Users: 10, Resets: 10, Sessions: 10, Now: time.Now().UTC()} }

// CheckWrites runs each path once through the Store on mod and once raw on
// raw, two databases seeded alike as CheckSpec says, and compares what
// take reports each wrote (rows and commits, in order, as the store's
// driver can tell them) since the last call.
func CheckWrites(t *testing.T, d Dialect, mod, raw DB, take func() []string) {
	create, get, reject, redeem, validate, stamp := paths(d, new(payloads))
	rows := upTo(CheckSpec().Users)
	for _, c := range []struct {
		pt path
		i  int
	}{{create, 3}, {get, 2}, {reject, 1}, {redeem, 7}, {validate, 4}, {stamp, 5}} {
		p, r := c.pt.passreset(t, mod, rows, nil), c.pt.raw(t, raw, rows, nil)
		take()
		if err := p(c.i); err != nil {
			t.Fatalf("%s, passreset: %v", c.pt.name, err)
		}
		want := take()
		if err := r(c.i); err != nil {
			t.Fatalf("%s, raw: %v", c.pt.name, err)
		}
		if got := take(); !slices.Equal(got, want) {
			t.Errorf("%s writes:\nraw       %s\npassreset %s", c.pt.name, strings.Join(got, ", "), strings.Join(want, ", "))
		}
	}
}

// Statements returns the statements the raw side issues: the Store's own,
// by name (each store's BenchSQL), with those over the users replaced by
// host's when the users are a host's (HostBenchSQL). The raw side writes
// by hand what the Store does around its statements, not the statements:
// a hand copy would only drift. It fails tb when a name the raw side uses
// is not among them.
func Statements(tb testing.TB, own, host map[string]string, names ...string) map[string]string {
	tb.Helper()
	q := maps.Clone(own)
	maps.Copy(q, host)
	for _, name := range names {
		if q[name] == "" {
			tb.Fatalf("the Store has no statement %s", name)
		}
	}
	return q
}
