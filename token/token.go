// Package token makes and checks the secrets passreset hands out: reset
// tokens and session tokens alike. A token is 32 bytes from a random source
// written as 43 characters of unpadded base64url; a store keeps only its
// SHA-256, a [Hash], so a copy of the database holds nothing usable.
package token

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
)

const (
	// Bytes is a token's entropy: 256 bits.
	Bytes = 32
	// Len is the length of a token's text: Bytes in unpadded base64url.
	Len = 43
)

// Hash is the SHA-256 of a token's text: the only form of a token a store
// ever sees.
type Hash [sha256.Size]byte

// Sum returns the Hash of a token's text.
func Sum(tok string) Hash {
	// Copying into an array keeps the hot path free of allocations:
	// []byte(tok) would allocate for a string this long.
	if len(tok) != Len {
		return sha256.Sum256([]byte(tok))
	}
	var b [Len]byte
	copy(b[:], tok)
	return sha256.Sum256(b[:])
}

// New reads a fresh token from rand and returns its text and Hash.
func New(rand io.Reader) (string, Hash, error) {
	var b [Bytes]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", Hash{}, fmt.Errorf("token: read random bytes: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	return tok, Sum(tok), nil
}

// WellFormed reports whether tok could have been made by New: Len
// characters of the unpadded base64url alphabet, the last of which carries
// only the 4 bits that remain of 256 (its low 2 bits are zero, as a
// canonical encoding has them). Anything else can be refused without a
// store lookup.
func WellFormed(tok string) bool {
	if len(tok) != Len {
		return false
	}
	for i := range len(tok) {
		if b64Values[tok[i]] < 0 {
			return false
		}
	}
	return b64Values[tok[Len-1]]&3 == 0
}

// b64Values maps a byte to its 6-bit value in the base64url alphabet, or
// -1: one lookup a character is what keeps the check of a token's 43
// characters a small part of a rejection.
var b64Values = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range len(alphabet) {
		t[alphabet[i]] = int8(i)
	}
	return t
}()
