package mysqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/sqlcore"
)

var _ sqlcore.Store = (*Store)(nil)

// Store keeps password resets, sessions, rate-limit records, idempotency
// records and the job outbox in MySQL or MariaDB, beside the users: the
// host's own table (WithUsers) or passreset's own, passreset_users. It
// implements store.Store, store.UserCreator, store.SignInRecorder and
// session.Store. It is safe for concurrent use, by goroutines and by any
// number of processes sharing the database.
type Store struct {
	db     *sql.DB
	owned  bool           // Close closes db
	txOpts *sql.TxOptions // nil when every connection is READ COMMITTED already (Open)
	host   *hostTable     // the host's users table (WithUsers); nil: passreset_users
}

// Option configures a Store.
type Option func(*options)

type options struct {
	users *store.UsersTable
}

// WithUsers makes the Store read users from the host's own table,
// described by t, instead of keeping passreset_users: the Store then writes
// to that table only a reset's new password hash and, where t names them,
// the verified flag and the updated time, in the transaction that spends
// the token.
//
// t.Table may name a database ("app.accounts"); an unqualified name is in
// the connection's database. Names are quoted with backticks.
//
// Migrate checks the description against the table and learns its types:
// a key column of an integer type shows as t.IDPrefix and the number
// ("user_42"); one of CHAR, VARCHAR or a TEXT type shows as it is.
// Verified may be BOOLEAN or another integer type (set to 1). UpdatedAt
// may be DATETIME (set to the UTC wall clock of the reset), TIMESTAMP (the
// instant) or an integer (unix seconds). The table must exist before
// Migrate, and be InnoDB: a reset writes it in a transaction.
func WithUsers(t store.UsersTable) Option {
	return func(o *options) { o.users = &t }
}

// New returns a Store over db, which the caller keeps and closes. It does
// not touch the database; call Migrate before first use.
//
// The Store's transactions run at READ COMMITTED: over a pool that OpenDB
// made, whose connections are set so when they connect, as is; over any
// other, each transaction begins with SET TRANSACTION ISOLATION LEVEL READ
// COMMITTED (one more round trip). db must hold utf8mb4 text (the driver's
// default).
func New(ctx context.Context, db *sql.DB, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, errors.New("mysqlstore: nil db")
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	s := &Store{db: db}
	if _, ok := db.Driver().(readCommittedDriver); !ok {
		s.txOpts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	if o.users != nil {
		h, err := newHostTable(*o.users)
		if err != nil {
			return nil, fmt.Errorf("mysqlstore: WithUsers: %w", err)
		}
		s.host = h
	}
	return s, nil
}

// Open connects to the database named by dsn, checks that it answers, and
// returns a Store whose Close closes the pool it made. dsn is either the
// driver's form ("user:password@tcp(host:3306)/dbname?param=value") or a
// URL ("mysql://user:password@host:3306/dbname?param=value").
//
// Open sets on the parsed configuration what the Store needs, whatever
// dsn says: utf8mb4 text, placeholders interpolated on the client (one
// round trip per statement instead of prepare, execute and close), and
// every connection's transactions at READ COMMITTED (see the package doc).
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	cfg, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	db, err := OpenDB(cfg)
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("mysqlstore: open: %w", err)
	}
	s, err := New(ctx, db, opts...)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.owned, s.txOpts = true, nil
	return s, nil
}

// ParseDSN parses dsn, in the driver's form or as a mysql:// URL (see
// Open), into the driver's configuration with the options the Store needs
// set. Its error never quotes dsn, which may hold a password.
func ParseDSN(dsn string) (*mysql.Config, error) {
	if rest, ok := strings.CutPrefix(dsn, "mysql://"); ok {
		var err error
		if dsn, err = urlToDSN(rest); err != nil {
			return nil, err
		}
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, errors.New("mysqlstore: open: invalid data source name")
	}
	cfg.InterpolateParams = true
	if !strings.HasPrefix(cfg.Collation, "utf8mb4") {
		cfg.Collation = "utf8mb4_general_ci"
	}
	return cfg, nil
}

// urlToDSN turns the rest of a mysql:// URL, user:password@host:port/db?params,
// into the driver's form.
func urlToDSN(rest string) (string, error) {
	bad := errors.New("mysqlstore: open: invalid mysql:// URL (want mysql://user:password@host:port/database)")
	path, query, _ := strings.Cut(rest, "?")
	authority, db, ok := strings.Cut(path, "/")
	if !ok || db == "" || strings.Contains(db, "/") {
		return "", bad
	}
	userinfo, hostport := "", authority
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		userinfo, hostport = authority[:i], authority[i+1:]
	}
	if hostport == "" {
		return "", bad
	}
	user, pass, hasPass := strings.Cut(userinfo, ":")
	var err error
	if user, err = unescape(user); err != nil {
		return "", bad
	}
	if pass, err = unescape(pass); err != nil {
		return "", bad
	}
	if db, err = unescape(db); err != nil {
		return "", bad
	}
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr, cfg.DBName = user, "tcp", hostport, db
	if hasPass {
		cfg.Passwd = pass
	}
	out := cfg.FormatDSN()
	if query != "" {
		sep := "?"
		if strings.Contains(out, "?") {
			sep = "&"
		}
		out += sep + query
	}
	return out, nil
}

// unescape undoes a URL's percent-escapes.
func unescape(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", errors.New("bad escape")
		}
		hi, lo := unhex(s[i+1]), unhex(s[i+2])
		if hi < 0 || lo < 0 {
			return "", errors.New("bad escape")
		}
		b.WriteByte(byte(hi<<4 | lo))
		i += 2
	}
	return b.String(), nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// OpenDB returns a pool over cfg whose connections run their transactions
// at READ COMMITTED, set once when each connects: a pool to hand to New
// that spares each transaction a round trip. ParseDSN gives such a cfg.
func OpenDB(cfg *mysql.Config) (*sql.DB, error) {
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, errors.New("mysqlstore: open: invalid configuration")
	}
	return sql.OpenDB(readCommitted{c}), nil
}

// readCommitted is a connector whose connections run their transactions at
// READ COMMITTED.
type readCommitted struct{ driver.Connector }

// readCommittedDriver is the driver of a readCommitted connector: New tells
// by it that a pool's connections are set already.
type readCommittedDriver struct{ driver.Driver }

func (c readCommitted) Driver() driver.Driver { return readCommittedDriver{c.Connector.Driver()} }

func (c readCommitted) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	ex, ok := conn.(driver.ExecerContext)
	if !ok {
		conn.Close()
		return nil, errors.New("mysqlstore: the driver's connection cannot execute statements")
	}
	if _, err := ex.ExecContext(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", nil); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// Close closes the pool when Open made it; a pool passed to New is the
// caller's to close.
func (s *Store) Close() error {
	if s.owned {
		return s.db.Close()
	}
	return nil
}

// Durable reports true: the Store's state is in a database server. It
// implements store.Durable.
func (s *Store) Durable() bool { return true }

// wrap wraps an infrastructure failure with the operation that met it.
func wrap(op string, err error) error {
	return fmt.Errorf("mysqlstore: %s: %w", op, err)
}

// MySQL's error numbers the Store translates or retries.
const (
	erDupEntry     = 1062
	erLockDeadlock = 1213
)

type mysqlError = mysql.MySQLError

func isMySQLError(err error, number uint16) bool {
	me, ok := errors.AsType[*mysqlError](err)
	return ok && me.Number == number
}

// inTx runs fn in a transaction at READ COMMITTED and commits it. A
// transaction InnoDB chose as the victim of a deadlock (rolled back whole)
// runs again, a few times.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	var err error
	for range 5 {
		err = s.tryTx(ctx, fn)
		if !isMySQLError(err, erLockDeadlock) {
			return err
		}
	}
	return err
}

func (s *Store) tryTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, s.txOpts)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// placeholders returns n groups of "(?, ?, ...)" of width w, joined by commas.
func placeholders(n, w int) string {
	group := "(" + strings.Repeat("?, ", w-1) + "?)"
	return strings.Repeat(group+", ", n-1) + group
}
