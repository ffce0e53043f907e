package mail

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"
	"time"
)

// ErrInvalidMessage is wrapped by every error that reports a Message that
// cannot be sent as it is: a missing or malformed address, no body, a
// header that is malformed, reserved, or would inject further headers.
// Sending such a message again will fail again, so it matches ErrPermanent
// too.
var ErrInvalidMessage error = &permanentError{"mail: invalid message"}

// permanentError is a sentinel that also matches ErrPermanent.
type permanentError struct{ msg string }

func (e *permanentError) Error() string        { return e.msg }
func (e *permanentError) Is(target error) bool { return target == ErrPermanent }

// ErrPermanent is matched, with errors.Is, by an error from Send that says
// sending the same message again cannot succeed: a recipient that does not
// exist, a sender the server refuses, a message rejected as spam. A sender
// of email, such as package reset's outbox, then gives the message up at
// once instead of retrying it; every other error is taken as temporary.
//
// Any transport can say so: wrap ErrPermanent in the error it returns, as
// in
//
//	return fmt.Errorf("%w: %w", mail.ErrPermanent, apiErr)
//
// or give its error type an Is method that reports it. An [*SMTPError]
// with a 5xx code matches ErrPermanent.
var ErrPermanent = errors.New("mail: permanent failure")

// A Message is an email to one recipient.
type Message struct {
	// From is the sender's address in a form net/mail.ParseAddress
	// accepts, such as "noreply@example.com" or
	// "Example <noreply@example.com>". It is required.
	From string

	// To is the recipient's address, in the same forms as From. It is
	// required.
	To string

	// Subject is the subject line. It may be empty; a non-ASCII subject is
	// encoded as RFC 2047 encoded-words.
	Subject string

	// Text is the plain-text body.
	Text string

	// HTML is the HTML body. At least one of Text and HTML must be set;
	// when both are, the message is multipart/alternative and mail
	// readers show the HTML.
	HTML string

	// MessageID is the message's Message-ID without its angle brackets,
	// such as "job_01JH5C1R3Q4W8D7X2M9N6P0KTF@app.example": a unique left
	// part, an "@", and a domain, each made of the characters of an
	// RFC 5322 dot-atom. Empty means a random one in the sender's domain.
	// Give a stable one to a message that may be sent more than once (an
	// outbox sends at least once: a crash between the server's acceptance
	// and the record of it sends again), so that mail readers that fold
	// messages by Message-ID show the repeat once.
	MessageID string `json:",omitempty"`

	// Date is the message's Date header, written in UTC. Zero means the
	// time of Bytes. A sender with its own clock (package reset's Service)
	// sets it.
	Date time.Time `json:",omitzero"`

	// Headers holds extra header fields, such as "Reply-To" or
	// "List-Unsubscribe", by name. A name must be a valid field name and
	// not one the message writes itself (From, To, Cc, Bcc, Subject, Date,
	// Message-ID, MIME-Version, Content-Type, Content-Transfer-Encoding),
	// compared without regard to case. A value must not contain CR, LF or
	// other control characters but tab; a non-ASCII value is encoded as a
	// whole, as is right for unstructured fields such as a description.
	Headers map[string]string
}

// reserved reports whether name, in lower case, is a header field that a
// Message writes itself or that would not match the envelope.
func reserved(name string) bool {
	switch name {
	case "bcc", "cc", "content-transfer-encoding", "content-type", "date",
		"from", "message-id", "mime-version", "subject", "to":
		return true
	}
	return false
}

// Validate reports whether m can be sent. Every error it returns wraps
// [ErrInvalidMessage]. The transports call it before sending.
func (m Message) Validate() error {
	_, _, err := m.addresses()
	return err
}

// addresses validates m and returns its parsed sender and recipient.
func (m Message) addresses() (from, to *mail.Address, err error) {
	if from, err = parseAddress("From", m.From); err != nil {
		return nil, nil, err
	}
	if to, err = parseAddress("To", m.To); err != nil {
		return nil, nil, err
	}
	if err := checkValue("Subject", m.Subject); err != nil {
		return nil, nil, err
	}
	if m.MessageID != "" && !validMessageID(m.MessageID) {
		return nil, nil, fmt.Errorf("%w: MessageID %q is not left@right made of dot-atom characters", ErrInvalidMessage, m.MessageID)
	}
	if m.Text == "" && m.HTML == "" {
		return nil, nil, fmt.Errorf("%w: no body: set Text, HTML or both", ErrInvalidMessage)
	}
	seen := make(map[string]bool, len(m.Headers))
	for name, value := range m.Headers {
		if !validFieldName(name) {
			return nil, nil, fmt.Errorf("%w: header name %q is not a valid field name", ErrInvalidMessage, name)
		}
		lower := strings.ToLower(name)
		if reserved(lower) {
			return nil, nil, fmt.Errorf("%w: header %s is set by the message itself", ErrInvalidMessage, name)
		}
		if seen[lower] {
			return nil, nil, fmt.Errorf("%w: header %s is given twice", ErrInvalidMessage, name)
		}
		seen[lower] = true
		if err := checkValue(name, value); err != nil {
			return nil, nil, err
		}
	}
	return from, to, nil
}

func parseAddress(field, s string) (*mail.Address, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: %s is empty", ErrInvalidMessage, field)
	}
	if err := checkValue(field, s); err != nil {
		return nil, err
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		// Not the address itself: the error may be kept in an outbox.
		return nil, fmt.Errorf("%w: %s is not an address: %v", ErrInvalidMessage, field, err)
	}
	return a, nil
}

// checkValue rejects control characters other than tab: CR and LF above
// all, which would end the header and start another.
func checkValue(field, v string) error {
	for _, c := range []byte(v) {
		if c == '\r' || c == '\n' {
			return fmt.Errorf("%w: %s contains CR or LF", ErrInvalidMessage, field)
		}
		if (c < ' ' && c != '\t') || c == 0x7f {
			return fmt.Errorf("%w: %s contains a control character", ErrInvalidMessage, field)
		}
	}
	return nil
}

// validMessageID reports whether id is a dot-atom, an "@" and a dot-atom
// (RFC 5322's msg-id without the brackets, in its common form), within the
// length of a header line.
func validMessageID(id string) bool {
	left, right, ok := strings.Cut(id, "@")
	return ok && len(id) <= 250 && dotAtom(left) && dotAtom(right)
}

// dotAtom reports whether s is atoms of RFC 5322's atext joined by single
// dots.
func dotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validFieldName reports whether name is an RFC 5322 field name: printable
// ASCII other than colon.
func validFieldName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		if c <= ' ' || c > '~' || c == ':' {
			return false
		}
	}
	return true
}

// Bytes validates m and renders it as an RFC 5322 message with CRLF line
// endings, ready to be sent over SMTP. It adds the Date (m.Date, or now,
// in UTC), the
// Message-ID (MessageID, or a random one in the sender's domain) and
// MIME-Version. Bodies are UTF-8,
// quoted-printable; a message with both Text and HTML is
// multipart/alternative, the text part first.
func (m Message) Bytes() ([]byte, error) {
	from, to, err := m.addresses()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	writeHeader(&b, "From", from.String())
	writeHeader(&b, "To", to.String())
	writeHeader(&b, "Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	writeHeader(&b, "Date", date.UTC().Format(time.RFC1123Z))
	msgID := m.MessageID
	if msgID == "" {
		msgID = rand.Text() + "@" + domain
	}
	writeHeader(&b, "Message-ID", "<"+msgID+">")
	writeHeader(&b, "MIME-Version", "1.0")
	for _, name := range slices.Sorted(maps.Keys(m.Headers)) {
		writeHeader(&b, name, mime.QEncoding.Encode("utf-8", m.Headers[name]))
	}

	switch {
	case m.Text != "" && m.HTML != "":
		mw := multipart.NewWriter(&b)
		writeHeader(&b, "Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
		b.WriteString("\r\n")
		for _, p := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
			// Writing to a bytes.Buffer does not fail.
			w, _ := mw.CreatePart(textproto.MIMEHeader{
				"Content-Type":              {p.typ + "; charset=utf-8"},
				"Content-Transfer-Encoding": {"quoted-printable"},
			})
			w.Write(quotedPrintable(p.body))
		}
		mw.Close()
	case m.HTML != "":
		writeHeader(&b, "Content-Type", "text/html; charset=utf-8")
		writeHeader(&b, "Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		b.Write(quotedPrintable(m.HTML))
	default:
		writeHeader(&b, "Content-Type", "text/plain; charset=utf-8")
		writeHeader(&b, "Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		b.Write(quotedPrintable(m.Text))
	}
	return b.Bytes(), nil
}

// quotedPrintable encodes s, a text with line breaks of any kind, as
// quoted-printable with CRLF line breaks. When s does not end with a line
// break, the encoding ends with a soft one, so that it ends with CRLF and
// yet decodes to s.
func quotedPrintable(s string) []byte {
	var b bytes.Buffer
	qp := quotedprintable.NewWriter(&b)
	io.WriteString(qp, s) // writing to a bytes.Buffer does not fail
	qp.Close()
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("=\r\n")
	}
	return b.Bytes()
}

// writeHeader writes one header field, folded at spaces to keep lines
// within 78 characters where the value allows it.
func writeHeader(b *bytes.Buffer, name, value string) {
	const limit = 78
	b.WriteString(name)
	b.WriteString(":")
	n := len(name) + 1
	hasText := false // whether the current line holds a word of the value
	for i, word := range strings.Split(value, " ") {
		if i > 0 && word != "" && hasText && n+1+len(word) > limit {
			b.WriteString("\r\n")
			n, hasText = 0, false
		}
		b.WriteString(" ")
		b.WriteString(word)
		n += 1 + len(word)
		hasText = hasText || word != ""
	}
	b.WriteString("\r\n")
}
