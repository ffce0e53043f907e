package mysqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/sqlcore"
)

// CountRequests counts the requests AllowRequest would count under key,
// recording nothing: one indexed read, without the named lock.
func (s *Store) CountRequests(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	var (
		n      int64
		oldest sql.NullInt64
	)
	if err := s.db.QueryRowContext(ctx, qRateCount, key, now.Add(-window).UnixMilli(), now.Add(store.MaxClockSkew).UnixMilli()).Scan(&n, &oldest); err != nil {
		return 0, time.Time{}, wrap("count requests", err)
	}
	return int(n), sqlcore.FromNullMS(oldest), nil
}
