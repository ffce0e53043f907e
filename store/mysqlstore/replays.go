package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/sqlcore"
)

const (
	qReplayForUpdate = `SELECT replay_key, fingerprint, owner, answer, created_at, claimed_until, expires_at
	FROM passreset_replays WHERE replay_key = ? FOR UPDATE`
	qInsertReplay = `INSERT INTO passreset_replays (replay_key, fingerprint, owner, answer, created_at, claimed_until, expires_at)
	VALUES (?, ?, ?, NULL, ?, ?, ?)`
	qReplaceReplay = `UPDATE passreset_replays SET fingerprint = ?, owner = ?, answer = NULL, created_at = ?,
		claimed_until = ?, expires_at = ?
	WHERE replay_key = ?`
	qSaveReplay = `UPDATE passreset_replays SET answer = ?, claimed_until = NULL
	WHERE replay_key = ? AND owner = ? AND answer IS NULL`
	qReleaseReplay = `DELETE FROM passreset_replays WHERE replay_key = ? AND owner = ? AND answer IS NULL`
	qPurgeReplays  = `DELETE FROM passreset_replays WHERE expires_at < ?`
)

// ClaimReplay claims r.Key in one transaction: it reads the key's record
// with SELECT ... FOR UPDATE, returns it when it is live, and otherwise
// replaces it, or inserts the first. Two first claims of a key race on the
// primary key: the loser's insert fails as a duplicate, and it reads the
// winner's record again (waiting for its commit on the row lock), so that
// exactly one wins.
func (s *Store) ClaimReplay(ctx context.Context, r store.Replay, now time.Time) (store.Replay, bool, error) {
	fp := r.Fingerprint
	if fp == nil {
		fp = []byte{}
	}
	r.Answer = nil
	now = sqlcore.FromMS(now.UnixMilli()) // judged at the stored precision
	for range 5 {
		var (
			got     store.Replay
			claimed bool
		)
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			var err error
			got, err = sqlcore.ScanReplay(tx.QueryRowContext(ctx, qReplayForUpdate, r.Key))
			switch {
			case err == nil && got.Live(now):
				return nil
			case err == nil:
				_, err = tx.ExecContext(ctx, qReplaceReplay, fp, r.Owner, r.CreatedAt.UnixMilli(), sqlcore.NullMS(r.ClaimedUntil), r.ExpiresAt.UnixMilli(), r.Key)
			case errors.Is(err, sql.ErrNoRows):
				_, err = tx.ExecContext(ctx, qInsertReplay, r.Key, fp, r.Owner, r.CreatedAt.UnixMilli(), sqlcore.NullMS(r.ClaimedUntil), r.ExpiresAt.UnixMilli())
			}
			claimed = err == nil
			return err
		})
		switch {
		case isMySQLError(err, erDupEntry):
			continue // another claimant inserted the key first: read its record
		case err != nil:
			return store.Replay{}, false, wrap("claim replay", err)
		case claimed:
			return r, true, nil
		}
		return got, false, nil
	}
	return store.Replay{}, false, wrap("claim replay", errors.New("the record of the key kept changing"))
}

// SaveReplay stores the answer of a claimed key.
func (s *Store) SaveReplay(ctx context.Context, key, owner string, answer []byte) error {
	if answer == nil {
		answer = []byte{}
	}
	res, err := s.db.ExecContext(ctx, qSaveReplay, answer, key, owner)
	if err != nil {
		return wrap("save replay", err)
	}
	// The update always changes the row it matches (answer was NULL).
	if n, err := res.RowsAffected(); err != nil {
		return wrap("save replay", err)
	} else if n == 0 {
		return store.ErrReplayNotClaimed
	}
	return nil
}

// ReleaseReplay deletes an unanswered record its owner claimed.
func (s *Store) ReleaseReplay(ctx context.Context, key, owner string) error {
	if _, err := s.db.ExecContext(ctx, qReleaseReplay, key, owner); err != nil {
		return wrap("release replay", err)
	}
	return nil
}

// PurgeReplays deletes the records that expired before before.
func (s *Store) PurgeReplays(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, qPurgeReplays, before.UnixMilli())
	if err != nil {
		return 0, wrap("purge replays", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrap("purge replays", err)
	}
	return n, nil
}
