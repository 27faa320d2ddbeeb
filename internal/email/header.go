package email

import (
	"fmt"
	"io"
)

// maxHeaderBytes caps an email's top-level header. net/mail reads the whole header into memory
// before anything can look at it, so a hostile message with a header of hundreds of megabytes
// would otherwise be held whole.
const maxHeaderBytes = 1 << 20

// headerLimitReader passes r through, failing once more than limit bytes went by before the
// blank line that ends the header.
type headerLimitReader struct {
	r     io.Reader
	limit int
	seen  int
	done  bool
	tail  [3]byte // the last bytes read, to find a blank line split across reads
}

func (h *headerLimitReader) Read(p []byte) (int, error) {
	if h.done {
		return h.r.Read(p)
	}
	if h.seen > h.limit {
		return 0, fmt.Errorf("%w: header longer than %d bytes", ErrBrokenMIME, h.limit)
	}
	n, err := h.r.Read(p)
	for i := 0; i < n && !h.done; i++ {
		h.seen++
		c := p[i]
		if c == '\n' && (h.tail[2] == '\n' || (h.tail[2] == '\r' && h.tail[1] == '\n')) {
			h.done = true
		}
		h.tail = [3]byte{h.tail[1], h.tail[2], c}
	}
	return n, err
}
