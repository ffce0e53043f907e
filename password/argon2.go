package password

import (
	"cmp"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Defaults of an Argon2id whose fields are zero: OWASP's first
// recommendation for Argon2id (19 MiB, 2 passes, 1 lane).
const (
	DefaultArgon2Memory  = 19 * 1024 // KiB
	DefaultArgon2Time    = 2
	DefaultArgon2Threads = 1
)

// Argon2id length of the salt and of the derived key, in bytes.
const (
	argon2SaltLen = 16
	argon2KeyLen  = 32
)

// maxArgon2Memory and maxArgon2Time bound what a stored hash may ask
// Compare to spend (4 GiB, in KiB; 64 passes): a hash read from a database
// is data, and one that asks for terabytes or a year of work must fail,
// not exhaust the machine.
const (
	maxArgon2Memory = 4 << 20
	maxArgon2Time   = 64
)

// Argon2id is a Hasher that makes argon2id hashes (RFC 9106, through
// golang.org/x/crypto/argon2) in the PHC string format,
// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>", salt and key in
// unpadded standard base64. It verifies bcrypt hashes as well, so an app
// moves from Bcrypt to Argon2id by configuration alone: existing users
// sign in with their bcrypt hashes, which Authenticate then upgrades
// (Rehasher). A zero field means its default.
//
// Unlike bcrypt, Argon2id has no 72-byte limit; the Policy keeps its own.
type Argon2id struct {
	Memory  uint32 // KiB; default DefaultArgon2Memory
	Time    uint32 // passes; default DefaultArgon2Time
	Threads uint8  // lanes; default DefaultArgon2Threads
	// Rand is the source of salts. Default crypto/rand.Reader.
	Rand io.Reader
}

type argon2Params struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

func (h Argon2id) params() argon2Params {
	return argon2Params{
		memory:  cmp.Or(h.Memory, DefaultArgon2Memory),
		time:    cmp.Or(h.Time, DefaultArgon2Time),
		threads: cmp.Or(h.Threads, DefaultArgon2Threads),
	}
}

// Check returns an error when h's parameters cannot make a hash that
// Compare would accept.
func (h Argon2id) Check() error {
	p := h.params()
	if p.memory < 8*uint32(p.threads) || p.memory > maxArgon2Memory {
		return fmt.Errorf("password: argon2id memory must be between %d and %d KiB, got %d", 8*uint32(p.threads), maxArgon2Memory, p.memory)
	}
	if p.time > maxArgon2Time {
		return fmt.Errorf("password: argon2id passes must be at most %d, got %d", maxArgon2Time, p.time)
	}
	return nil
}

// Hash returns the argon2id hash of password with a fresh 16-byte salt.
func (h Argon2id) Hash(password string) (string, error) {
	salt := make([]byte, argon2SaltLen)
	r := h.Rand
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, salt); err != nil {
		return "", fmt.Errorf("password: hash: %w", err)
	}
	return h.withSalt(password, salt)
}

func (h Argon2id) withSalt(password string, salt []byte) (string, error) {
	if err := h.Check(); err != nil {
		return "", err
	}
	p := h.params()
	p.salt = salt
	p.key = argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, argon2KeyLen)
	return p.String(), nil
}

// Compare checks password against an argon2id hash, or a bcrypt hash.
func (h Argon2id) Compare(hash, password string) error {
	return compareAny(hash, password)
}

// NeedsRehash reports whether hash is not an argon2id hash with h's
// parameters (a bcrypt hash, or other memory, passes, lanes or lengths).
func (h Argon2id) NeedsRehash(hash string) bool {
	if !isArgon2id(hash) {
		return true
	}
	p, err := parseArgon2id(hash)
	if err != nil {
		return true
	}
	want := h.params()
	return p.memory != want.memory || p.time != want.time || p.threads != want.threads ||
		len(p.salt) != argon2SaltLen || len(p.key) != argon2KeyLen
}

// Rehash returns an argon2id hash of password, which matches hash, with
// h's parameters and hash's salt (a bcrypt hash's 16 bytes, or an argon2id
// hash's own), so that the credential stamp of hash is kept (see Salt).
func (h Argon2id) Rehash(hash, password string) (string, error) {
	salt, ok := Salt(hash)
	if !ok || len(salt) < 8 {
		return h.Hash(password)
	}
	return h.withSalt(password, salt)
}

func isArgon2id(hash string) bool { return strings.HasPrefix(hash, "$argon2id$") }

var errArgon2Format = errors.New("password: compare: unreadable argon2id hash")

// parseArgon2id reads "$argon2id$v=19$m=M,t=T,p=P$salt$key".
func parseArgon2id(hash string) (argon2Params, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return argon2Params{}, errArgon2Format
	}
	var p argon2Params
	seen := 0
	for kv := range strings.SplitSeq(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return argon2Params{}, errArgon2Format
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return argon2Params{}, errArgon2Format
		}
		switch k {
		case "m":
			p.memory, seen = uint32(n), seen|1
		case "t":
			p.time, seen = uint32(n), seen|2
		case "p":
			if n > 255 {
				return argon2Params{}, errArgon2Format
			}
			p.threads, seen = uint8(n), seen|4
		default:
			return argon2Params{}, errArgon2Format
		}
	}
	if seen != 7 || p.time == 0 || p.time > maxArgon2Time || p.threads == 0 || p.memory < 8*uint32(p.threads) || p.memory > maxArgon2Memory {
		return argon2Params{}, errArgon2Format
	}
	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(p.salt) == 0 {
		return argon2Params{}, errArgon2Format
	}
	if p.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(p.key) < 16 || len(p.key) > 64 {
		return argon2Params{}, errArgon2Format
	}
	return p, nil
}

// String writes p in the PHC string format.
func (p argon2Params) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.memory, p.time, p.threads,
		base64.RawStdEncoding.EncodeToString(p.salt), base64.RawStdEncoding.EncodeToString(p.key))
}

func compareArgon2id(hash, password string) error {
	p, err := parseArgon2id(hash)
	if err != nil {
		return err
	}
	key := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	if subtle.ConstantTimeCompare(key, p.key) != 1 {
		return ErrMismatch
	}
	return nil
}
