// Package reset is the password-reset flow: a [Service] that issues a
// one-time token for an email address and sends the email
// ([Service.CreatePasswordReset]), looks a reset up
// ([Service.GetPasswordReset]), and redeems the token to set a new password
// and sign the user out everywhere ([Service.ResetPassword]). It declares
// the ports it needs, [Store], [Mailer] and [SessionRevoker]; the stores
// live in store/..., the HTML pages in reset/pages and the WorkOS-compatible
// JSON API in package workos.
//
// # Abuse limits
//
// Each address gets at most Config.RateLimit reset emails per window (3 per
// 15 minutes by default), known addresses and unknown ones alike, so that
// a refusal tells nothing. The requests are counted in the Store, so the
// limit holds across instances, under a keyed hash of the address (HMAC
// with a key derived from Config.SecretKey): the Store never holds the
// address of an account that does not exist. A refused request is a
// [*RateLimitError] that says when to retry. The HTTP handlers add a limit
// per client IP address (package clientlimit).
//
// # The outbox
//
// Every email is written to the Store's outbox in the transaction that
// creates the reset (or spends the token) it belongs to, then sent at once;
// when that attempt fails, or the process dies first, the dispatcher
// ([Service.RunDispatcher], [Service.DispatchOnce]) retries it with backoff.
// Jobs are claimed atomically with a lease, so that several instances may
// dispatch one outbox and none sends a message twice; an SMTP 5xx reply
// fails a message at once, and anything else (a 4xx reply, a refused or
// dropped connection) is retried up to Config.Dispatch.MaxAttempts times. A
// mailer failure never changes what the caller of CreatePasswordReset
// sees.
//
// A queued reset email holds a usable link, so the outbox never holds it in
// plain text: each message is sealed with AES-256-GCM under a key derived
// from Config.SecretKey, with the job's id as additional data, and the
// payload is dropped once the job finishes or fails. We chose sealing over
// the alternative, deriving each token from a keyed HMAC (token =
// HMAC(key, reset id)) so that the outbox would need no secret at all,
// because of what a leak then yields. With sealing, tokens stay truly
// random and unrelated to anything stored; someone who gets both a dump of
// the database and the key can open only the messages still queued at that
// moment (normally none, or the few in retry). With HMAC derivation, the
// same dump and key would yield the token of every reset that has not
// expired, sent or not, and a leaked key alone would let its holder compute
// the token of any reset whose id it learns (ids are in API answers and
// events).
//
// # Durable revocation
//
// When sessions live outside the Store, Config.Sessions revokes them. The
// revocation is recorded as an outbox job in the very transaction that
// spends the token, then attempted before ResetPassword returns; if that
// attempt fails, ResetPassword returns the user with an error matching
// [ErrSessionsNotRevoked], and the dispatcher retries the job until it
// succeeds. If the process dies between the commit and the revocation, the
// job's lease runs out and another instance's dispatcher revokes the
// sessions.
//
// # Idempotent replays
//
// [Service.ClaimReplay] keeps the answers of requests sent with an
// idempotency key in the Store, for the HTTP handlers that take such a key
// (package workos's Idempotency-Key): a retry that reaches any instance
// sharing the Store and the SecretKey gets the first answer again instead
// of running twice, and a retry sent while the first request runs finds
// its claim. The Store keeps keyed hashes of the key and of the request,
// and the answer sealed with AES-256-GCM under a key derived from
// Config.SecretKey (an answer may carry a reset token), until the lifetime
// the caller gave; Purge, and so the janitor, deletes it then. A dump of
// the database together with the key opens the answers still kept.
//
// # Failures
//
// A failure at any step of creating or redeeming a reset (a Store error, a
// busy database, a cancelled context) returns an error that wraps its cause
// and leaves nothing half-written: an older reset is not ended, a token is
// not spent, the password is unchanged. No token, password or hash reaches
// a log line or an error's text.
package reset
