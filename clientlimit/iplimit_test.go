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

// granted is the verdict of an Allow call without its wait, so that a
// test checks a verdict in one line.
func granted(ok bool, _ time.Duration) bool { return ok }

func newLimiter(t testing.TB, cfg clientlimit.Config) *clientlimit.Limiter {
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
		require.True(t, granted(l.Allow(r)), "request %d of the burst", i+1)
	}
	ok, retry := l.Allow(r)
	require.False(t, ok)
	require.Equal(t, 6*time.Second, retry, "10 per minute: one more every 6 s")

	// Another client has its own bucket.
	require.True(t, granted(l.Allow(request("192.0.2.2:1234"))))

	c.Add(5 * time.Second)
	ok, retry = l.Allow(r)
	require.False(t, ok, "a refused request counts nothing, and the token is not back yet")
	require.Equal(t, time.Second, retry)
	c.Add(time.Second)
	require.True(t, granted(l.Allow(r)))
	require.False(t, granted(l.Allow(r)))
}

func TestConfiguredLimit(t *testing.T) {
	c := newClock()
	l := newLimiter(t, clientlimit.Config{Requests: 2, Per: time.Hour, Burst: 1, Now: c.Now})
	r := request("192.0.2.1:1234")
	require.True(t, granted(l.Allow(r)))
	ok, retry := l.Allow(r)
	require.False(t, ok)
	require.Equal(t, 30*time.Minute, retry)
	c.Add(30 * time.Minute)
	require.True(t, granted(l.Allow(r)))
}

func TestRetryAfterIsWholeSeconds(t *testing.T) {
	c := newClock()
	l := newLimiter(t, clientlimit.Config{Requests: 1000, Per: time.Second, Burst: 1, Now: c.Now})
	a := netip.MustParseAddr("192.0.2.1")
	require.True(t, granted(l.AllowAddr(a)))
	ok, retry := l.AllowAddr(a)
	require.False(t, ok)
	require.Equal(t, time.Second, retry, "1 ms rounds up to one second")
}

func TestDisabled(t *testing.T) {
	l := newLimiter(t, clientlimit.Config{Disabled: true, Requests: 1})
	for range 100 {
		require.True(t, granted(l.Allow(request("192.0.2.1:1"))))
	}
	require.Zero(t, l.Clients())
}

func TestIPv6CountedByNetwork(t *testing.T) {
	l := newLimiter(t, clientlimit.Config{Requests: 1, Now: newClock().Now})
	require.True(t, granted(l.Allow(request("[2001:db8:1:2::1]:443"))))
	require.False(t, granted(l.Allow(request("[2001:db8:1:2:ffff::9]:443"))), "the same /64")
	require.True(t, granted(l.Allow(request("[2001:db8:1:3::1]:443"))), "another /64")

	require.True(t, granted(l.Allow(request("192.0.2.9:1"))))
	require.False(t, granted(l.Allow(request("[::ffff:192.0.2.9]:1"))), "an IPv4-mapped address is the IPv4 client")
}

func TestRefilledBucketsForgotten(t *testing.T) {
	c := newClock()
	l := newLimiter(t, clientlimit.Config{Requests: 10, Per: time.Minute, Now: c.Now})
	for i := range 50 {
		l.AllowAddr(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}))
	}
	l.AllowAddr(netip.MustParseAddr("198.51.100.1"))
	l.AllowAddr(netip.MustParseAddr("198.51.100.1"))
	require.Equal(t, 51, l.Clients())
	c.Add(6*time.Second - time.Nanosecond)
	l.AllowAddr(netip.MustParseAddr("203.0.113.1"))
	require.Equal(t, 52, l.Clients(), "one token in 6 s: their buckets are not full yet")
	c.Add(time.Nanosecond)
	l.AllowAddr(netip.MustParseAddr("203.0.113.2"))
	require.Equal(t, 3, l.Clients(), "6 s on, the 50 buckets that gave one token are full again: forgotten; the one that gave two is not")
}

func TestMaxClientsNeverResetsABucket(t *testing.T) {
	c := newClock()
	l := newLimiter(t, clientlimit.Config{Requests: 1, Per: time.Hour, MaxClients: 3, Now: c.Now})
	victim := netip.MustParseAddr("192.0.2.200")
	require.True(t, granted(l.AllowAddr(victim)))
	allowed := 0
	for i := range 100 {
		if granted(l.AllowAddr(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}))) {
			allowed++
		}
		require.LessOrEqual(t, l.Clients(), 3)
	}
	require.Equal(t, 2+clientlimit.IPv6Factor48, allowed, "two more buckets fit; then every new client shares the overflow bucket, with the budget of a /48")
	require.False(t, granted(l.AllowAddr(victim)), "the full table did not evict the exhausted bucket")
	require.False(t, granted(l.AllowAddr(netip.MustParseAddr("203.0.113.1"))), "the overflow bucket is spent")

	c.Add(time.Hour)
	require.True(t, granted(l.AllowAddr(netip.MustParseAddr("203.0.113.1"))), "an hour on, every bucket has refilled and makes room")
	require.Equal(t, 1, l.Clients())
}

// TestIPv6SpreadOverOneNetwork is the eviction attack: a client exhausts
// its /64, then sends from thousands of other /64s of its /48 to push its
// bucket out of the table, and so reset it.
func TestIPv6SpreadOverOneNetwork(t *testing.T) {
	l := newLimiter(t, clientlimit.Config{Requests: 1, Per: time.Hour, MaxClients: 100, Now: newClock().Now})
	own := netip.MustParseAddr("2001:db8:1:1::1")
	require.True(t, granted(l.AllowAddr(own)))
	require.False(t, granted(l.AllowAddr(own)))
	allowed := 0
	for i := range 5000 {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, byte(i >> 8), byte(i), 15: 1})
		if granted(l.AllowAddr(a)) {
			allowed++
		}
		require.LessOrEqual(t, l.Clients(), 100)
	}
	require.Equal(t, clientlimit.IPv6Factor48-1, allowed, "the /48 allows 16 requests in all, one of which the first /64 took")
	require.False(t, granted(l.AllowAddr(own)), "the exhausted /64 was not reset")
}

func TestIPv6WiderNetworks(t *testing.T) {
	l := newLimiter(t, clientlimit.Config{Requests: 1, Per: time.Hour, Now: newClock().Now})
	count := func(net56, from, to int) (allowed int) {
		for i := from; i < to; i++ {
			a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 2, byte(net56), byte(i), 15: 1})
			if granted(l.AllowAddr(a)) {
				allowed++
			}
		}
		return allowed
	}
	require.Equal(t, clientlimit.IPv6Factor56, count(0, 0, 100), "a /56 allows 4 /64 budgets")
	require.Equal(t, clientlimit.IPv6Factor56, count(1, 0, 100), "another /56 of the same /48 has its own")
	total := clientlimit.IPv6Factor56 * 2
	for n := 2; n < 256; n++ {
		total += count(n, 0, 10)
	}
	require.Equal(t, clientlimit.IPv6Factor48, total, "the /48 caps the /56s together")

	require.True(t, granted(l.AllowAddr(netip.MustParseAddr("2001:db8:3::1"))), "another /48")
	require.True(t, granted(l.AllowAddr(netip.MustParseAddr("192.0.2.1"))), "IPv4 is counted apart")
}

func TestMemoryBounded(t *testing.T) {
	c := newClock()
	l := newLimiter(t, clientlimit.Config{Requests: 5, Per: time.Minute, MaxClients: 50, Now: c.Now})
	for i := range 20_000 {
		if i%2 == 0 {
			l.AllowAddr(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
		} else {
			l.AllowAddr(netip.AddrFrom16([16]byte{0x20, 0x01, byte(i >> 16), byte(i >> 8), byte(i), 15: 1}))
		}
		require.LessOrEqual(t, l.Clients(), 50)
		if i%100 == 0 {
			c.Add(time.Second)
		}
	}
}

func TestConcurrentRequestsNeverExceedBurst(t *testing.T) {
	l := newLimiter(t, clientlimit.Config{Requests: 5, Per: time.Hour, Now: newClock().Now})
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if granted(l.Allow(request("192.0.2.1:1"))) {
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
		{TrustedProxies: []netip.Prefix{{}}, ClientHeader: "X-Forwarded-For"},
		{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
		{ClientHeader: "X-Real-IP"},
		{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, ClientHeader: "X-Client-IP"},
	} {
		_, err := clientlimit.New(cfg)
		require.Error(t, err, "%+v", cfg)
	}
}

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		name   string
		use    string // Config.ClientHeader
		remote string
		header []string
		want   string
	}{
		{"peer", "", "192.0.2.1:1234", nil, "192.0.2.1"},
		{"peer ipv6", "", "[2001:db8::1]:1234", nil, "2001:db8::1"},
		{"no header named: the proxy is the client", "", "10.0.0.2:1234",
			[]string{"X-Forwarded-For", "198.51.100.7", "X-Real-IP", "198.51.100.8", "Forwarded", "for=198.51.100.9"}, "10.0.0.2"},
		{"headers from an untrusted peer are ignored", "X-Forwarded-For", "192.0.2.1:1234",
			[]string{"X-Forwarded-For", "198.51.100.7", "X-Real-IP", "198.51.100.8"}, "192.0.2.1"},
		{"behind a proxy", "X-Forwarded-For", "10.0.0.2:1234", []string{"X-Forwarded-For", "198.51.100.7"}, "198.51.100.7"},
		{"header name in any case", "x-forwarded-for", "10.0.0.2:1234", []string{"X-Forwarded-For", "198.51.100.7"}, "198.51.100.7"},
		{"a spoofed left part is ignored", "X-Forwarded-For", "10.0.0.2:1234",
			[]string{"X-Forwarded-For", "203.0.113.66, 198.51.100.7"}, "198.51.100.7"},
		{"two proxies", "X-Forwarded-For", "10.0.0.2:1234",
			[]string{"X-Forwarded-For", "203.0.113.66, 198.51.100.7, 10.1.2.3"}, "198.51.100.7"},
		{"several headers are one list", "X-Forwarded-For", "10.0.0.2:1234",
			[]string{"X-Forwarded-For", "203.0.113.66", "X-Forwarded-For", "198.51.100.7, 10.1.2.3"}, "198.51.100.7"},
		{"with ports and brackets", "X-Forwarded-For", "10.0.0.2:1234",
			[]string{"X-Forwarded-For", "[2001:db8::7]:443, 10.1.2.3:80"}, "2001:db8::7"},
		{"every hop trusted", "X-Forwarded-For", "10.0.0.2:1234", []string{"X-Forwarded-For", "10.9.9.9, 10.1.2.3"}, "10.9.9.9"},
		{"garbage stops at the last trusted hop", "X-Forwarded-For", "10.0.0.2:1234",
			[]string{"X-Forwarded-For", "198.51.100.7, nonsense, 10.1.2.3"}, "10.1.2.3"},
		{"X-Forwarded-For missing: no fallback to X-Real-IP", "X-Forwarded-For", "10.0.0.2:1",
			[]string{"X-Real-IP", "198.51.100.9"}, "10.0.0.2"},
		{"X-Real-IP", "X-Real-IP", "[fd00::5]:1234", []string{"X-Real-IP", "198.51.100.9"}, "198.51.100.9"},
		{"X-Real-IP ignores X-Forwarded-For", "X-Real-IP", "10.0.0.2:1",
			[]string{"X-Real-IP", "198.51.100.9", "X-Forwarded-For", "198.51.100.7"}, "198.51.100.9"},
		{"X-Real-IP missing: no fallback to X-Forwarded-For", "X-Real-IP", "10.0.0.2:1",
			[]string{"X-Forwarded-For", "198.51.100.7"}, "10.0.0.2"},
		{"X-Real-IP twice is no answer", "X-Real-IP", "10.0.0.2:1",
			[]string{"X-Real-IP", "198.51.100.9", "X-Real-IP", "198.51.100.8"}, "10.0.0.2"},
		{"bad X-Real-IP", "X-Real-IP", "10.0.0.2:1", []string{"X-Real-IP", "not an ip"}, "10.0.0.2"},
		{"Forwarded", "Forwarded", "10.0.0.2:1", []string{"Forwarded", "for=198.51.100.7;proto=https"}, "198.51.100.7"},
		{"Forwarded walks back through trusted hops", "Forwarded", "10.0.0.2:1",
			[]string{"Forwarded", `for=203.0.113.66, For="[2001:db8:cafe::17]:4711";by=10.0.0.2`, "Forwarded", "for=10.1.2.3"}, "2001:db8:cafe::17"},
		{"Forwarded: an obfuscated hop stops the walk", "Forwarded", "10.0.0.2:1",
			[]string{"Forwarded", "for=198.51.100.7, for=_hidden, for=10.1.2.3"}, "10.1.2.3"},
		{"Forwarded: an element without for stops the walk", "Forwarded", "10.0.0.2:1",
			[]string{"Forwarded", "for=198.51.100.7, proto=http"}, "10.0.0.2"},
		{"Forwarded: a quoted comma", "Forwarded", "10.0.0.2:1",
			[]string{"Forwarded", `for=198.51.100.7;ext="a,b"`}, "198.51.100.7"},
		{"Forwarded ignores X-Forwarded-For", "Forwarded", "10.0.0.2:1",
			[]string{"X-Forwarded-For", "198.51.100.66"}, "10.0.0.2"},
		{"mapped peer", "X-Forwarded-For", "[::ffff:10.0.0.2]:1", []string{"X-Forwarded-For", "198.51.100.7"}, "198.51.100.7"},
		{"no address", "X-Forwarded-For", "@", []string{"X-Forwarded-For", "198.51.100.7"}, "invalid IP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := clientlimit.Config{ClientHeader: tc.use}
			if tc.use != "" {
				cfg.TrustedProxies = proxies
			}
			got := newLimiter(t, cfg).ClientIP(request(tc.remote, tc.header...))
			require.Equal(t, tc.want, got.String())
		})
	}
}

func TestLimiterUsesForwardedClient(t *testing.T) {
	l := newLimiter(t, clientlimit.Config{Requests: 1, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, ClientHeader: "X-Forwarded-For", Now: newClock().Now})
	require.True(t, granted(l.Allow(request("127.0.0.1:5000", "X-Forwarded-For", "198.51.100.7"))))
	require.True(t, granted(l.Allow(request("127.0.0.1:5001", "X-Forwarded-For", "198.51.100.8"))), "another client behind the same proxy")
	require.False(t, granted(l.Allow(request("127.0.0.1:5002", "X-Forwarded-For", "203.0.113.1, 198.51.100.7"))), "the first client again, whatever it put on the left")
	require.Equal(t, "198.51.100.7", l.ClientIP(request("127.0.0.1:1", "X-Forwarded-For", "198.51.100.7")).String())
}

// TestForgedForwardedForBehindXRealIPProxy is the proxy that sets
// X-Real-IP and passes the client's X-Forwarded-For through untouched: the
// client must not choose its bucket by forging the header it passes.
func TestForgedForwardedForBehindXRealIPProxy(t *testing.T) {
	l := newLimiter(t, clientlimit.Config{Requests: 1, Per: time.Hour, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, ClientHeader: "X-Real-IP", Now: newClock().Now})
	allowed := 0
	for i := range 50 {
		r := request("127.0.0.1:5000", "X-Real-IP", "198.51.100.7", "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i))
		if granted(l.Allow(r)) {
			allowed++
		}
	}
	require.Equal(t, 1, allowed, "50 forged X-Forwarded-For values, one real client, one request an hour")
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
// untrusted peer, for each header a proxy may name: no panic, an untrusted
// peer is always its own client, and a trusted one yields a valid address.
func FuzzClientIP(f *testing.F) {
	for _, s := range []string{"", "198.51.100.7", "1.2.3.4, 10.0.0.1", "[::1]:80", "nonsense", ",,,", "::ffff:1.2.3.4%eth0", "fe80::1%eth0, 10.0.0.3",
		`for="[2001:db8::1]:80";by=x, for=10.0.0.1`, `for="unterminated, for=1.2.3.4`, `;;=,=;for=`} {
		f.Add("10.0.0.2:1234", s, s, s)
		f.Add("192.0.2.1:1", s, "", s)
	}
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	peerOnly := newLimiter(f, clientlimit.Config{})
	f.Fuzz(func(t *testing.T, remote, xff, realIP, forwarded string) {
		r := request(remote)
		r.Header["X-Forwarded-For"] = []string{xff}
		r.Header["X-Real-Ip"] = []string{realIP}
		r.Header["Forwarded"] = []string{forwarded}
		peer := peerOnly.ClientIP(r)
		for _, h := range []string{"X-Forwarded-For", "X-Real-IP", "Forwarded"} {
			l := newLimiter(t, clientlimit.Config{TrustedProxies: proxies, ClientHeader: h})
			got := l.ClientIP(r)
			if !peer.IsValid() || !proxies[0].Contains(peer) {
				require.Equal(t, peer, got)
				continue
			}
			require.True(t, got.IsValid())
			require.True(t, granted(l.Allow(r)))
		}
	})
}

func TestAllowKey(t *testing.T) {
	c := newClock()
	l := newLimiter(t, clientlimit.Config{Requests: 3, Per: time.Hour, MaxClients: 4, Now: c.Now})
	for range 3 {
		require.True(t, granted(l.AllowKey("a")))
	}
	ok, retry := l.AllowKey("a")
	require.False(t, ok)
	require.Equal(t, 20*time.Minute, retry)
	require.True(t, granted(l.AllowKey("b")), "another name, another bucket")
	require.True(t, granted(l.AllowAddr(netip.MustParseAddr("192.0.2.1"))), "names and addresses never share a bucket")
	require.Equal(t, 3, l.Clients())
	c.Add(20 * time.Minute)
	require.True(t, granted(l.AllowKey("a")))
	require.Equal(t, 1, l.Clients(), "b and the address refilled in 20 minutes and were forgotten")

	off := newLimiter(t, clientlimit.Config{Disabled: true})
	for range 10 {
		ok, _ := off.AllowKey("a")
		require.True(t, ok)
	}
}

// TestOverflowCountedOnce: a request that needs the overflow bucket for
// two of its networks (its /64 and its /48, whose bucket refilled first and
// was forgotten, while its /56 still counts) takes one token of it, not two.
func TestOverflowCountedOnce(t *testing.T) {
	c := newClock()
	l := newLimiter(t, clientlimit.Config{Requests: 1, Per: time.Hour, MaxClients: 3, Now: c.Now})
	require.True(t, granted(l.AllowAddr(netip.MustParseAddr("2001:db8:1:100::1"))))
	c.Add(time.Hour / clientlimit.IPv6Factor48) // the /48 has refilled, the /56 and /64 have not
	require.True(t, granted(l.AllowAddr(netip.MustParseAddr("192.0.2.1"))))
	require.Equal(t, 3, l.Clients(), "the /64, the /56 and the IPv4 address: full")

	spent := 0
	for i := range 10 { // other /64s of the same /56: the overflow bucket for their /64 and /48
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 1, byte(1 + i), 15: 1})
		if granted(l.AllowAddr(a)) {
			spent++
		}
	}
	require.Equal(t, clientlimit.IPv6Factor56-1, spent, "the /56 allows three more")
	left := 0
	for i := range 100 { // fresh /48s: the overflow bucket alone
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(100 + i), 15: 1})
		if granted(l.AllowAddr(a)) {
			left++
		}
	}
	require.Equal(t, clientlimit.IPv6Factor48-spent, left, "each of the three took one token of the overflow bucket")
}
