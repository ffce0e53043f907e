package crashtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// target is what sets one app's crash test apart: the command, its flags
// and how the simulated users talk to it. The rest (the build, the seeded
// accounts, the mail server, the load, the kills, the checks from outside)
// is the same for every app: drive.
type target struct {
	pkg    string            // the command's import path
	dbFile string            // its database's file name
	args   []string          // flags beyond -addr, -db and the SMTP server's
	env    []string          // its environment, beyond the test's
	header map[string]string // sent with every request (the API's key)
	// ready is a GET that answers readyStatus once the app serves.
	ready       string
	readyStatus int

	// ask asks for a reset for addr, as the client ip, and says whether
	// the app acknowledged it.
	ask asker
	// askUnknown says that the app acknowledges a request for an address
	// without an account as any other (as a form does, so as not to tell
	// who has one): the load then asks for such addresses too, and
	// checkUnknownGetNothing can check that they get no email.
	askUnknown bool
	// redeem posts a new password with a token: "accepted", "refused" or
	// "unknown" (no answer: a crash).
	redeem func(ctx context.Context, c *client, token, password, ip string) string
	// signIn says whether the password signs the account in.
	signIn func(t *testing.T, c *client, addr, password, ip string) bool
	// replayRefused says whether a post of the spent token is refused.
	replayRefused func(t *testing.T, c *client, token, ip string) bool
	// settle, if set, runs after the load stopped and before the last
	// stop, with when the load stopped.
	settle func(r *crashRun, loadStopped time.Time)
}

// crashRun is one app driven under load through kills, and what came of it.
type crashRun struct {
	kills      int
	dbPath     string
	users      map[string]string // the seeded accounts' ids, by address
	mail       *mailServer
	load       *webLoad
	forgot     []forgotAck // the answered requests of the accounts that ask once
	runs       []interval
	deliveries []delivery
}

// drive builds the app, seeds its database, and runs it under load: the
// workers of tg, killed at random moments and restarted on the same
// database. Then, the load stopped and the last run still serving, it
// checks what a user sees from outside (every accepted password signs in,
// no token is spent twice), stops the app, and checks that the database
// survived every kill and that the mail server read every message.
func drive(t *testing.T, tg target) *crashRun {
	t.Helper()
	kills, rng := settings(t)
	dir := workDir(t)
	bin := build(t, dir, tg.pkg)
	r := &crashRun{kills: kills, dbPath: filepath.Join(dir, tg.dbFile)}
	r.users = seedUsers(t, r.dbPath)
	r.mail = startMailServer(t)

	addr := freePort(t)
	c := newClient("http://" + addr)
	c.header = tg.header
	a := &app{t: t, bin: bin, logDir: dir, env: tg.env, args: append([]string{
		"-addr", addr, "-db", r.dbPath, "-smtp", r.mail.addr, "-smtp-tls", "none",
	}, tg.args...)}
	a.ready = func() error {
		res := c.send(context.Background(), http.MethodGet, tg.ready, "", nil, "")
		if res.err != nil {
			return res.err
		}
		if res.status != tg.readyStatus {
			return fmt.Errorf("GET %s: %d", tg.ready, res.status)
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
	r.load = load
	a.start()
	ctx, stopLoad := context.WithCancel(context.Background())
	var workers sync.WaitGroup
	var next atomic.Int64 // the next account to ask for a reset
	for w := range forgotWorkers {
		seed := rng.Uint64()
		workers.Go(func() { forgotWorker(ctx, c, tg.ask, load, &next, rand.New(rand.NewPCG(seed, uint64(w)))) })
	}
	if tg.askUnknown {
		workers.Go(func() { unknownWorker(ctx, c, tg.ask, load) })
	}
	workers.Go(func() { limitedWorker(ctx, c, tg.ask, load) })
	for w := range redeemWorkers {
		seed := rng.Uint64()
		workers.Go(func() {
			redeemWorker(ctx, load, r.mail, rand.New(rand.NewPCG(seed, uint64(w))), func(ctx context.Context, token, password, ip string) string {
				return tg.redeem(ctx, c, token, password, ip)
			})
		})
	}

	// Kill at random moments: some runs short (a kill during the recovery
	// of the last one), some longer than maxLate (so that an email held
	// up by a crash has to arrive within maxLate of the restart).
	for k := range kills {
		up := time.Duration(1000+rng.IntN(4000)) * time.Millisecond
		if k%2 == 1 || rng.IntN(3) == 0 {
			up = time.Duration(16_000+rng.IntN(4000)) * time.Millisecond
		}
		time.Sleep(up)
		a.kill()
		a.integrityCheck(r.dbPath)
		time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
		a.start()
	}
	time.Sleep(maxLate + 5*time.Second) // the last run, under load, longer than maxLate
	stopLoad()
	loadStopped := time.Now()
	workers.Wait()

	// Let the last run work off what is pending, then check what a user
	// sees from outside while it still runs.
	load.mu.Lock()
	r.forgot = slices.Clone(load.forgot)
	load.mu.Unlock()
	waitDelivered(t, r.mail, r.forgot, 30*time.Second)
	checked := 0
	checkPasswords(t, load, func(addr, pw string) bool {
		checked++
		return tg.signIn(t, c, addr, pw, ipOf(600_000+checked))
	})
	replayed := 0
	checkNoTokenSpentTwice(t, load, func(tok string) bool {
		replayed++
		return tg.replayRefused(t, c, tok, ipOf(700_000+replayed))
	})
	if tg.settle != nil {
		tg.settle(r, loadStopped)
	}
	a.stop()
	a.integrityCheck(r.dbPath)

	r.runs = a.intervals()
	r.deliveries = r.mail.deliveries()
	t.Logf("runs: %d (kills %d), load %v; requests for the accounts that ask once: %d answered, %d unanswered",
		len(r.runs), kills, r.runs[len(r.runs)-1].end.Sub(r.runs[0].start).Round(time.Second), len(r.forgot), load.unacked.Load())
	for i, res := range a.integrity {
		require.Equal(t, "ok", res, "PRAGMA integrity_check after stop %d", i+1)
	}
	require.Empty(t, r.mail.fails, "messages the mail server could not read")
	return r
}

// asker asks the app for a reset for addr, as the client ip, and says
// whether the app acknowledged it (target.ask).
type asker = func(ctx context.Context, c *client, addr, ip string) (acked bool)

// forgotWorker asks for a reset for one account after another, each once.
func forgotWorker(ctx context.Context, c *client, ask asker, load *webLoad, next *atomic.Int64, rng *rand.Rand) {
	for ctx.Err() == nil {
		i := int(next.Add(1)) - 1
		if i >= webUsers {
			return
		}
		addr := knownAddr(i)
		if ask(ctx, c, addr, ipOf(i+1)) {
			load.mu.Lock()
			load.forgot = append(load.forgot, forgotAck{addr: addr, at: time.Now()})
			load.mu.Unlock()
		} else {
			load.unacked.Add(1)
		}
		sleep(ctx, time.Duration(60+rng.IntN(80))*time.Millisecond)
	}
}

// unknownWorker asks for resets for addresses without an account.
func unknownWorker(ctx context.Context, c *client, ask asker, load *webLoad) {
	for i := 0; ctx.Err() == nil; i++ {
		addr := unknownAddr(i)
		if ask(ctx, c, addr, ipOf(200_000+i)) {
			load.mu.Lock()
			load.unknown = append(load.unknown, forgotAck{addr: addr, at: time.Now()})
			load.mu.Unlock()
		}
		sleep(ctx, 250*time.Millisecond)
	}
}

// limitedWorker asks for resets for the limited accounts, again and again,
// across the crashes, and counts the acknowledged requests: each account
// may get perAddressLimit resets, no more.
func limitedWorker(ctx context.Context, c *client, ask asker, load *webLoad) {
	for i := 0; ctx.Err() == nil; i++ {
		addr := limitedAddr(i % limitedUsers)
		if ask(ctx, c, addr, ipOf(300_000+i)) {
			load.mu.Lock()
			load.limited[addr]++
			load.mu.Unlock()
		}
		sleep(ctx, 700*time.Millisecond)
	}
}
