package memstore

import (
	"context"
	"time"
)

// CountRequests implements store.Store.
func (st *Store) CountRequests(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	if err := ctxErr(ctx, "count requests"); err != nil {
		return 0, time.Time{}, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	from := now.Add(-window)
	var (
		n      int
		oldest time.Time
	)
	for _, at := range st.rates[key] {
		if at.After(from) {
			if n == 0 || at.Before(oldest) {
				oldest = at
			}
			n++
		}
	}
	return n, oldest, nil
}
