package pgstore_test

import (
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/mail/mailtest"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/sqltest"
	"github.com/passreset/passreset/store/pgstore"
	"github.com/passreset/passreset/store/storetest"
	"github.com/passreset/passreset/token"
)

// accountsDDL is a host's own users table, as an app that never heard of
// passreset made it: bigserial keys, its own column names, a unique index
// on the address as the app stores it.
const accountsDDL = `CREATE TABLE accounts (
    account_id    bigserial   PRIMARY KEY,
    email_address text        NOT NULL UNIQUE,
    pw_digest     text,
    is_verified   boolean     NOT NULL DEFAULT false,
    modified_at   timestamptz NOT NULL DEFAULT now(),
    display_name  text        NOT NULL DEFAULT ''
)`

// accountsStore returns a migrated Store over the accounts table of a
// fresh schema, which holds passreset's tables too (found through the
// search_path, as the host's own are).
func accountsStore(t testing.TB) *pgstore.Store {
	t.Helper()
	pool := newPool(t, freshSchema(t))
	_, err := pool.Exec(t.Context(), accountsDDL)
	require.NoError(t, err)
	return migratedStore(t, pool, pgstore.WithUsers(sqltest.Accounts()))
}

// insertAccount adds a row the way the host's own sign-up would ("" for
// no password: NULL), and returns the id the Store shows for it.
func insertAccount(t testing.TB, st *pgstore.Store, email, hash string) string {
	t.Helper()
	var id int64
	require.NoError(t, st.Pool().QueryRow(t.Context(),
		`INSERT INTO accounts (email_address, pw_digest) VALUES ($1, nullif($2, '')) RETURNING account_id`,
		email, hash).Scan(&id))
	return "user_" + strconv.FormatInt(id, 10)
}

// membersStore returns a migrated Store whose users are in "team members"
// (text keys, no verified flag, no updated time, a name that needs
// quoting) of a schema of the host's, and whose own tables are in another
// (WithSchema), over a pool that leaves the search_path alone.
func membersStore(t testing.TB) (st *pgstore.Store, members string) {
	t.Helper()
	hostSchema := freshSchema(t)
	members = pgx.Identifier{hostSchema, "team members"}.Sanitize()
	own := schemaName()
	dropSchemaOnCleanup(t, own)
	pool := newPool(t, "")
	_, err := pool.Exec(t.Context(), `CREATE TABLE `+members+` (
		member_key text PRIMARY KEY,
		mail       text NOT NULL,
		secret     text NOT NULL DEFAULT ''
	)`)
	require.NoError(t, err)
	return migratedStore(t, pool, pgstore.WithSchema(own), pgstore.WithUsers(store.UsersTable{
		Table: hostSchema + ".team members", ID: "member_key", Email: "mail", PasswordHash: "secret",
	})), members
}

// newHostService is a reset Service over st with cheap bcrypt and the
// clock now.
func newHostService(t testing.TB, st store.Store, hasher password.Hasher, now func() time.Time) *reset.Service {
	t.Helper()
	svc, err := reset.NewService(reset.Config{
		Store: st, Mailer: new(mailtest.Recorder), ResetURL: "https://app.example/reset-password",
		Hasher: hasher, Now: now, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	return svc
}

// hostAccounts is an account.Service on svc.
func hostAccounts(t testing.TB, svc *reset.Service) *account.Service {
	t.Helper()
	accounts, err := account.New(svc, account.Config{})
	require.NoError(t, err)
	return accounts
}

func TestConformanceOverHostTable(t *testing.T) {
	testURL(t)
	storetest.Run(t, storetest.Harness{
		NewStore: func(t *testing.T) store.Store { return accountsStore(t) },
		AddUser: func(t *testing.T, st store.Store, email, hash string) string {
			return insertAccount(t, st.(*pgstore.Store), email, hash)
		},
		SetEmail: func(t *testing.T, st store.Store, userID, email string) {
			exec(t, st, `UPDATE accounts SET email_address = $1 WHERE account_id = $2`, email, strings.TrimPrefix(userID, "user_"))
		},
		DeleteUser: func(t *testing.T, st store.Store, userID string) {
			exec(t, st, `DELETE FROM accounts WHERE account_id = $1`, strings.TrimPrefix(userID, "user_"))
		},
	})
}

// TestConformanceOverTextKeys runs the suite over a host table in another
// schema than passreset's tables, with text keys and neither a verified
// flag nor an updated time.
func TestConformanceOverTextKeys(t *testing.T) {
	testURL(t)
	tables := map[store.Store]string{}
	storetest.Run(t, storetest.Harness{
		NewStore: func(t *testing.T) store.Store {
			st, members := membersStore(t)
			tables[st] = members
			return st
		},
		AddUser: func(t *testing.T, st store.Store, email, hash string) string {
			key := newID("member-")
			exec(t, st, `INSERT INTO `+tables[st]+` (member_key, mail, secret) VALUES ($1, $2, $3)`, key, email, hash)
			return key
		},
		SetEmail: func(t *testing.T, st store.Store, userID, email string) {
			exec(t, st, `UPDATE `+tables[st]+` SET mail = $1 WHERE member_key = $2`, email, userID)
		},
		DeleteUser: func(t *testing.T, st store.Store, userID string) {
			exec(t, st, `DELETE FROM `+tables[st]+` WHERE member_key = $1`, userID)
		},
		NoVerifiedFlag: true,
	})
}

// TestHostRowAfterReset: a whole reset through the Service writes the
// host's row as the host reads it, and nothing else of it or of the other
// rows.
func TestHostRowAfterReset(t *testing.T) {
	ctx := t.Context()
	st := accountsStore(t)
	id := insertAccount(t, st, "ana@example.com", "$2a$04$old")
	other := insertAccount(t, st, "bob@example.com", "$2a$04$bob")
	_, err := st.Pool().Exec(ctx, `UPDATE accounts SET display_name = 'Ana', modified_at = '2020-01-01T00:00:00Z'`)
	require.NoError(t, err)

	at := time.Date(2026, 3, 4, 5, 6, 7, 890_123_456, time.UTC)
	svc := newHostService(t, st, password.Bcrypt{Cost: 4}, func() time.Time { return at })
	pr, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ANA@example.com"})
	require.NoError(t, err)
	require.Equal(t, id, pr.UserID)
	u, err := svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "a brand new password"})
	require.NoError(t, err)
	require.Equal(t, id, u.ID)
	require.True(t, u.EmailVerified)

	type row struct {
		digest, email, name string
		verified            bool
		modified            time.Time
	}
	read := func(id string) row {
		t.Helper()
		key, err := strconv.ParseInt(strings.TrimPrefix(id, "user_"), 10, 64)
		require.NoError(t, err)
		var r row
		require.NoError(t, st.Pool().QueryRow(ctx, `SELECT pw_digest, email_address, display_name, is_verified, modified_at
			FROM accounts WHERE account_id = $1`, key).Scan(&r.digest, &r.email, &r.name, &r.verified, &r.modified))
		return r
	}
	got := read(id)
	require.True(t, strings.HasPrefix(got.digest, "$2a$04$"), "the new hash is bcrypt: %q", got.digest)
	require.NotEqual(t, "$2a$04$old", got.digest)
	require.True(t, got.verified)
	require.Equal(t, "Ana", got.name, "a column passreset was not told of changed")
	require.Equal(t, "ana@example.com", got.email)
	require.True(t, at.Truncate(time.Millisecond).Equal(got.modified), "modified_at: %s", got.modified)

	untouched := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	require.Equal(t, row{digest: "$2a$04$bob", email: "bob@example.com", name: "Ana", modified: untouched},
		func() row { r := read(other); r.modified = r.modified.UTC(); return r }(), "another row changed")

	// The host's own login reads the new hash and accepts the password,
	// and passreset's sign-in finds the same.
	stamp, err := svc.CheckPassword(got.digest, "a brand new password")
	require.NoError(t, err)
	require.Equal(t, reset.Stamp(got.digest), stamp)
	_, err = svc.CheckPassword(got.digest, "$2a$04$old")
	require.ErrorIs(t, err, reset.ErrInvalidCredentials)
	in, err := hostAccounts(t, svc).Authenticate(ctx, account.AuthenticateParams{Email: "Ana@Example.com", Password: "a brand new password"})
	require.NoError(t, err)
	require.Equal(t, id, in.User.ID)
	require.Equal(t, stamp, in.Stamp)

	_, err = svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "another new password"})
	require.ErrorIs(t, err, reset.ErrInvalidToken, "the link was spent")
}

// TestHostColumnTypes: the key, the verified flag and the updated time are
// read and written as the column's type wants, whatever the session's time
// zone.
func TestHostColumnTypes(t *testing.T) {
	ctx := t.Context()
	at := base.Add(30*time.Minute + 7*time.Second + 890_123_456) // 2026-01-15 12:30:07.890123456 UTC
	for _, c := range []struct {
		name, key, verified, updated string
		keyValue                     string // the SQL of a key, or "" for the column's default
		wantVerified, wantUpdated    string // as text, in New York time
		integerKey                   bool
	}{
		{"serial key, boolean, timestamptz", "serial", "boolean", "timestamptz", "", "true", "2026-01-15 07:30:07.89-05", true},
		{"bigint key, smallint, timestamp", "bigint", "smallint", "timestamp", "9007199254740993", "1", "2026-01-15 12:30:07.89", true},
		{"smallint key, integer, unix seconds", "smallint", "integer", "bigint", "7", "1", strconv.FormatInt(at.Unix(), 10), true},
		{"text key, boolean, timestamp(0)", "varchar(40)", "boolean", "timestamp(0) without time zone", "'acct-7'", "true", "2026-01-15 12:30:08", false},
		{"uuid key", "uuid", "boolean", "timestamptz", "gen_random_uuid()", "true", "2026-01-15 07:30:07.89-05", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			schema := freshSchema(t)
			cfg, err := pgxpool.ParseConfig(testURL(t))
			require.NoError(t, err)
			cfg.ConnConfig.RuntimeParams["search_path"] = schema
			cfg.ConnConfig.RuntimeParams["timezone"] = "America/New_York"
			pool, err := pgxpool.NewWithConfig(ctx, cfg)
			require.NoError(t, err)
			t.Cleanup(pool.Close)

			keyDefault := ""
			if c.keyValue != "" {
				keyDefault = " DEFAULT " + c.keyValue
			}
			_, err = pool.Exec(ctx, `CREATE TABLE people (
				pk      `+c.key+` PRIMARY KEY`+keyDefault+`,
				email   text NOT NULL,
				hash    text NOT NULL DEFAULT '',
				ok      `+c.verified+`,
				changed `+c.updated+`
			)`)
			require.NoError(t, err)
			var key string
			require.NoError(t, pool.QueryRow(ctx, `INSERT INTO people (email) VALUES ('ana@example.com') RETURNING pk::text`).Scan(&key))
			id := key
			if c.integerKey {
				id = "person_" + key
			}

			st, err := pgstore.New(ctx, pool, pgstore.WithUsers(store.UsersTable{
				Table: "people", ID: "pk", Email: "email", PasswordHash: "hash", Verified: "ok", UpdatedAt: "changed",
				IDPrefix: "person_",
			}))
			require.NoError(t, err)
			sqltest.ReadsAndRedeems(t, st, id, []string{"person_", "person_1x", "not-a-uuid", strings.ToUpper(id) + "0", "person_99999999999999999999"}, at)

			var verified, updated, hash string
			require.NoError(t, pool.QueryRow(ctx, `SELECT ok::text, changed::text, hash FROM people`).Scan(&verified, &updated, &hash))
			assert.Equal(t, c.wantVerified, verified)
			assert.Equal(t, c.wantUpdated, updated)
			assert.Equal(t, "$2a$04$new", hash)
		})
	}
}

// TestHostIDsThatNameNoRow: ids that cannot name a row of an integer key
// find nothing, without asking the database to read a malformed number.
func TestHostIDsThatNameNoRow(t *testing.T) {
	ctx := t.Context()
	st := accountsStore(t)
	id := insertAccount(t, st, "ana@example.com", "$2a$04$old")
	for _, bad := range []string{"user_", "user_01", "user_+1", "user_1x", "1", "user_99999999999999999999", "account_1", ""} {
		_, err := st.UserByID(ctx, bad)
		require.ErrorIs(t, err, store.ErrUserNotFound, bad)
		_, err = st.PasswordHash(ctx, bad)
		require.ErrorIs(t, err, store.ErrUserNotFound, bad)
		err = st.CreateReset(ctx, store.Reset{ID: newID("password_reset_"), UserID: bad, Email: "ana@example.com",
			TokenHash: token.Sum(bad + "x"), CreatedAt: base, ExpiresAt: base.Add(time.Hour)}, nil)
		require.ErrorIs(t, err, store.ErrUserNotFound, bad)
	}
	r := newReset(store.User{ID: id, Email: "ana@example.com"}, "a token")
	require.NoError(t, st.CreateReset(ctx, r, nil))
	_, err := st.RedeemReset(ctx, store.Redemption{ResetID: r.ID, UserID: "user_x", PasswordHash: "h", Now: base})
	require.ErrorIs(t, err, store.ErrInvalidToken, "a redemption naming a malformed user")
	h, err := st.PasswordHash(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "$2a$04$old", h)
}

// TestHostTableMismatch: a description that does not fit the table is
// refused by Migrate, and by any use before it, with what is wrong named.
func TestHostTableMismatch(t *testing.T) {
	ctx := t.Context()
	pool := newPool(t, freshSchema(t))
	_, err := pool.Exec(ctx, accountsDDL)
	require.NoError(t, err)
	open := func(d store.UsersTable) (sqltest.Store, error) { return pgstore.New(ctx, pool, pgstore.WithUsers(d)) }
	sqltest.RefusesMismatches(t, sqltest.Accounts(), "pgstore: WithUsers: ", open,
		map[string]sqltest.Mismatch{
			"column":   {func(d *store.UsersTable) { d.Email = "email" }, `users table "accounts": no column "email"`},
			"columns":  {func(d *store.UsersTable) { d.Email, d.PasswordHash = "email", "hash" }, `no column "email", "hash"`},
			"case":     {func(d *store.UsersTable) { d.ID = "Account_ID" }, `no column "Account_ID" (there is "account_id": names are quoted, so case matters)`},
			"table":    {func(d *store.UsersTable) { d.Table = "users" }, `users table "users" does not exist`},
			"schema":   {func(d *store.UsersTable) { d.Table = "nosuch.accounts" }, `users table "nosuch.accounts" does not exist`},
			"updated":  {func(d *store.UsersTable) { d.UpdatedAt = "changed" }, `no column "changed"`},
			"time":     {func(d *store.UsersTable) { d.UpdatedAt = "display_name" }, `column "display_name" (UsersTable.UpdatedAt) is of type text, not timestamp or integer`},
			"verified": {func(d *store.UsersTable) { d.Verified = "modified_at" }, `column "modified_at" (UsersTable.Verified) is of type timestamp with time zone, not boolean or integer`},
			"key":      {func(d *store.UsersTable) { d.ID = "modified_at" }, `(UsersTable.ID) is of type timestamp with time zone, not integer or text or uuid`},
		})
	sqltest.RefusesBadDescriptions(t, "pgstore: WithUsers: ", "schema", open)
}

// TestHostTableNotCreated: over a host's table, Migrate creates only
// passreset's own tables and never touches the host's; CreateUser refuses
// and RecordSignIn writes nothing.
func TestHostTableNotCreated(t *testing.T) {
	ctx := t.Context()
	st := accountsStore(t)
	rows, err := st.Pool().Query(ctx, `SELECT table_name::text FROM information_schema.tables
		WHERE table_schema = current_schema() ORDER BY table_name`)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, append([]string{"accounts"}, sqltest.OwnTables...), tables)
	require.Equal(t, stateMigrations(), appliedMigrations(t, st, "passreset_migrations"))

	sqltest.NoUserCreator(t, st)
	var n int
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT count(*) FROM accounts`).Scan(&n))
	require.Zero(t, n)

	id := insertAccount(t, st, "ana@example.com", "h")
	var before time.Time
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT modified_at FROM accounts`).Scan(&before))
	require.NoError(t, st.RecordSignIn(ctx, id, base))
	var after time.Time
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT modified_at FROM accounts`).Scan(&after))
	require.True(t, before.Equal(after), "RecordSignIn wrote the host's row")
}

// TestHostEmailWhateverCollation: addresses are found as
// sqltest.FindsAddresses says, whatever the email column's collation: "C"
// (where lower() and ILIKE fold ASCII alone), the database's default, and
// a nondeterministic ICU collation (which refuses a plain ILIKE).
func TestHostEmailWhateverCollation(t *testing.T) {
	ctx := t.Context()
	var cLower string
	require.NoError(t, newPool(t, "").QueryRow(ctx, `SELECT lower('ÜNAL' COLLATE "C")`).Scan(&cLower))
	require.NotEqual(t, "ünal", cLower, "lower() under C folds non-ASCII here: the C case proves nothing")

	for _, c := range []struct{ name, collation, create string }{
		{"C", `"C"`, ""},
		{"default", `"default"`, ""},
		{"ICU nondeterministic", "ci", `CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			pool := newPool(t, freshSchema(t))
			if c.create != "" {
				if _, err := pool.Exec(ctx, c.create); err != nil {
					t.Skipf("the server cannot make the collation (built without ICU?): %v", err)
				}
			}
			_, err := pool.Exec(ctx, `CREATE TABLE accounts (
				account_id    bigserial PRIMARY KEY,
				email_address text COLLATE `+c.collation+` NOT NULL,
				pw_digest     text)`)
			require.NoError(t, err)
			st := migratedStore(t, pool, pgstore.WithUsers(store.UsersTable{
				Table: "accounts", ID: "account_id", Email: "email_address", PasswordHash: "pw_digest",
			}))
			sqltest.FindsAddresses(t, st, func(email string) string { return insertAccount(t, st, email, "h") })
		})
	}
}

// TestHostEmailEqualityUsesIndex: the first lookup by email is a plain
// equality on the column, which the host's index on it serves.
func TestHostEmailEqualityUsesIndex(t *testing.T) {
	ctx := t.Context()
	st := accountsStore(t)
	equality, fallback, err := pgstore.HostEmailSQL(ctx, st)
	require.NoError(t, err)
	require.NotContains(t, strings.ToLower(equality), "lower(", "the equality folds the column")
	require.Contains(t, fallback, `COLLATE "C" ILIKE`)

	tx, err := st.Pool().Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, "SET LOCAL enable_seqscan = off")
	require.NoError(t, err)
	rows, err := tx.Query(ctx, "EXPLAIN "+equality, "ana@example.com")
	require.NoError(t, err)
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Contains(t, strings.Join(plan, "\n"), "accounts_email_address_key")
}

// TestSessionStamp: a session's credential stamp is kept and read back,
// over passreset's users and a host's.
func TestSessionStamp(t *testing.T) {
	for name, st := range map[string]*pgstore.Store{"own users": newStore(t), "host's users": accountsStore(t)} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			s := session.Session{ID: newID("session_"), UserID: "user_1", CreatedAt: base, LastSeenAt: base,
				ExpiresAt: base.Add(time.Hour), Stamp: "Zm9vYmFyYmF6cXV4cXV1eA"}
			h := token.Sum("a session token")
			require.NoError(t, st.CreateSession(ctx, s, h))
			bare := session.Session{ID: newID("session_"), UserID: "user_1", CreatedAt: base, LastSeenAt: base, ExpiresAt: base.Add(time.Hour)}
			require.NoError(t, st.CreateSession(ctx, bare, token.Sum("another token")))

			got, err := st.SessionByTokenHash(ctx, h)
			require.NoError(t, err)
			require.Equal(t, s.Stamp, got.Stamp)
			got, err = st.SessionByID(ctx, s.ID)
			require.NoError(t, err)
			require.Equal(t, s.Stamp, got.Stamp)
			list, err := st.ListSessions(ctx, "user_1", session.ListParams{})
			require.NoError(t, err)
			stamps := make([]string, len(list))
			for i, l := range list {
				stamps[i] = l.Stamp
			}
			slices.Sort(stamps)
			require.Equal(t, []string{"", s.Stamp}, stamps)
		})
	}
}

// TestStampEndsRacingSignIn: over a host's table, a sign-in that checked
// the old password before a reset committed gets a session that is refused
// on its first request; one with the new password is served.
func TestStampEndsRacingSignIn(t *testing.T) {
	ctx := t.Context()
	st := accountsStore(t)
	old, err := fastHasher{}.Hash(password.Normalize("old password 1"))
	require.NoError(t, err)
	id := insertAccount(t, st, "ana@example.com", old)
	svc := newHostService(t, st, fastHasher{}, nil)
	sm, err := session.New(session.Config{Store: st, Stamps: svc})
	require.NoError(t, err)

	in, err := hostAccounts(t, svc).Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: "old password 1"})
	require.NoError(t, err)
	require.Equal(t, id, in.User.ID)
	_, before, err := sm.Create(ctx, id, session.Metadata{Stamp: in.Stamp})
	require.NoError(t, err)
	_, err = sm.Validate(ctx, before)
	require.NoError(t, err)

	pr, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ana@example.com"})
	require.NoError(t, err)
	_, err = svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "new password 2"})
	require.NoError(t, err)

	_, err = sm.Validate(ctx, before)
	require.ErrorIs(t, err, session.ErrRevoked, "a session from before the reset")
	_, late, err := sm.Create(ctx, id, session.Metadata{Stamp: in.Stamp}) // the racing sign-in, committing now
	require.NoError(t, err)
	_, err = sm.Validate(ctx, late)
	require.ErrorIs(t, err, session.ErrRevoked, "a session with the old password's stamp")

	in, err = hostAccounts(t, svc).Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: "new password 2"})
	require.NoError(t, err)
	_, fresh, err := sm.Create(ctx, id, session.Metadata{Stamp: in.Stamp})
	require.NoError(t, err)
	_, err = sm.Validate(ctx, fresh)
	require.NoError(t, err)
}
