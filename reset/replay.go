package reset

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/passreset/passreset/store"
)

// ReplayLease is how long a claim on an idempotency key holds while its
// request runs. Past it, the request is taken to have died without an
// answer (its instance crashed), and a retry may claim the key and run the
// request again; a request that runs longer than the lease may therefore
// run twice.
const ReplayLease = time.Minute

// ClaimReplay claims an idempotency key for a request, in the Store, so
// that every instance sharing the Store sees the claim and, later, replays
// the answer. It is what an HTTP handler needs for a header such as
// Idempotency-Key (package workos uses it); the reset flow itself never
// calls it.
//
// scope names the key and what it is scoped to (for example the API key's
// hash, the method, the path and the header's value), and request is what a
// retry repeats exactly (the body). Neither is stored: only keyed hashes of
// them, under a key derived from Config.SecretKey, so that instances share
// records only when they share the key. ttl is how long the answer is
// replayed; PurgeReplays, which the janitor runs, deletes it afterwards.
//
// It returns one of:
//   - a claim and no answer: the caller runs the request, then keeps its
//     answer with ReplayClaim.Save, or frees the key with
//     ReplayClaim.Release when the answer is not one to replay;
//   - no claim and the answer kept for the key, opened: the caller sends
//     it again;
//   - ErrReplayInFlight: another request holds the key, on this instance
//     or another; ask again later;
//   - ErrReplayMismatch: the key was used with another request;
//   - another error: the Store failed, or a kept answer cannot be opened
//     (it was altered).
//
// A claim that is neither saved nor released holds the key for ReplayLease.
func (s *Service) ClaimReplay(ctx context.Context, scope string, request []byte, ttl time.Duration) (*ReplayClaim, []byte, error) {
	if ttl <= 0 {
		return nil, nil, fmt.Errorf("reset: claim replay: lifetime %v is not positive", ttl)
	}
	now := s.clock()
	owner := make([]byte, 16)
	if _, err := io.ReadFull(s.rand, owner); err != nil {
		return nil, nil, fmt.Errorf("reset: claim replay: %w", err)
	}
	key := hex.EncodeToString(s.secrets.replayHash("scope", []byte(scope)))
	r := store.Replay{
		Key:          key,
		Fingerprint:  s.secrets.replayHash("request", request),
		Owner:        hex.EncodeToString(owner),
		CreatedAt:    now,
		ClaimedUntil: now.Add(ReplayLease),
		ExpiresAt:    now.Add(ttl),
	}
	got, claimed, err := s.store.ClaimReplay(ctx, r, now)
	switch {
	case err != nil:
		return nil, nil, fmt.Errorf("reset: claim replay: %w", err)
	case claimed:
		return &ReplayClaim{s: s, key: r.Key, owner: r.Owner}, nil, nil
	case !hmac.Equal(got.Fingerprint, r.Fingerprint):
		return nil, nil, ErrReplayMismatch
	case got.Answer == nil:
		return nil, nil, ErrReplayInFlight
	}
	answer, ok := openWith(s.secrets.replayAEAD, []byte(key), got.Answer)
	if !ok {
		return nil, nil, errors.New("reset: claim replay: the kept answer cannot be opened")
	}
	return nil, answer, nil
}

// ReplayClaim is a request's hold on an idempotency key: see
// Service.ClaimReplay. Save or Release it once the request has its answer.
type ReplayClaim struct {
	s          *Service
	key, owner string
}

// Save keeps answer for replay until the lifetime given to ClaimReplay
// ends: sealed with AES-256-GCM under a key derived from Config.SecretKey,
// bound to the key's record, so that the Store never holds it in plain text
// (an answer may carry a reset token). It is durable when Save returns.
// store.ErrReplayNotClaimed means the claim ran out and another request
// took the key over: the answer is not kept.
//
// Call it even when the request's context is done (the client went away
// after the work was done, which is when it retries): with
// context.WithoutCancel and a deadline of its own.
func (c *ReplayClaim) Save(ctx context.Context, answer []byte) error {
	if answer == nil {
		answer = []byte{}
	}
	sealed, err := sealWith(c.s.secrets.replayAEAD, c.s.secrets.rand, []byte(c.key), answer)
	if err != nil {
		return fmt.Errorf("reset: save replay: %w", err)
	}
	if err := c.s.store.SaveReplay(ctx, c.key, c.owner, sealed); err != nil {
		return fmt.Errorf("reset: save replay: %w", err)
	}
	return nil
}

// Release frees the key without an answer, so that a retry runs the request
// again: for answers that a retry could change (a server error, a rate
// limit). A key another request took over is left alone.
func (c *ReplayClaim) Release(ctx context.Context) error {
	if err := c.s.store.ReleaseReplay(ctx, c.key, c.owner); err != nil {
		return fmt.Errorf("reset: release replay: %w", err)
	}
	return nil
}

// replayHash is the keyed hash of b for one use, the uses told apart: a
// record's key ("scope") and a request's fingerprint ("request").
func (s *secrets) replayHash(use string, b []byte) []byte {
	m := hmac.New(sha256.New, s.replayKey)
	m.Write([]byte(use))
	m.Write([]byte{0})
	m.Write(b)
	return m.Sum(nil)
}
