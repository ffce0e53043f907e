package mailtest_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/internal/testfix/testmail"
	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/mail/mailtest"
)

func TestRecorder(t *testing.T) {
	var rec mailtest.Recorder
	_, ok := rec.Last()
	require.False(t, ok)
	require.Zero(t, rec.Len())
	require.Empty(t, rec.Messages())

	for i := 1; i <= 3; i++ {
		require.NoError(t, rec.Send(t.Context(), testmail.Numbered(i)))
	}
	require.Equal(t, 3, rec.Len())
	require.Equal(t, []mail.Message{testmail.Numbered(1), testmail.Numbered(2), testmail.Numbered(3)}, rec.Messages(), "in the order sent")
	last, ok := rec.Last()
	require.True(t, ok)
	require.Equal(t, testmail.Numbered(3), last)

	rec.Reset()
	require.Zero(t, rec.Len())
	_, ok = rec.Last()
	require.False(t, ok)
}

func TestRecorderCopies(t *testing.T) {
	var rec mailtest.Recorder
	testmail.KeepsCopies(t, &rec)
	last, _ := rec.Last()
	require.Equal(t, "original", last.Headers["X-Tag"])
	last.Headers["X-Tag"] = "changed"
	require.Equal(t, "original", rec.Messages()[0].Headers["X-Tag"])
}

func TestRecorderFailWith(t *testing.T) {
	errDown := errors.New("smtp server down")
	rec := &mailtest.Recorder{FailWith: func(m mail.Message) error {
		if m.To == "user2@example.com" {
			return errDown
		}
		return nil
	}}
	require.NoError(t, rec.Send(t.Context(), testmail.Numbered(1)))
	require.ErrorIs(t, rec.Send(t.Context(), testmail.Numbered(2)), errDown)
	require.NoError(t, rec.Send(t.Context(), testmail.Numbered(3)))
	require.Equal(t, []mail.Message{testmail.Numbered(1), testmail.Numbered(3)}, rec.Messages(), "failed messages are not recorded")
}

func TestRecorderRejects(t *testing.T) {
	called := false
	rec := &mailtest.Recorder{FailWith: func(mail.Message) error { called = true; return nil }}
	testmail.Rejects(t, rec)
	require.Zero(t, rec.Len())
	require.False(t, called, "a refused message never reaches FailWith")
}

func TestRecorderWaitFor(t *testing.T) {
	var rec mailtest.Recorder
	go func() {
		for i := 1; i <= 3; i++ {
			time.Sleep(10 * time.Millisecond)
			if err := rec.Send(context.Background(), testmail.Numbered(i)); err != nil {
				t.Error(err)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	msgs, err := rec.WaitFor(ctx, 3)
	require.NoError(t, err)
	require.Equal(t, []mail.Message{testmail.Numbered(1), testmail.Numbered(2), testmail.Numbered(3)}, msgs)

	msgs, err = rec.WaitFor(ctx, 2)
	require.NoError(t, err, "already there")
	require.Len(t, msgs, 3, "all messages, not only the first n")
}

func TestRecorderWaitForTimeout(t *testing.T) {
	var rec mailtest.Recorder
	require.NoError(t, rec.Send(t.Context(), testmail.Numbered(1)))
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	msgs, err := rec.WaitFor(ctx, 2)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "waiting for 2 messages, got 1")
	require.Equal(t, []mail.Message{testmail.Numbered(1)}, msgs)
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestRecorderConcurrent(t *testing.T) {
	var rec mailtest.Recorder
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := rec.WaitFor(t.Context(), 50); err != nil {
				t.Error(err)
			}
		})
	}
	for i := range 50 {
		wg.Go(func() {
			if err := rec.Send(t.Context(), testmail.Numbered(i)); err != nil {
				t.Error(err)
			}
			rec.Last()
			rec.Len()
		})
	}
	wg.Wait()
	require.Equal(t, 50, rec.Len())
}
