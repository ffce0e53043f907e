// Package hostusers holds what every SQL store needs to read a host's users
// table by description (store.UsersTable): the mapping between the table's
// keys and the ids passreset shows, and email matching without regard to
// case in full Unicode, Unicode form (NFC or NFD) or the domain's spelling
// (Unicode or punycode), which no SQL database does the same way.
package hostusers

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/passreset/passreset/emailaddr"
	"github.com/passreset/passreset/store"
)

// IDs maps a table's keys to the ids a Store shows and back.
type IDs struct {
	// Integer says the key column holds integers: the id shown is Prefix
	// and the key in decimal. Otherwise the id is the key itself.
	Integer bool
	Prefix  string
}

// Public returns the id shown for an integer key.
func (m IDs) Public(key int64) string { return m.Prefix + strconv.FormatInt(key, 10) }

// Key returns the key, an int64 or a string, of the row an id shown names,
// and false when id cannot name one (a malformed integer id), which a
// lookup answers as not found.
func (m IDs) Key(id string) (any, bool) {
	if !m.Integer {
		return id, id != ""
	}
	digits, ok := strings.CutPrefix(id, m.Prefix)
	if !ok || digits == "" || digits[0] == '+' || (len(digits) > 1 && digits[0] == '0') {
		return nil, false // one key, one id: no "user_042" for 42
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return nil, false
	}
	return n, true
}

// Fold is the form in which two addresses are compared: emailaddr.Fold
// (NFC, the domain in ASCII, lower case; an address emailaddr refuses
// folds to itself, ASCII letters lower-cased). The Service hands stores
// addresses already folded; a store folds both what it is given and what
// it stored, so that rows written in another form still match.
func Fold(email string) string { return emailaddr.Fold(email) }

// FoldsTo reports whether an address stored as email folds to key, a Fold
// result: one stored exactly as key does without being folded again, Fold
// being stable (Fold(Fold(s)) == Fold(s)).
func FoldsTo(email, key string) bool { return email == key || Fold(email) == key }

// LikePattern returns a LIKE pattern that matches, without regard to ASCII
// case (as LIKE and ILIKE compare in every database), every address whose
// Fold could be email: each run of non-ASCII characters becomes the
// any-length wildcard (a fold may change the number of bytes: NFD spells é
// in two characters), so does each punycode label of the domain (xn--...,
// which may be stored in Unicode), and the pattern characters and esc are
// escaped with esc. No non-ASCII character folds to an ASCII one (Fold
// leaves a Kelvin sign alone), so ASCII letters stand for themselves. The
// candidates it finds are then compared with Pick.
func LikePattern(email string, esc byte) string {
	var b strings.Builder
	b.Grow(len(email) + 4)
	wild := false // the last byte written is a '%' wildcard
	wildcard := func() {
		if !wild {
			b.WriteByte('%')
			wild = true
		}
	}
	at := strings.LastIndexByte(email, '@')
	for i := 0; i < len(email); {
		if i > at && (i == at+1 || email[i-1] == '.') && strings.HasPrefix(email[i:], "xn--") {
			// A punycode label: the rest of the label, whatever its spelling.
			wildcard()
			for i < len(email) && email[i] != '.' {
				i++
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(email[i:])
		i += size
		if r >= utf8.RuneSelf {
			wildcard()
			continue
		}
		wild = false
		if r == '%' || r == '_' || r == rune(esc) {
			b.WriteByte(esc)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Pick returns the index of the address among candidates that folds to
// email (already folded), preferring one stored exactly as email, or -1.
func Pick(email string, candidates []string) int {
	found := -1
	for i, c := range candidates {
		switch {
		case c == email:
			return i
		case found < 0 && FoldsTo(c, email):
			found = i
		}
	}
	return found
}

// PickUser is Pick over the users a lookup by email returned: the one
// stored exactly as email (already folded), else the first whose address
// folds to it. Rows a collation matched that fold to another address are
// passed over.
func PickUser(email string, users []store.User) (store.User, bool) {
	emails := make([]string, len(users))
	for i, u := range users {
		emails[i] = u.Email
	}
	if i := Pick(email, emails); i >= 0 {
		return users[i], true
	}
	return store.User{}, false
}
