package appkey_test

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/examples/internal/appkey"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestKeyFileBesideTheDatabase(t *testing.T) {
	db := filepath.Join(t.TempDir(), "webapp.db")
	key, source, err := appkey.Load(env(nil), db)
	require.NoError(t, err)
	require.Len(t, key, 32)
	require.Contains(t, source, "made and kept in "+db+".key")
	fi, err := os.Stat(db + ".key")
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	again, source, err := appkey.Load(env(nil), db)
	require.NoError(t, err)
	require.Equal(t, key, again, "the same key after a restart")
	require.Equal(t, "from "+db+".key", source)
}

func TestEnvironmentWins(t *testing.T) {
	db := filepath.Join(t.TempDir(), "webapp.db")
	_, _, err := appkey.Load(env(nil), db)
	require.NoError(t, err)
	want := strings.Repeat("ab", 32)
	key, source, err := appkey.Load(env(map[string]string{appkey.Env: want}), db)
	require.NoError(t, err)
	require.Equal(t, want, hex.EncodeToString(key))
	require.Equal(t, "from "+appkey.Env, source)

	_, _, err = appkey.Load(env(map[string]string{appkey.Env: "abcd"}), db)
	require.ErrorContains(t, err, appkey.Env)
	require.ErrorContains(t, err, "openssl rand -hex 32")
}

func TestServerDatabaseNeedsTheEnvironment(t *testing.T) {
	for _, db := range []string{"postgres://u@db.internal:5432/app", "postgresql://x/y", "mysql://u@tcp(db)/app"} {
		_, _, err := appkey.Load(env(nil), db)
		require.ErrorContains(t, err, appkey.Env+" is not set", db)
		require.ErrorContains(t, err, "openssl rand -hex 32")
		key, _, err := appkey.Load(env(map[string]string{appkey.Env: strings.Repeat("cd", 32)}), db)
		require.NoError(t, err, db)
		require.Len(t, key, 32)
	}
	for _, db := range []string{"webapp.db", "/var/lib/app/data.db", "./a://b.db", "file.db?x=y"} {
		require.False(t, appkey.ServerDB(db), db)
	}
}
