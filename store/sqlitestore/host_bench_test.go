package sqlitestore_test

import (
	"fmt"
	"testing"

	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store/sqlitestore"
)

// BenchmarkStampCheck: the credential-stamp check a host runs on every
// signed-in request (Service.StampMatches over the host's accounts table)
// beside the raw indexed lookup of the same row's hash, in the same run,
// over 1,000 accounts. Ratio = passreset / raw.
//
//	go test ./store/sqlitestore -run '^$' -bench StampCheck -count 6
func BenchmarkStampCheck(b *testing.B) {
	const n = 1000
	st := hostStore(b, accountsDDL, accounts)
	w, r := sqlitestore.Pools(st)
	tx, err := w.BeginTx(b.Context(), nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		hash := fmt.Sprintf("$2a$12$%053d", i)
		if _, err := tx.ExecContext(b.Context(), `INSERT INTO accounts (email_address, pw_digest) VALUES (?, ?)`,
			fmt.Sprintf("user%d@example.com", i), hash); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	svc := newService(b, st, nil)
	stamps := make([]string, n)
	for i := range stamps {
		stamps[i] = reset.Stamp(fmt.Sprintf("$2a$12$%053d", i))
	}

	b.Run("passreset", func(b *testing.B) {
		ctx := b.Context()
		i := 0
		for b.Loop() {
			ok, err := svc.StampMatches(ctx, fmt.Sprintf("user_%d", i%n+1), stamps[i%n])
			if err != nil || !ok {
				b.Fatal("stamp refused", err)
			}
			i++
		}
	})
	b.Run("raw", func(b *testing.B) {
		ctx := b.Context()
		stmt, err := r.PrepareContext(ctx, `SELECT pw_digest FROM accounts WHERE account_id = ?`)
		if err != nil {
			b.Fatal(err)
		}
		defer stmt.Close()
		i := 0
		for b.Loop() {
			var hash string
			if err := stmt.QueryRowContext(ctx, int64(i%n+1)).Scan(&hash); err != nil || hash == "" {
				b.Fatal("no row", err)
			}
			i++
		}
	})
}
