package mail_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/passreset/passreset/mail"
)

func ExampleDev() {
	// A logger without timestamps, so that the output is reproducible.
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
	dev := mail.NewDev(logger, 10)

	for _, to := range []string{"marcelina.davis@example.com", "ada@example.com"} {
		err := dev.Send(context.Background(), mail.Message{
			From:    "noreply@app.example",
			To:      to,
			Subject: "Reset your password",
			Text:    "Open https://app.example/reset-password?token=... to choose a new password.",
		})
		if err != nil {
			fmt.Println(err)
		}
	}
	for _, m := range dev.Messages() {
		fmt.Println(m.To)
	}
	// Output:
	// level=INFO msg="mail: message kept in dev mailbox" to=marcelina.davis@example.com subject="Reset your password"
	// level=INFO msg="mail: message kept in dev mailbox" to=ada@example.com subject="Reset your password"
	// ada@example.com
	// marcelina.davis@example.com
}

func ExampleSMTP() {
	s := &mail.SMTP{
		Addr:     "smtp.example.com:587", // STARTTLS, required by default
		Username: "apikey",
		Password: os.Getenv("SMTP_PASSWORD"),
		Timeout:  10 * time.Second,
	}
	err := s.Send(context.Background(), mail.Message{
		From:    "Example App <noreply@app.example>",
		To:      "marcelina.davis@example.com",
		Subject: "Reset your password",
		Text:    "Open https://app.example/reset-password?token=... to choose a new password.",
		HTML:    `<p><a href="https://app.example/reset-password?token=...">Choose a new password</a></p>`,
	})
	switch {
	case errors.Is(err, mail.ErrPermanent): // a 5xx reply
		log.Printf("not sent, and never will be: %v", err)
	case err != nil:
		log.Printf("will try again later: %v", err)
	}
}

// apiStatusError is the error of a transport of one's own: a client of an
// HTTP email API that answered with a status other than success.
type apiStatusError struct{ status int }

func (e *apiStatusError) Error() string { return fmt.Sprintf("emailapi: status %d", e.status) }

// Is says which failures are permanent: the API refused the request
// itself; anything else (a 429, a 5xx) may pass later.
func (e *apiStatusError) Is(target error) bool {
	return target == mail.ErrPermanent && e.status >= 400 && e.status < 500 && e.status != 429
}

func ExampleErrPermanent() {
	for _, err := range []error{
		// A transport wraps ErrPermanent...
		fmt.Errorf("emailapi: recipient address rejected: %w", mail.ErrPermanent),
		// ...or gives its error type an Is method.
		&apiStatusError{status: 422},
		&apiStatusError{status: 503},
		// An SMTP server's 5xx reply is permanent, its 4xx reply is not.
		fmt.Errorf("mail: SMTP RCPT TO: %w", &mail.SMTPError{Code: 550, Enhanced: "5.1.1"}),
		fmt.Errorf("mail: SMTP RCPT TO: %w", &mail.SMTPError{Code: 451, Enhanced: "4.3.0"}),
	} {
		fmt.Printf("%v: permanent=%t\n", err, errors.Is(err, mail.ErrPermanent))
	}
	// Output:
	// emailapi: recipient address rejected: mail: permanent failure: permanent=true
	// emailapi: status 422: permanent=true
	// emailapi: status 503: permanent=false
	// mail: SMTP RCPT TO: smtp 550 permanent (5.1.1): permanent=true
	// mail: SMTP RCPT TO: smtp 451 temporary (4.3.0): permanent=false
}

func ExampleSMTP_localDevelopment() {
	// A development server on this machine, such as Mailpit, without TLS.
	s := &mail.SMTP{Addr: "localhost:1025", TLSMode: mail.Insecure}
	_ = s
}

func ExampleMessage_Validate() {
	m := mail.Message{
		From:    "noreply@app.example",
		To:      "marcelina.davis@example.com",
		Subject: "Hello\r\nBcc: everyone@example.com",
		Text:    "...",
	}
	err := m.Validate()
	fmt.Println(err)
	fmt.Println(errors.Is(err, mail.ErrInvalidMessage))
	// Output:
	// mail: invalid message: Subject contains CR or LF
	// true
}
