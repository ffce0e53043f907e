package pages

import (
	"embed"
	"fmt"
	"html/template"
)

// Names of the page templates a template set must define. Each is executed
// with a *Page.
const (
	// TemplateForgot is the form that asks for the email address.
	TemplateForgot = "forgot-password"
	// TemplateForgotSent is the answer to that form, the same whatever the
	// address.
	TemplateForgotSent = "forgot-password-sent"
	// TemplateReset is the form that sets a new password.
	TemplateReset = "reset-password"
	// TemplateCode is the form that sets a new password with the code of
	// the email and the address, shown again when a code was wrong or the
	// new password refused. TemplateForgotSent shows the same form, for
	// every address alike.
	TemplateCode = "reset-code"
	// TemplateExpired is the page of a link that expired, was already used
	// or is unknown.
	TemplateExpired = "link-expired"
	// TemplateError is the page of any other failure: a cross-origin post,
	// a body too large, an internal error. It shows Page.Title and
	// Page.Message.
	TemplateError = "error"
)

// templateNames lists the templates a set must define.
var templateNames = []string{TemplateForgot, TemplateForgotSent, TemplateReset, TemplateCode, TemplateExpired, TemplateError}

//go:embed templates/*.html
var templateFS embed.FS

// defaults is parsed once and never executed: each Handler executes a
// clone, so that DefaultTemplates can always be cloned again.
var defaults = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// DefaultTemplates returns a fresh copy of the built-in templates, for a
// host that wants to change some of them and keep the rest. Redefine a
// template by parsing a {{define}} of the same name into the copy, then
// pass the copy as Config.Templates:
//
//	t := pages.DefaultTemplates()
//	template.Must(t.Parse(`{{define "head"}}...{{end}}`))
//
// Besides the six page templates (TemplateForgot and the rest), the set
// defines "head" and "foot", which open and close every page; "code-form",
// the form of the code, which TemplateForgotSent and TemplateCode show; "style",
// the CSS that "head" puts in a <style nonce="{{.Nonce}}"> element;
// "host-style", empty, which "head" puts after "style" for a host to
// define with CSS rules of its own; and "errors", the list of Page.Errors.
// "head" reads .Title, .AppName and .Nonce, and "errors" reads .Errors, so
// a host that adds pages of its own to the set can execute them with any
// struct that has those fields.
func DefaultTemplates() *template.Template {
	return template.Must(defaults.Clone()) // Clone fails only once defaults was executed, which it never is
}

// Page is what every page template is executed with.
type Page struct {
	// Title is the page's title, for <title> and the error page's heading.
	Title string
	// AppName is Config.AppName.
	AppName string
	// Nonce is the Content-Security-Policy nonce of this answer: a <style>
	// element must carry nonce="{{.Nonce}}" or the browser ignores it.
	Nonce string
	// ForgotPath, ResetPath and SignInURL are the configured addresses,
	// for forms' actions and links.
	ForgotPath string
	ResetPath  string
	SignInURL  string
	// Email is the address typed into the forgot form (on that form and on
	// the "check your email" page), or the account's address on the reset
	// form.
	Email string
	// Token is the reset token, for the reset form's hidden "token" field.
	// Write it nowhere else.
	Token string
	// Code is the code typed into the code form, shown again in its field
	// when the form comes back with errors.
	Code string
	// Errors lists what is wrong with the form that was sent, for the user.
	// Empty on a first view.
	Errors []string
	// Message is the error page's explanation.
	Message string
}

// checkTemplates reports a template set that lacks one of the pages.
func checkTemplates(t *template.Template) error {
	for _, name := range templateNames {
		if t.Lookup(name) == nil {
			return fmt.Errorf("pages: Config.Templates does not define %q", name)
		}
	}
	return nil
}
