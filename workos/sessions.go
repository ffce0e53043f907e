package workos

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
)

// Session statuses, as WorkOS names them.
const (
	statusActive  = "active"
	statusExpired = "expired"
	statusRevoked = "revoked"
)

// authMethod is the auth_method of every session: this API signs users in
// by password only.
const authMethod = "password"

// sessionJSON is WorkOS's session object.
type sessionJSON struct {
	Object     string  `json:"object"`
	ID         string  `json:"id"`
	UserID     string  `json:"user_id"`
	IPAddress  *string `json:"ip_address"`
	UserAgent  *string `json:"user_agent"`
	AuthMethod string  `json:"auth_method"`
	Status     string  `json:"status"`
	ExpiresAt  string  `json:"expires_at"`
	EndedAt    *string `json:"ended_at"`
	CreatedAt  string  `json:"created_at"`
	UpdatedAt  string  `json:"updated_at"`
}

// sessionObject renders s as the Manager judges it: revoked, expired (past
// its absolute or idle timeout) or active. ended_at is when it was revoked
// or expired; updated_at its latest change or use.
func sessionObject(s session.Session, m *session.Manager) sessionJSON {
	v := sessionJSON{
		Object:     "session",
		ID:         s.ID,
		UserID:     s.UserID,
		IPAddress:  nullable(s.IPAddress),
		UserAgent:  nullable(s.UserAgent),
		AuthMethod: authMethod,
		Status:     statusActive,
		ExpiresAt:  FormatTime(s.ExpiresAt),
		CreatedAt:  FormatTime(s.CreatedAt),
	}
	updated := s.CreatedAt
	if s.LastSeenAt.After(updated) {
		updated = s.LastSeenAt
	}
	switch {
	case !s.RevokedAt.IsZero():
		v.Status = statusRevoked
		v.EndedAt = nullable(FormatTime(s.RevokedAt))
		if s.RevokedAt.After(updated) {
			updated = s.RevokedAt
		}
	case m.Status(s) != nil:
		v.Status = statusExpired
		v.EndedAt = nullable(FormatTime(m.EndsAt(s)))
	}
	v.UpdatedAt = FormatTime(updated)
	return v
}

// listJSON is WorkOS's list: {"object":"list","data":[...],"list_metadata":{...}}.
type listJSON struct {
	Object   string        `json:"object"`
	Data     []sessionJSON `json:"data"`
	Metadata listMetadata  `json:"list_metadata"`
}

type listMetadata struct {
	Before *string `json:"before"`
	After  *string `json:"after"`
}

// Pagination limits of WorkOS's list endpoints.
const (
	defaultListLimit = 10
	maxListLimit     = 100
)

// listSessions serves GET /user_management/users/{id}/sessions with
// WorkOS's pagination: limit (1 to 100, default 10), order (desc, the
// default, asc, or normal: newest first with before meaning older) and the
// before and after cursors, which are session ids.
func (h *Handler) listSessions(ctx context.Context, r *http.Request, _ []byte) *reply {
	userID := r.PathValue("id")
	q := r.URL.Query()
	limit := defaultListLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxListLimit {
			return invalidParams("limit must be an integer between 1 and 100.")
		}
		limit = n
	}
	order := q.Get("order")
	switch order {
	case "":
		order = "desc"
	case "asc", "desc", "normal":
	default:
		return invalidParams("order must be asc, desc or normal.")
	}
	before, after := q.Get("before"), q.Get("after")
	if before != "" && after != "" {
		return invalidParams("Send before or after, not both.")
	}
	if _, err := h.accounts.GetUser(ctx, userID); errors.Is(err, reset.ErrUserNotFound) {
		return notFound("User not found: '" + clip(userID) + "'.")
	} else if err != nil {
		return unexpected(ctx, err)
	}

	// Everything below is in terms of the display order: desc newest
	// first, asc oldest first. "next" continues in that order, "prev"
	// goes back towards its start.
	desc := order != "asc"
	next, prev := after, before
	if order == "normal" {
		next, prev = before, after
	}
	page, hasNext, hasPrev, err := h.page(ctx, userID, desc, next, prev, limit)
	if err != nil {
		return unexpected(ctx, err)
	}
	out := listJSON{Object: "list", Data: make([]sessionJSON, 0, len(page))}
	for _, s := range page {
		out.Data = append(out.Data, sessionObject(s, h.sessions))
	}
	var first, last *string
	if len(page) > 0 {
		if hasPrev {
			first = &page[0].ID
		}
		if hasNext {
			last = &page[len(page)-1].ID
		}
	}
	out.Metadata = listMetadata{Before: first, After: last}
	if order == "normal" {
		out.Metadata = listMetadata{Before: last, After: first}
	}
	return &reply{status: http.StatusOK, body: out}
}

// page returns up to limit sessions of the user in display order (desc or
// not), starting after the cursor next or ending before the cursor prev
// (at most one is set), and whether more lie beyond each end.
func (h *Handler) page(ctx context.Context, userID string, desc bool, next, prev string, limit int) (page []session.Session, hasNext, hasPrev bool, err error) {
	// towards returns the ListParams for sessions beyond id in the
	// direction of the display order (forward) or against it, nearest
	// first.
	towards := func(id string, forward bool, n int) session.ListParams {
		p := session.ListParams{Limit: n}
		older := forward == desc // ids below id
		if older {
			p.Before, p.Desc = id, true
		} else {
			p.After = id
		}
		return p
	}
	switch {
	case prev != "":
		page, err = h.sessions.List(ctx, userID, towards(prev, false, limit+1))
		if err != nil {
			return nil, false, false, err
		}
		hasPrev = len(page) > limit
		page = page[:min(len(page), limit)]
		slices.Reverse(page) // nearest first, against the display order
		if len(page) > 0 {
			hasNext, err = h.any(ctx, userID, towards(page[len(page)-1].ID, true, 1))
		}
	default:
		p := towards(next, true, limit+1)
		if next == "" {
			p = session.ListParams{Limit: limit + 1, Desc: desc}
		}
		page, err = h.sessions.List(ctx, userID, p)
		if err != nil {
			return nil, false, false, err
		}
		hasNext = len(page) > limit
		page = page[:min(len(page), limit)]
		if next != "" && len(page) > 0 {
			hasPrev, err = h.any(ctx, userID, towards(page[0].ID, false, 1))
		}
	}
	return page, hasNext, hasPrev, err
}

// any reports whether the user has a session that p selects.
func (h *Handler) any(ctx context.Context, userID string, p session.ListParams) (bool, error) {
	ss, err := h.sessions.List(ctx, userID, p)
	return len(ss) > 0, err
}

// revokeSession serves POST /user_management/sessions/revoke. Revoking a
// revoked session succeeds again; an unknown id is a 400, as WorkOS's spec
// has it.
func (h *Handler) revokeSession(ctx context.Context, r *http.Request, body []byte) *reply {
	var in struct {
		SessionID string `json:"session_id"`
	}
	if rep := decodeJSON(body, &in); rep != nil {
		return rep
	}
	if in.SessionID == "" {
		return invalidParams("session_id is required.")
	}
	err := h.sessions.Revoke(ctx, in.SessionID)
	switch {
	case errors.Is(err, session.ErrNotFound):
		return &reply{status: http.StatusBadRequest, body: messageBody{Message: "Session not found: '" + clip(in.SessionID) + "'."}}
	case err != nil:
		return unexpected(ctx, err)
	}
	return &reply{status: http.StatusOK, body: struct{}{}}
}
