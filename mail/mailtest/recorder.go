// Package mailtest provides a transport for tests of code that sends mail.
//
// A [Recorder] stands where the code under test expects a mail transport
// (something with Send(ctx, mail.Message) error) and records what it is
// given, as net/http/httptest.ResponseRecorder records a response:
//
//	rec := new(mailtest.Recorder)
//	svc := newService(rec) // the code under test
//	// ... exercise svc ...
//	m, ok := rec.Last()
package mailtest

import (
	"context"
	"fmt"
	"maps"
	"sync"

	"github.com/passreset/passreset/mail"
)

// Recorder is a mail transport that records the messages sent through it.
// Its zero value is ready to use, and it is safe for concurrent use.
type Recorder struct {
	// FailWith, if not nil, is called with each valid message; when it
	// returns an error, Send returns that error and does not record the
	// message. Set it before the Recorder is used.
	FailWith func(mail.Message) error

	mu      sync.Mutex
	msgs    []mail.Message
	changed chan struct{} // closed and cleared when a message is recorded
}

// Send records a copy of m. Like the real transports, it fails when ctx is
// done and, with an error that wraps [mail.ErrInvalidMessage], when m is
// invalid; otherwise it returns the error of FailWith, if set.
func (r *Recorder) Send(ctx context.Context, m mail.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := m.Validate(); err != nil {
		return err
	}
	if r.FailWith != nil {
		if err := r.FailWith(m); err != nil {
			return err
		}
	}
	m.Headers = maps.Clone(m.Headers)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
	return nil
}

// Messages returns copies of the messages recorded, in the order they were
// sent.
func (r *Recorder) Messages() []mail.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.copyLocked()
}

func (r *Recorder) copyLocked() []mail.Message {
	msgs := make([]mail.Message, len(r.msgs))
	for i, m := range r.msgs {
		m.Headers = maps.Clone(m.Headers)
		msgs[i] = m
	}
	return msgs
}

// Last returns a copy of the message recorded last, and false if there is
// none.
func (r *Recorder) Last() (mail.Message, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.msgs) == 0 {
		return mail.Message{}, false
	}
	m := r.msgs[len(r.msgs)-1]
	m.Headers = maps.Clone(m.Headers)
	return m, true
}

// Len returns the number of messages recorded.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

// Reset discards the messages recorded.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = nil
}

// WaitFor waits until at least n messages have been recorded, for code
// that sends in the background, and returns them all, in the order they
// were sent. When ctx is done first, it returns the messages recorded so
// far and an error that wraps ctx.Err().
func (r *Recorder) WaitFor(ctx context.Context, n int) ([]mail.Message, error) {
	for {
		r.mu.Lock()
		if len(r.msgs) >= n {
			msgs := r.copyLocked()
			r.mu.Unlock()
			return msgs, nil
		}
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		changed := r.changed
		r.mu.Unlock()

		select {
		case <-changed:
		case <-ctx.Done():
			msgs := r.Messages()
			return msgs, fmt.Errorf("mailtest: waiting for %d messages, got %d: %w", n, len(msgs), ctx.Err())
		}
	}
}
