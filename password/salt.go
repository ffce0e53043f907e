package password

import (
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
	//lint:ignore SA1019 bcrypt is Blowfish's key schedule; golang.org/x/crypto/bcrypt imports the same package
	"golang.org/x/crypto/blowfish"
)

// bcryptSaltLen is the bytes of a bcrypt salt: 22 characters of its
// base64 alphabet.
const bcryptSaltLen = 16

// bcryptAlphabet is bcrypt's own base64 alphabet.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// bcryptEncoding writes a salt as bcrypt does (unpadded); bcryptPadded
// reads one as bcrypt does (padded, ignoring the unused low bits).
var (
	bcryptEncoding = base64.NewEncoding(bcryptAlphabet).WithPadding(base64.NoPadding)
	bcryptPadded   = base64.NewEncoding(bcryptAlphabet)
)

// Salt returns the salt of a bcrypt hash ("$2a$", "$2b$", "$2y$") or of an
// argon2id hash in the PHC string format, and false for a hash of another
// kind or a malformed one.
//
// The salt is what the credential stamp (reset.Stamp) is derived from: it
// is new with every password set, since every Hash draws a fresh one, and
// it is kept by a Rehasher's upgrade, which hashes the same password again
// under new parameters. So a sign-in that upgrades a hash does not end the
// user's other sessions, and a new password does.
func Salt(hash string) ([]byte, bool) {
	if isArgon2id(hash) {
		p, err := parseArgon2id(hash)
		if err != nil {
			return nil, false
		}
		return p.salt, true
	}
	// $2a$12$ + 22 characters of salt + 31 of hash.
	if len(hash) != 60 || hash[0] != '$' || hash[1] != '2' || hash[3] != '$' || hash[6] != '$' {
		return nil, false
	}
	if _, err := bcrypt.Cost([]byte(hash)); err != nil {
		return nil, false
	}
	// The 22nd character carries 2 bits of the 128: decode it with the
	// 4 bits it does not need cleared, as bcrypt itself does.
	salt, err := decodeBcryptSalt(hash[7:29])
	if err != nil {
		return nil, false
	}
	return salt, true
}

func decodeBcryptSalt(s string) ([]byte, error) {
	// bcrypt decodes its salt leniently (the unused low bits of the last
	// character are ignored); so does this, through a padded decode.
	b := make([]byte, bcryptSaltLen+2)
	n, err := bcryptPadded.Decode(b, []byte(s+"=="))
	if err != nil {
		return nil, fmt.Errorf("password: bcrypt salt: %w", err)
	}
	if n != bcryptSaltLen {
		return nil, fmt.Errorf("password: bcrypt salt of %d bytes", n)
	}
	return b[:n], nil
}

// magicCipherData is bcrypt's IV: "OrpheanBeholderScryDoubt".
const magicCipherData = "OrpheanBeholderScryDoubt"

// bcryptWithSalt is bcrypt(cost, salt, password), the function
// golang.org/x/crypto/bcrypt computes with a random salt, for a salt given:
// Rehash keeps a hash's salt so that its credential stamp survives. It is
// that package's algorithm over its own Blowfish (golang.org/x/crypto/blowfish),
// step for step, and the tests hold its output to bcrypt's, byte for byte.
func bcryptWithSalt(password string, cost int, salt []byte) (string, error) {
	if err := CheckCost(cost); err != nil || cost == 0 {
		return "", fmt.Errorf("password: bcrypt cost %d", cost)
	}
	if len(salt) != bcryptSaltLen {
		return "", fmt.Errorf("password: bcrypt salt of %d bytes", len(salt))
	}
	encSalt := bcryptEncoding.EncodeToString(salt) // 22 characters
	csalt, err := decodeBcryptSalt(encSalt)
	if err != nil {
		return "", err
	}
	// bcrypt keys Blowfish with the password and its trailing NUL.
	key := append([]byte(password), 0)
	c, err := blowfish.NewSaltedCipher(key, csalt)
	if err != nil {
		return "", fmt.Errorf("password: bcrypt: %w", err)
	}
	for range uint64(1) << cost {
		blowfish.ExpandKey(key, c)
		blowfish.ExpandKey(csalt, c)
	}
	data := []byte(magicCipherData)
	for i := 0; i < len(data); i += 8 {
		for range 64 {
			c.Encrypt(data[i:i+8], data[i:i+8])
		}
	}
	// As every bcrypt: only 23 of the 24 bytes are encoded.
	var b strings.Builder
	fmt.Fprintf(&b, "$2a$%02d$%s%s", cost, encSalt, bcryptEncoding.EncodeToString(data[:23]))
	return b.String(), nil
}
