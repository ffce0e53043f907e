package main

// passreset:begin
// This file is what the app gained for passreset, with the lines marked
// "passreset" in app.go and main.go.

import (
	"context"
	"net/http"
	"os"

	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/reset/pages"
	"github.com/passreset/passreset/scsreset"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/pgstore"
	"github.com/passreset/passreset/store/sqlitestore"
)

// addPasswordReset adds passreset to the app: its store in the app's
// database, over the accounts table, with its own tables (passreset_*)
// beside it; the email (the dev mailbox, or SMTP); the reset Service,
// which signs users out of their scs sessions; and the forgot and reset
// pages on mux. The store writes to accounts only the digest, is_verified
// and modified_at of the account whose password is reset.
func (a *app) addPasswordReset(ctx context.Context, cfg config, mux *http.ServeMux) (err error) {
	accounts := store.UsersTable{Table: "accounts", ID: "account_id", Email: "email_address", PasswordHash: "pw_digest", Verified: "is_verified", UpdatedAt: "modified_at"}
	var st interface {
		store.Store
		Migrate(context.Context) error
	}
	if a.postgres {
		pg, err := pgstore.Open(ctx, cfg.DB, pgstore.WithUsers(accounts))
		if err != nil {
			return err
		}
		a.closers, st = append(a.closers, pg.Close), pg
	} else if st, err = sqlitestore.New(a.db, sqlitestore.WithUsers(accounts)); err != nil {
		return err
	}
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	key, err := reset.ParseSecretKey(os.Getenv("PASSRESET_SECRET_KEY")) // none: a key for this run only
	if err != nil {
		return err
	}
	var mailer reset.Mailer = &mail.SMTP{Addr: cfg.SMTP, Username: cfg.SMTPUser, Password: cfg.SMTPPassword}
	if cfg.SMTP == "" {
		mailbox := mail.NewDev(a.log, 100)
		mailer = mailbox
		mux.Handle("GET /dev/mail", mailbox.Handler()) // answers this machine only
	}
	if a.sess, err = scsreset.New(scsreset.Config{Manager: a.sm, Logger: a.log}); err != nil {
		return err
	}
	a.svc, err = reset.NewService(reset.Config{Store: st, Mailer: mailer, ResetURL: cfg.BaseURL + "/reset-password",
		SecretKey: key, Sessions: a.sess, Logger: a.log, Hasher: password.Bcrypt{Cost: a.cost}}) // bcrypt, as the app's own digests
	if err != nil {
		return err
	}
	if a.forgot, err = pages.New(pages.Config{Service: a.svc, SignInURL: "/login"}); err != nil {
		return err
	}
	a.forgot.Register(mux)
	return nil
}

// passreset:end
