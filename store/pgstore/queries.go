package pgstore

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// All of the package's SQL is here. "{s}" marks where a table name is
// qualified with the schema of WithSchema; without that option it is
// removed and the connection's search_path decides.

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

	qRateLimitLock
	qRateLimitCount
	qCommitUnsynced

	qClaimJobs
	qFinishJob
	qRetryJob
	qFailJob
	qPurge

	qCreateSession
	qSessionByTokenHash
	qSessionByID
	qTouchSession
	qRotateSessionToken
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

const resetColumns = `id, user_id, email, token_hash, created_at, expires_at, used_at, ended_at`

const sessionColumns = `id, user_id, created_at, last_seen_at, expires_at, revoked_at, user_agent, ip_address`

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
	return fmt.Sprintf(`INSERT INTO {s}jobs (%s)
	SELECT * FROM unnest($%d::text[], $%d::text[], $%d::text[], $%d::bytea[], $%d::int[],
		$%d::timestamptz[], $%d::timestamptz[], $%d::timestamptz[])%s`, p...)
}

// Advisory lock classes (the first key of the two-key form), so that the
// package's locks never meet a host's.
const (
	lockMigrate   = 0x70727331 // "prs1"
	lockRateLimit = 0x70727332 // "prs2"
)

var queryText = [numQueries]string{
	qUserByEmail:  `SELECT ` + userColumns + ` FROM {s}users WHERE email_key = $1`,
	qUserByID:     `SELECT ` + userColumns + ` FROM {s}users WHERE id = $1`,
	qPasswordHash: `SELECT password_hash FROM {s}users WHERE id = $1`,
	qCreateUser: `INSERT INTO {s}users (id, email, email_key, email_verified, first_name, last_name,
		profile_picture_url, external_id, locale, metadata, password_hash, last_sign_in_at, created_at, updated_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
	qRecordSignIn: `UPDATE {s}users SET last_sign_in_at = $2 WHERE id = $1`,

	// One statement, so one implicit transaction: end the user's other
	// unused resets, insert the new one, insert its jobs. The UPDATE sees the
	// table as it was before the statement, so it never ends the new reset.
	qCreateReset: `WITH ended AS (
		UPDATE {s}password_resets SET ended_at = $5
		WHERE user_id = $2 AND used_at IS NULL AND ended_at IS NULL
	), created AS (
		INSERT INTO {s}password_resets (` + resetColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
	)
	` + insertJobs(9, ""),
	qResetByID:        `SELECT ` + resetColumns + ` FROM {s}password_resets WHERE id = $1`,
	qResetByTokenHash: `SELECT ` + resetColumns + ` FROM {s}password_resets WHERE token_hash = $1`,

	// One statement: spend the reset if it is still redeemable (the row lock
	// of the conditional UPDATE makes exactly one concurrent caller win), and
	// only then set the password, revoke the sessions and queue the jobs.
	// The foreign key from password_resets to users guarantees the user row
	// of a spent reset exists.
	qRedeemReset: `WITH spent AS (
		UPDATE {s}password_resets SET used_at = $3
		WHERE id = $1 AND user_id = $2 AND used_at IS NULL AND ended_at IS NULL AND expires_at > $3
		RETURNING user_id
	), usr AS (
		UPDATE {s}users SET password_hash = $4, email_verified = true, updated_at = $3
		WHERE id = (SELECT user_id FROM spent)
		RETURNING ` + userColumns + `
	), revoked AS (
		UPDATE {s}sessions SET revoked_at = $3
		WHERE user_id = (SELECT user_id FROM spent) AND revoked_at IS NULL AND expires_at > $3
		RETURNING 1
	), queued AS (
		` + insertJobs(5, " WHERE EXISTS (SELECT FROM spent)") + `
	)
	SELECT usr.*, (SELECT count(*) FROM revoked) FROM usr`,
	qResetState: `SELECT user_id, used_at, ended_at, expires_at FROM {s}password_resets WHERE id = $1`,

	// Sent as one batch, so one implicit transaction: the advisory lock
	// serialises the callers of one key, across instances, until commit, and
	// the second statement's snapshot, taken once the lock is held, sees
	// every request recorded before. Requests recorded after $3 count too:
	// a concurrent caller read its clock later but got the lock first.
	qRateLimitLock: `SELECT pg_advisory_xact_lock(` + strconv.Itoa(lockRateLimit) + `, hashtext($1))`,
	qRateLimitCount: `WITH w AS (
		SELECT count(*) AS n, min(at) AS oldest FROM {s}rate_limits
		WHERE key = $1 AND at > $2
	), ins AS (
		INSERT INTO {s}rate_limits (key, at) SELECT $1, $3 FROM w WHERE w.n < $4
	)
	SELECT n, oldest FROM w`,

	// Sent first in a batch (one implicit transaction), it lets that
	// transaction commit without waiting for its WAL record to reach the
	// disk: for bookkeeping that a crash of the server may forget without
	// harm (a rate-limit record, a finished job). It never breaks the
	// database's consistency.
	qCommitUnsynced: `SELECT set_config('synchronous_commit', 'off', true)`,

	qClaimJobs: `UPDATE {s}jobs SET claimed_until = $2, attempts = attempts + 1
	WHERE id IN (
		SELECT id FROM {s}jobs
		WHERE finished_at IS NULL AND failed_at IS NULL AND run_at <= $1
			AND (claimed_until IS NULL OR claimed_until <= $1)
		ORDER BY run_at, id
		LIMIT $3
		FOR UPDATE SKIP LOCKED
	)
	RETURNING ` + jobColumns,
	qFinishJob: `UPDATE {s}jobs SET finished_at = $2, payload = NULL, claimed_until = NULL
	WHERE id = $1 AND finished_at IS NULL`,
	qRetryJob: `UPDATE {s}jobs SET run_at = $2, claimed_until = NULL, last_error = $3
	WHERE id = $1 AND finished_at IS NULL AND failed_at IS NULL`,
	qFailJob: `UPDATE {s}jobs SET failed_at = $2, payload = NULL, claimed_until = NULL, last_error = $3
	WHERE id = $1 AND finished_at IS NULL AND failed_at IS NULL`,
	qPurge: `WITH r AS (
		DELETE FROM {s}password_resets WHERE expires_at < $1 OR used_at < $1 OR ended_at < $1 RETURNING 1
	), l AS (
		DELETE FROM {s}rate_limits WHERE at < $1 RETURNING 1
	), j AS (
		DELETE FROM {s}jobs WHERE finished_at < $1 OR failed_at < $1 RETURNING 1
	)
	SELECT (SELECT count(*) FROM r) + (SELECT count(*) FROM l) + (SELECT count(*) FROM j)`,

	qCreateSession: `INSERT INTO {s}sessions (id, user_id, token_hash, created_at, last_seen_at, expires_at,
		revoked_at, user_agent, ip_address)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
	qSessionByTokenHash: `SELECT ` + sessionColumns + ` FROM {s}sessions WHERE token_hash = $1`,
	qSessionByID:        `SELECT ` + sessionColumns + ` FROM {s}sessions WHERE id = $1`,
	qTouchSession:       `UPDATE {s}sessions SET last_seen_at = $2 WHERE id = $1`,
	qRotateSessionToken: `UPDATE {s}sessions SET token_hash = $3, last_seen_at = $4
	WHERE id = $1 AND token_hash = $2 AND revoked_at IS NULL`,
	qListSessions: `SELECT ` + sessionColumns + ` FROM {s}sessions
	WHERE user_id = $1 AND ($2 = '' OR id < $2) AND ($3 = '' OR id > $3)
	ORDER BY id LIMIT $4`,
	qListSessionsDesc: `SELECT ` + sessionColumns + ` FROM {s}sessions
	WHERE user_id = $1 AND ($2 = '' OR id < $2) AND ($3 = '' OR id > $3)
	ORDER BY id DESC LIMIT $4`,
	qRevokeSession: `UPDATE {s}sessions SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1`,
	qRevokeUserSessions: `UPDATE {s}sessions SET revoked_at = $2
	WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2`,
	qPurgeSessions: `DELETE FROM {s}sessions WHERE expires_at < $1 OR revoked_at < $1`,

	qMigrateLock: `SELECT pg_advisory_xact_lock(` + strconv.Itoa(lockMigrate) + `, 0)`,
	qMigrateTable: `CREATE TABLE IF NOT EXISTS {s}schema_migrations (
		version    bigint      PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`,
	qMigrateApplied: `SELECT EXISTS (SELECT FROM {s}schema_migrations WHERE version = $1)`,
	qMigrateRecord:  `INSERT INTO {s}schema_migrations (version, name) VALUES ($1, $2)`,
}

// resolveQueries returns the queries with their tables qualified by schema,
// or left to the search_path when schema is "".
func resolveQueries(schema string) [numQueries]string {
	prefix := ""
	if schema != "" {
		prefix = pgx.Identifier{schema}.Sanitize() + "."
	}
	var q [numQueries]string
	for i, text := range queryText {
		q[i] = strings.ReplaceAll(text, "{s}", prefix)
	}
	return q
}
