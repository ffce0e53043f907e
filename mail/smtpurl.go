package mail

import (
	"errors"
	"fmt"
	"net"
	"net/url"
)

// ParseSMTPURL reads an SMTP transport from a URL, as an environment
// variable holds it beside a database URL:
//
//	smtp://user:password@smtp.example.com:587     STARTTLS; port 587 if none
//	smtps://user:password@smtp.example.com:465    TLS from the first byte; port 465 if none
//	smtp+insecure://localhost:1025                no TLS, for a development server such as Mailpit
//
// The user and password are percent-decoded; without them the transport
// does not authenticate. A path, a query or a fragment is an error. The
// error never quotes the URL, which holds a password.
func ParseSMTPURL(raw string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("mail: the SMTP URL does not parse; write it as smtp://user:password@host:587 (percent-encode special characters)")
	}
	s := &SMTP{}
	port := "587"
	switch u.Scheme {
	case "smtp":
	case "smtps":
		s.TLSMode, port = ImplicitTLS, "465"
	case "smtp+insecure":
		s.TLSMode, port = Insecure, "25"
	default:
		return nil, fmt.Errorf("mail: the SMTP URL's scheme is %q; want smtp, smtps or smtp+insecure", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, errors.New("mail: the SMTP URL has no host; write it as smtp://user:password@host:587")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, errors.New("mail: the SMTP URL has a path, query or fragment; it takes only user, password, host and port")
	}
	if u.Port() != "" {
		port = u.Port()
	}
	s.Addr = net.JoinHostPort(u.Hostname(), port)
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
	}
	return s, nil
}
