package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/clientlimit"
)

// TestAddressFormsOverHTTP: through the running app's forgot page, the
// NFC and NFD spellings of one address, with its domain in punycode or in
// Unicode, reach its one account, each email going to the address as
// stored; an address with an invisible, bidirectional or look-alike
// character, a domain literal or a 65-octet local part gets the very
// answer an unknown address gets, beside an account it passes for, and
// no email.
func TestAddressFormsOverHTTP(t *testing.T) {
	// No per-client limit: every answer is the page's own.
	a := startApp(t, func(c *config) { c.ClientLimit = clientlimit.Config{Disabled: true} })
	u := a.createUser(t, "JOSE\u0301@BU\u0308CHER.example", "the old passphrase")
	a.createUser(t, "kate@example.com", "the old passphrase")
	for _, email := range []string{"jos\u00e9@xn--bcher-kva.example", "jose\u0301@b\u00fccher.example"} {
		got := forgot(t, a, client(t), email)
		require.Equal(t, http.StatusOK, got.status)
	}
	a.waitForMail(t, 2)

	for i, refused := range []string{"\u212aate@example.com", "ka\u200dte@example.com", "kate\u202e@example.com",
		"kate@[192.0.2.1]", strings.Repeat("k", 65) + "@example.com"} {
		nobody := fmt.Sprintf("nobody%d@example.com", i)
		unknown := forgot(t, a, client(t), nobody)
		got := forgot(t, a, client(t), refused)
		require.Equal(t, http.StatusOK, unknown.status)
		unknown.body = strings.ReplaceAll(unknown.body, nobody, "EMAIL")
		got.body = strings.ReplaceAll(got.body, refused, "EMAIL")
		require.Equal(t, unknown, got, "%+q", refused)
	}
	a.finishBackground(t)
	msgs := a.mailbox.Messages()
	require.Len(t, msgs, 2, "an email went out for a refused address")
	for _, m := range msgs {
		require.Equal(t, u.Email, m.To)
	}
}
