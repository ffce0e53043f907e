package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/passreset/passreset/store"
)

// ClaimReplay claims r.Key in one batch (one round trip, one implicit
// transaction): the upsert of qClaimReplay, then a read of the key's
// record, which is the live record when the upsert changed nothing. A
// claim commits with synchronous_commit off: it is bookkeeping that a crash
// of the server may forget, and a retry of the request it guarded then runs
// again.
func (s *Store) ClaimReplay(ctx context.Context, r store.Replay, now time.Time) (store.Replay, bool, error) {
	fp := r.Fingerprint
	if fp == nil {
		fp = []byte{}
	}
	// The record read may vanish between the statements (released, or
	// purged, by another instance): claim again then.
	for range 3 {
		b := &pgx.Batch{}
		b.Queue(s.q[qCommitUnsynced])
		b.Queue(s.q[qClaimReplay], r.Key, fp, r.Owner, ms(r.CreatedAt), nullTime(r.ClaimedUntil), ms(r.ExpiresAt), ms(now))
		b.Queue(s.q[qReplayByKey], r.Key)
		br := s.pool.SendBatch(ctx, b)
		_, err := br.Exec()
		var claimed bool
		if err == nil {
			err = br.QueryRow().Scan(&claimed)
			if errors.Is(err, pgx.ErrNoRows) {
				err = nil
			}
		}
		var got store.Replay
		if err == nil {
			got, err = scanReplay(br.QueryRow())
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		switch {
		case errors.Is(err, pgx.ErrNoRows) && !claimed:
			continue
		case err != nil:
			return store.Replay{}, false, wrap("claim replay", err)
		case claimed:
			r.Answer = nil
			return r, true, nil
		}
		return got, false, nil
	}
	return store.Replay{}, false, wrap("claim replay", errors.New("the record of the key kept vanishing"))
}

// SaveReplay stores the answer of a claimed key, with a synchronous commit:
// a retry may come after a crash of the server.
func (s *Store) SaveReplay(ctx context.Context, key, owner string, answer []byte) error {
	if answer == nil {
		answer = []byte{}
	}
	tag, err := s.pool.Exec(ctx, s.q[qSaveReplay], key, owner, answer)
	if err != nil {
		return wrap("save replay", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrReplayNotClaimed
	}
	return nil
}

// ReleaseReplay deletes an unanswered record its owner claimed, with
// synchronous_commit off: a crash of the server that forgets it leaves a
// claim whose lease runs out.
func (s *Store) ReleaseReplay(ctx context.Context, key, owner string) error {
	b := &pgx.Batch{}
	b.Queue(s.q[qCommitUnsynced])
	b.Queue(s.q[qReleaseReplay], key, owner)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return wrap("release replay", err)
	}
	return nil
}

// PurgeReplays deletes the records that expired before before.
func (s *Store) PurgeReplays(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, s.q[qPurgeReplays], ms(before))
	if err != nil {
		return 0, wrap("purge replays", err)
	}
	return tag.RowsAffected(), nil
}

func scanReplay(row pgx.Row) (store.Replay, error) {
	var (
		r       store.Replay
		claimed pgtype.Timestamptz
	)
	if err := row.Scan(&r.Key, &r.Fingerprint, &r.Owner, &r.Answer, &r.CreatedAt, &claimed, &r.ExpiresAt); err != nil {
		return store.Replay{}, err
	}
	r.CreatedAt, r.ExpiresAt = r.CreatedAt.UTC(), r.ExpiresAt.UTC()
	r.ClaimedUntil = fromNull(claimed)
	return r, nil
}
