package threats

import (
	"bytes"
	"context"
	"io"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// siemPrefetchMax is the largest listed file size that is downloaded ahead. The next file of a
// listing page is fetched into memory while the current one is read, so that its download and
// the decoding of the current one overlap; a file is held whole (compressed) for that, so only
// small ones are, and it is read to the end at once: a stream left open while the pipeline
// applies back-pressure would run into the download's read timeout.
const siemPrefetchMax = 4 << 20

// filePrefetch is one batch file being downloaded ahead.
type filePrefetch struct {
	cancel context.CancelFunc
	done   chan struct{}
	data   []byte
	ok     bool
}

// prefetchFile starts downloading f, or returns nil when f is not one to download ahead.
func (s *siemSource) prefetchFile(ctx context.Context, f mimecast.SIEMBatchFile) *filePrefetch {
	if f.Size <= 0 || f.Size > siemPrefetchMax {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &filePrefetch{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		body, err := s.in.cfg.conn.Client.Download(s.in.cfg.conn.Context(ctx), f.URL)
		if err != nil {
			// Whatever went wrong (an expired URL, a refusal) is met again, and handled, when
			// the file is opened in turn.
			return
		}
		defer body.Close()
		data, err := io.ReadAll(io.LimitReader(body, siemPrefetchMax+1))
		if err != nil || len(data) > siemPrefetchMax {
			return // read in turn, as a stream
		}
		p.data, p.ok = data, true
	}()
	return p
}

// open returns a reader over the downloaded file, or false when the download failed or was not
// done (the file is then opened as a stream).
func (p *filePrefetch) open(ctx context.Context) (*mimecast.SIEMFileReader, bool) {
	if p == nil {
		return nil, false
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		p.discard()
		return nil, false
	}
	p.cancel()
	if !p.ok {
		return nil, false
	}
	return mimecast.NewSIEMFileReader(io.NopCloser(bytes.NewReader(p.data)), mimecast.DefaultMaxLineBytes), true
}

// discard stops a download ahead and waits for it; nil is fine.
func (p *filePrefetch) discard() {
	if p == nil {
		return
	}
	p.cancel()
	<-p.done
}
