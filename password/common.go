package password

import (
	_ "embed"
	"strings"
)

// commonText is common.txt: 101,777 words, lower-case, sorted bytewise,
// one a line (see gen_common.go, and common-LICENSES.txt for their
// sources: the frequency lists of zxcvbn's Go port and of zxcvbn-ts).
//
// It is searched where it lies, in the binary's read-only data: no map or
// index is built from it, so nothing is allocated, nothing is built at
// start or on first use, and a process holds the list exactly once,
// however many Services or Policies it runs.
//
//go:embed common.txt
var commonText string

// CommonWords is how many words IsCommon knows.
const CommonWords = 101777

// IsCommon reports whether password, compared without regard to case, is
// one of the most common passwords or dictionary words: the 30,000 most
// common passwords of zxcvbn's lists and the 49,233 of zxcvbn-ts's, and
// the English words, names and surnames zxcvbn ranks, 101,777 words in
// all. It is a binary search over the embedded list: about 17 comparisons,
// well under a microsecond, with no allocation for a password already in
// lower case.
func IsCommon(password string) bool {
	w := strings.ToLower(password)
	if w == "" || strings.IndexByte(w, '\n') >= 0 {
		return false
	}
	lo, hi := 0, len(commonText) // the lines wholly inside [lo, hi)
	for lo < hi {
		mid := lo + (hi-lo)/2
		start := strings.LastIndexByte(commonText[lo:mid], '\n') + 1 + lo
		end := strings.IndexByte(commonText[mid:hi], '\n') + mid
		line := commonText[start:end]
		switch c := strings.Compare(w, line); {
		case c == 0:
			return true
		case c < 0:
			hi = start
		default:
			lo = end + 1
		}
	}
	return false
}
