package memstore

import (
	"bytes"
	"context"
	"time"

	"github.com/passreset/passreset/store"
)

func copyReplay(r store.Replay) store.Replay {
	r.Fingerprint = bytes.Clone(r.Fingerprint)
	r.Answer = bytes.Clone(r.Answer)
	return r
}

// ClaimReplay implements store.Store.
func (st *Store) ClaimReplay(ctx context.Context, r store.Replay, now time.Time) (store.Replay, bool, error) {
	if err := st.lock(ctx, "claim replay"); err != nil {
		return store.Replay{}, false, err
	}
	defer st.mu.Unlock()
	if cur, ok := st.replays[r.Key]; ok && cur.Live(now) {
		return copyReplay(*cur), false, nil
	}
	r.Answer = nil
	kept := copyReplay(r)
	st.replays[r.Key] = &kept
	return copyReplay(kept), true, nil
}

// SaveReplay implements store.Store.
func (st *Store) SaveReplay(ctx context.Context, key, owner string, answer []byte) error {
	if err := st.lock(ctx, "save replay"); err != nil {
		return err
	}
	defer st.mu.Unlock()
	cur, ok := st.replays[key]
	if !ok || cur.Owner != owner || cur.Answer != nil {
		return store.ErrReplayNotClaimed
	}
	cur.Answer = bytes.Clone(answer)
	if cur.Answer == nil {
		cur.Answer = []byte{}
	}
	cur.ClaimedUntil = time.Time{}
	return nil
}

// ReleaseReplay implements store.Store.
func (st *Store) ReleaseReplay(ctx context.Context, key, owner string) error {
	if err := st.lock(ctx, "release replay"); err != nil {
		return err
	}
	defer st.mu.Unlock()
	if cur, ok := st.replays[key]; ok && cur.Owner == owner && cur.Answer == nil {
		delete(st.replays, key)
	}
	return nil
}

// PurgeReplays implements store.Store.
func (st *Store) PurgeReplays(ctx context.Context, before time.Time) (int64, error) {
	if err := st.lock(ctx, "purge replays"); err != nil {
		return 0, err
	}
	defer st.mu.Unlock()
	var n int64
	for key, r := range st.replays {
		if r.ExpiresAt.Before(before) {
			delete(st.replays, key)
			n++
		}
	}
	return n, nil
}
