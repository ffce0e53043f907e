// Package account keeps the users of an app that lets passreset keep
// them: it creates a user ([Service.CreateUser]), looks one up
// ([Service.GetUser]), signs one in ([Service.Authenticate]) and changes a
// signed-in user's password ([Service.ChangePassword]). An app that keeps
// its own users and login needs none of it: it checks passwords with
// reset.Service.CheckPassword and ends old sessions with the credential
// stamps (reset.Stamp, reset.Service.StampMatches).
//
// A Service is built on the reset.Service of the app ([New]) and shares
// its Store, Hasher, Policy, secret key, outbox and hashing cap
// (reset.Config.MaxHashing): sign-ins and the flow's redemptions are
// bounded together, a password changed here sends the flow's
// password-changed email and ends the user's outstanding resets, and
// every password, however it is set, meets one Policy.
//
//	svc, err := reset.NewService(reset.Config{Store: st, Mailer: m, ResetURL: "https://app.example/reset-password"})
//	accounts, err := account.New(svc, account.Config{})
//	in, err := accounts.Authenticate(ctx, account.AuthenticateParams{Email: email, Password: pw, Client: clientIP})
//
// # Failed sign-ins
//
// Failed sign-ins are counted in the Store, under a keyed hash of the
// address (with reset.Config.SecretKey), per address and client
// (Config.SignInLimit, 10 per 15 minutes) and per address over all clients
// (Config.SignInAddressLimit, 100 per 15 minutes), for addresses with an
// account and without alike. Past either, Authenticate refuses with a
// *reset.RateLimitError before any hash comparison. The counts are kept
// under the credential stamp of the address's current password, so a new
// password (a reset, a change, or the host's own write) starts them
// afresh: an attacker can lock a client out, never the owner's reset.
//
// # Errors
//
// The sentinels are matched with errors.Is: those of this package, and
// reset's for what the flow shares (reset.ErrInvalidEmail,
// reset.ErrRateLimited, reset.ErrBusy, reset.ErrSessionsNotRevoked,
// reset.ErrWeakPassword). No error's text holds a password or a hash.
package account
