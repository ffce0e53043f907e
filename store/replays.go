package store

import (
	"context"
	"time"
)

// Replay is what a Store keeps for one idempotency key: a request that
// carried the key claimed it and, once it had its answer, saved the answer,
// so that a retry with the same key, on any instance sharing the Store, gets
// that answer instead of running again.
//
// A record is live while its ExpiresAt is after now and it holds an answer
// or a running claim (ClaimedUntil after now). A record that is not live
// counts for nothing: ClaimReplay replaces it, and PurgeReplays deletes it
// once ExpiresAt has passed.
type Replay struct {
	// Key names the record: a keyed hash of the client's key and of what
	// it is scoped to (reset.Service makes it), never the client's text.
	// At most 128 bytes.
	Key string
	// Fingerprint is a keyed hash of the request that claimed the key,
	// so that another request sent under the same key is told apart from
	// a retry. At most 64 bytes.
	Fingerprint []byte
	// Owner is a random name for one claim: the request that holds it
	// saves or releases the record by it. At most 64 bytes.
	Owner string
	// Answer is the saved answer, sealed by the Service (never plaintext);
	// nil while the claim runs.
	Answer    []byte
	CreatedAt time.Time
	// ClaimedUntil is the end of the claim's lease: past it, a record
	// without an answer is taken to belong to a request that died, and
	// the key may be claimed again. Zero once an answer is saved.
	ClaimedUntil time.Time
	// ExpiresAt is the end of the record's life.
	ExpiresAt time.Time
}

// Live reports whether the record still counts at now: unexpired, and
// holding an answer or a claim whose lease runs. A lease or a life that
// ends exactly at now has ended.
func (r Replay) Live(now time.Time) bool {
	return r.ExpiresAt.After(now) && (r.Answer != nil || r.ClaimedUntil.After(now))
}

// Replays is the part of a Store that keeps the answers of requests sent
// with an idempotency key (the JSON API's Idempotency-Key header), so that
// every instance sharing the Store replays them. reset.Service uses it
// (Service.ClaimReplay); a Store keeps the records only as they come, sealed.
type Replays interface {
	// ClaimReplay claims r.Key, in one atomic step. When no record of
	// r.Key is live at now (see Replay.Live), it stores r as the record of
	// the key, replacing one that is not live, with no answer and
	// r.Owner's claim running until r.ClaimedUntil, and returns r and
	// true. When one is live, it changes nothing and returns that record
	// and false: the caller replays its answer, or waits while it has
	// none. Of concurrent callers with one key, on any number of
	// instances, exactly one gets true.
	ClaimReplay(ctx context.Context, r Replay, now time.Time) (Replay, bool, error)

	// SaveReplay stores answer in the record of key that owner claimed,
	// and ends the claim (ClaimedUntil zero); the record then lives until
	// its ExpiresAt. It returns ErrReplayNotClaimed when there is no such
	// record: it is gone, holds an answer already, or another owner
	// claimed the key since. The answer must be durable when SaveReplay
	// returns: a client's retry may come after any crash.
	SaveReplay(ctx context.Context, key, owner string, answer []byte) error

	// ReleaseReplay deletes the record of key that owner claimed, when it
	// holds no answer, so that a retry runs the request again (its answer
	// was one not to keep). A record that is gone, answered or claimed by
	// another owner is left alone, and that is not an error.
	ReleaseReplay(ctx context.Context, key, owner string) error

	// PurgeReplays deletes the records whose ExpiresAt is before before,
	// answered or not, and returns how many it deleted. The janitor calls
	// it with the current time: an expired record is never read again,
	// and its sealed answer should not outlive it.
	PurgeReplays(ctx context.Context, before time.Time) (int64, error)
}
