package mail_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/mail"
)

func TestMessageBytesMultipart(t *testing.T) {
	m := testMessage()
	raw, err := m.Bytes()
	require.NoError(t, err)
	p := parseMessage(t, raw)
	require.Equal(t, m.Subject, p.Subject)
	require.Equal(t, m.Text, p.Text)
	require.Equal(t, m.HTML, p.HTML)
	require.Contains(t, p.Header.Get("Content-Type"), "multipart/alternative")

	date, err := p.Header.Date()
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), date, time.Minute)
	require.Regexp(t, `^<[^@<>\s]+@app\.example>$`, p.Header.Get("Message-ID"))

	for line := range strings.SplitSeq(string(raw), "\r\n") {
		require.NotContains(t, line, "\n", "every line ends with CRLF")
		require.LessOrEqual(t, len(line), 998, "RFC 5322 line length limit")
	}
	require.True(t, bytes.HasSuffix(raw, []byte("\r\n")))
}

func TestMessageBytesSinglePart(t *testing.T) {
	t.Run("text", func(t *testing.T) {
		m := mail.Message{From: "a@example.com", To: "b@example.com", Subject: "Plain", Text: "no line break at the end"}
		raw, err := m.Bytes()
		require.NoError(t, err)
		p := parseMessage(t, raw)
		require.Equal(t, "Plain", p.Subject)
		require.Equal(t, m.Text, p.Text)
		require.Empty(t, p.HTML)
		require.True(t, bytes.HasSuffix(raw, []byte("\r\n")))
	})
	t.Run("html", func(t *testing.T) {
		m := mail.Message{From: "a@example.com", To: "b@example.com", HTML: "<p>é</p>\n"}
		raw, err := m.Bytes()
		require.NoError(t, err)
		p := parseMessage(t, raw)
		require.Equal(t, m.HTML, p.HTML)
		require.Empty(t, p.Text)
		require.Empty(t, p.Subject)
	})
}

func TestMessageBytesHeaders(t *testing.T) {
	long := strings.Repeat("Please reset your password now ", 10)
	m := mail.Message{
		From:    "Zoë Support <support@example.com>",
		To:      "Marcelina Davis <marcelina.davis@example.com>",
		Subject: long,
		Text:    "x",
		Headers: map[string]string{
			"Reply-To":         "help@example.com",
			"List-Unsubscribe": "<https://app.example/unsubscribe>",
			"X-Description":    "réinitialisation",
		},
	}
	raw, err := m.Bytes()
	require.NoError(t, err)
	p := parseMessage(t, raw)

	require.Equal(t, strings.TrimSpace(long), p.Subject, "a folded subject unfolds to the original")
	header, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	for line := range strings.SplitSeq(string(header), "\r\n") {
		require.LessOrEqual(t, len(line), 78, "header lines are folded: %q", line)
	}

	from, err := p.Header.AddressList("From")
	require.NoError(t, err)
	require.Equal(t, "Zoë Support", from[0].Name)
	to, err := p.Header.AddressList("To")
	require.NoError(t, err)
	require.Equal(t, "Marcelina Davis", to[0].Name)
	require.Equal(t, "marcelina.davis@example.com", to[0].Address)
	require.Equal(t, "help@example.com", p.Header.Get("Reply-To"))
	require.Equal(t, "<https://app.example/unsubscribe>", p.Header.Get("List-Unsubscribe"))
	require.Contains(t, string(raw), "X-Description: =?utf-8?q?r=C3=A9initialisation?=\r\n")
}

func TestMessageValidate(t *testing.T) {
	valid := func() mail.Message {
		return mail.Message{From: "a@example.com", To: "b@example.com", Subject: "s", Text: "t"}
	}
	require.NoError(t, valid().Validate())

	tests := map[string]func(m *mail.Message){
		"no from":                    func(m *mail.Message) { m.From = "" },
		"no to":                      func(m *mail.Message) { m.To = "" },
		"malformed to":               func(m *mail.Message) { m.To = "not an address" },
		"two recipients":             func(m *mail.Message) { m.To = "b@example.com, c@example.com" },
		"no body":                    func(m *mail.Message) { m.Text = "" },
		"CRLF in subject":            func(m *mail.Message) { m.Subject = "Hi\r\nBcc: victim@example.com" },
		"LF in subject":              func(m *mail.Message) { m.Subject = "Hi\nBcc: victim@example.com" },
		"CR in subject":              func(m *mail.Message) { m.Subject = "Hi\rBcc: victim@example.com" },
		"NUL in subject":             func(m *mail.Message) { m.Subject = "Hi\x00" },
		"CRLF in to":                 func(m *mail.Message) { m.To = "b@example.com\r\nBcc: victim@example.com" },
		"CRLF in from":               func(m *mail.Message) { m.From = "a@example.com\r\nBcc: victim@example.com" },
		"LF in display name":         func(m *mail.Message) { m.To = "\"B\nBcc: victim@example.com\" <b@example.com>" },
		"CRLF in header value":       func(m *mail.Message) { m.Headers = map[string]string{"X-Tag": "a\r\nBcc: victim@example.com"} },
		"CRLF in header name":        func(m *mail.Message) { m.Headers = map[string]string{"X-Tag\r\nBcc": "victim@example.com"} },
		"colon in header name":       func(m *mail.Message) { m.Headers = map[string]string{"Bcc: victim@example.com\r\nX": "y"} },
		"space in header name":       func(m *mail.Message) { m.Headers = map[string]string{"X Tag": "y"} },
		"empty header name":          func(m *mail.Message) { m.Headers = map[string]string{"": "y"} },
		"reserved header":            func(m *mail.Message) { m.Headers = map[string]string{"bcc": "victim@example.com"} },
		"reserved header, any case":  func(m *mail.Message) { m.Headers = map[string]string{"CONTENT-TYPE": "text/plain"} },
		"header twice, in two cases": func(m *mail.Message) { m.Headers = map[string]string{"X-Tag": "a", "x-tag": "b"} },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			m := valid()
			mutate(&m)
			require.ErrorIs(t, m.Validate(), mail.ErrInvalidMessage)
			raw, err := m.Bytes()
			require.ErrorIs(t, err, mail.ErrInvalidMessage)
			require.Nil(t, raw)
		})
	}
}

// TestInvalidMessageIsPermanent: a message that cannot be sent as it is
// will not be sent by trying again, so an outbox gives it up at once.
func TestInvalidMessageIsPermanent(t *testing.T) {
	err := mail.NewDev(slog.New(slog.DiscardHandler), 1).Send(t.Context(), mail.Message{From: "a@example.com", To: "b@example.com", Subject: "no body"})
	require.ErrorIs(t, err, mail.ErrInvalidMessage)
	require.ErrorIs(t, err, mail.ErrPermanent)
	require.NotErrorIs(t, errors.New("timeout"), mail.ErrPermanent)
}

// TestMessageIDGiven: a message given a MessageID carries it, the same in
// every rendering, so that a mail reader folds a repeat; one without gets a
// new random id each time.
func TestMessageIDGiven(t *testing.T) {
	m := testMessage()
	m.MessageID = "job_01JH5C1R3Q4W8D7X2M9N6P0KTF@app.example"
	for range 2 {
		raw, err := m.Bytes()
		require.NoError(t, err)
		require.Equal(t, "<job_01JH5C1R3Q4W8D7X2M9N6P0KTF@app.example>", parseMessage(t, raw).Header.Get("Message-ID"))
	}
	m.MessageID = ""
	a, err := m.Bytes()
	require.NoError(t, err)
	b, err := m.Bytes()
	require.NoError(t, err)
	require.NotEqual(t, parseMessage(t, a).Header.Get("Message-ID"), parseMessage(t, b).Header.Get("Message-ID"))
}

func TestMessageIDRefused(t *testing.T) {
	for _, id := range []string{
		"no-at-sign", "@app.example", "job_1@", "a@b@c", "job 1@app.example", "<job_1@app.example>",
		"job_1@app.example\r\nBcc: x@example.com", "job..1@app.example", ".job@app.example", "job@app.example.",
		"jöb@app.example", "job\x00@app.example", strings.Repeat("a", 250) + "@app.example",
	} {
		m := testMessage()
		m.MessageID = id
		_, err := m.Bytes()
		require.ErrorIs(t, err, mail.ErrInvalidMessage, "%q", id)
		require.ErrorIs(t, m.Validate(), mail.ErrInvalidMessage, "%q", id)
	}
}

// TestMessageDate: the Date header is the message's Date, written in UTC
// whatever its zone, and now, in UTC, when it has none.
func TestMessageDate(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	m := testMessage()
	m.Date = time.Date(2026, 11, 30, 13, 45, 7, 0, paris)
	raw, err := m.Bytes()
	require.NoError(t, err)
	p := parseMessage(t, raw)
	require.Equal(t, "Mon, 30 Nov 2026 12:45:07 +0000", p.Header.Get("Date"))

	m.Date = time.Time{}
	raw, err = m.Bytes()
	require.NoError(t, err)
	p = parseMessage(t, raw)
	require.True(t, strings.HasSuffix(p.Header.Get("Date"), " +0000"), p.Header.Get("Date"))
}

// TestInvalidAddressErrorHoldsNoAddress: the error for a malformed
// recipient, which an outbox may keep, does not repeat the address.
func TestInvalidAddressErrorHoldsNoAddress(t *testing.T) {
	m := testMessage()
	m.To = "marcelina.davis(at)example.com"
	err := m.Validate()
	require.ErrorIs(t, err, mail.ErrInvalidMessage)
	require.NotContains(t, err.Error(), "marcelina")
}
