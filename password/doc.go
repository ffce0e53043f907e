// Package password holds how passreset treats passwords, for the reset flow
// and for sign-in alike: the normal form a password is hashed and compared
// in ([Normalize]), the [Hasher] port and its default [Bcrypt], and the
// [Policy] that decides which new passwords are accepted, whose refusals
// are a [*PolicyError] listing [Reason]s.
//
// A host that keeps its own login compares a typed password with a stored
// hash through the same Hasher, after Normalize, as passreset does: a
// password set through a reset then signs in, whatever its characters.
package password
