package workos

import (
	"context"
	"errors"
	"net/http"

	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
)

// createReset serves POST /user_management/password_reset: 201 and the
// password_reset object, with its token and URL.
func (h *Handler) createReset(ctx context.Context, r *http.Request, body []byte) *reply {
	var in struct {
		Email string `json:"email"`
	}
	if rep := decodeJSON(body, &in); rep != nil {
		return rep
	}
	if in.Email == "" {
		return invalidParams("email is required.")
	}
	pr, err := h.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: in.Email})
	switch {
	case errors.Is(err, reset.ErrInvalidEmail):
		return invalidParams("email must be a valid email address.")
	case errors.Is(err, reset.ErrUserNotFound):
		return notFound("User not found: '" + clip(in.Email) + "'.")
	case err != nil:
		return unexpected(ctx, err)
	}
	return &reply{status: http.StatusCreated, body: PasswordReset(pr)}
}

// getReset serves GET /user_management/password_reset/{id}: the
// password_reset object, without token and URL, which only their hash
// outlives.
func (h *Handler) getReset(ctx context.Context, r *http.Request, _ []byte) *reply {
	id := r.PathValue("id")
	pr, err := h.svc.GetPasswordReset(ctx, id)
	switch {
	case errors.Is(err, reset.ErrResetNotFound):
		return notFound("Password reset not found: '" + clip(id) + "'.")
	case err != nil:
		return unexpected(ctx, err)
	}
	return &reply{status: http.StatusOK, body: PasswordReset(pr)}
}

// confirmReset serves POST /user_management/password_reset/confirm: it
// redeems the token, sets the new password and revokes the user's
// sessions, and answers {"user": {...}}.
func (h *Handler) confirmReset(ctx context.Context, r *http.Request, body []byte) *reply {
	var in struct {
		Token       string `json:"token"`
		NewPassword string `json:"new_password"`
	}
	if rep := decodeJSON(body, &in); rep != nil {
		return rep
	}
	switch {
	case in.Token == "":
		return invalidParams("token is required.")
	case in.NewPassword == "":
		return invalidParams("new_password is required.")
	}
	user, err := h.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: in.Token, NewPassword: in.NewPassword})
	var pe *password.PolicyError
	switch {
	case errors.Is(err, reset.ErrSessionsNotRevoked):
		// The password was changed; the revocation is queued and retried.
		h.log.ErrorContext(ctx, "workos: password reset, but sessions not revoked yet", "user_id", user.ID, "err", err)
	case errors.Is(err, reset.ErrInvalidToken):
		return resetError("The password reset token is invalid.",
			errorDetail{Code: codeTokenInvalid, Message: "The password reset token is invalid, or has already been used."})
	case errors.Is(err, reset.ErrTokenExpired):
		return resetError("The password reset token has expired.",
			errorDetail{Code: codeTokenExpired, Message: "The password reset token has expired; request a new one."})
	case errors.As(err, &pe):
		return resetError("The new password does not meet the password policy.", policyDetails(pe)...)
	case err != nil:
		return unexpected(ctx, err)
	}
	return &reply{status: http.StatusOK, body: userResponse{User: User(user)}}
}

// userResponse is {"user": {...}}, the answer to a reset confirmation.
type userResponse struct {
	User User `json:"user"`
}
