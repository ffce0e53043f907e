package password

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultPwnedURL is the range endpoint of Have I Been Pwned's Pwned
// Passwords.
const DefaultPwnedURL = "https://api.pwnedpasswords.com/range/"

// Reason codes of the lists.
const (
	// ReasonCommon: the password is one of the most common (IsCommon).
	ReasonCommon = "password_common"
	// ReasonBreached: the password appears in a known breach (Pwned).
	ReasonBreached = "password_breached"
	// ReasonBreachUnchecked: the breach check could not be made, and
	// Pwned.FailClosed refuses the password for it.
	ReasonBreachUnchecked = "password_breach_unchecked"
)

// maxPwnedBody bounds an answer of the range endpoint: a real one, padded,
// is under 50 KB.
const maxPwnedBody = 1 << 20

// Pwned checks a new password against Have I Been Pwned's Pwned Passwords
// by the k-anonymity range protocol: it sends the first 5 hexadecimal
// characters of the password's SHA-1 (GET URL+prefix, with "Add-Padding:
// true" so that the answer's size tells nothing either) and looks for the
// remaining 35 among the "SUFFIX:COUNT" lines of the answer. Neither the
// password nor its full hash leaves the process. Padding lines, whose
// count is 0, never match.
//
// Use it as the Policy's Check: Policy{Check: password.Pwned{}.Check}.
type Pwned struct {
	// URL is the range endpoint, to which the prefix is appended. Default
	// DefaultPwnedURL.
	URL string
	// Client sends the request. Default http.DefaultClient. Timeout
	// applies whatever the Client's own.
	Client *http.Client
	// Timeout bounds one check. Default 2 seconds.
	Timeout time.Duration
	// FailClosed refuses a password when the check cannot be made (the
	// service is down, slow or answers oddly), with ReasonBreachUnchecked.
	// Default false: the password is accepted, since the other rules still
	// hold, and a reset does not depend on a third party's availability.
	FailClosed bool
	// MinCount is the number of breaches from which a password is refused.
	// Default 1.
	MinCount int
}

// Check implements Policy.Check: nil, or a *PolicyError with
// ReasonBreached or (FailClosed) ReasonBreachUnchecked.
func (p Pwned) Check(ctx context.Context, password string, _ PolicyUser) error {
	n, err := p.Count(ctx, password)
	switch {
	case err != nil && p.FailClosed:
		return &PolicyError{Reasons: []Reason{{ReasonBreachUnchecked, "This password could not be checked against known data breaches. Try again in a moment."}}}
	case err != nil:
		return nil
	case n >= max(p.MinCount, 1):
		return &PolicyError{Reasons: []Reason{{ReasonBreached, "This password has appeared in a data breach. Choose another one."}}}
	}
	return nil
}

// Count returns how many times password appears in the breaches Pwned
// Passwords knows, 0 when none, or an error when the service could not
// tell. The error never holds the password or its hash.
func (p Pwned) Count(ctx context.Context, password string) (int, error) {
	sum := sha1.Sum([]byte(password))
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	prefix, suffix := h[:5], h[5:]
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	base := p.URL
	if base == "" {
		base = DefaultPwnedURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+prefix, nil)
	if err != nil {
		return 0, fmt.Errorf("password: pwned: %w", err)
	}
	req.Header.Set("Add-Padding", "true")
	client := p.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("password: pwned: %w", errors.Unwrap(err)) // the URL holds the prefix only
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("password: pwned: status %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, maxPwnedBody))
	lines := 0
	for sc.Scan() {
		s, c, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok || len(s) != 35 {
			return 0, errors.New("password: pwned: malformed answer")
		}
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 0 {
			return 0, errors.New("password: pwned: malformed answer")
		}
		lines++
		if strings.EqualFold(s, suffix) && n > 0 {
			return n, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("password: pwned: read answer: %w", err)
	}
	if lines == 0 {
		// Every prefix has suffixes, and padding adds more: an empty
		// answer is a broken one, not a clean password.
		return 0, errors.New("password: pwned: empty answer")
	}
	return 0, nil
}
