package mimecast

import (
	"context"
	"net/http"
)

// rateLimitTransport waits on Config.RateLimit (the component's Benthos rate_limit resource)
// before every attempt, retries and downloads included, so the user's limit counts what is
// really sent.
type rateLimitTransport struct {
	next http.RoundTripper
	wait func(ctx context.Context) error
}

func (t *rateLimitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.wait(req.Context()); err != nil {
		return nil, &rateLimitError{endpoint: endpointOf(req), err: err}
	}
	return t.next.RoundTrip(req)
}

// rateLimitError is a failure of the rate_limit hook itself. It is the user's resource failing,
// not Mimecast, so the retry layer leaves it alone and it reaches the caller unchanged.
type rateLimitError struct {
	endpoint string
	err      error
}

func (e *rateLimitError) Error() string {
	return "waiting on rate_limit before " + e.endpoint + ": " + e.err.Error()
}

func (e *rateLimitError) Unwrap() error { return e.err }
