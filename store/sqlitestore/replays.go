package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/sqlcore"
)

const (
	// ?1 key ... ?6 expires_at, ?7 now. The update replaces a record that
	// is not live: expired, or unanswered with its lease ended.
	qClaimReplay = `INSERT INTO passreset_replays (key, fingerprint, owner, answer, created_at, claimed_until, expires_at)
	VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?6)
	ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint, owner = excluded.owner, answer = NULL,
		created_at = excluded.created_at, claimed_until = excluded.claimed_until, expires_at = excluded.expires_at
	WHERE passreset_replays.expires_at <= ?7
		OR (passreset_replays.answer IS NULL AND coalesce(passreset_replays.claimed_until, 0) <= ?7)`
	qReplayByKey = `SELECT key, fingerprint, owner, answer, created_at, claimed_until, expires_at
	FROM passreset_replays WHERE key = ?`
	qSaveReplay = `UPDATE passreset_replays SET answer = ?3, claimed_until = NULL
	WHERE key = ?1 AND owner = ?2 AND answer IS NULL`
	qReleaseReplay = `DELETE FROM passreset_replays WHERE key = ? AND owner = ? AND answer IS NULL`
	qPurgeReplays  = `DELETE FROM passreset_replays WHERE expires_at < ?1`
)

// ClaimReplay claims r.Key in one transaction: an upsert that replaces only
// a record that is not live, and, when it changed nothing, a read of the
// live record. A claim is bookkeeping that a power loss may forget (the
// request it guards then runs once more on a retry), so its commit is not
// synced on its own (see unsynced).
func (s *Store) ClaimReplay(ctx context.Context, r store.Replay, now time.Time) (store.Replay, bool, error) {
	var (
		got     store.Replay
		claimed bool
	)
	err := s.unsynced(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, qClaimReplay, r.Key, nonNil(r.Fingerprint), r.Owner,
			r.CreatedAt.UnixMilli(), sqlcore.NullMS(r.ClaimedUntil), r.ExpiresAt.UnixMilli(), now.UnixMilli())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 1 {
			got, claimed = r, true
			got.Answer = nil
			return nil
		}
		got, err = scanReplay(tx.QueryRowContext(ctx, qReplayByKey, r.Key))
		return err
	})
	if err != nil {
		return store.Replay{}, false, fmt.Errorf("sqlitestore: claim replay: %w", err)
	}
	return got, claimed, nil
}

// SaveReplay stores the answer of a claimed key, synced like any commit of
// the Store: a retry may come after a power loss.
func (s *Store) SaveReplay(ctx context.Context, key, owner string, answer []byte) error {
	res, err := s.w.ExecContext(ctx, qSaveReplay, key, owner, nonNil(answer))
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			return store.ErrReplayNotClaimed
		}
	}
	if err != nil {
		return fmt.Errorf("sqlitestore: save replay: %w", err)
	}
	return nil
}

// ReleaseReplay deletes an unanswered record its owner claimed. The delete
// is not synced on its own: a power loss that forgets it leaves a claim
// whose lease runs out.
func (s *Store) ReleaseReplay(ctx context.Context, key, owner string) error {
	err := s.unsynced(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, qReleaseReplay, key, owner)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: release replay: %w", err)
	}
	return nil
}

// PurgeReplays deletes the records that expired before before, in one
// statement over the expires_at index.
func (s *Store) PurgeReplays(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, qPurgeReplays, before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: purge replays: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: purge replays: %w", err)
	}
	return n, nil
}

// scanReplay reads the record the claim just wrote or found.
func scanReplay(row scanner) (store.Replay, error) {
	r, err := sqlcore.ScanReplay(row)
	if errors.Is(err, sql.ErrNoRows) {
		// Released or purged between the upsert and the read: impossible
		// in one transaction, but never a zero record.
		return store.Replay{}, fmt.Errorf("replay record vanished: %w", err)
	}
	return r, err
}

// nonNil is b, or an empty slice for nil: the columns are NOT NULL or mean
// "unanswered" when NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
