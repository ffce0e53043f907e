package clientlimit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/clientlimit"
	"github.com/passreset/passreset/internal/testfix"
)

func newClock() *testfix.Clock {
	return testfix.NewClock(time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC))
}

func request(remote string, header ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/forgot-password", nil)
	r.RemoteAddr = remote
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

func newLimiter(t *testing.T, cfg clientlimit.Config) *clientlimit.Limiter {
	t.Helper()
	l, err := clientlimit.New(cfg)
	require.NoError(t, err)
	return l
}

func TestDefaultLimit(t *testing.T) {
	c := newClock()
	l := newLimiter(t, clientlimit.Config{Now: c.Now})
	r := request("192.0.2.1:1234")
	for i := range 10 {
		ok, _ := l.Allow(r)
		require.True(t, ok, "request %d of the burst", i+1)
	}
	ok, retry := l.Allow(r)
	require.False(t, ok)
	require.Equal(t, 6*time.Second, retry, "10 per minute: one more every 6 s")

	// Another client has its own bucket.
	ok, _ = l.Allow(request("192.0.2.2:1234"))
	require.True(t, ok)

	c.Add(5 * time.Second)
	ok, retry = l.Allow(r)
	require.False(t, ok, "a refused request counts nothing, and the token is not back yet")
	require.Equal(t, time.Second, retry)
	c.Add(time.Second)
	ok, _ = l.Allow(r)
	require.True(t, ok)
	ok, _ = l.Allow(r)
	require.False(t, ok)
}

func TestConfiguredLimit(t *testing.T) {
	c := newClock()
	l := newLimiter(t, clientlimit.Config{Requests: 2, Per: time.Hour, Burst: 1, Now: c.Now})
	r := request("192.0.2.1:1234")
	ok, _ := l.Allow(r)
	require.True(t, ok)
	ok, retry := l.Allow(r)
	require.False(t, ok)
	require.Equal(t, 30*time.Minute, retry)
	c.Add(30 * time.Minute)
	ok, _ = l.Allow(r)
	require.True(t, ok)
}

func TestRetryAfterIsWholeSeconds(t *testing.T) {
	c := newClock()
	l := newLimiter(t, clientlimit.Config{Requests: 1000, Per: time.Second, Burst: 1, Now: c.Now})
	a := netip.MustParseAddr("192.0.2.1")
	ok, _ := l.AllowAddr(a)
	require.True(t, ok)
	ok, retry := l.AllowAddr(a)
	require.False(t, ok)
	require.Equal(t, time.Second, retry, "1 ms rounds up to one second")
}

func TestDisabled(t *testing.T) {
	l := newLimiter(t, clientlimit.Config{Disabled: true, Requests: 1})
	for range 100 {
		ok, _ := l.Allow(request("192.0.2.1:1"))
		require.True(t, ok)
	}
	require.Zero(t, l.Clients())
}

func TestIPv6CountedByNetwork(t *testing.T) {
	l := newLimiter(t, clientlimit.Config{Requests: 1, Now: newClock().Now})
	ok, _ := l.Allow(request("[2001:db8:1:2::1]:443"))
	require.True(t, ok)
	ok, _ = l.Allow(request("[2001:db8:1:2:ffff::9]:443"))
	require.False(t, ok, "the same /64")
	ok, _ = l.Allow(request("[2001:db8:1:3::1]:443"))
	require.True(t, ok, "another /64")

	ok, _ = l.Allow(request("192.0.2.9:1"))
	require.True(t, ok)
	ok, _ = l.Allow(request("[::ffff:192.0.2.9]:1"))
	require.False(t, ok, "an IPv4-mapped address is the IPv4 client")
}

func TestIdleClientsForgotten(t *testing.T) {
	c := newClock()
	l := newLimiter(t, clientlimit.Config{Requests: 10, Per: time.Minute, Now: c.Now})
	for i := range 50 {
		l.AllowAddr(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}))
	}
	require.Equal(t, 50, l.Clients())
	c.Add(59 * time.Second)
	l.AllowAddr(netip.MustParseAddr("198.51.100.1"))
	require.Equal(t, 51, l.Clients(), "their buckets are not full yet")
	c.Add(time.Second)
	l.AllowAddr(netip.MustParseAddr("198.51.100.1"))
	require.Equal(t, 1, l.Clients(), "a minute on, the first 50 buckets are full again: forgotten")
}

func TestMaxClients(t *testing.T) {
	l := newLimiter(t, clientlimit.Config{Requests: 1, MaxClients: 3, Now: newClock().Now})
	for i := range 10 {
		ok, _ := l.AllowAddr(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}))
		require.True(t, ok)
		require.LessOrEqual(t, l.Clients(), 3)
	}
	ok, _ := l.AllowAddr(netip.AddrFrom4([4]byte{192, 0, 2, 9}))
	require.False(t, ok, "the most recent clients are kept")
	ok, _ = l.AllowAddr(netip.AddrFrom4([4]byte{192, 0, 2, 0}))
	require.True(t, ok, "the least recently seen was forgotten")
}

func TestConcurrentRequestsNeverExceedBurst(t *testing.T) {
	l := newLimiter(t, clientlimit.Config{Requests: 5, Per: time.Hour, Now: newClock().Now})
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if ok, _ := l.Allow(request("192.0.2.1:1")); ok {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, 5, allowed.Load())
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, cfg := range []clientlimit.Config{
		{Requests: -1},
		{Per: -time.Second},
		{Burst: -1},
		{MaxClients: -1},
		{Requests: 10, Per: 5 * time.Nanosecond},
		{TrustedProxies: []netip.Prefix{{}}},
	} {
		_, err := clientlimit.New(cfg)
		require.Error(t, err, "%+v", cfg)
	}
}

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		name   string
		remote string
		header []string
		want   string
	}{
		{"peer", "192.0.2.1:1234", nil, "192.0.2.1"},
		{"peer ipv6", "[2001:db8::1]:1234", nil, "2001:db8::1"},
		{"headers from an untrusted peer are ignored", "192.0.2.1:1234",
			[]string{"X-Forwarded-For", "198.51.100.7", "X-Real-IP", "198.51.100.8"}, "192.0.2.1"},
		{"behind a proxy", "10.0.0.2:1234", []string{"X-Forwarded-For", "198.51.100.7"}, "198.51.100.7"},
		{"a spoofed left part is ignored", "10.0.0.2:1234",
			[]string{"X-Forwarded-For", "203.0.113.66, 198.51.100.7"}, "198.51.100.7"},
		{"two proxies", "10.0.0.2:1234",
			[]string{"X-Forwarded-For", "203.0.113.66, 198.51.100.7, 10.1.2.3"}, "198.51.100.7"},
		{"several headers are one list", "10.0.0.2:1234",
			[]string{"X-Forwarded-For", "203.0.113.66", "X-Forwarded-For", "198.51.100.7, 10.1.2.3"}, "198.51.100.7"},
		{"with ports and brackets", "10.0.0.2:1234",
			[]string{"X-Forwarded-For", "[2001:db8::7]:443, 10.1.2.3:80"}, "2001:db8::7"},
		{"every hop trusted", "10.0.0.2:1234", []string{"X-Forwarded-For", "10.9.9.9, 10.1.2.3"}, "10.9.9.9"},
		{"garbage stops at the last trusted hop", "10.0.0.2:1234",
			[]string{"X-Forwarded-For", "198.51.100.7, nonsense, 10.1.2.3"}, "10.1.2.3"},
		{"X-Real-IP", "[fd00::5]:1234", []string{"X-Real-IP", "198.51.100.9"}, "198.51.100.9"},
		{"X-Forwarded-For wins over X-Real-IP", "10.0.0.2:1",
			[]string{"X-Real-IP", "198.51.100.9", "X-Forwarded-For", "198.51.100.7"}, "198.51.100.7"},
		{"bad X-Real-IP", "10.0.0.2:1", []string{"X-Real-IP", "not an ip"}, "10.0.0.2"},
		{"mapped peer", "[::ffff:10.0.0.2]:1", []string{"X-Forwarded-For", "198.51.100.7"}, "198.51.100.7"},
		{"no address", "@", []string{"X-Forwarded-For", "198.51.100.7"}, "invalid IP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := clientlimit.ClientIP(request(tc.remote, tc.header...), proxies)
			require.Equal(t, tc.want, got.String())
		})
	}
}

func TestLimiterUsesForwardedClient(t *testing.T) {
	l := newLimiter(t, clientlimit.Config{Requests: 1, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Now: newClock().Now})
	ok, _ := l.Allow(request("127.0.0.1:5000", "X-Forwarded-For", "198.51.100.7"))
	require.True(t, ok)
	ok, _ = l.Allow(request("127.0.0.1:5001", "X-Forwarded-For", "198.51.100.8"))
	require.True(t, ok, "another client behind the same proxy")
	ok, _ = l.Allow(request("127.0.0.1:5002", "X-Forwarded-For", "203.0.113.1, 198.51.100.7"))
	require.False(t, ok, "the first client again, whatever it put on the left")
	require.Equal(t, "198.51.100.7", l.ClientIP(request("127.0.0.1:1", "X-Forwarded-For", "198.51.100.7")).String())
}

func TestParsePrefixes(t *testing.T) {
	got, err := clientlimit.ParsePrefixes(" 10.0.0.0/8, 127.0.0.1 ,fd00::/8,::1,,192.168.1.7/24")
	require.NoError(t, err)
	require.Equal(t, "[10.0.0.0/8 127.0.0.1/32 fd00::/8 ::1/128 192.168.1.0/24]", fmt.Sprint(got))
	got, err = clientlimit.ParsePrefixes("")
	require.NoError(t, err)
	require.Empty(t, got)
	_, err = clientlimit.ParsePrefixes("10.0.0.0/8,proxy.internal")
	require.ErrorContains(t, err, "proxy.internal")
}

// FuzzClientIP sends arbitrary forwarding headers from a trusted and an
// untrusted peer: no panic, an untrusted peer is always its own client,
// and a trusted one yields a valid address.
func FuzzClientIP(f *testing.F) {
	for _, s := range []string{"", "198.51.100.7", "1.2.3.4, 10.0.0.1", "[::1]:80", "nonsense", ",,,", "::ffff:1.2.3.4%eth0", "fe80::1%eth0, 10.0.0.3"} {
		f.Add("10.0.0.2:1234", s, s)
		f.Add("192.0.2.1:1", s, "")
	}
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	f.Fuzz(func(t *testing.T, remote, xff, realIP string) {
		r := request(remote)
		r.Header["X-Forwarded-For"] = []string{xff}
		r.Header["X-Real-Ip"] = []string{realIP}
		got := clientlimit.ClientIP(r, proxies)
		peer := clientlimit.ClientIP(request(remote), nil)
		if !peer.IsValid() || !netip.MustParsePrefix("10.0.0.0/8").Contains(peer) {
			require.Equal(t, peer, got)
			return
		}
		require.True(t, got.IsValid())
		l := newLimiter(t, clientlimit.Config{TrustedProxies: proxies})
		ok, _ := l.Allow(r)
		require.True(t, ok)
	})
}
