package reset

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MinSecretKeyBytes is the shortest Config.SecretKey NewService accepts.
const MinSecretKeyBytes = 32

// ParseSecretKey decodes a Config.SecretKey written as text, as an
// environment variable or a secret store holds it: hex, or base64 (standard
// or URL-safe, padded or not), of at least 32 bytes. Surrounding white
// space is ignored. Empty text (an unset variable) gives a nil key, which
// NewService takes as no key: it makes one of its own, and warns on a
// durable store. Make one with
//
//	openssl rand -hex 32
//
// The error never quotes the text, which may be a key with a typo.
func ParseSecretKey(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, nil
	}
	// Text of hex digits only is hex (it would be base64 too); anything
	// else is tried as base64, in each of its forms.
	var key []byte
	if k, err := hex.DecodeString(text); err == nil {
		key = k
	} else if strings.Trim(text, "0123456789abcdefABCDEF") != "" {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if k, err := enc.DecodeString(text); err == nil {
				key = k
				break
			}
		}
	}
	switch {
	case key == nil:
		return nil, fmt.Errorf("reset: secret key is neither hex nor base64 (%d characters); make one with: openssl rand -hex 32", len(text))
	case len(key) < MinSecretKeyBytes:
		return nil, fmt.Errorf("reset: secret key holds %d bytes, fewer than %d; make one with: openssl rand -hex 32", len(key), MinSecretKeyBytes)
	}
	return key, nil
}

// LoadKeyFile returns the Config.SecretKey kept in the file at path, and
// creates that file with a new random key of 32 bytes when there is none,
// reporting created. It is the key of an app that keeps its data in one
// place, such as a SQLite file, and should keep working across restarts
// without configuration: keep the key file beside the database, apart from
// it, so that a copy of the database alone does not open the mail it
// holds.
//
// The file holds the key in hex and one line break, readable and writable
// by its owner only (mode 0600): a file that others may read or write is
// refused, as is one that does not hold a key ParseSecretKey accepts. A
// new file is written under a temporary name in the same folder, synced,
// and linked into place only if no file has appeared there meanwhile, then
// the folder is synced: a crash leaves either no key file or a whole one,
// and processes that start at once all end up with the same key.
//
// A fleet of instances on a database server needs one key shared by all of
// them, which a file on one machine is not: give them the same key from
// the environment or a secret store instead (ParseSecretKey).
func LoadKeyFile(path string) (key []byte, created bool, err error) {
	key, err = readKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	key = make([]byte, 32)
	rand.Read(key) // crypto/rand.Read never fails
	if err := createKeyFile(path, key); errors.Is(err, fs.ErrExist) {
		// Another process created it first: use its key.
		key, err = readKeyFile(path)
		return key, false, err
	} else if err != nil {
		return nil, false, err
	}
	return key, true, nil
}

// readKeyFile reads and checks the key file at path.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reset: key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reset: key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("reset: key file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("reset: key file %s has mode %04o: others may read or change the key; make it readable by its owner only (chmod 600)", path, perm)
	}
	const maxLen = 4 << 10 // a key file is one line
	b, err := io.ReadAll(io.LimitReader(f, maxLen+1))
	if err != nil {
		return nil, fmt.Errorf("reset: key file %s: %w", path, err)
	}
	if len(b) > maxLen {
		return nil, fmt.Errorf("reset: key file %s is longer than a key", path)
	}
	key, err := ParseSecretKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("reset: key file %s: %w", path, err)
	}
	return key, nil
}

// createKeyFile writes key to path, atomically and durably, unless a file
// is there already (an error matching fs.ErrExist).
func createKeyFile(path string, key []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("reset: create key file: %w", err)
	}
	defer os.Remove(tmp.Name()) // once linked, the key lives on under path
	err = tmp.Chmod(0o600)      // CreateTemp makes 0600 already; say so
	if err == nil {
		_, err = tmp.WriteString(hex.EncodeToString(key) + "\n")
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("reset: create key file: %w", err)
	}
	// Link, unlike rename, never replaces a file that another process put
	// there meanwhile.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("reset: create key file: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("reset: create key file: %w", err)
	}
	return nil
}

// syncDir makes the folder's entries durable, the new key file's name
// among them.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
