package workos_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDuplicateAndCaseVariantKeys: encoding/json lets the last of two keys
// win and matches keys without regard to case, so {"email":"a","Email":"b"}
// acted on b. Such bodies are refused with 422, and nothing is done.
func TestDuplicateAndCaseVariantKeys(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, userEmail)
	e.createUser(t, "victim@example.com")
	for _, body := range []string{
		`{"email":"` + userEmail + `","Email":"victim@example.com"}`,
		`{"email":"` + userEmail + `","email":"victim@example.com"}`,
		`{"EMAIL":"victim@example.com"}`,
	} {
		r := e.do(t, req{method: http.MethodPost, path: "/user_management/password_reset", body: body})
		requireError(t, r, http.StatusUnprocessableEntity, "invalid_request_parameters")
	}
	r := e.do(t, req{method: http.MethodPost, path: "/user_management/users",
		body: `{"email":"md@example.com","password":"a long password","metadata":{"plan":"free","plan":"pro"}}`})
	requireError(t, r, http.StatusUnprocessableEntity, "invalid_request_parameters")
	require.Zero(t, e.mail.Len(), "a refused request sent an email")

	// Unknown keys are still ignored, and a well-formed body still works.
	r = e.do(t, req{method: http.MethodPost, path: "/user_management/password_reset", body: `{"email":"` + userEmail + `","organization_id":"org_1"}`})
	require.Equal(t, http.StatusCreated, r.status, string(r.raw))
}

// TestCreateUserRefusesUnsafeNames: a name with a line break is 422 over
// the API too.
func TestCreateUserRefusesUnsafeNames(t *testing.T) {
	e := newEnv(t)
	r := e.post(t, "/user_management/users", map[string]any{"email": "n@example.com", "password": "a long password", "first_name": "Ana\r\nBcc: x@example.com"})
	requireError(t, r, http.StatusUnprocessableEntity, "invalid_request_parameters")
}
