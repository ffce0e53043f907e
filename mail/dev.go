package mail

import (
	"context"
	"log/slog"
	"maps"
	"sync"
)

// Dev is a transport for development: instead of delivering messages, it
// logs one line for each and keeps the latest in memory, where a
// development page can show them. A Dev is safe for concurrent use.
type Dev struct {
	logger *slog.Logger

	mu   sync.Mutex
	ring []Message // the messages, oldest at next once the ring is full
	next int       // where the next message goes once the ring is full
}

// NewDev returns a Dev that logs to logger (slog.Default() if nil) and
// keeps the latest capacity messages (100 if capacity <= 0), dropping the
// oldest past that.
func NewDev(logger *slog.Logger, capacity int) *Dev {
	if logger == nil {
		logger = slog.Default()
	}
	if capacity <= 0 {
		capacity = 100
	}
	return &Dev{logger: logger, ring: make([]Message, 0, capacity)}
}

// Send validates m, keeps a copy of it and logs one line at level Info
// with its recipient and subject; never its body, which holds the reset
// link. Like a real transport, it fails when ctx is done, and it returns an
// error that wraps [ErrInvalidMessage] for an invalid message.
func (d *Dev) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := m.Validate(); err != nil {
		return err
	}
	m.Headers = maps.Clone(m.Headers)
	d.mu.Lock()
	if len(d.ring) < cap(d.ring) {
		d.ring = append(d.ring, m)
	} else {
		d.ring[d.next] = m
		d.next = (d.next + 1) % len(d.ring)
	}
	d.mu.Unlock()
	d.logger.LogAttrs(ctx, slog.LevelInfo, "mail: message kept in dev mailbox",
		slog.String("to", m.To), slog.String("subject", m.Subject))
	return nil
}

// Messages returns copies of the messages kept, newest first.
func (d *Dev) Messages() []Message {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := len(d.ring)
	msgs := make([]Message, n)
	for i := range n {
		m := d.ring[(d.next-1-i+n)%n]
		m.Headers = maps.Clone(m.Headers)
		msgs[i] = m
	}
	return msgs
}

// Clear discards the messages kept.
func (d *Dev) Clear() {
	d.mu.Lock()
	defer d.mu.Unlock()
	clear(d.ring)
	d.ring = d.ring[:0]
	d.next = 0
}
