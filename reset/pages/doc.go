// Package pages serves the HTML pages of the password-reset flow: the
// "forgot password" form that sends the reset email, and the page the link
// in that email opens, where the user chooses a new password. A host mounts
// them on its own http.ServeMux, next to its own sign-in handler:
//
//	h, err := pages.New(pages.Config{Service: svc, SignInURL: "/sign-in"})
//	if err != nil { ... }
//	h.Register(mux) // GET and POST /forgot-password and /reset-password
//	defer h.Shutdown(ctx)
//
// The host's sign-in handler calls h.AllowSignIn(r) first: it limits the
// sign-in posts of each client (each failed password costs a bcrypt
// comparison) and names the client for account.AuthenticateParams.Client.
//
// # The pages
//
//   - GET /forgot-password: a form with one field, email.
//   - POST /forgot-password: answers "check your email", with the same page
//     and status whether the address has an account or not, is rate limited
//     (per address, or the client per IP), or the email fails to send. The
//     request is recorded first (reset.Service.RequestPasswordReset: one
//     durable write, the same for every address, with no lookup), then the
//     answer is sent; only then are the reset created and the email sent, in
//     the background, so the answer's timing tells nothing either
//     (BenchmarkForgotPasswordEnumeration measures it). A request answered
//     is never lost: if the process dies before its work is done, the
//     Service's dispatcher (reset.Service.RunDispatcher, in this process
//     once restarted or in another instance) carries it out within seconds.
//     Run one: it also takes the requests this Handler leaves to it (past
//     Config.MaxPending, and after Shutdown). When the request cannot be
//     recorded (the database is down), the page says so, status 503, and
//     asks to send the form again.
//   - GET /reset-password?token=...: the form to choose a new password (the
//     token in a hidden field, new_password, confirm_password), or a "link
//     expired or already used" page that offers a new link. A GET never
//     spends a token: mail scanners fetch links before the user clicks.
//   - The "check your email" page also offers the code form (email, hidden;
//     code; new_password; confirm_password), for every address alike, so
//     that the code of the email works in the browser that asked for it.
//   - POST /reset-password with email and code instead of token: redeems
//     the reset by its code. A wrong code, or an address without an
//     account or a code, gets the same page again with one message, in the
//     same time; each code allows 5 guesses, and its link dies with it.
//   - POST /reset-password: checks that both passwords match and redeems the
//     token (reset.Service.ResetPassword), which signs the user out
//     everywhere, then redirects to the host's sign-in page with a notice
//     (see [Notice]). It never signs the user in. A password the policy
//     refuses re-renders the form with the reasons, and the token stays
//     usable; a spent, expired or unknown token gets the "link expired" page.
//
// # Security
//
// Every answer carries Referrer-Policy: no-referrer, Cache-Control:
// no-store, X-Frame-Options: DENY, X-Content-Type-Options: nosniff and a
// Content-Security-Policy that allows no script, no framing, only the
// page's own nonce-tagged style element, and form posts to the page's own
// origin (and the sign-in page's, when that is another). Cross-origin form
// posts are refused with http.CrossOriginProtection (403), request bodies
// are capped (Config.MaxBodyBytes, 413 past it), and tokens and passwords
// are never logged. Each client (IP address) may post the two forms 10
// times a minute (Config.ClientLimit); behind a reverse proxy, list it in
// ClientLimit.TrustedProxies and name the header it sets in
// ClientLimit.ClientHeader, so that clients are told apart by the address
// it forwards. Clients behind one NAT share that limit, so a forgot post
// over it still goes through while the address it names has some of its
// own small quota left (Config.AddressQuota, 3 an hour): junk posts from a
// neighbour cannot silently drop someone's email. The reset page's URL holds the token in its query
// string: a host's request log should record r.URL.Path, never r.URL or
// r.RequestURI.
//
// # Templates
//
// The pages are html/templates that a host may replace (Config.Templates).
// [DefaultTemplates] returns the built-in set, which a host can start from
// and redefine one template of, such as "head" and "foot", which frame
// every page. Each page is executed with a [*Page]. The built-in pages use
// labelled fields, autocomplete="email" and "new-password", and no
// JavaScript.
package pages
