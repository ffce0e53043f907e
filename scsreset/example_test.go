package scsreset_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"

	"github.com/alexedwards/scs/sqlite3store"
	"github.com/alexedwards/scs/v2"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/scsreset"
	"github.com/passreset/passreset/store/sqlitestore"
)

// An app with scs sessions in SQLite signs a user in on a device, the user
// resets their password, and the device is signed out.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "scsreset-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.db")

	// passreset's store, and scs's sessions in the same file.
	st, err := sqlitestore.Open(ctx, path)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	db, err := sql.Open("sqlite3", sqlitestore.DSN(path))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE sessions (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL)`); err != nil {
		log.Fatal(err)
	}
	sm := scs.New()
	sm.Store = sqlite3store.NewWithCleanupInterval(db, 0)

	quiet := slog.New(slog.DiscardHandler)
	sess, err := scsreset.New(scsreset.Config{Manager: sm, Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	svc, err := reset.NewService(reset.Config{
		Store:    st,
		Mailer:   mail.NewDev(quiet, 10),
		ResetURL: "https://app.example/reset-password",
		Sessions: sess, // deletes the user's scs sessions when a reset commits
		Hasher:   password.Bcrypt{Cost: 4},
		Logger:   quiet,
	})
	if err != nil {
		log.Fatal(err)
	}
	accounts, err := account.New(svc, account.Config{}) // sign-in, when passreset keeps the users
	if err != nil {
		log.Fatal(err)
	}
	user, err := accounts.CreateUser(ctx, account.CreateUserParams{Email: "ada@example.com", Password: "correct horse battery"})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// The app's own login would read its users table; here passreset
		// keeps the users.
		in, err := accounts.Authenticate(r.Context(), account.AuthenticateParams{Email: r.PostFormValue("email"), Password: r.PostFormValue("password")})
		if errors.Is(err, reset.ErrInvalidCredentials) {
			http.Error(w, "wrong email or password", http.StatusUnauthorized)
			return
		} else if err != nil {
			http.Error(w, "try again later", http.StatusInternalServerError)
			return
		}
		if err := sess.SignIn(r.Context(), in.User.ID, in.Stamp); err != nil {
			http.Error(w, "try again later", http.StatusInternalServerError)
			return
		}
	})
	mux.HandleFunc("GET /account", func(w http.ResponseWriter, r *http.Request) {
		if sess.UserID(r.Context()) == "" {
			http.Error(w, "sign in first", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "your account")
	})
	srv := httptest.NewServer(sm.LoadAndSave(sess.Middleware(svc, mux)))
	defer srv.Close()

	jar, _ := cookiejar.New(nil)
	device := &http.Client{Jar: jar}
	status := func(res *http.Response, err error) int {
		if err != nil {
			log.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	fmt.Println("sign in:", status(device.PostForm(srv.URL+"/login", url.Values{"email": {user.Email}, "password": {"correct horse battery"}})))
	fmt.Println("account:", status(device.Get(srv.URL+"/account")))

	pr, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: user.Email})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "a brand new passphrase"}); err != nil {
		log.Fatal(err)
	}
	fmt.Println("account after the reset:", status(device.Get(srv.URL+"/account")))
	// Output:
	// sign in: 200
	// account: 200
	// account after the reset: 401
}
