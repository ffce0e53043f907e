// Package reset is the password-reset flow: a [Service] that issues a
// one-time token for an email address and sends the email
// ([Service.CreatePasswordReset]), looks a reset up
// ([Service.GetPasswordReset]), and redeems the token, or the short code
// the same email carries, to set a new password and sign the user out
// everywhere ([Service.ResetPassword]). A host with its own login checks
// passwords as the flow sets them ([Service.CheckPassword]) and ends the
// sessions begun before a reset by their credential stamps ([Stamp],
// [Service.StampMatches]). It declares the ports it needs, [Mailer] and
// [SessionRevoker]; the Store port and its types are package store's, the
// stores live in store/..., the HTML pages in reset/pages and the
// WorkOS-compatible JSON API in package workos. Apps that let passreset
// keep their users create them, sign them in and change their passwords
// with package account, built on a Service.
//
// # Link and code
//
// Every reset email carries a link and a code of [CodeDigits] digits
// (26.6 bits), which the person types, with the address they asked with,
// on the page where they asked: for a link opened on another device, or
// prefetched by a mail scanner. Both belong to one reset, and using one
// spends both. The code lives Config.CodeTTL (at most 10 minutes) and
// allows [CodeTries] guesses, after which it and its link are dead;
// guesses per address are capped by Config.CodeLimit. A wrong code is
// [ErrInvalidCode] at any address, known or not, in the same time. The
// Store keeps an HMAC-SHA-256 of the code and the reset id under a key
// derived from Config.SecretKey, never the code: a plain hash of 10^8
// values would fall in a second to whoever holds a copy of the database,
// while the keyed one tells them nothing without the key (and the key's
// holder could open the queued email anyway); online, the 5 guesses a
// code allows succeed with a chance of 5 in 10^8.
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
// Jobs are claimed atomically with a short lease (Config.Dispatch.Lease, 10
// seconds), which the process that works on a job renews while it works:
// several instances may dispatch one outbox and no two live ones run one
// job at once, and the jobs of a process that dies go to a dispatcher
// within a lease of its death (a dispatcher wakes when a lease ends, and
// runs as it starts). An SMTP 5xx reply fails a message at once, and
// anything else (a 4xx reply, a refused or dropped connection) is retried
// up to Config.Dispatch.MaxAttempts times. A mailer failure never changes
// what the caller of CreatePasswordReset sees.
//
// Delivery is at least once, not exactly once: SMTP cannot make the
// server's acceptance of a message and the outbox's record of it one step,
// so a crash between the two sends the message again. The window is kept
// small (mail.SMTP returns at the acceptance, and the job is marked done at
// once), and every email carries a Message-ID derived from its job, the
// same in every copy, so that mail readers fold a repeat.
//
// A "forgot password" page records the request itself before it answers
// ([Service.RequestPasswordReset], a job holding the sealed address), so
// that a crash after the answer loses nothing: the request is carried out
// by the page's goroutine, or, if the process dies first, by a dispatcher.
// A request run again finds the reset it made, if it made one, and makes no
// second.
//
// # The secret key
//
// Config.SecretKey seals the outbox and keys the limit per address; it must
// be the same in every instance and outlive restarts. An app on one SQLite
// file keeps one beside the database ([LoadKeyFile]); a fleet on a database
// server shares one from its environment or secret store
// ([ParseSecretKey]), never kept in the database itself, whose readers the
// sealing guards against. A job that this instance's key cannot open is not
// failed but released, for an instance (or a restored key) that can open
// it, and failed only after a day.
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
