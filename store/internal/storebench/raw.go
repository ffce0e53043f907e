package storebench

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// What the raw sides share: what they make as the module makes it, and how
// they name the host's accounts. The statements are each raw side's own;
// the order in which the flows issue them is NewRaw's (rawflow.go).

// Clock returns the raw side's clock: now (or the wall clock, when nil),
// in UTC, to the millisecond, as the Stores write times.
func Clock(now func() time.Time) func() time.Time {
	if now == nil {
		now = time.Now
	}
	return func() time.Time { return now().UTC().Truncate(time.Millisecond) }
}

// HostID is the id a Store shows for the host's account whose account_id
// is key.
func HostID(key int64) string { return "user_" + strconv.FormatInt(key, 10) }

// HostKey is the account_id of the host's account that a user id names
// (HostID's inverse), or ErrNotFound.
func HostKey(userID string) (int64, error) {
	digits, ok := strings.CutPrefix(userID, "user_")
	if !ok {
		return 0, ErrNotFound
	}
	return strconv.ParseInt(digits, 10, 64)
}

// UserKey is the key of the users row that a user id names: the id itself
// in passreset's own table, the host's account_id (HostKey) in its
// accounts, when host.
func UserKey(host bool, userID string) (any, error) {
	if !host {
		return userID, nil
	}
	return HostKey(userID)
}

// Created is what CreatePasswordReset makes before its transaction, as
// the module makes it: the hash of a new token (32 random bytes, URL-safe
// text), the reset's and its email job's ids, and the hash of a new code.
type Created struct {
	TokenHash, CodeHash []byte
	ResetID, JobID      string
}

// NewCreated makes a Created at now.
func NewCreated(now time.Time) Created {
	var tok, code [32]byte
	_, _ = rand.Read(tok[:])
	_, _ = rand.Read(code[:])
	h := sha256.Sum256([]byte(base64.RawURLEncoding.EncodeToString(tok[:])))
	return Created{TokenHash: h[:], CodeHash: code[:], ResetID: "password_reset_" + NewID(now), JobID: "job_" + NewID(now)}
}

// NewID is a new ULID at now, as the module makes its ids (a prefix names
// the kind).
func NewID(now time.Time) string { return ulid.MustNew(ulid.Timestamp(now), rand.Reader).String() }
