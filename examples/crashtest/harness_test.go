package crashtest

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/internal/testfix/testsmtp"
	"github.com/passreset/passreset/store/sqlitestore"
)

// Settings read from the environment.
const (
	envRun   = "PASSRESET_CRASH_TEST"
	envKills = "PASSRESET_CRASH_KILLS"
	envSeed  = "PASSRESET_CRASH_SEED"
)

// maxLate is how late an email may be: after its request, or after the
// restart that followed the crash that held it up.
const maxLate = 15 * time.Second

// skipUnlessEnabled skips a crash test unless PASSRESET_CRASH_TEST is set.
func skipUnlessEnabled(t *testing.T) {
	t.Helper()
	if os.Getenv(envRun) == "" {
		t.Skip("a crash test of a few minutes, with real processes killed: set " + envRun + "=1 to run it (.ci/run does)")
	}
	if testing.Short() {
		t.Skip("-short")
	}
}

// settings returns the number of kills and a seeded source of randomness.
func settings(t *testing.T) (kills int, rng *rand.Rand) {
	t.Helper()
	kills = 6
	if v := os.Getenv(envKills); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, envKills)
		require.Positive(t, n, envKills)
		kills = n
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(envSeed); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		require.NoError(t, err, envSeed)
		seed = n
	}
	t.Logf("kills %d, seed %d (%s=%d reruns this schedule)", kills, seed, envSeed, seed)
	return kills, rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// workDir returns the folder for the binaries, databases and logs: the
// test's temporary folder, or one that is kept when PASSRESET_CRASH_KEEP
// is set, to read after a failure.
func workDir(t *testing.T) string {
	t.Helper()
	if os.Getenv("PASSRESET_CRASH_KEEP") == "" {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("", "passreset-crash-")
	require.NoError(t, err)
	t.Logf("work folder, kept: %s", dir)
	return dir
}

// build compiles the command at pkg (an import path of this module) into
// dir and returns the binary's path.
func build(t *testing.T, dir, pkg string) string {
	t.Helper()
	bin := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build %s: %s", pkg, out)
	return bin
}

// freePort returns a loopback address whose port was free a moment ago: the
// app listens there at every start.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// ---- The app as a process ----

// interval is a span during which the app's process ran: from its start to
// its kill (or its last stop).
type interval struct {
	start, end time.Time
}

// app runs one binary as a real process, again and again, on the same
// database.
type app struct {
	t      *testing.T
	bin    string
	args   []string
	env    []string
	ready  func() error // answers once the app serves
	logDir string

	mu        sync.Mutex
	cmd       *exec.Cmd
	runs      []interval
	integrity []string // PRAGMA integrity_check after each kill
}

// start starts the process and waits until it serves.
func (a *app) start() {
	a.t.Helper()
	logf, err := os.Create(filepath.Join(a.logDir, fmt.Sprintf("run-%02d.log", len(a.runs)+1)))
	require.NoError(a.t, err)
	cmd := exec.Command(a.bin, a.args...)
	cmd.Env = append(os.Environ(), a.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	started := time.Now()
	require.NoError(a.t, cmd.Start())
	go func() { cmd.Wait(); logf.Close() }()
	a.mu.Lock()
	a.cmd = cmd
	a.runs = append(a.runs, interval{start: started})
	a.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := a.ready(); err == nil {
			return
		} else if time.Now().After(deadline) {
			a.t.Fatalf("the app did not serve within a minute of its start: %v (log in %s)", err, a.logDir)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (a *app) kill() {
	a.mu.Lock()
	cmd := a.cmd
	a.mu.Unlock()
	require.NoError(a.t, cmd.Process.Signal(syscall.SIGKILL))
	for cmd.Process.Signal(syscall.Signal(0)) == nil {
		time.Sleep(5 * time.Millisecond)
	}
	a.ended()
}

// stop sends SIGTERM and waits for a graceful exit.
func (a *app) stop() {
	a.mu.Lock()
	cmd := a.cmd
	a.mu.Unlock()
	require.NoError(a.t, cmd.Process.Signal(syscall.SIGTERM))
	deadline := time.Now().Add(30 * time.Second)
	for cmd.Process.Signal(syscall.Signal(0)) == nil {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			a.t.Fatal("the app did not stop within 30 s of SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
	a.ended()
}

func (a *app) ended() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.runs[len(a.runs)-1].end = time.Now()
}

// intervals returns the spans the process ran.
func (a *app) intervals() []interval {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.runs)
}

// integrityCheck runs PRAGMA integrity_check on the database file, with
// no process holding it, and records the answer.
func (a *app) integrityCheck(path string) {
	a.t.Helper()
	db, err := sql.Open("sqlite3", sqlitestore.DSN(path))
	require.NoError(a.t, err)
	defer db.Close()
	var res string
	require.NoError(a.t, db.QueryRow("PRAGMA integrity_check").Scan(&res))
	a.integrity = append(a.integrity, res)
}

// ---- The mail server ----

// delivery is one message the SMTP server accepted.
type delivery struct {
	at        time.Time
	to        string
	messageID string
	subject   string
	token     string // the reset token in the link, "" for another email
}

// mailServer is a real SMTP server (github.com/emersion/go-smtp) on
// loopback that accepts every message and records it.
type mailServer struct {
	addr     string
	arrivals chan delivery // every reset email, for the users who redeem them

	mu    sync.Mutex
	all   []delivery
	fails []string // messages it could not read
}

func startMailServer(t *testing.T) *mailServer {
	t.Helper()
	m := &mailServer{arrivals: make(chan delivery, 1<<16)}
	m.addr = testsmtp.Serve(t, smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{srv: m}, nil }), 30*time.Second)
	return m
}

func (m *mailServer) deliveries() []delivery {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.all)
}

type mailSession struct {
	srv *mailServer
	to  string
}

func (s *mailSession) AuthMechanisms() []string         { return nil }
func (s *mailSession) Auth(string) (sasl.Server, error) { return nil, smtp.ErrAuthUnsupported }
func (s *mailSession) Reset()                           { s.to = "" }
func (s *mailSession) Logout() error                    { return nil }
func (s *mailSession) Mail(string, *smtp.MailOptions) error {
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	// A mail server takes a while to answer (checks of the recipient, of
	// the sender's reputation): long enough that a kill finds several
	// emails in flight. The message itself is accepted at once when its
	// data is in, as a server that has done its checks accepts it.
	time.Sleep(time.Duration(50+rand.IntN(250)) * time.Millisecond)
	s.to = to
	return nil
}

var tokenRE = regexp.MustCompile(`[?&]token=([A-Za-z0-9_-]+)`)

func (s *mailSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	d := delivery{at: time.Now(), to: strings.ToLower(s.to)}
	text, hdr, err := testsmtp.PlainText(raw)
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	if err != nil {
		s.srv.fails = append(s.srv.fails, err.Error())
		return nil
	}
	d.messageID, d.subject = hdr.Get("Message-ID"), hdr.Get("Subject")
	if m := tokenRE.FindStringSubmatch(text); m != nil {
		d.token = m[1]
	}
	s.srv.all = append(s.srv.all, d)
	if d.token != "" {
		select {
		case s.srv.arrivals <- d:
		default: // nobody reads: the redeemers have stopped
		}
	}
	return nil
}

// ---- HTTP ----

// client talks to the app as browsers behind a trusted proxy on loopback
// would: each request names its client in X-Forwarded-For, so that the
// pages' limit per client counts each simulated user apart.
type client struct {
	base   string
	hc     *http.Client
	header map[string]string // sent with every request (the API's key)
}

func newClient(base string) *client {
	return &client{base: base, hc: &http.Client{
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 5 * time.Second},
	}}
}

// answer is an HTTP answer, or the error that came instead.
type answer struct {
	status   int
	location string
	body     string
	err      error
}

func (c *client) do(ctx context.Context, method, path, clientIP string, form url.Values) answer {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	return c.send(ctx, method, path, clientIP, body, "application/x-www-form-urlencoded")
}

// json sends v as a JSON body.
func (c *client) json(ctx context.Context, method, path, clientIP string, v any) answer {
	b, err := json.Marshal(v)
	if err != nil {
		return answer{err: err}
	}
	return c.send(ctx, method, path, clientIP, bytes.NewReader(b), "application/json")
}

func (c *client) send(ctx context.Context, method, path, clientIP string, body io.Reader, contentType string) answer {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return answer{err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if clientIP != "" {
		req.Header.Set("X-Forwarded-For", clientIP)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return answer{err: err}
	}
	return answer{status: res.StatusCode, location: res.Header.Get("Location"), body: string(b)}
}

// ipOf names client n as an address of 10.0.0.0/8.
func ipOf(n int) string {
	return fmt.Sprintf("10.%d.%d.%d", (n>>16)&0xff, (n>>8)&0xff, n&0xff)
}

// ---- Reading the results ----

// percentile returns the p-th percentile (0-100) of ds, sorted in place.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(float64(len(ds)-1) * p / 100)
	return ds[i]
}

// runIndex returns the index of the run during which t fell: the last run
// that started at or before t.
func runIndex(runs []interval, t time.Time) int {
	i := -1
	for k, r := range runs {
		if !r.start.After(t) {
			i = k
		}
	}
	return i
}

// lateness judges one email against the runs of the process. acked is when
// its request was answered, delivered when the email arrived (zero if
// never). It returns how late the email was (after the request, or after
// the start of the run that sent it), whether a crash came in between, and
// a problem when the email was pending for more than maxLate of one run's
// time or never came.
func lateness(runs []interval, acked, delivered time.Time) (late time.Duration, crossed bool, problem string) {
	j := runIndex(runs, acked)
	if j < 0 {
		return 0, false, "answered before the first start"
	}
	d := -1
	if !delivered.IsZero() {
		d = runIndex(runs, delivered)
	}
	for k := j; k < len(runs); k++ {
		from := runs[k].start
		if k == j {
			from = acked
		}
		if k == d {
			return delivered.Sub(from), k > j, ""
		}
		if runs[k].end.Sub(from) > maxLate {
			when := "never delivered"
			if d >= 0 {
				when = fmt.Sprintf("delivered %v after the start of run %d", delivered.Sub(runs[d].start).Round(time.Millisecond), d+1)
			}
			return 0, k > j, fmt.Sprintf("answered in run %d, still pending %v into run %d, which lasted %v (%s)",
				j+1, maxLate, k+1, runs[k].end.Sub(from).Round(time.Millisecond), when)
		}
	}
	return 0, true, "never delivered"
}

// tail returns the last lines of a file, for a failure's message.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
