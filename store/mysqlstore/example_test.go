package mysqlstore_test

import (
	"context"
	"log"
	"os"

	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/mysqlstore"
)

// Open connects (a DSN, or mysql://user:password@host:3306/database),
// Migrate brings passreset's tables up to date (safe on every instance at
// once), and the one Store serves both the reset Service and the session
// Manager.
func Example() {
	ctx := context.Background()
	st, err := mysqlstore.Open(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		log.Fatal(err)
	}

	sessions, err := session.New(session.Config{Store: st})
	if err != nil {
		log.Fatal(err)
	}
	svc, err := reset.NewService(reset.Config{
		Store:     st,
		Mailer:    mail.NewDev(nil, 100), // a *mail.SMTP in production
		ResetURL:  "https://app.example/reset-password",
		SecretKey: []byte(os.Getenv("PASSRESET_SECRET_KEY")), // shared by every instance
	})
	if err != nil {
		log.Fatal(err)
	}
	_, _ = sessions, svc
}

// An app with its own accounts table describes it, and passreset keeps
// only its own tables (passreset_*) beside it. OpenDB makes a pool the app
// can use for its own queries too; Migrate checks the description against
// the table and never changes the table.
func ExampleWithUsers() {
	ctx := context.Background()
	cfg, err := mysqlstore.ParseDSN(os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	db, err := mysqlstore.OpenDB(cfg) // the app's pool
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	st, err := mysqlstore.New(ctx, db, mysqlstore.WithUsers(store.UsersTable{
		Table:        "accounts", // account_id BIGINT AUTO_INCREMENT: ids show as "user_42"
		ID:           "account_id",
		Email:        "email_address",
		PasswordHash: "pw_digest",
		Verified:     "is_verified", // optional
		UpdatedAt:    "modified_at", // optional
	}))
	if err != nil {
		log.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		log.Fatal(err) // names any column the table lacks
	}

	svc, err := reset.NewService(reset.Config{
		Store:     st,
		Mailer:    mail.NewDev(nil, 100),
		ResetURL:  "https://app.example/reset-password",
		SecretKey: []byte(os.Getenv("PASSRESET_SECRET_KEY")),
	})
	if err != nil {
		log.Fatal(err)
	}
	// The app's own login checks a password against the hash it read from
	// accounts.pw_digest as passreset stored it, and keeps the stamp in
	// its session (StampMatches on each request).
	var digest string
	if err := db.QueryRowContext(ctx, `SELECT pw_digest FROM accounts WHERE email_address = ?`, "ana@example.com").Scan(&digest); err != nil {
		log.Fatal(err)
	}
	stamp, err := svc.CheckPassword(digest, "the password typed")
	_, _ = stamp, err
}
