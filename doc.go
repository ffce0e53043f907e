// Package passreset is a complete, secure password-reset flow for Go web
// applications, in process: issue a one-time token for an email and send
// the email, look a reset up, and redeem the token to set a new bcrypt
// password, which signs the user out of every session in the same stroke.
// It does what WorkOS's hosted password-reset API does, and speaks that
// API's wire format when mounted over HTTP.
//
// This package holds only this overview; the code lives in its
// subpackages.
//
// # A tour
//
//   - [github.com/passreset/passreset/reset] is the domain: the Service
//     (CreatePasswordReset, GetPasswordReset, ResetPassword, plus CreateUser
//     and Authenticate for apps that let the module keep their users), its
//     Config, the PasswordReset and User types, the sentinel errors, and the
//     ports it needs: Store, Mailer and SessionRevoker.
//   - [github.com/passreset/passreset/session] signs users in: a Manager that
//     creates, validates, lists and revokes sessions, cookie helpers and
//     net/http middleware. It satisfies reset.SessionRevoker.
//   - Stores: store/memstore (tests, prototypes), store/sqlitestore (the
//     embedded default, one machine) and store/pgstore (several machines).
//     Each implements store.Store and session.Store.
//   - [github.com/passreset/passreset/mail]: the Message type and the
//     transports (SMTP, and Dev, which keeps a mailbox in memory for a dev
//     page); mail/mailtest records messages in tests.
//   - examples/: runnable programs: quickstart (the flow told step by step),
//     webapp (a monolith with sign-in and the reset pages), apiserver (the
//     WorkOS-compatible JSON API), customstore (an adapter over an existing
//     users table).
//
// The smallest complete wiring:
//
//	st, _ := sqlitestore.Open(ctx, "app.db")
//	_ = st.Migrate(ctx)
//	sessions, _ := session.New(session.Config{Store: st})
//	svc, _ := reset.NewService(reset.Config{
//		Store:    st,
//		Mailer:   &mail.SMTP{Addr: "smtp.example.com:587", Username: "u", Password: "p"},
//		ResetURL: "https://app.example/reset-password",
//	})
//	pr, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: email})
//	user, err := svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: tok, NewPassword: pw})
//
// # For implementers
//
// A host that keeps its users in its own tables writes a Store adapter. It
// must provide:
//
//   - store.Store: users by email (without regard to case) and by id, the
//     password hash, resets by id and by token hash, and the atomic calls
//     CreateReset (insert and end the older resets), RedeemReset (spend the
//     token only if unused and unexpired, set the hash, mark the email
//     verified, revoke the sessions it holds, in one transaction),
//     AllowRequest (the rate limit), and the outbox (ClaimJobs, FinishJob,
//     RetryJob, FailJob) and Purge. Each method's doc comment is its
//     contract.
//   - session.Store, if sessions live in the same database; otherwise the
//     host passes its own reset.SessionRevoker in reset.Config.Sessions,
//     an idempotent RevokeUserSessions(ctx, userID) that the Service calls
//     after every reset and retries through the outbox when it fails.
//   - reset.Mailer: Send(ctx, mail.Message) error. mail.SMTP serves most
//     hosts.
//
// store/storetest.Run checks an adapter against every clause of the
// contracts, the concurrent ones included; run it from the adapter's tests
// (examples/customstore shows how).
//
// # Security
//
// Tokens are 32 bytes from crypto/rand; only their SHA-256 is stored, so
// a read of the database yields no usable link. Queued emails are sealed
// with AES-256-GCM. Passwords are NFKC-normalised, held to at least 8
// characters and at most bcrypt's 72 bytes (longer is refused, never
// truncated), and hashed with bcrypt outside any transaction. A malformed,
// unknown, spent or expired token is refused before any bcrypt work. No
// token, password or hash reaches a log line or an error's text.
package passreset
