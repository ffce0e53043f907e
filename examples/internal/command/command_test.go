package command_test

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/examples/internal/command"
)

func TestExit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		code   int
		stderr string
	}{
		{"success says nothing", nil, 0, ""},
		{"help was printed by the flag package", fmt.Errorf("parse: %w", flag.ErrHelp), 2, ""},
		{"a failure is named", errors.New("listen: address in use"), 1, "demo: listen: address in use\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			require.Equal(t, tc.code, command.Exit(&stderr, "demo", tc.err))
			require.Equal(t, tc.stderr, stderr.String())
		})
	}
}
