package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/passreset/passreset/internal/testfix"
	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	var hits [2]int
	var mu sync.Mutex
	var urls []string
	for i := range hits {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits[i]++
			mu.Unlock()
		}))
		defer srv.Close()
		urls = append(urls, srv.URL)
	}
	ctx, cancel := context.WithCancel(t.Context())
	logs := new(testfix.Buffer)
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, urls...), logs) }()
	var addr string
	require.Eventually(t, func() bool {
		m := regexp.MustCompile(`addr=(\S+)`).FindStringSubmatch(logs.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	}, 10*time.Second, 10*time.Millisecond)
	for range 4 {
		res, err := http.Get("http://" + addr + "/")
		require.NoError(t, err)
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	mu.Lock()
	require.Equal(t, [2]int{2, 2}, hits)
	mu.Unlock()
	cancel()
	require.NoError(t, <-done)
	_, err := net.Dial("tcp", addr)
	require.Error(t, err, "the listener is closed")

	require.Error(t, run(t.Context(), []string{"-addr", "127.0.0.1:0"}, io.Discard), "no backend")
	require.Error(t, run(t.Context(), []string{"ftp://x"}, io.Discard))
}
