package store

import (
	"errors"
	"fmt"
	"strings"
)

// UsersTable describes a host's own users table to a SQL store
// (sqlitestore, pgstore), which then reads users from it and writes the new
// password hash to it in the transaction that spends a reset token, and
// keeps passreset's own tables beside it, named passreset_*. The table is
// the host's: passreset never creates, alters or deletes it, and writes
// only the columns PasswordHash, Verified and UpdatedAt of the row whose
// password is reset.
//
// Ids: the id a Store shows for a user (in PasswordReset.UserID, on the
// wire, in sessions) is the host's key itself when the key column holds
// text, and IDPrefix followed by the key in decimal when it holds integers
// (for example "user_42"); either maps back to the row without an extra
// column.
//
// Emails are matched without regard to case, in full Unicode: one indexed
// equality on Email finds an address stored as it is typed or in lower
// case (as most apps store them); an address stored with capital letters
// is found by a second, unindexed comparison that each store documents.
type UsersTable struct {
	// Table is the table's name, as the store's SQL names it (it is
	// quoted as an identifier). Required.
	Table string
	// ID is the primary key column: an integer or text. Required.
	ID string
	// Email is the column of the address. Required.
	Email string
	// PasswordHash is the column of the password hash, read by sign-ins
	// and written by a reset. NULL reads as no password. Required.
	PasswordHash string
	// Verified, when set, is a boolean column that a reset sets true: the
	// reset proved the user reads mail at the address. Optional.
	Verified string
	// UpdatedAt, when set, is a time column that a reset sets to the time
	// of the reset (each store says in which format). Optional.
	UpdatedAt string
	// IDPrefix is put before an integer key to make the id a Store shows.
	// Default "user_". It is not used for a text key.
	IDPrefix string
}

// DefaultIDPrefix is the IDPrefix of a UsersTable that sets none.
const DefaultIDPrefix = "user_"

// Check returns an error that names what is missing or malformed in t, or
// nil. A name may not be empty where required, nor hold a NUL byte.
func (t UsersTable) Check() error {
	var errs []error
	for _, f := range []struct {
		field, name string
		required    bool
	}{
		{"Table", t.Table, true}, {"ID", t.ID, true}, {"Email", t.Email, true},
		{"PasswordHash", t.PasswordHash, true}, {"Verified", t.Verified, false}, {"UpdatedAt", t.UpdatedAt, false},
	} {
		switch {
		case f.required && f.name == "":
			errs = append(errs, fmt.Errorf("UsersTable.%s is required", f.field))
		case strings.ContainsRune(f.name, 0):
			errs = append(errs, fmt.Errorf("UsersTable.%s holds a NUL byte", f.field))
		}
	}
	if strings.ContainsAny(t.IDPrefix, "\x00 ") {
		errs = append(errs, errors.New("UsersTable.IDPrefix holds a space or a NUL byte"))
	}
	return errors.Join(errs...)
}

// Prefix is IDPrefix, or DefaultIDPrefix when it is empty.
func (t UsersTable) Prefix() string {
	if t.IDPrefix == "" {
		return DefaultIDPrefix
	}
	return t.IDPrefix
}
