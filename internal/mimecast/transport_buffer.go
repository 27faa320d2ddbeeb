package mimecast

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// bufferTransport reads a JSON answer completely inside the attempt. That puts a connection
// reset or a stall in the middle of the body inside the attempt too, where the retry layer sees
// it, and bounds what a misbehaving server can make the client hold in memory.
type bufferTransport struct {
	next    http.RoundTripper
	maxBody int64
}

// bufferedBody is the body of a buffered answer; layers above read its bytes without consuming it.
//
// Whether the bytes are valid JSON is worked out once, by the first layer that asks (the retry
// layer's fail[] probe, or the envelope decoder): validating a page is a full pass over it, and
// every layer above only needs boundaries, not another validation.
type bufferedBody struct {
	*bytes.Reader
	data []byte

	checked, valid bool
}

// validJSON reports whether the body is one valid JSON value, validating it on the first call.
// The layers of one exchange run on one goroutine, so the cache needs no lock.
func (b *bufferedBody) validJSON() bool {
	if !b.checked {
		b.checked, b.valid = true, json.Valid(b.data)
	}
	return b.valid
}

// bufferedJSON returns the body of an answer that came through bufferTransport and whether it is
// valid JSON.
func bufferedJSON(resp *http.Response) (data []byte, valid bool) {
	if b, ok := resp.Body.(*bufferedBody); ok {
		return b.data, b.validJSON()
	}
	return nil, false
}

func (*bufferedBody) Close() error { return nil }

// bufferedBytes returns the body of an answer that came through bufferTransport.
func bufferedBytes(resp *http.Response) []byte {
	if b, ok := resp.Body.(*bufferedBody); ok {
		return b.data
	}
	return nil
}

func (t *bufferTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, t.maxBody+1))
	if err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			return nil, err
		}
		return nil, &APIError{
			Endpoint:   endpointOf(req),
			StatusCode: resp.StatusCode,
			Retryable:  true,
			Err:        fmt.Errorf("reading response body: %w", err),
		}
	}
	if int64(len(data)) > t.maxBody {
		return nil, &APIError{
			Endpoint:   endpointOf(req),
			StatusCode: resp.StatusCode,
			Body:       (*redactor)(nil).snippet(data, snippetLen),
			Err:        fmt.Errorf("response body is larger than max_body_bytes (%d bytes)", t.maxBody),
		}
	}
	resp.Body = &bufferedBody{Reader: bytes.NewReader(data), data: data}
	resp.ContentLength = int64(len(data))
	return resp, nil
}
