package reset

import (
	"bytes"
	htmltemplate "html/template"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/passreset/passreset/mail"
)

// Emails renders the emails a Service sends. Each nil field falls back to
// the same field of DefaultEmails.
type Emails struct {
	// Reset is the email with the reset link.
	Reset EmailTemplate
	// PasswordChanged is the notice sent after a successful reset.
	PasswordChanged EmailTemplate
}

// EmailTemplate is one email: its subject and text body are text/templates,
// its HTML body an html/template, all executed with an EmailData.
type EmailTemplate struct {
	Subject *texttemplate.Template
	Text    *texttemplate.Template
	HTML    *htmltemplate.Template
}

// EmailData is what the templates see. URL and Code are set only in the
// reset email, KeptDevice only in the notice.
type EmailData struct {
	AppName       string
	Email         string    // the recipient
	Name          string    // the user's name, "" when unknown
	URL           string    // the reset link, with the token
	Code          string    // the reset code, as FormatCode writes it ("1234 5678")
	CodeExpiresIn string    // the code's lifetime in words, e.g. "10 minutes"
	ExpiresAt     time.Time // when the link stops working
	ExpiresIn     string    // the TTL in words, e.g. "15 minutes"
	Time          time.Time // when the email was made
	// KeptDevice says the password was changed by a signed-in user
	// (ChangePassword), whose device stays signed in.
	KeptDevice bool
}

// DefaultEmails returns the built-in templates.
func DefaultEmails() Emails {
	return Emails{
		Reset: EmailTemplate{
			Subject: texttemplate.Must(texttemplate.New("subject").Parse(`Reset your {{.AppName}} password`)),
			Text: texttemplate.Must(texttemplate.New("text").Parse(`Hello{{with .Name}} {{.}}{{end}},

Someone asked to reset the password of the {{.AppName}} account for {{.Email}}.
To choose a new password, open this link within {{.ExpiresIn}}:

{{.URL}}
{{with .Code}}
Or, on the page where you asked, enter this code within {{$.CodeExpiresIn}}:

    {{.}}
{{end}}
The link works once, and so does the code: using one uses up both. If you
did not ask for this, ignore this email: your password stays as it is.
`)),
			HTML: htmltemplate.Must(htmltemplate.New("html").Parse(`<!doctype html>
<html><body style="font-family:sans-serif;line-height:1.5">
<p>Hello{{with .Name}} {{.}}{{end}},</p>
<p>Someone asked to reset the password of the {{.AppName}} account for {{.Email}}.
To choose a new password, open this link within {{.ExpiresIn}}:</p>
<p><a href="{{.URL}}">Choose a new password</a></p>
{{with .Code}}<p>Or, on the page where you asked, enter this code within {{$.CodeExpiresIn}}:</p>
<p style="font-size:1.5em;font-family:monospace;letter-spacing:.1em">{{.}}</p>
{{end}}<p style="color:#555">The link works once, and so does the code: using one uses up both. If you did not ask for this, ignore this email: your password stays as it is.</p>
</body></html>
`)),
		},
		PasswordChanged: EmailTemplate{
			Subject: texttemplate.Must(texttemplate.New("subject").Parse(`Your {{.AppName}} password was changed`)),
			Text: texttemplate.Must(texttemplate.New("text").Parse(`Hello{{with .Name}} {{.}}{{end}},

The password of the {{.AppName}} account for {{.Email}} was changed at
{{.Time.Format "2006-01-02 15:04 MST"}}, and every device signed in to it{{if .KeptDevice}}, but the one
that changed it,{{end}} was signed out.

If this was not you, reset your password at once and contact us.
`)),
			HTML: htmltemplate.Must(htmltemplate.New("html").Parse(`<!doctype html>
<html><body style="font-family:sans-serif;line-height:1.5">
<p>Hello{{with .Name}} {{.}}{{end}},</p>
<p>The password of the {{.AppName}} account for {{.Email}} was changed at
{{.Time.Format "2006-01-02 15:04 MST"}}, and every device signed in to it{{if .KeptDevice}}, but the one that changed it,{{end}} was signed out.</p>
<p>If this was not you, reset your password at once and contact us.</p>
</body></html>
`)),
		},
	}
}

func (t EmailTemplate) withDefaults(d EmailTemplate) EmailTemplate {
	if t.Subject == nil {
		t.Subject = d.Subject
	}
	if t.Text == nil {
		t.Text = d.Text
	}
	if t.HTML == nil {
		t.HTML = d.HTML
	}
	return t
}

// render executes the three templates into a message to data.Email.
func (t EmailTemplate) render(from string, data EmailData) (mail.Message, error) {
	return t.renderInto(new(bytes.Buffer), from, data)
}

// renderInto is render with buf, empty, as its scratch space: the three
// parts are written one after the other into it, and the message's
// strings are cut from one copy of it. data is boxed once for the three.
func (t EmailTemplate) renderInto(buf *bytes.Buffer, from string, data EmailData) (mail.Message, error) {
	d := any(data)
	if err := t.Subject.Execute(buf, d); err != nil {
		return mail.Message{}, err
	}
	subjectEnd := buf.Len()
	if err := t.Text.Execute(buf, d); err != nil {
		return mail.Message{}, err
	}
	textEnd := buf.Len()
	if err := t.HTML.Execute(buf, d); err != nil {
		return mail.Message{}, err
	}
	all := buf.String()
	return mail.Message{
		To:      data.Email,
		From:    from,
		Subject: strings.TrimSpace(all[:subjectEnd]),
		Text:    all[subjectEnd:textEnd],
		HTML:    all[textEnd:],
	}, nil
}

// render renders t through one of the Service's scratch buffers.
func (s *Service) render(t EmailTemplate, from string, data EmailData) (mail.Message, error) {
	buf := s.renderBufs.get()
	defer s.renderBufs.put(buf)
	return t.renderInto(buf, from, data)
}

// humanDuration writes d in words: "15 minutes", "1 hour", "90 seconds".
func humanDuration(d time.Duration) string {
	n, word := int64(d.Round(time.Second)/time.Second), "second"
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		n, word = int64(d/time.Hour), "hour"
	case d >= time.Minute && d%time.Minute == 0:
		n, word = int64(d/time.Minute), "minute"
	}
	if n != 1 {
		word += "s"
	}
	return strconv.FormatInt(n, 10) + " " + word
}
