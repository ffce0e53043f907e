package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"html/template"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"unicode"
)

// Dev is a transport for development: instead of delivering messages, it
// logs one line for each and keeps the latest in memory, where a
// development page can show them: Handler serves one, to this machine
// only. A Dev is safe for concurrent use.
type Dev struct {
	logger *slog.Logger

	mu   sync.Mutex
	ring []Message // the messages, oldest at next once the ring is full
	next int       // where the next message goes once the ring is full
}

// NewDev returns a Dev that logs to logger (slog.Default() if nil) and
// keeps the latest capacity messages (100 if capacity <= 0), dropping the
// oldest past that.
func NewDev(logger *slog.Logger, capacity int) *Dev {
	if logger == nil {
		logger = slog.Default()
	}
	if capacity <= 0 {
		capacity = 100
	}
	return &Dev{logger: logger, ring: make([]Message, 0, capacity)}
}

// Send validates m, keeps a copy of it and logs one line at level Info
// with its recipient and subject; never its body, which holds the reset
// link. Like a real transport, it fails when ctx is done, and it returns an
// error that wraps [ErrInvalidMessage] for an invalid message.
func (d *Dev) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := m.Validate(); err != nil {
		return err
	}
	m.Headers = maps.Clone(m.Headers)
	d.mu.Lock()
	if len(d.ring) < cap(d.ring) {
		d.ring = append(d.ring, m)
	} else {
		d.ring[d.next] = m
		d.next = (d.next + 1) % len(d.ring)
	}
	d.mu.Unlock()
	d.logger.LogAttrs(ctx, slog.LevelInfo, "mail: message kept in dev mailbox",
		slog.String("to", m.To), slog.String("subject", m.Subject))
	return nil
}

// Messages returns copies of the messages kept, newest first.
func (d *Dev) Messages() []Message {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := len(d.ring)
	msgs := make([]Message, n)
	for i := range n {
		m := d.ring[(d.next-1-i+n)%n]
		m.Headers = maps.Clone(m.Headers)
		msgs[i] = m
	}
	return msgs
}

// Clear discards the messages kept.
func (d *Dev) Clear() {
	d.mu.Lock()
	defer d.mu.Unlock()
	clear(d.ring)
	d.ring = d.ring[:0]
	d.next = 0
}

// Handler returns an http.Handler that shows the dev mailbox: the messages
// kept, newest first, each with its recipient, subject and plain-text body,
// in which http and https links are clickable (a message with only an HTML
// body shows that body's source as text, never rendered). Mount it on a
// development server, for example:
//
//	mux.Handle("GET /dev/mail", dev.Handler())
//
// The page holds live reset links, so the handler answers only a browser
// on the same machine talking to the app directly, and 404 Not Found to
// any other request, which it logs at level Info with the reason:
//
//   - a request that carries a forwarding header (X-Forwarded-For,
//     X-Forwarded-Host, X-Forwarded-Proto, Forwarded, X-Real-IP or Via):
//     it came through a proxy, perhaps one on the same machine that
//     serves the app to the world;
//   - a request whose TCP peer (r.RemoteAddr) is not a loopback address;
//   - a request whose Host header is not a loopback name or address:
//     localhost, or a loopback IP such as 127.0.0.1 or [::1], with any port
//     or none. This defeats DNS rebinding, where a web page the developer
//     visits makes their browser send requests to the app under the
//     attacker's host name.
//
// Methods other than GET and HEAD get 405. Every answer carries
// Cache-Control: no-store, Referrer-Policy: no-referrer and a
// Content-Security-Policy that allows no script, no framing and only the
// page's own nonce-tagged style; the page is rendered with html/template,
// so whatever a message holds is escaped.
func (d *Dev) Handler() http.Handler {
	page, err := template.New("dev mailbox").Parse(devPage)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		if reason := refuseDevRequest(r); reason != "" {
			d.logger.LogAttrs(r.Context(), slog.LevelInfo, "mail: dev mailbox refused a request",
				slog.String("reason", reason), slog.String("remote_addr", r.RemoteAddr))
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		if err != nil {
			d.logger.LogAttrs(r.Context(), slog.LevelError, "mail: dev mailbox page", slog.Any("err", err))
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return
		}
		v := devView{Nonce: rand.Text()}
		for _, m := range d.Messages() {
			body := m.Text
			if body == "" {
				body = m.HTML
			}
			v.Messages = append(v.Messages, devMessage{To: m.To, Subject: m.Subject, Body: linkify(body)})
		}
		var b bytes.Buffer
		if err := page.Execute(&b, v); err != nil {
			d.logger.LogAttrs(r.Context(), slog.LevelError, "mail: dev mailbox page", slog.Any("err", err))
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return
		}
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+v.Nonce+"'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.Write(b.Bytes())
	})
}

// refuseDevRequest returns why the dev mailbox must not answer r, or "".
func refuseDevRequest(r *http.Request) string {
	// Proxies set these: a request that carries one did not come to the
	// app directly.
	for _, name := range [...]string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "X-Real-Ip", "Via"} {
		if _, ok := r.Header[name]; ok {
			return "forwarding header " + name
		}
	}
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !peer.Addr().Unmap().IsLoopback() {
		return "peer is not loopback"
	}
	if !loopbackHost(r.Host) {
		return "Host header is not a loopback name or address"
	}
	return ""
}

// loopbackHost reports whether host, a Host header with or without a port,
// names this machine: localhost or a loopback IP address.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Zone() == "" && ip.Unmap().IsLoopback()
}

// devView is what the mailbox page shows.
type devView struct {
	Nonce    string
	Messages []devMessage
}

type devMessage struct {
	To, Subject string
	Body        []textPart
}

// textPart is a run of a body: plain text, or a link.
type textPart struct {
	Text string
	Link bool
}

// linkify splits text into plain runs and links: each "http://" or
// "https://" and what follows it up to a space, a quote or an angle
// bracket.
func linkify(text string) []textPart {
	var parts []textPart
	for text != "" {
		i := strings.Index(text, "http://")
		if j := strings.Index(text, "https://"); j >= 0 && (i < 0 || j < i) {
			i = j
		}
		if i < 0 {
			parts = append(parts, textPart{Text: text})
			break
		}
		end := strings.IndexFunc(text[i:], func(c rune) bool {
			return unicode.IsSpace(c) || strings.ContainsRune(`<>"'`, c)
		})
		if end < 0 {
			end = len(text) - i
		}
		if i > 0 {
			parts = append(parts, textPart{Text: text[:i]})
		}
		parts = append(parts, textPart{Text: text[i : i+end], Link: true})
		text = text[i+end:]
	}
	return parts
}

const devPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Dev mailbox</title>
<style nonce="{{.Nonce}}">
body { font: 1rem/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1a1a1a; }
article { border-top: 1px solid #ccc; padding: 1rem 0; }
h2 { font-size: 1.1rem; margin: 0; }
.to { color: #555; margin: .25rem 0 0; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; font: .875rem/1.5 ui-monospace, monospace; }
</style>
</head>
<body>
<h1>Dev mailbox</h1>
<p>Every email the app sent, newest first. It never left this machine. Links work as they do in the email.</p>
{{- range .Messages}}
<article class="message">
<h2>{{.Subject}}</h2>
<p class="to">To {{.To}}</p>
<pre>{{range .Body}}{{if .Link}}<a href="{{.Text}}" rel="noreferrer">{{.Text}}</a>{{else}}{{.Text}}{{end}}{{end}}</pre>
</article>
{{- else}}
<p id="empty">No email yet.</p>
{{- end}}
</body>
</html>
`
