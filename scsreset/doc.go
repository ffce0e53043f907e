// Package scsreset signs users out everywhere after a password reset in
// apps whose sessions live in github.com/alexedwards/scs/v2.
//
// It does three things, all through a [*Sessions] made by [New] over the
// app's scs.SessionManager:
//
//   - [Sessions.SignIn] records the user's id and credential stamp in the
//     scs session at sign-in, and renews the session token (scs's advice at
//     every change of privilege);
//   - [Sessions.Middleware], inside scs's LoadAndSave, checks on every
//     request that carries a user id that the stamp still matches the
//     user's (one lookup by id, [*reset.Service.StampMatches]); when it no
//     longer does, it destroys the session and serves the request signed
//     out;
//   - [Sessions.RevokeUserSessions] is a ready reset.SessionRevoker: passed
//     as reset.Config.Sessions, it deletes every scs session of the user
//     from the store when a reset commits.
//
// Wiring, beside the app's own login:
//
//	sm := scs.New()
//	sm.Store = sqlite3store.New(db)
//	sess, err := scsreset.New(scsreset.Config{Manager: sm})
//	...
//	svc, err := reset.NewService(reset.Config{Store: st, Mailer: m, ResetURL: u, Sessions: sess})
//	...
//	cop := http.NewCrossOriginProtection() // refuses cross-origin posts: login CSRF
//	http.ListenAndServe(addr, sm.LoadAndSave(sess.Middleware(svc, cop.Handler(mux))))
//
// and in the app's POST /login, once it has read the user's row (with
// PostFormValue: FormValue reads the query string too, which proxies log):
//
//	stamp, err := svc.CheckPassword(row.PasswordHash, r.PostFormValue("password"))
//	if errors.Is(err, reset.ErrInvalidCredentials) { ... refuse ... }
//	if err := sess.SignIn(r.Context(), userID, stamp); err != nil { ... }
//
// # Why the stamp, and not only the revoker
//
// scs keeps a session server-side and writes it back at the end of every
// request that changed it (every request, with an IdleTimeout). A request
// that a signed-in device sent before the reset committed, and that is
// still running when RevokeUserSessions deletes the session, writes it back
// when it finishes: deleting alone would leave that device signed in. In
// the same way, a sign-in that compared the old password just before the
// reset committed creates its session just after the revoker ran. Both
// sessions carry the stamp of the old password hash, so the Middleware
// refuses each on its next request: no request that arrives after the
// reset committed is served on a session begun before it, wherever scs
// keeps the sessions. The stamp check is what guarantees sign-out;
// RevokeUserSessions only clears the store early.
//
// # The cost of RevokeUserSessions
//
// scs can find a user's sessions only by reading and decoding every
// session in the store: RevokeUserSessions reads them all at once (the
// store's AllCtx or All, as scs's SessionManager.Iterate does), and deletes
// those whose user id matches. With scs's default codec, gob, which keeps a
// string's bytes as they are, it decodes only the sessions whose bytes
// contain the user's id; with any other codec it decodes every one. Its
// cost grows with the number of live sessions of all users, and it runs on
// the request that resets the password (and again from the dispatcher when
// it failed). BenchmarkRevokeUserSessions measures it with sqlite3store:
// on a small 2-core virtual machine, about 2 ms per thousand sessions with
// gob (reading the rows), and about 35 ms per thousand with a codec that
// must decode them all. An app with very many sessions may leave
// reset.Config.Sessions unset: the stamp check alone signs the user out,
// and the rows go when they expire.
//
// With a store that cannot iterate (it implements neither scs.IterableStore
// nor scs.IterableCtxStore), RevokeUserSessions deletes nothing and
// returns nil (New logs a warning once): the sessions stay in the store
// until they expire, and the Middleware ends each on its next request.
//
// Unlike scs's Iterate, RevokeUserSessions skips a session it cannot
// decode, rather than stopping at it (LoadAndSave cannot load such a
// session either), and it deletes by the store's own key, so that it works
// with SessionManager.HashTokenInStore too.
//
// Sessions signed in before the app adopted scsreset carry no user id
// under Config.UserIDKey, so the Middleware leaves them alone; sign them
// out once (for example by renaming scs's cookie) when adopting it.
package scsreset
