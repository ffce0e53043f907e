// Package mail holds the email a password-reset flow sends and the
// transports that deliver it.
//
// A [Message] is one email to one recipient: addresses, a subject, a
// plain-text body, an HTML body or both, and optional extra headers.
// [Message.Bytes] renders it as an RFC 5322 message (UTF-8,
// quoted-printable, multipart/alternative when it has both bodies) after
// [Message.Validate] has checked it; a header value that contains CR or LF
// is rejected, never sent.
//
// Two transports deliver messages. Each has a method
//
//	Send(ctx context.Context, m Message) error
//
// which is the shape of the Mailer interface that package reset declares:
//
//   - [SMTP] talks to a mail server: STARTTLS (the default), implicit TLS or,
//     for a development server on the local machine, plain text; AUTH PLAIN
//     when a username is set. A reply from the server comes back as an
//     [*SMTPError] that tells a temporary failure (4xx) from a permanent
//     one (5xx), and keeps the reply's code, never its text, which often
//     names the recipient ("smtp 550 permanent (5.1.1)").
//   - [Dev] is for development: it logs one line per message (recipient and
//     subject, never the body, which holds the reset link) and keeps the
//     latest messages in memory, where a development page can show them.
//
// Package mailtest provides a Recorder for tests.
//
// Neither transport logs or returns in an error a message body, a
// password or an address. Message.Date sets the Date header (written in
// UTC); package reset sets it from its clock, and marks every message
// "Auto-Submitted: auto-generated".
//
// # Permanent and temporary failures
//
// A failed Send is taken as temporary, worth trying again later (a server
// that cannot be reached, a timeout, a 4xx reply), unless its error
// matches [ErrPermanent] with errors.Is: then sending the same message
// again cannot succeed, and a sender such as package reset's outbox gives
// it up at once. An [*SMTPError] with a 5xx code matches it. A transport
// of one's own, such as a client of an HTTP email API, says "permanent"
// by wrapping ErrPermanent in its error:
//
//	if resp.StatusCode == http.StatusUnprocessableEntity { // the API refuses the address
//		return fmt.Errorf("%w: %s", mail.ErrPermanent, resp.Status)
//	}
package mail
