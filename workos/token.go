package workos

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/passreset/passreset/session"
)

// ErrInvalidAccessToken is the error of ValidateAccessToken for a token
// that is malformed, not signed with this Handler's key, expired, or whose
// session has ended.
var ErrInvalidAccessToken = errors.New("workos: invalid access token")

// accessHeader is the encoded JOSE header of every access token. A token
// whose header differs is refused outright, so that no "alg" a client
// chooses is ever honoured.
var accessHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// accessClaims are the claims of an access token.
type accessClaims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"` // the user id
	SessionID string `json:"sid"`
	IssuedAt  int64  `json:"iat"`
	Expires   int64  `json:"exp"`
}

const accessIssuer = "passreset"

// signAccessToken issues an access token for s, valid for the configured
// TTL or until s expires, whichever comes first.
func (h *Handler) signAccessToken(s session.Session) (string, error) {
	now := h.now()
	exp := now.Add(h.tokenTTL)
	if s.ExpiresAt.Before(exp) {
		exp = s.ExpiresAt
	}
	claims, err := json.Marshal(accessClaims{Issuer: accessIssuer, Subject: s.UserID, SessionID: s.ID, IssuedAt: now.Unix(), Expires: exp.Unix()})
	if err != nil {
		return "", fmt.Errorf("workos: encode access token: %w", err)
	}
	signed := accessHeader + "." + base64.RawURLEncoding.EncodeToString(claims)
	return signed + "." + base64.RawURLEncoding.EncodeToString(h.mac(signed)), nil
}

func (h *Handler) mac(signed string) []byte {
	m := hmac.New(sha256.New, h.tokenKey)
	m.Write([]byte(signed))
	return m.Sum(nil)
}

// ValidateAccessToken checks an access token that /user_management/authenticate
// issued and returns its session. The token must carry this Handler's
// signature (Config.AccessTokenKey), be unexpired, and belong to a session
// that is neither revoked nor expired (past its absolute or its idle
// timeout) and whose credential stamp still matches (session.Config.Stamps);
// otherwise the error is ErrInvalidAccessToken. A Store failure is
// returned as it is.
//
// Access tokens are HS256 JWTs whose claims are sub (the user id), sid
// (the session id), iat and exp, but clients should treat them as opaque:
// unlike WorkOS's, they cannot be verified with a public key.
func (h *Handler) ValidateAccessToken(ctx context.Context, token string) (session.Session, error) {
	rest, ok := strings.CutPrefix(token, accessHeader+".")
	if !ok {
		return session.Session{}, ErrInvalidAccessToken
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return session.Session{}, ErrInvalidAccessToken
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, h.mac(accessHeader+"."+payload)) {
		return session.Session{}, ErrInvalidAccessToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return session.Session{}, ErrInvalidAccessToken
	}
	var c accessClaims
	if err := json.Unmarshal(raw, &c); err != nil || c.Issuer != accessIssuer {
		return session.Session{}, ErrInvalidAccessToken
	}
	now := h.now()
	if now.Unix() >= c.Expires {
		return session.Session{}, ErrInvalidAccessToken
	}
	s, err := h.sessions.Get(ctx, c.SessionID)
	switch {
	case errors.Is(err, session.ErrNotFound):
		return session.Session{}, ErrInvalidAccessToken
	case err != nil:
		return session.Session{}, err
	case s.UserID != c.Subject:
		return session.Session{}, ErrInvalidAccessToken
	}
	// Judged as the session's refresh token would be: revoked, past its
	// absolute or idle timeout, or begun before a password change.
	switch err := h.sessions.Verify(ctx, s); {
	case errors.Is(err, session.ErrRevoked), errors.Is(err, session.ErrExpired):
		return session.Session{}, ErrInvalidAccessToken
	case err != nil:
		return session.Session{}, err
	}
	return s, nil
}
