package reset

import (
	"testing"
	"time"
	"unicode/utf8"

	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/store"
)

// The default emails are rendered by Go code (defaultemails.go) rather
// than by executing DefaultEmails' templates; these tests hold the two to
// the same bytes.

var renderCases = []EmailData{
	{AppName: "app.example", Email: "marcelina.davis@example.com", Name: "Marcelina Davis",
		URL:       "https://app.example/reset-password?token=Z1uX3RbwcIl5fIGJJJCXXisdIZ1uX3RbwcIl5fIGJJJC",
		ExpiresIn: "15 minutes", Time: time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)},
	{AppName: "", Email: "", Name: "", URL: "", ExpiresIn: "", Time: time.Time{}},
	{AppName: `Tom & Jerry's <App> "quoted" +1`, Email: "o'brien+tag@example.com", Name: "Zoë \x00 <script>alert('x')</script>",
		URL:       `https://app.example/r?a=1&b=<x>&c="y"&d='z'&e=%41%4&f=%zz&g=caf\u00e9 space#frag`,
		ExpiresIn: "1 hour", Time: time.Date(2026, 7, 1, 8, 30, 0, 0, time.FixedZone("", 5*3600+1800))},
	{AppName: "x", Email: "x@example.com", URL: "javascript:alert(1)", ExpiresIn: "90 seconds",
		Time: time.Date(2026, 3, 1, 0, 0, 0, 0, time.FixedZone("CET", 3600))},
	{AppName: "x", URL: "HTTPS://Example.com/%E2%9C%93?x=[1]&y=(2)~!*$,;:@/", Name: "\xff\xfe invalid UTF-8"},
	{URL: "/relative/path:with-colon?q=1"},
	{URL: "mailto:someone@example.com"},
	{URL: "data:text/html;base64,PHNjcmlwdD4="},
	{URL: "\x00\x01\x7f\x80 \t\n"},
}

func checkDefaultRender(t *testing.T, d EmailData) {
	t.Helper()
	def := DefaultEmails()
	for _, c := range []struct {
		name string
		tmpl EmailTemplate
		fast func(string, EmailData) (mail.Message, error)
	}{
		{"Reset", def.Reset, renderDefaultReset},
		{"PasswordChanged", def.PasswordChanged, renderDefaultPasswordChanged},
	} {
		want, err := c.tmpl.render("no-reply@app.example", d)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.fast("no-reply@app.example", d)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []struct{ name, got, want string }{
			{"To", got.To, want.To}, {"From", got.From, want.From}, {"Subject", got.Subject, want.Subject},
			{"Text", got.Text, want.Text}, {"HTML", got.HTML, want.HTML},
		} {
			if f.got != f.want {
				t.Errorf("%s %s for %+q:\n got %q\nwant %q", c.name, f.name, d, f.got, f.want)
			}
		}
		if got.Headers != nil {
			t.Errorf("%s: headers %v", c.name, got.Headers)
		}
	}
}

func TestDefaultEmailsRenderAsTheirTemplates(t *testing.T) {
	for _, d := range renderCases {
		checkDefaultRender(t, d)
	}
}

func FuzzDefaultEmailsRenderAsTheirTemplates(f *testing.F) {
	for _, d := range renderCases {
		f.Add(d.AppName, d.Email, d.Name, d.URL, d.ExpiresIn, d.Time.Unix())
	}
	f.Fuzz(func(t *testing.T, app, email, name, url, in string, at int64) {
		if !utf8.ValidString(app + email + name + url + in) {
			// Templates and Go code alike pass invalid bytes through; the
			// table above covers them. Valid text keeps failures readable.
			t.Skip()
		}
		checkDefaultRender(t, EmailData{AppName: app, Email: email, Name: name, URL: url, ExpiresIn: in,
			Time: time.Unix(at%(1<<40), 0).UTC()})
	})
}

// TestNewServiceRendersDefaultsInGo: the Go renderers serve exactly the
// emails whose templates Config leaves unset.
func TestNewServiceRendersDefaultsInGo(t *testing.T) {
	custom := DefaultEmails().Reset
	custom.Subject = nil // one field set is enough to keep the templates
	custom.Text = DefaultEmails().Reset.Text
	svc, err := NewService(Config{Store: nopStore{}, Mailer: nopMailer{}, ResetURL: "https://app.example/r",
		Emails: Emails{Reset: custom}})
	if err != nil {
		t.Fatal(err)
	}
	d := renderCases[0]
	got, _ := svc.renderReset("f@example.com", d)
	want, _ := svc.emails.Reset.render("f@example.com", d)
	if got.Subject != want.Subject || got.Text != want.Text || got.HTML != want.HTML {
		t.Error("a configured reset email is not rendered by its templates")
	}
	if svc.renderNotice == nil {
		t.Fatal("no notice renderer")
	}
	got, _ = svc.renderNotice("f@example.com", d)
	want, _ = renderDefaultPasswordChanged("f@example.com", d)
	if got.HTML != want.HTML || got.Text != want.Text {
		t.Error("the default notice is not rendered in Go")
	}
}

// nopStore and nopMailer satisfy NewService's checks; the test calls
// neither.
type (
	nopStore  struct{ store.Store }
	nopMailer struct{ Mailer }
)

func BenchmarkRenderResetEmail(b *testing.B) {
	d := renderCases[0]
	b.Run("templates", func(b *testing.B) {
		t := DefaultEmails().Reset
		b.ReportAllocs()
		for b.Loop() {
			if _, err := t.render("no-reply@app.example", d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := renderDefaultReset("no-reply@app.example", d); err != nil {
				b.Fatal(err)
			}
		}
	})
}
