package reset

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// MinSecretKeyBytes is the shortest Config.SecretKey NewService accepts.
const MinSecretKeyBytes = 32

// ParseSecretKey decodes a Config.SecretKey written as text, as it comes
// from an environment variable or a secrets manager: hex, or base64 in the
// standard or the URL alphabet, padded or not, at least MinSecretKeyBytes
// bytes once decoded. Surrounding space is ignored. An empty s gives a nil
// key, which NewService takes as no key (and makes one of its own); any
// other text that is not such a key is an error that never quotes it.
//
//	key, err := reset.ParseSecretKey(os.Getenv("PASSRESET_SECRET_KEY"))
//
// A key for it: `openssl rand -hex 32`.
func ParseSecretKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	key, err := hex.DecodeString(s)
	if err != nil {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if key, err = enc.DecodeString(s); err == nil {
				break
			}
		}
	}
	switch {
	case err != nil:
		return nil, errors.New("reset: secret key is neither hex nor base64")
	case len(key) < MinSecretKeyBytes:
		return nil, fmt.Errorf("reset: secret key is %d bytes, want at least %d (for example `openssl rand -hex 32`)", len(key), MinSecretKeyBytes)
	}
	return key, nil
}
