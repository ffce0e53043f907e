package pgstore

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/passreset/passreset/store/internal/sqlcore"
)

// All of the package's SQL is here. "{s}" marks where a table name is
// qualified with the schema of WithSchema; without that option it is
// removed and the connection's search_path decides. The statements that
// touch a user's row (qCreateReset, qRedeemReset) are written once for
// both users tables, passreset_users and a host's: the marks {users},
// {id}, {key}, {set} and {cols} stand for its parts (userParts).

type query int

const (
	qUserByEmail query = iota
	qUserByID
	qPasswordHash
	qCreateUser
	qRecordSignIn

	qCreateReset
	qResetByID
	qResetByTokenHash
	qRedeemReset
	qResetState
	qFindResetCode
	qTakeTry
	qChangePassword
	qEndResets

	qCreateResetLock
	qRateLimitLock
	qRateLimitCount
	qRateLimitPeek
	qCommitUnsynced

	qClaimJobs
	qFinishJob
	qRetryJob
	qFailJob
	qEnqueueJob
	qRenewJobs
	qNextDue
	qPurge

	qClaimReplay
	qReplayByKey
	qSaveReplay
	qReleaseReplay
	qPurgeReplays

	qCreateSession
	qSessionByTokenHash
	qSessionByID
	qTouchSession
	qRotateSessionToken
	qRevokeRetiredToken
	qListSessions
	qListSessionsDesc
	qRevokeSession
	qRevokeUserSessions
	qPurgeSessions

	qMigrateLock
	qMigrateTable
	qMigrateApplied
	qMigrateRecord

	numQueries
)

const userColumns = `id, email, email_verified, first_name, last_name, profile_picture_url,
	external_id, locale, metadata, last_sign_in_at, created_at, updated_at`

const resetColumns = `id, user_id, email, token_hash, created_at, expires_at, used_at, ended_at,
	code_key, code_hash, code_expires_at, code_tries_left`

const jobColumns = `id, kind, user_id, payload, attempts, run_at, claimed_until, created_at`

// insertJobs is the statement, spliced into those that write jobs, that
// inserts the jobs passed as eight parallel arrays from parameter $first on
// (see appendJobArrays), when where holds.
func insertJobs(first int, where string) string {
	p := make([]any, 0, 10)
	p = append(p, jobColumns)
	for i := range 8 {
		p = append(p, first+i)
	}
	p = append(p, where)
	return fmt.Sprintf(`INSERT INTO {s}passreset_jobs (%s)
	SELECT * FROM unnest($%d::text[], $%d::text[], $%d::text[], $%d::bytea[], $%d::int[],
		$%d::timestamptz[], $%d::timestamptz[], $%d::timestamptz[])%s`, p...)
}

// Parameters of the statements that take a user's key: passreset_users
// compares its text id with the reset's user_id ($2); a host's table gets
// its key in a parameter of its own, after the jobs' arrays, and a
// redemption the time to write to UpdatedAt after that.
const (
	createResetParams = 20 // $1..$12 the reset, $13..$20 the jobs
	redeemResetParams = 12 // $1..$4 reset id, user id, now, hash; $5..$12 the jobs
	// $1 user id, $2 rehash, $3 new hash, $4 old hash, $5 now, $6 session
	// kept, $7 its stamp; $8..$15 the jobs.
	changePasswordParams = 15
)

// Advisory lock classes (the first key of the two-key form), so that the
// package's locks never meet a host's.
const (
	lockMigrate   = 0x70727331 // "prs1"
	lockRateLimit = 0x70727332 // "prs2"
	lockUserReset = 0x70727333 // "prs3": the resets of one user
)

var queryText = [numQueries]string{
	qUserByEmail:  `SELECT ` + userColumns + ` FROM {s}passreset_users WHERE email_key = $1`,
	qUserByID:     `SELECT ` + userColumns + ` FROM {s}passreset_users WHERE id = $1`,
	qPasswordHash: `SELECT password_hash FROM {s}passreset_users WHERE id = $1`,
	qCreateUser: `INSERT INTO {s}passreset_users (id, email, email_key, email_verified, first_name, last_name,
		profile_picture_url, external_id, locale, metadata, password_hash, last_sign_in_at, created_at, updated_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
	qRecordSignIn: `UPDATE {s}passreset_users SET last_sign_in_at = $2 WHERE id = $1`,

	// One statement, so one implicit transaction: check that the user
	// exists (and keep it from being deleted until the commit), end the
	// user's other unused resets, insert the new one, insert its jobs; when
	// there is no such user, none of it. The UPDATE sees the table as it was
	// before the statement, so it never ends the new reset.
	qCreateReset: `WITH usr AS (
		SELECT FROM {users} WHERE {id} = {key} FOR KEY SHARE
	), ended AS (
		UPDATE {s}passreset_resets SET ended_at = $5
		WHERE user_id = $2 AND used_at IS NULL AND ended_at IS NULL AND EXISTS (SELECT FROM usr)
	), created AS (
		INSERT INTO {s}passreset_resets (` + resetColumns + `)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 WHERE EXISTS (SELECT FROM usr)
	), queued AS (
		` + insertJobs(13, " WHERE EXISTS (SELECT FROM usr)") + `
	)
	SELECT EXISTS (SELECT FROM usr)`,
	qResetByID:        `SELECT ` + resetColumns + ` FROM {s}passreset_resets WHERE id = $1`,
	qResetByTokenHash: `SELECT ` + resetColumns + ` FROM {s}passreset_resets WHERE token_hash = $1`,

	// One statement: spend the reset if it is still redeemable and its
	// user's row exists (the row lock of the conditional UPDATE makes
	// exactly one concurrent caller win, and the user's row is locked
	// first, so that it is there to update), and only then set the
	// password, revoke the sessions and queue the jobs.
	qRedeemReset: `WITH spent AS (
		UPDATE {s}passreset_resets AS r SET used_at = $3
		WHERE r.id = $1 AND r.user_id = $2 AND r.used_at IS NULL AND r.ended_at IS NULL AND r.expires_at > $3
			AND EXISTS (SELECT FROM {users} WHERE {id} = {key}
				AND ({email} = r.email OR lower({email} COLLATE "C") = lower(r.email COLLATE "C")) FOR NO KEY UPDATE)
		RETURNING r.user_id
	), usr AS (
		UPDATE {users} SET {set}
		WHERE {id} = {key} AND EXISTS (SELECT FROM spent)
		RETURNING {cols}
	), revoked AS (
		UPDATE {s}passreset_sessions SET revoked_at = $3
		WHERE user_id = (SELECT user_id FROM spent) AND revoked_at IS NULL AND expires_at > $3
		RETURNING 1
	), queued AS (
		` + insertJobs(5, " WHERE EXISTS (SELECT FROM spent)") + `
	)
	SELECT usr.*, (SELECT count(*) FROM revoked) FROM usr`,
	qResetState: `SELECT user_id, used_at, ended_at, expires_at FROM {s}passreset_resets WHERE id = $1`,
	qEndResets: `UPDATE {s}passreset_resets SET ended_at = $2
	WHERE user_id = $1 AND used_at IS NULL AND ended_at IS NULL`,

	// The claim: the newest reset under the key that can take a guess,
	// then its try taken by a compare-and-swap on the tries it was read
	// with, which re-checks the rest: of concurrent claims on one count
	// only one swaps (the others wait for its row lock, find the count
	// changed, and read again).
	qFindResetCode: `SELECT ` + resetColumns + ` FROM {s}passreset_resets
	WHERE code_key = $1 AND used_at IS NULL AND ended_at IS NULL AND expires_at > $2
		AND code_expires_at > $2 AND code_tries_left > 0
	ORDER BY created_at DESC, id DESC LIMIT 1`,
	qTakeTry: `UPDATE {s}passreset_resets SET code_tries_left = $3 - 1
	WHERE id = $1 AND code_tries_left = $3 AND used_at IS NULL AND ended_at IS NULL
		AND expires_at > $2 AND code_expires_at > $2`,

	// One statement: replace the hash only while it is still $4 (the row
	// lock of the conditional UPDATE makes one of concurrent changes win),
	// and only then, for a new password ($2 false), revoke the user's
	// other sessions, restamp the one kept and queue the jobs.
	qChangePassword: `WITH usr AS (
		UPDATE {users} SET {change}
		WHERE {id} = {key} AND {hash} = $4
		RETURNING 1
	), revoked AS (
		UPDATE {s}passreset_sessions SET revoked_at = $5
		WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $5 AND id <> $6
			AND NOT $2::boolean AND EXISTS (SELECT FROM usr)
		RETURNING 1
	), stamped AS (
		UPDATE {s}passreset_sessions SET stamp = $7
		WHERE id = $6 AND user_id = $1 AND NOT $2::boolean AND EXISTS (SELECT FROM usr)
	), queued AS (
		` + insertJobs(8, " WHERE EXISTS (SELECT FROM usr) AND NOT $2::boolean") + `
	)
	SELECT EXISTS (SELECT FROM usr), (SELECT count(*) FROM revoked)`,

	// Sent as one batch, so one implicit transaction: the advisory lock
	// serialises the callers of one key, across instances, until commit, and
	// the second statement's snapshot, taken once the lock is held, sees
	// every request recorded before. Requests recorded after $3 count too:
	// a concurrent caller read its clock later but got the lock first.
	// Sent before qCreateReset in one batch (one implicit transaction):
	// creations for one user queue on it, and under READ COMMITTED the
	// next statement's snapshot, taken once the lock is held, sees every
	// reset an earlier creation committed, and ends it. Without it, two
	// creations at once would not see each other's reset, and both links
	// would stay usable.
	qCreateResetLock: `SELECT pg_advisory_xact_lock(` + strconv.Itoa(lockUserReset) + `, hashtext($1))`,
	qRateLimitLock:   `SELECT pg_advisory_xact_lock(` + strconv.Itoa(lockRateLimit) + `, hashtext($1))`,
	// $2 and $5 bound the window: after now-window, at or before
	// now+store.MaxClockSkew.
	qRateLimitCount: `WITH w AS (
		SELECT count(*) AS n, min(at) AS oldest FROM {s}passreset_rate_limits
		WHERE key = $1 AND at > $2 AND at <= $5
	), ins AS (
		INSERT INTO {s}passreset_rate_limits (key, at) SELECT $1, $3 FROM w WHERE w.n < $4
	)
	SELECT n, oldest FROM w`,
	// CountRequests: the count of qRateLimitCount, recording nothing.
	qRateLimitPeek: `SELECT count(*), min(at) FROM {s}passreset_rate_limits WHERE key = $1 AND at > $2 AND at <= $3`,

	// Sent first in a batch (one implicit transaction), it lets that
	// transaction commit without waiting for its WAL record to reach the
	// disk: for bookkeeping that a crash of the server may forget without
	// harm (a rate-limit record, a finished job). It never breaks the
	// database's consistency.
	qCommitUnsynced: `SELECT set_config('synchronous_commit', 'off', true)`,

	qClaimJobs: `UPDATE {s}passreset_jobs SET claimed_until = $2, attempts = attempts + 1
	WHERE id IN (
		SELECT id FROM {s}passreset_jobs
		WHERE finished_at IS NULL AND failed_at IS NULL AND run_at <= $1
			AND (claimed_until IS NULL OR claimed_until <= $1)
		ORDER BY run_at, id
		LIMIT $3
		FOR UPDATE SKIP LOCKED
	)
	RETURNING ` + jobColumns,
	qFinishJob: `UPDATE {s}passreset_jobs SET finished_at = $2, payload = NULL, claimed_until = NULL
	WHERE id = $1 AND finished_at IS NULL`,
	qRetryJob: `UPDATE {s}passreset_jobs SET run_at = $2, claimed_until = NULL, last_error = $3
	WHERE id = $1 AND finished_at IS NULL AND failed_at IS NULL`,
	qFailJob: `UPDATE {s}passreset_jobs SET failed_at = $2, payload = NULL, claimed_until = NULL, last_error = $3
	WHERE id = $1 AND finished_at IS NULL AND failed_at IS NULL`,
	qEnqueueJob: insertJobs(1, ""),
	// $1 the claims' ids, $2 their attempts, $3 now, $4 until.
	qRenewJobs: `UPDATE {s}passreset_jobs j SET claimed_until = $4
	FROM unnest($1::text[], $2::int[]) AS c(id, attempts)
	WHERE j.id = c.id AND j.attempts = c.attempts AND j.claimed_until > $3
		AND j.finished_at IS NULL AND j.failed_at IS NULL
	RETURNING j.id`,
	// greatest ignores a NULL claimed_until. The pending jobs are those of
	// the partial index passreset_jobs_due_idx.
	qNextDue: `SELECT min(greatest(run_at, claimed_until)) FROM {s}passreset_jobs
	WHERE finished_at IS NULL AND failed_at IS NULL`,
	qPurge: `WITH r AS (
		DELETE FROM {s}passreset_resets WHERE expires_at < $1 OR used_at < $1 OR ended_at < $1 RETURNING 1
	), l AS (
		DELETE FROM {s}passreset_rate_limits WHERE at < $1 RETURNING 1
	), j AS (
		DELETE FROM {s}passreset_jobs WHERE finished_at < $1 OR failed_at < $1 RETURNING 1
	)
	SELECT (SELECT count(*) FROM r) + (SELECT count(*) FROM l) + (SELECT count(*) FROM j)`,

	// The insert claims a key nobody holds; on a conflict, the update
	// replaces only a record that is not live (expired, or unanswered with
	// its lease ended), and returns nothing otherwise. A concurrent
	// claimant of the same key waits for the first one's commit, then sees
	// its record: exactly one wins.
	qClaimReplay: `INSERT INTO {s}passreset_replays AS r (key, fingerprint, owner, answer, created_at, claimed_until, expires_at)
	VALUES ($1, $2, $3, NULL, $4, $5, $6)
	ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint, owner = excluded.owner, answer = NULL,
		created_at = excluded.created_at, claimed_until = excluded.claimed_until, expires_at = excluded.expires_at
	WHERE r.expires_at <= $7 OR (r.answer IS NULL AND coalesce(r.claimed_until <= $7, true))
	RETURNING true`,
	qReplayByKey: `SELECT key, fingerprint, owner, answer, created_at, claimed_until, expires_at
	FROM {s}passreset_replays WHERE key = $1`,
	qSaveReplay: `UPDATE {s}passreset_replays SET answer = $3, claimed_until = NULL
	WHERE key = $1 AND owner = $2 AND answer IS NULL`,
	qReleaseReplay: `DELETE FROM {s}passreset_replays WHERE key = $1 AND owner = $2 AND answer IS NULL`,
	qPurgeReplays:  `DELETE FROM {s}passreset_replays WHERE expires_at < $1`,

	qCreateSession: `INSERT INTO {s}passreset_sessions (id, user_id, token_hash, created_at, last_seen_at, expires_at,
		revoked_at, user_agent, ip_address, stamp)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
	qSessionByTokenHash: `SELECT ` + sqlcore.SessionColumns + ` FROM {s}passreset_sessions WHERE token_hash = $1`,
	qSessionByID:        `SELECT ` + sqlcore.SessionColumns + ` FROM {s}passreset_sessions WHERE id = $1`,
	qTouchSession:       `UPDATE {s}passreset_sessions SET last_seen_at = $2 WHERE id = $1`,
	// One statement: rotate, and keep the old hash as retired only with
	// the rotation.
	qRotateSessionToken: `WITH rotated AS (
		UPDATE {s}passreset_sessions SET token_hash = $3, last_seen_at = $4
		WHERE id = $1 AND token_hash = $2 AND revoked_at IS NULL
		RETURNING id
	)
	INSERT INTO {s}passreset_retired_session_tokens (token_hash, session_id, retired_at)
	SELECT $2, id, $4 FROM rotated`,
	qRevokeRetiredToken: `UPDATE {s}passreset_sessions SET revoked_at = coalesce(revoked_at, $2)
	WHERE id = (SELECT session_id FROM {s}passreset_retired_session_tokens WHERE token_hash = $1)
	RETURNING ` + sqlcore.SessionColumns,
	qListSessions: `SELECT ` + sqlcore.SessionColumns + ` FROM {s}passreset_sessions
	WHERE user_id = $1 AND ($2 = '' OR id < $2) AND ($3 = '' OR id > $3)
	ORDER BY id LIMIT $4`,
	qListSessionsDesc: `SELECT ` + sqlcore.SessionColumns + ` FROM {s}passreset_sessions
	WHERE user_id = $1 AND ($2 = '' OR id < $2) AND ($3 = '' OR id > $3)
	ORDER BY id DESC LIMIT $4`,
	qRevokeSession: `UPDATE {s}passreset_sessions SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1`,
	qRevokeUserSessions: `UPDATE {s}passreset_sessions SET revoked_at = $2
	WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2`,
	qPurgeSessions: `DELETE FROM {s}passreset_sessions WHERE expires_at < $1 OR revoked_at < $1`,

	qMigrateLock: `SELECT pg_advisory_xact_lock(` + strconv.Itoa(lockMigrate) + `, 0)`,
	qMigrateTable: `CREATE TABLE IF NOT EXISTS {s}passreset_migrations (
		name       text        PRIMARY KEY,  -- the file, e.g. migrations/0001_state.sql
		applied_at timestamptz NOT NULL DEFAULT now()
	)`,
	qMigrateApplied: `SELECT EXISTS (SELECT FROM {s}passreset_migrations WHERE name = $1)`,
	qMigrateRecord:  `INSERT INTO {s}passreset_migrations (name) VALUES ($1)`,
}

// userParts fills the marks of the statements that touch a user's row.
type userParts struct {
	users string // the table, qualified as the statement needs
	id    string // the key column
	email string // the address, as text
	set   string // what a redemption writes: the hash is $4
	cols  string // what a redemption returns of the row
	// change is what ChangePassword writes: the hash is $3, and the
	// updated time, where there is one, only when $2 (a rehash) is false;
	// hash is the hash column as ChangePassword compares it with $4.
	change, hash string
	// key returns the parameter that holds the key, given the number of
	// the statement's other parameters.
	key func(params int) string
}

// ownUsers are the parts of passreset_users, whose id is the user id the
// resets hold ($2 in CreateReset's and RedeemReset's statements, $1 in
// ChangePassword's).
var ownUsers = userParts{
	users:  "{s}passreset_users",
	id:     "id",
	email:  "email",
	set:    "password_hash = $4, email_verified = true, updated_at = $3",
	cols:   userColumns,
	change: "password_hash = $3, updated_at = CASE WHEN $2::boolean THEN updated_at ELSE $5 END",
	hash:   "password_hash",
	key: func(params int) string {
		if params == changePasswordParams {
			return "$1" // ChangePassword's user id
		}
		return "$2"
	},
}

// userStatement returns a statement of queryText with the marks of the
// users table filled with u's parts.
func userStatement(q query, u userParts) string {
	params := createResetParams
	switch q {
	case qRedeemReset:
		params = redeemResetParams
	case qChangePassword:
		params = changePasswordParams
	}
	return strings.NewReplacer(
		"{users}", u.users, "{id}", u.id, "{email}", u.email, "{key}", u.key(params), "{set}", u.set, "{cols}", u.cols,
		"{change}", u.change, "{hash}", u.hash,
	).Replace(queryText[q])
}

// schemaPrefix is what "{s}" becomes: the quoted schema and a dot, or
// nothing.
func schemaPrefix(schema string) string {
	if schema == "" {
		return ""
	}
	return pgx.Identifier{schema}.Sanitize() + "."
}

// resolveQueries returns the queries, over passreset_users, with their
// tables qualified by schema, or left to the search_path when schema is "".
func resolveQueries(schema string) [numQueries]string {
	prefix := schemaPrefix(schema)
	var q [numQueries]string
	for i, text := range queryText {
		if query(i) == qCreateReset || query(i) == qRedeemReset || query(i) == qChangePassword {
			text = userStatement(query(i), ownUsers)
		}
		q[i] = strings.ReplaceAll(text, "{s}", prefix)
	}
	return q
}
