package reset

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/passreset/passreset/emailaddr"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/token"
)

// NormalizeEmail returns the form in which the Service stores and looks up
// an address: emailaddr.Normalize's (trimmed, NFC, the domain in ASCII),
// folded by emailaddr.Fold (lower case), so that one mailbox is one
// account however its address is spelt. It returns an error matching
// ErrInvalidEmail, and the emailaddr reason, for an address emailaddr
// refuses: not an address, or one with an invisible, bidirectional or
// control character, a character that passes for another, a domain
// literal, a quoted local part, or over the RFC 5321 lengths.
//
// A host that checks addresses against an allow or deny list should check
// this form: it is the one passreset matches.
func NormalizeEmail(email string) (string, error) {
	key, err := emailaddr.FoldValid(email)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidEmail, err)
	}
	return key, nil
}

// requestKey is the address a reset is requested for: NormalizeEmail's
// form; or, for an address emailaddr refuses for what it holds rather than
// for not being an address at all (an invisible character, a domain
// literal, a local part over 64 octets), its fold, which reaches no
// account, and refused: create counts it against the per-address limit
// and answers ErrUserNotFound, as for an unknown address, so that the
// answer is the same for both. Only what is not an address
// (emailaddr.ErrSyntax, a control character such as a line break, or
// longer than any address could be in any form) is ErrInvalidEmail.
func requestKey(email string) (key string, refused bool, err error) {
	key, err = NormalizeEmail(email)
	if err == nil || errors.Is(err, emailaddr.ErrSyntax) || errors.Is(err, emailaddr.ErrControl) {
		return key, false, err
	}
	email = strings.TrimSpace(email)
	if len(email) > maxRefusedEmail {
		return "", false, err
	}
	return emailaddr.Fold(email), true, nil
}

// maxRefusedEmail bounds a refused address the Service still answers as
// unknown (and keeps, sealed, in a reset request): four times the longest
// address, as NFD may spell one.
const maxRefusedEmail = 4 * emailaddr.MaxAddressLength

// CreatePasswordResetParams are the inputs of CreatePasswordReset.
type CreatePasswordResetParams struct {
	Email string
}

// CreatePasswordReset issues a one-time reset token for the user with this
// email, and a short code beside it (CodeDigits digits, usable for
// Config.CodeTTL with the address, see ResetPassword), queues the reset
// email that carries both and sends it, and returns the reset with its
// token, URL and code: the only time they exist outside the email.
//
// Creating a reset ends the user's older unused resets. A failure to send
// the email is not an error: the email stays in the outbox, and the
// dispatcher (RunDispatcher) retries it.
//
// Errors: ErrInvalidEmail for what is not an address; a *RateLimitError
// (matching ErrRateLimited) when the address has had too many resets
// lately, known or not; ErrUserNotFound when no user has the address, and
// for an address NormalizeEmail refuses for what it holds (an invisible
// character, a domain literal, over the lengths), which no user can be
// reached by: the same answer as for an unknown address.
func (s *Service) CreatePasswordReset(ctx context.Context, p CreatePasswordResetParams) (PasswordReset, error) {
	email, refused, err := requestKey(p.Email)
	if err != nil {
		return PasswordReset{}, err
	}
	return s.create(ctx, email, refused, "")
}

// create is CreatePasswordReset for an address as requestKey returns it,
// refused when requestKey said so. The reset gets id when it is not ""
// (a reset request's, derived from its job), a new one otherwise.
func (s *Service) create(ctx context.Context, email string, refused bool, id string) (PasswordReset, error) {
	now := s.clock()
	if err := s.allow(ctx, s.limit, email, now); err != nil {
		return PasswordReset{}, err
	}
	if refused {
		// The answer of an unknown address.
		return PasswordReset{}, fmt.Errorf("reset: create: %w", ErrUserNotFound)
	}
	user, err := s.store.UserByEmail(ctx, email)
	if err != nil {
		return PasswordReset{}, fmt.Errorf("reset: create: %w", err)
	}
	tok, hash, err := token.New(s.rand)
	if err != nil {
		return PasswordReset{}, fmt.Errorf("reset: create: %w", err)
	}
	if id == "" {
		if id, err = s.newID("password_reset_", now); err != nil {
			return PasswordReset{}, err
		}
	}
	pr := PasswordReset{
		ID:        id,
		UserID:    user.ID,
		Email:     user.Email,
		CreatedAt: now,
		ExpiresAt: now.Add(s.ttl),
		Token:     tok,
		URL:       s.linkFor(tok),
	}
	// The code is found by the address as it was typed here, which is the
	// address the person will type again beside it.
	code, storedCode, err := s.codeFor(id, email, now, pr.ExpiresAt)
	if err != nil {
		return PasswordReset{}, err
	}
	pr.Code = code
	msg, err := s.renderReset(s.from, EmailData{
		AppName: s.appName, Email: user.Email, Name: user.Name(), URL: pr.URL,
		ExpiresAt: pr.ExpiresAt, ExpiresIn: humanDuration(s.ttl), Time: now,
		Code: FormatCode(code), CodeExpiresIn: humanDuration(storedCode.ExpiresAt.Sub(now)),
	})
	if err != nil {
		return PasswordReset{}, fmt.Errorf("reset: render reset email: %w", err)
	}
	job, err := s.emailJob(user.ID, &msg, now)
	if err != nil {
		return PasswordReset{}, err
	}
	stored := store.Reset{ID: pr.ID, UserID: pr.UserID, Email: pr.Email, TokenHash: hash, CreatedAt: now, ExpiresAt: pr.ExpiresAt, Code: storedCode}
	if err := s.store.CreateReset(ctx, stored, []store.Job{job}); err != nil {
		return PasswordReset{}, fmt.Errorf("reset: create: %w", err)
	}
	s.log.InfoContext(ctx, "password reset created", "reset_id", pr.ID, "user_id", pr.UserID)
	s.runJob(ctx, s.leases.hold(job), msg, "")
	s.emit(ctx, EventPasswordResetCreated, pr, now)
	return pr, nil
}

// linkFor is the reset link of tok: ResetURL with tok as its token
// parameter (replacing any there), its query encoded as url.Values does.
func (s *Service) linkFor(tok string) string {
	if s.link.ok && url.QueryEscape(tok) == tok {
		return s.link.before + tok + s.link.after
	}
	return linkTo(s.resetURL, tok)
}

// linkTo is ResetURL u with tok as its token parameter.
func linkTo(u *url.URL, tok string) string {
	v := *u
	q := v.Query()
	q.Set("token", tok)
	v.RawQuery = q.Encode()
	return v.String()
}

// resetLink is a reset link cut around its token, which every link of a
// Service has in one place: the query's other parameters, and the rest of
// the URL, are the same in all of them.
type resetLink struct {
	before, after string
	ok            bool // cut; otherwise every link is built by linkTo
}

// linkPlaceholder stands for the token while NewService cuts the link: a
// token's characters, none of which a query escapes.
const linkPlaceholder = "passresetLinkTokenPlaceholder"

// cutLink cuts the link of u around its token, if it can tell where that
// is: the placeholder appears once in the link.
func cutLink(u *url.URL) resetLink {
	full := linkTo(u, linkPlaceholder)
	before, after, ok := strings.Cut(full, linkPlaceholder)
	if !ok || strings.Contains(after, linkPlaceholder) {
		return resetLink{}
	}
	return resetLink{before: before, after: after, ok: true}
}

// GetPasswordReset returns the reset with this id, without its token or URL
// (only the token's hash is kept), or ErrResetNotFound.
func (s *Service) GetPasswordReset(ctx context.Context, id string) (PasswordReset, error) {
	r, err := s.store.ResetByID(ctx, id)
	if err != nil {
		return PasswordReset{}, fmt.Errorf("reset: get: %w", err)
	}
	return public(r), nil
}

// CheckToken reports whether tok can still reset a password, without
// spending it: a reset page calls it on GET, which mail scanners also
// send. It returns the reset (without token) or ErrInvalidToken or
// ErrTokenExpired, in microseconds.
func (s *Service) CheckToken(ctx context.Context, tok string) (PasswordReset, error) {
	r, err := s.lookup(ctx, tok)
	if err != nil {
		return PasswordReset{}, err
	}
	return public(r), nil
}

// lookup finds the usable reset a token belongs to: the cheap rejection that
// comes before any bcrypt work.
func (s *Service) lookup(ctx context.Context, tok string) (store.Reset, error) {
	if !token.WellFormed(tok) {
		return store.Reset{}, ErrInvalidToken
	}
	r, err := s.store.ResetByTokenHash(ctx, token.Sum(tok))
	if errors.Is(err, ErrResetNotFound) {
		return store.Reset{}, ErrInvalidToken
	}
	if err != nil {
		return store.Reset{}, fmt.Errorf("reset: look up token: %w", err)
	}
	now := s.clock()
	if err := s.issuedAhead(ctx, r, now); err != nil {
		return store.Reset{}, err
	}
	if err := r.Status(now); err != nil {
		return store.Reset{}, err
	}
	if r.Code.Key != "" && r.Code.TriesLeft <= 0 {
		// Its code was guessed wrong CodeTries times: the link dies with it.
		return store.Reset{}, ErrInvalidToken
	}
	return r, nil
}

// issuedAhead refuses, and ends, a reset whose issue time is more than
// store.MaxClockSkew ahead of now: the clock that issued it ran fast (an
// instance whose clock was wrong, or this one before its clock stepped
// back), so its expiry is as far beyond its lifetime as that clock was
// ahead. Ending it (with the user's other outstanding resets, which a
// clock that was wrong may have issued too) keeps the link from becoming
// usable again once the real time reaches its issue time; the user asks
// for a new one, which lives TokenTTL by the clock that is right now.
func (s *Service) issuedAhead(ctx context.Context, r store.Reset, now time.Time) error {
	ahead := r.CreatedAt.Sub(now)
	if ahead <= store.MaxClockSkew {
		return nil
	}
	s.log.WarnContext(ctx, "password reset issued by a clock that ran ahead: ended", "reset_id", r.ID, "user_id", r.UserID, "ahead", ahead.Round(time.Second))
	if _, err := s.store.EndResets(ctx, r.UserID, now); err != nil {
		return fmt.Errorf("reset: end a reset issued ahead of the clock: %w", err)
	}
	return ErrTokenExpired
}
