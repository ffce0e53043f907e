package session_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/token"
)

func BenchmarkValidate(b *testing.B) {
	f := newFixture(b, nil)
	_, tok := f.create(b, "user_1")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.m.Validate(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateMalformed(b *testing.B) {
	f := newFixture(b, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = f.m.Validate(ctx, "not-a-token")
	}
}

// Validate allocates nothing of its own: whatever one Validate costs is the
// Store's lookup.
func TestValidateAllocations(t *testing.T) {
	ctx := context.Background()
	st := newStore()
	m, err := session.New(session.Config{Store: st})
	require.NoError(t, err)
	_, tok, err := m.Create(ctx, "user_1", session.Metadata{})
	require.NoError(t, err)
	h := token.Sum(tok)

	lookup := testing.AllocsPerRun(100, func() { _, _ = st.SessionByTokenHash(ctx, h) })
	validate := testing.AllocsPerRun(100, func() { _, _ = m.Validate(ctx, tok) })
	require.Equal(t, lookup, validate)
	malformed := testing.AllocsPerRun(100, func() { _, _ = m.Validate(ctx, "not-a-token") })
	require.Zero(t, malformed)
}
