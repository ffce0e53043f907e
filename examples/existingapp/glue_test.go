package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// glueLines counts the lines of src that exist only for passreset, as the
// README's awk command does: inside a passreset:begin/end block, every
// line but blank and comment-only ones; outside, the lines that end with a
// "// passreset" comment.
func glueLines(src string) int {
	n, on := 0, false
	for line := range strings.Lines(src) {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.Contains(line, "passreset:begin"):
			on = true
		case strings.Contains(line, "passreset:end"):
			on = false
		case on:
			if trimmed != "" && !strings.HasPrefix(trimmed, "//") && !strings.HasPrefix(trimmed, "<!--") {
				n++
			}
		case strings.Contains(line, "// passreset") && !strings.HasPrefix(trimmed, "//"):
			n++
		}
	}
	return n
}

// The README states how many lines of glue the app has; this keeps the
// figure true as the code changes.
func TestGlueCount(t *testing.T) {
	n := 0
	for _, f := range []string{"app.go", "main.go"} {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		n += glueLines(string(src))
	}
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	for _, re := range []string{`## The glue: (\d+) lines`, `It prints (\d+),`} {
		m := regexp.MustCompile(re).FindSubmatch(readme)
		require.NotNil(t, m, "README.md has no %q", re)
		stated, _ := strconv.Atoi(string(m[1]))
		require.Equal(t, n, stated, "README.md states %s; the code has %d marked lines", m[0], n)
	}
}
