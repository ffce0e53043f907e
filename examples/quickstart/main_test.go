package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestQuickstartTellsTheWholeStory(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(t.Context(), &out))
	got := out.String()
	require.Contains(t, got, "The laptop's session: session: revoked")
	require.Contains(t, got, "The phone's session: session: revoked")
	require.Contains(t, got, "Sign in with the old password: reset: invalid credentials")
	require.Contains(t, got, "Sign in with the new password: ok.")
	require.Contains(t, got, "The same link again: reset: invalid token")
	require.Contains(t, got, "reset-password?token=")
}
