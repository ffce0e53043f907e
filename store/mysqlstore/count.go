package mysqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/passreset/passreset/store"
)

// CountRequests counts the requests AllowRequest would count under key,
// recording nothing: one indexed read, without the named lock.
func (s *Store) CountRequests(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	var (
		n      int64
		oldest sql.NullInt64
	)
	if err := s.db.QueryRowContext(ctx, qRateCount, key, ms(now.Add(-window)), ms(now.Add(store.MaxClockSkew))).Scan(&n, &oldest); err != nil {
		return 0, time.Time{}, wrap("count requests", err)
	}
	return int(n), fromNullMS(oldest), nil
}
