package workos_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store/memstore"
	"github.com/passreset/passreset/workos"
)

// The API over an in-memory store: create a user, ask for a reset, confirm
// it, as a WorkOS SDK would.
func Example() {
	st := memstore.New() // users, resets and sessions in one store
	quiet := slog.New(slog.DiscardHandler)
	svc, err := reset.NewService(reset.Config{
		Store:    st,
		Mailer:   mail.NewDev(quiet, 10),
		ResetURL: "https://app.example/reset-password",
		Logger:   quiet,
		Hasher:   password.Bcrypt{Cost: 4}, // fast for the example; leave it 0 (cost 12) in production
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	sm, err := session.New(session.Config{Store: st, Stamps: svc})
	if err != nil {
		fmt.Println(err)
		return
	}
	// In production, the key comes from the environment: at least 32
	// bytes, for example `openssl rand -hex 32`.
	const apiKey = "sk_example_1d9c0f5a8e2b4c7d9e0f1a2b3c4d5e6f"
	h, err := workos.New(workos.Config{Service: svc, Sessions: sm, APIKeys: []string{apiKey}})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	call := func(path, body string) string {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		fmt.Println(path, res.Status, res.Header.Get("Content-Type"))
		return string(b)
	}

	call("/user_management/users", `{"email":"marcelina.davis@example.com","password":"correct horse battery"}`)
	created := call("/user_management/password_reset", `{"email":"marcelina.davis@example.com"}`)
	token := strings.Split(strings.Split(created, `"password_reset_token":"`)[1], `"`)[0]
	call("/user_management/password_reset/confirm", `{"token":"`+token+`","new_password":"a much better passphrase"}`)
	fmt.Println(call("/user_management/password_reset/confirm", `{"token":"`+token+`","new_password":"once more, please"}`))
	// Output:
	// /user_management/users 201 Created application/json
	// /user_management/password_reset 201 Created application/json
	// /user_management/password_reset/confirm 200 OK application/json
	// /user_management/password_reset/confirm 400 Bad Request application/json
	// {"code":"password_reset_error","message":"The password reset token is invalid.","errors":[{"code":"password_reset_token_invalid","message":"The password reset token is invalid, or has already been used."}]}
}
