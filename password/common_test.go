package password_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/trustelem/zxcvbn/frequency"

	"github.com/passreset/passreset/password"
)

// TestIsCommon: the examples, in any case, and words that are not
// on the list.
func TestIsCommon(t *testing.T) {
	for _, w := range []string{"password123", "qwertyuiop", "PASSWORD123", "QwertyUiop", "123456", "!qaz2wsx", "zzzzzzz1", "dragon"} {
		require.True(t, password.IsCommon(w), "%q is on the list", w)
	}
	for _, w := range []string{"", "correct horse battery staple", "password123\nx", "Ｐａｓｓｗｏｒｄ", "a-passreset-only phrase", "zzzzzzzzzzzzzzzzzzzzzzz"} {
		require.False(t, password.IsCommon(w), "%q is not on the list", w)
	}
}

// TestCommonListHoldsZxcvbns: every word of every frequency list of the Go
// port of zxcvbn is found, the first and the last of the sorted list
// included, and the list holds at least 100,000 words.
func TestCommonListHoldsZxcvbns(t *testing.T) {
	require.GreaterOrEqual(t, password.CommonWords, 100_000)
	n := 0
	for name, list := range frequency.FrequencyLists {
		for _, w := range list {
			if !password.IsCommon(w) {
				t.Fatalf("%s: %q is not found", name, w)
			}
			n++
		}
	}
	require.Greater(t, n, 90_000)
	for _, w := range []string{"!qaz2wsx", "zzzzzzz1"} {
		require.True(t, password.IsCommon(strings.ToUpper(w)))
	}
}
