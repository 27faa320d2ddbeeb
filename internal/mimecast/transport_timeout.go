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
// read by the caller at the pace of the pipeline, so there the bound covers the headers and then
// each single read: a server that stalls is cut off, a slow consumer is not.
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

// stallBody arms the timeout only while a Read is waiting for the server.
type stallBody struct {
	body   io.ReadCloser
	t      *timeoutTransport
	req    *http.Request
	ctx    context.Context
	cancel context.CancelCauseFunc

	mu    sync.Mutex
	timer *time.Timer
}

func (b *stallBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.timer == nil {
		b.timer = time.AfterFunc(b.t.timeout, func() { b.cancel(errAttemptTimeout) })
	} else {
		b.timer.Reset(b.t.timeout)
	}
	b.mu.Unlock()
	n, err := b.body.Read(p)
	b.mu.Lock()
	b.timer.Stop()
	b.mu.Unlock()
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
