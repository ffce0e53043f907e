package mail_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/mail"
)

// devServer serves dev's Handler on a real loopback listener at network
// ("tcp4" or "tcp6"), and returns its base URL.
func devServer(t *testing.T, dev *mail.Dev, network string) string {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "tcp6" {
		addr = "[::1]:0"
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("no %s loopback here: %v", network, err)
	}
	srv := httptest.NewUnstartedServer(dev.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// get sends a GET to url with the given Host header ("" keeps the URL's)
// and extra headers, and returns the status and body.
func get(t *testing.T, url, host string, header http.Header) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	if host != "" {
		req.Host = host
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, res.Header, string(body)
}

func resetMessage(to, subject, text string) mail.Message {
	return mail.Message{From: "noreply@app.example", To: to, Subject: subject, Text: text}
}

func TestDevHandlerListsMessagesEscapedWithLinks(t *testing.T) {
	dev := mail.NewDev(slog.New(slog.DiscardHandler), 10)
	url := devServer(t, dev, "tcp4")

	status, _, body := get(t, url, "", nil)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `id="empty"`, "an empty mailbox says so")

	require.NoError(t, dev.Send(t.Context(), resetMessage("first@example.com", "older", "nothing to click")))
	require.NoError(t, dev.Send(t.Context(), resetMessage("marcelina.davis@example.com", `Reset <script>alert(1)</script>`,
		"Hello,\n\nOpen https://app.example/reset-password?token=Z1uX3R&x=1 to choose a password.\n<img src=x onerror=alert(1)>\n")))
	require.NoError(t, dev.Send(t.Context(), mail.Message{From: "noreply@app.example", To: "html@example.com", Subject: "html only",
		HTML: `<p>Open <a href="https://app.example/x">this</a></p>`}))

	status, hdr, body := get(t, url, "", nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "text/html; charset=utf-8", hdr.Get("Content-Type"))
	require.Equal(t, "no-store", hdr.Get("Cache-Control"))
	require.Equal(t, "no-referrer", hdr.Get("Referrer-Policy"))
	csp := hdr.Get("Content-Security-Policy")
	require.Contains(t, csp, "default-src 'none'")
	require.Contains(t, csp, "frame-ancestors 'none'")
	require.NotContains(t, csp, "script-src")
	require.NotContains(t, csp, "unsafe-inline")
	// The style element carries the nonce the CSP names.
	m := regexp.MustCompile(`style-src 'nonce-([A-Za-z0-9]+)'`).FindStringSubmatch(csp)
	require.Len(t, m, 2, csp)
	require.Contains(t, body, `<style nonce="`+m[1]+`">`)

	// Escaped: nothing a message holds becomes markup.
	require.NotContains(t, body, "<script>")
	require.Contains(t, body, "Reset &lt;script&gt;alert(1)&lt;/script&gt;")
	require.NotContains(t, body, "<img")
	require.Contains(t, body, "&lt;img src=x onerror=alert(1)&gt;")
	require.NotContains(t, body, `<p>Open`, "an HTML body is shown as its source, never rendered")
	require.Contains(t, body, "&lt;p&gt;Open")
	// The link is clickable, and only the link.
	require.Contains(t, body, `<a href="https://app.example/reset-password?token=Z1uX3R&amp;x=1" rel="noreferrer">https://app.example/reset-password?token=Z1uX3R&amp;x=1</a> to choose`)
	// Newest first.
	require.Less(t, strings.Index(body, "html@example.com"), strings.Index(body, "marcelina.davis@example.com"))
	require.Less(t, strings.Index(body, "marcelina.davis@example.com"), strings.Index(body, "first@example.com"))
	require.NotContains(t, body, `id="empty"`)
}

func TestDevHandlerAcceptsLoopbackHosts(t *testing.T) {
	dev := mail.NewDev(slog.New(slog.DiscardHandler), 10)
	require.NoError(t, dev.Send(t.Context(), resetMessage("a@example.com", "hello", "body")))
	for _, network := range []string{"tcp4", "tcp6"} {
		url := devServer(t, dev, network)
		for _, host := range []string{"", "localhost", "LocalHost:8080", "127.0.0.1", "127.0.0.1:1", "127.9.8.7:80", "[::1]", "[::1]:8080"} {
			status, _, body := get(t, url, host, nil)
			require.Equal(t, http.StatusOK, status, "%s, Host %q", network, host)
			require.Contains(t, body, "a@example.com")
		}
	}
}

func TestDevHandlerRefusesForwardedRequests(t *testing.T) {
	dev := mail.NewDev(slog.New(slog.DiscardHandler), 10)
	require.NoError(t, dev.Send(t.Context(), resetMessage("secret@example.com", "your link", "https://app.example/reset-password?token=T")))
	url := devServer(t, dev, "tcp4")
	for _, name := range []string{"X-Forwarded-For", "x-forwarded-for", "Forwarded", "X-Real-IP", "X-Forwarded-Host", "X-Forwarded-Proto", "Via"} {
		for _, value := range []string{"127.0.0.1", ""} {
			status, hdr, body := get(t, url, "", http.Header{http.CanonicalHeaderKey(name): {value}})
			require.Equal(t, http.StatusNotFound, status, "%s: %q", name, value)
			require.NotContains(t, body, "secret@example.com")
			require.Equal(t, "no-store", hdr.Get("Cache-Control"))
		}
	}
}

func TestDevHandlerRefusesOtherHosts(t *testing.T) {
	dev := mail.NewDev(slog.New(slog.DiscardHandler), 10)
	require.NoError(t, dev.Send(t.Context(), resetMessage("secret@example.com", "your link", "https://app.example/reset-password?token=T")))
	url := devServer(t, dev, "tcp4")
	// The names a DNS rebinding attack or a mistaken proxy would send.
	for _, host := range []string{
		"evil.example", "evil.example:8080", "localhost.evil.example", "127.0.0.1.nip.io",
		"localhost.", "192.0.2.2", "[fd00::2]:80", "0.0.0.0", "[::]:80", "[fe80::1%25lo]", "10.0.0.1:8080",
	} {
		status, _, body := get(t, url, host, nil)
		require.Equal(t, http.StatusNotFound, status, "Host %q", host)
		require.NotContains(t, body, "secret@example.com")
	}

	// HTTP/1.0 without a Host header.
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "GET / HTTP/1.0\r\n\r\n")
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusNotFound, res.StatusCode)
}

func TestDevHandlerRefusesNonLoopbackPeers(t *testing.T) {
	dev := mail.NewDev(slog.New(slog.DiscardHandler), 10)
	require.NoError(t, dev.Send(t.Context(), resetMessage("secret@example.com", "your link", "https://app.example/reset-password?token=T")))
	h := dev.Handler()

	for _, remote := range []string{"192.0.2.1:1234", "[2001:db8::1]:443", "[::ffff:192.0.2.1]:80", "10.0.0.1:80", "@", "", "127.0.0.1"} {
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/dev/mail", nil)
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusNotFound, rec.Code, "peer %q", remote)
		require.NotContains(t, rec.Body.String(), "secret@example.com")
	}
	for _, remote := range []string{"127.0.0.1:5555", "[::1]:5555", "[::ffff:127.0.0.1]:5555"} {
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/dev/mail", nil)
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code, "peer %q", remote)
	}

	// A real connection over a non-loopback interface of this machine,
	// Host header and all saying 127.0.0.1.
	ip := nonLoopbackIP(t)
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	status, _, body := get(t, srv.URL, "127.0.0.1", nil)
	require.Equal(t, http.StatusNotFound, status)
	require.NotContains(t, body, "secret@example.com")
}

// nonLoopbackIP returns an address of this machine that is not loopback,
// or skips the test.
func nonLoopbackIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	t.Skip("this machine has no non-loopback address")
	return ""
}

func TestDevHandlerMethods(t *testing.T) {
	dev := mail.NewDev(slog.New(slog.DiscardHandler), 10)
	url := devServer(t, dev, "tcp4")
	res, err := http.Post(url, "text/plain", bytes.NewReader(nil))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)
	require.Equal(t, "GET, HEAD", res.Header.Get("Allow"))

	res, err = http.Head(url)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
}

func TestDevHandlerLogsRefusalsWithoutContent(t *testing.T) {
	var logs bytes.Buffer
	dev := mail.NewDev(slog.New(slog.NewTextHandler(&logs, nil)), 10)
	require.NoError(t, dev.Send(t.Context(), resetMessage("secret@example.com", "your link", "https://app.example/reset-password?token=SECRETTOKEN")))
	url := devServer(t, dev, "tcp4")
	status, _, _ := get(t, url, "evil.example", nil)
	require.Equal(t, http.StatusNotFound, status)
	require.Contains(t, logs.String(), "dev mailbox refused a request")
	require.Contains(t, logs.String(), "Host header")
	require.NotContains(t, logs.String(), "SECRETTOKEN")
}

func ExampleDev_Handler() {
	dev := mail.NewDev(slog.New(slog.DiscardHandler), 100)
	mux := http.NewServeMux()
	mux.Handle("GET /dev/mail", dev.Handler()) // only on a development server
	srv := httptest.NewServer(mux)             // listens on 127.0.0.1
	defer srv.Close()

	_ = dev.Send(context.Background(), mail.Message{
		From: "no-reply@app.example", To: "marcelina.davis@example.com",
		Subject: "Reset your password", Text: "Open https://app.example/reset-password?token=abc",
	})

	res, err := http.Get(srv.URL + "/dev/mail")
	if err != nil {
		panic(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, strings.Contains(string(page), `<a href="https://app.example/reset-password?token=abc"`))

	// Through a proxy, even one on this machine, the mailbox is not there.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/dev/mail", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	res.Body.Close()
	fmt.Println(res.StatusCode)
	// Output:
	// 200 true
	// 404
}
