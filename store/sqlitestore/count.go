package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/sqlcore"
)

// qCountRequests counts what qAllowRequest counts, recording nothing.
const qCountRequests = `SELECT count(*), min(at) FROM passreset_rate_limits WHERE key = ? AND at > ? AND at <= ?`

// CountRequests counts the requests AllowRequest would count under key,
// recording nothing: one indexed read on the read pool.
func (s *Store) CountRequests(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	var (
		n      int
		oldest sql.NullInt64
	)
	if err := s.r.QueryRowContext(ctx, qCountRequests, key, now.Add(-window).UnixMilli(), now.Add(store.MaxClockSkew).UnixMilli()).Scan(&n, &oldest); err != nil {
		return 0, time.Time{}, fmt.Errorf("sqlitestore: count requests: %w", err)
	}
	if !oldest.Valid {
		return n, time.Time{}, nil
	}
	return n, sqlcore.FromMS(oldest.Int64), nil
}
