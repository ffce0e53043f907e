package workos

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/clientlimit"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
)

// Defaults of the Config fields left zero.
const (
	DefaultMaxBodyBytes    = 1 << 20 // 1 MiB
	DefaultAccessTokenTTL  = 5 * time.Minute
	DefaultIdempotencyTTL  = 24 * time.Hour
	DefaultIdempotencyWait = 10 * time.Second
	DefaultClientRequests  = 60 // per minute, see Config.ClientLimit
	DefaultSignInRequests  = 20 // per minute per end user, see Config.SignInLimit
	// DefaultAuthFailures is how many requests with a missing or wrong API
	// key one client may make per minute, in bursts of as many, before
	// its further failures are answered 429: guessing a key is slow, and a
	// client that holds the right key is never refused for it.
	DefaultAuthFailures = 10
	// MinAPIKeyBytes is the shortest API key New accepts.
	MinAPIKeyBytes = 32
)

// maxIdempotencyKeyLen bounds the Idempotency-Key header.
const maxIdempotencyKeyLen = 255

// Config configures a Handler. Service, Sessions and APIKeys are required;
// every other zero field means the default its comment states.
type Config struct {
	// Service runs the password-reset flow and keeps the users. Required.
	// It must be wired so that a reset revokes the sessions Sessions
	// manages: either both work over the same store (memstore,
	// sqlitestore, pgstore), or reset.Config.Sessions is that Manager.
	Service *reset.Service

	// Accounts creates users and signs them in, over Service's Store. It
	// must be built on Service. Default: account.New(Service,
	// account.Config{}), with the default sign-in limits; set it to tune
	// them.
	Accounts *account.Service

	// Sessions creates, refreshes, lists and revokes the sessions that
	// /user_management/authenticate starts. Required.
	Sessions *session.Manager

	// APIKeys are the secrets a client presents as
	// "Authorization: Bearer <key>" (or, on /user_management/authenticate,
	// as client_secret). Every key listed is accepted, so that a key can
	// be rotated: add the new one, move the clients, remove the old one.
	// At least one is required, and each must be at least MinAPIKeyBytes
	// long (32 random bytes, hex- or base64-encoded, are more). A key can
	// do everything, for every user: create users and resets (the answer
	// holds the token), sign users in, list and revoke their sessions.
	APIKeys []string

	// Logger receives a line for each request that failed on the server's
	// side and for each reset whose session revocation failed; never a
	// token, password, API key or request body. Default: a logger that
	// discards everything.
	Logger *slog.Logger

	// MaxBodyBytes caps a request body; a larger one is answered with 413.
	// Default 1 MiB ([DefaultMaxBodyBytes]).
	MaxBodyBytes int64

	// AccessTokenKey signs the access tokens that authenticate issues
	// (HMAC-SHA256); at least 32 bytes. Every instance serving one set of
	// clients must share it. Default: 32 random bytes per Handler, so that
	// access tokens stop validating when the process restarts (clients
	// then refresh).
	AccessTokenKey []byte

	// AccessTokenTTL is how long an access token is valid, capped at the
	// session's own expiry. Default 5 minutes ([DefaultAccessTokenTTL]), as
	// WorkOS's.
	AccessTokenTTL time.Duration

	// IdempotencyTTL is how long the answer to a POST carrying an
	// Idempotency-Key header is kept for replay, in the Service's Store
	// (sealed, and purged by the Service's janitor afterwards), so that
	// every instance sharing the Store and the SecretKey replays it.
	// Default 24 hours ([DefaultIdempotencyTTL]); a negative value turns
	// replay off.
	IdempotencyTTL time.Duration

	// IdempotencyWait is how long a request waits while another request
	// with the same Idempotency-Key runs, on this instance or another,
	// looking at the Store with growing pauses (10 to 250 ms): it then gets
	// that request's answer. Past it, it is answered 409
	// {"code":"idempotency_key_in_use"} with Retry-After. Default 10
	// seconds ([DefaultIdempotencyWait]); a negative value answers 409 at
	// once.
	IdempotencyWait time.Duration

	// Now is the clock that judges sessions and access tokens. Default
	// time.Now; tests replace it (give the Service and the Manager the
	// same one).
	Now func() time.Time

	// ClientLimit caps the requests one client (one IP address, one /64
	// for IPv6) may make to POST /user_management/password_reset and
	// /user_management/password_reset/confirm together; past it they are
	// answered 429 {"code":"rate_limit_exceeded"} with Retry-After in
	// whole seconds. The zero value is the default, on: 60 per minute
	// ([DefaultClientRequests]), in bursts of up to 60 (the clients of this
	// API are usually a few backends, each asking for many users);
	// ClientLimit.Disabled turns it off. Behind a reverse proxy, list it in
	// ClientLimit.TrustedProxies and name the header it sets in
	// ClientLimit.ClientHeader, or every client looks like the proxy.
	// ClientLimit.Now defaults to Now. Each instance counts its own
	// requests: behind a load balancer over n instances a client may make
	// n times as many (see package clientlimit); the per-address limit,
	// counted in the Store, holds across all of them.
	ClientLimit clientlimit.Config

	// SignInLimit caps the password sign-ins (POST
	// /user_management/authenticate, grant_type password) per end user:
	// per the ip_address the caller passes for its user (one IP address,
	// one /64 for IPv6), or, when it passes none (or not an address), per
	// the caller's own address. Past it they are answered 429
	// {"code":"rate_limit_exceeded"} with Retry-After, before any password
	// check. The same ip_address, or caller address, is the sign-in's
	// client for account.Config.SignInLimit's failures and
	// reset.Config.MaxHashing's share. The zero value is the default,
	// on: 20 per minute in bursts of 20 ([DefaultSignInRequests]), so
	// that ten mistyped passwords, a reset and the new password fit;
	// SignInLimit.Disabled turns it off. TrustedProxies (with
	// ClientHeader), MaxClients and Now default to ClientLimit's.
	SignInLimit clientlimit.Config
}

// Handler is an http.Handler that speaks WorkOS's User Management wire
// format for password resets, users, sign-in and sessions. It is safe for
// concurrent use. Create one with New.
type Handler struct {
	svc          *reset.Service
	accounts     *account.Service
	sessions     *session.Manager
	keys         [][sha256.Size]byte // SHA-256 of each API key
	log          *slog.Logger
	maxBody      int64
	tokenKey     []byte
	tokenTTL     time.Duration
	now          func() time.Time
	idemTTL      time.Duration        // 0 when replay is off
	idemWait     time.Duration        // 0: answer 409 at once
	limit        *clientlimit.Limiter // per client, on the routes of limitedRoutes
	authFailures *clientlimit.Limiter // per client, requests with a missing or wrong API key
	signInLimit  *clientlimit.Limiter // per end user, password sign-ins
	mux          *http.ServeMux
}

// endpoint serves one route. body is the request body, already read and
// capped (nil for GET).
type endpoint func(ctx context.Context, r *http.Request, body []byte) *reply

// reply is an answer before it is written: a status, a value marshalled
// as the JSON body, and extra headers.
type reply struct {
	status int
	body   any
	header http.Header
	raw    []byte // when set, the body as it is sent (a kept answer), instead of body
	err    error  // an unexpected failure behind a 500, for the log
}

// The routes, as http.ServeMux patterns.
const (
	routeCreateReset  = "POST /user_management/password_reset"
	routeGetReset     = "GET /user_management/password_reset/{id}"
	routeConfirmReset = "POST /user_management/password_reset/confirm"
	routeCreateUser   = "POST /user_management/users"
	routeGetUser      = "GET /user_management/users/{id}"
	routeListSessions = "GET /user_management/users/{id}/sessions"
	routeRevoke       = "POST /user_management/sessions/revoke"
	routeAuthenticate = "POST /user_management/authenticate"
)

// limitedRoutes are the routes Config.ClientLimit counts: the ones that
// send email or try a token.
var limitedRoutes = map[string]bool{routeCreateReset: true, routeConfirmReset: true}

// New checks cfg, fills in its defaults and returns a Handler. A missing
// Service, Sessions or API key is an error, as is an AccessTokenKey shorter
// than 32 bytes.
func New(cfg Config) (*Handler, error) {
	if cfg.Service == nil {
		return nil, errors.New("workos: Config.Service is required")
	}
	if cfg.Sessions == nil {
		return nil, errors.New("workos: Config.Sessions is required")
	}
	if len(cfg.APIKeys) == 0 {
		return nil, errors.New("workos: Config.APIKeys needs at least one key")
	}
	h := &Handler{
		svc:      cfg.Service,
		accounts: cfg.Accounts,
		sessions: cfg.Sessions,
		log:      cfg.Logger,
		maxBody:  cfg.MaxBodyBytes,
		tokenKey: cfg.AccessTokenKey,
		tokenTTL: cfg.AccessTokenTTL,
		now:      cfg.Now,
	}
	for i, k := range cfg.APIKeys {
		if n := len(strings.TrimSpace(k)); n < MinAPIKeyBytes {
			return nil, fmt.Errorf("workos: Config.APIKeys[%d] is %d bytes: an API key must be at least %d bytes (for example 32 random bytes, hex-encoded)", i, n, MinAPIKeyBytes)
		}
		h.keys = append(h.keys, sha256.Sum256([]byte(k)))
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.accounts == nil {
		var err error
		if h.accounts, err = account.New(h.svc, account.Config{}); err != nil {
			return nil, fmt.Errorf("workos: Config.Accounts: %w", err)
		}
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.tokenKey == nil {
		h.tokenKey = make([]byte, 32)
		if _, err := rand.Read(h.tokenKey); err != nil {
			return nil, fmt.Errorf("workos: generate AccessTokenKey: %w", err)
		}
	}
	if len(h.tokenKey) < 32 {
		return nil, fmt.Errorf("workos: Config.AccessTokenKey must be at least 32 bytes, got %d", len(h.tokenKey))
	}
	if h.tokenTTL <= 0 {
		h.tokenTTL = DefaultAccessTokenTTL
	}
	if h.now == nil {
		h.now = time.Now
	}
	lc := cfg.ClientLimit
	if lc.Requests == 0 {
		lc.Requests = DefaultClientRequests
	}
	if lc.Now == nil {
		lc.Now = h.now
	}
	var err error
	if h.limit, err = clientlimit.New(lc); err != nil {
		return nil, fmt.Errorf("workos: Config.ClientLimit: %w", err)
	}
	// Failed authentication is limited whatever ClientLimit says, by the
	// same client addresses.
	fc := clientlimit.Config{Requests: DefaultAuthFailures, TrustedProxies: lc.TrustedProxies, ClientHeader: lc.ClientHeader, MaxClients: lc.MaxClients, Now: lc.Now}
	if h.authFailures, err = clientlimit.New(fc); err != nil {
		return nil, fmt.Errorf("workos: Config.ClientLimit: %w", err)
	}
	sc := cfg.SignInLimit
	if sc.Requests == 0 {
		sc.Requests = DefaultSignInRequests
	}
	if sc.TrustedProxies == nil {
		sc.TrustedProxies, sc.ClientHeader = lc.TrustedProxies, lc.ClientHeader
	}
	if sc.MaxClients == 0 {
		sc.MaxClients = lc.MaxClients
	}
	if sc.Now == nil {
		sc.Now = lc.Now
	}
	if h.signInLimit, err = clientlimit.New(sc); err != nil {
		return nil, fmt.Errorf("workos: Config.SignInLimit: %w", err)
	}
	switch {
	case cfg.IdempotencyTTL == 0:
		h.idemTTL = DefaultIdempotencyTTL
	case cfg.IdempotencyTTL > 0:
		h.idemTTL = cfg.IdempotencyTTL
	}
	switch {
	case cfg.IdempotencyWait == 0:
		h.idemWait = DefaultIdempotencyWait
	case cfg.IdempotencyWait > 0:
		h.idemWait = cfg.IdempotencyWait
	}

	endpoints := map[string]endpoint{
		routeCreateReset:  h.createReset,
		routeGetReset:     h.getReset,
		routeConfirmReset: h.confirmReset,
		routeCreateUser:   h.createUser,
		routeGetUser:      h.getUser,
		routeListSessions: h.listSessions,
		routeRevoke:       h.revokeSession,
		routeAuthenticate: h.authenticate,
	}
	h.mux = http.NewServeMux()
	for pattern, ep := range endpoints {
		h.mux.Handle(pattern, route{h, pattern, ep})
	}
	return h, nil
}

// route is the http.Handler of one pattern on the mux.
type route struct {
	h       *Handler
	pattern string
	ep      endpoint
}

func (rt route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt.h.write(w, r, rt.h.serve(r, rt.pattern, rt.ep))
}

// ServeHTTP answers one API request. Every answer, errors included, is
// JSON with Content-Type application/json and Cache-Control no-store, and
// carries an X-Request-ID header.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Request-ID", newRequestID())
	hdr.Set("Cache-Control", "no-store")
	tw := &trackingWriter{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.log.ErrorContext(r.Context(), "workos: panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if !tw.wrote {
				h.write(tw, r, serverError(nil))
			}
		}
	}()
	// The mux answers what matches no route (404, 405, and redirects to
	// a cleaned path) with text; noRoute answers it with JSON.
	if hd, _ := h.mux.Handler(r); !isRoute(hd) {
		rep := h.authFailed(r, unauthorized())
		if _, ok := h.bearer(r); ok {
			rep = h.noRoute(r)
		}
		h.write(tw, r, rep)
		return
	}
	h.mux.ServeHTTP(tw, r)
}

func isRoute(hd http.Handler) bool {
	_, ok := hd.(route)
	return ok
}

// trackingWriter records whether the answer has begun.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *trackingWriter) WriteHeader(status int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(status)
}

func (w *trackingWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// serve authenticates, reads the body and runs the endpoint of pattern,
// with idempotent replay around it.
func (h *Handler) serve(r *http.Request, pattern string, ep endpoint) *reply {
	ctx := r.Context()
	keyHash, authed := h.bearer(r)
	if pattern != routeAuthenticate && !authed {
		return h.authFailed(r, unauthorized())
	}
	if limitedRoutes[pattern] {
		if ok, retry := h.limit.Allow(r); !ok {
			return clientRateLimited(retry)
		}
	}
	var body []byte
	if r.Method == http.MethodPost {
		b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, h.maxBody))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return errorReply(http.StatusRequestEntityTooLarge, "request_too_large", fmt.Sprintf("The request body is larger than %d bytes.", h.maxBody))
		case err != nil:
			return errorReply(http.StatusBadRequest, "invalid_request", "The request body could not be read.")
		}
		body = b
	}
	if pattern == routeAuthenticate && !authed {
		// The SDKs send the API key as client_secret in the body, as
		// WorkOS accepts.
		var rep *reply
		if keyHash, rep = h.clientSecret(r, body); rep != nil {
			return h.authFailed(r, rep)
		}
	}

	if !h.replayable(r, pattern) {
		return ep(ctx, r, body)
	}
	return h.idempotent(ctx, r, keyHash, body, func() *reply { return ep(ctx, r, body) })
}

// statusClientClosed is the status logged when the client went away before
// the answer was ready; the client never sees it.
const statusClientClosed = 499

// noRoute answers a request that matches no route: 405 with an Allow
// header when the path exists for other methods, 404 otherwise.
func (h *Handler) noRoute(r *http.Request) *reply {
	probe, _ := h.mux.Handler(r)
	rec := &headerRecorder{header: http.Header{}}
	probe.ServeHTTP(rec, r)
	switch rec.status {
	case http.StatusMethodNotAllowed:
		rep := errorReply(http.StatusMethodNotAllowed, "method_not_allowed", fmt.Sprintf("%s is not allowed on %s.", r.Method, r.URL.Path))
		rep.header = http.Header{"Allow": rec.header.Values("Allow")}
		return rep
	case http.StatusMovedPermanently, http.StatusPermanentRedirect, http.StatusTemporaryRedirect:
		rep := &reply{status: rec.status, body: messageBody{Message: "The resource is at another path."}}
		rep.header = http.Header{"Location": rec.header.Values("Location")}
		return rep
	}
	return &reply{status: http.StatusNotFound, body: messageBody{Message: "Not found: " + clip(r.URL.Path) + "."}}
}

// headerRecorder keeps the status and headers a handler writes, and drops
// the body.
type headerRecorder struct {
	header http.Header
	status int
}

func (w *headerRecorder) Header() http.Header { return w.header }
func (w *headerRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(b), nil
}
func (w *headerRecorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

// write sends rep as JSON.
func (h *Handler) write(w http.ResponseWriter, r *http.Request, rep *reply) {
	if rep.status >= 500 && rep.status != statusClientClosed {
		h.log.ErrorContext(r.Context(), "workos: request failed", "method", r.Method, "path", r.URL.Path,
			"status", rep.status, "request_id", w.Header().Get("X-Request-ID"), "err", errText(rep.err))
	}
	b := rep.raw
	var err error
	if b == nil {
		b, err = marshal(rep.body)
	}
	if err != nil {
		h.log.ErrorContext(r.Context(), "workos: encode answer", "path", r.URL.Path, "err", err)
		rep = serverError(err)
		b, _ = marshal(rep.body)
	}
	hdr := w.Header()
	for k, vs := range rep.header {
		hdr[k] = vs
	}
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(b)))
	if rep.status == http.StatusUnauthorized {
		hdr.Set("WWW-Authenticate", `Bearer realm="passreset"`)
	}
	w.WriteHeader(rep.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

// marshal encodes v as JSON without HTML escaping (the answers are not
// HTML) and without a trailing newline.
func marshal(v any) ([]byte, error) {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(strings.TrimSuffix(sb.String(), "\n")), nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// bearer returns the hash of the API key in r's Authorization header and
// whether it is one of the configured keys.
func (h *Handler) bearer(r *http.Request) ([sha256.Size]byte, bool) {
	scheme, key, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return [sha256.Size]byte{}, false
	}
	return h.checkKey(strings.TrimSpace(key))
}

// authFailed logs a request whose API key was missing or wrong, never the
// key, and answers it with rep, or with 429 once its client has failed
// DefaultAuthFailures times within a minute.
func (h *Handler) authFailed(r *http.Request, rep *reply) *reply {
	ip := h.authFailures.ClientIP(r)
	if ok, retry := h.authFailures.Allow(r); !ok {
		h.log.WarnContext(r.Context(), "workos: authentication refused: too many failures from the client", "client", ip.String(), "path", r.URL.Path)
		return clientRateLimited(retry)
	}
	h.log.WarnContext(r.Context(), "workos: authentication failed", "client", ip.String(), "path", r.URL.Path)
	return rep
}

// checkKey compares key with every configured key in constant time: the
// SHA-256 of each, so that neither the length nor the content of a key
// leaks through timing, and without stopping at the first match.
func (h *Handler) checkKey(key string) ([sha256.Size]byte, bool) {
	if key == "" {
		return [sha256.Size]byte{}, false
	}
	sum := sha256.Sum256([]byte(key))
	match := 0
	for i := range h.keys {
		match |= subtle.ConstantTimeCompare(sum[:], h.keys[i][:])
	}
	return sum, match == 1
}

// clientSecret authenticates an /authenticate request by the client_secret
// of its body. It answers as OAuth 2.0 does (RFC 6749 section 5.2): 400
// invalid_client for a wrong secret, 401 when there is none at all.
func (h *Handler) clientSecret(r *http.Request, body []byte) ([sha256.Size]byte, *reply) {
	var in struct {
		ClientSecret any `json:"client_secret"`
	}
	var secret string
	if isForm(r) {
		secret = formValues(body).Get("client_secret")
	} else if json.Unmarshal(body, &in) == nil {
		secret, _ = in.ClientSecret.(string)
	}
	if secret == "" {
		return [sha256.Size]byte{}, unauthorized()
	}
	sum, ok := h.checkKey(secret)
	if !ok {
		return sum, &reply{status: http.StatusBadRequest, body: oauthErrorBody{Error: "invalid_client", Description: "Invalid client secret."}}
	}
	return sum, nil
}

// isForm reports whether r's body is application/x-www-form-urlencoded.
func isForm(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/x-www-form-urlencoded"
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}
