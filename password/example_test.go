package password_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/passreset/passreset/password"
)

func ExampleIsCommon() {
	fmt.Println(password.IsCommon("password123"), password.IsCommon("QwertyUiop"), password.IsCommon("lantern vinegar orbit"))
	// Output: true true false
}

// Pwned checks a password against Have I Been Pwned's range endpoint,
// here an in-process server that speaks the protocol: only the first five
// characters of the password's SHA-1 are sent.
func ExamplePwned() {
	sum := sha1.Sum([]byte("hunter2-leaked"))
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.TrimPrefix(r.URL.Path, "/range/") == h[:5] {
			fmt.Fprintf(w, "%s:42\r\n", h[5:])
		}
		fmt.Fprint(w, "0000000000000000000000000000000000A:0\r\n") // padding
	}))
	defer srv.Close()

	policy := password.Policy{Check: password.Pwned{URL: srv.URL + "/range/", Timeout: 2 * time.Second}.Check}
	err := policy.Validate(context.Background(), "hunter2-leaked", password.PolicyUser{})
	var pe *password.PolicyError
	if errors.As(err, &pe) {
		fmt.Println(pe.Reasons[0].Code)
	}
	fmt.Println(policy.Validate(context.Background(), "lantern vinegar orbit", password.PolicyUser{}))
	// Output:
	// password_breached
	// <nil>
}
