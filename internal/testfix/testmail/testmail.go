// Package testmail holds what the tests of the mailers that keep what
// they send (mail.Dev, mailtest.Recorder) share: a numbered message to
// send, and the checks of the promises both make about what they keep.
// Only tests import it.
package testmail

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/passreset/passreset/mail"
)

// Mailbox is a mail.Mailer that keeps what it sends and shows it, as
// mail.Dev and mailtest.Recorder do.
type Mailbox interface {
	Send(ctx context.Context, m mail.Message) error
	Messages() []mail.Message
}

// Numbered returns a valid message numbered i: to user<i>@example.com,
// with the subject "message <i>".
func Numbered(i int) mail.Message {
	return mail.Message{
		From:    "noreply@app.example",
		To:      fmt.Sprintf("user%d@example.com", i),
		Subject: fmt.Sprintf("message %d", i),
		Text:    "body",
	}
}

// Rejects checks that box, empty, refuses a message with a line break in
// its subject with mail.ErrInvalidMessage and a message sent with a
// cancelled context with context.Canceled, and keeps neither.
func Rejects(t testing.TB, box Mailbox) {
	t.Helper()
	m := Numbered(1)
	m.Subject = "Hi\r\nBcc: victim@example.com"
	if err := box.Send(t.Context(), m); !errors.Is(err, mail.ErrInvalidMessage) {
		t.Errorf("a header injection: got %v, want mail.ErrInvalidMessage", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := box.Send(ctx, Numbered(2)); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled context: got %v, want context.Canceled", err)
	}
	if msgs := box.Messages(); len(msgs) != 0 {
		t.Errorf("kept %d refused messages", len(msgs))
	}
}

// KeepsCopies checks that box, empty, keeps a copy of what it is sent
// and shows copies of what it keeps: neither a change to the message
// after Send nor a change to what Messages returned changes what it
// keeps. The one message it sends carries the header "X-Tag: original",
// so that a test can check the other ways its Mailbox shows messages.
func KeepsCopies(t testing.TB, box Mailbox) {
	t.Helper()
	m := Numbered(1)
	m.Headers = map[string]string{"X-Tag": "original"}
	if err := box.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	m.Headers["X-Tag"] = "changed by the sender"
	got := box.Messages()
	if len(got) != 1 || got[0].Headers["X-Tag"] != "original" {
		t.Fatalf("after the sender changed its message, the box shows %+v", got)
	}
	got[0].Headers["X-Tag"] = "changed by the reader"
	if v := box.Messages()[0].Headers["X-Tag"]; v != "original" {
		t.Errorf("after a reader changed what Messages returned, the box keeps X-Tag: %q", v)
	}
}
