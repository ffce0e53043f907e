package fleet_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store/pgstore"
)

// benchClients is how many clients send requests at once.
const benchClients = 16

// BenchmarkFleet measures how the examples scale from one instance to three
// on one Postgres, with 16 clients sending requests at once through the
// round-robin proxy, each waiting for its answer before sending the next;
// it reports requests per second (req/s) and the mean time of one
// (ms/req):
//
//   - create: POST /user_management/password_reset to the apiservers, over
//     as many addresses as it takes for the per-address limit (3 per 15
//     minutes) never to refuse one;
//   - confirm: POST /user_management/password_reset/confirm, each with a
//     token of its own made beforehand (bcrypt at cost 4, the lowest, so
//     that the database, not the hash, is what is measured);
//   - validate: GET /sign-in on the webapps with a session cookie, which
//     validates the session and its credential stamp and redirects home
//     (303);
//   - pgbench: pgbench's figure on the same server, in the same run, for
//     one-row INSERTs in their own transactions with the server's
//     durability (synchronous_commit as configured, fsync), 16 clients, 10
//     seconds: what create's one durable commit can come close to.
//
// Each instance is a process built from the command (a pool of max(4,
// CPUs) connections each); the proxy and the clients run in the benchmark's
// process, on the same machine. Every request carries a client address of
// its own (X-Forwarded-For, from the proxy the instances trust), so that
// the limits per client, which one machine's requests would otherwise meet
// at once, never apply. Any answer but the one expected fails the
// benchmark. Run it with a fixed count, for example:
//
//	PASSRESET_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//		go test ./examples/fleet -run '^$' -bench Fleet -benchtime 2000x
func BenchmarkFleet(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			db := freshDatabase(b)
			api := startAPIFleetKeeping(b, n, db, true)
			web := startWebFleet(b, n, db)
			seed := newSeeder(b, db)
			b.Run("create", func(b *testing.B) { benchCreate(b, api, seed) })
			b.Run("confirm", func(b *testing.B) { benchConfirm(b, api, seed) })
			b.Run("validate", func(b *testing.B) { benchValidate(b, web, seed) })
		})
	}
	b.Run("pgbench", benchPgbench)
}

// webFleet is n webapp processes behind a proxy.
type webFleet struct{ *proxy }

func startWebFleet(tb testing.TB, n int, db string) *webFleet {
	tb.Helper()
	bin := build(tb, "webapp")
	f := &webFleet{proxy: newProxy(tb)}
	base := "http://" + f.Listener.Addr().String()
	env := []string{"PASSRESET_SECRET_KEY=" + randomHex(32)}
	var addrs []string
	for i := range n {
		// -smtp to a closed port: no mail is sent in these benchmarks, and
		// none is kept in memory.
		_, addr := start(tb, fmt.Sprintf("webapp %d", i+1), bin, env, webReady,
			"-addr", "127.0.0.1:0", "-db", db, "-base-url", base, "-bcrypt-cost", "4", "-trusted-proxies", "127.0.0.1/32", "-client-header", "X-Forwarded-For",
			"-demo-user", "", "-smtp", "127.0.0.1:1", "-smtp-tls", "none")
		addrs = append(addrs, addr)
	}
	f.setBackendsKeeping(tb, addrs, true)
	return f
}

// seeder makes users and resets in the benchmark's own process, over the
// same database, so that the measured requests find them.
type seeder struct {
	svc   *reset.Service
	acct  *account.Service
	users atomic.Int64
	// creates counts the resets asked for through the fleet, to spread
	// them over addresses, three each.
	creates atomic.Int64
	mu      sync.Mutex
	targets []string // addresses of users made for create, in order
}

func newSeeder(tb testing.TB, db string) *seeder {
	tb.Helper()
	st, err := pgstore.Open(context.Background(), db)
	require.NoError(tb, err)
	tb.Cleanup(st.Close)
	svc, err := reset.NewService(reset.Config{
		Store: st, Mailer: mail.NewDev(slog.New(slog.DiscardHandler), 1), ResetURL: "http://localhost:3000/reset-password",
		Hasher: password.Bcrypt{Cost: 4}, Logger: slog.New(slog.DiscardHandler), RateLimit: reset.RateLimit{Disabled: true},
	})
	require.NoError(tb, err)
	acct, err := account.New(svc, account.Config{})
	require.NoError(tb, err)
	return &seeder{svc: svc, acct: acct}
}

// user makes a user, with a password when pw is not empty.
func (s *seeder) user(tb testing.TB, pw string) string {
	tb.Helper()
	email := fmt.Sprintf("bench.%d.%s@example.com", s.users.Add(1), strings.ToLower(randomHex(4)))
	_, err := s.acct.CreateUser(context.Background(), account.CreateUserParams{Email: email, Password: pw})
	require.NoError(tb, err)
	return email
}

// nextTarget returns the address of the next create, each address taking
// three, which the per-address limit allows.
func (s *seeder) nextTarget() string {
	i := int(s.creates.Add(1) - 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.targets[i/3]
}

// prepareTargets makes sure the next n creates have addresses.
func (s *seeder) prepareTargets(tb testing.TB, n int) {
	tb.Helper()
	need := (int(s.creates.Load())+n)/3 + 1
	for len(s.targets) < need {
		s.targets = append(s.targets, s.user(tb, ""))
	}
}

// benchClient is an HTTP client that keeps its connections to the proxy.
var benchClient = &http.Client{Transport: &http.Transport{
	MaxIdleConnsPerHost: benchClients,
	DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

var clientAddrs atomic.Uint32

// benchRequest sends one request with a client address of its own and
// returns its status.
func benchRequest(method, target, contentType, body string, header http.Header) (int, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, target, r)
	if err != nil {
		return 0, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	n := clientAddrs.Add(1)
	req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", byte(n>>16), byte(n>>8), byte(n)))
	res, err := benchClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}

// runClients sends b.N requests from benchClients clients at once, request
// i made by do(i), and reports the throughput.
func runClients(b *testing.B, do func(i int) error) {
	b.Helper()
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range benchClients {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N || failed.Load() != nil {
					return
				}
				if err := do(i); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(elapsed.Milliseconds())*benchClients/float64(b.N), "ms/req")
	b.ReportMetric(0, "ns/op") // the figures above say it
}

func benchCreate(b *testing.B, f *apiFleet, s *seeder) {
	s.prepareTargets(b, b.N)
	auth := http.Header{"Authorization": {"Bearer " + f.apiKey}}
	runClients(b, func(int) error {
		status, err := benchRequest(http.MethodPost, f.URL+"/user_management/password_reset", "application/json",
			`{"email":"`+s.nextTarget()+`"}`, auth)
		if err == nil && status != http.StatusCreated {
			err = fmt.Errorf("create answered %d", status)
		}
		return err
	})
}

func benchConfirm(b *testing.B, f *apiFleet, s *seeder) {
	tokens := make([]string, b.N)
	for i := range tokens {
		pr, err := s.svc.CreatePasswordReset(context.Background(), reset.CreatePasswordResetParams{Email: s.user(b, "")})
		require.NoError(b, err)
		tokens[i] = pr.Token
	}
	auth := http.Header{"Authorization": {"Bearer " + f.apiKey}}
	runClients(b, func(i int) error {
		status, err := benchRequest(http.MethodPost, f.URL+"/user_management/password_reset/confirm", "application/json",
			`{"token":"`+tokens[i]+`","new_password":"a new passphrase `+strconv.Itoa(i)+`"}`, auth)
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("confirm answered %d", status)
		}
		return err
	})
}

func benchValidate(b *testing.B, f *webFleet, s *seeder) {
	const pw = "a benchmark passphrase"
	cookies := make([]string, benchClients)
	for i := range cookies {
		email := s.user(b, pw)
		req, err := http.NewRequest(http.MethodPost, f.URL+"/sign-in", strings.NewReader(url.Values{"email": {email}, "password": {pw}}.Encode()))
		require.NoError(b, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := benchClient.Do(req)
		require.NoError(b, err)
		res.Body.Close()
		require.Equal(b, http.StatusSeeOther, res.StatusCode)
		require.NotEmpty(b, res.Cookies())
		cookies[i] = res.Cookies()[0].String()
	}
	runClients(b, func(i int) error {
		status, err := benchRequest(http.MethodGet, f.URL+"/sign-in", "", "", http.Header{"Cookie": {cookies[i%benchClients]}})
		if err == nil && status != http.StatusSeeOther {
			err = fmt.Errorf("a signed-in GET /sign-in answered %d, not the redirect home", status)
		}
		return err
	})
}

var tpsLine = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// benchPgbench runs pgbench once, whatever b.N, for 10 seconds.
func benchPgbench(b *testing.B) {
	base := postgresURL(b)
	bin, err := exec.LookPath("pgbench")
	if err != nil {
		b.Skip("pgbench is not installed (it comes with Postgres's client tools)")
	}
	schema := "fleet_pgbench_" + strings.ToLower(randomHex(6))
	pool, err := pgxpool.New(context.Background(), base)
	require.NoError(b, err)
	defer pool.Close()
	_, err = pool.Exec(context.Background(), "CREATE SCHEMA "+schema+"; CREATE TABLE "+schema+".onerow (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), v text NOT NULL)")
	require.NoError(b, err)
	defer pool.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	var syncCommit string
	require.NoError(b, pool.QueryRow(context.Background(), "SHOW synchronous_commit").Scan(&syncCommit))
	script := filepath.Join(b.TempDir(), "insert.sql")
	require.NoError(b, os.WriteFile(script, []byte("INSERT INTO "+schema+".onerow (v) VALUES ('a reset''s worth of text');\n"), 0o600))

	b.ResetTimer()
	out, err := exec.Command(bin, "-n", "-c", strconv.Itoa(benchClients), "-j", "2", "-T", "10", "-f", script, base).CombinedOutput()
	b.StopTimer()
	require.NoError(b, err, "%s", out)
	m := tpsLine.FindSubmatch(out)
	require.NotNil(b, m, "no tps in pgbench's output: %s", out)
	tps, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(b, err)
	b.Logf("pgbench, one-row INSERT per transaction, synchronous_commit=%s, %d clients: %.0f tx/s", syncCommit, benchClients, tps)
	b.ReportMetric(tps, "tx/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkSharedClientLimit measures what a limit per client shared by
// every instance would add to each request it counts: one
// store.Store.AllowRequest on Postgres (an advisory lock on the key, a
// count, an insert, committed without waiting for the disk), from 16
// callers at once, each request under a key of its own client, as the
// per-address limit records one. The limits per client stay in each
// instance's memory (package clientlimit); this is the price of the
// alternative, reported beside BenchmarkFleet's create.
func BenchmarkSharedClientLimit(b *testing.B) {
	db := freshDatabase(b)
	st, err := pgstore.Open(context.Background(), db)
	require.NoError(b, err)
	defer st.Close()
	require.NoError(b, st.Migrate(context.Background()))
	runClients(b, func(i int) error {
		key := fmt.Sprintf("client-%d", i%4096)
		_, _, err := st.AllowRequest(context.Background(), key, time.Now(), time.Minute, 1<<30)
		return err
	})
}
