package workos

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
)

// The bodies of error answers, as WorkOS's spec has them.

// errorBody is the common {"code","message"} error.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// messageBody is the {"message"} of a 404.
type messageBody struct {
	Message string `json:"message"`
}

// detailedErrorBody is {"code","message","errors":[...]}: a failed reset
// confirmation (password_reset_error) or user creation
// (password_strength_error, user_creation_error).
type detailedErrorBody struct {
	Code    string        `json:"code"`
	Message string        `json:"message"`
	Errors  []errorDetail `json:"errors"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// oauthErrorBody is an OAuth 2.0 error of /authenticate.
type oauthErrorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// Codes of the errors this package answers with.
const (
	codeInvalidParams      = "invalid_request_parameters"
	codeResetError         = "password_reset_error"
	codeTokenInvalid       = "password_reset_token_invalid"
	codeTokenExpired       = "password_reset_token_expired"
	codePasswordTooWeak    = "password_too_weak"
	codePasswordStrength   = "password_strength_error"
	codeUserCreation       = "user_creation_error"
	codeEmailNotAvailable  = "email_not_available"
	codeInvalidCredentials = "invalid_credentials"
	codeRateLimited        = "rate_limit_exceeded"
	codeBusy               = "server_busy"
	codeServerError        = "server_error"
)

func errorReply(status int, code, message string) *reply {
	return &reply{status: status, body: errorBody{Code: code, Message: message}}
}

func unauthorized() *reply {
	return errorReply(http.StatusUnauthorized, "unauthorized", "A valid API key is required: send it as \"Authorization: Bearer <key>\".")
}

func invalidParams(message string) *reply {
	return errorReply(http.StatusUnprocessableEntity, codeInvalidParams, message)
}

func notFound(message string) *reply {
	return &reply{status: http.StatusNotFound, body: messageBody{Message: message}}
}

func invalidGrant(description string) *reply {
	return &reply{status: http.StatusBadRequest, body: oauthErrorBody{Error: "invalid_grant", Description: description}}
}

// serverError is the answer to an unexpected failure: a fixed message, so
// that nothing of the cause (which the log gets) reaches the client.
func serverError(err error) *reply {
	return &reply{status: http.StatusInternalServerError, err: err,
		body: errorBody{Code: codeServerError, Message: "The server could not complete the request."}}
}

// unexpected answers an error no route expects: 429 for a rate limit, 503
// when the Service's hashing is full (reset.ErrBusy),
// nothing (499, logged only) when the client has gone, 500 otherwise.
func unexpected(ctx context.Context, err error) *reply {
	var rl *reset.RateLimitError
	var busy *reset.BusyError
	switch {
	case errors.As(err, &rl):
		secs := int64(rl.RetryAfter().Seconds())
		return &reply{
			status: http.StatusTooManyRequests,
			body:   errorBody{Code: codeRateLimited, Message: "Too many requests for this address; retry after " + strconv.FormatInt(secs, 10) + " seconds."},
			header: http.Header{"Retry-After": {strconv.FormatInt(secs, 10)}},
		}
	case errors.As(err, &busy):
		secs := strconv.FormatInt(int64(busy.RetryAfter()/time.Second), 10)
		return &reply{
			status: http.StatusServiceUnavailable,
			body:   errorBody{Code: codeBusy, Message: "The server is busy; retry after " + secs + " seconds."},
			header: http.Header{"Retry-After": {secs}},
		}
	case errors.Is(err, reset.ErrRateLimited):
		return &reply{
			status: http.StatusTooManyRequests,
			body:   errorBody{Code: codeRateLimited, Message: "Too many requests; retry later."},
			header: http.Header{"Retry-After": {"60"}},
		}
	case ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		return &reply{status: statusClientClosed, err: err, body: errorBody{Code: "request_cancelled", Message: "The request was cancelled."}}
	}
	return serverError(err)
}

// clientRateLimited is the 429 of a client over Config.ClientLimit.
func clientRateLimited(retry time.Duration) *reply {
	secs := strconv.FormatInt(int64(retry/time.Second), 10)
	return &reply{
		status: http.StatusTooManyRequests,
		body:   errorBody{Code: codeRateLimited, Message: "Too many requests from this client; retry after " + secs + " seconds."},
		header: http.Header{"Retry-After": {secs}},
	}
}

// resetError is the 400 password_reset_error of a confirmation.
func resetError(message string, details ...errorDetail) *reply {
	return &reply{status: http.StatusBadRequest, body: detailedErrorBody{Code: codeResetError, Message: message, Errors: details}}
}

// policyDetails lists the reasons of a policy failure, each as
// password_too_weak with the reason's message.
func policyDetails(pe *password.PolicyError) []errorDetail {
	d := make([]errorDetail, 0, len(pe.Reasons))
	for _, r := range pe.Reasons {
		d = append(d, errorDetail{Code: codePasswordTooWeak, Message: r.Message})
	}
	if len(d) == 0 {
		d = append(d, errorDetail{Code: codePasswordTooWeak, Message: "The password does not meet the password policy."})
	}
	return d
}

// clip shortens text from a request (an id, a path) before it is echoed in
// a message.
func clip(s string) string {
	const max = 100
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
