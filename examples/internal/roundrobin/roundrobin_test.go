package roundrobin_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/examples/internal/roundrobin"
)

func TestRoundRobin(t *testing.T) {
	type seen struct{ host, forwardedFor string }
	var backends []*url.URL
	got := make([][]seen, 3)
	for i := range got {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got[i] = append(got[i], seen{r.Host, r.Header.Get("X-Forwarded-For")})
			io.WriteString(w, strconv.Itoa(i))
		}))
		t.Cleanup(srv.Close)
		u, err := url.Parse(srv.URL)
		require.NoError(t, err)
		backends = append(backends, u)
	}
	p, err := roundrobin.New(backends, nil)
	require.NoError(t, err)
	front := httptest.NewServer(p)
	defer front.Close()

	var order []string
	for range 6 {
		res, err := http.Get(front.URL + "/x")
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(t, string(b), strconv.Itoa(mustAtoi(t, res.Header.Get(roundrobin.UpstreamHeader))-1))
		order = append(order, string(b))
	}
	require.Equal(t, []string{"0", "1", "2", "0", "1", "2"}, order)
	for i := range got {
		require.Len(t, got[i], 2)
		for _, s := range got[i] {
			require.Equal(t, front.Listener.Addr().String(), s.host, "the client's Host header")
			require.Equal(t, "127.0.0.1", s.forwardedFor)
		}
	}

	// What the client wrote in X-Forwarded-For is dropped, unless the
	// proxy is told to keep it.
	forged, err := http.NewRequest(http.MethodGet, front.URL, nil)
	require.NoError(t, err)
	forged.Header.Set("X-Forwarded-For", "192.0.2.7")
	res, err := http.DefaultClient.Do(forged)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, "127.0.0.1", got[0][2].forwardedFor)
	keeping, err := roundrobin.New(backends, nil)
	require.NoError(t, err)
	keeping.KeepForwardedFor = true
	front2 := httptest.NewServer(keeping)
	defer front2.Close()
	forged.URL.Host = front2.Listener.Addr().String()
	res, err = http.DefaultClient.Do(forged)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, "192.0.2.7, 127.0.0.1", got[0][3].forwardedFor)

	// A backend that is gone is a 502 that names it.
	dead := httptest.NewServer(http.NotFoundHandler())
	u, _ := url.Parse(dead.URL)
	dead.Close()
	p, err = roundrobin.New([]*url.URL{u}, nil)
	require.NoError(t, err)
	w := httptest.NewRecorder()
	p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusBadGateway, w.Code)
	require.Equal(t, "1", w.Header().Get(roundrobin.UpstreamHeader))

	_, err = roundrobin.New(nil, nil)
	require.Error(t, err)
	_, err = roundrobin.New([]*url.URL{{Path: "127.0.0.1:1"}}, nil)
	require.Error(t, err)
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}
