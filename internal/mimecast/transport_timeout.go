package mimecast

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// errAttemptTimeout is the cancellation cause of an attempt that ran out of time, which tells it
// apart from the caller's own cancellation.
var errAttemptTimeout = errors.New("attempt timed out")

// timeoutTransport bounds one HTTP attempt. For a buffered answer the bound covers the request,
// the headers and the whole body (bufferTransport reads it before the attempt ends). A stream is
// read by the caller at the pace of the pipeline, so there the bound covers the headers, then
// each single read, and the time spent waiting for the server over the whole body: it may wait
// the timeout plus one second per minStreamRate bytes received. A server that stalls, or that
// drips a byte now and then to keep each read alive, is cut off; a slow consumer is not, since
// only the time inside Read counts.
type timeoutTransport struct {
	next    http.RoundTripper
	timeout time.Duration
	stream  bool
}

func (t *timeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	timer := time.AfterFunc(t.timeout, func() { cancel(errAttemptTimeout) })
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		timer.Stop()
		err = t.explain(ctx, req, err)
		cancel(nil)
		return nil, err
	}
	if t.stream {
		timer.Stop()
		resp.Body = &stallBody{body: resp.Body, t: t, req: req, ctx: ctx, cancel: cancel}
		return resp, nil
	}
	resp.Body = &timedBody{body: resp.Body, t: t, req: req, ctx: ctx, stop: func() {
		timer.Stop()
		cancel(nil)
	}}
	return resp, nil
}

// explain turns the error of an attempt that ran out of time into a retryable error naming the
// endpoint; other errors pass unchanged.
func (t *timeoutTransport) explain(ctx context.Context, req *http.Request, err error) error {
	if !errors.Is(context.Cause(ctx), errAttemptTimeout) || req.Context().Err() != nil {
		return err
	}
	return &APIError{
		Endpoint:  endpointOf(req),
		Retryable: true,
		Err:       fmt.Errorf("no complete response within %s (timeout): %w", t.timeout, errAttemptTimeout),
	}
}

type timedBody struct {
	body io.ReadCloser
	t    *timeoutTransport
	req  *http.Request
	ctx  context.Context
	stop func()
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if err != nil && err != io.EOF {
		err = b.t.explain(b.ctx, b.req, err)
	}
	return n, err
}

func (b *timedBody) Close() error {
	err := b.body.Close()
	b.stop()
	return err
}

// minStreamRate is the slowest a streamed body may come, in bytes per second of waiting for the
// server, once the timeout's worth of waiting is used up.
const minStreamRate = 16 << 10

// errStreamTooSlow is the cancellation cause of a stream that came slower than minStreamRate.
var errStreamTooSlow = errors.New("stream too slow")

// stallBody arms the timeout only while a Read is waiting for the server, and adds up the time
// spent waiting.
type stallBody struct {
	body   io.ReadCloser
	t      *timeoutTransport
	req    *http.Request
	ctx    context.Context
	cancel context.CancelCauseFunc

	mu    sync.Mutex
	timer *time.Timer

	waited time.Duration // inside Read, over the body; read by Read only
	got    int64
}

func (b *stallBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.timer == nil {
		b.timer = time.AfterFunc(b.t.timeout, func() { b.cancel(errAttemptTimeout) })
	} else {
		b.timer.Reset(b.t.timeout)
	}
	b.mu.Unlock()
	start := time.Now()
	n, err := b.body.Read(p)
	b.waited += time.Since(start)
	b.got += int64(n)
	b.mu.Lock()
	b.timer.Stop()
	b.mu.Unlock()
	if err == nil && b.waited > b.t.timeout+time.Duration(float64(b.got)/minStreamRate*float64(time.Second)) {
		b.cancel(errStreamTooSlow)
		return n, &APIError{
			Endpoint:  endpointOf(b.req),
			Retryable: true,
			Err: fmt.Errorf("the answer came at under %d KiB/s (%d bytes in %s of waiting for the server): %w",
				minStreamRate>>10, b.got, b.waited.Round(time.Millisecond), errAttemptTimeout),
		}
	}
	if err != nil && err != io.EOF {
		err = b.t.explain(b.ctx, b.req, err)
	}
	return n, err
}

func (b *stallBody) Close() error {
	err := b.body.Close()
	b.mu.Lock()
	if b.timer != nil {
		b.timer.Stop()
	}
	b.mu.Unlock()
	b.cancel(nil)
	return err
}
