package reset

import (
	"strings"

	"github.com/passreset/passreset/mail"
)

// The default emails, written out in Go: each function returns, byte for
// byte, what the same email of DefaultEmails renders (render_bench_test.go
// checks it), without the reflection of template execution, which was the
// most of the module's own work on the hot paths. NewService uses them
// when Config.Emails leaves an email's three templates all unset.

// renderDefaultReset renders DefaultEmails().Reset.
func renderDefaultReset(from string, d EmailData) (mail.Message, error) {
	name, htmlName := "", ""
	if d.Name != "" {
		name, htmlName = " "+d.Name, " "+escapeHTML(d.Name)
	}
	app, email, in := escapeHTML(d.AppName), escapeHTML(d.Email), escapeHTML(d.ExpiresIn)
	return mail.Message{
		To:      d.Email,
		From:    from,
		Subject: strings.TrimSpace("Reset your " + d.AppName + " password"),
		Text: "Hello" + name + ",\n\n" +
			"Someone asked to reset the password of the " + d.AppName + " account for " + d.Email + ".\n" +
			"To choose a new password, open this link within " + d.ExpiresIn + ":\n\n" +
			d.URL + "\n\n" +
			"The link works once. If you did not ask for this, ignore this email:\n" +
			"your password stays as it is.\n",
		HTML: "<!doctype html>\n" +
			`<html><body style="font-family:sans-serif;line-height:1.5">` + "\n" +
			"<p>Hello" + htmlName + ",</p>\n" +
			"<p>Someone asked to reset the password of the " + app + " account for " + email + ".\n" +
			"To choose a new password, open this link within " + in + ":</p>\n" +
			`<p><a href="` + escapeHTML(normalizeURL(filterURL(d.URL))) + `">Choose a new password</a></p>` + "\n" +
			`<p style="color:#555">The link works once. If you did not ask for this, ignore this email: your password stays as it is.</p>` + "\n" +
			"</body></html>\n",
	}, nil
}

// renderDefaultPasswordChanged renders DefaultEmails().PasswordChanged.
func renderDefaultPasswordChanged(from string, d EmailData) (mail.Message, error) {
	name, htmlName := "", ""
	if d.Name != "" {
		name, htmlName = " "+d.Name, " "+escapeHTML(d.Name)
	}
	at := d.Time.Format("2006-01-02 15:04 MST")
	return mail.Message{
		To:      d.Email,
		From:    from,
		Subject: strings.TrimSpace("Your " + d.AppName + " password was changed"),
		Text: "Hello" + name + ",\n\n" +
			"The password of the " + d.AppName + " account for " + d.Email + " was changed at\n" +
			at + ", and every device signed in to it was signed out.\n\n" +
			"If this was not you, reset your password at once and contact us.\n",
		HTML: "<!doctype html>\n" +
			`<html><body style="font-family:sans-serif;line-height:1.5">` + "\n" +
			"<p>Hello" + htmlName + ",</p>\n" +
			"<p>The password of the " + escapeHTML(d.AppName) + " account for " + escapeHTML(d.Email) + " was changed at\n" +
			escapeHTML(at) + ", and every device signed in to it was signed out.</p>\n" +
			"<p>If this was not you, reset your password at once and contact us.</p>\n" +
			"</body></html>\n",
	}, nil
}

// escapeHTML escapes s as html/template escapes a plain string in text and
// in a quoted attribute value.
func escapeHTML(s string) string {
	var b strings.Builder
	written := 0
	for i := 0; i < len(s); i++ {
		var repl string
		switch s[i] {
		case 0:
			repl = "\uFFFD"
		case '"':
			repl = "&#34;"
		case '&':
			repl = "&amp;"
		case '\'':
			repl = "&#39;"
		case '+':
			repl = "&#43;"
		case '<':
			repl = "&lt;"
		case '>':
			repl = "&gt;"
		default:
			continue
		}
		if written == 0 {
			b.Grow(len(s) + 16)
		}
		b.WriteString(s[written:i])
		b.WriteString(repl)
		written = i + 1
	}
	if written == 0 {
		return s
	}
	b.WriteString(s[written:])
	return b.String()
}

// filterURL is html/template's filter of a URL that begins an attribute:
// one whose scheme is not http, https or mailto is replaced by a harmless
// fragment.
func filterURL(s string) string {
	if scheme, _, ok := strings.Cut(s, ":"); ok && !strings.Contains(scheme, "/") &&
		!strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https") && !strings.EqualFold(scheme, "mailto") {
		return "#ZgotmplZ"
	}
	return s
}

// normalizeURL percent-encodes, as html/template's URL normaliser does,
// every byte of s that is neither unreserved, nor reserved, nor the '%' of
// a valid escape.
func normalizeURL(s string) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	written := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("!#$&*+,/:;=?@[]-._~", c) >= 0:
			continue
		case c == '%' && i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]):
			continue
		}
		if written == 0 {
			b.Grow(len(s) + 16)
		}
		b.WriteString(s[written:i])
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
		written = i + 1
	}
	if written == 0 {
		return s
	}
	b.WriteString(s[written:])
	return b.String()
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
