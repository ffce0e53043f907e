package workos

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"time"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/clientlimit"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
)

// authenticationMethod is the authentication_method of every
// authentication: both grants continue a password sign-in.
const authenticationMethod = "Password"

// authenticateResponse is WorkOS's UserlandAuthenticateResponse.
type authenticateResponse struct {
	User                 User   `json:"user"`
	AccessToken          string `json:"access_token"`
	RefreshToken         string `json:"refresh_token"`
	AuthenticationMethod string `json:"authentication_method"`
}

// authenticateParams are the parameters of /authenticate this server
// reads; client_id and client_secret are read elsewhere or not at all.
type authenticateParams struct {
	GrantType    string `json:"grant_type"`
	Email        string `json:"email"`
	Password     string `json:"password"`
	RefreshToken string `json:"refresh_token"`
	IPAddress    string `json:"ip_address"`
	UserAgent    string `json:"user_agent"`
}

// authenticate serves POST /user_management/authenticate with
// grant_type password (a new session) or refresh_token (the session's
// token rotated). The body is JSON, or a form as OAuth 2.0 clients send.
func (h *Handler) authenticate(ctx context.Context, r *http.Request, body []byte) *reply {
	var in authenticateParams
	if isForm(r) {
		f := formValues(body)
		in = authenticateParams{
			GrantType: f.Get("grant_type"), Email: f.Get("email"), Password: f.Get("password"),
			RefreshToken: f.Get("refresh_token"), IPAddress: f.Get("ip_address"), UserAgent: f.Get("user_agent"),
		}
	} else if rep := decodeJSON(body, &in); rep != nil {
		return rep
	}
	switch in.GrantType {
	case "password":
		return h.passwordGrant(ctx, r, in)
	case "refresh_token":
		return h.refreshGrant(ctx, in)
	case "":
		return invalidParams("grant_type is required.")
	}
	return &reply{status: http.StatusBadRequest, body: oauthErrorBody{
		Error: "unsupported_grant_type", Description: "This server supports the password and refresh_token grants only."}}
}

// passwordGrant checks the email and password and starts a session.
//
// Its callers are backends that sign many users in from one address, so
// the client it counts sign-ins by (Config.SignInLimit) is the end user's,
// the ip_address they pass, and only without one the caller's.
func (h *Handler) passwordGrant(ctx context.Context, r *http.Request, in authenticateParams) *reply {
	switch {
	case in.Email == "":
		return invalidParams("email is required.")
	case in.Password == "":
		return invalidParams("password is required.")
	}
	var (
		client string
		ok     bool
		retry  time.Duration
	)
	if user, err := netip.ParseAddr(in.IPAddress); err == nil {
		user = user.Unmap()
		client = "user:" + clientlimit.Key(user).String()
		ok, retry = h.signInLimit.AllowAddr(user)
	} else {
		caller := h.signInLimit.ClientIP(r)
		client = "caller:" + clientlimit.Key(caller).String()
		ok, retry = h.signInLimit.AllowAddr(caller)
	}
	if !ok {
		return clientRateLimited(retry)
	}
	signIn, err := h.accounts.Authenticate(ctx, account.AuthenticateParams{Email: in.Email, Password: in.Password, Client: client})
	switch {
	case errors.Is(err, reset.ErrInvalidCredentials):
		return errorReply(http.StatusBadRequest, codeInvalidCredentials, "Invalid credentials.")
	case err != nil:
		return unexpected(ctx, err)
	}
	s, refresh, err := h.sessions.Create(ctx, signIn.User.ID, session.Metadata{UserAgent: in.UserAgent, IPAddress: in.IPAddress, Stamp: signIn.Stamp})
	if err != nil {
		return unexpected(ctx, err)
	}
	return h.tokens(signIn.User, s, refresh)
}

// refreshGrant rotates a session's refresh token.
func (h *Handler) refreshGrant(ctx context.Context, in authenticateParams) *reply {
	if in.RefreshToken == "" {
		return invalidParams("refresh_token is required.")
	}
	s, refresh, err := h.sessions.Refresh(ctx, in.RefreshToken)
	switch {
	case errors.Is(err, session.ErrNotFound):
		return invalidGrant("The refresh token is invalid or has already been used.")
	case errors.Is(err, session.ErrRevoked):
		return invalidGrant("The session has been revoked.")
	case errors.Is(err, session.ErrExpired):
		return invalidGrant("The session has expired.")
	case err != nil:
		return unexpected(ctx, err)
	}
	user, err := h.accounts.GetUser(ctx, s.UserID)
	switch {
	case errors.Is(err, reset.ErrUserNotFound):
		return invalidGrant("The session's user no longer exists.")
	case err != nil:
		return unexpected(ctx, err)
	}
	return h.tokens(user, s, refresh)
}

// tokens answers a successful authentication.
func (h *Handler) tokens(user reset.User, s session.Session, refresh string) *reply {
	access, err := h.signAccessToken(s)
	if err != nil {
		return serverError(err)
	}
	return &reply{status: http.StatusOK, body: authenticateResponse{
		User: User(user), AccessToken: access, RefreshToken: refresh, AuthenticationMethod: authenticationMethod}}
}
