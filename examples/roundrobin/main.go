// Command roundrobin is a reverse proxy that sends each request to the next
// of its backends in turn: enough to put several instances of the examples
// behind one address on a laptop, as the README shows.
//
//	go run ./examples/roundrobin -addr 127.0.0.1:8080 http://127.0.0.1:8091 http://127.0.0.1:8092 http://127.0.0.1:8093
//
// It keeps the Host header the client sent, sets X-Forwarded-For, and names
// the backend that served each answer in its X-Upstream header (1 for the
// first listed). Start the backends with -trusted-proxies 127.0.0.1/32
// -client-header X-Forwarded-For, so that their limits per client count the clients, not the proxy. It is an
// example, not a load balancer: no health checks, no retries.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/passreset/passreset/examples/internal/command"
	"github.com/passreset/passreset/examples/internal/roundrobin"
	"github.com/passreset/passreset/examples/internal/serve"
)

func main() {
	command.Main("roundrobin", func(ctx context.Context) error {
		return run(ctx, os.Args[1:], os.Stderr)
	})
}

// run serves until ctx is done.
func run(ctx context.Context, args []string, logOut io.Writer) error {
	fs := flag.NewFlagSet("roundrobin", flag.ContinueOnError)
	fs.SetOutput(logOut)
	addr := fs.String("addr", "127.0.0.1:8080", "the `address` to listen on, HOST:PORT")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: roundrobin [-addr host:port] BACKEND_URL...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("give the backends' URLs, such as http://127.0.0.1:8091")
	}
	var backends []*url.URL
	for _, a := range fs.Args() {
		u, err := url.Parse(a)
		if err != nil {
			return fmt.Errorf("backend %q: %w", a, err)
		}
		backends = append(backends, u)
	}
	logger := slog.New(slog.NewTextHandler(logOut, nil))
	p, err := roundrobin.New(backends, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	logger.Info("roundrobin: listening", "addr", ln.Addr().String(), "backends", len(backends))
	return serve.Until(ctx, srv, ln, serve.Stop{Grace: 10 * time.Second})
}
