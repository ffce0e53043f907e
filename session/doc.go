// Package session is the session manager a web application uses for
// sign-in: it creates, validates, refreshes, lists and revokes sessions,
// carries them in cookies, and puts the current one in each request's
// context.
//
// # Manager
//
// A [Manager] is built by [New] from a [Config] whose only required field
// is the [Store]:
//
//	sm, err := session.New(session.Config{Store: memstore.New()})
//
// [Manager.Create] starts a session for a user and returns it with its
// token: 32 bytes from crypto/rand as 43 characters of base64url text. The
// token exists only in that return value and in the client's cookie; the
// Store keeps its SHA-256 ([token.Sum]), so a copy of the database signs
// nobody in. [Manager.Validate] turns a token back into its [Session], with
// one Store lookup: a malformed token is [ErrNotFound] before any lookup,
// an unknown one [ErrNotFound], a revoked session [ErrRevoked], and one past
// its absolute timeout (Config.AbsoluteTimeout, 30 days) or idle for
// Config.IdleTimeout (24 hours) [ErrExpired]. LastSeenAt, which the idle
// timeout reads, is written at most once per Config.TouchInterval (a
// minute), not on every request. [Manager.Refresh] swaps a token for a new
// one, for API clients that refresh; the old token stops working, and
// when it is presented again the session is revoked (a rotated-away token
// in use means a copy of it is in other hands).
//
// [Manager.List], [Manager.Get] and [Manager.Revoke] serve a "your devices"
// page, [Manager.RevokeUserSessions] signs a user out everywhere, and
// [Manager.RevokeOtherSessions] everywhere but here.
// [Manager.Purge] deletes ended sessions when the host calls it.
//
// # Cookies
//
// [Manager.SignIn] is what a login handler calls once it has checked the
// password: it creates a new session (a new token at every sign-in, so a
// token planted before sign-in is never promoted), records the User-Agent
// and IP address, revokes the session of the cookie the browser sent, and
// sets the cookie. [Manager.SignOut] revokes the session and clears the
// cookie. The cookie is HttpOnly, Secure and SameSite=Lax, host-only unless
// Config.CookieDomain is set, and expires with the session. Browsers accept
// Secure cookies on http://localhost, so local development needs no
// Config.InsecureCookies. [Manager.SetCookie], [Manager.ClearCookie] and
// [Manager.TokenFromRequest] are there for hosts that build their own flow.
//
// # Middleware
//
// [Manager.Middleware] validates the cookie of every request and, when the
// session is valid, puts it in the request's context, where handlers find
// it with [FromContext]. An invalid cookie is cleared and the request goes
// on signed out. [Manager.Require] guards the handlers that need a
// session: it redirects GET and HEAD requests to the login page and
// answers others with 401.
//
//	mux.Handle("GET /account", sm.Require("/login")(accountHandler))
//	mux.HandleFunc("POST /login", loginHandler) // reads r.PostFormValue("password")
//	cop := http.NewCrossOriginProtection()
//	http.ListenAndServe(addr, sm.Middleware(cop.Handler(mux)))
//
// A login form needs the cross-origin protection as much as any other: a
// page elsewhere that posts it signs the visitor into the attacker's
// account (login CSRF), and SameSite cookies do not stop it, since the
// visitor has no session yet. http.CrossOriginProtection (Go 1.25) refuses
// such posts, as examples/webapp does. Read the credentials with
// r.PostFormValue: r.FormValue takes them from the query string too,
// where proxies and access logs keep them.
//
// # Password resets
//
// *Manager satisfies reset.SessionRevoker through
// [Manager.RevokeUserSessions], so a password reset can sign the user out
// of every device. When the sessions live in the same store as the resets
// (store/memstore, store/sqlitestore or store/pgstore over one database),
// reset.Config.Sessions may stay nil: the reset then revokes them in the
// same transaction that spends the token. Pass the Manager there when the
// sessions live elsewhere.
//
// # Stores
//
// A Store implements the methods of the [Store] interface, each
// documented as a contract; store/storetest checks an implementation
// against them. Package session imports nothing else of this module.
package session
