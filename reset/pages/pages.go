package pages

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/passreset/passreset/clientlimit"
	"github.com/passreset/passreset/emailaddr"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
)

// Defaults of the Config fields left zero.
const (
	DefaultForgotPath   = "/forgot-password"
	DefaultResetPath    = "/reset-password"
	DefaultMaxBodyBytes = 8 << 10
	DefaultSendTimeout  = 30 * time.Second
	DefaultMaxPending   = 64
	// DefaultSignInRequests is how many sign-in posts a client may make
	// per minute, in bursts of as many, through AllowSignIn, when
	// Config.ClientLimit.Requests is zero: twice the pages', so that ten
	// mistyped passwords, a reset and the new password fit in a minute.
	DefaultSignInRequests = 20
)

// Defaults of Config.AddressQuota's fields left zero: 3 posts per address
// per hour, for at most 10,000 addresses at a time.
const (
	DefaultAddressQuota           = 3
	DefaultAddressQuotaPer        = time.Hour
	DefaultAddressQuotaMaxClients = 10_000
)

// The notice that the reset page adds to the sign-in page's URL when it
// redirects there after a successful reset: SignInURL?notice=password_reset.
// Notice reads it.
const (
	NoticeParam         = "notice"
	NoticePasswordReset = "password_reset"
)

// Notice returns the sentence a sign-in page should show when r arrived
// from a successful reset (its URL has the notice parameter), or "".
func Notice(r *http.Request) string {
	if r.URL.Query().Get(NoticeParam) == NoticePasswordReset {
		return "Your password was changed and every device was signed out. Sign in with your new password."
	}
	return ""
}

// Config configures a Handler. Service and SignInURL are required; every
// other zero field means the default its comment states.
type Config struct {
	// Service runs the reset flow. Required. Its Config.ResetURL must be the
	// absolute URL of ResetPath on this site: it is the link in the email.
	Service *reset.Service

	// SignInURL is the host's sign-in page, where a successful reset
	// redirects (with the notice parameter added, see Notice) and which
	// every page links to. Required: a path such as "/sign-in", or an
	// absolute http(s) URL.
	SignInURL string

	// ForgotPath is the path of the "forgot password" page. Default
	// "/forgot-password" (DefaultForgotPath).
	ForgotPath string

	// ResetPath is the path of the page the email's link opens. Default
	// "/reset-password" (DefaultResetPath). It must be the path of the
	// Service's ResetURL.
	ResetPath string

	// AppName names the application in page titles. Default: none.
	AppName string

	// Templates replaces the built-in pages. It must define TemplateForgot,
	// TemplateForgotSent, TemplateReset, TemplateExpired and TemplateError;
	// start from DefaultTemplates to change only some. Do not change it
	// after New. Default: DefaultTemplates().
	Templates *template.Template

	// Logger receives the outcome of background reset requests and
	// internal errors; never a token, a password or an email address.
	// Default: the Service's Logger (reset.Config.Logger).
	Logger *slog.Logger

	// MaxBodyBytes caps the body of a form post; a larger one is answered
	// 413. Default 8 KiB (DefaultMaxBodyBytes), ample for the fields.
	MaxBodyBytes int64

	// SendTimeout bounds one background reset request: the lookup, the
	// reset's creation and the email's first sending attempt (a failed
	// attempt stays in the outbox for the Service's dispatcher). Default 30
	// seconds (DefaultSendTimeout).
	SendTimeout time.Duration

	// MaxPending caps the background reset requests in flight; past it, a
	// request from the forgot page, recorded like every other, is left to
	// the Service's dispatcher (the page answers as always), so a flood of
	// posts cannot pile up goroutines. Default 64 (DefaultMaxPending).
	MaxPending int

	// CrossOriginProtection refuses cross-origin form posts. Default:
	// http.NewCrossOriginProtection(), which trusts no other origin. Pass
	// the host's own to share its trusted origins.
	CrossOriginProtection *http.CrossOriginProtection

	// ClientLimit caps the form posts one client (one IP address, one /64
	// for IPv6) may make to each of the two pages, counted apart: a user
	// who asked for many emails can still set the password. The zero value
	// is the default, on: 10 per minute per page, in bursts of up to 10;
	// ClientLimit.Disabled
	// turns it off. Behind a reverse proxy, list it in
	// ClientLimit.TrustedProxies and name the header it sets in
	// ClientLimit.ClientHeader, or every client looks like the proxy. A
	// well-formed post to the forgot page over the limit gets the very
	// answer every other gets, and no email is sent unless the address it
	// names has some of its own AddressQuota left; a post to the reset
	// page over it gets a "too many attempts" page, status 429 with
	// Retry-After, and its token is not touched. Malformed forgot posts,
	// which do no work, are not counted. Each instance counts its own
	// posts: behind a load balancer over n instances a client may make n
	// times as many, while the per-address limit, counted in the Store,
	// holds across them. See package clientlimit. The same settings limit
	// the host's sign-in posts through AllowSignIn, counted apart, where
	// a zero Requests means 20 a minute (DefaultSignInRequests).
	ClientLimit clientlimit.Config

	// AddressQuota lets a well-formed forgot post through when its client
	// is over ClientLimit, as long as the address it names has not used
	// its own small quota: clients behind one NAT or proxy share a
	// bucket, and without it ten junk posts a minute from one of them
	// would silently drop everyone else's email. The quota is counted in
	// the memory of each process under the Service's keyed hash of the
	// address (reset.Service.AddressKey), never the address, and only for
	// posts over the client's limit; the answer stays the same for every
	// address. The zero value is the default, on: Requests 3 per Per one
	// hour (DefaultAddressQuota), for at most MaxClients 10,000 addresses
	// at a time (DefaultAddressQuotaMaxClients): past that, addresses
	// share one bucket of 16 times the quota (see package clientlimit),
	// which bounds what a client spraying fresh addresses gets past
	// ClientLimit. Disabled turns it off (unlike ClientLimit.Disabled, it
	// lets nothing more through): a client over its limit then gets no
	// email at all. TrustedProxies and ClientHeader do not apply;
	// Now defaults to ClientLimit.Now. The Service's own per-address limit
	// (reset.Config.RateLimit) still applies to every post.
	AddressQuota clientlimit.Config
}

// Handler serves the forgot-password and reset-password pages. Create one
// with New, mount it with Register (or route ForgotPath and ResetPath to it
// yourself: it is an http.Handler), and call Shutdown when the server
// stops. It is safe for concurrent use.
type Handler struct {
	svc         *reset.Service
	tmpl        *template.Template
	log         *slog.Logger
	forgotPath  string
	resetPath   string
	signInURL   string // as configured, for links
	doneURL     string // SignInURL with the notice
	formAction  string // the CSP's form-action sources
	appName     string
	maxBody     int64
	timeout     time.Duration
	maxPending  int
	cop         *http.CrossOriginProtection
	forgotLimit *clientlimit.Limiter // posts to ForgotPath
	addrQuota   *clientlimit.Limiter // forgot posts over forgotLimit, per address key
	resetLimit  *clientlimit.Limiter // posts to ResetPath
	signInLimit *clientlimit.Limiter // the host's sign-in posts, see AllowSignIn

	mu      sync.Mutex
	pending int           // background requests in flight
	idle    chan struct{} // closed when pending drops to zero
	closed  bool
}

// New checks cfg, fills in its defaults and returns a Handler. A missing
// Service or SignInURL, a path that does not start with "/", equal paths, a
// sign-in URL that is neither a path nor an absolute http(s) URL, and a
// template set missing a page are errors.
func New(cfg Config) (*Handler, error) {
	if cfg.Service == nil {
		return nil, errors.New("pages: Config.Service is required")
	}
	if cfg.SignInURL == "" {
		return nil, errors.New("pages: Config.SignInURL is required")
	}
	h := &Handler{
		svc:        cfg.Service,
		tmpl:       cfg.Templates,
		log:        cfg.Logger,
		forgotPath: cfg.ForgotPath,
		resetPath:  cfg.ResetPath,
		signInURL:  cfg.SignInURL,
		appName:    cfg.AppName,
		maxBody:    cfg.MaxBodyBytes,
		timeout:    cfg.SendTimeout,
		maxPending: cfg.MaxPending,
		cop:        cfg.CrossOriginProtection,
	}
	if h.forgotPath == "" {
		h.forgotPath = DefaultForgotPath
	}
	if h.resetPath == "" {
		h.resetPath = DefaultResetPath
	}
	for name, p := range map[string]string{"ForgotPath": h.forgotPath, "ResetPath": h.resetPath} {
		if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?# {}") {
			return nil, fmt.Errorf("pages: Config.%s must be a path starting with /, got %q", name, p)
		}
	}
	if h.forgotPath == h.resetPath {
		return nil, fmt.Errorf("pages: Config.ForgotPath and ResetPath are both %q", h.forgotPath)
	}
	u, err := url.Parse(cfg.SignInURL)
	switch {
	case err != nil:
		return nil, fmt.Errorf("pages: Config.SignInURL: %w", err)
	case u.IsAbs() && (u.Scheme != "http" && u.Scheme != "https" || u.Host == ""):
		return nil, fmt.Errorf("pages: Config.SignInURL must be a path or an absolute http(s) URL, got %q", cfg.SignInURL)
	case !u.IsAbs() && (u.Host != "" || !strings.HasPrefix(u.Path, "/")):
		return nil, fmt.Errorf("pages: Config.SignInURL must be a path starting with / or an absolute http(s) URL, got %q", cfg.SignInURL)
	}
	h.formAction = "'self'"
	if u.IsAbs() {
		// The reset form's post redirects there, and browsers apply
		// form-action to the redirect too.
		h.formAction += " " + u.Scheme + "://" + u.Host
	}
	q := u.Query()
	q.Set(NoticeParam, NoticePasswordReset)
	u.RawQuery = q.Encode()
	u.Fragment = ""
	h.doneURL = u.String()

	if h.tmpl == nil {
		h.tmpl = DefaultTemplates()
	} else if err := checkTemplates(h.tmpl); err != nil {
		return nil, err
	}
	if h.log == nil {
		h.log = h.svc.Logger()
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.timeout <= 0 {
		h.timeout = DefaultSendTimeout
	}
	if h.maxPending <= 0 {
		h.maxPending = DefaultMaxPending
	}
	if h.cop == nil {
		h.cop = http.NewCrossOriginProtection()
	}
	if h.forgotLimit, err = clientlimit.New(cfg.ClientLimit); err != nil {
		return nil, fmt.Errorf("pages: Config.ClientLimit: %w", err)
	}
	if h.resetLimit, err = clientlimit.New(cfg.ClientLimit); err != nil {
		return nil, fmt.Errorf("pages: Config.ClientLimit: %w", err)
	}
	sc := cfg.ClientLimit
	if sc.Requests == 0 {
		sc.Requests = DefaultSignInRequests
	}
	if h.signInLimit, err = clientlimit.New(sc); err != nil {
		return nil, fmt.Errorf("pages: Config.ClientLimit: %w", err)
	}
	aq := cfg.AddressQuota
	if aq.Requests == 0 {
		aq.Requests = DefaultAddressQuota
	}
	if aq.Per == 0 {
		aq.Per = DefaultAddressQuotaPer
	}
	if aq.MaxClients == 0 {
		aq.MaxClients = DefaultAddressQuotaMaxClients
	}
	if aq.Now == nil {
		aq.Now = cfg.ClientLimit.Now
	}
	if h.addrQuota, err = clientlimit.New(aq); err != nil {
		return nil, fmt.Errorf("pages: Config.AddressQuota: %w", err)
	}
	if aq.Disabled {
		h.addrQuota = nil // no post over the client's limit goes through
	}
	return h, nil
}

// Register mounts the Handler on mux for GET (and so HEAD) and POST at
// ForgotPath and ResetPath. These patterns are more specific than a host's
// catch-all such as "GET /{path...}", so they sit beside it; mux answers
// other methods with 405.
func (h *Handler) Register(mux *http.ServeMux) {
	for _, p := range []string{h.forgotPath, h.resetPath} {
		mux.Handle("GET "+p, h)
		mux.Handle("POST "+p, h)
	}
}

// ForgotPath returns the path of the "forgot password" page.
func (h *Handler) ForgotPath() string { return h.forgotPath }

// ResetPath returns the path of the page the email's link opens.
func (h *Handler) ResetPath() string { return h.resetPath }

// AllowSignIn counts a post to the host's own sign-in page against the
// client's limit (Config.ClientLimit, counted apart from the two pages) and
// names the client, for account.AuthenticateParams.Client. When ok is false
// the client is over its limit: answer 429 with a Retry-After of
// retryAfter, and do not call Authenticate. A sign-in handler calls it
// first:
//
//	client, retry, ok := resetPages.AllowSignIn(r)
//	if !ok { ... 429 ... }
//	in, err := accounts.Authenticate(ctx, account.AuthenticateParams{Email: email, Password: pw, Client: client})
//
// Each failed password costs the Service a bcrypt comparison, whether the
// address has an account or not: without this limit, one client posting
// sign-ins as fast as it can would take every core.
func (h *Handler) AllowSignIn(r *http.Request) (client string, retryAfter time.Duration, ok bool) {
	client = clientlimit.Key(h.signInLimit.ClientIP(r)).String()
	ok, retryAfter = h.signInLimit.Allow(r)
	return client, retryAfter, ok
}

// ServeHTTP serves the page at r.URL.Path: ForgotPath or ResetPath, 404 for
// any other path. Mount the Handler at those paths as they appear in the
// browser, not under http.StripPrefix.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	nonce := newNonce()
	setHeaders(w.Header(), h.csp(nonce))
	p := &Page{AppName: h.appName, Nonce: nonce, ForgotPath: h.forgotPath, ResetPath: h.resetPath, SignInURL: h.signInURL}

	var get, post func(http.ResponseWriter, *http.Request, *Page)
	switch r.URL.Path {
	case h.forgotPath:
		get, post = h.forgotForm, h.forgotSubmit
	case h.resetPath:
		get, post = h.resetForm, h.resetSubmit
	default:
		h.fail(w, r, p, http.StatusNotFound, "Page not found", "There is no page at this address.")
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		get(w, r, p)
	case http.MethodPost:
		if err := h.cop.Check(r); err != nil {
			h.fail(w, r, p, http.StatusForbidden, "Request refused", "This form was sent from another site, so it was refused. Open the page on this site and send the form again.")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, h.maxBody)
		if err := r.ParseForm(); err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				h.fail(w, r, p, http.StatusRequestEntityTooLarge, "Form too large", "The form sent was too large, so it was refused.")
				return
			}
			h.fail(w, r, p, http.StatusBadRequest, "Form unreadable", "The form sent could not be read. Send it again.")
			return
		}
		post(w, r, p)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		h.fail(w, r, p, http.StatusMethodNotAllowed, "Method not allowed", "This page answers only GET and POST requests.")
	}
}

// forgotForm serves GET ForgotPath.
func (h *Handler) forgotForm(w http.ResponseWriter, r *http.Request, p *Page) {
	p.Title = "Forgot your password?"
	h.render(w, r, TemplateForgot, http.StatusOK, p)
}

// addressQuotaAllows counts a forgot post over the client's limit against
// the quota of the address it names (Config.AddressQuota).
func (h *Handler) addressQuotaAllows(email string) bool {
	if h.addrQuota == nil {
		return false
	}
	key, err := h.svc.AddressKey(email)
	if err != nil {
		return false
	}
	ok, _ := h.addrQuota.AllowKey(key)
	return ok
}

// forgotSubmit serves POST ForgotPath: the same answer, at once, for every
// well-formed address.
func (h *Handler) forgotSubmit(w http.ResponseWriter, r *http.Request, p *Page) {
	p.Title = "Forgot your password?"
	p.Email = strings.TrimSpace(r.PostForm.Get("email"))
	if p.Email == "" {
		p.Errors = []string{"Enter the email address of your account."}
		h.render(w, r, TemplateForgot, http.StatusUnprocessableEntity, p)
		return
	}
	email, err := reset.NormalizeEmail(p.Email)
	if errors.Is(err, emailaddr.ErrSyntax) || errors.Is(err, emailaddr.ErrControl) {
		h.notAnAddress(w, r, p)
		return
	}
	if err != nil {
		// An address, but one that emailaddr refuses (an invisible
		// character, a domain literal, a long local part): the answer of
		// an unknown address, as the Service carries it out to
		// ErrUserNotFound.
		email = p.Email
	}
	if ok, _ := h.forgotLimit.Allow(r); !ok {
		if !h.addressQuotaAllows(email) {
			// The answer is the same as ever: the limit tells nothing either.
			h.log.WarnContext(r.Context(), "pages: password reset request dropped", "reason", "client rate limited")
			h.forgotSent(w, r, p, email)
			return
		}
		h.log.InfoContext(r.Context(), "pages: client over its limit; the address's own quota lets the request through")
	}
	// The request is recorded before the answer, so that a crash after the
	// answer cannot lose it: the same write for every address, with no
	// lookup, so that its cost says nothing about the address either.
	req, err := h.svc.RequestPasswordReset(r.Context(), reset.CreatePasswordResetParams{Email: email})
	if errors.Is(err, reset.ErrInvalidEmail) {
		h.notAnAddress(w, r, p) // longer than an address could be
		return
	}
	if err != nil {
		h.log.ErrorContext(r.Context(), "pages: password reset request not recorded", "err", err)
		w.Header().Set("Retry-After", "5")
		h.fail(w, r, p, http.StatusServiceUnavailable, "Try again in a moment",
			"Your request could not be taken just now. Nothing was sent: send the form again in a moment.")
		return
	}
	refused := h.begin()
	h.forgotSent(w, r, p, email)
	if refused != "" {
		// Recorded all the same: the Service's dispatcher carries it out.
		h.log.WarnContext(r.Context(), "pages: password reset request left to the dispatcher", "reason", refused)
		if err := req.Release(context.WithoutCancel(r.Context())); err != nil {
			h.log.ErrorContext(r.Context(), "pages: password reset request not released (the dispatcher takes it when its lease ends)", "err", err)
		}
		return
	}
	// The answer leaves before the work starts, so that the work's cost,
	// which differs by case, cannot show in the time the answer takes. (A
	// writer that cannot flush sends it when the handler returns, as the
	// work starts.)
	_ = http.NewResponseController(w).Flush()
	h.runRequest(r.Context(), req)
}

// forgotSent answers a well-formed forgot-password post: the same page,
// whatever became of the request.
func (h *Handler) forgotSent(w http.ResponseWriter, r *http.Request, p *Page, email string) {
	p.Title = "Check your email"
	p.Email = email
	h.render(w, r, TemplateForgotSent, http.StatusOK, p)
}

// notAnAddress answers a forgot form whose address is not one.
func (h *Handler) notAnAddress(w http.ResponseWriter, r *http.Request, p *Page) {
	p.Errors = []string{"Enter an email address like name@example.com."}
	h.render(w, r, TemplateForgot, http.StatusUnprocessableEntity, p)
}

// runRequest carries a recorded request out in the background (the
// reset, the email), so that neither the answer nor its timing depends on
// whether the address has an account, is rate limited, or the email fails.
// The caller has counted it in with begin.
func (h *Handler) runRequest(ctx context.Context, req *reset.ResetRequest) {
	ctx = context.WithoutCancel(ctx)
	go func() {
		defer h.end()
		ctx, cancel := context.WithTimeout(ctx, h.timeout)
		defer cancel()
		err := req.Run(ctx)
		switch {
		case err == nil:
			// The Service logs the reset's id.
		case errors.Is(err, reset.ErrUserNotFound):
			h.log.InfoContext(ctx, "pages: password reset requested for an address without an account")
		case errors.Is(err, reset.ErrRateLimited):
			var rl *reset.RateLimitError
			var retry time.Duration
			if errors.As(err, &rl) {
				retry = rl.RetryAfter()
			}
			h.log.WarnContext(ctx, "pages: password reset request rate limited", "retry_after", retry)
		default:
			h.log.ErrorContext(ctx, "pages: password reset request failed; the dispatcher retries it", "err", err)
		}
	}()
}

// begin counts a background request in, unless the Handler is shut down or
// has MaxPending in flight, which it then returns as the reason.
func (h *Handler) begin() (refused string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return "shut down"
	case h.pending >= h.maxPending:
		return "too many requests in flight"
	}
	if h.pending == 0 {
		h.idle = make(chan struct{})
	}
	h.pending++
	return ""
}

// end counts a background request out.
func (h *Handler) end() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pending--
	if h.pending == 0 {
		close(h.idle)
	}
}

// wait blocks until the background reset requests in flight when it is
// called, and any started meanwhile, have finished: the email of an
// accepted request has then been sent or queued for retry. Shutdown uses
// it; so do this package's tests, through export_test.go.
func (h *Handler) wait() {
	h.mu.Lock()
	if h.pending == 0 {
		h.mu.Unlock()
		return
	}
	idle := h.idle
	h.mu.Unlock()
	<-idle
}

// Shutdown stops the Handler from starting background work (the forgot
// page then still answers, and records each request, but leaves it to the
// Service's dispatcher, of this process or of the next to start) and
// waits for the work in flight to finish, or for ctx to be done, whose
// error it then returns. Call it after http.Server.Shutdown.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	done := make(chan struct{})
	go func() {
		h.wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// resetForm serves GET ResetPath: the form for a usable token, the expired
// page otherwise. It never spends the token.
func (h *Handler) resetForm(w http.ResponseWriter, r *http.Request, p *Page) {
	if _, ok := h.checkToken(w, r, p, r.URL.Query().Get("token")); ok {
		h.render(w, r, TemplateReset, http.StatusOK, p)
	}
}

// checkToken fills p for the form of a usable token and returns its reset.
// A token that cannot be used is answered, and checkToken returns false.
func (h *Handler) checkToken(w http.ResponseWriter, r *http.Request, p *Page, token string) (reset.PasswordReset, bool) {
	pr, err := h.svc.CheckToken(r.Context(), token)
	if err != nil {
		h.tokenFailed(w, r, p, err)
		return pr, false
	}
	p.Title = "Choose a new password"
	p.Token = token
	p.Email = pr.Email
	return pr, true
}

// resetSubmit serves POST ResetPath.
func (h *Handler) resetSubmit(w http.ResponseWriter, r *http.Request, p *Page) {
	if ok, retry := h.resetLimit.Allow(r); !ok {
		w.Header().Set("Retry-After", strconv.FormatInt(int64(retry/time.Second), 10))
		h.fail(w, r, p, http.StatusTooManyRequests, "Too many attempts",
			"Too many attempts came from your network. Wait a minute, then send the form again; your link has not been used.")
		return
	}
	token := r.PostForm.Get("token")
	if token == "" && (r.PostForm.Has("code") || r.PostForm.Has("email")) {
		h.codeSubmit(w, r, p)
		return
	}
	pr, ok := h.checkToken(w, r, p, token)
	if !ok {
		return
	}
	pw, problem := newPassword(r)
	if problem != "" {
		p.Errors = []string{problem}
		h.render(w, r, TemplateReset, http.StatusUnprocessableEntity, p)
		return
	}

	_, err := h.svc.ResetPassword(r.Context(), reset.ResetPasswordParams{Token: token, NewPassword: pw})
	if reasons, ok := policyReasons(err); ok {
		p.Errors = reasons
		h.render(w, r, TemplateReset, http.StatusUnprocessableEntity, p)
		return
	}
	switch {
	case err == nil:
	case errors.Is(err, reset.ErrSessionsNotRevoked):
		// The password is changed; the revocation is queued and retried.
		h.log.ErrorContext(r.Context(), "pages: password changed but sessions not revoked yet", "reset_id", pr.ID, "err", err)
	default:
		h.tokenFailed(w, r, p, err)
		return
	}
	http.Redirect(w, r, h.doneURL, http.StatusSeeOther)
}

// codeSubmit serves POST ResetPath with the fields of the code form:
// email, code, new_password and confirm_password. A wrong code gets the
// same page, status and (since reset.Service.ResetPassword does the same
// work for every address) time whether the address has an account or not.
func (h *Handler) codeSubmit(w http.ResponseWriter, r *http.Request, p *Page) {
	p.Title = "Enter the code from the email"
	p.Email = strings.TrimSpace(r.PostForm.Get("email"))
	p.Code = strings.TrimSpace(r.PostForm.Get("code"))
	if len(p.Code) > 32 {
		p.Code = ""
	}
	pw, problem := newPassword(r)
	email, err := reset.NormalizeEmail(p.Email)
	switch {
	case err != nil:
		p.Errors = []string{"Enter the email address you asked for the code with."}
	case p.Code == "":
		p.Errors = []string{"Enter the code from the email."}
	case problem != "":
		p.Errors = []string{problem}
	}
	if len(p.Errors) > 0 {
		h.render(w, r, TemplateCode, http.StatusUnprocessableEntity, p)
		return
	}
	p.Email = email
	_, err = h.svc.ResetPassword(r.Context(), reset.ResetPasswordParams{Email: email, Code: p.Code, NewPassword: pw})
	if reasons, ok := policyReasons(err); ok {
		p.Errors = reasons
		h.render(w, r, TemplateCode, http.StatusUnprocessableEntity, p)
		return
	}
	switch {
	case err == nil:
	case errors.Is(err, reset.ErrSessionsNotRevoked):
		h.log.ErrorContext(r.Context(), "pages: password changed but sessions not revoked yet", "err", err)
	case errors.Is(err, reset.ErrInvalidCode):
		p.Code = ""
		p.Errors = []string{"That code is wrong, has expired or was already used. Check the newest email, or ask for a new code."}
		h.render(w, r, TemplateCode, http.StatusUnprocessableEntity, p)
		return
	case errors.Is(err, reset.ErrRateLimited):
		var retry time.Duration
		if rl, ok := errors.AsType[*reset.RateLimitError](err); ok {
			retry = rl.RetryAfter()
		}
		w.Header().Set("Retry-After", strconv.FormatInt(int64(retry/time.Second), 10))
		h.fail(w, r, p, http.StatusTooManyRequests, "Too many attempts",
			"Too many codes were tried for this address. Wait a while, then use the link in the email or ask for a new one.")
		return
	case errors.Is(err, reset.ErrBusy):
		busy, _ := errors.AsType[*reset.BusyError](err)
		h.busy(w, r, p, busy)
		return
	default:
		h.log.ErrorContext(r.Context(), "pages: code reset failed", "err", err)
		h.fail(w, r, p, http.StatusInternalServerError, "Something went wrong", "The page could not be served. Try again in a moment.")
		return
	}
	http.Redirect(w, r, h.doneURL, http.StatusSeeOther)
}

// newPassword reads the new_password and confirm_password fields of a
// reset form. problem is what the page tells the user when they are not one
// password typed twice, and "" when they are.
func newPassword(r *http.Request) (pw, problem string) {
	pw, confirm := r.PostForm.Get("new_password"), r.PostForm.Get("confirm_password")
	switch {
	case pw == "":
		return pw, "Enter a new password."
	case confirm == "":
		return pw, "Enter the new password a second time, to confirm it."
	case pw != confirm:
		return pw, "The two passwords do not match. Type the same password twice."
	}
	return pw, ""
}

// policyReasons returns the messages of a password policy's refusal, and
// false when err is not one.
func policyReasons(err error) ([]string, bool) {
	pe, ok := errors.AsType[*password.PolicyError](err)
	if !ok {
		return nil, false
	}
	reasons := make([]string, 0, len(pe.Reasons))
	for _, reason := range pe.Reasons {
		reasons = append(reasons, reason.Message)
	}
	return reasons, true
}

// tokenFailed answers a token that cannot be used with the expired page,
// and any other error with the error page.
func (h *Handler) tokenFailed(w http.ResponseWriter, r *http.Request, p *Page, err error) {
	if errors.Is(err, reset.ErrInvalidToken) || errors.Is(err, reset.ErrTokenExpired) {
		p.Title = "Link expired or already used"
		h.render(w, r, TemplateExpired, http.StatusGone, p)
		return
	}
	if busy, ok := errors.AsType[*reset.BusyError](err); ok {
		h.busy(w, r, p, busy)
		return
	}
	h.log.ErrorContext(r.Context(), "pages: reset page failed", "err", err)
	h.fail(w, r, p, http.StatusInternalServerError, "Something went wrong", "The page could not be served. Your link has not been used: try again in a moment.")
}

// busy answers 503 with Retry-After: the Service's hashing is full, and
// nothing was done.
func (h *Handler) busy(w http.ResponseWriter, r *http.Request, p *Page, busy *reset.BusyError) {
	retry := time.Second
	if busy != nil {
		retry = busy.RetryAfter()
	}
	h.log.WarnContext(r.Context(), "pages: busy: password hashing at its cap", "retry_after", retry)
	w.Header().Set("Retry-After", strconv.FormatInt(int64(retry/time.Second), 10))
	h.fail(w, r, p, http.StatusServiceUnavailable, "Try again in a moment",
		"The server is busy. Nothing was changed and your link or code still works: send the form again in a moment.")
}

// fail answers status with the error page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, p *Page, status int, title, message string) {
	p.Title, p.Message = title, message
	h.render(w, r, TemplateError, status, p)
}

// render executes the template into a buffer first, so that a failing
// template answers 500 rather than half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, name string, status int, p *Page) {
	var b bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&b, name, p); err != nil {
		h.log.ErrorContext(r.Context(), "pages: template failed", "template", name, "err", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintln(w, "Internal Server Error")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// csp is the Content-Security-Policy of an answer with this nonce.
func (h *Handler) csp(nonce string) string {
	return "default-src 'none'; style-src 'nonce-" + nonce + "'; img-src 'self' data:; form-action " + h.formAction +
		"; frame-ancestors 'none'; base-uri 'none'"
}

// setHeaders sets the security headers of every answer.
func setHeaders(hdr http.Header, csp string) {
	hdr.Set("Content-Security-Policy", csp)
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// newNonce returns 128 random bits as unpadded base64url text: characters
// that html/template writes into an attribute unescaped.
func newNonce() string {
	var b [16]byte
	rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}
