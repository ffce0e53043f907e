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
	if smtpErr, ok := errors.AsType[*mail.SMTPError](err); ok && smtpErr.Temporary() {
		log.Printf("will try again later: %v", err)
	} else if err != nil {
		log.Printf("not sent: %v", err)
	}
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
