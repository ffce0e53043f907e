package testsmtp_test

import (
	"io"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/passreset/passreset/internal/testfix/testsmtp"
)

type session struct{ got chan<- []byte }

func (session) AuthMechanisms() []string               { return nil }
func (session) Auth(string) (sasl.Server, error)       { return nil, gosmtp.ErrAuthUnsupported }
func (session) Mail(string, *gosmtp.MailOptions) error { return nil }
func (session) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (session) Reset()                                 {}
func (session) Logout() error                          { return nil }
func (s session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.got <- b
	return err
}

// TestServeAndPlainText: a message sent to the server arrives, and
// PlainText finds its text part and header.
func TestServeAndPlainText(t *testing.T) {
	got := make(chan []byte, 1)
	addr := testsmtp.Serve(t, gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) { return session{got}, nil }), 5*time.Second)
	msg := "From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative; boundary=XX\r\n\r\n" +
		"--XX\r\nContent-Type: text/html\r\n\r\n<p>no</p>\r\n" +
		"--XX\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 link\r\n--XX--\r\n"
	if err := smtp.SendMail(addr, nil, "a@example.com", []string{"b@example.com"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	text, hdr, err := testsmtp.PlainText(<-got)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(text) != "café link" || hdr.Get("Subject") != "hi" {
		t.Fatalf("text %q, subject %q", text, hdr.Get("Subject"))
	}
	if _, _, err := testsmtp.PlainText([]byte("Content-Type: multipart/mixed; boundary=Y\r\n\r\n--Y\r\nContent-Type: text/html\r\n\r\nx\r\n--Y--\r\n")); err == nil {
		t.Fatal("a message with no text part: want an error")
	}
}
