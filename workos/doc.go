// Package workos is an http.Handler that speaks the wire format of WorkOS's
// User Management API for password resets and what a reset needs around
// it, so that code written against WorkOS's official SDKs works against
// passreset by changing only the SDK's base URL.
//
//	h, err := workos.New(workos.Config{Service: svc, Sessions: sm, APIKeys: []string{key}})
//	http.ListenAndServe(addr, h)
//
// The reset routes run on the reset.Service; the users and sign-in routes
// on an account.Service built on it (Config.Accounts, made with the
// default sign-in limits when left nil).
//
// The contract is WorkOS's OpenAPI spec. The routes:
//
//	POST /user_management/password_reset            {"email"}                 201, the password_reset object
//	GET  /user_management/password_reset/{id}                                 200, the password_reset object
//	POST /user_management/password_reset/confirm    {"token","new_password"}  200, {"user": {...}}
//	POST /user_management/users                     {"email","password",...}  201, the user
//	GET  /user_management/users/{id}                                          200, the user
//	GET  /user_management/users/{id}/sessions       ?limit&before&after&order 200, {"object":"list","data","list_metadata"}
//	POST /user_management/sessions/revoke           {"session_id"}            200, {}
//	POST /user_management/authenticate              grant_type password or refresh_token
//	                                                                          200, {"user","access_token","refresh_token","authentication_method"}
//
// # Authentication
//
// Every request carries "Authorization: Bearer <api key>", one of
// Config.APIKeys (several are accepted, for rotation), compared in
// constant time. /user_management/authenticate also accepts the key as the
// body's client_secret, which is how WorkOS's SDKs send it; client_id is
// accepted and ignored. A missing or wrong key is 401; a wrong
// client_secret is 400 {"error":"invalid_client"}, as in OAuth 2.0.
//
// # Answers
//
// Every answer, errors included, is JSON with Content-Type
// application/json, Cache-Control no-store and an X-Request-ID header.
// Times are RFC 3339 UTC with milliseconds. Errors:
//
//	401  {"code":"unauthorized","message"}                  missing or wrong API key
//	400  {"code":"invalid_json","message"}                  a body that is not JSON
//	413  {"code":"request_too_large","message"}             a body over Config.MaxBodyBytes
//	422  {"code":"invalid_request_parameters","message"}    a missing or ill-typed parameter
//	404  {"message"}                                        unknown reset, user or route
//	400  {"message"}                                        unknown session on revoke, as the spec has it
//	400  {"code":"password_reset_error","message","errors":[{"code","message"}]}
//	     a token unknown or spent (password_reset_token_invalid), expired
//	     (password_reset_token_expired), or a new password the policy refuses
//	     (password_too_weak, one entry per reason)
//	400  {"code":"password_strength_error",...}, {"code":"user_creation_error",...}
//	     on user creation: a weak password; an email in use (email_not_available)
//	400  {"code":"invalid_credentials","message"}           a wrong email or password
//	400  {"error":"invalid_grant","error_description"}      a refresh token unknown, rotated away, revoked or expired
//	409  {"code":"idempotency_key_in_use","message"}        a request with the same Idempotency-Key still running; Retry-After
//	429  {"code":"rate_limit_exceeded","message"}           too many resets for an address, or too many reset
//	     requests from one client (Config.ClientLimit), or failed sign-ins for an
//	     address (account.Config.SignInLimit), or password sign-ins for one end user, by the body's ip_address
//	     (Config.SignInLimit); Retry-After in seconds
//	503  {"code":"server_busy","message"}                   the Service's password hashing is full
//	     (reset.ErrBusy); nothing was done; Retry-After in seconds
//	500  {"code":"server_error","message"}                  a failure on the server's side, with no detail
//
// Unknown JSON fields are ignored, and null counts as absent.
//
// # Tokens
//
// The refresh_token is a session token of package session: 32 random
// bytes, of which the Store keeps only the SHA-256. The refresh_token
// grant rotates it (session.Manager.Refresh): the old one stops working.
// The access_token is short-lived (Config.AccessTokenTTL, 5 minutes) and
// signed with HMAC-SHA256 (Config.AccessTokenKey); check one with
// Handler.ValidateAccessToken. Treat it as opaque: it has the shape of a
// JWT (claims sub, sid, iat, exp) but, unlike WorkOS's, no public key
// verifies it, so the SDKs' JWKS-based session helpers do not apply.
//
// A reset confirmed through this API revokes every session of the user: in
// the same transaction when the sessions live in the Service's store,
// otherwise through reset.Config.Sessions. Their refresh and access tokens
// stop working, and the session list shows them revoked.
//
// # Idempotency
//
// A POST with an Idempotency-Key header is answered once: a repeat with the
// same key, path, API key and body gets the first answer again, byte for
// byte (with Idempotent-Replayed: true), on whichever instance it lands.
// The answers are kept in the Service's Store (reset.Service.ClaimReplay),
// for Config.IdempotencyTTL (24 hours), sealed with AES-256-GCM under a key
// derived from reset.Config.SecretKey, since a reset's answer carries its
// token; the instances share them when they share the Store and the
// SecretKey. The Service's janitor (reset.Service.RunJanitor) deletes them
// once their time is over.
//
// A repeat sent while the first request is still running, on any
// instance, waits for its answer, looking at the Store with growing pauses,
// for up to Config.IdempotencyWait (10 seconds); past it, it is answered
// 409 {"code":"idempotency_key_in_use"} with Retry-After: 1. Either way the
// request runs once. A claim whose instance died frees its key after a
// minute (reset.ReplayLease). The same key with another body is 422.
// Server errors, 429s and requests whose client went away before the work
// was done are not kept, so a retry runs again; an answer whose client went
// away after the work was done is kept, since that is when a client
// retries.
//
// POST /user_management/authenticate is never replayed, whatever its
// headers: its answer holds a live refresh token, which a replay would hand
// out again. A retry signs in anew, with a session of its own, and nothing
// of the answer is kept.
//
// # Differences from WorkOS
//
//   - GET /user_management/password_reset/{id} answers without
//     password_reset_token and password_reset_url: only the token's hash is
//     stored.
//   - POST /user_management/password_reset for an unknown email is 404.
//   - Access tokens are opaque to clients (see Tokens); sessions'
//     auth_method is always "password", and authentication_method
//     "Password".
//   - Users are created with a plaintext password or none; password_hash
//     imports are refused (422). name, ip_address and user_agent are
//     ignored on creation.
//   - The rate limit's code is rate_limit_exceeded, not
//     daily_quota_exceeded.
package workos
