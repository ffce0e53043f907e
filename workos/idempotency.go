package workos

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/passreset/passreset/reset"
)

// Idempotent replay: the answers are kept in the Store, through
// reset.Service.ClaimReplay, so that every instance sharing it replays them.

// replayWaitFirst and replayWaitMax are the first and the longest pause
// between two looks at the Store while another request with the same key
// runs.
const (
	replayWaitFirst = 10 * time.Millisecond
	replayWaitMax   = 250 * time.Millisecond
)

// replaySaveTimeout bounds the saving of an answer, which goes on when the
// client has gone away: that is when it retries.
const replaySaveTimeout = 10 * time.Second

// keptAnswer is an answer as it is kept for replay: the very bytes sent.
type keptAnswer struct {
	Status int         `json:"status"`
	Header http.Header `json:"header,omitempty"`
	Body   []byte      `json:"body"`
}

// replayable reports whether a request may be replayed: a POST with an
// Idempotency-Key, except /authenticate, whose answer holds a live refresh
// token that a replay would hand out again (a retry signs in anew).
func (h *Handler) replayable(r *http.Request, pattern string) bool {
	return r.Method == http.MethodPost && pattern != routeAuthenticate && h.idemTTL > 0 &&
		r.Header.Get("Idempotency-Key") != ""
}

// idempotent runs ep under the request's Idempotency-Key: the first request
// with a key runs and its answer is kept; a repeat (same key, path, API key
// and body) gets that answer again, on any instance; one sent while the
// first runs waits for it, up to Config.IdempotencyWait, then is answered
// 409.
func (h *Handler) idempotent(ctx context.Context, r *http.Request, apiKey [32]byte, body []byte, ep func() *reply) *reply {
	idemKey := r.Header.Get("Idempotency-Key")
	if len(idemKey) > maxIdempotencyKeyLen {
		return invalidParams(fmt.Sprintf("The Idempotency-Key header must be at most %d bytes.", maxIdempotencyKeyLen))
	}
	scope := hex.EncodeToString(apiKey[:8]) + "\x00" + r.Method + "\x00" + r.URL.Path + "\x00" + idemKey
	claim, kept, err := h.claimReplay(ctx, scope, body)
	switch {
	case errors.Is(err, reset.ErrReplayMismatch):
		return invalidParams("The Idempotency-Key was already used with a different request body.")
	case errors.Is(err, reset.ErrReplayInFlight):
		rep := errorReply(http.StatusConflict, "idempotency_key_in_use",
			"A request with this Idempotency-Key is still being processed; retry once it has finished.")
		rep.header = http.Header{"Retry-After": {"1"}}
		return rep
	case err != nil && ctx.Err() != nil: // the client went away while waiting
		return &reply{status: statusClientClosed, body: errorBody{Code: "request_cancelled", Message: "The request was cancelled."}}
	case err != nil:
		return serverError(err)
	case claim == nil:
		var a keptAnswer
		if err := json.Unmarshal(kept, &a); err != nil {
			return serverError(fmt.Errorf("workos: kept answer: %w", err))
		}
		hdr := a.Header.Clone()
		if hdr == nil {
			hdr = http.Header{}
		}
		hdr.Set("Idempotent-Replayed", "true")
		return &reply{status: a.Status, header: hdr, raw: a.Body}
	}

	// The work goes on when the client goes away, and so must the claim's
	// end: a retry then gets the answer, or runs again.
	done := context.WithoutCancel(ctx)
	finished := false
	defer func() {
		if !finished { // the endpoint panicked: free the key for a retry
			h.releaseReplay(done, r, claim)
		}
	}()
	rep := ep()
	finished = true
	if !keepable(rep) {
		h.releaseReplay(done, r, claim)
		return rep
	}
	b, err := marshal(rep.body)
	if err != nil {
		h.releaseReplay(done, r, claim)
		return rep // write fails the same way, and logs it
	}
	rep.raw = b // sent as kept, byte for byte
	answer, err := json.Marshal(keptAnswer{Status: rep.status, Header: rep.header, Body: b})
	if err == nil {
		sctx, cancel := context.WithTimeout(done, replaySaveTimeout)
		err = claim.Save(sctx, answer)
		cancel()
	}
	if err != nil {
		// The answer still goes out; a retry will run again.
		h.log.WarnContext(ctx, "workos: idempotent answer not kept", "path", r.URL.Path, "err", err)
	}
	return rep
}

// claimReplay claims the key, or returns its kept answer. While another
// request holds the key it looks again, with growing pauses, for up to
// Config.IdempotencyWait, then returns reset.ErrReplayInFlight.
func (h *Handler) claimReplay(ctx context.Context, scope string, body []byte) (*reset.ReplayClaim, []byte, error) {
	pause, waited := replayWaitFirst, time.Duration(0)
	for {
		claim, kept, err := h.svc.ClaimReplay(ctx, scope, body, h.idemTTL)
		if !errors.Is(err, reset.ErrReplayInFlight) || waited >= h.idemWait {
			return claim, kept, err
		}
		d := min(pause, h.idemWait-waited)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ctx.Err()
		case <-t.C:
		}
		waited += d
		pause = min(2*pause, replayWaitMax)
	}
}

func (h *Handler) releaseReplay(ctx context.Context, r *http.Request, claim *reset.ReplayClaim) {
	ctx, cancel := context.WithTimeout(ctx, replaySaveTimeout)
	defer cancel()
	if err := claim.Release(ctx); err != nil {
		// The claim's lease frees the key later.
		h.log.WarnContext(ctx, "workos: idempotency key not released", "path", r.URL.Path, "err", err)
	}
}

// keepable reports whether an answer is kept for replay: not one that a
// retry could change (a server error, a rate limit, a client that went
// away).
func keepable(rep *reply) bool {
	return rep.status < 500 && rep.status != http.StatusTooManyRequests && rep.status != statusClientClosed
}
