package mysqlstore_test

import (
	"database/sql"
	"strconv"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/sqltest"
	"github.com/passreset/passreset/store/mysqlstore"
	"github.com/passreset/passreset/store/storetest"
)

// accountsDDL is a host's own users table, as an app that never heard of
// passreset made it: auto-increment keys, its own column names, a unique
// index on the address under a case- and accent-insensitive collation (as
// most MySQL apps have), a TIMESTAMP updated time.
const accountsDDL = `CREATE TABLE accounts (
    account_id    BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    email_address VARCHAR(320) COLLATE utf8mb4_unicode_ci NOT NULL UNIQUE,
    pw_digest     VARCHAR(255) NULL,
    is_verified   BOOLEAN      NOT NULL DEFAULT FALSE,
    modified_at   TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    display_name  VARCHAR(100) NOT NULL DEFAULT ''
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`

// accountsStore returns a migrated Store over the accounts table of a
// fresh database, which holds passreset's tables too.
func accountsStore(t testing.TB) *mysqlstore.Store {
	t.Helper()
	cfg := freshDB(t)
	_, err := newDB(t, cfg).ExecContext(t.Context(), accountsDDL)
	require.NoError(t, err)
	return newStoreIn(t, cfg, mysqlstore.WithUsers(sqltest.Accounts()))
}

// insertAccount adds a row the way the host's own sign-up would ("" for
// no password: NULL), and returns the id the Store shows for it.
func insertAccount(t testing.TB, db *sql.DB, email, hash string) string {
	t.Helper()
	res, err := db.ExecContext(t.Context(), `INSERT INTO accounts (email_address, pw_digest) VALUES (?, NULLIF(?, ''))`, email, hash)
	require.NoError(t, err)
	id, err := res.LastInsertId()
	require.NoError(t, err)
	return "user_" + strconv.FormatInt(id, 10)
}

// membersDB returns the configuration of a fresh database holding the
// host's "team members" table (text keys, no verified flag, no updated
// time, a name that needs quoting, addresses compared byte for byte), and
// the table's qualified name as SQL writes it and as a UsersTable names
// it.
func membersDB(t testing.TB) (cfg *mysql.Config, sqlName, tableName string) {
	t.Helper()
	host := freshDB(t)
	sqlName = "`" + host.DBName + "`.`team members`"
	_, err := newDB(t, host).ExecContext(t.Context(), "CREATE TABLE `team members` ("+`
		member_key VARCHAR(64)  NOT NULL PRIMARY KEY,
		mail       VARCHAR(320) NOT NULL,
		secret     TEXT         NOT NULL
	) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`)
	require.NoError(t, err)
	return freshDB(t), sqlName, host.DBName + ".team members"
}

func TestConformanceOverHostTable(t *testing.T) {
	testURL(t)
	storetest.Run(t, storetest.Harness{
		NewStore: func(t *testing.T) store.Store { return accountsStore(t) },
		AddUser: func(t *testing.T, st store.Store, email, hash string) string {
			return insertAccount(t, st.(*mysqlstore.Store).DB(), email, hash)
		},
		SetEmail: func(t *testing.T, st store.Store, userID, email string) {
			exec(t, st, `UPDATE accounts SET email_address = ? WHERE account_id = ?`, email, strings.TrimPrefix(userID, "user_"))
		},
		DeleteUser: func(t *testing.T, st store.Store, userID string) {
			exec(t, st, `DELETE FROM accounts WHERE account_id = ?`, strings.TrimPrefix(userID, "user_"))
		},
	})
}

// TestConformanceOverTextKeys runs the suite over a host table in another
// database than passreset's tables, with text keys, a binary collation and
// neither a verified flag nor an updated time.
func TestConformanceOverTextKeys(t *testing.T) {
	testURL(t)
	tables := map[store.Store]string{}
	storetest.Run(t, storetest.Harness{
		NewStore: func(t *testing.T) store.Store {
			own, sqlName, name := membersDB(t)
			st := newStoreIn(t, own, mysqlstore.WithUsers(store.UsersTable{
				Table: name, ID: "member_key", Email: "mail", PasswordHash: "secret",
			}))
			tables[st] = sqlName
			return st
		},
		AddUser: func(t *testing.T, st store.Store, email, hash string) string {
			key := "member-" + dbName()
			exec(t, st, `INSERT INTO `+tables[st]+` (member_key, mail, secret) VALUES (?, ?, ?)`, key, email, hash)
			return key
		},
		SetEmail: func(t *testing.T, st store.Store, userID, email string) {
			exec(t, st, `UPDATE `+tables[st]+` SET mail = ? WHERE member_key = ?`, email, userID)
		},
		DeleteUser: func(t *testing.T, st store.Store, userID string) {
			exec(t, st, `DELETE FROM `+tables[st]+` WHERE member_key = ?`, userID)
		},
		NoVerifiedFlag: true,
	})
}
