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
func b64Value(c byte) int {
	switch {
	case 'A' <= c && c <= 'Z':
		return int(c - 'A')
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 26
	case '0' <= c && c <= '9':
		return int(c-'0') + 52
	case c == '-':
		return 62
	case c == '_':
		return 63
	}
	return -1
}

// newToken reads a fresh token from rand and returns its text and hash.
func newToken(rand io.Reader) (string, TokenHash, error) {
	var b [tokenBytes]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", TokenHash{}, fmt.Errorf("session: read random token: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	return tok, HashToken(tok), nil
}
