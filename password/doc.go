// Package password holds how passreset treats passwords, for the reset flow
// and for sign-in alike: the normal form a password is hashed and compared
// in ([Normalize]), the [Hasher] port and its two implementations, [Bcrypt]
// (the default) and [Argon2id], and the [Policy] that decides which new
// passwords are accepted, whose refusals are a [*PolicyError] listing
// [Reason]s.
//
// # Hashes
//
// Bcrypt and Argon2id each verify the other's hashes, so an app moves from
// one to the other, or to a higher cost, by configuration alone: both are
// [Rehasher]s, and account.Service.Authenticate replaces a hash made with
// other parameters after the password matched it. A rehash keeps the
// hash's salt ([Salt]), from which the credential stamp is derived, so an
// upgrade ends no session; every new password gets a new salt, so a change
// ends them.
//
// # Policy
//
// The zero Policy refuses passwords under 8 characters or over 72 bytes,
// the account's address, and the most common passwords ([IsCommon]: the
// 101,777 words of the frequency lists of zxcvbn's Go port and of
// zxcvbn-ts, compared without regard to case, searched in place in the
// embedded list). [Pwned] adds Have I Been Pwned's breached-password check
// by its k-anonymity range protocol, as Policy.Check.
//
// A host that keeps its own login compares a typed password with a stored
// hash through the same Hasher, after Normalize, as passreset does: a
// password set through a reset then signs in, whatever its characters.
package password
