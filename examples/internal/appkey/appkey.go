// Package appkey gives the example apps their reset.Config.SecretKey, the
// key that seals queued mail and keys the limit per address, so that they
// keep working across restarts with no setting:
//
//   - PASSRESET_SECRET_KEY, when set (hex or base64 of 32 bytes or more,
//     as `openssl rand -hex 32` prints), wins;
//   - otherwise, for a SQLite file, a key kept beside it in a file of its
//     own (the database's name plus ".key", mode 0600), made at the first
//     start (reset.LoadKeyFile);
//   - otherwise, for a database server (a URL such as postgres://...), the
//     app refuses to start: the instances that share a server must share one
//     key, and the key must not live in the database, whose readers the
//     sealing guards against.
package appkey

import (
	"errors"
	"fmt"
	"strings"

	"github.com/passreset/passreset/reset"
)

// Env is the environment variable that holds the key.
const Env = "PASSRESET_SECRET_KEY"

// Load returns the key for an app whose -db flag is db (a SQLite file, or a
// database server's URL) and a line for its log that says where the key
// came from (never the key). getenv is os.Getenv, or a test's.
func Load(getenv func(string) string, db string) (key []byte, source string, err error) {
	if text := getenv(Env); strings.TrimSpace(text) != "" {
		key, err := reset.ParseSecretKey(text)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", Env, err)
		}
		return key, "from " + Env, nil
	}
	if ServerDB(db) {
		return nil, "", errors.New(Env + " is not set. A database server may be shared by several instances, which must all " +
			"seal queued mail and count requests with one key, kept apart from the database: make one with " +
			"`openssl rand -hex 32` and give it to every instance in " + Env)
	}
	path := db + ".key"
	key, created, err := reset.LoadKeyFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("%w (or set %s)", err, Env)
	}
	if created {
		return key, "made and kept in " + path + " (keep it with the database; " + Env + " overrides it)", nil
	}
	return key, "from " + path, nil
}

// ServerDB reports whether db names a database server (a URL such as
// postgres://host/db or mysql://...) rather than a SQLite file.
func ServerDB(db string) bool {
	scheme, _, ok := strings.Cut(db, "://")
	return ok && scheme != "" && !strings.ContainsAny(scheme, `/\.`)
}
