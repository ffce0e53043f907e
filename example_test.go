package passreset_test

import (
	"context"
	"database/sql"
	"log"
	"net/http"
	"os"

	"github.com/alexedwards/scs/v2"

	"github.com/passreset/passreset"
	"github.com/passreset/passreset/scsreset"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/sqlitestore"
)

// An app with its own accounts table, scs sessions and login adds
// password reset: the store over its table, the Kit, the pages on its
// mux, the background work, and the stamp check on every request. Its
// login then calls kit.CheckPassword and sess.SignIn.
func ExampleNew() {
	ctx := context.Background()
	db, err := sql.Open("sqlite3", sqlitestore.DSN("app.db")) // the app's own database
	if err != nil {
		log.Fatal(err)
	}
	sm := scs.New() // the app's own sessions
	mux := http.NewServeMux()

	st, err := sqlitestore.New(db, sqlitestore.WithUsers(store.UsersTable{
		Table: "accounts", ID: "account_id", Email: "email_address", PasswordHash: "pw_digest"}))
	if err != nil {
		log.Fatal(err)
	}
	sess, err := scsreset.New(scsreset.Config{Manager: sm})
	if err != nil {
		log.Fatal(err)
	}
	kit, err := passreset.New(ctx, passreset.Config{
		Store: st, Sessions: sess, BaseURL: "https://app.example",
		SMTP:      os.Getenv("PASSRESET_SMTP_URL"), // smtp://user:password@smtp.example.com:587
		SecretKey: os.Getenv("PASSRESET_SECRET_KEY"),
	})
	if err != nil {
		log.Fatal(err)
	}
	kit.Register(mux)
	go kit.Run(ctx)
	log.Fatal(http.ListenAndServe(":8080", sm.LoadAndSave(sess.Middleware(kit, http.NewCrossOriginProtection().Handler(mux)))))
}
