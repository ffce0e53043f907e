package mail_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/mail"
)

func TestParseSMTPURL(t *testing.T) {
	for raw, want := range map[string]mail.SMTP{
		"smtp://smtp.example.com":                           {Addr: "smtp.example.com:587"},
		"smtp://u%40corp:p%3Ass%2Fw@smtp.example.com:2525/": {Addr: "smtp.example.com:2525", Username: "u@corp", Password: "p:ss/w"},
		"smtps://apikey:k@smtp.example.com":                 {Addr: "smtp.example.com:465", Username: "apikey", Password: "k", TLSMode: mail.ImplicitTLS},
		"smtp+insecure://localhost:1025":                    {Addr: "localhost:1025", TLSMode: mail.Insecure},
		"smtp://[::1]:587":                                  {Addr: "[::1]:587"},
	} {
		got, err := mail.ParseSMTPURL(raw)
		require.NoError(t, err, raw)
		require.Equal(t, want, *got, raw)
	}
}

// A URL that is not an SMTP server's is refused with a message that says
// how to write one, and never quotes the password.
func TestParseSMTPURLRefuses(t *testing.T) {
	const pw = "s3cret-pw"
	for raw, want := range map[string]string{
		"":                              "scheme",
		"smtp.example.com:587":          "scheme",
		"https://u:" + pw + "@h":        "scheme",
		"smtp://u:" + pw + "@":          "no host",
		"smtp://u:" + pw + "@h/inbox":   "path",
		"smtp://u:" + pw + "@h?tls=off": "query",
		"smtp://u:" + pw + "@h:587#x":   "fragment",
		"smtp://u:" + pw + "%zz@h":      "does not parse",
		"smtp://u:" + pw + "@h:port":    "does not parse",
	} {
		_, err := mail.ParseSMTPURL(raw)
		require.ErrorContains(t, err, want, raw)
		require.NotContains(t, err.Error(), pw, raw)
	}
}
