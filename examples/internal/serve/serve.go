// Package serve holds the HTTP plumbing that the example servers share and
// that none of them is there to show: an http.Server whose timeouts a slow
// client cannot hold open, served until the program is told to stop and
// then shut down gracefully, and the security headers of an app's pages.
package serve

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server returns an http.Server for h with timeouts for reading a request,
// writing an answer and idling between requests, and with its own errors
// (a client's broken TLS, a handler's panic) logged to log as warnings.
func Server(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Stop says how Until shuts a server down.
type Stop struct {
	// Grace is how long the requests in flight, and then Then, get to
	// finish.
	Grace time.Duration
	// Starting, when set, is called as the shutdown starts: to log it.
	Starting func()
	// Then is what else must finish before the program exits, such as an
	// email being sent, called in order once the server is shut down.
	Then []func(context.Context) error
}

// Until serves srv on ln until ctx is done or serving fails. When ctx is
// done it shuts srv down as stop says, letting the requests in flight
// finish. It returns every error of serving and of shutting down; a clean
// stop returns nil.
func Until(ctx context.Context, srv *http.Server, ln net.Listener, stop Stop) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var err error
	select {
	case err = <-served: // the listener failed
	case <-ctx.Done():
		if stop.Starting != nil {
			stop.Starting()
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stop.Grace)
		defer cancel()
		err = srv.Shutdown(sctx)
		for _, f := range stop.Then {
			err = errors.Join(err, f(sctx))
		}
		if err == nil {
			err = <-served
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// SecurityHeaders returns middleware that gives every answer csp as its
// Content-Security-Policy, and the headers that keep a page out of caches,
// out of other sites' frames and out of the Referer of its links:
// Cache-Control no-store, Referrer-Policy no-referrer, X-Frame-Options
// DENY and X-Content-Type-Options nosniff. A handler that renders a page
// with a nonce replaces the policy with one that allows it.
func SecurityHeaders(csp string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}
