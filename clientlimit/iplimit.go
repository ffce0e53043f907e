// Package iplimit limits how often one client, told apart by its IP
// address, may use the password-reset handlers: the HTML pages
// (reset/pages) and the JSON API (reset/api) each take a Config in their
// own Config's ClientLimit field and build a Limiter from it.
//
// It complements the Service's limit per email address
// (reset.Config.RateLimit), which is counted in the Store and so holds
// across instances: this one is a token bucket per client in the memory of
// one process (golang.org/x/time/rate), so that one client cannot spray
// requests over many addresses. Several instances behind a load balancer
// each keep their own buckets.
//
// # Telling clients apart
//
// A client is the host of http.Request.RemoteAddr, the peer of the TCP
// connection. IPv6 clients are counted by their /64 network, since a single
// host commonly holds a whole /64. Behind a reverse proxy every request
// comes from the proxy, so list the proxies in Config.TrustedProxies: when
// the peer is one of them, and only then, the client is the right-most
// address of X-Forwarded-For that is not a trusted proxy (the one the
// outermost trusted proxy saw), or, without that header, X-Real-IP. Headers
// from a peer that is not listed are ignored: anyone can send them.
//
// Memory is bounded: a client whose bucket has refilled is forgotten, and
// at most Config.MaxClients are kept, the least recently seen going first.
//
// # Several instances
//
// The buckets stay in each process: behind a load balancer that spreads
// requests over n instances, one client may make up to n times a Limiter's
// Requests (set Requests to the budget divided by n for a budget across
// the fleet). Sharing them through the Store would add a write transaction
// on the shared database, the one part a fleet does not multiply, to every
// counted request (one AllowRequest; examples/fleet's
// BenchmarkSharedClientLimit measures it, and the README has the figures),
// for a limit whose purpose, keeping one client from spraying requests,
// holds to within that factor of n. What must hold exactly across instances is counted in the Store:
// reset emails and sign-ins per address, each token's single use.
package clientlimit

import (
	"container/list"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of the Config fields left zero.
const (
	DefaultRequests   = 10
	DefaultPer        = time.Minute
	DefaultMaxClients = 100_000
)

// Config configures a Limiter. The zero value is the default limit, on:
// 10 requests per minute per client (DefaultRequests per DefaultPer), in
// bursts of up to 10, trusting no proxy. A handler package may document
// other defaults for Requests.
type Config struct {
	// Requests is how many requests a client may make per Per, on
	// average. Default DefaultRequests, unless the handler says otherwise.
	Requests int

	// Per is the period of Requests. Default one minute (DefaultPer).
	Per time.Duration

	// Burst is how many requests a client may make at once, after a
	// quiet spell. Default: Requests.
	Burst int

	// Disabled turns the limit off: every request is allowed.
	Disabled bool

	// TrustedProxies are the networks of the reverse proxies in front of
	// the server. When the peer of a request is in one of them, the client
	// is taken from X-Forwarded-For (or X-Real-IP); otherwise those headers
	// are ignored. Default: none, which suits a server that faces the
	// clients itself. ParsePrefixes reads them from a flag.
	TrustedProxies []netip.Prefix

	// MaxClients bounds the clients kept in memory; past it, the least
	// recently seen is forgotten. Default 100,000 (DefaultMaxClients),
	// some tens of megabytes at most.
	MaxClients int

	// Now is the clock. Default time.Now. Tests replace it.
	Now func() time.Time
}

// Limiter counts the requests of each client in a token bucket. It is safe
// for concurrent use. Create one with New.
type Limiter struct {
	disabled bool
	limit    rate.Limit
	burst    int
	refill   time.Duration // time to refill an empty bucket: a client idle this long is forgotten
	trusted  []netip.Prefix
	max      int
	now      func() time.Time

	mu      sync.Mutex
	clients map[netip.Addr]*list.Element // of *client
	lru     list.List                    // front: most recently seen
}

type client struct {
	key      netip.Addr
	bucket   *rate.Limiter
	lastSeen time.Time
}

// New checks cfg, fills in its defaults and returns a Limiter. Negative
// numbers and an invalid TrustedProxies prefix are errors.
func New(cfg Config) (*Limiter, error) {
	if cfg.Requests < 0 || cfg.Per < 0 || cfg.Burst < 0 || cfg.MaxClients < 0 {
		return nil, errors.New("iplimit: Config.Requests, Per, Burst and MaxClients must not be negative")
	}
	for i, p := range cfg.TrustedProxies {
		if !p.IsValid() {
			return nil, fmt.Errorf("iplimit: Config.TrustedProxies[%d] is not a valid prefix", i)
		}
	}
	l := &Limiter{disabled: cfg.Disabled, burst: cfg.Burst, max: cfg.MaxClients, now: cfg.Now, clients: map[netip.Addr]*list.Element{}}
	for _, p := range cfg.TrustedProxies {
		l.trusted = append(l.trusted, p.Masked())
	}
	n, per := cfg.Requests, cfg.Per
	if n == 0 {
		n = DefaultRequests
	}
	if per == 0 {
		per = DefaultPer
	}
	if l.burst == 0 {
		l.burst = n
	}
	if l.max == 0 {
		l.max = DefaultMaxClients
	}
	if l.now == nil {
		l.now = time.Now
	}
	interval := per / time.Duration(n)
	if interval <= 0 {
		return nil, fmt.Errorf("iplimit: %d requests per %v is too many", n, per)
	}
	l.limit = rate.Every(interval)
	l.refill = interval * time.Duration(l.burst)
	return l, nil
}

// Allow counts one request of r's client and reports whether it is within
// the limit. When it is not, nothing is counted, and retryAfter says when
// the client may try again, rounded up to whole seconds (at least one).
func (l *Limiter) Allow(r *http.Request) (ok bool, retryAfter time.Duration) {
	if l.disabled {
		return true, 0
	}
	return l.AllowAddr(l.ClientIP(r))
}

// AllowAddr is Allow for a client already known by its address. An invalid
// address (a RemoteAddr that is not an IP) is one more client, shared by
// every such request.
func (l *Limiter) AllowAddr(a netip.Addr) (ok bool, retryAfter time.Duration) {
	if l.disabled {
		return true, 0
	}
	key := Key(a)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgetIdle(now)
	var c *client
	if e, found := l.clients[key]; found {
		c = e.Value.(*client)
		l.lru.MoveToFront(e)
	} else {
		if len(l.clients) >= l.max {
			oldest := l.lru.Back()
			delete(l.clients, oldest.Value.(*client).key)
			l.lru.Remove(oldest)
		}
		c = &client{key: key, bucket: rate.NewLimiter(l.limit, l.burst)}
		l.clients[key] = l.lru.PushFront(c)
	}
	if now.After(c.lastSeen) {
		c.lastSeen = now
	}
	if c.bucket.AllowN(now, 1) {
		return true, 0
	}
	// The bucket holds less than one token and gains limit tokens a
	// second; the bucket's float arithmetic may leave a hair above a whole
	// second, which is not worth one more.
	secs := math.Ceil((1-c.bucket.TokensAt(now))/float64(l.limit) - 1e-6)
	return false, time.Duration(max(secs, 1)) * time.Second
}

// forgetIdle drops the clients whose buckets have refilled: they are
// indistinguishable from clients never seen. The list is in order of last
// sight, so it stops at the first one still counting.
func (l *Limiter) forgetIdle(now time.Time) {
	for e := l.lru.Back(); e != nil; e = l.lru.Back() {
		c := e.Value.(*client)
		if now.Sub(c.lastSeen) < l.refill {
			return
		}
		delete(l.clients, c.key)
		l.lru.Remove(e)
	}
}

// Clients returns how many clients the Limiter keeps in memory.
func (l *Limiter) Clients() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

// ClientIP returns the address of r's client, as the Limiter tells clients
// apart: the peer, or behind a trusted proxy the address it forwarded. See
// the package documentation.
func (l *Limiter) ClientIP(r *http.Request) netip.Addr {
	return ClientIP(r, l.trusted)
}

// ClientIP returns the address of r's client: the host of r.RemoteAddr,
// unless that is in one of trusted, in which case it is the right-most
// address of the X-Forwarded-For headers that is not in trusted (every
// address there being trusted, the left-most), or without X-Forwarded-For
// the X-Real-IP header. It returns the zero Addr when r.RemoteAddr holds no
// IP address. An X-Forwarded-For entry that is not an IP address stops the
// walk at the last trusted address before it.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := parseAddr(r.RemoteAddr)
	if !peer.IsValid() || !contains(trusted, peer) {
		return peer
	}
	if values := r.Header.Values("X-Forwarded-For"); len(values) > 0 {
		hops := strings.Split(strings.Join(values, ","), ",")
		last := peer
		for i := len(hops) - 1; i >= 0; i-- {
			a := parseAddr(hops[i])
			if !a.IsValid() {
				return last
			}
			if !contains(trusted, a) {
				return a
			}
			last = a
		}
		return last
	}
	if a := parseAddr(r.Header.Get("X-Real-IP")); a.IsValid() {
		return a
	}
	return peer
}

// Key is the address a client is counted under: a itself for IPv4 (an
// IPv4-mapped IPv6 address counting as the IPv4 one), its /64 network for
// IPv6.
func Key(a netip.Addr) netip.Addr {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return a
}

// parseAddr reads an IP address, with or without a port, brackets or
// surrounding space, as RemoteAddr and the forwarding headers hold them.
// It returns the zero Addr for anything else.
func parseAddr(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap()
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

func contains(prefixes []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParsePrefixes reads a comma-separated list of networks in CIDR notation
// ("10.0.0.0/8, fd00::/8"), for a flag; a bare address is a network of
// that one address. An empty string is an empty list.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("iplimit: %q is neither a network (CIDR) nor an IP address", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
