package workos_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/workos"
)

// pausingHasher is bcrypt at its cheapest whose Compare, once armed, stops
// after a successful comparison until released: a sign-in caught between
// its password check and the creation of its session.
type pausingHasher struct {
	password.Bcrypt
	mu       sync.Mutex
	armed    bool
	compared chan struct{} // closed when the armed comparison matched
	release  chan struct{} // closed to let it go on
}

func (h *pausingHasher) arm() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.armed, h.compared, h.release = true, make(chan struct{}), make(chan struct{})
}

func (h *pausingHasher) Compare(hash, pw string) error {
	err := h.Bcrypt.Compare(hash, pw)
	h.mu.Lock()
	armed, compared, release := h.armed, h.compared, h.release
	h.armed = false
	h.mu.Unlock()
	if armed && err == nil {
		close(compared)
		<-release
	}
	return err
}

// TestSignInRacingAReset: a password sign-in that has passed its password
// comparison when a reset commits gets its tokens, but neither its refresh
// token nor its access token outlives the reset, on every store.
func TestSignInRacingAReset(t *testing.T) {
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			h := &pausingHasher{Bcrypt: password.Bcrypt{Cost: 4}}
			e := newEnvOn(t, newStore(t), func(rc *reset.Config, _ *workos.Config) { rc.Hasher = h })
			e.createUser(t, userEmail)
			before := e.signIn(t, userEmail, oldPassword)

			h.arm()
			var racing map[string]any
			done := make(chan struct{})
			go func() {
				defer close(done)
				racing = e.signIn(t, userEmail, oldPassword)
			}()
			<-h.compared

			_, tok := e.createReset(t, userEmail)
			r := e.post(t, "/user_management/password_reset/confirm", map[string]any{"token": tok, "new_password": "a password set by a reset"})
			require.Equal(t, http.StatusOK, r.status, string(r.raw))
			close(h.release)
			<-done
			require.NotEmpty(t, racing["refresh_token"], "the racing sign-in was answered")

			for name, s := range map[string]map[string]any{"before the reset": before, "racing the reset": racing} {
				r := e.refresh(t, s["refresh_token"].(string))
				require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", name, r.raw)
				require.Equal(t, "invalid_grant", r.body["error"], name)
				_, err := e.h.ValidateAccessToken(t.Context(), s["access_token"].(string))
				require.ErrorIs(t, err, workos.ErrInvalidAccessToken, name)
			}
			after := e.signIn(t, userEmail, "a password set by a reset")
			require.Equal(t, http.StatusOK, e.refresh(t, after["refresh_token"].(string)).status)
		})
	}
}

// TestAccessTokenOfIdleSession: an access token is refused once its session
// has gone unused for the idle timeout, even while the token itself is
// unexpired.
func TestAccessTokenOfIdleSession(t *testing.T) {
	e := newEnv(t, func(_ *reset.Config, ac *workos.Config) { ac.AccessTokenTTL = 48 * time.Hour })
	e.createUser(t, userEmail)
	s := e.signIn(t, userEmail, oldPassword)
	access := s["access_token"].(string)
	_, err := e.h.ValidateAccessToken(t.Context(), access)
	require.NoError(t, err)

	e.clock.Add(24*time.Hour + time.Second) // the default idle timeout, passed
	_, err = e.h.ValidateAccessToken(t.Context(), access)
	require.ErrorIs(t, err, workos.ErrInvalidAccessToken)
}
