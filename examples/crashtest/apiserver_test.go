package crashtest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
	kills, rng := settings(t)
	dir := workDir(t)
	bin := build(t, dir, "github.com/passreset/passreset/examples/apiserver")
	dbPath := filepath.Join(dir, "api.db")
	users := seedUsers(t, dbPath)
	mailSrv := startMailServer(t)

	addr := freePort(t)
	c := newClient("http://" + addr)
	c.header = map[string]string{"Authorization": "Bearer " + apiKey}
	a := &app{t: t, bin: bin, logDir: dir, args: []string{
		"-addr", addr, "-db", dbPath, "-smtp", mailSrv.addr, "-smtp-tls", "none",
		"-bcrypt-cost", "4", "-trusted-proxies", "127.0.0.1/32", "-client-header", "X-Forwarded-For",
	}, env: []string{"RESET_API_KEY=" + apiKey, "PASSRESET_SECRET_KEY="}}
	a.ready = func() error {
		res := c.send(context.Background(), http.MethodGet, "/user_management/users/user_nope", "", nil, "")
		if res.err != nil {
			return res.err
		}
		if res.status != http.StatusNotFound {
			return fmt.Errorf("GET a missing user: %d", res.status)
		}
		return nil
	}
	defer func() {
		if t.Failed() {
			for i := range a.intervals() {
				p := filepath.Join(dir, fmt.Sprintf("run-%02d.log", i+1))
				t.Logf("---- %s (last lines)\n%s", p, tail(p, 15))
			}
		}
	}()

	load := &webLoad{limited: map[string]int{}, attempts: map[string][]*redeemAttempt{}, accepts: map[string]int{}}
	a.start()
	ctx, stopLoad := context.WithCancel(context.Background())
	var workers sync.WaitGroup
	var next atomic.Int64
	for w := range forgotWorkers {
		seed := rng.Uint64()
		workers.Go(func() { createWorker(ctx, c, load, &next, rand.New(rand.NewPCG(seed, uint64(w)))) })
	}
	workers.Go(func() { limitedCreateWorker(ctx, c, load) })
	for w := range redeemWorkers {
		seed := rng.Uint64()
		workers.Go(func() {
			redeemWorker(ctx, load, mailSrv, rand.New(rand.NewPCG(seed, uint64(w))), func(ctx context.Context, token, password, ip string) string {
				res := c.json(ctx, http.MethodPost, "/user_management/password_reset/confirm", ip, map[string]string{"token": token, "new_password": password})
				switch {
				case res.err != nil || res.status >= 500:
					return "unknown"
				case res.status == http.StatusOK:
					return "accepted"
				}
				return "refused"
			})
		})
	}
	for k := range kills {
		up := time.Duration(1000+rng.IntN(4000)) * time.Millisecond
		if k%2 == 1 || rng.IntN(3) == 0 {
			up = time.Duration(16_000+rng.IntN(4000)) * time.Millisecond
		}
		time.Sleep(up)
		a.kill()
		a.integrityCheck(dbPath)
		time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
		a.start()
	}
	time.Sleep(maxLate + 5*time.Second)
	stopLoad()
	loadStopped := time.Now()
	workers.Wait()

	load.mu.Lock()
	created := slices.Clone(load.forgot)
	load.mu.Unlock()
	waitDelivered(t, mailSrv, created, 30*time.Second)
	checked := 0
	checkPasswords(t, load, func(addr, pw string) bool {
		checked++
		res := c.json(context.Background(), http.MethodPost, "/user_management/authenticate", ipOf(600_000+checked),
			map[string]string{"grant_type": "password", "email": addr, "password": pw})
		require.NoError(t, res.err)
		return res.status == http.StatusOK
	})
	replayed := 0
	checkNoTokenSpentTwice(t, load, func(tok string) bool {
		replayed++
		res := c.json(context.Background(), http.MethodPost, "/user_management/password_reset/confirm", ipOf(700_000+replayed),
			map[string]string{"token": tok, "new_password": "replayed password"})
		require.NoError(t, res.err)
		return res.status == http.StatusBadRequest && strings.Contains(res.body, "password_reset_error")
	})
	// A request the load gave up on may still be running in the server
	// (waiting out a retry's Idempotency-Key, up to 10 s) and create its
	// reset after the load stopped: give those the time to finish, and
	// their emails the time to go, before stopping the last run. A reset
	// whose email never goes still fails checkResetsDelivered below.
	time.Sleep(time.Until(loadStopped.Add(12 * time.Second)))
	waitResetsDelivered(dbPath, mailSrv, 30*time.Second)
	a.stop()
	a.integrityCheck(dbPath)

	runs := a.intervals()
	deliveries := mailSrv.deliveries()
	t.Logf("runs: %d (kills %d), load %v; resets acknowledged (201): %d for accounts, %d for the limited accounts; %d requests unanswered",
		len(runs), kills, runs[len(runs)-1].end.Sub(runs[0].start).Round(time.Second), len(created), sumValues(load.limited), load.unacked.Load())
	for i, res := range a.integrity {
		require.Equal(t, "ok", res, "PRAGMA integrity_check after stop %d", i+1)
	}
	require.Empty(t, mailSrv.fails, "messages the mail server could not read")
	checkResetsDelivered(t, runs, dbPath, deliveries)
	checkDuplicates(t, deliveries, kills)
	for i := range limitedUsers {
		require.LessOrEqual(t, load.limited[limitedAddr(i)], perAddressLimit, "more 201s than the per-address limit across restarts")
	}
	checkDatabase(t, dbPath, users, deliveries)
}

// createWorker creates a reset for one account after another, each once,
// through POST /user_management/password_reset.
func createWorker(ctx context.Context, c *client, load *webLoad, next *atomic.Int64, rng *rand.Rand) {
	for ctx.Err() == nil {
		i := int(next.Add(1)) - 1
		if i >= webUsers {
			return
		}
		addr := knownAddr(i)
		res := c.json(ctx, http.MethodPost, "/user_management/password_reset", ipOf(i+1), map[string]string{"email": addr})
		var pr struct {
			Token string `json:"password_reset_token"`
		}
		if res.err == nil && res.status == http.StatusCreated && json.Unmarshal([]byte(res.body), &pr) == nil && pr.Token != "" {
			load.mu.Lock()
			load.forgot = append(load.forgot, forgotAck{addr: addr, at: time.Now()})
			load.mu.Unlock()
		} else {
			load.unacked.Add(1)
		}
		sleep(ctx, time.Duration(60+rng.IntN(80))*time.Millisecond)
	}
}

// limitedCreateWorker asks for resets for the limited accounts, again and
// again, across the crashes, and counts the 201s: no more than the limit.
func limitedCreateWorker(ctx context.Context, c *client, load *webLoad) {
	for i := 0; ctx.Err() == nil; i++ {
		addr := limitedAddr(i % limitedUsers)
		res := c.json(ctx, http.MethodPost, "/user_management/password_reset", ipOf(300_000+i), map[string]string{"email": addr})
		if res.err == nil && res.status == http.StatusCreated {
			load.mu.Lock()
			load.limited[addr]++
			load.mu.Unlock()
		}
		sleep(ctx, 700*time.Millisecond)
	}
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
