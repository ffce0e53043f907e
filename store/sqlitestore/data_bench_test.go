package sqlitestore_test

// The data of the paired benchmarks: databases seeded in bulk with rows
// derived from their index, so that both sides of a pair start from the
// same rows and a benchmark can name row i of a million-row file without
// reading it.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/passreset/passreset/store/sqlitestore"
)

const (
	// benchPasswordHash is what every seeded user has, and what the
	// passreset side's no-work Hasher and the raw side store: a bcrypt
	// hash's length and shape.
	benchPasswordHash = "$2a$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"
	benchPassword     = "correct horse battery staple"
	benchUserAgent    = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	benchIP           = "203.0.113.7"
)

// benchEpoch is the time of the ids of seeded rows.
var benchEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// rowULID is the ULID of row i of a kind of row: its time is benchEpoch
// plus i milliseconds, so ids sort in row order, and its entropy holds
// kind and i, so ids of different kinds never meet.
func rowULID(kind byte, i int) string {
	var u ulid.ULID
	_ = u.SetTime(ulid.Timestamp(benchEpoch.Add(time.Duration(i) * time.Millisecond)))
	var e [10]byte
	e[0] = kind
	binary.BigEndian.PutUint64(e[2:], uint64(i))
	_ = u.SetEntropy(e[:])
	return u.String()
}

func benchUserID(i int) string    { return "user_" + rowULID('u', i) }
func benchResetID(i int) string   { return "password_reset_" + rowULID('r', i) }
func benchSessionID(i int) string { return "session_" + rowULID('s', i) }
func benchEmail(i int) string     { return fmt.Sprintf("user%07d@example.com", i) }

// Token kinds: the seeded resets' and sessions' tokens, and tokens that
// were never issued.
const (
	resetToken   = 'r'
	sessionToken = 's'
	unknownToken = 'x'
)

// benchToken is a token as the module makes them, 32 bytes in unpadded
// base64url, derived from kind and i.
func benchToken(kind byte, i int) string {
	var b [9]byte
	b[0] = kind
	binary.BigEndian.PutUint64(b[1:], uint64(i))
	h := sha256.Sum256(b[:])
	return base64.RawURLEncoding.EncodeToString(h[:])
}

func tokenHash(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// seedSpec describes a benchmark database. User i has email benchEmail(i);
// reset i belongs to user i%users and has token benchToken(resetToken, i),
// and is unused when it is its user's newest (ended otherwise); session i
// belongs to user i%users and has token benchToken(sessionToken, i). Times
// are now plus or minus a little: resets expire an hour after now,
// sessions 30 days after, and were last seen at now.
type seedSpec struct {
	users, resets, sessions int
	now                     time.Time
}

// seed creates the schema in the file at path and fills it as spec says,
// in one transaction with synchronous=OFF: bulk loading, not the thing
// measured.
func seed(tb testing.TB, path string, spec seedSpec) {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	if err := st.Close(); err != nil {
		tb.Fatal(err)
	}

	db, err := sql.Open("sqlite3", sqlitestore.DSN(path))
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	for _, p := range []string{`PRAGMA synchronous=OFF`, `PRAGMA cache_size=-262144`} {
		if _, err := conn.ExecContext(ctx, p); err != nil {
			tb.Fatal(err)
		}
	}
	if err := fill(ctx, conn, spec); err != nil {
		tb.Fatalf("seed %s: %v", path, err)
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		tb.Fatal(err)
	}
}

func fill(ctx context.Context, conn *sql.Conn, spec seedSpec) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := spec.now.UnixMilli()
	created := spec.now.Add(-48 * time.Hour).UnixMilli()

	insUser, err := tx.PrepareContext(ctx, `INSERT INTO passreset_users (id, email, email_key, email_verified,
	first_name, last_name, password_hash, created_at, updated_at) VALUES (?, ?, ?, 0, 'Marcelina', 'Davis', ?, ?, ?)`)
	if err != nil {
		return err
	}
	for i := range spec.users {
		e := benchEmail(i)
		if _, err := insUser.ExecContext(ctx, benchUserID(i), e, e, benchPasswordHash, created, created); err != nil {
			return err
		}
	}

	insReset, err := tx.PrepareContext(ctx, `INSERT INTO passreset_resets
	(id, user_id, email, token_hash, created_at, expires_at, used_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)`)
	if err != nil {
		return err
	}
	for i := range spec.resets {
		var ended any
		if i < spec.resets-spec.users { // a newer reset of the same user follows
			ended = now - 1000
		}
		u := i % spec.users
		if _, err := insReset.ExecContext(ctx, benchResetID(i), benchUserID(u), benchEmail(u),
			tokenHash(benchToken(resetToken, i)), now-60_000, now+time.Hour.Milliseconds(), ended); err != nil {
			return err
		}
	}

	if err := seedMeta(ctx, tx, spec); err != nil {
		return err
	}

	insSession, err := tx.PrepareContext(ctx, `INSERT INTO passreset_sessions (id, user_id, token_hash, created_at,
	last_seen_at, expires_at, revoked_at, user_agent, ip_address) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)`)
	if err != nil {
		return err
	}
	for i := range spec.sessions {
		if _, err := insSession.ExecContext(ctx, benchSessionID(i), benchUserID(i%spec.users),
			tokenHash(benchToken(sessionToken, i)), now-60_000, now, now+(30*24*time.Hour).Milliseconds(),
			benchUserAgent, benchIP); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// seedMeta records spec in a table of the benchmarks' own, bench_meta, in
// the seeding transaction: a file that has it is complete.
func seedMeta(ctx context.Context, tx *sql.Tx, spec seedSpec) error {
	_, err := tx.ExecContext(ctx, `CREATE TABLE bench_meta (users INTEGER, resets INTEGER, sessions INTEGER, now INTEGER)`)
	if err == nil {
		_, err = tx.ExecContext(ctx, `INSERT INTO bench_meta VALUES (?, ?, ?, ?)`, spec.users, spec.resets, spec.sessions, spec.now.UnixMilli())
	}
	return err
}

// seededAs reports whether the file at path holds a database seeded
// completely as spec says.
func seededAs(path string, spec seedSpec) bool {
	if _, err := os.Stat(path); err != nil {
		return false
	}
	db, err := sql.Open("sqlite3", sqlitestore.DSN(path))
	if err != nil {
		return false
	}
	defer db.Close()
	var got seedSpec
	var now int64
	err = db.QueryRow(`SELECT users, resets, sessions, now FROM bench_meta`).Scan(&got.users, &got.resets, &got.sessions, &now)
	return err == nil && got.users == spec.users && got.resets == spec.resets &&
		got.sessions == spec.sessions && now == spec.now.UnixMilli()
}

// rateKey is the raw side's rate-limit key of an address: a keyed hash, as
// the module's, computed before the timer starts.
func rateKey(email string) string {
	m := hmac.New(sha256.New, []byte("raw side rate-limit key, 32 bytes"))
	m.Write([]byte(email))
	return hex.EncodeToString(m.Sum(nil))
}
