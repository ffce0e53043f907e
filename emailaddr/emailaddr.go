// Package emailaddr puts email addresses in one form, so that one mailbox
// makes one account, and refuses addresses that cannot safely receive mail.
//
// Normalize returns the form to store and to show: the local part in
// Unicode NFC with its case kept, the domain in ASCII (IDNA, the Lookup
// profile) and in lower case. It refuses control characters, invisible
// and bidirectional characters (zero-width joiners, right-to-left
// overrides), compatibility characters and characters that become ASCII
// letters only when normalised or lower-cased (U+212A KELVIN SIGN is not
// "k"), domain literals ("[192.0.2.1]"), quoted local parts, and addresses
// over the RFC 5321 lengths: 64 octets for the local part, 255 for the
// domain, 254 for the whole address.
//
// Fold returns the key two addresses are compared by: Normalize's form in
// lower case. Two addresses that Normalize accepts fold alike when they
// name one mailbox in different Unicode forms (NFC or NFD, the domain in
// Unicode or in punycode) or different case. An address Normalize refuses
// (one stored before these rules) folds to itself with only its ASCII
// letters lower-cased, which no accepted address folds to: it can never
// be reached by typing a look-alike.
//
// A host that checks addresses against an allow or deny list should check
// Normalize's result, the form passreset stores and matches: since every
// character that would change script or become ASCII on the way is
// refused, a raw address Normalize accepts and its normalised form agree
// on every ASCII character outside the domain's punycode labels.
package emailaddr

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// Limits from RFC 5321 section 4.5.3.1, in octets.
const (
	MaxLocalLength   = 64  // the local part
	MaxDomainLength  = 255 // the domain, in ASCII
	MaxAddressLength = 254 // the whole address: a path of 256 less its "<" and ">"
	maxLabelLength   = 63  // one label of the domain (RFC 1035)
	// maxInput bounds the work done on an input before its form is known:
	// an NFD address within the limits is at most a few times longer.
	maxInput = 4 * MaxAddressLength
)

// ErrInvalid is matched (errors.Is) by every error Normalize returns.
var ErrInvalid = errors.New("emailaddr: invalid address")

// The reasons Normalize refuses an address. Each matches ErrInvalid too.
var (
	// ErrSyntax: not an address at all: empty, no "@", an empty local part
	// or domain, a space, or a character the local part cannot hold
	// unquoted.
	ErrSyntax error = reason("not an address")
	// ErrControl: a control character (U+0000 to U+001F, U+007F to U+009F).
	ErrControl error = reason("control character")
	// ErrInvisible: a character that shows nothing or reorders what shows:
	// format characters (zero-width, bidirectional controls), other
	// default-ignorable characters, spaces, private-use or unassigned
	// code points.
	ErrInvisible error = reason("invisible or bidirectional character")
	// ErrConfusable: a compatibility character (fullwidth letters,
	// ligatures) or a character that becomes ASCII when normalised or
	// lower-cased (U+212A KELVIN SIGN): it would match an address it does
	// not look like.
	ErrConfusable error = reason("character that passes for another")
	// ErrDomainLiteral: a domain given as an IP address in brackets.
	ErrDomainLiteral error = reason("domain literal")
	// ErrQuoted: a quoted local part, which can carry spaces, "@" and
	// backslashes that other systems read differently.
	ErrQuoted error = reason("quoted local part")
	// ErrDomain: a domain that IDNA refuses, or that it would change
	// beyond lower-casing (label separators other than ".", a trailing
	// dot), or with a label over 63 octets.
	ErrDomain error = reason("invalid domain")
	// ErrTooLong: over the RFC 5321 lengths (MaxLocalLength,
	// MaxDomainLength, MaxAddressLength).
	ErrTooLong error = reason("too long")
)

// reason is a refusal's error: "emailaddr: invalid address: <reason>".
type reason string

func (r reason) Error() string { return ErrInvalid.Error() + ": " + string(r) }

// Is makes every reason match ErrInvalid.
func (r reason) Is(target error) bool { return target == ErrInvalid }

// Normalize returns the address in its one form, or an error matching
// ErrInvalid and the reason (ErrSyntax, ErrControl, ErrInvisible,
// ErrConfusable, ErrDomainLiteral, ErrQuoted, ErrDomain, ErrTooLong). It
// trims surrounding white space, puts the address in Unicode NFC, converts
// the domain to ASCII with IDNA and lower-cases it. The local part keeps
// its case; compare addresses with Fold.
func Normalize(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", ErrSyntax
	case len(s) > maxInput:
		return "", ErrTooLong
	case !utf8.ValidString(s), !strings.Contains(s, "@"):
		return "", ErrSyntax
	}
	for _, r := range s {
		if err := checkRune(r); err != nil {
			return "", err
		}
	}
	s = norm.NFC.String(s)
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return "", ErrSyntax
	}
	local, domain := s[:at], s[at+1:]
	if strings.HasPrefix(domain, "[") {
		return "", ErrDomainLiteral
	}
	if strings.HasPrefix(local, `"`) {
		return "", ErrQuoted
	}
	if err := checkLocal(local); err != nil {
		return "", err
	}
	ascii, err := asciiDomain(domain)
	if err != nil {
		return "", err
	}
	if len(local)+1+len(ascii) > MaxAddressLength {
		return "", ErrTooLong
	}
	return local + "@" + ascii, nil
}

// Fold returns the key under which addresses compare: for an address
// Normalize accepts, its normal form in lower case (Unicode, then NFC
// again); for any other string, the string with its ASCII letters
// lower-cased and nothing else changed, which matches no accepted
// address. Fold(Fold(s)) == Fold(s).
func Fold(s string) string {
	n, err := Normalize(s)
	if err != nil {
		return asciiLower(s)
	}
	return foldNormal(n)
}

// FoldValid returns Fold(s) for an address Normalize accepts, and
// Normalize's error for one it refuses: what Normalize then Fold of its
// result would give, with one pass of Normalize instead of two.
func FoldValid(s string) (string, error) {
	n, err := Normalize(s)
	if err != nil {
		return "", err
	}
	return foldNormal(n), nil
}

// EqualFold reports whether a and b fold alike (Fold(a) == Fold(b)): the
// same mailbox, however each is spelt. Equal strings are, without folding
// either.
func EqualFold(a, b string) bool { return a == b || Fold(a) == Fold(b) }

// foldNormal is the fold of n, a form Normalize returned.
func foldNormal(n string) string { return norm.NFC.String(strings.ToLower(n)) }

// checkRune refuses a character no address should hold.
func checkRune(r rune) error {
	switch {
	case r == ' ':
		return ErrSyntax // an unquoted address has no space
	case r > ' ' && r < 0x7f:
		return nil // the rest of printable ASCII: graphic, none of the sets below
	case unicode.IsControl(r):
		return ErrControl
	case !unicode.IsGraphic(r), unicode.Is(unicode.Zs, r),
		unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r),
		unicode.Is(unicode.Variation_Selector, r):
		// Not graphic: format (Cf: zero-width, bidirectional controls,
		// soft hyphen), private use, unassigned, line and paragraph
		// separators.
		return ErrInvisible
	case r < utf8.RuneSelf:
		return nil
	}
	one := string(r)
	nfc := norm.NFC.String(one)
	if norm.NFKC.String(one) != nfc || isASCII(nfc) || isASCII(strings.ToLower(nfc)) {
		return ErrConfusable
	}
	return nil
}

// checkLocal checks an unquoted local part (a dot-atom of RFC 5322 with
// the UTF-8 of RFC 6531) and its length.
func checkLocal(local string) error {
	if local == "" || local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return ErrSyntax
	}
	for i := 0; i < len(local); i++ {
		if c := local[i]; c < utf8.RuneSelf && !isAtext(c) && c != '.' {
			return ErrSyntax
		}
	}
	if len(local) > MaxLocalLength {
		return ErrTooLong
	}
	return nil
}

// isAtext reports whether c is an ASCII atext character of RFC 5322.
func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// asciiDomain converts a domain to lower-case ASCII with IDNA's Lookup
// profile, and refuses it when IDNA would change it beyond that: the
// Unicode form of the result must be the domain in lower case.
func asciiDomain(domain string) (string, error) {
	if domain == "" {
		return "", ErrSyntax
	}
	if len(domain) > maxInput {
		return "", ErrTooLong
	}
	if ldhDomain(domain) {
		return domain, nil
	}
	return idnaDomain(domain)
}

// ldhDomain reports whether domain is already in the form asciiDomain
// gives, which IDNA leaves as it is: labels of lower-case ASCII letters,
// digits and inner hyphens, none with hyphens in its third and fourth
// places (as "xn--"), none empty or over 63 octets, within
// MaxDomainLength. Any other domain goes through IDNA.
func ldhDomain(domain string) bool {
	if len(domain) > MaxDomainLength {
		return false
	}
	start := 0
	for i := 0; i <= len(domain); i++ {
		if i < len(domain) && domain[i] != '.' {
			if c := domain[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
			continue
		}
		label := domain[start:i]
		if label == "" || len(label) > maxLabelLength || label[0] == '-' || label[len(label)-1] == '-' ||
			len(label) >= 4 && label[2] == '-' && label[3] == '-' {
			return false
		}
		start = i + 1
	}
	return true
}

// idnaDomain is asciiDomain through IDNA.
func idnaDomain(domain string) (string, error) {
	ascii, err := idna.Lookup.ToASCII(domain)
	if err != nil || ascii == "" || strings.HasSuffix(ascii, ".") {
		return "", ErrDomain
	}
	// Lower-casing and punycode alone must give the same: any other
	// mapping of Lookup's (a fullwidth dot, a compatibility character)
	// would let two spellings name one domain.
	if raw, err := idna.Punycode.ToASCII(norm.NFC.String(strings.ToLower(domain))); err != nil || raw != ascii {
		return "", ErrDomain
	}
	if back, err := idna.Lookup.ToUnicode(ascii); err != nil || strings.ContainsFunc(back, func(r rune) bool { return checkRune(r) != nil }) {
		return "", ErrDomain // punycode that hides a character refused in Unicode
	}
	if len(ascii) > MaxDomainLength {
		return "", ErrTooLong
	}
	for label := range strings.SplitSeq(ascii, ".") {
		if label == "" || len(label) > maxLabelLength {
			return "", ErrDomain
		}
	}
	return ascii, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// asciiLower lower-cases the ASCII letters of s and leaves every other
// byte alone.
func asciiLower(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return 'A' <= r && r <= 'Z' }) {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
