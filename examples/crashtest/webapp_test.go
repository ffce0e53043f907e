package crashtest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/mail/mailtest"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store/sqlitestore"
)

// The load on the web app.
const (
	webUsers        = 3000 // accounts that each ask for one reset
	limitedUsers    = 4    // accounts asked for again and again: the per-address limit
	perAddressLimit = 3    // reset.Config.RateLimit's default, per 15 minutes
	forgotWorkers   = 3
	redeemWorkers   = 3
	oldPassword     = "the password before any reset"
)

func knownAddr(i int) string   { return fmt.Sprintf("user%05d@example.com", i) }
func unknownAddr(i int) string { return fmt.Sprintf("nobody%05d@example.org", i) }
func limitedAddr(i int) string { return fmt.Sprintf("limited%d@example.com", i) }

// forgotAck is a forgot-password post the app answered.
type forgotAck struct {
	addr string
	at   time.Time // when the answer came
}

// redeemAttempt is a post of a new password with a token.
type redeemAttempt struct {
	token, password string
	start           time.Time
	outcome         string // "accepted", "refused" or "unknown" (no answer: a crash)
}

// webLoad is what the load sent and what it was told.
type webLoad struct {
	mu       sync.Mutex
	forgot   []forgotAck                 // answered posts for the accounts that ask once
	unknown  []forgotAck                 // answered posts for addresses without an account
	limited  map[string]int              // answered posts per limited account
	attempts map[string][]*redeemAttempt // by address
	accepts  map[string]int              // accepted posts per token
	races    int                         // tokens posted twice at once
	unacked  atomic.Int64                // forgot posts that got no answer (crash) or a 503
}

// TestWebappSurvivesKills is the crash test of examples/webapp; see the
// package doc.
func TestWebappSurvivesKills(t *testing.T) {
	skipUnlessEnabled(t)
	r := drive(t, target{
		pkg:    "github.com/passreset/passreset/examples/webapp",
		dbFile: "webapp.db",
		args: []string{"-demo-user", "", "-bcrypt-cost", "4", "-trusted-proxies", "127.0.0.1/32",
			"-client-header", "X-Forwarded-For"},
		env:   []string{"PASSRESET_SECRET_KEY="}, // no key: the app keeps its own beside the database
		ready: "/sign-in", readyStatus: http.StatusOK,
		// the form answers alike for every address, known or not
		ask: func(ctx context.Context, c *client, addr, ip string) bool {
			res := c.do(ctx, http.MethodPost, "/forgot-password", ip, url.Values{"email": {addr}})
			return res.err == nil && res.status == http.StatusOK && strings.Contains(res.body, "Check your email")
		},
		askUnknown: true,
		redeem: func(ctx context.Context, c *client, token, password, ip string) string {
			res := c.do(ctx, http.MethodPost, "/reset-password", ip, url.Values{
				"token": {token}, "new_password": {password}, "confirm_password": {password},
			})
			switch {
			case res.err != nil || res.status >= 500:
				return "unknown"
			case res.status == http.StatusSeeOther && strings.Contains(res.location, "notice=password_reset"):
				return "accepted"
			}
			return "refused"
		},
		signIn: func(t *testing.T, c *client, addr, pw, ip string) bool {
			res := c.do(context.Background(), http.MethodPost, "/sign-in", ip, url.Values{"email": {addr}, "password": {pw}})
			require.NoError(t, res.err)
			return res.status == http.StatusSeeOther && res.location == "/"
		},
		replayRefused: func(t *testing.T, c *client, tok, ip string) bool {
			res := c.do(context.Background(), http.MethodPost, "/reset-password", ip, url.Values{
				"token": {tok}, "new_password": {"replayed password"}, "confirm_password": {"replayed password"},
			})
			require.NoError(t, res.err)
			return res.status == http.StatusGone
		},
	})

	t.Logf("forgot posts answered: %d for unknown addresses, %d for the limited accounts", len(r.load.unknown), sumValues(r.load.limited))
	checkForgotDelivered(t, r.runs, r.forgot, r.deliveries, r.kills)
	checkUnknownGetNothing(t, r.load, r.deliveries)
	checkDatabase(t, r.dbPath, r.users, r.deliveries)
}

// seedUsers creates the accounts in the database, before the app's first
// start, and returns their ids by address.
func seedUsers(t *testing.T, path string) map[string]string {
	t.Helper()
	st, err := sqlitestore.Open(t.Context(), path, sqlitestore.WithSynchronousNormal())
	require.NoError(t, err)
	defer st.Close()
	require.NoError(t, st.Migrate(t.Context()))
	svc, err := reset.NewService(reset.Config{Store: st, Mailer: new(mailtest.Recorder), ResetURL: "http://127.0.0.1/reset-password",
		Hasher: password.Bcrypt{Cost: 4}, SecretKey: []byte(strings.Repeat("s", 32))})
	require.NoError(t, err)
	accounts, err := account.New(svc, account.Config{})
	require.NoError(t, err)
	ids := make(map[string]string)
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan string)
	for range 4 {
		wg.Go(func() {
			for addr := range work {
				u, err := accounts.CreateUser(t.Context(), account.CreateUserParams{Email: addr, Password: oldPassword, EmailVerified: true})
				if err != nil {
					t.Error(err)
					continue
				}
				mu.Lock()
				ids[addr] = u.ID
				mu.Unlock()
			}
		})
	}
	for i := range webUsers {
		work <- knownAddr(i)
	}
	for i := range limitedUsers {
		work <- limitedAddr(i)
	}
	close(work)
	wg.Wait()
	require.Len(t, ids, webUsers+limitedUsers)
	return ids
}

// redeemWorker opens the reset emails as they arrive and, for most,
// chooses a new password with post; a quarter of those are posted twice
// at once with two passwords, as two tabs would.
func redeemWorker(ctx context.Context, load *webLoad, m *mailServer, rng *rand.Rand, post func(ctx context.Context, token, password, ip string) (outcome string)) {
	seen := map[string]bool{}
	for {
		var d delivery
		select {
		case <-ctx.Done():
			return
		case d = <-m.arrivals:
		}
		if !strings.HasPrefix(d.to, "user") || seen[d.token] || rng.IntN(10) < 3 {
			continue
		}
		seen[d.token] = true
		n := 1
		if rng.IntN(4) == 0 {
			n = 2
			load.mu.Lock()
			load.races++
			load.mu.Unlock()
		}
		var wg sync.WaitGroup
		for k := range n {
			at := &redeemAttempt{token: d.token, password: fmt.Sprintf("new-%s-%d-%d", d.token[:8], k, rng.Uint32()), start: time.Now()}
			ip := ipOf(400_000 + rng.IntN(100_000))
			load.mu.Lock()
			load.attempts[d.to] = append(load.attempts[d.to], at)
			load.mu.Unlock()
			wg.Go(func() {
				outcome := post(ctx, at.token, at.password, ip)
				load.mu.Lock()
				defer load.mu.Unlock()
				at.outcome = outcome
				if outcome == "accepted" {
					load.accepts[at.token]++
				}
			})
		}
		wg.Wait()
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// waitDelivered waits, at most max, until every answered request has its
// email (the checks that follow say which did not).
func waitDelivered(t *testing.T, m *mailServer, acks []forgotAck, max time.Duration) {
	t.Helper()
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		got := map[string]bool{}
		for _, d := range m.deliveries() {
			got[d.to] = true
		}
		missing := 0
		for _, a := range acks {
			if !got[a.addr] {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkPasswords signs in with the password each account's last accepted
// reset set: no accepted write may be lost. When posts whose answer a
// crash cut off came after it, one of those may have won instead.
func checkPasswords(t *testing.T, load *webLoad, signIn func(addr, password string) bool) {
	t.Helper()
	load.mu.Lock()
	defer load.mu.Unlock()
	checked, lost := 0, 0
	for addr, ats := range load.attempts {
		last := -1
		for i, at := range ats {
			if at.outcome == "accepted" {
				last = i
			}
		}
		if last < 0 {
			continue
		}
		candidates := []string{ats[last].password}
		for _, at := range ats[last+1:] {
			if at.outcome == "unknown" {
				candidates = append(candidates, at.password)
			}
		}
		ok := false
		for _, pw := range candidates {
			if ok = signIn(addr, pw); ok {
				break
			}
		}
		checked++
		if !ok {
			lost++
			t.Errorf("%s: the password of an accepted reset does not sign in (acknowledged write lost)", addr)
		}
	}
	t.Logf("passwords set by accepted resets: %d checked by signing in, %d lost", checked, lost)
	require.Positive(t, checked)
}

// checkNoTokenSpentTwice: no token was accepted twice, racing pairs
// included, and none is accepted again now (refused reports a replay
// refused).
func checkNoTokenSpentTwice(t *testing.T, load *webLoad, refused func(token string) bool) {
	t.Helper()
	load.mu.Lock()
	defer load.mu.Unlock()
	replayed := 0
	for tok, n := range load.accepts {
		require.LessOrEqual(t, n, 1, "token accepted %d times", n)
		require.True(t, refused(tok), "a spent token was accepted again")
		replayed++
	}
	t.Logf("tokens: %d accepted once each, %d posted twice at once, %d replays refused", len(load.accepts), load.races, replayed)
}

// checkForgotDelivered: each answered request for an account got its
// email (one reset; a repeat of its email after a crash allowed), none
// later than maxLate after its request or the restart that followed.
func checkForgotDelivered(t *testing.T, runs []interval, acks []forgotAck, deliveries []delivery, kills int) {
	t.Helper()
	byAddr := map[string][]delivery{}
	for _, d := range deliveries {
		byAddr[d.to] = append(byAddr[d.to], d)
	}
	var items []pending
	extraResets := 0
	for _, a := range acks {
		p := pending{what: "the request for " + a.addr, since: a.at}
		tokens := map[string]bool{}
		for _, d := range byAddr[a.addr] {
			if d.token == "" {
				continue // the password-changed notice
			}
			tokens[d.token] = true
			if p.delivered.IsZero() || d.at.Before(p.delivered) {
				p.delivered = d.at
			}
		}
		extraResets += max(len(tokens)-1, 0)
		items = append(items, p)
	}
	checkLateness(t, runs, "reset emails of answered requests", items)
	checkDuplicates(t, deliveries, kills)
	require.Zero(t, extraResets, "a request made two resets")
}

// pending is something that was to arrive by email: since when, and when
// it did (zero if never).
type pending struct {
	what             string
	since, delivered time.Time
}

// checkLateness: each item arrived, none later than maxLate after it was
// due or after the restart that followed the crash that held it up; and
// some were held up by a crash, or the test tested no recovery.
func checkLateness(t *testing.T, runs []interval, what string, items []pending) {
	t.Helper()
	var sameRun, afterCrash []time.Duration
	var problems []string
	for _, p := range items {
		late, crossed, problem := lateness(runs, p.since, p.delivered)
		switch {
		case problem != "":
			problems = append(problems, p.what+": "+problem)
		case crossed:
			afterCrash = append(afterCrash, late)
		default:
			sameRun = append(sameRun, late)
		}
	}
	t.Logf("%s: %d delivered in the run they were due in (median %v, p99 %v, max %v), %d held up by a crash (after the restart: median %v, p99 %v, max %v)",
		what, len(sameRun), percentile(sameRun, 50).Round(time.Millisecond), percentile(sameRun, 99).Round(time.Millisecond), percentile(sameRun, 100).Round(time.Millisecond),
		len(afterCrash), percentile(afterCrash, 50).Round(time.Millisecond), percentile(afterCrash, 99).Round(time.Millisecond), percentile(afterCrash, 100).Round(time.Millisecond))
	for _, p := range problems[:min(len(problems), 20)] {
		t.Error(p)
	}
	require.Empty(t, problems, "%d lost or late", len(problems))
	require.NotEmpty(t, afterCrash, "no email was held up by a crash: the test did not test recovery")
}

// checkDuplicates: no more copies of one email (one Message-ID) than
// crashes, in all.
func checkDuplicates(t *testing.T, deliveries []delivery, kills int) {
	t.Helper()
	copies := map[string]int{}
	for _, d := range deliveries {
		copies[d.messageID]++
	}
	dups := 0
	for _, n := range copies {
		dups += n - 1
	}
	t.Logf("emails: %d delivered, %d of them repeats (a Message-ID seen before); %d kills", len(deliveries), dups, kills)
	require.LessOrEqual(t, dups, kills, "more duplicate emails than crashes")
}

// checkUnknownGetNothing: addresses without an account get no email.
func checkUnknownGetNothing(t *testing.T, load *webLoad, deliveries []delivery) {
	t.Helper()
	for _, d := range deliveries {
		require.False(t, strings.HasPrefix(d.to, "nobody"), "an address without an account got an email: %s", d.to)
	}
	require.NotEmpty(t, load.unknown)
}

// checkDatabase reads the stopped app's database: every request worked
// off, every job done, every reset's email delivered, and each limited
// account given no more resets than the limit.
func checkDatabase(t *testing.T, path string, users map[string]string, deliveries []delivery) {
	t.Helper()
	db, err := sql.Open("sqlite3", sqlitestore.DSN(path))
	require.NoError(t, err)
	defer db.Close()

	rows, err := db.Query(`SELECT kind, count(*), count(finished_at), count(failed_at) FROM passreset_jobs GROUP BY kind ORDER BY kind`)
	require.NoError(t, err)
	for rows.Next() {
		var kind string
		var all, finished, failed int
		require.NoError(t, rows.Scan(&kind, &all, &finished, &failed))
		t.Logf("jobs %-14s %5d: %d finished, %d failed, %d pending", kind, all, finished, failed, all-finished-failed)
		require.Zero(t, failed, "failed %s jobs", kind)
		require.Equal(t, all, finished, "%s jobs not worked off", kind)
	}
	require.NoError(t, rows.Err())

	sent := map[[32]byte]bool{}
	for _, d := range deliveries {
		if d.token != "" {
			sent[sha256.Sum256([]byte(d.token))] = true
		}
	}
	rows, err = db.Query(`SELECT user_id, token_hash FROM passreset_resets`)
	require.NoError(t, err)
	resets, perUser := 0, map[string]int{}
	for rows.Next() {
		var userID string
		var h []byte
		require.NoError(t, rows.Scan(&userID, &h))
		require.True(t, sent[[32]byte(h)], "the email of a reset of %s never arrived", userID)
		resets++
		perUser[userID]++
	}
	require.NoError(t, rows.Err())
	for i := range limitedUsers {
		n := perUser[users[limitedAddr(i)]]
		t.Logf("%s: %d resets", limitedAddr(i), n)
		require.LessOrEqual(t, n, perAddressLimit, "the per-address limit did not hold across restarts")
		require.Positive(t, n)
	}
	t.Logf("resets: %d, each with its email delivered", resets)
}
