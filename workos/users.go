package workos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
)

// Limits of WorkOS's CreateUserlandUserDto.
const (
	maxExternalIDLen     = 128 // characters, ASCII only
	maxMetadataKeys      = 50
	maxMetadataKeyLen    = 40  // characters
	maxMetadataValueLen  = 600 // characters
	passwordHashNotKnown = "password_hash is not supported by this server: send password instead."
)

// createUser serves POST /user_management/users: 201 and the user.
func (h *Handler) createUser(ctx context.Context, r *http.Request, body []byte) *reply {
	var in struct {
		Email         string            `json:"email"`
		Password      string            `json:"password"`
		PasswordHash  string            `json:"password_hash"`
		HashType      string            `json:"password_hash_type"`
		SaltPosition  string            `json:"password_salt_position"`
		FirstName     string            `json:"first_name"`
		LastName      string            `json:"last_name"`
		EmailVerified bool              `json:"email_verified"`
		ExternalID    string            `json:"external_id"`
		Metadata      map[string]string `json:"metadata"`
	}
	if rep := decodeJSON(body, &in); rep != nil {
		return rep
	}
	if rep := checkUserParams(in.Email, in.ExternalID, in.Metadata); rep != nil {
		return rep
	}
	if in.PasswordHash != "" || in.HashType != "" || in.SaltPosition != "" {
		return invalidParams(passwordHashNotKnown)
	}
	if hasNUL(in.FirstName, in.LastName) {
		return invalidParams("first_name and last_name must not contain NUL characters.")
	}
	u, err := h.accounts.CreateUser(ctx, account.CreateUserParams{
		Email:         in.Email,
		Password:      in.Password,
		FirstName:     in.FirstName,
		LastName:      in.LastName,
		EmailVerified: in.EmailVerified,
		ExternalID:    in.ExternalID,
		Metadata:      in.Metadata,
	})
	var pe *password.PolicyError
	switch {
	case errors.Is(err, reset.ErrInvalidEmail):
		return invalidParams("email must be a valid email address, that can receive mail: without invisible, bidirectional or look-alike characters, domain literals or quotes, and at most 254 octets (64 before the @).")
	case errors.Is(err, account.ErrInvalidName):
		return invalidParams(fmt.Sprintf("first_name and last_name must be at most %d characters, without control, line-breaking or bidirectional formatting characters.", account.MaxNameLength))
	case errors.As(err, &pe):
		return &reply{status: http.StatusBadRequest, body: detailedErrorBody{
			Code: codePasswordStrength, Message: "The password does not meet the password policy.", Errors: policyDetails(pe)}}
	case errors.Is(err, account.ErrEmailTaken):
		return &reply{status: http.StatusBadRequest, body: detailedErrorBody{
			Code: codeUserCreation, Message: "The user could not be created.",
			Errors: []errorDetail{{Code: codeEmailNotAvailable, Message: "This email is not available."}}}}
	case errors.Is(err, account.ErrNoUserCreator):
		return &reply{status: http.StatusNotImplemented, err: err,
			body: errorBody{Code: "not_implemented", Message: "This server does not create users."}}
	case err != nil:
		return unexpected(ctx, err)
	}
	return &reply{status: http.StatusCreated, body: User(u)}
}

// checkUserParams applies the spec's limits to the parameters of a new
// user.
func checkUserParams(email, externalID string, metadata map[string]string) *reply {
	if email == "" {
		return invalidParams("email is required.")
	}
	if utf8.RuneCountInString(externalID) > maxExternalIDLen {
		return invalidParams(fmt.Sprintf("external_id must be at most %d characters.", maxExternalIDLen))
	}
	for i := 0; i < len(externalID); i++ {
		if c := externalID[i]; c == 0 || c > 0x7f {
			return invalidParams("external_id must be ASCII text.")
		}
	}
	if len(metadata) > maxMetadataKeys {
		return invalidParams(fmt.Sprintf("metadata must have at most %d keys.", maxMetadataKeys))
	}
	for k, v := range metadata {
		switch {
		case utf8.RuneCountInString(k) > maxMetadataKeyLen:
			return invalidParams(fmt.Sprintf("metadata keys must be at most %d characters.", maxMetadataKeyLen))
		case utf8.RuneCountInString(v) > maxMetadataValueLen:
			return invalidParams(fmt.Sprintf("metadata values must be at most %d characters.", maxMetadataValueLen))
		case hasNUL(k, v):
			return invalidParams("metadata must not contain NUL characters.")
		}
	}
	return nil
}

// getUser serves GET /user_management/users/{id}.
func (h *Handler) getUser(ctx context.Context, r *http.Request, _ []byte) *reply {
	id := r.PathValue("id")
	u, err := h.accounts.GetUser(ctx, id)
	switch {
	case errors.Is(err, reset.ErrUserNotFound):
		return notFound("User not found: '" + clip(id) + "'.")
	case err != nil:
		return unexpected(ctx, err)
	}
	return &reply{status: http.StatusOK, body: User(u)}
}
