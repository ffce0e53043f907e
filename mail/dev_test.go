package mail_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/internal/testfix/testmail"
	"github.com/passreset/passreset/mail"
)

func subjects(msgs []mail.Message) []string {
	var s []string
	for _, m := range msgs {
		s = append(s, m.Subject)
	}
	return s
}

func TestDevBoundedNewestFirst(t *testing.T) {
	dev := mail.NewDev(slog.New(slog.DiscardHandler), 3)
	require.Empty(t, dev.Messages())

	for i := 1; i <= 2; i++ {
		require.NoError(t, dev.Send(t.Context(), testmail.Numbered(i)))
	}
	require.Equal(t, []string{"message 2", "message 1"}, subjects(dev.Messages()))

	for i := 3; i <= 7; i++ {
		require.NoError(t, dev.Send(t.Context(), testmail.Numbered(i)))
	}
	require.Equal(t, []string{"message 7", "message 6", "message 5"}, subjects(dev.Messages()))

	dev.Clear()
	require.Empty(t, dev.Messages())
	require.NoError(t, dev.Send(t.Context(), testmail.Numbered(8)))
	require.Equal(t, []string{"message 8"}, subjects(dev.Messages()))
}

func TestDevDefaultCapacity(t *testing.T) {
	for _, capacity := range []int{0, -1} {
		dev := mail.NewDev(slog.New(slog.DiscardHandler), capacity)
		for i := range 101 {
			require.NoError(t, dev.Send(t.Context(), testmail.Numbered(i)))
		}
		msgs := dev.Messages()
		require.Len(t, msgs, 100)
		require.Equal(t, "message 100", msgs[0].Subject)
		require.Equal(t, "message 1", msgs[99].Subject)
	}
}

func TestDevLogsRecipientAndSubjectOnly(t *testing.T) {
	var buf bytes.Buffer
	dev := mail.NewDev(slog.New(slog.NewJSONHandler(&buf, nil)), 10)
	m := testMessage()
	m.Headers = map[string]string{"X-Secret-Header": "header-value"}
	require.NoError(t, dev.Send(t.Context(), m))
	require.NoError(t, dev.Send(t.Context(), testmail.Numbered(2)))

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2, "one line per message")

	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &rec))
	require.Equal(t, "INFO", rec["level"])
	require.Equal(t, m.To, rec["to"])
	require.Equal(t, m.Subject, rec["subject"])
	delete(rec, "time")
	delete(rec, "level")
	delete(rec, "msg")
	require.Len(t, rec, 2, "no attributes but to and subject: %v", rec)

	for _, secret := range []string{"token=", "Z1uX3RbwcIl5fIGJJJCXXisdI", "Bonjour", "header-value"} {
		require.NotContains(t, buf.String(), secret)
	}
}

func TestDevReturnsCopies(t *testing.T) {
	testmail.KeepsCopies(t, mail.NewDev(slog.New(slog.DiscardHandler), 10))
}

func TestDevRejects(t *testing.T) {
	var buf bytes.Buffer
	dev := mail.NewDev(slog.New(slog.NewTextHandler(&buf, nil)), 10)
	testmail.Rejects(t, dev)
	require.Empty(t, buf.String(), "a refused message is not logged")
}

func TestDevConcurrent(t *testing.T) {
	dev := mail.NewDev(slog.New(slog.DiscardHandler), 20)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if err := dev.Send(t.Context(), testmail.Numbered(i)); err != nil {
				t.Error(err)
			}
			dev.Messages()
		})
	}
	wg.Wait()
	require.Len(t, dev.Messages(), 20)
}
