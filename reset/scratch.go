package reset

import (
	"bytes"
	"sync"
)

// scratch keeps byte buffers between uses: the rendering of an email and
// the JSON sealed into the outbox are written into one, rather than into
// buffers grown anew for each email. A buffer is cleared before it is
// kept (it held a link, a code, an address), and one grown past maxScratch
// (a custom template's large email) is left to the garbage collector.
type scratch struct{ pool sync.Pool }

// maxScratch is the largest buffer a scratch keeps: the default reset
// email takes about 2 KB, rendered or as JSON.
const maxScratch = 64 << 10

// get returns an empty buffer.
func (s *scratch) get() *bytes.Buffer {
	if b, _ := s.pool.Get().(*bytes.Buffer); b != nil {
		return b
	}
	return new(bytes.Buffer)
}

// put clears b and keeps it for a later get; b is not used again.
func (s *scratch) put(b *bytes.Buffer) {
	if b.Cap() > maxScratch {
		return
	}
	clear(b.Bytes())
	b.Reset()
	s.pool.Put(b)
}
