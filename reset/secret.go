package reset

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/passreset/passreset/mail"
)

// secrets derives the Service's keys from Config.SecretKey with HKDF
// (RFC 5869, SHA-256), one per purpose told apart by HKDF's info: one seals
// the outbox, one keys the hash of rate-limited addresses, one the hashes
// of reset codes, one seals the answers kept for replay and one keys their
// hashes. Deriving them keeps a single configuration value without using
// one key for two purposes.
type secrets struct {
	aead       cipher.AEAD
	rateMACs   *macs // under the rate-limit key
	codeMACs   *macs // under the reset-code key
	replayAEAD cipher.AEAD
	replayKey  []byte
	rand       io.Reader
	plain      scratch // for sealJSON
}

// The HKDF info of each derived key. Changing one changes the key: mail
// sealed under the old one can no longer be opened.
const (
	infoOutboxSeal = "passreset outbox seal v1"
	infoRateLimit  = "passreset rate limit v1"
	infoResetCode  = "passreset reset code v1"
	infoReplaySeal = "passreset replay seal v1"
	infoReplayHash = "passreset replay hash v1"
)

func newSecrets(master []byte, rand io.Reader) (*secrets, error) {
	if len(master) < MinSecretKeyBytes {
		return nil, fmt.Errorf("reset: SecretKey must be at least 32 bytes, got %d", len(master))
	}
	sealKey, err := hkdf.Key(sha256.New, master, nil, infoOutboxSeal, 32) // AES-256
	if err != nil {
		return nil, fmt.Errorf("reset: derive outbox key: %w", err)
	}
	rateKey, err := hkdf.Key(sha256.New, master, nil, infoRateLimit, sha256.Size)
	if err != nil {
		return nil, fmt.Errorf("reset: derive rate-limit key: %w", err)
	}
	codeKey, err := hkdf.Key(sha256.New, master, nil, infoResetCode, sha256.Size)
	if err != nil {
		return nil, fmt.Errorf("reset: derive reset-code key: %w", err)
	}
	aead, err := newAEAD(sealKey)
	if err != nil {
		return nil, fmt.Errorf("reset: outbox cipher: %w", err)
	}
	replaySealKey, err := hkdf.Key(sha256.New, master, nil, infoReplaySeal, 32)
	if err != nil {
		return nil, fmt.Errorf("reset: derive replay key: %w", err)
	}
	replayAEAD, err := newAEAD(replaySealKey)
	if err != nil {
		return nil, fmt.Errorf("reset: replay cipher: %w", err)
	}
	replayKey, err := hkdf.Key(sha256.New, master, nil, infoReplayHash, sha256.Size)
	if err != nil {
		return nil, fmt.Errorf("reset: derive replay key: %w", err)
	}
	return &secrets{aead: aead, rateMACs: &macs{key: rateKey}, codeMACs: &macs{key: codeKey},
		replayAEAD: replayAEAD, replayKey: replayKey, rand: rand}, nil
}

// macs hands out HMAC-SHA-256 states under one key, kept between uses: a
// state made anew costs allocations and the compression of the key's two
// padded blocks, which a state reset after use has already done.
type macs struct {
	key  []byte
	pool sync.Pool
}

// sum is the HMAC of parts, written one after the other.
func (m *macs) sum(parts ...string) [sha256.Size]byte {
	h, _ := m.pool.Get().(hash.Hash)
	if h == nil {
		h = hmac.New(sha256.New, m.key)
	}
	for _, p := range parts {
		_, _ = io.WriteString(h, p)
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	h.Reset() // nothing of the message stays in the pool
	m.pool.Put(h)
	return out
}

// newAEAD is AES-256-GCM under key.
func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// rateLimitKey is the key under which requests for email are counted: a
// keyed hash, so the Store never holds the address of an unknown account.
func (s *secrets) rateLimitKey(email string) string {
	sum := s.rateMACs.sum(email)
	return hex.EncodeToString(sum[:])
}

// codeLookup is the key under which a reset's code is found: a keyed hash
// of the address it is entered with, so the Store never holds the address.
func (s *secrets) codeLookup(email string) string {
	sum := s.codeMACs.sum("address\x00", email)
	return hex.EncodeToString(sum[:])
}

// codeHash is what a Store keeps of a reset's code: HMAC-SHA-256 under the
// reset-code key of the reset's id and the code. A short code's plain hash
// would fall to a brute force of its 10^8 values in well under a second;
// keyed, a copy of the database alone tells nothing of it, and the key's
// holder could open the queued email that carries it anyway. Online, the
// code allows 5 guesses (and the address a few per hour), so a guess
// succeeds with a chance of 5 in 10^8 per reset. Binding the reset's id
// makes the same code of two resets hash apart.
func (s *secrets) codeHash(resetID, code string) [32]byte {
	return s.codeMACs.sum("code\x00", resetID, "\x00", code)
}

var errUnsealable = errors.New("reset: queued job cannot be opened: sealed under another SecretKey")

// seal encrypts a message for the outbox, bound to its job id.
func (s *secrets) seal(jobID string, m mail.Message) ([]byte, error) {
	return s.sealJSON(jobID, m)
}

// open decrypts what seal made for jobID.
func (s *secrets) open(jobID string, sealed []byte) (mail.Message, error) {
	var m mail.Message
	err := s.openJSON(jobID, sealed, &m)
	return m, err
}

// requestPayload is what a store.JobResetRequest holds, sealed.
type requestPayload struct {
	Email string `json:"email"`
}

// sealRequest seals the address of a reset request, bound to its job id.
func (s *secrets) sealRequest(jobID, email string) ([]byte, error) {
	return s.sealJSON(jobID, requestPayload{Email: email})
}

// openRequest opens what sealRequest made for jobID.
func (s *secrets) openRequest(jobID string, sealed []byte) (string, error) {
	var p requestPayload
	if err := s.openJSON(jobID, sealed, &p); err != nil {
		return "", err
	}
	if p.Email == "" {
		return "", errors.New("reset: open: reset request without an address")
	}
	return p.Email, nil
}

// sealJSON encrypts v's JSON for the outbox, bound to its job id (the
// AEAD's additional data), so that a payload cannot be moved to another
// job.
//
// The JSON is json.Marshal's, written into a scratch buffer, so that the
// plain text is not copied out before it is sealed.
func (s *secrets) sealJSON(jobID string, v any) ([]byte, error) {
	buf := s.plain.get()
	defer s.plain.put(buf)
	// Encode writes what Marshal returns, and a newline.
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		return nil, fmt.Errorf("reset: seal: %w", err)
	}
	plain := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	sealed, err := sealWith(s.aead, s.rand, []byte(jobID), plain)
	if err != nil {
		return nil, fmt.Errorf("reset: seal: %w", err)
	}
	return sealed, nil
}

// openJSON decrypts what sealJSON made for jobID into v.
func (s *secrets) openJSON(jobID string, sealed []byte, v any) error {
	plain, ok := openWith(s.aead, []byte(jobID), sealed)
	if !ok {
		return errUnsealable
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return fmt.Errorf("reset: open: %w", err)
	}
	return nil
}

// sealWith encrypts plain under aead with a random nonce, which it puts
// first, binding it to ad.
func sealWith(aead cipher.AEAD, rand io.Reader, ad, plain []byte) ([]byte, error) {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plain, ad), nil
}

// openWith decrypts what sealWith made under aead for ad; ok is false when
// it cannot (another key, another ad, or altered bytes).
func openWith(aead cipher.AEAD, ad, sealed []byte) (plain []byte, ok bool) {
	n := aead.NonceSize()
	if len(sealed) < n+aead.Overhead() {
		return nil, false
	}
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], ad)
	return plain, err == nil
}
