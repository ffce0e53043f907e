package clientlimit_test

import (
	"fmt"
	"net/http/httptest"
	"net/netip"
	"time"

	"github.com/passreset/passreset/clientlimit"
)

// Behind a proxy that sets X-Real-IP and passes the client's own
// X-Forwarded-For through, the client is read from X-Real-IP alone: a
// forged X-Forwarded-For does not make it another client.
func ExampleNew_behindProxy() {
	l, err := clientlimit.New(clientlimit.Config{
		Requests:       1,
		Per:            time.Hour,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		ClientHeader:   "X-Real-IP",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := httptest.NewRequest("POST", "/forgot-password", nil)
	r.RemoteAddr = "10.0.0.2:5000"                 // the proxy
	r.Header.Set("X-Real-IP", "198.51.100.7")      // set by the proxy
	r.Header.Set("X-Forwarded-For", "203.0.113.1") // sent by the client
	fmt.Println(l.ClientIP(r))
	ok, _ := l.Allow(r)
	fmt.Println(ok)
	r.Header.Set("X-Forwarded-For", "203.0.113.2")
	ok, retry := l.Allow(r)
	fmt.Println(ok, retry)
	// Output:
	// 198.51.100.7
	// true
	// false 1h0m0s
}

// AllowKey counts under a name of the caller's choosing, such as a keyed
// hash of an email address (reset.Service.AddressKey).
func ExampleLimiter_AllowKey() {
	l, err := clientlimit.New(clientlimit.Config{Requests: 3, Per: time.Hour})
	if err != nil {
		fmt.Println(err)
		return
	}
	for range 4 {
		ok, _ := l.AllowKey("5e8c...") // a hash, never the address itself
		fmt.Print(ok, " ")
	}
	fmt.Println()
	// Output:
	// true true true false
}
