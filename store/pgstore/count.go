package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/passreset/passreset/store"
)

// CountRequests counts the requests AllowRequest would count under key,
// recording nothing: one indexed read, without the advisory lock.
func (s *Store) CountRequests(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	var (
		n      int64
		oldest pgtype.Timestamptz
	)
	if err := s.pool.QueryRow(ctx, s.q[qRateLimitPeek], key, ms(now).Add(-window), ms(now).Add(store.MaxClockSkew)).Scan(&n, &oldest); err != nil {
		return 0, time.Time{}, wrap("count requests", err)
	}
	return int(n), fromNull(oldest), nil
}
