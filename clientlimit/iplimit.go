// Package clientlimit limits how often one client, told apart by its IP
// address, may use the password-reset handlers: the HTML pages
// (reset/pages) and the JSON API (workos) each take a Config in their own
// Config's ClientLimit field and build a Limiter from it.
//
// It complements the Service's limit per email address
// (reset.Config.RateLimit), which is counted in the Store and so holds
// across instances: this one is a token bucket per client in the memory of
// one process, so that one client cannot spray requests over many
// addresses. Several instances behind a load balancer each keep their own
// buckets.
//
// # Telling clients apart
//
// A client is the host of http.Request.RemoteAddr, the peer of the TCP
// connection. Behind a reverse proxy every request comes from the proxy:
// list the proxies in Config.TrustedProxies and name, in
// Config.ClientHeader, the one header they set to say who the client is.
// When the peer is a trusted proxy, and only then, the client is read from
// that header and from no other:
//
//   - "X-Forwarded-For": the right-most address that is not a trusted
//     proxy (the one the outermost trusted proxy saw), walking back through
//     the trusted ones. For a proxy that appends the peer to the header.
//   - "Forwarded" (RFC 7239): the same walk over its for= parameters.
//   - "X-Real-IP": the one address it holds. For a proxy that sets it,
//     replacing whatever the client sent (nginx's
//     proxy_set_header X-Real-IP $remote_addr).
//
// There is no fallback from one header to another: a client may send any
// header, and only the one the proxy writes tells the truth. When the
// named header is missing, malformed or given twice (X-Real-IP), the
// client is the proxy itself, one bucket for all such requests. Headers
// from a peer that is not listed are ignored.
//
// # IPv6 networks
//
// A single IPv6 host commonly holds a whole /64, and a single site a /56
// or a /48: an IPv6 request is counted in three buckets, of its /64, its
// /56 and its /48, and allowed only when all three allow it. The /56
// bucket holds 4 times the /64's budget (Requests and Burst), the /48
// bucket 16 times (IPv6Factor56, IPv6Factor48): one host may use its
// whole budget, and a client spreading its requests over the 65,536 /64s
// of a /48 gets 16 budgets, not 65,536. IPv4 clients are counted per
// address.
//
// # Memory
//
// Memory is bounded: a bucket that has refilled is forgotten (it is
// indistinguishable from one never used), and at most Config.MaxClients
// buckets are kept. A bucket that has not refilled is never dropped, so
// filling the table cannot reset anyone's limit: when the table is full
// of buckets still counting, a request that needs a new one is counted in
// one shared overflow bucket instead, with the budget of a /48, until
// buckets refill and make room.
//
// Limiter.AllowKey counts under a name of the caller's choosing instead of
// an address, in the same table: the forgot page keeps its small quota per
// email address that way, under a keyed hash of the address.
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
// holds to within that factor of n. What must hold exactly across
// instances is counted in the Store: reset emails and sign-ins per
// address, each token's single use.
package clientlimit

import (
	"container/heap"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults of the Config fields left zero.
const (
	DefaultRequests   = 10
	DefaultPer        = time.Minute
	DefaultMaxClients = 100_000
)

// The budgets of the wider IPv6 networks, as multiples of the budget of a
// /64 (Config.Requests and Config.Burst). The overflow bucket, shared when
// the table is full, has the budget of a /48.
const (
	IPv6Factor56 = 4
	IPv6Factor48 = 16
)

// The headers Config.ClientHeader may name.
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderXRealIP       = "X-Real-Ip" // as http.CanonicalHeaderKey spells X-Real-IP
	HeaderForwarded     = "Forwarded"
)

// Config configures a Limiter. The zero value is the default limit, on:
// 10 requests per minute per client (DefaultRequests per DefaultPer), in
// bursts of up to 10, trusting no proxy. A handler package may document
// other defaults for Requests.
type Config struct {
	// Requests is how many requests a client may make per Per, on
	// average. Default DefaultRequests, unless the handler says otherwise.
	// An IPv6 /56 and /48 have larger budgets (see IPv6Factor56).
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
	// is read from ClientHeader; otherwise every forwarding header is
	// ignored. Default: none, which suits a server that faces the clients
	// itself. ParsePrefixes reads them from a flag. Setting
	// TrustedProxies requires ClientHeader.
	TrustedProxies []netip.Prefix

	// ClientHeader names the one header the trusted proxies set to say
	// who the client is: "X-Forwarded-For", "X-Real-IP" or "Forwarded"
	// (any letter case). Default "": the client is the peer of the TCP
	// connection, and no header is read. Naming a header requires
	// TrustedProxies. No other header is ever consulted, so a client
	// cannot choose its bucket by sending one the proxy passes through.
	// See the package documentation.
	ClientHeader string

	// MaxClients bounds the buckets kept in memory (an IPv6 client uses
	// up to three). Past it, buckets that have refilled make room; when
	// none has, new clients share one overflow bucket. Default 100,000
	// (DefaultMaxClients), some tens of megabytes at most.
	MaxClients int

	// Now is the clock. Default time.Now. Tests replace it.
	Now func() time.Time
}

// Limiter counts the requests of each client in token buckets. It is safe
// for concurrent use. Create one with New.
type Limiter struct {
	disabled bool
	interval time.Duration // between two tokens of a /64 or IPv4 bucket
	burst    int
	trusted  []netip.Prefix
	header   string // canonical; "" for the peer
	max      int
	now      func() time.Time

	mu       sync.Mutex
	buckets  map[bucketKey]*bucket
	full     fullHeap // every bucket of buckets, soonest full first
	overflow bucket   // shared when buckets is full of buckets still counting
}

// bucket is a token bucket kept as its theoretical arrival time (GCRA):
// tat is when the bucket will be full again. A request at now takes one
// token when max(tat, now)+interval-now <= burst*interval, and moves tat
// there.
type bucket struct {
	key      bucketKey
	interval time.Duration
	burst    int
	tat      time.Time
	index    int // in Limiter.full; -1 for the overflow bucket
}

// next is the tat after one more request at now, and how long past the
// budget that would be (<= 0: within it).
func (b *bucket) next(now time.Time) (tat time.Time, over time.Duration) {
	tat = b.tat
	if tat.Before(now) {
		tat = now
	}
	tat = tat.Add(b.interval)
	return tat, tat.Sub(now) - time.Duration(b.burst)*b.interval
}

// New checks cfg, fills in its defaults and returns a Limiter. Negative
// numbers, an invalid TrustedProxies prefix, an unknown ClientHeader, and
// TrustedProxies without ClientHeader (or the other way round) are errors.
func New(cfg Config) (*Limiter, error) {
	if cfg.Requests < 0 || cfg.Per < 0 || cfg.Burst < 0 || cfg.MaxClients < 0 {
		return nil, errors.New("clientlimit: Config.Requests, Per, Burst and MaxClients must not be negative")
	}
	for i, p := range cfg.TrustedProxies {
		if !p.IsValid() {
			return nil, fmt.Errorf("clientlimit: Config.TrustedProxies[%d] is not a valid prefix", i)
		}
	}
	header, err := canonicalHeader(cfg.ClientHeader)
	if err != nil {
		return nil, err
	}
	switch {
	case header == "" && len(cfg.TrustedProxies) > 0:
		return nil, errors.New(`clientlimit: Config.TrustedProxies needs Config.ClientHeader, the header those proxies set to name the client ("X-Forwarded-For", "X-Real-IP" or "Forwarded")`)
	case header != "" && len(cfg.TrustedProxies) == 0:
		return nil, fmt.Errorf("clientlimit: Config.ClientHeader %q needs Config.TrustedProxies: the header is read only from a trusted proxy", cfg.ClientHeader)
	}
	l := &Limiter{disabled: cfg.Disabled, burst: cfg.Burst, header: header, max: cfg.MaxClients, now: cfg.Now, buckets: map[bucketKey]*bucket{}}
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
	l.interval = per / time.Duration(n)
	if l.interval/IPv6Factor48 <= 0 {
		return nil, fmt.Errorf("clientlimit: %d requests per %v is too many", n, per)
	}
	l.overflow = bucket{interval: l.interval / IPv6Factor48, burst: l.burst * IPv6Factor48, index: -1}
	return l, nil
}

// canonicalHeader checks a Config.ClientHeader and spells it as
// http.Header keys are.
func canonicalHeader(h string) (string, error) {
	c := http.CanonicalHeaderKey(strings.TrimSpace(h))
	switch c {
	case "", HeaderXForwardedFor, HeaderXRealIP, HeaderForwarded:
		return c, nil
	}
	return "", fmt.Errorf(`clientlimit: Config.ClientHeader %q is not one of "X-Forwarded-For", "X-Real-IP", "Forwarded" or "" (the peer)`, h)
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
// every such request. An IPv6 address is counted in its /64, /56 and /48
// (see the package documentation).
func (l *Limiter) AllowAddr(a netip.Addr) (ok bool, retryAfter time.Duration) {
	if l.disabled {
		return true, 0
	}
	return l.allow(keys(a))
}

// AllowKey is Allow for a client known by a name of the caller's choosing
// rather than an address: one bucket per name, with the Limiter's budget
// (Requests per Per, Burst), in the same bounded table as the addresses'
// (the names never meet the addresses). For example the forgot page keeps
// a small quota per email address, under a keyed hash of the address, so
// that a client whose bucket is empty can still ask for its own email.
// Pass a hash or an opaque id, not a secret: the names stay in memory.
func (l *Limiter) AllowKey(name string) (ok bool, retryAfter time.Duration) {
	if l.disabled {
		return true, 0
	}
	return l.allow([]key{{bucketKey{name: name}, 1}})
}

// allow counts one request in each bucket of ks, if every one of them
// allows it.
func (l *Limiter) allow(ks []key) (ok bool, retryAfter time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgetFull(now)

	var counted [3]*bucket
	n := 0
	for _, k := range ks {
		b := l.buckets[k.id]
		if b == nil {
			if len(l.buckets) >= l.max {
				b = &l.overflow
			} else {
				b = &bucket{key: k.id, interval: l.interval / time.Duration(k.factor), burst: l.burst * k.factor, tat: now}
				l.buckets[k.id] = b
				heap.Push(&l.full, b)
			}
		}
		if !slices.Contains(counted[:n], b) { // the overflow bucket, once
			counted[n] = b
			n++
		}
	}
	var wait time.Duration
	for _, b := range counted[:n] {
		if _, over := b.next(now); over > wait {
			wait = over
		}
	}
	if wait > 0 {
		l.forgetFull(now) // the buckets just made for this request, if any
		secs := (wait + time.Second - 1) / time.Second
		return false, secs * time.Second
	}
	for _, b := range counted[:n] {
		b.tat, _ = b.next(now)
		if b.index >= 0 {
			heap.Fix(&l.full, b.index)
		}
	}
	return true, 0
}

// forgetFull drops the buckets that have refilled: they are
// indistinguishable from buckets never used.
func (l *Limiter) forgetFull(now time.Time) {
	for len(l.full) > 0 && !l.full[0].tat.After(now) {
		b := heap.Pop(&l.full).(*bucket)
		delete(l.buckets, b.key)
	}
}

// Clients returns how many buckets the Limiter keeps in memory: one per
// IPv4 client, up to three per IPv6 client. The overflow bucket is not
// counted.
func (l *Limiter) Clients() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// ClientIP returns the address of r's client, as the Limiter tells clients
// apart: the peer, or behind a trusted proxy the address read from
// Config.ClientHeader. See the package documentation.
func (l *Limiter) ClientIP(r *http.Request) netip.Addr {
	return clientAddr(r, l.header, l.trusted)
}

// ClientIP returns the address of r's client: the host of r.RemoteAddr,
// unless that is in one of trusted, in which case it is the right-most
// address of the X-Forwarded-For headers that is not in trusted (every
// address there being trusted, the left-most). No other header is read.
// It returns the zero Addr when r.RemoteAddr holds no IP address. An
// X-Forwarded-For entry that is not an IP address stops the walk at the
// last trusted address before it.
//
// Deprecated: it reads X-Forwarded-For only; use a Limiter, whose
// Config.ClientHeader names the header the proxies set, and its ClientIP
// method.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	return clientAddr(r, HeaderXForwardedFor, trusted)
}

// clientAddr is ClientIP for the header (canonical, or "" for the peer).
func clientAddr(r *http.Request, header string, trusted []netip.Prefix) netip.Addr {
	peer := parseAddr(r.RemoteAddr)
	if header == "" || !peer.IsValid() || !contains(trusted, peer) {
		return peer
	}
	values := r.Header.Values(header)
	switch header {
	case HeaderXRealIP:
		if len(values) != 1 {
			return peer
		}
		if a := parseAddr(values[0]); a.IsValid() {
			return a
		}
		return peer
	case HeaderForwarded:
		return walk(peer, forwardedFor(values), trusted)
	default:
		return walk(peer, strings.Split(strings.Join(values, ","), ","), trusted)
	}
}

// walk returns the right-most of hops that is not in trusted, walking back
// from the peer; a hop that is not an IP address stops the walk at the
// last trusted address before it. hops may be empty: then it is the peer.
func walk(peer netip.Addr, hops []string, trusted []netip.Prefix) netip.Addr {
	last := peer
	for i := len(hops) - 1; i >= 0; i-- {
		if strings.TrimSpace(hops[i]) == "" && len(hops) == 1 {
			break // an empty header
		}
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

// forwardedFor returns the for= value of each element of the Forwarded
// headers, in order, unquoted; "" for an element without one (which stops
// the walk, as a malformed hop does).
func forwardedFor(values []string) []string {
	var out []string
	for _, v := range values {
		for _, elem := range splitQuoted(v, ',') {
			if strings.TrimSpace(elem) == "" {
				continue
			}
			found := ""
			for _, pair := range splitQuoted(elem, ';') {
				name, value, ok := strings.Cut(pair, "=")
				if ok && strings.EqualFold(strings.TrimSpace(name), "for") {
					found = strings.Trim(strings.TrimSpace(value), `"`)
				}
			}
			out = append(out, found)
		}
	}
	return out
}

// splitQuoted splits s at sep outside double quotes.
func splitQuoted(s string, sep byte) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '"':
			quoted = !quoted
		case s[i] == '\\' && quoted:
			i++
		case s[i] == sep && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// A bucketKey names a bucket: a network, or a name given to AllowKey.
type bucketKey struct {
	prefix netip.Prefix
	name   string
}

// A key is a bucket a request is counted in, with its budget as a
// multiple of a /64's.
type key struct {
	id     bucketKey
	factor int
}

// keys are the networks a is counted in: a itself for IPv4 (an
// IPv4-mapped IPv6 address counting as the IPv4 one), its /64, /56 and
// /48 for IPv6. An invalid address is one key of its own.
func keys(a netip.Addr) []key {
	a = a.Unmap().WithZone("")
	if !a.Is6() {
		p, _ := a.Prefix(a.BitLen())
		return []key{{bucketKey{prefix: p}, 1}}
	}
	p64, _ := a.Prefix(64)
	p56, _ := a.Prefix(56)
	p48, _ := a.Prefix(48)
	return []key{{bucketKey{prefix: p64}, 1}, {bucketKey{prefix: p56}, IPv6Factor56}, {bucketKey{prefix: p48}, IPv6Factor48}}
}

// Key is the address a client is counted under in its narrowest bucket: a
// itself for IPv4 (an IPv4-mapped IPv6 address counting as the IPv4 one),
// its /64 network for IPv6, which is also counted in its /56 and /48.
func Key(a netip.Addr) netip.Addr {
	return keys(a)[0].id.prefix.Addr()
}

// fullHeap orders buckets by the time they are full again.
type fullHeap []*bucket

func (h fullHeap) Len() int           { return len(h) }
func (h fullHeap) Less(i, j int) bool { return h[i].tat.Before(h[j].tat) }
func (h fullHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *fullHeap) Push(x any) {
	b := x.(*bucket)
	b.index = len(*h)
	*h = append(*h, b)
}
func (h *fullHeap) Pop() any {
	old := *h
	b := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	b.index = -1
	return b
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
			return nil, fmt.Errorf("clientlimit: %q is neither a network (CIDR) nor an IP address", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
