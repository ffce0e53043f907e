package main

// passreset:begin
// This file is what the app gained for passreset; every line of it counts
// as glue. The few other lines are marked "passreset" in app.go and main.go.

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
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
// database, over the accounts table; the email (the dev mailbox, or SMTP);
// the reset Service, which signs users out of their scs sessions; and the
// forgot and reset pages on mux.
func (a *app) addPasswordReset(ctx context.Context, cfg config, mux *http.ServeMux) error {
	key, err := secretKey()
	if err != nil {
		return fmt.Errorf("PASSRESET_SECRET_KEY is neither hex nor base64: %w", err)
	}
	if len(key) == 0 {
		a.log.Warn("PASSRESET_SECRET_KEY is not set: passreset generated a random key, good for this run only")
	}
	st, err := a.openResetStore(ctx, cfg.DB)
	if err != nil {
		return err
	}
	var mailer reset.Mailer = &mail.SMTP{Addr: cfg.SMTP, Username: cfg.SMTPUser, Password: cfg.SMTPPassword}
	if cfg.SMTP == "" {
		mailbox := mail.NewDev(a.log, 100)
		mailer = mailbox
		mux.Handle("GET /dev/mail", mailbox.Handler()) // answers this machine only
		a.log.Info("emails go to the dev mailbox", "url", cfg.BaseURL+"/dev/mail")
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

// openResetStore opens passreset's store in the app's database, over the
// accounts table, and creates passreset's own tables (passreset_*) beside
// it. The store writes to accounts only the digest, is_verified and
// modified_at of the account whose password is reset.
func (a *app) openResetStore(ctx context.Context, db string) (store.Store, error) {
	accounts := store.UsersTable{Table: "accounts", ID: "account_id", Email: "email_address",
		PasswordHash: "pw_digest", Verified: "is_verified", UpdatedAt: "modified_at"}
	if isPostgres(db) {
		st, err := pgstore.Open(ctx, db, pgstore.WithUsers(accounts))
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, st.Close)
		return st, st.Migrate(ctx)
	}
	st, err := sqlitestore.Open(ctx, db, sqlitestore.WithUsers(accounts))
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() { st.Close() })
	return st, st.Migrate(ctx)
}

// secretKey decodes PASSRESET_SECRET_KEY, 32 bytes or more in hex or
// base64. Unset, it is empty: the Service then makes a random key.
func secretKey() ([]byte, error) {
	v := os.Getenv("PASSRESET_SECRET_KEY")
	if key, err := hex.DecodeString(v); err == nil {
		return key, nil
	}
	return base64.StdEncoding.DecodeString(v)
}

// passreset:end
