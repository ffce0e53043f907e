package reset

import (
	"strings"
	"testing"
	texttemplate "text/template"
	"time"

	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/store"
)

// The default emails render through the templates of DefaultEmails, as
// custom ones do: html/template does the escaping. These tests pin the
// bytes they render and the escaping the HTML bodies rely on.

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

// defaultService is a Service whose Config leaves the emails unset.
func defaultService(tb testing.TB, emails Emails) *Service {
	tb.Helper()
	svc, err := NewService(Config{Store: nopStore{}, Mailer: nopMailer{}, ResetURL: "https://app.example/r", Emails: emails})
	if err != nil {
		tb.Fatal(err)
	}
	return svc
}

// TestDefaultEmails pins, byte for byte, the two default emails of the
// common case: what the Service sent before it rendered them through
// their templates, and what it sends now.
func TestDefaultEmails(t *testing.T) {
	svc, d := defaultService(t, Emails{}), renderCases[0]
	got, err := svc.renderReset("no-reply@app.example", d)
	if err != nil {
		t.Fatal(err)
	}
	checkMessage(t, "Reset", got, mail.Message{
		To:      "marcelina.davis@example.com",
		From:    "no-reply@app.example",
		Subject: "Reset your app.example password",
		Text: `Hello Marcelina Davis,

Someone asked to reset the password of the app.example account for marcelina.davis@example.com.
To choose a new password, open this link within 15 minutes:

https://app.example/reset-password?token=Z1uX3RbwcIl5fIGJJJCXXisdIZ1uX3RbwcIl5fIGJJJC

The link works once, and so does the code: using one uses up both. If you
did not ask for this, ignore this email: your password stays as it is.
`,
		HTML: `<!doctype html>
<html><body style="font-family:sans-serif;line-height:1.5">
<p>Hello Marcelina Davis,</p>
<p>Someone asked to reset the password of the app.example account for marcelina.davis@example.com.
To choose a new password, open this link within 15 minutes:</p>
<p><a href="https://app.example/reset-password?token=Z1uX3RbwcIl5fIGJJJCXXisdIZ1uX3RbwcIl5fIGJJJC">Choose a new password</a></p>
<p style="color:#555">The link works once, and so does the code: using one uses up both. If you did not ask for this, ignore this email: your password stays as it is.</p>
</body></html>
`,
	})

	got, err = svc.renderNotice("no-reply@app.example", d)
	if err != nil {
		t.Fatal(err)
	}
	checkMessage(t, "PasswordChanged", got, mail.Message{
		To:      "marcelina.davis@example.com",
		From:    "no-reply@app.example",
		Subject: "Your app.example password was changed",
		Text: `Hello Marcelina Davis,

The password of the app.example account for marcelina.davis@example.com was changed at
2026-01-15 12:00 UTC, and every device signed in to it was signed out.

If this was not you, reset your password at once and contact us.
`,
		HTML: `<!doctype html>
<html><body style="font-family:sans-serif;line-height:1.5">
<p>Hello Marcelina Davis,</p>
<p>The password of the app.example account for marcelina.davis@example.com was changed at
2026-01-15 12:00 UTC, and every device signed in to it was signed out.</p>
<p>If this was not you, reset your password at once and contact us.</p>
</body></html>
`,
	})
}

func checkMessage(t *testing.T, name string, got, want mail.Message) {
	t.Helper()
	for _, f := range []struct{ name, got, want string }{
		{"To", got.To, want.To}, {"From", got.From, want.From}, {"Subject", got.Subject, want.Subject},
		{"Text", got.Text, want.Text}, {"HTML", got.HTML, want.HTML},
	} {
		if f.got != f.want {
			t.Errorf("%s %s:\n got %q\nwant %q", name, f.name, f.got, f.want)
		}
	}
	if got.Headers != nil {
		t.Errorf("%s: headers %v", name, got.Headers)
	}
}

// TestDefaultEmailsEscape checks that the HTML bodies escape what a user or
// a host puts in them, and that only an http(s), mailto or relative link
// becomes one, while the plain-text bodies carry the values as they are.
func TestDefaultEmailsEscape(t *testing.T) {
	svc := defaultService(t, Emails{})
	for _, tc := range []struct {
		d        EmailData
		html     []string // in the HTML body of both emails (href: the reset email's only)
		href     string
		notInAny string // in neither HTML body
	}{
		{
			d: renderCases[2],
			html: []string{
				"<p>Hello Zoë \uFFFD &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;,</p>",
				"Tom &amp; Jerry&#39;s &lt;App&gt; &#34;quoted&#34; &#43;1 account for o&#39;brien&#43;tag@example.com",
			},
			href:     `https://app.example/r?a=1&amp;b=%3cx%3e&amp;c=%22y%22&amp;d=%27z%27&amp;e=%41%254&amp;f=%25zz&amp;g=caf%5cu00e9%20space#frag`,
			notInAny: "<script>",
		},
		{d: renderCases[3], href: "#ZgotmplZ", notInAny: "javascript:"},
		{d: renderCases[4], href: "HTTPS://Example.com/%E2%9C%93?x=[1]&amp;y=%282%29~!*$,;:@/"},
		{d: renderCases[5], href: "/relative/path:with-colon?q=1"},
		{d: renderCases[6], href: "mailto:someone@example.com"},
		{d: renderCases[7], href: "#ZgotmplZ", notInAny: "data:"},
		{d: renderCases[8], href: "%00%01%7f%80%20%09%0a"},
	} {
		rst, err := svc.renderReset("no-reply@app.example", tc.d)
		if err != nil {
			t.Fatal(err)
		}
		notice, err := svc.renderNotice("no-reply@app.example", tc.d)
		if err != nil {
			t.Fatal(err)
		}
		if want := `<a href="` + tc.href + `">`; !strings.Contains(rst.HTML, want) {
			t.Errorf("reset email for %q: no %s in\n%s", tc.d.URL, want, rst.HTML)
		}
		if !strings.Contains(rst.Text, "\n\n"+tc.d.URL+"\n\n") {
			t.Errorf("reset email for %q: the text body does not carry the link as it is:\n%s", tc.d.URL, rst.Text)
		}
		for _, m := range []mail.Message{rst, notice} {
			for _, want := range tc.html {
				if !strings.Contains(m.HTML, want) {
					t.Errorf("%s: no %q in\n%s", m.Subject, want, m.HTML)
				}
			}
			if tc.notInAny != "" && strings.Contains(m.HTML, tc.notInAny) {
				t.Errorf("%s: %q in\n%s", m.Subject, tc.notInAny, m.HTML)
			}
			if tc.d.Name != "" && !strings.Contains(m.Text, "Hello "+tc.d.Name+",") {
				t.Errorf("%s: the text body does not carry the name as it is:\n%s", m.Subject, m.Text)
			}
		}
	}
}

// TestServiceRendersEmailsByTheirTemplates: a Service renders every email
// through templates, DefaultEmails' for the ones Config leaves unset and
// for the unset fields of the others.
func TestServiceRendersEmailsByTheirTemplates(t *testing.T) {
	def := DefaultEmails()
	svc := defaultService(t, Emails{})
	for _, d := range renderCases {
		for _, c := range []struct {
			name   string
			render func(string, EmailData) (mail.Message, error)
			tmpl   EmailTemplate
		}{
			{"Reset", svc.renderReset, def.Reset},
			{"PasswordChanged", svc.renderNotice, def.PasswordChanged},
		} {
			got, err := c.render("no-reply@app.example", d)
			if err != nil {
				t.Fatal(err)
			}
			want, err := c.tmpl.render("no-reply@app.example", d)
			if err != nil {
				t.Fatal(err)
			}
			checkMessage(t, c.name, got, want)
		}
	}

	// One field set: the others are DefaultEmails'.
	custom := EmailTemplate{Text: texttemplate.Must(texttemplate.New("text").Parse(`Open {{.URL}}`))}
	svc = defaultService(t, Emails{Reset: custom})
	d := renderCases[0]
	got, err := svc.renderReset("no-reply@app.example", d)
	if err != nil {
		t.Fatal(err)
	}
	want, err := def.Reset.render("no-reply@app.example", d)
	if err != nil {
		t.Fatal(err)
	}
	want.Text = "Open " + d.URL
	checkMessage(t, "custom Reset", got, want)
}

// nopStore and nopMailer satisfy NewService's checks; the tests call
// neither.
type (
	nopStore  struct{ store.Store }
	nopMailer struct{ Mailer }
)

// BenchmarkRenderResetEmail renders the default reset email as the
// Service does.
func BenchmarkRenderResetEmail(b *testing.B) {
	svc, d := defaultService(b, Emails{}), renderCases[0]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.renderReset("no-reply@app.example", d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderPasswordChangedEmail renders the default notice as the
// Service does.
func BenchmarkRenderPasswordChangedEmail(b *testing.B) {
	svc, d := defaultService(b, Emails{}), renderCases[0]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.renderNotice("no-reply@app.example", d); err != nil {
			b.Fatal(err)
		}
	}
}
