package mimecast

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// resumingBody is the body of a streamed /api/* answer (message content, attachments). The retry
// layer only sees an answer's headers: when the transfer breaks off later (a reset connection, a
// body shorter than its Content-Length, a stall past the timeout), the content would be lost to
// the caller. resumingBody asks for the same content again, skips the bytes it already delivered
// and goes on, up to max_retries times. Archived content does not change between two requests; an
// answer of another length (by Content-Length) shows that it did, and the break is returned.
type resumingBody struct {
	ctx     context.Context //nolint:containedctx // the request's context, for the re-requests of one body
	c       *Client
	path    string
	request []byte // the request body, sent again as is

	cur       io.ReadCloser
	length    int64 // Content-Length of the first answer; -1 unknown
	delivered int64
	resumes   int
}

func (c *Client) resumingBody(ctx context.Context, path string, request []byte, resp *http.Response) *resumingBody {
	return &resumingBody{ctx: ctx, c: c, path: path, request: request, cur: resp.Body, length: resp.ContentLength}
}

func (b *resumingBody) Read(p []byte) (int, error) {
	for {
		n, err := b.cur.Read(p)
		b.delivered += int64(n)
		if err == nil || errors.Is(err, io.EOF) || !b.resumable(err) {
			return n, err
		}
		if n > 0 {
			// Hand over what arrived; the next Read meets the break again (or resumes).
			b.cur = errorAfter(b.cur, err)
			return n, nil
		}
		if rerr := b.resume(err); rerr != nil {
			return 0, rerr
		}
	}
}

func (b *resumingBody) Close() error { return b.cur.Close() }

// resumable: a break of the transfer that a new request can get past.
func (b *resumingBody) resumable(err error) bool {
	if b.ctx.Err() != nil || b.resumes >= b.c.cfg.retries() {
		return false
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || retryableError(err)
}

// resume replaces the broken answer with a new one positioned after the delivered bytes. It
// returns the original break (cause) when the content cannot be resumed.
func (b *resumingBody) resume(cause error) error {
	b.resumes++
	reason := errorReason(cause)
	b.c.counts.retries.Add(1)
	b.c.cfg.Metrics.Retry(b.path, reason)
	_ = b.cur.Close()
	b.cur = io.NopCloser(errReader{cause})
	if err := b.c.cfg.Sleep(b.ctx, b.wait()); err != nil {
		return cause
	}
	resp, err := b.c.send(b.ctx, b.c.stream, http.MethodPost, b.path, nil, b.request)
	if err != nil {
		return cause
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 || (b.length >= 0 && resp.ContentLength >= 0 && resp.ContentLength != b.length) {
		discard(resp)
		return fmt.Errorf("%w (asked again: HTTP %d, %s bytes instead of %d)", cause, resp.StatusCode, lengthText(resp.ContentLength), b.length)
	}
	if _, err := io.CopyN(io.Discard, resp.Body, b.delivered); err != nil {
		resp.Body.Close()
		b.cur = io.NopCloser(errReader{err})
		return nil // the next Read meets this break, and may resume again
	}
	b.cur = resp.Body
	b.c.cfg.Logger.Warnf("mimecast %s: the answer broke off after %d bytes (%s); asked again and resumed there", b.path, b.delivered, reason)
	return nil
}

// wait is a short full-jitter backoff, as between retries of a call.
func (b *resumingBody) wait() time.Duration {
	ceiling := min(backoffBase<<min(b.resumes-1, 20), b.c.cfg.MaxRetryWait)
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling + 1)
}

func lengthText(n int64) string {
	if n < 0 {
		return "unknown"
	}
	return strconv.FormatInt(n, 10)
}

// errReader fails every read with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// errorAfter returns a ReadCloser that fails its next read with err and closes rc.
func errorAfter(rc io.ReadCloser, err error) io.ReadCloser {
	return readCloser{Reader: errReader{err}, Closer: rc}
}
