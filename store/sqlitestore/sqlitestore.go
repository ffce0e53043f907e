package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	// The driver: importing this package registers "sqlite3". Postgres
	// users never import this package, so they never compile cgo SQLite.
	"github.com/mattn/go-sqlite3"

	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/sqlcore"
	"github.com/passreset/passreset/store/internal/sqlrows"
)

var _ sqlcore.Store = (*Store)(nil)

// DefaultBusyTimeout is how long a connection waits for another writer
// (in this process or another) before giving up with SQLITE_BUSY.
const DefaultBusyTimeout = 5 * time.Second

// Store keeps password resets, sessions, rate-limit records and jobs in one
// SQLite database, beside the users: the host's own table (WithUsers), the
// host's own tables behind its HostUsers (WithHostUsers), or passreset's
// own, passreset_users. It implements store.Store,
// store.UserCreator, store.SignInRecorder and session.Store, and is safe for
// concurrent use by goroutines and by several processes sharing the file.
type Store struct {
	w    *sql.DB    // writes and transactions
	r    *sql.DB    // reads outside transactions; w itself when built by New
	own  bool       // Close closes w and r (Open opened them)
	host *hostTable // the host's users table (WithUsers); nil: passreset_users
	// users are the host's users behind its own methods (WithHostUsers);
	// nil otherwise. host and users are never both set.
	users HostUsers
	// level is the synchronous level Open gave every connection (2 FULL,
	// 1 NORMAL), or 0 when New's caller chose it: unsynced then reads it.
	level int

	stmts  atomic.Pointer[statements] // prepared on first use
	mu     sync.Mutex                 // guards preparing and closing
	closed bool                       // guarded by mu
}

// errClosed: the statements cannot be prepared once the Store is closed.
var errClosed = errors.New("sqlitestore: store is closed")

// Option changes a setting of Open or DSN.
type Option func(*config)

type config struct {
	synchronous  string
	busyTimeout  time.Duration
	users        *store.UsersTable
	hostUsers    HostUsers
	hostUsersSet bool // WithHostUsers was given, even with nil
}

// WithUsers makes the Store read users from the host's own table, described
// by t, instead of keeping passreset_users: the Store then writes to that
// table only a reset's new password hash and, where t names them, the
// verified flag and the updated time, in the transaction that spends the
// token. Whether the key is an integer is read from the table's declared
// type; an UpdatedAt column of INTEGER affinity gets unix seconds, any
// other the UTC text "2006-01-02 15:04:05.000" (the form of SQLite's date
// functions). The table must exist before Migrate, which checks the
// description against it. It cannot be combined with WithHostUsers.
func WithUsers(t store.UsersTable) Option {
	return func(c *config) { c.users = &t }
}

// WithSynchronousNormal sets PRAGMA synchronous=NORMAL instead of the
// default FULL. In WAL mode NORMAL never corrupts the database, but a
// transaction committed just before a power loss or OS crash may be rolled
// back on recovery: a spent token could come back. It makes commits faster
// by not syncing the WAL on every commit.
func WithSynchronousNormal() Option {
	return func(c *config) { c.synchronous = "NORMAL" }
}

// WithBusyTimeout sets how long a connection waits for the write lock held
// by another connection before failing with SQLITE_BUSY. The default is
// DefaultBusyTimeout; it is kept to milliseconds.
func WithBusyTimeout(d time.Duration) Option {
	return func(c *config) { c.busyTimeout = max(d, 0) }
}

// DSN returns the data source name that Open uses for path: a file: URI
// for the "sqlite3" driver (github.com/mattn/go-sqlite3) whose parameters
// the driver applies to every connection it opens:
//
//	_journal_mode=WAL     readers never block the writer, nor it them
//	_busy_timeout=5000    wait up to 5 s for another writer (WithBusyTimeout)
//	_foreign_keys=on      enforce password_resets.user_id -> users.id
//	_synchronous=FULL     sync the WAL on every commit (WithSynchronousNormal)
//	_secure_delete=on     overwrite deleted content with zeros
//	_txlock=immediate     every transaction starts with BEGIN IMMEDIATE
//
// Use it to open the handle you give New:
//
//	db, err := sql.Open("sqlite3", sqlitestore.DSN("app.db"))
//
// Options other than those of the connection (WithUsers, WithHostUsers)
// are ignored.
func DSN(path string, opts ...Option) string {
	c := newConfig(opts)
	// Escape the path so that '?', '#' and '%' in it stay part of the name.
	return "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_journal_mode=WAL" +
		"&_busy_timeout=" + strconv.FormatInt(c.busyTimeout.Milliseconds(), 10) +
		"&_foreign_keys=on" +
		"&_synchronous=" + c.synchronous +
		"&_secure_delete=on" +
		"&_txlock=immediate"
}

func newConfig(opts []Option) config {
	c := config{synchronous: "FULL", busyTimeout: DefaultBusyTimeout}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// Open opens (creating it if need be) the SQLite database file at path with
// the settings DSN describes, and returns a Store over it. It applies the
// connection settings and nothing else: it does not create or change the
// schema; call Migrate before first use.
//
// Open keeps two pools on the file: one connection for writes, so that the
// writes of this process queue in Go instead of spinning on SQLite's lock,
// and several for reads, which WAL lets run beside the writer. Other
// processes may open the same file; they wait for each other's writes up to
// the busy timeout.
//
// path must name a file: an in-memory database (":memory:") would be a
// different, empty database on each connection.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	if path == "" || path == ":memory:" {
		return nil, fmt.Errorf("sqlitestore: open: %q is not a file path", path)
	}
	c := newConfig(opts)
	host, err := c.hostTable()
	if err != nil {
		return nil, err
	}
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("sqlitestore: open: %w", err)
	}
	dsn := DSN(path, opts...)
	w, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	// The first connection creates the file and switches it to WAL before
	// any reader opens it.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlitestore: open: %w", err)
	}
	r, err := sql.Open("sqlite3", dsn)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlitestore: open: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	level := 2
	if c.synchronous == "NORMAL" {
		level = 1
	}
	return &Store{w: w, r: r, own: true, level: level, host: host, users: c.hostUsers}, nil
}

// createPrivate creates the database file, empty, readable and writable
// by its owner only, unless it exists. SQLite gives the -wal and -shm
// files it creates later the mode of the database file, so they are
// private too; left to SQLite, the file would be created 0644 less the
// umask. An existing file is left as it is.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// hostTable checks the users table's description, if any, and that the
// host's users are given one way at most.
func (c config) hostTable() (*hostTable, error) {
	switch {
	case c.hostUsersSet && c.hostUsers == nil:
		return nil, errors.New("sqlitestore: WithHostUsers: nil HostUsers")
	case c.hostUsersSet && c.users != nil:
		return nil, errors.New("sqlitestore: WithUsers and WithHostUsers both given: describe the table, or implement HostUsers, not both")
	case c.users == nil:
		return nil, nil
	}
	if err := c.users.Check(); err != nil {
		return nil, fmt.Errorf("sqlitestore: WithUsers: %w", err)
	}
	return newHostTable(*c.users), nil
}

// New returns a Store over db, a handle of the "sqlite3" driver
// (github.com/mattn/go-sqlite3) that the caller opened and keeps: Close
// does not close it. db should be opened with the settings DSN puts in its
// URI, which the driver then applies to every connection of the pool:
// journal_mode=WAL, a busy_timeout, foreign_keys=on and _txlock=immediate
// (synchronous=FULL unless you accept losing the last commits on power
// loss). Without WAL, readers and the writer block each other; without a
// busy timeout, concurrent writers fail with SQLITE_BUSY at once.
//
// New does not touch the database; call Migrate before first use. Of the
// options, only WithUsers and WithHostUsers apply: the others are the
// DSN's.
func New(db *sql.DB, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlitestore: New: nil *sql.DB")
	}
	if _, ok := db.Driver().(*sqlite3.SQLiteDriver); !ok {
		return nil, fmt.Errorf("sqlitestore: New: driver %T is not github.com/mattn/go-sqlite3", db.Driver())
	}
	c := newConfig(opts)
	host, err := c.hostTable()
	if err != nil {
		return nil, err
	}
	return &Store{w: db, r: db, host: host, users: c.hostUsers}, nil
}

// Close releases the prepared statements and, when the Store was made by
// Open, closes the database. A Store made by New leaves its *sql.DB open.
// Closing twice is not an error. Do not use the Store after Close.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if p := s.stmts.Swap(nil); p != nil {
		errs = append(errs, p.close())
	}
	if s.own {
		errs = append(errs, s.r.Close(), s.w.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlitestore: close: %w", err)
	}
	return nil
}

// stmt names a prepared statement.
type stmt int

// The prepared statements: the hot read paths, and the fixed steps of the
// write paths.
const (
	// on the read pool
	sUserByID stmt = iota
	sUserByEmail
	sUserByEmailLike // over a host's table only
	sPasswordHash
	sResetByID
	sResetByTokenHash
	sSessionByID
	sSessionByTokenHash
	sFindResetCode
	// on the write pool; the first seven run inside transactions (Tx.StmtContext)
	sUserExists
	sEndResets
	sInsertReset
	sInsertJob
	sSpendReset
	sSetPassword
	sRevokeUserSessions
	sTouchSession
	sRotateSession
	sAllowRequest // in unsynced transactions, as are sFinishJob and sTakeTry
	sFinishJob
	sTakeTry
	numStmts

	numReadStmts = sUserExists // statements below this one read
)

// stmtText is the text of every statement; over a host's table, those of
// the users are rewritten (statements).
var stmtText = [numStmts]string{
	sUserByID:           qUserByID,
	sUserByEmail:        qUserByEmail,
	sPasswordHash:       qPasswordHash,
	sUserExists:         qUserExists,
	sResetByID:          qResetByID,
	sResetByTokenHash:   qResetByTokenHash,
	sSessionByID:        qSessionByID,
	sSessionByTokenHash: qSessionByTokenHash,
	sEndResets:          qEndResets,
	sInsertReset:        qInsertReset,
	sInsertJob:          qInsertJob,
	sSpendReset:         qSpendReset,
	sSetPassword:        qSetPassword,
	sRevokeUserSessions: qRevokeUserSessions,
	sTouchSession:       qTouchSession,
	sRotateSession:      qRotateSession,
	sAllowRequest:       qAllowRequest,
	sFinishJob:          qFinishJob,
	sFindResetCode:      qFindResetCode,
	sTakeTry:            qTakeTry,
}

// statements are prepared once per Store, reads on the read pool and
// writes on the write pool; database/sql re-prepares them on each new
// connection of a pool as needed.
type statements [numStmts]*sql.Stmt

// prepared returns the statements, preparing them on first use: SQLite
// cannot prepare a statement on a table that does not exist yet, so New and
// Open, which run before Migrate, cannot.
func (s *Store) prepared(ctx context.Context) (*statements, error) {
	if p := s.stmts.Load(); p != nil {
		return p, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.stmts.Load(); p != nil {
		return p, nil
	}
	if s.closed {
		return nil, errClosed
	}
	texts := stmtText
	if s.host != nil {
		if err := s.host.inspect(ctx, s.r); err != nil {
			return nil, fmt.Errorf("sqlitestore: WithUsers: %w", err)
		}
		s.host.write()
		h := s.host
		texts[sUserByID], texts[sUserByEmail], texts[sUserByEmailLike] = h.byID, h.byEmail, h.byEmailLike
		texts[sPasswordHash], texts[sUserExists], texts[sSetPassword] = h.hash, h.exists, h.setPassword
	}
	if s.users != nil { // the host's methods read and write its users
		for _, i := range []stmt{sUserByID, sUserByEmail, sPasswordHash, sUserExists, sSetPassword} {
			texts[i] = ""
		}
	}
	p := new(statements)
	for i, text := range texts {
		if text == "" {
			continue // sUserByEmailLike over passreset's own table; the users' over HostUsers
		}
		db := s.w
		if stmt(i) < numReadStmts {
			db = s.r
		}
		st, err := db.PrepareContext(ctx, text)
		if err != nil {
			_ = p.close()
			return nil, fmt.Errorf("sqlitestore: prepare statements (has Migrate run?): %w", err)
		}
		p[i] = st
	}
	s.stmts.Store(p)
	return p, nil
}

func (p *statements) close() error {
	var errs []error
	for _, st := range p {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// scanner is a *sql.Row or *sql.Rows.
type scanner = sqlrows.Scanner

// isUnique reports whether err is a UNIQUE constraint violation (not a
// PRIMARY KEY one, which SQLite reports with its own code).
func isUnique(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique
}

// rollback ends a transaction that did not commit; after a Commit it is a
// no-op.
func rollback(tx *sql.Tx) { _ = tx.Rollback() }

// unsynced runs fn in a transaction whose commit does not wait for the disk:
// the connection runs it with synchronous=NORMAL, and gets its own level
// back afterwards. It is for bookkeeping that a power loss may forget
// without harm (a rate-limit record, a sent email's job marked finished),
// and that would otherwise cost a disk flush each: in WAL mode such a
// commit survives a crash of the process, and reaches the disk with the
// next synced commit or checkpoint. It never corrupts the database.
func (s *Store) unsynced(ctx context.Context, fn func(*sql.Tx) error) error {
	c, err := s.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	level := s.level
	if level == 0 {
		if err := c.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&level); err != nil {
			return err
		}
	}
	if level > 1 { // FULL or EXTRA; NORMAL and OFF already do not sync a commit
		if _, err := c.ExecContext(ctx, `PRAGMA synchronous=NORMAL`); err != nil {
			return err
		}
		defer func() {
			// Restore the level even when ctx is done; a connection that
			// would sync less than it was opened to never goes back to
			// the pool.
			if _, err := c.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous=`+strconv.Itoa(level)); err != nil {
				_ = c.Raw(func(any) error { return driver.ErrBadConn })
			}
		}()
	}
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer rollback(tx)
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}
