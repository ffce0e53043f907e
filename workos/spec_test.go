package workos_test

import (
	"net/http"
	"regexp"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// The schemas below are transcribed from WorkOS's OpenAPI spec,
// ../../../shared/workos-user-management-excerpt.yaml (components.schemas
// and the inline response schemas of each route), property by property:
// the JSON type, whether the property is required, and its const or enum.

// kind is a JSON type as a schema states it.
type kind int

const (
	kString kind = iota
	kStringOrNull
	kBool
	kObject
	kStringMap // an object whose values are strings
	kArray
	kDateTime       // format: date-time
	kDateTimeOrNull // format: date-time, or null
)

type prop struct {
	kind     kind
	required bool
	enum     []string // const or enum, when the spec has one
	nested   *schema  // for objects and array items the spec details
}

type schema struct {
	name  string // where the spec has it
	props map[string]prop
}

func need(k kind, enum ...string) prop { return prop{kind: k, required: true, enum: enum} }
func opt(k kind, enum ...string) prop  { return prop{kind: k, enum: enum} }

// components.schemas.PasswordReset
var passwordResetSchema = schema{"components.schemas.PasswordReset", map[string]prop{
	"object":               need(kString, "password_reset"),
	"id":                   need(kString),
	"user_id":              need(kString),
	"email":                need(kString),
	"expires_at":           need(kDateTime),
	"created_at":           need(kDateTime),
	"password_reset_token": need(kString),
	"password_reset_url":   need(kString),
}}

// components.schemas.UserlandUser
var userSchema = schema{"components.schemas.UserlandUser", map[string]prop{
	"object":              need(kString, "user"),
	"id":                  need(kString),
	"first_name":          need(kStringOrNull),
	"last_name":           need(kStringOrNull),
	"name":                opt(kStringOrNull),
	"profile_picture_url": need(kStringOrNull),
	"email":               need(kString),
	"email_verified":      need(kBool),
	"external_id":         need(kStringOrNull),
	"metadata":            opt(kStringMap),
	"last_sign_in_at":     need(kDateTimeOrNull),
	"locale":              opt(kStringOrNull),
	"created_at":          need(kDateTime),
	"updated_at":          need(kDateTime),
}}

// POST /user_management/users 201: allOf UserlandUser and an optional
// radar_auth_attempt_id.
var createdUserSchema = func() schema {
	s := schema{"POST /user_management/users 201 (allOf UserlandUser)", map[string]prop{"radar_auth_attempt_id": opt(kString)}}
	for k, v := range userSchema.props {
		s.props[k] = v
	}
	return s
}()

// components.schemas.ResetPasswordResponse
var resetPasswordResponseSchema = schema{"components.schemas.ResetPasswordResponse", map[string]prop{
	"user": {kind: kObject, required: true, nested: &userSchema},
}}

// components.schemas.UserlandAuthenticateResponse
var authenticateResponseSchema = schema{"components.schemas.UserlandAuthenticateResponse", map[string]prop{
	"user":                       {kind: kObject, required: true, nested: &userSchema},
	"organization_id":            opt(kString),
	"authkit_authorization_code": opt(kString),
	"access_token":               need(kString),
	"refresh_token":              need(kString),
	"authentication_method": opt(kString, "SSO", "Password", "Passkey", "AppleOAuth", "BitbucketOAuth", "CrossAppAuth",
		"DiscordOAuth", "ExternalAuth", "GitHubOAuth", "GitLabOAuth", "GoogleOAuth", "GrokOAuth", "XOAuth", "IntuitOAuth",
		"LinkedInOAuth", "MicrosoftOAuth", "SalesforceOAuth", "SlackOAuth", "VercelMarketplaceOAuth", "VercelOAuth",
		"XeroOAuth", "MagicAuth", "Impersonation", "MigratedSession"),
	"impersonator": opt(kObject),
	"oauth_tokens": opt(kObject),
}}

// GET /user_management/users/{id}/sessions 200, data[] items.
var sessionSchema = schema{"GET /user_management/users/{id}/sessions 200 data[]", map[string]prop{
	"object":          need(kString, "session"),
	"id":              need(kString),
	"impersonator":    opt(kObject),
	"ip_address":      need(kStringOrNull),
	"organization_id": opt(kString),
	"user_agent":      need(kStringOrNull),
	"user_id":         need(kString),
	"auth_method": need(kString, "cross_app_auth", "external_auth", "impersonation", "magic_code", "migrated_session",
		"oauth", "passkey", "password", "sso", "unknown"),
	"status":     need(kString, "active", "expired", "revoked"),
	"expires_at": need(kDateTime),
	"ended_at":   need(kDateTimeOrNull),
	"created_at": need(kDateTime),
	"updated_at": need(kDateTime),
}}

// GET /user_management/users/{id}/sessions 200: allOf {object, list_metadata}
// and {data}.
var sessionListSchema = schema{"GET /user_management/users/{id}/sessions 200", map[string]prop{
	"object": opt(kString, "list"),
	"list_metadata": {kind: kObject, nested: &schema{"list_metadata", map[string]prop{
		"before": need(kStringOrNull),
		"after":  need(kStringOrNull),
	}}},
	"data": {kind: kArray, nested: &sessionSchema},
}}

// detailsErrorSchema is the error body that lists what was wrong in
// errors[]; the spec gives it to three routes, each with its own code.
func detailsErrorSchema(where, code string) schema {
	return schema{where, map[string]prop{
		"code":    need(kString, code),
		"message": need(kString),
		"errors":  {kind: kArray, required: true, nested: &errorDetailSchema},
	}}
}

// Error bodies, from the responses of the routes.
var (
	invalidParamsSchema = schema{"422 (every route)", map[string]prop{
		"code":    need(kString, "invalid_request_parameters"),
		"message": need(kString),
	}}
	notFoundSchema = schema{"404 (every route)", map[string]prop{
		"message": need(kString),
	}}
	errorDetailSchema = schema{"errors[]", map[string]prop{
		"code":    need(kString),
		"message": need(kString),
	}}
	resetErrorSchema         = detailsErrorSchema("POST /user_management/password_reset/confirm 400", "password_reset_error")
	passwordStrengthSchema   = detailsErrorSchema("POST /user_management/users 400 oneOf[0]", "password_strength_error")
	userCreationSchema       = detailsErrorSchema("POST /user_management/users 400 oneOf[1]", "user_creation_error")
	invalidCredentialsSchema = schema{"POST /user_management/authenticate 400 oneOf (invalid_credentials)", map[string]prop{
		"code":    need(kString, "invalid_credentials"),
		"message": need(kString),
	}}
	oauthErrorSchema = schema{"POST /user_management/authenticate 400 oneOf (OAuth errors)", map[string]prop{
		"error":             need(kString, "invalid_grant", "invalid_client", "unsupported_grant_type"),
		"error_description": need(kString),
	}}
	revokeErrorSchema = schema{"POST /user_management/sessions/revoke 400", map[string]prop{
		"message": need(kString),
	}}
	// The spec's 429 has code const daily_quota_exceeded; ours is
	// rate_limit_exceeded (a documented difference), in the same shape.
	rateLimitSchema = schema{"429 (shape of POST /user_management/password_reset 429)", map[string]prop{
		"code":    need(kString, "rate_limit_exceeded"),
		"message": need(kString),
	}}
)

var (
	dateTimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	kindNames  = map[kind]string{kString: "string", kStringOrNull: "string|null", kBool: "boolean", kObject: "object",
		kStringMap: "object of strings", kArray: "array", kDateTime: "date-time", kDateTimeOrNull: "date-time|null"}
)

// requireSchema checks v against s field by field: every field it has is
// in the spec with the spec's type and const/enum, and every required one
// is there, except those in missing (documented differences).
func requireSchema(t testing.TB, s schema, v any, missing ...string) {
	t.Helper()
	obj, ok := v.(map[string]any)
	require.True(t, ok, "%s: not an object: %#v", s.name, v)
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p, ok := s.props[k]
		require.True(t, ok, "%s: %q is not in the spec", s.name, k)
		requireKind(t, s.name+"."+k, p, obj[k])
	}
	for k, p := range s.props {
		if p.required && !slices.Contains(missing, k) {
			require.Contains(t, obj, k, "%s: required %q is missing", s.name, k)
		}
	}
	for _, k := range missing {
		require.NotContains(t, obj, k, "%s: %q was expected to be left out", s.name, k)
	}
}

func requireKind(t testing.TB, where string, p prop, v any) {
	t.Helper()
	msg := func() string { return where + ": want " + kindNames[p.kind] }
	switch p.kind {
	case kStringOrNull, kDateTimeOrNull:
		if v == nil {
			return
		}
	}
	switch p.kind {
	case kString, kStringOrNull:
		s, ok := v.(string)
		require.True(t, ok, "%s, got %#v", msg(), v)
		if len(p.enum) > 0 {
			require.Contains(t, p.enum, s, where)
		}
	case kDateTime, kDateTimeOrNull:
		s, ok := v.(string)
		require.True(t, ok, "%s, got %#v", msg(), v)
		require.Regexp(t, dateTimeRE, s, where)
	case kBool:
		_, ok := v.(bool)
		require.True(t, ok, "%s, got %#v", msg(), v)
	case kObject:
		o, ok := v.(map[string]any)
		require.True(t, ok, "%s, got %#v", msg(), v)
		if p.nested != nil {
			requireSchema(t, *p.nested, o)
		}
	case kStringMap:
		o, ok := v.(map[string]any)
		require.True(t, ok, "%s, got %#v", msg(), v)
		for k, x := range o {
			_, ok := x.(string)
			require.True(t, ok, "%s.%s: want a string", where, k)
		}
	case kArray:
		a, ok := v.([]any)
		require.True(t, ok, "%s, got %#v", msg(), v)
		if p.nested != nil {
			for _, item := range a {
				requireSchema(t, *p.nested, item)
			}
		}
	}
}

// TestWireFormat checks the JSON of every answer, successes and errors,
// against the spec's schemas.
func TestWireFormat(t *testing.T) {
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) { testWireFormat(t, newEnvOn(t, newStore(t))) })
	}
}

func testWireFormat(t *testing.T, e *env) {

	// Users.
	full := e.post(t, "/user_management/users", map[string]any{"email": userEmail, "password": oldPassword, "first_name": "Marcelina",
		"last_name": "Davis", "email_verified": true, "external_id": "ext_1", "metadata": map[string]string{"timezone": "America/New_York"}})
	require.Equal(t, http.StatusCreated, full.status)
	requireSchema(t, createdUserSchema, full.body)
	uid := full.body["id"].(string)
	bare := e.post(t, "/user_management/users", map[string]any{"email": "bare@example.com"})
	require.Equal(t, http.StatusCreated, bare.status)
	requireSchema(t, createdUserSchema, bare.body)
	for _, k := range []string{"first_name", "last_name", "profile_picture_url", "external_id", "last_sign_in_at"} {
		require.Contains(t, bare.body, k, "nullable fields are present as null")
		require.Nil(t, bare.body[k], k)
	}
	requireSchema(t, userSchema, e.get(t, "/user_management/users/"+uid).body)

	// Authentication.
	auth := e.signIn(t, userEmail, oldPassword)
	requireSchema(t, authenticateResponseSchema, auth)
	require.NotNil(t, auth["user"].(map[string]any)["last_sign_in_at"])
	ref := e.refresh(t, auth["refresh_token"].(string))
	require.Equal(t, http.StatusOK, ref.status)
	requireSchema(t, authenticateResponseSchema, ref.body)

	// Resets.
	created := e.post(t, "/user_management/password_reset", map[string]any{"email": userEmail})
	require.Equal(t, http.StatusCreated, created.status)
	requireSchema(t, passwordResetSchema, created.body)
	got := e.get(t, "/user_management/password_reset/"+created.body["id"].(string))
	requireSchema(t, passwordResetSchema, got.body, "password_reset_token", "password_reset_url")
	confirmed := e.post(t, "/user_management/password_reset/confirm", map[string]any{"token": created.body["password_reset_token"], "new_password": newPassword})
	require.Equal(t, http.StatusOK, confirmed.status)
	requireSchema(t, resetPasswordResponseSchema, confirmed.body)

	// Sessions: a revoked one, an active one.
	e.signIn(t, userEmail, newPassword)
	list := e.get(t, "/user_management/users/"+uid+"/sessions?limit=1")
	requireSchema(t, sessionListSchema, list.body)
	require.NotNil(t, list.body["list_metadata"].(map[string]any)["after"])
	list = e.get(t, "/user_management/users/"+uid+"/sessions")
	requireSchema(t, sessionListSchema, list.body)
	require.Len(t, list.body["data"], 2)

	// Errors.
	requireSchema(t, invalidParamsSchema, e.post(t, "/user_management/password_reset", map[string]any{}).body)
	requireSchema(t, invalidParamsSchema, e.post(t, "/user_management/users", map[string]any{"email": 1}).body)
	requireSchema(t, invalidParamsSchema, e.get(t, "/user_management/users/"+uid+"/sessions?limit=0").body)
	requireSchema(t, notFoundSchema, e.get(t, "/user_management/users/user_nope").body)
	requireSchema(t, notFoundSchema, e.get(t, "/user_management/users/user_nope/sessions").body)
	requireSchema(t, notFoundSchema, e.get(t, "/user_management/password_reset/password_reset_nope").body)
	requireSchema(t, notFoundSchema, e.post(t, "/user_management/password_reset", map[string]any{"email": "nope@example.com"}).body)
	requireSchema(t, resetErrorSchema, e.post(t, "/user_management/password_reset/confirm", map[string]any{"token": "x", "new_password": newPassword}).body)
	_, tok := e.createReset(t, userEmail)
	requireSchema(t, resetErrorSchema, e.post(t, "/user_management/password_reset/confirm", map[string]any{"token": tok, "new_password": "x"}).body)
	requireSchema(t, passwordStrengthSchema, e.post(t, "/user_management/users", map[string]any{"email": "w@example.com", "password": "x"}).body)
	requireSchema(t, userCreationSchema, e.post(t, "/user_management/users", map[string]any{"email": userEmail}).body)
	requireSchema(t, invalidCredentialsSchema, e.post(t, "/user_management/authenticate", map[string]any{"grant_type": "password", "email": userEmail, "password": "wrong password"}).body)
	requireSchema(t, oauthErrorSchema, e.refresh(t, "nope").body)
	requireSchema(t, revokeErrorSchema, e.post(t, "/user_management/sessions/revoke", map[string]any{"session_id": "session_nope"}).body)
	e.createReset(t, userEmail)
	limited := e.post(t, "/user_management/password_reset", map[string]any{"email": userEmail})
	require.Equal(t, http.StatusTooManyRequests, limited.status)
	requireSchema(t, rateLimitSchema, limited.body)
}
