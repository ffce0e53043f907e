// Package passreset is a complete, secure password-reset flow for Go web
// applications, in process: issue a one-time token for an email and send
// the email, look a reset up, and redeem the token to set a new bcrypt
// password, which signs the user out of every session in the same stroke.
// It does what WorkOS's hosted password-reset API does, and speaks that
// API's wire format when mounted over HTTP.
//
// This package holds New, which adds passreset to an app that already has
// its users and sessions in one call: it migrates the store, builds the
// reset Service and the forgot and reset pages, and runs the background
// work. The flow itself lives in the subpackages.
//
//	kit, err := passreset.New(ctx, passreset.Config{
//		Store:     st, // e.g. sqlitestore.New(db, sqlitestore.WithUsers(...))
//		BaseURL:   "https://app.example",
//		Sessions:  sess, // e.g. scsreset.New(scsreset.Config{Manager: sm})
//		Mailer:    &mail.SMTP{Addr: "smtp.example.com:587", Username: "u", Password: "p"},
//		SecretKey: os.Getenv("PASSRESET_SECRET_KEY"),
//	})
//	kit.Register(mux)
//	go kit.Run(ctx)
//
// then kit.CheckPassword in the app's login, and the credential stamp
// checked on every request (kit.StampMatches, or scsreset's Middleware).
//
// # A tour
//
//   - [github.com/passreset/passreset/reset] is the flow a host calls: the
//     Service (CreatePasswordReset, GetPasswordReset, ResetPassword,
//     CheckToken; CheckPassword for a host's own sign-in; the credential
//     stamp, Stamp and StampMatches, that signs old sessions out whoever
//     keeps them), its Config, the errors, and the ports it needs of the
//     host: Mailer and SessionRevoker.
//   - [github.com/passreset/passreset/account] keeps the users for apps
//     that let passreset keep them: CreateUser, GetUser, Authenticate (with
//     its limit on failed sign-ins) and ChangePassword, built on a
//     reset.Service and sharing its hashing cap.
//   - [github.com/passreset/passreset/store] is what a storage adapter
//     implements (the Store port, its types and sentinels), as
//     database/sql/driver is for database/sql. The adapters: store/memstore
//     (tests, prototypes), store/sqlitestore (the embedded default, one
//     machine) and store/pgstore (several machines), the last two over the
//     host's own users table by description (WithUsers) or over passreset's
//     own; store/storetest is the conformance suite every adapter runs.
//   - [github.com/passreset/passreset/password]: hashing (bcrypt by
//     default), the normal form passwords are compared in, and the policy.
//   - [github.com/passreset/passreset/session] signs users in for apps
//     without a session library: a Manager that creates, validates, lists
//     and revokes sessions, with cookies and middleware. It satisfies
//     reset.SessionRevoker. [github.com/passreset/passreset/scsreset] does
//     the same for apps whose sessions live in alexedwards/scs.
//   - [github.com/passreset/passreset/reset/pages] serves the forgot and
//     reset pages; [github.com/passreset/passreset/workos] serves WorkOS's
//     JSON API; [github.com/passreset/passreset/clientlimit] limits
//     requests per client for both.
//   - [github.com/passreset/passreset/emailaddr]: the one form of an
//     address (NFC, the domain in ASCII) and the key addresses are matched
//     by, refusing invisible, bidirectional and look-alike characters,
//     domain literals and over-long addresses.
//   - [github.com/passreset/passreset/mail]: the Message type and the
//     transports (SMTP, and Dev, a mailbox in memory with a page for this
//     machine); mail/mailtest records messages in tests.
//   - examples/: runnable programs: quickstart (the flow told step by
//     step), webapp (a monolith with sign-in and the reset pages),
//     existingapp (passreset added to an app with its own users table,
//     login and scs sessions), apiserver (the WorkOS-compatible JSON API),
//     customstore (a Store for users a table description cannot reach).
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
// A host whose users are in a SQL table describes it (store.UsersTable,
// given to sqlitestore.WithUsers or pgstore.WithUsers) and writes no
// adapter. One whose users are not in SQL, or not in a shape a description
// can say, implements store.Store: three lookups of its users, and
// passreset's own state (resets, rate-limit records, the outbox), with the
// atomic calls CreateReset and RedeemReset (spend the token only if unused
// and unexpired, and write the new hash, in one transaction). Each
// method's doc comment is its contract; store/storetest.Run checks an
// adapter against every clause, the concurrent ones included
// (examples/customstore shows how). Sessions that live elsewhere are
// signed out by the credential stamp and, optionally, a
// reset.SessionRevoker given in reset.Config.Sessions; mail goes through a
// reset.Mailer (mail.SMTP serves most hosts).
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
