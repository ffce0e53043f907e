package serve_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/examples/internal/serve"
)

// TestUntilShutsDownInOrder: Until serves until its context is done, then
// calls Starting, shuts the server down and calls Then in order; a clean
// stop is no error, and a failing step's error is returned.
func TestUntilShutsDownInOrder(t *testing.T) {
	for _, fail := range []error{nil, errors.New("mail still being sent")} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		srv := serve.Server(http.NotFoundHandler(), slog.New(slog.DiscardHandler))
		ctx, cancel := context.WithCancel(t.Context())
		var steps []string
		done := make(chan error, 1)
		go func() {
			done <- serve.Until(ctx, srv, ln, serve.Stop{
				Grace:    time.Second,
				Starting: func() { steps = append(steps, "starting") },
				Then: []func(context.Context) error{
					func(context.Context) error { steps = append(steps, "then 1"); return nil },
					func(context.Context) error { steps = append(steps, "then 2"); return fail },
				},
			})
		}()
		res, err := http.Get("http://" + ln.Addr().String() + "/")
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusNotFound, res.StatusCode)

		cancel()
		if fail == nil {
			require.NoError(t, <-done)
		} else {
			require.ErrorIs(t, <-done, fail)
		}
		require.Equal(t, []string{"starting", "then 1", "then 2"}, steps)
		_, err = http.Get("http://" + ln.Addr().String() + "/")
		require.Error(t, err, "the listener is closed")
	}
}

// TestUntilListenerFails: a listener that fails ends Until with its error,
// and nothing of Stop runs.
func TestUntilListenerFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln.Close()
	called := false
	err = serve.Until(t.Context(), serve.Server(http.NotFoundHandler(), slog.New(slog.DiscardHandler)), ln,
		serve.Stop{Starting: func() { called = true }})
	require.ErrorIs(t, err, net.ErrClosed)
	require.False(t, called)
}

func TestSecurityHeaders(t *testing.T) {
	h := serve.SecurityHeaders("default-src 'none'", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "replaced")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, "replaced", rec.Header().Get("Content-Security-Policy"), "a handler may replace the policy")
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	require.Equal(t, "no-referrer", rec.Header().Get("Referrer-Policy"))
	require.Equal(t, "DENY", rec.Header().Get("X-Frame-Options"))
	require.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))

	rec = httptest.NewRecorder()
	serve.SecurityHeaders("default-src 'none'", http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, "default-src 'none'", rec.Header().Get("Content-Security-Policy"))
}
