package session

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
)

const (
	// tokenBytes is the entropy of a session token.
	tokenBytes = 32
	// tokenLen is the length of a token's text: 32 bytes in unpadded
	// base64url.
	tokenLen = 43
)

// HashToken returns the SHA-256 of a token's text: the [TokenHash] under
// which a [Store] finds the session. A Store never sees the token itself.
func HashToken(token string) TokenHash {
	// Copying into an array keeps the hot path free of allocations:
	// []byte(token) would allocate for a string this long.
	var b [tokenLen]byte
	if len(token) != tokenLen {
		return sha256.Sum256([]byte(token))
	}
	copy(b[:], token)
	return sha256.Sum256(b[:])
}

// wellFormed reports whether token could have been issued by a Manager: 43
// characters of the unpadded base64url alphabet, the last of which carries
// only the 4 bits that remain of 256 (its low 2 bits are zero, as a
// canonical encoding has them). Anything else is refused without asking the
// Store.
func wellFormed(token string) bool {
	if len(token) != tokenLen {
		return false
	}
	for i := 0; i < len(token); i++ {
		if b64Value(token[i]) < 0 {
			return false
		}
	}
	return b64Value(token[tokenLen-1])&3 == 0
}

// b64Value returns the 6-bit value of c in the base64url alphabet, or -1.
func b64Value(c byte) int { return int(b64Values[c]) }

// b64Values is b64Value's table: one lookup a character is what keeps the
// check of a token's 43 characters a small part of Validate.
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

// newToken reads a fresh token from rand and returns its text and hash.
func newToken(rand io.Reader) (string, TokenHash, error) {
	var b [tokenBytes]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", TokenHash{}, fmt.Errorf("session: read random token: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	return tok, HashToken(tok), nil
}
