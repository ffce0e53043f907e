package reset

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"sync"
	"testing"

	"github.com/passreset/passreset/mail"
)

// TestSealJSONSealsMarshal: what sealJSON seals is json.Marshal's text,
// nothing more, bound to the job id, and the buffer it writes in keeps
// nothing of one payload for the next.
func TestSealJSONSealsMarshal(t *testing.T) {
	sec, err := newSecrets(bytes.Repeat([]byte{7}, 32), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range []any{
		mail.Message{From: "a@b.example", To: "c@d.example", Subject: "<&>", Text: "x\n", HTML: `<a href="x?a=1&b=2">é</a>` + "\u2028",
			Headers: map[string]string{"Auto-Submitted": "auto-generated"}},
		requestPayload{Email: "ada@example.com"},
		mail.Message{Text: "short"},
	} {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		id := "job_" + string(rune('A'+i))
		sealed, err := sec.sealJSON(id, v)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := openWith(sec.aead, []byte(id), sealed)
		if !ok || !bytes.Equal(got, want) {
			t.Errorf("sealed %q, want json.Marshal's %q", got, want)
		}
		if _, ok := openWith(sec.aead, []byte("job_other"), sealed); ok {
			t.Error("a payload opens under another job's id")
		}
	}
}

// TestMACsAreHMAC: the kept HMAC states give what a new one gives, used
// again and again and from several goroutines at once.
func TestMACsAreHMAC(t *testing.T) {
	key := []byte("a key of 32 bytes, for the test.")
	m := &macs{key: key}
	want := func(parts ...string) [sha256.Size]byte {
		h := hmac.New(sha256.New, key)
		for _, p := range parts {
			h.Write([]byte(p))
		}
		var out [sha256.Size]byte
		h.Sum(out[:0])
		return out
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				parts := []string{"code\x00", hex.EncodeToString([]byte{byte(g), byte(i)}), "\x00", "12345678"}
				if got := m.sum(parts...); got != want(parts...) {
					t.Errorf("sum(%q) differs from a new HMAC's", parts)
					return
				}
			}
		})
	}
	wg.Wait()
	if m.sum() != want() {
		t.Error("sum of nothing differs from a new HMAC's")
	}
}

// TestNewCodeKeepsLeadingZeros: a code is CodeDigits digits, its leading
// zeros written.
func TestNewCodeKeepsLeadingZeros(t *testing.T) {
	for v, want := range map[uint64]string{0: "00000000", 42: "00000042", 99_999_999: "99999999", 100_000_042: "00000042", 12_345_678: "12345678"} {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], v)
		got, err := newCode(bytes.NewReader(b[:]))
		if err != nil || got != want {
			t.Errorf("newCode(%d) = %q, %v; want %q", v, got, err, want)
		}
	}
}

// TestScratchClears: a buffer handed back is cleared before it is kept,
// and one grown past maxScratch is not kept.
func TestScratchClears(t *testing.T) {
	var s scratch
	b := s.get()
	b.WriteString("https://app.example/reset-password?token=secret")
	mem := b.Bytes()
	s.put(b)
	if !bytes.Equal(mem, make([]byte, len(mem))) {
		t.Errorf("a kept buffer still holds %q", mem)
	}
	if b := s.get(); b.Len() != 0 {
		t.Errorf("get returned a buffer holding %q", b.Bytes())
	}
	big := s.get()
	big.Grow(maxScratch + 1)
	big.WriteString("x")
	s.put(big)
	for range 10 {
		if s.get() == big {
			t.Fatal("a buffer over maxScratch was kept")
		}
	}
}
