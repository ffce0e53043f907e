package workos

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/passreset/passreset/reset"
)

// All of WorkOS's JSON shapes that passreset speaks are here: a reset.User,
// reset.PasswordReset or reset.Event converted to the type of the same name
// in this package marshals as WorkOS's object, and unmarshals from it.

// TimeLayout is the wire format of every time: RFC 3339, UTC, milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime formats t as TimeLayout in UTC.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// PasswordReset is a reset.PasswordReset as WorkOS's password_reset object.
type PasswordReset reset.PasswordReset

type passwordResetJSON struct {
	Object    string `json:"object"`
	ID        string `json:"id"`
	UserID    string `json:"user_id"`
	Email     string `json:"email"`
	ExpiresAt string `json:"expires_at"`
	CreatedAt string `json:"created_at"`
	Token     string `json:"password_reset_token,omitempty"`
	URL       string `json:"password_reset_url,omitempty"`
}

// MarshalJSON encodes r as WorkOS's password_reset object. The token and URL
// fields are omitted when empty, as they are on a reset read back from the
// Store.
func (r PasswordReset) MarshalJSON() ([]byte, error) {
	return json.Marshal(passwordResetJSON{
		Object:    "password_reset",
		ID:        r.ID,
		UserID:    r.UserID,
		Email:     r.Email,
		ExpiresAt: FormatTime(r.ExpiresAt),
		CreatedAt: FormatTime(r.CreatedAt),
		Token:     r.Token,
		URL:       r.URL,
	})
}

// UnmarshalJSON decodes WorkOS's password_reset object.
func (r *PasswordReset) UnmarshalJSON(b []byte) error {
	var v passwordResetJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	expires, err := parseTime(v.ExpiresAt)
	if err != nil {
		return fmt.Errorf("expires_at: %w", err)
	}
	created, err := parseTime(v.CreatedAt)
	if err != nil {
		return fmt.Errorf("created_at: %w", err)
	}
	*r = PasswordReset{ID: v.ID, UserID: v.UserID, Email: v.Email, ExpiresAt: expires, CreatedAt: created, Token: v.Token, URL: v.URL}
	return nil
}

// User is a reset.User as WorkOS's user object.
type User reset.User

type userJSON struct {
	Object            string            `json:"object"`
	ID                string            `json:"id"`
	Email             string            `json:"email"`
	EmailVerified     bool              `json:"email_verified"`
	FirstName         *string           `json:"first_name"`
	LastName          *string           `json:"last_name"`
	Name              *string           `json:"name"`
	ProfilePictureURL *string           `json:"profile_picture_url"`
	ExternalID        *string           `json:"external_id"`
	Locale            *string           `json:"locale"`
	Metadata          map[string]string `json:"metadata"`
	LastSignInAt      *string           `json:"last_sign_in_at"`
	CreatedAt         string            `json:"created_at"`
	UpdatedAt         string            `json:"updated_at"`
}

// MarshalJSON encodes u as WorkOS's user object: every nullable field is
// present, as null when empty, and metadata is an object, never null.
func (u User) MarshalJSON() ([]byte, error) {
	md := u.Metadata
	if md == nil {
		md = map[string]string{}
	}
	v := userJSON{
		Object:            "user",
		ID:                u.ID,
		Email:             u.Email,
		EmailVerified:     u.EmailVerified,
		FirstName:         nullable(u.FirstName),
		LastName:          nullable(u.LastName),
		Name:              nullable(reset.User(u).Name()),
		ProfilePictureURL: nullable(u.ProfilePictureURL),
		ExternalID:        nullable(u.ExternalID),
		Locale:            nullable(u.Locale),
		Metadata:          md,
		CreatedAt:         FormatTime(u.CreatedAt),
		UpdatedAt:         FormatTime(u.UpdatedAt),
	}
	if !u.LastSignInAt.IsZero() {
		v.LastSignInAt = nullable(FormatTime(u.LastSignInAt))
	}
	return json.Marshal(v)
}

// UnmarshalJSON decodes WorkOS's user object.
func (u *User) UnmarshalJSON(b []byte) error {
	var v userJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	created, err := parseTime(v.CreatedAt)
	if err != nil {
		return fmt.Errorf("created_at: %w", err)
	}
	updated, err := parseTime(v.UpdatedAt)
	if err != nil {
		return fmt.Errorf("updated_at: %w", err)
	}
	var signIn time.Time
	if v.LastSignInAt != nil {
		if signIn, err = parseTime(*v.LastSignInAt); err != nil {
			return fmt.Errorf("last_sign_in_at: %w", err)
		}
	}
	*u = User{
		ID: v.ID, Email: v.Email, EmailVerified: v.EmailVerified,
		FirstName: deref(v.FirstName), LastName: deref(v.LastName),
		ProfilePictureURL: deref(v.ProfilePictureURL), ExternalID: deref(v.ExternalID),
		Locale: deref(v.Locale), Metadata: v.Metadata,
		LastSignInAt: signIn, CreatedAt: created, UpdatedAt: updated,
	}
	return nil
}

// Event is a reset.Event as a WorkOS event: id, event, data, created_at.
type Event reset.Event

// MarshalJSON encodes e as a WorkOS event.
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID        string        `json:"id"`
		Event     string        `json:"event"`
		Data      PasswordReset `json:"data"`
		CreatedAt string        `json:"created_at"`
	}{e.ID, e.Event, PasswordReset(e.Data), FormatTime(e.CreatedAt)})
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}
