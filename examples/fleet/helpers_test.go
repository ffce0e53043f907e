package fleet_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/examples/internal/roundrobin"
	"github.com/passreset/passreset/internal/testfix"
	"github.com/passreset/passreset/internal/testfix/testpg"
)

// binDir holds the commands the tests build, once per run.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "passreset-fleet-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// postgresURL returns the server's URL, or skips the test.
func postgresURL(tb testing.TB) string { return testpg.PostgresURL(tb) }

// freshDatabase returns a URL of the server whose connections work in a new
// schema of their own (search_path), dropped when the test ends: what the
// instances of one test share.
func freshDatabase(tb testing.TB) string {
	_, u := testpg.FreshSchema(tb, "fleet_")
	return u
}

// randomHex is n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// build compiles the command in examples/name once per run, with the go
// command that runs the tests, and returns the binary's path.
func build(tb testing.TB, name string) string {
	tb.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := built[name]; ok {
		return bin
	}
	goCmd, err := exec.LookPath("go")
	require.NoError(tb, err, "the fleet tests build the examples with the go command, which is not in PATH")
	bin := filepath.Join(binDir, name)
	cmd := exec.Command(goCmd, "build", "-o", bin, "github.com/passreset/passreset/examples/"+name)
	out, err := cmd.CombinedOutput()
	require.NoError(tb, err, "go build %s: %s", name, out)
	built[name] = bin
	return bin
}

// process is a running instance of a command.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *testfix.Buffer // stdout and stderr together
}

// startTimeout bounds how long an instance takes to build its schema and
// listen, on a loaded machine.
const startTimeout = 2 * time.Minute

// start runs bin with args and the extra environment env, waits until its
// output matches ready, and returns the process and the match's first
// group. When the test ends the process gets SIGTERM and must exit cleanly.
func start(tb testing.TB, name, bin string, env []string, ready *regexp.Regexp, args ...string) (*process, string) {
	tb.Helper()
	p := &process{name: name, out: new(testfix.Buffer)}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(cleanEnv(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	require.NoError(tb, p.cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	tb.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				tb.Errorf("%s: exit: %v\n%s", name, err, p.out)
			}
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			tb.Errorf("%s did not stop on SIGTERM\n%s", name, p.out)
		}
	})
	deadline := time.Now().Add(startTimeout)
	for {
		if m := ready.FindStringSubmatch(p.out.String()); m != nil {
			return p, m[1]
		}
		select {
		case err := <-exited:
			exited <- err
			tb.Fatalf("%s exited before it was ready: %v\n%s", name, err, p.out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s not ready after %v\n%s", name, startTimeout, p.out)
		}
	}
}

// cleanEnv is the test's environment without the settings the commands
// read, which each test gives them itself.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "RESET_API_KEY", "PASSRESET_SECRET_KEY", "PASSRESET_SMTP_PASSWORD":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// proxy is a round-robin proxy in front of the instances, which records
// the backend of every request it forwards, in order.
type proxy struct {
	*httptest.Server
	mu     sync.Mutex
	served []int // the backend (from 0) of each request
	rr     *roundrobin.Proxy
}

// newProxy returns a proxy listening, but not yet serving: its address is
// known before its backends are (the webapp's links name it). Call
// setBackends, which starts it.
func newProxy(tb testing.TB) *proxy {
	tb.Helper()
	p := &proxy{}
	p.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.rr.ServeHTTP(w, r) }))
	tb.Cleanup(p.Close)
	return p
}

func (p *proxy) setBackends(tb testing.TB, addrs []string) {
	tb.Helper()
	p.setBackendsKeeping(tb, addrs, false)
}

// setBackendsKeeping is setBackends with roundrobin.Proxy.KeepForwardedFor
// set to keep.
func (p *proxy) setBackendsKeeping(tb testing.TB, addrs []string, keep bool) {
	tb.Helper()
	var backends []*url.URL
	for _, a := range addrs {
		u, err := url.Parse("http://" + a)
		require.NoError(tb, err)
		backends = append(backends, u)
	}
	rr, err := roundrobin.New(backends, nil)
	require.NoError(tb, err)
	rr.KeepForwardedFor = keep
	rr.OnServe = func(_ *http.Request, i int) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.served = append(p.served, i)
	}
	p.rr = rr
	p.Start()
}

// mark returns how many requests the proxy has forwarded so far.
func (p *proxy) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.served)
}

// since returns the backends of the requests forwarded since mark.
func (p *proxy) since(mark int) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.served[mark:]...)
}

// requireHopping checks that no two requests in a row reached one
// instance, and that every instance served some.
func requireHopping(t *testing.T, served []int, instances int) {
	t.Helper()
	seen := map[int]bool{}
	for i, b := range served {
		seen[b] = true
		if i > 0 {
			require.NotEqual(t, served[i-1], b, "requests %d and %d reached the same instance: %v", i-1, i, served)
		}
	}
	require.Len(t, seen, instances, "not every instance served: %v", served)
}

// jsonBody marshals v.
func jsonBody(tb testing.TB, v any) io.Reader {
	tb.Helper()
	b, err := json.Marshal(v)
	require.NoError(tb, err)
	return bytes.NewReader(b)
}

// lines returns the lines of s that contain sub.
func lines(s, sub string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if strings.Contains(sc.Text(), sub) {
			out = append(out, sc.Text())
		}
	}
	return out
}
