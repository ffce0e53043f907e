// Package roundrobin is a reverse proxy that sends each request to the next
// of its backends in turn, so that two requests in a row never reach the
// same one: what the examples' instances run behind in the fleet tests and
// in the README (examples/roundrobin).
package roundrobin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync/atomic"
)

// UpstreamHeader is the header of every answer that names the backend that
// served it, by its position in the list, from 1.
const UpstreamHeader = "X-Upstream"

// Proxy is a round-robin reverse proxy. It is safe for concurrent use.
type Proxy struct {
	backends []*url.URL
	next     atomic.Uint64
	rp       *httputil.ReverseProxy
	// OnServe, when set, is called with the position (from 0) of the
	// backend chosen for each request, before it is sent.
	OnServe func(r *http.Request, backend int)
	// KeepForwardedFor keeps the X-Forwarded-For header the client sent,
	// adding the client's address after it, for a proxy behind another one
	// or a benchmark that names its clients. By default the header is
	// replaced: a client could write anything in it.
	KeepForwardedFor bool
}

type ctxKey struct{}

// New returns a Proxy over backends, absolute http or https URLs. It keeps
// the Host header the client sent, so that the backends see the address
// their users see, and sets X-Forwarded-For, -Host and -Proto: list the
// proxy's address as trusted in the backends (-trusted-proxies, with
// -client-header X-Forwarded-For) for them to tell clients apart. A backend that cannot be reached is answered 502 and
// logged to logger (nil: discarded).
func New(backends []*url.URL, logger *slog.Logger) (*Proxy, error) {
	if len(backends) == 0 {
		return nil, errors.New("roundrobin: no backend")
	}
	for _, b := range backends {
		if (b.Scheme != "http" && b.Scheme != "https") || b.Host == "" {
			return nil, fmt.Errorf("roundrobin: backend %q is not an absolute http(s) URL", b.Redacted())
		}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{backends: backends}
	// Keep connections to the backends open for reuse: the default keeps
	// two per host, which makes a busy proxy dial on most requests.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	p.rp = &httputil.ReverseProxy{
		Transport: transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			i := pr.In.Context().Value(ctxKey{}).(int)
			pr.SetURL(p.backends[i])
			if p.KeepForwardedFor {
				pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
			}
			pr.SetXForwarded()
			pr.Out.Host = pr.In.Host
		},
		ModifyResponse: func(res *http.Response) error {
			i := res.Request.Context().Value(ctxKey{}).(int)
			res.Header.Set(UpstreamHeader, strconv.Itoa(i+1))
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			i := r.Context().Value(ctxKey{}).(int)
			logger.WarnContext(r.Context(), "roundrobin: backend unreachable", "backend", p.backends[i].Redacted(), "err", err)
			w.Header().Set(UpstreamHeader, strconv.Itoa(i+1))
			http.Error(w, "The backend could not be reached.", http.StatusBadGateway)
		},
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return p, nil
}

// ServeHTTP sends r to the next backend.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int((p.next.Add(1) - 1) % uint64(len(p.backends)))
	if p.OnServe != nil {
		p.OnServe(r, i)
	}
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, i)))
}
