package pgstore_test

import (
	"context"
	"log"
	"os"

	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store/pgstore"
)

// Open connects, Migrate brings the schema up to date (safe on every
// instance at once), and the one Store serves both the reset Service and
// the session Manager.
func Example() {
	ctx := context.Background()
	st, err := pgstore.Open(ctx, os.Getenv("DATABASE_URL"), pgstore.WithSchema("passreset"))
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
