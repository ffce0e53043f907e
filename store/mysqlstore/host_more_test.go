package mysqlstore_test

import (
	"database/sql"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/mail/mailtest"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/sqltest"
	"github.com/passreset/passreset/store/mysqlstore"
)

// TestHostColumnTypes: the key, the verified flag and the updated time are
// read and written as the column's type wants, whatever the session's time
// zone.
func TestHostColumnTypes(t *testing.T) {
	ctx := t.Context()
	at := sqltest.Base.Add(30*time.Minute + 7*time.Second + 890_123_456) // 2026-01-15 12:30:07.890123456 UTC
	for _, c := range []struct {
		name, key, verified, updated string
		keyValue                     string // the key's value, or "" for AUTO_INCREMENT
		wantUpdated                  string // as the session in New York reads it
		integerKey                   bool
	}{
		{"bigint key, boolean, timestamp(3)", "BIGINT AUTO_INCREMENT", "BOOLEAN", "TIMESTAMP(3) NULL", "", "2026-01-15 07:30:07.890", true},
		{"int unsigned key, tinyint, datetime(3)", "INT UNSIGNED", "TINYINT", "DATETIME(3)", "4294967295", "2026-01-15 12:30:07.890", true},
		{"smallint key, int, unix seconds", "SMALLINT", "INT", "BIGINT", "7", "1768480207", true},
		// MariaDB truncates the fraction a DATETIME(0) cannot hold (MySQL 8 rounds it).
		{"text key, boolean, datetime", "VARCHAR(40)", "BOOLEAN", "DATETIME", "acct-7", "2026-01-15 12:30:07", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := freshDB(t).Clone()
			cfg.Params = map[string]string{"time_zone": "'-05:00'"} // New York's winter offset
			db := newDB(t, cfg)
			_, err := db.ExecContext(ctx, `CREATE TABLE people (
				pk      `+c.key+` PRIMARY KEY,
				email   VARCHAR(320) NOT NULL,
				hash    VARCHAR(255) NOT NULL DEFAULT '',
				ok      `+c.verified+` NULL,
				changed `+c.updated+`
			) ENGINE=InnoDB`)
			require.NoError(t, err)
			var key string
			if c.keyValue == "" {
				res, err := db.ExecContext(ctx, `INSERT INTO people (email) VALUES ('ana@example.com')`)
				require.NoError(t, err)
				n, err := res.LastInsertId()
				require.NoError(t, err)
				key = strconv.FormatInt(n, 10)
			} else {
				_, err := db.ExecContext(ctx, `INSERT INTO people (pk, email) VALUES (?, 'ana@example.com')`, c.keyValue)
				require.NoError(t, err)
				key = c.keyValue
			}
			id := key
			if c.integerKey {
				id = "person_" + key
			}

			st, err := mysqlstore.New(ctx, db, mysqlstore.WithUsers(store.UsersTable{
				Table: "people", ID: "pk", Email: "email", PasswordHash: "hash", Verified: "ok", UpdatedAt: "changed",
				IDPrefix: "person_",
			}))
			require.NoError(t, err)
			sqltest.ReadsAndRedeems(t, st, id, []string{"person_", "person_1x", "person_07", "person_99999999999999999999", ""}, at)

			var verified, updated, hash string
			require.NoError(t, db.QueryRowContext(ctx, `SELECT CAST(ok AS CHAR), CAST(changed AS CHAR), hash FROM people`).Scan(&verified, &updated, &hash))
			assert.Equal(t, "1", verified)
			assert.Equal(t, c.wantUpdated, updated)
			assert.Equal(t, "$2a$04$new", hash)
		})
	}
}

// TestHostTableMismatch: a description that does not fit the table is
// refused by Migrate, and by any use before it, with what is wrong named;
// so is a host table that is not InnoDB.
func TestHostTableMismatch(t *testing.T) {
	ctx := t.Context()
	db := newDB(t, freshDB(t))
	_, err := db.ExecContext(ctx, accountsDDL)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `CREATE TABLE legacy_users (id INT PRIMARY KEY, email VARCHAR(100), pw VARCHAR(100)) ENGINE=MyISAM`)
	require.NoError(t, err)
	open := func(d store.UsersTable) (sqltest.Store, error) {
		return mysqlstore.New(ctx, db, mysqlstore.WithUsers(d))
	}
	sqltest.RefusesMismatches(t, sqltest.Accounts(), "mysqlstore: WithUsers: ", open,
		map[string]sqltest.Mismatch{
			"column":   {func(d *store.UsersTable) { d.Email = "email" }, `users table "accounts": no column "email"`},
			"columns":  {func(d *store.UsersTable) { d.Email, d.PasswordHash = "email", "hash" }, `no column "email", "hash"`},
			"table":    {func(d *store.UsersTable) { d.Table = "users" }, `users table "users" does not exist`},
			"database": {func(d *store.UsersTable) { d.Table = "nosuch.accounts" }, `users table "nosuch.accounts" does not exist`},
			"time":     {func(d *store.UsersTable) { d.UpdatedAt = "display_name" }, `column "display_name" (UsersTable.UpdatedAt) is of type varchar, not DATETIME, TIMESTAMP or an integer`},
			"verified": {func(d *store.UsersTable) { d.Verified = "modified_at" }, `column "modified_at" (UsersTable.Verified) is of type timestamp, not BOOLEAN or an integer`},
			"key":      {func(d *store.UsersTable) { d.ID = "modified_at" }, `(UsersTable.ID) is of type timestamp, not an integer or text`},
			"engine": {
				func(d *store.UsersTable) {
					*d = store.UsersTable{Table: "legacy_users", ID: "id", Email: "email", PasswordHash: "pw"}
				},
				`users table "legacy_users" is MyISAM, not InnoDB`,
			},
		})
	sqltest.RefusesBadDescriptions(t, "mysqlstore: WithUsers: ", "database", open)
}

// TestHostTableNotCreated: over a host's table, Migrate creates only
// passreset's own tables and never touches the host's; CreateUser refuses
// and RecordSignIn writes nothing.
func TestHostTableNotCreated(t *testing.T) {
	ctx := t.Context()
	st := accountsStore(t)
	var tables []string
	rows, err := st.DB().QueryContext(ctx, `SELECT TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME`)
	require.NoError(t, err)
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		tables = append(tables, name)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, append([]string{"accounts"}, sqltest.OwnTables...), tables)

	sqltest.NoUserCreator(t, st)
	id := insertAccount(t, st.DB(), "ana@example.com", "h")
	_, err = st.DB().ExecContext(ctx, `UPDATE accounts SET modified_at = '2020-01-01 00:00:00'`)
	require.NoError(t, err)
	require.NoError(t, st.RecordSignIn(ctx, id, sqltest.Base))
	var after string
	require.NoError(t, st.DB().QueryRowContext(ctx, `SELECT CAST(modified_at AS CHAR) FROM accounts`).Scan(&after))
	require.Equal(t, "2020-01-01 00:00:00.000", after, "RecordSignIn wrote the host's row")
}

// TestHostEmailWhateverCollation: addresses are found as
// sqltest.FindsAddresses says, whatever the email column's collation:
// binary (which folds nothing), utf8mb4_general_ci, and utf8mb4_unicode_ci
// (which also take "ö" for "o" and "ß" for "ss").
func TestHostEmailWhateverCollation(t *testing.T) {
	ctx := t.Context()
	for _, collation := range []string{"utf8mb4_bin", "utf8mb4_general_ci", "utf8mb4_unicode_ci"} {
		t.Run(collation, func(t *testing.T) {
			cfg := freshDB(t)
			db := newDB(t, cfg)
			_, err := db.ExecContext(ctx, `CREATE TABLE accounts (
				account_id    BIGINT AUTO_INCREMENT PRIMARY KEY,
				email_address VARCHAR(320) CHARACTER SET utf8mb4 COLLATE `+collation+` NOT NULL,
				pw_digest     VARCHAR(255),
				KEY (email_address)
			) ENGINE=InnoDB`)
			require.NoError(t, err)
			st := newStoreIn(t, cfg, mysqlstore.WithUsers(store.UsersTable{
				Table: "accounts", ID: "account_id", Email: "email_address", PasswordHash: "pw_digest",
			}))
			sqltest.FindsAddresses(t, st, func(email string) string { return insertAccount(t, db, email, "h") })
		})
	}
}

// TestHostEmailEqualityUsesIndex: the first lookup by email is a plain
// equality on the column, which the host's index on it serves.
func TestHostEmailEqualityUsesIndex(t *testing.T) {
	ctx := t.Context()
	st := accountsStore(t)
	for i := range 50 {
		insertAccount(t, st.DB(), "user"+strconv.Itoa(i)+"@example.com", "h")
	}
	_, err := st.DB().ExecContext(ctx, `ANALYZE TABLE accounts`)
	require.NoError(t, err)
	equality, err := mysqlstore.HostEmailSQL(ctx, st)
	require.NoError(t, err)
	require.NotContains(t, strings.ToLower(equality), "lower(", "the equality folds the column")
	var (
		id, selectType, table, typ        sql.NullString
		possible, key, keyLen, ref, extra sql.NullString
		rows                              sql.NullInt64
	)
	require.NoError(t, st.DB().QueryRowContext(ctx, "EXPLAIN "+equality, "user7@example.com").Scan(
		&id, &selectType, &table, &typ, &possible, &key, &keyLen, &ref, &rows, &extra))
	require.Equal(t, "email_address", key.String, "the plan: %s %s", typ.String, extra.String)
}

// TestHostAddressInAnotherForm: a reset of a host's row whose address is
// stored in another form than the one asked for (decomposed accents, the
// domain in Unicode, capitals), and rewritten in yet another before the
// redemption, is redeemed: the redemption's check that the address is
// still the user's compares the forms UserByEmail matches by.
func TestHostAddressInAnotherForm(t *testing.T) {
	ctx := t.Context()
	st := accountsStore(t)
	id := insertAccount(t, st.DB(), "JOSE\u0301@BU\u0308CHER.example", "$2a$04$old")
	svc, err := reset.NewService(reset.Config{
		Store: st, Mailer: new(mailtest.Recorder), ResetURL: "https://app.example/reset-password",
		Hasher: password.Bcrypt{Cost: 4}, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	pr, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "jos\u00e9@xn--bcher-kva.example"})
	require.NoError(t, err)
	require.Equal(t, id, pr.UserID)
	// The host rewrites the row's address in another form of the same
	// mailbox (composed accents, the domain in ASCII) before the link is
	// opened: it is still the address the reset was sent to.
	_, err = st.DB().ExecContext(ctx, `UPDATE accounts SET email_address = ?`, "Jos\u00e9@xn--bcher-kva.EXAMPLE")
	require.NoError(t, err)
	u, err := svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "a brand new passphrase"})
	require.NoError(t, err)
	require.Equal(t, id, u.ID)
}
