// Package testsmtp runs a real SMTP server (github.com/emersion/go-smtp)
// on loopback for a test, and reads the text of the messages it receives.
package testsmtp

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Serve starts an SMTP server with backend on a loopback port, closed when
// tb ends, and returns its address. It answers as "localhost", logs
// nothing, and gives up on a client silent for timeout.
func Serve(tb testing.TB, backend smtp.Backend, timeout time.Duration) string {
	tb.Helper()
	srv := smtp.NewServer(backend)
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout, srv.WriteTimeout = timeout, timeout
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// PlainText returns the decoded text/plain body of a message (the message
// itself, or its first text/plain part) and the message's header.
func PlainText(raw []byte) (string, netmail.Header, error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return "", nil, err
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return "", nil, err
	}
	if !strings.HasPrefix(mediaType, "multipart/") {
		b, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
		return string(b), msg.Header, err
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err != nil {
			return "", nil, fmt.Errorf("no text/plain part: %w", err)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			b, err := io.ReadAll(quotedprintable.NewReader(p))
			return string(b), msg.Header, err
		}
	}
}
