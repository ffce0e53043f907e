package crashtest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/store/sqlitestore"
)

// apiKey is the key the API's clients send.
var apiKey = "sk_test_" + strings.Repeat("c", 40)

// TestAPIServerSurvivesKills is the crash test of examples/apiserver, the
// WorkOS-compatible JSON API, sending through the SMTP server; see the
// package doc. A reset is acknowledged by the 201 that carries its token,
// a new password by the 200 of /password_reset/confirm.
func TestAPIServerSurvivesKills(t *testing.T) {
	skipUnlessEnabled(t)
	r := drive(t, target{
		pkg:    "github.com/passreset/passreset/examples/apiserver",
		dbFile: "api.db",
		args:   []string{"-bcrypt-cost", "4", "-trusted-proxies", "127.0.0.1/32", "-client-header", "X-Forwarded-For"},
		env:    []string{"RESET_API_KEY=" + apiKey, "PASSRESET_SECRET_KEY="},
		header: map[string]string{"Authorization": "Bearer " + apiKey},
		// a missing user: the API serves, and checked the key
		ready: "/user_management/users/user_nope", readyStatus: http.StatusNotFound,
		// a reset is acknowledged by the 201 that carries its token
		ask: func(ctx context.Context, c *client, addr, ip string) bool {
			res := c.json(ctx, http.MethodPost, "/user_management/password_reset", ip, map[string]string{"email": addr})
			var pr struct {
				Token string `json:"password_reset_token"`
			}
			return res.err == nil && res.status == http.StatusCreated && json.Unmarshal([]byte(res.body), &pr) == nil && pr.Token != ""
		},
		redeem: func(ctx context.Context, c *client, token, password, ip string) string {
			res := c.json(ctx, http.MethodPost, "/user_management/password_reset/confirm", ip, map[string]string{"token": token, "new_password": password})
			switch {
			case res.err != nil || res.status >= 500:
				return "unknown"
			case res.status == http.StatusOK:
				return "accepted"
			}
			return "refused"
		},
		signIn: func(t *testing.T, c *client, addr, pw, ip string) bool {
			res := c.json(context.Background(), http.MethodPost, "/user_management/authenticate", ip,
				map[string]string{"grant_type": "password", "email": addr, "password": pw})
			require.NoError(t, res.err)
			return res.status == http.StatusOK
		},
		replayRefused: func(t *testing.T, c *client, tok, ip string) bool {
			res := c.json(context.Background(), http.MethodPost, "/user_management/password_reset/confirm", ip,
				map[string]string{"token": tok, "new_password": "replayed password"})
			require.NoError(t, res.err)
			return res.status == http.StatusBadRequest && strings.Contains(res.body, "password_reset_error")
		},
		// A request the load gave up on may still be running in the server
		// (waiting out a retry's Idempotency-Key, up to 10 s) and create its
		// reset after the load stopped: give those the time to finish, and
		// their emails the time to go, before stopping the last run. A reset
		// whose email never goes still fails checkResetsDelivered below.
		settle: func(r *crashRun, loadStopped time.Time) {
			time.Sleep(time.Until(loadStopped.Add(12 * time.Second)))
			waitResetsDelivered(r.dbPath, r.mail, 30*time.Second)
		},
	})

	t.Logf("resets acknowledged (201) for the limited accounts: %d", sumValues(r.load.limited))
	checkResetsDelivered(t, r.runs, r.dbPath, r.deliveries)
	checkDuplicates(t, r.deliveries, r.kills)
	for i := range limitedUsers {
		require.LessOrEqual(t, r.load.limited[limitedAddr(i)], perAddressLimit, "more resets acknowledged than the per-address limit across restarts")
	}
	checkDatabase(t, r.dbPath, r.users, r.deliveries)
}

// checkResetsDelivered: the email of every reset the database holds (those
// whose 201 a crash cut off included) arrived, none later than maxLate
// after the reset's creation or the restart that followed the crash that
// held it up.
// waitResetsDelivered waits, at most max, until every reset in the
// database at path has had its email delivered.
func waitResetsDelivered(path string, m *mailServer, max time.Duration) {
	for deadline := time.Now().Add(max); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if undelivered(path, m.deliveries()) == 0 {
			return
		}
	}
}

// undelivered counts the resets in the database at path with no delivered
// email (or -1 when the database cannot be read).
func undelivered(path string, deliveries []delivery) int {
	got := map[[32]byte]bool{}
	for _, d := range deliveries {
		if d.token != "" {
			got[sha256.Sum256([]byte(d.token))] = true
		}
	}
	db, err := sql.Open("sqlite3", sqlitestore.DSN(path))
	if err != nil {
		return -1
	}
	defer db.Close()
	rows, err := db.Query(`SELECT token_hash FROM passreset_resets`)
	if err != nil {
		return -1
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var h []byte
		if rows.Scan(&h) != nil || len(h) != 32 {
			return -1
		}
		if !got[[32]byte(h)] {
			n++
		}
	}
	if rows.Err() != nil {
		return -1
	}
	return n
}

func checkResetsDelivered(t *testing.T, runs []interval, path string, deliveries []delivery) {
	t.Helper()
	first := map[[32]byte]time.Time{}
	for _, d := range deliveries {
		if d.token == "" {
			continue
		}
		h := sha256.Sum256([]byte(d.token))
		if at, ok := first[h]; !ok || d.at.Before(at) {
			first[h] = d.at
		}
	}
	db, err := sql.Open("sqlite3", sqlitestore.DSN(path))
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.Query(`SELECT id, token_hash, created_at FROM passreset_resets`)
	require.NoError(t, err)
	var items []pending
	for rows.Next() {
		var id string
		var h []byte
		var created int64
		require.NoError(t, rows.Scan(&id, &h, &created))
		items = append(items, pending{what: id, since: time.UnixMilli(created), delivered: first[[32]byte(h)]})
	}
	require.NoError(t, rows.Err())
	checkLateness(t, runs, "reset emails, from the reset's creation", items)
}
