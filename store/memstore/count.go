package memstore

import (
	"context"
	"time"

	"github.com/passreset/passreset/store"
)

// CountRequests implements store.Store.
func (st *Store) CountRequests(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	if err := st.lock(ctx, "count requests"); err != nil {
		return 0, time.Time{}, err
	}
	defer st.mu.Unlock()
	from, upto := now.Add(-window), now.Add(store.MaxClockSkew)
	var (
		n      int
		oldest time.Time
	)
	for _, at := range st.rates[key] {
		if at.After(from) && !at.After(upto) {
			if n == 0 || at.Before(oldest) {
				oldest = at
			}
			n++
		}
	}
	return n, oldest, nil
}
